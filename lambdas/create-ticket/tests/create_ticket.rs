//! create-ticket against the ServiceNow and Jira twins over loopback HTTP.

use create_ticket::{CreateTicketInput, handle};
use dayone_core::config::{ServiceNowMode, TicketSystem};
use dayone_core::{AllocatedNames, HireEvent};
use dayone_sandbox::Ticket;
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

#[tokio::test]
async fn servicenow_running_twice_leaves_one_request_that_names_the_hire() {
    let env = TestEnv::start().await.unwrap();

    let first = handle(&env.ctx, ada()).await.unwrap();
    let second = handle(&env.ctx, ada()).await.unwrap();

    assert!(first.created);
    assert!(!second.created, "the re-run found the first ticket");
    assert_eq!(first.key, second.key);
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
async fn a_department_without_a_profile_gets_the_default_hardware() {
    let env = TestEnv::start().await.unwrap();
    let out = handle(&env.ctx, input(hires::siobhan(), names::siobhan()))
        .await
        .unwrap();
    assert_eq!(out.hardware, "standard-laptop");
}

#[tokio::test]
async fn a_servicenow_catalog_order_is_placed_once() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| {
        c.tickets.servicenow.mode = ServiceNowMode::Catalog;
        c.tickets.servicenow.catalog_item = Some("774906834fbb4200086eeed18110c737".into());
    });

    let first = handle(&ctx, ada()).await.unwrap();
    let second = handle(&ctx, ada()).await.unwrap();

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
async fn jira_running_twice_leaves_one_request_labelled_with_the_key() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| c.tickets.system = TicketSystem::Jira);

    let first = handle(&ctx, ada()).await.unwrap();
    let second = handle(&ctx, ada()).await.unwrap();

    assert!(first.created);
    assert!(!second.created);
    assert_eq!(first.system, "jira");
    assert_eq!(first.key, second.key);
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
async fn persistent_servicenow_throttling_is_dayone_throttled() {
    let env = TestEnv::start().await.unwrap();
    env.sandbox.faults().servicenow.throttle_next(50, 1);
    let err = handle(&env.ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Throttled, "{}", err.message);
    assert!(env.sandbox.tickets().is_empty());
}

#[tokio::test]
async fn a_jira_5xx_is_retryable() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| c.tickets.system = TicketSystem::Jira);
    env.sandbox.faults().jira.fail_next(50, 500);
    let err = handle(&ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
}

#[tokio::test]
async fn a_wrong_servicenow_password_is_unauthorized() {
    let env = TestEnv::start().await.unwrap();
    let mut secrets = secrets_for(&env.sandbox_config);
    secrets.insert("servicenow_password", "not-the-password");
    let err = handle(&env.ctx_with_secrets(secrets), ada())
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
    let err = handle(&ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Unauthorized, "{}", err.message);
}

#[tokio::test]
async fn servicenow_outside_the_allowlist_is_egress_denied() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_allowlist(vec![TestEnv::host_of(&env.sandbox.urls().jira_base)]);
    let err = handle(&ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::EgressDenied, "{}", err.message);
    assert!(env.sandbox.calls().is_empty());
}

#[tokio::test]
async fn jira_without_a_service_desk_is_misconfigured() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| {
        c.tickets.system = TicketSystem::Jira;
        c.targets.jira_base = None;
    });
    let err = handle(&ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(err.message.contains("targets.jira_base"), "{}", err.message);
}
