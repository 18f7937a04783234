//! `welcome-pack`: an example organization function.
//!
//! Contoso sends every new employee and intern a welcome pack (laptop sleeve, notebook,
//! hoodie) so it arrives before Day 1. The fulfilment vendor has an order API; this step
//! places one order per hire:
//!
//! ```text
//! POST {targets.welcome_pack_url}
//! Authorization: Bearer <secret welcome_pack_api_key>
//! Idempotency-Key: welcome-pack:{workerId}:{eventId}
//! {"orderReference","sku","recipient":{"name","email"},"shipTo":{"office"|"remote","country"},"deliverBy"}
//! → 201 {"orderId": "…"}   · 409 {"orderId": "…"} for a repeated Idempotency-Key
//! ```
//!
//! Contractors get no pack (the step succeeds with `status: "skipped"`). A remote hire (no
//! `location`) needs a `personalEmail` so the vendor can ask for a shipping address.
//!
//! Everything it touches comes from the [`StepContext`]: the API key from `ctx.secrets`,
//! the network only through `ctx.http` (the vendor's host must be in
//! `[functions.welcome-pack] egress`), an audit record through `ctx.audit`.

use dayone_core::hire::{HireEvent, WorkerType};
use dayone_sdk::http::{reqwest, retry_after};
use dayone_sdk::{AuditEvent, StepContext, StepError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The logical secret name (a key of `[secrets]` in dayone.toml).
pub const API_KEY_SECRET: &str = "welcome_pack_api_key";
/// `[targets]` key with the vendor's order endpoint.
pub const URL_SETTING: &str = "welcome_pack_url";
/// `[targets]` key with the SKU to order (optional).
pub const SKU_SETTING: &str = "welcome_pack_sku";
pub const DEFAULT_SKU: &str = "WELCOME-STD";
const ACTOR: &str = "fn:welcome-pack";

/// What the state machine passes in: the hire as received, plus the execution id.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WelcomePackInput {
    pub execution_id: Option<String>,
    pub hire: Value,
    /// The allocated names, when the step runs after CreateAccount (used for the display name).
    #[serde(default)]
    pub display_name: Option<String>,
}

/// What the step returns (it goes into the execution history: no secrets, no PII beyond ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WelcomePackOutput {
    /// `ordered` or `skipped`.
    pub status: String,
    pub order_id: Option<String>,
    /// The vendor had already taken this order (a retry or a re-run).
    pub duplicate: bool,
    /// Why it was skipped, if it was.
    pub reason: Option<String>,
}

/// The order as the vendor's API wants it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    order_reference: String,
    sku: String,
    recipient: Recipient,
    ship_to: ShipTo,
    deliver_by: String,
}

#[derive(Debug, Serialize)]
struct Recipient {
    name: String,
    email: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ShipTo {
    /// The office the hire starts at, or `None` for a remote hire.
    office: Option<String>,
    remote: bool,
    country: String,
}

fn setting<'a>(ctx: &'a StepContext, key: &str) -> Option<&'a str> {
    ctx.config
        .targets
        .extra
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The idempotency key: the same hire event always maps to the same order.
pub fn idempotency_key(hire: &HireEvent) -> String {
    format!("welcome-pack:{}:{}", hire.worker_id, hire.event_id)
}

fn build_order(
    hire: &HireEvent,
    display_name: Option<&str>,
    sku: &str,
) -> Result<Order, StepError> {
    let name = display_name
        .map(str::to_string)
        .unwrap_or_else(|| format!("{} {}", hire.first_name(true), hire.last_name(true)));
    let office = hire.location.as_ref().map(|l| l.to_string());
    let email = hire.personal_email.as_ref().map(|e| e.to_string());
    if office.is_none() && email.is_none() {
        return Err(StepError::invalid_hire(format!(
            "worker {} is remote (no location) and has no personalEmail, so the welcome pack \
             cannot be shipped; add either in the HR record",
            hire.worker_id
        )));
    }
    Ok(Order {
        order_reference: idempotency_key(hire),
        sku: sku.to_string(),
        recipient: Recipient { name, email },
        ship_to: ShipTo {
            remote: office.is_none(),
            office,
            country: hire.country.to_string(),
        },
        deliver_by: hire.hire_date.to_string(),
    })
}

/// Maps the vendor's answer to an output or a step error name.
async fn read_response(
    worker_id: &str,
    resp: reqwest::Response,
) -> Result<WelcomePackOutput, StepError> {
    let status = resp.status();
    let wait = retry_after(&resp);
    // The vendor's error bodies are short JSON; cap what goes into a message anyway.
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let vendor_message = body
        .get("message")
        .and_then(Value::as_str)
        .map(|m| m.chars().take(200).collect::<String>())
        .unwrap_or_default();
    let order_id = body
        .get("orderId")
        .and_then(Value::as_str)
        .map(str::to_string);
    match status.as_u16() {
        200 | 201 | 409 if order_id.is_some() => Ok(WelcomePackOutput {
            status: "ordered".into(),
            order_id,
            duplicate: status.as_u16() == 409,
            reason: None,
        }),
        200 | 201 => Err(StepError::retryable(format!(
            "the welcome-pack vendor accepted the order for {worker_id} but returned no orderId"
        ))),
        401 | 403 => Err(StepError::unauthorized(format!(
            "the welcome-pack vendor refused the API key ({status}); rotate the secret `{API_KEY_SECRET}`"
        ))),
        429 => Err(StepError::throttled(
            format!("the welcome-pack vendor is rate limiting ({status})"),
            wait,
        )),
        500..=599 => Err(StepError::retryable(format!(
            "the welcome-pack vendor failed ({status}) {vendor_message}"
        ))
        .with_retry_after(wait)),
        _ => Err(StepError::target_rejected(format!(
            "the welcome-pack vendor rejected the order for {worker_id} ({status}) {vendor_message}"
        ))),
    }
}

/// The step. `main.rs` hands it to `dayone_sdk::run_step`; tests call it directly.
pub async fn handle(
    input: WelcomePackInput,
    ctx: StepContext,
) -> Result<WelcomePackOutput, StepError> {
    let hire =
        HireEvent::from_value(input.hire).map_err(|e| StepError::invalid_hire(e.to_string()))?;
    let worker_id = hire.worker_id.to_string();

    if hire.worker_type == WorkerType::Contractor {
        tracing::info!("contractors get no welcome pack");
        ctx.audit(
            AuditEvent::new(ACTOR, "welcome_pack.order", &worker_id)
                .skipped()
                .details(json!({"reason": "contractor"})),
        );
        return Ok(WelcomePackOutput {
            status: "skipped".into(),
            order_id: None,
            duplicate: false,
            reason: Some("contractor".into()),
        });
    }

    let url = setting(&ctx, URL_SETTING).ok_or_else(|| {
        StepError::misconfigured(format!(
            "[targets] {URL_SETTING} is not set: give the vendor's order endpoint in dayone.toml"
        ))
    })?;
    let sku = setting(&ctx, SKU_SETTING).unwrap_or(DEFAULT_SKU);
    let order = build_order(&hire, input.display_name.as_deref(), sku)?;
    let api_key = ctx.secret(API_KEY_SECRET).await?;

    let request = ctx
        .http
        .post(url)
        .bearer_auth(api_key.expose())
        .header("Idempotency-Key", idempotency_key(&hire))
        .json(&order);
    let result = match ctx.http.send(request).await {
        Ok(resp) => read_response(&worker_id, resp).await,
        Err(e) => Err(StepError::from(e)),
    };

    let details = json!({
        "sku": order.sku,
        "remote": order.ship_to.remote,
        "country": order.ship_to.country,
        "orderId": result.as_ref().ok().and_then(|o| o.order_id.clone()),
        "duplicate": result.as_ref().map(|o| o.duplicate).unwrap_or(false),
        "error": result.as_ref().err().map(|e| e.name.as_str()),
    });
    let event = AuditEvent::new(ACTOR, "welcome_pack.order", &worker_id).details(details);
    ctx.audit(match &result {
        Ok(_) => event.succeeded(),
        Err(e) if e.name == dayone_sdk::StepErrorName::EgressDenied => event.denied(),
        Err(_) => event.failed(),
    });
    if let Ok(out) = &result {
        tracing::info!(
            order_id = out.order_id.as_deref().unwrap_or(""),
            duplicate = out.duplicate,
            "welcome pack ordered"
        );
    }
    result
}
