//! Choice rules, compiled once: comparison operators (with their `…Path` variants), type
//! tests, `And` / `Or` / `Not`, and JSONata `Condition`s.

use crate::env::Env;
use crate::fault::Fault;
use crate::jsonata::{JsonataExpr, template_body};
use crate::path::JsonPath;
use chrono::{DateTime, FixedOffset};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Str,
    Num,
    Bool,
    Ts,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Test {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) enum Rhs {
    Lit(Value),
    Path(JsonPath),
}

/// One compiled Choice rule.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        var: JsonPath,
        kind: Kind,
        cmp: Cmp,
        rhs: Rhs,
    },
    Matches {
        var: JsonPath,
        pattern: String,
    },
    Test {
        var: JsonPath,
        test: Test,
        expect: bool,
    },
    Condition(JsonataExpr),
    Const(bool),
}

const OPS: &[(&str, Kind, Cmp)] = &[
    ("StringEquals", Kind::Str, Cmp::Eq),
    ("StringLessThan", Kind::Str, Cmp::Lt),
    ("StringGreaterThan", Kind::Str, Cmp::Gt),
    ("StringLessThanEquals", Kind::Str, Cmp::Le),
    ("StringGreaterThanEquals", Kind::Str, Cmp::Ge),
    ("NumericEquals", Kind::Num, Cmp::Eq),
    ("NumericLessThan", Kind::Num, Cmp::Lt),
    ("NumericGreaterThan", Kind::Num, Cmp::Gt),
    ("NumericLessThanEquals", Kind::Num, Cmp::Le),
    ("NumericGreaterThanEquals", Kind::Num, Cmp::Ge),
    ("BooleanEquals", Kind::Bool, Cmp::Eq),
    ("TimestampEquals", Kind::Ts, Cmp::Eq),
    ("TimestampLessThan", Kind::Ts, Cmp::Lt),
    ("TimestampGreaterThan", Kind::Ts, Cmp::Gt),
    ("TimestampLessThanEquals", Kind::Ts, Cmp::Le),
    ("TimestampGreaterThanEquals", Kind::Ts, Cmp::Ge),
];

const TESTS: &[(&str, Test)] = &[
    ("IsNull", Test::Null),
    ("IsPresent", Test::Present),
    ("IsNumeric", Test::Numeric),
    ("IsString", Test::String),
    ("IsBoolean", Test::Boolean),
    ("IsTimestamp", Test::Timestamp),
];

/// Fields of a rule object that are not the operator.
const NON_OPS: &[&str] = &["Variable", "Next", "Comment", "Assign", "Output"];

impl Rule {
    /// Compiles a rule object; the error is a human sentence.
    pub fn compile(v: &Value, jsonata: bool) -> Result<Rule, String> {
        let o = v.as_object().ok_or("a Choice rule must be an object")?;
        if let Some(c) = o.get("Condition") {
            return match c {
                Value::Bool(b) => Ok(Rule::Const(*b)),
                Value::String(s) => match template_body(s) {
                    Some(body) => JsonataExpr::parse(body).map(Rule::Condition),
                    None => Err(format!(
                        "Condition '{s}' must be a {{% JSONata %}} expression"
                    )),
                },
                _ => Err("Condition must be a boolean or a {% JSONata %} string".into()),
            };
        }
        if jsonata {
            return Err("a JSONata Choice rule needs a Condition".into());
        }
        let list = |key: &str| -> Result<Vec<Rule>, String> {
            let arr = o[key]
                .as_array()
                .ok_or_else(|| format!("{key} must be an array of rules"))?;
            if arr.is_empty() {
                return Err(format!("{key} must not be empty"));
            }
            arr.iter().map(|r| Rule::compile(r, false)).collect()
        };
        if o.contains_key("And") {
            return list("And").map(Rule::And);
        }
        if o.contains_key("Or") {
            return list("Or").map(Rule::Or);
        }
        if let Some(n) = o.get("Not") {
            return Ok(Rule::Not(Box::new(Rule::compile(n, false)?)));
        }
        let var_text = o
            .get("Variable")
            .and_then(Value::as_str)
            .ok_or("a Choice rule needs a Variable (or And / Or / Not)")?;
        let var = JsonPath::parse(var_text).map_err(|e| format!("Variable '{var_text}': {e}"))?;
        let op_key = o
            .keys()
            .find(|k| !NON_OPS.contains(&k.as_str()))
            .ok_or_else(|| format!("the rule on {var_text} has no comparison operator"))?;
        let op_val = &o[op_key];
        if let Some((_, t)) = TESTS.iter().find(|(n, _)| n == op_key) {
            let expect = op_val
                .as_bool()
                .ok_or_else(|| format!("{op_key} must be true or false"))?;
            return Ok(Rule::Test {
                var,
                test: *t,
                expect,
            });
        }
        if op_key == "StringMatches" {
            let pattern = op_val
                .as_str()
                .ok_or("StringMatches needs a string pattern")?
                .to_string();
            return Ok(Rule::Matches { var, pattern });
        }
        let (base, is_path) = match op_key.strip_suffix("Path") {
            Some(b) => (b, true),
            None => (op_key.as_str(), false),
        };
        let (_, kind, cmp) = OPS
            .iter()
            .find(|(n, _, _)| *n == base)
            .ok_or_else(|| format!("'{op_key}' is not a Choice comparison operator"))?;
        let rhs = if is_path {
            let p = op_val
                .as_str()
                .ok_or_else(|| format!("{op_key} needs a path string"))?;
            Rhs::Path(JsonPath::parse(p).map_err(|e| format!("{op_key} '{p}': {e}"))?)
        } else {
            let ok = match kind {
                Kind::Str => op_val.is_string(),
                Kind::Num => op_val.is_number(),
                Kind::Bool => op_val.is_boolean(),
                Kind::Ts => op_val.as_str().and_then(parse_ts).is_some(),
            };
            if !ok {
                return Err(format!("{op_key} has a value of the wrong type: {op_val}"));
            }
            Rhs::Lit(op_val.clone())
        };
        Ok(Rule::Compare {
            var,
            kind: *kind,
            cmp: *cmp,
            rhs,
        })
    }

    /// Evaluates a JSONPath rule.
    pub fn eval(&self, env: &Env) -> Result<bool, Fault> {
        Ok(match self {
            Rule::And(rs) => {
                for r in rs {
                    if !r.eval(env)? {
                        return Ok(false);
                    }
                }
                true
            }
            Rule::Or(rs) => {
                for r in rs {
                    if r.eval(env)? {
                        return Ok(true);
                    }
                }
                false
            }
            Rule::Not(r) => !r.eval(env)?,
            Rule::Const(b) => *b,
            Rule::Condition(_) => false,
            Rule::Test { var, test, expect } => {
                let v = env.resolve_cow(var);
                let got = match (test, v.as_deref()) {
                    (Test::Present, v) => v.is_some(),
                    (_, None) => false,
                    (Test::Null, Some(v)) => v.is_null(),
                    (Test::Numeric, Some(v)) => v.is_number(),
                    (Test::String, Some(v)) => v.is_string(),
                    (Test::Boolean, Some(v)) => v.is_boolean(),
                    (Test::Timestamp, Some(v)) => v.as_str().and_then(parse_ts).is_some(),
                };
                got == *expect
            }
            Rule::Matches { var, pattern } => {
                let v = resolve_var(env, var)?;
                v.as_str().is_some_and(|s| wildcard_match(pattern, s))
            }
            Rule::Compare {
                var,
                kind,
                cmp,
                rhs,
            } => {
                let v = resolve_var(env, var)?;
                let r = match rhs {
                    Rhs::Lit(x) => Cow::Borrowed(x),
                    Rhs::Path(p) => match env.resolve_cow(p) {
                        Some(x) => x,
                        None => {
                            return Err(Fault::runtime(format!(
                                "Invalid path '{}': The choice state's condition path references an undefined value.",
                                p.text()
                            )));
                        }
                    },
                };
                compare(*kind, *cmp, &v, &r)
            }
        })
    }

    /// Evaluates a JSONata `Condition`.
    pub fn eval_jsonata(
        &self,
        states: &Value,
        vars: &HashMap<String, Value>,
        state: &str,
        entered_id: u64,
    ) -> Result<bool, Fault> {
        match self {
            Rule::Const(b) => Ok(*b),
            Rule::Condition(e) => match e.eval(states, vars) {
                Ok(Some(Value::Bool(b))) => Ok(b),
                Ok(other) => Err(Fault::query(format!(
                    "An error occurred while executing the state '{state}' (entered at the event id #{entered_id}). The JSONata expression '{}' specified for the field 'Condition' returned an unexpected result type. Expected 'boolean', but was '{}'",
                    e.text(),
                    other.as_ref().map(type_name).unwrap_or("undefined")
                ))),
                Err(msg) => Err(Fault::query(format!(
                    "An error occurred while executing the state '{state}' (entered at the event id #{entered_id}). The JSONata expression '{}' specified for the field 'Condition' threw an error: {msg}",
                    e.text()
                ))),
            },
            _ => Ok(false),
        }
    }
}

/// The JSON type name AWS uses in messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn resolve_var<'a>(env: &Env<'a>, var: &JsonPath) -> Result<Cow<'a, Value>, Fault> {
    env.resolve_cow(var).ok_or_else(|| {
        Fault::runtime(format!(
            "Invalid path '{}': The choice state's condition path references an invalid value.",
            var.text()
        ))
    })
}

fn parse_ts(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

fn compare(kind: Kind, cmp: Cmp, a: &Value, b: &Value) -> bool {
    let ord = match kind {
        Kind::Str => match (a.as_str(), b.as_str()) {
            (Some(x), Some(y)) => x.cmp(y),
            _ => return false,
        },
        Kind::Num => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => match x.partial_cmp(&y) {
                Some(o) => o,
                None => return false,
            },
            _ => return false,
        },
        Kind::Bool => match (a.as_bool(), b.as_bool()) {
            (Some(x), Some(y)) => {
                return cmp == Cmp::Eq && x == y;
            }
            _ => return false,
        },
        Kind::Ts => match (a.as_str().and_then(parse_ts), b.as_str().and_then(parse_ts)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => return false,
        },
    };
    match cmp {
        Cmp::Eq => ord == Ordering::Equal,
        Cmp::Lt => ord == Ordering::Less,
        Cmp::Gt => ord == Ordering::Greater,
        Cmp::Le => ord != Ordering::Greater,
        Cmp::Ge => ord != Ordering::Less,
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
pub(crate) fn wildcard_match(pattern: &str, s: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Star,
        Ch(char),
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => toks.push(Tok::Ch(it.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Ch(c)),
        }
    }
    let chars: Vec<char> = s.chars().collect();
    // Iterative glob match with backtracking to the last star.
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < chars.len() {
        if p < toks.len() && toks[p] == Tok::Ch(chars[i]) {
            p += 1;
            i += 1;
        } else if p < toks.len() && toks[p] == Tok::Star {
            star = Some((p, i));
            p += 1;
        } else if let Some((sp, si)) = star {
            p = sp + 1;
            i = si + 1;
            star = Some((sp, si + 1));
        } else {
            return false;
        }
    }
    while p < toks.len() && toks[p] == Tok::Star {
        p += 1;
    }
    p == toks.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_aws() {
        assert!(wildcard_match("*.log", "app.log"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b", "acd"));
        assert!(wildcard_match("lit\\*", "lit*"));
        assert!(!wildcard_match("lit\\*", "litx"));
    }
}
