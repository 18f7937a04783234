//! Workday Web Services (SOAP 1.1, `Human_Resources`): the write-back of the work email and the
//! username after the account exists.
//!
//! - [`WorkdayClient::change_work_email`] sends `Change_Work_Contact_Information_Request`
//!   (primary `WORK` email, auto-completed business process).
//! - [`WorkdayClient::update_username`] sends `Workday_Account_for_Worker_Update`
//!   (Update_Workday_Account), with an `Employee_Reference` or `Contingent_Worker_Reference`.
//!
//! Auth is a WS-Security `UsernameToken` (`PasswordText`) for the integration system user; the
//! password comes from the secret store and only ever sits inside the request body. All values
//! from HR (ids, emails, names) are XML-escaped by the writer.
//!
//! Faults are parsed into their `faultcode` / `faultstring` (plus validation messages): auth
//! faults are [`ConnectorError::Unauthorized`], faults caused by a business process still
//! pending on the same data are retryable, everything else is a rejection.

use std::sync::Arc;

use chrono::NaiveDate;
use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::{SecretStore, SecretString};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use reqwest::Method;

use crate::error::{ConnectorError, System};
use crate::transport::{Reply, RetryPolicy, Transport, join};

const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const BSVC: &str = "urn:com.workday/bsvc";
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// Where the tenant is and who we are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkdaySettings {
    /// Services host, e.g. `https://wd2-impl-services1.workday.com` (or a twin's URL).
    pub base_url: String,
    pub tenant: String,
    /// WWS version, e.g. `v44.0` (`44.0` is accepted too). Used in the URL and `bsvc:version`.
    pub version: String,
    /// The integration system user, `user@tenant`.
    pub username: String,
    /// Name of the ISU password in the secret store.
    pub password_secret_name: String,
    /// `System_ID` of the worker's integration id in `Update_Workday_Account` (`WD-EMPLID`).
    pub account_system_id: String,
    /// Send `Replace_All="true"`, replacing the worker's work emails instead of adding one.
    /// Off by default (Workday's own write-back sends `false`).
    pub replace_all_work_emails: bool,
}

impl Default for WorkdaySettings {
    fn default() -> Self {
        WorkdaySettings {
            base_url: String::new(),
            tenant: String::new(),
            version: "v44.0".into(),
            username: String::new(),
            password_secret_name: "workday-isu-password".into(),
            account_system_id: "WD-EMPLID".into(),
            replace_all_work_emails: false,
        }
    }
}

/// Whether the worker is an employee or a contingent worker (their ids live in different types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum WorkerKind {
    Employee,
    ContingentWorker,
}

/// A worker, by Employee_ID / Contingent_Worker_ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerRef {
    pub kind: WorkerKind,
    pub id: String,
}

impl WorkerRef {
    pub fn employee(id: impl Into<String>) -> Self {
        WorkerRef {
            kind: WorkerKind::Employee,
            id: id.into(),
        }
    }

    pub fn contingent(id: impl Into<String>) -> Self {
        WorkerRef {
            kind: WorkerKind::ContingentWorker,
            id: id.into(),
        }
    }
}

/// What Workday answered to a successful write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkdayAck {
    /// The WID of the business process event, when the response names one.
    pub event_wid: Option<String>,
}

/// A parsed SOAP fault.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SoapFault {
    pub faultcode: String,
    pub faultstring: String,
    /// `Validation_Error/Message` and `Detail_Message` texts, in document order.
    pub messages: Vec<String>,
}

impl SoapFault {
    /// Finds a SOAP 1.1 `Fault` in a response body.
    pub fn parse(xml: &str) -> Option<SoapFault> {
        let leaves = leaves(xml)?;
        let within_fault = |path: &[String]| path.iter().any(|p| p == "Fault");
        let mut fault = SoapFault::default();
        let mut found = false;
        for leaf in &leaves {
            if !within_fault(&leaf.path) {
                continue;
            }
            found = true;
            match leaf.name() {
                "faultcode" => fault.faultcode = leaf.text.trim().to_string(),
                "faultstring" => fault.faultstring = leaf.text.trim().to_string(),
                "Message" | "Detail_Message" if !leaf.text.trim().is_empty() => {
                    let m = leaf.text.trim().to_string();
                    if !fault.messages.contains(&m) && m != fault.faultstring {
                        fault.messages.push(m);
                    }
                }
                _ => {}
            }
        }
        found.then_some(fault)
    }

    fn describe(&self) -> String {
        if self.messages.is_empty() {
            self.faultstring.clone()
        } else {
            format!("{} ({})", self.faultstring, self.messages.join("; "))
        }
    }

    fn all_text_lower(&self) -> String {
        format!(
            "{} {} {}",
            self.faultcode,
            self.faultstring,
            self.messages.join(" ")
        )
        .to_lowercase()
    }

    /// Credentials refused, or the ISU's security group lacks the task.
    pub fn is_auth(&self) -> bool {
        let t = self.all_text_lower();
        t.contains("authentication")
            || t.contains("invalid username or password")
            || t.contains("not authorized")
            || t.contains("not authorised")
    }

    /// Another business process on the same data is still in flight: try again later.
    pub fn is_pending_business_process(&self) -> bool {
        let t = self.all_text_lower();
        t.contains("pending") || t.contains("in progress") || t.contains("in-progress")
    }
}

/// Client for Workday's Human_Resources SOAP service.
pub struct WorkdayClient {
    transport: Transport,
    secrets: Arc<dyn SecretStore>,
    settings: WorkdaySettings,
}

impl WorkdayClient {
    pub fn new(
        http: EgressClient,
        secrets: Arc<dyn SecretStore>,
        settings: WorkdaySettings,
    ) -> Self {
        WorkdayClient {
            transport: Transport::new(System::Workday, http),
            secrets,
            settings,
        }
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.transport.policy = policy;
        self
    }

    /// `v44.0`, whether configured as `v44.0` or `44.0`.
    fn version(&self) -> String {
        let v = self.settings.version.trim();
        if v.starts_with('v') {
            v.to_string()
        } else {
            format!("v{v}")
        }
    }

    /// `{base}/ccx/service/{tenant}/Human_Resources/{version}`.
    pub fn endpoint(&self) -> String {
        join(
            &self.settings.base_url,
            &format!(
                "ccx/service/{}/Human_Resources/{}",
                crate::transport::enc_path(&self.settings.tenant),
                self.version()
            ),
        )
    }

    /// Sets the worker's primary WORK email (Change_Work_Contact_Information).
    pub async fn change_work_email(
        &self,
        worker: &WorkerRef,
        email: &str,
        effective_date: NaiveDate,
    ) -> Result<WorkdayAck, ConnectorError> {
        let body = change_work_email_body(
            &self.version(),
            worker,
            email,
            effective_date,
            self.settings.replace_all_work_emails,
        )?;
        self.call(&body).await
    }

    /// Sets the worker's Workday account user name (Update_Workday_Account).
    pub async fn update_username(
        &self,
        worker: &WorkerRef,
        username: &str,
    ) -> Result<WorkdayAck, ConnectorError> {
        let body = update_account_body(
            &self.version(),
            worker,
            &self.settings.account_system_id,
            username,
        )?;
        self.call(&body).await
    }

    async fn call(&self, operation: &[u8]) -> Result<WorkdayAck, ConnectorError> {
        if self.settings.base_url.trim().is_empty() || self.settings.tenant.trim().is_empty() {
            return Err(ConnectorError::misconfigured(
                System::Workday,
                "base_url and tenant must be set ([targets.workday] in dayone.toml)",
            ));
        }
        let password = self
            .secrets
            .get(&self.settings.password_secret_name)
            .await
            .map_err(|source| ConnectorError::Secret {
                system: System::Workday,
                source,
            })?;
        // The envelope holds the password: it is sent and dropped, never logged.
        let envelope = SecretString::new(envelope(&self.settings.username, &password, operation)?);
        let url = self.endpoint();
        let reply = self
            .transport
            .execute(
                || {
                    self.transport
                        .request(Method::POST, &url)
                        .header("content-type", "text/xml; charset=utf-8")
                        .header("soapaction", "\"\"")
                        .body(envelope.expose().to_string())
                },
                |_| false,
            )
            .await?;
        self.outcome(&reply)
    }

    fn outcome(&self, reply: &Reply) -> Result<WorkdayAck, ConnectorError> {
        let text = String::from_utf8_lossy(&reply.body);
        if let Some(fault) = SoapFault::parse(&text) {
            let detail = format!("{} [{}]", fault.describe(), fault.faultcode);
            if fault.is_auth() {
                return Err(ConnectorError::unauthorized(System::Workday, detail));
            }
            if fault.is_pending_business_process() {
                return Err(ConnectorError::retryable(
                    System::Workday,
                    format!("a business process on this worker is still pending: {detail}"),
                ));
            }
            if let Some(e) = self.transport.transient_error(reply, &detail)
                && reply.status.as_u16() != 500
            {
                return Err(e);
            }
            return Err(ConnectorError::rejected(
                System::Workday,
                Some(reply.status.as_u16()),
                fault.faultcode.clone(),
                fault.describe(),
            ));
        }
        let status = reply.status.as_u16();
        match status {
            200..=299 => Ok(WorkdayAck {
                event_wid: event_wid(&text),
            }),
            401 | 403 => Err(ConnectorError::unauthorized(
                System::Workday,
                format!("HTTP {status}"),
            )),
            _ => Err(self
                .transport
                .transient_error(reply, "")
                .unwrap_or_else(|| {
                    ConnectorError::rejected(
                        System::Workday,
                        Some(status),
                        format!("HTTP {status}"),
                        reply.text_snippet(),
                    )
                })),
        }
    }
}

/// A tiny XML writer over quick-xml: every text and attribute value is escaped by quick-xml.
struct Xml {
    w: quick_xml::Writer<Vec<u8>>,
    failed: bool,
}

impl Xml {
    fn new() -> Self {
        Xml {
            w: quick_xml::Writer::new(Vec::new()),
            failed: false,
        }
    }
    fn ev(&mut self, e: Event<'_>) {
        // Writing into a Vec cannot fail; remember it if it ever did rather than panic.
        if self.w.write_event(e).is_err() {
            self.failed = true;
        }
    }
    fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        let mut start = BytesStart::new(name);
        for a in attrs {
            start.push_attribute(*a);
        }
        self.ev(Event::Start(start));
    }
    fn close(&mut self, name: &str) {
        self.ev(Event::End(BytesEnd::new(name)));
    }
    fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, attrs);
        self.ev(Event::Text(BytesText::new(text)));
        self.close(name);
    }
    fn raw(&mut self, bytes: &[u8]) {
        use std::io::Write;
        if self.w.get_mut().write_all(bytes).is_err() {
            self.failed = true;
        }
    }
    fn finish(self) -> Result<Vec<u8>, ConnectorError> {
        if self.failed {
            return Err(ConnectorError::misconfigured(
                System::Workday,
                "the SOAP request could not be written",
            ));
        }
        Ok(self.w.into_inner())
    }
}

fn check_value(what: &str, v: &str) -> Result<(), ConnectorError> {
    if v.trim().is_empty() {
        return Err(ConnectorError::misconfigured(
            System::Workday,
            format!("{what} is empty"),
        ));
    }
    // XML 1.0 cannot carry most control characters, escaped or not.
    if v.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(ConnectorError::misconfigured(
            System::Workday,
            format!("{what} contains control characters that XML cannot carry"),
        ));
    }
    Ok(())
}

/// The `Change_Work_Contact_Information_Request` element.
pub(crate) fn change_work_email_body(
    version: &str,
    worker: &WorkerRef,
    email: &str,
    effective_date: NaiveDate,
    replace_all: bool,
) -> Result<Vec<u8>, ConnectorError> {
    check_value("worker id", &worker.id)?;
    check_value("work email", email)?;
    let id_type = match worker.kind {
        WorkerKind::Employee => "Employee_ID",
        WorkerKind::ContingentWorker => "Contingent_Worker_ID",
    };
    let mut x = Xml::new();
    x.open(
        "bsvc:Change_Work_Contact_Information_Request",
        &[("bsvc:version", version), ("xmlns:bsvc", BSVC)],
    );
    x.open("bsvc:Business_Process_Parameters", &[]);
    x.leaf("bsvc:Auto_Complete", &[], "true");
    x.leaf("bsvc:Run_Now", &[], "true");
    x.close("bsvc:Business_Process_Parameters");
    x.open("bsvc:Change_Work_Contact_Information_Data", &[]);
    x.open("bsvc:Person_Reference", &[]);
    x.leaf("bsvc:ID", &[("bsvc:type", id_type)], &worker.id);
    x.close("bsvc:Person_Reference");
    x.leaf(
        "bsvc:Event_Effective_Date",
        &[],
        &effective_date.format("%Y-%m-%d").to_string(),
    );
    x.open("bsvc:Person_Contact_Information_Data", &[]);
    x.open(
        "bsvc:Person_Email_Information_Data",
        &[(
            "bsvc:Replace_All",
            if replace_all { "true" } else { "false" },
        )],
    );
    x.open("bsvc:Email_Information_Data", &[("bsvc:Delete", "false")]);
    x.open("bsvc:Email_Data", &[]);
    x.leaf("bsvc:Email_Address", &[], email);
    x.close("bsvc:Email_Data");
    x.open("bsvc:Usage_Data", &[("bsvc:Public", "true")]);
    x.open("bsvc:Type_Data", &[("bsvc:Primary", "true")]);
    x.open("bsvc:Type_Reference", &[]);
    x.leaf(
        "bsvc:ID",
        &[("bsvc:type", "Communication_Usage_Type_ID")],
        "WORK",
    );
    x.close("bsvc:Type_Reference");
    x.close("bsvc:Type_Data");
    x.close("bsvc:Usage_Data");
    x.close("bsvc:Email_Information_Data");
    x.close("bsvc:Person_Email_Information_Data");
    x.close("bsvc:Person_Contact_Information_Data");
    x.close("bsvc:Change_Work_Contact_Information_Data");
    x.close("bsvc:Change_Work_Contact_Information_Request");
    x.finish()
}

/// The `Workday_Account_for_Worker_Update` element.
pub(crate) fn update_account_body(
    version: &str,
    worker: &WorkerRef,
    system_id: &str,
    username: &str,
) -> Result<Vec<u8>, ConnectorError> {
    check_value("worker id", &worker.id)?;
    check_value("user name", username)?;
    let reference = match worker.kind {
        WorkerKind::Employee => "bsvc:Employee_Reference",
        WorkerKind::ContingentWorker => "bsvc:Contingent_Worker_Reference",
    };
    let mut x = Xml::new();
    x.open(
        "bsvc:Workday_Account_for_Worker_Update",
        &[("bsvc:version", version), ("xmlns:bsvc", BSVC)],
    );
    x.open("bsvc:Worker_Reference", &[]);
    x.open(reference, &[]);
    x.open("bsvc:Integration_ID_Reference", &[]);
    x.leaf("bsvc:ID", &[("bsvc:System_ID", system_id)], &worker.id);
    x.close("bsvc:Integration_ID_Reference");
    x.close(reference);
    x.close("bsvc:Worker_Reference");
    x.open("bsvc:Workday_Account_for_Worker_Data", &[]);
    x.leaf("bsvc:User_Name", &[], username);
    x.close("bsvc:Workday_Account_for_Worker_Data");
    x.close("bsvc:Workday_Account_for_Worker_Update");
    x.finish()
}

/// The SOAP 1.1 envelope with the WS-Security UsernameToken header around `operation`.
fn envelope(
    username: &str,
    password: &SecretString,
    operation: &[u8],
) -> Result<String, ConnectorError> {
    if username.trim().is_empty() {
        return Err(ConnectorError::misconfigured(
            System::Workday,
            "the integration system user name is empty ([targets.workday] username)",
        ));
    }
    let mut x = Xml::new();
    x.ev(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    x.open("soapenv:Envelope", &[("xmlns:soapenv", SOAP_ENV)]);
    x.open("soapenv:Header", &[]);
    x.open(
        "wsse:Security",
        &[("soapenv:mustUnderstand", "1"), ("xmlns:wsse", WSSE)],
    );
    x.open("wsse:UsernameToken", &[]);
    x.leaf("wsse:Username", &[], username);
    x.leaf(
        "wsse:Password",
        &[("Type", PASSWORD_TEXT)],
        password.expose(),
    );
    x.close("wsse:UsernameToken");
    x.close("wsse:Security");
    x.close("soapenv:Header");
    x.open("soapenv:Body", &[]);
    x.raw(operation);
    x.close("soapenv:Body");
    x.close("soapenv:Envelope");
    let bytes = x.finish()?;
    String::from_utf8(bytes).map_err(|_| {
        ConnectorError::misconfigured(System::Workday, "the SOAP request is not valid UTF-8")
    })
}

/// A text-bearing element: the local names of its ancestors and itself, attributes, text.
struct Leaf {
    path: Vec<String>,
    attrs: Vec<(String, String)>,
    text: String,
}

impl Leaf {
    fn name(&self) -> &str {
        self.path.last().map(String::as_str).unwrap_or("")
    }
}

fn local(name: &[u8]) -> String {
    let s = String::from_utf8_lossy(name);
    match s.rsplit_once(':') {
        Some((_, l)) => l.to_string(),
        None => s.into_owned(),
    }
}

/// Flattens a document into its elements with text, by local name. `None` if it is not XML.
fn leaves(xml: &str) -> Option<Vec<Leaf>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    // Open elements: local name, attributes, text so far.
    struct Open {
        name: String,
        attrs: Vec<(String, String)>,
        text: String,
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut out = Vec::new();
    let mut saw_element = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                saw_element = true;
                let attrs = e
                    .attributes()
                    .flatten()
                    .map(|a| {
                        (
                            local(a.key.as_ref()),
                            a.unescape_value()
                                .map(|v| v.into_owned())
                                .unwrap_or_default(),
                        )
                    })
                    .collect();
                stack.push(Open {
                    name: local(e.name().as_ref()),
                    attrs,
                    text: String::new(),
                });
            }
            Ok(Event::Text(t)) => {
                if let Some(top) = stack.last_mut()
                    && let Ok(s) = t.decode()
                {
                    top.text.push_str(&s);
                }
            }
            Ok(Event::CData(t)) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some(top) = stack.last_mut() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        top.text.push(c);
                    } else if let Ok(name) = r.decode() {
                        let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                            .map(|c| c.into_owned())
                            .unwrap_or_default();
                        top.text.push_str(&resolved);
                    }
                }
            }
            Ok(Event::End(_)) => {
                let path: Vec<String> = stack.iter().map(|o| o.name.clone()).collect();
                if let Some(open) = stack.pop() {
                    out.push(Leaf {
                        path,
                        attrs: open.attrs,
                        text: open.text,
                    });
                }
            }
            Ok(Event::Empty(e)) => {
                saw_element = true;
                let mut path: Vec<String> = stack.iter().map(|o| o.name.clone()).collect();
                path.push(local(e.name().as_ref()));
                out.push(Leaf {
                    path,
                    attrs: Vec::new(),
                    text: String::new(),
                });
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    saw_element.then_some(out)
}

/// The WID under `Event_Reference` in a response, if any.
fn event_wid(xml: &str) -> Option<String> {
    leaves(xml)?
        .into_iter()
        .find(|l| {
            l.name() == "ID"
                && l.path.iter().any(|p| p == "Event_Reference")
                && l.attrs.iter().any(|(k, v)| k == "type" && v == "WID")
        })
        .map(|l| l.text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hr_values_are_escaped_in_the_request() {
        let body = change_work_email_body(
            "v44.0",
            &WorkerRef::employee("21<001>"),
            "o'brien&co@contoso.example",
            NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
            false,
        )
        .unwrap();
        let xml = String::from_utf8(body).unwrap();
        assert!(
            xml.contains(r#"<bsvc:ID bsvc:type="Employee_ID">21&lt;001&gt;</bsvc:ID>"#),
            "{xml}"
        );
        assert!(xml.contains("o&apos;brien&amp;co@contoso.example"), "{xml}");
        // And it is still well-formed XML that round-trips to the original values.
        let leaves = leaves(&xml).unwrap();
        assert!(
            leaves
                .iter()
                .any(|l| l.name() == "Email_Address" && l.text == "o'brien&co@contoso.example")
        );
    }

    #[test]
    fn control_characters_are_refused_not_sent() {
        let err = update_account_body("v44.0", &WorkerRef::employee("1"), "WD-EMPLID", "a\u{0}b")
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Misconfigured { .. }));
    }

    #[test]
    fn faults_are_classified_by_what_they_say() {
        let fault = |code: &str, s: &str| {
            SoapFault::parse(&format!(
                r#"<?xml version="1.0"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault><faultcode>{code}</faultcode><faultstring>{s}</faultstring></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>"#
            ))
            .unwrap()
        };
        assert!(
            fault(
                "SOAP-ENV:Client.authenticationError",
                "invalid username or password"
            )
            .is_auth()
        );
        assert!(
            fault(
                "SOAP-ENV:Client.processingError",
                "Processing error occurred. The task submitted is not authorized."
            )
            .is_auth()
        );
        let pending = fault(
            "SOAP-ENV:Client.validationError",
            "Validation error occurred. There is a pending Work Contact Change event for this worker",
        );
        assert!(pending.is_pending_business_process() && !pending.is_auth());
        let invalid = fault(
            "SOAP-ENV:Client.validationError",
            "Invalid ID value. &apos;9&apos; is not a valid ID",
        );
        assert_eq!(
            invalid.faultstring,
            "Invalid ID value. '9' is not a valid ID"
        );
        assert!(!invalid.is_auth() && !invalid.is_pending_business_process());
        assert!(SoapFault::parse("<wd:Response xmlns:wd=\"urn:com.workday/bsvc\"/>").is_none());
        assert!(SoapFault::parse("not xml at all <<<").is_none());
    }

    #[test]
    fn the_event_wid_is_read_from_a_success_response() {
        let xml = r#"<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body><wd:Change_Work_Contact_Information_Response xmlns:wd="urn:com.workday/bsvc" wd:version="v44.0"><wd:Person_Reference><wd:ID wd:type="WID">p1</wd:ID></wd:Person_Reference><wd:Event_Reference><wd:ID wd:type="WID">ev-42</wd:ID></wd:Event_Reference></wd:Change_Work_Contact_Information_Response></env:Body></env:Envelope>"#;
        assert_eq!(event_wid(xml).as_deref(), Some("ev-42"));
    }
}
