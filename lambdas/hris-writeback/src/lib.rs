//! **hris-writeback**: the new hire's work email and username, written back to Workday.
//!
//! In: `{executionId, hire, names}`. Out: `{email, username, worker, written}`
//! ([`WritebackOutput`]); the state machine keeps `email` and `username`.
//!
//! - Work email: `Change_Work_Contact_Information` (primary WORK email, effective on the hire
//!   date) with the mail address the ledger reserved.
//! - Username: `Update_Workday_Account` with the UPN (what people sign in with).
//! - Employees and interns are referenced by `Employee_ID`, contractors by
//!   `Contingent_Worker_ID`: Workday keeps them in different id types.
//!
//! Both writes are harmless to repeat, but each one starts a Workday business process, so the
//! [`WritebackLog`] remembers what was written and a re-run (or a retry after the second write
//! failed) skips what is already there.
//!
//! Errors keep the connector's names: a SOAP fault for an unknown worker or a validation error
//! is `Dayone.TargetRejected`, a fault because another business process is pending is
//! `Dayone.Retryable`, a refused ISU is `Dayone.Unauthorized`; a missing `[targets]` entry is
//! `Dayone.Misconfigured`.

pub mod dynamo;
pub mod error;
pub mod log;

use dayone_connectors::{WorkdayClient, WorkdaySettings, WorkerKind, WorkerRef};
use dayone_core::{AllocatedNames, HireEvent, WorkerType};
use dayone_sdk::audit::AuditEvent;
use dayone_sdk::context::StepContext;
use dayone_sdk::error::StepError;
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use dynamo::DynamoWritebackLog;
pub use error::WritebackError;
pub use log::{Field, InMemoryWritebackLog, WritebackLog, Written};

const ACTOR: &str = "step:hris-writeback";
/// Logical name of the Workday ISU password in `[secrets]`.
pub const WORKDAY_PASSWORD: &str = "workday_password";

/// The payload Step Functions sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WritebackInput {
    pub execution_id: String,
    pub hire: HireEvent,
    pub names: AllocatedNames,
}

/// What the step returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WritebackOutput {
    /// The work email now in Workday.
    pub email: String,
    /// The Workday account user name now in Workday.
    pub username: String,
    /// `Employee_ID:21001` or `Contingent_Worker_ID:C-5001`.
    pub worker: String,
    /// What this invocation wrote (`email`, `username`); empty on a re-run.
    pub written: Vec<String>,
}

/// The Lambda handler. `log` remembers what was written (DynamoDB in AWS, memory locally).
pub async fn handle<L: WritebackLog + ?Sized>(
    ctx: &StepContext,
    log: &L,
    input: WritebackInput,
) -> Result<WritebackOutput, StepError> {
    let workday = workday_client(ctx)?;
    write_back(ctx, &workday, log, input).await
}

/// The Workday client from `[targets]` and the context's secrets and egress allowlist.
pub fn workday_client(ctx: &StepContext) -> Result<WorkdayClient, StepError> {
    let t = &ctx.config.targets;
    let need = |v: &Option<String>, key: &'static str| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or(WritebackError::MissingTarget { key })
    };
    let mut settings = WorkdaySettings {
        base_url: need(&t.workday_base, "workday_base")?,
        tenant: need(&t.workday_tenant, "workday_tenant")?,
        version: t.workday_version.clone(),
        username: need(&t.workday_username, "workday_username")?,
        password_secret_name: WORKDAY_PASSWORD.into(),
        ..WorkdaySettings::default()
    };
    if let Some(system_id) = t
        .extra
        .get("workday_account_system_id")
        .and_then(|v| v.as_str())
    {
        settings.account_system_id = system_id.to_string();
    }
    Ok(WorkdayClient::new(
        ctx.http.clone(),
        ctx.secrets.clone(),
        settings,
    ))
}

/// Which Workday id type the worker has.
pub fn worker_ref(hire: &HireEvent) -> WorkerRef {
    match hire.worker_type {
        WorkerType::Contractor => WorkerRef::contingent(hire.worker_id.as_str()),
        WorkerType::Employee | WorkerType::Intern => WorkerRef::employee(hire.worker_id.as_str()),
    }
}

fn describe(worker: &WorkerRef) -> String {
    match worker.kind {
        WorkerKind::Employee => format!("Employee_ID:{}", worker.id),
        WorkerKind::ContingentWorker => format!("Contingent_Worker_ID:{}", worker.id),
    }
}

/// The step, with the Workday client and the log given.
pub async fn write_back<L: WritebackLog + ?Sized>(
    ctx: &StepContext,
    workday: &WorkdayClient,
    log: &L,
    input: WritebackInput,
) -> Result<WritebackOutput, StepError> {
    let WritebackInput {
        execution_id,
        hire,
        names,
    } = input;
    let worker = worker_ref(&hire);
    let email = names.mail.clone();
    let username = names.upn.clone();
    let before = log
        .last_written(&hire.worker_id)
        .await
        .map_err(WritebackError::from)?;
    let mut written = Vec::new();

    if before.email.as_deref() != Some(email.as_str()) {
        let ack = workday
            .change_work_email(&worker, &email, hire.hire_date)
            .await
            .map_err(WritebackError::from)?;
        record(log, &hire, Field::Email, &email).await;
        ctx.audit(
            AuditEvent::new(ACTOR, "hris.write_email", describe(&worker)).details(json!({
                "executionId": execution_id,
                "email": email,
                "eventWid": ack.event_wid,
            })),
        );
        written.push("email".to_string());
    }
    if before.username.as_deref() != Some(username.as_str()) {
        let ack = workday
            .update_username(&worker, &username)
            .await
            .map_err(WritebackError::from)?;
        record(log, &hire, Field::Username, &username).await;
        ctx.audit(
            AuditEvent::new(ACTOR, "hris.write_username", describe(&worker)).details(json!({
                "executionId": execution_id,
                "username": username,
                "eventWid": ack.event_wid,
            })),
        );
        written.push("username".to_string());
    }
    if written.is_empty() {
        ctx.audit(
            AuditEvent::new(ACTOR, "hris.write_back", describe(&worker))
                .skipped()
                .details(json!({"executionId": execution_id, "reason": "already written"})),
        );
    }
    tracing::info!(worker = %describe(&worker), email = %email, username = %username, written = ?written, "write-back done");
    Ok(WritebackOutput {
        email,
        username,
        worker: describe(&worker),
        written,
    })
}

/// Remember a write; failing to remember only costs a repeated (harmless) write later.
async fn record<L: WritebackLog + ?Sized>(log: &L, hire: &HireEvent, field: Field, value: &str) {
    if let Err(e) = log.record(&hire.worker_id, field, value).await {
        tracing::warn!(error = %e, "write-back done but not recorded; a re-run will write it again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hire(worker_type: &str, id: &str) -> HireEvent {
        HireEvent::parse(&format!(
            r#"{{"eventId":"E1","workerId":"{id}","workerType":"{worker_type}",
                "legalName":{{"first":"Ada","last":"Lovelace"}},"hireDate":"2026-12-01",
                "department":"Engineering","country":"GB"}}"#
        ))
        .unwrap()
    }

    #[test]
    fn contractors_are_contingent_workers_and_the_rest_employees() {
        assert_eq!(
            worker_ref(&hire("contractor", "C-5001")),
            WorkerRef::contingent("C-5001")
        );
        assert_eq!(
            worker_ref(&hire("intern", "I-7001")),
            WorkerRef::employee("I-7001")
        );
        assert_eq!(
            worker_ref(&hire("employee", "21001")),
            WorkerRef::employee("21001")
        );
        assert_eq!(
            describe(&worker_ref(&hire("contractor", "C-5001"))),
            "Contingent_Worker_ID:C-5001"
        );
    }
}
