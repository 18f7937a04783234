//! The delivery log: how a re-run of the same execution knows the pass already went out.
//!
//! A Temporary Access Pass is a bearer credential, so it is never stored anywhere, not even here.
//! What is stored is the *receipt*: which execution delivered which pass id to whom. Before
//! issuing, the handler claims the execution in the log; a re-run that finds a receipt returns it
//! instead of issuing and delivering again.
//!
//! The claim is a lease, not a lock held forever: an attempt that crashes before delivering
//! anything leaves a lease that expires (the Lambda timeout is a good lease length), and the
//! next attempt may go ahead. An attempt that fails cleanly releases its lease at once.
//!
//! Adapters:
//! - [`InMemoryDeliveryLog`]: tests and the local engine (one per `dayone run` / `dayone serve`
//!   process, shared by every execution it runs).
//! - [`crate::dynamo::DynamoDeliveryLog`]: AWS, one item `TAP#<executionId>` in the ledger
//!   table, every change a conditional write (see that module).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A channel the pass can be delivered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A Slack direct message to the manager.
    Slack,
    /// An email to the manager through Graph sendMail.
    Email,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Slack => "slack",
            Channel::Email => "email",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One successful delivery: the channel and who it went to (an address, never the pass).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub channel: Channel,
    pub to: String,
}

/// What the log keeps for an execution once a pass was delivered. It holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TapReceipt {
    /// Derived from the execution id; printed in every message so the manager and IT can match
    /// a message to an execution.
    pub receipt_id: String,
    pub execution_id: String,
    /// The Graph id of the authentication method (not the pass).
    pub tap_id: String,
    pub start_date_time: DateTime<Utc>,
    pub lifetime_in_minutes: u32,
    pub is_usable_once: bool,
    pub delivered: Vec<Delivery>,
}

/// The outcome of claiming an execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody delivered for this execution and no other attempt holds a live lease: go ahead.
    Acquired,
    /// A pass was already delivered for this execution: return this receipt, do nothing else.
    AlreadyDelivered(TapReceipt),
    /// Another attempt is working on this execution right now.
    Busy { until: DateTime<Utc> },
}

/// Why the log could not answer. Its message never contains a pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryLogError {
    /// The store did not answer; retrying later is safe.
    #[error("the TAP delivery log is unavailable ({0}); retry shortly")]
    Unavailable(String),
    /// The store cannot be used as configured (missing table, no permission).
    #[error("the TAP delivery log cannot be used: {0}")]
    Misconfigured(String),
    /// This attempt's lease was taken over by another attempt (it ran longer than the lease).
    #[error(
        "attempt `{attempt}` no longer holds the TAP delivery lease for execution `{execution_id}`"
    )]
    LeaseLost {
        execution_id: String,
        attempt: String,
    },
}

/// Where receipts live. One capability, so the handler can be tested with the in-memory fake.
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Atomically: if a receipt exists return it; else if a live lease of another attempt
    /// exists say so; else take the lease for `attempt` until `now + lease`.
    async fn claim(
        &self,
        execution_id: &str,
        attempt: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, DeliveryLogError>;

    /// Store (or replace with a longer list of deliveries) the receipt for this execution.
    /// Called after every successful delivery, so a crash after the first channel still leaves
    /// a receipt behind.
    async fn record(&self, attempt: &str, receipt: &TapReceipt) -> Result<(), DeliveryLogError>;

    /// Give the lease back when nothing was delivered, so a retry need not wait for it.
    async fn release(&self, execution_id: &str, attempt: &str) -> Result<(), DeliveryLogError>;
}

#[derive(Debug, Clone)]
struct Entry {
    attempt: String,
    lease_until: DateTime<Utc>,
    receipt: Option<TapReceipt>,
}

/// The delivery log in memory, for tests and the local engine.
#[derive(Debug, Default)]
pub struct InMemoryDeliveryLog {
    entries: Mutex<HashMap<String, Entry>>,
}

impl InMemoryDeliveryLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// The receipt recorded for an execution, if any (for tests and `dayone run`'s summary).
    pub fn receipt(&self, execution_id: &str) -> Option<TapReceipt> {
        self.lock()
            .get(execution_id)
            .and_then(|e| e.receipt.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave an entry half-written (every update is a
        // single insert), so a poisoned map is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl DeliveryLog for InMemoryDeliveryLog {
    async fn claim(
        &self,
        execution_id: &str,
        attempt: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Claim, DeliveryLogError> {
        let mut entries = self.lock();
        if let Some(entry) = entries.get(execution_id) {
            if let Some(receipt) = &entry.receipt {
                return Ok(Claim::AlreadyDelivered(receipt.clone()));
            }
            if entry.attempt != attempt && entry.lease_until > now {
                return Ok(Claim::Busy {
                    until: entry.lease_until,
                });
            }
        }
        entries.insert(
            execution_id.to_string(),
            Entry {
                attempt: attempt.to_string(),
                lease_until: now + lease,
                receipt: None,
            },
        );
        Ok(Claim::Acquired)
    }

    async fn record(&self, attempt: &str, receipt: &TapReceipt) -> Result<(), DeliveryLogError> {
        let mut entries = self.lock();
        match entries.get_mut(&receipt.execution_id) {
            Some(entry) if entry.attempt == attempt || entry.receipt.is_some() => {
                entry.receipt = Some(receipt.clone());
                Ok(())
            }
            _ => Err(DeliveryLogError::LeaseLost {
                execution_id: receipt.execution_id.clone(),
                attempt: attempt.to_string(),
            }),
        }
    }

    async fn release(&self, execution_id: &str, attempt: &str) -> Result<(), DeliveryLogError> {
        let mut entries = self.lock();
        if entries
            .get(execution_id)
            .is_some_and(|e| e.attempt == attempt && e.receipt.is_none())
        {
            entries.remove(execution_id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(exec: &str) -> TapReceipt {
        TapReceipt {
            receipt_id: "tap-1".into(),
            execution_id: exec.into(),
            tap_id: "method-1".into(),
            start_date_time: DateTime::parse_from_rfc3339("2026-12-01T08:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            lifetime_in_minutes: 480,
            is_usable_once: true,
            delivered: vec![Delivery {
                channel: Channel::Slack,
                to: "grace.hopper@contoso.com".into(),
            }],
        }
    }

    #[tokio::test]
    async fn a_recorded_receipt_is_returned_to_the_next_attempt() {
        let log = InMemoryDeliveryLog::new();
        let now = Utc::now();
        assert_eq!(
            log.claim("exec-1", "a1", now, Duration::minutes(5))
                .await
                .unwrap(),
            Claim::Acquired
        );
        log.record("a1", &receipt("exec-1")).await.unwrap();
        let again = log
            .claim("exec-1", "a2", now, Duration::minutes(5))
            .await
            .unwrap();
        assert_eq!(again, Claim::AlreadyDelivered(receipt("exec-1")));
    }

    #[tokio::test]
    async fn a_live_lease_keeps_a_concurrent_attempt_out_until_it_expires() {
        let log = InMemoryDeliveryLog::new();
        let now = Utc::now();
        log.claim("exec-1", "a1", now, Duration::minutes(5))
            .await
            .unwrap();
        let busy = log
            .claim("exec-1", "a2", now, Duration::minutes(5))
            .await
            .unwrap();
        assert!(matches!(busy, Claim::Busy { .. }));
        let later = now + Duration::minutes(6);
        assert_eq!(
            log.claim("exec-1", "a2", later, Duration::minutes(5))
                .await
                .unwrap(),
            Claim::Acquired
        );
        // The first attempt lost its lease and may not write a receipt any more.
        assert!(matches!(
            log.record("a1", &receipt("exec-1")).await,
            Err(DeliveryLogError::LeaseLost { .. })
        ));
    }

    #[tokio::test]
    async fn a_released_lease_lets_a_retry_go_at_once() {
        let log = InMemoryDeliveryLog::new();
        let now = Utc::now();
        log.claim("exec-1", "a1", now, Duration::minutes(5))
            .await
            .unwrap();
        log.release("exec-1", "a1").await.unwrap();
        assert_eq!(
            log.claim("exec-1", "a2", now, Duration::minutes(5))
                .await
                .unwrap(),
            Claim::Acquired
        );
        assert_eq!(log.receipt("exec-1"), None);
    }
}
