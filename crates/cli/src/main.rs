//! `dayone`: run Joiner flows locally, allocate usernames, run any state machine.

mod asl_cmd;
mod new_cmd;
mod run_cmd;
mod serve_cmd;
mod username_cmd;
mod validate_cmd;

use clap::{Parser, Subcommand};

// The interpreter allocates a JSON tree per state document; mimalloc makes that about twice
// as fast as the system allocator (see the interpreter bench, which uses it too).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "dayone", version, about = "Joiner provisioning flows as code")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Joiner flow for one hire on the local engine.
    Run(run_cmd::RunArgs),
    /// Serve the local twin of API Gateway + ingress + Step Functions.
    Serve(serve_cmd::ServeArgs),
    /// Allocate or explain usernames.
    #[command(subcommand)]
    Username(username_cmd::UsernameCommand),
    /// Run any Amazon States Language state machine on the local interpreter.
    #[command(subcommand)]
    Asl(asl_cmd::AslCommand),
    /// Check dayone.toml and the state machines.
    Validate(validate_cmd::ValidateArgs),
    /// Scaffold something new.
    #[command(subcommand)]
    New(new_cmd::NewCommand),
}

fn main() {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(2);
        }
    };
    let code = runtime.block_on(async move {
        let result = match cli.command {
            Command::Run(args) => run_cmd::run(args).await,
            Command::Serve(args) => serve_cmd::run(args).await,
            Command::Username(cmd) => username_cmd::run(cmd).await,
            Command::Asl(cmd) => asl_cmd::run(cmd).await,
            Command::Validate(args) => validate_cmd::run(args).await,
            Command::New(cmd) => new_cmd::run(cmd).await,
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                2
            }
        }
    });
    std::process::exit(code);
}
