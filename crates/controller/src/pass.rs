//! A sync pass for a live link, step by step: due → validate → credentials → preflight
//! → run → conclude → report. Each step hands the next what it needs or ends the
//! reconcile with its own [`Step`]. The decisions are pure ([`schedule`],
//! [`crate::validation`], [`preflight`], [`conclusion`]); this module does the I/O.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use apilink_core::LinkSettings;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::ResourceExt;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use tracing::{debug, info, warn};

use crate::api_failures;
use crate::conclusion::{self, Conclusion, PassEnd};
use crate::conditions::{Verdict, reason};
use crate::crd::{
    ApiSourceLink, ApiSourceLinkStatus, CONFIRM_DELETIONS_ANNOTATION, PassMode, PreflightStatus,
};
use crate::preflight::{self, Gate};
use crate::reconcile::{
    Context, ReconcileError, Step, link_key, report, requeue_until, timed_out, unix_seconds,
};
use crate::runner::{Coverage, Credentials, LinkRunner, RunError, SyncOutcome, SyncRequest};
use crate::schedule::{self, Due, DueInput, LinkMemory, Periods, Trigger};
use crate::status;
use crate::validation;

pub(crate) async fn sync<R: LinkRunner>(
    link: &ApiSourceLink,
    ctx: &Context<R>,
    api: &Api<ApiSourceLink>,
    namespace: &str,
) -> Result<Step, ReconcileError> {
    let pass = Pass::start(link, ctx, api, namespace);
    match pass.steps().await {
        Ok(step) | Err(Halt::Done(step)) => Ok(step),
        Err(Halt::Failed(err)) => Err(err),
    }
}

/// Why a pass ends before its last step: a step decided, or the Kubernetes API failed.
enum Halt {
    Done(Step),
    Failed(ReconcileError),
}

impl From<ReconcileError> for Halt {
    fn from(err: ReconcileError) -> Self {
        Halt::Failed(err)
    }
}

/// What every step knows of the link: read once, at the start of the reconcile.
struct Pass<'a, R> {
    ctx: &'a Context<R>,
    api: &'a Api<ApiSourceLink>,
    link: &'a ApiSourceLink,
    namespace: &'a str,
    name: String,
    key: String,
    now: Timestamp,
    /// The status at the start of the reconcile.
    previous: ApiSourceLinkStatus,
    memory: Option<LinkMemory>,
    credentials_changed: bool,
}

/// What the pass (or the preflight standing in for it) came to.
struct Ran {
    result: Result<SyncOutcome, RunError>,
    took: Duration,
    mode: PassMode,
    /// Where the pass's resync window ended (see [`Scope`]).
    window_end: Timestamp,
    periods: Periods,
    confirmed: Option<usize>,
}

/// What a pass re-checks and where its resync window ends.
#[derive(Clone, Copy)]
struct Scope {
    coverage: Coverage,
    /// The pass's start in whole seconds: its window's end, recorded as `lastSyncTime`
    /// when it succeeds.
    window_end: Timestamp,
}

impl<'a, R: LinkRunner> Pass<'a, R> {
    fn start(
        link: &'a ApiSourceLink,
        ctx: &'a Context<R>,
        api: &'a Api<ApiSourceLink>,
        namespace: &'a str,
    ) -> Self {
        let name = link.name_any();
        let key = link_key(link);
        let previous = link.status.clone().unwrap_or_default();
        let memory = ctx.memory(&key);
        if memory.is_none() {
            let resync = apilink_core::duration::parse_duration(&link.spec.link.resync_interval);
            let rechecked = resync.ok().and_then(|resync| {
                schedule::rechecked_since(
                    previous.last_full_resync_time.as_ref().map(|t| t.0),
                    previous.last_sync_time.as_ref().map(|t| t.0),
                    resync,
                )
            });
            ctx.metrics.seed_link_times(
                namespace,
                &name,
                previous.last_sync_time.as_ref().map(|t| unix_seconds(t.0)),
                rechecked.map(unix_seconds),
            );
        }
        let credentials_changed = ctx.take_credentials_changed(&key);
        Self {
            ctx,
            api,
            link,
            namespace,
            name,
            now: ctx.now(),
            key,
            previous,
            memory,
            credentials_changed,
        }
    }

    /// The pass, one step a line; any step may end it early with its own [`Step`].
    async fn steps(&self) -> Result<Step, Halt> {
        let trigger = self.due()?;
        self.unless_suspended().await?;
        let settings = self.validate().await?;
        let periods = Periods {
            interval: settings.interval,
            resync: settings.resync_interval,
        };
        let credentials = self.credentials(&settings, periods).await?;
        let scope = self.scope(trigger, periods);
        let mode = scope.coverage.mode();
        let ran = |result, took, confirmed| Ran {
            result,
            took,
            mode,
            window_end: scope.window_end,
            periods,
            confirmed,
        };
        let started = Instant::now();
        let checked = match self.preflight(&settings, &credentials, periods).await? {
            Ok(checked) => checked,
            Err(err) => {
                let ran = ran(Err(err), started.elapsed(), None);
                return self.conclude(self.link, ran).await;
            }
        };
        let link = self.announce(trigger, mode, checked).await?;
        let confirmed = confirmation(&link, &self.previous);
        let (result, took) = self.run(settings, credentials, scope, confirmed).await;
        self.conclude(&link, ran(result, took, confirmed)).await
    }

    /// Whether a pass is due now, and why.
    fn due(&self) -> Result<Trigger, Halt> {
        let spec = &self.link.spec.link;
        let due = schedule::due(DueInput {
            now: self.now,
            generation: self.link.metadata.generation,
            observed_generation: self.previous.observed_generation,
            requested_at: self.link.requested_at(),
            last_handled_requested_at: self.previous.last_handled_reconcile_at.as_deref(),
            credentials_changed: self.credentials_changed,
            memory: self.memory,
            last_sync: self.previous.last_sync_time.as_ref().map(|t| t.0),
            interval: apilink_core::duration::parse_duration(&spec.interval).ok(),
        });
        match due {
            Due::Never => Err(Halt::Done(Step::wait(Action::await_change()))),
            Due::At(at) => Err(Halt::Done(Step::wait(requeue_until(self.now, at)))),
            Due::Now(trigger) => {
                debug!(?trigger, "pass due");
                Ok(trigger)
            }
        }
    }

    /// A suspended link reports so and waits for a change; Azure is not contacted.
    async fn unless_suspended(&self) -> Result<(), Halt> {
        if !self.link.spec.link.suspend {
            return Ok(());
        }
        let verdict = Verdict::Suspended {
            message: "Reconciliation is suspended (spec.suspend: true); Azure is not contacted"
                .into(),
        };
        report(
            self.ctx, self.api, self.link, &verdict, self.now, None, None,
        )
        .await?;
        self.ctx.remember(&self.key, LinkMemory::until_change());
        info!("link suspended");
        Err(Halt::Done(Step::wait(Action::await_change())))
    }

    /// The link's settings; an invalid spec stalls until it changes.
    async fn validate(&self) -> Result<LinkSettings, Halt> {
        match validation::link_settings(self.namespace, &self.name, &self.link.spec.link) {
            Ok(settings) => Ok(settings),
            Err(invalid) => Err(self
                .stall(reason::INVALID_SPEC, invalid.to_string(), None)
                .await),
        }
    }

    /// The credentials for the pass. A missing, broken or unreadable Secret stalls: it
    /// waits for a change to the Secret, which the reconciler looks for while the link
    /// is stalled.
    async fn credentials(
        &self,
        settings: &LinkSettings,
        periods: Periods,
    ) -> Result<Credentials, Halt> {
        let secret_name = settings
            .credentials
            .as_ref()
            .map(|c| c.secret_ref.name.as_str());
        let read = self.ctx.credentials(&self.key, self.namespace, secret_name);
        match read.await {
            Ok(credentials) => Ok(credentials),
            Err(err) => match err.stall_reason() {
                Some(reason) => Err(self
                    .stall(reason, err.to_string(), Some(periods.bound()))
                    .await),
                None => Err(Halt::Failed(err.into())),
            },
        }
    }

    /// Reports a problem only the user can fix; nothing runs until the link (or its
    /// Secret) changes.
    async fn stall(&self, reason: &str, message: String, bound: Option<Duration>) -> Halt {
        let verdict = Verdict::Stalled {
            reason: reason.to_string(),
            message,
        };
        let reported = report(
            self.ctx, self.api, self.link, &verdict, self.now, None, bound,
        );
        if let Err(err) = reported.await {
            return Halt::Failed(err);
        }
        self.ctx.remember(&self.key, LinkMemory::until_change());
        Halt::Done(Step::failed(Action::await_change(), true))
    }

    /// What the pass re-checks: everything on a new spec, a request or a link's first
    /// pass; otherwise the window since the last successful one ended.
    fn scope(&self, trigger: Trigger, periods: Periods) -> Scope {
        let coverage = schedule::pass_coverage(
            self.now,
            self.previous.last_sync_time.as_ref().map(|t| t.0),
            self.previous.last_full_resync_time.as_ref().map(|t| t.0),
            periods,
            trigger == Trigger::SpecChanged,
            trigger == Trigger::Requested,
        );
        Scope {
            coverage,
            window_end: schedule::window_end(self.now),
        }
    }

    /// The read-only checks, when they are due. `Ok(Some)`: they ran and passed, and the
    /// next status write records them; `Err`: they could not run, which ends the pass
    /// like a failed one.
    async fn preflight(
        &self,
        settings: &LinkSettings,
        credentials: &Credentials,
        periods: Periods,
    ) -> Result<Result<Option<PreflightStatus>, RunError>, Halt> {
        let checks = preflight::Checks {
            settings,
            credentials,
            credentials_changed: self.credentials_changed,
            periods,
        };
        match preflight::gate(self.ctx, self.api, self.link, checks).await? {
            Gate::Proceed(checked) => Ok(Ok(checked)),
            Gate::Hold(step) => Err(Halt::Done(step)),
            Gate::Failed(err) => Ok(Err(err)),
        }
    }

    /// Long passes (new spec, a new link, explicit request) show progress; routine polls
    /// and retries do not flip Ready back and forth (nor re-announce the same failure).
    /// Returns the link as the server now holds it.
    async fn announce(
        &self,
        trigger: Trigger,
        mode: PassMode,
        checked: Option<PreflightStatus>,
    ) -> Result<Cow<'a, ApiSourceLink>, Halt> {
        let brand_new = !self
            .previous
            .conditions
            .iter()
            .any(|c| c.type_ == crate::conditions::READY);
        let announce = matches!(trigger, Trigger::SpecChanged | Trigger::Requested) || brand_new;
        if !announce && checked.is_none() {
            return Ok(Cow::Borrowed(self.link));
        }
        let progress = announce.then_some(mode);
        let written = write_before_pass(self.ctx, self.api, self.link, progress, checked, self.now);
        Ok(Cow::Owned(written.await?))
    }

    /// The runner's pass, bounded: a hung call must not silence the link.
    async fn run(
        &self,
        mut settings: LinkSettings,
        credentials: Credentials,
        scope: Scope,
        confirmed: Option<usize>,
    ) -> (Result<SyncOutcome, RunError>, Duration) {
        settings.confirmed_deletions = confirmed;
        settings.paused_apis = api_failures::paused(&self.previous.api_failures, self.now);
        let request = SyncRequest {
            settings,
            credentials,
            mode: scope.coverage.mode(),
            window: scope.coverage.window().copied(),
        };
        let started = Instant::now();
        let limit = self.ctx.settings.pass_timeout;
        let result = tokio::time::timeout(limit, self.ctx.runner.sync(request))
            .await
            .unwrap_or_else(|_| Err(timed_out(limit)));
        (result, started.elapsed())
    }

    /// Concludes the pass and reports it: metrics, the confirmation, status and events,
    /// and the link's memory. `link` is the link as its status last read.
    async fn conclude(&self, link: &ApiSourceLink, ran: Ran) -> Result<Step, Halt> {
        let ctx = self.ctx;
        let finished = ctx.now();
        let end = PassEnd {
            mode: ran.mode,
            periods: ran.periods,
            now: finished,
            window_end: ran.window_end,
            failures: self.memory.map_or(0, |m| m.failures),
            last_sync: self.previous.last_sync_time.as_ref().map(|t| t.0),
            last_full_resync: self.previous.last_full_resync_time.as_ref().map(|t| t.0),
            created: link.metadata.creation_timestamp.as_ref().map(|t| t.0),
            api_failures: &self.previous.api_failures,
            confirmed_deletions: ran.confirmed,
        };
        let conclusion = conclusion::conclude(ran.result.as_ref(), &end);
        self.record(&ran, &conclusion, finished);
        if conclusion.consume_confirmation {
            consume_confirmation(self.api, &self.name).await;
        }
        let success = ran.result.as_ref().ok().map(|outcome| status::Synced {
            outcome,
            mode: ran.mode,
            window_end: ran.window_end,
        });
        let bound = Some(ran.periods.bound());
        report(
            ctx,
            self.api,
            link,
            &conclusion.verdict,
            finished,
            success,
            bound,
        )
        .await?;
        ctx.remember(&self.key, conclusion.memory);
        Ok(step(&conclusion))
    }

    /// The pass's log line and metrics.
    fn record(&self, ran: &Ran, conclusion: &Conclusion, finished: Timestamp) {
        let (mode, took) = (ran.mode, ran.took);
        match &ran.result {
            Ok(outcome) => {
                info!(mode = mode.as_str(), discovered = outcome.discovered, synced = outcome.synced,
                    applied = outcome.operations_applied(), drift = outcome.drift_repaired, took = ?took, "pass succeeded");
                let finished = unix_seconds(finished);
                let metrics = &self.ctx.metrics;
                metrics.pass_succeeded(self.namespace, &self.name, mode, took, finished, outcome);
                if let Some(since) = self.rechecked_since(mode, ran.window_end, ran.periods) {
                    metrics.rechecked_since(self.namespace, &self.name, unix_seconds(since));
                }
            }
            Err(err) => {
                let reason = crate::conditions::sanitize_reason(&err.reason);
                self.ctx.metrics.pass_failed(Some(mode), took, &reason);
                let failures = conclusion.memory.failures;
                warn!(reason = %err.reason, class = ?err.class, failures, error = %err.message, "pass failed");
            }
        }
    }
}

impl<R> Pass<'_, R> {
    /// After a successful pass of `mode` whose window ended at `window_end`: the time
    /// since which every definition has been re-checked.
    fn rechecked_since(
        &self,
        mode: PassMode,
        window_end: Timestamp,
        periods: Periods,
    ) -> Option<Timestamp> {
        let last_full = match mode {
            PassMode::Full => Some(window_end),
            PassMode::Light => self.previous.last_full_resync_time.as_ref().map(|t| t.0),
        };
        schedule::rechecked_since(last_full, Some(window_end), periods.resync)
    }
}

/// The reconcile's step after `conclusion`.
fn step(conclusion: &Conclusion) -> Step {
    let action = conclusion
        .requeue
        .map_or_else(Action::await_change, Action::requeue);
    if conclusion.failed {
        Step::failed(action, conclusion.requeue.is_none())
    } else {
        Step::wait(action)
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
