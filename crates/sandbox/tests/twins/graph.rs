//! Graph and Entra token twins.

use crate::common::{GRAPH_SCOPE, client, graph_token, json, sandbox};
use dayone_sandbox::{SandboxConfig, TapPolicyState, Twin};
use serde_json::{Value, json};

fn new_user(upn: &str, nick: &str, employee_id: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": "Siobhán O'Brien",
        "mailNickname": nick,
        "userPrincipalName": upn,
        "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "Local-Fixture-Pw-2026!"},
        "employeeId": employee_id,
        "employeeHireDate": "2026-12-01T00:00:00Z",
        "givenName": "Siobhán",
        "surname": "O'Brien",
        "department": "Marketing",
        "usageLocation": "IE"
    })
}

async fn create(base: &str, token: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{base}/v1.0/users"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("create call")
}

#[tokio::test]
async fn token_endpoint_issues_bearer_tokens_for_the_configured_app_only() {
    let sb = sandbox().await;
    let cfg = SandboxConfig::default().graph;
    let url = sb.urls().token_endpoint(&cfg.tenant_domain);
    // GIVEN the right credentials WHEN asking for a token THEN an OAuth token response.
    let ok = client()
        .post(&url)
        .form(&[
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", cfg.client_secret.as_str()),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body = json(ok).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(body["access_token"].as_str().unwrap().len() > 40);

    // A wrong secret is AADSTS7000215, 401 invalid_client, and the secret is not echoed.
    let bad = client()
        .post(&url)
        .header("client-request-id", "corr-123")
        .form(&[
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", "not-the-secret"),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let text = bad.text().await.unwrap();
    assert!(!text.contains("not-the-secret"));
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(err["error"], "invalid_client");
    assert_eq!(err["error_codes"], json!([7000215]));
    assert_eq!(err["correlation_id"], "corr-123");
    assert!(
        err["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215:")
    );
    assert!(err["trace_id"].is_string() && err["timestamp"].is_string());

    // An unknown app, a scope without /.default and an unknown tenant are all refused.
    let unknown_app = client()
        .post(&url)
        .form(&[
            ("client_id", "99999999-0000-0000-0000-000000000000"),
            ("client_secret", cfg.client_secret.as_str()),
            ("scope", GRAPH_SCOPE),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_app.status(), 400);
    assert_eq!(json(unknown_app).await["error"], "unauthorized_client");
    let no_default = client()
        .post(&url)
        .form(&[
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", cfg.client_secret.as_str()),
            ("scope", "https://graph.microsoft.com/User.Read.All"),
            ("grant_type", "client_credentials"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(no_default.status(), 400);
    assert_eq!(json(no_default).await["error_codes"], json!([1002012]));
    let wrong_tenant = client()
        .post(sb.urls().token_endpoint("fabrikam.com"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_tenant.status(), 400);
    assert_eq!(json(wrong_tenant).await["error_codes"], json!([90002]));
    assert_eq!(
        sb.call_count(Twin::Login, "POST", "/{tenant}/oauth2/v2.0/token"),
        5
    );
}

#[tokio::test]
async fn graph_refuses_missing_unknown_and_revoked_tokens_with_its_envelope() {
    let sb = sandbox().await;
    let base = &sb.urls().graph_base;
    let resp = client()
        .get(format!("{base}/v1.0/users"))
        .header("client-request-id", "abc-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let request_id = resp.headers()["request-id"].to_str().unwrap().to_owned();
    assert_eq!(resp.headers()["client-request-id"], "abc-1");
    assert!(resp.headers().contains_key("www-authenticate"));
    let body = json(resp).await;
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(body["error"]["innerError"]["request-id"], request_id);
    assert_eq!(body["error"]["innerError"]["client-request-id"], "abc-1");

    let unknown = client()
        .get(format!("{base}/v1.0/users"))
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);

    let token = graph_token(&sb).await;
    let ok = client()
        .get(format!("{base}/v1.0/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    sb.revoke_graph_tokens();
    let revoked = client()
        .get(format!("{base}/v1.0/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
}

#[tokio::test]
async fn creating_a_user_validates_and_refuses_a_duplicate_upn() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    let body = new_user("siobhan.obrien@contoso.com", "siobhan.obrien", "I-7001");
    let created = create(&base, &token, &body).await;
    assert_eq!(created.status(), 201);
    assert!(
        created.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json;odata.metadata=minimal")
    );
    let user = json(created).await;
    assert_eq!(
        user["@odata.context"],
        format!("{base}/v1.0/$metadata#users/$entity")
    );
    assert_eq!(user["userPrincipalName"], "siobhan.obrien@contoso.com");
    assert!(uuid_like(user["id"].as_str().unwrap()));
    assert!(user.get("passwordProfile").is_none());

    // The same UPN in other case is a collision.
    let dup = create(
        &base,
        &token,
        &new_user("Siobhan.OBrien@contoso.com", "other", "X1"),
    )
    .await;
    assert_eq!(dup.status(), 400);
    let err = json(dup).await;
    assert_eq!(err["error"]["code"], "Request_BadRequest");
    assert_eq!(
        err["error"]["message"],
        "Another object with the same value for property userPrincipalName already exists."
    );

    let mut missing = new_user("a.b@contoso.com", "a.b", "1");
    missing.as_object_mut().unwrap().remove("mailNickname");
    let resp = create(&base, &token, &missing).await;
    assert_eq!(resp.status(), 400);
    assert!(
        json(resp).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'mailNickname'")
    );

    let mut weak = new_user("c.d@contoso.com", "c.d", "2");
    weak["passwordProfile"]["password"] = json!("password");
    let resp = create(&base, &token, &weak).await;
    assert_eq!(resp.status(), 400);
    assert!(
        json(resp).await["error"]["message"]
            .as_str()
            .unwrap()
            .contains("password complexity")
    );

    let foreign = create(&base, &token, &new_user("e.f@fabrikam.com", "e.f", "3")).await;
    assert_eq!(foreign.status(), 400);

    let not_json = client()
        .post(format!("{base}/v1.0/users"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(json(not_json).await["error"]["code"], "BadRequest");

    // Exactly one new user; the password went nowhere.
    let created: Vec<_> = sb
        .users()
        .into_iter()
        .filter(|u| u.employee_id.as_deref() == Some("I-7001"))
        .collect();
    assert_eq!(created.len(), 1);
    assert!(!sb.snapshot().to_string().contains("Local-Fixture-Pw-2026!"));
    // ... except into the list leak checks search for.
    assert!(
        sb.known_secrets()
            .contains(&"Local-Fixture-Pw-2026!".to_string())
    );
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

async fn filter(base: &str, token: &str, f: &str) -> reqwest::Response {
    client()
        .get(format!("{base}/v1.0/users"))
        .bearer_auth(token)
        .query(&[
            ("$filter", f),
            ("$select", "id,userPrincipalName,mailNickname,employeeId"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn user_queries_support_eq_startswith_escaped_quotes_and_refuse_the_rest() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    for (upn, nick, id) in [
        ("o'brien@contoso.com", "o'brien", "I-7001"),
        ("o'brien1@contoso.com", "o'brien1", "I-7002"),
        ("obrien@contoso.com", "obrien", "I-7003"),
    ] {
        assert_eq!(
            create(&base, &token, &new_user(upn, nick, id))
                .await
                .status(),
            201
        );
    }
    let upns = |v: &Value| -> Vec<String> {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userPrincipalName"].as_str().unwrap().to_owned())
            .collect()
    };
    let by_prefix =
        json(filter(&base, &token, "startsWith(userPrincipalName,'o''brien')").await).await;
    assert_eq!(
        upns(&by_prefix),
        ["o'brien@contoso.com", "o'brien1@contoso.com"]
    );
    assert_eq!(
        by_prefix["@odata.context"],
        format!("{base}/v1.0/$metadata#users(id,userPrincipalName,mailNickname,employeeId)")
    );
    let by_emp = json(filter(&base, &token, "employeeId eq 'I-7003'").await).await;
    assert_eq!(upns(&by_emp), ["obrien@contoso.com"]);
    assert_eq!(by_emp["value"][0]["employeeId"], "I-7003");
    let by_nick = json(filter(&base, &token, "mailNickname eq 'O''BRIEN1'").await).await;
    assert_eq!(upns(&by_nick), ["o'brien1@contoso.com"]);
    let nick_prefix = json(filter(&base, &token, "startswith(mailNickname,'obr')").await).await;
    assert_eq!(upns(&nick_prefix), ["obrien@contoso.com"]);
    let by_upn = json(
        filter(
            &base,
            &token,
            "userPrincipalName eq 'grace.hopper@contoso.com'",
        )
        .await,
    )
    .await;
    assert_eq!(upns(&by_upn), ["grace.hopper@contoso.com"]);

    // A raw, hand-encoded URL is decoded once, like Graph does.
    let raw = client()
        .get(format!(
            "{base}/v1.0/users?$filter=startsWith(userPrincipalName,%27o%27%27brien1%27)"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(upns(&json(raw).await), ["o'brien1@contoso.com"]);

    let unsupported = filter(&base, &token, "endsWith(userPrincipalName,'@contoso.com')").await;
    assert_eq!(unsupported.status(), 400);
    assert_eq!(
        json(unsupported).await["error"]["code"],
        "Request_UnsupportedQuery"
    );
    let ne = filter(&base, &token, "employeeId ne 'I-7001'").await;
    assert_eq!(json(ne).await["error"]["code"], "Request_UnsupportedQuery");
    let broken = filter(&base, &token, "employeeId eq 'I-7001").await;
    assert_eq!(broken.status(), 400);
    assert_eq!(json(broken).await["error"]["code"], "BadRequest");
}

#[tokio::test]
async fn users_are_read_by_id_or_upn_with_the_default_property_set() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    let id = json(
        create(
            &base,
            &token,
            &new_user("ada.lovelace@contoso.com", "ada.lovelace", "21001"),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for key in [id.as_str(), "Ada.Lovelace@contoso.com"] {
        let resp = client()
            .get(format!("{base}/v1.0/users/{key}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let u = json(resp).await;
        assert_eq!(u["id"], id.as_str());
        // employeeId is not in Graph's default property set.
        assert!(u.get("employeeId").is_none());
    }
    let selected = json(
        client()
            .get(format!("{base}/v1.0/users/{id}?$select=employeeId"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(selected["employeeId"], "21001");
    let missing = client()
        .get(format!("{base}/v1.0/users/nobody@contoso.com"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        json(missing).await["error"]["code"],
        "Request_ResourceNotFound"
    );
    let unknown_path = client()
        .get(format!("{base}/v1.0/frobnicate"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_path.status(), 400);
}

#[tokio::test]
async fn manager_is_set_with_a_ref_and_read_back() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    let id = json(
        create(
            &base,
            &token,
            &new_user("ada.lovelace@contoso.com", "ada.lovelace", "21001"),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = || {
        client()
            .get(format!("{base}/v1.0/users/{id}/manager"))
            .bearer_auth(&token)
            .send()
    };
    let none = get().await.unwrap();
    assert_eq!(none.status(), 404);
    assert_eq!(
        json(none).await["error"]["code"],
        "Request_ResourceNotFound"
    );

    let grace = sb
        .users()
        .into_iter()
        .find(|u| u.employee_id.as_deref() == Some("20007"))
        .unwrap();
    let put = client()
        .put(format!("{base}/v1.0/users/{id}/manager/$ref"))
        .bearer_auth(&token)
        .json(&json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{}", grace.id)}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let mgr = json(get().await.unwrap()).await;
    assert_eq!(mgr["id"], grace.id.as_str());
    assert_eq!(mgr["@odata.type"], "#microsoft.graph.user");
    assert_eq!(mgr["userPrincipalName"], "grace.hopper@contoso.com");

    let ghost = client()
        .put(format!("{base}/v1.0/users/{id}/manager/$ref"))
        .bearer_auth(&token)
        .json(&json!({"@odata.id": "https://graph.microsoft.com/v1.0/users/00000000-dead-4000-8000-000000000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ghost.status(), 404);
    assert_eq!(
        sb.users()
            .iter()
            .find(|u| u.id == id)
            .unwrap()
            .manager_id
            .as_deref(),
        Some(grace.id.as_str())
    );
}

#[tokio::test]
async fn group_membership_is_added_once_and_duplicates_say_so() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    let user_id = json(
        create(
            &base,
            &token,
            &new_user("ada.lovelace@contoso.com", "ada.lovelace", "21001"),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let groups = json(
        client()
            .get(format!("{base}/v1.0/groups"))
            .bearer_auth(&token)
            .query(&[("$filter", "displayName eq 'Engineering'")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let found = groups["value"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    let group_id = found[0]["id"].as_str().unwrap().to_owned();
    let add = |member: String| {
        client()
            .post(format!("{base}/v1.0/groups/{group_id}/members/$ref"))
            .bearer_auth(&token)
            .json(&json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{member}")}))
            .send()
    };
    assert_eq!(add(user_id.clone()).await.unwrap().status(), 204);
    let again = add(user_id.clone()).await.unwrap();
    assert_eq!(again.status(), 400);
    let err = json(again).await;
    assert_eq!(err["error"]["code"], "Request_BadRequest");
    assert_eq!(
        err["error"]["message"],
        "One or more added object references already exist for the following modified properties: 'members'."
    );
    let ghost = add("00000000-dead-4000-8000-000000000000".into())
        .await
        .unwrap();
    assert_eq!(ghost.status(), 404);
    let no_group = client()
        .post(format!("{base}/v1.0/groups/not-a-group/members/$ref"))
        .bearer_auth(&token)
        .json(&json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{user_id}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_group.status(), 404);

    let members: Vec<_> = sb.memberships();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].group, "Engineering");
    assert_eq!(members[0].user_principal_name, "ada.lovelace@contoso.com");
    let listed = json(
        client()
            .get(format!("{base}/v1.0/groups/{group_id}/members"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["value"][0]["id"], user_id.as_str());
}

#[tokio::test]
async fn app_roles_are_granted_once_and_wrong_grants_are_refused_like_graph() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    sb.add_service_principal("SAP", &["Finance User".into()]);
    sb.add_service_principal("Slack", &[]);
    let user_id = json(
        create(
            &base,
            &token,
            &new_user("ada.lovelace@contoso.com", "ada.lovelace", "21001"),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let find = |name: &'static str| {
        let (base, token) = (base.clone(), token.clone());
        async move {
            let page = json(
                client()
                    .get(format!("{base}/v1.0/servicePrincipals"))
                    .bearer_auth(&token)
                    .query(&[
                        ("$filter", format!("displayName eq '{name}'").as_str()),
                        ("$select", "id,displayName,appRoles"),
                    ])
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(page["value"].as_array().unwrap().len(), 1, "{page}");
            page["value"][0].clone()
        }
    };
    let sap = find("SAP").await;
    let slack = find("Slack").await;
    assert_eq!(sap["appRoles"][0]["value"], "Finance User");
    assert_eq!(sap["appRoles"][0]["allowedMemberTypes"], json!(["User"]));
    assert_eq!(slack["appRoles"], json!([]));
    let sap_id = sap["id"].as_str().unwrap().to_owned();
    let role = sap["appRoles"][0]["id"].as_str().unwrap().to_owned();
    let grant = |sp: &str, principal: &str, role: &str| {
        client()
            .post(format!(
                "{base}/v1.0/servicePrincipals/{sp}/appRoleAssignedTo"
            ))
            .bearer_auth(&token)
            .json(&json!({"principalId": principal, "resourceId": sp, "appRoleId": role}))
            .send()
    };

    // GIVEN a role the app defines WHEN granted THEN 201 with the assignment
    let ok = grant(&sap_id, &user_id, &role).await.unwrap();
    assert_eq!(ok.status(), 201);
    let body = json(ok).await;
    assert_eq!(body["principalId"], user_id.as_str());
    assert_eq!(body["resourceDisplayName"], "SAP");
    assert_eq!(body["principalType"], "User");
    // Twice: Graph's duplicate error.
    let again = json(grant(&sap_id, &user_id, &role).await.unwrap()).await;
    assert_eq!(
        again["error"]["message"],
        "Permission being assigned already exists on the object"
    );
    // Default access to an app that defines roles, and a made-up role: not found on the app.
    let zero = "00000000-0000-0000-0000-000000000000";
    let wrong = grant(&sap_id, &user_id, zero).await.unwrap();
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        json(wrong).await["error"]["message"],
        "Permission being assigned was not found on application"
    );
    // Default access to an app without roles is fine.
    let slack_id = slack["id"].as_str().unwrap();
    assert_eq!(grant(slack_id, &user_id, zero).await.unwrap().status(), 201);
    // Unknown user or application: 404.
    let ghost = grant(&sap_id, "00000000-dead-4000-8000-000000000000", &role)
        .await
        .unwrap();
    assert_eq!(ghost.status(), 404);
    assert_eq!(
        grant("not-an-app", &user_id, &role).await.unwrap().status(),
        404
    );

    let listed = json(
        client()
            .get(format!("{base}/v1.0/users/{user_id}/appRoleAssignments"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(sb.app_role_assignments().len(), 2);
    assert_eq!(
        sb.app_role_assignments()[0].user_principal_name,
        "ada.lovelace@contoso.com"
    );
}

#[tokio::test]
async fn tap_policy_lifetime_rules_and_replacement_match_graph() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    let user_id = json(
        create(
            &base,
            &token,
            &new_user("ada.lovelace@contoso.com", "ada.lovelace", "21001"),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let policy_url = format!(
        "{base}/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass"
    );
    let policy = json(
        client()
            .get(&policy_url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(policy["state"], "enabled");
    assert_eq!(policy["minimumLifetimeInMinutes"], 60);
    assert_eq!(policy["maximumLifetimeInMinutes"], 480);

    let tap_url = format!("{base}/v1.0/users/{user_id}/authentication/temporaryAccessPassMethods");
    let issue = |body: Value| {
        client()
            .post(&tap_url)
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    let first = issue(json!({"startDateTime": "2030-12-01T08:00:00.000Z", "lifetimeInMinutes": 60, "isUsableOnce": true}))
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first = json(first).await;
    assert_eq!(
        first["@odata.type"],
        "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
    );
    assert_eq!(first["lifetimeInMinutes"], 60);
    assert_eq!(first["isUsableOnce"], true);
    assert_eq!(first["isUsable"], false);
    assert_eq!(first["methodUsabilityReason"], "NotYetValid");
    assert_eq!(first["startDateTime"], "2030-12-01T08:00:00Z");
    let pass = first["temporaryAccessPass"].as_str().unwrap().to_owned();
    assert_eq!(pass.chars().count(), 8);

    let too_short = issue(json!({"lifetimeInMinutes": 5})).await.unwrap();
    assert_eq!(too_short.status(), 400);
    let err = json(too_short).await;
    assert_eq!(err["error"]["code"], "badRequest");
    assert_eq!(
        err["error"]["message"],
        "Invalid LifetimeInMinutes specified. The valid range between 60 and 480."
    );

    // Without a lifetime the policy default applies; the new pass replaces the first one.
    let second = json(issue(json!({})).await.unwrap()).await;
    assert_eq!(second["lifetimeInMinutes"], 60);
    assert_eq!(second["isUsable"], true);
    let issued = sb.taps_issued();
    assert_eq!(issued.len(), 2);
    assert!(!issued[0].active && issued[1].active);
    let listed = json(
        client()
            .get(&tap_url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    assert!(listed["value"][0]["temporaryAccessPass"].is_null());

    sb.set_tap_policy_state(TapPolicyState::Disabled);
    let policy = json(
        client()
            .get(&policy_url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(policy["state"], "disabled");
    let blocked = issue(json!({"lifetimeInMinutes": 60})).await.unwrap();
    assert_eq!(blocked.status(), 400);
    assert_eq!(
        json(blocked).await["error"]["message"],
        "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass]."
    );
    assert_eq!(sb.taps_issued().len(), 2);

    // The values are only reachable through the leak-check accessor.
    let values = sb.issued_tap_values();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0], pass);
    let snapshot = sb.snapshot().to_string();
    assert!(values.iter().all(|v| !snapshot.contains(v.as_str())));
    assert!(sb.known_secrets().contains(&pass));
}

#[tokio::test]
async fn send_mail_accepts_with_202_and_the_snapshot_hides_the_pass() {
    let sb = sandbox().await;
    let token = graph_token(&sb).await;
    let base = sb.urls().graph_base.clone();
    let user_id = json(
        create(
            &base,
            &token,
            &new_user("ada.lovelace@contoso.com", "ada.lovelace", "21001"),
        )
        .await,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tap = json(
        client()
            .post(format!(
                "{base}/v1.0/users/{user_id}/authentication/temporaryAccessPassMethods"
            ))
            .bearer_auth(&token)
            .json(&json!({"isUsableOnce": true}))
            .send()
            .await
            .unwrap(),
    )
    .await["temporaryAccessPass"]
        .as_str()
        .unwrap()
        .to_owned();
    let mail = json!({
        "message": {
            "subject": "Day 1 access for Ada Lovelace",
            "body": {"contentType": "Text", "content": format!("Ada's Temporary Access Pass: {tap}")},
            "toRecipients": [{"emailAddress": {"address": "grace.hopper@contoso.com"}}]
        },
        "saveToSentItems": false
    });
    let sent = client()
        .post(format!(
            "{base}/v1.0/users/it-onboarding@contoso.com/sendMail"
        ))
        .bearer_auth(&token)
        .json(&mail)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 202);
    assert!(sent.bytes().await.unwrap().is_empty());
    let mails = sb.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["grace.hopper@contoso.com"]);
    assert!(mails[0].body.contains(&tap));
    assert!(!format!("{:?}", mails[0]).contains(&tap));
    let snapshot = sb.snapshot();
    assert_eq!(
        snapshot["graph"]["mails"][0]["body"],
        "Ada's Temporary Access Pass: [tap]"
    );

    let unknown_sender = client()
        .post(format!("{base}/v1.0/users/nobody@contoso.com/sendMail"))
        .bearer_auth(&token)
        .json(&mail)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_sender.status(), 404);
    assert_eq!(
        json(unknown_sender).await["error"]["code"],
        "ErrorInvalidUser"
    );
    let no_recipient = client()
        .post(format!(
            "{base}/v1.0/users/it-onboarding@contoso.com/sendMail"
        ))
        .bearer_auth(&token)
        .json(
            &json!({"message": {"subject": "x", "body": {"contentType": "Text", "content": "x"}}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(no_recipient.status(), 400);
    assert_eq!(sb.mails().len(), 1);
}
