//! The notify-failure Lambda: the SDK entry (logging, context built once, step errors as
//! `Dayone.*` error types) around [`notify_failure::handle`].

use dayone_sdk::context::StepContext;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    dayone_sdk::lambda::run_step(
        "notify-failure",
        |input: notify_failure::NotifyInput, ctx: StepContext| async move {
            notify_failure::handle(&ctx, input).await
        },
    )
    .await
}
