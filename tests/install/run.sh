#!/usr/bin/env bash
# The installed package is relocatable: installed into two prefixes, one of them then moved
# elsewhere (its old path gone), each prefix runs `nh` (its library found through the
# $ORIGIN-relative RPATH), finds the static nhsyncd binaries under share/nocalhost beside the
# library, and builds and runs a C consumer through pkg-config and through
# find_package(nocalhost). Nothing is found through LD_LIBRARY_PATH.
#   run.sh BUILD_DIR WORK_DIR CONSUMER_SOURCE_DIR C_COMPILER LIBNOCALHOST [NH]
# (NH: the built nh, when the tools are built.)
# `nh version` talks to the test cluster ($NH_TEST_KUBECONFIG; NH_SKIP_CLUSTER_TESTS=1 leaves
# that call out, as the other cluster tests do).
set -euo pipefail
build_dir=$1 work=$2 consumer=$3 cc=$4 built_lib=$5 built_nh=${6:-}
unset LD_LIBRARY_PATH
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A sanitizer build needs the runtime on the consumer's link line too.
extra=()
if [[ "$(nm -D "$built_lib")" == *__asan_init* ]]; then extra+=(-fsanitize=address,undefined); fi
have_nh=0
[[ -n "$built_nh" ]] && have_nh=1
syncd_arches=$(cd "$build_dir/share/nocalhost" 2>/dev/null && ls nhsyncd-linux-* 2>/dev/null | sed 's/nhsyncd-linux-//' || true)

cmake --install "$build_dir" --prefix "$work/first" >/dev/null
cmake --install "$build_dir" --prefix "$work/second" >/dev/null
mkdir -p "$work/moved/deeper"
mv "$work/second" "$work/moved/deeper/second"
[[ ! -e "$work/second" ]] || fail "the moved prefix is still at its old path"

check_prefix() {
  local prefix=$1 name=$2
  echo "== $prefix"
  local libdir resolved line
  libdir=$(dirname "$(find "$prefix" -name 'libnocalhost.so' | head -1)")
  [[ "$libdir" == "$prefix"/* ]] || fail "no libnocalhost.so under $prefix"

  if ((have_nh)); then
    # The loader resolves libnocalhost inside this prefix, through nh's own RPATH.
    line=$(ldd "$prefix/bin/nh" | grep libnocalhost || true)
    resolved=$(awk '{print $3}' <<<"$line")
    [[ "$(readlink -f "$resolved")" == "$libdir/libnocalhost.so."* ]] || fail "nh in $prefix: ldd says:$line"
    [[ "$(readelf -d "$prefix/bin/nh")" =~ R(UN)?PATH[^$'\n']*'$ORIGIN' ]] || fail "nh has no \$ORIGIN RPATH"
    "$prefix/bin/nh" --version
    if [[ -n "${NH_TEST_KUBECONFIG:-}" ]]; then
      local out
      out=$("$prefix/bin/nh" --kubeconfig "$NH_TEST_KUBECONFIG" version)
      echo "$out"
      grep -q '^server: ' <<<"$out" || fail "nh version printed no server version"
    elif [[ "${NH_SKIP_CLUSTER_TESTS:-}" != 1 ]]; then
      fail "NH_TEST_KUBECONFIG is not set: source <(scripts/test-cluster env), or set NH_SKIP_CLUSTER_TESTS=1"
    fi
    "$prefix/bin/nhsyncd" --version
    # The static nhsyncd binaries are found beside the library, not through the build tree.
    if [[ -n "$syncd_arches" ]]; then
      local a out
      out=$(env -u NH_SYNCD_DIR "$prefix/bin/nh" sidecar image --output "$work/$name-sidecar.tar")
      echo "$out"
      for a in $syncd_arches; do
        [[ -x "$prefix/share/nocalhost/nhsyncd-linux-$a" ]] || fail "share/nocalhost/nhsyncd-linux-$a not installed"
        grep -q "linux/$a" <<<"$out" || fail "nh sidecar image in $prefix found no nhsyncd-linux-$a"
      done
    fi
  fi

  echo "-- pkg-config"
  local pc=(env PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config)
  [[ "$("${pc[@]}" --variable=libdir nocalhost)" -ef "$libdir" ]] || fail "pkg-config's libdir is not $libdir"
  # shellcheck disable=SC2046
  "$cc" -std=c99 -Wall -Werror "${extra[@]}" "$consumer/consumer.c" -o "$work/$name-consumer-pc" \
    $("${pc[@]}" --cflags --libs nocalhost) -Wl,-rpath,"$("${pc[@]}" --variable=libdir nocalhost)"
  "$work/$name-consumer-pc"

  echo "-- find_package"
  cmake -S "$consumer" -B "$work/$name-consumer-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="${extra[*]:-}" -DCMAKE_EXE_LINKER_FLAGS="${extra[*]:-}" >/dev/null
  grep -q "nocalhost_DIR:PATH=$libdir/cmake/nocalhost" "$work/$name-consumer-build/CMakeCache.txt" ||
    fail "find_package did not find the package in $prefix"
  cmake --build "$work/$name-consumer-build" >/dev/null
  line=$(ldd "$work/$name-consumer-build/consumer" | grep libnocalhost || true)
  resolved=$(awk '{print $3}' <<<"$line")
  [[ "$(readlink -f "$resolved")" == "$libdir/libnocalhost.so."* ]] || fail "the CMake consumer: ldd says:$line"
  "$work/$name-consumer-build/consumer"
}

t0=$SECONDS
check_prefix "$work/first" first
check_prefix "$work/moved/deeper/second" second
echo "relocatable install: both prefixes work ($((SECONDS - t0)) s)"
rm -rf "$work"
