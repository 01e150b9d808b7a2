//! When an ARM request may leave: its turn among the requests of its class (reads,
//! writes, deletes) waiting — by the priority of the work it belongs to, then arrival,
//! see [`crate::priority`] — then a place in flight (each class has its own adaptive
//! limit, so a long-running operation's polls never hold a write's place), then a token
//! of the principal's bucket and the end of any `Retry-After`. What the answer tells —
//! the remaining quota, a 429, the latency — feeds the limit and the bucket model back.

use std::time::{Duration, Instant};

use http::HeaderMap;
use tokio::sync::Notify;

use crate::bucket_model::Ticket;
use crate::concurrency::{AdaptiveLimiter, Signal, Slot};
use crate::error::AzureError;
use crate::priority::{self, Turns};
use crate::throttle::{Bucket, Throttle, ThrottleOptions};

/// Requests of a class in flight before the first answers show how the service copes.
const INITIAL_IN_FLIGHT: usize = 4;

/// One request class's way out.
struct Lane {
    limiter: AdaptiveLimiter,
    /// Held by the request whose turn it is to wait for a place and a token; the others
    /// queue here.
    turns: Turns,
    /// Woken by every answer of the class: it may show tokens the model did not expect.
    answered: Notify,
}

pub(crate) struct Admission {
    throttle: Throttle,
    lanes: [Lane; 3],
}

/// A request allowed to leave: its place in flight (freed when this is settled or
/// dropped) and its ticket for the bucket model.
pub(crate) struct Admitted<'a> {
    bucket: Bucket,
    ticket: Ticket,
    slot: Slot<'a>,
    /// How long it waited for a token or a `Retry-After`.
    pub waited: Duration,
}

/// How an attempt ended, as far as admission is concerned.
pub(crate) enum Outcome<'h> {
    Answer {
        status: u16,
        headers: &'h HeaderMap,
        latency: Duration,
    },
    /// No answer (transport error).
    NoAnswer,
}

impl Admission {
    /// `max_in_flight`: the most requests of one class the adaptive limit grows to.
    pub fn new(options: ThrottleOptions, max_in_flight: usize) -> Self {
        let lane = |_| Lane {
            limiter: AdaptiveLimiter::new(INITIAL_IN_FLIGHT, max_in_flight),
            turns: Turns::default(),
            answered: Notify::new(),
        };
        Self {
            throttle: Throttle::new(options),
            lanes: Bucket::ALL.map(lane),
        }
    }

    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// Waits until a request of class `bucket` may leave.
    pub async fn admit(&self, bucket: Bucket) -> Result<Admitted<'_>, AzureError> {
        let lane = &self.lanes[bucket.index()];
        let _turn = lane.turns.take(priority::current()).await;
        let slot = lane.limiter.acquire().await.map_err(|_| shutting_down())?;
        let mut waited = Duration::ZERO;
        loop {
            let answered = lane.answered.notified();
            tokio::pin!(answered);
            // Registered before the model is asked: an answer in between still wakes us.
            answered.as_mut().enable();
            let now = clock_now();
            match self.throttle.admit(bucket, now) {
                Ok(ticket) => {
                    return Ok(Admitted {
                        bucket,
                        ticket,
                        slot,
                        waited,
                    });
                }
                Err(wait) => {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = answered => {}
                    }
                    waited += clock_now().saturating_duration_since(now);
                }
            }
        }
    }

    /// Feeds what an admitted request's attempt told back into the model and the
    /// in-flight limit, and frees its place.
    pub fn settle(&self, admitted: Admitted<'_>, outcome: Outcome<'_>) {
        let lane = &self.lanes[admitted.bucket.index()];
        let now = clock_now();
        let signal = match outcome {
            Outcome::Answer {
                status,
                headers,
                latency,
            } => {
                self.throttle.settle(
                    admitted.bucket,
                    admitted.ticket,
                    Some((status, headers)),
                    now,
                );
                match status {
                    429 => Signal::Throttled,
                    408 | 500..=599 => Signal::Failed,
                    _ => Signal::Answered(latency),
                }
            }
            Outcome::NoAnswer => {
                self.throttle
                    .settle(admitted.bucket, admitted.ticket, None, now);
                Signal::Failed
            }
        };
        lane.answered.notify_waiters();
        lane.limiter.record(signal, now);
        drop(admitted.slot);
    }

    /// The in-flight limit of class `bucket` now.
    pub fn in_flight_limit(&self, bucket: Bucket) -> usize {
        self.lanes[bucket.index()].limiter.limit()
    }
}

/// Now, on the clock `tokio::time::sleep` waits on (the same as [`Instant::now`] except
/// in tests that pause time).
pub(crate) fn clock_now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn shutting_down() -> AzureError {
    AzureError::InvalidInput("the ARM client is shutting down".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn writes_left(n: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "x-ms-ratelimit-remaining-subscription-writes",
            HeaderValue::from_static(n),
        );
        h
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_bucket_holds_writes_but_not_reads() {
        let admission = Admission::new(ThrottleOptions::default(), 8);
        let first = admission.admit(Bucket::Writes).await.unwrap();
        admission.settle(
            first,
            Outcome::Answer {
                status: 200,
                headers: &writes_left("0"),
                latency: Duration::from_millis(100),
            },
        );
        // A read goes at once; a write waits for the refill.
        let read = admission.admit(Bucket::Reads).await.unwrap();
        assert_eq!(read.waited, Duration::ZERO);
        let write = admission.admit(Bucket::Writes).await.unwrap();
        assert!(
            write.waited >= Duration::from_millis(100),
            "{:?}",
            write.waited
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_ends_the_wait_for_the_refill() {
        let admission = Admission::new(ThrottleOptions::default(), 8);
        fn answer(remaining: &HeaderMap) -> Outcome<'_> {
            Outcome::Answer {
                status: 200,
                headers: remaining,
                latency: Duration::from_millis(50),
            }
        }
        let (two, forty) = (writes_left("2"), writes_left("40"));
        let first = admission.admit(Bucket::Writes).await.unwrap();
        admission.settle(first, answer(&two));
        // Two tokens: two writes go; a third would wait 100 ms for the refill (10/s)...
        let second = admission.admit(Bucket::Writes).await.unwrap();
        let _third = admission.admit(Bucket::Writes).await.unwrap();
        let started = tokio::time::Instant::now();
        let (fourth, ()) = tokio::join!(admission.admit(Bucket::Writes), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            // ...but the second's answer shows the bucket had more than was known.
            admission.settle(second, answer(&forty));
        });
        assert!(fourth.is_ok());
        assert_eq!(started.elapsed(), Duration::from_millis(50));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_holds_every_class() {
        let admission = Admission::new(ThrottleOptions::default(), 8);
        admission
            .throttle()
            .block_until(clock_now() + Duration::from_secs(1));
        let (reads, writes, deletes) = tokio::join!(
            admission.admit(Bucket::Reads),
            admission.admit(Bucket::Writes),
            admission.admit(Bucket::Deletes)
        );
        for admitted in [reads, writes, deletes] {
            let waited = admitted.unwrap().waited;
            assert!(waited >= Duration::from_millis(900), "{waited:?}");
        }
    }

    #[tokio::test]
    async fn a_429_shrinks_the_class_limit() {
        let admission = Admission::new(ThrottleOptions::default(), 8);
        assert_eq!(admission.in_flight_limit(Bucket::Writes), INITIAL_IN_FLIGHT);
        let write = admission.admit(Bucket::Writes).await.unwrap();
        admission.settle(
            write,
            Outcome::Answer {
                status: 429,
                headers: &writes_left("0"),
                latency: Duration::from_millis(5),
            },
        );
        assert_eq!(admission.in_flight_limit(Bucket::Writes), 2);
        assert_eq!(admission.in_flight_limit(Bucket::Reads), INITIAL_IN_FLIGHT);
    }
}
