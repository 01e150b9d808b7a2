//! The condition state machine (kstatus, ported from Flux's algorithm): `Ready` is always
//! present; `Reconciling` and `Stalled` only while True. `lastTransitionTime` moves only
//! when a condition's status flips. Pure: the caller passes the clock.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";

pub const TRUE: &str = "True";
pub const FALSE: &str = "False";
pub const UNKNOWN: &str = "Unknown";

/// Reasons the controller itself sets (runner errors bring their own).
pub mod reason {
    pub const PROGRESSING: &str = "Progressing";
    pub const PROGRESSING_WITH_RETRY: &str = "ProgressingWithRetry";
    pub const SUCCEEDED: &str = "Succeeded";
    pub const SUSPENDED: &str = "Suspended";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    pub const SECRET_INVALID: &str = "SecretInvalid";
    pub const CONVERGENCE_BOUND_EXCEEDED: &str = "ConvergenceBoundExceeded";
    pub const DELETING: &str = "Deleting";
    pub const DELETIONS_HELD: &str = "DeletionsHeld";
    pub const API_FAILURES: &str = "ApiFailures";
}

/// Longest condition message written; the API allows 32 KiB, people read far less.
pub const MAX_MESSAGE_CHARS: usize = 1024;

/// What one reconcile concluded about the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A pass is under way (written before long passes: first sync, new spec, requested).
    Progressing { message: String },
    /// The pass succeeded.
    Succeeded { message: String },
    /// A retryable failure; the controller will try again by itself.
    Retrying { reason: String, message: String },
    /// Retrying, but some definition may have gone longer than the convergence bound
    /// without a re-check (see `schedule::rechecked_since`).
    BoundExceeded { message: String },
    /// Only the user can fix it; no retry until the spec (or its Secret) changes.
    Stalled { reason: String, message: String },
    /// `spec.suspend: true`: nothing is done.
    Suspended { message: String },
    /// The pass ran, but the deletion guard held API deletions until someone confirms
    /// their number: not ready, and neither retrying nor stalled.
    DeletionsHeld { message: String },
    /// The pass ran, but some APIs were refused for a reason only a person can fix; each
    /// backs off on its own while the rest of the link syncs. Not ready, not stalled.
    ApiFailures { message: String },
}

/// A condition reason as the API accepts it (`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`,
/// at most 1024 characters): anything else from a runner becomes `Error`-prefixed.
pub fn sanitize_reason(raw: &str) -> String {
    let kept: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(1000)
        .collect();
    if kept.starts_with(|c: char| c.is_ascii_alphabetic()) {
        kept
    } else {
        format!("Error{kept}")
    }
}

/// Cuts a message to [`MAX_MESSAGE_CHARS`] on a character boundary.
pub fn truncate_message(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message.to_string();
    }
    let mut out: String = message.chars().take(MAX_MESSAGE_CHARS - 1).collect();
    out.push('…');
    out
}

/// One desired condition before timestamps are settled.
struct Desired {
    type_: &'static str,
    status: &'static str,
    reason: String,
    message: String,
}

fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn desired(previous: &[Condition], verdict: &Verdict) -> Vec<Desired> {
    let d = |type_, status, reason: &str, message: &str| Desired {
        type_,
        status,
        reason: sanitize_reason(reason),
        message: truncate_message(message),
    };
    match verdict {
        Verdict::Progressing { message } => vec![
            d(READY, UNKNOWN, reason::PROGRESSING, message),
            d(RECONCILING, TRUE, reason::PROGRESSING, message),
        ],
        Verdict::Succeeded { message } => vec![d(READY, TRUE, reason::SUCCEEDED, message)],
        Verdict::DeletionsHeld { message } => {
            vec![d(READY, FALSE, reason::DELETIONS_HELD, message)]
        }
        Verdict::ApiFailures { message } => vec![d(READY, FALSE, reason::API_FAILURES, message)],
        Verdict::Retrying { reason, message } => vec![
            d(READY, FALSE, reason, message),
            d(RECONCILING, TRUE, reason::PROGRESSING_WITH_RETRY, message),
        ],
        Verdict::BoundExceeded { message } => vec![
            d(READY, FALSE, reason::CONVERGENCE_BOUND_EXCEEDED, message),
            d(RECONCILING, TRUE, reason::PROGRESSING_WITH_RETRY, message),
        ],
        Verdict::Stalled { reason, message } => vec![
            d(READY, FALSE, reason, message),
            d(STALLED, TRUE, reason, message),
        ],
        Verdict::Suspended { message } => {
            // Suspending says nothing new about Azure: keep Ready's status (and so its
            // transition time), only the reason says why nothing moves.
            let status = match find(previous, READY).map(|c| c.status.as_str()) {
                Some(TRUE) => TRUE,
                Some(FALSE) => FALSE,
                _ => UNKNOWN,
            };
            vec![d(READY, status, reason::SUSPENDED, message)]
        }
    }
}

/// The conditions after `verdict`, given the previous ones. `Reconciling` and `Stalled`
/// disappear when not True; conditions of other types (written by someone else) are kept.
pub fn next_conditions(
    previous: &[Condition],
    verdict: &Verdict,
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let mut out: Vec<Condition> = Vec::new();
    for want in desired(previous, verdict) {
        let last_transition_time = match find(previous, want.type_) {
            Some(old) if old.status == want.status => old.last_transition_time.clone(),
            _ => Time(now),
        };
        out.push(Condition {
            type_: want.type_.to_string(),
            status: want.status.to_string(),
            reason: want.reason,
            message: want.message,
            observed_generation: generation,
            last_transition_time,
        });
    }
    for other in previous {
        let ours = [READY, RECONCILING, STALLED].contains(&other.type_.as_str());
        if !ours {
            out.push(other.clone());
        }
    }
    out
}

/// True when the `Ready` condition's status or reason differs between the two lists:
/// what changes the story a person reads (used to decide on events).
pub fn ready_changed(previous: &[Condition], next: &[Condition]) -> bool {
    let key = |list: &[Condition]| find(list, READY).map(|c| (c.status.clone(), c.reason.clone()));
    key(previous) != key(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn get<'a>(list: &'a [Condition], type_: &str) -> Option<&'a Condition> {
        find(list, type_)
    }

    fn types(list: &[Condition]) -> Vec<&str> {
        list.iter().map(|c| c.type_.as_str()).collect()
    }

    #[test]
    fn progressing_then_success() {
        let progressing = next_conditions(
            &[],
            &Verdict::Progressing {
                message: "first sync".into(),
            },
            Some(1),
            t(0),
        );
        assert_eq!(types(&progressing), vec![READY, RECONCILING]);
        assert_eq!(get(&progressing, READY).unwrap().status, UNKNOWN);
        assert_eq!(
            get(&progressing, RECONCILING).unwrap().reason,
            "Progressing"
        );

        let done = next_conditions(
            &progressing,
            &Verdict::Succeeded {
                message: "120 APIs".into(),
            },
            Some(1),
            t(10),
        );
        assert_eq!(types(&done), vec![READY], "success leaves only Ready");
        let ready = get(&done, READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            (TRUE, "Succeeded")
        );
        assert_eq!(ready.last_transition_time, Time(t(10)));
        assert_eq!(ready.observed_generation, Some(1));
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let ok = next_conditions(
            &[],
            &Verdict::Succeeded {
                message: "a".into(),
            },
            Some(1),
            t(0),
        );
        let again = next_conditions(
            &ok,
            &Verdict::Succeeded {
                message: "b".into(),
            },
            Some(2),
            t(60),
        );
        assert_eq!(get(&again, READY).unwrap().last_transition_time, Time(t(0)));
        assert_eq!(get(&again, READY).unwrap().message, "b");
        assert_eq!(get(&again, READY).unwrap().observed_generation, Some(2));

        let failing = Verdict::Retrying {
            reason: "AzureThrottled".into(),
            message: "429".into(),
        };
        let f1 = next_conditions(&again, &failing, Some(2), t(120));
        assert_eq!(get(&f1, READY).unwrap().last_transition_time, Time(t(120)));
        let other_reason = Verdict::Retrying {
            reason: "AzureUnavailable".into(),
            message: "503".into(),
        };
        let f2 = next_conditions(&f1, &other_reason, Some(2), t(180));
        // Same status (False), new reason: the transition time stays.
        assert_eq!(get(&f2, READY).unwrap().last_transition_time, Time(t(120)));
        assert_eq!(get(&f2, READY).unwrap().reason, "AzureUnavailable");
        assert_eq!(
            get(&f2, RECONCILING).unwrap().last_transition_time,
            Time(t(120))
        );
    }

    #[test]
    fn retryable_error_is_reconciling_not_stalled() {
        let list = next_conditions(
            &[],
            &Verdict::Retrying {
                reason: "AzureThrottled".into(),
                message: "slow down".into(),
            },
            Some(3),
            t(0),
        );
        assert_eq!(types(&list), vec![READY, RECONCILING]);
        assert_eq!(get(&list, READY).unwrap().status, FALSE);
        assert_eq!(get(&list, READY).unwrap().reason, "AzureThrottled");
        assert_eq!(
            get(&list, RECONCILING).unwrap().reason,
            "ProgressingWithRetry"
        );
        assert!(get(&list, STALLED).is_none());
    }

    #[test]
    fn user_error_is_stalled_not_reconciling() {
        let retrying = next_conditions(
            &[],
            &Verdict::Retrying {
                reason: "AzureUnavailable".into(),
                message: "x".into(),
            },
            Some(1),
            t(0),
        );
        let stalled = next_conditions(
            &retrying,
            &Verdict::Stalled {
                reason: "InvalidSpec".into(),
                message: "bad glob".into(),
            },
            Some(2),
            t(5),
        );
        assert_eq!(types(&stalled), vec![READY, STALLED]);
        assert_eq!(get(&stalled, READY).unwrap().reason, "InvalidSpec");
        assert_eq!(get(&stalled, STALLED).unwrap().status, TRUE);
        // Ready was already False: its transition time is kept.
        assert_eq!(
            get(&stalled, READY).unwrap().last_transition_time,
            Time(t(0))
        );
    }

    #[test]
    fn bound_exceeded_has_its_own_reason() {
        let list = next_conditions(
            &[],
            &Verdict::BoundExceeded {
                message: "26h".into(),
            },
            Some(1),
            t(0),
        );
        assert_eq!(
            get(&list, READY).unwrap().reason,
            "ConvergenceBoundExceeded"
        );
        assert_eq!(get(&list, RECONCILING).unwrap().status, TRUE);
    }

    #[test]
    fn suspend_keeps_ready_status_and_time() {
        let ok = next_conditions(
            &[],
            &Verdict::Succeeded {
                message: "a".into(),
            },
            Some(1),
            t(0),
        );
        let suspended = next_conditions(
            &ok,
            &Verdict::Suspended {
                message: "s".into(),
            },
            Some(2),
            t(30),
        );
        let ready = get(&suspended, READY).unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            (TRUE, "Suspended")
        );
        assert_eq!(ready.last_transition_time, Time(t(0)));
        assert_eq!(ready.observed_generation, Some(2));
        let fresh = next_conditions(
            &[],
            &Verdict::Suspended {
                message: "s".into(),
            },
            Some(1),
            t(0),
        );
        assert_eq!(get(&fresh, READY).unwrap().status, UNKNOWN);
    }

    #[test]
    fn foreign_conditions_are_kept() {
        let mut previous = next_conditions(
            &[],
            &Verdict::Succeeded {
                message: "a".into(),
            },
            Some(1),
            t(0),
        );
        previous.push(Condition {
            type_: "example.com/Audited".into(),
            status: TRUE.into(),
            reason: "Audited".into(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(t(0)),
        });
        let next = next_conditions(
            &previous,
            &Verdict::Progressing {
                message: "m".into(),
            },
            Some(1),
            t(5),
        );
        assert_eq!(
            types(&next),
            vec![READY, RECONCILING, "example.com/Audited"]
        );
    }

    #[test]
    fn reasons_and_messages_are_made_acceptable() {
        assert_eq!(sanitize_reason("AzureThrottled"), "AzureThrottled");
        assert_eq!(sanitize_reason("Bad reason!"), "Badreason");
        assert_eq!(sanitize_reason("429"), "Error429");
        assert_eq!(sanitize_reason(""), "Error");
        let long = "é".repeat(5000);
        let cut = truncate_message(&long);
        assert_eq!(cut.chars().count(), MAX_MESSAGE_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_message("short"), "short");
    }

    #[test]
    fn ready_change_detection() {
        let ok = next_conditions(
            &[],
            &Verdict::Succeeded {
                message: "a".into(),
            },
            Some(1),
            t(0),
        );
        let ok2 = next_conditions(
            &ok,
            &Verdict::Succeeded {
                message: "b".into(),
            },
            Some(1),
            t(1),
        );
        assert!(!ready_changed(&ok, &ok2));
        let bad = next_conditions(
            &ok2,
            &Verdict::Retrying {
                reason: "X".into(),
                message: "m".into(),
            },
            Some(1),
            t(2),
        );
        assert!(ready_changed(&ok2, &bad));
        assert!(ready_changed(&[], &ok));
    }
}
