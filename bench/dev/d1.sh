#!/usr/bin/env bash
# D1 (BENCHMARKS.md): dev start to "ready" on the test cluster, against the
# cluster's own rollout of the same change done with kubectl, in one run.
#   bench/dev/d1.sh [RUNS]     (needs the test cluster: scripts/test-cluster up)
# Prints a table with the median wall time of each and the ratio, and the
# API requests our start and end made.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="${1:-5}"
NH="${NH:-$ROOT/build/tools/nh/nh}"
# shellcheck disable=SC1090
source <("$ROOT/scripts/test-cluster" env)
KC="$NH_TEST_KUBECONFIG"
NS=nh-bench-d1
kc() { kubectl --kubeconfig "$KC" --request-timeout=60s "$@"; }
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

kc delete namespace "$NS" --ignore-not-found --wait=true >/dev/null 2>&1 || true
kc create namespace "$NS" >/dev/null
trap 'kc delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
deploy() {
  kc apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: $NS}
spec:
  replicas: 3
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers: [{name: app, image: registry.example/app:1.0}]
YAML
  kc -n "$NS" rollout status "deployment/$1" --timeout=120s >/dev/null
}

ours=() theirs=() ends=() reqs_start=() reqs_end=()
for i in $(seq "$RUNS"); do
  deploy "k$i"
  t0=$(now_ms)
  kc -n "$NS" set image "deployment/k$i" app=registry.example/dev:latest >/dev/null
  kc -n "$NS" rollout status "deployment/k$i" --timeout=120s >/dev/null
  theirs+=($(( $(now_ms) - t0 )))

  deploy "n$i"
  t0=$(now_ms)
  out=$(NH_LOG=debug "$NH" --kubeconfig "$KC" -n "$NS" dev start "deployment/n$i" --image registry.example/dev:latest 2>&1)
  ours+=($(( $(now_ms) - t0 )))
  reqs_start+=($(grep -cE '^nocalhost debug: (GET|POST|PUT|PATCH|DELETE) ' <<<"$out" || true))
  t0=$(now_ms)
  out=$(NH_LOG=debug "$NH" --kubeconfig "$KC" -n "$NS" dev end "deployment/n$i" 2>&1)
  ends+=($(( $(now_ms) - t0 )))
  reqs_end+=($(grep -cE '^nocalhost debug: (GET|POST|PUT|PATCH|DELETE) ' <<<"$out" || true))
done

m_ours=$(printf '%s\n' "${ours[@]}" | median)
m_theirs=$(printf '%s\n' "${theirs[@]}" | median)
m_end=$(printf '%s\n' "${ends[@]}" | median)
echo
echo "D1 dev start to ready, Deployment with 3 replicas ($RUNS runs, medians; $(date -u +%F), $(nproc) cores)"
echo
echo "| figure | ours | kubectl set image + rollout status | ratio (ours / kubectl) |"
echo "|---|---|---|---|"
printf '| dev start until the dev pod is Ready | %s ms | %s ms | %.2f |\n' "$m_ours" "$m_theirs" "$(echo "$m_ours / $m_theirs" | bc -l)"
printf '| dev end (restore in place) | %s ms | - | - |\n' "$m_end"
printf '| API requests: start / end | %s / %s | - | - |\n' "$(printf '%s\n' "${reqs_start[@]}" | median)" "$(printf '%s\n' "${reqs_end[@]}" | median)"
