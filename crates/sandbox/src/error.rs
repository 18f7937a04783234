//! The one error type of the sandbox crate.

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A twin could not listen on loopback.
    #[error(
        "a sandbox twin could not listen on 127.0.0.1 ({0}); check that loopback networking is available and that the process may open sockets"
    )]
    Bind(#[source] std::io::Error),
    /// The configuration contradicts itself.
    #[error("invalid sandbox configuration: {0}; fix the SandboxConfig value and start again")]
    Config(String),
}
