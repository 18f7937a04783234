//! notify-failure against the Slack twin over loopback HTTP.

use dayone_sandbox::Twin;
use dayone_sdk::error::StepErrorName;
use dayone_testkit::{EXECUTION_ID, TestEnv, secrets_for};
use notify_failure::{NotifyInput, handle};

fn failure(cause: &str) -> NotifyInput {
    NotifyInput {
        execution_id: EXECUTION_ID.into(),
        step: Some("CreateTicket".into()),
        error: Some("Dayone.TargetRejected".into()),
        cause: Some(cause.into()),
        worker_id: Some("21001".into()),
    }
}

fn it_channel_messages(env: &TestEnv) -> Vec<String> {
    env.sandbox
        .slack_messages()
        .into_iter()
        .filter(|m| m.channel == "C0ITJOINER")
        .map(|m| m.text)
        .collect()
}

#[tokio::test]
async fn it_hears_which_execution_step_and_error_failed() {
    let env = TestEnv::start().await.unwrap();
    let cause = r#"{"errorType":"Dayone.TargetRejected","errorMessage":"ServiceNow rejected the request (403): User Not Authorized"}"#;

    let out = handle(&env.ctx, failure(cause)).await.unwrap();

    assert_eq!(out.notified.len(), 1);
    assert_eq!(out.notified[0].channel, "slack");
    assert_eq!(out.notified[0].to, "#it-joiners");
    assert!(out.failed.is_empty());
    let messages = it_channel_messages(&env);
    assert_eq!(messages.len(), 1);
    let text = &messages[0];
    for expected in [
        EXECUTION_ID,
        "21001",
        "CreateTicket",
        "Dayone.TargetRejected",
        "ServiceNow rejected the request (403): User Not Authorized",
        "fix the data or the target",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    env.assert_no_leaks(&[&out]);
}

#[tokio::test]
async fn secrets_in_the_cause_never_reach_the_channel() {
    let env = TestEnv::start().await.unwrap();
    // A cause a careless target or function might produce: every credential the twins know,
    // in the shapes they travel in.
    let known = env.forbidden_values();
    let cause = known
        .iter()
        .enumerate()
        .map(|(i, s)| match i % 4 {
            0 => format!("password={s}"),
            1 => format!("Authorization: Bearer {s}"),
            2 => format!(r#""client_secret":"{s}""#),
            _ => format!("token: {s}"),
        })
        .collect::<Vec<_>>()
        .join("; ");

    let out = handle(&env.ctx, failure(&cause)).await.unwrap();

    assert_eq!(out.notified.len(), 1);
    let messages = it_channel_messages(&env);
    for (i, secret) in known.iter().enumerate() {
        assert!(
            !messages[0].contains(secret.as_str()),
            "forbidden value #{i} reached the IT channel"
        );
    }
    assert!(messages[0].contains("[redacted]"));
    env.assert_no_leaks(&[&out]);
}

#[tokio::test]
async fn slack_being_down_is_reported_not_thrown() {
    let env = TestEnv::start().await.unwrap();
    env.sandbox.faults().slack.fail_next(50, 503);
    let out = handle(&env.ctx, failure("boom")).await.unwrap();
    assert!(out.notified.is_empty());
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].error, "Dayone.Retryable");
    assert!(it_channel_messages(&env).is_empty());
}

#[tokio::test]
async fn slack_rate_limiting_is_reported_not_thrown() {
    let env = TestEnv::start().await.unwrap();
    env.sandbox.faults().slack.throttle_next(50, 1);
    let out = handle(&env.ctx, failure("boom")).await.unwrap();
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].error, "Dayone.Throttled");
}

#[tokio::test]
async fn an_unknown_it_channel_is_misconfigured() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| c.targets.it_channel = "#no-such-channel".into());
    let err = handle(&ctx, failure("boom")).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(err.message.contains("channel_not_found"), "{}", err.message);
    assert!(err.message.contains("it_channel"), "{}", err.message);
}

#[tokio::test]
async fn an_empty_it_channel_is_misconfigured_without_calling_slack() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| c.targets.it_channel = " ".into());
    let err = handle(&ctx, failure("boom")).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(env.sandbox.calls().is_empty());
}

#[tokio::test]
async fn a_refused_slack_token_is_unauthorized() {
    let env = TestEnv::start().await.unwrap();
    let mut secrets = secrets_for(&env.sandbox_config);
    secrets.insert("slack_bot_token", "xoxb-revoked-fake");
    let err = handle(&env.ctx_with_secrets(secrets), failure("boom"))
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::Unauthorized, "{}", err.message);
    assert!(!err.message.contains("xoxb-revoked-fake"));
}

#[tokio::test]
async fn slack_outside_the_allowlist_is_egress_denied() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_allowlist(vec![TestEnv::host_of(&env.sandbox.urls().graph_base)]);
    let err = handle(&ctx, failure("boom")).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::EgressDenied, "{}", err.message);
    assert!(env.sandbox.calls().iter().all(|c| c.twin != Twin::Slack));
}

#[tokio::test]
async fn a_notice_with_gaps_still_goes_out() {
    let env = TestEnv::start().await.unwrap();
    let input: NotifyInput =
        serde_json::from_value(serde_json::json!({"executionId": "exec-gappy"})).unwrap();
    let out = handle(&env.ctx, input).await.unwrap();
    assert_eq!(out.notified.len(), 1);
    let text = &it_channel_messages(&env)[0];
    assert!(text.contains("exec-gappy"));
    assert!(text.contains("(unknown step)"));
}
