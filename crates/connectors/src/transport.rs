//! Shared HTTP plumbing: one attempt loop for every client.
//!
//! Every request goes through [`EgressClient`] (the allowlist). The loop retries, inside the
//! client and a bounded number of times, only what cannot have had an effect on the target or
//! is explicitly transient: 429 and 503/504 (honouring `Retry-After`, clamped to
//! [`RetryPolicy::max_wait`]), transport errors before a response, and — when the caller asks —
//! "replication" conditions such as a 404 right after a user was created. Whatever is left is
//! handed back as the final [`Reply`] for the system's own error mapping.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use dayone_sdk::http::{EgressClient, EgressError};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{RequestBuilder, StatusCode};

use crate::error::{ConnectorError, System};

/// Bounds on what a client retries by itself before giving the error to the state machine.
///
/// A Lambda has a deadline, so in-client waits are short; Step Functions' `Retry` does the long
/// waits. Tests shrink every duration here to milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts for 429 / 503 / 504 / transport errors, the first one included (≥ 1).
    pub max_attempts: u32,
    /// The longest single in-client wait, whatever `Retry-After` says. A longer `Retry-After`
    /// is still reported in the surfaced error so the state machine can wait the full time.
    pub max_wait: Duration,
    /// First backoff step when the target gave no `Retry-After` (doubles each attempt).
    pub backoff_base: Duration,
    /// Upper bound of one backoff step.
    pub backoff_max: Duration,
    /// Attempts for replication-delay conditions (404 right after creation), first included.
    pub replication_attempts: u32,
    /// First backoff step for replication-delay retries (doubles each attempt).
    pub replication_backoff: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

/// The defaults keep one call's worst case (3 attempts × 10 s + 2 waits × 5 s = 40 s) inside
/// the 60 s timeout the step Lambdas are deployed with, so a throttled target surfaces as
/// `Dayone.Throttled` for Step Functions to wait out instead of a Lambda timeout.
impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            max_wait: Duration::from_secs(5),
            backoff_base: Duration::from_millis(250),
            backoff_max: Duration::from_secs(4),
            replication_attempts: 6,
            replication_backoff: Duration::from_millis(500),
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// A policy with millisecond waits, for tests and benchmarks against local servers.
    pub fn fast() -> Self {
        RetryPolicy {
            max_attempts: 3,
            max_wait: Duration::from_millis(20),
            backoff_base: Duration::from_millis(2),
            backoff_max: Duration::from_millis(20),
            replication_attempts: 4,
            replication_backoff: Duration::from_millis(2),
            request_timeout: Duration::from_secs(5),
        }
    }

    fn backoff(&self, base: Duration, attempt: u32) -> Duration {
        let exp = base.saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.backoff_max.max(base));
        // A little jitter so parallel branches do not retry in lockstep; no RNG needed.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let jitter = capped / 10 * (nanos % 100) / 100;
        capped + jitter
    }
}

/// One HTTP response, fully read. Deliberately not `Debug`: a body may hold a TAP or a token.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// How many attempts it took (for messages).
    pub attempts: u32,
}

impl Reply {
    pub fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.headers)
    }

    /// The body as text, for error messages only (never for responses carrying secrets).
    pub fn text_snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let trimmed = text.trim();
        if trimmed.chars().count() > 300 {
            let cut: String = trimmed.chars().take(300).collect();
            format!("{cut}…")
        } else {
            trimmed.to_string()
        }
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP-date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = raw.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(raw).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Why an attempt is repeated.
enum Again {
    /// The target asked us to slow down or is briefly unavailable.
    Transient(Option<Duration>),
    /// The caller recognised a replication-delay condition.
    Replication,
}

/// The per-client HTTP core: allowlisted client + retry policy.
#[derive(Clone)]
pub(crate) struct Transport {
    pub system: System,
    pub http: EgressClient,
    pub policy: RetryPolicy,
}

impl Transport {
    pub fn new(system: System, http: EgressClient) -> Self {
        Transport {
            system,
            http,
            policy: RetryPolicy::default(),
        }
    }

    pub fn request(&self, method: reqwest::Method, url: &str) -> RequestBuilder {
        self.http
            .request(method, url)
            .timeout(self.policy.request_timeout)
    }

    /// Sends the request `build` makes (called again for every attempt), retrying throttling
    /// and transient unavailability; `replication` marks replies worth a replication-delay retry.
    pub async fn execute<B, R>(&self, build: B, replication: R) -> Result<Reply, ConnectorError>
    where
        B: Fn() -> RequestBuilder,
        R: Fn(&Reply) -> bool,
    {
        let max_transient = self.policy.max_attempts.max(1);
        let max_replication = self.policy.replication_attempts.max(1);
        let mut transient = 0u32;
        let mut replicated = 0u32;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let outcome = self.http.send(build()).await;
            let again = match outcome {
                Err(EgressError::Denied { host }) => {
                    return Err(ConnectorError::EgressDenied { host });
                }
                Err(EgressError::InvalidUrl { reason }) => {
                    return Err(ConnectorError::misconfigured(
                        self.system,
                        format!("the configured base URL is unusable: {reason}"),
                    ));
                }
                Err(other) => {
                    transient += 1;
                    if transient >= max_transient {
                        return Err(ConnectorError::retryable(
                            self.system,
                            format!("request failed after {attempts} attempt(s): {other}"),
                        ));
                    }
                    Again::Transient(None)
                }
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    let body = match resp.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            transient += 1;
                            if transient >= max_transient {
                                return Err(ConnectorError::retryable(
                                    self.system,
                                    format!("reading the response failed: {e}"),
                                ));
                            }
                            self.sleep(Again::Transient(None), transient, replicated)
                                .await;
                            continue;
                        }
                    };
                    let reply = Reply {
                        status,
                        headers,
                        body,
                        attempts,
                    };
                    if matches!(
                        status,
                        StatusCode::TOO_MANY_REQUESTS
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    ) {
                        transient += 1;
                        if transient >= max_transient {
                            return Ok(reply);
                        }
                        Again::Transient(reply.retry_after())
                    } else if replication(&reply) {
                        replicated += 1;
                        if replicated >= max_replication {
                            return Ok(reply);
                        }
                        Again::Replication
                    } else {
                        return Ok(reply);
                    }
                }
            };
            self.sleep(again, transient, replicated).await;
        }
    }

    async fn sleep(&self, again: Again, transient: u32, replicated: u32) {
        let wait = match again {
            Again::Transient(Some(asked)) => asked.min(self.policy.max_wait),
            Again::Transient(None) => self
                .policy
                .backoff(self.policy.backoff_base, transient.saturating_sub(1)),
            Again::Replication => self.policy.backoff(
                self.policy.replication_backoff,
                replicated.saturating_sub(1),
            ),
        };
        tracing::debug!(system = %self.system, wait_ms = wait.as_millis() as u64, "retrying");
        tokio::time::sleep(wait).await;
    }

    /// The error for a reply that is still 429 / 5xx after the in-client retries, if it is one.
    pub fn transient_error(&self, reply: &Reply, detail: &str) -> Option<ConnectorError> {
        let retry_after = reply.retry_after();
        let status = reply.status.as_u16();
        let detail = if detail.is_empty() {
            format!("HTTP {status} after {} attempt(s)", reply.attempts)
        } else {
            format!(
                "HTTP {status} after {} attempt(s): {detail}",
                reply.attempts
            )
        };
        match status {
            429 => Some(ConnectorError::Throttled {
                system: self.system,
                retry_after,
                detail,
            }),
            500..=599 => Some(ConnectorError::Retryable {
                system: self.system,
                retry_after,
                detail,
            }),
            _ => None,
        }
    }
}

/// An `Authorization` header value marked sensitive, so no Debug output of a request shows it.
pub(crate) fn auth_header(system: System, value: String) -> Result<HeaderValue, ConnectorError> {
    let mut v = HeaderValue::from_str(&value).map_err(|_| ConnectorError::Misconfigured {
        system,
        detail: "a credential contains characters not allowed in an HTTP header".into(),
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// `Basic base64(user:secret)`.
pub(crate) fn basic_auth(user: &str, secret: &str) -> String {
    use base64::Engine;
    let raw = format!("{user}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
    )
}

/// Percent-encoding for query values and form fields: everything but RFC 3986 unreserved.
pub(crate) const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encoding for one path segment: keeps `@` (UPNs) and unreserved characters.
pub(crate) const PATH_SEGMENT: &percent_encoding::AsciiSet = &QUERY_VALUE.remove(b'@');

pub(crate) fn enc_query(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, QUERY_VALUE).to_string()
}

pub(crate) fn enc_path(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, PATH_SEGMENT).to_string()
}

/// `application/x-www-form-urlencoded` body from ordered pairs.
pub(crate) fn form_body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc_query(k), enc_query(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Describes a JSON parse failure without echoing any of the document (it may hold secrets).
pub(crate) fn json_problem(e: &serde_json::Error) -> String {
    format!(
        "unexpected response shape ({:?} error at line {}, column {})",
        e.classify(),
        e.line(),
        e.column()
    )
}

/// Joins a configured base URL and a path without doubling or losing the slash.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a past date means now"
        );
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn form_and_query_encoding_keep_only_unreserved_characters() {
        assert_eq!(
            form_body(&[
                ("scope", "https://graph.microsoft.com/.default"),
                ("a b", "x&y=z")
            ]),
            "scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&a%20b=x%26y%3Dz"
        );
        assert_eq!(enc_path("o'brien@contoso.com"), "o%27brien@contoso.com");
        assert_eq!(enc_path("a/b#c"), "a%2Fb%23c");
    }

    #[test]
    fn join_handles_slashes_on_either_side() {
        assert_eq!(join("http://x/v1.0/", "/users"), "http://x/v1.0/users");
        assert_eq!(join("http://x/v1.0", "users"), "http://x/v1.0/users");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        let first = p.backoff(p.backoff_base, 0);
        let later = p.backoff(p.backoff_base, 5);
        assert!(first >= Duration::from_millis(100) && first < Duration::from_millis(111));
        assert!(later >= Duration::from_millis(300) && later < Duration::from_millis(331));
    }
}
