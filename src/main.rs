//! The `scimd` command line: run the daemon, check a configuration, mint tokens.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use scimd::config;

/// scimd: a SCIM 2.0 service provider that keeps LDAP directories and SQL databases
/// in sync with what Entra ID, Okta and other identity providers push.
#[derive(Parser)]
#[command(version, propagate_version = true)]
struct Cli {
    /// Configuration file.
    #[arg(
        short,
        long,
        global = true,
        env = "SCIMD_CONFIG",
        default_value = "/etc/scimd/scimd.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon in the foreground (systemd runs this).
    Run,
    /// Validate the configuration file and print every error with its line; exit 2 when invalid.
    CheckConfig,
    /// Show what each provider's targets are doing: journal lag, parked errors, last success.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Ask the running daemon to compare every target with the stored state now and
    /// repair what differs (deletion threshold included); prints the report.
    Reconcile {
        /// Only this provider.
        #[arg(long)]
        provider: Option<String>,
        /// Plan the repair and report it without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Print the reports as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Retry what a target parked (refused for good) once its cause is fixed: every
    /// parked resource of the target, or only RESOURCE_ID.
    Unpark {
        /// Provider name.
        #[arg(long)]
        provider: String,
        /// Target name (the key under `[providers.P.targets]`).
        #[arg(long)]
        target: String,
        /// One parked resource id (see `scimd status`).
        resource: Option<String>,
    },
    /// Manage provider bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a fresh 256-bit bearer token and the `sha256:` line to put in `tokens`.
    New,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run => match run(&cli.config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("scimd: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::CheckConfig => check_config(&cli.config),
        Command::Status { json } => status(&cli.config, json),
        Command::Reconcile {
            provider,
            dry_run,
            json,
        } => reconcile(&cli.config, provider.as_deref(), dry_run, json),
        Command::Unpark {
            provider,
            target,
            resource,
        } => unpark(
            &cli.config,
            scimd::admin::UnparkRequest {
                provider,
                target,
                resource,
            },
        ),
        Command::Token {
            command: TokenCommand::New,
        } => match config::new_token() {
            Ok((token, line)) => {
                println!("token:  {token}");
                println!("config: tokens = [\"{line}\"]");
                eprintln!(
                    "Give the token to the identity provider; keep only the sha256 line in scimd's configuration."
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("scimd: cannot read the system's random source: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match config::load(path) {
        Ok(c) => {
            println!("{}: OK ({} provider(s))", path.display(), c.providers.len());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors.iter() {
                eprintln!("{e}");
            }
            eprintln!(
                "{}: {} error(s); nothing was started",
                path.display(),
                errors.iter().count()
            );
            ExitCode::from(2)
        }
    }
}

/// The configuration and a small runtime for a command that talks to the daemon.
fn client(path: &std::path::Path) -> Result<(config::Config, tokio::runtime::Runtime), ExitCode> {
    let config = match config::load(path) {
        Ok(c) => c,
        Err(errors) => {
            eprintln!(
                "scimd: cannot read the admin socket path from {}:\n{errors}",
                path.display()
            );
            return Err(ExitCode::from(2));
        }
    };
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => Ok((config, r)),
        Err(e) => {
            eprintln!("scimd: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Exit 0 when every check completed (differences found or repaired included),
/// 1 when one failed or was refused by the deletion threshold.
fn reconcile(
    path: &std::path::Path,
    provider: Option<&str>,
    dry_run: bool,
    json: bool,
) -> ExitCode {
    use std::io::{IsTerminal, Write};
    let (config, runtime) = match client(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let terminal = std::io::stderr().is_terminal();
    let show = |p: &str, t: &str, progress: scimd::drift::Progress| {
        if terminal {
            eprint!(
                "\r\x1b[K{p}/{t}: compared {} / {} objects",
                progress.compared, progress.total
            );
            let _ = std::io::stderr().flush();
        }
    };
    let result = runtime.block_on(scimd::admin::request_reconcile(
        &config.admin.socket,
        provider,
        dry_run,
        show,
    ));
    if terminal {
        eprint!("\r\x1b[K");
    }
    match result {
        Ok(reports) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&reports).unwrap_or_default()
                );
            } else {
                print!("{}", scimd::drift::report::render(&reports));
            }
            if reports.iter().all(|r| r.ok()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("scimd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn status(path: &std::path::Path, json: bool) -> ExitCode {
    let (config, runtime) = match client(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match runtime.block_on(scimd::admin::fetch_status(&config.admin.socket)) {
        Ok(reports) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&reports).unwrap_or_default()
                );
            } else {
                print!("{}", scimd::admin::render(&reports));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scimd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn unpark(path: &std::path::Path, request: scimd::admin::UnparkRequest) -> ExitCode {
    let (config, runtime) = match client(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match runtime.block_on(scimd::admin::unpark(&config.admin.socket, &request)) {
        Ok(n) => {
            println!(
                "{n} parked resource(s) of {}/{} queued for retry; `scimd status` shows how it goes",
                request.provider, request.target
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scimd: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &std::path::Path) -> anyhow::Result<()> {
    let config =
        config::load(path).map_err(|errors| anyhow::anyhow!("invalid configuration:\n{errors}"))?;
    scimd::logging::init(config.log.format, &config.log.level);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let running = scimd::daemon::start(config, true).await?;
        running.done.await.context("the control loop panicked")?;
        Ok(())
    })
}
