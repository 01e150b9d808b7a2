//! How a pass ends: the verdict the status shows, what the controller remembers of the
//! link, when it looks at the link again and whether the deletion confirmation is used
//! up, from the pass's result and what the status said before. Pure: the clock is a
//! parameter.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;

use crate::api_failures;
use crate::conditions::Verdict;
use crate::crd::{ApiFailureStatus, PassMode};
use crate::runner::{ErrorClass, RunError, SyncOutcome};
use crate::schedule::{self, LinkMemory, Periods, add};
use crate::status;

/// What the end of a pass depends on besides its result.
#[derive(Debug, Clone, Copy)]
pub struct PassEnd<'a> {
    pub mode: PassMode,
    pub periods: Periods,
    /// When the pass ended.
    pub now: Timestamp,
    /// Where the pass's resync window ended (when it started): the next poll is due an
    /// `interval` after it.
    pub window_end: Timestamp,
    /// Consecutive failed passes before this one.
    pub failures: u32,
    /// Where the last successful window ended (`status.lastSyncTime`).
    pub last_sync: Option<Timestamp>,
    /// The last successful full pass (`status.lastFullResyncTime`).
    pub last_full_resync: Option<Timestamp>,
    /// When the link was created: the bound of a link that never had a full pass counts
    /// from there.
    pub created: Option<Timestamp>,
    /// The APIs failing before the pass (`status.apiFailures`).
    pub api_failures: &'a [ApiFailureStatus],
    /// The number of held deletions the pass was told were confirmed.
    pub confirmed_deletions: Option<usize>,
}

/// What follows a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conclusion {
    pub verdict: Verdict,
    pub memory: LinkMemory,
    /// When to look at the link again; `None`: only when it (or its Secret) changes.
    pub requeue: Option<Duration>,
    /// The pass failed: the reconcile counts as an error, a terminal one when nothing
    /// is requeued.
    pub failed: bool,
    /// The `apilink.dev/confirm-deletions` annotation released the deletions it
    /// confirmed: remove it, so it cannot release a later hold nobody has looked at.
    pub consume_confirmation: bool,
}

/// Concludes a pass that ended at `end.now` with `result`.
pub fn conclude(result: Result<&SyncOutcome, &RunError>, end: &PassEnd<'_>) -> Conclusion {
    match result {
        Ok(outcome) => after_success(outcome, end),
        Err(err) => after_failure(err, end),
    }
}

/// Ready unless deletions are held or APIs fail; the next poll an `interval` (up to
/// 10 % less) after the pass's window ended.
fn after_success(outcome: &SyncOutcome, end: &PassEnd<'_>) -> Conclusion {
    let failing = api_failures::next(
        end.api_failures,
        &outcome.api_failures,
        &outcome.paused_apis,
        end.now,
    );
    let verdict = match &outcome.held_deletions {
        Some(held) => Verdict::DeletionsHeld {
            message: held.message.clone(),
        },
        None if !failing.is_empty() => Verdict::ApiFailures {
            message: api_failures::message(&failing),
        },
        None => Verdict::Succeeded {
            message: status::success_message(outcome, end.mode),
        },
    };
    let seed =
        u64::try_from(end.now.as_nanosecond().rem_euclid(i128::from(u64::MAX))).unwrap_or_default();
    let delay = schedule::after_success(end.now, end.window_end, end.periods, seed);
    Conclusion {
        verdict,
        memory: LinkMemory {
            next_pass_at: Some(add(end.now, delay)),
            failures: 0,
        },
        requeue: Some(delay),
        failed: false,
        consume_confirmation: end.confirmed_deletions.is_some() && outcome.held_deletions.is_none(),
    }
}

/// Stalled until a change when only the user can clear the error, else a retry after
/// the backoff.
fn after_failure(err: &RunError, end: &PassEnd<'_>) -> Conclusion {
    let failures = end.failures.saturating_add(1);
    let message = match schedule::wait_cap_note(err.retry_after) {
        Some(note) => format!("{}; {note}", err.message),
        None => err.message.clone(),
    };
    let verdict = failure_verdict(err, message, end);
    let next_pass_in =
        (!err.is_terminal()).then(|| schedule::backoff(failures, err.class, err.retry_after));
    Conclusion {
        verdict,
        memory: LinkMemory {
            next_pass_at: next_pass_in.map(|delay| add(end.now, delay)),
            failures,
        },
        requeue: next_pass_in,
        failed: true,
        consume_confirmation: false,
    }
}

/// The verdict after a failed pass: stalled when only the user can clear it (a spec,
/// credential or permission problem — permissions are still probed slowly, see
/// [`schedule::backoff`], because role assignments take minutes to propagate), past
/// the convergence bound when some definition may have gone longer than the bound
/// without a re-check, else retrying.
fn failure_verdict(err: &RunError, message: String, end: &PassEnd<'_>) -> Verdict {
    if err.class == ErrorClass::NeedsUser {
        return Verdict::Stalled {
            reason: err.reason.clone(),
            message,
        };
    }
    let since = schedule::rechecked_since(end.last_full_resync, end.last_sync, end.periods.resync)
        .or(end.created);
    if let Some(age) = since.and_then(|since| schedule::bound_exceeded(end.now, since, end.periods))
    {
        return Verdict::BoundExceeded {
            message: format!(
                "Some definitions have gone {}s without a re-check (bound {}s); last error {}: {}",
                age.as_secs(),
                end.periods.bound().as_secs(),
                err.reason,
                message
            ),
        };
    }
    Verdict::Retrying {
        reason: err.reason.clone(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{ApiFailure, HeldDeletions};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    const P: Periods = Periods {
        interval: Duration::from_secs(60),
        resync: Duration::from_secs(3600),
    };

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn end(now: Timestamp) -> PassEnd<'static> {
        PassEnd {
            mode: PassMode::Light,
            periods: P,
            now,
            window_end: now,
            failures: 0,
            last_sync: Some(t(0)),
            last_full_resync: Some(t(0)),
            created: Some(t(-100)),
            api_failures: &[],
            confirmed_deletions: None,
        }
    }

    fn held() -> SyncOutcome {
        SyncOutcome {
            held_deletions: Some(HeldDeletions {
                count: 3,
                message: "3 deletions held".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn refused(api: &str) -> SyncOutcome {
        SyncOutcome {
            api_failures: vec![ApiFailure {
                api: api.into(),
                reason: "InvalidRequest".into(),
                message: "title too long".into(),
            }],
            ..Default::default()
        }
    }

    fn error(class: ErrorClass, reason: &str) -> RunError {
        RunError::new(class, reason, "it broke")
    }

    /// The kind of a verdict and its reason (for the verdicts that carry one).
    fn kind(verdict: &Verdict) -> (&'static str, &str) {
        match verdict {
            Verdict::Progressing { .. } => ("Progressing", ""),
            Verdict::Succeeded { .. } => ("Succeeded", ""),
            Verdict::Retrying { reason, .. } => ("Retrying", reason),
            Verdict::BoundExceeded { .. } => ("BoundExceeded", ""),
            Verdict::Stalled { reason, .. } => ("Stalled", reason),
            Verdict::Suspended { .. } => ("Suspended", ""),
            Verdict::DeletionsHeld { .. } => ("DeletionsHeld", ""),
            Verdict::ApiFailures { .. } => ("ApiFailures", ""),
        }
    }

    /// A successful pass and what must follow.
    struct Success<'a> {
        case: &'static str,
        outcome: SyncOutcome,
        facts: PassEnd<'a>,
        /// The kind of verdict.
        verdict: &'static str,
        /// Whether the confirmation annotation is used up.
        consume: bool,
    }

    impl<'a> Success<'a> {
        fn new(
            case: &'static str,
            outcome: SyncOutcome,
            facts: PassEnd<'a>,
            verdict: &'static str,
        ) -> Self {
            Self {
                case,
                outcome,
                facts,
                verdict,
                consume: false,
            }
        }

        fn consuming(self) -> Self {
            Self {
                consume: true,
                ..self
            }
        }
    }

    /// A failed pass and what must follow.
    struct Failure<'a> {
        case: &'static str,
        err: RunError,
        facts: PassEnd<'a>,
        /// The kind of verdict and its reason.
        verdict: (&'static str, &'static str),
        /// Seconds until the link is looked at again.
        requeue: Option<u64>,
        /// Consecutive failures after the pass.
        failures: u32,
    }

    impl<'a> Failure<'a> {
        fn new(
            case: &'static str,
            err: RunError,
            facts: PassEnd<'a>,
            verdict: (&'static str, &'static str),
        ) -> Self {
            Self {
                case,
                err,
                facts,
                verdict,
                requeue: None,
                failures: 0,
            }
        }

        fn then(self, requeue: Option<u64>, failures: u32) -> Self {
            Self {
                requeue,
                failures,
                ..self
            }
        }
    }

    #[test]
    fn successes() {
        let previous_failure = [ApiFailureStatus {
            api: "orders".into(),
            reason: "InvalidRequest".into(),
            message: "title too long".into(),
            failures: 1,
            retry_at: Time(t(200)),
        }];
        let paused = SyncOutcome {
            paused_apis: vec!["orders".into()],
            ..Default::default()
        };
        let full = PassEnd {
            mode: PassMode::Full,
            ..end(t(100))
        };
        let after_failures = PassEnd {
            failures: 4,
            ..end(t(100))
        };
        let confirmed = PassEnd {
            confirmed_deletions: Some(3),
            ..end(t(100))
        };
        let failing_before = PassEnd {
            api_failures: &previous_failure,
            ..end(t(100))
        };
        let plain = SyncOutcome::default;
        let table = [
            Success::new("plain", plain(), end(t(100)), "Succeeded"),
            Success::new("full", plain(), full, "Succeeded"),
            Success::new("after failures", plain(), after_failures, "Succeeded"),
            Success::new("held", held(), end(t(100)), "DeletionsHeld"),
            Success::new("held again, confirmed", held(), confirmed, "DeletionsHeld"),
            Success::new("confirmed and done", plain(), confirmed, "Succeeded").consuming(),
            Success::new("API refused", refused("orders"), end(t(100)), "ApiFailures"),
            Success::new("refused API paused", paused, failing_before, "ApiFailures"),
        ];
        for Success {
            case,
            outcome,
            facts,
            verdict,
            consume,
        } in table
        {
            let c = conclude(Ok(&outcome), &facts);
            assert_eq!(kind(&c.verdict).0, verdict, "{case}");
            assert_eq!(c.consume_confirmation, consume, "{case}");
            assert!(!c.failed, "{case}");
            assert_eq!(c.memory.failures, 0, "{case}");
            let delay = c.requeue.unwrap();
            assert!(
                delay >= Duration::from_secs(54) && delay <= Duration::from_secs(60),
                "{case}: an interval, up to 10 % early, got {delay:?}"
            );
            assert_eq!(c.memory.next_pass_at, Some(add(facts.now, delay)), "{case}");
        }
    }

    #[test]
    fn a_success_requeues_an_interval_after_its_window_ended() {
        // The pass's window ended at 100 (when it started); it took 30 s.
        let slow = PassEnd {
            window_end: t(100),
            ..end(t(130))
        };
        let c = conclude(Ok(&SyncOutcome::default()), &slow);
        let delay = c.requeue.unwrap();
        assert!(
            delay >= Duration::from_secs(24) && delay <= Duration::from_secs(30),
            "{delay:?}"
        );
        // A pass longer than the interval: the next one at once (its window is longer).
        let slower = PassEnd {
            window_end: t(100),
            ..end(t(200))
        };
        let c = conclude(Ok(&SyncOutcome::default()), &slower);
        assert_eq!(c.requeue, Some(Duration::from_secs(1)));
    }

    #[test]
    fn success_messages() {
        let c = conclude(Ok(&held()), &end(t(100)));
        assert_eq!(
            c.verdict,
            Verdict::DeletionsHeld {
                message: "3 deletions held".into()
            }
        );
        let c = conclude(Ok(&SyncOutcome::default()), &end(t(100)));
        assert_eq!(
            c.verdict,
            Verdict::Succeeded {
                message: status::success_message(&SyncOutcome::default(), PassMode::Light)
            }
        );
    }

    #[test]
    fn failures() {
        let day = Duration::from_secs(86_400);
        let throttled =
            RunError::new(ErrorClass::RetrySlow, "AzureThrottled", "busy").with_retry_after(day);
        let probed = RunError::new(ErrorClass::NeedsUser, "AuthorizationFailed", "no role")
            .with_retry_after(Duration::from_secs(120));
        let never_synced = PassEnd {
            last_full_resync: None,
            ..end(t(3700))
        };
        let third = PassEnd {
            failures: 2,
            ..end(t(100))
        };
        let boom = || error(ErrorClass::RetryFast, "Boom");
        let slow = error(ErrorClass::RetrySlow, "PassTimeout");
        let user = error(ErrorClass::NeedsUser, "InvalidRequest");
        let (now, late) = (end(t(100)), end(t(3700)));
        // Days after the last full resync, light polls re-checked a slice each: the
        // definitions due since the last success are overdue once that is longer ago
        // than an interval (conservatively: one interval after it).
        let windows = |now| PassEnd {
            last_full_resync: Some(t(-400_000)),
            last_sync: Some(t(10_000)),
            ..end(now)
        };
        let table = [
            Failure::new("transient", boom(), now, ("Retrying", "Boom")).then(Some(1), 1),
            Failure::new("third in a row", boom(), third, ("Retrying", "Boom")).then(Some(4), 3),
            Failure::new("slow", slow, third, ("Retrying", "PassTimeout")).then(Some(4), 3),
            Failure::new("user error", user, now, ("Stalled", "InvalidRequest")).then(None, 1),
            Failure::new("probed", probed, now, ("Stalled", "AuthorizationFailed"))
                .then(Some(120), 1),
            Failure::new("past the bound", boom(), late, ("BoundExceeded", "")).then(Some(1), 1),
            Failure::new(
                "a poll late",
                boom(),
                windows(t(10_060)),
                ("Retrying", "Boom"),
            )
            .then(Some(1), 1),
            Failure::new(
                "an interval late",
                boom(),
                windows(t(10_061)),
                ("BoundExceeded", ""),
            )
            .then(Some(1), 1),
            Failure::new("never synced", boom(), never_synced, ("BoundExceeded", ""))
                .then(Some(1), 1),
            Failure::new(
                "a day asked",
                throttled,
                now,
                ("Retrying", "AzureThrottled"),
            )
            .then(Some(3600), 1),
        ];
        for Failure {
            case,
            err,
            facts,
            verdict,
            requeue,
            failures,
        } in table
        {
            let c = conclude(Err(&err), &facts);
            assert_eq!(kind(&c.verdict), verdict, "{case}");
            assert!(c.failed, "{case}");
            assert!(!c.consume_confirmation, "{case}");
            assert_eq!(c.requeue, requeue.map(Duration::from_secs), "{case}");
            assert_eq!(c.memory.failures, failures, "{case}");
            assert_eq!(
                c.memory.next_pass_at,
                c.requeue.map(|d| add(facts.now, d)),
                "{case}"
            );
        }
    }

    #[test]
    fn failure_messages() {
        let c = conclude(Err(&error(ErrorClass::RetryFast, "Boom")), &end(t(3700)));
        assert_eq!(
            c.verdict,
            Verdict::BoundExceeded {
                message:
                    "Some definitions have gone 3700s without a re-check (bound 3660s); last error Boom: it broke"
                        .into()
            }
        );
        let capped = RunError::new(ErrorClass::RetrySlow, "AzureThrottled", "busy")
            .with_retry_after(Duration::from_secs(86_400));
        let c = conclude(Err(&capped), &end(t(100)));
        assert_eq!(
            c.verdict,
            Verdict::Retrying {
                reason: "AzureThrottled".into(),
                message: "busy; Azure asked to wait 86400s; apilink caps waits at 3600s and tries again then".into()
            }
        );
    }
}
