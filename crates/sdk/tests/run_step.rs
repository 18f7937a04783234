//! `run_step` end to end against a local twin of the Lambda Runtime API: the real
//! `lambda_runtime` loop polls `/invocation/next`, our wiring builds the context from
//! `DAYONE_CONFIG` and `DAYONE_SECRETS_FILE`, and the results posted back carry the output or
//! the `Dayone.*` errorType. One test in this binary, because it sets process environment.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use dayone_sdk::{StepContext, StepError};
use serde_json::{Value, json};
use tokio::sync::mpsc;

#[derive(Clone)]
struct RuntimeApi {
    queue: Arc<Mutex<VecDeque<(String, Value)>>>,
    results: mpsc::UnboundedSender<(String, String, Value)>,
}

async fn next(State(api): State<RuntimeApi>) -> impl IntoResponse {
    loop {
        let item = api.queue.lock().unwrap().pop_front();
        if let Some((id, payload)) = item {
            let mut headers = HeaderMap::new();
            headers.insert(
                "lambda-runtime-aws-request-id",
                HeaderValue::from_str(&id).unwrap(),
            );
            headers.insert(
                "lambda-runtime-deadline-ms",
                HeaderValue::from_static("4102444800000"),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                HeaderValue::from_static(
                    "arn:aws:lambda:us-east-1:123456789012:function:echo-step",
                ),
            );
            return (headers, payload.to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn outcome(
    State(api): State<RuntimeApi>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> &'static str {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    let _ = api.results.send((id, kind, value));
    "{}"
}

async fn runtime_api() -> (
    RuntimeApi,
    mpsc::UnboundedReceiver<(String, String, Value)>,
    String,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let api = RuntimeApi {
        queue: Arc::default(),
        results: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(outcome))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (api, rx, addr)
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct EchoInput {
    #[serde(default)]
    fail: bool,
}

async fn echo(input: EchoInput, ctx: StepContext) -> Result<Value, StepError> {
    if input.fail {
        return Err(StepError::throttled(
            "the target said 429",
            Some(Duration::from_secs(3)),
        ));
    }
    let key = ctx.secret("echo_key").await?;
    Ok(json!({
        "executionId": ctx.execution_id,
        "workerId": ctx.worker_id,
        "keyLength": key.expose().len(),
        "allowsExample": ctx.http.is_allowed("https://api.example.com/x"),
        "allowsOther": ctx.http.is_allowed("https://other.example.org/x"),
    }))
}

async fn collect(
    rx: &mut mpsc::UnboundedReceiver<(String, String, Value)>,
    n: usize,
) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let item = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("the runtime posted a result in time")
            .expect("channel open");
        out.push(item);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_step_serves_invocations_with_a_context_built_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dayone.toml");
    std::fs::write(
        &config,
        "[secrets]\necho_key = \"dayone/echo-key\"\n\n[functions.echo-step]\negress = [\"api.example.com\"]\nsecrets = [\"echo_key\"]\n",
    )
    .unwrap();
    let secrets = dir.path().join("secrets.json");
    // The alias maps the logical name to the id, which is the key in the local file.
    std::fs::write(&secrets, r#"{"dayone/echo-key": "fake-echo-key-123"}"#).unwrap();

    let (api, mut rx, addr) = runtime_api().await;
    // SAFETY: the only test in this binary, and no other thread reads the environment yet.
    unsafe {
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", &addr);
        std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "echo-step");
        std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
        std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        std::env::set_var("DAYONE_CONFIG", &config);
        std::env::set_var("DAYONE_SECRETS_FILE", &secrets);
        std::env::remove_var("DAYONE_EGRESS_ALLOWLIST");
        // run_step logs JSON to stdout, which the test harness does not capture.
        std::env::set_var("DAYONE_LOG", "off");
    }

    // GIVEN two invocations: one that succeeds, one that is throttled
    {
        let mut q = api.queue.lock().unwrap();
        q.push_back((
            "req-1".into(),
            json!({"executionId": "exec-1", "workerId": "W1"}),
        ));
        q.push_back((
            "req-2".into(),
            json!({"executionId": "exec-2", "hire": {"workerId": "W2"}, "fail": true}),
        ));
    }
    // WHEN the function runs
    let runner = tokio::spawn(dayone_sdk::run_step("echo-step", echo));
    let results = collect(&mut rx, 2).await;
    runner.abort();

    // THEN the first response is the handler's output with the payload's ids, the secret
    // resolved through [secrets] and the allowlist from [functions.echo-step]
    assert_eq!(results[0].0, "req-1");
    assert_eq!(results[0].1, "response");
    assert_eq!(
        results[0].2,
        json!({"executionId": "exec-1", "workerId": "W1", "keyLength": 17, "allowsExample": true, "allowsOther": false})
    );
    // AND the second is an error whose errorType is the Dayone name
    assert_eq!(results[1].0, "req-2");
    assert_eq!(results[1].1, "error");
    assert_eq!(results[1].2["errorType"], "Dayone.Throttled");
    assert_eq!(
        results[1].2["errorMessage"],
        "the target said 429 (retry after 3s)"
    );

    // GIVEN a configuration file that does not exist
    let (api, mut rx, addr) = runtime_api().await;
    // SAFETY: the previous runner is aborted; still the only test in this binary.
    unsafe {
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", &addr);
        std::env::set_var("DAYONE_CONFIG", dir.path().join("missing.toml"));
    }
    api.queue.lock().unwrap().push_back((
        "req-3".into(),
        json!({"executionId": "exec-3", "workerId": "W3"}),
    ));
    let runner = tokio::spawn(dayone_sdk::run_step("echo-step", echo));
    let results = collect(&mut rx, 1).await;
    runner.abort();
    // THEN the function still answers, with Dayone.Misconfigured naming the file
    assert_eq!(results[0].1, "error");
    assert_eq!(results[0].2["errorType"], "Dayone.Misconfigured");
    assert!(
        results[0].2["errorMessage"]
            .as_str()
            .unwrap()
            .contains("missing.toml"),
        "{}",
        results[0].2
    );
}
