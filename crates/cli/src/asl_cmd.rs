//! `dayone asl run`: run any Amazon States Language state machine on the local interpreter.
//!
//! Prints one JSON object: `{"status":"SUCCEEDED","output":…}` or
//! `{"status":"FAILED","error":…,"cause":…}`; exit 0 on success, 1 on failure, 2 when the
//! definition or input cannot be used.

use anyhow::{Context, bail};
use dayone_asl::{
    Clock, ExecutionObserver, ExecutionOptions, ExecutionStatus, HistoryEvent, Interpreter,
    StateMachine,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Subcommand)]
pub enum AslCommand {
    /// Run a state machine definition once and print the result as JSON.
    Run {
        /// The state machine definition (ASL JSON).
        #[arg(long)]
        definition: PathBuf,
        /// The execution input (JSON); `{}` when absent, `-` reads stdin.
        #[arg(long)]
        input: Option<PathBuf>,
        /// `${Name}` substitution as NAME=VALUE (repeatable), like SAM DefinitionSubstitutions.
        #[arg(long = "sub", value_name = "NAME=VALUE")]
        substitutions: Vec<String>,
        /// Time scale for Wait states and Retry delays: 1 = real time, 0 = never sleep.
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Execution name (`$$.Execution.Name`).
        #[arg(long)]
        name: Option<String>,
        /// Also print the execution history (under "history").
        #[arg(long)]
        history: bool,
        /// Print each state as it runs to stderr.
        #[arg(long)]
        trace: bool,
    },
}

/// Writes one line per state transition to stderr.
struct StderrTrace;

impl ExecutionObserver for StderrTrace {
    fn on_event(&self, e: &HistoryEvent) {
        let state = e.state_name.as_deref().unwrap_or("-");
        let mut line = format!(
            "{} #{:<4} {:<28} {state}",
            e.timestamp.format("%H:%M:%S%.3f"),
            e.id,
            e.event_type
        );
        if let Some(err) = &e.error {
            line.push_str(&format!("  error={err}"));
        }
        if let Some(a) = e.retry_attempt {
            line.push_str(&format!("  retry={a}"));
        }
        eprintln!("{line}");
    }
}

fn read_input(path: Option<&PathBuf>) -> anyhow::Result<Value> {
    let text = match path {
        None => return Ok(Value::Object(Map::new())),
        Some(p) if p.as_os_str() == "-" => {
            std::io::read_to_string(std::io::stdin()).context("reading the input from stdin")?
        }
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading the input file {}", p.display()))?,
    };
    serde_json::from_str(&text).context("the input is not valid JSON")
}

pub async fn run(cmd: AslCommand) -> anyhow::Result<i32> {
    match cmd {
        AslCommand::Run {
            definition,
            input,
            substitutions,
            time_scale,
            name,
            history,
            trace,
        } => {
            let text = std::fs::read_to_string(&definition)
                .with_context(|| format!("reading the definition {}", definition.display()))?;
            let mut subs = HashMap::new();
            for s in &substitutions {
                let Some((k, v)) = s.split_once('=') else {
                    bail!("--sub '{s}' must look like NAME=VALUE");
                };
                subs.insert(k.to_string(), v.to_string());
            }
            let machine =
                StateMachine::parse_with_substitutions(&text, &subs).with_context(|| {
                    format!("{} is not a valid state machine", definition.display())
                })?;
            let input = read_input(input.as_ref())?;
            if !time_scale.is_finite() || time_scale < 0.0 {
                bail!("--time-scale must be a number >= 0 (1 = real time, 0 = no waiting)");
            }
            let clock = if time_scale == 1.0 {
                Clock::real()
            } else {
                Clock::scaled(time_scale)
            };
            let opts = ExecutionOptions {
                name,
                lean_history: !history,
                observer: trace.then(|| Arc::new(StderrTrace) as Arc<dyn ExecutionObserver>),
                ..Default::default()
            };
            let result = Interpreter::new(machine)
                .with_clock(clock)
                .run(input, opts)
                .await;
            let mut out = Map::new();
            out.insert(
                "status".into(),
                Value::String(result.status.as_str().into()),
            );
            out.insert(
                "executionArn".into(),
                Value::String(result.execution_arn.clone()),
            );
            match result.status {
                ExecutionStatus::Succeeded => {
                    out.insert(
                        "output".into(),
                        result.output.as_deref().cloned().unwrap_or(Value::Null),
                    );
                }
                _ => {
                    out.insert(
                        "error".into(),
                        result
                            .error
                            .clone()
                            .map(Value::String)
                            .unwrap_or(Value::Null),
                    );
                    out.insert(
                        "cause".into(),
                        result
                            .cause
                            .clone()
                            .map(Value::String)
                            .unwrap_or(Value::Null),
                    );
                }
            }
            if history {
                out.insert("history".into(), serde_json::to_value(&result.history)?);
            }
            println!("{}", serde_json::to_string(&Value::Object(out))?);
            Ok(if result.status == ExecutionStatus::Succeeded {
                0
            } else {
                1
            })
        }
    }
}
