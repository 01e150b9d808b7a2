//! Building the next status (pure) and writing it by server-side apply.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::api_failures;
use crate::conditions::{self, Verdict};
use crate::crd::{
    ApiCounts, ApiSourceLink, ApiSourceLinkStatus, HeldDeletionsStatus, PassMode, PassSummary,
};
use crate::runner::SyncOutcome;

/// A successful pass, as the status records it.
#[derive(Debug, Clone, Copy)]
pub struct Synced<'a> {
    pub outcome: &'a SyncOutcome,
    pub mode: PassMode,
    /// Where the pass's resync window ended (when it started reading APIM): recorded as
    /// `lastSyncTime` (and `lastFullResyncTime` for a full pass), where the next
    /// scheduled window starts.
    pub window_end: Timestamp,
}

/// The status after a reconcile that ended in `verdict`. Fields the verdict says nothing
/// about (last sync times, counts) are carried over.
pub fn next_status(
    link: &ApiSourceLink,
    verdict: &Verdict,
    now: Timestamp,
    success: Option<Synced<'_>>,
) -> ApiSourceLinkStatus {
    let previous = link.status.clone().unwrap_or_default();
    let generation = link.metadata.generation;
    let mut next = ApiSourceLinkStatus {
        observed_generation: generation.or(previous.observed_generation),
        conditions: conditions::next_conditions(&previous.conditions, verdict, generation, now),
        ..previous.clone()
    };
    // The request token is echoed once handled; a progress report has not handled it yet.
    if !matches!(verdict, Verdict::Progressing { .. })
        && let Some(token) = link.requested_at()
    {
        next.last_handled_reconcile_at = Some(token.to_string());
    }
    if let Some(Synced {
        outcome,
        mode,
        window_end,
    }) = success
    {
        next.last_sync_time = Some(Time(window_end));
        if mode == PassMode::Full {
            next.last_full_resync_time = Some(Time(window_end));
        }
        next.apis = Some(ApiCounts {
            discovered: outcome.discovered,
            synced: outcome.synced,
            skipped: outcome.skipped,
        });
        next.api_failures = api_failures::next(
            &previous.api_failures,
            &outcome.api_failures,
            &outcome.paused_apis,
            now,
        );
        next.held_deletions = outcome
            .held_deletions
            .as_ref()
            .map(|held| HeldDeletionsStatus {
                count: held.count,
                apis: held.apis.iter().take(10).cloned().collect(),
            });
        next.last_pass = Some(PassSummary {
            mode,
            operations_applied: outcome.operations_applied(),
            drift_repaired: outcome.drift_repaired,
            warnings: u32::try_from(outcome.warnings.len()).unwrap_or(u32::MAX),
        });
    }
    next
}

/// The `Ready` message after a successful pass: counts, and the first warnings.
pub fn success_message(outcome: &SyncOutcome, mode: PassMode) -> String {
    let mut message = format!(
        "{} pass: {} of {} APIs in step, {} skipped; {} operation(s) applied",
        match mode {
            PassMode::Light => "Light",
            PassMode::Full => "Full",
        },
        outcome.synced,
        outcome.discovered,
        outcome.skipped,
        outcome.operations_applied()
    );
    if outcome.drift_repaired > 0 {
        message.push_str(&format!(", {} drift repaired", outcome.drift_repaired));
    }
    if !outcome.warnings.is_empty() {
        let shown: Vec<&str> = outcome
            .warnings
            .iter()
            .take(3)
            .map(String::as_str)
            .collect();
        message.push_str(&format!(
            "; {} warning(s): {}",
            outcome.warnings.len(),
            shown.join("; ")
        ));
    }
    message
}

/// The body of the status apply: only `status` is owned by this field manager.
pub fn apply_body(status: &ApiSourceLinkStatus) -> serde_json::Value {
    json!({
        "apiVersion": format!("{}/{}", crate::crd::GROUP, crate::crd::VERSION),
        "kind": crate::crd::KIND,
        "status": status,
    })
}

/// Writes `status` unless it equals what the link already shows (a write would only
/// wake the controller up again).
pub async fn write(
    api: &Api<ApiSourceLink>,
    link: &ApiSourceLink,
    status: &ApiSourceLinkStatus,
    field_manager: &str,
) -> Result<bool, kube::Error> {
    if link.status.as_ref() == Some(status) {
        return Ok(false);
    }
    api.patch_status(
        &link.name_any(),
        &PatchParams::apply(field_manager).force(),
        &Patch::Apply(apply_body(status)),
    )
    .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::{READY, RECONCILING};
    use crate::crd::{ApiSourceLinkSpec, REQUESTED_AT_ANNOTATION};

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn link() -> ApiSourceLink {
        let spec: ApiSourceLinkSpec = serde_json::from_value(json!({
            "source": {"apimResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a"},
            "target": {"apiCenterResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c"},
        }))
        .unwrap();
        let mut l = ApiSourceLink::new("l", spec);
        l.metadata.namespace = Some("ns".into());
        l.metadata.generation = Some(4);
        l
    }

    #[test]
    fn success_records_window_ends_counts_and_generation() {
        let mut l = link();
        l.metadata.annotations =
            Some([(REQUESTED_AT_ANNOTATION.to_string(), "token-1".to_string())].into());
        let mut outcome = SyncOutcome {
            discovered: 10,
            synced: 9,
            skipped: 1,
            drift_repaired: 1,
            ..Default::default()
        };
        outcome.applied.insert(("api".into(), "update".into()), 2);
        outcome.warnings.push("api x: unsupported type".into());
        let message = success_message(&outcome, PassMode::Full);
        let status = next_status(
            &l,
            &Verdict::Succeeded {
                message: message.clone(),
            },
            t(9),
            Some(Synced {
                outcome: &outcome,
                mode: PassMode::Full,
                window_end: t(0),
            }),
        );
        assert_eq!(status.observed_generation, Some(4));
        assert_eq!(status.last_handled_reconcile_at.as_deref(), Some("token-1"));
        assert_eq!(status.last_sync_time, Some(Time(t(0))));
        assert_eq!(status.last_full_resync_time, Some(Time(t(0))));
        assert_eq!(
            status.apis,
            Some(ApiCounts {
                discovered: 10,
                synced: 9,
                skipped: 1
            })
        );
        let pass = status.last_pass.unwrap();
        assert_eq!(
            (pass.operations_applied, pass.drift_repaired, pass.warnings),
            (2, 1, 1)
        );
        assert_eq!(status.conditions[0].type_, READY);
        assert!(
            message.contains("9 of 10") && message.contains("unsupported type"),
            "{message}"
        );

        // The times are where the passes' windows ended (when they started), not when
        // they finished: the next window starts there. A light pass keeps the full
        // resync's.
        l.status = Some(status);
        let light = next_status(
            &l,
            &Verdict::Succeeded { message },
            t(62),
            Some(Synced {
                outcome: &outcome,
                mode: PassMode::Light,
                window_end: t(60),
            }),
        );
        assert_eq!(light.last_sync_time, Some(Time(t(60))));
        assert_eq!(light.last_full_resync_time, Some(Time(t(0))));
    }

    #[test]
    fn failure_keeps_last_success_and_progress_does_not_echo_request() {
        let mut l = link();
        l.metadata.annotations =
            Some([(REQUESTED_AT_ANNOTATION.to_string(), "token-2".to_string())].into());
        l.status = Some(ApiSourceLinkStatus {
            last_sync_time: Some(Time(t(0))),
            last_handled_reconcile_at: Some("token-1".into()),
            ..Default::default()
        });
        let progress = next_status(
            &l,
            &Verdict::Progressing {
                message: "p".into(),
            },
            t(5),
            None,
        );
        assert_eq!(
            progress.last_handled_reconcile_at.as_deref(),
            Some("token-1")
        );
        assert_eq!(progress.conditions[1].type_, RECONCILING);
        let failed = next_status(
            &l,
            &Verdict::Retrying {
                reason: "AzureUnavailable".into(),
                message: "503".into(),
            },
            t(10),
            None,
        );
        assert_eq!(failed.last_sync_time, Some(Time(t(0))));
        assert_eq!(failed.last_handled_reconcile_at.as_deref(), Some("token-2"));
        assert_eq!(failed.observed_generation, Some(4));
    }

    #[test]
    fn apply_body_names_the_kind() {
        let body = apply_body(&ApiSourceLinkStatus::default());
        assert_eq!(body["apiVersion"], "apilink.dev/v1alpha1");
        assert_eq!(body["kind"], "ApiSourceLink");
        assert!(body.get("spec").is_none(), "only status is applied");
    }
}
