#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""callgrind_compare - colo-compare's user-space instructions per frame pair,
per function, on the bench's own load.

    python3 bench/callgrind_compare.py [--build DIR] [--against DIR]
        [--size 64] [--count 400000] [--window 8192] [--top 30]

Starts colo-proxy as bench/bench_compare.py does (three server chardevs, a
colo-compare on iothread t0) under valgrind --tool=callgrind, feeds it
--count frame pairs with bench/compare-load (64 flows), and again with
--count / 20: the difference of the two, divided by the difference of the
counts, is the cost per frame pair without the start-up.  Prints the total
and the --top functions (self cost).  With --against, the same for a
second build directory, side by side (e.g. a build of main, then of a
branch).

Instruction counts do not depend on the machine's load, but which side's
copy of a segment reaches the compare first does depend on timing, even
under callgrind, and moves the engine's own functions (tcp_advance,
tcp_release, pkt_alloc, the hold histogram) by tens of instructions: when
comparing two builds, check that those agree, or try another --window
(docs/devel/compare-cpu.md).  Needs valgrind; use a release build with
-Ddebug=true for names of inlined code.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_compare as bc  # noqa: E402


def run(build, size, count, window, out):
    ports = bc.free_ports(3)
    argv = ['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}',
            os.path.join(build, 'system', 'colo-proxy'),
            '-object', 'iothread,id=t0'] + bc.chardevs(ports) + \
           ['-object', 'colo-compare,id=comp0,primary_in=pri,'
            'secondary_in=sec,outdev=out,iothread=t0']
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', ports[2]),
                                            0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        time.sleep(1)
        load = subprocess.run(
            [os.path.join(build, 'bench', 'compare-load'),
             '--pri', str(ports[0]), '--sec', str(ports[1]),
             '--out', str(ports[2]), '--size', str(size),
             '--count', str(count), '--flows', '64',
             '--window', str(window), '--idle-ms', '20000'],
            capture_output=True, text=True, timeout=1200)
        r = json.loads(load.stdout)
        if r['received'] != count or r['missing'] or r['dup']:
            sys.exit(f'compare-load: {load.stdout}')
    finally:
        p.terminate()
        p.wait(60)


def self_costs(path):
    """Self cost per function (inlined code counted where it was
    inlined), and the program total."""
    out = subprocess.run(['callgrind_annotate', '--inclusive=no',
                          '--auto=no', '--threshold=100', path],
                         capture_output=True, text=True).stdout
    costs, total, section = {}, 0, False
    for line in out.splitlines():
        if 'file:function' in line:
            section = True
        m = re.match(r'^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)\s*$', line)
        if not m:
            continue
        ir = int(m.group(1).replace(',', ''))
        name = m.group(2)
        if name.startswith('PROGRAM TOTALS'):
            total = ir
        elif section:
            name = re.sub(r'\s*\[[^\]]*\]$', '', name)
            fn = name.split(':', 1)[1] if ':' in name else name
            costs[fn] = costs.get(fn, 0) + ir
    return costs, total


def per_pair(build, size, count, window, tmp):
    small = max(count // 20, 1000)
    res = []
    for n in (count, small):
        out = os.path.join(tmp, f'cg.{n}')
        run(build, size, n, window, out)
        res.append(self_costs(out))
    (cb, tb), (cs, ts) = res
    n = count - small
    return ({k: (cb.get(k, 0) - cs.get(k, 0)) / n for k in set(cb) | set(cs)},
            (tb - ts) / n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    ap.add_argument('--against', default=None)
    ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--count', type=int, default=400000)
    ap.add_argument('--window', type=int, default=8192)
    ap.add_argument('--top', type=int, default=30)
    a = ap.parse_args()
    builds = [a.build] + ([a.against] if a.against else [])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for b in builds:
            results.append(per_pair(b, a.size, a.count, a.window, tmp))
    names = sorted(set().union(*(r[0] for r in results)),
                   key=lambda k: -max(r[0].get(k, 0) for r in results))
    print(f'{a.size} B, window {a.window}: instructions per frame pair')
    print(f'{"function":40s}' + ''.join(f'{i:>10d}' for i in
                                         range(len(builds))))
    print(f'{"TOTAL":40s}' + ''.join(f'{r[1]:10.1f}' for r in results))
    for k in names[:a.top]:
        print(f'{k[:40]:40s}' + ''.join(f'{r[0].get(k, 0):10.1f}'
                                        for r in results))
    for i, b in enumerate(builds):
        print(f'{i}: {b}')


if __name__ == '__main__':
    main()
