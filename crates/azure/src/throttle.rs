//! Spending ARM's request budget: a model of each of the principal's token buckets,
//! built from the remaining-quota headers (see [`crate::bucket_model`]), that admits a
//! request when a token is expected for it, and a shared gate that holds every request
//! of the client back after a 429 asked it to wait.
//!
//! ARM meters each principal with token buckets (reads, writes, deletes): a burst, then
//! a steady refill. Once the burst is spent, requests leave at the refill rate the
//! answers show — not slower, which would leave budget unused, and not faster, which
//! would earn 429s. Pure: every decision takes the time as an argument.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method};

use crate::bucket_model::{BucketModel, Settled, Ticket};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    Reads,
    Writes,
    Deletes,
}

impl Bucket {
    pub const ALL: [Bucket; 3] = [Bucket::Reads, Bucket::Writes, Bucket::Deletes];

    pub fn for_method(method: &Method) -> Self {
        if method == Method::GET || method == Method::HEAD {
            Bucket::Reads
        } else if method == Method::DELETE {
            Bucket::Deletes
        } else {
            Bucket::Writes
        }
    }

    pub(crate) fn index(self) -> usize {
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
    /// Tokens left in each bucket (reads, writes, deletes) for other callers of the same
    /// principal: a request waits while the model expects no more than this many.
    pub low_watermark: [u64; 3],
    /// The refill rates per second ARM documents (reads, writes, deletes), used until
    /// the answers show the actual ones.
    pub refill_per_second: [f64; 3],
}

impl Default for ThrottleOptions {
    fn default() -> Self {
        Self {
            low_watermark: [0, 0, 0],
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

#[derive(Debug)]
struct State {
    models: [BucketModel; 3],
    /// The last value reported for each class, as reported.
    reported: [Option<u64>; 3],
    not_before: Option<Instant>,
}

#[derive(Debug)]
pub struct Throttle {
    state: Mutex<State>,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new(ThrottleOptions::default())
    }
}

impl Throttle {
    pub fn new(options: ThrottleOptions) -> Self {
        let model = |b: Bucket| {
            BucketModel::new(
                options.refill_per_second[b.index()],
                options.low_watermark[b.index()],
            )
        };
        Self {
            state: Mutex::new(State {
                models: Bucket::ALL.map(model),
                reported: [None; 3],
                not_before: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means another request panicked mid-update of plain
        // numbers; the numbers are still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits one request of class `bucket` at `now`: the ticket to settle it with, or
    /// how long to wait (a 429's `Retry-After`, or until the bucket is expected to hold
    /// a token for it).
    pub fn admit(&self, bucket: Bucket, now: Instant) -> Result<Ticket, Duration> {
        let mut state = self.lock();
        if let Some(not_before) = state.not_before.filter(|t| *t > now) {
            return Err(not_before - now);
        }
        state.models[bucket.index()].admit(now)
    }

    /// Records how the request admitted with `ticket` ended, at `now`: its answer's
    /// status and headers, or `None` when there was no answer.
    pub fn settle(
        &self,
        bucket: Bucket,
        ticket: Ticket,
        answer: Option<(u16, &HeaderMap)>,
        now: Instant,
    ) {
        let mut state = self.lock();
        let outcome = match answer {
            Some((status, headers)) => {
                for any in Bucket::ALL {
                    if let Some(remaining) = reported_remaining(any, headers) {
                        state.reported[any.index()] = Some(remaining);
                    }
                }
                Settled::Answered {
                    refused: status == 429,
                    remaining: reported_remaining(bucket, headers),
                }
            }
            None => Settled::Lost,
        };
        state.models[bucket.index()].settle(ticket, outcome, now);
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

    /// The refill rate per second the client works with for `bucket`.
    pub fn refill_rate(&self, bucket: Bucket) -> f64 {
        self.lock().models[bucket.index()].refill_rate()
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

    fn writes_left(n: &'static str) -> HeaderMap {
        headers("x-ms-ratelimit-remaining-subscription-writes", n)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Admits one request of `bucket` and settles it at once with `status`, `answer`.
    fn exchange(t: &Throttle, bucket: Bucket, status: u16, answer: &HeaderMap, now: Instant) {
        let ticket = t.admit(bucket, now).unwrap();
        t.settle(bucket, ticket, Some((status, answer)), now);
    }

    #[test]
    fn no_headers_no_pacing() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..100 {
            assert!(t.admit(Bucket::Reads, now).is_ok());
        }
    }

    #[test]
    fn plenty_of_quota_no_pacing() {
        let t = Throttle::default();
        let now = Instant::now();
        exchange(&t, Bucket::Writes, 201, &writes_left("1199"), now);
        for _ in 0..1000 {
            assert!(t.admit(Bucket::Writes, now).is_ok());
        }
    }

    #[test]
    fn an_empty_bucket_releases_requests_at_the_refill_rate() {
        let t = Throttle::default();
        let now = Instant::now();
        exchange(&t, Bucket::Writes, 201, &writes_left("90"), now);
        exchange(&t, Bucket::Writes, 201, &writes_left("2"), now);
        assert!(t.admit(Bucket::Writes, now).is_ok());
        assert!(t.admit(Bucket::Writes, now).is_ok());
        // Writes refill at 10/s (until measured): the next token in 100 ms, not later.
        assert_eq!(t.admit(Bucket::Writes, now), Err(ms(100)));
        assert!(t.admit(Bucket::Writes, now + ms(100)).is_ok());
        assert_eq!(t.admit(Bucket::Writes, now + ms(150)), Err(ms(50)));
        // Other classes are not affected.
        assert!(t.admit(Bucket::Reads, now).is_ok());
    }

    #[test]
    fn a_later_answer_shows_tokens_the_model_did_not_expect() {
        let t = Throttle::default();
        let now = Instant::now();
        let deletes_left = |n| headers("x-ms-ratelimit-remaining-subscription-deletes", n);
        exchange(&t, Bucket::Deletes, 200, &deletes_left("0"), now);
        assert!(t.admit(Bucket::Deletes, now).is_err());
        exchange(
            &t,
            Bucket::Deletes,
            200,
            &deletes_left("190"),
            now + ms(100),
        );
        assert!(t.admit(Bucket::Deletes, now + ms(100)).is_ok());
    }

    #[test]
    fn a_429_reports_an_empty_bucket() {
        let t = Throttle::default();
        let now = Instant::now();
        exchange(&t, Bucket::Writes, 429, &writes_left("0"), now);
        assert_eq!(t.admit(Bucket::Writes, now), Err(ms(100)));
    }

    #[test]
    fn a_request_without_answer_counts_as_spent() {
        let t = Throttle::default();
        let now = Instant::now();
        exchange(&t, Bucket::Writes, 201, &writes_left("1"), now);
        let lost = t.admit(Bucket::Writes, now).unwrap();
        t.settle(Bucket::Writes, lost, None, now);
        assert_eq!(t.admit(Bucket::Writes, now), Err(ms(100)));
    }

    #[test]
    fn global_header_is_read_too() {
        let t = Throttle::default();
        let now = Instant::now();
        let global = headers("x-ms-ratelimit-remaining-subscription-global-reads", "0");
        exchange(&t, Bucket::Reads, 200, &global, now);
        // Reads refill at 25/s: 40 ms per token.
        assert_eq!(t.admit(Bucket::Reads, now), Err(ms(40)));
    }

    #[test]
    fn gate_after_429_holds_everyone() {
        let t = Throttle::default();
        let now = Instant::now();
        t.block_until(now + Duration::from_secs(2));
        t.block_until(now + Duration::from_secs(1));
        assert_eq!(t.admit(Bucket::Reads, now), Err(Duration::from_secs(2)));
        assert_eq!(t.admit(Bucket::Writes, now), Err(Duration::from_secs(2)));
        assert!(t.admit(Bucket::Reads, now + Duration::from_secs(3)).is_ok());
    }

    #[test]
    fn the_watermark_is_left_in_the_bucket() {
        let t = Throttle::new(ThrottleOptions {
            low_watermark: [5, 0, 0],
            ..ThrottleOptions::default()
        });
        let now = Instant::now();
        let reads_left = headers("x-ms-ratelimit-remaining-subscription-reads", "7");
        exchange(&t, Bucket::Reads, 200, &reads_left, now);
        assert!(t.admit(Bucket::Reads, now).is_ok());
        assert!(t.admit(Bucket::Reads, now).is_ok());
        assert_eq!(t.admit(Bucket::Reads, now), Err(ms(40)));
    }

    #[test]
    fn remaining_quota_is_the_last_value_reported() {
        let t = Throttle::default();
        let now = Instant::now();
        assert_eq!(t.remaining_quota(), RemainingQuota::default());
        let reads = headers("x-ms-ratelimit-remaining-subscription-reads", "11999");
        exchange(&t, Bucket::Reads, 200, &reads, now);
        exchange(&t, Bucket::Writes, 200, &writes_left("1199"), now);
        let mut both = headers("x-ms-ratelimit-remaining-subscription-reads", "11998");
        both.insert(
            "x-ms-ratelimit-remaining-subscription-global-reads",
            HeaderValue::from_static("7"),
        );
        both.insert(
            "x-ms-ratelimit-remaining-subscription-deletes",
            HeaderValue::from_static("14999"),
        );
        exchange(&t, Bucket::Reads, 200, &both, now);
        assert_eq!(
            t.remaining_quota(),
            RemainingQuota {
                reads: Some(7),
                writes: Some(1199),
                deletes: Some(14999),
            }
        );
        // An answer without the headers keeps the last values.
        exchange(&t, Bucket::Writes, 200, &HeaderMap::new(), now);
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
