//! What a sync pass or a cleanup came to, and why one failed: the engine reports in
//! these terms, and the controller writes status, events and metrics from them.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error_class::ErrorClass;
use crate::guard;

/// Write counts by (entity kind, operation): `api`, `version`, `definition`,
/// `deployment`, `environment` by `create`, `update`, `delete`, `import`, …, as the
/// words of [`EntityKind::as_str`](crate::ownership::EntityKind::as_str) and
/// [`Action::as_str`](crate::operation::Action::as_str). Sorted by those words, so
/// summaries built from it read the same every time.
pub type OperationCounts = BTreeMap<(String, String), u32>;

/// Result of a successful pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncOutcome {
    /// APIM APIs and version sets the filter selected.
    pub discovered: u32,
    /// Of those, in step in API Center after the pass.
    pub synced: u32,
    /// Of those, left out (unsupported, invalid, excluded by a warning).
    pub skipped: u32,
    /// Successful writes by (entity, operation).
    pub applied: OperationCounts,
    /// Writes that failed without failing the pass, by (entity, operation).
    pub failed: OperationCounts,
    /// Owned entities found changed or deleted in API Center and put back.
    pub drift_repaired: u32,
    /// Problems that did not fail the pass, for the status message.
    pub warnings: Vec<String>,
    /// API deletions the deletion guard held until someone confirms their number.
    pub held_deletions: Option<HeldDeletions>,
    /// APIs refused for a reason confined to each (the pass still succeeded).
    pub api_failures: Vec<ApiFailure>,
    /// APIs left alone this pass (backing off).
    pub paused_apis: Vec<String>,
}

/// One API's refusal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiFailure {
    pub api: String,
    pub reason: String,
    pub message: String,
}

/// API deletions a pass did not make, for the status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeldDeletions {
    pub count: u32,
    /// The first names, sorted.
    pub apis: Vec<String>,
    /// Why, and how to confirm, for people.
    pub message: String,
}

impl From<&guard::HeldDeletions> for HeldDeletions {
    fn from(held: &guard::HeldDeletions) -> Self {
        Self {
            count: u32::try_from(held.count()).unwrap_or(u32::MAX),
            apis: held.apis.clone(),
            message: held.to_string(),
        }
    }
}

impl SyncOutcome {
    pub fn operations_applied(&self) -> u32 {
        self.applied.values().sum()
    }

    /// True when the pass wrote anything to API Center.
    pub fn changed_anything(&self) -> bool {
        self.operations_applied() > 0 || self.drift_repaired > 0
    }
}

/// Result of a finished cleanup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CleanupOutcome {
    /// Deletes sent, by (entity, operation).
    pub applied: OperationCounts,
    /// Entities that were left because the link does not own them.
    pub warnings: Vec<String>,
}

impl CleanupOutcome {
    pub fn deleted(&self) -> u32 {
        self.applied.values().sum()
    }
}

/// Why a pass or a cleanup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct RunError {
    pub class: ErrorClass,
    /// Stable PascalCase reason for the condition (`AuthorizationFailed`, `AzureThrottled`).
    pub reason: String,
    /// What happened and what to do, for people; no secrets or tokens.
    pub message: String,
    /// When Azure (or the runner) said to come back; `None` leaves it to the backoff.
    /// For [`ErrorClass::NeedsUser`], `None` means "not until the spec changes".
    pub retry_after: Option<Duration>,
}

impl RunError {
    pub fn new(class: ErrorClass, reason: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            class,
            reason: reason.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// True when only the user can fix it and nothing will clear it by itself: the link
    /// is `Stalled` and is not retried until its spec (or its Secret) changes.
    pub fn is_terminal(&self) -> bool {
        self.class == ErrorClass::NeedsUser && self.retry_after.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::HoldRule;

    #[test]
    fn terminal_only_without_retry_hint() {
        let err = RunError::new(ErrorClass::NeedsUser, "InvalidRequest", "bad");
        assert!(err.is_terminal());
        assert!(
            !err.clone()
                .with_retry_after(Duration::from_secs(180))
                .is_terminal()
        );
        assert!(!RunError::new(ErrorClass::RetryFast, "AzureUnavailable", "x").is_terminal());
    }

    #[test]
    fn outcome_counts() {
        let mut outcome = SyncOutcome::default();
        assert!(!outcome.changed_anything());
        outcome.applied.insert(("api".into(), "create".into()), 2);
        outcome
            .applied
            .insert(("version".into(), "create".into()), 3);
        assert_eq!(outcome.operations_applied(), 5);
        assert!(outcome.changed_anything());
    }

    #[test]
    fn cleanup_counts_its_deletes() {
        let mut outcome = CleanupOutcome::default();
        outcome.applied.insert(("api".into(), "delete".into()), 4);
        outcome
            .applied
            .insert(("environment".into(), "delete".into()), 1);
        assert_eq!(outcome.deleted(), 5);
    }

    #[test]
    fn held_deletions_keep_the_guards_names_and_words() {
        let held = guard::HeldDeletions {
            apis: vec!["a".into(), "b".into()],
            owned: 2,
            rule: HoldRule::EmptyApim,
        };
        let summary = HeldDeletions::from(&held);
        assert_eq!(summary.count, 2);
        assert_eq!(summary.apis, ["a", "b"]);
        assert_eq!(summary.message, held.to_string());
    }
}
