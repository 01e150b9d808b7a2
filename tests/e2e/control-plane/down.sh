#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Stops the control plane started by up.sh (apiserver first, then etcd) and removes its
# state dir (APILINK_CLUSTER_DIR, default tests/e2e/.work/cluster). Does nothing when no
# cluster is there. APILINK_KEEP_CLUSTER_DIR=1 keeps the directory and its logs.
set -euo pipefail

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ ! -d "$CP_DIR" ]; then
  cp_log "no cluster in $CP_DIR"
  exit 0
fi
cp_down
cp_log "cluster in $CP_DIR is down"
