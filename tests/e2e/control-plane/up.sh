#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Starts a loopback control plane (etcd + kube-apiserver) for tests and returns once
# /readyz answers; the processes keep running until down.sh.
#
#   up.sh                 start in the background, print the cluster.env path last on stdout
#   up.sh --foreground    start, then stay attached; Ctrl-C, SIGTERM or a crash stops everything
#
# Environment: APILINK_CLUSTER_DIR (state dir, default tests/e2e/.work/cluster),
# APILINK_CONTROL_PLANE_BIN (skip build.sh and use these binaries), APILINK_CACHE_DIR,
# APILINK_READY_TIMEOUT / APILINK_ETCD_TIMEOUT / APILINK_STOP_TIMEOUT (seconds).
# Then: `. "$(up.sh)"` or `. tests/e2e/.work/cluster/cluster.env` and use kubectl.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

foreground=0
case "${1:-}" in
  "") ;;
  --foreground) foreground=1 ;;
  -h | --help) sed -n '3,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) cp_log "unknown argument: $1 (use --foreground or nothing)"; exit 2 ;;
esac

started=0
on_exit() {
  local rc=$?
  # In the background mode a successful start leaves the cluster running on purpose.
  if [ "$foreground" -eq 1 ] || [ "$started" -eq 0 ]; then
    trap - EXIT INT TERM HUP
    cp_cleanup || rc=1
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

cp_up || { cp_log "start-up failed"; exit 1; }
started=1

if [ "$foreground" -eq 0 ]; then
  printf '%s\n' "$CP_DIR/cluster.env"
  exit 0
fi

cp_log "running in the foreground; Ctrl-C stops the apiserver, then etcd, and removes $CP_DIR"
printf '%s\n' "$CP_DIR/cluster.env"
while :; do
  for name in kube-apiserver etcd; do
    if ! cp_is_ours "$(cp_pid "$name")"; then
      cp_log "$name exited unexpectedly"
      cp_log_tail "$name"
      exit 1
    fi
  done
  sleep 1
done
