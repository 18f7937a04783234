//! The create-ticket Lambda: the SDK entry (logging, context built once, step errors as
//! `Dayone.*` error types) around [`create_ticket::handle`].

use dayone_sdk::context::StepContext;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    dayone_sdk::lambda::run_step(
        "create-ticket",
        |input: create_ticket::CreateTicketInput, ctx: StepContext| async move {
            create_ticket::handle(&ctx, input).await
        },
    )
    .await
}
