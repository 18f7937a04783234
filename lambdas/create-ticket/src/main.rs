//! The create-ticket Lambda: the SDK entry (logging, context built once, step errors as
//! `Dayone.*` error types) around [`create_ticket::handle`].
//!
//! Ticket receipts live in the ledger table (`TICKET#<correlation key>`) named by
//! `DAYONE_LEDGER_TABLE`, so a retry on any instance returns the ticket an earlier attempt
//! opened. Without the variable (a local `cargo lambda watch`) receipts are kept in memory and a
//! warning says so.

use std::sync::Arc;

use create_ticket::{
    CreateTicketInput, DynamoTicketReceipts, InMemoryTicketReceipts, TicketReceipts,
};
use dayone_sdk::context::StepContext;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    dayone_sdk::logging::init_logging();
    let receipts: Arc<dyn TicketReceipts> = match std::env::var("DAYONE_LEDGER_TABLE") {
        Ok(table) if !table.is_empty() => Arc::new(DynamoTicketReceipts::from_env(table).await),
        _ => {
            tracing::warn!("DAYONE_LEDGER_TABLE is not set: ticket receipts are kept in memory");
            Arc::new(InMemoryTicketReceipts::new())
        }
    };
    dayone_sdk::lambda::run_step(
        "create-ticket",
        move |input: CreateTicketInput, ctx: StepContext| {
            let receipts = receipts.clone();
            async move { create_ticket::handle(&ctx, receipts.as_ref(), input).await }
        },
    )
    .await
}
