//! Microsoft Graph (Entra ID): users, managers, group membership, Temporary Access Pass, mail.
//!
//! Auth is the client-credentials grant against `{login_base}/{tenant}/oauth2/v2.0/token`; the
//! token is cached and refreshed before it expires, and a 401 from Graph invalidates it once.
//!
//! Idempotency rules the Joiner flow relies on:
//! - [`GraphClient::create_user`] looks the hire up by `employeeId` first and returns an existing
//!   user as success. If the create then fails with a duplicate-UPN 400, the UPN's holder is read
//!   back: the same `employeeId` means our earlier attempt won (success), anything else is a
//!   [`ConnectorError::Collision`].
//! - [`GraphClient::add_group_member`] treats "object references already exist" as success.
//! - [`GraphClient::assign_app_role`] lists the user's app role assignments first and treats
//!   an existing one (or Graph's "already exists" 400, when two runs race) as success.
//! - Writes that reference a user created seconds ago retry a 404 with backoff (directory
//!   replication delay) before giving up with a retryable error.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::{SecretStore, SecretString};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{ConnectorError, System};
use crate::token::{TokenCache, TokenCacheStats};
use crate::transport::{
    Reply, RetryPolicy, Transport, auth_header, enc_path, enc_query, form_body, join, json_problem,
};

/// The Graph resource scope for the client-credentials grant (must end in `/.default`).
pub const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

const USER_SELECT: &str = "id,userPrincipalName,mailNickname,displayName,mail,employeeId";

/// Where Graph and its token endpoint are, and which app registration to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSettings {
    /// Token endpoint base, e.g. `https://login.microsoftonline.com` (or a twin's URL).
    pub login_base: String,
    /// Graph base including the version, e.g. `https://graph.microsoft.com/v1.0`.
    pub graph_base: String,
    /// Tenant GUID or domain name.
    pub tenant: String,
    /// The app registration's client id (not a secret).
    pub client_id: String,
    /// Name of the client secret in the secret store.
    pub client_secret_name: String,
}

impl Default for GraphSettings {
    fn default() -> Self {
        GraphSettings {
            login_base: "https://login.microsoftonline.com".into(),
            graph_base: "https://graph.microsoft.com/v1.0".into(),
            tenant: String::new(),
            client_id: String::new(),
            client_secret_name: "graph-client-secret".into(),
        }
    }
}

/// A directory user as dayone reads it (`$select`ed properties only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUser {
    pub id: String,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub mail_nickname: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub employee_id: Option<String>,
}

/// A user to create. `employee_id` is the idempotency key (looked up before creating).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub account_enabled: bool,
    pub display_name: String,
    pub mail_nickname: String,
    pub user_principal_name: String,
    /// Initial password (random; the new hire signs in with the TAP).
    pub password: SecretString,
    pub force_change_password_next_sign_in: bool,
    /// ≤ 16 characters.
    pub employee_id: Option<String>,
    pub employee_hire_date: Option<DateTime<Utc>>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub department: Option<String>,
    pub job_title: Option<String>,
    /// ISO 3166 alpha-2; needed before licences can be assigned.
    pub usage_location: Option<String>,
}

/// The user create outcome: `created == false` means an earlier run already created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedUser {
    pub user: GraphUser,
    pub created: bool,
}

/// What adding a member did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Membership {
    Added,
    AlreadyMember,
}

/// A group found by display name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphGroup {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// What granting an app role did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Assignment {
    Assigned,
    AlreadyAssigned,
}

/// The app role id Graph uses for "default access" to an application that defines no roles.
pub const DEFAULT_ACCESS_ROLE: &str = "00000000-0000-0000-0000-000000000000";

/// An enterprise application (service principal) and the roles it defines.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub app_roles: Vec<AppRole>,
}

/// One role an application defines.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRole {
    pub id: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    /// `User` (users and groups) and/or `Application` (other apps).
    #[serde(default)]
    pub allowed_member_types: Vec<String>,
    #[serde(default = "enabled")]
    pub is_enabled: bool,
}

fn enabled() -> bool {
    true
}

impl AppRole {
    /// Whether a user can hold this role.
    pub fn assignable_to_users(&self) -> bool {
        self.is_enabled && self.allowed_member_types.iter().any(|t| t == "User")
    }
}

/// An app role a user holds: which application, which role.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldAppRole {
    pub resource_id: String,
    pub app_role_id: String,
}

impl HeldAppRole {
    /// Whether this is role `app_role_id` of application `resource_id`.
    pub fn is(&self, resource_id: &str, app_role_id: &str) -> bool {
        self.resource_id.eq_ignore_ascii_case(resource_id)
            && self.app_role_id.eq_ignore_ascii_case(app_role_id)
    }
}

const SERVICE_PRINCIPAL_SELECT: &str = "id,displayName,appRoles";

/// A user query. Values are data: quotes are doubled and the filter percent-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFilter {
    UpnEq(String),
    UpnStartsWith(String),
    MailNicknameEq(String),
    MailNicknameStartsWith(String),
    MailEq(String),
    EmployeeIdEq(String),
}

impl UserFilter {
    /// The OData `$filter` expression (not yet percent-encoded).
    pub fn expression(&self) -> String {
        let (prop, value, starts) = match self {
            UserFilter::UpnEq(v) => ("userPrincipalName", v, false),
            UserFilter::UpnStartsWith(v) => ("userPrincipalName", v, true),
            UserFilter::MailNicknameEq(v) => ("mailNickname", v, false),
            UserFilter::MailNicknameStartsWith(v) => ("mailNickname", v, true),
            UserFilter::MailEq(v) => ("mail", v, false),
            UserFilter::EmployeeIdEq(v) => ("employeeId", v, false),
        };
        let literal = odata_string(value);
        if starts {
            format!("startsWith({prop},{literal})")
        } else {
            format!("{prop} eq {literal}")
        }
    }

    /// `startsWith` is sent in advanced-query mode (`ConsistencyLevel: eventual` + `$count=true`),
    /// as Microsoft's own uniqueness-check example does.
    fn advanced(&self) -> bool {
        matches!(
            self,
            UserFilter::UpnStartsWith(_) | UserFilter::MailNicknameStartsWith(_)
        )
    }
}

/// An OData string literal: single quotes doubled, wrapped in single quotes.
pub fn odata_string(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The tenant's Temporary Access Pass policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TapPolicy {
    /// `enabled` or `disabled`.
    pub state: String,
    pub default_lifetime_minutes: Option<u32>,
    pub minimum_lifetime_minutes: Option<u32>,
    pub maximum_lifetime_minutes: Option<u32>,
    /// `true` forces every pass to be one-time.
    pub is_usable_once: Option<bool>,
}

impl TapPolicy {
    pub fn enabled(&self) -> bool {
        self.state.eq_ignore_ascii_case("enabled")
    }

    /// Whether `request` can be issued under this policy; the error says what to change.
    pub fn check(&self, request: &TapRequest) -> Result<(), ConnectorError> {
        if !self.enabled() {
            return Err(ConnectorError::TapNotAllowed {
                detail: format!(
                    "the tenant's Temporary Access Pass policy is '{}'",
                    self.state
                ),
            });
        }
        if let Some(life) = request.lifetime_minutes {
            let min = self.minimum_lifetime_minutes.unwrap_or(10);
            let max = self.maximum_lifetime_minutes.unwrap_or(43_200);
            if life < min || life > max {
                return Err(ConnectorError::TapNotAllowed {
                    detail: format!(
                        "a lifetime of {life} minutes is outside the policy's range {min}..={max}"
                    ),
                });
            }
        }
        if self.is_usable_once == Some(true) && request.is_usable_once == Some(false) {
            return Err(ConnectorError::TapNotAllowed {
                detail: "the policy only allows one-time passes but a multi-use pass was requested"
                    .into(),
            });
        }
        Ok(())
    }
}

/// What pass to create. Every field is optional; absent ones take the policy default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TapRequest {
    pub start: Option<DateTime<Utc>>,
    /// 10..=43200, and within the policy's range.
    pub lifetime_minutes: Option<u32>,
    pub is_usable_once: Option<bool>,
}

/// A created Temporary Access Pass. `pass` never prints (`[redacted]`); read it with
/// `pass.expose()` only to hand it to the delivery channel.
#[derive(Debug, Clone)]
pub struct TemporaryAccessPass {
    pub id: String,
    pub pass: SecretString,
    pub start_date_time: Option<String>,
    pub lifetime_in_minutes: Option<u32>,
    pub is_usable_once: Option<bool>,
    pub method_usability_reason: Option<String>,
}

/// A mail body. `Debug` hides the content: it may carry a TAP.
#[derive(Clone, PartialEq, Eq)]
pub enum MailBody {
    Text(String),
    Html(String),
}

impl std::fmt::Debug for MailBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailBody::Text(_) => f.write_str("Text([redacted])"),
            MailBody::Html(_) => f.write_str("Html([redacted])"),
        }
    }
}

/// A message for `sendMail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub subject: String,
    pub body: MailBody,
    pub to: Vec<String>,
    pub save_to_sent_items: bool,
}

/// The Graph error envelope `{"error":{"code","message","innerError":{"request-id"}}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphErrorBody {
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl GraphErrorBody {
    /// Parses the envelope; `innerError` / `innererror` are matched case-insensitively.
    pub fn parse(body: &[u8]) -> Option<GraphErrorBody> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let err = v.get("error")?.as_object()?;
        let code = err.get("code")?.as_str()?.to_string();
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let request_id = err
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("innerError"))
            .and_then(|(_, inner)| inner.as_object())
            .and_then(|inner| {
                inner
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("request-id"))
                    .and_then(|(_, v)| v.as_str())
            })
            .map(str::to_string);
        Some(GraphErrorBody {
            code,
            message,
            request_id,
        })
    }

    fn describe(&self) -> String {
        match &self.request_id {
            Some(id) => format!("{}: {} (request-id {id})", self.code, self.message),
            None => format!("{}: {}", self.code, self.message),
        }
    }
}

/// Client for Microsoft Graph. Cheap to share behind an `Arc`; the token cache lives inside.
pub struct GraphClient {
    transport: Transport,
    login: Transport,
    secrets: Arc<dyn SecretStore>,
    settings: GraphSettings,
    scope: String,
    tokens: TokenCache,
}

struct Call<'a> {
    method: Method,
    url: String,
    body: Option<&'a Value>,
    eventual: bool,
    /// Retry a 404 (and what `extra` accepts) as replication delay.
    replication: bool,
    extra: Option<fn(&Reply) -> bool>,
}

impl<'a> Call<'a> {
    fn new(method: Method, url: String) -> Self {
        Call {
            method,
            url,
            body: None,
            eventual: false,
            replication: false,
            extra: None,
        }
    }
    fn body(mut self, body: &'a Value) -> Self {
        self.body = Some(body);
        self
    }
}

impl GraphClient {
    pub fn new(http: EgressClient, secrets: Arc<dyn SecretStore>, settings: GraphSettings) -> Self {
        GraphClient {
            transport: Transport::new(System::Graph, http.clone()),
            login: Transport::new(System::EntraToken, http),
            secrets,
            settings,
            scope: GRAPH_DEFAULT_SCOPE.to_string(),
            tokens: TokenCache::new(Duration::from_secs(300)),
        }
    }

    /// Replaces the in-client retry bounds (tests use [`RetryPolicy::fast`]).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.transport.policy = policy.clone();
        self.login.policy = policy;
        self
    }

    /// Overrides the token scope (national clouds); it must end in `/.default`.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// Refresh the token this long before it expires (default 5 minutes, at most half its life).
    pub fn with_token_refresh_margin(mut self, margin: Duration) -> Self {
        self.tokens = TokenCache::new(margin);
        self
    }

    /// Token cache hits and misses since this client was built.
    pub fn token_cache_stats(&self) -> TokenCacheStats {
        self.tokens.stats()
    }

    fn url(&self, path: &str) -> String {
        join(&self.settings.graph_base, path)
    }

    async fn fetch_token(&self) -> Result<(SecretString, Duration), ConnectorError> {
        if self.settings.tenant.trim().is_empty() || self.settings.client_id.trim().is_empty() {
            return Err(ConnectorError::misconfigured(
                System::EntraToken,
                "tenant and client_id must be set ([targets.graph] in dayone.toml)",
            ));
        }
        let secret = self
            .secrets
            .get(&self.settings.client_secret_name)
            .await
            .map_err(|source| ConnectorError::Secret {
                system: System::EntraToken,
                source,
            })?;
        let url = join(
            &self.settings.login_base,
            &format!("{}/oauth2/v2.0/token", enc_path(&self.settings.tenant)),
        );
        let form = SecretString::new(form_body(&[
            ("client_id", &self.settings.client_id),
            ("scope", &self.scope),
            ("client_secret", secret.expose()),
            ("grant_type", "client_credentials"),
        ]));
        let reply = self
            .login
            .execute(
                || {
                    self.login
                        .request(Method::POST, &url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("accept", "application/json")
                        .body(form.expose().to_string())
                },
                |_| false,
            )
            .await?;
        parse_token_reply(&self.login, &reply)
    }

    async fn token(&self) -> Result<SecretString, ConnectorError> {
        self.tokens.get(|| self.fetch_token()).await
    }

    /// One Graph call: bearer token, retries, and a single token refresh on 401.
    async fn send(&self, call: Call<'_>) -> Result<Reply, ConnectorError> {
        let mut refreshed = false;
        loop {
            let token = self.token().await?;
            let bearer = auth_header(System::Graph, format!("Bearer {}", token.expose()))?;
            let replication = |r: &Reply| {
                (call.replication && r.status.as_u16() == 404) || call.extra.is_some_and(|f| f(r))
            };
            let reply = self
                .transport
                .execute(
                    || {
                        let mut rb = self
                            .transport
                            .request(call.method.clone(), &call.url)
                            .header("authorization", bearer.clone())
                            .header("accept", "application/json");
                        if call.eventual {
                            rb = rb.header("ConsistencyLevel", "eventual");
                        }
                        if let Some(body) = call.body {
                            rb = rb
                                .header("content-type", "application/json")
                                .body(body.to_string());
                        }
                        rb
                    },
                    replication,
                )
                .await?;
            if reply.status.as_u16() == 401 && !refreshed {
                // The cached token may have been revoked or expired early: fetch a new one once.
                self.tokens.invalidate().await;
                refreshed = true;
                continue;
            }
            return Ok(reply);
        }
    }

    /// The error for a non-success Graph reply.
    fn error(&self, reply: &Reply) -> ConnectorError {
        let parsed = GraphErrorBody::parse(&reply.body);
        let detail = parsed
            .as_ref()
            .map(GraphErrorBody::describe)
            .unwrap_or_else(|| reply.text_snippet());
        if let Some(e) = self.transport.transient_error(reply, &detail) {
            return e;
        }
        let status = reply.status.as_u16();
        let code = parsed
            .as_ref()
            .map(|p| p.code.clone())
            .unwrap_or_else(|| format!("HTTP {status}"));
        match status {
            401 | 403 => ConnectorError::unauthorized(System::Graph, detail),
            _ if code == "Authorization_RequestDenied" => {
                ConnectorError::unauthorized(System::Graph, detail)
            }
            _ => ConnectorError::rejected(System::Graph, Some(status), code, detail),
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(&self, reply: &Reply) -> Result<T, ConnectorError> {
        serde_json::from_slice(&reply.body)
            .map_err(|e| ConnectorError::retryable(System::Graph, json_problem(&e)))
    }

    /// `GET /users/{id|upn}`; `None` when it does not exist.
    pub async fn get_user(&self, id_or_upn: &str) -> Result<Option<GraphUser>, ConnectorError> {
        let url = self.url(&format!(
            "users/{}?$select={USER_SELECT}",
            enc_path(id_or_upn)
        ));
        let reply = self.send(Call::new(Method::GET, url)).await?;
        match reply.status.as_u16() {
            200 => self.decode(&reply).map(Some),
            404 => Ok(None),
            _ => Err(self.error(&reply)),
        }
    }

    /// `GET /users?$filter=…`: every user matching, following `@odata.nextLink`.
    pub async fn query_users(&self, filter: &UserFilter) -> Result<Vec<GraphUser>, ConnectorError> {
        let mut url = self.url(&format!(
            "users?$filter={}&$select={USER_SELECT}{}",
            enc_query(&filter.expression()),
            if filter.advanced() {
                "&$count=true"
            } else {
                ""
            }
        ));
        let mut users = Vec::new();
        for _page in 0..50 {
            let mut call = Call::new(Method::GET, url.clone());
            call.eventual = filter.advanced();
            let reply = self.send(call).await?;
            if reply.status.as_u16() != 200 {
                return Err(self.error(&reply));
            }
            let page: Page<GraphUser> = self.decode(&reply)?;
            users.extend(page.value);
            match page.next_link {
                Some(next) => url = next,
                None => return Ok(users),
            }
        }
        Err(ConnectorError::rejected(
            System::Graph,
            None,
            "TooManyPages",
            "the user query matched more than 50 pages; narrow the filter",
        ))
    }

    /// The user whose `employeeId` is `employee_id`, if any.
    pub async fn find_user_by_employee_id(
        &self,
        employee_id: &str,
    ) -> Result<Option<GraphUser>, ConnectorError> {
        let mut found = self
            .query_users(&UserFilter::EmployeeIdEq(employee_id.to_string()))
            .await?;
        Ok(if found.is_empty() {
            None
        } else {
            Some(found.remove(0))
        })
    }

    /// Creates the user, or returns the one an earlier run created (see the module docs).
    pub async fn create_user(&self, user: &NewUser) -> Result<CreatedUser, ConnectorError> {
        if let Some(id) = &user.employee_id {
            if id.chars().count() > 16 {
                return Err(ConnectorError::misconfigured(
                    System::Graph,
                    format!("employeeId '{id}' is longer than Graph's 16 characters"),
                ));
            }
            if let Some(existing) = self.find_user_by_employee_id(id).await? {
                return Ok(CreatedUser {
                    user: existing,
                    created: false,
                });
            }
        }
        if user.mail_nickname.chars().count() > 64 {
            return Err(ConnectorError::misconfigured(
                System::Graph,
                "mailNickname is longer than 64 characters; lower the username max length",
            ));
        }
        let body = new_user_body(user);
        let reply = self
            .send(Call::new(Method::POST, self.url("users")).body(&body))
            .await?;
        match reply.status.as_u16() {
            200 | 201 => Ok(CreatedUser {
                user: self.decode(&reply)?,
                created: true,
            }),
            400 => {
                let err = GraphErrorBody::parse(&reply.body).unwrap_or_default();
                let Some(property) = duplicate_property(&err.message) else {
                    return Err(self.error(&reply));
                };
                // Our own earlier attempt (whose response was lost) may hold the UPN: read it back.
                let holder = self.get_user(&user.user_principal_name).await?;
                match (holder, &user.employee_id) {
                    (Some(h), Some(mine)) if h.employee_id.as_deref() == Some(mine.as_str()) => {
                        Ok(CreatedUser {
                            user: h,
                            created: false,
                        })
                    }
                    _ => Err(ConnectorError::Collision {
                        system: System::Graph,
                        value: if property == "userPrincipalName" {
                            user.user_principal_name.clone()
                        } else if property == "mailNickname" {
                            user.mail_nickname.clone()
                        } else {
                            format!("(value of {property})")
                        },
                        property,
                    }),
                }
            }
            _ => Err(self.error(&reply)),
        }
    }

    /// `PUT /users/{id}/manager/$ref`. Retries a 404 as replication delay.
    pub async fn set_manager(&self, user_id: &str, manager_id: &str) -> Result<(), ConnectorError> {
        let body = json!({
            "@odata.id": self.url(&format!("users/{}", enc_path(manager_id)))
        });
        let url = self.url(&format!("users/{}/manager/$ref", enc_path(user_id)));
        let mut call = Call::new(Method::PUT, url).body(&body);
        call.replication = true;
        let reply = self.send(call).await?;
        match reply.status.as_u16() {
            200 | 204 => Ok(()),
            404 => Err(self.still_missing(&reply)),
            _ => Err(self.error(&reply)),
        }
    }

    /// `POST /groups/{id}/members/$ref`; an existing membership is success.
    pub async fn add_group_member(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> Result<Membership, ConnectorError> {
        let body = json!({
            "@odata.id": self.url(&format!("directoryObjects/{}", enc_path(user_id)))
        });
        let url = self.url(&format!("groups/{}/members/$ref", enc_path(group_id)));
        let mut call = Call::new(Method::POST, url).body(&body);
        call.replication = true;
        let reply = self.send(call).await?;
        match reply.status.as_u16() {
            200 | 204 => Ok(Membership::Added),
            400 if GraphErrorBody::parse(&reply.body)
                .is_some_and(|e| e.message.contains("object references already exist")) =>
            {
                Ok(Membership::AlreadyMember)
            }
            404 => Err(self.still_missing(&reply)),
            _ => Err(self.error(&reply)),
        }
    }

    /// The group whose `displayName` equals `name`; two or more is a configuration problem.
    pub async fn find_group_by_display_name(
        &self,
        name: &str,
    ) -> Result<Option<GraphGroup>, ConnectorError> {
        self.find_one_by_display_name("groups", "id,displayName", name, |n| {
            format!("{n} groups are named '{name}'; name birthright groups by id or make the name unique")
        })
        .await
    }

    /// The one object of `collection` whose `displayName` equals `name`, if any; `ambiguous`
    /// explains a name that several objects carry.
    async fn find_one_by_display_name<T: serde::de::DeserializeOwned>(
        &self,
        collection: &str,
        select: &str,
        name: &str,
        ambiguous: impl FnOnce(usize) -> String,
    ) -> Result<Option<T>, ConnectorError> {
        let filter = format!("displayName eq {}", odata_string(name));
        let url = self.url(&format!(
            "{collection}?$filter={}&$select={select}",
            enc_query(&filter)
        ));
        let reply = self.send(Call::new(Method::GET, url)).await?;
        if reply.status.as_u16() != 200 {
            return Err(self.error(&reply));
        }
        let mut page: Page<T> = self.decode(&reply)?;
        match page.value.len() {
            0 => Ok(None),
            1 => Ok(Some(page.value.remove(0))),
            n => Err(ConnectorError::misconfigured(System::Graph, ambiguous(n))),
        }
    }

    /// `GET /servicePrincipals/{id}`; `None` when there is no such application.
    pub async fn get_service_principal(
        &self,
        id: &str,
    ) -> Result<Option<ServicePrincipal>, ConnectorError> {
        let url = self.url(&format!(
            "servicePrincipals/{}?$select={SERVICE_PRINCIPAL_SELECT}",
            enc_path(id)
        ));
        let reply = self.send(Call::new(Method::GET, url)).await?;
        match reply.status.as_u16() {
            200 => self.decode(&reply).map(Some),
            404 => Ok(None),
            _ => Err(self.error(&reply)),
        }
    }

    /// The enterprise application whose `displayName` equals `name`; two or more is a
    /// configuration problem.
    pub async fn find_service_principal_by_display_name(
        &self,
        name: &str,
    ) -> Result<Option<ServicePrincipal>, ConnectorError> {
        self.find_one_by_display_name("servicePrincipals", SERVICE_PRINCIPAL_SELECT, name, |n| {
            format!("{n} enterprise applications are named '{name}'; name birthright apps by service principal id or make the name unique")
        })
        .await
    }

    /// Grants `user_id` the role `app_role_id` of the application `resource_id`, unless the
    /// user already holds it: [`GraphClient::app_role_assignments`], then
    /// [`GraphClient::grant_app_role`]. For several apps, list once and grant each.
    pub async fn assign_app_role(
        &self,
        user_id: &str,
        resource_id: &str,
        app_role_id: &str,
    ) -> Result<Assignment, ConnectorError> {
        let held = self.app_role_assignments(user_id).await?;
        if held.iter().any(|h| h.is(resource_id, app_role_id)) {
            return Ok(Assignment::AlreadyAssigned);
        }
        self.grant_app_role(user_id, resource_id, app_role_id).await
    }

    /// The app roles `user_id` holds (`GET /users/{id}/appRoleAssignments`, every page). A
    /// user created seconds ago may not be readable yet: a 404 is retried as replication delay.
    pub async fn app_role_assignments(
        &self,
        user_id: &str,
    ) -> Result<Vec<HeldAppRole>, ConnectorError> {
        let mut url = self.url(&format!(
            "users/{}/appRoleAssignments?$select=id,resourceId,appRoleId",
            enc_path(user_id)
        ));
        let mut held = Vec::new();
        loop {
            let mut call = Call::new(Method::GET, url);
            call.replication = true;
            let reply = self.send(call).await?;
            let page: Page<HeldAppRole> = match reply.status.as_u16() {
                200 => self.decode(&reply)?,
                404 => return Err(self.still_missing(&reply)),
                _ => return Err(self.error(&reply)),
            };
            held.extend(page.value);
            match page.next_link {
                Some(next) => url = next,
                None => return Ok(held),
            }
        }
    }

    /// `POST /servicePrincipals/{resource}/appRoleAssignedTo`; Graph's "already exists" (a
    /// concurrent run won) is success.
    pub async fn grant_app_role(
        &self,
        user_id: &str,
        resource_id: &str,
        app_role_id: &str,
    ) -> Result<Assignment, ConnectorError> {
        let body = json!({
            "principalId": user_id,
            "resourceId": resource_id,
            "appRoleId": app_role_id,
        });
        let url = self.url(&format!(
            "servicePrincipals/{}/appRoleAssignedTo",
            enc_path(resource_id)
        ));
        let mut call = Call::new(Method::POST, url).body(&body);
        call.replication = true;
        let reply = self.send(call).await?;
        match reply.status.as_u16() {
            200 | 201 => Ok(Assignment::Assigned),
            400 if GraphErrorBody::parse(&reply.body)
                .is_some_and(|e| e.message.contains("already exists on the object")) =>
            {
                Ok(Assignment::AlreadyAssigned)
            }
            404 => Err(self.still_missing(&reply)),
            _ => Err(self.error(&reply)),
        }
    }

    /// The tenant's TAP policy (`authenticationMethodConfigurations/temporaryAccessPass`).
    pub async fn tap_policy(&self) -> Result<TapPolicy, ConnectorError> {
        let url = self.url(
            "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass",
        );
        let reply = self.send(Call::new(Method::GET, url)).await?;
        if reply.status.as_u16() != 200 {
            return Err(self.error(&reply));
        }
        let raw: RawTapPolicy = self.decode(&reply)?;
        Ok(TapPolicy {
            state: raw.state,
            default_lifetime_minutes: raw.default_lifetime_in_minutes,
            minimum_lifetime_minutes: raw.minimum_lifetime_in_minutes,
            maximum_lifetime_minutes: raw.maximum_lifetime_in_minutes,
            is_usable_once: raw.is_usable_once,
        })
    }

    /// Creates a TAP for `user` (id or UPN). Creating one replaces the user's previous pass.
    ///
    /// A "UserCredentialPolicy does not allow" refusal is retried for a while (a new group
    /// member takes time to come into the policy's scope), then reported as
    /// [`ConnectorError::TapNotAllowed`].
    pub async fn create_tap(
        &self,
        user: &str,
        request: &TapRequest,
    ) -> Result<TemporaryAccessPass, ConnectorError> {
        if let Some(life) = request.lifetime_minutes
            && !(10..=43_200).contains(&life)
        {
            return Err(ConnectorError::misconfigured(
                System::Graph,
                format!("TAP lifetime {life} minutes is outside Graph's 10..=43200"),
            ));
        }
        let mut body = Map::new();
        if let Some(start) = request.start {
            body.insert(
                "startDateTime".into(),
                json!(start.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
            );
        }
        if let Some(life) = request.lifetime_minutes {
            body.insert("lifetimeInMinutes".into(), json!(life));
        }
        if let Some(once) = request.is_usable_once {
            body.insert("isUsableOnce".into(), json!(once));
        }
        let body = Value::Object(body);
        let url = self.url(&format!(
            "users/{}/authentication/temporaryAccessPassMethods",
            enc_path(user)
        ));
        let mut call = Call::new(Method::POST, url).body(&body);
        call.replication = true;
        call.extra = Some(|r| r.status.as_u16() == 400 && tap_policy_refusal(&r.body));
        let reply = self.send(call).await?;
        match reply.status.as_u16() {
            200 | 201 => {
                // The body holds the pass: never echo it, not even in a parse error.
                let raw: RawTap = serde_json::from_slice(&reply.body).map_err(|_| {
                    ConnectorError::retryable(
                        System::Graph,
                        "the Temporary Access Pass response had an unexpected shape",
                    )
                })?;
                let pass = raw
                    .temporary_access_pass
                    .filter(|p| !p.is_empty())
                    .ok_or_else(|| {
                        ConnectorError::retryable(
                            System::Graph,
                            "the Temporary Access Pass response carried no pass value",
                        )
                    })?;
                Ok(TemporaryAccessPass {
                    id: raw.id,
                    pass,
                    start_date_time: raw.start_date_time,
                    lifetime_in_minutes: raw.lifetime_in_minutes,
                    is_usable_once: raw.is_usable_once,
                    method_usability_reason: raw.method_usability_reason,
                })
            }
            400 | 403 if tap_policy_refusal(&reply.body) => Err(ConnectorError::TapNotAllowed {
                detail: GraphErrorBody::parse(&reply.body)
                    .map(|e| e.describe())
                    .unwrap_or_else(|| "the authentication methods policy refused it".into()),
            }),
            400 if GraphErrorBody::parse(&reply.body)
                .is_some_and(|e| e.message.contains("LifetimeInMinutes")) =>
            {
                Err(ConnectorError::TapNotAllowed {
                    detail: GraphErrorBody::parse(&reply.body)
                        .map(|e| e.describe())
                        .unwrap_or_default(),
                })
            }
            404 => Err(self.still_missing(&reply)),
            _ => Err(self.error(&reply)),
        }
    }

    /// `POST /users/{from}/sendMail` (202 Accepted: queued, delivery not guaranteed).
    pub async fn send_mail(&self, from: &str, message: &MailMessage) -> Result<(), ConnectorError> {
        if message.to.is_empty() {
            return Err(ConnectorError::misconfigured(
                System::Graph,
                "a mail needs at least one recipient",
            ));
        }
        let (content_type, content) = match &message.body {
            MailBody::Text(c) => ("Text", c),
            MailBody::Html(c) => ("HTML", c),
        };
        let body = json!({
            "message": {
                "subject": message.subject,
                "body": {"contentType": content_type, "content": content},
                "toRecipients": message.to.iter()
                    .map(|a| json!({"emailAddress": {"address": a}}))
                    .collect::<Vec<_>>(),
            },
            "saveToSentItems": message.save_to_sent_items,
        });
        let url = self.url(&format!("users/{}/sendMail", enc_path(from)));
        let reply = self.send(Call::new(Method::POST, url).body(&body)).await?;
        match reply.status.as_u16() {
            200 | 202 | 204 => Ok(()),
            _ => Err(self.error(&reply)),
        }
    }

    /// A 404 that outlasted the replication retries: retryable, the object may still appear.
    fn still_missing(&self, reply: &Reply) -> ConnectorError {
        let detail = GraphErrorBody::parse(&reply.body)
            .map(|e| e.describe())
            .unwrap_or_else(|| "HTTP 404".into());
        ConnectorError::retryable(
            System::Graph,
            format!(
                "object still not found after {} attempt(s) ({detail}); directory replication may be slow",
                reply.attempts
            ),
        )
    }
}

fn parse_token_reply(
    login: &Transport,
    reply: &Reply,
) -> Result<(SecretString, Duration), ConnectorError> {
    #[derive(Deserialize)]
    struct TokenOk {
        access_token: SecretString,
        #[serde(default)]
        expires_in: Option<Value>,
    }
    #[derive(Deserialize)]
    struct TokenErr {
        error: String,
        #[serde(default)]
        error_description: Option<String>,
    }
    if reply.status.is_success() {
        let ok: TokenOk = serde_json::from_slice(&reply.body).map_err(|_| {
            ConnectorError::retryable(
                System::EntraToken,
                "the token response had an unexpected shape",
            )
        })?;
        // Entra sends a number; some proxies and older endpoints send a string.
        let secs = match ok.expires_in {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(3599),
            Some(Value::String(s)) => s.parse().unwrap_or(3599),
            _ => 3599,
        };
        return Ok((ok.access_token, Duration::from_secs(secs)));
    }
    let parsed: Option<TokenErr> = serde_json::from_slice(&reply.body).ok();
    let detail = match &parsed {
        // The first line of error_description carries the AADSTS code and reason.
        Some(e) => format!(
            "{}: {}",
            e.error,
            e.error_description
                .as_deref()
                .and_then(|d| d.lines().next())
                .unwrap_or("")
        ),
        None => format!("HTTP {}", reply.status.as_u16()),
    };
    if let Some(e) = login.transient_error(reply, &detail) {
        return Err(e);
    }
    Err(ConnectorError::unauthorized(System::EntraToken, detail))
}

/// `Another object with the same value for property X already exists.` → `X`.
fn duplicate_property(message: &str) -> Option<String> {
    let rest = message.split("same value for property ").nth(1)?;
    let prop = rest
        .split(" already exists")
        .next()?
        .trim()
        .trim_matches('.');
    if message.contains("Another object") && !prop.is_empty() {
        Some(prop.to_string())
    } else {
        None
    }
}

fn tap_policy_refusal(body: &[u8]) -> bool {
    GraphErrorBody::parse(body)
        .is_some_and(|e| e.message.contains("UserCredentialPolicy does not allow"))
}

fn new_user_body(user: &NewUser) -> Value {
    let mut m = Map::new();
    m.insert("accountEnabled".into(), json!(user.account_enabled));
    m.insert("displayName".into(), json!(user.display_name));
    m.insert("mailNickname".into(), json!(user.mail_nickname));
    m.insert("userPrincipalName".into(), json!(user.user_principal_name));
    m.insert(
        "passwordProfile".into(),
        json!({
            "forceChangePasswordNextSignIn": user.force_change_password_next_sign_in,
            "password": user.password.expose(),
        }),
    );
    let optional = [
        ("employeeId", user.employee_id.clone()),
        (
            "employeeHireDate",
            user.employee_hire_date
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ),
        ("givenName", user.given_name.clone()),
        ("surname", user.surname.clone()),
        ("department", user.department.clone()),
        ("jobTitle", user.job_title.clone()),
        ("usageLocation", user.usage_location.clone()),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    Value::Object(m)
}

#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTapPolicy {
    #[serde(default)]
    state: String,
    #[serde(default)]
    default_lifetime_in_minutes: Option<u32>,
    #[serde(default)]
    minimum_lifetime_in_minutes: Option<u32>,
    #[serde(default)]
    maximum_lifetime_in_minutes: Option<u32>,
    #[serde(default)]
    is_usable_once: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTap {
    #[serde(default)]
    id: String,
    #[serde(default)]
    temporary_access_pass: Option<SecretString>,
    #[serde(default)]
    start_date_time: Option<String>,
    #[serde(default)]
    lifetime_in_minutes: Option<u32>,
    #[serde(default)]
    is_usable_once: Option<bool>,
    #[serde(default)]
    method_usability_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_quoted_with_single_quotes_doubled() {
        assert_eq!(
            UserFilter::UpnStartsWith("o'brien".into()).expression(),
            "startsWith(userPrincipalName,'o''brien')"
        );
        assert_eq!(
            UserFilter::MailNicknameEq("x' or 1 eq 1 or 'a".into()).expression(),
            "mailNickname eq 'x'' or 1 eq 1 or ''a'"
        );
    }

    #[test]
    fn error_envelope_is_read_whatever_the_inner_error_casing() {
        for key in ["innerError", "innererror", "InnerError"] {
            let body = format!(
                r#"{{"error":{{"code":"Request_BadRequest","message":"m","{key}":{{"request-id":"r-1"}}}}}}"#
            );
            let e = GraphErrorBody::parse(body.as_bytes()).unwrap();
            assert_eq!(e.code, "Request_BadRequest");
            assert_eq!(e.request_id.as_deref(), Some("r-1"), "{key}");
        }
        assert!(GraphErrorBody::parse(b"<html>bad gateway</html>").is_none());
    }

    #[test]
    fn duplicate_messages_name_the_property() {
        assert_eq!(
            duplicate_property(
                "Another object with the same value for property userPrincipalName already exists."
            )
            .as_deref(),
            Some("userPrincipalName")
        );
        assert_eq!(
            duplicate_property("Invalid value specified for property 'x'"),
            None
        );
    }

    #[test]
    fn tap_policy_check_explains_what_to_change() {
        let policy = TapPolicy {
            state: "enabled".into(),
            default_lifetime_minutes: Some(60),
            minimum_lifetime_minutes: Some(60),
            maximum_lifetime_minutes: Some(480),
            is_usable_once: Some(true),
        };
        assert!(
            policy
                .check(&TapRequest {
                    lifetime_minutes: Some(120),
                    ..Default::default()
                })
                .is_ok()
        );
        let too_long = policy
            .check(&TapRequest {
                lifetime_minutes: Some(600),
                ..Default::default()
            })
            .unwrap_err();
        assert!(too_long.to_string().contains("60..=480"), "{too_long}");
        let multi = policy
            .check(&TapRequest {
                is_usable_once: Some(false),
                ..Default::default()
            })
            .unwrap_err();
        assert!(multi.to_string().contains("one-time"), "{multi}");
        let disabled = TapPolicy {
            state: "disabled".into(),
            ..policy
        };
        assert!(matches!(
            disabled.check(&TapRequest::default()),
            Err(ConnectorError::TapNotAllowed { .. })
        ));
    }

    #[test]
    fn a_tap_or_mail_body_never_shows_in_debug_output() {
        let tap = TemporaryAccessPass {
            id: "m1".into(),
            pass: SecretString::new("FAKE-TAP-123"),
            start_date_time: None,
            lifetime_in_minutes: Some(60),
            is_usable_once: Some(true),
            method_usability_reason: None,
        };
        assert!(!format!("{tap:?}").contains("FAKE-TAP-123"));
        let mail = MailMessage {
            subject: "Day 1".into(),
            body: MailBody::Text("your pass FAKE-TAP-123".into()),
            to: vec!["m@contoso.example".into()],
            save_to_sent_items: false,
        };
        assert!(!format!("{mail:?}").contains("FAKE-TAP-123"));
    }
}
