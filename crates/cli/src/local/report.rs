//! What each system holds for one hire after a run, read back from the twins and the
//! ledger (not from the flow's own account of itself).
//!
//! Never shows a Temporary Access Pass: only where it went, its id and its validity.

use dayone_core::HireEvent;
use dayone_ledger::Ledger;
use dayone_sandbox::{Sandbox, Ticket};
use serde::Serialize;

use super::timeline::Style;

/// A failure notice in one line: its title, step and error (Slack markup
/// and emoji codes removed).
fn notice_summary(text: &str) -> String {
    let clean = |l: &str| {
        l.split_whitespace()
            .filter(|w| !(w.starts_with(':') && w.ends_with(':') && w.len() > 2))
            .collect::<Vec<_>>()
            .join(" ")
            .replace(['*', '`'], "")
    };
    let mut parts: Vec<String> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = clean(line);
        if i == 0 || l.starts_with("Step:") || l.starts_with("Error:") {
            parts.push(l);
        }
    }
    parts.join(" · ")
}

/// One hire's footprint in every system.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Holdings {
    /// Names the ledger holds for the worker: (sam, upn, mail, status).
    pub ledger: Option<(String, String, String, String)>,
    pub account: Option<AccountView>,
    pub taps: Vec<TapView>,
    /// Where the pass was sent: `slack DM to U…`, `email to …`.
    pub tap_sent_to: Vec<String>,
    pub writebacks: Vec<String>,
    pub tickets: Vec<String>,
    /// Messages in the IT channel (failure notices), first line only.
    pub it_notices: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub upn: String,
    pub display_name: String,
    pub id: String,
    pub manager: Option<String>,
    pub groups: Vec<String>,
    /// Enterprise applications the user is assigned to.
    pub apps: Vec<String>,
    /// How many accounts carry this worker's employeeId (1 unless something went wrong).
    pub accounts_for_worker: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TapView {
    pub id: String,
    pub start: String,
    pub lifetime_minutes: u32,
    pub usable_once: bool,
}

impl Holdings {
    /// Reads the twins and the ledger for `hire`.
    pub async fn collect(sandbox: &Sandbox, ledger: &dyn Ledger, hire: &HireEvent) -> Holdings {
        let worker = hire.worker_id.as_str();
        let mut h = Holdings::default();
        if let Ok(Some(rec)) = ledger.worker(worker).await {
            h.ledger = Some((
                rec.sam_account_name,
                rec.upn,
                rec.mail,
                format!("{:?}", rec.status).to_lowercase(),
            ));
        }
        let users = sandbox.users();
        let mine: Vec<_> = users
            .iter()
            .filter(|u| u.employee_id.as_deref() == Some(worker))
            .collect();
        if let Some(user) = mine.first() {
            let manager = user.manager_id.as_ref().and_then(|m| {
                users
                    .iter()
                    .find(|u| &u.id == m)
                    .map(|u| u.display_name.clone())
            });
            let groups = sandbox
                .memberships()
                .into_iter()
                .filter(|m| m.user_id == user.id)
                .map(|m| m.group)
                .collect();
            let apps = sandbox
                .app_role_assignments()
                .into_iter()
                .filter(|a| a.principal_id == user.id)
                .map(|a| a.resource_display_name)
                .collect();
            h.account = Some(AccountView {
                upn: user.user_principal_name.clone(),
                display_name: user.display_name.clone(),
                id: user.id.clone(),
                manager,
                groups,
                apps,
                accounts_for_worker: mine.len(),
            });
            h.taps = sandbox
                .taps_issued()
                .into_iter()
                .filter(|t| t.user_id == user.id && t.active)
                .map(|t| TapView {
                    id: t.id,
                    start: t.start_date_time,
                    lifetime_minutes: t.lifetime_in_minutes,
                    usable_once: t.is_usable_once,
                })
                .collect();
        }
        for m in sandbox.slack_messages() {
            match &m.dm_user {
                Some(user) => h.tap_sent_to.push(format!("Slack DM to {user}")),
                None => h.it_notices.push(notice_summary(&m.text)),
            }
        }
        for mail in sandbox.mails() {
            h.tap_sent_to.push(format!(
                "e-mail to {} from {}",
                mail.to.join(", "),
                mail.from
            ));
        }
        for w in sandbox.workday_writebacks() {
            if w.worker_id != worker {
                continue;
            }
            let what = match (&w.work_email, &w.username) {
                (Some(e), _) => format!("work email {e}"),
                (None, Some(u)) => format!("username {u}"),
                (None, None) => w.operation.clone(),
            };
            h.writebacks.push(format!("{what} ({})", w.operation));
        }
        for t in sandbox.tickets() {
            match t {
                Ticket::ServiceNow(r) => {
                    let text = r.fields["short_description"].as_str().unwrap_or("");
                    h.tickets
                        .push(format!("ServiceNow {} {} “{text}”", r.table, r.number));
                }
                Ticket::Jira(i) => h.tickets.push(format!("Jira {} “{}”", i.key, i.summary)),
            }
        }
        h
    }

    /// The block printed after the timeline.
    pub fn render(&self, style: Style) -> String {
        let mut out = String::new();
        let mut line = |label: &str, text: String| {
            out.push_str(&format!(
                "  {} {text}\n",
                style.bold(&format!("{label:<11}"))
            ));
        };
        let none = |s: &str| style.dim(s);
        match &self.ledger {
            Some((sam, upn, mail, status)) => line(
                "Ledger",
                format!("{sam} · {upn} · {mail} ({status}, reserved for good)"),
            ),
            None => line("Ledger", none("no names reserved")),
        }
        match &self.account {
            Some(a) => {
                let manager = a
                    .manager
                    .as_deref()
                    .map_or(String::new(), |m| format!(", manager {m}"));
                line(
                    "Entra ID",
                    format!("{} <{}>{manager}", a.display_name, a.upn),
                );
                line(
                    "",
                    format!("{} groups: {}", a.groups.len(), a.groups.join(", ")),
                );
                if !a.apps.is_empty() {
                    line("", format!("{} apps: {}", a.apps.len(), a.apps.join(", ")));
                }
                if a.accounts_for_worker > 1 {
                    line(
                        "",
                        style.red(&format!(
                            "{} accounts carry this employeeId",
                            a.accounts_for_worker
                        )),
                    );
                }
            }
            None => line("Entra ID", none("no account")),
        }
        if self.taps.is_empty() {
            line("TAP", none("no pass issued"));
        } else {
            for t in &self.taps {
                let once = if t.usable_once {
                    "one-time"
                } else {
                    "reusable"
                };
                let start = chrono::DateTime::parse_from_rfc3339(&t.start)
                    .map(|d| {
                        d.with_timezone(&chrono::Utc)
                            .format("%Y-%m-%d %H:%M UTC")
                            .to_string()
                    })
                    .unwrap_or_else(|_| t.start.clone());
                line(
                    "TAP",
                    format!(
                        "{once} pass for the manager, valid {} from {start} {}",
                        super::timeline::human_duration(u64::from(t.lifetime_minutes) * 60_000),
                        style.dim("(the pass itself is never shown)")
                    ),
                );
            }
            for to in &self.tap_sent_to {
                line("", format!("→ {to}"));
            }
        }
        if self.writebacks.is_empty() {
            line("Workday", none("nothing written back"));
        }
        for (i, w) in self.writebacks.iter().enumerate() {
            line(if i == 0 { "Workday" } else { "" }, w.clone());
        }
        if self.tickets.is_empty() {
            line("Ticket", none("no ticket"));
        }
        for (i, t) in self.tickets.iter().enumerate() {
            line(if i == 0 { "Ticket" } else { "" }, t.clone());
        }
        for (i, n) in self.it_notices.iter().enumerate() {
            line(if i == 0 { "IT notified" } else { "" }, style.red(n));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_notice_reads_as_one_line() {
        let text = ":rotating_light: *Joiner flow failed*\n*Execution:* `arn:x`\n*Step:* CreateTicket\n*Error:* `Dayone.TargetRejected`\n*Next:* Read the cause.";
        assert_eq!(
            notice_summary(text),
            "Joiner flow failed · Step: CreateTicket · Error: Dayone.TargetRejected"
        );
    }
}
