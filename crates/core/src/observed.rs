//! What the engine read from both sides, in the shapes the planner reads. The Azure
//! client converts its typed answers into these.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{ApimApiRef, ApimServiceId};
use crate::json_text::JsonText;
use crate::ownership::{EntityKind, Owner, rules, set_path};

const CUSTOM_PROPERTIES: &str = "customProperties";

/// Service-level facts of the APIM instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApimService {
    /// `properties.gatewayUrl`.
    pub gateway_url: Option<String>,
    /// `properties.developerPortalUrl` (absent on some tiers).
    pub developer_portal_url: Option<String>,
    /// Where the APIM instance is managed. The engine sets it to the Azure portal page of
    /// the resource for the cloud in use (see [`azure_portal_resource_url`]); when absent
    /// the environment has no management portal URI.
    pub management_portal_url: Option<String>,
    /// `properties.hostnameConfigurations`.
    pub hostnames: Vec<ApimHostname>,
    /// The gateway base URL (`https://{host}`) of each source workspace a workspace
    /// gateway serves, by workspace name as the link's settings spell it (see
    /// [`crate::mapping::workspace_gateways`]). A workspace absent here is served by the
    /// service's own gateway.
    pub workspace_gateways: BTreeMap<String, String>,
}

/// One APIM hostname configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ApimHostname {
    /// `Proxy`, `DeveloperPortal`, `Management`, …
    pub kind: String,
    pub host_name: String,
    pub default_ssl_binding: bool,
}

/// One config connection of an APIM workspace gateway (a top-level
/// `Microsoft.ApiManagement/gateways/{gateway}` resource): which workspace the gateway
/// serves, and on which hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApimGatewayConnection {
    /// `properties.sourceId`: the ARM id of the workspace served (empty when absent).
    pub source_id: String,
    /// `properties.defaultHostname`, set by APIM.
    pub default_hostname: Option<String>,
    /// `properties.hostnames`: hosts requests can be sent to (custom domains among them).
    pub hostnames: Vec<String>,
}

impl ApimGatewayConnection {
    /// The workspace `source_id` names when it is a workspace of `service` (compared
    /// case-insensitively, as ARM ids are). `services` is accepted for `service`: the
    /// 2024-05-01 examples spell workspace ids that way.
    pub fn workspace_of(&self, service: &ApimServiceId) -> Option<&str> {
        let segments: Vec<&str> = self.source_id.trim_end_matches('/').split('/').collect();
        let [
            "",
            subs,
            subscription,
            rgs,
            resource_group,
            providers,
            namespace,
            kind,
            name,
            workspaces,
            workspace,
        ] = segments.as_slice()
        else {
            return None;
        };
        let id = &service.0;
        let matches = subs.eq_ignore_ascii_case("subscriptions")
            && subscription.eq_ignore_ascii_case(&id.subscription)
            && rgs.eq_ignore_ascii_case("resourceGroups")
            && resource_group.eq_ignore_ascii_case(&id.resource_group)
            && providers.eq_ignore_ascii_case("providers")
            && namespace.eq_ignore_ascii_case("Microsoft.ApiManagement")
            && (kind.eq_ignore_ascii_case("service") || kind.eq_ignore_ascii_case("services"))
            && name.eq_ignore_ascii_case(&id.name)
            && workspaces.eq_ignore_ascii_case("workspaces")
            && !workspace.is_empty();
        matches.then_some(*workspace)
    }
}

/// The Azure portal page of a resource, e.g. `https://portal.azure.com/#resource/subscriptions/…`.
pub fn azure_portal_resource_url(portal_base: &str, resource_id: &str) -> String {
    format!(
        "{}/#resource{resource_id}",
        portal_base.trim_end_matches('/')
    )
}

/// APIM API contact.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApimContact {
    pub name: Option<String>,
    pub url: Option<String>,
    pub email: Option<String>,
}

/// APIM API license.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApimLicense {
    pub name: Option<String>,
    pub url: Option<String>,
}

/// One entry of the APIM API list (a revision; only `is_current` ones are APIs).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApimApi {
    /// APIM workspace, `None` for service-level APIs.
    pub workspace: Option<String>,
    /// `name` as listed: `echo-api`, or `echo-api;rev=2` for a non-current revision.
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub path: String,
    /// `properties.type`; absent means http.
    pub api_type: Option<String>,
    pub api_revision: Option<String>,
    pub is_current: bool,
    pub api_version: Option<String>,
    /// Full ARM id of the version set, if the API belongs to one.
    pub api_version_set_id: Option<String>,
    pub contact: Option<ApimContact>,
    pub license: Option<ApimLicense>,
    pub terms_of_service_url: Option<String>,
}

impl ApimApi {
    /// The API id without a `;rev=N` suffix.
    pub fn api_id(&self) -> &str {
        self.name.split(';').next().unwrap_or(&self.name)
    }

    pub fn api_ref(&self) -> ApimApiRef {
        ApimApiRef {
            workspace: self.workspace.clone(),
            api_id: self.api_id().to_string(),
        }
    }

    /// The version set's name (last segment of `apiVersionSetId`), if any.
    pub fn version_set_name(&self) -> Option<&str> {
        self.api_version_set_id
            .as_deref()
            .and_then(|id| id.trim_end_matches('/').rsplit('/').next())
            .filter(|s| !s.is_empty())
    }
}

/// An APIM version set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ApimVersionSet {
    pub workspace: Option<String>,
    /// The version set's name (id segment).
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    /// `Segment`, `Query` or `Header`.
    pub versioning_scheme: Option<String>,
}

/// `specification{name, version}` of an API Center definition / an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpecificationRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// A definition exported from APIM this pass. The content itself stays with the engine;
/// the planner only needs its hash ([`crate::hash::content_hash`]) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedDefinition {
    pub specification: SpecificationRef,
    pub content_hash: String,
}

/// Everything read from APIM in one pass. Must be complete: an API missing here is
/// treated as deleted in APIM, so the engine must not plan after a failed list read.
#[derive(Debug, Clone, Default)]
pub struct ObservedApim {
    pub service: ApimService,
    /// The API list as returned (revisions included; non-current ones are ignored).
    pub apis: Vec<ApimApi>,
    pub version_sets: Vec<ApimVersionSet>,
    /// Definitions exported this pass, by APIM API.
    pub exports: BTreeMap<ApimApiRef, ExportedDefinition>,
}

/// One API Center entity as read: its name, `properties` and ETag.
///
/// Lists hold thousands of entities for a whole pass, so the properties are kept as text
/// ([`JsonText`]) and parsed where a decision or a write needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct ApicEntity {
    pub name: String,
    pub properties: JsonText,
    pub etag: Option<String>,
}

/// The members of a listed entity's `properties` that planning reads: every field of
/// the ownership table that API Center users do not own — APIM's fields, the link's
/// record, what the service computes (a definition's specification) — and
/// `customProperties` whole, since a link may declare some of them APIM's. Summaries,
/// contacts, licences, documentation links and members the table does not know are
/// left out, so a list of thousands of entities keeps only what decides the plan;
/// every write reads its entity again in full first.
pub fn planned_members(entity: EntityKind, mut properties: Value) -> Value {
    let mut read: Vec<&[&str]> = rules(entity)
        .filter(|r| r.owner != Owner::ApiCenter)
        .map(|r| r.path)
        .collect();
    read.push(&[CUSTOM_PROPERTIES]);
    // Members are taken, not cloned: a member taken whole holds its nested members, so
    // shorter paths go first and a nested member already taken is simply not found.
    read.sort_by_key(|path| path.len());
    let mut kept = Value::Object(serde_json::Map::new());
    for path in read {
        let pointer: String = path
            .iter()
            .map(|key| format!("/{}", key.replace('~', "~0").replace('/', "~1")))
            .collect();
        if let Some(value) = properties.pointer_mut(&pointer).map(Value::take) {
            set_path(&mut kept, path, Some(value));
        }
    }
    kept
}

/// One API Center version with its definitions' properties, by definition name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedVersion {
    pub properties: Value,
    pub definitions: BTreeMap<String, Value>,
}

/// Children of one API, read only for some APIs (see [`crate::planner::details_needed`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiDetails {
    pub versions: BTreeMap<String, ObservedVersion>,
    /// Deployments' properties by name.
    pub deployments: BTreeMap<String, Value>,
}

/// True when a definition's properties carry an imported specification.
pub fn has_specification(definition_properties: &Value) -> bool {
    definition_properties.get("specification").is_some_and(|s| {
        s.get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty())
    })
}

/// What was read from API Center in one pass.
#[derive(Debug, Clone, Default)]
pub struct ObservedApiCenter {
    /// The environment named by the link's settings, if it exists.
    pub environment: Option<ApicEntity>,
    /// Every API in the target workspace (list call).
    pub apis: Vec<ApicEntity>,
    /// Children of some APIs, by API name.
    pub details: DetailsRead,
}

/// The children read for some APIs this pass, by API name.
///
/// A full resync reads the children of every owned API, and planning looks at each API's
/// once: each API's are kept as one text ([`JsonText`]) and parsed when asked for, so
/// thousands of APIs' children cost the bytes of their JSON rather than a tree of maps.
#[derive(Debug, Clone, Default)]
pub struct DetailsRead(BTreeMap<String, JsonText>);

impl DetailsRead {
    /// The children of `api`, if they were read.
    pub fn get(&self, api: &str) -> Option<ApiDetails> {
        let text = self.0.get(api)?;
        // The text was written from an `ApiDetails`, so it reads back as one.
        Some(serde_json::from_str(text.as_str()).unwrap_or_default())
    }

    pub fn contains(&self, api: &str) -> bool {
        self.0.contains_key(api)
    }

    pub fn insert(&mut self, api: String, details: &ApiDetails) {
        let text = serde_json::to_value(details)
            .map(JsonText::from)
            .unwrap_or_default();
        self.0.insert(api, text);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl Extend<(String, ApiDetails)> for DetailsRead {
    fn extend<I: IntoIterator<Item = (String, ApiDetails)>>(&mut self, read: I) {
        for (api, details) in read {
            self.insert(api, &details);
        }
    }
}

impl FromIterator<(String, ApiDetails)> for DetailsRead {
    fn from_iter<I: IntoIterator<Item = (String, ApiDetails)>>(read: I) -> Self {
        let mut details = Self::default();
        details.extend(read);
        details
    }
}

/// One APIM tag on one API: an API-level association of `tagResources`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApimApiTag {
    pub api: ApimApiRef,
    /// The tag's display name.
    pub tag: String,
}

/// One APIM product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApimProduct {
    /// The product's id (`name` in ARM), as its API list is addressed.
    pub id: String,
    pub display_name: String,
}

/// The APIM tags and products of each API, read only for links that map them
/// (`spec.apimMetadata`). APIM ids are case-insensitive, so APIs are keyed in lower case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApimMetadata {
    /// Tag display names by API.
    pub tags: BTreeMap<ApimApiRef, std::collections::BTreeSet<String>>,
    /// Display names of the products each API belongs to, by API.
    pub products: BTreeMap<ApimApiRef, std::collections::BTreeSet<String>>,
}

fn metadata_key(api: &ApimApiRef) -> ApimApiRef {
    ApimApiRef {
        workspace: api.workspace.as_ref().map(|w| w.to_ascii_lowercase()),
        api_id: api.api_id.to_ascii_lowercase(),
    }
}

impl ApimMetadata {
    /// From the reads: the tag associations, and each product with its APIs.
    pub fn from_reads(
        tags: Vec<ApimApiTag>,
        products: Vec<(ApimProduct, Vec<ApimApiRef>)>,
    ) -> Self {
        let mut metadata = Self::default();
        for ApimApiTag { api, tag } in tags {
            metadata
                .tags
                .entry(metadata_key(&api))
                .or_default()
                .insert(tag);
        }
        for (product, apis) in products {
            for api in apis {
                metadata
                    .products
                    .entry(metadata_key(&api))
                    .or_default()
                    .insert(product.display_name.clone());
            }
        }
        metadata
    }

    /// The display names `source` gives `api`: its tags, or its products.
    pub fn values_of(
        &self,
        source: crate::spec::ApimMetadataSource,
        api: &ApimApiRef,
    ) -> impl Iterator<Item = &str> {
        let by_api = match source {
            crate::spec::ApimMetadataSource::Tags => &self.tags,
            crate::spec::ApimMetadataSource::Products => &self.products,
        };
        by_api
            .get(&metadata_key(api))
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// The tag display names of `api`.
    pub fn tags_of(&self, api: &ApimApiRef) -> impl Iterator<Item = &str> {
        self.tags
            .get(&metadata_key(api))
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// The display names of the products `api` belongs to.
    pub fn products_of(&self, api: &ApimApiRef) -> impl Iterator<Item = &str> {
        self.products
            .get(&metadata_key(api))
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn connection(source_id: &str) -> ApimGatewayConnection {
        ApimGatewayConnection {
            source_id: source_id.into(),
            ..ApimGatewayConnection::default()
        }
    }

    #[test]
    fn a_connection_serves_a_workspace_of_its_own_service_only() {
        let service = ApimServiceId::parse(
            "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apim-1",
        )
        .unwrap();
        let spelled_otherwise = connection(
            "/subscriptions/S1/resourcegroups/RG1/providers/Microsoft.ApiManagement/services/APIM-1/workspaces/ws-1/",
        );
        assert_eq!(spelled_otherwise.workspace_of(&service), Some("ws-1"));
        let elsewhere = connection(
            "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apim-2/workspaces/ws-1",
        );
        assert_eq!(elsewhere.workspace_of(&service), None);
        let not_a_workspace = connection(
            "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apim-1",
        );
        assert_eq!(not_a_workspace.workspace_of(&service), None);
        assert_eq!(connection("").workspace_of(&service), None);
    }

    #[test]
    fn an_api_names_itself_without_its_revision() {
        let api = ApimApi {
            workspace: Some("team-a".into()),
            name: "echo;rev=2".into(),
            api_version_set_id: Some(
                "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/x/apiVersionSets/vs1/".into(),
            ),
            ..ApimApi::default()
        };
        assert_eq!(api.api_id(), "echo");
        assert_eq!(
            api.api_ref(),
            ApimApiRef {
                workspace: Some("team-a".into()),
                api_id: "echo".into(),
            }
        );
        assert_eq!(api.version_set_name(), Some("vs1"));
        let plain = ApimApi {
            name: "echo".into(),
            ..ApimApi::default()
        };
        assert_eq!(plain.api_id(), "echo");
        assert_eq!(plain.version_set_name(), None);
    }

    /// Every reading of an observed entity planning makes gives the same answer on the
    /// members [`planned_members`] keeps as on the whole entity.
    #[test]
    fn planning_reads_nothing_the_listed_members_leave_out() {
        use crate::diff::owned_changes;
        use crate::ids::LinkId;
        use crate::marker::{read_api_marker, read_entity_marker};
        use crate::ownership::{apim_owned_properties, merge_for_update};

        let link = LinkId::new("ns/a").unwrap();
        let observed = [
            (
                EntityKind::Api,
                json!({
                    "title": "Echo", "description": "old", "kind": "REST", "summary": "s",
                    "contacts": [{"name": "Team"}], "license": {"name": "MIT"},
                    "termsOfService": {"url": "https://t"}, "lifecycleStage": "design",
                    "externalDocumentation": [], "unknown": {"x": 1},
                    "customProperties": {"apilink-ownership": "apilink/1 link=ns/a", "owner": "me"}
                }),
                json!({"title": "Echo", "description": "new", "kind": "rest", "summary": "other",
                       "contacts": [], "customProperties": {"apilink-ownership": "apilink/1 link=ns/b"}}),
            ),
            (
                EntityKind::Version,
                json!({"title": "v1", "lifecycleStage": "production", "x": 1}),
                json!({"title": "v1", "lifecycleStage": "design"}),
            ),
            (
                EntityKind::Definition,
                json!({"title": "T", "description": null, "specification": {"name": "openapi"}, "z": 0}),
                json!({"title": "T2", "description": "d"}),
            ),
            (
                EntityKind::Deployment,
                json!({
                    "title": "D", "description": "x", "state": "active", "environmentId": "/e",
                    "definitionId": "/d", "server": {"runtimeUri": ["https://g/a"], "y": 1},
                    "customProperties": {"apilink": {"link": "ns/a"}}
                }),
                json!({"state": "Active", "environmentId": "/e", "definitionId": "/d2",
                       "server": {"runtimeUri": ["https://g/b"]}}),
            ),
        ];
        for (entity, whole, desired) in observed {
            let listed = planned_members(entity, whole.clone());
            assert_ne!(listed, whole, "{entity:?}: something left out");
            assert_eq!(
                listed.get(CUSTOM_PROPERTIES),
                whole.get(CUSTOM_PROPERTIES),
                "{entity:?}: custom properties kept whole"
            );
            let owned = apim_owned_properties(entity, &desired);
            assert_eq!(
                owned_changes(entity, Some(&listed), &owned),
                owned_changes(entity, Some(&whole), &owned),
                "{entity:?}"
            );
            assert_eq!(
                merge_for_update(entity, &listed, &owned).is_some(),
                merge_for_update(entity, &whole, &owned).is_some(),
                "{entity:?}"
            );
            assert_eq!(
                read_entity_marker(&listed, &link),
                read_entity_marker(&whole, &link),
                "{entity:?}"
            );
            assert_eq!(
                read_api_marker("echo", &listed, &link),
                read_api_marker("echo", &whole, &link),
                "{entity:?}"
            );
            assert_eq!(has_specification(&listed), has_specification(&whole));
        }
    }

    #[test]
    fn a_definition_has_a_specification_once_imported() {
        assert!(has_specification(
            &json!({"specification": {"name": "openapi"}})
        ));
        assert!(!has_specification(&json!({"specification": {"name": ""}})));
        assert!(!has_specification(&json!({"title": "x"})));
    }

    #[test]
    fn details_read_back_as_they_were_kept() {
        let details = ApiDetails {
            versions: BTreeMap::from([(
                "v1".to_string(),
                ObservedVersion {
                    properties: json!({"title": "v1", "customProperties": {"k": [1, null]}}),
                    definitions: BTreeMap::from([(
                        "openapi".to_string(),
                        json!({"specification": {"name": "openapi"}}),
                    )]),
                },
            )]),
            deployments: BTreeMap::from([("v1".to_string(), json!({"state": "active"}))]),
        };
        let mut read = DetailsRead::default();
        assert!(read.is_empty());
        read.insert("echo".into(), &details);
        read.extend([("empty".to_string(), ApiDetails::default())]);
        assert_eq!(read.len(), 2);
        assert!(read.contains("echo"));
        assert_eq!(read.get("echo"), Some(details));
        assert_eq!(read.get("empty"), Some(ApiDetails::default()));
        assert_eq!(read.get("other"), None);
    }
}
