//! Which Kubernetes events a reconcile emits. Events mark changes a person would want to
//! see in `kubectl describe`: writes to API Center, repaired drift, a new problem, a
//! recovery, suspend and resume. A steady state emits nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use crate::conditions::{self, READY, TRUE, Verdict, reason};
use crate::runner::{CleanupOutcome, OperationCounts, SyncOutcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Normal,
    Warning,
}

/// One event to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec {
    pub severity: Severity,
    /// PascalCase, what happened.
    pub reason: String,
    /// PascalCase, what the controller was doing.
    pub action: &'static str,
    pub note: String,
}

pub const ACTION_SYNC: &str = "Sync";
pub const ACTION_CLEANUP: &str = "Cleanup";
pub const ACTION_PREFLIGHT: &str = "Preflight";

fn event(severity: Severity, reason: &str, action: &'static str, note: String) -> EventSpec {
    EventSpec {
        severity,
        reason: reason.to_string(),
        action,
        note: conditions::truncate_message(&note),
    }
}

/// `api create 2, version update 1` — counts only, never entity names.
pub fn describe_counts(counts: &OperationCounts) -> String {
    counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|((entity, op), n)| format!("{entity} {op} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ready(list: &[Condition]) -> Option<&Condition> {
    list.iter().find(|c| c.type_ == READY)
}

/// Events after a reconcile that ended in `verdict`, from the conditions before and after.
pub fn for_sync(
    previous: &[Condition],
    next: &[Condition],
    verdict: &Verdict,
    outcome: Option<&SyncOutcome>,
) -> Vec<EventSpec> {
    let was_suspended = ready(previous).is_some_and(|c| c.reason == reason::SUSPENDED);
    let changed = conditions::ready_changed(previous, next);
    // A problem is said once, when Ready changes to it.
    let warn_if_changed = |reason: &str, message: &str| -> Vec<EventSpec> {
        changed
            .then(|| event(Severity::Warning, reason, ACTION_SYNC, message.to_string()))
            .into_iter()
            .collect()
    };
    match verdict {
        Verdict::Progressing { .. } => Vec::new(),
        Verdict::Succeeded { message } => {
            let recovered = changed && ready(previous).is_some_and(|c| c.status != TRUE);
            for_success(message, outcome, was_suspended, recovered)
        }
        Verdict::Retrying { reason, message } | Verdict::Stalled { reason, message } => {
            warn_if_changed(&conditions::sanitize_reason(reason), message)
        }
        // Every pass that holds says so: the count may change, and someone has to act.
        Verdict::DeletionsHeld { message } => vec![event(
            Severity::Warning,
            reason::DELETIONS_HELD,
            ACTION_SYNC,
            message.clone(),
        )],
        Verdict::ApiFailures { message } => warn_if_changed(reason::API_FAILURES, message),
        Verdict::BoundExceeded { message } => {
            warn_if_changed(reason::CONVERGENCE_BOUND_EXCEEDED, message)
        }
        Verdict::Suspended { message } => (!was_suspended)
            .then(|| {
                event(
                    Severity::Normal,
                    reason::SUSPENDED,
                    ACTION_SYNC,
                    message.clone(),
                )
            })
            .into_iter()
            .collect(),
    }
}

/// Events after a successful pass: a resume, what it wrote, or a recovery (`recovered`:
/// Ready turned True from something else) that wrote nothing.
fn for_success(
    message: &str,
    outcome: Option<&SyncOutcome>,
    was_suspended: bool,
    recovered: bool,
) -> Vec<EventSpec> {
    let mut out = Vec::new();
    if was_suspended {
        out.push(event(
            Severity::Normal,
            "Resumed",
            ACTION_SYNC,
            message.to_string(),
        ));
    }
    if let Some(outcome) = outcome.filter(|o| o.changed_anything()) {
        out.extend(for_writes(outcome));
    } else if recovered {
        out.push(event(
            Severity::Normal,
            "Ready",
            ACTION_SYNC,
            message.to_string(),
        ));
    }
    out
}

/// Events of a pass that wrote to API Center: what it applied, and drift it put back.
fn for_writes(outcome: &SyncOutcome) -> Vec<EventSpec> {
    let mut out = vec![event(
        Severity::Normal,
        "Synced",
        ACTION_SYNC,
        format!(
            "Applied {} operation(s) to API Center ({}); APIs discovered {}, synced {}, skipped {}",
            outcome.operations_applied(),
            describe_counts(&outcome.applied),
            outcome.discovered,
            outcome.synced,
            outcome.skipped
        ),
    )];
    if outcome.drift_repaired > 0 {
        out.push(event(
            Severity::Normal,
            "DriftRepaired",
            ACTION_SYNC,
            format!(
                "Put back {} owned entit(y/ies) changed or deleted in API Center",
                outcome.drift_repaired
            ),
        ));
    }
    out
}

/// Event of a preflight: `note` lists its checks. Whether it is news is the caller's
/// call ([`crate::preflight::is_news`]).
pub fn for_preflight(passed: bool, note: String) -> EventSpec {
    if passed {
        event(
            Severity::Normal,
            crate::preflight::PREFLIGHT_PASSED,
            ACTION_PREFLIGHT,
            note,
        )
    } else {
        event(
            Severity::Warning,
            crate::preflight::PREFLIGHT_FAILED,
            ACTION_PREFLIGHT,
            note,
        )
    }
}

/// Event after a finished cleanup (the link is about to disappear).
pub fn for_cleanup_done(outcome: &CleanupOutcome) -> EventSpec {
    let mut note = format!(
        "Removed {} entit(y/ies) the link owned from API Center",
        outcome.deleted()
    );
    if !outcome.applied.is_empty() {
        note.push_str(&format!(" ({})", describe_counts(&outcome.applied)));
    }
    event(Severity::Normal, "CleanupSucceeded", ACTION_CLEANUP, note)
}

/// Event when the finalizer is released without touching Azure.
pub fn for_orphan(why: &str) -> EventSpec {
    event(
        Severity::Normal,
        "Orphaned",
        ACTION_CLEANUP,
        why.to_string(),
    )
}

/// Event when cleanup fails, only when the failure reason is new.
pub fn for_cleanup_failure(
    previous: &[Condition],
    next: &[Condition],
    reason: &str,
    message: &str,
) -> Option<EventSpec> {
    conditions::ready_changed(previous, next).then(|| {
        event(
            Severity::Warning,
            &conditions::sanitize_reason(reason),
            ACTION_CLEANUP,
            message.to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conditions::next_conditions;
    use k8s_openapi::jiff::Timestamp;

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_000).unwrap()
    }

    fn after(
        previous: &[Condition],
        verdict: &Verdict,
        outcome: Option<&SyncOutcome>,
    ) -> (Vec<Condition>, Vec<EventSpec>) {
        let next = next_conditions(previous, verdict, Some(1), now());
        let events = for_sync(previous, &next, verdict, outcome);
        (next, events)
    }

    fn reasons(events: &[EventSpec]) -> Vec<&str> {
        events.iter().map(|e| e.reason.as_str()).collect()
    }

    fn changed_outcome() -> SyncOutcome {
        let mut o = SyncOutcome {
            discovered: 3,
            synced: 3,
            ..Default::default()
        };
        o.applied.insert(("api".into(), "create".into()), 3);
        o
    }

    #[test]
    fn steady_state_is_silent() {
        let ok = Verdict::Succeeded {
            message: "in step".into(),
        };
        let (c1, _) = after(&[], &ok, Some(&changed_outcome()));
        let (c2, e2) = after(&c1, &ok, Some(&SyncOutcome::default()));
        assert!(e2.is_empty(), "{e2:?}");
        let (_, e3) = after(&c2, &ok, Some(&SyncOutcome::default()));
        assert!(e3.is_empty());
    }

    #[test]
    fn writes_and_drift_are_reported_with_counts_only() {
        let mut outcome = changed_outcome();
        outcome.drift_repaired = 2;
        let (_, events) = after(
            &[],
            &Verdict::Succeeded {
                message: "ok".into(),
            },
            Some(&outcome),
        );
        assert_eq!(reasons(&events), vec!["Synced", "DriftRepaired"]);
        assert!(
            events[0].note.contains("api create 3"),
            "{}",
            events[0].note
        );
        assert_eq!(events[0].severity, Severity::Normal);
    }

    #[test]
    fn errors_are_reported_once_per_new_reason() {
        let throttled = Verdict::Retrying {
            reason: "AzureThrottled".into(),
            message: "429".into(),
        };
        let (c1, e1) = after(&[], &throttled, None);
        assert_eq!(reasons(&e1), vec!["AzureThrottled"]);
        assert_eq!(e1[0].severity, Severity::Warning);
        let (c2, e2) = after(&c1, &throttled, None);
        assert!(e2.is_empty(), "the same failure again is not news");
        let down = Verdict::Retrying {
            reason: "AzureUnavailable".into(),
            message: "503".into(),
        };
        let (c3, e3) = after(&c2, &down, None);
        assert_eq!(reasons(&e3), vec!["AzureUnavailable"]);
        let (_, e4) = after(
            &c3,
            &Verdict::Succeeded {
                message: "back".into(),
            },
            Some(&SyncOutcome::default()),
        );
        assert_eq!(reasons(&e4), vec!["Ready"], "recovery is news");
    }

    #[test]
    fn stall_and_bound_and_suspend() {
        let (c1, e1) = after(
            &[],
            &Verdict::Stalled {
                reason: "InvalidSpec".into(),
                message: "m".into(),
            },
            None,
        );
        assert_eq!(reasons(&e1), vec!["InvalidSpec"]);
        let (_, e2) = after(
            &c1,
            &Verdict::BoundExceeded {
                message: "late".into(),
            },
            None,
        );
        assert_eq!(reasons(&e2), vec!["ConvergenceBoundExceeded"]);
        let (s1, e3) = after(
            &c1,
            &Verdict::Suspended {
                message: "s".into(),
            },
            None,
        );
        assert_eq!(reasons(&e3), vec!["Suspended"]);
        let (s2, e4) = after(
            &s1,
            &Verdict::Suspended {
                message: "s".into(),
            },
            None,
        );
        assert!(e4.is_empty());
        let (_, e5) = after(
            &s2,
            &Verdict::Succeeded {
                message: "r".into(),
            },
            Some(&SyncOutcome::default()),
        );
        assert_eq!(reasons(&e5), vec!["Resumed", "Ready"]);
    }

    #[test]
    fn cleanup_events() {
        let mut outcome = CleanupOutcome::default();
        outcome.applied.insert(("api".into(), "delete".into()), 4);
        outcome
            .applied
            .insert(("environment".into(), "delete".into()), 1);
        let e = for_cleanup_done(&outcome);
        assert_eq!(e.reason, "CleanupSucceeded");
        assert!(e.note.contains("Removed 5"), "{}", e.note);
        assert!(e.note.contains("environment delete 1"));
        assert_eq!(for_orphan("policy Orphan").reason, "Orphaned");
        let failing = Verdict::Retrying {
            reason: "AuthorizationFailed".into(),
            message: "m".into(),
        };
        let next = next_conditions(&[], &failing, Some(1), now());
        assert!(for_cleanup_failure(&[], &next, "AuthorizationFailed", "m").is_some());
        assert!(for_cleanup_failure(&next, &next, "AuthorizationFailed", "m").is_none());
    }
}
