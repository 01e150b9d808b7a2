//! Proactive pacing from ARM's remaining-quota headers, and a shared gate that holds
//! every request back after a 429 asked the client to wait.
//!
//! ARM meters each principal with token buckets (reads refill at 25/s, writes and
//! deletes at 10/s). When `x-ms-ratelimit-remaining-subscription-*` drops below a
//! watermark, requests of that class are spaced at slightly slower than the refill
//! rate, so the bucket recovers instead of running dry and earning 429s.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Reads,
    Writes,
    Deletes,
}

impl Bucket {
    pub fn for_method(method: &Method) -> Self {
        if method == Method::GET || method == Method::HEAD {
            Bucket::Reads
        } else if method == Method::DELETE {
            Bucket::Deletes
        } else {
            Bucket::Writes
        }
    }

    fn index(self) -> usize {
        match self {
            Bucket::Reads => 0,
            Bucket::Writes => 1,
            Bucket::Deletes => 2,
        }
    }

    fn header_suffix(self) -> &'static str {
        match self {
            Bucket::Reads => "reads",
            Bucket::Writes => "writes",
            Bucket::Deletes => "deletes",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ThrottleOptions {
    /// Below this many remaining requests, pacing starts (reads, writes, deletes).
    pub low_watermark: [u64; 3],
    /// The bucket refill rates per second ARM documents (reads, writes, deletes).
    pub refill_per_second: [f64; 3],
}

impl Default for ThrottleOptions {
    fn default() -> Self {
        Self {
            low_watermark: [50, 40, 40],
            refill_per_second: [25.0, 10.0, 10.0],
        }
    }
}

/// The remaining requests ARM last reported for the principal, per request class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemainingQuota {
    pub reads: Option<u64>,
    pub writes: Option<u64>,
    pub deletes: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// What pacing works from: the last report, less the requests sent since.
    remaining: [Option<u64>; 3],
    /// The last value reported for each class, as reported.
    reported: [Option<u64>; 3],
    next_slot: [Option<Instant>; 3],
    not_before: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Throttle {
    options: ThrottleOptions,
    state: Mutex<State>,
}

impl Throttle {
    pub fn new(options: ThrottleOptions) -> Self {
        Self {
            options,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another request panicked mid-update of plain
        // numbers; the numbers are still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves a send slot for one request and returns how long to wait for it.
    pub fn reserve(&self, bucket: Bucket, now: Instant) -> Duration {
        let i = bucket.index();
        let mut state = self.lock();
        let mut slot = now;
        if let Some(not_before) = state.not_before {
            slot = slot.max(not_before);
        }
        if let Some(remaining) = state.remaining[i] {
            let watermark = self.options.low_watermark[i].max(1);
            if remaining < watermark {
                let per_token = Duration::from_secs_f64(1.0 / self.options.refill_per_second[i]);
                // 1x the refill interval at the watermark, 2x with the bucket empty:
                // the bucket refills while we keep working.
                let deficit = (watermark - remaining) as f64 / watermark as f64;
                let interval = per_token.mul_f64(1.0 + deficit);
                if let Some(next) = state.next_slot[i] {
                    slot = slot.max(next);
                }
                state.next_slot[i] = Some(slot + interval);
            }
            // Our own in-flight request spends a token before the next header tells us.
            state.remaining[i] = Some(remaining.saturating_sub(1));
        }
        slot.saturating_duration_since(now)
    }

    /// Records the quota headers of an answer to a request of class `bucket`.
    pub fn observe(&self, bucket: Bucket, headers: &HeaderMap) {
        let mut state = self.lock();
        for any in [Bucket::Reads, Bucket::Writes, Bucket::Deletes] {
            if let Some(remaining) = reported_remaining(any, headers) {
                state.reported[any.index()] = Some(remaining);
            }
        }
        if let Some(remaining) = reported_remaining(bucket, headers) {
            state.remaining[bucket.index()] = Some(remaining);
            if remaining >= self.options.low_watermark[bucket.index()] {
                state.next_slot[bucket.index()] = None;
            }
        }
    }

    /// The last remaining-quota values reported, per class.
    pub fn remaining_quota(&self) -> RemainingQuota {
        let reported = self.lock().reported;
        RemainingQuota {
            reads: reported[Bucket::Reads.index()],
            writes: reported[Bucket::Writes.index()],
            deletes: reported[Bucket::Deletes.index()],
        }
    }

    /// Holds every request back until `until` (after a 429 with `Retry-After`).
    pub fn block_until(&self, until: Instant) {
        let mut state = self.lock();
        state.not_before = Some(state.not_before.map_or(until, |t| t.max(until)));
    }
}

/// The remaining requests of class `bucket` an answer reports: the lower of the
/// subscription and the global header when both are present.
fn reported_remaining(bucket: Bucket, headers: &HeaderMap) -> Option<u64> {
    let suffix = bucket.header_suffix();
    [
        format!("x-ms-ratelimit-remaining-subscription-{suffix}"),
        format!("x-ms-ratelimit-remaining-subscription-global-{suffix}"),
    ]
    .iter()
    .filter_map(|name| headers.get(name.as_str()))
    .filter_map(|v| v.to_str().ok())
    .filter_map(|v| v.trim().parse::<u64>().ok())
    .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(name: &'static str, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn no_headers_no_pacing() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(t.reserve(Bucket::Reads, now), Duration::ZERO);
        }
    }

    #[test]
    fn plenty_of_quota_no_pacing() {
        let t = Throttle::default();
        t.observe(
            Bucket::Writes,
            &headers("x-ms-ratelimit-remaining-subscription-writes", "1199"),
        );
        let now = Instant::now();
        assert_eq!(t.reserve(Bucket::Writes, now), Duration::ZERO);
        assert_eq!(t.reserve(Bucket::Writes, now), Duration::ZERO);
    }

    #[test]
    fn low_quota_spaces_requests_slower_than_refill() {
        let t = Throttle::default();
        t.observe(
            Bucket::Writes,
            &headers("x-ms-ratelimit-remaining-subscription-writes", "5"),
        );
        let now = Instant::now();
        let first = t.reserve(Bucket::Writes, now);
        let second = t.reserve(Bucket::Writes, now);
        let third = t.reserve(Bucket::Writes, now);
        assert_eq!(first, Duration::ZERO);
        // Writes refill at 10/s: consecutive slots are at least 100 ms apart.
        assert!(second >= Duration::from_millis(100), "{second:?}");
        assert!(third - second >= Duration::from_millis(100), "{third:?}");
        assert!(second <= Duration::from_millis(200), "{second:?}");
        // Other classes are not affected.
        assert_eq!(t.reserve(Bucket::Reads, now), Duration::ZERO);
    }

    #[test]
    fn recovered_quota_stops_pacing() {
        let t = Throttle::default();
        t.observe(
            Bucket::Deletes,
            &headers("x-ms-ratelimit-remaining-subscription-deletes", "0"),
        );
        let now = Instant::now();
        t.reserve(Bucket::Deletes, now);
        assert!(t.reserve(Bucket::Deletes, now) > Duration::ZERO);
        t.observe(
            Bucket::Deletes,
            &headers("x-ms-ratelimit-remaining-subscription-deletes", "190"),
        );
        assert_eq!(t.reserve(Bucket::Deletes, now), Duration::ZERO);
    }

    #[test]
    fn global_header_is_read_too() {
        let t = Throttle::default();
        t.observe(
            Bucket::Reads,
            &headers("x-ms-ratelimit-remaining-subscription-global-reads", "1"),
        );
        let now = Instant::now();
        t.reserve(Bucket::Reads, now);
        assert!(t.reserve(Bucket::Reads, now) >= Duration::from_millis(40));
    }

    #[test]
    fn gate_after_429_holds_everyone() {
        let t = Throttle::default();
        let now = Instant::now();
        t.block_until(now + Duration::from_secs(2));
        t.block_until(now + Duration::from_secs(1));
        assert_eq!(t.reserve(Bucket::Reads, now), Duration::from_secs(2));
        assert_eq!(t.reserve(Bucket::Writes, now), Duration::from_secs(2));
        assert_eq!(
            t.reserve(Bucket::Reads, now + Duration::from_secs(3)),
            Duration::ZERO
        );
    }

    #[test]
    fn remaining_quota_is_the_last_value_reported() {
        let t = Throttle::default();
        assert_eq!(t.remaining_quota(), RemainingQuota::default());
        t.observe(
            Bucket::Reads,
            &headers("x-ms-ratelimit-remaining-subscription-reads", "11999"),
        );
        t.observe(
            Bucket::Writes,
            &headers("x-ms-ratelimit-remaining-subscription-writes", "1199"),
        );
        // Requests sent since do not change what was reported.
        t.reserve(Bucket::Reads, Instant::now());
        let mut both = headers("x-ms-ratelimit-remaining-subscription-reads", "11998");
        both.insert(
            "x-ms-ratelimit-remaining-subscription-global-reads",
            HeaderValue::from_static("7"),
        );
        both.insert(
            "x-ms-ratelimit-remaining-subscription-deletes",
            HeaderValue::from_static("14999"),
        );
        t.observe(Bucket::Reads, &both);
        assert_eq!(
            t.remaining_quota(),
            RemainingQuota {
                reads: Some(7),
                writes: Some(1199),
                deletes: Some(14999),
            }
        );
        // An answer without the headers keeps the last values.
        t.observe(Bucket::Writes, &HeaderMap::new());
        assert_eq!(t.remaining_quota().writes, Some(1199));
    }

    #[test]
    fn methods_map_to_buckets() {
        assert_eq!(Bucket::for_method(&Method::GET), Bucket::Reads);
        assert_eq!(Bucket::for_method(&Method::HEAD), Bucket::Reads);
        assert_eq!(Bucket::for_method(&Method::PUT), Bucket::Writes);
        assert_eq!(Bucket::for_method(&Method::POST), Bucket::Writes);
        assert_eq!(Bucket::for_method(&Method::DELETE), Bucket::Deletes);
    }
}
