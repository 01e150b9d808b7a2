//! The nested resource kinds of a Microsoft.ApiCenter service and their wire names.

/// ARM type of the service itself.
pub(crate) const SERVICE_TYPE: &str = "Microsoft.ApiCenter/services";

/// Region reported for services and used in LRO status URLs.
pub(crate) const LOCATION: &str = "eastus";

/// A resource kind below a service. The order is the order children appear in snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Workspace,
    Api,
    Version,
    Definition,
    Deployment,
    Environment,
    MetadataSchema,
}

impl Kind {
    pub(crate) const ALL: [Kind; 7] = [
        Kind::Workspace,
        Kind::Api,
        Kind::Version,
        Kind::Definition,
        Kind::Deployment,
        Kind::Environment,
        Kind::MetadataSchema,
    ];

    /// The collection segment in a resource path.
    pub(crate) fn segment(self) -> &'static str {
        match self {
            Kind::Workspace => "workspaces",
            Kind::Api => "apis",
            Kind::Version => "versions",
            Kind::Definition => "definitions",
            Kind::Deployment => "deployments",
            Kind::Environment => "environments",
            Kind::MetadataSchema => "metadataSchemas",
        }
    }

    /// The kind this one lives under; `None` means directly under the service.
    pub(crate) fn parent(self) -> Option<Kind> {
        match self {
            Kind::Workspace | Kind::MetadataSchema => None,
            Kind::Api | Kind::Environment => Some(Kind::Workspace),
            Kind::Version | Kind::Deployment => Some(Kind::Api),
            Kind::Definition => Some(Kind::Version),
        }
    }

    /// The nested ARM type string, e.g. `Microsoft.ApiCenter/services/workspaces/apis`.
    pub(crate) fn type_string(self) -> &'static str {
        match self {
            Kind::Workspace => "Microsoft.ApiCenter/services/workspaces",
            Kind::Api => "Microsoft.ApiCenter/services/workspaces/apis",
            Kind::Version => "Microsoft.ApiCenter/services/workspaces/apis/versions",
            Kind::Definition => "Microsoft.ApiCenter/services/workspaces/apis/versions/definitions",
            Kind::Deployment => "Microsoft.ApiCenter/services/workspaces/apis/deployments",
            Kind::Environment => "Microsoft.ApiCenter/services/workspaces/environments",
            Kind::MetadataSchema => "Microsoft.ApiCenter/services/metadataSchemas",
        }
    }

    /// Human label used in error messages.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Kind::Workspace => "workspace",
            Kind::Api => "API",
            Kind::Version => "API version",
            Kind::Definition => "API definition",
            Kind::Deployment => "deployment",
            Kind::Environment => "environment",
            Kind::MetadataSchema => "metadata schema",
        }
    }

    /// The path parameter name the REST specification gives this kind's name.
    pub(crate) fn param_name(self) -> &'static str {
        match self {
            Kind::Workspace => "workspaceName",
            Kind::Api => "apiName",
            Kind::Version => "versionName",
            Kind::Definition => "definitionName",
            Kind::Deployment => "deploymentName",
            Kind::Environment => "environmentName",
            Kind::MetadataSchema => "metadataSchemaName",
        }
    }

    /// The kind whose collection is named `segment` under `parent` (ARM matches case-insensitively).
    pub(crate) fn from_segment(parent: Option<Kind>, segment: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|kind| kind.parent() == parent && kind.segment().eq_ignore_ascii_case(segment))
    }

    /// Kinds that live directly under this one.
    pub(crate) fn children(parent: Option<Kind>) -> impl Iterator<Item = Kind> {
        Kind::ALL
            .into_iter()
            .filter(move |kind| kind.parent() == parent)
    }

    /// The `assignedTo.entity` value metadata schemas use for this kind, if they can target it.
    pub(crate) fn metadata_entity(self) -> Option<&'static str> {
        match self {
            Kind::Api => Some("api"),
            Kind::Environment => Some("environment"),
            Kind::Deployment => Some("deployment"),
            _ => None,
        }
    }
}
