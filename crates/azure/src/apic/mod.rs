//! API Center client: get / put / delete of apis, versions, definitions,
//! environments, deployments and metadata schemas, lists in the shapes the planner
//! reads, merge-style updates (see [`merge`]) and the importSpecification action.
//!
//! Paths are typed ([`ApicPath<P>`]) so a path and its property type travel together;
//! every segment is validated against API Center's name rule before any call.
//!
//! Two things here follow the 2024-03-01 contract rather than what a service happens
//! to accept: PUT bodies carry only the members the contract declares (see
//! [`put_body`]), and `If-Match` / `If-None-Match` — which the contract does not
//! declare — are treated as a bonus the client learns whether it may use (see
//! [`ConditionalHeaderSupport`]).

mod behaviour;
mod declared;
mod import;
pub mod merge;
mod observed;
pub mod types;

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use apilink_core::ids::ApiCenterServiceId;
use apilink_core::metadata::MetadataSchema;
use apilink_core::naming::is_valid_name;
use apilink_core::observed::ApicEntity;
use http::Method;
use http::header::{HeaderName, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::APIC_API_VERSION;
use crate::authorization::{Permission, list_permissions};
use crate::error::AzureError;
use crate::http::{ArmClient, ArmRequest, ArmResponse, ArmTransport};
use crate::paging::{list_all, list_filter_map};
use crate::resource::ArmResource;

pub use behaviour::{
    ConditionalBehaviour, ConditionalHeader, CustomPropertyBehaviour, STALE_ETAG,
    check_custom_property_kept, custom_property_kept,
};
pub use import::ImportAnswer;
pub use merge::MergeOutcome;
pub use types::*;

use behaviour::{Expectation, already_exists, write_observed};

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
    if is_valid_name(name) {
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
    /// The service answered as to an update (200, not 201): it existed, and since the
    /// service ignored or refused `If-None-Match: *` it was replaced.
    Replaced(ArmResource<P>),
}

/// Whether API Center accepts `If-Match` / `If-None-Match`, as learned from its
/// answers. The 2024-03-01 contract declares neither, so the client starts `Unknown`,
/// sends them, and learns from the first answer that tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConditionalHeaderSupport {
    /// Nothing learned yet: conditional headers are sent, and a 400 to one is probed.
    Unknown,
    /// A conditional request got a 2xx or a 412: the headers are sent. (A 2xx alone
    /// cannot tell "honoured" from "ignored"; only a 412 proves honouring.)
    Accepted,
    /// The service answered 400 to a conditional request and accepted the same request
    /// without the header: no conditional header is sent again by this client.
    Refused,
}

impl ConditionalHeaderSupport {
    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::Accepted,
            2 => Self::Refused,
            _ => Self::Unknown,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::Accepted => 1,
            Self::Refused => 2,
        }
    }
}

/// What one service's client family has learned about conditional headers.
#[derive(Debug, Default)]
struct ConditionalState {
    support: AtomicU8,
    /// Held while a conditional request is sent with support still `Unknown`, so
    /// concurrent writers wait for the first answer instead of all probing at once:
    /// learning costs at most one extra call per client.
    probe: tokio::sync::Mutex<()>,
    /// What writes showed about each header, by [`ConditionalHeader`] (see
    /// [`ConditionalBehaviour`]; 0: nothing yet).
    observed: [AtomicU8; 2],
}

impl ConditionalState {
    fn get(&self) -> ConditionalHeaderSupport {
        ConditionalHeaderSupport::from_u8(self.support.load(Ordering::Acquire))
    }

    /// Records what was learned; only an `Unknown` state changes.
    fn learn(&self, learned: ConditionalHeaderSupport) {
        let _ = self.support.compare_exchange(
            ConditionalHeaderSupport::Unknown.as_u8(),
            learned.as_u8(),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }
}

/// Clones, and every client built on the same [`ArmClient`] for the same service,
/// share what was learned about conditional headers.
#[derive(Debug, Clone)]
pub struct ApicClient {
    arm: ArmClient,
    service: ApiCenterServiceId,
    conditions: Arc<ConditionalState>,
}

/// The `properties` member to PUT: the serialised properties reduced to the members
/// the 2024-03-01 contract declares writable for `kind`, nested objects included.
/// Read-only members and members the service added to its answers since (kept on
/// read in the types' `extra`) are left out; `customProperties` is sent whole.
pub fn put_body<P: Serialize>(kind: ApicKind, properties: &P) -> Result<Value, AzureError> {
    let value = serde_json::to_value(properties)
        .map_err(|e| AzureError::InvalidInput(format!("unserialisable properties: {e}")))?;
    Ok(declared::keep_declared(declared::shape(kind), value))
}

fn condition_header(
    precondition: &Precondition,
) -> Result<Option<(HeaderName, HeaderValue)>, AzureError> {
    Ok(match precondition {
        Precondition::None => None,
        Precondition::IfMatch(etag) => {
            let value = HeaderValue::from_str(etag).map_err(|_| {
                AzureError::InvalidInput(format!("ETag {etag:?} is not a header value"))
            })?;
            Some((HeaderName::from_static("if-match"), value))
        }
        Precondition::IfNoneMatchAny => Some((
            HeaderName::from_static("if-none-match"),
            HeaderValue::from_static("*"),
        )),
    })
}

/// Both answers are the same refusal: the header was not what the service objected to.
fn same_refusal(first: &AzureError, second: &AzureError) -> bool {
    second.status() == Some(400)
        && match (first.arm_code(), second.arm_code()) {
            (Some(a), Some(b)) if !a.is_empty() || !b.is_empty() => a.eq_ignore_ascii_case(b),
            _ => first.arm_message() == second.arm_message(),
        }
}

/// An answer that says nothing about the headers: no definite answer (transport,
/// deadline, token), a server-side or throttling failure, or an authorization one.
fn inconclusive(error: &AzureError) -> bool {
    match error.status() {
        Some(status) => status >= 500 || matches!(status, 401 | 403 | 408 | 429),
        None => true,
    }
}

/// Whether a conditional request went out with its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderFate {
    Carried,
    /// Left out: the service refuses conditional headers, known before this request
    /// or learned from its 400.
    Withheld,
}

/// Sends `plain` with its conditional `header`, as far as the service is known (or
/// found) to accept such headers:
///
/// * `Refused`: sent without the header.
/// * `Accepted`: sent with it.
/// * `Unknown` (one writer at a time): sent with it. A 2xx or 412 records `Accepted`.
///   A 400 is probed by resending once without the header: if that succeeds, or
///   fails with a definite answer other than the same 400, the header was the cause
///   and `Refused` is recorded; the same 400 means the request itself is wrong (the
///   error is returned, support stays `Unknown`); a transient failure of the resend
///   proves nothing either way (returned, `Unknown`).
///
/// Also says whether the answer is to a request that carried the header.
async fn send_conditioned<T: ArmTransport>(
    transport: &T,
    conditions: &ConditionalState,
    plain: ArmRequest,
    (name, value): (HeaderName, HeaderValue),
    path: &str,
) -> (HeaderFate, Result<ArmResponse, AzureError>) {
    let _probe = match conditions.get() {
        ConditionalHeaderSupport::Refused => {
            return (HeaderFate::Withheld, transport.send(plain).await);
        }
        ConditionalHeaderSupport::Accepted => {
            let answer = transport.send(plain.with_header(name, value)).await;
            return (HeaderFate::Carried, answer);
        }
        ConditionalHeaderSupport::Unknown => conditions.probe.lock().await,
    };
    // Another writer may have learned something while this one waited.
    match conditions.get() {
        ConditionalHeaderSupport::Refused => {
            return (HeaderFate::Withheld, transport.send(plain).await);
        }
        ConditionalHeaderSupport::Accepted => {
            let answer = transport.send(plain.with_header(name, value)).await;
            return (HeaderFate::Carried, answer);
        }
        ConditionalHeaderSupport::Unknown => {}
    }
    let header_name = name.clone();
    match transport.send(plain.clone().with_header(name, value)).await {
        Ok(answer) => {
            conditions.learn(ConditionalHeaderSupport::Accepted);
            (HeaderFate::Carried, Ok(answer))
        }
        Err(e) if e.status() == Some(412) => {
            conditions.learn(ConditionalHeaderSupport::Accepted);
            (HeaderFate::Carried, Err(e))
        }
        Err(first) if first.status() == Some(400) => match transport.send(plain).await {
            Err(second) if same_refusal(&first, &second) => {
                tracing::debug!(
                    path,
                    code = second.arm_code().unwrap_or(""),
                    "400 with and without {header_name}: not the header"
                );
                (HeaderFate::Carried, Err(second))
            }
            Err(second) if inconclusive(&second) => (HeaderFate::Carried, Err(second)),
            plain_result => {
                conditions.learn(ConditionalHeaderSupport::Refused);
                tracing::warn!(
                    path,
                    code = first.arm_code().unwrap_or(""),
                    "API Center refused {header_name} (400); writing without conditional headers from now on, so concurrent changes are no longer detected"
                );
                (HeaderFate::Withheld, plain_result)
            }
        },
        Err(e) => (HeaderFate::Carried, Err(e)),
    }
}

impl ApicClient {
    pub fn new(arm: ArmClient, service: ApiCenterServiceId) -> Self {
        let conditions = arm.learned(&service.path().to_ascii_lowercase());
        Self {
            arm,
            service,
            conditions,
        }
    }

    /// What this client has learned about `If-Match` / `If-None-Match`.
    pub fn conditional_header_support(&self) -> ConditionalHeaderSupport {
        self.conditions.get()
    }

    fn url(&self, relative: &str) -> Result<url::Url, AzureError> {
        self.arm.url(
            &format!("{}{relative}", self.service.path()),
            APIC_API_VERSION,
            &[],
        )
    }

    /// The API Center service itself: location, SKU, data API host, provisioning state.
    pub async fn get_service(&self) -> Result<ApicService, AzureError> {
        let url = self.url("")?;
        ArmResource::from_response(&self.arm.send(ArmRequest::get(url)).await?)
    }

    /// The workspace `workspace`, or `None` if it does not exist.
    pub async fn get_workspace(
        &self,
        workspace: &str,
    ) -> Result<Option<ArmResource<WorkspaceProperties>>, AzureError> {
        let url = self.url(&workspace_path(workspace)?)?;
        match self.arm.send(ArmRequest::get(url)).await {
            Ok(answer) => Ok(Some(ArmResource::from_response(&answer)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The identity's effective permissions on the API Center service.
    pub async fn permissions(&self) -> Result<Vec<Permission>, AzureError> {
        list_permissions(&self.arm, &self.service.path()).await
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

    /// PUT (create or replace, synchronous) sending only `properties` (reduced to the
    /// declared members, see [`put_body`]). The precondition is sent as a header unless
    /// the service refused such headers (see [`ConditionalHeaderSupport`]).
    pub async fn put<P: Serialize + DeserializeOwned + Default>(
        &self,
        path: &ApicPath<P>,
        properties: &P,
        precondition: Precondition,
    ) -> Result<ArmResource<P>, AzureError> {
        let answer = self.put_answer(path, properties, &precondition).await?;
        ArmResource::from_response(&answer)
    }

    async fn put_answer<P: Serialize>(
        &self,
        path: &ApicPath<P>,
        properties: &P,
        precondition: &Precondition,
    ) -> Result<ArmResponse, AzureError> {
        let plain = self.put_request(path, properties)?;
        let written = write_observed(
            &self.arm,
            &self.conditions,
            plain,
            precondition,
            path.relative(),
            Expectation::Unknown,
        )
        .await?;
        written.result
    }

    /// The unconditional PUT of `properties` (reduced to the declared members).
    fn put_request<P: Serialize>(
        &self,
        path: &ApicPath<P>,
        properties: &P,
    ) -> Result<ArmRequest, AzureError> {
        let body = serde_json::json!({ "properties": put_body(path.kind, properties)? });
        Ok(ArmRequest::new(Method::PUT, self.url(&path.relative)?).with_body(body))
    }

    /// Creates the entity unless it exists (`If-None-Match: *`; 409/412 mean it
    /// exists). The 2024-03-01 contract does not declare the header: a service that
    /// ignores it (or refused it, see [`ConditionalHeaderSupport`]) replaces an
    /// existing entity instead, reported as [`CreateOutcome::Replaced`] when it answers
    /// 200 rather than 201. So callers use this only for entities a fresh list showed
    /// absent, keeping the window in which a concurrent creation could be replaced
    /// small; no read is added to tell the cases apart beforehand.
    pub async fn create_if_absent<P: Serialize + DeserializeOwned + Default>(
        &self,
        path: &ApicPath<P>,
        properties: &P,
    ) -> Result<CreateOutcome<P>, AzureError> {
        let plain = self.put_request(path, properties)?;
        let written = write_observed(
            &self.arm,
            &self.conditions,
            plain,
            &Precondition::IfNoneMatchAny,
            path.relative(),
            Expectation::Unknown,
        )
        .await?;
        match written.result {
            Ok(answer) => {
                let resource = ArmResource::from_response(&answer)?;
                Ok(if answer.status == 200 {
                    CreateOutcome::Replaced(resource)
                } else {
                    CreateOutcome::Created(resource)
                })
            }
            Err(e) if already_exists(&e) => Ok(CreateOutcome::AlreadyExists),
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

    /// Every entity of a collection of `kind`, across pages, with only the members
    /// planning reads (see [`apilink_core::observed::planned_members`]): a list is never
    /// the base of a write, which reads its entity again in full.
    async fn list(
        &self,
        relative_collection: &str,
        kind: ApicKind,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        let url = self.url(relative_collection)?;
        list_filter_map(&self.arm, url, |item: ArmResource<Value>| {
            Some(observed::listed_entity(kind, item))
        })
        .await
    }

    pub async fn list_apis(&self, workspace: &str) -> Result<Vec<ApicEntity>, AzureError> {
        self.list(
            &format!("{}/apis", workspace_path(workspace)?),
            ApicKind::Api,
        )
        .await
    }

    pub async fn list_versions(
        &self,
        workspace: &str,
        api: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        self.list(
            &format!("{}/versions", api_path(workspace, api)?),
            ApicKind::Version,
        )
        .await
    }

    pub async fn list_definitions(
        &self,
        workspace: &str,
        api: &str,
        version: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        self.list(
            &format!("{}/definitions", version_path(workspace, api, version)?),
            ApicKind::Definition,
        )
        .await
    }

    /// Deployments hang off the API, not the version.
    pub async fn list_deployments(
        &self,
        workspace: &str,
        api: &str,
    ) -> Result<Vec<ApicEntity>, AzureError> {
        self.list(
            &format!("{}/deployments", api_path(workspace, api)?),
            ApicKind::Deployment,
        )
        .await
    }

    /// Every metadata schema of the service (schemas are service-level).
    pub async fn list_metadata_schemas(&self) -> Result<Vec<MetadataSchema>, AzureError> {
        let url = self.url("/metadataSchemas")?;
        let items: Vec<ArmResource<MetadataSchemaProperties>> = list_all(&self.arm, url).await?;
        Ok(items.into_iter().map(MetadataSchema::from).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use crate::error::{ArmErrorBody, HttpError};

    #[test]
    fn path_segments_follow_the_api_center_name_rule() {
        assert_eq!(checked("echo-api", "API").unwrap(), "echo-api");
        for bad in ["echo-api;rev=3", "my_api", "v1", &"a".repeat(91)] {
            let err = checked(bad, "API").unwrap_err();
            assert!(err.to_string().contains("3-90"), "{bad}: {err}");
        }
    }

    /// The exact PUT body written for `read` (a GET's `properties`), through the typed
    /// properties and through untyped JSON alike.
    fn put_wire<P: DeserializeOwned + Serialize>(kind: ApicKind, read: &str) -> String {
        let typed: P = serde_json::from_str(read).unwrap();
        let untyped: Value = serde_json::from_str(read).unwrap();
        let wire = |properties: Value| {
            serde_json::to_string(&json!({ "properties": properties })).unwrap()
        };
        let from_typed = wire(put_body(kind, &typed).unwrap());
        assert_eq!(
            from_typed,
            wire(put_body(kind, &untyped).unwrap()),
            "{read}"
        );
        from_typed
    }

    #[test]
    fn put_bodies_carry_only_declared_members() {
        assert_eq!(
            put_wire::<ApiProperties>(
                ApicKind::Api,
                r#"{"title":"Echo","kind":"rest","description":"d","summary":"s","lifecycleStage":"design","termsOfService":{"url":"https://t","x":1},"externalDocumentation":[{"title":"T","description":"D","url":"https://e","x":2}],"contacts":[{"name":"A","url":"https://c","email":"a@b","pager":"1"}],"license":{"name":"MIT","url":"https://l","identifier":"MIT","x":3},"customProperties":{"owner":{"team":"x","extra":1}},"newServiceField":{"x":1}}"#
            ),
            r#"{"properties":{"contacts":[{"email":"a@b","name":"A","url":"https://c"}],"customProperties":{"owner":{"extra":1,"team":"x"}},"description":"d","externalDocumentation":[{"description":"D","title":"T","url":"https://e"}],"kind":"rest","license":{"identifier":"MIT","name":"MIT","url":"https://l"},"summary":"s","termsOfService":{"url":"https://t"},"title":"Echo"}}"#
        );
        assert_eq!(
            put_wire::<ApiVersionProperties>(
                ApicKind::Version,
                r#"{"title":"v1","lifecycleStage":"production","x":1}"#
            ),
            r#"{"properties":{"lifecycleStage":"production","title":"v1"}}"#
        );
        assert_eq!(
            put_wire::<ApiDefinitionProperties>(
                ApicKind::Definition,
                r#"{"title":"OpenAPI","description":"d","specification":{"name":"openapi","version":"3.0.1"},"x":1}"#
            ),
            r#"{"properties":{"description":"d","title":"OpenAPI"}}"#
        );
        assert_eq!(
            put_wire::<EnvironmentProperties>(
                ApicKind::Environment,
                r#"{"title":"APIM","kind":"production","description":"d","server":{"type":"Azure API Management","managementPortalUri":["https://m"],"x":3},"onboarding":{"instructions":"i","developerPortalUri":["https://p"],"x":4},"customProperties":{"k":"v"},"provisioningState":"Succeeded"}"#
            ),
            r#"{"properties":{"customProperties":{"k":"v"},"description":"d","kind":"production","onboarding":{"developerPortalUri":["https://p"],"instructions":"i"},"server":{"managementPortalUri":["https://m"],"type":"Azure API Management"},"title":"APIM"}}"#
        );
        assert_eq!(
            put_wire::<DeploymentProperties>(
                ApicKind::Deployment,
                r#"{"title":"D","description":"d","environmentId":"/workspaces/default/environments/e","definitionId":"/workspaces/default/apis/a/versions/v/definitions/d","state":"active","server":{"runtimeUri":["https://r"],"x":2},"customProperties":{},"x":1}"#
            ),
            r#"{"properties":{"customProperties":{},"definitionId":"/workspaces/default/apis/a/versions/v/definitions/d","description":"d","environmentId":"/workspaces/default/environments/e","server":{"runtimeUri":["https://r"]},"state":"active","title":"D"}}"#
        );
        assert_eq!(
            put_wire::<MetadataSchemaProperties>(
                ApicKind::MetadataSchema,
                r#"{"schema":"{\"type\":\"string\"}","assignedTo":[{"entity":"api","required":true,"deprecated":false,"x":2}],"x":1}"#
            ),
            r#"{"properties":{"assignedTo":[{"deprecated":false,"entity":"api","required":true}],"schema":"{\"type\":\"string\"}"}}"#
        );
        // A minimal body stays minimal.
        assert_eq!(
            put_wire::<ApiProperties>(ApicKind::Api, r#"{"title":"Echo","kind":"rest"}"#),
            r#"{"properties":{"kind":"rest","title":"Echo"}}"#
        );
    }

    #[test]
    fn values_of_an_undeclared_type_are_left_to_the_service() {
        let body = json!({"title": "Echo", "kind": "rest", "contacts": "someone", "license": null});
        assert_eq!(put_body(ApicKind::Api, &body).unwrap(), body);
        assert_eq!(put_body(ApicKind::Api, &json!(null)).unwrap(), json!(null));
    }

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
    fn http_error(status: u16, code: &str) -> AzureError {
        AzureError::Http(Box::new(HttpError {
            method: "PUT".into(),
            path: "/apis/echo".into(),
            status,
            error: ArmErrorBody {
                code: code.into(),
                message: format!("{code} message"),
                ..Default::default()
            },
            request_id: Some("rid".into()),
            client_request_id: "cid".into(),
            retry_after: None,
        }))
    }

    fn ok(status: u16) -> Result<ArmResponse, AzureError> {
        Ok(ArmResponse {
            status,
            headers: http::HeaderMap::new(),
            body: bytes::Bytes::from_static(b"{}"),
            method: Method::PUT,
            path: "/apis/echo".into(),
        })
    }

    /// A service as far as conditional headers go: answers by whether the request
    /// carries one, and records which requests did.
    struct Service {
        answer: Box<dyn Fn(bool) -> Result<ArmResponse, AzureError> + Send + Sync>,
        /// Answers used before `answer`, in order.
        scripted: Mutex<VecDeque<Result<ArmResponse, AzureError>>>,
        sent: Mutex<Vec<bool>>,
    }

    impl Service {
        fn new(
            answer: impl Fn(bool) -> Result<ArmResponse, AzureError> + Send + Sync + 'static,
        ) -> Self {
            Self {
                answer: Box::new(answer),
                scripted: Mutex::new(VecDeque::new()),
                sent: Mutex::new(Vec::new()),
            }
        }

        fn scripted(answers: Vec<Result<ArmResponse, AzureError>>) -> Self {
            let service = Self::new(|_| panic!("the script ran out"));
            *service.scripted.lock().unwrap() = answers.into();
            service
        }

        /// For each request sent: did it carry a conditional header?
        fn sent(&self) -> Vec<bool> {
            self.sent.lock().unwrap().clone()
        }
    }

    impl ArmTransport for Service {
        fn send(
            &self,
            request: ArmRequest,
        ) -> impl std::future::Future<Output = Result<ArmResponse, AzureError>> + Send {
            let conditional = request
                .headers
                .iter()
                .any(|(name, _)| name == "if-match" || name == "if-none-match");
            self.sent.lock().unwrap().push(conditional);
            let next = self.scripted.lock().unwrap().pop_front();
            let result = next.unwrap_or_else(|| (self.answer)(conditional));
            async move {
                // Let concurrent writers interleave as they would over the network.
                tokio::task::yield_now().await;
                result
            }
        }
    }

    fn put_request() -> ArmRequest {
        ArmRequest::new(
            Method::PUT,
            url::Url::parse("https://arm.test/apis/echo").unwrap(),
        )
        .with_body(json!({"properties": {"title": "Echo"}}))
    }

    fn if_match() -> (HeaderName, HeaderValue) {
        condition_header(&Precondition::IfMatch("\"etag-1\"".into()))
            .unwrap()
            .unwrap()
    }

    async fn write(service: &Service, state: &ConditionalState) -> Result<ArmResponse, AzureError> {
        send_conditioned(service, state, put_request(), if_match(), "/apis/echo")
            .await
            .1
    }

    #[tokio::test]
    async fn a_service_honouring_conditions_is_learned_from_a_412() {
        let service = Service::new(|conditional| {
            if conditional {
                Err(http_error(412, "PreconditionFailed"))
            } else {
                ok(200)
            }
        });
        let state = ConditionalState::default();
        let err = write(&service, &state).await.unwrap_err();
        assert_eq!(err.status(), Some(412), "412 goes to the caller's re-read");
        assert_eq!(state.get(), ConditionalHeaderSupport::Accepted);
        write(&service, &state).await.unwrap_err();
        assert_eq!(service.sent(), [true, true], "no extra call");
    }

    #[tokio::test]
    async fn a_service_ignoring_conditions_is_accepted_from_a_2xx() {
        let service = Service::new(|_| ok(200));
        let state = ConditionalState::default();
        write(&service, &state).await.unwrap();
        assert_eq!(state.get(), ConditionalHeaderSupport::Accepted);
        write(&service, &state).await.unwrap();
        assert_eq!(service.sent(), [true, true]);
    }

    #[tokio::test]
    async fn a_service_refusing_conditions_costs_one_extra_call_per_client() {
        let service = Service::new(|conditional| {
            if conditional {
                Err(http_error(400, "InvalidHeaderValue"))
            } else {
                ok(201)
            }
        });
        let state = ConditionalState::default();
        assert_eq!(write(&service, &state).await.unwrap().status, 201);
        assert_eq!(state.get(), ConditionalHeaderSupport::Refused);
        assert_eq!(service.sent(), [true, false]);
        write(&service, &state).await.unwrap();
        write(&service, &state).await.unwrap();
        assert_eq!(service.sent(), [true, false, false, false]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_probe_once() {
        let service = std::sync::Arc::new(Service::new(|conditional| {
            if conditional {
                Err(http_error(400, "InvalidHeaderValue"))
            } else {
                ok(200)
            }
        }));
        let state = std::sync::Arc::new(ConditionalState::default());
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let (service, state) = (service.clone(), state.clone());
                tokio::spawn(async move { write(&service, &state).await.map(|a| a.status) })
            })
            .collect();
        for writer in writers {
            assert_eq!(writer.await.unwrap().unwrap(), 200);
        }
        let sent = service.sent();
        assert_eq!(sent.len(), 9, "{sent:?}");
        assert_eq!(sent.iter().filter(|c| **c).count(), 1, "{sent:?}");
    }

    #[tokio::test]
    async fn the_same_400_without_the_header_is_the_request_not_the_header() {
        let service = Service::new(|_| Err(http_error(400, "ValidationError")));
        let state = ConditionalState::default();
        let err = write(&service, &state).await.unwrap_err();
        assert_eq!(err.arm_code(), Some("ValidationError"));
        assert_eq!(state.get(), ConditionalHeaderSupport::Unknown);
        assert_eq!(service.sent(), [true, false]);
    }

    #[tokio::test]
    async fn another_definite_failure_without_the_header_means_refused() {
        let service = Service::scripted(vec![
            Err(http_error(400, "InvalidHeaderValue")),
            Err(http_error(404, "ParentResourceNotFound")),
        ]);
        let state = ConditionalState::default();
        let err = write(&service, &state).await.unwrap_err();
        assert_eq!(err.status(), Some(404));
        assert_eq!(state.get(), ConditionalHeaderSupport::Refused);
    }

    #[tokio::test]
    async fn a_transient_failure_without_the_header_proves_nothing() {
        for transient in [503, 429, 403] {
            let service = Service::scripted(vec![
                Err(http_error(400, "InvalidHeaderValue")),
                Err(http_error(transient, "")),
            ]);
            let state = ConditionalState::default();
            let err = write(&service, &state).await.unwrap_err();
            assert_eq!(err.status(), Some(transient));
            assert_eq!(state.get(), ConditionalHeaderSupport::Unknown);
        }
    }

    #[tokio::test]
    async fn other_failures_of_a_conditional_request_are_not_probed() {
        for status in [409, 404, 500] {
            let service = Service::scripted(vec![Err(http_error(status, "x"))]);
            let state = ConditionalState::default();
            write(&service, &state).await.unwrap_err();
            assert_eq!(state.get(), ConditionalHeaderSupport::Unknown);
            assert_eq!(service.sent(), [true]);
        }
    }

    #[test]
    fn learned_support_never_goes_back() {
        let state = ConditionalState::default();
        state.learn(ConditionalHeaderSupport::Refused);
        state.learn(ConditionalHeaderSupport::Accepted);
        assert_eq!(state.get(), ConditionalHeaderSupport::Refused);
    }
}
