//! The ticket-receipt contract, run against both adapters: in memory and DynamoDB (moto, via
//! `scripts/with-moto.sh`; these tests fail when `DAYONE_DYNAMODB_ENDPOINT` is unset). Plus the
//! case the DynamoDB receipts exist for: two Lambda instances handling the same hire open one
//! ticket, and the second calls no ticket system.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use create_ticket::{
    Begun, CreateTicketInput, DynamoTicketReceipts, InMemoryTicketReceipts, TicketReceipt,
    TicketReceipts, handle,
};
use dayone_sdk::error::StepErrorName;
use dayone_testkit::{EXECUTION_ID, TestEnv, hires, moto_table, names};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn helpdesk(n: u32) -> TicketReceipt {
    TicketReceipt {
        system: "jira".into(),
        key: format!("HELPDESK-{n}"),
        url: format!("https://acme.atlassian.net/browse/HELPDESK-{n}"),
        hardware: "developer-laptop-mac".into(),
    }
}

/// Everything an adapter must do, in one story.
async fn contract(receipts: &dyn TicketReceipts) {
    let t0 = at("2026-11-26T12:00:00Z");
    let t1 = at("2026-11-26T12:01:05Z");

    // The first attempt begins; a second one sees it pending, with who began it and when.
    assert_eq!(
        receipts.begin("hire-1", "exec-a", t0).await.unwrap(),
        Begun::Fresh
    );
    assert_eq!(
        receipts.begin("hire-1", "exec-b", t1).await.unwrap(),
        Begun::Pending {
            execution: "exec-a".into(),
            since: t0,
            request: None,
        },
        "a later begin neither overwrites the first nor reports itself"
    );

    // A catalog order was placed: the next attempt learns which request to finish.
    receipts.progress("hire-1", "req-sys-1").await.unwrap();
    assert_eq!(
        receipts.begin("hire-1", "exec-b", t1).await.unwrap(),
        Begun::Pending {
            execution: "exec-a".into(),
            since: t0,
            request: Some("req-sys-1".into()),
        }
    );

    // Completed: every later attempt gets the ticket back.
    receipts.complete("hire-1", &helpdesk(1)).await.unwrap();
    assert_eq!(
        receipts.begin("hire-1", "exec-c", t1).await.unwrap(),
        Begun::Done(helpdesk(1))
    );
    assert_eq!(
        receipts.begin("hire-1", "exec-d", t1).await.unwrap(),
        Begun::Done(helpdesk(1)),
        "reading a done receipt changes nothing"
    );

    // Hires do not see each other's receipts.
    assert_eq!(
        receipts.begin("hire-2", "exec-a", t0).await.unwrap(),
        Begun::Fresh
    );
}

#[tokio::test]
async fn the_in_memory_receipts_keep_the_contract() {
    contract(&InMemoryTicketReceipts::new()).await;
}

#[tokio::test]
async fn the_dynamodb_receipts_keep_the_contract() {
    let (client, table) = moto_table("ticket").await;
    contract(&DynamoTicketReceipts::new(client, table)).await;
}

#[tokio::test]
async fn a_dynamodb_receipt_is_the_documented_item_under_ticket_prefix() {
    let (client, table) = moto_table("ticket-item").await;
    let receipts = DynamoTicketReceipts::new(client.clone(), table.clone());
    let read = || async {
        client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("TICKET#hire-1".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .expect("the receipt item exists")
    };
    let text = |item: &HashMap<String, AttributeValue>, k: &str| {
        item.get(k).and_then(|v| v.as_s().ok()).cloned()
    };

    receipts
        .begin("hire-1", "exec-a", at("2026-11-26T12:00:00Z"))
        .await
        .unwrap();
    let pending = read().await;
    assert_eq!(text(&pending, "kind").as_deref(), Some("create-ticket"));
    assert_eq!(text(&pending, "status").as_deref(), Some("pending"));
    assert_eq!(text(&pending, "execution").as_deref(), Some("exec-a"));
    assert_eq!(
        text(&pending, "startedAt").as_deref(),
        Some("2026-11-26T12:00:00.000Z")
    );
    assert!(!pending.contains_key("key"));
    assert!(!pending.contains_key("request"));

    receipts.progress("hire-1", "req-sys-1").await.unwrap();
    let progressed = read().await;
    assert_eq!(text(&progressed, "request").as_deref(), Some("req-sys-1"));
    assert_eq!(text(&progressed, "status").as_deref(), Some("pending"));

    receipts.complete("hire-1", &helpdesk(1)).await.unwrap();
    let done = read().await;
    assert_eq!(text(&done, "status").as_deref(), Some("done"));
    assert_eq!(text(&done, "system").as_deref(), Some("jira"));
    assert_eq!(text(&done, "key").as_deref(), Some("HELPDESK-1"));
    assert_eq!(
        text(&done, "url").as_deref(),
        Some("https://acme.atlassian.net/browse/HELPDESK-1")
    );
    assert_eq!(
        text(&done, "hardware").as_deref(),
        Some("developer-laptop-mac")
    );
    assert_eq!(
        text(&done, "execution").as_deref(),
        Some("exec-a"),
        "who began it is kept"
    );
}

#[tokio::test]
async fn a_missing_table_is_a_clear_retryable_error_and_no_ticket_is_opened() {
    let env = TestEnv::start().await.unwrap();
    let (client, _) = moto_table("ticket-missing").await;
    let receipts = DynamoTicketReceipts::new(client, "no-such-table");

    let begin = receipts
        .begin("hire-1", "exec-a", Utc::now())
        .await
        .unwrap_err();
    assert!(begin.0.contains("PutItem"), "{begin}");
    assert!(begin.0.contains("ResourceNotFoundException"), "{begin}");
    assert!(begin.0.contains("DAYONE_LEDGER_TABLE"), "{begin}");
    let progress = receipts.progress("hire-1", "req-sys-1").await.unwrap_err();
    assert!(progress.0.contains("UpdateItem"), "{progress}");
    assert!(progress.0.contains("no-such-table"), "{progress}");
    let complete = receipts.complete("hire-1", &helpdesk(1)).await.unwrap_err();
    assert!(complete.0.contains("UpdateItem"), "{complete}");

    let input = CreateTicketInput {
        execution_id: EXECUTION_ID.into(),
        hire: hires::ada(),
        names: names::ada(),
    };
    let err = handle(&env.ctx, &receipts, input).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    assert!(err.message.contains("no-such-table"), "{}", err.message);
    assert!(
        env.sandbox.calls().is_empty(),
        "no ticket system was called"
    );
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn two_lambda_instances_open_one_ticket_and_the_second_calls_nobody() {
    let env = TestEnv::start().await.unwrap();
    let (client, table) = moto_table("ticket-e2e").await;
    // Each instance builds its own client at cold start; they share only the table.
    let instance_a = DynamoTicketReceipts::new(client.clone(), table.clone());
    let instance_b = DynamoTicketReceipts::new(client, table);
    let input = || CreateTicketInput {
        execution_id: EXECUTION_ID.into(),
        hire: hires::ada(),
        names: names::ada(),
    };

    let first = handle(&env.ctx, &instance_a, input()).await.unwrap();
    let calls_after_first = env.sandbox.calls().len();
    let second = handle(&env.ctx, &instance_b, input()).await.unwrap();

    assert!(first.created);
    assert!(!second.created);
    assert_eq!((&first.key, &first.url), (&second.key, &second.url));
    assert_eq!(env.sandbox.calls().len(), calls_after_first);
    assert_eq!(env.sandbox.tickets().len(), 1);
    env.assert_no_leaks(&[&first, &second]);
}
