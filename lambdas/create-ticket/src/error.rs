//! Why the ticket could not be opened, and the step error name each reason becomes.

use dayone_connectors::ConnectorError;
use dayone_sdk::error::StepError;

use crate::receipts::ReceiptStoreError;

#[derive(Debug, thiserror::Error)]
pub enum CreateTicketError {
    /// The ServiceNow or Jira call failed; the connector chose the step error name.
    #[error(transparent)]
    Target(#[from] ConnectorError),

    /// The receipt store did not answer; opening a ticket without a receipt could duplicate it.
    #[error(transparent)]
    Receipts(#[from] ReceiptStoreError),

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
            CreateTicketError::Receipts(_) => StepError::retryable(e.to_string()),
            CreateTicketError::MissingSetting { .. } => StepError::misconfigured(e.to_string()),
        }
    }
}
