//! The DynamoDB adapter. Single table, partition key `pk` (S), no sort key:
//!
//! | pk                          | attributes                                                        |
//! |-----------------------------|-------------------------------------------------------------------|
//! | `NAME#<ns>#<lowercased>`    | kind=name, namespace, value, owner, status, when, execution       |
//! | `WORKER#<workerId>`         | kind=worker, samAccountName, upn, mail, status, when, execution   |
//! | `SUFFIX#<base name>`        | kind=suffix, next (N): the last numeric suffix handed out         |
//!
//! Reads are one strongly consistent `BatchGetItem`; the suffix counter is one
//! `UpdateItem` (`if_not_exists + 1`); a hire's names are one
//! `TransactWriteItems` whose items are each conditional
//! (`attribute_not_exists(pk)` to create, owner/status checks to change), and
//! that asks for `ALL_OLD` on a failed condition so a lost race tells us who won.
//! The ledger never calls `DeleteItem`; deployments should not grant it.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, KeysAndAttributes,
    Put, ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TransactWriteItem,
    Update,
};
use dayone_core::Namespace;

use crate::engine::{self, Store};
use crate::record::{
    NameRecord, NameStatus, StoredItem, TransactError, WORKER_PREFIX, WorkerRecord, Write,
    format_time, parse_name_key, parse_time, suffix_key,
};
use crate::{Allocation, Ledger, LedgerError, TOMBSTONE_EXECUTION};

/// Environment variable that points the adapter at a local DynamoDB (moto,
/// DynamoDB Local) instead of AWS.
pub const ENDPOINT_ENV: &str = "DAYONE_DYNAMODB_ENDPOINT";

/// `BatchGetItem` accepts at most 100 keys per request.
const BATCH_GET_LIMIT: usize = 100;

/// The DynamoDB adapter. Cheap to clone.
/// A DynamoDB client from the normal AWS configuration chain, pointed at
/// `DAYONE_DYNAMODB_ENDPOINT` when that is set (tests, local runs). Every user of the ledger
/// table (the ledger, TAP receipts, write-back log) builds its client here.
pub async fn client_from_env() -> Client {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(endpoint) = std::env::var(ENDPOINT_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        // A local endpoint needs some region to sign with; the real one is irrelevant.
        let region =
            aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1");
        loader = loader.endpoint_url(endpoint).region(region);
    }
    Client::new(&loader.load().await)
}

#[derive(Clone, Debug)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoLedger {
            client,
            table: table.into(),
        }
    }

    /// A ledger on [`client_from_env`].
    pub async fn from_env(table: impl Into<String>) -> Self {
        DynamoLedger::new(client_from_env().await, table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the ledger table (on-demand billing) when it does not exist and
    /// waits until it is active. For tests and local setups; deployments
    /// create it in SAM/CDK with the same schema.
    pub async fn create_table_if_missing(&self) -> Result<(), LedgerError> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return self.wait_active().await,
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(map_sdk_error("DescribeTable", &self.table, e)),
        }
        let key = KeySchemaElement::builder()
            .attribute_name("pk")
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| LedgerError::Dynamo(e.to_string()))?;
        let attr = AttributeDefinition::builder()
            .attribute_name("pk")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| LedgerError::Dynamo(e.to_string()))?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .key_schema(key)
            .attribute_definitions(attr)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            // Someone else created it meanwhile: fine.
            Err(e) if e.code() == Some("ResourceInUseException") => {}
            Err(e) => return Err(map_sdk_error("CreateTable", &self.table, e)),
        }
        self.wait_active().await
    }

    async fn wait_active(&self) -> Result<(), LedgerError> {
        for _ in 0..120 {
            let out = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| map_sdk_error("DescribeTable", &self.table, e))?;
            let status = out
                .table()
                .and_then(|t| t.table_status())
                .map(|s| s.as_str().to_string());
            if status.as_deref() == Some("ACTIVE") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(LedgerError::Unavailable(format!(
            "table {} did not become ACTIVE within a minute",
            self.table
        )))
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key_of(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_string(), s(pk))])
}

fn decode(item: &HashMap<String, AttributeValue>) -> Result<(String, StoredItem), LedgerError> {
    let pk = match item.get("pk") {
        Some(AttributeValue::S(pk)) => pk.clone(),
        _ => {
            return Err(LedgerError::Corrupt {
                key: "?".into(),
                problem: "item without a string pk".into(),
            });
        }
    };
    let text = |name: &str| -> Result<String, LedgerError> {
        match item.get(name) {
            Some(AttributeValue::S(v)) => Ok(v.clone()),
            _ => Err(LedgerError::Corrupt {
                key: pk.clone(),
                problem: format!("missing string attribute '{name}'"),
            }),
        }
    };
    let stored = match text("kind")?.as_str() {
        "name" => {
            let (namespace, value) = parse_name_key(&pk)?;
            StoredItem::Name(NameRecord {
                namespace,
                value,
                owner: text("owner")?,
                status: NameStatus::parse(&pk, &text("status")?)?,
                when: parse_time(&pk, &text("when")?)?,
                execution: text("execution")?,
            })
        }
        "worker" => StoredItem::Worker(WorkerRecord {
            worker_id: pk.strip_prefix(WORKER_PREFIX).unwrap_or(&pk).to_string(),
            sam_account_name: text("samAccountName")?,
            upn: text("upn")?,
            mail: text("mail")?,
            status: NameStatus::parse(&pk, &text("status")?)?,
            when: parse_time(&pk, &text("when")?)?,
            execution: text("execution")?,
        }),
        "suffix" => match item.get("next") {
            Some(AttributeValue::N(n)) => {
                StoredItem::Suffix(n.parse().map_err(|_| LedgerError::Corrupt {
                    key: pk.clone(),
                    problem: format!("bad counter '{n}'"),
                })?)
            }
            _ => {
                return Err(LedgerError::Corrupt {
                    key: pk.clone(),
                    problem: "missing counter 'next'".into(),
                });
            }
        },
        other => {
            return Err(LedgerError::Corrupt {
                key: pk.clone(),
                problem: format!("unknown kind '{other}'"),
            });
        }
    };
    Ok((pk, stored))
}

fn name_item(r: &NameRecord) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            "pk".to_string(),
            s(crate::record::name_key(r.namespace, &r.value)),
        ),
        ("kind".to_string(), s("name")),
        ("namespace".to_string(), s(r.namespace.as_str())),
        ("value".to_string(), s(r.value.clone())),
        ("owner".to_string(), s(r.owner.clone())),
        ("status".to_string(), s(r.status.as_str())),
        ("when".to_string(), s(format_time(&r.when))),
        ("execution".to_string(), s(r.execution.clone())),
    ])
}

fn worker_item(r: &WorkerRecord) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), s(crate::record::worker_key(&r.worker_id))),
        ("kind".to_string(), s("worker")),
        ("samAccountName".to_string(), s(r.sam_account_name.clone())),
        ("upn".to_string(), s(r.upn.clone())),
        ("mail".to_string(), s(r.mail.clone())),
        ("status".to_string(), s(r.status.as_str())),
        ("when".to_string(), s(format_time(&r.when))),
        ("execution".to_string(), s(r.execution.clone())),
    ])
}

fn build_err(e: impl std::fmt::Display) -> LedgerError {
    LedgerError::Dynamo(format!("could not build a request: {e}"))
}

impl DynamoLedger {
    fn transact_item(&self, write: &Write) -> Result<TransactWriteItem, LedgerError> {
        let put = |item| {
            Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(build_err)
        };
        let update = |condition: &str,
                      guard_attr: &str,
                      guard: String,
                      status: NameStatus,
                      when,
                      execution: &str| {
            Update::builder()
                .table_name(&self.table)
                .set_key(Some(key_of(&write.key())))
                .update_expression("SET #status = :status, #when = :when, #execution = :execution")
                .condition_expression(condition)
                .expression_attribute_names("#status", "status")
                .expression_attribute_names("#when", "when")
                .expression_attribute_names("#execution", "execution")
                .expression_attribute_names("#guard", guard_attr)
                .expression_attribute_values(":status", s(status.as_str()))
                .expression_attribute_values(":when", s(format_time(when)))
                .expression_attribute_values(":execution", s(execution))
                .expression_attribute_values(":guard", s(guard))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .map_err(build_err)
        };
        let item = match write {
            Write::InsertName(r) => TransactWriteItem::builder().put(put(name_item(r))?),
            Write::InsertWorker(r) => TransactWriteItem::builder().put(put(worker_item(r))?),
            Write::SetNameStatus {
                owner,
                status,
                when,
                execution,
                ..
            } => TransactWriteItem::builder().update(update(
                "#guard = :guard",
                "owner",
                owner.clone(),
                *status,
                when,
                execution,
            )?),
            Write::SetWorkerStatus {
                from,
                to,
                when,
                execution,
                ..
            } => TransactWriteItem::builder().update(update(
                "#guard = :guard",
                "status",
                from.as_str().to_string(),
                *to,
                when,
                execution,
            )?),
        };
        Ok(item.build())
    }
}

/// Maps an SDK error onto the ledger's error kinds: throttling and transient
/// failures are retryable, a missing table or refused credentials are not.
fn map_sdk_error<E, R>(op: &str, table: &str, err: SdkError<E, R>) -> LedgerError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            return LedgerError::Unavailable(format!(
                "{op}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&err)
            ));
        }
        _ => {}
    }
    let code = err.code().unwrap_or("Unknown").to_string();
    let message = err.message().unwrap_or("").to_string();
    let detail = format!("{op}: {code}: {message}");
    match code.as_str() {
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => LedgerError::Throttled(detail),
        "InternalServerError" | "ServiceUnavailable" | "TransactionInProgressException" => {
            LedgerError::Unavailable(detail)
        }
        "ResourceNotFoundException" => LedgerError::Misconfigured(format!(
            "the DynamoDB table '{table}' does not exist ({detail}); deploy the stack or create it with partition key pk (S)"
        )),
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "ExpiredTokenException" => LedgerError::AccessDenied(detail),
        "ConditionalCheckFailedException" => LedgerError::ConditionalCheckFailed { keys: detail },
        _ => LedgerError::Dynamo(detail),
    }
}

#[async_trait]
impl Store for DynamoLedger {
    async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<(HashMap<String, StoredItem>, u32), LedgerError> {
        let mut items = HashMap::new();
        let mut round_trips = 0u32;
        for chunk in keys.chunks(BATCH_GET_LIMIT) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|k| key_of(k)).collect()))
                .consistent_read(true)
                .build()
                .map_err(build_err)?;
            let mut backoff = Duration::from_millis(20);
            loop {
                round_trips += 1;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| map_sdk_error("BatchGetItem", &self.table, e))?;
                for raw in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let (pk, item) = decode(raw)?;
                    items.insert(pk, item);
                }
                // DynamoDB may return part of a batch under load; ask again for the rest.
                match out.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        if round_trips > 10 {
                            return Err(LedgerError::Throttled(
                                "BatchGetItem kept returning unprocessed keys".into(),
                            ));
                        }
                        pending = rest.clone();
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                    }
                    _ => break,
                }
            }
        }
        Ok((items, round_trips.max(1)))
    }

    async fn next_suffix(&self, key: &str) -> Result<u64, LedgerError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(&suffix_key(key))))
            .update_expression("SET #next = if_not_exists(#next, :one) + :one, #kind = :kind")
            .expression_attribute_names("#next", "next")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":kind", s("suffix"))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| map_sdk_error("UpdateItem", &self.table, e))?;
        match out.attributes().and_then(|a| a.get("next")) {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| LedgerError::Corrupt {
                key: suffix_key(key),
                problem: format!("bad counter '{n}'"),
            }),
            _ => Err(LedgerError::Corrupt {
                key: suffix_key(key),
                problem: "UpdateItem returned no counter".into(),
            }),
        }
    }

    async fn raise_suffix(&self, key: &str, at_least: u64) -> Result<(), LedgerError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_of(&suffix_key(key))))
            .update_expression("SET #next = :n, #kind = :kind")
            .condition_expression("attribute_not_exists(#next) OR #next < :n")
            .expression_attribute_names("#next", "next")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":n", AttributeValue::N(at_least.to_string()))
            .expression_attribute_values(":kind", s("suffix"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The counter is already at or above the floor: nothing to raise.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(map_sdk_error("UpdateItem", &self.table, e)),
        }
    }

    async fn transact(&self, writes: &[Write]) -> Result<(), TransactError> {
        let items = writes
            .iter()
            .map(|w| self.transact_item(w))
            .collect::<Result<Vec<_>, _>>()?;
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        if let SdkError::ServiceError(service) = &err
            && let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
        {
            return cancellation(writes, cancelled.cancellation_reasons(), &self.table);
        }
        Err(TransactError::Failed(map_sdk_error(
            "TransactWriteItems",
            &self.table,
            err,
        )))
    }
}

/// Turns `CancellationReasons` (one per write, in order) into a conflict
/// list, or into a retryable error when the cancellation was not about our
/// conditions.
fn cancellation(
    writes: &[Write],
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
    table: &str,
) -> Result<(), TransactError> {
    let mut conflicts = Vec::new();
    for (write, reason) in writes.iter().zip(reasons) {
        match reason.code() {
            None | Some("None") | Some("") => {}
            Some("ConditionalCheckFailed") => {
                let current = match reason.item() {
                    Some(item) if !item.is_empty() => Some(decode(item)?.1),
                    _ => None,
                };
                conflicts.push((write.key(), current));
            }
            // Lost to a concurrent transaction on the same item: re-read.
            Some("TransactionConflict") => conflicts.push((write.key(), None)),
            Some("ThrottlingError")
            | Some("ProvisionedThroughputExceeded")
            | Some("RequestLimitExceeded") => {
                return Err(TransactError::Failed(LedgerError::Throttled(format!(
                    "TransactWriteItems on {table}: {}",
                    reason.message().unwrap_or("throttled")
                ))));
            }
            Some(other) => {
                return Err(TransactError::Failed(LedgerError::Dynamo(format!(
                    "TransactWriteItems on {table} cancelled: {other}: {}",
                    reason.message().unwrap_or("")
                ))));
            }
        }
    }
    if conflicts.is_empty() {
        // Cancelled without a per-item reason: treat as a lost race and read again.
        conflicts = writes.iter().map(|w| (w.key(), None)).collect();
    }
    Err(TransactError::Conflict(conflicts))
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn allocate(
        &self,
        worker_id: &str,
        execution_id: &str,
        plan: &dayone_core::UsernamePlan,
    ) -> Result<Allocation, LedgerError> {
        engine::allocate(self, worker_id, execution_id, plan).await
    }

    async fn tombstone(&self, worker_id: &str) -> Result<(), LedgerError> {
        engine::tombstone(self, worker_id, TOMBSTONE_EXECUTION).await
    }

    async fn holder(&self, ns: Namespace, value: &str) -> Result<Option<NameRecord>, LedgerError> {
        engine::holder(self, ns, value).await
    }

    async fn worker(&self, worker_id: &str) -> Result<Option<WorkerRecord>, LedgerError> {
        engine::worker(self, worker_id).await
    }

    async fn import(
        &self,
        account: &crate::ExistingAccount,
        suffix_start: u64,
    ) -> Result<crate::ImportOutcome, LedgerError> {
        crate::import::import(self, account, suffix_start).await
    }
}
