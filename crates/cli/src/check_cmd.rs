//! `apilink check -f link.yaml [--probe-writes]`: the preflight. Read-only by default;
//! every finding is a line with a remedy. Exit 0 when a sync can run, 1 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use apilink_core::preflight::{CheckLine, CheckReport, checks};
use serde::Serialize;

use crate::azure_args::AzureArgs;
use crate::link_file;
use crate::sync_cmd::OutputFormat;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The link manifest (an ApiSourceLink resource); `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: PathBuf,
    /// Also learn how this API Center answers writes, in a scratch API
    /// `apilink-probe-…` deleted afterwards (needs write access to the workspace).
    #[arg(long)]
    probe_writes: bool,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: OutputFormat,
    #[command(flatten)]
    azure: AzureArgs,
}

/// The JSON form of a check.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckJson<'a> {
    link: Option<String>,
    can_sync: bool,
    checks: &'a [CheckLine],
}

pub async fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let (link, report) = check(&args).await;
    match args.output {
        OutputFormat::Text => {
            if let Some(link) = &link {
                println!("Preflight for {link}\n");
            }
            print!("{}", report.render_text());
        }
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&CheckJson {
                link,
                can_sync: report.can_sync(),
                checks: &report.lines,
            })?
        ),
    }
    Ok(if report.can_sync() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The link's id (when the file could be read) and the findings.
async fn check(args: &CheckArgs) -> (Option<String>, CheckReport) {
    let mut report = CheckReport::default();
    let link = match link_file::read(&args.file) {
        Ok(link) => link,
        Err(e) => {
            report.push(CheckLine::fail(
                checks::SPEC,
                "InvalidSpec",
                format!("{e:#}"),
                "correct the manifest; `apilink crd` prints the schema it must follow",
            ));
            return (None, report);
        }
    };
    let id = Some(link.id.to_string());
    let (engine, caller) = match args.azure.engine_and_caller(None).await {
        Ok(pair) => pair,
        Err(e) => {
            report.push(CheckLine::fail(
                checks::CREDENTIAL,
                "InvalidCredentials",
                format!("{e:#}"),
                "check --credential and the AZURE_* settings it reads",
            ));
            return (id, report);
        }
    };
    let now = SystemTime::now();
    let mut outcome = engine.preflight(&link.settings, &caller, now).await;
    if args.probe_writes {
        if outcome.report.can_sync() {
            let probe = engine.probe_writes(&link.settings, now).await;
            outcome.report.lines.extend(probe.report.lines);
        } else {
            outcome.report.push(CheckLine::warn(
                checks::PROBE_LEFTOVERS,
                "ProbeSkipped",
                "the write probe did not run: a read-only check failed",
                "fix the failures above, then run the check again",
            ));
        }
    }
    (id, outcome.report)
}
