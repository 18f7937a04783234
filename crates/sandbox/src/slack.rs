//! Twin of the Slack Web API methods dayone calls: `users.lookupByEmail`,
//! `conversations.open`, `chat.postMessage` (and `auth.test`). Like Slack, failures are
//! HTTP 200 with `{"ok":false,"error":…}`; only rate limiting is a 429.

// Helpers return the ready-to-send error response as `Err`; these are cold paths on a
// local twin, so the size of `Response` in a `Result` does not matter.
#![allow(clippy::result_large_err)]
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::{SlackConfig, SlackUser};
use crate::util;

const TEAM_ID: &str = "T0SANDBOX";
const BOT_USER: &str = "U0DAYONEBOT";
const BOT_ID: &str = "B0DAYONE";
const MAX_TEXT: usize = 40_000;

/// A message the bot posted.
#[derive(Clone, PartialEq, Serialize)]
pub struct SlackMessage {
    /// Channel id it landed in (`D…` for a DM).
    pub channel: String,
    /// For a DM, the member it was sent to.
    pub dm_user: Option<String>,
    /// `text` exactly as sent (it may hold a TAP: do not print it).
    pub text: String,
    /// `blocks` as sent, `null` when absent.
    pub blocks: Value,
    /// Message timestamp id.
    pub ts: String,
    /// `thread_ts`, when replying in a thread.
    pub thread_ts: Option<String>,
}

impl fmt::Debug for SlackMessage {
    // The text may carry a pass; Debug output must not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackMessage")
            .field("channel", &self.channel)
            .field("dm_user", &self.dm_user)
            .field(
                "text",
                &format_args!("[{} chars]", self.text.chars().count()),
            )
            .field(
                "blocks",
                &format_args!("[{} blocks]", self.blocks.as_array().map_or(0, Vec::len)),
            )
            .field("ts", &self.ts)
            .field("thread_ts", &self.thread_ts)
            .finish()
    }
}

pub(crate) struct SlackState {
    cfg: SlackConfig,
    dms: BTreeMap<String, String>,
    messages: Vec<SlackMessage>,
    seq: u64,
}

impl fmt::Debug for SlackState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlackState")
            .field("dms", &self.dms.len())
            .field("messages", &self.messages.len())
            .finish_non_exhaustive()
    }
}

pub(crate) type Shared = Arc<Mutex<SlackState>>;

pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, SlackState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl SlackState {
    pub(crate) fn new(cfg: SlackConfig) -> Self {
        Self {
            cfg,
            dms: BTreeMap::new(),
            messages: Vec::new(),
            seq: 0,
        }
    }

    pub(crate) fn add_user(&mut self, user: SlackUser) {
        self.cfg.users.retain(|u| u.id != user.id);
        self.cfg.users.push(user);
    }

    pub(crate) fn messages(&self) -> Vec<SlackMessage> {
        self.messages.clone()
    }

    pub(crate) fn bot_token(&self) -> &str {
        &self.cfg.bot_token
    }

    pub(crate) fn snapshot(&self) -> Value {
        let dms: Vec<Value> = self
            .dms
            .iter()
            .map(|(user, channel)| json!({"user": user, "channel": channel}))
            .collect();
        json!({"directMessageChannels": dms, "messages": self.messages})
    }

    fn dm_channel(&mut self, user: &str) -> (String, bool) {
        if let Some(c) = self.dms.get(user) {
            return (c.clone(), true);
        }
        let id = format!("D{}", util::random_alnum(10).to_ascii_uppercase());
        self.dms.insert(user.to_owned(), id.clone());
        (id, false)
    }
}

fn slack_json(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn slack_error(error: &str) -> Response {
    slack_json(json!({"ok": false, "error": error}))
}

/// Injected faults the way Slack sends them.
pub(crate) fn render_fault(status: StatusCode) -> Response {
    let error = match status.as_u16() {
        429 => "ratelimited",
        500 => "internal_error",
        503 => "service_unavailable",
        504 => "request_timeout",
        401 => "invalid_auth",
        _ => "fatal_error",
    };
    (status, axum::Json(json!({"ok": false, "error": error}))).into_response()
}

/// Slack's per-request id header.
pub(crate) async fn decorate(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&util::hex_id()) {
        r.headers_mut().insert("x-slack-req-id", v);
    }
    r.headers_mut().insert(
        "x-oauth-scopes",
        HeaderValue::from_static("chat:write,im:write,users:read,users:read.email"),
    );
    r
}

pub(crate) fn router(st: Shared) -> Router {
    Router::new()
        .route("/api/auth.test", post(auth_test).get(auth_test))
        .route(
            "/api/users.lookupByEmail",
            post(lookup_by_email).get(lookup_by_email),
        )
        .route("/api/conversations.open", post(conversations_open))
        .route("/api/chat.postMessage", post(post_message))
        .fallback(|req: Request| async move {
            let method = req.uri().path().trim_start_matches("/api/").to_owned();
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"ok": false, "error": "unknown_method", "req_method": method})),
            )
        })
        .with_state(st)
}

/// Arguments from the query string and the body (form or JSON), and any warning Slack adds.
struct Args {
    map: Map<String, Value>,
    token: Option<String>,
    warnings: Vec<&'static str>,
}

impl Args {
    fn text(&self, k: &str) -> Option<String> {
        match self.map.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

fn args(headers: &HeaderMap, raw_query: Option<String>, body: &Bytes) -> Result<Args, Response> {
    let mut map = Map::new();
    let query: HashMap<String, String> = util::form(raw_query.unwrap_or_default().as_bytes());
    for (k, v) in query {
        map.insert(k, json!(v));
    }
    let mut warnings = Vec::new();
    let mut token = None;
    if util::is_json(headers) {
        if !body.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(m)) => map.extend(m),
                _ => return Err(slack_error("invalid_json")),
            }
        }
        if !util::content_type(headers).contains("charset") {
            warnings.push("missing_charset");
        }
    } else {
        let form = util::form(body);
        token = form.get("token").cloned();
        for (k, v) in form {
            // Form-encoded `blocks` arrive as a JSON string.
            let value = if k == "blocks" {
                serde_json::from_str(&v).unwrap_or(Value::String(v))
            } else {
                Value::String(v)
            };
            map.insert(k, value);
        }
    }
    let token = util::bearer(headers).or(token);
    map.remove("token");
    Ok(Args {
        map,
        token,
        warnings,
    })
}

fn with_warnings(mut v: Value, warnings: &[&str]) -> Value {
    if let (Some(o), false) = (v.as_object_mut(), warnings.is_empty()) {
        o.insert("warning".into(), json!(warnings.join(",")));
        o.insert("response_metadata".into(), json!({"warnings": warnings}));
    }
    v
}

/// Parses arguments and checks the bot token; `Err` is the response to send.
fn authed(
    st: &Shared,
    headers: &HeaderMap,
    raw: Option<String>,
    body: &Bytes,
) -> Result<Args, Response> {
    let a = args(headers, raw, body)?;
    let s = lock(st);
    match &a.token {
        None => Err(slack_error("not_authed")),
        Some(t) if !util::same_secret(t, &s.cfg.bot_token) => Err(slack_error("invalid_auth")),
        Some(_) => Ok(a),
    }
}

async fn auth_test(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    match authed(&st, &headers, raw, &body) {
        Err(r) => r,
        Ok(_) => slack_json(json!({
            "ok": true, "url": "https://contoso-sandbox.slack.com/", "team": "Contoso (sandbox)",
            "user": "dayone", "team_id": TEAM_ID, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": false,
        })),
    }
}

fn user_json(u: &SlackUser) -> Value {
    let name = u.email.split('@').next().unwrap_or_default();
    json!({
        "id": u.id,
        "team_id": TEAM_ID,
        "name": name,
        "deleted": false,
        "real_name": u.real_name,
        "tz": "Europe/London",
        "is_bot": false,
        "profile": {"email": u.email, "real_name": u.real_name, "display_name": u.real_name},
    })
}

async fn lookup_by_email(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let a = match authed(&st, &headers, raw, &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(email) = a.text("email") else {
        return slack_error("invalid_arguments");
    };
    let s = lock(&st);
    match s
        .cfg
        .users
        .iter()
        .find(|u| u.email.eq_ignore_ascii_case(email.trim()))
    {
        Some(u) => slack_json(with_warnings(
            json!({"ok": true, "user": user_json(u)}),
            &a.warnings,
        )),
        None => slack_error("users_not_found"),
    }
}

async fn conversations_open(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let a = match authed(&st, &headers, raw, &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut s = lock(&st);
    if let Some(channel) = a.text("channel") {
        return match s.dms.values().find(|c| **c == channel) {
            Some(c) => slack_json(with_warnings(
                json!({"ok": true, "no_op": true, "already_open": true, "channel": {"id": c}}),
                &a.warnings,
            )),
            None => slack_error("channel_not_found"),
        };
    }
    let users: Vec<String> = a
        .text("users")
        .unwrap_or_default()
        .split(',')
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    match users.as_slice() {
        [] => slack_error("users_list_not_supplied"),
        [user] => {
            if !s.cfg.users.iter().any(|u| u.id == *user) {
                return slack_error("user_not_found");
            }
            let (channel, existed) = s.dm_channel(user);
            let body = if existed {
                json!({"ok": true, "no_op": true, "already_open": true, "channel": {"id": channel}})
            } else {
                json!({"ok": true, "channel": {"id": channel}})
            };
            slack_json(with_warnings(body, &a.warnings))
        }
        // Group DMs are out of scope for dayone.
        _ => slack_error("not_allowed_token_type"),
    }
}

async fn post_message(
    State(st): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Response {
    let a = match authed(&st, &headers, raw, &body) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(target) = a.text("channel") else {
        return slack_error("channel_not_found");
    };
    let mut s = lock(&st);
    let name = target.trim_start_matches('#');
    let (channel, dm_user) = if let Some((user, c)) = s.dms.iter().find(|(_, c)| **c == target) {
        (c.clone(), Some(user.clone()))
    } else if let Some(c) = s
        .cfg
        .channels
        .iter()
        .find(|c| c.id == target || c.name == name)
    {
        (c.id.clone(), None)
    } else if s.cfg.users.iter().any(|u| u.id == target) {
        // Posting to a member id delivers to the DM with the bot.
        let (c, _) = s.dm_channel(&target);
        (c, Some(target.clone()))
    } else {
        return slack_error("channel_not_found");
    };
    let text = a.text("text").unwrap_or_default();
    let blocks = a.map.get("blocks").cloned().unwrap_or(Value::Null);
    let has_blocks = blocks.as_array().is_some_and(|b| !b.is_empty());
    let has_attachments = a.map.get("attachments").is_some_and(|v| !v.is_null());
    if text.trim().is_empty() && !has_blocks && !has_attachments {
        return slack_error("no_text");
    }
    if text.chars().count() > MAX_TEXT {
        return slack_error("msg_too_long");
    }
    if !blocks.is_null() && !blocks.is_array() {
        return slack_error("invalid_blocks");
    }
    s.seq += 1;
    let ts = format!(
        "{}.{:06}",
        chrono::Utc::now().timestamp(),
        s.seq % 1_000_000
    );
    let thread_ts = a.text("thread_ts");
    let mut message = json!({
        "user": BOT_USER, "type": "message", "ts": ts, "bot_id": BOT_ID,
        "app_id": "A0DAYONE", "text": text, "team": TEAM_ID,
    });
    if has_blocks && let Some(m) = message.as_object_mut() {
        m.insert("blocks".into(), blocks.clone());
    }
    s.messages.push(SlackMessage {
        channel: channel.clone(),
        dm_user,
        text,
        blocks,
        ts: ts.clone(),
        thread_ts,
    });
    slack_json(with_warnings(
        json!({"ok": true, "channel": channel, "ts": ts, "message": message}),
        &a.warnings,
    ))
}
