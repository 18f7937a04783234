//! A local Amazon States Language (AWS Step Functions) interpreter.
//!
//! Parse a definition once, then run it any number of times, offline, in-process:
//!
//! ```no_run
//! use dayone_asl::{Clock, ExecutionOptions, Interpreter, StateMachine, TaskRegistry};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let machine = StateMachine::parse(r#"{"StartAt":"Hi","States":{"Hi":{"Type":"Pass","End":true}}}"#)?;
//! let mut tasks = TaskRegistry::new();
//! tasks.register_fn("allocate-username", |input, _ctx| async move { Ok(input) });
//! let result = Interpreter::new(machine)
//!     .with_tasks(tasks)
//!     .with_clock(Clock::instant())
//!     .run(serde_json::json!({"who": "ada"}), ExecutionOptions::default())
//!     .await;
//! assert_eq!(result.status.as_str(), "SUCCEEDED");
//! # Ok(()) }
//! ```
//!
//! Main types:
//! * [`StateMachine`]: a parsed and validated definition ([`StateMachine::parse`],
//!   [`StateMachine::parse_with_substitutions`] for SAM-style `${Name}` placeholders).
//!   Problems come back as a [`ValidationError`] naming the state.
//! * [`Interpreter`]: runs a machine with a [`TaskRegistry`] of [`TaskHandler`]s and a
//!   [`Clock`] (real, or virtual so Wait states and Retry delays do not sleep).
//!   [`Interpreter::run`] awaits the end inline; [`Interpreter::start`] spawns it and returns an
//!   [`Execution`] handle that answers `.waitForTaskToken` tasks
//!   ([`Execution::send_task_success`], [`Execution::send_task_failure`]).
//! * [`ExecutionResult`]: status, output or error/cause, and the [`HistoryEvent`]s; an
//!   [`ExecutionObserver`] sees each event as it happens.
//!
//! Supported: every state type (inline Map; a distributed Map runs inline), JSONPath with
//! `InputPath` / `Parameters` / `ResultSelector` / `ResultPath` / `OutputPath`, the context
//! object, all `States.*` intrinsics, every Choice operator, Retry / Catch, variables
//! (`Assign`) and JSONata (`Arguments`, `Output`, `Condition`, `Items`, `$states`) through
//! the `jsonata-rs` crate plus AWS's `$partition`, `$range`, `$hash` and `$parse`.
//! Definitions are compiled once: paths, intrinsics and Choice rules are not re-parsed while
//! running.

mod choice;
mod clock;
mod env;
mod error;
mod exec;
mod fault;
mod history;
mod intrinsics;
mod jsonata;
mod machine;
mod path;
mod task;
mod template;

pub use clock::Clock;
pub use error::{AslError, TaskError, ValidationError};
pub use exec::{
    Execution, ExecutionOptions, ExecutionResult, ExecutionStatus, Interpreter, MAX_PAYLOAD_BYTES,
};
pub use history::{EventType, ExecutionObserver, HistoryEvent};
pub use machine::{StateMachine, substitute};
pub use path::JsonPath;
pub use task::{
    TaskContext, TaskHandler, TaskRegistry, lambda_function_name, lambda_invoke_envelope,
};

/// Error names defined by the States Language (`States.ALL`, `States.Runtime`…).
pub mod error_names {
    pub use crate::fault::names::*;
}
