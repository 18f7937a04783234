//! Every error `dayone-core` can return. Each one knows which step error name
//! (`Dayone.*`) it becomes at a Lambda boundary, so callers never guess.

use serde::Serialize;

use crate::names::TraceEntry;
use crate::step_error::StepErrorName;

/// One problem with one field of a hire, addressed by its JSON path
/// (`legalName.first`, `hireDate`, …) so HR can find it in the source record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// Why a hire event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HireError {
    /// The document is a JSON object, but some fields are missing or wrong.
    #[error("invalid hire: {}; fix these fields in the HR record and resend", join_fields(.fields))]
    Invalid { fields: Vec<FieldError> },
    /// Not JSON, not an object, or larger than the size limit.
    #[error("malformed hire: {0}")]
    Malformed(String),
}

impl HireError {
    pub fn step_error_name(&self) -> StepErrorName {
        StepErrorName::InvalidHire
    }

    /// The field-level errors (empty for a malformed document).
    pub fn fields(&self) -> &[FieldError] {
        match self {
            HireError::Invalid { fields } => fields,
            HireError::Malformed(_) => &[],
        }
    }
}

fn join_fields(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A `dayone.toml` that cannot be used. Messages name the key (`tap.lifetime_minutes`)
/// so the fix is obvious.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not valid TOML, an unknown key, or a value of the wrong type.
    #[error("dayone.toml could not be read: {0}")]
    Parse(String),
    /// A key whose value is out of range or inconsistent with another key.
    #[error("dayone.toml: `{key}` {problem}")]
    Invalid { key: String, problem: String },
    /// A birthright rule whose CEL condition does not compile.
    #[error("dayone.toml: birthright rule `{rule}`: {problem}")]
    Rule { rule: String, problem: String },
}

impl ConfigError {
    pub fn invalid(key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            problem: problem.into(),
        }
    }

    pub fn step_error_name(&self) -> StepErrorName {
        StepErrorName::Misconfigured
    }
}

/// The username policy could not propose a single name for a hire.
///
/// Recommended mapping: `Dayone.InvalidHire`. The only way to get here is a name
/// that yields nothing usable under the policy (for example only symbols, or only
/// digits with `clean.digits = "drop"`); retrying cannot help and the fix is a
/// preferred name in HR, so it is a data problem, not an exhausted namespace
/// (`Dayone.UsernameExhausted` is for the ledger running out of suffixes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error(
        "no username rule produced a usable name for `{name}`: every rule was empty after \
         transliteration and cleaning; give the worker a preferred name in Latin script in HR"
    )]
    NoUsableName {
        /// The name as HR sent it (already validated: no control characters).
        name: String,
        /// Every rule tried and why it was rejected.
        trace: Vec<TraceEntry>,
    },
}

impl UsernameError {
    pub fn step_error_name(&self) -> StepErrorName {
        StepErrorName::InvalidHire
    }

    pub fn trace(&self) -> &[TraceEntry] {
        match self {
            UsernameError::NoUsableName { trace, .. } => trace,
        }
    }
}

/// A birthright rule could not be evaluated for a hire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(
        "birthright rule `{rule}`: condition returned {got}, not true or false; make `when` a boolean expression"
    )]
    NotBoolean { rule: String, got: String },
    #[error("birthright rule `{rule}`: condition failed to evaluate: {message}")]
    Eval { rule: String, message: String },
    #[error(
        "birthright rule `{rule}`: template `{template}` needs hire.{field}, which this hire does not have; \
         guard the rule with `hire.{field} != null`"
    )]
    MissingValue {
        rule: String,
        template: String,
        field: String,
    },
}

impl RuleError {
    pub fn step_error_name(&self) -> StepErrorName {
        StepErrorName::Misconfigured
    }
}
