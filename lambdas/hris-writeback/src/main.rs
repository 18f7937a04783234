//! The hris-writeback Lambda: the SDK entry around [`hris_writeback::handle`].
//!
//! What was written lives in the ledger table (`WRITEBACK#<workerId>`) named by
//! `DAYONE_LEDGER_TABLE`, so a re-run on any instance skips what Workday already holds. Without
//! the variable (a local `cargo lambda watch`) the log is kept in memory and a warning says so.

use std::sync::Arc;

use dayone_sdk::context::StepContext;
use hris_writeback::{DynamoWritebackLog, InMemoryWritebackLog, WritebackInput, WritebackLog};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    dayone_sdk::logging::init_logging();
    let log: Arc<dyn WritebackLog> = match std::env::var("DAYONE_LEDGER_TABLE") {
        Ok(table) if !table.is_empty() => Arc::new(DynamoWritebackLog::from_env(table).await),
        _ => {
            tracing::warn!("DAYONE_LEDGER_TABLE is not set: the write-back log is kept in memory");
            Arc::new(InMemoryWritebackLog::new())
        }
    };
    dayone_sdk::lambda::run_step(
        "hris-writeback",
        move |input: WritebackInput, ctx: StepContext| {
            let log = log.clone();
            async move { hris_writeback::handle(&ctx, log.as_ref(), input).await }
        },
    )
    .await
}
