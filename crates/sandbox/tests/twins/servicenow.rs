//! ServiceNow Table API and Service Catalog twin.

use crate::common::{client, json, sandbox};
use dayone_sandbox::{SandboxConfig, Ticket};
use serde_json::json;

const LAPTOP: &str = "04b7e94b4f7b4200086eeed18110c7fd";

fn creds() -> (String, String) {
    let c = SandboxConfig::default().servicenow;
    (c.username, c.password)
}

#[tokio::test]
async fn table_api_creates_queries_by_correlation_id_and_patches() {
    let sb = sandbox().await;
    let base = sb.urls().servicenow_base.clone();
    let (user, pass) = creds();
    let created = client()
        .post(format!("{base}/api/now/table/incident?sysparm_fields=sys_id,number,correlation_id"))
        .basic_auth(&user, Some(&pass))
        .json(&json!({"short_description": "Laptop for Ada", "correlation_id": "joiner:EVT-1:laptop", "correlation_display": "joiner-runtime"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(created.headers().contains_key("location"));
    let rec = json(created).await["result"].clone();
    assert_eq!(rec["number"], "INC0010001");
    assert_eq!(rec["correlation_id"], "joiner:EVT-1:laptop");
    assert_eq!(rec.as_object().unwrap().len(), 3);
    let sys_id = rec["sys_id"].as_str().unwrap().to_owned();
    assert_eq!(sys_id.len(), 32);

    let query = |q: &'static str| {
        client()
            .get(format!("{base}/api/now/table/incident"))
            .basic_auth(&user, Some(&pass))
            .query(&[("sysparm_query", q), ("sysparm_limit", "1")])
            .send()
    };
    let hit = query("correlation_id=joiner:EVT-1:laptop^active=true")
        .await
        .unwrap();
    assert_eq!(hit.headers()["x-total-count"], "1");
    assert_eq!(json(hit).await["result"][0]["sys_id"], sys_id.as_str());
    let miss = json(
        query("correlation_id=joiner:EVT-2:laptop^active=true")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(miss["result"], json!([]));

    let patched = client()
        .patch(format!("{base}/api/now/table/incident/{sys_id}"))
        .basic_auth(&user, Some(&pass))
        .json(&json!({"active": "false", "state": "7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    assert_eq!(json(patched).await["result"]["state"], "7");
    let after = json(
        query("correlation_id=joiner:EVT-1:laptop^active=true")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(after["result"], json!([]));

    let missing = client()
        .patch(format!(
            "{base}/api/now/table/incident/0123456789abcdef0123456789abcdef"
        ))
        .basic_auth(&user, Some(&pass))
        .json(&json!({"state": "2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let err = json(missing).await;
    assert_eq!(err["status"], "failure");
    assert_eq!(err["error"]["message"], "No Record found");

    let bad_table = client()
        .get(format!("{base}/api/now/table/not_a_table"))
        .basic_auth(&user, Some(&pass))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_table.status(), 400);
}

#[tokio::test]
async fn wrong_credentials_get_servicenow_401_and_oauth_tokens_work() {
    let sb = sandbox().await;
    let base = sb.urls().servicenow_base.clone();
    let denied = client()
        .get(format!("{base}/api/now/table/sc_request"))
        .basic_auth("dayone.integration", Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let err = json(denied).await;
    assert_eq!(
        err,
        json!({"error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"}, "status": "failure"})
    );

    let cfg = SandboxConfig::default().servicenow;
    let token = client()
        .post(format!("{base}/oauth_token.do"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", cfg.client_secret.as_str()),
            ("username", cfg.username.as_str()),
            ("password", cfg.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    let token = json(token).await;
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 1799);
    let access = token["access_token"].as_str().unwrap();
    let ok = client()
        .get(format!("{base}/api/now/table/sc_request"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let refused = client()
        .post(format!("{base}/oauth_token.do"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(json(refused).await["error"], "server_error");
}

#[tokio::test]
async fn order_now_creates_a_request_and_its_item() {
    let sb = sandbox().await;
    let base = sb.urls().servicenow_base.clone();
    let (user, pass) = creds();
    let ordered = client()
        .post(format!("{base}/api/sn_sc/servicecatalog/items/{LAPTOP}/order_now"))
        .basic_auth(&user, Some(&pass))
        .json(&json!({"sysparm_quantity": "1", "variables": {"hardware_profile": "engineering"}, "sysparm_requested_for": "a1b2c3"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ordered.status(), 200);
    let result = json(ordered).await["result"].clone();
    assert_eq!(result["number"], "REQ0010001");
    assert_eq!(result["request_number"], "REQ0010001");
    assert_eq!(result["table"], "sc_request");
    assert_eq!(result["sys_id"], result["request_id"]);
    let request_id = result["request_id"].as_str().unwrap().to_owned();

    let items = json(
        client()
            .get(format!("{base}/api/now/table/sc_req_item"))
            .basic_auth(&user, Some(&pass))
            .query(&[("sysparm_query", format!("request={request_id}"))])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let ritm = &items["result"][0];
    assert_eq!(ritm["number"], "RITM0010001");
    assert_eq!(ritm["request"]["value"], request_id.as_str());
    assert!(
        ritm["request"]["link"]
            .as_str()
            .unwrap()
            .ends_with(&request_id)
    );

    let unknown = client()
        .post(format!(
            "{base}/api/sn_sc/servicecatalog/items/ffffffffffffffffffffffffffffffff/order_now"
        ))
        .basic_auth(&user, Some(&pass))
        .json(&json!({"sysparm_quantity": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(json(unknown).await["status"], "failure");
    let tickets = sb.tickets();
    assert_eq!(tickets.len(), 1);
    assert!(matches!(&tickets[0], Ticket::ServiceNow(r) if r.number == "REQ0010001"));
    assert_eq!(
        sb.snapshot()["servicenow"]["catalogVariables"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap()["hardware_profile"],
        "engineering"
    );
}

#[tokio::test]
async fn two_step_checkout_returns_a_cart_until_submitted() {
    let sb = sandbox().await;
    sb.set_two_step_checkout(true);
    let base = sb.urls().servicenow_base.clone();
    let (user, pass) = creds();
    let ordered = json(
        client()
            .post(format!(
                "{base}/api/sn_sc/servicecatalog/items/{LAPTOP}/order_now"
            ))
            .basic_auth(&user, Some(&pass))
            .json(&json!({"sysparm_quantity": 1}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(ordered["result"]["cart_id"].is_string());
    assert!(ordered["result"].get("request_number").is_none());
    assert!(sb.tickets().is_empty());
    let submit = || {
        client()
            .post(format!("{base}/api/sn_sc/servicecatalog/cart/submit_order"))
            .basic_auth(&user, Some(&pass))
            .send()
    };
    let submitted = submit().await.unwrap();
    assert_eq!(submitted.status(), 200);
    assert_eq!(
        json(submitted).await["result"]["request_number"],
        "REQ0010001"
    );
    assert_eq!(sb.tickets().len(), 1);
    let empty = submit().await.unwrap();
    assert_eq!(empty.status(), 400);
}
