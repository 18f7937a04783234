//! `dayone.toml`: the whole policy in one typed value.
//!
//! Every section has defaults, so an empty file is a working (if generic)
//! configuration and `Config::default()` is what tests start from. Sections that
//! are pure policy use `deny_unknown_fields`, so a typo such as `lifetime_minute`
//! is an error naming the key instead of a silently ignored setting. `[targets]`
//! alone accepts extra keys (kept in `extra`), because connectors may need
//! settings this crate does not know about.
//!
//! [`Config::from_toml_str`] also compiles the username templates and the
//! birthright CEL conditions, so a file that loads is a file that runs.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::NaiveTime;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::error::ConfigError;

/// The whole `dayone.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub username: UsernameConfig,
    pub birthright: BirthrightConfig,
    pub tap: TapConfig,
    pub tickets: TicketsConfig,
    pub targets: TargetsConfig,
    /// Logical secret name → where to find it: a Secrets Manager id in AWS, the
    /// key of an environment variable or local file locally. Standard names that
    /// the file leaves out keep their defaults ([`default_secrets`]).
    pub secrets: BTreeMap<String, String>,
    /// Per-step (built-in or organization function) sandbox: egress allowlist,
    /// secrets it may read, timeout.
    pub functions: BTreeMap<String, FunctionConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            username: UsernameConfig::default(),
            birthright: BirthrightConfig::default(),
            tap: TapConfig::default(),
            tickets: TicketsConfig::default(),
            targets: TargetsConfig::default(),
            secrets: default_secrets(),
            functions: BTreeMap::new(),
        }
    }
}

/// The logical secret names the built-in steps use, with their default
/// Secrets Manager ids.
pub fn default_secrets() -> BTreeMap<String, String> {
    [
        ("graph_client_secret", "dayone/graph-client-secret"),
        ("workday_password", "dayone/workday-password"),
        ("servicenow_password", "dayone/servicenow-password"),
        ("jira_api_token", "dayone/jira-api-token"),
        ("slack_bot_token", "dayone/slack-bot-token"),
        ("webhook_secret", "dayone/webhook-secret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl Config {
    /// Parse and fully validate a `dayone.toml`.
    pub fn from_toml_str(s: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(s).map_err(|e| ConfigError::Parse(e.to_string()))?;
        for (k, v) in default_secrets() {
            cfg.secrets.entry(k).or_insert(v);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Check every cross-key rule and compile templates and CEL conditions.
    pub fn validate(&self) -> Result<(), ConfigError> {
        crate::username::UsernamePolicy::from_config(&self.username)?;
        crate::birthright::Birthright::from_config(&self.birthright)?;
        self.tap.validate()?;
        self.tickets.validate()?;
        self.targets.validate()?;
        for (name, id) in &self.secrets {
            if !is_identifier(name) {
                return Err(ConfigError::invalid(
                    format!("secrets.{name}"),
                    "is not a valid logical name: use lowercase letters, digits and _",
                ));
            }
            if id.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("secrets.{name}"),
                    "is empty: give the Secrets Manager id (or local key) of the secret",
                ));
            }
        }
        for (name, f) in &self.functions {
            f.validate(name, &self.secrets)?;
        }
        Ok(())
    }

    /// The sandbox settings of a step, or an empty allowlist when it has none.
    pub fn function(&self, name: &str) -> FunctionConfig {
        self.functions.get(name).cloned().unwrap_or_default()
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

// ---------------------------------------------------------------- [username]

/// `[username]`: how usernames, UPNs and mail addresses are generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsernameConfig {
    /// Locale overlay applied before generic transliteration.
    pub locale: Locale,
    /// Use `preferredName` over `legalName` for `{first}` / `{last}` and the display name.
    pub prefer_preferred_name: bool,
    pub upn_domain: String,
    /// Defaults to `upn_domain`.
    pub mail_domain: Option<String>,
    /// Names nobody may get, compared case-insensitively in every namespace.
    pub reserved: Vec<String>,
    pub max_length: MaxLength,
    /// The first numeric suffix tried (`jsmith2`).
    pub suffix_start: u64,
    pub clean: CleanConfig,
    pub display: DisplayConfig,
    /// Ordered rule templates; the numeric suffix comes after all of them.
    pub rules: Vec<UsernameRule>,
}

impl Default for UsernameConfig {
    fn default() -> Self {
        UsernameConfig {
            locale: Locale::None,
            prefer_preferred_name: true,
            upn_domain: "example.com".into(),
            mail_domain: None,
            reserved: DEFAULT_RESERVED.iter().map(|s| s.to_string()).collect(),
            max_length: MaxLength::default(),
            suffix_start: 2,
            clean: CleanConfig::default(),
            display: DisplayConfig::default(),
            rules: vec![
                UsernameRule::new("{first:1}{last}", "{first}.{last}"),
                UsernameRule::new("{first:1}{middle:1}{last}", "{first}.{middle:1}.{last}"),
                UsernameRule::new("{first}{last:1}", "{first}.{last:1}"),
                UsernameRule::new("{first}{last}", "{first}{last}"),
            ],
        }
    }
}

/// Reserved names every directory should keep away from people.
pub const DEFAULT_RESERVED: &[&str] = &[
    "admin",
    "administrator",
    "root",
    "guest",
    "system",
    "support",
    "helpdesk",
    "security",
    "postmaster",
    "hostmaster",
    "webmaster",
    "abuse",
    "noreply",
    "no-reply",
    "krbtgt",
    "test",
    "info",
    "sales",
    "billing",
    "it",
];

impl UsernameConfig {
    pub fn mail_domain(&self) -> &str {
        self.mail_domain.as_deref().unwrap_or(&self.upn_domain)
    }
}

/// One ordered rule: a template per namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsernameRule {
    /// sAMAccountName template, e.g. `{first:1}{last}`.
    pub sam: String,
    /// UPN local-part template; defaults to the `sam` template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// Mail local-part template; defaults to the UPN template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
}

impl UsernameRule {
    pub fn new(sam: &str, upn: &str) -> Self {
        UsernameRule {
            sam: sam.into(),
            upn: Some(upn.into()),
            mail: None,
        }
    }

    pub fn upn_template(&self) -> &str {
        self.upn.as_deref().unwrap_or(&self.sam)
    }

    pub fn mail_template(&self) -> &str {
        self.mail.as_deref().unwrap_or_else(|| self.upn_template())
    }
}

/// Transliteration overlays applied before the generic any-script → ASCII step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    /// Generic transliteration only (ä→a, ø→o, æ→ae).
    #[default]
    None,
    /// German: ä→ae, ö→oe, ü→ue, ß→ss.
    De,
    /// Swedish: å→a, ä→a, ö→o (the generic form, stated explicitly).
    Sv,
    /// Danish: æ→ae, ø→oe, å→aa.
    Da,
    /// Norwegian Bokmål: æ→ae, ø→oe, å→aa.
    #[serde(alias = "no")]
    Nb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaxLength {
    /// sAMAccountName: at most 20 (an Active Directory limit).
    pub sam: usize,
    /// UPN local part: at most 64.
    pub upn: usize,
    /// Mail local part: at most 64 (RFC 5321).
    pub mail: usize,
}

impl Default for MaxLength {
    fn default() -> Self {
        MaxLength {
            sam: 20,
            upn: 64,
            mail: 64,
        }
    }
}

/// What happens to a separator character of a name in usernames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Separator {
    /// Removed: the parts are joined (`garcia-marquez` → `garciamarquez`).
    Drop,
    /// Kept as `-` in UPN and mail local parts (hyphens only; sAMAccountName never has one).
    Keep,
    /// Becomes `.` in UPN and mail local parts (removed in sAMAccountName).
    Dot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeepDrop {
    Keep,
    Drop,
}

/// `[username.clean]`: how name punctuation, particles and digits become usernames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CleanConfig {
    pub hyphens: Separator,
    pub apostrophes: Separator,
    pub spaces: Separator,
    /// Digits in a name (rare, usually data-entry noise).
    pub digits: KeepDrop,
    /// Family-name particles (van, der, de, la, von, …): `keep` gives
    /// `vanderberg`, `drop` gives `berg` (the particles stay in the display name).
    pub particles: KeepDrop,
}

impl Default for CleanConfig {
    fn default() -> Self {
        CleanConfig {
            hyphens: Separator::Drop,
            apostrophes: Separator::Drop,
            spaces: Separator::Drop,
            digits: KeepDrop::Drop,
            particles: KeepDrop::Keep,
        }
    }
}

/// `[username.display]`: how the display name and CN are written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisplayConfig {
    /// `smart`: a name HR sent all upper- or all lowercase is re-capitalised
    /// (O'Brien, McDonald, van der Berg); mixed case is trusted as given.
    pub case: DisplayCase,
    /// Also capitalise after `Mac` (MacDonald). Off by default: Mack, Macey and
    /// Machado would suffer. `Mc` is always handled.
    pub mac_prefix: bool,
    /// `{first} {last}` or `{last}, {first}` style; tokens: first, middle, last.
    pub format: String,
}

impl Default for DisplayConfig {
    fn default() -> Self {
        DisplayConfig {
            case: DisplayCase::Smart,
            mac_prefix: false,
            format: "{first} {last}".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisplayCase {
    Smart,
    AsGiven,
}

// ---------------------------------------------------------------- [birthright]

/// `[birthright]`: who gets which groups and apps on Day 1.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BirthrightConfig {
    pub rules: Vec<BirthrightRule>,
    /// The app role to grant, per app named in `apps` (role value, display name or id), for
    /// applications that define more than one role users can hold. Absent: the app's only
    /// user role, or default access when it defines none.
    pub app_roles: BTreeMap<String, String>,
}

/// `[[birthright.rules]]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BirthrightRule {
    pub name: String,
    /// CEL over `hire` (camelCase fields as in the HireEvent JSON). Absent: always.
    #[serde(default = "always")]
    pub when: String,
    /// Group names; may be templates such as `dept-{department}-{location}`.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Enterprise application (service principal) names or ids to assign.
    #[serde(default)]
    pub apps: Vec<String>,
}

fn always() -> String {
    "true".into()
}

// ---------------------------------------------------------------- [tap]

/// `[tap]`: the Temporary Access Pass handed to the manager for Day 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TapConfig {
    pub enabled: bool,
    /// 10..=43200 (Entra's limits).
    pub lifetime_minutes: u32,
    pub usable_once: bool,
    /// Local time on the hire date (worker time zone) from which the TAP is valid.
    #[serde(with = "hhmm")]
    pub issue_at: NaiveTime,
    /// Time zone for hires without one (IANA).
    pub default_timezone: String,
    /// Wait in the state machine until `issue_at` before creating the TAP (else
    /// create it now with a start time of `issue_at`).
    pub wait_until_issue: bool,
    pub delivery: Vec<Delivery>,
    /// Mailbox the e-mail delivery sends from (Graph sendMail).
    pub email_sender: Option<String>,
}

impl Default for TapConfig {
    fn default() -> Self {
        TapConfig {
            enabled: true,
            lifetime_minutes: 480,
            usable_once: true,
            issue_at: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            default_timezone: "UTC".into(),
            wait_until_issue: false,
            delivery: vec![Delivery::Slack, Delivery::Email],
            email_sender: None,
        }
    }
}

impl TapConfig {
    /// The default time zone (validated at load).
    pub fn default_tz(&self) -> chrono_tz::Tz {
        chrono_tz::Tz::from_str(&self.default_timezone).unwrap_or(chrono_tz::UTC)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(10..=43200).contains(&self.lifetime_minutes) {
            return Err(ConfigError::invalid(
                "tap.lifetime_minutes",
                format!(
                    "= {} is outside 10..=43200 (Entra's TAP lifetime limits)",
                    self.lifetime_minutes
                ),
            ));
        }
        if chrono_tz::Tz::from_str(&self.default_timezone).is_err() {
            return Err(ConfigError::invalid(
                "tap.default_timezone",
                format!(
                    "= {:?} is not an IANA time zone name (e.g. \"UTC\", \"Europe/Berlin\")",
                    self.default_timezone
                ),
            ));
        }
        if self.enabled && self.delivery.is_empty() {
            return Err(ConfigError::invalid(
                "tap.delivery",
                "is empty: a TAP nobody receives is useless; add \"slack\" or \"email\", or set tap.enabled = false",
            ));
        }
        if let (true, Some(sender)) = (self.delivery.contains(&Delivery::Email), &self.email_sender)
            && crate::hire::Email::parse(sender).is_err()
        {
            return Err(ConfigError::invalid(
                "tap.email_sender",
                format!("= {sender:?} is not an e-mail address"),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    Slack,
    Email,
}

/// `"HH:MM"` ⇄ `NaiveTime`.
mod hhmm {
    use super::*;

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let raw = String::deserialize(d)?;
        NaiveTime::parse_from_str(raw.trim(), "%H:%M").map_err(|_| {
            serde::de::Error::custom(format!(
                "issue_at = {raw:?} is not a 24-hour time like \"08:00\""
            ))
        })
    }
}

// ---------------------------------------------------------------- [tickets]

/// `[tickets]`: the equipment request opened for each hire.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketsConfig {
    pub system: TicketSystem,
    pub servicenow: ServiceNowConfig,
    pub jira: JiraConfig,
    pub hardware: HardwareConfig,
}

impl TicketsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        match self.system {
            TicketSystem::Servicenow => {
                if self.servicenow.mode == ServiceNowMode::Catalog
                    && self
                        .servicenow
                        .catalog_item
                        .as_deref()
                        .is_none_or(str::is_empty)
                {
                    return Err(ConfigError::invalid(
                        "tickets.servicenow.catalog_item",
                        "is required when tickets.servicenow.mode = \"catalog\": give the catalog item's sys_id",
                    ));
                }
                if self.servicenow.table.trim().is_empty()
                    || !self
                        .servicenow
                        .table
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                {
                    return Err(ConfigError::invalid(
                        "tickets.servicenow.table",
                        "must be a table name such as \"sc_request\"",
                    ));
                }
            }
            TicketSystem::Jira => {
                for (key, v) in [
                    ("tickets.jira.service_desk_id", &self.jira.service_desk_id),
                    ("tickets.jira.request_type_id", &self.jira.request_type_id),
                ] {
                    if v.as_deref().is_none_or(|s| s.trim().is_empty()) {
                        return Err(ConfigError::invalid(
                            key,
                            "is required when tickets.system = \"jira\"",
                        ));
                    }
                }
            }
        }
        if self.hardware.default.trim().is_empty() {
            return Err(ConfigError::invalid(
                "tickets.hardware.default",
                "is empty: name the profile for departments without one",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketSystem {
    #[default]
    Servicenow,
    Jira,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceNowConfig {
    pub mode: ServiceNowMode,
    /// Table API target (mode = "table").
    pub table: String,
    /// Service Catalog item sys_id (mode = "catalog").
    pub catalog_item: Option<String>,
    pub assignment_group: Option<String>,
}

impl Default for ServiceNowConfig {
    fn default() -> Self {
        ServiceNowConfig {
            mode: ServiceNowMode::Table,
            table: "sc_request".into(),
            catalog_item: None,
            assignment_group: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceNowMode {
    #[default]
    Table,
    Catalog,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JiraConfig {
    pub service_desk_id: Option<String>,
    pub request_type_id: Option<String>,
}

/// `[tickets.hardware]`: the hardware profile ordered for a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HardwareConfig {
    pub default: String,
    pub by_department: BTreeMap<String, String>,
}

impl Default for HardwareConfig {
    fn default() -> Self {
        HardwareConfig {
            default: "standard-laptop".into(),
            by_department: BTreeMap::new(),
        }
    }
}

impl HardwareConfig {
    /// The profile for a department: exact match, then case-insensitive, then the default.
    pub fn profile_for(&self, department: &str) -> &str {
        if let Some(p) = self.by_department.get(department) {
            return p;
        }
        self.by_department
            .iter()
            .find(|(k, _)| {
                k.eq_ignore_ascii_case(department) || k.to_lowercase() == department.to_lowercase()
            })
            .map_or(self.default.as_str(), |(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------- [targets]

/// `[targets]`: where the connectors talk to. Production hosts by default; the
/// local engine points them at the sandbox twins on loopback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TargetsConfig {
    pub graph_base: String,
    pub login_base: String,
    /// Entra tenant id (GUID) or primary domain.
    pub tenant: Option<String>,
    /// App registration (client) id used for client-credentials.
    pub graph_client_id: Option<String>,
    /// e.g. `https://wd2-impl-services1.workday.com`.
    pub workday_base: Option<String>,
    pub workday_tenant: Option<String>,
    pub workday_version: String,
    pub workday_username: Option<String>,
    /// e.g. `https://contoso.service-now.com`.
    pub servicenow_base: Option<String>,
    pub servicenow_username: Option<String>,
    /// e.g. `https://contoso.atlassian.net`.
    pub jira_base: Option<String>,
    pub jira_email: Option<String>,
    pub slack_base: String,
    /// Channel (name or id) for IT notifications and failures.
    pub it_channel: String,
    /// Domain of the organization's mailboxes (sender of notifications).
    pub email_domain: Option<String>,
    /// Settings this crate does not model, for connectors and functions.
    #[serde(flatten)]
    pub extra: BTreeMap<String, toml::Value>,
}

impl Default for TargetsConfig {
    fn default() -> Self {
        TargetsConfig {
            graph_base: "https://graph.microsoft.com".into(),
            login_base: "https://login.microsoftonline.com".into(),
            tenant: None,
            graph_client_id: None,
            workday_base: None,
            workday_tenant: None,
            workday_version: "v44.0".into(),
            workday_username: None,
            servicenow_base: None,
            servicenow_username: None,
            jira_base: None,
            jira_email: None,
            slack_base: "https://slack.com/api".into(),
            it_channel: "#it-onboarding".into(),
            email_domain: None,
            extra: BTreeMap::new(),
        }
    }
}

impl TargetsConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let urls = [
            ("targets.graph_base", Some(&self.graph_base)),
            ("targets.login_base", Some(&self.login_base)),
            ("targets.workday_base", self.workday_base.as_ref()),
            ("targets.servicenow_base", self.servicenow_base.as_ref()),
            ("targets.jira_base", self.jira_base.as_ref()),
            ("targets.slack_base", Some(&self.slack_base)),
        ];
        for (key, url) in urls {
            if let Some(url) = url {
                check_base_url(key, url)?;
            }
        }
        Ok(())
    }
}

/// A base URL must be https, except plain http to a loopback twin.
fn check_base_url(key: &str, url: &str) -> Result<(), ConfigError> {
    let host_of = |rest: &str| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = match authority.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => authority,
        };
        host.to_ascii_lowercase()
    };
    if let Some(rest) = url.strip_prefix("https://") {
        if host_of(rest).is_empty() {
            return Err(ConfigError::invalid(key, format!("= {url:?} has no host")));
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        let host = host_of(rest);
        if matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
            return Ok(());
        }
        return Err(ConfigError::invalid(
            key,
            format!("= {url:?} uses plain http to a non-loopback host; use https"),
        ));
    }
    Err(ConfigError::invalid(
        key,
        format!("= {url:?} is not an http(s) URL"),
    ))
}

// ---------------------------------------------------------------- [functions]

/// `[functions.NAME]`: the sandbox of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FunctionConfig {
    /// Hosts it may call: `host`, `host:port` or `*.suffix`.
    pub egress: Vec<String>,
    /// Logical secret names (keys of `[secrets]`) it may read.
    pub secrets: Vec<String>,
    pub timeout_seconds: u32,
}

impl Default for FunctionConfig {
    fn default() -> Self {
        FunctionConfig {
            egress: Vec::new(),
            secrets: Vec::new(),
            timeout_seconds: 30,
        }
    }
}

impl FunctionConfig {
    fn validate(&self, name: &str, secrets: &BTreeMap<String, String>) -> Result<(), ConfigError> {
        for entry in &self.egress {
            check_egress_entry(entry).map_err(|p| {
                ConfigError::invalid(
                    format!("functions.{name}.egress"),
                    format!("entry {entry:?} {p}"),
                )
            })?;
        }
        for s in &self.secrets {
            if !secrets.contains_key(s) {
                return Err(ConfigError::invalid(
                    format!("functions.{name}.secrets"),
                    format!("names {s:?}, which is not in [secrets]; add it there first"),
                ));
            }
        }
        if !(1..=900).contains(&self.timeout_seconds) {
            return Err(ConfigError::invalid(
                format!("functions.{name}.timeout_seconds"),
                format!(
                    "= {} is outside 1..=900 (the Lambda limit)",
                    self.timeout_seconds
                ),
            ));
        }
        Ok(())
    }
}

/// `host`, `host:port` or `*.suffix`; never a scheme, path or bare wildcard.
fn check_egress_entry(entry: &str) -> Result<(), String> {
    if entry.contains("://") || entry.contains('/') {
        return Err("must be a host name, not a URL (drop the scheme and path)".into());
    }
    let (host, port) = match entry.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (entry, None),
    };
    if let Some(p) = port
        && p.parse::<u16>().is_err()
    {
        return Err(format!("has an invalid port {p:?}"));
    }
    let name = host.strip_prefix("*.").unwrap_or(host);
    let labels_ok = !name.is_empty()
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !labels_ok {
        return Err(
            "is not a host name (letters, digits, dots and hyphens; `*.` only as a prefix)".into(),
        );
    }
    if host.starts_with("*.") && !name.contains('.') {
        return Err(
            "is too broad: a wildcard needs at least two labels, e.g. *.example.com".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../../dayone.toml");

    #[test]
    fn the_example_policy_loads_and_says_what_the_demo_needs() {
        let cfg = Config::from_toml_str(EXAMPLE).unwrap();
        assert_eq!(cfg.username.locale, Locale::De);
        assert_eq!(cfg.username.upn_domain, "contoso.com");
        assert_eq!(cfg.username.rules[0].sam, "{first:1}{last}");
        assert_eq!(cfg.username.rules.len(), 4);
        assert_eq!(cfg.tap.issue_at, NaiveTime::from_hms_opt(8, 0, 0).unwrap());
        assert_eq!(cfg.tap.lifetime_minutes, 480);
        assert_eq!(cfg.tap.delivery, vec![Delivery::Slack, Delivery::Email]);
        assert_eq!(cfg.tickets.system, TicketSystem::Servicenow);
        assert_eq!(
            cfg.tickets.hardware.profile_for("Engineering"),
            "macbook-pro-16"
        );
        assert_eq!(
            cfg.tickets.hardware.profile_for("engineering"),
            "macbook-pro-16"
        );
        assert_eq!(cfg.tickets.hardware.profile_for("Legal"), "standard-laptop");
        assert_eq!(cfg.targets.workday_version, "v44.0");
        assert_eq!(
            cfg.secrets["graph_client_secret"],
            "dayone/graph-client-secret"
        );
        assert_eq!(
            cfg.function("create-account").egress,
            vec!["graph.microsoft.com", "login.microsoftonline.com"]
        );
        assert!(cfg.birthright.rules.iter().any(|r| r.name == "employees"));
    }

    #[test]
    fn an_empty_file_is_a_working_default_policy() {
        let cfg = Config::from_toml_str("").unwrap();
        assert_eq!(cfg, Config::default());
        assert_eq!(cfg.username.max_length.sam, 20);
        assert_eq!(cfg.tap.default_tz(), chrono_tz::UTC);
        assert!(cfg.secrets.contains_key("webhook_secret"));
        Config::default().validate().unwrap();
    }

    #[test]
    fn a_partial_secrets_table_keeps_the_other_standard_names() {
        let cfg = Config::from_toml_str("[secrets]\nslack_bot_token = \"prod/slack\"\n").unwrap();
        assert_eq!(cfg.secrets["slack_bot_token"], "prod/slack");
        assert_eq!(cfg.secrets["workday_password"], "dayone/workday-password");
    }

    fn err(toml: &str) -> String {
        Config::from_toml_str(toml).unwrap_err().to_string()
    }

    #[test]
    fn typos_in_keys_are_errors_naming_the_key() {
        let e = err("[tap]\nlifetime_minute = 60\n");
        assert!(e.contains("lifetime_minute"), "{e}");
        let e = err("[username]\nlocal = \"de\"\n");
        assert!(e.contains("local"), "{e}");
        let e = err("[username]\nlocale = \"fr\"\n");
        assert!(e.contains("fr") && e.contains("de"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_the_key_and_the_limit() {
        assert!(err("[tap]\nlifetime_minutes = 5\n").contains("tap.lifetime_minutes"));
        assert!(err("[tap]\nlifetime_minutes = 50000\n").contains("43200"));
        assert!(err("[tap]\nissue_at = \"8am\"\n").contains("08:00"));
        assert!(err("[tap]\ndefault_timezone = \"CET+1\"\n").contains("tap.default_timezone"));
        assert!(err("[username]\nmax_length = { sam = 21 }\n").contains("username.max_length.sam"));
        assert!(
            err("[username.clean]\napostrophes = \"keep\"\n")
                .contains("username.clean.apostrophes")
        );
        assert!(err("[username]\nupn_domain = \"contoso\"\n").contains("username.upn_domain"));
    }

    #[test]
    fn bad_username_templates_name_the_rule() {
        let e = err("[[username.rules]]\nsam = \"{first:1}{lastname}\"\n");
        assert!(
            e.contains("username.rules[0].sam") && e.contains("{lastname}"),
            "{e}"
        );
    }

    #[test]
    fn ticket_systems_require_their_settings() {
        assert!(err("[tickets]\nsystem = \"jira\"\n").contains("tickets.jira.service_desk_id"));
        assert!(
            err("[tickets.servicenow]\nmode = \"catalog\"\n")
                .contains("tickets.servicenow.catalog_item")
        );
        Config::from_toml_str(
            "[tickets]\nsystem = \"jira\"\n[tickets.jira]\nservice_desk_id = \"10\"\nrequest_type_id = \"25\"\n",
        )
        .unwrap();
    }

    #[test]
    fn targets_must_be_https_except_loopback_twins() {
        assert!(
            err("[targets]\ngraph_base = \"http://graph.microsoft.com\"\n")
                .contains("targets.graph_base")
        );
        let cfg = Config::from_toml_str(
            "[targets]\ngraph_base = \"http://127.0.0.1:8790\"\nextra_setting = \"kept\"\n",
        )
        .unwrap();
        assert_eq!(cfg.targets.extra["extra_setting"].as_str(), Some("kept"));
    }

    #[test]
    fn function_sandboxes_are_checked() {
        let e = err("[functions.x]\negress = [\"https://api.example.com/v1\"]\n");
        assert!(
            e.contains("functions.x.egress") && e.contains("not a URL"),
            "{e}"
        );
        assert!(err("[functions.x]\negress = [\"*.com\"]\n").contains("too broad"));
        let e = err("[functions.x]\nsecrets = [\"github_token\"]\n");
        assert!(
            e.contains("functions.x.secrets") && e.contains("github_token"),
            "{e}"
        );
        let cfg = Config::from_toml_str(
            "[secrets]\ngithub_token = \"org/github\"\n[functions.x]\negress = [\"api.github.com\", \"*.github.com\", \"localhost:8443\"]\nsecrets = [\"github_token\"]\n",
        )
        .unwrap();
        assert_eq!(cfg.function("x").timeout_seconds, 30);
        assert_eq!(cfg.function("unknown"), FunctionConfig::default());
    }

    #[test]
    fn a_bad_birthright_condition_is_a_config_error_naming_the_rule() {
        let e = err("[[birthright.rules]]\nname = \"vpn\"\nwhen = 'hire.workerType == '\n");
        assert!(e.contains("`vpn`"), "{e}");
        let e = err("[[birthright.rules]]\nname = \"typo\"\nwhen = 'hir.country == \"DE\"'\n");
        assert!(e.contains("`typo`"), "{e}");
        let e = err("[[birthright.rules]]\nname = \"str\"\nwhen = 'hire.department'\n");
        assert!(e.contains("`str`") && e.contains("true or false"), "{e}");
    }

    #[test]
    fn the_config_round_trips_through_toml() {
        let cfg = Config::from_toml_str(EXAMPLE).unwrap();
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(Config::from_toml_str(&text).unwrap(), cfg);
    }
}
