//! `States.*` intrinsic functions: parsed once into a call tree, evaluated per state.

use crate::env::Env;
use crate::fault::Fault;
use crate::path::JsonPath;
use base64::Engine as _;
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// One argument of an intrinsic call.
#[derive(Debug, Clone)]
enum Arg {
    /// A string literal; `raw` keeps the escapes so `States.Format` can tell `\{` from `{`.
    Str {
        value: String,
        raw: String,
    },
    Lit(Value),
    Path(JsonPath),
    Call(Box<Intrinsic>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Func {
    fn from_name(n: &str) -> Option<Func> {
        Some(match n {
            "States.Format" => Func::Format,
            "States.StringToJson" => Func::StringToJson,
            "States.JsonToString" => Func::JsonToString,
            "States.Array" => Func::Array,
            "States.ArrayPartition" => Func::ArrayPartition,
            "States.ArrayContains" => Func::ArrayContains,
            "States.ArrayRange" => Func::ArrayRange,
            "States.ArrayGetItem" => Func::ArrayGetItem,
            "States.ArrayLength" => Func::ArrayLength,
            "States.ArrayUnique" => Func::ArrayUnique,
            "States.Base64Encode" => Func::Base64Encode,
            "States.Base64Decode" => Func::Base64Decode,
            "States.Hash" => Func::Hash,
            "States.JsonMerge" => Func::JsonMerge,
            "States.MathRandom" => Func::MathRandom,
            "States.MathAdd" => Func::MathAdd,
            "States.StringSplit" => Func::StringSplit,
            "States.UUID" => Func::Uuid,
            _ => return None,
        })
    }
}

/// A compiled intrinsic function call such as `States.Format('{}', $.name)`.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    func: Func,
    name: String,
    args: Vec<Arg>,
}

/// True when a `.$` value should be read as an intrinsic call rather than a path.
pub fn looks_like_intrinsic(s: &str) -> bool {
    s.trim_start().starts_with("States.")
}

impl Intrinsic {
    /// Parses a whole call; trailing text is an error.
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            src: text,
            i: 0,
        };
        let call = p.call()?;
        p.ws();
        if p.i != p.s.len() {
            return Err(format!("unexpected text after the call at offset {}", p.i));
        }
        Ok(call)
    }

    pub(crate) fn eval(&self, env: &Env) -> Result<Value, Fault> {
        if self.func == Func::Format {
            // The common `States.Format('literal {}', $.a, …)`: read the template and the
            // arguments in place instead of copying them.
            if let Some(Arg::Str { raw, .. }) = self.args.first() {
                let vals = self.args[1..]
                    .iter()
                    .map(|a| self.arg(a, env))
                    .collect::<Result<Vec<_>, _>>()?;
                return format(raw, &vals)
                    .map(Value::String)
                    .map_err(|m| self.bad(&m));
            }
        }
        let vals = self
            .args
            .iter()
            .map(|a| self.arg(a, env).map(Cow::into_owned))
            .collect::<Result<Vec<_>, _>>()?;
        if self.func == Func::Format {
            let template = match vals.first() {
                Some(Value::String(s)) => s.as_str(),
                _ => return Err(self.bad("the first argument must be a string template")),
            };
            return format(template, &vals[1..])
                .map(Value::String)
                .map_err(|m| self.bad(&m));
        }
        apply(self.func, &vals).map_err(|m| self.bad(&m))
    }

    /// One evaluated argument, borrowed from the input where possible.
    fn arg<'e>(&self, a: &'e Arg, env: &Env<'e>) -> Result<Cow<'e, Value>, Fault> {
        Ok(match a {
            Arg::Str { value, .. } => Cow::Owned(Value::String(value.clone())),
            Arg::Lit(v) => Cow::Borrowed(v),
            Arg::Path(p) => match env.resolve_ref(p) {
                Some(v) => Cow::Borrowed(v),
                None => Cow::Owned(env.resolve(p).ok_or_else(|| {
                    Fault::runtime(format!(
                        "The JsonPath {} in the intrinsic function {} could not be found in the input",
                        p.text(),
                        self.name
                    ))
                })?),
            },
            Arg::Call(c) => Cow::Owned(c.eval(env)?),
        })
    }

    fn bad(&self, msg: &str) -> Fault {
        Fault::intrinsic(format!("Invalid arguments in {}: {msg}", self.name))
    }
}

/// Runs a function on already-evaluated arguments (shared with the JSONata extensions).
pub(crate) fn call_by_name(name: &str, args: &[Value]) -> Result<Value, String> {
    let f = Func::from_name(name).ok_or_else(|| format!("unknown function {name}"))?;
    check_arity(f, name, args.len())?;
    apply(f, args)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn call(&mut self) -> Result<Intrinsic, String> {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'.')
        {
            self.i += 1;
        }
        let name = &self.src[start..self.i];
        let func = Func::from_name(name)
            .ok_or_else(|| format!("'{name}' is not an intrinsic function"))?;
        self.ws();
        if self.s.get(self.i) != Some(&b'(') {
            return Err(format!("expected '(' after {name}"));
        }
        self.i += 1;
        let mut args = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b')') {
            self.i += 1;
        } else {
            loop {
                args.push(self.arg()?);
                self.ws();
                match self.s.get(self.i) {
                    Some(b',') => self.i += 1,
                    Some(b')') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or ')' in the arguments of {name}")),
                }
            }
        }
        check_arity(func, name, args.len())?;
        Ok(Intrinsic {
            func,
            name: name.to_string(),
            args,
        })
    }

    fn arg(&mut self) -> Result<Arg, String> {
        self.ws();
        match self.s.get(self.i) {
            None => Err("missing argument".into()),
            Some(b'\'') => {
                self.i += 1;
                let mut value = String::new();
                let mut raw = String::new();
                loop {
                    let rest = &self.src[self.i..];
                    let mut it = rest.char_indices();
                    let Some((_, c)) = it.next() else {
                        return Err("unterminated string literal".into());
                    };
                    self.i += c.len_utf8();
                    match c {
                        '\'' => break,
                        '\\' => {
                            let Some((_, n)) = it.next() else {
                                return Err("unterminated string literal".into());
                            };
                            self.i += n.len_utf8();
                            value.push(n);
                            raw.push('\\');
                            raw.push(n);
                        }
                        c => {
                            value.push(c);
                            raw.push(c);
                        }
                    }
                }
                Ok(Arg::Str { value, raw })
            }
            Some(b'$') => {
                let start = self.i;
                let mut depth = 0i32;
                let mut quote: Option<u8> = None;
                while self.i < self.s.len() {
                    let c = self.s[self.i];
                    if let Some(q) = quote {
                        if c == b'\\' {
                            self.i += 1;
                        } else if c == q {
                            quote = None;
                        }
                    } else {
                        match c {
                            b'\'' | b'"' => quote = Some(c),
                            b'[' | b'(' => depth += 1,
                            b']' => depth -= 1,
                            b')' if depth == 0 => break,
                            b')' => depth -= 1,
                            b',' if depth == 0 => break,
                            c if c.is_ascii_whitespace() && depth == 0 => break,
                            _ => {}
                        }
                    }
                    self.i += 1;
                }
                JsonPath::parse(&self.src[start..self.i]).map(Arg::Path)
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let rest = &self.src[self.i..];
                for (kw, v) in [
                    ("null", Value::Null),
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                ] {
                    if rest.starts_with(kw)
                        && !rest[kw.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '.')
                    {
                        self.i += kw.len();
                        return Ok(Arg::Lit(v));
                    }
                }
                Ok(Arg::Call(Box::new(self.call()?)))
            }
            Some(_) => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_digit()
                        || matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    self.i += 1;
                }
                let t = &self.src[start..self.i];
                let n: Value = serde_json::from_str(t)
                    .ok()
                    .filter(Value::is_number)
                    .ok_or_else(|| format!("'{t}' is not a valid argument"))?;
                Ok(Arg::Lit(n))
            }
        }
    }
}

fn check_arity(f: Func, name: &str, n: usize) -> Result<(), String> {
    let (min, max) = match f {
        Func::Format => (1, usize::MAX),
        Func::Array => (0, usize::MAX),
        Func::StringToJson
        | Func::JsonToString
        | Func::ArrayLength
        | Func::ArrayUnique
        | Func::Base64Encode
        | Func::Base64Decode => (1, 1),
        Func::ArrayPartition
        | Func::ArrayContains
        | Func::ArrayGetItem
        | Func::Hash
        | Func::MathAdd
        | Func::StringSplit => (2, 2),
        Func::ArrayRange | Func::JsonMerge => (3, 3),
        Func::MathRandom => (2, 3),
        Func::Uuid => (0, 0),
    };
    if n < min || n > max {
        return Err(format!("{name} takes {min}..{max} arguments, got {n}")
            .replace(&format!("..{}", usize::MAX), " or more"));
    }
    Ok(())
}

fn format<V: std::borrow::Borrow<Value>>(template: &str, args: &[V]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut chars = template.chars().peekable();
    let mut next = 0;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let v = args
                    .get(next)
                    .ok_or("the template has more placeholders than arguments")?;
                next += 1;
                java_string(v.borrow(), &mut out);
            }
            c => out.push(c),
        }
    }
    if next != args.len() {
        return Err("the number of arguments does not match the placeholders".into());
    }
    Ok(out)
}

/// How AWS (a Java service) prints a value inside `States.Format`: strings raw, objects as
/// `{a=1, b=[]}`, arrays as `[1, 2]`.
fn java_string(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Object(o) => {
            out.push('{');
            for (i, (k, x)) in o.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_string(x, out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_string(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// `States.MathAdd` rounds each operand like Java's `Math.round` (half up).
fn rounded_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                .map(|f| (f + 0.5).floor() as i64)
                .ok_or_else(|| format!("{n} is not a usable number")),
        },
        other => Err(format!("{other} is not a number")),
    }
}

fn as_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| format!("{n} is not an integer")),
        other => Err(format!("{other} is not an integer")),
    }
}

fn as_str(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| format!("{v} is not a string"))
}

fn as_array(v: &Value) -> Result<&Vec<Value>, String> {
    v.as_array().ok_or_else(|| format!("{v} is not an array"))
}

/// JSON equality with numbers compared by value (1 == 1.0).
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn apply(f: Func, a: &[Value]) -> Result<Value, String> {
    Ok(match f {
        Func::Format => Value::String(format(as_str(&a[0])?, &a[1..])?),
        Func::StringToJson => {
            let s = as_str(&a[0])?;
            if s.trim().is_empty() {
                Value::Null
            } else {
                serde_json::from_str(s).map_err(|e| format!("the string is not JSON: {e}"))?
            }
        }
        Func::JsonToString => Value::String(a[0].to_string()),
        Func::Array => Value::Array(a.to_vec()),
        Func::ArrayPartition => {
            let arr = as_array(&a[0])?;
            let size = as_int(&a[1])?;
            if size <= 0 {
                return Err("the chunk size must be a positive integer".into());
            }
            Value::Array(
                arr.chunks(size as usize)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            )
        }
        Func::ArrayContains => Value::Bool(as_array(&a[0])?.iter().any(|x| json_eq(x, &a[1]))),
        Func::ArrayRange => {
            let (s, e, st) = (as_int(&a[0])?, as_int(&a[1])?, as_int(&a[2])?);
            if st == 0 {
                return Err("the step must not be 0".into());
            }
            let mut out = Vec::new();
            let mut i = s;
            while (st > 0 && i <= e) || (st < 0 && i >= e) {
                out.push(Value::from(i));
                if out.len() > 1000 {
                    return Err("the range has more than 1000 items".into());
                }
                match i.checked_add(st) {
                    Some(next) => i = next,
                    None => break,
                }
            }
            Value::Array(out)
        }
        Func::ArrayGetItem => {
            let arr = as_array(&a[0])?;
            let i = as_int(&a[1])?;
            usize::try_from(i)
                .ok()
                .and_then(|i| arr.get(i))
                .cloned()
                .ok_or_else(|| format!("index {i} is out of range"))?
        }
        Func::ArrayLength => Value::from(as_array(&a[0])?.len()),
        Func::ArrayUnique => {
            let mut out: Vec<Value> = Vec::new();
            for x in as_array(&a[0])? {
                if !out.iter().any(|y| json_eq(x, y)) {
                    out.push(x.clone());
                }
            }
            Value::Array(out)
        }
        Func::Base64Encode => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(as_str(&a[0])?))
        }
        Func::Base64Decode => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(as_str(&a[0])?)
                .map_err(|e| format!("not base64: {e}"))?;
            Value::String(String::from_utf8(bytes).map_err(|_| "the decoded bytes are not UTF-8")?)
        }
        Func::Hash => {
            let data = match &a[0] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let algo = as_str(&a[1])?;
            Value::String(hash(data.as_bytes(), algo)?)
        }
        Func::JsonMerge => {
            let (Value::Object(x), Value::Object(y)) = (&a[0], &a[1]) else {
                return Err("both values must be objects".into());
            };
            if a[2].as_bool() != Some(false) {
                return Err("only shallow merges (false) are supported, as in AWS".into());
            }
            let mut m: Map<String, Value> = x.clone();
            for (k, v) in y {
                m.insert(k.clone(), v.clone());
            }
            Value::Object(m)
        }
        Func::MathRandom => {
            use rand::{Rng, SeedableRng};
            let (s, e) = (as_int(&a[0])?, as_int(&a[1])?);
            if s >= e {
                return Err("the start must be below the end".into());
            }
            let v = match a.get(2) {
                Some(seed) => {
                    let mut r = rand::rngs::StdRng::seed_from_u64(as_int(seed)? as u64);
                    r.random_range(s..e)
                }
                None => rand::rng().random_range(s..e),
            };
            Value::from(v)
        }
        Func::MathAdd => {
            let (x, y) = (rounded_int(&a[0])?, rounded_int(&a[1])?);
            Value::Number(Number::from(x.checked_add(y).ok_or("the sum overflows")?))
        }
        Func::StringSplit => {
            let s = as_str(&a[0])?;
            let d = as_str(&a[1])?;
            Value::Array(
                s.split(|c| d.contains(c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            )
        }
        Func::Uuid => Value::String(uuid::Uuid::new_v4().to_string()),
    })
}

pub(crate) fn hash(data: &[u8], algo: &str) -> Result<String, String> {
    use sha2::Digest as _;
    Ok(match algo {
        "MD5" => hex::encode(md5::Md5::digest(data)),
        "SHA-1" => hex::encode(sha1::Sha1::digest(data)),
        "SHA-256" => hex::encode(sha2::Sha256::digest(data)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(data)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(data)),
        other => {
            return Err(format!(
                "'{other}' is not a hash algorithm; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
            ));
        }
    })
}
