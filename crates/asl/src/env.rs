//! What expressions evaluate against: the state input, the context object and variables.

use crate::path::{JsonPath, Root};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// AWS's timestamp format in `$$`: RFC 3339 with milliseconds and `Z`.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Workflow variables visible to a state (`Assign`). Copy-on-write so branches and Map
/// iterations get their own scope cheaply.
pub(crate) type Vars = Arc<HashMap<String, Value>>;

/// Facts about the running execution that feed the context object (`$$`).
#[derive(Debug, Clone)]
pub(crate) struct ExecInfo {
    pub id: String,
    pub name: String,
    /// Shared with the first state and the `ExecutionStarted` event instead of copied.
    pub input: Arc<Value>,
    pub start_time: String,
    pub role_arn: String,
    pub state_machine_id: String,
    pub state_machine_name: String,
}

/// The per-state part of the context object, built only when an expression reads `$$`.
pub(crate) struct Ctx<'a> {
    pub exec: &'a ExecInfo,
    pub state_name: &'a str,
    pub entered: DateTime<Utc>,
    pub retry_count: u32,
    pub map_item: Option<(usize, &'a Value)>,
    pub task_token: Option<&'a str>,
    cache: OnceLock<Value>,
}

impl<'a> Ctx<'a> {
    pub fn new(exec: &'a ExecInfo, state_name: &'a str, entered: DateTime<Utc>) -> Self {
        Ctx {
            exec,
            state_name,
            entered,
            retry_count: 0,
            map_item: None,
            task_token: None,
            cache: OnceLock::new(),
        }
    }

    /// The `$$` document, built on first use.
    pub fn value(&self) -> &Value {
        self.cache.get_or_init(|| {
            let mut root = Map::new();
            let mut ex = Map::new();
            ex.insert("Id".into(), Value::String(self.exec.id.clone()));
            ex.insert("Input".into(), Value::clone(&self.exec.input));
            ex.insert("Name".into(), Value::String(self.exec.name.clone()));
            ex.insert("RoleArn".into(), Value::String(self.exec.role_arn.clone()));
            ex.insert(
                "StartTime".into(),
                Value::String(self.exec.start_time.clone()),
            );
            ex.insert("RedriveCount".into(), Value::from(0));
            root.insert("Execution".into(), Value::Object(ex));
            let mut st = Map::new();
            st.insert("EnteredTime".into(), Value::String(timestamp(self.entered)));
            st.insert("Name".into(), Value::String(self.state_name.to_string()));
            st.insert("RetryCount".into(), Value::from(self.retry_count));
            root.insert("State".into(), Value::Object(st));
            let mut sm = Map::new();
            sm.insert(
                "Id".into(),
                Value::String(self.exec.state_machine_id.clone()),
            );
            sm.insert(
                "Name".into(),
                Value::String(self.exec.state_machine_name.clone()),
            );
            root.insert("StateMachine".into(), Value::Object(sm));
            if let Some(tok) = self.task_token {
                let mut t = Map::new();
                t.insert("Token".into(), Value::String(tok.to_string()));
                root.insert("Task".into(), Value::Object(t));
            }
            if let Some((idx, val)) = self.map_item {
                let mut item = Map::new();
                item.insert("Index".into(), Value::from(idx));
                item.insert("Value".into(), val.clone());
                let mut m = Map::new();
                m.insert("Item".into(), Value::Object(item));
                root.insert("Map".into(), Value::Object(m));
            }
            Value::Object(root)
        })
    }
}

/// Everything a path, intrinsic or template needs.
pub(crate) struct Env<'a> {
    pub input: &'a Value,
    pub ctx: &'a Ctx<'a>,
    pub vars: &'a HashMap<String, Value>,
}

impl<'a> Env<'a> {
    /// A definite path's node without copying it; `None` for a miss, an indefinite path or
    /// the context object (use [`Env::resolve`] then).
    pub fn resolve_ref(&self, p: &JsonPath) -> Option<&'a Value> {
        match p.root() {
            Root::Input => p.select_ref(self.input),
            Root::Variable(n) => p.select_ref(self.vars.get(n)?),
            Root::Context => None,
        }
    }

    /// As [`Env::resolve`], borrowing the node when it can be read in place.
    pub fn resolve_cow(&self, p: &JsonPath) -> Option<Cow<'a, Value>> {
        match self.resolve_ref(p) {
            Some(v) => Some(Cow::Borrowed(v)),
            None => self.resolve(p).map(Cow::Owned),
        }
    }

    /// Resolves a path against its root; `None` when nothing is there.
    pub fn resolve(&self, p: &JsonPath) -> Option<Value> {
        let root = match p.root() {
            Root::Input => self.input,
            // `$$.Map.Item…` is read once per Map item: build only that small part instead of
            // the whole context object (which holds a copy of the execution input).
            Root::Context if p.first_key() == Some("Map") && self.ctx.cache.get().is_none() => {
                let (idx, val) = self.ctx.map_item?;
                if let Some(found) = p.select_map_item(idx, val) {
                    return found;
                }
                let mut item = Map::new();
                item.insert("Index".into(), Value::from(idx));
                item.insert("Value".into(), val.clone());
                let mut m = Map::new();
                m.insert("Item".into(), Value::Object(item));
                return p.select_after_first(&Value::Object(m));
            }
            Root::Context => self.ctx.value(),
            Root::Variable(n) => self.vars.get(n)?,
        };
        p.select(root)
    }
}
