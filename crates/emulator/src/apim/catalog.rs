//! A service's tags and products: built from a seed with APIM's checks, dumped back,
//! changed as people change them, and rendered as `tagResources`, `products` and
//! `products/{id}/apis` answer. Tags and products are service-level here: in
//! 2024-05-01 workspaces have neither `tagResources` nor `products/{id}/apis`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::ApimError;
use super::load::validate_entity_id;
use super::model::{Api, ApimState, Product, Revision, Scope, Service, Tag, key};
use super::seed::{ApiSeed, ProductSeed, ServiceSeed, TagSeed};

fn invalid(message: impl Into<String>) -> ApimError {
    ApimError::Invalid(message.into())
}

fn display_name(id: &str, given: Option<&String>) -> Result<String, ApimError> {
    let name = given.cloned().unwrap_or_else(|| id.to_string());
    if name.trim().is_empty() || name.chars().count() > 160 {
        return Err(invalid(format!(
            "'{id}': displayName must be 1-160 characters"
        )));
    }
    Ok(name)
}

/// The tags and products of a service.
#[derive(Default)]
pub(crate) struct Catalog {
    pub tags: BTreeMap<String, Tag>,
    pub products: BTreeMap<String, Product>,
}

impl Catalog {
    /// The tag's id as the service spells it, created (named by its id) when missing.
    fn tag_id(&mut self, id: &str) -> Result<String, ApimError> {
        validate_entity_id("tag", id)?;
        let tag = self.tags.entry(key(id)).or_insert_with(|| Tag {
            id: id.to_string(),
            display_name: id.to_string(),
        });
        Ok(tag.id.clone())
    }

    /// `ids` as tag ids of the service, each once.
    fn tag_ids(&mut self, ids: &[String]) -> Result<Vec<String>, ApimError> {
        let mut out: Vec<String> = Vec::new();
        for id in ids {
            let id = self.tag_id(id)?;
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&id)) {
                out.push(id);
            }
        }
        Ok(out)
    }

    fn declare_tag(&mut self, seed: &TagSeed) -> Result<(), ApimError> {
        validate_entity_id("tag", &seed.id)?;
        let tag = Tag {
            id: seed.id.clone(),
            display_name: display_name(&seed.id, seed.display_name.as_ref())?,
        };
        if self.tags.insert(key(&seed.id), tag).is_some() {
            return Err(invalid(format!("tag '{}' appears twice", seed.id)));
        }
        Ok(())
    }

    fn product(&mut self, seed: &ProductSeed, root: &Scope) -> Result<Product, ApimError> {
        validate_entity_id("product", &seed.id)?;
        let mut apis: Vec<String> = Vec::new();
        for id in &seed.apis {
            let api = root.apis.get(&key(id)).ok_or_else(|| {
                invalid(format!("product '{}': API '{id}' does not exist", seed.id))
            })?;
            if !apis.contains(&api.id) {
                apis.push(api.id.clone());
            }
        }
        Ok(Product {
            id: seed.id.clone(),
            display_name: display_name(&seed.id, seed.display_name.as_ref())?,
            description: seed.description.clone(),
            apis,
            tags: self.tag_ids(&seed.tags)?,
        })
    }
}

/// The tags and products of `seed`, with the tags its service-level APIs (in `root`)
/// name; each API's tags become the service's spelling of their ids.
pub(crate) fn build(seed: &ServiceSeed, root: &mut Scope) -> Result<Catalog, ApimError> {
    let mut catalog = Catalog::default();
    for tag in &seed.tags {
        catalog.declare_tag(tag)?;
    }
    for api in root.apis.values_mut() {
        api.tags = catalog.tag_ids(&api.tags)?;
    }
    for product in &seed.products {
        let built = catalog.product(product, root)?;
        if catalog.products.insert(key(&product.id), built).is_some() {
            return Err(invalid(format!("product '{}' appears twice", product.id)));
        }
    }
    Ok(catalog)
}

/// Workspace APIs cannot carry the service's tags.
pub(crate) fn check_workspace_apis(workspace: &str, apis: &[ApiSeed]) -> Result<(), ApimError> {
    match apis.iter().find(|a| !a.tags.is_empty()) {
        Some(api) => Err(invalid(format!(
            "workspace '{workspace}': API '{}' has tags; only service-level APIs carry tags here",
            api.id
        ))),
        None => Ok(()),
    }
}

/// The service's tags and products as seeds.
pub(crate) fn dump(service: &Service) -> (Vec<TagSeed>, Vec<ProductSeed>) {
    let tags = service
        .tags
        .values()
        .map(|t| TagSeed::new(&t.id, &t.display_name))
        .collect();
    let products = service
        .products
        .values()
        .map(|p| ProductSeed {
            id: p.id.clone(),
            display_name: Some(p.display_name.clone()),
            description: p.description.clone(),
            apis: p.apis.clone(),
            tags: p.tags.clone(),
        })
        .collect();
    (tags, products)
}

fn service_mut<'a>(state: &'a mut ApimState, service: &str) -> Result<&'a mut Service, ApimError> {
    state
        .services
        .get_mut(&key(service))
        .ok_or_else(|| ApimError::NotFound(format!("service '{service}'")))
}

/// Checks the tags an API to be created or replaced names: only service-level APIs
/// carry tags, and each must be a valid tag id.
pub(crate) fn check_api_tags(workspace: Option<&str>, seed: &ApiSeed) -> Result<(), ApimError> {
    if let Some(ws) = workspace {
        return check_workspace_apis(ws, std::slice::from_ref(seed));
    }
    seed.tags
        .iter()
        .try_for_each(|t| validate_entity_id("tag", t))
}

/// Gives the service-level API `api_id` the service's spelling of the tags it names,
/// creating the missing ones (named by their ids).
pub(crate) fn adopt_api_tags(
    state: &mut ApimState,
    service: &str,
    api_id: &str,
) -> Result<(), ApimError> {
    let s = service_mut(state, service)?;
    let Some(api) = s.root.apis.get_mut(&key(api_id)) else {
        return Ok(());
    };
    let mut catalog = Catalog {
        tags: std::mem::take(&mut s.tags),
        products: BTreeMap::new(),
    };
    let result = catalog.tag_ids(&api.tags).map(|ids| api.tags = ids);
    s.tags = catalog.tags;
    result
}

/// Tags a service-level API with `tag` (its id; a new tag is named `display_name`, else
/// its id). True when the API did not carry it yet.
pub(crate) fn add_api_tag(
    state: &mut ApimState,
    service: &str,
    api_id: &str,
    tag: &str,
    display_name: Option<&str>,
) -> Result<bool, ApimError> {
    validate_entity_id("tag", tag)?;
    let s = service_mut(state, service)?;
    let api = s
        .root
        .apis
        .get_mut(&key(api_id))
        .ok_or_else(|| ApimError::NotFound(format!("API '{api_id}'")))?;
    let entry = s.tags.entry(key(tag)).or_insert_with(|| Tag {
        id: tag.to_string(),
        display_name: display_name.unwrap_or(tag).to_string(),
    });
    if api.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
        return Ok(false);
    }
    api.tags.push(entry.id.clone());
    Ok(true)
}

/// Takes `tag` off a service-level API (the tag itself stays). True when it was on it.
pub(crate) fn remove_api_tag(
    state: &mut ApimState,
    service: &str,
    api_id: &str,
    tag: &str,
) -> Result<bool, ApimError> {
    let s = service_mut(state, service)?;
    let api = s
        .root
        .apis
        .get_mut(&key(api_id))
        .ok_or_else(|| ApimError::NotFound(format!("API '{api_id}'")))?;
    let before = api.tags.len();
    api.tags.retain(|t| !t.eq_ignore_ascii_case(tag));
    Ok(api.tags.len() != before)
}

/// Creates or replaces a product; true when created.
pub(crate) fn upsert_product(
    state: &mut ApimState,
    service: &str,
    seed: &ProductSeed,
) -> Result<bool, ApimError> {
    let s = service_mut(state, service)?;
    let mut catalog = Catalog {
        tags: std::mem::take(&mut s.tags),
        products: BTreeMap::new(),
    };
    let built = catalog.product(seed, &s.root);
    s.tags = catalog.tags;
    Ok(s.products.insert(key(&seed.id), built?).is_none())
}

/// Deletes a product (its APIs stay).
pub(crate) fn delete_product(
    state: &mut ApimState,
    service: &str,
    product: &str,
) -> Result<(), ApimError> {
    let s = service_mut(state, service)?;
    s.products
        .remove(&key(product))
        .map(|_| ())
        .ok_or_else(|| ApimError::NotFound(format!("product '{product}'")))
}

/// Removes a deleted service-level API from every product, as APIM does.
pub(crate) fn forget_api(state: &mut ApimState, service: &str, api_id: &str) {
    if let Some(s) = state.services.get_mut(&key(service)) {
        for product in s.products.values_mut() {
            product.apis.retain(|a| !a.eq_ignore_ascii_case(api_id));
        }
    }
}

/// One tag on one entity, as `tagResources` lists it.
pub(crate) enum TagLink<'a> {
    Api(&'a Api, &'a Revision, &'a Tag),
    Product(&'a Product, &'a Tag),
}

/// Every tag association of the service: its APIs' (current revisions), then its
/// products'.
pub(crate) fn tag_links(service: &Service) -> impl Iterator<Item = TagLink<'_>> {
    let tag = |id: &String| service.tags.get(&key(id));
    let apis = service.root.apis.values().flat_map(move |api| {
        let current = api.current_revision();
        api.tags
            .iter()
            .filter_map(move |t| Some(TagLink::Api(api, current?, tag(t)?)))
    });
    let products = service.products.values().flat_map(move |p| {
        p.tags
            .iter()
            .filter_map(move |t| Some(TagLink::Product(p, tag(t)?)))
    });
    apis.chain(products)
}

fn tag_reference(tag: &Tag) -> Value {
    json!({"id": format!("/tags/{}", tag.id), "name": tag.display_name})
}

fn product_properties(p: &Product) -> Map<String, Value> {
    let mut properties = Map::new();
    properties.insert("displayName".into(), json!(p.display_name));
    if let Some(d) = &p.description {
        properties.insert("description".into(), json!(d));
    }
    properties.insert("terms".into(), json!(""));
    properties.insert("subscriptionRequired".into(), json!(true));
    properties.insert("approvalRequired".into(), json!(false));
    properties.insert("subscriptionsLimit".into(), json!(1));
    properties.insert("state".into(), json!("published"));
    properties
}

/// One item of `GET {service}/tagResources` (`TagResourceContract`).
pub(crate) fn tag_link_json(link: &TagLink<'_>) -> Value {
    match link {
        TagLink::Api(api, rev, tag) => {
            let mut a = Map::new();
            a.insert("id".into(), json!(format!("/apis/{}", api.id)));
            a.insert("name".into(), json!(rev.display_name));
            a.insert("apiRevision".into(), json!(rev.rev.to_string()));
            if let Some(d) = &rev.description {
                a.insert("description".into(), json!(d));
            }
            if let Some(u) = &rev.service_url {
                a.insert("serviceUrl".into(), json!(u));
            }
            a.insert("path".into(), json!(rev.path));
            a.insert("isCurrent".into(), json!(true));
            json!({"tag": tag_reference(tag), "api": Value::Object(a)})
        }
        TagLink::Product(p, tag) => {
            let mut product = product_properties(p);
            product.insert("id".into(), json!(format!("/products/{}", p.id)));
            product.insert("name".into(), json!(p.display_name));
            json!({"tag": tag_reference(tag), "product": Value::Object(product)})
        }
    }
}

/// A product as `GET {service}/products[/{id}]` answers it.
pub(crate) fn product_json(service_id: &str, p: &Product) -> Value {
    json!({
        "id": format!("{service_id}/products/{}", p.id),
        "type": "Microsoft.ApiManagement/service/products",
        "name": p.id,
        "properties": Value::Object(product_properties(p)),
    })
}

/// The product's APIs that exist, in its order.
pub(crate) fn product_apis<'a>(
    service: &'a Service,
    p: &'a Product,
) -> impl Iterator<Item = &'a Api> {
    p.apis
        .iter()
        .filter_map(|id| service.root.apis.get(&key(id)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::apim::load::{Generations, build_state};
    use crate::apim::seed::Seed;

    fn state(yaml: &str) -> Result<ApimState, ApimError> {
        let seed: Seed = serde_yaml::from_str(yaml).unwrap();
        build_state(&seed, &mut Generations(&mut 0))
    }

    #[test]
    fn seeds_name_tags_and_products_apim_checks() {
        let s = state(
            "services:\n  - name: a\n    tags: [{id: pay, displayName: Payments}]\n    apis: [{id: x, tags: [PAY, beta, pay]}]\n    products: [{id: gold, apis: [X, x], tags: [beta]}]\n",
        )
        .unwrap();
        let service = &s.services["a"];
        assert_eq!(service.root.apis["x"].tags, vec!["pay", "beta"]);
        assert_eq!(service.tags["beta"].display_name, "beta");
        assert_eq!(service.products["gold"].apis, vec!["x"]);
        assert_eq!(tag_links(service).count(), 3);
        for bad in [
            "services:\n  - name: a\n    products: [{id: gold, apis: [nope]}]\n",
            "services:\n  - name: a\n    tags: [{id: t}, {id: T}]\n",
            "services:\n  - name: a\n    apis: [{id: x, tags: ['no/slash']}]\n",
            "services:\n  - name: a\n    workspaces: [{id: w, apis: [{id: x, tags: [t]}]}]\n",
        ] {
            assert!(state(bad).is_err(), "accepted: {bad}");
        }
    }

    #[test]
    fn tags_come_and_go_and_deleted_apis_leave_their_products() {
        let mut s = state(
            "services:\n  - name: a\n    apis: [{id: x}]\n    products: [{id: gold, apis: [x]}]\n",
        )
        .unwrap();
        assert!(add_api_tag(&mut s, "a", "x", "new", Some("New")).unwrap());
        assert!(!add_api_tag(&mut s, "a", "X", "NEW", None).unwrap());
        assert_eq!(s.services["a"].tags["new"].display_name, "New");
        assert!(remove_api_tag(&mut s, "a", "x", "new").unwrap());
        assert!(s.services["a"].root.apis["x"].tags.is_empty());
        assert!(add_api_tag(&mut s, "a", "missing", "t", None).is_err());
        forget_api(&mut s, "a", "X");
        assert!(s.services["a"].products["gold"].apis.is_empty());
    }
}
