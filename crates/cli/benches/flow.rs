//! The Joiner flow end to end on the local engine (`cargo bench -p dayone-cli --bench flow`).
//!
//! (a) Orchestration overhead: every twin adds 100 ms to every call, and the flow's wall time
//!     is compared with its critical path: the external calls made one after the other
//!     (AllocateUsername, CreateAccount, then the slowest Parallel branch, counted once),
//!     times 100 ms. The calls are counted from the twins' call log, attributed to the step
//!     that was running (inside the Parallel, by the system each branch talks to). Target:
//!     wall / critical path <= 1.1.
//! (b) Throughput: hires per second with no added latency, many executions in flight on one
//!     engine (one SQLite ledger, one set of twins).
//!
//! Prints a Markdown table.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dayone_asl::{EventType, ExecutionObserver, ExecutionStatus, HistoryEvent};
use dayone_cli::local::timeline;
use dayone_cli::local::{EngineOptions, LocalEngine};
use dayone_core::{Config, HireEvent};
use dayone_sandbox::{Sandbox, Twin};
use serde_json::json;

const POLICY: &str = include_str!("../../../dayone.toml");
const LATENCY: Duration = Duration::from_millis(100);
const LATENCY_RUNS: usize = 5;
const THROUGHPUT_HIRES: usize = 300;
const IN_FLIGHT: usize = 16;

const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim",
    "Margaret", "Niklaus",
];
const LAST: [&str; 12] = [
    "Lovelace", "Goldberg", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
    "Perlman", "Berners", "Hamilton", "Wirth",
];

fn hire(i: usize) -> HireEvent {
    HireEvent::from_value(json!({
        "eventId": format!("EVT-BENCH-{i}"),
        "workerId": format!("{}", 50_000 + i),
        "workerType": "employee",
        "legalName": {"first": FIRST[i % 12], "last": LAST[(i / 12) % 12]},
        "hireDate": "2026-12-01",
        "timezone": "Europe/London",
        "department": "Engineering",
        "location": "London",
        "country": "GB",
        "managerWorkerId": "20007",
        "managerEmail": "grace.hopper@contoso.com"
    }))
    .expect("bench hire is valid")
}

async fn engine(dir: &tempfile::TempDir) -> LocalEngine {
    let ledger = format!("sqlite:{}", dir.path().join("ledger.sqlite").display());
    LocalEngine::start(
        EngineOptions::new(Config::from_toml_str(POLICY).expect("dayone.toml")).ledger(ledger),
    )
    .await
    .expect("engine starts")
}

/// Records the twins' call-log position when each Task and the Parallel start and end.
struct Marks {
    sandbox: Arc<Sandbox>,
    marks: Mutex<Vec<(String, EventType, usize)>>,
}

impl ExecutionObserver for Marks {
    fn on_event(&self, e: &HistoryEvent) {
        if matches!(
            e.kind,
            EventType::TaskStarted
                | EventType::TaskSucceeded
                | EventType::ParallelStateStarted
                | EventType::ParallelStateSucceeded
        ) {
            let n = self.sandbox.calls().len();
            self.marks.lock().unwrap().push((
                e.state_name.as_deref().unwrap_or("").to_string(),
                e.kind,
                n,
            ));
        }
    }
}

/// Which Parallel branch talks to a twin.
fn branch_of(twin: Twin) -> &'static str {
    match twin {
        Twin::Workday => "HrisWriteback",
        Twin::ServiceNow | Twin::Jira => "CreateTicket",
        Twin::Graph | Twin::Login | Twin::Slack => "IssueTap",
    }
}

struct Critical {
    serial: BTreeMap<String, usize>,
    branches: BTreeMap<String, usize>,
}

impl Critical {
    fn calls(&self) -> usize {
        self.serial.values().sum::<usize>() + self.branches.values().copied().max().unwrap_or(0)
    }
}

fn critical_path(sandbox: &Sandbox, marks: &[(String, EventType, usize)]) -> Critical {
    let calls = sandbox.calls();
    let at = |state: &str, kind: EventType| {
        marks
            .iter()
            .rfind(|(s, k, _)| s == state && *k == kind)
            .map(|(_, _, n)| *n)
            .unwrap_or_else(|| panic!("no {kind:?} for {state}"))
    };
    let mut serial = BTreeMap::new();
    for step in ["AllocateUsername", "CreateAccount"] {
        let (from, to) = (
            marks
                .iter()
                .find(|(s, k, _)| s == step && *k == EventType::TaskStarted)
                .map(|m| m.2)
                .unwrap(),
            at(step, EventType::TaskSucceeded),
        );
        serial.insert(step.to_string(), to - from);
    }
    let (from, to) = (
        at("Provision", EventType::ParallelStateStarted),
        at("Provision", EventType::ParallelStateSucceeded),
    );
    let mut branches = BTreeMap::new();
    for c in &calls[from..to] {
        *branches.entry(branch_of(c.twin).to_string()).or_insert(0) += 1;
    }
    Critical { serial, branches }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn latency_bench() -> (Duration, usize, Critical, Vec<f64>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    for twin in [
        Twin::Graph,
        Twin::Login,
        Twin::Workday,
        Twin::ServiceNow,
        Twin::Jira,
        Twin::Slack,
    ] {
        engine.sandbox().faults().of(twin).set_latency(LATENCY);
    }
    let mut walls = Vec::new();
    let mut ratios = Vec::new();
    let mut last = None;
    for i in 0..LATENCY_RUNS {
        let h = hire(1_000 + i);
        let marks = Arc::new(Marks {
            sandbox: engine.shared_sandbox(),
            marks: Mutex::new(Vec::new()),
        });
        // The call log is shared by every run; count from where this run starts.
        let started = Instant::now();
        let result = engine.run(&h, Some(marks.clone())).await.unwrap();
        let wall = started.elapsed();
        assert_eq!(
            result.status,
            ExecutionStatus::Succeeded,
            "{:?} {:?}",
            result.error,
            result.cause
        );
        let crit = critical_path(engine.sandbox(), &marks.marks.lock().unwrap());
        ratios.push(wall.as_secs_f64() / (LATENCY * crit.calls() as u32).as_secs_f64());
        walls.push(wall);
        last = Some(crit);
    }
    let crit = last.unwrap();
    (median(walls), crit.calls(), crit, ratios)
}

async fn throughput_bench() -> (f64, Duration, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(engine(&dir).await);
    // warm up (token caches are per invocation, like Lambda; this warms SQLite and sockets)
    engine.run(&hire(0), None).await.unwrap();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(1));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..IN_FLIGHT {
        let engine = engine.clone();
        let next = next.clone();
        let failed = failed.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i > THROUGHPUT_HIRES {
                    return latencies;
                }
                let t = Instant::now();
                let r = engine.run(&hire(i), None).await.unwrap();
                if r.status != ExecutionStatus::Succeeded {
                    let why = timeline::describe_error(
                        r.error.as_deref().unwrap_or("error"),
                        r.cause.as_deref(),
                    );
                    failed.lock().unwrap().push(why);
                }
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed();
    (
        THROUGHPUT_HIRES as f64 / elapsed.as_secs_f64(),
        median(latencies),
        failed.lock().unwrap().clone(),
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (wall, calls, crit, ratios) = rt.block_on(latency_bench());
    let (hps, p50, failed) = rt.block_on(throughput_bench());
    let critical = LATENCY * calls as u32;
    let ratio = wall.as_secs_f64() / critical.as_secs_f64();
    let worst = ratios.iter().copied().fold(0.0f64, f64::max);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!();
    println!("## Joiner flow on the local engine ({cores} cores)");
    println!();
    println!("| measure | value |");
    println!("| --- | --- |");
    println!(
        "| wall time with {} ms per external call (median of {LATENCY_RUNS}) | {:.0} ms |",
        LATENCY.as_millis(),
        wall.as_secs_f64() * 1000.0
    );
    let serial: Vec<String> = crit
        .serial
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    let branches: Vec<String> = crit
        .branches
        .iter()
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    println!(
        "| critical path: {calls} serial calls × {} ms ({}; Parallel max of {}) | {} ms |",
        LATENCY.as_millis(),
        serial.join(", "),
        branches.join(", "),
        critical.as_millis()
    );
    println!(
        "| wall / critical path (target ≤ 1.1) | {ratio:.3} (worst run {worst:.3}) {} |",
        if worst <= 1.1 { "✓" } else { "✗" }
    );
    println!(
        "| hires per second, no added latency, {IN_FLIGHT} in flight, {THROUGHPUT_HIRES} hires | {hps:.0} |"
    );
    println!(
        "| median time per hire under that load | {:.1} ms |",
        p50.as_secs_f64() * 1000.0
    );
    println!("| failed executions | {} |", failed.len());
    println!();
    for why in &failed {
        println!("failed: {why}");
    }
}
