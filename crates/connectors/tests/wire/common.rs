//! Shared fixtures. Every secret here is obviously fake and is checked never to leak.

use std::sync::Arc;

use dayone_connectors::ConnectorError;
use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::{SecretStore, StaticSecrets};
use wiremock::{MockServer, Request};

pub const GRAPH_SECRET: &str = "FAKE-graph-client-secret~1";
pub const GRAPH_TOKEN: &str = "FAKE-graph-access-token";
pub const WORKDAY_PASSWORD: &str = "FAKE-workday-isu-p&ss<word>";
pub const SNOW_PASSWORD: &str = "FAKE-snow-password";
pub const SNOW_CLIENT_SECRET: &str = "FAKE-snow-client-secret";
pub const SNOW_TOKEN: &str = "FAKE-snow-access-token";
pub const JIRA_TOKEN: &str = "FAKE-jira-api-token";
pub const SLACK_TOKEN: &str = "xoxb-FAKE-slack-bot-token";
pub const TAP_VALUE: &str = "FAKE+TAP!value";

const ALL_SECRETS: [&str; 9] = [
    GRAPH_SECRET,
    GRAPH_TOKEN,
    WORKDAY_PASSWORD,
    SNOW_PASSWORD,
    SNOW_CLIENT_SECRET,
    SNOW_TOKEN,
    JIRA_TOKEN,
    SLACK_TOKEN,
    TAP_VALUE,
];

pub fn secrets() -> Arc<dyn SecretStore> {
    Arc::new(
        StaticSecrets::new()
            .with("graph-client-secret", GRAPH_SECRET)
            .with("workday-isu-password", WORKDAY_PASSWORD)
            .with("snow-password", SNOW_PASSWORD)
            .with("snow-client-secret", SNOW_CLIENT_SECRET)
            .with("jira-api-token", JIRA_TOKEN)
            .with("slack-bot-token", SLACK_TOKEN),
    )
}

/// An allowlisted client for the local mock server.
pub fn http() -> EgressClient {
    EgressClient::new(vec!["127.0.0.1".into()])
}

pub async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .map(|v| v.to_str().unwrap_or_default().to_string())
}

pub fn body_text(req: &Request) -> String {
    String::from_utf8(req.body.clone()).expect("request bodies are UTF-8")
}

/// The error and its Debug form carry no credential and no TAP.
pub fn assert_clean(err: &ConnectorError) {
    let shown = format!("{err} / {err:?}");
    for s in ALL_SECRETS {
        assert!(!shown.contains(s), "a secret leaked into an error: {shown}");
    }
}

/// `method path?query` of each received request, in order.
pub async fn calls(server: &MockServer) -> Vec<String> {
    requests(server)
        .await
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{} {}?{}", r.method, r.url.path(), q),
            None => format!("{} {}", r.method, r.url.path()),
        })
        .collect()
}
