//! APIM → API Center mapping (`docs/mapping.md`): from what was observed in APIM to the
//! desired API Center state of one link.
//!
//! Rules worth knowing:
//! - Only current revisions are APIs; workspace APIs are included only for workspaces
//!   listed in the spec and are keyed by workspace, so they never collide with
//!   service-level ones.
//! - The filter matches a plain API's name and a version set's name (its members follow
//!   the set).
//! - A version set becomes one API: title/description from the set, kind, contacts,
//!   license and terms from its first member (members sorted by APIM version string, so
//!   the original member comes first).
//! - With the `Segment` versioning scheme the runtime URI ends with the version segment.
//! - Runtime URIs start at the service's custom `Proxy` domain when it has one (see
//!   [`gateway_base`]); a workspace API's at its workspace gateway when one serves it.
//! - Runtime URIs longer than 200 characters are left out with a warning.

use crate::json_text::JsonText;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::desired::{
    DesiredApi, DesiredDefinition, DesiredDeployment, DesiredEnvironment, DesiredState,
    DesiredVersion,
};
use crate::hash::json_hash;
use crate::ids::{ApimApiRef, ApimServiceId, SourceKey};
use crate::limits::{Clipper, NAME_MAX, non_empty_object};
use crate::marker::{SharedShare, entity_marker, record_properties};
use crate::naming::{api_name, definition_name, deployment_name, version_name};
use crate::observed::{
    ApimApi, ApimGatewayConnection, ApimHostname, ApimMetadata, ApimService, ApimVersionSet,
    ObservedApim,
};
use crate::ownership::{EntityKind, apim_owned_properties, declare_apim_owned, set_path};
use crate::plan::Warning;
use crate::spec::{LinkSettings, MetadataOwner};

pub use crate::limits::{DESCRIPTION_MAX, TITLE_MAX, URI_MAX};
/// `server.type` of an environment standing for APIM.
pub const SERVER_TYPE: &str = "Azure API Management";

/// The kind of specification a definition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SpecKind {
    /// OpenAPI, exported from APIM as OpenAPI 3 JSON.
    OpenApi,
    /// WSDL (SOAP APIs).
    Wsdl,
    /// GraphQL SDL, read from the API's schemas.
    GraphQl,
    /// Protobuf, read from the API's schemas.
    Grpc,
}

impl SpecKind {
    /// The API Center `specification.name` and the definition's name.
    pub fn specification_name(self) -> &'static str {
        match self {
            Self::OpenApi => "openapi",
            Self::Wsdl => "wsdl",
            Self::GraphQl => "graphql",
            Self::Grpc => "grpc",
        }
    }

    /// The definition's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::OpenApi => "OpenAPI",
            Self::Wsdl => "WSDL",
            Self::GraphQl => "GraphQL",
            Self::Grpc => "gRPC",
        }
    }
}

fn normalized_type(api_type: Option<&str>) -> String {
    api_type.unwrap_or("http").to_ascii_lowercase()
}

/// API Center `kind` for an APIM API type (absent means http).
pub fn api_kind(api_type: Option<&str>) -> &'static str {
    match normalized_type(api_type).as_str() {
        "soap" => "soap",
        "graphql" => "graphql",
        "websocket" => "websocket",
        "grpc" => "grpc",
        _ => "rest",
    }
}

/// The definition kind for an APIM API type; `None` where APIM exports nothing
/// (websocket, odata, unknown types).
pub fn spec_kind(api_type: Option<&str>) -> Option<SpecKind> {
    match normalized_type(api_type).as_str() {
        "http" => Some(SpecKind::OpenApi),
        "soap" => Some(SpecKind::Wsdl),
        "graphql" => Some(SpecKind::GraphQl),
        "grpc" => Some(SpecKind::Grpc),
        _ => None,
    }
}

/// `s` cut to at most `max` characters, on a character boundary.
pub fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Host suffixes of the hosts APIM itself gives gateways (public cloud, Azure China,
/// Azure US Government, the retired Azure Germany). A host under one of them is never a
/// custom domain; `foo.int-azure-api.net` is (the dot matters).
const PLATFORM_HOST_SUFFIXES: &[&str] = &[
    ".azure-api.net",
    ".azure-api.cn",
    ".azure-api.us",
    ".azure-api.de",
];

/// The host of an `https://host[:port][/…]` URL, lower-cased.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Whether `host` is one APIM gives out (rather than a custom domain its owner bound):
/// `default_host` (the host of `gatewayUrl`) or any host under a platform suffix.
fn is_platform_host(host: &str, default_host: Option<&str>) -> bool {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    default_host.is_some_and(|d| d == host)
        || PLATFORM_HOST_SUFFIXES.iter().any(|s| host.ends_with(s))
}

/// The base URL people call the service's gateway on. Custom `Proxy` domains win over
/// the default `*.azure-api.net` host (itself listed as a `Proxy` entry): among them the
/// one bound by default for SSL, else the first in the service's order. Without any,
/// `gatewayUrl`. Azure's own APIM → API Center link only honours a custom domain with
/// the default SSL binding, which misses the common single custom domain without it.
pub fn gateway_base(service: &ApimService) -> Option<String> {
    let default_host = service.gateway_url.as_deref().map(host_of);
    let custom: Vec<&ApimHostname> = service
        .hostnames
        .iter()
        .filter(|h| h.kind.eq_ignore_ascii_case("Proxy"))
        .filter(|h| !h.host_name.trim().is_empty())
        .filter(|h| !is_platform_host(&h.host_name, default_host.as_deref()))
        .collect();
    custom
        .iter()
        .find(|h| h.default_ssl_binding)
        .or(custom.first())
        .map(|h| format!("https://{}", h.host_name.trim()))
        .or_else(|| service.gateway_url.clone())
        .map(|g| g.trim_end_matches('/').to_string())
}

/// The host a workspace gateway's config connection is called on: a custom domain among
/// its `hostnames` first (by the same reasoning as [`gateway_base`]), else its
/// `defaultHostname`, else any of its `hostnames`.
pub fn connection_host(connection: &ApimGatewayConnection) -> Option<&str> {
    let custom = connection
        .hostnames
        .iter()
        .find(|h| !is_platform_host(h, None));
    custom
        .or(connection.default_hostname.as_ref())
        .or(connection.hostnames.first())
        .map(|h| h.trim())
        .filter(|h| !h.is_empty())
}

/// The gateway base URL of each of `workspaces` that a workspace gateway serves, keyed
/// by the name as `workspaces` spells it. `connections` come in the order APIM links the
/// workspace to its gateways; the first that serves a workspace (and has a host) wins.
pub fn workspace_gateways(
    service: &ApimServiceId,
    workspaces: &[String],
    connections: &[ApimGatewayConnection],
) -> BTreeMap<String, String> {
    let mut bases = BTreeMap::new();
    for connection in connections {
        let (Some(served), Some(host)) = (
            connection.workspace_of(service),
            connection_host(connection),
        ) else {
            continue;
        };
        if let Some(ws) = workspaces.iter().find(|w| w.eq_ignore_ascii_case(served)) {
            bases
                .entry(ws.clone())
                .or_insert_with(|| format!("https://{host}"));
        }
    }
    bases
}

/// `gateway/path[/segment]`, without doubled slashes.
pub fn runtime_uri(gateway: &str, path: &str, segment: Option<&str>) -> String {
    let mut uri = gateway.trim_end_matches('/').to_string();
    for part in [Some(path), segment].into_iter().flatten() {
        let part = part.trim_matches('/');
        if !part.is_empty() {
            uri.push('/');
            uri.push_str(part);
        }
    }
    uri
}

fn object(pairs: Vec<(&str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = pairs
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    Value::Object(map)
}

fn title_source<'a>(display_name: &'a str, fallback: &'a str) -> &'a str {
    if display_name.trim().is_empty() {
        fallback
    } else {
        display_name
    }
}

fn title_of(display_name: &str, fallback: &str) -> String {
    truncate_chars(title_source(display_name, fallback), TITLE_MAX)
}

fn description_of(description: Option<&str>) -> Option<Value> {
    description
        .filter(|d| !d.is_empty())
        .map(|d| Value::String(truncate_chars(d, DESCRIPTION_MAX)))
}

/// The API's properties from APIM, each value within API Center's limits (`clip` says
/// what was cut or left out).
fn api_properties(
    clip: &mut Clipper<'_>,
    title: &str,
    description: Option<&str>,
    lead: &ApimApi,
) -> Value {
    let contacts = lead.contact.as_ref().and_then(|c| {
        let contact = non_empty_object(vec![
            (
                "name",
                c.name
                    .as_deref()
                    .map(|n| clip.text("contacts[0].name", n, NAME_MAX)),
            ),
            (
                "url",
                c.url
                    .as_deref()
                    .and_then(|u| clip.uri("contacts[0].url", u)),
            ),
            (
                "email",
                c.email
                    .as_deref()
                    .and_then(|e| clip.email("contacts[0].email", e)),
            ),
        ]);
        contact.map(|c| Value::Array(vec![c]))
    });
    let license = lead.license.as_ref().and_then(|l| {
        non_empty_object(vec![
            (
                "name",
                l.name
                    .as_deref()
                    .map(|n| clip.text("license.name", n, NAME_MAX)),
            ),
            (
                "url",
                l.url.as_deref().and_then(|u| clip.uri("license.url", u)),
            ),
        ])
    });
    let terms = lead
        .terms_of_service_url
        .as_deref()
        .and_then(|url| clip.uri("termsOfService.url", url))
        .map(|url| json!({ "url": url }));
    let description = description
        .filter(|d| !d.is_empty())
        .map(|d| Value::String(clip.text("description", d, DESCRIPTION_MAX)));
    object(vec![
        (
            "title",
            Some(Value::String(clip.text("title", title, TITLE_MAX))),
        ),
        (
            "kind",
            Some(Value::String(api_kind(lead.api_type.as_deref()).into())),
        ),
        ("description", description),
        ("contacts", contacts),
        ("license", license),
        ("termsOfService", terms),
    ])
}

/// `customProperties` of an entity the link creates: the values the spec gives for that
/// kind (applied on create only) and the link's record.
fn custom_properties(spec_values: &Map<String, Value>, record: Value) -> Value {
    let mut values = Value::Object(spec_values.clone());
    if let (Some(target), Value::Object(record)) =
        (values.as_object_mut(), record_properties(record))
    {
        target.extend(record);
    }
    values
}

/// Everything that is the same for all APIs of one pass.
struct Context<'a> {
    settings: &'a LinkSettings,
    gateway: Option<String>,
    /// Workspace → its workspace gateway's base URL; other workspaces use `gateway`.
    workspace_gateways: &'a BTreeMap<String, String>,
    /// APIM tags and products, for the mappings of `spec.apimMetadata`.
    metadata: &'a ApimMetadata,
    warnings: Vec<Warning>,
}

impl Context<'_> {
    /// The API's properties with the custom properties the spec gives APIs (used on
    /// create only: API Center owns them afterwards).
    fn with_spec_custom_properties(&self, mut properties: Value) -> Value {
        let values = &self.settings.custom_properties.api;
        if let (false, Some(map)) = (values.is_empty(), properties.as_object_mut()) {
            map.insert("customProperties".into(), Value::Object(values.clone()));
        }
        properties
    }

    /// The API's properties with the values of `spec.apimMetadata`: for each mapping, the
    /// sorted display names of the tags (products) of `members` (an API's current
    /// revision, or a version set's members), an empty array for none. An APIM-owned
    /// mapping is declared a row of the ownership table, so updates keep it in step and
    /// the source hash covers it; an API Center-owned one is like the spec's custom
    /// properties, used on create only.
    fn with_apim_metadata(&self, mut properties: Value, members: &[ApimApiRef]) -> Value {
        for (source, mapping) in self.settings.apim_metadata.mappings() {
            let values: BTreeSet<&str> = members
                .iter()
                .flat_map(|m| self.metadata.values_of(source, m))
                .collect();
            let key = mapping.custom_property.as_str();
            set_path(
                &mut properties,
                &["customProperties", key],
                Some(json!(values)),
            );
            if mapping.owner == MetadataOwner::Apim {
                declare_apim_owned(&mut properties, key);
            }
        }
        properties
    }

    fn environment_id(&self) -> String {
        format!(
            "/workspaces/{}/environments/{}",
            self.settings.target_workspace, self.settings.environment_name
        )
    }

    fn version(
        &mut self,
        api: &str,
        member: &ApimApi,
        name: String,
        segment: Option<&str>,
    ) -> DesiredVersion {
        let title = title_of(&member.display_name, member.api_id());
        let definition = spec_kind(member.api_type.as_deref()).map(|kind| {
            let def_name = definition_name(kind).to_string();
            let dep_name = if self.settings.shares_apis() {
                crate::shared::shared_deployment_name(&self.settings.link, &name)
            } else {
                deployment_name(&name, &def_name)
            };
            let gateway = member
                .workspace
                .as_ref()
                .and_then(|ws| self.workspace_gateways.get(ws))
                .or(self.gateway.as_ref());
            let uri = gateway.map(|g| runtime_uri(g, &member.path, segment));
            let runtime = match uri {
                Some(uri) if uri.chars().count() > URI_MAX => {
                    self.warnings.push(Warning::RuntimeUriTooLong {
                        api: api.to_string(),
                        deployment: dep_name.clone(),
                        length: uri.chars().count(),
                    });
                    None
                }
                other => other,
            };
            let deployment = DesiredDeployment {
                properties: JsonText::from(object(vec![
                    ("title", Some(Value::String(title.clone()))),
                    ("environmentId", Some(Value::String(self.environment_id()))),
                    (
                        "definitionId",
                        Some(Value::String(format!(
                            "/workspaces/{}/apis/{api}/versions/{name}/definitions/{def_name}",
                            self.settings.target_workspace
                        ))),
                    ),
                    ("state", Some(Value::String("active".into()))),
                    ("server", runtime.map(|u| json!({ "runtimeUri": [u] }))),
                    (
                        "customProperties",
                        Some(custom_properties(
                            &self.settings.custom_properties.deployment,
                            entity_marker(&self.settings.link),
                        )),
                    ),
                ])),
                name: dep_name,
            };
            DesiredDefinition {
                properties: JsonText::from(object(vec![
                    ("title", Some(Value::String(kind.title().into()))),
                    ("description", description_of(member.description.as_deref())),
                ])),
                name: def_name,
                kind,
                deployment,
            }
        });
        DesiredVersion {
            source: member.api_ref(),
            api_revision: member.api_revision.clone(),
            properties: JsonText::from(json!({
                "title": title,
                "lifecycleStage": self.settings.lifecycle_stage.as_str(),
            })),
            definition,
            name,
        }
    }

    /// The API's name and, for a link that shares its APIs, its share: the name then
    /// derives from the identity alone, so every link with that identity meets on it.
    fn api_name(&self, source: &SourceKey, path: &str) -> (String, Option<SharedShare>) {
        if !self.settings.shares_apis() {
            return (api_name(&self.settings.link, source), None);
        }
        let identity = crate::shared::identity(self.settings.api_identity.key, source, path);
        let share = SharedShare {
            environment_kind: self.settings.environment_kind.as_str().to_string(),
            identity,
        };
        (crate::naming::shared_api_name(&share.identity), Some(share))
    }

    fn plain_api(&mut self, api: &ApimApi) -> DesiredApi {
        let source = SourceKey::Api(api.api_ref());
        let (name, share) = self.api_name(&source, &api.path);
        let version = self.version(&name, api, version_name(None), None);
        let mut clip = Clipper::new(&name);
        let properties = api_properties(
            &mut clip,
            title_source(&api.display_name, api.api_id()),
            api.description.as_deref(),
            api,
        );
        self.warnings.append(&mut clip.warnings);
        let properties = self.with_spec_custom_properties(properties);
        let properties = self.with_apim_metadata(properties, &[api.api_ref()]);
        finish_api(name, source, share, properties, vec![version])
    }

    fn version_set_api(
        &mut self,
        key: &(Option<String>, String),
        set: Option<&ApimVersionSet>,
        mut members: Vec<&ApimApi>,
    ) -> Option<DesiredApi> {
        members.sort_by(|a, b| {
            (a.api_version.as_deref().unwrap_or(""), a.api_id())
                .cmp(&(b.api_version.as_deref().unwrap_or(""), b.api_id()))
        });
        let lead = *members.first()?;
        let source = SourceKey::VersionSet {
            workspace: key.0.clone(),
            id: key.1.clone(),
        };
        let (name, share) = self.api_name(&source, &lead.path);
        let title = title_source(
            set.map(|s| s.display_name.as_str())
                .unwrap_or(&lead.display_name),
            &key.1,
        );
        let description = set
            .and_then(|s| s.description.as_deref())
            .or(lead.description.as_deref());
        let segment_scheme = set
            .and_then(|s| s.versioning_scheme.as_deref())
            .is_some_and(|s| s.eq_ignore_ascii_case("Segment"));
        let member_refs: Vec<ApimApiRef> = members.iter().map(|m| m.api_ref()).collect();
        let mut versions: Vec<DesiredVersion> = Vec::new();
        for member in members {
            let version = version_name(member.api_version.as_deref());
            if versions.iter().any(|v| v.name == version) {
                self.warnings.push(Warning::NameCollision {
                    api: name.clone(),
                    name: version,
                    source: member.api_ref().to_string(),
                });
                continue;
            }
            let segment = member
                .api_version
                .as_deref()
                .filter(|v| segment_scheme && !v.is_empty());
            versions.push(self.version(&name, member, version, segment));
        }
        let mut clip = Clipper::new(&name);
        let properties = api_properties(&mut clip, title, description, lead);
        self.warnings.append(&mut clip.warnings);
        let properties = self.with_spec_custom_properties(properties);
        let properties = self.with_apim_metadata(properties, &member_refs);
        Some(finish_api(name, source, share, properties, versions))
    }
}

fn finish_api(
    name: String,
    source: SourceKey,
    share: Option<SharedShare>,
    properties: Value,
    mut versions: Vec<DesiredVersion>,
) -> DesiredApi {
    versions.sort_by(|a, b| a.name.cmp(&b.name));
    let source_hash = source_hash(&properties, &versions);
    DesiredApi {
        name,
        source,
        share,
        properties: JsonText::from(properties),
        versions,
        source_hash,
    }
}

/// Hash of what APIM determines for an API: the APIM-owned fields of every entity under
/// it, their names, and the current revision of every member.
fn source_hash(api_properties: &Value, versions: &[DesiredVersion]) -> String {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "name": v.name,
                "source": v.source.to_string(),
                "revision": v.api_revision,
                "properties": apim_owned_properties(EntityKind::Version, &v.properties.value()),
                "definition": v.definition.as_ref().map(|d| json!({
                    "name": d.name,
                    "properties": apim_owned_properties(EntityKind::Definition, &d.properties.value()),
                    "deployment": {
                        "name": d.deployment.name,
                        "properties": apim_owned_properties(EntityKind::Deployment, &d.deployment.properties.value()),
                    },
                })),
            })
        })
        .collect();
    json_hash(&json!({
        "api": apim_owned_properties(EntityKind::Api, api_properties),
        "versions": versions,
    }))
}

fn desired_environment(settings: &LinkSettings, service: &ApimService) -> DesiredEnvironment {
    let uri_list = |uri: &Option<String>| {
        uri.as_ref()
            .filter(|u| !u.is_empty() && u.chars().count() <= URI_MAX)
            .map(|u| json!([u]))
    };
    let server = object(vec![
        ("type", Some(Value::String(SERVER_TYPE.into()))),
        (
            "managementPortalUri",
            uri_list(&service.management_portal_url),
        ),
    ]);
    let onboarding =
        uri_list(&service.developer_portal_url).map(|u| json!({ "developerPortalUri": u }));
    DesiredEnvironment {
        name: settings.environment_name.clone(),
        properties: object(vec![
            (
                "title",
                Some(Value::String(settings.environment_title.clone())),
            ),
            (
                "kind",
                Some(Value::String(settings.environment_kind.as_str().into())),
            ),
            (
                "description",
                Some(Value::String(
                    settings.environment_description.clone().unwrap_or_else(|| {
                        format!(
                            "Azure API Management service {}, synchronised by apilink",
                            settings.apim.0.name
                        )
                    }),
                )),
            ),
            ("server", Some(server)),
            ("onboarding", onboarding),
            (
                "customProperties",
                Some(custom_properties(
                    &settings.custom_properties.environment,
                    entity_marker(&settings.link),
                )),
            ),
        ]),
    }
}

/// The desired API Center state for `apim` under `settings`, without APIM metadata (a
/// link that maps tags or products gives its APIs empty arrays: see
/// [`desired_state_with_metadata`]).
pub fn desired_state(settings: &LinkSettings, apim: &ObservedApim) -> DesiredState {
    desired_state_with_metadata(settings, apim, &ApimMetadata::default())
}

/// The desired API Center state for `apim` under `settings`, with the APIM tags and
/// products `spec.apimMetadata` maps.
pub fn desired_state_with_metadata(
    settings: &LinkSettings,
    apim: &ObservedApim,
    metadata: &ApimMetadata,
) -> DesiredState {
    let mut ctx = Context {
        settings,
        gateway: gateway_base(&apim.service),
        workspace_gateways: &apim.service.workspace_gateways,
        metadata,
        warnings: Vec::new(),
    };
    let in_scope = |ws: &Option<String>| {
        ws.as_ref()
            .is_none_or(|w| settings.source_workspaces.iter().any(|s| s == w))
    };
    // One entry per (workspace, API id), current revisions only.
    let mut current: BTreeMap<(Option<String>, String), &ApimApi> = BTreeMap::new();
    for api in apim
        .apis
        .iter()
        .filter(|a| a.is_current && in_scope(&a.workspace))
    {
        current
            .entry((api.workspace.clone(), api.api_id().to_string()))
            .or_insert(api);
    }
    let sets: BTreeMap<(Option<String>, String), &ApimVersionSet> = apim
        .version_sets
        .iter()
        .map(|s| ((s.workspace.clone(), s.name.clone()), s))
        .collect();
    let mut grouped: BTreeMap<(Option<String>, String), Vec<&ApimApi>> = BTreeMap::new();
    let mut apis = Vec::new();
    for api in current.values() {
        match api.version_set_name() {
            Some(set) => grouped
                .entry((api.workspace.clone(), set.to_string()))
                .or_default()
                .push(api),
            None => {
                if settings
                    .filter
                    .matches(api.workspace.as_deref(), api.api_id())
                {
                    apis.push(ctx.plain_api(api));
                }
            }
        }
    }
    for (key, members) in grouped {
        if settings.filter.matches(key.0.as_deref(), &key.1)
            && let Some(api) = ctx.version_set_api(&key, sets.get(&key).copied(), members)
        {
            apis.push(api);
        }
    }
    apis.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.source.cmp(&b.source)));
    let mut seen = BTreeSet::new();
    apis.retain(|api| {
        let fresh = seen.insert(api.name.clone());
        if !fresh {
            ctx.warnings.push(Warning::NameCollision {
                api: api.name.clone(),
                name: api.name.clone(),
                source: api.source.to_string(),
            });
        }
        fresh
    });
    if ctx.gateway.is_none() {
        ctx.warnings.push(Warning::NoGatewayUrl);
    }
    DesiredState {
        apim_apis_listed: current.len(),
        environment: desired_environment(settings, &apim.service),
        apis,
        warnings: ctx.warnings,
    }
}
