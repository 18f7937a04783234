//! The six step Lambdas, registered in-process with the interpreter's task registry.
//!
//! Each one is called exactly as the Lambda runtime calls it in AWS: the `Payload` JSON is
//! decoded into the handler's input type, the output encoded back to JSON, through the same
//! [`dayone_sdk::lambda::invoke`] the deployed `main.rs` uses (ids into the context, a span,
//! the outcome logged). A [`StepError`] becomes a task error named after its `Dayone.*`
//! name; the interpreter then reports it as Step Functions does for a Lambda, with the cause
//! `{"errorMessage","errorType"}`.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use allocate_username::{AllocateInput, AllocateUsername};
use async_trait::async_trait;
use dayone_asl::{TaskContext, TaskError, TaskHandler, TaskRegistry};
use dayone_core::{Namespace, UsernamePlan};
use dayone_ledger::{Allocation, Ledger, LedgerError, NameRecord, WorkerRecord};
use dayone_sdk::context::StepContext;
use dayone_sdk::error::StepError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Function names the local engine substitutes for the six `${…FunctionArn}` placeholders.
pub const ALLOCATE_USERNAME: &str = "allocate-username";
pub const CREATE_ACCOUNT: &str = "create-account";
pub const ISSUE_TAP: &str = "issue-tap";
pub const HRIS_WRITEBACK: &str = "hris-writeback";
pub const CREATE_TICKET: &str = "create-ticket";
pub const NOTIFY_FAILURE: &str = "notify-failure";

/// Placeholder → local function name.
pub const FUNCTIONS: [(&str, &str); 6] = [
    ("AllocateUsernameFunctionArn", ALLOCATE_USERNAME),
    ("CreateAccountFunctionArn", CREATE_ACCOUNT),
    ("IssueTapFunctionArn", ISSUE_TAP),
    ("HrisWritebackFunctionArn", HRIS_WRITEBACK),
    ("CreateTicketFunctionArn", CREATE_TICKET),
    ("NotifyFailureFunctionArn", NOTIFY_FAILURE),
];

/// A Lambda handler with its cold-start context, as a task the interpreter can call.
struct Step<H, I, O> {
    base: StepContext,
    handler: H,
    _io: PhantomData<fn(I) -> O>,
}

#[async_trait]
impl<H, Fut, I, O> TaskHandler for Step<H, I, O>
where
    H: Fn(I, StepContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<O, StepError>> + Send,
    I: DeserializeOwned + Send,
    O: Serialize + Send,
{
    async fn invoke(&self, input: Value, _ctx: &TaskContext) -> Result<Value, TaskError> {
        dayone_sdk::lambda::invoke(&self.handler, &self.base, input)
            .await
            .map_err(|e| TaskError::new(e.name.as_str(), e.message))
    }
}

fn step<H, Fut, I, O>(base: StepContext, handler: H) -> Arc<dyn TaskHandler>
where
    H: Fn(I, StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, StepError>> + Send + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    Arc::new(Step {
        base,
        handler,
        _io: PhantomData,
    })
}

/// The per-function cold-start contexts (each with its own allowlist and secrets).
pub struct StepContexts {
    pub allocate_username: StepContext,
    pub create_account: StepContext,
    pub issue_tap: StepContext,
    pub hris_writeback: StepContext,
    pub create_ticket: StepContext,
    pub notify_failure: StepContext,
}

/// Registers the six handlers. The delivery and write-back logs and the ticket receipts live as
/// long as the engine, like the DynamoDB tables behind them in AWS.
pub fn registry(ctx: StepContexts, ledger: Arc<dyn Ledger>) -> TaskRegistry {
    let deliveries = Arc::new(issue_tap::delivery::InMemoryDeliveryLog::new());
    let writebacks = Arc::new(hris_writeback::InMemoryWritebackLog::new());
    let ticket_receipts = Arc::new(create_ticket::InMemoryTicketReceipts::new());
    let mut r = TaskRegistry::new();
    // Built once, like the Lambda's cold start: the compiled policy and the ledger.
    let allocator = Arc::new(AllocateUsername::from_config(
        &ctx.allocate_username.config,
        SharedLedger(ledger),
    ));
    r.register(
        ALLOCATE_USERNAME,
        step(ctx.allocate_username, move |input: AllocateInput, _c| {
            let allocator = allocator.clone();
            async move {
                match allocator.as_ref() {
                    Ok(step) => step.handle(input).await,
                    Err(e) => Err(e.clone()),
                }
            }
        }),
    );
    r.register(
        CREATE_ACCOUNT,
        step(
            ctx.create_account,
            |input: create_account::CreateAccountInput, c| async move {
                create_account::handle(&c, input).await
            },
        ),
    );
    r.register(
        ISSUE_TAP,
        step(ctx.issue_tap, move |input: issue_tap::IssueTapInput, c| {
            let log = deliveries.clone();
            async move { issue_tap::handle(&c, log.as_ref(), input).await }
        }),
    );
    r.register(
        HRIS_WRITEBACK,
        step(
            ctx.hris_writeback,
            move |input: hris_writeback::WritebackInput, c| {
                let log = writebacks.clone();
                async move { hris_writeback::handle(&c, log.as_ref(), input).await }
            },
        ),
    );
    r.register(
        CREATE_TICKET,
        step(
            ctx.create_ticket,
            move |input: create_ticket::CreateTicketInput, c| {
                let receipts = ticket_receipts.clone();
                async move { create_ticket::handle(&c, receipts.as_ref(), input).await }
            },
        ),
    );
    r.register(
        NOTIFY_FAILURE,
        step(
            ctx.notify_failure,
            |input: notify_failure::NotifyInput, c| async move {
                notify_failure::handle(&c, input).await
            },
        ),
    );
    r
}

/// The engine's ledger, shared by the allocate-username step (which owns its ledger).
pub struct SharedLedger(pub Arc<dyn Ledger>);

#[async_trait]
impl Ledger for SharedLedger {
    async fn allocate(
        &self,
        worker_id: &str,
        execution_id: &str,
        plan: &UsernamePlan,
    ) -> Result<Allocation, LedgerError> {
        self.0.allocate(worker_id, execution_id, plan).await
    }

    async fn tombstone(&self, worker_id: &str) -> Result<(), LedgerError> {
        self.0.tombstone(worker_id).await
    }

    async fn holder(&self, ns: Namespace, value: &str) -> Result<Option<NameRecord>, LedgerError> {
        self.0.holder(ns, value).await
    }

    async fn worker(&self, worker_id: &str) -> Result<Option<WorkerRecord>, LedgerError> {
        self.0.worker(worker_id).await
    }

    async fn import(
        &self,
        account: &dayone_ledger::ExistingAccount,
        suffix_start: u64,
    ) -> Result<dayone_ledger::ImportOutcome, LedgerError> {
        self.0.import(account, suffix_start).await
    }
}
