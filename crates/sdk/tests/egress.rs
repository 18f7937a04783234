//! The allowlisted HTTP client against real sockets on loopback: denied hosts are never
//! contacted, redirects are re-checked, timeouts are retryable.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use dayone_sdk::http::{Allowlist, EgressClient, retry_after};
use dayone_sdk::{EgressError, StepError, StepErrorName};

/// A listener that only counts connection attempts: it must stay at zero.
async fn tripwire() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((_sock, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (addr.to_string(), hits)
}

/// An HTTP server with the routes the tests need; returns its `127.0.0.1:port`.
async fn server(redirect_to: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = Router::new()
        .route("/ok", get(|| async { "hello" }))
        .route(
            "/echo",
            post(|headers: HeaderMap, body: String| async move {
                let ct = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                format!("{ct}|{body}")
            }),
        )
        .route(
            "/out",
            get(move || {
                let to = redirect_to.clone();
                async move { (StatusCode::FOUND, [(header::LOCATION, to)]) }
            }),
        )
        .route(
            "/in",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/ok")]) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route(
            "/busy",
            get(|| async {
                (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "7")]).into_response()
            }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

async fn settle() {
    // Give a stray connection (there must be none) time to land.
    tokio::time::sleep(Duration::from_millis(150)).await;
}

#[tokio::test]
async fn a_host_outside_the_allowlist_is_denied_and_never_contacted() {
    // GIVEN a listener that counts connections, and a client that does not allow it
    let (addr, hits) = tripwire().await;
    let client = EgressClient::new(vec!["api.example.com".into(), "127.0.0.1:1".into()]);
    // WHEN the step calls it
    let err = client
        .send(client.get(&format!("http://{addr}/anything")))
        .await
        .unwrap_err();
    // THEN it is EgressDenied, names the host, and nothing connected
    assert!(
        matches!(&err, EgressError::Denied { host } if *host == addr),
        "{err}"
    );
    let step: StepError = err.into();
    assert_eq!(step.name, StepErrorName::EgressDenied);
    assert_eq!(
        lambda_runtime::Diagnostic::from(step).error_type,
        "Dayone.EgressDenied"
    );
    settle().await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn userinfo_cannot_smuggle_an_allowed_name_in_front_of_another_host() {
    let (addr, hits) = tripwire().await;
    let client = EgressClient::new(vec!["allowed.example".into()]);
    let err = client
        .send(client.get(&format!("http://allowed.example@{addr}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Denied { .. }), "{err}");
    // the label shown has no userinfo
    assert!(!err.to_string().contains("allowed.example@"), "{err}");
    settle().await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn an_allowed_host_is_reached_with_the_request_as_built() {
    let addr = server("http://unused/".into()).await;
    let client = EgressClient::new(vec![addr.clone()]);
    let resp = client
        .send(
            client
                .post(&format!("http://{addr}/echo"))
                .json(&serde_json::json!({"sku": "WELCOME-1"})),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.text().await.unwrap(),
        r#"application/json|{"sku":"WELCOME-1"}"#
    );
}

#[tokio::test]
async fn redirects_to_an_unlisted_host_are_denied_before_connecting() {
    // GIVEN an allowed server that redirects to a tripwire on another port
    let (trip, hits) = tripwire().await;
    let addr = server(format!("http://{trip}/stolen")).await;
    let client = EgressClient::new(vec![addr.clone()]);
    // WHEN the client follows it
    let err = client
        .send(client.get(&format!("http://{addr}/out")))
        .await
        .unwrap_err();
    // THEN the redirect is denied by host and the tripwire saw nothing
    assert!(
        matches!(&err, EgressError::Denied { host } if *host == trip),
        "{err}"
    );
    settle().await;
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    // AND a redirect within the allowed host is followed
    let resp = client
        .send(client.get(&format!("http://{addr}/in")))
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "hello");
}

#[tokio::test]
async fn a_slow_target_times_out_as_retryable() {
    let addr = server("http://unused/".into()).await;
    let client = EgressClient::builder(Allowlist::parse(&[addr.as_str()]).unwrap())
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = client
        .send(client.get(&format!("http://{addr}/slow")))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(matches!(err, EgressError::Timeout { .. }), "{err}");
    assert_eq!(StepError::from(err).name, StepErrorName::Retryable);
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    // Bind then drop to get a port that is (almost certainly) closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = EgressClient::new(vec!["127.0.0.1".into()]);
    let err = client
        .send(client.get(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Transport { .. }), "{err}");
    assert_eq!(StepError::from(err).name, StepErrorName::Retryable);
}

#[tokio::test]
async fn retry_after_is_read_from_a_429() {
    let addr = server("http://unused/".into()).await;
    let client = EgressClient::new(vec![addr.clone()]);
    let resp = client
        .send(client.get(&format!("http://{addr}/busy")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(retry_after(&resp), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn non_http_schemes_and_bad_urls_are_misconfigured() {
    let client = EgressClient::new(vec!["example.com".into()]);
    for url in ["ftp://example.com/x", "not a url"] {
        let err = client.send(client.get(url)).await.unwrap_err();
        assert_eq!(
            StepError::from(err).name,
            StepErrorName::Misconfigured,
            "{url}"
        );
    }
}
