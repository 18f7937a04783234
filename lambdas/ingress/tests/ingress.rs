//! The ingress contract of DESIGN.md, exercised through the handler with an in-memory
//! starter that keeps Step Functions' rule: one execution per name.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use dayone_sdk::secrets::StaticSecrets;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use ingress::{Authenticator, InMemoryStarter, Ingress, sign};
use serde_json::{Value, json};

const KEY: &str = "fake-hmac-key-not-a-real-secret";
const BASIC: &str = "workday-isu:fake-password-for-tests";
const HIRE: &str = include_str!("fixtures/hire.json");

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap()
}

fn ingress_with(starter: Arc<InMemoryStarter>, basic: bool) -> Ingress<Arc<InMemoryStarter>> {
    let store = StaticSecrets::new()
        .with("webhook", KEY)
        .with("basic", BASIC);
    let auth = Authenticator::new(
        Arc::new(store),
        Some("webhook".into()),
        basic.then(|| "basic".to_string()),
    )
    .unwrap();
    Ingress::new(starter, auth)
}

fn ingress() -> Ingress<Arc<InMemoryStarter>> {
    ingress_with(Arc::new(InMemoryStarter::new()), false)
}

/// Headers of a Workday delivery signed with `key` at `ts`.
fn signed(body: &str, key: &str, ts: i64) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("X-Dayone-Timestamp", ts.to_string().parse().unwrap());
    h.insert(
        "X-Dayone-Signature",
        sign(key, ts, body.as_bytes()).parse().unwrap(),
    );
    h
}

fn body_json(resp: &http::Response<String>) -> Value {
    serde_json::from_str(resp.body()).expect("responses are JSON")
}

async fn post(
    ing: &Ingress<Arc<InMemoryStarter>>,
    headers: &HeaderMap,
    body: &str,
) -> http::Response<String> {
    ing.handle_at(headers, body.as_bytes(), now()).await
}

#[tokio::test]
async fn a_signed_hire_starts_one_execution_and_gets_202() {
    // GIVEN a correctly signed delivery
    let ing = ingress();
    let resp = post(&ing, &signed(HIRE, KEY, now().timestamp()), HIRE).await;
    // THEN it is accepted and names the new execution
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let out = body_json(&resp);
    assert_eq!(out["duplicate"], json!(false));
    let arn = out["executionArn"].as_str().unwrap();
    assert!(
        arn.contains(":execution:joiner:w21044-eEVT-2026-0417-000123-"),
        "{arn}"
    );
    assert_eq!(ing.starter().started(), 1);
}

#[tokio::test]
async fn the_execution_receives_the_normalised_hire_and_the_delivery() {
    let ing = ingress();
    let resp = post(&ing, &signed(HIRE, KEY, now().timestamp()), HIRE).await;
    let name = ingress::execution_name("21044", "EVT-2026-0417-000123");
    let input = ing
        .starter()
        .input_of(&name)
        .expect("started under the deterministic name");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(input["hire"]["workerId"], json!("21044"));
    assert_eq!(input["hire"]["legalName"]["first"], json!("Priya"));
    assert_eq!(input["hire"]["country"], json!("GB"));
    // Fields dayone does not know never enter the workflow.
    assert!(input["hire"].get("wd:Business_Process_Reference").is_none());
    assert_eq!(
        input["delivery"]["receivedAt"],
        json!("2026-11-26T12:00:00.000Z")
    );
    assert!(
        input["delivery"]["id"]
            .as_str()
            .is_some_and(|s| s.len() == 36)
    );
}

#[tokio::test]
async fn the_same_event_delivered_again_is_a_duplicate_of_the_same_execution() {
    let ing = ingress();
    let first = post(&ing, &signed(HIRE, KEY, now().timestamp()), HIRE).await;
    // WHEN Workday resends the event a minute later (new signature, same event)
    let again = ing
        .handle_at(
            &signed(HIRE, KEY, now().timestamp() + 60),
            HIRE.as_bytes(),
            now() + chrono::Duration::seconds(60),
        )
        .await;
    // THEN 200 duplicate with the first execution's ARN, and still one execution
    assert_eq!(again.status(), StatusCode::OK);
    let out = body_json(&again);
    assert_eq!(out["duplicate"], json!(true));
    assert_eq!(out["executionArn"], body_json(&first)["executionArn"]);
    assert_eq!(ing.starter().started(), 1);
}

#[tokio::test]
async fn a_different_event_for_the_same_worker_is_a_new_execution() {
    let ing = ingress();
    post(&ing, &signed(HIRE, KEY, now().timestamp()), HIRE).await;
    let rehire = HIRE.replace("EVT-2026-0417-000123", "EVT-2027-0101-000009");
    let resp = post(&ing, &signed(&rehire, KEY, now().timestamp()), &rehire).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert_eq!(ing.starter().started(), 2);
}

#[tokio::test]
async fn a_bad_signature_gets_401_without_detail_and_starts_nothing() {
    let ing = ingress();
    let resp = post(
        &ing,
        &signed(HIRE, "some-other-key", now().timestamp()),
        HIRE,
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(body_json(&resp), json!({"error": "unauthorized"}));
    assert_eq!(ing.starter().started(), 0);
}

#[tokio::test]
async fn a_body_changed_after_signing_gets_401() {
    let ing = ingress();
    let headers = signed(HIRE, KEY, now().timestamp());
    let tampered = HIRE.replace("Engineering", "Finance");
    let resp = post(&ing, &headers, &tampered).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(ing.starter().started(), 0);
}

#[tokio::test]
async fn a_stale_timestamp_gets_401_even_with_a_valid_signature() {
    let ing = ingress();
    let six_minutes_ago = now().timestamp() - 360;
    let resp = post(&ing, &signed(HIRE, KEY, six_minutes_ago), HIRE).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(ing.starter().started(), 0);
}

#[tokio::test]
async fn no_credentials_at_all_gets_401() {
    let ing = ingress();
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let resp = post(&ing, &h, HIRE).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // HMAC-only ingress does not invite Basic credentials.
    assert!(resp.headers().get(header::WWW_AUTHENTICATE).is_none());
}

fn basic_headers(credentials: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let token = base64::engine::general_purpose::STANDARD.encode(credentials);
    h.insert(
        header::AUTHORIZATION,
        format!("Basic {token}").parse().unwrap(),
    );
    h
}

#[tokio::test]
async fn workday_basic_credentials_are_accepted_when_configured() {
    let ing = ingress_with(Arc::new(InMemoryStarter::new()), true);
    let resp = post(&ing, &basic_headers(BASIC), HIRE).await;
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn wrong_basic_credentials_get_401_with_a_basic_challenge() {
    let ing = ingress_with(Arc::new(InMemoryStarter::new()), true);
    for wrong in [
        "workday-isu:guess",
        "someone:fake-password-for-tests",
        "no-colon",
    ] {
        let resp = post(&ing, &basic_headers(wrong), HIRE).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{wrong}");
        assert_eq!(
            resp.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"dayone\""
        );
    }
    assert_eq!(ing.starter().started(), 0);
}

#[tokio::test]
async fn basic_credentials_are_refused_where_only_hmac_is_configured() {
    let ing = ingress();
    let resp = post(&ing, &basic_headers(BASIC), HIRE).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_oversize_body_gets_413_before_anything_else() {
    let ing = ingress();
    let padding = "x".repeat(70 * 1024);
    let big = HIRE.replacen('{', &format!("{{\"padding\":\"{padding}\","), 1);
    // Not even signed: size is checked first.
    let resp = post(&ing, &HeaderMap::new(), &big).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body_json(&resp)["limitBytes"], json!(65536));
}

#[tokio::test]
async fn a_configured_smaller_limit_is_enforced() {
    let ing = ingress().with_max_body_bytes(100);
    let resp = post(&ing, &signed(HIRE, KEY, now().timestamp()), HIRE).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn malformed_json_gets_400_with_a_field_error() {
    let ing = ingress();
    let body = "{\"eventId\": \"E1\", ";
    let resp = post(&ing, &signed(body, KEY, now().timestamp()), body).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let out = body_json(&resp);
    assert_eq!(out["error"], json!("invalid_hire"));
    assert_eq!(out["fields"][0]["field"], json!("body"));
    assert!(
        out["fields"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );
}

#[tokio::test]
async fn missing_and_wrong_fields_are_all_reported_at_once() {
    let ing = ingress();
    let mut hire: Value = serde_json::from_str(HIRE).unwrap();
    let obj = hire.as_object_mut().unwrap();
    obj.remove("workerId");
    obj.remove("department");
    obj.insert("hireDate".into(), json!("07/12/2026"));
    let body = hire.to_string();
    let resp = post(&ing, &signed(&body, KEY, now().timestamp()), &body).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let out = body_json(&resp);
    assert_eq!(out["error"], json!("invalid_hire"));
    let fields: Vec<&str> = out["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for expected in ["workerId", "department", "hireDate"] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert!(
        out["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !f["problem"].as_str().unwrap().is_empty())
    );
    assert_eq!(ing.starter().started(), 0);
}

#[tokio::test]
async fn a_json_array_is_not_a_hire() {
    let ing = ingress();
    let body = "[1,2,3]";
    let resp = post(&ing, &signed(body, KEY, now().timestamp()), body).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(&resp)["fields"][0]["field"], json!("body"));
}

#[tokio::test]
async fn a_non_json_content_type_gets_415() {
    let ing = ingress();
    let mut h = signed(HIRE, KEY, now().timestamp());
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let resp = post(&ing, &h, HIRE).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    h.remove(header::CONTENT_TYPE);
    let resp = post(&ing, &h, HIRE).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(ing.starter().started(), 0);
}

#[tokio::test]
async fn a_throttled_engine_gets_503_with_retry_after_and_the_retry_succeeds() {
    let starter = Arc::new(InMemoryStarter::new());
    starter.throttle_next(1);
    let ing = ingress_with(starter, false);
    let resp = post(&ing, &signed(HIRE, KEY, now().timestamp()), HIRE).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(resp.headers()[header::RETRY_AFTER], "5");
    assert_eq!(ing.starter().started(), 0);
    // WHEN the sender retries, as Retry-After asks
    let retry = post(&ing, &signed(HIRE, KEY, now().timestamp()), HIRE).await;
    assert_eq!(retry.status(), StatusCode::ACCEPTED);
    assert_eq!(ing.starter().started(), 1);
}

#[tokio::test]
async fn an_unreadable_secret_is_503_not_401() {
    // GIVEN a deployed ingress whose secret is missing from the store
    let auth =
        Authenticator::new(Arc::new(StaticSecrets::new()), Some("webhook".into()), None).unwrap();
    let ing = Ingress::new(Arc::new(InMemoryStarter::new()), auth);
    let resp = ing
        .handle_at(
            &signed(HIRE, KEY, now().timestamp()),
            HIRE.as_bytes(),
            now(),
        )
        .await;
    // THEN the sender is told to retry, not that its credentials are wrong
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(!resp.body().contains(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_identical_deliveries_start_exactly_one_execution() {
    let ing = Arc::new(ingress());
    let headers = signed(HIRE, KEY, now().timestamp());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let ing = ing.clone();
            let headers = headers.clone();
            tokio::spawn(async move { ing.handle_at(&headers, HIRE.as_bytes(), now()).await })
        })
        .collect();
    let responses: Vec<_> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let accepted = responses
        .iter()
        .filter(|r| r.status() == StatusCode::ACCEPTED)
        .count();
    let duplicates = responses
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert_eq!((accepted, duplicates), (1, 99));
    let arns: std::collections::HashSet<String> = responses
        .iter()
        .map(|r| body_json(r)["executionArn"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(arns.len(), 1, "every delivery points at the one execution");
    assert_eq!(ing.starter().started(), 1);
}

#[tokio::test]
async fn no_response_ever_echoes_a_secret() {
    let ing = ingress_with(Arc::new(InMemoryStarter::new()), true);
    let cases = [
        post(&ing, &signed(HIRE, "wrong", now().timestamp()), HIRE).await,
        post(&ing, &basic_headers("workday-isu:guess"), HIRE).await,
        post(&ing, &signed("{", KEY, now().timestamp()), "{").await,
        post(&ing, &signed(HIRE, KEY, now().timestamp()), HIRE).await,
    ];
    for resp in cases {
        assert!(
            !resp.body().contains(KEY) && !resp.body().contains("fake-password"),
            "{}",
            resp.body()
        );
    }
}

#[tokio::test]
async fn the_lambda_entry_reads_an_api_gateway_http_api_event() {
    // GIVEN an API Gateway HTTP API (payload v2) event as lambda_http receives it, signed
    // in 2020 (the Lambda entry uses the real clock, so this signature is stale)
    let ts = 1_600_000_000i64;
    let event = json!({
        "version": "2.0",
        "routeKey": "POST /hires",
        "rawPath": "/hires",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "x-dayone-timestamp": ts.to_string(),
            "x-dayone-signature": sign(KEY, ts, HIRE.as_bytes()),
        },
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "abc123", "http": {"method": "POST", "path": "/hires", "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.7", "userAgent": "Workday"}, "requestId": "req-1", "routeKey": "POST /hires",
            "stage": "$default", "time": "26/Nov/2026:12:00:00 +0000", "timeEpoch": 1_600_000_000_000i64
        },
        "body": base64::engine::general_purpose::STANDARD.encode(HIRE),
        "isBase64Encoded": true
    });
    let req = lambda_http::request::from_str(&event.to_string()).expect("a valid HTTP API event");
    let ing = ingress();
    let resp = ing.lambda(req).await.unwrap();
    // THEN the stale signature is refused …
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // … and a fresh signature over the same base64-encoded body is accepted, so headers and
    // the decoded body reach the handler intact.
    let ts = Utc::now().timestamp();
    let mut event = event;
    event["headers"]["x-dayone-timestamp"] = json!(ts.to_string());
    event["headers"]["x-dayone-signature"] = json!(sign(KEY, ts, HIRE.as_bytes()));
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let resp = ing.lambda(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
}
