//! The one error type of the ingress crate: what can stop it from starting up.
//! Per-request failures are HTTP responses, not errors (see `handler`).

/// Why the ingress cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngressError {
    #[error(
        "no authentication configured: set DAYONE_WEBHOOK_SECRET_ID (HMAC) and/or \
         DAYONE_BASIC_AUTH_SECRET_ID (HTTP Basic) to a Secrets Manager secret id, or \
         DAYONE_WEBHOOK_SECRET locally"
    )]
    NoAuthConfigured,
    #[error("environment variable {name} is required: {hint}")]
    MissingEnv {
        name: &'static str,
        hint: &'static str,
    },
    #[error("environment variable {name} is invalid: {problem}")]
    InvalidEnv { name: &'static str, problem: String },
    #[error(
        "`{arn}` is not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME); \
         fix DAYONE_STATE_MACHINE_ARN"
    )]
    NotAStateMachineArn { arn: String },
}
