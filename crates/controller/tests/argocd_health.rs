//! The Argo CD health check (deploy/argocd/.../health.lua) run by a real Lua 5.1 (the
//! language version of Argo CD's gopher-lua) on the test cases in health_test.yaml, laid
//! out as Argo CD's own resource customizations are.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use mlua::{Lua, LuaSerdeExt, SerializeOptions, Table};
use serde::Deserialize;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/argocd/apilink.dev/ApiSourceLink")
}

#[derive(Deserialize)]
struct Cases {
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    health_status: Health,
    input_path: String,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Health {
    status: String,
    message: String,
}

/// Runs the script with `obj` as Argo CD does (JSON null becomes nil).
fn health_of(script: &str, input: &Path) -> Health {
    let text = std::fs::read_to_string(input).unwrap();
    let obj: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let lua = Lua::new();
    let options = SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    lua.globals()
        .set("obj", lua.to_value_with(&obj, options).unwrap())
        .unwrap();
    let hs: Table = lua.load(script).set_name("health.lua").eval().unwrap();
    Health {
        status: hs.get("status").unwrap(),
        message: hs.get("message").unwrap(),
    }
}

#[test]
fn health_check_cases() {
    let script = std::fs::read_to_string(dir().join("health.lua")).unwrap();
    let cases: Cases =
        serde_yaml::from_str(&std::fs::read_to_string(dir().join("health_test.yaml")).unwrap())
            .unwrap();
    assert!(cases.tests.len() >= 7, "every kstatus case is covered");
    let mut statuses = std::collections::BTreeSet::new();
    for case in &cases.tests {
        let got = health_of(&script, &dir().join(&case.input_path));
        assert_eq!(got, case.health_status, "{}", case.input_path);
        statuses.insert(got.status);
    }
    for expected in ["Healthy", "Degraded", "Progressing", "Suspended"] {
        assert!(statuses.contains(expected), "no case yields {expected}");
    }
}

#[test]
fn status_written_by_the_controller_reads_as_expected() {
    // The conditions the state machine writes, fed to the health check.
    use apilink_controller::conditions::{Verdict, next_conditions};
    use k8s_openapi::jiff::Timestamp;
    let script = std::fs::read_to_string(dir().join("health.lua")).unwrap();
    let now = Timestamp::from_second(1_750_000_000).unwrap();
    let cases = [
        (
            Verdict::Succeeded {
                message: "ok".into(),
            },
            "Healthy",
        ),
        (
            Verdict::Progressing {
                message: "p".into(),
            },
            "Progressing",
        ),
        (
            Verdict::Retrying {
                reason: "AzureUnavailable".into(),
                message: "503".into(),
            },
            "Degraded",
        ),
        (
            Verdict::Stalled {
                reason: "InvalidSpec".into(),
                message: "m".into(),
            },
            "Degraded",
        ),
        (
            Verdict::BoundExceeded {
                message: "late".into(),
            },
            "Degraded",
        ),
    ];
    let tmp = std::env::temp_dir().join(format!("apilink-health-{}.yaml", std::process::id()));
    for (verdict, expected) in cases {
        let conditions = next_conditions(&[], &verdict, Some(2), now);
        let obj = serde_json::json!({
            "apiVersion": "apilink.dev/v1alpha1", "kind": "ApiSourceLink",
            "metadata": {"name": "l", "namespace": "ns", "generation": 2},
            "spec": {"suspend": false},
            "status": {"observedGeneration": 2, "conditions": conditions},
        });
        std::fs::write(&tmp, serde_yaml::to_string(&obj).unwrap()).unwrap();
        assert_eq!(health_of(&script, &tmp).status, expected, "{verdict:?}");
    }
    let _ = std::fs::remove_file(&tmp);
}

#[test]
fn argocd_cm_patch_embeds_the_same_script() {
    let script = std::fs::read_to_string(dir().join("health.lua")).unwrap();
    let patch_path = dir().join("../../argocd-cm-patch.yaml");
    let patch: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(patch_path).unwrap()).unwrap();
    let embedded = patch["data"]["resource.customizations.health.apilink.dev_ApiSourceLink"]
        .as_str()
        .unwrap();
    assert_eq!(
        embedded, script,
        "deploy/argocd/argocd-cm-patch.yaml drifted from health.lua"
    );
}
