//! Why the ticket could not be opened, and the step error name each reason becomes.

use dayone_connectors::ConnectorError;
use dayone_sdk::error::StepError;

#[derive(Debug, thiserror::Error)]
pub enum CreateTicketError {
    /// The ServiceNow or Jira call failed; the connector chose the step error name.
    #[error(transparent)]
    Target(#[from] ConnectorError),

    /// A setting this step needs is missing.
    #[error("dayone.toml `{key}` is not set; create-ticket needs it for {system}")]
    MissingSetting {
        key: &'static str,
        system: &'static str,
    },
}

impl From<CreateTicketError> for StepError {
    fn from(e: CreateTicketError) -> Self {
        match e {
            CreateTicketError::Target(c) => c.into(),
            CreateTicketError::MissingSetting { .. } => StepError::misconfigured(e.to_string()),
        }
    }
}
