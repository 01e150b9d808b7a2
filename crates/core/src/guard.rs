//! The deletion guard: a pass that would remove a large share of what the link owns —
//! typically a filter typo, or an APIM that answers an empty list after a restore or a
//! narrowed permission — holds those deletions until someone confirms their number.
//! Everything else in the pass still runs.

use std::fmt;

use serde::Serialize;

use crate::operation::Operation;
use crate::plan::Plan;
use crate::spec::LinkSettings;

/// Why deletions were held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "camelCase")]
pub enum HoldRule {
    /// APIM listed no API at all while the link owns some.
    EmptyApim,
    /// More than `max_percent` % of the link's APIs.
    Share { max_percent: u8 },
    /// More than `max_count` APIs.
    Count { max_count: u32 },
}

/// API deletions a pass did not make, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldDeletions {
    /// The APIs that would have been deleted, by name, sorted.
    pub apis: Vec<String>,
    /// APIs the link owns.
    pub owned: usize,
    pub rule: HoldRule,
}

impl HeldDeletions {
    pub fn count(&self) -> usize {
        self.apis.len()
    }

    /// The first few names, for a status message.
    pub fn first_names(&self, n: usize) -> String {
        let mut names = self
            .apis
            .iter()
            .take(n)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if self.apis.len() > n {
            names.push_str(", …");
        }
        names
    }
}

impl fmt::Display for HeldDeletions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.rule {
            HoldRule::EmptyApim => "APIM listed no API at all".to_string(),
            HoldRule::Share { max_percent } => format!(
                "that is more than {max_percent}% of the {} APIs the link owns",
                self.owned
            ),
            HoldRule::Count { max_count } => format!("that is more than {max_count}"),
        };
        write!(
            f,
            "{} API deletions held ({why}): {}; confirm with the annotation apilink.dev/confirm-deletions: \"{}\" (or apilink sync --confirm-deletions {})",
            self.count(),
            self.first_names(5),
            self.count(),
            self.count()
        )
    }
}

fn hold_rule(
    settings: &LinkSettings,
    deletions: usize,
    owned: usize,
    apim_listed: usize,
) -> Option<HoldRule> {
    let guard = settings.deletion_guard;
    if apim_listed == 0 && owned > 0 {
        return Some(HoldRule::EmptyApim);
    }
    if deletions * 100 > usize::from(guard.max_percent) * owned {
        return Some(HoldRule::Share {
            max_percent: guard.max_percent,
        });
    }
    match guard.max_count {
        Some(max_count) if deletions > max_count as usize => Some(HoldRule::Count { max_count }),
        _ => None,
    }
}

/// Applies the guard to a sync plan: when its API deletions break a rule and their
/// number is not the one confirmed in `settings.confirmed_deletions`, they are taken out
/// of the plan and returned. `owned`: APIs the link owns; `apim_listed`: APIs APIM
/// listed before the filter.
pub fn guard_deletions(
    plan: &mut Plan,
    settings: &LinkSettings,
    owned: usize,
    apim_listed: usize,
) -> Option<HeldDeletions> {
    let mut apis: Vec<String> = plan
        .operations
        .iter()
        .filter_map(|op| match op {
            // Leaving a shared API takes the link's share of it: a deletion for the link.
            Operation::DeleteApi { api } | Operation::LeaveSharedApi { api, .. } => {
                Some(api.clone())
            }
            _ => None,
        })
        .collect();
    if apis.is_empty() {
        return None;
    }
    let rule = hold_rule(settings, apis.len(), owned, apim_listed)?;
    if settings.confirmed_deletions == Some(apis.len()) {
        return None;
    }
    // An unwanted API has no other operations than its removal's.
    let held: std::collections::BTreeSet<&str> = apis.iter().map(String::as_str).collect();
    plan.operations
        .retain(|op| op.api().is_none_or(|api| !held.contains(api)));
    apis.sort();
    Some(HeldDeletions { apis, owned, rule })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ids::LinkId;
    use crate::spec::LinkSpec;
    use serde_json::json;

    fn settings(guard: serde_json::Value) -> LinkSettings {
        let spec: LinkSpec = serde_json::from_value(json!({
            "source": {"apimResourceId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/a"},
            "target": {"apiCenterResourceId": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiCenter/services/c"},
            "deletionGuard": guard,
        }))
        .unwrap();
        spec.settings(LinkId::new("ns/a").unwrap()).unwrap()
    }

    fn plan_deleting(n: usize) -> Plan {
        let mut operations: Vec<Operation> = (0..n)
            .map(|i| Operation::DeleteApi {
                api: format!("api-{i}"),
            })
            .collect();
        operations.push(Operation::DeleteEnvironment {
            name: "untouched".into(),
        });
        Plan {
            operations,
            ..Plan::default()
        }
    }

    #[test]
    fn half_or_less_passes_more_is_held_until_its_number_is_confirmed() {
        let s = settings(json!({}));
        let mut plan = plan_deleting(5);
        assert_eq!(guard_deletions(&mut plan, &s, 10, 20), None);
        assert_eq!(plan.operations.len(), 6);
        let mut plan = plan_deleting(6);
        let held = guard_deletions(&mut plan, &s, 10, 20).unwrap();
        assert_eq!(held.count(), 6);
        assert_eq!(held.rule, HoldRule::Share { max_percent: 50 });
        assert_eq!(plan.operations.len(), 1, "everything else still runs");
        let text = held.to_string();
        assert!(text.contains("6 API deletions held"), "{text}");
        assert!(
            text.contains("apilink.dev/confirm-deletions: \"6\""),
            "{text}"
        );
        let mut other = s.clone();
        other.confirmed_deletions = Some(5);
        assert!(
            guard_deletions(&mut plan_deleting(6), &other, 10, 20).is_some(),
            "another number does not release"
        );
        other.confirmed_deletions = Some(6);
        let mut plan = plan_deleting(6);
        assert_eq!(guard_deletions(&mut plan, &other, 10, 20), None);
        assert_eq!(plan.operations.len(), 7);
    }

    #[test]
    fn an_empty_apim_holds_any_deletion_and_a_count_caps_them() {
        let s = settings(json!({}));
        let held = guard_deletions(&mut plan_deleting(1), &s, 10, 0).unwrap();
        assert_eq!(held.rule, HoldRule::EmptyApim);
        let s = settings(json!({"maxPercent": 100, "maxCount": 2}));
        assert_eq!(guard_deletions(&mut plan_deleting(2), &s, 3, 5), None);
        let held = guard_deletions(&mut plan_deleting(3), &s, 3, 5).unwrap();
        assert_eq!(held.rule, HoldRule::Count { max_count: 2 });
        assert_eq!(guard_deletions(&mut plan_deleting(0), &s, 3, 0), None);
    }
}
