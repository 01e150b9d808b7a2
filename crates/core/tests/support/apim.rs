//! A model of an APIM instance that can answer export requests.

use std::collections::BTreeMap;

use apilink_core::hash::content_hash;
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping::{SpecKind, spec_kind};
use apilink_core::observed::{
    ApimApi, ApimService, ApimVersionSet, ExportedDefinition, ObservedApim, SpecificationRef,
};
use apilink_core::planner::{ExportRequest, Exports};

#[derive(Debug, Clone, Default)]
pub struct ApimModel {
    pub service: ApimService,
    pub apis: Vec<ApimApi>,
    pub version_sets: Vec<ApimVersionSet>,
    /// Extra salt mixed into every API's exported content: changing it changes content
    /// without leaving a trace in the API list.
    pub content_salt: u8,
}

impl ApimModel {
    /// The list-level observation (no exports).
    pub fn observed(&self) -> ObservedApim {
        ObservedApim {
            service: self.service.clone(),
            apis: self.apis.clone(),
            version_sets: self.version_sets.clone(),
            exports: BTreeMap::new(),
        }
    }

    /// The content hash the current revision of `api` exports, if it exists.
    pub fn content_of(&self, api: &ApimApiRef) -> Option<ExportedDefinition> {
        let current = self
            .apis
            .iter()
            .find(|a| a.is_current && a.api_ref() == *api)?;
        let kind = spec_kind(current.api_type.as_deref())?;
        let text = format!(
            "{api}|{:?}|{:?}|{}|{}",
            current.api_revision,
            current.api_type,
            current.description.as_deref().unwrap_or(""),
            self.content_salt
        );
        Some(ExportedDefinition {
            specification: SpecificationRef {
                name: kind.specification_name().into(),
                version: (kind == SpecKind::OpenApi).then(|| "3.0.1".to_string()),
            },
            content_hash: content_hash(text.as_bytes()),
        })
    }

    /// Answers export requests, as the engine would after exporting from APIM.
    pub fn export(&self, requests: &[ExportRequest]) -> Exports {
        requests
            .iter()
            .filter_map(|r| self.content_of(&r.api).map(|c| (r.api.clone(), c)))
            .collect()
    }
}

pub fn api(id: &str, display: &str, path: &str, api_type: Option<&str>) -> ApimApi {
    ApimApi {
        workspace: None,
        name: id.into(),
        display_name: display.into(),
        description: None,
        path: path.into(),
        api_type: api_type.map(str::to_string),
        api_revision: Some("1".into()),
        is_current: true,
        api_version: None,
        api_version_set_id: None,
        contact: None,
        license: None,
        terms_of_service_url: None,
    }
}

pub fn version_set_id(name: &str) -> String {
    format!("{}/apiVersionSets/{name}", super::APIM_ID)
}

pub fn member(id: &str, set: &str, version: Option<&str>, api_type: Option<&str>) -> ApimApi {
    ApimApi {
        api_version: version.map(str::to_string),
        api_version_set_id: Some(version_set_id(set)),
        ..api(id, &format!("{id} title"), set, api_type)
    }
}

pub fn set(name: &str, display: &str, scheme: Option<&str>) -> ApimVersionSet {
    ApimVersionSet {
        workspace: None,
        name: name.into(),
        display_name: display.into(),
        description: None,
        versioning_scheme: scheme.map(str::to_string),
    }
}

pub fn service() -> ApimService {
    ApimService {
        gateway_url: Some("https://payments.azure-api.net".into()),
        developer_portal_url: Some("https://payments.developer.azure-api.net".into()),
        management_portal_url: Some(
            "https://portal.azure.com/#resource/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ApiManagement/service/payments"
                .into(),
        ),
        hostnames: Vec::new(),
        workspace_gateways: BTreeMap::new(),
    }
}
