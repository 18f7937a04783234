//! The only ways notify-failure itself fails: it is misconfigured. A Slack outage is *not* an
//! error here (see the crate docs).

use dayone_sdk::error::StepError;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// No IT channel to post to.
    #[error(
        "dayone.toml [targets] `it_channel` is empty; set the Slack channel IT watches for failed hires"
    )]
    NoChannel,

    /// Slack refused the configuration (token missing or refused, host not allowlisted, …).
    #[error("cannot notify IT: {message}")]
    Misconfigured {
        name: dayone_sdk::error::StepErrorName,
        message: String,
    },
}

impl From<NotifyError> for StepError {
    fn from(e: NotifyError) -> Self {
        match &e {
            NotifyError::NoChannel => StepError::misconfigured(e.to_string()),
            NotifyError::Misconfigured { name, .. } => StepError::new(*name, e.to_string()),
        }
    }
}
