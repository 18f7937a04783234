//! The delivery-log contract, run against both adapters: in memory and DynamoDB (moto, via
//! `scripts/with-moto.sh`). Plus the case the DynamoDB log exists for: two Lambda instances,
//! each with its own client, handling the same execution deliver the pass once.

use chrono::{DateTime, Duration, Utc};
use dayone_sandbox::SeedUser;
use dayone_testkit::{EXECUTION_ID, TestEnv, hires, moto_table};
use issue_tap::{
    Account, Channel, Claim, Delivery, DeliveryLog, DeliveryLogError, DynamoDeliveryLog,
    InMemoryDeliveryLog, IssueTapInput, TapReceipt, handle,
};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn receipt(exec: &str) -> TapReceipt {
    TapReceipt {
        receipt_id: "TAP-0123456789AB".into(),
        execution_id: exec.into(),
        tap_id: "method-1".into(),
        start_date_time: at("2026-12-01T08:00:00Z"),
        lifetime_in_minutes: 480,
        is_usable_once: true,
        delivered: vec![Delivery {
            channel: Channel::Slack,
            to: "grace.hopper@contoso.com".into(),
        }],
    }
}

/// Everything an adapter must do, in one story.
async fn contract(log: &dyn DeliveryLog) {
    let now = at("2026-11-26T12:00:00Z");
    let lease = Duration::seconds(40);

    // A first attempt claims the execution; a concurrent one is kept out.
    assert_eq!(
        log.claim("exec-1", "a1", now, lease).await.unwrap(),
        Claim::Acquired
    );
    let busy = log.claim("exec-1", "a2", now, lease).await.unwrap();
    assert_eq!(busy, Claim::Busy { until: now + lease });
    // The holder may claim again (a retry inside the same attempt).
    assert_eq!(
        log.claim("exec-1", "a1", now, lease).await.unwrap(),
        Claim::Acquired
    );

    // Released without delivering: the next attempt goes at once.
    log.release("exec-1", "a1").await.unwrap();
    assert_eq!(
        log.claim("exec-1", "a2", now, lease).await.unwrap(),
        Claim::Acquired
    );

    // The attempt that lost its lease may not write a receipt.
    assert!(matches!(
        log.record("a1", &receipt("exec-1")).await,
        Err(DeliveryLogError::LeaseLost { .. })
    ));

    // Delivered: every later attempt gets the receipt back, whatever the lease says.
    log.record("a2", &receipt("exec-1")).await.unwrap();
    let later = now + Duration::hours(1);
    assert_eq!(
        log.claim("exec-1", "a3", later, lease).await.unwrap(),
        Claim::AlreadyDelivered(receipt("exec-1"))
    );
    // A release after delivery changes nothing.
    log.release("exec-1", "a2").await.unwrap();
    assert_eq!(
        log.claim("exec-1", "a4", later, lease).await.unwrap(),
        Claim::AlreadyDelivered(receipt("exec-1"))
    );

    // An expired lease of a crashed attempt does not block the next one.
    assert_eq!(
        log.claim("exec-2", "b1", now, lease).await.unwrap(),
        Claim::Acquired
    );
    assert_eq!(
        log.claim("exec-2", "b2", now + Duration::seconds(41), lease)
            .await
            .unwrap(),
        Claim::Acquired
    );

    // Executions do not see each other.
    assert_eq!(
        log.claim("exec-3", "c1", now, lease).await.unwrap(),
        Claim::Acquired
    );
}

#[tokio::test]
async fn the_in_memory_log_keeps_the_contract() {
    contract(&InMemoryDeliveryLog::new()).await;
}

#[tokio::test]
async fn the_dynamodb_log_keeps_the_contract() {
    let (client, table) = moto_table("tap").await;
    contract(&DynamoDeliveryLog::new(client, table)).await;
}

#[tokio::test]
async fn a_missing_table_is_misconfigured_not_a_silent_redelivery() {
    let (client, _) = moto_table("tap-missing").await;
    let log = DynamoDeliveryLog::new(client, "no-such-table");
    let err = log
        .claim("exec-1", "a1", Utc::now(), Duration::seconds(40))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryLogError::Misconfigured(_)), "{err}");
}

#[tokio::test]
async fn two_lambda_instances_deliver_the_pass_once() {
    let env = TestEnv::start().await.unwrap();
    let (client, table) = moto_table("tap-e2e").await;
    // Each instance builds its own client at cold start; they share only the table.
    let instance_a = DynamoDeliveryLog::new(client.clone(), table.clone());
    let instance_b = DynamoDeliveryLog::new(client, table);
    let user_id = env.sandbox.add_graph_user(&SeedUser::new(
        "alovelace@contoso.com",
        "Ada Lovelace",
        Some("21001"),
    ));
    let input = || IssueTapInput {
        execution_id: EXECUTION_ID.into(),
        hire: hires::ada(),
        account: Account {
            user_id: user_id.clone(),
            upn: "alovelace@contoso.com".into(),
        },
    };

    let first = handle(&env.ctx, &instance_a, input()).await.unwrap();
    let second = handle(&env.ctx, &instance_b, input()).await.unwrap();

    assert!(!first.already_delivered);
    assert!(second.already_delivered);
    assert_eq!(first.tap_id, second.tap_id);
    assert_eq!(env.sandbox.taps_issued().len(), 1);
    assert_eq!(env.sandbox.slack_messages().len(), 1);
    assert_eq!(env.sandbox.mails().len(), 1);
    env.assert_no_leaks(&[&first, &second]);
}
