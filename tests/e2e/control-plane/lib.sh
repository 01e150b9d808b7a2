# shellcheck shell=bash source-path=SCRIPTDIR
# Functions to run a loopback Kubernetes control plane (etcd + kube-apiserver) for tests.
# Sourced by up.sh, down.sh and smoke.sh; a test harness can source it too:
#
#   . tests/e2e/control-plane/lib.sh
#   trap cp_cleanup EXIT       # stops what cp_up started on any exit path, even a failure
#   cp_up                      # builds (or reuses) the binaries, starts, waits for /readyz
#   . "$CP_DIR/cluster.env"    # KUBECONFIG, APILINK_* (ports, pids, bin dir, CA file)
#
# State lives in CP_DIR (APILINK_CLUSTER_DIR, default tests/e2e/.work/cluster, git-ignored):
# certificates, the admin token, data, logs, pid files, kubeconfig and cluster.env.
# Everything listens on 127.0.0.1 only.

CP_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CP_REPO=$(cd "$CP_LIB_DIR/../../.." && pwd)
# shellcheck source=versions.env
. "$CP_LIB_DIR/versions.env"
CP_DIR=${APILINK_CLUSTER_DIR:-$CP_REPO/tests/e2e/.work/cluster}
# Bounded waits, in seconds; override for very slow machines.
CP_ETCD_TIMEOUT=${APILINK_ETCD_TIMEOUT:-30}
CP_READY_TIMEOUT=${APILINK_READY_TIMEOUT:-90}
CP_STOP_TIMEOUT=${APILINK_STOP_TIMEOUT:-20}
# Marks a directory as created by cp_up, so cp_down never deletes anything else.
CP_MARKER=.apilink-cluster

cp_log() { printf '[control-plane] %s\n' "$*" >&2; }
cp_now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
cp_since() { awk -v a="$1" -v b="$(cp_now)" 'BEGIN { printf "%.2f", b - a }'; }

# Prints the last lines of a component's log, the first thing anyone needs on a failure.
cp_log_tail() { # name
  local f="$CP_DIR/logs/$1.log"
  [ -f "$f" ] || return 0
  cp_log "---- last 40 lines of $f ----"
  tail -n 40 "$f" >&2
  cp_log "---- end of $1 log ----"
}

# True when pid is alive and is the process cp_up started (its command line names
# CP_DIR), so a recycled pid is never signalled.
cp_is_ours() { # pid
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CP_DIR/"
}

cp_pid() { # name → pid from its pid file, or nothing
  [ -f "$CP_DIR/$1.pid" ] && cat "$CP_DIR/$1.pid" || true
}

# Sets the variable named $1 to a port nothing listens on now, from a range below
# Linux's ephemeral range so an outgoing connection is unlikely to take it before the
# server binds it. Ports handed out earlier in this shell are skipped: they are not
# listening yet.
cp_free_port() { # variable name
  local tries=0 port
  while [ "$tries" -lt 200 ]; do
    tries=$((tries + 1))
    port=$((20000 + RANDOM % 12000))
    case " ${CP_TAKEN_PORTS:-} " in *" $port "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      CP_TAKEN_PORTS="${CP_TAKEN_PORTS:-} $port"
      printf -v "$1" '%s' "$port"
      return 0
    fi
  done
  cp_log "no free loopback port found after 200 tries"
  return 1
}

# kube-apiserver derives the address it advertises from the default route and refuses
# loopback; a host without a default route needs an explicit non-loopback address.
cp_has_default_route() {
  awk 'NR > 1 && $2 == "00000000" { found = 1 } END { exit !found }' /proc/net/route 2>/dev/null && return 0
  awk '$1 == "00000000000000000000000000000000" && $2 == "00" && $10 != "lo" { found = 1 } END { exit !found }' \
    /proc/net/ipv6_route 2>/dev/null
}

# Only written into the apiserver's own Service endpoints (and not even that with
# --endpoint-reconciler-type=none); nothing ever connects to it. TEST-NET-1 when the
# host has no global IPv4 address at all.
cp_advertise_address() {
  local addr=""
  if command -v ip >/dev/null; then
    addr=$(ip -4 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
  fi
  printf '%s' "${addr:-192.0.2.1}"
}

cp_gen_certs() {
  local pki="$CP_DIR/pki"
  mkdir -p "$pki"
  (
    cd "$pki"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "/CN=apilink-e2e-ca" \
      -keyout ca.key -out ca.crt \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=kube-apiserver" \
      -keyout apiserver.key -out apiserver.csr
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >apiserver.ext
    openssl x509 -req -sha256 -days 30 -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -extfile apiserver.ext -out apiserver.crt
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    # Static token for the cluster admin; random per cluster, readable by the owner only.
    openssl rand -hex 24 >admin.token
    printf '%s,admin,admin-uid,"system:masters"\n' "$(cat admin.token)" >tokens.csv
    printf 'Authorization: Bearer %s\n' "$(cat admin.token)" >admin.header
    chmod 644 ca.crt
  ) 2>"$CP_DIR/logs/openssl.log" || {
    cat "$CP_DIR/logs/openssl.log" >&2
    cp_log "certificate generation failed"
    return 1
  }
}

# Starts a daemon in its own session (so a Ctrl-C in the terminal reaches only the
# script, which then stops the daemons in order) and records its real pid: setsid
# forks when started from a shell with job control, so $! would be the wrong process.
cp_spawn() { # name, binary, args...
  local name=$1; shift
  local pidfile="$CP_DIR/$name.pid" i
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
    </dev/null >"$CP_DIR/logs/$name.log" 2>&1 &
  for i in $(seq 1 50); do
    [ -s "$pidfile" ] && return 0
    sleep 0.1
  done
  cp_log "$name did not start (no pid file after 5 s)"
  cp_log_tail "$name"
  return 1
}

cp_wait_http() { # name, timeout, curl args...
  local name=$1 timeout=$2; shift 2
  local t0 deadline pid
  t0=$(cp_now)
  deadline=$((SECONDS + timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    pid=$(cp_pid "$name")
    if ! cp_is_ours "$pid"; then
      cp_log "$name exited during startup"
      cp_log_tail "$name"
      return 1
    fi
    if curl -fsS --max-time 2 -o /dev/null "$@" 2>/dev/null; then
      cp_log "$name ready after $(cp_since "$t0") s"
      return 0
    fi
    sleep 0.2
  done
  cp_log "$name not ready after $timeout s"
  cp_log_tail "$name"
  return 1
}

cp_start_etcd() {
  local peer
  cp_free_port CP_ETCD_PORT || return 1
  cp_free_port peer || return 1
  # --unsafe-no-fsync: test data is thrown away; fsync would dominate on slow disks.
  cp_spawn etcd "$CP_BIN/etcd" --name=apilink-e2e --data-dir="$CP_DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$CP_ETCD_PORT" \
    --advertise-client-urls="http://127.0.0.1:$CP_ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer" \
    --initial-cluster="apilink-e2e=http://127.0.0.1:$peer" \
    --unsafe-no-fsync --log-level=warn || return 1
  cp_wait_http etcd "$CP_ETCD_TIMEOUT" "http://127.0.0.1:$CP_ETCD_PORT/health"
}

cp_start_apiserver() {
  cp_free_port CP_APISERVER_PORT || return 1
  local pki="$CP_DIR/pki"
  local -a extra=()
  if ! cp_has_default_route; then
    local addr
    addr=$(cp_advertise_address)
    cp_log "no default route: advertising $addr with --endpoint-reconciler-type=none"
    extra+=(--advertise-address="$addr" --endpoint-reconciler-type=none)
  fi
  # No --advertise-address=127.0.0.1: loopback is refused for the kubernetes endpoints.
  # ServiceAccount admission is off because no controller creates default accounts.
  cp_spawn kube-apiserver "$CP_BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$CP_ETCD_PORT" \
    --bind-address=127.0.0.1 --secure-port="$CP_APISERVER_PORT" --cert-dir="$CP_DIR/certs" \
    --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" --token-auth-file="$pki/tokens.csv" \
    --authorization-mode=RBAC --service-cluster-ip-range=10.0.0.0/24 \
    --service-account-issuer="https://127.0.0.1:$CP_APISERVER_PORT" \
    --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true --profiling=false \
    "${extra[@]}" || return 1
  cp_wait_http kube-apiserver "$CP_READY_TIMEOUT" --cacert "$pki/ca.crt" -H "@$pki/admin.header" \
    "https://127.0.0.1:$CP_APISERVER_PORT/readyz"
}

cp_write_kubeconfig() {
  local token
  token=$(cat "$CP_DIR/pki/admin.token")
  (
    umask 077
    cat >"$CP_DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: apilink-e2e
  cluster:
    server: https://127.0.0.1:$CP_APISERVER_PORT
    certificate-authority: $CP_DIR/pki/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: apilink-e2e
  context:
    cluster: apilink-e2e
    user: admin
    namespace: default
current-context: apilink-e2e
EOF
  )
}

cp_write_env() {
  {
    printf '# Written by tests/e2e/control-plane; source it to use the cluster.\n'
    printf 'export KUBECONFIG=%q\n' "$CP_DIR/kubeconfig"
    printf 'export APILINK_CLUSTER_DIR=%q\n' "$CP_DIR"
    printf 'export APILINK_CONTROL_PLANE_BIN=%q\n' "$CP_BIN"
    printf 'export APILINK_APISERVER_URL=%q\n' "https://127.0.0.1:$CP_APISERVER_PORT"
    printf 'export APILINK_APISERVER_PORT=%q\n' "$CP_APISERVER_PORT"
    printf 'export APILINK_APISERVER_PID=%q\n' "$(cp_pid kube-apiserver)"
    printf 'export APILINK_ETCD_URL=%q\n' "http://127.0.0.1:$CP_ETCD_PORT"
    printf 'export APILINK_ETCD_PORT=%q\n' "$CP_ETCD_PORT"
    printf 'export APILINK_ETCD_PID=%q\n' "$(cp_pid etcd)"
    printf 'export APILINK_CA_FILE=%q\n' "$CP_DIR/pki/ca.crt"
    printf 'export APILINK_KUBE_VERSION=%q\n' "$KUBE_VERSION"
  } >"$CP_DIR/cluster.env"
}

# Makes CP_DIR ready for a new cluster: refuses while a cluster runs there, clears a
# stale one, and never touches a directory this library did not create.
cp_prepare_dir() {
  if [ -d "$CP_DIR" ]; then
    if [ ! -f "$CP_DIR/$CP_MARKER" ] && [ -n "$(ls -A "$CP_DIR")" ]; then
      cp_log "$CP_DIR exists and was not created by these scripts; refusing to use it"
      return 1
    fi
    local name
    for name in kube-apiserver etcd; do
      if cp_is_ours "$(cp_pid "$name")"; then
        cp_log "a cluster is already running in $CP_DIR ($name pid $(cp_pid "$name")); run down.sh first"
        return 1
      fi
    done
    rm -rf "$CP_DIR"
  fi
  mkdir -p "$CP_DIR/logs"
  : >"$CP_DIR/$CP_MARKER"
  # From here on CP_DIR belongs to this shell: cp_cleanup may stop and remove it.
  CP_OWNED=1
}

# Builds or reuses the binaries, starts etcd and kube-apiserver, waits for /readyz,
# writes kubeconfig and cluster.env. On failure it prints the logs' tails and returns 1
# with whatever it started still recorded, so the caller's cp_cleanup cleans up.
cp_up() {
  local t0
  t0=$(cp_now)
  CP_BIN=${APILINK_CONTROL_PLANE_BIN:-}
  if [ -z "$CP_BIN" ]; then
    CP_BIN=$("$CP_LIB_DIR/build.sh") || { cp_log "build.sh failed"; return 1; }
  fi
  local b
  for b in etcd kube-apiserver; do
    [ -x "$CP_BIN/$b" ] || { cp_log "$CP_BIN/$b is missing; run build.sh"; return 1; }
  done
  command -v openssl >/dev/null || { cp_log "openssl is required"; return 1; }
  command -v curl >/dev/null || { cp_log "curl is required"; return 1; }
  cp_prepare_dir || return 1
  local t_certs
  t_certs=$(cp_now)
  cp_gen_certs || return 1
  cp_log "certificates and keys in $(cp_since "$t_certs") s"
  cp_start_etcd || return 1
  cp_start_apiserver || return 1
  cp_write_kubeconfig || return 1
  cp_write_env || return 1
  cp_log "control plane up in $(cp_since "$t0") s: https://127.0.0.1:$CP_APISERVER_PORT (etcd :$CP_ETCD_PORT)"
  cp_log "use it with: . $CP_DIR/cluster.env && $CP_BIN/kubectl get --raw /version"
}

cp_stop() { # name: SIGTERM, bounded wait, then SIGKILL
  local name=$1 pid i
  pid=$(cp_pid "$name")
  cp_is_ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < CP_STOP_TIMEOUT * 10; i++)); do
    cp_is_ours "$pid" || { cp_log "stopped $name (pid $pid)"; return 0; }
    sleep 0.1
  done
  cp_log "$name (pid $pid) ignored SIGTERM for $CP_STOP_TIMEOUT s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    cp_is_ours "$pid" || return 0
    sleep 0.1
  done
  cp_log "$name (pid $pid) is still running after SIGKILL"
  return 1
}

# For traps: stops and removes the cluster only if this shell's cp_up created it, so a
# failed start (e.g. "already running") never takes down someone else's cluster.
cp_cleanup() {
  [ "${CP_OWNED:-0}" = 1 ] || return 0
  cp_down
}

# Stops the apiserver first (it would otherwise spin retrying a dead etcd), then etcd,
# and removes CP_DIR. Safe to call more than once and when nothing was started.
# APILINK_KEEP_CLUSTER_DIR=1 keeps the directory (logs) for a post-mortem.
cp_down() {
  local rc=0
  [ -d "$CP_DIR" ] || return 0
  cp_stop kube-apiserver || rc=1
  cp_stop etcd || rc=1
  if [ "$rc" -eq 0 ] && [ -f "$CP_DIR/$CP_MARKER" ] && [ "${APILINK_KEEP_CLUSTER_DIR:-0}" != 1 ]; then
    rm -rf "$CP_DIR"
  fi
  return "$rc"
}
