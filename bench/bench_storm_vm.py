#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_storm_vm.py - checkpoint storms on a real COLO pair: colo-proxy's
policies against QEMU's own proxy, on the same workload, in one run
(issue 17; bench/bench_storm.py is the synthetic, faster version).

    sudo python3 bench/bench_storm_vm.py --build build [--clients K]
        [--requests N] [--rounds R] [--storm-rate N] [--storm-busy P]
        [--storm-calm N] [--min-interval MS] [--duty P]
        [--json FILE]

The pair of bench/bench_colo_vm.py (tests/vm/colopair.py: the patched
QEMU 10.0.2, the tiny guests, namespaces, a client).  K clients each send
N sequential HTTP requests, concurrently:

  baseline     GET /cgi-bin/page?1 (the same on both VMs: no miscompare)
  storm        GET /cgi-bin/sched (/proc/schedstat: differs per VM, every
               reply a miscompare)

colo-proxy's pair runs the storm four times: as QEMU does (a checkpoint
per miscompare episode), with a passthrough rule for the guest's HTTP
server (tcp:*:80, colo-passthrough-add), with adaptive=on and
auto_passthrough=on (adaptive-pt: the storm's flow is exempted when the
storm is detected), and with adaptive=on alone (qom-set, buffered mode
with its defaults).  QEMU's pair (its own filters and colo-compare in the
VMs' QEMUs) runs baseline and storm.  Printed: replies/s over the phase
and p50/p99 request latency, checkpoints (the primary QEMU's STOP/RESUME
pairs).

--rounds R measures both pairs R times, alternating (colo-proxy, qemu,
qemu, colo-proxy, ...), and pools each phase's samples (replies/s: all
replies over all the phases' time; p50/p99 over all requests), so a load
spike on the shared machine weighs on both.  A benchmark: exits 0 unless
the pair could not be set up.  Needs root; noisy on a shared machine.
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
         * 1000, 'failed': len(res) - len(ok), 'checkpoints': ck,
         'wall': wall, 'ok': len(ok), 'times': times}
    if pair.proxy == 'colo-proxy':
        st = pair.px.qmp.cmd('query-colo-storm', {'id': 'comp0'})[0]
        r['mode'] = st['mode']
        r['storm'] = {k: st[k] for k in ('storms', 'calms',
                                         'miscompares-per-second',
                                         'checkpoint-busy-percent',
                                         'periodic-checkpoints',
                                         'quiet-checkpoints', 'applied',
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
                if args.min_interval is not None:
                    pair.px.qmp.cmd('qom-set', {
                        'path': '/objects/colo0', 'property': 'min-interval',
                        'value': args.min_interval})
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

                def qset(prop, v):
                    q.cmd('qom-set', {'path': '/objects/comp0',
                                      'property': prop, 'value': v})
                qset('storm_rate', args.storm_rate)
                qset('storm_busy', args.storm_busy)
                qset('storm_calm', args.storm_calm)
                if args.duty is not None:
                    qset('buffered_duty', args.duty)
                qset('auto_passthrough', True)
                qset('adaptive', True)
                out.append(phase(pair, 'adaptive-pt', '/cgi-bin/sched',
                                 args))
                # the rule it applied goes; adaptive alone meets the storm
                # afresh (compare mode first, then a detected storm)
                qset('auto_passthrough', False)
                for r in q.cmd('query-colo-passthrough', {'id': 'comp0'}):
                    q.cmd('colo-passthrough-del', {'id': 'comp0',
                                                   'rule': r['rule']})
                out.append(phase(pair, 'adaptive', '/cgi-bin/sched', args))
        finally:
            pair.stop()
    return out


def pool(rs):
    """One pair's rounds as one list of phases: replies over the
    phases' time, latencies joined, checkpoints summed."""
    out = []
    for name in [r['phase'] for r in rs[0]]:
        ph = [r for rnd in rs for r in rnd if r['phase'] == name]
        times = sorted(t for r in ph for t in r['times'])
        out.append({
            'phase': name,
            'replies_per_s': sum(r['ok'] for r in ph)
            / max(sum(r['wall'] for r in ph), 1e-9),
            'per_round': [r['replies_per_s'] for r in ph],
            'p50_ms': cp.pct(times, .5) * 1000 if times else float('nan'),
            'p99_ms': cp.pct(times, .99) * 1000 if times else float('nan'),
            'checkpoints': sum(r['checkpoints'] for r in ph),
            'failed': sum(r['failed'] for r in ph)})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--clients', type=int, default=4)
    ap.add_argument('--requests', type=int, default=15)
    ap.add_argument('--storm-rate', type=int, default=20)
    ap.add_argument('--storm-busy', type=int, default=50)
    ap.add_argument('--min-interval', type=int, default=None,
                    help="colo-proxy's colo-frame min-interval (0: start a "
                    "checkpoint as soon as asked, as QEMU does; default: "
                    "the frame's, 100 ms)")
    ap.add_argument('--duty', type=int, default=None,
                    help='buffered_duty of the adaptive phases')
    ap.add_argument('--storm-calm', type=int, default=5,
                    help='storm_calm: keep it below --storm-rate, or a '
                    'storm calms down while it goes on')
    ap.add_argument('--only', choices=('colo-proxy', 'qemu'))
    ap.add_argument('--rounds', type=int, default=1)
    ap.add_argument('--json')
    args = ap.parse_args()
    qemu, fw = cp.bench_setup('bench_storm_vm', args.build, say)
    say(f'QEMU {qemu} ({vmguest.accel(log=say)}); load average '
        f'{os.getloadavg()[0]:.2f} at start; {args.clients} clients x '
        f'{args.requests} requests per phase')
    rounds = {}
    order = ('colo-proxy', 'qemu')
    for k in range(args.rounds):
        for proxy in (order if k % 2 == 0 else order[::-1]):
            if args.only and proxy != args.only:
                continue
            say(f'round {k + 1}, {proxy}: load average '
                f'{os.getloadavg()[0]:.2f}')
            try:
                rounds.setdefault(proxy, []).append(
                    measure(proxy, qemu, fw, args))
            except (cp.Skip, cp.TestFailure) as e:
                say(f'[{proxy}] not measured: {e}')
    say(f'load average {os.getloadavg()[0]:.2f} at end')
    res = {p: pool(rs) for p, rs in rounds.items()}
    say('')
    say(f'pooled over {args.rounds} round(s): replies/s (per round), '
        'p50 / p99 ms, checkpoints')
    for p, phases in res.items():
        for r in phases:
            say(f'[{p}] {r["phase"]:12} {r["replies_per_s"]:6.1f} '
                f'({", ".join("%.1f" % x for x in r["per_round"])})  '
                f'{r["p50_ms"]:6.0f} / {r["p99_ms"]:6.0f}  '
                f'{r["checkpoints"]}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'args': vars(args), 'results': res, 'rounds': rounds},
                      f, indent=1)


if __name__ == '__main__':
    main()
