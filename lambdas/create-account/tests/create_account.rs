//! create-account against the Graph twin over loopback HTTP.

use create_account::{CreateAccountInput, CreateAccountOutput, handle};
use dayone_sandbox::{SandboxConfig, SeedUser, Twin};
use dayone_sdk::error::{StepError, StepErrorName};
use dayone_sdk::secrets::StaticSecrets;
use dayone_testkit::{EXECUTION_ID, TestEnv, hires, names, secrets_for};

fn ada() -> CreateAccountInput {
    CreateAccountInput {
        execution_id: EXECUTION_ID.into(),
        hire: hires::ada(),
        names: names::ada(),
    }
}

fn group_names(env: &TestEnv, user_id: &str) -> Vec<String> {
    let mut g: Vec<String> = env
        .sandbox
        .memberships()
        .into_iter()
        .filter(|m| m.user_id == user_id)
        .map(|m| m.group)
        .collect();
    g.sort();
    g
}

fn users_with_employee_id(env: &TestEnv, id: &str) -> usize {
    env.sandbox
        .users()
        .iter()
        .filter(|u| u.employee_id.as_deref() == Some(id))
        .count()
}

#[tokio::test]
async fn running_twice_leaves_one_user_and_one_membership_per_group() {
    let env = TestEnv::start().await.unwrap();

    // WHEN the step runs, then runs again with the same input (a Step Functions retry)
    let first = handle(&env.ctx, ada()).await.unwrap();
    let second = handle(&env.ctx, ada()).await.unwrap();

    // THEN the first created the account and the second found it
    assert!(first.created);
    assert!(!second.created);
    assert_eq!(first.user_id, second.user_id);
    assert_eq!(first.upn, "alovelace@contoso.com");
    assert_eq!(first.groups, second.groups);
    assert_eq!(users_with_employee_id(&env, "21001"), 1);
    assert_eq!(
        env.sandbox.call_count(Twin::Graph, "POST", "/v1.0/users"),
        1
    );

    // AND the employee × Engineering × London rules each granted their groups, once
    assert_eq!(
        group_names(&env, &first.user_id),
        [
            "All Employees",
            "All Staff",
            "Engineering",
            "GitHub Users",
            "London Office",
            "VPN Users"
        ]
    );
    assert_eq!(first.groups.len(), 6);

    // AND the account carries the hire and reports to Grace Hopper (worker 20007)
    let users = env.sandbox.users();
    let user = users.iter().find(|u| u.id == first.user_id).unwrap();
    let grace = users
        .iter()
        .find(|u| u.employee_id.as_deref() == Some("20007"))
        .unwrap();
    assert_eq!(user.manager_id.as_deref(), Some(grace.id.as_str()));
    assert_eq!(user.display_name, "Ada Lovelace");
    assert_eq!(user.mail_nickname.as_deref(), Some("ada.lovelace"));
    let p = &user.properties;
    assert_eq!(p["givenName"], "Ada");
    assert_eq!(p["surname"], "Lovelace");
    assert_eq!(p["department"], "Engineering");
    assert_eq!(p["jobTitle"], "Software Engineer");
    assert_eq!(p["usageLocation"], "GB");
    assert!(
        p["employeeHireDate"]
            .as_str()
            .unwrap()
            .starts_with("2026-12-01T00:00:00"),
        "{}",
        p["employeeHireDate"]
    );
    assert!(
        p.get("passwordProfile").is_none(),
        "the twin never echoes a password"
    );

    // AND without [tap].wait_until_issue the TAP is issued at once
    assert_eq!(first.issue_tap_at, None);
    env.assert_no_leaks(&[&first, &second]);
}

#[tokio::test]
async fn the_output_has_exactly_the_state_machine_fields_and_no_password() {
    let env = TestEnv::start_with(SandboxConfig::default(), |c| c.tap.wait_until_issue = true)
        .await
        .unwrap();
    let out = handle(&env.ctx, ada()).await.unwrap();
    let json = serde_json::to_value(&out).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        ["apps", "created", "groups", "issueTapAt", "upn", "userId"]
    );
    // 08:00 in London on the hire date, which is UTC in December.
    assert_eq!(json["issueTapAt"], "2026-12-01T08:00:00Z");
    assert!(!json.to_string().to_lowercase().contains("password"));
    env.assert_no_leaks(&[&out]);
}

#[tokio::test]
async fn a_contractor_gets_contractor_groups_and_no_vpn() {
    let env = TestEnv::start().await.unwrap();
    let out = handle(
        &env.ctx,
        CreateAccountInput {
            execution_id: "exec-jurgen".into(),
            hire: hires::jurgen(),
            names: names::jurgen(),
        },
    )
    .await
    .unwrap();
    let groups = group_names(&env, &out.user_id);
    assert_eq!(
        groups,
        [
            "All Staff",
            "Berlin Office",
            "Contractors",
            "Engineering",
            "GitHub Users"
        ]
    );
    assert!(
        !groups
            .iter()
            .any(|g| g == "VPN Users" || g == "All Employees")
    );
    env.assert_no_leaks(&[&out]);
}

#[tokio::test]
async fn an_intern_gets_intern_groups_only() {
    let env = TestEnv::start().await.unwrap();
    let out = handle(
        &env.ctx,
        CreateAccountInput {
            execution_id: "exec-siobhan".into(),
            hire: hires::siobhan(),
            names: names::siobhan(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        group_names(&env, &out.user_id),
        ["All Staff", "Dublin Office", "Interns"]
    );
}

#[tokio::test]
async fn one_graph_429_is_absorbed_by_the_client() {
    let env = TestEnv::start().await.unwrap();
    env.sandbox.faults().graph.throttle_next(1, 0);
    let out = handle(&env.ctx, ada()).await.unwrap();
    assert!(out.created);
    assert!(
        env.sandbox
            .calls()
            .iter()
            .any(|c| c.twin == Twin::Graph && c.status == 429 && c.faulted),
        "the throttle fired"
    );
    assert_eq!(users_with_employee_id(&env, "21001"), 1);
}

#[tokio::test]
async fn persistent_graph_throttling_is_dayone_throttled_with_the_wait() {
    let env = TestEnv::start().await.unwrap();
    env.sandbox.faults().graph.throttle_next(50, 1);
    let err: StepError = handle(&env.ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Throttled, "{}", err.message);
    assert_eq!(err.retry_after, Some(std::time::Duration::from_secs(1)));
    assert_eq!(users_with_employee_id(&env, "21001"), 0);
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn a_graph_5xx_is_dayone_retryable() {
    let env = TestEnv::start().await.unwrap();
    env.sandbox.faults().graph.fail_next(50, 500);
    let err = handle(&env.ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Retryable, "{}", err.message);
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn a_wrong_client_secret_is_dayone_unauthorized() {
    let env = TestEnv::start().await.unwrap();
    let mut secrets: StaticSecrets = secrets_for(&env.sandbox_config);
    secrets.insert("graph_client_secret", "not-the-right-secret");
    let err = handle(&env.ctx_with_secrets(secrets), ada())
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::Unauthorized, "{}", err.message);
    assert!(!err.message.contains("not-the-right-secret"));
    assert_eq!(
        env.sandbox.call_count(Twin::Graph, "POST", "/v1.0/users"),
        0
    );
    env.assert_no_leaks(&[&err.message]);
}

#[tokio::test]
async fn graph_outside_the_allowlist_is_egress_denied_and_never_contacted() {
    let env = TestEnv::start().await.unwrap();
    let login = TestEnv::host_of(&env.sandbox.urls().login_base);
    let err = handle(&env.ctx_with_allowlist(vec![login]), ada())
        .await
        .unwrap_err();
    assert_eq!(err.name, StepErrorName::EgressDenied, "{}", err.message);
    assert!(
        env.sandbox.calls().iter().all(|c| c.twin != Twin::Graph),
        "Graph received no request"
    );
}

#[tokio::test]
async fn a_upn_held_by_someone_else_is_target_rejected() {
    let env = TestEnv::start().await.unwrap();
    env.sandbox.add_graph_user(&SeedUser::new(
        "alovelace@contoso.com",
        "Another Lovelace",
        Some("99999"),
    ));
    let err = handle(&env.ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::TargetRejected, "{}", err.message);
    assert!(
        err.message.contains("alovelace@contoso.com"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_birthright_group_missing_from_the_directory_is_misconfigured() {
    let env = TestEnv::start().await.unwrap();
    let ctx = env.ctx_with_config(|c| {
        c.birthright.rules[0].groups.push("Quantum Lab".into());
    });
    let err = handle(&ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(err.message.contains("'Quantum Lab'"), "{}", err.message);
}

#[tokio::test]
async fn a_manager_not_in_the_directory_does_not_block_the_account() {
    let env = TestEnv::start().await.unwrap();
    let mut hire = hires::ada();
    hire.manager_worker_id = Some("77777".parse().unwrap());
    hire.manager_email = Some("nobody@contoso.com".parse().unwrap());
    let out: CreateAccountOutput = handle(&env.ctx, CreateAccountInput { hire, ..ada() })
        .await
        .unwrap();
    let users = env.sandbox.users();
    let user = users.iter().find(|u| u.id == out.user_id).unwrap();
    assert_eq!(user.manager_id, None);
    assert!(env.logs.contains("manager not found"));
}

/// Ada's policy plus birthright apps: Slack for everyone, SAP (two roles) and GitHub
/// (one role) for engineering, Microsoft 365 (no roles: default access) for employees.
fn with_apps(env: &TestEnv, sap_role: Option<&str>) -> dayone_sdk::context::StepContext {
    env.sandbox.add_service_principal("Slack", &[]);
    env.sandbox
        .add_service_principal("SAP", &["FinanceUser".into(), "Auditor".into()]);
    env.sandbox
        .add_service_principal("GitHub Enterprise", &["Member".into()]);
    let sap_role = sap_role.map(str::to_string);
    env.ctx_with_config(move |c| {
        c.birthright.rules[0].apps = vec!["Slack".into()];
        c.birthright.rules[1].apps = vec!["Slack".into(), "SAP".into()];
        c.birthright.rules[4].apps = vec!["GitHub Enterprise".into()];
        if let Some(role) = sap_role {
            c.birthright.app_roles.insert("SAP".into(), role);
        }
    })
}

fn assignments(env: &TestEnv, user_id: &str) -> Vec<(String, String)> {
    let mut a: Vec<(String, String)> = env
        .sandbox
        .app_role_assignments()
        .into_iter()
        .filter(|a| a.principal_id == user_id)
        .map(|a| (a.resource_display_name, a.app_role_id))
        .collect();
    a.sort();
    a
}

#[tokio::test]
async fn birthright_apps_are_assigned_once_with_the_right_role() {
    let env = TestEnv::start().await.unwrap();
    let ctx = with_apps(&env, Some("FinanceUser"));

    let first = handle(&ctx, ada()).await.unwrap();
    let second = handle(&ctx, ada()).await.unwrap();

    // Slack is granted by two rules but assigned once; every app once across both runs.
    assert_eq!(first.apps.len(), 3, "{:?}", first.apps);
    assert_eq!(first.apps, second.apps);
    let granted = assignments(&env, &first.user_id);
    let role_of = |app: &str| {
        granted
            .iter()
            .find(|(name, _)| name == app)
            .map(|(_, role)| role.clone())
            .unwrap_or_else(|| panic!("{app} not assigned: {granted:?}"))
    };
    assert_eq!(granted.len(), 3, "{granted:?}");
    // No roles defined: default access. One user role: that role. Several: the configured one.
    assert_eq!(role_of("Slack"), "00000000-0000-0000-0000-000000000000");
    let sp = |name: &str| {
        let ctx = env.ctx.clone();
        let name = name.to_string();
        async move {
            create_account::graph_client(&ctx)
                .unwrap()
                .find_service_principal_by_display_name(&name)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let sap = sp("SAP").await;
    let finance = sap
        .app_roles
        .iter()
        .find(|r| r.value.as_deref() == Some("FinanceUser"))
        .unwrap();
    assert_eq!(role_of("SAP"), finance.id);
    let github = sp("GitHub Enterprise").await;
    assert_eq!(role_of("GitHub Enterprise"), github.app_roles[0].id);
    // The second run only looked: one POST per app in all, and each run read the user's
    // assignments once, not once per app.
    let calls = env.sandbox.calls();
    let count = |m: &str, suffix: &str| {
        calls
            .iter()
            .filter(|c| c.method == m && c.path.ends_with(suffix))
            .count()
    };
    assert_eq!(count("POST", "/appRoleAssignedTo"), 3);
    assert_eq!(count("GET", "/appRoleAssignments"), 2);
    env.assert_no_leaks(&[&first, &second]);
}

#[tokio::test]
async fn an_app_with_several_roles_and_none_chosen_is_misconfigured() {
    let env = TestEnv::start().await.unwrap();
    let ctx = with_apps(&env, None);
    let err = handle(&ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(
        err.message
            .contains("'SAP' defines several roles users can hold (FinanceUser, Auditor)"),
        "{}",
        err.message
    );
    assert!(
        err.message.contains("[birthright.app_roles]"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn an_unknown_app_or_role_is_misconfigured_and_named() {
    let env = TestEnv::start().await.unwrap();
    let ctx = with_apps(&env, Some("Janitor"));
    let err = handle(&ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(
        err.message.contains(
            "'SAP' has no role 'Janitor' that users can hold (it has: FinanceUser, Auditor)"
        ),
        "{}",
        err.message
    );

    let ctx = env.ctx_with_config(|c| c.birthright.rules[0].apps = vec!["Quantum CRM".into()]);
    let err = handle(&ctx, ada()).await.unwrap_err();
    assert_eq!(err.name, StepErrorName::Misconfigured, "{}", err.message);
    assert!(err.message.contains("'Quantum CRM'"), "{}", err.message);
    assert!(
        err.message.contains("enterprise application"),
        "{}",
        err.message
    );
}
