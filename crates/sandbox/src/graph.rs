//! Twin of Microsoft Graph v1.0 (users, manager, groups, enterprise applications and their
//! app role assignments, Temporary Access Pass, sendMail) and of the Entra ID v2.0 token
//! endpoint (client credentials).
//!
//! Both listeners share one [`GraphState`], so a token issued by the login twin is what the
//! Graph twin accepts as `Authorization: Bearer`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{DateTime, SecondsFormat, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::{GraphConfig, SeedUser, TapPolicy, TapPolicyState};
use crate::odata::{self, FilterError};
use crate::util;

const ODATA_JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const DEFAULT_USER_PROPS: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];
const USER_FILTER_PROPS: &[&str] = &[
    "employeeId",
    "userPrincipalName",
    "mailNickname",
    "mail",
    "displayName",
    "id",
];
const GROUP_FILTER_PROPS: &[&str] = &["displayName", "mailNickname", "id"];
const SERVICE_PRINCIPAL_FILTER_PROPS: &[&str] = &["displayName", "appId", "id"];
/// The app role id Graph uses for "default access" on applications that define no roles.
const DEFAULT_ACCESS_ROLE: &str = "00000000-0000-0000-0000-000000000000";
const ASSIGNMENT_EXISTS: &str = "Permission being assigned already exists on the object";
const ROLE_NOT_FOUND: &str = "Permission being assigned was not found on application";
const DUPLICATE_UPN: &str =
    "Another object with the same value for property userPrincipalName already exists.";
const ALREADY_MEMBER: &str = "One or more added object references already exist for the following modified properties: 'members'.";
const TAP_POLICY_BLOCKS: &str = "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass].";
/// Characters of generated passes: letters, digits and the symbols real passes contain,
/// so clients that forget to escape a pass in JSON, URLs or markup are caught.
const TAP_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789+!#%@&<>";

/// A user in the Graph twin's directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUser {
    /// Object id.
    pub id: String,
    /// `userPrincipalName`.
    pub user_principal_name: String,
    /// `displayName`.
    pub display_name: String,
    /// `mailNickname`.
    pub mail_nickname: Option<String>,
    /// `employeeId`.
    pub employee_id: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
    /// Manager's object id, when set.
    pub manager_id: Option<String>,
    /// Every stored property as Graph would return it with `$select` (never the password).
    pub properties: Value,
}

/// One group membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// Group object id.
    pub group_id: String,
    /// Group display name.
    pub group: String,
    /// Member's object id.
    pub user_id: String,
    /// Member's UPN.
    pub user_principal_name: String,
}

/// A Temporary Access Pass that was issued. The pass value is deliberately absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TapIssuance {
    /// Authentication method id.
    pub id: String,
    /// User object id.
    pub user_id: String,
    /// User UPN.
    pub user_principal_name: String,
    /// When it was created (RFC 3339).
    pub created_date_time: String,
    /// When it becomes usable (RFC 3339).
    pub start_date_time: String,
    /// Lifetime.
    pub lifetime_in_minutes: u32,
    /// One-time use.
    pub is_usable_once: bool,
    /// False once replaced by a newer pass or deleted.
    pub active: bool,
}

/// A message accepted by `sendMail`.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMail {
    /// Mailbox it was sent from (the UPN of the `/users/{id}` in the path).
    pub from: String,
    /// `toRecipients` addresses.
    pub to: Vec<String>,
    /// `ccRecipients` addresses.
    pub cc: Vec<String>,
    /// Subject.
    pub subject: String,
    /// `Text` or `HTML`.
    pub content_type: String,
    /// Body content exactly as delivered (it may hold a TAP: do not print it).
    pub body: String,
    /// `saveToSentItems`.
    pub save_to_sent_items: bool,
}

impl fmt::Debug for SentMail {
    // The body may carry a pass; Debug output (assertion failures, logs) must not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentMail")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("cc", &self.cc)
            .field("subject", &self.subject)
            .field("content_type", &self.content_type)
            .field(
                "body",
                &format_args!("[{} chars]", self.body.chars().count()),
            )
            .field("save_to_sent_items", &self.save_to_sent_items)
            .finish()
    }
}

struct StoredGroup {
    id: String,
    display_name: String,
    members: Vec<String>,
}

/// An enterprise application (service principal) in the twin's tenant.
struct StoredServicePrincipal {
    id: String,
    app_id: String,
    display_name: String,
    /// `(id, value)` of the app roles users can be assigned.
    roles: Vec<(String, String)>,
}

/// One app role granted to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppRoleAssignment {
    /// Assignment id.
    pub id: String,
    /// The user's object id.
    pub principal_id: String,
    /// The user's UPN.
    pub user_principal_name: String,
    /// The service principal's object id.
    pub resource_id: String,
    /// The application's display name.
    pub resource_display_name: String,
    /// The role granted (`00000000-…` for default access).
    pub app_role_id: String,
    /// When it was granted (RFC 3339).
    pub created_date_time: String,
}

struct TapRecord {
    issuance: TapIssuance,
    value: String,
}

/// Everything the Graph and login twins hold.
pub(crate) struct GraphState {
    pub(crate) graph_base: String,
    cfg: GraphConfig,
    tokens: HashMap<String, Instant>,
    users: Vec<Map<String, Value>>,
    groups: Vec<StoredGroup>,
    service_principals: Vec<StoredServicePrincipal>,
    app_role_assignments: Vec<AppRoleAssignment>,
    managers: HashMap<String, String>,
    pub(crate) tap_policy: TapPolicy,
    taps: Vec<TapRecord>,
    mails: Vec<SentMail>,
    /// Initial passwords received on user creation, kept only so leak checks can look for them.
    passwords: Vec<String>,
}

impl fmt::Debug for GraphState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphState")
            .field("users", &self.users.len())
            .field("groups", &self.groups.len())
            .field("taps", &self.taps.len())
            .field("mails", &self.mails.len())
            .finish_non_exhaustive()
    }
}

pub(crate) type Shared = Arc<Mutex<GraphState>>;

pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, GraphState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn stable_id(kind: &str, name: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{kind}:{name}").as_bytes(),
    )
    .to_string()
}

impl GraphState {
    pub(crate) fn new(cfg: GraphConfig) -> Self {
        let mut s = Self {
            graph_base: String::new(),
            tap_policy: cfg.tap_policy.clone(),
            tokens: HashMap::new(),
            users: Vec::new(),
            groups: Vec::new(),
            service_principals: Vec::new(),
            app_role_assignments: Vec::new(),
            managers: HashMap::new(),
            taps: Vec::new(),
            mails: Vec::new(),
            passwords: Vec::new(),
            cfg,
        };
        for u in s.cfg.users.clone() {
            s.add_seed_user(&u);
        }
        for g in s.cfg.groups.clone() {
            s.add_group(&g);
        }
        for (name, roles) in s.cfg.service_principals.clone() {
            s.add_service_principal(&name, &roles);
        }
        s
    }

    /// Adds an enterprise application (if absent) whose users can be assigned `roles` (role
    /// values; none means default access only) and returns its object id.
    pub(crate) fn add_service_principal(&mut self, display_name: &str, roles: &[String]) -> String {
        if let Some(sp) = self
            .service_principals
            .iter()
            .find(|sp| sp.display_name == display_name)
        {
            return sp.id.clone();
        }
        let id = stable_id("servicePrincipal", display_name);
        self.service_principals.push(StoredServicePrincipal {
            id: id.clone(),
            app_id: stable_id("application", display_name),
            display_name: display_name.to_owned(),
            roles: roles
                .iter()
                .map(|r| (stable_id(&format!("appRole:{display_name}"), r), r.clone()))
                .collect(),
        });
        id
    }

    pub(crate) fn app_role_assignments(&self) -> Vec<AppRoleAssignment> {
        self.app_role_assignments.clone()
    }

    pub(crate) fn add_seed_user(&mut self, u: &SeedUser) -> String {
        let id = stable_id("user", &u.user_principal_name.to_lowercase());
        let nickname = u
            .user_principal_name
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut m = Map::new();
        m.insert("id".into(), json!(id));
        m.insert("accountEnabled".into(), json!(true));
        m.insert("displayName".into(), json!(u.display_name));
        m.insert("userPrincipalName".into(), json!(u.user_principal_name));
        m.insert("mailNickname".into(), json!(nickname));
        m.insert("mail".into(), json!(u.mail));
        m.insert("employeeId".into(), json!(u.employee_id));
        m.insert("jobTitle".into(), json!(u.job_title));
        fill_defaults(&mut m);
        self.users.retain(|x| x["id"] != json!(id));
        self.users.push(m);
        id
    }

    pub(crate) fn add_group(&mut self, display_name: &str) -> String {
        if let Some(g) = self.groups.iter().find(|g| g.display_name == display_name) {
            return g.id.clone();
        }
        let id = stable_id("group", display_name);
        self.groups.push(StoredGroup {
            id: id.clone(),
            display_name: display_name.to_owned(),
            members: Vec::new(),
        });
        id
    }

    pub(crate) fn revoke_tokens(&mut self) {
        self.tokens.clear();
    }

    pub(crate) fn issued_tokens(&self) -> Vec<String> {
        self.tokens.keys().cloned().collect()
    }

    pub(crate) fn client_secret(&self) -> &str {
        &self.cfg.client_secret
    }

    fn user_index(&self, key: &str) -> Option<usize> {
        self.users.iter().position(|u| {
            u["id"].as_str() == Some(key)
                || u["userPrincipalName"]
                    .as_str()
                    .is_some_and(|upn| upn.eq_ignore_ascii_case(key))
        })
    }

    fn user(&self, key: &str) -> Option<&Map<String, Value>> {
        self.user_index(key).map(|i| &self.users[i])
    }

    fn upn_of(&self, id: &str) -> String {
        self.user(id)
            .and_then(|u| u["userPrincipalName"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    pub(crate) fn users(&self) -> Vec<GraphUser> {
        self.users
            .iter()
            .map(|u| {
                let s = |k: &str| u.get(k).and_then(Value::as_str).map(str::to_owned);
                let id = s("id").unwrap_or_default();
                GraphUser {
                    manager_id: self.managers.get(&id).cloned(),
                    id,
                    user_principal_name: s("userPrincipalName").unwrap_or_default(),
                    display_name: s("displayName").unwrap_or_default(),
                    mail_nickname: s("mailNickname"),
                    employee_id: s("employeeId"),
                    mail: s("mail"),
                    properties: Value::Object(u.clone()),
                }
            })
            .collect()
    }

    pub(crate) fn memberships(&self) -> Vec<Membership> {
        let mut out = Vec::new();
        for g in &self.groups {
            for m in &g.members {
                out.push(Membership {
                    group_id: g.id.clone(),
                    group: g.display_name.clone(),
                    user_id: m.clone(),
                    user_principal_name: self.upn_of(m),
                });
            }
        }
        out
    }

    pub(crate) fn taps(&self) -> Vec<TapIssuance> {
        self.taps.iter().map(|t| t.issuance.clone()).collect()
    }

    pub(crate) fn received_passwords(&self) -> Vec<String> {
        self.passwords.clone()
    }

    pub(crate) fn tap_values(&self) -> Vec<String> {
        self.taps.iter().map(|t| t.value.clone()).collect()
    }

    pub(crate) fn mails(&self) -> Vec<SentMail> {
        self.mails.clone()
    }

    pub(crate) fn snapshot(&self) -> Value {
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                json!({
                    "id": g.id,
                    "displayName": g.display_name,
                    "members": g.members.iter().map(|m| self.upn_of(m)).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "users": self.users(),
            "groups": groups,
            "appRoleAssignments": self.app_role_assignments,
            "temporaryAccessPasses": self.taps(),
            "tapPolicy": policy_json(&self.tap_policy),
            "mails": self.mails,
        })
    }
}

fn fill_defaults(m: &mut Map<String, Value>) {
    for k in DEFAULT_USER_PROPS {
        if !m.contains_key(*k) {
            let v = if *k == "businessPhones" {
                json!([])
            } else {
                Value::Null
            };
            m.insert((*k).to_owned(), v);
        }
    }
}

/// A Graph error before the request-id is known; [`decorate`] renders the envelope.
#[derive(Debug, Clone)]
pub(crate) struct GraphError {
    status: StatusCode,
    code: String,
    message: String,
}

impl GraphError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!(
                "Resource '{what}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    fn invalid_value(prop: &str) -> Self {
        Self::bad_request(format!(
            "Invalid value specified for property '{prop}' of resource 'User'."
        ))
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
                ),
            );
        }
        r.extensions_mut().insert(self);
        r
    }
}

/// Renders injected faults the way Graph reports them.
pub(crate) fn render_fault(status: StatusCode) -> Response {
    let (code, message) = match status.as_u16() {
        429 => ("TooManyRequests", "Too many requests."),
        400 => ("Request_BadRequest", "Bad request."),
        401 => (
            "InvalidAuthenticationToken",
            "Access token validation failure.",
        ),
        403 => (
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ),
        404 => (
            "Request_ResourceNotFound",
            "Resource does not exist or one of its queried reference-property objects are not present.",
        ),
        503 => ("serviceNotAvailable", "Service unavailable."),
        504 => ("UnknownError", "The operation timed out."),
        _ => ("UnknownError", "An unexpected error occurred."),
    };
    let mut r = GraphError::new(status, code, message).into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        r.headers_mut().insert(
            "x-ms-throttle-information",
            HeaderValue::from_static("WriteLimitExceeded"),
        );
    }
    r
}

/// Outermost Graph layer: `request-id` / `client-request-id` headers, the OData content
/// type, and the error envelope with its `innerError`.
pub(crate) async fn decorate(req: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = req
        .headers()
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    let mut resp = next.run(req).await;
    if let Some(err) = resp.extensions_mut().remove::<GraphError>() {
        let body = json!({
            "error": {
                "code": err.code,
                "message": err.message,
                "innerError": {
                    "date": now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                }
            }
        });
        let headers = resp.headers().clone();
        resp = (resp.status(), axum::Json(body)).into_response();
        for (k, v) in &headers {
            resp.headers_mut().insert(k, v.clone());
        }
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
    }
    let h = resp.headers_mut();
    if h.get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
    {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ODATA_JSON));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&client_request_id) {
        h.insert("client-request-id", v);
    }
    h.insert(
        "x-ms-ags-diagnostic",
        HeaderValue::from_static(
            r#"{"ServerInfo":{"DataCenter":"Loopback","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"dayone-sandbox"}}"#,
        ),
    );
    resp
}

async fn require_bearer(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let token = util::bearer(req.headers());
    let verdict = {
        let mut s = lock(&st);
        match token {
            None => Err("Access token is empty."),
            Some(t) => match s.tokens.get(&t).copied() {
                None => Err("Access token validation failure. Invalid audience."),
                Some(exp) if exp <= Instant::now() => {
                    s.tokens.remove(&t);
                    Err("Lifetime validation failed, the token is expired.")
                }
                Some(_) => Ok(()),
            },
        }
    };
    match verdict {
        Ok(()) => next.run(req).await,
        Err(msg) => GraphError::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", msg)
            .into_response(),
    }
}

/// The Graph listener's routes.
pub(crate) fn graph_router(st: Shared) -> Router {
    Router::new()
        .route("/v1.0/users", get(list_users).post(create_user))
        .route("/v1.0/users/{id}", get(get_user))
        .route("/v1.0/users/{id}/manager", get(get_manager))
        .route("/v1.0/users/{id}/manager/$ref", put(set_manager))
        .route("/v1.0/users/{id}/sendMail", post(send_mail))
        .route(
            "/v1.0/users/{id}/authentication/temporaryAccessPassMethods",
            get(list_taps).post(create_tap),
        )
        .route(
            "/v1.0/users/{id}/authentication/temporaryAccessPassMethods/{method}",
            get(get_tap).delete(delete_tap),
        )
        .route(
            "/v1.0/users/{id}/appRoleAssignments",
            get(list_user_app_role_assignments),
        )
        .route("/v1.0/servicePrincipals", get(list_service_principals))
        .route("/v1.0/servicePrincipals/{id}", get(get_service_principal))
        .route(
            "/v1.0/servicePrincipals/{id}/appRoleAssignedTo",
            post(assign_app_role),
        )
        .route("/v1.0/groups", get(list_groups))
        .route("/v1.0/groups/{id}", get(get_group))
        .route("/v1.0/groups/{id}/members", get(list_members))
        .route("/v1.0/groups/{id}/members/$ref", post(add_member))
        .route(
            "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass",
            get(get_tap_policy),
        )
        .route_layer(middleware::from_fn_with_state(st.clone(), require_bearer))
        .fallback(unknown_segment)
        .with_state(st)
}

async fn unknown_segment(req: Request) -> GraphError {
    let seg = req
        .uri()
        .path()
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{seg}'."),
    )
}

fn parse_body(body: &Bytes) -> Result<Map<String, Value>, GraphError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
        )),
    }
}

fn ok_json(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

fn select_list(q: &HashMap<String, String>) -> Option<Vec<String>> {
    q.get("$select").or_else(|| q.get("select")).map(|s| {
        s.split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect()
    })
}

fn project(obj: &Map<String, Value>, select: Option<&[String]>) -> Map<String, Value> {
    let mut out = Map::new();
    match select {
        Some(props) => {
            for p in props {
                let found = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(p));
                let (k, v) =
                    found.map_or((p.clone(), Value::Null), |(k, v)| (k.clone(), v.clone()));
                out.insert(k, v);
            }
            if !out.contains_key("id") {
                out.insert("id".into(), obj.get("id").cloned().unwrap_or(Value::Null));
            }
        }
        None => {
            for p in DEFAULT_USER_PROPS {
                out.insert((*p).to_owned(), obj.get(*p).cloned().unwrap_or(Value::Null));
            }
        }
    }
    out
}

/// The `$filter` of a list request, parsed against the properties `resource` supports.
fn query_filter(
    q: &HashMap<String, String>,
    props: &[&str],
    resource: &str,
) -> Result<Option<odata::Filter>, GraphError> {
    q.get("$filter")
        .or_else(|| q.get("filter"))
        .map(|text| odata::parse(text, props).map_err(|e| filter_error(e, resource)))
        .transpose()
}

fn filter_error(e: FilterError, resource: &str) -> GraphError {
    match e {
        FilterError::Syntax(detail) => GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("Invalid filter clause: {detail}"),
        ),
        FilterError::Unsupported(prop) => GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            format!(
                "Unsupported or invalid query filter clause specified for property '{prop}' of resource '{resource}'."
            ),
        ),
    }
}

fn context(base: &str, rest: &str) -> Value {
    json!(format!("{base}/v1.0/$metadata#{rest}"))
}

async fn list_users(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    let q = util::form(raw.unwrap_or_default().as_bytes());
    let filter = query_filter(&q, USER_FILTER_PROPS, "User")?;
    let select = select_list(&q);
    let top = match q.get("$top") {
        Some(t) => Some(t.parse::<usize>().map_err(|_| {
            GraphError::new(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("Invalid value '{t}' for $top query option found."),
            )
        })?),
        None => None,
    };
    let s = lock(&st);
    let matched: Vec<Value> = s
        .users
        .iter()
        .filter(|u| filter.as_ref().is_none_or(|f| f.matches(u)))
        .map(|u| Value::Object(project(u, select.as_deref())))
        .collect();
    let total = matched.len();
    let value: Vec<Value> = matched
        .into_iter()
        .take(top.unwrap_or(usize::MAX))
        .collect();
    let ctx = match &select {
        Some(p) => format!("users({})", p.join(",")),
        None => "users".to_owned(),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), context(&s.graph_base, &ctx));
    let eventual = headers
        .get("consistencylevel")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"eventual"));
    if eventual && q.get("$count").is_some_and(|c| c == "true") {
        body.insert("@odata.count".into(), json!(total));
    }
    body.insert("value".into(), Value::Array(value));
    Ok(ok_json(StatusCode::OK, Value::Object(body)))
}

fn valid_upn(upn: &str, domains: &[String]) -> Result<(), GraphError> {
    let Some((local, domain)) = upn.split_once('@') else {
        return Err(GraphError::invalid_value("userPrincipalName"));
    };
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c);
    if local.is_empty()
        || local.len() > 64
        || !local.chars().all(ok_char)
        || local.starts_with('.')
        || local.ends_with('.')
        || domain.is_empty()
    {
        return Err(GraphError::invalid_value("userPrincipalName"));
    }
    if !domains.is_empty() && !domains.iter().any(|d| d.eq_ignore_ascii_case(domain)) {
        return Err(GraphError::bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
        ));
    }
    Ok(())
}

fn complex_enough(password: &str) -> bool {
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    (8..=256).contains(&password.chars().count()) && classes.iter().filter(|c| **c).count() >= 3
}

async fn create_user(State(st): State<Shared>, body: Bytes) -> Result<Response, GraphError> {
    let mut m = parse_body(&body)?;
    let text = |m: &Map<String, Value>, k: &str| {
        m.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if !m.get("accountEnabled").is_some_and(Value::is_boolean) {
        return Err(GraphError::invalid_value("accountEnabled"));
    }
    let Some(_) = text(&m, "displayName") else {
        return Err(GraphError::invalid_value("displayName"));
    };
    let Some(nick) = text(&m, "mailNickname") else {
        return Err(GraphError::invalid_value("mailNickname"));
    };
    if nick.chars().count() > 64
        || nick
            .chars()
            .any(|c| c.is_whitespace() || "@()\\[]\";:<>,".contains(c) || !c.is_ascii())
    {
        return Err(GraphError::invalid_value("mailNickname"));
    }
    let Some(upn) = text(&m, "userPrincipalName") else {
        return Err(GraphError::invalid_value("userPrincipalName"));
    };
    if let Some(e) = m.get("employeeId").filter(|v| !v.is_null())
        && e.as_str().is_none_or(|s| s.chars().count() > 16)
    {
        return Err(GraphError::invalid_value("employeeId"));
    }
    let password = m
        .get("passwordProfile")
        .and_then(|p| p.get("password"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(password) = password else {
        return Err(GraphError::invalid_value("passwordProfile"));
    };
    if !complex_enough(&password) {
        return Err(GraphError::bad_request(
            "The specified password does not comply with password complexity requirements. Please provide a different password.",
        ));
    }
    if m.contains_key("onPremisesSamAccountName") {
        return Err(GraphError::bad_request(
            "Property 'onPremisesSamAccountName' is read-only and cannot be set.",
        ));
    }
    let mut s = lock(&st);
    valid_upn(&upn, &s.cfg.verified_domains)?;
    if s.user(&upn).is_some() {
        return Err(GraphError::bad_request(DUPLICATE_UPN));
    }
    // The password is a credential: it is never stored with the user or returned; the twin
    // keeps the value aside only so leak checks can search for it.
    if let Some(password) = m
        .remove("passwordProfile")
        .and_then(|p| p.get("password").and_then(Value::as_str).map(str::to_owned))
    {
        s.passwords.push(password);
    }
    let id = uuid::Uuid::new_v4().to_string();
    m.insert("id".into(), json!(id));
    m.insert("createdDateTime".into(), json!(rfc3339(now())));
    fill_defaults(&mut m);
    let body = {
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            context(&s.graph_base, "users/$entity"),
        );
        out.extend(project(&m, None));
        out
    };
    s.users.push(m);
    Ok(ok_json(StatusCode::CREATED, Value::Object(body)))
}

async fn get_user(
    State(st): State<Shared>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    let q = util::form(raw.unwrap_or_default().as_bytes());
    let s = lock(&st);
    let u = s.user(&id).ok_or_else(|| GraphError::not_found(&id))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        context(&s.graph_base, "users/$entity"),
    );
    out.extend(project(u, select_list(&q).as_deref()));
    Ok(ok_json(StatusCode::OK, Value::Object(out)))
}

/// The object id named by `{"@odata.id": ".../users/{id}"}` or `.../directoryObjects/{id}`.
fn referenced_id(m: &Map<String, Value>) -> Result<String, GraphError> {
    let raw = m
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("@odata.id"))
        .and_then(|(_, v)| v.as_str())
        .ok_or_else(|| {
            GraphError::bad_request(
                "Invalid object identifier: a '@odata.id' reference is required.",
            )
        })?;
    let last = raw
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    let last = last
        .trim_start_matches("directoryObjects(")
        .trim_start_matches("users(")
        .trim_matches(|c| c == '(' || c == ')' || c == '\'');
    if last.is_empty() || last.contains(':') {
        return Err(GraphError::bad_request(format!(
            "Invalid object identifier '{raw}'."
        )));
    }
    Ok(last.to_owned())
}

async fn set_manager(
    State(st): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let m = parse_body(&body)?;
    let mgr_ref = referenced_id(&m)?;
    let mut s = lock(&st);
    let user_id = s.user(&id).ok_or_else(|| GraphError::not_found(&id))?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mgr_id = s
        .user(&mgr_ref)
        .ok_or_else(|| GraphError::not_found(&mgr_ref))?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if mgr_id == user_id {
        return Err(GraphError::bad_request(
            "Invalid object identifier: a user cannot be their own manager.",
        ));
    }
    s.managers.insert(user_id, mgr_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_manager(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let s = lock(&st);
    let user_id = s.user(&id).ok_or_else(|| GraphError::not_found(&id))?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mgr = s
        .managers
        .get(&user_id)
        .and_then(|m| s.user(m))
        .ok_or_else(|| GraphError::not_found("manager"))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        context(&s.graph_base, "directoryObjects/$entity"),
    );
    out.insert("@odata.type".into(), json!("#microsoft.graph.user"));
    out.extend(project(mgr, None));
    Ok(ok_json(StatusCode::OK, Value::Object(out)))
}

fn group_json(g: &StoredGroup) -> Map<String, Value> {
    let nick: String = g
        .display_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut m = Map::new();
    m.insert("id".into(), json!(g.id));
    m.insert("deletedDateTime".into(), Value::Null);
    m.insert(
        "description".into(),
        json!(format!("{} (sandbox)", g.display_name)),
    );
    m.insert("displayName".into(), json!(g.display_name));
    m.insert("groupTypes".into(), json!([]));
    m.insert("mail".into(), Value::Null);
    m.insert("mailEnabled".into(), json!(false));
    m.insert("mailNickname".into(), json!(nick));
    m.insert("securityEnabled".into(), json!(true));
    m
}

async fn list_groups(
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    let s = lock(&st);
    let all = s.groups.iter().map(group_json).collect();
    list_reply(
        raw,
        GROUP_FILTER_PROPS,
        "Group",
        &s.graph_base,
        "groups",
        all,
    )
}

/// A collection listing: `all` narrowed by `$filter` (over `props`) and projected by `$select`.
fn list_reply(
    raw: Option<String>,
    props: &[&str],
    resource: &str,
    graph_base: &str,
    collection: &str,
    all: Vec<Map<String, Value>>,
) -> Result<Response, GraphError> {
    let q = util::form(raw.unwrap_or_default().as_bytes());
    let filter = query_filter(&q, props, resource)?;
    let select = select_list(&q);
    let value: Vec<Value> = all
        .into_iter()
        .filter(|o| filter.as_ref().is_none_or(|f| f.matches(o)))
        .map(|o| match &select {
            Some(sel) => Value::Object(project(&o, Some(sel))),
            None => Value::Object(o),
        })
        .collect();
    Ok(ok_json(
        StatusCode::OK,
        json!({"@odata.context": context(graph_base, collection), "value": value}),
    ))
}

async fn get_group(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let s = lock(&st);
    let g = s
        .groups
        .iter()
        .find(|g| g.id == id)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        context(&s.graph_base, "groups/$entity"),
    );
    out.extend(group_json(g));
    Ok(ok_json(StatusCode::OK, Value::Object(out)))
}

async fn list_members(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let s = lock(&st);
    let g = s
        .groups
        .iter()
        .find(|g| g.id == id)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let value: Vec<Value> = g
        .members
        .iter()
        .filter_map(|m| s.user(m))
        .map(|u| {
            let mut o = Map::new();
            o.insert("@odata.type".into(), json!("#microsoft.graph.user"));
            o.extend(project(u, None));
            Value::Object(o)
        })
        .collect();
    Ok(ok_json(
        StatusCode::OK,
        json!({"@odata.context": context(&s.graph_base, "directoryObjects"), "value": value}),
    ))
}

async fn add_member(
    State(st): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let m = parse_body(&body)?;
    let member = referenced_id(&m)?;
    let mut s = lock(&st);
    let gi = s
        .groups
        .iter()
        .position(|g| g.id == id)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let user_id = s
        .user(&member)
        .ok_or_else(|| GraphError::not_found(&member))?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let group = &mut s.groups[gi];
    if group.members.contains(&user_id) {
        return Err(GraphError::bad_request(ALREADY_MEMBER));
    }
    group.members.push(user_id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn service_principal_json(sp: &StoredServicePrincipal) -> Map<String, Value> {
    let roles: Vec<Value> = sp
        .roles
        .iter()
        .map(|(id, value)| {
            json!({
                "allowedMemberTypes": ["User"],
                "description": format!("{value} of {}", sp.display_name),
                "displayName": value,
                "id": id,
                "isEnabled": true,
                "origin": "Application",
                "value": value,
            })
        })
        .collect();
    let mut m = Map::new();
    m.insert("id".into(), json!(sp.id));
    m.insert("appId".into(), json!(sp.app_id));
    m.insert("displayName".into(), json!(sp.display_name));
    m.insert("servicePrincipalType".into(), json!("Application"));
    m.insert("accountEnabled".into(), json!(true));
    m.insert("appRoleAssignmentRequired".into(), json!(true));
    m.insert("appRoles".into(), Value::Array(roles));
    m
}

async fn list_service_principals(
    State(st): State<Shared>,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    let s = lock(&st);
    let all = s
        .service_principals
        .iter()
        .map(service_principal_json)
        .collect();
    list_reply(
        raw,
        SERVICE_PRINCIPAL_FILTER_PROPS,
        "ServicePrincipal",
        &s.graph_base,
        "servicePrincipals",
        all,
    )
}

async fn get_service_principal(
    State(st): State<Shared>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, GraphError> {
    let q = util::form(raw.unwrap_or_default().as_bytes());
    let select = select_list(&q);
    let s = lock(&st);
    let sp = s
        .service_principals
        .iter()
        .find(|sp| sp.id == id)
        .ok_or_else(|| GraphError::not_found(&id))?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        context(&s.graph_base, "servicePrincipals/$entity"),
    );
    let sp = service_principal_json(sp);
    out.extend(match &select {
        Some(sel) => project(&sp, Some(sel)),
        None => sp,
    });
    Ok(ok_json(StatusCode::OK, Value::Object(out)))
}

fn assignment_json(a: &AppRoleAssignment) -> Value {
    json!({
        "id": a.id,
        "deletedDateTime": null,
        "appRoleId": a.app_role_id,
        "createdDateTime": a.created_date_time,
        "principalDisplayName": a.user_principal_name,
        "principalId": a.principal_id,
        "principalType": "User",
        "resourceDisplayName": a.resource_display_name,
        "resourceId": a.resource_id,
    })
}

async fn list_user_app_role_assignments(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let s = lock(&st);
    let user_id = s
        .user(&id)
        .and_then(|u| u["id"].as_str())
        .ok_or_else(|| GraphError::not_found(&id))?
        .to_owned();
    let value: Vec<Value> = s
        .app_role_assignments
        .iter()
        .filter(|a| a.principal_id == user_id)
        .map(assignment_json)
        .collect();
    Ok(ok_json(
        StatusCode::OK,
        json!({
            "@odata.context": context(&s.graph_base, &format!("users('{user_id}')/appRoleAssignments")),
            "value": value,
        }),
    ))
}

/// `POST /servicePrincipals/{id}/appRoleAssignedTo`: grants a user one of the application's
/// roles, or default access when the application defines none.
async fn assign_app_role(
    State(st): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let m = parse_body(&body)?;
    let field = |k: &str| -> Result<String, GraphError> {
        m.get(k)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                GraphError::bad_request(format!(
                    "Invalid value specified for property '{k}' of resource 'AppRoleAssignment'."
                ))
            })
    };
    let (principal, resource, role) = (
        field("principalId")?,
        field("resourceId")?,
        field("appRoleId")?,
    );
    let mut s = lock(&st);
    let sp = s
        .service_principals
        .iter()
        .find(|sp| sp.id == id)
        .ok_or_else(|| GraphError::not_found(&id))?;
    if !resource.eq_ignore_ascii_case(&sp.id) {
        return Err(GraphError::bad_request(
            "Not a valid reference update: resourceId must be the service principal in the path.",
        ));
    }
    let role_known = if sp.roles.is_empty() {
        role == DEFAULT_ACCESS_ROLE
    } else {
        sp.roles
            .iter()
            .any(|(rid, _)| rid.eq_ignore_ascii_case(&role))
    };
    if !role_known {
        return Err(GraphError::bad_request(ROLE_NOT_FOUND));
    }
    let resource_display_name = sp.display_name.clone();
    let user = s
        .user(&principal)
        .ok_or_else(|| GraphError::not_found(&principal))?;
    let user_id = user["id"].as_str().unwrap_or_default().to_owned();
    let upn = user["userPrincipalName"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if s.app_role_assignments
        .iter()
        .any(|a| a.principal_id == user_id && a.resource_id == id && a.app_role_id == role)
    {
        return Err(GraphError::bad_request(ASSIGNMENT_EXISTS));
    }
    let assignment = AppRoleAssignment {
        id: random_assignment_id(),
        principal_id: user_id,
        user_principal_name: upn,
        resource_id: id,
        resource_display_name,
        app_role_id: role,
        created_date_time: rfc3339(now()),
    };
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        context(&s.graph_base, "servicePrincipals/appRoleAssignedTo/$entity"),
    );
    if let Value::Object(a) = assignment_json(&assignment) {
        out.extend(a);
    }
    s.app_role_assignments.push(assignment);
    Ok(ok_json(StatusCode::CREATED, Value::Object(out)))
}

/// Assignment ids are opaque base64url strings in Graph.
fn random_assignment_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..43)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn policy_json(p: &TapPolicy) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "id": "TemporaryAccessPass",
        "state": match p.state { TapPolicyState::Enabled => "enabled", TapPolicyState::Disabled => "disabled" },
        "defaultLifetimeInMinutes": p.default_lifetime_minutes,
        "defaultLength": p.default_length,
        "minimumLifetimeInMinutes": p.minimum_lifetime_minutes,
        "maximumLifetimeInMinutes": p.maximum_lifetime_minutes,
        "isUsableOnce": p.is_usable_once,
        "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": false}],
        "excludeTargets": [],
    })
}

async fn get_tap_policy(State(st): State<Shared>) -> Response {
    let s = lock(&st);
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        context(
            &s.graph_base,
            "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity",
        ),
    );
    if let Value::Object(p) = policy_json(&s.tap_policy) {
        out.extend(p);
    }
    ok_json(StatusCode::OK, Value::Object(out))
}

fn tap_bad_request(message: impl Into<String>) -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "badRequest", message)
}

fn tap_json(base: &str, t: &TapIssuance, value: Option<&str>) -> Value {
    let start = DateTime::parse_from_rfc3339(&t.start_date_time)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| now());
    let usable = start <= now();
    json!({
        "@odata.context": context(base, &format!("users('{}')/authentication/temporaryAccessPassMethods/$entity", t.user_id)),
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
        "id": t.id,
        "temporaryAccessPass": value,
        "createdDateTime": t.created_date_time,
        "startDateTime": t.start_date_time,
        "lifetimeInMinutes": t.lifetime_in_minutes,
        "isUsableOnce": t.is_usable_once,
        "isUsable": usable,
        "methodUsabilityReason": if usable { "EnabledByPolicy" } else { "NotYetValid" },
    })
}

fn generate_pass(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len.clamp(8, 48))
        .map(|_| TAP_ALPHABET[rng.random_range(0..TAP_ALPHABET.len())] as char)
        .collect()
}

async fn create_tap(
    State(st): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let m = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        parse_body(&body)?
    };
    let mut s = lock(&st);
    let (user_id, upn) = {
        let u = s.user(&id).ok_or_else(|| GraphError::not_found(&id))?;
        (
            u["id"].as_str().unwrap_or_default().to_owned(),
            u["userPrincipalName"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };
    let policy = s.tap_policy.clone();
    if policy.state == TapPolicyState::Disabled {
        return Err(tap_bad_request(TAP_POLICY_BLOCKS));
    }
    let lifetime = match m.get("lifetimeInMinutes") {
        None | Some(Value::Null) => policy.default_lifetime_minutes,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| tap_bad_request("Invalid LifetimeInMinutes specified."))?,
    };
    let (lo, hi) = (
        policy.minimum_lifetime_minutes.max(10),
        policy.maximum_lifetime_minutes.min(43200),
    );
    if !(lo..=hi).contains(&lifetime) {
        return Err(tap_bad_request(format!(
            "Invalid LifetimeInMinutes specified. The valid range between {lo} and {hi}."
        )));
    }
    let created = now();
    let start = match m.get("startDateTime") {
        None | Some(Value::Null) => created,
        Some(v) => v
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|d| d.with_timezone(&Utc))
            .ok_or_else(|| tap_bad_request("Invalid StartDateTime specified."))?,
    };
    let usable_once = policy.is_usable_once
        || m.get("isUsableOnce")
            .and_then(Value::as_bool)
            .unwrap_or(false);
    // A user holds at most one pass: a new one replaces the old.
    for t in s.taps.iter_mut().filter(|t| t.issuance.user_id == user_id) {
        t.issuance.active = false;
    }
    let issuance = TapIssuance {
        id: uuid::Uuid::new_v4().to_string(),
        user_id,
        user_principal_name: upn,
        created_date_time: rfc3339(created),
        start_date_time: rfc3339(start),
        lifetime_in_minutes: lifetime,
        is_usable_once: usable_once,
        active: true,
    };
    let value = generate_pass(policy.default_length);
    let body = tap_json(&s.graph_base, &issuance, Some(&value));
    s.taps.push(TapRecord { issuance, value });
    Ok(ok_json(StatusCode::CREATED, body))
}

fn user_id_of(s: &GraphState, key: &str) -> Result<String, GraphError> {
    Ok(s.user(key).ok_or_else(|| GraphError::not_found(key))?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

async fn list_taps(
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let s = lock(&st);
    let user_id = user_id_of(&s, &id)?;
    let value: Vec<Value> = s
        .taps
        .iter()
        .filter(|t| t.issuance.active && t.issuance.user_id == user_id)
        .map(|t| {
            let mut v = tap_json(&s.graph_base, &t.issuance, None);
            if let Some(o) = v.as_object_mut() {
                o.remove("@odata.context");
            }
            v
        })
        .collect();
    Ok(ok_json(
        StatusCode::OK,
        json!({
            "@odata.context": context(&s.graph_base, &format!("users('{user_id}')/authentication/temporaryAccessPassMethods")),
            "value": value,
        }),
    ))
}

async fn get_tap(
    State(st): State<Shared>,
    Path((id, method)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let s = lock(&st);
    let user_id = user_id_of(&s, &id)?;
    let t = s
        .taps
        .iter()
        .find(|t| t.issuance.active && t.issuance.user_id == user_id && t.issuance.id == method)
        .ok_or_else(|| GraphError::not_found(&method))?;
    Ok(ok_json(
        StatusCode::OK,
        tap_json(&s.graph_base, &t.issuance, None),
    ))
}

async fn delete_tap(
    State(st): State<Shared>,
    Path((id, method)): Path<(String, String)>,
) -> Result<Response, GraphError> {
    let mut s = lock(&st);
    let user_id = user_id_of(&s, &id)?;
    let t = s
        .taps
        .iter_mut()
        .find(|t| t.issuance.active && t.issuance.user_id == user_id && t.issuance.id == method)
        .ok_or_else(|| GraphError::not_found(&method))?;
    t.issuance.active = false;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn addresses(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.pointer("/emailAddress/address").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

async fn send_mail(
    State(st): State<Shared>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    let m = parse_body(&body)?;
    let mut s = lock(&st);
    let from = match s.user(&id) {
        None => {
            return Err(GraphError::new(
                StatusCode::NOT_FOUND,
                "ErrorInvalidUser",
                format!("The requested user '{id}' is invalid."),
            ));
        }
        Some(u) if u.get("mail").is_none_or(Value::is_null) => {
            return Err(GraphError::new(
                StatusCode::NOT_FOUND,
                "MailboxNotEnabledForRESTAPI",
                "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
            ));
        }
        Some(u) => u["userPrincipalName"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    let Some(msg) = m.get("message").and_then(Value::as_object) else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The 'message' parameter is required: provide the message to send.",
        ));
    };
    let to = addresses(msg.get("toRecipients"));
    let cc = addresses(msg.get("ccRecipients"));
    if to.is_empty() && cc.is_empty() || to.iter().chain(&cc).any(|a| !a.contains('@')) {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
        ));
    }
    let text = |p: &str| {
        msg.get(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    s.mails.push(SentMail {
        from,
        to,
        cc,
        subject: text("subject"),
        content_type: msg
            .get("body")
            .and_then(|b| b.get("contentType"))
            .and_then(Value::as_str)
            .unwrap_or("Text")
            .to_owned(),
        body: msg
            .get("body")
            .and_then(|b| b.get("content"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        save_to_sent_items: m
            .get("saveToSentItems")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    });
    Ok(StatusCode::ACCEPTED.into_response())
}

// ---------------------------------------------------------------------------------------
// Entra ID token endpoint
// ---------------------------------------------------------------------------------------

/// The login listener's routes.
pub(crate) fn login_router(st: Shared) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .fallback(|| async {
            oauth_error(
                StatusCode::NOT_FOUND,
                "invalid_request",
                90002,
                "The requested endpoint does not exist on this identity platform.",
                None,
            )
        })
        .with_state(st)
}

fn oauth_error(
    status: StatusCode,
    error: &str,
    code: u32,
    text: &str,
    correlation: Option<String>,
) -> Response {
    let trace = uuid::Uuid::new_v4().to_string();
    let correlation = correlation.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let ts = now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {ts}"),
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    let mut r = (status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&trace) {
        r.headers_mut().insert("x-ms-request-id", v);
    }
    r
}

/// Injected faults on the token endpoint, in OAuth error style.
pub(crate) fn render_login_fault(status: StatusCode) -> Response {
    let (error, code, text) = match status.as_u16() {
        429 => (
            "temporarily_unavailable",
            50196,
            "The server is temporarily unable to handle the request because of too many requests.",
        ),
        503 | 504 => (
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        ),
        400 => ("invalid_request", 90000, "The request is invalid."),
        401 => ("invalid_client", 7000215, "Invalid client secret provided."),
        _ => (
            "server_error",
            90033,
            "An internal error occurred. Please try again.",
        ),
    };
    oauth_error(status, error, code, text, None)
}

async fn token(
    State(st): State<Shared>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let correlation = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let err = |status, error, code, text: &str| {
        oauth_error(status, error, code, text, correlation.clone())
    };
    let bad = StatusCode::BAD_REQUEST;
    if !util::content_type(&headers).starts_with("application/x-www-form-urlencoded") {
        return err(
            bad,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        );
    }
    let form = util::form(&body);
    let mut s = lock(&st);
    if !tenant.eq_ignore_ascii_case(&s.cfg.tenant_id)
        && !tenant.eq_ignore_ascii_case(&s.cfg.tenant_domain)
    {
        return err(
            bad,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    let Some(grant) = form.get("grant_type") else {
        return err(
            bad,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        );
    };
    if grant != "client_credentials" {
        return err(
            bad,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    // Client credentials may come in the body (client_secret_post) or Basic (client_secret_basic).
    let (client_id, secret) = match (form.get("client_id"), util::basic_auth(&headers)) {
        (_, Some((id, secret))) => (Some(id), Some(secret)),
        (id, None) => (id.cloned(), form.get("client_secret").cloned()),
    };
    let Some(client_id) = client_id else {
        return err(
            bad,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(scope) = form.get("scope") else {
        return err(
            bad,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    if client_id != s.cfg.client_id {
        return err(
            bad,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
    }
    let Some(secret) = secret else {
        return err(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        );
    };
    if !util::same_secret(&secret, &s.cfg.client_secret) {
        return err(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        );
    }
    if !scope.ends_with("/.default") {
        return err(
            bad,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    let resource = scope.trim_end_matches("/.default").trim_end_matches('/');
    let known = [
        "https://graph.microsoft.com",
        "00000003-0000-0000-c000-000000000000",
        s.graph_base.as_str(),
    ];
    if !known.contains(&resource) {
        return err(
            bad,
            "invalid_resource",
            500011,
            &format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        );
    }
    let lifetime = s.cfg.token_lifetime;
    let token = format!(
        "eyJ0eXAiOiJKV1QiLCJzYngiOnRydWV9.{}",
        util::random_alnum(64)
    );
    s.tokens.insert(token.clone(), Instant::now() + lifetime);
    let secs = lifetime.as_secs();
    let mut r = (
        StatusCode::OK,
        axum::Json(json!({
            "token_type": "Bearer",
            "expires_in": secs,
            "ext_expires_in": secs,
            "access_token": token,
        })),
    )
        .into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        r.headers_mut().insert("x-ms-request-id", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passes_have_policy_length_and_symbols_allowed() {
        let p = generate_pass(8);
        assert_eq!(p.chars().count(), 8);
        assert!(p.bytes().all(|b| TAP_ALPHABET.contains(&b)));
        assert_eq!(generate_pass(100).len(), 48);
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(!complex_enough("password"));
        assert!(!complex_enough("Sh0rt!"));
        assert!(complex_enough("Welcome-2026-Day1"));
    }

    #[test]
    fn references_accept_users_and_directory_objects() {
        let m = |s: &str| json!({"@odata.id": s}).as_object().cloned().unwrap();
        assert_eq!(
            referenced_id(&m("https://graph.microsoft.com/v1.0/directoryObjects/abc")).unwrap(),
            "abc"
        );
        assert_eq!(
            referenced_id(&m("https://graph.microsoft.com/v1.0/users/x@contoso.com")).unwrap(),
            "x@contoso.com"
        );
        assert!(referenced_id(&Map::new()).is_err());
    }
}
