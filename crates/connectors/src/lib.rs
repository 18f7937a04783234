//! Clients for the systems a Joiner flow talks to: Microsoft Graph (Entra ID), Workday (SOAP),
//! ServiceNow, Jira Service Management and Slack. One file per system, one error type
//! ([`ConnectorError`]) that converts into the step's [`dayone_sdk::error::StepError`].
//!
//! Every client is built from the step's allowlisted [`dayone_sdk::http::EgressClient`], its
//! [`dayone_sdk::secrets::SecretStore`] and a settings struct whose base URL points at the real
//! service, a local twin or a mock server. All calls go through one retry loop
//! ([`RetryPolicy`]): 429 / 503 / 504 are retried a bounded number of times honouring
//! `Retry-After` (each wait clamped to `max_wait`), then surfaced as `Dayone.Throttled` /
//! `Dayone.Retryable` with the target's `retry_after`, for the state machine to wait out.
//!
//! | client | settings | methods (all `async`, returning `Result<_, ConnectorError>`) |
//! |---|---|---|
//! | [`GraphClient`] | [`GraphSettings`] `{login_base, graph_base, tenant, client_id, client_secret_name}` | `create_user(&NewUser) -> CreatedUser`, `get_user(id_or_upn) -> Option<GraphUser>`, `find_user_by_employee_id(id) -> Option<GraphUser>`, `query_users(&UserFilter) -> Vec<GraphUser>`, `set_manager(user_id, manager_id)`, `add_group_member(group_id, user_id) -> Membership`, `find_group_by_display_name(name) -> Option<GraphGroup>`, `tap_policy() -> TapPolicy`, `create_tap(user, &TapRequest) -> TemporaryAccessPass`, `send_mail(from, &MailMessage)`; sync `token_cache_stats() -> TokenCacheStats` |
//! | [`WorkdayClient`] | [`WorkdaySettings`] `{base_url, tenant, version, username, password_secret_name, account_system_id, replace_all_work_emails}` | `change_work_email(&WorkerRef, email, effective_date) -> WorkdayAck`, `update_username(&WorkerRef, username) -> WorkdayAck` |
//! | [`ServiceNowClient`] | [`ServiceNowSettings`] `{base_url, auth: ServiceNowAuth::{Basic, OAuthPassword}, correlation_display}` | `create_record(table, correlation_id, &fields) -> TicketRef`, `find_by_correlation_id(table, correlation_id) -> Option<TicketRef>`, `order_catalog_item(item_sys_id, correlation_id, &CatalogOrder) -> CatalogOrderResult`, or in steps: `find_catalog_order`, `place_catalog_order -> PlacedOrder`, `finish_catalog_order` |
//! | [`JiraClient`] | [`JiraSettings`] `{base_url, email, api_token_secret_name}` | `create_request(&NewJiraRequest) -> JiraTicket`, `find_by_idempotency_key(key) -> Option<JiraTicket>` |
//! | [`SlackClient`] | [`SlackSettings`] `{base_url, token_secret_name}` | `send_dm_by_email(email, text, blocks) -> PostedMessage`, `lookup_user_by_email(email) -> String`, `open_dm(user_id) -> String`, `post_message(channel, text, blocks) -> PostedMessage` |
//!
//! Every client also has `with_retry_policy(RetryPolicy)`; tests use [`RetryPolicy::fast`].
//!
//! Idempotency, so a step can be re-run safely:
//! - Graph users are looked up by `employeeId` before creation; a duplicate-UPN 400 whose holder
//!   has our `employeeId` is success, any other holder is [`ConnectorError::Collision`].
//!   Already-a-member is success. TAP creation is *not* idempotent (a new pass replaces the old):
//!   the issue-tap step guards it.
//! - ServiceNow records and catalog orders are found by `correlation_id` before creating.
//! - Jira requests carry the label `dayone-<key>` and are searched by JQL before creating.
//!
//! Secrets: tokens, passwords, API keys and TAP values live in
//! [`dayone_sdk::secrets::SecretString`] (prints `[redacted]`), `Authorization` headers are
//! marked sensitive, request bodies are never logged, and error messages carry only what the
//! target said (code, message, fault string), never a request body or a parse excerpt.
//!
//! Error mapping ([`ConnectorError::step_error_name`]):
//! `Throttled` → `Dayone.Throttled`; `Retryable` → `Dayone.Retryable`; `Rejected`, `Collision`,
//! `TapNotAllowed` → `Dayone.TargetRejected`; `Unauthorized` → `Dayone.Unauthorized`;
//! `EgressDenied` → `Dayone.EgressDenied`; `Misconfigured` → `Dayone.Misconfigured`;
//! `Secret` → the secret store's own mapping.

pub mod error;
pub mod graph;
pub mod jira;
pub mod servicenow;
pub mod slack;
mod token;
mod transport;
pub mod workday;

pub use error::{ConnectorError, System};
pub use graph::{
    AppRole, Assignment, CreatedUser, DEFAULT_ACCESS_ROLE, GraphClient, GraphErrorBody, GraphGroup,
    GraphSettings, GraphUser, HeldAppRole, MailBody, MailMessage, Membership, NewUser,
    ServicePrincipal, TapPolicy, TapRequest, TemporaryAccessPass, UserFilter,
};
pub use jira::{JiraClient, JiraErrorBody, JiraSettings, JiraTicket, LabelSearch, NewJiraRequest};
pub use servicenow::{
    CatalogOrder, CatalogOrderResult, ServiceNowAuth, ServiceNowClient, ServiceNowErrorBody,
    ServiceNowSettings, TicketRef,
};
pub use slack::{PostedMessage, SlackClient, SlackSettings};
pub use token::TokenCacheStats;
pub use transport::RetryPolicy;
pub use workday::{SoapFault, WorkdayAck, WorkdayClient, WorkdaySettings, WorkerKind, WorkerRef};
