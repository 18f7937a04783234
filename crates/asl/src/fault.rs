//! A States-language error in flight: the `Error` name that Retry/Catch match on and its cause.

use crate::error::TaskError;

/// Error names defined by the States Language.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const RUNTIME: &str = "States.Runtime";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const DATA_LIMIT: &str = "States.DataLimitExceeded";
    pub const INTRINSIC: &str = "States.IntrinsicFailure";
    pub const NO_CHOICE: &str = "States.NoChoiceMatched";
    pub const QUERY: &str = "States.QueryEvaluationError";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const TOLERATED: &str = "States.ExceedToleratedFailureThreshold";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const ITEM_READER: &str = "States.ItemReaderFailed";
}

/// An error raised while running a state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fault {
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl Fault {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Fault {
        Fault {
            error: Some(error.into()),
            cause: Some(cause.into()),
        }
    }
    pub fn runtime(cause: impl Into<String>) -> Fault {
        Fault::new(names::RUNTIME, cause)
    }
    pub fn intrinsic(cause: impl Into<String>) -> Fault {
        Fault::new(names::INTRINSIC, cause)
    }
    pub fn query(cause: impl Into<String>) -> Fault {
        Fault::new(names::QUERY, cause)
    }
    /// The error name as Retry/Catch see it (a Fail state without Error matches only States.ALL).
    pub fn name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }
    /// Errors that `States.ALL` does not catch (AWS: terminal, not retriable).
    pub fn is_terminal(&self) -> bool {
        matches!(self.name(), names::RUNTIME | names::DATA_LIMIT)
    }
}

impl From<TaskError> for Fault {
    fn from(e: TaskError) -> Fault {
        Fault::new(e.error, e.cause)
    }
}
