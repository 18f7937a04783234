//! hris-writeback against the Workday SOAP twin over loopback HTTP.

use dayone_core::{AllocatedNames, HireEvent};
use dayone_sdk::error::StepErrorName;
use dayone_testkit::{EXECUTION_ID, TestEnv, hires, names, secrets_for};
use hris_writeback::{Field, InMemoryWritebackLog, WritebackInput, WritebackLog, handle};

fn input(hire: HireEvent, names: AllocatedNames) -> WritebackInput {
    WritebackInput {
        execution_id: EXECUTION_ID.into(),
        hire,
        names,
    }
}

#[tokio::test]
async fn running_twice_writes_the_email_and_username_once() {
    let env = TestEnv::start().await.unwrap();
    let log = InMemoryWritebackLog::new();

    let first = handle(&env.ctx, &log, input(hires::ada(), names::ada()))
        .await
        .unwrap();
    let second = handle(&env.ctx, &log, input(hires::ada(), names::ada()))
        .await
        .unwrap();

    assert_eq!(first.email, "ada.lovelace@contoso.com");
    assert_eq!(first.username, "alovelace@contoso.com");
    assert_eq!(first.worker, "Employee_ID:21001");
    assert_eq!(first.written, ["email", "username"]);
    assert!(second.written.is_empty(), "the re-run writes nothing");
    assert_eq!(second.email, first.email);

    let writes = env.sandbox.workday_writebacks();
    assert_eq!(
        writes.len(),
        2,
        "one email write and one username write in total"
    );
    assert!(writes.iter().all(|w| w.worker_id == "21001"));
    assert_eq!(
        writes
            .iter()
            .filter_map(|w| w.work_email.as_deref())
            .collect::<Vec<_>>(),
        ["ada.lovelace@contoso.com"]
    );
    assert_eq!(
        writes
            .iter()
            .filter_map(|w| w.username.as_deref())
            .collect::<Vec<_>>(),
        ["alovelace@contoso.com"]
    );
    let state = env.sandbox.snapshot();
    assert_eq!(
        state["workday"]["workers"]["21001"]["workEmail"],
        "ada.lovelace@contoso.com"
    );
    assert_eq!(
        state["workday"]["workers"]["21001"]["username"],
        "alovelace@contoso.com"
    );
    env.assert_no_leaks(&[&first, &second]);
}

#[tokio::test]
async fn a_contractor_is_written_as_a_contingent_worker() {
    let env = TestEnv::start().await.unwrap();
    let out = handle(
        &env.ctx,
        &InMemoryWritebackLog::new(),
        input(hires::jurgen(), names::jurgen()),
    )
    .await
    .unwrap();
    assert_eq!(out.worker, "Contingent_Worker_ID:C-5001");
    let writes = env.sandbox.workday_writebacks();
    assert_eq!(writes.len(), 2);
    assert!(writes.iter().all(|w| w.worker_id == "C-5001"));
}

#[tokio::test]
async fn a_worker_workday_does_not_know_is_target_rejected() {
    let env = TestEnv::start().await.unwrap();
    let mut hire = hires::ada();
    hire.worker_id = "99999".parse().unwrap();
    let err = handle(
        &env.ctx,
        &InMemoryWritebackLog::new(),
        input(hire, names::ada()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::TargetRejected, "{}", err.message);
    assert!(err.message.contains("99999"), "{}", err.message);
    assert!(env.sandbox.workday_writebacks().is_empty());
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn a_pending_business_process_is_retryable_and_the_retry_skips_what_was_written() {
    let env = TestEnv::start().await.unwrap();
    let log = InMemoryWritebackLog::new();
    // GIVEN an earlier attempt already wrote the email (and the log says so)
    log.record("21001", Field::Email, "ada.lovelace@contoso.com")
        .await
        .unwrap();
    // WHEN the username write meets a pending business process in Workday
    env.sandbox.workday_pending_next(1);
    let err = handle(&env.ctx, &log, input(hires::ada(), names::ada()))
        .await
        .unwrap_err();
    // THEN the step asks to be retried
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    assert!(env.sandbox.workday_writebacks().is_empty());
    // AND the retry writes only the username
    let retry = handle(&env.ctx, &log, input(hires::ada(), names::ada()))
        .await
        .unwrap();
    assert_eq!(retry.written, ["username"]);
    let writes = env.sandbox.workday_writebacks();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].username.as_deref(), Some("alovelace@contoso.com"));
}

#[tokio::test]
async fn a_wrong_isu_password_is_unauthorized() {
    let env = TestEnv::start().await.unwrap();
    let mut secrets = secrets_for(&env.sandbox_config);
    secrets.insert("workday_password", "not-the-isu-password");
    let err = handle(
        &env.ctx_with_secrets(secrets),
        &InMemoryWritebackLog::new(),
        input(hires::ada(), names::ada()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::Unauthorized, "{}", err.message);
    assert!(!err.message.contains("not-the-isu-password"));
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn workday_unavailable_is_retryable() {
    // Workday sends every SOAP fault with HTTP 500, so a 500 is judged by its fault; an
    // unavailable service is a 503.
    let env = TestEnv::start().await.unwrap();
    env.sandbox.faults().workday.fail_next(50, 503);
    let err = handle(
        &env.ctx,
        &InMemoryWritebackLog::new(),
        input(hires::ada(), names::ada()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
}

#[tokio::test]
async fn workday_outside_the_allowlist_is_egress_denied() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_allowlist(vec![TestEnv::host_of(&env.sandbox.urls().graph_base)]);
    let err = handle(
        &ctx,
        &InMemoryWritebackLog::new(),
        input(hires::ada(), names::ada()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::EgressDenied, "{}", err.message);
    assert!(env.sandbox.calls().is_empty());
}

#[tokio::test]
async fn a_missing_workday_target_is_misconfigured() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| c.targets.workday_base = None);
    let err = handle(
        &ctx,
        &InMemoryWritebackLog::new(),
        input(hires::ada(), names::ada()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(err.message.contains("workday_base"), "{}", err.message);
}

#[tokio::test]
async fn with_the_dynamodb_log_a_rerun_on_another_instance_writes_nothing() {
    let env = TestEnv::start().await.unwrap();
    let (client, table) = dayone_testkit::moto_table("writeback").await;
    let instance_a = hris_writeback::DynamoWritebackLog::new(client.clone(), table.clone());
    let instance_b = hris_writeback::DynamoWritebackLog::new(client, table);

    let first = handle(&env.ctx, &instance_a, input(hires::ada(), names::ada()))
        .await
        .unwrap();
    let second = handle(&env.ctx, &instance_b, input(hires::ada(), names::ada()))
        .await
        .unwrap();

    assert_eq!(first.written, ["email", "username"]);
    assert!(second.written.is_empty());
    assert_eq!(env.sandbox.workday_writebacks().len(), 2);
    let seen = instance_b.last_written("21001").await.unwrap();
    assert_eq!(seen.email.as_deref(), Some("ada.lovelace@contoso.com"));
    assert_eq!(seen.username.as_deref(), Some("alovelace@contoso.com"));
}
