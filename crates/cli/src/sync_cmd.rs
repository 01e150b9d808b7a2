//! `apilink sync -f link.yaml [--once]`: one pass (or, without `--once`, a full pass
//! then a light poll every `interval` that re-checks the definitions whose turn came in
//! its resync window, each once per `resyncInterval`) without a cluster.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use apilink_core::Coverage;
use apilink_engine::{PassError, PassMode, PassReport, Progress};

use crate::azure_args::AzureArgs;
use crate::link_file;
use crate::report_view::pass_summary;
use crate::terminal_progress::TerminalProgress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The link manifest (an ApiSourceLink resource); `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: PathBuf,
    /// Run one pass and exit (otherwise poll every spec.interval until Ctrl-C). The pass
    /// reads only what changed unless --full is given.
    #[arg(long)]
    once: bool,
    /// Make the (first) pass a full resync: re-read every definition. Without --once the
    /// first pass is always one.
    #[arg(long)]
    full: bool,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: OutputFormat,
    /// Release API deletions the deletion guard holds: the number it reported held (any
    /// other number releases nothing).
    #[arg(long, value_name = "COUNT")]
    confirm_deletions: Option<usize>,
    #[command(flatten)]
    azure: AzureArgs,
}

/// Exit code of `sync --once` when the pass ran but held API deletions.
pub const DELETIONS_HELD: u8 = 3;

fn print_report(report: &PassReport, output: OutputFormat) {
    match output {
        OutputFormat::Text => print!("{}", pass_summary(report)),
        OutputFormat::Json => match serde_json::to_string_pretty(report) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("error: the report could not be rendered: {e}"),
        },
    }
}

/// Prints a failed pass: its report (if any) and the classified reason.
pub fn print_failure(error: &PassError, output: OutputFormat) {
    if let Some(report) = &error.report {
        print_report(report, output);
    }
    eprintln!(
        "error: {} ({:?}, phase {}): {}",
        error.reason, error.class, error.phase, error.message
    );
}

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut link = link_file::read(&args.file)?;
    link.settings.confirmed_deletions = args.confirm_deletions;
    let progress = TerminalProgress::for_stderr().map(|p| Arc::new(p) as Arc<dyn Progress>);
    let engine = args.azure.engine(progress)?;
    let settings = &link.settings;
    if args.once {
        if settings.suspend {
            eprintln!("note: spec.suspend is true; running the requested pass anyway");
        }
        let mode = if args.full {
            PassMode::Full
        } else {
            PassMode::Light
        };
        return Ok(match engine.sync_pass(settings, mode).await {
            Ok(report) => {
                print_report(&report, args.output);
                if let Some(held) = &report.held_deletions {
                    eprintln!("error: {held}");
                    ExitCode::from(DELETIONS_HELD)
                } else if !report.failures.is_empty() {
                    // The rest of the link synced; these APIs did not.
                    eprintln!(
                        "error: {} API(s) refused by API Center; the others are in step",
                        report.failures.len()
                    );
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(error) => {
                print_failure(&error, args.output);
                ExitCode::FAILURE
            }
        });
    }

    eprintln!(
        "syncing {} every {:?} (every definition re-checked once per {:?}, a slice per poll); Ctrl-C stops",
        link.id, settings.interval, settings.resync_interval
    );
    // Where the last successful pass's resync window ended: the next one starts there.
    let mut window_end: Option<SystemTime> = None;
    loop {
        let started = Instant::now();
        if settings.suspend {
            eprintln!("spec.suspend is true: not syncing");
        } else {
            let now = SystemTime::now();
            let coverage = Coverage::scheduled(window_end, now, settings.resync_interval);
            match engine.sync_pass(settings, coverage).await {
                Ok(report) => {
                    window_end = Some(now);
                    print_report(&report, args.output);
                }
                Err(error) => print_failure(&error, args.output),
            }
        }
        // An interval from the start of the pass, so no window is longer than that.
        let wait = settings.interval.saturating_sub(started.elapsed());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => {
                eprintln!("stopped");
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
}
