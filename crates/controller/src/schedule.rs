//! When to run a pass and how much to read: light polls every `interval`, a full resync
//! every `resyncInterval` (never later, so the convergence bound holds), exponential
//! backoff after failures, nothing at all for stalled links. Pure: clock and seeds are
//! parameters.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use apilink_core::ErrorClass;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::crd::PassMode;

/// Light polls are spread by up to ±10 % so links created together drift apart.
const LIGHT_JITTER: f64 = 0.10;
/// Full resyncs come up to 20 % early, never late: the bound is a promise.
const FULL_EARLY_JITTER: f64 = 0.20;
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
    /// The convergence bound: a full pass must succeed at least this often. One light
    /// interval on top of `resyncInterval` covers scheduling and the pass itself.
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

/// When the next full resync is due after one finished at `last_full`.
pub fn full_resync_due(last_full: Timestamp, periods: Periods, link: &str) -> Timestamp {
    let early = unit_hash((link, last_full.as_second())) * FULL_EARLY_JITTER;
    add(last_full, scale(periods.resync, 1.0 - early))
}

/// What a pass should read.
pub fn pass_mode(
    now: Timestamp,
    last_full: Option<Timestamp>,
    periods: Periods,
    link: &str,
    spec_changed: bool,
    requested: bool,
) -> PassMode {
    // A new spec (filter, import setting…) or an explicit request re-reads everything.
    if spec_changed || requested {
        return PassMode::Full;
    }
    match last_full {
        None => PassMode::Full,
        Some(last) if add(now, DUE_SLACK) >= full_resync_due(last, periods, link) => PassMode::Full,
        Some(_) => PassMode::Light,
    }
}

/// Delay until the next pass after a success: the light interval with jitter, or the
/// full resync if that comes first.
pub fn after_success(now: Timestamp, periods: Periods, full_due: Timestamp, seed: u64) -> Duration {
    let jitter = (unit_hash(seed) * 2.0 - 1.0) * LIGHT_JITTER;
    let light = scale(periods.interval, 1.0 + jitter);
    let until_full = now
        .duration_until(full_due)
        .try_into()
        .unwrap_or(Duration::ZERO);
    light.min(until_full).max(DUE_SLACK)
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

/// How long the link has gone without a successful full pass, if that is beyond the
/// bound. `since` is the last full resync, or the creation time of a link never synced.
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

    #[test]
    fn full_resync_is_never_late_and_links_differ() {
        let mut dues = std::collections::BTreeSet::new();
        for i in 0..50 {
            let due = full_resync_due(t(0), P, &format!("ns/link-{i}"));
            assert!(due <= t(6 * 3600), "late for link {i}");
            assert!(
                due >= t((6.0 * 3600.0 * 0.8) as i64 - 1),
                "too early for link {i}"
            );
            dues.insert(due);
        }
        assert!(dues.len() > 40, "jitter spreads links: {}", dues.len());
        // Deterministic for one link and cycle.
        assert_eq!(
            full_resync_due(t(0), P, "a/b"),
            full_resync_due(t(0), P, "a/b")
        );
    }

    #[test]
    fn mode_is_full_on_first_pass_new_spec_request_or_due() {
        assert_eq!(
            pass_mode(t(0), None, P, "a/b", false, false),
            PassMode::Full
        );
        assert_eq!(
            pass_mode(t(60), Some(t(0)), P, "a/b", false, false),
            PassMode::Light
        );
        assert_eq!(
            pass_mode(t(60), Some(t(0)), P, "a/b", true, false),
            PassMode::Full
        );
        assert_eq!(
            pass_mode(t(60), Some(t(0)), P, "a/b", false, true),
            PassMode::Full
        );
        assert_eq!(
            pass_mode(t(6 * 3600), Some(t(0)), P, "a/b", false, false),
            PassMode::Full
        );
        let due = full_resync_due(t(0), P, "a/b");
        assert_eq!(
            pass_mode(due, Some(t(0)), P, "a/b", false, false),
            PassMode::Full
        );
    }

    #[test]
    fn success_requeues_within_jittered_interval_or_at_full_due() {
        for seed in 0..200 {
            let d = after_success(t(0), P, t(10 * 3600), seed);
            assert!(
                d >= Duration::from_secs(54) && d <= Duration::from_secs(66),
                "{d:?}"
            );
        }
        assert_eq!(after_success(t(0), P, t(20), 7), Duration::from_secs(20));
        // An overdue full resync is not a zero-delay loop.
        assert_eq!(after_success(t(100), P, t(0), 7), DUE_SLACK);
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
