//! Why the write-back failed, and the step error name each reason becomes.

use dayone_connectors::ConnectorError;
use dayone_sdk::error::StepError;

use crate::log::WritebackLogError;

#[derive(Debug, thiserror::Error)]
pub enum WritebackError {
    /// The Workday call failed (SOAP fault, auth, throttling); the connector chose the name.
    #[error(transparent)]
    Workday(#[from] ConnectorError),

    /// The write-back log could not be read.
    #[error(transparent)]
    Log(#[from] WritebackLogError),

    /// A `[targets]` value this step needs is missing.
    #[error("dayone.toml [targets] `{key}` is not set; hris-writeback needs it to reach Workday")]
    MissingTarget { key: &'static str },
}

impl From<WritebackError> for StepError {
    fn from(e: WritebackError) -> Self {
        match e {
            WritebackError::Workday(c) => c.into(),
            WritebackError::Log(_) => StepError::retryable(e.to_string()),
            WritebackError::MissingTarget { .. } => StepError::misconfigured(e.to_string()),
        }
    }
}
