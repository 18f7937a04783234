//! **issue-tap**: a Temporary Access Pass for the new hire's first sign-in, delivered to their
//! manager, and nothing but a receipt returned.
//!
//! In: `{executionId, hire, account}` (`account` is CreateAccount's output).
//! Out: `{delivered: [{channel, to}], tapId, startDateTime, receiptId, alreadyDelivered,
//! undelivered}` ([`IssueTapOutput`]); the state machine keeps the first three.
//!
//! The story of one invocation:
//! 1. `[tap].enabled = false` → nothing to do (`tapId: null`).
//! 2. Claim the execution in the [`DeliveryLog`]. A receipt there means an earlier attempt
//!    already delivered: return it; no second pass, no second message. Another attempt still
//!    running (a live lease) is `Dayone.Throttled` with the lease's end as the wait.
//! 3. Find where the pass goes (`[tap].delivery`): the manager (the directory user whose
//!    `employeeId` is `managerWorkerId`, as create-account set it; else `managerEmail`) by
//!    Slack DM (looked up by email) and/or mail (Graph sendMail from `[tap].email_sender`).
//!    This happens *before* the pass exists, so an unreachable manager never leaves a pass
//!    behind.
//! 4. Check the tenant's TAP policy: disabled is `Dayone.TargetRejected` (the tenant refuses;
//!    an Entra admin must enable the method), a `[tap]` lifetime / one-time setting the policy
//!    does not allow is `Dayone.Misconfigured` (dayone.toml must change).
//! 5. Create the pass: valid from `[tap].issue_at` on the hire date in the hire's time zone
//!    (`[tap].default_timezone` if none), for `[tap].lifetime_minutes`, one-time per
//!    `[tap].usable_once`. A start already past means usable at once.
//! 6. Send it by every resolved channel; after each success the receipt is recorded, so a
//!    crash after the first message still stops a re-run from sending again. A channel that
//!    fails is listed in `undelivered`; the step fails only when no channel delivered.
//!
//! The pass value lives in [`message::PassMessage`] between Graph's answer and the delivery
//! call. It is never logged, never in the output, never in an error.

pub mod delivery;
pub mod dynamo;
pub mod error;
pub mod message;
pub mod schedule;
pub mod targets;

use chrono::{DateTime, Duration, Utc};
use dayone_connectors::{
    ConnectorError, GraphClient, MailBody, MailMessage, SlackClient, TapRequest, UserFilter,
};
use dayone_core::HireEvent;
use dayone_core::config::{Delivery as DeliveryChannel, TapConfig};
use dayone_sdk::audit::AuditEvent;
use dayone_sdk::context::StepContext;
use dayone_sdk::error::StepError;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use delivery::{
    Channel, Claim, Delivery, DeliveryLog, DeliveryLogError, InMemoryDeliveryLog, TapReceipt,
};
pub use dynamo::DynamoDeliveryLog;
pub use error::IssueTapError;
use message::{PassFacts, pass_message, receipt_id};

const ACTOR: &str = "step:issue-tap";
/// The function name under `[functions]` whose timeout sizes the delivery lease.
const FUNCTION: &str = "issue-tap";

/// The account the pass is for: CreateAccount's output (other fields are ignored).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub user_id: String,
    pub upn: String,
}

/// The payload Step Functions sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueTapInput {
    pub execution_id: String,
    pub hire: HireEvent,
    pub account: Account,
}

/// A channel that could not deliver, and why (the error name and message, never the pass).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Undelivered {
    pub channel: Channel,
    pub error: String,
    pub message: String,
}

/// The delivery receipt. Never contains the pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueTapOutput {
    pub delivered: Vec<Delivery>,
    /// Graph id of the TAP method; `None` when `[tap].enabled = false`.
    pub tap_id: Option<String>,
    /// When the pass becomes usable; `None` when `[tap].enabled = false`.
    pub start_date_time: Option<DateTime<Utc>>,
    /// Printed in the messages; derived from the execution id.
    pub receipt_id: String,
    /// `true` when an earlier attempt had delivered and this one only returned its receipt.
    pub already_delivered: bool,
    /// Channels that were configured but did not deliver.
    pub undelivered: Vec<Undelivered>,
}

/// The clients this step talks through.
pub struct Clients {
    pub graph: GraphClient,
    pub slack: SlackClient,
}

impl Clients {
    /// From `[targets]` and the context's secrets and egress allowlist.
    pub fn from_context(ctx: &StepContext) -> Result<Clients, StepError> {
        let graph = targets::graph_settings(&ctx.config.targets).map_err(|key| {
            IssueTapError::MissingSetting {
                key: match key {
                    "tenant" => "targets.tenant",
                    _ => "targets.graph_client_id",
                },
                why: "to reach Microsoft Graph",
            }
        })?;
        Ok(Clients {
            graph: GraphClient::new(ctx.http.clone(), ctx.secrets.clone(), graph),
            slack: SlackClient::new(
                ctx.http.clone(),
                ctx.secrets.clone(),
                targets::slack_settings(&ctx.config.targets),
            ),
        })
    }
}

/// The Lambda handler. `deliveries` is the receipt store (DynamoDB in AWS, in memory locally).
pub async fn handle<L: DeliveryLog + ?Sized>(
    ctx: &StepContext,
    deliveries: &L,
    input: IssueTapInput,
) -> Result<IssueTapOutput, StepError> {
    let clients = Clients::from_context(ctx)?;
    issue_tap(ctx, &clients, deliveries, input).await
}

/// A resolved way to reach the manager.
enum Route {
    Slack { channel_id: String, to: String },
    Email { from: String, to: String },
}

impl Route {
    fn channel(&self) -> Channel {
        match self {
            Route::Slack { .. } => Channel::Slack,
            Route::Email { .. } => Channel::Email,
        }
    }

    fn to(&self) -> &str {
        match self {
            Route::Slack { to, .. } | Route::Email { to, .. } => to,
        }
    }
}

/// The step, with its clients and delivery log given.
pub async fn issue_tap<L: DeliveryLog + ?Sized>(
    ctx: &StepContext,
    clients: &Clients,
    deliveries: &L,
    input: IssueTapInput,
) -> Result<IssueTapOutput, StepError> {
    let tap = &ctx.config.tap;
    let IssueTapInput {
        execution_id,
        hire,
        account,
    } = input;
    let receipt = receipt_id(&execution_id);

    if !tap.enabled {
        ctx.audit(
            AuditEvent::new(ACTOR, "tap.issue", &account.upn)
                .skipped()
                .details(json!({"executionId": execution_id, "reason": "[tap].enabled = false"})),
        );
        return Ok(IssueTapOutput {
            delivered: vec![],
            tap_id: None,
            start_date_time: None,
            receipt_id: receipt,
            already_delivered: false,
            undelivered: vec![],
        });
    }

    let attempt = uuid::Uuid::new_v4().to_string();
    // The lease must outlive a stuck attempt, which only the Lambda timeout ends: the
    // configured timeout, and never less than the deployed default (60 s), plus a margin.
    let timeout = ctx.config.function(FUNCTION).timeout_seconds.max(60);
    let lease = Duration::seconds(i64::from(timeout) + 10);
    match deliveries
        .claim(&execution_id, &attempt, Utc::now(), lease)
        .await
        .map_err(IssueTapError::from)?
    {
        Claim::Acquired => {}
        Claim::AlreadyDelivered(done) => {
            tracing::info!(receipt_id = %done.receipt_id, "pass already delivered for this execution");
            ctx.audit(
                AuditEvent::new(ACTOR, "tap.issue", &account.upn)
                    .skipped()
                    .details(json!({
                        "executionId": execution_id,
                        "receiptId": done.receipt_id,
                        "reason": "already delivered",
                    })),
            );
            return Ok(IssueTapOutput {
                delivered: done.delivered,
                tap_id: Some(done.tap_id),
                start_date_time: Some(done.start_date_time),
                receipt_id: done.receipt_id,
                already_delivered: true,
                undelivered: vec![],
            });
        }
        Claim::Busy { until } => {
            // Another attempt holds the lease: wait it out like a throttle, not a failure.
            let wait = (until - Utc::now()).to_std().ok();
            return Err(StepError::from(IssueTapError::Busy {
                execution_id,
                until: until.to_rfc3339(),
            })
            .with_retry_after(wait));
        }
    }

    let outcome = issue_and_deliver(
        ctx,
        clients,
        deliveries,
        tap,
        &hire,
        &account,
        &execution_id,
        &attempt,
        &receipt,
    )
    .await;
    if let Err(e) = &outcome {
        // Nothing was delivered: give the lease back so the state machine's retry can go at once.
        if let Err(release) = deliveries.release(&execution_id, &attempt).await {
            tracing::warn!(error = %release, "could not release the delivery lease");
        }
        ctx.audit(
            AuditEvent::new(ACTOR, "tap.issue", &account.upn)
                .failed()
                .details(json!({"executionId": execution_id, "error": e.name.as_str()})),
        );
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn issue_and_deliver<L: DeliveryLog + ?Sized>(
    ctx: &StepContext,
    clients: &Clients,
    deliveries: &L,
    tap: &TapConfig,
    hire: &HireEvent,
    account: &Account,
    execution_id: &str,
    attempt: &str,
    receipt: &str,
) -> Result<IssueTapOutput, StepError> {
    // 3. Where the pass goes, before it exists.
    let manager = manager_email(&clients.graph, hire).await?;
    let mut routes = Vec::new();
    let mut undelivered = Vec::new();
    let mut first_error: Option<StepError> = None;
    for channel in &tap.delivery {
        match resolve_route(clients, tap, *channel, &manager).await {
            Ok(route) => routes.push(route),
            Err(e) => {
                let channel = to_channel(*channel);
                tracing::warn!(%channel, error = %e.name, message = %e.message, "delivery channel unusable");
                undelivered.push(Undelivered {
                    channel,
                    error: e.name.as_str().to_string(),
                    message: e.message.clone(),
                });
                first_error.get_or_insert(e);
            }
        }
    }
    if routes.is_empty() {
        return Err(first_error.unwrap_or_else(|| {
            IssueTapError::MissingSetting {
                key: "tap.delivery",
                why: "to know how to reach the manager",
            }
            .into()
        }));
    }

    // 4. The tenant's policy.
    let request = TapRequest {
        start: None,
        lifetime_minutes: Some(tap.lifetime_minutes),
        is_usable_once: Some(tap.usable_once),
    };
    let policy = clients
        .graph
        .tap_policy()
        .await
        .map_err(IssueTapError::from)?;
    if !policy.enabled() {
        return Err(IssueTapError::PolicyDisabled {
            upn: account.upn.clone(),
        }
        .into());
    }
    if let Err(ConnectorError::TapNotAllowed { detail }) = policy.check(&request) {
        return Err(IssueTapError::PolicyMismatch { detail }.into());
    }

    // 5. The pass.
    let zone = schedule::zone_of(tap, hire);
    let when = schedule::schedule(hire.hire_date, tap.issue_at, zone, Utc::now());
    let request = TapRequest {
        start: when.start,
        ..request
    };
    let pass = clients
        .graph
        .create_tap(&account.user_id, &request)
        .await
        .map_err(|e| match e {
            // The policy changed between the check and the create (or the user is out of its
            // scope): the tenant refuses, same as a disabled policy.
            ConnectorError::TapNotAllowed { .. } => StepError::target_rejected(e.to_string()),
            other => other.into(),
        })?;
    let lifetime = pass.lifetime_in_minutes.unwrap_or(tap.lifetime_minutes);
    let usable_once = pass.is_usable_once.unwrap_or(tap.usable_once);
    tracing::info!(tap_id = %pass.id, start = %when.effective, lifetime, usable_once, "pass created");

    // 6. Delivery.
    let display_name = display_name(hire);
    let facts = PassFacts {
        display_name: &display_name,
        upn: &account.upn,
        hire_date: hire.hire_date,
        usable_from: when.effective,
        zone,
        lifetime_in_minutes: lifetime,
        is_usable_once: usable_once,
        receipt_id: receipt,
    };
    let message = pass_message(&facts, pass.pass.expose());
    drop(pass.pass);
    let mut record = TapReceipt {
        receipt_id: receipt.to_string(),
        execution_id: execution_id.to_string(),
        tap_id: pass.id.clone(),
        start_date_time: when.effective,
        lifetime_in_minutes: lifetime,
        is_usable_once: usable_once,
        delivered: Vec::new(),
    };
    for route in &routes {
        let sent = match route {
            Route::Slack { channel_id, .. } => clients
                .slack
                .post_message(channel_id, message.text(), None)
                .await
                .map(|_| ()),
            Route::Email { from, to } => {
                clients
                    .graph
                    .send_mail(
                        from,
                        &MailMessage {
                            subject: message.subject.clone(),
                            body: MailBody::Text(message.text().to_string()),
                            to: vec![to.clone()],
                            save_to_sent_items: false,
                        },
                    )
                    .await
            }
        };
        match sent {
            Ok(()) => {
                record.delivered.push(Delivery {
                    channel: route.channel(),
                    to: route.to().to_string(),
                });
                if let Err(e) = deliveries.record(attempt, &record).await {
                    // Delivered is delivered: the step succeeds. Only a later re-run of this
                    // execution could repeat the message, and it is said here.
                    tracing::error!(error = %e, "pass delivered but the receipt was not recorded");
                }
                tracing::info!(channel = %route.channel(), to = %route.to(), receipt_id = %receipt, "pass delivered");
                ctx.audit(
                    AuditEvent::new(ACTOR, "tap.deliver", &account.upn).details(json!({
                        "executionId": execution_id,
                        "channel": route.channel().as_str(),
                        "to": route.to(),
                        "methodId": pass.id,
                        "receiptId": receipt,
                    })),
                );
            }
            Err(e) => {
                let e = StepError::from(e);
                tracing::warn!(channel = %route.channel(), error = %e.name, message = %e.message, "delivery failed");
                undelivered.push(Undelivered {
                    channel: route.channel(),
                    error: e.name.as_str().to_string(),
                    message: e.message.clone(),
                });
                first_error.get_or_insert(e);
            }
        }
    }
    drop(message);
    if record.delivered.is_empty() {
        // The pass exists but nobody has it; the retry issues a new one, which replaces it.
        return Err(
            first_error.unwrap_or_else(|| StepError::retryable("no channel delivered the pass"))
        );
    }
    Ok(IssueTapOutput {
        delivered: record.delivered,
        tap_id: Some(record.tap_id),
        start_date_time: Some(record.start_date_time),
        receipt_id: record.receipt_id,
        already_delivered: false,
        undelivered,
    })
}

fn to_channel(d: DeliveryChannel) -> Channel {
    match d {
        DeliveryChannel::Slack => Channel::Slack,
        DeliveryChannel::Email => Channel::Email,
    }
}

async fn resolve_route(
    clients: &Clients,
    tap: &TapConfig,
    channel: DeliveryChannel,
    manager: &str,
) -> Result<Route, StepError> {
    match channel {
        DeliveryChannel::Slack => {
            let user = clients
                .slack
                .lookup_user_by_email(manager)
                .await
                .map_err(IssueTapError::from)?;
            let channel_id = clients
                .slack
                .open_dm(&user)
                .await
                .map_err(IssueTapError::from)?;
            Ok(Route::Slack {
                channel_id,
                to: manager.to_string(),
            })
        }
        DeliveryChannel::Email => {
            let from = tap
                .email_sender
                .clone()
                .filter(|s| !s.trim().is_empty())
                .ok_or(IssueTapError::MissingSetting {
                    key: "tap.email_sender",
                    why: "to send the pass by email (the mailbox Graph sendMail sends from)",
                })?;
            Ok(Route::Email {
                from,
                to: manager.to_string(),
            })
        }
    }
}

/// The manager's email. The directory entry found by `managerWorkerId` (their `employeeId`)
/// wins, because that is the manager create-account set on the account: the pass must go to
/// the person the directory says is the manager, even when HR's `managerEmail` disagrees.
/// `managerEmail` is used when there is no worker id or no such directory entry.
async fn manager_email(graph: &GraphClient, hire: &HireEvent) -> Result<String, StepError> {
    if let Some(worker) = &hire.manager_worker_id {
        let found = graph
            .query_users(&UserFilter::EmployeeIdEq(worker.to_string()))
            .await
            .map_err(IssueTapError::from)?;
        if let Some(address) = found
            .into_iter()
            .next()
            .and_then(|u| u.mail.or(u.user_principal_name))
        {
            return Ok(address);
        }
    }
    match &hire.manager_email {
        Some(email) => Ok(email.to_string()),
        None => Err(IssueTapError::NoManager(match &hire.manager_worker_id {
            Some(worker) => {
                format!("manager worker {worker} has no account with a mailbox in Entra ID")
            }
            None => "the hire has neither managerEmail nor managerWorkerId".into(),
        })
        .into()),
    }
}

/// How the manager knows the hire: preferred first name when given, then the last name.
fn display_name(hire: &HireEvent) -> String {
    let preferred = hire.preferred_name.as_ref();
    let first = preferred
        .and_then(|p| p.first.as_ref())
        .unwrap_or(&hire.legal_name.first);
    let last = preferred
        .and_then(|p| p.last.as_ref())
        .unwrap_or(&hire.legal_name.last);
    format!("{first} {last}")
}
