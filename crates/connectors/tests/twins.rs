//! The clients against the local twins (`dayone-sandbox`): the same code the step Lambdas run
//! locally. Each journey runs twice to show that a re-run leaves one of everything.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use dayone_connectors::{
    CatalogOrder, ConnectorError, GraphClient, GraphSettings, JiraClient, JiraSettings, MailBody,
    MailMessage, NewJiraRequest, NewUser, RetryPolicy, ServiceNowAuth, ServiceNowClient,
    ServiceNowSettings, SlackClient, SlackSettings, TapRequest, WorkdayClient, WorkdaySettings,
    WorkerRef,
};
use dayone_core::step_error::StepErrorName;
use dayone_sandbox::{Sandbox, SandboxConfig, TapPolicyState};
use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::{SecretStore, SecretString, StaticSecrets};
use serde_json::{Map, json};

async fn sandbox() -> (Sandbox, Arc<dyn SecretStore>) {
    let cfg = SandboxConfig::default();
    let secrets: Arc<dyn SecretStore> = Arc::new(
        StaticSecrets::new()
            .with("graph-client-secret", cfg.graph.client_secret.clone())
            .with("workday-isu-password", cfg.workday.password.clone())
            .with("snow-password", cfg.servicenow.password.clone())
            .with("jira-api-token", cfg.jira.api_token.clone())
            .with("slack-bot-token", cfg.slack.bot_token.clone())
            .with("wrong-password", "FAKE-not-the-password"),
    );
    let sb = Sandbox::start(cfg)
        .await
        .expect("the twins start on loopback");
    (sb, secrets)
}

fn http() -> EgressClient {
    EgressClient::new(vec!["127.0.0.1".into()])
}

fn graph(sb: &Sandbox, secrets: &Arc<dyn SecretStore>) -> GraphClient {
    let cfg = SandboxConfig::default();
    GraphClient::new(
        http(),
        secrets.clone(),
        GraphSettings {
            login_base: sb.urls().login_base.clone(),
            graph_base: format!("{}/v1.0", sb.urls().graph_base),
            tenant: cfg.graph.tenant_domain.clone(),
            client_id: cfg.graph.client_id.clone(),
            client_secret_name: "graph-client-secret".into(),
        },
    )
    .with_retry_policy(RetryPolicy::fast())
}

/// No value the twins consider secret appears in `text`.
fn assert_no_secret(sb: &Sandbox, text: &str) {
    for s in sb.known_secrets() {
        assert!(!text.contains(&s), "a secret or TAP leaked: {}", text.len());
    }
}

fn ada() -> NewUser {
    NewUser {
        account_enabled: true,
        display_name: "Ada Lovelace".into(),
        mail_nickname: "ada.lovelace".into(),
        user_principal_name: "ada.lovelace@contoso.com".into(),
        password: SecretString::new("FAKE-initial-Passw0rd!"),
        force_change_password_next_sign_in: true,
        employee_id: Some("21001".into()),
        employee_hire_date: Some(Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap()),
        given_name: Some("Ada".into()),
        surname: Some("Lovelace".into()),
        department: Some("Engineering".into()),
        job_title: Some("Engineer".into()),
        usage_location: Some("GB".into()),
    }
}

#[tokio::test]
async fn graph_journey_twice_leaves_one_user_one_membership_and_passes_that_never_print() {
    let (sb, secrets) = sandbox().await;
    let graph = graph(&sb, &secrets);
    let users_before = sb.users().len();

    for run in 0..2 {
        let created = graph.create_user(&ada()).await.unwrap();
        assert_eq!(created.created, run == 0, "run {run}");
        let manager = graph
            .get_user("grace.hopper@contoso.com")
            .await
            .unwrap()
            .expect("the seeded manager");
        graph
            .set_manager(&created.user.id, &manager.id)
            .await
            .unwrap();
        let group = graph
            .find_group_by_display_name("Engineering")
            .await
            .unwrap()
            .expect("the seeded group");
        graph
            .add_group_member(&group.id, &created.user.id)
            .await
            .unwrap();

        let policy = graph.tap_policy().await.unwrap();
        let request = TapRequest {
            start: None,
            lifetime_minutes: Some(60),
            is_usable_once: Some(true),
        };
        policy.check(&request).unwrap();
        let tap = graph.create_tap(&created.user.id, &request).await.unwrap();
        assert!(!tap.pass.expose().is_empty());
        assert_no_secret(&sb, &format!("{tap:?} {created:?}"));
        graph
            .send_mail(
                "it-onboarding@contoso.com",
                &MailMessage {
                    subject: "Day 1 access for Ada Lovelace".into(),
                    body: MailBody::Text(format!("Temporary Access Pass: {}", tap.pass.expose())),
                    to: vec!["grace.hopper@contoso.com".into()],
                    save_to_sent_items: false,
                },
            )
            .await
            .unwrap();
    }

    assert_eq!(
        sb.users().len(),
        users_before + 1,
        "one user after two runs"
    );
    let ada = sb
        .users()
        .into_iter()
        .find(|u| u.user_principal_name == "ada.lovelace@contoso.com")
        .unwrap();
    assert!(ada.manager_id.is_some());
    assert_eq!(
        sb.memberships()
            .iter()
            .filter(|m| m.user_id == ada.id && m.group == "Engineering")
            .count(),
        1
    );
    assert_eq!(sb.mails().len(), 2);
    let stats = graph.token_cache_stats();
    assert_eq!(stats.misses, 1, "one token for the whole journey");
}

#[tokio::test]
async fn twin_faults_end_in_the_right_step_error_names() {
    let (sb, secrets) = sandbox().await;
    let graph = graph(&sb, &secrets);

    // A single 429 is waited out.
    sb.faults().graph.throttle_next(1, 1);
    assert!(
        graph
            .get_user("grace.hopper@contoso.com")
            .await
            .unwrap()
            .is_some()
    );
    // A persistent one is surfaced as Throttled.
    sb.faults().graph.throttle_next(10, 9);
    let err = graph
        .get_user("grace.hopper@contoso.com")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Throttled, "{err}");
    sb.faults().clear_all();
    // 5xx
    sb.faults().graph.fail_next(10, 503);
    let err = graph
        .get_user("grace.hopper@contoso.com")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Retryable, "{err}");
    sb.faults().clear_all();

    // TAP policy disabled: the check and the creation both refuse.
    sb.set_tap_policy_state(TapPolicyState::Disabled);
    let policy = graph.tap_policy().await.unwrap();
    let err = policy.check(&TapRequest::default()).unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
    let manager = graph
        .get_user("grace.hopper@contoso.com")
        .await
        .unwrap()
        .unwrap();
    let err = graph
        .create_tap(&manager.id, &TapRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::TapNotAllowed { .. }), "{err}");

    // Duplicate UPN held by another worker: a collision.
    let mut imposter = ada();
    imposter.user_principal_name = "grace.hopper@contoso.com".into();
    imposter.employee_id = Some("99999".into());
    let err = graph.create_user(&imposter).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Collision { .. }), "{err}");

    // Bad credentials.
    let cfg = SandboxConfig::default();
    let wrong = GraphClient::new(
        http(),
        secrets.clone(),
        GraphSettings {
            login_base: sb.urls().login_base.clone(),
            graph_base: format!("{}/v1.0", sb.urls().graph_base),
            tenant: cfg.graph.tenant_domain.clone(),
            client_id: cfg.graph.client_id.clone(),
            client_secret_name: "wrong-password".into(),
        },
    );
    let err = wrong
        .get_user("grace.hopper@contoso.com")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Unauthorized, "{err}");
    assert_no_secret(&sb, &format!("{err} {err:?}"));
}

fn workday(sb: &Sandbox, secrets: &Arc<dyn SecretStore>, password: &str) -> WorkdayClient {
    let cfg = SandboxConfig::default();
    WorkdayClient::new(
        http(),
        secrets.clone(),
        WorkdaySettings {
            base_url: sb.urls().workday_base.clone(),
            tenant: cfg.workday.tenant.clone(),
            username: cfg.workday.username.clone(),
            password_secret_name: password.into(),
            ..WorkdaySettings::default()
        },
    )
    .with_retry_policy(RetryPolicy::fast())
}

#[tokio::test]
async fn workday_write_back_against_the_twin() {
    let (sb, secrets) = sandbox().await;
    let wd = workday(&sb, &secrets, "workday-isu-password");
    let ada = WorkerRef::employee("21001");

    wd.change_work_email(
        &ada,
        "ada.lovelace@contoso.com",
        NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
    )
    .await
    .unwrap();
    wd.update_username(&ada, "ada.lovelace@contoso.com")
        .await
        .unwrap();
    let writes = sb.workday_writebacks();
    assert_eq!(writes.len(), 2);
    assert_eq!(
        writes[0].work_email.as_deref(),
        Some("ada.lovelace@contoso.com")
    );
    assert_eq!(
        writes[1].username.as_deref(),
        Some("ada.lovelace@contoso.com")
    );

    sb.workday_pending_next(1);
    let err = wd
        .update_username(&ada, "ada@contoso.com")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Retryable, "{err}");

    let err = wd
        .update_username(&WorkerRef::employee("404404"), "x@contoso.com")
        .await
        .unwrap_err();
    assert_eq!(
        err.step_error_name(),
        StepErrorName::TargetRejected,
        "{err}"
    );

    let err = workday(&sb, &secrets, "wrong-password")
        .update_username(&ada, "ada@contoso.com")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Unauthorized, "{err}");
    assert_no_secret(&sb, &format!("{err} {err:?}"));
}

#[tokio::test]
async fn tickets_and_messages_against_the_twins_are_raised_once() {
    let (sb, secrets) = sandbox().await;
    let cfg = SandboxConfig::default();
    let snow = ServiceNowClient::new(
        http(),
        secrets.clone(),
        ServiceNowSettings {
            base_url: sb.urls().servicenow_base.clone(),
            auth: ServiceNowAuth::Basic {
                username: cfg.servicenow.username.clone(),
                password_secret_name: "snow-password".into(),
            },
            correlation_display: "dayone".into(),
        },
    )
    .with_retry_policy(RetryPolicy::fast());
    let jira = JiraClient::new(
        http(),
        secrets.clone(),
        JiraSettings {
            base_url: sb.urls().jira_base.clone(),
            email: cfg.jira.email.clone(),
            api_token_secret_name: "jira-api-token".into(),
        },
    )
    .with_retry_policy(RetryPolicy::fast());
    let slack = SlackClient::new(
        http(),
        secrets.clone(),
        SlackSettings {
            base_url: format!("{}/api", sb.urls().slack_base),
            token_secret_name: "slack-bot-token".into(),
        },
    )
    .with_retry_policy(RetryPolicy::fast());
    let order = CatalogOrder {
        quantity: 1,
        variables: json!({"hardware_profile": "engineering"})
            .as_object()
            .unwrap()
            .clone(),
        requested_for: None,
    };
    let request = NewJiraRequest {
        service_desk_id: "10".into(),
        request_type_id: "25".into(),
        summary: "Laptop for Ada Lovelace".into(),
        description: Some("Starts 2026-04-01".into()),
        extra_fields: Map::new(),
        raise_on_behalf_of: Some("grace.hopper@contoso.com".into()),
        request_participants: vec![],
        idempotency_key: "evt-1".into(),
    };

    for run in 0..2 {
        let placed = snow
            .order_catalog_item(
                &cfg.servicenow.catalog_items[0].sys_id,
                "dayone:evt-1:hardware",
                &order,
            )
            .await
            .unwrap();
        assert_eq!(placed.item.created, run == 0, "run {run}");
        let incident = snow
            .create_record(
                "incident",
                "dayone:evt-1:incident",
                &json!({"short_description": "x"})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .await
            .unwrap();
        assert_eq!(incident.created, run == 0);
        let ticket = jira.create_request(&request).await.unwrap();
        assert_eq!(ticket.created, run == 0, "run {run}");
    }
    assert_eq!(
        sb.servicenow_records()
            .iter()
            .filter(|r| r.table == "sc_request")
            .count(),
        1
    );
    assert_eq!(
        sb.servicenow_records()
            .iter()
            .filter(|r| r.table == "incident")
            .count(),
        1
    );
    assert_eq!(sb.jira_requests().len(), 1);

    // Two-step checkout instances answer with a cart first.
    sb.set_two_step_checkout(true);
    let placed = snow
        .order_catalog_item(
            &cfg.servicenow.catalog_items[1].sys_id,
            "dayone:evt-2:hardware",
            &order,
        )
        .await
        .unwrap();
    assert!(placed.item.created && placed.request_number.is_some());

    let posted = slack
        .send_dm_by_email("grace.hopper@contoso.com", "Ada starts on 2026-04-01", None)
        .await
        .unwrap();
    assert_eq!(sb.slack_messages().len(), 1);
    assert_eq!(sb.slack_messages()[0].channel, posted.channel);
    let err = slack
        .send_dm_by_email("nobody@contoso.com", "hello", None)
        .await
        .unwrap_err();
    assert_eq!(
        err.step_error_name(),
        StepErrorName::TargetRejected,
        "{err}"
    );
}
