//! Local twins of the systems a Joiner flow talks to, so the same clients run against
//! loopback exactly as against the real services.
//!
//! [`Sandbox::start`] binds six listeners on `127.0.0.1` (random ports):
//! - **Entra ID token endpoint** (`POST /{tenant}/oauth2/v2.0/token`, client credentials) and
//!   **Microsoft Graph v1.0** (users, manager, groups, Temporary Access Pass, sendMail);
//! - **Workday** `Human_Resources` SOAP 1.1 with a WS-Security UsernameToken;
//! - **ServiceNow** Table API, Service Catalog `order_now`, Basic auth and `/oauth_token.do`;
//! - **Jira Service Management** customer requests and JQL search;
//! - **Slack** Web API (`users.lookupByEmail`, `conversations.open`, `chat.postMessage`).
//!
//! Paths, status codes, headers and error envelopes follow the real services
//! (`shared/reference/external-apis.md`). Each twin has a [`Faults`] handle (latency,
//! throttling with `Retry-After`, 5xx, hangs, optionally for one `METHOD /path` only), and
//! everything the twins hold is inspectable through typed accessors or
//! [`Sandbox::snapshot`], which never shows a Temporary Access Pass value.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dayone_sandbox::SandboxError> {
//! use dayone_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let graph = &sandbox.urls().graph_base; // e.g. http://127.0.0.1:40123
//! sandbox.faults().graph.throttle_next(1, 2); // next Graph call: 429, Retry-After: 2
//! # let _ = graph; Ok(()) }
//! ```

mod config;
mod error;
mod faults;
mod graph;
mod jira;
mod odata;
mod server;
mod servicenow;
mod slack;
mod util;
mod workday;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::middleware;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{
    CatalogItem, GraphConfig, JiraConfig, SandboxConfig, SeedUser, ServiceDesk, ServiceNowConfig,
    SlackChannel, SlackConfig, SlackUser, TapPolicy, TapPolicyState, WorkdayConfig,
};
pub use error::SandboxError;
pub use faults::{FaultKind, FaultTarget, Faults};
pub use graph::{AppRoleAssignment, GraphUser, Membership, SentMail, TapIssuance};
pub use jira::JiraIssue;
pub use server::{CallRecord, Twin};
pub use servicenow::ServiceNowRecord;
pub use slack::SlackMessage;
pub use workday::WorkdayWriteback;

use server::{CallLog, TwinLayer};

/// Base URLs of the twins: scheme, host and port, no trailing slash. Clients append the
/// same paths they use against the real hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SandboxUrls {
    /// Stands for `https://graph.microsoft.com` (append `/v1.0/…`).
    pub graph_base: String,
    /// Stands for `https://login.microsoftonline.com` (append `/{tenant}/oauth2/v2.0/token`).
    pub login_base: String,
    /// Stands for `https://{host}` of Workday (append `/ccx/service/{tenant}/Human_Resources/{version}`).
    pub workday_base: String,
    /// Stands for `https://{instance}.service-now.com`.
    pub servicenow_base: String,
    /// Stands for `https://{site}.atlassian.net`.
    pub jira_base: String,
    /// Stands for `https://slack.com` (append `/api/{method}`).
    pub slack_base: String,
}

/// The `host:port` of an `http(s)://host:port/…` URL.
pub fn host_of(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

impl SandboxUrls {
    /// `127.0.0.1:port` of every twin: what an egress allowlist must admit to reach them.
    pub fn hosts(&self) -> Vec<String> {
        [
            &self.graph_base,
            &self.login_base,
            &self.workday_base,
            &self.servicenow_base,
            &self.jira_base,
            &self.slack_base,
        ]
        .into_iter()
        .map(|u| host_of(u))
        .collect()
    }

    /// Full Human_Resources endpoint for `tenant` and `version` (e.g. `v44.0`).
    pub fn workday_human_resources(&self, tenant: &str, version: &str) -> String {
        format!(
            "{}/ccx/service/{tenant}/Human_Resources/{version}",
            self.workday_base
        )
    }

    /// Token endpoint for `tenant`.
    pub fn token_endpoint(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.login_base)
    }
}

/// One fault handle per twin.
#[derive(Debug, Clone, Default)]
pub struct SandboxFaults {
    /// Graph API.
    pub graph: Faults,
    /// Entra token endpoint.
    pub login: Faults,
    /// Workday.
    pub workday: Faults,
    /// ServiceNow.
    pub servicenow: Faults,
    /// Jira Service Management.
    pub jira: Faults,
    /// Slack.
    pub slack: Faults,
}

impl SandboxFaults {
    /// The handle of `twin`.
    pub fn of(&self, twin: Twin) -> &Faults {
        match twin {
            Twin::Graph => &self.graph,
            Twin::Login => &self.login,
            Twin::Workday => &self.workday,
            Twin::ServiceNow => &self.servicenow,
            Twin::Jira => &self.jira,
            Twin::Slack => &self.slack,
        }
    }

    /// Disarms every twin.
    pub fn clear_all(&self) {
        for f in [
            &self.graph,
            &self.login,
            &self.workday,
            &self.servicenow,
            &self.jira,
            &self.slack,
        ] {
            f.clear();
        }
    }
}

/// An equipment ticket in either ticketing twin.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "system", rename_all = "lowercase")]
pub enum Ticket {
    /// A ServiceNow record (`sc_request`, `sc_req_item`, `incident`, …).
    ServiceNow(ServiceNowRecord),
    /// A Jira Service Management customer request.
    Jira(JiraIssue),
}

/// The running twins. Dropping it stops every listener.
pub struct Sandbox {
    urls: SandboxUrls,
    faults: SandboxFaults,
    calls: CallLog,
    graph: graph::Shared,
    workday: workday::Shared,
    servicenow: servicenow::Shared,
    jira: jira::Shared,
    slack: slack::Shared,
    shutdown: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

fn validate(cfg: &SandboxConfig) -> Result<(), SandboxError> {
    let p = &cfg.graph.tap_policy;
    if !(10..=43200).contains(&p.minimum_lifetime_minutes)
        || !(10..=43200).contains(&p.maximum_lifetime_minutes)
        || p.minimum_lifetime_minutes > p.maximum_lifetime_minutes
        || !(p.minimum_lifetime_minutes..=p.maximum_lifetime_minutes)
            .contains(&p.default_lifetime_minutes)
    {
        return Err(SandboxError::Config(format!(
            "TAP policy lifetimes must satisfy 10 <= minimum ({}) <= default ({}) <= maximum ({}) <= 43200",
            p.minimum_lifetime_minutes, p.default_lifetime_minutes, p.maximum_lifetime_minutes
        )));
    }
    if !(8..=48).contains(&p.default_length) {
        return Err(SandboxError::Config(format!(
            "TAP policy default_length {} is outside 8..=48",
            p.default_length
        )));
    }
    if cfg.workday.tenant.is_empty() || cfg.graph.tenant_id.is_empty() {
        return Err(SandboxError::Config(
            "Workday tenant and Graph tenant_id must not be empty".into(),
        ));
    }
    Ok(())
}

fn shared<T>(v: T) -> Arc<Mutex<T>> {
    Arc::new(Mutex::new(v))
}

/// Replaces every occurrence of a pass value in every string of `v`.
fn redact(v: &mut Value, secrets: &[String]) {
    match v {
        Value::String(s) => {
            for secret in secrets.iter().filter(|x| !x.is_empty()) {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), "[tap]");
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact(x, secrets)),
        Value::Object(o) => o.values_mut().for_each(|x| redact(x, secrets)),
        _ => {}
    }
}

impl Sandbox {
    /// Starts every twin on `127.0.0.1` with a random port each.
    ///
    /// # Errors
    /// [`SandboxError::Config`] when the configuration contradicts itself,
    /// [`SandboxError::Bind`] when loopback cannot be bound.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        validate(&config)?;
        let (tx, rx) = watch::channel(false);
        let calls = CallLog::default();
        let faults = SandboxFaults::default();
        let graph = shared(graph::GraphState::new(config.graph));
        let workday = shared(workday::WorkdayState::new(config.workday));
        let servicenow = shared(servicenow::ServiceNowState::new(config.servicenow));
        let jira = shared(jira::JiraState::new(config.jira));
        let slack = shared(slack::SlackState::new(config.slack));
        let layer = |twin: Twin, render: server::FaultRenderer| TwinLayer {
            twin,
            faults: faults.of(twin).clone(),
            calls: calls.clone(),
            shutdown: rx.clone(),
            render,
        };
        let mut handles = Vec::new();
        let mut bind = async |router: axum::Router| -> Result<String, SandboxError> {
            let (addr, handle) = server::serve(router, rx.clone()).await?;
            handles.push(handle);
            Ok(format!("http://{addr}"))
        };

        let graph_base = bind(
            server::with_twin_layer(
                graph::graph_router(graph.clone()),
                layer(Twin::Graph, graph::render_fault),
            )
            .layer(middleware::from_fn(graph::decorate)),
        )
        .await?;
        let login_base = bind(server::with_twin_layer(
            graph::login_router(graph.clone()),
            layer(Twin::Login, graph::render_login_fault),
        ))
        .await?;
        let workday_base = bind(server::with_twin_layer(
            workday::router(workday.clone()),
            layer(Twin::Workday, workday::render_fault),
        ))
        .await?;
        let servicenow_base = bind(server::with_twin_layer(
            servicenow::router(servicenow.clone()),
            layer(Twin::ServiceNow, servicenow::render_fault),
        ))
        .await?;
        let jira_base = bind(
            server::with_twin_layer(
                jira::router(jira.clone()),
                layer(Twin::Jira, jira::render_fault),
            )
            .layer(middleware::from_fn(jira::decorate)),
        )
        .await?;
        let slack_base = bind(
            server::with_twin_layer(
                slack::router(slack.clone()),
                layer(Twin::Slack, slack::render_fault),
            )
            .layer(middleware::from_fn(slack::decorate)),
        )
        .await?;

        graph::lock(&graph).graph_base = graph_base.clone();
        servicenow::lock(&servicenow).base = servicenow_base.clone();
        jira::lock(&jira).base = jira_base.clone();
        tracing::debug!(%graph_base, %login_base, %workday_base, %servicenow_base, %jira_base, %slack_base, "sandbox twins listening");
        Ok(Sandbox {
            urls: SandboxUrls {
                graph_base,
                login_base,
                workday_base,
                servicenow_base,
                jira_base,
                slack_base,
            },
            faults,
            calls,
            graph,
            workday,
            servicenow,
            jira,
            slack,
            shutdown: tx,
            handles,
        })
    }

    /// Where each twin listens.
    pub fn urls(&self) -> &SandboxUrls {
        &self.urls
    }

    /// Fault knobs, one handle per twin.
    pub fn faults(&self) -> &SandboxFaults {
        &self.faults
    }

    // --- knobs beyond faults -------------------------------------------------------------

    /// Turns the tenant's TAP policy on or off.
    pub fn set_tap_policy_state(&self, state: TapPolicyState) {
        graph::lock(&self.graph).tap_policy.state = state;
    }

    /// Replaces the whole TAP policy.
    pub fn set_tap_policy(&self, policy: TapPolicy) {
        graph::lock(&self.graph).tap_policy = policy;
    }

    /// Invalidates every Graph access token (clients must fetch a new one).
    pub fn revoke_graph_tokens(&self) {
        graph::lock(&self.graph).revoke_tokens();
    }

    /// Adds a directory user (e.g. a manager) and returns its object id.
    pub fn add_graph_user(&self, user: &SeedUser) -> String {
        graph::lock(&self.graph).add_seed_user(user)
    }

    /// Adds a group (if absent) and returns its object id.
    pub fn add_group(&self, display_name: &str) -> String {
        graph::lock(&self.graph).add_group(display_name)
    }

    /// Adds an enterprise application (if absent) whose users can be assigned `roles` (role
    /// values; empty: default access only) and returns its object id.
    pub fn add_service_principal(&self, display_name: &str, roles: &[String]) -> String {
        graph::lock(&self.graph).add_service_principal(display_name, roles)
    }

    /// Every app role granted so far.
    pub fn app_role_assignments(&self) -> Vec<AppRoleAssignment> {
        graph::lock(&self.graph).app_role_assignments()
    }

    /// Makes the next `n` Workday writes fail with a pending-business-process fault.
    pub fn workday_pending_next(&self, n: u32) {
        workday::lock(&self.workday).set_pending_next(n);
    }

    /// Makes a worker id known to Workday.
    pub fn add_workday_worker(&self, worker_id: &str) {
        workday::lock(&self.workday).add_worker(worker_id);
    }

    /// Switches ServiceNow two-step checkout on or off.
    pub fn set_two_step_checkout(&self, on: bool) {
        servicenow::lock(&self.servicenow).set_two_step_checkout(on);
    }

    /// Adds (or replaces) a Slack workspace member.
    pub fn add_slack_user(&self, user: SlackUser) {
        slack::lock(&self.slack).add_user(user);
    }

    // --- inspection ----------------------------------------------------------------------

    /// Directory users, seeded ones first, then in creation order.
    pub fn users(&self) -> Vec<GraphUser> {
        graph::lock(&self.graph).users()
    }

    /// Group memberships.
    pub fn memberships(&self) -> Vec<Membership> {
        graph::lock(&self.graph).memberships()
    }

    /// Every TAP issued, including replaced ones (`active == false`), without values.
    pub fn taps_issued(&self) -> Vec<TapIssuance> {
        graph::lock(&self.graph).taps()
    }

    /// The pass values issued so far, for leak checks only. Never print them.
    pub fn issued_tap_values(&self) -> Vec<String> {
        graph::lock(&self.graph).tap_values()
    }

    /// Every value a leak check should look for: issued pass values, issued access and
    /// refresh tokens, initial passwords of created users, and the configured credentials.
    pub fn known_secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        {
            let g = graph::lock(&self.graph);
            out.extend(g.tap_values());
            out.extend(g.issued_tokens());
            out.extend(g.received_passwords());
            out.push(g.client_secret().to_owned());
        }
        out.push(workday::lock(&self.workday).password().to_owned());
        out.extend(servicenow::lock(&self.servicenow).secrets());
        out.push(jira::lock(&self.jira).api_token().to_owned());
        out.push(slack::lock(&self.slack).bot_token().to_owned());
        out.retain(|s| !s.is_empty());
        out
    }

    /// Mails accepted by `sendMail` (bodies as delivered).
    pub fn mails(&self) -> Vec<SentMail> {
        graph::lock(&self.graph).mails()
    }

    /// Messages posted to Slack (text as delivered).
    pub fn slack_messages(&self) -> Vec<SlackMessage> {
        slack::lock(&self.slack).messages()
    }

    /// Successful Workday writes, in order.
    pub fn workday_writebacks(&self) -> Vec<WorkdayWriteback> {
        workday::lock(&self.workday).writebacks()
    }

    /// Every ServiceNow record, grouped by table.
    pub fn servicenow_records(&self) -> Vec<ServiceNowRecord> {
        servicenow::lock(&self.servicenow).records()
    }

    /// Every Jira customer request.
    pub fn jira_requests(&self) -> Vec<JiraIssue> {
        jira::lock(&self.jira).issues()
    }

    /// Tickets in both systems: ServiceNow requests (`sc_request`) and incidents, and Jira
    /// requests. Requested items and tasks are in [`Sandbox::servicenow_records`].
    pub fn tickets(&self) -> Vec<Ticket> {
        let mut out: Vec<Ticket> = self
            .servicenow_records()
            .into_iter()
            .filter(|r| matches!(r.table.as_str(), "sc_request" | "incident"))
            .map(Ticket::ServiceNow)
            .collect();
        out.extend(self.jira_requests().into_iter().map(Ticket::Jira));
        out
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.calls.all()
    }

    /// Calls per `"{twin} {METHOD} {route}"`, e.g. `"graph POST /v1.0/users"`.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.calls.counts()
    }

    /// How many calls `twin` received for `method` on `route` (a route template such as
    /// `/v1.0/users/{id}/manager/$ref`, or a concrete path).
    pub fn call_count(&self, twin: Twin, method: &str, route: &str) -> u64 {
        self.calls
            .all()
            .iter()
            .filter(|c| {
                c.twin == twin
                    && c.method.eq_ignore_ascii_case(method)
                    && (c.route == route || c.path == route)
            })
            .count() as u64
    }

    /// Everything the twins hold, as JSON, with every issued pass value replaced by `[tap]`.
    pub fn snapshot(&self) -> Value {
        let mut v = json!({
            "graph": graph::lock(&self.graph).snapshot(),
            "workday": workday::lock(&self.workday).snapshot(),
            "servicenow": servicenow::lock(&self.servicenow).snapshot(),
            "jira": jira::lock(&self.jira).snapshot(),
            "slack": slack::lock(&self.slack).snapshot(),
            "calls": self.call_counts(),
        });
        redact(&mut v, &self.issued_tap_values());
        v
    }

    /// Stops every listener and waits until they are closed. Hung calls end at once.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for h in self.handles.drain(..) {
            let _ = h.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Listeners stop accepting and finish in-flight calls on their own.
        let _ = self.shutdown.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_reaches_nested_strings() {
        let mut v = json!({"a": ["your pass is Xy+9!abc", {"b": "Xy+9!abc"}], "n": 1});
        redact(&mut v, &["Xy+9!abc".to_owned()]);
        assert_eq!(
            v,
            json!({"a": ["your pass is [tap]", {"b": "[tap]"}], "n": 1})
        );
    }

    #[test]
    fn contradictory_tap_policy_is_a_config_error() {
        let mut cfg = SandboxConfig::default();
        cfg.graph.tap_policy.minimum_lifetime_minutes = 500;
        let err = validate(&cfg).unwrap_err();
        assert!(err.to_string().contains("TAP policy lifetimes"));
        assert!(validate(&SandboxConfig::default()).is_ok());
    }
}
