//! APIM tags and products read by the client over HTTPS against the emulator: the tags
//! on current APIs from `tagResources` (product tags left out) across pages, the
//! products, and the APIs of each product.
#![allow(clippy::unwrap_used)]

mod common;

use apilink_core::ids::ApimApiRef;
use apilink_core::observed::{ApimApiTag, ApimProduct};
use apilink_emulator::EmulatorConfig;

fn api(id: &str) -> ApimApiRef {
    ApimApiRef {
        workspace: None,
        api_id: id.into(),
    }
}

#[tokio::test]
async fn tags_products_and_product_apis_are_read_across_pages() {
    let emulator = common::start(EmulatorConfig {
        apim_page_size: 2,
        ..EmulatorConfig::default()
    })
    .await;
    let apim = common::apim(&emulator, common::client(&emulator));
    emulator.clear_calls();

    let tags = apim.list_api_tags(Some(2)).await.unwrap();
    let tag = |a: &str, t: &str| ApimApiTag {
        api: api(a),
        tag: t.into(),
    };
    assert_eq!(
        tags,
        vec![
            tag("echo-api", "Public"),
            tag("petstore-v1", "Pets"),
            tag("petstore-v2", "Pets"),
            tag("petstore-v2", "Beta"),
        ]
    );
    let pages = common::arm_calls_to(&emulator, "/tagResources");
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[0].query.contains("top=2"), "{}", pages[0].query);

    let products = apim.list_products(None).await.unwrap();
    assert_eq!(
        products,
        vec![
            ApimProduct {
                id: "starter".into(),
                display_name: "Starter".into()
            },
            ApimProduct {
                id: "unlimited".into(),
                display_name: "Unlimited".into()
            },
        ]
    );
    let members = apim.list_product_apis("unlimited", Some(2)).await.unwrap();
    assert_eq!(
        members,
        vec![api("petstore-v1"), api("petstore-v2"), api("weather-soap")]
    );
    assert_eq!(
        common::arm_calls_to(&emulator, "/products/unlimited/apis").len(),
        2
    );
    let missing = apim.list_product_apis("nope", None).await.unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}
