//! The seam between the controller and the sync engine: the controller decides *when*
//! and *how much* to sync; a [`LinkRunner`] does one pass (or the cleanup) against Azure.
//! Plain data in, plain data out, so the controller is tested with a scripted runner and
//! the engine is plugged in by the binary.

use std::fmt;
use std::future::Future;

use apilink_core::LinkSettings;
pub use apilink_core::outcome::{
    ApiFailure, CleanupOutcome, HeldDeletions, OperationCounts, RunError, SyncOutcome,
};
pub use apilink_core::preflight::CheckReport;
pub use apilink_core::{Coverage, ErrorClass, PassMode, ResyncWindow};

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
    /// The link as validated: its id (`namespace/name`, from which every name and
    /// ownership marker in Azure derives), its parsed spec, and what the controller adds
    /// for this pass: the number of held API deletions someone confirmed (the
    /// `apilink.dev/confirm-deletions` annotation naming the count the status showed)
    /// and the APIs to leave alone because they failed before and are backing off.
    pub settings: LinkSettings,
    pub credentials: Credentials,
    pub mode: PassMode,
    /// For a light poll, its resync window: the owned APIs whose phase falls in it are
    /// re-checked (children read, definitions re-exported). `None` for a full pass, or a
    /// light pass that re-checks only what changed.
    pub window: Option<ResyncWindow>,
}

impl SyncRequest {
    /// What the pass re-checks besides what changed.
    pub fn coverage(&self) -> Coverage {
        match (self.mode, self.window) {
            (PassMode::Full, _) => Coverage::Everything,
            (PassMode::Light, Some(window)) => Coverage::Window(window),
            (PassMode::Light, None) => Coverage::Changed,
        }
    }
}

/// The read-only checks to run before a link's first pass of a generation.
#[derive(Debug, Clone)]
pub struct PreflightRequest {
    pub settings: LinkSettings,
    pub credentials: Credentials,
}

/// The link is being deleted with `deletionPolicy: Delete`: remove what it owns.
#[derive(Debug, Clone)]
pub struct CleanupRequest {
    pub settings: LinkSettings,
    pub credentials: Credentials,
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
    fn a_request_covers_its_window_everything_or_changes_only() {
        let spec: apilink_core::LinkSpec = serde_json::from_value(serde_json::json!({
            "source": {"apimResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a"},
            "target": {"apiCenterResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c"},
        }))
        .unwrap();
        let at = |s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
        let window = ResyncWindow::new(at(0), at(60), std::time::Duration::from_secs(3600));
        let request = |mode, window| SyncRequest {
            settings: spec
                .settings(apilink_core::LinkId::new("ns/l").unwrap())
                .unwrap(),
            credentials: Credentials::Default,
            mode,
            window,
        };
        assert_eq!(
            request(PassMode::Light, Some(window)).coverage(),
            Coverage::Window(window)
        );
        assert_eq!(request(PassMode::Light, None).coverage(), Coverage::Changed);
        assert_eq!(
            request(PassMode::Full, Some(window)).coverage(),
            Coverage::Everything
        );
    }

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
}
