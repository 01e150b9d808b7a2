//! The in-memory resource tree of every service, and how its nodes render on the wire.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::kind::{Kind, LOCATION, SERVICE_TYPE};
use super::lro::Operations;
use crate::config::ApicSku;

/// ARM names are case-insensitive: children are keyed by the lower-cased name and keep the
/// casing they were created with.
pub(crate) fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A specification imported into a definition.
#[derive(Debug, Clone)]
pub(crate) struct ImportedSpec {
    pub name: String,
    pub version: Option<String>,
    pub content: String,
}

/// One resource: a service root or anything below it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub id: String,
    pub name: String,
    pub properties: Map<String, Value>,
    pub etag: String,
    pub created_at: Timestamp,
    pub modified_at: Timestamp,
    pub children: BTreeMap<Kind, BTreeMap<String, Node>>,
    pub spec: Option<ImportedSpec>,
}

pub(crate) fn new_etag() -> String {
    format!("\"{}\"", uuid::Uuid::new_v4())
}

impl Node {
    pub(crate) fn new(id: String, name: &str, properties: Map<String, Value>) -> Self {
        let now = Timestamp::now();
        Node {
            id,
            name: name.to_string(),
            properties,
            etag: new_etag(),
            created_at: now,
            modified_at: now,
            children: BTreeMap::new(),
            spec: None,
        }
    }

    /// Records a change: every change gets a fresh ETag.
    pub(crate) fn touch(&mut self) {
        self.etag = new_etag();
        self.modified_at = Timestamp::now();
    }

    pub(crate) fn child(&self, kind: Kind, name: &str) -> Option<&Node> {
        self.children.get(&kind)?.get(&key(name))
    }

    pub(crate) fn child_mut(&mut self, kind: Kind, name: &str) -> Option<&mut Node> {
        self.children.get_mut(&kind)?.get_mut(&key(name))
    }

    pub(crate) fn collection(&self, kind: Kind) -> impl Iterator<Item = &Node> {
        self.children
            .get(&kind)
            .into_iter()
            .flat_map(|map| map.values())
    }

    pub(crate) fn count(&self, kind: Kind) -> usize {
        self.children.get(&kind).map_or(0, BTreeMap::len)
    }

    pub(crate) fn new_service(id: String, name: &str) -> Self {
        let mut service = Node::new(id, name, Map::new());
        let workspace_id = format!("{}/workspaces/default", service.id);
        let mut default_props = Map::new();
        default_props.insert("title".into(), json!("Default workspace"));
        default_props.insert(
            "description".into(),
            json!("Default workspace of the API Center service."),
        );
        let workspace = Node::new(workspace_id, "default", default_props);
        service
            .children
            .entry(Kind::Workspace)
            .or_default()
            .insert(key("default"), workspace);
        service.children.entry(Kind::MetadataSchema).or_default();
        service
    }
}

/// Walks `chain` from `root`. `Err(depth)` names the first missing level (0-based).
pub(crate) fn resolve<'a>(root: &'a Node, chain: &[(Kind, String)]) -> Result<&'a Node, usize> {
    let mut node = root;
    for (depth, (kind, name)) in chain.iter().enumerate() {
        node = node.child(*kind, name).ok_or(depth)?;
    }
    Ok(node)
}

pub(crate) fn resolve_mut<'a>(
    root: &'a mut Node,
    chain: &[(Kind, String)],
) -> Result<&'a mut Node, usize> {
    let mut node = root;
    for (depth, (kind, name)) in chain.iter().enumerate() {
        node = node.child_mut(*kind, name).ok_or(depth)?;
    }
    Ok(node)
}

/// Lifecycle stages in the order an API moves through them.
pub(crate) const LIFECYCLE_STAGES: [&str; 7] = [
    "design",
    "development",
    "testing",
    "preview",
    "production",
    "deprecated",
    "retired",
];

fn stage_rank(stage: &str) -> usize {
    LIFECYCLE_STAGES
        .iter()
        .position(|s| *s == stage)
        .unwrap_or(0)
}

/// An API's read-only `lifecycleStage`, derived from its versions: the most advanced stage
/// among versions still in use (design..production); if every version is deprecated or
/// retired, the least final of those; `design` for an API without versions. An API with a
/// production and a retired version is therefore in production, not retired.
pub(crate) fn derived_api_stage(api: &Node) -> &'static str {
    let ranks: Vec<usize> = api
        .collection(Kind::Version)
        .filter_map(|v| v.properties.get("lifecycleStage").and_then(Value::as_str))
        .map(stage_rank)
        .collect();
    let deprecated = stage_rank("deprecated");
    let active = ranks.iter().copied().filter(|r| *r < deprecated).max();
    let rank = active.or_else(|| ranks.iter().copied().min()).unwrap_or(0);
    LIFECYCLE_STAGES[rank]
}

/// The properties as the service returns them, with read-only members filled in.
pub(crate) fn rendered_properties(kind: Kind, node: &Node) -> Map<String, Value> {
    let mut properties = node.properties.clone();
    match kind {
        Kind::Api => {
            properties.insert("lifecycleStage".into(), json!(derived_api_stage(node)));
        }
        Kind::Definition => {
            if let Some(spec) = &node.spec {
                let mut specification = Map::new();
                specification.insert("name".into(), json!(spec.name));
                if let Some(version) = &spec.version {
                    specification.insert("version".into(), json!(version));
                }
                properties.insert("specification".into(), Value::Object(specification));
            }
        }
        _ => {}
    }
    properties
}

fn system_data(node: &Node) -> Value {
    json!({
        "createdAt": node.created_at.to_string(),
        "lastModifiedAt": node.modified_at.to_string(),
    })
}

/// The resource envelope `{id, name, type, systemData, properties}`.
pub(crate) fn envelope(kind: Kind, node: &Node) -> Value {
    json!({
        "id": node.id,
        "name": node.name,
        "type": kind.type_string(),
        "systemData": system_data(node),
        "properties": rendered_properties(kind, node),
    })
}

/// The data-plane host name the service advertises.
pub(crate) fn data_api_host_name(service: &str) -> String {
    format!("{}.data.{LOCATION}.azure-apicenter.ms", key(service))
}

/// A service as `GET services/{name}` returns it (a tracked resource on plan `sku`).
pub(crate) fn service_envelope(service: &Node, sku: ApicSku) -> Value {
    json!({
        "id": service.id,
        "name": service.name,
        "type": SERVICE_TYPE,
        "location": LOCATION,
        "sku": { "name": sku.name() },
        "tags": {},
        "systemData": system_data(service),
        "properties": {
            "provisioningState": "Succeeded",
            "dataApiHostName": data_api_host_name(&service.name),
        },
    })
}

fn snapshot_node(kind: Kind, node: &Node) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(node.id));
    out.insert("name".into(), json!(node.name));
    out.insert("type".into(), json!(kind.type_string()));
    out.insert("etag".into(), json!(node.etag));
    out.insert(
        "properties".into(),
        Value::Object(rendered_properties(kind, node)),
    );
    if kind == Kind::Definition {
        out.insert(
            "content".into(),
            node.spec
                .as_ref()
                .map_or(Value::Null, |spec| json!(spec.content)),
        );
    }
    for child_kind in Kind::children(Some(kind)) {
        out.insert(
            child_kind.segment().into(),
            snapshot_children(child_kind, node),
        );
    }
    Value::Object(out)
}

fn snapshot_children(kind: Kind, parent: &Node) -> Value {
    let children: Map<String, Value> = parent
        .collection(kind)
        .map(|child| (child.name.clone(), snapshot_node(kind, child)))
        .collect();
    Value::Object(children)
}

/// The whole tree of one service, children keyed by their names.
pub(crate) fn snapshot_service(service: &Node, sku: ApicSku) -> Value {
    let mut out = match service_envelope(service, sku) {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    out.insert("etag".into(), json!(service.etag));
    for kind in Kind::children(None) {
        out.insert(kind.segment().into(), snapshot_children(kind, service));
    }
    Value::Object(out)
}

/// Everything the emulator's API Center holds, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub services: BTreeMap<String, Node>,
    pub operations: Operations,
    /// Extra polls the next started operation must wait (fault injection).
    pub extra_polls: u32,
}

impl State {
    pub(crate) fn service(&self, name: &str) -> Option<&Node> {
        self.services.get(&key(name))
    }

    pub(crate) fn service_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.services.get_mut(&key(name))
    }
}
