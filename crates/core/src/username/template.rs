//! Rule templates (`{first:1}{last}`, `{first}.{last}`), compiled once at load so
//! generating a candidate is a walk over a few segments, not a parse.

use crate::error::ConfigError;

/// A name part a template can refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// Preferred first name when the policy prefers it and HR has one, else legal.
    First,
    /// Legal middle name (preferred names have none); empty when absent.
    Middle,
    /// Preferred last name when the policy prefers it and HR has one, else legal.
    Last,
    /// Preferred first name, falling back to the legal one, whatever the policy says.
    PreferredFirst,
    PreferredLast,
    /// Always the legal name.
    LegalFirst,
    LegalLast,
}

impl Part {
    pub const COUNT: usize = 7;

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn token(self) -> &'static str {
        match self {
            Part::First => "first",
            Part::Middle => "middle",
            Part::Last => "last",
            Part::PreferredFirst => "preferred_first",
            Part::PreferredLast => "preferred_last",
            Part::LegalFirst => "legal_first",
            Part::LegalLast => "legal_last",
        }
    }

    fn from_token(s: &str) -> Option<Part> {
        Some(match s {
            "first" => Part::First,
            "middle" => Part::Middle,
            "last" => Part::Last,
            "preferred_first" => Part::PreferredFirst,
            "preferred_last" => Part::PreferredLast,
            "legal_first" => Part::LegalFirst,
            "legal_last" => Part::LegalLast,
            _ => return None,
        })
    }

    /// Whether particles (van, de, …) apply: only to family names.
    pub fn is_family(self) -> bool {
        matches!(self, Part::Last | Part::PreferredLast | Part::LegalLast)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Literal text: lowercase ASCII letters, digits, `.`, `-`, `_`.
    Literal(String),
    /// A name part, optionally only its first `take` characters (`{first:1}`).
    Token { part: Part, take: Option<usize> },
}

/// A compiled template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub source: String,
    pub segments: Vec<Segment>,
}

impl Template {
    /// Compile `source`; `key` names the config key for error messages.
    pub fn compile(key: &str, source: &str) -> Result<Template, ConfigError> {
        let err = |problem: String| ConfigError::invalid(key, format!("= {source:?}: {problem}"));
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = source;
        while let Some(c) = rest.chars().next() {
            if c == '{' {
                let end = rest
                    .find('}')
                    .ok_or_else(|| err("has a `{` without a closing `}`".into()))?;
                let inner = &rest[1..end];
                let (name, take) = match inner.split_once(':') {
                    Some((n, t)) => {
                        let t: usize = t.parse().ok().filter(|t| (1..=64).contains(t)).ok_or_else(|| {
                            err(format!("`{{{inner}}}`: the length after `:` must be a number from 1 to 64"))
                        })?;
                        (n, Some(t))
                    }
                    None => (inner, None),
                };
                let part = Part::from_token(name).ok_or_else(|| {
                    err(format!(
                        "unknown token `{{{name}}}`; use first, middle, last, preferred_first, \
                         preferred_last, legal_first or legal_last, optionally with :N (e.g. {{first:1}})"
                    ))
                })?;
                if !literal.is_empty() {
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                }
                segments.push(Segment::Token { part, take });
                rest = &rest[end + 1..];
            } else {
                if !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_')) {
                    return Err(err(format!(
                        "the literal {c:?} is not allowed; literals may be lowercase a-z, 0-9, `.`, `-` or `_`"
                    )));
                }
                literal.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        if !segments.iter().any(|s| matches!(s, Segment::Token { .. })) {
            return Err(err(
                "uses no name token, so every hire would get the same name; add e.g. {first:1}{last}".into(),
            ));
        }
        Ok(Template {
            source: source.to_string(),
            segments,
        })
    }

    pub fn parts(&self) -> impl Iterator<Item = Part> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Token { part, .. } => Some(*part),
            Segment::Literal(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compile_into_tokens_and_literals() {
        let t = Template::compile("username.rules[0].upn", "{first:1}.{last}").unwrap();
        assert_eq!(
            t.segments,
            vec![
                Segment::Token {
                    part: Part::First,
                    take: Some(1)
                },
                Segment::Literal(".".into()),
                Segment::Token {
                    part: Part::Last,
                    take: None
                },
            ]
        );
    }

    #[test]
    fn bad_templates_name_the_key_and_the_problem() {
        for (src, want) in [
            ("{frist}{last}", "unknown token `{frist}`"),
            ("{first:0}{last}", "1 to 64"),
            ("{first", "closing"),
            ("{first} {last}", "literal ' '"),
            ("admin", "no name token"),
        ] {
            let e = Template::compile("username.rules[1].sam", src)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("username.rules[1].sam") && e.contains(want),
                "{src}: {e}"
            );
        }
    }
}
