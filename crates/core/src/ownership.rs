//! Field ownership between APIM and API Center, as data, and the merges built on it.
//!
//! The table is documented in `docs/ownership.md`. Fields not in the table (members the service adds,
//! members a newer api-version defines) are preserved untouched on update.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::diff::FieldChange;
use crate::marker::{LEGACY_MARKER_KEY, RECORD_KEY};
use crate::shared::SHARED_RECORD_PREFIX;

/// The API Center entities a link writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EntityKind {
    Environment,
    Api,
    Version,
    Definition,
    Deployment,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Environment => "environment",
            Self::Api => "api",
            Self::Version => "version",
            Self::Definition => "definition",
            Self::Deployment => "deployment",
        }
    }
}

/// Who decides a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// APIM is the source of truth: overwritten whenever it drifts.
    Apim,
    /// API Center users curate it: never changed on update.
    ApiCenter,
    /// The ownership record (`customProperties.apilink-ownership`, and the legacy
    /// `customProperties.apilink` it replaces): written by the link only.
    Link,
    /// Computed by the service: never sent.
    ReadOnly,
}

/// How to compare a field's current and desired values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// JSON equality (with absent, null, "", [] and {} all equal).
    Exact,
    /// Strings compared ignoring case and anything but letters and digits, because the
    /// service may normalise them (`Azure API Management` == `azure-api-management`).
    Loose,
}

/// One row of the ownership table.
#[derive(Debug, Clone, Copy)]
pub struct FieldRule {
    pub entity: EntityKind,
    /// JSON path inside `properties`.
    pub path: &'static [&'static str],
    pub owner: Owner,
    /// Filled when the link creates the entity.
    pub set_on_create: bool,
    pub compare: Compare,
}

const fn rule(
    entity: EntityKind,
    path: &'static [&'static str],
    owner: Owner,
    set_on_create: bool,
    compare: Compare,
) -> FieldRule {
    FieldRule {
        entity,
        path,
        owner,
        set_on_create,
        compare,
    }
}

use Compare::{Exact, Loose};
use EntityKind::{Api, Definition, Deployment, Environment, Version};
use Owner::{ApiCenter, Apim, Link, ReadOnly};

/// The field-ownership table (`docs/ownership.md`).
pub static FIELD_OWNERSHIP: &[FieldRule] = &[
    rule(Api, &["title"], Apim, true, Exact),
    rule(Api, &["description"], Apim, true, Exact),
    rule(Api, &["kind"], Apim, true, Loose),
    rule(Api, &["summary"], ApiCenter, false, Exact),
    rule(Api, &["contacts"], ApiCenter, true, Exact),
    rule(Api, &["license"], ApiCenter, true, Exact),
    rule(Api, &["termsOfService"], ApiCenter, true, Exact),
    rule(Api, &["externalDocumentation"], ApiCenter, false, Exact),
    rule(Api, &["customProperties"], ApiCenter, true, Exact),
    rule(Api, &["customProperties", RECORD_KEY], Link, true, Exact),
    rule(
        Api,
        &["customProperties", LEGACY_MARKER_KEY],
        Link,
        true,
        Exact,
    ),
    rule(Api, &["lifecycleStage"], ReadOnly, false, Exact),
    rule(Version, &["title"], Apim, true, Exact),
    rule(Version, &["lifecycleStage"], ApiCenter, true, Exact),
    rule(Definition, &["title"], Apim, true, Exact),
    rule(Definition, &["description"], Apim, true, Exact),
    rule(Definition, &["specification"], ReadOnly, false, Exact),
    rule(Environment, &["title"], ApiCenter, true, Exact),
    rule(Environment, &["description"], ApiCenter, true, Exact),
    rule(Environment, &["kind"], ApiCenter, true, Exact),
    rule(
        Environment,
        &["onboarding", "instructions"],
        ApiCenter,
        false,
        Exact,
    ),
    rule(Environment, &["customProperties"], ApiCenter, true, Exact),
    rule(
        Environment,
        &["customProperties", RECORD_KEY],
        Link,
        true,
        Exact,
    ),
    rule(
        Environment,
        &["customProperties", LEGACY_MARKER_KEY],
        Link,
        true,
        Exact,
    ),
    rule(Environment, &["server", "type"], Apim, true, Loose),
    rule(
        Environment,
        &["server", "managementPortalUri"],
        Apim,
        true,
        Exact,
    ),
    rule(
        Environment,
        &["onboarding", "developerPortalUri"],
        Apim,
        true,
        Exact,
    ),
    rule(Deployment, &["title"], ApiCenter, true, Exact),
    rule(Deployment, &["description"], ApiCenter, false, Exact),
    rule(Deployment, &["customProperties"], ApiCenter, true, Exact),
    rule(
        Deployment,
        &["customProperties", RECORD_KEY],
        Link,
        true,
        Exact,
    ),
    rule(
        Deployment,
        &["customProperties", LEGACY_MARKER_KEY],
        Link,
        true,
        Exact,
    ),
    rule(Deployment, &["environmentId"], Apim, true, Exact),
    rule(Deployment, &["definitionId"], Apim, true, Exact),
    rule(Deployment, &["state"], Apim, true, Loose),
    rule(Deployment, &["server", "runtimeUri"], Apim, true, Exact),
];

/// The table rows of one entity.
pub fn rules(entity: EntityKind) -> impl Iterator<Item = &'static FieldRule> {
    FIELD_OWNERSHIP.iter().filter(move |r| r.entity == entity)
}

/// The member of an entity's desired properties that names the custom properties APIM
/// owns on it for this link (`spec.apimMetadata` mappings with `owner: Apim`). Each
/// name is a row of the table like the static ones — `customProperties.{name}`, APIM,
/// set on create, compared exactly — but the names are the link's choice, so the rows
/// travel with the desired state every merge here reads. The member itself is never
/// sent: creates and merges only ever copy table rows.
pub const APIM_OWNED_CUSTOM_PROPERTIES: &str = "$apimOwnedCustomProperties";

/// Makes `customProperties.{key}` of `desired` an APIM-owned row for this entity (see
/// [`APIM_OWNED_CUSTOM_PROPERTIES`]).
pub fn declare_apim_owned(desired: &mut Value, key: &str) {
    let Some(map) = desired.as_object_mut() else {
        return;
    };
    let declared = map
        .entry(APIM_OWNED_CUSTOM_PROPERTIES)
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(keys) = declared
        && !keys.iter().any(|k| k == key)
    {
        keys.push(Value::String(key.to_string()));
    }
}

/// One row of the table as it applies to one desired state: a row of
/// [`FIELD_OWNERSHIP`], or one of the link's rows the desired state declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row<'a> {
    /// JSON path inside `properties`.
    pub path: Cow<'a, [&'a str]>,
    pub owner: Owner,
    pub set_on_create: bool,
    pub compare: Compare,
}

impl<'a> From<&'static FieldRule> for Row<'a> {
    fn from(rule: &'static FieldRule) -> Self {
        Row {
            path: Cow::Borrowed(rule.path),
            owner: rule.owner,
            set_on_create: rule.set_on_create,
            compare: rule.compare,
        }
    }
}

/// The link's rows `desired` declares: its APIM-owned custom properties, and its own
/// ledger on a shared API (the custom property named after the link, see
/// [`crate::shared`]), which is the link's like [`RECORD_KEY`].
pub fn link_rows(desired: &Value) -> impl Iterator<Item = Row<'_>> {
    let apim_owned = desired
        .get(APIM_OWNED_CUSTOM_PROPERTIES)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|key| Row {
            path: Cow::Owned(vec!["customProperties", key]),
            owner: Owner::Apim,
            set_on_create: true,
            compare: Compare::Exact,
        });
    let shared_records = desired
        .get("customProperties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|custom| custom.keys())
        .filter(|key| key.starts_with(SHARED_RECORD_PREFIX))
        .map(|key| Row {
            path: Cow::Owned(vec!["customProperties", key.as_str()]),
            owner: Owner::Link,
            set_on_create: true,
            compare: Compare::Exact,
        });
    apim_owned.chain(shared_records)
}

/// The rows that decide `entity` for `desired`: the table's and the link's.
pub fn rows<'a>(entity: EntityKind, desired: &'a Value) -> impl Iterator<Item = Row<'a>> {
    rules(entity).map(Row::from).chain(link_rows(desired))
}

/// The value at `path`, if any.
pub fn get_path<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

/// Sets (`Some`) or removes (`None`) the value at `path`, creating objects on the way.
pub fn set_path(target: &mut Value, path: &[&str], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = target;
    for key in parents {
        if !node.is_object() {
            if value.is_none() {
                return;
            }
            *node = Value::Object(Map::new());
        }
        let Some(map) = node.as_object_mut() else {
            return;
        };
        if value.is_none() && !map.contains_key(*key) {
            return;
        }
        node = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !node.is_object() {
        if value.is_none() {
            return;
        }
        *node = Value::Object(Map::new());
    }
    if let Some(map) = node.as_object_mut() {
        match value {
            Some(v) => {
                map.insert(last.to_string(), v);
            }
            None => {
                map.remove(*last);
            }
        }
    }
}

fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

fn loose(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Whether a current and a desired value count as the same under `compare`.
pub fn equivalent(compare: Compare, current: Option<&Value>, desired: Option<&Value>) -> bool {
    if is_empty(current) && is_empty(desired) {
        return true;
    }
    match (compare, current, desired) {
        (Compare::Loose, Some(Value::String(a)), Some(Value::String(b))) => loose(a) == loose(b),
        (_, a, b) => a == b,
    }
}

/// Rows whose value the link writes on update: APIM-owned fields, and the marker when
/// the desired properties carry one.
fn written_on_update(row: &Row<'_>, desired: &Value) -> bool {
    match row.owner {
        Owner::Apim => true,
        Owner::Link => get_path(desired, &row.path).is_some(),
        Owner::ApiCenter | Owner::ReadOnly => false,
    }
}

fn strip_read_only(entity: EntityKind, properties: &mut Value) {
    for rule in rules(entity).filter(|r| r.owner == Owner::ReadOnly) {
        set_path(properties, rule.path, None);
    }
}

/// The properties to PUT to bring `current` in line with `desired` for what APIM (and
/// the link's marker, when `desired` carries it) owns: `current` with only those fields
/// replaced, unknown members preserved, read-only members removed. `None` when nothing
/// APIM-owned differs, so the caller writes nothing.
pub fn merge_for_update(entity: EntityKind, current: &Value, desired: &Value) -> Option<Value> {
    let mut out = if current.is_object() {
        current.clone()
    } else {
        Value::Object(Map::new())
    };
    let mut changed = false;
    for row in rows(entity, desired).filter(|r| written_on_update(r, desired)) {
        let want = get_path(desired, &row.path);
        if !equivalent(row.compare, get_path(current, &row.path), want) {
            // A desired `null` removes the member rather than sending it.
            set_path(&mut out, &row.path, want.filter(|v| !v.is_null()).cloned());
            changed = true;
        }
    }
    strip_read_only(entity, &mut out);
    changed.then_some(out)
}

/// The properties to PUT when creating the entity: APIM-owned, marker and set-on-create
/// fields taken from `desired`.
pub fn properties_for_create(entity: EntityKind, desired: &Value) -> Value {
    without_nulls(pick(entity, desired, |r| {
        matches!(r.owner, Owner::Apim | Owner::Link) || r.set_on_create
    }))
}

/// Only the fields the link overwrites on update (APIM-owned and the marker, if
/// present), with the link's rows that make some of them APIM's, so a merge against
/// this value knows them too.
pub fn apim_owned_properties(entity: EntityKind, desired: &Value) -> Value {
    let mut owned = pick(entity, desired, |r| {
        matches!(r.owner, Owner::Apim | Owner::Link)
    });
    if let (Some(declared), Some(map)) = (
        desired.get(APIM_OWNED_CUSTOM_PROPERTIES),
        owned.as_object_mut(),
    ) {
        map.insert(APIM_OWNED_CUSTOM_PROPERTIES.to_string(), declared.clone());
    }
    owned
}

fn pick(entity: EntityKind, desired: &Value, keep: impl Fn(&Row<'_>) -> bool) -> Value {
    let mut out = Value::Object(Map::new());
    for row in rows(entity, desired).filter(|r| keep(r) && r.owner != Owner::ReadOnly) {
        if let Some(v) = get_path(desired, &row.path) {
            set_path(&mut out, &row.path, Some(v.clone()));
        }
    }
    out
}

/// The changes an update writes to the link's rows (what [`crate::diff::owned_changes`]
/// shows for the table's own rows), for `apilink plan` output.
pub fn link_row_changes(current: Option<&Value>, written: &Value) -> Vec<FieldChange> {
    link_rows(written)
        .filter_map(|row| {
            let from = current.and_then(|c| get_path(c, &row.path));
            let to = get_path(written, &row.path);
            (!equivalent(row.compare, from, to)).then(|| FieldChange {
                path: row.path.join("."),
                from: from.cloned(),
                to: to.cloned(),
            })
        })
        .collect()
}

/// `value` without object members whose value is `null`, at every level: a `null` in
/// desired properties means "absent", and a create body never needs to say so.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The properties to PUT to record `marker` under `key` on an API or environment (or,
/// with `None`, to remove the link's record from a shared API it leaves): `current` with
/// only that record replaced (and a legacy record removed). `None` when the record is
/// already as wanted.
pub fn merge_record(
    entity: EntityKind,
    current: &Value,
    key: &str,
    marker: Option<&Value>,
) -> Option<Value> {
    let path = ["customProperties", key];
    let legacy = ["customProperties", LEGACY_MARKER_KEY];
    if get_path(current, &path) == marker && get_path(current, &legacy).is_none() {
        return None;
    }
    let mut out = if current.is_object() {
        current.clone()
    } else {
        Value::Object(Map::new())
    };
    set_path(&mut out, &path, marker.cloned());
    set_path(&mut out, &legacy, None);
    strip_read_only(entity, &mut out);
    Some(out)
}

/// The values of every API Center-owned field of `properties` (the marker key excluded),
/// for checking that an update never changes them.
pub fn api_center_owned_values(entity: EntityKind, properties: &Value) -> Vec<(String, Value)> {
    rules(entity)
        .filter(|r| r.owner == Owner::ApiCenter)
        .map(|r| {
            let mut v = get_path(properties, r.path).cloned().unwrap_or(Value::Null);
            if r.path == ["customProperties"] {
                set_path(&mut v, &[RECORD_KEY], None);
                set_path(&mut v, &[LEGACY_MARKER_KEY], None);
                if let Some(custom) = v.as_object_mut() {
                    custom.retain(|key, _| !key.starts_with(SHARED_RECORD_PREFIX));
                    if custom.is_empty() {
                        // Only the link's records were there: the users' part is empty.
                        v = Value::Null;
                    }
                }
            }
            (r.path.join("."), v)
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_replaces_only_apim_owned_fields() {
        let current = json!({
            "title": "Old", "kind": "rest", "summary": "curated", "lifecycleStage": "production",
            "customProperties": {"team": "x", "apilink": {"link": "l"}}, "newServiceField": 1
        });
        let desired = json!({"title": "New", "kind": "rest", "summary": "ignored"});
        let merged = merge_for_update(Api, &current, &desired).unwrap();
        assert_eq!(merged["title"], "New");
        assert_eq!(merged["summary"], "curated");
        assert_eq!(merged["customProperties"], current["customProperties"]);
        assert_eq!(merged["newServiceField"], 1);
        assert!(merged.get("lifecycleStage").is_none(), "read-only removed");
        assert!(merged.get("description").is_none());
        assert_eq!(merge_for_update(Api, &merged, &desired), None);
    }

    #[test]
    fn absent_apim_field_is_removed_and_empty_values_match() {
        let current = json!({"title": "T", "kind": "rest", "description": "gone in APIM"});
        let merged =
            merge_for_update(Api, &current, &json!({"title": "T", "kind": "rest"})).unwrap();
        assert!(merged.get("description").is_none());
        let env = json!({"server": {"type": "azure-api-management", "managementPortalUri": []},
                         "onboarding": {"instructions": "ask"}});
        let desired = json!({"server": {"type": "Azure API Management"}});
        assert_eq!(merge_for_update(Environment, &env, &desired), None);
    }

    #[test]
    fn nested_fields_keep_siblings() {
        let env = json!({"title": "Mine", "onboarding": {"instructions": "ask", "developerPortalUri": ["https://old"]},
                         "server": {"type": "Azure API Management"}});
        let desired = json!({"title": "Spec", "server": {"type": "Azure API Management"},
                             "onboarding": {"developerPortalUri": ["https://new"]}});
        let merged = merge_for_update(Environment, &env, &desired).unwrap();
        assert_eq!(merged["onboarding"]["instructions"], "ask");
        assert_eq!(merged["onboarding"]["developerPortalUri"][0], "https://new");
        assert_eq!(merged["title"], "Mine");
    }

    #[test]
    fn marker_written_only_when_desired_has_it() {
        let current = json!({"title": "T", "customProperties": {"team": "x"}});
        let desired = json!({"title": "T", "customProperties": {"apilink-ownership": "apilink/2 link=l", "apilink": null}});
        let merged = merge_for_update(Deployment, &current, &desired).unwrap();
        assert_eq!(
            merged["customProperties"],
            json!({"team": "x", "apilink-ownership": "apilink/2 link=l"})
        );
        let api_current = json!({"title": "T", "kind": "rest", "customProperties": {"apilink-ownership": "apilink/2 link=l v"}});
        assert_eq!(
            merge_for_update(Api, &api_current, &json!({"title": "T", "kind": "rest"})),
            None
        );
    }

    #[test]
    fn a_legacy_record_is_replaced_and_never_sent_as_null() {
        let current =
            json!({"title": "T", "customProperties": {"team": "x", "apilink": {"link": "l"}}});
        let desired =
            json!({"customProperties": {"apilink-ownership": "apilink/2 link=l", "apilink": null}});
        let merged = merge_for_update(Deployment, &current, &desired).unwrap();
        assert_eq!(
            merged["customProperties"],
            json!({"team": "x", "apilink-ownership": "apilink/2 link=l"})
        );
        let create = properties_for_create(Deployment, &desired);
        assert_eq!(
            create["customProperties"],
            json!({"apilink-ownership": "apilink/2 link=l"})
        );
    }

    #[test]
    fn create_includes_set_on_create_fields() {
        let desired = json!({"title": "T", "kind": "rest", "summary": "s", "contacts": [{"name": "n"}],
                             "lifecycleStage": "design"});
        let create = properties_for_create(Api, &desired);
        assert_eq!(
            create,
            json!({"title": "T", "kind": "rest", "contacts": [{"name": "n"}]})
        );
        let owned = apim_owned_properties(Api, &desired);
        assert_eq!(owned, json!({"title": "T", "kind": "rest"}));
        let version =
            properties_for_create(Version, &json!({"title": "v", "lifecycleStage": "design"}));
        assert_eq!(version["lifecycleStage"], "design");
    }

    #[test]
    fn api_marker_merge() {
        let current = json!({"title": "T", "lifecycleStage": "design",
            "customProperties": {"team": "x", "apilink": {"link": "l"}}});
        let marker = json!("apilink/2 link=l");
        let merged = merge_record(EntityKind::Api, &current, RECORD_KEY, Some(&marker)).unwrap();
        assert_eq!(
            merged["customProperties"],
            json!({"team": "x", "apilink-ownership": "apilink/2 link=l"})
        );
        assert!(merged.get("lifecycleStage").is_none());
        assert_eq!(
            merge_record(EntityKind::Api, &merged, RECORD_KEY, Some(&marker)),
            None
        );
    }

    #[test]
    fn declared_custom_properties_are_apim_rows_that_are_never_sent() {
        let mut desired = json!({"title": "T", "kind": "rest",
                                 "customProperties": {"apim-tags": ["b"], "team": "x"}});
        declare_apim_owned(&mut desired, "apim-tags");
        declare_apim_owned(&mut desired, "apim-tags");
        assert_eq!(desired[APIM_OWNED_CUSTOM_PROPERTIES], json!(["apim-tags"]));
        let link: Vec<Row<'_>> = link_rows(&desired).collect();
        assert_eq!(link.len(), 1);
        assert_eq!(
            (link[0].path.as_ref(), link[0].owner),
            (&["customProperties", "apim-tags"][..], Apim)
        );
        assert_eq!(rows(Api, &desired).count(), rules(Api).count() + 1);

        let create = properties_for_create(Api, &desired);
        assert_eq!(
            create["customProperties"],
            json!({"apim-tags": ["b"], "team": "x"})
        );
        assert!(create.get(APIM_OWNED_CUSTOM_PROPERTIES).is_none());
        let owned = apim_owned_properties(Api, &desired);
        assert_eq!(
            owned,
            json!({"title": "T", "kind": "rest", "customProperties": {"apim-tags": ["b"]},
                   APIM_OWNED_CUSTOM_PROPERTIES: ["apim-tags"]})
        );
        let current = json!({"title": "T", "kind": "rest",
                             "customProperties": {"apim-tags": ["a"], "team": "mine"}});
        let merged = merge_for_update(Api, &current, &owned).unwrap();
        assert_eq!(
            merged,
            json!({"title": "T", "kind": "rest",
                   "customProperties": {"apim-tags": ["b"], "team": "mine"}})
        );
        let changes = link_row_changes(Some(&current), &owned);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].to_string(),
            "customProperties.apim-tags: [\"a\"] -> [\"b\"]"
        );
        assert!(link_row_changes(Some(&merged), &owned).is_empty());
    }

    #[test]
    fn every_rule_path_is_non_empty_and_unique() {
        for (i, a) in FIELD_OWNERSHIP.iter().enumerate() {
            assert!(!a.path.is_empty());
            for b in &FIELD_OWNERSHIP[i + 1..] {
                assert!(!(a.entity == b.entity && a.path == b.path), "{:?}", a.path);
            }
        }
    }
}
