#!/bin/sh
# Runs the frame-parser fuzzer briefly (CI) or longer: run.sh BUILD_DIR [SECONDS]
set -eu
build=$1; secs=${2:-30}
corpus=$(mktemp -d)
printf '\000\000\000\002\042\001' > "$corpus/ack"
printf '\000\000\000\011\001NHSY\001\001t\000\000' > "$corpus/hello"
"$build/tests/sync/nh_sync_frame_fuzzer" -max_total_time="$secs" -max_len=65536 "$corpus"
rm -rf "$corpus"
