//! The outcome of a preflight: one line per check, and the forms it is shown in (a
//! terminal report, a Kubernetes event note, a condition message).

use serde::{Deserialize, Serialize};

/// The reason of a line that passed.
pub const REASON_OK: &str = "Ok";

const ELLIPSIS: &str = "…";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

impl CheckStatus {
    /// The mark printed before the line: `✓`, `!` or `✗`.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Pass => "✓",
            Self::Warn => "!",
            Self::Fail => "✗",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckLine {
    /// Stable id, one of [`super::checks`].
    pub check: String,
    pub status: CheckStatus,
    /// PascalCase; becomes a Kubernetes condition reason when the line fails.
    pub reason: String,
    /// One sentence.
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
    /// Extra lines, e.g. the `az role assignment create …` command that fixes a failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

impl CheckLine {
    pub fn pass(check: &str, summary: impl Into<String>) -> Self {
        Self {
            check: check.to_string(),
            status: CheckStatus::Pass,
            reason: REASON_OK.to_string(),
            summary: summary.into(),
            remedy: None,
            details: Vec::new(),
        }
    }

    pub fn warn(
        check: &str,
        reason: &str,
        summary: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Self {
        Self::not_passed(
            check,
            CheckStatus::Warn,
            reason,
            summary.into(),
            remedy.into(),
        )
    }

    pub fn fail(
        check: &str,
        reason: &str,
        summary: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Self {
        Self::not_passed(
            check,
            CheckStatus::Fail,
            reason,
            summary.into(),
            remedy.into(),
        )
    }

    /// Adds `details` after any the line already has.
    pub fn with_details(mut self, details: Vec<String>) -> Self {
        self.details.extend(details);
        self
    }

    fn not_passed(
        check: &str,
        status: CheckStatus,
        reason: &str,
        summary: String,
        remedy: String,
    ) -> Self {
        // An empty remedy is no remedy: it would print as a dangling "remedy:" label.
        let remedy = Some(remedy).filter(|r| !r.trim().is_empty());
        Self {
            check: check.to_string(),
            status,
            reason: reason.to_string(),
            summary,
            remedy,
            details: Vec::new(),
        }
    }

    fn remedy_text(&self) -> Option<&str> {
        self.remedy.as_deref().filter(|r| !r.trim().is_empty())
    }

    /// The summary followed by the remedy: after a space when the summary ends its
    /// sentence, else after `; ` so the two do not run together.
    fn summary_and_remedy(&self) -> String {
        let summary = self.summary.trim_end();
        match self.remedy_text() {
            None => summary.to_string(),
            Some(remedy) if summary.is_empty() => remedy.to_string(),
            Some(remedy) if summary.ends_with(['.', '!', '?']) => format!("{summary} {remedy}"),
            Some(remedy) => format!("{summary}; {remedy}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub lines: Vec<CheckLine>,
}

impl CheckReport {
    pub fn push(&mut self, line: CheckLine) {
        self.lines.push(line);
    }

    /// Whether the link may write: no check failed (warnings do not stop it).
    pub fn can_sync(&self) -> bool {
        self.first_failure().is_none()
    }

    pub fn first_failure(&self) -> Option<&CheckLine> {
        self.with_status(CheckStatus::Fail).next()
    }

    /// `(passed, warnings, failed)`.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.with_status(CheckStatus::Pass).count(),
            self.with_status(CheckStatus::Warn).count(),
            self.with_status(CheckStatus::Fail).count(),
        )
    }

    /// The report for a terminal: one line per check (`✓ apim.service  <summary>`, ids
    /// padded to one column), its remedy and details indented below it, and a closing
    /// count line. Lines are joined with `\n`, without a trailing newline.
    pub fn render_text(&self) -> String {
        let width = self
            .lines
            .iter()
            .map(|l| l.check.chars().count())
            .max()
            .unwrap_or(0);
        let mut out: Vec<String> = Vec::new();
        for line in &self.lines {
            let head = format!(
                "{} {:<width$}  {}",
                line.status.symbol(),
                line.check,
                line.summary
            );
            out.push(head.trim_end().to_string());
            if let Some(remedy) = line.remedy_text() {
                out.push(format!("  remedy: {remedy}"));
            }
            out.extend(line.details.iter().map(|d| format!("    {d}")));
        }
        out.push(self.count_line());
        out.join("\n")
    }

    /// One paragraph for a Kubernetes event: each failure with its remedy, then each
    /// warning, then how many checks passed, separated by ` | `. A remedy follows its
    /// summary after a space when the summary ends with `.`, `!` or `?`, else after `; `.
    ///
    /// The result is at most `max_chars` bytes of UTF-8 (and so at most `max_chars`
    /// characters): Kubernetes limits an event note in bytes. A longer text is cut on a
    /// character boundary and ends with `…`.
    pub fn event_note(&self, max_chars: usize) -> String {
        let mut parts: Vec<String> = Vec::new();
        for line in self.with_status(CheckStatus::Fail) {
            parts.push(format!(
                "{} failed: {}",
                line.check,
                line.summary_and_remedy()
            ));
        }
        for line in self.with_status(CheckStatus::Warn) {
            parts.push(format!("{} warning: {}", line.check, line.summary));
        }
        let passed = self.with_status(CheckStatus::Pass).count();
        parts.push(format!(
            "{passed} {} passed",
            plural(passed, "check", "checks")
        ));
        let note = one_paragraph(&parts.join(" | "));
        clip_to_bytes(note, max_chars)
    }

    /// For a condition message: the first failure's summary and remedy (joined as in
    /// [`CheckReport::event_note`]), and how many other checks failed. `None` when nothing failed.
    pub fn failure_message(&self) -> Option<String> {
        let first = self.first_failure()?;
        let mut message = first.summary_and_remedy();
        let more = self.with_status(CheckStatus::Fail).count() - 1;
        if more > 0 {
            let noun = plural(more, "failed check", "failed checks");
            message.push_str(&format!(" (+{more} more {noun})"));
        }
        Some(one_paragraph(&message))
    }

    fn with_status(&self, status: CheckStatus) -> impl Iterator<Item = &CheckLine> {
        self.lines.iter().filter(move |l| l.status == status)
    }

    fn count_line(&self) -> String {
        let (passed, warnings, failed) = self.counts();
        format!(
            "{passed} passed, {warnings} {}, {failed} failed",
            plural(warnings, "warning", "warnings")
        )
    }
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

/// Runs of whitespace (newlines included) as one space: notes and messages are read as
/// a single paragraph.
fn one_paragraph(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` within `max_bytes`, cut on a character boundary and marked with `…` when cut
/// (unless not even the mark fits).
fn clip_to_bytes(text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let marked = max_bytes >= ELLIPSIS.len();
    let mut cut = if marked {
        max_bytes - ELLIPSIS.len()
    } else {
        max_bytes
    };
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut clipped = text[..cut].trim_end().to_string();
    if marked {
        clipped.push_str(ELLIPSIS);
    }
    clipped
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> CheckReport {
        let mut report = CheckReport::default();
        report.push(CheckLine::pass(
            "credential",
            "signed in as the link's identity",
        ));
        report.push(
            CheckLine::fail(
                "apic.permissions",
                "PermissionMissing",
                "the identity lacks 1 of the 20 API Center actions a link needs: Microsoft.ApiCenter/services/metadataSchemas/write",
                "grant the identity the \"Azure API Center Service Contributor\" role",
            )
            .with_details(vec!["az role assignment create --scope /x".to_string()]),
        );
        report.push(CheckLine::warn(
            "arm.quota",
            "QuotaLow",
            "120 reads left this hour",
            "lengthen resyncInterval",
        ));
        report
    }

    #[test]
    fn render_text_aligns_ids_and_indents_remedies_and_details() {
        assert_eq!(
            sample().render_text(),
            "✓ credential        signed in as the link's identity\n\
             ✗ apic.permissions  the identity lacks 1 of the 20 API Center actions a link needs: Microsoft.ApiCenter/services/metadataSchemas/write\n  \
             remedy: grant the identity the \"Azure API Center Service Contributor\" role\n    \
             az role assignment create --scope /x\n\
             ! arm.quota         120 reads left this hour\n  \
             remedy: lengthen resyncInterval\n\
             1 passed, 1 warning, 1 failed"
        );
        assert_eq!(
            CheckReport::default().render_text(),
            "0 passed, 0 warnings, 0 failed"
        );
    }

    #[test]
    fn event_note_puts_failures_first_then_warnings_then_the_pass_count() {
        assert_eq!(
            sample().event_note(1024),
            "apic.permissions failed: the identity lacks 1 of the 20 API Center actions a link needs: Microsoft.ApiCenter/services/metadataSchemas/write; grant the identity the \"Azure API Center Service Contributor\" role | arm.quota warning: 120 reads left this hour | 1 check passed"
        );
        assert_eq!(CheckReport::default().event_note(1024), "0 checks passed");
    }

    #[test]
    fn event_note_is_cut_on_a_character_boundary() {
        let mut report = CheckReport::default();
        report.push(CheckLine::fail("spec", "SpecInvalid", "ééé", "fix"));
        let full = report.event_note(1024);
        assert_eq!(full, "spec failed: ééé; fix | 0 checks passed");
        // "spec failed: é" is 15 bytes; 18 leaves 15 before the 3-byte mark, and 16
        // would split the second "é".
        assert_eq!(report.event_note(18), "spec failed: é…");
        assert_eq!(report.event_note(19), "spec failed: é…");
        assert_eq!(report.event_note(20), "spec failed: éé…");
        assert_eq!(report.event_note(2), "sp");
        assert_eq!(report.event_note(0), "");
        assert_eq!(report.event_note(full.len()), full);
    }

    #[test]
    fn event_note_is_one_paragraph() {
        let mut report = CheckReport::default();
        report.push(CheckLine::warn(
            "apim.export",
            "ExportFailed",
            "two\nlines ",
            "",
        ));
        assert_eq!(
            report.event_note(100),
            "apim.export warning: two lines | 0 checks passed"
        );
    }

    #[test]
    fn failure_message_counts_the_other_failures() {
        let fail = |check: &str, n: u32| {
            CheckLine::fail(check, "X", format!("Failure {n}."), format!("Fix {n}."))
        };
        let mut report = CheckReport::default();
        report.push(CheckLine::pass("spec", "ok"));
        assert_eq!(report.failure_message(), None);
        report.push(fail("credential", 1));
        assert_eq!(report.failure_message().unwrap(), "Failure 1. Fix 1.");
        report.push(CheckLine::warn("arm.quota", "Low", "w", "r"));
        report.push(fail("apim.service", 2));
        assert_eq!(
            report.failure_message().unwrap(),
            "Failure 1. Fix 1. (+1 more failed check)"
        );
        report.push(fail("apic.service", 3));
        assert_eq!(
            report.failure_message().unwrap(),
            "Failure 1. Fix 1. (+2 more failed checks)"
        );
    }

    #[test]
    fn failure_message_keeps_summary_and_remedy_apart() {
        let mut plain = CheckReport::default();
        plain.push(CheckLine::fail(
            "apic.workspace",
            "WorkspaceNotFound",
            "API Center has no workspace x",
            "set spec.apiCenter.workspace",
        ));
        assert_eq!(
            plain.failure_message().unwrap(),
            "API Center has no workspace x; set spec.apiCenter.workspace"
        );
        let mut bare = CheckReport::default();
        bare.push(CheckLine {
            remedy: None,
            ..CheckLine::fail("spec", "SpecInvalid", "bad spec", "x")
        });
        assert_eq!(bare.failure_message().unwrap(), "bad spec");
    }

    #[test]
    fn counts_first_failure_and_can_sync() {
        let report = sample();
        assert_eq!(report.counts(), (1, 1, 1));
        assert!(!report.can_sync());
        assert_eq!(report.first_failure().unwrap().check, "apic.permissions");
        let mut warned = CheckReport::default();
        warned.push(CheckLine::warn("arm.quota", "QuotaLow", "s", "r"));
        assert!(warned.can_sync());
        assert!(CheckReport::default().can_sync());
    }

    #[test]
    fn json_is_camel_case_and_omits_empty_members() {
        let passed = CheckLine::pass("apim.service", "Found.");
        assert_eq!(
            serde_json::to_string(&passed).unwrap(),
            r#"{"check":"apim.service","status":"pass","reason":"Ok","summary":"Found."}"#
        );
        let failed = CheckLine::fail("apim.permissions", "PermissionMissing", "S.", "R.")
            .with_details(vec!["d".into()]);
        assert_eq!(
            serde_json::to_string(&failed).unwrap(),
            r#"{"check":"apim.permissions","status":"fail","reason":"PermissionMissing","summary":"S.","remedy":"R.","details":["d"]}"#
        );
        let warned = CheckLine::warn("arm.quota", "QuotaLow", "S.", " ");
        assert_eq!(
            serde_json::to_string(&warned).unwrap(),
            r#"{"check":"arm.quota","status":"warn","reason":"QuotaLow","summary":"S."}"#
        );
        let read: CheckLine = serde_json::from_str(
            r#"{"check":"apim.permissions","status":"fail","reason":"PermissionMissing","summary":"S.","remedy":"R.","details":["d"]}"#,
        )
        .unwrap();
        assert_eq!(read, failed);
    }

    fn arb_line() -> impl Strategy<Value = CheckLine> {
        let status = prop_oneof![
            Just(CheckStatus::Pass),
            Just(CheckStatus::Warn),
            Just(CheckStatus::Fail)
        ];
        (
            status,
            "[a-z.é]{0,20}",
            any::<String>(),
            proptest::option::of(any::<String>()),
        )
            .prop_map(|(status, check, summary, remedy)| CheckLine {
                check,
                status,
                reason: "Reason".into(),
                summary,
                remedy,
                details: Vec::new(),
            })
    }

    proptest! {
        #[test]
        fn event_note_never_exceeds_its_limit(
            lines in proptest::collection::vec(arb_line(), 0..12),
            max in 0usize..1500,
        ) {
            let report = CheckReport { lines };
            let note = report.event_note(max);
            prop_assert!(note.chars().count() <= max);
            prop_assert!(note.len() <= max);
        }
    }
}
