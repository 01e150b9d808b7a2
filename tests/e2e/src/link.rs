//! `ApiSourceLink` manifests as users write them, and reading a link's status the way
//! kstatus and people do.

use serde_json::{Value, json};

use crate::emulator::Emulator;

/// Name of the credentials Secret the scenarios' links use.
pub const SECRET: &str = "azure-creds";
pub const API_VERSION: &str = "apilink.dev/v1alpha1";
pub const KIND: &str = "ApiSourceLink";

/// A link manifest.
#[derive(Debug, Clone)]
pub struct LinkManifest {
    pub namespace: String,
    pub name: String,
    pub spec: Value,
}

impl LinkManifest {
    /// A link from the emulator's APIM to its API Center, polling every 5 s, with
    /// credentials from the `azure-creds` Secret of its namespace.
    pub fn new(namespace: &str, name: &str, emulator: &Emulator) -> Self {
        Self::with_ids(namespace, name, &emulator.apim_id, &emulator.apic_id)
    }

    /// The same with explicit resource ids.
    pub fn with_ids(namespace: &str, name: &str, apim_id: &str, apic_id: &str) -> Self {
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
            spec: json!({
                "source": {"apimResourceId": apim_id},
                "target": {"apiCenterResourceId": apic_id},
                "interval": "5s",
                "credentials": {"secretRef": {"name": SECRET}},
            }),
        }
    }

    /// Sets a spec field; `path` is a JSON pointer below `spec` (`/interval`,
    /// `/source/apimResourceId`). Missing parents are created.
    pub fn with(mut self, path: &str, value: Value) -> Self {
        set_pointer(&mut self.spec, path, value);
        self
    }

    /// Removes a spec field (JSON pointer below `spec`).
    pub fn without(mut self, path: &str) -> Self {
        if let Some((parent, key)) = path.rsplit_once('/')
            && let Some(Value::Object(map)) = self.spec.pointer_mut(parent)
        {
            map.remove(key);
        }
        self
    }

    /// `namespace/name`: what the ownership markers in API Center record.
    pub fn id(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    pub fn to_json(&self) -> Value {
        json!({
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": self.spec,
        })
    }

    pub fn yaml(&self) -> String {
        serde_yaml::to_string(&self.to_json()).unwrap_or_default()
    }
}

fn set_pointer(root: &mut Value, path: &str, value: Value) {
    let mut node = root;
    let mut keys = path.trim_start_matches('/').split('/').peekable();
    while let Some(key) = keys.next() {
        if !node.is_object() {
            *node = json!({});
        }
        let Value::Object(map) = node else { return };
        if keys.peek().is_none() {
            map.insert(key.to_string(), value);
            return;
        }
        node = map.entry(key.to_string()).or_insert_with(|| json!({}));
    }
}

/// A condition of a link (as JSON), by type.
pub fn condition<'a>(link: &'a Value, type_: &str) -> Option<&'a Value> {
    link.pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
}

/// `status` of a condition ("True", "False", "Unknown"), if present.
pub fn condition_status<'a>(link: &'a Value, type_: &str) -> Option<&'a str> {
    condition(link, type_).and_then(|c| c["status"].as_str())
}

pub fn condition_reason<'a>(link: &'a Value, type_: &str) -> Option<&'a str> {
    condition(link, type_).and_then(|c| c["reason"].as_str())
}

pub fn condition_message<'a>(link: &'a Value, type_: &str) -> &'a str {
    condition(link, type_)
        .and_then(|c| c["message"].as_str())
        .unwrap_or("")
}

pub fn generation(link: &Value) -> Option<i64> {
    link.pointer("/metadata/generation").and_then(Value::as_i64)
}

pub fn observed_generation(link: &Value) -> Option<i64> {
    link.pointer("/status/observedGeneration")
        .and_then(Value::as_i64)
}

/// True when the status describes the current spec.
pub fn status_current(link: &Value) -> bool {
    generation(link).is_some() && generation(link) == observed_generation(link)
}

/// `Ready=True` for the current generation, with neither `Reconciling` nor `Stalled`.
pub fn is_ready(link: &Value) -> bool {
    status_current(link)
        && condition_status(link, "Ready") == Some("True")
        && condition(link, "Reconciling").is_none()
        && condition(link, "Stalled").is_none()
}

/// `status.apis` as (discovered, synced, skipped).
pub fn api_counts(link: &Value) -> Option<(u64, u64, u64)> {
    let apis = link.pointer("/status/apis")?;
    Some((
        apis["discovered"].as_u64()?,
        apis["synced"].as_u64()?,
        apis["skipped"].as_u64()?,
    ))
}

pub fn finalizers(link: &Value) -> Vec<String> {
    link.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn is_deleting(link: &Value) -> bool {
    link.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// One line a person can read in a failure message.
pub fn describe(link: &Value) -> String {
    let conditions: Vec<String> = link
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    format!(
                        "{}={} ({}: {})",
                        c["type"].as_str().unwrap_or("?"),
                        c["status"].as_str().unwrap_or("?"),
                        c["reason"].as_str().unwrap_or("?"),
                        c["message"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "generation {:?}, observedGeneration {:?}, finalizers {:?}, deleting {}, apis {}, lastHandledReconcileAt {}, conditions [{}]",
        generation(link),
        observed_generation(link),
        finalizers(link),
        is_deleting(link),
        link.pointer("/status/apis")
            .map(Value::to_string)
            .unwrap_or_else(|| "-".into()),
        link.pointer("/status/lastHandledReconcileAt")
            .map(Value::to_string)
            .unwrap_or_else(|| "-".into()),
        conditions.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_and_without_edit_the_spec() {
        let link = LinkManifest::with_ids("ns", "l", "/a", "/b")
            .with("/interval", json!("10m"))
            .with("/credentials/secretRef/namespace", json!("other"))
            .without("/target/apiCenterResourceId");
        assert_eq!(link.spec["interval"], "10m");
        assert_eq!(link.spec["credentials"]["secretRef"]["namespace"], "other");
        assert_eq!(link.spec["credentials"]["secretRef"]["name"], SECRET);
        assert!(link.spec["target"].get("apiCenterResourceId").is_none());
        assert_eq!(link.id(), "ns/l");
    }
}
