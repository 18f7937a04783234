//! Load generator for the ledger: allocates names for a range of workers, all
//! at once, from one plan. The multi-process concurrency test runs several of
//! these against one SQLite file; it is also handy to try a DynamoDB table.
//!
//! `dayone-ledger-load LEDGER_SPEC PLAN.json WORKER_PREFIX FROM TO`
//! prints one JSON line per worker: the allocation, or `{"workerId","error"}`.

use std::sync::Arc;

use dayone_core::UsernamePlan;
use dayone_ledger::open_ledger;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [spec, plan_path, prefix, from, to] = args.as_slice() else {
        eprintln!("usage: dayone-ledger-load LEDGER_SPEC PLAN.json WORKER_PREFIX FROM TO");
        std::process::exit(2);
    };
    let plan: UsernamePlan = match std::fs::read_to_string(plan_path)
        .map_err(|e| e.to_string())
        .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
    {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("cannot read the plan {plan_path}: {e}");
            std::process::exit(2);
        }
    };
    let (Ok(from), Ok(to)) = (from.parse::<u32>(), to.parse::<u32>()) else {
        eprintln!("FROM and TO must be numbers");
        std::process::exit(2);
    };
    let ledger: Arc<dyn dayone_ledger::Ledger> = match open_ledger(spec).await {
        Ok(l) => Arc::from(l),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let plan = Arc::new(plan);
    let tasks: Vec<_> = (from..to)
        .map(|i| {
            let (ledger, plan) = (Arc::clone(&ledger), Arc::clone(&plan));
            let worker = format!("{prefix}{i}");
            tokio::spawn(async move {
                let result = ledger
                    .allocate(&worker, &format!("load-{worker}"), &plan)
                    .await;
                (worker, result)
            })
        })
        .collect();
    let mut failed = false;
    for task in tasks {
        let line = match task.await {
            Ok((_, Ok(a))) => serde_json::to_string(&a),
            Ok((worker, Err(e))) => {
                failed = true;
                serde_json::to_string(
                    &serde_json::json!({"workerId": worker, "error": e.to_string()}),
                )
            }
            Err(e) => {
                failed = true;
                serde_json::to_string(&serde_json::json!({"error": e.to_string()}))
            }
        };
        println!(
            "{}",
            line.unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        );
    }
    std::process::exit(if failed { 1 } else { 0 });
}
