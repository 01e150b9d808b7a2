//! The desired API Center state of one link, as derived from APIM by [`crate::mapping`].
//!
//! Each entity carries its full desired `properties` (APIM-owned and set-on-create
//! fields); [`crate::ownership`] picks what goes into a create or an update. The
//! properties of APIs and their children are kept as text ([`JsonText`]) and shared with
//! the upserts planned for them, so a desired state or a plan of thousands of entities
//! holds each entity's fields once, in the bytes their JSON takes.

use serde_json::Value;

use crate::json_text::JsonText;

use crate::ids::{ApimApiRef, SourceKey};
use crate::mapping::SpecKind;
use crate::marker::SharedShare;
use crate::plan::Warning;

/// Everything the link wants in API Center.
#[derive(Debug, Clone)]
pub struct DesiredState {
    pub environment: DesiredEnvironment,
    /// Sorted by name, names unique.
    pub apis: Vec<DesiredApi>,
    /// Mapping problems (long runtime URIs, name collisions, missing gateway).
    pub warnings: Vec<Warning>,
    /// APIs (current revisions) APIM listed in the link's scopes before the filter: zero
    /// means APIM answered an empty list, which the deletion guard distrusts.
    pub apim_apis_listed: usize,
}

/// The link's environment.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredEnvironment {
    pub name: String,
    pub properties: Value,
}

/// One API (a plain APIM API or a version set).
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredApi {
    pub name: String,
    pub source: SourceKey,
    /// Its share when the link shares its APIs with other links (see [`crate::shared`]).
    pub share: Option<SharedShare>,
    /// Without the marker: the planner adds it on create and writes it separately.
    pub properties: JsonText,
    /// Sorted by name, names unique.
    pub versions: Vec<DesiredVersion>,
    /// Hash of everything APIM determines for this API (incl. revisions), recorded in the
    /// marker as `sourceHash`.
    pub source_hash: String,
}

/// One version (one current APIM API).
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredVersion {
    pub name: String,
    /// The APIM API whose current revision this version stands for (export key).
    pub source: ApimApiRef,
    pub api_revision: Option<String>,
    pub properties: JsonText,
    /// Absent for API types without a definition (websocket, odata).
    pub definition: Option<DesiredDefinition>,
}

/// The version's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredDefinition {
    pub name: String,
    pub kind: SpecKind,
    pub properties: JsonText,
    pub deployment: DesiredDeployment,
}

/// The definition's deployment in the link's environment.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredDeployment {
    pub name: String,
    pub properties: JsonText,
}
