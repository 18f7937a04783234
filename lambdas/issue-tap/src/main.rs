//! The issue-tap Lambda: the SDK entry around [`issue_tap::handle`].
//!
//! Delivery receipts live in the ledger table (`TAP#<executionId>`, conditional writes) named by
//! `DAYONE_LEDGER_TABLE`, so a retry on any instance never delivers a second pass. Without the
//! variable (a local `cargo lambda watch`) they are kept in memory and a warning says so.

use std::sync::Arc;

use dayone_sdk::context::StepContext;
use issue_tap::{DeliveryLog, DynamoDeliveryLog, InMemoryDeliveryLog, IssueTapInput};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    dayone_sdk::logging::init_logging();
    let deliveries: Arc<dyn DeliveryLog> = match std::env::var("DAYONE_LEDGER_TABLE") {
        Ok(table) if !table.is_empty() => Arc::new(DynamoDeliveryLog::from_env(table).await),
        _ => {
            tracing::warn!(
                "DAYONE_LEDGER_TABLE is not set: TAP delivery receipts are kept in memory"
            );
            Arc::new(InMemoryDeliveryLog::new())
        }
    };
    dayone_sdk::lambda::run_step(
        "issue-tap",
        move |input: IssueTapInput, ctx: StepContext| {
            let deliveries = deliveries.clone();
            async move { issue_tap::handle(&ctx, deliveries.as_ref(), input).await }
        },
    )
    .await
}
