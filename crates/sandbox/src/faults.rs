//! Fault injection shared by every twin.
//!
//! A [`Faults`] handle belongs to one twin. Tests use it to make the twin slow, throttled,
//! failing or silent, either for every path or only for one `METHOD /path` pattern, so a
//! single call can be throttled in the middle of a flow while the others go through.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What an armed fault does to a request it catches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// `429 Too Many Requests` with `Retry-After: {retry_after_secs}` and the twin's
    /// throttling body (Slack: `{"ok":false,"error":"ratelimited"}`).
    Throttle {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u64,
    },
    /// Any 4xx/5xx status (typically 500, 503 or 504) rendered in the twin's own error
    /// envelope. 503 and 504 carry `Retry-After` when `retry_after_secs` is set.
    Status {
        /// HTTP status code to answer with.
        status: u16,
        /// Optional `Retry-After` header, in seconds.
        retry_after_secs: Option<u64>,
    },
    /// The request is accepted but never answered (until the hang duration passes or the
    /// sandbox shuts down), so the client's timeout fires.
    Hang,
}

/// Which requests a fault applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaultTarget {
    method: Option<String>,
    segments: Option<Vec<String>>,
}

impl FaultTarget {
    /// Every request of the twin.
    pub fn any() -> Self {
        Self::default()
    }

    /// Requests whose method equals `method` (case-insensitive; `"*"` = any) and whose path
    /// matches `pattern`. In the pattern a segment written `*` or `{name}` matches any one
    /// segment, e.g. `/v1.0/users/{id}/manager/$ref`. A trailing `/**` matches any rest.
    pub fn path(method: &str, pattern: &str) -> Self {
        let method = (method != "*").then(|| method.to_ascii_uppercase());
        let segments = pattern
            .trim_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect();
        Self {
            method,
            segments: Some(segments),
        }
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        let Some(pattern) = &self.segments else {
            return true;
        };
        let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut i = 0;
        for (n, seg) in pattern.iter().enumerate() {
            if seg == "**" && n == pattern.len() - 1 {
                return true;
            }
            let Some(got) = actual.get(i) else {
                return false;
            };
            let wildcard = seg == "*" || (seg.starts_with('{') && seg.ends_with('}'));
            if !wildcard && seg != got {
                return false;
            }
            i += 1;
        }
        i == actual.len()
    }
}

#[derive(Debug, Clone)]
struct ArmedFault {
    target: FaultTarget,
    kind: FaultKind,
    remaining: u32,
}

#[derive(Debug)]
struct FaultState {
    latency: Vec<(FaultTarget, Duration)>,
    armed: Vec<ArmedFault>,
    hang_for: Duration,
    injected: u64,
}

/// Fault knobs of one twin. Cloning gives another handle to the same knobs.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self::new()
    }
}

/// The decision for one incoming request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FaultDecision {
    pub latency: Duration,
    pub fault: Option<FaultKind>,
    pub hang_for: Duration,
}

impl Faults {
    /// Knobs with nothing armed.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(FaultState {
                latency: Vec::new(),
                armed: Vec::new(),
                hang_for: Duration::from_secs(300),
                injected: 0,
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panic while holding this lock cannot leave the knobs half-written, so a
        // poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `delay` to every call of this twin (replaces any earlier global latency).
    pub fn set_latency(&self, delay: Duration) {
        self.set_latency_for(FaultTarget::any(), delay);
    }

    /// Adds `delay` to calls matching `target` (replaces an earlier latency for the same target).
    pub fn set_latency_for(&self, target: FaultTarget, delay: Duration) {
        let mut s = self.lock();
        s.latency.retain(|(t, _)| *t != target);
        if !delay.is_zero() {
            s.latency.push((target, delay));
        }
    }

    /// How long a hung call waits before giving up (default 300 s). Shutdown ends it sooner.
    pub fn set_hang_duration(&self, d: Duration) {
        self.lock().hang_for = d;
    }

    /// The next `n` calls answer `429` with `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: u32, retry_after_secs: u64) {
        self.arm(
            FaultTarget::any(),
            FaultKind::Throttle { retry_after_secs },
            n,
        );
    }

    /// The next `n` calls answer `status` (e.g. 500, 503, 504) in the twin's error envelope.
    pub fn fail_next(&self, n: u32, status: u16) {
        self.arm(
            FaultTarget::any(),
            FaultKind::Status {
                status,
                retry_after_secs: None,
            },
            n,
        );
    }

    /// The next `n` calls never answer (the client times out).
    pub fn hang_next(&self, n: u32) {
        self.arm(FaultTarget::any(), FaultKind::Hang, n);
    }

    /// Arms `kind` for the next `n` calls that match `target`. Faults armed earlier fire
    /// first; a request consumes at most one armed fault.
    pub fn arm(&self, target: FaultTarget, kind: FaultKind, n: u32) {
        if n == 0 {
            return;
        }
        self.lock().armed.push(ArmedFault {
            target,
            kind,
            remaining: n,
        });
    }

    /// Disarms everything: latency, pending faults.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.latency.clear();
        s.armed.clear();
    }

    /// Faults still armed (sum of remaining counts).
    pub fn pending(&self) -> u32 {
        self.lock().armed.iter().map(|a| a.remaining).sum()
    }

    /// How many requests a fault has been injected into so far.
    pub fn injected(&self) -> u64 {
        self.lock().injected
    }

    pub(crate) fn decide(&self, method: &str, path: &str) -> FaultDecision {
        let mut s = self.lock();
        let latency = s
            .latency
            .iter()
            .filter(|(t, _)| t.matches(method, path))
            .map(|(_, d)| *d)
            .max()
            .unwrap_or_default();
        let mut fault = None;
        if let Some(pos) = s.armed.iter().position(|a| a.target.matches(method, path)) {
            let armed = &mut s.armed[pos];
            fault = Some(armed.kind);
            armed.remaining -= 1;
            if armed.remaining == 0 {
                s.armed.remove(pos);
            }
            s.injected += 1;
        }
        FaultDecision {
            latency,
            fault,
            hang_for: s.hang_for,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_fault_only_hits_its_path_and_runs_out() {
        let f = Faults::new();
        f.arm(
            FaultTarget::path("POST", "/v1.0/users"),
            FaultKind::Throttle {
                retry_after_secs: 2,
            },
            1,
        );
        assert_eq!(f.decide("GET", "/v1.0/users").fault, None);
        assert_eq!(f.decide("POST", "/v1.0/users/abc").fault, None);
        assert!(f.decide("post", "/v1.0/users").fault.is_some());
        assert_eq!(f.decide("POST", "/v1.0/users").fault, None);
        assert_eq!(f.injected(), 1);
    }

    #[test]
    fn placeholders_and_rest_wildcards_match_segments() {
        let t = FaultTarget::path("*", "/v1.0/users/{id}/manager/$ref");
        assert!(t.matches("PUT", "/v1.0/users/42/manager/$ref"));
        assert!(!t.matches("PUT", "/v1.0/users/42/manager"));
        let rest = FaultTarget::path("GET", "/api/now/**");
        assert!(rest.matches("GET", "/api/now/table/incident"));
        assert!(!rest.matches("GET", "/api/sn_sc/x"));
    }

    #[test]
    fn latency_applies_to_matching_calls_only() {
        let f = Faults::new();
        f.set_latency_for(FaultTarget::path("GET", "/a"), Duration::from_millis(40));
        assert_eq!(f.decide("GET", "/a").latency, Duration::from_millis(40));
        assert_eq!(f.decide("GET", "/b").latency, Duration::ZERO);
        f.clear();
        assert_eq!(f.decide("GET", "/a").latency, Duration::ZERO);
    }
}
