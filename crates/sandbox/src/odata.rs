//! The slice of OData `$filter` that Graph clients of dayone use: `eq` and `startsWith` on
//! string properties, combined with `and` / `or` and parentheses. Anything else is an
//! unsupported query, as Graph says for the non-advanced query mode.

use serde_json::{Map, Value};

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filter {
    Eq(String, String),
    StartsWith(String, String),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FilterError {
    /// The text is not a valid filter expression.
    Syntax(String),
    /// Valid OData, but not something the directory answers without advanced query mode.
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    Other(String),
    Open,
    Close,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, FilterError> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '\'' => {
                // A quote inside a literal is written twice: 'o''brien'.
                let mut lit = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(FilterError::Syntax(format!(
                                "unterminated string literal at position {i} in '{s}'"
                            )));
                        }
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            lit.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            lit.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(lit));
            }
            c if c.is_alphabetic() || c == '_' || c == '@' || c == '$' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric()
                        || matches!(chars[i], '_' | '.' | '/' | '@' | '$'))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | ',')
                {
                    i += 1;
                }
                out.push(Tok::Other(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    props: &'a [&'a str],
    text: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn syntax(&self, what: &str) -> FilterError {
        FilterError::Syntax(format!(
            "{what} at token {} in '{}'",
            self.pos + 1,
            self.text
        ))
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.term()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.term()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.factor()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.factor()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn property(&self, name: &str) -> Result<String, FilterError> {
        self.props
            .iter()
            .find(|p| p.eq_ignore_ascii_case(name))
            .map(|p| (*p).to_owned())
            .ok_or_else(|| FilterError::Unsupported(name.to_owned()))
    }

    fn factor(&mut self) -> Result<Filter, FilterError> {
        match self.next() {
            Some(Tok::Open) => {
                let inner = self.expr()?;
                match self.next() {
                    Some(Tok::Close) => Ok(inner),
                    _ => Err(self.syntax("')' expected")),
                }
            }
            Some(Tok::Ident(name)) if self.peek() == Some(&Tok::Open) => {
                self.pos += 1;
                let func = name.to_ascii_lowercase();
                let Some(Tok::Ident(prop)) = self.next() else {
                    return Err(self.syntax("property name expected"));
                };
                if self.next() != Some(Tok::Comma) {
                    return Err(self.syntax("',' expected"));
                }
                let Some(Tok::Str(value)) = self.next() else {
                    return Err(self.syntax("string literal expected"));
                };
                if self.next() != Some(Tok::Close) {
                    return Err(self.syntax("')' expected"));
                }
                if func != "startswith" {
                    return Err(FilterError::Unsupported(name));
                }
                Ok(Filter::StartsWith(self.property(&prop)?, value))
            }
            Some(Tok::Ident(prop)) => {
                let op = match self.next() {
                    Some(Tok::Ident(op)) => op.to_ascii_lowercase(),
                    _ => return Err(self.syntax("operator expected")),
                };
                let value = match self.next() {
                    Some(Tok::Str(v)) => Some(v),
                    Some(Tok::Ident(_) | Tok::Other(_)) => None,
                    Some(Tok::Open) => {
                        // `in ('a','b')`: valid OData, not served in the default mode.
                        while !matches!(self.next(), Some(Tok::Close) | None) {}
                        None
                    }
                    _ => return Err(self.syntax("value expected")),
                };
                if !matches!(
                    op.as_str(),
                    "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "in" | "has"
                ) {
                    return Err(self.syntax(&format!("unknown operator '{op}'")));
                }
                let prop = self.property(&prop)?;
                match (op.as_str(), value) {
                    ("eq", Some(v)) => Ok(Filter::Eq(prop, v)),
                    _ => Err(FilterError::Unsupported(prop)),
                }
            }
            _ => Err(self.syntax("expression expected")),
        }
    }
}

/// Parses `text` allowing only the listed (case-insensitive) string properties.
pub(crate) fn parse(text: &str, props: &[&str]) -> Result<Filter, FilterError> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(FilterError::Syntax(format!("empty filter '{text}'")));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        props,
        text,
    };
    let f = p.expr()?;
    if p.pos < p.toks.len() {
        return Err(p.syntax("unexpected trailing input"));
    }
    Ok(f)
}

impl Filter {
    /// Directory string comparisons ignore case.
    pub(crate) fn matches(&self, obj: &Map<String, Value>) -> bool {
        let get = |prop: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(prop))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_lowercase)
        };
        match self {
            Filter::Eq(p, v) => get(p).is_some_and(|x| x == v.to_lowercase()),
            Filter::StartsWith(p, v) => get(p).is_some_and(|x| x.starts_with(&v.to_lowercase())),
            Filter::And(a, b) => a.matches(obj) && b.matches(obj),
            Filter::Or(a, b) => a.matches(obj) || b.matches(obj),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROPS: &[&str] = &["userPrincipalName", "mailNickname", "employeeId"];

    #[test]
    fn doubled_quotes_unescape_to_one() {
        let f = parse("startsWith(userPrincipalName,'o''brien')", PROPS).unwrap();
        assert_eq!(
            f,
            Filter::StartsWith("userPrincipalName".into(), "o'brien".into())
        );
    }

    #[test]
    fn or_and_parentheses_combine() {
        let f = parse(
            "(mailNickname eq 'ada' or startswith(mailnickname,'ada.')) and employeeId eq '1'",
            PROPS,
        )
        .unwrap();
        let obj = json!({"mailNickname":"Ada.L","employeeId":"1"});
        assert!(f.matches(obj.as_object().unwrap()));
        let other = json!({"mailNickname":"Bob","employeeId":"1"});
        assert!(!f.matches(other.as_object().unwrap()));
    }

    #[test]
    fn advanced_operators_are_unsupported_not_syntax_errors() {
        assert!(matches!(
            parse("endsWith(userPrincipalName,'@x.com')", PROPS),
            Err(FilterError::Unsupported(_))
        ));
        assert!(matches!(
            parse("employeeId ne '1'", PROPS),
            Err(FilterError::Unsupported(_))
        ));
        assert!(matches!(
            parse("city eq 'London'", PROPS),
            Err(FilterError::Unsupported(_))
        ));
    }

    #[test]
    fn broken_text_is_a_syntax_error() {
        assert!(matches!(
            parse("userPrincipalName eq 'open", PROPS),
            Err(FilterError::Syntax(_))
        ));
        assert!(matches!(
            parse("userPrincipalName eq 'a' extra", PROPS),
            Err(FilterError::Syntax(_))
        ));
    }
}
