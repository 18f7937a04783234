//! Secrets: one trait, four sources, and a string type that refuses to be printed.
//!
//! A step asks for a secret by its logical name (`ctx.secrets.get("graph-client-secret")`).
//! Where the value comes from depends on where the step runs:
//! - [`SecretsManagerStore`] in AWS: `GetSecretValue`, cached in-process with a TTL, concurrent
//!   callers for the same id share one fetch;
//! - [`EnvSecrets`] locally: `DAYONE_SECRET_<NAME>`;
//! - [`FileSecrets`] locally: a JSON or TOML file such as `.dayone/secrets.json`;
//! - [`StaticSecrets`] in tests.
//!
//! [`AliasedSecrets`] maps logical names to store ids (dayone.toml `[secrets]`).
//!
//! Any store accepts `id#key` to pick one key out of a secret holding a JSON object
//! (the usual Secrets Manager layout `{"client_id": "...", "client_secret": "..."}`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

pub use crate::error::SecretError;

/// A secret value. It cannot be printed: `Debug` shows `SecretString([redacted])`, `Display`
/// and `Serialize` show `[redacted]`. Read it only with [`SecretString::expose`], at the
/// point where it goes on the wire.
///
/// It deliberately does not implement `Into<String>`, `AsRef<str>` or `Deref`, so it cannot
/// slip into an error message, a log field or a step output by accident.
#[derive(Clone)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The value itself. Use it to build a request, never to format a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl serde::Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString)
    }
}

/// Where a step gets its secrets from.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret called `name` (or `id#key` for one key of a JSON secret).
    async fn get(&self, name: &str) -> Result<SecretString, SecretError>;
}

#[async_trait]
impl<T: SecretStore + ?Sized> SecretStore for Arc<T> {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        (**self).get(name).await
    }
}

/// Splits `id#key` into the id and the JSON key.
fn split_key(name: &str) -> (&str, Option<&str>) {
    match name.split_once('#') {
        Some((id, key)) if !key.is_empty() => (id, Some(key)),
        _ => (name, None),
    }
}

/// Picks `key` out of a secret whose value is a JSON object. The error never quotes the value:
/// serde_json messages can echo part of the input.
fn pick_json_key(name: &str, raw: &str, key: &str) -> Result<SecretString, SecretError> {
    let parsed: serde_json::Value =
        serde_json::from_str(raw).map_err(|_| SecretError::Invalid {
            name: name.to_string(),
            reason: "it is not a JSON object, so `#key` cannot be used on it".into(),
        })?;
    match parsed.get(key) {
        Some(serde_json::Value::String(s)) => Ok(SecretString::new(s.clone())),
        Some(serde_json::Value::Number(n)) => Ok(SecretString::new(n.to_string())),
        Some(serde_json::Value::Bool(b)) => Ok(SecretString::new(b.to_string())),
        Some(_) => Err(SecretError::Invalid {
            name: name.to_string(),
            reason: format!("key `{key}` is not a string"),
        }),
        None => Err(SecretError::NotFound {
            name: name.to_string(),
        }),
    }
}

/// Resolves `name` against a raw value lookup, honouring `id#key`.
fn resolve(
    name: &str,
    lookup: impl Fn(&str) -> Option<SecretString>,
) -> Result<SecretString, SecretError> {
    if let Some(v) = lookup(name) {
        return Ok(v);
    }
    let (id, key) = split_key(name);
    match (lookup(id), key) {
        (Some(raw), Some(key)) => pick_json_key(name, raw.expose(), key),
        _ => Err(SecretError::NotFound {
            name: name.to_string(),
        }),
    }
}

/// Secrets held in memory: for tests and the local engine.
#[derive(Clone, Default)]
pub struct StaticSecrets {
    values: BTreeMap<String, SecretString>,
}

impl StaticSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a secret; returns `self` for chaining.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(name, value);
        self
    }

    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), SecretString::new(value));
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for StaticSecrets {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut s = StaticSecrets::new();
        for (k, v) in iter {
            s.insert(k, v);
        }
        s
    }
}

impl fmt::Debug for StaticSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticSecrets")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[async_trait]
impl SecretStore for StaticSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        resolve(name, |n| self.values.get(n).cloned())
    }
}

/// Secrets from environment variables, for local runs: `graph-client-secret` is read from
/// `DAYONE_SECRET_GRAPH_CLIENT_SECRET`. Never use this in a deployed Lambda: the design
/// forbids secrets in Lambda environment variables.
#[derive(Debug, Clone)]
pub struct EnvSecrets {
    prefix: String,
}

impl Default for EnvSecrets {
    fn default() -> Self {
        EnvSecrets {
            prefix: "DAYONE_SECRET_".into(),
        }
    }
}

impl EnvSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses another prefix than `DAYONE_SECRET_`.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        EnvSecrets {
            prefix: prefix.into(),
        }
    }

    /// The variable a secret name is read from: uppercased, anything not `[A-Z0-9]` → `_`.
    pub fn var_name(&self, name: &str) -> String {
        let mut var = self.prefix.clone();
        var.extend(name.chars().map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        }));
        var
    }
}

#[async_trait]
impl SecretStore for EnvSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        // `id#key` must not collapse into one variable name: look the id up, then the key.
        let (id, key) = split_key(name);
        let read = |n: &str| std::env::var(self.var_name(n)).ok().map(SecretString::new);
        match key {
            None => read(id).ok_or_else(|| SecretError::NotFound {
                name: format!("{name} (variable {})", self.var_name(name)),
            }),
            Some(key) => match read(id) {
                Some(raw) => pick_json_key(name, raw.expose(), key),
                None => Err(SecretError::NotFound {
                    name: format!("{name} (variable {})", self.var_name(id)),
                }),
            },
        }
    }
}

/// Secrets from a local file: a JSON object (`.json`) or a TOML table (`.toml`) whose keys
/// are secret names. Values are strings; a nested object can be addressed as `name#key`.
/// The file is read once, at [`FileSecrets::open`].
#[derive(Clone)]
pub struct FileSecrets {
    path: PathBuf,
    values: BTreeMap<String, SecretString>,
}

impl fmt::Debug for FileSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSecrets")
            .field("path", &self.path)
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FileSecrets {
    /// Reads the file. Errors name the file, never a value from it.
    pub fn open(path: impl AsRef<Path>) -> Result<FileSecrets, SecretError> {
        let path = path.as_ref();
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SecretError::NotFound {
                name: format!("secrets file {shown}"),
            },
            _ => SecretError::Invalid {
                name: format!("secrets file {shown}"),
                reason: format!("cannot read it: {e}"),
            },
        })?;
        let is_toml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        let doc: serde_json::Value = if is_toml {
            // toml errors quote the offending line, which may hold a secret: report the offset only.
            let table: toml::Table = toml::from_str(&text).map_err(|e| SecretError::Invalid {
                name: format!("secrets file {shown}"),
                reason: match e.span() {
                    Some(span) => format!("not valid TOML (near byte {})", span.start),
                    None => "not valid TOML".into(),
                },
            })?;
            serde_json::to_value(table).map_err(|_| SecretError::Invalid {
                name: format!("secrets file {shown}"),
                reason: "TOML values could not be read as strings".into(),
            })?
        } else {
            serde_json::from_str(&text).map_err(|e| SecretError::Invalid {
                name: format!("secrets file {shown}"),
                reason: format!("not valid JSON (line {}, column {})", e.line(), e.column()),
            })?
        };
        let serde_json::Value::Object(map) = doc else {
            return Err(SecretError::Invalid {
                name: format!("secrets file {shown}"),
                reason: "the top level must be an object of name → value".into(),
            });
        };
        let mut values = BTreeMap::new();
        for (name, value) in map {
            let value = match value {
                serde_json::Value::String(s) => s,
                // Nested objects are kept as JSON so `name#key` works on them.
                serde_json::Value::Object(_) => value.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(SecretError::Invalid {
                        name: format!("secrets file {shown}"),
                        reason: format!("entry `{name}` must be a string or an object"),
                    });
                }
            };
            values.insert(name, SecretString::new(value));
        }
        Ok(FileSecrets {
            path: path.to_path_buf(),
            values,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[async_trait]
impl SecretStore for FileSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        resolve(name, |n| self.values.get(n).cloned()).map_err(|e| match e {
            SecretError::NotFound { name } => SecretError::NotFound {
                name: format!("{name} (in {})", self.path.display()),
            },
            other => other,
        })
    }
}

/// Maps logical secret names to store ids (dayone.toml `[secrets]`: `graph-client-secret =
/// "prod/dayone/graph#client_secret"`). Names with no alias go to the store unchanged.
pub struct AliasedSecrets {
    inner: Arc<dyn SecretStore>,
    aliases: BTreeMap<String, String>,
}

impl AliasedSecrets {
    pub fn new(inner: Arc<dyn SecretStore>, aliases: BTreeMap<String, String>) -> Self {
        AliasedSecrets { inner, aliases }
    }
}

#[async_trait]
impl SecretStore for AliasedSecrets {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        let id = self.aliases.get(name).map(String::as_str).unwrap_or(name);
        self.inner.get(id).await
    }
}

/// How a Secrets Manager error code maps onto [`SecretError`]. Pure so it can be tested
/// without provoking each error from AWS.
pub fn classify_secrets_manager_error(name: &str, code: Option<&str>, detail: &str) -> SecretError {
    let name = name.to_string();
    match code {
        Some("ResourceNotFoundException") => SecretError::NotFound { name },
        Some("AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException")
        | Some("DecryptionFailure" | "ExpiredTokenException" | "InvalidSignatureException") => {
            SecretError::AccessDenied { name }
        }
        Some("ThrottlingException" | "Throttling" | "TooManyRequestsException")
        | Some("RequestLimitExceeded" | "LimitExceededException") => {
            SecretError::Throttled { name }
        }
        Some("InvalidRequestException" | "InvalidParameterException") => SecretError::Invalid {
            name,
            reason: "Secrets Manager refused the request (is the secret scheduled for deletion, \
                     or has it no current value?)"
                .into(),
        },
        Some(other) => SecretError::Unavailable {
            name,
            reason: format!("Secrets Manager error {other}"),
        },
        None => SecretError::Unavailable {
            name,
            reason: detail.to_string(),
        },
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<(Instant, SecretString)>>>;

/// Secrets Manager (`GetSecretValue`) with an in-process cache.
///
/// A warm Lambda keeps its values for `ttl` (default 5 minutes) so a step does not pay a
/// round trip per invocation, and rotation is picked up within the TTL. Concurrent callers
/// asking for the same id wait on one fetch instead of each calling AWS. Failures are not
/// cached. `id#key` fetches `id` once and picks `key` from its JSON value.
pub struct SecretsManagerStore {
    client: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot>>,
    fetches: AtomicU64,
}

impl fmt::Debug for SecretsManagerStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManagerStore")
            .field("ttl", &self.ttl)
            .field("fetches", &self.fetch_count())
            .finish()
    }
}

impl SecretsManagerStore {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        SecretsManagerStore {
            client,
            ttl: Self::DEFAULT_TTL,
            slots: Mutex::new(HashMap::new()),
            fetches: AtomicU64::new(0),
        }
    }

    /// Builds the client from the ambient AWS configuration (the Lambda role).
    pub async fn from_env() -> Self {
        let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(aws_sdk_secretsmanager::Client::new(&conf))
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many `GetSecretValue` calls this store has made (cache misses).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Forgets every cached value, e.g. after a 401 that suggests a rotated credential.
    pub fn invalidate(&self, id: &str) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.remove(split_key(id).0);
        }
    }

    fn slot(&self, id: &str) -> Slot {
        // A poisoned lock only means another thread panicked mid-insert; the map is still sound.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(id.to_string()).or_default().clone()
    }

    async fn fetch(&self, id: &str) -> Result<SecretString, SecretError> {
        use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| {
                let code = e.code().map(str::to_string);
                let detail = match &e {
                    aws_sdk_secretsmanager::error::SdkError::TimeoutError(_) => "timed out",
                    aws_sdk_secretsmanager::error::SdkError::DispatchFailure(_) => {
                        "could not reach Secrets Manager"
                    }
                    _ => "unexpected response from Secrets Manager",
                };
                classify_secrets_manager_error(id, code.as_deref(), detail)
            })?;
        match out.secret_string {
            Some(s) => Ok(SecretString::new(s)),
            None => Err(SecretError::Invalid {
                name: id.to_string(),
                reason: "it holds binary data; dayone needs a SecretString".into(),
            }),
        }
    }

    async fn get_raw(&self, id: &str) -> Result<SecretString, SecretError> {
        let slot = self.slot(id);
        // Holding the slot's lock across the fetch is what de-duplicates concurrent callers.
        let mut cached = slot.lock().await;
        if let Some((at, value)) = cached.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = self.fetch(id).await?;
        *cached = Some((Instant::now(), value.clone()));
        Ok(value)
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn get(&self, name: &str) -> Result<SecretString, SecretError> {
        let (id, key) = split_key(name);
        let raw = self.get_raw(id).await?;
        match key {
            None => Ok(raw),
            Some(key) => pick_json_key(name, raw.expose(), key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StepError;

    const FAKE: &str = "fake-secret-value-DO-NOT-PRINT";

    #[test]
    fn secret_string_never_prints_its_value() {
        let s = SecretString::new(FAKE);
        assert_eq!(format!("{s:?}"), "SecretString([redacted])");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert_eq!(s.expose(), FAKE);
        #[derive(Debug, serde::Serialize)]
        struct Holder {
            token: SecretString,
        }
        let h = Holder { token: s };
        assert!(!format!("{h:?}").contains(FAKE));
        assert!(!serde_json::to_string(&h).unwrap().contains(FAKE));
    }

    #[test]
    fn a_secret_formatted_into_a_step_error_stays_redacted() {
        // GIVEN a careless handler that formats the secret into its message
        let s = SecretString::new(FAKE);
        let err = StepError::unauthorized(format!("token {s} was refused"));
        // THEN neither the message nor the diagnostic holds the value
        assert!(!err.to_string().contains(FAKE));
        let diag: lambda_runtime::Diagnostic = err.into();
        assert!(!diag.error_message.contains(FAKE));
    }

    #[tokio::test]
    async fn static_secrets_resolve_names_and_json_keys() {
        let store = StaticSecrets::new().with("plain", FAKE).with(
            "graph",
            r#"{"client_id":"fake-id","client_secret":"fake-cs"}"#,
        );
        assert_eq!(store.get("plain").await.unwrap().expose(), FAKE);
        assert_eq!(
            store.get("graph#client_id").await.unwrap().expose(),
            "fake-id"
        );
        let missing = store.get("graph#nope").await.unwrap_err();
        assert!(matches!(missing, SecretError::NotFound { .. }));
        let not_json = store.get("plain#x").await.unwrap_err();
        assert!(matches!(not_json, SecretError::Invalid { .. }));
        assert!(!not_json.to_string().contains(FAKE), "{not_json}");
        let err = store.get("absent").await.unwrap_err();
        assert!(err.to_string().contains("absent"), "{err}");
    }

    #[test]
    fn env_var_names_are_uppercased_and_sanitised() {
        let env = EnvSecrets::new();
        assert_eq!(
            env.var_name("graph-client.secret"),
            "DAYONE_SECRET_GRAPH_CLIENT_SECRET"
        );
    }

    #[tokio::test]
    async fn file_secrets_read_json_and_toml_without_leaking_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("secrets.json");
        std::fs::write(
            &json,
            format!(r#"{{"webhook":"{FAKE}","graph":{{"client_secret":"fake-cs"}}}}"#),
        )
        .unwrap();
        let store = FileSecrets::open(&json).unwrap();
        assert_eq!(store.get("webhook").await.unwrap().expose(), FAKE);
        assert_eq!(
            store.get("graph#client_secret").await.unwrap().expose(),
            "fake-cs"
        );
        assert!(!format!("{store:?}").contains(FAKE));
        let missing = store.get("nope").await.unwrap_err();
        assert!(missing.to_string().contains("secrets.json"), "{missing}");

        let toml_path = dir.path().join("secrets.toml");
        std::fs::write(&toml_path, format!("webhook = \"{FAKE}\"\n")).unwrap();
        let store = FileSecrets::open(&toml_path).unwrap();
        assert_eq!(store.get("webhook").await.unwrap().expose(), FAKE);

        // A broken file: the error points at the place, never quotes it.
        std::fs::write(&toml_path, format!("webhook = \"{FAKE}\" junk\n")).unwrap();
        let err = FileSecrets::open(&toml_path).unwrap_err();
        assert!(matches!(err, SecretError::Invalid { .. }));
        assert!(!err.to_string().contains(FAKE), "{err}");
        std::fs::write(&json, format!(r#"{{"webhook": {FAKE}}}"#)).unwrap();
        let err = FileSecrets::open(&json).unwrap_err();
        assert!(!err.to_string().contains(FAKE), "{err}");

        let err = FileSecrets::open(dir.path().join("absent.json")).unwrap_err();
        assert!(matches!(err, SecretError::NotFound { .. }));
    }

    #[tokio::test]
    async fn aliases_map_logical_names_to_ids() {
        let inner: Arc<dyn SecretStore> =
            Arc::new(StaticSecrets::new().with("prod/graph", r#"{"client_secret":"fake-cs"}"#));
        let store = AliasedSecrets::new(
            inner,
            [(
                "graph-client-secret".to_string(),
                "prod/graph#client_secret".to_string(),
            )]
            .into(),
        );
        assert_eq!(
            store.get("graph-client-secret").await.unwrap().expose(),
            "fake-cs"
        );
    }

    #[test]
    fn secrets_manager_error_codes_map_to_step_names() {
        use dayone_core::step_error::StepErrorName as N;
        let cases = [
            ("ResourceNotFoundException", N::Misconfigured),
            ("AccessDeniedException", N::Unauthorized),
            ("DecryptionFailure", N::Unauthorized),
            ("ThrottlingException", N::Throttled),
            ("InternalServiceError", N::Retryable),
            ("InvalidRequestException", N::Misconfigured),
        ];
        for (code, expected) in cases {
            let err = classify_secrets_manager_error("prod/graph", Some(code), "");
            assert_eq!(err.step_error_name(), expected, "{code}");
            assert!(err.to_string().contains("prod/graph"));
        }
        let err = classify_secrets_manager_error("prod/graph", None, "timed out");
        assert_eq!(err.step_error_name(), N::Retryable);
    }
}
