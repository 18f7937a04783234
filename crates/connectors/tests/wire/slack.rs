use std::time::Duration;

use dayone_connectors::{RetryPolicy, SlackClient, SlackSettings};
use dayone_core::step_error::StepErrorName;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

fn client(server: &MockServer) -> SlackClient {
    SlackClient::new(
        http(),
        secrets(),
        SlackSettings {
            base_url: format!("{}/api", server.uri()),
            token_secret_name: "slack-bot-token".into(),
        },
    )
    .with_retry_policy(RetryPolicy::fast())
}

async fn ok(server: &MockServer, api: &str, body: serde_json::Value) {
    Mock::given(method("POST"))
        .and(path(format!("/api/{api}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_dm_is_lookup_open_post_with_the_documented_requests() {
    let server = MockServer::start().await;
    ok(
        &server,
        "users.lookupByEmail",
        json!({"ok": true, "user": {"id": "U069C7QF3", "name": "grace"}}),
    )
    .await;
    ok(
        &server,
        "conversations.open",
        json!({"ok": true, "no_op": true, "already_open": true, "channel": {"id": "D069C7QFK"}}),
    )
    .await;
    ok(
        &server,
        "chat.postMessage",
        json!({"ok": true, "channel": "D069C7QFK", "ts": "1503435956.000247", "message": {}}),
    )
    .await;

    let posted = client(&server)
        .send_dm_by_email(
            "grace+it@contoso.example",
            &format!("TAP for Ada: {TAP_VALUE}"),
            None,
        )
        .await
        .unwrap();

    assert_eq!(
        (posted.channel.as_str(), posted.ts.as_str()),
        ("D069C7QFK", "1503435956.000247")
    );
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].url.path(), "/api/users.lookupByEmail");
    assert_eq!(
        reqs[0].url.query(),
        Some("email=grace%2Bit%40contoso.example")
    );
    for r in &reqs {
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(
            header(r, "authorization").as_deref(),
            Some("Bearer xoxb-FAKE-slack-bot-token")
        );
    }
    assert_eq!(
        header(&reqs[1], "content-type").as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(body_text(&reqs[1]), r#"{"users":"U069C7QF3"}"#);
    assert_eq!(
        body_text(&reqs[2]),
        json!({"channel": "D069C7QFK", "text": format!("TAP for Ada: {TAP_VALUE}")}).to_string()
    );
}

#[tokio::test]
async fn ok_false_errors_map_to_step_error_names() {
    for (code, name) in [
        ("invalid_auth", StepErrorName::Unauthorized),
        ("not_authed", StepErrorName::Unauthorized),
        ("missing_scope", StepErrorName::Unauthorized),
        ("user_not_found", StepErrorName::TargetRejected),
        ("internal_error", StepErrorName::Retryable),
    ] {
        let server = MockServer::start().await;
        ok(&server, "users.lookupByEmail", json!({"ok": false, "error": code, "needed": "users:read.email", "provided": "chat:write"})).await;
        let err = client(&server)
            .send_dm_by_email("grace@contoso.example", "hello", None)
            .await
            .unwrap_err();
        assert_eq!(err.step_error_name(), name, "{code}: {err}");
        assert!(err.to_string().contains(code), "{err}");
        assert_clean(&err);
        assert_eq!(
            requests(&server).await.len(),
            1,
            "{code}: nothing after a failed lookup"
        );
    }

    let server = MockServer::start().await;
    ok(
        &server,
        "chat.postMessage",
        json!({"ok": false, "error": "channel_not_found"}),
    )
    .await;
    let err = client(&server)
        .post_message("C-gone", "hello", None)
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
    assert_eq!(err.code(), Some("channel_not_found"));
}

#[tokio::test]
async fn ratelimited_is_waited_out_then_surfaced_as_throttled() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"ok": false, "error": "ratelimited"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "channel": "C1", "ts": "1.2"})),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let posted = client(&server)
        .post_message("C1", "hello", None)
        .await
        .unwrap();
    assert_eq!(posted.ts, "1.2");

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_json(json!({"ok": false, "error": "ratelimited"})),
        )
        .mount(&server)
        .await;
    let err = client(&server)
        .post_message("C1", "hello", None)
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert!(err.to_string().contains("ratelimited"), "{err}");
}

#[tokio::test]
async fn a_slack_5xx_is_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat.postMessage"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = client(&server)
        .post_message("C1", "hello", None)
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Retryable);
}
