//! The `dayone` CLI's library half: the local engine that `dayone run`, `dayone serve`, the
//! end-to-end tests and the flow benchmark share.
//!
//! [`local::LocalEngine`] is the whole Joiner flow on one machine: the sandbox twins, a
//! `dayone.toml` pointed at them, the SQLite username ledger, `state-machines/joiner.asl.json`
//! on the States Language interpreter, and the six step Lambdas called in-process.

pub mod local;
