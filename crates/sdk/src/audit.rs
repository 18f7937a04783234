//! Audit events: who did what to which object, and how it ended, as their own log records.
//!
//! [`audit`] writes one `tracing` event with target `audit` and field `audit=true`, so a
//! CloudWatch Logs Insights query (`filter audit = 1`) or a subscription filter
//! (`{ $.audit = true }`) separates them from diagnostics. The line looks like:
//! `{"target":"audit","message":"audit","audit":true,"actor":"fn:welcome-pack",
//!   "action":"welcome_pack.order","resource":"W100","outcome":"success","details":{…},
//!   "execution_id":"…","worker_id":"…"}`.
//! The event's `target` (the object acted on) is written as `resource`, because `target` is
//! the logger name on every line.
//!
//! `details` is redacted before it is written: any key that looks like it holds a secret
//! (password, secret, token, temporaryAccessPass, tap, authorization, client_secret,
//! api key, cookie, credential) has its value replaced by `"[redacted]"`, at any depth.

use serde::Serialize;
use serde_json::Value;

/// What the placeholder for a redacted value reads.
pub const REDACTED: &str = "[redacted]";

/// One audit record. Build it with [`AuditEvent::new`] and the outcome helpers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// Who acted: a step or function (`step:issue-tap`, `fn:welcome-pack`) or a person.
    pub actor: String,
    /// What was done, dotted and stable (`tap.issue`, `welcome_pack.order`).
    pub action: String,
    /// The object acted on (a worker id, a UPN, a ticket number).
    pub target: String,
    /// `success`, `failure`, `denied`, `skipped`… ([`AuditEvent::SUCCESS`] etc.).
    pub outcome: String,
    /// Anything else worth keeping; redacted on the way out (also when serialised).
    #[serde(serialize_with = "serialize_redacted")]
    pub details: Value,
}

impl AuditEvent {
    pub const SUCCESS: &'static str = "success";
    pub const FAILURE: &'static str = "failure";
    pub const DENIED: &'static str = "denied";
    pub const SKIPPED: &'static str = "skipped";

    /// An event with outcome `success` and no details.
    pub fn new(
        actor: impl Into<String>,
        action: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        AuditEvent {
            actor: actor.into(),
            action: action.into(),
            target: target.into(),
            outcome: Self::SUCCESS.into(),
            details: Value::Null,
        }
    }

    pub fn outcome(mut self, outcome: impl Into<String>) -> Self {
        self.outcome = outcome.into();
        self
    }

    pub fn succeeded(self) -> Self {
        self.outcome(Self::SUCCESS)
    }

    pub fn failed(self) -> Self {
        self.outcome(Self::FAILURE)
    }

    pub fn denied(self) -> Self {
        self.outcome(Self::DENIED)
    }

    pub fn skipped(self) -> Self {
        self.outcome(Self::SKIPPED)
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// The event as written: details redacted.
    pub fn redacted(&self) -> AuditEvent {
        AuditEvent {
            details: redact(&self.details),
            ..self.clone()
        }
    }
}

fn serialize_redacted<S: serde::Serializer>(details: &Value, s: S) -> Result<S::Ok, S::Error> {
    redact(details).serialize(s)
}

/// Splits a key into lowercase words at `_`, `-`, `.`, spaces and camelCase humps.
fn key_words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a key name looks like it holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let words = key_words(key);
    let joined: String = words.concat();
    const SUBSTRINGS: [&str; 10] = [
        "password",
        "passwd",
        "secret",
        "token",
        "temporaryaccesspass",
        "authorization",
        "apikey",
        "credential",
        "cookie",
        "privatekey",
    ];
    // Whole words only for the short ones, so `tape` or `passport` stay visible.
    const WORDS: [&str; 5] = ["tap", "pwd", "pin", "otp", "auth"];
    SUBSTRINGS.iter().any(|s| joined.contains(s))
        || words.iter().any(|w| WORDS.contains(&w.as_str()))
}

/// A copy of `value` with every secret-looking key's value replaced by `"[redacted]"`.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if is_secret_key(k) {
                        Value::String(REDACTED.into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Writes `event` as an audit record (target `audit`, `audit=true`), details redacted.
/// Inside a step span the record carries `execution_id` and `worker_id` too.
pub fn audit(event: AuditEvent) {
    let details = redact(&event.details);
    let details_json = serde_json::to_string(&details).unwrap_or_else(|_| "null".into());
    tracing::info!(
        target: "audit",
        audit = true,
        actor = %event.actor,
        action = %event.action,
        resource = %event.target,
        outcome = %event.outcome,
        details_json = %details_json,
        "audit"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::{LogCapture, with_step_span};
    use serde_json::json;

    #[test]
    fn secret_like_keys_are_recognised() {
        for key in [
            "password",
            "userPassword",
            "client_secret",
            "clientSecret",
            "access_token",
            "refreshToken",
            "temporaryAccessPass",
            "TemporaryAccessPass",
            "tap",
            "tapValue",
            "Authorization",
            "x-api-key",
            "apiKey",
            "Set-Cookie",
            "pin",
        ] {
            assert!(is_secret_key(key), "{key} should be redacted");
        }
        for key in [
            "tape",
            "passport",
            "department",
            "userPrincipalName",
            "orderId",
            "pinned",
        ] {
            assert!(!is_secret_key(key), "{key} should stay visible");
        }
    }

    #[test]
    fn redaction_is_recursive_and_keeps_structure() {
        let details = json!({
            "upn": "jsmith@example.com",
            "request": {
                "headers": {"Authorization": "Bearer fake-token", "Accept": "application/json"},
                "body": [{"temporaryAccessPass": "fake-tap-123", "lifetime": 60}]
            },
            "client_secret": {"nested": "fake"}
        });
        let red = redact(&details);
        assert_eq!(red["upn"], "jsmith@example.com");
        assert_eq!(red["request"]["headers"]["Authorization"], REDACTED);
        assert_eq!(red["request"]["headers"]["Accept"], "application/json");
        assert_eq!(red["request"]["body"][0]["temporaryAccessPass"], REDACTED);
        assert_eq!(red["request"]["body"][0]["lifetime"], 60);
        assert_eq!(red["client_secret"], REDACTED);
    }

    #[tokio::test]
    async fn audit_events_are_their_own_redacted_records() {
        // GIVEN a capture and a step span
        let capture = LogCapture::new();
        let _g = capture.set_default();
        // WHEN a step audits an action whose details include a TAP
        with_step_span("exec-9", "W42", async {
            tracing::info!("not an audit line");
            audit(
                AuditEvent::new("step:issue-tap", "tap.deliver", "W42")
                    .details(json!({"channel": "slack", "tap": "fake-tap-XYZ"})),
            );
        })
        .await;
        // THEN exactly one audit record, with ids, fields and no TAP
        let records = capture.audit_records();
        assert_eq!(records.len(), 1);
        let rec = &records[0];
        assert_eq!(rec["audit"], true);
        assert_eq!(rec["actor"], "step:issue-tap");
        assert_eq!(rec["action"], "tap.deliver");
        assert_eq!(rec["resource"], "W42");
        assert_eq!(rec["outcome"], "success");
        assert_eq!(rec["details"]["channel"], "slack");
        assert_eq!(rec["details"]["tap"], REDACTED);
        assert_eq!(rec["execution_id"], "exec-9");
        assert_eq!(rec["worker_id"], "W42");
        capture.assert_absent(&["fake-tap-XYZ"]);
    }

    #[test]
    fn serialising_an_event_redacts_its_details_too() {
        let e = AuditEvent::new("a", "b", "c").details(json!({"password": "fake-pw-1"}));
        let text = serde_json::to_string(&e).unwrap();
        assert!(!text.contains("fake-pw-1"), "{text}");
        assert_eq!(e.redacted().details["password"], REDACTED);
    }

    #[test]
    fn outcome_helpers() {
        let e = AuditEvent::new("a", "b", "c");
        assert_eq!(e.outcome, "success");
        assert_eq!(e.clone().failed().outcome, "failure");
        assert_eq!(e.clone().denied().outcome, "denied");
        assert_eq!(e.skipped().outcome, "skipped");
    }
}
