//! Definition documents as APIM exports them: OpenAPI 3 (JSON or YAML), Swagger 2, WADL,
//! WSDL, GraphQL SDL and proto, generated from an API's operations (or from literal content
//! given in the seed), so they differ per API and change when the API changes.

use serde_json::{Map, Value, json};

use super::model::{Literal, Operation, Revision};

/// What every document states about the API besides its operations.
pub(crate) struct DocInfo<'a> {
    pub api_id: &'a str,
    pub revision: &'a Revision,
    /// `https://{gateway host}`, without a trailing slash.
    pub gateway: &'a str,
}

impl DocInfo<'_> {
    fn title(&self) -> &str {
        &self.revision.display_name
    }

    fn version(&self) -> String {
        match self.revision.api_version.as_deref() {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => "1.0".to_string(),
        }
    }

    /// The API's base URL on the gateway.
    fn base_url(&self) -> String {
        let path = self.revision.path.trim_matches('/');
        if path.is_empty() {
            self.gateway.to_string()
        } else {
            format!("{}/{path}", self.gateway)
        }
    }

    fn host(&self) -> &str {
        self.gateway
            .trim_start_matches("https://")
            .trim_start_matches("http://")
    }

    fn ops(&self) -> &[Operation] {
        &self.revision.operations
    }
}

struct Template {
    path: String,
    path_params: Vec<String>,
    query_params: Vec<String>,
}

fn parse_template(url_template: &str) -> Template {
    let (path, query) = url_template.split_once('?').unwrap_or((url_template, ""));
    let mut path = path.to_string();
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let path_params = braces(&path);
    let query_params = query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k).or(Some(pair)))
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    Template {
        path,
        path_params,
        query_params,
    }
}

pub(crate) fn braces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push(rest[start + 1..start + len].to_string());
        rest = &rest[start + len + 1..];
    }
    out
}

fn has_body(method: &str) -> bool {
    matches!(
        method.to_ascii_uppercase().as_str(),
        "POST" | "PUT" | "PATCH"
    )
}

fn insert_info(doc: &mut Map<String, Value>, info: &DocInfo<'_>) {
    let mut i = Map::new();
    i.insert("title".into(), json!(info.title()));
    if let Some(d) = &info.revision.description {
        i.insert("description".into(), json!(d));
    }
    i.insert("version".into(), json!(info.version()));
    doc.insert("info".into(), Value::Object(i));
}

/// The members both OpenAPI versions open an operation with.
fn operation_head(op: &Operation) -> Map<String, Value> {
    let mut operation = Map::new();
    operation.insert("summary".into(), json!(op.display_name));
    if let Some(d) = &op.description {
        operation.insert("description".into(), json!(d));
    }
    operation.insert("operationId".into(), json!(op.name));
    operation
}

/// Adds `operation` (closed with its `responses`) under `path` and its method.
fn add_operation(
    paths: &mut Map<String, Value>,
    path: String,
    method: &str,
    mut operation: Map<String, Value>,
) {
    operation.insert("responses".into(), json!({"200": {"description": "OK"}}));
    let entry = paths
        .entry(path)
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(methods) = entry {
        methods.insert(method.to_ascii_lowercase(), Value::Object(operation));
    }
}

/// The subscription-key schemes APIM states (`securitySchemes` in OpenAPI 3,
/// `securityDefinitions` in Swagger 2).
fn api_key_schemes() -> Value {
    json!({
        "apiKeyHeader": {"type": "apiKey", "name": "Ocp-Apim-Subscription-Key", "in": "header"},
        "apiKeyQuery": {"type": "apiKey", "name": "subscription-key", "in": "query"}
    })
}

/// Either subscription-key scheme admits a call.
fn api_key_requirements() -> Value {
    json!([{"apiKeyHeader": []}, {"apiKeyQuery": []}])
}

/// OpenAPI 3.0 as a JSON value (serialized as JSON or YAML by the caller).
pub(crate) fn openapi3(info: &DocInfo<'_>) -> Value {
    if let Some(Literal::OpenApi3(literal)) = &info.revision.literal {
        let mut doc = literal.as_object().cloned().unwrap_or_default();
        insert_info(&mut doc, info);
        doc.insert("servers".into(), json!([{ "url": info.base_url() }]));
        return Value::Object(doc);
    }
    let mut paths = Map::new();
    for op in info.ops() {
        let t = parse_template(&op.url_template);
        let mut parameters: Vec<Value> = t
            .path_params
            .iter()
            .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        parameters.extend(t.query_params.iter().map(
            |p| json!({"name": p, "in": "query", "required": false, "schema": {"type": "string"}}),
        ));
        let mut operation = operation_head(op);
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }
        if has_body(&op.method) {
            operation.insert(
                "requestBody".into(),
                json!({"content": {"application/json": {"schema": {"type": "object"}}}}),
            );
        }
        add_operation(&mut paths, t.path, &op.method, operation);
    }
    let mut doc = Map::new();
    doc.insert("openapi".into(), json!("3.0.1"));
    insert_info(&mut doc, info);
    doc.insert("servers".into(), json!([{ "url": info.base_url() }]));
    doc.insert("paths".into(), Value::Object(paths));
    doc.insert(
        "components".into(),
        json!({ "securitySchemes": api_key_schemes() }),
    );
    doc.insert("security".into(), api_key_requirements());
    Value::Object(doc)
}

/// Swagger (OpenAPI 2.0) JSON.
pub(crate) fn swagger2(info: &DocInfo<'_>) -> Value {
    let base_path = format!("/{}", info.revision.path.trim_matches('/'));
    if let Some(Literal::Swagger2(literal)) = &info.revision.literal {
        let mut doc = literal.as_object().cloned().unwrap_or_default();
        insert_info(&mut doc, info);
        doc.insert("host".into(), json!(info.host()));
        doc.insert("basePath".into(), json!(base_path));
        return Value::Object(doc);
    }
    let mut paths = Map::new();
    for op in info.ops() {
        let t = parse_template(&op.url_template);
        let mut parameters: Vec<Value> = t
            .path_params
            .iter()
            .map(|p| json!({"name": p, "in": "path", "required": true, "type": "string"}))
            .collect();
        parameters.extend(
            t.query_params
                .iter()
                .map(|p| json!({"name": p, "in": "query", "required": false, "type": "string"})),
        );
        if has_body(&op.method) {
            parameters.push(json!({"name": "body", "in": "body", "schema": {"type": "object"}}));
        }
        let mut operation = operation_head(op);
        operation.insert("parameters".into(), Value::Array(parameters));
        add_operation(&mut paths, t.path, &op.method, operation);
    }
    let mut doc = Map::new();
    doc.insert("swagger".into(), json!("2.0"));
    insert_info(&mut doc, info);
    doc.insert("host".into(), json!(info.host()));
    doc.insert("basePath".into(), json!(base_path));
    doc.insert("schemes".into(), json!(["https"]));
    doc.insert("consumes".into(), json!(["application/json"]));
    doc.insert("produces".into(), json!(["application/json"]));
    doc.insert("paths".into(), Value::Object(paths));
    doc.insert("securityDefinitions".into(), api_key_schemes());
    doc.insert("security".into(), api_key_requirements());
    Value::Object(doc)
}

pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// An XML name made of the letters and digits of `text` (WSDL names must be NCNames).
fn xml_name(text: &str) -> String {
    let mut out: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'N');
    }
    out
}

/// Appends one piece per operation, made from the operation and its XML-safe name.
fn push_each(out: &mut String, ops: &[Operation], piece: impl Fn(&Operation, &str) -> String) {
    for op in ops {
        out.push_str(&piece(op, &xml_name(&op.name)));
    }
}

/// WADL for http APIs.
pub(crate) fn wadl(info: &DocInfo<'_>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str("<application xmlns=\"http://wadl.dev.java.net/2009/02\">\n");
    out.push_str(&format!(
        "  <doc title=\"{}\">{}</doc>\n",
        xml_escape(info.title()),
        xml_escape(info.revision.description.as_deref().unwrap_or(""))
    ));
    out.push_str(&format!(
        "  <resources base=\"{}\">\n",
        xml_escape(&info.base_url())
    ));
    for op in info.ops() {
        let t = parse_template(&op.url_template);
        out.push_str(&format!(
            "    <resource path=\"{}\">\n      <method name=\"{}\" id=\"{}\">\n        <doc title=\"{}\"/>\n      </method>\n    </resource>\n",
            xml_escape(&t.path),
            xml_escape(&op.method.to_ascii_uppercase()),
            xml_escape(&op.name),
            xml_escape(&op.display_name)
        ));
    }
    out.push_str("  </resources>\n</application>\n");
    out
}

/// WSDL 1.1 for SOAP APIs; a literal WSDL from the seed is served as given.
pub(crate) fn wsdl(info: &DocInfo<'_>) -> String {
    if let Some(Literal::Wsdl(literal)) = &info.revision.literal {
        return literal.to_string();
    }
    let service = xml_name(info.title());
    let ns = format!("urn:apim:{}", xml_escape(info.api_id));
    let ops = info.ops();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    out.push_str(&format!(
        "<wsdl:definitions name=\"{service}\" targetNamespace=\"{ns}\" xmlns:tns=\"{ns}\" \
         xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" xmlns:soap=\"http://schemas.xmlsoap.org/wsdl/soap/\" \
         xmlns:s=\"http://www.w3.org/2001/XMLSchema\">\n"
    ));
    if let Some(d) = &info.revision.description {
        out.push_str(&format!(
            "  <wsdl:documentation>{}</wsdl:documentation>\n",
            xml_escape(d)
        ));
    }
    out.push_str(&format!(
        "  <wsdl:types>\n    <s:schema elementFormDefault=\"qualified\" targetNamespace=\"{ns}\">\n"
    ));
    push_each(&mut out, ops, |_, name| {
        format!(
            "      <s:element name=\"{name}\"><s:complexType><s:sequence><s:element minOccurs=\"0\" name=\"request\" type=\"s:string\"/></s:sequence></s:complexType></s:element>\n      <s:element name=\"{name}Response\"><s:complexType><s:sequence><s:element minOccurs=\"0\" name=\"{name}Result\" type=\"s:string\"/></s:sequence></s:complexType></s:element>\n"
        )
    });
    out.push_str("    </s:schema>\n  </wsdl:types>\n");
    push_each(&mut out, ops, |_, name| {
        format!(
            "  <wsdl:message name=\"{name}SoapIn\"><wsdl:part name=\"parameters\" element=\"tns:{name}\"/></wsdl:message>\n  <wsdl:message name=\"{name}SoapOut\"><wsdl:part name=\"parameters\" element=\"tns:{name}Response\"/></wsdl:message>\n"
        )
    });
    out.push_str(&format!("  <wsdl:portType name=\"{service}Soap\">\n"));
    push_each(&mut out, ops, |op, name| {
        format!(
            "    <wsdl:operation name=\"{name}\">\n      <wsdl:documentation>{}</wsdl:documentation>\n      <wsdl:input message=\"tns:{name}SoapIn\"/>\n      <wsdl:output message=\"tns:{name}SoapOut\"/>\n    </wsdl:operation>\n",
            xml_escape(&op.display_name)
        )
    });
    out.push_str("  </wsdl:portType>\n");
    out.push_str(&format!(
        "  <wsdl:binding name=\"{service}Soap\" type=\"tns:{service}Soap\">\n    <soap:binding transport=\"http://schemas.xmlsoap.org/soap/http\"/>\n"
    ));
    push_each(&mut out, ops, |_, name| {
        format!(
            "    <wsdl:operation name=\"{name}\">\n      <soap:operation soapAction=\"{ns}/{name}\" style=\"document\"/>\n      <wsdl:input><soap:body use=\"literal\"/></wsdl:input>\n      <wsdl:output><soap:body use=\"literal\"/></wsdl:output>\n    </wsdl:operation>\n"
        )
    });
    out.push_str("  </wsdl:binding>\n");
    out.push_str(&format!(
        "  <wsdl:service name=\"{service}\">\n    <wsdl:port name=\"{service}Soap\" binding=\"tns:{service}Soap\">\n      <soap:address location=\"{}\"/>\n    </wsdl:port>\n  </wsdl:service>\n</wsdl:definitions>\n",
        xml_escape(&info.base_url())
    ));
    out
}

/// The GraphQL schema (SDL); operations named `query x` / `mutation y` become fields.
pub(crate) fn graphql_sdl(info: &DocInfo<'_>) -> String {
    if let Some(Literal::GraphqlSdl(literal)) = &info.revision.literal {
        return literal.to_string();
    }
    let mut queries = Vec::new();
    let mut mutations = Vec::new();
    for op in info.ops() {
        let field = graphql_field(&op.name);
        let doc = format!("  \"\"\"{}\"\"\"\n", op.display_name.replace('"', "'"));
        let line = format!("{doc}  {field}(id: ID): String\n");
        if op.method.eq_ignore_ascii_case("mutation") {
            mutations.push(line);
        } else {
            queries.push(line);
        }
    }
    if queries.is_empty() {
        queries.push("  \"\"\"Health of the API\"\"\"\n  ping: String\n".to_string());
    }
    let mut out = format!(
        "\"\"\"\n{}{}\n\"\"\"\nschema {{\n  query: Query{}\n}}\n\n",
        info.title().replace('"', "'"),
        info.revision
            .description
            .as_deref()
            .map(|d| format!(" - {}", d.replace('"', "'")))
            .unwrap_or_default(),
        if mutations.is_empty() {
            ""
        } else {
            "\n  mutation: Mutation"
        }
    );
    out.push_str("type Query {\n");
    out.extend(queries);
    out.push_str("}\n");
    if !mutations.is_empty() {
        out.push_str("\ntype Mutation {\n");
        out.extend(mutations);
        out.push_str("}\n");
    }
    out
}

fn graphql_field(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if upper {
                out.push(c.to_ascii_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        } else {
            upper = !out.is_empty();
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'f');
    }
    out
}

/// A proto3 file for gRPC APIs.
pub(crate) fn proto(info: &DocInfo<'_>) -> String {
    if let Some(Literal::Proto(literal)) = &info.revision.literal {
        return literal.to_string();
    }
    let service = xml_name(info.title());
    let package: String = info
        .api_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let mut out = format!(
        "syntax = \"proto3\";\n\n// {}\npackage {package};\n\nservice {service} {{\n",
        info.title()
    );
    push_each(&mut out, info.ops(), |op, name| {
        format!(
            "  // {}\n  rpc {name} ({name}Request) returns ({name}Reply);\n",
            op.display_name
        )
    });
    out.push_str("}\n");
    push_each(&mut out, info.ops(), |_, name| {
        format!(
            "\nmessage {name}Request {{\n  string id = 1;\n}}\n\nmessage {name}Reply {{\n  string result = 1;\n}}\n"
        )
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apim::model::ApiType;
    use std::sync::Arc;

    fn revision(ops: Vec<Operation>) -> Revision {
        Revision {
            rev: 1,
            display_name: "Orders <v1>".into(),
            description: Some("Order & fulfilment".into()),
            path: "orders".into(),
            api_type: ApiType::Http,
            service_url: None,
            protocols: vec!["https".into()],
            version_set: None,
            api_version: Some("v1".into()),
            revision_description: None,
            subscription_required: true,
            contact: None,
            license: None,
            terms_of_service_url: None,
            operations: Arc::from(ops),
            literal: None,
            created: jiff::Timestamp::UNIX_EPOCH,
            updated: jiff::Timestamp::UNIX_EPOCH,
            generation: 1,
        }
    }

    fn op(method: &str, template: &str, name: &str) -> Operation {
        Operation {
            name: name.into(),
            method: method.into(),
            url_template: template.into(),
            display_name: format!("{method} {template}"),
            description: None,
        }
    }

    #[test]
    fn openapi_has_paths_parameters_and_servers() {
        let rev = revision(vec![
            op("GET", "/orders/{orderId}", "get-order"),
            op("POST", "/orders", "create-order"),
            op("GET", "/search?q={q}", "search"),
        ]);
        let info = DocInfo {
            api_id: "orders",
            revision: &rev,
            gateway: "https://apim.example",
        };
        let doc = openapi3(&info);
        assert_eq!(doc["openapi"], "3.0.1");
        assert_eq!(doc["info"]["title"], "Orders <v1>");
        assert_eq!(doc["info"]["version"], "v1");
        assert_eq!(doc["servers"][0]["url"], "https://apim.example/orders");
        assert_eq!(
            doc["paths"]["/orders/{orderId}"]["get"]["operationId"],
            "get-order"
        );
        assert_eq!(
            doc["paths"]["/orders/{orderId}"]["get"]["parameters"][0]["name"],
            "orderId"
        );
        assert!(doc["paths"]["/orders"]["post"]["requestBody"].is_object());
        assert_eq!(
            doc["paths"]["/search"]["get"]["parameters"][0]["in"],
            "query"
        );
        let sw = swagger2(&info);
        assert_eq!(sw["swagger"], "2.0");
        assert_eq!(sw["host"], "apim.example");
        assert_eq!(sw["basePath"], "/orders");
        assert!(sw["paths"]["/orders/{orderId}"]["get"].is_object());
    }

    #[test]
    fn xml_documents_escape_text() {
        let rev = revision(vec![op("POST", "/?soapAction=GetQuote", "GetQuote")]);
        let info = DocInfo {
            api_id: "quotes",
            revision: &rev,
            gateway: "https://apim.example",
        };
        let w = wsdl(&info);
        assert!(w.contains("<wsdl:definitions"));
        assert!(w.contains("name=\"GetQuote\""));
        assert!(w.contains("Order &amp; fulfilment"));
        assert!(!w.contains("<v1>"));
        let wadl = wadl(&info);
        assert!(wadl.contains("<application"));
    }

    #[test]
    fn sdl_and_proto_name_operations() {
        let rev = revision(vec![
            op("query", "/", "list-products"),
            op("mutation", "/", "add product"),
        ]);
        let info = DocInfo {
            api_id: "catalog",
            revision: &rev,
            gateway: "https://apim.example",
        };
        let sdl = graphql_sdl(&info);
        assert!(sdl.contains("type Query {"));
        assert!(sdl.contains("listProducts(id: ID): String"));
        assert!(sdl.contains("type Mutation {"));
        assert!(sdl.contains("addProduct"));
        let p = proto(&info);
        assert!(p.contains("syntax = \"proto3\";"));
        assert!(p.contains("rpc listproducts"));
    }
}
