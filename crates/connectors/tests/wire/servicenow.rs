use std::time::Duration;

use dayone_connectors::servicenow::PlacedOrder;
use dayone_connectors::{
    CatalogOrder, RetryPolicy, ServiceNowAuth, ServiceNowClient, ServiceNowSettings,
};
use dayone_core::step_error::StepErrorName;
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

fn basic(server: &MockServer) -> ServiceNowClient {
    ServiceNowClient::new(
        http(),
        secrets(),
        ServiceNowSettings {
            base_url: server.uri(),
            auth: ServiceNowAuth::Basic {
                username: "dayone.integration".into(),
                password_secret_name: "snow-password".into(),
            },
            correlation_display: "dayone".into(),
        },
    )
    .with_retry_policy(RetryPolicy::fast())
}

fn laptop_fields() -> Map<String, Value> {
    json!({"short_description": "Laptop for Ada Lovelace (starts 2026-04-01)", "caller_id": "6816f79cc0a8016401c5a33be04be441"})
        .as_object()
        .unwrap()
        .clone()
}

const CID: &str = "dayone:evt-1:hardware";

async fn nothing_correlated(server: &MockServer, table: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/api/now/table/{table}")))
        .and(query_param(
            "sysparm_query",
            format!("correlation_id={CID}"),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": []})))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_table_record_is_queried_by_correlation_id_then_created_with_basic_auth() {
    let server = MockServer::start().await;
    nothing_correlated(&server, "sc_task").await;
    Mock::given(method("POST"))
        .and(path("/api/now/table/sc_task"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"result": {"sys_id": "t-1", "number": "SCTASK0010001"}})),
        )
        .mount(&server)
        .await;

    let ticket = basic(&server)
        .create_record("sc_task", CID, &laptop_fields())
        .await
        .unwrap();

    assert_eq!(
        (ticket.number.as_str(), ticket.created),
        ("SCTASK0010001", true)
    );
    let reqs = requests(&server).await;
    assert_eq!(
        reqs[0].url.query(),
        Some(
            "sysparm_query=correlation_id%3Ddayone%3Aevt-1%3Ahardware&sysparm_fields=sys_id,number&sysparm_limit=1"
        )
    );
    // base64("dayone.integration:FAKE-snow-password")
    assert_eq!(
        header(&reqs[0], "authorization").as_deref(),
        Some("Basic ZGF5b25lLmludGVncmF0aW9uOkZBS0Utc25vdy1wYXNzd29yZA==")
    );
    assert_eq!(
        header(&reqs[1], "accept").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        header(&reqs[1], "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        reqs[1].url.query(),
        Some("sysparm_fields=sys_id,number&sysparm_input_display_value=false")
    );
    assert_eq!(
        body_text(&reqs[1]),
        json!({"short_description": "Laptop for Ada Lovelace (starts 2026-04-01)",
               "caller_id": "6816f79cc0a8016401c5a33be04be441",
               "correlation_id": CID, "correlation_display": "dayone"})
        .to_string()
    );
}

#[tokio::test]
async fn a_record_already_holding_the_correlation_id_is_returned_without_creating() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/sc_task"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"result": [{"sys_id": "t-1", "number": "SCTASK0010001"}]})),
        )
        .mount(&server)
        .await;

    let ticket = basic(&server)
        .create_record("sc_task", CID, &laptop_fields())
        .await
        .unwrap();

    assert_eq!((ticket.sys_id.as_str(), ticket.created), ("t-1", false));
    assert_eq!(requests(&server).await.len(), 1, "no second ticket");
}

#[tokio::test]
async fn a_catalog_order_with_two_step_checkout_is_submitted_found_and_marked() {
    let server = MockServer::start().await;
    nothing_correlated(&server, "sc_req_item").await;
    Mock::given(method("POST"))
        .and(path("/api/sn_sc/servicecatalog/items/cat-laptop/order_now"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"result": {"cart_id": "cart-9"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/sn_sc/servicecatalog/cart/submit_order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": {
            "sys_id": "req-1", "number": "REQ0010002", "request_number": "REQ0010002",
            "request_id": "req-1", "table": "sc_request"}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/sc_req_item"))
        .and(query_param("sysparm_query", "request=req-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"result": [{"sys_id": "ritm-1", "number": "RITM0010003"}]})),
        )
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/api/now/table/sc_req_item/ritm-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"result": {"sys_id": "ritm-1", "number": "RITM0010003"}})),
        )
        .mount(&server)
        .await;
    let order = CatalogOrder {
        quantity: 1,
        variables: json!({"hardware_profile": "engineering-laptop", "start_date": "2026-04-01"})
            .as_object()
            .unwrap()
            .clone(),
        requested_for: Some("6816f79cc0a8016401c5a33be04be441".into()),
    };

    let placed = basic(&server)
        .order_catalog_item("cat-laptop", CID, &order)
        .await
        .unwrap();

    assert_eq!(placed.request_number.as_deref(), Some("REQ0010002"));
    assert_eq!(
        (placed.item.number.as_str(), placed.item.created),
        ("RITM0010003", true)
    );
    let reqs = requests(&server).await;
    assert_eq!(
        calls(&server)
            .await
            .iter()
            .map(|c| c.split('?').next().unwrap().to_string())
            .collect::<Vec<_>>(),
        [
            "GET /api/now/table/sc_req_item",
            "POST /api/sn_sc/servicecatalog/items/cat-laptop/order_now",
            "POST /api/sn_sc/servicecatalog/cart/submit_order",
            "GET /api/now/table/sc_req_item",
            "PATCH /api/now/table/sc_req_item/ritm-1",
        ]
    );
    assert_eq!(
        body_text(&reqs[1]),
        json!({"sysparm_quantity": "1",
               "variables": {"hardware_profile": "engineering-laptop", "start_date": "2026-04-01"},
               "sysparm_requested_for": "6816f79cc0a8016401c5a33be04be441"})
        .to_string()
    );
    assert_eq!(
        reqs[3].url.query(),
        Some(
            "sysparm_query=request%3Dreq-1&sysparm_fields=sys_id,number,correlation_id&sysparm_limit=1"
        )
    );
    assert_eq!(
        body_text(&reqs[4]),
        json!({"correlation_id": CID, "correlation_display": "dayone"}).to_string()
    );
}

#[tokio::test]
async fn a_catalog_order_already_marked_is_not_ordered_again() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/sc_req_item"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": [
            {"sys_id": "ritm-1", "number": "RITM0010003",
             "request": {"link": "https://x/api/now/table/sc_request/req-1", "value": "req-1"}}]})))
        .mount(&server)
        .await;
    let order = CatalogOrder {
        quantity: 1,
        variables: Map::new(),
        requested_for: None,
    };

    let placed = basic(&server)
        .order_catalog_item("cat-laptop", CID, &order)
        .await
        .unwrap();

    assert!(!placed.item.created);
    assert_eq!(placed.request_sys_id.as_deref(), Some("req-1"));
    assert_eq!(requests(&server).await.len(), 1);
}

fn laptop_order() -> CatalogOrder {
    CatalogOrder {
        quantity: 1,
        variables: json!({"hardware_profile": "engineering-laptop"})
            .as_object()
            .unwrap()
            .clone(),
        requested_for: None,
    }
}

fn placed_req_1() -> PlacedOrder {
    PlacedOrder {
        request_sys_id: "req-1".into(),
        request_number: Some("REQ0010002".into()),
    }
}

/// `GET sc_req_item?sysparm_query=request=req-1` answers `rows`.
async fn items_of_req_1(server: &MockServer, rows: Value) {
    Mock::given(method("GET"))
        .and(path("/api/now/table/sc_req_item"))
        .and(query_param("sysparm_query", "request=req-1"))
        .and(query_param(
            "sysparm_fields",
            "sys_id,number,correlation_id",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": rows})))
        .mount(server)
        .await;
}

async fn patch_ritm_1(server: &MockServer, status: u16) {
    Mock::given(method("PATCH"))
        .and(path("/api/now/table/sc_req_item/ritm-1"))
        .and(query_param("sysparm_fields", "sys_id,number"))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_json(json!({"result": {"sys_id": "ritm-1", "number": "RITM0010003"}})),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn placing_a_catalog_order_orders_once_without_lookup_or_mark() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sn_sc/servicecatalog/items/cat-laptop/order_now"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": {
            "sys_id": "req-1", "number": "REQ0010002", "request_number": "REQ0010002",
            "request_id": "req-1", "table": "sc_request"}})))
        .mount(&server)
        .await;

    let placed = basic(&server)
        .place_catalog_order("cat-laptop", &laptop_order())
        .await
        .unwrap();

    assert_eq!(placed, placed_req_1());
    assert_eq!(
        calls(&server).await,
        ["POST /api/sn_sc/servicecatalog/items/cat-laptop/order_now"]
    );
    let reqs = requests(&server).await;
    assert_eq!(
        body_text(&reqs[0]),
        json!({"sysparm_quantity": "1", "variables": {"hardware_profile": "engineering-laptop"}})
            .to_string()
    );
}

#[tokio::test]
async fn an_order_response_naming_no_request_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sn_sc/servicecatalog/items/cat-laptop/order_now"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": {}})))
        .mount(&server)
        .await;

    let err = basic(&server)
        .place_catalog_order("cat-laptop", &laptop_order())
        .await
        .unwrap_err();

    assert_eq!(err.step_error_name(), StepErrorName::Retryable);
    assert!(err.to_string().contains("named no request"), "{err}");
}

#[tokio::test]
async fn an_unknown_catalog_item_is_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/sn_sc/servicecatalog/items/cat-gone/order_now"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error": {"message": "No Record found",
                      "detail": "Catalog item cat-gone does not exist or is not available"},
            "status": "failure"})))
        .mount(&server)
        .await;

    let err = basic(&server)
        .place_catalog_order("cat-gone", &laptop_order())
        .await
        .unwrap_err();

    assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
    assert!(err.to_string().contains("cat-gone does not exist"), "{err}");
    assert_clean(&err);
}

#[tokio::test]
async fn finishing_a_placed_order_finds_its_item_and_marks_it() {
    let server = MockServer::start().await;
    items_of_req_1(
        &server,
        json!([{"sys_id": "ritm-1", "number": "RITM0010003", "correlation_id": ""}]),
    )
    .await;
    patch_ritm_1(&server, 200).await;

    let done = basic(&server)
        .finish_catalog_order(CID, &placed_req_1())
        .await
        .unwrap();

    assert_eq!(done.request_sys_id.as_deref(), Some("req-1"));
    assert_eq!(done.request_number.as_deref(), Some("REQ0010002"));
    assert_eq!(
        (done.item.number.as_str(), done.item.created),
        ("RITM0010003", true)
    );
    assert_eq!(
        calls(&server).await,
        [
            "GET /api/now/table/sc_req_item?sysparm_query=request%3Dreq-1&sysparm_fields=sys_id,number,correlation_id&sysparm_limit=1",
            "PATCH /api/now/table/sc_req_item/ritm-1?sysparm_fields=sys_id,number",
        ]
    );
    assert_eq!(
        body_text(&requests(&server).await[1]),
        json!({"correlation_id": CID, "correlation_display": "dayone"}).to_string()
    );
}

#[tokio::test]
async fn finishing_skips_the_patch_when_the_item_is_already_marked() {
    // An earlier attempt's PATCH landed, then the attempt died before it could say so.
    let server = MockServer::start().await;
    items_of_req_1(
        &server,
        json!([{"sys_id": "ritm-1", "number": "RITM0010003", "correlation_id": CID}]),
    )
    .await;
    patch_ritm_1(&server, 200).await;

    let done = basic(&server)
        .finish_catalog_order(CID, &placed_req_1())
        .await
        .unwrap();

    assert_eq!(done.item.number, "RITM0010003");
    assert_eq!(
        calls(&server).await,
        [
            "GET /api/now/table/sc_req_item?sysparm_query=request%3Dreq-1&sysparm_fields=sys_id,number,correlation_id&sysparm_limit=1"
        ],
        "no PATCH"
    );
}

#[tokio::test]
async fn an_item_marked_for_another_correlation_id_is_marked_for_this_one() {
    let server = MockServer::start().await;
    items_of_req_1(
        &server,
        json!([{"sys_id": "ritm-1", "number": "RITM0010003", "correlation_id": "dayone:evt-0:hardware"}]),
    )
    .await;
    patch_ritm_1(&server, 200).await;

    basic(&server)
        .finish_catalog_order(CID, &placed_req_1())
        .await
        .unwrap();

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        body_text(&reqs[1]),
        json!({"correlation_id": CID, "correlation_display": "dayone"}).to_string()
    );
}

#[tokio::test]
async fn a_request_whose_item_is_not_visible_yet_is_retryable_and_names_the_request() {
    let server = MockServer::start().await;
    items_of_req_1(&server, json!([])).await;

    let err = basic(&server)
        .finish_catalog_order(CID, &placed_req_1())
        .await
        .unwrap_err();

    assert_eq!(err.step_error_name(), StepErrorName::Retryable);
    assert!(
        err.to_string()
            .contains("request req-1 has no requested item yet"),
        "{err}"
    );
    let reqs = requests(&server).await;
    assert!(reqs.len() > 1, "the empty answer was asked again");
    assert!(reqs.iter().all(|r| r.method.as_str() == "GET"), "no PATCH");
}

#[tokio::test]
async fn a_failed_mark_is_retryable_so_the_caller_can_finish_later() {
    let server = MockServer::start().await;
    items_of_req_1(
        &server,
        json!([{"sys_id": "ritm-1", "number": "RITM0010003", "correlation_id": ""}]),
    )
    .await;
    Mock::given(method("PATCH"))
        .and(path("/api/now/table/sc_req_item/ritm-1"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "error": {"message": "Internal Server Error", "detail": null}, "status": "failure"})))
        .mount(&server)
        .await;

    let err = basic(&server)
        .finish_catalog_order(CID, &placed_req_1())
        .await
        .unwrap_err();

    assert_eq!(err.step_error_name(), StepErrorName::Retryable, "{err}");
    assert_clean(&err);
}

#[tokio::test]
async fn finishing_refuses_a_correlation_id_that_could_inject_query_conditions() {
    let server = MockServer::start().await;

    let err = basic(&server)
        .finish_catalog_order("x^active=false", &placed_req_1())
        .await
        .unwrap_err();

    assert_eq!(err.step_error_name(), StepErrorName::Misconfigured);
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn oauth_password_grant_is_sent_once_and_its_token_reused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth_token.do"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SNOW_TOKEN, "refresh_token": "FAKE-refresh", "scope": "useraccount",
            "token_type": "Bearer", "expires_in": 1799})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/incident"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": []})))
        .mount(&server)
        .await;
    let client = ServiceNowClient::new(
        http(),
        secrets(),
        ServiceNowSettings {
            base_url: server.uri(),
            auth: ServiceNowAuth::OAuthPassword {
                client_id: "snow-client".into(),
                client_secret_name: "snow-client-secret".into(),
                username: "dayone.integration".into(),
                password_secret_name: "snow-password".into(),
            },
            correlation_display: "dayone".into(),
        },
    );

    for _ in 0..3 {
        assert!(
            client
                .find_by_correlation_id("incident", CID)
                .await
                .unwrap()
                .is_none()
        );
    }

    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 4, "one token request for three calls");
    assert_eq!(
        header(&reqs[0], "content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        body_text(&reqs[0]),
        "grant_type=password&client_id=snow-client&client_secret=FAKE-snow-client-secret\
         &username=dayone.integration&password=FAKE-snow-password"
    );
    assert_eq!(
        header(&reqs[3], "authorization").as_deref(),
        Some("Bearer FAKE-snow-access-token")
    );
    assert_eq!(client.token_cache_stats().hits, 2);
}

#[tokio::test]
async fn servicenow_errors_map_to_step_error_names() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/sc_task"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error": {"message": "User Not Authorized", "detail": "Failed API level ACL Validation"},
            "status": "failure"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/incident"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"message": "User is not authenticated", "detail": "Required to provide Auth information"},
            "status": "failure"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/no_such_table"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": {"message": "Invalid table no_such_table", "detail": null}, "status": "failure"})))
        .mount(&server)
        .await;
    let client = basic(&server);

    let acl = client
        .find_by_correlation_id("sc_task", CID)
        .await
        .unwrap_err();
    assert_eq!(acl.step_error_name(), StepErrorName::Unauthorized);
    assert!(
        acl.to_string().contains("Failed API level ACL Validation"),
        "{acl}"
    );
    let unauthenticated = client
        .find_by_correlation_id("incident", CID)
        .await
        .unwrap_err();
    assert_eq!(
        unauthenticated.step_error_name(),
        StepErrorName::Unauthorized
    );
    assert_clean(&unauthenticated);
    let bad = client
        .find_by_correlation_id("no_such_table", CID)
        .await
        .unwrap_err();
    assert_eq!(bad.step_error_name(), StepErrorName::TargetRejected);
    assert_eq!(bad.code(), Some("Invalid table no_such_table"));
}

#[tokio::test]
async fn servicenow_rate_limits_are_honoured_then_surfaced() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/sc_task"))
        .respond_with(ResponseTemplate::new(429)
            .insert_header("Retry-After", "1")
            .insert_header("X-RateLimit-Rule", "dayone-rule")
            .set_body_json(json!({"error": {"message": "Rate limit exceeded", "detail": null}, "status": "failure"})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/sc_task"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": []})))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/incident"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .mount(&server)
        .await;
    let client = basic(&server);

    assert!(
        client
            .find_by_correlation_id("sc_task", CID)
            .await
            .unwrap()
            .is_none()
    );
    let err = client
        .find_by_correlation_id("incident", CID)
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
}
