//! The stable error names a step reports to Step Functions (`errorType`), which
//! `Retry` and `Catch` in the state machines match on. Changing one is a breaking change.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StepErrorName {
    /// A transient failure (5xx, timeout, replication delay): retry with backoff.
    #[serde(rename = "Dayone.Retryable")]
    Retryable,
    /// The target asked us to slow down (429 / Retry-After): retry with backoff.
    #[serde(rename = "Dayone.Throttled")]
    Throttled,
    /// The hire itself is wrong; retrying cannot help.
    #[serde(rename = "Dayone.InvalidHire")]
    InvalidHire,
    /// No username could be allocated under the policy.
    #[serde(rename = "Dayone.UsernameExhausted")]
    UsernameExhausted,
    /// The target system refused the request for a reason that will not go away.
    #[serde(rename = "Dayone.TargetRejected")]
    TargetRejected,
    /// Credentials were refused or lack a permission.
    #[serde(rename = "Dayone.Unauthorized")]
    Unauthorized,
    /// An outbound call to a host outside the step's allowlist.
    #[serde(rename = "Dayone.EgressDenied")]
    EgressDenied,
    /// Configuration or a secret is missing or invalid.
    #[serde(rename = "Dayone.Misconfigured")]
    Misconfigured,
}

impl StepErrorName {
    pub const ALL: [StepErrorName; 8] = [
        StepErrorName::Retryable,
        StepErrorName::Throttled,
        StepErrorName::InvalidHire,
        StepErrorName::UsernameExhausted,
        StepErrorName::TargetRejected,
        StepErrorName::Unauthorized,
        StepErrorName::EgressDenied,
        StepErrorName::Misconfigured,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StepErrorName::Retryable => "Dayone.Retryable",
            StepErrorName::Throttled => "Dayone.Throttled",
            StepErrorName::InvalidHire => "Dayone.InvalidHire",
            StepErrorName::UsernameExhausted => "Dayone.UsernameExhausted",
            StepErrorName::TargetRejected => "Dayone.TargetRejected",
            StepErrorName::Unauthorized => "Dayone.Unauthorized",
            StepErrorName::EgressDenied => "Dayone.EgressDenied",
            StepErrorName::Misconfigured => "Dayone.Misconfigured",
        }
    }

    /// Whether the state machine retries this error.
    pub fn is_retryable(self) -> bool {
        matches!(self, StepErrorName::Retryable | StepErrorName::Throttled)
    }
}

impl std::fmt::Display for StepErrorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialised_names_match_the_state_machine_contract() {
        for name in StepErrorName::ALL {
            let json = serde_json::to_value(name).unwrap();
            assert_eq!(json, serde_json::Value::String(name.as_str().to_string()));
        }
    }
}
