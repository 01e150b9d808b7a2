//! The Azure side of a pass: every ARM call the engine makes goes through
//! [`AzureSide`], which [`crate::AzureClients`] implements over `apilink-azure` — against
//! Azure, and against the emulator in the engine's tests and benchmarks.
//!
//! Everything is expressed in what the planner consumes: the observed APIM types and
//! [`ApicEntity`] for API Center.

use std::fmt;
use std::future::Future;

use apilink_azure::apic::{ImportSpecification, Precondition};
use apilink_azure::{ArmCallCounts, AzureError};
use apilink_core::LinkSettings;
use apilink_core::ids::{ApiCenterServiceId, ApimApiRef, ApimServiceId};
use apilink_core::mapping::SpecKind;
use apilink_core::metadata::MetadataSchema;
use apilink_core::observed::{
    ApicEntity, ApimApi, ApimApiTag, ApimGatewayConnection, ApimProduct, ApimService,
    ApimVersionSet, SpecificationRef,
};
use serde_json::Value;

/// Where one link reads and writes, taken from its settings once per pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub apim: ApimServiceId,
    pub api_center: ApiCenterServiceId,
    /// The API Center workspace written.
    pub workspace: String,
}

impl From<&LinkSettings> for LinkTarget {
    fn from(settings: &LinkSettings) -> Self {
        Self {
            apim: settings.apim.clone(),
            api_center: settings.api_center.clone(),
            workspace: settings.target_workspace.clone(),
        }
    }
}

/// One API Center entity in the link's target workspace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntityPath {
    Environment {
        name: String,
    },
    Api {
        api: String,
    },
    Version {
        api: String,
        version: String,
    },
    Definition {
        api: String,
        version: String,
        definition: String,
    },
    /// Deployments hang off the API, not the version.
    Deployment {
        api: String,
        deployment: String,
    },
}

impl fmt::Display for EntityPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Environment { name } => write!(f, "environments/{name}"),
            Self::Api { api } => write!(f, "apis/{api}"),
            Self::Version { api, version } => write!(f, "apis/{api}/versions/{version}"),
            Self::Definition {
                api,
                version,
                definition,
            } => write!(f, "apis/{api}/versions/{version}/definitions/{definition}"),
            Self::Deployment { api, deployment } => {
                write!(f, "apis/{api}/deployments/{deployment}")
            }
        }
    }
}

/// A definition exported from APIM this pass, kept by the engine until it is imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedContent {
    pub kind: SpecKind,
    pub content: String,
    pub specification: SpecificationRef,
}

/// What a pass needs from Azure. APIM is only ever read.
///
/// [`crate::AzureClients`] is the one implementation; the engine is generic over this
/// trait so that the whole of a pass's traffic has one seam. An implementation must
/// count every ARM request it sends in [`AzureSide::call_counts`]; the engine reports
/// the difference over a pass.
pub trait AzureSide: Send + Sync {
    /// `GET {apim}`: the service's gateway, portal and hostnames (the caller fills in
    /// the management portal and the workspace gateways).
    fn apim_service(
        &self,
        target: &LinkTarget,
    ) -> impl Future<Output = Result<ApimService, AzureError>> + Send;

    /// Every current API of the service (`None`) or of an APIM workspace, across pages.
    fn apim_apis(
        &self,
        target: &LinkTarget,
        workspace: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ApimApi>, AzureError>> + Send;

    /// Every version set of the service or an APIM workspace.
    fn apim_version_sets(
        &self,
        target: &LinkTarget,
        workspace: Option<&str>,
    ) -> impl Future<Output = Result<Vec<ApimVersionSet>, AzureError>> + Send;

    /// The config connections of the workspace gateways serving any of `workspaces`, in
    /// the order APIM links them: `GET {apim}/workspaceLinks`, then
    /// `GET {gateway}/configConnections` per linked gateway. Empty when APIM has no
    /// workspace links (404).
    fn apim_workspace_gateways(
        &self,
        target: &LinkTarget,
        workspaces: &[String],
    ) -> impl Future<Output = Result<Vec<ApimGatewayConnection>, AzureError>> + Send;

    /// `GET {apim}/tagResources` across pages: the tags on the service's current APIs
    /// (tags on operations and products left out).
    fn apim_api_tags(
        &self,
        target: &LinkTarget,
    ) -> impl Future<Output = Result<Vec<ApimApiTag>, AzureError>> + Send;

    /// `GET {apim}/products` across pages.
    fn apim_products(
        &self,
        target: &LinkTarget,
    ) -> impl Future<Output = Result<Vec<ApimProduct>, AzureError>> + Send;

    /// `GET {apim}/products/{product}/apis` across pages: the APIs of one product.
    fn apim_product_apis(
        &self,
        target: &LinkTarget,
        product: &str,
    ) -> impl Future<Output = Result<Vec<ApimApiRef>, AzureError>> + Send;

    /// The definition of one APIM API in the richest format `kind` allows; `None`
    /// when APIM has none (e.g. a GraphQL API without a schema).
    fn export_definition(
        &self,
        target: &LinkTarget,
        api: &ApimApiRef,
        kind: SpecKind,
    ) -> impl Future<Output = Result<Option<ExportedContent>, AzureError>> + Send;

    /// A fresh short-lived export link API Center can fetch itself (for documents too
    /// large to import inline); `None` when `kind` has no link export.
    fn export_link(
        &self,
        target: &LinkTarget,
        api: &ApimApiRef,
        kind: SpecKind,
    ) -> impl Future<Output = Result<Option<String>, AzureError>> + Send;

    /// Every API of the target workspace.
    fn list_apis(
        &self,
        target: &LinkTarget,
    ) -> impl Future<Output = Result<Vec<ApicEntity>, AzureError>> + Send;

    fn list_versions(
        &self,
        target: &LinkTarget,
        api: &str,
    ) -> impl Future<Output = Result<Vec<ApicEntity>, AzureError>> + Send;

    fn list_definitions(
        &self,
        target: &LinkTarget,
        api: &str,
        version: &str,
    ) -> impl Future<Output = Result<Vec<ApicEntity>, AzureError>> + Send;

    fn list_deployments(
        &self,
        target: &LinkTarget,
        api: &str,
    ) -> impl Future<Output = Result<Vec<ApicEntity>, AzureError>> + Send;

    /// The entity with its ETag, or `None` when absent.
    fn get(
        &self,
        target: &LinkTarget,
        path: &EntityPath,
    ) -> impl Future<Output = Result<Option<ApicEntity>, AzureError>> + Send;

    /// PUT `{properties}` under `precondition`; read-only members are never sent.
    fn put(
        &self,
        target: &LinkTarget,
        path: &EntityPath,
        properties: &Value,
        precondition: Precondition,
    ) -> impl Future<Output = Result<ApicEntity, AzureError>> + Send;

    /// DELETE; `Ok(false)` when it was already absent.
    fn delete(
        &self,
        target: &LinkTarget,
        path: &EntityPath,
    ) -> impl Future<Output = Result<bool, AzureError>> + Send;

    /// Every metadata schema of the API Center service.
    fn list_metadata_schemas(
        &self,
        target: &LinkTarget,
    ) -> impl Future<Output = Result<Vec<MetadataSchema>, AzureError>> + Send;

    /// PUT a metadata schema (`properties`: `schema` and `assignedTo`).
    fn create_metadata_schema(
        &self,
        target: &LinkTarget,
        name: &str,
        properties: &Value,
    ) -> impl Future<Output = Result<(), AzureError>> + Send;

    /// importSpecification on a definition, followed to completion.
    fn import_specification(
        &self,
        target: &LinkTarget,
        definition: &EntityPath,
        import: &ImportSpecification,
    ) -> impl Future<Output = Result<(), AzureError>> + Send;

    /// ARM requests sent so far (retries included).
    fn call_counts(&self) -> ArmCallCounts;
}
