//! The one error type every connector returns, and how it maps onto the step error names that
//! the state machine's `Retry` / `Catch` match on.
//!
//! Messages name the system, what it said (its error code and message), and what to do next.
//! They never contain a credential, a bearer token, a request body or a TAP value: the clients
//! only ever copy the *target's* error code / message / fault string into them.

use std::fmt;
use std::time::Duration;

use dayone_core::step_error::StepErrorName;
use dayone_sdk::error::StepError;
use dayone_sdk::secrets::SecretError;

/// Which system a call went to; used in every error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum System {
    /// The Microsoft identity platform token endpoint (`login.microsoftonline.com`).
    EntraToken,
    /// Microsoft Graph (`graph.microsoft.com`).
    Graph,
    /// Workday Web Services (SOAP, Human_Resources).
    Workday,
    /// ServiceNow (Table and Service Catalog APIs, `oauth_token.do`).
    ServiceNow,
    /// Jira Service Management Cloud.
    Jira,
    /// Slack Web API.
    Slack,
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            System::EntraToken => "Entra ID token endpoint",
            System::Graph => "Microsoft Graph",
            System::Workday => "Workday",
            System::ServiceNow => "ServiceNow",
            System::Jira => "Jira Service Management",
            System::Slack => "Slack",
        })
    }
}

fn after(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(
            " (the target asked to wait {}s)",
            d.as_secs_f64().ceil() as u64
        ),
        None => String::new(),
    }
}

/// Everything a connector call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The target rate-limited us (HTTP 429, Slack `ratelimited`) and in-client retries ran out.
    #[error(
        "{system} is throttling requests{}: {detail}; the step will be retried after a pause",
        after(retry_after)
    )]
    Throttled {
        system: System,
        retry_after: Option<Duration>,
        detail: String,
    },

    /// A transient failure: 5xx, timeout, connection reset, a pending business process, a
    /// replication delay that outlasted the in-client retries.
    #[error(
        "{system} had a temporary failure{}: {detail}; the step will be retried",
        after(retry_after)
    )]
    Retryable {
        system: System,
        retry_after: Option<Duration>,
        detail: String,
    },

    /// The target refused the request for a reason that will not go away by retrying.
    #[error("{system} rejected the request ({code}): {detail}")]
    Rejected {
        system: System,
        status: Option<u16>,
        code: String,
        detail: String,
    },

    /// A unique property (e.g. the UPN) is already held by a *different* object.
    #[error(
        "{system}: {property} '{value}' is already taken by another object; allocate a different name (the username ledger and the directory disagree)"
    )]
    Collision {
        system: System,
        property: String,
        value: String,
    },

    /// The Temporary Access Pass policy does not allow issuing the pass requested.
    #[error(
        "Temporary Access Pass not allowed: {detail}; enable the TAP authentication method policy for this user (or fix the [tap] lifetime / one-time settings)"
    )]
    TapNotAllowed { detail: String },

    /// Credentials were refused or lack a permission.
    #[error(
        "{system} refused our credentials or permissions: {detail}; check the secret and the app's granted permissions"
    )]
    Unauthorized { system: System, detail: String },

    /// The egress allowlist does not include the target host.
    #[error(
        "egress to '{host}' is not in this step's allowlist; add it under [functions.<name>].egress in dayone.toml if it is intended"
    )]
    EgressDenied { host: String },

    /// Configuration is invalid, or an input cannot be sent safely.
    #[error("{system} connector is misconfigured: {detail}")]
    Misconfigured { system: System, detail: String },

    /// A credential could not be read from the secret store (names the secret, never its value).
    #[error("{system} credential unavailable: {source}")]
    Secret {
        system: System,
        #[source]
        source: SecretError,
    },
}

impl ConnectorError {
    /// The step error name the state machine sees.
    pub fn step_error_name(&self) -> StepErrorName {
        match self {
            ConnectorError::Throttled { .. } => StepErrorName::Throttled,
            ConnectorError::Retryable { .. } => StepErrorName::Retryable,
            ConnectorError::Rejected { .. }
            | ConnectorError::Collision { .. }
            | ConnectorError::TapNotAllowed { .. } => StepErrorName::TargetRejected,
            ConnectorError::Unauthorized { .. } => StepErrorName::Unauthorized,
            ConnectorError::EgressDenied { .. } => StepErrorName::EgressDenied,
            ConnectorError::Misconfigured { .. } => StepErrorName::Misconfigured,
            ConnectorError::Secret { source, .. } => source.step_error_name(),
        }
    }

    /// How long the target asked us to wait, when it said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::Throttled { retry_after, .. }
            | ConnectorError::Retryable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status of a rejection, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ConnectorError::Rejected { status, .. } => *status,
            _ => None,
        }
    }

    /// The target's error code of a rejection (`Request_BadRequest`, `channel_not_found`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            ConnectorError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }

    pub(crate) fn misconfigured(system: System, detail: impl Into<String>) -> Self {
        ConnectorError::Misconfigured {
            system,
            detail: detail.into(),
        }
    }

    pub(crate) fn retryable(system: System, detail: impl Into<String>) -> Self {
        ConnectorError::Retryable {
            system,
            retry_after: None,
            detail: detail.into(),
        }
    }

    pub(crate) fn rejected(
        system: System,
        status: Option<u16>,
        code: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        ConnectorError::Rejected {
            system,
            status,
            code: code.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn unauthorized(system: System, detail: impl Into<String>) -> Self {
        ConnectorError::Unauthorized {
            system,
            detail: detail.into(),
        }
    }
}

impl From<ConnectorError> for StepError {
    fn from(e: ConnectorError) -> Self {
        let mut step = StepError::new(e.step_error_name(), e.to_string());
        step.retry_after = e.retry_after();
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_documented_step_error_name() {
        let cases = [
            (
                ConnectorError::Throttled {
                    system: System::Graph,
                    retry_after: Some(Duration::from_secs(7)),
                    detail: "x".into(),
                },
                StepErrorName::Throttled,
            ),
            (
                ConnectorError::retryable(System::Slack, "x"),
                StepErrorName::Retryable,
            ),
            (
                ConnectorError::rejected(System::Jira, Some(400), "c", "d"),
                StepErrorName::TargetRejected,
            ),
            (
                ConnectorError::Collision {
                    system: System::Graph,
                    property: "userPrincipalName".into(),
                    value: "a@b".into(),
                },
                StepErrorName::TargetRejected,
            ),
            (
                ConnectorError::TapNotAllowed { detail: "d".into() },
                StepErrorName::TargetRejected,
            ),
            (
                ConnectorError::unauthorized(System::Workday, "d"),
                StepErrorName::Unauthorized,
            ),
            (
                ConnectorError::EgressDenied {
                    host: "evil.example".into(),
                },
                StepErrorName::EgressDenied,
            ),
            (
                ConnectorError::misconfigured(System::ServiceNow, "d"),
                StepErrorName::Misconfigured,
            ),
        ];
        for (err, name) in cases {
            assert_eq!(err.step_error_name(), name, "{err}");
            let retry_after = err.retry_after();
            let step: StepError = err.into();
            assert_eq!(step.name, name);
            assert_eq!(step.retry_after, retry_after);
        }
    }

    #[test]
    fn throttled_message_tells_how_long_the_target_asked_to_wait() {
        let err = ConnectorError::Throttled {
            system: System::Graph,
            retry_after: Some(Duration::from_secs(12)),
            detail: "HTTP 429".into(),
        };
        assert!(err.to_string().contains("wait 12s"), "{err}");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
    }
}
