//! The chart and deploy/ ship copies of the CRD; they must be exactly what `apilink crd`
//! prints. Run with `APILINK_UPDATE_GOLDEN=1` to rewrite them after a schema change.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use serde::Deserialize;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const COPIES: &[&str] = &[
    "charts/apilink/crds/apisourcelinks.apilink.dev.yaml",
    "deploy/base/crd.yaml",
];

#[test]
fn shipped_crd_copies_match_the_generated_crd() {
    let generated = apilink_controller::crd_yaml().unwrap();
    let update = std::env::var_os("APILINK_UPDATE_GOLDEN").is_some();
    for copy in COPIES {
        let path = repo_root().join(copy);
        if update {
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let shipped = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{copy}: {e}; run with APILINK_UPDATE_GOLDEN=1"));
        assert!(
            shipped == generated,
            "{copy} drifted from the generated CRD; regenerate with \
             `APILINK_UPDATE_GOLDEN=1 cargo test -p apilink-controller --test crd_copies`"
        );
    }
}

/// Every ApiSourceLink shipped as an example or test fixture reads as a valid link.
#[test]
fn shipped_links_are_valid() {
    let mut files = Vec::new();
    for dir in [
        "deploy/examples",
        "deploy/argocd/apilink.dev/ApiSourceLink/testdata",
    ] {
        for entry in std::fs::read_dir(repo_root().join(dir)).unwrap() {
            files.push(entry.unwrap().path());
        }
    }
    let mut links = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = serde_yaml::Value::deserialize(doc).unwrap();
            if value["kind"] != "ApiSourceLink" {
                continue;
            }
            let link: apilink_controller::ApiSourceLink =
                serde_yaml::from_value(value).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            link.spec
                .link
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            links += 1;
        }
    }
    assert!(links >= 10, "found {links} links");
}
