//! Deleting a link: `deletionPolicy: Delete` runs the runner's cleanup before the
//! finalizer is released; `Orphan` (or a suspended link) releases at once. A cleanup that
//! cannot finish keeps the finalizer, says why in the status and retries on its own
//! schedule. The decisions ([`plan`], [`after_failure`]) are pure.

use std::time::{Duration, Instant};

use apilink_core::spec::DeletionPolicy;
use apilink_core::{ErrorClass, LinkSettings};
use k8s_openapi::jiff::Timestamp;
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
use crate::validation::{self, InvalidLink};

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
    let deleting = Deleting {
        ctx,
        api,
        link,
        namespace,
        finalizer_index,
    };
    let settings = match plan(namespace, link) {
        Plan::Release(why) => return deleting.release(&why).await,
        Plan::Clean(settings) => settings,
    };
    match deleting.run(settings).await? {
        Ok(outcome) => deleting.finished(&outcome).await,
        Err(err) => {
            let failures = memory.map_or(0, |m| m.failures);
            deleting.failed(&err, &key, failures, now).await
        }
    }
}

/// What deleting the link comes to, before anything reads its Secret.
#[derive(Debug)]
enum Plan {
    /// Let the link go without touching API Center, for this reason.
    Release(String),
    /// Remove what the link owns. An invalid spec fails the cleanup (once the Secret is
    /// read, like any error of the runner's).
    Clean(Result<Box<LinkSettings>, RunError>),
}

fn plan(namespace: &str, link: &ApiSourceLink) -> Plan {
    let spec = &link.spec.link;
    if spec.deletion_policy == DeletionPolicy::Orphan {
        return Plan::Release("deletionPolicy is Orphan: API Center is left as it is".into());
    }
    if spec.suspend {
        // As Flux does: a suspended object is never acted on, not even for deletion.
        return Plan::Release("the link is suspended: API Center is left as it is".into());
    }
    match validation::link_settings(namespace, &link.name_any(), spec) {
        Ok(settings) => Plan::Clean(Ok(Box::new(settings))),
        Err(invalid) if invalid.service_ids_invalid() => {
            Plan::Release("the resource ids are invalid, so nothing was ever synced".into())
        }
        Err(InvalidLink::Id(e)) => Plan::Release(format!(
            "the link id is invalid ({e}), so nothing was ever synced"
        )),
        Err(invalid) => Plan::Clean(Err(invalid.run_error())),
    }
}

/// What follows a failed cleanup: the status says why the finalizer stays, and the
/// cleanup is retried after the backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Retry {
    verdict: Verdict,
    memory: LinkMemory,
    delay: Duration,
}

/// The retry after the cleanup failed with `err` at `now`, following `failures`
/// consecutive failed cleanups.
fn after_failure(err: &RunError, failures: u32, now: Timestamp) -> Retry {
    let failures = failures.saturating_add(1);
    // Deletion never stalls for good: a fixed role or Secret must be noticed without any
    // change to the (deleting) link, so even user errors retry slowly.
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
    Retry {
        verdict,
        memory: LinkMemory {
            next_pass_at: Some(add(now, delay)),
            failures,
        },
        delay,
    }
}

/// A deleting link and what its cleanup steps need.
struct Deleting<'a, R> {
    ctx: &'a Context<R>,
    api: &'a Api<ApiSourceLink>,
    link: &'a ApiSourceLink,
    namespace: &'a str,
    finalizer_index: usize,
}

impl<R: LinkRunner> Deleting<'_, R> {
    /// Releases the finalizer without a cleanup, saying `why` in an event.
    async fn release(&self, why: &str) -> Result<Step, ReconcileError> {
        finalizer::remove(self.api, self.link, self.finalizer_index).await?;
        info!(%why, "finalizer released");
        publish(self.ctx, self.link, vec![events::for_orphan(why)]).await;
        forget(self.ctx, self.link, self.namespace);
        Ok(Step::wait(Action::await_change()))
    }

    /// Reads the credentials and runs the cleanup. A missing or broken Secret fails the
    /// cleanup for the user to fix; one the controller may not read, or Kubernetes
    /// trouble, fails the reconcile.
    async fn run(
        &self,
        settings: Result<Box<LinkSettings>, RunError>,
    ) -> Result<Result<CleanupOutcome, RunError>, ReconcileError> {
        let secret_name = self
            .link
            .spec
            .link
            .credentials
            .as_ref()
            .map(|c| c.secret_ref.name.as_str());
        let resolved = credentials::resolve(&self.ctx.client, self.namespace, secret_name);
        let credentials = match resolved.await {
            Ok(credentials) => credentials,
            Err(err @ (CredentialError::NotFound { .. } | CredentialError::Invalid { .. })) => {
                return Ok(Err(secret_error(&err)));
            }
            Err(err) => return Err(err.into()),
        };
        let started = Instant::now();
        let result = match settings {
            Ok(settings) => run_cleanup(self.ctx, *settings, credentials).await,
            Err(err) => Err(err),
        };
        match &result {
            Ok(outcome) => self
                .ctx
                .metrics
                .cleanup_succeeded(started.elapsed(), outcome),
            Err(err) => self.ctx.metrics.pass_failed(
                None,
                started.elapsed(),
                &crate::conditions::sanitize_reason(&err.reason),
            ),
        }
        Ok(result)
    }

    /// The cleanup finished: the finalizer goes.
    async fn finished(&self, outcome: &CleanupOutcome) -> Result<Step, ReconcileError> {
        info!(deleted = outcome.deleted(), "cleanup finished");
        publish(self.ctx, self.link, vec![events::for_cleanup_done(outcome)]).await;
        finalizer::remove(self.api, self.link, self.finalizer_index).await?;
        forget(self.ctx, self.link, self.namespace);
        Ok(Step::wait(Action::await_change()))
    }

    /// The cleanup failed: the finalizer stays, the status and (when news) an event say
    /// why, and the cleanup is retried.
    async fn failed(
        &self,
        err: &RunError,
        key: &str,
        failures: u32,
        now: Timestamp,
    ) -> Result<Step, ReconcileError> {
        let retry = after_failure(err, failures, now);
        warn!(reason = %err.reason, failures = retry.memory.failures, error = %err.message, "cleanup failed; the finalizer stays");
        let next = status::next_status(self.link, &retry.verdict, now, None);
        status::write(self.api, self.link, &next, &self.ctx.settings.field_manager)
            .await
            .map_err(ReconcileError::Status)?;
        let previous = self
            .link
            .status
            .as_ref()
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default();
        if let Some(event) = events::for_cleanup_failure(
            previous,
            &next.conditions,
            &err.reason,
            &verdict_message(&retry.verdict),
        ) {
            publish(self.ctx, self.link, vec![event]).await;
        }
        self.ctx.remember(key, retry.memory);
        Ok(Step::failed(Action::requeue(retry.delay), false))
    }
}

/// The error of a cleanup whose Secret is missing or broken.
fn secret_error(err: &CredentialError) -> RunError {
    let reason = if matches!(err, CredentialError::NotFound { .. }) {
        reason::SECRET_NOT_FOUND
    } else {
        reason::SECRET_INVALID
    };
    RunError::new(
        ErrorClass::NeedsUser,
        reason,
        format!(
            "{err}; the link's API Center entities cannot be removed without it (restore the Secret, or set deletionPolicy: Orphan)"
        ),
    )
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
    settings: LinkSettings,
    credentials: Credentials,
) -> Result<CleanupOutcome, RunError> {
    let limit = ctx.settings.pass_timeout;
    let cleanup = ctx.runner.cleanup(CleanupRequest {
        settings,
        credentials,
    });
    tokio::time::timeout(limit, cleanup)
        .await
        .unwrap_or_else(|_| Err(timed_out(limit)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ApiSourceLinkSpec;
    use serde_json::json;

    const APIM: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a";
    const APIC: &str =
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c";

    fn link(name: &str, extra: serde_json::Value) -> ApiSourceLink {
        let mut spec = json!({
            "source": {"apimResourceId": APIM},
            "target": {"apiCenterResourceId": APIC},
        });
        for (k, v) in extra.as_object().unwrap() {
            spec[k] = v.clone();
        }
        let spec: ApiSourceLinkSpec = serde_json::from_value(spec).unwrap();
        ApiSourceLink::new(name, spec)
    }

    /// The plan as text: `release: <why>`, `clean` or `fail: <reason>`.
    fn described(plan: Plan) -> String {
        match plan {
            Plan::Release(why) => format!("release: {why}"),
            Plan::Clean(Ok(settings)) => format!("clean {}", settings.link),
            Plan::Clean(Err(err)) => format!("fail: {}", err.reason),
        }
    }

    #[test]
    fn plans() {
        let long = "n".repeat(253);
        let bad_apim = json!({"source": {"apimResourceId": "/not/an/arm/id"}});
        let table = [
            ("l", json!({}), "clean ns/l"),
            (
                "l",
                json!({"deletionPolicy": "Orphan"}),
                "release: deletionPolicy is Orphan: API Center is left as it is",
            ),
            (
                "l",
                json!({"suspend": true}),
                "release: the link is suspended: API Center is left as it is",
            ),
            (
                "l",
                json!({"deletionPolicy": "Orphan", "filter": {"include": ["[unclosed"]}}),
                "release: deletionPolicy is Orphan: API Center is left as it is",
            ),
            (
                "l",
                bad_apim.clone(),
                "release: the resource ids are invalid, so nothing was ever synced",
            ),
            (
                "l",
                json!({"target": {"apiCenterResourceId": "/not/an/arm/id"}}),
                "release: the resource ids are invalid, so nothing was ever synced",
            ),
            (
                "l",
                json!({"filter": {"include": ["[unclosed"]}}),
                "fail: InvalidSpec",
            ),
            (
                long.as_str(),
                json!({}),
                "release: the link id is invalid (link id must be 1-253 printable characters without whitespace, got \"ns/nnn",
            ),
        ];
        for (name, extra, expected) in table {
            let got = described(plan("ns", &link(name, extra.clone())));
            assert!(got.starts_with(expected), "{extra}: {got}");
        }
    }

    #[test]
    fn failures_keep_the_finalizer_and_never_stall() {
        let t = Timestamp::from_second(1_700_000_000).unwrap();
        let day = Duration::from_secs(86_400);
        // (error, failures before, wait in seconds)
        let table = [
            (RunError::new(ErrorClass::RetryFast, "Boom", "m"), 0, 1),
            (RunError::new(ErrorClass::RetryFast, "Boom", "m"), 9, 30),
            (
                RunError::new(ErrorClass::NeedsUser, "InvalidSpec", "m"),
                9,
                180,
            ),
            (
                RunError::new(ErrorClass::NeedsUser, "AuthorizationFailed", "m")
                    .with_retry_after(Duration::from_secs(300)),
                0,
                300,
            ),
            (
                RunError::new(ErrorClass::RetrySlow, "AzureThrottled", "m").with_retry_after(day),
                0,
                3600,
            ),
        ];
        for (err, failures, wait) in table {
            let retry = after_failure(&err, failures, t);
            let delay = Duration::from_secs(wait);
            assert_eq!(retry.delay, delay, "{err:?}");
            assert_eq!(
                retry.memory,
                LinkMemory {
                    next_pass_at: Some(add(t, delay)),
                    failures: failures + 1,
                },
                "{err:?}"
            );
            assert!(
                matches!(&retry.verdict, Verdict::Retrying { reason, .. } if *reason == err.reason),
                "{err:?}"
            );
        }
        let throttled =
            RunError::new(ErrorClass::RetrySlow, "AzureThrottled", "busy").with_retry_after(day);
        assert_eq!(
            verdict_message(&after_failure(&throttled, 0, t).verdict),
            "Deleting: busy; Azure asked to wait 86400s; apilink caps waits at 3600s and tries again then (the finalizer stays until cleanup succeeds)"
        );
    }
}
