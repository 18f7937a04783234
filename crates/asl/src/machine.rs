//! The compiled state machine: parsing, `${Placeholder}` substitution and validation.

use crate::choice::Rule;
use crate::error::ValidationError;
use crate::intrinsics::{Intrinsic, looks_like_intrinsic};
use crate::jsonata::template_body;
use crate::path::JsonPath;
use crate::template::{JTemplate, Template};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// `InputPath` / `OutputPath` / `ResultPath`: absent (default `$`), `null`, or a path.
#[derive(Debug, Clone)]
pub(crate) enum PathOpt {
    Default,
    Null,
    Path(JsonPath),
}

/// A value that is either fixed, read from a path, or computed by JSONata.
#[derive(Debug, Clone)]
pub(crate) enum Dyn<T> {
    Fixed(T),
    Path(JsonPath),
    Jsonata(JTemplate),
}

/// `Error` / `Cause` of a Fail state.
#[derive(Debug, Clone)]
pub(crate) enum FailField {
    None,
    Lit(String),
    Path(JsonPath),
    Call(Intrinsic),
    Jsonata(JTemplate),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Jitter {
    None,
    Full,
}

#[derive(Debug, Clone)]
pub(crate) struct Retrier {
    pub errors: Vec<String>,
    pub interval: f64,
    pub max_attempts: u32,
    pub backoff: f64,
    pub max_delay: Option<f64>,
    pub jitter: Jitter,
}

#[derive(Debug, Clone)]
pub(crate) struct Catcher {
    pub errors: Vec<String>,
    pub next: usize,
    pub result_path: PathOpt,
    pub assign: Option<AssignDef>,
    pub output: Option<JTemplate>,
}

#[derive(Debug, Clone)]
pub(crate) enum AssignDef {
    Path(Vec<(String, Template)>),
    Jsonata(Vec<(String, JTemplate)>),
}

#[derive(Debug, Clone)]
pub(crate) struct ChoiceBranch {
    pub rule: Rule,
    pub next: usize,
    pub assign: Option<AssignDef>,
    pub output: Option<JTemplate>,
}

/// How a Task reaches its handler.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Integration {
    /// `arn:aws:states:::lambda:invoke`: the result is the Lambda Invoke envelope.
    LambdaInvoke,
    /// Any other resource (a Lambda function ARN, an activity, another service): the handler
    /// registered under the resource answers directly.
    Direct,
}

#[derive(Debug, Clone)]
pub(crate) struct TaskDef {
    pub resource: String,
    pub integration: Integration,
    pub wait_for_token: bool,
    pub timeout: Option<Dyn<f64>>,
    /// For `.waitForTaskToken` tasks: the longest silence between heartbeats.
    pub heartbeat: Option<Dyn<f64>>,
}

#[derive(Debug, Clone)]
pub(crate) struct MapDef {
    pub items_path: PathOpt,
    pub items: Option<Dyn<Value>>,
    pub selector: Option<Selector>,
    pub processor: Block,
    pub max_concurrency: Dyn<u64>,
    pub tolerated_count: Option<Dyn<f64>>,
    pub tolerated_percent: Option<Dyn<f64>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Selector {
    Path(Template),
    Jsonata(JTemplate),
}

#[derive(Debug, Clone)]
pub(crate) enum WaitDef {
    Seconds(Dyn<f64>),
    Timestamp(Dyn<String>),
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Pass {
        result: Option<Value>,
        result_size: usize,
    },
    Task(TaskDef),
    Choice {
        branches: Vec<ChoiceBranch>,
        default: Option<usize>,
    },
    Wait(WaitDef),
    Succeed,
    Fail {
        error: FailField,
        cause: FailField,
    },
    Parallel {
        branches: Vec<Block>,
    },
    Map(Box<MapDef>),
}

/// One compiled state.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub name: Arc<str>,
    pub type_name: &'static str,
    pub jsonata: bool,
    pub kind: Kind,
    /// `None` when the state ends its block (End, Succeed, Fail, Choice).
    pub next: Option<usize>,
    pub input_path: PathOpt,
    pub output_path: PathOpt,
    pub result_path: PathOpt,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub arguments: Option<JTemplate>,
    pub output: Option<JTemplate>,
    pub assign: Option<AssignDef>,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

/// A list of states with a start: the machine itself, a Parallel branch or a Map processor.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub states: Vec<State>,
    pub start: usize,
}

/// A parsed, validated state machine, ready to run any number of times.
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub(crate) root: Block,
    pub(crate) comment: Option<String>,
    definition: Value,
}

impl StateMachine {
    /// Parses and validates a definition. Nothing runs until the machine is executed.
    pub fn parse(definition_json: &str) -> Result<StateMachine, ValidationError> {
        let v: Value = serde_json::from_str(definition_json)
            .map_err(|e| ValidationError::InvalidJson(e.to_string()))?;
        StateMachine::from_value(v)
    }

    /// Like [`StateMachine::parse`] after replacing every `${Name}` whose `Name` is a key of
    /// `substitutions` (as SAM `DefinitionSubstitutions` do). Unknown placeholders stay as
    /// they are.
    pub fn parse_with_substitutions(
        definition_json: &str,
        substitutions: &HashMap<String, String>,
    ) -> Result<StateMachine, ValidationError> {
        StateMachine::parse(&substitute(definition_json, substitutions))
    }

    /// Builds from an already-parsed JSON document.
    pub fn from_value(v: Value) -> Result<StateMachine, ValidationError> {
        let top = v.as_object().ok_or_else(|| {
            ValidationError::invalid("(machine)", "the definition must be a JSON object")
        })?;
        let jsonata = match top.get("QueryLanguage") {
            None => false,
            Some(Value::String(s)) if s == "JSONPath" => false,
            Some(Value::String(s)) if s == "JSONata" => true,
            Some(other) => {
                return Err(ValidationError::invalid(
                    "(machine)",
                    format!("QueryLanguage must be \"JSONPath\" or \"JSONata\", not {other}"),
                ));
            }
        };
        let root = parse_block(top, "(machine)", jsonata)?;
        Ok(StateMachine {
            root,
            comment: top
                .get("Comment")
                .and_then(Value::as_str)
                .map(str::to_string),
            definition: v,
        })
    }

    /// The `Comment` of the definition, if any.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }

    /// The definition as parsed (after substitutions).
    pub fn definition(&self) -> &Value {
        &self.definition
    }

    /// Names of the top-level states in definition order.
    pub fn state_names(&self) -> Vec<&str> {
        self.root.states.iter().map(|s| &*s.name).collect()
    }
}

/// Replaces `${Name}` for every known `Name`.
pub fn substitute(text: &str, subs: &HashMap<String, String>) -> String {
    if subs.is_empty() || !text.contains("${") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        match after.find('}') {
            Some(end) if subs.contains_key(&after[..end]) => {
                out.push_str(&subs[&after[..end]]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn malformed(state: &str, field: &str, expr: &str, reason: impl Into<String>) -> ValidationError {
    ValidationError::MalformedPath {
        state: state.to_string(),
        field: field.to_string(),
        expr: expr.to_string(),
        reason: reason.into(),
    }
}

fn parse_block(
    obj: &Map<String, Value>,
    scope: &str,
    jsonata_default: bool,
) -> Result<Block, ValidationError> {
    let start_name = obj.get("StartAt").and_then(Value::as_str).ok_or_else(|| {
        ValidationError::MissingStartAt {
            scope: scope.to_string(),
        }
    })?;
    let states_obj = obj
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| ValidationError::invalid(scope, "`States` must be an object of states"))?;
    if states_obj.is_empty() {
        return Err(ValidationError::invalid(scope, "`States` is empty"));
    }
    let index: HashMap<&str, usize> = states_obj
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    let start = *index
        .get(start_name)
        .ok_or_else(|| ValidationError::UnknownStartAt {
            scope: scope.to_string(),
            target: start_name.to_string(),
        })?;
    let mut states = Vec::with_capacity(states_obj.len());
    for (name, def) in states_obj {
        states.push(parse_state(name, def, &index, jsonata_default)?);
    }
    // Reachability from StartAt.
    let mut seen = vec![false; states.len()];
    let mut stack = vec![start];
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let s: &State = &states[i];
        stack.extend(s.next);
        stack.extend(s.catch.iter().map(|c| c.next));
        if let Kind::Choice { branches, default } = &s.kind {
            stack.extend(branches.iter().map(|b| b.next));
            stack.extend(*default);
        }
    }
    if let Some(i) = seen.iter().position(|s| !s) {
        return Err(ValidationError::Unreachable {
            state: states[i].name.to_string(),
        });
    }
    Ok(Block { states, start })
}

fn resolve_next(
    state: &str,
    field: &str,
    target: &Value,
    index: &HashMap<&str, usize>,
) -> Result<usize, ValidationError> {
    let t = target.as_str().ok_or_else(|| {
        ValidationError::invalid(state, format!("`{field}` must be a state name"))
    })?;
    index
        .get(t)
        .copied()
        .ok_or_else(|| ValidationError::UnknownNext {
            state: state.to_string(),
            field: field.to_string(),
            target: t.to_string(),
        })
}

fn path_opt(name: &str, o: &Map<String, Value>, field: &str) -> Result<PathOpt, ValidationError> {
    match o.get(field) {
        None => Ok(PathOpt::Default),
        Some(Value::Null) => Ok(PathOpt::Null),
        Some(Value::String(s)) => {
            let p = JsonPath::parse(s).map_err(|e| malformed(name, field, s, e))?;
            if field == "ResultPath" && !p.is_reference() {
                return Err(malformed(
                    name,
                    field,
                    s,
                    "ResultPath must be a reference path ($, $.a.b, $.a[0])",
                ));
            }
            Ok(PathOpt::Path(p))
        }
        Some(other) => Err(malformed(
            name,
            field,
            &other.to_string(),
            "must be a string or null",
        )),
    }
}

fn template(
    name: &str,
    o: &Map<String, Value>,
    field: &str,
) -> Result<Option<Template>, ValidationError> {
    match o.get(field) {
        None => Ok(None),
        Some(v) => Template::compile(v)
            .map(Some)
            .map_err(|(k, e, r)| malformed(name, &format!("{field}.{k}"), &e, r)),
    }
}

fn jtemplate(
    name: &str,
    o: &Map<String, Value>,
    field: &str,
) -> Result<Option<JTemplate>, ValidationError> {
    match o.get(field) {
        None => Ok(None),
        Some(v) => JTemplate::compile(v)
            .map(Some)
            .map_err(|(e, r)| malformed(name, field, &e, r)),
    }
}

fn assign(
    name: &str,
    v: Option<&Value>,
    jsonata: bool,
) -> Result<Option<AssignDef>, ValidationError> {
    let Some(v) = v else { return Ok(None) };
    if !v.is_object() {
        return Err(ValidationError::invalid(
            name,
            "`Assign` must be an object of variable names",
        ));
    }
    if jsonata {
        let t = JTemplate::compile(v).map_err(|(e, r)| malformed(name, "Assign", &e, r))?;
        Ok(Some(AssignDef::Jsonata(t.entries())))
    } else {
        let t = Template::compile(v)
            .map_err(|(k, e, r)| malformed(name, &format!("Assign.{k}"), &e, r))?;
        let entries = t.entries();
        for (k, _) in &entries {
            if k.is_empty() || !k.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(ValidationError::invalid(
                    name,
                    format!("'{k}' is not a valid variable name"),
                ));
            }
        }
        Ok(Some(AssignDef::Path(entries)))
    }
}

fn error_list(
    name: &str,
    o: &Map<String, Value>,
    what: &str,
) -> Result<Vec<String>, ValidationError> {
    let list = o
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ValidationError::invalid(name, format!("every {what} needs an ErrorEquals array"))
        })?;
    let errs: Vec<String> = list
        .iter()
        .map(|e| e.as_str().map(str::to_string))
        .collect::<Option<_>>()
        .ok_or_else(|| ValidationError::invalid(name, "ErrorEquals must list strings"))?;
    if errs.is_empty() {
        return Err(ValidationError::invalid(
            name,
            "ErrorEquals must not be empty",
        ));
    }
    Ok(errs)
}

fn num_field(name: &str, o: &Map<String, Value>, f: &str) -> Result<Option<f64>, ValidationError> {
    match o.get(f) {
        None => Ok(None),
        Some(v) => v.as_f64().filter(|x| *x >= 0.0).map(Some).ok_or_else(|| {
            ValidationError::invalid(name, format!("`{f}` must be a non-negative number"))
        }),
    }
}

/// A number that may come from `Field`, `FieldPath`, or a JSONata string in `Field`.
fn dyn_num(
    name: &str,
    o: &Map<String, Value>,
    f: &str,
) -> Result<Option<Dyn<f64>>, ValidationError> {
    let pf = format!("{f}Path");
    if let Some(p) = o.get(&pf) {
        let s = p
            .as_str()
            .ok_or_else(|| ValidationError::invalid(name, format!("`{pf}` must be a path")))?;
        return JsonPath::parse(s)
            .map(|p| Some(Dyn::Path(p)))
            .map_err(|e| malformed(name, &pf, s, e));
    }
    match o.get(f) {
        None => Ok(None),
        Some(Value::String(s)) if template_body(s).is_some() => {
            JTemplate::compile(&Value::String(s.clone()))
                .map(|t| Some(Dyn::Jsonata(t)))
                .map_err(|(e, r)| malformed(name, f, &e, r))
        }
        Some(_) => Ok(num_field(name, o, f)?.map(Dyn::Fixed)),
    }
}

fn fail_field(
    name: &str,
    o: &Map<String, Value>,
    f: &str,
    jsonata: bool,
) -> Result<FailField, ValidationError> {
    let pf = format!("{f}Path");
    if let Some(p) = o.get(&pf) {
        let s = p
            .as_str()
            .ok_or_else(|| ValidationError::invalid(name, format!("`{pf}` must be a string")))?;
        if looks_like_intrinsic(s) {
            return Intrinsic::parse(s)
                .map(FailField::Call)
                .map_err(|e| malformed(name, &pf, s, e));
        }
        return JsonPath::parse(s)
            .map(FailField::Path)
            .map_err(|e| malformed(name, &pf, s, e));
    }
    match o.get(f) {
        None => Ok(FailField::None),
        Some(Value::String(s)) if jsonata && template_body(s).is_some() => {
            JTemplate::compile(&Value::String(s.clone()))
                .map(FailField::Jsonata)
                .map_err(|(e, r)| malformed(name, f, &e, r))
        }
        Some(Value::String(s)) => Ok(FailField::Lit(s.clone())),
        Some(_) => Err(ValidationError::invalid(
            name,
            format!("`{f}` must be a string"),
        )),
    }
}

fn parse_state(
    name: &str,
    def: &Value,
    index: &HashMap<&str, usize>,
    jsonata_default: bool,
) -> Result<State, ValidationError> {
    let o = def
        .as_object()
        .ok_or_else(|| ValidationError::invalid(name, "a state must be a JSON object"))?;
    let ty = o
        .get("Type")
        .and_then(Value::as_str)
        .ok_or_else(|| ValidationError::invalid(name, "`Type` is missing"))?;
    let jsonata = match o.get("QueryLanguage").and_then(Value::as_str) {
        Some("JSONata") => true,
        Some("JSONPath") => {
            if jsonata_default {
                return Err(ValidationError::invalid(
                    name,
                    "a state cannot use JSONPath when the machine's QueryLanguage is JSONata",
                ));
            }
            false
        }
        Some(other) => {
            return Err(ValidationError::invalid(
                name,
                format!("unknown QueryLanguage '{other}'"),
            ));
        }
        None => jsonata_default,
    };
    if jsonata {
        for f in [
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "ItemsPath",
        ] {
            if o.contains_key(f) {
                return Err(ValidationError::invalid(
                    name,
                    format!(
                        "`{f}` is a JSONPath field; with JSONata use Arguments / Output / Items"
                    ),
                ));
            }
        }
    }
    let terminal = matches!(ty, "Succeed" | "Fail" | "Choice");
    let end = o.get("End").and_then(Value::as_bool).unwrap_or(false);
    let next = match o.get("Next") {
        Some(t) if !terminal => Some(resolve_next(name, "Next", t, index)?),
        None if !terminal && !end => {
            return Err(ValidationError::invalid(
                name,
                "needs either `Next` or `End: true`",
            ));
        }
        _ => None,
    };
    if next.is_some() && end {
        return Err(ValidationError::invalid(
            name,
            "has both `Next` and `End`; keep one",
        ));
    }
    let mut retry = Vec::new();
    if let Some(r) = o.get("Retry") {
        let arr = r
            .as_array()
            .ok_or_else(|| ValidationError::invalid(name, "`Retry` must be an array"))?;
        for x in arr {
            let ro = x
                .as_object()
                .ok_or_else(|| ValidationError::invalid(name, "a Retrier must be an object"))?;
            let jitter = match ro.get("JitterStrategy").and_then(Value::as_str) {
                None | Some("NONE") => Jitter::None,
                Some("FULL") => Jitter::Full,
                Some(o) => {
                    return Err(ValidationError::invalid(
                        name,
                        format!("JitterStrategy '{o}' is not FULL or NONE"),
                    ));
                }
            };
            let backoff = num_field(name, ro, "BackoffRate")?.unwrap_or(2.0);
            if backoff < 1.0 {
                return Err(ValidationError::invalid(
                    name,
                    "BackoffRate must be at least 1.0",
                ));
            }
            retry.push(Retrier {
                errors: error_list(name, ro, "Retrier")?,
                interval: num_field(name, ro, "IntervalSeconds")?.unwrap_or(1.0),
                max_attempts: num_field(name, ro, "MaxAttempts")?
                    .map(|x| x as u32)
                    .unwrap_or(3),
                backoff,
                max_delay: num_field(name, ro, "MaxDelaySeconds")?,
                jitter,
            });
        }
    }
    let mut catch = Vec::new();
    if let Some(c) = o.get("Catch") {
        let arr = c
            .as_array()
            .ok_or_else(|| ValidationError::invalid(name, "`Catch` must be an array"))?;
        for x in arr {
            let co = x
                .as_object()
                .ok_or_else(|| ValidationError::invalid(name, "a Catcher must be an object"))?;
            let next_v = co
                .get("Next")
                .ok_or_else(|| ValidationError::invalid(name, "every Catcher needs `Next`"))?;
            catch.push(Catcher {
                errors: error_list(name, co, "Catcher")?,
                next: resolve_next(name, "Catch.Next", next_v, index)?,
                result_path: path_opt(name, co, "ResultPath")?,
                assign: assign(name, co.get("Assign"), jsonata)?,
                output: jtemplate(name, co, "Output")?,
            });
        }
    }
    let (type_name, kind): (&'static str, Kind) = match ty {
        "Pass" => {
            let result = o.get("Result").cloned();
            let result_size = result.as_ref().map(json_size).unwrap_or(0);
            (
                "Pass",
                Kind::Pass {
                    result,
                    result_size,
                },
            )
        }
        "Succeed" => ("Succeed", Kind::Succeed),
        "Fail" => (
            "Fail",
            Kind::Fail {
                error: fail_field(name, o, "Error", jsonata)?,
                cause: fail_field(name, o, "Cause", jsonata)?,
            },
        ),
        "Choice" => {
            let arr = o
                .get("Choices")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    ValidationError::invalid(
                        name,
                        "a Choice state needs a non-empty `Choices` array",
                    )
                })?;
            let mut branches = Vec::new();
            for r in arr {
                let rule =
                    Rule::compile(r, jsonata).map_err(|m| ValidationError::invalid(name, m))?;
                let ro = r.as_object().ok_or_else(|| {
                    ValidationError::invalid(name, "a Choice rule must be an object")
                })?;
                let nv = ro.get("Next").ok_or_else(|| {
                    ValidationError::invalid(name, "every Choice rule needs `Next`")
                })?;
                branches.push(ChoiceBranch {
                    rule,
                    next: resolve_next(name, "Choices.Next", nv, index)?,
                    assign: assign(name, ro.get("Assign"), jsonata)?,
                    output: jtemplate(name, ro, "Output")?,
                });
            }
            let default = match o.get("Default") {
                Some(d) => Some(resolve_next(name, "Default", d, index)?),
                None => None,
            };
            ("Choice", Kind::Choice { branches, default })
        }
        "Wait" => {
            let w = if o.contains_key("Seconds") || o.contains_key("SecondsPath") {
                WaitDef::Seconds(dyn_num(name, o, "Seconds")?.expect("checked"))
            } else if let Some(p) = o.get("TimestampPath") {
                let s = p.as_str().ok_or_else(|| {
                    ValidationError::invalid(name, "`TimestampPath` must be a path")
                })?;
                WaitDef::Timestamp(Dyn::Path(
                    JsonPath::parse(s).map_err(|e| malformed(name, "TimestampPath", s, e))?,
                ))
            } else if let Some(Value::String(s)) = o.get("Timestamp") {
                if template_body(s).is_some() {
                    WaitDef::Timestamp(Dyn::Jsonata(
                        JTemplate::compile(&Value::String(s.clone()))
                            .map_err(|(e, r)| malformed(name, "Timestamp", &e, r))?,
                    ))
                } else {
                    if chrono::DateTime::parse_from_rfc3339(s).is_err() {
                        return Err(malformed(name, "Timestamp", s, "not an RFC 3339 timestamp"));
                    }
                    WaitDef::Timestamp(Dyn::Fixed(s.clone()))
                }
            } else {
                return Err(ValidationError::invalid(
                    name,
                    "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath",
                ));
            };
            ("Wait", Kind::Wait(w))
        }
        "Task" => {
            let resource = o
                .get("Resource")
                .and_then(Value::as_str)
                .ok_or_else(|| ValidationError::invalid(name, "a Task state needs a `Resource`"))?;
            let (base, wait_for_token) = match resource.strip_suffix(".waitForTaskToken") {
                Some(b) => (b, true),
                None => (resource, false),
            };
            let base = base
                .strip_suffix(".sync:2")
                .or_else(|| base.strip_suffix(".sync"))
                .unwrap_or(base);
            let integration =
                if base.starts_with("arn:") && base.contains(":states:::lambda:invoke") {
                    Integration::LambdaInvoke
                } else {
                    Integration::Direct
                };
            (
                "Task",
                Kind::Task(TaskDef {
                    resource: base.to_string(),
                    integration,
                    wait_for_token,
                    timeout: dyn_num(name, o, "TimeoutSeconds")?,
                    heartbeat: dyn_num(name, o, "HeartbeatSeconds")?,
                }),
            )
        }
        "Parallel" => {
            let arr = o
                .get("Branches")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    ValidationError::invalid(
                        name,
                        "a Parallel state needs a non-empty `Branches` array",
                    )
                })?;
            let mut branches = Vec::new();
            for (i, b) in arr.iter().enumerate() {
                let bo = b.as_object().ok_or_else(|| {
                    ValidationError::invalid(name, "each branch must be an object")
                })?;
                branches.push(parse_block(
                    bo,
                    &format!("state '{name}' branch {i}"),
                    jsonata,
                )?);
            }
            ("Parallel", Kind::Parallel { branches })
        }
        "Map" => {
            let proc_v = o
                .get("ItemProcessor")
                .or_else(|| o.get("Iterator"))
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    ValidationError::invalid(
                        name,
                        "a Map state needs an `ItemProcessor` (or `Iterator`)",
                    )
                })?;
            let processor = parse_block(proc_v, &format!("state '{name}' ItemProcessor"), jsonata)?;
            let selector = match o.get("ItemSelector").or_else(|| o.get("Parameters")) {
                None => None,
                Some(v) if jsonata => Some(Selector::Jsonata(
                    JTemplate::compile(v)
                        .map_err(|(e, r)| malformed(name, "ItemSelector", &e, r))?,
                )),
                Some(v) => Some(Selector::Path(Template::compile(v).map_err(
                    |(k, e, r)| malformed(name, &format!("ItemSelector.{k}"), &e, r),
                )?)),
            };
            let items = match o.get("Items") {
                None => None,
                Some(v) => Some(Dyn::Jsonata(
                    JTemplate::compile(v).map_err(|(e, r)| malformed(name, "Items", &e, r))?,
                )),
            };
            let max_concurrency = match dyn_num(name, o, "MaxConcurrency")? {
                None => Dyn::Fixed(0),
                Some(Dyn::Fixed(n)) => Dyn::Fixed(n as u64),
                Some(Dyn::Path(p)) => Dyn::Path(p),
                Some(Dyn::Jsonata(t)) => Dyn::Jsonata(t),
            };
            (
                "Map",
                Kind::Map(Box::new(MapDef {
                    items_path: path_opt(name, o, "ItemsPath")?,
                    items,
                    selector,
                    processor,
                    max_concurrency,
                    tolerated_count: dyn_num(name, o, "ToleratedFailureCount")?,
                    tolerated_percent: dyn_num(name, o, "ToleratedFailurePercentage")?,
                })),
            )
        }
        other => {
            return Err(ValidationError::invalid(
                name,
                format!(
                    "unknown Type '{other}'; use Pass, Task, Choice, Wait, Succeed, Fail, Parallel or Map"
                ),
            ));
        }
    };
    // Map reads Parameters as its ItemSelector; JSONata states have no Parameters.
    let parameters = if type_name == "Map" || jsonata {
        None
    } else {
        template(name, o, "Parameters")?
    };
    Ok(State {
        name: Arc::from(name),
        type_name,
        jsonata,
        kind,
        next,
        input_path: path_opt(name, o, "InputPath")?,
        output_path: path_opt(name, o, "OutputPath")?,
        result_path: path_opt(name, o, "ResultPath")?,
        parameters,
        result_selector: template(name, o, "ResultSelector")?,
        arguments: jtemplate(name, o, "Arguments")?,
        output: jtemplate(name, o, "Output")?,
        assign: assign(name, o.get("Assign"), jsonata)?,
        retry,
        catch,
    })
}

/// The byte length of `v` serialised as compact JSON, without allocating it.
pub(crate) fn json_size(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(b) => {
            if *b {
                4
            } else {
                5
            }
        }
        Value::Number(n) => n.to_string().len(),
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(json_size).sum::<usize>() + a.len().saturating_sub(1),
        Value::Object(o) => {
            2 + o
                .iter()
                .map(|(k, x)| k.len() + 3 + json_size(x))
                .sum::<usize>()
                + o.len().saturating_sub(1)
        }
    }
}
