use std::time::Duration;

use dayone_connectors::jira::LabelSearch;
use dayone_connectors::{JiraClient, JiraSettings, NewJiraRequest, RetryPolicy};
use dayone_core::step_error::StepErrorName;
use serde_json::{Map, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

fn client(server: &MockServer) -> JiraClient {
    JiraClient::new(
        http(),
        secrets(),
        JiraSettings {
            base_url: server.uri(),
            email: "dayone-bot@contoso.example".into(),
            api_token_secret_name: "jira-api-token".into(),
        },
    )
    .with_retry_policy(RetryPolicy::fast())
}

fn laptop_request() -> NewJiraRequest {
    let mut extra = Map::new();
    extra.insert("customfield_10004".into(), json!({"id": "10103"}));
    NewJiraRequest {
        service_desk_id: "10".into(),
        request_type_id: "25".into(),
        summary: "Laptop for Ada Lovelace".into(),
        description: Some("Starts 2026-04-01 in London as Engineer.".into()),
        extra_fields: extra,
        raise_on_behalf_of: Some("grace@contoso.example".into()),
        request_participants: vec![],
        idempotency_key: "evt-1".into(),
    }
}

async fn search_returns(server: &MockServer, issues: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"issues": issues, "isLast": true})),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_request_is_searched_by_label_then_raised_on_behalf_of_the_manager() {
    let server = MockServer::start().await;
    search_returns(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path("/rest/servicedeskapi/request"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "issueId": "107001", "issueKey": "HELPDESK-1", "requestTypeId": "25", "serviceDeskId": "10",
            "currentStatus": {"status": "Waiting for support", "statusCategory": "NEW"},
            "_links": {"web": "https://acme.atlassian.net/servicedesk/customer/portal/10/HELPDESK-1"}})))
        .mount(&server)
        .await;

    let ticket = client(&server)
        .create_request(&laptop_request())
        .await
        .unwrap();

    assert_eq!(
        (ticket.issue_key.as_str(), ticket.created),
        ("HELPDESK-1", true)
    );
    assert_eq!(
        ticket.web_link.as_deref(),
        Some("https://acme.atlassian.net/servicedesk/customer/portal/10/HELPDESK-1")
    );
    let reqs = requests(&server).await;
    assert_eq!(
        reqs[0].url.query(),
        Some("jql=labels%20%3D%20%22dayone-evt-1%22&fields=summary&maxResults=1")
    );
    // base64("dayone-bot@contoso.example:FAKE-jira-api-token")
    assert_eq!(
        header(&reqs[1], "authorization").as_deref(),
        Some("Basic ZGF5b25lLWJvdEBjb250b3NvLmV4YW1wbGU6RkFLRS1qaXJhLWFwaS10b2tlbg==")
    );
    assert_eq!(
        header(&reqs[1], "accept").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        body_text(&reqs[1]),
        json!({"serviceDeskId": "10", "requestTypeId": "25",
               "requestFieldValues": {"summary": "Laptop for Ada Lovelace",
                   "description": "Starts 2026-04-01 in London as Engineer.",
                   "customfield_10004": {"id": "10103"}, "labels": ["dayone-evt-1"]},
               "raiseOnBehalfOf": "grace@contoso.example"})
        .to_string()
    );
}

#[tokio::test]
async fn a_request_already_labelled_is_returned_without_raising_another() {
    let server = MockServer::start().await;
    search_returns(&server, json!([{"id": "107001", "key": "HELPDESK-1"}])).await;

    let ticket = client(&server)
        .create_request(&laptop_request())
        .await
        .unwrap();

    assert_eq!(
        (ticket.issue_key.as_str(), ticket.created),
        ("HELPDESK-1", false)
    );
    assert_eq!(requests(&server).await.len(), 1);
}

/// Three searches without real waiting, as a retry after an interrupted attempt does.
const PATIENT: LabelSearch = LabelSearch {
    searches: 3,
    wait: Duration::from_millis(5),
};

/// The first `empty` searches miss (the index has not caught up), later ones find HELPDESK-1.
async fn index_catches_up_after(server: &MockServer, empty: u64) {
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"issues": [], "isLast": true})),
        )
        .up_to_n_times(empty)
        .with_priority(1)
        .mount(server)
        .await;
    search_returns(server, json!([{"id": "107001", "key": "HELPDESK-1"}])).await;
}

async fn creates_helpdesk_2(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/rest/servicedeskapi/request"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"issueId": "107002", "issueKey": "HELPDESK-2"})),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_request_not_yet_in_the_index_is_found_by_a_later_search_and_not_raised_again() {
    let server = MockServer::start().await;
    index_catches_up_after(&server, 1).await;
    creates_helpdesk_2(&server).await;

    let ticket = client(&server)
        .create_request_with(&laptop_request(), PATIENT)
        .await
        .unwrap();

    assert_eq!(
        (ticket.issue_key.as_str(), ticket.created),
        ("HELPDESK-1", false)
    );
    let calls = calls(&server).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(
        calls
            .iter()
            .all(|c| c.starts_with("GET /rest/api/3/search/jql?"))
    );
}

#[tokio::test]
async fn when_every_search_misses_the_request_is_raised_once_after_the_last_one() {
    let server = MockServer::start().await;
    search_returns(&server, json!([])).await;
    creates_helpdesk_2(&server).await;

    let ticket = client(&server)
        .create_request_with(&laptop_request(), PATIENT)
        .await
        .unwrap();

    assert_eq!(
        (ticket.issue_key.as_str(), ticket.created),
        ("HELPDESK-2", true)
    );
    let methods: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| r.method.to_string())
        .collect();
    assert_eq!(methods, ["GET", "GET", "GET", "POST"]);
}

#[tokio::test]
async fn zero_searches_still_search_once_before_raising() {
    let server = MockServer::start().await;
    search_returns(&server, json!([])).await;
    creates_helpdesk_2(&server).await;
    let none = LabelSearch {
        searches: 0,
        wait: Duration::ZERO,
    };

    client(&server)
        .create_request_with(&laptop_request(), none)
        .await
        .unwrap();

    let methods: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| r.method.to_string())
        .collect();
    assert_eq!(methods, ["GET", "POST"]);
}

#[tokio::test]
async fn a_failing_later_search_stops_without_raising_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"issues": [], "isLast": true})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errorMessages": ["Client must be authenticated to access this resource."], "errors": {}})))
        .with_priority(2)
        .mount(&server)
        .await;
    creates_helpdesk_2(&server).await;

    let err = client(&server)
        .create_request_with(&laptop_request(), PATIENT)
        .await
        .unwrap_err();

    assert_eq!(err.step_error_name(), StepErrorName::Unauthorized);
    assert_clean(&err);
    let calls = calls(&server).await;
    assert!(!calls.iter().any(|c| c.starts_with("POST")), "{calls:?}");
}

#[tokio::test]
async fn jira_errors_map_to_step_error_names() {
    // 401: unauthenticated
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "errorMessages": ["Client must be authenticated to access this resource."], "errors": {}})))
        .mount(&server)
        .await;
    let err = client(&server)
        .create_request(&laptop_request())
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Unauthorized);
    assert!(
        err.to_string().contains("Client must be authenticated"),
        "{err}"
    );
    assert_clean(&err);

    // 400 in the Service Desk shape
    let server = MockServer::start().await;
    search_returns(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path("/rest/servicedeskapi/request"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errorMessage": "The request type you specified does not exist.",
            "i18nErrorMessage": {"i18nKey": "sd.request.type.not.found", "parameters": []}})))
        .mount(&server)
        .await;
    let err = client(&server)
        .create_request(&laptop_request())
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
    assert!(
        err.to_string()
            .contains("request type you specified does not exist"),
        "{err}"
    );

    // 429 that persists
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "5")
                .insert_header("RateLimit-Reason", "jira-burst-based"),
        )
        .mount(&server)
        .await;
    let err = client(&server)
        .create_request(&laptop_request())
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(5)));
    assert_eq!(
        requests(&server).await.len() as u32,
        RetryPolicy::fast().max_attempts
    );
}

#[tokio::test]
async fn a_jira_429_is_waited_out_and_the_request_still_raised_once() {
    let server = MockServer::start().await;
    search_returns(&server, json!([])).await;
    Mock::given(method("POST"))
        .and(path("/rest/servicedeskapi/request"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/servicedeskapi/request"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"issueId": "1", "issueKey": "HELPDESK-2"})),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let ticket = client(&server)
        .create_request(&laptop_request())
        .await
        .unwrap();
    assert_eq!(ticket.issue_key, "HELPDESK-2");
}
