#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_colo_vm.py - colo-proxy against QEMU's own COLO proxy, on a real
COLO pair, in one run (issue 12).

    sudo python3 bench/bench_colo_vm.py --build build [--requests N]
        [--miscompares N] [--steady S] [--rounds N]
        [--only colo-proxy|qemu] [--json FILE]

--rounds N measures both pairs N times, alternating (colo-proxy, qemu,
qemu, colo-proxy, ...), and pools each pair's samples, so that a load
that drifts during the run weighs on both alike.

The same patched QEMU 10.0.2 (scripts/build-colo-qemu.sh), the same tiny
guests (tests/vm/), the same namespaces, client and traffic
(tests/vm/colopair.py), two ways:

  colo-proxy  the two colo-proxies do COLO's networking (the seeds'
              objects, colo-frame driver=qemu, colo-heartbeat failover=on):
              the pair of tests/e2e/test_vm_qemu_colo.py and `make demo`
  qemu        QEMU's own filter-mirror, filter-redirector, filter-rewriter
              and colo-compare inside the VMs' QEMUs (docs/COLO-FT.txt's
              command lines, unix sockets); each VM's netdev still reaches
              the LAN through a colo-proxy, but one with no filter at all
              (a pass-through, the same transport as in the other pair)

Figures, per pair:

  periodic    request latency p50/p99/max, 200 sequential CGI requests
              started 70 ms apart (a request that ends later than the
              next one's start is followed at once) with
              x-checkpoint-delay 2000 (QEMU's periodic checkpoints) and an
              echo connection beside them; then 200 static pages 60 ms
              apart.  The fixed schedule gives both pairs the same guest
              work between two checkpoints.  The CGI writes its answer in
              several small pieces, and how many segments the guest's TCP
              makes of them depends on how soon the client's ACKs reach
              it (Nagle): the time to the first reply byte and the data
              segments per reply (TCP_INFO) are printed beside it.  A
              static page is written whole
  miscompare  end-to-end latency of GET /cgi-bin/sched (differs per VM:
              a miscompare, a checkpoint, the primary's reply released),
              one client process, 0.6 s between requests
  downtime    checkpoint downtime, STOP -> RESUME from the primary QEMU's
              own events: the miscompares' checkpoints, the periodic
              ones under the requests above (and the share of that
              phase the guest spent stopped), and
              a steady phase of its own (--steady S seconds of periodic
              checkpoints 300 ms apart under an echo connection, about
              3 per second: the figure's sample, 15 checkpoints being too
              few for a median that differs by a millisecond)
  failover    the worst echo round trip across kill -9 of the primary QEMU
              and its proxy process.  colo-proxy: its heartbeat (100 ms
              interval, 500 ms timeout) fails over itself and its QEMU.
              qemu: QEMU has no heartbeat; the bench plays one with the
              same 500 ms timeout: 500 ms after the kill it sends
              x-colo-lost-heartbeat, object-del f2, f1 and announce-self to
              the secondary QEMU (docs/COLO-FT.txt's "Secondary Failover")

Ratios are qemu / colo-proxy: above 1, colo-proxy is better (lower).  A
benchmark, not a test: it measures, prints and exits 0 unless the pair
could not be set up.  Needs root.  Noisy on a shared machine: run it
idle, and read several runs.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'vm'))

import colopair as cp          # noqa: E402
import vmguest                 # noqa: E402

HB_TIMEOUT = 0.5     # colopair.HB's timeout, played for QEMU's pair


def say(*a):
    print(*a, flush=True)


def checkpoint_downtimes(q):
    """Seconds of each STOP -> RESUME QEMU reported since the last call."""
    events = cp.take_events(q, ('STOP', 'RESUME'))
    return [d for _, d in cp.downtimes(events)]


def measure(proxy, qemu, fw, args):
    r = {'proxy': proxy}
    with cp.NetNS() as ns:
        pair = cp.Pair(ns, 'b' if proxy == 'colo-proxy' else 'q', 'e1000',
                       False, qemu, fw, proxy=proxy)
        pair.dump = False
        try:
            dt = pair.start()
            if proxy == 'colo-proxy':
                pair.proxies_ready()
            say(f'[{proxy}] COLO after {dt:.1f} s')
            cp.check_pages(cp.http_seq(pair.ns, pair.c, [
                f'/cgi-bin/page?{k}' for k in range(1, 21)]))
            cp.take_events(pair.qp, ('STOP', 'RESUME'))
            cps = []

            # the miscompared request: one client process for all of
            # them, 0.6 s apart, as for the other phases' requests (a
            # process per request would exit -- milliseconds of CPU --
            # right when the reply comes, in the checkpoint's window)
            res = cp.http_seq(pair.ns, pair.c,
                              ['/cgi-bin/sched'] * args.miscompares, gap=0.6)
            mis = []
            for x in res:
                st, body = cp.split_http(x[2])
                cp.check(st.endswith('200 OK') and 'cpu0' in body,
                         f'/cgi-bin/sched: {x[2][:200]!r}')
                mis.append(x[1])
            time.sleep(0.6)
            cps = checkpoint_downtimes(pair.qp)
            r['miscompare'] = mis
            r['miscompare_checkpoints'] = len(cps)
            r['miscompare_downtime'] = list(cps)
            say(f'[{proxy}] miscompared request: median '
                f'{statistics.median(mis) * 1000:.0f} ms over {len(mis)} '
                f'({len(cps)} checkpoints)')

            # periodic checkpoints under sequential requests
            req0 = (pair.px.qmp.cmd('query-colo-stats')['requests']
                    if proxy == 'colo-proxy' else {})
            log0 = (len(pair.px.stderr().splitlines())
                    if proxy == 'colo-proxy' else 0)
            echo = cp.Echo(pair.ns, pair.c)
            pair.qp.cmd('migrate-set-parameters',
                        {'x-checkpoint-delay': 2000})
            paths = [f'/cgi-bin/page?{1 + k % 20}'
                     for k in range(args.requests)]
            t_phase = time.monotonic()
            res = cp.http_seq(pair.ns, pair.c, paths, period=CGI_PERIOD)
            # static pages (one write of the whole file in the guest)
            spaths = [f'/{1 + k % 32}' for k in range(args.requests)]
            sres = cp.http_seq(pair.ns, pair.c, spaths, period=STATIC_PERIOD)
            r['periodic_phase_s'] = time.monotonic() - t_phase
            pair.qp.cmd('migrate-set-parameters',
                        {'x-checkpoint-delay': cp.QUIET_DELAY_MS})
            e = echo.stop()
            times = cp.check_pages(res)
            r['static'] = check_static(sres)
            r['first_byte'] = [x[4] for x in res]
            r['segments'] = [x[5] for x in res]
            r['static_segments'] = [x[5] for x in sres]
            d = checkpoint_downtimes(pair.qp)
            cps += d
            # checkpoints colo-proxy asked for meanwhile (by reason): the
            # rest are QEMU's own periodic ones
            if proxy == 'colo-proxy':
                req1 = pair.px.qmp.cmd('query-colo-stats')['requests']
                r['proxy_requests'] = {k: req1[k] - req0.get(k, 0)
                                       for k in req1
                                       if req1[k] != req0.get(k, 0)}
                # which connections miscompared, and why (the log's
                # lines since the miscompare phase)
                r['miscompare_log'] = [
                    ln for ln in pair.px.stderr().splitlines()[log0:]
                    if 'miscompare on' in ln]
                by_port = {x[3]: x for x in res + sres}
                for ln in r['miscompare_log']:
                    port = ln.rsplit(':', 1)[-1].split()[0]
                    x = by_port.get(int(port)) if port.isdigit() else None
                    what = (f'{x[0]}, reply headers {header_names(x[2])}'
                            if x else 'request not found')
                    say(f'[{proxy}] periodic phase: {ln.strip()} ({what})')
                # what copy-on-read cost the secondary's input
                m0 = [f for f in pair.px.qmp.cmd('query-netfilter-stats')
                      if f.get('id') == 'm0'][0]
                r['mirror'] = {k: m0.get(k) for k in (
                    'copies-after-read', 'copies-at-once',
                    'copy-on-read-overflows', 'copies-unread',
                    'read-wait-max-us')}
                w = m0.get('read-wait') or {}
                if w.get('count'):
                    r['mirror']['read-wait-mean-us'] = round(
                        w['sum-us'] / w['count'])
                    r['mirror']['read-wait-le-100us'] = next(
                        (b['count'] for b in w['buckets']
                         if b.get('le-us') == 100), None)
                    r['mirror']['read-waits'] = w['count']
                say(f'[{proxy}] filter-mirror m0 so far: {r["mirror"]}')
            r['periodic'] = times
            r['periodic_checkpoints'] = len(d)
            r['periodic_downtime'] = list(d)
            r['periodic_echo_worst'] = e.get('worst')
            r['downtime'] = cps
            say(f'[{proxy}] {len(times)} CGI + {len(r["static"])} static '
                f'requests in {r["periodic_phase_s"]:.1f} s with {len(d)} '
                f'checkpoints, guest stopped {sum(d) * 1000:.0f} ms '
                f'(colo-proxy requested '
                f'{r.get("proxy_requests", "-")}): CGI p50 '
                f'{cp.pct(times, .5) * 1000:.1f} ms, p99 '
                f'{cp.pct(times, .99) * 1000:.0f} ms, max '
                f'{max(times) * 1000:.0f} ms, first byte p50 '
                f'{cp.pct(r["first_byte"], .5) * 1000:.1f} ms, '
                f'{statistics.mean(r["segments"]):.2f} segments per reply; '
                f'static p50 {cp.pct(r["static"], .5) * 1000:.1f} ms; echo '
                f'{e["lines"]} lines, error {e["error"]}')

            # steady checkpoints: the downtime figure's sample
            echo = cp.Echo(pair.ns, pair.c)
            checkpoint_downtimes(pair.qp)
            pair.qp.cmd('migrate-set-parameters',
                        {'x-checkpoint-delay': STEADY_DELAY_MS})
            time.sleep(args.steady)
            pair.qp.cmd('migrate-set-parameters',
                        {'x-checkpoint-delay': cp.QUIET_DELAY_MS})
            e = echo.stop()
            cp.check(not e['error'], f'echo, steady checkpoints: {e["error"]}')
            d = checkpoint_downtimes(pair.qp)
            r['steady'] = d
            say(f'[{proxy}] {len(d)} steady checkpoints: downtime median '
                f'{statistics.median(d) * 1000:.2f} ms, p90 '
                f'{cp.pct(d, .9) * 1000:.2f} ms')

            # failover
            echo = cp.Echo(pair.ns, pair.c, period=0.02)
            time.sleep(1.0)
            cp.take_events(pair.qs, ('STOP', 'RESUME'))
            t_kill = time.monotonic()
            pair.gp.kill()
            pair.px.kill()
            if proxy == 'qemu':
                time.sleep(max(0.0, t_kill + HB_TIMEOUT - time.monotonic()))
                pair.qs.cmd('x-colo-lost-heartbeat')
                for f in ('f2', 'f1'):
                    pair.qs.cmd('object-del', {'id': f})
                pair.qs.cmd('announce-self', {'initial': 50, 'max': 550,
                                              'rounds': 5, 'step': 100})
            cp.wait_for(lambda: pair.qs.cmd('query-colo-status')['mode'] ==
                        'none', 5, what='the secondary QEMU out of COLO')
            t_out = time.monotonic() - t_kill
            cp.wait_for(lambda: pair.qs.cmd('query-status')['status'] ==
                        'running', 10, what='the secondary VM running')
            time.sleep(2.0)
            e = echo.stop()
            cp.check(not e['error'], f'echo across failover: {e["error"]}')
            r['failover_worst'] = e['worst']
            r['failover_qemu_out'] = t_out
            say(f'[{proxy}] failover: secondary QEMU out of COLO '
                f'{t_out * 1000:.0f} ms after the kill; echo {e["lines"]} '
                f'lines byte-exact, worst round trip '
                f'{e["worst"] * 1000:.0f} ms')
        finally:
            pair.stop()
    return r


STEADY_DELAY_MS = 300
# the periodic phase's requests start on a fixed schedule, the same for
# both pairs: a faster pair must not do more guest work (dirty more
# memory) between two checkpoints than the slower one
CGI_PERIOD = 0.07
STATIC_PERIOD = 0.06


def header_names(raw):
    head = raw.partition('\r\n\r\n')[0].split('\r\n')[1:]
    return ', '.join(h.split(':')[0] for h in head)


def check_static(results):
    """Every static page /k byte-exact; returns the times."""
    body_of = vmguest.guest_pages()
    times = []
    for path, dt, raw in (x[:3] for x in results):
        status, body = cp.split_http(raw)
        cp.check(status.endswith('200 OK'), f'{path}: {status!r}')
        cp.check(body.encode('latin-1') == body_of(int(path[1:])),
                 f'body of {path}: {body[:200]!r}')
        times.append(dt)
    return times


def median_diff_ci(a, b, n=2000, seed=12):
    """95 % bootstrap interval of median(b) - median(a)."""
    rnd = random.Random(seed)
    ds = sorted(statistics.median(rnd.choices(b, k=len(b))) -
                statistics.median(rnd.choices(a, k=len(a)))
                for _ in range(n))
    return ds[int(n * .025)], ds[int(n * .975)]


def pool(rs):
    """One pair's rounds as one result: samples joined, failover the
    median of the rounds' worst round trips."""
    if len(rs) == 1:
        return rs[0]
    out = {'proxy': rs[0]['proxy']}
    for k in ('periodic', 'static', 'first_byte', 'segments',
              'static_segments', 'miscompare', 'downtime', 'steady',
              'miscompare_downtime', 'periodic_downtime'):
        out[k] = [x for r in rs for x in r[k]]
    out['periodic_phase_s'] = sum(r['periodic_phase_s'] for r in rs)
    out['failover_worst'] = statistics.median(r['failover_worst'] for r in rs)
    out['periodic_checkpoints'] = sum(r['periodic_checkpoints'] for r in rs)
    if 'proxy_requests' in rs[0]:
        out['proxy_requests'] = {}
        for r in rs:
            for k, v in r['proxy_requests'].items():
                out['proxy_requests'][k] = out['proxy_requests'].get(k, 0) + v
    out['rounds'] = rs
    return out


ROWS = [
    ('CGI request p50, periodic checkpoints',
     lambda r: cp.pct(r['periodic'], .5)),
    ('CGI request p99, periodic checkpoints',
     lambda r: cp.pct(r['periodic'], .99)),
    ('CGI request max, periodic checkpoints', lambda r: max(r['periodic'])),
    ('  its first reply byte p50', lambda r: cp.pct(r['first_byte'], .5)),
    ('static page p50, periodic checkpoints',
     lambda r: cp.pct(r['static'], .5)),
    ('static page p99, periodic checkpoints',
     lambda r: cp.pct(r['static'], .99)),
    ('miscompared request (median)',
     lambda r: statistics.median(r['miscompare'])),
    ('checkpoint downtime median, steady',
     lambda r: statistics.median(r['steady'])),
    ('checkpoint downtime p90, steady', lambda r: cp.pct(r['steady'], .9)),
    ('checkpoint downtime median, miscompares',
     lambda r: statistics.median(r['miscompare_downtime'])),
    ('checkpoint downtime median, periodic',
     lambda r: statistics.median(r['periodic_downtime'])),
    ('checkpoint downtime p90, periodic',
     lambda r: cp.pct(r['periodic_downtime'], .9)),
    ('worst echo round trip across failover', lambda r: r['failover_worst']),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--requests', type=int, default=200)
    ap.add_argument('--miscompares', type=int, default=5)
    ap.add_argument('--steady', type=float, default=25.0)
    ap.add_argument('--rounds', type=int, default=1)
    ap.add_argument('--only', choices=('colo-proxy', 'qemu'))
    ap.add_argument('--json')
    args = ap.parse_args()
    qemu, fw = cp.bench_setup('bench_colo_vm', args.build, say)
    say(f'QEMU {qemu} ({vmguest.accel(log=say)}); load average '
        f'{os.getloadavg()[0]:.2f} at start')
    rounds = {}
    order = ('colo-proxy', 'qemu')
    for k in range(args.rounds):
        for proxy in (order if k % 2 == 0 else order[::-1]):
            if args.only and proxy != args.only:
                continue
            try:
                rounds.setdefault(proxy, []).append(
                    measure(proxy, qemu, fw, args))
            except (cp.TestFailure, cp.QMPError, TimeoutError, EOFError,
                    OSError, RuntimeError) as e:
                sys.exit(f'bench_colo_vm: the {proxy} pair: {e}')
    results = {p: pool(rs) for p, rs in rounds.items()}
    say(f'load average {os.getloadavg()[0]:.2f} at the end')
    say('')
    say(f'{"figure (ms, lower is better)":40s} {"colo-proxy":>11s} '
        f'{"QEMU":>11s} {"QEMU/colo-proxy":>16s}')
    for name, fn in ROWS:
        vals = [fn(results[p]) if p in results else None
                for p in ('colo-proxy', 'qemu')]
        cells = ['%11.1f' % (v * 1000) if v is not None else '%11s' % '-'
                 for v in vals]
        ratio = (f'{vals[1] / vals[0]:16.2f}' if None not in vals and vals[0]
                 else '%16s' % '-')
        say(f'{name:40s} {cells[0]} {cells[1]} {ratio}')
    if len(results) == 2:
        lo, hi = median_diff_ci(results['colo-proxy']['steady'],
                                results['qemu']['steady'])
        verdict = ('it holds 0: no difference this run can tell'
                   if lo <= 0 <= hi else
                   'colo-proxy shorter' if lo > 0 else 'colo-proxy longer')
        say(f'steady downtime, median(QEMU) - median(colo-proxy): 95 % '
            f'interval [{lo * 1000:+.2f}, {hi * 1000:+.2f}] ms over '
            f'{len(results["colo-proxy"]["steady"])} / '
            f'{len(results["qemu"]["steady"])} checkpoints ({verdict})')
    say('reply segments (data segments the client received), mean: CGI '
        + ', '.join(f'{p} {statistics.mean(results[p]["segments"]):.2f}'
                    for p in results)
        + '; static ' + ', '.join(
            f'{p} {statistics.mean(results[p]["static_segments"]):.2f}'
            for p in results))
    say(f'checkpoints during the {2 * args.requests} requests: ' + ', '.join(
        f'{p} {results[p]["periodic_checkpoints"]} in '
        f'{results[p]["periodic_phase_s"]:.1f} s, guest stopped '
        f'{sum(results[p]["periodic_downtime"]) * 1000:.0f} ms '
        f'({sum(results[p]["periodic_downtime"]) / results[p]["periodic_phase_s"] * 100:.2f} %)'
        for p in results)
        + (f' (colo-proxy asked for {results["colo-proxy"]["proxy_requests"]}'
           ' of its pair\'s)' if 'colo-proxy' in results else ''))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
