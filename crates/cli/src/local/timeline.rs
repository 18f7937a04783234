//! An execution's states as people and machines read them: a live, one-line-per-state
//! timeline ([`LiveTimeline`], an [`ExecutionObserver`]) and the per-state summary of a
//! finished history ([`steps`]).
//!
//! Durations are measured on the execution's clock, so a Wait fast-forwarded on the virtual
//! clock shows the time it stands for; the live view marks such time as simulated.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use dayone_asl::{EventType, ExecutionObserver, HistoryEvent, StateMachine};
use serde::Serialize;
use serde_json::Value;

/// One state of an execution, in the order the states were entered.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSummary {
    pub name: String,
    /// `SUCCEEDED`, or `FAILED` when its last attempt failed (caught or not) or it is the
    /// Fail state that ended the execution.
    pub status: String,
    /// Time between entering and leaving the state, on the execution clock.
    pub duration_ms: u64,
    /// The state's `Type` (`Task`, `Parallel`, `Wait`…).
    #[serde(rename = "type")]
    pub state_type: String,
    /// How many times Retry ran it again.
    pub retries: u32,
    /// The error of its last failed attempt, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

struct Open {
    idx: usize,
    entered: DateTime<Utc>,
}

/// The per-state summary of a finished (or running) execution's history.
pub fn steps(history: &[HistoryEvent]) -> Vec<StepSummary> {
    let mut out: Vec<StepSummary> = Vec::new();
    let mut open: Vec<(String, Open)> = Vec::new();
    let end = history.last().map(|e| e.timestamp);
    let failed = history.iter().any(|e| e.kind == EventType::ExecutionFailed);
    for e in history {
        let Some(name) = e.state_name.as_deref() else {
            continue;
        };
        let find = |open: &Vec<(String, Open)>| open.iter().rposition(|(n, _)| n == name);
        match e.kind {
            EventType::StateEntered => {
                out.push(StepSummary {
                    name: name.to_string(),
                    status: "RUNNING".into(),
                    duration_ms: 0,
                    state_type: e.state_type.unwrap_or("").to_string(),
                    retries: 0,
                    error: None,
                });
                open.push((
                    name.to_string(),
                    Open {
                        idx: out.len() - 1,
                        entered: e.timestamp,
                    },
                ));
            }
            EventType::StateExited => {
                if let Some(pos) = find(&open) {
                    let (_, o) = open.remove(pos);
                    let s = &mut out[o.idx];
                    s.duration_ms = millis(e.timestamp - o.entered);
                    s.status = if s.error.is_some() {
                        "FAILED".into()
                    } else {
                        "SUCCEEDED".into()
                    };
                }
            }
            EventType::TaskFailed
            | EventType::TaskTimedOut
            | EventType::ParallelStateFailed
            | EventType::MapStateFailed => {
                if let Some(pos) = find(&open) {
                    out[open[pos].1.idx].error = e.error.clone();
                }
            }
            EventType::TaskSucceeded
            | EventType::ParallelStateSucceeded
            | EventType::MapStateSucceeded => {
                if let Some(pos) = find(&open) {
                    out[open[pos].1.idx].error = None;
                }
            }
            EventType::RetryScheduled => {
                if let Some(pos) = find(&open) {
                    out[open[pos].1.idx].retries += 1;
                }
            }
            _ => {}
        }
    }
    // States still open when the history ends: the Fail state (or the states around it).
    for (_, o) in open {
        let s = &mut out[o.idx];
        if let Some(end) = end {
            s.duration_ms = millis(end - o.entered);
        }
        s.status = if failed { "FAILED" } else { "RUNNING" }.into();
    }
    out
}

fn millis(d: chrono::Duration) -> u64 {
    d.num_milliseconds().max(0) as u64
}

/// `12 ms`, `1.4 s`, `4 min 12 s`, `7 h 12 min`, `4 d 19 h`.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", s / 60, s % 60),
        3_600_000..86_400_000 if (s % 3600) / 60 == 0 => format!("{} h", s / 3600),
        3_600_000..86_400_000 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Text styles, on only for a terminal (and never with `NO_COLOR`).
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub on: bool,
}

impl Style {
    /// Colours when `stdout` is a terminal and `NO_COLOR` is unset.
    pub fn detect() -> Style {
        use std::io::IsTerminal;
        Style {
            on: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub fn green(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    pub fn red(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    pub fn yellow(&self, s: &str) -> String {
        self.wrap("33", s)
    }
    pub fn dim(&self, s: &str) -> String {
        self.wrap("2", s)
    }
    pub fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
}

/// Removes every value in `secrets` from `text` (belt and braces for anything printed).
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[redacted]");
        }
    }
    out
}

struct LiveState {
    open: Vec<(String, DateTime<Utc>, Instant, u32)>,
    last_error: Option<(String, String)>,
}

/// Prints one line per state as it finishes, retries as they are scheduled.
pub struct LiveTimeline {
    out: Mutex<Box<dyn Write + Send>>,
    state: Mutex<LiveState>,
    branch_states: HashSet<String>,
    style: Style,
    virtual_clock: bool,
    secrets: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
}

impl LiveTimeline {
    /// A timeline for `machine` writing to `out`. `secrets` lists the values to redact at
    /// the time of printing (pass values issued so far, credentials).
    pub fn new(
        machine: &StateMachine,
        out: Box<dyn Write + Send>,
        style: Style,
        virtual_clock: bool,
        secrets: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
    ) -> LiveTimeline {
        LiveTimeline {
            out: Mutex::new(out),
            state: Mutex::new(LiveState {
                open: Vec::new(),
                last_error: None,
            }),
            branch_states: branch_states(machine.definition()),
            style,
            virtual_clock,
            secrets,
        }
    }

    fn print(&self, line: String) {
        let line = redact(&line, &(self.secrets)());
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn indent(&self, name: &str) -> &'static str {
        if self.branch_states.contains(name) {
            "  │ "
        } else {
            "  "
        }
    }

    fn exited(&self, e: &HistoryEvent, name: &str) {
        let (entered, real_start, retries, error) = {
            let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let Some(pos) = st.open.iter().rposition(|(n, ..)| n == name) else {
                return;
            };
            let (_, entered, real, retries) = st.open.remove(pos);
            let error = st
                .last_error
                .take_if(|(n, _)| n == name)
                .map(|(_, err)| err);
            (entered, real, retries, error)
        };
        let s = self.style;
        let clock_ms = millis(e.timestamp - entered);
        let real_ms = real_start.elapsed().as_millis() as u64;
        let simulated = self.virtual_clock && clock_ms > real_ms + 500;
        let kind = e.state_type.unwrap_or("");
        let indent = self.indent(name);
        let (mark, detail) = match (kind, &error) {
            (_, Some(err)) => (s.red("✗"), s.red(err)),
            ("Parallel", None) => (s.green("└"), String::new()),
            ("Task", None) => (s.green("✓"), detail_of(name, output_of(e))),
            ("Wait", None) => (s.green("⏸"), String::new()),
            ("Succeed", None) => (s.green("✓"), String::new()),
            _ => (s.dim("·"), pass_detail(output_of(e))),
        };
        let mut timing = if kind == "Task" || kind == "Parallel" || kind == "Wait" {
            human_duration(clock_ms)
        } else {
            String::new()
        };
        if simulated {
            timing = format!(
                "{timing} {}",
                s.yellow(&format!(
                    "(simulated; {} for real)",
                    human_duration(real_ms)
                ))
            );
        }
        if retries > 0 {
            timing = format!(
                "{timing}  {}",
                s.yellow(&format!(
                    "{retries} {}",
                    if retries == 1 { "retry" } else { "retries" }
                ))
            );
        }
        // Branch states are indented by two more columns; keep the timings aligned.
        let width = if self.branch_states.contains(name) {
            24
        } else {
            26
        };
        let label = if matches!(kind, "Choice" | "Pass") {
            s.dim(&format!("{name:<width$}"))
        } else {
            format!("{name:<width$}")
        };
        self.print(
            format!("{indent}{mark} {label} {timing:<12} {detail}")
                .trim_end()
                .to_string(),
        );
    }
}

impl ExecutionObserver for LiveTimeline {
    fn on_event(&self, e: &HistoryEvent) {
        let name = e.state_name.as_deref().unwrap_or("");
        match e.kind {
            EventType::StateEntered => {
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .open
                    .push((name.to_string(), e.timestamp, Instant::now(), 0));
                if e.state_type == Some("Parallel") {
                    self.print(format!(
                        "{}{} {name} {}",
                        self.indent(name),
                        self.style.bold("┌"),
                        self.style.dim("(parallel branches)")
                    ));
                }
                if e.state_type == Some("Fail") {
                    self.print(format!(
                        "{}{} {name}",
                        self.indent(name),
                        self.style.red("✗")
                    ));
                }
            }
            EventType::StateExited => self.exited(e, name),
            EventType::TaskFailed | EventType::TaskTimedOut => {
                let err = e.error.clone().unwrap_or_else(|| "error".into());
                self.state
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .last_error =
                    Some((name.to_string(), describe_error(&err, e.cause.as_deref())));
            }
            EventType::TaskSucceeded => {
                let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                if st.last_error.as_ref().is_some_and(|(n, _)| n == name) {
                    st.last_error = None;
                }
            }
            EventType::RetryScheduled => {
                {
                    let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(o) = st.open.iter_mut().rev().find(|(n, ..)| n == name) {
                        o.3 += 1;
                    }
                    st.last_error = None;
                }
                let delay = human_duration(e.delay_ms.unwrap_or(0));
                let err = describe_error(e.error.as_deref().unwrap_or("error"), e.cause.as_deref());
                let when = if self.virtual_clock {
                    format!(
                        "retry {} in {delay} (simulated)",
                        e.retry_attempt.unwrap_or(1)
                    )
                } else {
                    format!("retry {} in {delay}", e.retry_attempt.unwrap_or(1))
                };
                self.print(format!(
                    "{}  {} {name}: {err}; {when}",
                    self.indent(name),
                    self.style.yellow("↻")
                ));
            }
            _ => {}
        }
    }
}

/// `Dayone.Throttled: Graph answered 429…` from an error name and a Lambda-style cause.
pub fn describe_error(error: &str, cause: Option<&str>) -> String {
    let message = cause.map(|c| {
        serde_json::from_str::<Value>(c)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| c.to_string())
    });
    match message {
        Some(m) if !m.is_empty() => format!("{error}: {}", one_line(&m, 110)),
        _ => error.to_string(),
    }
}

fn one_line(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > max {
        let cut: String = flat.chars().take(max - 1).collect();
        format!("{cut}…")
    } else {
        flat
    }
}

/// The state output an event carries, however the history stores it (inline or shared).
fn output_of(e: &HistoryEvent) -> Option<&Value> {
    e.output.as_ref().map(|v| {
        let v: &Value = v.borrow();
        v
    })
}

/// A short note on what a Task produced, from its state output.
fn detail_of(state: &str, output: Option<&Value>) -> String {
    let Some(out) = output else {
        return String::new();
    };
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    match state {
        "AllocateUsername" => {
            let n = &out["names"];
            format!("{} · {}", s(&n["samAccountName"]), s(&n["upn"]))
        }
        "CreateAccount" => {
            let a = &out["account"];
            let groups = a["groups"].as_array().map_or(0, Vec::len);
            let apps = a["apps"].as_array().map_or(0, Vec::len);
            let verb = if a["created"] == Value::Bool(false) {
                "found"
            } else {
                "created"
            };
            format!("{verb} {} · {groups} groups · {apps} apps", s(&a["upn"]))
        }
        "IssueTap" => {
            let channels: Vec<String> = out["delivered"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .map(|x| format!("{} {}", s(&x["channel"]), s(&x["to"])))
                        .collect()
                })
                .unwrap_or_default();
            if out["tapId"].is_null() {
                "no pass (TAP disabled in policy)".into()
            } else if channels.is_empty() {
                "pass issued, not delivered".into()
            } else {
                format!("pass → {}", channels.join(", "))
            }
        }
        "HrisWriteback" => format!("work email {}", s(&out["email"])),
        "CreateTicket" => format!("{} {}", s(&out["system"]), s(&out["key"])),
        "NotifyFailure" => {
            let to: Vec<String> = out["notification"]["notified"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .map(|x| format!("{} {}", s(&x["channel"]), s(&x["to"])))
                        .collect()
                })
                .unwrap_or_default();
            if to.is_empty() {
                "IT could not be notified".into()
            } else {
                format!("IT told via {}", to.join(", "))
            }
        }
        _ => String::new(),
    }
}

/// For the Pass states that record a failure, the failure.
fn pass_detail(output: Option<&Value>) -> String {
    let Some(out) = output else {
        return String::new();
    };
    let f = out.get("failure").unwrap_or(out);
    match (
        f.get("step").and_then(Value::as_str),
        f.get("error").and_then(Value::as_str),
    ) {
        (Some(step), Some(err)) => format!("{step} failed with {err}"),
        _ => String::new(),
    }
}

/// Names of the states inside Parallel branches (indented in the timeline).
fn branch_states(def: &Value) -> HashSet<String> {
    fn walk(states: &Value, inside: bool, out: &mut HashSet<String>) {
        let Some(map) = states.as_object() else {
            return;
        };
        for (name, st) in map {
            if inside {
                out.insert(name.clone());
            }
            if let Some(branches) = st.get("Branches").and_then(Value::as_array) {
                for b in branches {
                    walk(&b["States"], true, out);
                }
            }
        }
    }
    let mut out = HashSet::new();
    walk(&def["States"], false, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human_duration(12), "12 ms");
        assert_eq!(human_duration(1_400), "1.4 s");
        assert_eq!(human_duration(252_000), "4 min 12 s");
        assert_eq!(human_duration(7 * 3_600_000 + 12 * 60_000), "7 h 12 min");
        assert_eq!(human_duration(8 * 3_600_000), "8 h");
        assert_eq!(human_duration(4 * 86_400_000 + 19 * 3_600_000), "4 d 19 h");
    }

    #[test]
    fn a_lambda_cause_shows_its_message() {
        let cause = r#"{"errorMessage":"Graph answered 429","errorType":"Dayone.Throttled"}"#;
        assert_eq!(
            describe_error("Dayone.Throttled", Some(cause)),
            "Dayone.Throttled: Graph answered 429"
        );
        assert_eq!(describe_error("States.Timeout", None), "States.Timeout");
    }

    #[test]
    fn redaction_removes_every_listed_value() {
        let text = redact("pass Xy9!abcd sent", &["Xy9!abcd".to_string()]);
        assert_eq!(text, "pass [redacted] sent");
    }
}
