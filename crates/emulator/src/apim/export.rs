//! `GET .../apis/{apiId}?format=…&export=true`: the definition in a requested format,
//! either behind a short-lived link or inline.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::documents::{self, DocInfo};
use super::model::{ApiType, Revision};
use super::render::ScopeRef;
use crate::arm::ArmError;
use crate::links::ExportLinks;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Document {
    Swagger,
    OpenApiYaml,
    OpenApiJson,
    Wsdl,
    Wadl,
}

struct Format {
    document: Document,
    link: bool,
    /// What APIM echoes in `format` (it differs from the request for some).
    echo: &'static str,
}

const SUPPORTED: &str = "swagger-link, wadl-link, wsdl-link, openapi-link, openapi+json-link";

fn format_of(requested: &str) -> Option<Format> {
    // A literal `+` in a query string decodes to a space; accept both spellings.
    let normalized = requested.trim().replace(' ', "+").to_ascii_lowercase();
    let (document, link, echo) = match normalized.as_str() {
        "swagger-link" | "swagger-link-json" => (Document::Swagger, true, "swagger-link-json"),
        "swagger" | "swagger-json" => (Document::Swagger, false, "swagger-json"),
        "openapi-link" => (Document::OpenApiYaml, true, "openapi-link"),
        "openapi" => (Document::OpenApiYaml, false, "openapi"),
        "openapi+json-link" => (Document::OpenApiJson, true, "openapi+json-link"),
        "openapi+json" => (Document::OpenApiJson, false, "openapi+json"),
        "wsdl-link" | "wsdl-link+xml" => (Document::Wsdl, true, "wsdl-link+xml"),
        "wsdl" => (Document::Wsdl, false, "wsdl"),
        "wadl-link" | "wadl-link-json" => (Document::Wadl, true, "wadl-link-json"),
        "wadl" | "wadl-xml" => (Document::Wadl, false, "wadl-xml"),
        _ => return None,
    };
    Some(Format {
        document,
        link,
        echo,
    })
}

fn supports(api_type: ApiType, document: Document) -> bool {
    match api_type {
        ApiType::Http => document != Document::Wsdl,
        ApiType::Soap => document == Document::Wsdl,
        ApiType::Graphql | ApiType::Websocket | ApiType::Grpc | ApiType::Odata => false,
    }
}

fn validation(message: String) -> ArmError {
    ArmError::new(StatusCode::BAD_REQUEST, "ValidationError", message)
}

pub(crate) struct ExportRequest<'a> {
    pub scope: &'a ScopeRef<'a>,
    pub api_id: &'a str,
    /// The id as addressed (may carry `;rev=N`).
    pub name: &'a str,
    pub revision: &'a Revision,
    pub requested_format: &'a str,
    /// `host[:port]` the client reached us on, for the link.
    pub authority: &'a str,
}

pub(crate) fn export(request: &ExportRequest<'_>, links: &ExportLinks) -> Result<Value, ArmError> {
    let rev = request.revision;
    let format = format_of(request.requested_format).ok_or_else(|| {
        validation(format!(
            "'{}' is not a valid export format. Supported formats: {SUPPORTED}.",
            request.requested_format
        ))
    })?;
    if !supports(rev.api_type, format.document) {
        let hint = match rev.api_type {
            ApiType::Graphql => " GraphQL APIs have no export; read their schema from /schemas.",
            ApiType::Grpc => " gRPC APIs have no export; read their proto from /schemas.",
            ApiType::Websocket | ApiType::Odata => " This type of API has no definition to export.",
            ApiType::Soap => " SOAP APIs export as wsdl-link.",
            ApiType::Http => " wsdl-link is only supported for APIs of type soap.",
        };
        return Err(validation(format!(
            "Export in format '{}' is not supported for API '{}' of type '{}'.{hint}",
            request.requested_format,
            request.api_id,
            rev.api_type.name()
        )));
    }
    let gateway = request.scope.service.effective_gateway();
    let info = DocInfo {
        api_id: request.api_id,
        revision: rev,
        gateway: &gateway,
    };
    let (text, inline, extension, content_type) = match format.document {
        Document::Swagger => {
            let doc = documents::swagger2(&info);
            (doc.to_string(), doc, "json", "application/json")
        }
        Document::OpenApiJson => {
            let doc = documents::openapi3(&info);
            (doc.to_string(), doc, "json", "application/json")
        }
        Document::OpenApiYaml => {
            let doc = documents::openapi3(&info);
            let yaml = serde_yaml::to_string(&doc).map_err(|e| {
                ArmError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    e.to_string(),
                )
            })?;
            (yaml.clone(), json!(yaml), "yaml", "application/x-yaml")
        }
        Document::Wsdl => {
            let doc = documents::wsdl(&info);
            (doc.clone(), json!(doc), "wsdl", "text/xml")
        }
        Document::Wadl => {
            let doc = documents::wadl(&info);
            (doc.clone(), json!(doc), "wadl", "application/xml")
        }
    };
    let value = if format.link {
        let file = format!("{}.{extension}", rev.display_name);
        json!({ "link": links.create(request.authority, &file, text, content_type) })
    } else {
        inline
    };
    let id = request.scope.api_id(request.name);
    Ok(if request.scope.workspace.is_some() {
        json!({
            "id": id,
            "type": "Microsoft.ApiManagement/service/workspaces/apis",
            "name": request.name,
            "properties": {"format": format.echo, "value": value},
        })
    } else {
        json!({"id": id, "format": format.echo, "value": value})
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_echo_like_apim() {
        assert_eq!(
            format_of("swagger-link").map(|f| f.echo),
            Some("swagger-link-json")
        );
        assert_eq!(
            format_of("wsdl-link").map(|f| f.echo),
            Some("wsdl-link+xml")
        );
        assert_eq!(
            format_of("openapi json-link").map(|f| f.echo),
            Some("openapi+json-link")
        );
        assert!(format_of("pdf").is_none());
        assert!(supports(ApiType::Http, Document::OpenApiJson));
        assert!(!supports(ApiType::Http, Document::Wsdl));
        assert!(supports(ApiType::Soap, Document::Wsdl));
        assert!(!supports(ApiType::Graphql, Document::OpenApiJson));
        assert!(!supports(ApiType::Websocket, Document::Swagger));
    }
}
