//! The create-account Lambda: the SDK entry (logging, context built once, step errors as
//! `Dayone.*` error types) around [`create_account::handle`].

use dayone_sdk::context::StepContext;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    dayone_sdk::lambda::run_step(
        "create-account",
        |input: create_account::CreateAccountInput, ctx: StepContext| async move {
            create_account::handle(&ctx, input).await
        },
    )
    .await
}
