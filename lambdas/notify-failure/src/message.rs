//! The text IT reads in its channel, and the scrubbing that keeps secrets out of it.
//!
//! The cause comes from another step's error as Step Functions recorded it. dayone's own steps
//! never put a secret in an error, but a target's error body or a third-party function might, so
//! the cause is scrubbed of anything shaped like a credential before it leaves this Lambda.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a scrubbed value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// The longest cause put into the message; Step Functions causes can be 32 KB of stack trace.
pub const MAX_CAUSE_CHARS: usize = 1_000;

static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    // `password=…`, `"client_secret": "…"`, `temporaryAccessPass:…`, `api-key: …`
    Regex::new(
        r#"(?i)("?\b(?:password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|id_token|api[_-]?key|apikey|temporaryaccesspass|authorization|signature|x-dayone-signature)"?\s*[:=]\s*"?)([^"\s,&;}<]+)"#,
    )
    .expect("static regex")
});

static AUTH_SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}").expect("static regex")
});

static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*").expect("static regex")
});

static SLACK_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9-]+").expect("static regex"));

static XML_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    // WS-Security <wsse:Password Type="…">…</wsse:Password> and friends.
    Regex::new(
        r"(?is)(<(?:[A-Za-z0-9_]+:)?(?:Password|Nonce|BinarySecurityToken)\b[^>]*>)(.*?)(</)",
    )
    .expect("static regex")
});

static LONG_OPAQUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9+/_=]{40,}").expect("static regex"));

/// Remove anything that looks like a credential from `text`, and cap its length.
pub fn scrub(text: &str) -> String {
    let text = scrub_shaped(text);
    let text = LONG_OPAQUE.replace_all(&text, REDACTED);
    truncate(&text, MAX_CAUSE_CHARS)
}

/// Only the credential *shapes* (keys, schemes, token prefixes, XML elements). Identifiers go
/// through this alone: an execution name may end in a long hash, and IT needs to see it whole.
fn scrub_shaped(text: &str) -> String {
    let text = XML_SECRET.replace_all(text, |c: &Captures| format!("{}{REDACTED}{}", &c[1], &c[3]));
    let text = JWT.replace_all(&text, REDACTED);
    let text = SLACK_TOKEN.replace_all(&text, REDACTED);
    let text = AUTH_SCHEME.replace_all(&text, |c: &Captures| format!("{} {REDACTED}", &c[1]));
    KEY_VALUE
        .replace_all(&text, |c: &Captures| format!("{}{REDACTED}", &c[1]))
        .into_owned()
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}… (truncated)", &text[..cut]),
        None => text.to_string(),
    }
}

/// Step Functions records a Lambda failure's cause as the JSON the runtime returned
/// (`{"errorType","errorMessage",…}`); the message is what a person wants to read.
pub fn readable_cause(cause: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(cause) {
        Ok(serde_json::Value::Object(map)) => map
            .get("errorMessage")
            .or_else(|| map.get("message"))
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| cause.to_string()),
        _ => cause.to_string(),
    }
}

/// What IT should do next, by the error name the failed step reported.
pub fn next_step_hint(error: &str) -> &'static str {
    match error {
        "Dayone.Retryable" | "Dayone.Throttled" | "States.Timeout" => {
            "The target kept failing after every retry. Check its status, then re-run the execution; finished steps will not be repeated."
        }
        "Dayone.InvalidHire" => {
            "The hire record is wrong or incomplete. Fix it in Workday and send the hire again."
        }
        "Dayone.UsernameExhausted" => {
            "No username could be allocated under the policy. Add a rule or raise a limit in dayone.toml [username], then re-run."
        }
        "Dayone.TargetRejected" => {
            "The target refused the request. Read the cause, fix the data or the target, then re-run."
        }
        "Dayone.Unauthorized" => {
            "Credentials were refused or lack a permission. Check the secret and the app's permissions, then re-run."
        }
        "Dayone.EgressDenied" => {
            "A step called a host outside its egress allowlist. Fix dayone.toml [functions] or the step, then re-run."
        }
        "Dayone.Misconfigured" => {
            "Configuration or a secret is missing or invalid. Fix it (see the cause), then re-run."
        }
        _ => "Read the cause and the execution history, then re-run the execution once fixed.",
    }
}

/// Everything the IT message says.
#[derive(Debug, Clone)]
pub struct FailureNotice<'a> {
    pub execution_id: &'a str,
    pub worker_id: Option<&'a str>,
    pub step: &'a str,
    pub error: &'a str,
    pub cause: Option<&'a str>,
}

impl FailureNotice<'_> {
    /// The message text (Slack mrkdwn), scrubbed.
    pub fn text(&self) -> String {
        let mut lines = vec![
            ":rotating_light: *Joiner flow failed*".to_string(),
            format!("*Execution:* `{}`", scrub_inline(self.execution_id)),
        ];
        if let Some(worker) = self.worker_id.filter(|w| !w.is_empty()) {
            lines.push(format!("*Worker:* `{}`", scrub_inline(worker)));
        }
        lines.push(format!("*Step:* {}", scrub_inline(self.step)));
        lines.push(format!("*Error:* `{}`", scrub_inline(self.error)));
        if let Some(cause) = self.cause.filter(|c| !c.trim().is_empty()) {
            lines.push(format!(
                "*Cause:* {}",
                slack_escape(&scrub(&readable_cause(cause)))
            ));
        }
        lines.push(format!("*Next:* {}", next_step_hint(self.error)));
        lines.join("\n")
    }
}

/// Slack reads `<…>` as links and mentions (`<!channel>`) and `&` as an entity: text from a
/// failure payload is escaped so it can only ever be shown, never ping or link.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Identifiers are short; scrub them too (they come from the same untrusted payload) and keep
/// them on one line.
fn scrub_inline(value: &str) -> String {
    let one_line: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    slack_escape(&truncate(&scrub_shaped(&one_line), 200))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_and_jwts_are_removed() {
        let cause = "401 from graph: Authorization: Bearer eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQiOiJodHRwczov.sig-nature_x";
        let s = scrub(cause);
        assert!(!s.contains("eyJ"), "{s}");
        assert!(s.contains("[redacted]"));
        assert!(s.starts_with("401 from graph"));
    }

    #[test]
    fn slack_tokens_are_removed() {
        let s = scrub("slack refused token xoxb-1234-5678-FAKEfakeFAKE");
        assert!(!s.contains("xoxb-"), "{s}");
    }

    #[test]
    fn key_value_secrets_are_removed_but_the_key_is_kept() {
        let s = scrub(
            r#"body {"temporaryAccessPass":"+drkzqAD","password": "Hunter2!x", client_secret=abc.def}"#,
        );
        assert!(!s.contains("+drkzqAD"), "{s}");
        assert!(!s.contains("Hunter2!x"), "{s}");
        assert!(!s.contains("abc.def"), "{s}");
        assert!(s.contains("temporaryAccessPass"));
        assert!(s.contains("password"));
    }

    #[test]
    fn ws_security_passwords_are_removed() {
        let s = scrub(
            r#"<wsse:Password Type="…#PasswordText">fake-isu-password</wsse:Password> fault: Invalid ID value"#,
        );
        assert!(!s.contains("fake-isu-password"), "{s}");
        assert!(s.contains("Invalid ID value"));
    }

    #[test]
    fn ordinary_error_text_survives() {
        let cause = "Graph returned 503 Service Unavailable for POST /v1.0/users (request-id 5c1d4a0e-1b2c-4d5e-8f90-a1b2c3d4e5f6)";
        assert_eq!(scrub(cause), cause);
    }

    #[test]
    fn long_causes_are_truncated() {
        let s = scrub(&"stack frame\n".repeat(500));
        assert!(s.chars().count() < MAX_CAUSE_CHARS + 20);
        assert!(s.ends_with("(truncated)"));
    }

    #[test]
    fn lambda_error_json_is_reduced_to_its_message() {
        let cause = r#"{"errorType":"Dayone.Throttled","errorMessage":"Graph throttled us (retry after 7s)","trace":[]}"#;
        assert_eq!(readable_cause(cause), "Graph throttled us (retry after 7s)");
        assert_eq!(readable_cause("plain text"), "plain text");
    }

    #[test]
    fn a_hashed_execution_name_is_shown_whole() {
        let name = "w21001-eEVT-2026-11-0001-0123456789abcdef0123456789abcdef0123456789abcdef";
        let text = FailureNotice {
            execution_id: name,
            worker_id: Some("21001"),
            step: "CreateTicket",
            error: "Dayone.Retryable",
            cause: None,
        }
        .text();
        assert!(text.contains(name), "{text}");
    }

    #[test]
    fn text_from_the_payload_cannot_ping_or_link() {
        let text = FailureNotice {
            execution_id: "exec-1",
            worker_id: None,
            step: "<!channel>",
            error: "Dayone.Retryable",
            cause: Some("see <https://evil.example|your bank> & <!here>"),
        }
        .text();
        assert!(!text.contains("<!channel>"));
        assert!(!text.contains("<!here>"));
        assert!(!text.contains("<https://"));
        assert!(text.contains("&lt;!channel&gt;"));
        assert!(text.contains("&amp;"));
    }

    #[test]
    fn the_notice_names_execution_step_and_error() {
        let text = FailureNotice {
            execution_id: "21001-EVT-2026-11-0001",
            worker_id: Some("21001"),
            step: "CreateTicket",
            error: "Dayone.TargetRejected",
            cause: Some(r#"{"errorMessage":"ServiceNow said 403 (password=letmein)"}"#),
        }
        .text();
        assert!(text.contains("21001-EVT-2026-11-0001"));
        assert!(text.contains("CreateTicket"));
        assert!(text.contains("Dayone.TargetRejected"));
        assert!(text.contains("ServiceNow said 403"));
        assert!(!text.contains("letmein"));
        assert!(text.contains("fix the data or the target"));
    }
}
