//! Ticket receipts in DynamoDB: one item per hire event in the ledger table (partition key
//! `pk`), so a retry on any Lambda instance sees what an earlier attempt did.
//!
//! | attribute   | meaning                                                  |
//! |-------------|----------------------------------------------------------|
//! | `pk`        | `TICKET#<correlation key>`                               |
//! | `kind`      | `create-ticket`                                          |
//! | `status`    | `pending` (an attempt began) or `done` (the ticket exists) |
//! | `execution` | the execution that began it                              |
//! | `startedAt` | when it began, RFC 3339                                  |
//! | `request`   | the ServiceNow catalog request (`sc_request` sys_id) an attempt placed |
//! | `system`, `key`, `url`, `hardware` | the ticket, once `done`           |
//!
//! - `begin`: `PutItem` with `attribute_not_exists(pk)`. When the condition fails, a strongly
//!   consistent `GetItem` reads what the earlier attempt left.
//! - `progress`: `UpdateItem SET request` (no condition: it only ever names the request this
//!   key's order placed, and a `done` receipt ignores it). It stays on the item once done.
//! - `complete`: `UpdateItem SET status = done, system, key, url, hardware` (no condition: every
//!   attempt for a key completes it with the same ticket).
//!
//! An item that is not a complete `done` receipt (whatever an older or interrupted writer left)
//! reads as pending: the step then asks the target system, which is the source of truth.
//! No `DeleteItem`: receipts are kept, like the ledger's names.
//!
//! IAM: `dynamodb:GetItem`, `PutItem` and `UpdateItem` on the ledger table, with
//! `dynamodb:LeadingKeys` limited to `TICKET#*`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::receipts::{Begun, ReceiptStoreError, TicketReceipt, TicketReceipts};

/// Points the client at a local DynamoDB (moto) instead of AWS, as the ledger does.
pub use dayone_ledger::ENDPOINT_ENV;

const KIND: &str = "create-ticket";
const PENDING: &str = "pending";
const DONE: &str = "done";

/// Ticket receipts in the ledger table. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoTicketReceipts {
    client: Client,
    table: String,
}

impl DynamoTicketReceipts {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoTicketReceipts {
            client,
            table: table.into(),
        }
    }

    /// Receipts on the ledger table's client (pointed at `DAYONE_DYNAMODB_ENDPOINT` when set),
    /// for `main.rs`.
    pub async fn from_env(table: impl Into<String>) -> Self {
        DynamoTicketReceipts::new(dayone_ledger::client_from_env().await, table)
    }

    fn key(correlation_key: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".to_string(), s(format!("TICKET#{correlation_key}")))])
    }

    async fn read(
        &self,
        correlation_key: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, ReceiptStoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(correlation_key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.error("GetItem", e))?;
        Ok(out.item)
    }

    /// The operation, the table and DynamoDB's error code (plus what to fix when the code says
    /// it is a deployment problem); never request data.
    fn error<E, R>(&self, op: &str, err: SdkError<E, R>) -> ReceiptStoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let code = err.code().unwrap_or("no response");
        let hint = match code {
            "ResourceNotFoundException" => {
                "; deploy the ledger table (partition key pk, S) and set DAYONE_LEDGER_TABLE"
            }
            "AccessDeniedException" => {
                "; grant dynamodb:GetItem/PutItem/UpdateItem on TICKET#* items of the ledger table"
            }
            _ => "",
        };
        ReceiptStoreError(format!("{op} on table '{}': {code}{hint}", self.table))
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn text<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

/// What an existing item says: a complete `done` receipt, or else pending.
fn state_of(item: &HashMap<String, AttributeValue>) -> Begun {
    if let Some(receipt) = done_receipt(item) {
        return Begun::Done(receipt);
    }
    Begun::Pending {
        execution: text(item, "execution").unwrap_or_default().to_string(),
        since: text(item, "startedAt")
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
        request: text(item, "request")
            .filter(|r| !r.is_empty())
            .map(str::to_string),
    }
}

fn done_receipt(item: &HashMap<String, AttributeValue>) -> Option<TicketReceipt> {
    if text(item, "status") != Some(DONE) {
        return None;
    }
    Some(TicketReceipt {
        system: text(item, "system")?.to_string(),
        key: text(item, "key")?.to_string(),
        url: text(item, "url")?.to_string(),
        hardware: text(item, "hardware")?.to_string(),
    })
}

#[async_trait]
impl TicketReceipts for DynamoTicketReceipts {
    async fn begin(
        &self,
        correlation_key: &str,
        execution_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Begun, ReceiptStoreError> {
        let mut item = Self::key(correlation_key);
        item.insert("kind".into(), s(KIND));
        item.insert("status".into(), s(PENDING));
        item.insert("execution".into(), s(execution_id));
        item.insert(
            "startedAt".into(),
            s(now.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(Begun::Fresh),
            Err(e) if is_condition_failure(&e) => match self.read(correlation_key).await? {
                Some(existing) => Ok(state_of(&existing)),
                // Receipts are never deleted, so this is a store glitch: let the step retry.
                None => Err(ReceiptStoreError(format!(
                    "the receipt item on table '{}' vanished during begin",
                    self.table
                ))),
            },
            Err(e) => Err(self.error("PutItem", e)),
        }
    }

    async fn progress(
        &self,
        correlation_key: &str,
        request_sys_id: &str,
    ) -> Result<(), ReceiptStoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(correlation_key)))
            .update_expression("SET #request = :request")
            .expression_attribute_names("#request", "request")
            .expression_attribute_values(":request", s(request_sys_id))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", e))?;
        Ok(())
    }

    async fn complete(
        &self,
        correlation_key: &str,
        receipt: &TicketReceipt,
    ) -> Result<(), ReceiptStoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(correlation_key)))
            .update_expression(
                "SET kind = :kind, #status = :done, #system = :system, #key = :key, \
                 #url = :url, hardware = :hardware",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#system", "system")
            .expression_attribute_names("#key", "key")
            .expression_attribute_names("#url", "url")
            .expression_attribute_values(":kind", s(KIND))
            .expression_attribute_values(":done", s(DONE))
            .expression_attribute_values(":system", s(&receipt.system))
            .expression_attribute_values(":key", s(&receipt.key))
            .expression_attribute_values(":url", s(&receipt.url))
            .expression_attribute_values(":hardware", s(&receipt.hardware))
            .send()
            .await
            .map_err(|e| self.error("UpdateItem", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pairs: &[(&str, &str)]) -> HashMap<String, AttributeValue> {
        pairs.iter().map(|(k, v)| (k.to_string(), s(*v))).collect()
    }

    #[test]
    fn a_complete_done_item_is_the_ticket() {
        let found = state_of(&item(&[
            ("status", "done"),
            ("system", "jira"),
            ("key", "HELPDESK-1"),
            ("url", "https://acme.atlassian.net/browse/HELPDESK-1"),
            ("hardware", "developer-laptop-mac"),
        ]));
        assert_eq!(
            found,
            Begun::Done(TicketReceipt {
                system: "jira".into(),
                key: "HELPDESK-1".into(),
                url: "https://acme.atlassian.net/browse/HELPDESK-1".into(),
                hardware: "developer-laptop-mac".into(),
            })
        );
    }

    #[test]
    fn a_done_item_missing_its_ticket_reads_as_pending_so_the_target_is_asked() {
        let found = state_of(&item(&[
            ("status", "done"),
            ("system", "jira"),
            ("execution", "exec-1"),
            ("startedAt", "2026-11-26T12:00:00.000Z"),
        ]));
        assert_eq!(
            found,
            Begun::Pending {
                execution: "exec-1".into(),
                since: "2026-11-26T12:00:00Z".parse().unwrap(),
                request: None,
            }
        );
    }

    #[test]
    fn an_unreadable_start_time_still_reads_as_pending() {
        let found = state_of(&item(&[("status", "pending"), ("startedAt", "yesterday")]));
        assert_eq!(
            found,
            Begun::Pending {
                execution: String::new(),
                since: DateTime::<Utc>::MIN_UTC,
                request: None,
            }
        );
    }

    #[test]
    fn a_pending_item_naming_a_request_reads_as_pending_with_it() {
        let found = state_of(&item(&[
            ("status", "pending"),
            ("execution", "exec-1"),
            ("startedAt", "2026-11-26T12:00:00.000Z"),
            ("request", "b1c2d3"),
        ]));
        assert!(matches!(found, Begun::Pending { request: Some(r), .. } if r == "b1c2d3"));
    }

    #[test]
    fn a_done_item_ignores_the_request_it_placed() {
        let found = state_of(&item(&[
            ("status", "done"),
            ("request", "b1c2d3"),
            ("system", "servicenow"),
            ("key", "RITM0010001"),
            ("url", "https://acme.service-now.com/x"),
            ("hardware", "standard-laptop"),
        ]));
        assert!(matches!(found, Begun::Done(r) if r.key == "RITM0010001"));
    }
}
