//! The only way a step talks to the network: an HTTP client that reaches allowlisted hosts.
//!
//! [`EgressClient`] wraps a `reqwest` client (rustls). Before a request leaves, its URL is
//! parsed and its host checked against the function's allowlist; a host outside it is
//! [`EgressError::Denied`] (→ `Dayone.EgressDenied`) and no connection is ever opened.
//! Redirects are followed only to allowlisted hosts (at most five hops).
//!
//! Allowlist entries (case-insensitive, a trailing dot ignored):
//! - `graph.microsoft.com`: that host, any port;
//! - `graph.microsoft.com:443` / `127.0.0.1:8080` / `[::1]:8080`: that host on that port only;
//! - `*.service-now.com`: any subdomain (not the bare domain), any port; `*.x.com:443` too.
//!
//! IP literals match only an entry that names the same address; a wildcard never matches an IP.
//! A URL like `https://allowed.com@evil.com/` is judged by its real host (`evil.com`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::{Method, RequestBuilder, Response, Url};

/// The HTTP library behind the client, re-exported so functions need no direct dependency.
pub use reqwest;

pub use crate::error::EgressError;

/// Default timeout for a whole request (connect + response headers + body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// An exact host name or IP literal (normalised, brackets stripped for IPv6).
    Exact(String),
    /// `*.suffix`: the stored value is `.suffix`.
    Suffix(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowEntry {
    host: HostPattern,
    port: Option<u16>,
}

/// A parsed egress allowlist. Invalid entries are kept out (and reported by
/// [`Allowlist::parse`]); [`EgressClient::new`] drops them so a typo denies rather than allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<AllowEntry>,
}

fn normalise_host(host: &str) -> String {
    let h = host.trim().trim_end_matches('.').to_ascii_lowercase();
    h.trim_start_matches('[').trim_end_matches(']').to_string()
}

impl Allowlist {
    /// Parses every entry; the error lists the entries that are not `host`, `host:port` or
    /// `*.suffix[:port]`.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Allowlist, EgressError> {
        let mut ok = Vec::new();
        let mut bad = Vec::new();
        for raw in entries {
            match Self::parse_entry(raw.as_ref()) {
                Some(e) => ok.push(e),
                None => bad.push(raw.as_ref().to_string()),
            }
        }
        if bad.is_empty() {
            Ok(Allowlist { entries: ok })
        } else {
            Err(EgressError::InvalidUrl {
                reason: format!(
                    "egress allowlist entries {bad:?} are not `host`, `host:port` or `*.suffix`"
                ),
            })
        }
    }

    /// Parses what it can and drops the rest (a dropped entry can only deny, never allow).
    pub fn parse_lenient<S: AsRef<str>>(entries: &[S]) -> Allowlist {
        Allowlist {
            entries: entries
                .iter()
                .filter_map(|e| Self::parse_entry(e.as_ref()))
                .collect(),
        }
    }

    fn parse_entry(raw: &str) -> Option<AllowEntry> {
        let raw = raw.trim();
        if raw.is_empty() || raw.contains(['/', '@', '?', '#', ' ']) {
            return None;
        }
        // Split a port off: `[v6]:port`, `host:port`; a bare v6 literal has several colons.
        let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
            let (h, after) = rest.split_once(']')?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':')?.parse::<u16>().ok()?),
            };
            (h.to_string(), port)
        } else if raw.matches(':').count() == 1 {
            let (h, p) = raw.split_once(':')?;
            (h.to_string(), Some(p.parse::<u16>().ok()?))
        } else {
            (raw.to_string(), None)
        };
        let host = normalise_host(&host);
        if host.is_empty() {
            return None;
        }
        let pattern = if let Some(suffix) = host.strip_prefix("*.") {
            if suffix.is_empty() || suffix.contains('*') {
                return None;
            }
            HostPattern::Suffix(format!(".{suffix}"))
        } else if host.contains('*') {
            return None;
        } else {
            HostPattern::Exact(host)
        };
        Some(AllowEntry {
            host: pattern,
            port,
        })
    }

    /// Whether `url` may be contacted. Only `http` and `https` URLs with a host ever are.
    pub fn allows(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        // The URL parser has already canonicalised IP literals (`0x7f.1` → `127.0.0.1`).
        let host = normalise_host(host);
        let is_ip = host.parse::<std::net::IpAddr>().is_ok();
        let port = url.port_or_known_default();
        self.entries.iter().any(|e| {
            let host_ok = match &e.host {
                HostPattern::Exact(h) => {
                    if is_ip {
                        // Compare parsed addresses so `::1` and `0:0::1` agree.
                        h.parse::<std::net::IpAddr>().ok() == host.parse().ok()
                    } else {
                        *h == host
                    }
                }
                HostPattern::Suffix(s) => !is_ip && host.len() > s.len() && host.ends_with(s),
            };
            host_ok && e.port.is_none_or(|p| Some(p) == port)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How a denied URL's host is shown in errors and logs (no userinfo, no path).
fn host_label(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => url.scheme().to_string(),
    }
}

/// The error a redirect to a non-allowlisted host is aborted with, found again in `send`.
#[derive(Debug)]
struct RedirectDenied(String);

impl std::fmt::Display for RedirectDenied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redirect to non-allowlisted host {}", self.0)
    }
}

impl std::error::Error for RedirectDenied {}

/// An HTTP client that only reaches allowlisted hosts. Cloning is cheap (shared pool).
#[derive(Debug, Clone)]
pub struct EgressClient {
    inner: reqwest::Client,
    allow: Arc<Allowlist>,
    timeout: Duration,
}

impl EgressClient {
    /// A client for `allowlist` with the default 10 s timeout. Malformed entries are dropped
    /// (they deny); use [`EgressClient::builder`] to have them reported instead.
    pub fn new(allowlist: Vec<String>) -> EgressClient {
        EgressClientBuilder::new(Allowlist::parse_lenient(&allowlist)).build_or_default()
    }

    pub fn builder(allowlist: Allowlist) -> EgressClientBuilder {
        EgressClientBuilder::new(allowlist)
    }

    pub fn allowlist(&self) -> &Allowlist {
        &self.allow
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether a URL would be allowed (for a step that wants to fail early and clearly).
    pub fn is_allowed(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| self.allow.allows(&u))
    }

    /// Starts a request; nothing is checked or sent until [`EgressClient::send`].
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.inner.request(method, url)
    }

    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Checks the request's host against the allowlist and only then sends it.
    /// Any HTTP status is `Ok`: mapping 4xx/5xx is the caller's business.
    pub async fn send(&self, rb: RequestBuilder) -> Result<Response, EgressError> {
        let request = rb.build().map_err(|e| EgressError::InvalidUrl {
            reason: format!("the request could not be built: {}", without_url(&e)),
        })?;
        let url = request.url().clone();
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(EgressError::InvalidUrl {
                reason: format!("`{}` URLs cannot be used; use https", url.scheme()),
            });
        }
        let host = host_label(&url);
        if !self.allow.allows(&url) {
            tracing::warn!(target: "dayone::egress", host = %host, "egress denied");
            return Err(EgressError::Denied { host });
        }
        self.inner
            .execute(request)
            .await
            .map_err(|e| self.map_error(&host, e))
    }

    fn map_error(&self, host: &str, e: reqwest::Error) -> EgressError {
        if e.is_redirect() {
            let mut source: Option<&(dyn std::error::Error + 'static)> =
                std::error::Error::source(&e);
            while let Some(s) = source {
                if let Some(RedirectDenied(h)) = s.downcast_ref::<RedirectDenied>() {
                    return EgressError::Denied { host: h.clone() };
                }
                source = s.source();
            }
        }
        if e.is_timeout() {
            return EgressError::Timeout {
                host: host.to_string(),
                after: self.timeout,
            };
        }
        EgressError::Transport {
            host: host.to_string(),
            reason: without_url(&e),
        }
    }
}

/// A reqwest error's text without the URL (URLs can carry query tokens or userinfo).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.without_url_ref().to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

trait WithoutUrlRef {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrlRef for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let kind = if self.is_timeout() {
            "timed out"
        } else if self.is_connect() {
            "connection failed"
        } else if self.is_redirect() {
            "redirect failed"
        } else if self.is_body() || self.is_decode() {
            "reading the body failed"
        } else if self.is_builder() {
            "invalid request"
        } else {
            "request failed"
        };
        kind.to_string()
    }
}

/// Builds an [`EgressClient`] with a custom timeout.
#[derive(Debug, Clone)]
pub struct EgressClientBuilder {
    allow: Allowlist,
    timeout: Duration,
    connect_timeout: Option<Duration>,
}

impl EgressClientBuilder {
    fn new(allow: Allowlist) -> Self {
        EgressClientBuilder {
            allow,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: None,
        }
    }

    /// Total time for one request; past it the call fails with `Dayone.Retryable`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    pub fn build(self) -> Result<EgressClient, EgressError> {
        let allow = Arc::new(self.allow);
        let for_redirects = allow.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error(RedirectDenied("(too many redirects)".into()))
            } else if for_redirects.allows(attempt.url()) {
                attempt.follow()
            } else {
                let host = host_label(attempt.url());
                attempt.error(RedirectDenied(host))
            }
        });
        let mut builder = reqwest::Client::builder()
            .redirect(policy)
            .timeout(self.timeout)
            .user_agent(concat!("dayone/", env!("CARGO_PKG_VERSION")));
        if let Some(ct) = self.connect_timeout {
            builder = builder.connect_timeout(ct);
        }
        let inner = builder.build().map_err(|e| EgressError::Transport {
            host: "(client setup)".into(),
            reason: without_url(&e),
        })?;
        Ok(EgressClient {
            inner,
            allow,
            timeout: self.timeout,
        })
    }

    /// Like `build`, but if TLS setup fails (it does not with rustls) falls back to a plain
    /// client that still enforces the allowlist before every send.
    fn build_or_default(self) -> EgressClient {
        let allow = self.allow.clone();
        let timeout = self.timeout;
        self.build().unwrap_or_else(|_| EgressClient {
            inner: reqwest::Client::new(),
            allow: Arc::new(allow),
            timeout,
        })
    }
}

/// Parses a `Retry-After` value: delay-seconds (`"120"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, also the RFC 850 and asctime forms), relative to `now`.
/// A date in the past is a zero wait; anything unparsable is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The wait a response asks for in its `Retry-After` header, if any.
pub fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    parse_retry_after(value.to_str().ok()?, SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(list: &[&str], url: &str) -> bool {
        let l = Allowlist::parse(list).unwrap();
        l.allows(&Url::parse(url).unwrap())
    }

    #[test]
    fn exact_hosts_match_case_insensitively_on_any_port() {
        assert!(allows(
            &["graph.microsoft.com"],
            "https://Graph.Microsoft.COM/v1.0/users"
        ));
        assert!(allows(
            &["graph.microsoft.com"],
            "https://graph.microsoft.com:8443/"
        ));
        assert!(allows(
            &["graph.microsoft.com."],
            "https://graph.microsoft.com./"
        ));
        assert!(!allows(
            &["graph.microsoft.com"],
            "https://graph.microsoft.com.evil.io/"
        ));
        assert!(!allows(
            &["graph.microsoft.com"],
            "https://login.microsoftonline.com/"
        ));
    }

    #[test]
    fn host_port_entries_pin_the_port() {
        assert!(allows(
            &["api.example.com:443"],
            "https://api.example.com/x"
        ));
        assert!(!allows(
            &["api.example.com:443"],
            "http://api.example.com/x"
        ));
        assert!(!allows(
            &["api.example.com:443"],
            "https://api.example.com:444/x"
        ));
        assert!(allows(&["127.0.0.1:8080"], "http://127.0.0.1:8080/"));
        assert!(!allows(&["127.0.0.1:8080"], "http://127.0.0.1:8081/"));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        let list = ["*.service-now.com"];
        assert!(allows(&list, "https://acme.service-now.com/api"));
        assert!(allows(&list, "https://a.b.SERVICE-NOW.com/api"));
        assert!(!allows(&list, "https://service-now.com/api"));
        assert!(!allows(&list, "https://evilservice-now.com/api"));
        assert!(!allows(&list, "https://acme.service-now.com.evil.io/api"));
    }

    #[test]
    fn ip_literals_only_when_listed() {
        assert!(!allows(&["*.0.0.1"], "http://127.0.0.1/"));
        assert!(!allows(&["localhost"], "http://127.0.0.1/"));
        assert!(allows(&["127.0.0.1"], "http://127.0.0.1:9999/"));
        assert!(allows(&["[::1]:8080"], "http://[::1]:8080/"));
        assert!(allows(&["::1"], "http://[0:0::1]:8080/"));
        assert!(!allows(&["::1"], "http://[::2]/"));
    }

    #[test]
    fn userinfo_tricks_are_judged_by_the_real_host() {
        assert!(!allows(&["allowed.com"], "https://allowed.com@evil.com/"));
        assert!(!allows(
            &["allowed.com"],
            "https://allowed.com:pw@evil.com/"
        ));
        assert!(allows(&["allowed.com"], "https://user@allowed.com/"));
    }

    #[test]
    fn only_http_and_https() {
        assert!(!allows(&["allowed.com"], "ftp://allowed.com/"));
        assert!(!allows(&["allowed.com"], "file:///etc/passwd"));
    }

    #[test]
    fn malformed_entries_are_reported_and_deny_when_lenient() {
        for bad in [
            "",
            "https://a.com",
            "a.com/path",
            "*",
            "a.*.com",
            "a.com:notaport",
            "u@a.com",
        ] {
            assert!(
                Allowlist::parse(&[bad]).is_err(),
                "{bad:?} should be rejected"
            );
        }
        let lenient = Allowlist::parse_lenient(&["https://a.com", "b.com"]);
        assert!(!lenient.allows(&Url::parse("https://a.com/").unwrap()));
        assert!(lenient.allows(&Url::parse("https://b.com/").unwrap()));
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
