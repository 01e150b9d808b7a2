//! The operations a plan consists of, executed by the engine in order.

use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

use crate::diff::{FieldChange, owned_changes};
use crate::ids::ApimApiRef;
use crate::json_text::JsonText;
use crate::mapping::SpecKind;
use crate::marker::{ApiMarker, RECORD_KEY};
use crate::observed::SpecificationRef;
use crate::ownership::{
    EntityKind, apim_owned_properties, link_row_changes, merge_for_update, merge_record,
    properties_for_create, set_path,
};
use crate::shared::SHARED_RECORD_PREFIX;

/// What the planner knows about the target of an upsert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Intent {
    /// Known to be absent.
    Create,
    /// Known to exist with APIM-owned fields that differ.
    Update,
    /// Not read this pass (no details): make sure it exists and is up to date.
    Ensure,
}

/// Body of every upsert. The engine GETs the entity right before writing: when absent it
/// PUTs [`Upsert::create_properties`]; when present it PUTs
/// [`merge_for_update`]`(current, `[`Upsert::apim_owned_properties`]`)` with `If-Match`,
/// or writes nothing when that is `None`. [`Upsert::body_for`] does exactly this.
///
/// Both bodies are derived from the entity's desired properties when written, not kept:
/// a plan of thousands of creates would otherwise hold every entity's fields three
/// times (create body, update body, field list).
#[derive(Debug, Clone, PartialEq)]
pub struct Upsert {
    pub intent: Intent,
    entity: EntityKind,
    /// The entity's desired properties (shared with the desired state), with the
    /// ownership record when it travels with both a create and an update.
    desired: JsonText,
    /// The ownership record only a create carries, under its custom property (a new
    /// API's ledger): an API that turned up meanwhile keeps its own.
    create_record: Option<(String, Value)>,
    /// Field-level diff against what was observed, for updates (a create's is derived
    /// from its body, an `Ensure` has none).
    update_changes: Vec<FieldChange>,
}

/// How a plan shows an upsert: both bodies and the field-level diff.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UpsertView<'a> {
    intent: Intent,
    create_properties: Value,
    apim_owned_properties: Value,
    changes: Cow<'a, [FieldChange]>,
}

impl Serialize for Upsert {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        UpsertView {
            intent: self.intent,
            create_properties: self.create_properties(),
            apim_owned_properties: self.apim_owned_properties(),
            changes: self.changes(),
        }
        .serialize(serializer)
    }
}

impl Upsert {
    /// An upsert of `entity` towards `desired`; `current`: the entity as observed, for
    /// an update's diff.
    pub fn new(
        entity: EntityKind,
        intent: Intent,
        desired: JsonText,
        current: Option<&Value>,
    ) -> Self {
        let mut update_changes = Vec::new();
        if intent == Intent::Update {
            let owned = apim_owned_properties(entity, &desired.value());
            update_changes = owned_changes(entity, current, &owned);
            update_changes.extend(link_row_changes(current, &owned));
        }
        Self {
            intent,
            entity,
            desired,
            create_record: None,
            update_changes,
        }
    }

    /// Adds `record` as the entity's ownership record (custom property `key`) to the
    /// create body only.
    pub fn with_create_record(mut self, key: &str, record: Value) -> Self {
        self.create_record = Some((key.to_string(), record));
        self
    }

    /// Adds `record` as the entity's ownership record (custom property `key`) to both
    /// bodies (the diff stays the one of the APIM-owned fields).
    pub fn with_record(mut self, key: &str, record: Value) -> Self {
        self.desired
            .update(|desired| set_path(desired, &["customProperties", key], Some(record)));
        self
    }

    /// The properties a create PUTs: APIM-owned, record and set-on-create fields.
    pub fn create_properties(&self) -> Value {
        let mut properties = properties_for_create(self.entity, &self.desired.value());
        if let Some((key, record)) = &self.create_record {
            set_path(
                &mut properties,
                &["customProperties", key],
                Some(record.clone()),
            );
        }
        properties
    }

    /// The fields an update overwrites (see [`apim_owned_properties`]).
    pub fn apim_owned_properties(&self) -> Value {
        apim_owned_properties(self.entity, &self.desired.value())
    }

    /// The ownership record the create body carries, if any.
    pub fn record_on_create(&self) -> Option<Value> {
        if let Some((_, record)) = &self.create_record {
            return Some(record.clone());
        }
        let Value::Object(custom) = self.desired.get("customProperties")? else {
            return None;
        };
        custom
            .into_iter()
            .find(|(key, _)| key == RECORD_KEY || key.starts_with(SHARED_RECORD_PREFIX))
            .map(|(_, record)| record)
    }

    /// Field-level diff against what was observed: a create lists every field it
    /// writes but the record, an `Ensure` nothing.
    pub fn changes(&self) -> Cow<'_, [FieldChange]> {
        match self.intent {
            Intent::Create => {
                let written = properties_for_create(self.entity, &self.desired.value());
                Cow::Owned(owned_changes(self.entity, None, &written))
            }
            Intent::Update | Intent::Ensure => Cow::Borrowed(&self.update_changes),
        }
    }

    /// The properties to PUT given the entity's current properties (`None`: absent), or
    /// `None` when nothing needs writing.
    pub fn body_for(&self, current: Option<&Value>) -> Option<Value> {
        match current {
            None => Some(self.create_properties()),
            Some(current) => merge_for_update(self.entity, current, &self.apim_owned_properties()),
        }
    }
}

/// One step of a plan. Names are API Center names in the link's target workspace.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Operation {
    EnsureEnvironment {
        name: String,
        #[serde(flatten)]
        upsert: Upsert,
    },
    UpsertApi {
        api: String,
        #[serde(flatten)]
        upsert: Upsert,
    },
    UpsertVersion {
        api: String,
        version: String,
        #[serde(flatten)]
        upsert: Upsert,
    },
    UpsertDefinition {
        api: String,
        version: String,
        definition: String,
        #[serde(flatten)]
        upsert: Upsert,
    },
    /// POST `importSpecification` with the content the engine exported from `export`
    /// this pass, and wait for the long-running operation to finish.
    ImportSpecification {
        api: String,
        version: String,
        definition: String,
        #[serde(serialize_with = "crate::operation::display")]
        export: ApimApiRef,
        /// How `export` is exported (when the document is exported again for the import).
        kind: SpecKind,
        specification: SpecificationRef,
        content_hash: String,
    },
    UpsertDeployment {
        api: String,
        deployment: String,
        #[serde(flatten)]
        upsert: Upsert,
    },
    /// Record `marker` in the API's `customProperties.apilink`
    /// (see [`Operation::marker_body`]).
    WriteApiMarker {
        api: String,
        marker: ApiMarker,
    },
    DeleteDeployment {
        api: String,
        deployment: String,
    },
    DeleteDefinition {
        api: String,
        version: String,
        definition: String,
    },
    DeleteVersion {
        api: String,
        version: String,
    },
    /// Deleting an API deletes its versions, definitions and deployments with it.
    DeleteApi {
        api: String,
    },
    /// Remove the link's own ledger (custom property `key`) from a shared API other
    /// links still serve: the link's last step on an API it no longer serves.
    LeaveSharedApi {
        api: String,
        key: String,
    },
    DeleteEnvironment {
        name: String,
    },
    /// Replace the environment's ownership record with `record`: after every API a
    /// creating pass made is complete, the record without the pass's token.
    WriteEnvironmentRecord {
        name: String,
        record: String,
    },
}

pub(crate) fn display<T: fmt::Display, S: serde::Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// The verb of an operation, for summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    Create,
    Update,
    Ensure,
    Import,
    WriteMarker,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Ensure => "ensure",
            Self::Import => "import",
            Self::WriteMarker => "write-marker",
            Self::Delete => "delete",
        }
    }
}

impl From<Intent> for Action {
    fn from(intent: Intent) -> Self {
        match intent {
            Intent::Create => Action::Create,
            Intent::Update => Action::Update,
            Intent::Ensure => Action::Ensure,
        }
    }
}

impl Operation {
    /// The kind of entity the operation writes.
    pub fn entity(&self) -> EntityKind {
        match self {
            Self::EnsureEnvironment { .. }
            | Self::DeleteEnvironment { .. }
            | Self::WriteEnvironmentRecord { .. } => EntityKind::Environment,
            Self::UpsertApi { .. }
            | Self::WriteApiMarker { .. }
            | Self::DeleteApi { .. }
            | Self::LeaveSharedApi { .. } => EntityKind::Api,
            Self::UpsertVersion { .. } | Self::DeleteVersion { .. } => EntityKind::Version,
            Self::UpsertDefinition { .. }
            | Self::ImportSpecification { .. }
            | Self::DeleteDefinition { .. } => EntityKind::Definition,
            Self::UpsertDeployment { .. } | Self::DeleteDeployment { .. } => EntityKind::Deployment,
        }
    }

    pub fn action(&self) -> Action {
        match self {
            Self::EnsureEnvironment { upsert, .. }
            | Self::UpsertApi { upsert, .. }
            | Self::UpsertVersion { upsert, .. }
            | Self::UpsertDefinition { upsert, .. }
            | Self::UpsertDeployment { upsert, .. } => upsert.intent.into(),
            Self::ImportSpecification { .. } => Action::Import,
            Self::WriteApiMarker { .. }
            | Self::WriteEnvironmentRecord { .. }
            | Self::LeaveSharedApi { .. } => Action::WriteMarker,
            Self::DeleteDeployment { .. }
            | Self::DeleteDefinition { .. }
            | Self::DeleteVersion { .. }
            | Self::DeleteApi { .. }
            | Self::DeleteEnvironment { .. } => Action::Delete,
        }
    }

    /// The API the operation belongs to (`None` for environment operations). When an
    /// operation fails, the engine skips the remaining operations of the same API for
    /// this pass — above all its `WriteApiMarker` — and the next pass plans them again.
    pub fn api(&self) -> Option<&str> {
        match self {
            Self::EnsureEnvironment { .. }
            | Self::DeleteEnvironment { .. }
            | Self::WriteEnvironmentRecord { .. } => None,
            Self::UpsertApi { api, .. }
            | Self::UpsertVersion { api, .. }
            | Self::UpsertDefinition { api, .. }
            | Self::ImportSpecification { api, .. }
            | Self::UpsertDeployment { api, .. }
            | Self::WriteApiMarker { api, .. }
            | Self::DeleteDeployment { api, .. }
            | Self::DeleteDefinition { api, .. }
            | Self::DeleteVersion { api, .. }
            | Self::DeleteApi { api }
            | Self::LeaveSharedApi { api, .. } => Some(api),
        }
    }

    /// The upsert body, for upserts.
    pub fn upsert(&self) -> Option<&Upsert> {
        match self {
            Self::EnsureEnvironment { upsert, .. }
            | Self::UpsertApi { upsert, .. }
            | Self::UpsertVersion { upsert, .. }
            | Self::UpsertDefinition { upsert, .. }
            | Self::UpsertDeployment { upsert, .. } => Some(upsert),
            _ => None,
        }
    }

    /// For `WriteApiMarker` and `WriteEnvironmentRecord`: the properties to PUT given
    /// the entity's current properties, or `None` when the record is already there (or
    /// for other operations).
    pub fn marker_body(&self, current: &Value) -> Option<Value> {
        match self {
            Self::WriteApiMarker { marker, .. } => merge_record(
                EntityKind::Api,
                current,
                &marker.key(),
                Some(&marker.to_value()),
            ),
            Self::LeaveSharedApi { key, .. } => merge_record(EntityKind::Api, current, key, None),
            Self::WriteEnvironmentRecord { record, .. } => merge_record(
                EntityKind::Environment,
                current,
                RECORD_KEY,
                Some(&Value::String(record.clone())),
            ),
            _ => None,
        }
    }

    /// Service-relative path of the entity, e.g. `apis/a/versions/v`.
    pub fn target(&self) -> String {
        match self {
            Self::EnsureEnvironment { name, .. }
            | Self::DeleteEnvironment { name }
            | Self::WriteEnvironmentRecord { name, .. } => format!("environments/{name}"),
            Self::UpsertApi { api, .. }
            | Self::WriteApiMarker { api, .. }
            | Self::DeleteApi { api }
            | Self::LeaveSharedApi { api, .. } => {
                format!("apis/{api}")
            }
            Self::UpsertVersion { api, version, .. } | Self::DeleteVersion { api, version } => {
                format!("apis/{api}/versions/{version}")
            }
            Self::UpsertDefinition {
                api,
                version,
                definition,
                ..
            }
            | Self::ImportSpecification {
                api,
                version,
                definition,
                ..
            }
            | Self::DeleteDefinition {
                api,
                version,
                definition,
            } => format!("apis/{api}/versions/{version}/definitions/{definition}"),
            Self::UpsertDeployment {
                api, deployment, ..
            }
            | Self::DeleteDeployment { api, deployment } => {
                format!("apis/{api}/deployments/{deployment}")
            }
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.action().as_str(),
            self.entity().as_str(),
            self.target()
        )?;
        if let Some(upsert) = self.upsert() {
            for change in upsert.changes().iter() {
                write!(f, "\n    {change}")?;
            }
        }
        Ok(())
    }
}
