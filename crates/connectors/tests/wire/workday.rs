use chrono::NaiveDate;
use dayone_connectors::{RetryPolicy, WorkdayClient, WorkdaySettings, WorkerRef};
use dayone_core::step_error::StepErrorName;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::common::*;

const ENDPOINT: &str = "/ccx/service/acme_impl/Human_Resources/v44.0";

fn client(server: &MockServer) -> WorkdayClient {
    WorkdayClient::new(
        http(),
        secrets(),
        WorkdaySettings {
            base_url: server.uri(),
            tenant: "acme_impl".into(),
            version: "44.0".into(),
            username: "isu_dayone@acme_impl".into(),
            ..WorkdaySettings::default()
        },
    )
    .with_retry_policy(RetryPolicy::fast())
}

fn fault(code: &str, string: &str, detail: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault xmlns:wd="urn:com.workday/bsvc"><faultcode>{code}</faultcode><faultstring>{string}</faultstring><detail>{detail}</detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
    )
}

async fn respond(server: &MockServer, status: u16, body: String) {
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(status).set_body_raw(body, "text/xml; charset=utf-8"))
        .mount(server)
        .await;
}

const WSSE_HEADER: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header>"#,
    r#"<wsse:Security soapenv:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">"#,
    r#"<wsse:UsernameToken><wsse:Username>isu_dayone@acme_impl</wsse:Username>"#,
    r#"<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">FAKE-workday-isu-p&amp;ss&lt;word&gt;</wsse:Password>"#,
    r#"</wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body>"#,
);

#[tokio::test]
async fn the_work_email_write_back_is_the_documented_soap_request() {
    let server = MockServer::start().await;
    respond(
        &server,
        200,
        r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><wd:Change_Work_Contact_Information_Response xmlns:wd="urn:com.workday/bsvc" wd:version="v44.0"><wd:Person_Reference><wd:ID wd:type="Employee_ID">21001</wd:ID></wd:Person_Reference><wd:Event_Reference><wd:ID wd:type="WID">0a1b2c</wd:ID></wd:Event_Reference></wd:Change_Work_Contact_Information_Response></env:Body></env:Envelope>"#.into(),
    )
    .await;

    let ack = client(&server)
        .change_work_email(
            &WorkerRef::employee("21001"),
            "ada.o'hara@contoso.example",
            NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
        )
        .await
        .unwrap();

    assert_eq!(ack.event_wid.as_deref(), Some("0a1b2c"));
    let req = requests(&server).await.pop().unwrap();
    assert_eq!(req.url.path(), ENDPOINT);
    assert_eq!(
        header(&req, "content-type").as_deref(),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(header(&req, "soapaction").as_deref(), Some("\"\""));
    let expected = format!(
        "{WSSE_HEADER}{}</soapenv:Body></soapenv:Envelope>",
        concat!(
            r#"<bsvc:Change_Work_Contact_Information_Request bsvc:version="v44.0" xmlns:bsvc="urn:com.workday/bsvc">"#,
            r#"<bsvc:Business_Process_Parameters><bsvc:Auto_Complete>true</bsvc:Auto_Complete><bsvc:Run_Now>true</bsvc:Run_Now></bsvc:Business_Process_Parameters>"#,
            r#"<bsvc:Change_Work_Contact_Information_Data>"#,
            r#"<bsvc:Person_Reference><bsvc:ID bsvc:type="Employee_ID">21001</bsvc:ID></bsvc:Person_Reference>"#,
            r#"<bsvc:Event_Effective_Date>2026-04-01</bsvc:Event_Effective_Date>"#,
            r#"<bsvc:Person_Contact_Information_Data><bsvc:Person_Email_Information_Data bsvc:Replace_All="false">"#,
            r#"<bsvc:Email_Information_Data bsvc:Delete="false">"#,
            r#"<bsvc:Email_Data><bsvc:Email_Address>ada.o&apos;hara@contoso.example</bsvc:Email_Address></bsvc:Email_Data>"#,
            r#"<bsvc:Usage_Data bsvc:Public="true"><bsvc:Type_Data bsvc:Primary="true">"#,
            r#"<bsvc:Type_Reference><bsvc:ID bsvc:type="Communication_Usage_Type_ID">WORK</bsvc:ID></bsvc:Type_Reference>"#,
            r#"</bsvc:Type_Data></bsvc:Usage_Data></bsvc:Email_Information_Data></bsvc:Person_Email_Information_Data></bsvc:Person_Contact_Information_Data>"#,
            r#"</bsvc:Change_Work_Contact_Information_Data></bsvc:Change_Work_Contact_Information_Request>"#,
        )
    );
    assert_eq!(body_text(&req), expected);
}

#[tokio::test]
async fn a_contingent_workers_username_uses_the_contingent_worker_reference() {
    let server = MockServer::start().await;
    respond(
        &server,
        200,
        r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body/></env:Envelope>"#.into(),
    )
    .await;

    let ack = client(&server)
        .update_username(&WorkerRef::contingent("C-77"), "jdoe@contoso.example")
        .await
        .unwrap();

    assert_eq!(ack.event_wid, None);
    let body = body_text(&requests(&server).await.pop().unwrap());
    assert!(body.starts_with(WSSE_HEADER), "{body}");
    assert!(body.ends_with(concat!(
        r#"<bsvc:Workday_Account_for_Worker_Update bsvc:version="v44.0" xmlns:bsvc="urn:com.workday/bsvc">"#,
        r#"<bsvc:Worker_Reference><bsvc:Contingent_Worker_Reference><bsvc:Integration_ID_Reference>"#,
        r#"<bsvc:ID bsvc:System_ID="WD-EMPLID">C-77</bsvc:ID>"#,
        r#"</bsvc:Integration_ID_Reference></bsvc:Contingent_Worker_Reference></bsvc:Worker_Reference>"#,
        r#"<bsvc:Workday_Account_for_Worker_Data><bsvc:User_Name>jdoe@contoso.example</bsvc:User_Name></bsvc:Workday_Account_for_Worker_Data>"#,
        r#"</bsvc:Workday_Account_for_Worker_Update></soapenv:Body></soapenv:Envelope>"#
    )), "{body}");
}

#[tokio::test]
async fn a_validation_fault_is_rejected_with_its_faultstring() {
    let server = MockServer::start().await;
    respond(
        &server,
        500,
        fault(
            "SOAP-ENV:Client.validationError",
            "Validation error occurred. Invalid ID value. &apos;99&apos; is not a valid ID value for type = &apos;Employee_ID&apos;",
            "<wd:Validation_Fault><wd:Validation_Error><wd:Message>Invalid ID value. &apos;99&apos; is not a valid ID value for type = &apos;Employee_ID&apos;</wd:Message><wd:Xpath>/bsvc:Change_Work_Contact_Information_Request[1]</wd:Xpath></wd:Validation_Error></wd:Validation_Fault>",
        ),
    )
    .await;

    let err = client(&server)
        .change_work_email(
            &WorkerRef::employee("99"),
            "a@b.example",
            NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
        )
        .await
        .unwrap_err();

    assert_eq!(err.step_error_name(), StepErrorName::TargetRejected);
    assert_eq!(err.code(), Some("SOAP-ENV:Client.validationError"));
    assert!(
        err.to_string().contains("'99' is not a valid ID value"),
        "{err}"
    );
    assert_eq!(
        requests(&server).await.len(),
        1,
        "a fault is not retried in-client"
    );
    assert_clean(&err);
}

#[tokio::test]
async fn auth_faults_are_unauthorized() {
    for (code, string) in [
        (
            "SOAP-ENV:Client.authenticationError",
            "invalid username or password",
        ),
        (
            "SOAP-ENV:Client.processingError",
            "Processing error occurred. The task submitted is not authorized.",
        ),
    ] {
        let server = MockServer::start().await;
        respond(&server, 500, fault(code, string, "")).await;
        let err = client(&server)
            .update_username(&WorkerRef::employee("21001"), "ada@contoso.example")
            .await
            .unwrap_err();
        assert_eq!(err.step_error_name(), StepErrorName::Unauthorized, "{err}");
        assert_clean(&err);
    }
}

#[tokio::test]
async fn a_fault_from_a_pending_business_process_is_retryable() {
    let server = MockServer::start().await;
    respond(
        &server,
        500,
        fault(
            "SOAP-ENV:Client.validationError",
            "Validation error occurred. The worker has a pending Work Contact Change business process; it must complete before another can be submitted.",
            "",
        ),
    )
    .await;
    let err = client(&server)
        .change_work_email(
            &WorkerRef::employee("21001"),
            "a@b.example",
            NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Retryable, "{err}");
}

#[tokio::test]
async fn http_errors_without_a_fault_are_mapped_by_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3"))
        .mount(&server)
        .await;
    let err = client(&server)
        .update_username(&WorkerRef::employee("1"), "u@x.example")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Throttled);
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(3)));

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let err = client(&server)
        .update_username(&WorkerRef::employee("1"), "u@x.example")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Unauthorized);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>"))
        .mount(&server)
        .await;
    let err = client(&server)
        .update_username(&WorkerRef::employee("1"), "u@x.example")
        .await
        .unwrap_err();
    assert_eq!(err.step_error_name(), StepErrorName::Retryable);
}
