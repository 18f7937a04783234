//! JSONPath as the States Language uses it, compiled once at parse time.
//!
//! Supported: `$`, `$$` (context object), `$name` (a variable set by `Assign`), `.key`,
//! `['key']`, `[n]` (negative counts from the end), `[*]`, `.*`, `[a:b]`, `[a,b]`, `..key`
//! and simple filters `[?(@.a.b OP literal)]` / `[?(@.a)]`. A path with a wildcard, slice,
//! union, filter or descent is *indefinite* and always yields an array of matches.

use serde_json::{Map, Value};
use std::fmt::Write as _;

/// What a path starts from.
#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    /// `$`: the state's input (or whatever document the field applies to).
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(i64),
    Wildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Union(Vec<UnionItem>),
    Descend(Option<String>),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
enum UnionItem {
    Key(String),
    Index(i64),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    path: Vec<String>,
    op: Option<(CmpOp, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A compiled JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    root: Root,
    segs: Vec<Seg>,
    definite: bool,
    text: String,
}

impl JsonPath {
    /// Compiles `text`; the error explains what is wrong.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let t = text.trim();
        let (root, rest) = if let Some(r) = t.strip_prefix("$$") {
            (Root::Context, r)
        } else if let Some(r) = t.strip_prefix('$') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                (Root::Input, r)
            } else {
                let name = &r[..end];
                if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!("'{name}' is not a valid variable name"));
                }
                (Root::Variable(name.to_string()), &r[end..])
            }
        } else {
            return Err("a path must start with '$'".into());
        };
        let segs = parse_segments(rest)?;
        let definite = segs
            .iter()
            .all(|s| matches!(s, Seg::Key(_) | Seg::Index(_)));
        Ok(JsonPath {
            root,
            segs,
            definite,
            text: t.to_string(),
        })
    }

    /// The text as written in the definition.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Where the path starts.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// True when the path selects at most one node (no wildcard, slice, filter…).
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// True for a reference path (definite, keys and indexes only), usable as `ResultPath`.
    pub fn is_reference(&self) -> bool {
        self.definite && self.root == Root::Input
    }

    /// True for the bare `$`.
    pub fn is_root_only(&self) -> bool {
        self.segs.is_empty()
    }

    /// Selects from `doc`. A definite path gives the one node or `None`; an indefinite one
    /// gives an array of every match (possibly empty).
    pub fn select(&self, doc: &Value) -> Option<Value> {
        select_segs(&self.segs, self.definite, doc)
    }

    /// The first key after the root (`Map` in `$$.Map.Item.Value`), if the path starts with one.
    pub(crate) fn first_key(&self) -> Option<&str> {
        match self.segs.first() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Selects the rest of the path (after the first key) from `part`, the value of that key.
    pub(crate) fn select_after_first(&self, part: &Value) -> Option<Value> {
        select_segs(self.segs.get(1..)?, self.definite, part)
    }

    /// `$$.Map.Item.Index` / `$$.Map.Item.Value…` read straight from the current item, without
    /// building the context object; `None` when the path is not of that shape.
    pub(crate) fn select_map_item(&self, index: usize, item: &Value) -> Option<Option<Value>> {
        match self.segs.as_slice() {
            [Seg::Key(m), Seg::Key(i), Seg::Key(f), rest @ ..] if m == "Map" && i == "Item" => {
                match f.as_str() {
                    "Index" if rest.is_empty() => Some(Some(Value::from(index))),
                    "Value" => Some(select_segs(rest, self.definite, item)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// Definite-path lookup without cloning; `None` for indefinite paths or a miss.
    pub fn select_ref<'v>(&self, doc: &'v Value) -> Option<&'v Value> {
        if !self.definite {
            return None;
        }
        select_ref_segs(&self.segs, doc)
    }

    /// `$['a']['b'][0]`: the normalised form AWS quotes in "No results for path" errors.
    pub fn normalized(&self) -> String {
        let mut s = String::from(match &self.root {
            Root::Input => "$",
            Root::Context => "$$",
            Root::Variable(_) => "$",
        });
        if let Root::Variable(n) = &self.root {
            s.push_str(n);
        }
        for seg in &self.segs {
            match seg {
                Seg::Key(k) => {
                    let _ = write!(s, "['{k}']");
                }
                Seg::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
                Seg::Wildcard => s.push_str("[*]"),
                _ => s.push_str("[…]"),
            }
        }
        s
    }

    /// Writes `value` at this reference path inside `doc`, creating objects on the way.
    /// Fails when an intermediate node is not an object (or an index is out of range).
    pub fn set(&self, doc: &mut Value, value: Value) -> Result<(), String> {
        if self.segs.is_empty() {
            *doc = value;
            return Ok(());
        }
        let mut cur = doc;
        let last = self.segs.len() - 1;
        for (i, seg) in self.segs.iter().enumerate() {
            match seg {
                Seg::Key(k) => {
                    if cur.is_null() {
                        *cur = Value::Object(Map::new());
                    }
                    let obj = cur.as_object_mut().ok_or_else(|| {
                        format!("cannot set '{k}' on a value that is not an object")
                    })?;
                    if i == last {
                        obj.insert(k.clone(), value);
                        return Ok(());
                    }
                    cur = obj
                        .entry(k.clone())
                        .or_insert_with(|| Value::Object(Map::new()));
                }
                Seg::Index(idx) => {
                    let arr = cur
                        .as_array_mut()
                        .ok_or_else(|| format!("cannot index [{idx}] into a non-array"))?;
                    let n = norm_index(*idx, arr.len())
                        .filter(|n| *n < arr.len())
                        .ok_or_else(|| format!("index [{idx}] is out of range"))?;
                    if i == last {
                        arr[n] = value;
                        return Ok(());
                    }
                    cur = &mut arr[n];
                }
                _ => return Err("ResultPath must be a reference path".into()),
            }
        }
        Ok(())
    }
}

/// Selects `segs` from `doc` (see [`JsonPath::select`]).
fn select_segs(segs: &[Seg], definite: bool, doc: &Value) -> Option<Value> {
    if definite {
        return select_ref_segs(segs, doc).cloned();
    }
    let mut cur: Vec<&Value> = vec![doc];
    for seg in segs {
        let mut next = Vec::new();
        for v in cur {
            apply(seg, v, &mut next);
        }
        cur = next;
    }
    Some(Value::Array(cur.into_iter().cloned().collect()))
}

/// Follows definite (key / index) segments without cloning.
fn select_ref_segs<'v>(segs: &[Seg], doc: &'v Value) -> Option<&'v Value> {
    let mut cur = doc;
    for seg in segs {
        cur = match seg {
            Seg::Key(k) => cur.as_object()?.get(k)?,
            Seg::Index(i) => {
                let a = cur.as_array()?;
                a.get(norm_index(*i, a.len())?)?
            }
            _ => return None,
        };
    }
    Some(cur)
}

fn norm_index(i: i64, len: usize) -> Option<usize> {
    if i >= 0 {
        Some(i as usize)
    } else {
        let n = len as i64 + i;
        (n >= 0).then_some(n as usize)
    }
}

fn apply<'v>(seg: &Seg, v: &'v Value, out: &mut Vec<&'v Value>) {
    match seg {
        Seg::Key(k) => {
            if let Some(x) = v.as_object().and_then(|o| o.get(k)) {
                out.push(x);
            }
        }
        Seg::Index(i) => {
            if let Some(a) = v.as_array()
                && let Some(x) = norm_index(*i, a.len()).and_then(|n| a.get(n))
            {
                out.push(x);
            }
        }
        Seg::Wildcard => match v {
            Value::Array(a) => out.extend(a.iter()),
            Value::Object(o) => out.extend(o.values()),
            _ => {}
        },
        Seg::Slice(start, end, step) => {
            if let Some(a) = v.as_array() {
                let len = a.len() as i64;
                let clamp = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let s = start.map(clamp).unwrap_or(0);
                let e = end.map(clamp).unwrap_or(len);
                let st = step.unwrap_or(1).max(1);
                let mut i = s;
                while i < e {
                    out.push(&a[i as usize]);
                    match i.checked_add(st) {
                        Some(next) => i = next,
                        None => break,
                    }
                }
            }
        }
        Seg::Union(items) => {
            for it in items {
                match it {
                    UnionItem::Key(k) => apply(&Seg::Key(k.clone()), v, out),
                    UnionItem::Index(i) => apply(&Seg::Index(*i), v, out),
                }
            }
        }
        Seg::Descend(key) => descend(key.as_deref(), v, out),
        Seg::Filter(f) => {
            let check = |x: &Value| f.matches(x);
            match v {
                Value::Array(a) => out.extend(a.iter().filter(|x| check(x))),
                Value::Object(o) => out.extend(o.values().filter(|x| check(x))),
                _ => {}
            }
        }
    }
}

fn descend<'v>(key: Option<&str>, v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if key.is_none_or(|want| want == k) {
                    out.push(x);
                }
            }
            for x in o.values() {
                descend(key, x, out);
            }
        }
        Value::Array(a) => {
            if key.is_none() {
                out.extend(a.iter());
            }
            for x in a {
                descend(key, x, out);
            }
        }
        _ => {}
    }
}

impl Filter {
    fn matches(&self, v: &Value) -> bool {
        let mut cur = v;
        for k in &self.path {
            match cur.as_object().and_then(|o| o.get(k)) {
                Some(x) => cur = x,
                None => return false,
            }
        }
        let Some((op, lit)) = &self.op else {
            return true;
        };
        let ord = match (cur, lit) {
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .partial_cmp(&b.as_f64())
                .unwrap_or(std::cmp::Ordering::Less),
            (Value::String(a), Value::String(b)) => a.cmp(b),
            _ => {
                return match op {
                    CmpOp::Eq => cur == lit,
                    CmpOp::Ne => cur != lit,
                    _ => false,
                };
            }
        };
        use std::cmp::Ordering::*;
        match op {
            CmpOp::Eq => ord == Equal,
            CmpOp::Ne => ord != Equal,
            CmpOp::Lt => ord == Less,
            CmpOp::Le => ord != Greater,
            CmpOp::Gt => ord == Greater,
            CmpOp::Ge => ord != Less,
        }
    }
}

fn parse_segments(s: &str) -> Result<Vec<Seg>, String> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut segs = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                if b.get(i + 1) == Some(&b'.') {
                    i += 2;
                    let (name, n) = read_name(&s[i..]);
                    i += n;
                    if name == "*" {
                        segs.push(Seg::Descend(None));
                    } else if name.is_empty() {
                        // `..[...]` form: descend, then apply the bracket to every node.
                        segs.push(Seg::Descend(None));
                    } else {
                        segs.push(Seg::Descend(Some(name.to_string())));
                    }
                } else {
                    i += 1;
                    let (name, n) = read_name(&s[i..]);
                    if name.is_empty() {
                        return Err(format!("empty name after '.' at offset {i}"));
                    }
                    i += n;
                    segs.push(if name == "*" {
                        Seg::Wildcard
                    } else {
                        Seg::Key(name.to_string())
                    });
                }
            }
            b'[' => {
                let close = find_close(s, i).ok_or("a '[' is never closed")?;
                let inner = s[i + 1..close].trim();
                segs.push(parse_bracket(inner)?);
                i = close + 1;
            }
            c => {
                return Err(format!(
                    "unexpected '{}' at offset {i}; use '.name' or '[…]'",
                    c as char
                ));
            }
        }
    }
    Ok(segs)
}

fn read_name(s: &str) -> (&str, usize) {
    let end = s.find(['.', '[']).unwrap_or(s.len());
    (&s[..end], end)
}

fn find_close(s: &str, open: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0;
    let mut quote: Option<u8> = None;
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
        } else if c == b'\'' || c == b'"' {
            quote = Some(c);
        } else if c == b'[' {
            depth += 1;
        } else if c == b']' {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

fn unquote(s: &str) -> Option<String> {
    let s = s.trim();
    let q = s.chars().next()?;
    if (q != '\'' && q != '"') || s.len() < 2 || !s.ends_with(q) {
        return None;
    }
    let body = &s[1..s.len() - 1];
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        // Only the quote character and the backslash itself are escapes; any other
        // backslash is literal (AWS: `$['a\"b']` reads the key `a\"b`).
        if c == '\\' && matches!(chars.clone().next(), Some(n) if n == q || n == '\\') {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn parse_int(s: &str) -> Result<i64, String> {
    s.trim()
        .parse::<i64>()
        .map_err(|_| format!("'{s}' is not an integer"))
}

fn parse_bracket(inner: &str) -> Result<Seg, String> {
    if inner == "*" {
        return Ok(Seg::Wildcard);
    }
    if let Some(f) = inner.strip_prefix('?') {
        return parse_filter(f.trim()).map(Seg::Filter);
    }
    if let Some(k) = unquote(inner) {
        return Ok(Seg::Key(k));
    }
    if inner.contains(':') {
        let parts: Vec<&str> = inner.split(':').collect();
        if parts.len() > 3 {
            return Err(format!("bad slice '[{inner}]'"));
        }
        let opt = |p: Option<&&str>| -> Result<Option<i64>, String> {
            match p.map(|x| x.trim()) {
                None | Some("") => Ok(None),
                Some(x) => parse_int(x).map(Some),
            }
        };
        return Ok(Seg::Slice(
            opt(parts.first())?,
            opt(parts.get(1))?,
            opt(parts.get(2))?,
        ));
    }
    if inner.contains(',') {
        let mut items = Vec::new();
        for p in inner.split(',') {
            if let Some(k) = unquote(p) {
                items.push(UnionItem::Key(k));
            } else {
                items.push(UnionItem::Index(parse_int(p)?));
            }
        }
        return Ok(Seg::Union(items));
    }
    if inner.is_empty() {
        return Err("empty '[]'".into());
    }
    parse_int(inner).map(Seg::Index)
}

fn parse_filter(f: &str) -> Result<Filter, String> {
    let body = f
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .ok_or("a filter must look like ?(@.field OP value)")?
        .trim();
    let ops = [
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        ("<=", CmpOp::Le),
        (">=", CmpOp::Ge),
        ("<", CmpOp::Lt),
        (">", CmpOp::Gt),
    ];
    let (lhs, op) = match ops
        .iter()
        .find_map(|(t, op)| body.find(t).map(|p| (p, *t, *op)))
    {
        Some((p, t, op)) => {
            let rhs = body[p + t.len()..].trim();
            let lit: Value = if let Some(s) = unquote(rhs) {
                Value::String(s)
            } else {
                serde_json::from_str(rhs).map_err(|_| format!("bad filter literal '{rhs}'"))?
            };
            (body[..p].trim(), Some((op, lit)))
        }
        None => (body, None),
    };
    let rest = lhs.strip_prefix('@').ok_or("a filter must test '@'")?;
    let path = parse_segments(rest)?
        .into_iter()
        .map(|s| match s {
            Seg::Key(k) => Ok(k),
            _ => Err("filters only support '@.a.b' paths".to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Filter { path, op })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn definite_paths_select_one_node() {
        let doc = json!({"a": {"b": [10, 20, 30]}, "x-y": 1});
        let p = JsonPath::parse("$.a.b[1]").unwrap();
        assert_eq!(p.select(&doc), Some(json!(20)));
        assert_eq!(
            JsonPath::parse("$.a.b[-1]").unwrap().select(&doc),
            Some(json!(30))
        );
        assert_eq!(
            JsonPath::parse("$['x-y']").unwrap().select(&doc),
            Some(json!(1))
        );
        assert_eq!(JsonPath::parse("$.nope").unwrap().select(&doc), None);
        assert_eq!(p.normalized(), "$['a']['b'][1]");
    }

    #[test]
    fn indefinite_paths_select_arrays() {
        let doc = json!({"items": [{"v": 1, "s": 0}, {"v": 2, "s": 1}, {"v": 3, "s": 0}]});
        let sel = |p: &str| JsonPath::parse(p).unwrap().select(&doc).unwrap();
        assert_eq!(sel("$.items[*].v"), json!([1, 2, 3]));
        assert_eq!(sel("$.items[1:].v"), json!([2, 3]));
        assert_eq!(sel("$.items[:1].v"), json!([1]));
        assert_eq!(sel("$.items[?(@.s == 0)].v"), json!([1, 3]));
        assert_eq!(sel("$..v"), json!([1, 2, 3]));
        assert_eq!(sel("$.items[0,2].v"), json!([1, 3]));
    }

    #[test]
    fn roots_are_recognised() {
        assert_eq!(
            JsonPath::parse("$$.Map.Item.Value").unwrap().root(),
            &Root::Context
        );
        assert_eq!(
            JsonPath::parse("$var.x").unwrap().root(),
            &Root::Variable("var".into())
        );
        assert!(JsonPath::parse("a.b").is_err());
        assert!(JsonPath::parse("$.a[").is_err());
    }

    #[test]
    fn set_creates_intermediate_objects() {
        let mut doc = json!({"a": 1});
        JsonPath::parse("$.b.c")
            .unwrap()
            .set(&mut doc, json!(2))
            .unwrap();
        assert_eq!(doc, json!({"a": 1, "b": {"c": 2}}));
        assert!(
            JsonPath::parse("$.a.c")
                .unwrap()
                .set(&mut doc, json!(3))
                .is_err()
        );
    }
}
