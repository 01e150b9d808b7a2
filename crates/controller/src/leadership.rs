//! Leader fencing: the leader starts Azure writes only while its own last confirmed
//! lease renewal is recent enough that no other replica can have taken the lease.
//!
//! The lease manager keeps saying "leading" while it cannot reach the API server: it
//! learns that the lease is gone only once it can read the Lease again. A leader cut off
//! from the API server (but not from Azure) would therefore keep writing to Azure after
//! another replica took over. Fencing closes that gap with this replica's monotonic
//! clock alone: a renewal writes `renewTime` = now, other replicas treat the lease as
//! expired `leaseDuration` after that by their clocks, so this replica stops starting
//! writes once `leaseDuration − margin` has passed since its last renewal request left
//! the process, unless a later renewal was confirmed meanwhile.
//!
//! The margin is half the renew grace. The holder renews `grace` before expiry, so the
//! first half gives that renewal (and one retry) time to land without ever pausing a
//! healthy leader; the second half is what a cut-off leader has in hand for clock skew
//! between nodes (the others compare `renewTime` with their own clocks) and for a write
//! already on the wire when its window closes.
//!
//! Renewals are observed on the lease manager's own HTTP traffic ([`observe_lease`]): a
//! write to the Lease that the API server answers with this replica as holder and a new
//! `renewTime` is a renewal made when the request was sent.
//!
//! The runner is gated at its boundary ([`FencedRunner`]): a pass or cleanup starts only
//! while this replica is a writer, and every time the engine's future is polled (before
//! each of its next steps, so before any new Azure call) the window is checked again. A
//! pass whose window closes is dropped — as it would be if the lease were lost — and
//! starts over once a renewal is confirmed; if another replica took the lease instead,
//! the lease manager eventually says so and the controllers are stopped.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use apilink_core::LinkId;
use http::{Method, Request, Response};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::client::Body;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::runner::{
    CheckReport, CleanupOutcome, CleanupRequest, LinkRunner, PreflightRequest, RunError,
    SyncOutcome, SyncRequest,
};

/// How long a confirmed renewal lets this replica write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FenceTiming {
    /// What the replica may use of the lease duration: the duration less the margin.
    window: Duration,
}

impl FenceTiming {
    /// The window for a lease of `lease_duration` renewed `renew_grace` before expiry:
    /// `lease_duration − renew_grace / 2` (see the module documentation).
    pub fn new(lease_duration: Duration, renew_grace: Duration) -> Self {
        Self {
            window: lease_duration.saturating_sub(renew_grace / 2),
        }
    }

    /// How long after a renewal request was sent the replica may still start writes.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The instant from which a replica last renewed at `renewed` may not start writes.
    pub fn writer_until(&self, renewed: Instant) -> Instant {
        renewed + self.window
    }

    /// Whether a replica whose last confirmed renewal was sent at `renewed` may start a
    /// write at `now`.
    pub fn is_writer(&self, now: Instant, renewed: Option<Instant>) -> bool {
        renewed.is_some_and(|r| now < self.writer_until(r))
    }
}

/// This replica's right to write, shared by the lease observer and the runner.
#[derive(Debug, Clone)]
pub struct Leadership {
    timing: FenceTiming,
    /// When the last confirmed renewal was sent; `None` when there is none (never led,
    /// or another holder was seen since).
    renewed: Arc<watch::Sender<Option<Instant>>>,
}

impl Leadership {
    pub fn new(timing: FenceTiming) -> Self {
        Self {
            timing,
            renewed: Arc::new(watch::Sender::new(None)),
        }
    }

    pub fn timing(&self) -> FenceTiming {
        self.timing
    }

    /// A renewal sent at `sent` was confirmed. Renewals only ever extend the window: an
    /// answer that arrives late for an older request changes nothing.
    pub fn renewed(&self, sent: Instant) {
        self.renewed.send_if_modified(|last| {
            let newer = last.is_none_or(|l| sent > l);
            if newer {
                *last = Some(sent);
            }
            newer
        });
    }

    /// Another holder was seen, or the lease was given up: no writes until renewed.
    pub fn revoke(&self) {
        self.renewed.send_if_modified(|last| last.take().is_some());
    }

    /// The end of the current writer window, if there is a renewal at all.
    pub fn writer_until(&self) -> Option<Instant> {
        (*self.renewed.borrow()).map(|r| self.timing.writer_until(r))
    }

    pub fn is_writer(&self) -> bool {
        self.timing
            .is_writer(Instant::now(), *self.renewed.borrow())
    }

    /// Resolves once this replica is a writer.
    pub async fn writable(&self) {
        // Subscribed before the check, so a renewal in between is not missed.
        let mut changes = self.renewed.subscribe();
        while !self.is_writer() {
            if changes.changed().await.is_err() {
                // Unreachable while `self` holds the sender; never write on a guess.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves once this replica is no longer a writer (at once when it is not one).
    async fn lapsed(&self) {
        let mut changes = self.renewed.subscribe();
        loop {
            let until = match self.writer_until() {
                Some(until) if Instant::now() < until => until,
                _ => return,
            };
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                changed = changes.changed() => if changed.is_err() { return; },
            }
        }
    }

    /// Runs `work` while this replica is a writer: the window is checked before every
    /// poll of `work`, so `work` takes no further step once it has closed. `None` when
    /// `work` was stopped (and dropped) for that reason.
    pub async fn while_writer<F: Future>(&self, work: F) -> Option<F::Output> {
        let mut work = pin!(work);
        let mut lapsed = pin!(self.lapsed());
        poll_fn(|cx| {
            // The clock first: a timer may fire late, the clock does not lie.
            if !self.is_writer() || lapsed.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            work.as_mut().poll(cx).map(Some)
        })
        .await
    }
}

/// What an answer of the API server about the Lease says about this replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LeaseAnswer {
    /// This replica holds the lease, renewed at this `renewTime`.
    Ours(Timestamp),
    /// Another replica (or nobody) holds it.
    NotOurs,
    /// Not a Lease, or no renewal time: says nothing.
    Unknown,
}

pub(crate) fn lease_answer(body: &[u8], identity: &str) -> LeaseAnswer {
    let Ok(lease) = serde_json::from_slice::<Lease>(body) else {
        return LeaseAnswer::Unknown;
    };
    let spec = lease.spec.unwrap_or_default();
    match (spec.holder_identity.as_deref(), spec.renew_time) {
        (Some(holder), Some(renewed)) if holder == identity => LeaseAnswer::Ours(renewed.0),
        (Some(holder), _) if holder != identity => LeaseAnswer::NotOurs,
        (None, _) => LeaseAnswer::NotOurs,
        _ => LeaseAnswer::Unknown,
    }
}

/// Turns the lease manager's traffic about one Lease into [`Leadership`] updates.
#[derive(Debug)]
pub(crate) struct LeaseObserver {
    leadership: Leadership,
    identity: String,
    path: String,
    /// `renewTime` of the last renewal credited: a later write that leaves it as it was
    /// (the lease manager bumps `leaseTransitions` right after acquiring) is no renewal.
    credited: Mutex<Option<Timestamp>>,
}

impl LeaseObserver {
    pub(crate) fn new(leadership: Leadership, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            leadership,
            identity: identity.to_string(),
            path: format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"),
            credited: Mutex::new(None),
        }
    }

    pub(crate) fn watches(&self, path: &str) -> bool {
        path == self.path
    }

    /// A successful answer to a request about the Lease, sent at `sent`.
    pub(crate) fn answered(&self, method: &Method, sent: Instant, body: &[u8]) {
        let write = matches!(*method, Method::PATCH | Method::PUT | Method::POST);
        match lease_answer(body, &self.identity) {
            LeaseAnswer::Ours(renew_time) if write => {
                let mut credited = self.credited.lock().unwrap_or_else(PoisonError::into_inner);
                if *credited != Some(renew_time) {
                    *credited = Some(renew_time);
                    self.leadership.renewed(sent);
                    debug!(renew_time = %renew_time, "leader lease renewal confirmed");
                }
            }
            // A read only says the lease was ours when someone renewed it, not now.
            LeaseAnswer::Ours(_) | LeaseAnswer::Unknown => {}
            LeaseAnswer::NotOurs => self.leadership.revoke(),
        }
    }
}

/// A client for the lease manager that reports to `leadership` every renewal the API
/// server confirms, and every answer naming another holder.
pub fn observe_lease(
    client: Client,
    leadership: &Leadership,
    namespace: &str,
    name: &str,
    identity: &str,
) -> Client {
    let observer = Arc::new(LeaseObserver::new(
        leadership.clone(),
        namespace,
        name,
        identity,
    ));
    let default_namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |request: Request<Body>| {
        let client = client.clone();
        let observer = observer.clone();
        async move {
            let watched = observer.watches(request.uri().path());
            let method = request.method().clone();
            // Before sending: the renewal's `renewTime` was stamped just before this,
            // and the others count the lease duration from that stamp.
            let sent = Instant::now();
            let response = client.send(request).await?;
            if !watched || !response.status().is_success() {
                return Ok::<_, kube::Error>(response);
            }
            let (parts, body) = response.into_parts();
            let bytes = body.collect_bytes().await?;
            observer.answered(&method, sent, &bytes);
            Ok(Response::from_parts(parts, Body::from(bytes)))
        }
    });
    Client::new(service, default_namespace)
}

/// The runner the leader's controllers use: `inner`, gated by [`Leadership`].
pub struct FencedRunner<R> {
    inner: Arc<R>,
    leadership: Leadership,
}

impl<R> FencedRunner<R> {
    pub fn new(inner: Arc<R>, leadership: Leadership) -> Self {
        Self { inner, leadership }
    }

    /// Runs `start()` only while this replica is a writer; when the window closes the
    /// work is dropped, and started again from scratch once a renewal is confirmed.
    async fn gated<T, F, Fut>(&self, what: &str, link: &LinkId, mut start: F) -> Result<T, RunError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RunError>>,
    {
        loop {
            if !self.leadership.is_writer() {
                info!(%link, "the {what} waits for a confirmed leader lease renewal before it calls Azure");
                self.leadership.writable().await;
                info!(%link, "leader lease renewed: the {what} starts");
            }
            match self.leadership.while_writer(start()).await {
                Some(result) => return result,
                None => warn!(
                    %link,
                    window = ?self.leadership.timing().window(),
                    "the leader lease was not renewed in time: the {what} stopped before its next Azure call, another replica may take over"
                ),
            }
        }
    }
}

impl<R: LinkRunner> LinkRunner for FencedRunner<R> {
    async fn sync(&self, req: SyncRequest) -> Result<SyncOutcome, RunError> {
        let link = req.settings.link.clone();
        self.gated("pass", &link, || self.inner.sync(req.clone()))
            .await
    }

    /// Not fenced: the checks only read, so a replica that lost the lease changes
    /// nothing another one writes.
    async fn preflight(&self, req: PreflightRequest) -> Result<CheckReport, RunError> {
        self.inner.preflight(req).await
    }

    async fn cleanup(&self, req: CleanupRequest) -> Result<CleanupOutcome, RunError> {
        let link = req.settings.link.clone();
        self.gated("cleanup", &link, || self.inner.cleanup(req.clone()))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(15);
    const GRACE: Duration = Duration::from_secs(5);

    fn timing() -> FenceTiming {
        FenceTiming::new(LEASE, GRACE)
    }

    #[test]
    fn the_window_is_the_lease_less_half_the_grace() {
        assert_eq!(timing().window(), Duration::from_millis(12_500));
        assert_eq!(
            FenceTiming::new(Duration::from_secs(8), Duration::from_secs(3)).window(),
            Duration::from_millis(6_500)
        );
        // The holder renews `grace` before expiry: inside the window, with time to spare.
        assert!(LEASE - GRACE < timing().window());
    }

    #[test]
    fn a_writer_only_between_a_renewal_and_the_end_of_its_window() {
        let t = timing();
        let renewed = Instant::now();
        assert!(!t.is_writer(renewed, None), "never renewed");
        assert!(t.is_writer(renewed, Some(renewed)));
        assert!(t.is_writer(renewed + Duration::from_millis(12_499), Some(renewed)));
        assert!(!t.is_writer(renewed + Duration::from_millis(12_500), Some(renewed)));
        assert!(!t.is_writer(renewed + LEASE, Some(renewed)));
    }

    #[tokio::test(start_paused = true)]
    async fn renewals_only_extend_and_another_holder_ends_the_window() {
        let leadership = Leadership::new(timing());
        assert!(!leadership.is_writer());
        let first = Instant::now();
        tokio::time::advance(Duration::from_secs(10)).await;
        let second = Instant::now();
        leadership.renewed(second);
        leadership.renewed(first);
        assert_eq!(
            leadership.writer_until(),
            Some(second + timing().window()),
            "a late answer for an older request does not shorten the window"
        );
        assert!(leadership.is_writer());
        leadership.revoke();
        assert!(!leadership.is_writer());
        assert_eq!(leadership.writer_until(), None);
    }

    fn lease_json(holder: Option<&str>, renew: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "apilink", "namespace": "apilink-system"},
            "spec": {"holderIdentity": holder, "renewTime": renew, "leaseDurationSeconds": 15},
        }))
        .unwrap()
    }

    #[test]
    fn lease_answers_are_read_for_this_replica() {
        let at = "2025-01-02T03:04:05.123456Z";
        assert_eq!(
            lease_answer(&lease_json(Some("pod-a"), Some(at)), "pod-a"),
            LeaseAnswer::Ours(at.parse().unwrap())
        );
        assert_eq!(
            lease_answer(&lease_json(Some("pod-b"), Some(at)), "pod-a"),
            LeaseAnswer::NotOurs
        );
        assert_eq!(
            lease_answer(&lease_json(None, None), "pod-a"),
            LeaseAnswer::NotOurs
        );
        assert_eq!(
            lease_answer(&lease_json(Some("pod-a"), None), "pod-a"),
            LeaseAnswer::Unknown
        );
        assert_eq!(lease_answer(b"not json", "pod-a"), LeaseAnswer::Unknown);
    }

    #[tokio::test(start_paused = true)]
    async fn only_writes_with_a_new_renew_time_are_renewals() {
        let leadership = Leadership::new(timing());
        let observer = LeaseObserver::new(leadership.clone(), "apilink-system", "apilink", "pod-a");
        assert!(
            observer
                .watches("/apis/coordination.k8s.io/v1/namespaces/apilink-system/leases/apilink")
        );
        assert!(
            !observer
                .watches("/apis/coordination.k8s.io/v1/namespaces/apilink-system/leases/other")
        );

        let t1 = "2025-01-02T03:04:05.000001Z";
        let acquired = Instant::now();
        // A read naming us proves nothing about now.
        observer.answered(&Method::GET, acquired, &lease_json(Some("pod-a"), Some(t1)));
        assert!(!leadership.is_writer());
        observer.answered(
            &Method::PATCH,
            acquired,
            &lease_json(Some("pod-a"), Some(t1)),
        );
        assert_eq!(
            leadership.writer_until(),
            Some(acquired + timing().window())
        );

        // The follow-up write (leaseTransitions) keeps the renewTime: not a renewal.
        tokio::time::advance(Duration::from_secs(2)).await;
        observer.answered(
            &Method::PATCH,
            Instant::now(),
            &lease_json(Some("pod-a"), Some(t1)),
        );
        assert_eq!(
            leadership.writer_until(),
            Some(acquired + timing().window())
        );

        let t2 = "2025-01-02T03:04:15.000001Z";
        tokio::time::advance(Duration::from_secs(8)).await;
        let renewed = Instant::now();
        observer.answered(
            &Method::PATCH,
            renewed,
            &lease_json(Some("pod-a"), Some(t2)),
        );
        assert_eq!(leadership.writer_until(), Some(renewed + timing().window()));

        // Any answer naming another holder (a read included) ends the window at once.
        observer.answered(
            &Method::GET,
            Instant::now(),
            &lease_json(Some("pod-b"), Some(t2)),
        );
        assert!(!leadership.is_writer());
    }

    /// Work of `steps` steps of one second, each an "Azure write" recorded with its time.
    #[derive(Default)]
    struct Stepping {
        writes: Mutex<Vec<(String, Instant)>>,
    }

    impl Stepping {
        async fn work(&self, what: &str, steps: u32) -> Result<u32, RunError> {
            for step in 0..steps {
                self.writes
                    .lock()
                    .unwrap()
                    .push((format!("{what}-{step}"), Instant::now()));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(steps)
        }

        fn writes(&self) -> Vec<(String, Instant)> {
            self.writes.lock().unwrap().clone()
        }
    }

    fn fenced(leadership: &Leadership) -> (Arc<Stepping>, Arc<FencedRunner<Stepping>>) {
        let inner = Arc::new(Stepping::default());
        let runner = Arc::new(FencedRunner::new(inner.clone(), leadership.clone()));
        (inner, runner)
    }

    fn link() -> LinkId {
        LinkId::namespaced("team-a", "contoso").unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_pass_waits_for_a_renewal_before_its_first_write() {
        let leadership = Leadership::new(timing());
        let (inner, runner) = fenced(&leadership);
        let pass = tokio::spawn(async move {
            let work = runner.inner.clone();
            runner.gated("pass", &link(), || work.work("sync", 2)).await
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(inner.writes().is_empty(), "no renewal yet: no write");
        let renewed = Instant::now();
        leadership.renewed(renewed);
        assert_eq!(pass.await.unwrap().unwrap(), 2);
        assert!(inner.writes().iter().all(|(_, at)| *at >= renewed));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pass_stops_writing_when_the_window_closes_and_starts_over_after_a_renewal() {
        let leadership = Leadership::new(timing());
        let acquired = Instant::now();
        leadership.renewed(acquired);
        let (inner, runner) = fenced(&leadership);
        let pass = tokio::spawn(async move {
            let work = runner.inner.clone();
            runner
                .gated("pass", &link(), || work.work("sync", 20))
                .await
        });

        // Renewals stop (the API server is out of reach); the other replicas may take
        // the lease 15 s after the last one.
        tokio::time::sleep(Duration::from_secs(40)).await;
        let writes = inner.writes();
        let window_end = acquired + timing().window();
        assert!(
            writes.iter().all(|(_, at)| *at < window_end),
            "a write after the window closed: {:?}",
            writes
                .iter()
                .map(|(w, at)| (w, *at - acquired))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            writes.len(),
            13,
            "one write a second while the window was open"
        );
        assert!(!pass.is_finished(), "the pass waits for a renewal");

        // The API server is back and the lease still ours: the pass starts over.
        let renewed = Instant::now();
        leadership.renewed(renewed);
        tokio::time::sleep(Duration::from_secs(40)).await;
        let after: Vec<_> = inner
            .writes()
            .into_iter()
            .filter(|(_, at)| *at >= renewed)
            .collect();
        assert_eq!(after.len(), 13, "restarted, then fenced again");
        assert_eq!(after[0].0, "sync-0", "restarted from scratch");
        assert!(!pass.is_finished());
        pass.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn renewals_keep_a_long_pass_going() {
        let leadership = Leadership::new(timing());
        leadership.renewed(Instant::now());
        let (inner, runner) = fenced(&leadership);
        let renewing = leadership.clone();
        let renewals = tokio::spawn(async move {
            loop {
                // As the lease manager does: `grace` before the lease would expire.
                tokio::time::sleep(LEASE - GRACE).await;
                renewing.renewed(Instant::now());
            }
        });
        let work = runner.inner.clone();
        let steps = runner
            .gated("pass", &link(), || work.work("sync", 60))
            .await;
        renewals.abort();
        assert_eq!(steps.unwrap(), 60);
        assert_eq!(inner.writes().len(), 60, "never stopped nor restarted");
    }

    #[tokio::test(start_paused = true)]
    async fn another_holder_stops_the_work_inside_the_window() {
        let leadership = Leadership::new(timing());
        leadership.renewed(Instant::now());
        let (inner, runner) = fenced(&leadership);
        let cleanup = tokio::spawn(async move {
            let work = runner.inner.clone();
            runner
                .gated("cleanup", &link(), || work.work("cleanup", 20))
                .await
        });
        tokio::time::sleep(Duration::from_millis(4_500)).await;
        leadership.revoke();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(inner.writes().len(), 5, "{:?}", inner.writes());
        assert!(!cleanup.is_finished());
        cleanup.abort();
    }

    /// A Lease served from memory, as the API server would, unless `cut`.
    fn fake_lease_server(cut: Arc<std::sync::atomic::AtomicBool>) -> Client {
        use std::sync::atomic::Ordering;
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        tokio::spawn(async move {
            let mut lease: Option<serde_json::Value> = None;
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap();
                let patch: serde_json::Value =
                    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
                let (status, answer) = if cut.load(Ordering::SeqCst) {
                    (
                        503,
                        serde_json::json!({"kind": "Status", "code": 503, "message": "cut"}),
                    )
                } else {
                    match (&parts.method, &mut lease) {
                        (&Method::GET, Some(l)) => (200, l.clone()),
                        (&Method::GET, None) => (
                            404,
                            serde_json::json!({"kind": "Status", "code": 404, "reason": "NotFound"}),
                        ),
                        (&Method::POST, _) => {
                            let mut created = patch.clone();
                            created["metadata"]["namespace"] = "apilink-system".into();
                            lease = Some(created.clone());
                            (201, created)
                        }
                        (&Method::PATCH, Some(l)) => {
                            let fields = patch["spec"].as_object().cloned().unwrap_or_default();
                            for (key, value) in fields {
                                l["spec"][key] = value;
                            }
                            (200, l.clone())
                        }
                        _ => (404, serde_json::json!({"kind": "Status", "code": 404})),
                    }
                };
                send.send_response(
                    Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                        .unwrap(),
                );
            }
        });
        Client::new(service, "apilink-system")
    }

    /// The whole chain with the real lease manager: cut off from the API server, it
    /// still says "leading", but the replica stops being a writer within the window.
    #[tokio::test]
    async fn a_leader_cut_off_from_the_api_server_stops_being_a_writer_in_time() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let cut = Arc::new(AtomicBool::new(false));
        let (lease_secs, grace_secs) = (2, 1);
        let leadership = Leadership::new(FenceTiming::new(
            Duration::from_secs(lease_secs),
            Duration::from_secs(grace_secs),
        ));
        let client = observe_lease(
            fake_lease_server(cut.clone()),
            &leadership,
            "apilink-system",
            "apilink",
            "pod-a",
        );
        let manager = kube_lease_manager::LeaseManagerBuilder::new(client, "apilink")
            .with_namespace("apilink-system")
            .with_identity("pod-a")
            .with_duration(lease_secs)
            .with_grace(grace_secs)
            .build()
            .await
            .unwrap();
        let (mut leading, task) = manager.watch().await;
        tokio::time::timeout(Duration::from_secs(10), leading.wait_for(|l| *l))
            .await
            .unwrap()
            .unwrap();
        assert!(leadership.is_writer(), "acquiring is a renewal");

        // Renewals keep the replica a writer past the first window.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(leadership.is_writer(), "renewed every second");

        cut.store(true, Ordering::SeqCst);
        let cut_at = Instant::now();
        let until = leadership.writer_until().unwrap();
        assert!(until <= cut_at + leadership.timing().window());
        tokio::time::timeout(Duration::from_secs(5), leadership.lapsed())
            .await
            .unwrap();
        assert!(!leadership.is_writer());
        assert!(Instant::now() >= until);
        assert!(
            *leading.borrow(),
            "the lease manager still believes it leads; only fencing stops the writes"
        );
        drop(leading);
        task.abort();
    }
}
