//! The Helm chart as `helm template` renders it: its RBAC and ServiceAccount are applied
//! to the cluster, and its Deployment says how the controller is started (arguments and
//! environment), so the suite runs the controller the way the chart would.

use std::path::PathBuf;

use serde::Deserialize;
use serde_yaml::Value;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::paths;

/// Kinds taken from the rendered chart: exactly the controller's identity and permissions.
const RBAC_KINDS: &[&str] = &[
    "ServiceAccount",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
];
/// Name of the controller container in the chart's Deployment.
const CONTAINER: &str = "controller";

/// The chart under test: `APILINK_E2E_CHART` (e.g. a copy with one RBAC rule removed, to
/// see the suite fail), else `charts/apilink`.
pub fn chart_dir() -> PathBuf {
    std::env::var_os("APILINK_E2E_CHART")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| paths::repo_root().join("charts/apilink"))
}

/// Where an environment variable of the controller container gets its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvSource {
    Value(String),
    /// `fieldRef: metadata.name`: the pod (replica) name.
    PodName,
    /// `fieldRef: metadata.namespace`: the release namespace.
    PodNamespace,
}

/// How the chart starts the controller.
#[derive(Debug, Clone)]
pub struct Launch {
    pub args: Vec<String>,
    pub env: Vec<(String, EnvSource)>,
}

impl Launch {
    pub fn env_value(&self, name: &str) -> Option<&EnvSource> {
        self.env.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }
}

/// One `helm template` output.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub docs: Vec<Value>,
}

fn kind(doc: &Value) -> &str {
    doc.get("kind").and_then(Value::as_str).unwrap_or_default()
}

/// One value given to `helm template`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelmValue {
    /// `--set-string`: kept a string whatever it looks like (URLs, names).
    Str(String),
    /// `--set`: numbers and booleans.
    Raw(String),
    /// `--set key={a,b}`.
    List(Vec<String>),
    /// `--set-json`: lists of objects (`tenantScopes`).
    Json(serde_json::Value),
}

/// Renders the chart for `release` in `namespace` with `values`.
pub async fn render(
    cluster: &Cluster,
    release: &str,
    namespace: &str,
    values: &[(&str, HelmValue)],
) -> Result<Rendered> {
    let mut cmd = cluster.helm().args([
        "template",
        release,
        &chart_dir().display().to_string(),
        "--namespace",
        namespace,
        "--kube-version",
        cluster.kube_version.trim_start_matches('v'),
    ]);
    for (key, value) in values {
        cmd = match value {
            HelmValue::Str(v) => cmd.args(["--set-string", &format!("{key}={v}")]),
            HelmValue::Raw(v) => cmd.args(["--set", &format!("{key}={v}")]),
            HelmValue::List(items) => {
                cmd.args(["--set", &format!("{key}={{{}}}", items.join(","))])
            }
            HelmValue::Json(value) => cmd.args(["--set-json", &format!("{key}={value}")]),
        };
    }
    let text = cmd.run_ok().await?;
    let mut docs = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let doc = Value::deserialize(document).map_err(|e| Error::Command {
            command: "helm template".to_string(),
            detail: format!("rendered invalid YAML: {e}"),
        })?;
        if !doc.is_null() {
            docs.push(doc);
        }
    }
    Ok(Rendered { docs })
}

impl Rendered {
    /// The ServiceAccount and every (Cluster)Role(Binding), as one YAML stream.
    pub fn rbac_yaml(&self) -> Result<String> {
        let mut out = String::new();
        for doc in self.docs.iter().filter(|d| RBAC_KINDS.contains(&kind(d))) {
            out.push_str("---\n");
            out.push_str(
                &serde_yaml::to_string(doc).map_err(|e| {
                    Error::Setup(format!("re-serialising a rendered document: {e}"))
                })?,
            );
        }
        if out.is_empty() {
            return Err(Error::Check(
                "helm template rendered no ServiceAccount or RBAC objects".to_string(),
            ));
        }
        Ok(out)
    }

    /// Kinds and names of the RBAC objects (for the scenario log).
    pub fn rbac_summary(&self) -> Vec<String> {
        self.docs
            .iter()
            .filter(|d| RBAC_KINDS.contains(&kind(d)))
            .map(|d| {
                let name = d
                    .get("metadata")
                    .and_then(|m| m.get("name"))
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                format!("{}/{name}", kind(d))
            })
            .collect()
    }

    /// The ServiceAccount's name.
    pub fn service_account(&self) -> Result<String> {
        self.docs
            .iter()
            .find(|d| kind(d) == "ServiceAccount")
            .and_then(|d| d.get("metadata")?.get("name")?.as_str())
            .map(str::to_string)
            .ok_or_else(|| Error::Check("the chart rendered no ServiceAccount".to_string()))
    }

    /// Arguments and environment of the Deployment's controller container.
    pub fn launch(&self) -> Result<Launch> {
        let deployment = self
            .docs
            .iter()
            .find(|d| kind(d) == "Deployment")
            .ok_or_else(|| Error::Check("the chart rendered no Deployment".to_string()))?;
        let container = deployment
            .get("spec")
            .and_then(|s| s.get("template"))
            .and_then(|t| t.get("spec"))
            .and_then(|s| s.get("containers"))
            .and_then(Value::as_sequence)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("name").and_then(Value::as_str) == Some(CONTAINER))
            })
            .ok_or_else(|| {
                Error::Check(format!("the Deployment has no container named {CONTAINER}"))
            })?;
        let args = container
            .get("args")
            .and_then(Value::as_sequence)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut env = Vec::new();
        for var in container
            .get("env")
            .and_then(Value::as_sequence)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let name = var
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::Check(format!("an env entry without a name: {var:?}")))?;
            let source = if let Some(value) = var.get("value") {
                EnvSource::Value(match value {
                    Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .map(|s| s.trim().to_string())
                        .unwrap_or_default(),
                })
            } else {
                match var
                    .get("valueFrom")
                    .and_then(|v| v.get("fieldRef"))
                    .and_then(|f| f.get("fieldPath"))
                    .and_then(Value::as_str)
                {
                    Some("metadata.name") => EnvSource::PodName,
                    Some("metadata.namespace") => EnvSource::PodNamespace,
                    _ => {
                        return Err(Error::Check(format!(
                            "env {name} has a source the harness cannot provide: {var:?}"
                        )));
                    }
                }
            };
            env.push((name.to_string(), source));
        }
        Ok(Launch { args, env })
    }
}
