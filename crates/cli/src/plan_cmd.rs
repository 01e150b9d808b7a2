//! `apilink plan -f link.yaml`: what a sync would do, without writing. Exit code 0 =
//! nothing to do, 2 = changes pending, 1 = error (usable as a CI gate).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use apilink_engine::{PassMode, Progress};

use crate::azure_args::AzureArgs;
use crate::link_file;
use crate::report_view::{arm_line, plan_text};
use crate::sync_cmd::{OutputFormat, print_failure};
use crate::terminal_progress::TerminalProgress;

/// Exit code when changes are pending.
pub const CHANGES_PENDING: u8 = 2;

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The link manifest (an ApiSourceLink resource); `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: PathBuf,
    /// Plan like a light poll (cheaper, but updates of children show without diffs and
    /// content-only definition changes are not seen).
    #[arg(long)]
    light: bool,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: OutputFormat,
    /// Plan as if this number of held API deletions were confirmed.
    #[arg(long, value_name = "COUNT")]
    confirm_deletions: Option<usize>,
    #[command(flatten)]
    azure: AzureArgs,
}

pub async fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut link = link_file::read(&args.file)?;
    link.settings.confirmed_deletions = args.confirm_deletions;
    let progress = TerminalProgress::for_stderr().map(|p| Arc::new(p) as Arc<dyn Progress>);
    let engine = args.azure.engine(progress)?;
    let mode = if args.light {
        PassMode::Light
    } else {
        PassMode::Full
    };
    let report = match engine.plan_only(&link.settings, mode).await {
        Ok(report) => report,
        Err(error) => {
            print_failure(&error, args.output);
            return Ok(ExitCode::FAILURE);
        }
    };
    let Some(plan) = &report.plan else {
        anyhow::bail!("the dry run returned no plan");
    };
    match args.output {
        OutputFormat::Text => {
            println!("Plan for {} ({} dry run)\n", link.id, mode.as_str());
            print!("{}", plan_text(plan));
            println!("ARM calls: {}", arm_line(&report));
        }
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(plan)?),
    }
    if !report.failures.is_empty() {
        for failure in &report.failures {
            eprintln!("error: {failure}");
        }
        eprintln!("error: the plan is incomplete: some definitions could not be exported");
        return Ok(ExitCode::FAILURE);
    }
    Ok(if plan.is_empty() && plan.held.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(CHANGES_PENDING)
    })
}
