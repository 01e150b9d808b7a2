//! Reading the emulator's API Center snapshot (`GET /_emulator/apic/{service}`): the
//! whole tree of one service, children keyed by name, each node with its properties.

use std::collections::BTreeMap;

use serde_json::Value;

/// Default API Center workspace of a link.
pub const WORKSPACE: &str = "default";

/// One API Center service as the emulator holds it.
#[derive(Debug, Clone)]
pub struct ApicSnapshot(pub Value);

/// Entities a link owns in API Center.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnedCounts {
    pub apis: usize,
    pub versions: usize,
    pub definitions: usize,
    pub deployments: usize,
    pub environments: usize,
}

fn children<'a>(node: &'a Value, segment: &str) -> Vec<(&'a str, &'a Value)> {
    node.get(segment)
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

/// One `key=value` token of an entity's ownership record
/// (`customProperties.apilink-ownership`, e.g. `apilink/2 link=ns/name src=apis/echo …`).
fn record_token<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    node.pointer("/properties/customProperties/apilink-ownership")
        .and_then(Value::as_str)?
        .split(' ')
        .find_map(|token| token.strip_prefix(key)?.strip_prefix('='))
}

/// The link (`namespace/name`) recorded in an entity's ownership record, if any.
pub fn owner(node: &Value) -> Option<&str> {
    record_token(node, "link")
}

/// The APIM entity an owned API stands for (`apis/echo`, `apiVersionSets/orders`;
/// percent-encoded in the record, which these names never need).
pub fn source(node: &Value) -> Option<&str> {
    record_token(node, "src")
}

pub fn property<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    node.get("properties").and_then(|p| p.get(name))
}

pub fn versions(api: &Value) -> Vec<(&str, &Value)> {
    children(api, "versions")
}

pub fn definitions(version: &Value) -> Vec<(&str, &Value)> {
    children(version, "definitions")
}

pub fn deployments(api: &Value) -> Vec<(&str, &Value)> {
    children(api, "deployments")
}

impl ApicSnapshot {
    fn workspace(&self) -> Option<&Value> {
        self.0.get("workspaces").and_then(|w| w.get(WORKSPACE))
    }

    /// Every API of the default workspace, owned or not.
    pub fn apis(&self) -> Vec<(&str, &Value)> {
        self.workspace()
            .map(|w| children(w, "apis"))
            .unwrap_or_default()
    }

    pub fn environments(&self) -> Vec<(&str, &Value)> {
        self.workspace()
            .map(|w| children(w, "environments"))
            .unwrap_or_default()
    }

    pub fn api(&self, name: &str) -> Option<&Value> {
        self.apis()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// APIs whose ownership marker names `link`.
    pub fn owned_apis(&self, link: &str) -> Vec<(&str, &Value)> {
        self.apis()
            .into_iter()
            .filter(|(_, api)| owner(api) == Some(link))
            .collect()
    }

    pub fn owned_environments(&self, link: &str) -> Vec<(&str, &Value)> {
        self.environments()
            .into_iter()
            .filter(|(_, env)| owner(env) == Some(link))
            .collect()
    }

    /// The owned API standing for the APIM entity `source`.
    pub fn owned_api_for(&self, link: &str, source_id: &str) -> Option<(&str, &Value)> {
        self.owned_apis(link)
            .into_iter()
            .find(|(_, api)| source(api) == Some(source_id))
    }

    pub fn owned_counts(&self, link: &str) -> OwnedCounts {
        let apis = self.owned_apis(link);
        let mut counts = OwnedCounts {
            apis: apis.len(),
            environments: self.owned_environments(link).len(),
            ..OwnedCounts::default()
        };
        for (_, api) in apis {
            let versions = versions(api);
            counts.versions += versions.len();
            counts.definitions += versions
                .iter()
                .map(|(_, v)| definitions(v).len())
                .sum::<usize>();
            counts.deployments += deployments(api).len();
        }
        counts
    }

    /// How many owned APIs claim each APIM entity; more than one is a duplicate.
    pub fn sources_of(&self, link: &str) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for (_, api) in self.owned_apis(link) {
            *out.entry(source(api).unwrap_or("<no source>").to_string())
                .or_insert(0) += 1;
        }
        out
    }

    /// Name and etag of every API, environment, version, definition and deployment, to
    /// tell whether anything changed between two snapshots.
    pub fn fingerprint(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let etag = |v: &Value| {
            v.get("etag")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        for (name, env) in self.environments() {
            out.insert(format!("environments/{name}"), etag(env));
        }
        for (name, api) in self.apis() {
            out.insert(format!("apis/{name}"), etag(api));
            for (v, version) in versions(api) {
                out.insert(format!("apis/{name}/versions/{v}"), etag(version));
                for (d, definition) in definitions(version) {
                    out.insert(
                        format!("apis/{name}/versions/{v}/definitions/{d}"),
                        etag(definition),
                    );
                }
            }
            for (d, deployment) in deployments(api) {
                out.insert(format!("apis/{name}/deployments/{d}"), etag(deployment));
            }
        }
        out
    }
}
