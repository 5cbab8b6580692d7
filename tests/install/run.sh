#!/usr/bin/env bash
set -euo pipefail
build_dir=$1 prefix=$2 consumer=$3 cc=$4
rm -rf "$prefix" "$prefix-build"
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
libdir=$(find "$prefix" -name 'libnocalhost.so*' -printf '%h\n' | head -1)

echo "== pkg-config"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
# A sanitizer build needs the runtime on the consumer's link line too.
extra=()
if [[ "$(nm -D "$libdir/libnocalhost.so" 2>/dev/null)" == *__asan_init* ]]; then extra+=(-fsanitize=address,undefined); fi
"$cc" -std=c99 -Wall -Werror "${extra[@]}" "$consumer/consumer.c" -o "$prefix/consumer-pc" \
  $(pkg-config --cflags --libs nocalhost) -Wl,-rpath,"$libdir"
"$prefix/consumer-pc"

echo "== find_package"
cmake -S "$consumer" -B "$prefix-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="${extra[*]:-}" -DCMAKE_EXE_LINKER_FLAGS="${extra[*]:-}" >/dev/null
cmake --build "$prefix-build" >/dev/null
"$prefix-build/consumer"
