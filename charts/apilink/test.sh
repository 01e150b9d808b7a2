#!/usr/bin/env bash
# Checks the chart: `helm lint --strict` and `helm template` with every values variant in
# ci/, assertions on what renders (least-privilege RBAC, hardened pods, fail-fast values),
# and that deploy/ holds exactly the rendered chart.
#
#   charts/apilink/test.sh            check
#   charts/apilink/test.sh --update   regenerate deploy/base/controller.yaml and deploy/install.yaml
#
# helm comes from $HELM, else PATH, else tests/e2e/control-plane/build.sh (built from Go
# modules and cached; its last stdout line is the bin directory).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
chart=$here
release=apilink
namespace=apilink-system

die() { printf 'charts/apilink/test.sh: %s\n' "$*" >&2; exit 1; }

helm=${HELM:-}
if [ -z "$helm" ] && command -v helm >/dev/null 2>&1; then
  helm=$(command -v helm)
fi
if [ -z "$helm" ]; then
  build=$repo/tests/e2e/control-plane/build.sh
  [ -x "$build" ] || die "helm is missing: not in \$HELM or PATH, and $build is absent"
  bin=$("$build" | tail -n 1) || die "helm is missing: $build failed (it needs Go); set HELM=/path/to/helm"
  helm=$bin/helm
fi
[ -x "$helm" ] || die "helm is missing: $helm is not executable"
echo "== helm: $helm ($("$helm" version --short 2>/dev/null || echo unknown))"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failures=0
passes=0
check() { # description, command...
  local what=$1
  shift
  if "$@"; then
    printf 'ok   %s\n' "$what"
    passes=$((passes + 1))
  else
    printf 'FAIL %s\n' "$what"
    failures=$((failures + 1))
  fi
}
has() { grep -qE -- "$2" "$1"; }
lacks() { ! grep -qE -- "$2" "$1"; }

render() { # values-file output
  "$helm" template "$release" "$chart" --namespace "$namespace" -f "$1" >"$2"
}

variants=("$chart"/ci/*-values.yaml)
[ ${#variants[@]} -gt 0 ] || die "no values variants in $chart/ci"
for values in "${variants[@]}"; do
  name=$(basename "$values" -values.yaml)
  check "lint ($name)" "$helm" lint --strict "$chart" --namespace "$namespace" -f "$values" --quiet
  check "template ($name)" render "$values" "$out/$name.yaml"
done

# Every rule on Secrets is `verbs: ["get"]`, and there are exactly $2 of them (one for
# each Role or ClusterRole that carries one).
secrets_get_only() { # file count
  local verbs
  verbs=$(awk '/resources: \["secrets"\]/ { getline; print }' "$1")
  [ "$(printf '%s\n' "$verbs" | grep -c .)" -eq "$2" ] || return 1
  ! printf '%s\n' "$verbs" | grep -qv '^  *verbs: \["get"\]$'
}
# The kinds of objects named $2 in namespace $3 ("" for cluster-scoped), one per line.
kinds_named() { # file name namespace
  awk -v name="$2" -v ns="$3" '
    /^---/ { if (n == name && s == ns) print k; k = n = s = ""; meta = 0; next }
    /^kind: / { k = $2 }
    /^metadata:/ { meta = 1; next }
    meta && /^  name: / { n = $2 }
    meta && /^  namespace: / { s = $2 }
    /^[a-z]/ && !/^metadata:/ { meta = 0 }
    END { if (n == name && s == ns) print k }
  ' "$1" | sort | tr '\n' ' '
}

d=$out/default.yaml
check "default: two replicas with leader election" has "$d" '^  replicas: 2$'
check "default: rolling update with leader election" has "$d" '^    type: RollingUpdate$'
check "default: a rollout keeps one pod up" has "$d" '^      maxUnavailable: 0$'
check "default: never Recreate with a lease" lacks "$d" 'type: Recreate'
check "default: --leader-elect passed" has "$d" '^            - --leader-elect$'
check "default: cluster-wide RBAC" has "$d" '^kind: ClusterRole$'
check "default: Secrets are get only, never list or watch" secrets_get_only "$d" 1
check "default: without secretNamespaces, Secret get is bound cluster-wide" \
  has "$d" '^  name: apilink-secret-reader$'
check "default: no tenant scopes (unrestricted)" lacks "$d" 'APILINK_TENANT_SCOPES'
check "default: no verbs beyond what the controller calls" \
  lacks "$d" '"(update|delete|deletecollection|escalate|bind|impersonate|\*)"'
check "default: links are list/watch/patch" has "$d" 'verbs: \["list", "watch", "patch"\]'
check "default: status is patch only" has "$d" 'resources: \["apisourcelinks/status"\]'
check "default: lease create, then get/patch by name" has "$d" 'resourceNames: \["apilink-controller"\]'
check "default: read-only root file system" has "$d" 'readOnlyRootFilesystem: true'
check "default: non-root" has "$d" 'runAsNonRoot: true'
check "default: all capabilities dropped" has "$d" '- ALL'
check "default: no privilege escalation" has "$d" 'allowPrivilegeEscalation: false'
check "default: POD_NAME from the downward API" has "$d" 'fieldPath: metadata.name'
check "default: POD_NAMESPACE from the downward API" has "$d" 'fieldPath: metadata.namespace'
check "default: probes on /healthz and /readyz" has "$d" 'path: /readyz'
check "default: workload identity pod label" has "$d" 'azure.workload.identity/use: "true"'
check "default: JSON logs" has "$d" 'value: "json"'
check "default: PodDisruptionBudget" has "$d" '^kind: PodDisruptionBudget$'
check "default: no monitoring objects" lacks "$d" 'kind: (ServiceMonitor|PrometheusRule|NetworkPolicy)'

n=$out/namespaced.yaml
check "namespaced: no ClusterRole" lacks "$n" 'kind: ClusterRole'
check "namespaced: a Role in each namespace" test "$(grep -cE '^  namespace: team-(a|b)$' "$n")" -eq 4
check "namespaced: the controller is told the namespaces" has "$n" 'value: "team-a,team-b"'
check "namespaced: no lease RBAC without leader election" lacks "$n" 'coordination.k8s.io'
check "namespaced: Secret get in each namespace's Role, never list or watch" secrets_get_only "$n" 2
check "namespaced: no cluster-wide Secret access" lacks "$n" 'secret-reader'
check "namespaced: Recreate without leader election" has "$n" '^    type: Recreate$'
check "namespaced: no rolling update without a lease" lacks "$n" 'RollingUpdate|maxSurge'

m=$out/monitoring.yaml
check "monitoring: ServiceMonitor keeps link namespaces" has "$m" 'honorLabels: true'
check "monitoring: convergence alert" has "$m" 'alert: ApilinkLinkNotConverged'
check "monitoring: stalled alert" has "$m" 'alert: ApilinkLinkStalled'
check "monitoring: error-rate alert" has "$m" 'alert: ApilinkReconcileErrorRateHigh'
check "monitoring: throttling alert" has "$m" 'alert: ApilinkAzureThrottled'
check "monitoring: Prometheus templates survive Helm" has "$m" 'summary: "ApiSourceLink \{\{ \$labels.namespace \}\}'
check "monitoring: NetworkPolicy" has "$m" '^kind: NetworkPolicy$'
check "monitoring: workload identity client id" has "$m" 'azure.workload.identity/client-id: "00000000-0000-0000-0000-000000000001"'
check "monitoring: sovereign cloud endpoint" has "$m" 'value: "https://management.usgovcloudapi.net/"'
check "monitoring: extra CA bundle mounted" has "$m" 'value: /etc/apilink/ca/ca.crt'

s=$out/secret-credentials.yaml
check "secret-credentials: no ServiceAccount created" lacks "$s" '^kind: ServiceAccount$'
check "secret-credentials: the given ServiceAccount is used" has "$s" 'serviceAccountName: apilink-preexisting'
check "secret-credentials: no workload identity label" lacks "$s" 'azure.workload.identity'

renders() { # file values... : render with --set overrides
  local file=$1
  shift
  "$helm" template "$release" "$chart" --namespace "$namespace" "$@" >"$file"
}
r=$out/no-lease.yaml
check "template (one replica, leader election off)" renders "$r" --set replicaCount=1 --set leaderElection.enabled=false
check "no lease: Recreate, so two controllers never overlap" has "$r" '^    type: Recreate$'
check "no lease: no --leader-elect" lacks "$r" '--leader-elect'
r=$out/storage.yaml
check "template (storage host suffix)" renders "$r" --set azure.storageHostSuffix=blob.local.azurestack.external
check "storage host suffix: AZURE_STORAGE_HOST_SUFFIX set" has "$r" 'name: AZURE_STORAGE_HOST_SUFFIX'
check "storage host suffix: its value" has "$r" 'value: "blob.local.azurestack.external"'
check "default: no AZURE_STORAGE_HOST_SUFFIX" lacks "$d" 'AZURE_STORAGE_HOST_SUFFIX'
check "default: the preflight runs (no APILINK_SKIP_PREFLIGHT)" lacks "$d" 'APILINK_SKIP_PREFLIGHT'
r=$out/no-preflight.yaml
check "template (preflight.enabled=false)" renders "$r" --set preflight.enabled=false
check "no preflight: APILINK_SKIP_PREFLIGHT set" has "$r" 'name: APILINK_SKIP_PREFLIGHT'
check "no preflight: to true" test "$(grep -A1 'name: APILINK_SKIP_PREFLIGHT' "$r" | tail -n 1 | tr -d ' ')" = 'value:"true"'

sn=$out/secret-namespaces.yaml
check "secret-namespaces: links in every namespace (ClusterRole + binding)" \
  test "$(kinds_named "$sn" apilink "")" = "ClusterRole ClusterRoleBinding "
check "secret-namespaces: a get-only ClusterRole for Secrets" secrets_get_only "$sn" 1
check "secret-namespaces: bound in team-a only by a RoleBinding" \
  test "$(kinds_named "$sn" apilink-secret-reader team-a)" = "RoleBinding "
check "secret-namespaces: bound in team-b only by a RoleBinding" \
  test "$(kinds_named "$sn" apilink-secret-reader team-b)" = "RoleBinding "
check "secret-namespaces: the Secret ClusterRole is never bound cluster-wide" \
  test "$(kinds_named "$sn" apilink-secret-reader "")" = "ClusterRole "
check "secret-namespaces: tenant scopes reach the controller as JSON" \
  has "$sn" 'name: APILINK_TENANT_SCOPES'
check "secret-namespaces: tenant scopes keep their patterns" \
  has "$sn" 'resourceGroups/rg-apim-\*/\*'
r=$out/no-secrets.yaml
check "template (rbac.readSecrets=false)" renders "$r" --set rbac.readSecrets=false
check "no secrets: no rule on Secrets at all" lacks "$r" '"secrets"'
r=$out/no-secrets-namespaced.yaml
check "template (rbac.readSecrets=false, namespaced)" renders "$r" --set rbac.readSecrets=false \
  --set 'controller.watchNamespaces={team-a}'
check "no secrets, namespaced: no rule on Secrets at all" lacks "$r" '"secrets"'
r=$out/some-secret-namespaces.yaml
check "template (namespaced, Secrets in one)" renders "$r" \
  --set 'controller.watchNamespaces={team-a,team-b}' --set 'rbac.secretNamespaces={team-b}'
check "namespaced + secretNamespaces: Secret get in one Role only" secrets_get_only "$r" 1
check "namespaced + secretNamespaces: that Role is team-b's" \
  test "$(awk '/^  namespace: /{ns=$2} /resources: \["secrets"\]/{print ns}' "$r")" = team-b

refuses() { # values... : rendering must fail
  ! "$helm" template "$release" "$chart" --namespace "$namespace" "$@" >/dev/null 2>&1
}
check "refuses two replicas without leader election" refuses --set replicaCount=2 --set leaderElection.enabled=false
check "refuses a renew grace as long as the lease" refuses --set leaderElection.renewGraceSeconds=15
check "refuses an external ServiceAccount without a name" refuses --set serviceAccount.create=false
check "refuses a shutdown grace beyond the pod's termination grace" refuses --set controller.shutdownGraceSeconds=30
check "refuses Secret namespaces the controller does not serve" \
  refuses --set 'controller.watchNamespaces={team-a}' --set 'rbac.secretNamespaces={team-b}'
check "refuses a tenant scope without a target" \
  refuses --set-json 'tenantScopes=[{"namespaces":["a"],"source":["*"]}]'
check "refuses a tenant scope pattern that is not an ARM id" \
  refuses --set-json 'tenantScopes=[{"namespaces":["a"],"source":["subscriptions/x"],"target":["*"]}]'
check "refuses an unknown key in a tenant scope" \
  refuses --set-json 'tenantScopes=[{"namespaces":["a"],"source":["*"],"target":["*"],"sources":["*"]}]'
check "refuses a Secret namespace that is not a namespace name" refuses --set 'rbac.secretNamespaces={Team_A}'
check "refuses a preflight switch that is not a boolean" refuses --set-string preflight.enabled=no

# deploy/ ships the rendered default chart as plain manifests.
header="# Generated by charts/apilink/test.sh --update from the chart's defaults; do not edit."
{
  echo "$header"
  "$helm" template "$release" "$chart" --namespace "$namespace"
} >"$out/controller.yaml"
{
  echo "$header"
  echo "# Everything in one file: namespace, CRD, controller. kubectl apply --server-side -f install.yaml"
  printf -- '---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$namespace"
  printf -- '---\n'
  grep -v '^# Generated by `apilink crd`' "$chart/crds/apisourcelinks.apilink.dev.yaml"
  "$helm" template "$release" "$chart" --namespace "$namespace"
} >"$out/install.yaml"
# kubectl ships beside helm from build.sh; when present, the kustomize base must build.
kubectl=$(dirname "$helm")/kubectl
if [ -x "$kubectl" ]; then
  check "deploy/base builds with kustomize" "$kubectl" kustomize "$repo/deploy/base" -o "$out/kustomized.yaml"
fi

if [ "${1:-}" = "--update" ]; then
  cp "$out/controller.yaml" "$repo/deploy/base/controller.yaml"
  cp "$out/install.yaml" "$repo/deploy/install.yaml"
  echo "updated deploy/base/controller.yaml and deploy/install.yaml"
else
  check "deploy/base/controller.yaml is the rendered chart" cmp -s "$out/controller.yaml" "$repo/deploy/base/controller.yaml"
  check "deploy/install.yaml is the rendered chart" cmp -s "$out/install.yaml" "$repo/deploy/install.yaml"
  check "deploy/base/crd.yaml is the chart's CRD" cmp -s "$chart/crds/apisourcelinks.apilink.dev.yaml" "$repo/deploy/base/crd.yaml"
fi

echo "chart: $passes passed, $failures failed"
if [ "$failures" -gt 0 ]; then
  echo "(after an intended change to the chart, regenerate deploy/ with: charts/apilink/test.sh --update)" >&2
  exit 1
fi
