//! Slack Web API: direct messages to a person found by email, and channel messages.
//!
//! [`SlackClient::send_dm_by_email`] is `users.lookupByEmail` → `conversations.open` →
//! `chat.postMessage`. Slack answers most failures with HTTP 200 and `{"ok":false,"error"}`;
//! those codes are mapped: `invalid_auth` / `not_authed` / `missing_scope` / `account_inactive`
//! / `token_revoked` → Unauthorized, `ratelimited` (HTTP 429 with `Retry-After`) → Throttled,
//! `internal_error` / `fatal_error` / `service_unavailable` → Retryable, anything else
//! (`user_not_found`, `channel_not_found`, `is_archived`, `msg_too_long` …) → rejected.
//!
//! Message text may carry a TAP: it is only ever placed in the request body, never logged or
//! put in an error.

use std::sync::Arc;

use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::SecretStore;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ConnectorError, System};
use crate::transport::{Reply, RetryPolicy, Transport, auth_header, enc_query, join};

/// Where the API is and which bot token to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackSettings {
    /// API base, `https://slack.com/api` (or a twin's URL).
    pub base_url: String,
    /// Name of the bot token (`xoxb-…`) in the secret store.
    pub token_secret_name: String,
}

impl Default for SlackSettings {
    fn default() -> Self {
        SlackSettings {
            base_url: "https://slack.com/api".into(),
            token_secret_name: "slack-bot-token".into(),
        }
    }
}

/// A posted message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PostedMessage {
    pub channel: String,
    pub ts: String,
}

/// Client for the Slack Web API.
pub struct SlackClient {
    transport: Transport,
    secrets: Arc<dyn SecretStore>,
    settings: SlackSettings,
}

/// Maps a Slack `error` code onto the connector error.
pub fn slack_error(
    code: &str,
    needed: Option<&str>,
    retry_after: Option<std::time::Duration>,
) -> ConnectorError {
    let detail = match needed {
        Some(n) => format!("{code} (needed scope: {n})"),
        None => code.to_string(),
    };
    match code {
        "invalid_auth"
        | "not_authed"
        | "missing_scope"
        | "account_inactive"
        | "token_revoked"
        | "token_expired"
        | "no_permission"
        | "not_allowed_token_type" => ConnectorError::unauthorized(System::Slack, detail),
        "ratelimited" | "rate_limited" => ConnectorError::Throttled {
            system: System::Slack,
            retry_after,
            detail,
        },
        "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
            ConnectorError::Retryable {
                system: System::Slack,
                retry_after,
                detail,
            }
        }
        _ => ConnectorError::rejected(System::Slack, Some(200), code, detail),
    }
}

impl SlackClient {
    pub fn new(http: EgressClient, secrets: Arc<dyn SecretStore>, settings: SlackSettings) -> Self {
        SlackClient {
            transport: Transport::new(System::Slack, http),
            secrets,
            settings,
        }
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.transport.policy = policy;
        self
    }

    /// Calls a Web API method and returns its `ok:true` body.
    async fn call(
        &self,
        method_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, ConnectorError> {
        let token = self
            .secrets
            .get(&self.settings.token_secret_name)
            .await
            .map_err(|source| ConnectorError::Secret {
                system: System::Slack,
                source,
            })?;
        let auth = auth_header(System::Slack, format!("Bearer {}", token.expose()))?;
        let url = join(&self.settings.base_url, method_and_query);
        let reply = self
            .transport
            .execute(
                || {
                    let mut rb = self
                        .transport
                        .request(Method::POST, &url)
                        .header("authorization", auth.clone());
                    if let Some(b) = body {
                        rb = rb
                            .header("content-type", "application/json; charset=utf-8")
                            .body(b.to_string());
                    }
                    rb
                },
                |_| false,
            )
            .await?;
        self.outcome(&reply)
    }

    fn outcome(&self, reply: &Reply) -> Result<Value, ConnectorError> {
        let parsed: Option<Value> = serde_json::from_slice(&reply.body).ok();
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if reply.status.as_u16() == 429 {
            return Err(ConnectorError::Throttled {
                system: System::Slack,
                retry_after: reply.retry_after(),
                detail: format!(
                    "{} after {} attempt(s)",
                    code.as_deref().unwrap_or("HTTP 429"),
                    reply.attempts
                ),
            });
        }
        if !reply.status.is_success() {
            let detail = code.unwrap_or_else(|| reply.text_snippet());
            if let Some(e) = self.transport.transient_error(reply, &detail) {
                return Err(e);
            }
            return Err(match reply.status.as_u16() {
                401 | 403 => ConnectorError::unauthorized(System::Slack, detail),
                s => ConnectorError::rejected(System::Slack, Some(s), format!("HTTP {s}"), detail),
            });
        }
        let Some(v) = parsed else {
            return Err(ConnectorError::retryable(
                System::Slack,
                "Slack answered with something that is not JSON",
            ));
        };
        if v.get("ok").and_then(Value::as_bool) == Some(true) {
            if let Some(w) = v.get("warning").and_then(Value::as_str) {
                tracing::warn!(warning = w, "Slack returned a warning");
            }
            return Ok(v);
        }
        let code = code.unwrap_or_else(|| "unknown_error".into());
        let needed = v.get("needed").and_then(Value::as_str);
        Err(slack_error(&code, needed, reply.retry_after()))
    }

    /// `users.lookupByEmail`: the Slack user id of the person with that email.
    pub async fn lookup_user_by_email(&self, email: &str) -> Result<String, ConnectorError> {
        let v = self
            .call(
                &format!("users.lookupByEmail?email={}", enc_query(email)),
                None,
            )
            .await?;
        v.pointer("/user/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ConnectorError::retryable(System::Slack, "users.lookupByEmail returned no user id")
            })
    }

    /// `conversations.open` with one user: the DM channel id (opened or already open).
    pub async fn open_dm(&self, user_id: &str) -> Result<String, ConnectorError> {
        let v = self
            .call("conversations.open", Some(&json!({"users": user_id})))
            .await?;
        v.pointer("/channel/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                ConnectorError::retryable(
                    System::Slack,
                    "conversations.open returned no channel id",
                )
            })
    }

    /// `chat.postMessage` to a channel id (or DM id), with optional Block Kit `blocks`.
    pub async fn post_message(
        &self,
        channel: &str,
        text: &str,
        blocks: Option<&Value>,
    ) -> Result<PostedMessage, ConnectorError> {
        let mut body = json!({"channel": channel, "text": text});
        if let Some(b) = blocks {
            body["blocks"] = b.clone();
        }
        let v = self.call("chat.postMessage", Some(&body)).await?;
        #[derive(Deserialize)]
        struct Posted {
            channel: String,
            ts: String,
        }
        let p: Posted = serde_json::from_value(v).map_err(|_| {
            ConnectorError::retryable(System::Slack, "chat.postMessage returned no channel/ts")
        })?;
        Ok(PostedMessage {
            channel: p.channel,
            ts: p.ts,
        })
    }

    /// Looks the person up by email, opens a DM and posts `text` there.
    pub async fn send_dm_by_email(
        &self,
        email: &str,
        text: &str,
        blocks: Option<&Value>,
    ) -> Result<PostedMessage, ConnectorError> {
        let user = self.lookup_user_by_email(email).await?;
        let channel = self.open_dm(&user).await?;
        self.post_message(&channel, text, blocks).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dayone_core::step_error::StepErrorName;

    #[test]
    fn slack_error_codes_map_to_step_error_names() {
        let cases = [
            ("invalid_auth", StepErrorName::Unauthorized),
            ("not_authed", StepErrorName::Unauthorized),
            ("missing_scope", StepErrorName::Unauthorized),
            ("user_not_found", StepErrorName::TargetRejected),
            ("channel_not_found", StepErrorName::TargetRejected),
            ("internal_error", StepErrorName::Retryable),
            ("ratelimited", StepErrorName::Throttled),
            ("msg_too_long", StepErrorName::TargetRejected),
        ];
        for (code, name) in cases {
            assert_eq!(
                slack_error(code, None, None).step_error_name(),
                name,
                "{code}"
            );
        }
        let scope = slack_error("missing_scope", Some("im:write"), None);
        assert!(scope.to_string().contains("im:write"), "{scope}");
    }
}
