//! State transitions per second on the bench machines (bench/asl-machines), single thread,
//! virtual clock. With `DAYONE_BENCH_MOTO=<python>` the same machines also run on moto's
//! in-process Step Functions executor (bench/bench_moto.py) and the ratio is printed.
//!
//! `cargo bench -p dayone-asl --bench interpreter` (`DAYONE_BENCH_MOTO_N` sets moto's
//! execution count, default 20; `DAYONE_BENCH_SECONDS` the time per machine, default 2;
//! `DAYONE_BENCH_ONLY=<machine>` runs one machine). The allocator is mimalloc, as in the
//! `dayone` binary; `--features system-allocator` measures on the system allocator instead.

// The `dayone` binary runs the interpreter on mimalloc; measure what it runs. Build with
// `--features system-allocator` for the figures on the system allocator.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ALLOCATOR: &str = if cfg!(feature = "system-allocator") {
    "system allocator"
} else {
    "mimalloc"
};

use dayone_asl::{Clock, EventType, ExecutionOptions, ExecutionStatus, Interpreter, StateMachine};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const MACHINES: &[&str] = &["pass-chain", "choice-heavy", "joiner-shape"];

struct Row {
    machine: &'static str,
    transitions: usize,
    executions: u64,
    tps: f64,
    lean_tps: f64,
    moto_tps: Option<f64>,
}

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench")
}

fn measure(
    rt: &tokio::runtime::Runtime,
    interp: &Interpreter,
    input: &Value,
    lean: bool,
    budget: Duration,
) -> (u64, Duration) {
    let opts = ExecutionOptions {
        lean_history: lean,
        ..Default::default()
    };
    rt.block_on(async {
        // Warm-up.
        for _ in 0..50 {
            interp.run(input.clone(), opts.clone()).await;
        }
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            for _ in 0..100 {
                let r = interp.run(input.clone(), opts.clone()).await;
                assert_eq!(r.status, ExecutionStatus::Succeeded);
            }
            n += 100;
        }
        (n, start.elapsed())
    })
}

fn moto(python: &str, machine: &str, n: u32) -> Result<f64, String> {
    let dir = bench_dir();
    let out = Command::new(python)
        .arg(dir.join("bench_moto.py"))
        .arg(dir.join(format!("asl-machines/{machine}.asl.json")))
        .arg("--input")
        .arg(dir.join(format!("asl-machines/{}-input.json", input_stem(machine))))
        .args(["-n", &n.to_string(), "--poll-interval", "0.005"])
        .output()
        .map_err(|e| format!("could not run {python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "bench_moto.py failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let v: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("bad moto output: {e}"))?;
    v["transitions_per_s"]
        .as_f64()
        .ok_or_else(|| "moto output has no transitions_per_s".to_string())
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let secs: f64 = std::env::var("DAYONE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let moto_python = std::env::var("DAYONE_BENCH_MOTO")
        .ok()
        .filter(|s| !s.is_empty());
    let moto_n: u32 = std::env::var("DAYONE_BENCH_MOTO_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let only = std::env::var("DAYONE_BENCH_ONLY")
        .ok()
        .filter(|s| !s.is_empty());
    let mut rows = Vec::new();
    for &machine in MACHINES {
        if only.as_deref().is_some_and(|o| o != machine) {
            continue;
        }
        let dir = bench_dir().join("asl-machines");
        let def = std::fs::read_to_string(dir.join(format!("{machine}.asl.json")))
            .expect("bench machine definition");
        let input: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{}-input.json", input_stem(machine))))
                .expect("bench machine input"),
        )
        .expect("bench input is JSON");
        let sm = StateMachine::parse(&def).expect("bench machine is valid");
        let interp = Interpreter::new(sm).with_clock(Clock::instant());
        let probe = rt.block_on(interp.run(input.clone(), ExecutionOptions::default()));
        assert_eq!(
            probe.status,
            ExecutionStatus::Succeeded,
            "{machine} must succeed"
        );
        let transitions = probe
            .history
            .iter()
            .filter(|e| e.kind == EventType::StateEntered)
            .count();
        let (n, el) = measure(&rt, &interp, &input, false, budget);
        let tps = (n as f64 * transitions as f64) / el.as_secs_f64();
        let (ln, lel) = measure(&rt, &interp, &input, true, budget);
        let lean_tps = (ln as f64 * transitions as f64) / lel.as_secs_f64();
        let moto_tps = moto_python
            .as_deref()
            .map(|py| match moto(py, machine, moto_n) {
                Ok(t) => t,
                Err(e) => panic!("moto comparison requested but failed: {e}"),
            });
        rows.push(Row {
            machine,
            transitions,
            executions: n,
            tps,
            lean_tps,
            moto_tps,
        });
    }
    println!(
        "\n| machine | transitions/execution | executions | dayone transitions/s | dayone (lean history) transitions/s | moto 5.2.5 transitions/s | dayone / moto |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let (m, ratio) = match r.moto_tps {
            Some(m) => (format!("{m:.0}"), format!("{:.0}×", r.tps / m)),
            None => ("n/a".into(), "n/a".into()),
        };
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {} | {} |",
            r.machine, r.transitions, r.executions, r.tps, r.lean_tps, m, ratio
        );
    }
    println!(
        "\nSingle thread (current_thread tokio runtime), virtual clock, {ALLOCATOR}, full history unless noted."
    );
    if moto_python.is_none() {
        println!(
            "Set DAYONE_BENCH_MOTO=<python with moto 5.2.5> to compare with moto in the same run."
        );
    }
}

/// Input files drop the `-shape` suffix (`joiner-input.json` for `joiner-shape`).
fn input_stem(machine: &str) -> &str {
    machine.strip_suffix("-shape").unwrap_or(machine)
}
