//! `dayone run HIRE.json`: one hire through the Joiner flow on the local engine, with a live
//! timeline of states and, at the end, what every system holds. `--json` for machines.
//!
//! Exit codes: 0 the execution succeeded, 1 it failed, 2 bad input or configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dayone_asl::{ExecutionResult, ExecutionStatus};
use dayone_cli::local::report::Holdings;
use dayone_cli::local::timeline::{self, LiveTimeline, Style};
use dayone_cli::local::{EngineOptions, LocalEngine, default_ledger_spec};
use dayone_core::Config;
use dayone_core::hire::{HireError, HireEvent};
use dayone_sandbox::{FaultKind, FaultTarget, Sandbox, TapPolicyState, Twin};
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The hire: a HireEvent v1 JSON file (see DESIGN.md).
    #[arg(value_name = "HIRE.json")]
    pub hire: PathBuf,
    /// The policy. Default: ./dayone.toml when present, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one JSON object (status, executionId, output, steps, sandbox) instead of the timeline.
    #[arg(long)]
    pub json: bool,
    /// Wait states and retry back-offs take real time (default: fast-forwarded on a virtual clock).
    #[arg(long)]
    pub real_time: bool,
    /// The username ledger.
    #[arg(long, value_name = "sqlite:PATH", default_value_t = default_ledger_spec())]
    pub ledger: String,
    /// Another state machine definition instead of the built-in joiner.asl.json.
    #[arg(long, value_name = "FILE")]
    pub definition: Option<PathBuf>,
    /// Inject a fault into a twin, e.g. `graph:throttle:2`, `servicenow:reject`,
    /// `workday:error:1`, `slack:latency:200`, `graph:tap-disabled`. Repeatable.
    /// Twins: graph, login, workday, servicenow, jira, slack. Kinds: throttle[:N] (429),
    /// error[:N] (503), reject[:N] (400), hang[:N], latency:MS, tap-disabled (graph only).
    #[arg(long = "fault", value_name = "TWIN:KIND[:N]")]
    pub faults: Vec<String>,
}

pub async fn run(args: RunArgs) -> anyhow::Result<i32> {
    let hire = match read_hire(&args.hire) {
        Ok(h) => h,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(2);
        }
    };
    let config = match load_config(args.config.as_deref()) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(2);
        }
    };
    let faults = match args
        .faults
        .iter()
        .map(|f| FaultSpec::parse(f))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(2);
        }
    };
    init_logs();

    let mut opts = EngineOptions::new(config)
        .ledger(args.ledger.clone())
        .real_time(args.real_time);
    if let Some(path) = &args.definition {
        opts = match opts.definition_file(path) {
            Ok(opts) => opts,
            Err(msg) => {
                eprintln!("error: {msg}");
                return Ok(2);
            }
        };
    }
    let engine = match LocalEngine::start(opts).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    for f in &faults {
        f.apply(engine.sandbox());
    }

    let style = Style::detect();
    let started = Instant::now();
    let result = if args.json {
        engine.run(&hire, None).await?
    } else {
        print_header(&engine, &hire, &args, style);
        let sandbox = engine.shared_sandbox();
        let live = LiveTimeline::new(
            engine.interpreter().machine(),
            Box::new(std::io::stdout()),
            style,
            !args.real_time,
            Arc::new(move || dayone_cli::local::forbidden_values(&sandbox)),
        );
        engine.run(&hire, Some(Arc::new(live))).await?
    };
    let wall = started.elapsed();
    let forbidden = engine.forbidden_values();

    if args.json {
        let doc = json_report(&engine, &result);
        let text = serde_json::to_string_pretty(&doc)?;
        println!("{}", timeline::redact(&text, &forbidden));
    } else {
        let holdings = Holdings::collect(engine.sandbox(), engine.ledger(), &hire).await;
        let text = format!(
            "\n{}\n\n{}\n{}",
            outcome_line(&result, wall, style),
            style.bold("What the systems hold now"),
            holdings.render(style)
        );
        print!("{}", timeline::redact(&text, &forbidden));
    }
    Ok(match result.status {
        ExecutionStatus::Succeeded => 0,
        _ => 1,
    })
}

/// Reads and validates the hire; the message lists every field to fix.
fn read_hire(path: &Path) -> Result<HireEvent, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("error: cannot read the hire {} ({e})", path.display()))?;
    HireEvent::parse(&text).map_err(|e| match e {
        HireError::Invalid { fields } => {
            let mut msg = format!(
                "error: {} is not a valid hire; fix these fields:",
                path.display()
            );
            for f in fields {
                msg.push_str(&format!("\n  - {}: {}", f.field, f.problem));
            }
            msg
        }
        HireError::Malformed(why) => {
            format!("error: {} is not a valid hire: {why}", path.display())
        }
    })
}

/// `--config F`, else `./dayone.toml` if present, else the defaults.
pub fn load_config(path: Option<&Path>) -> Result<Config, String> {
    let (path, explicit) = match path {
        Some(p) => (p.to_path_buf(), true),
        None => (PathBuf::from("dayone.toml"), false),
    };
    if !explicit && !path.exists() {
        return Ok(Config::default());
    }
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "error: cannot read the configuration {} ({e})",
            path.display()
        )
    })?;
    Config::from_toml_str(&text).map_err(|e| {
        format!(
            "error: the configuration {} is invalid: {e}\n(run `dayone validate --config {}` for details)",
            path.display(),
            path.display()
        )
    })
}

/// Step logs go to stderr, and only when asked for with `RUST_LOG`.
fn init_logs() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
}

fn display_name(hire: &HireEvent) -> String {
    let first = hire
        .preferred_name
        .as_ref()
        .and_then(|p| p.first.as_ref())
        .map_or_else(|| hire.legal_name.first.to_string(), |f| f.to_string());
    let last = hire
        .preferred_name
        .as_ref()
        .and_then(|p| p.last.as_ref())
        .map_or_else(|| hire.legal_name.last.to_string(), |l| l.to_string());
    format!("{first} {last}")
}

fn print_header(engine: &LocalEngine, hire: &HireEvent, args: &RunArgs, style: Style) {
    let mut what = vec![
        hire.worker_id.to_string(),
        hire.worker_type.to_string(),
        hire.department.to_string(),
    ];
    if let Some(l) = &hire.location {
        what.push(l.to_string());
    }
    println!(
        "{} {} ({}), starting {}",
        style.bold("dayone run ·"),
        style.bold(&display_name(hire)),
        what.join(", "),
        hire.hire_date
    );
    let definition = args.definition.as_ref().map_or_else(
        || "joiner.asl.json (built in)".to_string(),
        |p| p.display().to_string(),
    );
    let clock = if args.real_time {
        "real time"
    } else {
        "virtual clock (waits fast-forwarded)"
    };
    println!(
        "{}",
        style.dim(&format!(
            "local engine: {definition} · ledger {} · twins on 127.0.0.1 · {clock}",
            engine.ledger_spec()
        ))
    );
    println!(
        "{}\n",
        style.dim(&format!(
            "execution {}",
            LocalEngine::execution_arn(&LocalEngine::execution_name(hire))
        ))
    );
}

fn outcome_line(result: &ExecutionResult, wall: Duration, style: Style) -> String {
    let retries = result
        .history
        .iter()
        .filter(|e| e.kind == dayone_asl::EventType::RetryScheduled)
        .count();
    let retries = match retries {
        0 => String::new(),
        1 => ", 1 retry".into(),
        n => format!(", {n} retries"),
    };
    let elapsed = timeline::human_duration(wall.as_millis() as u64);
    match result.status {
        ExecutionStatus::Succeeded => format!(
            "{} in {elapsed}{retries}",
            style.green(&style.bold("SUCCEEDED"))
        ),
        status => {
            let error = timeline::describe_error(
                result.error.as_deref().unwrap_or("error"),
                result.cause.as_deref(),
            );
            format!(
                "{} in {elapsed}{retries}: {error}",
                style.red(&style.bold(status.as_str()))
            )
        }
    }
}

/// The `--json` document (DESIGN.md): status, executionId, output, steps, sandbox.
pub fn json_report(engine: &LocalEngine, result: &ExecutionResult) -> Value {
    let mut doc = json!({
        "status": result.status.as_str(),
        "executionId": result.execution_arn,
        "output": result.output.as_deref().cloned().unwrap_or(Value::Null),
        "steps": timeline::steps(&result.history),
        "sandbox": engine.sandbox().snapshot(),
    });
    if result.status != ExecutionStatus::Succeeded {
        doc["error"] = json!(result.error);
        doc["cause"] = json!(result.cause);
    }
    doc
}

/// One `--fault` flag.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultSpec {
    Arm {
        twin: Twin,
        kind: FaultKind,
        times: u32,
    },
    Latency {
        twin: Twin,
        delay: Duration,
    },
    TapDisabled,
}

impl FaultSpec {
    pub fn parse(spec: &str) -> Result<FaultSpec, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let twin = match parts[0] {
            "graph" => Twin::Graph,
            "login" => Twin::Login,
            "workday" => Twin::Workday,
            "servicenow" => Twin::ServiceNow,
            "jira" => Twin::Jira,
            "slack" => Twin::Slack,
            other => {
                return Err(format!(
                    "--fault {spec}: unknown twin '{other}'; use graph, login, workday, servicenow, jira or slack"
                ));
            }
        };
        let kind = parts.get(1).copied().unwrap_or("");
        let number = |default: u64| -> Result<u64, String> {
            match parts.get(2) {
                None => Ok(default),
                Some(n) => n
                    .parse::<u64>()
                    .map_err(|_| format!("--fault {spec}: '{n}' is not a number")),
            }
        };
        let times = |default| number(default).map(|n| n.min(u64::from(u32::MAX)) as u32);
        let arm = |kind, times| Ok(FaultSpec::Arm { twin, kind, times });
        match kind {
            "throttle" => arm(
                FaultKind::Throttle {
                    retry_after_secs: 1,
                },
                times(1)?,
            ),
            "error" => arm(
                FaultKind::Status {
                    status: 503,
                    retry_after_secs: None,
                },
                times(1)?,
            ),
            "reject" => arm(
                FaultKind::Status {
                    status: 400,
                    retry_after_secs: None,
                },
                times(u64::from(u32::MAX))?,
            ),
            "hang" => arm(FaultKind::Hang, times(1)?),
            "latency" => Ok(FaultSpec::Latency {
                twin,
                delay: Duration::from_millis(number(100)?),
            }),
            "tap-disabled" if twin == Twin::Graph => Ok(FaultSpec::TapDisabled),
            _ => Err(format!(
                "--fault {spec}: unknown kind '{kind}'; use throttle[:N], error[:N], reject[:N], hang[:N], latency:MS or graph:tap-disabled"
            )),
        }
    }

    pub fn apply(&self, sandbox: &Sandbox) {
        match self {
            FaultSpec::Arm { twin, kind, times } => {
                sandbox
                    .faults()
                    .of(*twin)
                    .arm(FaultTarget::any(), *kind, *times)
            }
            FaultSpec::Latency { twin, delay } => sandbox.faults().of(*twin).set_latency(*delay),
            FaultSpec::TapDisabled => sandbox.set_tap_policy_state(TapPolicyState::Disabled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_flags_parse_or_explain() {
        assert_eq!(
            FaultSpec::parse("graph:throttle:2").unwrap(),
            FaultSpec::Arm {
                twin: Twin::Graph,
                kind: FaultKind::Throttle {
                    retry_after_secs: 1
                },
                times: 2
            }
        );
        assert_eq!(
            FaultSpec::parse("graph:tap-disabled").unwrap(),
            FaultSpec::TapDisabled
        );
        assert!(
            FaultSpec::parse("github:throttle")
                .unwrap_err()
                .contains("unknown twin")
        );
        assert!(
            FaultSpec::parse("slack:explode")
                .unwrap_err()
                .contains("unknown kind")
        );
    }
}
