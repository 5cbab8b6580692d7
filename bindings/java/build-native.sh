#!/usr/bin/env bash
# Run by Maven (generate-sources): SWIG generates dev.nocalhost.jni from
# include/nocalhost.h, CMake builds libnocalhost_jni.so (and libnocalhost
# unless NOCALHOST_PREFIX names an installed one), and scripts/bundle-native
# puts them with every library they need beyond glibc and libstdc++ into the
# jar's resources, dev/nocalhost/native/<os>-<arch>/, with files.sha256, the
# sums NativeLibrary checks them against. The per-user agent nh-agent goes
# there too (NativeLibrary extracts it beside libnocalhost, where the library
# looks for it; docs/agent.md).
#   build-native.sh TARGET_DIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGET="$1"
JAVA_OUT="$TARGET/generated-sources/swig/dev/nocalhost/jni"
NATIVE="$TARGET/native"
mkdir -p "$JAVA_OUT" "$NATIVE"
command -v swig >/dev/null || { echo "swig is missing: apt-get install swig" >&2; exit 1; }
swig -java -package dev.nocalhost.jni -I"$HERE/../../include" -outdir "$JAVA_OUT" \
  -o "$NATIVE/nocalhost_wrap.c" "$HERE/src/main/swig/nocalhost.i"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
[[ -f "$NATIVE/build/CMakeCache.txt" ]] && generator=()
if [[ -z "${JAVA_HOME:-}" ]]; then
  JAVA_HOME="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.home = //p')"
fi
cmake -S "$HERE" -B "$NATIVE/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DJAVA_HOME="$JAVA_HOME" \
  -DNH_SWIG_WRAPPER="$NATIVE/nocalhost_wrap.c" \
  -DNH_NATIVE_DIR="$NATIVE/lib" >/dev/null
cmake --build "$NATIVE/build" >&2

command -v patchelf >/dev/null || { echo "patchelf is missing: apt-get install patchelf" >&2; exit 1; }
RESOURCES="$TARGET/generated-resources/native/dev/nocalhost/native/linux-$(uname -m)"
rm -rf "$RESOURCES"
mkdir -p "$RESOURCES"
cp "$NATIVE/lib/"* "$RESOURCES/"
strip --strip-unneeded "$RESOURCES/libnocalhost_jni.so" "$RESOURCES/nh-agent"
"$HERE/../../scripts/bundle-native" "$RESOURCES" libnocalhost_jni.so nh-agent
(cd "$RESOURCES" && sha256sum -- * >files.sha256)
