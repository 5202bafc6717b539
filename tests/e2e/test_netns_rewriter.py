#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_netns_rewriter - filter-rewriter between two real Linux TCP stacks.

    ns C (client 10.79.0.1; runs the load client and a server)
       c0 ==veth== pn                      primary colo-proxy (ns P):
                    -netdev af-packet hn0 (pn)  -[filter-mirror m0, tx]-
                    -device af-packet d0 (pg)
                                   pg ==veth== g1   ns PG (primary guest
                                                    10.79.0.2)
                          m0 -> unix socket mirror.sock
                                   |
    secondary colo-proxy (ns S):   v
       -chardev socket red0 (client of mirror.sock)
       -netdev af-packet hn0 (sn ==veth== sx, idle network side)
         -[filter-redirector f1, queue=tx, indev=red0]-
         -[filter-redirector f2, queue=rx, outdev=out0]-  -> the test
         -[filter-rewriter rew0, queue=all]-
       -device af-packet d0 (sg)
                                   sg ==veth== g2   ns SG (secondary guest,
                                                    same MAC and IP)

Both guests run the same deterministic request/response server and the
same deterministic client program.  The client namespace talks only to the
primary guest; every frame it sends is mirrored to the secondary guest
through the rewriter (ack/SACK/TSecr shifted into the secondary's space),
and the secondary guest's output goes back through the rewriter (seq/TSval
shifted into the primary's) to the test over the out0 chardev, while the
primary guest's output is captured on the client's interface.

  - client-opened: the client runs thousands of requests over many
    connections to the guests' server;
  - guest-opened: both guests connect out to a server in the client
    namespace (same source ports) and run the same requests.

For every connection, the secondary's segments (SYN excepted) must carry
the primary's sequence numbers: the byte streams rebuilt by sequence
number from both captures are identical, FINs included.  The two stacks
pick different ISNs (Linux mixes a clock into them, and the secondary
sees every segment later), so without the rewriter nothing would line up.

Gating: there is no colo-compare here, so nothing holds the primary back
while the secondary catches up, and a secondary lagging by a few
milliseconds (a busy host) would receive segments acknowledging data it has
not sent yet, which Linux drops.  The load programs in ns C therefore ask
the test ("G <port> <bytes>") before each request (client) or response
(server), and the test answers once the secondary guest's output for that
connection has caught up with what the primary's did.  Needs root, namespaces and
ethtool (offloads off: af-packet sees no GSO frames).
"""

import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time

from coloqtest import *
from test_rewriter import parse_tcp

GUEST_MAC = '52:54:00:79:00:02'
CLIENT_IP, GUEST_IP = '10.79.0.1', '10.79.0.2'
PORT_GUEST_SERVER = 5080        # in the guests
PORT_CLIENT_SERVER = 6080       # in ns C (guest-opened connections)
GUEST_SPORT_BASE = 31000        # guest-opened connections' source ports

N_CONN = 20                     # client-opened connections
N_REQ = 100                     # requests per client-opened connection
N_GCONN = 4                     # guest-opened connections
N_GREQ = 150                    # requests per guest-opened connection

# A request/response server: for each line "REQ <n>" it answers a
# deterministic body of a length depending on n (up to 4 KiB: several
# segments).  TCP_NODELAY: with Nagle, the secondary would hold its last
# partial segment until the client's ACK of the primary's copy arrives,
# and that ACK then acknowledges data the secondary has not sent.
SERVER = r'''
import socket, sys, threading
gate = len(sys.argv) > 3 and sys.argv[3] == 'gate'
lock = threading.Lock()
def body(n):
    size = (n * 131) % 4000 + 10
    s = ('RESP %d ' % n).encode()
    return s + bytes((n + i) % 26 + 97 for i in range(size)) + b'\n'
def handle(c, port):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = c.makefile('rb')
    got = 0
    for line in f:
        got += len(line)
        if not line.startswith(b'REQ '):
            break
        if gate:
            with lock:
                print('G', port, got, flush=True)
                sys.stdin.readline()
        c.sendall(body(int(line[4:])))
    c.close()
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(64)
print('READY', flush=True)
while True:
    c, addr = l.accept()
    threading.Thread(target=handle, args=(c, addr[1]), daemon=True).start()
'''

# The load: 'nconn' connections of 'nreq' requests; each response is read
# whole and checked; 'pause' seconds before each request.  With 'bind_base',
# connection i binds source port bind_base + i and waits for a line on
# stdin before connecting (the test orders the two guests' SYNs).  With
# 'gate', it asks the test before each request and before closing.
CLIENT = r'''
import socket, sys, time
host, port, nconn, nreq, pause, bind_base, gate = sys.argv[1:8]
port, nconn, nreq, bind_base = int(port), int(nconn), int(nreq), int(bind_base)
pause, gate = float(pause), gate == 'gate'
def body(n):
    size = (n * 131) % 4000 + 10
    s = ('RESP %d ' % n).encode()
    return s + bytes((n + i) % 26 + 97 for i in range(size)) + b'\n'
bad = 0
for i in range(nconn):
    if bind_base:
        sys.stdin.readline()
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c.bind(('0.0.0.0', bind_base + i))
        c.settimeout(20)
        c.connect((host, port))
    else:
        c = socket.create_connection((host, port), timeout=20)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    me = c.getsockname()[1]
    f = c.makefile('rb')
    got = 0
    for k in range(nreq + 1):
        if gate:
            print('G', me, got, flush=True)
            sys.stdin.readline()
        if k == nreq:
            break
        n = i * 100000 + k
        if pause:
            time.sleep(pause)
        c.sendall(b'REQ %d\n' % n)
        line = f.readline()
        got += len(line)
        if line != body(n):
            bad += 1
    c.close()
    print('done', i, flush=True)
print('BAD', bad, flush=True)
'''

# Captures inbound frames on an interface into a file: 4-byte length +
# frame per record, until killed.
CAPTURE = r'''
import os, socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
s.bind((sys.argv[1], 0))
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
print('READY', flush=True)
while True:
    data, addr = s.recvfrom(70000)
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    os.write(fd, struct.pack('!I', len(data)) + data)
'''


def records(blob):
    out, p = [], 0
    while p + 4 <= len(blob):
        n = struct.unpack('!I', blob[p:p + 4])[0]
        out.append(blob[p + 4:p + 4 + n])
        p += 4 + n
    return out


def ipv4_tcp(frames, src, dst):
    """(sport, dport, parsed) of the Ethernet/IPv4/TCP frames src -> dst."""
    sip = socket.inet_aton(src)
    dip = socket.inet_aton(dst)
    out = []
    for f in frames:
        if len(f) < 54 or f[12:14] != b'\x08\x00' or f[23] != 6:
            continue
        if f[26:30] != sip or f[30:34] != dip:
            continue
        d = parse_tcp(f)
        if d is not None:
            out.append(d)
    return out


SG_IN = None
TS_DIFF = [0]
TS_OFFSETS = []                 # secondary - primary TSval of the SYNs


def streams(segs, base=None):
    """Per connection (the guest-side port and the peer port): ISN (of the
    SYN or SYN-ACK), the non-SYN segments, the byte stream rebuilt by
    sequence number relative to the ISN of the same connection in 'base'
    (the primary's; None: its own), the FIN's relative seq."""
    conns = {}
    for d in segs:
        c = conns.setdefault((d['sport'], d['dport']),
                             {'isn': None, 'segs': [], 'fin': None,
                              'syn_segs': 0})
        if d['flags'] & 0x02:
            c['isn'] = d['seq']
            c['syn_ts'] = d['ts'][0] if d['ts'] else None
            c['syn_segs'] += 1
        else:
            c['segs'].append(d)
    for key, c in conns.items():
        data = {}
        isn = c['isn'] if base is None else base.get(key, {}).get('isn')
        for d in c['segs']:
            if isn is None or d['flags'] & 0x04:
                continue
            rel = (d['seq'] - isn - 1) & 0xffffffff
            if rel >= 1 << 30:
                data.setdefault('out-of-space', []).append(d['seq'])
                continue
            for i, b in enumerate(d['payload']):
                data[rel + i] = b
            if d['flags'] & 0x01:
                c['fin'] = rel + len(d['payload'])
        bad = data.pop('out-of-space', [])
        n = max(data) + 1 if data else 0
        c['stream'] = bytes(data.get(i, 0) for i in range(n))
        c['holes'] = n - len(data)
        c['bad_seq'] = bad
    return conns


def compare(prim, sec, what):
    """Checks every connection of 'prim' against 'sec' (see streams())."""
    P = streams(prim)
    S = streams(sec, base=P)
    check(len(P) > 0, f'{what}: primary connections captured')
    nbytes, offsets = 0, 0
    for key, p in sorted(P.items()):
        s = S.get(key)
        try:
            compare_one(key, p, s, what)
        except TestFailure:
            for side, c in (('primary', p), ('secondary', s or {})):
                log(f'{side} {key}: isn {c.get("isn")}, syn segments '
                    f'{c.get("syn_segs")}')
                segs = c.get('segs', [])
                n = len(s['segs']) if s else 0
                for d in segs[max(0, n - 12):n + 6]:
                    log(f'   seq {(d["seq"] - (p["isn"] or 0)) & 0xffffffff}'
                        f' ack {d["ack"]} flags {d["flags"]:#x} len '
                        f'{len(d["payload"])} ts {d["ts"]}')
            if SG_IN is not None and s:
                lastack = s['segs'][-1]['seq'] if s['segs'] else 0
                log('client -> secondary guest (after the rewriter):')
                for d in SG_IN:
                    if (d['dport'], d['sport']) == key and \
                            abs(((d['ack'] - lastack) + (1 << 31)) % (1 << 32)
                                - (1 << 31)) < 20000:
                        log(f'   seq {d["seq"]} ack rel '
                            f'{(d["ack"] - s["isn"]) & 0xffffffff} flags '
                            f'{d["flags"]:#x} len {len(d["payload"])} '
                            f'ts {d["ts"]}')
            raise
        if s['isn'] != p['isn']:
            offsets += 1
        if s.get('syn_ts') is not None and p.get('syn_ts') is not None:
            TS_OFFSETS.append((s['syn_ts'] - p['syn_ts']) & 0xffffffff)
        nbytes += len(p['stream'])
    log(f'{what}: {len(P)} connections, {nbytes} bytes identical, '
        f'{offsets} with different ISNs on the two stacks')
    check(offsets > 0, f'{what}: the two stacks picked the same ISNs; '
          'the test proves nothing')
    return len(P), nbytes


def compare_one(key, p, s, what):
    if True:
        check(s is not None, f'{what} {key}: secondary output missing')
        check(p['isn'] is not None and s['isn'] is not None,
              f'{what} {key}: SYN seen on both sides')
        check(not s['bad_seq'], f'{what} {key}: {len(s["bad_seq"])} '
              f'secondary segments outside the primary sequence space, '
              f'e.g. {s["bad_seq"][:3]} (primary ISN {p["isn"]}, '
              f'secondary ISN {s["isn"]})')
        check_eq(s['holes'], 0, f'{what} {key}: holes in the secondary')
        check_eq(len(s['stream']), len(p['stream']),
                 f'{what} {key}: stream length')
        if s['stream'] != p['stream']:
            i = next(i for i, (a, b) in enumerate(zip(s['stream'],
                                                      p['stream'])) if a != b)
            raise TestFailure(f'{what} {key}: streams differ at byte {i}')
        check_eq(s['fin'], p['fin'], f'{what} {key}: FIN sequence number')
        # timestamps: the secondary's TSval in the primary's clock (they
        # then differ by the secondary's lag only)
        # (first transmissions only: a retransmission is later by design)
        pts = {}
        for d in p['segs']:
            if d['ts'] and d['payload']:
                pts.setdefault(d['seq'], d['ts'][0])
        seen = set()
        for d in s['segs']:
            if d['ts'] and d['payload'] and d['seq'] in pts and \
                    d['seq'] not in seen:
                seen.add(d['seq'])
                diff = abs(((d['ts'][0] - pts[d['seq']] + (1 << 31))
                            & 0xffffffff) - (1 << 31))
                TS_DIFF[0] = max(TS_DIFF[0], diff)


class OutReader(threading.Thread):
    """Reads the secondary's out0 chardev (QEMU framing, no vnet) and
    follows, per connection (guest port, peer port), how many stream bytes
    the secondary guest has sent (wait_progress())."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0
        self.stop = False
        self.cond = threading.Condition()
        self.first = {}         # key -> seq of the first data byte
        self.sent = {}          # key -> stream bytes sent so far
        self.gip = socket.inet_aton(GUEST_IP)

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                d = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            self.buf += d
            self._scan()

    def _scan(self):
        with self.cond:
            while self.pos + 4 <= len(self.buf):
                n = struct.unpack('!I', self.buf[self.pos:self.pos + 4])[0]
                if self.pos + 4 + n > len(self.buf):
                    break
                f = bytes(self.buf[self.pos + 4:self.pos + 4 + n])
                self.pos += 4 + n
                if len(f) < 54 or f[12:14] != b'\x08\x00' or f[23] != 6 \
                        or f[26:30] != self.gip:
                    continue
                d = parse_tcp(f)
                if not d or d['flags'] & 0x06 or not d['payload']:
                    continue
                key = (d['sport'], d['dport'])
                first = self.first.setdefault(key, d['seq'])
                end = (d['seq'] + len(d['payload']) - first) & 0xffffffff
                if end < 1 << 30 and end > self.sent.get(key, 0):
                    self.sent[key] = end
            self.cond.notify_all()

    def wait_progress(self, key, n, timeout):
        """True once the secondary guest sent 'n' stream bytes on 'key'."""
        with self.cond:
            return self.cond.wait_for(lambda: self.sent.get(key, 0) >= n,
                                      timeout)

    def frames(self):
        return records(bytes(self.buf))


class Gate(threading.Thread):
    """Serves the "G <port> <bytes>" lines of a load program (client or
    server in ns C): answers once the secondary guest has sent as many
    bytes on that connection as the primary guest did, so that no segment
    acknowledges secondary data not sent yet.  Other lines go to .lines."""

    def __init__(self, proc, reader, key_of, timeout=10.0):
        super().__init__(daemon=True)
        self.proc, self.reader, self.key_of = proc, reader, key_of
        self.timeout = timeout
        self.lines = queue.Queue()
        self.late = 0
        self.start()

    def run(self):
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 3 and parts[0] == 'G':
                if not self.reader.wait_progress(self.key_of(int(parts[1])),
                                                 int(parts[2]),
                                                 self.timeout):
                    self.late += 1
                try:
                    self.proc.stdin.write('ok\n')
                    self.proc.stdin.flush()
                except OSError:
                    break
            else:
                self.lines.put(line.strip())

    def line(self, timeout=60):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None


def mirror_drops(primary):
    m = primary.qmp.cmd('query-netfilter-stats', id='m0')[0]
    return m.get('drop-buffer-full', 0) + m.get('drop-disconnected', 0)


def dump_state(primary, secondary):
    """Logs the counters of both proxies (for a failure)."""
    for name, px in (('primary', primary), ('secondary', secondary)):
        for cmd in ('query-netfilter-stats', 'query-netdev-stats'):
            try:
                log(f'{name} {cmd}: {px.qmp.cmd(cmd)}')
            except Exception as e:      # noqa: B902 - diagnostics only
                log(f'{name} {cmd}: {e}')


def no_offload(ns, netns, ifname):
    ns.run(netns, 'ethtool', '-K', ifname, 'tx', 'off', 'rx', 'off',
           'tso', 'off', 'gso', 'off', 'gro', 'off', check_rc=False)


def mac_of(ns, netns, ifname):
    r = ns.run(netns, 'cat', f'/sys/class/net/{ifname}/address')
    return r.stdout.strip()


def test_rewriter_two_stacks():
    need_root()
    need_netns()
    need_types('filter-mirror', 'filter-redirector', 'filter-rewriter')
    need_types('af-packet', option='-netdev')
    need_types('af-packet', option='-device')
    if not os.path.exists('/usr/sbin/ethtool') and \
            not os.path.exists('/sbin/ethtool'):
        raise Skip('ethtool not installed (offloads must be off)')
    t_start = time.monotonic()
    with NetNS() as ns:
        c, p, pg, s, sg = (ns.add(x) for x in ('rC', 'rP', 'rPG', 'rS',
                                              'rSG'))
        ns.veth('rc0', c, 'rpn', p)
        ns.veth('rpg', p, 'rg1', pg)
        ns.veth('rsn', s, 'rsx', s)
        ns.veth('rsg', s, 'rg2', sg)
        i = ns.ifname
        for netns, dev in ((c, 'rc0'), (p, 'rpn'), (p, 'rpg'), (pg, 'rg1'),
                           (s, 'rsn'), (s, 'rsx'), (s, 'rsg'), (sg, 'rg2')):
            no_offload(ns, netns, i(dev))
        cmac = mac_of(ns, c, i('rc0'))
        for netns, dev in ((pg, 'rg1'), (sg, 'rg2')):
            ns.run(netns, 'ip', 'link', 'set', i(dev), 'address', GUEST_MAC)
            ns.run(netns, 'ip', 'addr', 'add', GUEST_IP + '/24', 'dev',
                   i(dev))
            # the secondary's ARP requests never get an answer (its output
            # goes to the test): both guests know the client statically
            ns.run(netns, 'ip', 'neigh', 'replace', CLIENT_IP, 'lladdr',
                   cmac, 'dev', i(dev), 'nud', 'permanent')
        # timestamps without the per-connection random offset in the
        # secondary (the primary keeps Linux's default, random offsets):
        # the two clocks then differ by far more than any lag
        ns.run(sg, 'sysctl', '-q', '-w', 'net.ipv4.tcp_timestamps=2')
        ns.run(c, 'ip', 'addr', 'add', CLIENT_IP + '/24', 'dev', i('rc0'))
        ns.run(c, 'ip', 'neigh', 'replace', GUEST_IP, 'lladdr', GUEST_MAC,
               'dev', i('rc0'), 'nud', 'permanent')

        d = tmpdir('cqr')
        mirror = os.path.join(d, 'mirror.sock')
        out = os.path.join(d, 'out.sock')
        primary = ColoProxy(
            ['-netdev', f'af-packet,id=hn0,ifname={i("rpn")}',
             '-device', f'af-packet,id=d0,netdev=hn0,ifname={i("rpg")}',
             '-chardev', chardev_unix('mirror0', mirror),
             '-object', 'filter-mirror,id=m0,netdev=hn0,queue=tx,'
                        'outdev=mirror0'],
            wrapper=['ip', 'netns', 'exec', p])
        secondary = ColoProxy(
            ['-netdev', f'af-packet,id=hn0,ifname={i("rsn")}',
             '-device', f'af-packet,id=d0,netdev=hn0,ifname={i("rsg")}',
             '-chardev', f'socket,id=red0,path={mirror},reconnect=1',
             '-chardev', chardev_unix('out0', out),
             '-object', 'filter-redirector,id=f1,netdev=hn0,queue=tx,'
                        'indev=red0',
             '-object', 'filter-redirector,id=f2,netdev=hn0,queue=rx,'
                        'outdev=out0',
             '-object', 'filter-rewriter,id=rew0,netdev=hn0,queue=all'],
            wrapper=['ip', 'netns', 'exec', s])
        wait_for(lambda: (primary.qmp.cmd('query-netfilter-stats', id='m0')
                          [0].get('out-connected')), 10,
                 what='secondary connected to the mirror')
        # (frames sent while the interfaces came up may have been dropped)
        drops0 = mirror_drops(primary)
        out_sock = connect_unix(out, proc=secondary)
        reader = OutReader(out_sock)
        reader.start()
        wait_for(lambda: secondary.qmp.cmd('query-netfilter-stats',
                                           id='f2')[0].get('out-connected'),
                 10, what='test connected to out0')

        cap_file = os.path.join(d, 'primary.cap')
        cap = ns.popen(c, sys.executable, '-c', CAPTURE, i('rc0'), cap_file,
                       stdout=subprocess.PIPE, text=True)
        check_eq(cap.stdout.readline().strip(), 'READY', 'capture started')
        sgcap_file = os.path.join(d, 'sguest.cap')
        sgcap = ns.popen(sg, sys.executable, '-c', CAPTURE, i('rg2'),
                         sgcap_file, stdout=subprocess.PIPE, text=True)
        check_eq(sgcap.stdout.readline().strip(), 'READY', 'capture started')
        procs = [cap, sgcap]
        try:
            for netns in (pg, sg):
                srv = ns.popen(netns, sys.executable, '-c', SERVER, GUEST_IP,
                               str(PORT_GUEST_SERVER), stdout=subprocess.PIPE,
                               text=True)
                procs.append(srv)
                check_eq(srv.stdout.readline().strip(), 'READY',
                         'guest server started')

            # 1. client-opened connections
            t0 = time.monotonic()
            load_error = None
            cl = ns.popen(c, sys.executable, '-c', CLIENT, GUEST_IP,
                          str(PORT_GUEST_SERVER), str(N_CONN), str(N_REQ),
                          '0', '0', 'gate', stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
            procs.append(cl)
            gate = Gate(cl, reader, lambda port: (PORT_GUEST_SERVER, port))
            for k in range(N_CONN):
                line = gate.line()
                if line != f'done {k}':
                    dump_state(primary, secondary)
                    load_error = f'client connection {k}: got {line!r}'
                    break
            if not load_error:
                check_eq(gate.line(), 'BAD 0', 'client load result')
            log(f'client-opened: {N_CONN * N_REQ} requests in '
                f'{time.monotonic() - t0:.1f}s, {gate.late} gate timeouts')

            # 2. guest-opened connections: the secondary's SYN first, then
            # the primary's (the peer's SYN-ACK is what the rewriter learns
            # from, and the secondary must be waiting for it); the server
            # in ns C answers a request once the secondary sent it too
            t0 = time.monotonic()
            csrv = ns.popen(c, sys.executable, '-c', SERVER, CLIENT_IP,
                            str(PORT_CLIENT_SERVER), 'gate',
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
            procs.append(csrv)
            check_eq(csrv.stdout.readline().strip(), 'READY',
                     'client-side server started')
            sgate = Gate(csrv, reader,
                         lambda port: (port, PORT_CLIENT_SERVER))
            gcl = {}
            for netns in (sg, pg):
                gcl[netns] = ns.popen(
                    netns, sys.executable, '-c', CLIENT, CLIENT_IP,
                    str(PORT_CLIENT_SERVER), str(N_GCONN), str(N_GREQ),
                    '0', str(GUEST_SPORT_BASE), 'nogate',
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                procs.append(gcl[netns])
            for k in range(N_GCONN if not load_error else 0):
                base = secondary.qmp.cmd('query-netfilter-stats',
                                         id='rew0')[0]['opened-by-guest']
                gcl[sg].stdin.write('go\n')
                gcl[sg].stdin.flush()
                wait_for(lambda: secondary.qmp.cmd(
                    'query-netfilter-stats', id='rew0')[0]['opened-by-guest']
                    > base, 10, what='the secondary guest SYN')
                gcl[pg].stdin.write('go\n')
                gcl[pg].stdin.flush()
                for netns in (pg, sg):
                    line = gcl[netns].stdout.readline().strip()
                    if line != f'done {k}' and not load_error:
                        dump_state(primary, secondary)
                        load_error = (f'guest client ({netns}) connection '
                                      f'{k}: got {line!r}')
                if load_error:
                    break
            for netns in (pg, sg):
                if not load_error:
                    rest = gcl[netns].stdout.readline().strip()
                    check_eq(rest, 'BAD 0', f'guest client {netns} result')
            log(f'guest-opened: {N_GCONN * N_GREQ} requests per guest in '
                f'{time.monotonic() - t0:.1f}s, {sgate.late} gate timeouts')
            time.sleep(1.0)    # last FIN/ACKs through both paths
        finally:
            for pr in procs:
                if pr.poll() is None:
                    pr.terminate()
                    try:
                        pr.wait(5)
                    except subprocess.TimeoutExpired:
                        pr.kill()
                        pr.wait()

        # The last FIN handshakes may still be crossing both paths on a
        # loaded machine: wait (bounded) until the teardowns are counted.
        # 10 s was not enough once under ASan with CI's other tests running
        # (21 of 24 counted, the last FIN exchange 237 ms old at the end).
        deadline = time.monotonic() + 30
        while True:
            st = secondary.qmp.cmd('query-netfilter-stats', id='rew0')[0]
            if (st['closed-fin'] >= N_CONN + N_GCONN - 1
                    or time.monotonic() > deadline):
                break
            time.sleep(0.2)
        log(f'rewriter: {st}')
        if st['closed-fin'] < N_CONN + N_GCONN:
            # which teardowns were not counted (now and then one is not;
            # two fail the check below: a flake still to explain)
            open_conns = [c for c in secondary.qmp.cmd(
                'query-colo-rewriter-connections', id='rew0')
                if c['state'] != 'closed']
            log(f'connections not closed by FIN: {open_conns}')
        reader.stop = True
        reader.join(5)
        out_sock.close()
        with open(cap_file, 'rb') as f:
            prim_frames = records(f.read())
        sec_frames = reader.frames()
        with open(sgcap_file, 'rb') as f:
            global SG_IN
            SG_IN = ipv4_tcp(records(f.read()), CLIENT_IP, GUEST_IP)
        log(f'captured {len(prim_frames)} primary frames, '
            f'{len(sec_frames)} secondary frames')

        # guest -> client segments of both kinds of connection
        prim = ipv4_tcp(prim_frames, GUEST_IP, CLIENT_IP)
        sec = ipv4_tcp(sec_frames, GUEST_IP, CLIENT_IP)
        nc, nb = compare([x for x in prim
                          if x['sport'] == PORT_GUEST_SERVER],
                         [x for x in sec if x['sport'] == PORT_GUEST_SERVER],
                         'client-opened')
        check_eq(nc, N_CONN, 'client-opened connections compared')
        ng, gb = compare([x for x in prim
                          if x['dport'] == PORT_CLIENT_SERVER],
                         [x for x in sec
                          if x['dport'] == PORT_CLIENT_SERVER],
                         'guest-opened')
        if load_error:
            raise TestFailure(load_error)
        check_eq(ng, N_GCONN, 'guest-opened connections compared')
        log(f'largest TSval difference, secondary (rewritten) vs primary, '
            f'same segment: {TS_DIFF[0]} ms')
        check(TS_DIFF[0] < 500, 'TSval in the primary clock')
        big = [o for o in TS_OFFSETS if 10000 < o < (1 << 32) - 10000]
        log(f'{len(big)} of {len(TS_OFFSETS)} connections had timestamp '
            f'clocks more than 10 s apart on the two stacks')
        check(len(big) > len(TS_OFFSETS) // 2, 'timestamp offsets exercised')

        check_eq(st['opened-by-client'], N_CONN, 'opened-by-client')
        check_eq(st['opened-by-guest'], N_GCONN, 'opened-by-guest')
        check_eq(st['offsets-learned'], N_CONN + N_GCONN, 'offsets-learned')
        check(st['packets-rewritten'] > 2 * N_CONN * N_REQ,
              'packets-rewritten')
        check(st['timestamps-rewritten'] >= len(big), 'timestamps counter')
        check_eq(st['refused-table-full'], 0, 'refused')
        check(st['closed-fin'] >= N_CONN + N_GCONN - 1, 'FIN teardown seen')
        check_eq(mirror_drops(primary), drops0,
                 'no mirror drops once connected')
        secondary.stop()
        primary.stop()
    log(f'total {time.monotonic() - t_start:.1f}s')


if __name__ == '__main__':
    run_tests([test_rewriter_two_stacks])
