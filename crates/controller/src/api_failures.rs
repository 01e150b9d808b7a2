//! APIs that API Center refused for a reason only a person can fix, one API at a time
//! (an invalid value, a conflict, a refused import, a quota): the rest of the link keeps
//! syncing, and each such API is retried on its own slow backoff. The record lives in
//! the link's status, so a restarted controller or another replica keeps the backoff.
//! Pure: the caller passes the clock.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::crd::ApiFailureStatus;
use crate::runner::ApiFailure;

/// The first retry of a failing API.
pub const FIRST_RETRY: Duration = Duration::from_secs(300);
/// The longest wait between two tries of a failing API.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);
/// APIs kept in the status; more failing APIs are retried at every pass.
pub const MAX_LISTED: usize = 50;
/// Characters of each failure message kept in the status.
const MESSAGE_CHARS: usize = 300;

/// Wait before the next try after `failures` consecutive failures: 5 min, doubling, at
/// most an hour.
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1u32 << doublings).min(MAX_RETRY)
}

/// The APIs to leave alone in a pass at `now`: those still inside their backoff.
pub fn paused(previous: &[ApiFailureStatus], now: Timestamp) -> BTreeSet<String> {
    previous
        .iter()
        .filter(|f| f.retry_at.0 > now)
        .map(|f| f.api.clone())
        .collect()
}

/// The failing APIs after a pass at `now`: each API that failed again backs off
/// longer, a paused one keeps its entry, every other one recovered.
pub fn next(
    previous: &[ApiFailureStatus],
    failed: &[ApiFailure],
    paused: &[String],
    now: Timestamp,
) -> Vec<ApiFailureStatus> {
    let mut out: Vec<ApiFailureStatus> = previous
        .iter()
        .filter(|f| paused.contains(&f.api) && !failed.iter().any(|x| x.api == f.api))
        .cloned()
        .collect();
    for failure in failed {
        if out.iter().any(|f| f.api == failure.api) {
            continue;
        }
        let failures = previous
            .iter()
            .find(|f| f.api == failure.api)
            .map_or(1, |f| f.failures.saturating_add(1));
        let delay = retry_delay(failures);
        let retry_at = now.checked_add(jiff_span(delay)).unwrap_or(now);
        out.push(ApiFailureStatus {
            api: failure.api.clone(),
            reason: failure.reason.clone(),
            message: failure.message.chars().take(MESSAGE_CHARS).collect(),
            failures,
            retry_at: Time(retry_at),
        });
    }
    out.sort_by(|a, b| a.api.cmp(&b.api));
    out.truncate(MAX_LISTED);
    out
}

fn jiff_span(delay: Duration) -> k8s_openapi::jiff::SignedDuration {
    k8s_openapi::jiff::SignedDuration::try_from(delay)
        .unwrap_or(k8s_openapi::jiff::SignedDuration::MAX)
}

/// The `Ready` message while APIs fail: how many, the first ones and why.
pub fn message(failing: &[ApiFailureStatus]) -> String {
    let first: Vec<String> = failing
        .iter()
        .take(3)
        .map(|f| format!("{} ({}: {})", f.api, f.reason, f.message))
        .collect();
    format!(
        "{} API(s) refused by API Center, each retried on its own backoff (5 min doubling to 1 h) while the rest of the link syncs: {}{}",
        failing.len(),
        first.join("; "),
        if failing.len() > 3 { "; …" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn failure(api: &str) -> ApiFailure {
        ApiFailure {
            api: api.into(),
            reason: "InvalidRequest".into(),
            message: "title too long".into(),
        }
    }

    #[test]
    fn retries_back_off_from_five_minutes_to_an_hour() {
        let table = [
            (1, 300),
            (2, 600),
            (3, 1200),
            (4, 2400),
            (5, 3600),
            (40, 3600),
        ];
        for (failures, secs) in table {
            assert_eq!(
                retry_delay(failures),
                Duration::from_secs(secs),
                "{failures}"
            );
        }
    }

    #[test]
    fn failing_apis_pause_recover_and_back_off_longer() {
        let first = next(&[], &[failure("a"), failure("b")], &[], t(0));
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].retry_at, Time(t(300)));
        assert_eq!(
            paused(&first, t(10)),
            BTreeSet::from(["a".into(), "b".into()])
        );
        assert!(paused(&first, t(300)).is_empty(), "due again after 5 min");
        // At 5 min: a fails again, b recovered.
        let second = next(&first, &[failure("a")], &[], t(300));
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].failures, 2);
        assert_eq!(second[0].retry_at, Time(t(900)));
        // A pass while a is paused keeps its entry unchanged.
        let paused_pass = next(&second, &[], &["a".into()], t(400));
        assert_eq!(paused_pass, second);
        assert!(next(&second, &[], &[], t(900)).is_empty());
        assert!(message(&second).starts_with("1 API(s) refused"));
    }
}
