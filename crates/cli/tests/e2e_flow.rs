//! End to end on the local engine: `state-machines/joiner.asl.json` on the interpreter, the
//! six step handlers in-process, the SQLite ledger, and the sandbox twins over loopback HTTP,
//! with the example policy `dayone.toml`.

use std::sync::Arc;

use dayone_asl::{EventType, ExecutionResult, ExecutionStatus};
use dayone_cli::local::report::Holdings;
use dayone_cli::local::timeline::{self, Style};
use dayone_cli::local::{EngineOptions, LocalEngine};
use dayone_core::{Config, HireEvent, Namespace};
use dayone_sandbox::{FaultKind, FaultTarget, TapPolicyState};
use dayone_sdk::testing::LogCapture;
use serde_json::{Value, json};

const POLICY: &str = include_str!("../../../dayone.toml");

fn fixture(name: &str) -> HireEvent {
    let path = format!(
        "{}/../../tests/fixtures/hires/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    HireEvent::parse(&std::fs::read_to_string(path).expect("fixture")).expect("valid fixture")
}

fn hire(v: Value) -> HireEvent {
    HireEvent::from_value(v).expect("valid hire")
}

/// An engine on the example policy with its own ledger file.
async fn engine(dir: &tempfile::TempDir) -> LocalEngine {
    let ledger = format!("sqlite:{}", dir.path().join("ledger.sqlite").display());
    let config = Config::from_toml_str(POLICY).expect("dayone.toml is valid");
    LocalEngine::start(EngineOptions::new(config).ledger(ledger))
        .await
        .expect("local engine starts")
}

fn groups_of(engine: &LocalEngine, worker: &str) -> Vec<String> {
    let users = engine.sandbox().users();
    let user = users
        .iter()
        .find(|u| u.employee_id.as_deref() == Some(worker))
        .expect("an account for the worker");
    engine
        .sandbox()
        .memberships()
        .into_iter()
        .filter(|m| m.user_id == user.id)
        .map(|m| m.group.to_lowercase())
        .collect()
}

fn accounts_for(engine: &LocalEngine, worker: &str) -> usize {
    engine
        .sandbox()
        .users()
        .iter()
        .filter(|u| u.employee_id.as_deref() == Some(worker))
        .count()
}

/// Fails (naming only which text) if any pass value or credential the twins know appears in
/// the captured logs, the execution (history, output, error), the twins' snapshot or the
/// printed report.
async fn assert_nothing_leaked(
    engine: &LocalEngine,
    logs: &LogCapture,
    result: &ExecutionResult,
    h: &HireEvent,
) {
    let forbidden = engine.forbidden_values();
    assert!(!forbidden.is_empty(), "the twins know their credentials");
    let needles: Vec<&str> = forbidden.iter().map(String::as_str).collect();
    logs.assert_absent(&needles);
    let report = Holdings::collect(engine.sandbox(), engine.ledger(), h)
        .await
        .render(Style { on: false });
    let texts = [
        ("execution", serde_json::to_string(result).unwrap()),
        ("snapshot", engine.sandbox().snapshot().to_string()),
        ("report", report),
        (
            "steps",
            serde_json::to_string(&timeline::steps(&result.history)).unwrap(),
        ),
    ];
    for (what, text) in texts {
        for (i, n) in needles.iter().enumerate() {
            assert!(!text.contains(n), "{what} contains forbidden value #{i}");
        }
    }
}

/// Status, error and cause: enough to see why an execution went wrong.
fn brief(r: &ExecutionResult) -> String {
    format!("{} {:?} {:?}", r.status.as_str(), r.error, r.cause)
}

fn step(result: &ExecutionResult, name: &str) -> timeline::StepSummary {
    timeline::steps(&result.history)
        .into_iter()
        .rfind(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} did not run"))
}

fn it_notices(engine: &LocalEngine) -> Vec<String> {
    engine
        .sandbox()
        .slack_messages()
        .into_iter()
        .filter(|m| m.dm_user.is_none())
        .map(|m| m.text)
        .collect()
}

#[tokio::test]
async fn an_employee_gets_names_account_groups_a_pass_for_the_manager_writeback_and_a_laptop() {
    // GIVEN the example policy and Ada, an employee in Engineering whose manager is Grace
    let logs = LogCapture::new();
    let _g = logs.set_default();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let ada = fixture("ada-lovelace");

    // WHEN her hire runs through the Joiner flow
    let result = engine.run(&ada, None).await.unwrap();

    // THEN it succeeds and every system holds what Day 1 needs
    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        brief(&result)
    );
    let out = result.output.as_ref().unwrap();
    assert_eq!(out["names"]["samAccountName"], "alovelace");
    assert_eq!(out["names"]["upn"], "ada.lovelace@contoso.com");
    assert_eq!(accounts_for(&engine, "21001"), 1);
    let groups = groups_of(&engine, "21001");
    for g in [
        "all-staff",
        "employees",
        "vpn-users",
        "dept-engineering-london",
    ] {
        assert!(
            groups.contains(&g.to_string()),
            "{g} missing from {groups:?}"
        );
    }
    assert!(!groups.contains(&"contractors".to_string()));
    // the birthright apps are assigned, SAP with the role dayone.toml chooses for it
    let user_id = out["account"]["userId"].as_str().unwrap();
    let mut apps: Vec<(String, String)> = engine
        .sandbox()
        .app_role_assignments()
        .into_iter()
        .filter(|a| a.principal_id == user_id)
        .map(|a| (a.resource_display_name, a.app_role_id))
        .collect();
    apps.sort();
    let names: Vec<&str> = apps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "GlobalProtect VPN",
            "Microsoft 365",
            "SAP",
            "Slack",
            "Workday"
        ]
    );
    assert_eq!(out["account"]["apps"].as_array().unwrap().len(), 5);
    let sap_role = &apps[2].1;
    assert_ne!(
        sap_role, "00000000-0000-0000-0000-000000000000",
        "SAP gets its Finance User role"
    );
    assert_eq!(
        apps[3].1, "00000000-0000-0000-0000-000000000000",
        "Slack: default access"
    );
    // the pass went to the manager, by Slack and e-mail; only its id is in the output
    let tap = &out["provisioned"]["tap"];
    assert!(tap["tapId"].is_string());
    assert_eq!(
        tap["delivered"],
        json!([{"channel": "slack", "to": "grace.hopper@contoso.com"}, {"channel": "email", "to": "grace.hopper@contoso.com"}])
    );
    let taps = engine.sandbox().taps_issued();
    assert_eq!(taps.len(), 1);
    assert!(taps[0].is_usable_once);
    assert_eq!(
        engine.sandbox().slack_messages()[0].dm_user.as_deref(),
        Some("U0GRACEHOP")
    );
    assert_eq!(
        engine.sandbox().mails()[0].to,
        vec!["grace.hopper@contoso.com"]
    );
    // the work email is in Workday and a laptop is on order
    let wb = engine.sandbox().workday_writebacks();
    assert!(
        wb.iter().any(|w| w.worker_id == "21001"
            && w.work_email.as_deref() == Some("ada.lovelace@contoso.com"))
    );
    assert_eq!(out["provisioned"]["ticket"]["system"], "servicenow");
    assert_eq!(engine.sandbox().tickets().len(), 1);
    // every state ran once, in order, with no failure
    let names: Vec<String> = timeline::steps(&result.history)
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names[..2], ["AllocateUsername", "CreateAccount"]);
    assert!(names.contains(&"Joined".to_string()));
    assert!(!names.contains(&"NotifyFailure".to_string()));
    // the execution id reached every step as its idempotency key
    assert!(result.execution_arn.contains("21001"));
    // and no pass or credential is anywhere in logs, history, output or the report
    assert_nothing_leaked(&engine, &logs, &result, &ada).await;
}

#[tokio::test]
async fn a_contractor_gets_the_contractor_rules_and_no_vpn() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let jurgen = fixture("contractor-jurgen");

    let result = engine.run(&jurgen, None).await.unwrap();

    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        brief(&result)
    );
    assert_eq!(
        result.output.as_ref().unwrap()["names"]["samAccountName"],
        "jmueller",
        "German transliteration: ü → ue"
    );
    let groups = groups_of(&engine, "C-5001");
    assert!(groups.contains(&"contractors".to_string()), "{groups:?}");
    assert!(groups.contains(&"guest-wifi".to_string()), "{groups:?}");
    assert!(!groups.contains(&"vpn-users".to_string()), "{groups:?}");
    assert!(!groups.contains(&"employees".to_string()), "{groups:?}");
    assert!(
        !groups.contains(&"eng-berlin-lab".to_string()),
        "{groups:?}"
    );
    // Workday keeps contractors under Contingent_Worker_ID
    assert!(
        engine
            .sandbox()
            .workday_writebacks()
            .iter()
            .any(|w| w.worker_id == "C-5001")
    );
}

#[tokio::test]
async fn an_intern_gets_the_intern_rules() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let siobhan = fixture("intern-siobhan");

    let result = engine.run(&siobhan, None).await.unwrap();

    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        brief(&result)
    );
    assert_eq!(
        result.output.as_ref().unwrap()["names"]["upn"],
        "siobhan.obrien@contoso.com"
    );
    let groups = groups_of(&engine, "I-7001");
    assert!(groups.contains(&"interns".to_string()), "{groups:?}");
    assert!(
        groups.contains(&"mentoring-program".to_string()),
        "{groups:?}"
    );
    assert!(!groups.contains(&"vpn-users".to_string()), "{groups:?}");
    assert!(!groups.contains(&"employees".to_string()), "{groups:?}");
}

fn john_smith(worker: &str, event: &str) -> HireEvent {
    hire(json!({
        "eventId": event, "workerId": worker, "workerType": "employee",
        "legalName": {"first": "John", "last": "Smith"},
        "hireDate": "2026-12-01", "department": "Sales", "location": "London", "country": "GB",
        "managerWorkerId": "20007"
    }))
}

#[tokio::test]
async fn two_john_smiths_hired_in_the_same_minute_get_different_names() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let first = john_smith("30001", "EVT-JS-1");
    let second = john_smith("30002", "EVT-JS-2");

    // both deliveries are processed at the same time
    let (a, b) = tokio::join!(engine.run(&first, None), engine.run(&second, None));
    let (a, b) = (a.unwrap(), b.unwrap());

    assert_eq!(a.status, ExecutionStatus::Succeeded, "{}", brief(&a));
    assert_eq!(b.status, ExecutionStatus::Succeeded, "{}", brief(&b));
    let names = |r: &ExecutionResult| r.output.as_ref().unwrap()["names"].clone();
    let (na, nb) = (names(&a), names(&b));
    for field in ["samAccountName", "upn", "mail"] {
        assert_ne!(na[field], nb[field], "{field} must differ");
    }
    let sams = [na["samAccountName"].clone(), nb["samAccountName"].clone()];
    assert!(sams.contains(&json!("jsmith")), "{sams:?}");
    assert_eq!(accounts_for(&engine, "30001"), 1);
    assert_eq!(accounts_for(&engine, "30002"), 1);
}

#[tokio::test]
async fn a_rehire_gets_their_old_names_back_and_nobody_else_took_them() {
    let dir = tempfile::tempdir().unwrap();
    let first = fixture("ada-lovelace");
    let original = {
        let engine = engine(&dir).await;
        let r = engine.run(&first, None).await.unwrap();
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{}", brief(&r));
        // she leaves: her names are tombstoned, never freed
        engine.ledger().tombstone("21001").await.unwrap();
        r.output.unwrap()["names"].clone()
    };

    // a second Ada Lovelace (another worker) joins while the first is gone
    let engine = engine(&dir).await;
    let namesake = hire(json!({
        "eventId": "EVT-2027-01-0100", "workerId": "21999", "workerType": "employee",
        "legalName": {"first": "Ada", "last": "Lovelace"},
        "hireDate": "2027-02-01", "department": "Finance", "country": "GB",
        "managerWorkerId": "20007"
    }));
    let r = engine.run(&namesake, None).await.unwrap();
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{}", brief(&r));
    let other = r.output.unwrap()["names"].clone();
    assert_ne!(other["samAccountName"], original["samAccountName"]);
    assert_ne!(other["upn"], original["upn"]);

    // and the original Ada is rehired (a new Workday event for the same worker)
    let mut rehire = serde_json::to_value(&first).unwrap();
    rehire["eventId"] = json!("EVT-2027-03-0001");
    rehire["hireDate"] = json!("2027-03-01");
    let rehire = hire(rehire);
    let r = engine.run(&rehire, None).await.unwrap();
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{}", brief(&r));
    let back = &r.output.as_ref().unwrap()["names"];
    for field in ["samAccountName", "upn", "mail"] {
        assert_eq!(back[field], original[field], "{field} comes back");
    }
    let holder = engine
        .ledger()
        .holder(Namespace::Sam, original["samAccountName"].as_str().unwrap())
        .await
        .unwrap()
        .expect("the name is held");
    assert_eq!(holder.owner, "21001");
}

#[tokio::test]
async fn graph_throttling_mid_flow_is_retried_and_the_flow_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let ada = fixture("ada-lovelace");
    // GIVEN Graph throttles adding group members, more often than the client retries itself
    engine.sandbox().faults().graph.arm(
        FaultTarget::path("POST", "/v1.0/groups/{id}/members/$ref"),
        FaultKind::Throttle {
            retry_after_secs: 0,
        },
        6,
    );

    let result = engine.run(&ada, None).await.unwrap();

    // THEN the state machine's Retry (Dayone.Throttled) carried it through
    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        brief(&result)
    );
    let retries: Vec<_> = result
        .history
        .iter()
        .filter(|e| e.kind == EventType::RetryScheduled)
        .collect();
    assert!(!retries.is_empty(), "the retry shows in the history");
    assert!(
        retries
            .iter()
            .all(|e| e.state_name.as_deref() == Some("CreateAccount")
                && e.error.as_deref() == Some("Dayone.Throttled"))
    );
    assert!(step(&result, "CreateAccount").retries >= 1);
    assert_eq!(engine.sandbox().faults().graph.pending(), 0);
    // and the retried CreateAccount found the account it had created: still one account
    assert_eq!(accounts_for(&engine, "21001"), 1);
    assert!(groups_of(&engine, "21001").contains(&"vpn-users".to_string()));
}

#[tokio::test]
async fn a_permanent_ticket_failure_notifies_it_keeps_the_names_and_a_rerun_creates_no_second_account()
 {
    let logs = LogCapture::new();
    let _g = logs.set_default();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let ada = fixture("ada-lovelace");
    // GIVEN ServiceNow refuses every request (400)
    engine.sandbox().faults().servicenow.arm(
        FaultTarget::any(),
        FaultKind::Status {
            status: 400,
            retry_after_secs: None,
        },
        1000,
    );

    let result = engine.run(&ada, None).await.unwrap();

    // THEN the execution fails with the ticket's own error, after IT was told
    assert_eq!(result.status, ExecutionStatus::Failed, "{}", brief(&result));
    assert_eq!(result.error.as_deref(), Some("Dayone.TargetRejected"));
    assert_eq!(step(&result, "CreateTicket").status, "FAILED");
    assert_eq!(step(&result, "CreateTicket").retries, 0, "not retried");
    assert_eq!(step(&result, "NotifyFailure").status, "SUCCEEDED");
    let notices = it_notices(&engine);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("CreateTicket"), "{}", notices[0]);
    // the other branches still delivered: the manager has the pass, Workday the email
    assert_eq!(engine.sandbox().taps_issued().len(), 1);
    assert!(!engine.sandbox().workday_writebacks().is_empty());
    // the names stay reserved for Ada
    let holder = engine
        .ledger()
        .holder(Namespace::Upn, "ada.lovelace@contoso.com")
        .await
        .unwrap()
        .expect("still reserved");
    assert_eq!(holder.owner, "21001");

    // WHEN ServiceNow is back and the hire is run again
    engine.sandbox().faults().clear_all();
    let again = engine.run(&ada, None).await.unwrap();

    // THEN it completes without a second account, a second pass or other names
    assert_eq!(
        again.status,
        ExecutionStatus::Succeeded,
        "{}",
        brief(&again)
    );
    assert_eq!(accounts_for(&engine, "21001"), 1);
    let out = again.output.as_ref().unwrap();
    assert_eq!(out["account"]["created"], false);
    assert_eq!(out["names"]["upn"], "ada.lovelace@contoso.com");
    assert_eq!(
        engine
            .sandbox()
            .taps_issued()
            .iter()
            .filter(|t| t.active)
            .count(),
        1
    );
    assert_eq!(engine.sandbox().tickets().len(), 1);
    assert_nothing_leaked(&engine, &logs, &result, &ada).await;
    assert_nothing_leaked(&engine, &logs, &again, &ada).await;
}

#[tokio::test]
async fn a_disabled_tap_policy_gives_a_clear_failure_notice_and_leaks_nothing() {
    let logs = LogCapture::new();
    let _g = logs.set_default();
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(&dir).await;
    let ada = fixture("ada-lovelace");
    // GIVEN the tenant's Temporary Access Pass policy is off
    engine
        .sandbox()
        .set_tap_policy_state(TapPolicyState::Disabled);

    let result = engine.run(&ada, None).await.unwrap();

    // THEN no pass exists, the flow fails naming the policy, and IT hears about it
    assert_eq!(result.status, ExecutionStatus::Failed, "{}", brief(&result));
    assert_eq!(result.error.as_deref(), Some("Dayone.TargetRejected"));
    let cause = timeline::describe_error("x", result.cause.as_deref());
    assert!(
        cause.contains("Temporary Access Pass policy is disabled"),
        "{cause}"
    );
    assert!(engine.sandbox().taps_issued().is_empty());
    let notices = it_notices(&engine);
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("IssueTap"), "{}", notices[0]);
    // the account, write-back and ticket were still done
    assert_eq!(accounts_for(&engine, "21001"), 1);
    assert_eq!(engine.sandbox().tickets().len(), 1);
    assert_nothing_leaked(&engine, &logs, &result, &ada).await;
}

#[tokio::test]
async fn a_wait_until_the_tap_issue_time_is_fast_forwarded_and_shown_in_the_timeline() {
    // GIVEN a policy that waits in the state machine until 08:00 on the hire date
    let dir = tempfile::tempdir().unwrap();
    let ledger = format!("sqlite:{}", dir.path().join("ledger.sqlite").display());
    let mut config = Config::from_toml_str(POLICY).unwrap();
    config.tap.wait_until_issue = true;
    let engine = LocalEngine::start(EngineOptions::new(config).ledger(ledger))
        .await
        .unwrap();
    let mut far = serde_json::to_value(fixture("ada-lovelace")).unwrap();
    far["hireDate"] = json!("2036-12-01");
    let ada = hire(far);
    let printed = Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let live = timeline::LiveTimeline::new(
        engine.interpreter().machine(),
        Box::new(SharedBuf(printed.clone())),
        Style { on: false },
        true,
        Arc::new(Vec::new),
    );

    let started = std::time::Instant::now();
    let result = engine.run(&ada, Some(Arc::new(live))).await.unwrap();

    // THEN the ten-year wait took no real time, yet the timeline shows it
    assert_eq!(
        result.status,
        ExecutionStatus::Succeeded,
        "{}",
        brief(&result)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let wait = step(&result, "WaitUntilTapIssueTime");
    assert!(wait.duration_ms > 300 * 86_400_000, "{wait:?}");
    let text = String::from_utf8(printed.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("WaitUntilTapIssueTime"))
        .expect("the wait is on the timeline");
    assert!(line.contains(" d ") && line.contains("simulated"), "{line}");
}

struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
