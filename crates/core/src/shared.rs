//! APIs several links share (`spec.apiIdentity.scope: Shared`, `docs/shared-apis.md`).
//!
//! Links that share an identity key map a logical API to one API Center API. Every name
//! under it is derived so that the links meet on it whatever order their passes run in:
//! the API's from the identity alone ([`shared_api_name`]), a version's from its label,
//! a definition's from its content ([`shared_definition_name`]: identical content from
//! two stages is one definition). What belongs to one link alone is its environment, its
//! deployments ([`shared_deployment_name`]) and its ledger of the API, kept in a custom
//! property of its own ([`shared_record_key`]): no record is written by two links in
//! turn. Who else serves an API is read from the other links' ledgers and, before a
//! version or definition is removed, from the deployments that point at it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::desired::{DesiredApi, DesiredState};
use crate::hash::short_hash;
use crate::ids::ApimApiRef;
use crate::ids::{LinkId, SourceKey};
use crate::mapping::SpecKind;
use crate::marker::{
    ApiMarker, Ownership, RECORD_KEY, RecordForm, custom_property, read_entity_marker,
};
use crate::naming::{shared_api_name, with_suffix};
use crate::observed::{ApiDetails, ApicEntity, ExportedDefinition, ObservedApiCenter};
use crate::ownership::{get_path, set_path};
use crate::spec::{ApiIdentityKey, LinkSettings};

/// Every link's ledger on a shared API lives under this prefix and 8 hex digits of the
/// link id; the link's metadata schema of the same name declares it.
pub const SHARED_RECORD_PREFIX: &str = "apilink-ownership-";
const KEY_HASH_LEN: usize = 8;
const CONTENT_NAME_HASH_LEN: usize = 8;

/// The custom property holding `link`'s ledger on the APIs it shares.
pub fn shared_record_key(link: &LinkId) -> String {
    shared_record_key_of(link.as_str())
}

pub(crate) fn shared_record_key_of(link: &str) -> String {
    format!(
        "{SHARED_RECORD_PREFIX}{}",
        short_hash(&[link], KEY_HASH_LEN)
    )
}

/// The name of `link`'s deployment of `version` on a shared API: one per link and
/// version (a link serves one definition per version), told apart by a hash of the link.
pub fn shared_deployment_name(link: &LinkId, version: &str) -> String {
    shared_deployment_name_of(link.as_str(), version)
}

pub(crate) fn shared_deployment_name_of(link: &str, version: &str) -> String {
    let suffix = short_hash(&["deployment", link], KEY_HASH_LEN);
    with_suffix(version, &suffix, "deployment")
}

/// The name of a shared definition: its kind and the first digits of its content's
/// hash, so the same content from two stages is one definition; just the kind when
/// content is not imported (or not known yet).
pub fn shared_definition_name(kind: SpecKind, content_hash: Option<&str>) -> String {
    match content_hash {
        Some(hash) => {
            let digits: String = hash.chars().take(CONTENT_NAME_HASH_LEN).collect();
            format!("{}-{digits}", kind.specification_name())
        }
        None => kind.specification_name().to_string(),
    }
}

/// Whether `name` is a shared definition name of `kind`.
fn is_definition_of_kind(name: &str, kind: SpecKind) -> bool {
    let base = kind.specification_name();
    name == base
        || name
            .strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|hash| hash.len() == CONTENT_NAME_HASH_LEN)
}

/// Whether `name` is a shared definition's name: a specification kind and a content
/// hash (what [`shared_definition_name`] gives when the content is known).
pub fn is_content_definition_name(name: &str) -> bool {
    [
        SpecKind::OpenApi,
        SpecKind::Wsdl,
        SpecKind::GraphQl,
        SpecKind::Grpc,
    ]
    .into_iter()
    .any(|kind| name != kind.specification_name() && is_definition_of_kind(name, kind))
        && name.rsplit('-').next().is_some_and(|h| {
            h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// What under a shared API no link serves any more: definitions named by content,
/// listed in no link's ledger (`ledgers`: every link's, this pass's own included) and
/// pointed at by no deployment; and versions no ledger lists whose definitions are all
/// such. Two links that stopped serving one at the same time each left it to the other;
/// whoever reads the API's children next removes it. Returns (version, definition)
/// pairs, `None` for a whole version.
pub fn abandoned_children(
    details: &ApiDetails,
    ledgers: &[&ApiMarker],
) -> Vec<(String, Option<String>)> {
    let listed = |version: &str, def: Option<&str>| {
        ledgers.iter().any(|m| {
            m.versions
                .get(version)
                .is_some_and(|v| def.is_none_or(|d| v.definitions.contains_key(d)))
        })
    };
    let deployed = |version: &str, def: &str| {
        details.deployments.values().any(|p| {
            p.get("definitionId")
                .and_then(Value::as_str)
                .is_some_and(|id| id.ends_with(&format!("/versions/{version}/definitions/{def}")))
        })
    };
    let mut out = Vec::new();
    for (version, observed) in &details.versions {
        let abandoned: Vec<&String> = observed
            .definitions
            .keys()
            .filter(|def| {
                is_content_definition_name(def)
                    && !listed(version, Some(def))
                    && !deployed(version, def)
            })
            .collect();
        let whole = !listed(version, None)
            && !abandoned.is_empty()
            && abandoned.len() == observed.definitions.len();
        if whole {
            out.push((version.clone(), None));
        } else {
            out.extend(
                abandoned
                    .into_iter()
                    .map(|d| (version.clone(), Some(d.clone()))),
            );
        }
    }
    out
}

/// A definition's content as links sharing an API import it: an OpenAPI document without
/// where one stage's gateway serves it (OpenAPI 3 `servers`; Swagger 2 `host`,
/// `basePath`, `schemes`), since each stage's deployment says that. The same contract
/// from two stages is then the same content, so one definition. Other kinds, and
/// content that is not a JSON object, are left as they are (`Cow::Borrowed`).
pub fn without_stage_servers(kind: SpecKind, content: &str) -> Cow<'_, str> {
    const STAGE_MEMBERS: [&str; 4] = ["servers", "host", "basePath", "schemes"];
    if kind != SpecKind::OpenApi {
        return Cow::Borrowed(content);
    }
    let Ok(Value::Object(mut document)) = serde_json::from_str::<Value>(content) else {
        return Cow::Borrowed(content);
    };
    if !STAGE_MEMBERS.iter().any(|m| document.contains_key(*m)) {
        return Cow::Borrowed(content);
    }
    for member in STAGE_MEMBERS {
        document.remove(member);
    }
    match serde_json::to_string(&Value::Object(document)) {
        Ok(neutral) => Cow::Owned(neutral),
        Err(_) => Cow::Borrowed(content),
    }
}

/// The identity of an APIM API (or version set) under `key`.
pub fn identity(key: ApiIdentityKey, source: &SourceKey, path: &str) -> String {
    match key {
        ApiIdentityKey::Name => source.id().to_string(),
        ApiIdentityKey::Path => path.trim_matches('/').to_string(),
    }
}

/// Rank of an environment kind when deciding which link writes a shared API's own
/// fields: production first, then staging, testing, development; anything else last.
pub fn kind_rank(kind: &str) -> u8 {
    match kind {
        "production" => 0,
        "staging" => 1,
        "testing" => 2,
        "development" => 3,
        _ => 4,
    }
}

/// Every link's ledger on a shared API, each read from its own key (a ledger found under
/// a key that is not its link's is a copy and ignored).
pub fn shares(properties: &Value) -> Vec<ApiMarker> {
    let Some(Value::Object(custom)) = properties.get("customProperties") else {
        return Vec::new();
    };
    custom
        .iter()
        .filter(|(key, _)| key.starts_with(SHARED_RECORD_PREFIX))
        .filter_map(|(key, value)| {
            let marker = ApiMarker::decode(value.as_str()?)?;
            (marker.shared.is_some() && *key == shared_record_key_of(&marker.link))
                .then_some(marker)
        })
        .collect()
}

/// The ledgers of the links other than `link` on a shared API.
pub fn other_shares(link: &LinkId, properties: &Value) -> Vec<ApiMarker> {
    let mut all = shares(properties);
    all.retain(|m| m.link != link.as_str());
    all
}

/// The order of the links deciding a field: rank of their environment kind, then link id.
fn precedence(marker: &ApiMarker) -> (u8, &str) {
    let kind = marker
        .shared
        .as_ref()
        .map_or("", |s| s.environment_kind.as_str());
    (kind_rank(kind), marker.link.as_str())
}

/// Whether `link` (its environment of `kind`) decides fields the links in `others`
/// also serve: it comes first by environment kind, ties broken by link id.
fn comes_first<'a>(link: &LinkId, kind: &str, others: impl Iterator<Item = &'a ApiMarker>) -> bool {
    let own = (kind_rank(kind), link.as_str());
    others
        .filter(|m| m.link != link.as_str())
        .all(|m| own < precedence(m))
}

/// Whether another link's ledger lists `version` (and its `definition`, when given).
pub fn served_by_other(
    link: &LinkId,
    shares: &[ApiMarker],
    version: &str,
    definition: Option<&str>,
) -> bool {
    shares
        .iter()
        .filter(|m| m.link != link.as_str())
        .filter_map(|m| m.versions.get(version))
        .any(|v| definition.is_none_or(|d| v.definitions.contains_key(d)))
}

/// Whether a deployment that is not `link`'s points at `version` (and its `definition`).
pub fn deployed_by_other(
    link: &LinkId,
    details: Option<&ApiDetails>,
    version: &str,
    definition: Option<&str>,
) -> bool {
    let Some(details) = details else {
        return false;
    };
    let target = match definition {
        Some(d) => format!("/versions/{version}/definitions/{d}"),
        None => format!("/versions/{version}/"),
    };
    details
        .deployments
        .values()
        .filter(|p| !read_entity_marker(p, link).is_owned())
        .filter_map(|p| p.get("definitionId").and_then(Value::as_str))
        .any(|id| match definition {
            Some(_) => id.ends_with(&target),
            None => id.contains(&target),
        })
}

/// Reads who owns a shared API named `name`, for `link`: its own ledger (`Owned`, or
/// `Copied` when the ledger's identity does not derive `name`); otherwise `Joinable`
/// when other links share it under that identity, `OtherLink` when a link-scoped
/// record is on it, `Unmarked` when nothing is.
pub fn read_shared_api(
    name: &str,
    properties: &Value,
    link: &LinkId,
) -> Ownership<(ApiMarker, RecordForm)> {
    let derives_name = |m: &ApiMarker| {
        m.shared
            .as_ref()
            .is_some_and(|s| shared_api_name(&s.identity) == name)
    };
    let own = custom_property(properties, &shared_record_key(link))
        .and_then(Value::as_str)
        .and_then(ApiMarker::decode)
        .filter(|m| m.link == link.as_str() && m.shared.is_some());
    if let Some(marker) = own {
        return if derives_name(&marker) {
            Ownership::Owned((marker, RecordForm::Current))
        } else {
            Ownership::Copied
        };
    }
    if shares(properties).iter().any(derives_name) {
        return Ownership::Joinable;
    }
    match custom_property(properties, RECORD_KEY)
        .and_then(Value::as_str)
        .and_then(ApiMarker::decode)
    {
        Some(record) => Ownership::OtherLink(record.link),
        None => Ownership::Unmarked,
    }
}

/// Who owns the API named `name` for the link of `settings`, in its scope.
pub fn api_ownership(
    settings: &LinkSettings,
    name: &str,
    properties: &Value,
) -> Ownership<(ApiMarker, RecordForm)> {
    api_ownership_in(&settings.link, settings.shares_apis(), name, properties)
}

/// [`api_ownership`] from the link and its scope.
pub fn api_ownership_in(
    link: &LinkId,
    shares_apis: bool,
    name: &str,
    properties: &Value,
) -> Ownership<(ApiMarker, RecordForm)> {
    if shares_apis {
        read_shared_api(name, properties, link)
    } else {
        crate::marker::read_api_marker(name, properties, link)
    }
}

/// The desired state as a link sharing its APIs plans it (`desired` itself otherwise):
/// each definition named by its content (exported this pass, else as the link's ledger
/// recorded it) and its deployment pointed at that name; and, where another link comes
/// first (see [`kind_rank`]), the API's, a version's or a definition's own fields kept
/// as they are, so they never flap between links.
pub fn resolve<'a>(
    settings: &LinkSettings,
    desired: &'a DesiredState,
    exports: &BTreeMap<ApimApiRef, ExportedDefinition>,
    apic: &ObservedApiCenter,
) -> Cow<'a, DesiredState> {
    if !settings.shares_apis() {
        return Cow::Borrowed(desired);
    }
    let observed: BTreeMap<&str, &ApicEntity> =
        apic.apis.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut resolved = desired.clone();
    for api in &mut resolved.apis {
        let observed = observed.get(api.name.as_str()).copied();
        let shares = observed
            .map(|o| shares(&o.properties.value()))
            .unwrap_or_default();
        name_definitions(settings, api, exports, &shares);
        if let Some(o) = observed {
            let details = apic.details.get(&api.name);
            keep_fields_of_others(settings, api, o, details.as_ref(), &shares);
        }
    }
    Cow::Owned(resolved)
}

/// Names each definition by its content and points its deployment at it.
fn name_definitions(
    settings: &LinkSettings,
    api: &mut DesiredApi,
    exports: &BTreeMap<ApimApiRef, ExportedDefinition>,
    shares: &[ApiMarker],
) {
    let own = shares.iter().find(|m| m.link == settings.link.as_str());
    let api_name = api.name.clone();
    for version in &mut api.versions {
        let Some(def) = version.definition.as_mut() else {
            continue;
        };
        let recorded = || {
            own.and_then(|m| m.versions.get(&version.name))
                .and_then(|v| {
                    v.definitions
                        .keys()
                        .find(|d| is_definition_of_kind(d, def.kind))
                })
                .cloned()
        };
        let name = if !settings.imports_content() {
            shared_definition_name(def.kind, None)
        } else if let Some(export) = exports.get(&version.source) {
            shared_definition_name(def.kind, Some(&export.content_hash))
        } else {
            recorded().unwrap_or_else(|| shared_definition_name(def.kind, None))
        };
        let definition_id = format!(
            "/workspaces/{}/apis/{api_name}/versions/{}/definitions/{name}",
            settings.target_workspace, version.name
        );
        def.deployment.properties.update(|properties| {
            set_path(
                properties,
                &["definitionId"],
                Some(Value::String(definition_id)),
            )
        });
        def.name = name;
    }
}

/// Where another link comes first, takes the fields it decides from what is there.
fn keep_fields_of_others(
    settings: &LinkSettings,
    api: &mut DesiredApi,
    observed: &ApicEntity,
    details: Option<&ApiDetails>,
    shares: &[ApiMarker],
) {
    let kind = settings.environment_kind.as_str();
    if !comes_first(&settings.link, kind, shares.iter()) {
        api.properties.update(|properties| {
            for field in ["title", "description", "kind"] {
                let current = get_path(&observed.properties.value(), &[field]).cloned();
                set_path(properties, &[field], current);
            }
        });
    }
    let Some(details) = details else {
        return;
    };
    for version in &mut api.versions {
        let listing = shares
            .iter()
            .filter(|m| m.versions.contains_key(&version.name));
        let Some(current) = details.versions.get(&version.name) else {
            continue;
        };
        if comes_first(&settings.link, kind, listing) {
            continue;
        }
        let title = get_path(&current.properties, &["title"]).cloned();
        version
            .properties
            .update(|properties| set_path(properties, &["title"], title));
        if let Some(def) = version.definition.as_mut()
            && let Some(current) = current.definitions.get(&def.name)
        {
            def.properties.update(|properties| {
                for field in ["title", "description"] {
                    let value = get_path(current, &[field]).cloned();
                    set_path(properties, &[field], value);
                }
            });
        }
    }
}

/// The metadata schema declaring `link`'s ledger on shared APIs (named
/// [`shared_record_key`]): the ownership record's grammar, assigned to APIs only.
pub fn shared_record_schema(link: &LinkId) -> Value {
    let document = serde_json::json!({
        "type": "string",
        "title": "apilink share",
        "description": format!("Written by apilink link {link}: what it serves of this shared API (versions, definitions, content hashes). Do not edit or copy it."),
        "pattern": crate::marker::RECORD_PATTERN,
    });
    serde_json::json!({
        "schema": document.to_string(),
        "assignedTo": [{"entity": "api", "required": false, "deprecated": false}],
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ids::ApimApiRef;
    use crate::marker::SharedShare;

    fn share(link: &str, kind: &str) -> ApiMarker {
        let mut marker = ApiMarker::new(&LinkId::new(link).unwrap(), "apis/orders");
        marker.shared = Some(SharedShare {
            environment_kind: kind.into(),
            identity: "orders/v1 api".into(),
        });
        marker
    }

    #[test]
    fn a_share_round_trips_under_its_links_own_key() {
        let mut marker = share("stages/prod", "production");
        marker
            .versions
            .entry("v1".into())
            .or_default()
            .definitions
            .insert(
                "openapi-5eedafc9".into(),
                crate::marker::DefinitionMarker {
                    content_hash: Some("5eedafc99a196a84".into()),
                    deployment: Some(shared_deployment_name_of("stages/prod", "v1")),
                },
            );
        let text = marker.encode();
        assert!(
            text.contains(" shared=production/orders%2Fv1%20api "),
            "{text}"
        );
        let back = ApiMarker::decode(&text).unwrap();
        assert_eq!(back, marker, "the deployment name comes back from the link");
        assert_eq!(
            marker.key(),
            shared_record_key(&LinkId::new("stages/prod").unwrap())
        );
        let schema = shared_record_schema(&LinkId::new("stages/prod").unwrap());
        let document: Value = serde_json::from_str(schema["schema"].as_str().unwrap()).unwrap();
        crate::metadata::check_value(&document, &marker.to_value(), "share").unwrap();
    }

    #[test]
    fn shares_are_read_only_under_their_own_keys() {
        let prod = share("stages/prod", "production");
        let dev = share("stages/dev", "development");
        let props = json!({"customProperties": {
            shared_record_key_of("stages/prod"): prod.encode(),
            // A copy of dev's share under prod's key pattern but the wrong key: ignored.
            format!("{SHARED_RECORD_PREFIX}00000000"): dev.encode(),
            "team": "payments",
        }});
        let read = shares(&props);
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].link, "stages/prod");
    }

    #[test]
    fn production_comes_first_then_the_link_id() {
        let (prod, staging, dev) = (
            share("b/prod", "production"),
            share("a/staging", "staging"),
            share("a/dev", "development"),
        );
        let link = |id: &str| LinkId::new(id).unwrap();
        assert!(comes_first(
            &link("b/prod"),
            "production",
            [&staging, &dev].into_iter()
        ));
        assert!(!comes_first(
            &link("a/staging"),
            "staging",
            [&prod].into_iter()
        ));
        let other_prod = share("a/prod", "production");
        assert!(!comes_first(
            &link("b/prod"),
            "production",
            [&other_prod].into_iter()
        ));
        assert!(comes_first(
            &link("a/prod"),
            "production",
            [&prod].into_iter()
        ));
        assert_eq!(kind_rank("sandbox"), 4);
    }

    #[test]
    fn definitions_are_named_by_kind_and_content() {
        let name = shared_definition_name(SpecKind::OpenApi, Some("5eedafc99a196a84ffff"));
        assert_eq!(name, "openapi-5eedafc9");
        assert!(is_content_definition_name(&name));
        assert!(!is_content_definition_name("openapi"));
        assert!(!is_content_definition_name("openapi-notahash"));
        assert!(!is_content_definition_name("mydef-5eedafc9"));
        assert_eq!(shared_definition_name(SpecKind::Wsdl, None), "wsdl");
    }

    #[test]
    fn identities_by_name_leave_the_workspace_out_and_by_path_trim_slashes() {
        let in_workspace = SourceKey::Api(ApimApiRef {
            workspace: Some("team".into()),
            api_id: "orders".into(),
        });
        let set = SourceKey::VersionSet {
            workspace: None,
            id: "orders".into(),
        };
        assert_eq!(
            identity(ApiIdentityKey::Name, &in_workspace, "/x"),
            "orders"
        );
        assert_eq!(identity(ApiIdentityKey::Name, &set, "x"), "orders");
        assert_eq!(
            identity(ApiIdentityKey::Path, &set, "/shop/orders/"),
            "shop/orders"
        );
    }

    #[test]
    fn servers_are_left_out_of_openapi_content_only() {
        let v3 =
            r#"{"openapi":"3.0.1","servers":[{"url":"https://dev.example/orders"}],"paths":{}}"#;
        let neutral = without_stage_servers(SpecKind::OpenApi, v3);
        assert_eq!(neutral, r#"{"openapi":"3.0.1","paths":{}}"#);
        let v2 =
            r#"{"swagger":"2.0","host":"dev.example","basePath":"/orders","schemes":["https"]}"#;
        assert_eq!(
            without_stage_servers(SpecKind::OpenApi, v2),
            r#"{"swagger":"2.0"}"#
        );
        let plain = r#"{"openapi":"3.0.1","paths":{}}"#;
        assert!(matches!(
            without_stage_servers(SpecKind::OpenApi, plain),
            Cow::Borrowed(_)
        ));
        let wsdl = "<definitions><service><port><address location=\"https://dev\"/></port></service></definitions>";
        assert!(matches!(
            without_stage_servers(SpecKind::Wsdl, wsdl),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            without_stage_servers(SpecKind::OpenApi, "not json"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn abandoned_children_are_unlisted_content_named_and_undeployed() {
        let mut details = ApiDetails::default();
        let version = details.versions.entry("v1".into()).or_default();
        for def in [
            "openapi-11111111",
            "openapi-22222222",
            "openapi-33333333",
            "handmade",
        ] {
            version.definitions.insert(def.into(), json!({}));
        }
        details
            .versions
            .entry("v9".into())
            .or_default()
            .definitions
            .insert("openapi-99999999".into(), json!({}));
        details.versions.entry("empty".into()).or_default();
        details.deployments.insert(
            "v1-x".into(),
            json!({"definitionId": "/workspaces/default/apis/a/versions/v1/definitions/openapi-22222222"}),
        );
        let mut ledger = share("stages/prod", "production");
        ledger
            .versions
            .entry("v1".into())
            .or_default()
            .definitions
            .insert("openapi-33333333".into(), Default::default());
        let abandoned = abandoned_children(&details, &[&ledger]);
        assert_eq!(
            abandoned,
            vec![
                ("v1".to_string(), Some("openapi-11111111".to_string())),
                ("v9".to_string(), None),
            ],
            "listed, deployed, hand-named and empty children stay"
        );
    }
}
