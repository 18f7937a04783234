//! The write-back log: what dayone last wrote into Workday for a worker.
//!
//! Writing the same email twice is harmless to the data, but every Workday write starts a
//! business process event (a "Work Contact Change" in the worker's history, sometimes a
//! notification). So a re-run, or a retry after the username failed, skips what is already
//! there. Each operation is recorded as soon as Workday accepts it.
//!
//! Adapters: [`InMemoryWritebackLog`] for tests and the local engine;
//! [`crate::dynamo::DynamoWritebackLog`] in AWS (`WRITEBACK#<workerId>` items in the ledger
//! table).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What was last written for a worker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Written {
    pub email: Option<String>,
    pub username: Option<String>,
}

/// Which of the two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Email,
    Username,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the HRIS write-back log is unavailable ({0}); retry shortly")]
pub struct WritebackLogError(pub String);

#[async_trait]
pub trait WritebackLog: Send + Sync {
    async fn last_written(&self, worker_id: &str) -> Result<Written, WritebackLogError>;
    async fn record(
        &self,
        worker_id: &str,
        field: Field,
        value: &str,
    ) -> Result<(), WritebackLogError>;
}

/// In memory, for tests and the local engine.
#[derive(Debug, Default)]
pub struct InMemoryWritebackLog {
    written: Mutex<HashMap<String, Written>>,
}

impl InMemoryWritebackLog {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl WritebackLog for InMemoryWritebackLog {
    async fn last_written(&self, worker_id: &str) -> Result<Written, WritebackLogError> {
        let map = self.written.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(worker_id).cloned().unwrap_or_default())
    }

    async fn record(
        &self,
        worker_id: &str,
        field: Field,
        value: &str,
    ) -> Result<(), WritebackLogError> {
        let mut map = self.written.lock().unwrap_or_else(|p| p.into_inner());
        let entry = map.entry(worker_id.to_string()).or_default();
        match field {
            Field::Email => entry.email = Some(value.to_string()),
            Field::Username => entry.username = Some(value.to_string()),
        }
        Ok(())
    }
}
