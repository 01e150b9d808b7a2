#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Proves the test control plane does what apilink's end-to-end tests rely on: brings a
# cluster up (stopped again on every exit path), then checks with kubectl and helm
# TokenRequest tokens, RBAC allow/deny, a CRD with an OpenAPI schema and a CEL
# immutability rule, server-side apply of a status subresource, Leases, and helm.
# Prints one PASS/FAIL line per check with its time and exits non-zero on any failure.
#
# Uses its own state dir (tests/e2e/.work/smoke unless APILINK_CLUSTER_DIR is set) so it
# never collides with a cluster started by up.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export APILINK_CLUSTER_DIR="${APILINK_CLUSTER_DIR:-$(cd "$here/.." && pwd)/.work/smoke}"
# shellcheck source=lib.sh
. "$here/lib.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/apilink-smoke.XXXXXX")
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  cp_cleanup || rc=1
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t_start=$(cp_now)
cp_up
# shellcheck source=/dev/null
. "$CP_DIR/cluster.env"
t_up=$(cp_since "$t_start")

NS=apilink-smoke
SA=smoke-reader
GROUP=smoke.apilink.dev
k() { "$CP_BIN/kubectl" --request-timeout=20s "$@"; }
# kubectl as the ServiceAccount, through a kubeconfig holding only its token: the way
# the controller is meant to be run in least-privilege tests.
k_sa() { KUBECONFIG="$work/sa.kubeconfig" "$CP_BIN/kubectl" --request-timeout=20s "$@"; }
helm() { "$CP_BIN/helm" "$@"; }

passed=0
failed=0
check() { # description, function
  local what=$1 t0 rc
  t0=$(cp_now)
  set +e
  (set -e; "$2") >"$work/check.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    printf 'PASS %-62s %6.2f s\n' "$what" "$(cp_since "$t0")"
  else
    failed=$((failed + 1))
    printf 'FAIL %-62s %6.2f s\n' "$what" "$(cp_since "$t0")"
    sed 's/^/     | /' "$work/check.log"
  fi
}

# Runs a command that must fail, and checks its output for the expected reason, so a
# failure for any other reason (a typo, a timeout) does not count as the rejection.
expect_rejected() { # pattern, command...
  local pattern=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "expected a rejection, but it succeeded: $out"
    return 1
  fi
  echo "$out"
  grep -qiE -- "$pattern" <<<"$out" || { echo "rejected, but not with /$pattern/"; return 1; }
}

# Compares a command's output with the expected value and says what it got otherwise.
expect_eq() { # expected, command...
  local want=$1 got
  shift
  got=$("$@") || { echo "command failed: $*"; return 1; }
  [ "$got" = "$want" ] || { echo "expected '$want', got '$got' from: $*"; return 1; }
}

versions() {
  k get --raw /version >"$work/version.json"
  cat "$work/version.json"
  grep -q "\"gitVersion\": \"$KUBE_VERSION\"" "$work/version.json"
  k version --client -o json | grep -q "\"gitVersion\": \"$KUBE_VERSION\""
}

namespace_and_sa() {
  k create namespace "$NS"
  k -n "$NS" create serviceaccount "$SA"
  k -n "$NS" get serviceaccount "$SA" -o name | grep -qx "serviceaccount/$SA"
}

token_request() {
  k -n "$NS" create token "$SA" --duration=10m >"$work/sa.token"
  # A JWT: three base64url parts.
  grep -qE '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' "$work/sa.token"
  (
    umask 077
    cat >"$work/sa.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster: {server: "$APILINK_APISERVER_URL", certificate-authority: "$APILINK_CA_FILE"}
users:
- name: sa
  user: {token: "$(cat "$work/sa.token")"}
contexts:
- name: sa
  context: {cluster: e2e, user: sa, namespace: "$NS"}
current-context: sa
EOF
  )
  # SelfSubjectReview: the server authenticates the token as the ServiceAccount.
  k_sa auth whoami -o jsonpath='{.status.userInfo.username}' | tee "$work/whoami"
  grep -qx "system:serviceaccount:$NS:$SA" "$work/whoami"
}

rbac_setup() {
  k -n "$NS" create configmap smoke-cm --from-literal=greeting=hello
  k -n "$NS" create role configmap-getter --verb=get --resource=configmaps
  k -n "$NS" create rolebinding configmap-getter --role=configmap-getter --serviceaccount="$NS:$SA"
}

rbac_allows_get() {
  expect_eq hello k_sa -n "$NS" get configmap smoke-cm -o jsonpath='{.data.greeting}'
}

rbac_denies_list() {
  expect_rejected 'forbidden.*cannot list resource "configmaps"' k_sa -n "$NS" get configmaps
  # And nothing beyond the Role: not even get in another namespace.
  expect_rejected 'forbidden' k_sa -n default get configmap kube-root-ca.crt
  local can
  # can-i exits 1 when the answer is no; the printed answer is what matters.
  can=$(k_sa auth can-i list configmaps -n "$NS" 2>/dev/null || true)
  [ "$can" = no ] || { echo "auth can-i list configmaps: expected 'no', got '$can'"; return 1; }
}

crd_established() {
  cat >"$work/crd.yaml" <<EOF
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.$GROUP
spec:
  group: $GROUP
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [region]
            properties:
              region:
                type: string
                x-kubernetes-validations:
                - rule: self == oldSelf
                  message: region is immutable
              size:
                type: integer
                minimum: 1
          status:
            type: object
            properties:
              phase: {type: string}
              observedGeneration: {type: integer}
EOF
  k apply -f "$work/crd.yaml"
  k wait --for=condition=Established --timeout=30s "crd/widgets.$GROUP"
  # Discovery lags Established by a moment; bounded wait until kubectl can use the kind.
  local _
  for _ in $(seq 1 50); do
    k api-resources --api-group="$GROUP" -o name 2>/dev/null | grep -qx "widgets.$GROUP" && break
    sleep 0.2
  done
  cat >"$work/widget.yaml" <<EOF
apiVersion: $GROUP/v1
kind: Widget
metadata: {name: w1, namespace: $NS}
spec: {region: westeurope, size: 1}
EOF
  k create -f "$work/widget.yaml"
}

schema_rejects() {
  expect_rejected 'Invalid value.*spec.size' \
    k -n "$NS" patch widget w1 --type=merge -p '{"spec":{"size":"large"}}'
  expect_rejected 'spec.size.*(should be greater than or equal to 1|must be greater than or equal to 1)' \
    k -n "$NS" patch widget w1 --type=merge -p '{"spec":{"size":0}}'
}

cel_rejects_update() {
  expect_rejected 'region is immutable' \
    k -n "$NS" patch widget w1 --type=merge -p '{"spec":{"region":"northeurope"}}'
  # A change the rule allows still goes through, so the rejection above was the rule.
  k -n "$NS" patch widget w1 --type=merge -p '{"spec":{"size":2}}'
  expect_eq westeurope/2 k -n "$NS" get widget w1 -o jsonpath='{.spec.region}/{.spec.size}'
}

ssa_status() {
  local gen
  gen=$(k -n "$NS" get widget w1 -o jsonpath='{.metadata.generation}')
  cat >"$work/status.yaml" <<EOF
apiVersion: $GROUP/v1
kind: Widget
metadata: {name: w1, namespace: $NS}
status: {phase: Ready, observedGeneration: $gen}
EOF
  k apply --server-side --field-manager=smoke-status --subresource=status -f "$work/status.yaml"
  expect_eq "Ready/$gen" k -n "$NS" get widget w1 -o jsonpath='{.status.phase}/{.status.observedGeneration}'
  # The status write is owned by our field manager on the status subresource and did
  # not bump the generation (spec untouched).
  k -n "$NS" get widget w1 --show-managed-fields \
    -o jsonpath='{range .metadata.managedFields[*]}{.manager}:{.operation}:{.subresource}{"\n"}{end}' |
    tee "$work/managers"
  grep -qx 'smoke-status:Apply:status' "$work/managers"
  expect_eq "$gen" k -n "$NS" get widget w1 -o jsonpath='{.metadata.generation}'
}

lease_create() {
  cat >"$work/lease.yaml" <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: apilink-leader, namespace: $NS}
spec: {holderIdentity: smoke-pod, leaseDurationSeconds: 15}
EOF
  k create -f "$work/lease.yaml"
  expect_eq smoke-pod k -n "$NS" get lease apilink-leader -o jsonpath='{.spec.holderIdentity}'
}

make_chart() {
  mkdir -p "$work/chart/templates"
  cat >"$work/chart/Chart.yaml" <<EOF
apiVersion: v2
name: smoke
version: 0.1.0
kubeVersion: ">=1.30.0-0"
EOF
  printf 'greeting: hello\n' >"$work/chart/values.yaml"
  cat >"$work/chart/templates/configmap.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-smoke
data:
  greeting: {{ .Values.greeting | quote }}
  kubeVersion: {{ .Capabilities.KubeVersion.Version | quote }}
EOF
}

helm_version() {
  helm version --short | tee "$work/helm-version"
  grep -q "^$HELM_VERSION" "$work/helm-version"
}

helm_template() {
  make_chart
  helm lint "$work/chart"
  helm template smoke "$work/chart" --kube-version "${KUBE_VERSION#v}" --set greeting=hi >"$work/rendered.yaml"
  cat "$work/rendered.yaml"
  grep -q 'greeting: "hi"' "$work/rendered.yaml"
  grep -q "kubeVersion: \"$KUBE_VERSION\"" "$work/rendered.yaml"
}

helm_install() {
  [ -f "$work/chart/Chart.yaml" ] || make_chart
  helm install smoke "$work/chart" --namespace "$NS" --wait --timeout 60s
  expect_eq "$KUBE_VERSION" k -n "$NS" get configmap smoke-smoke -o jsonpath='{.data.kubeVersion}'
  helm uninstall smoke --namespace "$NS" --wait --timeout 60s
  expect_rejected 'not ?found' k -n "$NS" get configmap smoke-smoke
}

printf 'control plane up in %s s (build or cache + certificates + etcd + /readyz)\n' "$t_up"
check "apiserver and kubectl report $KUBE_VERSION" versions
check "namespace and ServiceAccount" namespace_and_sa
check "TokenRequest token authenticates as the ServiceAccount" token_request
check "Role (get configmaps) and RoleBinding" rbac_setup
check "RBAC: ServiceAccount may get a configmap" rbac_allows_get
check "RBAC: ServiceAccount is denied list (and other namespaces)" rbac_denies_list
check "CRD with OpenAPI schema established, object created" crd_established
check "OpenAPI schema rejects a wrong type and a minimum" schema_rejects
check "CEL x-kubernetes-validations rejects an immutable update" cel_rejects_update
check "server-side apply of the status subresource" ssa_status
check "Lease create and read back" lease_create
check "helm version is $HELM_VERSION" helm_version
check "helm lint + template --kube-version ${KUBE_VERSION#v}" helm_template
check "helm install + uninstall against the cluster" helm_install

teardown() {
  local api etcd
  api=$(cp_pid kube-apiserver)
  etcd=$(cp_pid etcd)
  cp_down
  ! kill -0 "$api" 2>/dev/null || { echo "kube-apiserver (pid $api) still running"; return 1; }
  ! kill -0 "$etcd" 2>/dev/null || { echo "etcd (pid $etcd) still running"; return 1; }
  [ ! -e "$CP_DIR" ] || { echo "$CP_DIR still exists"; return 1; }
}
# Last, so the summary is the closing line; the EXIT trap then finds nothing to stop.
check "teardown: apiserver, then etcd stopped, state dir removed" teardown

printf 'total %.1f s\n' "$(cp_since "$t_start")"
printf 'smoke: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
