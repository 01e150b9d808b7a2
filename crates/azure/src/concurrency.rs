//! How many requests of one class (reads, writes, deletes) may be in flight at once: a
//! limit that grows while the service answers promptly and shrinks when it throttles,
//! fails or slows down (additive increase, multiplicative decrease), so concurrency
//! follows the service instead of a fixed number.
//!
//! [`AimdLimit`] makes the decisions (pure, with the time as an argument);
//! [`AdaptiveLimiter`] applies them to a fair semaphore.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{AcquireError, Semaphore, SemaphorePermit};

/// A 429: the share of the limit kept.
const THROTTLED_BACKOFF: f64 = 0.5;
/// A failure, or answers slower than usual: the share of the limit kept.
const OVERLOAD_BACKOFF: f64 = 0.9;
/// Answers are "slower than usual" beyond this multiple of the baseline latency...
const LATENCY_TOLERANCE: f64 = 2.0;
/// ...plus this, so the jitter of fast answers is not taken for overload.
const LATENCY_SLACK: Duration = Duration::from_millis(20);
/// Weight of the newest answer in the smoothed latency.
const SMOOTHING: f64 = 0.2;
/// Share of the gap by which the baseline rises towards a slower answer: a service that
/// became slower for good is taken as it is after a few hundred answers.
const BASELINE_DRIFT: f64 = 0.01;
/// After a decrease, no other for this long at least (one event, one decrease).
const MIN_CALM: Duration = Duration::from_millis(100);

/// What one attempt told about the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Answered (any status but those below) after this long.
    Answered(Duration),
    /// 429: the service asked the principal to slow down.
    Throttled,
    /// No answer, a timeout or a 5xx: the service may be overloaded.
    Failed,
}

#[derive(Debug, Clone)]
pub struct AimdLimit {
    limit: f64,
    max: f64,
    /// Doubling once per round trip until the first decrease.
    slow_start: bool,
    /// The latency of an unloaded service: the lowest seen, drifting up slowly.
    baseline: Option<Duration>,
    smoothed: Option<Duration>,
    calm_until: Option<Instant>,
}

impl AimdLimit {
    pub fn new(initial: usize, max: usize) -> Self {
        let max = max.max(1) as f64;
        Self {
            limit: (initial.max(1) as f64).min(max),
            max,
            slow_start: true,
            baseline: None,
            smoothed: None,
            calm_until: None,
        }
    }

    /// Requests that may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit as usize
    }

    /// Takes in one attempt's outcome; `in_flight` counts the requests in flight when
    /// it ended, itself included.
    pub fn on_signal(&mut self, signal: Signal, in_flight: usize, now: Instant) {
        match signal {
            Signal::Throttled => self.decrease(THROTTLED_BACKOFF, now),
            Signal::Failed => self.decrease(OVERLOAD_BACKOFF, now),
            Signal::Answered(latency) => {
                if self.note_latency(latency) {
                    self.decrease(OVERLOAD_BACKOFF, now);
                } else if in_flight as f64 * 2.0 >= self.limit {
                    // Only a limit in use grows: an idle client must not build up a
                    // limit it never tried.
                    self.increase();
                }
            }
        }
    }

    /// Updates the latency figures; whether answers have become slower than usual.
    fn note_latency(&mut self, latency: Duration) -> bool {
        let baseline = match self.baseline {
            Some(b) if latency > b => b + (latency - b).mul_f64(BASELINE_DRIFT),
            _ => latency,
        };
        let smoothed = match self.smoothed {
            Some(s) => s.mul_f64(1.0 - SMOOTHING) + latency.mul_f64(SMOOTHING),
            None => latency,
        };
        self.baseline = Some(baseline);
        self.smoothed = Some(smoothed);
        smoothed > baseline.mul_f64(LATENCY_TOLERANCE) + LATENCY_SLACK
    }

    fn increase(&mut self) {
        let step = if self.slow_start {
            1.0
        } else {
            1.0 / self.limit
        };
        self.limit = (self.limit + step).min(self.max);
    }

    fn decrease(&mut self, keep: f64, now: Instant) {
        if self.calm_until.is_some_and(|until| now < until) {
            return;
        }
        self.limit = (self.limit * keep).max(1.0);
        self.slow_start = false;
        // Answers to requests sent before the decrease still arrive for about a round
        // trip: they tell of the old limit, not the new one.
        let round_trip = self.smoothed.unwrap_or(MIN_CALM).max(MIN_CALM);
        self.calm_until = Some(now + round_trip);
    }
}

/// An [`AimdLimit`] over a fair (first come, first served) semaphore.
pub struct AdaptiveLimiter {
    semaphore: Semaphore,
    state: Mutex<LimiterState>,
}

struct LimiterState {
    aimd: AimdLimit,
    /// Permits the semaphore was given in all (available and held).
    issued: usize,
    /// Held permits to take out of circulation when they come back.
    debt: usize,
    in_flight: usize,
}

/// One request's place in flight; dropping it frees the place.
pub struct Slot<'a> {
    limiter: &'a AdaptiveLimiter,
    permit: Option<SemaphorePermit<'a>>,
}

impl AdaptiveLimiter {
    pub fn new(initial: usize, max: usize) -> Self {
        let aimd = AimdLimit::new(initial, max);
        let issued = aimd.limit();
        Self {
            semaphore: Semaphore::new(issued),
            state: Mutex::new(LimiterState {
                aimd,
                issued,
                debt: 0,
                in_flight: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, LimiterState> {
        // Plain numbers: still usable after a panic elsewhere.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a place in flight, in arrival order.
    pub async fn acquire(&self) -> Result<Slot<'_>, AcquireError> {
        let permit = self.semaphore.acquire().await?;
        self.lock().in_flight += 1;
        Ok(Slot {
            limiter: self,
            permit: Some(permit),
        })
    }

    /// Takes in what an attempt made while holding a slot told about the service.
    pub fn record(&self, signal: Signal, now: Instant) {
        let mut state = self.lock();
        let in_flight = state.in_flight;
        state.aimd.on_signal(signal, in_flight, now);
        self.resize(&mut state);
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.lock().aimd.limit()
    }

    /// Brings the permits in circulation to the limit: adds permits, or forgets free
    /// ones and owes the rest until held ones come back.
    fn resize(&self, state: &mut LimiterState) {
        let target = state.aimd.limit();
        let circulating = state.issued - state.debt;
        if target > circulating {
            let mut more = target - circulating;
            let forgiven = more.min(state.debt);
            state.debt -= forgiven;
            more -= forgiven;
            self.semaphore.add_permits(more);
            state.issued += more;
        } else if target < circulating {
            let fewer = circulating - target;
            let forgotten = self.semaphore.forget_permits(fewer);
            state.issued -= forgotten;
            state.debt += fewer - forgotten;
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.limiter.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some(permit) = self.permit.take()
            && state.debt > 0
        {
            state.debt -= 1;
            state.issued -= 1;
            permit.forget();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn slow_start_doubles_per_round_trip_then_grows_by_one() {
        let now = Instant::now();
        let mut aimd = AimdLimit::new(4, 64);
        // A round trip: as many answers as the limit, all with it in full use.
        for expected in [8, 16, 32, 64, 64] {
            for _ in 0..aimd.limit() {
                let in_flight = aimd.limit();
                aimd.on_signal(Signal::Answered(ms(100)), in_flight, now);
            }
            assert_eq!(aimd.limit(), expected);
        }
    }

    #[test]
    fn a_429_halves_the_limit_once_per_round_trip() {
        let now = Instant::now();
        let mut aimd = AimdLimit::new(32, 64);
        aimd.on_signal(Signal::Answered(ms(100)), 32, now);
        assert_eq!(aimd.limit(), 33);
        aimd.on_signal(Signal::Throttled, 33, now);
        assert_eq!(aimd.limit(), 16);
        // Answers to the requests already sent: the same event.
        aimd.on_signal(Signal::Throttled, 16, now + ms(50));
        assert_eq!(aimd.limit(), 16);
        aimd.on_signal(Signal::Throttled, 16, now + ms(150));
        assert_eq!(aimd.limit(), 8);
        // Past slow start: one more per round trip.
        for _ in 0..8 {
            aimd.on_signal(Signal::Answered(ms(100)), 8, now + ms(300));
        }
        assert_eq!(aimd.limit(), 9);
    }

    #[test]
    fn the_limit_stays_within_one_and_the_maximum() {
        let now = Instant::now();
        let mut aimd = AimdLimit::new(100, 3);
        assert_eq!(aimd.limit(), 3);
        for i in 0..20 {
            aimd.on_signal(Signal::Throttled, 1, now + Duration::from_secs(i));
        }
        assert_eq!(aimd.limit(), 1);
    }

    #[test]
    fn answers_twice_as_slow_as_usual_shrink_the_limit() {
        let now = Instant::now();
        let mut aimd = AimdLimit::new(20, 64);
        for _ in 0..5 {
            aimd.on_signal(Signal::Answered(ms(100)), 20, now);
        }
        assert_eq!(aimd.limit(), 25);
        // Slower, but within the tolerance: still growing.
        aimd.on_signal(Signal::Answered(ms(200)), 25, now);
        assert_eq!(aimd.limit(), 26);
        let mut at = now;
        while aimd.limit() >= 26 {
            at += ms(10);
            aimd.on_signal(Signal::Answered(ms(600)), 26, at);
            assert!(at < now + Duration::from_secs(1), "never shrank");
        }
        assert_eq!(aimd.limit(), 24);
    }

    #[test]
    fn an_idle_limit_does_not_grow() {
        let now = Instant::now();
        let mut aimd = AimdLimit::new(16, 64);
        for _ in 0..100 {
            aimd.on_signal(Signal::Answered(ms(100)), 1, now);
        }
        assert_eq!(aimd.limit(), 16);
    }

    #[tokio::test]
    async fn the_limiter_follows_the_limit_with_requests_in_flight() {
        let limiter = AdaptiveLimiter::new(4, 8);
        let now = Instant::now();
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(limiter.acquire().await.unwrap());
        }
        assert!(limiter.semaphore.try_acquire().is_err());
        // Four answers with the limit in full use: slow start adds four places.
        for _ in 0..4 {
            limiter.record(Signal::Answered(ms(10)), now);
        }
        assert_eq!(limiter.limit(), 8);
        for _ in 0..4 {
            held.push(limiter.acquire().await.unwrap());
        }
        assert!(limiter.semaphore.try_acquire().is_err());
        // A 429 halves the limit: the next four places that come back are withdrawn.
        limiter.record(Signal::Throttled, now);
        assert_eq!(limiter.limit(), 4);
        held.truncate(4);
        assert!(limiter.semaphore.try_acquire().is_err(), "4 in flight");
        held.truncate(3);
        let fourth = limiter.acquire().await.unwrap();
        assert!(limiter.semaphore.try_acquire().is_err(), "4 in flight");
        drop((fourth, held));
        assert_eq!(limiter.semaphore.available_permits(), 4);
    }
}
