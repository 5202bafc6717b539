# SPDX-License-Identifier: GPL-2.0-or-later
"""colopair - a real COLO pair through two colo-proxies, for the test,
the demo and the benchmark (issue 12).

One copy of the harness that tests/e2e/test_vm_qemu_colo.py (the checks),
scripts/colo-vm-demo.py (`make demo`) and bench/bench_colo_vm.py (colo-proxy
against QEMU's own filters) share:

  colo_qemu()            the patched QEMU 10.0.2 (scripts/build-colo-qemu.sh,
                         built once into /var/cache/colo-proxy)
  need_colo_qemu(),      it and the guest, or Skip (TestFailure under CI);
  need_guest()           bench_setup(): the same for a bench (exits)
  primary_proxy_args()   the two colo-proxies' command lines (the seeds'
  secondary_proxy_args() topology, colo-frame driver=qemu, colo-heartbeat)
  guest()                a tiny guest VM (tests/vm/vmguest.py) whose NIC is a
                         -netdev stream into its host's colo-proxy
  COLO_START, COLO_CAPS  the QMP that starts COLO, as QEMU 10 wants it
  incoming_secondary()   a fresh -incoming secondary QEMU (re-protection)
  Pair                   namespaces, both colo-proxies, both QEMUs: start()
                         reaches COLO, stop() kills what it started;
                         Pair(..., proxy='qemu') runs QEMU's own proxy objects
                         in the QEMUs instead (qemu_proxy_args()) behind
                         pass-through colo-proxies (passthrough_proxy_args()),
                         the baseline of bench/bench_colo_vm.py
  HostPairs              N pairs behind ONE colo-proxy per host (issue 17):
                         bind_to_frame() makes one pair's options share a
                         process (frame=, prefixed ids); tests/e2e/
                         test_vm_qemu_pairs.py
  Echo, http_seq()       the client (a process in the client namespace): a
                         long-lived echo connection, sequential HTTP requests
  check_pages(), cgi_body(), split_http(), tcp_payload_from(), oopses()
  need_real_pair(), Checks   what a real-pair test needs; its numbered checks
  drain(), take_events(), requests()   QMP events and colo-proxy counters

The topology (every box a network namespace; the QEMUs, whose NICs are
unix sockets, run outside them):

  ns C: client 10.91.0.1 ==veth== ns L: bridge br0 ==veth== ns P: primary colo-proxy
                                            ||                 -device stream <- primary QEMU
                                            ==veth== ns S: secondary colo-proxy
                                                       -device stream <- secondary QEMU

Python standard library only, plus tests/qtest/coloqtest.py (ColoProxy,
QMPClient, NetNS, check) and tests/vm/vmguest.py.
"""

import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', 'qtest'))

from coloqtest import *        # noqa: E402,F401,F403
import vmguest                 # noqa: E402

CLIENT_IP, GUEST_IP = '10.91.0.1', '10.91.0.2'
CLIENT_MAC, GUEST_MAC = '52:54:00:91:00:01', '52:54:00:91:00:02'
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



class Checks:
    """A test's numbered checks: each runs, is logged PASS/FAIL with its
    time, and a failure does not stop the later checks; finish() fails
    the test if any failed.  'scenario' prefixes the lines when a test
    runs the checks more than once (test_vm_qemu_colo's NICs)."""

    def __init__(self, scenario=''):
        self.scenario = scenario
        self.prefix = f'{scenario}: ' if scenario else ''
        self.failed, self.passed = [], []

    def run(self, name, fn, *a):
        log(f'--- {self.prefix}check {name}')
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
        log(f'{self.prefix}checks passed {self.passed}, failed '
            f'{self.failed}')
        if self.failed:
            raise TestFailure(f'{self.prefix}checks failed: '
                              f'{", ".join(self.failed)}')


def need_guest(log=log):
    """The tiny guest of tests/vm/ (built if need be): Skip naming what is
    missing, TestFailure under CI."""
    try:
        vmguest.guest_dir(log=log)
    except vmguest.GuestUnavailable as e:
        if in_ci():
            raise TestFailure(str(e))
        raise Skip(str(e))


def need_colo_qemu(log=log):
    """The COLO QEMU (colo_qemu(), made $QEMU for vmguest) and the guest,
    for everything on the real pair (tests/e2e/test_vm_qemu_colo.py,
    tests/ha/test_ha_qemu.py, bench_setup()).  Returns (qemu, firmware
    dir)."""
    qemu, fw = colo_qemu()
    os.environ['QEMU'] = qemu
    need_guest(log)
    return qemu, fw


def need_real_pair(log=log):
    """Everything a test of the real pair needs (root, namespaces, the
    object types of both colo-proxies, the COLO QEMU and the guest):
    Skip naming what is missing, TestFailure under CI.  Returns (qemu,
    firmware dir)."""
    need_root()
    need_netns()
    for t in ('filter-mirror', 'filter-redirector', 'colo-compare',
              'filter-rewriter', 'colo-frame', 'colo-heartbeat', 'iothread'):
        need_types(t)
    need_types('af-packet', option='-netdev')
    need_types('stream', option='-device')
    return need_colo_qemu(log)


def bench_setup(name, build, log):
    """What a bench on the real pair needs before it starts (bench/
    bench_colo_vm.py, bench_storm_vm.py): root, the build directory, the
    COLO QEMU and the guest.  Returns (qemu, firmware dir); exits with one
    line naming what is missing."""
    if os.geteuid() != 0:
        sys.exit(f'{name}: needs root (namespaces, AF_PACKET)')
    os.environ['COLO_BUILD_DIR'] = os.path.abspath(build)
    try:
        return need_colo_qemu(log)
    except (Skip, TestFailure) as e:
        sys.exit(f'{name}: {e}')

# --------------------------------------------------------------------------
# the command lines (shared with docs/qemu.md through --print-cmdlines)

def primary_proxy_args(run, netdev_if, vnet=False, name='colo-primary',
                       frame=None, heartbeat=True):
    """The primary colo-proxy's command line after the binary (no -qmp:
    coloqtest adds it): the seeds' topology on unix sockets in 'run'.
    'frame' is the colo-frame's driver options (default: driver=qemu on
    the primary QEMU's second monitor); 'heartbeat' adds colo-heartbeat
    (server side).  tests/e2e/test_vm_colo.py uses it with driver=exec and
    no heartbeat."""
    v = ',vnet_hdr_support=on' if vnet else ''
    s = lambda n: os.path.join(run, n)    # noqa: E731
    if frame is None:
        frame = f'driver=qemu,qemu-qmp=unix:{s("primary-drv.qmp")}'
    a = [
        '-name', name,
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
        '-object', f'colo-frame,id=colo0,mode=primary,{frame}']
    if heartbeat:
        a += ['-chardev', f'socket,id=hb,path={s("heartbeat.sock")},'
                          'server=on,wait=off',
              '-object', f'colo-heartbeat,id=hb0,chardev=hb,{HB},failover=on']
    return a


def secondary_proxy_args(run, primary_run, netdev_if, vnet=False,
                         name='colo-secondary', qemu=True, dump=True):
    """The secondary's, connecting to the primary's sockets in
    'primary_run'.  With 'qemu' (the real pair): colo-frame driver=qemu on
    the secondary QEMU's second monitor, colo-heartbeat (client side) and
    a filter-dump of the guest's output; without (test_vm_colo's
    independent guests): a bare colo-frame."""
    v = ',vnet_hdr_support=on' if vnet else ''
    p = lambda n: os.path.join(primary_run, n)    # noqa: E731
    s = lambda n: os.path.join(run, n)    # noqa: E731
    a = [
        '-name', name,
        '-netdev', f'af-packet,id=hn0,ifname={netdev_if}',
        '-device', 'stream,id=vm,netdev=hn0,server=on,addr.type=unix,'
                   f'addr.path={s("secondary-vm.sock")}',
        '-chardev', f'socket,id=red0,path={p("mirror.sock")},reconnect=1',
        '-chardev', f'socket,id=red1,path={p("compare1.sock")},reconnect=1',
        '-object', f'filter-redirector,id=f1,netdev=hn0,queue=tx,'
                   f'indev=red0{v}',
        '-object', f'filter-redirector,id=f2,netdev=hn0,queue=rx,'
                   f'outdev=red1{v}',
        '-object', f'filter-rewriter,id=rew0,netdev=hn0,queue=all{v}']
    if not qemu:
        return a + ['-object', 'colo-frame,id=colo0,mode=secondary']
    a += [
        '-chardev', f'socket,id=hb,path={p("heartbeat.sock")},reconnect=1',
        '-object', 'colo-frame,id=colo0,mode=secondary,driver=qemu,'
                   f'qemu-qmp=unix:{s("secondary-drv.qmp")}',
        '-object', f'colo-heartbeat,id=hb0,chardev=hb,{HB},failover=on']
    if dump:
        # the secondary guest's output, before the rewriter and f2 (check
        # 3 shows the client did not get this reply); the bench leaves it
        # out (a file write per frame that QEMU's pair does not do)
        a += ['-object', 'filter-dump,id=sdump,netdev=hn0,queue=rx,'
                         f'file={s("secondary-out.pcap")}']
    return a


def shell_lines(argv):
    """argv as a shell command, one option and its value per line; values
    are double-quoted when needed so that $VARIABLES still expand."""
    def q(x):
        if x and all(ch.isalnum() or ch in '-_=,.:/$@+' for ch in x):
            return x
        return '"' + x.replace('"', '\\"') + '"'
    out, i = [q(argv[0])], 1
    while i < len(argv):
        if argv[i].startswith('-') and i + 1 < len(argv) and \
                not argv[i + 1].startswith('-'):
            out.append(f'{argv[i]} {q(argv[i + 1])}')
            i += 2
        else:
            out.append(q(argv[i]))
            i += 1
    return ' \\\n    '.join(out)


def print_pair_cmdlines(primary_args, secondary_args, qemu_argv):
    """Prints both colo-proxies' and both QEMUs' command lines (what
    --print-cmdlines shows and docs/qemu.md quotes), with $PRUN and $SRUN
    for the two working directories: primary_args(prun),
    secondary_args(srun, prun) and qemu_argv(name, run) build them."""
    pr, sr = '$PRUN', '$SRUN'
    print('# primary colo-proxy (in the namespace holding $PIF)')
    print(shell_lines(['colo-proxy'] + primary_args(pr)
                      + ['-qmp', f'unix:{pr}/qmp.sock,server=on,wait=off']))
    print('\n# secondary colo-proxy (in the namespace holding $SIF)')
    print(shell_lines(['colo-proxy'] + secondary_args(sr, pr)
                      + ['-qmp', f'unix:{sr}/qmp.sock,server=on,wait=off']))
    for name, run in (('primary', pr), ('secondary', sr)):
        print(f'\n# {name} QEMU')
        print(shell_lines(qemu_argv(name, run)))


def passthrough_proxy_args(name, run, netdev_if):
    """A colo-proxy that only joins its VM's stream to the LAN (no filter):
    the transport of the pair whose proxy is QEMU's own (qemu_proxy_args),
    so that both pairs reach the LAN the same way (bench/)."""
    return ['-name', f'colo-{name}-passthrough',
            '-netdev', f'af-packet,id=hn0,ifname={netdev_if}',
            '-device', 'stream,id=vm,netdev=hn0,server=on,addr.type=unix,'
                       f'addr.path={os.path.join(run, name + "-vm.sock")}']


def qemu_proxy_args(name, run, primary_run):
    """QEMU's own COLO proxy objects, in the VM's QEMU, on its NIC's
    netdev n0 (tests/vm/vmguest.py): the seeds' docs/COLO-FT.txt command
    lines with unix sockets.  QEMU's colo-compare asks its own COLO thread
    for checkpoints; there is no heartbeat (failover is sent by hand)."""
    p = lambda n: os.path.join(primary_run, n)    # noqa: E731
    if name == 'primary':
        return [
            '-chardev', f'socket,id=mirror0,path={p("mirror.sock")},'
                        'server=on,wait=off',
            '-chardev', f'socket,id=compare1,path={p("compare1.sock")},'
                        'server=on,wait=off',
            '-chardev', f'socket,id=compare0,path={p("compare0.sock")},'
                        'server=on,wait=off',
            '-chardev', f'socket,id=compare0-0,path={p("compare0.sock")}',
            '-chardev', f'socket,id=compare_out,path={p("compare_out.sock")},'
                        'server=on,wait=off',
            '-chardev', f'socket,id=compare_out0,'
                        f'path={p("compare_out.sock")}',
            '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,outdev=mirror0',
            '-object', 'filter-redirector,netdev=n0,id=redire0,queue=rx,'
                       'indev=compare_out',
            '-object', 'filter-redirector,netdev=n0,id=redire1,queue=rx,'
                       'outdev=compare0',
            '-object', 'iothread,id=iothread1',
            '-object', 'colo-compare,id=comp0,primary_in=compare0-0,'
                       'secondary_in=compare1,outdev=compare_out0,'
                       'iothread=iothread1']
    return [
        '-chardev', f'socket,id=red0,path={p("mirror.sock")},'
                    'reconnect-ms=200',
        '-chardev', f'socket,id=red1,path={p("compare1.sock")},'
                    'reconnect-ms=200',
        '-object', 'filter-redirector,id=f1,netdev=n0,queue=tx,indev=red0',
        '-object', 'filter-redirector,id=f2,netdev=n0,queue=rx,outdev=red1',
        '-object', 'filter-rewriter,id=rew0,netdev=n0,queue=all']


def guest(name, run, nic, fw, objects=(), ip=GUEST_IP, mac=GUEST_MAC):
    """Both VMs boot the same guest as "primary" (the secondary's memory
    is the primary's anyway).  The secondary waits for the migration.
    'objects': more QEMU options (QEMU's own proxy, qemu_proxy_args);
    'ip', 'mac': the guest's (another pair's, HostPairs)."""
    extra = ['-L', fw] if fw else []
    extra += list(objects)
    extra += ['-qmp', f'unix:{os.path.join(run, name + "-drv.qmp")},'
                      'server=on,wait=off']
    if name == 'secondary':
        extra += ['-incoming', f'unix:{os.path.join(run, "mig.sock")}']
    g = vmguest.VMGuest(
        name, run, ip=f'{ip}/24', nic=nic, mac=mac,
        neigh=(CLIENT_IP, CLIENT_MAC),
        netdev=['stream', 'server=off', 'addr.type=unix',
                f'addr.path={os.path.join(run, name + "-vm.sock")}',
                'reconnect-ms=1000'],
        extra=extra)
    # colo.printk=4: warnings, oopses and panics reach the serial log
    # (check 5 reads the secondary's)
    g.append_line = lambda: ('console=ttyS0 quiet colo.role=primary '
                             f'colo.ip={ip}/24 '
                             f'colo.neigh={CLIENT_IP},{CLIENT_MAC} '
                             'colo.printk=4')
    return g


# what QEMU 10 wants on both sides of a COLO migration
COLO_CAPS = {'capabilities': [{'capability': 'x-colo', 'state': True},
                              {'capability': 'events', 'state': True}]}

COLO_START = [
    ('primary', 'migrate-set-parameters', {'x-checkpoint-delay':
                                           QUIET_DELAY_MS}),
    ('primary', 'migrate-set-capabilities', COLO_CAPS),
    ('secondary', 'migrate-set-capabilities', COLO_CAPS),
    ('primary', 'migrate', {'uri': 'unix:$SRUN/mig.sock'}),
]


def incoming_secondary(run, nic, fw):
    """A fresh secondary QEMU (-incoming, its sockets in 'run') started,
    its operator monitor open with COLO_CAPS set: the new half of a pair
    being re-protected (tests/ha/test_ha_qemu.py).  Returns (guest, QMP
    client)."""
    g = guest('secondary', run, nic, fw)
    g.start()
    q = QMPClient(g.qmp_path, timeout=30)
    q.cmd('migrate-set-capabilities', COLO_CAPS)
    return g, q


def wait_left_colo(pair, t, bound, step):
    """Polls (every 'step' s) until the secondary colo-proxy (pair.sx)
    and the secondary QEMU (pair.qs) have both left COLO (mode 'none'),
    at most until 'bound' s after 't' (the primary's death).  Returns the
    seconds after 't' at which each was seen to (None: not within the
    bound)."""
    proxy_done = qemu_done = None
    end = t + bound
    while time.monotonic() < end and not (proxy_done and qemu_done):
        if proxy_done is None and \
                pair.sx.qmp.cmd('query-colo-status')['mode'] == 'none':
            proxy_done = time.monotonic() - t
        if qemu_done is None and \
                pair.qs.cmd('query-colo-status')['mode'] == 'none':
            qemu_done = time.monotonic() - t
        time.sleep(step)
    return proxy_done, qemu_done


# --------------------------------------------------------------------------
# the client (a process in namespace C)

CLIENT = r'''
import json, socket, struct, sys, time, select
mode, ip = sys.argv[1], sys.argv[2]
arg = json.loads(sys.argv[3])

def data_segs_in(s):
    # struct tcp_info's tcpi_data_segs_in (Linux 4.6+): the segments with
    # data the guest's reply came in (how the guest's TCP cut it up)
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 160)
    return struct.unpack_from('=I', info, 152)[0] if len(info) >= 156 else -1

def http(path, pace=0):
    # pace: a slow reader (a small receive buffer, 2 KiB per 'pace' s), so
    # that one connection stays open for seconds (the demo's failover)
    t0 = time.monotonic()
    s = socket.socket()
    s.settimeout(30)
    if pace:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((ip, 80))
    port = s.getsockname()[1]
    s.sendall(('GET %s HTTP/1.0\r\nHost: guest\r\n\r\n' % path).encode())
    data = b''
    first = None
    while True:
        d = s.recv(2048 if pace else 65536)
        if not d:
            break
        if first is None:
            first = time.monotonic() - t0
        data += d
        if pace:
            time.sleep(pace)
    segs = data_segs_in(s)
    s.close()
    return data, time.monotonic() - t0, port, first, segs

if mode == 'http':
    # sequential requests, arg['gap'] s apart, or with arg['period'] the
    # k-th starting k * period s after the first (at once if the one
    # before ends later: the same offered load however fast the answers
    # come); [path, seconds, raw answer, client port, seconds to the first
    # reply byte, data segments in]
    out = []
    t_first = time.monotonic()
    for k, p in enumerate(arg['paths']):
        if k and arg.get('period'):
            time.sleep(max(0.0, t_first + k * arg['period'] - time.monotonic()))
        elif k and arg.get('gap'):
            time.sleep(arg['gap'])
        try:
            data, dt, port, first, segs = http(p, arg.get('pace', 0))
            out.append([p, dt, data.decode('latin-1'), port, first, segs])
        except Exception as e:
            out.append([p, -1, 'error %r' % e, None, None, None])
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

    def __init__(self, ns, c, period=0.02, ip=GUEST_IP):
        self.t0 = time.monotonic()
        self.p = ns.popen(c, sys.executable, '-c', CLIENT, 'echo', ip,
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


def http_seq(ns, c, paths, timeout=300, gap=0, ip=GUEST_IP, period=0):
    r = ns.run(c, sys.executable, '-c', CLIENT, 'http', ip,
               json.dumps({'paths': list(paths), 'gap': gap,
                           'period': period}),
               check_rc=False, timeout=timeout)
    if r.returncode != 0:
        raise TestFailure(f'http client failed: {r.stderr[-1500:]}')
    return json.loads(r.stdout)


class HTTPBackground:
    """Sequential requests like http_seq(), in the background: start it,
    do something else, then result() (the same list http_seq returns)."""

    def __init__(self, ns, c, paths, gap=0, pace=0, ip=GUEST_IP):
        # the answers go to a file, not a pipe: nobody reads a pipe while
        # the requests run, and more than 64 KiB of answers would block
        # the client on its final print
        import tempfile
        self.out = tempfile.TemporaryFile('w+')
        self.err = tempfile.TemporaryFile('w+')
        self.p = ns.popen(c, sys.executable, '-c', CLIENT, 'http', ip,
                          json.dumps({'paths': list(paths), 'gap': gap,
                                      'pace': pace}),
                          stdout=self.out, stderr=self.err, text=True)

    def done(self):
        return self.p.poll() is not None

    def result(self, timeout=300):
        try:
            self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure(f'http client still running after {timeout}s')
        self.out.seek(0)
        self.err.seek(0)
        out, err = self.out.read(), self.err.read()
        if self.p.returncode != 0:
            raise TestFailure(f'http client failed: {err[-1500:]}')
        return json.loads(out)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def split_http(raw):
    sep = '\r\n\r\n' if '\r\n\r\n' in raw else '\n\n'
    head, _, body = raw.partition(sep)
    return head.split('\r\n')[0], body


def cgi_body(n):
    return ''.join(f'page {n} line {i}\n' for i in range(1, n + 1))


def check_pages(results):
    """Every /cgi-bin/page?N answer byte-exact; returns the times."""
    times = []
    for path, dt, raw in (r[:3] for r in results):
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


def ev_time(e):
    """A QMP event's timestamp in seconds."""
    t = e['timestamp']
    return t['seconds'] + t['microseconds'] / 1e6


def downtimes(events):
    """STOP -> RESUME pairs of one QEMU's events: [(t_stop, seconds)]."""
    out, stop = [], None
    for e in events:
        if e['event'] == 'STOP':
            stop = ev_time(e)
        elif e['event'] == 'RESUME' and stop is not None:
            out.append((stop, ev_time(e) - stop))
            stop = None
    return out


def pct(xs, q):
    """The q-quantile (0..1) of xs by rank, None when xs is empty."""
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * q))] if s else None


def requests(px):
    st = px.qmp.cmd('query-colo-stats')
    return sum(st['requests'].values()), st


class Pair:
    """One real COLO pair: namespaces, two colo-proxies, two QEMUs."""

    def __init__(self, ns, tag, nic, vnet, qemu, fw, proxy='colo-proxy'):
        """proxy: 'colo-proxy' (the two colo-proxies do COLO's networking)
        or 'qemu' (QEMU's own filters and colo-compare in the VMs' QEMUs,
        the colo-proxies only pass frames through; bench/)."""
        self.proxy = proxy
        self.ns, self.tag, self.nic, self.vnet = ns, tag, nic, vnet
        self.qemu, self.fw = qemu, fw
        self.px = self.sx = self.gp = self.gs = None
        self.qp = self.qs = None
        self.expect_completed = False
        self.dump = True        # the secondary's filter-dump (check 3)

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

    def proxy_wrapper(self, side):
        """The command prefix of a side's colo-proxy: its namespace
        (tests/ha/test_ha_qemu.py adds its host's mount namespace)."""
        return ['ip', 'netns', 'exec', self.p if side == 'primary' else self.s]

    def proxy_extra(self, side):
        """More options for a side's colo-proxy (tests/ha: colo-quorum)."""
        return []

    def start(self):
        """Checks 1's way there: returns the seconds from migrate to colo;
        raises TestFailure if COLO is not reached."""
        self.net()
        t = self.tag
        self.prun, self.srun = tmpdir('cqcolop'), tmpdir('cqcolos')
        os.environ['QEMU'] = self.qemu
        pif, sif = self.ns.ifname(f'{t}pl'), self.ns.ifname(f'{t}sl')
        if self.proxy == 'qemu':
            pargs = passthrough_proxy_args('primary', self.prun, pif)
            sargs = passthrough_proxy_args('secondary', self.srun, sif)
            pobj = qemu_proxy_args('primary', self.prun, self.prun)
            sobj = qemu_proxy_args('secondary', self.srun, self.prun)
        else:
            pargs = primary_proxy_args(self.prun, pif, self.vnet)
            sargs = secondary_proxy_args(self.srun, self.prun, sif,
                                         self.vnet, dump=self.dump)
            pobj = sobj = ()
        self.px = ColoProxy(pargs + self.proxy_extra('primary'),
                            dir=self.prun,
                            wrapper=self.proxy_wrapper('primary'))
        self.sx = ColoProxy(sargs + self.proxy_extra('secondary'),
                            dir=self.srun,
                            wrapper=self.proxy_wrapper('secondary'))
        if self.proxy != 'qemu':        # QEMU's own filters: no mirror here
            wait_mirror_connected(self.px, 'mirror0')
        self.gp = guest('primary', self.prun, self.nic, self.fw, pobj)
        self.gs = guest('secondary', self.srun, self.nic, self.fw, sobj)
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


def oopses(text):
    return [ln for ln in text.splitlines()
            if re.search(r'Oops|BUG[: ]|[Pp]anic|Call Trace', ln)]


# --------------------------------------------------------------------------
# several pairs, one colo-proxy per host (issue 17)

# the COLO objects that belong to a pair (frame=); the others (netdev,
# device, chardevs, iothread, filter-dump) only get their ids prefixed
FRAME_OBJECTS = ('filter-mirror', 'filter-redirector', 'filter-rewriter',
                 'colo-compare', 'colo-heartbeat')
# the options whose value is an id of the same command line
ID_REFS = ('id', 'netdev', 'outdev', 'indev', 'chardev', 'primary_in',
           'secondary_in', 'iothread')


def bind_to_frame(args, frame):
    """One pair's colo-proxy options (primary_proxy_args(),
    secondary_proxy_args()) made to share a process with other pairs: the
    colo-frame's id becomes 'frame', every other id (and every reference
    to one) gets the prefix 'frame-', each COLO object gets frame=frame,
    -name goes (the process has one).  Its own iothread, so the pairs'
    compares spread over the CPUs."""
    out = []
    for opt, val in zip(args[0::2], args[1::2]):
        if opt == '-name':
            continue
        typ, *kvs = val.split(',')
        new = [typ]
        for kv in kvs:
            k, _, v = kv.partition('=')
            if typ == 'colo-frame' and k == 'id':
                v = frame
            elif k in ID_REFS:
                v = f'{frame}-{v}'
            new.append(f'{k}={v}')
        if typ in FRAME_OBJECTS:
            new.append(f'frame={frame}')
        out += [opt, ','.join(new)]
    return out


class HostPair:
    """One VM pair of HostPairs: its frame name, guest address, working
    directories, QEMUs and QMP clients; px/sx are the two colo-proxies
    it shares with the other pairs."""

    def __init__(self, frame, ip, mac):
        self.frame, self.ip, self.mac = frame, ip, mac
        self.gp = self.gs = self.qp = self.qs = None
        self.px = self.sx = None

    def requests(self, px=None):
        """(checkpoint requests of this pair, its query-colo-stats)."""
        st = (px or self.px).qmp.cmd('query-colo-stats', frame=self.frame)
        return sum(st['requests'].values()), st


def wait_mirror_connected(px, label, timeout=30):
    """Waits until the secondary colo-proxy has connected to the primary's
    filter-mirror chardev 'label'.
    Booting the guests first would let the LAN's first frames to a guest
    (ARP, neighbour discovery) find the mirror unconnected: an input-lost
    episode that ends with a checkpoint request once COLO runs, which the
    checks of identical traffic then count (seen under ASan, where the
    secondary colo-proxy starts slower)."""
    qmp_entry(px.qmp, 'query-chardev', 'label', label,
              missing=f'the primary colo-proxy has no chardev {label}')
    wait_for(lambda: not qmp_entry(px.qmp, 'query-chardev', 'label', label)
             ['filename'].startswith('disconnected:'), timeout,
             interval=0.05,
             what=f'the secondary colo-proxy connected to {label}')


class HostPairs:
    """N real COLO pairs behind ONE colo-proxy process per host: the
    primary host's colo-proxy serves every pair's primary side, the
    secondary host's every secondary side; each pair has its own
    colo-frame (driver=qemu on its own QEMU), compare and iothread,
    filters, heartbeat and guest address (10.91.0.2, .3, ...).

      ns C: client ==veth== ns L: br0 ==veth x N== ns P: one colo-proxy
                                      ==veth x N== ns S: one colo-proxy

    Each pair has its own LAN interface on each host (an af-packet netdev
    carries one pair's filters).  pairs[i].ip is the address the client
    (namespace self.c) reaches pair i at."""

    def __init__(self, ns, tag, frames, nic, vnet, qemu, fw):
        self.ns, self.tag, self.nic, self.vnet = ns, tag, nic, vnet
        self.qemu, self.fw = qemu, fw
        self.pairs = [HostPair(f, f'10.91.0.{2 + i}',
                               f'52:54:00:91:00:{2 + i:02x}')
                      for i, f in enumerate(frames)]
        self.px = self.sx = None

    def net(self):
        ns, t = self.ns, self.tag
        self.c, self.lan = ns.add(f'{t}C'), ns.add(f'{t}L')
        self.p, self.s = ns.add(f'{t}P'), ns.add(f'{t}S')
        for n in (self.c, self.lan, self.p, self.s):
            ns.run(n, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1',
                   'net.ipv6.conf.default.disable_ipv6=1', check_rc=False)
        i = ns.ifname
        ns.run(self.lan, 'ip', 'link', 'add', 'br0', 'type', 'bridge',
               'stp_state', '0', 'forward_delay', '0')
        links = [(f'{t}c0', self.c, f'{t}lc')]
        for k, _pr in enumerate(self.pairs):
            links += [(f'{t}p{k}', self.p, f'{t}lp{k}'),
                      (f'{t}s{k}', self.s, f'{t}ls{k}')]
        for a, a_ns, b in links:
            ns.veth(a, a_ns, b, self.lan)
            ns.run(self.lan, 'ip', 'link', 'set', i(b), 'master', 'br0')
            # af-packet must see wire-sized, checksummed frames
            for n, dev in ((a_ns, a), (self.lan, b)):
                ns.run(n, 'ethtool', '-K', i(dev), 'tx', 'off', 'rx', 'off',
                       'tso', 'off', 'gso', 'off', 'gro', 'off',
                       check_rc=False)
        ns.run(self.lan, 'ip', 'link', 'set', 'br0', 'up')
        c0 = i(f'{t}c0')
        ns.run(self.c, 'ip', 'link', 'set', c0, 'address', CLIENT_MAC)
        ns.run(self.c, 'ip', 'addr', 'add', CLIENT_IP + '/24', 'dev', c0)
        for pr in self.pairs:
            ns.run(self.c, 'ip', 'neigh', 'replace', pr.ip, 'lladdr',
                   pr.mac, 'dev', c0, 'nud', 'permanent')

    def proxy_args(self, side):
        """Every pair's options for one side's colo-proxy, one process."""
        a = ['-name', f'colo-{side}-host']
        for k, pr in enumerate(self.pairs):
            if side == 'primary':
                one = primary_proxy_args(pr.prun, self.ns.ifname(
                    f'{self.tag}p{k}'), self.vnet)
            else:
                one = secondary_proxy_args(pr.srun, pr.prun, self.ns.ifname(
                    f'{self.tag}s{k}'), self.vnet)
            a += bind_to_frame(one, pr.frame)
        return a

    def start(self, boot_timeout=None):
        """Boots every QEMU at once, starts the two colo-proxies, then
        COLO on every pair (the migrations in parallel).  Returns the
        seconds from the first migrate until every pair is in COLO."""
        self.net()
        os.environ['QEMU'] = self.qemu
        for pr in self.pairs:
            pr.prun, pr.srun = tmpdir('cqhpp'), tmpdir('cqhps')
        self.prun, self.srun = tmpdir('cqhpxp'), tmpdir('cqhpxs')
        self.px = ColoProxy(self.proxy_args('primary'), dir=self.prun,
                            wrapper=['ip', 'netns', 'exec', self.p])
        self.sx = ColoProxy(self.proxy_args('secondary'), dir=self.srun,
                            wrapper=['ip', 'netns', 'exec', self.s])
        for pr in self.pairs:
            wait_mirror_connected(self.px, f'{pr.frame}-mirror0')
        for pr in self.pairs:
            pr.px, pr.sx = self.px, self.sx
            pr.gp = guest('primary', pr.prun, self.nic, self.fw, ip=pr.ip,
                          mac=pr.mac)
            pr.gs = guest('secondary', pr.srun, self.nic, self.fw, ip=pr.ip,
                          mac=pr.mac)
            pr.gp.start()
            pr.gs.start()
        for pr in self.pairs:
            try:
                if boot_timeout:
                    pr.gp.wait_up(timeout=boot_timeout)
                else:
                    pr.gp.wait_up()
            except RuntimeError as e:
                raise TestFailure(f'{pr.frame}: {e}')
            log(f'{pr.frame}: primary guest up after '
                f'{pr.gp.boot_seconds:.1f}s ({pr.gp.accel})')
            pr.qp = QMPClient(pr.gp.qmp_path, timeout=30)
            pr.qs = QMPClient(pr.gs.qmp_path, timeout=30)
        t0 = time.monotonic()
        for side, cmd, args in COLO_START:
            for pr in self.pairs:
                q = pr.qp if side == 'primary' else pr.qs
                if cmd == 'migrate':
                    args = {'uri': f'unix:{pr.srun}/mig.sock'}
                q.cmd(cmd, args)
        for pr in self.pairs:
            status = None
            while time.monotonic() - t0 < 90:
                status = pr.qp.cmd('query-migrate').get('status')
                if status in ('colo', 'completed', 'failed', 'cancelled'):
                    break
                time.sleep(0.1)
            check_eq(status, 'colo', f'{pr.frame}: primary QEMU migration '
                     'status')
            wait_for(lambda: pr.qs.cmd('query-colo-status')['mode'] ==
                     'secondary', 10, interval=0.1,
                     what=f'{pr.frame}: the secondary QEMU in COLO')
        return time.monotonic() - t0

    def stop(self):
        for pr in self.pairs:
            for g in (pr.gp, pr.gs):
                if g:
                    g.kill()
            for q in (pr.qp, pr.qs):
                if q:
                    q.close()
        for x in (self.px, self.sx):
            if x:
                x.kill()
