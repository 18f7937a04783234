//! Test support for dayone's step Lambdas: the sandbox twins, and a [`StepContext`] wired to
//! them over real loopback HTTP, exactly as a Lambda is wired to the real services.
//!
//! [`TestEnv::start`] starts every twin, then builds:
//! - a `dayone.toml` ([`Config`]) whose `[targets]` point at the twins, with birthright rules,
//!   `[tap]`, `[tickets]` filled in as a small company would ([`config_for`]);
//! - a [`StaticSecrets`] holding the twins' (obviously fake) credentials under the logical
//!   names of `[secrets]` ([`secrets_for`]);
//! - an [`EgressClient`] whose allowlist is exactly the twins' `127.0.0.1:port` entries;
//! - a [`LogCapture`] installed for the test's thread, so every log line can be checked.
//!
//! Fixtures: the hires in `tests/fixtures/hires/` ([`hires`]) and the names the ledger would
//! give them ([`names`]). The leak check [`TestEnv::assert_no_leaks`] looks for every pass value
//! the Graph twin issued and every credential the twins know, in every captured log line and
//! every output or error message the test hands it.

use std::sync::Arc;

use dayone_core::config::{BirthrightRule, Config, Delivery, TicketSystem};
use dayone_sandbox::{Sandbox, SandboxConfig, SandboxUrls};
use dayone_sdk::context::StepContext;
use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::StaticSecrets;
use dayone_sdk::testing::LogCapture;
use serde::Serialize;

pub use dayone_sandbox;

/// Why a test environment could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    #[error("the sandbox twins did not start: {0}")]
    Sandbox(#[from] dayone_sandbox::SandboxError),
    #[error("the generated dayone.toml is invalid: {0}")]
    Config(#[from] dayone_core::ConfigError),
}

/// The execution id tests use unless they need several.
pub const EXECUTION_ID: &str =
    "arn:aws:states:eu-west-1:123456789012:execution:joiner:21001-EVT-2026-11-0001";

/// The mailbox the TAP e-mails and notices are sent from (seeded in the Graph twin).
pub const SENDER: &str = "it-onboarding@contoso.com";

/// The Slack channel IT watches (seeded in the Slack twin as `it-joiners`).
pub const IT_CHANNEL: &str = "#it-joiners";

/// Twins + a context wired to them + captured logs. Keep it alive for the whole test.
pub struct TestEnv {
    pub sandbox: Sandbox,
    pub sandbox_config: SandboxConfig,
    pub config: Config,
    pub ctx: StepContext,
    pub logs: LogCapture,
    _log_guard: tracing::dispatcher::DefaultGuard,
}

impl TestEnv {
    /// Default twins, default test policy.
    pub async fn start() -> Result<TestEnv, TestkitError> {
        Self::start_with(SandboxConfig::default(), |_| {}).await
    }

    /// Custom twins and/or a policy tweak (`edit` runs before the context is built).
    pub async fn start_with(
        sandbox_config: SandboxConfig,
        edit: impl FnOnce(&mut Config),
    ) -> Result<TestEnv, TestkitError> {
        let logs = LogCapture::new();
        let log_guard = logs.set_default();
        let sandbox = Sandbox::start(sandbox_config.clone()).await?;
        let mut config = config_for(sandbox.urls(), &sandbox_config);
        edit(&mut config);
        config.validate()?;
        let ctx = context(
            &config,
            secrets_for(&sandbox_config),
            allowlist(sandbox.urls()),
            EXECUTION_ID,
        );
        Ok(TestEnv {
            sandbox,
            sandbox_config,
            config,
            ctx,
            logs,
            _log_guard: log_guard,
        })
    }

    /// The same wiring with a different allowlist (e.g. one twin missing, for EgressDenied).
    pub fn ctx_with_allowlist(&self, allow: Vec<String>) -> StepContext {
        context(
            &self.config,
            secrets_for(&self.sandbox_config),
            allow,
            EXECUTION_ID,
        )
    }

    /// The same wiring with other secrets (e.g. a wrong password, for Unauthorized).
    pub fn ctx_with_secrets(&self, secrets: StaticSecrets) -> StepContext {
        context(
            &self.config,
            secrets,
            allowlist(self.sandbox.urls()),
            EXECUTION_ID,
        )
    }

    /// The same wiring with a changed policy.
    pub fn ctx_with_config(&self, edit: impl FnOnce(&mut Config)) -> StepContext {
        let mut config = self.config.clone();
        edit(&mut config);
        context(
            &config,
            secrets_for(&self.sandbox_config),
            allowlist(self.sandbox.urls()),
            EXECUTION_ID,
        )
    }

    /// The allowlist entry (`127.0.0.1:port`) of a twin's base URL.
    pub fn host_of(url: &str) -> String {
        dayone_sandbox::host_of(url)
    }

    /// Every value that must never appear in a log line or an output: the pass values the
    /// Graph twin issued, every token it handed out, and every credential the twins accept.
    pub fn forbidden_values(&self) -> Vec<String> {
        let mut v = self.sandbox.known_secrets();
        v.extend(self.sandbox.issued_tap_values());
        v.sort();
        v.dedup();
        v
    }

    /// Panics (naming only indexes, never a value) if a pass value or a credential is in any
    /// captured log line or in any of `outputs` (step outputs, serialised errors…).
    pub fn assert_no_leaks<T: Serialize>(&self, outputs: &[T]) {
        let forbidden = self.forbidden_values();
        let needles: Vec<&str> = forbidden.iter().map(String::as_str).collect();
        self.logs.assert_absent(&needles);
        for (i, output) in outputs.iter().enumerate() {
            let text = serde_json::to_string(output).unwrap_or_default();
            let hits: Vec<usize> = needles
                .iter()
                .enumerate()
                .filter(|(_, n)| !n.is_empty() && text.contains(**n))
                .map(|(n, _)| n)
                .collect();
            assert!(
                hits.is_empty(),
                "output #{i} contains forbidden value(s) with index {hits:?}"
            );
        }
    }
}

/// A step context as `main.rs` builds one, with the given policy, secrets and allowlist.
pub fn context(
    config: &Config,
    secrets: StaticSecrets,
    allow: Vec<String>,
    execution_id: &str,
) -> StepContext {
    StepContext::new(
        execution_id,
        "",
        Arc::new(secrets),
        EgressClient::new(allow),
        Arc::new(config.clone()),
    )
}

/// `127.0.0.1:port` of every twin.
pub fn allowlist(urls: &SandboxUrls) -> Vec<String> {
    urls.hosts()
}

/// The twins' credentials under the logical names of `[secrets]`.
pub fn secrets_for(cfg: &SandboxConfig) -> StaticSecrets {
    cfg.credentials().into_iter().collect()
}

fn rule(name: &str, when: &str, groups: &[&str]) -> BirthrightRule {
    BirthrightRule {
        name: name.into(),
        when: when.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        apps: Vec::new(),
    }
}

/// A small company's `dayone.toml`, pointed at the twins.
pub fn config_for(urls: &SandboxUrls, cfg: &SandboxConfig) -> Config {
    let mut c = Config::default();
    c.username.upn_domain = "contoso.com".into();

    let t = &mut c.targets;
    t.graph_base = urls.graph_base.clone();
    t.login_base = urls.login_base.clone();
    t.tenant = Some(cfg.graph.tenant_id.clone());
    t.graph_client_id = Some(cfg.graph.client_id.clone());
    t.workday_base = Some(urls.workday_base.clone());
    t.workday_tenant = Some(cfg.workday.tenant.clone());
    t.workday_username = Some(cfg.workday.username.clone());
    t.servicenow_base = Some(urls.servicenow_base.clone());
    t.servicenow_username = Some(cfg.servicenow.username.clone());
    t.jira_base = Some(urls.jira_base.clone());
    t.jira_email = Some(cfg.jira.email.clone());
    t.slack_base = format!("{}/api", urls.slack_base);
    t.it_channel = IT_CHANNEL.into();
    t.email_domain = Some("contoso.com".into());

    c.tap.enabled = true;
    c.tap.lifetime_minutes = 480;
    c.tap.usable_once = true;
    c.tap.delivery = vec![Delivery::Slack, Delivery::Email];
    c.tap.email_sender = Some(SENDER.into());
    c.tap.default_timezone = "Europe/London".into();

    c.tickets.system = TicketSystem::Servicenow;
    c.tickets.hardware.default = "standard-laptop".into();
    c.tickets.hardware.by_department = [
        ("Engineering", "developer-laptop-mac"),
        ("Sales", "sales-laptop"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    c.tickets.jira.service_desk_id = Some("10".into());
    c.tickets.jira.request_type_id = Some("25".into());

    c.birthright.rules = vec![
        rule("everyone", "true", &["All Staff"]),
        rule(
            "employees",
            r#"hire.workerType == "employee""#,
            &["All Employees", "VPN Users"],
        ),
        rule(
            "contractors",
            r#"hire.workerType == "contractor""#,
            &["Contractors"],
        ),
        rule("interns", r#"hire.workerType == "intern""#, &["Interns"]),
        rule(
            "engineering",
            r#"hire.department == "Engineering" && hire.workerType != "intern""#,
            &["Engineering", "GitHub Users"],
        ),
        rule("london", r#"hire.location == "London""#, &["London Office"]),
        rule("berlin", r#"hire.location == "Berlin""#, &["Berlin Office"]),
        rule("dublin", r#"hire.location == "Dublin""#, &["Dublin Office"]),
    ];
    c
}

/// A fresh table shaped like the ledger table (partition key `pk`, S) in the local DynamoDB
/// that `scripts/with-moto.sh` starts (`DAYONE_DYNAMODB_ENDPOINT`).
///
/// # Panics
/// When `DAYONE_DYNAMODB_ENDPOINT` is not set: a test that needs DynamoDB fails rather than
/// silently skipping. Run it as `scripts/with-moto.sh cargo test -p …` (`make test` does).
pub async fn moto_table(label: &str) -> (aws_sdk_dynamodb::Client, String) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let endpoint = std::env::var("DAYONE_DYNAMODB_ENDPOINT").unwrap_or_default();
    assert!(
        !endpoint.trim().is_empty(),
        "DAYONE_DYNAMODB_ENDPOINT is not set: run this test under scripts/with-moto.sh \
         (e.g. `scripts/with-moto.sh cargo test -p issue-tap`); `make test` does"
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = format!("dayone-test-{label}-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&table)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the test table in the local DynamoDB");
    (client, table)
}

/// The hires of `tests/fixtures/hires/`.
pub mod hires {
    use dayone_core::HireEvent;

    fn parse(json: &str) -> HireEvent {
        HireEvent::parse(json).expect("fixture hire is valid")
    }

    /// Ada Lovelace, employee, Engineering, London; manager Grace Hopper (20007).
    pub fn ada() -> HireEvent {
        parse(include_str!(
            "../../../tests/fixtures/hires/ada-lovelace.json"
        ))
    }

    /// Jürgen Müller, contractor, Engineering, Berlin.
    pub fn jurgen() -> HireEvent {
        parse(include_str!(
            "../../../tests/fixtures/hires/contractor-jurgen.json"
        ))
    }

    /// Siobhán O'Brien, intern, Marketing, Dublin.
    pub fn siobhan() -> HireEvent {
        parse(include_str!(
            "../../../tests/fixtures/hires/intern-siobhan.json"
        ))
    }
}

/// The names the ledger gives the fixture hires.
pub mod names {
    use dayone_core::AllocatedNames;

    fn names(sam: &str, mail_local: &str, display: &str) -> AllocatedNames {
        AllocatedNames {
            sam_account_name: sam.into(),
            upn: format!("{sam}@contoso.com"),
            mail: format!("{mail_local}@contoso.com"),
            display_name: display.into(),
            cn: display.into(),
        }
    }

    pub fn ada() -> AllocatedNames {
        names("alovelace", "ada.lovelace", "Ada Lovelace")
    }

    pub fn jurgen() -> AllocatedNames {
        names("jmueller", "juergen.mueller", "Jürgen Müller")
    }

    pub fn siobhan() -> AllocatedNames {
        names("sobrien", "siobhan.obrien", "Siobhán O'Brien")
    }
}
