//! One reconcile of one link: finalizer, schedule, suspend, validation, credentials, the
//! runner call, status, events and metrics. Decisions are delegated to the pure modules
//! (`schedule`, `conditions`, `events`, `status`, `scope`); this module only does the I/O.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use apilink_core::ErrorClass;
use apilink_core::spec::DeletionPolicy;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::conditions::{STALLED, TRUE, Verdict};
use crate::crd::ApiSourceLink;
use crate::credentials::{self, CredentialError, SecretState};
use crate::events::{self, EventSpec, Severity};
use crate::finalizer::{self, FinalizerError, Stage};
use crate::metrics::{Metrics, ReconcileResult};
use crate::runner::{Credentials, LinkRunner};
use crate::schedule::{self, LinkMemory};
use crate::scope::{self, Decision, TenantScopes};
use crate::status;

/// Field manager of the controller's status applies.
pub const FIELD_MANAGER: &str = "apilink-controller";

/// The clock, injectable so tests can move time.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// Errors that abort a reconcile (Kubernetes API trouble); Azure trouble is not an
/// error here: it is reported in the status and retried on the link's own schedule.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("the ApiSourceLink has no namespace")]
    NoNamespace,
    #[error("writing status: {0}")]
    Status(#[source] kube::Error),
    #[error(transparent)]
    Finalizer(#[from] FinalizerError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
}

/// Settings of the reconciler.
#[derive(Debug, Clone)]
pub struct ReconcileSettings {
    pub field_manager: String,
    /// Namespaces whose links are served; `None` serves every namespace.
    pub allowed_namespaces: Option<BTreeSet<String>>,
    /// Longest a pass or cleanup may take before it is abandoned and retried: a hung
    /// call must not silence a link for good.
    pub pass_timeout: Duration,
    /// Azure resources each namespace's links may read and write; default: any.
    pub tenant_scopes: TenantScopes,
    /// Run the read-only preflight checks before a link's first pass of each generation
    /// (and after its credentials change); see [`crate::preflight`].
    pub preflight: bool,
}

/// Default [`ReconcileSettings::pass_timeout`].
pub const DEFAULT_PASS_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The error a pass or cleanup that ran out of time reports.
pub(crate) fn timed_out(after: Duration) -> crate::runner::RunError {
    crate::runner::RunError::new(
        ErrorClass::RetrySlow,
        "PassTimeout",
        format!(
            "the pass did not finish within {}s and was abandoned",
            after.as_secs()
        ),
    )
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        Self {
            field_manager: FIELD_MANAGER.to_string(),
            allowed_namespaces: None,
            pass_timeout: DEFAULT_PASS_TIMEOUT,
            tenant_scopes: TenantScopes::unrestricted(),
            preflight: true,
        }
    }
}

/// Shared state of all reconciles.
pub struct Context<R> {
    pub client: Client,
    pub runner: Arc<R>,
    pub metrics: Metrics,
    pub recorder: Recorder,
    pub settings: ReconcileSettings,
    clock: Clock,
    memory: Mutex<HashMap<String, LinkMemory>>,
    credential_changes: Mutex<HashSet<String>>,
    /// Per link, its Secret as the last pass read it: a link waiting after a failure
    /// compares the Secret against it.
    secrets_seen: Mutex<HashMap<String, SecretState>>,
    /// Per link, the preflight that passed in this process (lost on restart: the checks
    /// then run again before the next pass).
    preflights: Mutex<HashMap<String, crate::preflight::Passed>>,
}

impl<R: LinkRunner> Context<R> {
    pub fn new(
        client: Client,
        runner: Arc<R>,
        metrics: Metrics,
        recorder: Recorder,
        settings: ReconcileSettings,
    ) -> Self {
        Self {
            client,
            runner,
            metrics,
            recorder,
            settings,
            clock: Arc::new(Timestamp::now),
            memory: Mutex::default(),
            credential_changes: Mutex::default(),
            secrets_seen: Mutex::default(),
            preflights: Mutex::default(),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn now(&self) -> Timestamp {
        (self.clock)()
    }

    pub(crate) fn memory(&self, key: &str) -> Option<LinkMemory> {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .copied()
    }

    pub(crate) fn remember(&self, key: &str, memory: LinkMemory) {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_string(), memory);
    }

    pub(crate) fn forget(&self, key: &str) {
        self.memory
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        self.secrets_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        self.remember_preflight(key, None);
    }

    pub(crate) fn preflight_passed(&self, key: &str) -> Option<crate::preflight::Passed> {
        self.preflights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Remembers the preflight that passed for the link `key`; `None` forgets it.
    pub(crate) fn remember_preflight(&self, key: &str, passed: Option<crate::preflight::Passed>) {
        let mut preflights = self
            .preflights
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match passed {
            Some(passed) => preflights.insert(key.to_string(), passed),
            None => preflights.remove(key),
        };
    }

    /// Reads the credentials of the link `key` for a pass and remembers what its Secret
    /// looked like, so a later change is noticed without a watch.
    pub(crate) async fn credentials(
        &self,
        key: &str,
        namespace: &str,
        secret_name: Option<&str>,
    ) -> Result<Credentials, CredentialError> {
        let read = credentials::read(&self.client, namespace, secret_name).await;
        if let Some(state) = read.state {
            let previous = self
                .secrets_seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.to_string(), state.clone());
            if previous.is_some_and(|p| p != state) {
                info!("the credentials Secret changed since the last pass; the new value is used");
            }
        }
        read.result
    }

    fn secret_seen(&self, key: &str) -> Option<SecretState> {
        self.secrets_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Marks the link `namespace/name` for a pass because its Secret changed.
    pub fn credentials_changed(&self, key: String) {
        self.credential_changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key);
    }

    pub(crate) fn take_credentials_changed(&self, key: &str) -> bool {
        self.credential_changes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key)
    }

    pub fn namespace_allowed(&self, namespace: &str) -> bool {
        self.settings
            .allowed_namespaces
            .as_ref()
            .is_none_or(|set| set.contains(namespace))
    }
}

/// What a reconcile did, for the metrics.
pub(crate) struct Step {
    action: Action,
    result: ReconcileResult,
    terminal: bool,
}

impl Step {
    pub(crate) fn wait(action: Action) -> Self {
        let result = if action == Action::await_change() {
            ReconcileResult::Success
        } else {
            ReconcileResult::RequeueAfter
        };
        Self {
            action,
            result,
            terminal: false,
        }
    }

    pub(crate) fn failed(action: Action, terminal: bool) -> Self {
        Self {
            action,
            result: ReconcileResult::Error,
            terminal,
        }
    }
}

pub(crate) fn requeue_until(now: Timestamp, at: Timestamp) -> Action {
    let wait: Duration = now.duration_until(at).try_into().unwrap_or(Duration::ZERO);
    Action::requeue(wait.max(Duration::from_secs(1)))
}

pub(crate) fn unix_seconds(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

/// The reconcile function given to kube's `Controller`.
pub async fn reconcile<R: LinkRunner>(
    link: Arc<ApiSourceLink>,
    ctx: Arc<Context<R>>,
) -> Result<Action, ReconcileError> {
    let started = Instant::now();
    let _worker = ctx.metrics.worker();
    let span = info_span!(
        "reconcile",
        namespace = link.namespace().as_deref().unwrap_or(""),
        name = %link.name_any(),
        generation = link.metadata.generation.unwrap_or_default(),
    );
    let result = reconcile_link(&link, &ctx).instrument(span).await;
    match result {
        Ok(step) => {
            ctx.metrics
                .reconciled(step.result, started.elapsed(), step.terminal);
            Ok(step.action)
        }
        Err(err) => {
            ctx.metrics
                .reconciled(ReconcileResult::Error, started.elapsed(), false);
            Err(err)
        }
    }
}

/// What kube's `Controller` does after a reconcile error (Kubernetes API trouble):
/// back off per link.
pub fn error_policy<R: LinkRunner>(
    link: Arc<ApiSourceLink>,
    error: &ReconcileError,
    ctx: Arc<Context<R>>,
) -> Action {
    let key = link_key(&link);
    let mut memory = ctx.memory(&key).unwrap_or_default();
    memory.failures = memory.failures.saturating_add(1);
    let delay = schedule::backoff(memory.failures, ErrorClass::RetryFast, None);
    // The requeued reconcile must run, whatever the schedule said before the error.
    memory.next_pass_at = Some(ctx.now());
    ctx.remember(&key, memory);
    warn!(link = %key, error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

pub(crate) fn link_key(link: &ApiSourceLink) -> String {
    key(&link.namespace().unwrap_or_default(), &link.name_any())
}

/// The key a link's memory is kept under: `namespace/name`.
pub(crate) fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

async fn reconcile_link<R: LinkRunner>(
    link: &ApiSourceLink,
    ctx: &Context<R>,
) -> Result<Step, ReconcileError> {
    let namespace = link.namespace().ok_or(ReconcileError::NoNamespace)?;
    if !ctx.namespace_allowed(&namespace) {
        debug!("namespace not served by this controller");
        return Ok(Step::wait(Action::await_change()));
    }
    let api: Api<ApiSourceLink> = Api::namespaced(ctx.client.clone(), &namespace);
    let stage = finalizer::stage(link);
    if let Some(step) = enforce_tenant_scope(link, ctx, &api, &namespace, stage).await? {
        return Ok(step);
    }
    match stage {
        Stage::NeedsFinalizer => {
            finalizer::add(&api, link).await?;
            debug!("finalizer added");
            // The patch wakes the controller again with the updated object.
            Ok(Step::wait(Action::await_change()))
        }
        Stage::Released => {
            forget(ctx, link, &namespace);
            Ok(Step::wait(Action::await_change()))
        }
        Stage::Deleting { finalizer_index } => {
            crate::cleanup::cleanup(link, ctx, &api, &namespace, finalizer_index).await
        }
        Stage::Live => {
            notice_secret_change(link, ctx, &namespace).await;
            let step = crate::pass::sync(link, ctx, &api, &namespace).await?;
            Ok(recheck_secret_while_waiting(link, ctx, step))
        }
    }
}

/// Stops a link whose source or target lies outside its namespace's tenant scope before
/// anything reads its Secret or calls Azure: a live link is `Stalled` (`ScopeNotAllowed`)
/// until its spec (or the controller's configuration) changes; a deleting one is let go
/// without the cleanup, whose deletes would be writes outside the scope. `None`: go on.
async fn enforce_tenant_scope<R: LinkRunner>(
    link: &ApiSourceLink,
    ctx: &Context<R>,
    api: &Api<ApiSourceLink>,
    namespace: &str,
    stage: Stage,
) -> Result<Option<Step>, ReconcileError> {
    let spec = &link.spec.link;
    // A suspended link does nothing in Azure; it reports `Suspended` as before.
    if spec.suspend {
        return Ok(None);
    }
    let message = match ctx.settings.tenant_scopes.check(
        namespace,
        &spec.source.apim_resource_id,
        &spec.target.api_center_resource_id,
    ) {
        Decision::Allowed => return Ok(None),
        Decision::Denied { message } => message,
    };
    let key = link_key(link);
    match stage {
        Stage::Live => {
            let stalled = ctx.memory(&key).is_some_and(|m| m.next_pass_at.is_none());
            let current = link.status.as_ref().is_some_and(|s| {
                s.observed_generation == link.metadata.generation
                    && link.requested_at() == s.last_handled_reconcile_at.as_deref()
            });
            let said = link
                .condition(STALLED)
                .is_some_and(|c| c.reason == scope::SCOPE_NOT_ALLOWED && c.message == message);
            // Its own status write wakes the link again: say it once.
            if !(stalled && current && said) {
                warn!(%message, "link outside its tenant scope");
                let verdict = Verdict::Stalled {
                    reason: scope::SCOPE_NOT_ALLOWED.to_string(),
                    message,
                };
                report(ctx, api, link, &verdict, ctx.now(), None, None).await?;
                ctx.remember(&key, LinkMemory::until_change());
            }
            Ok(Some(Step::failed(Action::await_change(), true)))
        }
        Stage::Deleting { finalizer_index } if spec.deletion_policy == DeletionPolicy::Delete => {
            let why = format!("{message}; the cleanup is skipped and API Center is left as it is");
            finalizer::remove(api, link, finalizer_index).await?;
            info!(%why, "finalizer released");
            publish(ctx, link, vec![events::for_orphan(&why)]).await;
            forget(ctx, link, namespace);
            Ok(Some(Step::wait(Action::await_change())))
        }
        _ => Ok(None),
    }
}

/// The Secret a live, unsuspended link names.
fn secret_name(link: &ApiSourceLink) -> Option<&str> {
    let spec = &link.spec.link;
    if spec.suspend {
        return None;
    }
    spec.credentials
        .as_ref()
        .map(|c| c.secret_ref.name.as_str())
}

/// How long the link waits for its next pass because of a failure: `None` when it is
/// healthy (its next pass reads the Secret anyway) or a pass is due now; `Some(None)`
/// when it is stalled until something changes.
fn waiting_after_failure<R: LinkRunner>(ctx: &Context<R>, key: &str) -> Option<Option<Duration>> {
    let memory = ctx.memory(key)?;
    match memory.next_pass_at {
        None => Some(None),
        Some(_) if memory.failures == 0 => None,
        Some(at) => {
            let wait: Duration = ctx.now().duration_until(at).try_into().ok()?;
            (!wait.is_zero()).then_some(Some(wait))
        }
    }
}

/// A link that failed waits (stalled, or backing off for minutes after an
/// authentication error), and a new Secret - created, fixed, rotated or made readable -
/// is worth a pass at once. With no watch on Secrets, the Secret's metadata is compared
/// with what the last pass read.
async fn notice_secret_change<R: LinkRunner>(
    link: &ApiSourceLink,
    ctx: &Context<R>,
    namespace: &str,
) {
    let key = link_key(link);
    let Some(name) = secret_name(link) else {
        return;
    };
    if waiting_after_failure(ctx, &key).is_none() {
        return;
    }
    let Some(now) = credentials::observe(&ctx.client, namespace, name).await else {
        return;
    };
    if ctx.secret_seen(&key).as_ref() != Some(&now) {
        info!(
            secret = name,
            "the credentials Secret changed: running a pass"
        );
        ctx.credentials_changed(key);
    }
}

/// Longest a failed link that uses a Secret waits before looking at the Secret again.
pub const SECRET_RECHECK_CAP: Duration = Duration::from_secs(30);

/// A failed link that uses a Secret comes back after its interval (at most
/// [`SECRET_RECHECK_CAP`]) to look at the Secret, rather than after a long backoff or
/// never; a link without a Secret waits for a change of its own.
fn recheck_secret_while_waiting<R: LinkRunner>(
    link: &ApiSourceLink,
    ctx: &Context<R>,
    step: Step,
) -> Step {
    if secret_name(link).is_none() {
        return step;
    }
    let Some(wait) = waiting_after_failure(ctx, &link_key(link)) else {
        return step;
    };
    let interval = apilink_core::duration::parse_duration(&link.spec.link.interval)
        .unwrap_or(SECRET_RECHECK_CAP);
    let recheck = interval.min(SECRET_RECHECK_CAP).max(Duration::from_secs(1));
    if wait.is_some_and(|w| w <= recheck) {
        return step;
    }
    Step {
        action: Action::requeue(recheck),
        ..step
    }
}

pub(crate) fn cleanup_key(link: &ApiSourceLink) -> String {
    format!("{}#cleanup", link_key(link))
}

pub(crate) fn forget<R: LinkRunner>(ctx: &Context<R>, link: &ApiSourceLink, namespace: &str) {
    ctx.forget(&link_key(link));
    ctx.forget(&cleanup_key(link));
    ctx.metrics.forget_link(namespace, &link.name_any());
}

pub(crate) async fn publish<R: LinkRunner>(
    ctx: &Context<R>,
    link: &ApiSourceLink,
    specs: Vec<EventSpec>,
) {
    let reference = link.object_ref(&());
    for spec in specs {
        let event = Event {
            type_: match spec.severity {
                Severity::Normal => EventType::Normal,
                Severity::Warning => EventType::Warning,
            },
            reason: spec.reason,
            note: Some(spec.note),
            action: spec.action.to_string(),
            secondary: None,
        };
        // An event is a courtesy: failing to publish one must not fail the reconcile.
        if let Err(err) = ctx.recorder.publish(&event, &reference).await {
            warn!(error = %err, reason = %event.reason, "publishing event failed");
        }
    }
}

/// Writes the status for `verdict`, emits the events it implies and updates the link
/// gauges.
pub(crate) async fn report<R: LinkRunner>(
    ctx: &Context<R>,
    api: &Api<ApiSourceLink>,
    link: &ApiSourceLink,
    verdict: &Verdict,
    now: Timestamp,
    success: Option<status::Synced<'_>>,
    bound: Option<Duration>,
) -> Result<(), ReconcileError> {
    let next = status::next_status(link, verdict, now, success);
    status::write(api, link, &next, &ctx.settings.field_manager)
        .await
        .map_err(ReconcileError::Status)?;
    let previous = link
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let specs = events::for_sync(
        previous,
        &next.conditions,
        verdict,
        success.map(|s| s.outcome),
    );
    publish(ctx, link, specs).await;
    let ready = next
        .conditions
        .iter()
        .any(|c| c.type_ == crate::conditions::READY && c.status == TRUE);
    let stalled = next.conditions.iter().any(|c| c.type_ == STALLED);
    ctx.metrics.link_state(
        &link.namespace().unwrap_or_default(),
        &link.name_any(),
        ready,
        stalled,
        bound,
    );
    Ok(())
}

pub(crate) use crate::schedule::add;
