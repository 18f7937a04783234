//! Who may post a hire: an HMAC signature over timestamp and body (the default), or HTTP
//! Basic credentials (what Workday outbound integrations can send).
//!
//! Secrets are read through a [`SecretStore`] on every request, so a rotated secret takes
//! effect when the store's cache expires, without a redeploy. Every comparison is
//! constant-time; a rejection never tells the caller why (the reason is only logged).

use std::sync::Arc;

use base64::Engine as _;
use dayone_sdk::secrets::{SecretError, SecretStore, SecretString};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::IngressError;

/// Header with the signing time, in unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-dayone-timestamp";
/// Header with `v1=<hex HMAC-SHA256>`; several comma-separated entries are accepted so a
/// sender can sign with the old and the new secret while it is rotated.
pub const SIGNATURE_HEADER: &str = "x-dayone-signature";
/// How far a signature's timestamp may be from our clock, either way.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// `v1=hex(HMAC-SHA256(secret, "{timestamp}.{body}"))`: what a sender puts in
/// `X-Dayone-Signature`. Public so tests, `dayone serve` demos and senders share one recipe.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("v1={}", hex::encode(mac(secret, timestamp, body)))
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut m =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    m.update(timestamp.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// Which secrets authenticate a request. Names are ids in the [`SecretStore`]; the values
/// are fetched per request (the store caches).
#[derive(Clone)]
pub struct Authenticator {
    secrets: Arc<dyn SecretStore>,
    /// Secret holding the HMAC signing key.
    hmac_secret: Option<String>,
    /// Secret holding `username:password` for HTTP Basic.
    basic_secret: Option<String>,
}

/// Why a request was refused. Logged, never sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Neither a signature nor Basic credentials that this ingress accepts.
    NoCredentials,
    MalformedTimestamp,
    StaleTimestamp {
        skew_secs: i64,
    },
    MalformedSignature,
    BadSignature,
    MalformedBasic,
    BadBasic,
}

impl Rejection {
    /// A short reason for the log line.
    pub fn reason(&self) -> String {
        match self {
            Rejection::NoCredentials => "no accepted credentials in the request".into(),
            Rejection::MalformedTimestamp => "X-Dayone-Timestamp is not unix seconds".into(),
            Rejection::StaleTimestamp { skew_secs } => {
                format!("timestamp is {skew_secs}s away from now (limit {MAX_CLOCK_SKEW_SECS}s)")
            }
            Rejection::MalformedSignature => "X-Dayone-Signature has no v1=<hex> entry".into(),
            Rejection::BadSignature => "signature does not match".into(),
            Rejection::MalformedBasic => "Authorization: Basic is not base64 user:password".into(),
            Rejection::BadBasic => "Basic credentials do not match".into(),
        }
    }
}

/// The outcome of checking a request.
#[derive(Debug)]
pub enum AuthOutcome {
    Accepted,
    Rejected(Rejection),
    /// The secret could not be read: not the caller's fault, so not a 401.
    SecretUnavailable(SecretError),
}

impl Authenticator {
    /// At least one of `hmac_secret` / `basic_secret` must be set.
    pub fn new(
        secrets: Arc<dyn SecretStore>,
        hmac_secret: Option<String>,
        basic_secret: Option<String>,
    ) -> Result<Self, IngressError> {
        if hmac_secret.is_none() && basic_secret.is_none() {
            return Err(IngressError::NoAuthConfigured);
        }
        Ok(Authenticator {
            secrets,
            hmac_secret,
            basic_secret,
        })
    }

    /// The local set-up (`dayone serve`, tests): the HMAC key from `DAYONE_WEBHOOK_SECRET`
    /// and, when set, `user:password` from `DAYONE_BASIC_AUTH`.
    pub fn from_local_env() -> Result<Self, IngressError> {
        let mut store = dayone_sdk::secrets::StaticSecrets::new();
        let mut from_env = |var: &str, name: &str| {
            let value = std::env::var(var).ok().filter(|v| !v.is_empty())?;
            store.insert(name, value);
            Some(name.to_string())
        };
        let hmac_secret = from_env("DAYONE_WEBHOOK_SECRET", "webhook");
        let basic_secret = from_env("DAYONE_BASIC_AUTH", "basic");
        Authenticator::new(Arc::new(store), hmac_secret, basic_secret)
    }

    /// Whether HTTP Basic is accepted (the 401 then carries a `WWW-Authenticate` challenge).
    pub fn accepts_basic(&self) -> bool {
        self.basic_secret.is_some()
    }

    /// Checks `headers` + `body` at time `now` (unix seconds).
    pub async fn check(&self, headers: &HeaderMap, body: &[u8], now: i64) -> AuthOutcome {
        if let (Some(name), Some(signature)) = (&self.hmac_secret, headers.get(SIGNATURE_HEADER)) {
            let secret = match self.secrets.get(name).await {
                Ok(s) => s,
                Err(e) => return AuthOutcome::SecretUnavailable(e),
            };
            return match verify_hmac(&secret, headers.get(TIMESTAMP_HEADER), signature, body, now) {
                Ok(()) => AuthOutcome::Accepted,
                Err(r) => AuthOutcome::Rejected(r),
            };
        }
        if let (Some(name), Some(authz)) =
            (&self.basic_secret, headers.get(http::header::AUTHORIZATION))
        {
            let expected = match self.secrets.get(name).await {
                Ok(s) => s,
                Err(e) => return AuthOutcome::SecretUnavailable(e),
            };
            return match verify_basic(&expected, authz) {
                Ok(()) => AuthOutcome::Accepted,
                Err(r) => AuthOutcome::Rejected(r),
            };
        }
        AuthOutcome::Rejected(Rejection::NoCredentials)
    }
}

fn verify_hmac(
    secret: &SecretString,
    timestamp: Option<&http::HeaderValue>,
    signature: &http::HeaderValue,
    body: &[u8],
    now: i64,
) -> Result<(), Rejection> {
    let ts: i64 = timestamp
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
        .ok_or(Rejection::MalformedTimestamp)?;
    let skew = now.saturating_sub(ts);
    if skew.abs() > MAX_CLOCK_SKEW_SECS {
        return Err(Rejection::StaleTimestamp { skew_secs: skew });
    }
    let header = signature
        .to_str()
        .map_err(|_| Rejection::MalformedSignature)?;
    let candidates: Vec<Vec<u8>> = header
        .split(',')
        .filter_map(|entry| entry.trim().strip_prefix("v1="))
        .filter_map(|h| hex::decode(h.trim()).ok())
        .collect();
    if candidates.is_empty() {
        return Err(Rejection::MalformedSignature);
    }
    let expected = mac(secret.expose(), ts, body);
    // Check every entry, without stopping early, so timing does not reveal which matched.
    let matched = candidates.iter().fold(subtle::Choice::from(0), |acc, c| {
        acc | expected.as_slice().ct_eq(c)
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(Rejection::BadSignature)
    }
}

fn verify_basic(expected: &SecretString, authz: &http::HeaderValue) -> Result<(), Rejection> {
    let value = authz.to_str().map_err(|_| Rejection::MalformedBasic)?;
    let (scheme, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or(Rejection::MalformedBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(Rejection::NoCredentials);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| Rejection::MalformedBasic)?;
    if !decoded.contains(&b':') {
        return Err(Rejection::MalformedBasic);
    }
    // Comparing digests keeps the comparison constant-time even when the lengths differ.
    let given = Sha256::digest(&decoded);
    let wanted = Sha256::digest(expected.expose().as_bytes());
    if bool::from(given.as_slice().ct_eq(wanted.as_slice())) {
        Ok(())
    } else {
        Err(Rejection::BadBasic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dayone_sdk::secrets::StaticSecrets;

    const KEY: &str = "fake-webhook-key-for-tests";

    fn hmac_only() -> Authenticator {
        let store = StaticSecrets::new().with("webhook", KEY);
        Authenticator::new(Arc::new(store), Some("webhook".into()), None).unwrap()
    }

    fn signed(ts: i64, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, ts.to_string().parse().unwrap());
        h.insert(SIGNATURE_HEADER, sig.parse().unwrap());
        h
    }

    #[test]
    fn signature_matches_the_documented_recipe() {
        // GIVEN the documented recipe computed independently with the hmac crate
        let mut m = Hmac::<Sha256>::new_from_slice(KEY.as_bytes()).unwrap();
        m.update(b"1700000000.{\"a\":1}");
        let want = format!("v1={}", hex::encode(m.finalize().into_bytes()));
        // THEN sign() produces exactly that header value
        assert_eq!(sign(KEY, 1_700_000_000, b"{\"a\":1}"), want);
    }

    #[tokio::test]
    async fn a_rotation_header_with_an_old_and_a_new_signature_is_accepted() {
        let body = b"{}";
        let good = sign(KEY, 100, body);
        let header = format!("v1=00ff, {good}");
        let out = hmac_only().check(&signed(100, &header), body, 100).await;
        assert!(matches!(out, AuthOutcome::Accepted), "{out:?}");
    }

    #[tokio::test]
    async fn a_timestamp_just_inside_the_window_passes_and_just_outside_fails() {
        let body = b"{}";
        let auth = hmac_only();
        let inside = auth
            .check(&signed(1000, &sign(KEY, 1000, body)), body, 1300)
            .await;
        assert!(matches!(inside, AuthOutcome::Accepted));
        let outside = auth
            .check(&signed(1000, &sign(KEY, 1000, body)), body, 1301)
            .await;
        assert!(matches!(
            outside,
            AuthOutcome::Rejected(Rejection::StaleTimestamp { skew_secs: 301 })
        ));
        let future = auth
            .check(&signed(1400, &sign(KEY, 1400, body)), body, 1000)
            .await;
        assert!(matches!(
            future,
            AuthOutcome::Rejected(Rejection::StaleTimestamp { .. })
        ));
    }

    #[tokio::test]
    async fn the_signature_binds_the_timestamp() {
        // GIVEN a signature made for t=100, replayed with the header changed to t=150
        let body = b"{}";
        let out = hmac_only()
            .check(&signed(150, &sign(KEY, 100, body)), body, 150)
            .await;
        assert!(matches!(
            out,
            AuthOutcome::Rejected(Rejection::BadSignature)
        ));
    }

    #[tokio::test]
    async fn a_missing_secret_is_not_blamed_on_the_caller() {
        let auth = Authenticator::new(Arc::new(StaticSecrets::new()), Some("webhook".into()), None)
            .unwrap();
        let out = auth.check(&signed(1, &sign(KEY, 1, b"")), b"", 1).await;
        assert!(matches!(
            out,
            AuthOutcome::SecretUnavailable(SecretError::NotFound { .. })
        ));
    }

    #[test]
    fn an_ingress_without_any_authentication_refuses_to_start() {
        let err = Authenticator::new(Arc::new(StaticSecrets::new()), None, None).err();
        assert_eq!(err, Some(IngressError::NoAuthConfigured));
    }
}
