//! How pass reports and plans look on a terminal: short sections and aligned tables.

use std::fmt::Write as _;

use apilink_core::Plan;
use apilink_core::guard::HeldDeletions;
use apilink_core::operation::{Action, Operation};
use apilink_core::ownership::EntityKind;
use apilink_engine::{PassKind, PassReport};

/// A plain text table: the first `text_columns` columns left-aligned, the rest (numbers)
/// right-aligned.
pub fn table(headers: &[&str], rows: &[Vec<String>], text_columns: usize) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::from("  ");
        for (i, cell) in cells.iter().enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            if i < text_columns {
                let _ = write!(out, "{cell:<width$}  ");
            } else {
                let _ = write!(out, "{cell:>width$}  ");
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// The operations table of a report: one row per (entity, action).
pub fn operations_table(report: &PassReport) -> String {
    if report.operations.is_empty() {
        return "  nothing to do\n".to_string();
    }
    let rows: Vec<Vec<String>> = report
        .operations
        .iter()
        .map(|t| {
            let c = t.counts;
            vec![
                t.entity.as_str().to_string(),
                t.action.as_str().to_string(),
                c.planned.to_string(),
                c.written.to_string(),
                c.unchanged.to_string(),
                c.failed.to_string(),
                c.skipped.to_string(),
                c.deferred.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "ENTITY",
            "ACTION",
            "PLANNED",
            "WRITTEN",
            "UNCHANGED",
            "FAILED",
            "SKIPPED",
            "DEFERRED",
        ],
        &rows,
        2,
    )
}

/// `30 reads, 29 writes, 0 deletes (2 retries, 1 throttled)`.
pub fn arm_line(report: &PassReport) -> String {
    let arm = &report.arm;
    format!(
        "{} reads, {} writes, {} deletes ({} retries, {} throttled)",
        arm.reads, arm.writes, arm.deletes, arm.retries, arm.throttled
    )
}

/// The full end-of-pass summary.
pub fn pass_summary(report: &PassReport) -> String {
    let mut out = String::new();
    let verdict = if !report.failures.is_empty() {
        "FAILED"
    } else if report.held_deletions.is_some() {
        "done, deletions HELD"
    } else if report.deferred() > 0 {
        "incomplete (write budget used up)"
    } else {
        "done"
    };
    let _ = writeln!(
        out,
        "{} of {}: {verdict} in {:.1} s",
        capitalize(&report.kind.to_string()),
        report.link,
        report.durations.total.as_secs_f64()
    );
    out.push('\n');
    out.push_str(&operations_table(report));
    out.push('\n');
    if let PassKind::Sync(_) = report.kind {
        let _ = writeln!(
            out,
            "  APIs:      {} discovered, {} synced, {} skipped",
            report.apis.discovered, report.apis.synced, report.apis.skipped
        );
        let _ = writeln!(
            out,
            "  Reads:     {} APIs' details, {} definitions exported, {} imported",
            report.details_read, report.exports, report.imports
        );
    }
    let _ = writeln!(out, "  ARM calls: {}", arm_line(report));
    if let Some(schema) = &report.created_metadata_schema {
        let verb = if report.dry_run {
            "would create"
        } else {
            "created"
        };
        let _ = writeln!(
            out,
            "  Metadata:  {verb} metadata schema {schema}, which declares the link's ownership record"
        );
    }
    if !report.drift.is_empty() {
        let _ = writeln!(out, "\n  Drift repaired ({}):", report.drift.len());
        for drift in &report.drift {
            let _ = writeln!(out, "    {:?} {}", drift.kind, drift.path);
        }
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(out, "\n  Warnings ({}):", report.warnings.len());
        for warning in &report.warnings {
            let _ = writeln!(out, "    {warning}");
        }
    }
    if let Some(held) = &report.held_deletions {
        out.push('\n');
        for line in held_text(held).lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !report.failures.is_empty() {
        let _ = writeln!(out, "\n  Failures ({}):", report.failures.len());
        for failure in &report.failures {
            let _ = writeln!(out, "    {failure}");
        }
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

fn sign(op: &Operation) -> char {
    match op.action() {
        Action::Create => '+',
        Action::Update => '~',
        Action::Ensure => '=',
        Action::Import => '^',
        Action::WriteMarker => '*',
        Action::Delete => '-',
    }
}

const ENTITY_ORDER: [EntityKind; 5] = [
    EntityKind::Environment,
    EntityKind::Api,
    EntityKind::Version,
    EntityKind::Definition,
    EntityKind::Deployment,
];

/// Held API deletions: why, every name, and how to confirm them.
pub fn held_text(held: &HeldDeletions) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "held deletions ({})", held.count());
    for api in &held.apis {
        let _ = writeln!(out, "  - delete       apis/{api}");
    }
    let _ = writeln!(out, "  ! {held}");
    out
}

/// A plan grouped by entity, updates with their field-level differences.
pub fn plan_text(plan: &Plan) -> String {
    let mut out = String::new();
    if plan.operations.is_empty() && plan.held.is_none() {
        out.push_str("No changes: API Center is in step with APIM.\n");
    }
    for entity in ENTITY_ORDER {
        let ops: Vec<&Operation> = plan
            .operations
            .iter()
            .filter(|op| op.entity() == entity)
            .collect();
        if ops.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{} ({})", entity.as_str(), ops.len());
        for op in ops {
            let _ = writeln!(
                out,
                "  {} {:<12} {}",
                sign(op),
                op.action().as_str(),
                op.target()
            );
            if let Some(upsert) = op.upsert()
                && op.action() == Action::Update
            {
                for change in upsert.changes().iter() {
                    let _ = writeln!(out, "        {change}");
                }
            }
        }
        out.push('\n');
    }
    if let Some(held) = &plan.held {
        out.push_str(&held_text(held));
        out.push('\n');
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "warnings ({})", plan.warnings.len());
        for warning in &plan.warnings {
            let _ = writeln!(out, "  ! {warning}");
        }
        out.push('\n');
    }
    if !plan.drift.is_empty() {
        let _ = writeln!(out, "drift to repair ({})", plan.drift.len());
        for drift in &plan.drift {
            let _ = writeln!(out, "  {:?} {}", drift.kind, drift.path);
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Summary: {} (APIs: {} discovered, {} synced, {} skipped)",
        plan.summary(),
        plan.counts.discovered,
        plan.counts.synced,
        plan.counts.skipped
    );
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_text_left_and_numbers_right() {
        let text = table(
            &["NAME", "N"],
            &[
                vec!["a".into(), "1".into()],
                vec!["long name".into(), "100".into()],
            ],
            1,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "  NAME         N");
        assert_eq!(lines[1], "  a            1");
        assert_eq!(lines[2], "  long name  100");
    }

    #[test]
    fn an_empty_plan_says_so() {
        let text = plan_text(&Plan::default());
        assert!(text.starts_with("No changes"), "{text}");
        assert!(text.contains("Summary: no changes"), "{text}");
    }
}
