//! Task dispatch: the [`TaskHandler`] trait, the [`TaskRegistry`] that maps function names and
//! resource ARNs to handlers, and the Lambda `Invoke` envelope.

use crate::error::TaskError;
use async_trait::async_trait;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// What a handler learns about the call besides its input.
#[derive(Debug, Clone)]
pub struct TaskContext {
    /// The Task state's name.
    pub state_name: String,
    /// The resource as written (after substitutions), without `.waitForTaskToken`.
    pub resource: String,
    /// The Lambda function name or ARN for `lambda:invoke` (its `FunctionName`), else `None`.
    pub function_name: Option<String>,
    /// Set for `.waitForTaskToken` tasks: answer later with
    /// [`crate::Execution::send_task_success`] / [`crate::Execution::send_task_failure`].
    pub task_token: Option<String>,
    pub execution_arn: String,
    pub execution_name: String,
    /// 0 on the first attempt, then 1, 2… as Retry re-runs the task.
    pub retry_count: u32,
}

/// A step the interpreter can call: a Lambda handler in-process, a fake, a connector…
#[async_trait]
pub trait TaskHandler: Send + Sync {
    /// Runs the task. An `Err` becomes a States-language error named `error.error`.
    async fn invoke(&self, input: Value, ctx: &TaskContext) -> Result<Value, TaskError>;
}

struct FnHandler<F>(F);

#[async_trait]
impl<F, Fut> TaskHandler for FnHandler<F>
where
    F: Fn(Value, TaskContext) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Value, TaskError>> + Send,
{
    async fn invoke(&self, input: Value, ctx: &TaskContext) -> Result<Value, TaskError> {
        (self.0)(input, ctx.clone()).await
    }
}

/// Maps names to handlers. A key is a function name (`allocate-username`), a full Lambda
/// ARN, or any other resource string. Lookups try the exact string first, then the function
/// name inside a Lambda ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`).
#[derive(Clone, Default)]
pub struct TaskRegistry {
    handlers: HashMap<String, Arc<dyn TaskHandler>>,
}

impl TaskRegistry {
    pub fn new() -> TaskRegistry {
        TaskRegistry::default()
    }

    /// Registers `handler` under `key` (replacing any previous one).
    pub fn register(&mut self, key: impl Into<String>, handler: Arc<dyn TaskHandler>) -> &mut Self {
        self.handlers.insert(key.into(), handler);
        self
    }

    /// Builder form of [`TaskRegistry::register`].
    pub fn with(mut self, key: impl Into<String>, handler: Arc<dyn TaskHandler>) -> Self {
        self.register(key, handler);
        self
    }

    /// Registers an async closure `|input, ctx| async move { … }`.
    pub fn register_fn<F, Fut>(&mut self, key: impl Into<String>, f: F) -> &mut Self
    where
        F: Fn(Value, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, TaskError>> + Send + 'static,
    {
        self.register(key, Arc::new(FnHandler(f)))
    }

    /// Finds the handler for a function name, Lambda ARN or resource.
    pub fn resolve(&self, key: &str) -> Option<Arc<dyn TaskHandler>> {
        if let Some(h) = self.handlers.get(key) {
            return Some(h.clone());
        }
        let name = lambda_function_name(key)?;
        self.handlers.get(name).cloned()
    }

    /// Registered keys, sorted (for error messages and `--list` style output).
    pub fn keys(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }
}

/// `NAME` from `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` (or a bare
/// `NAME:QUALIFIER`); `None` when `s` is not a Lambda function reference.
pub fn lambda_function_name(s: &str) -> Option<&str> {
    if let Some(pos) = s.find(":function:") {
        let rest = &s[pos + ":function:".len()..];
        return Some(rest.split(':').next().unwrap_or(rest));
    }
    if !s.starts_with("arn:") {
        return s.split(':').next();
    }
    None
}

/// True when the resource is a Lambda function ARN.
pub(crate) fn is_lambda_arn(s: &str) -> bool {
    s.starts_with("arn:") && s.contains(":lambda:") && s.contains(":function:")
}

/// The result `arn:aws:states:::lambda:invoke` returns on AWS, around the function output.
pub fn lambda_invoke_envelope(payload: Value) -> Value {
    let request_id = uuid::Uuid::new_v4().to_string();
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id.clone()],
                "Content-Type": ["application/json"],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Type": "application/json",
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id.clone(),
            },
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": { "RequestId": request_id },
        "StatusCode": 200
    })
}

/// A function error as Step Functions reports it: the error is the function's `errorType`,
/// the cause the JSON error object.
pub(crate) fn lambda_error(e: TaskError) -> TaskError {
    let cause = json!({ "errorMessage": e.cause, "errorType": e.error }).to_string();
    TaskError {
        error: e.error,
        cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_function_names_inside_arns() {
        let mut r = TaskRegistry::new();
        r.register_fn("allocate", |v, _| async move { Ok(v) });
        assert!(r.resolve("allocate").is_some());
        assert!(
            r.resolve("arn:aws:lambda:eu-west-1:123456789012:function:allocate")
                .is_some()
        );
        assert!(
            r.resolve("arn:aws:lambda:eu-west-1:123456789012:function:allocate:live")
                .is_some()
        );
        assert!(r.resolve("other").is_none());
    }
}
