//! The members the 2024-03-01 contract declares writable on each API Center entity
//! (specification/apicenter/resource-manager/Microsoft.ApiCenter/stable/2024-03-01).
//!
//! A PUT body carries only these. Reads keep whatever the service returns (see
//! [`super::types`]), but the service adds members without a new api-version, and
//! echoing one back on PUT asks the 2024-03-01 contract to accept a member it does not
//! define — a strict service answers 400 to a write that worked yesterday. Members the
//! contract marks read-only (`lifecycleStage` on an API, `specification` on a
//! definition) are not listed, so they are never sent either.

use serde_json::{Map, Value};

use super::ApicKind;

/// What may be written at one place of a body.
#[derive(Debug)]
pub(crate) enum Shape {
    /// Any value, sent as it is (strings, enums, URI lists, and `customProperties`,
    /// whose members are the user's, described by metadata schemas).
    Any,
    /// An object: only these members, each with its own shape.
    Object(&'static [(&'static str, Shape)]),
    /// An array whose items have this shape.
    Array(&'static Shape),
}

const CONTACT: Shape = Shape::Object(&[
    ("name", Shape::Any),
    ("url", Shape::Any),
    ("email", Shape::Any),
]);

const EXTERNAL_DOCUMENTATION: Shape = Shape::Object(&[
    ("title", Shape::Any),
    ("description", Shape::Any),
    ("url", Shape::Any),
]);

const METADATA_ASSIGNMENT: Shape = Shape::Object(&[
    ("entity", Shape::Any),
    ("required", Shape::Any),
    ("deprecated", Shape::Any),
]);

const API: Shape = Shape::Object(&[
    ("title", Shape::Any),
    ("summary", Shape::Any),
    ("description", Shape::Any),
    ("kind", Shape::Any),
    ("termsOfService", Shape::Object(&[("url", Shape::Any)])),
    (
        "externalDocumentation",
        Shape::Array(&EXTERNAL_DOCUMENTATION),
    ),
    ("contacts", Shape::Array(&CONTACT)),
    (
        "license",
        Shape::Object(&[
            ("name", Shape::Any),
            ("url", Shape::Any),
            ("identifier", Shape::Any),
        ]),
    ),
    ("customProperties", Shape::Any),
]);

const VERSION: Shape = Shape::Object(&[("title", Shape::Any), ("lifecycleStage", Shape::Any)]);

const DEFINITION: Shape = Shape::Object(&[("title", Shape::Any), ("description", Shape::Any)]);

const ENVIRONMENT: Shape = Shape::Object(&[
    ("title", Shape::Any),
    ("description", Shape::Any),
    ("kind", Shape::Any),
    (
        "server",
        Shape::Object(&[("type", Shape::Any), ("managementPortalUri", Shape::Any)]),
    ),
    (
        "onboarding",
        Shape::Object(&[
            ("instructions", Shape::Any),
            ("developerPortalUri", Shape::Any),
        ]),
    ),
    ("customProperties", Shape::Any),
]);

const DEPLOYMENT: Shape = Shape::Object(&[
    ("title", Shape::Any),
    ("description", Shape::Any),
    ("environmentId", Shape::Any),
    ("definitionId", Shape::Any),
    ("state", Shape::Any),
    ("server", Shape::Object(&[("runtimeUri", Shape::Any)])),
    ("customProperties", Shape::Any),
]);

const METADATA_SCHEMA: Shape = Shape::Object(&[
    ("schema", Shape::Any),
    ("assignedTo", Shape::Array(&METADATA_ASSIGNMENT)),
]);

/// The writable `properties` of `kind`.
pub(crate) fn shape(kind: ApicKind) -> &'static Shape {
    match kind {
        ApicKind::Api => &API,
        ApicKind::Version => &VERSION,
        ApicKind::Definition => &DEFINITION,
        ApicKind::Environment => &ENVIRONMENT,
        ApicKind::Deployment => &DEPLOYMENT,
        ApicKind::MetadataSchema => &METADATA_SCHEMA,
    }
}

/// `value` without the members `shape` does not declare, at every depth. A value of
/// another type than declared (e.g. a string where an object is expected) is left as
/// it is: the service's validation, not this filter, says what is wrong with it.
pub(crate) fn keep_declared(shape: &Shape, value: Value) -> Value {
    match (shape, value) {
        (Shape::Object(declared), Value::Object(map)) => {
            let kept: Map<String, Value> = map
                .into_iter()
                .filter_map(|(name, member)| {
                    declared
                        .iter()
                        .find(|(declared_name, _)| *declared_name == name)
                        .map(|(_, inner)| {
                            let member = keep_declared(inner, member);
                            (name, member)
                        })
                })
                .collect();
            Value::Object(kept)
        }
        (Shape::Array(items), Value::Array(values)) => Value::Array(
            values
                .into_iter()
                .map(|item| keep_declared(items, item))
                .collect(),
        ),
        (_, value) => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top-level members a PUT of `kind` may carry.
    fn declared_members(kind: ApicKind) -> Vec<&'static str> {
        match shape(kind) {
            Shape::Object(members) => members.iter().map(|(name, _)| *name).collect(),
            Shape::Any | Shape::Array(_) => Vec::new(),
        }
    }

    #[test]
    fn declared_members_follow_the_2024_03_01_contract() {
        let sorted = |kind: ApicKind| {
            let mut members = declared_members(kind);
            members.sort_unstable();
            members
        };
        assert_eq!(
            sorted(ApicKind::Api),
            [
                "contacts",
                "customProperties",
                "description",
                "externalDocumentation",
                "kind",
                "license",
                "summary",
                "termsOfService",
                "title"
            ]
        );
        assert_eq!(sorted(ApicKind::Version), ["lifecycleStage", "title"]);
        assert_eq!(sorted(ApicKind::Definition), ["description", "title"]);
        assert_eq!(
            sorted(ApicKind::Environment),
            [
                "customProperties",
                "description",
                "kind",
                "onboarding",
                "server",
                "title"
            ]
        );
        assert_eq!(
            sorted(ApicKind::Deployment),
            [
                "customProperties",
                "definitionId",
                "description",
                "environmentId",
                "server",
                "state",
                "title"
            ]
        );
        assert_eq!(sorted(ApicKind::MetadataSchema), ["assignedTo", "schema"]);
        // Members the service computes are never sent (API Center may reject them).
        for (kind, member) in [
            (ApicKind::Api, "lifecycleStage"),
            (ApicKind::Definition, "specification"),
        ] {
            assert!(!declared_members(kind).contains(&member), "{member}");
        }
    }
}
