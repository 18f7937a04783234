//! Round trips and time per allocation for the nth identical name.
//!
//! `cargo bench -p dayone-ledger --bench ledger` measures SQLite; under
//! `scripts/with-moto.sh` (as `make bench` runs it) it measures DynamoDB on moto
//! too. Target: at most 3 round trips whatever n.
//!
//! For each n in 1, 10, 100, 1000 the ledger holds n-1 "John Smith"s and the
//! next few John Smiths are allocated and timed. SQLite gets there by real
//! allocations; on moto the n-1 namesakes are written with BatchWriteItem in
//! the documented item layout, because moto deep-copies the whole table on
//! every TransactWriteItems and a thousand real allocations would take minutes
//! (that copy also inflates moto's per-allocation time as n grows; real
//! DynamoDB does not do it).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use dayone_core::{Candidate, Namespace, UsernamePlan};
use dayone_ledger::{DynamoLedger, Ledger, SqliteLedger};

const POINTS: [u32; 4] = [1, 10, 100, 1000];
/// Allocations timed at each point (the nth, n+1th, …).
const SAMPLES: u32 = 5;

struct Row {
    backend: &'static str,
    n: u32,
    nth_trips: u32,
    max_trips: u32,
    mean: Duration,
}

/// The names namesake `i` (1-based) ends up with: the two rules, then suffixes 2, 3, …
fn namesake(plan: &UsernamePlan, i: u32) -> Candidate {
    match i {
        1 => plan.candidates[0].clone(),
        2 => plan.candidates[1].clone(),
        _ => plan.suffix.suffixed(u64::from(i - 1)),
    }
}

async fn measure(ledger: &dyn Ledger, backend: &'static str, n: u32, plan: &UsernamePlan) -> Row {
    let mut max_trips = 0;
    let mut nth_trips = 0;
    let mut total = Duration::ZERO;
    for i in n..n + SAMPLES {
        let started = Instant::now();
        let a = ledger
            .allocate(&format!("W{i}"), "bench", plan)
            .await
            .expect("allocate");
        total += started.elapsed();
        max_trips = max_trips.max(a.round_trips);
        if i == n {
            nth_trips = a.round_trips;
        }
        assert_eq!(
            a.names.sam_account_name,
            namesake(plan, i).sam_account_name,
            "namesake {i}"
        );
    }
    Row {
        backend,
        n,
        nth_trips,
        max_trips,
        mean: total / SAMPLES,
    }
}

async fn sqlite_rows(plan: &UsernamePlan) -> Vec<Row> {
    let dir = tempfile::tempdir().unwrap();
    let ledger = SqliteLedger::open(dir.path().join("ledger.sqlite"))
        .await
        .unwrap();
    let mut rows = Vec::new();
    let mut next = 1;
    for n in POINTS {
        while next < n {
            ledger
                .allocate(&format!("W{next}"), "bench", plan)
                .await
                .unwrap();
            next += 1;
        }
        rows.push(measure(&ledger, "sqlite", n, plan).await);
        next = n + SAMPLES;
    }
    rows
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

/// Writes namesakes 1..n-1 (names, worker records, suffix counter) directly.
async fn seed(ledger: &DynamoLedger, plan: &UsernamePlan, n: u32) {
    let now = "2026-01-01T00:00:00.000Z";
    let mut items: Vec<HashMap<String, AttributeValue>> = Vec::new();
    for i in 1..n {
        let c = namesake(plan, i);
        let worker = format!("W{i}");
        for ns in Namespace::ALL {
            let value = c.name_in(ns);
            items.push(HashMap::from([
                ("pk".into(), s(&format!("NAME#{}#{value}", ns.as_str()))),
                ("kind".into(), s("name")),
                ("namespace".into(), s(ns.as_str())),
                ("value".into(), s(&value)),
                ("owner".into(), s(&worker)),
                ("status".into(), s("active")),
                ("when".into(), s(now)),
                ("execution".into(), s("seed")),
            ]));
        }
        items.push(HashMap::from([
            ("pk".into(), s(&format!("WORKER#{worker}"))),
            ("kind".into(), s("worker")),
            ("samAccountName".into(), s(&c.sam_account_name)),
            ("upn".into(), s(&c.upn)),
            ("mail".into(), s(&c.mail)),
            ("status".into(), s("active")),
            ("when".into(), s(now)),
            ("execution".into(), s("seed")),
        ]));
    }
    if n > 3 {
        items.push(HashMap::from([
            ("pk".into(), s(&format!("SUFFIX#{}", plan.suffix_key))),
            ("kind".into(), s("suffix")),
            ("next".into(), AttributeValue::N((n - 2).to_string())),
        ]));
    }
    for chunk in items.chunks(25) {
        let mut pending: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        while !pending.is_empty() {
            let out = ledger
                .client()
                .batch_write_item()
                .request_items(ledger.table(), pending)
                .send()
                .await
                .expect("seed the table");
            pending = out
                .unprocessed_items()
                .and_then(|u| u.get(ledger.table()))
                .cloned()
                .unwrap_or_default();
        }
    }
}

async fn moto_rows(plan: &UsernamePlan) -> Vec<Row> {
    let mut rows = Vec::new();
    for n in POINTS {
        let ledger = common::dynamo_ledger(&format!("bench-{n}")).await;
        seed(&ledger, plan, n).await;
        rows.push(measure(&ledger, "dynamodb (moto)", n, plan).await);
    }
    rows
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let plan = common::john_smith();
    let mut rows = rt.block_on(sqlite_rows(&plan));
    let moto = std::env::var(dayone_ledger::ENDPOINT_ENV).is_ok_and(|v| !v.is_empty());
    if moto {
        rows.extend(rt.block_on(moto_rows(&plan)));
    }
    println!(
        "\nledger: allocating the nth \"John Smith\" (mean of allocations n..n+{})",
        SAMPLES - 1
    );
    println!(
        "| backend | n | round trips (nth) | round trips (max, n..n+{}) | time per allocation |",
        SAMPLES - 1
    );
    println!("|---|---:|---:|---:|---:|");
    let mut worst = 0;
    for r in &rows {
        worst = worst.max(r.max_trips);
        println!(
            "| {} | {} | {} | {} | {:.2} ms |",
            r.backend,
            r.n,
            r.nth_trips,
            r.max_trips,
            r.mean.as_secs_f64() * 1000.0
        );
    }
    if !moto {
        println!(
            "(DynamoDB skipped: {} is not set; `make bench` runs this under scripts/with-moto.sh)",
            dayone_ledger::ENDPOINT_ENV
        );
    }
    assert!(
        worst <= 3,
        "an allocation needed {worst} round trips; the target is at most 3"
    );
    println!("max round trips for any n: {worst} (target <= 3)");
}
