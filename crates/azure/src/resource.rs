//! The ARM resource envelope `{id, name, type, location, sku, systemData, properties}`
//! shared by APIM and API Center, plus the entity tag from the `ETag` header.

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
    /// Tracked resources (services) only; their children have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The pricing plan of a service; its children have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<Sku>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_data: Option<serde_json::Value>,
    #[serde(default)]
    pub properties: P,
    /// From the `ETag` header (or an `etag` member when the body carries one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// A resource's pricing plan: `{name, capacity?, tier?}` (APIM: `Developer`,
/// `Premium`, ... with `capacity` units; API Center: `Free` or `Standard`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sku {
    pub name: Option<String>,
    /// Units (APIM scale units).
    pub capacity: Option<u64>,
    pub tier: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl<P> ArmResource<P> {
    /// The SKU's name, e.g. `Developer` or `Free`.
    pub fn sku_name(&self) -> Option<&str> {
        self.sku.as_ref().and_then(|sku| sku.name.as_deref())
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn services_carry_location_and_sku() {
        let service: ArmResource<serde_json::Value> = serde_json::from_value(json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/x",
            "name": "x",
            "location": "West Europe",
            "sku": {"name": "Developer", "capacity": 1},
            "properties": {}
        }))
        .unwrap();
        assert_eq!(service.location.as_deref(), Some("West Europe"));
        assert_eq!(service.sku_name(), Some("Developer"));
        assert_eq!(service.sku.as_ref().and_then(|s| s.capacity), Some(1));
        // Children have neither, and none is written for them.
        let child: ArmResource<serde_json::Value> =
            serde_json::from_value(json!({"name": "a", "sku": null, "properties": {}})).unwrap();
        assert_eq!((child.location.as_deref(), child.sku_name()), (None, None));
        assert_eq!(
            serde_json::to_value(&child).unwrap(),
            json!({"id": "", "name": "a", "type": "", "properties": {}})
        );
    }
}
