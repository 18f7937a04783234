//! What a step handler is given: its ids, its secrets, its network, its configuration.
//!
//! A [`StepContext`] is built once per cold start (see [`crate::lambda::run_step`]) and
//! cloned cheaply per invocation with the execution's ids ([`StepContext::for_invocation`]).
//! Tests build one with [`StepContext::for_test`].

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dayone_core::config::Config;

use crate::audit::{AuditEvent, audit};
use crate::error::{SecretError, StepError};
use crate::http::{Allowlist, EgressClient};
use crate::secrets::{SecretStore, SecretString, StaticSecrets};

/// Everything a step may touch. Cloning shares the secret cache, the HTTP pool and the config.
#[derive(Clone)]
pub struct StepContext {
    /// The Step Functions execution (or local run) this invocation belongs to.
    pub execution_id: String,
    /// The hire's `workerId`.
    pub worker_id: String,
    pub secrets: Arc<dyn SecretStore>,
    pub http: EgressClient,
    pub config: Arc<Config>,
}

impl std::fmt::Debug for StepContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepContext")
            .field("execution_id", &self.execution_id)
            .field("worker_id", &self.worker_id)
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

impl StepContext {
    pub fn new(
        execution_id: impl Into<String>,
        worker_id: impl Into<String>,
        secrets: Arc<dyn SecretStore>,
        http: EgressClient,
        config: Arc<Config>,
    ) -> Self {
        StepContext {
            execution_id: execution_id.into(),
            worker_id: worker_id.into(),
            secrets,
            http,
            config,
        }
    }

    /// The same context for another invocation.
    pub fn for_invocation(
        &self,
        execution_id: impl Into<String>,
        worker_id: impl Into<String>,
    ) -> StepContext {
        StepContext {
            execution_id: execution_id.into(),
            worker_id: worker_id.into(),
            ..self.clone()
        }
    }

    /// A secret by logical name, with the error already a [`StepError`].
    pub async fn secret(&self, name: &str) -> Result<SecretString, StepError> {
        self.secrets.get(name).await.map_err(StepError::from)
    }

    /// The span that puts this invocation's ids on every log line.
    pub fn span(&self) -> tracing::Span {
        crate::logging::step_span(&self.execution_id, &self.worker_id)
    }

    /// Writes an audit record carrying this invocation's ids.
    pub fn audit(&self, event: AuditEvent) {
        self.span().in_scope(|| audit(event));
    }

    /// A context for tests: ids `exec-test` / `W-test`, no secrets, nothing reachable,
    /// default configuration. Add what the test needs on the builder.
    pub fn for_test() -> StepContextBuilder {
        StepContextBuilder::default()
    }
}

/// Builds a [`StepContext`] for tests and local runs.
pub struct StepContextBuilder {
    execution_id: String,
    worker_id: String,
    secrets: StaticSecrets,
    store: Option<Arc<dyn SecretStore>>,
    allowlist: Vec<String>,
    timeout: Duration,
    config: Config,
}

impl Default for StepContextBuilder {
    fn default() -> Self {
        StepContextBuilder {
            execution_id: "exec-test".into(),
            worker_id: "W-test".into(),
            secrets: StaticSecrets::new(),
            store: None,
            allowlist: Vec::new(),
            timeout: crate::http::DEFAULT_TIMEOUT,
            config: Config::default(),
        }
    }
}

impl StepContextBuilder {
    pub fn execution_id(mut self, id: impl Into<String>) -> Self {
        self.execution_id = id.into();
        self
    }

    pub fn worker_id(mut self, id: impl Into<String>) -> Self {
        self.worker_id = id.into();
        self
    }

    /// Adds an in-memory secret (ignored if [`StepContextBuilder::secret_store`] is set).
    pub fn secret(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.secrets.insert(name, value);
        self
    }

    /// Uses this store instead of the in-memory one.
    pub fn secret_store(mut self, store: Arc<dyn SecretStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Allows one more egress entry (`host`, `host:port`, `*.suffix`).
    pub fn allow(mut self, entry: impl Into<String>) -> Self {
        self.allowlist.push(entry.into());
        self
    }

    pub fn allowlist(mut self, entries: Vec<String>) -> Self {
        self.allowlist.extend(entries);
        self
    }

    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    pub fn build(self) -> StepContext {
        let http = EgressClient::builder(Allowlist::parse_lenient(&self.allowlist))
            .timeout(self.timeout)
            .build()
            .unwrap_or_else(|_| EgressClient::new(self.allowlist.clone()));
        StepContext {
            execution_id: self.execution_id,
            worker_id: self.worker_id,
            secrets: self.store.unwrap_or_else(|| Arc::new(self.secrets)),
            http,
            config: Arc::new(self.config),
        }
    }
}

/// Restricts a function to the secrets its `[functions.NAME] secrets` list names, so one
/// function cannot read another's credentials even if its role could.
pub struct ScopedSecrets {
    inner: Arc<dyn SecretStore>,
    function: String,
    allowed: BTreeSet<String>,
}

impl ScopedSecrets {
    pub fn new(
        inner: Arc<dyn SecretStore>,
        function: impl Into<String>,
        allowed: &[String],
    ) -> Self {
        ScopedSecrets {
            inner,
            function: function.into(),
            allowed: allowed.iter().cloned().collect(),
        }
    }
}

#[async_trait]
impl SecretStore for ScopedSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        let logical = name.split_once('#').map_or(name, |(id, _)| id);
        if !self.allowed.contains(logical) {
            return Err(SecretError::Invalid {
                name: name.to_string(),
                reason: format!(
                    "function `{}` may not read it: add it to [functions.{}] secrets in dayone.toml",
                    self.function, self.function
                ),
            });
        }
        self.inner.get(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StepErrorName;
    use crate::testing::LogCapture;

    #[tokio::test]
    async fn for_test_builds_a_working_context() {
        let ctx = StepContext::for_test()
            .execution_id("exec-1")
            .worker_id("W1")
            .secret("api_key", "fake-key")
            .allow("127.0.0.1")
            .build();
        assert_eq!(ctx.secret("api_key").await.unwrap().expose(), "fake-key");
        assert!(ctx.http.is_allowed("http://127.0.0.1:1234/x"));
        assert!(!ctx.http.is_allowed("https://example.com/"));
        let err = ctx.secret("other").await.unwrap_err();
        assert_eq!(err.name, StepErrorName::Misconfigured);
        assert!(!format!("{ctx:?}").contains("fake-key"));
    }

    #[tokio::test]
    async fn for_invocation_keeps_shared_parts_and_changes_ids() {
        let base = StepContext::for_test().secret("s", "fake").build();
        let ctx = base.for_invocation("exec-2", "W2");
        assert_eq!(ctx.execution_id, "exec-2");
        assert!(Arc::ptr_eq(&ctx.config, &base.config));
        assert_eq!(ctx.secret("s").await.unwrap().expose(), "fake");
    }

    #[test]
    fn audit_from_the_context_carries_the_ids() {
        let capture = LogCapture::new();
        let _g = capture.set_default();
        let ctx = StepContext::for_test()
            .execution_id("exec-3")
            .worker_id("W3")
            .build();
        ctx.audit(AuditEvent::new("fn:test", "thing.do", "W3"));
        let rec = &capture.audit_records()[0];
        assert_eq!(rec["execution_id"], "exec-3");
        assert_eq!(rec["worker_id"], "W3");
    }

    #[tokio::test]
    async fn scoped_secrets_refuse_names_outside_the_function_list() {
        let inner: Arc<dyn SecretStore> = Arc::new(
            StaticSecrets::new()
                .with("welcome_api_key", "fake-1")
                .with("graph_client_secret", "fake-2"),
        );
        let scoped = ScopedSecrets::new(inner, "welcome-pack", &["welcome_api_key".to_string()]);
        assert_eq!(
            scoped.get("welcome_api_key").await.unwrap().expose(),
            "fake-1"
        );
        let err = scoped.get("graph_client_secret").await.unwrap_err();
        assert_eq!(err.step_error_name(), StepErrorName::Misconfigured);
        assert!(err.to_string().contains("[functions.welcome-pack] secrets"));
        assert!(!err.to_string().contains("fake-2"));
    }
}
