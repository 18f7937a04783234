//! The username policy engine: from a hire to an ordered list of candidate
//! names, a numeric-suffix fallback, a display name and a decision trace. No I/O:
//! the ledger decides which candidate a worker actually gets.
//!
//! For each `[[username.rules]]` entry, in order, the engine fills the sam, UPN and
//! mail templates from the folded name parts ([`fold`]), truncates to the
//! namespace limits, and either keeps the candidate or records why not
//! (`Empty`, `Reserved`, `Duplicate`) in the trace. The suffix fallback is built
//! on the first rule that produced anything, cut so the digits always fit.
//!
//! The first trace entry is always `rule: "transliterate"` with decision
//! `chosen` and no candidate: it records the folding applied to each name part
//! (`last "Müller" → "mueller" (locale de)`). `TooLong` is never produced here:
//! truncation always makes a candidate fit.
//!
//! Guarantees, whatever the input: a sAMAccountName is `[a-z0-9]{1,max}`, a UPN or
//! mail local part is `[a-z0-9]` plus single inner `.`/`-`/`_`, and nothing ever
//! panics. Templates are compiled once in [`UsernamePolicy::from_config`].

pub mod display;
pub mod fold;
pub mod template;

use std::collections::HashSet;

use crate::config::{CleanConfig, DisplayConfig, Locale, MaxLength, Separator, UsernameConfig};
use crate::error::{ConfigError, UsernameError};
use crate::hire::HireEvent;
use crate::names::{Candidate, Decision, SuffixTemplate, TraceEntry, UsernamePlan};

use fold::{Folded, fold, is_local_separator, push_separator, trim_trailing_separators};
use template::{Part, Segment, Template};

/// The longest sAMAccountName Active Directory accepts.
pub const SAM_LIMIT: usize = 20;
/// The longest UPN / mail local part accepted.
pub const LOCAL_PART_LIMIT: usize = 64;

#[derive(Debug, Clone)]
struct Rule {
    sam: Template,
    upn: Template,
    mail: Template,
}

/// A compiled `[username]` policy. Cheap to share; `plan` takes `&self`.
#[derive(Debug, Clone)]
pub struct UsernamePolicy {
    rules: Vec<Rule>,
    used: [bool; Part::COUNT],
    locale: Locale,
    prefer_preferred: bool,
    clean: CleanConfig,
    display: DisplayConfig,
    upn_domain: String,
    mail_domain: String,
    reserved: HashSet<String>,
    /// The reserved names a suffixed sAMAccountName could equal: suffixed names
    /// always end in a digit, so only such entries matter (usually none, which
    /// keeps every plan free of a copy of the whole list).
    suffix_reserved: Vec<String>,
    max: MaxLength,
    suffix_start: u64,
}

impl UsernamePolicy {
    /// Compile and check a `[username]` section.
    pub fn from_config(cfg: &UsernameConfig) -> Result<UsernamePolicy, ConfigError> {
        if cfg.rules.is_empty() {
            return Err(ConfigError::invalid(
                "username.rules",
                "is empty: add at least one [[username.rules]] with sam = \"{first:1}{last}\"",
            ));
        }
        let mut rules = Vec::with_capacity(cfg.rules.len());
        let mut used = [false; Part::COUNT];
        for (i, r) in cfg.rules.iter().enumerate() {
            let rule = Rule {
                sam: Template::compile(&format!("username.rules[{i}].sam"), &r.sam)?,
                upn: Template::compile(&format!("username.rules[{i}].upn"), r.upn_template())?,
                mail: Template::compile(&format!("username.rules[{i}].mail"), r.mail_template())?,
            };
            for p in rule
                .sam
                .parts()
                .chain(rule.upn.parts())
                .chain(rule.mail.parts())
            {
                used[p.index()] = true;
            }
            rules.push(rule);
        }
        check_range("username.max_length.sam", cfg.max_length.sam, 3, SAM_LIMIT)?;
        check_range(
            "username.max_length.upn",
            cfg.max_length.upn,
            3,
            LOCAL_PART_LIMIT,
        )?;
        check_range(
            "username.max_length.mail",
            cfg.max_length.mail,
            3,
            LOCAL_PART_LIMIT,
        )?;
        check_domain("username.upn_domain", &cfg.upn_domain)?;
        if let Some(d) = &cfg.mail_domain {
            check_domain("username.mail_domain", d)?;
        }
        if !(1..=1_000_000).contains(&cfg.suffix_start) {
            return Err(ConfigError::invalid(
                "username.suffix_start",
                format!("= {} must be between 1 and 1000000", cfg.suffix_start),
            ));
        }
        for (key, rule) in [
            ("username.clean.apostrophes", cfg.clean.apostrophes),
            ("username.clean.spaces", cfg.clean.spaces),
        ] {
            if rule == Separator::Keep {
                return Err(ConfigError::invalid(
                    key,
                    "= \"keep\" is not allowed: that character is not safe in a UPN or mail \
                     address; use \"drop\" or \"dot\"",
                ));
            }
        }
        check_display_format(&cfg.display.format)?;
        let mut reserved_list = Vec::with_capacity(cfg.reserved.len());
        for (i, r) in cfg.reserved.iter().enumerate() {
            let r = r.trim().to_lowercase();
            if r.is_empty() {
                return Err(ConfigError::invalid(
                    format!("username.reserved[{i}]"),
                    "is empty",
                ));
            }
            reserved_list.push(r);
        }
        Ok(UsernamePolicy {
            rules,
            used,
            locale: cfg.locale,
            prefer_preferred: cfg.prefer_preferred_name,
            clean: cfg.clean,
            display: cfg.display.clone(),
            upn_domain: cfg.upn_domain.to_ascii_lowercase(),
            mail_domain: cfg.mail_domain().to_ascii_lowercase(),
            suffix_reserved: reserved_list
                .iter()
                .filter(|r| r.ends_with(|c: char| c.is_ascii_digit()))
                .cloned()
                .collect(),
            reserved: reserved_list.into_iter().collect(),
            max: cfg.max_length,
            suffix_start: cfg.suffix_start,
        })
    }

    /// The first numeric suffix the ledger should try.
    pub fn suffix_start(&self) -> u64 {
        self.suffix_start
    }

    /// Whether `name` (any namespace, any case) is reserved.
    pub fn is_reserved(&self, name: &str) -> bool {
        let local = name.split('@').next().unwrap_or(name);
        self.reserved.contains(&local.to_lowercase())
    }

    /// Everything the policy proposes for one hire.
    pub fn plan(&self, hire: &HireEvent) -> Result<UsernamePlan, UsernameError> {
        let sources = self.sources(hire);
        let mut folded: [Folded; Part::COUNT] = Default::default();
        for (i, src) in sources.iter().enumerate() {
            if let (true, Some(src)) = (self.used[i], src) {
                folded[i] = fold(src, PARTS[i].is_family(), self.locale, &self.clean);
            }
        }

        let mut trace = Vec::with_capacity(self.rules.len() + 1);
        trace.push(TraceEntry {
            rule: "transliterate".into(),
            candidate: None,
            decision: Decision::Chosen,
            detail: self.describe_folding(hire, &sources, &folded),
        });

        let mut candidates: Vec<Candidate> = Vec::with_capacity(self.rules.len());
        let mut base: Option<(String, String, String)> = None;
        for rule in &self.rules {
            let mut sam = expand_sam(&rule.sam, &folded);
            let mut upn = expand_local(&rule.upn, &folded);
            let mut mail = expand_local(&rule.mail, &folded);
            if sam.is_empty() || upn.is_empty() || mail.is_empty() {
                let empty_in = [("sAMAccountName", &sam), ("UPN", &upn), ("mail", &mail)]
                    .iter()
                    .filter(|(_, v)| v.is_empty())
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ");
                trace.push(TraceEntry {
                    rule: rule.sam.source.clone(),
                    candidate: None,
                    decision: Decision::Empty,
                    detail: format!(
                        "nothing left for {empty_in} after transliteration and cleaning{}",
                        missing_parts(&rule.sam, &sources)
                    ),
                });
                continue;
            }
            sam.truncate(self.max.sam);
            truncate_local(&mut upn, self.max.upn);
            truncate_local(&mut mail, self.max.mail);
            if base.is_none() {
                base = Some((sam.clone(), upn.clone(), mail.clone()));
            }
            if let Some(detail) = [("sAMAccountName", &sam), ("UPN", &upn), ("mail", &mail)]
                .iter()
                .find(|(_, v)| self.reserved.contains(v.as_str()))
                .map(|(ns, v)| format!("{ns} `{v}` is on the reserved list"))
            {
                trace.push(TraceEntry {
                    rule: rule.sam.source.clone(),
                    candidate: Some(sam),
                    decision: Decision::Reserved,
                    detail,
                });
                continue;
            }
            let upn_full = format!("{upn}@{}", self.upn_domain);
            let mail_full = format!("{mail}@{}", self.mail_domain);
            if candidates
                .iter()
                .any(|c| c.sam_account_name == sam && c.upn == upn_full && c.mail == mail_full)
            {
                trace.push(TraceEntry {
                    rule: rule.sam.source.clone(),
                    candidate: Some(sam),
                    decision: Decision::Duplicate,
                    detail: format!(
                        "same names as an earlier rule{}",
                        missing_parts(&rule.sam, &sources)
                    ),
                });
                continue;
            }
            candidates.push(Candidate {
                rule: rule.sam.source.clone(),
                sam_account_name: sam,
                upn: upn_full,
                mail: mail_full,
            });
        }

        let Some((sam, upn, mail)) = base else {
            return Err(UsernameError::NoUsableName {
                name: format!("{} {}", hire.legal_name.first, hire.legal_name.last),
                trace,
            });
        };
        let digits = digit_count(self.suffix_start);
        let sam_stem = cut_stem(&sam, self.max.sam, digits);
        let suffix = SuffixTemplate {
            sam_stem: sam_stem.clone(),
            sam_max: self.max.sam,
            upn_stem: cut_stem(&upn, self.max.upn, digits),
            upn_max: self.max.upn,
            upn_domain: self.upn_domain.clone(),
            mail_stem: cut_stem(&mail, self.max.mail, digits),
            mail_max: self.max.mail,
            mail_domain: self.mail_domain.clone(),
            start: self.suffix_start,
            reserved: self.suffix_reserved.clone(),
        };
        let (display_name, cn) = self.display_names(hire);
        Ok(UsernamePlan {
            candidates,
            suffix_key: sam_stem,
            suffix,
            display_name,
            cn,
            trace,
        })
    }

    /// The display name and CN for a hire (also part of every plan).
    pub fn display_names(&self, hire: &HireEvent) -> (String, String) {
        let first =
            display::capitalise(hire.first_name(self.prefer_preferred), false, &self.display);
        let last = display::capitalise(hire.last_name(self.prefer_preferred), true, &self.display);
        let middle = hire
            .legal_name
            .middle
            .as_deref()
            .map(|m| display::capitalise(m, false, &self.display))
            .unwrap_or_default();
        let display_name = display::format_display(&self.display.format, &first, &middle, &last);
        let cn = display::truncate_chars(&display_name, display::MAX_CN_CHARS);
        (display_name, cn)
    }

    fn sources<'a>(&self, hire: &'a HireEvent) -> [Option<&'a str>; Part::COUNT] {
        let preferred = hire.preferred_name.as_ref();
        let pf = preferred.and_then(|p| p.first.as_deref());
        let pl = preferred.and_then(|p| p.last.as_deref());
        let lf = Some(hire.legal_name.first.as_str());
        let ll = Some(hire.legal_name.last.as_str());
        let mut out = [None; Part::COUNT];
        for p in PARTS {
            out[p.index()] = match p {
                Part::First => pf.filter(|_| self.prefer_preferred).or(lf),
                Part::Last => pl.filter(|_| self.prefer_preferred).or(ll),
                Part::Middle => hire.legal_name.middle.as_deref(),
                Part::PreferredFirst => pf.or(lf),
                Part::PreferredLast => pl.or(ll),
                Part::LegalFirst => lf,
                Part::LegalLast => ll,
            };
        }
        out
    }

    fn describe_folding(
        &self,
        hire: &HireEvent,
        sources: &[Option<&str>; Part::COUNT],
        folded: &[Folded; Part::COUNT],
    ) -> String {
        let mut parts = Vec::with_capacity(3);
        for p in PARTS {
            if let (true, Some(src)) = (self.used[p.index()], sources[p.index()]) {
                parts.push(format!(
                    "{} {:?} → {:?}",
                    p.token(),
                    src,
                    folded[p.index()].local
                ));
            }
        }
        let mut s = parts.join(", ");
        s.push_str(&format!(" (locale {})", locale_name(self.locale)));
        if self.prefer_preferred && hire.preferred_name.is_some() {
            s.push_str("; preferred name used for {first}/{last}");
        }
        s
    }
}

const PARTS: [Part; Part::COUNT] = [
    Part::First,
    Part::Middle,
    Part::Last,
    Part::PreferredFirst,
    Part::PreferredLast,
    Part::LegalFirst,
    Part::LegalLast,
];

fn locale_name(l: Locale) -> &'static str {
    match l {
        Locale::None => "none",
        Locale::De => "de",
        Locale::Sv => "sv",
        Locale::Da => "da",
        Locale::Nb => "nb",
    }
}

fn missing_parts(t: &Template, sources: &[Option<&str>; Part::COUNT]) -> String {
    let missing: Vec<&str> = t
        .parts()
        .filter(|p| sources[p.index()].is_none())
        .map(Part::token)
        .collect();
    if missing.is_empty() {
        String::new()
    } else {
        format!(" (the hire has no {})", missing.join(" or "))
    }
}

fn expand_sam(t: &Template, folded: &[Folded; Part::COUNT]) -> String {
    let mut out = String::with_capacity(24);
    for seg in &t.segments {
        match seg {
            Segment::Literal(l) => out.extend(l.chars().filter(char::is_ascii_alphanumeric)),
            Segment::Token { part, take } => {
                let s = &folded[part.index()].sam;
                let n = take.map_or(s.len(), |n| n.min(s.len()));
                // `sam` forms are ASCII, so byte slicing is char slicing.
                out.push_str(&s[..n]);
            }
        }
    }
    out
}

fn expand_local(t: &Template, folded: &[Folded; Part::COUNT]) -> String {
    let mut out = String::with_capacity(32);
    for seg in &t.segments {
        match seg {
            Segment::Literal(l) => push_local(&mut out, l, usize::MAX),
            Segment::Token { part, take } => {
                push_local(
                    &mut out,
                    &folded[part.index()].local,
                    take.unwrap_or(usize::MAX),
                );
            }
        }
    }
    trim_trailing_separators(&mut out);
    out
}

/// Append up to `take` alphanumerics of `s` (separators in between do not count).
fn push_local(out: &mut String, s: &str, take: usize) {
    let mut taken = 0;
    for b in s.bytes() {
        if is_local_separator(b) {
            push_separator(out, b as char);
        } else {
            if taken == take {
                break;
            }
            out.push(b as char);
            taken += 1;
        }
    }
}

fn truncate_local(s: &mut String, max: usize) {
    s.truncate(max);
    trim_trailing_separators(s);
}

fn digit_count(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |l| l as usize + 1)
}

/// The stem of a suffixed name: cut so that at least `digits` digits fit, and
/// never ending on a separator.
fn cut_stem(name: &str, max: usize, digits: usize) -> String {
    let mut s = name.to_string();
    s.truncate(max.saturating_sub(digits).max(1));
    trim_trailing_separators(&mut s);
    s
}

fn check_range(key: &str, v: usize, lo: usize, hi: usize) -> Result<(), ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            format!("= {v} must be between {lo} and {hi}"),
        ))
    }
}

fn check_domain(key: &str, d: &str) -> Result<(), ConfigError> {
    let ok = d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            format!("= {d:?} is not a DNS domain such as \"contoso.com\""),
        ))
    }
}

fn check_display_format(f: &str) -> Result<(), ConfigError> {
    let mut rest = f;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map(|e| start + e).ok_or_else(|| {
            ConfigError::invalid(
                "username.display.format",
                format!("= {f:?} has an unclosed `{{`"),
            )
        })?;
        let token = &rest[start + 1..end];
        if !matches!(token, "first" | "middle" | "last") {
            return Err(ConfigError::invalid(
                "username.display.format",
                format!(
                    "= {f:?} uses `{{{token}}}`; only {{first}}, {{middle}} and {{last}} exist"
                ),
            ));
        }
        rest = &rest[end + 1..];
    }
    if !f.contains("{first}") && !f.contains("{last}") {
        return Err(ConfigError::invalid(
            "username.display.format",
            "must contain {first} or {last}",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
