//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector`, `Assign` (JSONPath
//! flavour, keys ending in `.$`) and JSONata templates (`Arguments`, `Output`, … with
//! `{% expr %}` strings). Both are compiled once; constant subtrees are kept as plain JSON.

use crate::env::Env;
use crate::fault::Fault;
use crate::intrinsics::{Intrinsic, looks_like_intrinsic};
use crate::jsonata::{JsonataExpr, template_body};
use crate::path::JsonPath;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A JSONPath-style payload template.
#[derive(Debug, Clone)]
pub(crate) enum Template {
    Lit(Value),
    Path { key: String, path: JsonPath },
    Call(Intrinsic),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

impl Template {
    /// Compiles a template; errors name the offending field.
    pub fn compile(v: &Value) -> Result<Template, (String, String, String)> {
        Template::compile_at(v)
    }

    fn compile_at(v: &Value) -> Result<Template, (String, String, String)> {
        match v {
            Value::Object(o) => {
                let mut fields = Vec::with_capacity(o.len());
                let mut dynamic = false;
                for (k, x) in o {
                    if let Some(name) = k.strip_suffix(".$") {
                        let Value::String(s) = x else {
                            return Err((
                                k.clone(),
                                x.to_string(),
                                "a field ending in '.$' must hold a path or intrinsic string"
                                    .into(),
                            ));
                        };
                        let t = if looks_like_intrinsic(s) {
                            Template::Call(
                                Intrinsic::parse(s).map_err(|e| (k.clone(), s.clone(), e))?,
                            )
                        } else {
                            Template::Path {
                                key: k.clone(),
                                path: JsonPath::parse(s).map_err(|e| (k.clone(), s.clone(), e))?,
                            }
                        };
                        dynamic = true;
                        fields.push((name.to_string(), t));
                    } else {
                        let t = Template::compile_at(x)?;
                        dynamic |= !matches!(t, Template::Lit(_));
                        fields.push((k.clone(), t));
                    }
                }
                if dynamic {
                    Ok(Template::Object(fields))
                } else {
                    Ok(Template::Lit(v.clone()))
                }
            }
            Value::Array(a) => {
                let items = a
                    .iter()
                    .map(Template::compile_at)
                    .collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|t| matches!(t, Template::Lit(_))) {
                    Ok(Template::Lit(v.clone()))
                } else {
                    Ok(Template::Array(items))
                }
            }
            other => Ok(Template::Lit(other.clone())),
        }
    }

    /// Builds the payload against `env`.
    pub fn eval(&self, env: &Env) -> Result<Value, Fault> {
        match self {
            Template::Lit(v) => Ok(v.clone()),
            Template::Path { key, path } => env.resolve(path).ok_or_else(|| {
                Fault::runtime(format!(
                    "The JsonPath argument for the field '{key}' could not be found in the input '{}'",
                    env.input
                ))
            }),
            Template::Call(c) => c.eval(env),
            Template::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    m.insert(k.clone(), t.eval(env)?);
                }
                Ok(Value::Object(m))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(env))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }

    /// For `Assign`: the variable names and their templates (the top level must be an object).
    pub fn entries(&self) -> Vec<(String, Template)> {
        match self {
            Template::Object(f) => f.clone(),
            Template::Lit(Value::Object(o)) => o
                .iter()
                .map(|(k, v)| (k.clone(), Template::Lit(v.clone())))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// A JSONata-flavoured template: any string `{% expr %}` is evaluated.
#[derive(Debug, Clone)]
pub(crate) enum JTemplate {
    Lit(Value),
    Expr(JsonataExpr),
    Object(Vec<(String, JTemplate)>),
    Array(Vec<JTemplate>),
}

impl JTemplate {
    pub fn compile(v: &Value) -> Result<JTemplate, (String, String)> {
        match v {
            Value::String(s) => match template_body(s) {
                Some(body) => JsonataExpr::parse(body)
                    .map(JTemplate::Expr)
                    .map_err(|e| (s.clone(), e)),
                None => Ok(JTemplate::Lit(v.clone())),
            },
            Value::Object(o) => {
                let fields = o
                    .iter()
                    .map(|(k, x)| JTemplate::compile(x).map(|t| (k.clone(), t)))
                    .collect::<Result<Vec<_>, _>>()?;
                if fields.iter().all(|(_, t)| matches!(t, JTemplate::Lit(_))) {
                    Ok(JTemplate::Lit(v.clone()))
                } else {
                    Ok(JTemplate::Object(fields))
                }
            }
            Value::Array(a) => {
                let items = a
                    .iter()
                    .map(JTemplate::compile)
                    .collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|t| matches!(t, JTemplate::Lit(_))) {
                    Ok(JTemplate::Lit(v.clone()))
                } else {
                    Ok(JTemplate::Array(items))
                }
            }
            other => Ok(JTemplate::Lit(other.clone())),
        }
    }

    /// Evaluates; `field` is the name AWS quotes in errors (`Output`, `Assign/x`, …).
    pub fn eval(
        &self,
        states: &Value,
        vars: &HashMap<String, Value>,
        field: &str,
        state: &str,
        entered_id: u64,
    ) -> Result<Value, Fault> {
        match self {
            JTemplate::Lit(v) => Ok(v.clone()),
            JTemplate::Expr(e) => match e.eval(states, vars) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(Fault::query(format!(
                    "An error occurred while executing the state '{state}' (entered at the event id #{entered_id}). The JSONata expression '{}' specified for the field '{field}' returned nothing (undefined).",
                    e.text()
                ))),
                Err(msg) => Err(Fault::query(format!(
                    "An error occurred while executing the state '{state}' (entered at the event id #{entered_id}). The JSONata expression '{}' specified for the field '{field}' threw an error: {msg}",
                    e.text()
                ))),
            },
            JTemplate::Object(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, t) in fields {
                    let sub = format!("{field}/{k}");
                    m.insert(k.clone(), t.eval(states, vars, &sub, state, entered_id)?);
                }
                Ok(Value::Object(m))
            }
            JTemplate::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, t)| t.eval(states, vars, &format!("{field}[{i}]"), state, entered_id))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
        }
    }

    /// For `Assign`: variable names and templates.
    pub fn entries(&self) -> Vec<(String, JTemplate)> {
        match self {
            JTemplate::Object(f) => f.clone(),
            JTemplate::Lit(Value::Object(o)) => o
                .iter()
                .map(|(k, v)| (k.clone(), JTemplate::Lit(v.clone())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The expression text when this template is a single expression (for error messages).
    pub fn expr_text(&self) -> String {
        match self {
            JTemplate::Expr(e) => e.text().to_string(),
            JTemplate::Lit(v) => v.to_string(),
            _ => String::new(),
        }
    }
}
