//! APIM tags and products, read for links that map them to API Center custom properties
//! (`spec.apimMetadata`): the API-level associations of `tagResources`, the products,
//! and the APIs of each product. Service level only: in 2024-05-01 workspaces have no
//! `tagResources` and link products to APIs through `apiLinks`, a different contract.
//! Each list is read across all pages and converted page by page.

use apilink_core::ids::ApimApiRef;
use apilink_core::observed::{ApimApiTag, ApimProduct};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ApimApi, ApimClient};
use crate::error::AzureError;
use crate::http::encode_segment;
use crate::paging::list_filter_map;
use crate::resource::ArmResource;

/// One item of `GET {service}/tagResources` (`TagResourceContract`): a tag and the one
/// API, operation or product it is on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TagResource {
    pub tag: Option<TagReference>,
    pub api: Option<TaggedApi>,
    pub operation: Option<Value>,
    pub product: Option<Value>,
}

/// The tag of a [`TagResource`]: `id` (`/tags/{tagId}`) and `name`, its display name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TagReference {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// The API of an API-level [`TagResource`] (`ApiTagResourceContractProperties`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaggedApi {
    /// `/apis/{apiId}` (a revision: `/apis/{apiId};rev={n}`).
    pub id: Option<String>,
    /// The API's display name.
    pub name: Option<String>,
    pub api_revision: Option<String>,
    pub is_current: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The last segment of an id (`/tags/payments` → `payments`).
fn last_segment(id: &str) -> Option<&str> {
    id.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
}

/// The API id an `/apis/{apiId}[;rev=n]` id names, and whether it names a revision.
fn api_id_of(id: &str) -> Option<(&str, bool)> {
    let (_, rest) = id.rsplit_once("/apis/")?;
    let segment = rest.split('/').next().filter(|s| !s.is_empty())?;
    Some(match segment.split_once(';') {
        Some((api, _)) => (api, true),
        None => (segment, false),
    })
}

impl TagResource {
    /// The tag on a current API, with the tag's display name (its id when the name is
    /// missing); `None` for a tag on an operation or a product, or on a revision that is
    /// not current.
    pub fn api_tag(&self) -> Option<ApimApiTag> {
        if self.operation.is_some() || self.product.is_some() {
            return None;
        }
        let api = self.api.as_ref()?;
        let (api_id, names_revision) = api_id_of(api.id.as_deref()?)?;
        if !api.is_current.unwrap_or(!names_revision) {
            return None;
        }
        let tag = self.tag.as_ref()?;
        let name = tag
            .name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| tag.id.as_deref().and_then(last_segment))?;
        Some(ApimApiTag {
            api: ApimApiRef {
                workspace: None,
                api_id: api_id.to_string(),
            },
            tag: name.to_string(),
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProductProperties {
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// `published` or `notPublished`.
    pub state: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

pub type ApimProductResource = ArmResource<ProductProperties>;

impl ApimProductResource {
    /// The product as the planner reads it: its id and display name (its id when the
    /// display name is missing).
    pub fn into_observed(self) -> ApimProduct {
        let display_name = self
            .properties
            .display_name
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| self.name.clone());
        ApimProduct {
            id: self.name,
            display_name,
        }
    }
}

/// `$top` as a query pair, when asked for.
fn top_query(top: Option<u32>) -> Option<String> {
    top.map(|t| t.to_string())
}

impl ApimClient {
    /// `GET {service}/tagResources` across pages, keeping the tags on current APIs.
    pub async fn list_api_tags(&self, top: Option<u32>) -> Result<Vec<ApimApiTag>, AzureError> {
        let top = top_query(top);
        let query: Vec<(&str, &str)> = top.iter().map(|t| ("$top", t.as_str())).collect();
        let url = self.url(&format!("{}/tagResources", self.service.path()), &query)?;
        list_filter_map(&self.arm, url, |item: TagResource| item.api_tag()).await
    }

    /// `GET {service}/products` across pages.
    pub async fn list_products(&self, top: Option<u32>) -> Result<Vec<ApimProduct>, AzureError> {
        let top = top_query(top);
        let query: Vec<(&str, &str)> = top.iter().map(|t| ("$top", t.as_str())).collect();
        let url = self.url(&format!("{}/products", self.service.path()), &query)?;
        list_filter_map(&self.arm, url, |product: ApimProductResource| {
            Some(product.into_observed())
        })
        .await
    }

    /// `GET {service}/products/{productId}/apis` across pages: the APIs of one product
    /// (current revisions).
    pub async fn list_product_apis(
        &self,
        product_id: &str,
        top: Option<u32>,
    ) -> Result<Vec<ApimApiRef>, AzureError> {
        let top = top_query(top);
        let query: Vec<(&str, &str)> = top.iter().map(|t| ("$top", t.as_str())).collect();
        let path = format!(
            "{}/products/{}/apis",
            self.service.path(),
            encode_segment(product_id)
        );
        let url = self.url(&path, &query)?;
        list_filter_map(&self.arm, url, |api: ApimApi| {
            api.is_current().then(|| ApimApiRef {
                workspace: None,
                api_id: api.name.split(';').next().unwrap_or(&api.name).to_string(),
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The items of the contract's example (`ApiManagementListTagResources.json`): a tag
    /// on an operation, on an API and on a product.
    fn example() -> Vec<TagResource> {
        serde_json::from_value(json!([
            {"tag": {"id": "/tags/apitag123", "name": "awesomeTag"},
             "operation": {"id": "/apis/echo-api/operations/create-resource", "apiName": "Echo API",
                           "apiRevision": "1", "name": "Create resource", "method": "POST", "urlTemplate": "/resource"}},
            {"tag": {"id": "/tags/apitag123", "name": "awesomeTag"},
             "api": {"id": "/apis/echo-api", "name": "Echo API", "apiRevision": "1",
                     "serviceUrl": "http://echoapi.cloudapp.net/api", "path": "echo", "isCurrent": true}},
            {"tag": {"id": "/tags/apitag123", "name": "awesomeTag"},
             "product": {"id": "/products/starter", "name": "Starter", "state": "published"}}
        ]))
        .unwrap()
    }

    #[test]
    fn only_tags_on_current_apis_are_kept() {
        let tags: Vec<ApimApiTag> = example().iter().filter_map(TagResource::api_tag).collect();
        assert_eq!(
            tags,
            vec![ApimApiTag {
                api: ApimApiRef {
                    workspace: None,
                    api_id: "echo-api".into()
                },
                tag: "awesomeTag".into(),
            }]
        );
        let revision: TagResource = serde_json::from_value(json!({
            "tag": {"id": "/tags/t", "name": "T"},
            "api": {"id": "/apis/echo-api;rev=2", "isCurrent": false}
        }))
        .unwrap();
        assert_eq!(revision.api_tag(), None);
        let arm_id: TagResource = serde_json::from_value(json!({
            "tag": {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/a/tags/beta"},
            "api": {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/a/apis/orders"}
        }))
        .unwrap();
        let tag = arm_id.api_tag().unwrap();
        assert_eq!(
            (tag.api.api_id.as_str(), tag.tag.as_str()),
            ("orders", "beta")
        );
    }

    #[test]
    fn a_product_without_a_display_name_is_named_by_its_id() {
        let product: ApimProductResource = serde_json::from_value(
            json!({"name": "starter", "properties": {"state": "published"}}),
        )
        .unwrap();
        assert_eq!(
            product.into_observed(),
            ApimProduct {
                id: "starter".into(),
                display_name: "starter".into()
            }
        );
    }
}
