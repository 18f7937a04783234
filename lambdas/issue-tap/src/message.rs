//! What the manager receives, and the receipt id that ties a message to an execution.
//!
//! This is the only place a pass value is put into text, and that text is handed straight to the
//! delivery call. The types here keep it that way: [`PassMessage`] does not implement `Display`,
//! and its `Debug` shows only the receipt id.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// The receipt id of an execution: stable across re-runs, so a manager who receives two messages
/// can tell whether they are the same delivery, and IT can find the execution from a message.
pub fn receipt_id(execution_id: &str) -> String {
    // UUIDv5 (SHA-1 of a fixed namespace + the execution id): deterministic, short, no secret.
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6a3f_0e2c_9d4b_4c1e_8a57_d1f0_2b9e_7c41);
    let id = uuid::Uuid::new_v5(&NAMESPACE, execution_id.as_bytes());
    format!("TAP-{}", &id.simple().to_string()[..12].to_uppercase())
}

/// Who the pass is for and when it works. No secret in here.
#[derive(Debug, Clone)]
pub struct PassFacts<'a> {
    pub display_name: &'a str,
    pub upn: &'a str,
    pub hire_date: chrono::NaiveDate,
    pub usable_from: DateTime<Utc>,
    pub zone: Tz,
    pub lifetime_in_minutes: u32,
    pub is_usable_once: bool,
    pub receipt_id: &'a str,
}

/// A message carrying a pass. Built, sent, dropped; never printed.
pub struct PassMessage {
    pub subject: String,
    text: String,
}

impl PassMessage {
    /// The body, for the delivery call only.
    pub fn text(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Debug for PassMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassMessage")
            .field("subject", &self.subject)
            .field("text", &"[redacted: contains a Temporary Access Pass]")
            .finish()
    }
}

fn lifetime_words(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} minutes"),
        (1, 0) => "1 hour".to_string(),
        (h, 0) => format!("{h} hours"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The message for the manager. `pass` is the value Graph returned.
pub fn pass_message(facts: &PassFacts<'_>, pass: &str) -> PassMessage {
    let local = facts.usable_from.with_timezone(&facts.zone);
    let usage = if facts.is_usable_once {
        "It works for one sign-in only."
    } else {
        "It can be used several times until it expires."
    };
    let text = format!(
        "Hello,\n\n\
         {name} ({upn}) starts on {date}. To sign in for the first time they need this \
         Temporary Access Pass:\n\n\
         {pass}\n\n\
         It is valid from {from} ({zone}) for {lifetime}. {usage}\n\
         Please give it to {name} in person or by phone on their first day. Do not forward this \
         message or paste the pass anywhere else.\n\n\
         Receipt {receipt} (sent by dayone; quote it to IT if anything looks wrong).",
        name = facts.display_name,
        upn = facts.upn,
        date = facts.hire_date.format("%A %-d %B %Y"),
        from = local.format("%Y-%m-%d %H:%M"),
        zone = facts.zone.name(),
        lifetime = lifetime_words(facts.lifetime_in_minutes),
        receipt = facts.receipt_id,
    );
    PassMessage {
        subject: format!(
            "Temporary Access Pass for {} (receipt {})",
            facts.display_name, facts.receipt_id
        ),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(receipt: &str) -> PassFacts<'_> {
        PassFacts {
            display_name: "Ada Lovelace",
            upn: "alovelace@contoso.com",
            hire_date: chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            usable_from: DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            zone: "Europe/London".parse().unwrap(),
            lifetime_in_minutes: 480,
            is_usable_once: true,
            receipt_id: receipt,
        }
    }

    #[test]
    fn receipt_ids_are_stable_per_execution_and_distinct_across_executions() {
        assert_eq!(receipt_id("exec-1"), receipt_id("exec-1"));
        assert_ne!(receipt_id("exec-1"), receipt_id("exec-2"));
        assert!(receipt_id("exec-1").starts_with("TAP-"));
        assert_eq!(receipt_id("exec-1").len(), 16);
    }

    #[test]
    fn the_message_tells_the_manager_who_when_and_how_long() {
        let receipt = receipt_id("exec-1");
        let m = pass_message(&facts(&receipt), "FAKE-pass-1");
        let text = m.text();
        assert!(
            text.contains("Ada Lovelace (alovelace@contoso.com) starts on Tuesday 1 December 2026")
        );
        assert!(text.contains("FAKE-pass-1"));
        assert!(text.contains("valid from 2026-12-01 08:00 (Europe/London) for 8 hours"));
        assert!(text.contains("one sign-in only"));
        assert!(text.contains(&receipt));
        assert!(m.subject.contains(&receipt));
        assert!(!m.subject.contains("FAKE-pass-1"));
    }

    #[test]
    fn debug_output_of_a_message_hides_the_pass() {
        let receipt = receipt_id("exec-1");
        let m = pass_message(&facts(&receipt), "FAKE-pass-1");
        assert!(!format!("{m:?}").contains("FAKE-pass-1"));
    }

    #[test]
    fn lifetimes_read_naturally() {
        assert_eq!(lifetime_words(45), "45 minutes");
        assert_eq!(lifetime_words(60), "1 hour");
        assert_eq!(lifetime_words(480), "8 hours");
        assert_eq!(lifetime_words(90), "1 h 30 min");
    }
}
