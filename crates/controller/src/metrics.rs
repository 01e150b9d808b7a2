//! Prometheus metrics: controller-runtime's names (dashboards already use them) plus
//! `apilink_` domain metrics. Labels come from fixed sets or from link identity (links
//! are few); API names never become labels.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::crd::PassMode;
use crate::runner::{CleanupOutcome, SyncOutcome};

/// Value of the `controller` label, as controller-runtime names its controllers.
pub const CONTROLLER: &str = "apisourcelink";

/// Result label of `controller_runtime_reconcile_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileResult {
    Success,
    Error,
    Requeue,
    RequeueAfter,
}

impl ReconcileResult {
    pub fn as_str(self) -> &'static str {
        match self {
            ReconcileResult::Success => "success",
            ReconcileResult::Error => "error",
            ReconcileResult::Requeue => "requeue",
            ReconcileResult::RequeueAfter => "requeue_after",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("metric registration failed: {0}")]
    Prometheus(#[from] prometheus::Error),
    #[error("metrics are not UTF-8: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}

/// All metrics of the process, registered in one registry served on `/metrics`.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    runtime: RuntimeMetrics,
    links: LinkMetrics,
    passes: PassMetrics,
    azure: AzureMetrics,
}

const LINK: &[&str] = &["namespace", "name"];
const RECONCILE_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
const SYNC_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
const AZURE_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

impl Metrics {
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let r = Registrar(&registry);
        let runtime = RuntimeMetrics::register(&r)?;
        let links = LinkMetrics::register(&r)?;
        let passes = PassMetrics::register(&r)?;
        let azure = AzureMetrics::register(&r)?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Self {
            registry,
            runtime,
            links,
            passes,
            azure,
        })
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8(buffer)?)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn set_max_concurrent_reconciles(&self, n: u16) {
        self.runtime
            .max_concurrent_reconciles
            .with_label_values(&[CONTROLLER])
            .set(i64::from(n));
    }

    pub fn set_leader(&self, leading: bool) {
        self.runtime
            .leader
            .with_label_values(&[CONTROLLER])
            .set(i64::from(leading));
    }

    /// Counts a reconcile in flight until the guard drops.
    pub fn worker(&self) -> WorkerGuard {
        let gauge = self.runtime.active_workers.with_label_values(&[CONTROLLER]);
        gauge.inc();
        WorkerGuard { gauge }
    }

    pub fn reconciled(&self, result: ReconcileResult, took: Duration, terminal: bool) {
        self.runtime
            .reconcile_total
            .with_label_values(&[CONTROLLER, result.as_str()])
            .inc();
        self.runtime
            .reconcile_time_seconds
            .with_label_values(&[CONTROLLER])
            .observe(took.as_secs_f64());
        if result == ReconcileResult::Error {
            self.runtime
                .reconcile_errors_total
                .with_label_values(&[CONTROLLER])
                .inc();
        }
        if terminal {
            self.runtime
                .terminal_reconcile_errors_total
                .with_label_values(&[CONTROLLER])
                .inc();
        }
    }

    /// A successful pass.
    pub fn pass_succeeded(
        &self,
        namespace: &str,
        name: &str,
        mode: PassMode,
        took: Duration,
        finished_unix: f64,
        outcome: &SyncOutcome,
    ) {
        self.passes
            .sync_duration
            .with_label_values(&[mode.as_str(), "success"])
            .observe(took.as_secs_f64());
        self.links
            .last_success
            .with_label_values(&[namespace, name])
            .set(finished_unix);
        for (state, n) in [
            ("discovered", outcome.discovered),
            ("synced", outcome.synced),
            ("skipped", outcome.skipped),
        ] {
            self.links
                .apis
                .with_label_values(&[namespace, name, state])
                .set(i64::from(n));
        }
        self.links
            .deletions_held
            .with_label_values(&[namespace, name])
            .set(
                outcome
                    .held_deletions
                    .as_ref()
                    .map_or(0, |held| i64::from(held.count)),
            );
        self.links
            .api_failures
            .with_label_values(&[namespace, name])
            .set(i64::try_from(outcome.api_failures.len()).unwrap_or(i64::MAX));
        self.count_operations(&outcome.applied, "success");
        self.count_operations(&outcome.failed, "error");
        if outcome.drift_repaired > 0 {
            self.passes
                .drift_repaired
                .with_label_values(&[namespace, name])
                .inc_by(u64::from(outcome.drift_repaired));
        }
    }

    /// After a successful pass: the Unix time since which every definition of the link
    /// has been re-checked (a full resync, or the resync windows of one
    /// `resyncInterval`). The convergence alert compares its age with the bound.
    pub fn rechecked_since(&self, namespace: &str, name: &str, unix: f64) {
        self.links
            .last_full_resync
            .with_label_values(&[namespace, name])
            .set(unix);
    }

    /// The link's last preflight ended with `failed` failed checks.
    pub fn preflight_ran(&self, namespace: &str, name: &str, failed: usize) {
        self.links
            .preflight_failed_checks
            .with_label_values(&[namespace, name])
            .set(i64::try_from(failed).unwrap_or(i64::MAX));
    }

    /// A failed pass (or cleanup, with `mode` `None`).
    pub fn pass_failed(&self, mode: Option<PassMode>, took: Duration, reason: &str) {
        let mode = mode.map_or("cleanup", PassMode::as_str);
        self.passes
            .sync_duration
            .with_label_values(&[mode, "error"])
            .observe(took.as_secs_f64());
        self.passes.sync_errors.with_label_values(&[reason]).inc();
    }

    pub fn cleanup_succeeded(&self, took: Duration, outcome: &CleanupOutcome) {
        self.passes
            .sync_duration
            .with_label_values(&["cleanup", "success"])
            .observe(took.as_secs_f64());
        self.count_operations(&outcome.applied, "success");
    }

    fn count_operations(&self, counts: &crate::runner::OperationCounts, result: &str) {
        for ((entity, operation), n) in counts {
            self.passes
                .operations
                .with_label_values(&[entity.as_str(), operation.as_str(), result])
                .inc_by(u64::from(*n));
        }
    }

    /// The link's health after a reconcile, and its convergence bound.
    pub fn link_state(
        &self,
        namespace: &str,
        name: &str,
        ready: bool,
        stalled: bool,
        bound: Option<Duration>,
    ) {
        self.links
            .ready
            .with_label_values(&[namespace, name])
            .set(if ready { 1.0 } else { 0.0 });
        self.links
            .stalled
            .with_label_values(&[namespace, name])
            .set(if stalled { 1.0 } else { 0.0 });
        if let Some(bound) = bound {
            self.links
                .bound
                .with_label_values(&[namespace, name])
                .set(bound.as_secs_f64());
        }
    }

    /// Seeds the timestamps of a link seen for the first time since start, from its status,
    /// so a restart does not look like a link that never synced.
    pub fn seed_link_times(
        &self,
        namespace: &str,
        name: &str,
        last_success: Option<f64>,
        rechecked_since: Option<f64>,
    ) {
        if let Some(t) = last_success {
            self.links
                .last_success
                .with_label_values(&[namespace, name])
                .set(t);
        }
        if let Some(t) = rechecked_since {
            self.links
                .last_full_resync
                .with_label_values(&[namespace, name])
                .set(t);
        }
    }

    /// Drops every per-link series: after losing the lease this replica no longer knows
    /// the links' state, and stale values would mislead the alerts.
    pub fn forget_all_links(&self) {
        for vec in [
            &self.links.last_success,
            &self.links.last_full_resync,
            &self.links.bound,
            &self.links.ready,
            &self.links.stalled,
        ] {
            vec.reset();
        }
        self.links.apis.reset();
        self.links.deletions_held.reset();
        self.links.api_failures.reset();
        self.links.preflight_failed_checks.reset();
    }

    /// Drops every series of a deleted link.
    pub fn forget_link(&self, namespace: &str, name: &str) {
        for vec in [
            &self.links.last_success,
            &self.links.last_full_resync,
            &self.links.bound,
            &self.links.ready,
            &self.links.stalled,
        ] {
            let _ = vec.remove_label_values(&[namespace, name]);
        }
        let _ = self
            .passes
            .drift_repaired
            .remove_label_values(&[namespace, name]);
        let _ = self
            .links
            .deletions_held
            .remove_label_values(&[namespace, name]);
        let _ = self
            .links
            .api_failures
            .remove_label_values(&[namespace, name]);
        let _ = self
            .links
            .preflight_failed_checks
            .remove_label_values(&[namespace, name]);
        for state in ["discovered", "synced", "skipped"] {
            let _ = self
                .links
                .apis
                .remove_label_values(&[namespace, name, state]);
        }
    }
}

/// controller-runtime's metrics, by its names (dashboards already use them), and the lease.
#[derive(Clone)]
struct RuntimeMetrics {
    reconcile_total: IntCounterVec,
    reconcile_errors_total: IntCounterVec,
    terminal_reconcile_errors_total: IntCounterVec,
    reconcile_time_seconds: HistogramVec,
    active_workers: IntGaugeVec,
    max_concurrent_reconciles: IntGaugeVec,
    leader: IntGaugeVec,
}

impl RuntimeMetrics {
    fn register(r: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(Self {
            reconcile_total: r.counter(
                "controller_runtime_reconcile_total",
                "Total number of reconciliations per controller.",
                &["controller", "result"],
            )?,
            reconcile_errors_total: r.counter(
                "controller_runtime_reconcile_errors_total",
                "Total number of reconciliation errors per controller.",
                &["controller"],
            )?,
            terminal_reconcile_errors_total: r.counter(
                "controller_runtime_terminal_reconcile_errors_total",
                "Total number of terminal reconciliation errors (not retried) per controller.",
                &["controller"],
            )?,
            reconcile_time_seconds: r.histogram(
                "controller_runtime_reconcile_time_seconds",
                "Length of time per reconciliation per controller.",
                &["controller"],
                RECONCILE_BUCKETS,
            )?,
            active_workers: r.int_gauge(
                "controller_runtime_active_workers",
                "Number of currently used workers per controller.",
                &["controller"],
            )?,
            max_concurrent_reconciles: r.int_gauge(
                "controller_runtime_max_concurrent_reconciles",
                "Maximum number of concurrent reconciles per controller.",
                &["controller"],
            )?,
            leader: r.int_gauge(
                "apilink_leader",
                "1 while this replica holds the leader lease (or runs without leader election).",
                &["controller"],
            )?,
        })
    }
}

/// Each link's state, labelled by link.
#[derive(Clone)]
struct LinkMetrics {
    last_success: GaugeVec,
    last_full_resync: GaugeVec,
    bound: GaugeVec,
    ready: GaugeVec,
    stalled: GaugeVec,
    apis: IntGaugeVec,
    deletions_held: IntGaugeVec,
    api_failures: IntGaugeVec,
    preflight_failed_checks: IntGaugeVec,
}

impl LinkMetrics {
    fn register(r: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(Self {
            last_success: r.gauge(
                "apilink_link_last_success_timestamp_seconds",
                "Unix time of the link's last successful pass.",
                LINK,
            )?,
            last_full_resync: r.gauge(
                "apilink_link_last_full_resync_timestamp_seconds",
                "Unix time since which every definition of the link has been re-checked: its last full resync, or one resyncInterval before the end of its last successful resync window (light polls re-check a slice each).",
                LINK,
            )?,
            bound: r.gauge(
                "apilink_link_convergence_bound_seconds",
                "The link's convergence bound: resyncInterval plus interval.",
                LINK,
            )?,
            ready: r.gauge(
                "apilink_link_ready",
                "1 when the link's Ready condition is True, else 0.",
                LINK,
            )?,
            stalled: r.gauge(
                "apilink_link_stalled",
                "1 when the link is Stalled (waits for the user), else 0.",
                LINK,
            )?,
            apis: r.int_gauge(
                "apilink_link_apis",
                "APIs of the link by state after the last successful pass.",
                &["namespace", "name", "state"],
            )?,
            deletions_held: r.int_gauge(
                "apilink_deletions_held",
                "API deletions the deletion guard holds until someone confirms their number.",
                LINK,
            )?,
            api_failures: r.int_gauge(
                "apilink_api_failures",
                "APIs of the link API Center refused for a reason only a person can fix (each backing off).",
                LINK,
            )?,
            preflight_failed_checks: r.int_gauge(
                "apilink_preflight_failed_checks",
                "Checks that failed in the link's last preflight (0 when it passed).",
                LINK,
            )?,
        })
    }
}

/// What passes and cleanups did.
#[derive(Clone)]
struct PassMetrics {
    sync_duration: HistogramVec,
    sync_errors: IntCounterVec,
    operations: IntCounterVec,
    drift_repaired: IntCounterVec,
}

impl PassMetrics {
    fn register(r: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(Self {
            sync_duration: r.histogram(
                "apilink_sync_duration_seconds",
                "Duration of sync passes.",
                &["mode", "result"],
                SYNC_BUCKETS,
            )?,
            sync_errors: r.counter(
                "apilink_sync_errors_total",
                "Failed passes and cleanups by reason.",
                &["reason"],
            )?,
            operations: r.counter(
                "apilink_operations_total",
                "Writes to API Center by entity, operation and result.",
                &["entity", "operation", "result"],
            )?,
            drift_repaired: r.counter(
                "apilink_drift_repaired_total",
                "Owned entities changed or deleted in API Center and put back.",
                LINK,
            )?,
        })
    }
}

/// Azure requests and throttle waits, reported by the binary.
#[derive(Clone)]
struct AzureMetrics {
    requests: IntCounterVec,
    latency: HistogramVec,
    throttle_waits: prometheus::IntCounter,
    throttle_wait_seconds: prometheus::Counter,
}

impl AzureMetrics {
    fn register(r: &Registrar<'_>) -> Result<Self, MetricsError> {
        Ok(Self {
            requests: r.counter(
                "apilink_azure_requests_total",
                "Azure requests by service, method and HTTP status code (0: no answer).",
                &["service", "method", "code"],
            )?,
            latency: r.histogram(
                "apilink_azure_request_duration_seconds",
                "Azure request latency by service and method.",
                &["service", "method"],
                AZURE_BUCKETS,
            )?,
            throttle_waits: r.register(prometheus::IntCounter::new(
                "apilink_azure_throttle_waits_total",
                "Times a request waited for Retry-After or quota pacing.",
            )?)?,
            throttle_wait_seconds: r.register(prometheus::Counter::new(
                "apilink_azure_throttle_wait_seconds_total",
                "Time spent waiting before Azure requests (Retry-After, quota pacing).",
            )?)?,
        })
    }
}

/// Creates metrics and registers them in one registry.
struct Registrar<'a>(&'a Registry);

impl Registrar<'_> {
    fn register<C: Collector + Clone + 'static>(&self, collector: C) -> Result<C, MetricsError> {
        self.0.register(Box::new(collector.clone()))?;
        Ok(collector)
    }

    fn counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntCounterVec, MetricsError> {
        self.register(IntCounterVec::new(Opts::new(name, help), labels)?)
    }

    fn int_gauge(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntGaugeVec, MetricsError> {
        self.register(IntGaugeVec::new(Opts::new(name, help), labels)?)
    }

    fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> Result<GaugeVec, MetricsError> {
        self.register(GaugeVec::new(Opts::new(name, help), labels)?)
    }

    fn histogram(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
        buckets: &[f64],
    ) -> Result<HistogramVec, MetricsError> {
        let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
        self.register(HistogramVec::new(opts, labels)?)
    }
}

/// Decrements `controller_runtime_active_workers` when a reconcile ends, however it ends.
pub struct WorkerGuard {
    gauge: prometheus::IntGauge,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// What the Azure client reports: the binary forwards its answers and throttle waits
/// here (this crate does not depend on the client).
impl Metrics {
    /// One Azure answer. `service` is `apim`, `apicenter`, `arm` or `link`; `status` is
    /// 0 when no answer was read (transport error).
    pub fn azure_response(&self, service: &str, method: &str, status: u16, duration: Duration) {
        let code = status.to_string();
        self.azure
            .requests
            .with_label_values(&[service, method, code.as_str()])
            .inc();
        self.azure
            .latency
            .with_label_values(&[service, method])
            .observe(duration.as_secs_f64());
    }

    /// The Azure client waited before sending (Retry-After, quota pacing).
    pub fn azure_throttle_wait(&self, duration: Duration) {
        self.azure.throttle_waits.inc();
        self.azure
            .throttle_wait_seconds
            .inc_by(duration.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    #[test]
    fn controller_runtime_names() {
        let m = Metrics::new().unwrap();
        m.reconciled(ReconcileResult::Error, Duration::from_millis(20), true);
        m.reconciled(
            ReconcileResult::RequeueAfter,
            Duration::from_millis(20),
            false,
        );
        m.set_max_concurrent_reconciles(4);
        {
            let _w = m.worker();
            let text = m.render().unwrap();
            assert_eq!(
                value(
                    &text,
                    r#"controller_runtime_active_workers{controller="apisourcelink"}"#
                ),
                Some(1.0)
            );
        }
        let text = m.render().unwrap();
        assert_eq!(
            value(
                &text,
                r#"controller_runtime_active_workers{controller="apisourcelink"}"#
            ),
            Some(0.0)
        );
        assert_eq!(
            value(
                &text,
                r#"controller_runtime_reconcile_total{controller="apisourcelink",result="error"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"controller_runtime_reconcile_errors_total{controller="apisourcelink"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"controller_runtime_terminal_reconcile_errors_total{controller="apisourcelink"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"controller_runtime_reconcile_time_seconds_count{controller="apisourcelink"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                r#"controller_runtime_max_concurrent_reconciles{controller="apisourcelink"}"#
            ),
            Some(4.0)
        );
    }

    #[test]
    fn pass_metrics_and_forgetting_a_link() {
        let m = Metrics::new().unwrap();
        let mut outcome = SyncOutcome {
            discovered: 5,
            synced: 4,
            skipped: 1,
            drift_repaired: 2,
            ..Default::default()
        };
        outcome.applied.insert(("api".into(), "create".into()), 3);
        outcome
            .failed
            .insert(("definition".into(), "import".into()), 1);
        m.pass_succeeded(
            "ns",
            "l",
            PassMode::Full,
            Duration::from_secs(2),
            1_700_000_000.0,
            &outcome,
        );
        m.rechecked_since("ns", "l", 1_699_990_000.0);
        m.link_state("ns", "l", true, false, Some(Duration::from_secs(3600)));
        m.preflight_ran("ns", "l", 2);
        m.pass_failed(
            Some(PassMode::Light),
            Duration::from_secs(1),
            "AzureThrottled",
        );
        let text = m.render().unwrap();
        assert_eq!(
            value(
                &text,
                r#"apilink_link_last_success_timestamp_seconds{name="l",namespace="ns"}"#
            ),
            Some(1_700_000_000.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_link_last_full_resync_timestamp_seconds{name="l",namespace="ns"}"#
            ),
            Some(1_699_990_000.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_link_apis{name="l",namespace="ns",state="skipped"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_operations_total{entity="api",operation="create",result="success"}"#
            ),
            Some(3.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_operations_total{entity="definition",operation="import",result="error"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_drift_repaired_total{name="l",namespace="ns"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            value(&text, r#"apilink_link_ready{name="l",namespace="ns"}"#),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_preflight_failed_checks{name="l",namespace="ns"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_link_convergence_bound_seconds{name="l",namespace="ns"}"#
            ),
            Some(3600.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_sync_errors_total{reason="AzureThrottled"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_sync_duration_seconds_count{mode="full",result="success"}"#
            ),
            Some(1.0)
        );

        m.forget_link("ns", "l");
        let text = m.render().unwrap();
        assert!(!text.contains(r#"namespace="ns""#), "{text}");

        m.link_state("ns", "a", true, false, None);
        m.link_state("ns", "b", false, true, None);
        m.preflight_ran("ns", "b", 0);
        m.forget_all_links();
        let text = m.render().unwrap();
        assert!(!text.contains("apilink_link_ready{"), "{text}");
        assert!(!text.contains("apilink_preflight_failed_checks{"), "{text}");
    }

    #[test]
    fn azure_answers_feed_request_metrics() {
        let m = Metrics::new().unwrap();
        m.azure_response("apicenter", "PUT", 200, Duration::from_millis(30));
        m.azure_response("apicenter", "PUT", 429, Duration::from_millis(5));
        m.azure_response("apim", "GET", 0, Duration::from_millis(5));
        m.azure_throttle_wait(Duration::from_millis(1500));
        let text = m.render().unwrap();
        assert_eq!(
            value(
                &text,
                r#"apilink_azure_requests_total{code="429",method="PUT",service="apicenter"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_azure_requests_total{code="0",method="GET",service="apim"}"#
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &text,
                r#"apilink_azure_request_duration_seconds_count{method="PUT",service="apicenter"}"#
            ),
            Some(2.0)
        );
        assert_eq!(
            value(&text, "apilink_azure_throttle_waits_total"),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "apilink_azure_throttle_wait_seconds_total"),
            Some(1.5)
        );
    }
}
