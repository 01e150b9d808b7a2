//! The read-only APIM client over HTTPS against the emulator: paging, current
//! revisions only, service details, exports per definition kind, token reuse, custom
//! gateway domains and workspace gateways, read as the planner reads them.
#![allow(clippy::unwrap_used)]

mod common;

use apilink_azure::apim::{ApimGatewayId, ApimScope, DefinitionFormat, ListApisOptions};
use apilink_core::ids::ApimApiRef;
use apilink_core::mapping::{self, SpecKind};
use apilink_core::observed;
use apilink_emulator::apim::{ProxyHostnameSeed, WorkspaceGatewaySeed, WorkspaceSeed};
use apilink_emulator::{CallKind, EmulatorConfig, Principal, Role, RoleAssignment, Seed};

fn api_ref(workspace: Option<&str>, api_id: &str) -> ApimApiRef {
    ApimApiRef {
        workspace: workspace.map(str::to_string),
        api_id: api_id.into(),
    }
}

#[tokio::test]
async fn lists_all_pages_and_only_current_revisions() {
    let emulator = common::start(EmulatorConfig {
        apim_page_size: 2,
        ..EmulatorConfig::default()
    })
    .await;
    let apim = common::apim(&emulator, common::client(&emulator));
    emulator.clear_calls();

    let apis = apim
        .list_apis(&ApimScope::Service, &ListApisOptions::default())
        .await
        .unwrap();
    let mut names: Vec<&str> = apis.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "catalog-graphql",
            "echo-api",
            "petstore-v1",
            "petstore-v2",
            "weather-soap"
        ]
    );
    assert!(apis.iter().all(|a| a.is_current()));

    let list_calls = common::arm_calls_to(&emulator, "/apis");
    assert!(
        list_calls.len() >= 3,
        "expected >= 3 pages, got {list_calls:?}"
    );
    assert!(
        list_calls
            .iter()
            .all(|c| c.query.contains("api-version=2024-05-01"))
    );

    // Without the filter the list is a list of revisions; the client still reports
    // only current ones when asked to.
    let all = apim
        .list_apis(
            &ApimScope::Service,
            &ListApisOptions {
                current_only: false,
                ..ListApisOptions::default()
            },
        )
        .await
        .unwrap();
    assert!(
        all.iter()
            .any(|a| a.name == "echo-api;rev=2" && !a.is_current())
    );
    assert_eq!(all.len(), apis.len() + 1);
}

#[tokio::test]
async fn service_apis_and_version_sets_as_the_planner_reads_them() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let apim = common::apim(&emulator, common::client(&emulator));

    let service = apim.get_service().await.unwrap();
    assert_eq!(service.name, common::APIM_SERVICE);
    let service = observed::ApimService::from(service);
    let runtime = mapping::gateway_base(&service).unwrap();
    assert!(runtime.starts_with("https://"), "{runtime}");

    let apis: Vec<observed::ApimApi> = apim
        .list_apis(&ApimScope::Service, &ListApisOptions::default())
        .await
        .unwrap()
        .into_iter()
        .map(|api| api.into_observed(None))
        .collect();
    let echo = apis.iter().find(|a| a.name == "echo-api").unwrap();
    assert_eq!(echo.api_ref(), api_ref(None, "echo-api"));
    assert_eq!(
        mapping::spec_kind(echo.api_type.as_deref()),
        Some(SpecKind::OpenApi)
    );
    assert!(echo.is_current);

    let sets = apim.list_version_sets(&ApimScope::Service).await.unwrap();
    let petstore = sets
        .into_iter()
        .find(|s| s.name == "petstore")
        .unwrap()
        .into_observed(None);
    assert_eq!(petstore.workspace, None);
    assert!(!petstore.display_name.is_empty());
    let members = apis
        .iter()
        .filter(|a| a.version_set_name() == Some("petstore"))
        .count();
    assert_eq!(members, 2);
}

#[tokio::test]
async fn exports_real_content_per_type_without_leaking_the_token() {
    let emulator = common::start(EmulatorConfig::default()).await;
    let apim = common::apim(&emulator, common::client(&emulator));
    emulator.clear_calls();

    let rest = apim
        .export_definition(&api_ref(None, "echo-api"), SpecKind::OpenApi)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        rest.format,
        DefinitionFormat::OpenApiJson | DefinitionFormat::SwaggerJson
    ));
    let doc: serde_json::Value = serde_json::from_str(&rest.content).unwrap();
    assert!(doc.get("paths").is_some(), "{doc}");
    assert!(rest.specification_version().is_some());

    let soap = apim
        .export_definition(&api_ref(None, "weather-soap"), SpecKind::Wsdl)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(soap.format, DefinitionFormat::Wsdl);
    assert!(soap.content.contains("definitions"), "{}", soap.content);

    let graphql = apim
        .export_definition(&api_ref(None, "catalog-graphql"), SpecKind::GraphQl)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(graphql.format, DefinitionFormat::GraphQl);
    assert!(
        graphql.content.contains("type Query"),
        "{}",
        graphql.content
    );

    let downloads = common::calls_of(&emulator, CallKind::ExportLink);
    assert_eq!(
        downloads.len(),
        2,
        "one download per link export: {downloads:?}"
    );
    for call in &downloads {
        assert_eq!(call.status, 200, "{call:?}");
        assert_eq!(call.principal, None, "the link was fetched without a token");
    }

    // GraphQL and gRPC documents have no link export: nothing is asked of APIM.
    emulator.clear_calls();
    for kind in [SpecKind::GraphQl, SpecKind::Grpc] {
        let link = apim
            .export_link(&api_ref(None, "catalog-graphql"), kind)
            .await
            .unwrap();
        assert_eq!(link, None, "{kind:?}");
    }
    assert!(common::calls_of(&emulator, CallKind::Arm).is_empty());
}

#[tokio::test]
async fn one_token_for_many_requests() {
    let emulator = common::start(EmulatorConfig::default()).await;
    emulator.clear_calls();
    let arm = common::client(&emulator);
    let apim = common::apim(&emulator, arm.clone());
    for _ in 0..10 {
        apim.get_service().await.unwrap();
    }
    let tokens = common::calls_of(&emulator, CallKind::Token);
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(common::calls_of(&emulator, CallKind::Arm).len(), 10);
    let counts = arm.counts();
    assert_eq!(counts.reads, 10);
    assert_eq!(counts.token_fetches, 1);
    assert_eq!(counts.retries, 0);
}

const WORKSPACE_SEED: &str = r#"
services:
  - name: contoso-apim
    sku: PremiumV2
    apis:
      - id: stream-ws
        type: websocket
        path: stream
      - id: greeter-grpc
        type: grpc
        path: greeter
        definition: |
          syntax = "proto3";
          service Greeter { rpc SayHello (HelloRequest) returns (HelloReply); }
          message HelloRequest { string name = 1; }
          message HelloReply { string message = 1; }
    workspaces:
      - id: team-a
        displayName: Team A
        versionSets:
          - {id: orders, displayName: Orders, versioningScheme: Segment}
        apis:
          - id: orders-v1
            displayName: Orders
            path: orders
            versionSet: orders
            version: v1
            operations:
              - GET /orders List orders
"#;

#[tokio::test]
async fn workspaces_grpc_and_types_without_definitions() {
    let emulator = common::start(EmulatorConfig {
        seed: apilink_emulator::Seed::from_yaml(WORKSPACE_SEED).unwrap(),
        ..EmulatorConfig::default()
    })
    .await;
    let apim = common::apim(&emulator, common::client(&emulator));

    let service_apis = apim
        .list_apis(&ApimScope::Service, &ListApisOptions::default())
        .await
        .unwrap();
    let mut names: Vec<&str> = service_apis.iter().map(|a| a.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["greeter-grpc", "stream-ws"],
        "workspace APIs are not service-level"
    );

    let kind_of = |name: &str| {
        let api = service_apis
            .iter()
            .find(|a| a.name == name)
            .unwrap()
            .clone();
        mapping::spec_kind(api.into_observed(None).api_type.as_deref())
    };
    assert_eq!(
        kind_of("stream-ws"),
        None,
        "websocket APIs have no definition"
    );
    assert_eq!(kind_of("greeter-grpc"), Some(SpecKind::Grpc));
    let grpc = apim
        .export_definition(&api_ref(None, "greeter-grpc"), SpecKind::Grpc)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(grpc.format, DefinitionFormat::Grpc);
    assert!(grpc.content.contains("service Greeter"), "{}", grpc.content);
    assert_eq!(grpc.specification_version().as_deref(), Some("proto3"));

    let workspaces = apim.list_workspaces().await.unwrap();
    assert_eq!(workspaces.len(), 1);
    assert_eq!(workspaces[0].name, "team-a");
    let scope = ApimScope::Workspace("team-a".into());
    let team_apis = apim
        .list_apis(&scope, &ListApisOptions::default())
        .await
        .unwrap();
    assert_eq!(team_apis.len(), 1);
    let orders = team_apis[0].clone().into_observed(Some("team-a"));
    assert_eq!(orders.version_set_name(), Some("orders"));
    let sets = apim.list_version_sets(&scope).await.unwrap();
    assert_eq!(sets.len(), 1);
    let openapi = apim
        .export_definition(&orders.api_ref(), SpecKind::OpenApi)
        .await
        .unwrap()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&openapi.content).unwrap();
    assert!(doc["paths"].get("/orders").is_some(), "{doc}");
}

/// The default APIM with one custom domain (not bound by default) and three workspaces:
/// `team-a` and `team-b` behind gateway `team-gw` (team-b on a custom host), `team-c`
/// without a gateway of its own.
fn gateway_seed() -> Seed {
    let mut seed = Seed::default();
    let service = &mut seed.services[0];
    service.proxy_hostnames = vec![ProxyHostnameSeed::new("api.contoso.example", false)];
    let behind_gateway = |id: &str, hostnames: Vec<String>| WorkspaceSeed {
        gateways: vec![WorkspaceGatewaySeed {
            hostnames,
            ..WorkspaceGatewaySeed::new("team-gw")
        }],
        ..WorkspaceSeed::new(id)
    };
    service.workspaces = vec![
        behind_gateway("team-a", Vec::new()),
        behind_gateway("team-b", vec!["team-b.contoso.example".into()]),
        WorkspaceSeed::new("team-c"),
    ];
    seed
}

#[tokio::test]
async fn a_custom_domain_without_the_default_binding_is_the_runtime_base() {
    let emulator = common::start(EmulatorConfig {
        seed: gateway_seed(),
        ..EmulatorConfig::default()
    })
    .await;
    let apim = common::apim(&emulator, common::client(&emulator));
    let service = apim.get_service().await.unwrap();
    let default = service
        .properties
        .hostname_configurations
        .iter()
        .find(|h| h.certificate_source.as_deref() == Some("BuiltIn"))
        .unwrap();
    assert_eq!(default.default_ssl_binding, Some(true));
    assert_eq!(
        mapping::gateway_base(&service.into()).as_deref(),
        Some("https://api.contoso.example")
    );
}

#[tokio::test]
async fn workspace_gateways_are_read_through_links_and_config_connections() {
    let gateway_id = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ApiManagement/gateways/team-gw",
        apilink_emulator::DEFAULT_SUBSCRIPTION_ID,
        apilink_emulator::DEFAULT_RESOURCE_GROUP
    );
    // Least privilege: the APIM reader role, plus Reader on the one gateway.
    let mut principal = Principal::default_for(apilink_emulator::DEFAULT_SUBSCRIPTION_ID);
    principal
        .roles
        .push(RoleAssignment::new(Role::Reader, &gateway_id));
    let emulator = common::start(EmulatorConfig {
        seed: gateway_seed(),
        principals: vec![principal],
        ..EmulatorConfig::default()
    })
    .await;
    let apim = common::apim(&emulator, common::client(&emulator));

    let links = apim.list_workspace_links().await.unwrap();
    let names: Vec<&str> = links.iter().map(|l| l.workspace()).collect();
    assert_eq!(names, ["team-a", "team-b", "team-c"]);
    let linked: ApimGatewayId = links[0].properties.gateways[0]
        .id
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(linked.path(), gateway_id);
    assert!(links[2].properties.gateways.is_empty());

    emulator.clear_calls();
    let connections = apim
        .workspace_gateway_connections(&["TEAM-B".to_string(), "team-c".to_string()])
        .await
        .unwrap();
    let calls: Vec<String> = common::calls_of(&emulator, CallKind::Arm)
        .iter()
        .map(|c| c.path.clone())
        .collect();
    assert_eq!(
        calls,
        [
            format!(
                "{}/workspaceLinks",
                emulator.apim_resource_id(common::APIM_SERVICE)
            ),
            format!("{gateway_id}/configConnections"),
        ],
        "one links list, one connections list per linked gateway"
    );
    assert_eq!(connections.len(), 2, "the gateway's connections, whole");
    let team_a_name = connections.iter().position(|c| c.name == "team-a").unwrap();
    let connections: Vec<observed::ApimGatewayConnection> =
        connections.into_iter().map(Into::into).collect();
    let team_b = connections
        .iter()
        .find(|c| c.source_id.ends_with("/workspaces/team-b"))
        .unwrap();
    assert_eq!(
        mapping::connection_host(team_b),
        Some("team-b.contoso.example")
    );
    let host = mapping::connection_host(&connections[team_a_name]).unwrap();
    assert!(
        host.ends_with(".team-gw.gateway.westeurope.azure-api.net"),
        "{host}"
    );
    let service =
        apilink_core::ids::ApimServiceId::parse(&emulator.apim_resource_id(common::APIM_SERVICE))
            .unwrap();
    let bases = mapping::workspace_gateways(
        &service,
        &["team-a".to_string(), "TEAM-B".to_string()],
        &connections,
    );
    assert_eq!(
        bases.get("TEAM-B").map(String::as_str),
        Some("https://team-b.contoso.example")
    );
    assert_eq!(bases.get("team-a"), Some(&format!("https://{host}")));

    // Nothing to read for workspaces without gateways, and nothing at all without
    // workspaces.
    emulator.clear_calls();
    assert!(
        apim.workspace_gateway_connections(&["team-c".to_string()])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(common::calls_of(&emulator, CallKind::Arm).len(), 1);
    emulator.clear_calls();
    assert!(
        apim.workspace_gateway_connections(&[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(common::calls_of(&emulator, CallKind::Arm).is_empty());
}

#[tokio::test]
async fn without_read_access_to_the_gateway_the_read_fails_and_says_so() {
    let emulator = common::start(EmulatorConfig {
        seed: gateway_seed(),
        ..EmulatorConfig::default()
    })
    .await;
    let apim = common::apim(&emulator, common::client(&emulator));
    let err = apim
        .workspace_gateway_connections(&["team-a".to_string()])
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    assert!(
        err.arm_message()
            .unwrap()
            .contains("Microsoft.ApiManagement/gateways/configConnections/read"),
        "{err}"
    );
}
