#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/run-fuzz.sh BUILDDIR SECONDS
# Runs every libFuzzer target of a --enable-fuzzing build for SECONDS each,
# on a scratch copy of its checked-in corpus.  Crash reproducers land in
# tests/fuzz/artifacts/; copy each into tests/fuzz/corpus/NAME/ once fixed,
# so the smoke test in `make check` replays it from then on.
set -e
build=$1
secs=${2:-60}
src=$(cd "$(dirname "$0")/.." && pwd)
art="$src/tests/fuzz/artifacts"
mkdir -p "$art"
status=0
for bin in "$build"/tests/fuzz/fuzz-*; do
    case "$bin" in *-smoke|*.p) continue ;; esac
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    seeds="$src/tests/fuzz/corpus/${name#fuzz-}"
    work=$(mktemp -d)
    [ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
    echo "== $name: ${secs}s"
    if ! "$bin" -max_total_time="$secs" -max_len=4096 \
            -artifact_prefix="$art/$name-" "$work"; then
        echo "$name: FAILED (reproducer in $art)"
        status=1
    fi
    rm -rf "$work"
done
exit $status
