//! issue-tap against the Graph and Slack twins over loopback HTTP.

use dayone_core::HireEvent;
use dayone_core::config::Delivery as DeliveryChannel;
use dayone_sandbox::{FaultKind, FaultTarget, SeedUser, TapPolicyState, Twin};
use dayone_sdk::error::StepErrorName;
use dayone_testkit::{EXECUTION_ID, SENDER, TestEnv, hires};
use issue_tap::{Account, Channel, InMemoryDeliveryLog, IssueTapInput, handle};

const TAP_PATH: &str = "/v1.0/users/{id}/authentication/temporaryAccessPassMethods";

/// Ada's account, as CreateAccount would have left it.
fn seed_account(env: &TestEnv) -> Account {
    let user_id = env.sandbox.add_graph_user(&SeedUser::new(
        "alovelace@contoso.com",
        "Ada Lovelace",
        Some("21001"),
    ));
    Account {
        user_id,
        upn: "alovelace@contoso.com".into(),
    }
}

fn input(account: &Account, hire: HireEvent) -> IssueTapInput {
    IssueTapInput {
        execution_id: EXECUTION_ID.into(),
        hire,
        account: account.clone(),
    }
}

fn dms_to_grace(env: &TestEnv) -> usize {
    env.sandbox
        .slack_messages()
        .iter()
        .filter(|m| m.dm_user.as_deref() == Some("U0GRACEHOP"))
        .count()
}

fn mails_to(env: &TestEnv, to: &str) -> usize {
    env.sandbox
        .mails()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .count()
}

#[tokio::test]
async fn the_manager_gets_the_pass_once_by_slack_and_email_even_when_run_twice() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let log = InMemoryDeliveryLog::new();

    // WHEN the step runs twice for the same execution
    let first = handle(&env.ctx, &log, input(&account, hires::ada()))
        .await
        .unwrap();
    let second = handle(&env.ctx, &log, input(&account, hires::ada()))
        .await
        .unwrap();

    // THEN one pass was issued and delivered once per channel
    let taps = env.sandbox.taps_issued();
    assert_eq!(taps.len(), 1);
    assert_eq!(dms_to_grace(&env), 1);
    assert_eq!(mails_to(&env, "grace.hopper@contoso.com"), 1);
    assert!(!first.already_delivered);
    assert!(second.already_delivered);
    assert_eq!(first.tap_id, second.tap_id);
    assert_eq!(first.delivered, second.delivered);
    assert_eq!(
        first
            .delivered
            .iter()
            .map(|d| (d.channel, d.to.as_str()))
            .collect::<Vec<_>>(),
        [
            (Channel::Slack, "grace.hopper@contoso.com"),
            (Channel::Email, "grace.hopper@contoso.com")
        ]
    );

    // AND the pass is the one Graph issued, with the configured policy, from 08:00 London time
    let tap = &taps[0];
    assert_eq!(first.tap_id.as_deref(), Some(tap.id.as_str()));
    assert_eq!(tap.user_id, account.user_id);
    assert_eq!(tap.lifetime_in_minutes, 480);
    assert!(tap.is_usable_once);
    assert!(
        tap.start_date_time.starts_with("2026-12-01T08:00:00"),
        "{}",
        tap.start_date_time
    );
    assert_eq!(
        first.start_date_time.unwrap().to_rfc3339(),
        "2026-12-01T08:00:00+00:00"
    );

    // AND the messages carry the pass and the receipt id (checked without printing the pass)
    let pass = env.sandbox.issued_tap_values().pop().unwrap();
    let dm = env.sandbox.slack_messages().pop().unwrap();
    assert!(dm.text.contains(&pass), "the DM carries the pass");
    assert!(dm.text.contains(&first.receipt_id));
    let mail = env.sandbox.mails().pop().unwrap();
    assert_eq!(mail.from, SENDER);
    assert!(mail.body.contains(&pass), "the mail carries the pass");
    assert!(!mail.subject.contains(&pass));
    assert!(!mail.save_to_sent_items);

    // AND the pass is nowhere else: not in the outputs, not in a log line
    env.assert_no_leaks(&[&first, &second]);
}

#[tokio::test]
async fn the_output_keeps_the_state_machine_fields_and_never_the_pass() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let out = handle(
        &env.ctx,
        &InMemoryDeliveryLog::new(),
        input(&account, hires::ada()),
    )
    .await
    .unwrap();
    let json = serde_json::to_value(&out).unwrap();
    for field in ["delivered", "tapId", "startDateTime"] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
    let pass = env.sandbox.issued_tap_values().pop().unwrap();
    assert!(!json.to_string().contains(&pass));
    env.assert_no_leaks(&[&out]);
}

#[tokio::test]
async fn a_disabled_tap_policy_is_target_rejected_with_a_clear_message_and_nothing_issued() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    env.sandbox.set_tap_policy_state(TapPolicyState::Disabled);
    let log = InMemoryDeliveryLog::new();

    let err = handle(&env.ctx, &log, input(&account, hires::ada()))
        .await
        .unwrap_err();

    assert_eq!(err.name, StepErrorName::TargetRejected, "{}", err.message);
    assert!(
        err.message
            .contains("Temporary Access Pass policy is disabled"),
        "{}",
        err.message
    );
    assert!(err.message.contains("enable it"), "{}", err.message);
    assert!(env.sandbox.taps_issued().is_empty());
    assert_eq!(dms_to_grace(&env), 0);
    assert_eq!(mails_to(&env, "grace.hopper@contoso.com"), 0);

    // AND once an admin enables the policy, a re-run of the same execution goes through
    env.sandbox.set_tap_policy_state(TapPolicyState::Enabled);
    let out = handle(&env.ctx, &log, input(&account, hires::ada()))
        .await
        .unwrap();
    assert_eq!(out.delivered.len(), 2);
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn a_lifetime_the_policy_does_not_allow_is_misconfigured() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let ctx = env.ctx_with_config(|c| c.tap.lifetime_minutes = 600);
    let err = handle(
        &ctx,
        &InMemoryDeliveryLog::new(),
        input(&account, hires::ada()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(err.message.contains("[tap]"), "{}", err.message);
    assert!(env.sandbox.taps_issued().is_empty());
}

#[tokio::test]
async fn a_manager_without_slack_still_gets_the_email_and_slack_is_reported() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let mut hire = hires::ada();
    // A manager known only by a mailbox that has no Slack account.
    hire.manager_worker_id = None;
    hire.manager_email = Some(SENDER.parse().unwrap());

    let out = handle(&env.ctx, &InMemoryDeliveryLog::new(), input(&account, hire))
        .await
        .unwrap();

    assert_eq!(out.delivered.len(), 1);
    assert_eq!(out.delivered[0].channel, Channel::Email);
    assert_eq!(out.undelivered.len(), 1);
    assert_eq!(out.undelivered[0].channel, Channel::Slack);
    assert_eq!(out.undelivered[0].error, "Dayone.TargetRejected");
    assert_eq!(mails_to(&env, SENDER), 1);
    assert!(env.sandbox.slack_messages().is_empty());
    env.assert_no_leaks(&[&out]);
}

#[tokio::test]
async fn slack_ok_false_with_slack_only_fails_before_any_pass_exists() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let ctx = env.ctx_with_config(|c| c.tap.delivery = vec![DeliveryChannel::Slack]);
    let mut hire = hires::ada();
    hire.manager_worker_id = None;
    hire.manager_email = Some("not.in.slack@contoso.com".parse().unwrap());

    let err = handle(&ctx, &InMemoryDeliveryLog::new(), input(&account, hire))
        .await
        .unwrap_err();

    assert_eq!(err.name, StepErrorName::TargetRejected, "{}", err.message);
    assert!(err.message.contains("users_not_found"), "{}", err.message);
    assert!(
        env.sandbox.taps_issued().is_empty(),
        "no pass is issued for nobody"
    );
}

#[tokio::test]
async fn throttled_tap_creation_is_dayone_throttled_and_the_retry_delivers_once() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let log = InMemoryDeliveryLog::new();
    env.sandbox.faults().graph.arm(
        FaultTarget::path("POST", TAP_PATH),
        FaultKind::Throttle {
            retry_after_secs: 1,
        },
        50,
    );

    let err = handle(&env.ctx, &log, input(&account, hires::ada()))
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::Throttled, "{}", err.message);
    assert_eq!(dms_to_grace(&env), 0);

    // The state machine's retry, once Graph recovers:
    env.sandbox.faults().clear_all();
    let out = handle(&env.ctx, &log, input(&account, hires::ada()))
        .await
        .unwrap();
    assert!(!out.already_delivered);
    assert_eq!(env.sandbox.taps_issued().len(), 1);
    assert_eq!(dms_to_grace(&env), 1);
    assert_eq!(mails_to(&env, "grace.hopper@contoso.com"), 1);
    env.assert_no_leaks(&[&out]);
}

#[tokio::test]
async fn a_graph_5xx_on_creation_is_dayone_retryable() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    env.sandbox.faults().graph.arm(
        FaultTarget::path("POST", TAP_PATH),
        FaultKind::Status {
            status: 500,
            retry_after_secs: None,
        },
        50,
    );
    let err = handle(
        &env.ctx,
        &InMemoryDeliveryLog::new(),
        input(&account, hires::ada()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    assert_eq!(dms_to_grace(&env), 0);
}

#[tokio::test]
async fn a_bad_slack_token_with_slack_only_is_unauthorized() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let mut secrets = dayone_testkit::secrets_for(&env.sandbox_config);
    secrets.insert("slack_bot_token", "xoxb-not-the-right-token");
    let mut ctx = env.ctx_with_secrets(secrets);
    let mut config = (*ctx.config).clone();
    config.tap.delivery = vec![DeliveryChannel::Slack];
    ctx.config = std::sync::Arc::new(config);
    let err = handle(
        &ctx,
        &InMemoryDeliveryLog::new(),
        input(&account, hires::ada()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::Unauthorized, "{}", err.message);
    assert!(!err.message.contains("xoxb-not-the-right-token"));
    assert!(env.sandbox.taps_issued().is_empty());
}

#[tokio::test]
async fn slack_outside_the_allowlist_is_egress_denied() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let urls = env.sandbox.urls();
    let mut ctx = env.ctx_with_allowlist(vec![
        TestEnv::host_of(&urls.graph_base),
        TestEnv::host_of(&urls.login_base),
    ]);
    let mut config = (*ctx.config).clone();
    config.tap.delivery = vec![DeliveryChannel::Slack];
    ctx.config = std::sync::Arc::new(config);
    let err = handle(
        &ctx,
        &InMemoryDeliveryLog::new(),
        input(&account, hires::ada()),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, StepErrorName::EgressDenied, "{}", err.message);
    assert!(env.sandbox.calls().iter().all(|c| c.twin != Twin::Slack));
}

#[tokio::test]
async fn with_taps_disabled_in_policy_nothing_is_called() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let ctx = env.ctx_with_config(|c| c.tap.enabled = false);
    let out = handle(
        &ctx,
        &InMemoryDeliveryLog::new(),
        input(&account, hires::ada()),
    )
    .await
    .unwrap();
    assert_eq!(out.tap_id, None);
    assert!(out.delivered.is_empty());
    assert!(env.sandbox.calls().is_empty());
}

#[tokio::test]
async fn when_every_channel_fails_after_issuing_the_retry_replaces_the_undelivered_pass() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let log = InMemoryDeliveryLog::new();
    // GIVEN Slack and Graph mail both fail *after* the pass was created
    let down = FaultKind::Status {
        status: 500,
        retry_after_secs: None,
    };
    env.sandbox
        .faults()
        .slack
        .arm(FaultTarget::path("POST", "/api/chat.postMessage"), down, 50);
    env.sandbox.faults().graph.arm(
        FaultTarget::path("POST", "/v1.0/users/{id}/sendMail"),
        down,
        50,
    );

    // WHEN the step runs
    let err = handle(&env.ctx, &log, input(&account, hires::ada()))
        .await
        .unwrap_err();

    // THEN it asks to be retried, and the pass that nobody received is not in the error or logs
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    assert_eq!(env.sandbox.taps_issued().len(), 1);
    env.assert_no_leaks(&[&err.message]);

    // AND the retry issues a new pass (which replaces the undelivered one) and delivers it once
    env.sandbox.faults().clear_all();
    let out = handle(&env.ctx, &log, input(&account, hires::ada()))
        .await
        .unwrap();
    let taps = env.sandbox.taps_issued();
    assert_eq!(taps.len(), 2);
    assert_eq!(taps.iter().filter(|t| t.active).count(), 1);
    assert_eq!(
        out.tap_id.as_deref(),
        taps.iter().find(|t| t.active).map(|t| t.id.as_str())
    );
    assert_eq!(dms_to_grace(&env), 1);
    assert_eq!(mails_to(&env, "grace.hopper@contoso.com"), 1);
    env.assert_no_leaks(&[&out]);
}

#[tokio::test]
async fn a_hire_without_a_manager_is_an_invalid_hire() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let mut hire = hires::ada();
    hire.manager_email = None;
    hire.manager_worker_id = None;
    let err = handle(&env.ctx, &InMemoryDeliveryLog::new(), input(&account, hire))
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::InvalidHire, "{}", err.message);
    assert!(env.sandbox.taps_issued().is_empty());
}

#[tokio::test]
async fn a_manager_known_only_by_worker_id_is_found_in_the_directory() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let mut hire = hires::ada();
    hire.manager_email = None; // managerWorkerId 20007 is Grace Hopper
    let out = handle(&env.ctx, &InMemoryDeliveryLog::new(), input(&account, hire))
        .await
        .unwrap();
    assert!(
        out.delivered
            .iter()
            .all(|d| d.to == "grace.hopper@contoso.com")
    );
    assert_eq!(dms_to_grace(&env), 1);
}

#[tokio::test]
async fn the_directory_manager_wins_over_a_conflicting_manager_email() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let mut hire = hires::ada();
    // HR says worker 20010 (Katherine Johnson) but an old email of Grace Hopper.
    hire.manager_worker_id = Some("20010".parse().unwrap());
    let out = handle(&env.ctx, &InMemoryDeliveryLog::new(), input(&account, hire))
        .await
        .unwrap();
    assert!(
        out.delivered
            .iter()
            .all(|d| d.to == "katherine.johnson@contoso.com")
    );
    assert_eq!(dms_to_grace(&env), 0);
    assert_eq!(mails_to(&env, "katherine.johnson@contoso.com"), 1);
}

#[tokio::test]
async fn a_concurrent_attempt_waits_for_the_lease_like_a_throttle() {
    let env = TestEnv::start().await.unwrap();
    let account = seed_account(&env);
    let log = InMemoryDeliveryLog::new();
    // GIVEN another attempt of the same execution holds the lease right now
    use issue_tap::DeliveryLog;
    log.claim(
        EXECUTION_ID,
        "other-attempt",
        chrono::Utc::now(),
        chrono::Duration::seconds(70),
    )
    .await
    .unwrap();
    // WHEN this attempt starts
    let err = handle(&env.ctx, &log, input(&account, hires::ada()))
        .await
        .unwrap_err();
    // THEN it backs off until the lease ends, and nothing was issued or sent
    assert_eq!(err.name, StepErrorName::Throttled, "{}", err.message);
    let wait = err.retry_after.expect("the lease end is the wait");
    assert!(wait.as_secs() > 60 && wait.as_secs() <= 70, "{wait:?}");
    assert!(env.sandbox.taps_issued().is_empty());
    assert!(env.sandbox.slack_messages().is_empty());
}
