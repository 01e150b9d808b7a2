//! APIM tags and products over ARM: `tagResources` (API and product associations, paged),
//! `products`, `products/{id}` and `products/{id}/apis`, and the changes tests make
//! through the handle (a tag added to or taken off an API, a product replaced, an API
//! deleted), which the next read sees.

#![allow(clippy::unwrap_used)]

mod common;

use apilink_emulator::apim::ProductSeed;
use apilink_emulator::{EmulatorConfig, Seed};
use common::{APIM, apim_url, get_json, start, token};
use serde_json::Value;

const SERVICE: &str = "contoso-apim";

/// Every item of a list, following `nextLink`; the number of pages read.
async fn all_pages(client: &reqwest::Client, first: String, token: &str) -> (Vec<Value>, usize) {
    let mut url = first;
    let mut items = Vec::new();
    for pages in 1..=20 {
        let (status, body) = get_json(client, &url, token).await;
        assert_eq!(status, 200, "{url}: {body}");
        items.extend(body["value"].as_array().unwrap().iter().cloned());
        match body["nextLink"].as_str() {
            Some(next) if !next.is_empty() => url = next.to_string(),
            _ => return (items, pages),
        }
    }
    panic!("paging did not end")
}

/// `(entity id, tag display name)` of each association.
fn associations(items: &[Value]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|i| {
            let entity = i.get("api").or_else(|| i.get("product")).unwrap();
            (
                entity["id"].as_str().unwrap().to_string(),
                i["tag"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn tag_resources_list_the_tags_on_apis_and_products_across_pages() {
    let (em, client) = start(EmulatorConfig {
        apim_page_size: 2,
        ..EmulatorConfig::default()
    })
    .await;
    let token = token(&em, &client).await;
    let first = apim_url(&em, SERVICE, &format!("/tagResources?api-version={APIM}"));
    let (items, pages) = all_pages(&client, first, &token).await;
    assert_eq!(pages, 3);
    assert_eq!(
        associations(&items),
        pairs(&[
            ("/apis/echo-api", "Public"),
            ("/apis/petstore-v1", "Pets"),
            ("/apis/petstore-v2", "Pets"),
            ("/apis/petstore-v2", "Beta"),
            ("/products/starter", "Public"),
        ])
    );
    let echo = &items[0];
    assert_eq!(echo["tag"]["id"], "/tags/public");
    assert_eq!(echo["api"]["name"], "Echo API");
    assert_eq!(echo["api"]["isCurrent"], true);
    assert_eq!(echo["api"]["apiRevision"], "1");
    assert_eq!(echo["api"]["path"], "echo");
    assert_eq!(items[4]["product"]["state"], "published");
}

#[tokio::test]
async fn products_and_their_apis_are_listed_and_read() {
    let (em, client) = start(EmulatorConfig {
        apim_page_size: 2,
        ..EmulatorConfig::default()
    })
    .await;
    let token = token(&em, &client).await;
    let list = apim_url(&em, SERVICE, &format!("/products?api-version={APIM}"));
    let (products, _) = all_pages(&client, list, &token).await;
    let names: Vec<(&str, &str)> = products
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["properties"]["displayName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("starter", "Starter"), ("unlimited", "Unlimited")]);
    assert!(
        products[0]["id"]
            .as_str()
            .unwrap()
            .ends_with("/service/contoso-apim/products/starter")
    );

    let one = apim_url(
        &em,
        SERVICE,
        &format!("/products/STARTER?api-version={APIM}"),
    );
    let (status, starter) = get_json(&client, &one, &token).await;
    assert_eq!((status, starter["name"].as_str()), (200, Some("starter")));

    let apis = apim_url(
        &em,
        SERVICE,
        &format!("/products/unlimited/apis?api-version={APIM}"),
    );
    let (items, pages) = all_pages(&client, apis, &token).await;
    assert_eq!(pages, 2);
    let ids: Vec<&str> = items.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(ids, ["petstore-v1", "petstore-v2", "weather-soap"]);
    assert_eq!(items[0]["properties"]["isCurrent"], true);
    assert_eq!(
        items[0]["type"],
        "Microsoft.ApiManagement/service/products/apis"
    );
    assert!(
        items[0]["id"]
            .as_str()
            .unwrap()
            .ends_with("/products/unlimited/apis/petstore-v1")
    );

    let missing = apim_url(
        &em,
        SERVICE,
        &format!("/products/nope/apis?api-version={APIM}"),
    );
    let (status, body) = get_json(&client, &missing, &token).await;
    assert_eq!(status, 404, "{body}");
    let workspace = apim_url(
        &em,
        SERVICE,
        &format!("/workspaces/w/tagResources?api-version={APIM}"),
    );
    assert_eq!(get_json(&client, &workspace, &token).await.0, 404);
}

#[tokio::test]
async fn changes_made_through_the_handle_show_in_the_next_read() {
    let (em, client) = start(EmulatorConfig::default()).await;
    let token = token(&em, &client).await;
    let apim = em.apim();
    assert!(
        apim.add_api_tag(SERVICE, "weather-soap", "weather", Some("Weather"))
            .unwrap()
    );
    assert!(
        !apim
            .add_api_tag(SERVICE, "Weather-Soap", "WEATHER", None)
            .unwrap()
    );
    assert!(apim.remove_api_tag(SERVICE, "echo-api", "public").unwrap());
    assert!(!apim.remove_api_tag(SERVICE, "echo-api", "public").unwrap());
    assert!(apim.add_api_tag(SERVICE, "nope", "t", None).is_err());
    let tags_url = apim_url(&em, SERVICE, &format!("/tagResources?api-version={APIM}"));
    let (items, _) = all_pages(&client, tags_url.clone(), &token).await;
    assert_eq!(
        associations(&items),
        pairs(&[
            ("/apis/petstore-v1", "Pets"),
            ("/apis/petstore-v2", "Pets"),
            ("/apis/petstore-v2", "Beta"),
            ("/apis/weather-soap", "Weather"),
            ("/products/starter", "Public"),
        ])
    );

    assert!(
        !apim
            .upsert_product(
                SERVICE,
                &ProductSeed::new("starter", "Starter plan", &["catalog-graphql"])
            )
            .unwrap()
    );
    apim.delete_api(SERVICE, None, "petstore-v2").unwrap();
    let apis = |product: &str| {
        apim_url(
            &em,
            SERVICE,
            &format!("/products/{product}/apis?api-version={APIM}"),
        )
    };
    let (starter, _) = all_pages(&client, apis("starter"), &token).await;
    assert_eq!(starter[0]["name"], "catalog-graphql");
    let (unlimited, _) = all_pages(&client, apis("unlimited"), &token).await;
    let ids: Vec<&str> = unlimited
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["petstore-v1", "weather-soap"]);

    // The state dumped as a seed loads back with the same tags and products.
    let seed: Seed = apim.seed();
    apim.replace_seed(&seed).unwrap();
    let again = apim.seed();
    let (before, after) = (&seed.services[0], &again.services[0]);
    assert_eq!(
        (&after.tags, &after.products),
        (&before.tags, &before.products)
    );
    let tags = |s: &apilink_emulator::apim::ServiceSeed| -> Vec<Vec<String>> {
        s.apis.iter().map(|a| a.tags.clone()).collect()
    };
    assert_eq!(tags(after), tags(before));
    let (again, _) = all_pages(&client, tags_url, &token).await;
    assert_eq!(
        associations(&again),
        pairs(&[
            ("/apis/petstore-v1", "Pets"),
            ("/apis/weather-soap", "Weather")
        ])
    );
    apim.delete_product(SERVICE, "starter").unwrap();
    assert_eq!(get_json(&client, &apis("starter"), &token).await.0, 404);
}
