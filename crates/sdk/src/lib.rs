//! `dayone-sdk`: the runtime base every dayone step Lambda and organization function uses.
//!
//! - [`error`]: [`StepError`], the error a handler returns, whose name becomes the Lambda
//!   `errorType` that Step Functions `Retry` / `Catch` match on.
//! - [`secrets`]: [`SecretString`] (never printable) and the [`SecretStore`] trait with
//!   Secrets Manager (cached), environment, file and in-memory stores.
//! - [`http`]: [`EgressClient`], the only way out to the network, allowlisted per function.
//! - [`logging`]: JSON lines for CloudWatch with `execution_id` / `worker_id` on each.
//! - [`audit`]: [`AuditEvent`] records with redacted details.
//! - [`context`]: [`context::StepContext`], what a handler is given; `StepContext::for_test()`.
//! - [`lambda`]: [`lambda::run_step`], the whole `main.rs` of a step.
//! - [`testing`]: [`testing::LogCapture`] to prove no secret reaches a log line.

pub mod audit;
pub mod context;
pub mod error;
pub mod http;
pub mod lambda;
pub mod logging;
pub mod secrets;

/// Helpers for tests of steps and functions.
pub mod testing {
    pub use crate::logging::LogCapture;
}

pub use audit::{AuditEvent, audit};
pub use context::StepContext;
pub use error::{EgressError, SecretError, StepError, StepErrorName};
pub use http::EgressClient;
pub use lambda::run_step;
pub use logging::{init_logging, with_step_span};
pub use secrets::{SecretStore, SecretString};
