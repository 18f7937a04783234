//! `SecretsManagerStore` against a real Secrets Manager API (moto on loopback).
//! Run with `scripts/with-moto.sh cargo test -p dayone-sdk`; without
//! `DAYONE_DYNAMODB_ENDPOINT` these tests fail on purpose.

use std::sync::Arc;
use std::time::Duration;

use dayone_sdk::secrets::{SecretError, SecretStore, SecretsManagerStore};
use dayone_sdk::{StepError, StepErrorName};

fn endpoint() -> String {
    std::env::var("DAYONE_DYNAMODB_ENDPOINT").expect(
        "DAYONE_DYNAMODB_ENDPOINT is not set: run these tests with scripts/with-moto.sh (moto serves Secrets Manager too)",
    )
}

async fn client() -> aws_sdk_secretsmanager::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&sdk)
}

/// A secret id no other test (or earlier run against the same server) uses.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("dayone-test/{name}-{}-{nanos}", std::process::id())
}

async fn create(client: &aws_sdk_secretsmanager::Client, id: &str, value: &str) {
    client
        .create_secret()
        .name(id)
        .secret_string(value)
        .send()
        .await
        .expect("moto accepts CreateSecret");
}

#[tokio::test]
async fn values_are_fetched_once_and_served_from_the_cache() {
    // GIVEN a secret in Secrets Manager
    let sm = client().await;
    let id = unique("plain");
    create(&sm, &id, "fake-sm-value-1").await;
    let store = SecretsManagerStore::new(sm);
    // WHEN it is read twice
    assert_eq!(store.get(&id).await.unwrap().expose(), "fake-sm-value-1");
    assert_eq!(store.get(&id).await.unwrap().expose(), "fake-sm-value-1");
    // THEN only one GetSecretValue was made
    assert_eq!(store.fetch_count(), 1);
}

#[tokio::test]
async fn concurrent_callers_share_one_fetch() {
    let sm = client().await;
    let id = unique("concurrent");
    create(&sm, &id, "fake-sm-value-2").await;
    let store = Arc::new(SecretsManagerStore::new(sm));
    let mut tasks = Vec::new();
    for _ in 0..25 {
        let store = store.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            store.get(&id).await.map(|s| s.expose().to_string())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), "fake-sm-value-2");
    }
    assert_eq!(store.fetch_count(), 1);
}

#[tokio::test]
async fn a_rotated_value_is_picked_up_after_the_ttl() {
    let sm = client().await;
    let id = unique("rotated");
    create(&sm, &id, "fake-before").await;
    let store = SecretsManagerStore::new(sm.clone()).with_ttl(Duration::from_millis(200));
    assert_eq!(store.get(&id).await.unwrap().expose(), "fake-before");
    sm.put_secret_value()
        .secret_id(&id)
        .secret_string("fake-after")
        .send()
        .await
        .unwrap();
    // within the TTL: still the cached value
    assert_eq!(store.get(&id).await.unwrap().expose(), "fake-before");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(store.get(&id).await.unwrap().expose(), "fake-after");
    assert_eq!(store.fetch_count(), 2);
}

#[tokio::test]
async fn json_keys_are_picked_from_one_fetch() {
    let sm = client().await;
    let id = unique("json");
    create(
        &sm,
        &id,
        r#"{"client_id":"fake-id","client_secret":"fake-cs"}"#,
    )
    .await;
    let store = SecretsManagerStore::new(sm);
    assert_eq!(
        store
            .get(&format!("{id}#client_id"))
            .await
            .unwrap()
            .expose(),
        "fake-id"
    );
    assert_eq!(
        store
            .get(&format!("{id}#client_secret"))
            .await
            .unwrap()
            .expose(),
        "fake-cs"
    );
    assert_eq!(store.fetch_count(), 1);
    let err = store.get(&format!("{id}#nope")).await.unwrap_err();
    assert!(matches!(err, SecretError::NotFound { .. }));
    assert!(!err.to_string().contains("fake-cs"));
}

#[tokio::test]
async fn a_missing_secret_is_misconfigured_and_named() {
    let store = SecretsManagerStore::new(client().await);
    let id = unique("absent");
    let err = store.get(&id).await.unwrap_err();
    assert!(matches!(err, SecretError::NotFound { .. }), "{err}");
    let step: StepError = err.into();
    assert_eq!(step.name, StepErrorName::Misconfigured);
    assert!(step.message.contains(&id), "{}", step.message);
    // failures are not cached: creating it makes the next read succeed
    let sm = client().await;
    create(&sm, &id, "fake-late").await;
    assert_eq!(store.get(&id).await.unwrap().expose(), "fake-late");
}
