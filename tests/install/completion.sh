#!/usr/bin/env bash
# `nh completion bash|zsh|fish` as a user loads it: bash completes through the function the
# script registers (complete -p nh), fish through `complete -C`, zsh's script parses; commands,
# flags, namespaces and workload names of the test cluster come back.
#   completion.sh NH
# Needs the test cluster ($NH_TEST_KUBECONFIG; NH_SKIP_CLUSTER_TESTS=1 leaves the cluster's
# names out) and kubectl.
set -euo pipefail
nh=$1
work=$(mktemp -d)
ns=""
cleanup() {
  [[ -n "$ns" ]] && kubectl --kubeconfig "$NH_TEST_KUBECONFIG" delete namespace "$ns" --wait=false >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# A directory on PATH holding nh, as the user's shell finds it.
mkdir -p "$work/bin"
ln -s "$(readlink -f "$nh")" "$work/bin/nh"
export PATH="$work/bin:$PATH"

"$nh" completion bash >"$work/nh.bash"
"$nh" completion zsh >"$work/_nh"
"$nh" completion fish >"$work/nh.fish"
if "$nh" completion tcsh >/dev/null 2>"$work/err"; then fail "nh completion tcsh succeeded"; fi
grep -q "tcsh" "$work/err" || fail "nh completion tcsh: no error naming the shell: $(cat "$work/err")"
# Hidden from the help, as kubectl's __complete is.
"$nh" --help | grep -q completion || fail "nh --help does not list completion"
if "$nh" --help | grep -q __complete; then fail "nh --help lists __complete"; fi

# bash: what TAB at the end of LINE offers (the function `complete -p nh` names, called with
# COMP_* set as bash sets them), one candidate a line.
bash_complete() {
  bash --norc --noprofile -c '
    source "$1"
    spec=$(complete -p nh) || exit 1
    [[ $spec == *"-F __nh_complete"* ]] || { echo "no function: $spec" >&2; exit 1; }
    COMP_LINE=$2 COMP_POINT=${#2}
    # bash splits words at COMP_WORDBREAKS (=, :, ...); enough of that for these lines.
    read -ra COMP_WORDS <<<"${2//=/ = }"
    [[ $2 == *" " || $2 == *= ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    __nh_complete
    printf "%s\n" "${COMPREPLY[@]}"' _ "$work/nh.bash" "$1"
}
expect() {  # expect WHAT OUTPUT WORD...: every WORD is a line of OUTPUT
  local what=$1 out=$2 w
  shift 2
  for w in "$@"; do grep -qxF -- "$w" <<<"$out" || fail "$what: no '$w' in: $(tr '\n' ' ' <<<"$out")"; done
}
expect_not() {
  local what=$1 out=$2 w
  shift 2
  for w in "$@"; do if grep -qxF -- "$w" <<<"$out"; then fail "$what: '$w' offered"; fi; done
}

out=$(bash_complete "nh ")
expect "nh <TAB>" "$out" dev exec terminal port-forward sync version completion help
expect_not "nh <TAB>" "$out" __complete
out=$(bash_complete "nh de")
[[ "$out" == "dev" ]] || fail "nh de<TAB>: '$out'"
out=$(bash_complete "nh dev ")
expect "nh dev <TAB>" "$out" start end status list run
# A flag takes no value: what follows it is completed as usual.
out=$(bash_complete "nh -v de")
[[ "$out" == "dev" ]] || fail "nh -v de<TAB>: '$out'"
out=$(bash_complete "nh dev end --force deploy")
[[ "$out" == "deployment/" ]] || fail "nh dev end --force deploy<TAB>: '$out'"
out=$(bash_complete "nh dev start --ima")
[[ "$out" == "--image" ]] || fail "nh dev start --ima<TAB>: '$out'"
out=$(bash_complete "nh dev start --")
expect "nh dev start --<TAB>" "$out" --image --local-dir --kubeconfig --namespace --help
# Values an argument or flag is checked against.
out=$(bash_complete "nh completion ")
expect "nh completion <TAB>" "$out" bash zsh fish
out=$(bash_complete "nh dev status -o ")
expect "nh dev status -o <TAB>" "$out" json yaml
out=$(bash_complete "nh dev status --output=y")
[[ "$out" == "yaml" ]] || fail "nh dev status --output=y<TAB>: '$out'"
out=$(bash_complete "nh exec ")
expect "nh exec <TAB>" "$out" deployment/ statefulset/ pod/
out=$(bash_complete "nh dev start st")
[[ "$out" == "statefulset/" ]] || fail "nh dev start st<TAB>: '$out'"

# fish completes through the same helper.
fish_complete() { fish --no-config -c "source $work/nh.fish; complete -C '$1'"; }
out=$(fish_complete "nh dev st" | cut -f1)
expect "fish: nh dev st<TAB>" "$out" start status
# zsh: the script parses (zsh has no way to drive completion without a terminal).
zsh -n "$work/_nh" || fail "zsh rejects the completion script"

if [[ -z "${NH_TEST_KUBECONFIG:-}" ]]; then
  [[ "${NH_SKIP_CLUSTER_TESTS:-}" == 1 ]] && { echo "completion: commands and flags ok (cluster names left out)"; exit 0; }
  fail "NH_TEST_KUBECONFIG is not set: source <(scripts/test-cluster env), or set NH_SKIP_CLUSTER_TESTS=1"
fi
kc=$NH_TEST_KUBECONFIG
ns="nh-completion-$$-$RANDOM"
k() { kubectl --kubeconfig "$kc" "$@"; }
k create namespace "$ns" >/dev/null
for d in web-one web-two api; do
  k -n "$ns" create deployment "$d" --image "${NH_TEST_IMAGE_APP:-nh.test/app}" --replicas 0 >/dev/null
done

out=$(bash_complete "nh --kubeconfig $kc -n $ns exec deployment/")
expect "names" "$out" deployment/web-one deployment/web-two deployment/api
out=$(bash_complete "nh --kubeconfig $kc -n $ns dev start deploy/web")
expect "kubectl's short kind" "$out" deploy/web-one deploy/web-two
expect_not "kubectl's short kind" "$out" deploy/api
# The flags may come after the command, and as --flag=value.
out=$(bash_complete "nh dev end --kubeconfig=$kc --namespace=$ns deployment/web-t")
[[ "$out" == "deployment/web-two" ]] || fail "flags after the command: '$out'"
out=$(bash_complete "nh --kubeconfig $kc --namespace=${ns:0:14}")
expect "--namespace=<TAB>" "$out" "$ns"
out=$(bash_complete "nh --kubeconfig $kc -n ${ns:0:14}")
expect "-n <TAB>" "$out" "$ns"
out=$(bash_complete "nh --kubeconfig $kc -n $ns exec deployment/nothing-like-it")
[[ -z "$out" ]] || fail "a prefix nothing has: '$out'"
out=$(fish_complete "nh --kubeconfig $kc -n $ns terminal deployment/web" | cut -f1)
expect "fish: names" "$out" deployment/web-one deployment/web-two

# A cluster that cannot be reached completes nothing, at once, and says nothing.
t0=$SECONDS
out=$(bash_complete "nh --kubeconfig $work/missing.kubeconfig exec deployment/" 2>&1)
[[ -z "$out" ]] || fail "an unusable kubeconfig: '$out'"
((SECONDS - t0 < 10)) || fail "an unusable kubeconfig took $((SECONDS - t0)) s"
echo "completion: ok"
