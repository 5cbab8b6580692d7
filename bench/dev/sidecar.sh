#!/usr/bin/env bash
# The sync sidecar without an image of ours against a preloaded sidecar image, on the test
# cluster's real node: `nh dev start --local-dir` until its first full sync ("files synced"),
# with the default sidecar (the dev image's shell; nhsyncd uploaded through exec) and with
# --sidecar-image (the test sidecar image, already in the node's containerd).
#   bench/dev/sidecar.sh [RUNS]   (the test cluster with its real node; its env sourced, or
#                                  scripts/test-cluster env of this tree is used)
# Prints the median wall time of each, the upload's bytes and time as the library reports them
# (phase "upload"), and the time of the image check that runs before anything changes (phase
# "image").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUNS="${1:-3}"
NH="${NH:-$ROOT/build/tools/nh/nh}"
if [[ -z "${NH_TEST_KUBECONFIG:-}" ]]; then
  # shellcheck disable=SC1090
  source <("$ROOT/scripts/test-cluster" env)
fi
: "${NH_TEST_REAL_NODE:?the test cluster has no real node (scripts/test-cluster up --real-node)}"
KC="$NH_TEST_KUBECONFIG"
NS="nh-bench-sidecar-$$"
WORK="$(mktemp -d)"
kc() { kubectl --kubeconfig "$KC" --request-timeout=60s "$@"; }
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

kc create namespace "$NS" >/dev/null
trap 'kc delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/src"
for i in $(seq 20); do head -c 4096 /dev/urandom > "$WORK/src/file$i"; done

deploy() {
  kc apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1, namespace: $NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      nodeSelector: {$NH_TEST_REAL_TAINT: "true"}
      tolerations: [{key: $NH_TEST_REAL_TAINT, operator: Exists, effect: NoSchedule}]
      terminationGracePeriodSeconds: 1
      containers: [{name: app, image: $NH_TEST_IMAGE_APP}]
YAML
  kc -n "$NS" rollout status "deployment/$1" --timeout=120s >/dev/null
}

# start NAME [FLAGS...]: ms from `nh dev start` to its first full sync; the log in $WORK/NAME.log.
start() {
  local name="$1" log="$WORK/$1.log" t0 pid
  shift
  : >"$log"
  t0=$(now_ms)
  "$NH" --kubeconfig "$KC" -n "$NS" dev start "deployment/$name" --image "$NH_TEST_IMAGE_DEV" \
    --local-dir "$WORK/src" --timeout 3m "$@" >"$log" 2>&1 &
  pid=$!
  while ! grep -q "files synced" "$log"; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "dev start of $name failed" >&2; exit 1; }
    sleep 0.05
  done
  echo $(( $(now_ms) - t0 ))
  kill -INT "$pid"
  wait "$pid" || true
  "$NH" --kubeconfig "$KC" -n "$NS" dev end "deployment/$name" >/dev/null 2>&1
}

upload=() image=() bytes="" secs=() checks=()
for i in $(seq "$RUNS"); do
  deploy "u$i"
  upload+=("$(start "u$i")")
  line="$(tr '\r' '\n' < "$WORK/u$i.log" | grep -o 'uploaded [0-9]* bytes in [0-9.]* s' | tail -n1)"
  bytes="$(awk '{print $2}' <<<"$line")"
  secs+=("$(awk '{print $5}' <<<"$line")")
  checks+=("$(tr '\r' '\n' < "$WORK/u$i.log" | grep -o 'pulled and started .* in [0-9.]* s' | tail -n1 | awk '{print $(NF-1)}')")
  deploy "i$i"
  image+=("$(start "i$i" --sidecar-image "$NH_TEST_IMAGE_SIDECAR")")
done

printf '\n%-40s %10s\n' "dev start --local-dir to first sync" "median ms"
printf '%-40s %10s\n' "default sidecar (nhsyncd uploaded)" "$(printf '%s\n' "${upload[@]}" | median)"
printf '%-40s %10s\n' "preloaded sidecar image" "$(printf '%s\n' "${image[@]}" | median)"
printf 'upload: %s bytes, median %s s (runs: %s)\n' "$bytes" "$(printf '%s\n' "${secs[@]}" | median)" "${secs[*]}"
printf 'image check before the start: median %s s (runs: %s)\n' "$(printf '%s\n' "${checks[@]}" | median)" "${checks[*]}"
printf 'runs: upload %s ms; image %s ms\n' "${upload[*]}" "${image[*]}"
