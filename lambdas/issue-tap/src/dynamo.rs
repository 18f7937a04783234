//! The delivery log in DynamoDB: one item per execution in the ledger table (partition key
//! `pk`), so every Lambda instance sees the same receipts.
//!
//! | attribute    | meaning                                                            |
//! |--------------|--------------------------------------------------------------------|
//! | `pk`         | `TAP#<executionId>`                                                |
//! | `kind`       | `tap-receipt`                                                      |
//! | `attempt`    | the attempt holding the lease                                      |
//! | `leaseUntil` | end of the lease, unix milliseconds (N)                            |
//! | `receipt`    | the [`TapReceipt`] as JSON, once something was delivered (no pass) |
//!
//! - `claim`: `PutItem` with `attribute_not_exists(pk) OR (attribute_not_exists(receipt) AND
//!   (leaseUntil < :now OR attempt = :attempt))`. When the condition fails, a strongly
//!   consistent `GetItem` tells a receipt (`AlreadyDelivered`) from a live lease (`Busy`).
//! - `record`: `UpdateItem SET receipt = :r` with `attempt = :attempt OR attribute_exists(receipt)`;
//!   failing means another attempt took the lease over (`LeaseLost`).
//! - `release`: `UpdateItem SET leaseUntil = 0` with `attempt = :attempt AND
//!   attribute_not_exists(receipt)`. No `DeleteItem`: the ledger table's policy never needs it.
//!
//! IAM: `dynamodb:GetItem`, `PutItem`, `UpdateItem` on the ledger table, with
//! `dynamodb:LeadingKeys` limited to `TAP#*`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::delivery::{Claim, DeliveryLog, DeliveryLogError, TapReceipt};

/// Points the client at a local DynamoDB (moto) instead of AWS, as the ledger does.
pub use dayone_ledger::ENDPOINT_ENV;

/// The delivery log in the ledger table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoDeliveryLog {
    client: Client,
    table: String,
}

impl DynamoDeliveryLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoDeliveryLog {
            client,
            table: table.into(),
        }
    }

    /// A log on the ledger table's client (pointed at `DAYONE_DYNAMODB_ENDPOINT` when set),
    /// for `main.rs`.
    pub async fn from_env(table: impl Into<String>) -> Self {
        DynamoDeliveryLog::new(dayone_ledger::client_from_env().await, table)
    }

    fn key(execution_id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".to_string(), s(format!("TAP#{execution_id}")))])
    }

    async fn read(
        &self,
        execution_id: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, DeliveryLogError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(execution_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", e))?;
        Ok(out.item)
    }

    fn error<E, R>(&self, op: &str, err: SdkError<E, R>) -> DeliveryLogError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().unwrap_or("Unknown").to_string();
        let detail = format!("{op} on table '{}': {code}", self.table);
        match code.as_str() {
            "ResourceNotFoundException" => DeliveryLogError::Misconfigured(format!(
                "{detail}; deploy the ledger table (partition key pk, S) and set DAYONE_LEDGER_TABLE"
            )),
            "AccessDeniedException" => DeliveryLogError::Misconfigured(format!(
                "{detail}; grant the function dynamodb:GetItem/PutItem/UpdateItem on TAP#* items"
            )),
            _ => DeliveryLogError::Unavailable(detail),
        }
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

fn receipt_of(
    item: &HashMap<String, AttributeValue>,
) -> Result<Option<TapReceipt>, DeliveryLogError> {
    match item.get("receipt").and_then(|v| v.as_s().ok()) {
        None => Ok(None),
        Some(json) => serde_json::from_str(json).map(Some).map_err(|e| {
            DeliveryLogError::Unavailable(format!("a stored TAP receipt is unreadable: {e}"))
        }),
    }
}

fn lease_of(item: &HashMap<String, AttributeValue>) -> DateTime<Utc> {
    item.get("leaseUntil")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[async_trait]
impl DeliveryLog for DynamoDeliveryLog {
    async fn claim(
        &self,
        execution_id: &str,
        attempt: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, DeliveryLogError> {
        let mut item = Self::key(execution_id);
        item.insert("kind".into(), s("tap-receipt"));
        item.insert("attempt".into(), s(attempt));
        item.insert("leaseUntil".into(), n((now + lease).timestamp_millis()));
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(pk) OR (attribute_not_exists(receipt) AND \
                 (leaseUntil < :now OR attempt = :attempt))",
            )
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":attempt", s(attempt))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Claim::Acquired),
            Err(e) if is_condition_failure(&e) => {
                let Some(current) = self.read(execution_id).await? else {
                    // Gone between the two calls (it is never deleted, so: a moto quirk); retry.
                    return Err(DeliveryLogError::Unavailable(
                        "the TAP receipt item changed during the claim".into(),
                    ));
                };
                match receipt_of(&current)? {
                    Some(receipt) => Ok(Claim::AlreadyDelivered(receipt)),
                    None => Ok(Claim::Busy {
                        until: lease_of(&current),
                    }),
                }
            }
            Err(e) => Err(self.error("PutItem", e)),
        }
    }

    async fn record(&self, attempt: &str, receipt: &TapReceipt) -> Result<(), DeliveryLogError> {
        let json = serde_json::to_string(receipt).map_err(|e| {
            DeliveryLogError::Unavailable(format!("cannot encode the receipt: {e}"))
        })?;
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&receipt.execution_id)))
            .update_expression("SET receipt = :receipt")
            .condition_expression("attempt = :attempt OR attribute_exists(receipt)")
            .expression_attribute_values(":receipt", s(json))
            .expression_attribute_values(":attempt", s(attempt))
            .send()
            .await;
        match update {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(DeliveryLogError::LeaseLost {
                execution_id: receipt.execution_id.clone(),
                attempt: attempt.to_string(),
            }),
            Err(e) => Err(self.error("UpdateItem", e)),
        }
    }

    async fn release(&self, execution_id: &str, attempt: &str) -> Result<(), DeliveryLogError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(execution_id)))
            .update_expression("SET leaseUntil = :zero")
            .condition_expression("attempt = :attempt AND attribute_not_exists(receipt)")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":attempt", s(attempt))
            .send()
            .await;
        match update {
            // Not ours any more, or already delivered: nothing to give back.
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()),
            Err(e) => Err(self.error("UpdateItem", e)),
        }
    }
}
