# SPDX-License-Identifier: GPL-2.0-or-later
"""hacluster - three hosts, a corosync cluster with a qnetd witness, and the
netns COLO pair of scripts/colo-demo.py on top, for tests/ha/.

Topology (every box a network namespace; NN = the creating process's pid,
names chaNN-*):

       chaNN-cl  client 10.88.0.1 (c0)
                  |
       chaNN-lan  br0: lc, lp, ls            (the client LAN)
                      |        |
   chaNN-a  host A  hpl       hsl  host B  chaNN-b
   (node 1) primary colo-proxy    secondary colo-proxy (node 2)
            corosync, qdevice     corosync, qdevice
            hpg -- chaNN-pg       hsg -- chaNN-sg
            (primary guest)       (secondary guest, same MAC and IP)
       ab-a 10.90.0.1 ======== ab-b 10.90.0.2   corosync ring and the
                                                COLO links (mirror,
                                                compare, heartbeat)
       aw-a 10.91.1.1 --+  +-- bw-b 10.91.2.2
                        |  |
       chaNN-w  witness: corosync-qnetd (10.91.1.3, 10.91.2.3)

Each host's daemons run in its own mount namespace too (unshare -m, then
bind mounts of the host's directory over /etc/corosync, /var/lib/corosync
and /run), so that three corosync instances on one machine do not share
configuration, ring state or sockets.  corosync IPC (libqb) uses abstract
unix sockets, which belong to the network namespace: a colo-proxy started
in a host's namespace talks to that host's corosync.

qdevice <-> qnetd run with TLS off (tls: off, qnetd -s off): the test is
about decisions, not about corosync's transport security; production
setups keep TLS on (docs/ha.md).

Timing: corosync token 1000 ms (consensus 1200 ms), qdevice timeout
2000 ms, sync_timeout 3000 ms; colo-heartbeat as the demo's (100/1000 ms).

The workload is the demo's: the guests run scripts/colo-demo.py's servers
(deterministic HTTP, echo); the client keeps one echo connection (a line
every 50 ms, every byte checked) and one keep-alive HTTP connection
(every body checked).  Frames each host emits to the client LAN are
counted by AF_PACKET sockets on the bridge ports lp (host A) and ls (host
B), with timestamps.
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from coloqtest import check, SANITIZER_MARKERS

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get('COLO_SOURCE_DIR', os.path.dirname(os.path.dirname(HERE)))
_spec = importlib.util.spec_from_file_location(
    'colodemo', os.path.join(SRC, 'scripts', 'colo-demo.py'))
demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo)

PREFIX = 'cha'
TOKEN_MS = 1000
QDEVICE_TIMEOUT_MS = 2000
QDEVICE_SYNC_TIMEOUT_MS = 3000
AB = {'a': '10.90.0.1', 'b': '10.90.0.2'}
WIT = {'a': ('10.91.1.1', '10.91.1.3'), 'b': ('10.91.2.2', '10.91.2.3')}
NODEID = {'a': 1, 'b': 2}
ETH_P_ALL = 3
PACKET_OUTGOING = 4

# run CMD in netns NS with DIR's etc, lib and run over corosync's
NS_WRAP = ('mount --bind "$0/etc" /etc/corosync && '
           'mount --bind "$0/lib" /var/lib/corosync && '
           'mount --bind "$0/run" /run && exec "$@"')


sh = demo.sh


def missing():
    """What this harness needs and does not find, as one line (or None)."""
    if os.geteuid() != 0:
        return 'needs root (network and mount namespaces)'
    for prog, pkg in (('corosync', 'corosync'),
                      ('corosync-qnetd', 'corosync-qnetd'),
                      ('corosync-qdevice', 'corosync-qdevice'),
                      ('unshare', 'util-linux'), ('ip', 'iproute2')):
        if not shutil.which(prog):
            return (f'needs {prog} (apt-get install {pkg}; '
                    'scripts/install-deps.sh)')
    cfg = os.path.join(os.environ.get('COLO_BUILD_DIR', 'build'),
                       'config-host.h')
    try:
        with open(cfg) as f:
            if '#define CONFIG_COROSYNC' not in f.read():
                return ('colo-proxy was built without corosync (apt-get '
                        'install libcpg-dev libvotequorum-dev, then meson '
                        'setup --reconfigure)')
    except OSError:
        pass
    return None


def corosync_conf(host, uplink):
    """host 'a' or 'b'; 'uplink': the interface (in that host's namespace)
    whose operstate qdevice's heuristics check."""
    own, wit = WIT[host]
    nodes = ''.join(f'''    node {{
        ring0_addr: {AB[h]}
        nodeid: {NODEID[h]}
        name: {h}
    }}
''' for h in ('a', 'b'))
    # heuristics: a node whose client uplink is down must not win a split
    return f'''totem {{
    version: 2
    cluster_name: coloha
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: {TOKEN_MS}
}}
nodelist {{
{nodes}}}
quorum {{
    provider: corosync_votequorum
    device {{
        model: net
        votes: 1
        timeout: {QDEVICE_TIMEOUT_MS}
        sync_timeout: {QDEVICE_SYNC_TIMEOUT_MS}
        net {{
            host: {wit}
            tls: off
            algorithm: ffsplit
            tie_breaker: lowest
        }}
        heuristics {{
            mode: sync
            exec_uplink: /bin/grep -qx up /sys/class/net/{uplink}/operstate
        }}
    }}
}}
logging {{
    to_stderr: yes
    to_syslog: no
    to_logfile: no
    timestamp: hires
}}
'''


class FrameCounter:
    """Counts the frames a host emits to the client LAN: received on the
    bridge port (in chaNN-lan) with the guests' MAC as source."""

    def __init__(self, ns, ifname, mac):
        self.mac = bytes.fromhex(mac.replace(':', ''))
        self.times = []
        self.lock = threading.Lock()
        self.stop = False
        self.ns = ns
        self.ifname = ifname
        self.ready = threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        self.ready.wait(5)

    def _run(self):
        demo.enter_ns(self.ns)
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                          socket.htons(ETH_P_ALL))
        s.bind((self.ifname, 0))
        s.settimeout(0.2)
        self.ready.set()
        while not self.stop:
            try:
                data, addr = s.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if addr[2] == PACKET_OUTGOING or data[6:12] != self.mac:
                continue
            with self.lock:
                self.times.append(time.monotonic())
        s.close()

    def since(self, t):
        with self.lock:
            return sum(1 for x in self.times if x > t)

    def last(self):
        with self.lock:
            return self.times[-1] if self.times else None

    def close(self):
        self.stop = True
        self.t.join(2)


class HttpLoop:
    """One keep-alive HTTP connection doing sequential GETs (every body
    checked) until stopped; reconnects after an error (counted)."""

    def __init__(self, ns):
        self.ns = ns
        self.ok = 0
        self.errors = []
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        demo.enter_ns(self.ns)
        conn, n = None, 1000
        while not self.stop:
            n += 1
            try:
                if conn is None:
                    conn = demo.Http(demo.GUEST_IP, 30)
                if conn.get(b'/%d' % n) != demo.body_for(n):
                    self.errors.append(f'GET /{n}: body differs')
                else:
                    self.ok += 1
            except Exception as e:       # noqa: BLE001 - counted
                self.errors.append(f'GET /{n}: {e!r}')
                if conn:
                    conn.s.close()
                conn = None
            time.sleep(0.05)
        if conn:
            conn.close()

    def close(self):
        self.stop = True
        self.t.join(35)


class Corosync:
    """corosync and corosync-qdevice on the COLO hosts 'a' and 'b', and
    corosync-qnetd on the witness 'w': ns maps each role to its network
    namespace (created by the caller, with 'lo' up), the daemons' state
    and logs live under 'work'.  uplinks: each COLO host's client-facing
    interface, which qdevice's heuristics check.  Shared by Cluster (the
    netns guests) and tests/ha/test_ha_qemu.py (the real QEMU pair)."""

    def __init__(self, ns, work, uplinks, log=print, qnetd='real'):
        self.ns, self.work, self.uplinks = ns, work, uplinks
        self.log = log
        self.qnetd_mode = qnetd
        self.procs = {}

    def run_in(self, role, *cmd, check=True):
        return sh('ip', 'netns', 'exec', self.ns[role], *cmd, check=check)

    def link(self, role, ifname, up):
        sh('ip', '-n', self.ns[role], 'link', 'set', ifname,
           'up' if up else 'down')

    def wire(self):
        """The cluster's links: ab-a == ab-b (the corosync ring), aw-a --
        aw-w and bw-b -- bw-w (each COLO host to the witness)."""
        n = self.ns
        for a, a_role, b, b_role in (('ab-a', 'a', 'ab-b', 'b'),
                                     ('aw-a', 'a', 'aw-w', 'w'),
                                     ('bw-b', 'b', 'bw-w', 'w')):
            demo.veth(n, a, a_role, b, b_role)
        for role, dev, addr in (('a', 'ab-a', AB['a']),
                                ('b', 'ab-b', AB['b']),
                                ('a', 'aw-a', WIT['a'][0]),
                                ('w', 'aw-w', WIT['a'][1]),
                                ('b', 'bw-b', WIT['b'][0]),
                                ('w', 'bw-w', WIT['b'][1])):
            sh('ip', '-n', n[role], 'addr', 'add', f'{addr}/24', 'dev', dev)
            self.link(role, dev, True)

    def cluster_links(self, role):
        return {'a': ['ab-a', 'aw-a'], 'b': ['ab-b', 'bw-b']}[role]

    def stop_daemons(self, timeout=5):
        demo.stop_procs(self.procs.values(), timeout)

    # -- daemons ------------------------------------------------------------

    def host_dir(self, role):
        d = os.path.join(self.work, role)
        for sub in ('etc', 'lib', 'run'):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        return d

    def wrapper(self, role):
        """The command prefix that runs a program on host 'role': in its
        network namespace and in a mount namespace with the host's
        corosync directories."""
        return ['ip', 'netns', 'exec', self.ns[role], 'unshare', '-m',
                '--propagation', 'private', 'sh', '-c', NS_WRAP,
                self.host_dir(role)]

    def spawn(self, name, role, cmd, mounts=True):
        log = open(os.path.join(self.work, f'{name}.log'), 'wb')
        if mounts:
            full = self.wrapper(role) + cmd
        else:
            full = ['ip', 'netns', 'exec', self.ns[role]] + cmd
        p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT)
        self.procs[name] = p
        return p

    def quorumtool(self, role):
        r = subprocess.run(
            self.wrapper(role) + ['corosync-quorumtool', '-s'],
            capture_output=True, text=True, timeout=10)
        return r.stdout

    def start_cluster(self, timeout=40):
        for h in ('a', 'b'):
            with open(os.path.join(self.host_dir(h), 'etc',
                                   'corosync.conf'), 'w') as f:
                f.write(corosync_conf(h, self.uplinks[h]))
        self.host_dir('w')
        if self.qnetd_mode == 'real':
            self.spawn('qnetd', 'w', ['corosync-qnetd', '-f', '-s', 'off'])
        elif self.qnetd_mode == 'silent':
            # a "qnetd" that accepts and never answers (scenario 6)
            self.spawn('qnetd', 'w', [sys.executable, '-c', SILENT_QNETD],
                       mounts=False)
        for h in ('a', 'b'):
            self.spawn(f'corosync-{h}', h, ['corosync', '-f'])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all('Quorate:          Yes' in self.quorumtool(h)
                   for h in ('a', 'b')):
                break
            time.sleep(0.3)
        else:
            raise RuntimeError('corosync did not become quorate:\n' +
                               self.logs('corosync-a'))
        for h in ('a', 'b'):
            self.spawn(f'qdevice-{h}', h, ['corosync-qdevice', '-f'])
        if self.qnetd_mode != 'real':
            return
        while time.monotonic() < deadline:
            if all(re.search(r'Flags:.*Qdevice', self.quorumtool(h)) and
                   'Total votes:      3' in self.quorumtool(h)
                   for h in ('a', 'b')):
                return
            time.sleep(0.3)
        raise RuntimeError('qdevice did not cast its vote:\n' +
                           self.quorumtool('a') + self.logs('qdevice-a') +
                           self.logs('qnetd'))

    def start_host(self, h, timeout=40):
        """(Re)starts corosync and corosync-qdevice on COLO host 'h' (a
        host coming back: its links up, its state directory kept) and
        waits until it counts three votes."""
        self.spawn(f'corosync-{h}', h, ['corosync', '-f'])
        deadline = time.monotonic() + timeout
        while 'Quorate:          Yes' not in self.quorumtool(h):
            if time.monotonic() > deadline:
                raise RuntimeError(f'corosync on {h} did not join:\n' +
                                   self.logs(f'corosync-{h}'))
            time.sleep(0.3)
        self.spawn(f'qdevice-{h}', h, ['corosync-qdevice', '-f'])
        while 'Total votes:      3' not in self.quorumtool(h):
            if time.monotonic() > deadline:
                raise RuntimeError(f'qdevice on {h} did not vote:\n' +
                                   self.quorumtool(h) +
                                   self.logs(f'qdevice-{h}'))
            time.sleep(0.3)

    def logs(self, name, tail=3000):
        try:
            with open(os.path.join(self.work, f'{name}.log'), 'rb') as f:
                return f.read()[-tail:].decode('utf-8', 'replace')
        except OSError:
            return ''


class Cluster(Corosync):
    """The netns COLO pair of scripts/colo-demo.py on the three hosts."""

    def __init__(self, log=print, qnetd='real'):
        self.tag = f'{PREFIX}{os.getpid()}'
        super().__init__({r: f'{self.tag}-{r}' for r in
                          ('cl', 'lan', 'a', 'b', 'w', 'pg', 'sg')},
                         tempfile.mkdtemp(prefix='colo-ha-'),
                         {'a': 'hpl', 'b': 'hsl'}, log=log, qnetd=qnetd)
        self.bin = os.path.join(os.environ.get('COLO_BUILD_DIR', 'build'),
                                'system', 'colo-proxy')
        self.created = []
        self.qmp = {}
        self.counters = {}
        self.echo = self.http = None
        self.ctr = demo.Counters()
        self.silent = None

    # -- namespaces ---------------------------------------------------------

    def setup_network(self):
        """The demo's client LAN and guests on hosts A and B, then the
        cluster's links (wire())."""
        demo.setup_lan(self.ns, self.created, 'a', 'b')
        self.wire()

    def proxy_args(self, side, quorum=True, fence=None):
        """The demo's colo-proxy of 'side', its links on A's pair-link
        address, with colo-quorum (and B's fence command)."""
        args = demo.seed_args(side, f'ha-{side}', AB['a'])
        if quorum:
            q = 'colo-quorum,id=q0,netdev=hn0,failover=on'
            if fence:
                q += f',fence={fence}'
            args += ['-object', q]
        qmp = os.path.join(self.work, f'{side}.qmp')
        args += ['-qmp', f'unix:{qmp},server=on,wait=off']
        return args, qmp

    def start_proxy(self, side, **kw):
        host = 'a' if side == 'primary' else 'b'
        args, qmp = self.proxy_args(side, **kw)
        self.spawn(side, host, [self.bin] + args)
        self.qmp[side] = demo.QMP(qmp, side)

    def start_guest(self, role):
        p = subprocess.Popen(
            ['ip', 'netns', 'exec', self.ns[role], sys.executable,
             os.path.join(SRC, 'scripts', 'colo-demo.py'), '--guest-serve',
             demo.GUEST_IP], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.procs[f'guest-{role}'] = p
        line = p.stdout.readline()
        if line.strip() != b'READY':
            raise RuntimeError(f'guest {role} servers did not start')

    def wait_pair(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hb = [self.qmp[s].try_cmd('query-colo-heartbeat')
                  for s in ('primary', 'secondary')]
            st = [self.qmp[s].try_cmd('query-colo-status')
                  for s in ('primary', 'secondary')]
            if all(h and h[0]['state'] == 'alive' for h in hb) and \
                    st[0] and st[0].get('output-held') is False:
                time.sleep(0.3)
                return
            time.sleep(0.1)
        raise RuntimeError(f'the pair did not come up: {hb} {st}\n' +
                           self.logs('primary') + self.logs('secondary'))

    def up(self, fence=None):
        """Everything up, the workload running."""
        self.setup_network()
        self.start_cluster()
        self.start_guest('pg')
        self.start_guest('sg')
        self.start_proxy('primary')
        self.start_proxy('secondary', fence=fence)
        self.wait_pair()
        self.counters = {
            'a': FrameCounter(self.ns['lan'], 'lp', demo.GUEST_MAC),
            'b': FrameCounter(self.ns['lan'], 'ls', demo.GUEST_MAC)}
        self.echo = demo.Echo(self.ns['cl'], self.ctr)
        self.echo.start()
        self.http = HttpLoop(self.ns['cl'])
        deadline = time.monotonic() + 10
        while (self.echo.ok < 5 or self.http.ok < 5) and \
                time.monotonic() < deadline:
            time.sleep(0.1)
        if self.echo.ok < 5 or self.http.ok < 5:
            raise RuntimeError(f'no traffic through the pair: echo '
                               f'{self.echo.ok}, http {self.http.ok} '
                               f'{self.http.errors[:3]}')

    # -- failures -------------------------------------------------------------

    def kill_host(self, role, guest):
        """A host dies: its links go dark first (no goodbye reaches
        anyone), then every process in it and in its guest is killed."""
        for i in {'a': ['ab-a', 'aw-a', 'hpl', 'hpg'],
                  'b': ['ab-b', 'bw-b', 'hsl', 'hsg']}[role]:
            self.link(role, i, False)
        t = time.monotonic()
        for ns in (self.ns[role], self.ns[guest]):
            for pid in demo.ns_pids(ns):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        return t

    def garp(self, guest):
        self.run_in(guest, sys.executable, '-c', demo.GARP, 'eth0',
                    demo.GUEST_MAC, demo.GUEST_IP)

    def stop_workload(self):
        """Stops the client; returns (echo lines unanswered, echo bytes
        lost, errors)."""
        left = self.echo.stop() if self.echo else 0
        if self.http:
            self.http.close()
        lost = (self.echo.sent_bytes - self.echo.recv_bytes) if self.echo else 0
        errs = dict(self.ctr.errors)
        if self.echo and self.echo.error:
            errs['echo'] = self.echo.error
        if self.echo and self.echo.bad:
            errs['echo-bad'] = self.echo.bad
        if self.http and self.http.errors:
            errs['http'] = self.http.errors[:5]
        return left, lost, errs

    def cleanup(self, remove=True):
        for c in self.counters.values():
            c.close()
        if self.echo:
            self.echo.running = False
        if self.http:
            self.http.stop = True
        for q in self.qmp.values():
            q.close()
        self.stop_daemons()
        for ns in reversed(self.created):
            demo.ns_delete(ns)
        self.created = []
        if remove:
            self.remove_work()

    def finish(self, ok, names=('primary', 'secondary', 'corosync-a',
                                'corosync-b'), tail=2000):
        """The end of a test on this cluster: after a failure ('ok'
        false) the logs of 'names' first; every process stopped and every
        namespace removed; after a success the colo-proxies' stderr, exit
        included, must hold no sanitizer report (make check-asan runs
        tests/ha on the ASan build); then the work directory goes."""
        if not ok:
            for n in names:
                self.log(f'--- {n} ---\n{self.logs(n, tail)}')
        self.cleanup(remove=False)
        if ok:
            for n in ('primary', 'secondary'):
                text = self.logs(n, 1 << 20)
                check(not any(m in text for m in SANITIZER_MARKERS),
                      f'{n} colo-proxy: sanitizer report:\n{text[-3000:]}')
        self.remove_work()

    def remove_work(self):
        if os.environ.get('COLO_HA_KEEP'):
            self.log(f'logs kept in {self.work}')
        else:
            shutil.rmtree(self.work, ignore_errors=True)


SILENT_QNETD = r'''
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 5403))
s.listen(16)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)          # accepted, read, never answered
'''


def leftovers():
    """Namespaces of earlier runs whose creator is gone: removed."""
    demo.clean_leftovers(PREFIX)
