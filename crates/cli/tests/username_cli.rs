//! `dayone username allocate` / `import` / `explain` as a user runs them: JSON-lines
//! filters that never lose a line and never hand out an unsafe or duplicate
//! name, and an explanation people can read.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const POLICY: &str = r#"
[username]
upn_domain = "contoso.com"
mail_domain = "contoso.com"
reserved = ["admin", "root"]

[[username.rules]]
sam = "{first:1}{last}"
upn = "{first}.{last}"

[[username.rules]]
sam = "{first}{last:1}"
upn = "{first}.{last:1}"
"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dayone.toml"), POLICY).unwrap();
        Env { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ledger(&self) -> String {
        format!("sqlite:{}", self.path(".dayone/ledger.sqlite").display())
    }

    fn dayone(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dayone"));
        cmd.current_dir(self.dir.path()).env_remove("DAYONE_LEDGER");
        cmd
    }

    fn allocate(&self, stdin: &[u8]) -> Output {
        self.filter("allocate", stdin)
    }

    fn filter(&self, command: &str, stdin: &[u8]) -> Output {
        let mut child = self
            .dayone()
            .args(["username", command, "--ledger", &self.ledger()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dayone");
        let mut input = child.stdin.take().unwrap();
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || input.write_all(&data));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "dayone panicked: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

fn hire(event: &str, worker: &str, first: &str, last: &str) -> Value {
    json!({
        "eventId": event,
        "workerId": worker,
        "workerType": "employee",
        "legalName": {"first": first, "last": last},
        "hireDate": "2026-12-01",
        "department": "Engineering",
        "country": "GB"
    })
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .expect("stdout is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn is_safe(sam: &str) -> bool {
    !sam.is_empty()
        && sam.len() <= 20
        && sam
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[test]
fn every_line_in_gets_one_line_out_even_when_the_input_is_hostile() {
    let env = Env::new();
    let hostile: Vec<(String, &str)> = vec![
        (hire("e1", "W1", "John", "Smith").to_string(), "ok"),
        ("this is not json".into(), "error"),
        (String::new(), "error"),
        (
            json!({"eventId": "e4", "workerId": "W4"}).to_string(),
            "error",
        ),
        (
            hire("e5", "W5", &"A".repeat(5000), "Smith").to_string(),
            "either",
        ),
        (
            hire("e6", "W6", "Jo\u{0007}hn", "Sm\u{202E}ith").to_string(),
            "either",
        ),
        (
            hire("e7", "W7", "x' or '1'='1", "Robert'); DROP TABLE users;--").to_string(),
            "either",
        ),
        (
            hire("e8", "W8", "*)(uid=*", "eq 'x' or 1 eq 1").to_string(),
            "either",
        ),
        (hire("e9", "W9", "", " ").to_string(), "error"),
        (hire("e10", "W10", "李", "小龍").to_string(), "either"),
        (hire("e11", "W11", "ابن", "سينا").to_string(), "either"),
        (
            hire("e12", "W12", "José", "García-Márquez").to_string(),
            "ok",
        ),
        ("[1,2,3]".into(), "error"),
        ("{\"eventId\": 12}".into(), "error"),
    ];
    let mut input = Vec::new();
    for (line, _) in &hostile {
        input.extend_from_slice(line.as_bytes());
        input.push(b'\n');
    }
    // A line that is not even UTF-8 must not end the stream either.
    input.extend_from_slice(b"{\"eventId\":\"e15\",\"workerId\":\"\xff\xfe\"}\n");
    input.extend_from_slice(hire("e16", "W16", "Ada", "Lovelace").to_string().as_bytes());
    input.push(b'\n');

    let out = env.allocate(&input);
    let results = lines(&out);
    assert_eq!(results.len(), hostile.len() + 2, "one line out per line in");
    assert_eq!(
        out.status.code(),
        Some(1),
        "some lines failed, so the exit code says so"
    );

    let mut sams = HashSet::new();
    for (i, result) in results.iter().enumerate() {
        let expect = hostile.get(i).map(|h| h.1).unwrap_or("either");
        if let Some(err) = result.get("error") {
            assert_ne!(expect, "ok", "line {i} failed: {result}");
            let name = err["name"].as_str().unwrap();
            assert!(name.starts_with("Dayone."), "{result}");
            assert!(!err["message"].as_str().unwrap().is_empty(), "{result}");
        } else {
            assert_ne!(expect, "error", "line {i} should have failed: {result}");
            let sam = result["samAccountName"].as_str().unwrap();
            assert!(is_safe(sam), "unsafe sAMAccountName {sam:?} from line {i}");
            let upn = result["upn"].as_str().unwrap();
            let local = upn.split('@').next().unwrap();
            assert!(
                local
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)),
                "{upn}"
            );
            assert!(sams.insert(sam.to_string()), "duplicate {sam}");
            assert!(result["trace"].as_array().is_some_and(|t| !t.is_empty()));
        }
    }
    // Errors carry the event id whenever the line had one, so they can be matched up.
    assert_eq!(results[3]["eventId"], "e4");
    assert_eq!(results[8]["eventId"], "e9");
    assert!(
        results[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("legalName")
    );
    assert_eq!(results[0]["samAccountName"], "jsmith");
    assert_eq!(results[11]["displayName"], "José García-Márquez");
    assert_eq!(
        results.last().unwrap()["samAccountName"],
        "alovelace",
        "processing continued to the end"
    );
}

#[test]
fn a_rerun_of_the_same_file_returns_the_same_names() {
    let env = Env::new();
    let file: String = (0..5)
        .map(|i| {
            format!(
                "{}\n",
                hire(&format!("e{i}"), &format!("W{i}"), "John", "Smith")
            )
        })
        .collect();
    let first = lines(&env.allocate(file.as_bytes()));
    let again = lines(&env.allocate(file.as_bytes()));
    let sams = |v: &[Value]| {
        v.iter()
            .map(|r| r["samAccountName"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sams(&first),
        vec!["jsmith", "johns", "jsmith2", "jsmith3", "jsmith4"]
    );
    assert_eq!(sams(&again), sams(&first));
    assert_eq!(
        again[0]["trace"].as_array().unwrap().last().unwrap()["outcome"],
        "alreadyHeld"
    );
}

#[test]
fn several_dayone_processes_share_one_ledger_file_without_duplicates() {
    let env = Env::new();
    // Open the file once so the processes race on allocations, not on creating it.
    env.allocate(b"\n");
    let children: Vec<_> = (0..5)
        .map(|p| {
            let file: String = (0..60)
                .map(|i| {
                    format!(
                        "{}\n",
                        hire(&format!("e{p}-{i}"), &format!("W{p}-{i}"), "John", "Smith")
                    )
                })
                .collect();
            let path = env.path(&format!("hires-{p}.jsonl"));
            std::fs::write(&path, file).unwrap();
            env.dayone()
                .args(["username", "allocate", "--ledger", &env.ledger()])
                .stdin(std::fs::File::open(&path).unwrap())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut sams = HashSet::new();
    let mut upns = HashSet::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        for r in lines(&out) {
            assert!(
                sams.insert(r["samAccountName"].as_str().unwrap().to_string()),
                "duplicate: {r}"
            );
            assert!(
                upns.insert(r["upn"].as_str().unwrap().to_string()),
                "duplicate: {r}"
            );
        }
    }
    assert_eq!(sams.len(), 300);
    assert_eq!(upns.len(), 300);
}

fn explain(env: &Env, hire_path: &Path) -> (String, Option<i32>) {
    let out = env
        .dayone()
        .args(["username", "explain"])
        .arg(hire_path)
        .args(["--ledger", &env.ledger()])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        out.status.code(),
    )
}

#[test]
fn explain_tells_people_which_rule_wins_and_why_the_others_lost() {
    let env = Env::new();
    let path = env.path("hire.json");
    std::fs::write(&path, hire("e1", "W1", "Jürgen", "Smith").to_string()).unwrap();

    let (text, code) = explain(&env, &path);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Jürgen"), "{text}");
    assert!(
        text.contains("Policy:") && text.contains("transliterate"),
        "{text}"
    );
    assert!(
        text.contains("jsmith") && text.contains("would be chosen"),
        "{text}"
    );
    assert!(
        !env.path(".dayone/ledger.sqlite").exists(),
        "explaining reserves nothing"
    );

    // GIVEN another J. Smith already holds jsmith
    env.allocate(format!("{}\n", hire("e0", "W0", "Jane", "Smith")).as_bytes());
    let (text, _) = explain(&env, &path);
    assert!(text.contains("sam jsmith taken"), "{text}");
    assert!(text.contains("would be chosen"), "{text}");

    // AND once Jürgen has his names, explain says so
    env.allocate(format!("{}\n", std::fs::read_to_string(&path).unwrap()).as_bytes());
    let (text, _) = explain(&env, &path);
    assert!(text.contains("already holds"), "{text}");
}

#[test]
fn explain_and_allocate_refuse_bad_input_clearly() {
    let env = Env::new();
    let path = env.path("bad.json");
    std::fs::write(&path, r#"{"eventId": "e1", "workerId": "W1"}"#).unwrap();
    let (text, code) = explain(&env, &path);
    assert_eq!(code, Some(2));
    assert!(text.contains("legalName"), "{text}");

    let out = env
        .dayone()
        .args([
            "username",
            "allocate",
            "--config",
            "missing.toml",
            "--ledger",
            &env.ledger(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));

    let out = env
        .dayone()
        .args(["username", "allocate", "--ledger", "postgres:nope"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite:PATH"));
}

#[test]
fn imported_directory_accounts_are_never_handed_out_again() {
    let env = Env::new();
    // An export of the directory: extra columns are ignored, mail may be missing,
    // a former employee's account is tombstoned.
    let accounts = [
        json!({"workerId": "W100", "samAccountName": "jsmith", "upn": "john.smith@contoso.com",
               "displayName": "John Smith"}),
        json!({"workerId": "W101", "samAccountName": "johns", "upn": "johns@contoso.com",
               "mail": "john.s@contoso.com", "status": "tombstoned"}),
        json!({"workerId": "W102", "samAccountName": "jsmith2", "upn": "john.smith2@contoso.com"}),
        json!({"workerId": "W103", "samAccountName": "jsmith", "upn": "other@contoso.com"}),
        json!({"workerId": "W104", "samAccountName": "has space", "upn": "hs@contoso.com"}),
    ];
    let file: String = accounts
        .iter()
        .map(|a| format!("{a}\n"))
        .collect::<String>()
        + "not json\n";
    let out = env.filter("import", file.as_bytes());
    assert_eq!(out.status.code(), Some(1), "some lines failed");
    let results = lines(&out);
    assert_eq!(results.len(), 6, "one line out per line in");
    assert_eq!(results[0]["import"], "imported");
    assert_eq!(
        results[0]["mail"], "john.smith@contoso.com",
        "the UPN stands in for mail"
    );
    assert_eq!(results[1]["status"], "tombstoned");
    assert_eq!(results[3]["workerId"], "W103");
    assert_eq!(results[3]["error"]["name"], "Dayone.TargetRejected");
    assert!(
        results[3]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sam jsmith is already held by worker W100"),
        "{}",
        results[3]
    );
    assert_eq!(results[4]["error"]["name"], "Dayone.InvalidHire");
    assert!(
        results[4]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("samAccountName")
    );
    assert_eq!(results[5]["error"]["name"], "Dayone.InvalidHire");

    // Importing the same export again changes nothing.
    let again = lines(&env.filter("import", file.as_bytes()));
    assert_eq!(again[0]["import"], "unchanged");
    assert_eq!(again[2]["import"], "unchanged");

    // A new John Smith gets neither the live names nor the former employee's,
    // and the numeric suffix starts past the imported jsmith2.
    let hired = lines(&env.allocate(format!("{}\n", hire("e1", "W1", "John", "Smith")).as_bytes()));
    assert_eq!(hired[0]["samAccountName"], "jsmith3", "{}", hired[0]);
    assert_eq!(hired[0]["upn"], "john.smith3@contoso.com");
}

#[test]
fn a_leaver_is_tombstoned_their_names_stay_theirs_and_a_rehire_gets_them_back() {
    let env = Env::new();
    let first = lines(&env.allocate(format!("{}\n", hire("e1", "W1", "John", "Smith")).as_bytes()));
    assert_eq!(first[0]["samAccountName"], "jsmith");

    let out = env
        .dayone()
        .args([
            "username",
            "tombstone",
            "--ledger",
            &env.ledger(),
            "W1",
            "W404",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "W404 never held names");
    let results = lines(&out);
    assert_eq!(results[0]["workerId"], "W1");
    assert_eq!(results[0]["status"], "tombstoned");
    assert_eq!(results[0]["samAccountName"], "jsmith");
    assert_eq!(results[1]["workerId"], "W404");
    assert_eq!(results[1]["error"]["name"], "Dayone.InvalidHire");
    assert!(
        results[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("holds no names"),
        "{}",
        results[1]
    );

    // Another John Smith never gets the leaver's name; the leaver, rehired, does.
    let next = lines(
        &env.allocate(
            format!(
                "{}\n{}\n",
                hire("e2", "W2", "John", "Smith"),
                hire("e3", "W1", "John", "Smith")
            )
            .as_bytes(),
        ),
    );
    assert_eq!(next[0]["samAccountName"], "johns");
    assert_eq!(next[1]["samAccountName"], "jsmith");

    // Tombstoning twice is harmless.
    let again = env
        .dayone()
        .args(["username", "tombstone", "--ledger", &env.ledger(), "W2"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    let again2 = env
        .dayone()
        .args(["username", "tombstone", "--ledger", &env.ledger(), "W2"])
        .output()
        .unwrap();
    assert_eq!(again2.status.code(), Some(0));
    assert_eq!(lines(&again2)[0]["status"], "tombstoned");
}
