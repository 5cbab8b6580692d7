#!/bin/sh
# Builds Toxiproxy (the Go module github.com/Shopify/toxiproxy/v2) for the shaped-link
# benchmarks and prints the path of its server binary. Built once per version into a cache
# outside the repository ($NH_BENCH_CACHE, else $XDG_CACHE_HOME/nocalhost-bench, else
# ~/.cache/nocalhost-bench); never committed.
#   bench/toxiproxy.sh            -> .../toxiproxy-v2.5.0/toxiproxy-server
set -eu
VERSION=${TOXIPROXY_VERSION:-v2.5.0}
CACHE=${NH_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nocalhost-bench}
DIR="$CACHE/toxiproxy-$VERSION"
if [ ! -x "$DIR/toxiproxy-server" ]; then
    command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
    command -v go >/dev/null 2>&1 || { echo "toxiproxy.sh: Go is needed to build Toxiproxy" >&2; exit 1; }
    mkdir -p "$DIR"
    tmp=$(mktemp -d "$DIR/build.XXXXXX")
    GOBIN="$tmp" go install "github.com/Shopify/toxiproxy/v2/cmd/server@$VERSION" >&2
    mv "$tmp/server" "$DIR/toxiproxy-server"
    rmdir "$tmp"
fi
echo "$DIR/toxiproxy-server"
