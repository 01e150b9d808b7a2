//! The link's finalizer. Written here rather than with kube's `finalizer` helper because
//! a cleanup that must wait (backoff after a failure) has to keep the finalizer *without*
//! counting as a failure, which the helper cannot express.

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::crd::ApiSourceLink;

/// Finalizer name; one per controller, so no other controller removes it.
pub const FINALIZER: &str = "apilink.dev/cleanup";

/// Where the link stands with respect to its finalizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Live without our finalizer: add it before touching Azure.
    NeedsFinalizer,
    /// Live with our finalizer: sync.
    Live,
    /// Being deleted with our finalizer: clean up, then release.
    Deleting { finalizer_index: usize },
    /// Being deleted and our finalizer is gone: nothing to do.
    Released,
}

pub fn stage(link: &ApiSourceLink) -> Stage {
    let index = link.finalizers().iter().position(|f| f == FINALIZER);
    match (link.meta().deletion_timestamp.is_some(), index) {
        (false, None) => Stage::NeedsFinalizer,
        (false, Some(_)) => Stage::Live,
        (true, Some(finalizer_index)) => Stage::Deleting { finalizer_index },
        (true, None) => Stage::Released,
    }
}

/// JSON patch adding the finalizer; the `test` makes a concurrent change to the list
/// fail the patch (and so retry) instead of being overwritten.
pub fn add_patch(link: &ApiSourceLink) -> Result<json_patch::Patch, serde_json::Error> {
    let ops = if link.finalizers().is_empty() {
        json!([
            { "op": "test", "path": "/metadata/finalizers", "value": null },
            { "op": "add", "path": "/metadata/finalizers", "value": [FINALIZER] },
        ])
    } else {
        json!([
            { "op": "test", "path": "/metadata/finalizers", "value": link.finalizers() },
            { "op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER },
        ])
    };
    serde_json::from_value(ops)
}

/// JSON patch removing our finalizer at `index`, only if it is still there.
pub fn remove_patch(index: usize) -> Result<json_patch::Patch, serde_json::Error> {
    let path = format!("/metadata/finalizers/{index}");
    serde_json::from_value(json!([
        { "op": "test", "path": path, "value": FINALIZER },
        { "op": "remove", "path": path },
    ]))
}

#[derive(Debug, thiserror::Error)]
pub enum FinalizerError {
    #[error("building the finalizer patch: {0}")]
    Patch(#[from] serde_json::Error),
    #[error("patching finalizers: {0}")]
    Kube(#[from] kube::Error),
}

pub async fn add(api: &Api<ApiSourceLink>, link: &ApiSourceLink) -> Result<(), FinalizerError> {
    let patch = add_patch(link)?;
    api.patch::<ApiSourceLink>(
        &link.name_any(),
        &PatchParams::default(),
        &Patch::Json(patch),
    )
    .await?;
    Ok(())
}

pub async fn remove(
    api: &Api<ApiSourceLink>,
    link: &ApiSourceLink,
    index: usize,
) -> Result<(), FinalizerError> {
    let patch = remove_patch(index)?;
    api.patch::<ApiSourceLink>(
        &link.name_any(),
        &PatchParams::default(),
        &Patch::Json(patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ApiSourceLinkSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn link(finalizers: &[&str], deleting: bool) -> ApiSourceLink {
        let spec: ApiSourceLinkSpec = serde_json::from_value(json!({
            "source": {"apimResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a"},
            "target": {"apiCenterResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiCenter/services/c"},
        }))
        .unwrap();
        let mut l = ApiSourceLink::new("l", spec);
        l.metadata.finalizers =
            (!finalizers.is_empty()).then(|| finalizers.iter().map(|f| f.to_string()).collect());
        if deleting {
            l.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        }
        l
    }

    #[test]
    fn stages() {
        assert_eq!(stage(&link(&[], false)), Stage::NeedsFinalizer);
        assert_eq!(stage(&link(&["other"], false)), Stage::NeedsFinalizer);
        assert_eq!(stage(&link(&[FINALIZER], false)), Stage::Live);
        assert_eq!(
            stage(&link(&["other", FINALIZER], true)),
            Stage::Deleting { finalizer_index: 1 }
        );
        assert_eq!(stage(&link(&["other"], true)), Stage::Released);
    }

    #[test]
    fn patches_guard_against_concurrent_edits() {
        let p = serde_json::to_value(add_patch(&link(&[], false)).unwrap()).unwrap();
        assert_eq!(p[0]["op"], "test");
        assert_eq!(p[0]["value"], serde_json::Value::Null);
        assert_eq!(p[1]["value"], json!([FINALIZER]));
        let p = serde_json::to_value(add_patch(&link(&["other"], false)).unwrap()).unwrap();
        assert_eq!(p[0]["value"], json!(["other"]));
        assert_eq!(p[1]["path"], "/metadata/finalizers/-");
        let p = serde_json::to_value(remove_patch(1).unwrap()).unwrap();
        assert_eq!(
            p[0],
            json!({"op": "test", "path": "/metadata/finalizers/1", "value": FINALIZER})
        );
        assert_eq!(
            p[1],
            json!({"op": "remove", "path": "/metadata/finalizers/1"})
        );
    }
}
