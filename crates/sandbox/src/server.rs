//! Listener plumbing shared by the twins: binding on loopback, the middleware that applies
//! faults and records calls, and graceful shutdown.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::SandboxError;
use crate::faults::{FaultKind, Faults};

/// The six listeners a sandbox runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Twin {
    /// Microsoft Graph (`graph.microsoft.com`).
    Graph,
    /// Entra ID token endpoint (`login.microsoftonline.com`).
    Login,
    /// Workday Web Services (SOAP).
    Workday,
    /// ServiceNow instance (Table API, Service Catalog, OAuth).
    ServiceNow,
    /// Jira Service Management Cloud site.
    Jira,
    /// Slack Web API (`slack.com/api`).
    Slack,
}

impl Twin {
    /// Lowercase name used in call keys and the snapshot.
    pub fn as_str(self) -> &'static str {
        match self {
            Twin::Graph => "graph",
            Twin::Login => "login",
            Twin::Workday => "workday",
            Twin::ServiceNow => "servicenow",
            Twin::Jira => "jira",
            Twin::Slack => "slack",
        }
    }
}

impl fmt::Display for Twin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request a twin received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallRecord {
    /// Which twin answered.
    pub twin: Twin,
    /// HTTP method, upper case.
    pub method: String,
    /// The route template (e.g. `/v1.0/users/{id}/manager/$ref`), or the raw path when no
    /// route matched.
    pub route: String,
    /// The concrete path requested.
    pub path: String,
    /// Status code sent back.
    pub status: u16,
    /// Whether an injected fault produced the answer.
    pub faulted: bool,
}

/// Every call received by every twin, in arrival order.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallLog {
    inner: Arc<Mutex<Vec<CallRecord>>>,
}

impl CallLog {
    fn push(&self, r: CallRecord) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }

    pub(crate) fn all(&self) -> Vec<CallRecord> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn counts(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for r in self.all() {
            *out.entry(format!("{} {} {}", r.twin, r.method, r.route))
                .or_insert(0) += 1;
        }
        out
    }
}

/// Renders an injected fault in a twin's own wire format.
pub(crate) type FaultRenderer = fn(status: StatusCode) -> Response;

#[derive(Clone)]
pub(crate) struct TwinLayer {
    pub twin: Twin,
    pub faults: Faults,
    pub calls: CallLog,
    pub shutdown: watch::Receiver<bool>,
    pub render: FaultRenderer,
}

/// Wraps a twin's router with fault injection and call recording.
pub(crate) fn with_twin_layer(router: Router, layer: TwinLayer) -> Router {
    router.layer(middleware::from_fn_with_state(
        Arc::new(layer),
        twin_middleware,
    ))
}

async fn twin_middleware(
    State(layer): State<Arc<TwinLayer>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let decision = layer.faults.decide(&method, &path);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let (response, faulted) = match decision.fault {
        None => (next.run(req).await, false),
        Some(FaultKind::Throttle { retry_after_secs }) => {
            let mut r = (layer.render)(StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after_secs));
            (r, true)
        }
        Some(FaultKind::Status {
            status,
            retry_after_secs,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = (layer.render)(status);
            if let Some(secs) = retry_after_secs {
                r.headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
            }
            (r, true)
        }
        Some(FaultKind::Hang) => {
            let mut shutdown = layer.shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(decision.hang_for) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
            ((layer.render)(StatusCode::GATEWAY_TIMEOUT), true)
        }
    };
    layer.calls.push(CallRecord {
        twin: layer.twin,
        method,
        route,
        path,
        status: response.status().as_u16(),
        faulted,
    });
    response
}

/// Binds `127.0.0.1:0` and serves `router` until `shutdown` turns true.
pub(crate) async fn serve(
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, JoinHandle<()>), SandboxError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(SandboxError::Bind)?;
    let addr = listener.local_addr().map_err(SandboxError::Bind)?;
    let handle = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            })
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "sandbox listener stopped with an error");
        }
    });
    Ok((addr, handle))
}
