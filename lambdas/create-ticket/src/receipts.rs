//! Ticket receipts: what create-ticket remembers about each equipment request it opened.
//!
//! The target systems cannot be trusted to answer "did I already open this?" right after the
//! fact: Jira's search index shows a new request only seconds later, so a Step Functions retry
//! after an attempt that opened the request but timed out before returning would find nothing
//! and open a second one (a second laptop order). So before calling ServiceNow or Jira the step
//! *begins* a receipt keyed by the hire's correlation key, and *completes* it with the ticket
//! once it exists:
//!
//! - no receipt yet ([`Begun::Fresh`]): this is the first attempt; look up and open as usual;
//! - a pending receipt ([`Begun::Pending`]): an earlier attempt got as far as the target system
//!   and may have opened the ticket; look harder before opening one, or, when the receipt names
//!   the ServiceNow catalog request that attempt placed, finish that order instead;
//! - a done receipt ([`Begun::Done`]): return the ticket it names, without calling anyone.
//!
//! Between begin and complete, a ServiceNow catalog order *progresses* the receipt with the
//! request it placed ([`TicketReceipts::progress`]): the catalog API has no correlation field,
//! so until the order's requested item is marked nothing else can find that request.
//!
//! Receipts hold the ticket's system, key, link and hardware profile, and the placed request's
//! `sys_id`: nothing secret.
//!
//! Adapters: [`InMemoryTicketReceipts`] for tests and the local engine;
//! [`crate::dynamo::DynamoTicketReceipts`] in AWS (`TICKET#<correlation key>` items in the
//! ledger table).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::CreateTicketOutput;

/// The ticket a finished attempt opened (or found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketReceipt {
    /// `servicenow` or `jira`.
    pub system: String,
    /// Record number or issue key.
    pub key: String,
    /// The link for people.
    pub url: String,
    /// The hardware profile asked for.
    pub hardware: String,
}

impl TicketReceipt {
    /// What the step returns for a ticket an earlier attempt opened.
    pub fn into_output(self) -> CreateTicketOutput {
        CreateTicketOutput {
            system: self.system,
            key: self.key,
            url: self.url,
            created: false,
            hardware: self.hardware,
        }
    }
}

impl From<&CreateTicketOutput> for TicketReceipt {
    fn from(out: &CreateTicketOutput) -> Self {
        TicketReceipt {
            system: out.system.clone(),
            key: out.key.clone(),
            url: out.url.clone(),
            hardware: out.hardware.clone(),
        }
    }
}

/// What [`TicketReceipts::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    /// No attempt had begun for this key; a pending receipt now says this one has.
    Fresh,
    /// An earlier attempt began (`execution`, at `since`) and never completed: it may or may not
    /// have opened the ticket.
    Pending {
        execution: String,
        since: DateTime<Utc>,
        /// The ServiceNow catalog request (`sc_request` sys_id) it placed, if it got that far:
        /// then the ticket exists for certain and only needs finishing.
        request: Option<String>,
    },
    /// An earlier attempt opened (or found) this ticket.
    Done(TicketReceipt),
}

/// The receipt store did not answer. The message names the store and the operation, never a
/// credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the create-ticket receipt store is unavailable ({0}); retry shortly")]
pub struct ReceiptStoreError(pub String);

/// Where receipts live, keyed by [`crate::ticket::correlation_key`].
#[async_trait]
pub trait TicketReceipts: Send + Sync {
    /// Atomically: if no receipt exists for `correlation_key`, record a pending one for
    /// `execution_id` started at `now` and answer [`Begun::Fresh`]; otherwise leave it alone and
    /// answer what it says.
    async fn begin(
        &self,
        correlation_key: &str,
        execution_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Begun, ReceiptStoreError>;

    /// Record on the pending receipt that `request_sys_id` (a ServiceNow catalog request) was
    /// placed for this key, so a retry finishes that order rather than placing another.
    /// Required, not defaulted: an adapter that dropped it would bring the duplicate back.
    async fn progress(
        &self,
        correlation_key: &str,
        request_sys_id: &str,
    ) -> Result<(), ReceiptStoreError>;

    /// Mark the receipt done with the ticket (replacing any earlier ticket details).
    async fn complete(
        &self,
        correlation_key: &str,
        receipt: &TicketReceipt,
    ) -> Result<(), ReceiptStoreError>;
}

#[derive(Debug, Clone)]
struct Entry {
    execution: String,
    started_at: DateTime<Utc>,
    request: Option<String>,
    done: Option<TicketReceipt>,
}

impl Entry {
    fn state(&self) -> Begun {
        match &self.done {
            Some(receipt) => Begun::Done(receipt.clone()),
            None => Begun::Pending {
                execution: self.execution.clone(),
                since: self.started_at,
                request: self.request.clone(),
            },
        }
    }
}

/// Receipts in memory, for tests and the local engine (one per engine, shared by every
/// execution it runs, like the table behind them in AWS).
#[derive(Debug, Default)]
pub struct InMemoryTicketReceipts {
    entries: Mutex<HashMap<String, Entry>>,
}

impl InMemoryTicketReceipts {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // Every change is a single insert or field assignment, so a poisoned map is consistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The entry for `correlation_key`, created blank if no attempt began it (like DynamoDB's
    /// `UpdateItem`, which writes whether or not the item exists).
    fn entry<'a>(entries: &'a mut HashMap<String, Entry>, correlation_key: &str) -> &'a mut Entry {
        entries
            .entry(correlation_key.to_string())
            .or_insert_with(|| Entry {
                execution: String::new(),
                started_at: DateTime::<Utc>::MIN_UTC,
                request: None,
                done: None,
            })
    }
}

#[async_trait]
impl TicketReceipts for InMemoryTicketReceipts {
    async fn begin(
        &self,
        correlation_key: &str,
        execution_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Begun, ReceiptStoreError> {
        let mut entries = self.lock();
        if let Some(entry) = entries.get(correlation_key) {
            return Ok(entry.state());
        }
        entries.insert(
            correlation_key.to_string(),
            Entry {
                execution: execution_id.to_string(),
                started_at: now,
                request: None,
                done: None,
            },
        );
        Ok(Begun::Fresh)
    }

    async fn progress(
        &self,
        correlation_key: &str,
        request_sys_id: &str,
    ) -> Result<(), ReceiptStoreError> {
        let mut entries = self.lock();
        Self::entry(&mut entries, correlation_key).request = Some(request_sys_id.to_string());
        Ok(())
    }

    async fn complete(
        &self,
        correlation_key: &str,
        receipt: &TicketReceipt,
    ) -> Result<(), ReceiptStoreError> {
        let mut entries = self.lock();
        Self::entry(&mut entries, correlation_key).done = Some(receipt.clone());
        Ok(())
    }
}
