//! Deleting a link: `deletionPolicy: Delete` runs the runner's cleanup before the
//! finalizer is released; `Orphan` (or a suspended link) releases at once. A cleanup that
//! cannot finish keeps the finalizer, says why in the status and retries on its own
//! schedule.

use std::time::Instant;

use apilink_azure::ErrorClass;
use apilink_core::LinkId;
use apilink_core::ids::{ApiCenterServiceId, ApimServiceId};
use apilink_core::spec::{DeletionPolicy, LinkSpec};
use kube::Api;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use tracing::{info, warn};

use crate::conditions::{Verdict, reason};
use crate::crd::ApiSourceLink;
use crate::credentials::{self, CredentialError};
use crate::events;
use crate::finalizer;
use crate::reconcile::{
    Context, ReconcileError, Step, add, cleanup_key, forget, link_key, publish, requeue_until,
    timed_out,
};
use crate::runner::{CleanupOutcome, CleanupRequest, Credentials, LinkRunner, RunError};
use crate::schedule::{self, LinkMemory};
use crate::status;

pub(crate) async fn cleanup<R: LinkRunner>(
    link: &ApiSourceLink,
    ctx: &Context<R>,
    api: &Api<ApiSourceLink>,
    namespace: &str,
    finalizer_index: usize,
) -> Result<Step, ReconcileError> {
    // Cleanup keeps its own schedule: the sync schedule says nothing about it.
    let key = cleanup_key(link);
    let now = ctx.now();
    let spec = &link.spec.link;
    let memory = ctx.memory(&key);
    let credentials_changed = ctx.take_credentials_changed(&link_key(link));
    if let Some(LinkMemory {
        next_pass_at: Some(at),
        ..
    }) = memory
        && !credentials_changed
        && now < at
    {
        return Ok(Step::wait(requeue_until(now, at)));
    }

    let release = |why: String| async move {
        finalizer::remove(api, link, finalizer_index).await?;
        info!(%why, "finalizer released");
        publish(ctx, link, vec![events::for_orphan(&why)]).await;
        forget(ctx, link, namespace);
        Ok::<_, ReconcileError>(Step::wait(Action::await_change()))
    };
    if spec.deletion_policy == DeletionPolicy::Orphan {
        return release("deletionPolicy is Orphan: API Center is left as it is".into()).await;
    }
    if spec.suspend {
        // As Flux does: a suspended object is never acted on, not even for deletion.
        return release("the link is suspended: API Center is left as it is".into()).await;
    }
    if ApimServiceId::parse(&spec.source.apim_resource_id).is_err()
        || ApiCenterServiceId::parse(&spec.target.api_center_resource_id).is_err()
    {
        return release("the resource ids are invalid, so nothing was ever synced".into()).await;
    }
    let link_id = match LinkId::namespaced(namespace, &link.name_any()) {
        Ok(id) => id,
        Err(e) => {
            return release(format!(
                "the link id is invalid ({e}), so nothing was ever synced"
            ))
            .await;
        }
    };

    let previous = link.status.clone().unwrap_or_default();
    let failures = memory.map_or(0, |m| m.failures);
    let secret_name = spec
        .credentials
        .as_ref()
        .map(|c| c.secret_ref.name.as_str());
    let result = match credentials::resolve(&ctx.client, namespace, secret_name).await {
        Ok(credentials) => {
            let started = Instant::now();
            let result = run_cleanup(ctx, link_id, spec, credentials).await;
            match &result {
                Ok(outcome) => ctx.metrics.cleanup_succeeded(started.elapsed(), outcome),
                Err(err) => ctx.metrics.pass_failed(
                    None,
                    started.elapsed(),
                    &crate::conditions::sanitize_reason(&err.reason),
                ),
            }
            result
        }
        Err(err @ (CredentialError::NotFound { .. } | CredentialError::Invalid { .. })) => {
            let reason = if matches!(err, CredentialError::NotFound { .. }) {
                reason::SECRET_NOT_FOUND
            } else {
                reason::SECRET_INVALID
            };
            Err(RunError::new(
                ErrorClass::NeedsUser,
                reason,
                format!(
                    "{err}; the link's API Center entities cannot be removed without it (restore the Secret, or set deletionPolicy: Orphan)"
                ),
            ))
        }
        Err(err) => return Err(err.into()),
    };
    match result {
        Ok(outcome) => {
            info!(deleted = outcome.deleted(), "cleanup finished");
            publish(ctx, link, vec![events::for_cleanup_done(&outcome)]).await;
            finalizer::remove(api, link, finalizer_index).await?;
            forget(ctx, link, namespace);
            Ok(Step::wait(Action::await_change()))
        }
        Err(err) => {
            let failures = failures.saturating_add(1);
            warn!(reason = %err.reason, failures, error = %err.message, "cleanup failed; the finalizer stays");
            // Deletion never stalls for good: a fixed role or Secret must be noticed
            // without any change to the (deleting) link, so even user errors retry slowly.
            let class = if err.is_terminal() {
                ErrorClass::RetrySlow
            } else {
                err.class
            };
            let delay = schedule::backoff(failures, class, err.retry_after);
            let cap_note = schedule::wait_cap_note(err.retry_after)
                .map(|note| format!("; {note}"))
                .unwrap_or_default();
            let verdict = Verdict::Retrying {
                reason: err.reason.clone(),
                message: format!(
                    "{}: {}{cap_note} (the finalizer stays until cleanup succeeds)",
                    reason::DELETING,
                    err.message
                ),
            };
            let next = status::next_status(link, &verdict, now, None);
            status::write(api, link, &next, &ctx.settings.field_manager)
                .await
                .map_err(ReconcileError::Status)?;
            if let Some(event) = events::for_cleanup_failure(
                &previous.conditions,
                &next.conditions,
                &err.reason,
                &verdict_message(&verdict),
            ) {
                publish(ctx, link, vec![event]).await;
            }
            ctx.remember(
                &key,
                LinkMemory {
                    next_pass_at: Some(add(now, delay)),
                    failures,
                },
            );
            Ok(Step::failed(Action::requeue(delay), false))
        }
    }
}

fn verdict_message(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Progressing { message }
        | Verdict::Succeeded { message }
        | Verdict::Retrying { message, .. }
        | Verdict::BoundExceeded { message }
        | Verdict::Stalled { message, .. }
        | Verdict::Suspended { message }
        | Verdict::DeletionsHeld { message }
        | Verdict::ApiFailures { message } => message.clone(),
    }
}

async fn run_cleanup<R: LinkRunner>(
    ctx: &Context<R>,
    link: LinkId,
    spec: &LinkSpec,
    credentials: Credentials,
) -> Result<CleanupOutcome, RunError> {
    let limit = ctx.settings.pass_timeout;
    let cleanup = ctx.runner.cleanup(CleanupRequest {
        link,
        spec: spec.clone(),
        credentials,
    });
    tokio::time::timeout(limit, cleanup)
        .await
        .unwrap_or_else(|_| Err(timed_out(limit)))
}
