#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Experiment: hunt slow requests under periodic checkpoints and show each
one's frames on both sides.

RUNS times: the bench's real pair (colo-proxy's), 400 requests (N=) 50 ms
apart, CGI pages and static pages interleaved, x-checkpoint-delay 2000.  Each
colo-proxy records its guest's input and output with filter-dumps; for every
request slower than 0.5 s it prints the connection's frames from the four
dumps (p-in, p-out, s-in, s-out: what colo-proxy wrote to and read from each
QEMU) between both QEMUs' STOP / RESUME events, and keeps the dumps in
$OUT_DIR/keepN/.  How docs/performance.md's "The slow requests explained"
was found.

HUNT=miscompare shows also the requests whose connection colo-compare
found different for a reason other than the payload (HUNT_ALL=1: any);
PATHS=static asks for static pages only."""
import collections
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'vm'))
import colopair as cp                                   # noqa: E402


def say(*a):
    print(*a, flush=True)


def load(pcap):
    """{client port: [(time, 'C'|'S', flags, len, seq, ack)]} of port 80."""
    out = subprocess.run(
        ['tshark', '-r', pcap, '-T', 'fields', '-e', 'frame.time_epoch',
         '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.flags',
         '-e', 'tcp.len', '-e', 'tcp.seq', '-e', 'tcp.ack'],
        capture_output=True, text=True).stdout
    conns = collections.defaultdict(list)
    for line in out.splitlines():
        f = line.split('\t')
        if len(f) < 7 or not f[1]:
            continue
        sp, dp = int(f[1]), int(f[2])
        conns[dp if sp == 80 else sp].append(
            (float(f[0]), 'S' if sp == 80 else 'C', int(f[3], 16),
             int(f[4] or 0), int(f[5]), int(f[6])))
    return conns


def main():
    qemu, fw = cp.bench_setup('slowreq',
                              os.environ.get('BUILD', os.path.join(
                                  HERE, '..', '..', 'build')), say)
    n = int(os.environ.get('N', 400))
    runs = int(os.environ.get('RUNS', 20))
    d = os.environ.get('OUT_DIR', '/tmp/slowreq')
    os.makedirs(d, exist_ok=True)
    pa, sa = cp.primary_proxy_args, cp.secondary_proxy_args
    cp.primary_proxy_args = lambda run, *a, **k: pa(run, *a, **k) + [
        '-object', f'filter-dump,id=pin,netdev=hn0,queue=tx,file={d}/p-in.pcap',
        '-object', f'filter-dump,id=pout,netdev=hn0,queue=rx,'
                   f'file={d}/p-out.pcap']
    cp.secondary_proxy_args = lambda run, *a, **k: sa(run, *a, **k) + [
        '-object', f'filter-dump,id=sin,netdev=hn0,queue=tx,'
                   f'file={d}/s-in.pcap']
    for run in range(runs):
        with cp.NetNS() as ns:
            pair = cp.Pair(ns, 'm', 'e1000', False, qemu, fw)
            try:
                pair.start()
                pair.proxies_ready()
                cp.http_seq(pair.ns, pair.c,
                            [f'/cgi-bin/page?{k}' for k in range(1, 21)])
                pair.qp.cmd('migrate-set-parameters',
                            {'x-checkpoint-delay': 2000})
                time.sleep(1)
                t0 = time.time()
                log0 = len(pair.px.stderr().splitlines())
                static = os.environ.get('PATHS') == 'static'
                res = cp.http_seq(pair.ns, pair.c, [
                    f'/cgi-bin/page?{1 + k % 20}' if k % 2 and not static
                    else f'/{1 + k % 32}' for k in range(n)], gap=0.05)
                pair.qp.cmd('migrate-set-parameters',
                            {'x-checkpoint-delay': cp.QUIET_DELAY_MS})
                time.sleep(0.3)
                qpe = cp.take_events(pair.qp, ('STOP', 'RESUME'))
                qse = cp.take_events(pair.qs, ('STOP', 'RESUME'))
                slow = [r for r in res if r[1] > 0.5]
                if os.environ.get('HUNT') == 'miscompare':
                    # the requests whose connection miscompared (for a
                    # reason other than payload unless HUNT_ALL=1)
                    mis = {}
                    for ln in pair.px.stderr().splitlines()[log0:]:
                        if 'miscompare on' in ln:
                            port = ln.split('miscompare on')[1].split(
                                ':')[-1].split()[0]
                            why = ln.rsplit('(', 1)[-1].rstrip(')')
                            if why != 'payload' or os.environ.get(
                                    'HUNT_ALL'):
                                mis[int(port)] = why
                    slow = [r for r in res if r[3] in mis or r[1] > 0.5]
                    say('miscompares', mis)
                say('run', run, 'requests', len(res), 'slow',
                    [(r[0], round(r[1], 3), r[3]) for r in slow], 'max',
                    round(max(r[1] for r in res), 3), 'checkpoints',
                    sum(1 for e in qpe if e['event'] == 'STOP'))
                if not slow:
                    continue
                dumps = {k: load(f) for k, f in (
                    ('p-in', f'{d}/p-in.pcap'), ('p-out', f'{d}/p-out.pcap'),
                    ('s-in', f'{d}/s-in.pcap'),
                    ('s-out', os.path.join(pair.srun, 'secondary-out.pcap')))}
                ev = sorted([(cp.ev_time(e) - t0, 'P' + e['event'])
                             for e in qpe] +
                            [(cp.ev_time(e) - t0, 'S' + e['event'])
                             for e in qse])
                for r in slow:
                    rows = [(pk[0] - t0, k, pk) for k, c in dumps.items()
                            for pk in c.get(r[3], [])]
                    if not rows:
                        continue
                    lo = min(x[0] for x in rows) - 2.25
                    hi = max(x[0] for x in rows) + 0.01
                    rows += [(t, 'EVENT ' + e, None) for t, e in ev
                             if lo <= t <= hi]
                    say('SLOW', r[0], r[1], r[3])
                    for t, k, pk in sorted(rows, key=lambda x: x[0]):
                        if pk is None:
                            say('  %9.4f %s' % (t, k))
                        else:
                            say('  %9.4f %-5s %s flags %03x len %d seq %d '
                                'ack %d' % ((t, k) + pk[1:]))
                os.system(f'mkdir -p {d}/keep{run}; cp {d}/*.pcap '
                          f'{pair.srun}/secondary-out.pcap {d}/keep{run}/')
            finally:
                pair.stop()


if __name__ == '__main__':
    main()
