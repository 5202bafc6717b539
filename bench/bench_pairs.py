#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_pairs - many VM pairs in one colo-proxy process: how frames/s and
added latency scale from 1 to 16 pairs, and the memory of an idle pair,
against QEMU, which needs one process per VM.

    python3 bench/bench_pairs.py [--build DIR] [--pairs 1,2,4,8,16]
        [--size 512] [--total N] [--rate FPS] [--seconds S] [--runs R]
        [--idle 16] [--no-qemu] [--json FILE]

Topology: one colo-proxy with N pairs, each a colo-frame (driver=event,
mode=primary), three TCP socket chardevs (server) and a colo-compare
bound to its frame with frame= on its own (default) iothread -- what
docs/user-guide.md's "one process per host" layout runs.  One
bench/compare-load per pair feeds valid TCP flows to the pair's
primary_in and secondary_in at the same time as the others, reads its
outdev and checks every primary frame exactly once and in order.

  throughput   unpaced, --total frames shared out over the N pairs (the
               same work at every N): aggregate frames/s (all frames over
               the wall time from the first load's start to the last
               one's end), lost/duplicated/reordered
  latency      paced, --rate frame pairs per second in EACH pair for
               --seconds (the load grows with N, as it does when pairs are
               added to a host): added latency p50 (median of the pairs'
               p50) and p99 (worst pair's p99), from writing a frame pair
               to reading the frame back
  memory       RSS and PSS (/proc/PID/smaps_rollup) of a colo-proxy with
               --idle idle pairs minus one without any, per pair; and the
               same for QEMU 7.2 (-M none -nodefaults, an iothread, three
               chardevs and a colo-compare, as bench/bench_compare.py
               runs it): one QEMU process per pair, so a pair costs a
               whole process there

Figures move with the machine's load (a shared 2-CPU machine: the load
generators compete with the compares for the same two CPUs); each is the
median of --runs runs.  This is a benchmark, not a test.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def pair_args(k, ports, frame=True):
    a = []
    for name, port in zip(('pri', 'sec', 'out'), ports):
        a += ['-chardev', f'socket,id={name}{k},host=127.0.0.1,port={port},'
              'server=on,wait=off']
    fr = ''
    if frame:
        a += ['-object', f'colo-frame,id=f{k},mode=primary,driver=event']
        fr = f',frame=f{k}'
    else:
        # QEMU: no colo-frame object; its colo-compare needs an iothread
        a += ['-object', f'iothread,id=t{k}']
        fr = f',iothread=t{k}'
    a += ['-object', f'colo-compare,id=c{k},primary_in=pri{k},'
          f'secondary_in=sec{k},outdev=out{k}{fr}']
    return a


def wait_listening(p, port, what):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            if p.poll() is not None:
                raise RuntimeError(f'{what} exited: {p.stderr.read().decode()}')
            time.sleep(0.05)
    raise RuntimeError(f'{what}: port {port} never listened')


def start_proxy(build, n):
    """colo-proxy with n pairs; returns (process, [ports per pair]).  A
    port taken between choosing and binding it (other users of the
    machine) is chosen again."""
    for attempt in range(5):
        try:
            return start_proxy_once(build, n)
        except RuntimeError as e:
            if 'Address already in use' not in str(e) or attempt == 4:
                raise
    raise AssertionError('unreachable')


def cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def start_proxy_once(build, n):
    ports = [free_ports(3) for _ in range(n)]
    argv = [os.path.join(build, 'system', 'colo-proxy')]
    for k in range(n):
        argv += pair_args(k, ports[k])
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for k in range(n):
        wait_listening(p, ports[k][2], 'colo-proxy')
    time.sleep(0.3)        # the probe connections settle
    return p, ports


def start_qemu(exe, ports):
    argv = [exe, '-M', 'none', '-nodefaults', '-display', 'none']
    argv += pair_args(0, ports, frame=False)
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_listening(p, ports[2], 'qemu')
    return p


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def mem_kib(pid):
    rss = pss = 0
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            if line.startswith('Rss:'):
                rss = int(line.split()[1])
            elif line.startswith('Pss:'):
                pss = int(line.split()[1])
    return rss, pss


def run_loads(build, ports, size, count, rate=0, flows=4, window=64):
    """One compare-load per pair, all at once; (their JSON results, wall
    seconds from the first start to the last end)."""
    procs = []
    t0 = time.monotonic()
    for pp in ports:
        argv = [os.path.join(build, 'bench', 'compare-load'),
                '--pri', str(pp[0]), '--sec', str(pp[1]),
                '--out', str(pp[2]), '--size', str(size),
                '--count', str(count), '--flows', str(flows),
                '--window', str(window)]
        if rate:
            argv += ['--rate', str(rate)]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    out = []
    for q in procs:
        o, e = q.communicate(timeout=900)
        if q.returncode != 0:
            raise RuntimeError(f'compare-load failed: {e}')
        out.append(json.loads(o))
    return out, time.monotonic() - t0


def one_run(build, n, args):
    p, ports = start_proxy(build, n)
    try:
        per = max(args.total // n, 200)
        c0 = cpu_seconds(p.pid)
        t, wall = run_loads(build, ports, args.size, per)
        cpu = cpu_seconds(p.pid) - c0
        # over the wall time of the whole set (process starts included:
        # the loads must overlap for the sum to mean anything, so --total
        # keeps each run seconds long)
        fps = sum(r['received'] for r in t) / wall
        lost = sum(r['missing'] for r in t)
        dup = sum(r['dup'] + r['reordered'] + r['bad'] for r in t)
        count = max(int(args.rate * args.seconds), 100)
        lat, _ = run_loads(build, ports, args.size, count, rate=args.rate)
        p50 = statistics.median(r['lat_p50_us'] for r in lat)
        p99 = max(r['lat_p99_us'] for r in lat)
        lost += sum(r['missing'] for r in lat)
        alive = p.poll() is None
    finally:
        stop(p)
    return {'pairs': n, 'fps': fps, 'cpu_pct': 100 * cpu / wall,
            'cpu_us_per_frame': cpu * 1e6 / max(fps * wall, 1), 'p50_us': p50, 'p99_us': p99,
            'lost': lost, 'dup_or_reordered': dup, 'alive': alive}


def memory(build, idle, qemu):
    res = {}
    # a process without pairs: the QMP-less baseline
    base = subprocess.Popen([os.path.join(build, 'system', 'colo-proxy'),
                             '-chardev', 'socket,id=x,host=127.0.0.1,'
                             f'port={free_ports(1)[0]},server=on,wait=off'],
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    r0, s0 = mem_kib(base.pid)
    stop(base)
    p, _ = start_proxy(build, idle)
    time.sleep(1.0)
    r1, s1 = mem_kib(p.pid)
    stop(p)
    res['colo-proxy'] = {'base_rss_kib': r0, 'base_pss_kib': s0,
                         'idle_pairs': idle, 'rss_kib': r1, 'pss_kib': s1,
                         'rss_per_pair_kib': (r1 - r0) / idle,
                         'pss_per_pair_kib': (s1 - s0) / idle}
    if qemu:
        qs = [start_qemu(qemu, free_ports(3)) for _ in range(min(idle, 4))]
        time.sleep(1.0)
        m = [mem_kib(q.pid) for q in qs]
        for q in qs:
            stop(q)
        res['qemu-7.2'] = {'processes': len(qs),
                           'rss_per_pair_kib': statistics.median(x[0] for x in m),
                           'pss_per_pair_kib': statistics.median(x[1] for x in m)}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    ap.add_argument('--pairs', default='1,2,4,8,16')
    ap.add_argument('--size', type=int, default=512)
    ap.add_argument('--total', type=int, default=2000000)
    ap.add_argument('--rate', type=int, default=200)
    ap.add_argument('--seconds', type=float, default=3.0)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--idle', type=int, default=16)
    ap.add_argument('--no-qemu', action='store_true')
    ap.add_argument('--json')
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    qemu = None if args.no_qemu else shutil.which('qemu-system-x86_64')

    with open('/proc/loadavg') as f:
        load = f.read().split()[:3]
    print(f'machine: {os.cpu_count()} CPUs, load average {" ".join(load)} '
          'at start')
    rows = []
    for n in [int(x) for x in args.pairs.split(',')]:
        runs = [one_run(build, n, args) for _ in range(args.runs)]
        row = {k: statistics.median(r[k] for r in runs)
               for k in ('fps', 'cpu_pct', 'cpu_us_per_frame', 'p50_us',
                         'p99_us')}
        row.update(pairs=n, lost=max(r['lost'] for r in runs),
                   dup_or_reordered=max(r['dup_or_reordered'] for r in runs),
                   alive=all(r['alive'] for r in runs), runs=runs)
        rows.append(row)
        print(f'{n:3d} pairs: {row["fps"]:10.0f} frames/s aggregate '
              f'({args.size} B, unpaced; colo-proxy CPU {row["cpu_pct"]:.0f} %, '
              f'{row["cpu_us_per_frame"]:.2f} us/frame);  '
              f'{args.rate} fps/pair paced: '
              f'p50 {row["p50_us"]:7.0f} us  p99 {row["p99_us"]:8.0f} us;  '
              f'lost {row["lost"]}  dup/reordered {row["dup_or_reordered"]}',
              flush=True)
    mem = memory(build, args.idle, qemu)
    c = mem['colo-proxy']
    print(f'memory: colo-proxy {c["base_rss_kib"]} KiB RSS without pairs, '
          f'{c["rss_kib"]} KiB with {c["idle_pairs"]} idle pairs: '
          f'{c["rss_per_pair_kib"]:.0f} KiB RSS '
          f'({c["pss_per_pair_kib"]:.0f} KiB PSS) per pair')
    if 'qemu-7.2' in mem:
        q = mem['qemu-7.2']
        print(f'        QEMU 7.2 (one process per pair): '
              f'{q["rss_per_pair_kib"]:.0f} KiB RSS '
              f'({q["pss_per_pair_kib"]:.0f} KiB PSS) per pair')
    with open('/proc/loadavg') as f:
        load = f.read().split()[:3]
    print(f'load average at the end: {" ".join(load)}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'rows': rows, 'memory': mem, 'args': vars(args)}, f,
                      indent=1)
    return 0 if all(r['alive'] and not r['lost'] for r in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
