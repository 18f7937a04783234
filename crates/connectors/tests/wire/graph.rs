use std::time::Duration;

use chrono::{TimeZone, Utc};
use dayone_connectors::{
    Assignment, ConnectorError, GraphClient, GraphSettings, MailBody, MailMessage, Membership,
    NewUser, RetryPolicy, TapRequest, UserFilter,
};
use dayone_core::step_error::StepErrorName;
use dayone_sdk::error::StepError;
use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

const TENANT: &str = "contoso.example";

fn client(server: &MockServer) -> GraphClient {
    GraphClient::new(
        http(),
        secrets(),
        GraphSettings {
            login_base: server.uri(),
            graph_base: format!("{}/v1.0", server.uri()),
            tenant: TENANT.into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            client_secret_name: "graph-client-secret".into(),
        },
    )
    .with_retry_policy(RetryPolicy::fast())
}

async fn token_ok(server: &MockServer, expires_in: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
            "access_token": GRAPH_TOKEN
        })))
        .mount(server)
        .await;
}

fn graph_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message,
        "innerError": {"date": "2026-04-01T08:00:00", "request-id": "req-1", "client-request-id": "creq-1"}}})
}

fn ada() -> NewUser {
    NewUser {
        account_enabled: true,
        display_name: "Ada Lovelace".into(),
        mail_nickname: "alovelace".into(),
        user_principal_name: "alovelace@contoso.example".into(),
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

async fn no_user_with_employee_id(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$filter", "employeeId eq '21001'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .mount(server)
        .await;
}

#[tokio::test]
async fn create_user_sends_the_exact_token_and_create_requests() {
    // GIVEN a tenant without the hire
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    no_user_with_employee_id(&server).await;
    Mock::given(method("POST"))
        .and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
            "userPrincipalName": "alovelace@contoso.example", "mailNickname": "alovelace",
            "displayName": "Ada Lovelace", "employeeId": "21001"
        })))
        .mount(&server)
        .await;
    let graph = client(&server);

    // WHEN the user is created
    let created = graph.create_user(&ada()).await.unwrap();

    // THEN it is new, and the wire requests are exactly the documented ones
    assert!(created.created);
    assert_eq!(created.user.id, "87d349ed-44d7-43e1-9a83-5f2406dee5bd");
    let reqs = requests(&server).await;
    assert_eq!(reqs.len(), 3);
    let token = &reqs[0];
    assert_eq!(token.url.path(), "/contoso.example/oauth2/v2.0/token");
    assert_eq!(
        header(token, "content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        body_text(token),
        "client_id=11111111-2222-3333-4444-555555555555\
         &scope=https%3A%2F%2Fgraph.microsoft.com%2F.default\
         &client_secret=FAKE-graph-client-secret~1&grant_type=client_credentials"
    );
    let lookup = &reqs[1];
    assert_eq!(lookup.method.as_str(), "GET");
    assert_eq!(
        lookup.url.query(),
        Some(
            "$filter=employeeId%20eq%20%2721001%27\
             &$select=id,userPrincipalName,mailNickname,displayName,mail,employeeId"
        )
    );
    assert_eq!(
        header(lookup, "authorization").as_deref(),
        Some("Bearer FAKE-graph-access-token")
    );
    let create = &reqs[2];
    assert_eq!(
        header(create, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        body_text(create),
        json!({
            "accountEnabled": true, "displayName": "Ada Lovelace", "mailNickname": "alovelace",
            "userPrincipalName": "alovelace@contoso.example",
            "passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "FAKE-initial-Passw0rd!"},
            "employeeId": "21001", "employeeHireDate": "2026-04-01T00:00:00Z",
            "givenName": "Ada", "surname": "Lovelace", "department": "Engineering",
            "jobTitle": "Engineer", "usageLocation": "GB"
        })
        .to_string(),
        "keys in the documented order, nothing else"
    );
    // One token for both Graph calls.
    let stats = graph.token_cache_stats();
    assert_eq!((stats.misses, stats.hits), (1, 1));
}

#[tokio::test]
async fn an_existing_user_with_the_same_employee_id_is_returned_without_creating() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": "u-1", "userPrincipalName": "alovelace@contoso.example", "employeeId": "21001"}
        ]})))
        .mount(&server)
        .await;

    let created = client(&server).create_user(&ada()).await.unwrap();

    assert!(!created.created, "a re-run must not create a second user");
    assert_eq!(created.user.id, "u-1");
    assert!(
        !calls(&server)
            .await
            .iter()
            .any(|c| c.starts_with("POST /v1.0/users"))
    );
}

async fn duplicate_upn_on_create(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_error(
            "Request_BadRequest",
            "Another object with the same value for property userPrincipalName already exists.",
        )))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_duplicate_upn_held_by_someone_else_is_a_collision_not_a_success() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    no_user_with_employee_id(&server).await;
    duplicate_upn_on_create(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/alovelace@contoso.example"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "u-other", "userPrincipalName": "alovelace@contoso.example", "employeeId": "99999"
        })))
        .mount(&server)
        .await;

    let err = client(&server).create_user(&ada()).await.unwrap_err();

    assert!(
        matches!(err, ConnectorError::Collision { ref property, .. } if property == "userPrincipalName"),
        "{err:?}"
    );
    assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
    assert!(err.to_string().contains("alovelace@contoso.example"));
    assert!(!err.to_string().contains("FAKE-initial-Passw0rd!"));
    assert_clean(&err);
}

#[tokio::test]
async fn a_duplicate_upn_held_by_our_own_earlier_attempt_is_success() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    no_user_with_employee_id(&server).await; // the index has not caught up yet
    duplicate_upn_on_create(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/alovelace@contoso.example"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "u-ours", "userPrincipalName": "alovelace@contoso.example", "employeeId": "21001"
        })))
        .mount(&server)
        .await;

    let created = client(&server).create_user(&ada()).await.unwrap();

    assert_eq!(
        (created.user.id.as_str(), created.created),
        ("u-ours", false)
    );
}

#[tokio::test]
async fn throttling_is_waited_out_when_retry_after_allows_and_surfaced_when_it_persists() {
    // GIVEN Graph answers 429 with Retry-After once, then succeeds
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-1"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(graph_error("TooManyRequests", "Too many requests")),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "u-1"})))
        .with_priority(2)
        .mount(&server)
        .await;
    let graph = client(&server);
    // THEN the call succeeds after one retry
    assert_eq!(graph.get_user("u-1").await.unwrap().unwrap().id, "u-1");
    assert_eq!(
        calls(&server)
            .await
            .iter()
            .filter(|c| c.contains("/users/u-1"))
            .count(),
        2
    );

    // GIVEN a persistent 429
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-1"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_json(graph_error("TooManyRequests", "Too many requests")),
        )
        .mount(&server)
        .await;
    let err = client(&server).get_user("u-1").await.unwrap_err();
    // THEN after the bounded attempts it is Throttled with the target's Retry-After
    assert_eq!(err.step_error_name(), StepErrorName::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(
        calls(&server)
            .await
            .iter()
            .filter(|c| c.contains("/users/u-1"))
            .count(),
        3
    );
    let step: StepError = err.into();
    assert_eq!(step.retry_after, Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn service_unavailable_is_retried_then_retryable_and_a_500_is_not_retried_in_client() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-503"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "2"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-500"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(graph_error("generalException", "boom")),
        )
        .mount(&server)
        .await;
    let graph = client(&server);

    let unavailable = graph.get_user("u-503").await.unwrap_err();
    assert_eq!(unavailable.step_error_name(), StepErrorName::Retryable);
    assert_eq!(unavailable.retry_after(), Some(Duration::from_secs(2)));

    let broken = graph.get_user("u-500").await.unwrap_err();
    assert_eq!(broken.step_error_name(), StepErrorName::Retryable);
    assert!(broken.to_string().contains("generalException"), "{broken}");
    assert_eq!(
        calls(&server)
            .await
            .iter()
            .filter(|c| c.contains("u-500"))
            .count(),
        1
    );
}

#[tokio::test]
async fn bad_client_credentials_are_unauthorized_and_never_echo_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{TENANT}/oauth2/v2.0/token")))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.\r\nTrace ID: t",
            "error_codes": [7000215], "timestamp": "2026-04-01 08:00:00Z",
            "trace_id": "t", "correlation_id": "c"
        })))
        .mount(&server)
        .await;

    let err = client(&server).get_user("u-1").await.unwrap_err();

    assert_eq!(err.step_error_name(), StepErrorName::Unauthorized);
    assert!(
        err.to_string().contains("invalid_client: AADSTS7000215"),
        "{err}"
    );
    assert_clean(&err);
}

#[tokio::test]
async fn a_401_from_graph_refreshes_the_token_once() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(graph_error(
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        )))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "u-1"})))
        .with_priority(2)
        .mount(&server)
        .await;
    let graph = client(&server);

    assert!(graph.get_user("u-1").await.unwrap().is_some());
    assert_eq!(
        graph.token_cache_stats().misses,
        2,
        "the rejected token was replaced"
    );
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_before_it_expires() {
    let server = MockServer::start().await;
    token_ok(&server, 1).await; // lifetime 1 s: refreshed after half of it
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "u-1"})))
        .mount(&server)
        .await;
    let graph = client(&server);
    graph.get_user("u-1").await.unwrap();
    graph.get_user("u-1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    graph.get_user("u-1").await.unwrap();
    let stats = graph.token_cache_stats();
    assert_eq!((stats.misses, stats.hits), (2, 1));
}

#[tokio::test]
async fn group_membership_is_added_once_and_an_existing_membership_is_success() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("POST"))
        .and(path("/v1.0/groups/g-new/members/$ref"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/groups/g-old/members/$ref"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_error(
            "Request_BadRequest",
            "One or more added object references already exist for the following modified properties: 'members'.",
        )))
        .mount(&server)
        .await;
    let graph = client(&server);

    assert_eq!(
        graph.add_group_member("g-new", "u-1").await.unwrap(),
        Membership::Added
    );
    assert_eq!(
        graph.add_group_member("g-old", "u-1").await.unwrap(),
        Membership::AlreadyMember
    );
    let reqs = requests(&server).await;
    let add = reqs
        .iter()
        .find(|r| r.url.path() == "/v1.0/groups/g-new/members/$ref")
        .unwrap();
    assert_eq!(
        add.body_json::<Value>().unwrap(),
        json!({"@odata.id": format!("{}/v1.0/directoryObjects/u-1", server.uri())})
    );
}

#[tokio::test]
async fn setting_the_manager_rides_out_replication_delay() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("PUT"))
        .and(path("/v1.0/users/u-new/manager/$ref"))
        .respond_with(ResponseTemplate::new(404).set_body_json(graph_error(
            "Request_ResourceNotFound",
            "Resource 'u-new' does not exist or one of its queried reference-property objects are not present.",
        )))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v1.0/users/u-new/manager/$ref"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v1.0/users/u-ghost/manager/$ref"))
        .respond_with(ResponseTemplate::new(404).set_body_json(graph_error(
            "Request_ResourceNotFound",
            "Resource 'u-ghost' does not exist",
        )))
        .mount(&server)
        .await;
    let graph = client(&server);

    graph.set_manager("u-new", "m-1").await.unwrap();
    let put = requests(&server)
        .await
        .into_iter()
        .find(|r| r.method.as_str() == "PUT")
        .unwrap();
    assert_eq!(
        put.body_json::<Value>().unwrap(),
        json!({"@odata.id": format!("{}/v1.0/users/m-1", server.uri())})
    );

    let err = graph.set_manager("u-ghost", "m-1").await.unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Retryable);
    assert!(err.to_string().contains("replication"), "{err}");
}

#[tokio::test]
async fn uniqueness_queries_escape_quotes_percent_encode_and_use_advanced_mode() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .and(query_param("$skiptoken", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": "u-2", "userPrincipalName": "o'brien2@contoso.example", "mailNickname": "obrien2"}
        ]})))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.count": 2,
            "value": [{"id": "u-1", "userPrincipalName": "o'brien@contoso.example", "mailNickname": "obrien"}],
            "@odata.nextLink": format!("{}/v1.0/users?$skiptoken=p2", server.uri())
        })))
        .with_priority(2)
        .mount(&server)
        .await;

    let users = client(&server)
        .query_users(&UserFilter::UpnStartsWith("o'brien".into()))
        .await
        .unwrap();

    assert_eq!(
        users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["u-1", "u-2"]
    );
    let first = &requests(&server).await[1];
    assert_eq!(
        first.url.query(),
        Some(
            "$filter=startsWith%28userPrincipalName%2C%27o%27%27brien%27%29\
             &$select=id,userPrincipalName,mailNickname,displayName,mail,employeeId&$count=true"
        )
    );
    assert_eq!(
        header(first, "consistencylevel").as_deref(),
        Some("eventual")
    );

    // An eq query stays in default mode.
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .mount(&server)
        .await;
    client(&server)
        .query_users(&UserFilter::MailNicknameEq("d'arcy".into()))
        .await
        .unwrap();
    let eq = &requests(&server).await[1];
    assert!(
        eq.url
            .query()
            .unwrap()
            .starts_with("$filter=mailNickname%20eq%20%27d%27%27arcy%27&")
    );
    assert!(header(eq, "consistencylevel").is_none());
}

#[tokio::test]
async fn groups_are_found_by_display_name() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/groups"))
        .and(query_param("$filter", "displayName eq 'R&D ''Core'''"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": "g-1", "displayName": "R&D 'Core'"}
        ]})))
        .mount(&server)
        .await;
    let group = client(&server)
        .find_group_by_display_name("R&D 'Core'")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(group.id, "g-1");
}

#[tokio::test]
async fn enterprise_apps_are_found_by_display_name_with_their_roles() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/servicePrincipals"))
        .and(query_param(
            "$filter",
            "displayName eq 'O''Reilly Learning'",
        ))
        .and(query_param("$select", "id,displayName,appRoles"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": "sp-1", "displayName": "O'Reilly Learning", "appRoles": [
                {"id": "r-1", "value": "Reader", "displayName": "Reader",
                 "allowedMemberTypes": ["User"], "isEnabled": true, "origin": "Application"},
                {"id": "r-2", "value": "Sync", "displayName": "Sync",
                 "allowedMemberTypes": ["Application"], "isEnabled": true, "origin": "Application"}
            ]}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/servicePrincipals"))
        .and(query_param("$filter", "displayName eq 'Twice'"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": "sp-2", "displayName": "Twice", "appRoles": []},
            {"id": "sp-3", "displayName": "Twice", "appRoles": []}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/servicePrincipals/sp-404"))
        .respond_with(ResponseTemplate::new(404).set_body_json(graph_error(
            "Request_ResourceNotFound",
            "Resource 'sp-404' does not exist or one of its queried reference-property objects are not present.",
        )))
        .mount(&server)
        .await;
    let graph = client(&server);

    let sp = graph
        .find_service_principal_by_display_name("O'Reilly Learning")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sp.id, "sp-1");
    let for_users: Vec<&str> = sp
        .app_roles
        .iter()
        .filter(|r| r.assignable_to_users())
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        for_users,
        ["r-1"],
        "application-only roles are not for users"
    );

    let err = graph
        .find_service_principal_by_display_name("Twice")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Misconfigured);
    assert!(
        err.to_string()
            .contains("2 enterprise applications are named 'Twice'"),
        "{err}"
    );

    assert_eq!(graph.get_service_principal("sp-404").await.unwrap(), None);
}

#[tokio::test]
async fn an_app_role_is_granted_once_and_an_existing_grant_is_success() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-1/appRoleAssignments"))
        .and(query_param("$select", "id,resourceId,appRoleId"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
            {"id": "a-1", "resourceId": "sp-held", "appRoleId": "r-held"}
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/servicePrincipals/sp-new/appRoleAssignedTo"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "id": "a-2", "appRoleId": "r-new", "principalId": "u-1", "principalType": "User",
            "resourceId": "sp-new", "resourceDisplayName": "New App"
        })))
        .mount(&server)
        .await;
    // Another run granted it between our read and our write.
    Mock::given(method("POST"))
        .and(path("/v1.0/servicePrincipals/sp-raced/appRoleAssignedTo"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_error(
            "Request_BadRequest",
            "Permission being assigned already exists on the object",
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/servicePrincipals/sp-wrong/appRoleAssignedTo"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_error(
            "Request_BadRequest",
            "Permission being assigned was not found on application",
        )))
        .mount(&server)
        .await;
    let graph = client(&server);

    assert_eq!(
        graph
            .assign_app_role("u-1", "sp-held", "r-held")
            .await
            .unwrap(),
        Assignment::AlreadyAssigned
    );
    assert_eq!(
        graph
            .assign_app_role("u-1", "sp-new", "r-new")
            .await
            .unwrap(),
        Assignment::Assigned
    );
    assert_eq!(
        graph
            .assign_app_role("u-1", "sp-raced", "r-x")
            .await
            .unwrap(),
        Assignment::AlreadyAssigned
    );
    let err = graph
        .assign_app_role("u-1", "sp-wrong", "r-x")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
    assert_clean(&err);

    let reqs = requests(&server).await;
    let posts: Vec<_> = reqs
        .iter()
        .filter(|r| r.method.as_str() == "POST" && r.url.path().contains("appRoleAssignedTo"))
        .collect();
    assert_eq!(posts.len(), 3, "the held grant is never posted");
    let new = posts
        .iter()
        .find(|r| r.url.path() == "/v1.0/servicePrincipals/sp-new/appRoleAssignedTo")
        .unwrap();
    assert_eq!(
        new.body_json::<Value>().unwrap(),
        json!({"principalId": "u-1", "resourceId": "sp-new", "appRoleId": "r-new"})
    );
    assert_eq!(
        header(new, "content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        header(new, "authorization").as_deref(),
        Some(format!("Bearer {GRAPH_TOKEN}").as_str())
    );
}

#[tokio::test]
async fn a_users_app_roles_are_read_across_pages() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-1/appRoleAssignments"))
        .and(query_param("$select", "id,resourceId,appRoleId"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": "a-1", "resourceId": "sp-1", "appRoleId": "r-1"}],
            "@odata.nextLink": format!("{}/v1.0/users/u-1/appRoleAssignments?$skiptoken=p2", server.uri())
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-1/appRoleAssignments"))
        .and(query_param("$skiptoken", "p2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": "a-2", "resourceId": "SP-2", "appRoleId": "r-2"}]
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    let held = client(&server).app_role_assignments("u-1").await.unwrap();
    assert_eq!(held.len(), 2);
    assert!(held[1].is("sp-2", "R-2"), "ids compare without case");
    assert!(!held[0].is("sp-1", "r-2"));
}

#[tokio::test]
async fn granting_an_app_role_rides_out_replication_delay_of_a_new_user() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-new/appRoleAssignments"))
        .respond_with(ResponseTemplate::new(404).set_body_json(graph_error(
            "Request_ResourceNotFound",
            "Resource 'u-new' does not exist or one of its queried reference-property objects are not present.",
        )))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-new/appRoleAssignments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/servicePrincipals/sp-1/appRoleAssignedTo"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "a-1"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1.0/users/u-ghost/appRoleAssignments"))
        .respond_with(ResponseTemplate::new(404).set_body_json(graph_error(
            "Request_ResourceNotFound",
            "Resource 'u-ghost' does not exist",
        )))
        .mount(&server)
        .await;
    let graph = client(&server);
    assert_eq!(
        graph.assign_app_role("u-new", "sp-1", "r-1").await.unwrap(),
        Assignment::Assigned
    );
    let err = graph
        .assign_app_role("u-ghost", "sp-1", "r-1")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Retryable);
    assert!(err.to_string().contains("replication"), "{err}");
}

const TAP_POLICY_PATH: &str = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/temporaryAccessPass";

#[tokio::test]
async fn a_disabled_tap_policy_ends_in_target_rejected() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("GET"))
        .and(path(TAP_POLICY_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
            "id": "TemporaryAccessPass", "state": "disabled", "defaultLifetimeInMinutes": 60,
            "defaultLength": 8, "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480,
            "isUsableOnce": false, "includeTargets": []
        })))
        .mount(&server)
        .await;

    let policy = client(&server).tap_policy().await.unwrap();
    let err = policy.check(&TapRequest::default()).unwrap_err();

    assert!(!policy.enabled());
    assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
    assert!(err.to_string().contains("'disabled'"), "{err}");
}

#[tokio::test]
async fn a_tap_is_created_with_the_exact_body_and_its_value_never_prints() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("POST"))
        .and(path(
            "/v1.0/users/u-1/authentication/temporaryAccessPassMethods",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
            "id": "6f1967b7-15e8-4935-ac26-d50770ed07a7", "temporaryAccessPass": TAP_VALUE,
            "createdDateTime": "2026-03-31T10:00:00Z", "startDateTime": "2026-04-01T08:00:00Z",
            "lifetimeInMinutes": 480, "isUsableOnce": true, "isUsable": false,
            "methodUsabilityReason": "NotYetValid"
        })))
        .mount(&server)
        .await;
    let request = TapRequest {
        start: Some(Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap()),
        lifetime_minutes: Some(480),
        is_usable_once: Some(true),
    };

    let tap = client(&server).create_tap("u-1", &request).await.unwrap();

    assert_eq!(tap.pass.expose(), TAP_VALUE);
    assert!(!format!("{tap:?}").contains(TAP_VALUE));
    assert_eq!(tap.method_usability_reason.as_deref(), Some("NotYetValid"));
    let post = requests(&server).await.pop().unwrap();
    assert_eq!(
        body_text(&post),
        r#"{"startDateTime":"2026-04-01T08:00:00.000Z","lifetimeInMinutes":480,"isUsableOnce":true}"#
    );
}

#[tokio::test]
async fn a_tap_refused_by_the_credential_policy_is_retried_then_not_allowed() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("POST"))
        .and(path("/v1.0/users/u-1/authentication/temporaryAccessPassMethods"))
        .respond_with(ResponseTemplate::new(400).set_body_json(graph_error(
            "badRequest",
            "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass].",
        )))
        .mount(&server)
        .await;

    let err = client(&server)
        .create_tap("u-1", &TapRequest::default())
        .await
        .unwrap_err();

    assert!(
        matches!(err, ConnectorError::TapNotAllowed { .. }),
        "{err:?}"
    );
    assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
    let attempts = calls(&server)
        .await
        .iter()
        .filter(|c| c.starts_with("POST /v1.0/users"))
        .count();
    assert_eq!(attempts as u32, RetryPolicy::fast().replication_attempts);
    assert_clean(&err);
}

#[tokio::test]
async fn send_mail_posts_the_documented_message_shape() {
    let server = MockServer::start().await;
    token_ok(&server, 3599).await;
    Mock::given(method("POST"))
        .and(path("/v1.0/users/it-noreply@contoso.example/sendMail"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&server)
        .await;
    let message = MailMessage {
        subject: "Day 1 access for Ada".into(),
        body: MailBody::Text("Pass: FAKE".into()),
        to: vec!["grace@contoso.example".into()],
        save_to_sent_items: false,
    };

    client(&server)
        .send_mail("it-noreply@contoso.example", &message)
        .await
        .unwrap();

    let post = requests(&server).await.pop().unwrap();
    assert_eq!(
        body_text(&post),
        json!({"message": {"subject": "Day 1 access for Ada",
            "body": {"contentType": "Text", "content": "Pass: FAKE"},
            "toRecipients": [{"emailAddress": {"address": "grace@contoso.example"}}]},
            "saveToSentItems": false})
        .to_string()
    );
}

#[tokio::test]
async fn a_host_outside_the_allowlist_is_egress_denied_and_never_contacted() {
    let server = MockServer::start().await;
    let graph = GraphClient::new(
        EgressClient::new(vec!["graph.microsoft.com".into()]),
        secrets(),
        GraphSettings {
            login_base: server.uri(),
            graph_base: format!("{}/v1.0", server.uri()),
            tenant: TENANT.into(),
            client_id: "c".into(),
            client_secret_name: "graph-client-secret".into(),
        },
    );

    let err = graph.get_user("u-1").await.unwrap_err();

    assert_eq!(err.step_error_name(), StepErrorName::EgressDenied);
    assert!(requests(&server).await.is_empty());
}

#[tokio::test]
async fn a_missing_client_secret_is_misconfigured() {
    let server = MockServer::start().await;
    let graph = GraphClient::new(
        http(),
        secrets(),
        GraphSettings {
            login_base: server.uri(),
            graph_base: server.uri(),
            tenant: TENANT.into(),
            client_id: "c".into(),
            client_secret_name: "no-such-secret".into(),
        },
    );
    let err = graph.get_user("u-1").await.unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Misconfigured);
    assert!(err.to_string().contains("no-such-secret"), "{err}");
}
