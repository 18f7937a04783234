//! `dayone serve`: the local twin of API Gateway + ingress + Step Functions on one port.
//!
//! `POST /hires` (the ingress Lambda's handler and auth: `X-Dayone-Signature` with the key
//! from `DAYONE_WEBHOOK_SECRET`, or Basic with `DAYONE_BASIC_AUTH=user:password`),
//! `GET /executions`, `GET /executions/{id}`. Executions run in the background on the local
//! engine (see `dayone run`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use dayone_cli::local::server::{LocalStarter, router};
use dayone_cli::local::{EngineOptions, LocalEngine, default_ledger_spec};
use ingress::{Authenticator, Ingress};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Where to listen (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub addr: SocketAddr,
    /// The policy. Default: ./dayone.toml when present, else built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The username ledger.
    #[arg(long, value_name = "sqlite:PATH", default_value_t = default_ledger_spec())]
    pub ledger: String,
    /// Another state machine definition instead of the built-in joiner.asl.json.
    #[arg(long, value_name = "FILE")]
    pub definition: Option<PathBuf>,
    /// Wait states and retry back-offs take real time (default: virtual clock).
    #[arg(long)]
    pub real_time: bool,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let auth = match Authenticator::from_local_env() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "error: {e}\nset DAYONE_WEBHOOK_SECRET (HMAC, X-Dayone-Signature) and/or DAYONE_BASIC_AUTH=user:password before `dayone serve`"
            );
            return Ok(2);
        }
    };
    let config = match crate::run_cmd::load_config(args.config.as_deref()) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            return Ok(2);
        }
    };
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .try_init();
    }
    let mut opts = EngineOptions::new(config)
        .ledger(args.ledger.clone())
        .real_time(args.real_time);
    if let Some(path) = &args.definition {
        opts = match opts.definition_file(path) {
            Ok(opts) => opts,
            Err(msg) => {
                eprintln!("error: {msg}");
                return Ok(2);
            }
        };
    }
    let engine = match LocalEngine::start(opts).await {
        Ok(e) => Arc::new(e),
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "error: cannot listen on {} ({e}); pick another --addr",
                args.addr
            );
            return Ok(2);
        }
    };
    let addr = listener.local_addr()?;
    let app = router(Ingress::new(LocalStarter::new(engine.clone()), auth));
    // Written without panicking: a closed stdout must not take the server down.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "dayone serve: listening on http://{addr}");
    let _ = writeln!(
        out,
        "  POST http://{addr}/hires            (X-Dayone-Timestamp + X-Dayone-Signature, or Basic)"
    );
    let _ = writeln!(out, "  GET  http://{addr}/executions");
    let _ = writeln!(out, "  GET  http://{addr}/executions/{{name or ARN}}");
    let _ = writeln!(
        out,
        "  ledger {} · twins on 127.0.0.1 · {}",
        engine.ledger_spec(),
        if args.real_time {
            "real time"
        } else {
            "virtual clock"
        }
    );
    let _ = out.flush();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(0)
}
