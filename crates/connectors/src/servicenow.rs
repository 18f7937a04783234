//! ServiceNow: Table API records and Service Catalog orders, both idempotent through
//! `correlation_id` (ServiceNow has no idempotency-key header).
//!
//! - [`ServiceNowClient::create_record`]: query `{table}` for the correlation id, create only
//!   when nothing holds it.
//! - [`ServiceNowClient::order_catalog_item`]: [`find_catalog_order`] (a requested item,
//!   `sc_req_item`, holding the correlation id); otherwise [`place_catalog_order`] then
//!   [`finish_catalog_order`]. The catalog API has no correlation field, so the id is patched
//!   onto the order's requested item (RITM) after ordering, and looked up before re-ordering.
//!
//! The two steps are public because the gap between them is where a duplicate comes from: an
//! attempt that ordered but failed before its mark landed (RITM not visible yet, PATCH 5xx,
//! Lambda timeout) leaves a request that no correlation lookup finds, and its retry would order
//! again. A caller that records the [`PlacedOrder`] between the steps (create-ticket keeps it on
//! its receipt) resumes with [`finish_catalog_order`] instead of ordering twice.
//!
//! - [`place_catalog_order`]: `order_now` (or, on instances with two-step checkout,
//!   `order_now` → `cart_id` → `cart/submit_order`) → [`PlacedOrder`].
//! - [`finish_catalog_order`]: `GET sc_req_item?sysparm_query=request=<request>`, then `PATCH`
//!   the RITM with `correlation_id` / `correlation_display`, unless it already carries this
//!   correlation id (an earlier mark landed), so repeating it is harmless.
//!
//! [`find_catalog_order`]: ServiceNowClient::find_catalog_order
//! [`place_catalog_order`]: ServiceNowClient::place_catalog_order
//! [`finish_catalog_order`]: ServiceNowClient::finish_catalog_order
//!
//! Auth is Basic or OAuth (password grant at `oauth_token.do`, token cached).

use std::sync::Arc;
use std::time::Duration;

use dayone_sdk::http::EgressClient;
use dayone_sdk::secrets::{SecretStore, SecretString};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{ConnectorError, System};
use crate::token::{TokenCache, TokenCacheStats};
use crate::transport::{
    Reply, RetryPolicy, Transport, auth_header, basic_auth, enc_path, enc_query, form_body, join,
    json_problem,
};

/// How to authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceNowAuth {
    /// HTTP Basic with an integration user.
    Basic {
        username: String,
        password_secret_name: String,
    },
    /// OAuth 2 password grant at `/oauth_token.do`.
    OAuthPassword {
        client_id: String,
        client_secret_name: String,
        username: String,
        password_secret_name: String,
    },
}

/// Where the instance is and how to talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNowSettings {
    /// Instance URL, e.g. `https://acme.service-now.com` (or a twin's URL).
    pub base_url: String,
    pub auth: ServiceNowAuth,
    /// Written to `correlation_display` next to every correlation id.
    pub correlation_display: String,
}

/// A record dayone created or found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TicketRef {
    pub table: String,
    pub sys_id: String,
    pub number: String,
    /// `false` when an earlier run had already created it.
    pub created: bool,
}

/// A Service Catalog order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogOrder {
    pub quantity: u32,
    /// Catalog variables by name (references as sys_ids, list collectors comma-separated).
    pub variables: Map<String, Value>,
    /// The user sys_id the request is for.
    pub requested_for: Option<String>,
}

/// A catalog order ServiceNow accepted: the request (REQ) exists, its requested item is not
/// marked yet. Keep `request_sys_id` somewhere durable before finishing the order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlacedOrder {
    /// `sys_id` of the `sc_request`.
    pub request_sys_id: String,
    /// `REQ…`, when the order response named it.
    pub request_number: Option<String>,
}

/// The outcome of an order: the request (REQ) and its requested item (RITM).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CatalogOrderResult {
    pub request_sys_id: Option<String>,
    pub request_number: Option<String>,
    pub item: TicketRef,
}

/// The ServiceNow error envelope `{"error":{"message","detail"},"status":"failure"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceNowErrorBody {
    pub message: String,
    pub detail: Option<String>,
}

impl ServiceNowErrorBody {
    pub fn parse(body: &[u8]) -> Option<ServiceNowErrorBody> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let e = v.get("error")?;
        // oauth_token.do answers `{"error":"server_error","error_description":"access_denied"}`.
        if let Some(code) = e.as_str() {
            return Some(ServiceNowErrorBody {
                message: code.to_string(),
                detail: v
                    .get("error_description")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
        }
        Some(ServiceNowErrorBody {
            message: e.get("message")?.as_str()?.to_string(),
            detail: e
                .get("detail")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .map(str::to_string),
        })
    }

    fn describe(&self) -> String {
        match &self.detail {
            Some(d) => format!("{}: {d}", self.message),
            None => self.message.clone(),
        }
    }
}

/// Client for the ServiceNow Table and Service Catalog APIs.
pub struct ServiceNowClient {
    transport: Transport,
    secrets: Arc<dyn SecretStore>,
    settings: ServiceNowSettings,
    tokens: TokenCache,
}

impl ServiceNowClient {
    pub fn new(
        http: EgressClient,
        secrets: Arc<dyn SecretStore>,
        settings: ServiceNowSettings,
    ) -> Self {
        ServiceNowClient {
            transport: Transport::new(System::ServiceNow, http),
            secrets,
            settings,
            tokens: TokenCache::new(Duration::from_secs(120)),
        }
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.transport.policy = policy;
        self
    }

    /// OAuth token cache hits and misses (all misses stay 0 with Basic auth).
    pub fn token_cache_stats(&self) -> TokenCacheStats {
        self.tokens.stats()
    }

    async fn secret(&self, name: &str) -> Result<SecretString, ConnectorError> {
        self.secrets
            .get(name)
            .await
            .map_err(|source| ConnectorError::Secret {
                system: System::ServiceNow,
                source,
            })
    }

    async fn authorization(&self) -> Result<String, ConnectorError> {
        match &self.settings.auth {
            ServiceNowAuth::Basic {
                username,
                password_secret_name,
            } => {
                let password = self.secret(password_secret_name).await?;
                Ok(basic_auth(username, password.expose()))
            }
            ServiceNowAuth::OAuthPassword { .. } => {
                let token = self.tokens.get(|| self.fetch_token()).await?;
                Ok(format!("Bearer {}", token.expose()))
            }
        }
    }

    async fn fetch_token(&self) -> Result<(SecretString, Duration), ConnectorError> {
        let ServiceNowAuth::OAuthPassword {
            client_id,
            client_secret_name,
            username,
            password_secret_name,
        } = &self.settings.auth
        else {
            return Err(ConnectorError::misconfigured(
                System::ServiceNow,
                "no OAuth settings",
            ));
        };
        let client_secret = self.secret(client_secret_name).await?;
        let password = self.secret(password_secret_name).await?;
        let form = SecretString::new(form_body(&[
            ("grant_type", "password"),
            ("client_id", client_id),
            ("client_secret", client_secret.expose()),
            ("username", username),
            ("password", password.expose()),
        ]));
        let url = join(&self.settings.base_url, "oauth_token.do");
        let reply = self
            .transport
            .execute(
                || {
                    self.transport
                        .request(Method::POST, &url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("accept", "application/json")
                        .body(form.expose().to_string())
                },
                |_| false,
            )
            .await?;
        if reply.status.is_success() {
            #[derive(Deserialize)]
            struct Tok {
                access_token: SecretString,
                #[serde(default)]
                expires_in: Option<u64>,
            }
            let tok: Tok = serde_json::from_slice(&reply.body).map_err(|_| {
                ConnectorError::retryable(
                    System::ServiceNow,
                    "the OAuth token response had an unexpected shape",
                )
            })?;
            return Ok((
                tok.access_token,
                Duration::from_secs(tok.expires_in.unwrap_or(1800)),
            ));
        }
        let detail = ServiceNowErrorBody::parse(&reply.body)
            .map(|e| format!("OAuth token request refused ({})", e.describe()))
            .unwrap_or_else(|| format!("OAuth token request refused (HTTP {})", reply.status));
        if let Some(e) = self.transport.transient_error(&reply, &detail) {
            return Err(e);
        }
        Err(ConnectorError::unauthorized(System::ServiceNow, detail))
    }

    /// One API call: auth header, retries, one token refresh on 401 with OAuth.
    async fn send<R: Fn(&Reply) -> bool>(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        replication: R,
    ) -> Result<Reply, ConnectorError> {
        let mut refreshed = false;
        loop {
            let auth = auth_header(System::ServiceNow, self.authorization().await?)?;
            let reply = self
                .transport
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
                    &replication,
                )
                .await?;
            let oauth = matches!(self.settings.auth, ServiceNowAuth::OAuthPassword { .. });
            if reply.status.as_u16() == 401 && oauth && !refreshed {
                self.tokens.invalidate().await;
                refreshed = true;
                continue;
            }
            return Ok(reply);
        }
    }

    fn error(&self, reply: &Reply) -> ConnectorError {
        let parsed = ServiceNowErrorBody::parse(&reply.body);
        let detail = parsed
            .as_ref()
            .map(ServiceNowErrorBody::describe)
            .unwrap_or_else(|| reply.text_snippet());
        if let Some(e) = self.transport.transient_error(reply, &detail) {
            return e;
        }
        let status = reply.status.as_u16();
        let acl = detail.contains("Not Authorized") || detail.contains("ACL");
        match status {
            401 => ConnectorError::unauthorized(System::ServiceNow, detail),
            403 if acl => ConnectorError::unauthorized(System::ServiceNow, detail),
            _ => ConnectorError::rejected(
                System::ServiceNow,
                Some(status),
                parsed
                    .map(|p| p.message)
                    .unwrap_or_else(|| format!("HTTP {status}")),
                detail,
            ),
        }
    }

    fn result<T: serde::de::DeserializeOwned>(&self, reply: &Reply) -> Result<T, ConnectorError> {
        #[derive(Deserialize)]
        struct Envelope<T> {
            result: T,
        }
        serde_json::from_slice::<Envelope<T>>(&reply.body)
            .map(|e| e.result)
            .map_err(|e| ConnectorError::retryable(System::ServiceNow, json_problem(&e)))
    }

    fn table_url(&self, table: &str, rest: &str) -> Result<String, ConnectorError> {
        if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ConnectorError::misconfigured(
                System::ServiceNow,
                format!("'{table}' is not a ServiceNow table name"),
            ));
        }
        Ok(join(
            &self.settings.base_url,
            &format!("api/now/table/{table}{rest}"),
        ))
    }

    /// `GET /api/now/table/{table}?sysparm_query=correlation_id=…`: the first row, with `fields`.
    async fn first_by_correlation_id(
        &self,
        table: &str,
        correlation_id: &str,
        fields: &str,
    ) -> Result<Option<Row>, ConnectorError> {
        check_correlation_id(correlation_id)?;
        let query = format!("correlation_id={correlation_id}");
        let url = self.table_url(
            table,
            &format!(
                "?sysparm_query={}&sysparm_fields={fields}&sysparm_limit=1",
                enc_query(&query)
            ),
        )?;
        let reply = self.send(Method::GET, &url, None, |_| false).await?;
        if reply.status.as_u16() != 200 {
            return Err(self.error(&reply));
        }
        let rows: Vec<Row> = self.result(&reply)?;
        Ok(rows.into_iter().next())
    }

    /// The first record of `table` whose `correlation_id` is `correlation_id`.
    pub async fn find_by_correlation_id(
        &self,
        table: &str,
        correlation_id: &str,
    ) -> Result<Option<TicketRef>, ConnectorError> {
        let row = self
            .first_by_correlation_id(table, correlation_id, "sys_id,number")
            .await?;
        Ok(row.map(|r| TicketRef {
            table: table.to_string(),
            sys_id: r.sys_id,
            number: r.number.unwrap_or_default(),
            created: false,
        }))
    }

    /// Creates a `table` record with `fields` unless one already holds `correlation_id`.
    pub async fn create_record(
        &self,
        table: &str,
        correlation_id: &str,
        fields: &Map<String, Value>,
    ) -> Result<TicketRef, ConnectorError> {
        if let Some(existing) = self.find_by_correlation_id(table, correlation_id).await? {
            return Ok(existing);
        }
        let mut body = fields.clone();
        body.insert("correlation_id".into(), json!(correlation_id));
        body.insert(
            "correlation_display".into(),
            json!(self.settings.correlation_display),
        );
        let body = Value::Object(body);
        let url = self.table_url(
            table,
            "?sysparm_fields=sys_id,number&sysparm_input_display_value=false",
        )?;
        let reply = self
            .send(Method::POST, &url, Some(&body), |_| false)
            .await?;
        match reply.status.as_u16() {
            200 | 201 => {
                let row: Row = self.result(&reply)?;
                Ok(TicketRef {
                    table: table.to_string(),
                    sys_id: row.sys_id,
                    number: row.number.unwrap_or_default(),
                    created: true,
                })
            }
            _ => Err(self.error(&reply)),
        }
    }

    /// Orders a catalog item once per `correlation_id` (see the module docs): the requested
    /// item already holding it ([`Self::find_catalog_order`]), else
    /// [`Self::place_catalog_order`] then [`Self::finish_catalog_order`].
    ///
    /// A caller that can be interrupted between the two steps should call them itself and
    /// remember the [`PlacedOrder`] in between; this method cannot, so an attempt that fails
    /// after ordering but before the mark lands is followed by a second order on re-run.
    pub async fn order_catalog_item(
        &self,
        item_sys_id: &str,
        correlation_id: &str,
        order: &CatalogOrder,
    ) -> Result<CatalogOrderResult, ConnectorError> {
        if let Some(found) = self.find_catalog_order(correlation_id).await? {
            return Ok(found);
        }
        let placed = self.place_catalog_order(item_sys_id, order).await?;
        self.finish_catalog_order(correlation_id, &placed).await
    }

    /// The requested item (`sc_req_item`) holding `correlation_id`, i.e. an order an earlier run
    /// placed and finished. ServiceNow's table query is consistent, so one lookup is enough.
    pub async fn find_catalog_order(
        &self,
        correlation_id: &str,
    ) -> Result<Option<CatalogOrderResult>, ConnectorError> {
        let row = self
            .first_by_correlation_id("sc_req_item", correlation_id, "sys_id,number,request")
            .await?;
        Ok(row.map(|r| CatalogOrderResult {
            request_sys_id: r.request.as_ref().and_then(reference_value),
            request_number: None,
            item: TicketRef {
                table: "sc_req_item".into(),
                sys_id: r.sys_id,
                number: r.number.unwrap_or_default(),
                created: false,
            },
        }))
    }

    /// Orders the item: `order_now`, plus `cart/submit_order` on two-step checkout. No lookup
    /// and no mark: once this returns, a request exists that nothing finds by correlation id
    /// until [`Self::finish_catalog_order`] marks its item, so keep the [`PlacedOrder`] first.
    pub async fn place_catalog_order(
        &self,
        item_sys_id: &str,
        order: &CatalogOrder,
    ) -> Result<PlacedOrder, ConnectorError> {
        let url = join(
            &self.settings.base_url,
            &format!(
                "api/sn_sc/servicecatalog/items/{}/order_now",
                enc_path(item_sys_id)
            ),
        );
        let reply = self
            .send(Method::POST, &url, Some(&order_body(order)), |_| false)
            .await?;
        if !reply.status.is_success() {
            return Err(self.error(&reply));
        }
        let mut placed: Placed = self.result(&reply)?;
        if placed.request_id.is_none()
            && let Some(cart) = placed.cart_id.clone()
        {
            // Two-step checkout: the item sits in a cart until the cart is submitted.
            tracing::debug!(cart_id = %cart, "two-step checkout: submitting the cart");
            placed = self.submit_cart().await?;
        }
        let request_sys_id = placed.request_id.or(placed.sys_id).ok_or_else(|| {
            ConnectorError::retryable(
                System::ServiceNow,
                "the order response named no request (neither request_id nor cart_id)",
            )
        })?;
        Ok(PlacedOrder {
            request_sys_id,
            request_number: placed.request_number.or(placed.number),
        })
    }

    async fn submit_cart(&self) -> Result<Placed, ConnectorError> {
        let url = join(
            &self.settings.base_url,
            "api/sn_sc/servicecatalog/cart/submit_order",
        );
        let reply = self.send(Method::POST, &url, None, |_| false).await?;
        if !reply.status.is_success() {
            return Err(self.error(&reply));
        }
        self.result(&reply)
    }

    /// Finds the requested item (RITM) of a placed order and marks it with `correlation_id`, so
    /// [`Self::find_catalog_order`] finds it from then on. Safe to repeat: an item that already
    /// carries this correlation id (an earlier attempt's mark landed) is not patched again.
    /// The item is `created: true`: the order is new to the catalog, whoever placed it.
    pub async fn finish_catalog_order(
        &self,
        correlation_id: &str,
        placed: &PlacedOrder,
    ) -> Result<CatalogOrderResult, ConnectorError> {
        check_correlation_id(correlation_id)?;
        let (item, marked_with) = self.item_of_request(&placed.request_sys_id).await?;
        if marked_with.as_deref() == Some(correlation_id) {
            tracing::debug!(item = %item.number, "the requested item is already marked");
        } else {
            self.mark_item(&item.sys_id, correlation_id).await?;
        }
        Ok(CatalogOrderResult {
            request_sys_id: Some(placed.request_sys_id.clone()),
            request_number: placed.request_number.clone(),
            item,
        })
    }

    /// Patches the correlation id onto a requested item so a re-run finds it.
    async fn mark_item(
        &self,
        item_sys_id: &str,
        correlation_id: &str,
    ) -> Result<(), ConnectorError> {
        let url = self.table_url(
            "sc_req_item",
            &format!("/{}?sysparm_fields=sys_id,number", enc_path(item_sys_id)),
        )?;
        let patch = json!({
            "correlation_id": correlation_id,
            "correlation_display": self.settings.correlation_display,
        });
        let reply = self
            .send(Method::PATCH, &url, Some(&patch), |_| false)
            .await?;
        if !reply.status.is_success() {
            return Err(self.error(&reply));
        }
        Ok(())
    }

    /// The requested item of `request_id`, and the correlation id it carries (if any).
    async fn item_of_request(
        &self,
        request_id: &str,
    ) -> Result<(TicketRef, Option<String>), ConnectorError> {
        let query = format!("request={request_id}");
        let url = self.table_url(
            "sc_req_item",
            &format!(
                "?sysparm_query={}&sysparm_fields=sys_id,number,correlation_id&sysparm_limit=1",
                enc_query(&query)
            ),
        )?;
        // The RITM is written with the request; an empty answer is retried briefly anyway.
        let empty = |r: &Reply| r.status.as_u16() == 200 && body_has_empty_result(&r.body);
        let reply = self.send(Method::GET, &url, None, empty).await?;
        if reply.status.as_u16() != 200 {
            return Err(self.error(&reply));
        }
        let rows: Vec<Row> = self.result(&reply)?;
        let row = rows.into_iter().next().ok_or_else(|| {
            ConnectorError::retryable(
                System::ServiceNow,
                format!("request {request_id} has no requested item yet"),
            )
        })?;
        let item = TicketRef {
            table: "sc_req_item".into(),
            sys_id: row.sys_id,
            number: row.number.unwrap_or_default(),
            created: true,
        };
        Ok((item, row.correlation_id.filter(|c| !c.is_empty())))
    }
}

/// The `order_now` body: quantity (at least 1, as a string), variables, who it is for.
fn order_body(order: &CatalogOrder) -> Value {
    let mut body = Map::new();
    body.insert(
        "sysparm_quantity".into(),
        json!(order.quantity.max(1).to_string()),
    );
    body.insert("variables".into(), Value::Object(order.variables.clone()));
    if let Some(who) = &order.requested_for {
        body.insert("sysparm_requested_for".into(), json!(who));
    }
    Value::Object(body)
}

/// Correlation ids go into an encoded query: no `^` (the condition separator), no newlines.
fn check_correlation_id(id: &str) -> Result<(), ConnectorError> {
    if id.is_empty() || id.len() > 100 || id.contains('^') || id.chars().any(char::is_control) {
        return Err(ConnectorError::misconfigured(
            System::ServiceNow,
            format!(
                "correlation id '{}' must be 1-100 characters without '^' or control characters",
                id.escape_default()
            ),
        ));
    }
    Ok(())
}

fn body_has_empty_result(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("result").and_then(Value::as_array).map(Vec::is_empty))
        .unwrap_or(false)
}

/// A reference field is `"sys_id"` or `{"link":"…","value":"sys_id"}` depending on parameters.
fn reference_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("value").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

#[derive(Deserialize)]
struct Row {
    sys_id: String,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    request: Option<Value>,
    #[serde(default)]
    correlation_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct Placed {
    #[serde(default)]
    sys_id: Option<String>,
    #[serde(default)]
    number: Option<String>,
    #[serde(default)]
    request_number: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(default)]
    cart_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_are_understood() {
        let table = ServiceNowErrorBody::parse(
            br#"{"error":{"message":"User Not Authorized","detail":"Failed API level ACL Validation"},"status":"failure"}"#,
        )
        .unwrap();
        assert_eq!(
            table.describe(),
            "User Not Authorized: Failed API level ACL Validation"
        );
        let oauth = ServiceNowErrorBody::parse(
            br#"{"error_description":"access_denied","error":"server_error"}"#,
        )
        .unwrap();
        assert_eq!(oauth.describe(), "server_error: access_denied");
    }

    #[test]
    fn correlation_ids_cannot_inject_query_conditions() {
        assert!(check_correlation_id("dayone:evt-1:hardware").is_ok());
        assert!(check_correlation_id("x^active=false").is_err());
        assert!(check_correlation_id("").is_err());
    }

    #[test]
    fn reference_fields_are_read_in_both_forms() {
        assert_eq!(reference_value(&json!("abc")).as_deref(), Some("abc"));
        assert_eq!(
            reference_value(
                &json!({"link":"https://x/api/now/table/sc_request/abc","value":"abc"})
            )
            .as_deref(),
            Some("abc")
        );
    }
}
