//! Fault injection: rules matched per request by method and path, applied a number of
//! times or with a probability.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::calls::lock;

/// One fault rule. A rule *matches* a request when its method (if any) names the request
/// method and its `path_contains` (if any) is a substring of the request path; a matching
/// rule *fires* with its `probability` (always when `None`) while its `times` budget (if
/// any) lasts. Admin routes are never faulted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// One method (`PUT`) or several separated by commas (`PUT,POST,PATCH`, e.g. ARM's
    /// write category), matched case-insensitively.
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path_contains: Option<String>,
    pub kind: FaultKind,
    /// How many times the rule fires before it is spent; `None` = forever.
    #[serde(default)]
    pub times: Option<u32>,
    /// Chance in [0, 1] that a matching request is faulted; `None` = always.
    #[serde(default)]
    pub probability: Option<f64>,
}

impl FaultRule {
    pub fn new(kind: FaultKind) -> Self {
        Self {
            method: None,
            path_contains: None,
            kind,
            times: None,
            probability: None,
        }
    }

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_string());
        self
    }

    /// Matches any of `methods`, e.g. `["PUT", "POST", "PATCH"]` for ARM's writes.
    pub fn methods(mut self, methods: &[&str]) -> Self {
        self.method = Some(methods.join(","));
        self
    }

    /// Delays every matching request by `ms` milliseconds, then serves it normally.
    pub fn latency(ms: u64) -> Self {
        Self::new(FaultKind::Latency { ms })
    }

    pub fn path_contains(mut self, fragment: &str) -> Self {
        self.path_contains = Some(fragment.to_string());
        self
    }

    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    pub fn probability(mut self, probability: f64) -> Self {
        self.probability = Some(probability);
        self
    }

    /// 429 `TooManyRequests`-style throttling with `Retry-After`.
    pub fn throttle(retry_after_secs: u64) -> Self {
        Self::new(FaultKind::Status {
            status: 429,
            code: "TooManyRequests".to_string(),
            retry_after_secs: Some(retry_after_secs),
        })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|methods| {
            methods
                .split(',')
                .any(|m| m.trim().eq_ignore_ascii_case(method))
        }) && self
            .path_contains
            .as_deref()
            .is_none_or(|p| path.contains(p))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status and an ARM error body carrying `code` (an AAD-style body on
    /// the token endpoint), with `Retry-After` when given.
    Status {
        status: u16,
        code: String,
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Delay the request by this many milliseconds, then serve it normally.
    Latency { ms: u64 },
    /// Close the TCP connection without any HTTP answer.
    DropConnection,
    /// The long-running operation this request starts needs this many more polls.
    SlowLro { extra_polls: u32 },
    /// The API Center import this request starts is accepted (202) as usual, then fails
    /// with 400 and this code when it completes: the `Location` poll answers
    /// `{"error": {code, message}}`. An empty message gets a generated one.
    ImportFails {
        code: String,
        #[serde(default)]
        message: String,
    },
}

impl FaultKind {
    fn label(&self) -> String {
        match self {
            FaultKind::Status { status, .. } => format!("status:{status}"),
            FaultKind::Latency { ms } => format!("latency:{ms}ms"),
            FaultKind::DropConnection => "drop".to_string(),
            FaultKind::SlowLro { extra_polls } => format!("slow_lro:+{extra_polls}"),
            FaultKind::ImportFails { code, .. } => format!("import_fails:{code}"),
        }
    }
}

/// What to do to one request.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct FaultDecision {
    /// Sum of every firing latency rule.
    pub latency_ms: u64,
    /// The first firing rule that is not latency.
    pub action: Option<FaultKind>,
    labels: Vec<String>,
}

impl FaultDecision {
    pub fn label(&self) -> Option<String> {
        (!self.labels.is_empty()).then(|| self.labels.join(","))
    }
}

#[derive(Default)]
pub(crate) struct FaultSet {
    rules: Mutex<Vec<FaultRule>>,
}

impl FaultSet {
    pub fn new(rules: Vec<FaultRule>) -> Self {
        Self {
            rules: Mutex::new(rules),
        }
    }

    pub fn add(&self, rule: FaultRule) {
        lock(&self.rules).push(rule);
    }

    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    pub fn list(&self) -> Vec<FaultRule> {
        lock(&self.rules).clone()
    }

    pub fn decide(&self, method: &str, path: &str) -> FaultDecision {
        let mut rules = lock(&self.rules);
        let mut decision = FaultDecision::default();
        for rule in rules.iter_mut() {
            if !rule.matches(method, path) || rule.times == Some(0) {
                continue;
            }
            let is_latency = matches!(rule.kind, FaultKind::Latency { .. });
            if !is_latency && decision.action.is_some() {
                continue;
            }
            if let Some(p) = rule.probability
                && rand::random::<f64>() >= p
            {
                continue;
            }
            if let Some(times) = rule.times.as_mut() {
                *times -= 1;
            }
            decision.labels.push(rule.kind.label());
            match &rule.kind {
                FaultKind::Latency { ms } => {
                    decision.latency_ms = decision.latency_ms.saturating_add(*ms)
                }
                other => decision.action = Some(other.clone()),
            }
        }
        // Spent rules are of no further use; dropping them keeps `list()` honest.
        rules.retain(|r| r.times != Some(0));
        decision
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_budget_is_spent_then_rule_removed() {
        let set = FaultSet::new(vec![FaultRule::throttle(1).path_contains("/apis").times(2)]);
        assert!(set.decide("GET", "/x/apis").action.is_some());
        assert!(set.decide("GET", "/x/service").action.is_none());
        assert!(set.decide("GET", "/x/apis").action.is_some());
        assert!(set.decide("GET", "/x/apis").action.is_none());
        assert!(set.list().is_empty());
    }

    #[test]
    fn latency_adds_up_and_first_action_wins() {
        let set = FaultSet::new(vec![
            FaultRule::new(FaultKind::Latency { ms: 10 }),
            FaultRule::new(FaultKind::DropConnection).method("PUT"),
            FaultRule::throttle(1),
            FaultRule::new(FaultKind::Latency { ms: 5 }),
        ]);
        let d = set.decide("put", "/a");
        assert_eq!(d.latency_ms, 15);
        assert_eq!(d.action, Some(FaultKind::DropConnection));
        assert_eq!(d.label().as_deref(), Some("latency:10ms,drop,latency:5ms"));
        let d = set.decide("GET", "/a");
        assert!(matches!(
            d.action,
            Some(FaultKind::Status { status: 429, .. })
        ));
    }

    #[test]
    fn a_rule_may_name_several_methods() {
        let set = FaultSet::new(vec![
            FaultRule::latency(100)
                .methods(&["PUT", "POST", "PATCH"])
                .path_contains("/subscriptions/"),
            FaultRule::latency(20)
                .method("get, head")
                .path_contains("/subscriptions/"),
        ]);
        for (method, ms) in [
            ("PUT", 100),
            ("post", 100),
            ("PATCH", 100),
            ("GET", 20),
            ("HEAD", 20),
            ("DELETE", 0),
            ("PUTS", 0),
        ] {
            assert_eq!(
                set.decide(method, "/subscriptions/s/x").latency_ms,
                ms,
                "{method}"
            );
        }
        assert_eq!(set.decide("PUT", "/_blob/x").latency_ms, 0);
        let json = serde_json::to_value(FaultRule::latency(5).methods(&["PUT", "POST"])).unwrap();
        assert_eq!(json["method"], "PUT,POST");
    }

    #[test]
    fn probability_zero_never_fires_and_one_always_fires() {
        let set = FaultSet::new(vec![FaultRule::throttle(1).probability(0.0)]);
        for _ in 0..50 {
            assert!(set.decide("GET", "/").action.is_none());
        }
        let set = FaultSet::new(vec![FaultRule::throttle(1).probability(1.0)]);
        for _ in 0..50 {
            assert!(set.decide("GET", "/").action.is_some());
        }
    }

    #[test]
    fn rules_round_trip_through_json() {
        let json = r#"{"method":"GET","path_contains":"/apis","kind":{"type":"status","status":503,"code":"ServiceUnavailable"},"times":1}"#;
        let rule: FaultRule = serde_json::from_str(json).unwrap();
        assert_eq!(rule.times, Some(1));
        assert!(matches!(rule.kind, FaultKind::Status { status: 503, .. }));
        let drop: FaultRule =
            serde_json::from_str(r#"{"kind":{"type":"drop_connection"}}"#).unwrap();
        assert_eq!(drop.kind, FaultKind::DropConnection);
        let import: FaultRule = serde_json::from_str(
            r#"{"path_contains":"/importSpecification","kind":{"type":"import_fails","code":"InvalidApiSpecification"}}"#,
        )
        .unwrap();
        assert_eq!(
            import.kind,
            FaultKind::ImportFails {
                code: "InvalidApiSpecification".into(),
                message: String::new()
            }
        );
    }
}
