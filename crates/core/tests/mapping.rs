//! Unit tests of the APIM → API Center mapping (`docs/mapping.md`).

#![allow(clippy::unwrap_used)]
mod support;

use apilink_core::desired::DesiredApi;
use apilink_core::ids::ApimServiceId;
use apilink_core::mapping::{connection_host, desired_state, gateway_base, workspace_gateways};
use apilink_core::naming::is_valid_name;
use apilink_core::observed::{ApimGatewayConnection, ApimHostname, ApimService};
use apilink_core::plan::Warning;
use apilink_core::spec::{FilterSpec, ImportSpecification};
use serde_json::json;
use support::apim::{ApimModel, api, member, service, set};
use support::{settings, settings_for, spec};

fn model(apis: Vec<apilink_core::observed::ApimApi>) -> ApimModel {
    ApimModel {
        service: service(),
        apis,
        ..ApimModel::default()
    }
}

fn only(apis: &[DesiredApi]) -> &DesiredApi {
    assert_eq!(apis.len(), 1, "{apis:#?}");
    &apis[0]
}

#[test]
fn unversioned_api_maps_to_one_api_with_one_version() {
    let s = settings("ns/a");
    let d = desired_state(
        &s,
        &model(vec![api("echo-api", "Echo API", "echo", None)]).observed(),
    );
    let a = only(&d.apis);
    assert!(a.name.starts_with("echo-api-") && is_valid_name(&a.name));
    assert_eq!(a.properties.value()["title"], "Echo API");
    assert_eq!(a.properties.value()["kind"], "rest");
    assert_eq!(a.versions.len(), 1);
    let v = &a.versions[0];
    assert_eq!(v.name, "original");
    assert_eq!(
        v.properties.value(),
        json!({"title": "Echo API", "lifecycleStage": "design"})
    );
    let def = v.definition.as_ref().expect("http APIs have a definition");
    assert_eq!(def.name, "openapi");
    let dep = &def.deployment;
    assert_eq!(dep.name, "original-openapi");
    assert_eq!(
        dep.properties.value()["server"]["runtimeUri"],
        json!(["https://payments.azure-api.net/echo"])
    );
    assert_eq!(
        dep.properties.value()["environmentId"],
        format!("/workspaces/default/environments/{}", s.environment_name)
    );
    assert_eq!(
        dep.properties.value()["definitionId"],
        format!(
            "/workspaces/default/apis/{}/versions/original/definitions/openapi",
            a.name
        )
    );
    assert_eq!(dep.properties.value()["state"], "active");
    assert_eq!(
        dep.properties.value()["customProperties"]["apilink-ownership"],
        "apilink/2 link=ns/a"
    );
}

#[test]
fn only_current_revisions_count() {
    let mut rev = api("echo-api;rev=2", "Echo (draft)", "echo", None);
    rev.is_current = false;
    rev.api_revision = Some("2".into());
    let d = desired_state(
        &settings("ns/a"),
        &model(vec![rev, api("echo-api", "Echo API", "echo", None)]).observed(),
    );
    let a = only(&d.apis);
    assert_eq!(a.properties.value()["title"], "Echo API");
    assert_eq!(a.versions[0].api_revision.as_deref(), Some("1"));
}

#[test]
fn revision_change_changes_source_hash() {
    let s = settings("ns/a");
    let m1 = model(vec![api("echo-api", "Echo", "echo", None)]);
    let mut m2 = m1.clone();
    m2.apis[0].api_revision = Some("2".into());
    let h1 = desired_state(&s, &m1.observed()).apis[0]
        .source_hash
        .clone();
    let h2 = desired_state(&s, &m2.observed()).apis[0]
        .source_hash
        .clone();
    assert_ne!(h1, h2);
    assert_eq!(h1, desired_state(&s, &m1.observed()).apis[0].source_hash);
}

#[test]
fn version_set_maps_to_one_api_whose_versions_are_its_members() {
    let mut m = model(vec![
        member("pets", "pets-vs", Some(""), None),
        member("pets-v2", "pets-vs", Some("v2"), None),
        member("pets-2024", "pets-vs", Some("2024-01-01"), Some("soap")),
        member("pets-dotted", "pets-vs", Some("1.0"), None),
    ]);
    m.version_sets = vec![set("pets-vs", "Pets", Some("Segment"))];
    let d = desired_state(&settings("ns/a"), &m.observed());
    let a = only(&d.apis);
    assert!(a.name.starts_with("pets-vs-"));
    assert_eq!(a.properties.value()["title"], "Pets");
    let names: Vec<&str> = a.versions.iter().map(|v| v.name.as_str()).collect();
    assert!(names.contains(&"original"));
    assert!(names.contains(&"2024-01-01"));
    let v2 = names
        .iter()
        .find(|n| n.starts_with("v2-"))
        .expect("short names get a hash");
    assert!(is_valid_name(v2));
    assert!(names.iter().any(|n| n.starts_with("1-0-")));
    assert_eq!(a.versions.len(), 4);
    let soap = a.versions.iter().find(|v| v.name == "2024-01-01").unwrap();
    assert_eq!(soap.definition.as_ref().unwrap().name, "wsdl");
    // Segment versioning: the version is part of the runtime URI.
    let runtime = &soap
        .definition
        .as_ref()
        .unwrap()
        .deployment
        .properties
        .value()["server"]["runtimeUri"][0];
    assert_eq!(runtime, "https://payments.azure-api.net/pets-vs/2024-01-01");
    let original = a.versions.iter().find(|v| v.name == "original").unwrap();
    assert_eq!(
        original
            .definition
            .as_ref()
            .unwrap()
            .deployment
            .properties
            .value()["server"]["runtimeUri"][0],
        "https://payments.azure-api.net/pets-vs"
    );
    // Kind comes from the first member (the original one).
    assert_eq!(a.properties.value()["kind"], "rest");
}

#[test]
fn colliding_version_names_skip_the_later_member_with_a_warning() {
    let m = model(vec![
        member("a1", "vs", None, None),
        member("a2", "vs", Some(""), None),
    ]);
    let d = desired_state(&settings("ns/a"), &m.observed());
    assert_eq!(only(&d.apis).versions.len(), 1);
    assert!(
        d.warnings
            .iter()
            .any(|w| matches!(w, Warning::NameCollision { .. }))
    );
}

#[test]
fn kinds_and_definitions_follow_the_api_type() {
    let cases = [
        (None, "rest", Some("openapi")),
        (Some("http"), "rest", Some("openapi")),
        (Some("soap"), "soap", Some("wsdl")),
        (Some("graphql"), "graphql", Some("graphql")),
        (Some("websocket"), "websocket", None),
        (Some("grpc"), "grpc", Some("grpc")),
        (Some("odata"), "rest", None),
    ];
    for (api_type, kind, definition) in cases {
        let d = desired_state(
            &settings("ns/a"),
            &model(vec![api("x-api", "X", "x", api_type)]).observed(),
        );
        let a = only(&d.apis);
        assert_eq!(a.properties.value()["kind"], kind, "{api_type:?}");
        assert_eq!(
            a.versions.len(),
            1,
            "{api_type:?}: API and version exist anyway"
        );
        assert_eq!(
            a.versions[0].definition.as_ref().map(|d| d.name.as_str()),
            definition,
            "{api_type:?}"
        );
    }
}

#[test]
fn titles_and_descriptions_are_truncated_on_char_boundaries() {
    let long_title: String = "é".repeat(60);
    let mut a = api("long", &long_title, "p", None);
    a.description = Some("d".repeat(1500));
    let d = desired_state(&settings("ns/a"), &model(vec![a]).observed());
    let x = only(&d.apis);
    assert_eq!(
        x.properties.value()["title"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        50
    );
    assert_eq!(
        x.properties.value()["description"].as_str().unwrap().len(),
        1000
    );
    assert_eq!(
        x.versions[0].properties.value()["title"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        50
    );
}

#[test]
fn custom_proxy_hostname_wins_and_long_runtime_uris_are_left_out() {
    let mut m = model(vec![
        api("short", "S", "/s/", None),
        api("long", "L", &"p".repeat(190), None),
    ]);
    m.service.hostnames = vec![
        ApimHostname {
            kind: "Proxy".into(),
            host_name: "other.example.com".into(),
            default_ssl_binding: false,
        },
        ApimHostname {
            kind: "Proxy".into(),
            host_name: "api.example.com".into(),
            default_ssl_binding: true,
        },
    ];
    let d = desired_state(&settings("ns/a"), &m.observed());
    let by_title = |t: &str| {
        d.apis
            .iter()
            .find(|a| a.properties.value()["title"] == t)
            .unwrap()
    };
    let short = by_title("S").versions[0].definition.as_ref().unwrap();
    assert_eq!(
        short.deployment.properties.value()["server"]["runtimeUri"][0],
        "https://api.example.com/s"
    );
    let long = by_title("L").versions[0].definition.as_ref().unwrap();
    assert!(long.deployment.properties.get("server").is_none());
    assert!(
        d.warnings
            .iter()
            .any(|w| matches!(w, Warning::RuntimeUriTooLong { length, .. } if *length > 200))
    );
}

#[test]
fn environment_describes_the_apim_service() {
    let s = settings("ns/a");
    let d = desired_state(&s, &model(vec![]).observed());
    let env = &d.environment;
    assert_eq!(env.name, s.environment_name);
    assert_eq!(env.properties["server"]["type"], "Azure API Management");
    assert!(
        env.properties["server"]["managementPortalUri"][0]
            .as_str()
            .unwrap()
            .contains("#resource/subscriptions")
    );
    assert_eq!(
        env.properties["onboarding"]["developerPortalUri"][0],
        "https://payments.developer.azure-api.net"
    );
    assert_eq!(env.properties["kind"], "production");
    assert_eq!(
        env.properties["customProperties"]["apilink-ownership"],
        "apilink/2 link=ns/a"
    );
    assert_eq!(
        env.properties["description"],
        "Azure API Management service payments, synchronised by apilink"
    );
    let mut m = model(vec![]);
    m.service.developer_portal_url = None;
    let d = desired_state(&s, &m.observed());
    assert!(d.environment.properties.get("onboarding").is_none());
    // The spec's description replaces the default; API Center's users own it afterwards.
    let mut described = s.clone();
    described.environment_description = Some("Payments, production stage".into());
    let d = desired_state(&described, &m.observed());
    assert_eq!(
        d.environment.properties["description"],
        "Payments, production stage"
    );
    let create = apilink_core::ownership::properties_for_create(
        apilink_core::ownership::EntityKind::Environment,
        &d.environment.properties,
    );
    assert_eq!(create["description"], "Payments, production stage");
    let update = apilink_core::ownership::apim_owned_properties(
        apilink_core::ownership::EntityKind::Environment,
        &d.environment.properties,
    );
    assert!(update.get("description").is_none(), "{update}");
}

#[test]
fn filter_matches_api_names_and_version_set_names() {
    let spec = spec(
        ImportSpecification::Always,
        None,
        FilterSpec {
            include: vec!["pay*".into()],
            exclude: vec!["*-internal".into()],
        },
    );
    let s = settings_for("ns/a", &spec);
    let m = model(vec![
        api("payments", "P", "p", None),
        api("payments-internal", "PI", "pi", None),
        api("orders", "O", "o", None),
        member("other-name", "pay-vs", Some("v1"), None),
        member("pay-member", "orders-vs", Some("v1"), None),
    ]);
    let d = desired_state(&s, &m.observed());
    let sources: Vec<String> = d.apis.iter().map(|a| a.source.to_string()).collect();
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(sources.contains(&"apis/payments".to_string()));
    assert!(sources.contains(&"apiVersionSets/pay-vs".to_string()));
}

#[test]
fn workspace_apis_are_keyed_apart_from_service_level_ones() {
    let mut in_w1 = api("echo-api", "Echo W1", "w1/echo", None);
    in_w1.workspace = Some("w1".into());
    let mut in_w2 = api("echo-api", "Echo W2", "w2/echo", None);
    in_w2.workspace = Some("w2".into());
    let d = desired_state(
        &settings("ns/a"),
        &model(vec![api("echo-api", "Echo", "echo", None), in_w1, in_w2]).observed(),
    );
    assert_eq!(d.apis.len(), 2, "w2 is not listed in the spec");
    assert_ne!(d.apis[0].name, d.apis[1].name);
    let ws = d
        .apis
        .iter()
        .find(|a| a.properties.value()["title"] == "Echo W1")
        .unwrap();
    assert!(ws.name.starts_with("w1-echo-api-"));
    assert_eq!(ws.source.to_string(), "workspaces/w1/apis/echo-api");
}

fn proxy(host: &str, default_ssl_binding: bool) -> ApimHostname {
    hostname("Proxy", host, default_ssl_binding)
}

fn hostname(kind: &str, host: &str, default_ssl_binding: bool) -> ApimHostname {
    ApimHostname {
        kind: kind.into(),
        host_name: host.into(),
        default_ssl_binding,
    }
}

/// `payments` (gateway `https://payments.azure-api.net`) with these hostname entries.
fn service_with(hostnames: Vec<ApimHostname>) -> ApimService {
    ApimService {
        hostnames,
        ..service()
    }
}

#[test]
fn the_default_gateway_host_alone_gives_the_gateway_url() {
    // APIM lists its own host as a Proxy entry, bound by default when it is the only one.
    let s = service_with(vec![
        proxy("payments.azure-api.net", true),
        hostname("DeveloperPortal", "payments.developer.azure-api.net", false),
    ]);
    assert_eq!(
        gateway_base(&s).as_deref(),
        Some("https://payments.azure-api.net")
    );
    assert_eq!(
        gateway_base(&service_with(Vec::new())).as_deref(),
        Some("https://payments.azure-api.net")
    );
    let none = ApimService {
        gateway_url: None,
        ..service_with(vec![proxy("payments.azure-api.net", true)])
    };
    assert_eq!(gateway_base(&none), None);
}

#[test]
fn one_custom_proxy_domain_wins_without_the_default_ssl_binding() {
    // The common case Azure's own link gets wrong: one custom domain, and the default
    // host keeps (or has) the default binding.
    for default_bound in [true, false] {
        let s = service_with(vec![
            proxy("payments.azure-api.net", default_bound),
            proxy("api.contoso.example", false),
        ]);
        assert_eq!(
            gateway_base(&s).as_deref(),
            Some("https://api.contoso.example")
        );
    }
    // A gateway URL on a sovereign cloud's host is just as much APIM's own host.
    let china = ApimService {
        gateway_url: Some("https://payments.azure-api.cn/".into()),
        ..service_with(vec![
            proxy("PAYMENTS.azure-api.cn", true),
            proxy("api.contoso.cn", false),
        ])
    };
    assert_eq!(
        gateway_base(&china).as_deref(),
        Some("https://api.contoso.cn")
    );
    // `int-azure-api.net` is not under `.azure-api.net`: a custom domain.
    let lookalike = service_with(vec![proxy("gateway.current.int-azure-api.net", false)]);
    assert_eq!(
        gateway_base(&lookalike).as_deref(),
        Some("https://gateway.current.int-azure-api.net")
    );
}

#[test]
fn of_two_custom_domains_the_default_bound_one_wins_else_the_first() {
    let bound_second = service_with(vec![
        proxy("payments.azure-api.net", false),
        proxy("first.contoso.example", false),
        proxy("second.contoso.example", true),
    ]);
    assert_eq!(
        gateway_base(&bound_second).as_deref(),
        Some("https://second.contoso.example")
    );
    let none_bound = service_with(vec![
        proxy("payments.azure-api.net", true),
        proxy("first.contoso.example", false),
        proxy("second.contoso.example", false),
    ]);
    assert_eq!(
        gateway_base(&none_bound).as_deref(),
        Some("https://first.contoso.example")
    );
}

#[test]
fn portal_management_and_scm_hostnames_are_not_gateways() {
    let s = service_with(vec![
        proxy("payments.azure-api.net", true),
        hostname("Portal", "portal.contoso.example", true),
        hostname("DeveloperPortal", "developer.contoso.example", true),
        hostname("Management", "management.contoso.example", true),
        hostname("Scm", "scm.contoso.example", true),
        hostname("ConfigurationApi", "config.contoso.example", true),
    ]);
    assert_eq!(
        gateway_base(&s).as_deref(),
        Some("https://payments.azure-api.net")
    );
}

fn apim_id() -> ApimServiceId {
    ApimServiceId::parse(support::APIM_ID).unwrap()
}

fn connection(workspace: &str, default: &str, hostnames: &[&str]) -> ApimGatewayConnection {
    ApimGatewayConnection {
        source_id: format!("{}/workspaces/{workspace}", support::APIM_ID),
        default_hostname: Some(default.into()),
        hostnames: hostnames.iter().map(|h| h.to_string()).collect(),
    }
}

#[test]
fn a_workspace_gateway_is_called_on_its_custom_host_else_its_default_one() {
    let plain = connection(
        "w1",
        "gcc-1-ahg4t5iof8gaafex.gw-1.gateway.westeurope.azure-api.net",
        &["gcc1gw-1.gateway.westeurope.azure-api.net"],
    );
    assert_eq!(
        connection_host(&plain),
        Some("gcc-1-ahg4t5iof8gaafex.gw-1.gateway.westeurope.azure-api.net")
    );
    let custom = connection(
        "w1",
        "gcc-1-x.gw-1.gateway.westeurope.azure-api.net",
        &[
            "gcc1gw-1.gateway.westeurope.azure-api.net",
            "team.contoso.example",
        ],
    );
    assert_eq!(connection_host(&custom), Some("team.contoso.example"));
    let bare = ApimGatewayConnection {
        default_hostname: None,
        ..connection("w1", "", &[])
    };
    assert_eq!(connection_host(&bare), None);

    // The first connection serving a listed workspace wins; other services' workspaces,
    // unlisted workspaces and connections without a host are ignored.
    let mut other_service = connection("w1", "other.gateway.azure-api.net", &[]);
    other_service.source_id = other_service.source_id.replace("/payments/", "/elsewhere/");
    let map = workspace_gateways(
        &apim_id(),
        &["W1".to_string(), "w3".to_string()],
        &[
            other_service,
            bare,
            connection("w2", "w2.gateway.azure-api.net", &[]),
            custom,
            plain,
        ],
    );
    assert_eq!(
        map.into_iter().collect::<Vec<_>>(),
        vec![("W1".to_string(), "https://team.contoso.example".to_string())]
    );
}

#[test]
fn workspace_apis_use_their_workspace_gateway_and_others_the_service_one() {
    let mut in_w1 = api("orders", "Orders W1", "orders", None);
    in_w1.workspace = Some("w1".into());
    let mut in_w3 = api("stock", "Stock W3", "stock", None);
    in_w3.workspace = Some("w3".into());
    let mut m = model(vec![api("echo-api", "Echo", "echo", None), in_w1, in_w3]);
    m.service.hostnames = vec![proxy("api.contoso.example", false)];
    m.service
        .workspace_gateways
        .insert("w1".into(), "https://w1.gateway.example".into());
    let mut s = support::spec(
        apilink_core::spec::ImportSpecification::Always,
        None,
        FilterSpec::default(),
    );
    s.source.workspaces = vec!["w1".into(), "w3".into()];
    let d = desired_state(&support::settings_for("ns/a", &s), &m.observed());
    let runtime = |title: &str| {
        let a = d
            .apis
            .iter()
            .find(|a| a.properties.value()["title"] == title)
            .unwrap();
        a.versions[0]
            .definition
            .as_ref()
            .unwrap()
            .deployment
            .properties
            .value()["server"]["runtimeUri"][0]
            .clone()
    };
    assert_eq!(runtime("Orders W1"), "https://w1.gateway.example/orders");
    assert_eq!(
        runtime("Stock W3"),
        "https://api.contoso.example/stock",
        "a workspace without its own gateway is served by the service's"
    );
    assert_eq!(runtime("Echo"), "https://api.contoso.example/echo");
}

#[test]
fn contacts_license_and_terms_come_from_apim() {
    let mut a = api("x-api", "X", "x", None);
    a.contact = Some(apilink_core::observed::ApimContact {
        name: Some("Team".into()),
        url: None,
        email: Some("t@example.com".into()),
    });
    a.license = Some(apilink_core::observed::ApimLicense {
        name: Some("MIT".into()),
        url: None,
    });
    a.terms_of_service_url = Some("https://example.com/tos".into());
    let d = desired_state(&settings("ns/a"), &model(vec![a]).observed());
    let p = &only(&d.apis).properties.value();
    assert_eq!(
        p["contacts"],
        json!([{"name": "Team", "email": "t@example.com"}])
    );
    assert_eq!(p["license"], json!({"name": "MIT"}));
    assert_eq!(
        p["termsOfService"],
        json!({"url": "https://example.com/tos"})
    );
}

#[test]
fn two_links_never_share_names() {
    let m = model(vec![api("echo-api", "Echo", "echo", None)]);
    let a = desired_state(&settings("ns/a"), &m.observed());
    let b = desired_state(&settings("ns/b"), &m.observed());
    assert_ne!(a.apis[0].name, b.apis[0].name);
    assert_ne!(a.environment.name, b.environment.name);
}
