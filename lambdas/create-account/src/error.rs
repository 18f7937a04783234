//! Why creating an account failed, and which step error name each reason becomes.

use dayone_connectors::ConnectorError;
use dayone_core::{ConfigError, RuleError};
use dayone_sdk::error::StepError;

#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    /// A Graph call failed; the connector already chose the step error name.
    #[error(transparent)]
    Graph(#[from] ConnectorError),

    /// `dayone.toml` cannot be used as it is.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// A birthright rule failed on this hire.
    #[error(transparent)]
    Rule(#[from] RuleError),

    /// A `[targets]` value create-account needs is missing.
    #[error(
        "dayone.toml [targets] `{key}` is not set; create-account needs it to reach Microsoft Graph"
    )]
    MissingTarget { key: &'static str },

    /// A birthright group does not exist in the directory.
    #[error(
        "birthright group '{group}' does not exist in Entra ID; create it, or fix the group name in dayone.toml [[birthright.rules]], then re-run"
    )]
    GroupNotFound { group: String },

    /// A birthright app is not an enterprise application in the directory.
    #[error(
        "birthright app '{app}' is not an enterprise application (service principal) in Entra ID; add it, or fix the app name in dayone.toml [[birthright.rules]], then re-run"
    )]
    AppNotFound { app: String },

    /// The app role to grant cannot be chosen.
    #[error("birthright app '{app}' {problem}")]
    AppRole { app: String, problem: String },

    /// The allocated names and the hire disagree with what Graph can hold.
    #[error("the allocated names cannot be used: {0}")]
    Names(String),
}

impl From<CreateAccountError> for StepError {
    fn from(e: CreateAccountError) -> Self {
        match e {
            CreateAccountError::Graph(c) => c.into(),
            CreateAccountError::Config(c) => StepError::new(c.step_error_name(), c.to_string()),
            CreateAccountError::Rule(r) => StepError::new(r.step_error_name(), r.to_string()),
            other @ (CreateAccountError::MissingTarget { .. }
            | CreateAccountError::GroupNotFound { .. }
            | CreateAccountError::AppNotFound { .. }
            | CreateAccountError::AppRole { .. }) => StepError::misconfigured(other.to_string()),
            other @ CreateAccountError::Names(_) => StepError::invalid_hire(other.to_string()),
        }
    }
}
