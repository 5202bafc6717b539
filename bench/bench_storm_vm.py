#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_storm_vm.py - checkpoint storms on a real COLO pair: colo-proxy's
policies against QEMU's own proxy, on the same workload, in one run
(issue 17; bench/bench_storm.py is the synthetic, faster version).

    sudo python3 bench/bench_storm_vm.py --build build [--clients K]
        [--requests N] [--json FILE]

The pair of bench/bench_colo_vm.py (tests/vm/colopair.py: the patched
QEMU 10.0.2, the tiny guests, namespaces, a client).  K clients each send
N sequential HTTP requests, concurrently:

  baseline     GET /cgi-bin/page?1 (the same on both VMs: no miscompare)
  storm        GET /cgi-bin/sched (/proc/schedstat: differs per VM, every
               reply a miscompare)

colo-proxy's pair runs the storm three times: as QEMU does (a checkpoint
per miscompare episode), with a passthrough rule for the guest's HTTP
server (tcp:*:80, colo-passthrough-add), and with adaptive=on (qom-set,
buffered mode).  QEMU's pair (its own filters and colo-compare in the
VMs' QEMUs) runs baseline and storm.  Printed: replies/s over the phase
and p50/p99 request latency, checkpoints (the primary QEMU's STOP/RESUME
pairs).  A benchmark: exits 0 unless the pair could not be set up.  Needs
root; noisy on a shared machine.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'vm'))

import colopair as cp          # noqa: E402
import vmguest                 # noqa: E402


def say(*a):
    print(*a, flush=True)


def phase(pair, name, path, args):
    cp.take_events(pair.qp, ('STOP', 'RESUME'))
    t0 = time.monotonic()
    bg = [cp.HTTPBackground(pair.ns, pair.c, [path] * args.requests)
          for _ in range(args.clients)]
    res = []
    for b in bg:
        res += b.result(timeout=600)
    wall = time.monotonic() - t0
    ok = [r for r in res if cp.split_http(r[2])[0].endswith('200 OK')]
    times = sorted(r[1] for r in ok)
    ck = len(cp.downtimes(cp.take_events(pair.qp, ('STOP', 'RESUME'))))
    r = {'phase': name, 'replies_per_s': len(ok) / wall,
         'p50_ms': cp.pct(times, .5) * 1000, 'p99_ms': cp.pct(times, .99)
         * 1000, 'failed': len(res) - len(ok), 'checkpoints': ck}
    if pair.proxy == 'colo-proxy':
        st = pair.px.qmp.cmd('query-colo-storm', {'id': 'comp0'})[0]
        r['mode'] = st['mode']
        r['storm'] = {k: st[k] for k in ('storms', 'calms',
                                         'miscompares-per-second',
                                         'checkpoint-busy-percent',
                                         'periodic-checkpoints',
                                         'requests-swallowed')}
    say(f'[{pair.proxy}] {name:12} {r["replies_per_s"]:7.1f} replies/s  '
        f'p50 {r["p50_ms"]:7.0f} ms  p99 {r["p99_ms"]:7.0f} ms  '
        f'{ck} checkpoints  {r["failed"]} failed  {r.get("mode", "")} '
        f'{r.get("storm", "")}')
    return r


def measure(proxy, qemu, fw, args):
    out = []
    with cp.NetNS() as ns:
        pair = cp.Pair(ns, 's' if proxy == 'colo-proxy' else 'r', 'e1000',
                       False, qemu, fw, proxy=proxy)
        pair.dump = False
        try:
            dt = pair.start()
            if proxy == 'colo-proxy':
                pair.proxies_ready()
            say(f'[{proxy}] COLO after {dt:.1f} s')
            cp.check_pages(cp.http_seq(pair.ns, pair.c, [
                f'/cgi-bin/page?{k}' for k in range(1, 6)]))
            out.append(phase(pair, 'baseline', '/cgi-bin/page?1', args))
            out.append(phase(pair, 'storm', '/cgi-bin/sched', args))
            if proxy == 'colo-proxy':
                q = pair.px.qmp
                q.cmd('colo-passthrough-add', {'id': 'comp0',
                                               'rule': 'tcp:*:80'})
                out.append(phase(pair, 'passthrough', '/cgi-bin/sched',
                                 args))
                q.cmd('colo-passthrough-del', {'id': 'comp0',
                                               'rule': 'tcp:*:80'})
                for prop, v in (('storm_rate', args.storm_rate),
                                ('storm_busy', args.storm_busy),
                                ('adaptive', True)):
                    q.cmd('qom-set', {'path': '/objects/comp0',
                                      'property': prop, 'value': v})
                out.append(phase(pair, 'adaptive', '/cgi-bin/sched', args))
        finally:
            pair.stop()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--clients', type=int, default=4)
    ap.add_argument('--requests', type=int, default=15)
    ap.add_argument('--storm-rate', type=int, default=20)
    ap.add_argument('--storm-busy', type=int, default=50)
    ap.add_argument('--only', choices=('colo-proxy', 'qemu'))
    ap.add_argument('--json')
    args = ap.parse_args()
    qemu, fw = cp.bench_setup('bench_storm_vm', args.build, say)
    say(f'QEMU {qemu} ({vmguest.accel(log=say)}); load average '
        f'{os.getloadavg()[0]:.2f} at start; {args.clients} clients x '
        f'{args.requests} requests per phase')
    res = {}
    for proxy in ('colo-proxy', 'qemu'):
        if args.only and proxy != args.only:
            continue
        try:
            res[proxy] = measure(proxy, qemu, fw, args)
        except (cp.Skip, cp.TestFailure) as e:
            say(f'[{proxy}] not measured: {e}')
    say(f'load average {os.getloadavg()[0]:.2f} at end')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'args': vars(args), 'results': res}, f, indent=1)


if __name__ == '__main__':
    main()
