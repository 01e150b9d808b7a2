//! Literal definition content from a seed: recognising its kind and reading its
//! operations, so exports in other formats and the operations list stay consistent.

use std::collections::BTreeSet;
use std::sync::Arc;

use regex::Regex;
use serde_json::Value;

use super::model::{ApiType, Literal, Operation};

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Reads literal content for an API of `api_type`, or says why it does not fit.
pub(crate) fn parse(content: &str, api_type: ApiType) -> Result<(Literal, Vec<Operation>), String> {
    match api_type {
        ApiType::Http => {
            let value: Value = serde_json::from_str(content)
                .or_else(|_| serde_yaml::from_str::<Value>(content))
                .map_err(|e| format!("the definition is neither JSON nor YAML: {e}"))?;
            let ops = openapi_operations(&value);
            if value.get("openapi").is_some() {
                Ok((Literal::OpenApi3(Arc::new(value)), ops))
            } else if value.get("swagger").is_some() {
                Ok((Literal::Swagger2(Arc::new(value)), ops))
            } else {
                Err("an http API's definition must be OpenAPI 3 or Swagger 2 (an `openapi` or `swagger` member)".into())
            }
        }
        ApiType::Soap => {
            if !content.trim_start().starts_with('<') || !content.contains("definitions") {
                return Err("a SOAP API's definition must be a WSDL document".into());
            }
            let ops = named(content, r#"<(?:\w+:)?operation\s+name="([^"]+)""#)
                .into_iter()
                .map(|name| Operation {
                    url_template: format!("/?soapAction={name}"),
                    method: "POST".into(),
                    display_name: name.clone(),
                    name,
                    description: None,
                })
                .collect();
            Ok((Literal::Wsdl(Arc::from(content)), ops))
        }
        ApiType::Graphql => {
            if !content.contains("type ") {
                return Err("a GraphQL API's definition must be a GraphQL schema (SDL)".into());
            }
            Ok((
                Literal::GraphqlSdl(Arc::from(content)),
                graphql_operations(content),
            ))
        }
        ApiType::Grpc => {
            if !content.contains("service ") {
                return Err("a gRPC API's definition must be a proto file with a service".into());
            }
            let ops = named(content, r"rpc\s+(\w+)")
                .into_iter()
                .map(|name| Operation {
                    url_template: format!("/{name}"),
                    method: "POST".into(),
                    display_name: name.clone(),
                    name,
                    description: None,
                })
                .collect();
            Ok((Literal::Proto(Arc::from(content)), ops))
        }
        ApiType::Websocket | ApiType::Odata => Err(format!(
            "a {} API has no definition document",
            api_type.name()
        )),
    }
}

fn openapi_operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, op) in item {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let text = |k: &str| op.get(k).and_then(Value::as_str).map(str::to_string);
            let upper = method.to_ascii_uppercase();
            out.push(Operation {
                name: text("operationId")
                    .unwrap_or_else(|| format!("{method}{}", path.replace(['/', '{', '}'], "-"))),
                display_name: text("summary").unwrap_or_else(|| format!("{upper} {path}")),
                description: text("description"),
                method: upper,
                url_template: path.clone(),
            });
        }
    }
    out
}

fn named(content: &str, pattern: &str) -> Vec<String> {
    let Ok(re) = Regex::new(pattern) else {
        return Vec::new();
    };
    let mut seen = BTreeSet::new();
    re.captures_iter(content)
        .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

fn graphql_operations(sdl: &str) -> Vec<Operation> {
    let mut out = Vec::new();
    let Ok(field) = Regex::new(r"(?m)^\s*(\w+)\s*[(:]") else {
        return out;
    };
    for (kind, type_name) in [("query", "Query"), ("mutation", "Mutation")] {
        let Ok(block) = Regex::new(&format!(r"type\s+{type_name}\s*\{{([^}}]*)\}}")) else {
            continue;
        };
        if let Some(body) = block.captures(sdl).and_then(|c| c.get(1)) {
            for f in field.captures_iter(body.as_str()) {
                if let Some(name) = f.get(1) {
                    out.push(Operation {
                        name: name.as_str().to_string(),
                        method: kind.to_string(),
                        url_template: "/".to_string(),
                        display_name: name.as_str().to_string(),
                        description: None,
                    });
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn openapi_yaml_literal_yields_operations() {
        let yaml = "openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths:\n  /pets/{id}:\n    get: {operationId: getPet, summary: Get a pet}\n    delete: {}\n";
        let (lit, ops) = parse(yaml, ApiType::Http).unwrap();
        assert!(matches!(lit, Literal::OpenApi3(_)));
        assert_eq!(ops.len(), 2);
        assert!(ops.iter().any(|o| o.name == "getPet" && o.method == "GET"));
    }

    #[test]
    fn wrong_kinds_are_refused() {
        assert!(parse("{\"x\":1}", ApiType::Http).is_err());
        assert!(parse("type Query { a: Int }", ApiType::Soap).is_err());
        assert!(parse("anything", ApiType::Websocket).is_err());
    }

    #[test]
    fn wsdl_sdl_and_proto_operations() {
        let wsdl = r#"<wsdl:definitions><wsdl:portType><wsdl:operation name="A"/><wsdl:operation name="B"/></wsdl:portType><wsdl:binding><wsdl:operation name="A"/></wsdl:binding></wsdl:definitions>"#;
        let (_, ops) = parse(wsdl, ApiType::Soap).unwrap();
        assert_eq!(
            ops.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
            ["A", "B"]
        );
        let sdl = "type Query {\n  products(first: Int): [String]\n  me: String\n}\ntype Mutation {\n  add(x: Int): Int\n}\n";
        let (_, ops) = parse(sdl, ApiType::Graphql).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[2].method, "mutation");
        let (_, ops) = parse("service S { rpc Get (A) returns (B); }", ApiType::Grpc).unwrap();
        assert_eq!(ops[0].name, "Get");
    }
}
