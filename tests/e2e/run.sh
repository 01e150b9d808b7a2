#!/usr/bin/env bash
# Runs the end-to-end suite the way CI does:
#   1. builds (or reuses) etcd, kube-apiserver, kubectl and helm from Go modules
#      (tests/e2e/control-plane/build.sh; cached, a cache hit takes well under a second),
#   2. builds the apilink binary (cargo build -p apilink),
#   3. runs cargo test -p apilink-e2e -- --test-threads=1 --nocapture (so the log shows
#      each scenario's timings) with APILINK_BIN and APILINK_CONTROL_PLANE_BIN set and
#      APILINK_E2E_REQUIRED=1 (no silent skip),
# and prints how long each step took. Exits non-zero when any step fails.
#
#   tests/e2e/run.sh                   every scenario
#   tests/e2e/run.sh suspend           only scenarios whose name contains "suspend"
#
# Honours CARGO, CARGO_TARGET_DIR, APILINK_CACHE_DIR and APILINK_CONTROL_PLANE_BIN.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cargo=${CARGO:-cargo}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
log() { printf '== e2e: %s\n' "$*" >&2; }

t_total=$(now)

t=$(now)
if [ -n "${APILINK_CONTROL_PLANE_BIN:-}" ]; then
  bin=$APILINK_CONTROL_PLANE_BIN
  log "control plane from APILINK_CONTROL_PLANE_BIN=$bin"
else
  log "building (or reusing) the control plane"
  bin=$("$here/control-plane/build.sh" | tail -n 1)
fi
t_cp=$(since "$t")
for b in etcd kube-apiserver kubectl helm; do
  [ -x "$bin/$b" ] || { log "$bin/$b is missing"; exit 1; }
done
log "control plane: $bin (${t_cp} s)"

t=$(now)
log "building apilink"
apilink=$(cd "$repo" && "$cargo" build -p apilink --message-format=json-render-diagnostics |
  sed -n 's/.*"executable":"\([^"]*\/apilink\)".*/\1/p' | tail -n 1)
t_bin=$(since "$t")
[ -n "$apilink" ] && [ -x "$apilink" ] || { log "cargo build -p apilink reported no executable"; exit 1; }
log "apilink: $apilink (${t_bin} s)"

t=$(now)
log "running the suite"
set +e
(
  cd "$repo"
  APILINK_BIN=$apilink APILINK_CONTROL_PLANE_BIN=$bin APILINK_E2E_REQUIRED=1 \
    "$cargo" test -p apilink-e2e -- --test-threads=1 --nocapture "$@"
)
rc=$?
set -e
t_suite=$(since "$t")

printf '\n== e2e timings: control-plane build %s s, apilink build %s s, e2e suite %s s, total %s s\n' \
  "$t_cp" "$t_bin" "$t_suite" "$(since "$t_total")"
if [ "$rc" -ne 0 ]; then
  printf '== e2e: FAILED (exit %s); logs of every process are under %s\n' "$rc" "$here/.work/runs" >&2
  exit "$rc"
fi
printf '== e2e: passed\n'
