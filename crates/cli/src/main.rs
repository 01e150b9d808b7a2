//! The `apilink` command.

mod arm_metrics;
mod azure_args;
mod check_cmd;
mod controller_cmd;
mod crd_cmd;
mod delete_cmd;
mod demo_cmd;
mod demo_shared;
mod emulator_cmd;
mod engine_runner;
mod link_file;
mod plan_cmd;
mod report_view;
mod sync_cmd;
mod terminal_progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "apilink",
    version,
    about = "Keeps Azure API Center in step with Azure API Management"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bundled Azure emulator (ARM for APIM and API Center, Entra ID token endpoint)
    /// until Ctrl-C.
    Emulator(emulator_cmd::EmulatorArgs),
    /// Print the ApiSourceLink CustomResourceDefinition (YAML).
    Crd(crd_cmd::CrdArgs),
    /// Run the Kubernetes controller for ApiSourceLink resources.
    Controller(controller_cmd::ControllerArgs),
    /// Check that a link can sync before its first write: credential, services,
    /// permissions, inventory, metadata (exit 0: a sync can run, 1: it cannot).
    Check(check_cmd::CheckArgs),
    /// Sync one link without a cluster: `apilink sync --once -f link.yaml`.
    Sync(sync_cmd::SyncArgs),
    /// Show what a sync would change (exit 0: nothing, 2: changes pending, 1: error).
    Plan(plan_cmd::PlanArgs),
    /// Remove everything the link owns in API Center (what the finalizer does).
    Delete(delete_cmd::DeleteArgs),
    /// The whole job end to end on the bundled emulator, with checks.
    Demo(demo_cmd::DemoArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(error) => {
            // `{:#}` is the cause chain on one line. Returning the error from `main`
            // would print `{:?}`, which adds a stack trace whenever RUST_BACKTRACE is
            // set: noise for a typo in a link file, and not what a user should act on.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Controller(args) = cli.command {
        controller_cmd::init_tracing(args.log_format);
        controller_cmd::run(args, engine_runner::from_environment).await?;
        return Ok(ExitCode::SUCCESS);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Controller(_) => Ok(ExitCode::SUCCESS),
        Command::Emulator(args) => emulator_cmd::run(args).await.map(|()| ExitCode::SUCCESS),
        Command::Crd(args) => crd_cmd::run(args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => check_cmd::run(args).await,
        Command::Sync(args) => sync_cmd::run(args).await,
        Command::Plan(args) => plan_cmd::run(args).await,
        Command::Delete(args) => delete_cmd::run(args).await,
        Command::Demo(args) => demo_cmd::run(args).await,
    }
}
