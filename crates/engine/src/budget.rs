//! The write gate of one pass: a cap on the number of writes and an optional pace.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::options::WriteBudget;

/// The pass has used its whole write budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BudgetExhausted;

pub(crate) struct WriteGate {
    max: Option<u64>,
    interval: Option<Duration>,
    used: AtomicU64,
    next_slot: Mutex<Option<Instant>>,
}

impl WriteGate {
    pub fn new(budget: WriteBudget) -> Self {
        let interval = budget
            .writes_per_second
            .filter(|rate| rate.is_finite() && *rate > 0.0)
            .map(|rate| Duration::from_secs_f64(1.0 / rate));
        Self {
            max: budget.max_writes_per_pass,
            interval,
            used: AtomicU64::new(0),
            next_slot: Mutex::new(None),
        }
    }

    /// Takes one write from the budget, waiting for its slot when paced.
    pub async fn acquire(&self) -> Result<(), BudgetExhausted> {
        let taken = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                self.max.is_none_or(|max| used < max).then_some(used + 1)
            });
        if taken.is_err() {
            return Err(BudgetExhausted);
        }
        if let Some(interval) = self.interval {
            let slot = {
                let mut next = self
                    .next_slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                let slot = next.map_or(now, |n| n.max(now));
                *next = Some(slot + interval);
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
        Ok(())
    }

    /// Writes taken so far.
    #[cfg(test)]
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caps_the_number_of_writes() {
        let gate = WriteGate::new(WriteBudget {
            max_writes_per_pass: Some(2),
            writes_per_second: None,
        });
        assert!(gate.acquire().await.is_ok());
        assert!(gate.acquire().await.is_ok());
        assert_eq!(gate.acquire().await, Err(BudgetExhausted));
        assert_eq!(gate.used(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn paces_writes() {
        let gate = WriteGate::new(WriteBudget {
            max_writes_per_pass: None,
            writes_per_second: Some(10.0),
        });
        let start = Instant::now();
        for _ in 0..5 {
            gate.acquire().await.unwrap();
        }
        // The first write goes at once, the next four 100 ms apart.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    }
}
