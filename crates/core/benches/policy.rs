//! Policy engine throughput: candidate names generated per second on one core.
//!
//! `cargo bench -p dayone-core --bench policy` (optional argument: seconds to run).
//! A "candidate name" is one rule expanded into a sam/UPN/mail triple, kept or
//! rejected (reserved, duplicate); plans are built with the example `dayone.toml`
//! over a mix of Latin, accented, German, hyphenated and non-Latin names.

use std::hint::black_box;
use std::time::{Duration, Instant};

use dayone_core::{Config, Decision, HireEvent, UsernamePolicy};

const NAMES: &[(&str, Option<&str>, &str)] = &[
    ("John", Some("Quincy"), "Smith"),
    ("José", None, "Núñez"),
    ("Jürgen", None, "Müller"),
    ("SEAN", None, "O'BRIEN"),
    ("Gabriel", None, "García-Márquez"),
    ("Jan", None, "van der Berg"),
    ("Jean-Luc", None, "Picard"),
    ("Сергей", None, "Иванов"),
    ("小明", None, "王"),
    ("Γιώργος", None, "Παπαδόπουλος"),
    (
        "Maximilian",
        Some("Alexander"),
        "Wolfeschlegelsteinhausenbergerdorff",
    ),
    ("Ad", None, "Min"),
];

fn main() {
    let seconds: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2);
    let cfg = Config::from_toml_str(include_str!("../../../dayone.toml")).expect("example config");
    let policy = UsernamePolicy::from_config(&cfg.username).expect("policy");
    let hires: Vec<HireEvent> = NAMES
        .iter()
        .map(|(first, middle, last)| {
            let mut name = serde_json::json!({"first": first, "last": last});
            if let Some(m) = middle {
                name["middle"] = serde_json::json!(m);
            }
            HireEvent::from_value(serde_json::json!({
                "eventId": "E", "workerId": "W", "workerType": "employee", "legalName": name,
                "hireDate": "2026-03-02", "department": "Engineering", "country": "DE"
            }))
            .expect("bench hire")
        })
        .collect();

    // Warm up, then measure for a fixed wall-clock time.
    for h in &hires {
        black_box(policy.plan(h).ok());
    }
    let budget = Duration::from_secs(seconds);
    let start = Instant::now();
    let (mut plans, mut names) = (0u64, 0u64);
    while start.elapsed() < budget {
        for h in &hires {
            let plan = policy.plan(black_box(h)).expect("plan");
            names += plan.candidates.len() as u64
                + plan
                    .trace
                    .iter()
                    .filter(|t| matches!(t.decision, Decision::Reserved | Decision::Duplicate))
                    .count() as u64;
            plans += 1;
            black_box(plan);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "policy: {plans} plans, {names} candidate names in {secs:.2}s on one core: \
         {:.0} candidate names/s, {:.0} plans/s ({:.2} µs/plan)",
        names as f64 / secs,
        plans as f64 / secs,
        secs * 1e6 / plans as f64
    );
}
