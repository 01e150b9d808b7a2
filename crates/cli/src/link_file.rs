//! The link file: the same YAML as the Kubernetes `ApiSourceLink` resource
//! (`apiVersion`, `kind`, `metadata`, `spec`), so a manifest from a GitOps repository
//! works as is. The link id is `namespace/name`, as in the cluster.

use std::path::Path;

use anyhow::{Context, bail};
use apilink_controller::crd::{GROUP, KIND, VERSION};
use apilink_core::{LinkId, LinkSettings, LinkSpec};
use serde::Deserialize;

const DEFAULT_NAMESPACE: &str = "default";

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
}

/// Reads a link from YAML text (`source` names it in messages).
pub fn parse(text: &str, source: &str) -> anyhow::Result<LinkFile> {
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
    let namespace = document
        .metadata
        .namespace
        .as_deref()
        .filter(|n| !n.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE);
    let id = LinkId::namespaced(namespace, &document.metadata.name)
        .with_context(|| format!("{source}: metadata.name"))?;
    let settings = document
        .spec
        .settings(id.clone())
        .with_context(|| format!("{source}: invalid spec"))?;
    if settings.credentials.is_some() {
        tracing::warn!(
            "spec.credentials names a Kubernetes Secret, which the CLI cannot read: \
             credentials come from the environment instead"
        );
    }
    Ok(LinkFile { id, settings })
}

/// Reads a link file from disk (`-` reads standard input).
pub fn read(path: &Path) -> anyhow::Result<LinkFile> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the link from stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    parse(&text, &path.display().to_string())
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
    fn invalid_specs_name_the_field() {
        let text = "metadata: {name: l}\nspec:\n  source: {apimResourceId: /nope}\n  \
                    target: {apiCenterResourceId: /nope}\n";
        let err = format!("{:#}", parse(text, "x").unwrap_err());
        assert!(err.contains("spec.source.apimResourceId"), "{err}");
    }
}
