#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_flood - floods and a soak: does colo-proxy keep working, lose
nothing it does not count, and stay within its configured bounds?

    python3 bench/bench_flood.py [--build DIR] [--flows N] [--frames N]
                                 [--size B]
                                 [--only SCENARIO,...]
                                 [--garbage-seconds S] [--soak]
                                 [--soak-seconds S] [--json FILE]

Scenarios (each a fresh colo-proxy; bench/flood-gen drives the sockets
at full rate, in C, so the generator is not the bottleneck):

  compare     --flows distinct UDP flows (default 1,000,000, one frame
              each) into colo-compare's primary_in and secondary_in (the
              same frames, so every one is released), outdev drained.
              Bounds: max_connections (default 65536) - the table must
              stay at the bound, evicting, not grow or wipe.
  rewriter    --flows distinct TCP connections (a SYN each) through a
              stream port whose netdev carries filter-rewriter.  Bound:
              max-connections (default 16384).
  mirror      --flows distinct flows through a port with filter-mirror;
              the guest side and the mirror's outdev are drained.
  redirector  --flows distinct flows into a filter-redirector's indev.
  garbage     random bytes at line rate for --garbage-seconds into each
              socket kind: a chardev link (redirector indev), a stream
              netdev, and a QMP monitor; the proxy must drop and count
              the connections and keep serving.
  soak        (--soak only; CI never runs it) the compare flood at full
              rate for --soak-seconds (default 600), flows cycling over
              --flows 5-tuples.

For each: throughput (frames/s), frames released vs sent, the drop and
eviction counters from QMP, and resident memory (VmRSS) sampled every
tenth of a second; "plateau" says whether the last third of the run grew less
than 5% (or 4 MiB) over the middle third, i.e. memory stopped at the
configured bounds instead of tracking the number of flows.  This is a
benchmark, not a test: numbers depend on the machine.  docs/reliability.md
has the results measured here and the command lines.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, 'tests', 'qtest'))

import coloqtest  # noqa: E402
from coloqtest import ColoProxy, chardev_unix, stream_netdev, \
    stream_device, tmpdir  # noqa: E402


class RssSampler:
    """VmRSS of 'pid' every 'period' seconds, in a thread."""

    def __init__(self, pid, period=0.1):
        self.pid = pid
        self.period = period
        self.samples = []          # (t, rss bytes)
        self.stopping = False
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                rss, _ = coloqtest.rss_bytes(self.pid)
            except OSError:
                return
            self.samples.append((time.monotonic() - self.t0, rss))
            time.sleep(self.period)

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        return self.report()

    def report(self):
        s = [r for _, r in self.samples]
        if not s:
            return {}
        n = len(s)
        mid = s[n // 3: 2 * n // 3] or s
        last = s[2 * n // 3:] or s
        grow = max(last) - max(mid)
        return {
            'rss_start_kib': s[0] >> 10,
            'rss_max_kib': max(s) >> 10,
            'rss_end_kib': s[-1] >> 10,
            'rss_mid_third_max_kib': max(mid) >> 10,
            'rss_last_third_max_kib': max(last) >> 10,
            # fewer than 9 samples (under a second): too short to judge
            'plateau': (grow < max(4 << 20, max(mid) * 0.05)
                        if n >= 9 else None),
            'rss_series_kib': [(round(t, 1), r >> 10)
                               for t, r in self.samples[::max(1, n // 40)]],
        }


def flood_gen(build, args, timeout):
    exe = os.path.join(build, 'bench', 'flood-gen')
    r = subprocess.run([exe] + args, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f'flood-gen {args} failed: {r.stderr}')
    return json.loads(r.stdout)


def run_scenario(name, proxy_args, gen_args, build, timeout, queries,
                 dir):
    p = ColoProxy(proxy_args, dir=dir)
    try:
        time.sleep(0.2)
        rss = RssSampler(p.pid)
        t0 = time.monotonic()
        gen = flood_gen(build, gen_args, timeout)
        wall = time.monotonic() - t0
        mem = rss.stop()
        alive = p.alive()
        stats = {}
        for q, args in queries:
            try:
                stats[q] = p.qmp.cmd(q, args) if args else p.qmp.cmd(q)
            except Exception as e:             # noqa: BLE001 - reported
                stats[q] = f'error: {e}'
        rc = p.stop(expect=None, timeout=30)
        err = p.stderr()
        return {'scenario': name, 'generator': gen, 'wall_s': round(wall, 2),
                'alive_after': alive, 'exit_code': rc,
                'sanitizer_report': coloqtest.sanitizer_report(err),
                'memory': mem, 'stats': stats}
    finally:
        p.kill()


def count(o):
    return o.frames or o.flows


def port_args(d, extra):
    return ['-netdev', stream_netdev('n0', os.path.join(d, 'net.sock')),
            '-device', stream_device('d0', 'n0',
                                     os.path.join(d, 'guest.sock'))] + extra


def scen_compare(o, seconds=None):
    d = tmpdir('bfc')
    a = ['-object', 'iothread,id=io0']
    for n in ('pri', 'sec', 'out'):
        a += ['-chardev', chardev_unix(n, os.path.join(d, n + '.sock'))]
    a += ['-object', 'colo-compare,id=cmp0,primary_in=pri,secondary_in=sec,'
          'outdev=out,iothread=io0']
    g = ['--mode', 'flows', '--flows', str(o.flows), '--size', str(o.size),
         '--to', 'unix:' + os.path.join(d, 'pri.sock'),
         '--to', 'unix:' + os.path.join(d, 'sec.sock'),
         '--sink', 'unix:' + os.path.join(d, 'out.sock')]
    g += ['--seconds', str(seconds)] if seconds else ['--count',
                                                       str(count(o))]
    return run_scenario('soak' if seconds else 'compare', a, g, o.build,
                        (seconds or 0) + 900,
                        [('query-colo-compare-stats', None)], d)


def scen_rewriter(o):
    d = tmpdir('bfr')
    a = port_args(d, ['-object', 'filter-rewriter,id=rw0,netdev=n0,'
                      'queue=all'])
    g = ['--mode', 'tcpflows', '--flows', str(o.flows), '--size',
         str(o.size), '--count', str(count(o)),
         '--to', 'unix:' + os.path.join(d, 'net.sock'),
         '--sink', 'unix:' + os.path.join(d, 'guest.sock')]
    return run_scenario('rewriter', a, g, o.build, 900,
                        [('query-netfilter-stats', None),
                         ('query-netdev-stats', None)], d)


def scen_mirror(o):
    d = tmpdir('bfm')
    a = port_args(d, ['-chardev', chardev_unix('out0', os.path.join(
                      d, 'out0.sock')),
                      '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,'
                      'outdev=out0'])
    g = ['--mode', 'flows', '--flows', str(o.flows), '--size', str(o.size),
         '--count', str(count(o)),
         '--to', 'unix:' + os.path.join(d, 'net.sock'),
         '--sink', 'unix:' + os.path.join(d, 'guest.sock'),
         '--sink', 'unix:' + os.path.join(d, 'out0.sock')]
    return run_scenario('mirror', a, g, o.build, 900,
                        [('query-netfilter-stats', None),
                         ('query-netdev-stats', None)], d)


def scen_redirector(o):
    d = tmpdir('bfd')
    a = port_args(d, ['-chardev', chardev_unix('in0', os.path.join(
                      d, 'in0.sock')),
                      '-object', 'filter-redirector,id=r0,netdev=n0,'
                      'queue=tx,indev=in0'])
    g = ['--mode', 'flows', '--flows', str(o.flows), '--size', str(o.size),
         '--count', str(count(o)),
         '--to', 'unix:' + os.path.join(d, 'in0.sock'),
         '--sink', 'unix:' + os.path.join(d, 'guest.sock')]
    return run_scenario('redirector', a, g, o.build, 900,
                        [('query-netfilter-stats', None),
                         ('query-netdev-stats', None)], d)


def scen_garbage(o):
    out = []
    d = tmpdir('bfg')
    a = port_args(d, ['-chardev', chardev_unix('in0', os.path.join(
                      d, 'in0.sock')),
                      '-object', 'filter-redirector,id=r0,netdev=n0,'
                      'queue=tx,indev=in0'])
    for kind, sock, mode in (('chardev link', 'in0.sock', 'garbage'),
                             ('stream netdev', 'net.sock', 'garbage'),
                             ('qmp', 'qmp.sock', 'qmp')):
        g = ['--mode', mode, '--seconds', str(o.garbage_seconds),
             '--to', 'unix:' + os.path.join(d, sock), '--seed', '1']
        r = run_scenario('garbage ' + kind, a, g, o.build,
                         o.garbage_seconds + 60,
                         [('query-netfilter-stats', None),
                          ('query-netdev-stats', None),
                          ('query-chardev-stats', None),
                          ('query-qmp-stats', None)], d)
        out.append(r)
    return out


def summary(r):
    g = r['generator']
    m = r['memory']
    sent = g['sent_frames'] or g['sent_bytes']
    line = (f"{r['scenario']:<22} sent {sent:>9}"
            f"{' frames' if g['sent_frames'] else ' bytes '}"
            f" {g['fps']:>9.0f} f/s {g['mbps']:>7.1f} Mb/s"
            f" sinks {g['sink_frames']} reconnects {g['reconnects']}"
            f" | RSS {m.get('rss_start_kib', 0)} -> max "
            f"{m.get('rss_max_kib', 0)} KiB plateau={m.get('plateau')}"
            f" | alive={r['alive_after']} exit={r['exit_code']}")
    if r['sanitizer_report']:
        line += ' SANITIZER REPORT'
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(SRC, 'build'))
    ap.add_argument('--flows', type=int, default=1000000)
    ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--frames', type=int, default=0,
                    help='frames per flood (default: --flows, one per flow; '
                    'more cycle over the flows again)')
    ap.add_argument('--only', default='compare,rewriter,mirror,redirector,'
                    'garbage')
    ap.add_argument('--garbage-seconds', type=float, default=5)
    ap.add_argument('--soak', action='store_true')
    ap.add_argument('--soak-seconds', type=float, default=600)
    ap.add_argument('--json')
    o = ap.parse_args()
    o.build = os.path.abspath(o.build)
    os.environ['COLO_PROXY'] = os.path.join(o.build, 'system', 'colo-proxy')
    os.environ.setdefault('COLO_BUILD_DIR', o.build)

    have = coloqtest.object_types()
    results = []
    want = [s for s in o.only.split(',') if s]
    if o.soak:
        want.append('soak')
    for s in want:
        if s in ('compare', 'soak') and 'colo-compare' not in have or \
                s == 'rewriter' and 'filter-rewriter' not in have:
            print(f'{s}: skipped, the object type is not built')
            continue
        t0 = time.monotonic()
        if s == 'compare':
            rs = [scen_compare(o)]
        elif s == 'soak':
            rs = [scen_compare(o, seconds=o.soak_seconds)]
        elif s == 'rewriter':
            rs = [scen_rewriter(o)]
        elif s == 'mirror':
            rs = [scen_mirror(o)]
        elif s == 'redirector':
            rs = [scen_redirector(o)]
        elif s == 'garbage':
            rs = scen_garbage(o)
        else:
            print(f'unknown scenario {s}')
            continue
        for r in rs:
            print(summary(r), f'({time.monotonic() - t0:.0f}s)', flush=True)
        results += rs
    if o.json:
        with open(o.json, 'w') as f:
            json.dump(results, f, indent=1)
    bad = [r for r in results if not r['alive_after'] or r['exit_code'] != 0
           or r['sanitizer_report']]
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
