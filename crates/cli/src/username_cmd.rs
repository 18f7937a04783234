//! `dayone username allocate`, `import` and `explain`.
//!
//! `allocate` is a filter: one JSON hire per input line, one JSON result per
//! output line, in order, never a line lost. A bad line becomes an error line
//! (`{"eventId"?, "error": {"name", "message"}}`) and the next line is read.
//! `import` is the same kind of filter over accounts that already exist in the
//! directory (`{"workerId","samAccountName","upn","mail"?,"status"?}`), so
//! their names are never offered to a new hire. `tombstone` marks leavers' names: kept
//! forever, never given to anyone else, given back if the same worker is rehired.
//! `explain` shows, for people, what the policy proposes for one hire and
//! which candidate the ledger would give, without reserving anything.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use dayone_core::{
    Config, Decision, HireEvent, Namespace, StepErrorName, TraceEntry, UsernamePolicy,
};
use dayone_ledger::{DEFAULT_SQLITE_PATH, ExistingAccount, Ledger, NameStatus, open_ledger};
use serde_json::{Value, json};

const DEFAULT_LEDGER: &str = "sqlite:.dayone/ledger.sqlite";

#[derive(clap::Subcommand)]
pub enum UsernameCommand {
    /// Allocate names for hires read as JSON lines on stdin; one JSON line out per line in.
    Allocate(AllocateArgs),
    /// Record accounts that already exist in the directory (JSON lines on stdin:
    /// workerId, samAccountName, upn, mail?, status? = active|tombstoned), so their
    /// names are never given to anyone else. One JSON line out per line in.
    Import(AllocateArgs),
    /// Mark the names of workers who left as tombstoned: never deleted, never given to anyone
    /// else, given back on rehire. One JSON line out per worker id.
    Tombstone(TombstoneArgs),
    /// Explain, for people, which names a hire would get and why.
    Explain(ExplainArgs),
}

#[derive(clap::Args)]
pub struct AllocateArgs {
    /// The policy file.
    #[arg(long, default_value = "dayone.toml")]
    config: PathBuf,
    /// Where names are reserved: sqlite:PATH or dynamodb:TABLE.
    #[arg(long, env = "DAYONE_LEDGER", default_value = DEFAULT_LEDGER)]
    ledger: String,
}

#[derive(clap::Args)]
pub struct TombstoneArgs {
    /// Worker ids (Workday Employee_ID / Contingent_Worker_ID) of the leavers.
    #[arg(required = true)]
    workers: Vec<String>,
    /// Where names are reserved: sqlite:PATH or dynamodb:TABLE.
    #[arg(long, env = "DAYONE_LEDGER", default_value = DEFAULT_LEDGER)]
    ledger: String,
}

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// A HireEvent v1 JSON file.
    hire: PathBuf,
    /// The policy file.
    #[arg(long, default_value = "dayone.toml")]
    config: PathBuf,
    /// The ledger consulted (read-only) for names already held.
    #[arg(long, env = "DAYONE_LEDGER", default_value = DEFAULT_LEDGER)]
    ledger: String,
}

pub async fn run(cmd: UsernameCommand) -> anyhow::Result<i32> {
    match cmd {
        UsernameCommand::Allocate(args) => allocate(args).await,
        UsernameCommand::Import(args) => import(args).await,
        UsernameCommand::Tombstone(args) => tombstone(args).await,
        UsernameCommand::Explain(args) => explain(args).await,
    }
}

fn load_policy(path: &Path) -> anyhow::Result<UsernamePolicy> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the policy {} (pass --config with the path of your dayone.toml)",
            path.display()
        )
    })?;
    let config = Config::from_toml_str(&text).with_context(|| format!("in {}", path.display()))?;
    UsernamePolicy::from_config(&config.username).with_context(|| format!("in {}", path.display()))
}

async fn allocate(args: AllocateArgs) -> anyhow::Result<i32> {
    let policy = load_policy(&args.config)?;
    let ledger = open_ledger(&args.ledger)
        .await
        .context("cannot open the ledger")?;
    filter_lines(async |line| allocate_line(&policy, ledger.as_ref(), line).await).await
}

async fn import(args: AllocateArgs) -> anyhow::Result<i32> {
    // The policy says where numeric suffixes start, so an imported `jsmith7`
    // moves the `jsmith` counter past it.
    let policy = load_policy(&args.config)?;
    let ledger = open_ledger(&args.ledger)
        .await
        .context("cannot open the ledger")?;
    let start = policy.suffix_start();
    filter_lines(async |line| import_line(ledger.as_ref(), start, line).await).await
}

async fn tombstone(args: TombstoneArgs) -> anyhow::Result<i32> {
    let ledger = open_ledger(&args.ledger)
        .await
        .context("cannot open the ledger")?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failures = 0usize;
    for worker in &args.workers {
        let line = match ledger.tombstone(worker).await {
            Ok(()) => match ledger.worker(worker).await {
                Ok(Some(held)) => json!({
                    "workerId": worker,
                    "status": held.status,
                    "samAccountName": held.sam_account_name,
                    "upn": held.upn,
                    "mail": held.mail,
                }),
                Ok(None) => json!({"workerId": worker, "status": NameStatus::Tombstoned}),
                Err(e) => error_for(worker, &e),
            },
            Err(e) => error_for(worker, &e),
        };
        if line.get("error").is_some() {
            failures += 1;
        }
        serde_json::to_writer(&mut out, &line).context("cannot write stdout")?;
        out.write_all(b"\n").context("cannot write stdout")?;
    }
    out.flush().context("cannot write stdout")?;
    Ok(if failures == 0 { 0 } else { 1 })
}

fn error_for(worker: &str, e: &dayone_ledger::LedgerError) -> Value {
    let mut v = error_line(None, e.step_error_name(), e.to_string());
    v["workerId"] = Value::String(worker.to_string());
    v
}

/// Reads stdin line by line, writes one JSON line per input line; exit code 1
/// when any output line is an error.
async fn filter_lines(mut each: impl AsyncFnMut(&str) -> Value) -> anyhow::Result<i32> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut buf = Vec::new();
    let mut failures = 0usize;
    loop {
        buf.clear();
        // Bytes, not String: one line of invalid UTF-8 must not end the stream.
        let n = input
            .read_until(b'\n', &mut buf)
            .context("cannot read stdin")?;
        if n == 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        let result = each(line).await;
        if result.get("error").is_some() {
            failures += 1;
        }
        serde_json::to_writer(&mut out, &result).context("cannot write stdout")?;
        out.write_all(b"\n").context("cannot write stdout")?;
        // Flushed per line so a consumer sees each result as soon as it exists.
        out.flush().context("cannot write stdout")?;
    }
    Ok(if failures == 0 { 0 } else { 1 })
}

fn error_line(event_id: Option<&str>, name: StepErrorName, message: impl Into<String>) -> Value {
    let mut obj = serde_json::Map::new();
    if let Some(id) = event_id {
        obj.insert("eventId".into(), Value::String(id.to_string()));
    }
    obj.insert(
        "error".into(),
        json!({"name": name.as_str(), "message": message.into()}),
    );
    Value::Object(obj)
}

/// One input line to one output object; never fails, never panics on data.
async fn allocate_line(policy: &UsernamePolicy, ledger: &dyn Ledger, line: &str) -> Value {
    if line.trim().is_empty() {
        return error_line(
            None,
            StepErrorName::InvalidHire,
            "empty line: expected one HireEvent JSON object",
        );
    }
    // The event id, when the line is JSON at all, so the error can be matched to its input.
    let event_id = serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v.get("eventId").and_then(Value::as_str).map(str::to_string));
    let event_id = event_id.as_deref();
    let hire = match HireEvent::parse(line) {
        Ok(h) => h,
        Err(e) => return error_line(event_id, e.step_error_name(), e.to_string()),
    };
    let plan = match policy.plan(&hire) {
        Ok(p) => p,
        Err(e) => return error_line(event_id, e.step_error_name(), e.to_string()),
    };
    let execution = format!("cli:{}", hire.event_id.as_str());
    match ledger
        .allocate(hire.worker_id.as_str(), &execution, &plan)
        .await
    {
        Ok(a) => json!({
            "eventId": hire.event_id.as_str(),
            "workerId": a.worker_id,
            "samAccountName": a.names.sam_account_name,
            "upn": a.names.upn,
            "mail": a.names.mail,
            "displayName": a.names.display_name,
            "cn": a.names.cn,
            "trace": a.trace,
        }),
        Err(e) => error_line(event_id, e.step_error_name(), e.to_string()),
    }
}

/// One account line to one output object; never fails, never panics on data.
async fn import_line(ledger: &dyn Ledger, suffix_start: u64, line: &str) -> Value {
    let invalid = |message: String| error_line(None, StepErrorName::InvalidHire, message);
    if line.trim().is_empty() {
        return invalid("empty line: expected one account JSON object".into());
    }
    let account: ExistingAccount = match serde_json::from_str(line) {
        Ok(a) => a,
        Err(e) => {
            return invalid(format!(
                "not an account ({e}); expected {{\"workerId\",\"samAccountName\",\"upn\",\"mail\"?,\"status\"?}}"
            ));
        }
    };
    match ledger.import(&account, suffix_start).await {
        Ok(outcome) => json!({
            "workerId": account.worker_id,
            "samAccountName": account.sam_account_name,
            "upn": account.upn,
            "mail": account.mail_or_upn(),
            "status": account.status,
            "import": outcome,
        }),
        Err(e) => error_for(&account.worker_id, &e),
    }
}

async fn explain(args: ExplainArgs) -> anyhow::Result<i32> {
    let policy = load_policy(&args.config)?;
    let text = std::fs::read_to_string(&args.hire)
        .with_context(|| format!("cannot read the hire {}", args.hire.display()))?;
    let hire = match HireEvent::parse(&text) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            for f in e.fields() {
                eprintln!("  - {}: {}", f.field, f.problem);
            }
            return Ok(2);
        }
    };
    let mut out = String::new();
    let name = format!(
        "{} {}",
        hire.legal_name.first.as_str(),
        hire.legal_name.last.as_str()
    );
    out.push_str(&format!(
        "Hire {} (worker {}): {}\n",
        hire.event_id.as_str(),
        hire.worker_id.as_str(),
        name
    ));
    let plan = match policy.plan(&hire) {
        Ok(p) => p,
        Err(e) => {
            out.push_str("\nPolicy:\n");
            push_trace(&mut out, e.trace());
            out.push_str(&format!("\nNo username: {e}\n"));
            print!("{out}");
            return Ok(1);
        }
    };
    out.push_str(&format!(
        "Display name: {}\nCN: {}\n",
        plan.display_name, plan.cn
    ));
    out.push_str("\nPolicy:\n");
    push_trace(&mut out, &plan.trace);

    // Read-only: ask who holds what, never reserve. A missing local ledger
    // just means nothing is held yet (and is not created by explaining).
    let ledger = match local_ledger_missing(&args.ledger) {
        true => None,
        false => Some(
            open_ledger(&args.ledger)
                .await
                .context("cannot open the ledger")?,
        ),
    };
    out.push_str("\nLedger:\n");
    let Some(ledger) = ledger else {
        out.push_str(&format!(
            "  (no ledger at {}; every candidate is free)\n",
            args.ledger
        ));
        push_candidates_free(&mut out, &plan);
        print!("{out}");
        return Ok(0);
    };
    if let Some(held) = ledger.worker(hire.worker_id.as_str()).await? {
        let state = match held.status {
            NameStatus::Active => "holds",
            NameStatus::Tombstoned => "held (tombstoned; a rehire reactivates)",
        };
        out.push_str(&format!(
            "  worker {} already {} {} / {} / {}: allocate returns these\n",
            held.worker_id, state, held.sam_account_name, held.upn, held.mail
        ));
        print!("{out}");
        return Ok(0);
    }
    let mut chosen = None;
    for c in &plan.candidates {
        let mut why = Vec::new();
        for ns in Namespace::ALL {
            if let Some(rec) = ledger.holder(ns, &c.name_in(ns)).await? {
                let state = match rec.status {
                    NameStatus::Active => "taken",
                    NameStatus::Tombstoned => "tombstoned, never reused",
                };
                why.push(format!("{} {} {}", ns.as_str(), c.name_in(ns), state));
            }
        }
        if why.is_empty() {
            out.push_str(&format!(
                "  ✓ {:<28} {} / {} / {}: free, would be chosen\n",
                c.rule, c.sam_account_name, c.upn, c.mail
            ));
            chosen = Some(c);
            break;
        }
        out.push_str(&format!(
            "  ✗ {:<28} {}: {}\n",
            c.rule,
            c.sam_account_name,
            why.join("; ")
        ));
    }
    if chosen.is_none() {
        out.push_str(&format!(
            "  → every rule is held: the next numeric suffix for '{}' would be used (e.g. {})\n",
            plan.suffix_key,
            plan.suffix.suffixed(2).sam_account_name
        ));
    }
    print!("{out}");
    Ok(0)
}

fn local_ledger_missing(spec: &str) -> bool {
    match spec.strip_prefix("sqlite:") {
        Some("") => !Path::new(DEFAULT_SQLITE_PATH).exists(),
        Some(path) => !Path::new(path).exists(),
        None => false,
    }
}

fn push_candidates_free(out: &mut String, plan: &dayone_core::UsernamePlan) {
    if let Some(c) = plan.candidates.first() {
        out.push_str(&format!(
            "  ✓ {:<28} {} / {} / {}: would be chosen\n",
            c.rule, c.sam_account_name, c.upn, c.mail
        ));
    }
}

fn push_trace(out: &mut String, trace: &[TraceEntry]) {
    for t in trace {
        let outcome = match &t.decision {
            Decision::Chosen => "ok".to_string(),
            Decision::Taken => "taken".into(),
            Decision::Tombstoned => "tombstoned".into(),
            Decision::Reserved => "reserved".into(),
            Decision::TooLong { namespace, max } => {
                format!("too long for {} (max {max})", namespace.as_str())
            }
            Decision::Empty => "empty after transliteration".into(),
            Decision::Duplicate => "same as an earlier rule".into(),
            Decision::AlreadyHeld => "already held".into(),
        };
        let candidate = t
            .candidate
            .as_deref()
            .map(|c| format!(" {c}"))
            .unwrap_or_default();
        let detail = if t.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", t.detail)
        };
        out.push_str(&format!("  - {}{candidate} [{outcome}]{detail}\n", t.rule));
    }
}
