//! API Center client: get / head / put / delete / list of apis, versions,
//! definitions, environments and deployments, metadata schemas (read), and the
//! import/export specification actions.
//!
//! Paths are typed ([`ApicPath<P>`]) so a path and its property type travel together;
//! every segment is validated against API Center's name rule before any call.

pub mod merge;
pub mod types;

use std::marker::PhantomData;
use std::time::Duration;

use http::Method;
use http::header::{HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::APIC_API_VERSION;
use crate::error::AzureError;
use crate::http::{ArmClient, ArmRequest};
use crate::ids::{ApiCenterServiceId, is_valid_apic_name};
use crate::lro;
use crate::paging::list_all;
use crate::resource::ArmResource;

pub use merge::MergeOutcome;
pub use types::*;

/// The kind of API Center entity a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApicKind {
    Api,
    Version,
    Definition,
    Environment,
    Deployment,
    MetadataSchema,
}

impl ApicKind {
    /// Members the service computes: never sent on PUT (API Center may reject them).
    pub fn read_only_members(self) -> &'static [&'static str] {
        match self {
            ApicKind::Api => &["lifecycleStage"],
            ApicKind::Definition => &["specification"],
            _ => &[],
        }
    }
}

/// A service-relative path of one entity, bound to its property type.
#[derive(Debug)]
pub struct ApicPath<P> {
    kind: ApicKind,
    relative: String,
    _properties: PhantomData<fn() -> P>,
}

impl<P> Clone for ApicPath<P> {
    fn clone(&self) -> Self {
        Self {
            kind: self.kind,
            relative: self.relative.clone(),
            _properties: PhantomData,
        }
    }
}

fn checked(name: &str, what: &str) -> Result<String, AzureError> {
    if is_valid_apic_name(name) {
        Ok(name.to_string())
    } else {
        Err(AzureError::InvalidInput(format!(
            "API Center {what} name {name:?} must be 3-90 ASCII letters, digits or hyphens"
        )))
    }
}

fn workspace_path(ws: &str) -> Result<String, AzureError> {
    Ok(format!("/workspaces/{}", checked(ws, "workspace")?))
}

fn api_path(ws: &str, api: &str) -> Result<String, AzureError> {
    Ok(format!(
        "{}/apis/{}",
        workspace_path(ws)?,
        checked(api, "API")?
    ))
}

fn version_path(ws: &str, api: &str, version: &str) -> Result<String, AzureError> {
    Ok(format!(
        "{}/versions/{}",
        api_path(ws, api)?,
        checked(version, "version")?
    ))
}

impl<P> ApicPath<P> {
    fn new(kind: ApicKind, relative: String) -> Self {
        Self {
            kind,
            relative,
            _properties: PhantomData,
        }
    }

    pub fn kind(&self) -> ApicKind {
        self.kind
    }

    /// The service-relative id, e.g. `/workspaces/default/environments/prod` — the
    /// form deployments use for `environmentId` and `definitionId`.
    pub fn relative(&self) -> &str {
        &self.relative
    }

    /// The same path with untyped (`serde_json::Value`) properties.
    pub fn untyped(&self) -> ApicPath<Value> {
        ApicPath::new(self.kind, self.relative.clone())
    }
}

impl ApicPath<ApiProperties> {
    pub fn api(workspace: &str, api: &str) -> Result<Self, AzureError> {
        Ok(Self::new(ApicKind::Api, api_path(workspace, api)?))
    }
}

impl ApicPath<ApiVersionProperties> {
    pub fn version(workspace: &str, api: &str, version: &str) -> Result<Self, AzureError> {
        Ok(Self::new(
            ApicKind::Version,
            version_path(workspace, api, version)?,
        ))
    }
}

impl ApicPath<ApiDefinitionProperties> {
    pub fn definition(
        workspace: &str,
        api: &str,
        version: &str,
        definition: &str,
    ) -> Result<Self, AzureError> {
        Ok(Self::new(
            ApicKind::Definition,
            format!(
                "{}/definitions/{}",
                version_path(workspace, api, version)?,
                checked(definition, "definition")?
            ),
        ))
    }
}

impl ApicPath<EnvironmentProperties> {
    pub fn environment(workspace: &str, environment: &str) -> Result<Self, AzureError> {
        Ok(Self::new(
            ApicKind::Environment,
            format!(
                "{}/environments/{}",
                workspace_path(workspace)?,
                checked(environment, "environment")?
            ),
        ))
    }
}

impl ApicPath<DeploymentProperties> {
    /// Deployments hang off the API, not the version.
    pub fn deployment(workspace: &str, api: &str, deployment: &str) -> Result<Self, AzureError> {
        Ok(Self::new(
            ApicKind::Deployment,
            format!(
                "{}/deployments/{}",
                api_path(workspace, api)?,
                checked(deployment, "deployment")?
            ),
        ))
    }
}

impl ApicPath<MetadataSchemaProperties> {
    /// Metadata schemas live at service level, not under a workspace.
    pub fn metadata_schema(name: &str) -> Result<Self, AzureError> {
        Ok(Self::new(
            ApicKind::MetadataSchema,
            format!("/metadataSchemas/{}", checked(name, "metadata schema")?),
        ))
    }
}

/// Conditions for a PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// Replace only if unchanged since this ETag was read.
    IfMatch(String),
    /// Create only: fail if the entity exists.
    IfNoneMatchAny,
}

#[derive(Debug, Clone)]
pub enum CreateOutcome<P> {
    Created(ArmResource<P>),
    /// The entity already existed and was left untouched.
    AlreadyExists,
}

#[derive(Debug, Clone)]
pub struct ApicClient {
    arm: ArmClient,
    service: ApiCenterServiceId,
}

/// The `properties` member to PUT: the serialised properties without the members the
/// service computes.
pub fn put_body<P: Serialize>(kind: ApicKind, properties: &P) -> Result<Value, AzureError> {
    let mut value = serde_json::to_value(properties)
        .map_err(|e| AzureError::InvalidInput(format!("unserialisable properties: {e}")))?;
    if let Some(map) = value.as_object_mut() {
        for member in kind.read_only_members() {
            map.remove(*member);
        }
    }
    Ok(value)
}

impl ApicClient {
    pub fn new(arm: ArmClient, service: ApiCenterServiceId) -> Self {
        Self { arm, service }
    }

    pub fn service_id(&self) -> &ApiCenterServiceId {
        &self.service
    }

    pub fn arm(&self) -> &ArmClient {
        &self.arm
    }

    fn url(&self, relative: &str) -> Result<url::Url, AzureError> {
        self.arm.url(
            &format!("{}{relative}", self.service.path()),
            APIC_API_VERSION,
            &[],
        )
    }

    /// The entity, or `None` if it does not exist.
    pub async fn get<P: DeserializeOwned + Default>(
        &self,
        path: &ApicPath<P>,
    ) -> Result<Option<ArmResource<P>>, AzureError> {
        match self.fetch(path).await {
            Ok(resource) => Ok(Some(resource)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The entity; a missing one is an error (`NotFound`).
    pub async fn fetch<P: DeserializeOwned + Default>(
        &self,
        path: &ApicPath<P>,
    ) -> Result<ArmResource<P>, AzureError> {
        let answer = self
            .arm
            .send(ArmRequest::get(self.url(&path.relative)?))
            .await?;
        ArmResource::from_response(&answer)
    }

    /// HEAD: does the entity exist?
    pub async fn exists<P>(&self, path: &ApicPath<P>) -> Result<bool, AzureError> {
        let request = ArmRequest::new(Method::HEAD, self.url(&path.relative)?);
        match self.arm.send(request).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// PUT (create or replace, synchronous) sending only `properties`.
    pub async fn put<P: Serialize + DeserializeOwned + Default>(
        &self,
        path: &ApicPath<P>,
        properties: &P,
        precondition: Precondition,
    ) -> Result<ArmResource<P>, AzureError> {
        let body = serde_json::json!({ "properties": put_body(path.kind, properties)? });
        let mut request = ArmRequest::new(Method::PUT, self.url(&path.relative)?).with_body(body);
        match precondition {
            Precondition::None => {}
            Precondition::IfMatch(etag) => {
                let value = HeaderValue::from_str(&etag).map_err(|_| {
                    AzureError::InvalidInput(format!("ETag {etag:?} is not a header value"))
                })?;
                request = request.with_header(HeaderName::from_static("if-match"), value);
            }
            Precondition::IfNoneMatchAny => {
                request = request.with_header(
                    HeaderName::from_static("if-none-match"),
                    HeaderValue::from_static("*"),
                );
            }
        }
        let answer = self.arm.send(request).await?;
        ArmResource::from_response(&answer)
    }

    /// Creates the entity unless it exists (`If-None-Match: *`; 409/412 mean it
    /// exists). The 2024-03-01 spec does not declare the header, so callers should
    /// only use this for entities a fresh list showed absent, keeping the window in
    /// which a service ignoring it could replace a concurrent creation small.
    pub async fn create_if_absent<P: Serialize + DeserializeOwned + Default>(
        &self,
        path: &ApicPath<P>,
        properties: &P,
    ) -> Result<CreateOutcome<P>, AzureError> {
        match self
            .put(path, properties, Precondition::IfNoneMatchAny)
            .await
        {
            Ok(created) => Ok(CreateOutcome::Created(created)),
            Err(e) if matches!(e.status(), Some(409) | Some(412)) => {
                Ok(CreateOutcome::AlreadyExists)
            }
            Err(e) => Err(e),
        }
    }

    /// DELETE: `true` if something was deleted, `false` if it was already absent.
    pub async fn delete<P>(&self, path: &ApicPath<P>) -> Result<bool, AzureError> {
        let request = ArmRequest::new(Method::DELETE, self.url(&path.relative)?);
        match self.arm.send(request).await {
            Ok(answer) => Ok(answer.status != 204),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn list<P: DeserializeOwned + Default>(
        &self,
        relative_collection: &str,
    ) -> Result<Vec<ArmResource<P>>, AzureError> {
        list_all(&self.arm, self.url(relative_collection)?).await
    }

    pub async fn list_apis(
        &self,
        workspace: &str,
    ) -> Result<Vec<ArmResource<ApiProperties>>, AzureError> {
        self.list(&format!("{}/apis", workspace_path(workspace)?))
            .await
    }

    pub async fn list_versions(
        &self,
        workspace: &str,
        api: &str,
    ) -> Result<Vec<ArmResource<ApiVersionProperties>>, AzureError> {
        self.list(&format!("{}/versions", api_path(workspace, api)?))
            .await
    }

    pub async fn list_definitions(
        &self,
        workspace: &str,
        api: &str,
        version: &str,
    ) -> Result<Vec<ArmResource<ApiDefinitionProperties>>, AzureError> {
        self.list(&format!(
            "{}/definitions",
            version_path(workspace, api, version)?
        ))
        .await
    }

    pub async fn list_deployments(
        &self,
        workspace: &str,
        api: &str,
    ) -> Result<Vec<ArmResource<DeploymentProperties>>, AzureError> {
        self.list(&format!("{}/deployments", api_path(workspace, api)?))
            .await
    }

    pub async fn list_environments(
        &self,
        workspace: &str,
    ) -> Result<Vec<ArmResource<EnvironmentProperties>>, AzureError> {
        self.list(&format!("{}/environments", workspace_path(workspace)?))
            .await
    }

    pub async fn list_metadata_schemas(
        &self,
    ) -> Result<Vec<ArmResource<MetadataSchemaProperties>>, AzureError> {
        self.list("/metadataSchemas").await
    }

    /// importSpecification, followed to completion (200, or 202 + `Location` polled
    /// until done) within `deadline`.
    pub async fn import_specification(
        &self,
        definition: &ApicPath<ApiDefinitionProperties>,
        import: &ImportSpecification,
        deadline: Option<Duration>,
    ) -> Result<(), AzureError> {
        let body = serde_json::to_value(import)
            .map_err(|e| AzureError::InvalidInput(format!("import body: {e}")))?;
        let url = self.url(&format!("{}/importSpecification", definition.relative))?;
        // Re-importing the same document is harmless, so transient failures may retry.
        let request = ArmRequest::new(Method::POST, url)
            .with_body(body)
            .idempotent(true);
        let initial = self.arm.send(request).await?;
        let budget = deadline.unwrap_or(self.arm.lro_options().deadline);
        lro::wait_with_deadline(&self.arm, initial, "importSpecification", budget).await?;
        Ok(())
    }

    /// exportSpecification: the document text (a `link` answer is downloaded without
    /// the ARM token).
    pub async fn export_specification(
        &self,
        definition: &ApicPath<ApiDefinitionProperties>,
    ) -> Result<String, AzureError> {
        let url = self.url(&format!("{}/exportSpecification", definition.relative))?;
        let request = ArmRequest::new(Method::POST, url).idempotent(true);
        let initial = self.arm.send(request).await?;
        let done = lro::wait(&self.arm, initial, "exportSpecification").await?;
        let export: SpecificationExport = done.json()?;
        if export.format.eq_ignore_ascii_case("link") {
            self.arm.download_link(&export.value).await
        } else {
            Ok(export.value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_service_relative_and_validated() {
        let env = ApicPath::environment("default", "payments-prod").unwrap();
        assert_eq!(
            env.relative(),
            "/workspaces/default/environments/payments-prod"
        );
        let def = ApicPath::definition("default", "echo-api", "v1-0", "openapi").unwrap();
        assert_eq!(
            def.relative(),
            "/workspaces/default/apis/echo-api/versions/v1-0/definitions/openapi"
        );
        let dep = ApicPath::deployment("default", "echo-api", "prod-dep").unwrap();
        assert_eq!(
            dep.relative(),
            "/workspaces/default/apis/echo-api/deployments/prod-dep"
        );
        assert_eq!(
            ApicPath::metadata_schema("owner").unwrap().relative(),
            "/metadataSchemas/owner"
        );
        assert!(ApicPath::api("default", "echo-api;rev=2").is_err());
        assert!(ApicPath::version("default", "echo", "v1").is_err());
        let err = ApicPath::api("default", "my_api").unwrap_err();
        assert!(err.to_string().contains("my_api"), "{err}");
    }

    #[test]
    fn read_only_members_are_never_sent() {
        let api = ApiProperties {
            title: "Echo".into(),
            kind: "rest".into(),
            lifecycle_stage: Some("design".into()),
            ..Default::default()
        };
        assert_eq!(
            put_body(ApicKind::Api, &api).unwrap(),
            json!({"title": "Echo", "kind": "rest"})
        );
        let def = ApiDefinitionProperties {
            title: "OpenAPI".into(),
            specification: Some(SpecificationDetails {
                name: Some("openapi".into()),
                version: Some("3.0.1".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            put_body(ApicKind::Definition, &def).unwrap(),
            json!({"title": "OpenAPI"})
        );
        // A version's lifecycle stage is writable.
        let ver = ApiVersionProperties {
            title: "v1".into(),
            lifecycle_stage: "design".into(),
            ..Default::default()
        };
        assert_eq!(
            put_body(ApicKind::Version, &ver).unwrap(),
            json!({"title": "v1", "lifecycleStage": "design"})
        );
    }
}
