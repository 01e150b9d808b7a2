//! The engine: one sync pass (observe → plan → apply → report), a dry run of it, and
//! the cleanup of everything a link owns.

use std::time::{Instant, SystemTime};

use apilink_core::guard::guard_deletions;
use apilink_core::planner::{owned_api_count, owned_api_names};
use apilink_core::{Coverage, LinkSettings, Plan, cleanup_plan, plan};
use tracing::Instrument;

use crate::apply::Applier;
use crate::azure_side::{AzureSide, LinkTarget};
use crate::budget::WriteGate;
use crate::error::{PassError, PassPhase};
use crate::held_exports::HeldExports;
use crate::metadata::{VerifiedSchemas, prepare};
use crate::observe::{Observation, observe, read_apic, read_wanted_details};
use crate::options::EngineOptions;
use crate::preflight::remove_probe_leftovers;

/// The reason of a write whose answer lacked the ownership record it carried.
const CUSTOM_PROPERTY_DROPPED: &str = "CustomPropertyDropped";
use crate::progress::ProgressEvent;
use crate::report::{
    ArmCalls, CleanupReport, OperationFailure, PassKind, PassMode, PassReport, Tallies,
};

/// Runs passes for links through one Azure side. Cheap to share: every method takes
/// `&self`, so one engine can serve many links at once.
pub struct Engine<A> {
    azure: A,
    options: EngineOptions,
    verified_schemas: VerifiedSchemas,
}

impl<A: AzureSide> Engine<A> {
    pub fn new(azure: A, options: EngineOptions) -> Self {
        Self {
            azure,
            options,
            verified_schemas: VerifiedSchemas::default(),
        }
    }

    pub fn azure(&self) -> &A {
        &self.azure
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    fn finished(&self) {
        if let Some(progress) = &self.options.progress {
            progress.event(ProgressEvent::Finished);
        }
    }

    /// One sync pass: makes the link's API Center content reflect APIM. `coverage` says
    /// what it re-checks besides what changed: a [`PassMode`] (light: nothing more;
    /// full: everything) or a light poll's resync window ([`Coverage::Window`]). `Ok`
    /// means everything planned was applied (or deferred by the write budget, see
    /// [`PassReport::is_complete`]); `Err` carries the classified reason and, from
    /// the apply phase on, the report of what was done.
    pub async fn sync_pass(
        &self,
        settings: &LinkSettings,
        coverage: impl Into<Coverage>,
    ) -> Result<PassReport, PassError> {
        let coverage = coverage.into();
        let span = tracing::info_span!("sync_pass", link = %settings.link,
            mode = coverage.mode().as_str(), window = %window_label(&coverage));
        let result = self
            .run_sync(settings, coverage, false)
            .instrument(span)
            .await;
        self.finished();
        result
    }

    /// Observes and plans like [`Engine::sync_pass`] but writes nothing; the plan is in
    /// [`PassReport::plan`]. A `Full` dry run reads every owned entity, so updates come
    /// with field-level diffs.
    pub async fn plan_only(
        &self,
        settings: &LinkSettings,
        coverage: impl Into<Coverage>,
    ) -> Result<PassReport, PassError> {
        let coverage = coverage.into();
        let span = tracing::info_span!("plan", link = %settings.link,
            mode = coverage.mode().as_str(), window = %window_label(&coverage));
        let result = self
            .run_sync(settings, coverage, true)
            .instrument(span)
            .await;
        self.finished();
        result
    }

    async fn run_sync(
        &self,
        settings: &LinkSettings,
        coverage: Coverage,
        dry_run: bool,
    ) -> Result<PassReport, PassError> {
        let started = Instant::now();
        let before = self.azure.call_counts();
        let target = LinkTarget::from(settings);
        let mode = coverage.mode();
        let mut observation =
            observe(&self.azure, &target, settings, &self.options, coverage).await?;
        let observed = started.elapsed();

        let planning = Instant::now();
        let mut plan = plan(
            settings,
            &observation.desired,
            &observation.exports,
            &observation.apic,
        );
        hold_deletions(&mut plan, settings, &observation);
        let planned = planning.elapsed();
        tracing::debug!(operations = plan.operations.len(), "planned");

        let mut report = sync_report(settings, mode, &mut observation, &mut plan);
        report.durations.observe = observed;
        report.durations.plan = planned;

        let gate = WriteGate::new(self.options.write_budget);
        report.created_metadata_schema = self
            .prepare_metadata(&target, settings, &plan, dry_run, &gate)
            .await?;
        if dry_run {
            return Ok(self.dry_run_report(report, plan, &before, started));
        }

        // Applying reads every entity again: what planning read of APIM and of the
        // APIs' children is not kept while the plan runs.
        drop(observation.desired);
        drop(observation.exports);
        observation.apic.details.clear();
        let environment_failed = self
            .apply(
                &target,
                settings,
                &observation.contents,
                &gate,
                &plan,
                &mut report,
            )
            .await;
        // Scheduled polls and full resyncs, not one-off light passes, sweep the scratch
        // APIs of killed write probes (from the API list already read).
        if coverage.is_resync() {
            remove_probe_leftovers(
                &self.azure,
                &target,
                &observation.apic.apis,
                SystemTime::now(),
            )
            .await;
        }
        self.close(&mut report, &before, started);
        sync_outcome(report, environment_failed)
    }

    /// Checks the metadata schemas the plan's creates must satisfy, creating the one that
    /// declares the ownership record when it is missing; returns the schema it created.
    async fn prepare_metadata(
        &self,
        target: &LinkTarget,
        settings: &LinkSettings,
        plan: &Plan,
        dry_run: bool,
        gate: &WriteGate,
    ) -> Result<Option<String>, PassError> {
        let metadata = prepare(
            &self.azure,
            target,
            settings,
            plan,
            dry_run,
            &self.verified_schemas,
            gate,
        )
        .await?;
        Ok(metadata.created_schema)
    }

    /// Applies the plan and adds what happened to the report; returns whether the
    /// environment failed (then nothing after it ran).
    async fn apply(
        &self,
        target: &LinkTarget,
        settings: &LinkSettings,
        contents: &HeldExports,
        gate: &WriteGate,
        plan: &Plan,
        report: &mut PassReport,
    ) -> bool {
        let applying = Instant::now();
        let applier = Applier {
            azure: &self.azure,
            target,
            link: &settings.link,
            shares_apis: settings.shares_apis(),
            contents,
            gate,
            progress: self.options.progress.as_deref(),
            concurrency: self.options.concurrency,
        };
        let applied = applier.run(&plan.operations).await;
        report.durations.apply = applying.elapsed();
        report.operations = applied.tallies.into_rows();
        report.imports = applied.imports;
        report.failures.extend(applied.failures);
        // A dropped ownership record means the schema that declares it is gone: the
        // next pass looks for it again and recreates it.
        if report
            .failures
            .iter()
            .any(|f| f.reason == CUSTOM_PROPERTY_DROPPED)
        {
            self.verified_schemas.forget(&target.api_center.to_string());
        }
        applied.environment_failed
    }

    /// Ends a dry run: the plan goes into the report, tallied as planned.
    fn dry_run_report(
        &self,
        mut report: PassReport,
        plan: Plan,
        before: &apilink_azure::ArmCallCounts,
        started: Instant,
    ) -> PassReport {
        let mut tallies = Tallies::default();
        for op in &plan.operations {
            tallies.planned(op.entity(), op.action());
        }
        report.operations = tallies.into_rows();
        report.dry_run = true;
        report.plan = Some(plan);
        self.close(&mut report, before, started);
        report
    }

    fn close(
        &self,
        report: &mut PassReport,
        before: &apilink_azure::ArmCallCounts,
        started: Instant,
    ) {
        report.arm = ArmCalls::between(before, &self.azure.call_counts());
        report.durations.total = started.elapsed();
        tracing::info!(
            summary = %report.summary_line(),
            warnings = report.warnings.len(),
            drift = report.drift.len(),
            "pass finished"
        );
    }

    /// Removes everything the link owns (its APIs with their children, then its
    /// environment), as the finalizer and `apilink delete` do. Nothing is removed under
    /// `deletionPolicy: Orphan`. Running it again after a partial failure removes what
    /// is left. `dry_run`: only plan (the plan is in [`PassReport::plan`]).
    pub async fn cleanup(
        &self,
        settings: &LinkSettings,
        dry_run: bool,
    ) -> Result<CleanupReport, PassError> {
        let span = tracing::info_span!("cleanup", link = %settings.link, dry_run);
        let result = self.run_cleanup(settings, dry_run).instrument(span).await;
        self.finished();
        result
    }

    async fn run_cleanup(
        &self,
        settings: &LinkSettings,
        dry_run: bool,
    ) -> Result<CleanupReport, PassError> {
        let started = Instant::now();
        let before = self.azure.call_counts();
        let target = LinkTarget::from(settings);
        let mut apic = read_apic(&self.azure, &target, settings).await?;
        if settings.shares_apis() {
            // What other links still use of a shared API shows in its deployments.
            let owned = owned_api_names(settings, &apic);
            apic.details = read_wanted_details(&self.azure, &target, &self.options, owned).await?;
        }
        let plan = cleanup_plan(settings, &apic);
        let mut report = PassReport::new(settings.link.to_string(), PassKind::Cleanup);
        report.durations.observe = started.elapsed();
        if dry_run {
            return Ok(self.dry_run_report(report, plan, &before, started));
        }
        let applying = Instant::now();
        let gate = WriteGate::new(self.options.write_budget);
        let contents = Default::default();
        let applier = Applier {
            azure: &self.azure,
            target: &target,
            link: &settings.link,
            shares_apis: settings.shares_apis(),
            contents: &contents,
            gate: &gate,
            progress: self.options.progress.as_deref(),
            concurrency: self.options.concurrency,
        };
        let applied = applier.run(&plan.operations).await;
        report.durations.apply = applying.elapsed();
        report.operations = applied.tallies.into_rows();
        report.failures = applied.failures;
        self.close(&mut report, &before, started);
        if !report.failures.is_empty() {
            return Err(PassError::from_failures(PassPhase::Cleanup, report));
        }
        Ok(report)
    }
}

/// A light poll's resync window for the logs: its length and end (Unix seconds).
fn window_label(coverage: &Coverage) -> String {
    coverage.window().map_or_else(
        || "-".to_string(),
        |w| {
            let end = w
                .end()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            format!("{}s to {}", w.length().as_secs(), end.as_secs())
        },
    )
}

/// Takes the operations of the APIs the caller asked to leave alone this pass (they
/// failed before and are backing off) out of the plan; returns those present.
fn pause_apis(plan: &mut Plan, settings: &LinkSettings) -> Vec<String> {
    if settings.paused_apis.is_empty() {
        return Vec::new();
    }
    let mut paused = std::collections::BTreeSet::new();
    plan.operations.retain(|op| match op.api() {
        Some(api) if settings.paused_apis.contains(api) => {
            paused.insert(api.to_string());
            false
        }
        _ => true,
    });
    paused.into_iter().collect()
}

/// Takes the deletions the guard holds out of the plan (see [`guard_deletions`]).
fn hold_deletions(plan: &mut Plan, settings: &LinkSettings, observation: &Observation) {
    plan.held = guard_deletions(
        plan,
        settings,
        owned_api_count(settings, &observation.apic),
        observation.desired.apim_apis_listed,
    );
}

/// The report of a sync pass as far as observing and planning tell; takes the paused
/// APIs' operations out of the plan.
fn sync_report(
    settings: &LinkSettings,
    mode: PassMode,
    observation: &mut Observation,
    plan: &mut Plan,
) -> PassReport {
    let mut report = PassReport::new(settings.link.to_string(), PassKind::Sync(mode));
    report.apis = plan.counts;
    report.details_read = observation.details_read;
    report.exports = observation.exported;
    report.drift = plan.drift.clone();
    report.warnings = plan.warnings.clone();
    report.failures = std::mem::take(&mut observation.failures);
    report.held_deletions = plan.held.clone();
    report.paused_apis = pause_apis(plan, settings);
    if let Some(held) = &plan.held {
        tracing::warn!(held = held.count(), "{held}");
    }
    report
}

/// The result of an applied sync pass.
fn sync_outcome(report: PassReport, environment_failed: bool) -> Result<PassReport, PassError> {
    for drift in &report.drift {
        tracing::info!(path = %drift.path, kind = ?drift.kind, "drift repaired");
    }
    if environment_failed {
        return Err(PassError::from_failures(PassPhase::Environment, report));
    }
    // Failures confined to one API each leave the pass successful: the caller reports
    // them per API and backs off on those APIs alone.
    if !report
        .failures
        .iter()
        .all(OperationFailure::is_confined_to_its_api)
    {
        return Err(PassError::from_failures(PassPhase::Apply, report));
    }
    Ok(report)
}
