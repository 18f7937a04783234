//! The Lambda entry every step and function uses: `main.rs` is one call to [`run_step`].
//!
//! ```no_run
//! # use dayone_sdk::{context::StepContext, StepError};
//! # async fn handle(input: serde_json::Value, ctx: StepContext) -> Result<serde_json::Value, StepError> { Ok(input) }
//! #[tokio::main]
//! async fn main() -> Result<(), dayone_sdk::lambda::Error> {
//!     dayone_sdk::lambda::run_step("welcome-pack", handle).await
//! }
//! ```
//!
//! At cold start it installs the JSON logger and builds the [`StepContext`] once
//! ([`StepContext::from_env`]). Per invocation it reads `executionId` and `workerId` from the
//! payload (top level, or `hire.workerId`), runs the handler inside a span carrying them,
//! logs the outcome, and turns a [`StepError`] into the Lambda `errorType` Step Functions
//! matches on.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use dayone_core::config::Config;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use crate::context::{ScopedSecrets, StepContext};
use crate::error::StepError;
use crate::http::{Allowlist, EgressClient};
use crate::secrets::{AliasedSecrets, FileSecrets, SecretStore, SecretsManagerStore};

/// The Lambda runtime, re-exported so a `main.rs` needs no direct dependency.
pub use lambda_runtime;

/// What a step's `main` returns.
pub type Error = lambda_runtime::Error;

/// Environment variables the entry reads (never secrets themselves).
pub mod env {
    /// Path of `dayone.toml` (default `dayone.toml` in the working directory, then none).
    pub const CONFIG: &str = "DAYONE_CONFIG";
    /// Extra egress entries, comma-separated, appended to `[functions.NAME] egress`.
    pub const EGRESS: &str = "DAYONE_EGRESS_ALLOWLIST";
    /// Local runs only: read secrets from this JSON/TOML file instead of Secrets Manager.
    pub const SECRETS_FILE: &str = "DAYONE_SECRETS_FILE";
    /// Point the Secrets Manager client somewhere else (a local moto server).
    pub const SECRETSMANAGER_ENDPOINT: &str = "DAYONE_SECRETSMANAGER_ENDPOINT";
    /// HTTP timeout in seconds for the egress client (default 10).
    pub const HTTP_TIMEOUT: &str = "DAYONE_HTTP_TIMEOUT_SECS";
}

/// Reads `dayone.toml` from `DAYONE_CONFIG`, else `./dayone.toml` if present, else defaults.
pub fn load_config() -> Result<Config, StepError> {
    let (path, explicit) = match std::env::var(env::CONFIG) {
        Ok(p) if !p.trim().is_empty() => (p, true),
        _ => ("dayone.toml".to_string(), false),
    };
    if !explicit && !Path::new(&path).exists() {
        return Ok(Config::default());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        StepError::misconfigured(format!(
            "cannot read the configuration {path} ({e}); set {} to the dayone.toml bundled with the function",
            env::CONFIG
        ))
    })?;
    Config::from_toml_str(&text)
        .map_err(|e| StepError::misconfigured(format!("configuration {path} is invalid: {e}")))
}

/// The egress allowlist of `function`: `[functions.NAME] egress` plus `DAYONE_EGRESS_ALLOWLIST`.
pub fn egress_for(config: &Config, function: &str) -> Vec<String> {
    let mut entries = config.function(function).egress;
    if let Ok(extra) = std::env::var(env::EGRESS) {
        entries.extend(
            extra
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_string),
        );
    }
    entries
}

impl StepContext {
    /// The context a deployed step runs with: configuration from `DAYONE_CONFIG`, secrets from
    /// Secrets Manager (or `DAYONE_SECRETS_FILE` locally) mapped through `[secrets]` and
    /// restricted to `[functions.NAME] secrets` when the function has an entry, and an egress
    /// client limited to its allowlist.
    pub async fn from_env(function: &str) -> Result<StepContext, StepError> {
        let config = Arc::new(load_config()?);
        let store: Arc<dyn SecretStore> = match std::env::var(env::SECRETS_FILE) {
            Ok(path) if !path.trim().is_empty() => Arc::new(FileSecrets::open(path)?),
            _ => {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Ok(endpoint) = std::env::var(env::SECRETSMANAGER_ENDPOINT) {
                    loader = loader.endpoint_url(endpoint);
                }
                let sdk = loader.load().await;
                Arc::new(SecretsManagerStore::new(
                    aws_sdk_secretsmanager::Client::new(&sdk),
                ))
            }
        };
        let mut secrets: Arc<dyn SecretStore> =
            Arc::new(AliasedSecrets::new(store, config.secrets.clone()));
        if let Some(f) = config.functions.get(function) {
            secrets = Arc::new(ScopedSecrets::new(secrets, function, &f.secrets));
        }
        let allow = Allowlist::parse(&egress_for(&config, function))
            .map_err(|e| StepError::misconfigured(e.to_string()))?;
        let mut http = EgressClient::builder(allow);
        if let Some(secs) = std::env::var(env::HTTP_TIMEOUT)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            http = http.timeout(std::time::Duration::from_secs(secs));
        }
        let http = http
            .build()
            .map_err(|e| StepError::misconfigured(e.to_string()))?;
        Ok(StepContext::new("", "", secrets, http, config))
    }
}

/// `executionId` and `workerId` from a step payload: top level (`executionId` /
/// `execution_id`, `workerId` / `worker_id`), else inside `hire`. Missing ids are `"-"`.
pub fn invocation_ids(payload: &Value) -> (String, String) {
    fn pick(v: &Value, keys: &[&str]) -> Option<String> {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    }
    let execution = pick(payload, &["executionId", "execution_id", "executionArn"])
        .or_else(|| payload.get("hire").and_then(|h| pick(h, &["executionId"])))
        .unwrap_or_else(|| "-".into());
    let worker = pick(payload, &["workerId", "worker_id"])
        .or_else(|| payload.get("hire").and_then(|h| pick(h, &["workerId"])))
        .unwrap_or_else(|| "-".into());
    (execution, worker)
}

/// Runs one invocation: ids into the context and the span, input decoded, handler called,
/// outcome logged. This is what [`run_step`] does per event; tests can call it directly.
pub async fn invoke<H, Fut, I, O>(
    handler: &H,
    base: &StepContext,
    payload: Value,
) -> Result<Value, StepError>
where
    H: Fn(I, StepContext) -> Fut,
    Fut: Future<Output = Result<O, StepError>>,
    I: DeserializeOwned,
    O: Serialize,
{
    let (execution_id, worker_id) = invocation_ids(&payload);
    let ctx = base.for_invocation(execution_id, worker_id);
    let span = ctx.span();
    async move {
        let started = Instant::now();
        let input: I = serde_json::from_value(payload).map_err(|e| {
            StepError::misconfigured(format!(
                "the step input does not have the expected shape ({e}); check the state machine's Parameters"
            ))
        })?;
        let result = handler(input, ctx).await.and_then(|out| {
            serde_json::to_value(out).map_err(|e| {
                StepError::retryable(format!("the step output could not be serialised: {e}"))
            })
        });
        let duration_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::info!(duration_ms, "step succeeded"),
            Err(e) => tracing::error!(
                duration_ms,
                error_type = e.name.as_str(),
                error_message = %e.message,
                "step failed"
            ),
        }
        result
    }
    .instrument(span)
    .await
}

/// The Lambda entry: logging, a context built once, then one [`invoke`] per event.
///
/// If the context cannot be built (bad config, bad allowlist) the function still starts and
/// answers every invocation with `Dayone.Misconfigured`, so the state machine's `Catch`
/// reports the cause instead of a bare init failure.
pub async fn run_step<H, Fut, I, O>(function: &str, handler: H) -> Result<(), lambda_runtime::Error>
where
    H: Fn(I, StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, StepError>> + Send,
    I: DeserializeOwned + Send,
    O: Serialize + Send,
{
    crate::logging::init_logging();
    let base = match StepContext::from_env(function).await {
        Ok(ctx) => Ok(ctx),
        Err(e) => {
            tracing::error!(function, error_type = e.name.as_str(), error_message = %e.message, "cold start failed");
            Err(e)
        }
    };
    let base = Arc::new(base);
    let handler = Arc::new(handler);
    let cold = Arc::new(AtomicBool::new(true));
    let function = function.to_string();
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<Value>| {
            let base = base.clone();
            let handler = handler.clone();
            let cold_start = cold.swap(false, Ordering::Relaxed);
            let function = function.clone();
            async move {
                // lambda_runtime's own span already puts `requestId` on the line.
                tracing::info!(function = %function, cold_start, "invocation");
                let ctx = match base.as_ref() {
                    Ok(ctx) => ctx,
                    Err(e) => return Err(lambda_runtime::Diagnostic::from(e.clone())),
                };
                invoke(handler.as_ref(), ctx, event.payload)
                    .await
                    .map_err(lambda_runtime::Diagnostic::from)
            }
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StepErrorName;
    use crate::testing::LogCapture;
    use serde_json::json;

    #[test]
    fn ids_come_from_the_top_level_or_the_hire() {
        assert_eq!(
            invocation_ids(&json!({"executionId": "e1", "workerId": "W1"})),
            ("e1".into(), "W1".into())
        );
        assert_eq!(
            invocation_ids(&json!({"executionId": "e2", "hire": {"workerId": "W2"}})),
            ("e2".into(), "W2".into())
        );
        assert_eq!(invocation_ids(&json!([1, 2])), ("-".into(), "-".into()));
    }

    #[derive(serde::Deserialize)]
    struct In {
        n: u32,
    }

    async fn double(input: In, ctx: StepContext) -> Result<Value, StepError> {
        tracing::info!("doubling");
        if input.n == 0 {
            return Err(StepError::target_rejected("zero is refused"));
        }
        Ok(json!({"n": input.n * 2, "worker": ctx.worker_id}))
    }

    #[tokio::test]
    async fn invoke_runs_the_handler_inside_the_step_span() {
        let capture = LogCapture::new();
        let _g = capture.set_default();
        let base = StepContext::for_test().build();
        let out = invoke(
            &double,
            &base,
            json!({"executionId": "e1", "workerId": "W1", "n": 2}),
        )
        .await
        .unwrap();
        assert_eq!(out, json!({"n": 4, "worker": "W1"}));
        let records = capture.records();
        assert!(
            records
                .iter()
                .all(|r| r["execution_id"] == "e1" && r["worker_id"] == "W1")
        );
        assert!(records.iter().any(|r| r["message"] == "step succeeded"));
    }

    #[tokio::test]
    async fn step_errors_keep_their_name_and_bad_input_is_misconfigured() {
        let base = StepContext::for_test().build();
        let err = invoke(&double, &base, json!({"n": 0})).await.unwrap_err();
        assert_eq!(err.name, StepErrorName::TargetRejected);
        let diag = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diag.error_type, "Dayone.TargetRejected");
        let err = invoke(&double, &base, json!({"m": 1})).await.unwrap_err();
        assert_eq!(err.name, StepErrorName::Misconfigured);
    }

    #[test]
    fn egress_comes_from_the_function_section() {
        let cfg =
            Config::from_toml_str("[functions.welcome-pack]\negress = [\"api.example.com\"]\n")
                .expect("a function section with an egress list is valid");
        assert_eq!(
            egress_for(&cfg, "welcome-pack"),
            vec!["api.example.com".to_string()]
        );
        assert!(egress_for(&cfg, "other").is_empty());
    }
}
