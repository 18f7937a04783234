//! Twin of a Jira Service Management Cloud site: customer requests
//! (`/rest/servicedeskapi/request`) and the enhanced JQL search (`/rest/api/3/search/jql`)
//! clients use to find a request they already raised, behind Basic `email:api_token`.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::JiraConfig;
use crate::util;

/// A customer request the Jira twin holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JiraIssue {
    /// `issueId`.
    pub id: String,
    /// `issueKey` (e.g. `HELPDESK-1`).
    pub key: String,
    /// `serviceDeskId`.
    pub service_desk_id: String,
    /// `requestTypeId`.
    pub request_type_id: String,
    /// Summary.
    pub summary: String,
    /// Labels.
    pub labels: Vec<String>,
    /// `raiseOnBehalfOf`, as sent.
    pub raise_on_behalf_of: Option<String>,
    /// `requestFieldValues` exactly as sent.
    pub request_field_values: Value,
    /// Creation time (RFC 3339).
    pub created: String,
}

pub(crate) struct JiraState {
    pub(crate) base: String,
    cfg: JiraConfig,
    issues: Vec<JiraIssue>,
    next_id: u64,
}

impl fmt::Debug for JiraState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JiraState")
            .field("issues", &self.issues.len())
            .finish_non_exhaustive()
    }
}

pub(crate) type Shared = Arc<Mutex<JiraState>>;

pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, JiraState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl JiraState {
    pub(crate) fn new(cfg: JiraConfig) -> Self {
        Self {
            base: String::new(),
            cfg,
            issues: Vec::new(),
            next_id: 10_000,
        }
    }

    pub(crate) fn issues(&self) -> Vec<JiraIssue> {
        self.issues.clone()
    }

    pub(crate) fn api_token(&self) -> &str {
        &self.cfg.api_token
    }

    pub(crate) fn snapshot(&self) -> Value {
        json!({"requests": self.issues})
    }
}

fn sd_error(status: StatusCode, message: &str, key: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "errorMessage": message,
            "i18nErrorMessage": {"i18nKey": key, "parameters": []},
        })),
    )
        .into_response()
}

fn platform_error(status: StatusCode, messages: &[&str]) -> Response {
    (
        status,
        axum::Json(json!({"errorMessages": messages, "errors": {}})),
    )
        .into_response()
}

/// Injected faults in the platform error shape; 429 adds Atlassian's rate-limit headers.
pub(crate) fn render_fault(status: StatusCode) -> Response {
    let msg = match status.as_u16() {
        429 => "Rate limit exceeded.",
        401 => "Client must be authenticated to access this resource.",
        403 => "You do not have permission to perform this operation.",
        404 => "Issue does not exist or you do not have permission to see it.",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Internal server error",
    };
    let mut r = platform_error(status, &[msg]);
    if status == StatusCode::TOO_MANY_REQUESTS {
        let reset = (Utc::now() + chrono::Duration::seconds(60))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let h = r.headers_mut();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        if let Ok(v) = HeaderValue::from_str(&reset) {
            h.insert("x-ratelimit-reset", v);
        }
        h.insert(
            "ratelimit-reason",
            HeaderValue::from_static("jira-burst-based"),
        );
    }
    r
}

async fn require_auth(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let creds = util::basic_auth(req.headers());
    let ok = {
        let s = lock(&st);
        creds.as_ref().is_some_and(|(u, p)| {
            u.eq_ignore_ascii_case(&s.cfg.email) && util::same_secret(p, &s.cfg.api_token)
        })
    };
    if ok {
        return next.run(req).await;
    }
    let mut r = (
        StatusCode::UNAUTHORIZED,
        "Client must be authenticated to access this resource.",
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain;charset=UTF-8"),
    );
    if creds.is_some() {
        r.headers_mut().insert(
            "x-seraph-loginreason",
            HeaderValue::from_static("AUTHENTICATED_FAILED"),
        );
    }
    r
}

/// Atlassian's per-request id headers.
pub(crate) async fn decorate(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&util::hex_id()) {
        r.headers_mut().insert("atl-traceid", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{}x1x1", util::random_alnum(8))) {
        r.headers_mut().insert("x-arequestid", v);
    }
    r
}

pub(crate) fn router(st: Shared) -> Router {
    let removed = || async {
        platform_error(
            StatusCode::GONE,
            &[
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
            ],
        )
    };
    Router::new()
        .route("/rest/servicedeskapi/request", post(create_request))
        .route("/rest/servicedeskapi/request/{key}", get(get_request))
        .route("/rest/api/3/search/jql", get(search_get).post(search_post))
        .route("/rest/api/3/search", get(removed).post(removed))
        .route("/rest/api/2/search", get(removed).post(removed))
        .route_layer(middleware::from_fn_with_state(st.clone(), require_auth))
        .fallback(|| async {
            platform_error(
                StatusCode::NOT_FOUND,
                &["null for uri: the resource does not exist"],
            )
        })
        .with_state(st)
}

fn field_label(id: &str) -> String {
    match id {
        "summary" => "Summary".into(),
        "description" => "Description".into(),
        "labels" => "Labels".into(),
        "priority" => "Priority".into(),
        "duedate" => "Due date".into(),
        other => other.to_owned(),
    }
}

fn date_json(t: DateTime<Utc>) -> Value {
    json!({
        "iso8601": t.format("%Y-%m-%dT%H:%M:%S%z").to_string(),
        "jira": t.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string(),
        "friendly": t.format("Today %-I:%M %p").to_string(),
        "epochMillis": t.timestamp_millis(),
    })
}

fn person(who: &str) -> Value {
    let is_email = who.contains('@');
    json!({
        "accountId": if is_email { format!("qm:{}", uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, who.as_bytes())) } else { who.to_owned() },
        "emailAddress": if is_email { Value::String(who.to_owned()) } else { Value::Null },
        "displayName": who.split('@').next().unwrap_or(who),
        "active": true,
        "timeZone": "Etc/UTC",
    })
}

fn request_json(base: &str, i: &JiraIssue, reporter: &str) -> Value {
    let created = DateTime::parse_from_rfc3339(&i.created)
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now());
    let values: Vec<Value> = i
        .request_field_values
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| json!({"fieldId": k, "label": field_label(k), "value": v}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "_expands": ["participant", "status", "sla", "requestType", "serviceDesk", "attachment", "action", "comment"],
        "issueId": i.id,
        "issueKey": i.key,
        "requestTypeId": i.request_type_id,
        "serviceDeskId": i.service_desk_id,
        "createdDate": date_json(created),
        "reporter": person(i.raise_on_behalf_of.as_deref().unwrap_or(reporter)),
        "requestFieldValues": values,
        "currentStatus": {
            "status": "Waiting for support",
            "statusCategory": "NEW",
            "statusDate": date_json(created),
        },
        "_links": {
            "jiraRest": format!("{base}/rest/api/2/issue/{}", i.id),
            "web": format!("{base}/servicedesk/customer/portal/{}/{}", i.service_desk_id, i.key),
            "self": format!("{base}/rest/servicedeskapi/request/{}", i.id),
            "agent": format!("{base}/browse/{}", i.key),
        },
    })
}

fn id_text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

async fn create_request(State(st): State<Shared>, body: Bytes) -> Response {
    let bad = StatusCode::BAD_REQUEST;
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&body) else {
        return sd_error(
            bad,
            "The request body could not be parsed as JSON.",
            "sd.request.body.invalid",
        );
    };
    let mut s = lock(&st);
    let Some(desk_id) = id_text(body.get("serviceDeskId")) else {
        return sd_error(
            bad,
            "The serviceDeskId is required.",
            "sd.customer.request.error.service.desk.id.required",
        );
    };
    let Some(desk) = s
        .cfg
        .service_desks
        .iter()
        .find(|d| d.id == desk_id)
        .cloned()
    else {
        return sd_error(
            bad,
            &format!(
                "The service desk with ID {desk_id} does not exist or you do not have permission to access it."
            ),
            "sd.customer.request.error.service.desk.not.found",
        );
    };
    let Some(type_id) = id_text(body.get("requestTypeId")) else {
        return sd_error(
            bad,
            "The requestTypeId is required.",
            "sd.customer.request.error.request.type.id.required",
        );
    };
    if !desk.request_types.iter().any(|(id, _)| *id == type_id) {
        return sd_error(
            bad,
            &format!(
                "The request type with ID {type_id} does not exist in service desk {desk_id} or you do not have permission to use it."
            ),
            "sd.customer.request.error.request.type.not.found",
        );
    }
    let fields: Map<String, Value> = body
        .get("requestFieldValues")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let summary = fields
        .get("summary")
        .and_then(Value::as_str)
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if summary.is_empty() {
        return sd_error(
            bad,
            "Your request could not be created. Please check the fields have been correctly filled in. Summary: You must specify a summary of the issue.",
            "sd.validation.error.summary.required",
        );
    }
    if summary.chars().count() > 255 {
        return sd_error(
            bad,
            "Summary: Summary must be less than 255 characters.",
            "sd.validation.error.summary.length",
        );
    }
    let labels: Vec<String> = match fields.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(_) => {
            return sd_error(
                bad,
                "Labels: the value must be an array of strings.",
                "sd.validation.error.labels",
            );
        }
    };
    if let Some(l) = labels
        .iter()
        .find(|l| l.is_empty() || l.contains(char::is_whitespace) || l.chars().count() > 255)
    {
        return sd_error(
            bad,
            &format!("Labels: The label '{l}' contains spaces which is invalid."),
            "sd.validation.error.labels",
        );
    }
    s.next_id += 1;
    let number = s
        .issues
        .iter()
        .filter(|i| i.service_desk_id == desk.id)
        .count()
        + 1;
    let issue = JiraIssue {
        id: s.next_id.to_string(),
        key: format!("{}-{number}", desk.project_key),
        service_desk_id: desk.id.clone(),
        request_type_id: type_id,
        summary,
        labels,
        raise_on_behalf_of: body
            .get("raiseOnBehalfOf")
            .and_then(Value::as_str)
            .map(str::to_owned),
        request_field_values: Value::Object(fields),
        created: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    };
    let reporter = s.cfg.email.clone();
    let out = request_json(&s.base, &issue, &reporter);
    s.issues.push(issue);
    (StatusCode::CREATED, axum::Json(out)).into_response()
}

async fn get_request(State(st): State<Shared>, Path(key): Path<String>) -> Response {
    let s = lock(&st);
    match s
        .issues
        .iter()
        .find(|i| i.id == key || i.key.eq_ignore_ascii_case(&key))
    {
        Some(i) => (
            StatusCode::OK,
            axum::Json(request_json(&s.base, i, &s.cfg.email)),
        )
            .into_response(),
        None => sd_error(
            StatusCode::NOT_FOUND,
            "Request does not exist or you do not have permission to see it.",
            "sd.customer.request.error.not.found",
        ),
    }
}

/// One JQL condition the twin understands.
#[derive(Debug, PartialEq, Eq)]
struct Clause {
    field: String,
    values: Vec<String>,
}

fn jql_value(chars: &[char], i: &mut usize) -> Option<String> {
    while *i < chars.len() && chars[*i].is_whitespace() {
        *i += 1;
    }
    let quote = *chars.get(*i)?;
    if quote == '"' || quote == '\'' {
        *i += 1;
        let mut out = String::new();
        while let Some(&c) = chars.get(*i) {
            *i += 1;
            match c {
                '\\' => {
                    out.push(*chars.get(*i)?);
                    *i += 1;
                }
                c if c == quote => return Some(out),
                c => out.push(c),
            }
        }
        None
    } else {
        let start = *i;
        while *i < chars.len()
            && !chars[*i].is_whitespace()
            && !matches!(chars[*i], ',' | ')' | '(')
        {
            *i += 1;
        }
        (*i > start).then(|| chars[start..*i].iter().collect())
    }
}

/// `labels = "x" AND project = HELPDESK`, `labels in (a, "b")`, `key = HELPDESK-1`,
/// optionally followed by `ORDER BY …`.
fn parse_jql(jql: &str) -> Result<Vec<Clause>, String> {
    let upper = jql.to_ascii_uppercase();
    let body = match upper.find("ORDER BY") {
        Some(pos) => &jql[..pos],
        None => jql,
    };
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let mut clauses = Vec::new();
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
            i += 1;
        }
        let field: String = chars[start..i].iter().collect::<String>().to_lowercase();
        if !matches!(field.as_str(), "labels" | "project" | "key" | "issuekey") {
            return Err(format!(
                "Field '{field}' is not supported by this search. Use labels, project or key."
            ));
        }
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        let values = if chars.get(i) == Some(&'=') {
            i += 1;
            vec![jql_value(&chars, &mut i).ok_or("Expecting a value after '='.")?]
        } else if chars.len() >= i + 2
            && chars[i..i + 2]
                .iter()
                .collect::<String>()
                .eq_ignore_ascii_case("in")
        {
            i += 2;
            while i < chars.len() && chars[i].is_whitespace() {
                i += 1;
            }
            if chars.get(i) != Some(&'(') {
                return Err("Expecting '(' after 'in'.".into());
            }
            i += 1;
            let mut vals = Vec::new();
            loop {
                vals.push(jql_value(&chars, &mut i).ok_or("Expecting a value in the list.")?);
                while i < chars.len() && chars[i].is_whitespace() {
                    i += 1;
                }
                match chars.get(i) {
                    Some(',') => i += 1,
                    Some(')') => {
                        i += 1;
                        break;
                    }
                    _ => return Err("Expecting ',' or ')' in the list.".into()),
                }
            }
            vals
        } else {
            return Err(format!(
                "Expecting operator '=' or 'in' after field '{field}'."
            ));
        };
        let field = if field == "issuekey" {
            "key".to_owned()
        } else {
            field
        };
        clauses.push(Clause { field, values });
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let rest: String = chars[i..].iter().take(3).collect();
        if rest.eq_ignore_ascii_case("and") {
            i += 3;
        } else {
            return Err("Only AND between clauses is supported.".into());
        }
    }
    if clauses.is_empty() {
        return Err("The JQL query is empty; add a condition such as labels = \"…\".".into());
    }
    Ok(clauses)
}

fn clause_matches(c: &Clause, issue: &JiraIssue, desks: &JiraConfig) -> bool {
    c.values.iter().any(|v| match c.field.as_str() {
        // Jira labels match case-sensitively.
        "labels" => issue.labels.iter().any(|l| l == v),
        "key" => issue.key.eq_ignore_ascii_case(v),
        "project" => desks
            .service_desks
            .iter()
            .any(|d| d.id == issue.service_desk_id && d.project_key.eq_ignore_ascii_case(v)),
        _ => false,
    })
}

fn issue_fields(base: &str, issue: &JiraIssue, project: &str, wanted: &[String]) -> Value {
    let all = wanted.iter().any(|w| w == "*all" || w == "*navigable");
    let want = |f: &str| all || wanted.iter().any(|w| w == f);
    let mut out = Map::new();
    if want("summary") {
        out.insert("summary".into(), json!(issue.summary));
    }
    if want("labels") {
        out.insert("labels".into(), json!(issue.labels));
    }
    if want("status") {
        out.insert(
            "status".into(),
            json!({"name": "Waiting for support", "statusCategory": {"key": "new"}}),
        );
    }
    if want("created") {
        out.insert("created".into(), json!(issue.created));
    }
    if want("project") {
        out.insert(
            "project".into(),
            json!({"key": project, "self": format!("{base}/rest/api/3/project/{project}")}),
        );
    }
    if want("description") {
        out.insert(
            "description".into(),
            issue
                .request_field_values
                .get("description")
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    Value::Object(out)
}

fn search(st: &Shared, jql: &str, fields: Vec<String>, max: usize) -> Response {
    let clauses = match parse_jql(jql) {
        Ok(c) => c,
        Err(e) => {
            return platform_error(
                StatusCode::BAD_REQUEST,
                &[&format!("Error in the JQL Query: {e}")],
            );
        }
    };
    let s = lock(st);
    let issues: Vec<Value> = s
        .issues
        .iter()
        .filter(|i| clauses.iter().all(|c| clause_matches(c, i, &s.cfg)))
        .take(max)
        .map(|i| {
            let project = i.key.rsplit_once('-').map(|(p, _)| p).unwrap_or_default();
            json!({
                "id": i.id,
                "key": i.key,
                "self": format!("{}/rest/api/3/issue/{}", s.base, i.id),
                "fields": issue_fields(&s.base, i, project, &fields),
            })
        })
        .collect();
    (
        StatusCode::OK,
        axum::Json(json!({"issues": issues, "isLast": true})),
    )
        .into_response()
}

async fn search_get(State(st): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let q = util::form(raw.unwrap_or_default().as_bytes());
    let Some(jql) = q.get("jql") else {
        return platform_error(
            StatusCode::BAD_REQUEST,
            &["The 'jql' parameter is required; unbounded searches are not allowed."],
        );
    };
    let fields = q
        .get("fields")
        .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default();
    let max = q
        .get("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(50);
    search(&st, jql, fields, max)
}

async fn search_post(State(st): State<Shared>, body: Bytes) -> Response {
    let Ok(Value::Object(b)) = serde_json::from_slice::<Value>(&body) else {
        return platform_error(
            StatusCode::BAD_REQUEST,
            &["The request body could not be parsed as JSON."],
        );
    };
    let Some(jql) = b.get("jql").and_then(Value::as_str) else {
        return platform_error(
            StatusCode::BAD_REQUEST,
            &["The 'jql' field is required; unbounded searches are not allowed."],
        );
    };
    let fields = b
        .get("fields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let max = b
        .get("maxResults")
        .and_then(Value::as_u64)
        .map_or(50, |m| m as usize);
    search(&st, jql, fields, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jql_accepts_quoted_bare_and_in_lists() {
        let c =
            parse_jql(r#"labels = "joiner-EVT-1" AND project = HELPDESK ORDER BY created DESC"#)
                .unwrap();
        assert_eq!(
            c[0],
            Clause {
                field: "labels".into(),
                values: vec!["joiner-EVT-1".into()]
            }
        );
        assert_eq!(c[1].values, vec!["HELPDESK".to_owned()]);
        let c = parse_jql("labels = joiner-1").unwrap();
        assert_eq!(c[0].values, vec!["joiner-1".to_owned()]);
        let c = parse_jql(r#"labels in (a, "b \"c\"")"#).unwrap();
        assert_eq!(c[0].values, vec!["a".to_owned(), "b \"c\"".to_owned()]);
    }

    #[test]
    fn unsupported_jql_is_refused_with_a_reason() {
        assert!(parse_jql("summary ~ laptop").is_err());
        assert!(parse_jql("labels = a OR labels = b").is_err());
        assert!(parse_jql("labels = \"open").is_err());
        assert!(parse_jql("").is_err());
    }
}
