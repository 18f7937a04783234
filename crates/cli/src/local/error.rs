//! Why the local engine could not be set up.

use thiserror::Error;

/// Errors of the local engine. Each one is a set-up problem the user fixes (exit code 2);
/// a flow that runs and fails is an [`dayone_asl::ExecutionResult`], not an error.
#[derive(Debug, Error)]
pub enum LocalError {
    /// The sandbox twins could not start.
    #[error("the local twins did not start: {0}; check that 127.0.0.1 can be bound")]
    Sandbox(#[from] dayone_sandbox::SandboxError),
    /// The policy is invalid once pointed at the twins.
    #[error("the configuration is invalid: {0}; run `dayone validate` for details")]
    Config(#[from] dayone_core::ConfigError),
    /// The ledger could not be opened.
    #[error("the username ledger could not be opened: {0}")]
    Ledger(#[from] dayone_ledger::LedgerError),
    /// The state machine does not parse or validate.
    #[error("the state machine {source_name} is invalid: {error}")]
    Definition {
        source_name: String,
        error: dayone_asl::ValidationError,
    },
    /// The state machine still holds a `${…}` placeholder nobody substitutes.
    #[error(
        "the state machine {source_name} uses the placeholder ${{{placeholder}}}, which the local engine does not know; use one of the six in state-machines/README.md"
    )]
    UnknownPlaceholder {
        source_name: String,
        placeholder: String,
    },
    /// A birthright rule could not be evaluated for the hire.
    #[error("the birthright rules cannot be evaluated for this hire: {0}")]
    Rules(#[from] dayone_core::RuleError),
}
