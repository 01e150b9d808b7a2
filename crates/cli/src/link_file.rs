//! The link file: the same YAML as the Kubernetes `ApiSourceLink` resource
//! (`apiVersion`, `kind`, `metadata`, `spec`), so a manifest from a GitOps repository
//! works as is. The link id is `namespace/name`, as in the cluster.
//!
//! Unlike the resource's deserialisation elsewhere, the file is read strictly: a field
//! the CRD schema does not declare under `spec` (or an unknown top-level key) is an
//! error, because a misspelt `filter` or `exclude` would silently sync more than meant.
//! `metadata` stays lenient (labels, annotations) and `status` is ignored.

use std::path::Path;

use anyhow::{Context, bail};
use apilink_controller::crd::{GROUP, KIND, VERSION};
use apilink_core::{LinkId, LinkSettings, LinkSpec};
use serde::Deserialize;
use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

const DEFAULT_NAMESPACE: &str = "default";
const TOP_LEVEL_KEYS: &[&str] = &["apiVersion", "kind", "metadata", "spec", "status"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Metadata,
    spec: LinkSpec,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
    namespace: Option<String>,
}

/// A parsed, validated link file.
#[derive(Debug, Clone)]
pub struct LinkFile {
    pub id: LinkId,
    pub settings: LinkSettings,
    /// What the file leaves to a default or the CLI ignores, for stderr.
    pub warnings: Vec<String>,
}

/// Reads a link from YAML text (`source` names it in messages).
pub fn parse(text: &str, source: &str) -> anyhow::Result<LinkFile> {
    let tree: Yaml =
        serde_yaml::from_str(text).with_context(|| format!("{source} is not a link manifest"))?;
    match unknown_fields(&tree)?.as_slice() {
        [] => {}
        [one] => bail!("{source}: {one}"),
        several => bail!(
            "{source}: {} unknown fields\n  {}",
            several.len(),
            several.join("\n  ")
        ),
    }
    let document: Document =
        serde_yaml::from_str(text).with_context(|| format!("{source} is not a link manifest"))?;
    if let Some(api_version) = &document.api_version
        && *api_version != format!("{GROUP}/{VERSION}")
    {
        bail!("{source}: apiVersion is {api_version:?}, expected \"{GROUP}/{VERSION}\"");
    }
    if let Some(kind) = &document.kind
        && kind != KIND
    {
        bail!("{source}: kind is {kind:?}, expected {KIND:?}");
    }
    let mut warnings = Vec::new();
    let namespace = match document.metadata.namespace.as_deref() {
        Some(namespace) if !namespace.is_empty() => namespace,
        _ => {
            let id = format!("{DEFAULT_NAMESPACE}/{}", document.metadata.name);
            // API Center entities belong to a link id: a file synced as `default/...`
            // does not own what the same link in its real namespace created.
            warnings.push(format!(
                "{source}: metadata.namespace is not set, so the link id is {id}; \
                 set the namespace the link has in the cluster to act on what that link owns"
            ));
            DEFAULT_NAMESPACE
        }
    };
    let id = LinkId::namespaced(namespace, &document.metadata.name)
        .with_context(|| format!("{source}: metadata.name"))?;
    let settings = document
        .spec
        .settings(id.clone())
        .with_context(|| format!("{source}: invalid spec"))?;
    if settings.credentials.is_some() {
        warnings.push(format!(
            "{source}: spec.credentials names a Kubernetes Secret, which the CLI cannot read: \
             credentials come from the environment instead"
        ));
    }
    Ok(LinkFile {
        id,
        settings,
        warnings,
    })
}

/// Reads a link file from disk (`-` reads standard input); its warnings go to stderr.
pub fn read(path: &Path) -> anyhow::Result<LinkFile> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the link from stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    let link = parse(&text, &path.display().to_string())?;
    for warning in &link.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(link)
}

/// One message per field the resource does not declare, e.g.
/// `spec.filtr: unknown field; did you mean spec.filter?`.
fn unknown_fields(tree: &Yaml) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let Yaml::Mapping(top) = tree else {
        // Not a mapping at all: the typed read that follows says what is wrong.
        return Ok(found);
    };
    for (key, value) in top {
        let name = key_text(key);
        if !TOP_LEVEL_KEYS.contains(&name.as_str()) {
            found.push(unknown(&name, &name, TOP_LEVEL_KEYS.iter().copied()));
        } else if name == "spec" {
            walk(value, &spec_schema()?, "spec", &mut found);
        }
    }
    Ok(found)
}

/// The `spec` schema of the CRD the cluster enforces, so the file is read by the same
/// rules as `kubectl apply` of the same manifest.
fn spec_schema() -> anyhow::Result<Json> {
    let crd = serde_json::to_value(apilink_controller::crd()?)?;
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Json::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    versions
        .iter()
        .find(|v| v.get("name").and_then(Json::as_str) == Some(VERSION))
        .and_then(|v| v.pointer("/schema/openAPIV3Schema/properties/spec"))
        .cloned()
        .with_context(|| format!("the {KIND} CRD has no {VERSION} spec schema"))
}

/// Collects the keys of `value` that `schema` (a structural OpenAPI schema) does not
/// declare, depth first, with their paths.
fn walk(value: &Yaml, schema: &Json, path: &str, found: &mut Vec<String>) {
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Json::Bool(true)) {
        return;
    }
    match value {
        Yaml::Mapping(map) => {
            let properties = schema.get("properties").and_then(Json::as_object);
            let additional = schema.get("additionalProperties");
            for (key, child) in map {
                let name = key_text(key);
                let child_path = format!("{path}.{name}");
                let declared = properties
                    .and_then(|p| p.get(&name))
                    .or(additional.filter(|a| a.is_object()));
                if let Some(child_schema) = declared {
                    walk(child, child_schema, &child_path, found);
                } else if let Some(properties) = properties
                    && additional != Some(&Json::Bool(true))
                {
                    found.push(unknown(
                        &child_path,
                        &name,
                        properties.keys().map(String::as_str),
                    ));
                }
                // A schema without properties does not describe an object: the typed
                // read reports the mismatch.
            }
        }
        Yaml::Sequence(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(item, item_schema, &format!("{path}[{i}]"), found);
                }
            }
        }
        Yaml::Tagged(tagged) => walk(&tagged.value, schema, path, found),
        _ => {}
    }
}

fn key_text(key: &Yaml) -> String {
    match key {
        Yaml::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|_| "<key>".into()),
    }
}

/// `{path}: unknown field`, with the nearest known sibling when one is close enough to
/// be a typo.
fn unknown<'a>(path: &str, name: &str, known: impl Iterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.collect();
    let parent = path.strip_suffix(name).unwrap_or_default();
    match nearest(name, &known) {
        Some(guess) => format!("{path}: unknown field; did you mean {parent}{guess}?"),
        None => {
            let list = known.join(", ");
            format!("{path}: unknown field (known here: {list})")
        }
    }
}

/// The known name within a typo's reach of `name` (letter case ignored): at most one
/// edit for short names, a third of the length for longer ones.
fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const APIM: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ApiManagement/service/payments";
    const APIC: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ApiCenter/services/catalog";

    fn manifest(header: &str, metadata: &str) -> String {
        format!(
            "{header}metadata: {metadata}\nspec:\n  source: {{apimResourceId: {APIM}}}\n  \
             target: {{apiCenterResourceId: {APIC}}}\n  filter: {{exclude: ['internal-*']}}\n"
        )
    }

    #[test]
    fn reads_a_kubernetes_manifest() {
        let text = manifest(
            "apiVersion: apilink.dev/v1alpha1\nkind: ApiSourceLink\n",
            "{name: payments-prod, namespace: platform}",
        );
        let link = parse(&text, "link.yaml").unwrap();
        assert_eq!(link.id.as_str(), "platform/payments-prod");
        assert!(!link.settings.filter.matches(None, "internal-audit"));
        assert!(link.settings.filter.matches(None, "orders"));
    }

    #[test]
    fn namespace_defaults_and_header_is_checked() {
        let link = parse(&manifest("", "{name: l}"), "x").unwrap();
        assert_eq!(link.id.as_str(), "default/l");
        let err = parse(&manifest("apiVersion: apilink.dev/v2\n", "{name: l}"), "x").unwrap_err();
        assert!(err.to_string().contains("apiVersion"), "{err}");
        let err = parse(&manifest("kind: Other\n", "{name: l}"), "x").unwrap_err();
        assert!(err.to_string().contains("kind"), "{err}");
    }

    #[test]
    fn a_missing_namespace_is_warned_about_with_the_id_used() {
        let link = parse(&manifest("", "{name: l}"), "x.yaml").unwrap();
        assert_eq!(link.warnings.len(), 1, "{:?}", link.warnings);
        assert!(
            link.warnings[0].contains("metadata.namespace is not set")
                && link.warnings[0].contains("default/l"),
            "{:?}",
            link.warnings
        );
        let link = parse(&manifest("", "{name: l, namespace: ''}"), "x.yaml").unwrap();
        assert_eq!(link.warnings.len(), 1, "an empty namespace is no namespace");
        let link = parse(&manifest("", "{name: l, namespace: team}"), "x.yaml").unwrap();
        assert!(link.warnings.is_empty(), "{:?}", link.warnings);
    }

    fn error_of(text: &str) -> String {
        format!("{:#}", parse(text, "link.yaml").unwrap_err())
    }

    #[test]
    fn unknown_spec_fields_are_errors_with_the_nearest_known_name() {
        let typo = manifest("", "{name: l, namespace: n}").replace("  filter:", "  filtr:");
        assert_eq!(
            error_of(&typo),
            "link.yaml: spec.filtr: unknown field; did you mean spec.filter?"
        );
        let nested = manifest("", "{name: l, namespace: n}").replace("exclude", "exlude");
        assert_eq!(
            error_of(&nested),
            "link.yaml: spec.filter.exlude: unknown field; did you mean spec.filter.exclude?"
        );
        let cased =
            manifest("", "{name: l, namespace: n}").replace("apimResourceId", "apimResourceID");
        assert!(
            error_of(&cased).ends_with("did you mean spec.source.apimResourceId?"),
            "{}",
            error_of(&cased)
        );
        let far = format!(
            "{}  colour: blue\n  suspnd: true\n",
            manifest("", "{name: l}")
        );
        let err = error_of(&far);
        assert!(
            err.starts_with(
                "link.yaml: 2 unknown fields\n  \
                 spec.colour: unknown field (known here: apiIdentity, apimMetadata, credentials, customProperties,"
            ) && err.ends_with("\n  spec.suspnd: unknown field; did you mean spec.suspend?"),
            "every unknown field is reported at once: {err}"
        );
    }

    #[test]
    fn unknown_top_level_keys_are_errors_but_metadata_and_status_are_lenient() {
        let text = manifest(
            "apiVersion: apilink.dev/v1alpha1\nkind: ApiSourceLink\n",
            "{name: l}",
        );
        let err = error_of(&text.replace("kind:", "knd:"));
        assert_eq!(err, "link.yaml: knd: unknown field; did you mean kind?");
        let err = error_of(&text.replace("spec:", "specs:"));
        assert_eq!(err, "link.yaml: specs: unknown field; did you mean spec?");
        let lenient = format!(
            "{}status: {{conditions: [], anything: 1}}\n",
            manifest(
                "",
                "{name: l, namespace: n, labels: {team: a}, annotations: {x: y}, uid: abc}"
            )
        );
        parse(&lenient, "link.yaml").unwrap();
    }

    #[test]
    fn custom_property_values_are_free_form() {
        let text = format!(
            "{}  customProperties:\n    api: {{owner: {{team: payments, oncall: [a, b]}}}}\n",
            manifest("", "{name: l, namespace: n}")
        );
        parse(&text, "link.yaml").unwrap();
        let err = error_of(&text.replace("    api:", "    apis:"));
        assert!(
            err.contains(
                "spec.customProperties.apis: unknown field; did you mean spec.customProperties.api?"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_example_reads_strictly() {
        let text = include_str!("../../../deploy/examples/link-workload-identity.yaml");
        let link = parse(text, "link-workload-identity.yaml").unwrap();
        assert_eq!(link.id.as_str(), "platform/payments-prod");
        assert!(link.warnings.is_empty(), "{:?}", link.warnings);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("filtr", "filter"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(nearest("filtr", &["filter", "suspend"]), Some("filter"));
        assert_eq!(nearest("xyz", &["filter", "suspend"]), None);
    }

    #[test]
    fn invalid_specs_name_the_field() {
        let text = "metadata: {name: l}\nspec:\n  source: {apimResourceId: /nope}\n  \
                    target: {apiCenterResourceId: /nope}\n";
        let err = format!("{:#}", parse(text, "x").unwrap_err());
        assert!(err.contains("spec.source.apimResourceId"), "{err}");
    }
}
