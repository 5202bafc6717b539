#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_tls - what TLS on the links between the hosts costs (issue 18):
colo-compare and the mirror path with TLS against plain, in the same run,
at 64, 512 and 1448 B.

    python3 bench/bench_tls.py [--build DIR] [--runs R] [--sizes 64,512,1448]
        [--count N] [--rate FPS] [--rate-count N] [--mirror-frames N]
        [--no-qemu] [--json FILE]

colo-compare (bench/compare-load feeds valid TCP flows, checks every frame
once and in order, measures added latency; see bench_compare.py):

  qemu-7.2        QEMU 7.2's colo-compare, plain chardevs, fed directly
  direct          ours, plain chardevs, fed directly
  hop-plain       ours, with the secondary's frames coming the way they
                  do in a pair: load -> a second colo-proxy (-netdev
                  socket, filter-redirector outdev=red1) -> tcp -> the
                  compare's secondary_in
  hop-tls         the same with tls-creds-x509 on red1 and secondary_in
                  (server with tls-authz): the only difference to hop-plain
  qemu-hop        QEMU 7.2's colo-compare behind the same relay, plain:
                  the like-for-like row for "over TLS still ahead of
                  QEMU's plain colo-compare" (hop-tls against qemu-hop:
                  the same processes and hops, only the compare and TLS
                  differ); qemu-7.2 (fed directly) has one hop less

  CPU per frame of the hop rows counts both processes (the TLS work is on
  both ends).  The TLS cost is hop-tls / hop-plain.

mirror path (bench/frame-gen; bench_mirror.py's pipeline: load ->
primary filter-mirror -> chardev -> secondary filter-redirector -> the
secondary's guest), plain against tls-creds-x509 on the mirror link:
frames/s delivered to the secondary's guest and CPU per delivered frame
of both processes (the mirror drops copies the secondary cannot take in
time: "delivered" says how many of --mirror-frames arrived), and the
added latency of a frame from the load to the secondary's guest (paced,
500/s, Python).  QEMU 7.2's compare releases nothing in some unpaced
runs (frames/s 0, "missing" = all): compare its paced latency then.

Targets of issue 18: TLS at most 2x the CPU per frame at 1448 B, and
colo-compare over TLS still ahead of QEMU's plain colo-compare.  A
benchmark, not a test: on a shared 2-CPU machine compare within a run.
"""

import argparse
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRC, 'tests', 'qtest'))

import bench_compare as bc        # noqa: E402
import bench_mirror as bm         # noqa: E402
import tlscerts                   # noqa: E402


def tls_server_objs(pki):
    ident = pki.client_dn.replace(',', ',,')
    return ['-object', f'tls-creds-x509,id=tls0,dir={pki.server_dir},'
                       'endpoint=server',
            '-object', f'authz-simple,id=auth0,identity={ident}']


def tls_client_objs(pki):
    return ['-object', f'tls-creds-x509,id=tls0,dir={pki.client_dir},'
                       'endpoint=client']


# --- colo-compare ---------------------------------------------------------

def wait_port(port, p, what):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            if p.poll() is not None:
                raise RuntimeError(f'{what} exited: '
                                   f'{p.stderr.read().decode()}')
            time.sleep(0.05)


def start_hop(build, ports, tls, pki, qemu=False):
    """The compare (pri, out plain; sec over the hop) and the relay; the
    compare is QEMU 7.2's with 'qemu' (plain only).  Returns (procs, ports
    compare-load uses)."""
    exe = os.path.join(build, 'system', 'colo-proxy')
    pri, sec, out, load_sec, sink = ports
    if qemu:
        pc = bc.start('qemu-7.2', build, (pri, sec, out), pinned=False)
    else:
        sec_opts = ',tls-creds=tls0,tls-authz=auth0' if tls else ''
        cmp_argv = [exe, '-object', 'iothread,id=t0'] + \
            (tls_server_objs(pki) if tls else []) + [
            '-chardev', f'socket,id=pri,host=127.0.0.1,port={pri},'
                        'server=on,wait=off',
            '-chardev', f'socket,id=sec,host=127.0.0.1,port={sec},'
                        f'server=on,wait=off{sec_opts}',
            '-chardev', f'socket,id=out,host=127.0.0.1,port={out},'
                        'server=on,wait=off',
            '-object', 'colo-compare,id=comp0,primary_in=pri,'
                       'secondary_in=sec,outdev=out,iothread=t0']
        pc = subprocess.Popen(bc.NICE + cmp_argv, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        wait_port(pri, pc, 'compare')
    relay_argv = [exe] + (tls_client_objs(pki) if tls else []) + [
        '-netdev', f'socket,id=n0,listen=127.0.0.1:{load_sec}',
        '-device', f'socket,id=d0,netdev=n0,listen=127.0.0.1:{sink}',
        '-chardev', f'socket,id=red1,host=127.0.0.1,port={sec},'
                    'reconnect-ms=100' + (',tls-creds=tls0' if tls else ''),
        '-object', 'filter-redirector,id=f2,netdev=n0,queue=tx,outdev=red1']
    pr = subprocess.Popen(bc.NICE + relay_argv, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_port(load_sec, pr, 'relay')
    time.sleep(0.5)               # red1 connects (and handshakes)
    return [pc, pr], (pri, load_sec, out)


def run_compare(kind, build, size, count, flows, window, rate, pki):
    if kind in ('direct', 'qemu-7.2'):
        ports = bc.free_ports(3)
        procs = [bc.start('colo-proxy' if kind == 'direct' else kind, build,
                          ports, pinned=False)]
        load_ports = ports
    else:
        procs, load_ports = start_hop(build, bc.free_ports(5),
                                      kind == 'hop-tls', pki,
                                      qemu=kind == 'qemu-hop')
    try:
        c0 = sum(bc.cpu_seconds(p.pid) for p in procs)
        argv = bc.NICE + [os.path.join(build, 'bench', 'compare-load'),
                          '--pri', str(load_ports[0]),
                          '--sec', str(load_ports[1]),
                          '--out', str(load_ports[2]), '--size', str(size),
                          '--count', str(count), '--flows', str(flows),
                          '--window', str(window)]
        if rate:
            argv += ['--rate', str(rate)]
        out = subprocess.run(argv, capture_output=True, text=True,
                             timeout=600)
        c1 = sum(bc.cpu_seconds(p.pid) for p in procs)
        r = json.loads(out.stdout)
        r['cpu_s_per_mframe'] = (c1 - c0) / max(r['received'], 1) * 1e6
        return r
    finally:
        for p in procs:
            bc.stop(p)


# --- the mirror path --------------------------------------------------------

def start_mirror_pair(binary, tls, pki):
    pn, pg, pm, sn, sg = bm.free_ports(5)
    qdir = tempfile.mkdtemp(prefix='bench-tls-')
    sopt = ',tls-creds=tls0,tls-authz=auth0' if tls else ''
    copt = ',tls-creds=tls0' if tls else ''
    prim = bm.Proc([binary, '-qmp', f'unix:{qdir}/p.sock,server=on,wait=off']
                   + (tls_server_objs(pki) if tls else []) + [
                   '-netdev', f'socket,id=n0,listen=127.0.0.1:{pn}',
                   '-device', f'socket,id=d0,netdev=n0,listen=127.0.0.1:{pg}',
                   '-chardev', f'socket,id=mirror0,host=127.0.0.1,port={pm},'
                               f'server=on,wait=off{sopt}',
                   '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,'
                              'outdev=mirror0'], 'primary')
    time.sleep(0.2)
    prim.qmp = f'{qdir}/p.sock'
    sec = bm.Proc([binary, '-qmp', f'unix:{qdir}/s.sock,server=on,wait=off']
                  + (tls_client_objs(pki) if tls else []) + [
                  '-netdev', f'socket,id=n0,listen=127.0.0.1:{sn}',
                  '-device', f'socket,id=d0,netdev=n0,listen=127.0.0.1:{sg}',
                  '-chardev', f'socket,id=red0,host=127.0.0.1,port={pm},'
                              f'reconnect=1{copt}',
                  '-object', 'filter-redirector,id=f1,netdev=n0,queue=tx,'
                             'indev=red0'], 'secondary')
    sec.qmp = f'{qdir}/s.sock'
    return prim, sec, pn, pg, sg


def mirror_latency(binary, tls, pki, size, n, rate):
    """Paced frames from the load to the secondary's guest: us p50/p99."""
    prim, sec, pn, pg, sg = start_mirror_pair(binary, tls, pki)
    try:
        load, gp, gs = bm.connect(pn), bm.connect(pg), bm.connect(sg)
        time.sleep(1.5)
        drain = bm.Drain(gp)
        gs.settimeout(5)
        lat = []
        for i in range(n):
            frame = struct.pack('>I', size) + struct.pack('>I', i) + \
                bytes(size - 4)
            t0 = time.perf_counter()
            load.sendall(frame)
            got = b''
            while len(got) < len(frame):
                got += gs.recv(len(frame) - len(got))
            lat.append((time.perf_counter() - t0) * 1e6)
            time.sleep(max(0.0, 1.0 / rate - (time.perf_counter() - t0)))
        drain.stop = True
        lat = lat[n // 10:]
        return statistics.median(lat), \
            sorted(lat)[int(len(lat) * 0.99) - 1]
    finally:
        prim.stop()
        sec.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--build', default=os.path.join(SRC, 'build'))
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--sizes', default='64,512,1448')
    ap.add_argument('--count', type=int, default=200000,
                    help='frames per compare throughput run')
    ap.add_argument('--flows', type=int, default=8)
    ap.add_argument('--window', type=int, default=256)
    ap.add_argument('--rate', type=int, default=2000,
                    help='frame pairs/s of the compare latency runs')
    ap.add_argument('--rate-count', type=int, default=10000)
    ap.add_argument('--mirror-frames', type=int, default=300000)
    ap.add_argument('--lat-frames', type=int, default=2000)
    ap.add_argument('--no-qemu', action='store_true')
    ap.add_argument('--json')
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    if not tlscerts.needs_openssl() is None:
        sys.exit(tlscerts.needs_openssl())
    pki = tlscerts.make_pki(tempfile.mkdtemp(prefix='bench-tls-pki-'))
    kinds = ['direct', 'hop-plain', 'hop-tls']
    if not args.no_qemu and subprocess.run(
            ['which', 'qemu-system-x86_64'],
            capture_output=True).returncode == 0:
        bc.QEMU['qemu-7.2'] = ('qemu-system-x86_64', None)
        kinds[:0] = ['qemu-7.2', 'qemu-hop']
    sizes = [int(x) for x in args.sizes.split(',') if x]
    res = {'compare': {}, 'mirror': {}}
    t_start = time.monotonic()

    print('== colo-compare: throughput (unpaced) and added latency '
          f'(paced {args.rate}/s); median of {args.runs} runs')
    print(f'{"kind":<10} {"size":>5} {"frames/s":>9} {"CPU s/Mfr":>9} '
          f'{"p50 us":>7} {"p99 us":>7} {"missing":>7}')
    for size in sizes:
        thr = {k: [] for k in kinds}
        lat = {k: [] for k in kinds}
        for _ in range(args.runs):
            for k in kinds:         # alternating: same machine conditions
                thr[k].append(run_compare(k, build, size, args.count,
                                          args.flows, args.window, 0, pki))
                lat[k].append(run_compare(k, build, size, args.rate_count,
                                          args.flows, args.window,
                                          args.rate, pki))
        for k in kinds:
            row = {
                'fps': statistics.median(r['fps'] for r in thr[k]),
                'cpu': statistics.median(r['cpu_s_per_mframe']
                                         for r in thr[k]),
                'p50': statistics.median(r['lat_p50_us'] for r in lat[k]),
                'p99': statistics.median(r['lat_p99_us'] for r in lat[k]),
                'missing': max(r['missing'] for r in thr[k] + lat[k]),
            }
            res['compare'].setdefault(str(size), {})[k] = row
            print(f'{k:<10} {size:>5} {row["fps"]:>9.0f} {row["cpu"]:>9.2f} '
                  f'{row["p50"]:>7.0f} {row["p99"]:>7.0f} '
                  f'{row["missing"]:>7}')
        c = res['compare'][str(size)]
        ratio = c['hop-tls']['cpu'] / max(c['hop-plain']['cpu'], 1e-9)
        line = (f'      {size} B: TLS/plain CPU per frame {ratio:.2f}x, '
                f'added p50 {c["hop-tls"]["p50"] - c["hop-plain"]["p50"]:+.0f}'
                f' us')
        if 'qemu-hop' in c:
            # like for like: both behind the same relay
            q = c['qemu-hop']
            line += ('; over TLS vs QEMU plain, same relay: frames/s ' +
                     (f'{c["hop-tls"]["fps"] / q["fps"]:.1f}x' if q['fps']
                      else 'QEMU released nothing unpaced') +
                     f', p50 {c["hop-tls"]["p50"]:.0f} vs {q["p50"]:.0f} us')
        print(line)

    print(f'== mirror path: load -> filter-mirror -> link -> '
          f'filter-redirector -> secondary guest; median of {args.runs}')
    gen = os.path.join(build, 'bench', 'frame-gen')
    gen = gen if os.access(gen, os.X_OK) else None
    exe = os.path.join(build, 'system', 'colo-proxy')
    print(f'{"link":<6} {"size":>5} {"frames/s":>9} {"CPU s/Mfr":>9} '
          f'{"p50 us":>7} {"p99 us":>7} {"delivered":>9}')
    for size in sizes:
        runs = {'plain': [], 'tls': []}
        lats = {'plain': [], 'tls': []}
        for _ in range(args.runs):
            for k in runs:
                runs[k].append(bm.run_one(
                    k, lambda: start_mirror_pair(exe, k == 'tls', pki),
                    size, args.mirror_frames, gen))
                lats[k].append(mirror_latency(exe, k == 'tls', pki, size,
                                              args.lat_frames, 500))
        for k in runs:
            m = bm.median_result(runs[k])
            row = {'fps': m['fps'], 'cpu': m['cpu_per_mframe_dlv'],
                   'delivered': m['secondary'],
                   'p50': statistics.median(x[0] for x in lats[k]),
                   'p99': statistics.median(x[1] for x in lats[k])}
            res['mirror'].setdefault(str(size), {})[k] = row
            print(f'{k:<6} {size:>5} {row["fps"]:>9.0f} {row["cpu"]:>9.2f} '
                  f'{row["p50"]:>7.0f} {row["p99"]:>7.0f} '
                  f'{row["delivered"]:>9}')
        m = res['mirror'][str(size)]
        print(f'      {size} B: TLS/plain CPU per frame '
              f'{m["tls"]["cpu"] / max(m["plain"]["cpu"], 1e-9):.2f}x, '
              f'added p50 {m["tls"]["p50"] - m["plain"]["p50"]:+.0f} us')
    print(f'({time.monotonic() - t_start:.0f} s)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
