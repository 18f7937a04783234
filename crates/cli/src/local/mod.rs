//! The local engine: the Joiner flow on one machine, exactly as it runs in AWS but with
//! loopback twins for every external system.
//!
//! [`LocalEngine::start`] wires, once:
//! - the sandbox twins ([`dayone_sandbox::Sandbox`]) on `127.0.0.1`, seeded so the policy's
//!   IT channel, sender mailbox and domains exist there;
//! - the policy (`dayone.toml`) with its `[targets]` pointed at the twins;
//! - per step, the cold-start context a deployed Lambda would build: the twins' fake
//!   credentials behind `[functions.NAME] secrets`, and an egress allowlist that maps each
//!   production host of `[functions.NAME] egress` to its twin's `127.0.0.1:port`;
//! - the username ledger (SQLite by default, `.dayone/ledger.sqlite`);
//! - `state-machines/joiner.asl.json` (embedded) with the six `${…FunctionArn}` placeholders
//!   replaced by local function names, on the States Language interpreter with the six step
//!   handlers registered in-process ([`steps`]).
//!
//! Then [`LocalEngine::run`] / [`LocalEngine::start_execution`] run hires through it, and
//! [`timeline`] / [`report`] turn an execution into what a person or a machine reads.

pub mod error;
pub mod report;
pub mod server;
pub mod steps;
pub mod timeline;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use dayone_asl::{
    Clock, Execution, ExecutionObserver, ExecutionOptions, ExecutionResult, Interpreter,
    StateMachine,
};
use dayone_core::{Birthright, Config, HireEvent};
use dayone_ledger::Ledger;
use dayone_sandbox::{Sandbox, SandboxConfig, SandboxUrls, SeedUser, SlackChannel};
use dayone_sdk::context::StepContext;
use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::{SecretStore, StaticSecrets};
use serde_json::{Value, json};

pub use error::LocalError;

/// `state-machines/joiner.asl.json`, built into the binary so `dayone` works anywhere.
pub const JOINER_DEFINITION: &str = include_str!("../../../../state-machines/joiner.asl.json");

/// The ARN the local Joiner state machine answers to (`$$.StateMachine.Id`).
pub const STATE_MACHINE_ARN: &str = "arn:aws:states:local:000000000000:stateMachine:joiner";

/// Default ledger spec: SQLite under `.dayone/` in the working directory.
pub fn default_ledger_spec() -> String {
    format!("sqlite:{}", dayone_ledger::DEFAULT_SQLITE_PATH)
}

/// How to build a [`LocalEngine`].
pub struct EngineOptions {
    /// The policy (`dayone.toml`); its `[targets]` are replaced by the twins.
    pub config: Config,
    /// `sqlite:PATH` (or `dynamodb:TABLE`).
    pub ledger: String,
    /// Another state machine definition: (where it came from, its text).
    pub definition: Option<(String, String)>,
    /// The twins' seed data and credentials.
    pub sandbox: SandboxConfig,
    /// Wait states and retry delays take real time instead of being fast-forwarded.
    pub real_time: bool,
}

impl EngineOptions {
    /// The embedded Joiner, the default ledger, default twins, virtual time.
    pub fn new(config: Config) -> EngineOptions {
        EngineOptions {
            config,
            ledger: default_ledger_spec(),
            definition: None,
            sandbox: SandboxConfig::default(),
            real_time: false,
        }
    }

    pub fn ledger(mut self, spec: impl Into<String>) -> Self {
        self.ledger = spec.into();
        self
    }

    pub fn definition(mut self, source: impl Into<String>, text: impl Into<String>) -> Self {
        self.definition = Some((source.into(), text.into()));
        self
    }

    /// [`EngineOptions::definition`] read from a file; the error is a message for people.
    pub fn definition_file(self, path: &std::path::Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(self.definition(path.display().to_string(), text)),
            Err(e) => Err(format!(
                "cannot read the state machine {} ({e})",
                path.display()
            )),
        }
    }

    pub fn sandbox(mut self, sandbox: SandboxConfig) -> Self {
        self.sandbox = sandbox;
        self
    }

    pub fn real_time(mut self, on: bool) -> Self {
        self.real_time = on;
        self
    }
}

/// The running local engine. Dropping it stops the twins.
pub struct LocalEngine {
    sandbox: Arc<Sandbox>,
    config: Arc<Config>,
    ledger: Arc<dyn Ledger>,
    ledger_spec: String,
    birthright: Birthright,
    interpreter: Interpreter,
    /// Group names the Graph twin holds, lower-cased (Graph matches names case-insensitively).
    groups: Mutex<HashSet<String>>,
}

impl LocalEngine {
    /// Starts the twins and wires everything (see the module docs).
    pub async fn start(opts: EngineOptions) -> Result<LocalEngine, LocalError> {
        let EngineOptions {
            config: policy,
            ledger: ledger_spec,
            definition,
            sandbox: mut sandbox_config,
            real_time,
        } = opts;
        seed_for_policy(&mut sandbox_config, &policy);
        let sandbox = Sandbox::start(sandbox_config.clone()).await?;
        let config = Arc::new(point_at_twins(&policy, sandbox.urls(), &sandbox_config));
        config.validate()?;
        let birthright = Birthright::from_config(&config.birthright)?;

        let ledger: Arc<dyn Ledger> = Arc::from(dayone_ledger::open_ledger(&ledger_spec).await?);
        let secrets: Arc<dyn SecretStore> = Arc::new(twin_secrets(&sandbox_config));
        let ctx = |function: &str| {
            step_context(function, &policy, &config, secrets.clone(), sandbox.urls())
        };
        let contexts = steps::StepContexts {
            allocate_username: ctx(steps::ALLOCATE_USERNAME),
            create_account: ctx(steps::CREATE_ACCOUNT),
            issue_tap: ctx(steps::ISSUE_TAP),
            hris_writeback: ctx(steps::HRIS_WRITEBACK),
            create_ticket: ctx(steps::CREATE_TICKET),
            notify_failure: ctx(steps::NOTIFY_FAILURE),
        };
        let machine = parse_definition(definition)?;
        let groups = sandbox_config
            .graph
            .groups
            .iter()
            .map(|g| g.to_lowercase())
            .collect();
        let clock = if real_time {
            Clock::real()
        } else {
            Clock::instant()
        };
        let interpreter = Interpreter::new(machine)
            .with_tasks(steps::registry(contexts, ledger.clone()))
            .with_clock(clock);
        Ok(LocalEngine {
            sandbox: Arc::new(sandbox),
            config,
            ledger,
            ledger_spec,
            birthright,
            interpreter,
            groups: Mutex::new(groups),
        })
    }

    /// The twins (inspect what they hold, inject faults).
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The twins, shareable (e.g. with a printer that redacts what the twins know).
    pub fn shared_sandbox(&self) -> Arc<Sandbox> {
        self.sandbox.clone()
    }

    /// Every value that must never be printed: pass values issued so far, tokens the twins
    /// handed out, and every credential they accept.
    pub fn forbidden_values(&self) -> Vec<String> {
        forbidden_values(&self.sandbox)
    }

    /// The policy as the steps see it (targets pointing at the twins).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The username ledger.
    pub fn ledger(&self) -> &dyn Ledger {
        self.ledger.as_ref()
    }

    /// Where the ledger lives (`sqlite:PATH`).
    pub fn ledger_spec(&self) -> &str {
        &self.ledger_spec
    }

    /// The interpreter with the steps registered.
    pub fn interpreter(&self) -> &Interpreter {
        &self.interpreter
    }

    /// Makes the twins hold what the real systems hold before a hire arrives: the worker in
    /// Workday (HR created them there), and the directory groups and enterprise applications
    /// the policy grants them (an app with a role in `[birthright.app_roles]` defines that
    /// role; any other gives default access).
    pub fn prepare(&self, hire: &HireEvent) -> Result<(), LocalError> {
        self.sandbox.add_workday_worker(hire.worker_id.as_str());
        let grants = self.birthright.evaluate(hire)?;
        let mut known = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        for group in grants.iter().flat_map(|g| &g.groups) {
            if known.insert(group.to_lowercase()) {
                self.sandbox.add_group(group);
            }
        }
        for app in grants.iter().flat_map(|g| &g.apps) {
            let roles: Vec<String> = self
                .config
                .birthright
                .app_roles
                .get(app)
                .cloned()
                .into_iter()
                .collect();
            self.sandbox.add_service_principal(app, &roles);
        }
        Ok(())
    }

    /// The execution name the ingress gives this hire (so a redelivery is the same execution).
    pub fn execution_name(hire: &HireEvent) -> String {
        ingress::execution_name(hire.worker_id.as_str(), hire.event_id.as_str())
    }

    /// The execution ARN for `name`.
    pub fn execution_arn(name: &str) -> String {
        format!(
            "{}:{name}",
            STATE_MACHINE_ARN.replacen(":stateMachine:", ":execution:", 1)
        )
    }

    /// The execution input for a hire (state-machines/README.md).
    pub fn execution_input(hire: &HireEvent) -> Value {
        json!({ "hire": hire })
    }

    fn options(name: &str, observer: Option<Arc<dyn ExecutionObserver>>) -> ExecutionOptions {
        ExecutionOptions {
            name: Some(name.to_string()),
            execution_arn: Some(Self::execution_arn(name)),
            state_machine_arn: Some(STATE_MACHINE_ARN.to_string()),
            observer,
            ..ExecutionOptions::default()
        }
    }

    /// Runs one hire to the end (named as the ingress would name it).
    pub async fn run(
        &self,
        hire: &HireEvent,
        observer: Option<Arc<dyn ExecutionObserver>>,
    ) -> Result<ExecutionResult, LocalError> {
        self.prepare(hire)?;
        let name = Self::execution_name(hire);
        Ok(self
            .interpreter
            .run(Self::execution_input(hire), Self::options(&name, observer))
            .await)
    }

    /// Starts an execution in the background (for `dayone serve`); `input` must hold `hire`.
    pub fn start_execution(
        &self,
        name: &str,
        input: Value,
        observer: Option<Arc<dyn ExecutionObserver>>,
    ) -> Result<Execution, LocalError> {
        if let Ok(hire) = HireEvent::from_value(input["hire"].clone()) {
            self.prepare(&hire)?;
        }
        Ok(self.interpreter.start(input, Self::options(name, observer)))
    }
}

/// Parses the definition with the six placeholders replaced by local function names.
pub fn parse_definition(definition: Option<(String, String)>) -> Result<StateMachine, LocalError> {
    let (source_name, text) = definition.unwrap_or_else(|| {
        (
            "state-machines/joiner.asl.json (built in)".to_string(),
            JOINER_DEFINITION.to_string(),
        )
    });
    let subs: HashMap<String, String> = steps::FUNCTIONS
        .iter()
        .map(|(placeholder, name)| (placeholder.to_string(), name.to_string()))
        .collect();
    let text = dayone_asl::substitute(&text, &subs);
    if let Some(placeholder) = leftover_placeholder(&text) {
        return Err(LocalError::UnknownPlaceholder {
            source_name,
            placeholder,
        });
    }
    StateMachine::parse(&text).map_err(|error| LocalError::Definition { source_name, error })
}

/// The first `${Name}` left in a definition, if any.
fn leftover_placeholder(text: &str) -> Option<String> {
    let start = text.find("${")? + 2;
    let end = text[start..].find('}')?;
    Some(text[start..start + end].to_string())
}

/// Seeds the twins with what the policy expects to find: its IT channel in Slack, its sender
/// mailbox in the directory, its domains verified.
fn seed_for_policy(sandbox: &mut SandboxConfig, policy: &Config) {
    let channel = policy.targets.it_channel.trim().trim_start_matches('#');
    if !channel.is_empty() && !sandbox.slack.channels.iter().any(|c| c.name == channel) {
        sandbox.slack.channels.push(SlackChannel {
            id: "C0ITCHANNEL".into(),
            name: channel.to_string(),
        });
    }
    if let Some(sender) = policy.tap.email_sender.as_deref()
        && !sandbox
            .graph
            .users
            .iter()
            .any(|u| u.user_principal_name.eq_ignore_ascii_case(sender))
    {
        sandbox
            .graph
            .users
            .push(SeedUser::new(sender, "IT Onboarding", None));
    }
    if !sandbox.graph.verified_domains.is_empty() {
        for domain in [
            policy.username.upn_domain.as_str(),
            policy.username.mail_domain(),
        ] {
            if !domain.is_empty() && !sandbox.graph.verified_domains.iter().any(|d| d == domain) {
                sandbox.graph.verified_domains.push(domain.to_string());
            }
        }
    }
}

/// The policy with every `[targets]` entry pointed at the twins (the IT channel and e-mail
/// domain stay the policy's own).
pub fn point_at_twins(policy: &Config, urls: &SandboxUrls, sandbox: &SandboxConfig) -> Config {
    let mut c = policy.clone();
    let t = &mut c.targets;
    t.graph_base = urls.graph_base.clone();
    t.login_base = urls.login_base.clone();
    t.tenant = Some(sandbox.graph.tenant_id.clone());
    t.graph_client_id = Some(sandbox.graph.client_id.clone());
    t.workday_base = Some(urls.workday_base.clone());
    t.workday_tenant = Some(sandbox.workday.tenant.clone());
    t.workday_username = Some(sandbox.workday.username.clone());
    t.servicenow_base = Some(urls.servicenow_base.clone());
    t.servicenow_username = Some(sandbox.servicenow.username.clone());
    t.jira_base = Some(urls.jira_base.clone());
    t.jira_email = Some(sandbox.jira.email.clone());
    t.slack_base = format!("{}/api", urls.slack_base);
    if t.email_domain.is_none() {
        t.email_domain = Some(policy.username.mail_domain().to_string());
    }
    c
}

/// `host[:port]` of a URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn host_only(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => authority,
    }
}

/// Does allowlist entry `entry` (`host`, `host:port`, `*.suffix`) admit `authority`?
fn entry_admits(entry: &str, authority: &str) -> bool {
    let entry = entry.trim().to_ascii_lowercase();
    let host = host_only(authority);
    if let Some(suffix) = entry.strip_prefix("*.") {
        return host.ends_with(&format!(".{suffix}"));
    }
    entry == authority || entry == host
}

/// A function's local allowlist: each twin whose production host its `[functions.NAME]
/// egress` admits. A function without an entry may reach every twin (as it could reach
/// every host without an allowlist).
fn local_egress(function: &str, policy: &Config, urls: &SandboxUrls) -> Vec<String> {
    let t = &policy.targets;
    let pairs: Vec<(Option<&String>, &String)> = vec![
        (Some(&t.graph_base), &urls.graph_base),
        (Some(&t.login_base), &urls.login_base),
        (t.workday_base.as_ref(), &urls.workday_base),
        (t.servicenow_base.as_ref(), &urls.servicenow_base),
        (t.jira_base.as_ref(), &urls.jira_base),
        (Some(&t.slack_base), &urls.slack_base),
    ];
    let Some(f) = policy.functions.get(function) else {
        return urls.hosts();
    };
    let mut allow: Vec<String> = pairs
        .into_iter()
        .filter(|(prod, _)| {
            prod.is_some_and(|p| {
                let a = authority(p);
                f.egress.iter().any(|e| entry_admits(e, &a))
            })
        })
        .map(|(_, twin)| authority(twin))
        .collect();
    allow.sort();
    allow.dedup();
    allow
}

/// The context a deployed `function` builds at cold start, wired to the twins.
fn step_context(
    function: &str,
    policy: &Config,
    config: &Arc<Config>,
    secrets: Arc<dyn SecretStore>,
    urls: &SandboxUrls,
) -> StepContext {
    let secrets: Arc<dyn SecretStore> = match policy.functions.get(function) {
        Some(f) => Arc::new(dayone_sdk::context::ScopedSecrets::new(
            secrets, function, &f.secrets,
        )),
        None => secrets,
    };
    StepContext::new(
        "",
        "",
        secrets,
        EgressClient::new(local_egress(function, policy, urls)),
        config.clone(),
    )
}

/// See [`LocalEngine::forbidden_values`].
pub fn forbidden_values(sandbox: &Sandbox) -> Vec<String> {
    let mut v = sandbox.known_secrets();
    v.extend(sandbox.issued_tap_values());
    v.sort();
    v.dedup();
    v
}

/// The twins' credentials as a store (for callers that build their own contexts).
pub fn twin_secrets(sandbox: &SandboxConfig) -> StaticSecrets {
    sandbox.credentials().into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_entries_admit_hosts_like_the_egress_client() {
        assert!(entry_admits("graph.microsoft.com", "graph.microsoft.com"));
        assert!(entry_admits(
            "*.workday.com",
            "wd2-impl-services1.workday.com"
        ));
        assert!(!entry_admits("*.workday.com", "workday.com.evil.example"));
        assert!(!entry_admits("slack.com", "graph.microsoft.com"));
    }

    #[test]
    fn each_function_reaches_only_the_twins_of_its_production_hosts() {
        let policy = Config::from_toml_str(include_str!("../../../../dayone.toml")).unwrap();
        let urls = SandboxUrls {
            graph_base: "http://127.0.0.1:1001".into(),
            login_base: "http://127.0.0.1:1002".into(),
            workday_base: "http://127.0.0.1:1003".into(),
            servicenow_base: "http://127.0.0.1:1004".into(),
            jira_base: "http://127.0.0.1:1005".into(),
            slack_base: "http://127.0.0.1:1006".into(),
        };
        assert_eq!(
            local_egress("hris-writeback", &policy, &urls),
            vec!["127.0.0.1:1003"]
        );
        assert_eq!(
            local_egress("issue-tap", &policy, &urls),
            vec!["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1006"]
        );
        assert!(local_egress("allocate-username", &policy, &urls).is_empty());
    }

    #[test]
    fn the_built_in_definition_has_every_placeholder_substituted() {
        let machine = parse_definition(None).expect("joiner parses");
        assert!(machine.state_names().contains(&"AllocateUsername"));
        let text = machine.definition().to_string();
        assert!(!text.contains("${"));
        assert!(text.contains("\"FunctionName\":\"create-account\""));
    }

    #[test]
    fn an_unknown_placeholder_is_named() {
        let def =
            r#"{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"${OtherArn}","End":true}}}"#;
        let err = parse_definition(Some(("x.json".into(), def.into()))).unwrap_err();
        assert!(err.to_string().contains("OtherArn"), "{err}");
    }
}
