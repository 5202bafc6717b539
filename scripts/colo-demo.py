#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""colo-demo.py - a live COLO pair in network namespaces whose client
connections survive the primary's death.

    colo-demo.py --build BUILDDIR [--short] [--requests N] [--json FILE]

Needs root (network namespaces, veth pairs, a bridge, AF_PACKET sockets),
iproute2 and the project's own binary; nothing else (Python 3 stdlib).

Topology (every box is a network namespace; NN = this run's pid):

                                  cdemoNN-lan
  cdemoNN-cl            +------------ br0 -------------+
  client 10.88.0.1  c0==lc                             |
        |                  lp                          ls
        |                  ||                          ||
        |   cdemoNN-host   ||  (both colo-proxies, links on 127.0.0.1)
        |      +--------- hpl ------------+    +------ hsl ------------+
        |      | primary colo-proxy       |    | secondary colo-proxy  |
        |      |  -netdev af-packet hpl   |    |  -netdev af-packet hsl|
        |      |  m0 mirror ------ :9003 -+----+-> red0 (f1 indev)     |
        |      |  redire1 -> compare0     |    |   rew0 rewriter       |
        |      |  colo-compare <-- :9004 -+----+-- red1 (f2 outdev)    |
        |      |  redire0 <- compare_out  |    |  colo-frame secondary |
        |      |  colo-frame primary      |    |  colo-heartbeat hb0   |
        |      |  colo-heartbeat :9006 <--+----+-> (failover=on)       |
        |      |  -device af-packet hpg   |    |  -device af-packet hsg|
        |      +--------- hpg ------------+    +------ hsg ------------+
        |                  ||                          ||
        |     cdemoNN-pg  eth0                 cdemoNN-sg eth0
        |     primary guest 10.88.0.2          secondary guest 10.88.0.2
        |     (same MAC 52:54:00:88:00:02, own TCP stack, HTTP :80, echo :7)
        +== cd ===== pd 10.89.0.2 (direct link to the primary guest, for the
                                   latency baseline only)

--two-hosts (implied by --tls DIR): the secondary colo-proxy in a namespace
of its own (cdemoNN-hs, with hsl and hsg), joined to cdemoNN-host by a veth
link hpx 10.90.0.1 -- hsx 10.90.0.2 that the mirror, compare and heartbeat
links cross (docs/colo-demo.md).

Steps: 1. workload (HTTP requests over many keep-alive connections, one
long-lived echo connection) with live counters; 2. a request whose answer
differs between the guests (GET /time): miscompare, checkpoint request;
3. the primary dies (its links are cut, its colo-proxy SIGKILLed, its
servers killed); the secondary's colo-heartbeat notices and fails over;
the client's connections continue byte-exact with no reset; 4. summary.

A checkpoint cannot copy one Linux network stack into another, so this
test bed deviates from real COLO in three ways (docs/colo-demo.md):
the primary's colo-frame uses driver=exec,exec=true (a checkpoint
"completes" at once: compare flushes and carries on); the secondary's
colo-proxy is never told about checkpoints (its rewriter would reset its
offsets as if the two stacks had been made equal); the divergent request
uses its own short connection, closed before the failover.

Exit status: 0 when every check held, 1 otherwise (or on a set-up error),
2 on bad usage.
"""

import argparse
import collections
import ctypes
import errno
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
import time

# the QMP client of scripts/colo-proxy-ctl, beside this file (sys.path[0]
# only when run as a script: tests/ha imports this file as a module)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from colo_proxy_ctl import QMP      # noqa: E402

PREFIX = 'cdemo'
GUEST_MAC = '52:54:00:88:00:02'
CLIENT_MAC = '52:54:00:88:00:01'
CLIENT_IP, GUEST_IP = '10.88.0.1', '10.88.0.2'
DIRECT_CLIENT_IP, DIRECT_GUEST_IP = '10.89.0.1', '10.89.0.2'
HTTP_PORT, ECHO_PORT = 80, 7
PORT_COMPARE0, PORT_MIRROR, PORT_COMPARE1 = 9001, 9003, 9004
PORT_COMPARE_OUT, PORT_HB = 9005, 9006
HB_INTERVAL, HB_TIMEOUT = 100, 1000
# --two-hosts (implied by --tls): the link between the two hosts
LINK_PRIMARY_IP, LINK_SECONDARY_IP = '10.90.0.1', '10.90.0.2'
CLONE_NEWNET = 0x40000000

# ethtool set-commands (legacy ioctls): tx csum, rx csum, SG, TSO, GSO, GRO
OFFLOADS = '17,15,19,1f,24,2c'
ETHTOOL_OFF = r'''
import ctypes, fcntl, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for ifname in sys.argv[2:]:
    for cmd in [int(c, 16) for c in sys.argv[1].split(',')]:
        buf = ctypes.create_string_buffer(struct.pack('II', cmd, 0))
        ifr = struct.pack('16sP', ifname.encode(), ctypes.addressof(buf))
        try:
            fcntl.ioctl(s, 0x8946, ifr)
        except OSError:
            pass
'''

# A gratuitous ARP (request form, as QEMU's announce after failover sends
# RARP; a GARP also refreshes the client's cache): argv ifname mac ip.
GARP = r'''
import socket, struct, sys
ifname, mac, ip = sys.argv[1], bytes.fromhex(sys.argv[2].replace(':', '')), socket.inet_aton(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
arp = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, 1, mac, ip, b'\0' * 6, ip)
for _ in range(3):
    s.send(b'\xff' * 6 + mac + b'\x08\x06' + arp + b'\0' * 18)
'''


# --------------------------------------------------------------------------
# The guests' servers (run as: colo-demo.py --guest-serve IP [IP...]).
# Deterministic: the answer to GET /N depends on N only, so the primary's
# and the secondary's bytes are identical; GET /time is the exception.

def body_for(n):
    seed = hashlib.sha256(b'colo-demo %d' % n).hexdigest().encode()
    size = 100 + (n * 7919) % 6000
    return (seed * (size // len(seed) + 1))[:size]


def http_response(status, body):
    return (b'HTTP/1.1 %s\r\nContent-Type: text/plain\r\n'
            b'Content-Length: %d\r\n\r\n' % (status, len(body))) + body


class HttpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        buf = b''
        while True:
            while b'\r\n\r\n' not in buf:
                d = self.request.recv(65536)
                if not d:
                    return
                buf += d
            head, buf = buf.split(b'\r\n\r\n', 1)
            parts = head.split(b'\r\n', 1)[0].split()
            path = parts[1] if len(parts) > 1 else b'/'
            if path == b'/time':
                # the guest's own clock, in nanoseconds: differs between
                # the two guests (same length, so the streams stay aligned;
                # in microseconds the two answers were once the same).  The
                # answer goes to stdout too, for the demo to show.
                now = b'%d.%09d' % divmod(time.time_ns(), 10**9)
                print('TIME', now.decode(), flush=True)
                resp = http_response(b'200 OK', now + b'\n')
            elif re.fullmatch(rb'/\d{1,9}', path):
                resp = http_response(b'200 OK', body_for(int(path[1:])))
            else:
                resp = http_response(b'404 Not Found', b'not found\n')
            self.request.sendall(resp)


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        buf = b''
        while True:
            d = self.request.recv(65536)
            if not d:
                return
            buf += d
            if b'\n' in buf:
                lines, buf = buf.rsplit(b'\n', 1)
                self.request.sendall(lines + b'\n')


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024

    def get_request(self):
        # No Nagle: with it, a guest holds a small write until its previous
        # segment is acknowledged, while colo-compare holds that
        # acknowledgement until the secondary has produced every byte of
        # the primary's (differently cut) segment.  Only compare_timeout
        # (a checkpoint) breaks that wait; with real VMs the checkpoint
        # makes the secondary whole again, here it would leave the
        # secondary's stack behind the client's view for good.
        conn, addr = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr


def guest_serve(ips):
    servers = []
    for ip in ips:
        servers.append(Server((ip, HTTP_PORT), HttpHandler))
        servers.append(Server((ip, ECHO_PORT), EchoHandler))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print('READY', flush=True)
    signal.sigwait([signal.SIGTERM, signal.SIGINT])
    return 0


# --------------------------------------------------------------------------
# Output

_plock = threading.Lock()
T0 = time.monotonic()


def say(*a):
    with _plock:
        print(*a, flush=True)


def stamp():
    return '%6.1fs' % (time.monotonic() - T0)


# --------------------------------------------------------------------------
# Namespaces, processes, cleanup

class Interrupted(Exception):
    pass


def sh(*cmd, check=True, capture=True, timeout=30):
    r = subprocess.run(list(cmd), capture_output=capture, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f'command failed ({r.returncode}): '
                           f'{" ".join(cmd)}\n{r.stderr}')
    return r


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def ns_pids(ns):
    r = sh('ip', 'netns', 'pids', ns, check=False)
    return [int(p) for p in r.stdout.split() if p.isdigit()]


def ns_delete(ns):
    for pid in ns_pids(ns):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    sh('ip', 'netns', 'del', ns, check=False)


def stop_procs(procs, timeout):
    """SIGTERM to each process of 'procs' still running, SIGKILL to those
    not gone 'timeout' s later (tests/ha/hacluster.py uses it too)."""
    procs = list(procs)
    for p in procs:
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except OSError:
                pass
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def clean_leftovers(prefix=PREFIX):
    """Removes namespaces of earlier runs (names PREFIX<pid>-...) whose
    creator is gone; returns their names.  tests/ha/hacluster.py uses it
    with its own prefix."""
    r = sh('ip', 'netns', 'list', check=False)
    gone = []
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ''
        m = re.match(rf'^{prefix}(\d+)-', name)
        if m and not pid_alive(int(m.group(1))):
            ns_delete(name)
            gone.append(name)
    return gone


def seed_args(side, name, link_ip, compare=True):
    """One side's colo-proxy options in the seeds' topology (the long
    form: what -object colo-proxy makes in one): the primary serves the
    links to the secondary (mirror0 on PORT_MIRROR, compare1 on
    PORT_COMPARE1, the heartbeat on PORT_HB) on 'link_ip', its compare
    chardevs on 127.0.0.1; the secondary's redirectors and heartbeat
    connect to them; each side's NIC hn0 is af-packet on h{p,s}l with its
    guest on h{p,s}g.  'compare' False: the primary without colo-compare
    (--no-compare).  tests/ha/hacluster.py adds colo-quorum to it."""
    if side == 'primary':
        a = ['-name', name,
             '-netdev', 'af-packet,id=hn0,ifname=hpl',
             '-device', 'af-packet,id=e0,netdev=hn0,ifname=hpg',
             '-chardev', f'socket,id=mirror0,host={link_ip},port={PORT_MIRROR},server=on,wait=off',
             '-chardev', f'socket,id=compare1,host={link_ip},port={PORT_COMPARE1},server=on,wait=off',
             '-chardev', f'socket,id=compare0,host=127.0.0.1,port={PORT_COMPARE0},server=on,wait=off',
             '-chardev', f'socket,id=compare0-0,host=127.0.0.1,port={PORT_COMPARE0}',
             '-chardev', f'socket,id=compare_out,host=127.0.0.1,port={PORT_COMPARE_OUT},server=on,wait=off',
             '-chardev', f'socket,id=compare_out0,host=127.0.0.1,port={PORT_COMPARE_OUT}',
             '-chardev', f'socket,id=hb,host={link_ip},port={PORT_HB},server=on,wait=off',
             '-object', 'filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=mirror0']
        if compare:
            a += [
             '-object', 'filter-redirector,netdev=hn0,id=redire0,queue=rx,indev=compare_out',
             '-object', 'filter-redirector,netdev=hn0,id=redire1,queue=rx,outdev=compare0',
             '-object', 'iothread,id=iothread1',
             '-object', 'colo-compare,id=comp0,primary_in=compare0-0,'
                        'secondary_in=compare1,outdev=compare_out0,'
                        'iothread=iothread1']
        a += ['-object', 'colo-frame,id=colo0,mode=primary,driver=exec,exec=true']
    else:
        a = ['-name', name,
             '-netdev', 'af-packet,id=hn0,ifname=hsl',
             '-device', 'af-packet,id=e0,netdev=hn0,ifname=hsg',
             '-chardev', f'socket,id=red0,host={link_ip},port={PORT_MIRROR},reconnect=1',
             '-chardev', f'socket,id=red1,host={link_ip},port={PORT_COMPARE1},reconnect=1',
             '-chardev', f'socket,id=hb,host={link_ip},port={PORT_HB},reconnect=1',
             '-object', 'filter-redirector,id=f1,netdev=hn0,queue=tx,indev=red0',
             '-object', 'filter-redirector,id=f2,netdev=hn0,queue=rx,outdev=red1',
             '-object', 'filter-rewriter,id=rew0,netdev=hn0,queue=all',
             '-object', 'colo-frame,id=colo0,mode=secondary']
    return a + ['-object', f'colo-heartbeat,id=hb0,chardev=hb,'
                           f'interval={HB_INTERVAL},timeout={HB_TIMEOUT},'
                           'failover=on']


def veth(ns, a, a_role, b, b_role):
    """A veth pair: 'a' in namespace ns[a_role], its peer 'b' in
    ns[b_role]."""
    sh('ip', 'link', 'add', a, 'netns', ns[a_role], 'type', 'veth',
       'peer', 'name', b, 'netns', ns[b_role])


def setup_lan(ns, created, primary, secondary, more_veths=()):
    """The demo's topology, shared with tests/ha/hacluster.py: every
    namespace of 'ns' (role -> name) created (and appended to 'created'),
    lo up, IPv6 off; the client 'cl' (c0), the bridge br0 in 'lan' (ports
    lc, lp, ls), the host roles 'primary' (hpl to the LAN, hpg to guest
    'pg') and 'secondary' (hsl, hsg to guest 'sg'); 'more_veths': further
    (a, a_role, b, b_role) pairs.  Every interface has its offloads off
    and is up; the client and the two guests (the same MAC and IP) are
    addressed.  Other addresses are the caller's."""
    def run_in(role, *cmd):
        sh('ip', 'netns', 'exec', ns[role], *cmd)

    for role, name in ns.items():
        sh('ip', 'netns', 'add', name)
        created.append(name)
        run_in(role, 'ip', 'link', 'set', 'lo', 'up')
        # no IPv6 chatter (DAD, router solicitations, MLD): the guests'
        # spontaneous output would only add noise to the comparison
        run_in(role, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1',
               'net.ipv6.conf.default.disable_ipv6=1')
    links = {}
    for a, a_role, b, b_role in [('c0', 'cl', 'lc', 'lan'),
                                 ('hpl', primary, 'lp', 'lan'),
                                 ('hsl', secondary, 'ls', 'lan'),
                                 ('hpg', primary, 'eth0', 'pg'),
                                 ('hsg', secondary, 'eth0', 'sg')] + \
            list(more_veths):
        veth(ns, a, a_role, b, b_role)
        links.setdefault(a_role, []).append(a)
        links.setdefault(b_role, []).append(b)
    run_in('lan', 'ip', 'link', 'add', 'br0', 'type', 'bridge',
           'stp_state', '0', 'forward_delay', '0')
    for port in ('lc', 'lp', 'ls'):
        run_in('lan', 'ip', 'link', 'set', port, 'master', 'br0')
    links['lan'].append('br0')
    for role, ifs in links.items():
        # plain Ethernet frames of at most the MTU on every link
        run_in(role, sys.executable, '-c', ETHTOOL_OFF, OFFLOADS, *ifs)
        for i in ifs:
            run_in(role, 'ip', 'link', 'set', i, 'up')
    run_in('cl', 'ip', 'link', 'set', 'c0', 'address', CLIENT_MAC)
    run_in('cl', 'ip', 'addr', 'add', f'{CLIENT_IP}/24', 'dev', 'c0')
    for g in ('pg', 'sg'):
        run_in(g, 'ip', 'link', 'set', 'eth0', 'address', GUEST_MAC)
        run_in(g, 'ip', 'addr', 'add', f'{GUEST_IP}/24', 'dev', 'eth0')
        # real COLO copies the primary's ARP cache into the secondary at
        # each checkpoint; here the two caches are pinned instead
        run_in(g, 'ip', 'neigh', 'replace', CLIENT_IP, 'lladdr',
               CLIENT_MAC, 'dev', 'eth0', 'nud', 'permanent')
    for role in ('cl', 'pg', 'sg'):
        run_in(role, 'sysctl', '-qw', 'net.ipv4.tcp_timestamps=1')


_libc = ctypes.CDLL(None, use_errno=True)


def enter_ns(ns):
    """Moves the calling thread into network namespace 'ns' (setns is per
    thread): sockets it creates from now on live there."""
    fd = os.open(f'/run/netns/{ns}', os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f'setns({ns}): {os.strerror(e)}')
    finally:
        os.close(fd)


def flat(obj, prefix=''):
    """Flattens nested QMP replies into {'a.b': number}."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flat(v, f'{prefix}{k}.'))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            key = v.get('id', str(i)) if isinstance(v, dict) else str(i)
            out.update(flat(v, f'{prefix}{key}.'))
    elif isinstance(obj, bool):
        out[prefix[:-1]] = int(obj)
    elif isinstance(obj, (int, float)):
        out[prefix[:-1]] = obj
    return out


def pick(f, *patterns):
    """Sum of the flattened counters whose key matches one of 'patterns'
    (regular expressions over the dotted key)."""
    total = 0
    for k, v in f.items():
        if any(re.search(p, k) for p in patterns):
            total += v
    return total


# --------------------------------------------------------------------------
# The client (threads in the client namespace)

class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.connections = 0
        self.errors = collections.Counter()
        self.error_samples = []
        self.lat = collections.deque(maxlen=20000)     # (t_done, seconds)
        self.by_phase = collections.Counter()

    def error(self, kind, detail):
        with self.lock:
            self.errors[kind] += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f'{stamp()} {kind}: {detail}')


def classify(e):
    if isinstance(e, ConnectionResetError) or \
            getattr(e, 'errno', None) == errno.ECONNRESET:
        return 'reset'
    if isinstance(e, BrokenPipeError) or getattr(e, 'errno', None) == errno.EPIPE:
        return 'broken-pipe'
    if isinstance(e, socket.timeout):
        return 'timeout'
    if isinstance(e, EOFError):
        return 'eof'
    return 'other'


class Budget:
    """Requests the workers may still make; they wait when it is zero."""

    def __init__(self):
        self.cond = threading.Condition()
        self.left = 0
        self.stop = False
        self.phase = ''

    def take(self):
        with self.cond:
            while self.left <= 0 and not self.stop:
                self.cond.wait(0.2)
            if self.stop:
                return None
            self.left -= 1
            return self.phase

    def add(self, n, phase):
        with self.cond:
            self.left += n
            self.phase = phase
            self.cond.notify_all()

    def feed(self, n, phase, seconds):
        """Adds 'n' requests evenly over 'seconds' (paced traffic, so
        that requests are in flight at any given moment)."""
        def run():
            steps = max(1, int(seconds / 0.05))
            given = 0
            for i in range(1, steps + 1):
                if self.stop:
                    return
                want = n * i // steps
                self.add(want - given, phase)
                given = want
                time.sleep(seconds / steps)
        threading.Thread(target=run, daemon=True).start()


class Http:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, ip, timeout):
        self.s = socket.create_connection((ip, HTTP_PORT), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError('connection closed by the server')
        self.buf += d

    def get(self, path):
        self.s.sendall(b'GET %s HTTP/1.1\r\nHost: guest\r\n\r\n' % path)
        while b'\r\n\r\n' not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b'\r\n\r\n', 1)
        m = re.search(rb'Content-Length: (\d+)', head)
        if not head.startswith(b'HTTP/1.1 200 ') or not m:
            raise ValueError(f'bad response head {head[:80]!r}')
        n = int(m.group(1))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return body

    def close(self):
        self.s.close()


def http_worker(ns, budget, ctr, next_n, per_conn, timeout):
    enter_ns(ns)
    conn = None
    done_on_conn = 0
    while True:
        phase = budget.take()
        if phase is None:
            break
        with ctr.lock:
            n = next(next_n)
        try:
            if conn is None:
                conn = Http(GUEST_IP, timeout)
                done_on_conn = 0
                with ctr.lock:
                    ctr.connections += 1
            t = time.monotonic()
            body = conn.get(b'/%d' % n)
            dt = time.monotonic() - t
            if body != body_for(n):
                ctr.error('changed', f'GET /{n}: {len(body)} bytes differ')
            with ctr.lock:
                ctr.requests += 1
                ctr.bytes += len(body)
                ctr.by_phase[phase] += 1
                ctr.lat.append((time.monotonic(), dt))
            done_on_conn += 1
            if done_on_conn >= per_conn[0]:
                conn.close()
                conn = None
        except Exception as e:          # noqa: BLE001 - counted, shown
            ctr.error(classify(e), f'GET /{n}: {e!r}')
            if conn:
                conn.close()
            conn = None
    if conn:
        conn.close()


class Echo:
    """The long-lived echo connection: a line every 50 ms, every echoed
    line checked in order."""

    def __init__(self, ns, ctr, interval=0.05):
        self.ns = ns
        self.ctr = ctr
        self.interval = interval
        self.sent = collections.deque()
        self.sent_bytes = 0
        self.recv_bytes = 0
        self.ok = 0
        self.bad = 0
        self.seq = 0
        self.max_gap = 0.0
        self.max_gap_at = 0.0
        self.last_rx = None
        self.running = True
        self.finished = threading.Event()
        self.error = None
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.sender = threading.Thread(target=self._send, daemon=True)
        self.receiver = threading.Thread(target=self._recv, daemon=True)

    def start(self):
        self.sender.start()
        if not self.ready.wait(10):
            raise RuntimeError('echo connection not established')
        if self.error:
            raise RuntimeError(f'echo connection: {self.error}')
        self.receiver.start()

    def _send(self):
        try:
            enter_ns(self.ns)
            self.s = socket.create_connection((GUEST_IP, ECHO_PORT),
                                              timeout=30)
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            self.error = repr(e)
            self.ready.set()
            return
        self.ready.set()
        try:
            while self.running:
                self.seq += 1
                line = b'line %06d %s\n' % (
                    self.seq, hashlib.md5(b'%d' % self.seq).hexdigest().encode())
                with self.lock:
                    self.sent.append(line)
                    self.sent_bytes += len(line)
                self.s.sendall(line)
                time.sleep(self.interval)
        except Exception as e:          # noqa: BLE001
            self.error = f'send: {e!r}'
            self.ctr.error(classify(e), f'echo send: {e!r}')

    def _recv(self):
        buf = b''
        try:
            while True:
                d = self.s.recv(65536)
                now = time.monotonic()
                if not d:
                    break
                if self.last_rx is not None and now - self.last_rx > self.max_gap:
                    self.max_gap = now - self.last_rx
                    self.max_gap_at = now
                self.last_rx = now
                self.recv_bytes += len(d)
                buf += d
                while b'\n' in buf:
                    line, buf = buf.split(b'\n', 1)
                    line += b'\n'
                    with self.lock:
                        want = self.sent.popleft() if self.sent else None
                    if line == want:
                        self.ok += 1
                    else:
                        self.bad += 1
                        self.ctr.error('changed', f'echo: got {line[:40]!r}, '
                                                  f'want {want!r}')
            if buf:
                self.bad += 1
                self.ctr.error('changed', f'echo: {len(buf)} trailing bytes')
        except Exception as e:          # noqa: BLE001
            self.error = f'recv: {e!r}'
            self.ctr.error(classify(e), f'echo recv: {e!r}')
        self.finished.set()

    def stop(self, timeout=15):
        """Stops sending, waits for every line to come back, closes."""
        self.running = False
        self.sender.join(2)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if not self.sent:
                    break
            time.sleep(0.05)
        try:
            self.s.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.ctr.error(classify(e), f'echo shutdown: {e!r}')
        self.finished.wait(timeout)
        self.s.close()
        with self.lock:
            return len(self.sent)


# --------------------------------------------------------------------------
# The demo

class Demo:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.join(args.build, 'system', 'colo-proxy')
        self.tag = f'{PREFIX}{os.getpid()}'
        # --two-hosts (and --tls): the secondary's colo-proxy in its own
        # namespace 'hs', joined to the primary's 'host' by a veth link
        # with real addresses, so the inter-host links (mirror, compare,
        # heartbeat) cross it as the seeds' TCP ports cross the network
        self.two_hosts = bool(args.two_hosts or args.tls)
        self.roles = ('cl', 'lan', 'host', 'pg', 'sg') + \
            (('hs',) if self.two_hosts else ())
        self.ns = {r: f'{self.tag}-{r}' for r in self.roles}
        self.proxy_ns = {'primary': 'host',
                         'secondary': 'hs' if self.two_hosts else 'host'}
        self.link_ip = LINK_PRIMARY_IP if self.two_hosts else '127.0.0.1'
        self.created = []
        self.procs = {}
        self.qmp = {}
        self.work = tempfile.mkdtemp(prefix='colo-demo-')
        self.ctr = Counters()
        self.budget = Budget()
        self.workers = []
        self.echo = None
        self.results = {}
        self.failures = []

    # -- set-up ------------------------------------------------------------

    def run_in(self, role, *cmd, check=True):
        return sh('ip', 'netns', 'exec', self.ns[role], *cmd, check=check)

    def setup_network(self):
        sec = self.proxy_ns['secondary']
        more = [('cd', 'cl', 'pd', 'pg')]     # the direct path, no proxy
        if self.two_hosts:
            more.append(('hpx', 'host', 'hsx', 'hs'))
        setup_lan(self.ns, self.created, 'host', sec, more)
        self.run_in('cl', 'ip', 'addr', 'add', f'{DIRECT_CLIENT_IP}/24',
                    'dev', 'cd')
        self.run_in('pg', 'ip', 'addr', 'add', f'{DIRECT_GUEST_IP}/24',
                    'dev', 'pd')
        if self.two_hosts:
            self.run_in('host', 'ip', 'addr', 'add', f'{LINK_PRIMARY_IP}/24',
                        'dev', 'hpx')
            self.run_in('hs', 'ip', 'addr', 'add', f'{LINK_SECONDARY_IP}/24',
                        'dev', 'hsx')

    def start_guest(self, role, ips):
        p = subprocess.Popen(
            ['ip', 'netns', 'exec', self.ns[role], sys.executable,
             os.path.abspath(__file__), '--guest-serve'] + ips,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL)
        self.procs[f'servers-{role}'] = p
        r, _, _ = select.select([p.stdout], [], [], 10)
        if not r or p.stdout.readline().strip() != b'READY':
            raise RuntimeError(f'the servers of guest {role} did not start')

    def oid(self, name):
        """The id of the seeds' object 'name' (m0, comp0, rew0, f2, ...):
        itself in the long form, 'cp-NAME' with --one-line, where
        -object colo-proxy,id=cp creates it."""
        return f'cp-{name}' if self.args.one_line else name

    def one_line_args(self, side):
        """The same side as proxy_args() builds, in one -object
        colo-proxy (docs/user-guide.md, One-line setup): the links on
        PORT_MIRROR and the next two ports, heartbeat and frame included."""
        mode = 'primary' if side == 'primary' else 'secondary'
        frame = ',driver=exec,exec=true' if side == 'primary' else ''
        return ['-object', f'colo-proxy,id=cp,mode={mode},netdev=hn0,'
                f'addr={self.link_ip}:{PORT_MIRROR},heartbeat=on,'
                f'heartbeat-interval={HB_INTERVAL},'
                f'heartbeat-timeout={HB_TIMEOUT},failover=on{frame}']

    def proxy_args(self, side):
        d = self.work
        if self.args.one_line:
            tag = 'p' if side == 'primary' else 's'
            a = ['-name', f'colo-demo-{side}',
                 '-netdev', f'af-packet,id=hn0,ifname=h{tag}l',
                 '-device', f'af-packet,id=e0,netdev=hn0,ifname=h{tag}g'] \
                + self.one_line_args(side)
        else:
            a = seed_args(side, f'colo-demo-{side}', self.link_ip,
                          compare=not self.args.no_compare)
        if self.args.tls:
            a = self.tls_args(side, a)
        if self.args.dump:
            # debugging: the guest's output as colo-compare gets it
            # (secondary: after the rewriter) and the input it gets
            a += ['-object', f'filter-dump,id=dump0,netdev=hn0,queue=all,'
                             f'file={os.path.join(d, side + ".pcap")}'
                             + (f',position=id={self.oid("f2")},insert=behind'
                                if side == 'secondary' else '')]
        qmp = os.path.join(d, f'{side}.qmp')
        a += ['-qmp', f'unix:{qmp},server=on,wait=off',
              '-D', os.path.join(d, f'{side}.log')]
        return a, qmp

    # The links between the hosts: what --tls secures (docs/security.md).
    TLS_LINKS = {'primary': ('mirror0', 'compare1', 'hb'),
                 'secondary': ('red0', 'red1', 'hb')}

    def tls_args(self, side, a):
        """--tls DIR: x509 credentials (DIR/server, DIR/client in QEMU's
        file layout) on every inter-host chardev; the primary's servers
        admit only the identity of --tls-authz when given."""
        server = side == 'primary'
        d = os.path.join(self.args.tls, 'server' if server else 'client')
        extra = [',tls-creds=tls0']
        objs = ['-object', f'tls-creds-x509,id=tls0,dir={d},endpoint='
                           f'{"server" if server else "client"}']
        if server and self.args.tls_authz:
            ident = self.args.tls_authz.replace(',', ',,')
            objs += ['-object', f'authz-simple,id=auth0,identity={ident}']
            extra.append(',tls-authz=auth0')
        out = objs
        for i, arg in enumerate(a):
            if i > 0 and a[i - 1] == '-chardev' and any(
                    arg.startswith(f'socket,id={c},')
                    for c in self.TLS_LINKS[side]):
                arg += ''.join(extra)
            out.append(arg)
        return out

    def start_proxy(self, side):
        args, qmp = self.proxy_args(side)
        if self.args.verbose:
            say(f'   colo-proxy ({side}) ' + ' '.join(args))
        p = subprocess.Popen(['ip', 'netns', 'exec',
                              self.ns[self.proxy_ns[side]], self.bin] + args,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(self.work,
                                                      f'{side}.err'), 'wb'))
        self.procs[side] = p
        try:
            self.qmp[side] = QMP(qmp, side, self.on_event)
        except RuntimeError:
            time.sleep(0.2)
            raise RuntimeError(f'{side} colo-proxy did not start:\n'
                               + self.proxy_log(side))

    def proxy_log(self, side, tail=2000):
        out = ''
        for ext in ('err', 'log'):
            try:
                with open(os.path.join(self.work, f'{side}.{ext}')) as f:
                    out += f.read()[-tail:]
            except OSError:
                pass
        return out

    def on_event(self, side, ev):
        if self.budget.stop:
            return
        name = ev['event']
        data = ev.get('data', {})
        quiet = name in ('COLO_CHECKPOINT_DONE',) or \
            (name == 'COLO_CHECKPOINT_REQUEST' and not self.show_ckpt)
        if 'MISCOMPARE' in name or 'HEARTBEAT' in name or name in (
                'COLO_EXIT', 'COLO_CHECKPOINT_FAILED') or not quiet:
            say(f'   {stamp()} [{side} event] {name} {json.dumps(data)}')

    show_ckpt = False

    # -- live counters --------------------------------------------------------

    def snapshot(self):
        s = {}
        for side in ('primary', 'secondary'):
            q = self.qmp.get(side)
            if q is None or q.closed:
                continue
            cmp = q.try_cmd('query-colo-compare-stats') if side == 'primary' else None
            colo = q.try_cmd('query-colo-stats')
            nf = q.try_cmd('query-netfilter-stats')
            s[side] = {'compare': flat(cmp or {}), 'colo': flat(colo or {}),
                       'filters': flat(nf or {})}
            if side == 'primary' and cmp:
                self.last_primary = s[side]
        return s

    last_primary = None

    def compare_line(self, snap):
        p = snap.get('primary')
        if not p:
            return 'primary gone'
        c = p['compare']
        pkts = pick(c, r'\.primary\.packets$')
        spkts = pick(c, r'\.secondary\.packets$')
        matched = pick(c, r'\.matched$')
        mism = pick(c, r'\.mismatched\.')
        ckpt = p['colo'].get('started', 0)
        return (f'compared {pkts}/{spkts} pkts (primary/secondary), '
                f'{matched} matched, {mism} miscompares, {ckpt} checkpoints')

    def live(self, until, label, interval=1.0, quiet=False):
        """Prints a status line every 'interval' until until() is true."""
        last_req, last_t = self.ctr.requests, time.monotonic()
        while not until():
            time.sleep(interval)
            if quiet:
                continue
            now = time.monotonic()
            with self.ctr.lock:
                req = self.ctr.requests
                lat = [d for t, d in self.ctr.lat if t > now - interval]
                errs = sum(self.ctr.errors.values())
            rate = (req - last_req) / (now - last_t)
            last_req, last_t = req, now
            lat.sort()
            p50 = lat[len(lat) // 2] * 1000 if lat else 0
            p99 = lat[int(len(lat) * 0.99)] * 1000 if lat else 0
            e = self.echo
            say(f'   {stamp()} {label}: {req} req ({rate:.0f}/s, p50 '
                f'{p50:.1f} ms p99 {p99:.1f} ms) | echo {e.ok if e else 0} '
                f'lines ok | {self.compare_line(self.snapshot())} | '
                f'errors {errs}')

    # -- steps ----------------------------------------------------------------

    def baseline(self, n):
        """Unloaded latency of sequential GETs: direct link vs through the
        COLO pair (the difference is what colo-proxy adds)."""
        res = {}

        def measure(ip, key):
            enter_ns(self.ns['cl'])
            lat = []
            c = Http(ip, 10)
            for i in range(n):
                t = time.monotonic()
                if c.get(b'/%d' % (1000000 + i)) != body_for(1000000 + i):
                    raise RuntimeError('baseline answer differs')
                lat.append(time.monotonic() - t)
            c.close()
            lat.sort()
            res[key] = (lat[len(lat) // 2] * 1e6, lat[int(len(lat) * .99)] * 1e6)

        for ip, key in ((DIRECT_GUEST_IP, 'direct'), (GUEST_IP, 'colo')):
            err = []
            t = threading.Thread(target=lambda: self._catch(err, measure, ip, key))
            t.start()
            t.join(60)
            if err or key not in res:
                raise RuntimeError(f'latency baseline ({key}) failed: {err}')
        return res

    @staticmethod
    def _catch(err, fn, *a):
        try:
            fn(*a)
        except Exception as e:          # noqa: BLE001
            err.append(repr(e))

    def start_workers(self, nworkers, per_conn):
        counter = iter(range(1, 1 << 40))
        for _ in range(nworkers):
            t = threading.Thread(target=http_worker, daemon=True,
                                 args=(self.ns['cl'], self.budget, self.ctr,
                                       counter, per_conn, 30))
            t.start()
            self.workers.append(t)

    def wait_budget(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.budget.cond:
                if self.budget.left <= 0:
                    break
            time.sleep(0.05)

    def workload_done(self, target):
        return lambda: self.ctr.requests + sum(self.ctr.errors.values()) >= target

    def guest_time(self, role, timeout=2.0):
        """The next GET /time answer the servers of guest `role` print
        ('TIME <clock>' on their stdout, the only line after READY; one per
        request), or None if none comes within `timeout` seconds."""
        out = self.procs[f'servers-{role}'].stdout
        r, _, _ = select.select([out], [], [], timeout)
        line = out.readline().split() if r else []
        return line[1].decode() if line[:1] == [b'TIME'] and len(line) == 2 \
            else None

    def divergent_request(self):
        """GET /time on its own short connection: the guests' clocks differ
        in the nanoseconds, so colo-compare sees different payloads.  A
        deterministic GET goes first on the same connection, so that the
        connection is established and compared before it diverges.  Should
        the two clocks ever give the same answer there is nothing to detect:
        said, and asked again on a new connection (at most three times)."""
        for _ in range(3):
            res = self._divergent_once()
            if res is not None:
                return res
        self.failures.append('GET /time: the guests answered the same three '
                             'times')
        return False

    def _divergent_once(self):
        p = self.qmp['primary']
        res = {}
        ready = threading.Event()
        go = threading.Event()

        def get():
            enter_ns(self.ns['cl'])
            c = Http(GUEST_IP, 10)
            res['port'] = c.s.getsockname()[1]
            if c.get(b'/4242') != body_for(4242):
                raise RuntimeError('GET /4242 answer differs')
            ready.set()
            go.wait(15)
            res['body'] = c.get(b'/time')
            c.close()

        err = []
        t = threading.Thread(target=lambda: self._catch(err, get))
        t.start()
        ready.wait(15)
        self.wait_quiet(0.5, 8.0)
        t0 = time.monotonic()
        self.show_ckpt = True
        go.set()
        t.join(30)
        if err:
            self.failures.append(f'GET /time failed: {err}')
        got = res.get('body', b'').decode(errors='replace').strip()
        sec = self.guest_time('sg')
        if sec is not None and sec == got:
            say(f'   NOTE: both guests answered /time = {got}: identical '
                f'bytes, nothing to detect; asking again')
            return None
        req = p.wait_event('COLO_CHECKPOINT_REQUEST', 10, after=t0)
        done = p.wait_event('COLO_CHECKPOINT_DONE', 10, after=t0)
        time.sleep(0.3)
        self.show_ckpt = False
        conn = f'{GUEST_IP}:{HTTP_PORT} -> {CLIENT_IP}:{res.get("port")}'
        with p.cond:
            mis = [e for e in p.events if e['_t'] >= t0 and
                   e['event'] == 'COLO_COMPARE_MISCOMPARE' and
                   conn in e['data'].get('connection', '')]
        snap = self.snapshot()
        mism = pick(snap.get('primary', {}).get('compare', {}),
                    r'\.mismatched\.')
        say(f'   client got /time = {got} (the primary\'s answer, released '
            f'after the checkpoint); the secondary had answered {sec}')
        if mis:
            say(f'   colo-compare: miscompare on {conn} '
                f'({mis[0]["data"]["reason"]})')
        else:
            say(f'   NOTE: colo-compare reported no miscompare on {conn}; '
                f'the checkpoint below has another reason')
        say(f'   checkpoint request '
            f'{"seen: " + json.dumps(req["data"]) if req else "NOT seen"}; '
            f'{"completed in %d us" % done["data"].get("duration-us", 0) if done else "not completed"}')
        if not req:
            self.failures.append('no COLO_CHECKPOINT_REQUEST after the '
                                 'divergent request')
        self.results['time_miscompare'] = bool(mis)
        self.results['miscompares'] = mism
        return req is not None

    def kill_primary(self):
        """The primary host dies: its links go, its colo-proxy and its
        guest's servers are killed.  Cutting the links first means the dying
        guest's kernel cannot reset anybody's connection."""
        t = time.monotonic()
        self.run_in('host', 'ip', 'link', 'del', 'hpl')   # and lp on br0
        self.run_in('host', 'ip', 'link', 'del', 'hpg')   # and the guest's eth0
        self.procs['primary'].send_signal(signal.SIGKILL)
        self.procs['servers-pg'].send_signal(signal.SIGKILL)
        for pid in ns_pids(self.ns['pg']):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.qmp['primary'].close()
        return t

    def garp(self):
        self.run_in('sg', sys.executable, '-c', GARP, 'eth0', GUEST_MAC,
                    GUEST_IP)

    # -- main -------------------------------------------------------------------

    def run(self):
        a = self.args
        short = a.short
        n1 = a.requests or (3000 if short else 30000)
        n3 = max(200, min(n1 // 3, 4000))
        nworkers = 8 if short else 16

        say(f'== colo-demo: a COLO pair in network namespaces ({self.tag}-*)')
        gone = clean_leftovers()
        if gone:
            say(f'   removed {len(gone)} namespaces left by an interrupted '
                'run')
        say('== setting up: client, LAN bridge, primary and secondary guests '
            '(same MAC and IP), host namespace for the two colo-proxies')
        self.setup_network()
        self.start_guest('pg', [GUEST_IP, DIRECT_GUEST_IP])
        self.start_guest('sg', [GUEST_IP])
        # The primary host joins the LAN once its pair is up: a frame that
        # reached the primary's filter-mirror before the secondary had
        # connected is a copy the secondary never gets, and the input-lost
        # checkpoint that follows cannot resynchronise namespace guests
        # (one broke the latency step's connection under ASan in CI).
        self.run_in('lan', 'ip', 'link', 'set', 'lp', 'down')
        self.start_proxy('primary')
        self.start_proxy('secondary')
        ok = self.wait_pair(10)
        if not ok:
            raise RuntimeError('the two colo-proxies did not connect:\n'
                               + self.proxy_log('primary')
                               + self.proxy_log('secondary'))
        self.run_in('lan', 'ip', 'link', 'set', 'lp', 'up')
        say('   primary and secondary colo-proxy connected (mirror, compare, '
            'heartbeat links up)')
        if a.tls:
            self.results['tls'] = {s: self.qmp[s].try_cmd('query-tls')
                                   for s in ('primary', 'secondary')}
            # each link's two ends, "tcp:LOCAL<->PEER" (the test checks
            # that they are the two hosts' addresses)
            self.results['tls_chardevs'] = {
                s: {c['label']: c['filename']
                    for c in self.qmp[s].try_cmd('query-chardev') or []
                    if c['label'] in self.TLS_LINKS[s]}
                for s in ('primary', 'secondary')}
            est = {s: sum(e['established'] for e in self.results['tls'][s] or [])
                   for s in self.results['tls']}
            say(f'   TLS: {est["primary"]} sessions accepted by the primary, '
                f'{est["secondary"]} opened by the secondary')

        say('== latency: sequential GETs, directly to the primary guest vs '
            'through the COLO pair')
        base = self.baseline(100 if short else 300)
        d50, d99 = base['direct']
        c50, c99 = base['colo']
        say(f'   direct  p50 {d50:7.0f} us  p99 {d99:7.0f} us')
        say(f'   COLO    p50 {c50:7.0f} us  p99 {c99:7.0f} us   '
            f'-> colo-proxy adds {c50 - d50:.0f} us at p50 (mirror, wait for '
            f'the secondary\'s answer, compare, release)')
        self.results['latency_us'] = {'direct_p50': d50, 'direct_p99': d99,
                                      'colo_p50': c50, 'colo_p99': c99}

        say(f'== step 1: workload: {n1} HTTP requests over {nworkers} '
            f'keep-alive connections at a time, plus one echo connection '
            f'(a line every 50 ms)')
        # The workers' connections are opened first and kept for the whole
        # of steps 1-3 (keep-alive); the echo connection comes after them.
        # Once the secondary runs alone, connections are recycled every
        # 20 requests, so new connections are shown too.
        self.per_conn = [1 << 40]
        self.start_workers(nworkers, per_conn=self.per_conn)
        self.budget.add(nworkers, 'warmup')
        self.live(self.workload_done(nworkers), 'connecting', interval=0.2,
                  quiet=True)
        time.sleep(0.5)
        self.echo = Echo(self.ns['cl'], self.ctr)
        self.echo.start()
        deadline = time.monotonic() + 10
        while self.echo.ok == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        # one more request per connection, then wait for a second without
        # checkpoints: a checkpoint here flushes every connection at once
        # (see docs/colo-demo.md, section 4)
        self.budget.add(nworkers, 'warmup')
        self.live(self.workload_done(2 * nworkers), 'connecting',
                  interval=0.2, quiet=True)
        self.wait_quiet(1.0, 8.0)
        say(f'   {stamp()} connections open: {nworkers} HTTP keep-alive, '
            f'1 echo')
        self.budget.add(n1, 'step1')
        self.live(self.workload_done(n1 + 2 * nworkers), 'step 1')
        self.wait_budget(5)
        snap1 = self.snapshot()
        say(f'   step 1 done: {self.compare_line(snap1)}')

        if not a.no_compare:
            say('== step 2: GET /time - each guest answers with its own clock '
                '(nanoseconds)')
            self.divergent_request()

        say('== step 3: the primary dies during the workload; the secondary '
            'takes over')
        # paced: requests are in flight before, during and after the death
        before = self.ctr.requests
        self.budget.feed(n3, 'step3', 5.0)
        time.sleep(1.5)
        s_q = self.qmp['secondary']
        t_kill = self.kill_primary()
        say(f'   {stamp()} primary killed: links cut, colo-proxy SIGKILLed, '
            f'guest servers killed ({self.ctr.requests - before} requests '
            f'completed in the last 1.5 s)')
        ex = s_q.wait_event('COLO_EXIT', HB_TIMEOUT / 1000 + 10, after=t_kill)
        if not ex:
            say('   no COLO_EXIT from the heartbeat; x-colo-lost-heartbeat')
            try:
                s_q.cmd('x-colo-lost-heartbeat')
            except RuntimeError as e:
                self.failures.append(f'x-colo-lost-heartbeat: {e}')
            ex = s_q.wait_event('COLO_EXIT', 5, after=t_kill)
        if ex:
            t_fo = ex['_t'] - t_kill
            say(f'   {stamp()} secondary failed over {t_fo * 1000:.0f} ms '
                f'after the kill (heartbeat timeout {HB_TIMEOUT} ms)')
            self.results['failover_ms'] = round(t_fo * 1000)
        else:
            self.failures.append('the secondary did not fail over')
        self.per_conn[0] = 20
        if not a.no_garp:
            self.garp()
            say(f'   {stamp()} gratuitous ARP sent from the secondary guest '
                f'(what QEMU\'s announce does after failover)')
        self.live(self.workload_done(n1 + n3 + 2 * nworkers), 'step 3',
                  interval=1.0)
        self.wait_budget(5)
        st = s_q.try_cmd('query-colo-status')
        say(f'   secondary query-colo-status: {json.dumps(st)}')
        # 2 more seconds of echo traffic through the secondary alone
        t_end = time.monotonic() + 2
        self.live(lambda: time.monotonic() > t_end, 'after failover')
        self.finish(st)

    def wait_quiet(self, quiet_s, timeout):
        """Waits until the primary has started no checkpoint for 'quiet_s'
        seconds (at most 'timeout')."""
        p = self.qmp['primary']
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with p.cond:
                last = max([e['_t'] for e in p.events
                            if e['event'].startswith('COLO_CHECKPOINT')] or [0])
            if time.monotonic() - last >= quiet_s:
                return True
            time.sleep(0.1)
        return False

    def wait_pair(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hb = [self.qmp[s].try_cmd('query-colo-heartbeat') for s in
                  ('primary', 'secondary')]
            nf = flat(self.qmp['primary'].try_cmd('query-netfilter-stats') or {})
            if all(h and h[0]['state'] == 'alive' for h in hb) and \
                    nf.get(self.oid('m0') + '.out-connected', 1):
                time.sleep(0.3)
                return True
            time.sleep(0.1)
        return False

    def finish(self, status):
        self.budget.stop = True
        left = self.echo.stop()
        for t in self.workers:
            t.join(5)
        c, e = self.ctr, self.echo
        errors = dict(c.errors)
        rs = flat(self.qmp['secondary'].try_cmd('query-netfilter-stats') or {})
        say('== step 4: summary')
        say(f'   HTTP requests      {c.requests} ({c.by_phase["step1"]} before, '
            f'{c.by_phase["step3"]} across/after the failover) over '
            f'{c.connections} connections, {c.bytes} body bytes, every body '
            f'checked')
        say(f'   echo connection    {e.ok} lines, {e.sent_bytes} bytes sent, '
            f'{e.recv_bytes} received, longest pause {e.max_gap * 1000:.0f} ms'
            f' (the failover)')
        lp = self.last_primary or {'compare': {}, 'colo': {}}
        by = lambda d, pre: ', '.join(
            f'{k[len(pre):]} {v}' for k, v in sorted(d.items())
            if k.startswith(pre) and v) or 'none'
        cp = pick(lp['compare'], r'\.primary\.packets$')
        cs = pick(lp['compare'], r'\.secondary\.packets$')
        cm = pick(lp['compare'], r'\.matched$')
        say(f'   colo-compare       {cp} primary / {cs} secondary packets, '
            f'{cm} released after a match (last reading before the kill)')
        say(f'   miscompares        {by(lp["compare"], self.oid("comp0") + ".mismatched.")}')
        say(f'   checkpoint reasons {by(lp["colo"], "requests.")}')
        pc = self.qmp['primary'].events
        say(f'   checkpoints        {sum(1 for x in pc if x["event"] == "COLO_CHECKPOINT_REQUEST")} '
            f'requested, {sum(1 for x in pc if x["event"] == "COLO_CHECKPOINT_DONE")} done '
            f'(driver exec=true on the primary)')
        say(f'   failover time      {self.results.get("failover_ms", "n/a")} ms '
            f'from the kill to COLO_EXIT on the secondary')
        rew = pick(rs, '^' + re.escape(self.oid('rew0')) + r'\.packets$')
        say(f'   rewriter           {rew} frames '
            f'through {self.oid("rew0")} on the secondary')
        lost = e.sent_bytes - e.recv_bytes
        say(f'   lost/duplicated/changed bytes: {max(lost, 0)}/'
            f'{max(-lost, 0)}/{errors.get("changed", 0)}; resets '
            f'{errors.get("reset", 0)}, broken pipes {errors.get("broken-pipe", 0)}, '
            f'timeouts {errors.get("timeout", 0)}, other errors '
            f'{errors.get("other", 0) + errors.get("eof", 0)}')
        for sample in c.error_samples:
            say(f'     {sample}')
        if errors:
            self.failures.append(f'client errors: {errors}')
        if left or e.bad or lost or e.error:
            self.failures.append(f'echo: {left} lines unanswered, {e.bad} bad, '
                                 f'{lost} bytes lost, error {e.error}')
        if not status or status.get('mode') != 'none' or \
                status.get('last-mode') != 'secondary':
            self.failures.append(f'secondary COLO status {status}')
        if c.by_phase['step3'] == 0:
            self.failures.append('no request completed after the failover')
        self.results.update({
            'requests': c.requests, 'connections': c.connections,
            'bytes': c.bytes, 'echo_lines': e.ok, 'echo_bytes': e.recv_bytes,
            'echo_max_gap_ms': round(e.max_gap * 1000), 'errors': errors,
            'failures': self.failures})

    def cleanup(self):
        self.budget.stop = True
        for q in self.qmp.values():
            q.close()
        stop_procs(self.procs.values(), 3)
        for ns in reversed(self.created):
            ns_delete(ns)
        if self.args.keep_logs or self.failures:
            say(f'   colo-proxy logs kept in {self.work}')
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def preflight(args):
    if os.geteuid() != 0:
        print('colo-demo: needs root: it creates network namespaces, veth '
              'pairs and a bridge, and colo-proxy opens AF_PACKET sockets.\n'
              '           run it as root: sudo make demo-netns   (or: sudo '
              f'{sys.argv[0]} --build {args.build})', file=sys.stderr)
        return False
    if not shutil.which('ip'):
        print('colo-demo: needs iproute2 (ip); scripts/install-deps.sh '
              'installs it', file=sys.stderr)
        return False
    b = os.path.join(args.build, 'system', 'colo-proxy')
    if not os.access(b, os.X_OK):
        print(f'colo-demo: {b} is not built (run make)', file=sys.stderr)
        return False
    missing = []
    for opt, types in (('-object', ('filter-rewriter',
                                    'filter-mirror', 'filter-redirector',
                                    'colo-frame', 'colo-heartbeat',
                                    'iothread')),
                       ('-netdev', ('af-packet',)), ('-device', ('af-packet',))):
        out = subprocess.run([b, opt, 'help'], capture_output=True, text=True)
        have = set(re.findall(r'^\s*([a-z][a-z0-9-]*)', out.stdout + out.stderr,
                              re.M))
        missing += [f'{opt} {t}' for t in types if t not in have]
        if opt == '-object' and not args.no_compare and \
                'colo-compare' not in have:
            missing.append('-object colo-compare')
    if missing:
        print('colo-demo: this colo-proxy lacks ' + ', '.join(missing),
              file=sys.stderr)
        return False
    r = subprocess.run(['ip', 'netns', 'add', f'{PREFIX}{os.getpid()}-probe'],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f'colo-demo: network namespaces unavailable: {r.stderr.strip()}',
              file=sys.stderr)
        return False
    subprocess.run(['ip', 'netns', 'del', f'{PREFIX}{os.getpid()}-probe'],
                   capture_output=True)
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build', help='meson build directory')
    ap.add_argument('--short', action='store_true',
                    help='the shorter run used by make check (< 60 s)')
    ap.add_argument('--requests', type=int, default=0,
                    help='HTTP requests of step 1 (default 30000, 3000 '
                         'with --short)')
    ap.add_argument('--json', help='write the results as JSON to this file')
    ap.add_argument('--keep-logs', action='store_true')
    ap.add_argument('-v', '--verbose', action='store_true')
    ap.add_argument('--dump', action='store_true',
                    help='write each guest\'s traffic to a pcap file '
                         '(with --keep-logs)')
    ap.add_argument('--one-line', action='store_true',
                    help='each side as one -object colo-proxy instead of '
                         'the seeds\' fifteen options')
    ap.add_argument('--no-garp', action='store_true',
                    help=argparse.SUPPRESS)   # checks the bridge's flooding
    ap.add_argument('--no-compare', action='store_true',
                    help=argparse.SUPPRESS)   # debugging: no colo-compare
    ap.add_argument('--two-hosts', action='store_true',
                    help='the secondary colo-proxy in its own namespace, '
                         'the inter-host links over a veth link between '
                         f'{LINK_PRIMARY_IP} and {LINK_SECONDARY_IP} '
                         '(implied by --tls)')
    ap.add_argument('--tls', metavar='DIR',
                    help='TLS on the links between the two colo-proxies: '
                         'DIR/server and DIR/client hold QEMU\'s x509 files '
                         '(docs/security.md)')
    ap.add_argument('--tls-authz', metavar='DN',
                    help='with --tls: the only client identity the '
                         'primary admits')
    ap.add_argument('--guest-serve', nargs='+', metavar='IP',
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.guest_serve:
        return guest_serve(args.guest_serve)
    if not preflight(args):
        return 1

    def on_signal(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    demo = Demo(args)
    old = {s: signal.signal(s, on_signal)
           for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    rc = 1
    try:
        demo.run()
        rc = 1 if demo.failures else 0
    except (Interrupted, KeyboardInterrupt) as e:
        say(f'\ncolo-demo: interrupted ({e}); cleaning up')
        rc = 130
    except Exception as e:              # noqa: BLE001 - reported, cleaned up
        say(f'colo-demo: {e}')
        if args.verbose:
            import traceback
            traceback.print_exc()
        demo.failures.append(str(e))
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        demo.cleanup()
        for s, h in old.items():
            signal.signal(s, h)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(demo.results | {'failures': demo.failures, 'rc': rc}, f,
                      indent=1)
    if rc == 0:
        say('== PASS: the client saw no reset and no byte lost, duplicated '
            'or changed across the primary\'s death; everything cleaned up')
    elif rc != 130:
        say('== FAIL: ' + '; '.join(demo.failures))
        if not args.keep_logs:
            pass
    return rc


if __name__ == '__main__':
    sys.exit(main())
