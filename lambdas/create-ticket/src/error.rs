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

    /// A ServiceNow catalog order was placed but the receipt store could not record it. The
    /// step still tried to mark the order's requested item; `marking` is why that failed too
    /// (`None`: it is marked, so the retry's lookup by correlation id finds it).
    #[error("{}", order_not_recorded(request, store, marking.as_ref()))]
    OrderNotRecorded {
        /// `REQ… (sys_id …)`, as far as known.
        request: String,
        store: ReceiptStoreError,
        marking: Option<ConnectorError>,
    },

    /// A setting this step needs is missing.
    #[error("dayone.toml `{key}` is not set; create-ticket needs it for {system}")]
    MissingSetting {
        key: &'static str,
        system: &'static str,
    },
}

/// Says what exists, and whether the retry can find it: an operator reading a failed execution
/// must learn when a second order is possible.
fn order_not_recorded(
    request: &str,
    store: &ReceiptStoreError,
    marking: Option<&ConnectorError>,
) -> String {
    match marking {
        None => format!(
            "ServiceNow catalog request {request} was ordered and its requested item marked with \
             the correlation id, but the receipt could not record it ({}); the retry will find \
             the order by its correlation id",
            store.0
        ),
        Some(mark) => format!(
            "ServiceNow catalog request {request} was ordered, but the receipt could not record \
             it ({}) and its requested item could not be marked ({mark}); the retry will search \
             by correlation id, find nothing and may order a second time: check ServiceNow for a \
             duplicate request and cancel it",
            store.0
        ),
    }
}

impl From<CreateTicketError> for StepError {
    fn from(e: CreateTicketError) -> Self {
        match e {
            CreateTicketError::Target(c) => c.into(),
            CreateTicketError::Receipts(_) | CreateTicketError::OrderNotRecorded { .. } => {
                StepError::retryable(e.to_string())
            }
            CreateTicketError::MissingSetting { .. } => StepError::misconfigured(e.to_string()),
        }
    }
}
