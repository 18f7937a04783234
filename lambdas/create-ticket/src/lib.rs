//! **create-ticket**: the equipment request for the new hire, in ServiceNow or Jira Service
//! Management (`[tickets].system`).
//!
//! In: `{executionId, hire, names}`. Out: `{system, key, url, created, hardware}`
//! ([`CreateTicketOutput`]); the state machine keeps `system`, `key`, `url`, `created`.
//!
//! The ticket names the hire (display name, username, email), the start date, the location and
//! the role, and asks for the hardware profile of the hire's department (`[tickets.hardware]`).
//!
//! Idempotent: the request carries a key derived from the hire event
//! ([`ticket::correlation_key`]): ServiceNow's `correlation_id` (Table API record, or the
//! requested item of a catalog order), Jira's label `dayone-<key>`. Before creating, the
//! connector looks the key up, so a re-run returns the existing ticket with `created: false`.
//!
//! Errors keep the connector's names (`Dayone.Throttled` on 429, `Dayone.Retryable` on 5xx,
//! `Dayone.Unauthorized`, `Dayone.TargetRejected` for a refused request); a missing
//! `[targets]` / `[tickets]` entry is `Dayone.Misconfigured`.

pub mod error;
pub mod ticket;

use dayone_connectors::{
    CatalogOrder, JiraClient, JiraSettings, NewJiraRequest, ServiceNowAuth, ServiceNowClient,
    ServiceNowSettings,
};
use dayone_core::config::{ServiceNowMode, TicketSystem};
use dayone_core::{AllocatedNames, HireEvent};
use dayone_sdk::audit::AuditEvent;
use dayone_sdk::context::StepContext;
use dayone_sdk::error::StepError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use error::CreateTicketError;
use ticket::{TicketText, correlation_key, ticket_text};

const ACTOR: &str = "step:create-ticket";
/// Logical names of the ticket systems' credentials in `[secrets]`.
pub const SERVICENOW_PASSWORD: &str = "servicenow_password";
pub const JIRA_API_TOKEN: &str = "jira_api_token";

/// The payload Step Functions sends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTicketInput {
    pub execution_id: String,
    pub hire: HireEvent,
    pub names: AllocatedNames,
}

/// What the step returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateTicketOutput {
    /// `servicenow` or `jira`.
    pub system: String,
    /// Record number (`REQ0010001` for a Table API request, `RITM0010001` for a catalog order's
    /// requested item) or issue key (`HELPDESK-12`).
    pub key: String,
    /// A link for people.
    pub url: String,
    /// `false` when a re-run found the ticket an earlier run opened.
    pub created: bool,
    /// The hardware profile asked for.
    pub hardware: String,
}

/// The Lambda handler.
pub async fn handle(
    ctx: &StepContext,
    input: CreateTicketInput,
) -> Result<CreateTicketOutput, StepError> {
    let tickets = &ctx.config.tickets;
    let hardware = tickets
        .hardware
        .profile_for(&input.hire.department)
        .to_string();
    let key = correlation_key(&input.hire);
    let text = ticket_text(&input.hire, &input.names, &hardware, &key);
    let output = match tickets.system {
        TicketSystem::Servicenow => servicenow(ctx, &input, &key, &text, &hardware).await?,
        TicketSystem::Jira => jira(ctx, &input, &key, &text, &hardware).await?,
    };
    tracing::info!(system = %output.system, key = %output.key, created = output.created, hardware = %hardware, "equipment ticket ready");
    ctx.audit(
        AuditEvent::new(ACTOR, "ticket.create", output.key.as_str())
            .outcome(if output.created {
                AuditEvent::SUCCESS
            } else {
                AuditEvent::SKIPPED
            })
            .details(json!({
                "executionId": input.execution_id,
                "system": output.system,
                "workerId": input.hire.worker_id.as_str(),
                "correlationId": key,
                "hardware": hardware,
            })),
    );
    Ok(output)
}

fn required(
    value: &Option<String>,
    key: &'static str,
    system: &'static str,
) -> Result<String, CreateTicketError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or(CreateTicketError::MissingSetting { key, system })
}

async fn servicenow(
    ctx: &StepContext,
    input: &CreateTicketInput,
    key: &str,
    text: &TicketText,
    hardware: &str,
) -> Result<CreateTicketOutput, StepError> {
    const SYSTEM: &str = "ServiceNow";
    let t = &ctx.config.targets;
    let cfg = &ctx.config.tickets.servicenow;
    let base = required(&t.servicenow_base, "targets.servicenow_base", SYSTEM)?;
    let client = ServiceNowClient::new(
        ctx.http.clone(),
        ctx.secrets.clone(),
        ServiceNowSettings {
            base_url: base.clone(),
            auth: ServiceNowAuth::Basic {
                username: required(
                    &t.servicenow_username,
                    "targets.servicenow_username",
                    SYSTEM,
                )?,
                password_secret_name: SERVICENOW_PASSWORD.into(),
            },
            correlation_display: "dayone".into(),
        },
    );
    let (ticket, number) = match cfg.mode {
        ServiceNowMode::Table => {
            let mut fields = Map::new();
            fields.insert("short_description".into(), json!(text.summary));
            fields.insert("description".into(), json!(text.description));
            if let Some(group) = &cfg.assignment_group {
                fields.insert("assignment_group".into(), json!(group));
            }
            let r = client
                .create_record(&cfg.table, key, &fields)
                .await
                .map_err(CreateTicketError::from)?;
            let number = r.number.clone();
            (r, number)
        }
        ServiceNowMode::Catalog => {
            let item = required(&cfg.catalog_item, "tickets.servicenow.catalog_item", SYSTEM)?;
            let order = CatalogOrder {
                quantity: 1,
                variables: catalog_variables(&input.hire, &input.names, hardware, text),
                requested_for: None,
            };
            let r = client
                .order_catalog_item(&item, key, &order)
                .await
                .map_err(CreateTicketError::from)?;
            // The requested item (RITM) carries the correlation id, so a re-run finds exactly
            // it; its number is the stable key (the REQ number is not returned on a re-run).
            let number = r.item.number.clone();
            (r.item, number)
        }
    };
    Ok(CreateTicketOutput {
        system: "servicenow".into(),
        url: format!(
            "{}/nav_to.do?uri={}.do%3Fsys_id%3D{}",
            base.trim_end_matches('/'),
            ticket.table,
            ticket.sys_id
        ),
        key: number,
        created: ticket.created,
        hardware: hardware.to_string(),
    })
}

/// The catalog item's variables: the facts a fulfiller needs, by conventional names.
fn catalog_variables(
    hire: &HireEvent,
    names: &AllocatedNames,
    hardware: &str,
    text: &TicketText,
) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert("new_hire_name".into(), json!(names.display_name));
    v.insert("new_hire_username".into(), json!(names.upn));
    v.insert("new_hire_email".into(), json!(names.mail));
    v.insert("start_date".into(), json!(hire.hire_date.to_string()));
    v.insert(
        "location".into(),
        json!(hire.location.as_deref().unwrap_or("")),
    );
    v.insert(
        "role".into(),
        json!(hire.job_title.as_deref().unwrap_or("")),
    );
    v.insert("department".into(), json!(hire.department.as_str()));
    v.insert("hardware_profile".into(), json!(hardware));
    v.insert("description".into(), json!(text.description));
    v
}

async fn jira(
    ctx: &StepContext,
    input: &CreateTicketInput,
    key: &str,
    text: &TicketText,
    hardware: &str,
) -> Result<CreateTicketOutput, StepError> {
    const SYSTEM: &str = "Jira Service Management";
    let t = &ctx.config.targets;
    let cfg = &ctx.config.tickets.jira;
    let base = required(&t.jira_base, "targets.jira_base", SYSTEM)?;
    let client = JiraClient::new(
        ctx.http.clone(),
        ctx.secrets.clone(),
        JiraSettings {
            base_url: base.clone(),
            email: required(&t.jira_email, "targets.jira_email", SYSTEM)?,
            api_token_secret_name: JIRA_API_TOKEN.into(),
        },
    );
    let request = NewJiraRequest {
        service_desk_id: required(&cfg.service_desk_id, "tickets.jira.service_desk_id", SYSTEM)?,
        request_type_id: required(&cfg.request_type_id, "tickets.jira.request_type_id", SYSTEM)?,
        summary: text.summary.clone(),
        description: Some(text.description.clone()),
        extra_fields: Map::new(),
        raise_on_behalf_of: input.hire.manager_email.as_ref().map(ToString::to_string),
        request_participants: Vec::new(),
        idempotency_key: key.to_string(),
    };
    let ticket = client
        .create_request(&request)
        .await
        .map_err(CreateTicketError::from)?;
    let url = ticket
        .web_link
        .clone()
        .unwrap_or_else(|| format!("{}/browse/{}", base.trim_end_matches('/'), ticket.issue_key));
    Ok(CreateTicketOutput {
        system: "jira".into(),
        key: ticket.issue_key,
        url,
        created: ticket.created,
        hardware: hardware.to_string(),
    })
}
