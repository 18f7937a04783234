//! The write-back log in DynamoDB: one item per worker in the ledger table (partition key
//! `pk`), so a re-run on any Lambda instance sees what was written.
//!
//! | attribute  | meaning                                  |
//! |------------|------------------------------------------|
//! | `pk`       | `WRITEBACK#<workerId>`                   |
//! | `kind`     | `hris-writeback`                         |
//! | `email`    | the work email last written to Workday   |
//! | `username` | the user name last written to Workday    |
//!
//! Reads are strongly consistent `GetItem`s; each write is one `UpdateItem SET <field> = :v`
//! without a condition (two writers can only have written the same value for a worker).
//! IAM: `dynamodb:GetItem` and `UpdateItem` on the ledger table, `LeadingKeys` `WRITEBACK#*`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::log::{Field, WritebackLog, WritebackLogError, Written};

/// Points the client at a local DynamoDB (moto) instead of AWS, as the ledger does.
pub use dayone_ledger::ENDPOINT_ENV;

/// The write-back log in the ledger table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoWritebackLog {
    client: Client,
    table: String,
}

impl DynamoWritebackLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoWritebackLog {
            client,
            table: table.into(),
        }
    }

    /// A log on the ledger table's client (pointed at `DAYONE_DYNAMODB_ENDPOINT` when set),
    /// for `main.rs`.
    pub async fn from_env(table: impl Into<String>) -> Self {
        DynamoWritebackLog::new(dayone_ledger::client_from_env().await, table)
    }

    fn key(worker_id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([(
            "pk".to_string(),
            AttributeValue::S(format!("WRITEBACK#{worker_id}")),
        )])
    }

    fn error<E, R>(&self, op: &str, err: SdkError<E, R>) -> WritebackLogError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        WritebackLogError(format!(
            "{op} on table '{}': {}",
            self.table,
            err.code().unwrap_or("no response")
        ))
    }
}

#[async_trait]
impl WritebackLog for DynamoWritebackLog {
    async fn last_written(&self, worker_id: &str) -> Result<Written, WritebackLogError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(worker_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", e))?;
        let item = out.item.unwrap_or_default();
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Ok(Written {
            email: text("email"),
            username: text("username"),
        })
    }

    async fn record(
        &self,
        worker_id: &str,
        field: Field,
        value: &str,
    ) -> Result<(), WritebackLogError> {
        let attribute = match field {
            Field::Email => "email",
            Field::Username => "username",
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(worker_id)))
            .update_expression("SET #field = :value, kind = :kind")
            .expression_attribute_names("#field", attribute)
            .expression_attribute_values(":value", AttributeValue::S(value.to_string()))
            .expression_attribute_values(":kind", AttributeValue::S("hris-writeback".into()))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", e))?;
        Ok(())
    }
}
