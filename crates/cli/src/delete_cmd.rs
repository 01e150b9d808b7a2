//! `apilink delete -f link.yaml [--dry-run]`: removes everything the link owns in API
//! Center — the cleanup the controller's finalizer performs.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use apilink_core::spec::DeletionPolicy;
use apilink_engine::Progress;

use crate::azure_args::AzureArgs;
use crate::link_file;
use crate::report_view::{arm_line, pass_summary};
use crate::sync_cmd::{OutputFormat, print_failure};
use crate::terminal_progress::TerminalProgress;

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The link manifest (an ApiSourceLink resource); `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: PathBuf,
    /// Show what would be removed without removing it.
    #[arg(long)]
    dry_run: bool,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: OutputFormat,
    #[command(flatten)]
    azure: AzureArgs,
}

pub async fn run(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let link = link_file::read(&args.file)?;
    if link.settings.deletion_policy == DeletionPolicy::Orphan {
        eprintln!("spec.deletionPolicy is Orphan: API Center is left as it is");
    }
    let progress = TerminalProgress::for_stderr().map(|p| Arc::new(p) as Arc<dyn Progress>);
    let engine = args.azure.engine(progress)?;
    let report = match engine.cleanup(&link.settings, args.dry_run).await {
        Ok(report) => report,
        Err(error) => {
            print_failure(&error, args.output);
            return Ok(ExitCode::FAILURE);
        }
    };
    match (args.output, &report.plan) {
        (OutputFormat::Json, _) => println!("{}", serde_json::to_string_pretty(&report)?),
        (OutputFormat::Text, Some(plan)) => {
            println!("Would remove ({} operations):", plan.operations.len());
            for op in &plan.operations {
                println!("  - {}", op.target());
            }
            println!("ARM calls: {}", arm_line(&report));
        }
        (OutputFormat::Text, None) => print!("{}", pass_summary(&report)),
    }
    Ok(ExitCode::SUCCESS)
}
