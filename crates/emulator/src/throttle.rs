//! ARM's request throttling: a token bucket per principal and request category, and a
//! ledger of what each bucket did — requests allowed and refused, when its burst was
//! spent, the `Retry-After` every refusal asked for — so that tests and benchmarks can
//! judge how a client spends the budget from the server's side.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

use crate::calls::lock;
use crate::config::{BucketConfig, ThrottleConfig};

/// Oldest refusals are forgotten past this many (the call log keeps 200,000 records).
const MAX_REFUSALS: usize = 100_000;
/// A bucket's burst is spent once a take leaves it below this share of its capacity
/// (and at least below one token): a client may keep a few tokens in hand — e.g. for
/// requests it sent that the bucket has not taken yet — and still be spending the
/// refill as it comes.
const SPENT_BELOW_SHARE: f64 = 0.05;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Category {
    Reads,
    Writes,
    Deletes,
}

impl Category {
    pub fn of(method: &http::Method) -> Self {
        match *method {
            http::Method::GET | http::Method::HEAD => Category::Reads,
            http::Method::DELETE => Category::Deletes,
            _ => Category::Writes,
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Category::Reads => "read",
            Category::Writes => "write",
            Category::Deletes => "delete",
        }
    }

    fn bucket(self, config: &ThrottleConfig) -> BucketConfig {
        match self {
            Category::Reads => config.reads,
            Category::Writes => config.writes,
            Category::Deletes => config.deletes,
        }
    }
}

pub(crate) enum Verdict {
    /// Allowed; this many tokens remain.
    Allowed { remaining: u64 },
    /// Refused; retry after this many seconds.
    Throttled { retry_after_secs: u64 },
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What one bucket (one principal, one category) did since the ledger was last cleared.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    allowed: u64,
    throttled: u64,
    first_allowed_at: Option<Instant>,
    /// The first take that left the bucket nearly empty (see [`SPENT_BELOW_SHARE`]):
    /// from then on the principal lives on the refill.
    burst_spent_at: Option<Instant>,
    allowed_after_burst: u64,
    last_allowed_at: Option<Instant>,
}

/// One 429 the buckets answered.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    object_id: String,
    /// When it was answered, in milliseconds since the Unix epoch (the call log's clock).
    answered_ms: u64,
    retry_after_secs: u64,
}

#[derive(Default)]
struct Ledger {
    buckets: HashMap<(String, Category), Bucket>,
    usage: HashMap<(String, Category), Usage>,
    refusals: VecDeque<Refusal>,
}

pub(crate) struct Throttle {
    config: Mutex<ThrottleConfig>,
    ledger: Mutex<Ledger>,
    /// The same moment on the monotonic clock and in epoch milliseconds, to put the
    /// buckets' instants on the call log's clock.
    epoch: (Instant, u64),
}

/// The part of `PUT /_emulator/throttle` that changes the model; absent fields stay.
#[derive(Debug, Default, Clone, Copy, PartialEq, serde::Deserialize)]
pub(crate) struct ThrottleUpdate {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub reads: Option<BucketConfig>,
    #[serde(default)]
    pub writes: Option<BucketConfig>,
    #[serde(default)]
    pub deletes: Option<BucketConfig>,
}

/// How one bucket was used, as `GET /_emulator/throttle/report` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct BucketReport {
    pub capacity: f64,
    pub refill_per_sec: f64,
    pub allowed: u64,
    /// 429s answered.
    pub throttled: u64,
    /// Seconds from the first allowed request to the take that spent the burst: the
    /// first that left fewer than 5 % of the capacity (and at least fewer than one).
    pub burst_spent_after_secs: Option<f64>,
    /// Requests allowed after the burst was spent.
    pub allowed_after_burst: u64,
    /// Seconds from the burst being spent to the last allowed request.
    pub after_burst_secs: Option<f64>,
    /// `allowed_after_burst / (refill_per_sec × after_burst_secs)`: the share of what the
    /// bucket refilled after its burst that the principal used.
    pub budget_use_after_burst: Option<f64>,
}

/// One principal's buckets and how it honoured the `Retry-After` it was given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct PrincipalReport {
    pub reads: BucketReport,
    pub writes: BucketReport,
    pub deletes: BucketReport,
    /// 429s the buckets answered, every category.
    pub throttled: u64,
    /// ARM requests that arrived after a 429 was answered and before its `Retry-After`
    /// had passed (a `Retry-After` holds every request of the principal).
    pub retry_after_violations: u64,
}

/// An ARM request as the call log saw it arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arrival {
    pub object_id: String,
    pub at_ms: u64,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Self::with_epoch(config, Instant::now(), epoch_ms_now())
    }

    fn with_epoch(config: ThrottleConfig, instant: Instant, epoch_ms: u64) -> Self {
        Self {
            config: Mutex::new(config),
            ledger: Mutex::new(Ledger::default()),
            epoch: (instant, epoch_ms),
        }
    }

    pub fn set_enabled(&self, enabled: bool) {
        lock(&self.config).enabled = enabled;
    }

    /// Applies what `update` names; buckets keep their levels, within the new capacity.
    pub fn update(&self, update: ThrottleUpdate) {
        let mut config = lock(&self.config);
        if let Some(enabled) = update.enabled {
            config.enabled = enabled;
        }
        config.reads = update.reads.unwrap_or(config.reads);
        config.writes = update.writes.unwrap_or(config.writes);
        config.deletes = update.deletes.unwrap_or(config.deletes);
    }

    pub fn config(&self) -> ThrottleConfig {
        *lock(&self.config)
    }

    pub fn take(&self, principal: &str, category: Category) -> Verdict {
        self.take_at(principal, category, Instant::now())
    }

    fn take_at(&self, principal: &str, category: Category, now: Instant) -> Verdict {
        let config = self.config();
        let bucket_config = category.bucket(&config);
        if !config.enabled {
            return Verdict::Allowed {
                remaining: bucket_config.capacity.max(0.0) as u64,
            };
        }
        let key = (principal.to_string(), category);
        let mut ledger = lock(&self.ledger);
        let bucket = ledger.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: bucket_config.capacity,
            at: now,
        });
        refill(bucket, &bucket_config, now);
        let verdict = if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Verdict::Allowed {
                remaining: bucket.tokens.floor().max(0.0) as u64,
            }
        } else {
            Verdict::Throttled {
                retry_after_secs: retry_after_secs(bucket.tokens, &bucket_config),
            }
        };
        let spent = bucket.tokens < spent_below(&bucket_config);
        let usage = ledger.usage.entry(key).or_default();
        usage.record(&verdict, spent, now);
        if let Verdict::Throttled { retry_after_secs } = verdict {
            let refusal = Refusal {
                object_id: principal.to_string(),
                answered_ms: self.epoch_ms(now),
                retry_after_secs,
            };
            ledger.refusals.push_back(refusal);
            while ledger.refusals.len() > MAX_REFUSALS {
                ledger.refusals.pop_front();
            }
        }
        verdict
    }

    /// Forgets what the buckets did (not their levels): the next report starts afresh.
    pub fn clear_ledger(&self) {
        let mut ledger = lock(&self.ledger);
        ledger.usage.clear();
        ledger.refusals.clear();
    }

    /// Every principal the buckets saw, with the `Retry-After` violations among
    /// `arrivals` (the ARM requests of the call log).
    pub fn report(
        &self,
        arrivals: impl IntoIterator<Item = Arrival>,
    ) -> BTreeMap<String, PrincipalReport> {
        let config = self.config();
        let ledger = lock(&self.ledger);
        let mut windows: HashMap<&str, Vec<(u64, u64)>> = HashMap::new();
        for refusal in &ledger.refusals {
            if let Some(window) = refusal.window() {
                windows
                    .entry(refusal.object_id.as_str())
                    .or_default()
                    .push(window);
            }
        }
        let windows: HashMap<&str, Vec<(u64, u64)>> = windows
            .into_iter()
            .map(|(principal, windows)| (principal, merged(windows)))
            .collect();
        let mut violations: HashMap<String, u64> = HashMap::new();
        for arrival in arrivals {
            if windows
                .get(arrival.object_id.as_str())
                .is_some_and(|w| within(w, arrival.at_ms))
            {
                *violations.entry(arrival.object_id).or_default() += 1;
            }
        }
        let usage = |principal: &str, category: Category| {
            ledger
                .usage
                .get(&(principal.to_string(), category))
                .copied()
                .unwrap_or_default()
                .report(category.bucket(&config))
        };
        let principals: std::collections::BTreeSet<&str> =
            ledger.usage.keys().map(|(p, _)| p.as_str()).collect();
        principals
            .into_iter()
            .map(|principal| {
                let reads = usage(principal, Category::Reads);
                let writes = usage(principal, Category::Writes);
                let deletes = usage(principal, Category::Deletes);
                let report = PrincipalReport {
                    throttled: reads.throttled + writes.throttled + deletes.throttled,
                    retry_after_violations: violations.get(principal).copied().unwrap_or(0),
                    reads,
                    writes,
                    deletes,
                };
                (principal.to_string(), report)
            })
            .collect()
    }

    fn epoch_ms(&self, at: Instant) -> u64 {
        let (instant, epoch_ms) = self.epoch;
        let offset = at.saturating_duration_since(instant).as_millis();
        epoch_ms.saturating_add(u64::try_from(offset).unwrap_or(u64::MAX))
    }
}

impl Usage {
    fn record(&mut self, verdict: &Verdict, spent: bool, now: Instant) {
        match verdict {
            Verdict::Allowed { .. } => {
                self.allowed += 1;
                self.first_allowed_at.get_or_insert(now);
                if self.burst_spent_at.is_some() {
                    self.allowed_after_burst += 1;
                }
                self.last_allowed_at = Some(now);
            }
            Verdict::Throttled { .. } => self.throttled += 1,
        }
        if spent && self.burst_spent_at.is_none() {
            self.burst_spent_at = Some(now);
        }
    }

    fn report(&self, config: BucketConfig) -> BucketReport {
        let secs = |from: Option<Instant>, to: Option<Instant>| match (from, to) {
            (Some(from), Some(to)) => Some(to.saturating_duration_since(from).as_secs_f64()),
            _ => None,
        };
        let after_burst_secs = secs(self.burst_spent_at, self.last_allowed_at);
        let budget_use_after_burst = after_burst_secs
            .map(|span| span * config.refill_per_sec)
            .filter(|refilled| *refilled > 0.0)
            .map(|refilled| self.allowed_after_burst as f64 / refilled);
        BucketReport {
            capacity: config.capacity,
            refill_per_sec: config.refill_per_sec,
            allowed: self.allowed,
            throttled: self.throttled,
            burst_spent_after_secs: secs(self.first_allowed_at, self.burst_spent_at),
            allowed_after_burst: self.allowed_after_burst,
            after_burst_secs,
            budget_use_after_burst,
        }
    }
}

impl Refusal {
    /// The arrival times (epoch ms, as the call log floors them) that surely fall after
    /// the 429 was answered and before its `Retry-After` passed: `(A, A + RA)` on the
    /// true clock, so a floored arrival `a` counts when `A < a` and `a + 1 <= A + RA`.
    fn window(&self) -> Option<(u64, u64)> {
        let retry_after_ms = self.retry_after_secs.saturating_mul(1000);
        let first = self.answered_ms.checked_add(1)?;
        let last = self
            .answered_ms
            .checked_add(retry_after_ms)?
            .checked_sub(1)?;
        (first <= last).then_some((first, last))
    }
}

/// Sorted, disjoint inclusive windows covering the same times as `windows`.
fn merged(mut windows: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    windows.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(windows.len());
    for (first, last) in windows {
        match out.last_mut() {
            Some(previous) if first <= previous.1.saturating_add(1) => {
                previous.1 = previous.1.max(last);
            }
            _ => out.push((first, last)),
        }
    }
    out
}

/// Whether `at` falls in one of the sorted, disjoint inclusive `windows`.
fn within(windows: &[(u64, u64)], at: u64) -> bool {
    let after = windows.partition_point(|(first, _)| *first <= at);
    after > 0 && windows[after - 1].1 >= at
}

/// The level below which a bucket's burst counts as spent.
fn spent_below(config: &BucketConfig) -> f64 {
    (config.capacity * SPENT_BELOW_SHARE).max(1.0)
}

fn refill(bucket: &mut Bucket, config: &BucketConfig, now: Instant) {
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * config.refill_per_sec).min(config.capacity);
    bucket.at = now;
}

/// Whole seconds until the bucket holds a token again (ARM sends whole seconds).
fn retry_after_secs(tokens: f64, config: &BucketConfig) -> u64 {
    let missing = 1.0 - tokens;
    let secs = if config.refill_per_sec > 0.0 {
        (missing / config.refill_per_sec).ceil() as u64
    } else {
        60
    };
    secs.max(1)
}

fn epoch_ms_now() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
}

/// ARM's message for a throttled request.
pub(crate) fn throttled_message(
    category: Category,
    subscription: &str,
    object_id: &str,
    retry_after_secs: u64,
) -> String {
    format!(
        "Number of '{}' requests for subscription '{subscription}' actor '{object_id}' exceeded. \
         Please try again after '{retry_after_secs}' seconds after additional tokens are available. \
         Refer to https://aka.ms/arm-throttling for additional information.",
        category.singular()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn small() -> ThrottleConfig {
        ThrottleConfig {
            enabled: true,
            reads: BucketConfig {
                capacity: 3.0,
                refill_per_sec: 2.0,
            },
            ..ThrottleConfig::default()
        }
    }

    /// Writes of 4 burst + 10/s, on a clock that starts at epoch 1,000,000 ms.
    fn writes_4_plus_10() -> (Throttle, Instant) {
        let t0 = Instant::now();
        let config = ThrottleConfig {
            writes: BucketConfig {
                capacity: 4.0,
                refill_per_sec: 10.0,
            },
            ..small()
        };
        (Throttle::with_epoch(config, t0, 1_000_000), t0)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn bucket_empties_then_refills_over_time() {
        let t = Throttle::new(small());
        let t0 = Instant::now();
        for expected in [2, 1, 0] {
            match t.take_at("p", Category::Reads, t0) {
                Verdict::Allowed { remaining } => assert_eq!(remaining, expected),
                Verdict::Throttled { .. } => panic!("throttled too early"),
            }
        }
        match t.take_at("p", Category::Reads, t0) {
            Verdict::Throttled { retry_after_secs } => assert_eq!(retry_after_secs, 1),
            Verdict::Allowed { .. } => panic!("not throttled"),
        }
        // Another principal has its own bucket.
        assert!(matches!(
            t.take_at("q", Category::Reads, t0),
            Verdict::Allowed { remaining: 2 }
        ));
        // Writes are a separate bucket.
        assert!(matches!(
            t.take_at("p", Category::Writes, t0),
            Verdict::Allowed { remaining: 199 }
        ));
        let later = t0 + Duration::from_millis(1000);
        assert!(matches!(
            t.take_at("p", Category::Reads, later),
            Verdict::Allowed { remaining: 1 }
        ));
    }

    #[test]
    fn disabled_never_refuses() {
        let t = Throttle::new(small());
        t.set_enabled(false);
        for _ in 0..100 {
            assert!(matches!(
                t.take("p", Category::Reads),
                Verdict::Allowed { remaining: 3 }
            ));
        }
        assert!(t.report([]).is_empty(), "nothing is metered when disabled");
    }

    #[test]
    fn categories_follow_methods() {
        assert_eq!(Category::of(&http::Method::HEAD), Category::Reads);
        assert_eq!(Category::of(&http::Method::POST), Category::Writes);
        assert_eq!(Category::of(&http::Method::PATCH), Category::Writes);
        assert_eq!(Category::of(&http::Method::DELETE), Category::Deletes);
    }

    #[test]
    fn updates_change_only_what_they_name() {
        let t = Throttle::new(small());
        let writes = BucketConfig {
            capacity: 100.0,
            refill_per_sec: 20.0,
        };
        t.update(ThrottleUpdate {
            writes: Some(writes),
            ..ThrottleUpdate::default()
        });
        assert_eq!(t.config(), ThrottleConfig { writes, ..small() });
        t.update(ThrottleUpdate {
            enabled: Some(false),
            ..ThrottleUpdate::default()
        });
        assert!(!t.config().enabled);
        assert_eq!(t.config().writes, writes);
    }

    #[test]
    fn the_ledger_measures_budget_use_after_the_burst() {
        let (t, t0) = writes_4_plus_10();
        // The burst: 4 writes at once; the 4th leaves no token.
        for _ in 0..4 {
            assert!(matches!(
                t.take_at("p", Category::Writes, t0),
                Verdict::Allowed { .. }
            ));
        }
        // Then one write every 100 ms for a second (exactly the refill): 10 writes...
        for i in 1..=10 {
            assert!(matches!(
                t.take_at("p", Category::Writes, t0 + ms(100 * i)),
                Verdict::Allowed { .. }
            ));
        }
        // ...and one too early, refused.
        assert!(matches!(
            t.take_at("p", Category::Writes, t0 + ms(1_050)),
            Verdict::Throttled {
                retry_after_secs: 1
            }
        ));
        // Idle for a second: 10 tokens refill and are never used.
        assert!(matches!(
            t.take_at("p", Category::Writes, t0 + ms(2_000)),
            Verdict::Allowed { .. }
        ));
        let report = t.report([]);
        let writes = &report["p"].writes;
        assert_eq!(writes.allowed, 15);
        assert_eq!(writes.throttled, 1);
        assert_eq!(writes.burst_spent_after_secs, Some(0.0));
        assert_eq!(writes.allowed_after_burst, 11);
        assert_eq!(writes.after_burst_secs, Some(2.0));
        // 11 writes out of the 20 the bucket refilled in those 2 s.
        assert_eq!(writes.budget_use_after_burst, Some(11.0 / 20.0));
        assert_eq!(report["p"].throttled, 1);
        assert_eq!(report["p"].reads.allowed, 0);
        assert_eq!(report["p"].reads.budget_use_after_burst, None);
    }

    #[test]
    fn a_burst_is_spent_below_five_percent_of_the_capacity() {
        let t0 = Instant::now();
        let t = Throttle::new(ThrottleConfig {
            writes: BucketConfig::new(100.0, 20.0),
            ..small()
        });
        for i in 0..95 {
            t.take_at("p", Category::Writes, t0);
            let spent = t.report([])["p"].writes.burst_spent_after_secs;
            // 95 takes leave 5 tokens: not below 5 % of 100 yet.
            assert_eq!(spent, None, "after {} takes", i + 1);
        }
        t.take_at("p", Category::Writes, t0 + ms(10));
        let writes = t.report([])["p"].writes.clone();
        assert_eq!(writes.burst_spent_after_secs, Some(0.01));
        assert_eq!(writes.allowed_after_burst, 0);
    }

    #[test]
    fn a_bucket_never_spent_has_no_budget_use() {
        let (t, t0) = writes_4_plus_10();
        for i in 0..3 {
            t.take_at("p", Category::Writes, t0 + ms(i));
        }
        let writes = t.report([])["p"].writes.clone();
        assert_eq!(writes.allowed, 3);
        assert_eq!(writes.burst_spent_after_secs, None);
        assert_eq!(writes.budget_use_after_burst, None);
    }

    #[test]
    fn requests_inside_a_retry_after_are_violations_of_that_principal_only() {
        let (t, t0) = writes_4_plus_10();
        for _ in 0..4 {
            t.take_at("p", Category::Writes, t0);
        }
        // Refused at epoch 1,000,000 ms with Retry-After: 1 s.
        assert!(matches!(
            t.take_at("p", Category::Writes, t0),
            Verdict::Throttled {
                retry_after_secs: 1
            }
        ));
        let answered = 1_000_000;
        let end = answered + 1_000;
        let arrival = |who: &str, at_ms: u64| Arrival {
            object_id: who.to_string(),
            at_ms,
        };
        let report = t.report([
            // In the same millisecond as the answer: maybe sent before it arrived.
            arrival("p", answered),
            arrival("p", answered + 1),
            arrival("p", answered + 500),
            arrival("p", end - 1),
            // The Retry-After has passed.
            arrival("p", end),
            arrival("p", end + 5),
            // Another principal was not told to wait.
            arrival("q", answered + 500),
        ]);
        assert_eq!(report["p"].retry_after_violations, 3);
        assert_eq!(report["p"].throttled, 1);
        assert!(
            !report.contains_key("q"),
            "q made no request the buckets saw"
        );
    }

    #[test]
    fn overlapping_retry_afters_count_a_request_once() {
        let (t, t0) = writes_4_plus_10();
        for _ in 0..4 {
            t.take_at("p", Category::Writes, t0);
        }
        t.take_at("p", Category::Writes, t0);
        t.take_at("p", Category::Writes, t0 + ms(20));
        let report = t.report([Arrival {
            object_id: "p".into(),
            at_ms: 1_000_030,
        }]);
        assert_eq!(report["p"].throttled, 2);
        assert_eq!(report["p"].retry_after_violations, 1);
    }

    #[test]
    fn clearing_the_ledger_keeps_the_levels() {
        let (t, t0) = writes_4_plus_10();
        for _ in 0..4 {
            t.take_at("p", Category::Writes, t0);
        }
        t.clear_ledger();
        assert!(t.report([]).is_empty());
        assert!(matches!(
            t.take_at("p", Category::Writes, t0),
            Verdict::Throttled { .. }
        ));
        assert_eq!(t.report([])["p"].writes.throttled, 1);
    }

    #[test]
    fn windows_merge_and_are_searched() {
        let windows = merged(vec![(10, 20), (5, 8), (9, 9), (30, 40), (35, 36)]);
        assert_eq!(windows, vec![(5, 20), (30, 40)]);
        for (at, expected) in [(4, false), (5, true), (20, true), (21, false), (40, true)] {
            assert_eq!(within(&windows, at), expected, "{at}");
        }
        assert!(!within(&[], 3));
    }
}
