//! ARM's request throttling: a token bucket per principal and request category.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::calls::lock;
use crate::config::{BucketConfig, ThrottleConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

pub(crate) struct Throttle {
    config: Mutex<ThrottleConfig>,
    buckets: Mutex<HashMap<(String, Category), Bucket>>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config: Mutex::new(config),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn set_enabled(&self, enabled: bool) {
        lock(&self.config).enabled = enabled;
    }

    pub fn config(&self) -> ThrottleConfig {
        *lock(&self.config)
    }

    pub fn take(&self, principal: &str, category: Category) -> Verdict {
        self.take_at(principal, category, Instant::now())
    }

    fn take_at(&self, principal: &str, category: Category, now: Instant) -> Verdict {
        let config = self.config();
        let bucket_config = match category {
            Category::Reads => config.reads,
            Category::Writes => config.writes,
            Category::Deletes => config.deletes,
        };
        if !config.enabled {
            return Verdict::Allowed {
                remaining: bucket_config.capacity.max(0.0) as u64,
            };
        }
        let mut buckets = lock(&self.buckets);
        let bucket = buckets
            .entry((principal.to_string(), category))
            .or_insert(Bucket {
                tokens: bucket_config.capacity,
                at: now,
            });
        refill(bucket, &bucket_config, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Verdict::Allowed {
                remaining: bucket.tokens.floor().max(0.0) as u64,
            }
        } else {
            let missing = 1.0 - bucket.tokens;
            let secs = if bucket_config.refill_per_sec > 0.0 {
                (missing / bucket_config.refill_per_sec).ceil() as u64
            } else {
                60
            };
            Verdict::Throttled {
                retry_after_secs: secs.max(1),
            }
        }
    }
}

fn refill(bucket: &mut Bucket, config: &BucketConfig, now: Instant) {
    let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * config.refill_per_sec).min(config.capacity);
    bucket.at = now;
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
    }

    #[test]
    fn categories_follow_methods() {
        assert_eq!(Category::of(&http::Method::HEAD), Category::Reads);
        assert_eq!(Category::of(&http::Method::POST), Category::Writes);
        assert_eq!(Category::of(&http::Method::PATCH), Category::Writes);
        assert_eq!(Category::of(&http::Method::DELETE), Category::Deletes);
    }
}
