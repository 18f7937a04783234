//! The one error type of the ledger, and how each error maps onto the step
//! error names the state machines retry or catch on.

use dayone_core::StepErrorName;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The request itself cannot be served (empty worker id, a name too long
    /// to be a key). Retrying will not help; fix the hire or the policy.
    #[error("invalid ledger request: {0}")]
    InvalidInput(String),

    /// Every rule candidate is held and the numeric suffix ran out of room.
    #[error(
        "no username left for base name '{suffix_key}': {detail}; add a username rule to dayone.toml or allocate this hire by hand"
    )]
    Exhausted { suffix_key: String, detail: String },

    /// An imported account's names, or its worker, are already recorded
    /// differently. The message names who holds what.
    #[error("cannot import this account: {0}")]
    AlreadyRecorded(String),

    /// `tombstone` was asked for a worker that never held names.
    #[error("worker '{0}' holds no names in the ledger; nothing to tombstone")]
    UnknownWorker(String),

    /// A conditional write found the ledger in a state it did not expect
    /// (for example a name no longer owned by the worker being tombstoned).
    #[error("the ledger changed under this request ({keys}); retry it")]
    ConditionalCheckFailed { keys: String },

    /// Other allocations kept winning the same names; the request is safe to retry.
    #[error(
        "gave up after {attempts} attempts because other allocations kept taking the same names; retry the request"
    )]
    Contention { attempts: u32 },

    /// The store asked us to slow down.
    #[error("the ledger store is throttling requests ({0}); retry with backoff")]
    Throttled(String),

    /// The store could not be reached or failed transiently.
    #[error("the ledger store is unavailable ({0}); retry later")]
    Unavailable(String),

    /// The caller's credentials were refused.
    #[error(
        "access to the ledger was denied ({0}); grant the role dynamodb:BatchGetItem, PutItem and UpdateItem on the ledger table (TransactWriteItems is authorised per item)"
    )]
    AccessDenied(String),

    /// The ledger is set up wrongly: bad `--ledger` spec, missing table, unreadable file.
    #[error("ledger misconfigured: {0}")]
    Misconfigured(String),

    /// An item in the store does not have the shape this version writes.
    #[error(
        "ledger item '{key}' is malformed ({problem}); inspect the table, do not delete the item"
    )]
    Corrupt { key: String, problem: String },

    /// Any other SQLite failure.
    #[error("SQLite ledger error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// Any other DynamoDB failure.
    #[error("DynamoDB ledger error: {0}")]
    Dynamo(String),
}

impl LedgerError {
    /// The step error name a Lambda reports for this error.
    pub fn step_error_name(&self) -> StepErrorName {
        match self {
            LedgerError::InvalidInput(_) | LedgerError::UnknownWorker(_) => {
                StepErrorName::InvalidHire
            }
            LedgerError::Exhausted { .. } => StepErrorName::UsernameExhausted,
            LedgerError::AlreadyRecorded(_) => StepErrorName::TargetRejected,
            LedgerError::ConditionalCheckFailed { .. }
            | LedgerError::Contention { .. }
            | LedgerError::Unavailable(_)
            | LedgerError::Dynamo(_) => StepErrorName::Retryable,
            LedgerError::Sqlite(e) if is_sqlite_busy(e) => StepErrorName::Retryable,
            LedgerError::Throttled(_) => StepErrorName::Throttled,
            LedgerError::AccessDenied(_) => StepErrorName::Unauthorized,
            LedgerError::Misconfigured(_)
            | LedgerError::Corrupt { .. }
            | LedgerError::Sqlite(_) => StepErrorName::Misconfigured,
        }
    }

    /// Whether retrying the same request later can succeed.
    pub fn is_retryable(&self) -> bool {
        self.step_error_name().is_retryable()
    }
}

fn is_sqlite_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
