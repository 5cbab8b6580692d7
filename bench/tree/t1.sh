#!/usr/bin/env bash
# T1: the workload tree of a namespace with 500 workloads (kwok pods), listed with
# `nh get -o json` (nh_tree_list: one list per kind, pods, session records) against
# `kubectl get` of the same kinds in one call; then `nh get -w` (nh_tree_watch) kept
# live and idle for IDLE seconds, its CPU measured from /proc.
#   bench/tree/t1.sh [RUNS] [WORKLOADS] [IDLE]   (needs the test cluster: scripts/test-cluster up)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="${1:-5}"
N="${2:-500}"
IDLE="${3:-60}"
NH="${NH:-$ROOT/build/tools/nh/nh}"
# The cluster of this tree, unless the environment names one already.
# shellcheck disable=SC1090
[[ -n "${NH_TEST_KUBECONFIG:-}" ]] || source <("$ROOT/scripts/test-cluster" env)
KC="$NH_TEST_KUBECONFIG"
NS=nh-bench-t1
kc() { kubectl --kubeconfig "$KC" --request-timeout=120s "$@"; }
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

kc delete namespace "$NS" --ignore-not-found --wait=true >/dev/null 2>&1 || true
kc create namespace "$NS" >/dev/null
trap 'kc delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
# N workloads: Deployments with 1 replica (their ReplicaSets and pods come with them), a tenth of
# them StatefulSets, every application annotation set as Nocalhost installs them.
manifest=$(mktemp)
for i in $(seq "$N"); do
  kind=Deployment extra=""
  if (( i % 10 == 0 )); then kind=StatefulSet extra="  serviceName: w$i"$'\n'; fi
  cat >>"$manifest" <<YAML
---
apiVersion: apps/v1
kind: $kind
metadata: {name: w$i, namespace: $NS, annotations: {dev.nocalhost/application-name: app$((i % 7))}}
spec:
${extra}  replicas: 1
  selector: {matchLabels: {app: w$i}}
  template:
    metadata: {labels: {app: w$i}}
    spec:
      containers: [{name: app, image: registry.example/app:1.0}]
YAML
done
kc apply --server-side -f "$manifest" >/dev/null
rm -f "$manifest"
# Wait until every workload has its pod.
for _ in $(seq 300); do
  pods=$(kc -n "$NS" get pods --no-headers 2>/dev/null | wc -l)
  (( pods >= N )) && break
  sleep 2
done
echo "namespace $NS: $N workloads, $pods pods" >&2

ours=() theirs=()
for _ in $(seq "$RUNS"); do
  t0=$(now_ms)
  entries=$("$NH" --kubeconfig "$KC" -n "$NS" get -o json | grep -c '"kind": "\(Deployment\|StatefulSet\)"' || true)
  ours+=($(( $(now_ms) - t0 )))
  t0=$(now_ms)
  kc -n "$NS" get deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs,pods,secrets -o json >/dev/null
  theirs+=($(( $(now_ms) - t0 )))
done
(( entries == N )) || { echo "nh get listed $entries workloads, not $N" >&2; exit 1; }

# The watch, idle: CPU ticks of `nh get -w` over IDLE seconds after its first list.
out=$(mktemp)
"$NH" --kubeconfig "$KC" -n "$NS" get -w -o name >"$out" &
pid=$!
for _ in $(seq 600); do [[ $(wc -l <"$out") -ge $N ]] && break; sleep 0.1; done
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks)
sleep "$IDLE"
t1=$(ticks)
rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
kill -INT "$pid"; wait "$pid" || true
rm -f "$out"
hz=$(getconf CLK_TCK)
cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v s="$IDLE" 'BEGIN {printf "%.2f", 100 * d / hz / s}')

m_ours=$(printf '%s\n' "${ours[@]}" | median)
m_theirs=$(printf '%s\n' "${theirs[@]}" | median)
echo
echo "| # | figure | ours | peer | peer | peer ÷ ours |"
echo "|---|---|---|---|---|---|"
echo "| T1 | tree of $N workloads ($pods pods), \`nh get -o json\` wall time, median of $RUNS | ${m_ours} ms | \`kubectl get\` of the same 8 collections | ${m_theirs} ms | $(awk -v a="$m_theirs" -v b="$m_ours" 'BEGIN {printf "%.2f", a / b}')× |"
echo "| T1 | \`nh get -w\` kept live, idle ${IDLE} s (one watch per kind) | ${cpu} % CPU, $((rss / 1024)) MB RSS | — | — | — |"
