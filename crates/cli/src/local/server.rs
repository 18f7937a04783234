//! `dayone serve`: the local twin of API Gateway + the ingress Lambda + Step Functions.
//!
//! `POST /hires` is answered by the ingress crate's own [`Ingress`] handler (the code that
//! runs in AWS: size limit, HMAC/Basic auth, HireEvent validation, the deterministic
//! execution name), plugged into [`LocalStarter`], an [`ExecutionStarter`] that starts the
//! execution on the local engine instead of Step Functions. As with `StartExecution`, the
//! first start of a name wins and every later one is `ExecutionAlreadyExists`.
//!
//! `GET /executions` lists executions with their status; `GET /executions/{id}` (the
//! execution name or its ARN) shows status, input, output or error, the per-state summary
//! and the full history.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use dayone_asl::{ExecutionObserver, ExecutionResult, HistoryEvent};
use ingress::{ExecutionStarter, Ingress, StartError, Started};
use serde_json::{Value, json};

use super::{LocalEngine, forbidden_values, timeline};

/// One execution as the local Step Functions keeps it.
struct Record {
    arn: String,
    name: String,
    input: Value,
    start_date: DateTime<Utc>,
    history: Arc<Mutex<Vec<HistoryEvent>>>,
    result: Option<ExecutionResult>,
}

/// Executions by name, in start order.
#[derive(Default)]
pub struct Executions {
    by_name: Mutex<BTreeMap<String, Record>>,
    order: Mutex<Vec<String>>,
}

/// Appends every history event (so a running execution can be inspected).
struct Collect(Arc<Mutex<Vec<HistoryEvent>>>);

impl ExecutionObserver for Collect {
    fn on_event(&self, event: &HistoryEvent) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
    }
}

/// Starts executions on the local engine, with `StartExecution`'s naming rule.
#[derive(Clone)]
pub struct LocalStarter {
    engine: Arc<LocalEngine>,
    executions: Arc<Executions>,
}

impl LocalStarter {
    pub fn new(engine: Arc<LocalEngine>) -> LocalStarter {
        LocalStarter {
            engine,
            executions: Arc::new(Executions::default()),
        }
    }

    pub fn engine(&self) -> &LocalEngine {
        &self.engine
    }

    /// How many executions were started.
    pub fn started(&self) -> usize {
        self.executions
            .by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Summary of every execution, in start order.
    pub fn list(&self) -> Vec<Value> {
        let order = self
            .executions
            .order
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let map = self
            .executions
            .by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        order
            .iter()
            .filter_map(|n| map.get(n))
            .map(|r| {
                json!({
                    "executionArn": r.arn,
                    "name": r.name,
                    "status": status_of(r),
                    "startDate": r.start_date,
                    "stopDate": r.result.as_ref().map(|x| x.stop_date),
                })
            })
            .collect()
    }

    /// Everything about one execution (by name or ARN), or `None`.
    pub fn describe(&self, id: &str) -> Option<Value> {
        let map = self
            .executions
            .by_name
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let r = map.get(id).or_else(|| map.values().find(|r| r.arn == id))?;
        let history = match &r.result {
            Some(res) => res.history.clone(),
            None => r.history.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        };
        let res = r.result.as_ref();
        Some(json!({
            "executionArn": r.arn,
            "name": r.name,
            "status": status_of(r),
            "startDate": r.start_date,
            "stopDate": res.map(|x| x.stop_date),
            "input": r.input,
            "output": res.and_then(|x| x.output.clone()),
            "error": res.and_then(|x| x.error.clone()),
            "cause": res.and_then(|x| x.cause.clone()),
            "steps": timeline::steps(&history),
            "history": history,
        }))
    }
}

fn status_of(r: &Record) -> &'static str {
    r.result.as_ref().map_or("RUNNING", |x| x.status.as_str())
}

#[async_trait]
impl ExecutionStarter for LocalStarter {
    async fn start(&self, name: &str, input: &Value) -> Result<Started, StartError> {
        let arn = LocalEngine::execution_arn(name);
        let history = Arc::new(Mutex::new(Vec::new()));
        {
            // Check and insert under one lock: concurrent identical deliveries start one execution.
            let mut map = self
                .executions
                .by_name
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(existing) = map.get(name) {
                return Err(StartError::AlreadyExists {
                    arn: existing.arn.clone(),
                });
            }
            map.insert(
                name.to_string(),
                Record {
                    arn: arn.clone(),
                    name: name.to_string(),
                    input: input.clone(),
                    start_date: Utc::now(),
                    history: history.clone(),
                    result: None,
                },
            );
            self.executions
                .order
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(name.to_string());
        }
        let execution =
            match self
                .engine
                .start_execution(name, input.clone(), Some(Arc::new(Collect(history))))
            {
                Ok(e) => e,
                Err(e) => {
                    self.executions
                        .by_name
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(name);
                    return Err(StartError::Other(e.to_string()));
                }
            };
        let executions = self.executions.clone();
        let key = name.to_string();
        tokio::spawn(async move {
            let result = execution.wait().await;
            let mut map = executions.by_name.lock().unwrap_or_else(|p| p.into_inner());
            if let (Some(rec), Ok(res)) = (map.get_mut(&key), result) {
                tracing::info!(execution = %key, status = res.status.as_str(), "execution finished");
                rec.result = Some(res);
            }
        });
        Ok(Started { execution_arn: arn })
    }
}

type AppState = Arc<Ingress<LocalStarter>>;

/// The HTTP API of `dayone serve`.
pub fn router(ingress: Ingress<LocalStarter>) -> Router {
    Router::new()
        .route("/hires", post(post_hire))
        .route("/executions", get(list_executions))
        .route("/executions/{id}", get(describe_execution))
        .with_state(Arc::new(ingress))
}

async fn post_hire(State(ingress): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    ingress.handle(&headers, &body).await.map(Body::from)
}

/// JSON, with every value the twins must keep secret removed (belt and braces).
fn redacted_json(ingress: &AppState, status: StatusCode, v: Value) -> Response {
    let forbidden = forbidden_values(ingress.starter().engine().sandbox());
    let text = timeline::redact(&v.to_string(), &forbidden);
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

async fn list_executions(State(ingress): State<AppState>) -> Response {
    let list = ingress.starter().list();
    redacted_json(&ingress, StatusCode::OK, json!({ "executions": list }))
}

async fn describe_execution(State(ingress): State<AppState>, Path(id): Path<String>) -> Response {
    match ingress.starter().describe(&id) {
        Some(v) => redacted_json(&ingress, StatusCode::OK, v),
        None => redacted_json(
            &ingress,
            StatusCode::NOT_FOUND,
            json!({"error": "execution_not_found", "id": id}),
        ),
    }
}
