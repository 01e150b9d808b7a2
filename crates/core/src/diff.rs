//! Field-level differences of the fields the link writes, for `apilink plan` output.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::ownership::{EntityKind, Owner, equivalent, get_path, rules};

/// One field the link would change: `from` is the current value (`None`: absent or the
/// entity does not exist yet), `to` the value written (`None`: removed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub path: String,
    pub from: Option<Value>,
    pub to: Option<Value>,
}

impl fmt::Display for FieldChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |v: &Option<Value>| match v {
            None => "(absent)".to_string(),
            Some(v) => v.to_string(),
        };
        write!(
            f,
            "{}: {} -> {}",
            self.path,
            show(&self.from),
            show(&self.to)
        )
    }
}

/// The fields `written` (a create body or APIM-owned properties) changes on `current`
/// (`None` when the entity does not exist). Only table fields the link writes are
/// compared, with the table's comparison rules.
pub fn owned_changes(
    entity: EntityKind,
    current: Option<&Value>,
    written: &Value,
) -> Vec<FieldChange> {
    rules(entity)
        .filter(|r| match r.owner {
            Owner::Apim => true,
            Owner::Link => get_path(written, r.path).is_some(),
            Owner::ApiCenter => current.is_none(),
            Owner::ReadOnly => false,
        })
        .filter_map(|r| {
            let from = current.and_then(|c| get_path(c, r.path));
            let to = get_path(written, r.path);
            (!equivalent(r.compare, from, to)).then(|| FieldChange {
                path: r.path.join("."),
                from: from.cloned(),
                to: to.cloned(),
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_changed_owned_fields_only() {
        let current = json!({"title": "Old", "kind": "REST", "summary": "s"});
        let desired = json!({"title": "New", "kind": "rest", "description": "d"});
        let changes = owned_changes(EntityKind::Api, Some(&current), &desired);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["title", "description"]);
        assert_eq!(changes[0].to_string(), "title: \"Old\" -> \"New\"");
        let create = owned_changes(
            EntityKind::Version,
            None,
            &json!({"title": "v", "lifecycleStage": "design"}),
        );
        assert_eq!(create.len(), 2);
    }
}
