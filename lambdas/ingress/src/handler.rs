//! `POST /hires`: from an HTTP delivery to a started (or already started) Joiner execution.
//!
//! The checks run cheapest-first and each has its own status, so a sender can tell what to
//! fix: size (413) → authentication (401) → content type (415) → the hire itself (400) →
//! start (202 new, 200 duplicate, 503 throttled, 500 anything else). Only a 2xx means the
//! hire was taken; every other answer asks the sender to fix or resend it, so nothing
//! accepted is lost silently.

use chrono::{DateTime, SecondsFormat, Utc};
use dayone_core::hire::{FieldError, HireError, HireEvent};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::auth::{AuthOutcome, Authenticator};
use crate::name::execution_name;
use crate::starter::{ExecutionStarter, StartError};

/// Default body limit: the largest hire the domain accepts.
pub const DEFAULT_MAX_BODY_BYTES: usize = dayone_core::hire::MAX_EVENT_BYTES;
/// Seconds a sender is asked to wait after a 503.
pub const RETRY_AFTER_SECS: u32 = 5;

/// The ingress: an authenticator, a body limit and the port that starts executions.
pub struct Ingress<S> {
    starter: S,
    auth: Authenticator,
    max_body_bytes: usize,
}

impl<S: ExecutionStarter> Ingress<S> {
    pub fn new(starter: S, auth: Authenticator) -> Self {
        Ingress {
            starter,
            auth,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    pub fn with_max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// The port, for callers that want to inspect it (tests, `dayone serve`).
    pub fn starter(&self) -> &S {
        &self.starter
    }

    /// Handles one delivery now.
    pub async fn handle(&self, headers: &HeaderMap, body: &[u8]) -> Response<String> {
        self.handle_at(headers, body, Utc::now()).await
    }

    /// Handles one delivery as if received at `now` (the signature window is checked
    /// against it).
    pub async fn handle_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Response<String> {
        if body.len() > self.max_body_bytes {
            tracing::warn!(
                bytes = body.len(),
                limit = self.max_body_bytes,
                "hire refused: body too large"
            );
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "payload_too_large", "limitBytes": self.max_body_bytes}),
            );
        }

        match self.auth.check(headers, body, now.timestamp()).await {
            AuthOutcome::Accepted => {}
            AuthOutcome::Rejected(why) => {
                tracing::warn!(reason = %why.reason(), "hire refused: not authenticated");
                let mut resp = reply(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
                if self.auth.accepts_basic() {
                    resp.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"dayone\""),
                    );
                }
                return resp;
            }
            AuthOutcome::SecretUnavailable(e) => {
                // Names the secret, never its value.
                tracing::error!(error = %e, "hire not taken: the authentication secret could not be read");
                return unavailable();
            }
        }

        if !is_json(headers) {
            return reply(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!({"error": "unsupported_media_type", "expected": "application/json"}),
            );
        }

        let hire = match std::str::from_utf8(body) {
            Err(_) => Err(HireError::Malformed("the body is not UTF-8 text".into())),
            Ok(text) => HireEvent::parse(text),
        };
        let hire = match hire {
            Ok(h) => h,
            Err(e) => {
                let fields = match e {
                    HireError::Invalid { fields } => fields,
                    HireError::Malformed(problem) => vec![FieldError::new("body", problem)],
                };
                tracing::warn!(fields = fields.len(), "hire refused: invalid");
                return reply(
                    StatusCode::BAD_REQUEST,
                    json!({"error": "invalid_hire", "fields": fields}),
                );
            }
        };

        let name = execution_name(hire.worker_id.as_str(), hire.event_id.as_str());
        let input = execution_input(&hire, now);
        match self.starter.start(&name, &input).await {
            Ok(started) => {
                tracing::info!(execution = %name, execution_arn = %started.execution_arn, "hire accepted");
                reply(
                    StatusCode::ACCEPTED,
                    json!({"executionArn": started.execution_arn, "duplicate": false}),
                )
            }
            Err(StartError::AlreadyExists { arn }) => {
                tracing::info!(execution = %name, execution_arn = %arn, "duplicate delivery: execution exists");
                reply(
                    StatusCode::OK,
                    json!({"executionArn": arn, "duplicate": true}),
                )
            }
            Err(StartError::Throttled) => {
                tracing::warn!(execution = %name, "hire not taken: StartExecution throttled");
                unavailable()
            }
            Err(StartError::Other(why)) => {
                tracing::error!(execution = %name, error = %why, "hire not taken: StartExecution failed");
                reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "start_failed"}),
                )
            }
        }
    }

    /// The Lambda entry point (API Gateway HTTP API, payload v2).
    pub async fn lambda(
        &self,
        req: lambda_http::Request,
    ) -> Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error> {
        let resp = self.handle(req.headers(), req.body().as_ref()).await;
        Ok(resp.map(lambda_http::Body::from))
    }
}

/// What the state machine receives: the normalised hire (unknown fields dropped) and where
/// the delivery came from. Each delivery gets its own id, so a redelivery always differs in
/// input and Step Functions answers `ExecutionAlreadyExists` rather than quietly returning
/// the running execution as if it were new.
fn execution_input(hire: &HireEvent, now: DateTime<Utc>) -> Value {
    json!({
        "hire": hire,
        "delivery": {
            "id": uuid::Uuid::new_v4().to_string(),
            "receivedAt": now.to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    })
}

/// `application/json`, `application/json; charset=utf-8` or `application/<x>+json`.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn unavailable() -> Response<String> {
    let mut resp = reply(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "unavailable"}),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    resp
}

fn reply(status: StatusCode, body: Value) -> Response<String> {
    let mut resp = Response::new(body.to_string());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, v.parse().unwrap());
        h
    }

    #[test]
    fn json_content_types_are_recognised() {
        assert!(is_json(&ct("application/json")));
        assert!(is_json(&ct("Application/JSON; charset=utf-8")));
        assert!(is_json(&ct("application/vnd.workday.hire+json")));
        assert!(!is_json(&ct("text/plain")));
        assert!(!is_json(&ct("application/x-www-form-urlencoded")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
