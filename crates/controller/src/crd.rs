//! The `ApiSourceLink` custom resource: its spec reuses the core `LinkSpec` (one source
//! of truth for the fields), its status is what GitOps tools and people read.

/// How much of APIM one pass reads (the status names it `Light` or `Full`).
pub use apilink_core::PassMode;
use apilink_core::spec::LinkSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of the resource.
pub const GROUP: &str = "apilink.dev";
/// Served and stored version.
pub const VERSION: &str = "v1alpha1";
/// Kind of the resource.
pub const KIND: &str = "ApiSourceLink";
/// Name of the CustomResourceDefinition.
pub const CRD_NAME: &str = "apisourcelinks.apilink.dev";
/// Annotation Flux (and `apilink` users) set to ask for an immediate pass; its value is
/// an opaque token echoed in `status.lastHandledReconcileAt`.
pub const REQUESTED_AT_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";
/// Confirms held API deletions: its value must be the number the status shows held.
pub const CONFIRM_DELETIONS_ANNOTATION: &str = "apilink.dev/confirm-deletions";

/// One link from an Azure API Management instance to an Azure API Center.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "apilink.dev",
    version = "v1alpha1",
    kind = "ApiSourceLink",
    namespaced,
    status = "ApiSourceLinkStatus",
    shortname = "asl",
    category = "apilink",
    derive = "PartialEq",
    doc = "Keeps an Azure API Center inventory in step with one Azure API Management instance.",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"APIs","type":"integer","description":"APIs synced to API Center","jsonPath":".status.apis.synced"}"#,
    printcolumn = r#"{"name":"Last Sync","type":"date","jsonPath":".status.lastSyncTime"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
pub struct ApiSourceLinkSpec {
    #[serde(flatten)]
    pub link: LinkSpec,
}

/// What the controller last observed and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiSourceLinkStatus {
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// kstatus conditions: `Ready` always, `Reconciling` and `Stalled` only when True.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Last handled value of the `reconcile.fluxcd.io/requestedAt` annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Start of the last successful pass (light or full): API Center reflects APIM as
    /// read then. The next light poll re-checks the definitions whose turn came since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// Start of the last successful full resync (every definition re-read). Light polls
    /// re-check a slice of the definitions each, every one once per resyncInterval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_full_resync_time: Option<Time>,
    /// API counts of the last successful pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apis: Option<ApiCounts>,
    /// What the last successful pass changed in API Center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_pass: Option<PassSummary>,
    /// APIs API Center refused for a reason only a person can fix, each retried on its
    /// own backoff while the rest of the link syncs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_failures: Vec<ApiFailureStatus>,
    /// API deletions the last pass held back (deletion guard) until confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_deletions: Option<HeldDeletionsStatus>,
    /// The last preflight: the read-only checks run before the first pass of a generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<PreflightStatus>,
}

/// The read-only checks the controller ran before a pass, every line in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreflightStatus {
    /// When the checks ran.
    pub time: Time,
    /// `Passed` (no check failed; warnings allowed) or `Failed` (no pass runs).
    pub result: PreflightResult,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<PreflightCheck>,
}

/// Outcome of a whole preflight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PreflightResult {
    Passed,
    Failed,
}

/// One check of a preflight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreflightCheck {
    /// The check's stable id (`credential`, `apic.permissions`...).
    pub check: String,
    pub status: PreflightCheckStatus,
    /// PascalCase; `Ok` when the check passed.
    pub reason: String,
    /// What the check found, for people.
    pub summary: String,
    /// What to do about a warning or a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PreflightCheckStatus {
    Pass,
    Warn,
    Fail,
}

/// One API that keeps failing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiFailureStatus {
    /// The API Center API.
    pub api: String,
    pub reason: String,
    pub message: String,
    /// Consecutive failed tries.
    pub failures: u32,
    /// Not tried again before this time.
    pub retry_at: Time,
}

/// Held API deletions: confirm with `apilink.dev/confirm-deletions: "<count>"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeldDeletionsStatus {
    pub count: u32,
    /// The first API Center API names that would be deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apis: Vec<String>,
}

/// APIs seen in APIM and their fate in API Center.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiCounts {
    /// APIM APIs and version sets the filter selected.
    pub discovered: u32,
    /// Of those, in step in API Center after the pass.
    pub synced: u32,
    /// Of those, left out (unsupported type, invalid name, warnings).
    pub skipped: u32,
}

/// Summary of one successful pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PassSummary {
    /// `Light` (API lists, and the APIs whose turn came in its resync window) or `Full`
    /// (everything, definitions included).
    pub mode: PassMode,
    /// Writes and deletes sent to API Center.
    pub operations_applied: u32,
    /// Owned entities found changed or deleted in API Center and put back.
    pub drift_repaired: u32,
    /// Problems that did not fail the pass.
    pub warnings: u32,
}

impl ApiSourceLink {
    /// The `Ready` condition, if any.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status
            .as_ref()
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
    }

    /// Value of the `reconcile.fluxcd.io/requestedAt` annotation, if set.
    /// The count in the `apilink.dev/confirm-deletions` annotation, when it is a number.
    pub fn confirmed_deletions(&self) -> Option<usize> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(CONFIRM_DELETIONS_ANNOTATION))
            .and_then(|v| v.trim().parse().ok())
    }

    pub fn requested_at(&self) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(REQUESTED_AT_ANNOTATION))
            .map(String::as_str)
    }
}
