//! The ARM resource envelope `{id, name, type, systemData, properties}` shared by
//! APIM and API Center, plus the entity tag from the `ETag` header.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::AzureError;
use crate::http::ArmResponse;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(bound(deserialize = "P: DeserializeOwned + Default"))]
pub struct ArmResource<P> {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, rename = "type")]
    pub resource_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_data: Option<serde_json::Value>,
    #[serde(default)]
    pub properties: P,
    /// From the `ETag` header (or an `etag` member when the body carries one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl<P: DeserializeOwned + Default> ArmResource<P> {
    /// Reads a resource answer, taking the entity tag from the `ETag` header.
    pub fn from_response(response: &ArmResponse) -> Result<Self, AzureError> {
        let mut resource: Self = response.json()?;
        if let Some(etag) = response.etag() {
            resource.etag = Some(etag);
        }
        Ok(resource)
    }
}
