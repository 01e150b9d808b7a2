//! Which waiting request goes first when ARM's budget frees a token: the one of the
//! highest priority, then the one that came first.
//!
//! A caller gives a whole piece of work — e.g. one API's chain of writes — a priority
//! with [`with_priority`]; every request made inside it queues with that priority. Work
//! that is long and cannot be hurried (a chain of imports, each waited for) goes first,
//! so it is not what is left when the rest is done: the short work fills the bucket's
//! refill around it instead of the refill going unused at the end.

use std::cmp::Reverse;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

tokio::task_local! {
    static PRIORITY: u32;
}

/// Runs `work` with its ARM requests queued ahead of those of lower priority (0 when
/// none is given).
pub async fn with_priority<F: Future>(priority: u32, work: F) -> F::Output {
    PRIORITY.scope(priority, work).await
}

/// The priority of the work the current task is doing.
pub(crate) fn current() -> u32 {
    PRIORITY.try_with(|p| *p).unwrap_or(0)
}

/// Higher priority first, then arrival order.
type Key = (Reverse<u32>, u64);

#[derive(Debug, Default)]
struct Queue {
    waiting: BTreeSet<Key>,
    arrivals: u64,
    /// Someone holds the turn.
    taken: bool,
}

impl Queue {
    fn join(&mut self, priority: u32) -> Key {
        self.arrivals += 1;
        let key = (Reverse(priority), self.arrivals);
        self.waiting.insert(key);
        key
    }

    /// Gives the turn to `key` if it is free and `key` is first in line.
    fn try_take(&mut self, key: Key) -> bool {
        if self.taken || self.waiting.first() != Some(&key) {
            return false;
        }
        self.waiting.remove(&key);
        self.taken = true;
        true
    }
}

/// One turn at a time, by priority then arrival.
#[derive(Debug, Default)]
pub(crate) struct Turns {
    queue: Mutex<Queue>,
    changed: Notify,
}

/// The turn; dropping it passes the turn on.
pub(crate) struct Turn<'a> {
    turns: &'a Turns,
}

/// A place in line; dropped before its turn (the caller gave up), it leaves the line.
struct InLine<'a> {
    turns: &'a Turns,
    key: Key,
    served: bool,
}

impl Turns {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Plain bookkeeping: still usable after a panic elsewhere.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for the turn, behind every request of higher priority and every earlier
    /// one of the same priority.
    pub async fn take(&self, priority: u32) -> Turn<'_> {
        let mut place = InLine {
            turns: self,
            key: self.lock().join(priority),
            served: false,
        };
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before looking: a change in between still wakes us.
            changed.as_mut().enable();
            if self.lock().try_take(place.key) {
                place.served = true;
                return Turn { turns: self };
            }
            changed.await;
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.turns.lock().taken = false;
        self.turns.changed.notify_waiters();
    }
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        self.turns.lock().waiting.remove(&self.key);
        self.turns.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn higher_priority_first_then_arrival() {
        let mut queue = Queue::default();
        let low_first = queue.join(1);
        let high = queue.join(5);
        let low_second = queue.join(1);
        assert!(!queue.try_take(low_first));
        assert!(queue.try_take(high));
        assert!(!queue.try_take(low_first), "the turn is taken");
        queue.taken = false;
        assert!(!queue.try_take(low_second));
        assert!(queue.try_take(low_first));
        queue.taken = false;
        assert!(queue.try_take(low_second));
    }

    #[tokio::test]
    async fn the_priority_follows_the_work() {
        assert_eq!(current(), 0);
        assert_eq!(with_priority(7, async { current() }).await, 7);
        let nested = with_priority(3, async { with_priority(9, async { current() }).await });
        assert_eq!(nested.await, 9);
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_get_the_turn_by_priority() {
        let turns = Arc::new(Turns::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = turns.take(0).await;
        let mut waiting = Vec::new();
        for (name, priority) in [("a", 1), ("b", 3), ("c", 1), ("d", 2)] {
            let (turns, order) = (turns.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = turns.take(priority).await;
                order.lock().unwrap().push(name);
            }));
            // Let it join the line before the next one.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        drop(first);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["b", "d", "a", "c"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_that_gives_up_leaves_the_line() {
        let turns = Turns::default();
        let held = turns.take(0).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(5), turns.take(9)).await;
        assert!(gave_up.is_err());
        drop(held);
        // The one that gave up would have been first: it must not block the line.
        let _next = tokio::time::timeout(Duration::from_millis(5), turns.take(0))
            .await
            .unwrap();
    }
}
