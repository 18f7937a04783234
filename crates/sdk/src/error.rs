//! Errors of the SDK and the one error a step returns to Step Functions.
//!
//! [`StepError`] is what a handler returns: a stable [`StepErrorName`] (the Lambda
//! `errorType` that `Retry` / `Catch` in the state machines match on) plus a message for
//! people. [`SecretError`] and [`EgressError`] are the SDK's own failures; both convert into
//! a `StepError` with the right name, so `?` in a handler does the mapping.
//!
//! Secrets never reach a message: no constructor here takes a [`crate::secrets::SecretString`],
//! and the SDK errors carry only a secret's *name* or a host, never a value.

use std::time::Duration;

pub use dayone_core::step_error::StepErrorName;

/// The error a step returns. Its `name` becomes the Lambda `errorType`.
///
/// Messages are plain text for the operator who reads the execution history: say what failed
/// and what to do next. They must never contain a secret or a TAP; the constructors take
/// `impl Into<String>`, and [`crate::secrets::SecretString`] deliberately implements neither
/// `Into<String>` nor `AsRef<str>`, so a secret cannot be passed by accident.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct StepError {
    pub name: StepErrorName,
    pub message: String,
    /// How long the target asked us to wait (429 / 503 `Retry-After`), when it said.
    pub retry_after: Option<Duration>,
}

impl StepError {
    pub fn new(name: StepErrorName, message: impl Into<String>) -> Self {
        StepError {
            name,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A transient failure (5xx, timeout, replication delay): the state machine retries.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::new(StepErrorName::Retryable, message)
    }

    /// The target asked us to slow down; `retry_after` is what it asked for, if anything.
    pub fn throttled(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        StepError {
            name: StepErrorName::Throttled,
            message: message.into(),
            retry_after,
        }
    }

    /// The target refused for a reason that retrying will not fix.
    pub fn target_rejected(message: impl Into<String>) -> Self {
        Self::new(StepErrorName::TargetRejected, message)
    }

    /// Credentials were refused or lack a permission.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StepErrorName::Unauthorized, message)
    }

    /// Configuration or a secret is missing or invalid.
    pub fn misconfigured(message: impl Into<String>) -> Self {
        Self::new(StepErrorName::Misconfigured, message)
    }

    /// The hire itself is wrong; retrying cannot help.
    pub fn invalid_hire(message: impl Into<String>) -> Self {
        Self::new(StepErrorName::InvalidHire, message)
    }

    /// No username could be allocated under the policy.
    pub fn username_exhausted(message: impl Into<String>) -> Self {
        Self::new(StepErrorName::UsernameExhausted, message)
    }

    /// An outbound call to a host outside the step's allowlist.
    pub fn egress_denied(message: impl Into<String>) -> Self {
        Self::new(StepErrorName::EgressDenied, message)
    }

    /// Attach (or replace) the wait the target asked for.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Whether the state machine retries this error.
    pub fn is_retryable(&self) -> bool {
        self.name.is_retryable()
    }
}

impl From<StepError> for lambda_runtime::Diagnostic {
    fn from(err: StepError) -> Self {
        let mut message = err.message;
        if let Some(wait) = err.retry_after {
            // Step Functions only sees errorType and cause; keep the hint readable there.
            message.push_str(&format!(" (retry after {}s)", wait.as_secs()));
        }
        lambda_runtime::Diagnostic {
            error_type: err.name.as_str().to_string(),
            error_message: message,
        }
    }
}

/// Why a secret could not be read. Every variant names the secret, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(
        "secret `{name}` was not found: create it (Secrets Manager id, DAYONE_SECRET_* variable or \
         secrets file entry) or fix the name in dayone.toml [secrets]"
    )]
    NotFound { name: String },
    #[error(
        "access to secret `{name}` was denied: grant this function's role secretsmanager:GetSecretValue \
         (and kms:Decrypt) on it"
    )]
    AccessDenied { name: String },
    #[error("reading secret `{name}` was throttled by the secrets service; retry shortly")]
    Throttled { name: String },
    #[error("secret `{name}` could not be read right now ({reason}); retry shortly")]
    Unavailable { name: String, reason: String },
    #[error("secret `{name}` is unusable: {reason}")]
    Invalid { name: String, reason: String },
}

impl SecretError {
    /// The name (or id) of the secret this error is about.
    pub fn secret_name(&self) -> &str {
        match self {
            SecretError::NotFound { name }
            | SecretError::AccessDenied { name }
            | SecretError::Throttled { name }
            | SecretError::Unavailable { name, .. }
            | SecretError::Invalid { name, .. } => name,
        }
    }

    pub fn step_error_name(&self) -> StepErrorName {
        match self {
            SecretError::NotFound { .. } | SecretError::Invalid { .. } => {
                StepErrorName::Misconfigured
            }
            SecretError::AccessDenied { .. } => StepErrorName::Unauthorized,
            SecretError::Throttled { .. } => StepErrorName::Throttled,
            SecretError::Unavailable { .. } => StepErrorName::Retryable,
        }
    }
}

impl From<SecretError> for StepError {
    fn from(err: SecretError) -> Self {
        StepError::new(err.step_error_name(), err.to_string())
    }
}

/// Why an outbound call through [`crate::http::EgressClient`] failed.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// The host is not on this function's allowlist. It was never contacted.
    #[error(
        "outbound call to `{host}` denied: it is not on this function's egress allowlist \
         (add it under [functions.<name>] egress in dayone.toml if it should be reachable)"
    )]
    Denied { host: String },
    /// The URL could not be used (not http/https, no host, unparsable).
    #[error("invalid outbound URL: {reason}")]
    InvalidUrl { reason: String },
    #[error("outbound call to `{host}` timed out after {}ms", .after.as_millis())]
    Timeout { host: String, after: Duration },
    /// Connection refused/reset, DNS failure, TLS failure, body read failure.
    #[error("outbound call to `{host}` failed: {reason}")]
    Transport { host: String, reason: String },
}

impl EgressError {
    pub fn step_error_name(&self) -> StepErrorName {
        match self {
            EgressError::Denied { .. } => StepErrorName::EgressDenied,
            EgressError::InvalidUrl { .. } => StepErrorName::Misconfigured,
            EgressError::Timeout { .. } | EgressError::Transport { .. } => StepErrorName::Retryable,
        }
    }
}

impl From<EgressError> for StepError {
    fn from(err: EgressError) -> Self {
        StepError::new(err.step_error_name(), err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_error_type_is_the_dayone_name() {
        for name in StepErrorName::ALL {
            let diag: lambda_runtime::Diagnostic = StepError::new(name, "boom").into();
            assert_eq!(diag.error_type, name.as_str());
            assert_eq!(diag.error_message, "boom");
        }
    }

    #[test]
    fn throttled_diagnostic_mentions_the_wait() {
        let err = StepError::throttled("Graph said 429", Some(Duration::from_secs(7)));
        assert!(err.is_retryable());
        let diag: lambda_runtime::Diagnostic = err.into();
        assert_eq!(diag.error_type, "Dayone.Throttled");
        assert_eq!(diag.error_message, "Graph said 429 (retry after 7s)");
    }

    #[test]
    fn constructors_set_the_contract_names() {
        assert_eq!(StepError::retryable("x").name, StepErrorName::Retryable);
        assert_eq!(
            StepError::target_rejected("x").name,
            StepErrorName::TargetRejected
        );
        assert_eq!(
            StepError::unauthorized("x").name,
            StepErrorName::Unauthorized
        );
        assert_eq!(
            StepError::misconfigured("x").name,
            StepErrorName::Misconfigured
        );
        assert_eq!(
            StepError::invalid_hire("x").name,
            StepErrorName::InvalidHire
        );
        assert_eq!(
            StepError::username_exhausted("x").name,
            StepErrorName::UsernameExhausted
        );
        assert_eq!(
            StepError::egress_denied("x").name,
            StepErrorName::EgressDenied
        );
        assert!(!StepError::target_rejected("x").is_retryable());
    }

    #[test]
    fn secret_errors_map_to_step_names_and_name_only_the_secret() {
        let cases = [
            (
                SecretError::NotFound {
                    name: "graph-client".into(),
                },
                StepErrorName::Misconfigured,
            ),
            (
                SecretError::AccessDenied {
                    name: "graph-client".into(),
                },
                StepErrorName::Unauthorized,
            ),
            (
                SecretError::Throttled {
                    name: "graph-client".into(),
                },
                StepErrorName::Throttled,
            ),
            (
                SecretError::Unavailable {
                    name: "graph-client".into(),
                    reason: "connection reset".into(),
                },
                StepErrorName::Retryable,
            ),
        ];
        for (err, expected) in cases {
            assert_eq!(err.secret_name(), "graph-client");
            let step: StepError = err.into();
            assert_eq!(step.name, expected);
            assert!(step.message.contains("graph-client"), "{}", step.message);
        }
    }

    #[test]
    fn egress_denied_maps_to_egress_denied() {
        let step: StepError = EgressError::Denied {
            host: "evil.example".into(),
        }
        .into();
        assert_eq!(step.name, StepErrorName::EgressDenied);
        assert!(step.message.contains("evil.example"));
        let step: StepError = EgressError::Timeout {
            host: "graph.microsoft.com".into(),
            after: Duration::from_secs(10),
        }
        .into();
        assert_eq!(step.name, StepErrorName::Retryable);
    }
}
