#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Builds etcd, kube-apiserver, kubectl and helm at the versions pinned in versions.env
# into a cache outside the repository and prints the bin directory as the last (only)
# line on stdout, so callers can write `BIN=$(tests/e2e/control-plane/build.sh)`.
#
#   cache: ${APILINK_CACHE_DIR:-$HOME/.cache/apilink}/control-plane/<key>/bin/
#   key:   the pinned versions, the Go version and a hash of the wrappers' go.mod/go.sum/
#          tools.go and of the build flags, so any change that alters a binary changes it.
#
# A build runs in a temporary directory that is renamed to <key> only when every binary
# is there, so a half-built cache is never used; concurrent callers serialise on a lock.
# GOMODCACHE and GOCACHE come from the environment (Go's defaults otherwise); the
# build flags are constant so a warm Go build cache turns a rebuild into seconds.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

log() { printf '%s\n' "$*" >&2; }
die() { log "build.sh: $*"; exit 1; }
now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

command -v go >/dev/null || die "Go (1.24 or newer) must be on PATH"
command -v sha256sum >/dev/null || die "sha256sum (coreutils) is required"
command -v flock >/dev/null || die "flock (util-linux) is required"

kube_dir=$repo/tools/kube-apiserver
etcd_dir=$repo/tools/etcd
# A requirement may stand alone or inside a require block, depending on go mod tidy.
requires() { grep -Eq "^(require )?[[:space:]]*$2 $3([[:space:]]|\$)" "$1/go.mod"; }
requires "$kube_dir" k8s.io/kubernetes "$KUBE_VERSION" ||
  die "tools/kube-apiserver/go.mod does not require k8s.io/kubernetes $KUBE_VERSION; run $here/regenerate-wrappers.sh"
requires "$etcd_dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" ||
  die "tools/etcd/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION; run $here/regenerate-wrappers.sh"

# Bump RECIPE whenever the way the binaries are built changes (flags below), so the
# key changes with it and an old cache entry is not mistaken for the new recipe.
RECIPE="recipe-1 CGO_ENABLED=0 -trimpath -buildvcs=false -ldflags=-s,-w,+version"
# Asked inside the wrapper so it names the toolchain that will build it (GOTOOLCHAIN
# may select another one than the go on PATH).
go_version=$(cd "$kube_dir" && go env GOVERSION)
hash=$(cat "$kube_dir/go.mod" "$kube_dir/go.sum" "$kube_dir/tools.go" \
  "$etcd_dir/go.mod" "$etcd_dir/go.sum" "$etcd_dir/tools.go" <(printf '%s\n' "$RECIPE") |
  sha256sum | cut -c1-16)
key="k8s-$KUBE_VERSION.etcd-$ETCD_VERSION.helm-$HELM_VERSION.$go_version.$hash"
cache_root=${APILINK_CACHE_DIR:-$HOME/.cache/apilink}/control-plane
final=$cache_root/$key
binaries=(etcd kube-apiserver kubectl helm)

complete() {
  local b
  for b in "${binaries[@]}"; do [ -x "$1/bin/$b" ] || return 1; done
}

if complete "$final"; then
  log "cache hit: $final"
  printf '%s\n' "$final/bin"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  log "waiting for the build lock $cache_root/.lock (another build is running)"
  flock -w 3600 9 || die "timed out after 3600 s waiting for $cache_root/.lock"
fi
if complete "$final"; then
  log "cache hit (built by a concurrent run): $final"
  printf '%s\n' "$final/bin"
  exit 0
fi
# Holding the lock, no other build is in progress: leftovers are from killed runs.
rm -rf "$cache_root"/.tmp-*
tmp=$(mktemp -d "$cache_root/.tmp-$key.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"

log "cache miss: building $key"
log "  go $go_version, GOMODCACHE=$(go env GOMODCACHE), GOCACHE=$(go env GOCACHE)"
export CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"

timings=()
step() { # label, dir, go args...
  local label=$1 dir=$2; shift 2
  local t0; t0=$(now)
  log "== $label"
  # go reports progress and errors on stderr; stdout (go list's package names) is noise.
  (cd "$dir" && go "$@") >/dev/null || die "$label failed"
  local took; took=$(since "$t0")
  timings+=("$label: $took s")
  log "   $label took $took s"
}
size() { du -m "$1" | cut -f1; }

# Without -X the binaries report v0.0.0-master…, which trips clients' version checks.
kube_minor=${KUBE_VERSION#v1.}; kube_minor=${kube_minor%%.*}
kube_ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$kube_minor -X $p.gitTreeState=clean"
done

step "etcd $ETCD_VERSION: resolve modules" "$etcd_dir" list -mod=readonly -deps go.etcd.io/etcd/server/v3
step "etcd $ETCD_VERSION: build" "$etcd_dir" build -mod=readonly -ldflags "-s -w" -o "$tmp/bin/etcd" go.etcd.io/etcd/server/v3
step "kubernetes $KUBE_VERSION: resolve modules" "$kube_dir" list -mod=readonly -deps \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl
step "kube-apiserver $KUBE_VERSION: build" "$kube_dir" build -mod=readonly -ldflags "$kube_ldflags" \
  -o "$tmp/bin/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
step "kubectl $KUBE_VERSION: build" "$kube_dir" build -mod=readonly -ldflags "$kube_ldflags" \
  -o "$tmp/bin/kubectl" k8s.io/kubernetes/cmd/kubectl

# helm's go.mod has no replaces, so `go install …@version` builds exactly its own
# dependency graph. The -X flags mirror helm's Makefile: the version, and the default
# Kubernetes version for `helm template`/`lint` derived from its client-go (0.Y → 1.Y).
helm_mod=$(cd "$tmp" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
[ -f "$helm_mod" ] || die "could not download go.mod of helm.sh/helm/v3@$HELM_VERSION"
helm_k8s_minor=$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$helm_mod" | head -n1)
[ -n "$helm_k8s_minor" ] || die "no k8s.io/client-go requirement in $helm_mod"
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$helm_k8s_minor"
done
GOBIN="$tmp/bin" step "helm $HELM_VERSION: download + build" "$tmp" install -ldflags "$helm_ldflags" \
  "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"

complete "$tmp" || die "a binary is missing in $tmp/bin after the build"
{
  printf 'key=%s\ngo=%s\nbuilt=%s\n' "$key" "$go_version" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '%s\n' "${timings[@]}"
  for b in "${binaries[@]}"; do printf '%s: %s MB\n' "$b" "$(size "$tmp/bin/$b")"; done
} >"$tmp/BUILD-INFO"
mv -T "$tmp" "$final"
trap - EXIT
log "built into $final:"
for t in "${timings[@]}"; do log "  $t"; done
for b in "${binaries[@]}"; do log "  $b: $(size "$final/bin/$b") MB"; done
printf '%s\n' "$final/bin"
