//! The crate's error types.
//!
//! * [`ValidationError`]: a definition that cannot run (returned by [`crate::StateMachine::parse`]).
//! * [`TaskError`]: what a [`crate::TaskHandler`] returns when a task fails; it becomes a
//!   States-language error that `Retry` / `Catch` match on.
//! * [`AslError`]: misuse of an execution handle (unknown task token, execution gone).

use thiserror::Error;

/// Why a state machine definition was rejected before execution.
///
/// Every variant that concerns a state names it, so the user can jump straight to the problem.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// The text is not JSON at all.
    #[error("the definition is not valid JSON: {0}; check the file is a States Language document")]
    InvalidJson(String),
    /// `StartAt` is absent or not a string.
    #[error("{scope}: `StartAt` is missing; name the first state to run")]
    MissingStartAt { scope: String },
    /// `StartAt` names a state that does not exist.
    #[error("{scope}: `StartAt` names '{target}', which is not a state here")]
    UnknownStartAt { scope: String, target: String },
    /// `Next` / `Default` / a Catcher's `Next` names a state that does not exist.
    #[error("state '{state}': `{field}` names '{target}', which is not a state in the same scope")]
    UnknownNext {
        state: String,
        field: String,
        target: String,
    },
    /// A state no path from `StartAt` reaches.
    #[error("state '{state}' is unreachable from StartAt; remove it or point a Next at it")]
    Unreachable { state: String },
    /// A JSONPath, reference path, intrinsic function or JSONata expression could not be parsed.
    #[error("state '{state}': field `{field}` holds a malformed expression '{expr}': {reason}")]
    MalformedPath {
        state: String,
        field: String,
        expr: String,
        reason: String,
    },
    /// Any other structural problem (unknown Type, missing field, wrong field type…).
    #[error("state '{state}': {message}")]
    Invalid { state: String, message: String },
}

impl ValidationError {
    pub(crate) fn invalid(state: &str, message: impl Into<String>) -> Self {
        ValidationError::Invalid {
            state: state.to_string(),
            message: message.into(),
        }
    }
}

/// A failed task: `error` is the name `Retry`/`Catch` match on (`ErrorEquals`), `cause` a
/// human-readable explanation (often JSON).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{error}: {cause}")]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskError {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// Misuse of a running execution's handle.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AslError {
    /// `send_task_success` / `send_task_failure` with a token no task is waiting on.
    #[error(
        "no task is waiting for token '{0}'; it was already answered, timed out, or never issued"
    )]
    UnknownTaskToken(String),
    /// The execution task stopped without producing a result (it panicked or was aborted).
    #[error("the execution stopped without a result: {0}")]
    ExecutionLost(String),
}
