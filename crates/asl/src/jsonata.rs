//! JSONata expressions (`{% … %}`) on top of the `jsonata-rs` crate, plus the functions AWS
//! adds to JSONata in Step Functions (`$partition`, `$range`, `$hash`, `$random`, `$uuid`,
//! `$parse`).

use crate::intrinsics::call_by_name;
use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, FunctionContext, JsonAta, Value as JValue};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Evaluation budget: deep recursion or a runaway loop in a user expression becomes an error.
const MAX_DEPTH: usize = 200;
const TIME_LIMIT_MS: usize = 2_000;

/// Returns the expression inside `{% … %}`, or `None` when `s` is not a JSONata template.
pub fn template_body(s: &str) -> Option<&str> {
    let t = s.trim();
    t.strip_prefix("{%")
        .and_then(|x| x.strip_suffix("%}"))
        .filter(|_| t.len() >= 4)
}

/// A JSONata expression checked for syntax at parse time.
#[derive(Debug, Clone)]
pub struct JsonataExpr {
    text: String,
}

impl JsonataExpr {
    /// Checks the syntax of `text` (the part between `{%` and `%}`).
    pub fn parse(text: &str) -> Result<JsonataExpr, String> {
        let arena = Bump::new();
        let r = catch_unwind(AssertUnwindSafe(|| {
            JsonAta::new(text, &arena)
                .map(|_| ())
                .map_err(|e| e.to_string())
        }));
        match r {
            Ok(Ok(())) => Ok(JsonataExpr {
                text: text.trim().to_string(),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the JSONata parser could not handle this expression".into()),
        }
    }

    /// The expression text (without the `{% %}` markers).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates with `$states` and the workflow variables bound; `Ok(None)` means undefined.
    pub fn eval(
        &self,
        states: &Value,
        vars: &HashMap<String, Value>,
    ) -> Result<Option<Value>, String> {
        let arena = Bump::new();
        let r = catch_unwind(AssertUnwindSafe(|| -> Result<Option<Value>, String> {
            let expr = JsonAta::new(&self.text, &arena).map_err(|e| e.to_string())?;
            for (k, v) in vars {
                expr.assign_var(k, to_jvalue(&arena, v));
            }
            expr.assign_var("states", to_jvalue(&arena, states));
            expr.register_function("partition", 2, fn_partition);
            expr.register_function("range", 3, fn_range);
            expr.register_function("hash", 2, fn_hash);
            expr.register_function("parse", 1, fn_parse);
            let out = expr
                .evaluate_timeboxed(None, Some(MAX_DEPTH), Some(TIME_LIMIT_MS))
                .map_err(|e| e.to_string())?;
            Ok(from_jvalue(out))
        }));
        r.unwrap_or_else(|_| Err("the JSONata evaluator failed on this expression".into()))
    }
}

fn to_jvalue<'a>(arena: &'a Bump, v: &Value) -> &'a JValue<'a> {
    match v {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(0.0)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(a) => {
            let arr = JValue::array_with_capacity(arena, a.len(), ArrayFlags::empty());
            for x in a {
                arr.push(to_jvalue(arena, x));
            }
            arr
        }
        Value::Object(o) => {
            let obj = JValue::object_with_capacity(arena, o.len());
            for (k, x) in o {
                obj.insert(k, to_jvalue(arena, x));
            }
            obj
        }
    }
}

fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Converts a JSONata result to JSON; `None` for undefined. Functions become `""`, as in
/// jsonata-js's JSON output.
fn from_jvalue<'a>(v: &'a JValue<'a>) -> Option<Value> {
    if v.is_undefined() {
        return None;
    }
    Some(match v {
        JValue::Null => Value::Null,
        JValue::Bool(b) => Value::Bool(*b),
        JValue::Number(n) => num(*n),
        JValue::String(s) => Value::String(s.to_string()),
        JValue::Array(..) | JValue::Range(..) => {
            Value::Array(v.members().filter_map(from_jvalue).collect())
        }
        JValue::Object(_) => {
            let mut m = Map::new();
            let mut entries: Vec<_> = v.entries().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (k, x) in entries {
                if let Some(x) = from_jvalue(x) {
                    m.insert(k.to_string(), x);
                }
            }
            Value::Object(m)
        }
        _ => Value::String(String::new()),
    })
}

fn call<'a>(
    ctx: &FunctionContext<'a, '_>,
    name: &str,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    let vals: Vec<Value> = args
        .iter()
        .map(|a| from_jvalue(a).unwrap_or(Value::Null))
        .collect();
    match call_by_name(name, &vals) {
        Ok(v) => Ok(to_jvalue(ctx.arena, &v)),
        Err(msg) => Err(jsonata_rs::Error::D3137Error(msg)),
    }
}

fn fn_partition<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    call(&ctx, "States.ArrayPartition", args)
}

fn fn_range<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    // AWS returns a JSONata sequence, so a one-element range collapses to its element.
    let r = call(&ctx, "States.ArrayRange", args)?;
    if r.is_array() && r.len() == 1 {
        return Ok(r.get_member(0));
    }
    Ok(r)
}

fn fn_hash<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    call(&ctx, "States.Hash", args)
}

fn fn_parse<'a>(
    ctx: FunctionContext<'a, '_>,
    args: &[&'a JValue<'a>],
) -> jsonata_rs::Result<&'a JValue<'a>> {
    call(&ctx, "States.StringToJson", args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluates_with_states_and_variables() {
        let e = JsonataExpr::parse("$states.input.a + $x").unwrap();
        let vars = HashMap::from([("x".to_string(), json!(2))]);
        let out = e.eval(&json!({"input": {"a": 40}}), &vars).unwrap();
        assert_eq!(out, Some(json!(42)));
    }

    #[test]
    fn undefined_is_none_and_syntax_errors_are_reported() {
        let e = JsonataExpr::parse("$nope").unwrap();
        assert_eq!(e.eval(&json!({}), &HashMap::new()).unwrap(), None);
        assert!(JsonataExpr::parse("1 +").is_err());
    }

    #[test]
    fn aws_extension_functions_work() {
        let vars = HashMap::new();
        let ev = |s: &str| {
            JsonataExpr::parse(s)
                .unwrap()
                .eval(&json!({}), &vars)
                .unwrap()
        };
        assert_eq!(ev("$partition([1,2,3], 2)"), Some(json!([[1, 2], [3]])));
        assert_eq!(ev("$range(0, 4, 2)"), Some(json!([0, 2, 4])));
        assert_eq!(ev("$parse('{\"a\":1}')"), Some(json!({"a": 1})));
        assert_eq!(
            ev("$hash('a', 'SHA-256')"),
            Some(json!(
                "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"
            ))
        );
    }
}
