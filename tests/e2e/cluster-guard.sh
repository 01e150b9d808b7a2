#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The control plane of one e2e test process. Started by the Rust harness with a pipe on
# stdin: brings up etcd + kube-apiserver (control-plane/lib.sh's cp_up), prints
# `READY <path of cluster.env>` on stdout, then stays until its stdin closes. The pipe's
# other end belongs to the test process, so it closes however that process ends (a
# normal exit, a panic, SIGKILL) and the cluster is stopped (apiserver, then etcd) and
# its state dir removed. SIGINT/SIGTERM/SIGHUP or a dying daemon stop it too.
#
# Environment: APILINK_CLUSTER_DIR (state dir; required, one per test process) and
# APILINK_CONTROL_PLANE_BIN (the binaries), as for control-plane/up.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${APILINK_CLUSTER_DIR:?APILINK_CLUSTER_DIR must name the cluster state dir of this run}"
# shellcheck source=control-plane/lib.sh
. "$here/control-plane/lib.sh"

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  cp_log "stopping the e2e cluster in $CP_DIR"
  cp_cleanup || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

cp_up || { cp_log "start-up failed"; exit 1; }
printf 'READY %s\n' "$CP_DIR/cluster.env"

while :; do
  if read -r -t 2 _; then
    continue
  else
    rc=$?
  fi
  # read -t answers > 128 on a timeout; anything else is end of input: the harness is gone.
  if [ "$rc" -le 128 ]; then
    cp_log "the test process has gone (stdin closed)"
    exit 0
  fi
  for name in kube-apiserver etcd; do
    if ! cp_is_ours "$(cp_pid "$name")"; then
      cp_log "$name exited unexpectedly"
      cp_log_tail "$name"
      exit 1
    fi
  done
done
