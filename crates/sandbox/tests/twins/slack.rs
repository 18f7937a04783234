//! Slack Web API twin.

use crate::common::{client, json, sandbox};
use dayone_sandbox::SandboxConfig;
use serde_json::json;

fn token() -> String {
    SandboxConfig::default().slack.bot_token
}

#[tokio::test]
async fn manager_dm_flow_lookup_open_post() {
    let sb = sandbox().await;
    let base = sb.urls().slack_base.clone();
    let lookup = client()
        .post(format!("{base}/api/users.lookupByEmail"))
        .bearer_auth(token())
        .form(&[("email", "Grace.Hopper@contoso.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), 200);
    assert!(lookup.headers().contains_key("x-slack-req-id"));
    let user = json(lookup).await;
    assert_eq!(user["ok"], true);
    assert_eq!(user["user"]["id"], "U0GRACEHOP");
    assert_eq!(user["user"]["profile"]["email"], "grace.hopper@contoso.com");

    // The query-string form works too.
    let by_query = json(
        client()
            .post(format!(
                "{base}/api/users.lookupByEmail?email=grace.hopper%40contoso.com"
            ))
            .bearer_auth(token())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_query["user"]["id"], "U0GRACEHOP");

    let open = || {
        client()
            .post(format!("{base}/api/conversations.open"))
            .bearer_auth(token())
            .header("content-type", "application/json; charset=utf-8")
            .body(r#"{"users":"U0GRACEHOP"}"#)
            .send()
    };
    let first = json(open().await.unwrap()).await;
    assert_eq!(first["ok"], true);
    let channel = first["channel"]["id"].as_str().unwrap().to_owned();
    assert!(channel.starts_with('D'));
    assert!(first.get("already_open").is_none());
    let again = json(open().await.unwrap()).await;
    assert_eq!(again["already_open"], true);
    assert_eq!(again["channel"]["id"], channel.as_str());

    let posted = json(
        client()
            .post(format!("{base}/api/chat.postMessage"))
            .bearer_auth(token())
            .header("content-type", "application/json; charset=utf-8")
            .body(json!({"channel": channel, "text": "Ada's pass: Zq8+!kd2", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}).to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(posted["ok"], true);
    assert_eq!(posted["channel"], channel.as_str());
    assert!(posted["ts"].as_str().unwrap().contains('.'));
    assert_eq!(posted["message"]["text"], "Ada's pass: Zq8+!kd2");
    assert!(posted.get("warning").is_none());

    let messages = sb.slack_messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].dm_user.as_deref(), Some("U0GRACEHOP"));
    assert_eq!(messages[0].text, "Ada's pass: Zq8+!kd2");
    assert!(!format!("{:?}", messages[0]).contains("Zq8+!kd2"));
}

#[tokio::test]
async fn slack_failures_are_http_200_with_ok_false() {
    let sb = sandbox().await;
    let base = sb.urls().slack_base.clone();
    let post = |method: &str, bearer: Option<&str>, body: serde_json::Value| {
        let mut rb = client()
            .post(format!("{base}/api/{method}"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(b) = bearer {
            rb = rb.bearer_auth(b);
        }
        rb.send()
    };
    let t = token();
    for (method, bearer, body, error) in [
        (
            "chat.postMessage",
            Some("xoxb-wrong"),
            json!({"channel": "C0ITJOINER", "text": "x"}),
            "invalid_auth",
        ),
        (
            "chat.postMessage",
            None,
            json!({"channel": "C0ITJOINER", "text": "x"}),
            "not_authed",
        ),
        (
            "chat.postMessage",
            Some(t.as_str()),
            json!({"channel": "D0NOPE", "text": "x"}),
            "channel_not_found",
        ),
        (
            "chat.postMessage",
            Some(t.as_str()),
            json!({"channel": "C0ITJOINER"}),
            "no_text",
        ),
        (
            "users.lookupByEmail",
            Some(t.as_str()),
            json!({"email": "nobody@contoso.com"}),
            "users_not_found",
        ),
        (
            "conversations.open",
            Some(t.as_str()),
            json!({"users": "U0NOBODY"}),
            "user_not_found",
        ),
        (
            "conversations.open",
            Some(t.as_str()),
            json!({}),
            "users_list_not_supplied",
        ),
    ] {
        let resp = post(method, bearer, body).await.unwrap();
        assert_eq!(resp.status(), 200, "{method} {error}");
        let v = json(resp).await;
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"], error, "{method}");
    }

    // A public channel by name works, and JSON without a charset earns Slack's warning.
    let ok = json(
        post(
            "chat.postMessage",
            Some(t.as_str()),
            json!({"channel": "#it-joiners", "text": "Joiner failed at IssueTap"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["channel"], "C0ITJOINER");
    assert_eq!(ok["warning"], "missing_charset");
    let unknown = client()
        .post(format!("{base}/api/chat.frobnicate"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(json(unknown).await["error"], "unknown_method");
    assert_eq!(sb.slack_messages().len(), 1);
}
