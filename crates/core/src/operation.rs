//! The operations a plan consists of, executed by the engine in order.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::diff::FieldChange;
use crate::ids::ApimApiRef;
use crate::marker::{ApiMarker, RECORD_KEY};
use crate::observed::SpecificationRef;
use crate::ownership::{EntityKind, merge_for_update, merge_record};

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
/// PUTs `create_properties`; when present it PUTs
/// [`merge_for_update`]`(current, apim_owned_properties)` with `If-Match`, or writes
/// nothing when that is `None`. [`Upsert::body_for`] does exactly this.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Upsert {
    pub intent: Intent,
    pub create_properties: Value,
    pub apim_owned_properties: Value,
    /// Field-level diff against what was observed (empty for `Ensure`).
    pub changes: Vec<FieldChange>,
}

impl Upsert {
    /// The properties to PUT given the entity's current properties (`None`: absent), or
    /// `None` when nothing needs writing.
    pub fn body_for(&self, entity: EntityKind, current: Option<&Value>) -> Option<Value> {
        match current {
            None => Some(self.create_properties.clone()),
            Some(current) => merge_for_update(entity, current, &self.apim_owned_properties),
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
            for change in &upsert.changes {
                write!(f, "\n    {change}")?;
            }
        }
        Ok(())
    }
}
