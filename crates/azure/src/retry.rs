//! When to retry an ARM call and how long to wait: jittered exponential backoff for
//! transient failures, and `Retry-After` (seconds or an HTTP date) honoured exactly —
//! never retried earlier, since an early retry only earns another 429.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use rand::Rng;

use crate::error::TransportKind;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries for transient failures (5xx, 408, transport errors).
    pub max_retries: u32,
    /// Retries for answers that carry `Retry-After` (429, 503): a throttling storm is
    /// waited out as long as the server asks within `max_total_wait`.
    pub max_throttle_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A `Retry-After` longer than this is not waited in-line: the error is returned
    /// with the hint so the caller can requeue instead of holding a worker.
    pub max_retry_after: Duration,
    /// Upper bound on the sum of all waits for one logical request.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            max_throttle_retries: 30,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
            max_total_wait: Duration::from_secs(600),
        }
    }
}

/// What happened to one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    Transport(TransportKind),
}

/// Counts carried across the attempts of one logical request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetryState {
    pub transient_retries: u32,
    pub throttle_retries: u32,
    pub waited: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Wait this long, then retry. `throttled` marks a server-requested wait.
    Retry {
        delay: Duration,
        throttled: bool,
    },
    GiveUp,
}

pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 408 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// Exponential backoff with "equal jitter": uniform in `[d/2, d]` where
    /// `d = min(max_delay, base * 2^(retry-1))`, so waits grow but never synchronise.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(20);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let half = ceiling / 2;
        let spread = ceiling.saturating_sub(half);
        let jitter_ms = u64::try_from(spread.as_millis()).unwrap_or(u64::MAX);
        let extra = if jitter_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter_ms)
        };
        half + Duration::from_millis(extra)
    }

    /// A server-requested wait plus a little jitter, never less than asked.
    fn after_retry_after(&self, asked: Duration) -> Duration {
        let cap = u64::try_from((asked / 10).min(Duration::from_secs(1)).as_millis()).unwrap_or(0);
        let extra = if cap == 0 {
            0
        } else {
            rand::rng().random_range(0..=cap)
        };
        asked + Duration::from_millis(extra)
    }

    /// Decides about the next attempt and updates `state` when retrying.
    pub fn decide(
        &self,
        outcome: AttemptOutcome,
        idempotent: bool,
        state: &mut RetryState,
    ) -> RetryDecision {
        let (delay, throttled) = match outcome {
            AttemptOutcome::Transport(TransportKind::Tls) => return RetryDecision::GiveUp,
            AttemptOutcome::Transport(kind) => {
                // A refused connection never reached the server: safe for any method.
                if !(idempotent || kind == TransportKind::Connect)
                    || state.transient_retries >= self.max_retries
                {
                    return RetryDecision::GiveUp;
                }
                state.transient_retries += 1;
                (self.backoff(state.transient_retries), false)
            }
            AttemptOutcome::Status {
                status,
                retry_after: Some(asked),
            } if status == 429 || status == 503 => {
                // ARM did not process a throttled request, so any method may retry.
                if state.throttle_retries >= self.max_throttle_retries
                    || asked > self.max_retry_after
                {
                    return RetryDecision::GiveUp;
                }
                state.throttle_retries += 1;
                (self.after_retry_after(asked), true)
            }
            AttemptOutcome::Status { status: 429, .. } => {
                if state.throttle_retries >= self.max_throttle_retries {
                    return RetryDecision::GiveUp;
                }
                state.throttle_retries += 1;
                // No Retry-After: back off, but never below one second.
                (
                    self.backoff(state.throttle_retries)
                        .max(Duration::from_secs(1)),
                    true,
                )
            }
            AttemptOutcome::Status {
                status,
                retry_after,
            } if is_transient_status(status) => {
                if !idempotent || state.transient_retries >= self.max_retries {
                    return RetryDecision::GiveUp;
                }
                state.transient_retries += 1;
                let backoff = self.backoff(state.transient_retries);
                (
                    retry_after.map_or(backoff, |asked| asked.max(backoff)),
                    false,
                )
            }
            AttemptOutcome::Status { .. } => return RetryDecision::GiveUp,
        };
        if state.waited + delay > self.max_total_wait {
            return RetryDecision::GiveUp;
        }
        state.waited += delay;
        RetryDecision::Retry { delay, throttled }
    }
}

/// Reads the server's requested wait: `retry-after-ms` / `x-ms-retry-after-ms`
/// (milliseconds), then `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = header_str(headers, name).and_then(|v| v.trim().parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = header_str(headers, "retry-after")?.trim();
    parse_retry_after_value(value, now)
}

/// One `Retry-After` value: delta-seconds or an HTTP date (a date in the past means 0).
pub fn parse_retry_after_value(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // Some servers send fractional seconds; accept them rather than ignore the header.
    if let Ok(seconds) = value.parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Some(Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value)
        .ok()?;
    let at = SystemTime::from(at);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    #[test]
    fn backoff_stays_within_bounds_and_grows() {
        let p = policy();
        for retry in 1..=12 {
            let ceiling = (p.base_delay * 2u32.pow(retry - 1)).min(p.max_delay);
            for _ in 0..50 {
                let d = p.backoff(retry);
                assert!(d >= ceiling / 2, "retry {retry}: {d:?} < {:?}", ceiling / 2);
                assert!(d <= ceiling, "retry {retry}: {d:?} > {ceiling:?}");
            }
        }
        assert!(p.backoff(40) <= p.max_delay);
    }

    #[test]
    fn backoff_is_jittered() {
        let p = policy();
        let samples: std::collections::HashSet<Duration> = (0..40).map(|_| p.backoff(4)).collect();
        assert!(samples.len() > 5, "no jitter: {samples:?}");
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            parse_retry_after_value("7", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after_value("1.5", now),
            Some(Duration::from_millis(1500))
        );
        // 1_000_000 s after the epoch is Mon, 12 Jan 1970 13:46:40 GMT.
        assert_eq!(
            parse_retry_after_value("Mon, 12 Jan 1970 13:46:50 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after_value("Mon, 12 Jan 1970 13:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after_value("soon", now), None);
        assert_eq!(parse_retry_after_value("-3", now), None);
    }

    #[test]
    fn retry_after_ms_headers_win() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("9"));
        assert_eq!(
            parse_retry_after(&headers, SystemTime::now()),
            Some(Duration::from_secs(9))
        );
        headers.insert("x-ms-retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(
            parse_retry_after(&headers, SystemTime::now()),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn throttling_waits_at_least_as_told() {
        let p = policy();
        let mut state = RetryState::default();
        for _ in 0..20 {
            match p.decide(
                AttemptOutcome::Status {
                    status: 429,
                    retry_after: Some(Duration::from_secs(1)),
                },
                false,
                &mut state,
            ) {
                RetryDecision::Retry { delay, throttled } => {
                    assert!(throttled);
                    assert!(delay >= Duration::from_secs(1));
                    assert!(delay <= Duration::from_millis(1100));
                }
                RetryDecision::GiveUp => panic!("gave up during a 20-long storm"),
            }
        }
        assert_eq!(state.throttle_retries, 20);
        assert_eq!(state.transient_retries, 0);
    }

    #[test]
    fn throttle_retries_are_bounded() {
        let p = RetryPolicy {
            max_throttle_retries: 3,
            ..policy()
        };
        let mut state = RetryState::default();
        let outcome = AttemptOutcome::Status {
            status: 429,
            retry_after: Some(Duration::from_millis(1)),
        };
        for _ in 0..3 {
            assert!(matches!(
                p.decide(outcome, true, &mut state),
                RetryDecision::Retry { .. }
            ));
        }
        assert_eq!(p.decide(outcome, true, &mut state), RetryDecision::GiveUp);
    }

    #[test]
    fn too_long_retry_after_is_returned_to_the_caller() {
        let p = policy();
        let mut state = RetryState::default();
        let outcome = AttemptOutcome::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(p.decide(outcome, true, &mut state), RetryDecision::GiveUp);
    }

    #[test]
    fn transient_statuses_only_for_idempotent_requests() {
        let p = policy();
        let mut state = RetryState::default();
        let outcome = AttemptOutcome::Status {
            status: 500,
            retry_after: None,
        };
        assert_eq!(p.decide(outcome, false, &mut state), RetryDecision::GiveUp);
        for _ in 0..p.max_retries {
            assert!(matches!(
                p.decide(outcome, true, &mut state),
                RetryDecision::Retry {
                    throttled: false,
                    ..
                }
            ));
        }
        assert_eq!(p.decide(outcome, true, &mut state), RetryDecision::GiveUp);
    }

    #[test]
    fn service_unavailable_with_retry_after_is_honoured() {
        let p = policy();
        let mut state = RetryState::default();
        let decision = p.decide(
            AttemptOutcome::Status {
                status: 503,
                retry_after: Some(Duration::from_secs(2)),
            },
            true,
            &mut state,
        );
        match decision {
            RetryDecision::Retry { delay, .. } => assert!(delay >= Duration::from_secs(2)),
            RetryDecision::GiveUp => panic!("503 with Retry-After must be retried"),
        }
    }

    #[test]
    fn client_errors_and_tls_are_not_retried() {
        let p = policy();
        let mut state = RetryState::default();
        for status in [400, 401, 403, 404, 409, 412] {
            assert_eq!(
                p.decide(
                    AttemptOutcome::Status {
                        status,
                        retry_after: None
                    },
                    true,
                    &mut state
                ),
                RetryDecision::GiveUp,
                "{status}"
            );
        }
        assert_eq!(
            p.decide(
                AttemptOutcome::Transport(TransportKind::Tls),
                true,
                &mut state
            ),
            RetryDecision::GiveUp
        );
        assert!(matches!(
            p.decide(
                AttemptOutcome::Transport(TransportKind::Connect),
                false,
                &mut state
            ),
            RetryDecision::Retry { .. }
        ));
        assert_eq!(
            p.decide(
                AttemptOutcome::Transport(TransportKind::Timeout),
                false,
                &mut state
            ),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn total_wait_is_bounded() {
        let p = RetryPolicy {
            max_total_wait: Duration::from_secs(3),
            ..policy()
        };
        let mut state = RetryState::default();
        let outcome = AttemptOutcome::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(1)),
        };
        let mut retries = 0;
        while let RetryDecision::Retry { .. } = p.decide(outcome, true, &mut state) {
            retries += 1;
            assert!(retries < 10);
        }
        assert!((1..=3).contains(&retries), "{retries}");
        assert!(state.waited <= Duration::from_secs(3));
    }
}
