//! Lambda wiring for `welcome-pack`: logging, context and error mapping come from the SDK.

#[tokio::main]
async fn main() -> Result<(), dayone_sdk::lambda::Error> {
    dayone_sdk::run_step("welcome-pack", welcome_pack::handle).await
}
