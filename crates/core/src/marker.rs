//! The ownership marker: `customProperties["apilink"]` on the entities a link created.
//!
//! On an API the marker is the link's ledger for everything under it (versions,
//! definitions with the hash of the content really imported, deployments). On an
//! environment and a deployment it only names the link. Everything else in
//! `customProperties` belongs to the user.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::LinkId;

/// The reserved key in `customProperties`.
pub const MARKER_KEY: &str = "apilink";

/// Ledger of one owned API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiMarker {
    /// The owning link id.
    pub link: String,
    /// The APIM source key ([`crate::ids::SourceKey`] rendered).
    #[serde(default)]
    pub source: String,
    /// Hash of the APIM-determined state last fully applied; absent until the first
    /// complete pass over this API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_hash: Option<String>,
    #[serde(default)]
    pub versions: BTreeMap<String, VersionMarker>,
}

/// Ledger entry of one owned version.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionMarker {
    #[serde(default)]
    pub definitions: BTreeMap<String, DefinitionMarker>,
}

/// Ledger entry of one owned definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionMarker {
    /// sha256 of the content imported (absent: no content imported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// The owned deployment of this definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
}

impl ApiMarker {
    /// A marker for a freshly created API: owned, but listing nothing yet.
    pub fn new(link: &LinkId, source: &str) -> Self {
        Self {
            link: link.to_string(),
            source: source.to_string(),
            source_hash: None,
            versions: BTreeMap::new(),
        }
    }

    /// The marker as JSON (never fails: the type holds only strings and maps).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Who owns an entity according to its marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership<M> {
    /// The marker names this link.
    Owned(M),
    /// The marker names another link.
    OtherLink(String),
    /// No (readable) marker: the entity belongs to a user.
    Unmarked,
}

impl<M> Ownership<M> {
    pub fn is_owned(&self) -> bool {
        matches!(self, Ownership::Owned(_))
    }

    /// Who the entity belongs to, for messages.
    pub fn owner_label(&self) -> String {
        match self {
            Ownership::Owned(_) => "this link".to_string(),
            Ownership::OtherLink(link) => format!("link {link}"),
            Ownership::Unmarked => "no apilink marker (user-created)".to_string(),
        }
    }
}

fn raw_marker(properties: &Value) -> Option<&Value> {
    properties.get("customProperties")?.get(MARKER_KEY)
}

fn marker_link(raw: &Value) -> Option<&str> {
    raw.get("link").and_then(Value::as_str)
}

/// Reads an API's marker. A marker naming this link whose ledger is unreadable counts as
/// owned with an empty ledger, so the next pass repairs it instead of abandoning the API.
pub fn read_api_marker(properties: &Value, link: &LinkId) -> Ownership<ApiMarker> {
    let Some(raw) = raw_marker(properties) else {
        return Ownership::Unmarked;
    };
    match marker_link(raw) {
        Some(owner) if owner == link.as_str() => {
            let marker = serde_json::from_value::<ApiMarker>(raw.clone()).unwrap_or_else(|_| {
                ApiMarker::new(
                    link,
                    raw.get("source").and_then(Value::as_str).unwrap_or(""),
                )
            });
            Ownership::Owned(marker)
        }
        Some(other) => Ownership::OtherLink(other.to_string()),
        None => Ownership::Unmarked,
    }
}

/// Reads the marker of an environment or deployment.
pub fn read_entity_marker(properties: &Value, link: &LinkId) -> Ownership<()> {
    match raw_marker(properties).and_then(marker_link) {
        Some(owner) if owner == link.as_str() => Ownership::Owned(()),
        Some(other) => Ownership::OtherLink(other.to_string()),
        None => Ownership::Unmarked,
    }
}

/// The marker value put on environments and deployments.
pub fn entity_marker(link: &LinkId) -> Value {
    serde_json::json!({ "link": link.as_str() })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_markers() {
        let link = LinkId::new("ns/a").unwrap();
        let mut marker = ApiMarker::new(&link, "apis/echo");
        marker.source_hash = Some("h".into());
        marker
            .versions
            .entry("v1".into())
            .or_default()
            .definitions
            .insert(
                "openapi".into(),
                DefinitionMarker {
                    content_hash: Some("c".into()),
                    deployment: Some("v1-openapi".into()),
                },
            );
        let props = json!({"customProperties": {"apilink": marker.to_value(), "team": "x"}});
        assert_eq!(read_api_marker(&props, &link), Ownership::Owned(marker));
        let other = LinkId::new("ns/b").unwrap();
        assert_eq!(
            read_api_marker(&props, &other),
            Ownership::OtherLink("ns/a".into())
        );
        assert_eq!(
            read_api_marker(&json!({"title": "t"}), &link),
            Ownership::Unmarked
        );
        assert_eq!(
            read_api_marker(&json!({"customProperties": {"apilink": "oops"}}), &link),
            Ownership::Unmarked
        );
        let broken = json!({"customProperties": {"apilink": {"link": "ns/a", "versions": 7}}});
        match read_api_marker(&broken, &link) {
            Ownership::Owned(m) => assert!(m.versions.is_empty()),
            other => panic!("{other:?}"),
        }
        let env = json!({"customProperties": {"apilink": entity_marker(&link)}});
        assert!(read_entity_marker(&env, &link).is_owned());
        assert!(!read_entity_marker(&env, &other).is_owned());
    }
}
