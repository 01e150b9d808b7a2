//! Read-only APIM client. There is no write method here at all: apilink only ever
//! needs the "API Management Service Reader" role on APIM, plus read access to the
//! workspace gateways (`Microsoft.ApiManagement/gateways`) of the workspaces it reads.

pub mod metadata;
mod observed;
pub mod types;

use apilink_core::ids::{ApimApiRef, ApimServiceId};
use apilink_core::mapping::SpecKind;
use serde_json::Value;

use crate::APIM_API_VERSION;
use crate::authorization::{Permission, list_permissions};
use crate::error::AzureError;
use crate::http::{ArmClient, ArmRequest, encode_segment};
use crate::paging::{list_all, list_filter_map};
use crate::resource::ArmResource;

pub use metadata::{ApimProductResource, TagResource};
pub use types::*;

/// `Ok(empty)` for a list ARM says does not exist.
fn absent_is_empty<T>(listed: Result<Vec<T>, AzureError>) -> Result<Vec<T>, AzureError> {
    match listed {
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        other => other,
    }
}

/// `/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/gateways/{name}`:
/// a workspace gateway, a top-level resource of its own (not under the service). Read
/// from APIM's answers, so it is checked before it becomes part of a request path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApimGatewayId {
    pub subscription_id: String,
    pub resource_group: String,
    pub name: String,
}

impl ApimGatewayId {
    /// The canonical id, also the ARM path of the gateway (segments encoded).
    pub fn path(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/gateways/{}",
            encode_segment(&self.subscription_id),
            encode_segment(&self.resource_group),
            encode_segment(&self.name)
        )
    }
}

impl std::str::FromStr for ApimGatewayId {
    type Err = AzureError;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            AzureError::InvalidInput(format!(
                "{id:?} is not a workspace gateway id: expected /subscriptions/{{subscription}}/resourceGroups/{{group}}/providers/Microsoft.ApiManagement/gateways/{{name}}"
            ))
        };
        let segments: Vec<&str> = id.trim().trim_end_matches('/').split('/').collect();
        let [
            "",
            subs,
            subscription,
            rgs,
            group,
            providers,
            namespace,
            kind,
            name,
        ] = segments.as_slice()
        else {
            return Err(invalid());
        };
        // Only names ARM could have given, so nothing here can walk the path elsewhere.
        let plain = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
        };
        let good = subs.eq_ignore_ascii_case("subscriptions")
            && rgs.eq_ignore_ascii_case("resourceGroups")
            && providers.eq_ignore_ascii_case("providers")
            && namespace.eq_ignore_ascii_case("Microsoft.ApiManagement")
            && kind.eq_ignore_ascii_case("gateways")
            && plain(subscription)
            && plain(group)
            && plain(name);
        if !good {
            return Err(invalid());
        }
        Ok(Self {
            subscription_id: subscription.to_string(),
            resource_group: group.to_string(),
            name: name.to_string(),
        })
    }
}

/// Service level, or one workspace (Premium/v2). Service-level lists do not include
/// workspace APIs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ApimScope {
    Service,
    Workspace(String),
}

impl ApimScope {
    /// The scope of an APIM workspace, or of the service for `None`.
    pub fn of(workspace: Option<&str>) -> Self {
        match workspace {
            Some(ws) => Self::Workspace(ws.to_string()),
            None => Self::Service,
        }
    }
}

/// APIM's export formats: each answers with a link to the document.
const OPENAPI_LINK: &str = "openapi+json-link";
/// Asked for when APIM refuses OpenAPI 3 for an API.
const SWAGGER_LINK: &str = "swagger-link";
const WSDL_LINK: &str = "wsdl-link";

/// The link export format APIM offers for a definition kind; GraphQL and gRPC
/// documents are read from the API's schemas instead.
fn link_format(kind: SpecKind) -> Option<&'static str> {
    match kind {
        SpecKind::OpenApi => Some(OPENAPI_LINK),
        SpecKind::Wsdl => Some(WSDL_LINK),
        SpecKind::GraphQl | SpecKind::Grpc => None,
    }
}

#[derive(Debug, Clone)]
pub struct ListApisOptions {
    /// Ask for `$filter=isCurrent eq true` (and drop any non-current entry anyway).
    pub current_only: bool,
    /// `expandApiVersionSet=true` fills `properties.apiVersionSet`.
    pub expand_version_set: bool,
    /// Page size (`$top`); the server may cap it.
    pub top: Option<u32>,
}

impl Default for ListApisOptions {
    fn default() -> Self {
        Self {
            current_only: true,
            expand_version_set: true,
            top: Some(100),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApimClient {
    arm: ArmClient,
    service: ApimServiceId,
}

impl ApimClient {
    pub fn new(arm: ArmClient, service: ApimServiceId) -> Self {
        Self { arm, service }
    }

    fn base(&self, scope: &ApimScope) -> String {
        match scope {
            ApimScope::Service => self.service.path(),
            ApimScope::Workspace(ws) => {
                format!("{}/workspaces/{}", self.service.path(), encode_segment(ws))
            }
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<url::Url, AzureError> {
        self.arm.url(path, APIM_API_VERSION, query)
    }

    /// The service: location, SKU (name and units), gateway URL, portal URLs,
    /// hostname configurations.
    pub async fn get_service(&self) -> Result<ApimService, AzureError> {
        let url = self.url(&self.service.path(), &[])?;
        ArmResource::from_response(&self.arm.send(ArmRequest::get(url)).await?)
    }

    /// The identity's effective permissions on the APIM service.
    pub async fn permissions(&self) -> Result<Vec<Permission>, AzureError> {
        list_permissions(&self.arm, &self.service.path()).await
    }

    /// The first page of `scope`'s API list as `options` ask for it.
    fn apis_url(
        &self,
        scope: &ApimScope,
        options: &ListApisOptions,
    ) -> Result<url::Url, AzureError> {
        let top = options.top.map(|t| t.to_string());
        let mut query: Vec<(&str, &str)> = Vec::new();
        if options.current_only {
            query.push(("$filter", "isCurrent eq true"));
        }
        if options.expand_version_set {
            query.push(("expandApiVersionSet", "true"));
        }
        if let Some(top) = top.as_deref() {
            query.push(("$top", top));
        }
        self.url(&format!("{}/apis", self.base(scope)), &query)
    }

    /// All APIs of `scope` across pages. With `current_only`, revisions that are not
    /// current are dropped even if the server ignored the filter.
    pub async fn list_apis(
        &self,
        scope: &ApimScope,
        options: &ListApisOptions,
    ) -> Result<Vec<ApimApi>, AzureError> {
        let url = self.apis_url(scope, options)?;
        list_filter_map(&self.arm, url, |api: ApimApi| {
            (!options.current_only || api.is_current()).then_some(api)
        })
        .await
    }

    /// The APIs of `workspace` (the service level for `None`) as the planner reads them,
    /// converted page by page as [`ApimClient::list_apis`] reads them: a list of
    /// thousands never holds more than one page of full answers.
    pub async fn list_observed_apis(
        &self,
        workspace: Option<&str>,
        options: &ListApisOptions,
    ) -> Result<Vec<apilink_core::observed::ApimApi>, AzureError> {
        let url = self.apis_url(&ApimScope::of(workspace), options)?;
        list_filter_map(&self.arm, url, |api: ApimApi| {
            (!options.current_only || api.is_current()).then(|| api.into_observed(workspace))
        })
        .await
    }

    pub async fn list_version_sets(
        &self,
        scope: &ApimScope,
    ) -> Result<Vec<ApimVersionSet>, AzureError> {
        let url = self.url(&format!("{}/apiVersionSets", self.base(scope)), &[])?;
        list_all(&self.arm, url).await
    }

    /// The version sets of `workspace` (the service level for `None`) as the planner
    /// reads them, converted page by page.
    pub async fn list_observed_version_sets(
        &self,
        workspace: Option<&str>,
    ) -> Result<Vec<apilink_core::observed::ApimVersionSet>, AzureError> {
        let scope = ApimScope::of(workspace);
        let url = self.url(&format!("{}/apiVersionSets", self.base(&scope)), &[])?;
        list_filter_map(&self.arm, url, |set: ApimVersionSet| {
            Some(set.into_observed(workspace))
        })
        .await
    }

    pub async fn list_workspaces(&self) -> Result<Vec<ApimWorkspace>, AzureError> {
        let url = self.url(&format!("{}/workspaces", self.service.path()), &[])?;
        list_all(&self.arm, url).await
    }

    /// `GET {service}/workspaceLinks`: the workspace gateways serving each workspace.
    /// A service that has none of it (404) has no workspace gateways.
    pub async fn list_workspace_links(&self) -> Result<Vec<ApimWorkspaceLink>, AzureError> {
        let url = self.url(&format!("{}/workspaceLinks", self.service.path()), &[])?;
        absent_is_empty(list_all(&self.arm, url).await)
    }

    /// `GET {gateway}/configConnections`: the workspaces one workspace gateway serves,
    /// with their hosts. A gateway deleted since it was linked (404) serves none. Needs
    /// `Microsoft.ApiManagement/gateways/configConnections/read` on the gateway, which the
    /// "API Management Service Reader Role" (scoped to `service/*`) does not grant.
    async fn list_gateway_config_connections(
        &self,
        gateway: &ApimGatewayId,
    ) -> Result<Vec<ApimGatewayConfigConnection>, AzureError> {
        let url = self.url(&format!("{}/configConnections", gateway.path()), &[])?;
        absent_is_empty(list_all(&self.arm, url).await)
    }

    /// The config connections of every workspace gateway linked to one of `workspaces`
    /// (names compared case-insensitively), gateways in the order the links name them:
    /// one `workspaceLinks` list, then one `configConnections` list per distinct gateway.
    /// Links to anything but a `Microsoft.ApiManagement/gateways/{name}` resource are
    /// skipped. Connections are returned whole; which of them serves which workspace is
    /// the caller's to read from `sourceId`.
    pub async fn workspace_gateway_connections(
        &self,
        workspaces: &[String],
    ) -> Result<Vec<ApimGatewayConfigConnection>, AzureError> {
        if workspaces.is_empty() {
            return Ok(Vec::new());
        }
        let links = self.list_workspace_links().await?;
        let mut gateways: Vec<ApimGatewayId> = Vec::new();
        for link in links.iter().filter(|l| {
            workspaces
                .iter()
                .any(|w| w.eq_ignore_ascii_case(l.workspace()))
        }) {
            for id in link
                .properties
                .gateways
                .iter()
                .filter_map(|g| g.id.as_deref())
            {
                match id.parse::<ApimGatewayId>() {
                    Ok(gateway) if !gateways.contains(&gateway) => gateways.push(gateway),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(workspace = link.workspace(), gateway = id, error = %e, "workspace link to something other than a workspace gateway; ignored");
                    }
                }
            }
        }
        let per_gateway = futures::future::try_join_all(
            gateways
                .iter()
                .map(|g| self.list_gateway_config_connections(g)),
        )
        .await?;
        Ok(per_gateway.into_iter().flatten().collect())
    }

    async fn list_schemas(
        &self,
        scope: &ApimScope,
        api_id: &str,
    ) -> Result<Vec<ApimSchema>, AzureError> {
        let url = self.url(
            &format!(
                "{}/apis/{}/schemas",
                self.base(scope),
                encode_segment(api_id)
            ),
            &[],
        )?;
        list_all(&self.arm, url).await
    }

    /// Asks APIM for an export link in `format` (one of the `*-link` formats). The link
    /// is a short-lived signed URL: use it at once, never log or cache it.
    async fn request_export_link(
        &self,
        scope: &ApimScope,
        api_id: &str,
        format: &str,
    ) -> Result<String, AzureError> {
        let path = format!("{}/apis/{}", self.base(scope), encode_segment(api_id));
        let url = self.url(&path, &[("format", format), ("export", "true")])?;
        let answer: Value = self.arm.get_json(url).await?;
        export_link(&answer)
            .map(str::to_string)
            .ok_or_else(|| AzureError::InvalidResponse {
                method: "GET".into(),
                path,
                message: format!("export ({format}) answered without value.link"),
            })
    }

    /// A fresh export link to the definition of `api` that API Center can fetch itself
    /// (for documents too large to import inline); `None` when APIM has no link export
    /// for `kind` (GraphQL, gRPC). The link is a short-lived signed URL: hand it on at
    /// once, never log or cache it.
    pub async fn export_link(
        &self,
        api: &ApimApiRef,
        kind: SpecKind,
    ) -> Result<Option<String>, AzureError> {
        let Some(format) = link_format(kind) else {
            return Ok(None);
        };
        let scope = ApimScope::of(api.workspace.as_deref());
        self.request_export_link(&scope, &api.api_id, format)
            .await
            .map(Some)
    }

    /// Asks APIM for an export link in `format` and downloads it at once.
    async fn export_via_link(
        &self,
        scope: &ApimScope,
        api_id: &str,
        format: &str,
    ) -> Result<String, AzureError> {
        let link = self.request_export_link(scope, api_id, format).await?;
        self.arm.download_link(&link).await
    }

    /// The definition of `api` as a document of `kind`: OpenAPI 3 JSON (Swagger 2 JSON
    /// when APIM refuses OpenAPI 3), WSDL, or the GraphQL SDL / proto file from the
    /// API's schemas. `None` when APIM holds no such schema.
    pub async fn export_definition(
        &self,
        api: &ApimApiRef,
        kind: SpecKind,
    ) -> Result<Option<ExportedDefinition>, AzureError> {
        let mut exported = self.export_document(api, kind).await?;
        // A download grows its buffer by doubling; the document is kept until it is
        // imported, so without the spare room.
        if let Some(definition) = exported.as_mut() {
            definition.content.shrink_to_fit();
        }
        Ok(exported)
    }

    /// [`ApimClient::export_definition`] as downloaded.
    async fn export_document(
        &self,
        api: &ApimApiRef,
        kind: SpecKind,
    ) -> Result<Option<ExportedDefinition>, AzureError> {
        let scope = ApimScope::of(api.workspace.as_deref());
        let api_id = api.api_id.as_str();
        let from_schema = |format| move |content| ExportedDefinition { format, content };
        Ok(match kind {
            SpecKind::OpenApi => Some(self.export_openapi(&scope, api_id).await?),
            SpecKind::Wsdl => {
                let content = self.export_via_link(&scope, api_id, WSDL_LINK).await?;
                Some(ExportedDefinition {
                    format: DefinitionFormat::Wsdl,
                    content,
                })
            }
            SpecKind::GraphQl => self
                .schema_document(&scope, api_id, &["graphql"])
                .await?
                .map(from_schema(DefinitionFormat::GraphQl)),
            SpecKind::Grpc => self
                .schema_document(&scope, api_id, &["grpc", "proto"])
                .await?
                .map(from_schema(DefinitionFormat::Grpc)),
        })
    }

    /// OpenAPI 3 JSON, or Swagger 2 JSON when APIM refuses OpenAPI 3 (400).
    async fn export_openapi(
        &self,
        scope: &ApimScope,
        api_id: &str,
    ) -> Result<ExportedDefinition, AzureError> {
        match self.export_via_link(scope, api_id, OPENAPI_LINK).await {
            Ok(content) => Ok(ExportedDefinition {
                format: DefinitionFormat::OpenApiJson,
                content,
            }),
            Err(e) if e.status() == Some(400) => {
                tracing::debug!(api = api_id, error = %e, "OpenAPI 3 export refused, trying Swagger 2");
                let content = self.export_via_link(scope, api_id, SWAGGER_LINK).await?;
                Ok(ExportedDefinition {
                    format: DefinitionFormat::SwaggerJson,
                    content,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// The document of the API's schema whose content type mentions one of `kinds`
    /// (else the only schema there is).
    async fn schema_document(
        &self,
        scope: &ApimScope,
        api_id: &str,
        kinds: &[&str],
    ) -> Result<Option<String>, AzureError> {
        let schemas = self.list_schemas(scope, api_id).await?;
        let matches = |s: &&ApimSchema| {
            let content_type = s
                .properties
                .content_type
                .as_deref()
                .unwrap_or_default()
                .to_ascii_lowercase();
            kinds.iter().any(|k| content_type.contains(k))
        };
        let chosen = schemas.iter().find(matches).or(if schemas.len() == 1 {
            schemas.first()
        } else {
            None
        });
        Ok(chosen
            .and_then(|s| s.properties.document.as_ref())
            .and_then(|d| d.value.clone())
            .filter(|v| !v.trim().is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_ids_are_checked_before_they_become_paths() {
        let id: ApimGatewayId = "/subscriptions/00000000-0000-0000-0000-000000000000/resourcegroups/rg1/providers/microsoft.apimanagement/Gateways/gateway-1/"
            .parse()
            .unwrap();
        assert_eq!(
            id.path(),
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/Microsoft.ApiManagement/gateways/gateway-1"
        );
        for bad in [
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/gateways/g/configConnections/c",
            "/subscriptions/s/resourceGroups/../providers/Microsoft.ApiManagement/gateways/g",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/gateways/g%2F..",
            "gateway-1",
            "",
        ] {
            assert!(bad.parse::<ApimGatewayId>().is_err(), "{bad}");
        }
    }
}
