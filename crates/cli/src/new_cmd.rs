//! `dayone new function NAME`: scaffold an organization function under `functions/NAME`.
//!
//! The templates are embedded in the binary, so the command works from an installed `dayone`
//! with no source tree around it. The scaffold is a complete, tested step: a handler in
//! `src/lib.rs` that posts to an allowlisted endpoint with a secret and writes an audit
//! record, `src/main.rs` wiring it to the Lambda runtime, and a test against a local server.
//! Existing files are never overwritten.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

#[derive(clap::Subcommand)]
pub enum NewCommand {
    /// Scaffold an organization function (a step with its own role, secrets and egress).
    Function(NewFunctionArgs),
}

#[derive(clap::Args)]
pub struct NewFunctionArgs {
    /// Lowercase letters, digits and single hyphens, starting with a letter (`welcome-pack`).
    pub name: String,
    /// The dayone workspace (default: the nearest directory upwards whose Cargo.toml has `[workspace]`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub async fn run(cmd: NewCommand) -> anyhow::Result<i32> {
    match cmd {
        NewCommand::Function(args) => {
            let root = match args.dir {
                Some(dir) => dir,
                None => find_workspace_root(&std::env::current_dir()?)?,
            };
            let created = scaffold_function(&root, &args.name)?;
            let name = &args.name;
            let snake = snake(name);
            println!("created functions/{name}:");
            for path in &created {
                println!("  {}", path.strip_prefix(&root).unwrap_or(path).display());
            }
            println!(
                "\nnext:\n  1. add to dayone.toml:\n       [secrets]\n       {snake}_api_key = \"dayone/{name}-api-key\"\n\
                 \n       [targets]\n       {snake}_url = \"https://api.example.com/hooks/new-hire\"\n\
                 \n       [functions.{name}]\n       egress = [\"api.example.com\"]\n       secrets = [\"{snake}_api_key\"]\n       timeout_seconds = 30\n\
                 \n  2. cargo test -p {name}\n  3. see functions/README.md to add it to the state machine and deploy it"
            );
            Ok(0)
        }
    }
}

/// Names the scaffold may not take: built-in steps and crates, and names Cargo reserves.
const RESERVED: [&str; 20] = [
    "allocate-username",
    "create-account",
    "issue-tap",
    "hris-writeback",
    "create-ticket",
    "notify-failure",
    "ingress",
    "core",
    "std",
    "alloc",
    "test",
    "proc-macro",
    "build",
    "deps",
    "examples",
    "incremental",
    "dayone",
    "sdk",
    "self",
    "crate",
];

/// Checks a function name; the error says what a good one looks like.
pub fn validate_name(name: &str) -> anyhow::Result<()> {
    let hint = "use lowercase letters, digits and single hyphens, starting with a letter, \
                at most 48 characters (e.g. `welcome-pack`)";
    if name.is_empty() {
        bail!("the function name is empty: {hint}");
    }
    if name.len() > 48 {
        bail!(
            "the function name is {} characters long: {hint}",
            name.len()
        );
    }
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !first_ok || !chars_ok || name.ends_with('-') || name.contains("--") {
        // Echo the name only when it is printable, so escape codes never reach the terminal.
        let shown = if name.chars().all(|c| c.is_ascii_graphic()) {
            format!("`{name}`")
        } else {
            "the function name".to_string()
        };
        bail!("{shown} is not a valid function name: {hint}");
    }
    if RESERVED.contains(&name) || name.starts_with("dayone-") {
        bail!("`{name}` is reserved by dayone; pick another name");
    }
    Ok(())
}

/// `welcome-pack` → `welcome_pack` (crate path, config and secret keys).
fn snake(name: &str) -> String {
    name.replace('-', "_")
}

/// The nearest directory at or above `start` whose Cargo.toml declares `[workspace]`.
pub fn find_workspace_root(start: &Path) -> anyhow::Result<PathBuf> {
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if let Ok(text) = std::fs::read_to_string(&manifest)
            && text.lines().any(|l| l.trim() == "[workspace]")
        {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(
        "no dayone workspace found above {}: run this inside the repository, or pass --dir",
        start.display()
    )
}

/// Writes `functions/NAME` under `root` and returns the files created. Refuses if the
/// directory already exists, so nothing is ever overwritten.
pub fn scaffold_function(root: &Path, name: &str) -> anyhow::Result<Vec<PathBuf>> {
    validate_name(name)?;
    let functions = root.join("functions");
    std::fs::create_dir_all(&functions)
        .with_context(|| format!("cannot create {}", functions.display()))?;
    let dir = functions.join(name);
    // create_dir (not _all) fails if it exists: the refusal and the creation are one step.
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} already exists; dayone never overwrites a function. Pick another name or remove it first",
                dir.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
    }
    let files = [
        ("Cargo.toml", CARGO_TOML),
        ("src/lib.rs", LIB_RS),
        ("src/main.rs", MAIN_RS),
        ("tests/fixtures/hire.json", HIRE_JSON),
        ("tests/handler.rs", TEST_RS),
    ];
    let mut created = Vec::new();
    for (rel, template) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(render(template, name).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        created.push(path);
    }
    Ok(created)
}

fn render(template: &str, name: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{snake}}", &snake(name))
}

const CARGO_TOML: &str = r#"[package]
name = "{{name}}"
version.workspace = true
edition.workspace = true
license.workspace = true
rust-version.workspace = true
publish = false

[dependencies]
dayone-core.workspace = true
dayone-sdk.workspace = true
serde.workspace = true
serde_json.workspace = true
tokio.workspace = true
tracing.workspace = true

[dev-dependencies]
axum.workspace = true
"#;

const MAIN_RS: &str = r#"//! Lambda wiring for `{{name}}`: logging, context and error mapping come from the SDK.

#[tokio::main]
async fn main() -> Result<(), dayone_sdk::lambda::Error> {
    dayone_sdk::run_step("{{name}}", {{snake}}::handle).await
}
"#;

const LIB_RS: &str = r#"//! `{{name}}`: an organization step in the Joiner flow.
//!
//! It tells an internal service about the new hire: `POST {targets.{{snake}}_url}` with
//! `Authorization: Bearer <secret {{snake}}_api_key>` and `{"workerId","hireDate","department"}`.
//! Replace the body and the mapping with what your service needs; keep the rest:
//! secrets only from `ctx.secrets`, the network only through `ctx.http` (the host must be in
//! `[functions.{{name}}] egress`), one audit record per action, errors as `StepError`.

use dayone_core::hire::HireEvent;
use dayone_sdk::http::retry_after;
use dayone_sdk::{AuditEvent, StepContext, StepError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The logical secret name (a key of `[secrets]` in dayone.toml).
pub const API_KEY_SECRET: &str = "{{snake}}_api_key";
/// The `[targets]` key holding the endpoint.
pub const URL_SETTING: &str = "{{snake}}_url";

/// What the state machine passes in.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub hire: Value,
}

/// What the step returns into the execution history: no secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub notified: bool,
}

pub async fn handle(input: Input, ctx: StepContext) -> Result<Output, StepError> {
    let hire = HireEvent::from_value(input.hire)
        .map_err(|e| StepError::invalid_hire(e.to_string()))?;
    let url = ctx
        .config
        .targets
        .extra
        .get(URL_SETTING)
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            StepError::misconfigured(format!("[targets] {URL_SETTING} is not set in dayone.toml"))
        })?;
    let api_key = ctx.secret(API_KEY_SECRET).await?;

    let body = json!({
        "workerId": hire.worker_id.as_str(),
        "hireDate": hire.hire_date.to_string(),
        "department": hire.department.as_str(),
    });
    let request = ctx.http.post(url).bearer_auth(api_key.expose()).json(&body);
    let response = ctx.http.send(request).await?;
    let status = response.status().as_u16();
    let result = match status {
        200..=299 => Ok(Output { notified: true }),
        401 | 403 => Err(StepError::unauthorized(format!(
            "the service refused the API key ({status}); rotate `{API_KEY_SECRET}`"
        ))),
        429 => Err(StepError::throttled(
            format!("the service is rate limiting ({status})"),
            retry_after(&response),
        )),
        500..=599 => Err(StepError::retryable(format!("the service failed ({status})"))),
        _ => Err(StepError::target_rejected(format!(
            "the service rejected the request ({status})"
        ))),
    };
    let event = AuditEvent::new("fn:{{name}}", "{{snake}}.notify", hire.worker_id.as_str())
        .details(json!({ "status": status }));
    ctx.audit(if result.is_ok() { event } else { event.failed() });
    result
}
"#;

const HIRE_JSON: &str = r#"{
  "eventId": "EVT-TEST-0001",
  "workerId": "90001",
  "workerType": "employee",
  "legalName": { "first": "Test", "last": "Hire" },
  "hireDate": "2030-01-07",
  "department": "Engineering",
  "location": "London",
  "country": "GB"
}
"#;

const TEST_RS: &str = r#"//! `{{name}}` against a local server on 127.0.0.1.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use dayone_core::config::Config;
use dayone_sdk::testing::LogCapture;
use dayone_sdk::{StepContext, StepErrorName};
use serde_json::{Value, json};
use {{snake}}::{Input, handle};

/// Obviously fake; must never appear in a log line.
const API_KEY: &str = "fake-api-key-for-tests";

type Seen = Arc<Mutex<Vec<(String, Value)>>>;

async fn server() -> (Seen, String) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let record = record.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                record
                    .lock()
                    .unwrap()
                    .push((auth, serde_json::from_str(&body).unwrap_or(Value::Null)));
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (seen, addr)
}

fn context(allow: &str, url: &str) -> StepContext {
    let config = Config::from_toml_str(&format!("[targets]\n{{snake}}_url = \"{url}\"\n"))
        .expect("test config is valid");
    StepContext::for_test()
        .secret("{{snake}}_api_key", API_KEY)
        .allow(allow)
        .config(config)
        .build()
}

fn input() -> Input {
    let hire: Value = serde_json::from_str(include_str!("fixtures/hire.json")).unwrap();
    serde_json::from_value(json!({ "hire": hire })).unwrap()
}

#[tokio::test]
async fn the_service_is_told_about_the_hire() {
    let capture = LogCapture::new();
    let _guard = capture.set_default();
    let (seen, addr) = server().await;
    let out = handle(input(), context(&addr, &format!("http://{addr}/hook")))
        .await
        .unwrap();
    assert!(out.notified);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, format!("Bearer {API_KEY}"));
    assert_eq!(
        seen[0].1,
        json!({"workerId": "90001", "hireDate": "2030-01-07", "department": "Engineering"})
    );
    assert_eq!(capture.audit_records().len(), 1);
    capture.assert_absent(&[API_KEY]);
}

#[tokio::test]
async fn a_host_outside_the_allowlist_is_never_called() {
    let (seen, addr) = server().await;
    let err = handle(input(), context("other.example.com", &format!("http://{addr}/hook")))
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::EgressDenied);
    assert!(seen.lock().unwrap().is_empty());
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_root(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("dayone-new-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn good_names_pass_and_bad_names_say_why() {
        for ok in ["welcome-pack", "badge2", "a", "hr-sync-v2"] {
            validate_name(ok).unwrap();
        }
        for bad in [
            "",
            "Welcome",
            "2fast",
            "-x",
            "x-",
            "a--b",
            "a_b",
            "../etc",
            "a/b",
            "issue-tap",
            "dayone-x",
            "test",
            "caf\u{e9}",
            "x\u{1b}[31m",
        ] {
            let err = validate_name(bad).unwrap_err().to_string();
            assert!(
                err.contains("lowercase") || err.contains("reserved"),
                "{bad:?}: {err}"
            );
            assert!(!err.contains('\u{1b}'));
        }
        assert!(validate_name(&"a".repeat(49)).is_err());
    }

    #[test]
    fn scaffold_writes_a_complete_crate_with_the_name_filled_in() {
        let root = temp_root("ok");
        let created = scaffold_function(&root, "badge-print").unwrap();
        assert_eq!(created.len(), 5);
        let dir = root.join("functions/badge-print");
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"badge-print\""));
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(main.contains("run_step(\"badge-print\", badge_print::handle)"));
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("\"badge_print_api_key\""));
        assert!(!lib.contains("{{"), "every placeholder is filled");
        let test = std::fs::read_to_string(dir.join("tests/handler.rs")).unwrap();
        assert!(test.contains("use badge_print::{Input, handle};"));
        assert!(!test.contains("{{name}}") && !test.contains("{{snake}}"));
        let hire = std::fs::read_to_string(dir.join("tests/fixtures/hire.json")).unwrap();
        serde_json::from_str::<serde_json::Value>(&hire).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_existing_function_is_never_overwritten() {
        let root = temp_root("exists");
        let dir = root.join("functions/keep-me");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "mine").unwrap();
        let err = scaffold_function(&root, "keep-me").unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(),
            "mine"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn the_workspace_root_is_found_upwards() {
        let root = temp_root("ws");
        std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        let deep = root.join("functions/x/src");
        std::fs::create_dir_all(&deep).unwrap();
        assert_eq!(find_workspace_root(&deep).unwrap(), root);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
