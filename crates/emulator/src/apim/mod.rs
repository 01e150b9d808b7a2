//! Microsoft.ApiManagement (2024-05-01), read over ARM and changed through the admin
//! routes or [`ApimHandle`] ("someone changed APIM").

mod catalog;
mod documents;
mod export;
mod filter;
mod gateways;
mod literal;
mod load;
pub mod model;
mod mutate;
mod render;
mod routes;
mod seed;
mod synthetic;

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use thiserror::Error;

pub(crate) use documents::xml_escape as documents_xml_escape;
pub use model::CertificateSource;
pub use mutate::{ApiPatch, DefinitionUpdate, NewRevision};
pub(crate) use routes::{ApimContext, router};
pub use seed::{
    ApiSeed, OperationDetail, OperationSeed, ProductSeed, ProxyHostnameSeed, RevisionSeed, Seed,
    ServiceSeed, TagSeed, VersionSetSeed, WorkspaceGatewaySeed, WorkspaceSeed,
};

use model::ApimState;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ApimError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0}")]
    Invalid(String),
}

struct Inner {
    state: ApimState,
    generation: u64,
}

/// The APIM side of the emulator, shared by the ARM routes, the admin routes and handles.
pub(crate) struct ApimStore {
    inner: RwLock<Inner>,
    subscription_id: String,
    resource_group: String,
}

impl ApimStore {
    pub fn new(
        seed: &Seed,
        subscription_id: &str,
        resource_group: &str,
    ) -> Result<Self, ApimError> {
        let mut generation = 0;
        let state = load::build_state(seed, &mut load::Generations(&mut generation))?;
        Ok(Self {
            inner: RwLock::new(Inner { state, generation }),
            subscription_id: subscription_id.to_string(),
            resource_group: resource_group.to_string(),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn service_id(&self, service: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{service}",
            self.subscription_id, self.resource_group
        )
    }

    /// The ARM id of a workspace gateway (a top-level resource in the same group).
    pub fn gateway_id(&self, gateway: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/gateways/{gateway}",
            self.subscription_id, self.resource_group
        )
    }

    pub fn service_names(&self) -> Vec<String> {
        self.read()
            .state
            .services
            .values()
            .map(|s| s.name.clone())
            .collect()
    }
}

/// Changes the emulated APIM as its users would ("someone changed APIM"). Every change is
/// visible to the next ARM read. `workspace` selects a workspace's APIs; `None` is the
/// service level.
#[derive(Clone)]
pub struct ApimHandle {
    store: Arc<ApimStore>,
}

impl ApimHandle {
    pub(crate) fn new(store: Arc<ApimStore>) -> Self {
        Self { store }
    }

    /// Replaces everything with `seed`; on error nothing changes.
    pub fn replace_seed(&self, seed: &Seed) -> Result<(), ApimError> {
        let mut inner = self.store.write();
        let mut generation = inner.generation;
        let state = load::build_state(seed, &mut load::Generations(&mut generation))?;
        inner.state = state;
        inner.generation = generation;
        Ok(())
    }

    /// The current state as a seed.
    pub fn seed(&self) -> Seed {
        load::dump_state(&self.store.read().state)
    }

    /// The ARM id of an APIM service.
    pub fn resource_id(&self, service: &str) -> String {
        self.store.service_id(service)
    }

    /// The ARM id of a workspace gateway (`Microsoft.ApiManagement/gateways/{name}`).
    pub fn gateway_resource_id(&self, gateway: &str) -> String {
        self.store.gateway_id(gateway)
    }

    pub fn service_names(&self) -> Vec<String> {
        self.store.service_names()
    }

    /// Ids of the APIs (not revisions) of a service or workspace.
    pub fn api_ids(
        &self,
        service: &str,
        workspace: Option<&str>,
    ) -> Result<Vec<String>, ApimError> {
        let inner = self.store.read();
        let scope = mutate::scope(&inner.state, service, workspace)?;
        Ok(scope.apis.values().map(|a| a.id.clone()).collect())
    }

    /// Creates or replaces an API; true when created.
    pub fn upsert_api(
        &self,
        service: &str,
        workspace: Option<&str>,
        api: &ApiSeed,
    ) -> Result<bool, ApimError> {
        self.mutate(|state, g| mutate::upsert_api(state, g, service, workspace, api))
    }

    /// Changes the current revision of an API.
    pub fn update_api(
        &self,
        service: &str,
        workspace: Option<&str>,
        api_id: &str,
        patch: &ApiPatch,
    ) -> Result<(), ApimError> {
        self.mutate(|state, g| mutate::update_api(state, g, service, workspace, api_id, patch))
    }

    /// Deletes an API with all its revisions.
    pub fn delete_api(
        &self,
        service: &str,
        workspace: Option<&str>,
        api_id: &str,
    ) -> Result<(), ApimError> {
        self.mutate(|state, _| mutate::delete_api(state, service, workspace, api_id))
    }

    /// Adds a revision copied from the current one (with optional changes); returns its
    /// number.
    pub fn add_revision(
        &self,
        service: &str,
        workspace: Option<&str>,
        api_id: &str,
        revision: &NewRevision,
    ) -> Result<u32, ApimError> {
        self.mutate(|state, g| mutate::add_revision(state, g, service, workspace, api_id, revision))
    }

    /// Makes a revision the current one (APIM's "release").
    pub fn make_revision_current(
        &self,
        service: &str,
        workspace: Option<&str>,
        api_id: &str,
        rev: u32,
    ) -> Result<(), ApimError> {
        self.mutate(|state, g| mutate::make_current(state, g, service, workspace, api_id, rev))
    }

    /// Replaces the definition (operations or literal content) of the current revision.
    pub fn set_definition(
        &self,
        service: &str,
        workspace: Option<&str>,
        api_id: &str,
        definition: &DefinitionUpdate,
    ) -> Result<(), ApimError> {
        self.mutate(|state, g| {
            mutate::set_definition(state, g, service, workspace, api_id, definition)
        })
    }

    /// Creates or replaces a version set; true when created.
    pub fn upsert_version_set(
        &self,
        service: &str,
        workspace: Option<&str>,
        version_set: &VersionSetSeed,
    ) -> Result<bool, ApimError> {
        self.mutate(|state, _| mutate::upsert_version_set(state, service, workspace, version_set))
    }

    /// Deletes a version set no API uses.
    pub fn delete_version_set(
        &self,
        service: &str,
        workspace: Option<&str>,
        id: &str,
    ) -> Result<(), ApimError> {
        self.mutate(|state, _| mutate::delete_version_set(state, service, workspace, id))
    }

    /// Tags the service-level API `api_id` with tag `tag` (created, named
    /// `display_name` or else its id, when the service lacks it); true when the API did
    /// not carry it yet.
    pub fn add_api_tag(
        &self,
        service: &str,
        api_id: &str,
        tag: &str,
        display_name: Option<&str>,
    ) -> Result<bool, ApimError> {
        self.mutate(|state, _| catalog::add_api_tag(state, service, api_id, tag, display_name))
    }

    /// Takes tag `tag` off the service-level API `api_id`; true when it was on it.
    pub fn remove_api_tag(
        &self,
        service: &str,
        api_id: &str,
        tag: &str,
    ) -> Result<bool, ApimError> {
        self.mutate(|state, _| catalog::remove_api_tag(state, service, api_id, tag))
    }

    /// Creates or replaces a service-level product with its APIs; true when created.
    pub fn upsert_product(&self, service: &str, product: &ProductSeed) -> Result<bool, ApimError> {
        self.mutate(|state, _| catalog::upsert_product(state, service, product))
    }

    /// Deletes a product; its APIs stay.
    pub fn delete_product(&self, service: &str, product: &str) -> Result<(), ApimError> {
        self.mutate(|state, _| catalog::delete_product(state, service, product))
    }

    fn mutate<T>(
        &self,
        change: impl FnOnce(&mut ApimState, &mut load::Generations<'_>) -> Result<T, ApimError>,
    ) -> Result<T, ApimError> {
        let mut inner = self.store.write();
        let Inner { state, generation } = &mut *inner;
        change(state, &mut load::Generations(generation))
    }
}

impl Default for Seed {
    /// A small APIM: service `contoso-apim` with version set `petstore` (`petstore-v1`,
    /// `petstore-v2`), `echo-api` (current revision 1 plus a non-current revision 2),
    /// `weather-soap` (SOAP) and `catalog-graphql` (GraphQL); tags `Public` (on
    /// `echo-api` and product `starter`), `Pets` (both Petstore versions) and `Beta`
    /// (`petstore-v2`); products `starter` (`echo-api`, `petstore-v2`) and `unlimited`
    /// (both Petstore versions, `weather-soap`).
    fn default() -> Self {
        let parsed = serde_yaml::from_str(include_str!("default_seed.yaml"));
        // The embedded seed is checked by a unit test; an empty seed is the safe fallback.
        parsed.unwrap_or(Seed {
            services: Vec::new(),
        })
    }
}

impl Seed {
    pub fn from_yaml(text: &str) -> Result<Self, crate::EmulatorError> {
        serde_yaml::from_str(text).map_err(|e| crate::EmulatorError::Seed(e.to_string()))
    }

    pub fn from_file(path: &std::path::Path) -> Result<Self, crate::EmulatorError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| crate::EmulatorError::SeedFile {
                path: path.to_path_buf(),
                source,
            })?;
        Self::from_yaml(&text)
    }

    /// The bundled demo APIM (`fixtures/demo-apim.yaml`).
    pub fn demo() -> Self {
        let parsed = serde_yaml::from_str(include_str!("../../fixtures/demo-apim.yaml"));
        parsed.unwrap_or(Seed {
            services: Vec::new(),
        })
    }

    /// The bundled two-stage APIM of the demo's shared-APIs section
    /// (`fixtures/demo-stages.yaml`: a prod and a dev service of one shop).
    pub fn demo_stages() -> Self {
        let parsed = serde_yaml::from_str(include_str!("../../fixtures/demo-stages.yaml"));
        parsed.unwrap_or(Seed {
            services: Vec::new(),
        })
    }

    /// A large realistic APIM for benchmarks; see [`synthetic`](synthetic::synthetic).
    pub fn synthetic(n_apis: usize) -> Self {
        synthetic::synthetic(n_apis)
    }

    /// Checks the seed the way loading it would.
    pub fn validate(&self) -> Result<(), ApimError> {
        let mut generation = 0;
        load::build_state(self, &mut load::Generations(&mut generation)).map(|_| ())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn embedded_seeds_load() {
        let default = Seed::default();
        assert_eq!(default.services.len(), 1);
        default.validate().unwrap();
        let demo = Seed::demo();
        assert!(!demo.services.is_empty());
        demo.validate().unwrap();
        let stages = Seed::demo_stages();
        assert_eq!(stages.services.len(), 2);
        stages.validate().unwrap();
    }
}
