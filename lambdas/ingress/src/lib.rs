//! The ingress Lambda: `POST /hires` from Workday (API Gateway HTTP API) to a Joiner
//! execution in Step Functions.
//!
//! - [`Ingress`] (`handler`): size limit, authentication, content type, `HireEvent`
//!   validation, then a start through the [`ExecutionStarter`] port; the HTTP answers are the
//!   ingress contract of DESIGN.md.
//! - [`Authenticator`] (`auth`): `X-Dayone-Signature` HMAC or HTTP Basic, secrets read
//!   through `dayone_sdk`'s [`SecretStore`](dayone_sdk::secrets::SecretStore).
//! - [`execution_name`] (`name`): the deterministic execution name that makes a redelivery
//!   the same execution.
//! - [`SfnStarter`] / [`InMemoryStarter`] (`starter`): Step Functions, and an in-memory model
//!   of its naming rule. `dayone serve` plugs the local engine in through the same port.

pub mod auth;
pub mod config;
pub mod error;
pub mod handler;
pub mod name;
pub mod starter;

pub use auth::{Authenticator, sign};
pub use config::Settings;
pub use error::IngressError;
pub use handler::Ingress;
pub use name::execution_name;
pub use starter::{ExecutionStarter, InMemoryStarter, SfnStarter, StartError, Started};
