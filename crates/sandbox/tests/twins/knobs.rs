//! Fault knobs, call counts, snapshot and shutdown.

use std::time::{Duration, Instant};

use crate::common::{client, graph_token, json, sandbox};
use dayone_sandbox::{FaultKind, FaultTarget, Sandbox, SandboxConfig, Twin};
use serde_json::json;

fn new_user(upn: &str) -> serde_json::Value {
    json!({
        "accountEnabled": true, "displayName": "Ada Lovelace", "mailNickname": upn.split('@').next().unwrap(),
        "userPrincipalName": upn,
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "Local-Fixture-Pw-2026!"}
    })
}

#[tokio::test]
async fn a_scoped_throttle_hits_only_its_call_and_carries_retry_after() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    // GIVEN only POST /v1.0/users is throttled once
    sb.faults().graph.arm(
        FaultTarget::path("POST", "/v1.0/users"),
        FaultKind::Throttle {
            retry_after_secs: 7,
        },
        1,
    );
    // WHEN other calls go through THEN they are untouched
    let list = client()
        .get(format!("{base}/v1.0/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    // WHEN the targeted call comes THEN 429 + Retry-After in Graph's envelope
    let throttled = client()
        .post(format!("{base}/v1.0/users"))
        .bearer_auth(&token)
        .json(&new_user("ada@contoso.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "7");
    assert!(throttled.headers().contains_key("request-id"));
    assert_eq!(json(throttled).await["error"]["code"], "TooManyRequests");
    // AND the retry succeeds
    let retried = client()
        .post(format!("{base}/v1.0/users"))
        .bearer_auth(&token)
        .json(&new_user("ada@contoso.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 201);
    assert_eq!(sb.call_count(Twin::Graph, "POST", "/v1.0/users"), 2);
    let calls = sb.calls();
    let posts: Vec<_> = calls
        .iter()
        .filter(|c| c.method == "POST" && c.twin == Twin::Graph)
        .collect();
    assert!(posts[0].faulted && posts[0].status == 429);
    assert!(!posts[1].faulted && posts[1].status == 201);
    assert_eq!(sb.call_counts()["graph POST /v1.0/users"], 2);
    assert_eq!(sb.faults().graph.pending(), 0);
}

#[tokio::test]
async fn every_twin_throttles_and_fails_in_its_own_wire_format() {
    let sb = sandbox().await;
    let urls = sb.urls().clone();
    let f = sb.faults();

    f.slack.throttle_next(1, 3);
    let slack = client()
        .post(format!("{}/api/chat.postMessage", urls.slack_base))
        .send()
        .await
        .unwrap();
    assert_eq!(slack.status(), 429);
    assert_eq!(slack.headers()["retry-after"], "3");
    assert_eq!(
        json(slack).await,
        json!({"ok": false, "error": "ratelimited"})
    );

    f.jira.throttle_next(1, 5);
    let jira = client()
        .get(format!("{}/rest/api/3/search/jql", urls.jira_base))
        .send()
        .await
        .unwrap();
    assert_eq!(jira.status(), 429);
    assert_eq!(jira.headers()["retry-after"], "5");
    assert_eq!(jira.headers()["x-ratelimit-remaining"], "0");
    assert!(jira.headers().contains_key("ratelimit-reason"));

    f.servicenow.arm(
        FaultTarget::any(),
        FaultKind::Status {
            status: 503,
            retry_after_secs: Some(11),
        },
        1,
    );
    let sn = client()
        .get(format!("{}/api/now/table/incident", urls.servicenow_base))
        .send()
        .await
        .unwrap();
    assert_eq!(sn.status(), 503);
    assert_eq!(sn.headers()["retry-after"], "11");
    assert_eq!(json(sn).await["status"], "failure");
    f.servicenow.throttle_next(1, 2);
    let sn = client()
        .get(format!("{}/api/now/table/incident", urls.servicenow_base))
        .send()
        .await
        .unwrap();
    assert_eq!(sn.status(), 429);
    assert!(sn.headers().contains_key("x-ratelimit-reset"));

    f.workday.fail_next(1, 503);
    let wd = client()
        .post(urls.workday_human_resources("contoso_sandbox", "v44.0"))
        .body("<x/>")
        .send()
        .await
        .unwrap();
    assert_eq!(wd.status(), 503);
    assert!(
        wd.text()
            .await
            .unwrap()
            .contains("<faultcode>SOAP-ENV:Server</faultcode>")
    );

    f.login.throttle_next(1, 4);
    let login = client()
        .post(urls.token_endpoint("contoso.com"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 429);
    assert_eq!(json(login).await["error"], "temporarily_unavailable");

    f.graph.fail_next(2, 504);
    for _ in 0..2 {
        let g = client()
            .get(format!("{}/v1.0/users", urls.graph_base))
            .send()
            .await
            .unwrap();
        assert_eq!(g.status(), 504);
    }
    // Faults come before auth, so the third call is an ordinary 401.
    let g = client()
        .get(format!("{}/v1.0/users", urls.graph_base))
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), 401);
}

#[tokio::test]
async fn a_replication_delay_can_be_emulated_with_a_scoped_404() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    let id = json(
        client()
            .post(format!("{base}/v1.0/users"))
            .bearer_auth(&token)
            .json(&new_user("ada@contoso.com"))
            .send()
            .await
            .unwrap(),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sb.faults().graph.arm(
        FaultTarget::path("GET", "/v1.0/users/{id}"),
        FaultKind::Status {
            status: 404,
            retry_after_secs: None,
        },
        1,
    );
    let first = client()
        .get(format!("{base}/v1.0/users/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 404);
    assert_eq!(
        json(first).await["error"]["code"],
        "Request_ResourceNotFound"
    );
    let second = client()
        .get(format!("{base}/v1.0/users/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
}

#[tokio::test]
async fn latency_and_hangs_make_clients_wait_or_time_out() {
    let sb = sandbox().await;
    let url = format!("{}/api/auth.test", sb.urls().slack_base);
    sb.faults().slack.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    let resp = client().post(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    sb.faults().slack.set_latency(Duration::ZERO);

    sb.faults().slack.hang_next(1);
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient.post(&url).send().await.unwrap_err();
    assert!(err.is_timeout());
    let after = impatient.post(&url).send().await.unwrap();
    assert_eq!(after.status(), 200);
}

#[tokio::test]
async fn shutdown_closes_listeners_and_releases_hung_calls() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let url = format!("{}/api/auth.test", sb.urls().slack_base);
    sb.faults().slack.hang_next(1);
    let hung = tokio::spawn({
        let url = url.clone();
        async move {
            client()
                .post(&url)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    // Wait until the call is really hanging inside the twin.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sb.faults().slack.injected() == 0 {
        assert!(
            Instant::now() < deadline,
            "the hung call never reached the twin"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    sb.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(hung.await.unwrap().unwrap(), 504);
    assert!(client().post(&url).send().await.is_err());
}

#[tokio::test]
async fn snapshot_shows_every_system_and_no_credential() {
    let sb = sandbox().await;
    let snap = sb.snapshot();
    for key in ["graph", "workday", "servicenow", "jira", "slack", "calls"] {
        assert!(snap.get(key).is_some(), "{key}");
    }
    assert!(
        snap["graph"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["userPrincipalName"] == "grace.hopper@contoso.com")
    );
    let text = snap.to_string();
    let secrets = sb.known_secrets();
    assert!(secrets.contains(&"local-graph-client-secret".to_owned()));
    assert!(secrets.iter().all(|s| !text.contains(s.as_str())));
    assert!(!format!("{sb:?}").contains("local-"));
}
