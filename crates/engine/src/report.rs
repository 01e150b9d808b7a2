//! What a pass did: operations by entity and action, ARM calls, drift, warnings,
//! failures and durations.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use apilink_azure::{ArmCallCounts, AzureError};
pub use apilink_core::PassMode;
use apilink_core::guard::HeldDeletions;
use apilink_core::operation::Action;
use apilink_core::outcome::{ApiFailure, CleanupOutcome, OperationCounts, SyncOutcome};
use apilink_core::ownership::EntityKind;
use apilink_core::plan::{ApiCounts, Drift, Warning};
use apilink_core::{ErrorClass, Plan};
use serde::{Serialize, Serializer};

/// The report names a mode by its lower-case word (`{"sync": "light"}`), unlike the
/// link's status (`Light`).
fn mode_word<S: Serializer>(mode: &PassMode, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(mode.as_str())
}

/// What kind of pass a report describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PassKind {
    Sync(#[serde(serialize_with = "mode_word")] PassMode),
    /// Removal of everything the link owns (the link is being deleted).
    Cleanup,
}

impl fmt::Display for PassKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sync(mode) => write!(f, "{} sync", mode.as_str()),
            Self::Cleanup => f.write_str("cleanup"),
        }
    }
}

/// ARM requests of one pass (retries included), from the client's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmCalls {
    pub reads: u64,
    pub writes: u64,
    pub deletes: u64,
    pub retries: u64,
    pub throttled: u64,
    pub throttle_wait_ms: u64,
    /// Downloads of APIM export links (blob storage, not ARM).
    pub link_downloads: u64,
}

impl ArmCalls {
    /// The calls made between two snapshots of the client's counters.
    pub fn between(before: &ArmCallCounts, after: &ArmCallCounts) -> Self {
        Self {
            reads: after.reads.saturating_sub(before.reads),
            writes: after.writes.saturating_sub(before.writes),
            deletes: after.deletes.saturating_sub(before.deletes),
            retries: after.retries.saturating_sub(before.retries),
            throttled: after.throttled.saturating_sub(before.throttled),
            throttle_wait_ms: after
                .throttle_wait_ms
                .saturating_sub(before.throttle_wait_ms),
            link_downloads: after.link_downloads.saturating_sub(before.link_downloads),
        }
    }

    /// Writes and deletes: everything that changes Azure.
    pub fn mutations(&self) -> u64 {
        self.writes + self.deletes
    }
}

/// What happened to the planned operations of one (entity, action).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationFates {
    pub planned: usize,
    /// Executed with a write.
    pub written: usize,
    /// Executed, but the entity read right before writing needed nothing.
    pub unchanged: usize,
    pub failed: usize,
    /// Not run: an earlier operation of the same API failed.
    pub skipped: usize,
    /// Not run: the write budget of the pass was used up.
    pub deferred: usize,
}

/// One row of [`PassReport::operations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationTally {
    pub entity: EntityKind,
    pub action: Action,
    #[serde(flatten)]
    pub counts: OperationFates,
}

fn class_name<S: Serializer>(class: &ErrorClass, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&format_args!("{class:?}"))
}

/// An operation (or an export) that failed, with its classified error.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationFailure {
    /// e.g. `create api apis/echo-1a2b3c4d`, or `export apis/echo` for an APIM export.
    pub operation: String,
    /// The API Center API the operation belongs to.
    pub api: Option<String>,
    #[serde(serialize_with = "class_name")]
    pub class: ErrorClass,
    /// Stable PascalCase reason (e.g. `AzureThrottled`, `AuthorizationFailed`).
    pub reason: String,
    pub message: String,
    /// `x-ms-request-id` of the failing answer, for support cases.
    pub request_id: Option<String>,
    #[serde(skip)]
    pub retry_after: Option<Duration>,
}

impl OperationFailure {
    pub fn from_azure(operation: String, api: Option<String>, error: &AzureError) -> Self {
        Self {
            operation,
            api,
            class: error.class(),
            reason: error.reason().to_string(),
            message: error.to_string(),
            request_id: error.request_id().map(str::to_string),
            retry_after: error.requeue_hint(),
        }
    }

    /// A failure the engine itself detected (e.g. an entity someone else took over).
    pub fn new(
        operation: String,
        api: Option<String>,
        class: ErrorClass,
        reason: &str,
        message: String,
    ) -> Self {
        Self {
            operation,
            api,
            class,
            reason: reason.to_string(),
            message,
            request_id: None,
            retry_after: None,
        }
    }
}

/// Reasons that say something about the whole link (its identity, its roles, the
/// services), even when they surfaced on one API's write.
const LINK_WIDE_REASONS: &[&str] = &[
    "AuthorizationFailed",
    "AuthenticationFailed",
    "TlsCertificateUntrusted",
    "ScopeLocked",
    "MissingSubscriptionRegistration",
    "SubscriptionNotFound",
    "ResourceGroupNotFound",
];

impl OperationFailure {
    /// A refusal that is the user's to fix and concerns this API alone (an invalid
    /// value, a conflict, a refused export or import, a quota): reported per API and
    /// retried slowly while the rest of the link syncs.
    pub fn is_confined_to_its_api(&self) -> bool {
        self.api.is_some()
            && matches!(self.class, ErrorClass::NeedsUser | ErrorClass::Conflict)
            && !LINK_WIDE_REASONS.contains(&self.reason.as_str())
    }
}

impl fmt::Display for OperationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.operation, self.reason, self.message)
    }
}

fn millis<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Wall time of the phases of a pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassDurations {
    /// Reading APIM and API Center, including details and exports.
    #[serde(serialize_with = "millis", rename = "observeMs")]
    pub observe: Duration,
    #[serde(serialize_with = "millis", rename = "planMs")]
    pub plan: Duration,
    #[serde(serialize_with = "millis", rename = "applyMs")]
    pub apply: Duration,
    #[serde(serialize_with = "millis", rename = "totalMs")]
    pub total: Duration,
}

/// The report of one pass (sync or cleanup).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassReport {
    pub link: String,
    pub kind: PassKind,
    /// True when nothing was written (a plan or a dry run).
    pub dry_run: bool,
    pub apis: ApiCounts,
    /// By entity and action, in a stable order.
    pub operations: Vec<OperationTally>,
    pub arm: ArmCalls,
    /// APIs whose versions, definitions and deployments were read.
    pub details_read: usize,
    /// Definitions exported from APIM.
    pub exports: usize,
    /// Definitions whose content was imported into API Center.
    pub imports: usize,
    /// Owned entities changed in API Center behind the link's back, repaired (or to be
    /// repaired by a dry run).
    pub drift: Vec<Drift>,
    pub warnings: Vec<Warning>,
    pub failures: Vec<OperationFailure>,
    pub durations: PassDurations,
    /// The plan, kept for dry runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// The metadata schema the pass created (a dry run: would create) to declare the
    /// link's ownership record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_metadata_schema: Option<String>,
    /// APIs left alone this pass because they failed before and are backing off.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paused_apis: Vec<String>,
    /// API deletions the deletion guard held (not made) until someone confirms them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_deletions: Option<HeldDeletions>,
}

impl PassReport {
    pub(crate) fn new(link: String, kind: PassKind) -> Self {
        Self {
            link,
            kind,
            dry_run: false,
            apis: ApiCounts::default(),
            operations: Vec::new(),
            arm: ArmCalls::default(),
            details_read: 0,
            exports: 0,
            imports: 0,
            drift: Vec::new(),
            warnings: Vec::new(),
            failures: Vec::new(),
            durations: PassDurations::default(),
            plan: None,
            created_metadata_schema: None,
            held_deletions: None,
            paused_apis: Vec::new(),
        }
    }

    /// Sum over every (entity, action).
    pub fn totals(&self) -> OperationFates {
        self.operations
            .iter()
            .fold(OperationFates::default(), |mut sum, t| {
                sum.planned += t.counts.planned;
                sum.written += t.counts.written;
                sum.unchanged += t.counts.unchanged;
                sum.failed += t.counts.failed;
                sum.skipped += t.counts.skipped;
                sum.deferred += t.counts.deferred;
                sum
            })
    }

    /// The counts of one (entity, action).
    pub fn counts(&self, entity: EntityKind, action: Action) -> OperationFates {
        self.operations
            .iter()
            .find(|t| t.entity == entity && t.action == action)
            .map(|t| t.counts)
            .unwrap_or_default()
    }

    /// Operations not run because the write budget ran out.
    pub fn deferred(&self) -> usize {
        self.totals().deferred
    }

    /// True when the pass did everything it planned: nothing failed, nothing deferred.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty() && self.deferred() == 0
    }

    /// Writes per second reached while applying.
    pub fn write_rate(&self) -> f64 {
        let secs = self.durations.apply.as_secs_f64();
        if secs > 0.0 {
            self.arm.mutations() as f64 / secs
        } else {
            0.0
        }
    }

    /// One line for logs: `light sync ns/l: 3 written, 0 failed; ARM 12 reads, 3 writes`.
    pub fn summary_line(&self) -> String {
        let t = self.totals();
        format!(
            "{} {}: {} planned, {} written, {} unchanged, {} failed, {} skipped, {} deferred; \
             ARM {} reads, {} writes, {} deletes; {} ms",
            self.kind,
            self.link,
            t.planned,
            t.written,
            t.unchanged,
            t.failed,
            t.skipped,
            t.deferred,
            self.arm.reads,
            self.arm.writes,
            self.arm.deletes,
            self.durations.total.as_millis()
        )
    }
}

/// A cleanup is reported like a sync pass.
pub type CleanupReport = PassReport;

/// A count for the outcome, which counts in `u32` (status fields and metrics).
fn outcome_count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl PassReport {
    /// What a successful sync pass came to, for the link's status, events and metrics.
    pub fn outcome(&self) -> SyncOutcome {
        SyncOutcome {
            discovered: outcome_count(self.apis.discovered),
            synced: outcome_count(self.apis.synced),
            skipped: outcome_count(self.apis.skipped),
            applied: self.operation_counts(|fates| fates.written),
            failed: self.operation_counts(|fates| fates.failed),
            drift_repaired: outcome_count(self.drift.len()),
            warnings: self.warnings.iter().map(ToString::to_string).collect(),
            held_deletions: self.held_deletions.as_ref().map(Into::into),
            // A successful pass fails only in ways confined to single APIs.
            api_failures: self.failures.iter().map(ApiFailure::from).collect(),
            paused_apis: self.paused_apis.clone(),
        }
    }

    /// What a finished cleanup came to.
    pub fn cleanup_outcome(&self) -> CleanupOutcome {
        CleanupOutcome {
            applied: self.operation_counts(|fates| fates.written),
            warnings: self.warnings.iter().map(ToString::to_string).collect(),
        }
    }

    /// One fate's count by (entity, action), leaving out the rows where it is zero.
    fn operation_counts(&self, fate: impl Fn(&OperationFates) -> usize) -> OperationCounts {
        let mut counts = OperationCounts::new();
        for row in &self.operations {
            let n = fate(&row.counts);
            if n > 0 {
                let key = (
                    row.entity.as_str().to_string(),
                    row.action.as_str().to_string(),
                );
                let total = counts.entry(key).or_default();
                *total = total.saturating_add(outcome_count(n));
            }
        }
        counts
    }
}

impl From<&OperationFailure> for ApiFailure {
    fn from(failure: &OperationFailure) -> Self {
        ApiFailure {
            api: failure.api.clone().unwrap_or_default(),
            reason: failure.reason.clone(),
            message: failure.message.clone(),
        }
    }
}

/// Builds the operation table while a pass runs.
#[derive(Debug, Default)]
pub(crate) struct Tallies {
    counts: BTreeMap<(EntityKind, Action), OperationFates>,
}

/// The fate of one planned operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Written,
    Unchanged,
    Failed,
    Skipped,
    Deferred,
}

impl Tallies {
    pub fn planned(&mut self, entity: EntityKind, action: Action) {
        self.counts.entry((entity, action)).or_default().planned += 1;
    }

    pub fn record(&mut self, entity: EntityKind, action: Action, fate: Fate) {
        let counts = self.counts.entry((entity, action)).or_default();
        match fate {
            Fate::Written => counts.written += 1,
            Fate::Unchanged => counts.unchanged += 1,
            Fate::Failed => counts.failed += 1,
            Fate::Skipped => counts.skipped += 1,
            Fate::Deferred => counts.deferred += 1,
        }
    }

    pub fn into_rows(self) -> Vec<OperationTally> {
        self.counts
            .into_iter()
            .map(|((entity, action), counts)| OperationTally {
                entity,
                action,
                counts,
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use apilink_core::guard::HoldRule;
    use apilink_core::plan::Warning;

    use super::*;

    fn row(entity: EntityKind, action: Action, written: usize, failed: usize) -> OperationTally {
        OperationTally {
            entity,
            action,
            counts: OperationFates {
                planned: written + failed + 1,
                written,
                unchanged: 1,
                failed,
                ..OperationFates::default()
            },
        }
    }

    fn report() -> PassReport {
        let mut report = PassReport::new("ns/l".into(), PassKind::Sync(PassMode::Light));
        report.apis = ApiCounts {
            discovered: 5,
            synced: 3,
            skipped: 2,
        };
        report.operations = vec![
            row(EntityKind::Api, Action::Create, 2, 0),
            row(EntityKind::Definition, Action::Import, 1, 1),
            row(EntityKind::Version, Action::Update, 0, 0),
        ];
        report.warnings = vec![Warning::NoGatewayUrl];
        report.failures = vec![OperationFailure::new(
            "import definition apis/echo".into(),
            Some("echo".into()),
            ErrorClass::NeedsUser,
            "SpecificationImportFailed",
            "not OpenAPI".into(),
        )];
        report.paused_apis = vec!["weather".into()];
        report.held_deletions = Some(HeldDeletions {
            apis: vec!["old".into()],
            owned: 1,
            rule: HoldRule::EmptyApim,
        });
        report
    }

    fn counts(rows: &[(&str, &str, u32)]) -> OperationCounts {
        rows.iter()
            .map(|(entity, action, n)| ((entity.to_string(), action.to_string()), *n))
            .collect()
    }

    #[test]
    fn the_outcome_counts_writes_and_failures_by_entity_and_action() {
        let report = report();
        let outcome = report.outcome();
        assert_eq!(
            (outcome.discovered, outcome.synced, outcome.skipped),
            (5, 3, 2)
        );
        assert_eq!(
            outcome.applied,
            counts(&[("api", "create", 2), ("definition", "import", 1)])
        );
        assert_eq!(outcome.failed, counts(&[("definition", "import", 1)]));
        assert_eq!(outcome.warnings, [report.warnings[0].to_string()]);
        assert_eq!(
            outcome.api_failures,
            [ApiFailure {
                api: "echo".into(),
                reason: "SpecificationImportFailed".into(),
                message: "not OpenAPI".into(),
            }]
        );
        assert_eq!(outcome.paused_apis, ["weather"]);
        let held = outcome.held_deletions.unwrap();
        assert_eq!((held.count, held.apis), (1, vec!["old".to_string()]));
        assert_eq!(
            held.message,
            report.held_deletions.as_ref().unwrap().to_string()
        );
    }

    #[test]
    fn a_cleanup_outcome_counts_its_writes() {
        let report = report();
        let outcome = report.cleanup_outcome();
        assert_eq!(outcome.deleted(), 3);
        assert_eq!(outcome.warnings.len(), 1);
    }

    #[test]
    fn the_report_names_its_mode_in_lower_case() {
        let json = serde_json::to_value(PassReport::new(
            "ns/l".into(),
            PassKind::Sync(PassMode::Full),
        ))
        .unwrap();
        assert_eq!(json["kind"], serde_json::json!({"sync": "full"}));
        let json = serde_json::to_value(PassReport::new("ns/l".into(), PassKind::Cleanup)).unwrap();
        assert_eq!(json["kind"], "cleanup");
    }
}
