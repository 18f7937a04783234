//! **create-ticket**: the equipment request for the new hire, in ServiceNow or Jira Service
//! Management (`[tickets].system`).
//!
//! In: `{executionId, hire, names}`. Out: `{system, key, url, created, hardware}`
//! ([`CreateTicketOutput`]); the state machine keeps `system`, `key`, `url`, `created`.
//!
//! The ticket names the hire (display name, username, email), the start date, the location and
//! the role, and asks for the hardware profile of the hire's department (`[tickets.hardware]`).
//!
//! Idempotent, in two layers:
//! - In the target system, the request carries a key derived from the hire event
//!   ([`ticket::correlation_key`]): ServiceNow's `correlation_id` (Table API record, or the
//!   requested item of a catalog order), Jira's label `dayone-<key>`. Before creating, the
//!   connector looks the key up, so a re-run returns the existing ticket with `created: false`.
//! - In a receipt ([`receipts`]; `TICKET#<key>` in the ledger table in AWS), because the key
//!   alone cannot always be found right after the fact: Jira's search index shows a new request
//!   only seconds later, and a ServiceNow catalog order carries the key only once its requested
//!   item (RITM) has been patched, a separate call after ordering. An attempt that opened the
//!   request but was interrupted before that would otherwise be followed by a retry that finds
//!   nothing and opens a second one (a second laptop). Each attempt first *begins* the receipt
//!   (a conditional write):
//!   - no receipt yet: look up and open as above, then mark the receipt done with the ticket;
//!   - done: return the ticket it names (`created: false`) without calling ServiceNow or Jira;
//!   - pending (an earlier attempt was interrupted): Jira is searched up to
//!     [`RETRY_SEARCH`]`.searches` times, a few seconds apart, before a request is raised
//!     (ServiceNow's query is consistent, so one lookup is enough); then the receipt is done.
//!
//!   A ServiceNow catalog order writes the receipt once more in between: right after
//!   `order_now` it *progresses* the receipt with the placed request's sys_id, then finds the
//!   request's RITM and patches the key onto it. A pending receipt that names a request is
//!   resumed: that request's RITM is found and marked (unless the earlier mark landed) and the
//!   receipt completed, with no lookup and no new order (`created: false`). So a failure once
//!   the receipt names the request (RITM not visible yet, PATCH 5xx, Lambda timeout) costs a
//!   retry, not a second laptop.
//!
//!   The windows left, both between ServiceNow accepting the order and the receipt naming it:
//!   - the receipt store fails to record the request: the step marks the RITM anyway and fails
//!     `Dayone.Retryable`, so the retry finds the marked order by its key. Only if that mark
//!     fails too can the retry order again; the error message says so and asks for the
//!     duplicate to be cancelled;
//!   - the attempt dies before it learns or records the request (the `order_now` answer is
//!     lost to a timeout, or the Lambda stops between that answer and the receipt write): the
//!     retry cannot know the request exists and orders again.
//!
//!   A receipt store that does not answer is `Dayone.Retryable`: opening a ticket without a
//!   receipt is exactly the risk the receipt exists to remove.
//!
//! Errors keep the connector's names (`Dayone.Throttled` on 429, `Dayone.Retryable` on 5xx,
//! `Dayone.Unauthorized`, `Dayone.TargetRejected` for a refused request); a missing
//! `[targets]` / `[tickets]` entry is `Dayone.Misconfigured`.

pub mod dynamo;
pub mod error;
pub mod receipts;
pub mod target;
pub mod ticket;

use std::time::Duration;

use chrono::Utc;
use dayone_core::{AllocatedNames, HireEvent};
use dayone_sdk::audit::AuditEvent;
use dayone_sdk::context::StepContext;
use dayone_sdk::error::StepError;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use dayone_connectors::jira::LabelSearch;
pub use dynamo::DynamoTicketReceipts;
pub use error::CreateTicketError;
pub use receipts::{
    Begun, InMemoryTicketReceipts, ReceiptStoreError, TicketReceipt, TicketReceipts,
};
use target::{Attempt, Opened, Target};
use ticket::{correlation_key, ticket_text};

const ACTOR: &str = "step:create-ticket";
/// Logical names of the ticket systems' credentials in `[secrets]`.
pub const SERVICENOW_PASSWORD: &str = "servicenow_password";
pub const JIRA_API_TOKEN: &str = "jira_api_token";

/// How a retry after an interrupted attempt searches Jira before raising a request.
///
/// Jira's index shows a new request a few seconds after it was raised; three searches 2.5 s
/// apart give it 5 s, and add at most 5 s of waiting to an attempt, well inside the 60 s the
/// Lambda is deployed with. (Only a pending receipt pays this; a first attempt searches once.)
pub const RETRY_SEARCH: LabelSearch = LabelSearch {
    searches: 3,
    wait: Duration::from_millis(2500),
};

/// The payload Step Functions sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTicketInput {
    pub execution_id: String,
    pub hire: HireEvent,
    pub names: AllocatedNames,
}

/// What the step returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTicketOutput {
    /// `servicenow` or `jira`.
    pub system: String,
    /// Record number (`REQ0010001` for a Table API request, `RITM0010001` for a catalog order's
    /// requested item) or issue key (`HELPDESK-12`).
    pub key: String,
    /// A link for people.
    pub url: String,
    /// `false` when a re-run found the ticket an earlier run opened.
    pub created: bool,
    /// The hardware profile asked for.
    pub hardware: String,
}

/// The Lambda handler. `receipts` remembers which ticket each hire event got (DynamoDB in AWS,
/// memory locally).
pub async fn handle<R: TicketReceipts + ?Sized>(
    ctx: &StepContext,
    receipts: &R,
    input: CreateTicketInput,
) -> Result<CreateTicketOutput, StepError> {
    handle_with(ctx, receipts, RETRY_SEARCH, input).await
}

/// [`handle`] with the Jira search of a retry given (tests use one that does not wait).
pub async fn handle_with<R: TicketReceipts + ?Sized>(
    ctx: &StepContext,
    receipts: &R,
    retry_search: LabelSearch,
    input: CreateTicketInput,
) -> Result<CreateTicketOutput, StepError> {
    let hardware = ctx
        .config
        .tickets
        .hardware
        .profile_for(&input.hire.department)
        .to_string();
    let key = correlation_key(&input.hire);
    let text = ticket_text(&input.hire, &input.names, &hardware, &key);
    let target = Target::prepare(ctx, &input, &key, &text, &hardware)?;
    let begun = receipts
        .begin(&key, &input.execution_id, Utc::now())
        .await
        .map_err(CreateTicketError::from)?;
    let from_receipt = matches!(begun, Begun::Done(_));
    let output = match begun {
        Begun::Done(receipt) => receipt.into_output(),
        Begun::Fresh => open(&target, receipts, &key, &hardware, Attempt::First).await?,
        Begun::Pending {
            execution,
            since,
            request,
        } => {
            tracing::info!(earlier_execution = %execution, since = %since, placed_request = request.as_deref().unwrap_or("none"), "an earlier attempt did not finish; finishing its order or searching patiently before opening a ticket");
            let attempt = Attempt::Retry {
                jira_search: retry_search,
                placed_request: request.as_deref(),
            };
            open(&target, receipts, &key, &hardware, attempt).await?
        }
    };
    report(ctx, &input, &key, &output, from_receipt);
    Ok(output)
}

/// The log line and audit event of a ticket that is ready: `success` when this attempt opened
/// it, `skipped` when it was found in the target system or in a receipt.
fn report(
    ctx: &StepContext,
    input: &CreateTicketInput,
    correlation_key: &str,
    output: &CreateTicketOutput,
    from_receipt: bool,
) {
    tracing::info!(system = %output.system, key = %output.key, created = output.created, from_receipt, hardware = %output.hardware, "equipment ticket ready");
    ctx.audit(
        AuditEvent::new(ACTOR, "ticket.create", output.key.as_str())
            .outcome(if output.created {
                AuditEvent::SUCCESS
            } else {
                AuditEvent::SKIPPED
            })
            .details(json!({
                "executionId": input.execution_id,
                "system": output.system,
                "workerId": input.hire.worker_id.as_str(),
                "correlationId": correlation_key,
                "hardware": output.hardware,
                "fromReceipt": from_receipt,
            })),
    );
}

/// Opens (or finds) the ticket, then marks the receipt done. If the receipt cannot be completed
/// the step fails as retryable: the retry meets a pending receipt and searches before opening,
/// so it finds this ticket rather than opening another.
async fn open<R: TicketReceipts + ?Sized>(
    target: &Target,
    receipts: &R,
    key: &str,
    hardware: &str,
    attempt: Attempt<'_>,
) -> Result<CreateTicketOutput, CreateTicketError> {
    let Opened {
        system,
        key: ticket_key,
        url,
        created,
    } = target.open(key, attempt, receipts).await?;
    let output = CreateTicketOutput {
        system: system.to_string(),
        key: ticket_key,
        url,
        created,
        hardware: hardware.to_string(),
    };
    receipts
        .complete(key, &TicketReceipt::from(&output))
        .await?;
    Ok(output)
}
