//! Shared test helpers: a started sandbox, an HTTP client and a Graph token.

use dayone_sandbox::{Sandbox, SandboxConfig};
use reqwest::Client;
use serde_json::Value;
use std::time::Duration;

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

pub async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig::default())
        .await
        .expect("the sandbox starts on loopback")
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

/// A Graph token from the login twin with the default (fake) app credentials.
pub async fn graph_token(sb: &Sandbox) -> String {
    let cfg = SandboxConfig::default().graph;
    let resp = client()
        .post(sb.urls().token_endpoint(&cfg.tenant_id))
        .form(&[
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", cfg.client_secret.as_str()),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .expect("token call");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("token json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

pub async fn json(resp: reqwest::Response) -> Value {
    resp.json().await.expect("a JSON body")
}
