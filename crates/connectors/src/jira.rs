//! Jira Service Management Cloud: customer requests (`POST /rest/servicedeskapi/request`).
//!
//! Idempotency (Jira has no idempotency key): every request dayone raises carries the label
//! `dayone-<key>` in `requestFieldValues.labels`, and [`JiraClient::create_request`] first
//! searches `labels = "dayone-<key>"` through `GET /rest/api/3/search/jql`; a hit is returned
//! instead of creating another. The request type must therefore expose the Labels field.
//! The search index lags writes by a few seconds, so callers that re-run immediately should
//! also keep the returned `issueKey` (the create-ticket step stores it in a receipt), and a
//! caller that knows an interrupted attempt may have raised the request seconds ago can look
//! several times before raising one ([`JiraClient::create_request_with`], [`LabelSearch`]).
//!
//! Auth is Basic `email:api_token`. Both error shapes are parsed: the Service Desk one
//! (`errorMessage`) and the platform one (`errorMessages` + `errors`).

use std::sync::Arc;
use std::time::Duration;

use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::SecretStore;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{ConnectorError, System};
use crate::transport::{
    Reply, RetryPolicy, Transport, auth_header, basic_auth, enc_query, join, json_problem,
};

/// Where the site is and who we are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JiraSettings {
    /// Site URL, e.g. `https://acme.atlassian.net` (or a twin's URL).
    pub base_url: String,
    /// The account email the API token belongs to.
    pub email: String,
    /// Name of the API token in the secret store.
    pub api_token_secret_name: String,
}

/// A customer request to raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJiraRequest {
    pub service_desk_id: String,
    pub request_type_id: String,
    pub summary: String,
    pub description: Option<String>,
    /// Further fields (`customfield_10004: {"id": "10103"}` …), sent as given.
    pub extra_fields: Map<String, Value>,
    /// accountId or email of the person the request is for.
    pub raise_on_behalf_of: Option<String>,
    pub request_participants: Vec<String>,
    /// The idempotency key (e.g. the hire event id): becomes the label `dayone-<key>`.
    pub idempotency_key: String,
}

/// A request dayone raised or found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JiraTicket {
    pub issue_id: String,
    pub issue_key: String,
    /// Link to the request in the portal, when Jira gave one.
    pub web_link: Option<String>,
    /// `false` when an earlier run had already raised it.
    pub created: bool,
}

/// Either Jira error envelope, flattened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JiraErrorBody {
    pub messages: Vec<String>,
}

impl JiraErrorBody {
    pub fn parse(body: &[u8]) -> Option<JiraErrorBody> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let mut messages = Vec::new();
        if let Some(m) = v.get("errorMessage").and_then(Value::as_str) {
            messages.push(m.to_string());
        }
        if let Some(list) = v.get("errorMessages").and_then(Value::as_array) {
            messages.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
        if let Some(fields) = v.get("errors").and_then(Value::as_object) {
            messages.extend(
                fields
                    .iter()
                    .map(|(k, m)| format!("{k}: {}", m.as_str().unwrap_or_default())),
            );
        }
        (!messages.is_empty()).then_some(JiraErrorBody { messages })
    }
}

/// The label that marks a request as raised for `key`. Labels cannot hold spaces.
pub fn idempotency_label(key: &str) -> Result<String, ConnectorError> {
    if key.is_empty()
        || key.len() > 200
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(ConnectorError::misconfigured(
            System::Jira,
            format!(
                "idempotency key '{}' must be 1-200 characters of A-Z a-z 0-9 - _ . :",
                key.escape_default()
            ),
        ));
    }
    Ok(format!("dayone-{key}"))
}

/// How hard to look for an earlier request before raising one.
///
/// Jira's search index shows a new request only a few seconds after it was raised. One search is
/// enough when no earlier attempt can have raised the request moments ago; a retry after an
/// attempt that was interrupted (timed out, crashed) searches `searches` times, `wait` apart, so
/// the request that attempt raised has time to reach the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelSearch {
    /// Searches before giving up and raising the request (0 is treated as 1).
    pub searches: u32,
    /// Pause between two searches.
    pub wait: Duration,
}

impl LabelSearch {
    /// A single search: what [`JiraClient::create_request`] does.
    pub const ONCE: LabelSearch = LabelSearch {
        searches: 1,
        wait: Duration::ZERO,
    };
}

/// A JQL string literal: `"` and `\` escaped.
pub fn jql_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Client for Jira Service Management Cloud.
pub struct JiraClient {
    transport: Transport,
    secrets: Arc<dyn SecretStore>,
    settings: JiraSettings,
}

impl JiraClient {
    pub fn new(http: EgressClient, secrets: Arc<dyn SecretStore>, settings: JiraSettings) -> Self {
        JiraClient {
            transport: Transport::new(System::Jira, http),
            secrets,
            settings,
        }
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.transport.policy = policy;
        self
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ConnectorError> {
        let token = self
            .secrets
            .get(&self.settings.api_token_secret_name)
            .await
            .map_err(|source| ConnectorError::Secret {
                system: System::Jira,
                source,
            })?;
        let auth = auth_header(
            System::Jira,
            basic_auth(&self.settings.email, token.expose()),
        )?;
        self.transport
            .execute(
                || {
                    let mut rb = self
                        .transport
                        .request(method.clone(), url)
                        .header("authorization", auth.clone())
                        .header("accept", "application/json");
                    if let Some(b) = body {
                        rb = rb
                            .header("content-type", "application/json")
                            .body(b.to_string());
                    }
                    rb
                },
                |_| false,
            )
            .await
    }

    fn error(&self, reply: &Reply) -> ConnectorError {
        let parsed = JiraErrorBody::parse(&reply.body);
        let detail = parsed
            .as_ref()
            .map(|p| p.messages.join("; "))
            .unwrap_or_else(|| reply.text_snippet());
        if let Some(e) = self.transport.transient_error(reply, &detail) {
            return e;
        }
        let status = reply.status.as_u16();
        match status {
            401 | 403 => ConnectorError::unauthorized(System::Jira, detail),
            _ => ConnectorError::rejected(
                System::Jira,
                Some(status),
                format!("HTTP {status}"),
                detail,
            ),
        }
    }

    /// The request already labelled `dayone-<key>`, if any.
    pub async fn find_by_idempotency_key(
        &self,
        key: &str,
    ) -> Result<Option<JiraTicket>, ConnectorError> {
        let jql = format!("labels = {}", jql_string(&idempotency_label(key)?));
        let url = join(
            &self.settings.base_url,
            &format!(
                "rest/api/3/search/jql?jql={}&fields=summary&maxResults=1",
                enc_query(&jql)
            ),
        );
        let reply = self.send(Method::GET, &url, None).await?;
        if reply.status.as_u16() != 200 {
            return Err(self.error(&reply));
        }
        #[derive(Deserialize)]
        struct Found {
            #[serde(default)]
            issues: Vec<Issue>,
        }
        #[derive(Deserialize)]
        struct Issue {
            id: String,
            key: String,
        }
        let found: Found = serde_json::from_slice(&reply.body)
            .map_err(|e| ConnectorError::retryable(System::Jira, json_problem(&e)))?;
        Ok(found.issues.into_iter().next().map(|i| JiraTicket {
            issue_id: i.id,
            issue_key: i.key,
            web_link: None,
            created: false,
        }))
    }

    /// The request labelled `dayone-<key>`, searched for up to `search.searches` times with
    /// `search.wait` between searches, so that a request raised moments ago can reach the index.
    pub async fn find_by_idempotency_key_with(
        &self,
        key: &str,
        search: LabelSearch,
    ) -> Result<Option<JiraTicket>, ConnectorError> {
        let searches = search.searches.max(1);
        for done in 1..=searches {
            if let Some(found) = self.find_by_idempotency_key(key).await? {
                return Ok(Some(found));
            }
            if done < searches {
                tokio::time::sleep(search.wait).await;
            }
        }
        Ok(None)
    }

    /// Raises the request unless one labelled with its idempotency key exists (one search).
    pub async fn create_request(
        &self,
        request: &NewJiraRequest,
    ) -> Result<JiraTicket, ConnectorError> {
        self.create_request_with(request, LabelSearch::ONCE).await
    }

    /// Raises the request unless one labelled with its idempotency key is found by `search`.
    pub async fn create_request_with(
        &self,
        request: &NewJiraRequest,
        search: LabelSearch,
    ) -> Result<JiraTicket, ConnectorError> {
        let label = idempotency_label(&request.idempotency_key)?;
        if let Some(existing) = self
            .find_by_idempotency_key_with(&request.idempotency_key, search)
            .await?
        {
            return Ok(existing);
        }
        let mut fields = Map::new();
        fields.insert("summary".into(), json!(request.summary));
        if let Some(d) = &request.description {
            fields.insert("description".into(), json!(d));
        }
        for (k, v) in &request.extra_fields {
            fields.insert(k.clone(), v.clone());
        }
        let mut labels = match fields.remove("labels") {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        labels.push(json!(label));
        fields.insert("labels".into(), Value::Array(labels));

        let mut body = Map::new();
        body.insert("serviceDeskId".into(), json!(request.service_desk_id));
        body.insert("requestTypeId".into(), json!(request.request_type_id));
        body.insert("requestFieldValues".into(), Value::Object(fields));
        if let Some(who) = &request.raise_on_behalf_of {
            body.insert("raiseOnBehalfOf".into(), json!(who));
        }
        if !request.request_participants.is_empty() {
            body.insert(
                "requestParticipants".into(),
                json!(request.request_participants),
            );
        }
        let body = Value::Object(body);
        let url = join(&self.settings.base_url, "rest/servicedeskapi/request");
        let reply = self.send(Method::POST, &url, Some(&body)).await?;
        match reply.status.as_u16() {
            200 | 201 => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Created {
                    issue_id: String,
                    issue_key: String,
                    #[serde(default, rename = "_links")]
                    links: Option<Value>,
                }
                let c: Created = serde_json::from_slice(&reply.body)
                    .map_err(|e| ConnectorError::retryable(System::Jira, json_problem(&e)))?;
                Ok(JiraTicket {
                    issue_id: c.issue_id,
                    issue_key: c.issue_key,
                    web_link: c
                        .links
                        .as_ref()
                        .and_then(|l| l.get("web"))
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    created: true,
                })
            }
            _ => Err(self.error(&reply)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_are_flattened() {
        let sd = JiraErrorBody::parse(
            br#"{"errorMessage":"The request type you specified does not exist.","i18nErrorMessage":{"i18nKey":"sd.request.type.not.found","parameters":[]}}"#,
        )
        .unwrap();
        assert_eq!(
            sd.messages,
            ["The request type you specified does not exist."]
        );
        let platform = JiraErrorBody::parse(
            br#"{"errorMessages":["Bad thing"],"errors":{"summary":"Summary is required."}}"#,
        )
        .unwrap();
        assert_eq!(
            platform.messages,
            ["Bad thing", "summary: Summary is required."]
        );
    }

    #[test]
    fn labels_and_jql_cannot_be_broken_out_of() {
        assert_eq!(idempotency_label("evt-1").unwrap(), "dayone-evt-1");
        assert!(idempotency_label("a\" OR project = X").is_err());
        assert_eq!(jql_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
