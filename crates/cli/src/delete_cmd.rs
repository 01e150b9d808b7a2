//! `apilink delete -f link.yaml [--dry-run] [--yes]`: removes everything the link owns in
//! API Center — the cleanup the controller's finalizer performs.
//!
//! Removal cannot be undone, so it is confirmed: on a terminal the command first lists
//! what would be removed and asks for the link's name (`metadata.name`) to be typed —
//! a name, not `y`, because a reflexive `y` is exactly the mistake this guards against
//! and the name shows which link is meant. Without a terminal (CI, a pipe, `-f -`)
//! nobody can answer, so `--yes` is required. `--dry-run` removes nothing and needs
//! neither; nor does `deletionPolicy: Orphan`, under which nothing is removed.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use apilink_core::spec::DeletionPolicy;
use apilink_core::{LinkId, Plan};
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
    /// Remove without asking. Required when standard input is not a terminal; on a
    /// terminal the command otherwise shows what it would remove and asks for the
    /// link's name.
    #[arg(short = 'y', long, conflicts_with = "dry_run")]
    yes: bool,
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: OutputFormat,
    #[command(flatten)]
    azure: AzureArgs,
}

/// How a removal is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirmation {
    /// Nothing needs confirming (`--dry-run`, `--yes`, `deletionPolicy: Orphan`).
    NotNeeded,
    /// Ask on the terminal.
    Ask,
}

fn confirmation(
    args: &DeleteArgs,
    policy: DeletionPolicy,
    interactive: bool,
    id: &LinkId,
) -> anyhow::Result<Confirmation> {
    if args.dry_run || args.yes || policy == DeletionPolicy::Orphan {
        return Ok(Confirmation::NotNeeded);
    }
    // `-f -` uses standard input for the link, so it cannot carry an answer too.
    if !interactive || args.file.as_os_str() == "-" {
        bail!(
            "refusing to remove what link {id} owns in API Center without confirmation: \
             standard input is not a terminal; pass --yes to remove, or --dry-run to see \
             what would be removed"
        );
    }
    Ok(Confirmation::Ask)
}

/// Lists `plan` on `out` and reads one line from `input`: true only when it is the
/// link's name.
fn ask(
    plan: &Plan,
    id: &LinkId,
    name: &str,
    input: &mut impl BufRead,
    out: &mut impl Write,
) -> anyhow::Result<bool> {
    writeln!(
        out,
        "Removing link {id} from API Center deletes ({} operations):",
        plan.operations.len()
    )?;
    for op in &plan.operations {
        writeln!(out, "  - {}", op.target())?;
    }
    write!(
        out,
        "This cannot be undone. Type the link's name ({name}) to go on: "
    )?;
    out.flush()?;
    let mut answer = String::new();
    input
        .read_line(&mut answer)
        .context("reading the confirmation")?;
    Ok(answer.trim() == name)
}

pub async fn run(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let link = link_file::read(&args.file)?;
    let policy = link.settings.deletion_policy;
    // Checked before any Azure call: a script without --yes fails fast and harmlessly.
    let confirm = confirmation(&args, policy, std::io::stdin().is_terminal(), &link.id)?;
    if policy == DeletionPolicy::Orphan {
        eprintln!("spec.deletionPolicy is Orphan: API Center is left as it is");
    }
    let progress = TerminalProgress::for_stderr().map(|p| Arc::new(p) as Arc<dyn Progress>);
    let engine = args.azure.engine(progress)?;
    if confirm == Confirmation::Ask {
        let preview = match engine.cleanup(&link.settings, true).await {
            Ok(report) => report,
            Err(error) => {
                print_failure(&error, args.output);
                return Ok(ExitCode::FAILURE);
            }
        };
        let Some(plan) = preview.plan.as_ref().filter(|p| !p.operations.is_empty()) else {
            eprintln!(
                "link {} owns nothing in API Center: nothing to remove",
                link.id
            );
            return Ok(ExitCode::SUCCESS);
        };
        let name = link.id.as_str().rsplit('/').next().unwrap_or_default();
        let confirmed = ask(
            plan,
            &link.id,
            name,
            &mut std::io::stdin().lock(),
            &mut std::io::stderr(),
        )?;
        if !confirmed {
            eprintln!("not confirmed: nothing was removed");
            return Ok(ExitCode::FAILURE);
        }
    }
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        delete: DeleteArgs,
    }

    fn args(extra: &[&str]) -> DeleteArgs {
        let mut argv = vec!["delete", "-f", "link.yaml"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().delete
    }

    fn id() -> LinkId {
        LinkId::namespaced("platform", "payments-prod").unwrap()
    }

    #[test]
    fn a_removal_without_a_terminal_needs_yes() {
        let err = confirmation(&args(&[]), DeletionPolicy::Delete, false, &id()).unwrap_err();
        assert!(
            err.to_string()
                .contains("standard input is not a terminal; pass --yes"),
            "{err}"
        );
        for (extra, policy) in [
            (&["--yes"][..], DeletionPolicy::Delete),
            (&["-y"][..], DeletionPolicy::Delete),
            (&["--dry-run"][..], DeletionPolicy::Delete),
            (&[][..], DeletionPolicy::Orphan),
        ] {
            assert_eq!(
                confirmation(&args(extra), policy, false, &id()).unwrap(),
                Confirmation::NotNeeded,
                "{extra:?} {policy:?}"
            );
        }
        assert_eq!(
            confirmation(&args(&[]), DeletionPolicy::Delete, true, &id()).unwrap(),
            Confirmation::Ask
        );
    }

    #[test]
    fn a_link_read_from_stdin_cannot_be_confirmed_there() {
        let mut stdin_args = args(&[]);
        stdin_args.file = PathBuf::from("-");
        assert!(confirmation(&stdin_args, DeletionPolicy::Delete, true, &id()).is_err());
    }

    #[test]
    fn yes_and_dry_run_exclude_each_other() {
        assert!(Cli::try_parse_from(["delete", "-f", "l.yaml", "--yes", "--dry-run"]).is_err());
    }

    #[test]
    fn only_the_links_name_confirms() {
        let plan = Plan::default();
        for (answer, confirmed) in [
            ("payments-prod\n", true),
            ("  payments-prod  \r\n", true),
            ("y\n", false),
            ("yes\n", false),
            ("platform/payments-prod\n", false),
            ("Payments-Prod\n", false),
            ("", false),
        ] {
            let mut out = Vec::new();
            let got = ask(
                &plan,
                &id(),
                "payments-prod",
                &mut answer.as_bytes(),
                &mut out,
            )
            .unwrap();
            assert_eq!(got, confirmed, "{answer:?}");
            let shown = String::from_utf8(out).unwrap();
            assert!(
                shown.contains("Type the link's name (payments-prod)"),
                "{shown}"
            );
        }
    }
}
