//! Why issuing or delivering a pass failed, and the step error name each reason becomes.
//!
//! No variant carries a pass value: the pass only ever exists in the message handed to a
//! delivery call.

use dayone_connectors::ConnectorError;
use dayone_sdk::error::StepError;

use crate::delivery::DeliveryLogError;

#[derive(Debug, thiserror::Error)]
pub enum IssueTapError {
    /// A Graph or Slack call failed; the connector chose the step error name.
    #[error(transparent)]
    Connector(#[from] ConnectorError),

    /// The delivery log could not be read or written.
    #[error(transparent)]
    Log(#[from] DeliveryLogError),

    /// The tenant's Temporary Access Pass policy is disabled: the tenant refuses passes, and no
    /// retry changes that until an Entra admin enables the method.
    #[error(
        "the Temporary Access Pass policy is disabled in Entra ID, so no pass can be issued for {upn}; \
         an Entra admin must enable it (Entra admin center > Protection > Authentication methods > \
         Temporary Access Pass), or set [tap].enabled = false in dayone.toml, then re-run"
    )]
    PolicyDisabled { upn: String },

    /// `[tap]` asks for a pass the tenant's policy does not allow (lifetime, one-time use).
    #[error("dayone.toml [tap] does not fit the tenant's Temporary Access Pass policy: {detail}")]
    PolicyMismatch { detail: String },

    /// A `[targets]` / `[tap]` value this step needs is missing.
    #[error("dayone.toml `{key}` is not set; issue-tap needs it {why}")]
    MissingSetting {
        key: &'static str,
        why: &'static str,
    },

    /// The hire names no manager, or one that cannot be reached.
    #[error(
        "no manager to deliver the Temporary Access Pass to: {0}; set managerEmail or managerWorkerId on the hire in Workday"
    )]
    NoManager(String),

    /// Another attempt of this execution is issuing right now.
    #[error(
        "another attempt of execution {execution_id} is issuing the pass (lease until {until}); retrying later is safe"
    )]
    Busy { execution_id: String, until: String },
}

impl From<IssueTapError> for StepError {
    fn from(e: IssueTapError) -> Self {
        match e {
            IssueTapError::Connector(c) => c.into(),
            IssueTapError::Log(DeliveryLogError::Misconfigured(_)) => {
                StepError::misconfigured(e.to_string())
            }
            IssueTapError::Log(_) => StepError::retryable(e.to_string()),
            IssueTapError::Busy { .. } => StepError::throttled(e.to_string(), None),
            IssueTapError::PolicyDisabled { .. } => StepError::target_rejected(e.to_string()),
            IssueTapError::PolicyMismatch { .. } | IssueTapError::MissingSetting { .. } => {
                StepError::misconfigured(e.to_string())
            }
            IssueTapError::NoManager(_) => StepError::invalid_hire(e.to_string()),
        }
    }
}
