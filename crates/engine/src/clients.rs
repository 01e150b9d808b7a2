//! [`AzureSide`] over real ARM (or the emulator) through `apilink-azure`.

use apilink_azure::apic::{
    ApiDefinitionProperties, ApicClient, ApicPath, ImportSpecification, Precondition,
};
use apilink_azure::apim::{ApimClient, ListApisOptions};
use apilink_azure::{ArmCallCounts, ArmClient, AzureError};
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping::SpecKind;
use apilink_core::metadata::MetadataSchema;
use apilink_core::observed::{
    ApicEntity, ApimApi, ApimApiTag, ApimGatewayConnection, ApimProduct, ApimService,
    ApimVersionSet, SpecificationRef,
};
use serde_json::Value;

use crate::azure_side::{AzureSide, EntityPath, ExportedContent, LinkTarget};

/// APIM `$top` asked for by default: the largest page APIM serves.
pub const DEFAULT_APIM_PAGE_SIZE: u32 = 100;

/// The production [`AzureSide`]: one [`ArmClient`] (one identity), any link it can reach.
#[derive(Debug, Clone)]
pub struct AzureClients {
    arm: ArmClient,
    apim_page_size: u32,
}

impl AzureClients {
    pub fn new(arm: ArmClient) -> Self {
        Self {
            arm,
            apim_page_size: DEFAULT_APIM_PAGE_SIZE,
        }
    }

    /// APIM list page size (`$top`).
    pub fn with_apim_page_size(mut self, page_size: u32) -> Self {
        self.apim_page_size = page_size.max(1);
        self
    }

    pub fn arm(&self) -> &ArmClient {
        &self.arm
    }

    fn apim(&self, target: &LinkTarget) -> ApimClient {
        ApimClient::new(self.arm.clone(), target.apim.clone())
    }

    fn apic(&self, target: &LinkTarget) -> ApicClient {
        ApicClient::new(self.arm.clone(), target.api_center.clone())
    }
}

fn apic_path(workspace: &str, path: &EntityPath) -> Result<ApicPath<Value>, AzureError> {
    Ok(match path {
        EntityPath::Environment { name } => ApicPath::environment(workspace, name)?.untyped(),
        EntityPath::Api { api } => ApicPath::api(workspace, api)?.untyped(),
        EntityPath::Version { api, version } => {
            ApicPath::version(workspace, api, version)?.untyped()
        }
        EntityPath::Definition {
            api,
            version,
            definition,
        } => ApicPath::definition(workspace, api, version, definition)?.untyped(),
        EntityPath::Deployment { api, deployment } => {
            ApicPath::deployment(workspace, api, deployment)?.untyped()
        }
    })
}

fn definition_path(
    workspace: &str,
    path: &EntityPath,
) -> Result<ApicPath<ApiDefinitionProperties>, AzureError> {
    match path {
        EntityPath::Definition {
            api,
            version,
            definition,
        } => ApicPath::definition(workspace, api, version, definition),
        other => Err(AzureError::InvalidInput(format!(
            "importSpecification needs a definition, got {other}"
        ))),
    }
}

impl AzureSide for AzureClients {
    async fn apim_service(&self, target: &LinkTarget) -> Result<ApimService, AzureError> {
        Ok(self.apim(target).get_service().await?.into())
    }

    async fn apim_apis(
        &self,
        target: &LinkTarget,
        workspace: Option<&str>,
    ) -> Result<Vec<ApimApi>, AzureError> {
        let options = ListApisOptions {
            current_only: true,
            expand_version_set: false,
            top: Some(self.apim_page_size),
        };
        self.apim(target)
            .list_observed_apis(workspace, &options)
            .await
    }

    async fn apim_version_sets(
        &self,
        target: &LinkTarget,
        workspace: Option<&str>,
    ) -> Result<Vec<ApimVersionSet>, AzureError> {
        self.apim(target)
            .list_observed_version_sets(workspace)
            .await
    }

    async fn apim_workspace_gateways(
        &self,
        target: &LinkTarget,
        workspaces: &[String],
    ) -> Result<Vec<ApimGatewayConnection>, AzureError> {
        let connections = self
            .apim(target)
            .workspace_gateway_connections(workspaces)
            .await?;
        Ok(connections.into_iter().map(Into::into).collect())
    }

    async fn apim_api_tags(&self, target: &LinkTarget) -> Result<Vec<ApimApiTag>, AzureError> {
        self.apim(target)
            .list_api_tags(Some(self.apim_page_size))
            .await
    }

    async fn apim_products(&self, target: &LinkTarget) -> Result<Vec<ApimProduct>, AzureError> {
        self.apim(target)
            .list_products(Some(self.apim_page_size))
            .await
    }

    async fn apim_product_apis(
        &self,
        target: &LinkTarget,
        product: &str,
    ) -> Result<Vec<ApimApiRef>, AzureError> {
        self.apim(target)
            .list_product_apis(product, Some(self.apim_page_size))
            .await
    }

    async fn export_definition(
        &self,
        target: &LinkTarget,
        api: &ApimApiRef,
        kind: SpecKind,
    ) -> Result<Option<ExportedContent>, AzureError> {
        let exported = self.apim(target).export_definition(api, kind).await?;
        Ok(exported.map(|e| ExportedContent {
            kind,
            specification: SpecificationRef {
                name: e.specification_name().to_string(),
                version: e.specification_version(),
            },
            content: e.content,
        }))
    }

    async fn export_link(
        &self,
        target: &LinkTarget,
        api: &ApimApiRef,
        kind: SpecKind,
    ) -> Result<Option<String>, AzureError> {
        self.apim(target).export_link(api, kind).await
    }

    async fn list_apis(&self, target: &LinkTarget) -> Result<Vec<ApicEntity>, AzureError> {
        self.apic(target).list_apis(&target.workspace).await
    }

    async fn list_versions(
        &self,
        target: &LinkTarget,
        api: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        self.apic(target)
            .list_versions(&target.workspace, api)
            .await
    }

    async fn list_definitions(
        &self,
        target: &LinkTarget,
        api: &str,
        version: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        self.apic(target)
            .list_definitions(&target.workspace, api, version)
            .await
    }

    async fn list_deployments(
        &self,
        target: &LinkTarget,
        api: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        self.apic(target)
            .list_deployments(&target.workspace, api)
            .await
    }

    async fn get(
        &self,
        target: &LinkTarget,
        path: &EntityPath,
    ) -> Result<Option<ApicEntity>, AzureError> {
        let path = apic_path(&target.workspace, path)?;
        Ok(self.apic(target).get(&path).await?.map(ApicEntity::from))
    }

    async fn put(
        &self,
        target: &LinkTarget,
        path: &EntityPath,
        properties: &Value,
        precondition: Precondition,
    ) -> Result<ApicEntity, AzureError> {
        let path = apic_path(&target.workspace, path)?;
        self.apic(target)
            .put(&path, properties, precondition)
            .await
            .map(ApicEntity::from)
    }

    async fn delete(&self, target: &LinkTarget, path: &EntityPath) -> Result<bool, AzureError> {
        let path = apic_path(&target.workspace, path)?;
        self.apic(target).delete(&path).await
    }

    async fn list_metadata_schemas(
        &self,
        target: &LinkTarget,
    ) -> Result<Vec<MetadataSchema>, AzureError> {
        self.apic(target).list_metadata_schemas().await
    }

    async fn create_metadata_schema(
        &self,
        target: &LinkTarget,
        name: &str,
        properties: &Value,
    ) -> Result<(), AzureError> {
        let path = ApicPath::metadata_schema(name)?.untyped();
        self.apic(target)
            .put(&path, properties, Precondition::None)
            .await
            .map(|_| ())
    }

    async fn import_specification(
        &self,
        target: &LinkTarget,
        definition: &EntityPath,
        import: &ImportSpecification,
    ) -> Result<(), AzureError> {
        let path = definition_path(&target.workspace, definition)?;
        self.apic(target)
            .import_specification(&path, import, None)
            .await
            .map(|_| ())
    }

    fn call_counts(&self) -> ArmCallCounts {
        self.arm.counts()
    }
}
