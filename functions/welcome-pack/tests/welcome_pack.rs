//! `welcome-pack` against a local twin of the vendor's order API on 127.0.0.1.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use dayone_core::config::Config;
use dayone_sdk::testing::LogCapture;
use dayone_sdk::{StepContext, StepErrorName};
use serde_json::{Value, json};
use welcome_pack::{WelcomePackInput, handle};

/// Obviously fake; must never appear in a log line or an output.
const API_KEY: &str = "fake-welcome-key-0000";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    RateLimited,
    Down,
}

#[derive(Clone, Default)]
struct Vendor {
    /// Every request as received: (authorization, idempotency key, body).
    requests: Arc<Mutex<Vec<(String, String, Value)>>>,
    /// Orders by idempotency key.
    orders: Arc<Mutex<BTreeMap<String, String>>>,
    mode: Arc<Mutex<Option<Mode>>>,
}

async fn place_order(
    State(v): State<Vendor>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let key = headers
        .get("idempotency-key")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    v.requests
        .lock()
        .unwrap()
        .push((auth.clone(), key.clone(), body));
    match v.mode.lock().unwrap().unwrap_or(Mode::Normal) {
        Mode::RateLimited => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "30")],
                Json(json!({"message": "slow down"})),
            )
                .into_response();
        }
        Mode::Down => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"message": "maintenance"})),
            )
                .into_response();
        }
        Mode::Normal => {}
    }
    if auth != format!("Bearer {API_KEY}") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "bad key"})),
        )
            .into_response();
    }
    let mut orders = v.orders.lock().unwrap();
    if let Some(id) = orders.get(&key) {
        return (
            StatusCode::CONFLICT,
            Json(json!({"orderId": id, "message": "duplicate"})),
        )
            .into_response();
    }
    let id = format!("WP-{}", 1000 + orders.len());
    orders.insert(key, id.clone());
    (StatusCode::CREATED, Json(json!({"orderId": id}))).into_response()
}

async fn vendor() -> (Vendor, String) {
    let state = Vendor::default();
    let app = Router::new()
        .route("/v1/orders", post(place_order))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, addr)
}

fn config(url: &str) -> Config {
    Config::from_toml_str(&format!(
        "[targets]\nwelcome_pack_url = \"{url}\"\nwelcome_pack_sku = \"WELCOME-HOODIE\"\n"
    ))
    .expect("test config is valid")
}

fn ctx(addr: &str, url: &str) -> StepContext {
    StepContext::for_test()
        .execution_id("exec-wp-1")
        .worker_id("21101")
        .secret("welcome_pack_api_key", API_KEY)
        .allow(addr)
        .config(config(url))
        .build()
}

fn input(fixture: &str) -> WelcomePackInput {
    let hire: Value = serde_json::from_str(fixture).unwrap();
    serde_json::from_value(json!({"executionId": "exec-wp-1", "hire": hire})).unwrap()
}

const EMPLOYEE: &str = include_str!("fixtures/employee-london.json");
const REMOTE_INTERN: &str = include_str!("fixtures/remote-intern.json");
const CONTRACTOR: &str = include_str!("fixtures/contractor.json");

#[tokio::test]
async fn an_employee_gets_one_order_with_the_key_and_the_exact_body() {
    // GIVEN the vendor twin and a context allowing only it
    let capture = LogCapture::new();
    let _g = capture.set_default();
    let (vendor, addr) = vendor().await;
    let url = format!("http://{addr}/v1/orders");
    // WHEN the step runs for a London employee
    let out = handle(input(EMPLOYEE), ctx(&addr, &url)).await.unwrap();
    // THEN one order was placed, with the API key as a bearer token and this body
    assert_eq!(out.status, "ordered");
    assert_eq!(out.order_id.as_deref(), Some("WP-1000"));
    assert!(!out.duplicate);
    let requests = vendor.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (auth, key, body) = &requests[0];
    assert_eq!(auth, &format!("Bearer {API_KEY}"));
    assert_eq!(key, "welcome-pack:21101:EVT-2026-11-0101");
    assert_eq!(
        body,
        &json!({
            "orderReference": "welcome-pack:21101:EVT-2026-11-0101",
            "sku": "WELCOME-HOODIE",
            "recipient": {"name": "Kathy Johnson", "email": "kathy.johnson@example.org"},
            "shipTo": {"office": "London", "remote": false, "country": "GB"},
            "deliverBy": "2026-12-07"
        })
    );
    // AND an audit record says so, with the ids and without the key
    let audits = capture.audit_records();
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0]["action"], "welcome_pack.order");
    assert_eq!(audits[0]["outcome"], "success");
    assert_eq!(audits[0]["resource"], "21101");
    assert_eq!(audits[0]["details"]["orderId"], "WP-1000");
    assert_eq!(audits[0]["execution_id"], "exec-wp-1");
    capture.assert_absent(&[API_KEY]);
    assert!(!serde_json::to_string(&out).unwrap().contains(API_KEY));
}

#[tokio::test]
async fn a_rerun_is_a_duplicate_not_a_second_order() {
    let (vendor, addr) = vendor().await;
    let url = format!("http://{addr}/v1/orders");
    let first = handle(input(EMPLOYEE), ctx(&addr, &url)).await.unwrap();
    let second = handle(input(EMPLOYEE), ctx(&addr, &url)).await.unwrap();
    assert_eq!(first.order_id, second.order_id);
    assert!(second.duplicate);
    assert_eq!(vendor.orders.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_remote_hire_is_shipped_via_personal_email() {
    let (vendor, addr) = vendor().await;
    let url = format!("http://{addr}/v1/orders");
    handle(input(REMOTE_INTERN), ctx(&addr, &url))
        .await
        .unwrap();
    let body = vendor.requests.lock().unwrap()[0].2.clone();
    assert_eq!(
        body["shipTo"],
        json!({"office": null, "remote": true, "country": "IE"})
    );
    assert_eq!(body["recipient"]["name"], "Siobhán Ní Bhriain");
}

#[tokio::test]
async fn a_remote_hire_without_personal_email_is_an_invalid_hire() {
    let (vendor, addr) = vendor().await;
    let url = format!("http://{addr}/v1/orders");
    let mut hire: Value = serde_json::from_str(REMOTE_INTERN).unwrap();
    hire.as_object_mut().unwrap().remove("personalEmail");
    let input = serde_json::from_value(json!({"hire": hire})).unwrap();
    let err = handle(input, ctx(&addr, &url)).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::InvalidHire);
    assert!(err.message.contains("personalEmail"), "{}", err.message);
    assert!(vendor.requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn contractors_are_skipped_without_a_call() {
    let capture = LogCapture::new();
    let _g = capture.set_default();
    let (vendor, addr) = vendor().await;
    let url = format!("http://{addr}/v1/orders");
    let out = handle(input(CONTRACTOR), ctx(&addr, &url)).await.unwrap();
    assert_eq!(out.status, "skipped");
    assert_eq!(out.reason.as_deref(), Some("contractor"));
    assert!(vendor.requests.lock().unwrap().is_empty());
    assert_eq!(capture.audit_records()[0]["outcome"], "skipped");
}

#[tokio::test]
async fn a_vendor_host_outside_the_allowlist_is_denied_and_never_contacted() {
    // GIVEN the vendor is up, but the function's allowlist names another host
    let capture = LogCapture::new();
    let _g = capture.set_default();
    let (vendor, addr) = vendor().await;
    let url = format!("http://{addr}/v1/orders");
    let ctx = StepContext::for_test()
        .secret("welcome_pack_api_key", API_KEY)
        .allow("orders.welcomepacks.example")
        .config(config(&url))
        .build();
    // WHEN the step runs
    let err = handle(input(EMPLOYEE), ctx).await.unwrap_err();
    // THEN Dayone.EgressDenied, the vendor saw nothing, and the audit says denied
    assert_eq!(err.name, StepErrorName::EgressDenied);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(vendor.requests.lock().unwrap().is_empty());
    assert_eq!(capture.audit_records()[0]["outcome"], "denied");
    capture.assert_absent(&[API_KEY]);
}

#[tokio::test]
async fn vendor_errors_map_to_step_error_names() {
    let (vendor, addr) = vendor().await;
    let url = format!("http://{addr}/v1/orders");

    *vendor.mode.lock().unwrap() = Some(Mode::RateLimited);
    let err = handle(input(EMPLOYEE), ctx(&addr, &url)).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Throttled);
    assert_eq!(err.retry_after, Some(Duration::from_secs(30)));

    *vendor.mode.lock().unwrap() = Some(Mode::Down);
    let err = handle(input(EMPLOYEE), ctx(&addr, &url)).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable);
    assert!(err.message.contains("maintenance"));

    *vendor.mode.lock().unwrap() = Some(Mode::Normal);
    let wrong_key = StepContext::for_test()
        .secret("welcome_pack_api_key", "fake-rotated-away")
        .allow(addr.clone())
        .config(config(&url))
        .build();
    let err = handle(input(EMPLOYEE), wrong_key).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Unauthorized);
    assert!(!err.message.contains("fake-rotated-away"));
}

#[tokio::test]
async fn missing_settings_are_misconfigured() {
    let (_vendor, addr) = vendor().await;
    let url = format!("http://{addr}/v1/orders");
    // no API key secret
    let no_secret = StepContext::for_test()
        .allow(addr.clone())
        .config(config(&url))
        .build();
    let err = handle(input(EMPLOYEE), no_secret).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured);
    assert!(err.message.contains("welcome_pack_api_key"));
    // no endpoint
    let no_url = StepContext::for_test()
        .secret("welcome_pack_api_key", API_KEY)
        .allow(addr)
        .build();
    let err = handle(input(EMPLOYEE), no_url).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured);
    assert!(err.message.contains("welcome_pack_url"));
}

#[tokio::test]
async fn a_malformed_hire_is_an_invalid_hire() {
    let (_vendor, addr) = vendor().await;
    let url = format!("http://{addr}/v1/orders");
    let input = serde_json::from_value(json!({"hire": {"workerId": "1"}})).unwrap();
    let err = handle(input, ctx(&addr, &url)).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::InvalidHire);
}
