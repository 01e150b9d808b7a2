//! The ownership record: `customProperties["apilink-ownership"]` on the entities a link
//! created, declared by the metadata schema [`ownership_schema`] (API Center refuses an
//! undeclared custom property when it reads its contract strictly).
//!
//! The record is one compact string, so it stays one custom property of the twenty an
//! entity may have and never an object over the ten-member limit, whatever the number of
//! versions and definitions (`docs/ownership-record.md` has the grammar):
//!
//! ```text
//! API:                      apilink/2 link=team/payments src=apis/echo-api sh=3f2a… c=5e1d… v1/openapi@9abc…+ v2
//! environment:              apilink/2 link=team/payments [c=5e1d…]
//! deployment:               apilink/2 link=team/payments
//! ```
//!
//! `c=` ties the APIs a pass creates to that pass: such an API is created with its whole
//! ledger in the same request, before its children exist, so while the pass runs the
//! environment's record carries the same token and the next pass reads those APIs'
//! children if the token is still there (the pass died before clearing it).
//!
//! On an API the record is the link's ledger of what lies under it: each version, its
//! definition (`/def`), the first 16 hex digits of the content really imported (`@hash`)
//! and whether the definition's deployment is in place (`+`). Everything else in
//! `customProperties` belongs to the user.
//!
//! Records written before this form (`customProperties["apilink"]`, a JSON object) are
//! still read; the planner rewrites them once in the new form ([`Ownership::Owned`] with
//! [`RecordForm::Legacy`]).

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::hash::short_hash;
use crate::ids::{LinkId, SourceKey};
use crate::naming::{api_name, deployment_name};

/// The custom property holding the record, and the name of its metadata schema.
pub const RECORD_KEY: &str = "apilink-ownership";
/// The custom property of records written before the declared form.
pub const LEGACY_MARKER_KEY: &str = "apilink";
/// The first token of every record in the current form.
pub const RECORD_HEADER: &str = "apilink/2";
/// Hex digits of a hash kept in a record: enough to notice a change, short enough to
/// keep the record small.
pub const RECORDED_HASH_LEN: usize = 16;

/// Kept as-is in `src=`; everything else is percent-encoded so a token never holds a
/// space (APIM ids may contain almost anything).
const SOURCE_ESCAPES: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'"');
/// An identity (an APIM id or path) is kept with `/` escaped too, so the kind before
/// the first `/` reads back unambiguously.
const SHARED_ESCAPES: &AsciiSet = &SOURCE_ESCAPES.add(b'/');

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
    /// The token of the pass that created the API with its ledger (`c=`), or on the
    /// environment the token of a creating pass still under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// On an API several links share: this link's share of it (`shared=`), see
    /// [`crate::shared`]. Such a record lives under the link's own key
    /// ([`crate::shared::shared_record_key`]), never under [`RECORD_KEY`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<SharedShare>,
    #[serde(default)]
    pub versions: BTreeMap<String, VersionMarker>,
}

/// What a link's record on a shared API says of its share: the kind of the link's
/// environment (which decides who writes the API's own fields) and the identity the
/// API's name derives from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedShare {
    pub environment_kind: String,
    pub identity: String,
}

impl SharedShare {
    /// `{kind}/{identity}`, the identity percent-encoded.
    fn encode(&self) -> String {
        let identity: String = utf8_percent_encode(&self.identity, SHARED_ESCAPES).collect();
        format!("{}/{identity}", self.environment_kind)
    }

    fn decode(text: &str) -> Option<Self> {
        let (kind, identity) = text.split_once('/')?;
        Some(Self {
            environment_kind: kind.to_string(),
            identity: percent_decode_str(identity)
                .decode_utf8()
                .ok()?
                .into_owned(),
        })
    }
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
    /// Hash (or its first [`RECORDED_HASH_LEN`] digits) of the content imported
    /// (absent: no content imported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// The owned deployment of this definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
}

/// The part of a hash a record keeps.
pub fn recorded_hash(full: &str) -> String {
    full.chars().take(RECORDED_HASH_LEN).collect()
}

/// Whether a recorded hash (possibly shortened, possibly a whole legacy hash) stands for
/// `full`.
pub fn hash_matches(recorded: Option<&str>, full: &str) -> bool {
    recorded.is_some_and(|r| {
        let r = r.get(..RECORDED_HASH_LEN.min(r.len())).unwrap_or(r);
        r.len() == RECORDED_HASH_LEN.min(full.len()) && full.starts_with(r)
    })
}

impl ApiMarker {
    /// A record for a freshly created API: owned, but listing nothing yet.
    pub fn new(link: &LinkId, source: &str) -> Self {
        Self {
            link: link.to_string(),
            source: source.to_string(),
            source_hash: None,
            created_by: None,
            shared: None,
            versions: BTreeMap::new(),
        }
    }

    /// The custom property this record lives under: the link's own key on a shared API,
    /// [`RECORD_KEY`] otherwise.
    pub fn key(&self) -> String {
        match &self.shared {
            Some(_) => crate::shared::shared_record_key_of(&self.link),
            None => RECORD_KEY.to_string(),
        }
    }

    /// The name of the deployment of `definition` under `version` this record stands for.
    fn deployment_of(&self, version: &str, definition: &str) -> String {
        match &self.shared {
            Some(_) => crate::shared::shared_deployment_name_of(&self.link, version),
            None => deployment_name(version, definition),
        }
    }

    /// The record to leave on an API whose creating pass could not finish it: the same
    /// ledger without the source hash, so the next light pass reads its children and
    /// repairs what is missing (as for any API whose APIM side changed).
    pub fn unconfirmed(&self) -> Self {
        Self {
            source_hash: None,
            ..self.clone()
        }
    }

    /// The record as written: the compact string form, hashes shortened.
    pub fn encode(&self) -> String {
        let mut out = format!("{RECORD_HEADER} link={}", self.link);
        if let Some(shared) = &self.shared {
            out.push_str(" shared=");
            out.push_str(&shared.encode());
        }
        if !self.source.is_empty() {
            out.push_str(" src=");
            out.extend(utf8_percent_encode(&self.source, SOURCE_ESCAPES));
        }
        if let Some(hash) = &self.source_hash {
            out.push_str(" sh=");
            out.push_str(&recorded_hash(hash));
        }
        if let Some(token) = &self.created_by {
            out.push_str(" c=");
            out.push_str(token);
        }
        for (version, entry) in &self.versions {
            if entry.definitions.is_empty() {
                out.push(' ');
                out.push_str(version);
            }
            for (definition, def) in &entry.definitions {
                out.push(' ');
                out.push_str(version);
                out.push('/');
                out.push_str(definition);
                if let Some(hash) = &def.content_hash {
                    out.push('@');
                    out.push_str(&recorded_hash(hash));
                }
                if def.deployment.is_some() {
                    out.push('+');
                }
            }
        }
        out
    }

    /// The record as a custom property value.
    pub fn to_value(&self) -> Value {
        Value::String(self.encode())
    }

    /// Parses the compact form; `None` when it is not a current-form record.
    pub fn decode(text: &str) -> Option<Self> {
        let mut tokens = text.split(' ').filter(|t| !t.is_empty());
        if tokens.next()? != RECORD_HEADER {
            return None;
        }
        let mut marker = ApiMarker {
            link: String::new(),
            source: String::new(),
            source_hash: None,
            created_by: None,
            shared: None,
            versions: BTreeMap::new(),
        };
        for token in tokens {
            if let Some(link) = token.strip_prefix("link=") {
                marker.link = link.to_string();
            } else if let Some(shared) = token.strip_prefix("shared=") {
                marker.shared = SharedShare::decode(shared);
            } else if let Some(source) = token.strip_prefix("src=") {
                marker.source = percent_decode_str(source).decode_utf8().ok()?.into_owned();
            } else if let Some(hash) = token.strip_prefix("sh=") {
                marker.source_hash = Some(hash.to_string());
            } else if let Some(pass) = token.strip_prefix("c=") {
                marker.created_by = Some(pass.to_string());
            } else if token.contains('=') {
                // A key this version does not know (a later form): keep reading.
                continue;
            } else {
                marker.add_child(token);
            }
        }
        (!marker.link.is_empty()).then_some(marker)
    }

    fn add_child(&mut self, token: &str) {
        let (version, rest) = match token.split_once('/') {
            Some((version, rest)) => (version, Some(rest)),
            None => (token, None),
        };
        let Some(rest) = rest else {
            self.versions.entry(version.to_string()).or_default();
            return;
        };
        let (rest, deployed) = match rest.strip_suffix('+') {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        let (definition, hash) = match rest.split_once('@') {
            Some((definition, hash)) => (definition, Some(hash.to_string())),
            None => (rest, None),
        };
        let deployment = deployed.then(|| self.deployment_of(version, definition));
        self.versions
            .entry(version.to_string())
            .or_default()
            .definitions
            .insert(
                definition.to_string(),
                DefinitionMarker {
                    content_hash: hash,
                    deployment,
                },
            );
    }

    /// Reads a record written before the declared form (a JSON object) naming `owner`;
    /// an unreadable ledger reads as empty, keeping what it says of the source.
    fn from_legacy(raw: &Value, owner: &str) -> Self {
        serde_json::from_value::<ApiMarker>(raw.clone()).unwrap_or_else(|_| ApiMarker {
            link: owner.to_string(),
            source: raw
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            source_hash: None,
            created_by: None,
            shared: None,
            versions: BTreeMap::new(),
        })
    }
}

/// Which form an owned entity's record has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordForm {
    /// `customProperties["apilink-ownership"]`, the compact string.
    Current,
    /// `customProperties["apilink"]`, the undeclared JSON object of earlier versions:
    /// rewritten once in the current form.
    Legacy,
}

/// Who owns an entity according to its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership<M> {
    /// The record names this link.
    Owned(M),
    /// A shared API other links serve and this link, sharing the same identity, may
    /// join (only for a link whose APIs are shared).
    Joinable,
    /// The record names another link.
    OtherLink(String),
    /// The record names this link, but the entity's name is not the one the link derives
    /// for the record's source: a copy of a record (a portal copy, an export/import
    /// script). Foreign: never written or deleted.
    Copied,
    /// No (readable) record: the entity belongs to a user.
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
            Ownership::Joinable => "other links sharing it".to_string(),
            Ownership::OtherLink(link) => format!("link {link}"),
            Ownership::Copied => {
                "nobody: it carries a copy of this link's ownership record under a name the link never gives".to_string()
            }
            Ownership::Unmarked => "no apilink ownership record (user-created)".to_string(),
        }
    }
}

pub(crate) fn custom_property<'a>(properties: &'a Value, key: &str) -> Option<&'a Value> {
    properties.get("customProperties")?.get(key)
}

/// An entity's record, read once: the current form decoded, or a legacy object.
fn read_record(properties: &Value) -> Option<(ApiMarker, RecordForm)> {
    if let Some(text) = custom_property(properties, RECORD_KEY).and_then(Value::as_str) {
        return ApiMarker::decode(text).map(|m| (m, RecordForm::Current));
    }
    let legacy = custom_property(properties, LEGACY_MARKER_KEY)?;
    let owner = legacy.get("link").and_then(Value::as_str)?;
    Some((ApiMarker::from_legacy(legacy, owner), RecordForm::Legacy))
}

/// Reads the record of the API named `name`. It is the link's only when the record
/// names the link and `name` is the name the link derives for the record's source, so a
/// record copied onto another API never makes that API the link's. A record naming this
/// link whose ledger is unreadable (but whose source is) counts as owned with an empty
/// ledger, so the next pass repairs it instead of abandoning the API.
pub fn read_api_marker(
    name: &str,
    properties: &Value,
    link: &LinkId,
) -> Ownership<(ApiMarker, RecordForm)> {
    let Some((marker, form)) = read_record(properties) else {
        return Ownership::Unmarked;
    };
    if marker.link != link.as_str() {
        return Ownership::OtherLink(marker.link);
    }
    let derived = marker
        .source
        .parse::<SourceKey>()
        .ok()
        .map(|s| api_name(link, &s));
    if derived.as_deref() != Some(name) {
        return Ownership::Copied;
    }
    Ownership::Owned((marker, form))
}

/// Reads the record of an environment or deployment.
pub fn read_entity_marker(properties: &Value, link: &LinkId) -> Ownership<RecordForm> {
    match read_record(properties) {
        Some((record, form)) if record.link == link.as_str() => Ownership::Owned(form),
        Some((record, _)) => Ownership::OtherLink(record.link),
        None => Ownership::Unmarked,
    }
}

/// The record value put on environments and deployments.
pub fn entity_marker(link: &LinkId) -> Value {
    Value::String(format!("{RECORD_HEADER} link={}", link.as_str()))
}

/// The environment's record while the creating pass `token` is under way.
pub fn creating_environment_record(link: &LinkId, token: &str) -> Value {
    Value::String(format!("{RECORD_HEADER} link={} c={token}", link.as_str()))
}

/// The creating pass an entity's record names (`c=`), if any.
pub fn creating_pass(properties: &Value) -> Option<String> {
    read_record(properties).and_then(|(record, _)| record.created_by)
}

/// Hex digits of a creating pass's token.
const PASS_TOKEN_LEN: usize = 10;

/// The token of a pass that creates the APIs `names`: derived from them, so planning
/// stays a pure function and a pass that is re-planned after a crash before it wrote
/// anything gets the same token.
pub fn creating_pass_token<'a>(link: &LinkId, names: impl IntoIterator<Item = &'a str>) -> String {
    let mut parts: Vec<&str> = names.into_iter().collect();
    parts.push(link.as_str());
    short_hash(&parts, PASS_TOKEN_LEN)
}

/// The `customProperties` members the link writes on its entities: its record, and the
/// removal (`null`) of a legacy record.
pub fn record_properties(record: Value) -> Value {
    json!({ RECORD_KEY: record, LEGACY_MARKER_KEY: null })
}

/// The metadata schema that declares the record: a string assigned (not required) to
/// APIs, environments and deployments. Its pattern admits the keys later forms may add
/// (`shared=`, `c=`), so the schema never has to change under people who rely on it.
pub fn ownership_schema() -> Value {
    let document = json!({
        "type": "string",
        "title": "apilink ownership",
        "description": "Written by apilink: which link created this entity and, on APIs, what it synced (versions, definitions, content hashes). Do not edit or copy it.",
        "pattern": RECORD_PATTERN,
    });
    json!({
        "schema": document.to_string(),
        "assignedTo": [
            {"entity": "api", "required": false, "deprecated": false},
            {"entity": "environment", "required": false, "deprecated": false},
            {"entity": "deployment", "required": false, "deprecated": false},
        ],
    })
}

/// The record grammar as a JSON Schema `pattern` (ECMA-262).
pub const RECORD_PATTERN: &str = r"^apilink/2( (link|shared|src|sh|c)=[^ ]+)+( [A-Za-z0-9-]+(/[A-Za-z0-9-]+(@[0-9a-f]+)?\+?)?)*$";

/// The entity kinds the ownership schema must be assigned to.
pub const RECORD_ENTITIES: [&str; 3] = ["api", "environment", "deployment"];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample(link: &LinkId) -> ApiMarker {
        let mut marker = ApiMarker::new(link, "workspaces/team a/apis/echo%api");
        marker.source_hash = Some("0123456789abcdef0123456789abcdef".into());
        marker.versions.entry("v0".into()).or_default();
        marker
            .versions
            .entry("v1".into())
            .or_default()
            .definitions
            .insert(
                "openapi".into(),
                DefinitionMarker {
                    content_hash: Some("fedcba9876543210fedcba".into()),
                    deployment: Some(deployment_name("v1", "openapi")),
                },
            );
        marker
            .versions
            .entry("v2".into())
            .or_default()
            .definitions
            .insert("wsdl".into(), DefinitionMarker::default());
        marker
    }

    #[test]
    fn records_round_trip_in_compact_form() {
        let link = LinkId::new("ns/a").unwrap();
        let marker = sample(&link);
        let text = marker.encode();
        assert_eq!(
            text,
            "apilink/2 link=ns/a src=workspaces/team%20a/apis/echo%25api sh=0123456789abcdef v0 v1/openapi@fedcba9876543210+ v2/wsdl"
        );
        let back = ApiMarker::decode(&text).unwrap();
        assert_eq!(back.source, marker.source);
        assert_eq!(back.versions.len(), 3);
        assert_eq!(back.encode(), text, "decode∘encode is stable");
        assert!(regex::Regex::new(RECORD_PATTERN).unwrap().is_match(&text));
        assert!(
            regex::Regex::new(RECORD_PATTERN)
                .unwrap()
                .is_match(entity_marker(&link).as_str().unwrap())
        );
    }

    #[test]
    fn record_size_grows_by_a_few_dozen_bytes_per_version() {
        let link = LinkId::new("platform/payments-prod").unwrap();
        let mut marker = ApiMarker::new(&link, "apiVersionSets/payments");
        marker.source_hash = Some("a".repeat(64));
        for i in 0..100 {
            marker
                .versions
                .entry(format!("v{i}"))
                .or_default()
                .definitions
                .insert(
                    "openapi".into(),
                    DefinitionMarker {
                        content_hash: Some("b".repeat(64)),
                        deployment: Some("x".into()),
                    },
                );
        }
        assert!(marker.encode().len() < 100 * 32 + 100);
    }

    #[test]
    fn hashes_match_by_prefix_only_when_long_enough() {
        let full = "0123456789abcdef0123456789abcdef";
        assert!(hash_matches(Some("0123456789abcdef"), full));
        assert!(hash_matches(Some(full), full), "a legacy whole hash");
        assert!(!hash_matches(Some("0123"), full));
        assert!(!hash_matches(Some("1123456789abcdef"), full));
        assert!(!hash_matches(None, full));
    }

    #[test]
    fn reads_current_and_legacy_records() {
        let link = LinkId::new("ns/a").unwrap();
        let other = LinkId::new("ns/b").unwrap();
        let marker = sample(&link);
        let name = |source: &str| api_name(&link, &source.parse().unwrap());
        let sample_name = name(&marker.source);
        let props = json!({"customProperties": {RECORD_KEY: marker.encode(), "team": "x"}});
        match read_api_marker(&sample_name, &props, &link) {
            Ownership::Owned((m, RecordForm::Current)) => assert_eq!(m.encode(), marker.encode()),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            read_api_marker(&sample_name, &props, &other),
            Ownership::OtherLink("ns/a".into())
        );
        let legacy = json!({"customProperties": {"apilink": {"link": "ns/a", "source": "apis/echo",
            "sourceHash": "h", "versions": {"v1": {"definitions": {"openapi": {"contentHash": "c", "deployment": "d"}}}}}}});
        match read_api_marker(&name("apis/echo"), &legacy, &link) {
            Ownership::Owned((m, RecordForm::Legacy)) => {
                assert_eq!(m.source, "apis/echo");
                assert_eq!(
                    m.versions["v1"].definitions["openapi"]
                        .content_hash
                        .as_deref(),
                    Some("c")
                );
            }
            other => panic!("{other:?}"),
        }
        for unmarked in [
            json!({"title": "t"}),
            json!({"customProperties": {"apilink": "oops"}}),
            json!({"customProperties": {RECORD_KEY: "something else"}}),
        ] {
            assert_eq!(
                read_api_marker(&sample_name, &unmarked, &link),
                Ownership::Unmarked
            );
        }
        let broken = json!({"customProperties": {"apilink": {"link": "ns/a", "source": "apis/echo", "versions": 7}}});
        match read_api_marker(&name("apis/echo"), &broken, &link) {
            Ownership::Owned((m, _)) => assert!(m.versions.is_empty()),
            other => panic!("{other:?}"),
        }
        let env = json!({"customProperties": {RECORD_KEY: entity_marker(&link)}});
        assert_eq!(
            read_entity_marker(&env, &link),
            Ownership::Owned(RecordForm::Current)
        );
        assert!(!read_entity_marker(&env, &other).is_owned());
        let legacy_env = json!({"customProperties": {"apilink": {"link": "ns/a"}}});
        assert_eq!(
            read_entity_marker(&legacy_env, &link),
            Ownership::Owned(RecordForm::Legacy)
        );
    }

    #[test]
    fn a_copied_record_does_not_make_an_api_the_link_s() {
        let link = LinkId::new("ns/a").unwrap();
        let marker = sample(&link);
        let props = json!({"customProperties": {RECORD_KEY: marker.encode()}});
        assert_eq!(
            read_api_marker("my-own-copy-of-echo", &props, &link),
            Ownership::Copied
        );
        let legacy =
            json!({"customProperties": {"apilink": {"link": "ns/a", "source": "apis/echo"}}});
        assert_eq!(
            read_api_marker("echo-copy", &legacy, &link),
            Ownership::Copied
        );
        let no_source = json!({"customProperties": {RECORD_KEY: "apilink/2 link=ns/a"}});
        assert_eq!(
            read_api_marker("anything", &no_source, &link),
            Ownership::Copied
        );
        assert!(!Ownership::<()>::Copied.is_owned());
    }

    #[test]
    fn unknown_keys_of_a_later_form_are_skipped() {
        let m =
            ApiMarker::decode("apilink/2 link=ns/a shared=name:echo c=0011 v1/openapi").unwrap();
        assert_eq!(m.link, "ns/a");
        assert!(m.versions["v1"].definitions.contains_key("openapi"));
    }

    #[test]
    fn the_schema_declares_a_string_for_the_three_entities() {
        let schema = ownership_schema();
        let document: Value = serde_json::from_str(schema["schema"].as_str().unwrap()).unwrap();
        assert_eq!(document["type"], "string");
        let entities: Vec<&str> = schema["assignedTo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["entity"].as_str().unwrap())
            .collect();
        assert_eq!(entities, RECORD_ENTITIES);
    }
}
