//! When to run a pass and what it re-checks: a light poll every `interval` that
//! re-checks the owned APIs whose phase falls in its resync window (the time since the
//! last successful window ended; see `apilink_core::resync_window`), so every definition
//! is re-checked once per `resyncInterval` without a burst; a full resync only when the
//! spec changed, someone asked, or no window is known; exponential backoff after
//! failures, nothing at all for stalled links. Pure: clock and seeds are parameters.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, SystemTime};

use apilink_core::{Coverage, ErrorClass};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Light polls come up to 10 % early so links created together drift apart, never late:
/// a window longer than `interval` would break the freshness bound.
const LIGHT_EARLY_JITTER: f64 = 0.10;
/// A pass due within this slack is run now rather than requeued for a few milliseconds.
const DUE_SLACK: Duration = Duration::from_secs(1);
/// Backoff caps, as ASO: transient trouble is retried within 30 s, the rest within 3 min.
pub const FAST_BACKOFF_CAP: Duration = Duration::from_secs(30);
pub const SLOW_BACKOFF_CAP: Duration = Duration::from_secs(180);

/// The link's two periods, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    pub interval: Duration,
    pub resync: Duration,
}

impl Periods {
    /// The convergence bound, also the content freshness bound: no definition goes
    /// longer than this without a re-check. Each is re-checked once per
    /// `resyncInterval`, by the poll whose window holds its API's phase, and that poll
    /// runs at most one `interval` after the phase comes round.
    pub fn bound(&self) -> Duration {
        self.resync + self.interval
    }
}

/// A number in `[0, 1)` derived from `parts`: deterministic, so the same link and cycle
/// always get the same jitter (restarts and fail-overs agree), yet links differ.
pub fn unit_hash(parts: impl Hash) -> f64 {
    let mut hasher = DefaultHasher::new();
    parts.hash(&mut hasher);
    // 53 bits fit an f64 mantissa exactly.
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn add(at: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

fn scale(d: Duration, factor: f64) -> Duration {
    Duration::from_secs_f64((d.as_secs_f64() * factor).max(0.0))
}

fn subtract(at: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| at.checked_sub(d).ok())
        .unwrap_or(Timestamp::MIN)
}

/// Where the resync window of a pass starting at `now` ends: `now` in whole seconds,
/// because the status keeps `lastSyncTime` (where the next window starts) in seconds;
/// a window ending between seconds would leave a sliver to no window or to two.
pub fn window_end(now: Timestamp) -> Timestamp {
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// What a pass starting at `now` re-checks besides what changed. A new spec (filter,
/// import setting, periods: the phases move with `resyncInterval`), an explicit request
/// or a link without a full resync yet re-checks everything; otherwise the owned APIs
/// whose phase falls in the window since the last successful window ended
/// (`last_sync`), and everything when that window spans a whole cycle (a long outage).
pub fn pass_coverage(
    now: Timestamp,
    last_sync: Option<Timestamp>,
    last_full: Option<Timestamp>,
    periods: Periods,
    spec_changed: bool,
    requested: bool,
) -> Coverage {
    if spec_changed || requested || last_full.is_none() {
        return Coverage::Everything;
    }
    Coverage::scheduled(
        last_sync.map(SystemTime::from),
        SystemTime::from(window_end(now)),
        periods.resync,
    )
}

/// Delay from `now` (the end of a successful pass) to the next poll: one `interval`
/// after the pass's window ended (`window_end`), up to 10 % early, never late, so no
/// window is longer than `interval` while passes succeed.
pub fn after_success(
    now: Timestamp,
    window_end: Timestamp,
    periods: Periods,
    seed: u64,
) -> Duration {
    let early = unit_hash(seed) * LIGHT_EARLY_JITTER;
    let next = add(window_end, scale(periods.interval, 1.0 - early));
    now.duration_until(next)
        .try_into()
        .unwrap_or(Duration::ZERO)
        .max(DUE_SLACK)
}

/// The time since which every definition has been re-checked, as far as the status
/// tells: the last full resync (`last_full`), or one `resyncInterval` before the end of
/// the last successful window (`last_sync`) when that is later: the contiguous windows
/// since the full resync re-checked each API at or after its phase came round, and
/// every phase comes round once in the `resyncInterval` before `last_sync`.
pub fn rechecked_since(
    last_full: Option<Timestamp>,
    last_sync: Option<Timestamp>,
    resync: Duration,
) -> Option<Timestamp> {
    let full = last_full?;
    let windows = last_sync.map(|sync| subtract(sync, resync));
    Some(windows.map_or(full, |w| w.max(full)))
}

/// The longest any wait gets, whatever Azure asks for: a `Retry-After` of a day must
/// not park a link (or a finalizer) for a day.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// Delay before retrying after the `failures`-th consecutive failure (1-based):
/// `1 s × 2^(failures-1)`, capped by class; a `Retry-After` from Azure is a floor, and
/// [`MAX_WAIT`] bounds it all.
pub fn backoff(failures: u32, class: ErrorClass, retry_after: Option<Duration>) -> Duration {
    let cap = match class {
        ErrorClass::RetryFast | ErrorClass::Conflict | ErrorClass::NotFound => FAST_BACKOFF_CAP,
        ErrorClass::RetrySlow | ErrorClass::NeedsUser => SLOW_BACKOFF_CAP,
    };
    let exp = failures.saturating_sub(1).min(20);
    let computed = Duration::from_secs(1u64 << exp).min(cap);
    let wait = match retry_after {
        Some(after) => computed.max(after),
        None => computed,
    };
    wait.min(MAX_WAIT)
}

/// The note a status message carries when Azure asked for a longer wait than
/// [`MAX_WAIT`]: people should know the link comes back sooner than Azure said.
pub fn wait_cap_note(retry_after: Option<Duration>) -> Option<String> {
    retry_after.filter(|after| *after > MAX_WAIT).map(|after| {
        format!(
            "Azure asked to wait {}s; apilink caps waits at {}s and tries again then",
            after.as_secs(),
            MAX_WAIT.as_secs()
        )
    })
}

/// How long definitions may have gone without a re-check, if that is beyond the bound.
/// `since` is [`rechecked_since`], or the creation time of a link never synced.
pub fn bound_exceeded(now: Timestamp, since: Timestamp, periods: Periods) -> Option<Duration> {
    let age: Duration = since.duration_until(now).try_into().ok()?;
    (age > periods.bound()).then_some(age)
}

/// Why a pass must run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `metadata.generation` moved past `status.observedGeneration`.
    SpecChanged,
    /// `reconcile.fluxcd.io/requestedAt` differs from `status.lastHandledReconcileAt`.
    Requested,
    /// The referenced Secret was created, changed or deleted.
    CredentialsChanged,
    /// The scheduled time came (or nothing is known: first sight since start).
    Scheduled,
}

/// Whether a reconcile should run a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Now(Trigger),
    At(Timestamp),
    /// Stalled or suspended: wait for a change.
    Never,
}

/// What the controller remembers of a link between reconciles (lost on restart; the
/// status is enough to start again).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkMemory {
    /// `None`: not until something changes.
    pub next_pass_at: Option<Timestamp>,
    /// Consecutive failed passes (drives the backoff).
    pub failures: u32,
}

impl LinkMemory {
    /// Nothing is due until the link (or its Secret) changes.
    pub fn until_change() -> Self {
        Self {
            next_pass_at: None,
            failures: 0,
        }
    }
}

/// Facts about the link relevant to scheduling.
#[derive(Debug, Clone, Copy)]
pub struct DueInput<'a> {
    pub now: Timestamp,
    pub generation: Option<i64>,
    pub observed_generation: Option<i64>,
    pub requested_at: Option<&'a str>,
    pub last_handled_requested_at: Option<&'a str>,
    pub credentials_changed: bool,
    pub memory: Option<LinkMemory>,
    pub last_sync: Option<Timestamp>,
    pub interval: Option<Duration>,
}

/// Decides whether this reconcile runs a pass. Watch events for the link's own status
/// writes land here too: they must not start a pass, or every write would start another.
pub fn due(input: DueInput<'_>) -> Due {
    if input.generation != input.observed_generation {
        return Due::Now(Trigger::SpecChanged);
    }
    if input.requested_at.is_some() && input.requested_at != input.last_handled_requested_at {
        return Due::Now(Trigger::Requested);
    }
    if input.credentials_changed {
        return Due::Now(Trigger::CredentialsChanged);
    }
    let at = match input.memory {
        Some(memory) => match memory.next_pass_at {
            Some(at) => at,
            None => return Due::Never,
        },
        // First sight since the controller started (or took the lease): pick up the
        // rhythm from the status rather than syncing every link at once.
        None => match (input.last_sync, input.interval) {
            (Some(last), Some(interval)) => add(last, interval),
            _ => return Due::Now(Trigger::Scheduled),
        },
    };
    if add(input.now, DUE_SLACK) >= at {
        Due::Now(Trigger::Scheduled)
    } else {
        Due::At(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    const P: Periods = Periods {
        interval: Duration::from_secs(60),
        resync: Duration::from_secs(6 * 3600),
    };

    fn input(now: Timestamp) -> DueInput<'static> {
        DueInput {
            now,
            generation: Some(2),
            observed_generation: Some(2),
            requested_at: None,
            last_handled_requested_at: None,
            credentials_changed: false,
            memory: None,
            last_sync: None,
            interval: Some(Duration::from_secs(60)),
        }
    }

    fn coverage(now: Timestamp, last_sync: Option<Timestamp>) -> Coverage {
        pass_coverage(now, last_sync, Some(t(-3600)), P, false, false)
    }

    fn window(from: Timestamp, to: Timestamp) -> Coverage {
        Coverage::Window(apilink_core::ResyncWindow::new(
            from.into(),
            to.into(),
            P.resync,
        ))
    }

    #[test]
    fn scheduled_polls_cover_the_window_since_the_last_success() {
        assert_eq!(coverage(t(60), Some(t(0))), window(t(0), t(60)));
        // A window ends on a whole second: the status keeps no more.
        let between = t(60).checked_add(SignedDuration::from_millis(700)).unwrap();
        assert_eq!(coverage(between, Some(t(0))), window(t(0), t(60)));
        // After an outage of a whole cycle the window is everything: a full resync.
        assert_eq!(coverage(t(6 * 3600), Some(t(0))), Coverage::Everything);
        assert_eq!(
            coverage(t(6 * 3600 - 1), Some(t(0))),
            window(t(0), t(6 * 3600 - 1))
        );
    }

    #[test]
    fn full_resync_on_first_pass_new_spec_or_request_only() {
        let full = |last_full, spec_changed, requested| {
            pass_coverage(t(60), Some(t(0)), last_full, P, spec_changed, requested)
        };
        assert_eq!(full(None, false, false), Coverage::Everything, "first pass");
        assert_eq!(full(Some(t(0)), true, false), Coverage::Everything);
        assert_eq!(full(Some(t(0)), false, true), Coverage::Everything);
        assert_eq!(full(Some(t(0)), false, false), window(t(0), t(60)));
        // No full resync is scheduled, however long ago the last one was.
        let years = pass_coverage(
            t(400 * 86_400),
            Some(t(400 * 86_400 - 60)),
            Some(t(0)),
            P,
            false,
            false,
        );
        assert_eq!(years, window(t(400 * 86_400 - 60), t(400 * 86_400)));
    }

    #[test]
    fn success_requeues_an_interval_after_the_window_ended_early_never_late() {
        for seed in 0..200 {
            // The pass started (its window ended) at 0 and took 5 s.
            let d = after_success(t(5), t(0), P, seed);
            assert!(
                d >= Duration::from_secs(49) && d <= Duration::from_secs(55),
                "{d:?}"
            );
        }
        // A pass longer than the interval is followed at once, not a zero-delay loop.
        assert_eq!(after_success(t(100), t(0), P, 7), DUE_SLACK);
    }

    #[test]
    fn rechecked_since_is_the_full_resync_or_a_cycle_before_the_last_window() {
        let r = |full, sync| rechecked_since(full, sync, P.resync);
        assert_eq!(r(None, Some(t(0))), None, "never had a full resync");
        assert_eq!(r(Some(t(0)), None), Some(t(0)));
        assert_eq!(
            r(Some(t(0)), Some(t(3600))),
            Some(t(0)),
            "within a cycle of it"
        );
        assert_eq!(r(Some(t(0)), Some(t(7 * 3600))), Some(t(3600)));
    }

    /// When each API was last re-checked, in a simulated controller: polls at the
    /// schedule's times, some failing (their windows are not passes), a success
    /// re-checking the APIs whose phase falls in its window.
    struct Simulated {
        apis: Vec<String>,
        last_check: Vec<Timestamp>,
        last_sync: Timestamp,
        last_full: Timestamp,
    }

    impl Simulated {
        const APIS: usize = 100;

        fn link() -> apilink_core::LinkId {
            apilink_core::LinkId::new("ns/link").unwrap()
        }

        fn new(at: Timestamp) -> Self {
            Self {
                apis: (0..Self::APIS).map(|i| format!("api-{i}")).collect(),
                last_check: vec![at; Self::APIS],
                last_sync: window_end(at),
                last_full: window_end(at),
            }
        }

        fn pass(&mut self, now: Timestamp) {
            let coverage = pass_coverage(
                now,
                Some(self.last_sync),
                Some(self.last_full),
                P,
                false,
                false,
            );
            let end = window_end(now);
            let link = Self::link();
            for (api, checked) in self.apis.iter().zip(self.last_check.iter_mut()) {
                if coverage.rechecks(&link, api) {
                    *checked = end;
                }
            }
            if coverage == Coverage::Everything {
                self.last_full = end;
            }
            self.last_sync = end;
        }

        fn oldest_check(&self) -> Timestamp {
            self.last_check.iter().copied().min().unwrap()
        }
    }

    #[test]
    fn the_status_never_claims_fresher_definitions_than_they_are() {
        for seed in 0..8u64 {
            let mut sim = Simulated::new(t(0));
            let mut now = t(0);
            let mut longest = Duration::ZERO;
            for step in 0..1_500u64 {
                let roll = unit_hash((seed, step));
                // One poll in ten fails (and is retried a few seconds later); now and
                // then an outage of up to an hour.
                let ok = roll >= 0.1;
                let delay = if roll < 0.01 {
                    Duration::from_secs(3600)
                } else if ok {
                    after_success(now, window_end(now), P, seed ^ step)
                } else {
                    Duration::from_secs(4)
                };
                if ok {
                    sim.pass(now);
                    let since = rechecked_since(Some(sim.last_full), Some(sim.last_sync), P.resync)
                        .unwrap();
                    assert!(
                        since <= sim.oldest_check(),
                        "seed {seed} step {step}: claimed {since}, oldest {}",
                        sim.oldest_check()
                    );
                }
                let age: Duration = sim
                    .oldest_check()
                    .duration_until(now)
                    .try_into()
                    .unwrap_or_default();
                longest = longest.max(age);
                now = add(now, delay);
            }
            assert!(longest > Duration::ZERO);
        }
    }

    #[test]
    fn steady_polls_keep_every_definition_within_the_bound() {
        let mut sim = Simulated::new(t(0));
        let mut now = t(0);
        let mut checks = vec![Vec::new(); Simulated::APIS];
        while now < t(3 * 6 * 3600) {
            let before = sim.last_check.clone();
            sim.pass(now);
            for (i, (was, is)) in before.iter().zip(&sim.last_check).enumerate() {
                if was != is {
                    checks[i].push(*is);
                }
            }
            now = add(
                now,
                after_success(now, window_end(now), P, now.as_second() as u64),
            );
        }
        for (i, times) in checks.iter().enumerate() {
            assert!(times.len() >= 3, "api-{i} checked {} times", times.len());
            for pair in times.windows(2) {
                let gap: Duration = pair[0].duration_until(pair[1]).try_into().unwrap();
                assert!(gap <= P.bound(), "api-{i} waited {gap:?}");
                assert!(
                    gap >= P.resync - P.interval,
                    "api-{i} checked again after {gap:?}"
                );
            }
        }
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let fast: Vec<u64> = (1..=7)
            .map(|n| backoff(n, ErrorClass::RetryFast, None).as_secs())
            .collect();
        assert_eq!(fast, vec![1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(20, ErrorClass::RetrySlow, None), SLOW_BACKOFF_CAP);
        assert_eq!(
            backoff(u32::MAX, ErrorClass::Conflict, None),
            FAST_BACKOFF_CAP
        );
        assert_eq!(
            backoff(1, ErrorClass::RetrySlow, Some(Duration::from_secs(45))),
            Duration::from_secs(45)
        );
        assert_eq!(
            backoff(0, ErrorClass::RetryFast, None),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn no_wait_is_longer_than_an_hour_and_the_cap_is_said() {
        let day = Some(Duration::from_secs(86_400));
        assert_eq!(backoff(1, ErrorClass::RetrySlow, day), MAX_WAIT);
        assert_eq!(backoff(3, ErrorClass::NeedsUser, day), MAX_WAIT);
        let note = wait_cap_note(day).unwrap_or_default();
        assert!(note.contains("86400s") && note.contains("3600s"), "{note}");
        assert_eq!(wait_cap_note(Some(Duration::from_secs(3600))), None);
        assert_eq!(wait_cap_note(None), None);
    }

    #[test]
    fn bound_is_resync_plus_interval() {
        assert_eq!(P.bound(), Duration::from_secs(6 * 3600 + 60));
        assert_eq!(bound_exceeded(t(6 * 3600 + 60), t(0), P), None);
        assert_eq!(
            bound_exceeded(t(6 * 3600 + 61), t(0), P),
            Some(Duration::from_secs(6 * 3600 + 61))
        );
        assert_eq!(
            bound_exceeded(t(0), t(100), P),
            None,
            "clock skew is not an excess"
        );
    }

    #[test]
    fn own_status_writes_do_not_start_a_pass() {
        let memory = LinkMemory {
            next_pass_at: Some(t(60)),
            failures: 0,
        };
        let i = DueInput {
            memory: Some(memory),
            ..input(t(5))
        };
        assert_eq!(due(i), Due::At(t(60)));
        let i = DueInput {
            memory: Some(memory),
            ..input(t(60))
        };
        assert_eq!(due(i), Due::Now(Trigger::Scheduled));
    }

    #[test]
    fn changes_trigger_at_once() {
        let stalled = Some(LinkMemory {
            next_pass_at: None,
            failures: 3,
        });
        assert_eq!(
            due(DueInput {
                memory: stalled,
                ..input(t(0))
            }),
            Due::Never
        );
        let i = DueInput {
            generation: Some(3),
            memory: stalled,
            ..input(t(0))
        };
        assert_eq!(due(i), Due::Now(Trigger::SpecChanged));
        let i = DueInput {
            requested_at: Some("r2"),
            last_handled_requested_at: Some("r1"),
            memory: stalled,
            ..input(t(0))
        };
        assert_eq!(due(i), Due::Now(Trigger::Requested));
        let i = DueInput {
            requested_at: Some("r1"),
            last_handled_requested_at: Some("r1"),
            memory: stalled,
            ..input(t(0))
        };
        assert_eq!(due(i), Due::Never, "a handled request is not a new one");
        let i = DueInput {
            credentials_changed: true,
            memory: stalled,
            ..input(t(0))
        };
        assert_eq!(due(i), Due::Now(Trigger::CredentialsChanged));
    }

    #[test]
    fn first_sight_follows_the_status_rhythm() {
        assert_eq!(
            due(input(t(0))),
            Due::Now(Trigger::Scheduled),
            "never synced"
        );
        let i = DueInput {
            last_sync: Some(t(0)),
            ..input(t(30))
        };
        assert_eq!(due(i), Due::At(t(60)));
        let i = DueInput {
            last_sync: Some(t(0)),
            ..input(t(90))
        };
        assert_eq!(due(i), Due::Now(Trigger::Scheduled));
    }

    #[test]
    fn unit_hash_is_in_range() {
        for i in 0..1000u32 {
            let u = unit_hash(i);
            assert!((0.0..1.0).contains(&u));
        }
    }
}
