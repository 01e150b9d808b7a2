//! [`AzureSide`] over real ARM (or the emulator) through `apilink-azure`.

use apilink_azure::apic::{
    ApiDefinitionProperties, ApicClient, ApicPath, ImportSpecification, Precondition,
};
use apilink_azure::apim::{ApiProperties, ApimApi, ApimClient, ApimScope, ListApisOptions};
use apilink_azure::paging::list_all;
use apilink_azure::resource::ArmResource;
use apilink_azure::{APIC_API_VERSION, ArmCallCounts, ArmClient, AzureError};
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping::SpecKind;
use apilink_core::metadata::MetadataSchema;
use apilink_core::observed::{ApicEntity, SpecificationRef};
use serde::Serialize;
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

    async fn list_apic(
        &self,
        target: &LinkTarget,
        relative: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        let url = self.arm.url(
            &format!(
                "{}/workspaces/{}/{relative}",
                target.api_center.path(),
                target.workspace
            ),
            APIC_API_VERSION,
            &[],
        )?;
        let items: Vec<ArmResource<Value>> = list_all(&self.arm, url).await?;
        Ok(items.into_iter().map(entity).collect())
    }
}

fn scope(workspace: Option<&str>) -> ApimScope {
    match workspace {
        Some(ws) => ApimScope::Workspace(ws.to_string()),
        None => ApimScope::Service,
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Value, AzureError> {
    serde_json::to_value(value)
        .map_err(|e| AzureError::InvalidInput(format!("unserialisable ARM resource: {e}")))
}

fn entity(resource: ArmResource<Value>) -> ApicEntity {
    let properties = match resource.properties {
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    ApicEntity {
        name: resource.name,
        properties,
        etag: resource.etag,
    }
}

/// The APIM API type standing for a definition kind, so the typed client picks the
/// export path (OpenAPI link, WSDL link, or the schema document).
fn api_type(kind: SpecKind) -> &'static str {
    match kind {
        SpecKind::OpenApi => "http",
        SpecKind::Wsdl => "soap",
        SpecKind::GraphQl => "graphql",
        SpecKind::Grpc => "grpc",
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
    async fn apim_service(&self, target: &LinkTarget) -> Result<Value, AzureError> {
        to_json(&self.apim(target).get_service().await?)
    }

    async fn apim_apis(
        &self,
        target: &LinkTarget,
        workspace: Option<&str>,
    ) -> Result<Vec<Value>, AzureError> {
        let options = ListApisOptions {
            current_only: true,
            expand_version_set: false,
            top: Some(self.apim_page_size),
        };
        let apis = self
            .apim(target)
            .list_apis(&scope(workspace), &options)
            .await?;
        apis.iter().map(to_json).collect()
    }

    async fn apim_version_sets(
        &self,
        target: &LinkTarget,
        workspace: Option<&str>,
    ) -> Result<Vec<Value>, AzureError> {
        let sets = self
            .apim(target)
            .list_version_sets(&scope(workspace))
            .await?;
        sets.iter().map(to_json).collect()
    }

    async fn apim_workspace_gateways(
        &self,
        target: &LinkTarget,
        workspaces: &[String],
    ) -> Result<Vec<Value>, AzureError> {
        let connections = self
            .apim(target)
            .workspace_gateway_connections(workspaces)
            .await?;
        connections.iter().map(to_json).collect()
    }

    async fn export_definition(
        &self,
        target: &LinkTarget,
        api: &ApimApiRef,
        kind: SpecKind,
    ) -> Result<Option<ExportedContent>, AzureError> {
        let stand_in = ApimApi {
            name: api.api_id.clone(),
            properties: ApiProperties {
                api_type: Some(api_type(kind).to_string()),
                ..Default::default()
            },
            ..Default::default()
        };
        let exported = self
            .apim(target)
            .export_definition(&scope(api.workspace.as_deref()), &stand_in)
            .await?;
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
        let format = match kind {
            SpecKind::OpenApi => "openapi+json-link",
            SpecKind::Wsdl => "wsdl-link",
            SpecKind::GraphQl | SpecKind::Grpc => return Ok(None),
        };
        self.apim(target)
            .request_export_link(&scope(api.workspace.as_deref()), &api.api_id, format)
            .await
            .map(Some)
    }

    async fn list_apis(&self, target: &LinkTarget) -> Result<Vec<ApicEntity>, AzureError> {
        self.list_apic(target, "apis").await
    }

    async fn list_versions(
        &self,
        target: &LinkTarget,
        api: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        // Validates the name before it goes into a URL.
        apic_path(
            &target.workspace,
            &EntityPath::Api {
                api: api.to_string(),
            },
        )?;
        self.list_apic(target, &format!("apis/{api}/versions"))
            .await
    }

    async fn list_definitions(
        &self,
        target: &LinkTarget,
        api: &str,
        version: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        apic_path(
            &target.workspace,
            &EntityPath::Version {
                api: api.to_string(),
                version: version.to_string(),
            },
        )?;
        self.list_apic(
            target,
            &format!("apis/{api}/versions/{version}/definitions"),
        )
        .await
    }

    async fn list_deployments(
        &self,
        target: &LinkTarget,
        api: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        apic_path(
            &target.workspace,
            &EntityPath::Api {
                api: api.to_string(),
            },
        )?;
        self.list_apic(target, &format!("apis/{api}/deployments"))
            .await
    }

    async fn get(
        &self,
        target: &LinkTarget,
        path: &EntityPath,
    ) -> Result<Option<ApicEntity>, AzureError> {
        let path = apic_path(&target.workspace, path)?;
        Ok(self.apic(target).get(&path).await?.map(entity))
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
            .map(entity)
    }

    async fn delete(&self, target: &LinkTarget, path: &EntityPath) -> Result<bool, AzureError> {
        let path = apic_path(&target.workspace, path)?;
        self.apic(target).delete(&path).await
    }

    async fn list_metadata_schemas(
        &self,
        target: &LinkTarget,
    ) -> Result<Vec<MetadataSchema>, AzureError> {
        let schemas = self.apic(target).list_metadata_schemas().await?;
        schemas
            .iter()
            .map(|schema| {
                Ok(MetadataSchema::from_arm(
                    &schema.name,
                    &to_json(&schema.properties)?,
                ))
            })
            .collect()
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
