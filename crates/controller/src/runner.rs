//! The seam between the controller and the sync engine: the controller decides *when*
//! and *how much* to sync; a [`LinkRunner`] does one pass (or the cleanup) against Azure.
//! Plain data in, plain data out, so the controller is tested with a scripted runner and
//! the engine is plugged in by the binary.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use apilink_azure::ErrorClass;
use apilink_core::LinkId;
pub use apilink_core::preflight::CheckReport;
use apilink_core::spec::LinkSpec;

pub use crate::crd::PassMode;

/// Azure credentials for one link. Secrets never reach `Debug`, logs or status.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The pod's own identity: workload identity on AKS, else managed identity, else
    /// whatever the runner's default chain finds.
    Default,
    /// A service principal read from the link's Secret.
    ClientSecret {
        tenant_id: String,
        client_id: String,
        client_secret: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Default => f.write_str("Default"),
            Credentials::ClientSecret {
                tenant_id,
                client_id,
                ..
            } => f
                .debug_struct("ClientSecret")
                .field("tenant_id", tenant_id)
                .field("client_id", client_id)
                .field("client_secret", &"<redacted>")
                .finish(),
        }
    }
}

/// One sync pass to run.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    /// `namespace/name`: every name and ownership marker in Azure derives from it.
    pub link: LinkId,
    pub spec: LinkSpec,
    pub credentials: Credentials,
    pub mode: PassMode,
    /// The number of held API deletions someone confirmed (the
    /// `apilink.dev/confirm-deletions` annotation naming the count the status showed).
    pub confirmed_deletions: Option<usize>,
    /// APIs to leave alone this pass: they failed before and are backing off.
    pub paused_apis: std::collections::BTreeSet<String>,
}

/// The read-only checks to run before a link's first pass of a generation.
#[derive(Debug, Clone)]
pub struct PreflightRequest {
    pub link: LinkId,
    pub spec: LinkSpec,
    pub credentials: Credentials,
}

/// The link is being deleted with `deletionPolicy: Delete`: remove what it owns.
#[derive(Debug, Clone)]
pub struct CleanupRequest {
    pub link: LinkId,
    pub spec: LinkSpec,
    pub credentials: Credentials,
}

/// Write counts of one entity kind (`api`, `version`, `definition`, `deployment`,
/// `environment`) by operation (`create`, `update`, `delete`, `import`).
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

/// Runs passes and cleanups for links. Implemented over the sync engine by the binary,
/// and by a scripted fake in the controller's tests.
pub trait LinkRunner: Send + Sync + 'static {
    /// One observe → plan → apply pass.
    fn sync(&self, req: SyncRequest) -> impl Future<Output = Result<SyncOutcome, RunError>> + Send;

    /// Read-only checks before a pass: credentials, services reachable, effective ARM
    /// permissions, the APIM inventory, the API Center workspace and metadata schemas,
    /// the spec. `Ok` with failed lines is a problem only a person can fix outside the
    /// cluster (a role grant): the link is not ready and the checks run again later.
    /// `Err` is for checks that could not run (ARM unreachable, throttled): it takes the
    /// path of a failed pass.
    fn preflight(
        &self,
        req: PreflightRequest,
    ) -> impl Future<Output = Result<CheckReport, RunError>> + Send;

    /// Removes every entity the link owns in API Center (its APIs and their children,
    /// its environment and deployments). Must be idempotent: it may run again after a
    /// partial failure or a restart.
    fn cleanup(
        &self,
        req: CleanupRequest,
    ) -> impl Future<Output = Result<CleanupOutcome, RunError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_redacted_in_debug() {
        let creds = Credentials::ClientSecret {
            tenant_id: "t".into(),
            client_id: "c".into(),
            client_secret: "s3cr3t-value".into(),
        };
        let text = format!("{creds:?}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(text.contains("<redacted>") && text.contains("client_id"));
    }

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
}
