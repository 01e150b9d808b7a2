//! The service's tags and products over ARM: `tagResources`, `products`,
//! `products/{productId}` and `products/{productId}/apis` (service level only).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::{
    ApimContext, BASE, Ctx, LastPage, Params, ReadQuery, by_name, param, respond, with_scope,
    with_service,
};
use crate::apim::catalog::{self, product_json, tag_link_json, tag_links};
use crate::apim::render;

pub(super) fn routes(router: Router<Arc<ApimContext>>) -> Router<Arc<ApimContext>> {
    router
        .route(
            &format!("{BASE}/{{svc}}/tagResources"),
            get(list_tag_resources),
        )
        .route(&format!("{BASE}/{{svc}}/products"), get(list_products))
        .route(
            &format!("{BASE}/{{svc}}/products/{{product}}"),
            get(get_product),
        )
        .route(
            &format!("{BASE}/{{svc}}/products/{{product}}/apis"),
            get(list_product_apis),
        )
}

async fn list_tag_resources(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_service(&ctx, &params, |s, _| {
        read.page(
            ctx.page_size,
            LastPage::EmptyNextLink,
            tag_links(s),
            |link| tag_link_json(&link),
        )
    }))
}

async fn list_products(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_service(&ctx, &params, |s, id| {
        read.page(
            ctx.page_size,
            LastPage::NoNextLink,
            s.products.values(),
            |p| product_json(&id, p),
        )
    }))
}

async fn get_product(State(ctx): Ctx, Path(params): Params) -> Response {
    respond(with_service(&ctx, &params, |s, id| {
        let p = by_name(&s.products, param(&params, "product"), "Product not found.")?;
        Ok(axum::Json(product_json(&id, p)).into_response())
    }))
}

/// The product's APIs as `GET .../apis` lists them (current revisions), under the
/// product's path.
async fn list_product_apis(State(ctx): Ctx, Path(params): Params, read: ReadQuery) -> Response {
    respond(with_scope(&ctx, &params, |scope_ref, _| {
        let s = scope_ref.service;
        let p = by_name(&s.products, param(&params, "product"), "Product not found.")?;
        let apis = catalog::product_apis(s, p)
            .filter_map(|api| api.current_revision().map(|rev| (api, rev)));
        read.page(
            ctx.page_size,
            LastPage::EmptyNextLink,
            apis,
            |(api, rev)| {
                let mut item = render::api_json(scope_ref, api, rev, &api.id, false);
                item["id"] = json!(format!(
                    "{}/products/{}/apis/{}",
                    scope_ref.base_id, p.id, api.id
                ));
                item["type"] = json!("Microsoft.ApiManagement/service/products/apis");
                item
            },
        )
    }))
}
