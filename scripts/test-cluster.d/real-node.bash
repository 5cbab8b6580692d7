# The real node of the test cluster, sourced by scripts/test-cluster: a kubelet
# built from the control plane's module and version, Debian's containerd, runc
# and CNI plugins, and images built locally by scripts/images/build. It runs
# real containers beside kwok's simulated node, tainted so that only the tests
# that tolerate the taint land on it. See docs/test-cluster.md, "The real node".
#
# The kubelet and its runtime change the machine (sysctls, nftables rules, a
# bridge, veths, mounts, cgroups, a few directories): real_node_up records
# the machine's state first, real_node_down puts every piece of it back and
# compares the result with the record.
# shellcheck shell=bash

REAL="$STATE/real"
REAL_TAINT_KEY="nh.test/real-node"
REAL_BRIDGE="nhbr0"
REAL_SUBNET="10.244.77.0/24"
CTR_SOCK="$REAL/containerd/containerd.sock"
# Directories outside the state dir that the kubelet or containerd create with
# fixed paths; removed on down when they did not exist before.
REAL_FIXED_PATHS=(/var/lib/kubelet /var/lib/cni /var/log/pods /var/log/containers /run/containerd
                  /opt/containerd /etc/cni /opt/cni /run/netns)

real_node_name() { hostname | tr '[:upper:]' '[:lower:]'; }

real_ctr() { ctr --address "$CTR_SOCK" -n k8s.io "$@"; }

# --- the machine's state ------------------------------------------------------

# A ruleset as it compares: without the values that move on their own (packet
# and byte counters, quota use, set elements' remaining time) and with runs of
# spaces made one (rules added by iptables-nft list with two spaces where the
# same rule loaded by nft lists one).
nft_comparable() {
  sed -E -e 's/counter packets [0-9]+ bytes [0-9]+/counter/g' \
         -e 's/ used [0-9]+ bytes//g' -e 's/ expires [0-9hms.]+//g' -e 's/ {2,}/ /g' -e 's/ +$//'
}

# Everything the real node may change, one file per kind, into DIR. Values
# that move on their own (entropy, counters, the last pid) are left out.
machine_snapshot() {
  local d="$1"
  mkdir -p "$d"
  sysctl -a 2>/dev/null | grep -v -E '^(kernel\.random\.|kernel\.ns_last_pid|kernel\.pty\.nr|fs\.(dentry-state|inode-nr|inode-state|file-nr|aio-nr)|net\.netfilter\.nf_conntrack_count|kernel\.sched_|fs\.quota\.|net\.ipv[46]\.conf\.(veth|cni|'"$REAL_BRIDGE"')|net\.ipv[46]\.neigh\.(veth|cni|'"$REAL_BRIDGE"')|.*stable_secret)' \
    | LC_ALL=C sort > "$d/sysctl"
  nft list ruleset 2>/dev/null | nft_comparable > "$d/nft" || true
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | LC_ALL=C sort > "$d/links"
  { ip -o addr show; ip route show; ip -6 route show; } | sed 's/ *valid_lft.*//' | LC_ALL=C sort > "$d/addresses"
  awk '{print $5, $9}' /proc/self/mountinfo | LC_ALL=C sort > "$d/mounts"
  # Cgroups: those of the kubelet and containerd (the machine's own come and go).
  find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | grep -E '/(kubepods|k8s\.io)(/|$)' | LC_ALL=C sort > "$d/cgroups" || true
  local p
  for p in "${REAL_FIXED_PATHS[@]}"; do if [[ -e "$p" ]]; then echo "$p"; fi; done > "$d/paths"
  if [[ -r /proc/modules ]]; then awk '{print $1}' /proc/modules | LC_ALL=C sort; fi > "$d/modules"
}

# Differences between two snapshots (empty when the machine is as it was).
machine_diff() { diff -r "$1" "$2" 2>&1 || true; }

# --- the container runtime ----------------------------------------------------

write_containerd_config() {
  local pause_ref="$1"
  mkdir -p "$REAL/containerd/root" "$REAL/containerd/state" "$REAL/cni/net.d" "$REAL/cni/ipam" "$REAL/logs"
  cat > "$REAL/containerd/config.toml" <<TOML
# Written by scripts/test-cluster for the real node. Nothing under /var/lib,
# /run or /opt: root, state, sockets, runc's state and CNI data are all here.
version = 2
root = "$REAL/containerd/root"
state = "$REAL/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$REAL/containerd/containerd.sock.ttrpc"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$REAL/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_ref"
  # This VM lacks CAP_SYS_RESOURCE: without it runc fails with
  # "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$REAL/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$REAL/cni/net.d"
    max_conf_num = 1
TOML
  # A bridge with host-local addresses; no masquerading and no host ports, so
  # the plugins add no firewall rules. The host is the pods' gateway (the
  # kubelet's probes reach the pod addresses through it).
  cat > "$REAL/cni/net.d/10-nh-real.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "nh-real",
  "plugins": [
    {"type": "bridge", "bridge": "$REAL_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$REAL/cni/ipam", "ranges": [[{"subnet": "$REAL_SUBNET"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "loopback"}
  ]
}
JSON
}

start_daemon() { # start_daemon NAME LOG CMD...: detached, its pid in $REAL/NAME.pid
  local name="$1" logf="$2"; shift 2
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$HOME" LANG=C.UTF-8 \
    setsid "$@" </dev/null >>"$logf" 2>&1 9>&- &
  echo $! > "$REAL/$name.pid"
}

daemon_alive() { # daemon_alive NAME
  local p
  p="$(cat "$REAL/$1.pid" 2>/dev/null)" || return 1
  [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null && [[ "$(cat "/proc/$p/stat" 2>/dev/null | awk '{print $3}')" != Z ]]
}

stop_daemon() { # stop_daemon NAME: TERM, KILL after 10 s
  local p
  p="$(cat "$REAL/$1.pid" 2>/dev/null)" || return 0
  [[ -n "$p" ]] || return 0
  kill -TERM "$p" 2>/dev/null || { rm -f "$REAL/$1.pid"; return 0; }
  local deadline=$(( $(now_s) + 10 ))
  while kill -0 "$p" 2>/dev/null && (( $(now_s) < deadline )); do sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  rm -f "$REAL/$1.pid"
}

containerd_ready() { real_ctr version >/dev/null 2>&1; }

# --- the kubelet --------------------------------------------------------------

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A client certificate for system:node:NAME in group system:nodes, signed by
# the cluster CA, so the Node authorizer and NodeRestriction see a real node.
write_kubelet_kubeconfig() {
  local node="$1" tmp
  tmp="$(mktemp -d)"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/csr.pem" \
    -subj "/O=system:nodes/CN=system:node:$node" 2>/dev/null
  printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' > "$tmp/ext"
  openssl x509 -req -in "$tmp/csr.pem" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -CAserial "$tmp/ca.srl" -days 7 -sha256 -extfile "$tmp/ext" -out "$tmp/cert.pem" 2>/dev/null
  SERVER="$(server_url)"
  kubeconfig_with "system:node:$node" <<YAML | write_atomic "$REAL/kubelet.kubeconfig" 600
    client-certificate-data: $(b64 "$tmp/cert.pem")
    client-key-data: $(b64 "$tmp/key.pem")
YAML
  rm -rf "$tmp"
}

write_kubelet_config() {
  local port="$1" healthz="$2"
  mkdir -p "$REAL/kubelet/root" "$REAL/kubelet/pki" "$REAL/pod-logs"
  cat > "$REAL/kubelet/config.yaml" <<YAML
# Written by scripts/test-cluster for the real node.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CTR_SOCK
# The node name resolves to 127.0.0.1, which is where the API server dials it
# for exec, logs and port-forward.
address: 127.0.0.1
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz
# kwokctl starts the API server without --kubelet-client-certificate, so its
# exec, logs and port-forward requests come anonymous: allowed, on loopback
# only (as kwok's own kubelet port is).
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: AlwaysAllow
# This machine has a cgroup v1 hierarchy and no systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
podLogsDir: $REAL/pod-logs
registerWithTaints:
- {key: $REAL_TAINT_KEY, value: "true", effect: NoSchedule}
# A test machine, not a production node: evict only when nearly out of
# everything, never collect the local images (no registry to pull them back).
evictionHard: {memory.available: "20Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
YAML
}

# The node's Lease, held by the node itself, created before the kubelet
# starts, so that nothing else takes the node for one whose lease lapsed (kwok
# itself manages only the annotated fake node).
claim_node_lease() {
  local node="$1"
  kc apply -f - >&2 <<YAML
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: $node
  namespace: kube-node-lease
spec:
  holderIdentity: $node
  leaseDurationSeconds: 40
  renewTime: "$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"
YAML
}

real_node_ready() {
  local node
  node="$(cat "$REAL/node-name" 2>/dev/null)" || return 1
  [[ "$(kubectl --kubeconfig "$ADMIN_KUBECONFIG" --request-timeout=5s get node "$node" \
      -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == "True" ]]
}

real_node_healthy() {
  [[ -f "$REAL/node-name" && -f "$REAL/checked" ]] && daemon_alive containerd && daemon_alive kubelet && real_node_ready
}

# A pod of the app image on the real node: scheduled there, Running, Ready
# through its readiness probe, and exec works through the API server.
real_node_smoke() {
  local node="$1" app="$2" out
  log "real node smoke test: a pod of the app image gets Ready on $node and answers exec"
  kc -n "$FIXTURES_NS" delete pod nh-real-smoke --ignore-not-found --grace-period=1 >&2
  kc -n "$FIXTURES_NS" apply -f - >&2 <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: nh-real-smoke
spec:
  nodeSelector: {$REAL_TAINT_KEY: "true"}
  tolerations: [{key: $REAL_TAINT_KEY, operator: Exists, effect: NoSchedule}]
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: $app
    imagePullPolicy: Never
    readinessProbe:
      httpGet: {path: /healthz, port: 8080}
      periodSeconds: 1
YAML
  kc -n "$FIXTURES_NS" wait --for=condition=Ready pod/nh-real-smoke --timeout=120s >&2 \
    || { kc -n "$FIXTURES_NS" describe pod nh-real-smoke >&2; die "the smoke pod did not get Ready on the real node"; }
  out="$(kc -n "$FIXTURES_NS" exec nh-real-smoke -- cat /www/healthz)"
  [[ "$out" == ok ]] || die "exec in the smoke pod gave '$out'"
  kc -n "$FIXTURES_NS" delete pod nh-real-smoke --grace-period=1 --wait=false >&2
}

real_node_up() {
  local t0 bin node
  t0="$(now_s)"
  if real_node_healthy; then
    log "real node $(cat "$REAL/node-name") is already up"
    # Images of a changed tree (a new nhsyncd, say) get new keys: build and import what is missing.
    "$ROOT/scripts/images/build" --import "$CTR_SOCK" > "$REAL/images.new" || die "importing the images failed"
    mv "$REAL/images.new" "$REAL/images"
    return 0
  fi
  real_node_down
  for c in containerd runc ctr nft; do command -v "$c" >/dev/null || die "$c is missing: run scripts/setup"; done
  [[ -x /usr/lib/cni/bridge ]] || die "the CNI plugins are missing (containernetworking-plugins): run scripts/setup"
  node="$(real_node_name)"
  [[ "$(getent hosts "$node")" == 127.* ]] \
    || die "the host name '$node' must resolve to a loopback address (the API server dials the node by name)"
  bin="$("$ROOT/scripts/build-control-plane" kubelet | tail -n1)"
  [[ -x "$bin/kubelet" ]] || die "build-control-plane did not build the kubelet"

  mkdir -p "$REAL"
  machine_snapshot "$REAL/machine-before"
  nft list ruleset > "$REAL/nft-before.rules" 2>/dev/null || true
  echo "$node" > "$REAL/node-name"

  local images
  images="$("$ROOT/scripts/images/build")" || die "building the images failed"
  local pause_ref
  pause_ref="$(awk '$1=="pause"{print $2}' <<<"$images")"
  write_containerd_config "$pause_ref"
  log "starting containerd (socket $CTR_SOCK)"
  start_daemon containerd "$REAL/logs/containerd.log" containerd --config "$REAL/containerd/config.toml"
  wait_for 30 "containerd" containerd_ready
  "$ROOT/scripts/images/build" --import "$CTR_SOCK" > "$REAL/images" || die "importing the images failed"
  log "containerd up, images imported ($(( $(now_s) - t0 )) s)"

  write_kubelet_kubeconfig "$node"
  write_kubelet_config "$(free_port)" "$(free_port)"
  claim_node_lease "$node"
  log "starting the kubelet (node $node)"
  start_daemon kubelet "$REAL/logs/kubelet.log" "$bin/kubelet" \
    --config "$REAL/kubelet/config.yaml" --kubeconfig "$REAL/kubelet.kubeconfig" \
    --root-dir "$REAL/kubelet/root" --cert-dir "$REAL/kubelet/pki" \
    --hostname-override "$node" --node-labels "$REAL_TAINT_KEY=true,type=real" --v=1
  wait_for 120 "the real node $node to be Ready (log: $REAL/logs/kubelet.log)" real_node_ready
  log "node $node Ready ($(( $(now_s) - t0 )) s)"
  real_node_smoke "$node" "$(awk '$1=="app"{print $2}' "$REAL/images")"
  touch "$REAL/checked"
  log "real node $node ready in $(( $(now_s) - t0 )) s"
}

# `export` lines for the tests, appended to the cluster's env file.
real_node_env() {
  [[ -f "$REAL/node-name" && -f "$REAL/images" ]] || return 0
  printf 'export %s=%q\n' NH_TEST_REAL_NODE "$(cat "$REAL/node-name")" NH_TEST_REAL_TAINT "$REAL_TAINT_KEY" \
    NH_TEST_CONTAINERD_ADDRESS "$CTR_SOCK"
  local name ref _
  while read -r name ref _; do
    printf 'export %s=%q\n' "NH_TEST_IMAGE_$(tr '[:lower:]' '[:upper:]' <<<"$name")" "$ref"
  done < "$REAL/images"
}

# --- taking it down -----------------------------------------------------------

# The node's cgroups made since BEFORE: the kubelet's (cgroupfs driver) are
# all under "kubepods" in each hierarchy, containers run by hand with ctr
# under "k8s.io" (the namespace).
new_node_cgroups() {
  find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | LC_ALL=C sort | comm -13 "$1" - | grep -E '/(kubepods|k8s\.io)(/|$)' || true
}

# Processes in cgroups the node created (containers whose shim is gone).
kill_new_cgroup_procs() {
  local d p
  while read -r d; do
    [[ -f "$d/cgroup.procs" ]] || continue
    while read -r p; do [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null; done < "$d/cgroup.procs"
  done < <(new_node_cgroups "$1")
}

real_node_down() {
  [[ -d "$REAL" ]] || return 0
  local before="$REAL/machine-before" after
  log "taking down the real node"
  stop_daemon kubelet
  if daemon_alive containerd; then
    # Stop every container through its shim, which unmounts its root file system.
    local id
    for id in $(real_ctr tasks ls -q 2>/dev/null); do real_ctr tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    for id in $(real_ctr tasks ls -q 2>/dev/null); do
      real_ctr tasks delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  stop_daemon containerd
  local p
  for p in $(pgrep -f -- "containerd-shim-runc-v2 .*-address $CTR_SOCK" || true); do kill -KILL "$p" 2>/dev/null || true; done
  if [[ -d "$before" ]]; then
    kill_new_cgroup_procs "$before/cgroups"
    sleep 0.2
    # Mounts made since (container root file systems, volumes, network
    # namespaces, shm), deepest first.
    local m
    while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cannot unmount $m"
    done < <(awk '{print $5}' /proc/self/mountinfo | LC_ALL=C sort -u | comm -13 <(awk '{print $1}' "$before/mounts" | LC_ALL=C sort -u) - \
             | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)
    # Interfaces (the bridge; veths go with their network namespaces).
    local l
    while read -r l; do
      [[ -n "$l" ]] && ip link delete "$l" 2>/dev/null
    done < <(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | LC_ALL=C sort | comm -13 "$before/links" -)
    # Firewall rules: when they changed, the whole ruleset as it was, in one
    # transaction (a ruleset that fails to load leaves the current one).
    if ! nft list ruleset 2>/dev/null | nft_comparable | cmp -s - "$before/nft"; then
      if [[ -f "$REAL/nft-before.rules" ]]; then
        { echo "flush ruleset"; cat "$REAL/nft-before.rules"; } | nft -f - \
          || log "cannot restore the nftables ruleset from $REAL/nft-before.rules"
      else
        log "the nftables ruleset changed and no copy of it as it was is left ($REAL/nft-before.rules): not touching it"
      fi
    fi
    # Kernel parameters whose value changed.
    local key val line
    while IFS= read -r line; do
      key="${line%% = *}"; val="${line#* = }"
      sysctl -q -w "$key=$val" >/dev/null 2>&1 || log "cannot restore sysctl $key"
    done < <(sysctl -a 2>/dev/null | LC_ALL=C sort | comm -23 "$before/sysctl" - | grep -v -E '^(kernel\.random\.|net\.ipv[46]\.(conf|neigh)\.(veth|cni|'"$REAL_BRIDGE"'))')
    # Cgroups the node made, deepest first.
    new_node_cgroups "$before/cgroups" | awk '{print length, $0}' | sort -rn | cut -d' ' -f2- | while read -r d; do rmdir "$d" 2>/dev/null || true; done
    local f
    for f in "${REAL_FIXED_PATHS[@]}"; do
      [[ -e "$f" ]] && ! grep -qxF "$f" "$before/paths" && rm -rf "$f"
    done
    after="$(mktemp -d)"
    machine_snapshot "$after"
    local d
    d="$(machine_diff "$before" "$after")"
    rm -rf "$after"
    if [[ -n "$d" ]]; then
      echo "$d" > "$STATE/real-node-restore.diff"
      log "the machine is not as the real node found it ($STATE/real-node-restore.diff):"
      echo "$d" >&2
    else
      rm -f "$STATE/real-node-restore.diff"
    fi
  fi
  if grep -qF " $REAL/" <(awk '{print " " $5}' /proc/self/mountinfo); then
    die "mounts are left under $REAL; not removing it"
  fi
  rm -rf "$REAL"
  [[ ! -s "$STATE/real-node-restore.diff" ]] || return 1
  log "real node down; the machine is as it was"
}

# `down --real-node`: the real node goes, its Node object too; the cluster stays.
real_node_down_only() {
  local node rc=0
  node="$(cat "$REAL/node-name" 2>/dev/null || true)"
  real_node_down || rc=$?
  if [[ -n "$node" && -f "$ADMIN_KUBECONFIG" ]]; then
    kc delete node "$node" --ignore-not-found >&2 || true
    kc -n kube-node-lease delete lease "$node" --ignore-not-found >&2 || true
  fi
  if [[ -f "$ENV_FILE" ]]; then
    grep -v -E '^export (NH_TEST_REAL_|NH_TEST_IMAGE_|NH_TEST_CONTAINERD_)' "$ENV_FILE" | write_atomic "$ENV_FILE" 644
  fi
  return "$rc"
}
