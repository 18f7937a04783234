//! dayone's domain: the hire, the username policy, birthright rules and the
//! step error names. No I/O and no AWS types live here.

pub mod names;
pub mod step_error;

pub use names::{AllocatedNames, Candidate, Decision, Namespace, SuffixTemplate, TraceEntry, UsernamePlan};
pub use step_error::StepErrorName;
