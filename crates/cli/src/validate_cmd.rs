//! `dayone validate [--config F] [--definition F]…`: checks the policy (username templates,
//! birthright CEL conditions, TAP, tickets, targets, secrets, functions) and the state
//! machine(s) before anything runs. Exit 0 when everything is valid, 2 otherwise, with one
//! line per problem.

use std::path::PathBuf;

use dayone_cli::local;

#[derive(clap::Args)]
pub struct ValidateArgs {
    /// The policy. Default: ./dayone.toml.
    #[arg(long, value_name = "FILE", default_value = "dayone.toml")]
    pub config: PathBuf,
    /// State machine definitions to check (default: the built-in joiner.asl.json and every
    /// `state-machines/*.asl.json` under the working directory). Repeatable.
    #[arg(long = "definition", value_name = "FILE")]
    pub definitions: Vec<PathBuf>,
}

pub async fn run(args: ValidateArgs) -> anyhow::Result<i32> {
    let mut problems = 0usize;
    let path = args.config.display().to_string();
    match std::fs::read_to_string(&args.config) {
        Err(e) => {
            eprintln!("✗ {path}: cannot be read ({e})");
            problems += 1;
        }
        Ok(text) => match dayone_core::Config::from_toml_str(&text) {
            Err(e) => {
                eprintln!("✗ {path}: {e}");
                problems += 1;
            }
            Ok(config) => {
                // from_toml_str compiled the templates and CEL conditions; the counts say what
                // was checked.
                println!(
                    "✓ {path}: {} username rule(s), {} birthright rule(s) (CEL compiled), {} function(s), {} secret name(s)",
                    config.username.rules.len(),
                    config.birthright.rules.len(),
                    config.functions.len(),
                    config.secrets.len()
                );
            }
        },
    }

    // `None` is the built-in definition; files are read and checked the same way.
    let mut definitions: Vec<Option<PathBuf>> = Vec::new();
    if args.definitions.is_empty() {
        definitions.push(None);
        if let Ok(dir) = std::fs::read_dir("state-machines") {
            let mut files: Vec<PathBuf> = dir
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
                .collect();
            files.sort();
            definitions.extend(files.into_iter().map(Some));
        }
    } else {
        definitions.extend(args.definitions.iter().cloned().map(Some));
    }
    for file in definitions {
        let (name, text) = match &file {
            None => ("joiner.asl.json (built in)".to_string(), None),
            Some(path) => {
                let name = path.display().to_string();
                match std::fs::read_to_string(path) {
                    Ok(t) => (name, Some(t)),
                    Err(e) => {
                        eprintln!("✗ {name}: cannot be read ({e})");
                        problems += 1;
                        continue;
                    }
                }
            }
        };
        match local::parse_definition(text.map(|t| (name.clone(), t))) {
            Ok(machine) => println!(
                "✓ {name}: {} top-level state(s), every ${{…FunctionArn}} placeholder known",
                machine.state_names().len()
            ),
            Err(e) => {
                eprintln!("✗ {e}");
                problems += 1;
            }
        }
    }
    if problems > 0 {
        eprintln!("{problems} problem(s) found; fix them and run `dayone validate` again");
        return Ok(2);
    }
    Ok(0)
}
