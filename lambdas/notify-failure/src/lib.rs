//! **notify-failure**: tells IT, in its Slack channel (`[targets].it_channel`), that a Joiner
//! execution failed: which execution, which worker, which step, which error, the cause (scrubbed
//! of anything that looks like a credential) and what to do next.
//!
//! In: `{executionId, step, error, cause, workerId}` (the state machine's failure data).
//! Out: `{notified: [{channel, to}], failed: [{channel, to, error, message}]}`
//! ([`NotifyOutput`]).
//!
//! It runs on the Catch path, so a failure to notify must not hide the original failure: when
//! Slack is down, throttling or refuses the message, the step still *succeeds* and lists what
//! failed in `failed` (the execution then fails with the original error, as it should). It
//! returns an error only when it is misconfigured, because then it would never work: no
//! channel (`Dayone.Misconfigured`), a missing Slack token (`Dayone.Misconfigured`), a refused
//! token (`Dayone.Unauthorized`), Slack not on the egress allowlist (`Dayone.EgressDenied`).

pub mod error;
pub mod message;

use dayone_connectors::{SlackClient, SlackSettings};
use dayone_sdk::audit::AuditEvent;
use dayone_sdk::context::StepContext;
use dayone_sdk::error::{StepError, StepErrorName};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use error::NotifyError;
use message::FailureNotice;

const ACTOR: &str = "step:notify-failure";
/// Logical name of the Slack bot token in `[secrets]`.
pub const SLACK_BOT_TOKEN: &str = "slack_bot_token";
/// Slack answers that mean the configured channel is wrong, not that Slack is unwell.
const CHANNEL_PROBLEMS: &[&str] = &["channel_not_found", "not_in_channel", "is_archived"];

/// The failure data the state machine sends. Only `executionId` is required: a failure notice
/// with gaps beats no notice.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyInput {
    pub execution_id: String,
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default)]
    pub worker_id: Option<String>,
}

/// Where IT was told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notified {
    pub channel: String,
    pub to: String,
}

/// A notification that did not go out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyFailed {
    pub channel: String,
    pub to: String,
    pub error: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyOutput {
    pub notified: Vec<Notified>,
    pub failed: Vec<NotifyFailed>,
}

/// The Lambda handler.
pub async fn handle(ctx: &StepContext, input: NotifyInput) -> Result<NotifyOutput, StepError> {
    let t = &ctx.config.targets;
    let slack = SlackClient::new(
        ctx.http.clone(),
        ctx.secrets.clone(),
        SlackSettings {
            base_url: t.slack_base.trim_end_matches('/').to_string(),
            token_secret_name: SLACK_BOT_TOKEN.into(),
        },
    );
    notify(ctx, &slack, &t.it_channel, input).await
}

/// The step, with the Slack client and channel given.
pub async fn notify(
    ctx: &StepContext,
    slack: &SlackClient,
    channel: &str,
    input: NotifyInput,
) -> Result<NotifyOutput, StepError> {
    let channel = channel.trim();
    if channel.is_empty() {
        return Err(NotifyError::NoChannel.into());
    }
    let step = input.step.as_deref().unwrap_or("(unknown step)");
    let error = input.error.as_deref().unwrap_or("(unknown error)");
    let text = FailureNotice {
        execution_id: &input.execution_id,
        worker_id: input.worker_id.as_deref(),
        step,
        error,
        cause: input.cause.as_deref(),
    }
    .text();

    let mut out = NotifyOutput {
        notified: vec![],
        failed: vec![],
    };
    match slack.post_message(channel, &text, None).await {
        Ok(posted) => {
            tracing::info!(channel = %channel, ts = %posted.ts, step, error, "IT notified of the failure");
            out.notified.push(Notified {
                channel: "slack".into(),
                to: channel.to_string(),
            });
        }
        Err(e) => {
            if let Some(code) = e.code().filter(|c| CHANNEL_PROBLEMS.contains(c)) {
                return Err(NotifyError::Misconfigured {
                    name: StepErrorName::Misconfigured,
                    message: format!(
                        "Slack cannot post to the IT channel '{channel}' ({code}); fix [targets].it_channel or invite the dayone bot to it"
                    ),
                }
                .into());
            }
            let e = StepError::from(e);
            if matches!(
                e.name,
                StepErrorName::Misconfigured
                    | StepErrorName::Unauthorized
                    | StepErrorName::EgressDenied
            ) {
                return Err(NotifyError::Misconfigured {
                    name: e.name,
                    message: e.message,
                }
                .into());
            }
            tracing::error!(channel = %channel, error = %e.name, message = %e.message, "could not notify IT of the failure");
            out.failed.push(NotifyFailed {
                channel: "slack".into(),
                to: channel.to_string(),
                error: e.name.as_str().to_string(),
                message: e.message,
            });
        }
    }
    ctx.audit(
        AuditEvent::new(ACTOR, "failure.notify", input.execution_id.as_str())
            .outcome(if out.notified.is_empty() {
                AuditEvent::FAILURE
            } else {
                AuditEvent::SUCCESS
            })
            .details(json!({
                "step": step,
                "error": error,
                "workerId": input.worker_id,
                "notified": out.notified,
            })),
    );
    Ok(out)
}
