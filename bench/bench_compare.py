#!/usr/bin/env python3
"""bench_compare - colo-compare throughput, latency and CPU: colo-proxy
against QEMU 7.2's colo-compare, in the same run.

    python3 bench/bench_compare.py [--build DIR] [--count N] [--runs R]
                                   [--sizes 64,512,1448] [--rate FPS]
                                   [--no-qemu] [--json FILE]

For each implementation and payload size, a fresh process is started
with three TCP socket chardevs (server, nodelay=on) and a colo-compare
(QEMU: -M none -nodefaults with -object iothread, which its compare
needs; colo-proxy: the same command line); bench/compare-load feeds the
same valid TCP flows (SYN-ACK, then data segments) to primary_in and
secondary_in, reads outdev and checks every primary frame exactly once
and in order per flow.  Measured:

  frames/s, MB/s     unpaced, at most --window frames in flight
  CPU s / Mframes    utime+stime of the compare process during the run
  p50 / p99 latency  a paced run: one pair at a time, at most --rate per
                     second (added latency: from writing the pair to
                     reading the frame back; the load generator spins
                     while a frame is on its way, so its own wake-up is
                     not measured, and leaves the first 250 ms out)

The throughput runs use the iothread as created by default (QEMU's
defaults).  The latency runs give both implementations the same
iothread options, --latency-iothread (default poll-max-ns=1000000,
poll-shrink=1: look for the next event for up to 1 ms before sleeping,
as QEMU's AioContext does with those settings).  On a virtual machine
whose idle CPUs halt, waking a sleeping thread costs tens of
microseconds and now and then a whole scheduler tick; QEMU's
colo-compare runs on the iothread's GLib context, which never polls,
so the options change nothing for it.  Our latency with the default
iothread is printed as well, and the compare's CPU use during the paced
runs (what the polling costs), and the floor: bench/null-compare, which
forwards primary_in to outdev as soon as secondary_in has caught up,
spinning and sleeping (--no-floor to skip).  With 2 or more CPUs, the compare runs on
the last CPU and the load generator on CPU 0 in the latency runs, so
that a polling thread and the generator never share a CPU (--no-pin to
let the scheduler choose); the throughput runs are never pinned.

Each figure is the median of --runs runs ("lost" is the worst run; a
run in which the compare released nothing at all is left out of the
medians and counted as "failed": QEMU 7.2 does that now and then).  Prints a table and the ratios
colo-proxy / QEMU.  This is a benchmark, not a test: the machine it runs
on (shared, 2 cores) is noisy; CPU per frame is the steadiest figure.
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


def cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    tick = os.sysconf('SC_CLK_TCK')
    return (int(fields[11]) + int(fields[12])) / tick


def chardevs(ports):
    a = []
    for name, port in zip(('pri', 'sec', 'out'), ports):
        a += ['-chardev', f'socket,id={name},host=127.0.0.1,port={port},'
              'server=on,wait=off,nodelay=on']
    return a


NICE = []
PIN_COMPARE = []
PIN_LOAD = []


def start(kind, build, ports, iothread_opts=None, pinned=False):
    compare = ('colo-compare,id=comp0,primary_in=pri,secondary_in=sec,'
               'outdev=out,iothread=t0')
    if kind.startswith('null'):
        argv = [os.path.join(build, 'bench', 'null-compare'),
                '--pri', str(ports[0]), '--sec', str(ports[1]),
                '--out', str(ports[2])]
        if kind == 'null-spin':
            argv.append('--spin')
        p = subprocess.Popen(NICE + (PIN_COMPARE if pinned else []) + argv,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
        time.sleep(0.2)
        return p
    if kind == 'colo-proxy':
        argv = [os.path.join(build, 'system', 'colo-proxy')]
    else:
        argv = ['qemu-system-x86_64', '-M', 'none', '-nodefaults',
                '-display', 'none']
    iothread = 'iothread,id=t0' + (f',{iothread_opts}' if iothread_opts
                                   else '')
    argv += ['-object', iothread] + chardevs(ports)
    pin = PIN_COMPARE if pinned else []
    argv = NICE + pin + argv + ['-object', compare]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', ports[2]), 0.2).close()
            break
        except OSError:
            if p.poll() is not None:
                raise RuntimeError(f'{kind} exited: '
                                   f'{p.stderr.read().decode()}')
            time.sleep(0.05)
    # the probe connection above was accepted and dropped; let it settle
    time.sleep(0.2)
    return p


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def run_load(kind, build, size, count, flows, window, rate=0,
             iothread_opts=None):
    """Paced runs (rate > 0) are pinned, throughput runs are not."""
    ports = free_ports(3)
    p = start(kind, build, ports, iothread_opts, pinned=rate > 0)
    try:
        c0 = cpu_seconds(p.pid)
        pin = PIN_LOAD if rate > 0 else []
        argv = NICE + pin + [os.path.join(build, 'bench', 'compare-load'),
                '--pri', str(ports[0]), '--sec', str(ports[1]),
                '--out', str(ports[2]), '--size', str(size),
                '--count', str(count), '--flows', str(flows),
                '--window', str(window)]
        if rate:
            argv += ['--rate', str(rate)]
        out = subprocess.run(argv, capture_output=True, text=True,
                             timeout=600)
        c1 = cpu_seconds(p.pid)
        r = json.loads(out.stdout)
        r['cpu_s'] = c1 - c0
        r['cpu_s_per_mframe'] = (c1 - c0) / max(r['received'], 1) * 1e6
        r['cpu_pct'] = 100 * (c1 - c0) / max(r['elapsed_s'], 1e-9)
        r['alive'] = p.poll() is None
        return r
    finally:
        stop(p)


def med(rs, key):
    """Median over the runs that delivered anything (a run where the
    compare released nothing is reported in 'failed_runs')."""
    ok = [r[key] for r in rs if r['received']] or [0]
    return statistics.median(ok)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    ap.add_argument('--count', type=int, default=500000)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--sizes', default='64,512,1448')
    ap.add_argument('--flows', type=int, default=64)
    ap.add_argument('--window', type=int, default=16384)
    ap.add_argument('--rate', type=int, default=5000)
    ap.add_argument('--rate-count', type=int, default=20000)
    ap.add_argument('--latency-iothread',
                    default='poll-max-ns=1000000,poll-shrink=1',
                    help='iothread options of both compares in the latency '
                    'runs ("" = defaults)')
    ap.add_argument('--iothread', default=None,
                    help='iothread options of both compares in the '
                    'throughput runs (default: none, QEMU\'s defaults)')
    ap.add_argument('--no-pin', action='store_true')
    ap.add_argument('--no-floor', action='store_true',
                    help='skip the null compare (bench/null-compare) that '
                    'shows what the harness and the wake-ups cost alone')
    ap.add_argument('--no-qemu', action='store_true')
    ap.add_argument('--nice', type=int,
                    help='run the compares and the load at this nice level '
                    '(both implementations alike; e.g. -10 on a busy '
                    'machine, needs root)')
    ap.add_argument('--json')
    args = ap.parse_args()
    if args.nice is not None:
        NICE[:] = ['nice', '-n', str(args.nice)]
    ncpu = os.cpu_count() or 1
    if not args.no_pin and ncpu >= 2 and shutil.which('taskset'):
        PIN_COMPARE[:] = ['taskset', '-c', str(ncpu - 1)]
        PIN_LOAD[:] = ['taskset', '-c', '0']
    build = os.path.abspath(args.build)
    kinds = ['colo-proxy']
    if not args.no_qemu and shutil.which('qemu-system-x86_64'):
        kinds.append('qemu-7.2')
    sizes = [int(s) for s in args.sizes.split(',')]
    results = {k: {} for k in kinds}
    for size in sizes:
        runs = {k: [] for k in kinds}
        for i in range(args.runs):
            for k in kinds:          # interleaved: same machine conditions
                runs[k].append(run_load(k, build, size, args.count,
                                        args.flows, args.window, 0,
                                        args.iothread))
        for k in kinds:
            rs = runs[k]
            results[k][size] = {
                'fps': med(rs, 'fps'), 'mbps': med(rs, 'mbps'),
                'cpu_s_per_mframe': med(rs, 'cpu_s_per_mframe'),
                'missing': max(r['missing'] for r in rs),
                'dup': max(r['dup'] for r in rs),
                'reordered': max(r['reordered'] for r in rs),
                'bad': max(r['bad'] for r in rs),
                'failed_runs': sum(1 for r in rs if not r['received']),
                'runs': rs,
            }
    lat = {}
    series = [(k, k, args.latency_iothread) for k in kinds]
    if args.latency_iothread:
        series.insert(1, ('colo-proxy (default iothread)', 'colo-proxy', ''))
    if not args.no_floor and os.access(os.path.join(build, 'bench',
                                                    'null-compare'), os.X_OK):
        series += [('floor: null compare, spinning', 'null-spin', ''),
                   ('floor: null compare, sleeping', 'null', '')]
    for name, k, opts in series:
        rs = [run_load(k, build, 64, args.rate_count, args.flows,
                       args.window, args.rate, opts)
              for _ in range(args.runs)]
        lat[name] = {'p50_us': med(rs, 'lat_p50_us'),
                     'p99_us': med(rs, 'lat_p99_us'),
                     'fps': med(rs, 'fps'),
                     'cpu_pct': med(rs, 'cpu_pct'),
                     'iothread': opts,
                     'missing': max(r['missing'] for r in rs),
                     'failed_runs': sum(1 for r in rs if not r['received']),
                     'runs': rs}

    print(f'colo-compare benchmark: {args.count} frames per run, '
          f'{args.flows} TCP flows, median of {args.runs} runs')
    print(f'{"impl":<11} {"size":>5} {"frames/s":>10} {"MB/s":>8} '
          f'{"CPU s/Mfr":>9} {"lost":>6} {"dup":>4} {"reord":>5} {"failed":>6}')
    for size in sizes:
        for k in kinds:
            r = results[k][size]
            print(f'{k:<11} {size:>5} {r["fps"]:>10.0f} {r["mbps"]:>8.1f} '
                  f'{r["cpu_s_per_mframe"]:>9.2f} {r["missing"]:>6} '
                  f'{r["dup"]:>4} {r["reordered"]:>5} {r["failed_runs"]:>6}')
    print(f'paced latency, 64-byte payload, one pair at a time, at most '
          f'{args.rate}/s; iothread options: '
          f'{args.latency_iothread or "(defaults)"}:')
    for name in lat:
        r = lat[name]
        print(f'  {name:<31} p50 {r["p50_us"]:6.1f} us  '
              f'p99 {r["p99_us"]:6.1f} us  at {r["fps"]:.0f}/s  '
              f'CPU {r["cpu_pct"]:3.0f}%  lost {r["missing"]}  '
              f'failed runs {r["failed_runs"]}')
    if 'qemu-7.2' in kinds:
        print('ratios colo-proxy / QEMU:')
        for size in sizes:
            a, b = results['colo-proxy'][size], results['qemu-7.2'][size]
            print(f'  {size:>5}: frames/s x{a["fps"] / max(b["fps"], 1):.2f}'
                  f'  CPU/frame x{a["cpu_s_per_mframe"] / max(b["cpu_s_per_mframe"], 1e-9):.2f}')
        q50 = lat['qemu-7.2']['p50_us']
        print(f'  latency: our p99 {lat["colo-proxy"]["p99_us"]:.1f} us vs '
              f'QEMU p50 {q50:.1f} us '
              f'(x{lat["colo-proxy"]["p99_us"] / max(q50, 1e-9):.2f})')
        d = lat.get('colo-proxy (default iothread)')
        if d:
            print(f'  latency, our default iothread: p99 {d["p99_us"]:.1f} '
                  f'us (x{d["p99_us"] / max(q50, 1e-9):.2f} of QEMU p50)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'throughput': results, 'latency': lat,
                       'args': vars(args)}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
