//! The port through which the ingress starts a Joiner execution, and its adapters:
//! [`SfnStarter`] (Step Functions `StartExecution`) and [`InMemoryStarter`] (tests, and a
//! model of `StartExecution`'s naming rule for anyone building a local engine on it).

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use aws_sdk_sfn::error::ProvideErrorMetadata;

use crate::error::IngressError;

/// An execution that was started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub execution_arn: String,
}

/// Why an execution was not started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// An execution with this name exists already (running or closed): the delivery is a
    /// duplicate, and `arn` is the execution it duplicates.
    #[error("an execution with this name already exists: {arn}")]
    AlreadyExists { arn: String },
    /// The engine asked us to slow down; the sender should retry later.
    #[error("the workflow engine is throttling StartExecution; retry later")]
    Throttled,
    /// Anything else (permissions, a missing state machine, the network).
    #[error("the execution could not be started: {0}")]
    Other(String),
}

/// Starts an execution of the Joiner state machine. `name` is the idempotency key: a second
/// start with a name already used must be [`StartError::AlreadyExists`].
#[async_trait]
pub trait ExecutionStarter: Send + Sync {
    async fn start(&self, name: &str, input: &serde_json::Value) -> Result<Started, StartError>;
}

#[async_trait]
impl<T: ExecutionStarter + ?Sized> ExecutionStarter for std::sync::Arc<T> {
    async fn start(&self, name: &str, input: &serde_json::Value) -> Result<Started, StartError> {
        (**self).start(name, input).await
    }
}

/// `arn:…:stateMachine:NAME` + execution name ⇒ `arn:…:execution:NAME:EXECUTION`, the ARN
/// Step Functions gives a Standard execution.
pub fn execution_arn(
    state_machine_arn: &str,
    execution_name: &str,
) -> Result<String, IngressError> {
    let not_sm = || IngressError::NotAStateMachineArn {
        arn: state_machine_arn.to_string(),
    };
    let parts: Vec<&str> = state_machine_arn.split(':').collect();
    match parts.as_slice() {
        [
            "arn",
            _partition,
            "states",
            _region,
            _account,
            "stateMachine",
            name,
        ] if !name.is_empty() => {
            let mut out = parts[..5].join(":");
            out.push_str(&format!(":execution:{name}:{execution_name}"));
            Ok(out)
        }
        _ => Err(not_sm()),
    }
}

/// Step Functions `StartExecution`.
pub struct SfnStarter {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl SfnStarter {
    pub fn new(
        client: aws_sdk_sfn::Client,
        state_machine_arn: impl Into<String>,
    ) -> Result<Self, IngressError> {
        let state_machine_arn = state_machine_arn.into();
        execution_arn(&state_machine_arn, "probe")?;
        Ok(SfnStarter {
            client,
            state_machine_arn,
        })
    }
}

#[async_trait]
impl ExecutionStarter for SfnStarter {
    async fn start(&self, name: &str, input: &serde_json::Value) -> Result<Started, StartError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        let err = match result {
            Ok(out) => {
                return Ok(Started {
                    execution_arn: out.execution_arn,
                });
            }
            Err(err) => err,
        };
        let service = err.as_service_error();
        if service.is_some_and(|e| e.is_execution_already_exists()) {
            // The error carries no ARN, but a Standard execution's ARN follows from the
            // state machine ARN and the name.
            let arn = execution_arn(&self.state_machine_arn, name)
                .map_err(|e| StartError::Other(e.to_string()))?;
            if let Err(e) = self
                .client
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
            {
                // The duplicate is still a duplicate; the lookup only confirms the ARN.
                tracing::warn!(execution_arn = %arn, error = %e.code().unwrap_or("unknown"), "could not confirm the existing execution");
            }
            return Err(StartError::AlreadyExists { arn });
        }
        let code = err.code().unwrap_or_default();
        if code == "ThrottlingException" || code == "TooManyRequestsException" {
            return Err(StartError::Throttled);
        }
        Err(StartError::Other(match (err.code(), err.message()) {
            (Some(code), Some(msg)) => format!("{code}: {msg}"),
            (Some(code), None) => code.to_string(),
            _ => format!("{err}"),
        }))
    }
}

/// An in-memory engine front door that keeps `StartExecution`'s naming rule: the first start
/// of a name wins, every later one is `AlreadyExists` with the first one's ARN.
#[derive(Default)]
pub struct InMemoryStarter {
    executions: Mutex<HashMap<String, (String, serde_json::Value)>>,
    throttle_next: AtomicU32,
}

impl InMemoryStarter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next `n` starts fail with [`StartError::Throttled`].
    pub fn throttle_next(&self, n: u32) {
        self.throttle_next.store(n, Ordering::SeqCst);
    }

    /// How many executions were started.
    pub fn started(&self) -> usize {
        self.executions.lock().expect("starter lock").len()
    }

    /// The input an execution was started with.
    pub fn input_of(&self, name: &str) -> Option<serde_json::Value> {
        self.executions
            .lock()
            .expect("starter lock")
            .get(name)
            .map(|(_, input)| input.clone())
    }
}

#[async_trait]
impl ExecutionStarter for InMemoryStarter {
    async fn start(&self, name: &str, input: &serde_json::Value) -> Result<Started, StartError> {
        let throttled = self
            .throttle_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if throttled {
            return Err(StartError::Throttled);
        }
        let mut executions = self.executions.lock().expect("starter lock");
        if let Some((arn, _)) = executions.get(name) {
            return Err(StartError::AlreadyExists { arn: arn.clone() });
        }
        let arn = format!("arn:aws:states:local:000000000000:execution:joiner:{name}");
        executions.insert(name.to_string(), (arn.clone(), input.clone()));
        Ok(Started { execution_arn: arn })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_arn_follows_from_the_state_machine_arn() {
        let arn = execution_arn(
            "arn:aws:states:eu-west-1:123456789012:stateMachine:dayone-joiner",
            "w1-e2-abc",
        )
        .unwrap();
        assert_eq!(
            arn,
            "arn:aws:states:eu-west-1:123456789012:execution:dayone-joiner:w1-e2-abc"
        );
        let cn = execution_arn(
            "arn:aws-cn:states:cn-north-1:123456789012:stateMachine:j",
            "x",
        )
        .unwrap();
        assert_eq!(
            cn,
            "arn:aws-cn:states:cn-north-1:123456789012:execution:j:x"
        );
    }

    #[test]
    fn a_lambda_arn_is_refused_as_a_state_machine() {
        let err =
            execution_arn("arn:aws:lambda:eu-west-1:123456789012:function:f", "x").unwrap_err();
        assert!(matches!(err, IngressError::NotAStateMachineArn { .. }));
        assert!(err.to_string().contains("DAYONE_STATE_MACHINE_ARN"));
    }

    #[tokio::test]
    async fn the_in_memory_starter_refuses_a_name_twice_like_step_functions() {
        let s = InMemoryStarter::new();
        let first = s.start("n", &serde_json::json!({"a": 1})).await.unwrap();
        let again = s
            .start("n", &serde_json::json!({"a": 2}))
            .await
            .unwrap_err();
        assert_eq!(
            again,
            StartError::AlreadyExists {
                arn: first.execution_arn
            }
        );
        assert_eq!(s.started(), 1);
        assert_eq!(s.input_of("n"), Some(serde_json::json!({"a": 1})));
    }
}
