//! create-ticket against the ServiceNow and Jira twins over loopback HTTP, with the in-memory
//! ticket receipts (the DynamoDB ones are in `receipts.rs`, Jira's index lag in `index_lag.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use create_ticket::{
    Begun, CreateTicketInput, InMemoryTicketReceipts, LabelSearch, ReceiptStoreError,
    TicketReceipt, TicketReceipts, handle, handle_with,
};
use dayone_core::config::{ServiceNowMode, TicketSystem};
use dayone_core::{AllocatedNames, HireEvent};
use dayone_sandbox::{FaultKind, FaultTarget, ServiceNowRecord, Ticket, Twin};
use dayone_sdk::context::StepContext;
use dayone_sdk::error::StepErrorName;
use dayone_testkit::{EXECUTION_ID, TestEnv, hires, names, secrets_for};

fn input(hire: HireEvent, names: AllocatedNames) -> CreateTicketInput {
    CreateTicketInput {
        execution_id: EXECUTION_ID.into(),
        hire,
        names,
    }
}

fn ada() -> CreateTicketInput {
    input(hires::ada(), names::ada())
}

const KEY: &str = "joiner:21001:EVT-2026-11-0001:equipment";

/// A retry's Jira search without the real waits.
const NO_WAIT: LabelSearch = LabelSearch {
    searches: 3,
    wait: std::time::Duration::ZERO,
};

/// What a later attempt would find in the receipt store for Ada's ticket.
async fn receipt_state(receipts: &dyn TicketReceipts) -> Begun {
    receipts
        .begin(KEY, "a-later-execution", Utc::now())
        .await
        .unwrap()
}

#[tokio::test]
async fn servicenow_running_twice_opens_one_request_and_the_rerun_calls_nobody() {
    let env = TestEnv::start().await.unwrap();
    let receipts = InMemoryTicketReceipts::new();

    let first = handle(&env.ctx, &receipts, ada()).await.unwrap();
    let calls_after_first = env.sandbox.calls().len();
    let second = handle(&env.ctx, &receipts, ada()).await.unwrap();

    assert!(first.created);
    assert!(!second.created, "the re-run returned the first ticket");
    assert_eq!(
        (&first.key, &first.url, &first.hardware),
        (&second.key, &second.url, &second.hardware)
    );
    assert_eq!(
        env.sandbox.calls().len(),
        calls_after_first,
        "the re-run made no HTTP call to ServiceNow"
    );
    assert_eq!(first.system, "servicenow");
    assert!(first.key.starts_with("REQ"), "{}", first.key);
    assert!(first.url.starts_with(&env.sandbox.urls().servicenow_base));
    assert_eq!(first.hardware, "developer-laptop-mac");

    let tickets = env.sandbox.tickets();
    assert_eq!(tickets.len(), 1);
    let Ticket::ServiceNow(record) = &tickets[0] else {
        panic!("expected a ServiceNow record");
    };
    assert_eq!(record.table, "sc_request");
    assert_eq!(record.fields["correlation_id"], KEY);
    let summary = record.fields["short_description"].as_str().unwrap();
    assert_eq!(
        summary,
        "New hire equipment: Ada Lovelace (Software Engineer, London), starts 2026-12-01"
    );
    let description = record.fields["description"].as_str().unwrap();
    for expected in [
        "Name: Ada Lovelace",
        "Start date: Tuesday 1 December 2026",
        "Role: Software Engineer",
        "Location: London (GB)",
        "Hardware profile: developer-laptop-mac",
    ] {
        assert!(description.contains(expected), "missing {expected:?}");
    }
    env.assert_no_leaks(&[&first, &second]);
}

#[tokio::test]
async fn a_fresh_run_records_the_ticket_it_opened_as_done() {
    let env = TestEnv::start().await.unwrap();
    let receipts = InMemoryTicketReceipts::new();

    let out = handle(&env.ctx, &receipts, ada()).await.unwrap();

    assert!(out.created);
    assert_eq!(env.sandbox.tickets().len(), 1);
    assert_eq!(
        receipt_state(&receipts).await,
        Begun::Done(TicketReceipt {
            system: "servicenow".into(),
            key: out.key.clone(),
            url: out.url.clone(),
            hardware: "developer-laptop-mac".into(),
        })
    );
}

#[tokio::test]
async fn a_department_without_a_profile_gets_the_default_hardware() {
    let env = TestEnv::start().await.unwrap();
    let out = handle(
        &env.ctx,
        &InMemoryTicketReceipts::new(),
        input(hires::siobhan(), names::siobhan()),
    )
    .await
    .unwrap();
    assert_eq!(out.hardware, "standard-laptop");
}

const CATALOG_ITEM: &str = "774906834fbb4200086eeed18110c737";
const ORDER_NOW: &str = "/api/sn_sc/servicecatalog/items/{item}/order_now";
const MARK_ITEM: &str = "/api/now/table/{table}/{sys_id}";

/// ServiceNow in catalog mode, ordering the twin's laptop item.
fn catalog(env: &TestEnv) -> StepContext {
    env.ctx_with_config(|c| {
        c.tickets.servicenow.mode = ServiceNowMode::Catalog;
        c.tickets.servicenow.catalog_item = Some(CATALOG_ITEM.into());
    })
}

fn records(env: &TestEnv, table: &str) -> Vec<ServiceNowRecord> {
    env.sandbox
        .servicenow_records()
        .into_iter()
        .filter(|r| r.table == table)
        .collect()
}

/// The next PATCH of a requested item answers 500: the order exists, its mark does not.
fn fail_next_item_mark(env: &TestEnv) {
    env.sandbox.faults().servicenow.arm(
        FaultTarget::path("PATCH", "/api/now/table/sc_req_item/{sys_id}"),
        FaultKind::Status {
            status: 500,
            retry_after_secs: None,
        },
        1,
    );
}

fn servicenow_calls(env: &TestEnv, method: &str, route: &str) -> u64 {
    env.sandbox.call_count(Twin::ServiceNow, method, route)
}

#[tokio::test]
async fn a_servicenow_catalog_order_is_placed_once_even_when_the_receipt_is_lost() {
    let env = TestEnv::start().await.unwrap();
    let ctx = catalog(&env);

    // Two receipt stores: the second run knows nothing, so only the correlation id saves it.
    let first = handle(&ctx, &InMemoryTicketReceipts::new(), ada())
        .await
        .unwrap();
    let second = handle(&ctx, &InMemoryTicketReceipts::new(), ada())
        .await
        .unwrap();

    assert!(first.created);
    assert!(!second.created);
    assert_eq!(first.key, second.key);
    assert!(first.key.starts_with("RITM"), "{}", first.key);
    let items: Vec<_> = env
        .sandbox
        .servicenow_records()
        .into_iter()
        .filter(|r| r.table == "sc_req_item")
        .collect();
    assert_eq!(items.len(), 1, "one requested item");
    assert_eq!(items[0].fields["correlation_id"], KEY);
    let requests = env
        .sandbox
        .servicenow_records()
        .into_iter()
        .filter(|r| r.table == "sc_request")
        .count();
    assert_eq!(requests, 1, "one request");
}

#[tokio::test]
async fn jira_running_twice_opens_one_labelled_request_and_the_rerun_calls_nobody() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| c.tickets.system = TicketSystem::Jira);
    let receipts = InMemoryTicketReceipts::new();

    let first = handle(&ctx, &receipts, ada()).await.unwrap();
    let calls_after_first = env.sandbox.calls().len();
    let second = handle(&ctx, &receipts, ada()).await.unwrap();

    assert!(first.created);
    assert!(!second.created);
    assert_eq!(first.system, "jira");
    assert_eq!((&first.key, &first.url), (&second.key, &second.url));
    assert_eq!(env.sandbox.calls().len(), calls_after_first);
    assert!(first.key.starts_with("HELPDESK-"), "{}", first.key);
    let requests = env.sandbox.jira_requests();
    assert_eq!(requests.len(), 1);
    let issue = &requests[0];
    assert_eq!(issue.service_desk_id, "10");
    assert_eq!(issue.request_type_id, "25");
    assert!(
        issue.labels.contains(&format!("dayone-{KEY}")),
        "{:?}",
        issue.labels
    );
    assert_eq!(
        issue.raise_on_behalf_of.as_deref(),
        Some("grace.hopper@contoso.com")
    );
    assert!(issue.summary.contains("Ada Lovelace"));
    env.assert_no_leaks(&[&first, &second]);
}

#[tokio::test]
async fn the_retry_after_a_failed_jira_attempt_opens_exactly_one_request() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| c.tickets.system = TicketSystem::Jira);
    let receipts = InMemoryTicketReceipts::new();
    env.sandbox.faults().jira.fail_next(50, 503);

    let err = handle_with(&ctx, &receipts, NO_WAIT, ada())
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    assert!(
        matches!(receipt_state(&receipts).await, Begun::Pending { .. }),
        "the failed attempt left its receipt pending"
    );

    env.sandbox.faults().jira.clear();
    let retry = handle_with(&ctx, &receipts, NO_WAIT, ada()).await.unwrap();

    assert!(
        retry.created,
        "nothing was opened before, so the retry opens it"
    );
    assert_eq!(env.sandbox.jira_requests().len(), 1);
    assert!(matches!(receipt_state(&receipts).await, Begun::Done(_)));
}

#[tokio::test]
async fn a_catalog_order_interrupted_before_its_item_was_marked_is_finished_not_ordered_again() {
    let env = TestEnv::start().await.unwrap();
    let ctx = catalog(&env);
    let receipts = InMemoryTicketReceipts::new();
    fail_next_item_mark(&env);

    let err = handle(&ctx, &receipts, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    let ordered = records(&env, "sc_request");
    assert_eq!(ordered.len(), 1, "the first attempt ordered");
    assert_eq!(
        records(&env, "sc_req_item")[0].fields["correlation_id"],
        "",
        "but its item is unmarked: a lookup by correlation id finds nothing"
    );
    assert!(
        matches!(receipt_state(&receipts).await,
            Begun::Pending { request: Some(r), .. } if r == ordered[0].sys_id),
        "the receipt names the placed request"
    );

    let retry = handle(&ctx, &receipts, ada()).await.unwrap();

    let items = records(&env, "sc_req_item");
    assert_eq!(records(&env, "sc_request").len(), 1, "one request");
    assert_eq!(items.len(), 1, "one requested item: one laptop");
    assert_eq!(servicenow_calls(&env, "POST", ORDER_NOW), 1);
    assert_eq!(items[0].fields["correlation_id"], KEY, "marked now");
    assert_eq!(
        (retry.key.as_str(), retry.created),
        (items[0].number.as_str(), false),
        "the retry reports the order the first attempt placed"
    );
    assert!(matches!(receipt_state(&receipts).await, Begun::Done(r) if r.key == retry.key));
    env.assert_no_leaks(&[&err.message]);
    env.assert_no_leaks(&[&retry]);
}

#[tokio::test]
async fn a_catalog_retry_after_a_lost_completion_neither_orders_nor_marks_again() {
    // Everything landed in ServiceNow; only the receipt's completion was lost.
    let env = TestEnv::start().await.unwrap();
    let ctx = catalog(&env);
    let mut receipts = Unreliable {
        complete_fails: true,
        ..Unreliable::default()
    };

    let err = handle(&ctx, &receipts, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    assert_eq!(
        records(&env, "sc_req_item")[0].fields["correlation_id"],
        KEY
    );

    receipts.complete_fails = false;
    let retry = handle(&ctx, &receipts, ada()).await.unwrap();

    assert_eq!(servicenow_calls(&env, "POST", ORDER_NOW), 1);
    assert_eq!(servicenow_calls(&env, "PATCH", MARK_ITEM), 1, "marked once");
    assert_eq!(records(&env, "sc_req_item").len(), 1);
    assert_eq!(retry.key, records(&env, "sc_req_item")[0].number);
    assert!(!retry.created);
    assert!(matches!(
        receipt_state(&receipts.inner).await,
        Begun::Done(_)
    ));
}

#[tokio::test]
async fn a_receipt_that_cannot_record_the_order_is_retryable_and_the_retry_finds_the_marked_item() {
    let env = TestEnv::start().await.unwrap();
    let ctx = catalog(&env);
    let mut receipts = Unreliable {
        progress_fails: true,
        ..Unreliable::default()
    };

    let err = handle(&ctx, &receipts, ada()).await.unwrap_err();

    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    let request = &records(&env, "sc_request")[0];
    for expected in [
        request.number.as_str(),
        "receipt could not record it",
        "UpdateItem on table 'ledger'",
        "the retry will find the order by its correlation id",
    ] {
        assert!(
            err.message.contains(expected),
            "{expected:?} in {}",
            err.message
        );
    }
    assert_eq!(
        records(&env, "sc_req_item")[0].fields["correlation_id"],
        KEY,
        "the item was marked anyway"
    );

    receipts.progress_fails = false;
    let retry = handle(&ctx, &receipts, ada()).await.unwrap();

    assert!(!retry.created);
    assert_eq!(records(&env, "sc_request").len(), 1, "no second order");
    assert_eq!(retry.key, records(&env, "sc_req_item")[0].number);
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn an_order_neither_recorded_nor_marked_says_the_retry_may_order_again() {
    let env = TestEnv::start().await.unwrap();
    let ctx = catalog(&env);
    let receipts = Unreliable {
        progress_fails: true,
        ..Unreliable::default()
    };
    fail_next_item_mark(&env);

    let err = handle(&ctx, &receipts, ada()).await.unwrap_err();

    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    let request = &records(&env, "sc_request")[0];
    for expected in [
        request.number.as_str(),
        request.sys_id.as_str(),
        "UpdateItem on table 'ledger'",
        "could not be marked",
        "may order a second time",
        "cancel it",
    ] {
        assert!(
            err.message.contains(expected),
            "{expected:?} in {}",
            err.message
        );
    }
    assert_eq!(records(&env, "sc_request").len(), 1);
    env.assert_no_leaks(&[&err.message]);
}

/// A receipt store that is down for `begin`, `progress`, `complete`, or several.
#[derive(Default)]
struct Unreliable {
    inner: InMemoryTicketReceipts,
    begin_fails: bool,
    progress_fails: bool,
    complete_fails: bool,
}

fn down(op: &str) -> ReceiptStoreError {
    ReceiptStoreError(format!("{op} on table 'ledger': ServiceUnavailable"))
}

#[async_trait]
impl TicketReceipts for Unreliable {
    async fn begin(
        &self,
        key: &str,
        execution_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Begun, ReceiptStoreError> {
        if self.begin_fails {
            return Err(down("PutItem"));
        }
        self.inner.begin(key, execution_id, now).await
    }

    async fn progress(&self, key: &str, request_sys_id: &str) -> Result<(), ReceiptStoreError> {
        if self.progress_fails {
            return Err(down("UpdateItem"));
        }
        self.inner.progress(key, request_sys_id).await
    }

    async fn complete(&self, key: &str, receipt: &TicketReceipt) -> Result<(), ReceiptStoreError> {
        if self.complete_fails {
            return Err(down("UpdateItem"));
        }
        self.inner.complete(key, receipt).await
    }
}

#[tokio::test]
async fn a_receipt_store_that_cannot_begin_is_retryable_and_nothing_is_opened() {
    let env = TestEnv::start().await.unwrap();
    let receipts = Unreliable {
        begin_fails: true,
        ..Unreliable::default()
    };

    let err = handle(&env.ctx, &receipts, ada()).await.unwrap_err();

    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    assert!(
        err.message.contains("receipt store is unavailable"),
        "{}",
        err.message
    );
    assert!(
        env.sandbox.calls().is_empty(),
        "no ticket system was called"
    );
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn a_receipt_that_cannot_be_completed_is_retryable_and_the_retry_finds_the_ticket() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| c.tickets.system = TicketSystem::Jira);
    let mut receipts = Unreliable {
        complete_fails: true,
        ..Unreliable::default()
    };

    let err = handle_with(&ctx, &receipts, NO_WAIT, ada())
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    assert!(err.message.contains("UpdateItem"), "{}", err.message);
    assert_eq!(
        env.sandbox.jira_requests().len(),
        1,
        "the request was opened"
    );

    receipts.complete_fails = false;
    let retry = handle_with(&ctx, &receipts, NO_WAIT, ada()).await.unwrap();

    assert!(!retry.created, "the retry found the request");
    assert_eq!(env.sandbox.jira_requests().len(), 1, "and opened no other");
    assert!(matches!(
        receipt_state(&receipts.inner).await,
        Begun::Done(r) if r.key == retry.key
    ));
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn persistent_servicenow_throttling_is_dayone_throttled() {
    let env = TestEnv::start().await.unwrap();
    env.sandbox.faults().servicenow.throttle_next(50, 1);
    let err = handle(&env.ctx, &InMemoryTicketReceipts::new(), ada())
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::Throttled, "{}", err.message);
    assert!(env.sandbox.tickets().is_empty());
}

#[tokio::test]
async fn a_jira_5xx_is_retryable() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| c.tickets.system = TicketSystem::Jira);
    env.sandbox.faults().jira.fail_next(50, 500);
    let err = handle(&ctx, &InMemoryTicketReceipts::new(), ada())
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
}

#[tokio::test]
async fn a_wrong_servicenow_password_is_unauthorized() {
    let env = TestEnv::start().await.unwrap();
    let mut secrets = secrets_for(&env.sandbox_config);
    secrets.insert("servicenow_password", "not-the-password");
    let err = handle(
        &env.ctx_with_secrets(secrets),
        &InMemoryTicketReceipts::new(),
        ada(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::Unauthorized, "{}", err.message);
    assert!(!err.message.contains("not-the-password"));
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn a_wrong_jira_token_is_unauthorized() {
    let env = TestEnv::start().await.unwrap();
    let mut secrets = secrets_for(&env.sandbox_config);
    secrets.insert("jira_api_token", "not-the-token");
    let mut ctx = env.ctx_with_secrets(secrets);
    let mut config = (*ctx.config).clone();
    config.tickets.system = TicketSystem::Jira;
    ctx.config = std::sync::Arc::new(config);
    let err = handle(&ctx, &InMemoryTicketReceipts::new(), ada())
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::Unauthorized, "{}", err.message);
}

#[tokio::test]
async fn servicenow_outside_the_allowlist_is_egress_denied() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_allowlist(vec![TestEnv::host_of(&env.sandbox.urls().jira_base)]);
    let err = handle(&ctx, &InMemoryTicketReceipts::new(), ada())
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::EgressDenied, "{}", err.message);
    assert!(env.sandbox.calls().is_empty());
}

#[tokio::test]
async fn jira_without_a_service_desk_is_misconfigured_and_begins_no_receipt() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| {
        c.tickets.system = TicketSystem::Jira;
        c.targets.jira_base = None;
    });
    let receipts = InMemoryTicketReceipts::new();
    let err = handle(&ctx, &receipts, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(err.message.contains("targets.jira_base"), "{}", err.message);
    assert_eq!(
        receipt_state(&receipts).await,
        Begun::Fresh,
        "once fixed, the next run is a first attempt, not a slow retry"
    );
}
