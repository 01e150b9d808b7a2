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

/// The custom property holding an entity's ownership record.
pub const RECORD_KEY: &str = "apilink-ownership";

/// On an API several links share (`spec.apiIdentity.scope: Shared`), each link's record
/// lives in a custom property of its own: this prefix and 8 hex digits of the link id.
pub const SHARED_RECORD_PREFIX: &str = "apilink-ownership-";

/// One `key=value` token of an ownership record (`apilink/2 link=ns/name src=apis/echo …`).
fn token<'a>(record: &'a str, key: &str) -> Option<&'a str> {
    record
        .split(' ')
        .find_map(|token| token.strip_prefix(key)?.strip_prefix('='))
}

/// One `key=value` token of an entity's ownership record
/// (`customProperties.apilink-ownership`, e.g. `apilink/2 link=ns/name src=apis/echo …`).
fn record_token<'a>(node: &'a Value, key: &str) -> Option<&'a str> {
    token(
        node.pointer("/properties/customProperties")?
            .get(RECORD_KEY)?
            .as_str()?,
        key,
    )
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

/// The links' records on a shared API, keyed by the custom property each lives in
/// (`apilink-ownership-{8 hex of the link id}`).
pub fn shared_records(api: &Value) -> BTreeMap<&str, &str> {
    api.pointer("/properties/customProperties")
        .and_then(Value::as_object)
        .map(|custom| {
            custom
                .iter()
                .filter(|(key, _)| key.starts_with(SHARED_RECORD_PREFIX))
                .filter_map(|(key, value)| Some((key.as_str(), value.as_str()?)))
                .collect()
        })
        .unwrap_or_default()
}

/// `link`'s record on a shared API: its property name and the record.
pub fn shared_record<'a>(api: &'a Value, link: &str) -> Option<(&'a str, &'a str)> {
    shared_records(api)
        .into_iter()
        .find(|(_, record)| token(record, "link") == Some(link))
}

/// The links (`namespace/name`) with a record on a shared API.
pub fn sharing_links(api: &Value) -> Vec<&str> {
    shared_records(api)
        .into_values()
        .filter_map(|record| token(record, "link"))
        .collect()
}

/// What `link`'s record on a shared API says of its share: `{environment kind}/{identity}`.
pub fn share_of<'a>(api: &'a Value, link: &str) -> Option<&'a str> {
    token(shared_record(api, link)?.1, "shared")
}

/// The APIM entity `link`'s record on a shared API stands for (`apis/echo`).
pub fn shared_source<'a>(api: &'a Value, link: &str) -> Option<&'a str> {
    token(shared_record(api, link)?.1, "src")
}

/// Names of an API's deployments, by the environment each points at (the environment's
/// name, the last segment of `environmentId`).
pub fn deployments_by_environment(api: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, deployment) in deployments(api) {
        let environment = property(deployment, "environmentId")
            .and_then(Value::as_str)
            .and_then(|id| id.trim_end_matches('/').rsplit('/').next())
            .unwrap_or("<no environment>");
        out.entry(environment.to_string())
            .or_default()
            .push(name.to_string());
    }
    out
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

    /// APIs on which `link` has a record of its share (`spec.apiIdentity.scope: Shared`).
    pub fn shared_apis(&self, link: &str) -> Vec<(&str, &Value)> {
        self.apis()
            .into_iter()
            .filter(|(_, api)| shared_record(api, link).is_some())
            .collect()
    }

    /// Every API a record of any link says stands for the APIM entity `source`: one
    /// per logical API when the links share it, more is a duplicate.
    pub fn apis_for_source(&self, source_id: &str) -> Vec<(&str, &Value)> {
        self.apis()
            .into_iter()
            .filter(|(_, api)| {
                source(api) == Some(source_id)
                    || shared_records(api)
                        .into_values()
                        .any(|record| token(record, "src") == Some(source_id))
            })
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn shared_records_are_read_per_link() {
        let api = json!({"properties": {"customProperties": {
            "apilink-ownership-69f0906b": "apilink/2 link=ns/prod shared=production/echo src=apis/echo sh=1 original/openapi-3fa9@3fa9+",
            "apilink-ownership-da38360a": "apilink/2 link=ns/dev shared=development/echo src=apis/echo",
            "team": "payments",
        }}});
        assert_eq!(sharing_links(&api), ["ns/prod", "ns/dev"]);
        assert_eq!(share_of(&api, "ns/dev"), Some("development/echo"));
        assert_eq!(shared_source(&api, "ns/prod"), Some("apis/echo"));
        assert_eq!(shared_record(&api, "ns/other"), None);
        assert_eq!(owner(&api), None, "a shared API has no link-scoped record");
        let snap =
            ApicSnapshot(json!({"workspaces": {"default": {"apis": {"echo-77d011cc": api}}}}));
        assert_eq!(snap.apis_for_source("apis/echo").len(), 1);
        assert_eq!(snap.shared_apis("ns/dev").len(), 1);
        assert!(snap.owned_apis("ns/dev").is_empty());
    }

    #[test]
    fn deployments_are_grouped_by_environment() {
        let env = |name: &str| json!({"properties": {"environmentId": format!("/workspaces/default/environments/{name}")}});
        let api = json!({"deployments": {"a": env("prod"), "b": env("dev"), "c": env("prod")}});
        let grouped = deployments_by_environment(&api);
        assert_eq!(grouped["prod"], ["a", "c"]);
        assert_eq!(grouped["dev"], ["b"]);
    }
}
