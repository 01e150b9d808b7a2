//! GET, HEAD, PUT, DELETE and list on services and everything below them.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::ApiCenter;
use super::conditions::Preconditions;
use super::kind::{Kind, SERVICE_TYPE};
use super::paging::{ListQuery, page};
use super::path::ItemPath;
use super::references::check_references;
use super::routes::{RequestContext, empty_response, json_response};
use super::store::{
    Node, derived_api_stage, envelope, key, resolve, resolve_mut, service_envelope,
};
use super::{metadata, validate};
use crate::arm::ArmError;

pub(crate) fn service_not_found(service: &str) -> ArmError {
    ArmError::not_found(SERVICE_TYPE, service)
}

/// The error for `path` when its level `depth` (0-based) does not exist.
pub(crate) fn missing(path: &ItemPath, depth: usize) -> ArmError {
    if depth + 1 >= path.chain.len() {
        return ArmError::not_found(path.kind().type_string(), &path.display_name());
    }
    parent_not_found(&path.prefix(depth + 1))
}

fn parent_not_found(parent: &ItemPath) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "ParentResourceNotFound",
        format!(
            "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
            parent.display_name()
        ),
    )
}

impl ApiCenter {
    pub(crate) fn list_services(&self, context: &RequestContext) -> Result<Response, ArmError> {
        let query = ListQuery::parse(&context.query)?;
        let state = self.lock();
        let body = page(
            &state.services,
            &query,
            self.options.page_size,
            &context.absolute_path(),
            |service| service_envelope(service, self.options.sku),
        );
        Ok(json_response(StatusCode::OK, &body, None))
    }

    pub(crate) fn get_service(
        &self,
        context: &RequestContext,
        name: &str,
    ) -> Result<Response, ArmError> {
        let state = self.lock();
        let service = state.service(name).ok_or_else(|| service_not_found(name))?;
        Ok(if context.method == Method::HEAD {
            empty_response(StatusCode::OK, Some(&service.etag))
        } else {
            json_response(
                StatusCode::OK,
                &service_envelope(service, self.options.sku),
                Some(&service.etag),
            )
        })
    }

    pub(crate) fn list_items(
        &self,
        context: &RequestContext,
        service: &str,
        parent_chain: &[(Kind, String)],
        kind: Kind,
    ) -> Result<Response, ArmError> {
        let query = ListQuery::parse(&context.query)?;
        let state = self.lock();
        let root = state
            .service(service)
            .ok_or_else(|| service_not_found(service))?;
        let parent = resolve(root, parent_chain).map_err(|depth| {
            parent_not_found(&ItemPath {
                service: service.to_string(),
                chain: parent_chain[..=depth].to_vec(),
            })
        })?;
        let empty = BTreeMap::new();
        let items = parent.children.get(&kind).unwrap_or(&empty);
        let body = page(
            items,
            &query,
            self.options.page_size,
            &context.absolute_path(),
            |node| envelope(kind, node),
        );
        Ok(json_response(StatusCode::OK, &body, None))
    }

    pub(crate) fn get_item(
        &self,
        context: &RequestContext,
        path: &ItemPath,
    ) -> Result<Response, ArmError> {
        let state = self.lock();
        let root = state
            .service(&path.service)
            .ok_or_else(|| service_not_found(&path.service))?;
        let node = resolve(root, &path.chain).map_err(|depth| missing(path, depth))?;
        Ok(if context.method == Method::HEAD {
            empty_response(StatusCode::OK, Some(&node.etag))
        } else {
            json_response(
                StatusCode::OK,
                &envelope(path.kind(), node),
                Some(&node.etag),
            )
        })
    }

    pub(crate) fn put_item(
        &self,
        context: &RequestContext,
        path: &ItemPath,
        body: &[u8],
    ) -> Result<Response, ArmError> {
        let kind = path.kind();
        let body = validate::parse_object_body(body)?;
        let mut properties = validate::properties(kind, &body)?;
        if kind == Kind::MetadataSchema {
            metadata::check_schema_document(&properties)?;
        }
        let preconditions = Preconditions::of(context);

        let mut state = self.lock();
        let root = state
            .service(&path.service)
            .ok_or_else(|| service_not_found(&path.service))?;
        let parent = resolve(root, path.parent_chain()).map_err(|depth| missing(path, depth))?;
        let existing = parent.child(kind, path.name());
        preconditions.check(&path.display_name(), existing.map(|n| n.etag.as_str()))?;
        metadata::check_custom_properties(
            root,
            kind,
            &mut properties,
            &context.contract,
            &self.options.limits,
        )?;
        if kind == Kind::Deployment {
            check_references(root, path, &properties)?;
        }
        let created = existing.is_none();
        if created {
            self.check_limit(root, parent, kind)?;
        }
        let stage_before = (kind == Kind::Version).then(|| derived_api_stage(parent));

        let root = state
            .service_mut(&path.service)
            .ok_or_else(|| service_not_found(&path.service))?;
        let parent =
            resolve_mut(root, path.parent_chain()).map_err(|depth| missing(path, depth))?;
        let parent_id = parent.id.clone();
        let collection = parent.children.entry(kind).or_default();
        match collection.get_mut(&key(path.name())) {
            Some(node) => {
                node.properties = properties;
                node.touch();
            }
            None => {
                let id = format!("{parent_id}/{}/{}", kind.segment(), path.name());
                collection.insert(key(path.name()), Node::new(id, path.name(), properties));
            }
        }
        if stage_before.is_some_and(|before| before != derived_api_stage(parent)) {
            // The API's derived lifecycleStage changed: its representation, hence its ETag.
            parent.touch();
        }
        let node = parent
            .child(kind, path.name())
            .ok_or_else(|| ArmError::not_found(kind.type_string(), &path.display_name()))?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok(json_response(
            status,
            &envelope(kind, node),
            Some(&node.etag),
        ))
    }

    pub(crate) fn delete_item(
        &self,
        context: &RequestContext,
        path: &ItemPath,
    ) -> Result<Response, ArmError> {
        let kind = path.kind();
        let preconditions = Preconditions::of(context);
        let mut state = self.lock();
        let root = state
            .service_mut(&path.service)
            .ok_or_else(|| service_not_found(&path.service))?;
        let parent =
            resolve_mut(root, path.parent_chain()).map_err(|depth| missing(path, depth))?;
        let current = parent.child(kind, path.name()).map(|n| n.etag.clone());
        preconditions.check(&path.display_name(), current.as_deref())?;
        if current.is_none() {
            return Ok(empty_response(StatusCode::NO_CONTENT, None));
        }
        let stage_before = (kind == Kind::Version).then(|| derived_api_stage(parent));
        // Children go with their parent: an API takes its versions, definitions and
        // deployments along, a workspace everything in it.
        if let Some(collection) = parent.children.get_mut(&kind) {
            collection.remove(&key(path.name()));
        }
        if stage_before.is_some_and(|before| before != derived_api_stage(parent)) {
            parent.touch();
        }
        Ok(empty_response(StatusCode::OK, None))
    }

    fn check_limit(&self, service: &Node, parent: &Node, kind: Kind) -> Result<(), ArmError> {
        let limits = &self.options.limits;
        let per_service = |k: Kind| -> usize {
            service
                .collection(Kind::Workspace)
                .map(|w| w.count(k))
                .sum()
        };
        let (count, limit, scope) = match kind {
            Kind::Api => (per_service(Kind::Api), limits.apis, "in the service"),
            Kind::Environment => (
                per_service(Kind::Environment),
                limits.environments,
                "in the service",
            ),
            Kind::Version => (parent.count(kind), limits.versions_per_api, "per API"),
            Kind::Definition => (
                parent.count(kind),
                limits.definitions_per_version,
                "per API version",
            ),
            Kind::Deployment => (parent.count(kind), limits.deployments_per_api, "per API"),
            Kind::Workspace | Kind::MetadataSchema => return Ok(()),
        };
        if count < limit {
            return Ok(());
        }
        Err(ArmError::new(
            StatusCode::CONFLICT,
            "QuotaExceeded",
            format!(
                "The plan allows at most {limit} {} resources {scope}; {count} exist already.",
                kind.label()
            ),
        ))
    }
}
