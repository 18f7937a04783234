//! What a retry does when an earlier attempt was interrupted, against scripted ServiceNow and
//! Jira (wiremock): the twins index instantly, real Jira does not.
//!
//! The story: attempt 1 began the receipt, raised the request and timed out before completing
//! it. Jira's search index does not show the request yet. Attempt 2 must not raise another.

use std::time::Duration;

use chrono::Utc;
use create_ticket::{
    Begun, CreateTicketInput, InMemoryTicketReceipts, LabelSearch, TicketReceipt, TicketReceipts,
    handle_with,
};
use dayone_core::config::TicketSystem;
use dayone_sdk::context::StepContext;
use dayone_sdk::error::StepErrorName;
use dayone_testkit::{EXECUTION_ID, TestEnv, hires, names, secrets_for};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "joiner:21001:EVT-2026-11-0001:equipment";
const SEARCH: &str = "/rest/api/3/search/jql";
const RAISE: &str = "/rest/servicedeskapi/request";

/// Three searches, without the real 2.5 s waits.
const NO_WAIT: LabelSearch = LabelSearch {
    searches: 3,
    wait: Duration::ZERO,
};

fn ada() -> CreateTicketInput {
    CreateTicketInput {
        execution_id: EXECUTION_ID.into(),
        hire: hires::ada(),
        names: names::ada(),
    }
}

/// A context whose ticket system is `system` at the mock server (and nothing else allowed).
fn ctx_at(env: &TestEnv, server: &MockServer, system: TicketSystem) -> StepContext {
    let mut config = env.config.clone();
    config.tickets.system = system;
    config.targets.jira_base = Some(server.uri());
    config.targets.servicenow_base = Some(server.uri());
    dayone_testkit::context(
        &config,
        secrets_for(&env.sandbox_config),
        vec![TestEnv::host_of(&server.uri())],
        EXECUTION_ID,
    )
}

/// The receipt an interrupted earlier attempt left behind.
async fn interrupted_attempt() -> InMemoryTicketReceipts {
    let receipts = InMemoryTicketReceipts::new();
    let began = receipts
        .begin(KEY, "earlier-execution", Utc::now())
        .await
        .unwrap();
    assert_eq!(began, Begun::Fresh);
    receipts
}

async fn state(receipts: &InMemoryTicketReceipts) -> Begun {
    receipts.begin(KEY, "later", Utc::now()).await.unwrap()
}

/// Jira's search misses for the first `misses` searches, then finds HELPDESK-1.
async fn jira_index_shows_request_after(server: &MockServer, misses: u64) {
    if misses > 0 {
        Mock::given(method("GET"))
            .and(path(SEARCH))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"issues": []})))
            .up_to_n_times(misses)
            .with_priority(1)
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"issues": [{"id": "107001", "key": "HELPDESK-1"}]})),
        )
        .with_priority(2)
        .mount(server)
        .await;
}

/// Raising a request answers HELPDESK-2 (so a duplicate would be visible).
async fn jira_raises_helpdesk_2(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(RAISE))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "issueId": "107002", "issueKey": "HELPDESK-2",
            "_links": {"web": "https://acme.atlassian.net/servicedesk/customer/portal/10/HELPDESK-2"}})))
        .mount(server)
        .await;
}

async fn requests_to(server: &MockServer, verb: &str, route: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == route)
        .count()
}

#[tokio::test]
async fn a_retry_waits_for_jiras_index_instead_of_raising_a_second_request() {
    let env = TestEnv::start().await.unwrap();
    let server = MockServer::start().await;
    jira_index_shows_request_after(&server, 1).await;
    jira_raises_helpdesk_2(&server).await;
    let receipts = interrupted_attempt().await;

    let out = handle_with(
        &ctx_at(&env, &server, TicketSystem::Jira),
        &receipts,
        NO_WAIT,
        ada(),
    )
    .await
    .unwrap();

    assert_eq!(requests_to(&server, "POST", RAISE).await, 0, "no duplicate");
    assert_eq!(requests_to(&server, "GET", SEARCH).await, 2);
    assert_eq!((out.key.as_str(), out.created), ("HELPDESK-1", false));
    let url = format!("{}/browse/HELPDESK-1", server.uri());
    assert_eq!(out.url, url);
    assert_eq!(
        state(&receipts).await,
        Begun::Done(TicketReceipt {
            system: "jira".into(),
            key: "HELPDESK-1".into(),
            url,
            hardware: "developer-laptop-mac".into(),
        })
    );
    env.assert_no_leaks(&[&out]);
}

#[tokio::test]
async fn a_retry_raises_the_request_once_when_no_search_finds_it() {
    // The earlier attempt failed before Jira raised anything.
    let env = TestEnv::start().await.unwrap();
    let server = MockServer::start().await;
    jira_index_shows_request_after(&server, u64::MAX).await;
    jira_raises_helpdesk_2(&server).await;
    let receipts = interrupted_attempt().await;

    let out = handle_with(
        &ctx_at(&env, &server, TicketSystem::Jira),
        &receipts,
        NO_WAIT,
        ada(),
    )
    .await
    .unwrap();

    assert_eq!(requests_to(&server, "GET", SEARCH).await, 3);
    assert_eq!(requests_to(&server, "POST", RAISE).await, 1);
    assert_eq!((out.key.as_str(), out.created), ("HELPDESK-2", true));
    assert!(matches!(state(&receipts).await, Begun::Done(r) if r.key == "HELPDESK-2"));
}

#[tokio::test]
async fn a_first_attempt_searches_once_and_does_not_wait() {
    let env = TestEnv::start().await.unwrap();
    let server = MockServer::start().await;
    jira_index_shows_request_after(&server, u64::MAX).await;
    jira_raises_helpdesk_2(&server).await;
    // Waits this long would time the test out: a first attempt must not pay them.
    let slow = LabelSearch {
        searches: 3,
        wait: Duration::from_secs(60),
    };

    let out = tokio::time::timeout(
        Duration::from_secs(20),
        handle_with(
            &ctx_at(&env, &server, TicketSystem::Jira),
            &InMemoryTicketReceipts::new(),
            slow,
            ada(),
        ),
    )
    .await
    .expect("a first attempt does not wait for the index")
    .unwrap();

    assert!(out.created);
    assert_eq!(requests_to(&server, "GET", SEARCH).await, 1);
    assert_eq!(requests_to(&server, "POST", RAISE).await, 1);
    assert_eq!(
        out.url,
        "https://acme.atlassian.net/servicedesk/customer/portal/10/HELPDESK-2"
    );
}

#[tokio::test]
async fn a_done_receipt_answers_without_any_http_request() {
    let env = TestEnv::start().await.unwrap();
    let server = MockServer::start().await;
    jira_index_shows_request_after(&server, 0).await;
    let receipts = interrupted_attempt().await;
    let stored = TicketReceipt {
        system: "jira".into(),
        key: "HELPDESK-1".into(),
        url: "https://acme.atlassian.net/browse/HELPDESK-1".into(),
        hardware: "developer-laptop-mac".into(),
    };
    receipts.complete(KEY, &stored).await.unwrap();

    let out = handle_with(
        &ctx_at(&env, &server, TicketSystem::Jira),
        &receipts,
        NO_WAIT,
        ada(),
    )
    .await
    .unwrap();

    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(out, stored.into_output());
    assert!(!out.created);
}

#[tokio::test]
async fn a_servicenow_retry_looks_up_the_correlation_id_once() {
    let env = TestEnv::start().await.unwrap();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/sc_request"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"result": [{"sys_id": "req-1", "number": "REQ0010001"}]})),
        )
        .mount(&server)
        .await;
    let receipts = interrupted_attempt().await;

    let out = handle_with(
        &ctx_at(&env, &server, TicketSystem::Servicenow),
        &receipts,
        NO_WAIT,
        ada(),
    )
    .await
    .unwrap();

    let received = server.received_requests().await.unwrap_or_default();
    assert_eq!(received.len(), 1, "one consistent lookup, nothing raised");
    assert_eq!((out.key.as_str(), out.created), ("REQ0010001", false));
    assert!(matches!(state(&receipts).await, Begun::Done(r) if r.key == "REQ0010001"));
}

#[tokio::test]
async fn a_search_error_during_a_retry_keeps_the_receipt_pending() {
    let env = TestEnv::start().await.unwrap();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(SEARCH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errorMessages": ["Client must be authenticated to access this resource."]})))
        .mount(&server)
        .await;
    jira_raises_helpdesk_2(&server).await;
    let receipts = interrupted_attempt().await;

    let err = handle_with(
        &ctx_at(&env, &server, TicketSystem::Jira),
        &receipts,
        NO_WAIT,
        ada(),
    )
    .await
    .unwrap_err();

    assert_eq!(err.name, StepErrorName::Unauthorized, "{}", err.message);
    assert_eq!(requests_to(&server, "POST", RAISE).await, 0);
    assert!(
        matches!(state(&receipts).await, Begun::Pending { execution, .. } if execution == "earlier-execution")
    );
    env.assert_no_leaks(&[&err.message]);
}
