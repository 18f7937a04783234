//! The `dayone` binary as a user runs it: `run` (timeline and `--json`, exit codes) and
//! `validate`.

use std::process::{Command, Output};

use serde_json::Value;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn dayone(args: &[&str], ledger_dir: &tempfile::TempDir) -> Output {
    let ledger = format!("sqlite:{}", ledger_dir.path().join("l.sqlite").display());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dayone"));
    cmd.args(args).current_dir(ROOT).env_remove("RUST_LOG");
    if args.first() == Some(&"run") {
        cmd.args(["--ledger", &ledger]);
    }
    cmd.output().expect("dayone runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_json_prints_one_object_with_status_steps_and_what_the_twins_hold() {
    let dir = tempfile::tempdir().unwrap();
    let out = dayone(
        &[
            "run",
            "tests/fixtures/hires/ada-lovelace.json",
            "--config",
            "dayone.toml",
            "--json",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("exactly one JSON object");
    assert_eq!(doc["status"], "SUCCEEDED");
    assert!(
        doc["executionId"]
            .as_str()
            .unwrap()
            .contains(":execution:joiner:")
    );
    assert_eq!(doc["output"]["names"]["samAccountName"], "alovelace");
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps[0]["name"], "AllocateUsername");
    assert_eq!(steps[0]["status"], "SUCCEEDED");
    assert!(steps[0]["durationMs"].is_u64());
    let users = doc["sandbox"]["graph"]["users"].as_array().unwrap();
    assert!(
        users
            .iter()
            .any(|u| u["userPrincipalName"] == "ada.lovelace@contoso.com")
    );
    // The printer redacts every issued pass and credential as a last line of defence; a
    // "[redacted]" in the output would mean a TAP or a secret reached the report.
    for stream in [&out.stdout, &out.stderr] {
        let printed = text(stream);
        assert!(
            !printed.contains("[redacted]"),
            "a secret reached the output"
        );
        assert!(!printed.contains("local-graph-client-secret"));
    }
}

#[test]
fn run_prints_a_timeline_and_what_each_system_holds() {
    let dir = tempfile::tempdir().unwrap();
    let out = dayone(
        &[
            "run",
            "tests/fixtures/hires/intern-siobhan.json",
            "--config",
            "dayone.toml",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for expected in [
        "✓ AllocateUsername",
        "✓ CreateAccount",
        "│ ✓ IssueTap",
        "SUCCEEDED",
        "What the systems hold now",
        "siobhan.obrien@contoso.com",
        "the pass itself is never shown",
        "ServiceNow sc_request",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn a_failed_flow_exits_1_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let out = dayone(
        &[
            "run",
            "tests/fixtures/hires/ada-lovelace.json",
            "--config",
            "dayone.toml",
            "--fault",
            "servicenow:reject",
            "--json",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["status"], "FAILED");
    assert_eq!(doc["error"], "Dayone.TargetRejected");
    let ticket = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "CreateTicket")
        .unwrap();
    assert_eq!(ticket["status"], "FAILED");
}

#[test]
fn a_bad_hire_exits_2_with_field_errors() {
    let dir = tempfile::tempdir().unwrap();
    let hire = dir.path().join("bad.json");
    std::fs::write(
        &hire,
        r#"{"eventId":"E1","workerId":"1","workerType":"wizard"}"#,
    )
    .unwrap();
    let out = dayone(&["run", hire.to_str().unwrap(), "--json"], &dir);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("workerType"), "{err}");
    assert!(err.contains("legalName"), "{err}");
    assert!(out.stdout.is_empty(), "nothing on stdout for a bad hire");
}

#[test]
fn a_missing_state_machine_file_exits_2_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.asl.json");
    let out = dayone(
        &[
            "run",
            "tests/fixtures/hires/ada-lovelace.json",
            "--definition",
            missing.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("cannot read the state machine"), "{err}");
    assert!(err.contains("nowhere.asl.json"), "{err}");
}

#[test]
fn validate_accepts_the_example_policy_and_refuses_a_broken_rule() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dayone(&["validate", "--config", "dayone.toml"], &dir);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("joiner.asl.json"));

    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        "[[birthright.rules]]\nname = \"x\"\nwhen = 'hire.workerType ==== 1'\ngroups = [\"g\"]\n",
    )
    .unwrap();
    let bad = dayone(&["validate", "--config", broken.to_str().unwrap()], &dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("birthright"),
        "{}",
        text(&bad.stderr)
    );
}
