#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/run-tests.sh BUILDDIR [meson test args...]
# Runs the meson test suites and prints one closing line
# "N passed, N failed, N skipped" that CI reads.
build=$1; shift
log=$(mktemp)
meson test -C "$build" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"

[ -f "$build/meson-logs/testlog.json" ] || { rm -f "$log"; exit 1; }
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(f"{p} passed, {f} failed, {s} skipped")
sys.exit(1 if f else 0)
PY
py=$?
rm -f "$log"
[ $py -ne 0 ] && exit 1
exit 0
