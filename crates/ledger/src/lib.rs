//! The username ledger: which worker holds which sAMAccountName, UPN and mail,
//! forever.
//!
//! - [`Ledger`] is the port. [`Ledger::allocate`] turns a
//!   [`UsernamePlan`](dayone_core::UsernamePlan) (what the policy proposes)
//!   into an [`Allocation`] (what the worker gets, with the trace of why) in a
//!   constant number of store round trips, whatever the number of namesakes.
//! - [`SqliteLedger`] is the embedded default (`.dayone/ledger.sqlite`), safe
//!   with several processes on one file; [`DynamoLedger`] is the AWS adapter.
//!   Both run the same algorithm (`engine`) and the same conformance suite.
//! - [`open_ledger`] builds either from a `sqlite:PATH` / `dynamodb:TABLE` spec.
//!
//! Semantics: all names of one hire are reserved in one all-or-nothing
//! conditional write; a `WORKER#` item makes retries and rehires return the
//! same names; names are never deleted, only tombstoned, and a tombstoned name
//! belongs to its former worker forever. Accounts that exist before dayone
//! are recorded with [`Ledger::import`].

mod dynamo;
mod engine;
mod error;
mod import;
mod record;
mod sqlite;

use async_trait::async_trait;
use dayone_core::{AllocatedNames, Namespace, TraceEntry, UsernamePlan};
use serde::Serialize;

pub use dynamo::{DynamoLedger, ENDPOINT_ENV, client_from_env};
pub use error::LedgerError;
pub use import::{ExistingAccount, IMPORT_EXECUTION, ImportOutcome};
pub use record::{NameRecord, NameStatus, WorkerRecord};
pub use sqlite::SqliteLedger;

/// Where `dayone` keeps its ledger when nothing else is configured.
pub const DEFAULT_SQLITE_PATH: &str = ".dayone/ledger.sqlite";

/// What a worker got, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Allocation {
    pub worker_id: String,
    pub names: AllocatedNames,
    /// The policy's trace followed by the ledger's decisions: each candidate
    /// rejected (taken, tombstoned, reserved) and the one chosen or reused.
    pub trace: Vec<TraceEntry>,
    /// Store requests this allocation needed (reads, suffix counter, writes).
    pub round_trips: u32,
    /// True when the worker already held names (a retry or a rehire).
    pub reused: bool,
}

/// The username ledger port.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// Gives `worker_id` names from `plan`, or the names it already holds.
    /// `execution_id` is recorded on every item written, for audit.
    async fn allocate(
        &self,
        worker_id: &str,
        execution_id: &str,
        plan: &UsernamePlan,
    ) -> Result<Allocation, LedgerError>;

    /// Marks a leaver's names as tombstoned. They are never deleted and never
    /// given to anyone else; a rehire of the same worker gets them back.
    async fn tombstone(&self, worker_id: &str) -> Result<(), LedgerError>;

    /// Who holds `value` in `ns` (compared case-insensitively), if anyone.
    async fn holder(&self, ns: Namespace, value: &str) -> Result<Option<NameRecord>, LedgerError>;

    /// The names `worker_id` holds, if any.
    async fn worker(&self, worker_id: &str) -> Result<Option<WorkerRecord>, LedgerError>;

    /// Records an account that already exists in the directory, so its names
    /// are never offered to anyone else. Idempotent: importing the same account
    /// again is [`ImportOutcome::Unchanged`]; a name held by someone else is
    /// [`LedgerError::AlreadyRecorded`]. `suffix_start` is the policy's first
    /// numeric suffix (`[username] suffix_start`).
    async fn import(
        &self,
        account: &ExistingAccount,
        suffix_start: u64,
    ) -> Result<ImportOutcome, LedgerError>;
}

/// The execution id recorded on items changed by [`Ledger::tombstone`].
pub const TOMBSTONE_EXECUTION: &str = "leaver";

/// Opens a ledger from a spec: `sqlite:PATH` (an empty path means
/// [`DEFAULT_SQLITE_PATH`]) or `dynamodb:TABLE` (credentials and region from
/// the normal AWS chain; endpoint from `DAYONE_DYNAMODB_ENDPOINT` when set).
pub async fn open_ledger(spec: &str) -> Result<Box<dyn Ledger>, LedgerError> {
    let (kind, rest) = spec.split_once(':').ok_or_else(|| bad_spec(spec))?;
    match kind {
        "sqlite" => {
            let path = if rest.is_empty() {
                DEFAULT_SQLITE_PATH
            } else {
                rest
            };
            Ok(Box::new(SqliteLedger::open(path).await?))
        }
        "dynamodb" if !rest.is_empty() => Ok(Box::new(DynamoLedger::from_env(rest).await)),
        _ => Err(bad_spec(spec)),
    }
}

fn bad_spec(spec: &str) -> LedgerError {
    LedgerError::Misconfigured(format!(
        "unknown ledger '{spec}'; use sqlite:PATH (e.g. sqlite:{DEFAULT_SQLITE_PATH}) or dynamodb:TABLE"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unknown_spec_explains_the_accepted_forms() {
        for spec in ["postgres:x", "dynamodb:", "ledger.sqlite"] {
            let err = open_ledger(spec).await.err().expect("must fail");
            assert!(err.to_string().contains("sqlite:PATH"), "{spec}: {err}");
        }
    }
}
