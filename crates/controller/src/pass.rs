//! A sync pass for a live link: schedule, suspend, validation, credentials, the
//! preflight, the runner's pass, then status, events, metrics and the next requeue.

use std::time::{Duration, Instant};

use apilink_core::LinkId;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use tracing::{debug, info, warn};

use crate::api_failures;
use crate::conditions::{Verdict, reason};
use crate::crd::{
    ApiSourceLink, ApiSourceLinkStatus, CONFIRM_DELETIONS_ANNOTATION, PassMode, PreflightStatus,
};
use crate::credentials::CredentialError;
use crate::preflight::{self, Gate};
use crate::reconcile::{
    Context, ReconcileError, Step, add, link_key, report, requeue_until, timed_out, unix_seconds,
};
use crate::runner::{ErrorClass, LinkRunner, RunError, SyncOutcome, SyncRequest};
use crate::schedule::{self, Due, DueInput, LinkMemory, Periods, Trigger};
use crate::status;

pub(crate) async fn sync<R: LinkRunner>(
    link: &ApiSourceLink,
    ctx: &Context<R>,
    api: &Api<ApiSourceLink>,
    namespace: &str,
) -> Result<Step, ReconcileError> {
    let name = link.name_any();
    let key = link_key(link);
    let now = ctx.now();
    let spec = &link.spec.link;
    let previous = link.status.clone().unwrap_or_default();
    let memory = ctx.memory(&key);
    if memory.is_none() {
        ctx.metrics.seed_link_times(
            namespace,
            &name,
            previous.last_sync_time.as_ref().map(|t| unix_seconds(t.0)),
            previous
                .last_full_resync_time
                .as_ref()
                .map(|t| unix_seconds(t.0)),
        );
    }
    let interval = apilink_core::duration::parse_duration(&spec.interval).ok();
    let credentials_changed = ctx.take_credentials_changed(&key);
    let trigger = match schedule::due(DueInput {
        now,
        generation: link.metadata.generation,
        observed_generation: previous.observed_generation,
        requested_at: link.requested_at(),
        last_handled_requested_at: previous.last_handled_reconcile_at.as_deref(),
        credentials_changed,
        memory,
        last_sync: previous.last_sync_time.as_ref().map(|t| t.0),
        interval,
    }) {
        Due::Never => return Ok(Step::wait(Action::await_change())),
        Due::At(at) => return Ok(Step::wait(requeue_until(now, at))),
        Due::Now(trigger) => trigger,
    };
    debug!(?trigger, "pass due");

    if spec.suspend {
        let verdict = Verdict::Suspended {
            message: "Reconciliation is suspended (spec.suspend: true); Azure is not contacted"
                .into(),
        };
        report(ctx, api, link, &verdict, now, None, None).await?;
        ctx.remember(&key, LinkMemory::until_change());
        info!("link suspended");
        return Ok(Step::wait(Action::await_change()));
    }

    let stall = |reason: &str, message: String| Verdict::Stalled {
        reason: reason.to_string(),
        message,
    };
    let settings = LinkId::namespaced(namespace, &name)
        .map_err(|e| e.to_string())
        .and_then(|id| spec.settings(id).map_err(|e| e.to_string()));
    let settings = match settings {
        Ok(settings) => settings,
        Err(message) => {
            let verdict = stall(reason::INVALID_SPEC, message);
            report(ctx, api, link, &verdict, now, None, None).await?;
            ctx.remember(&key, LinkMemory::until_change());
            return Ok(Step::failed(Action::await_change(), true));
        }
    };
    let periods = Periods {
        interval: settings.interval,
        resync: settings.resync_interval,
    };

    let secret_name = spec
        .credentials
        .as_ref()
        .map(|c| c.secret_ref.name.as_str());
    let credentials = match ctx.credentials(&key, namespace, secret_name).await {
        Ok(credentials) => credentials,
        // A missing, broken or unreadable Secret waits for a change to the Secret, which
        // the reconciler looks for while the link is stalled.
        Err(err @ CredentialError::NotFound { .. }) => {
            let verdict = stall(reason::SECRET_NOT_FOUND, err.to_string());
            report(ctx, api, link, &verdict, now, None, Some(periods.bound())).await?;
            ctx.remember(&key, LinkMemory::until_change());
            return Ok(Step::failed(Action::await_change(), true));
        }
        Err(err @ (CredentialError::Invalid { .. } | CredentialError::Forbidden { .. })) => {
            let verdict = stall(
                err.stall_reason().unwrap_or(reason::SECRET_INVALID),
                err.to_string(),
            );
            report(ctx, api, link, &verdict, now, None, Some(periods.bound())).await?;
            ctx.remember(&key, LinkMemory::until_change());
            return Ok(Step::failed(Action::await_change(), true));
        }
        Err(err) => return Err(err.into()),
    };

    let mode = schedule::pass_mode(
        now,
        previous.last_full_resync_time.as_ref().map(|t| t.0),
        periods,
        &key,
        trigger == Trigger::SpecChanged,
        trigger == Trigger::Requested,
    );
    let end = Ending {
        ctx,
        api,
        link,
        previous: &previous,
        key: &key,
        namespace,
        mode,
        periods,
        failures: memory.map_or(0, |m| m.failures),
    };
    let checks = preflight::Checks {
        link: &settings.link,
        credentials: &credentials,
        credentials_changed,
        periods,
    };
    let checks_started = Instant::now();
    let checked = match preflight::gate(ctx, api, link, checks).await? {
        Gate::Proceed(checked) => checked,
        Gate::Hold(step) => return Ok(step),
        Gate::Failed(err) => return end.failed(err, checks_started.elapsed()).await,
    };

    // Long passes (new spec, a new link, explicit request) show progress; routine polls
    // and retries do not flip Ready back and forth (nor re-announce the same failure).
    let brand_new = !previous
        .conditions
        .iter()
        .any(|c| c.type_ == crate::conditions::READY);
    let announce = matches!(trigger, Trigger::SpecChanged | Trigger::Requested) || brand_new;
    let announced;
    let link = if announce || checked.is_some() {
        let progress = announce.then_some(mode);
        announced = write_before_pass(ctx, api, link, progress, checked, now).await?;
        &announced
    } else {
        link
    };

    let confirmed = confirmation(link, &previous);
    let request = SyncRequest {
        link: settings.link.clone(),
        spec: spec.clone(),
        credentials,
        mode,
        confirmed_deletions: confirmed,
        paused_apis: api_failures::paused(&previous.api_failures, now),
    };
    let pass_started = Instant::now();
    let limit = ctx.settings.pass_timeout;
    let result = tokio::time::timeout(limit, ctx.runner.sync(request))
        .await
        .unwrap_or_else(|_| Err(timed_out(limit)));
    let took = pass_started.elapsed();
    let end = Ending { link, ..end };
    match result {
        Ok(outcome) => end.succeeded(outcome, confirmed, took).await,
        Err(err) => end.failed(err, took).await,
    }
}

/// Writes what is known before the pass in one status write: `Reconciling=True` before a
/// long pass of `progress` mode, the preflight that just passed. Later comparisons and
/// transitions start from the link as the server now holds it.
async fn write_before_pass<R: LinkRunner>(
    ctx: &Context<R>,
    api: &Api<ApiSourceLink>,
    link: &ApiSourceLink,
    progress: Option<PassMode>,
    preflight: Option<PreflightStatus>,
    now: Timestamp,
) -> Result<ApiSourceLink, ReconcileError> {
    let mut next = match progress {
        Some(mode) => {
            let verdict = Verdict::Progressing {
                message: format!(
                    "{} pass in progress",
                    if mode == PassMode::Full {
                        "Full"
                    } else {
                        "Light"
                    }
                ),
            };
            status::next_status(link, &verdict, now, None)
        }
        None => link.status.clone().unwrap_or_default(),
    };
    if preflight.is_some() {
        next.preflight = preflight;
    }
    status::write(api, link, &next, &ctx.settings.field_manager)
        .await
        .map_err(ReconcileError::Status)?;
    Ok(ApiSourceLink {
        status: Some(next),
        ..link.clone()
    })
}

/// What the end of a pass needs, whatever its result.
struct Ending<'a, R> {
    ctx: &'a Context<R>,
    api: &'a Api<ApiSourceLink>,
    /// The link as its status last read (after the progress and preflight write).
    link: &'a ApiSourceLink,
    /// The status at the start of the reconcile.
    previous: &'a ApiSourceLinkStatus,
    key: &'a str,
    namespace: &'a str,
    mode: PassMode,
    periods: Periods,
    /// Consecutive failures before this pass.
    failures: u32,
}

impl<R: LinkRunner> Ending<'_, R> {
    async fn succeeded(
        &self,
        outcome: SyncOutcome,
        confirmed: Option<usize>,
        took: Duration,
    ) -> Result<Step, ReconcileError> {
        let (ctx, mode, periods) = (self.ctx, self.mode, self.periods);
        let name = self.link.name_any();
        let finished = ctx.now();
        info!(mode = mode.as_str(), discovered = outcome.discovered, synced = outcome.synced,
            applied = outcome.operations_applied(), drift = outcome.drift_repaired, took = ?took, "pass succeeded");
        ctx.metrics.pass_succeeded(
            self.namespace,
            &name,
            mode,
            took,
            unix_seconds(finished),
            &outcome,
        );
        if confirmed.is_some() && outcome.held_deletions.is_none() {
            consume_confirmation(self.api, &name).await;
        }
        let failing = api_failures::next(
            &self.previous.api_failures,
            &outcome.api_failures,
            &outcome.paused_apis,
            finished,
        );
        let verdict = match &outcome.held_deletions {
            Some(held) => Verdict::DeletionsHeld {
                message: held.message.clone(),
            },
            None if !failing.is_empty() => Verdict::ApiFailures {
                message: api_failures::message(&failing),
            },
            None => Verdict::Succeeded {
                message: status::success_message(&outcome, mode),
            },
        };
        let success = Some((&outcome, mode));
        let bound = Some(periods.bound());
        report(ctx, self.api, self.link, &verdict, finished, success, bound).await?;
        let last_full = if mode == PassMode::Full {
            finished
        } else {
            self.previous
                .last_full_resync_time
                .as_ref()
                .map_or(finished, |t| t.0)
        };
        let full_due = schedule::full_resync_due(last_full, periods, self.key);
        let seed = u64::try_from(finished.as_nanosecond().rem_euclid(i128::from(u64::MAX)))
            .unwrap_or_default();
        let delay = schedule::after_success(finished, periods, full_due, seed);
        ctx.remember(
            self.key,
            LinkMemory {
                next_pass_at: Some(add(finished, delay)),
                failures: 0,
            },
        );
        Ok(Step::wait(Action::requeue(delay)))
    }

    async fn failed(&self, mut err: RunError, took: Duration) -> Result<Step, ReconcileError> {
        let ctx = self.ctx;
        let finished = ctx.now();
        let failures = self.failures.saturating_add(1);
        ctx.metrics.pass_failed(
            Some(self.mode),
            took,
            &crate::conditions::sanitize_reason(&err.reason),
        );
        warn!(reason = %err.reason, class = ?err.class, failures, error = %err.message, "pass failed");
        if let Some(note) = schedule::wait_cap_note(err.retry_after) {
            err.message = format!("{}; {note}", err.message);
        }
        let verdict = failure_verdict(&err, self.link, self.previous, self.periods, finished);
        let bound = Some(self.periods.bound());
        report(ctx, self.api, self.link, &verdict, finished, None, bound).await?;
        if err.is_terminal() {
            ctx.remember(
                self.key,
                LinkMemory {
                    next_pass_at: None,
                    failures,
                },
            );
            return Ok(Step::failed(Action::await_change(), true));
        }
        let delay = schedule::backoff(failures, err.class, err.retry_after);
        ctx.remember(
            self.key,
            LinkMemory {
                next_pass_at: Some(add(finished, delay)),
                failures,
            },
        );
        Ok(Step::failed(Action::requeue(delay), false))
    }
}

/// The count of held deletions the `apilink.dev/confirm-deletions` annotation confirms:
/// only the number the status shows held counts, so a leftover annotation never releases
/// deletions nobody saw.
fn confirmation(link: &ApiSourceLink, previous: &ApiSourceLinkStatus) -> Option<usize> {
    let held = previous.held_deletions.as_ref()?;
    link.confirmed_deletions()
        .filter(|n| u32::try_from(*n).is_ok_and(|n| n == held.count))
}

/// Removes the confirmation once the deletions it confirmed were made, so it cannot
/// release a later hold nobody has looked at. A failure only costs a warning: the
/// status no longer shows a hold, so the leftover annotation releases nothing.
async fn consume_confirmation(api: &Api<ApiSourceLink>, name: &str) {
    let patch =
        serde_json::json!({"metadata": {"annotations": {CONFIRM_DELETIONS_ANNOTATION: null}}});
    if let Err(err) = api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        warn!(error = %err, "could not remove the {CONFIRM_DELETIONS_ANNOTATION} annotation");
    }
}

/// The verdict after a failed pass: stalled when only the user can clear it (a spec,
/// credential or permission problem — permissions are still probed slowly, see
/// [`schedule::backoff`], because role assignments take minutes to propagate), past
/// the convergence bound when no full pass succeeded in time, else retrying.
fn failure_verdict(
    err: &RunError,
    link: &ApiSourceLink,
    previous: &ApiSourceLinkStatus,
    periods: Periods,
    now: Timestamp,
) -> Verdict {
    if err.class == ErrorClass::NeedsUser {
        return Verdict::Stalled {
            reason: err.reason.clone(),
            message: err.message.clone(),
        };
    }
    let since = previous
        .last_full_resync_time
        .as_ref()
        .map(|t| t.0)
        .or_else(|| link.metadata.creation_timestamp.as_ref().map(|t| t.0));
    if let Some(age) = since.and_then(|since| schedule::bound_exceeded(now, since, periods)) {
        return Verdict::BoundExceeded {
            message: format!(
                "No full pass succeeded for {}s (bound {}s); last error {}: {}",
                age.as_secs(),
                periods.bound().as_secs(),
                err.reason,
                err.message
            ),
        };
    }
    Verdict::Retrying {
        reason: err.reason.clone(),
        message: err.message.clone(),
    }
}
