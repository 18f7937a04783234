//! `allocate-username`: the first step of the Joiner flow. It turns a hire
//! into the names the worker will hold (sAMAccountName, UPN, mail, display
//! name, CN) and the trace of why, reserving them in the ledger.
//!
//! Input (the state machine passes `$$.Execution.Id` and the hire):
//! `{"executionId": "arn:…:execution:joiner:…", "hire": { HireEvent v1 }}`.
//! Output: [`AllocateOutput`]. The same worker always gets the same names, so
//! a Step Functions retry or a replayed execution is harmless.
//!
//! Errors (`errorType`): `Dayone.InvalidHire` (bad hire, or a name with no
//! usable form), `Dayone.UsernameExhausted`, `Dayone.Retryable` /
//! `Dayone.Throttled` (ledger contention or throttling), `Dayone.Misconfigured`.

use dayone_core::{Config, HireEvent, TraceEntry, UsernamePolicy};
use dayone_ledger::{Ledger, LedgerError};
use dayone_sdk::StepError;
use serde::{Deserialize, Serialize};

/// Environment variable naming the DynamoDB ledger table.
pub const TABLE_ENV: &str = "DAYONE_LEDGER_TABLE";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocateInput {
    /// Recorded on every ledger item written, for audit.
    pub execution_id: String,
    /// The HireEvent, validated here (it is untrusted HR data).
    pub hire: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocateOutput {
    pub event_id: String,
    pub worker_id: String,
    pub sam_account_name: String,
    pub upn: String,
    pub mail: String,
    pub display_name: String,
    pub cn: String,
    /// True when the worker already held these names (a retry or a rehire).
    pub reused: bool,
    pub trace: Vec<TraceEntry>,
}

/// The step: a compiled username policy and a ledger, built once per cold start.
pub struct AllocateUsername<L> {
    policy: UsernamePolicy,
    ledger: L,
}

impl<L: Ledger> AllocateUsername<L> {
    pub fn new(policy: UsernamePolicy, ledger: L) -> Self {
        AllocateUsername { policy, ledger }
    }

    pub fn from_config(config: &Config, ledger: L) -> Result<Self, StepError> {
        let policy = UsernamePolicy::from_config(&config.username).map_err(|e| {
            StepError::misconfigured(format!("the [username] policy is invalid: {e}"))
        })?;
        Ok(Self::new(policy, ledger))
    }

    pub async fn handle(&self, input: AllocateInput) -> Result<AllocateOutput, StepError> {
        if input.execution_id.trim().is_empty() {
            return Err(StepError::misconfigured(
                "executionId is empty; pass \"executionId.$\": \"$$.Execution.Id\" in the state machine",
            ));
        }
        let hire = HireEvent::from_value(input.hire)
            .map_err(|e| StepError::invalid_hire(e.to_string()))?;
        let plan = self
            .policy
            .plan(&hire)
            .map_err(|e| StepError::invalid_hire(e.to_string()))?;
        let allocation = self
            .ledger
            .allocate(hire.worker_id.as_str(), &input.execution_id, &plan)
            .await
            .map_err(ledger_error)?;
        tracing::info!(
            sam_account_name = %allocation.names.sam_account_name,
            reused = allocation.reused,
            round_trips = allocation.round_trips,
            "username allocated"
        );
        Ok(AllocateOutput {
            event_id: hire.event_id.as_str().to_string(),
            worker_id: allocation.worker_id,
            sam_account_name: allocation.names.sam_account_name,
            upn: allocation.names.upn,
            mail: allocation.names.mail,
            display_name: allocation.names.display_name,
            cn: allocation.names.cn,
            reused: allocation.reused,
            trace: allocation.trace,
        })
    }
}

/// The ledger's error, under the name the state machine retries or catches.
pub fn ledger_error(e: LedgerError) -> StepError {
    StepError::new(e.step_error_name(), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dayone_core::StepErrorName;
    use dayone_ledger::SqliteLedger;
    use serde_json::json;

    const CONFIG: &str = r#"
[username]
upn_domain = "contoso.com"
mail_domain = "contoso.com"
reserved = ["admin"]

[[username.rules]]
sam = "{first:1}{last}"
upn = "{first}.{last}"

[[username.rules]]
sam = "{first}{last:1}"
upn = "{first}.{last:1}"
"#;

    async fn step() -> (tempfile::TempDir, AllocateUsername<SqliteLedger>) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SqliteLedger::open(dir.path().join("ledger.sqlite"))
            .await
            .unwrap();
        let config = Config::from_toml_str(CONFIG).unwrap();
        (dir, AllocateUsername::from_config(&config, ledger).unwrap())
    }

    fn hire(worker: &str, first: &str, last: &str) -> serde_json::Value {
        json!({
            "eventId": format!("evt-{worker}"),
            "workerId": worker,
            "workerType": "employee",
            "legalName": {"first": first, "last": last},
            "hireDate": "2026-12-01",
            "department": "Engineering",
            "country": "GB"
        })
    }

    fn input(execution: &str, hire: serde_json::Value) -> AllocateInput {
        serde_json::from_value(json!({"executionId": execution, "hire": hire})).unwrap()
    }

    #[tokio::test]
    async fn a_hire_gets_names_and_a_trace() {
        let (_dir, step) = step().await;
        let out = step
            .handle(input("exec-1", hire("W1", "José", "García")))
            .await
            .unwrap();
        assert_eq!(out.sam_account_name, "jgarcia");
        assert_eq!(out.upn, "jose.garcia@contoso.com");
        assert_eq!(
            out.display_name, "José García",
            "the display name keeps its accents"
        );
        assert_eq!(out.event_id, "evt-W1");
        assert!(!out.reused);
        assert!(!out.trace.is_empty());
    }

    #[tokio::test]
    async fn a_retried_execution_returns_the_same_names() {
        let (_dir, step) = step().await;
        let first = step
            .handle(input("exec-1", hire("W1", "John", "Smith")))
            .await
            .unwrap();
        let namesake = step
            .handle(input("exec-2", hire("W2", "John", "Smith")))
            .await
            .unwrap();
        let retry = step
            .handle(input("exec-1", hire("W1", "John", "Smith")))
            .await
            .unwrap();
        assert_ne!(namesake.sam_account_name, first.sam_account_name);
        assert_eq!(retry.sam_account_name, first.sam_account_name);
        assert_eq!(retry.upn, first.upn);
        assert!(retry.reused);
    }

    #[tokio::test]
    async fn an_invalid_hire_is_invalid_hire_with_the_fields_named() {
        let (_dir, step) = step().await;
        let err = step
            .handle(input("exec-1", json!({"workerId": "W1"})))
            .await
            .unwrap_err();
        assert_eq!(err.name, StepErrorName::InvalidHire);
        assert!(err.message.contains("legalName"), "{}", err.message);
    }

    #[tokio::test]
    async fn a_name_with_no_latin_form_never_yields_an_unsafe_username() {
        let (_dir, step) = step().await;
        for (first, last) in [
            ("'; DROP TABLE", "x)(uid=*"),
            ("李", "小龍"),
            ("Αλέξανδρος", "Παπαδόπουλος"),
        ] {
            match step.handle(input("e", hire("W9", first, last))).await {
                Ok(out) => assert!(
                    out.sam_account_name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                    "{first} {last} -> {}",
                    out.sam_account_name
                ),
                Err(e) => assert_eq!(e.name, StepErrorName::InvalidHire, "{e}"),
            }
        }
    }

    #[tokio::test]
    async fn a_missing_execution_id_is_a_wiring_error() {
        let (_dir, step) = step().await;
        let err = step
            .handle(input(" ", hire("W1", "A", "B")))
            .await
            .unwrap_err();
        assert_eq!(err.name, StepErrorName::Misconfigured);
    }

    #[test]
    fn ledger_errors_keep_their_step_error_names() {
        let err = ledger_error(LedgerError::Throttled("slow down".into()));
        assert_eq!(err.name, StepErrorName::Throttled);
        let err = ledger_error(LedgerError::Exhausted {
            suffix_key: "jsmith".into(),
            detail: "x".into(),
        });
        assert_eq!(err.name, StepErrorName::UsernameExhausted);
    }
}
