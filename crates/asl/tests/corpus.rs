//! Runs every case of the AWS-recorded conformance corpus (tests/asl-corpus/cases.jsonl) on
//! the interpreter with a virtual clock, and fails if fewer cases pass than the floor.

use dayone_asl::{Clock, ExecutionOptions, ExecutionStatus, Interpreter, StateMachine};
use serde_json::Value;
use std::collections::BTreeMap;

/// Raise this as the interpreter improves; never lower it.
const PASS_FLOOR: usize = 703;

/// JSON equality where numbers compare by value (AWS prints 1.0 as 1).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

async fn run_case(case: &Value) -> Result<(), String> {
    let def = serde_json::to_string(&case["definition"]).unwrap();
    let machine = StateMachine::parse(&def).map_err(|e| format!("validation: {e}"))?;
    let result = Interpreter::new(machine)
        .with_clock(Clock::instant())
        .run(
            case["input"].clone(),
            ExecutionOptions {
                lean_history: true,
                ..Default::default()
            },
        )
        .await;
    if let Some(expected) = case.get("expected_output") {
        if result.status != ExecutionStatus::Succeeded {
            return Err(format!(
                "expected success, got {:?} {:?}: {:?}",
                result.status, result.error, result.cause
            ));
        }
        let out = result.output.as_deref().cloned().unwrap_or(Value::Null);
        if !same(&out, expected) {
            return Err(format!("output {out} != expected {expected}"));
        }
        return Ok(());
    }
    let exp = &case["expected_error"];
    if result.status != ExecutionStatus::Failed {
        return Err(format!(
            "expected failure {exp}, got output {:?}",
            result.output
        ));
    }
    let want = exp.get("error").and_then(Value::as_str);
    if result.error.as_deref() != want {
        return Err(format!(
            "error {:?} != expected {:?} (cause {:?})",
            result.error, want, result.cause
        ));
    }
    Ok(())
}

#[tokio::test]
async fn corpus_conformance() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/asl-corpus/cases.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("the corpus file is readable");
    let mut by_feature: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut pass, mut total) = (0, 0);
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("each corpus line is JSON");
        total += 1;
        let ok = run_case(&case).await;
        let features: Vec<String> = case["features"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let lang = if features.iter().any(|f| f == "JSONata") {
            "lang:JSONata"
        } else {
            "lang:JSONPath"
        };
        for f in features.iter().map(String::as_str).chain([lang, "ALL"]) {
            let e = by_feature.entry(f.to_string()).or_default();
            e.1 += 1;
            if ok.is_ok() {
                e.0 += 1;
            }
        }
        match ok {
            Ok(()) => pass += 1,
            Err(why) => failures.push(format!("{}: {why}", case["name"].as_str().unwrap_or("?"))),
        }
    }
    println!("| feature | pass | total |\n|---|---|---|");
    for (f, (p, t)) in &by_feature {
        println!("| {f} | {p} | {t} |");
    }
    println!("\n{} failing cases:", failures.len());
    for f in &failures {
        println!("  FAIL {}", f.chars().take(400).collect::<String>());
    }
    println!("\ncorpus: {pass}/{total} pass (floor {PASS_FLOOR})");
    assert!(
        pass >= PASS_FLOOR,
        "corpus pass count {pass} fell below the floor {PASS_FLOOR}"
    );
}
