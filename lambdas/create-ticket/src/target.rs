//! The ticket system the request goes to: its client and the request, built from `dayone.toml`
//! before any I/O (so a missing setting fails before a receipt is begun), then opened.
//!
//! A ServiceNow catalog order is opened in two steps with the receipt written in between
//! (`order_catalog`), because the catalog API has no correlation field: until the order's
//! requested item is marked, only the receipt knows the request exists.

use dayone_connectors::jira::LabelSearch;
use dayone_connectors::servicenow::{CatalogOrderResult, PlacedOrder};
use dayone_connectors::{
    CatalogOrder, JiraClient, JiraSettings, NewJiraRequest, ServiceNowAuth, ServiceNowClient,
    ServiceNowSettings,
};
use dayone_core::config::{ServiceNowMode, TicketSystem};
use dayone_core::{AllocatedNames, HireEvent};
use dayone_sdk::context::StepContext;
use serde_json::{Map, Value, json};

use crate::error::CreateTicketError;
use crate::receipts::TicketReceipts;
use crate::ticket::TicketText;
use crate::{CreateTicketInput, JIRA_API_TOKEN, SERVICENOW_PASSWORD};

/// The ticket as the target system knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// `servicenow` or `jira`.
    pub system: &'static str,
    pub key: String,
    pub url: String,
    /// `false` when the lookup found a ticket an earlier attempt opened.
    pub created: bool,
}

/// What this attempt knows about earlier ones, from the receipt it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt<'a> {
    /// No earlier attempt: one lookup, then open.
    First,
    /// An earlier attempt was interrupted.
    Retry {
        /// How patiently Jira is searched before raising a request.
        jira_search: LabelSearch,
        /// The ServiceNow catalog request (`sc_request` sys_id) it placed, if it recorded one.
        placed_request: Option<&'a str>,
    },
}

impl Attempt<'_> {
    fn jira_search(self) -> LabelSearch {
        match self {
            Attempt::First => LabelSearch::ONCE,
            Attempt::Retry { jira_search, .. } => jira_search,
        }
    }

    fn placed_request(self) -> Option<String> {
        match self {
            Attempt::First => None,
            Attempt::Retry { placed_request, .. } => placed_request.map(str::to_string),
        }
    }
}

/// A ticket system, ready to open the hire's request. (The clients are boxed: built once per
/// invocation, and the ServiceNow one, with its token cache, is large.)
pub enum Target {
    ServiceNow {
        client: Box<ServiceNowClient>,
        base: String,
        order: ServiceNowOrder,
    },
    Jira {
        client: JiraClient,
        base: String,
        request: Box<NewJiraRequest>,
    },
}

/// How the ServiceNow request is raised (`[tickets.servicenow].mode`).
pub enum ServiceNowOrder {
    Table {
        table: String,
        fields: Map<String, Value>,
    },
    Catalog {
        item: String,
        order: CatalogOrder,
    },
}

impl Target {
    /// The target `[tickets].system` names, from `[targets]` and `[tickets]`.
    pub fn prepare(
        ctx: &StepContext,
        input: &CreateTicketInput,
        key: &str,
        text: &TicketText,
        hardware: &str,
    ) -> Result<Target, CreateTicketError> {
        match ctx.config.tickets.system {
            TicketSystem::Servicenow => servicenow(ctx, input, text, hardware),
            TicketSystem::Jira => jira(ctx, input, key, text),
        }
    }

    /// Looks the correlation key up and opens the ticket if nothing was found. A retry searches
    /// Jira as patiently as `attempt` says (ServiceNow's query is consistent, so it is always
    /// asked once), and finishes the catalog order an earlier attempt recorded on `receipts`
    /// instead of looking up or ordering again.
    pub async fn open<R: TicketReceipts + ?Sized>(
        &self,
        key: &str,
        attempt: Attempt<'_>,
        receipts: &R,
    ) -> Result<Opened, CreateTicketError> {
        match self {
            Target::ServiceNow {
                client,
                base,
                order,
            } => open_servicenow(client, base, order, key, attempt, receipts).await,
            Target::Jira {
                client,
                base,
                request,
            } => open_jira(client, base, request, attempt.jira_search()).await,
        }
    }
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

fn servicenow(
    ctx: &StepContext,
    input: &CreateTicketInput,
    text: &TicketText,
    hardware: &str,
) -> Result<Target, CreateTicketError> {
    const SYSTEM: &str = "ServiceNow";
    let t = &ctx.config.targets;
    let cfg = &ctx.config.tickets.servicenow;
    let base = required(&t.servicenow_base, "targets.servicenow_base", SYSTEM)?;
    let client = Box::new(ServiceNowClient::new(
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
    ));
    let order = match cfg.mode {
        ServiceNowMode::Table => {
            let mut fields = Map::new();
            fields.insert("short_description".into(), json!(text.summary));
            fields.insert("description".into(), json!(text.description));
            if let Some(group) = &cfg.assignment_group {
                fields.insert("assignment_group".into(), json!(group));
            }
            ServiceNowOrder::Table {
                table: cfg.table.clone(),
                fields,
            }
        }
        ServiceNowMode::Catalog => ServiceNowOrder::Catalog {
            item: required(&cfg.catalog_item, "tickets.servicenow.catalog_item", SYSTEM)?,
            order: CatalogOrder {
                quantity: 1,
                variables: catalog_variables(&input.hire, &input.names, hardware, text),
                requested_for: None,
            },
        },
    };
    Ok(Target::ServiceNow {
        client,
        base,
        order,
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

async fn open_servicenow<R: TicketReceipts + ?Sized>(
    client: &ServiceNowClient,
    base: &str,
    order: &ServiceNowOrder,
    key: &str,
    attempt: Attempt<'_>,
    receipts: &R,
) -> Result<Opened, CreateTicketError> {
    let (ticket, number) = match order {
        ServiceNowOrder::Table { table, fields } => {
            let r = client.create_record(table, key, fields).await?;
            let number = r.number.clone();
            (r, number)
        }
        ServiceNowOrder::Catalog { item, order } => {
            let r = match attempt.placed_request() {
                Some(request) => resume_catalog(client, key, request).await?,
                None => order_catalog(client, item, order, key, receipts).await?,
            };
            // The requested item (RITM) carries the correlation id, so a re-run finds exactly
            // it; its number is the stable key (the REQ number is not returned on a re-run).
            let number = r.item.number.clone();
            (r.item, number)
        }
    };
    Ok(Opened {
        system: "servicenow",
        url: format!(
            "{}/nav_to.do?uri={}.do%3Fsys_id%3D{}",
            base.trim_end_matches('/'),
            ticket.table,
            ticket.sys_id
        ),
        key: number,
        created: ticket.created,
    })
}

/// Finishes the order an interrupted attempt placed (and recorded): no lookup, no new order.
/// The earlier attempt placed it, so this one reports it as found (`created: false`).
async fn resume_catalog(
    client: &ServiceNowClient,
    key: &str,
    request_sys_id: String,
) -> Result<CatalogOrderResult, CreateTicketError> {
    tracing::info!(request = %request_sys_id, "finishing the catalog order an earlier attempt placed");
    let placed = PlacedOrder {
        request_sys_id,
        request_number: None,
    };
    let mut finished = client.finish_catalog_order(key, &placed).await?;
    finished.item.created = false;
    Ok(finished)
}

/// The order marked with `key` if there is one; else order, record the request on the
/// receipt, and mark the order's requested item.
///
/// If the receipt cannot record the request, the item is marked anyway (so the retry's lookup
/// finds the order) and the step fails as retryable. Only when the mark fails too can the retry
/// order a second time; the error says so.
async fn order_catalog<R: TicketReceipts + ?Sized>(
    client: &ServiceNowClient,
    item: &str,
    order: &CatalogOrder,
    key: &str,
    receipts: &R,
) -> Result<CatalogOrderResult, CreateTicketError> {
    if let Some(found) = client.find_catalog_order(key).await? {
        return Ok(found);
    }
    let placed = client.place_catalog_order(item, order).await?;
    if let Err(store) = receipts.progress(key, &placed.request_sys_id).await {
        let marking = client.finish_catalog_order(key, &placed).await.err();
        return Err(CreateTicketError::OrderNotRecorded {
            request: describe(&placed),
            store,
            marking,
        });
    }
    Ok(client.finish_catalog_order(key, &placed).await?)
}

/// `REQ0010002 (sys_id …)`, or just the sys_id when the order response gave no number.
fn describe(placed: &PlacedOrder) -> String {
    match &placed.request_number {
        Some(number) => format!("{number} (sys_id {})", placed.request_sys_id),
        None => format!("sys_id {}", placed.request_sys_id),
    }
}

fn jira(
    ctx: &StepContext,
    input: &CreateTicketInput,
    key: &str,
    text: &TicketText,
) -> Result<Target, CreateTicketError> {
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
    Ok(Target::Jira {
        client,
        base,
        request: Box::new(request),
    })
}

async fn open_jira(
    client: &JiraClient,
    base: &str,
    request: &NewJiraRequest,
    search: LabelSearch,
) -> Result<Opened, CreateTicketError> {
    let ticket = client.create_request_with(request, search).await?;
    let url = ticket
        .web_link
        .clone()
        .unwrap_or_else(|| format!("{}/browse/{}", base.trim_end_matches('/'), ticket.issue_key));
    Ok(Opened {
        system: "jira",
        key: ticket.issue_key,
        url,
        created: ticket.created,
    })
}
