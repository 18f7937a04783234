//! What the equipment ticket says, which hardware it asks for, and the key that makes a re-run
//! find the ticket it already opened. No I/O here.

use dayone_core::hire::HireEvent;
use dayone_core::names::AllocatedNames;

/// The idempotency key of a hire's equipment request.
///
/// It is derived from the hire event, not from the execution: a second execution for the same
/// event (a re-run after a failure) must find the first ticket, while a rehire (a new event)
/// rightly gets a new one. ServiceNow keeps it in `correlation_id` (at most 100 characters) and
/// Jira as the label `dayone-<key>` (no spaces), so ids with other characters, or too long, are
/// replaced by a stable digest rather than silently altered into someone else's key.
pub fn correlation_key(hire: &HireEvent) -> String {
    let plain = format!("joiner:{}:{}:equipment", hire.worker_id, hire.event_id);
    let safe = plain.len() <= 90
        && plain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if safe {
        plain
    } else {
        const NAMESPACE: uuid::Uuid =
            uuid::Uuid::from_u128(0x0b7c_51e4_6a2d_4f38_9e01_c4d2_7f6a_b913);
        let digest = uuid::Uuid::new_v5(&NAMESPACE, plain.as_bytes())
            .simple()
            .to_string();
        format!("joiner:{digest}:equipment")
    }
}

/// The text of the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketText {
    pub summary: String,
    pub description: String,
}

/// The summary and description of the equipment request.
pub fn ticket_text(
    hire: &HireEvent,
    names: &AllocatedNames,
    hardware: &str,
    key: &str,
) -> TicketText {
    let role = hire.job_title.as_deref().unwrap_or("(no job title)");
    let location = hire.location.as_deref().unwrap_or("(no location)");
    let summary = format!(
        "New hire equipment: {} ({role}, {location}), starts {}",
        names.display_name, hire.hire_date
    );
    let mut lines = vec![
        format!("Please prepare equipment for a new {}.", hire.worker_type),
        String::new(),
        format!("Name: {}", names.display_name),
        format!("Username: {}", names.upn),
        format!("Email: {}", names.mail),
        format!("Start date: {}", hire.hire_date.format("%A %-d %B %Y")),
        format!("Role: {role}"),
        format!("Department: {}", hire.department),
        format!("Location: {location} ({})", hire.country),
    ];
    if let Some(cc) = &hire.cost_center {
        lines.push(format!("Cost center: {cc}"));
    }
    if let Some(manager) = &hire.manager_email {
        lines.push(format!("Manager: {manager}"));
    }
    lines.push(format!("Hardware profile: {hardware}"));
    lines.push(String::new());
    lines.push(format!("Worker id: {}", hire.worker_id));
    lines.push(format!("Reference: {key} (opened by dayone)"));
    TicketText {
        summary,
        description: lines.join("\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hire() -> HireEvent {
        HireEvent::parse(
            r#"{"eventId":"EVT-2026-11-0001","workerId":"21001","workerType":"employee",
                "legalName":{"first":"Ada","middle":"Augusta","last":"Lovelace"},
                "hireDate":"2026-12-01","timezone":"Europe/London","department":"Engineering",
                "costCenter":"CC-4100","location":"London","country":"GB",
                "jobTitle":"Software Engineer","managerEmail":"grace.hopper@contoso.com"}"#,
        )
        .unwrap()
    }

    fn names() -> AllocatedNames {
        AllocatedNames {
            sam_account_name: "alovelace".into(),
            upn: "alovelace@contoso.com".into(),
            mail: "ada.lovelace@contoso.com".into(),
            display_name: "Ada Lovelace".into(),
            cn: "Ada Lovelace".into(),
        }
    }

    #[test]
    fn the_key_is_stable_for_an_event_and_safe_as_a_jira_label() {
        let key = correlation_key(&hire());
        assert_eq!(key, "joiner:21001:EVT-2026-11-0001:equipment");
        assert!(!key.contains(' '));
        assert_eq!(key, correlation_key(&hire()));
    }

    #[test]
    fn odd_or_long_ids_become_a_stable_digest() {
        let mut h = hire();
        h.event_id = "EVT/2026/11@0001".parse().unwrap();
        let key = correlation_key(&h);
        assert!(key.starts_with("joiner:") && key.ends_with(":equipment"));
        assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || c == ':'));
        assert_eq!(key, correlation_key(&h));
        assert_ne!(key, correlation_key(&hire()));
    }

    #[test]
    fn the_ticket_names_the_hire_start_date_location_and_role() {
        let text = ticket_text(&hire(), &names(), "macbook-pro-16", "k");
        assert_eq!(
            text.summary,
            "New hire equipment: Ada Lovelace (Software Engineer, London), starts 2026-12-01"
        );
        for expected in [
            "Name: Ada Lovelace",
            "Start date: Tuesday 1 December 2026",
            "Role: Software Engineer",
            "Location: London (GB)",
            "Hardware profile: macbook-pro-16",
            "Manager: grace.hopper@contoso.com",
            "Reference: k",
        ] {
            assert!(text.description.contains(expected), "missing {expected}");
        }
    }
}
