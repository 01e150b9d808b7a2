//! `importSpecification` requests and the checks imported documents must pass.

use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::store::ImportedSpec;
use crate::arm::ArmError;

/// Specification names the import accepts (the portal's list).
pub(crate) const SPECIFICATION_NAMES: &[&str] = &[
    "openapi", "wsdl", "wadl", "graphql", "grpc", "asyncapi", "raml", "other",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SourceFormat {
    Inline,
    Link,
}

#[derive(Debug, Clone)]
pub(crate) struct ImportRequest {
    pub format: SourceFormat,
    pub value: String,
    pub name: String,
    pub version: Option<String>,
}

fn member_text<'a>(
    object: &'a Map<String, Value>,
    member: &str,
    path: &str,
) -> Result<Option<&'a str>, ArmError> {
    match object.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(
            ArmError::invalid_content(format!("The member '{path}' must be a string."))
                .with_target(path),
        ),
    }
}

fn reject_unknown(
    object: &Map<String, Value>,
    known: &[&str],
    prefix: &str,
) -> Result<(), ArmError> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => {
            let path = format!("{prefix}{unknown}");
            Err(ArmError::validation(
                &path,
                format!("The member '{path}' is not a known member of the import request."),
            ))
        }
        None => Ok(()),
    }
}

fn required(path: &str) -> ArmError {
    ArmError::validation(path, format!("The member '{path}' is required."))
}

impl ImportRequest {
    /// Validates the request body; `max_inline_bytes` bounds inline documents.
    pub(crate) fn parse(
        body: &Map<String, Value>,
        max_inline_bytes: usize,
    ) -> Result<Self, ArmError> {
        reject_unknown(body, &["format", "value", "specification"], "")?;
        let format = match member_text(body, "format", "format")? {
            Some("inline") => SourceFormat::Inline,
            Some("link") => SourceFormat::Link,
            Some(other) => {
                return Err(ArmError::validation(
                    "format",
                    format!(
                        "The value '{other}' of 'format' is not allowed; expected one of: inline, link."
                    ),
                ));
            }
            None => return Err(required("format")),
        };
        let value = member_text(body, "value", "value")?
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| required("value"))?
            .to_string();
        let specification = match body.get("specification") {
            Some(Value::Object(specification)) => specification,
            None | Some(Value::Null) => return Err(required("specification")),
            Some(_) => {
                return Err(ArmError::invalid_content(
                    "The member 'specification' must be a JSON object.",
                )
                .with_target("specification"));
            }
        };
        reject_unknown(specification, &["name", "version"], "specification.")?;
        let name = member_text(specification, "name", "specification.name")?
            .ok_or_else(|| required("specification.name"))?
            .to_ascii_lowercase();
        if !SPECIFICATION_NAMES.contains(&name.as_str()) {
            return Err(ArmError::validation(
                "specification.name",
                format!(
                    "The specification name '{name}' is not supported; expected one of: {}.",
                    SPECIFICATION_NAMES.join(", ")
                ),
            ));
        }
        let version = member_text(specification, "version", "specification.version")?
            .filter(|v| !v.trim().is_empty())
            .map(str::to_string);
        match format {
            SourceFormat::Inline if value.len() > max_inline_bytes => {
                return Err(ArmError::validation(
                    "value",
                    format!(
                        "The inline specification has {} bytes; at most {max_inline_bytes} are allowed inline, use format 'link'.",
                        value.len()
                    ),
                ));
            }
            SourceFormat::Link => {
                let https = url::Url::parse(&value).is_ok_and(|url| url.scheme() == "https");
                if !https {
                    return Err(ArmError::validation(
                        "value",
                        "A specification link must be an absolute https URL.",
                    ));
                }
            }
            SourceFormat::Inline => {}
        }
        Ok(ImportRequest {
            format,
            value,
            name,
            version,
        })
    }
}

fn invalid_document(message: impl Into<String>) -> ArmError {
    ArmError::new(StatusCode::BAD_REQUEST, "InvalidApiSpecification", message)
}

/// A JSON or YAML document's top-level member, as text (YAML may read `3.0` as a number).
fn top_level_member(content: &str, member: &str) -> Option<String> {
    let document: Value = serde_json::from_str(content)
        .ok()
        .or_else(|| serde_yaml::from_str::<Value>(content).ok())?;
    match document.get(member)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Whether a declared version fits the document's: same major, and same minor when declared.
fn version_fits(declared: &str, actual: &str) -> bool {
    let declared: Vec<&str> = declared.trim().split('.').collect();
    let actual: Vec<&str> = actual.trim().split('.').collect();
    declared
        .iter()
        .take(2)
        .zip(actual.iter())
        .all(|(d, a)| d == a)
}

/// Local names of the elements a text opens (`<ns:name ...>` gives `name`).
fn xml_element_names(content: &str) -> impl Iterator<Item = &str> {
    content.split('<').skip(1).filter_map(|tail| {
        let name = tail
            .split(|c: char| c.is_whitespace() || c == '/' || c == '>')
            .next()?;
        if name.is_empty() || name.starts_with(['?', '!']) {
            return None;
        }
        name.rsplit(':').next()
    })
}

fn has_xml_element(content: &str, names: &[&str]) -> bool {
    content
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('<')
        && xml_element_names(content).any(|name| names.contains(&name))
}

/// Checks an imported document against its declared specification.
pub(crate) fn check_document(
    name: &str,
    declared_version: Option<&str>,
    content: &str,
) -> Result<ImportedSpec, ArmError> {
    if content.trim().is_empty() {
        return Err(invalid_document("The specification document is empty."));
    }
    let detected = match name {
        "openapi" => {
            let version = top_level_member(content, "openapi")
                .or_else(|| top_level_member(content, "swagger"))
                .ok_or_else(|| {
                    invalid_document(
                        "The document is not an OpenAPI document: it has no 'openapi' or 'swagger' member.",
                    )
                })?;
            Some(version)
        }
        "asyncapi" => Some(top_level_member(content, "asyncapi").ok_or_else(|| {
            invalid_document(
                "The document is not an AsyncAPI document: it has no 'asyncapi' member.",
            )
        })?),
        "wsdl" => {
            if !has_xml_element(content, &["definitions", "description"]) {
                return Err(invalid_document(
                    "The document is not a WSDL document: expected XML with a 'definitions' element.",
                ));
            }
            None
        }
        "wadl" => {
            if !has_xml_element(content, &["application"]) {
                return Err(invalid_document(
                    "The document is not a WADL document: expected XML with an 'application' element.",
                ));
            }
            None
        }
        "raml" => {
            if !content.trim_start().starts_with("#%RAML") {
                return Err(invalid_document(
                    "The document is not a RAML document: it must start with '#%RAML'.",
                ));
            }
            None
        }
        _ => None,
    };
    if let (Some(declared), Some(actual)) = (declared_version, detected.as_deref())
        && !version_fits(declared, actual)
    {
        return Err(invalid_document(format!(
            "The declared {name} version '{declared}' does not match the document's version '{actual}'."
        )));
    }
    Ok(ImportedSpec {
        name: name.to_string(),
        version: declared_version.map(str::to_string).or(detected),
        content: content.to_string(),
    })
}
