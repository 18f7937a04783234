//! 500 John Smiths hired at the same moment: every one gets distinct names,
//! across processes sharing one SQLite file and against DynamoDB (moto), and a
//! retry for any of them returns the same names.

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::john_smith;
use dayone_core::Namespace;
use dayone_ledger::{Allocation, Ledger, NameStatus, SqliteLedger};

const WORKERS: u32 = 500;
const PROCESSES: u32 = 5;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    worker_id: String,
    names: Names,
    round_trips: u32,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Names {
    sam_account_name: String,
    upn: String,
    mail: String,
}

fn assert_all_distinct(allocs: &[(String, String, String, String)]) {
    assert_eq!(allocs.len(), WORKERS as usize, "every worker got an answer");
    let workers: HashSet<_> = allocs.iter().map(|a| &a.0).collect();
    let sams: HashSet<_> = allocs.iter().map(|a| a.1.to_lowercase()).collect();
    let upns: HashSet<_> = allocs.iter().map(|a| a.2.to_lowercase()).collect();
    let mails: HashSet<_> = allocs.iter().map(|a| a.3.to_lowercase()).collect();
    assert_eq!(workers.len(), WORKERS as usize);
    assert_eq!(
        sams.len(),
        WORKERS as usize,
        "duplicate sAMAccountName handed out"
    );
    assert_eq!(upns.len(), WORKERS as usize, "duplicate UPN handed out");
    assert_eq!(mails.len(), WORKERS as usize, "duplicate mail handed out");
}

/// Every name handed out is recorded as held by the worker it was given to.
async fn assert_ledger_agrees(ledger: &dyn Ledger, allocs: &[(String, String, String, String)]) {
    for (worker, sam, upn, mail) in allocs {
        for (ns, value) in [
            (Namespace::Sam, sam),
            (Namespace::Upn, upn),
            (Namespace::Mail, mail),
        ] {
            let rec = ledger
                .holder(ns, value)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{value} not recorded"));
            assert_eq!(&rec.owner, worker, "{value}");
            assert_eq!(rec.status, NameStatus::Active);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_processes_allocate_500_namesakes_on_one_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(".dayone/ledger.sqlite");
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, serde_json::to_string(&john_smith()).unwrap()).unwrap();
    let spec = format!("sqlite:{}", db.display());

    // GIVEN five processes, each hiring 100 John Smiths concurrently, on one file
    let per = WORKERS / PROCESSES;
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            Command::new(env!("CARGO_BIN_EXE_dayone-ledger-load"))
                .args([
                    &spec,
                    plan_path.to_str().unwrap(),
                    "W",
                    &(p * per).to_string(),
                    &((p + 1) * per).to_string(),
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn dayone-ledger-load")
        })
        .collect();
    let mut allocs = Vec::new();
    let mut max_trips = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a process failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in stdout.lines() {
            let l: Line = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            max_trips = max_trips.max(l.round_trips);
            allocs.push((
                l.worker_id,
                l.names.sam_account_name,
                l.names.upn,
                l.names.mail,
            ));
        }
    }
    // THEN 500 distinct names in every namespace
    assert_all_distinct(&allocs);
    let ledger = SqliteLedger::open(&db).await.unwrap();
    assert_ledger_agrees(&ledger, &allocs).await;
    println!("sqlite: max round trips under contention = {max_trips}");

    // AND a retry for any of them returns the same names
    for (worker, sam, upn, _) in allocs.iter().step_by(50) {
        let again = ledger
            .allocate(worker, "retry", &john_smith())
            .await
            .unwrap();
        assert!(again.reused);
        assert_eq!(
            (&again.names.sam_account_name, &again.names.upn),
            (sam, upn)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_allocates_500_concurrent_namesakes_without_a_duplicate() {
    let ledger = Arc::new(common::dynamo_ledger_one_request_at_a_time("concurrency").await);
    let started = std::time::Instant::now();
    let plan = Arc::new(john_smith());
    // GIVEN 500 allocations in flight at once
    let tasks: Vec<_> = (0..WORKERS)
        .map(|i| {
            let (ledger, plan) = (Arc::clone(&ledger), Arc::clone(&plan));
            tokio::spawn(async move {
                let worker = format!("W{i}");
                let a: Allocation = ledger
                    .allocate(&worker, "exec", &plan)
                    .await
                    .unwrap_or_else(|e| panic!("{worker}: {e}"));
                a
            })
        })
        .collect();
    let mut allocs = Vec::new();
    let mut max_trips = 0;
    for t in tasks {
        let a = t.await.unwrap();
        max_trips = max_trips.max(a.round_trips);
        allocs.push((
            a.worker_id,
            a.names.sam_account_name,
            a.names.upn,
            a.names.mail,
        ));
    }
    println!(
        "dynamodb: 500 allocations took {:?}, max round trips {max_trips}",
        started.elapsed()
    );
    // THEN no name was handed out twice, and the table agrees with the answers
    assert_all_distinct(&allocs);
    assert_ledger_agrees(ledger.as_ref(), &allocs).await;
    println!("dynamodb: checked after {:?}", started.elapsed());

    // AND a retry, even a concurrent one, returns the same names
    let retries: Vec<_> = allocs
        .iter()
        .step_by(25)
        .map(|(worker, sam, upn, _)| {
            let (ledger, plan) = (Arc::clone(&ledger), Arc::clone(&plan));
            let (worker, sam, upn) = (worker.clone(), sam.clone(), upn.clone());
            tokio::spawn(async move {
                let again = ledger.allocate(&worker, "retry", &plan).await.unwrap();
                assert!(again.reused);
                assert_eq!((again.names.sam_account_name, again.names.upn), (sam, upn));
            })
        })
        .collect();
    for r in retries {
        r.await.unwrap();
    }
}
