//! Twin of a ServiceNow instance: Table API (`/api/now/table`), Service Catalog
//! (`order_now`, two-step checkout with `cart/submit_order`), Basic auth and the OAuth
//! password grant at `/oauth_token.do`. Errors use ServiceNow's
//! `{"error":{"message","detail"},"status":"failure"}` shape.

// Helpers return the ready-to-send error response as `Err`; these are cold paths on a
// local twin, so the size of `Response` in a `Result` does not matter.
#![allow(clippy::result_large_err)]
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Map, Value, json};

use crate::config::ServiceNowConfig;
use crate::util;

const TABLES: &[(&str, &str)] = &[
    ("incident", "INC"),
    ("sc_request", "REQ"),
    ("sc_req_item", "RITM"),
    ("sc_task", "SCTASK"),
    ("task", "TASK"),
    ("problem", "PRB"),
    ("change_request", "CHG"),
    ("sys_user", ""),
];
const REFERENCES: &[(&str, &str)] = &[
    ("caller_id", "sys_user"),
    ("requested_for", "sys_user"),
    ("opened_by", "sys_user"),
    ("assigned_to", "sys_user"),
    ("assignment_group", "sys_user_group"),
    ("request", "sc_request"),
    ("request_item", "sc_req_item"),
    ("cat_item", "sc_cat_item"),
];
const TOKEN_LIFETIME: Duration = Duration::from_secs(1799);

/// A record the ServiceNow twin holds (any table).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ServiceNowRecord {
    /// Table name.
    pub table: String,
    /// `sys_id`.
    pub sys_id: String,
    /// `number` (e.g. `REQ0010001`), empty for tables without numbers.
    pub number: String,
    /// Every field as the Table API returns it.
    pub fields: Value,
}

struct CartItem {
    item: String,
    quantity: u32,
    variables: Value,
    requested_for: Option<String>,
}

pub(crate) struct ServiceNowState {
    pub(crate) base: String,
    cfg: ServiceNowConfig,
    tokens: HashMap<String, Instant>,
    refresh_tokens: Vec<String>,
    tables: BTreeMap<String, Vec<Map<String, Value>>>,
    counters: HashMap<String, u32>,
    /// Catalog variables per requested item sys_id (not a Table API field).
    variables: BTreeMap<String, Value>,
    cart_id: String,
    cart: Vec<CartItem>,
}

impl fmt::Debug for ServiceNowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceNowState")
            .field("tables", &self.tables.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

pub(crate) type Shared = Arc<Mutex<ServiceNowState>>;

pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, ServiceNowState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn glide_now() -> String {
    Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

impl ServiceNowState {
    pub(crate) fn new(cfg: ServiceNowConfig) -> Self {
        Self {
            base: String::new(),
            cfg,
            tokens: HashMap::new(),
            refresh_tokens: Vec::new(),
            tables: BTreeMap::new(),
            counters: HashMap::new(),
            variables: BTreeMap::new(),
            cart_id: util::hex_id(),
            cart: Vec::new(),
        }
    }

    pub(crate) fn set_two_step_checkout(&mut self, on: bool) {
        self.cfg.two_step_checkout = on;
    }

    pub(crate) fn secrets(&self) -> Vec<String> {
        let mut v = vec![self.cfg.password.clone(), self.cfg.client_secret.clone()];
        v.extend(self.tokens.keys().cloned());
        v.extend(self.refresh_tokens.iter().cloned());
        v
    }

    pub(crate) fn records(&self) -> Vec<ServiceNowRecord> {
        self.tables
            .iter()
            .flat_map(|(table, rows)| {
                rows.iter().map(move |r| ServiceNowRecord {
                    table: table.clone(),
                    sys_id: r["sys_id"].as_str().unwrap_or_default().to_owned(),
                    number: r
                        .get("number")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    fields: Value::Object(r.clone()),
                })
            })
            .collect()
    }

    pub(crate) fn snapshot(&self) -> Value {
        json!({"tables": self.tables, "catalogVariables": self.variables})
    }

    fn reference(&self, table: &str, id: &str) -> Value {
        json!({"link": format!("{}/api/now/table/{table}/{id}", self.base), "value": id})
    }

    fn insert(
        &mut self,
        table: &str,
        fields: &Map<String, Value>,
        user: &str,
    ) -> Map<String, Value> {
        let prefix = TABLES
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, p)| *p)
            .unwrap_or("");
        let mut rec = Map::new();
        let sys_id = util::hex_id();
        rec.insert("sys_id".into(), json!(sys_id));
        if !prefix.is_empty() {
            let n = self.counters.entry(table.to_owned()).or_insert(10000);
            *n += 1;
            rec.insert("number".into(), json!(format!("{prefix}{n:07}")));
            rec.insert("active".into(), json!("true"));
            rec.insert("state".into(), json!("1"));
            rec.insert("correlation_id".into(), json!(""));
            rec.insert("correlation_display".into(), json!(""));
            rec.insert("short_description".into(), json!(""));
            rec.insert("description".into(), json!(""));
        }
        let now = glide_now();
        rec.insert("sys_class_name".into(), json!(table));
        rec.insert("sys_created_on".into(), json!(now));
        rec.insert("sys_created_by".into(), json!(user));
        rec.insert("sys_updated_on".into(), json!(now));
        rec.insert("sys_updated_by".into(), json!(user));
        rec.insert("sys_mod_count".into(), json!("0"));
        self.apply(&mut rec, fields);
        self.tables
            .entry(table.to_owned())
            .or_default()
            .push(rec.clone());
        rec
    }

    /// Field values are stored as the Table API returns them: strings, and link/value pairs
    /// for references.
    fn apply(&self, rec: &mut Map<String, Value>, fields: &Map<String, Value>) {
        for (k, v) in fields {
            if k.starts_with("sys_") {
                continue;
            }
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Object(o) => o
                    .get("value")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string()),
                other => other.to_string(),
            };
            let value = match REFERENCES.iter().find(|(f, _)| f == k) {
                Some((_, table)) if !text.is_empty() => self.reference(table, &text),
                _ => json!(text),
            };
            rec.insert(k.clone(), value);
        }
    }
}

/// ServiceNow's error body.
fn sn_error(status: StatusCode, message: &str, detail: Option<&str>) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "detail": detail}, "status": "failure"})),
    )
        .into_response()
}

fn not_found() -> Response {
    sn_error(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some("Record doesn't exist or ACL restricts the record retrieval"),
    )
}

/// Injected faults in ServiceNow's error shape (429 adds the rate-limit headers).
pub(crate) fn render_fault(status: StatusCode) -> Response {
    let (message, detail) = match status.as_u16() {
        429 => (
            "Rate limit exceeded",
            "Too many requests for rule 'dayone-sandbox'. Retry later.",
        ),
        401 => (
            "User Not Authenticated",
            "Required to provide Auth information",
        ),
        403 => ("User Not Authorized", "Failed API level ACL Validation"),
        404 => (
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        ),
        503 => (
            "Service Unavailable",
            "The instance is unavailable or hibernating.",
        ),
        504 => (
            "Gateway Timeout",
            "The transaction was cancelled because it took too long.",
        ),
        _ => (
            "Internal Server Error",
            "An unexpected error occurred while processing the request.",
        ),
    };
    let mut r = sn_error(status, message, Some(detail));
    if status == StatusCode::TOO_MANY_REQUESTS {
        let reset = Utc::now().timestamp() + 3600;
        let h = r.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("1000"));
        h.insert("x-ratelimit-reset", HeaderValue::from(reset));
        h.insert(
            "x-ratelimit-rule",
            HeaderValue::from_static("dayone-sandbox"),
        );
    }
    r
}

#[derive(Clone)]
struct Caller(String);

async fn require_auth(State(st): State<Shared>, mut req: Request, next: Next) -> Response {
    let caller = {
        let mut s = lock(&st);
        if let Some((user, pass)) = util::basic_auth(req.headers()) {
            (user == s.cfg.username && util::same_secret(&pass, &s.cfg.password)).then_some(user)
        } else if let Some(token) = util::bearer(req.headers()) {
            match s.tokens.get(&token).copied() {
                Some(exp) if exp > Instant::now() => Some(s.cfg.username.clone()),
                Some(_) => {
                    s.tokens.remove(&token);
                    None
                }
                None => None,
            }
        } else {
            None
        }
    };
    match caller {
        Some(user) => {
            req.extensions_mut().insert(Caller(user));
            next.run(req).await
        }
        None => sn_error(
            StatusCode::UNAUTHORIZED,
            "User Not Authenticated",
            Some("Required to provide Auth information"),
        ),
    }
}

pub(crate) fn router(st: Shared) -> Router {
    let api = Router::new()
        .route("/api/now/table/{table}", get(list).post(create))
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(read).patch(update).put(update).delete(remove),
        )
        .route(
            "/api/sn_sc/servicecatalog/items/{item}/order_now",
            post(order_now),
        )
        .route(
            "/api/sn_sc/servicecatalog/cart/submit_order",
            post(submit_order),
        )
        .route_layer(middleware::from_fn_with_state(st.clone(), require_auth));
    Router::new()
        .route("/oauth_token.do", post(oauth_token))
        .merge(api)
        .fallback(|| async {
            sn_error(
                StatusCode::BAD_REQUEST,
                "Requested URI does not represent any resource",
                None,
            )
        })
        .with_state(st)
}

fn check_table(table: &str) -> Result<(), Response> {
    if TABLES.iter().any(|(t, _)| *t == table) {
        Ok(())
    } else {
        Err(sn_error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid table {table}"),
            None,
        ))
    }
}

fn field_text(rec: &Map<String, Value>, field: &str) -> String {
    match rec.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(o)) => o
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// One condition of an encoded query.
fn condition_matches(rec: &Map<String, Value>, cond: &str) -> bool {
    let split = cond
        .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'))
        .unwrap_or(cond.len());
    let (field, rest) = cond.split_at(split);
    let actual = field_text(rec, field);
    if let Some(v) = rest.strip_prefix("!=") {
        actual != v
    } else if let Some(v) = rest.strip_prefix('=') {
        actual == v
    } else if let Some(v) = rest.strip_prefix("STARTSWITH") {
        actual.starts_with(v)
    } else if let Some(v) = rest.strip_prefix("LIKE") {
        actual.to_lowercase().contains(&v.to_lowercase())
    } else if rest == "ISEMPTY" {
        actual.is_empty()
    } else if rest == "ISNOTEMPTY" {
        !actual.is_empty()
    } else {
        // Like ServiceNow with glide.invalid_query.returns_no_rows=true: an unknown
        // condition matches nothing rather than everything.
        false
    }
}

/// `a=1^b=2^ORc=3^NQd=4`: `^` is AND, `^OR` is OR with the previous condition, `^NQ`
/// starts a new query OR-ed with the others. `ORDERBY…` terms do not filter.
fn query_matches(rec: &Map<String, Value>, query: &str) -> bool {
    query.split("^NQ").any(|group| {
        let mut clauses: Vec<Vec<&str>> = Vec::new();
        for term in group.split('^').filter(|t| !t.is_empty()) {
            if term.starts_with("ORDERBY") || term == "EQ" {
                continue;
            }
            match term.strip_prefix("OR") {
                Some(alt) if !clauses.is_empty() => {
                    if let Some(last) = clauses.last_mut() {
                        last.push(alt);
                    }
                }
                _ => clauses.push(vec![term]),
            }
        }
        clauses
            .iter()
            .all(|alts| alts.iter().any(|c| condition_matches(rec, c)))
    })
}

fn present(rec: &Map<String, Value>, q: &HashMap<String, String>) -> Value {
    let plain = q
        .get("sysparm_exclude_reference_link")
        .is_some_and(|v| v == "true");
    let mut out = Map::new();
    let fields: Option<Vec<&str>> = q.get("sysparm_fields").map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    let keys: Vec<String> = match fields {
        Some(f) => f.into_iter().map(str::to_owned).collect(),
        None => rec.keys().cloned().collect(),
    };
    for k in keys {
        let v = rec.get(&k).cloned().unwrap_or(json!(""));
        let v = match v {
            Value::Object(o) if plain => o.get("value").cloned().unwrap_or(json!("")),
            v => v,
        };
        out.insert(k, v);
    }
    Value::Object(out)
}

fn query_of(raw: Option<String>) -> HashMap<String, String> {
    util::form(raw.unwrap_or_default().as_bytes())
}

fn json_body(body: &Bytes) -> Result<Map<String, Value>, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(sn_error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            Some("The payload is not valid JSON."),
        )),
    }
}

async fn list(
    State(st): State<Shared>,
    Path(table): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(r) = check_table(&table) {
        return r;
    }
    let q = query_of(raw);
    let limit = q
        .get("sysparm_limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(10_000);
    let offset = q
        .get("sysparm_offset")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let s = lock(&st);
    let rows = s.tables.get(&table).map(Vec::as_slice).unwrap_or_default();
    let matched: Vec<&Map<String, Value>> = rows
        .iter()
        .filter(|r| {
            q.get("sysparm_query")
                .is_none_or(|query| query_matches(r, query))
        })
        .collect();
    let total = matched.len();
    let result: Vec<Value> = matched
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| present(r, &q))
        .collect();
    let mut r = (StatusCode::OK, axum::Json(json!({"result": result}))).into_response();
    r.headers_mut()
        .insert("x-total-count", HeaderValue::from(total));
    r
}

async fn create(
    State(st): State<Shared>,
    Path(table): Path<String>,
    RawQuery(raw): RawQuery,
    axum::Extension(Caller(user)): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_table(&table) {
        return r;
    }
    let fields = match json_body(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let q = query_of(raw);
    let mut s = lock(&st);
    let rec = s.insert(&table, &fields, &user);
    let location = format!(
        "{}/api/now/table/{table}/{}",
        s.base,
        field_text(&rec, "sys_id")
    );
    let mut r = (
        StatusCode::CREATED,
        axum::Json(json!({"result": present(&rec, &q)})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

async fn read(
    State(st): State<Shared>,
    Path((table, sys_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(r) = check_table(&table) {
        return r;
    }
    let q = query_of(raw);
    let s = lock(&st);
    match s
        .tables
        .get(&table)
        .and_then(|rows| rows.iter().find(|r| field_text(r, "sys_id") == sys_id))
    {
        Some(rec) => (
            StatusCode::OK,
            axum::Json(json!({"result": present(rec, &q)})),
        )
            .into_response(),
        None => not_found(),
    }
}

async fn update(
    State(st): State<Shared>,
    Path((table, sys_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    axum::Extension(Caller(user)): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    if let Err(r) = check_table(&table) {
        return r;
    }
    let fields = match json_body(&body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let q = query_of(raw);
    let mut guard = lock(&st);
    let s = &mut *guard;
    let Some(idx) = s
        .tables
        .get(&table)
        .and_then(|rows| rows.iter().position(|r| field_text(r, "sys_id") == sys_id))
    else {
        return not_found();
    };
    let mut rec = s.tables[&table][idx].clone();
    s.apply(&mut rec, &fields);
    let mods = field_text(&rec, "sys_mod_count")
        .parse::<u64>()
        .unwrap_or(0)
        + 1;
    rec.insert("sys_mod_count".into(), json!(mods.to_string()));
    rec.insert("sys_updated_on".into(), json!(glide_now()));
    rec.insert("sys_updated_by".into(), json!(user));
    if let Some(rows) = s.tables.get_mut(&table) {
        rows[idx] = rec.clone();
    }
    (
        StatusCode::OK,
        axum::Json(json!({"result": present(&rec, &q)})),
    )
        .into_response()
}

async fn remove(
    State(st): State<Shared>,
    Path((table, sys_id)): Path<(String, String)>,
) -> Response {
    if let Err(r) = check_table(&table) {
        return r;
    }
    let mut s = lock(&st);
    let Some(rows) = s.tables.get_mut(&table) else {
        return not_found();
    };
    let before = rows.len();
    rows.retain(|r| field_text(r, "sys_id") != sys_id);
    if rows.len() == before {
        return not_found();
    }
    StatusCode::NO_CONTENT.into_response()
}

fn quantity(v: Option<&Value>) -> Option<u32> {
    match v {
        None => Some(1),
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    }
    .filter(|q| *q > 0)
}

/// Creates the request and one requested item per cart line; returns the catalog response.
fn place_order(s: &mut ServiceNowState, lines: Vec<CartItem>, user: &str) -> Value {
    let requested_for = lines
        .iter()
        .find_map(|l| l.requested_for.clone())
        .unwrap_or_default();
    let names: Vec<String> = lines
        .iter()
        .map(|l| {
            s.cfg
                .catalog_items
                .iter()
                .find(|c| c.sys_id == l.item)
                .map(|c| c.name.clone())
                .unwrap_or_default()
        })
        .collect();
    let mut req = Map::new();
    req.insert("short_description".into(), json!(names.join(", ")));
    req.insert("requested_for".into(), json!(requested_for));
    req.insert("opened_by".into(), json!(user));
    req.insert("request_state".into(), json!("requested"));
    req.insert("stage".into(), json!("requested"));
    req.insert("approval".into(), json!("approved"));
    let req = s.insert("sc_request", &req, user);
    let req_id = field_text(&req, "sys_id");
    let req_number = field_text(&req, "number");
    for (line, name) in lines.into_iter().zip(names) {
        let mut item = Map::new();
        item.insert("request".into(), json!(req_id));
        item.insert("cat_item".into(), json!(line.item));
        item.insert("quantity".into(), json!(line.quantity.to_string()));
        item.insert("short_description".into(), json!(name));
        item.insert("requested_for".into(), json!(requested_for));
        item.insert("stage".into(), json!("request_approved"));
        let ritm = s.insert("sc_req_item", &item, user);
        s.variables
            .insert(field_text(&ritm, "sys_id"), line.variables);
    }
    json!({
        "sys_id": req_id,
        "number": req_number,
        "request_number": req_number,
        "request_id": req_id,
        "table": "sc_request",
    })
}

async fn order_now(
    State(st): State<Shared>,
    Path(item): Path<String>,
    axum::Extension(Caller(user)): axum::Extension<Caller>,
    body: Bytes,
) -> Response {
    let body = match json_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut s = lock(&st);
    if !s.cfg.catalog_items.iter().any(|c| c.sys_id == item) {
        return sn_error(
            StatusCode::NOT_FOUND,
            "No Record found",
            Some(&format!(
                "Catalog item {item} does not exist or is not available"
            )),
        );
    }
    let Some(quantity) = quantity(body.get("sysparm_quantity")) else {
        return sn_error(
            StatusCode::BAD_REQUEST,
            "Invalid quantity",
            Some("sysparm_quantity must be a positive whole number"),
        );
    };
    let line = CartItem {
        item,
        quantity,
        variables: body.get("variables").cloned().unwrap_or(json!({})),
        requested_for: body
            .get("sysparm_requested_for")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let result = if s.cfg.two_step_checkout {
        s.cart.push(line);
        json!({"cart_id": s.cart_id, "cart_item_id": util::hex_id()})
    } else {
        place_order(&mut s, vec![line], &user)
    };
    (StatusCode::OK, axum::Json(json!({"result": result}))).into_response()
}

async fn submit_order(
    State(st): State<Shared>,
    axum::Extension(Caller(user)): axum::Extension<Caller>,
) -> Response {
    let mut s = lock(&st);
    if s.cart.is_empty() {
        return sn_error(
            StatusCode::BAD_REQUEST,
            "Cart is empty!",
            Some("Add an item before submitting the order."),
        );
    }
    let lines = std::mem::take(&mut s.cart);
    s.cart_id = util::hex_id();
    let result = place_order(&mut s, lines, &user);
    (StatusCode::OK, axum::Json(json!({"result": result}))).into_response()
}

fn oauth_denied() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error_description": "access_denied", "error": "server_error"})),
    )
        .into_response()
}

async fn oauth_token(State(st): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    if !util::content_type(&headers).starts_with("application/x-www-form-urlencoded") {
        return oauth_denied();
    }
    let form = util::form(&body);
    let mut s = lock(&st);
    let client_ok = form.get("client_id") == Some(&s.cfg.client_id)
        && form
            .get("client_secret")
            .is_some_and(|c| util::same_secret(c, &s.cfg.client_secret));
    if !client_ok {
        return oauth_denied();
    }
    let granted = match form.get("grant_type").map(String::as_str) {
        Some("password") => {
            form.get("username") == Some(&s.cfg.username)
                && form
                    .get("password")
                    .is_some_and(|p| util::same_secret(p, &s.cfg.password))
        }
        Some("refresh_token") => form
            .get("refresh_token")
            .is_some_and(|r| s.refresh_tokens.contains(r)),
        _ => false,
    };
    if !granted {
        return oauth_denied();
    }
    let access = util::random_alnum(86);
    let refresh = util::random_alnum(86);
    s.tokens
        .insert(access.clone(), Instant::now() + TOKEN_LIFETIME);
    s.refresh_tokens.push(refresh.clone());
    (
        StatusCode::OK,
        axum::Json(json!({
            "access_token": access,
            "refresh_token": refresh,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME.as_secs(),
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn encoded_queries_follow_and_or_semantics() {
        let r = rec(
            json!({"correlation_id":"joiner:E1:laptop","active":"true","state":"1",
            "request":{"link":"x","value":"abc"}}),
        );
        assert!(query_matches(
            &r,
            "correlation_id=joiner:E1:laptop^active=true"
        ));
        assert!(!query_matches(
            &r,
            "correlation_id=joiner:E2:laptop^active=true"
        ));
        assert!(query_matches(&r, "state=2^ORstate=1"));
        assert!(query_matches(&r, "request=abc^ORDERBYDESCsys_created_on"));
        assert!(query_matches(&r, "state=9^NQactive=true"));
        assert!(!query_matches(&r, "active=false"));
        assert!(!query_matches(&r, "stateWEIRD1"));
    }

    #[test]
    fn quantities_accept_strings_and_numbers() {
        assert_eq!(quantity(Some(&json!("2"))), Some(2));
        assert_eq!(quantity(Some(&json!(3))), Some(3));
        assert_eq!(quantity(None), Some(1));
        assert_eq!(quantity(Some(&json!("0"))), None);
        assert_eq!(quantity(Some(&json!("two"))), None);
    }
}
