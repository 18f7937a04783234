//! Lambda wiring for `allocate-username`: configuration from `DAYONE_CONFIG`,
//! the DynamoDB ledger table from `DAYONE_LEDGER_TABLE`, built once per cold start.

use std::sync::Arc;

use allocate_username::{AllocateInput, AllocateUsername, TABLE_ENV};
use dayone_ledger::DynamoLedger;
use dayone_sdk::{StepContext, StepError, lambda};

#[tokio::main]
async fn main() -> Result<(), lambda::Error> {
    let step = match (lambda::load_config(), std::env::var(TABLE_ENV)) {
        (Ok(config), Ok(table)) if !table.trim().is_empty() => {
            AllocateUsername::from_config(&config, DynamoLedger::from_env(table).await)
        }
        (Err(e), _) => Err(e),
        _ => Err(StepError::misconfigured(format!(
            "{TABLE_ENV} is not set; point it at the ledger table"
        ))),
    };
    let step = Arc::new(step);
    lambda::run_step(
        "allocate-username",
        move |input: AllocateInput, _ctx: StepContext| {
            let step = Arc::clone(&step);
            async move {
                match step.as_ref() {
                    Ok(step) => step.handle(input).await,
                    Err(e) => Err(e.clone()),
                }
            }
        },
    )
    .await
}
