//! Workday Human_Resources SOAP twin.

use crate::common::{client, sandbox};
use dayone_sandbox::SandboxConfig;

fn envelope(user: &str, password: &str, body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:bsvc="urn:com.workday/bsvc">
 <soapenv:Header>
  <wsse:Security soapenv:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
   <wsse:UsernameToken>
    <wsse:Username>{user}</wsse:Username>
    <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">{password}</wsse:Password>
   </wsse:UsernameToken>
  </wsse:Security>
 </soapenv:Header>
 <soapenv:Body>{body}</soapenv:Body>
</soapenv:Envelope>"#
    )
}

fn change_email(worker: &str, email: &str) -> String {
    format!(
        r#"<bsvc:Change_Work_Contact_Information_Request bsvc:version="v44.0">
 <bsvc:Business_Process_Parameters><bsvc:Auto_Complete>true</bsvc:Auto_Complete><bsvc:Run_Now>true</bsvc:Run_Now></bsvc:Business_Process_Parameters>
 <bsvc:Change_Work_Contact_Information_Data>
  <bsvc:Person_Reference><bsvc:ID bsvc:type="Employee_ID">{worker}</bsvc:ID></bsvc:Person_Reference>
  <bsvc:Event_Effective_Date>2026-12-01</bsvc:Event_Effective_Date>
  <bsvc:Person_Contact_Information_Data>
   <bsvc:Person_Email_Information_Data bsvc:Replace_All="false">
    <bsvc:Email_Information_Data bsvc:Delete="false">
     <bsvc:Email_Data><bsvc:Email_Address>{email}</bsvc:Email_Address></bsvc:Email_Data>
     <bsvc:Usage_Data bsvc:Public="true"><bsvc:Type_Data bsvc:Primary="true">
      <bsvc:Type_Reference><bsvc:ID bsvc:type="Communication_Usage_Type_ID">WORK</bsvc:ID></bsvc:Type_Reference>
     </bsvc:Type_Data></bsvc:Usage_Data>
    </bsvc:Email_Information_Data>
   </bsvc:Person_Email_Information_Data>
  </bsvc:Person_Contact_Information_Data>
 </bsvc:Change_Work_Contact_Information_Data>
</bsvc:Change_Work_Contact_Information_Request>"#
    )
}

fn update_account(worker: &str, username: &str) -> String {
    format!(
        r#"<bsvc:Workday_Account_for_Worker_Update bsvc:version="v31.2"><bsvc:Worker_Reference><bsvc:Employee_Reference>
 <bsvc:Integration_ID_Reference><bsvc:ID bsvc:System_ID="WD-EMPLID">{worker}</bsvc:ID></bsvc:Integration_ID_Reference>
</bsvc:Employee_Reference></bsvc:Worker_Reference>
<bsvc:Workday_Account_for_Worker_Data><bsvc:User_Name>{username}</bsvc:User_Name></bsvc:Workday_Account_for_Worker_Data>
</bsvc:Workday_Account_for_Worker_Update>"#
    )
}

async fn call(url: &str, xml: String) -> (u16, String, String) {
    let resp = client()
        .post(url)
        .header("content-type", "text/xml;charset=UTF-8")
        .header("soapaction", "")
        .body(xml)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ctype, resp.text().await.unwrap())
}

#[tokio::test]
async fn work_email_and_username_are_written_back_with_soap_responses() {
    let sb = sandbox().await;
    let cfg = SandboxConfig::default().workday;
    let url = sb.urls().workday_human_resources(&cfg.tenant, "v44.0");
    let (status, ctype, body) = call(
        &url,
        envelope(
            &cfg.username,
            &cfg.password,
            &change_email("21001", "ada.lovelace@contoso.com"),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("text/xml"));
    assert!(body.contains("http://schemas.xmlsoap.org/soap/envelope/"));
    assert!(body.contains("Change_Work_Contact_Information_Response"));
    assert!(body.contains(r#"wd:type="WID""#));

    let (status, _, body) = call(
        &url,
        envelope(
            &cfg.username,
            &cfg.password,
            &update_account("21001", "ada.lovelace@contoso.com"),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Workday_Account_for_Worker_Update_Response"));

    let wb = sb.workday_writebacks();
    assert_eq!(wb.len(), 2);
    assert_eq!(wb[0].operation, "Change_Work_Contact_Information");
    assert_eq!(wb[0].worker_id, "21001");
    assert_eq!(
        wb[0].work_email.as_deref(),
        Some("ada.lovelace@contoso.com")
    );
    assert_eq!(wb[1].username.as_deref(), Some("ada.lovelace@contoso.com"));
    assert_eq!(
        sb.snapshot()["workday"]["workers"]["21001"]["workEmail"],
        "ada.lovelace@contoso.com"
    );

    // A client can read the current values back before writing again.
    let read = r#"<bsvc:Get_Workers_Request bsvc:version="v44.0"><bsvc:Request_References>
 <bsvc:Worker_Reference><bsvc:ID bsvc:type="Employee_ID">21001</bsvc:ID></bsvc:Worker_Reference>
</bsvc:Request_References></bsvc:Get_Workers_Request>"#;
    let (status, _, body) = call(&url, envelope(&cfg.username, &cfg.password, read)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<wd:Total_Results>1</wd:Total_Results>"));
    assert!(body.contains("<wd:User_ID>ada.lovelace@contoso.com</wd:User_ID>"));
    assert!(body.contains("<wd:Email_Address>ada.lovelace@contoso.com</wd:Email_Address>"));
    assert_eq!(sb.workday_writebacks().len(), 2);
}

#[tokio::test]
async fn bad_credentials_unknown_workers_and_pending_processes_are_soap_faults() {
    let sb = sandbox().await;
    let cfg = SandboxConfig::default().workday;
    let url = sb.urls().workday_human_resources(&cfg.tenant, "v44.0");

    let (status, ctype, body) = call(
        &url,
        envelope(
            &cfg.username,
            "wrong-password",
            &change_email("21001", "a@contoso.com"),
        ),
    )
    .await;
    assert_eq!(status, 500);
    assert!(ctype.starts_with("text/xml"));
    assert!(body.contains("<faultcode>SOAP-ENV:Client.authenticationError</faultcode>"));
    assert!(body.contains("<faultstring>invalid username or password</faultstring>"));
    assert!(!body.contains("wrong-password"));

    let (status, _, body) = call(
        &url,
        envelope(
            &cfg.username,
            &cfg.password,
            &change_email("99999", "a@contoso.com"),
        ),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.contains("SOAP-ENV:Client.validationError"));
    assert!(body.contains("Invalid ID value"));
    assert!(body.contains("Validation_Fault"));

    sb.workday_pending_next(1);
    let (status, _, body) = call(
        &url,
        envelope(
            &cfg.username,
            &cfg.password,
            &change_email("21001", "a@contoso.com"),
        ),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.contains("SOAP-ENV:Client.processingError"));
    assert!(body.contains("pending"));
    // The knob fires once; the retry goes through.
    let (status, _, _) = call(
        &url,
        envelope(
            &cfg.username,
            &cfg.password,
            &change_email("21001", "a@contoso.com"),
        ),
    )
    .await;
    assert_eq!(status, 200);

    let (status, _, body) = call(&url, "<not-xml".into()).await;
    assert_eq!(status, 500);
    assert!(body.contains("<faultcode>"));
    let (status, _, body) = call(
        &url,
        envelope(
            &cfg.username,
            &cfg.password,
            "<bsvc:Hire_Employee_Request/>",
        ),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.contains("Hire_Employee_Request"));
    assert_eq!(sb.workday_writebacks().len(), 1);
}
