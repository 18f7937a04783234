//! dayone's domain: the hire, the username policy, birthright rules and the
//! step error names. No I/O and no AWS types live here, so every decision the
//! Joiner flow makes can be unit-tested and explained.
//!
//! - [`hire::HireEvent`]: HireEvent v1, parsed and validated (field-level errors).
//! - [`config::Config`]: the whole `dayone.toml`, validated at load.
//! - [`username::UsernamePolicy`]: hire → ordered candidate names, suffix
//!   fallback, display name and decision trace ([`names::UsernamePlan`]).
//! - [`birthright::Birthright`]: CEL rules → groups and apps ([`birthright::Grant`]).
//! - [`names`]: the vocabulary shared with the username ledger.
//! - [`step_error::StepErrorName`]: the `Dayone.*` error names the state machines match.
//! - [`error`]: every error this crate returns, each mapped to a step error name.

pub mod birthright;
pub mod config;
pub mod error;
pub mod hire;
pub mod names;
pub mod step_error;
pub mod username;

pub use birthright::{Birthright, Grant};
pub use config::{Config, UsernameConfig};
pub use error::{ConfigError, FieldError, HireError, RuleError, UsernameError};
pub use hire::{HireEvent, WorkerType};
pub use names::{
    AllocatedNames, Candidate, Decision, Namespace, SuffixTemplate, TraceEntry, UsernamePlan,
};
pub use step_error::StepErrorName;
pub use username::UsernamePolicy;

#[cfg(test)]
mod tests {
    /// Handlers share these across async tasks (`Arc<…>` in Lambda state).
    #[test]
    fn compiled_policies_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<crate::Config>();
        shareable::<crate::UsernamePolicy>();
        shareable::<crate::Birthright>();
        shareable::<crate::HireEvent>();
    }

    #[test]
    fn field_errors_serialise_as_the_ingress_400_body_expects() {
        let e = crate::FieldError::new("legalName.first", "is required");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"field": "legalName.first", "problem": "is required"})
        );
    }
}
