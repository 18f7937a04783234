//! Twin of Workday Web Services, `Human_Resources` service, SOAP 1.1:
//! `Change_Work_Contact_Information_Request`, the legacy
//! `Maintain_Contact_Information_for_Person_Event_Request`, `Workday_Account_for_Worker_Update`
//! and a `Get_Workers_Request` by reference (to read before writing), behind a WS-Security UsernameToken.
//! Faults are SOAP faults on HTTP 500, with Workday's `Validation_Fault` /
//! `Processing_Fault` detail.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use quick_xml::Reader;
use quick_xml::events::Event;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::WorkdayConfig;
use crate::util::{self, xml_escape};

const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const WD_NS: &str = "urn:com.workday/bsvc";

/// One successful write into Workday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkdayWriteback {
    /// The SOAP operation (request element name).
    pub operation: String,
    /// The worker's id as referenced.
    pub worker_id: String,
    /// The primary WORK email written, if the operation carried one.
    pub work_email: Option<String>,
    /// The Workday account user name written, if the operation carried one.
    pub username: Option<String>,
    /// WID of the event Workday created.
    pub event_wid: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
struct WorkerRecord {
    work_email: Option<String>,
    username: Option<String>,
}

pub(crate) struct WorkdayState {
    cfg: WorkdayConfig,
    workers: BTreeMap<String, WorkerRecord>,
    writebacks: Vec<WorkdayWriteback>,
    pending_next: u32,
}

impl fmt::Debug for WorkdayState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkdayState")
            .field("workers", &self.workers.len())
            .field("writebacks", &self.writebacks.len())
            .finish_non_exhaustive()
    }
}

pub(crate) type Shared = Arc<Mutex<WorkdayState>>;

pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, WorkdayState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl WorkdayState {
    pub(crate) fn new(cfg: WorkdayConfig) -> Self {
        let workers = cfg
            .workers
            .iter()
            .map(|w| (w.clone(), WorkerRecord::default()))
            .collect();
        Self {
            cfg,
            workers,
            writebacks: Vec::new(),
            pending_next: 0,
        }
    }

    pub(crate) fn add_worker(&mut self, id: &str) {
        self.workers.entry(id.to_owned()).or_default();
    }

    pub(crate) fn set_pending_next(&mut self, n: u32) {
        self.pending_next = n;
    }

    pub(crate) fn writebacks(&self) -> Vec<WorkdayWriteback> {
        self.writebacks.clone()
    }

    pub(crate) fn password(&self) -> &str {
        &self.cfg.password
    }

    pub(crate) fn snapshot(&self) -> Value {
        json!({"workers": self.workers, "writebacks": self.writebacks})
    }
}

/// A parsed XML element, namespaces reduced to local names (Workday clients use any prefix).
#[derive(Debug, Default)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<El>,
    text: String,
}

impl El {
    fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }

    fn path(&self, names: &[&str]) -> Option<&El> {
        names.iter().try_fold(self, |el, n| el.child(n))
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &str, out: &mut Vec<&'a El>) {
        for c in &self.children {
            if c.name == name {
                out.push(c);
            }
            c.all(name, out);
        }
    }

    fn value(&self) -> String {
        self.text.trim().to_owned()
    }
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn element(s: &quick_xml::events::BytesStart<'_>) -> Result<El, String> {
    let mut el = El {
        name: local(s.local_name().as_ref()),
        ..El::default()
    };
    for a in s.attributes() {
        let a = a.map_err(|e| format!("XML attribute is not well-formed: {e}"))?;
        let v = a.unescape_value().map_err(|e| e.to_string())?.into_owned();
        el.attrs.push((local(a.key.local_name().as_ref()), v));
    }
    Ok(el)
}

fn parse_xml(body: &[u8]) -> Result<El, String> {
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<El> = vec![El::default()];
    let mut buf = Vec::new();
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("XML is not well-formed: {e}"))?;
        match ev {
            Event::Start(s) => stack.push(element(&s)?),
            Event::Empty(s) => {
                let el = element(&s)?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(el);
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unbalanced end tag")?;
                let parent = stack.last_mut().ok_or("unbalanced end tag")?;
                parent.children.push(el);
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| e.to_string())?;
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                let name = r.decode().map_err(|e| e.to_string())?;
                let ch = match name.as_ref() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => r.resolve_char_ref().map_err(|e| e.to_string())?,
                };
                let ch = ch.ok_or_else(|| format!("unknown entity '&{name};'"))?;
                if let Some(el) = stack.last_mut() {
                    el.text.push(ch);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if stack.len() != 1 {
        return Err("XML document ended before every element was closed".into());
    }
    let mut root = stack.pop().unwrap_or_default();
    root.children
        .pop()
        .ok_or_else(|| "the request body holds no XML element".into())
}

fn xml_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml;charset=UTF-8"),
    );
    r
}

fn envelope(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<env:Envelope xmlns:env=\"{SOAP_NS}\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\"><env:Body>{inner}</env:Body></env:Envelope>"
    )
}

fn fault(code: &str, message: &str, detail: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"{SOAP_NS}\"><SOAP-ENV:Body><SOAP-ENV:Fault xmlns:wd=\"{WD_NS}\"><faultcode>{code}</faultcode><faultstring>{}</faultstring>{detail}</SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>",
        xml_escape(message)
    );
    xml_response(StatusCode::INTERNAL_SERVER_ERROR, body)
}

fn auth_fault() -> Response {
    fault(
        "SOAP-ENV:Client.authenticationError",
        "invalid username or password",
        "",
    )
}

fn validation_fault(message: &str, xpath: &str) -> Response {
    let detail = format!(
        "<detail><wd:Validation_Fault><wd:Validation_Error><wd:Message>{m}</wd:Message><wd:Detail_Message>{m}</wd:Detail_Message><wd:Xpath>{x}</wd:Xpath></wd:Validation_Error></wd:Validation_Fault></detail>",
        m = xml_escape(message),
        x = xml_escape(xpath)
    );
    fault(
        "SOAP-ENV:Client.validationError",
        &format!("Validation error occurred. {message}"),
        &detail,
    )
}

fn processing_fault(message: &str) -> Response {
    let detail = format!(
        "<detail><wd:Processing_Fault><wd:Detail_Message>{}</wd:Detail_Message></wd:Processing_Fault></detail>",
        xml_escape(message)
    );
    fault(
        "SOAP-ENV:Client.processingError",
        &format!("Processing error occurred. {message}"),
        &detail,
    )
}

/// Injected faults: a SOAP fault with the injected HTTP status.
pub(crate) fn render_fault(status: StatusCode) -> Response {
    let message = match status.as_u16() {
        429 => {
            "Too many requests: the tenant's web service request limit was exceeded. Retry later."
        }
        503 => "Service Unavailable: the tenant is unavailable, retry later.",
        504 => "Gateway Timeout: the request took too long to process.",
        _ => "An internal error occurred while processing the request.",
    };
    let mut r = fault("SOAP-ENV:Server", message, "");
    *r.status_mut() = status;
    r
}

pub(crate) fn router(st: Shared) -> Router {
    Router::new()
        .route(
            "/ccx/service/{tenant}/Human_Resources/{version}",
            post(human_resources),
        )
        .fallback(|| async {
            fault(
                "SOAP-ENV:Client",
                "Invalid request: the service or tenant in the URL does not exist.",
                "",
            )
        })
        .with_state(st)
}

fn worker_id(reference: &El) -> Option<(String, String)> {
    let mut ids = Vec::new();
    reference.all("ID", &mut ids);
    if reference.name == "ID" {
        ids.push(reference);
    }
    ids.into_iter().find_map(|id| {
        let kind = id
            .attr("type")
            .or_else(|| id.attr("System_ID"))
            .unwrap_or("Employee_ID")
            .to_owned();
        let v = id.value();
        (!v.is_empty()).then_some((v, kind))
    })
}

fn is_primary_work(usage: Option<&El>) -> bool {
    let Some(usage) = usage else {
        return false;
    };
    let mut types = Vec::new();
    usage.all("Type_Data", &mut types);
    types.iter().any(|t| {
        let primary = t.attr("Primary").is_some_and(|p| p == "true" || p == "1");
        let mut ids = Vec::new();
        t.all("ID", &mut ids);
        primary && ids.iter().any(|i| i.value().eq_ignore_ascii_case("WORK"))
    })
}

async fn human_resources(
    State(st): State<Shared>,
    Path((tenant, version)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let doc = match parse_xml(&body) {
        Ok(d) => d,
        Err(e) => return fault("SOAP-ENV:Client", &format!("Invalid request: {e}"), ""),
    };
    if doc.name != "Envelope" {
        return fault(
            "SOAP-ENV:VersionMismatch",
            "Invalid request: the body is not a SOAP 1.1 Envelope.",
            "",
        );
    }
    let token = doc.path(&["Header", "Security", "UsernameToken"]);
    let user = token.and_then(|t| t.child("Username")).map(El::value);
    let password = token.and_then(|t| t.child("Password")).map(El::value);
    let mut s = lock(&st);
    let authenticated = tenant == s.cfg.tenant
        && user.as_deref() == Some(s.cfg.username.as_str())
        && password
            .as_deref()
            .is_some_and(|p| util::same_secret(p, &s.cfg.password));
    if !authenticated {
        return auth_fault();
    }
    let valid_version = version.strip_prefix('v').is_some_and(|v| {
        !v.is_empty()
            && v.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    });
    if !valid_version {
        return fault(
            "SOAP-ENV:Client",
            &format!(
                "Invalid request: web service version '{version}' does not exist; use a version like v44.0."
            ),
            "",
        );
    }
    let Some(op) = doc.child("Body").and_then(|b| b.children.first()) else {
        return fault(
            "SOAP-ENV:Client",
            "Invalid request: the SOAP Body is empty.",
            "",
        );
    };
    if op.name == "Get_Workers_Request" {
        return get_workers(&s, op, &version);
    }
    let (data, reference_path, operation): (Option<&El>, &[&str], &str) = match op.name.as_str() {
        "Change_Work_Contact_Information_Request" => (
            op.child("Change_Work_Contact_Information_Data"),
            &["Person_Reference"],
            "Change_Work_Contact_Information",
        ),
        "Maintain_Contact_Information_for_Person_Event_Request" => (
            op.child("Maintain_Contact_Information_Data"),
            &["Worker_Reference"],
            "Maintain_Contact_Information",
        ),
        "Workday_Account_for_Worker_Update" => {
            (Some(op), &["Worker_Reference"], "Update_Workday_Account")
        }
        other => {
            return validation_fault(
                &format!(
                    "The request element '{other}' is not an operation of the Human_Resources service."
                ),
                &format!("/{other}"),
            );
        }
    };
    let Some(data) = data else {
        return validation_fault(
            "Required data is missing: the operation's _Data element.",
            &format!("/{}[1]", op.name),
        );
    };
    let Some((wid, id_type)) = data.path(reference_path).and_then(worker_id) else {
        return validation_fault(
            &format!("{} is required.", reference_path[0]),
            &format!("/{}[1]/{}", op.name, reference_path[0]),
        );
    };
    if !s.workers.contains_key(&wid) {
        return validation_fault(
            &format!("Invalid ID value.  '{wid}' is not a valid ID value for type = '{id_type}'"),
            &format!("/{}[1]/{}[1]/ID[1]", op.name, reference_path[0]),
        );
    }
    let (work_email, username) = match operation {
        "Update_Workday_Account" => {
            let name = data
                .path(&["Workday_Account_for_Worker_Data", "User_Name"])
                .map(El::value)
                .filter(|v| !v.is_empty());
            let Some(name) = name else {
                return validation_fault(
                    "User Name is required.",
                    "/Workday_Account_for_Worker_Update[1]/Workday_Account_for_Worker_Data[1]/User_Name",
                );
            };
            (None, Some(name))
        }
        _ => {
            let mut entries = Vec::new();
            data.all("Email_Information_Data", &mut entries);
            data.all("Email_Address_Data", &mut entries);
            let mut primaries = Vec::new();
            for e in entries {
                if e.attr("Delete").is_some_and(|d| d == "true") {
                    continue;
                }
                let address = e
                    .path(&["Email_Data", "Email_Address"])
                    .or_else(|| e.child("Email_Address"))
                    .map(El::value)
                    .unwrap_or_default();
                if is_primary_work(e.child("Usage_Data")) {
                    primaries.push(address);
                }
            }
            if primaries.len() > 1 {
                return validation_fault(
                    "Only one primary work email address is allowed.",
                    &format!("/{}[1]", op.name),
                );
            }
            if let Some(addr) = primaries.first()
                && (addr.is_empty() || !addr.contains('@'))
            {
                return validation_fault(
                    &format!("Email Address '{addr}' is not a valid email address."),
                    &format!("/{}[1]", op.name),
                );
            }
            (primaries.pop(), None)
        }
    };
    if s.pending_next > 0 {
        s.pending_next -= 1;
        return processing_fault(&format!(
            "A business process for worker '{wid}' is pending (already in progress) on the same data. Complete or cancel it, then submit again."
        ));
    }
    let event_wid = util::hex_id();
    let record = s.workers.entry(wid.clone()).or_default();
    if work_email.is_some() {
        record.work_email.clone_from(&work_email);
    }
    if username.is_some() {
        record.username.clone_from(&username);
    }
    s.writebacks.push(WorkdayWriteback {
        operation: operation.to_owned(),
        worker_id: wid.clone(),
        work_email,
        username,
        event_wid: event_wid.clone(),
    });
    let req_version = op.attr("version").unwrap_or(&version);
    let inner = match operation {
        "Update_Workday_Account" => format!(
            "<wd:Workday_Account_for_Worker_Update_Response xmlns:wd=\"{WD_NS}\" wd:version=\"{v}\"/>",
            v = xml_escape(req_version)
        ),
        _ => {
            let resp = format!("{}_Response", operation);
            format!(
                "<wd:{resp} xmlns:wd=\"{WD_NS}\" wd:version=\"{v}\"><wd:Person_Event_Reference wd:Descriptor=\"Work Contact Change: {w}\"><wd:ID wd:type=\"WID\">{event_wid}</wd:ID></wd:Person_Event_Reference></wd:{resp}>",
                v = xml_escape(req_version),
                w = xml_escape(&wid)
            )
        }
    };
    xml_response(StatusCode::OK, envelope(&inner))
}

/// `Get_Workers_Request` by `Request_References`: enough of the response for a client to
/// read the current primary work email and user id before writing (idempotent write-back).
fn get_workers(s: &WorkdayState, op: &El, version: &str) -> Response {
    let mut refs = Vec::new();
    if let Some(r) = op.child("Request_References") {
        r.all("Worker_Reference", &mut refs);
    }
    if refs.is_empty() {
        return validation_fault(
            "Request_References with at least one Worker_Reference is required by this sandbox.",
            "/Get_Workers_Request[1]/Request_References",
        );
    }
    let skip_missing = op
        .child("Request_References")
        .and_then(|r| r.attr("Skip_Non_Existing_Instances"))
        .is_some_and(|v| v == "true" || v == "1");
    let mut workers = String::new();
    let mut found = 0;
    for r in refs {
        let Some((wid, id_type)) = worker_id(r) else {
            continue;
        };
        let Some(rec) = s.workers.get(&wid) else {
            if skip_missing {
                continue;
            }
            return validation_fault(
                &format!(
                    "Invalid ID value.  '{wid}' is not a valid ID value for type = '{id_type}'"
                ),
                "/Get_Workers_Request[1]/Request_References[1]/Worker_Reference[1]/ID[1]",
            );
        };
        found += 1;
        let user = rec
            .username
            .as_deref()
            .map(|u| format!("<wd:User_ID>{}</wd:User_ID>", xml_escape(u)))
            .unwrap_or_default();
        let email = rec
            .work_email
            .as_deref()
            .map(|e| {
                format!(
                    "<wd:Personal_Data><wd:Contact_Data><wd:Email_Address_Data><wd:Email_Address>{}</wd:Email_Address><wd:Usage_Data wd:Public=\"1\"><wd:Type_Data wd:Primary=\"1\"><wd:Type_Reference><wd:ID wd:type=\"Communication_Usage_Type_ID\">WORK</wd:ID></wd:Type_Reference></wd:Type_Data></wd:Usage_Data></wd:Email_Address_Data></wd:Contact_Data></wd:Personal_Data>",
                    xml_escape(e)
                )
            })
            .unwrap_or_default();
        let w = xml_escape(&wid);
        let t = xml_escape(&id_type);
        workers.push_str(&format!(
            "<wd:Worker><wd:Worker_Reference><wd:ID wd:type=\"{t}\">{w}</wd:ID></wd:Worker_Reference><wd:Worker_Data><wd:Worker_ID>{w}</wd:Worker_ID>{user}{email}</wd:Worker_Data></wd:Worker>"
        ));
    }
    let inner = format!(
        "<wd:Get_Workers_Response xmlns:wd=\"{WD_NS}\" wd:version=\"{v}\"><wd:Response_Results><wd:Total_Results>{found}</wd:Total_Results><wd:Total_Pages>1</wd:Total_Pages><wd:Page_Results>{found}</wd:Page_Results><wd:Page>1</wd:Page></wd:Response_Results><wd:Response_Data>{workers}</wd:Response_Data></wd:Get_Workers_Response>",
        v = xml_escape(op.attr("version").unwrap_or(version))
    );
    xml_response(StatusCode::OK, envelope(&inner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_keeps_local_names_entities_and_attributes() {
        let doc = parse_xml(
            br#"<s:Envelope xmlns:s="x"><s:Body><b:Op b:version="v1" xmlns:b="y"><b:V>a &amp; b&#33;</b:V><b:E b:Primary="true"/></b:Op></s:Body></s:Envelope>"#,
        )
        .unwrap();
        let op = doc.path(&["Body", "Op"]).unwrap();
        assert_eq!(op.attr("version"), Some("v1"));
        assert_eq!(op.child("V").unwrap().value(), "a & b!");
        assert_eq!(op.child("E").unwrap().attr("Primary"), Some("true"));
    }

    #[test]
    fn malformed_xml_is_an_error_not_a_panic() {
        assert!(parse_xml(b"<a><b></a>").is_err());
        assert!(parse_xml(b"").is_err());
        assert!(parse_xml(b"<a>").is_err());
    }
}
