//! The ingress Lambda's settings, read once at cold start from its environment. They name
//! secrets; they never hold one.

use crate::error::IngressError;
use crate::handler::DEFAULT_MAX_BODY_BYTES;

/// What `main.rs` needs to wire the Lambda.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `DAYONE_STATE_MACHINE_ARN`: the Joiner state machine.
    pub state_machine_arn: String,
    /// `DAYONE_WEBHOOK_SECRET_ID`: Secrets Manager id (name or ARN) of the HMAC key.
    pub hmac_secret_id: Option<String>,
    /// `DAYONE_BASIC_AUTH_SECRET_ID`: Secrets Manager id of `username:password`.
    pub basic_secret_id: Option<String>,
    /// `DAYONE_MAX_BODY_BYTES`, default 64 KiB.
    pub max_body_bytes: usize,
}

impl Settings {
    pub fn from_env() -> Result<Self, IngressError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, IngressError> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let state_machine_arn =
            non_empty("DAYONE_STATE_MACHINE_ARN").ok_or(IngressError::MissingEnv {
                name: "DAYONE_STATE_MACHINE_ARN",
                hint: "the ARN of the Joiner state machine (set by the SAM/CDK stack)",
            })?;
        let max_body_bytes = match non_empty("DAYONE_MAX_BODY_BYTES") {
            None => DEFAULT_MAX_BODY_BYTES,
            Some(v) => v.trim().parse().map_err(|_| IngressError::InvalidEnv {
                name: "DAYONE_MAX_BODY_BYTES",
                problem: format!("`{v}` is not a number of bytes"),
            })?,
        };
        let settings = Settings {
            state_machine_arn,
            hmac_secret_id: non_empty("DAYONE_WEBHOOK_SECRET_ID"),
            basic_secret_id: non_empty("DAYONE_BASIC_AUTH_SECRET_ID"),
            max_body_bytes,
        };
        if settings.hmac_secret_id.is_none() && settings.basic_secret_id.is_none() {
            return Err(IngressError::NoAuthConfigured);
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn a_deployed_ingress_names_its_secrets_and_state_machine() {
        let s = Settings::from_lookup(env(&[
            (
                "DAYONE_STATE_MACHINE_ARN",
                "arn:aws:states:eu-west-1:123456789012:stateMachine:j",
            ),
            ("DAYONE_WEBHOOK_SECRET_ID", "dayone/webhook"),
        ]))
        .unwrap();
        assert_eq!(s.hmac_secret_id.as_deref(), Some("dayone/webhook"));
        assert_eq!(s.basic_secret_id, None);
        assert_eq!(s.max_body_bytes, 64 * 1024);
    }

    #[test]
    fn missing_settings_say_what_to_set() {
        let err = Settings::from_lookup(env(&[])).unwrap_err();
        assert!(err.to_string().contains("DAYONE_STATE_MACHINE_ARN"));
        let err = Settings::from_lookup(env(&[("DAYONE_STATE_MACHINE_ARN", "arn:x")])).unwrap_err();
        assert_eq!(err, IngressError::NoAuthConfigured);
        let err = Settings::from_lookup(env(&[
            ("DAYONE_STATE_MACHINE_ARN", "arn:x"),
            ("DAYONE_BASIC_AUTH_SECRET_ID", "b"),
            ("DAYONE_MAX_BODY_BYTES", "lots"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("DAYONE_MAX_BODY_BYTES"));
    }
}
