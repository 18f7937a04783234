//! What the ledger stores, and the keys it stores it under. Both adapters use
//! the same single-table layout: one partition key `pk` and these item kinds.

use chrono::{DateTime, SecondsFormat, Utc};
use dayone_core::Namespace;
use serde::{Deserialize, Serialize};

use crate::LedgerError;

/// DynamoDB caps a partition key at 2048 bytes; stay well below so a key
/// built from HR data can never be rejected half-way through a transaction.
const MAX_KEY_BYTES: usize = 1024;

/// Whether a name (or a worker's whole set of names) is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NameStatus {
    Active,
    /// The worker left. The name stays theirs forever and comes back on rehire.
    Tombstoned,
}

impl NameStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NameStatus::Active => "active",
            NameStatus::Tombstoned => "tombstoned",
        }
    }

    pub(crate) fn parse(key: &str, s: &str) -> Result<Self, LedgerError> {
        match s {
            "active" => Ok(NameStatus::Active),
            "tombstoned" => Ok(NameStatus::Tombstoned),
            other => Err(LedgerError::Corrupt {
                key: key.to_string(),
                problem: format!("unknown status '{other}'"),
            }),
        }
    }
}

/// `NAME#<namespace>#<lowercased value>`: who holds one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameRecord {
    pub namespace: Namespace,
    /// Lowercased, as compared.
    pub value: String,
    pub owner: String,
    pub status: NameStatus,
    pub when: DateTime<Utc>,
    /// The execution that last changed the record (allocation or tombstone).
    pub execution: String,
}

/// `WORKER#<workerId>`: the names a worker holds, so a retry or a rehire gets
/// them back without consulting the policy again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkerRecord {
    pub worker_id: String,
    pub sam_account_name: String,
    pub upn: String,
    pub mail: String,
    pub status: NameStatus,
    pub when: DateTime<Utc>,
    pub execution: String,
}

impl WorkerRecord {
    pub(crate) fn name_in(&self, ns: Namespace) -> &str {
        match ns {
            Namespace::Sam => &self.sam_account_name,
            Namespace::Upn => &self.upn,
            Namespace::Mail => &self.mail,
        }
    }
}

/// Any item read back from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredItem {
    Name(NameRecord),
    Worker(WorkerRecord),
    /// `SUFFIX#<suffix key>`: the next numeric suffix to hand out.
    Suffix(u64),
}

/// One conditional write; a transaction is a list of them, applied all or none.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    /// Create a name; fails when the name exists in any state.
    InsertName(NameRecord),
    /// Create a worker's record; fails when the worker already has one.
    InsertWorker(WorkerRecord),
    /// Change a name's status; fails unless `owner` holds it.
    SetNameStatus {
        namespace: Namespace,
        value: String,
        owner: String,
        status: NameStatus,
        when: DateTime<Utc>,
        execution: String,
    },
    /// Change a worker's status; fails unless the record is in state `from`.
    SetWorkerStatus {
        worker_id: String,
        from: NameStatus,
        to: NameStatus,
        when: DateTime<Utc>,
        execution: String,
    },
}

impl Write {
    pub(crate) fn key(&self) -> String {
        match self {
            Write::InsertName(r) => name_key(r.namespace, &r.value),
            Write::InsertWorker(r) => worker_key(&r.worker_id),
            Write::SetNameStatus {
                namespace, value, ..
            } => name_key(*namespace, value),
            Write::SetWorkerStatus { worker_id, .. } => worker_key(worker_id),
        }
    }
}

/// Why a transaction did not apply.
#[derive(Debug)]
pub(crate) enum TransactError {
    /// Some conditions failed. Each entry is the key and, when the store
    /// returned it, the item that is there now; `None` means "read it again".
    Conflict(Vec<(String, Option<StoredItem>)>),
    Failed(LedgerError),
}

impl From<LedgerError> for TransactError {
    fn from(e: LedgerError) -> Self {
        TransactError::Failed(e)
    }
}

pub(crate) const NAME_PREFIX: &str = "NAME#";
pub(crate) const WORKER_PREFIX: &str = "WORKER#";
pub(crate) const SUFFIX_PREFIX: &str = "SUFFIX#";

pub(crate) fn name_key(ns: Namespace, value: &str) -> String {
    format!("{NAME_PREFIX}{}#{}", ns.as_str(), value.to_lowercase())
}

pub(crate) fn worker_key(worker_id: &str) -> String {
    format!("{WORKER_PREFIX}{worker_id}")
}

pub(crate) fn suffix_key(key: &str) -> String {
    format!("{SUFFIX_PREFIX}{}", key.to_lowercase())
}

/// Splits `NAME#<ns>#<value>` back into its parts.
pub(crate) fn parse_name_key(key: &str) -> Result<(Namespace, String), LedgerError> {
    let corrupt = |problem: &str| LedgerError::Corrupt {
        key: key.to_string(),
        problem: problem.to_string(),
    };
    let rest = key
        .strip_prefix(NAME_PREFIX)
        .ok_or_else(|| corrupt("not a NAME# key"))?;
    let (ns, value) = rest
        .split_once('#')
        .ok_or_else(|| corrupt("no namespace"))?;
    let ns = Namespace::ALL
        .into_iter()
        .find(|n| n.as_str() == ns)
        .ok_or_else(|| corrupt("unknown namespace"))?;
    Ok((ns, value.to_string()))
}

/// Keys are built from HR data: refuse ones no store could hold.
pub(crate) fn check_key(key: &str) -> Result<(), LedgerError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(LedgerError::InvalidInput(format!(
            "a ledger key would be {} bytes long (limit {MAX_KEY_BYTES}); shorten the name rules or the worker id",
            key.len()
        )));
    }
    Ok(())
}

pub(crate) fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_time(key: &str, s: &str) -> Result<DateTime<Utc>, LedgerError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| LedgerError::Corrupt {
            key: key.to_string(),
            problem: format!("bad timestamp '{s}': {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_keys_are_lowercased_and_round_trip() {
        let key = name_key(Namespace::Upn, "John.Smith@Contoso.com");
        assert_eq!(key, "NAME#upn#john.smith@contoso.com");
        assert_eq!(
            parse_name_key(&key).unwrap(),
            (Namespace::Upn, "john.smith@contoso.com".to_string())
        );
    }

    #[test]
    fn a_value_containing_the_separator_still_parses() {
        let key = name_key(Namespace::Sam, "a#b");
        assert_eq!(parse_name_key(&key).unwrap().1, "a#b");
    }

    #[test]
    fn oversized_keys_are_refused_with_advice() {
        let err = check_key(&"x".repeat(5000)).unwrap_err();
        assert!(err.to_string().contains("shorten"), "{err}");
    }
}
