//! Fixtures shared by the ledger's integration tests and benchmark: hand-built
//! username plans (what the policy would propose) and ledgers to run them on.
#![allow(dead_code)]

use dayone_core::{Candidate, SuffixTemplate, UsernamePlan};
use dayone_ledger::{DynamoLedger, ENDPOINT_ENV, SqliteLedger};

pub const DOMAIN: &str = "contoso.com";

pub fn candidate(rule: &str, sam: &str, local: &str) -> Candidate {
    Candidate {
        rule: rule.to_string(),
        sam_account_name: sam.to_string(),
        upn: format!("{local}@{DOMAIN}"),
        mail: format!("{local}@{DOMAIN}"),
    }
}

pub fn template(sam_stem: &str, local_stem: &str, reserved: &[&str]) -> SuffixTemplate {
    SuffixTemplate {
        sam_stem: sam_stem.to_string(),
        sam_max: 20,
        upn_stem: local_stem.to_string(),
        upn_max: 64,
        upn_domain: DOMAIN.to_string(),
        mail_stem: local_stem.to_string(),
        mail_max: 64,
        mail_domain: DOMAIN.to_string(),
        start: 2,
        reserved: reserved.iter().map(|r| r.to_string()).collect(),
    }
}

/// What a typical policy proposes for "John Smith": `{first:1}{last}`, then
/// `{first}{last:1}`, then jsmith2, jsmith3, …
pub fn john_smith() -> UsernamePlan {
    UsernamePlan {
        candidates: vec![
            candidate("{first:1}{last}", "jsmith", "john.smith"),
            candidate("{first}{last:1}", "johns", "johns"),
        ],
        suffix_key: "jsmith".into(),
        suffix: template("jsmith", "john.smith", &[]),
        display_name: "John Smith".into(),
        cn: "John Smith".into(),
        trace: vec![],
    }
}

/// A SQLite ledger in a fresh temporary directory (kept alive by the struct).
pub struct TempSqlite {
    pub dir: tempfile::TempDir,
    pub ledger: SqliteLedger,
}

pub async fn sqlite_ledger() -> TempSqlite {
    let dir = tempfile::tempdir().expect("temp dir");
    let ledger = SqliteLedger::open(dir.path().join("ledger.sqlite"))
        .await
        .expect("open ledger");
    TempSqlite { dir, ledger }
}

/// The moto (or DynamoDB Local) endpoint. Missing is a failure, never a skip:
/// these tests are part of `make test`.
pub fn dynamo_endpoint() -> String {
    match std::env::var(ENDPOINT_ENV) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => panic!(
            "{ENDPOINT_ENV} is not set, so the DynamoDB ledger cannot be tested. \
             Run the tests under the moto server: `scripts/with-moto.sh cargo test -p dayone-ledger` \
             (`make test` does this)."
        ),
    }
}

/// A DynamoDB ledger on a fresh, uniquely named table.
pub async fn dynamo_ledger(label: &str) -> DynamoLedger {
    dynamo_endpoint();
    let table = format!("dayone-ledger-{label}-{}", uuid::Uuid::new_v4().simple());
    let ledger = DynamoLedger::from_env(table).await;
    ledger
        .create_table_if_missing()
        .await
        .unwrap_or_else(|e| panic!("cannot create the test table on {}: {e}", dynamo_endpoint()));
    ledger
}

/// A DynamoDB ledger whose HTTP client sends one request at a time.
///
/// moto 5.2.5 runs TransactWriteItems without a lock: it deep-copies the table
/// to be able to roll back, so two transactions executing at once either
/// crash it (HTTP 500 "dictionary changed size during iteration") or roll back
/// each other's committed writes. Real DynamoDB serializes conflicting
/// transactions itself. Tests that keep hundreds of allocations in flight use
/// this client so that their reads, counter claims and writes still interleave
/// arbitrarily between round trips, while moto executes each request alone.
pub async fn dynamo_ledger_one_request_at_a_time(label: &str) -> DynamoLedger {
    use aws_sdk_dynamodb::config::http::HttpRequest;
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpConnector, http_client_fn,
    };
    use std::sync::Arc;
    use tokio::sync::Semaphore;

    #[derive(Debug)]
    struct OneAtATime {
        inner: SharedHttpConnector,
        gate: Arc<Semaphore>,
    }
    impl HttpConnector for OneAtATime {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let (inner, gate) = (self.inner.clone(), Arc::clone(&self.gate));
            HttpConnectorFuture::new(async move {
                let _permit = gate.acquire_owned().await.expect("semaphore never closed");
                inner.call(request).await
            })
        }
    }

    let endpoint = dynamo_endpoint();
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    // moto listens on plain HTTP on loopback.
    let inner = aws_smithy_http_client::Builder::new().build_http();
    let gate = Arc::new(Semaphore::new(1));
    let client = http_client_fn(move |settings, components| {
        SharedHttpConnector::new(OneAtATime {
            inner: inner.http_connector(settings, components),
            gate: Arc::clone(&gate),
        })
    });
    let config = aws_sdk_dynamodb::config::Builder::from(&base)
        .http_client(client)
        // Waiting for the gate is not a stalled upload.
        .stalled_stream_protection(
            aws_sdk_dynamodb::config::StalledStreamProtectionConfig::disabled(),
        )
        .build();
    let table = format!("dayone-ledger-{label}-{}", uuid::Uuid::new_v4().simple());
    let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::from_conf(config), table);
    ledger
        .create_table_if_missing()
        .await
        .expect("create the test table");
    ledger
}
