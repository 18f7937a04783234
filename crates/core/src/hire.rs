//! HireEvent v1: the one document every Joiner flow starts from.
//!
//! Parse, don't validate: [`HireEvent::parse`] turns untrusted JSON into typed
//! values, and every string inside a `HireEvent` has already been normalised and
//! checked. Downstream code (username policy, connectors, templates) can rely on:
//!
//! * whitespace trimmed, runs collapsed to one ASCII space, text in Unicode NFC;
//! * no control characters: tab, CR and LF count as whitespace; any other control
//!   character (NUL, ESC, DEL, C1 controls) is **rejected** with a field error,
//!   because it means the HR export is corrupt;
//! * no invisible format characters: bidi marks, embeddings, overrides and isolates
//!   (U+200E/F, U+202A–U+202E, U+2066–U+2069, U+061C), zero-width characters
//!   (U+200B–U+200D, U+2060, U+FEFF), soft hyphens and tag characters are
//!   **stripped silently**. They carry no visible content, they arrive in
//!   copy-pasted data from right-to-left systems, and stripping them (rather than
//!   refusing the hire) keeps a legitimate joiner's Day 1 on track while making
//!   sure they can never reach a username, display name or log line;
//! * size limits: a whole event at most [`MAX_EVENT_BYTES`] (else `Malformed`),
//!   names at most [`MAX_NAME_CHARS`] characters, other text at most
//!   [`MAX_TEXT_CHARS`] (else a field error).
//!
//! Unknown fields are ignored; `null` and `""` in an optional field mean "absent".

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

pub use crate::error::{FieldError, HireError};

/// The largest hire event accepted, in bytes of JSON.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// The longest name part (first, middle, last, preferred) in characters.
pub const MAX_NAME_CHARS: usize = 256;
/// The longest free-text field (department, location, job title…) in characters.
pub const MAX_TEXT_CHARS: usize = 256;
/// The longest identifier (eventId, workerId) in characters.
pub const MAX_ID_CHARS: usize = 128;
/// The longest e-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// Characters that are invisible formatting rather than content. They are
/// stripped from every text field (see the module docs for why).
pub fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{034F}'                    // combining grapheme joiner
        | '\u{061C}'                    // Arabic letter mark
        | '\u{115F}' | '\u{1160}'       // Hangul fillers
        | '\u{180E}'                    // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}'       // zero-width space/non-joiner/joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}'       // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}'       // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}'       // bidi isolates, deprecated format controls
        | '\u{3164}'                    // Hangul filler
        | '\u{FEFF}'                    // zero-width no-break space / BOM
        | '\u{FFA0}'                    // halfwidth Hangul filler
        | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation
        | '\u{E0000}'..='\u{E007F}' // tag characters
    )
}

/// Normalise one free-text value: strip invisible format characters, collapse
/// whitespace, refuse control characters, NFC. The error is the problem text
/// (the caller adds the field path).
pub fn normalize_text(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        if is_invisible_format(c) {
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if c.is_control() {
            return Err(format!(
                "contains the control character U+{:04X}; remove it from the HR record",
                c as u32
            ));
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    // Fast path: pure ASCII is already NFC.
    if out.is_ascii() {
        Ok(out)
    } else {
        Ok(out.nfc().collect())
    }
}

macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }
        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                $name::parse(s)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

text_newtype!(
    /// An identifier from the HR system (eventId, workerId): 1–128 characters
    /// from `A-Z a-z 0-9 . _ - : / @ + =`. Kept narrow because it becomes part of
    /// ledger keys and Step Functions execution names.
    Id
);

/// The Workday event id (idempotency key).
pub type EventId = Id;
/// The HR worker id (ledger owner key).
pub type WorkerId = Id;

impl Id {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.chars().count() > MAX_ID_CHARS {
            return Err(format!("is longer than {MAX_ID_CHARS} characters"));
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._-:/@+=".contains(*c)))
        {
            return Err(format!(
                "contains {bad:?}; identifiers may only use letters, digits and . _ - : / @ + ="
            ));
        }
        Ok(Id(s.to_string()))
    }
}

text_newtype!(
    /// One part of a person's name (first, middle, last), normalised: see the
    /// module docs. Keeps the original script, accents and capitalisation.
    NamePart
);

impl NamePart {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = normalize_text(raw)?;
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        let n = s.chars().count();
        if n > MAX_NAME_CHARS {
            return Err(format!(
                "is {n} characters long; names may be at most {MAX_NAME_CHARS}"
            ));
        }
        if !s.chars().any(char::is_alphabetic) {
            return Err("must contain at least one letter".into());
        }
        Ok(NamePart(s))
    }
}

text_newtype!(
    /// Free text such as a department, location or job title, normalised.
    Text
);

impl Text {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = normalize_text(raw)?;
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        let n = s.chars().count();
        if n > MAX_TEXT_CHARS {
            return Err(format!(
                "is {n} characters long; the limit is {MAX_TEXT_CHARS}"
            ));
        }
        Ok(Text(s))
    }
}

text_newtype!(
    /// An e-mail address that passed a sanity check (one `@`, a dotted domain,
    /// printable ASCII, no spaces or quoting). The domain is lowercased.
    Email
);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > MAX_EMAIL_CHARS {
            return Err(format!("is longer than {MAX_EMAIL_CHARS} characters"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("is not an e-mail address (no @)".into());
        };
        if local.is_empty() || local.len() > 64 {
            return Err("has an empty or over-long part before the @".into());
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !c.is_ascii_graphic() || "<>()[]\\,;:\"".contains(*c))
        {
            return Err(format!(
                "contains {bad:?}, which is not allowed in an e-mail address"
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err("has a misplaced dot before the @".into());
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return Err(format!("has an invalid domain `{domain}`"));
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(l, _)| l)
    }

    pub fn domain(&self) -> &str {
        self.0.split_once('@').map_or("", |(_, d)| d)
    }
}

text_newtype!(
    /// An ISO 3166-1 alpha-2 country code, uppercase (`DE`, `US`).
    CountryCode
);

/// Officially assigned ISO 3166-1 alpha-2 codes.
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI \
BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ \
DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ \
GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN \
KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS \
MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT \
PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF \
TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

impl CountryCode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_ascii_uppercase();
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "`{}` is not an ISO 3166-1 alpha-2 country code (two letters, e.g. DE)",
                raw.trim()
            ));
        }
        if !ISO_3166_ALPHA2.split(' ').any(|c| c == s) {
            return Err(format!(
                "`{s}` is not an assigned ISO 3166-1 alpha-2 country code"
            ));
        }
        Ok(CountryCode(s))
    }
}

text_newtype!(
    /// An IANA time zone name that chrono-tz knows (`Europe/Berlin`).
    Timezone
);

impl Timezone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        match chrono_tz::Tz::from_str(s) {
            Ok(tz) => Ok(Timezone(tz.name().to_string())),
            Err(_) => Err(format!(
                "`{s}` is not an IANA time zone name (e.g. Europe/Berlin, America/New_York)"
            )),
        }
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        // Parsed through chrono-tz, so this cannot fail; UTC keeps it panic-free anyway.
        chrono_tz::Tz::from_str(&self.0).unwrap_or(chrono_tz::Tz::UTC)
    }
}

/// The kind of worker, which drives birthright rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerType {
    Employee,
    Contractor,
    Intern,
}

impl WorkerType {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerType::Employee => "employee",
            WorkerType::Contractor => "contractor",
            WorkerType::Intern => "intern",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "employee" => Ok(WorkerType::Employee),
            "contractor" => Ok(WorkerType::Contractor),
            "intern" => Ok(WorkerType::Intern),
            other => Err(format!(
                "`{other}` is not a worker type; use employee, contractor or intern"
            )),
        }
    }
}

impl fmt::Display for WorkerType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The legal name as HR holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonName {
    pub first: NamePart,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle: Option<NamePart>,
    pub last: NamePart,
}

/// The name the worker goes by, when it differs from the legal name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferredName {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<NamePart>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<NamePart>,
}

/// HireEvent v1 (see DESIGN.md). Build it with [`HireEvent::parse`] or
/// [`HireEvent::from_value`]; deserialising with serde runs the same validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "serde_json::Value")]
pub struct HireEvent {
    pub event_id: Id,
    pub worker_id: Id,
    pub worker_type: WorkerType,
    pub legal_name: PersonName,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_name: Option<PreferredName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_email: Option<Email>,
    pub hire_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Timezone>,
    pub department: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_center: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Text>,
    pub country: CountryCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_title: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager_worker_id: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager_email: Option<Email>,
}

impl TryFrom<Value> for HireEvent {
    type Error = HireError;
    fn try_from(v: Value) -> Result<Self, HireError> {
        HireEvent::from_value(v)
    }
}

impl HireEvent {
    /// Parse a hire from JSON text. Larger than [`MAX_EVENT_BYTES`] or not a JSON
    /// object is `Malformed`; everything else wrong is reported per field, all at once.
    pub fn parse(json: &str) -> Result<HireEvent, HireError> {
        if json.len() > MAX_EVENT_BYTES {
            return Err(too_big(json.len()));
        }
        let value: Value = serde_json::from_str(json)
            .map_err(|e| HireError::Malformed(format!("not valid JSON: {e}")))?;
        Self::validate(value)
    }

    /// Validate an already-parsed JSON value (e.g. a Step Functions input).
    pub fn from_value(v: Value) -> Result<HireEvent, HireError> {
        // The size limit applies to a value too, so every entry point agrees.
        let size = serde_json::to_vec(&v)
            .map(|b| b.len())
            .unwrap_or(usize::MAX);
        if size > MAX_EVENT_BYTES {
            return Err(too_big(size));
        }
        Self::validate(v)
    }

    fn validate(v: Value) -> Result<HireEvent, HireError> {
        let Value::Object(obj) = v else {
            return Err(HireError::Malformed(format!(
                "a hire must be a JSON object, got {}",
                kind(&v)
            )));
        };
        let mut f = Fields { errors: Vec::new() };

        let event_id = f.required(&obj, "", "eventId", Id::parse);
        let worker_id = f.required(&obj, "", "workerId", Id::parse);
        let worker_type = f.required(&obj, "", "workerType", WorkerType::parse);
        let legal_name = match obj.get("legalName") {
            None | Some(Value::Null) => {
                f.push("legalName", "is required");
                None
            }
            Some(Value::Object(name)) => {
                let first = f.required(name, "legalName.", "first", NamePart::parse);
                let middle = f.optional(name, "legalName.", "middle", NamePart::parse);
                let last = f.required(name, "legalName.", "last", NamePart::parse);
                match (first, last) {
                    (Some(first), Some(last)) => Some(PersonName {
                        first,
                        middle,
                        last,
                    }),
                    _ => None,
                }
            }
            Some(other) => {
                f.push(
                    "legalName",
                    format!("must be an object with first and last, got {}", kind(other)),
                );
                None
            }
        };
        let preferred_name = match obj.get("preferredName") {
            None | Some(Value::Null) => None,
            Some(Value::Object(name)) => {
                let first = f.optional(name, "preferredName.", "first", NamePart::parse);
                let last = f.optional(name, "preferredName.", "last", NamePart::parse);
                (first.is_some() || last.is_some()).then_some(PreferredName { first, last })
            }
            Some(other) => {
                f.push(
                    "preferredName",
                    format!("must be an object, got {}", kind(other)),
                );
                None
            }
        };
        let personal_email = f.optional(&obj, "", "personalEmail", Email::parse);
        let hire_date = f.required(&obj, "", "hireDate", parse_date);
        let timezone = f.optional(&obj, "", "timezone", Timezone::parse);
        let department = f.required(&obj, "", "department", Text::parse);
        let cost_center = f.optional(&obj, "", "costCenter", Text::parse);
        let location = f.optional(&obj, "", "location", Text::parse);
        let country = f.required(&obj, "", "country", CountryCode::parse);
        let job_title = f.optional(&obj, "", "jobTitle", Text::parse);
        let manager_worker_id = f.optional(&obj, "", "managerWorkerId", Id::parse);
        let manager_email = f.optional(&obj, "", "managerEmail", Email::parse);

        match (
            event_id,
            worker_id,
            worker_type,
            legal_name,
            hire_date,
            department,
            country,
        ) {
            (
                Some(event_id),
                Some(worker_id),
                Some(worker_type),
                Some(legal_name),
                Some(hire_date),
                Some(department),
                Some(country),
            ) if f.errors.is_empty() => Ok(HireEvent {
                event_id,
                worker_id,
                worker_type,
                legal_name,
                preferred_name,
                personal_email,
                hire_date,
                timezone,
                department,
                cost_center,
                location,
                country,
                job_title,
                manager_worker_id,
                manager_email,
            }),
            _ => Err(HireError::Invalid { fields: f.errors }),
        }
    }

    /// The first name to use: the preferred one when `prefer_preferred` and HR has one.
    pub fn first_name(&self, prefer_preferred: bool) -> &NamePart {
        match &self.preferred_name {
            Some(PreferredName { first: Some(p), .. }) if prefer_preferred => p,
            _ => &self.legal_name.first,
        }
    }

    /// The last name to use: the preferred one when `prefer_preferred` and HR has one.
    pub fn last_name(&self, prefer_preferred: bool) -> &NamePart {
        match &self.preferred_name {
            Some(PreferredName { last: Some(p), .. }) if prefer_preferred => p,
            _ => &self.legal_name.last,
        }
    }

    /// The worker's time zone, or `default` when HR sent none.
    pub fn tz_or(&self, default: chrono_tz::Tz) -> chrono_tz::Tz {
        self.timezone.as_ref().map_or(default, Timezone::tz)
    }
}

fn too_big(size: usize) -> HireError {
    HireError::Malformed(format!(
        "the hire is {size} bytes; the limit is {MAX_EVENT_BYTES} bytes"
    ))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let s = raw.trim();
    let shape_ok = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape_ok {
        return Err(format!("`{s}` is not a date in the form YYYY-MM-DD"));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("`{s}` is not a real calendar date"))
}

/// Collects field errors while reading an object, so one response lists them all.
struct Fields {
    errors: Vec<FieldError>,
}

impl Fields {
    fn push(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.errors.push(FieldError::new(field, problem));
    }

    /// The raw text of a field: strings as-is, integers (HR systems send numeric
    /// ids) as decimal. `Ok(None)` for absent, null or blank.
    fn text<'a>(
        obj: &'a Map<String, Value>,
        key: &str,
    ) -> Result<Option<std::borrow::Cow<'a, str>>, String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(std::borrow::Cow::Borrowed(s))),
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {
                Ok(Some(std::borrow::Cow::Owned(n.to_string())))
            }
            Some(other) => Err(format!("must be a string, got {}", kind(other))),
        }
    }

    fn required<T>(
        &mut self,
        obj: &Map<String, Value>,
        prefix: &str,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match Self::text(obj, key) {
            Ok(Some(s)) => parse(&s)
                .map_err(|p| self.push(format!("{prefix}{key}"), p))
                .ok(),
            Ok(None) => {
                self.push(format!("{prefix}{key}"), "is required");
                None
            }
            Err(p) => {
                self.push(format!("{prefix}{key}"), p);
                None
            }
        }
    }

    fn optional<T>(
        &mut self,
        obj: &Map<String, Value>,
        prefix: &str,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        match Self::text(obj, key) {
            Ok(Some(s)) => parse(&s)
                .map_err(|p| self.push(format!("{prefix}{key}"), p))
                .ok(),
            Ok(None) => None,
            Err(p) => {
                self.push(format!("{prefix}{key}"), p);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "eventId": "EVT-2026-0001",
            "workerId": "21001",
            "workerType": "employee",
            "legalName": {"first": "José", "middle": "Luis", "last": "Núñez"},
            "preferredName": {"first": "Pepe"},
            "personalEmail": "jose.nunez@example.org",
            "hireDate": "2026-03-02",
            "timezone": "Europe/Madrid",
            "department": "Engineering",
            "costCenter": "CC-1001",
            "location": "Madrid",
            "country": "es",
            "jobTitle": "Software Engineer",
            "managerWorkerId": "20001",
            "managerEmail": "ana.garcia@contoso.com",
            "someWorkdayExtension": {"ignored": true}
        })
    }

    fn with(patch: impl FnOnce(&mut Map<String, Value>)) -> Result<HireEvent, HireError> {
        let mut v = valid();
        patch(v.as_object_mut().unwrap());
        HireEvent::from_value(v)
    }

    fn field_problem(err: &HireError, field: &str) -> String {
        err.fields()
            .iter()
            .find(|f| f.field == field)
            .unwrap_or_else(|| panic!("no error for {field}: {err}"))
            .problem
            .clone()
    }

    #[test]
    fn a_complete_hire_parses_into_typed_fields() {
        let hire = HireEvent::parse(&valid().to_string()).unwrap();
        assert_eq!(hire.worker_id, "21001");
        assert_eq!(hire.worker_type, WorkerType::Employee);
        assert_eq!(hire.legal_name.first, "José");
        assert_eq!(hire.legal_name.middle.as_deref(), Some("Luis"));
        assert_eq!(hire.hire_date, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(hire.country, "ES", "country codes are uppercased");
        assert_eq!(
            hire.timezone.as_ref().unwrap().tz(),
            chrono_tz::Europe::Madrid
        );
        assert_eq!(hire.first_name(true), "Pepe");
        assert_eq!(hire.first_name(false), "José");
        assert_eq!(
            hire.last_name(true),
            "Núñez",
            "no preferred last: legal one"
        );
    }

    #[test]
    fn serialising_a_hire_gives_back_the_v1_json_shape() {
        let hire = HireEvent::from_value(valid()).unwrap();
        let out = serde_json::to_value(&hire).unwrap();
        assert_eq!(out["legalName"]["first"], "José");
        assert_eq!(out["hireDate"], "2026-03-02");
        assert_eq!(out["workerType"], "employee");
        assert!(out.get("someWorkdayExtension").is_none());
        // And it reads back through serde with the same validation.
        let again: HireEvent = serde_json::from_value(out).unwrap();
        assert_eq!(again, hire);
    }

    #[test]
    fn serde_deserialisation_validates_too() {
        let mut v = valid();
        v["country"] = json!("XX");
        let err = serde_json::from_value::<HireEvent>(v).unwrap_err();
        assert!(err.to_string().contains("country"), "{err}");
    }

    #[test]
    fn missing_required_fields_are_all_reported_by_json_path() {
        let err = HireEvent::parse(r#"{"legalName": {"middle": "X"}}"#).unwrap_err();
        let fields: Vec<&str> = err.fields().iter().map(|f| f.field.as_str()).collect();
        for want in [
            "eventId",
            "workerId",
            "workerType",
            "legalName.first",
            "legalName.last",
            "hireDate",
            "department",
            "country",
        ] {
            assert!(fields.contains(&want), "{want} missing from {fields:?}");
        }
        assert_eq!(field_problem(&err, "legalName.first"), "is required");
    }

    #[test]
    fn whitespace_is_trimmed_collapsed_and_text_is_nfc() {
        let hire = with(|o| {
            // "e" + combining acute, tabs and non-breaking spaces.
            o["legalName"]["first"] = json!("  Jose\u{301}\t\u{a0} Luis \n");
            o["department"] = json!(" Research   and\u{2003}Development ");
        })
        .unwrap();
        assert_eq!(hire.legal_name.first, "José Luis");
        assert_eq!(hire.legal_name.first.as_str(), "Jos\u{e9} Luis");
        assert_eq!(hire.department, "Research and Development");
    }

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_stripped_from_names() {
        let hire = with(|o| {
            o["legalName"]["first"] = json!("\u{202E}nhoJ\u{202C}");
            o["legalName"]["last"] = json!("Sm\u{200B}i\u{2066}t\u{2069}h\u{200F}\u{FEFF}");
        })
        .unwrap();
        assert_eq!(hire.legal_name.first, "nhoJ");
        assert_eq!(hire.legal_name.last, "Smith");
        for c in hire
            .legal_name
            .last
            .chars()
            .chain(hire.legal_name.first.chars())
        {
            assert!(!is_invisible_format(c));
        }
    }

    #[test]
    fn control_characters_are_rejected_with_a_field_error() {
        let err = with(|o| o["legalName"]["last"] = json!("Smi\u{0}th")).unwrap_err();
        assert!(field_problem(&err, "legalName.last").contains("U+0000"));
        let err = with(|o| o["department"] = json!("Eng\u{1b}[31m")).unwrap_err();
        assert!(field_problem(&err, "department").contains("control character"));
    }

    #[test]
    fn a_5000_character_name_is_a_field_error_not_a_panic() {
        let err = with(|o| o["legalName"]["last"] = json!("a".repeat(5000))).unwrap_err();
        assert!(matches!(err, HireError::Invalid { .. }));
        assert!(field_problem(&err, "legalName.last").contains("at most 256"));
    }

    #[test]
    fn an_event_over_64_kib_is_malformed() {
        let err = with(|o| o["jobTitle"] = json!("x".repeat(70_000))).unwrap_err();
        assert!(
            matches!(err, HireError::Malformed(ref m) if m.contains("65536")),
            "{err}"
        );
        let text = valid()
            .to_string()
            .replace("Engineering", &"E".repeat(70_000));
        assert!(matches!(
            HireEvent::parse(&text),
            Err(HireError::Malformed(_))
        ));
    }

    #[test]
    fn non_json_and_non_objects_are_malformed() {
        assert!(matches!(
            HireEvent::parse("{not json"),
            Err(HireError::Malformed(_))
        ));
        assert!(
            matches!(HireEvent::parse("[1,2]"), Err(HireError::Malformed(m)) if m.contains("array"))
        );
        assert!(matches!(HireEvent::parse(""), Err(HireError::Malformed(_))));
    }

    #[test]
    fn hire_date_must_be_a_real_yyyy_mm_dd_date() {
        for bad in [
            "2026-3-2",
            "02.03.2026",
            "2026-02-30",
            "2026-03-02T00:00:00Z",
        ] {
            let err = with(|o| o["hireDate"] = json!(bad)).unwrap_err();
            assert!(
                field_problem(&err, "hireDate").contains(bad.trim()),
                "{bad}"
            );
        }
    }

    #[test]
    fn country_must_be_an_assigned_iso_code() {
        assert!(
            field_problem(
                &with(|o| o["country"] = json!("Germany")).unwrap_err(),
                "country"
            )
            .contains("two letters")
        );
        assert!(
            field_problem(
                &with(|o| o["country"] = json!("XK")).unwrap_err(),
                "country"
            )
            .contains("not an assigned")
        );
    }

    #[test]
    fn timezone_must_be_iana() {
        let err = with(|o| o["timezone"] = json!("CEST")).unwrap_err();
        assert!(field_problem(&err, "timezone").contains("IANA"));
        let hire = with(|o| o.remove("timezone").map(|_| ()).unwrap()).unwrap();
        assert_eq!(hire.tz_or(chrono_tz::UTC), chrono_tz::UTC);
    }

    #[test]
    fn emails_are_sanity_checked() {
        for bad in [
            "nobody",
            "a@b",
            "a b@example.com",
            "a@exa_mple.com",
            "\"x\"@example.com",
            "a..b@example.com",
        ] {
            let err = with(|o| o["managerEmail"] = json!(bad)).unwrap_err();
            assert_eq!(err.fields()[0].field, "managerEmail", "{bad}");
        }
        let hire = with(|o| o["managerEmail"] = json!(" Ana.Garcia@Contoso.COM ")).unwrap();
        assert_eq!(hire.manager_email.unwrap(), "Ana.Garcia@contoso.com");
    }

    #[test]
    fn worker_type_accepts_the_three_kinds_only() {
        assert_eq!(
            with(|o| o["workerType"] = json!("Contractor"))
                .unwrap()
                .worker_type,
            WorkerType::Contractor
        );
        assert_eq!(
            with(|o| o["workerType"] = json!("intern"))
                .unwrap()
                .worker_type,
            WorkerType::Intern
        );
        let err = with(|o| o["workerType"] = json!("freelancer")).unwrap_err();
        assert!(field_problem(&err, "workerType").contains("employee, contractor or intern"));
    }

    #[test]
    fn blank_and_null_optionals_are_absent_and_numeric_ids_are_accepted() {
        let hire = with(|o| {
            o["costCenter"] = json!("");
            o["location"] = Value::Null;
            o["preferredName"] = json!({"first": " "});
            o["workerId"] = json!(21001);
        })
        .unwrap();
        assert_eq!(hire.cost_center, None);
        assert_eq!(hire.location, None);
        assert_eq!(hire.preferred_name, None);
        assert_eq!(hire.worker_id, "21001");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let err = with(|o| {
            o["legalName"] = json!("José Núñez");
            o["department"] = json!(["Eng"]);
        })
        .unwrap_err();
        assert!(field_problem(&err, "legalName").contains("object"));
        assert!(field_problem(&err, "department").contains("an array"));
    }

    #[test]
    fn names_without_any_letter_are_refused() {
        let err = with(|o| o["legalName"]["first"] = json!("😀 1=1")).unwrap_err();
        assert!(field_problem(&err, "legalName.first").contains("letter"));
    }

    #[test]
    fn ids_reject_characters_that_could_break_keys() {
        let err = with(|o| o["workerId"] = json!("21001#NAME")).unwrap_err();
        assert!(field_problem(&err, "workerId").contains('#'));
    }

    #[test]
    fn the_error_message_lists_every_field_for_a_human() {
        let err = with(|o| {
            o["country"] = json!("ZZ");
            o["hireDate"] = json!("tomorrow");
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("hireDate:") && msg.contains("country:"),
            "{msg}"
        );
        assert_eq!(err.step_error_name().as_str(), "Dayone.InvalidHire");
    }
}
