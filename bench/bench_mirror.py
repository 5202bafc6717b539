#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_mirror - the COLO input path (filter-mirror -> filter-redirector)
in colo-proxy and in QEMU 7.2, with the same traffic in the same run.

Pipeline (two processes of each kind, as on a primary and a secondary):

  load --tcp--> primary:  -netdev socket n0 -[filter-mirror m0, tx]-> port
                          peer (guest sink) --tcp--> drain P
                          m0 outdev: chardev server (tcp)
                                  |
  secondary: chardev client red0 -+-> filter-redirector f1 (indev, tx)
             injected toward the guest --tcp--> drain S

  colo-proxy: the port is -netdev socket + -device socket.  With --unix-guest
  a third case, "colo-proxy/unix": the primary's guest end is a -device
  stream on a unix socket, as a real primary QEMU's NIC is, so the mirror
  copies each frame only once the sink has read it (copy-on-read,
  docs/filters.md): its cost at full rate.
  QEMU (-M none, no guest): two socket netdevs joined by hubports; the
  filters sit on the first, the second is the "guest" sink.

The load is pre-built frames sent as fast as the primary takes them (TCP
back-pressure), in big writes; the drains count bytes.  Reported per frame
size: frames/s and MB/s of payload reaching the secondary's guest, frames
lost, and CPU seconds per million frames delivered to the secondary's
guest (and per million sent; utime + stime of both processes, from
/proc/PID/stat), then colo-proxy/QEMU ratios.

  bench/bench_mirror.py [--frames64 N] [--frames1514 N] [--proxy PATH]

This is a benchmark, not a test: it always exits 0 unless it cannot run.
"""

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
TICKS = os.sysconf('SC_CLK_TCK')


def free_ports(n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def connect(port, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        try:
            s = socket.create_connection(('127.0.0.1', port), timeout=2)
            s.settimeout(None)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return s
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def cpu_seconds(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / TICKS


class Drain(threading.Thread):
    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.bytes = 0
        self.last_change = time.monotonic()
        self.stop = False
        self.start()

    def run(self):
        self.sock.settimeout(0.2)
        buf = bytearray(1 << 20)
        while not self.stop:
            try:
                n = self.sock.recv_into(buf)
            except socket.timeout:
                continue
            except OSError:
                return
            if not n:
                return
            self.bytes += n
            self.last_change = time.monotonic()


class Proc:
    def __init__(self, argv, name):
        self.name = name
        self.qmp = None
        self.log = tempfile.TemporaryFile()
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                  stdout=self.log, stderr=self.log)

    def cpu(self):
        return cpu_seconds(self.p.pid)

    def check(self):
        if self.p.poll() is not None:
            self.log.seek(0)
            sys.exit(f'{self.name} exited ({self.p.returncode}):\n'
                     + self.log.read().decode(errors='replace')[-2000:])

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def qmp_query(path, *cmds):
    """Runs QMP commands on a unix socket; returns their return values
    (None for an error)."""
    out = []
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(5)
        s.connect(path)
        f = s.makefile('rw')
        f.readline()
        for c in ('qmp_capabilities',) + cmds:
            f.write(json.dumps({'execute': c}) + '\n')
            f.flush()
            while True:
                m = json.loads(f.readline())
                if 'event' not in m:
                    break
            if c != 'qmp_capabilities':
                out.append(m.get('return'))
        s.close()
    except (OSError, ValueError):
        pass
    return out


def drops_of(proc):
    """Non-zero drop counters of a colo-proxy (filters and netdevs), and
    the mirror's copies sent unread or at once (copy-on-read)."""
    if not getattr(proc, 'qmp', None):
        return {}
    res = {}
    for ret in qmp_query(proc.qmp, 'query-netfilter-stats',
                         'query-netdev-stats'):
        for e in ret or []:
            flat = dict(e)
            for v in e.values():
                if isinstance(v, dict):
                    flat.update(v)
            for k, v in flat.items():
                if (k.startswith('drop') or k == 'copies-unread'
                        or k == 'copies-at-once') and \
                        isinstance(v, int) and v:
                    res[f'{e.get("id")}.{k}'] = v
    return res


def start_colo_proxy(binary, unix_guest=False):
    pn, pg, pm, sn, sg = free_ports(5)
    qdir = tempfile.mkdtemp(prefix='bench-mirror-')
    if unix_guest:
        pg = f'{qdir}/guest.sock'
        dev = (f'stream,id=d0,netdev=n0,server=on,addr.type=unix,'
               f'addr.path={pg}')
    else:
        dev = f'socket,id=d0,netdev=n0,listen=127.0.0.1:{pg}'
    prim = Proc([binary, '-qmp', f'unix:{qdir}/p.sock,server=on,wait=off',
                 '-netdev', f'socket,id=n0,listen=127.0.0.1:{pn}',
                 '-device', dev,
                 '-chardev', f'socket,id=mirror0,host=127.0.0.1,port={pm},'
                             'server=on,wait=off',
                 '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,'
                            'outdev=mirror0'], 'colo-proxy primary')
    time.sleep(0.2)
    prim.qmp = f'{qdir}/p.sock'
    sec = Proc([binary, '-qmp', f'unix:{qdir}/s.sock,server=on,wait=off',
                '-netdev', f'socket,id=n0,listen=127.0.0.1:{sn}',
                '-device', f'socket,id=d0,netdev=n0,listen=127.0.0.1:{sg}',
                '-chardev', f'socket,id=red0,host=127.0.0.1,port={pm},'
                            'reconnect=1',
                '-object', 'filter-redirector,id=f1,netdev=n0,queue=tx,'
                           'indev=red0'], 'colo-proxy secondary')
    sec.qmp = f'{qdir}/s.sock'
    return prim, sec, pn, pg, sg


def start_qemu():
    qemu = ['qemu-system-x86_64', '-M', 'none', '-nodefaults',
            '-display', 'none']
    pn, pg, pm, sn, sg = free_ports(5)
    port = ['-netdev', f'socket,id=hn0,listen=127.0.0.1:{{n}}',
            '-netdev', 'hubport,id=hp0,hubid=0,netdev=hn0',
            '-netdev', f'socket,id=hn1,listen=127.0.0.1:{{g}}',
            '-netdev', 'hubport,id=hp1,hubid=0,netdev=hn1']

    def ports(n, g):
        return [a.format(n=n, g=g) for a in port]

    prim = Proc(qemu + ports(pn, pg) +
                ['-chardev', f'socket,id=mirror0,host=127.0.0.1,port={pm},'
                             'server=on,wait=off',
                 '-object', 'filter-mirror,id=m0,netdev=hn0,queue=tx,'
                            'outdev=mirror0'], 'QEMU primary')
    time.sleep(0.3)
    sec = Proc(qemu + ports(sn, sg) +
               ['-chardev', f'socket,id=red0,host=127.0.0.1,port={pm},'
                            'reconnect=1',
                '-object', 'filter-redirector,id=f1,netdev=hn0,queue=tx,'
                           'indev=red0'], 'QEMU secondary')
    return prim, sec, pn, pg, sg


def start_primary(kind, binary):
    """Only the primary, with a QMP socket: (proc, load port, guest sink
    port, mirror port)."""
    pn, pg, pm = free_ports(3)
    qdir = tempfile.mkdtemp(prefix='bench-mirror-')
    qmp = f'{qdir}/p.sock'
    mirror = ['-chardev', f'socket,id=mirror0,host=127.0.0.1,port={pm},'
                          'server=on,wait=off']
    if kind == 'colo-proxy':
        argv = [binary, '-qmp', f'unix:{qmp},server=on,wait=off',
                '-netdev', f'socket,id=n0,listen=127.0.0.1:{pn}',
                '-device', f'socket,id=d0,netdev=n0,listen=127.0.0.1:{pg}'] \
            + mirror + ['-object', 'filter-mirror,id=m0,netdev=n0,'
                                   'queue=tx,outdev=mirror0']
    else:
        argv = ['qemu-system-x86_64', '-M', 'none', '-nodefaults',
                '-display', 'none', '-qmp', f'unix:{qmp},server=on,wait=off',
                '-netdev', f'socket,id=hn0,listen=127.0.0.1:{pn}',
                '-netdev', 'hubport,id=hp0,hubid=0,netdev=hn0',
                '-netdev', f'socket,id=hn1,listen=127.0.0.1:{pg}',
                '-netdev', 'hubport,id=hp1,hubid=0,netdev=hn1'] \
            + mirror + ['-object', 'filter-mirror,id=m0,netdev=hn0,'
                                   'queue=tx,outdev=mirror0']
    p = Proc(argv, kind + ' primary')
    p.qmp = qmp
    return p, pn, pg, pm


class QmpProbe(threading.Thread):
    """Sends query-version every 20 ms and records the worst latency (a
    request still unanswered counts from when it was sent)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.worst = 0.0
        self.pending_since = None
        self.stop = False
        self.start()

    def run(self):
        try:
            self.run__()
        except (OSError, ValueError):
            pass                # the process went away

    def run__(self):
        s = socket.socket(socket.AF_UNIX)
        for _ in range(100):
            try:
                s.connect(self.path)
                break
            except OSError:
                time.sleep(0.05)
        f = s.makefile('rw')
        f.readline()
        f.write('{"execute": "qmp_capabilities"}\n')
        f.flush()
        f.readline()
        while not self.stop:
            self.pending_since = time.monotonic()
            f.write('{"execute": "query-version"}\n')
            f.flush()
            while True:
                line = f.readline()
                if not line or 'event' not in json.loads(line):
                    break
            self.worst = max(self.worst,
                             time.monotonic() - self.pending_since)
            self.pending_since = None
            time.sleep(0.02)

    def worst_now(self):
        w = self.worst
        if self.pending_since is not None:
            w = max(w, time.monotonic() - self.pending_since)
        return w


def run_stall(kind, binary, gen, size, nframes):
    """The secondary connects to the mirror and never reads: how much of
    the load still reaches the primary's guest, and how late QMP is."""
    prim, pn, pg, pm = start_primary(kind, binary)
    try:
        time.sleep(0.5)
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(('127.0.0.1', pm))
        probe = QmpProbe(prim.qmp)
        time.sleep(0.5)
        cpu0 = prim.cpu()
        try:
            out = subprocess.run([gen, '--send', str(pn), '--sink', str(pg),
                                  '--size', str(size), '--count',
                                  str(nframes), '--settle-ms', '300',
                                  '--idle-ms', '3000'],
                                 capture_output=True, text=True, timeout=60)
            r = json.loads(out.stdout)
            got, elapsed = r['frames'][0], r['elapsed_s']
            sent = r['sent_frames']
        except subprocess.TimeoutExpired:
            got, elapsed, sent = None, 60.0, None
        worst = probe.worst_now()
        stuck_qmp = probe.pending_since is not None
        probe.stop = True
        cpu = prim.cpu() - cpu0
        stuck.close()
        return {'kind': kind, 'size': size, 'sent': sent, 'primary': got,
                'elapsed': elapsed, 'qmp_worst_ms': worst * 1000,
                'qmp_stuck': stuck_qmp,
                'drops': drops_of(prim) if kind == 'colo-proxy' else {},
                'cpu': cpu}
    finally:
        prim.stop()


def main_stall(args, gen):
    if not gen:
        sys.exit('--stall needs bench/frame-gen')
    print(f'{"impl":<11} {"size":>5} {"offered":>8} {"taken":>8} '
          f'{"at guest":>9} {"elapsed s":>9} {"QMP worst ms":>12}')
    for kind in ('colo-proxy', 'qemu-7.2'):
        r = run_stall(kind, args.proxy, gen, 1514, args.stall_frames)
        got = '-' if r['primary'] is None else r['primary']
        print(f'{kind:<11} {r["size"]:>5} {args.stall_frames:>8} '
              f'{str(r["sent"]):>8} {got:>9} '
              f'{r["elapsed"]:>9.2f} {r["qmp_worst_ms"]:>12.1f}'
              + (' (no reply yet)' if r['qmp_stuck'] else '')
              + (f'  drops: {r["drops"]}' if r['drops'] else ''))
    print('secondary connected to the mirror and never reading; "taken": '
          'frames the primary read before traffic stopped moving for 3 s; '
          '"at guest": frames it forwarded to its guest; "QMP worst": '
          'longest wait for a query-version reply')
    return 0


def run_one(kind, starter, size, nframes, gen=None):
    prim, sec, pn, pg, sg = starter()
    try:
        if gen:
            return run_one_gen(kind, prim, sec, pn, pg, sg, size, nframes,
                               gen)
        return run_one_py(kind, prim, sec, pn, pg, sg, size, nframes)
    finally:
        prim.stop()
        sec.stop()


def result(kind, size, nframes, got, got_p, elapsed, cpu):
    elapsed = max(elapsed, 1e-6)
    return {
        'kind': kind, 'size': size, 'sent': nframes,
        'secondary': got, 'primary': got_p,
        'fps': got / elapsed, 'mbps': got * size / elapsed / 1e6,
        'cpu_per_mframe': cpu / max(nframes, 1) * 1e6,
        # conservative: frames lost on the way (colo-proxy's mirror drops
        # copies the secondary cannot take in time) are not credited
        'cpu_per_mframe_dlv': cpu / max(got, 1) * 1e6,
        'cpu': cpu,
        'elapsed': elapsed,
    }


def run_one_gen(kind, prim, sec, pn, pg, sg, size, nframes, gen):
    """Load and sinks in bench/frame-gen (C, one poll loop)."""
    time.sleep(1.5)              # the secondary's reconnect=1
    prim.check()
    sec.check()
    cpu0 = prim.cpu() + sec.cpu()
    out = subprocess.run([gen, '--send', str(pn), '--sink', str(pg),
                          '--sink', str(sg), '--size', str(size),
                          '--count', str(nframes), '--settle-ms', '300'],
                         capture_output=True, text=True, timeout=600)
    cpu1 = prim.cpu() + sec.cpu()
    if out.returncode != 0:
        sys.exit(f'frame-gen failed: {out.stderr}')
    r = json.loads(out.stdout)
    # CPU over the whole run includes the idle settle time (negligible)
    res = result(kind, size, nframes, r['frames'][1], r['frames'][0],
                 r['elapsed_s'], cpu1 - cpu0)
    res['drops'] = {**{'P.' + k: v for k, v in drops_of(prim).items()},
                    **{'S.' + k: v for k, v in drops_of(sec).items()}}
    return res


def run_one_py(kind, prim, sec, pn, pg, sg, size, nframes):
    """Load and sinks in Python threads (no frame-gen built)."""
    load = connect(pn)
    gp = connect(pg)
    gs = connect(sg)
    time.sleep(1.5)              # the secondary's reconnect=1 and accepts
    prim.check()
    sec.check()
    dp, ds = Drain(gp), Drain(gs)
    frame = struct.pack('>I', size) + bytes((i * 7) & 0xff
                                            for i in range(size))
    per_write = max(1, (256 * 1024) // len(frame))
    chunk = frame * per_write
    wire = len(frame)
    cpu0 = prim.cpu() + sec.cpu()
    t0 = time.monotonic()
    sent = 0
    while sent < nframes:
        k = min(per_write, nframes - sent)
        load.sendall(chunk if k == per_write else frame * k)
        sent += k
    # wait until the secondary's guest has everything, or stalls
    while ds.bytes < nframes * wire:
        if time.monotonic() - max(ds.last_change, t0) > 2.0:
            break
        time.sleep(0.005)
    t1 = ds.last_change if ds.bytes else time.monotonic()
    cpu1 = prim.cpu() + sec.cpu()
    dp.stop = ds.stop = True
    return result(kind, size, nframes, ds.bytes // wire, dp.bytes // wire,
                  t1 - t0, cpu1 - cpu0)


def median_result(rs):
    """The per-figure median of several runs of one case."""
    def med(key):
        v = sorted(r[key] for r in rs)
        return v[len(v) // 2]
    out = dict(rs[0])
    for k in ('secondary', 'primary', 'fps', 'mbps', 'cpu_per_mframe',
              'cpu_per_mframe_dlv',
              'elapsed'):
        out[k] = med(k)
    drops = {}
    for r in rs:
        for k, v in (r.get('drops') or {}).items():
            drops[k] = drops.get(k, 0) + v
    out['drops'] = drops
    out['runs'] = len(rs)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--proxy', default=os.environ.get(
        'COLO_PROXY', os.path.join(SRC, 'build', 'system', 'colo-proxy')))
    ap.add_argument('--frames64', type=int, default=2000000)
    ap.add_argument('--frames1514', type=int, default=500000)
    ap.add_argument('--json', help='also write every run to this file')
    ap.add_argument('--sizes', default='64,1514',
                    help='frame sizes to run, among 64 and 1514')
    ap.add_argument('--no-qemu', action='store_true')
    ap.add_argument('--unix-guest', action='store_true',
                    help='also colo-proxy with the primary guest end on a '
                         'unix socket (copy-on-read; needs frame-gen)')
    ap.add_argument('--stall', action='store_true',
                    help='only the primary, with a secondary that never '
                         'reads the mirror')
    ap.add_argument('--stall-frames', type=int, default=20000)
    ap.add_argument('--repeat', type=int, default=1,
                    help='runs per case (alternating colo-proxy and QEMU); '
                         'the median of each figure is reported')
    ap.add_argument('--frame-gen', default=os.path.join(
        os.path.dirname(os.path.dirname(os.environ.get('COLO_PROXY', '')))
        or os.path.join(SRC, 'build'), 'bench', 'frame-gen'),
        help='C load generator (default: next to the binary; '
             'Python threads if absent)')
    args = ap.parse_args()
    gen = args.frame_gen if os.access(args.frame_gen, os.X_OK) else None
    print(f'load generator: {gen or "Python threads"}')
    if args.stall:
        return main_stall(args, gen)
    if not os.access(args.proxy, os.X_OK):
        sys.exit(f'{args.proxy}: not built')
    have_qemu = not args.no_qemu and subprocess.run(
        ['which', 'qemu-system-x86_64'], capture_output=True).returncode == 0

    results = []
    all_runs = []
    sizes = [int(x) for x in args.sizes.split(',') if x]
    for size, n in ((64, args.frames64), (1514, args.frames1514)):
        if size not in sizes:
            continue
        runs = {'colo-proxy': [], 'colo-proxy/unix': [], 'qemu-7.2': []}
        for _ in range(max(1, args.repeat)):
            runs['colo-proxy'].append(
                run_one('colo-proxy', lambda: start_colo_proxy(args.proxy),
                        size, n, gen))
            if args.unix_guest and gen:
                runs['colo-proxy/unix'].append(
                    run_one('colo-proxy/unix',
                            lambda: start_colo_proxy(args.proxy, True),
                            size, n, gen))
            if have_qemu:
                runs['qemu-7.2'].append(run_one('qemu-7.2', start_qemu,
                                                size, n, gen))
        for kind, rs in runs.items():
            if rs:
                results.append(median_result(rs))
                all_runs.extend(rs)

    print(f'{"impl":<15} {"size":>5} {"sent":>8} {"at prim.":>8} '
          f'{"at sec.":>8} {"frames/s":>9} {"MB/s":>7} {"CPU s/Mfr":>9} '
          f'{"(sent)":>7}')
    for r in results:
        print(f'{r["kind"]:<15} {r["size"]:>5} {r["sent"]:>8} '
              f'{r["primary"]:>8} {r["secondary"]:>8} {r["fps"]:>9.0f} '
              f'{r["mbps"]:>7.1f} {r["cpu_per_mframe_dlv"]:>9.3f} '
              f'{r["cpu_per_mframe"]:>7.3f}'
              + (f'  drops (all runs): {r["drops"]}' if r.get('drops') else ''))
    print('frames/s and MB/s: frames reaching the secondary guest per second '
          'of the run; CPU s/Mfr: user+system CPU of both processes per '
          'million frames delivered to the secondary guest ("(sent)": per '
          'million frames sent); medians of the runs')
    for size, kind in ((64, 'colo-proxy'), (1514, 'colo-proxy'),
                       (64, 'colo-proxy/unix'), (1514, 'colo-proxy/unix')):
        o = [r for r in results if r['size'] == size and
             r['kind'] == kind]
        q = [r for r in results if r['size'] == size and
             r['kind'] == 'qemu-7.2']
        if o and q and q[0]['fps'] > 0 and o[0]['cpu_per_mframe_dlv'] > 0:
            print(f'ratio {size:>4} B: throughput {kind}/QEMU '
                  f'{o[0]["fps"] / q[0]["fps"]:.2f}x, CPU per frame '
                  f'QEMU/colo-proxy '
                  f'{q[0]["cpu_per_mframe_dlv"] / o[0]["cpu_per_mframe_dlv"]:.2f}x'
                  f' (per frame sent: '
                  f'{q[0]["cpu_per_mframe"] / o[0]["cpu_per_mframe"]:.2f}x)')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'results': results, 'runs': all_runs}, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
