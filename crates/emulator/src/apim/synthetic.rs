//! A large, realistic APIM generated from a number, for benchmarks: mostly REST APIs, some
//! version sets, SOAP and GraphQL APIs, and APIs with a non-current revision.

use super::model::{ApiType, VersioningScheme};
use super::seed::{
    ApiSeed, OperationSeed, ProductSeed, RevisionSeed, Seed, ServiceSeed, TagSeed, VersionSetSeed,
};

const DOMAINS: &[&str] = &[
    "orders",
    "payments",
    "customers",
    "inventory",
    "shipping",
    "billing",
    "catalog",
    "search",
    "identity",
    "notifications",
    "pricing",
    "returns",
    "loyalty",
    "reviews",
    "warehouse",
    "invoices",
    "accounts",
    "reports",
    "partners",
    "tickets",
];

fn title(domain: &str) -> String {
    let mut chars = domain.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

fn rest_operations(domain: &str) -> Vec<OperationSeed> {
    vec![
        OperationSeed::Line(format!("GET /{domain} List {domain}")),
        OperationSeed::Line(format!("GET /{domain}/{{id}} Get one")),
        OperationSeed::Line(format!("POST /{domain} Create")),
    ]
}

/// `n_apis` APIs in service `contoso-apim`. In every block of ten: three versions of one
/// API in a version set (v1..v3), one SOAP API, one GraphQL API, one REST API with a
/// non-current revision 2, and four plain REST APIs. Ids are `{domain}-{index:05}`.
/// The last two REST APIs of a block carry their domain's tag; the second-to-last
/// belongs to product `partner`, the last to product `internal`.
pub(crate) fn synthetic(n_apis: usize) -> Seed {
    let mut service = ServiceSeed::new("contoso-apim");
    service.publisher_name = Some("Contoso".to_string());
    service.tags = DOMAINS.iter().map(|d| TagSeed::new(d, &title(d))).collect();
    let mut partner = ProductSeed::new("partner", "Partner APIs", &[]);
    let mut internal = ProductSeed::new("internal", "Internal APIs", &[]);
    for i in 0..n_apis {
        let block = i / 10;
        let slot = i % 10;
        let domain = DOMAINS[block % DOMAINS.len()];
        let id = format!("{domain}-{i:05}");
        let mut api = ApiSeed::new(&id, &format!("{} API {i}", title(domain)));
        api.description = Some(format!(
            "Synthetic {domain} API number {i}, for benchmarks."
        ));
        api.service_url = Some(format!("https://backend.contoso.example/{domain}/{i}"));
        api.path = Some(format!("{domain}/{i}"));
        match slot {
            0..=2 => {
                let set = format!("{domain}-set-{block:04}");
                if slot == 0 {
                    let mut vs =
                        VersionSetSeed::new(&set, &format!("{} (set {block})", title(domain)));
                    vs.versioning_scheme = VersioningScheme::Segment;
                    service.version_sets.push(vs);
                }
                api.display_name = Some(format!("{} API (set {block})", title(domain)));
                api.path = Some(format!("{domain}/set-{block}"));
                api.version_set = Some(set);
                api.version = Some(format!("v{}", slot + 1));
                api.operations = rest_operations(domain);
            }
            3 => {
                api.api_type = ApiType::Soap;
                api.operations = vec![
                    OperationSeed::Line(format!("Get{} Get a record", title(domain))),
                    OperationSeed::Line(format!("Put{} Store a record", title(domain))),
                ];
            }
            4 => {
                api.api_type = ApiType::Graphql;
                api.operations = vec![
                    OperationSeed::Line(format!("query {domain}")),
                    OperationSeed::Line(format!("mutation update{}", title(domain))),
                ];
            }
            5 => {
                api.operations = rest_operations(domain);
                api.revisions = vec![RevisionSeed {
                    rev: 2,
                    description: Some("Work in progress".to_string()),
                    ..RevisionSeed::default()
                }];
            }
            _ => api.operations = rest_operations(domain),
        }
        match slot {
            8 => partner.apis.push(id.clone()),
            9 => internal.apis.push(id.clone()),
            _ => {}
        }
        if slot >= 8 {
            api.tags = vec![domain.to_string()];
        }
        service.apis.push(api);
    }
    service.products = vec![partner, internal];
    Seed {
        services: vec![service],
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_seeds_are_valid_and_sized() {
        let seed = synthetic(25);
        seed.validate().unwrap();
        let s = &seed.services[0];
        assert_eq!(s.apis.len(), 25);
        assert_eq!(s.version_sets.len(), 3);
        assert!(s.apis.iter().any(|a| a.api_type == ApiType::Soap));
        assert!(s.apis.iter().any(|a| !a.revisions.is_empty()));
        assert_eq!(s.apis.iter().filter(|a| !a.tags.is_empty()).count(), 4);
        assert_eq!(s.products[0].apis, vec!["orders-00008", "payments-00018"]);
    }
}
