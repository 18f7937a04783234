//! Per-call overhead of each connector against a local HTTP server, and the Graph token cache
//! hit rate.
//!
//! `cargo bench -p dayone-connectors --bench clients` (iterations: `DAYONE_BENCH_ITERS`, default
//! 500). Two suites run the same operations:
//! 1. against a wiremock server, compared with a bare `reqwest` GET to the same server: the
//!    difference is what a client adds (allowlist check, secret lookup, token cache, request
//!    building, response parsing, error mapping) to one loopback round trip;
//! 2. against the local twins (`dayone-sandbox`), i.e. what `dayone run` pays per call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use dayone_connectors::{
    GraphClient, GraphSettings, JiraClient, JiraSettings, NewJiraRequest, RetryPolicy,
    ServiceNowAuth, ServiceNowClient, ServiceNowSettings, SlackClient, SlackSettings,
    WorkdayClient, WorkdaySettings, WorkerRef,
};
use dayone_sandbox::{Sandbox, SandboxConfig};
use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::{SecretStore, StaticSecrets};
use serde_json::{Map, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Row {
    name: &'static str,
    http_calls: u32,
    samples: Vec<Duration>,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn measure<F, Fut>(name: &'static str, http_calls: u32, iters: usize, mut f: F) -> Row
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..iters / 10 + 1 {
        f().await; // warm-up: connection pool, token cache
    }
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed());
    }
    samples.sort();
    Row {
        name,
        http_calls,
        samples,
    }
}

async fn mount(server: &MockServer) {
    let ok = |body: serde_json::Value| ResponseTemplate::new(200).set_body_json(body);
    let mocks = [
        Mock::given(method("GET"))
            .and(path("/baseline"))
            .respond_with(ok(json!({"ok": true}))),
        Mock::given(method("POST"))
            .and(path_regex("^/bench-tenant/oauth2/v2.0/token$"))
            .respond_with(ok(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "FAKE-bench-token"}))),
        Mock::given(method("GET"))
            .and(path("/v1.0/users/u-1"))
            .respond_with(ok(json!({"id": "u-1", "userPrincipalName": "ada@contoso.example"}))),
        Mock::given(method("POST"))
            .and(path("/v1.0/groups/g-1/members/$ref"))
            .respond_with(ResponseTemplate::new(204)),
        Mock::given(method("GET"))
            .and(path("/v1.0/users"))
            .respond_with(ok(json!({"value": [{"id": "u-1", "employeeId": "21001"}]}))),
        Mock::given(method("POST"))
            .and(path("/ccx/service/bench/Human_Resources/v44.0"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(
                r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><wd:Change_Work_Contact_Information_Response xmlns:wd="urn:com.workday/bsvc"><wd:Event_Reference><wd:ID wd:type="WID">e1</wd:ID></wd:Event_Reference></wd:Change_Work_Contact_Information_Response></env:Body></env:Envelope>"#,
                "text/xml",
            )),
        Mock::given(method("GET"))
            .and(path("/api/now/table/sc_task"))
            .respond_with(ok(json!({"result": [{"sys_id": "t-1", "number": "SCTASK0010001"}]}))),
        Mock::given(method("GET"))
            .and(path("/rest/api/3/search/jql"))
            .respond_with(ok(json!({"issues": [{"id": "1", "key": "HELPDESK-1"}]}))),
        Mock::given(method("POST"))
            .and(path("/api/chat.postMessage"))
            .respond_with(ok(json!({"ok": true, "channel": "C1", "ts": "1.2"}))),
    ];
    for m in mocks {
        m.mount(server).await;
    }
}

fn main() {
    let iters: usize = std::env::var("DAYONE_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(run(iters));
}

/// Where the clients point and which records the operations use.
struct Fixture {
    login_base: String,
    graph_base: String,
    tenant: String,
    client_id: String,
    workday_base: String,
    workday_tenant: String,
    workday_user: String,
    snow_base: String,
    snow_user: String,
    jira_base: String,
    jira_email: String,
    slack_base: String,
    user: String,
    group: String,
    employee_id: String,
    channel: String,
}

struct Outcome {
    rows: Vec<Row>,
    hits: u64,
    misses: u64,
}

async fn suite(fx: &Fixture, secrets: Arc<dyn SecretStore>, iters: usize) -> Outcome {
    let http = EgressClient::new(vec!["127.0.0.1".into()]);
    let policy = RetryPolicy::fast();
    let graph = GraphClient::new(
        http.clone(),
        secrets.clone(),
        GraphSettings {
            login_base: fx.login_base.clone(),
            graph_base: fx.graph_base.clone(),
            tenant: fx.tenant.clone(),
            client_id: fx.client_id.clone(),
            client_secret_name: "graph-client-secret".into(),
        },
    )
    .with_retry_policy(policy.clone());
    let workday = WorkdayClient::new(
        http.clone(),
        secrets.clone(),
        WorkdaySettings {
            base_url: fx.workday_base.clone(),
            tenant: fx.workday_tenant.clone(),
            username: fx.workday_user.clone(),
            ..WorkdaySettings::default()
        },
    )
    .with_retry_policy(policy.clone());
    let snow = ServiceNowClient::new(
        http.clone(),
        secrets.clone(),
        ServiceNowSettings {
            base_url: fx.snow_base.clone(),
            auth: ServiceNowAuth::Basic {
                username: fx.snow_user.clone(),
                password_secret_name: "snow-password".into(),
            },
            correlation_display: "dayone".into(),
        },
    )
    .with_retry_policy(policy.clone());
    let jira = JiraClient::new(
        http.clone(),
        secrets.clone(),
        JiraSettings {
            base_url: fx.jira_base.clone(),
            email: fx.jira_email.clone(),
            api_token_secret_name: "jira-api-token".into(),
        },
    )
    .with_retry_policy(policy.clone());
    let slack = SlackClient::new(
        http,
        secrets,
        SlackSettings {
            base_url: fx.slack_base.clone(),
            token_secret_name: "slack-bot-token".into(),
        },
    )
    .with_retry_policy(policy);
    let jira_request = NewJiraRequest {
        service_desk_id: "10".into(),
        request_type_id: "25".into(),
        summary: "Laptop".into(),
        description: None,
        extra_fields: Map::new(),
        raise_on_behalf_of: None,
        request_participants: vec![],
        idempotency_key: "evt-bench".into(),
    };
    let fields = json!({"short_description": "Laptop"})
        .as_object()
        .unwrap()
        .clone();
    let date = NaiveDate::from_ymd_opt(2026, 4, 1).unwrap();
    let worker = WorkerRef::employee("21001");

    let mut rows = Vec::new();
    rows.push(
        measure("graph.get_user", 1, iters, || async {
            graph.get_user(&fx.user).await.unwrap();
        })
        .await,
    );
    rows.push(
        measure("graph.add_group_member", 1, iters, || async {
            graph.add_group_member(&fx.group, &fx.user).await.unwrap();
        })
        .await,
    );
    rows.push(
        measure("graph.find_user_by_employee_id", 1, iters, || async {
            graph
                .find_user_by_employee_id(&fx.employee_id)
                .await
                .unwrap();
        })
        .await,
    );
    rows.push(
        measure("workday.change_work_email (SOAP)", 1, iters, || async {
            workday
                .change_work_email(&worker, "ada@contoso.com", date)
                .await
                .unwrap();
        })
        .await,
    );
    rows.push(
        measure("servicenow.create_record (exists)", 1, iters, || async {
            snow.create_record("sc_task", "dayone:evt-bench:hw", &fields)
                .await
                .unwrap();
        })
        .await,
    );
    rows.push(
        measure("jira.create_request (exists)", 1, iters, || async {
            jira.create_request(&jira_request).await.unwrap();
        })
        .await,
    );
    rows.push(
        measure("slack.post_message", 1, iters, || async {
            slack
                .post_message(&fx.channel, "hello", None)
                .await
                .unwrap();
        })
        .await,
    );
    let stats = graph.token_cache_stats();
    Outcome {
        rows,
        hits: stats.hits,
        misses: stats.misses,
    }
}

fn print(title: &str, outcome: &Outcome, baseline: Option<Duration>) {
    println!("\n{title}");
    println!(
        "{:<38} {:>5} {:>10} {:>10} {:>10} {:>16}",
        "operation", "http", "p50 µs", "p99 µs", "mean µs", "p50 - baseline"
    );
    for r in &outcome.rows {
        let mean = r.samples.iter().sum::<Duration>() / r.samples.len() as u32;
        let p50 = pct(&r.samples, 0.5);
        let overhead = match baseline {
            Some(b) => format!(
                "{:>13.1} µs",
                p50.as_secs_f64() * 1e6 / f64::from(r.http_calls) - b.as_secs_f64() * 1e6
            ),
            None => format!("{:>16}", "-"),
        };
        println!(
            "{:<38} {:>5} {:>10.1} {:>10.1} {:>10.1} {overhead}",
            r.name,
            r.http_calls,
            p50.as_secs_f64() * 1e6,
            pct(&r.samples, 0.99).as_secs_f64() * 1e6,
            mean.as_secs_f64() * 1e6,
        );
    }
    let total = outcome.hits + outcome.misses;
    println!(
        "graph token cache: {} hits, {} misses, hit rate {:.2}%",
        outcome.hits,
        outcome.misses,
        if total == 0 {
            0.0
        } else {
            outcome.hits as f64 * 100.0 / total as f64
        }
    );
}

async fn run(iters: usize) {
    println!("dayone-connectors per-call cost, {iters} iterations per operation (after warm-up)");

    // 1. A bare mock server: isolates what the client itself adds to one loopback round trip.
    let server = MockServer::start().await;
    mount(&server).await;
    let base = server.uri();
    let raw = reqwest::Client::new();
    let baseline_url = format!("{base}/baseline");
    let baseline = measure("baseline: bare reqwest GET", 1, iters, || async {
        raw.get(&baseline_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    })
    .await;
    let baseline_p50 = pct(&baseline.samples, 0.5);
    println!(
        "baseline: bare reqwest GET to the mock server, p50 {:.1} µs",
        baseline_p50.as_secs_f64() * 1e6
    );
    let mock_secrets: Arc<dyn SecretStore> = Arc::new(
        StaticSecrets::new()
            .with("graph-client-secret", "FAKE-bench-secret")
            .with("workday-isu-password", "FAKE-bench-password")
            .with("snow-password", "FAKE-bench-password")
            .with("jira-api-token", "FAKE-bench-token")
            .with("slack-bot-token", "xoxb-FAKE-bench"),
    );
    let mock = Fixture {
        login_base: base.clone(),
        graph_base: format!("{base}/v1.0"),
        tenant: "bench-tenant".into(),
        client_id: "bench-client".into(),
        workday_base: base.clone(),
        workday_tenant: "bench".into(),
        workday_user: "isu@bench".into(),
        snow_base: base.clone(),
        snow_user: "bench".into(),
        jira_base: base.clone(),
        jira_email: "bench@contoso.example".into(),
        slack_base: format!("{base}/api"),
        user: "u-1".into(),
        group: "g-1".into(),
        employee_id: "21001".into(),
        channel: "C1".into(),
    };
    let outcome = suite(&mock, mock_secrets, iters).await;
    print(
        "against a wiremock server (client overhead = p50 - baseline)",
        &outcome,
        Some(baseline_p50),
    );

    // 2. The local twins (dayone-sandbox): what `dayone run` sees.
    let cfg = SandboxConfig::default();
    let twin_secrets: Arc<dyn SecretStore> = Arc::new(
        StaticSecrets::new()
            .with("graph-client-secret", cfg.graph.client_secret.clone())
            .with("workday-isu-password", cfg.workday.password.clone())
            .with("snow-password", cfg.servicenow.password.clone())
            .with("jira-api-token", cfg.jira.api_token.clone())
            .with("slack-bot-token", cfg.slack.bot_token.clone()),
    );
    let sandbox = Sandbox::start(cfg.clone()).await.expect("the twins start");
    let urls = sandbox.urls().clone();
    let probe = GraphClient::new(
        EgressClient::new(vec!["127.0.0.1".into()]),
        twin_secrets.clone(),
        GraphSettings {
            login_base: urls.login_base.clone(),
            graph_base: format!("{}/v1.0", urls.graph_base),
            tenant: cfg.graph.tenant_domain.clone(),
            client_id: cfg.graph.client_id.clone(),
            client_secret_name: "graph-client-secret".into(),
        },
    );
    let grace = probe
        .get_user("grace.hopper@contoso.com")
        .await
        .unwrap()
        .expect("seeded manager");
    let group = probe
        .find_group_by_display_name("Engineering")
        .await
        .unwrap()
        .expect("seeded group");
    let twins = Fixture {
        login_base: urls.login_base.clone(),
        graph_base: format!("{}/v1.0", urls.graph_base),
        tenant: cfg.graph.tenant_domain.clone(),
        client_id: cfg.graph.client_id.clone(),
        workday_base: urls.workday_base.clone(),
        workday_tenant: cfg.workday.tenant.clone(),
        workday_user: cfg.workday.username.clone(),
        snow_base: urls.servicenow_base.clone(),
        snow_user: cfg.servicenow.username.clone(),
        jira_base: urls.jira_base.clone(),
        jira_email: cfg.jira.email.clone(),
        slack_base: format!("{}/api", urls.slack_base),
        user: grace.id,
        group: group.id,
        employee_id: "20007".into(),
        channel: "C0ITJOINER".into(),
    };
    let outcome = suite(&twins, twin_secrets, iters).await;
    print("against the local twins (dayone-sandbox)", &outcome, None);
    sandbox.shutdown().await;
}
