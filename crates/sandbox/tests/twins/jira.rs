//! Jira Service Management twin.

use crate::common::{client, json, sandbox};
use dayone_sandbox::{SandboxConfig, Ticket};
use serde_json::{Value, json};

fn creds() -> (String, String) {
    let c = SandboxConfig::default().jira;
    (c.email, c.api_token)
}

fn request(summary: &str, label: &str) -> Value {
    json!({
        "serviceDeskId": "10",
        "requestTypeId": "25",
        "requestFieldValues": {
            "summary": summary,
            "description": "Start date 2026-12-01, London, Software Engineer",
            "labels": [label]
        },
        "raiseOnBehalfOf": "grace.hopper@contoso.com"
    })
}

#[tokio::test]
async fn a_request_is_created_found_by_label_and_read_back() {
    let sb = sandbox().await;
    let base = sb.urls().jira_base.clone();
    let (email, token) = creds();
    let created = client()
        .post(format!("{base}/rest/servicedeskapi/request"))
        .basic_auth(&email, Some(&token))
        .json(&request(
            "Laptop for Ada Lovelace",
            "joiner-EVT-2026-11-0001",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(created.headers().contains_key("x-arequestid"));
    let body = json(created).await;
    assert_eq!(body["issueKey"], "HELPDESK-1");
    assert_eq!(body["serviceDeskId"], "10");
    assert_eq!(body["requestTypeId"], "25");
    assert_eq!(body["currentStatus"]["statusCategory"], "NEW");
    assert_eq!(body["reporter"]["emailAddress"], "grace.hopper@contoso.com");
    assert!(body["createdDate"]["epochMillis"].is_i64());
    let fields = body["requestFieldValues"].as_array().unwrap();
    assert_eq!(
        fields[0],
        json!({"fieldId": "summary", "label": "Summary", "value": "Laptop for Ada Lovelace"})
    );
    assert!(
        body["_links"]["web"]
            .as_str()
            .unwrap()
            .ends_with("/servicedesk/customer/portal/10/HELPDESK-1")
    );

    for jql in [
        r#"labels = "joiner-EVT-2026-11-0001""#,
        "labels = joiner-EVT-2026-11-0001 AND project = HELPDESK",
    ] {
        let found = json(
            client()
                .get(format!("{base}/rest/api/3/search/jql"))
                .basic_auth(&email, Some(&token))
                .query(&[("jql", jql), ("fields", "summary,labels")])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(found["issues"].as_array().unwrap().len(), 1, "{jql}");
        assert_eq!(found["issues"][0]["key"], "HELPDESK-1");
        assert_eq!(
            found["issues"][0]["fields"]["labels"],
            json!(["joiner-EVT-2026-11-0001"])
        );
        assert_eq!(found["isLast"], true);
    }
    let none = json(
        client()
            .post(format!("{base}/rest/api/3/search/jql"))
            .basic_auth(&email, Some(&token))
            .json(&json!({"jql": "labels = \"joiner-other\"", "fields": ["summary"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(none["issues"], json!([]));

    let read = client()
        .get(format!("{base}/rest/servicedeskapi/request/HELPDESK-1"))
        .basic_auth(&email, Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(json(read).await["issueId"], body["issueId"]);
    let tickets = sb.tickets();
    assert!(matches!(&tickets[..], [Ticket::Jira(i)] if i.key == "HELPDESK-1"));
}

#[tokio::test]
async fn jira_errors_use_its_shapes() {
    let sb = sandbox().await;
    let base = sb.urls().jira_base.clone();
    let (email, token) = creds();
    let unauth = client()
        .post(format!("{base}/rest/servicedeskapi/request"))
        .basic_auth(&email, Some("wrong-token"))
        .json(&request("x", "y"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    assert_eq!(
        unauth.text().await.unwrap(),
        "Client must be authenticated to access this resource."
    );

    let post = |body: Value| {
        client()
            .post(format!("{base}/rest/servicedeskapi/request"))
            .basic_auth(&email, Some(&token))
            .json(&body)
            .send()
    };
    let mut no_summary = request("", "joiner-1");
    no_summary["requestFieldValues"]["summary"] = json!("  ");
    let resp = post(no_summary).await.unwrap();
    assert_eq!(resp.status(), 400);
    let err = json(resp).await;
    assert!(err["errorMessage"].as_str().unwrap().contains("summary"));
    assert!(err["i18nErrorMessage"]["i18nKey"].is_string());

    let mut bad_type = request("Laptop", "joiner-1");
    bad_type["requestTypeId"] = json!("999");
    assert_eq!(post(bad_type).await.unwrap().status(), 400);
    let mut bad_desk = request("Laptop", "joiner-1");
    bad_desk["serviceDeskId"] = json!(77);
    assert_eq!(post(bad_desk).await.unwrap().status(), 400);
    let spaced = post(request("Laptop", "has space")).await.unwrap();
    assert_eq!(spaced.status(), 400);

    let bad_jql = client()
        .get(format!("{base}/rest/api/3/search/jql"))
        .basic_auth(&email, Some(&token))
        .query(&[("jql", "summary ~ laptop")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad_jql.status(), 400);
    assert!(
        json(bad_jql).await["errorMessages"][0]
            .as_str()
            .unwrap()
            .starts_with("Error in the JQL Query")
    );
    let old_search = client()
        .get(format!("{base}/rest/api/3/search?jql=labels=x"))
        .basic_auth(&email, Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(old_search.status(), 410);
    let missing = client()
        .get(format!("{base}/rest/servicedeskapi/request/HELPDESK-404"))
        .basic_auth(&email, Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(json(missing).await["errorMessage"].is_string());
    assert!(sb.jira_requests().is_empty());
}
