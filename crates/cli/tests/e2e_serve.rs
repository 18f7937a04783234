//! `dayone serve` end to end: the ingress handler in front of the local engine, over HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dayone_cli::local::server::{LocalStarter, router};
use dayone_cli::local::{EngineOptions, LocalEngine};
use dayone_core::Config;
use dayone_sdk::secrets::StaticSecrets;
use ingress::{Authenticator, Ingress, sign};
use serde_json::Value;

const POLICY: &str = include_str!("../../../dayone.toml");
const SECRET: &str = "local-test-webhook-secret";
const ADA: &str = include_str!("../../../tests/fixtures/hires/ada-lovelace.json");

struct Served {
    base: String,
    starter: LocalStarter,
    _dir: tempfile::TempDir,
}

/// `dayone serve`'s router, in-process, on a free port.
async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let ledger = format!("sqlite:{}", dir.path().join("ledger.sqlite").display());
    let engine = LocalEngine::start(
        EngineOptions::new(Config::from_toml_str(POLICY).unwrap()).ledger(ledger),
    )
    .await
    .unwrap();
    let starter = LocalStarter::new(Arc::new(engine));
    let auth = Authenticator::new(
        Arc::new(StaticSecrets::new().with("webhook", SECRET)),
        Some("webhook".into()),
        None,
    )
    .unwrap();
    let app = router(Ingress::new(starter.clone(), auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        base,
        starter,
        _dir: dir,
    }
}

fn signed(
    client: &reqwest::Client,
    base: &str,
    body: &str,
    secret: &str,
    ts: i64,
) -> reqwest::RequestBuilder {
    client
        .post(format!("{base}/hires"))
        .header("content-type", "application/json")
        .header("x-dayone-timestamp", ts.to_string())
        .header("x-dayone-signature", sign(secret, ts, body.as_bytes()))
        .body(body.to_string())
}

/// Polls `GET /executions/{id}` until it is no longer RUNNING.
async fn finished(client: &reqwest::Client, base: &str, arn: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v: Value = client
            .get(format!("{base}/executions/{arn}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["status"] != "RUNNING" {
            return v;
        }
        assert!(Instant::now() < deadline, "execution still running: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_signed_hire_is_accepted_runs_to_success_and_a_redelivery_is_a_duplicate() {
    let s = serve().await;
    let client = reqwest::Client::new();
    let ts = chrono::Utc::now().timestamp();

    // WHEN Workday posts a signed hire
    let resp = signed(&client, &s.base, ADA, SECRET, ts)
        .send()
        .await
        .unwrap();

    // THEN it is accepted with the execution's ARN, and the execution succeeds
    assert_eq!(resp.status(), 202);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["duplicate"], false);
    let arn = body["executionArn"].as_str().unwrap().to_string();
    assert!(arn.contains(":execution:joiner:"), "{arn}");
    let done = finished(&client, &s.base, &arn).await;
    assert_eq!(done["status"], "SUCCEEDED", "{}", done["cause"]);
    assert_eq!(done["output"]["names"]["samAccountName"], "alovelace");
    let steps: Vec<&str> = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"Joined"), "{steps:?}");
    assert!(done["history"].as_array().unwrap().len() > 10);

    // the list shows it with its status
    let list: Value = client
        .get(format!("{}/executions", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["executions"][0]["executionArn"], arn.as_str());
    assert_eq!(list["executions"][0]["status"], "SUCCEEDED");

    // WHEN the same delivery arrives again
    let again = signed(&client, &s.base, ADA, SECRET, ts)
        .send()
        .await
        .unwrap();

    // THEN it is a 200 duplicate naming the same execution, and nothing runs twice
    assert_eq!(again.status(), 200);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["duplicate"], true);
    assert_eq!(body["executionArn"], arn.as_str());
    assert_eq!(s.starter.started(), 1);
    let sandbox = s.starter.engine().sandbox();
    assert_eq!(
        sandbox
            .users()
            .iter()
            .filter(|u| u.employee_id.as_deref() == Some("21001"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_starts_nothing() {
    let s = serve().await;
    let client = reqwest::Client::new();
    let ts = chrono::Utc::now().timestamp();

    let resp = signed(&client, &s.base, ADA, "not-the-secret", ts)
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status(), 401);
    assert_eq!(s.starter.started(), 0);
    let missing = client
        .get(format!("{}/executions/nope", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn an_invalid_hire_gets_field_errors() {
    let s = serve().await;
    let client = reqwest::Client::new();
    let body = r#"{"eventId":"E1","workerId":"1"}"#;

    let resp = signed(
        &client,
        &s.base,
        body,
        SECRET,
        chrono::Utc::now().timestamp(),
    )
    .send()
    .await
    .unwrap();

    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_hire");
    let fields: Vec<&str> = v["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"legalName"), "{fields:?}");
    assert_eq!(s.starter.started(), 0);
}

#[tokio::test]
async fn concurrent_identical_deliveries_start_exactly_one_execution() {
    let s = serve().await;
    let client = reqwest::Client::new();
    let ts = chrono::Utc::now().timestamp();

    let sends = (0..40).map(|_| signed(&client, &s.base, ADA, SECRET, ts).send());
    let statuses = futures_join(sends).await;

    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        39,
        "{statuses:?}"
    );
    assert_eq!(s.starter.started(), 1);
}

async fn futures_join<F>(futs: impl Iterator<Item = F>) -> Vec<u16>
where
    F: std::future::Future<Output = Result<reqwest::Response, reqwest::Error>> + Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap().unwrap().status().as_u16());
    }
    out
}

/// Kills the child `dayone serve` when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_dayone_serve_binary_takes_its_secret_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dayone"))
        .args(["serve", "--addr", "127.0.0.1:0", "--config", "dayone.toml"])
        .arg("--ledger")
        .arg(format!("sqlite:{}", dir.path().join("l.sqlite").display()))
        .current_dir(root)
        .env("DAYONE_WEBHOOK_SECRET", SECRET)
        .env_remove("DAYONE_BASIC_AUTH")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dayone serve starts");
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let mut lines = BufReader::new(stdout);
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    // keep draining what the server prints
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let base = first
        .trim()
        .rsplit(' ')
        .next()
        .expect("the address is printed")
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");

    let client = reqwest::Client::new();
    let resp = signed(&client, &base, ADA, SECRET, chrono::Utc::now().timestamp())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let arn = resp.json::<Value>().await.unwrap()["executionArn"]
        .as_str()
        .unwrap()
        .to_string();
    let done = finished(&client, &base, &arn).await;
    assert_eq!(done["status"], "SUCCEEDED", "{}", done["cause"]);
}
