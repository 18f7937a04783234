//! Recording accounts that exist before dayone does. A directory that already
//! holds `jsmith` must not be offered `jsmith` again, and a former employee's
//! name must never come back: importing them makes the ledger know what the
//! directory knows, with the same records allocation writes.

use chrono::Utc;
use dayone_core::Namespace;
use serde::{Deserialize, Serialize};

use crate::LedgerError;
use crate::engine::{MAX_ATTEMPTS, Store};
use crate::record::{
    NameRecord, NameStatus, StoredItem, TransactError, WorkerRecord, Write, check_key, name_key,
    suffix_key, worker_key,
};

/// The execution id recorded on every item an import writes.
pub const IMPORT_EXECUTION: &str = "import";

/// Longest sAMAccountName Active Directory accepts.
const MAX_SAM_CHARS: usize = 20;

/// One account already in the directory, owned by `worker_id` (for accounts
/// that are not a worker's, such as shared mailboxes or service accounts, any
/// stable id that cannot be a Workday worker id). Other fields of an export
/// (displayName, department…) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExistingAccount {
    pub worker_id: String,
    pub sam_account_name: String,
    pub upn: String,
    /// The primary SMTP address; when absent the UPN is reserved as mail too.
    #[serde(default)]
    pub mail: Option<String>,
    /// `tombstoned` for a former employee's account: kept forever, never reused,
    /// given back only if that worker is rehired. Default `active`.
    #[serde(default = "active")]
    pub status: NameStatus,
}

fn active() -> NameStatus {
    NameStatus::Active
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImportOutcome {
    /// The account's names are now held by its worker.
    Imported,
    /// The ledger already held exactly this account; nothing was written.
    Unchanged,
}

impl ExistingAccount {
    /// The mail name reserved for this account.
    pub fn mail_or_upn(&self) -> &str {
        self.mail.as_deref().unwrap_or(&self.upn)
    }

    fn name_in(&self, ns: Namespace) -> &str {
        match ns {
            Namespace::Sam => &self.sam_account_name,
            Namespace::Upn => &self.upn,
            Namespace::Mail => self.mail_or_upn(),
        }
    }

    /// Field-level checks; the message names the field and the value's problem.
    pub fn validate(&self) -> Result<(), LedgerError> {
        let bad = |field: &str, problem: String| {
            Err(LedgerError::InvalidInput(format!("{field}: {problem}")))
        };
        if self.worker_id.trim().is_empty() {
            return bad("workerId", "is empty".into());
        }
        let sam = &self.sam_account_name;
        if sam.trim().is_empty() {
            return bad("samAccountName", "is empty".into());
        }
        if sam.chars().count() > MAX_SAM_CHARS {
            return bad(
                "samAccountName",
                format!("'{sam}' is longer than {MAX_SAM_CHARS} characters"),
            );
        }
        if let Some(c) = sam
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || "\"/\\[]:;|=,+*?<>@".contains(*c))
        {
            return bad(
                "samAccountName",
                format!("'{sam}' contains {c:?}, which Active Directory does not allow"),
            );
        }
        check_address("upn", &self.upn)?;
        if let Some(mail) = &self.mail {
            check_address("mail", mail)?;
        }
        Ok(())
    }
}

fn check_address(field: &str, value: &str) -> Result<(), LedgerError> {
    let ok = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(LedgerError::InvalidInput(format!(
            "{field}: '{value}' is not an address of the form local@domain"
        )))
    }
}

/// Records `account`; `suffix_start` is the policy's first numeric suffix, so
/// that an imported `jsmith7` moves the `jsmith` suffix counter past 7.
pub(crate) async fn import<S: Store + ?Sized>(
    store: &S,
    account: &ExistingAccount,
    suffix_start: u64,
) -> Result<ImportOutcome, LedgerError> {
    account.validate()?;
    let worker_id = account.worker_id.as_str();
    let wkey = worker_key(worker_id);
    check_key(&wkey)?;
    let mut keys = vec![wkey.clone()];
    for ns in Namespace::ALL {
        let key = name_key(ns, account.name_in(ns));
        check_key(&key)?;
        keys.push(key);
    }

    let mut outcome = None;
    for _ in 0..MAX_ATTEMPTS {
        let (items, _) = store.get_many(&keys).await?;
        if let Some(found) = already_recorded(&items, &wkey, account)? {
            outcome = Some(found);
            break;
        }
        match store.transact(&records(account)).await {
            Ok(()) => {
                outcome = Some(ImportOutcome::Imported);
                break;
            }
            // Something was written between the read and the write: read again,
            // which explains the conflict (or finds this very account).
            Err(TransactError::Conflict(_)) => continue,
            Err(TransactError::Failed(e)) => return Err(e),
        }
    }
    let outcome = outcome.ok_or(LedgerError::Contention {
        attempts: MAX_ATTEMPTS,
    })?;
    if let Some((stem, at_least)) = suffix_floor(&account.sam_account_name, suffix_start)
        && check_key(&suffix_key(&stem)).is_ok()
    {
        store.raise_suffix(&stem, at_least).await?;
    }
    Ok(outcome)
}

/// `Some(Unchanged)` when the ledger holds exactly this account already; an
/// error naming the holder when any of its names, or its worker, is already
/// recorded differently; `None` when it can be written.
fn already_recorded(
    items: &std::collections::HashMap<String, StoredItem>,
    wkey: &str,
    account: &ExistingAccount,
) -> Result<Option<ImportOutcome>, LedgerError> {
    let mut conflicts = Vec::new();
    for ns in Namespace::ALL {
        let value = account.name_in(ns);
        if let Some(StoredItem::Name(rec)) = items.get(&name_key(ns, value))
            && rec.owner != account.worker_id
        {
            conflicts.push(format!(
                "{} {value} is already held by worker {} ({})",
                ns.as_str(),
                rec.owner,
                rec.status.as_str()
            ));
        }
    }
    if let Some(StoredItem::Worker(held)) = items.get(wkey) {
        let same = Namespace::ALL
            .into_iter()
            .all(|ns| held.name_in(ns).eq_ignore_ascii_case(account.name_in(ns)));
        if !same {
            conflicts.push(format!(
                "worker {} already holds {} / {} / {}",
                held.worker_id, held.sam_account_name, held.upn, held.mail
            ));
        } else if held.status != account.status && conflicts.is_empty() {
            conflicts.push(format!(
                "worker {} is recorded as {}, not {}; a rehire reactivates names and a leaver tombstones them",
                held.worker_id,
                held.status.as_str(),
                account.status.as_str()
            ));
        } else if conflicts.is_empty() {
            return Ok(Some(ImportOutcome::Unchanged));
        }
    }
    if conflicts.is_empty() {
        Ok(None)
    } else {
        Err(LedgerError::AlreadyRecorded(conflicts.join("; ")))
    }
}

fn records(account: &ExistingAccount) -> Vec<Write> {
    let when = Utc::now();
    let mut writes: Vec<Write> = Namespace::ALL
        .into_iter()
        .map(|ns| {
            Write::InsertName(NameRecord {
                namespace: ns,
                value: account.name_in(ns).to_string(),
                owner: account.worker_id.clone(),
                status: account.status,
                when,
                execution: IMPORT_EXECUTION.to_string(),
            })
        })
        .collect();
    writes.push(Write::InsertWorker(WorkerRecord {
        worker_id: account.worker_id.clone(),
        sam_account_name: account.sam_account_name.clone(),
        upn: account.upn.clone(),
        mail: account.mail_or_upn().to_string(),
        status: account.status,
        when,
        execution: IMPORT_EXECUTION.to_string(),
    }));
    writes
}

/// For a name ending in digits (`jsmith7`): its stem and the lowest value the
/// stem's suffix counter must hold so the next suffix handed out is above
/// them. The counter's value `c` stands for suffix `c - 2 + start`.
fn suffix_floor(sam: &str, suffix_start: u64) -> Option<(String, u64)> {
    let stem = sam.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &sam[stem.len()..];
    if stem.is_empty() || digits.is_empty() || digits.len() > 7 {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    if n < suffix_start {
        return None;
    }
    Some((stem.to_lowercase(), n + 2 - suffix_start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_suffixed_name_moves_its_stem_counter_past_it() {
        // start 2: the counter's value c hands out suffix c, so jsmith7 needs c >= 7.
        assert_eq!(suffix_floor("JSmith7", 2), Some(("jsmith".into(), 7)));
        // start 1: c stands for c - 1, so jsmith7 needs c >= 8.
        assert_eq!(suffix_floor("jsmith7", 1), Some(("jsmith".into(), 8)));
        assert_eq!(suffix_floor("jsmith", 2), None);
        assert_eq!(suffix_floor("jsmith1", 2), None, "below the first suffix");
        assert_eq!(suffix_floor("1234", 2), None, "no stem");
    }

    fn account() -> ExistingAccount {
        ExistingAccount {
            worker_id: "W1".into(),
            sam_account_name: "jsmith".into(),
            upn: "jsmith@contoso.com".into(),
            mail: None,
            status: NameStatus::Active,
        }
    }

    #[test]
    fn bad_accounts_name_the_field() {
        type Change = fn(&mut ExistingAccount);
        let cases: Vec<(Change, &str)> = vec![
            (|a| a.worker_id = " ".into(), "workerId: is empty"),
            (
                |a| a.sam_account_name = "".into(),
                "samAccountName: is empty",
            ),
            (
                |a| a.sam_account_name = "abcdefghijklmnopqrstu".into(),
                "longer than 20",
            ),
            (|a| a.sam_account_name = "j smith".into(), "contains ' '"),
            (|a| a.sam_account_name = "j/smith".into(), "contains '/'"),
            (
                |a| a.upn = "jsmith".into(),
                "upn: 'jsmith' is not an address",
            ),
            (|a| a.upn = "@contoso.com".into(), "upn:"),
            (|a| a.mail = Some("a@b@c".into()), "mail:"),
        ];
        for (change, want) in cases {
            let mut a = account();
            change(&mut a);
            let err = a.validate().unwrap_err();
            assert!(err.to_string().contains(want), "{err} should say {want}");
            assert_eq!(
                err.step_error_name(),
                dayone_core::StepErrorName::InvalidHire
            );
        }
        account().validate().unwrap();
    }
}
