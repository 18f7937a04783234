//! Birthright access: which groups and apps a hire gets on Day 1.
//!
//! Each `[[birthright.rules]]` has a CEL condition over `hire` (the HireEvent
//! JSON shape: `hire.workerType`, `hire.legalName.first`, `hire.costCenter`, …;
//! absent optional fields are `null`) and the groups/apps it grants. Group names
//! may be templates such as `dept-{department}-{location}`: the values are
//! transliterated to ASCII, lowercased and reduced to `[a-z0-9-]` so HR text can
//! never inject anything into a group name.
//!
//! Conditions are compiled, and test-run against a sample hire, when the policy
//! loads: a typo or a non-boolean condition is a [`ConfigError`] naming the rule,
//! not a failed Joiner flow.

use std::collections::{HashMap, HashSet};

use cel_interpreter::{Context, Program, Value};
use serde::{Deserialize, Serialize};

use crate::config::{BirthrightConfig, BirthrightRule};
use crate::error::{ConfigError, RuleError};
use crate::hire::HireEvent;

/// What one matching rule grants. Groups already granted by an earlier rule are
/// left out, so across all grants each group appears once, in rule order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub rule: String,
    pub groups: Vec<String>,
    pub apps: Vec<String>,
}

/// Hire fields a group template may use, by their JSON names.
const TEMPLATE_FIELDS: &[&str] = &[
    "department",
    "location",
    "costCenter",
    "country",
    "workerType",
    "jobTitle",
];

#[derive(Debug)]
struct CompiledRule {
    name: String,
    program: Program,
    groups: Vec<String>,
    apps: Vec<String>,
}

/// Compiled birthright rules.
#[derive(Debug)]
pub struct Birthright {
    rules: Vec<CompiledRule>,
}

impl Birthright {
    pub fn from_config(cfg: &BirthrightConfig) -> Result<Birthright, ConfigError> {
        let mut rules = Vec::with_capacity(cfg.rules.len());
        let mut names = HashSet::new();
        for (i, r) in cfg.rules.iter().enumerate() {
            rules.push(compile_rule(i, r, &mut names)?);
        }
        for (app, role) in &cfg.app_roles {
            if !cfg.rules.iter().any(|r| r.apps.contains(app)) {
                return Err(ConfigError::invalid(
                    format!("birthright.app_roles.{app}"),
                    "names an app that no [[birthright.rules]] grants; check the spelling",
                ));
            }
            if role.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("birthright.app_roles.{app}"),
                    "is empty; give the role's value, display name or id",
                ));
            }
        }
        let birthright = Birthright { rules };
        // Dry-run every condition on a complete sample hire: catches references to
        // variables other than `hire` and conditions that are not boolean.
        let sample = sample_context();
        for rule in &birthright.rules {
            match rule.program.execute(&sample) {
                Ok(Value::Bool(_)) => {}
                Ok(other) => {
                    return Err(ConfigError::Rule {
                        rule: rule.name.clone(),
                        problem: format!(
                            "`when` must be true or false, but it gives {}",
                            describe(&other)
                        ),
                    });
                }
                Err(e) => {
                    let msg = e.to_string();
                    // Only a wrong variable name is certain to fail for every hire;
                    // data-dependent errors are reported when they happen.
                    if msg.contains("Undeclared") || msg.contains("undeclared") {
                        return Err(ConfigError::Rule {
                            rule: rule.name.clone(),
                            problem: format!("`when` refers to something other than `hire`: {msg}"),
                        });
                    }
                }
            }
        }
        Ok(birthright)
    }

    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.name.as_str())
    }

    /// The grants of every rule whose condition holds for `hire`, in rule order.
    pub fn evaluate(&self, hire: &HireEvent) -> Result<Vec<Grant>, RuleError> {
        let mut ctx = Context::default();
        ctx.add_variable_from_value("hire", hire_value(hire));
        let mut seen_groups = HashSet::new();
        let mut seen_apps = HashSet::new();
        let mut grants = Vec::new();
        for rule in &self.rules {
            match rule.program.execute(&ctx) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => continue,
                Ok(other) => {
                    return Err(RuleError::NotBoolean {
                        rule: rule.name.clone(),
                        got: describe(&other),
                    });
                }
                Err(e) => {
                    return Err(RuleError::Eval {
                        rule: rule.name.clone(),
                        message: e.to_string(),
                    });
                }
            }
            let mut groups = Vec::with_capacity(rule.groups.len());
            for g in &rule.groups {
                let name = fill_group(&rule.name, g, hire)?;
                if seen_groups.insert(name.clone()) {
                    groups.push(name);
                }
            }
            let apps = rule
                .apps
                .iter()
                .filter(|a| seen_apps.insert((*a).clone()))
                .cloned()
                .collect();
            grants.push(Grant {
                rule: rule.name.clone(),
                groups,
                apps,
            });
        }
        Ok(grants)
    }

    /// All groups of a set of grants, in order.
    pub fn groups(grants: &[Grant]) -> Vec<&str> {
        grants
            .iter()
            .flat_map(|g| g.groups.iter().map(String::as_str))
            .collect()
    }
}

fn compile_rule(
    i: usize,
    r: &BirthrightRule,
    names: &mut HashSet<String>,
) -> Result<CompiledRule, ConfigError> {
    let name = r.name.trim().to_string();
    if name.is_empty() {
        return Err(ConfigError::invalid(
            format!("birthright.rules[{i}].name"),
            "is empty: give every rule a name so grants can be explained",
        ));
    }
    if !names.insert(name.clone()) {
        return Err(ConfigError::Rule {
            rule: name,
            problem: "the name is used by another rule; rule names must be unique".into(),
        });
    }
    // The parser is third-party code; a panic on odd input must not take down the loader.
    let compiled = std::panic::catch_unwind(|| Program::compile(&r.when));
    let program = match compiled {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            return Err(ConfigError::Rule {
                rule: name,
                problem: format!("`when` is not valid CEL: {e}"),
            });
        }
        Err(_) => {
            return Err(ConfigError::Rule {
                rule: name,
                problem: "`when` could not be parsed as CEL".into(),
            });
        }
    };
    for g in &r.groups {
        check_group_template(g).map_err(|problem| ConfigError::Rule {
            rule: name.clone(),
            problem,
        })?;
    }
    for a in &r.apps {
        if a.trim().is_empty() {
            return Err(ConfigError::Rule {
                rule: name,
                problem: "an entry of `apps` is empty".into(),
            });
        }
    }
    Ok(CompiledRule {
        name,
        program,
        groups: r.groups.clone(),
        apps: r.apps.clone(),
    })
}

fn check_group_template(g: &str) -> Result<(), String> {
    if g.trim().is_empty() {
        return Err("an entry of `groups` is empty".into());
    }
    let mut rest = g;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            return Err(format!("group `{g}` has an unclosed `{{`"));
        };
        let token = &rest[start + 1..start + len];
        if !TEMPLATE_FIELDS.contains(&token) {
            return Err(format!(
                "group `{g}` uses `{{{token}}}`; templates may use {}",
                TEMPLATE_FIELDS
                    .iter()
                    .map(|f| format!("{{{f}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &rest[start + len + 1..];
    }
    if rest.contains('}') {
        return Err(format!("group `{g}` has a stray `}}`"));
    }
    Ok(())
}

fn template_value<'a>(hire: &'a HireEvent, field: &str) -> Option<&'a str> {
    match field {
        "department" => Some(hire.department.as_str()),
        "location" => hire.location.as_deref(),
        "costCenter" => hire.cost_center.as_deref(),
        "country" => Some(hire.country.as_str()),
        "workerType" => Some(hire.worker_type.as_str()),
        "jobTitle" => hire.job_title.as_deref(),
        _ => None,
    }
}

fn fill_group(rule: &str, template: &str, hire: &HireEvent) -> Result<String, RuleError> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').unwrap_or(rest.len() - start);
        let field = &rest[start + 1..end.min(rest.len())];
        let value = template_value(hire, field)
            .map(sanitise)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| RuleError::MissingValue {
                rule: rule.to_string(),
                template: template.to_string(),
                field: field.to_string(),
            })?;
        out.push_str(&value);
        rest = rest.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

/// HR text → `[a-z0-9-]`: transliterated, lowercased, other runs become one `-`.
pub fn sanitise(value: &str) -> String {
    let ascii = any_ascii::any_ascii(value);
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("the string {:?}", s.as_str()),
        Value::Int(i) => format!("the number {i}"),
        Value::UInt(i) => format!("the number {i}"),
        Value::Float(f) => format!("the number {f}"),
        Value::Null => "null".into(),
        Value::List(_) => "a list".into(),
        Value::Map(_) => "a map".into(),
        other => format!("{other:?}"),
    }
}

fn opt(v: Option<&str>) -> Value {
    v.map_or(Value::Null, Value::from)
}

/// The hire as CEL sees it: the HireEvent JSON shape with `null` for absent fields.
fn hire_value(h: &HireEvent) -> Value {
    let mut legal: HashMap<String, Value> = HashMap::new();
    legal.insert("first".into(), h.legal_name.first.as_str().into());
    legal.insert("middle".into(), opt(h.legal_name.middle.as_deref()));
    legal.insert("last".into(), h.legal_name.last.as_str().into());
    let preferred = h.preferred_name.as_ref().map_or(Value::Null, |p| {
        let mut m: HashMap<String, Value> = HashMap::new();
        m.insert("first".into(), opt(p.first.as_deref()));
        m.insert("last".into(), opt(p.last.as_deref()));
        Value::from(m)
    });
    let mut m: HashMap<String, Value> = HashMap::new();
    m.insert("eventId".into(), h.event_id.as_str().into());
    m.insert("workerId".into(), h.worker_id.as_str().into());
    m.insert("workerType".into(), h.worker_type.as_str().into());
    m.insert("legalName".into(), Value::from(legal));
    m.insert("preferredName".into(), preferred);
    m.insert("personalEmail".into(), opt(h.personal_email.as_deref()));
    m.insert(
        "hireDate".into(),
        h.hire_date.format("%Y-%m-%d").to_string().into(),
    );
    m.insert("timezone".into(), opt(h.timezone.as_deref()));
    m.insert("department".into(), h.department.as_str().into());
    m.insert("costCenter".into(), opt(h.cost_center.as_deref()));
    m.insert("location".into(), opt(h.location.as_deref()));
    m.insert("country".into(), h.country.as_str().into());
    m.insert("jobTitle".into(), opt(h.job_title.as_deref()));
    m.insert(
        "managerWorkerId".into(),
        opt(h.manager_worker_id.as_deref()),
    );
    m.insert("managerEmail".into(), opt(h.manager_email.as_deref()));
    Value::from(m)
}

fn sample_context() -> Context<'static> {
    let sample = HireEvent::from_value(serde_json::json!({
        "eventId": "sample", "workerId": "sample", "workerType": "employee",
        "legalName": {"first": "Sam", "middle": "Q", "last": "Sample"},
        "preferredName": {"first": "Sam", "last": "Sample"},
        "personalEmail": "sam@example.com", "hireDate": "2026-01-05", "timezone": "UTC",
        "department": "Engineering", "costCenter": "CC-1", "location": "Berlin", "country": "DE",
        "jobTitle": "Engineer", "managerWorkerId": "m1", "managerEmail": "m@example.com"
    }));
    let mut ctx = Context::default();
    if let Ok(h) = sample {
        ctx.add_variable_from_value("hire", hire_value(&h));
    }
    ctx
}

#[cfg(test)]
mod tests;
