//! The client's picture of one of ARM's token buckets, built from the
//! `x-ms-ratelimit-remaining-subscription-*` header of every answer: how many tokens it
//! holds and how fast it refills, both erring low. Pure: every decision takes the time
//! as an argument.
//!
//! - Tokens now: answers may come back in another order than ARM took their tokens, but
//!   a request takes its token between its send and its answer, so the one taken last
//!   of those answered was answered at most one flight time (the longest a request has
//!   lately been in flight) before the latest answer, and its count shows every other
//!   take. The lowest count received in that span, plus the refill since the latest
//!   answer (never past the fullest the bucket was seen, plus one), less every request
//!   still in flight (each takes a token, or took one no count shows) and every answer
//!   without a count in that span, is a lower bound of the tokens left for new requests.
//! - Refill rate: `remaining + tokens taken so far` grows at the refill rate while the
//!   bucket is not full. At each answer the tokens taken before it are at least those
//!   of the requests answered before it was sent, at most those of the requests sent
//!   before it was answered; remaining counts are floored. Between an earlier answer
//!   `i` and the latest `j` the bucket refilled at least `low(j) − high(i)`: the model
//!   takes the best such bound over a sliding window — the documented rate until the
//!   window spans long enough, and never below a quarter of it (a bound is loose after a
//!   burst with many requests in flight; too low a rate would stall a client with
//!   nothing in flight to show the refill).
//!
//! Both err low, the tokens by about the requests in flight: once the burst is spent,
//! requests leave at the refill rate (each answer shows the tokens a cautious wait left
//! in the bucket) without earning 429s, unless someone else spends the principal's
//! tokens.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long the refill is measured over: long enough that the bounds' slack (requests
/// in flight) matters little, short enough to follow another client starting to share
/// the principal.
const RATE_WINDOW: Duration = Duration::from_secs(30);
/// Two answers must be this far apart before they bound the rate.
const MIN_RATE_SPAN: Duration = Duration::from_millis(500);
/// The measured rate is never taken below this share of the documented one.
const MIN_RATE_SHARE: f64 = 0.25;
/// Share of the gap by which the longest flight time comes down towards a shorter one.
const FLIGHT_DECAY: f64 = 0.01;
/// Added to the flight time when looking back for answers that may have come out of
/// order: clocks and scheduling are not exact.
const REORDER_SLACK: Duration = Duration::from_millis(20);

/// What the model knew when it admitted a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// Requests answered and granted a token when this one was admitted.
    granted: u64,
    admitted_at: Instant,
}

/// How an admitted request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// ARM answered: `refused` for a 429 (no token taken), with the remaining count
    /// when the answer carried it.
    Answered {
        refused: bool,
        remaining: Option<u64>,
    },
    /// No answer: the request may or may not have taken a token.
    Lost,
}

/// A remaining count, and when it was received.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Report {
    remaining: u64,
    at: Instant,
}

/// Bounds of `remaining + tokens taken` at one answer.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    at: Instant,
    low: f64,
    high: f64,
}

#[derive(Debug, Clone)]
pub struct BucketModel {
    documented_rate: f64,
    reserve: f64,
    admitted: u64,
    settled: u64,
    granted: u64,
    refused: u64,
    /// The counts received within one flight time of the latest, oldest first.
    recent: VecDeque<Report>,
    /// When answers without a count (and requests without answer) came, within one
    /// flight time of the latest count: they may have taken a token no count shows.
    unreported: VecDeque<Instant>,
    /// The longest a request has lately been in flight.
    flight: Duration,
    /// The highest remaining count seen: the bucket holds at most one more.
    fullest: u64,
    samples: VecDeque<Sample>,
    measured_rate: Option<f64>,
}

impl BucketModel {
    /// A bucket refilling at `documented_rate` per second (until measured), of which
    /// `reserve` tokens are left for other callers of the principal.
    pub fn new(documented_rate: f64, reserve: u64) -> Self {
        Self {
            documented_rate: documented_rate.max(f64::MIN_POSITIVE),
            reserve: reserve as f64,
            admitted: 0,
            settled: 0,
            granted: 0,
            refused: 0,
            recent: VecDeque::new(),
            unreported: VecDeque::new(),
            flight: Duration::ZERO,
            fullest: 0,
            samples: VecDeque::new(),
            measured_rate: None,
        }
    }

    /// Admits one request at `now`, or tells how long to wait before the bucket is
    /// expected to hold a token for it.
    pub fn admit(&mut self, now: Instant) -> Result<Ticket, Duration> {
        if let Some(tokens) = self.tokens_at(now) {
            let needed = 1.0 + self.reserve;
            if tokens < needed {
                let rate = self.refill_rate();
                return Err(Duration::from_secs_f64((needed - tokens) / rate));
            }
        }
        self.admitted += 1;
        Ok(Ticket {
            granted: self.granted,
            admitted_at: now,
        })
    }

    /// Takes in how the request admitted with `ticket` ended, at `now`.
    pub fn settle(&mut self, ticket: Ticket, outcome: Settled, now: Instant) {
        self.settled += 1;
        match outcome {
            Settled::Answered { refused, remaining } => {
                if refused {
                    self.refused += 1;
                } else {
                    self.granted += 1;
                }
                self.note_flight(now.saturating_duration_since(ticket.admitted_at));
                match remaining {
                    Some(remaining) => self.report(ticket, !refused, remaining, now),
                    None if !refused => self.unreported.push_back(now),
                    None => {}
                }
            }
            Settled::Lost => self.unreported.push_back(now),
        }
    }

    /// Keeps the longest flight time, forgetting an old peak slowly.
    fn note_flight(&mut self, flight: Duration) {
        self.flight = if flight >= self.flight {
            flight
        } else {
            self.flight - (self.flight - flight).mul_f64(FLIGHT_DECAY)
        };
    }

    fn report(&mut self, ticket: Ticket, granted: bool, remaining: u64, now: Instant) {
        if remaining > 0 && remaining >= self.fullest {
            // The bucket may have been full since the last answer, and refilled tokens
            // were lost to its cap: measure the rate afresh from here.
            self.samples.clear();
        }
        self.fullest = self.fullest.max(remaining);
        self.recent.push_back(Report { remaining, at: now });
        let since = now.checked_sub(self.flight + REORDER_SLACK);
        let stale = |at: &Instant| since.is_some_and(|since| *at < since);
        while self.recent.len() > 1 && self.recent.front().is_some_and(|r| stale(&r.at)) {
            self.recent.pop_front();
        }
        while self.unreported.front().is_some_and(stale) {
            self.unreported.pop_front();
        }
        let left = remaining as f64;
        self.samples.push_back(Sample {
            at: now,
            low: left + (ticket.granted + u64::from(granted)) as f64,
            high: left + 1.0 + self.admitted.saturating_sub(self.refused) as f64,
        });
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|s| now.saturating_duration_since(s.at) > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
        self.measured_rate = self.measure_rate();
    }

    /// The best lower bound of the refill rate between an earlier answer and the latest.
    fn measure_rate(&self) -> Option<f64> {
        let last = self.samples.back()?;
        self.samples
            .iter()
            .filter(|s| last.at.saturating_duration_since(s.at) >= MIN_RATE_SPAN)
            .map(|s| (last.low - s.high) / last.at.saturating_duration_since(s.at).as_secs_f64())
            .reduce(f64::max)
    }

    /// A lower bound of the tokens the bucket holds at `now` for requests not admitted
    /// yet; `None` before any answer with a remaining count.
    pub fn tokens_at(&self, now: Instant) -> Option<f64> {
        let latest = self.recent.back()?;
        let lowest = self.recent.iter().map(|r| r.remaining).min()?;
        let refilled = self.refill_rate() * now.saturating_duration_since(latest.at).as_secs_f64();
        let held = (lowest as f64 + refilled).min(self.fullest as f64 + 1.0);
        let in_flight = self.admitted - self.settled;
        Some(held - (in_flight as usize + self.unreported.len()) as f64)
    }

    /// The refill rate per second the model works with.
    pub fn refill_rate(&self) -> f64 {
        let floor = self.documented_rate * MIN_RATE_SHARE;
        self.measured_rate
            .map_or(self.documented_rate, |measured| measured.max(floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bucket as ARM keeps it, to run the model against.
    struct Server {
        tokens: f64,
        capacity: f64,
        rate: f64,
        at: Instant,
    }

    impl Server {
        fn new(capacity: f64, rate: f64, at: Instant) -> Self {
            Self {
                tokens: capacity,
                capacity,
                rate,
                at,
            }
        }

        /// Takes a token at `now`: the remaining count, or `None` for a 429.
        fn take(&mut self, now: Instant) -> Option<u64> {
            let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
            self.at = now;
            if self.tokens < 1.0 {
                return None;
            }
            self.tokens -= 1.0;
            Some(self.tokens.floor() as u64)
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn answered(remaining: u64) -> Settled {
        Settled::Answered {
            refused: false,
            remaining: Some(remaining),
        }
    }

    #[test]
    fn without_answers_nothing_waits() {
        let mut model = BucketModel::new(10.0, 0);
        let now = Instant::now();
        for _ in 0..50 {
            assert!(model.admit(now).is_ok());
        }
        assert_eq!(model.tokens_at(now), None);
        assert_eq!(model.refill_rate(), 10.0);
    }

    #[test]
    fn requests_in_flight_spend_tokens_before_their_answers() {
        let mut model = BucketModel::new(10.0, 0);
        let t0 = Instant::now();
        let first = model.admit(t0).unwrap();
        model.settle(first, answered(5), t0);
        // Five tokens: five requests go, the sixth waits for the refill (100 ms at 10/s).
        for _ in 0..5 {
            assert!(model.admit(t0).is_ok());
        }
        assert_eq!(model.tokens_at(t0), Some(0.0));
        assert_eq!(model.admit(t0), Err(ms(100)));
        assert!(model.admit(t0 + ms(100)).is_ok());
    }

    #[test]
    fn requests_count_until_answered_whatever_the_order() {
        let mut model = BucketModel::new(10.0, 0);
        let t0 = Instant::now();
        let early = model.admit(t0).unwrap();
        let reported = model.admit(t0).unwrap();
        // The second request's answer: the first may still take a token after it.
        model.settle(reported, answered(5), t0);
        assert_eq!(model.tokens_at(t0), Some(4.0));
        // The first answers later, from before the second took its token: the lower
        // count of the two stands.
        model.settle(early, answered(6), t0);
        assert_eq!(model.tokens_at(t0), Some(5.0));
        let later = model.admit(t0).unwrap();
        model.settle(later, answered(3), t0);
        assert_eq!(model.tokens_at(t0), Some(3.0));
    }

    #[test]
    fn a_reserve_is_left_in_the_bucket() {
        let mut model = BucketModel::new(10.0, 2);
        let t0 = Instant::now();
        let first = model.admit(t0).unwrap();
        model.settle(first, answered(3), t0);
        assert!(model.admit(t0).is_ok());
        assert_eq!(model.admit(t0), Err(ms(100)));
    }

    #[test]
    fn a_lost_request_counts_while_it_may_be_behind_a_count() {
        let mut model = BucketModel::new(10.0, 0);
        let t0 = Instant::now();
        let first = model.admit(t0).unwrap();
        model.settle(first, answered(2), t0);
        let lost = model.admit(t0).unwrap();
        model.settle(lost, Settled::Lost, t0);
        assert_eq!(model.tokens_at(t0), Some(1.0));
        // An answer right after: the lost request may have taken its token after it.
        let next = model.admit(t0).unwrap();
        model.settle(next, answered(1), t0 + ms(10));
        assert_eq!(model.tokens_at(t0 + ms(10)), Some(0.0));
        // A second later, a count from a request sent and answered within 10 ms shows
        // every take before it, the lost request's included.
        let later = t0 + Duration::from_secs(1);
        let last = model.admit(later).unwrap();
        model.settle(last, answered(4), later + ms(10));
        assert_eq!(model.tokens_at(later + ms(10)), Some(4.0));
    }

    #[test]
    fn the_refill_is_never_counted_past_the_fullest_bucket_seen() {
        let mut model = BucketModel::new(10.0, 0);
        let t0 = Instant::now();
        let first = model.admit(t0).unwrap();
        model.settle(first, answered(7), t0);
        assert_eq!(model.tokens_at(t0 + Duration::from_secs(60)), Some(8.0));
    }

    #[test]
    fn an_empty_bucket_is_measured_too() {
        let t0 = Instant::now();
        let mut model = BucketModel::new(10.0, 0);
        // Found empty (another process spent it): one request at a time, each taking
        // the token the last 50 ms refilled (sent sooner than the model would, by a
        // client that knew better: the test is about the measurement).
        let whenever = t0 + Duration::from_secs(3600);
        for i in 1..=40 {
            let ticket = model.admit(whenever).unwrap();
            model.settle(ticket, answered(0), t0 + ms(50 * i));
        }
        // Between the first answer and the last, 1.95 s: at least 39 tokens granted,
        // less one for the floored counts.
        let rate = model.refill_rate();
        assert!((rate - 38.0 / 1.95).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn a_full_bucket_restarts_the_measurement() {
        let t0 = Instant::now();
        let mut model = BucketModel::new(10.0, 0);
        let first = model.admit(t0).unwrap();
        model.settle(first, answered(99), t0);
        let second = model.admit(t0).unwrap();
        model.settle(second, answered(80), t0 + ms(600));
        assert_ne!(model.refill_rate(), 10.0, "measured over 600 ms");
        // Idle for a minute: full again, and what was refilled meanwhile is unknown.
        let third = model.admit(t0 + Duration::from_secs(60)).unwrap();
        model.settle(third, answered(99), t0 + Duration::from_secs(60));
        assert_eq!(model.refill_rate(), 10.0);
    }

    /// Where between its send and its answer the server takes a request's token.
    #[derive(Debug, Clone, Copy)]
    enum TakenAt {
        Send,
        Answer,
    }

    struct Flight {
        take: Instant,
        answer: Instant,
        ticket: Ticket,
        /// The server's verdict once it took (or refused) the token.
        verdict: Option<Option<u64>>,
    }

    /// What the server saw: 429s, and the requests granted after the burst was spent
    /// (the bucket below `spent_below` tokens) with the seconds from then to the last.
    #[derive(Debug, Default)]
    struct Seen {
        spent_below: u64,
        refused: u64,
        granted: u64,
        after_burst: u64,
        spent_at: Option<Instant>,
        last: Option<Instant>,
    }

    impl Seen {
        fn note(&mut self, verdict: Option<u64>, at: Instant) {
            let Some(remaining) = verdict else {
                self.refused += 1;
                return;
            };
            self.granted += 1;
            self.last = Some(at);
            if self.spent_at.is_some() {
                self.after_burst += 1;
            } else if remaining < self.spent_below {
                self.spent_at = Some(at);
            }
        }

        fn budget_use(&self, rate: f64) -> f64 {
            let span = match (self.spent_at, self.last) {
                (Some(from), Some(to)) => to.saturating_duration_since(from).as_secs_f64(),
                _ => 0.0,
            };
            self.after_burst as f64 / (rate * span)
        }
    }

    /// Drives the model against a server bucket of 100 tokens for 600 granted
    /// requests: requests wait for the model (at most 64 in flight), answers come
    /// `latency` after the send plus up to `jitter` (so out of order), the server takes
    /// the token at the send or at the answer. The burst counts as spent below 10
    /// tokens plus those of the requests in flight, which the model keeps in hand when
    /// the server takes tokens at the send.
    fn drive(rate: f64, documented: f64, latency: u64, jitter: u64, taken: TakenAt) -> Seen {
        let t0 = Instant::now();
        let mut model = BucketModel::new(documented, 0);
        let mut server = Server::new(100.0, rate, t0);
        let mut flights: Vec<Flight> = Vec::new();
        let in_flight_tokens = rate * (latency + jitter) as f64 / 1000.0;
        let mut seen = Seen {
            spent_below: 10 + in_flight_tokens as u64,
            ..Seen::default()
        };
        let mut now = t0;
        let mut sent = 0u64;
        while seen.granted < 600 {
            // The server takes tokens in time order, whatever the answers' order.
            flights.sort_by_key(|f| f.take);
            for flight in flights
                .iter_mut()
                .filter(|f| f.take <= now && f.verdict.is_none())
            {
                let verdict = server.take(flight.take);
                seen.note(verdict, flight.take);
                flight.verdict = Some(verdict);
            }
            flights.sort_by_key(|f| f.answer);
            while flights.first().is_some_and(|f| f.answer <= now) {
                let flight = flights.remove(0);
                let verdict = flight.verdict.unwrap_or(None);
                let outcome = Settled::Answered {
                    refused: verdict.is_none(),
                    remaining: Some(verdict.unwrap_or(0)),
                };
                model.settle(flight.ticket, outcome, flight.answer);
            }
            while flights.len() < 64 {
                let Ok(ticket) = model.admit(now) else {
                    break;
                };
                sent += 1;
                let extra = if jitter == 0 {
                    0
                } else {
                    (sent * 7919) % jitter
                };
                let answer = now + ms(latency + extra);
                let take = match taken {
                    TakenAt::Send => now,
                    TakenAt::Answer => answer,
                };
                flights.push(Flight {
                    take,
                    answer,
                    ticket,
                    verdict: None,
                });
            }
            now += ms(1);
        }
        seen
    }

    #[test]
    fn after_the_burst_requests_leave_at_the_refill_rate_without_429s() {
        for (rate, documented) in [(20.0, 10.0), (10.0, 10.0), (20.0, 20.0), (50.0, 25.0)] {
            for taken in [TakenAt::Send, TakenAt::Answer] {
                for (latency, jitter) in [(100, 0), (20, 200), (1_000, 500)] {
                    let seen = drive(rate, documented, latency, jitter, taken);
                    let case = format!(
                        "{rate}/s documented {documented}/s, {latency}+{jitter} ms, {taken:?}"
                    );
                    assert_eq!(seen.refused, 0, "{case}");
                    let used = seen.budget_use(rate);
                    assert!(used >= 0.97, "{case}: {used} {seen:?}");
                }
            }
        }
    }
}
