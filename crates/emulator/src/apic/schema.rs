//! The `properties` schemas of Microsoft.ApiCenter 2024-03-01, as declared in the REST
//! specification (`apicenter.json`, definitions `*Properties`).

use super::kind::Kind;
use super::store::LIFECYCLE_STAGES;

/// A string member: length bounds in characters and the shape its value must have.
#[derive(Debug)]
pub(crate) struct Text {
    pub min: usize,
    pub max: Option<usize>,
    pub format: TextFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextFormat {
    Plain,
    /// An absolute URI (`format: uri`).
    Uri,
    /// An e-mail address: `local@domain`.
    Email,
}

#[derive(Debug)]
pub(crate) enum Schema {
    Text(Text),
    Enum(&'static [&'static str]),
    Bool,
    /// `customProperties`: any JSON object (metadata schemas constrain it separately).
    FreeObject,
    Object(&'static ObjectSchema),
    Array {
        items: &'static Schema,
        max_items: Option<usize>,
    },
}

#[derive(Debug)]
pub(crate) struct ObjectSchema {
    pub fields: &'static [(&'static str, Schema)],
    pub required: &'static [&'static str],
    /// Read-only members: accepted in a request body and ignored.
    pub read_only: &'static [&'static str],
    /// Pairs of members that must not both be present.
    pub exclusive: &'static [(&'static str, &'static str)],
}

const fn text(min: usize, max: Option<usize>) -> Schema {
    Schema::Text(Text {
        min,
        max,
        format: TextFormat::Plain,
    })
}

const fn uri(max: usize) -> Schema {
    Schema::Text(Text {
        min: 0,
        max: Some(max),
        format: TextFormat::Uri,
    })
}

const fn email(max: usize) -> Schema {
    Schema::Text(Text {
        min: 0,
        max: Some(max),
        format: TextFormat::Email,
    })
}

const TITLE: Schema = text(1, Some(50));
const ANY_TEXT: Schema = text(0, None);

pub(crate) const API_KINDS: &[&str] = &["rest", "graphql", "grpc", "soap", "webhook", "websocket"];
pub(crate) const ENVIRONMENT_KINDS: &[&str] = &["development", "testing", "staging", "production"];
pub(crate) const SERVER_TYPES: &[&str] = &[
    "Azure API Management",
    "Azure compute service",
    "Apigee API Management",
    "AWS API Gateway",
    "Kong API Gateway",
    "Kubernetes",
    "MuleSoft API Management",
];
pub(crate) const DEPLOYMENT_STATES: &[&str] = &["active", "inactive"];
pub(crate) const METADATA_ENTITIES: &[&str] = &["api", "environment", "deployment"];

static TERMS_OF_SERVICE: ObjectSchema = ObjectSchema {
    fields: &[("url", uri(200))],
    required: &["url"],
    read_only: &[],
    exclusive: &[],
};

static EXTERNAL_DOCUMENTATION: ObjectSchema = ObjectSchema {
    fields: &[
        ("title", text(0, Some(50))),
        ("description", text(0, Some(500))),
        ("url", uri(200)),
    ],
    required: &["url"],
    read_only: &[],
    exclusive: &[],
};
static EXTERNAL_DOCUMENTATION_ITEM: Schema = Schema::Object(&EXTERNAL_DOCUMENTATION);

// The specification gives `email` only a length; the address shape is checked as well
// because a contact e-mail that is not an address is not a contact.
static CONTACT: ObjectSchema = ObjectSchema {
    fields: &[
        ("name", text(0, Some(100))),
        ("url", uri(200)),
        ("email", email(100)),
    ],
    required: &[],
    read_only: &[],
    exclusive: &[],
};
static CONTACT_ITEM: Schema = Schema::Object(&CONTACT);

// The specification declares `identifier` as format uri, but an SPDX identifier ("MIT") is
// not a URI, so only its length is checked.
static LICENSE: ObjectSchema = ObjectSchema {
    fields: &[
        ("name", text(0, Some(100))),
        ("url", uri(200)),
        ("identifier", text(0, Some(50))),
    ],
    required: &[],
    read_only: &[],
    exclusive: &[("url", "identifier")],
};

static API: ObjectSchema = ObjectSchema {
    fields: &[
        ("title", TITLE),
        ("kind", Schema::Enum(API_KINDS)),
        ("description", text(0, Some(1000))),
        ("summary", text(0, Some(200))),
        ("termsOfService", Schema::Object(&TERMS_OF_SERVICE)),
        (
            "externalDocumentation",
            Schema::Array {
                items: &EXTERNAL_DOCUMENTATION_ITEM,
                max_items: Some(20),
            },
        ),
        (
            "contacts",
            Schema::Array {
                items: &CONTACT_ITEM,
                max_items: None,
            },
        ),
        ("license", Schema::Object(&LICENSE)),
        ("customProperties", Schema::FreeObject),
    ],
    required: &["title", "kind"],
    read_only: &["lifecycleStage"],
    exclusive: &[],
};

static VERSION: ObjectSchema = ObjectSchema {
    fields: &[
        ("title", TITLE),
        ("lifecycleStage", Schema::Enum(&LIFECYCLE_STAGES)),
    ],
    required: &["title", "lifecycleStage"],
    read_only: &[],
    exclusive: &[],
};

static DEFINITION: ObjectSchema = ObjectSchema {
    fields: &[("title", TITLE), ("description", ANY_TEXT)],
    required: &["title"],
    read_only: &["specification"],
    exclusive: &[],
};

static PLAIN_STRING: Schema = ANY_TEXT;

static ENVIRONMENT_SERVER: ObjectSchema = ObjectSchema {
    fields: &[
        ("type", Schema::Enum(SERVER_TYPES)),
        (
            "managementPortalUri",
            Schema::Array {
                items: &PLAIN_STRING,
                max_items: Some(1),
            },
        ),
    ],
    required: &[],
    read_only: &[],
    exclusive: &[],
};

static ONBOARDING: ObjectSchema = ObjectSchema {
    fields: &[
        ("instructions", ANY_TEXT),
        (
            "developerPortalUri",
            Schema::Array {
                items: &PLAIN_STRING,
                max_items: Some(1),
            },
        ),
    ],
    required: &[],
    read_only: &[],
    exclusive: &[],
};

static ENVIRONMENT: ObjectSchema = ObjectSchema {
    fields: &[
        ("title", TITLE),
        ("description", ANY_TEXT),
        ("kind", Schema::Enum(ENVIRONMENT_KINDS)),
        ("server", Schema::Object(&ENVIRONMENT_SERVER)),
        ("onboarding", Schema::Object(&ONBOARDING)),
        ("customProperties", Schema::FreeObject),
    ],
    required: &["title", "kind"],
    read_only: &[],
    exclusive: &[],
};

static RUNTIME_URI: Schema = uri(200);

static DEPLOYMENT_SERVER: ObjectSchema = ObjectSchema {
    fields: &[(
        "runtimeUri",
        Schema::Array {
            items: &RUNTIME_URI,
            max_items: None,
        },
    )],
    required: &[],
    read_only: &[],
    exclusive: &[],
};

static DEPLOYMENT: ObjectSchema = ObjectSchema {
    fields: &[
        ("title", TITLE),
        ("description", text(0, Some(500))),
        ("environmentId", ANY_TEXT),
        ("definitionId", ANY_TEXT),
        ("state", Schema::Enum(DEPLOYMENT_STATES)),
        ("server", Schema::Object(&DEPLOYMENT_SERVER)),
        ("customProperties", Schema::FreeObject),
    ],
    required: &[],
    read_only: &[],
    exclusive: &[],
};

static METADATA_ASSIGNMENT: ObjectSchema = ObjectSchema {
    fields: &[
        ("entity", Schema::Enum(METADATA_ENTITIES)),
        ("required", Schema::Bool),
        ("deprecated", Schema::Bool),
    ],
    required: &[],
    read_only: &[],
    exclusive: &[],
};
static METADATA_ASSIGNMENT_ITEM: Schema = Schema::Object(&METADATA_ASSIGNMENT);

static METADATA_SCHEMA: ObjectSchema = ObjectSchema {
    fields: &[
        ("schema", ANY_TEXT),
        (
            "assignedTo",
            Schema::Array {
                items: &METADATA_ASSIGNMENT_ITEM,
                max_items: None,
            },
        ),
    ],
    required: &["schema"],
    read_only: &[],
    exclusive: &[],
};

static WORKSPACE: ObjectSchema = ObjectSchema {
    fields: &[("title", TITLE), ("description", ANY_TEXT)],
    required: &["title"],
    read_only: &[],
    exclusive: &[],
};

/// The schema of `properties` for a kind.
pub(crate) fn properties_schema(kind: Kind) -> &'static ObjectSchema {
    match kind {
        Kind::Workspace => &WORKSPACE,
        Kind::Api => &API,
        Kind::Version => &VERSION,
        Kind::Definition => &DEFINITION,
        Kind::Deployment => &DEPLOYMENT,
        Kind::Environment => &ENVIRONMENT,
        Kind::MetadataSchema => &METADATA_SCHEMA,
    }
}
