//! Deterministic API Center names for the entities a link creates.
//!
//! Every name is a pure function of (link id, APIM entity), valid under API Center's
//! `^[a-zA-Z0-9-]{3,90}$`, stable across restarts and, because link-level names carry a
//! hash of the link id and the APIM source key, free of collisions between two links
//! that both have an API called `echo-api`.

use crate::hash::short_hash;
use crate::ids::{LinkId, SourceKey};
use crate::mapping::SpecKind;

/// Shortest name API Center accepts.
pub const NAME_MIN: usize = 3;
/// Longest name API Center accepts.
pub const NAME_MAX: usize = 90;
/// Version name for an unversioned API and for a version set's original member.
pub const DEFAULT_VERSION_NAME: &str = "original";

const LINK_HASH_LEN: usize = 8;
const VERSION_HASH_LEN: usize = 6;

/// True when `name` matches `^[a-zA-Z0-9-]{3,90}$`.
pub fn is_valid_name(name: &str) -> bool {
    (NAME_MIN..=NAME_MAX).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Replaces every character outside `[a-zA-Z0-9-]` with `-`, collapses runs of `-` and
/// trims them from both ends. May return an empty string.
pub fn sanitize(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '-' };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// `base` cut to leave room for `-{suffix}`, then `-{suffix}` appended.
pub(crate) fn with_suffix(base: &str, suffix: &str, fallback: &str) -> String {
    let room = NAME_MAX - suffix.len() - 1;
    let mut base: String = base.chars().take(room).collect();
    while base.ends_with('-') {
        base.pop();
    }
    if base.is_empty() {
        base = fallback.to_string();
    }
    format!("{base}-{suffix}")
}

/// Name of the API Center API standing for `source` in `link`:
/// `sanitize([workspace-]id)` + `-` + 8 hex chars of sha256(link id, source key).
pub fn api_name(link: &LinkId, source: &SourceKey) -> String {
    let readable = match source.workspace() {
        Some(ws) => format!("{ws}-{}", source.id()),
        None => source.id().to_string(),
    };
    let suffix = short_hash(&[link.as_str(), &source.to_string()], LINK_HASH_LEN);
    with_suffix(&sanitize(&readable).to_ascii_lowercase(), &suffix, "api")
}

/// Name of the API every link sharing `identity` maps to
/// (`spec.apiIdentity.scope: Shared`): `sanitize(identity)` + `-` + 8 hex chars of
/// sha256("shared", identity). No link id goes in, so the links meet on it; the
/// `shared` part keeps it apart from every link-scoped name.
pub fn shared_api_name(identity: &str) -> String {
    let suffix = short_hash(&["shared", identity], LINK_HASH_LEN);
    with_suffix(&sanitize(identity).to_ascii_lowercase(), &suffix, "api")
}

/// Name of the version for an APIM `apiVersion` (absent or empty → [`DEFAULT_VERSION_NAME`]).
/// A version string that is already a valid name is kept; anything else becomes
/// `sanitize(v)-{hash of v}` so that `1.0` and `1-0` never collide.
pub fn version_name(apim_version: Option<&str>) -> String {
    let version = match apim_version {
        None | Some("") => return DEFAULT_VERSION_NAME.to_string(),
        Some(v) => v,
    };
    if is_valid_name(version) {
        return version.to_string();
    }
    let suffix = short_hash(&[version], VERSION_HASH_LEN);
    with_suffix(&sanitize(version), &suffix, "v")
}

/// Name of the link's environment: the configured name, else derived from the link id.
pub fn environment_name(link: &LinkId, configured: Option<&str>) -> String {
    if let Some(name) = configured {
        return name.to_string();
    }
    let suffix = short_hash(&[link.as_str()], LINK_HASH_LEN);
    with_suffix(
        &sanitize(link.as_str()).to_ascii_lowercase(),
        &suffix,
        "apilink",
    )
}

/// Name of a version's definition, by the kind of specification it holds.
pub fn definition_name(kind: SpecKind) -> &'static str {
    kind.specification_name()
}

/// Name of the deployment of one definition (deployments hang off the API, so the name
/// must tell versions apart): `{version}-{definition}`, shortened with a hash if too long.
/// Definition names contain no `-`, so the split is unambiguous.
pub fn deployment_name(version: &str, definition: &str) -> String {
    let joined = format!("{version}-{definition}");
    if joined.len() <= NAME_MAX {
        return joined;
    }
    let suffix = short_hash(&[&joined], LINK_HASH_LEN);
    with_suffix(&joined, &suffix, "deployment")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ids::ApimApiRef;

    fn api(id: &str) -> SourceKey {
        SourceKey::Api(ApimApiRef {
            workspace: None,
            api_id: id.to_string(),
        })
    }

    #[test]
    fn api_names_differ_across_links() {
        let a = LinkId::new("ns/a").unwrap();
        let b = LinkId::new("ns/b").unwrap();
        let na = api_name(&a, &api("echo-api"));
        let nb = api_name(&b, &api("echo-api"));
        assert_ne!(na, nb);
        assert!(na.starts_with("echo-api-"));
        assert!(is_valid_name(&na) && is_valid_name(&nb));
        assert_eq!(na, api_name(&a, &api("echo-api")), "stable");
    }

    #[test]
    fn api_names_of_odd_ids_are_valid() {
        let link = LinkId::new("l").unwrap();
        for id in ["my_api", "v1.0", "a", "échø", &"x".repeat(300), "___"] {
            let name = api_name(&link, &api(id));
            assert!(is_valid_name(&name), "{id} -> {name}");
        }
        let vs = SourceKey::VersionSet {
            workspace: None,
            id: "my_api".into(),
        };
        assert_ne!(api_name(&link, &vs), api_name(&link, &api("my_api")));
    }

    #[test]
    fn version_names() {
        assert_eq!(version_name(None), "original");
        assert_eq!(version_name(Some("")), "original");
        assert_eq!(version_name(Some("2024-01-01")), "2024-01-01");
        assert_eq!(version_name(Some("1-0")), "1-0");
        let dotted = version_name(Some("1.0"));
        assert!(dotted.starts_with("1-0-") && is_valid_name(&dotted));
        assert_ne!(dotted, "1-0");
        let short = version_name(Some("v1"));
        assert!(short.starts_with("v1-") && is_valid_name(&short));
        assert!(is_valid_name(&version_name(Some("..."))));
    }

    #[test]
    fn deployment_names_fit() {
        assert_eq!(deployment_name("v2", "openapi"), "v2-openapi");
        let long = deployment_name(&"a".repeat(90), "openapi");
        assert!(is_valid_name(&long));
        assert_ne!(long, deployment_name(&"a".repeat(89), "openapi"));
    }

    #[test]
    fn environment_names() {
        let link = LinkId::new("platform/payments-prod").unwrap();
        let name = environment_name(&link, None);
        assert!(name.starts_with("platform-payments-prod-"));
        assert!(is_valid_name(&name));
        assert_eq!(environment_name(&link, Some("prod")), "prod");
    }
}
