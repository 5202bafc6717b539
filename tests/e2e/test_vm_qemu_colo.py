#!/usr/bin/env python3
"""test_vm_qemu_colo - real COLO, end to end: two QEMU VMs replicated,
checkpointed and failed over through two colo-proxies (issue 12).

The QEMU is 10.0.2 from Debian's source with the project's two fixes
(scripts/build-colo-qemu.sh, cached in /var/cache/colo-proxy); the guests
are the tiny ones of tests/vm/.  Every box below is a network namespace;
the QEMUs, whose NICs are `-netdev stream` unix sockets, run outside them:

  ns C: client 10.91.0.1 ==veth== ns L: bridge br0 ==veth== ns P: primary colo-proxy
                                            ||                 -netdev af-packet (pl)
                                            ||                 m0 mirror, redire0/1,
                                            ||                 colo-compare comp0,
                                            ||                 colo-frame primary driver=qemu,
                                            ||                 colo-heartbeat (server)
                                            ||                 -device stream <- primary QEMU
                                            ==veth== ns S: secondary colo-proxy
                                                       -netdev af-packet (sl)
                                                       f1/f2 redirectors, rew0 rewriter,
                                                       colo-frame secondary driver=qemu,
                                                       colo-heartbeat failover=on
                                                       -device stream <- secondary QEMU
                                                                         (-incoming)

QMP as QEMU 10 wants it: `x-colo` and `events` on BOTH QEMUs, `migrate`
over a unix socket, `query-migrate` polled until `colo`.  Each QEMU has two
monitors: one for this test (the operator), one for colo-proxy's driver.

The checks of issue 12, each reported as its own PASS/FAIL line:

  1 COLO reached (query-migrate "colo"; "completed" means this QEMU cannot
    do COLO)
  2 identical traffic (200 CGI requests, every body checked, and a
    long-lived echo connection) -> 0 checkpoint requests from colo-proxy
  3 a reply that differs per VM (/cgi-bin/sched: /proc/schedstat) -> a
    checkpoint requested by colo-proxy and committed by QEMU; the client
    gets one reply, the primary's
  4 QEMU's periodic checkpoints (x-checkpoint-delay 2000) during 200
    sequential requests: none slower than 500 ms
  5 kill -9 of the primary QEMU and its colo-proxy: the secondary
    colo-proxy fails over its filters and its QEMU by itself; the echo
    connection survives byte-exact with every round trip under 1 s; the
    secondary guest's console shows no oops/BUG/panic
  6 kill of the secondary host: the primary keeps serving, no stall over 1 s

Scenario e1000 (no vnet headers) runs 1-5; scenario virtio-net-pci with
vnet_hdr_support=on on every COLO link runs 1, 2, 3 and 6.  A check that
fails does not stop the next ones (the failure is reported at the end).

`python3 test_vm_qemu_colo.py --print-cmdlines` prints the command lines
(docs/qemu.md shows them).  Needs root, namespaces, the built QEMU: in CI a
missing QEMU fails the test, elsewhere it is one SKIP line.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'vm'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'qtest'))

from coloqtest import *        # noqa: E402,F401,F403
import vmguest                 # noqa: E402

CLIENT_IP, GUEST_IP = '10.91.0.1', '10.91.0.2'
CLIENT_MAC, GUEST_MAC = '52:54:00:91:00:01', '52:54:00:91:00:02'
N_IDENTICAL = 200          # check 2
N_PERIODIC = 200           # check 4
SLOW_MS = 500              # check 4: no request slower than this
PERIODIC_GAP = 0.05        # check 4: seconds between two requests
STALL_MS = 1000            # checks 5 and 6
HB = 'interval=100,timeout=500'   # both colo-heartbeats
# checks 1-3 run with QEMU's own periodic checkpoints far apart, so that
# only colo-proxy's requests checkpoint (check 4 sets 2000)
QUIET_DELAY_MS = 60000


def in_ci():
    return os.environ.get('CI') == 'true'


# --------------------------------------------------------------------------
# the QEMU

def colo_qemu():
    """(qemu-system-x86_64, firmware dir) of the patched QEMU: $COLO_QEMU
    (and $COLO_QEMU_FW) if set, else the cache of
    scripts/build-colo-qemu.sh, which is run to build it when missing
    (about 7 minutes; one build at a time).  Fails in CI, skips elsewhere,
    with the script's one line."""
    if os.environ.get('COLO_QEMU'):
        return os.environ['COLO_QEMU'], os.environ.get('COLO_QEMU_FW', '')
    script = os.path.join(source_dir(), 'scripts', 'build-colo-qemu.sh')
    r = subprocess.run([script, '--print'], capture_output=True, text=True)
    if r.returncode != 0 and os.environ.get('COLO_QEMU_BUILD', '1') == '1':
        log('building the COLO QEMU (scripts/build-colo-qemu.sh, about 7 '
            'minutes the first time)')
        b = subprocess.run([script], capture_output=True, text=True)
        for line in b.stdout.splitlines()[-3:]:
            log(line)
        r = subprocess.run([script, '--print'], capture_output=True,
                           text=True)
        if r.returncode != 0 and b.stderr.strip():
            r.stderr = b.stderr
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ['no COLO QEMU'])[-1]
        if in_ci():
            raise TestFailure(why)
        raise Skip(why)
    lines = r.stdout.split('\n')
    return lines[0].strip(), lines[1].split(None, 1)[1].strip()


# --------------------------------------------------------------------------
# the command lines (shared with docs/qemu.md through --print-cmdlines)

def primary_proxy_args(run, netdev_if, vnet=False):
    v = ',vnet_hdr_support=on' if vnet else ''
    s = lambda n: os.path.join(run, n)    # noqa: E731
    return [
        '-name', 'colo-primary',
        '-netdev', f'af-packet,id=hn0,ifname={netdev_if}',
        '-device', 'stream,id=vm,netdev=hn0,server=on,addr.type=unix,'
                   f'addr.path={s("primary-vm.sock")}',
        '-chardev', f'socket,id=mirror0,path={s("mirror.sock")},'
                    'server=on,wait=off',
        '-chardev', f'socket,id=compare1,path={s("compare1.sock")},'
                    'server=on,wait=off',
        '-chardev', f'socket,id=compare0,path={s("compare0.sock")},'
                    'server=on,wait=off',
        '-chardev', f'socket,id=compare0-0,path={s("compare0.sock")}',
        '-chardev', f'socket,id=compare_out,path={s("compare_out.sock")},'
                    'server=on,wait=off',
        '-chardev', f'socket,id=compare_out0,path={s("compare_out.sock")}',
        '-chardev', f'socket,id=hb,path={s("heartbeat.sock")},'
                    'server=on,wait=off',
        '-object', f'filter-mirror,id=m0,netdev=hn0,queue=tx,'
                   f'outdev=mirror0{v}',
        '-object', f'filter-redirector,id=redire0,netdev=hn0,queue=rx,'
                   f'indev=compare_out{v}',
        '-object', f'filter-redirector,id=redire1,netdev=hn0,queue=rx,'
                   f'outdev=compare0{v}',
        '-object', 'iothread,id=iothread1',
        '-object', 'colo-compare,id=comp0,primary_in=compare0-0,'
                   'secondary_in=compare1,outdev=compare_out0,'
                   f'iothread=iothread1{v}',
        '-object', 'colo-frame,id=colo0,mode=primary,driver=qemu,'
                   f'qemu-qmp=unix:{s("primary-drv.qmp")}',
        '-object', f'colo-heartbeat,id=hb0,chardev=hb,{HB},failover=on']


def secondary_proxy_args(run, primary_run, netdev_if, vnet=False):
    v = ',vnet_hdr_support=on' if vnet else ''
    p = lambda n: os.path.join(primary_run, n)    # noqa: E731
    s = lambda n: os.path.join(run, n)    # noqa: E731
    return [
        '-name', 'colo-secondary',
        '-netdev', f'af-packet,id=hn0,ifname={netdev_if}',
        '-device', 'stream,id=vm,netdev=hn0,server=on,addr.type=unix,'
                   f'addr.path={s("secondary-vm.sock")}',
        '-chardev', f'socket,id=red0,path={p("mirror.sock")},reconnect=1',
        '-chardev', f'socket,id=red1,path={p("compare1.sock")},reconnect=1',
        '-chardev', f'socket,id=hb,path={p("heartbeat.sock")},reconnect=1',
        '-object', f'filter-redirector,id=f1,netdev=hn0,queue=tx,'
                   f'indev=red0{v}',
        '-object', f'filter-redirector,id=f2,netdev=hn0,queue=rx,'
                   f'outdev=red1{v}',
        '-object', f'filter-rewriter,id=rew0,netdev=hn0,queue=all{v}',
        '-object', 'colo-frame,id=colo0,mode=secondary,driver=qemu,'
                   f'qemu-qmp=unix:{s("secondary-drv.qmp")}',
        '-object', f'colo-heartbeat,id=hb0,chardev=hb,{HB},failover=on',
        # the secondary guest's output, before the rewriter and f2 (check
        # 3 shows the client did not get this reply)
        '-object', 'filter-dump,id=sdump,netdev=hn0,queue=rx,'
                   f'file={s("secondary-out.pcap")}']


def guest(name, run, nic, fw):
    """Both VMs boot the same guest as "primary" (the secondary's memory
    is the primary's anyway).  The secondary waits for the migration."""
    extra = ['-L', fw] if fw else []
    extra += ['-qmp', f'unix:{os.path.join(run, name + "-drv.qmp")},'
                      'server=on,wait=off']
    if name == 'secondary':
        extra += ['-incoming', f'unix:{os.path.join(run, "mig.sock")}']
    g = vmguest.VMGuest(
        name, run, ip=f'{GUEST_IP}/24', nic=nic, mac=GUEST_MAC,
        neigh=(CLIENT_IP, CLIENT_MAC),
        netdev=['stream', 'server=off', 'addr.type=unix',
                f'addr.path={os.path.join(run, name + "-vm.sock")}',
                'reconnect-ms=1000'],
        extra=extra)
    # colo.printk=4: warnings, oopses and panics reach the serial log
    # (check 5 reads the secondary's)
    g.append_line = lambda: ('console=ttyS0 quiet colo.role=primary '
                             f'colo.ip={GUEST_IP}/24 '
                             f'colo.neigh={CLIENT_IP},{CLIENT_MAC} '
                             'colo.printk=4')
    return g


COLO_START = [
    ('primary', 'migrate-set-parameters', {'x-checkpoint-delay':
                                           QUIET_DELAY_MS}),
    ('primary', 'migrate-set-capabilities', {'capabilities': [
        {'capability': 'x-colo', 'state': True},
        {'capability': 'events', 'state': True}]}),
    ('secondary', 'migrate-set-capabilities', {'capabilities': [
        {'capability': 'x-colo', 'state': True},
        {'capability': 'events', 'state': True}]}),
    ('primary', 'migrate', {'uri': 'unix:$SRUN/mig.sock'}),
]


# --------------------------------------------------------------------------
# the client (a process in namespace C)

CLIENT = r'''
import json, socket, sys, time, select
mode, ip = sys.argv[1], sys.argv[2]
arg = json.loads(sys.argv[3])

def http(path):
    t0 = time.monotonic()
    s = socket.create_connection((ip, 80), timeout=30)
    port = s.getsockname()[1]
    s.sendall(('GET %s HTTP/1.0\r\nHost: guest\r\n\r\n' % path).encode())
    data = b''
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data, time.monotonic() - t0, port

if mode == 'http':
    # sequential requests, arg['gap'] s apart; [path, seconds, raw answer,
    # client port]
    out = []
    for k, p in enumerate(arg['paths']):
        if k and arg.get('gap'):
            time.sleep(arg['gap'])
        try:
            data, dt, port = http(p)
            out.append([p, dt, data.decode('latin-1'), port])
        except Exception as e:
            out.append([p, -1, 'error %r' % e, None])
    print(json.dumps(out))
elif mode == 'echo':
    # one long-lived connection: a numbered line every arg['period'] s
    # until stdin closes; every echo must come back byte-exact
    s = socket.create_connection((ip, 7), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile('rb')
    n = bad = 0
    worst, worst_at, rtts, first = 0.0, None, [], None
    err = None
    print('ready', flush=True)
    t_start = time.monotonic()
    while True:
        r, _, _ = select.select([sys.stdin], [], [], arg['period'])
        if r and not sys.stdin.readline():
            break
        line = ('echo %06d ' % n + 'abcdefghij' * 5 + '\n').encode()
        t0 = time.monotonic()
        try:
            s.sendall(line)
            got = f.readline()
        except Exception as e:
            err = repr(e)
            break
        dt = time.monotonic() - t0
        if got != line:
            bad += 1
            err = 'line %d came back as %r' % (n, got[:80])
            break
        # the first line also waits for the guest's nc to start cat
        # (a fork and exec under TCG): not a round trip of the network
        if n == 0:
            first = dt
        else:
            rtts.append(dt)
            if dt > worst:
                worst, worst_at = dt, t0 - t_start
        n += 1
    s.close()
    rtts.sort()
    print(json.dumps({'lines': n, 'bad': bad, 'error': err, 'worst': worst,
                      'worst_at': worst_at, 'first': first,
                      'p50': rtts[len(rtts) // 2] if rtts else None}))
'''


class Echo:
    """The long-lived echo connection, in the background."""

    def __init__(self, ns, c, period=0.02):
        self.t0 = time.monotonic()
        self.p = ns.popen(c, sys.executable, '-c', CLIENT, 'echo', GUEST_IP,
                          json.dumps({'period': period}),
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().strip()
        if line != 'ready':
            raise TestFailure(f'echo client did not start: {line!r} '
                              f'{self.p.stderr.read()[-500:]}')

    def stop(self):
        """Returns the summary dict (the echo client's)."""
        try:
            out, err = self.p.communicate('', timeout=40)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            return {'error': 'echo client hung (a read never returned)',
                    'lines': -1, 'worst': None}
        try:
            return json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return {'error': f'echo client died: {err[-500:]}', 'lines': -1,
                    'worst': None}


def http_seq(ns, c, paths, timeout=300, gap=0):
    r = ns.run(c, sys.executable, '-c', CLIENT, 'http', GUEST_IP,
               json.dumps({'paths': list(paths), 'gap': gap}),
               check_rc=False, timeout=timeout)
    if r.returncode != 0:
        raise TestFailure(f'http client failed: {r.stderr[-1500:]}')
    return json.loads(r.stdout)


def split_http(raw):
    sep = '\r\n\r\n' if '\r\n\r\n' in raw else '\n\n'
    head, _, body = raw.partition(sep)
    return head.split('\r\n')[0], body


def cgi_body(n):
    return ''.join(f'page {n} line {i}\n' for i in range(1, n + 1))


def check_pages(results):
    """Every /cgi-bin/page?N answer byte-exact; returns the times."""
    times = []
    for path, dt, raw, _port in results:
        n = int(path.split('?')[1])
        status, body = split_http(raw)
        check(status.endswith('200 OK'), f'{path}: {status!r}')
        check(body == cgi_body(n), f'body of {path}: {body[:200]!r}')
        times.append(dt)
    return times


# --------------------------------------------------------------------------
# the pair

def drain(q):
    """Reads whatever QEMU sent so far (events are queued in q.events)."""
    while True:
        try:
            m = q.recv(timeout=0.01)
        except (TimeoutError, EOFError, OSError):
            return
        if 'event' in m:
            q.events.append(m)


def take_events(q, names):
    drain(q)
    out = [e for e in q.events if e['event'] in names]
    q.events.clear()
    return out


def requests(px):
    st = px.qmp.cmd('query-colo-stats')
    return sum(st['requests'].values()), st


class Pair:
    """One real COLO pair: namespaces, two colo-proxies, two QEMUs."""

    def __init__(self, ns, tag, nic, vnet, qemu, fw):
        self.ns, self.tag, self.nic, self.vnet = ns, tag, nic, vnet
        self.qemu, self.fw = qemu, fw
        self.px = self.sx = self.gp = self.gs = None
        self.qp = self.qs = None
        self.expect_completed = False

    def net(self):
        ns, t = self.ns, self.tag
        self.c, self.lan = ns.add(f'{t}C'), ns.add(f'{t}L')
        self.p, self.s = ns.add(f'{t}P'), ns.add(f'{t}S')
        for n in (self.c, self.lan, self.p, self.s):
            ns.run(n, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1',
                   'net.ipv6.conf.default.disable_ipv6=1', check_rc=False)
        ns.veth(f'{t}c0', self.c, f'{t}lc', self.lan)
        ns.veth(f'{t}pl', self.p, f'{t}lp', self.lan)
        ns.veth(f'{t}sl', self.s, f'{t}ls', self.lan)
        i = ns.ifname
        ns.run(self.lan, 'ip', 'link', 'add', 'br0', 'type', 'bridge',
               'stp_state', '0', 'forward_delay', '0')
        for port in ('lc', 'lp', 'ls'):
            ns.run(self.lan, 'ip', 'link', 'set', i(f'{t}{port}'),
                   'master', 'br0')
        ns.run(self.lan, 'ip', 'link', 'set', 'br0', 'up')
        for n, dev in ((self.c, 'c0'), (self.lan, 'lc'), (self.lan, 'lp'),
                       (self.lan, 'ls'), (self.p, 'pl'), (self.s, 'sl')):
            # af-packet must see wire-sized, checksummed frames
            ns.run(n, 'ethtool', '-K', i(f'{t}{dev}'), 'tx', 'off', 'rx',
                   'off', 'tso', 'off', 'gso', 'off', 'gro', 'off',
                   check_rc=False)
        c0 = i(f'{t}c0')
        ns.run(self.c, 'ip', 'link', 'set', c0, 'address', CLIENT_MAC)
        ns.run(self.c, 'ip', 'addr', 'add', CLIENT_IP + '/24', 'dev', c0)
        ns.run(self.c, 'ip', 'neigh', 'replace', GUEST_IP, 'lladdr',
               GUEST_MAC, 'dev', c0, 'nud', 'permanent')

    def start(self):
        """Checks 1's way there: returns the seconds from migrate to colo;
        raises TestFailure if COLO is not reached."""
        self.net()
        t = self.tag
        self.prun, self.srun = tmpdir('cqcolop'), tmpdir('cqcolos')
        os.environ['QEMU'] = self.qemu
        self.px = ColoProxy(primary_proxy_args(
            self.prun, self.ns.ifname(f'{t}pl'), self.vnet), dir=self.prun,
            wrapper=['ip', 'netns', 'exec', self.p])
        self.sx = ColoProxy(secondary_proxy_args(
            self.srun, self.prun, self.ns.ifname(f'{t}sl'), self.vnet),
            dir=self.srun, wrapper=['ip', 'netns', 'exec', self.s])
        self.gp = guest('primary', self.prun, self.nic, self.fw)
        self.gs = guest('secondary', self.srun, self.nic, self.fw)
        self.gp.start()
        self.gs.start()
        try:
            self.gp.wait_up()
        except RuntimeError as e:
            raise TestFailure(str(e))
        log(f'primary guest up in {self.gp.boot_seconds:.1f}s '
            f'({self.gp.accel}): {self.gp.up_line}')
        self.qp = QMPClient(self.gp.qmp_path, timeout=30)
        self.qs = QMPClient(self.gs.qmp_path, timeout=30)
        for side, cmd, args in COLO_START:
            q = self.qp if side == 'primary' else self.qs
            if cmd == 'migrate':
                args = {'uri': f'unix:{self.srun}/mig.sock'}
                t0 = time.monotonic()
            q.cmd(cmd, args)
        status = None
        while time.monotonic() - t0 < 60:
            status = self.qp.cmd('query-migrate').get('status')
            if status in ('colo', 'completed', 'failed', 'cancelled'):
                break
            time.sleep(0.1)
        dt = time.monotonic() - t0
        self.final_status = status
        if status == 'completed' and self.expect_completed:
            return dt
        if status == 'completed':
            raise TestFailure('the migration completed instead of entering '
                              'COLO: this QEMU cannot run COLO (QEMU '
                              '10.0.0-10.0.6 without the state fix, '
                              'docs/qemu.md)')
        check_eq(status, 'colo', 'primary QEMU migration status')
        wait_for(lambda: self.qs.cmd('query-colo-status')['mode'] ==
                 'secondary', 10, interval=0.1,
                 what='the secondary QEMU in COLO')
        return dt

    def proxies_ready(self):
        """Both drivers connected and the frames in their modes."""
        for x, mode in ((self.px, 'primary'), (self.sx, 'secondary')):
            st = x.qmp.cmd('query-colo-status')
            check_eq(st['mode'], mode, f'{mode} colo-proxy mode')

    def stop(self):
        for g in (self.gp, self.gs):
            if g:
                g.kill()
        for x in (self.px, self.sx):
            if x:
                x.kill()
        for q in (self.qp, self.qs):
            if q:
                q.close()


# --------------------------------------------------------------------------
# the checks

class Checks:
    def __init__(self, scenario):
        self.scenario = scenario
        self.failed = []
        self.passed = []

    def run(self, name, fn, *a):
        log(f'--- {self.scenario}: check {name}')
        t0 = time.monotonic()
        try:
            fn(*a)
        except (TestFailure, AssertionError, QMPError, TimeoutError,
                EOFError, OSError) as e:
            self.failed.append(name)
            log(f'FAIL check {name} ({time.monotonic() - t0:.1f}s): {e}')
            return False
        self.passed.append(name)
        log(f'PASS check {name} ({time.monotonic() - t0:.1f}s)')
        return True

    def finish(self):
        log(f'{self.scenario}: checks passed {self.passed}, failed '
            f'{self.failed}')
        if self.failed:
            raise TestFailure(f'{self.scenario}: checks failed: '
                              f'{", ".join(self.failed)}')


def check_identical(pair):
    """2: identical traffic, 0 checkpoint requests from colo-proxy."""
    n0, st0 = requests(pair.px)
    echo = Echo(pair.ns, pair.c)
    paths = [f'/cgi-bin/page?{1 + k % 60}' for k in range(N_IDENTICAL)]
    t0 = time.monotonic()
    res = http_seq(pair.ns, pair.c, paths)
    dt = time.monotonic() - t0
    e = echo.stop()
    times = check_pages(res)
    log(f'{len(res)} CGI requests in {dt:.1f}s (max '
        f'{max(times) * 1000:.0f} ms), every body right; echo: {e}')
    check(e['error'] is None and e['lines'] > 0, f'echo connection: {e}')
    n1, st1 = requests(pair.px)
    cs = pair.px.qmp.cmd('query-colo-compare-stats', id='comp0')[0]
    log(f'colo-proxy checkpoint requests {st0["requests"]} -> '
        f'{st1["requests"]}; compare matched {cs["matched"]}, '
        f'mismatched {cs["mismatched"]}')
    if n1 != n0:
        # what colo-proxy said about them (for the defect report)
        drain(pair.px.qmp)
        evs = [e for e in pair.px.qmp.events
               if 'CHECKPOINT' in e['event'] or 'MISCOMPARE' in e['event']]
        log('colo-proxy events: ' + '; '.join(
            f'{e["event"]} {json.dumps(e.get("data"))}' for e in evs[:8]))
        slow = sorted(((t, i) for i, t in enumerate(times) if t > 0.5),
                      reverse=True)
        ports = [r[3] for r in res]
        log('requests slower than 500 ms (index, ms, client port, earlier '
            'requests from that port): ' + str(
                [(i, round(t * 1000), ports[i], ports[:i].count(ports[i]))
                 for t, i in slow]))
    check_eq(n1 - n0, 0, 'checkpoint requests from colo-proxy during '
             'identical traffic')


def tcp_payload_from(pcap, port):
    """The TCP payloads sent from 'port' in a pcap file, concatenated."""
    try:
        with open(pcap, 'rb') as f:
            blob = f.read()
    except OSError:
        return b''
    out, pos = [], 24
    while pos + 16 <= len(blob):
        incl = int.from_bytes(blob[pos + 8:pos + 12], 'little')
        fr = blob[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        if len(fr) < 34 or fr[12:14] != b'\x08\x00' or fr[23] != 6:
            continue
        ihl = (fr[14] & 15) * 4
        tcp = fr[14 + ihl:]
        if len(tcp) < 20 or int.from_bytes(tcp[0:2], 'big') != port:
            continue
        tot = int.from_bytes(fr[16:18], 'big')
        out.append(tcp[(tcp[12] >> 4) * 4:tot - ihl])
    return b''.join(out)


def check_miscompare(pair):
    """3: a per-VM reply: checkpoint requested and committed, the client
    gets the primary's reply once."""
    n0, st0 = requests(pair.px)
    sec0 = pair.sx.qmp.cmd('query-colo-stats')['completed']
    take_events(pair.qp, ())
    res = http_seq(pair.ns, pair.c, ['/cgi-bin/sched'])
    path, dt, raw, _port = res[0]
    status, body = split_http(raw)
    check(status.endswith('200 OK'), f'/cgi-bin/sched: {status!r}')
    check(body.count('version ') == 1 and 'timestamp' in body,
          f'one schedstat in the answer: {body[:300]!r}')
    check_eq(raw.count('HTTP/1.'), 1, 'HTTP responses in the answer')
    wait_for(lambda: requests(pair.px)[1]['completed'] > st0['completed'],
             10, interval=0.05, what='a committed checkpoint')
    n1, st1 = requests(pair.px)
    ev = take_events(pair.qp, ('STOP', 'RESUME'))
    log(f'/cgi-bin/sched answered in {dt * 1000:.0f} ms; colo-proxy '
        f'requests {st0["requests"]} -> {st1["requests"]}, completed '
        f'{st0["completed"]} -> {st1["completed"]}; primary QEMU events '
        f'{[e["event"] for e in ev]}')
    time.sleep(0.2)
    log(f'secondary colo-proxy: loaded checkpoints counted {sec0} -> '
        f'{pair.sx.qmp.cmd("query-colo-stats")["completed"]}')
    check(st1['requests'].get('miscompare', 0) >
          st0['requests'].get('miscompare', 0),
          'colo-proxy requested a checkpoint for the miscompare')
    check('STOP' in [e['event'] for e in ev] and
          'RESUME' in [e['event'] for e in ev],
          'the primary QEMU took the checkpoint (STOP, RESUME)')
    # the primary's reply: two VMs answered, the client's answer is not
    # the secondary's (its guest's output, dumped on the secondary host)
    # (filter-dump flushes its file once a second)
    def secondary_answer():
        sec = tcp_payload_from(os.path.join(pair.srun, 'secondary-out.pcap'),
                               80).decode('latin-1')
        return re.findall(r'^cpu0 .*$', sec, re.M)
    mine = re.search(r'^cpu0 .*$', body, re.M)
    end = time.monotonic() + 3
    while not secondary_answer() and time.monotonic() < end:
        time.sleep(0.1)
    theirs = secondary_answer()
    log(f'client got {mine.group(0) if mine else None!r}; the secondary '
        f'VM answered {theirs[-1] if theirs else None!r}')
    check(mine and theirs, 'cpu0 lines in both VMs\' answers')
    check(mine.group(0) != theirs[-1], 'the client got the primary\'s '
          'answer, not the secondary\'s')


def check_periodic(pair):
    """4: x-checkpoint-delay 2000 during 200 sequential requests: none
    slower than 500 ms (nor any echo round trip), and no compare_timeout
    checkpoint request."""
    n0, st0 = requests(pair.px)
    take_events(pair.qp, ())
    # the echo connection beside the requests keeps output in flight at
    # most instants, so that periodic checkpoints do meet held output
    echo = Echo(pair.ns, pair.c)
    pair.qp.cmd('migrate-set-parameters', {'x-checkpoint-delay': 2000})
    paths = [f'/cgi-bin/page?{1 + k % 20}' for k in range(N_PERIODIC)]
    t0 = time.monotonic()
    # 50 ms apart: the 200 requests span several periodic checkpoints
    res = http_seq(pair.ns, pair.c, paths, gap=PERIODIC_GAP)
    dt = time.monotonic() - t0
    pair.qp.cmd('migrate-set-parameters',
                {'x-checkpoint-delay': QUIET_DELAY_MS})
    e = echo.stop()
    times = check_pages(res)
    ev = take_events(pair.qp, ('RESUME',))
    n1, st1 = requests(pair.px)
    slow = sorted(((t, i) for i, t in enumerate(times)
                   if t * 1000 > SLOW_MS), reverse=True)
    srt = sorted(times)
    log(f'{len(times)} requests in {dt:.1f}s with ~{len(ev)} QEMU '
        f'checkpoints: p50 {srt[len(srt) // 2] * 1000:.0f} ms, p99 '
        f'{srt[int(len(srt) * 0.99)] * 1000:.0f} ms, max '
        f'{srt[-1] * 1000:.0f} ms; slower than {SLOW_MS} ms: '
        f'{[(i, round(t * 1000)) for t, i in slow]}; colo-proxy requests '
        f'{st0["requests"]} -> {st1["requests"]}')
    worst = e.get('worst')
    log(f'echo beside them: {e["lines"]} lines, error {e["error"]}, worst '
        f'round trip {"%.0f ms" % (worst * 1000) if worst else "?"}')
    problems = []
    if slow:
        problems.append(f'{len(slow)} of {len(times)} requests slower than '
                        f'{SLOW_MS} ms (worst {srt[-1] * 1000:.0f} ms)')
    if e['error']:
        problems.append(f'echo connection: {e["error"]}')
    elif worst is None or worst * 1000 > SLOW_MS:
        problems.append(f'echo round trip of {worst * 1000:.0f} ms')
    # the traffic is identical: a 'timeout' request means primary output
    # waited compare_timeout for a counterpart the secondary, a copy of
    # the primary since the last checkpoint, will never send -- the stall
    # itself, even when no client happened to wait for that output
    tmo = st1['requests'].get('timeout', 0) - st0['requests'].get('timeout', 0)
    if tmo:
        problems.append(f'{tmo} checkpoint requests for compare_timeout '
                        f'(held output not released at a checkpoint)')
    check(not problems, '; '.join(problems))


def oopses(text):
    return [ln for ln in text.splitlines()
            if re.search(r'Oops|BUG[: ]|[Pp]anic|Call Trace', ln)]


def check_failover_primary_dies(pair):
    """5: kill -9 the primary QEMU and its colo-proxy: the secondary
    colo-proxy fails over its filters and its QEMU by itself."""
    echo = Echo(pair.ns, pair.c)
    time.sleep(1.0)
    take_events(pair.qs, ())
    t_kill = time.monotonic()
    pair.gp.kill()
    pair.px.kill()
    log('primary QEMU and colo-proxy killed (SIGKILL)')
    proxy_done = qemu_done = None
    problems = []
    end = t_kill + 3
    while time.monotonic() < end and not (proxy_done and qemu_done):
        if proxy_done is None and \
                pair.sx.qmp.cmd('query-colo-status')['mode'] == 'none':
            proxy_done = time.monotonic() - t_kill
        if qemu_done is None and \
                pair.qs.cmd('query-colo-status')['mode'] == 'none':
            qemu_done = time.monotonic() - t_kill
        time.sleep(0.02)
    log(f'secondary colo-proxy failed over: '
        f'{"%.0f ms" % (proxy_done * 1000) if proxy_done else "no"}; '
        f'secondary QEMU left COLO: '
        f'{"%.0f ms" % (qemu_done * 1000) if qemu_done else "no"} '
        f'(within 3 s of the kill, nothing sent by the test)')
    if not proxy_done:
        problems.append('the secondary colo-proxy did not fail over')
    if not qemu_done:
        problems.append('the secondary colo-proxy did not fail its QEMU '
                        'over (query-colo-status of the secondary QEMU '
                        f'still {pair.qs.cmd("query-colo-status")})')
        # finish the failover by hand so that the rest is still measured
        pair.qs.cmd('x-colo-lost-heartbeat')
        pair.qs.cmd('announce-self', {'initial': 50, 'max': 550,
                                      'rounds': 5, 'step': 100})
        log('test sent x-colo-lost-heartbeat and announce-self to the '
            'secondary QEMU itself')
    ev = take_events(pair.qs, ('COLO_EXIT', 'STOP', 'RESUME'))
    log(f'secondary QEMU events: {[(e["event"], e.get("data")) for e in ev]}')
    wait_for(lambda: pair.qs.cmd('query-status')['status'] == 'running',
             10, what='the secondary VM running')
    time.sleep(2.0)
    e = echo.stop()
    worst = e.get('worst')
    log(f'echo across failover: {e["lines"]} lines, error {e["error"]}, '
        f'worst round trip '
        f'{"%.0f ms" % (worst * 1000) if worst is not None else "?"} '
        f'(at {e.get("worst_at")}s; kill at '
        f'{t_kill - echo.t0:.2f}s), p50 {e.get("p50")}')
    if e['error']:
        problems.append(f'echo connection: {e["error"]}')
    elif worst is None or worst * 1000 >= STALL_MS:
        problems.append(f'worst echo round trip {worst * 1000:.0f} ms '
                        f'(>= {STALL_MS} ms)')
    res = http_seq(pair.ns, pair.c, ['/cgi-bin/page?3'], timeout=60)
    try:
        check_pages(res)
    except TestFailure as x:
        problems.append(f'after failover: {x}')
    bad = oopses(pair.gs.console())
    log(f'secondary serial log: {len(pair.gs.console())} bytes, '
        f'oops/BUG/panic lines: {bad[:5]}')
    if bad:
        problems.append(f'secondary guest console: {bad[:3]}')
    check(not problems, '; '.join(problems))


def check_secondary_dies(pair):
    """6: kill the secondary host: the primary keeps serving, no stall
    over 1 s."""
    echo = Echo(pair.ns, pair.c)
    time.sleep(1.0)
    take_events(pair.qp, ())
    t_kill = time.monotonic()
    pair.gs.kill()
    pair.sx.kill()
    log('secondary QEMU and colo-proxy killed (SIGKILL)')
    paths = [f'/cgi-bin/page?{1 + k % 20}' for k in range(60)]
    res = http_seq(pair.ns, pair.c, paths)
    times = check_pages(res)
    e = echo.stop()
    end = t_kill + 3   # the primary QEMU: out of COLO within 3 s
    while time.monotonic() < end and \
            pair.qp.cmd('query-colo-status')['mode'] != 'none':
        time.sleep(0.05)
    px = pair.px.qmp.cmd('query-colo-status')
    qp = pair.qp.cmd('query-colo-status')
    ev = take_events(pair.qp, ('COLO_EXIT', 'STOP', 'RESUME'))
    worst = e.get('worst')
    log(f'after the kill: {len(times)} requests, max '
        f'{max(times) * 1000:.0f} ms; echo {e["lines"]} lines, error '
        f'{e["error"]}, worst '
        f'{"%.0f ms" % (worst * 1000) if worst is not None else "?"}; '
        f'primary colo-proxy {px}; primary QEMU {qp}, events '
        f'{[(x["event"], x.get("data")) for x in ev]}')
    problems = []
    if e['error']:
        problems.append(f'echo connection: {e["error"]}')
    elif worst is None or worst * 1000 >= STALL_MS:
        problems.append(f'worst echo round trip {worst * 1000:.0f} ms')
    if max(times) * 1000 >= STALL_MS:
        problems.append(f'slowest request {max(times) * 1000:.0f} ms')
    if px['mode'] != 'none':
        problems.append(f'primary colo-proxy still in COLO: {px}')
    if qp['mode'] != 'none':
        problems.append(f'primary QEMU still in COLO: {qp}')
    check(not problems, '; '.join(problems))


def scenario(tag, nic, vnet, checks):
    need_root()
    need_netns()
    for t in ('filter-mirror', 'filter-redirector', 'colo-compare',
              'filter-rewriter', 'colo-frame', 'colo-heartbeat', 'iothread'):
        need_types(t)
    need_types('af-packet', option='-netdev')
    need_types('stream', option='-device')
    qemu, fw = colo_qemu()
    os.environ['QEMU'] = qemu
    try:
        vmguest.guest_dir(log=log)
    except vmguest.GuestUnavailable as e:
        if in_ci():
            raise TestFailure(str(e))
        raise Skip(str(e))
    name = f'{nic}{" vnet" if vnet else ""}'
    ck = Checks(name)
    with NetNS() as ns:
        pair = Pair(ns, tag, nic, vnet, qemu, fw)
        try:
            def reached():
                dt = pair.start()
                log(f'COLO after {dt:.1f}s from migrate '
                    f'({time.monotonic() - t_launch:.1f}s from launch)')
                pair.proxies_ready()
            t_launch = time.monotonic()
            if not ck.run('1 COLO reached', reached):
                ck.finish()
            for name_, fn in checks:
                ck.run(name_, fn, pair)
        finally:
            pair.stop()
    ck.finish()


def stock_qemu():
    """(binary, firmware dir, module dir) of the stock bookworm-backports
    10.0.2 (scripts/build-colo-qemu.sh --stock)."""
    script = os.path.join(source_dir(), 'scripts', 'build-colo-qemu.sh')
    r = subprocess.run([script, '--stock'], capture_output=True, text=True)
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ['no stock QEMU 10'])[-1]
        if in_ci():
            raise TestFailure(why)
        raise Skip(why)
    lines = r.stdout.strip().split('\n')
    return (lines[0].strip(), lines[1].split(None, 1)[1].strip(),
            lines[2].split('=', 1)[1].strip())


def driver_reports(px, since):
    """What the primary colo-proxy said about a migration that did not
    enter COLO: its warnings (stderr lines after offset 'since' from the
    qemu driver or the frame that name the completion or COLO) and its QMP
    events that mention 'completed'."""
    said = [ln for ln in px.stderr()[since:].splitlines()
            if re.search(r'warning|critical|error', ln, re.I) and
            re.search(r'complet|COLO', ln)]
    drain(px.qmp)
    evs = [e for e in px.qmp.events if 'complet' in json.dumps(e)]
    return said, evs


def test_qemu_without_colo_reported():
    """Check 1, the other half: the stock 10.0.2 (bug (c)) completes the
    migration instead of entering COLO; colo-proxy must say so (a warning
    in its log or an event), not stay silent."""
    need_root()
    need_netns()
    need_types('colo-frame', 'colo-heartbeat', 'colo-compare')
    qemu, fw, moddir = stock_qemu()
    os.environ['QEMU_MODULE_DIR'] = moddir
    try:
        vmguest.guest_dir(log=log)
    except vmguest.GuestUnavailable as e:
        raise (TestFailure if in_ci() else Skip)(str(e))
    with NetNS() as ns:
        pair = Pair(ns, 'n', 'e1000', False, qemu, fw)
        pair.expect_completed = True
        try:
            dt = pair.start()
            since = len(pair.px.stderr())
            check_eq(pair.final_status, 'completed',
                     'the stock QEMU 10.0.2\'s migration status')
            log(f'stock QEMU: migration completed {dt:.1f}s after migrate '
                f'(no COLO: bug (c))')
            end = time.monotonic() + 5
            said, evs = driver_reports(pair.px, 0)
            while not (said or evs) and time.monotonic() < end:
                time.sleep(0.2)
                said, evs = driver_reports(pair.px, 0)
            st = pair.px.qmp.cmd('query-colo-status')
            log(f'primary colo-proxy: query-colo-status {st}; warnings '
                f'{said[:3]}; events {evs[:3]}')
            check(said or evs, 'colo-proxy said nothing about a QEMU that '
                  'completed the migration instead of entering COLO (no '
                  'warning naming it in its log, no event mentioning '
                  '"completed")')
        finally:
            pair.stop()
            os.environ.pop('QEMU_MODULE_DIR', None)


def test_real_colo_e1000():
    scenario('r', 'e1000', False, [
        ('2 identical traffic, no checkpoint', check_identical),
        ('3 per-VM reply, one checkpoint', check_miscompare),
        ('4 periodic checkpoints, no slow request', check_periodic),
        ('5 primary dies, automatic failover', check_failover_primary_dies)])


def test_real_colo_virtio_vnet():
    scenario('v', 'virtio-net-pci', True, [
        ('2 identical traffic, no checkpoint', check_identical),
        ('3 per-VM reply, one checkpoint', check_miscompare),
        ('6 secondary dies, primary serves', check_secondary_dies)])


# --------------------------------------------------------------------------

def print_cmdlines(nic='e1000', vnet=False):
    """The command lines with placeholders: $PRUN/$SRUN the working
    directories, $PIF/$SIF the two hosts' LAN interfaces, $GUEST the built
    guest, $QEMU_FW the firmware directory build-colo-qemu.sh printed."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from test_vm_colo import shell_lines
    pr, sr = '$PRUN', '$SRUN'
    print('# primary colo-proxy (in the namespace holding $PIF)')
    print(shell_lines(['colo-proxy'] + primary_proxy_args(pr, '$PIF', vnet)
                      + ['-qmp', f'unix:{pr}/qmp.sock,server=on,wait=off']))
    print('\n# secondary colo-proxy (in the namespace holding $SIF)')
    print(shell_lines(['colo-proxy'] + secondary_proxy_args(sr, pr, '$SIF',
                                                            vnet)
                      + ['-qmp', f'unix:{sr}/qmp.sock,server=on,wait=off']))
    for name, run in (('primary', pr), ('secondary', sr)):
        g = guest(name, run, nic, '$QEMU_FW')
        g.accel = 'tcg'
        a = g.qemu_args('$GUEST')
        a[0] = '$QEMU'
        print(f'\n# {name} QEMU')
        print(shell_lines(a))
    print('\n# QMP, in this order (operator monitors primary.qmp, '
          'secondary.qmp)')
    for side, cmd, args in COLO_START:
        a = json.dumps({'execute': cmd, 'arguments': args})
        print(f'{side}: {a}')
    print('primary: {"execute": "query-migrate"}   # until "status": "colo"')


if __name__ == '__main__':
    if '--print-cmdlines' in sys.argv:
        print_cmdlines()
        sys.exit(0)
    if '--print-cmdlines-virtio-vnet' in sys.argv:
        print_cmdlines('virtio-net-pci', True)
        sys.exit(0)
    run_tests([test_real_colo_e1000, test_real_colo_virtio_vnet,
               test_qemu_without_colo_reported], timeout=900)
