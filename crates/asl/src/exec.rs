//! The interpreter: runs a [`StateMachine`] against an input, state by state.
//!
//! One execution is one future; Parallel branches and Map iterations are joined futures on the
//! same task, so nothing is spawned per state.

use crate::choice::type_name;
use crate::clock::Clock;
use crate::env::{Ctx, Env, ExecInfo, Vars, timestamp};
use crate::error::{AslError, TaskError};
use crate::fault::{Fault, names};
use crate::history::{EventType, ExecutionObserver, History, HistoryEvent};
use crate::machine::{
    AssignDef, Block, Catcher, Dyn, FailField, Integration, Jitter, Kind, MapDef, PathOpt, Retrier,
    Selector, State, StateMachine, TaskDef, WaitDef, json_size,
};
use crate::task::{TaskContext, TaskRegistry, is_lambda_arn, lambda_error, lambda_invoke_envelope};
use crate::template::JTemplate;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Largest state input/output Step Functions accepts (256 KiB).
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// `SUCCEEDED`, `FAILED`…, as the Step Functions API spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

/// The outcome of one execution.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionResult {
    pub status: ExecutionStatus,
    pub execution_arn: String,
    pub name: String,
    /// The final output (success only). Shared with the `ExecutionSucceeded` history event
    /// rather than copied.
    #[serde(serialize_with = "crate::history::ser_payload")]
    pub output: Option<Arc<Value>>,
    /// The error name (failure only; `None` for a Fail state without `Error`).
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: DateTime<Utc>,
    pub stop_date: DateTime<Utc>,
    pub history: Vec<HistoryEvent>,
}

/// Per-execution settings.
#[derive(Clone, Default)]
pub struct ExecutionOptions {
    /// Execution name; a UUID when absent.
    pub name: Option<String>,
    /// Full execution ARN; derived from the state machine ARN and name when absent.
    pub execution_arn: Option<String>,
    /// `$$.StateMachine.Id`; a local ARN when absent.
    pub state_machine_arn: Option<String>,
    /// `$$.Execution.RoleArn`.
    pub role_arn: Option<String>,
    /// Leave state inputs/outputs out of history events (faster, smaller). Default: recorded.
    pub lean_history: bool,
    /// Called for every history event as it happens.
    pub observer: Option<Arc<dyn ExecutionObserver>>,
}

type TokenSender = oneshot::Sender<Result<Value, TaskError>>;

/// A `.waitForTaskToken` task waiting for its answer, and the bell its heartbeats ring.
struct TokenSlot {
    answer: TokenSender,
    heartbeat: Arc<tokio::sync::Notify>,
}

/// Task tokens of `.waitForTaskToken` tasks still waiting for an answer.
#[derive(Default)]
struct Tokens(Mutex<HashMap<String, TokenSlot>>);

impl Tokens {
    fn answer(&self, token: &str, r: Result<Value, TaskError>) -> Result<(), AslError> {
        let slot = self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token)
            .ok_or_else(|| AslError::UnknownTaskToken(token.to_string()))?;
        slot.answer
            .send(r)
            .map_err(|_| AslError::UnknownTaskToken(token.to_string()))
    }

    fn heartbeat(&self, token: &str) -> Result<(), AslError> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let slot = map
            .get(token)
            .ok_or_else(|| AslError::UnknownTaskToken(token.to_string()))?;
        slot.heartbeat.notify_one();
        Ok(())
    }
}

/// Runs state machines. Cheap to clone; one interpreter can run many executions at once.
#[derive(Clone)]
pub struct Interpreter {
    machine: Arc<StateMachine>,
    tasks: Arc<TaskRegistry>,
    clock: Clock,
    /// Events in the last execution: the next history is allocated at that size up front.
    events_hint: Arc<AtomicUsize>,
}

impl Interpreter {
    /// An interpreter for `machine` with no task handlers and the real clock.
    pub fn new(machine: impl Into<Arc<StateMachine>>) -> Interpreter {
        Interpreter {
            machine: machine.into(),
            tasks: Arc::new(TaskRegistry::new()),
            clock: Clock::real(),
            events_hint: Arc::new(AtomicUsize::new(64)),
        }
    }

    /// Task handlers for `Task` states.
    pub fn with_tasks(mut self, registry: TaskRegistry) -> Interpreter {
        self.tasks = Arc::new(registry);
        self
    }

    /// The clock for Wait states, Retry delays and timestamps.
    pub fn with_clock(mut self, clock: Clock) -> Interpreter {
        self.clock = clock;
        self
    }

    /// The machine this interpreter runs.
    pub fn machine(&self) -> &StateMachine {
        &self.machine
    }

    /// Starts an execution on the current tokio runtime and returns its handle at once.
    pub fn start(&self, input: Value, opts: ExecutionOptions) -> Execution {
        let runner = Arc::new(self.runner(input, &opts));
        let r2 = runner.clone();
        let join = tokio::spawn(async move { r2.execute().await });
        Execution {
            execution_arn: runner.info.id.clone(),
            name: runner.info.name.clone(),
            tokens: runner.tokens.clone(),
            history: runner.history.clone(),
            join,
        }
    }

    /// Runs an execution to completion on the calling task (no spawn). Tasks that wait for a
    /// token can only be answered through [`Interpreter::start`]'s handle.
    pub async fn run(&self, input: Value, opts: ExecutionOptions) -> ExecutionResult {
        self.runner(input, &opts).execute().await
    }

    fn runner(&self, input: Value, opts: &ExecutionOptions) -> Runner {
        let name = opts
            .name
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let sm_arn = opts.state_machine_arn.clone().unwrap_or_else(|| {
            "arn:aws:states:us-east-1:123456789012:stateMachine:local".to_string()
        });
        let sm_name = sm_arn.rsplit(':').next().unwrap_or("local").to_string();
        let id = opts.execution_arn.clone().unwrap_or_else(|| {
            let base = sm_arn.replacen(":stateMachine:", ":execution:", 1);
            format!("{base}:{name}")
        });
        let start = self.clock.now();
        Runner {
            tasks: self.tasks.clone(),
            machine: self.machine.clone(),
            clock: self.clock.clone(),
            info: ExecInfo {
                id,
                name,
                input: Arc::new(input),
                start_time: timestamp(start),
                role_arn: opts
                    .role_arn
                    .clone()
                    .unwrap_or_else(|| "arn:aws:iam::123456789012:role/dayone-local".to_string()),
                state_machine_id: sm_arn,
                state_machine_name: sm_name,
            },
            history: History::new(
                opts.observer.clone(),
                !opts.lean_history,
                self.events_hint.load(Ordering::Relaxed),
            ),
            tokens: Arc::new(Tokens::default()),
            events_hint: self.events_hint.clone(),
        }
    }
}

/// A running execution.
pub struct Execution {
    execution_arn: String,
    name: String,
    tokens: Arc<Tokens>,
    history: History,
    join: tokio::task::JoinHandle<ExecutionResult>,
}

impl Execution {
    pub fn execution_arn(&self) -> &str {
        &self.execution_arn
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Completes the `.waitForTaskToken` task holding `token` with `output`.
    pub fn send_task_success(&self, token: &str, output: Value) -> Result<(), AslError> {
        self.tokens.answer(token, Ok(output))
    }

    /// Fails the `.waitForTaskToken` task holding `token`.
    pub fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> Result<(), AslError> {
        self.tokens.answer(token, Err(TaskError::new(error, cause)))
    }

    /// Tells the `.waitForTaskToken` task holding `token` that its worker is still busy,
    /// restarting its `HeartbeatSeconds`.
    pub fn send_task_heartbeat(&self, token: &str) -> Result<(), AslError> {
        self.tokens.heartbeat(token)
    }

    /// Tokens of tasks currently waiting for an answer.
    pub fn pending_task_tokens(&self) -> Vec<String> {
        self.tokens
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// The events so far.
    pub fn history(&self) -> Vec<HistoryEvent> {
        self.history.snapshot()
    }

    /// True once the execution has finished.
    pub fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// Waits for the end of the execution.
    pub async fn wait(self) -> Result<ExecutionResult, AslError> {
        self.join
            .await
            .map_err(|e| AslError::ExecutionLost(e.to_string()))
    }
}

struct Runner {
    machine: Arc<StateMachine>,
    tasks: Arc<TaskRegistry>,
    clock: Clock,
    info: ExecInfo,
    history: History,
    tokens: Arc<Tokens>,
    events_hint: Arc<AtomicUsize>,
}

/// Where a state sends control.
enum Flow {
    Next(usize),
    End,
}

fn ev(kind: EventType) -> HistoryEvent {
    HistoryEvent::new(kind, None)
}

impl Runner {
    fn push(&self, e: HistoryEvent) -> u64 {
        self.history.push(e, self.clock.now())
    }

    /// The payload for a history event: the shared document itself (no copy), when
    /// payloads are recorded.
    fn data(&self, v: &Arc<Value>) -> Option<Arc<Value>> {
        self.history.record_data.then(|| v.clone())
    }

    /// As [`Runner::data`] for a value the execution does not keep (task payloads): copied
    /// only when payloads are recorded.
    fn data_copy(&self, v: &Value) -> Option<Arc<Value>> {
        self.history.record_data.then(|| Arc::new(v.clone()))
    }

    async fn execute(&self) -> ExecutionResult {
        let start_date = self.clock.now();
        let mut e = ev(EventType::ExecutionStarted);
        e.input = self.data(&self.info.input);
        self.push(e);
        let result = if json_size(&self.info.input) > MAX_PAYLOAD_BYTES {
            Err(Fault::new(
                names::DATA_LIMIT,
                "The execution input exceeds the maximum number of bytes service limit.",
            ))
        } else {
            let vars: Vars = Arc::new(HashMap::new());
            self.run_block(&self.machine.root, self.info.input.clone(), vars)
                .await
        };
        let (status, output, error, cause) = match result {
            Ok(out) => {
                let mut e = ev(EventType::ExecutionSucceeded);
                e.output = self.data(&out);
                self.push(e);
                (ExecutionStatus::Succeeded, Some(out), None, None)
            }
            Err(f) => {
                let mut e = ev(EventType::ExecutionFailed);
                e.error = f.error.clone();
                e.cause = f.cause.clone();
                self.push(e);
                (ExecutionStatus::Failed, None, f.error, f.cause)
            }
        };
        let history = self.history.take();
        // Bounded so one huge execution does not make every later one allocate that much.
        self.events_hint
            .store(history.len().clamp(16, 4096), Ordering::Relaxed);
        ExecutionResult {
            status,
            execution_arn: self.info.id.clone(),
            name: self.info.name.clone(),
            output,
            error,
            cause,
            start_date,
            stop_date: self.clock.now(),
            history,
        }
    }

    fn run_block<'a>(
        &'a self,
        block: &'a Block,
        input: Arc<Value>,
        mut vars: Vars,
    ) -> BoxFuture<'a, Result<Arc<Value>, Fault>> {
        async move {
            let mut idx = block.start;
            let mut input = input;
            loop {
                let st = &block.states[idx];
                let mut e =
                    HistoryEvent::new(EventType::StateEntered, Some((&st.name, st.type_name)));
                e.input = self.data(&input);
                let entered_at = self.clock.now();
                let entered_id = self.history.push(e, entered_at);
                let (out, flow) = self
                    .run_state(st, input, &mut vars, entered_id, entered_at)
                    .await?;
                let mut e =
                    HistoryEvent::new(EventType::StateExited, Some((&st.name, st.type_name)));
                e.output = self.data(&out);
                self.push(e);
                match flow {
                    Flow::Next(n) => {
                        idx = n;
                        input = out;
                    }
                    Flow::End => return Ok(out),
                }
            }
        }
        .boxed()
    }

    async fn run_state(
        &self,
        st: &State,
        raw: Arc<Value>,
        vars: &mut Vars,
        entered_id: u64,
        entered_at: DateTime<Utc>,
    ) -> Result<(Arc<Value>, Flow), Fault> {
        let next = || st.next.map(Flow::Next).unwrap_or(Flow::End);
        let sc = StateCtx {
            st,
            entered_id,
            entered_at,
        };
        match &st.kind {
            Kind::Pass {
                result,
                result_size,
            } => {
                if *result_size > MAX_PAYLOAD_BYTES {
                    return Err(data_limit(&st.name));
                }
                let out = self.finish_simple(&sc, raw, vars, |eff| match result {
                    Some(r) => Ok(Arc::new(r.clone())),
                    None => Ok(eff),
                })?;
                Ok((out, next()))
            }
            Kind::Succeed => {
                let out = self.finish_simple(&sc, raw, vars, Ok)?;
                Ok((out, Flow::End))
            }
            Kind::Fail { error, cause } => Err(self.fail_state(&sc, &raw, vars, error, cause)?),
            Kind::Choice { branches, default } => self.choice(&sc, raw, vars, branches, *default),
            Kind::Wait(w) => {
                let secs = self.wait_seconds(&sc, &raw, vars, w)?;
                if secs > 0.0 {
                    self.clock
                        .sleep(Duration::from_secs_f64(secs.min(3.15e9)))
                        .await;
                }
                let out = self.finish_simple(&sc, raw, vars, Ok)?;
                Ok((out, next()))
            }
            Kind::Task(_) | Kind::Parallel { .. } | Kind::Map(_) => {
                // Boxed: this future is large (about 2 KiB), and keeping it inline would make
                // every block's future (one per Map iteration and Parallel branch) that large
                // even when the block holds only Pass states.
                Box::pin(self.run_with_retry(&sc, raw, vars)).await
            }
        }
    }

    /// Builds the context object view for a state.
    fn ctx<'a>(&'a self, sc: &'a StateCtx<'a>) -> Ctx<'a> {
        Ctx::new(&self.info, &sc.st.name, sc.entered_at)
    }

    /// `$states` for JSONata expressions.
    fn states_doc(
        ctx: &Ctx,
        input: &Value,
        result: Option<&Value>,
        error: Option<&Value>,
    ) -> Value {
        let mut m = Map::new();
        m.insert("input".into(), input.clone());
        m.insert("context".into(), ctx.value().clone());
        if let Some(r) = result {
            m.insert("result".into(), r.clone());
        }
        if let Some(e) = error {
            m.insert("errorOutput".into(), e.clone());
        }
        Value::Object(m)
    }

    /// Pass / Succeed / Wait: InputPath → (work) → ResultPath → OutputPath, Assign; or the
    /// JSONata equivalent (Output, Assign).
    fn finish_simple(
        &self,
        sc: &StateCtx,
        raw: Arc<Value>,
        vars: &mut Vars,
        work: impl FnOnce(Arc<Value>) -> Result<Arc<Value>, Fault>,
    ) -> Result<Arc<Value>, Fault> {
        let st = sc.st;
        let ctx = self.ctx(sc);
        if st.jsonata {
            let doc = Self::states_doc(&ctx, &raw, None, None);
            let out = match &st.output {
                Some(t) => Arc::new(t.eval(&doc, vars, "Output", &st.name, sc.entered_id)?),
                None => raw,
            };
            self.assign_jsonata(sc, st.assign.as_ref(), &doc, vars)?;
            return Ok(out);
        }
        let is_pass = matches!(st.kind, Kind::Pass { .. });
        let eff = apply_input_path(sc, &st.input_path, &raw, &ctx, vars)?;
        let result = match eff {
            None => {
                // InputPath is `$`: Parameters read the raw input directly, no copy needed.
                match &st.parameters {
                    Some(p) if is_pass => work(Arc::new(p.eval(&Env {
                        input: &raw,
                        ctx: &ctx,
                        vars,
                    })?))?,
                    // The effective input is the raw input itself: share it.
                    _ => work(raw.clone())?,
                }
            }
            Some(eff) => {
                let input = match &st.parameters {
                    Some(p) if is_pass => p.eval(&Env {
                        input: &eff,
                        ctx: &ctx,
                        vars,
                    })?,
                    _ => eff,
                };
                work(Arc::new(input))?
            }
        };
        if !is_pass {
            // Succeed and Wait: output is the effective input through OutputPath.
            drop(raw);
            let out = apply_output_path(sc, &st.output_path, result, &ctx, vars)?;
            self.assign_path(sc, st.assign.as_ref(), &out, &ctx, vars)?;
            return Ok(out);
        }
        let assigned = self.eval_assign_path(st.assign.as_ref(), &result, &ctx, vars)?;
        let merged = apply_result_path(sc, &st.result_path, raw, result)?;
        let out = apply_output_path(sc, &st.output_path, merged, &ctx, vars)?;
        commit(vars, assigned);
        Ok(out)
    }

    fn eval_assign_path(
        &self,
        assign: Option<&AssignDef>,
        input: &Value,
        ctx: &Ctx,
        vars: &Vars,
    ) -> Result<Vec<(String, Value)>, Fault> {
        let Some(AssignDef::Path(entries)) = assign else {
            return Ok(Vec::new());
        };
        let env = Env { input, ctx, vars };
        entries
            .iter()
            .map(|(k, t)| t.eval(&env).map(|v| (k.clone(), v)))
            .collect()
    }

    fn assign_path(
        &self,
        _sc: &StateCtx,
        assign: Option<&AssignDef>,
        input: &Value,
        ctx: &Ctx,
        vars: &mut Vars,
    ) -> Result<(), Fault> {
        let a = self.eval_assign_path(assign, input, ctx, vars)?;
        commit(vars, a);
        Ok(())
    }

    fn eval_assign_jsonata(
        &self,
        sc: &StateCtx,
        assign: Option<&AssignDef>,
        doc: &Value,
        vars: &Vars,
    ) -> Result<Vec<(String, Value)>, Fault> {
        let Some(AssignDef::Jsonata(entries)) = assign else {
            return Ok(Vec::new());
        };
        entries
            .iter()
            .map(|(k, t)| {
                t.eval(
                    doc,
                    vars,
                    &format!("Assign/{k}"),
                    &sc.st.name,
                    sc.entered_id,
                )
                .map(|v| (k.clone(), v))
            })
            .collect()
    }

    fn assign_jsonata(
        &self,
        sc: &StateCtx,
        assign: Option<&AssignDef>,
        doc: &Value,
        vars: &mut Vars,
    ) -> Result<(), Fault> {
        let a = self.eval_assign_jsonata(sc, assign, doc, vars)?;
        commit(vars, a);
        Ok(())
    }

    fn fail_state(
        &self,
        sc: &StateCtx,
        raw: &Value,
        vars: &Vars,
        error: &FailField,
        cause: &FailField,
    ) -> Result<Fault, Fault> {
        let ctx = self.ctx(sc);
        let doc = if sc.st.jsonata {
            Some(Self::states_doc(&ctx, raw, None, None))
        } else {
            None
        };
        let get = |f: &FailField, field: &str| -> Result<Option<String>, Fault> {
            let env = Env {
                input: raw,
                ctx: &ctx,
                vars,
            };
            let v = match f {
                FailField::None => return Ok(None),
                FailField::Lit(s) => return Ok(Some(s.clone())),
                FailField::Path(p) => env.resolve(p).ok_or_else(|| {
                    Fault::runtime(format!(
                        "An error occurred while executing the state '{}' (entered at the event id #{}). Invalid path '{}' : No results for path: {}",
                        sc.st.name, sc.entered_id, p.text(), p.normalized()
                    ))
                })?,
                FailField::Call(c) => c.eval(&env)?,
                FailField::Jsonata(t) => t.eval(
                    doc.as_ref().unwrap_or(&Value::Null),
                    vars,
                    field,
                    &sc.st.name,
                    sc.entered_id,
                )?,
            };
            match v {
                Value::String(s) => Ok(Some(s)),
                other => Err(Fault::runtime(format!(
                    "An error occurred while executing the state '{}' (entered at the event id #{}). The {field} must be a string, but was: {other}",
                    sc.st.name, sc.entered_id
                ))),
            }
        };
        Ok(Fault {
            error: get(error, "Error")?,
            cause: get(cause, "Cause")?,
        })
    }

    fn choice(
        &self,
        sc: &StateCtx,
        raw: Arc<Value>,
        vars: &mut Vars,
        branches: &[crate::machine::ChoiceBranch],
        default: Option<usize>,
    ) -> Result<(Arc<Value>, Flow), Fault> {
        let st = sc.st;
        let ctx = self.ctx(sc);
        if st.jsonata {
            let doc = Self::states_doc(&ctx, &raw, None, None);
            for b in branches {
                if b.rule.eval_jsonata(&doc, vars, &st.name, sc.entered_id)? {
                    let out = match b.output.as_ref().or(st.output.as_ref()) {
                        Some(t) => {
                            Arc::new(t.eval(&doc, vars, "Output", &st.name, sc.entered_id)?)
                        }
                        None => raw.clone(),
                    };
                    let mut a = self.eval_assign_jsonata(sc, st.assign.as_ref(), &doc, vars)?;
                    a.extend(self.eval_assign_jsonata(sc, b.assign.as_ref(), &doc, vars)?);
                    commit(vars, a);
                    return Ok((out, Flow::Next(b.next)));
                }
            }
            let Some(d) = default else {
                return Err(no_choice(sc));
            };
            let out = match &st.output {
                Some(t) => Arc::new(t.eval(&doc, vars, "Output", &st.name, sc.entered_id)?),
                None => raw,
            };
            self.assign_jsonata(sc, st.assign.as_ref(), &doc, vars)?;
            return Ok((out, Flow::Next(d)));
        }
        let eff_owned = apply_input_path(sc, &st.input_path, &raw, &ctx, vars)?;
        let eff = eff_owned.as_ref().unwrap_or(&raw);
        let env = Env {
            input: eff,
            ctx: &ctx,
            vars,
        };
        let mut chosen = None;
        for b in branches {
            if b.rule.eval(&env)? {
                chosen = Some(b);
                break;
            }
        }
        let next = match chosen {
            Some(b) => b.next,
            None => default.ok_or_else(|| no_choice(sc))?,
        };
        let mut a = self.eval_assign_path(st.assign.as_ref(), eff, &ctx, vars)?;
        if let Some(b) = chosen {
            a.extend(self.eval_assign_path(b.assign.as_ref(), eff, &ctx, vars)?);
        }
        let eff = match eff_owned {
            Some(v) => Arc::new(v),
            None => raw,
        };
        let out = apply_output_path(sc, &st.output_path, eff, &ctx, vars)?;
        commit(vars, a);
        Ok((out, Flow::Next(next)))
    }

    fn wait_seconds(
        &self,
        sc: &StateCtx,
        raw: &Value,
        vars: &Vars,
        w: &WaitDef,
    ) -> Result<f64, Fault> {
        let ctx = self.ctx(sc);
        let eff_owned = if sc.st.jsonata {
            None
        } else {
            apply_input_path(sc, &sc.st.input_path, raw, &ctx, vars)?
        };
        let eff = eff_owned.as_ref().unwrap_or(raw);
        let env = Env {
            input: eff,
            ctx: &ctx,
            vars,
        };
        let doc = || Self::states_doc(&ctx, raw, None, None);
        let bad = |what: &str, v: &Value| {
            Fault::runtime(format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). The {what} value '{v}' is not valid",
                sc.st.name, sc.entered_id
            ))
        };
        let resolve = |p: &crate::path::JsonPath, what: &str| {
            env.resolve(p).ok_or_else(|| {
                Fault::runtime(format!(
                    "An error occurred while executing the state '{}' (entered at the event id #{}). Invalid path '{}' : No results for path: {}",
                    sc.st.name, sc.entered_id, p.text(), p.normalized()
                ))
            }).map(|v| (v, what.to_string()))
        };
        match w {
            WaitDef::Seconds(d) => {
                let v = match d {
                    Dyn::Fixed(s) => return Ok(*s),
                    Dyn::Path(p) => resolve(p, "SecondsPath")?.0,
                    Dyn::Jsonata(t) => {
                        t.eval(&doc(), vars, "Seconds", &sc.st.name, sc.entered_id)?
                    }
                };
                v.as_f64()
                    .filter(|s| *s >= 0.0)
                    .ok_or_else(|| bad("Seconds", &v))
            }
            WaitDef::Timestamp(d) => {
                let v = match d {
                    Dyn::Fixed(s) => Value::String(s.clone()),
                    Dyn::Path(p) => resolve(p, "TimestampPath")?.0,
                    Dyn::Jsonata(t) => {
                        t.eval(&doc(), vars, "Timestamp", &sc.st.name, sc.entered_id)?
                    }
                };
                let ts = v
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .ok_or_else(|| bad("Timestamp", &v))?;
                let delta = ts.with_timezone(&Utc) - self.clock.now();
                Ok((delta.num_milliseconds().max(0) as f64) / 1000.0)
            }
        }
    }

    /// Task, Parallel and Map: one attempt after another under Retry, then Catch.
    async fn run_with_retry(
        &self,
        sc: &StateCtx<'_>,
        raw: Arc<Value>,
        vars: &mut Vars,
    ) -> Result<(Arc<Value>, Flow), Fault> {
        let st = sc.st;
        let mut attempts = vec![0u32; st.retry.len()];
        let mut retry_count = 0u32;
        loop {
            match self.attempt(sc, &raw, vars, retry_count).await {
                Ok(a) => {
                    let out = if a.needs_result_path {
                        // ResultPath merges into the raw input (copied only if still shared).
                        let ctx = self.ctx(sc);
                        let merged =
                            apply_result_path(sc, &st.result_path, raw, Arc::new(a.value))?;
                        apply_output_path(sc, &st.output_path, merged, &ctx, vars)?
                    } else {
                        Arc::new(a.value)
                    };
                    commit(vars, a.assigned);
                    return Ok((out, st.next.map(Flow::Next).unwrap_or(Flow::End)));
                }
                Err(fault) => {
                    if fault.is_terminal() {
                        return Err(fault);
                    }
                    if let Some(i) = st
                        .retry
                        .iter()
                        .position(|r| matches_error(&r.errors, &fault))
                    {
                        let r: &Retrier = &st.retry[i];
                        if attempts[i] < r.max_attempts {
                            let delay = retry_delay(r, attempts[i]);
                            attempts[i] += 1;
                            retry_count += 1;
                            let mut e = HistoryEvent::new(
                                EventType::RetryScheduled,
                                Some((&st.name, st.type_name)),
                            );
                            e.error = fault.error.clone();
                            e.cause = fault.cause.clone();
                            e.retry_attempt = Some(retry_count);
                            e.delay_ms = Some(delay.as_millis() as u64);
                            self.push(e);
                            self.clock.sleep(delay).await;
                            continue;
                        }
                    }
                    if let Some(c) = st.catch.iter().find(|c| matches_error(&c.errors, &fault)) {
                        return self.catch(sc, raw, vars, c, fault);
                    }
                    return Err(fault);
                }
            }
        }
    }

    fn catch(
        &self,
        sc: &StateCtx,
        raw: Arc<Value>,
        vars: &mut Vars,
        c: &Catcher,
        fault: Fault,
    ) -> Result<(Arc<Value>, Flow), Fault> {
        let mut err_obj = Map::new();
        if let Some(e) = &fault.error {
            err_obj.insert("Error".into(), Value::String(e.clone()));
        }
        if let Some(cause) = &fault.cause {
            err_obj.insert("Cause".into(), Value::String(cause.clone()));
        }
        let err_out = Value::Object(err_obj);
        let ctx = self.ctx(sc);
        if sc.st.jsonata {
            let doc = Self::states_doc(&ctx, &raw, None, Some(&err_out));
            let out = match &c.output {
                Some(t) => t.eval(&doc, vars, "Output", &sc.st.name, sc.entered_id)?,
                None => err_out,
            };
            self.assign_jsonata(sc, c.assign.as_ref(), &doc, vars)?;
            return Ok((Arc::new(out), Flow::Next(c.next)));
        }
        let assigned = self.eval_assign_path(c.assign.as_ref(), &err_out, &ctx, vars)?;
        let out = apply_result_path(sc, &c.result_path, raw, Arc::new(err_out))?;
        commit(vars, assigned);
        Ok((out, Flow::Next(c.next)))
    }

    /// One attempt of a Task / Parallel / Map: returns the state output and pending assignments.
    async fn attempt(
        &self,
        sc: &StateCtx<'_>,
        raw: &Arc<Value>,
        vars: &Vars,
        retry_count: u32,
    ) -> Result<Attempt, Fault> {
        let st = sc.st;
        // A `.waitForTaskToken` task's token exists before its Parameters are built, so
        // `$$.Task.Token` can be passed to the handler.
        let token = match &st.kind {
            Kind::Task(t) if t.wait_for_token => Some(uuid::Uuid::new_v4().to_string()),
            _ => None,
        };
        let mut ctx = self.ctx(sc);
        ctx.retry_count = retry_count;
        ctx.task_token = token.as_deref();
        if st.jsonata {
            let doc = Self::states_doc(&ctx, raw, None, None);
            let args = match &st.arguments {
                Some(t) => Arc::new(t.eval(&doc, vars, "Arguments", &st.name, sc.entered_id)?),
                None => raw.clone(),
            };
            let result = self
                .work(sc, &ctx, raw, args, Some(&doc), vars, retry_count)
                .await?;
            let doc = Self::states_doc(&ctx, raw, Some(&result), None);
            let out = match &st.output {
                Some(t) => t.eval(&doc, vars, "Output", &st.name, sc.entered_id)?,
                None => result,
            };
            let a = self.eval_assign_jsonata(sc, st.assign.as_ref(), &doc, vars)?;
            return Ok(Attempt {
                value: out,
                assigned: a,
                needs_result_path: false,
            });
        }
        let eff = apply_input_path(sc, &st.input_path, raw, &ctx, vars)?;
        let params = match (&st.parameters, &st.kind) {
            (Some(p), Kind::Task(_) | Kind::Parallel { .. }) => Some(p.eval(&Env {
                input: eff.as_ref().unwrap_or(raw),
                ctx: &ctx,
                vars,
            })?),
            _ => None,
        };
        // Share the input where the state only reads it (Map, Parallel) instead of copying.
        let args = match (params, eff) {
            (Some(p), _) => Arc::new(p),
            (None, Some(e)) => Arc::new(e),
            (None, None) => raw.clone(),
        };
        let mut result = self
            .work(sc, &ctx, raw, args, None, vars, retry_count)
            .await?;
        if let Some(sel) = &st.result_selector {
            result = sel.eval(&Env {
                input: &result,
                ctx: &ctx,
                vars,
            })?;
        }
        let a = self.eval_assign_path(st.assign.as_ref(), &result, &ctx, vars)?;
        Ok(Attempt {
            value: result,
            assigned: a,
            needs_result_path: true,
        })
    }

    /// The state's own work on its effective input: call the task, run branches, iterate.
    #[allow(clippy::too_many_arguments)]
    async fn work(
        &self,
        sc: &StateCtx<'_>,
        ctx: &Ctx<'_>,
        raw: &Value,
        input: Arc<Value>,
        doc: Option<&Value>,
        vars: &Vars,
        retry_count: u32,
    ) -> Result<Value, Fault> {
        match &sc.st.kind {
            Kind::Task(t) => {
                let seconds =
                    |d: &Dyn<f64>, field| self.positive_seconds(sc, ctx, raw, doc, vars, d, field);
                let limits = TaskLimits {
                    timeout: t
                        .timeout
                        .as_ref()
                        .map(|d| seconds(d, "TimeoutSeconds"))
                        .transpose()?,
                    heartbeat: t
                        .heartbeat
                        .as_ref()
                        .filter(|_| t.wait_for_token)
                        .map(|d| seconds(d, "HeartbeatSeconds"))
                        .transpose()?,
                };
                self.task(
                    sc,
                    t,
                    Arc::unwrap_or_clone(input),
                    ctx.task_token,
                    retry_count,
                    limits,
                )
                .await
            }
            Kind::Parallel { branches } => {
                let mut e = HistoryEvent::new(
                    EventType::ParallelStateStarted,
                    Some((&sc.st.name, sc.st.type_name)),
                );
                e.input = self.data(&input);
                self.push(e);
                // Every branch shares the input; a branch copies it only when it writes.
                let futs = branches
                    .iter()
                    .map(|b| self.run_block(b, input.clone(), vars.clone()));
                match futures::future::try_join_all(futs).await {
                    Ok(outs) => {
                        self.push(HistoryEvent::new(
                            EventType::ParallelStateSucceeded,
                            Some((&sc.st.name, sc.st.type_name)),
                        ));
                        Ok(Value::Array(
                            outs.into_iter().map(Arc::unwrap_or_clone).collect(),
                        ))
                    }
                    Err(f) => {
                        let mut e = HistoryEvent::new(
                            EventType::ParallelStateFailed,
                            Some((&sc.st.name, sc.st.type_name)),
                        );
                        e.error = f.error.clone();
                        e.cause = f.cause.clone();
                        self.push(e);
                        Err(f)
                    }
                }
            }
            Kind::Map(m) => self.map(sc, ctx, m, raw, &input, doc, vars).await,
            _ => Ok(Arc::unwrap_or_clone(input)),
        }
    }

    /// A Task's `TimeoutSeconds` or `HeartbeatSeconds` (`field`): literal, from the `…Path`
    /// (into the effective input) or a JSONata expression; a positive number of seconds.
    ///
    /// Enforced in real time on every clock: a virtual clock shortens waits (Wait states,
    /// Retry delays), never the work a task handler does, and that work advances the clock at
    /// its real pace. Scaling it would time out a 150 ms call under a 120 s timeout at
    /// `--time-scale 0.001`.
    #[allow(clippy::too_many_arguments)]
    fn positive_seconds(
        &self,
        sc: &StateCtx<'_>,
        ctx: &Ctx<'_>,
        raw: &Value,
        doc: Option<&Value>,
        vars: &Vars,
        d: &Dyn<f64>,
        field: &str,
    ) -> Result<Duration, Fault> {
        let v = match d {
            Dyn::Fixed(s) => Value::from(*s),
            Dyn::Path(p) => {
                let eff = apply_input_path(sc, &sc.st.input_path, raw, ctx, vars)?;
                Env {
                    input: eff.as_ref().unwrap_or(raw),
                    ctx,
                    vars,
                }
                .resolve(p)
                .ok_or_else(|| missing_path(sc, p))?
            }
            Dyn::Jsonata(t) => t.eval(
                doc.unwrap_or(&Value::Null),
                vars,
                field,
                &sc.st.name,
                sc.entered_id,
            )?,
        };
        let secs = v
            .as_f64()
            .filter(|s| s.is_finite() && *s > 0.0)
            .ok_or_else(|| {
                Fault::runtime(format!(
                    "An error occurred while executing the state '{}' (entered at the event id #{}). The {field} value '{v}' is not a positive number",
                    sc.st.name, sc.entered_id
                ))
            })?;
        Ok(Duration::from_secs_f64(secs.min(3.15e9)))
    }

    async fn task(
        &self,
        sc: &StateCtx<'_>,
        t: &TaskDef,
        input: Value,
        token: Option<&str>,
        retry_count: u32,
        limits: TaskLimits,
    ) -> Result<Value, Fault> {
        let st = sc.st;
        let (key, payload, function_name) = match t.integration {
            Integration::LambdaInvoke => {
                let fname = input
                    .get("FunctionName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        Fault::runtime(format!(
                            "An error occurred while executing the state '{}' (entered at the event id #{}). lambda:invoke needs a FunctionName in Parameters/Arguments",
                            st.name, sc.entered_id
                        ))
                    })?
                    .to_string();
                let payload = input.get("Payload").cloned().unwrap_or(json!({}));
                (fname.clone(), payload, Some(fname))
            }
            Integration::Direct => (t.resource.clone(), input, None),
        };
        let is_lambda = t.integration == Integration::LambdaInvoke || is_lambda_arn(&t.resource);
        let handler = self.tasks.resolve(&key).ok_or_else(|| {
            if is_lambda {
                Fault::new(
                    "Lambda.ResourceNotFoundException",
                    format!(
                        "Function not found: {key} (no handler is registered for it; register one in the TaskRegistry)"
                    ),
                )
            } else {
                Fault::new(
                    names::TASK_FAILED,
                    format!("No task handler is registered for resource '{key}'"),
                )
            }
        })?;
        let token = token.map(str::to_string);
        let tctx = TaskContext {
            state_name: st.name.to_string(),
            resource: t.resource.clone(),
            function_name,
            task_token: token.clone(),
            execution_arn: self.info.id.clone(),
            execution_name: self.info.name.clone(),
            retry_count,
        };
        let mut e = HistoryEvent::new(EventType::TaskScheduled, Some((&st.name, st.type_name)));
        e.resource = Some(t.resource.clone());
        e.input = self.data_copy(&payload);
        e.retry_attempt = (retry_count > 0).then_some(retry_count);
        self.push(e);
        let mut e = HistoryEvent::new(EventType::TaskStarted, Some((&st.name, st.type_name)));
        e.resource = Some(t.resource.clone());
        self.push(e);

        let heartbeat = Arc::new(tokio::sync::Notify::new());
        let rx = token.as_ref().map(|tok| {
            let (tx, rx) = oneshot::channel();
            self.tokens
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    tok.clone(),
                    TokenSlot {
                        answer: tx,
                        heartbeat: heartbeat.clone(),
                    },
                );
            rx
        });
        let call = async {
            // A function's own error reads like AWS reports a Lambda error; an answer sent
            // with send_task_failure keeps its error and cause as given.
            let r = handler.invoke(payload, &tctx).await.map_err(|e| {
                if is_lambda && !e.error.starts_with("States.") {
                    lambda_error(e)
                } else {
                    e
                }
            });
            match (rx, r) {
                (_, Err(e)) => Err(e),
                (None, Ok(v)) => Ok(v),
                (Some(rx), Ok(_)) => {
                    if let Some(tok) = &token {
                        let mut e = HistoryEvent::new(
                            EventType::TaskSubmitted,
                            Some((&st.name, st.type_name)),
                        );
                        e.resource = Some(t.resource.clone());
                        e.output = Some(Arc::new(json!({ "TaskToken": tok })));
                        self.push(e);
                    }
                    await_answer(rx, &heartbeat, limits.heartbeat).await
                }
            }
        };
        let outcome = match limits.timeout {
            Some(d) => match tokio::time::timeout(d, call).await {
                Ok(r) => r.map_err(Fault::from),
                Err(_) => Err(Fault::new(names::TIMEOUT, "Task timed out.")),
            },
            None => call.await.map_err(Fault::from),
        };
        if let Some(tok) = &token {
            self.tokens
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(tok);
        }
        match outcome {
            Ok(out) => {
                if json_size(&out) > MAX_PAYLOAD_BYTES {
                    return Err(data_limit(&st.name));
                }
                let mut e =
                    HistoryEvent::new(EventType::TaskSucceeded, Some((&st.name, st.type_name)));
                e.resource = Some(t.resource.clone());
                e.output = self.data_copy(&out);
                self.push(e);
                Ok(
                    if t.integration == Integration::LambdaInvoke && !t.wait_for_token {
                        lambda_invoke_envelope(out)
                    } else {
                        out
                    },
                )
            }
            Err(f) => {
                let mut e = HistoryEvent::new(
                    if f.name() == names::TIMEOUT || f.name() == names::HEARTBEAT_TIMEOUT {
                        EventType::TaskTimedOut
                    } else {
                        EventType::TaskFailed
                    },
                    Some((&st.name, st.type_name)),
                );
                e.resource = Some(t.resource.clone());
                e.error = f.error.clone();
                e.cause = f.cause.clone();
                self.push(e);
                Err(f)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn map(
        &self,
        sc: &StateCtx<'_>,
        ctx: &Ctx<'_>,
        m: &MapDef,
        raw: &Value,
        eff: &Value,
        doc: Option<&Value>,
        vars: &Vars,
    ) -> Result<Value, Fault> {
        let st = sc.st;
        let prefix = format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}).",
            st.name, sc.entered_id
        );
        // Items.
        let items: Vec<Value> = if st.jsonata {
            let doc = doc.cloned().unwrap_or(Value::Null);
            match &m.items {
                Some(Dyn::Jsonata(t)) => {
                    let v = t.eval(&doc, vars, "Items", &st.name, sc.entered_id)?;
                    match v {
                        Value::Array(a) => a,
                        other => {
                            return Err(Fault::query(format!(
                                "{prefix} The JSONata expression '{}' specified for the field 'Items' returned an unexpected result type. Expected 'array', but was '{}' for value: {}",
                                t.expr_text(),
                                type_name(&other),
                                other
                            )));
                        }
                    }
                }
                _ => match raw.clone() {
                    Value::Array(a) => a,
                    other => {
                        return Err(Fault::query(format!(
                            "{prefix} Map state input must be an array but was: {other}"
                        )));
                    }
                },
            }
        } else {
            let selected = match &m.items_path {
                PathOpt::Path(p) => {
                    let env = Env {
                        input: eff,
                        ctx,
                        vars,
                    };
                    env.resolve(p).ok_or_else(|| {
                        Fault::runtime(format!(
                            "{prefix} Invalid path '{}' : No results for path: {}",
                            p.text(),
                            p.normalized()
                        ))
                    })?
                }
                _ => match &m.items {
                    Some(Dyn::Jsonata(JTemplate::Lit(v))) => v.clone(),
                    _ => eff.clone(),
                },
            };
            match selected {
                Value::Array(a) => a,
                other => {
                    return Err(Fault::runtime(format!(
                        "{prefix} Items of a Map state must be an array, but was: {other}"
                    )));
                }
            }
        };
        // Concurrency and tolerance.
        let num = |d: &Dyn<f64>, field: &str| -> Result<f64, Fault> {
            match d {
                Dyn::Fixed(x) => Ok(*x),
                Dyn::Path(p) => {
                    let env = Env {
                        input: eff,
                        ctx,
                        vars,
                    };
                    env.resolve(p).and_then(|v| v.as_f64()).ok_or_else(|| {
                        Fault::runtime(format!(
                            "{prefix} The {field}Path field refers to an invalid value: {}",
                            p.text()
                        ))
                    })
                }
                Dyn::Jsonata(t) => {
                    let d = doc.cloned().unwrap_or(Value::Null);
                    let v = t.eval(&d, vars, field, &st.name, sc.entered_id)?;
                    v.as_f64().ok_or_else(|| {
                        Fault::query(format!("{prefix} The JSONata expression specified for the field '{field}' returned a non-number: {v}"))
                    })
                }
            }
        };
        let max_conc: u64 = match &m.max_concurrency {
            Dyn::Fixed(n) => *n,
            Dyn::Path(p) => {
                let env = Env {
                    input: eff,
                    ctx,
                    vars,
                };
                let v = env.resolve(p).unwrap_or(Value::Null);
                let n = v
                    .as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.trim().parse::<u64>().ok()));
                match n {
                    Some(n) if n <= i32::MAX as u64 => n,
                    _ => {
                        let shown = match &v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        return Err(Fault::runtime(format!(
                            "{prefix} The MaxConcurrencyPath field refers to value \"{shown}\" which is not a valid integer: {}",
                            p.text()
                        )));
                    }
                }
            }
            Dyn::Jsonata(t) => {
                let d = doc.cloned().unwrap_or(Value::Null);
                let v = t.eval(&d, vars, "MaxConcurrency", &st.name, sc.entered_id)?;
                v.as_u64().ok_or_else(|| {
                    Fault::query(format!("{prefix} The JSONata expression specified for the field 'MaxConcurrency' returned a non-integer: {v}"))
                })?
            }
        };
        let tol_count = m
            .tolerated_count
            .as_ref()
            .map(|d| num(d, "ToleratedFailureCount"))
            .transpose()?;
        let tol_pct = m
            .tolerated_percent
            .as_ref()
            .map(|d| num(d, "ToleratedFailurePercentage"))
            .transpose()?;

        // Selected item inputs.
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut ictx = Ctx::new(&self.info, &st.name, sc.entered_at);
            ictx.map_item = Some((i, item));
            let v = match &m.selector {
                None => item.clone(),
                Some(Selector::Path(t)) => t.eval(&Env {
                    input: eff,
                    ctx: &ictx,
                    vars,
                })?,
                Some(Selector::Jsonata(t)) => {
                    let d = Self::states_doc(&ictx, raw, None, None);
                    t.eval(&d, vars, "ItemSelector", &st.name, sc.entered_id)?
                }
            };
            inputs.push(v);
        }
        let n_items = inputs.len();
        let mut e = HistoryEvent::new(EventType::MapStateStarted, Some((&st.name, st.type_name)));
        e.index = Some(n_items);
        self.push(e);
        let limit = if max_conc == 0 {
            n_items.max(1)
        } else {
            max_conc as usize
        };
        let iter_fut = |(i, input): (usize, Value)| {
            let vars = vars.clone();
            async move {
                let mut e = HistoryEvent::new(
                    EventType::MapIterationStarted,
                    Some((&st.name, st.type_name)),
                );
                e.index = Some(i);
                self.push(e);
                let r = self
                    .run_block(&m.processor, Arc::new(input), vars)
                    .await
                    .map(Arc::unwrap_or_clone);
                let mut e = HistoryEvent::new(
                    if r.is_ok() {
                        EventType::MapIterationSucceeded
                    } else {
                        EventType::MapIterationFailed
                    },
                    Some((&st.name, st.type_name)),
                );
                e.index = Some(i);
                if let Err(f) = &r {
                    e.error = f.error.clone();
                    e.cause = f.cause.clone();
                }
                self.push(e);
                r
            }
        };
        let stream = futures::stream::iter(inputs.into_iter().enumerate())
            .map(iter_fut)
            .buffered(limit);
        let result = if tol_count.is_none() && tol_pct.is_none() {
            stream.try_collect::<Vec<Value>>().await
        } else {
            let all: Vec<Result<Value, Fault>> = stream.collect().await;
            let failed = all.iter().filter(|r| r.is_err()).count();
            let pct_ok = tol_pct
                .is_none_or(|p| n_items == 0 || (failed as f64) * 100.0 / (n_items as f64) <= p);
            let cnt_ok = tol_count.is_none_or(|c| (failed as f64) <= c);
            // Either threshold being met is enough when both are set.
            let ok = match (tol_count, tol_pct) {
                (Some(_), Some(_)) => pct_ok || cnt_ok,
                _ => pct_ok && cnt_ok,
            };
            if failed > 0 && !ok {
                Err(Fault::new(
                    names::TOLERATED,
                    "The specified tolerated failure threshold was exceeded",
                ))
            } else {
                Ok(all
                    .into_iter()
                    .map(|r| match r {
                        Ok(v) => v,
                        Err(f) => {
                            let mut o = Map::new();
                            if let Some(e) = f.error {
                                o.insert("Error".into(), Value::String(e));
                            }
                            if let Some(c) = f.cause {
                                o.insert("Cause".into(), Value::String(c));
                            }
                            Value::Object(o)
                        }
                    })
                    .collect())
            }
        };
        match result {
            Ok(v) => {
                self.push(HistoryEvent::new(
                    EventType::MapStateSucceeded,
                    Some((&st.name, st.type_name)),
                ));
                Ok(Value::Array(v))
            }
            Err(f) => {
                let mut e =
                    HistoryEvent::new(EventType::MapStateFailed, Some((&st.name, st.type_name)));
                e.error = f.error.clone();
                e.cause = f.cause.clone();
                self.push(e);
                Err(f)
            }
        }
    }
}

/// The outcome of one successful attempt of a Task / Parallel / Map.
struct Attempt {
    /// JSONPath: the result (after ResultSelector), still to go through ResultPath and
    /// OutputPath. JSONata: the state output.
    value: Value,
    assigned: Vec<(String, Value)>,
    needs_result_path: bool,
}

struct StateCtx<'a> {
    st: &'a State,
    entered_id: u64,
    entered_at: DateTime<Utc>,
}

fn commit(vars: &mut Vars, assigned: Vec<(String, Value)>) {
    if assigned.is_empty() {
        return;
    }
    let m = Arc::make_mut(vars);
    for (k, v) in assigned {
        m.insert(k, v);
    }
}

fn no_choice(sc: &StateCtx) -> Fault {
    let _ = sc;
    Fault::new(names::NO_CHOICE, "No Matches!")
}

fn data_limit(state: &str) -> Fault {
    Fault::new(
        names::DATA_LIMIT,
        format!(
            "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit."
        ),
    )
}

fn missing_path(sc: &StateCtx, p: &crate::path::JsonPath) -> Fault {
    Fault::runtime(format!(
        "An error occurred while executing the state '{}' (entered at the event id #{}). Invalid path '{}' : No results for path: {}",
        sc.st.name,
        sc.entered_id,
        p.text(),
        p.normalized()
    ))
}

/// `None` means "the raw input itself" (InputPath `$` or absent), to avoid a copy.
fn apply_input_path(
    sc: &StateCtx,
    ip: &PathOpt,
    raw: &Value,
    ctx: &Ctx,
    vars: &Vars,
) -> Result<Option<Value>, Fault> {
    match ip {
        PathOpt::Default => Ok(None),
        PathOpt::Null => Ok(Some(Value::Object(Map::new()))),
        PathOpt::Path(p) if p.is_root_only() && *p.root() == crate::path::Root::Input => Ok(None),
        PathOpt::Path(p) => Env {
            input: raw,
            ctx,
            vars,
        }
        .resolve(p)
        .map(Some)
        .ok_or_else(|| missing_path(sc, p)),
    }
}

fn apply_result_path(
    sc: &StateCtx,
    rp: &PathOpt,
    raw: Arc<Value>,
    result: Arc<Value>,
) -> Result<Arc<Value>, Fault> {
    match rp {
        PathOpt::Default => Ok(result),
        PathOpt::Null => Ok(raw),
        PathOpt::Path(p) => {
            // Copy-on-write: the raw input is copied only when something else (a history
            // event, a sibling branch) still shares it.
            let mut doc = Arc::unwrap_or_clone(raw);
            p.set(&mut doc, Arc::unwrap_or_clone(result)).map_err(|why| {
                Fault::runtime(format!(
                    "An error occurred while executing the state '{}' (entered at the event id #{}). Unable to apply ResultPath '{}': {why}",
                    sc.st.name,
                    sc.entered_id,
                    p.text()
                ))
            })?;
            Ok(Arc::new(doc))
        }
    }
}

fn apply_output_path(
    sc: &StateCtx,
    op: &PathOpt,
    v: Arc<Value>,
    ctx: &Ctx,
    vars: &Vars,
) -> Result<Arc<Value>, Fault> {
    match op {
        PathOpt::Default => Ok(v),
        PathOpt::Null => Ok(Arc::new(Value::Object(Map::new()))),
        PathOpt::Path(p) if p.is_root_only() && *p.root() == crate::path::Root::Input => Ok(v),
        PathOpt::Path(p) => Env {
            input: &v,
            ctx,
            vars,
        }
        .resolve(p)
        .map(Arc::new)
        .ok_or_else(|| missing_path(sc, p)),
    }
}

/// How long a task may run (`TimeoutSeconds`) and, waiting for its token, go without a
/// heartbeat (`HeartbeatSeconds`).
struct TaskLimits {
    timeout: Option<Duration>,
    heartbeat: Option<Duration>,
}

/// The answer sent for a `.waitForTaskToken` task. With `heartbeat`, the worker must call
/// `send_task_heartbeat` (or answer) at least that often, else `States.HeartbeatTimeout`.
async fn await_answer(
    mut rx: oneshot::Receiver<Result<Value, TaskError>>,
    beat: &tokio::sync::Notify,
    heartbeat: Option<Duration>,
) -> Result<Value, TaskError> {
    let dropped = || {
        Err(TaskError::new(
            names::TASK_FAILED,
            "the task token was dropped",
        ))
    };
    let Some(every) = heartbeat else {
        return (&mut rx).await.unwrap_or_else(|_| dropped());
    };
    loop {
        tokio::select! {
            answer = &mut rx => return answer.unwrap_or_else(|_| dropped()),
            _ = beat.notified() => continue,
            _ = tokio::time::sleep(every) => {
                return Err(TaskError::new(names::HEARTBEAT_TIMEOUT, "Task heartbeat timed out."));
            }
        }
    }
}

fn matches_error(list: &[String], f: &Fault) -> bool {
    let name = f.name();
    list.iter().any(|e| {
        (f.error.is_some() && e == name)
            || (e == names::ALL && !f.is_terminal())
            || (e == names::TASK_FAILED
                && f.error.is_some()
                && name != names::TIMEOUT
                && !name.starts_with("States."))
    })
}

fn retry_delay(r: &Retrier, attempt: u32) -> Duration {
    let mut secs = r.interval * r.backoff.powi(attempt as i32);
    if let Some(max) = r.max_delay {
        secs = secs.min(max);
    }
    if r.jitter == Jitter::Full {
        secs *= rand::random::<f64>();
    }
    // 0 × ∞ (IntervalSeconds 0 with a huge BackoffRate) is NaN: treat it as no wait.
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::from_secs_f64(secs.min(3.15e9))
}
