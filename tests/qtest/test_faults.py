#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_faults - colo-proxy under faults: peers that vanish mid-frame,
reconnect storms, peers that stop reading, QMP clients that hang up
mid-command, object-del while traffic flows, SIGTERM under load.

Every test ends with the same questions, asked of the real binary:
  - is it still alive (or, for SIGTERM, did it exit 0 and clean up)?
  - did the sanitizers stay quiet (under `make check-asan` coloqtest fails
    a test whose colo-proxy printed an AddressSanitizer, LeakSanitizer or
    UBSan report, and stop() sees the LSan exit code)?
  - was every frame either released, in order, or counted as dropped with
    a reason in query-netdev-stats / query-netfilter-stats /
    query-chardev-stats?
  - are file descriptors and memory back where they were?

The whole file is kept under 90 seconds (each test a few seconds).
docs/reliability.md lists what each test asserts.
"""

import os
import random
import signal
import socket
import struct
import threading
import time

from coloqtest import *

RNG = random.Random(int(os.environ.get('FAULT_SEED', '7')))


def seq_of(frame):
    """The sequence number eth_frame() put in 'frame'."""
    return struct.unpack('>I', frame[16:20])[0]


def fd_count(pid):
    return len(os.listdir(f'/proc/{pid}/fd'))


def netdev_stats(qmp, id):
    return qmp_entry(qmp, 'query-netdev-stats', 'id', id,
                     f'netdev {id} not in query-netdev-stats')


def filter_stats(qmp, id):
    return qmp_entry(qmp, 'query-netfilter-stats', 'id', id,
                     f'filter {id} not in query-netfilter-stats')


def chardev_stats(qmp, label):
    return qmp_entry(qmp, 'query-chardev-stats', 'label', label,
                     f'chardev {label} not in query-chardev-stats')


def drops(st):
    """Sum of every drop-* counter of a query-netdev-stats entry."""
    n = sum(v for k, v in st['counters'].items() if k.startswith('drop-'))
    n += sum(v for k, v in st.get('backend', {}).items()
             if k.startswith('drop-'))
    return n


def recv_all(sock, timeout=1.0, vnet=False):
    """Every frame that arrives until 'timeout' passes without one."""
    out = []
    while True:
        f = recv_frame(sock, timeout, vnet)
        if f is None:
            return out
        out.append(f)


def check_in_order(frames, what):
    """Frames of one sender: strictly increasing sequence numbers (a
    subsequence of what was sent: nothing reordered, duplicated or
    corrupted)."""
    last = -1
    for f in frames:
        if is_probe(f):
            continue
        check(f[12:16] == b'\x88\xb5cq', f'{what}: foreign frame {f[:24]!r}')
        s = seq_of(f)
        check(f == eth_frame(s, len(f)), f'{what}: frame {s} corrupted')
        check(s > last, f'{what}: frame {s} after {last} (out of order)')
        last = s


def mem_slack(p):
    """Extra RSS growth allowed for 'p': AddressSanitizer keeps freed
    blocks in its quarantine (check-asan sets quarantine_size_mb=32) and
    adds shadow memory, so its RSS grows before it plateaus."""
    try:
        with open(f'/proc/{p.pid}/maps') as f:
            if 'libasan' in f.read():
                return 96 << 20
    except OSError:
        pass
    return 0


def alive(p):
    check(p.alive(), 'colo-proxy died:\n' + p.stderr()[-2000:])
    p.qmp.cmd('query-status')


# --------------------------------------------------------------------------
# peers that disconnect at random points mid-frame

def cut_stream(frames, rng):
    """The wire bytes of 'frames' followed by a random prefix of one more
    frame (cut inside its header or its payload)."""
    extra = frame_bytes(eth_frame(0xfffffff, 200))
    return (b''.join(frame_bytes(f) for f in frames)
            + extra[:rng.randrange(1, len(extra))])


def test_redirector_indev_disconnect_midframe():
    """A redirector's indev peer that hangs up inside a frame, 40 times:
    the complete frames reach the guest in order, the partial ones are
    discarded, the next connection starts clean."""
    d = tmpdir('cqf')
    in_path = os.path.join(d, 'in0.sock')
    sp = StreamPort(dir=d, extra=[
        '-chardev', chardev_unix('in0', in_path),
        '-object', 'filter-redirector,id=r0,netdev=n0,queue=tx,indev=in0'])
    q = sp.qmp
    sent = []
    n = 0
    for _ in range(40):
        frames = [eth_frame(n + i, RNG.randrange(60, 1500))
                  for i in range(RNG.randrange(0, 5))]
        n += len(frames) + 1
        sent += frames
        s = connect_unix(in_path, proc=sp.proxy)
        s.sendall(cut_stream(frames, RNG))
        s.close()
        # the next connection must not be glued to this one's tail
        wait_for(lambda: not chardev_stats(q, 'in0')['connected'],
                 what='indev disconnect seen')
    s = connect_unix(in_path, proc=sp.proxy)
    last = [eth_frame(n + i) for i in range(3)]
    for f in last:
        send_frame(s, f)
    sent += last
    got = [f for f in recv_all(sp.guest, 2.0) if not is_probe(f)]
    check_in_order(got, 'guest')
    check_eq([seq_of(f) for f in got], [seq_of(f) for f in sent],
             'frames released to the guest')
    st = filter_stats(q, 'r0')
    check_eq(st['packets-in'], len(sent), 'r0 packets-in')
    check(st['in-disconnects'] >= 40, f'in-disconnects {st}')
    s.close()
    alive(sp.proxy)
    sp.stop()


def test_stream_netdev_disconnect_midframe():
    """The network side of a stream netdev hangs up inside a frame, 30
    times; meanwhile the guest keeps sending.  Complete frames from the
    network reach the guest in order; guest frames sent while nobody was
    connected are counted as dropped; the port works after each reconnect."""
    sp = StreamPort()
    q = sp.qmp
    sent = []
    n = 0
    g = 0
    for _ in range(30):
        frames = [eth_frame(n + i, RNG.randrange(60, 1500))
                  for i in range(RNG.randrange(0, 5))]
        n += len(frames) + 1
        sent += frames
        sp.net.sendall(cut_stream(frames, RNG))
        sp.net.close()
        wait_for(lambda: not netdev_stats(q, 'n0')['backend']['connected'],
                 what='netdev disconnect seen')
        send_frame(sp.guest, eth_frame(g, tag=b'gu'))    # nobody to take it
        g += 1
        sp.net = connect_unix(sp.net_path, proc=sp.proxy)
        wait_for(lambda: netdev_stats(q, 'n0')['backend']['connected'],
                 what='netdev reconnect seen')
    got = [f for f in recv_all(sp.guest, 1.0) if not is_probe(f)]
    check_in_order(got, 'guest')
    check_eq([seq_of(f) for f in got], [seq_of(f) for f in sent],
             'frames released to the guest')
    # a guest frame that raced the last reconnect may be waiting here
    late = recv_all(sp.net, 0.3)
    check(all(f[14:16] == b'gu' for f in late), f'unexpected {late!r:.100}')
    sp.probe()
    n0 = netdev_stats(q, 'n0')
    # each guest frame went out (to a connection that then vanished) or
    # was counted as dropped: none is unaccounted for
    check(n0['counters']['tx-frames'] + drops(n0)
          + drops(netdev_stats(q, 'd0')) >= g + 2,
          f'{g} guest frames (+2 probes): {n0}')
    check(n0['backend']['disconnects'] >= 30, f'disconnects {n0}')
    alive(sp.proxy)
    sp.stop()


# --------------------------------------------------------------------------
# reconnect storms

def test_reconnect_storm():
    """Hundreds of quick connect/close cycles on a chardev server, a stream
    netdev server and the QMP socket, some sending a few bytes first: no fd
    leak, no memory growth beyond noise, every endpoint still works."""
    d = tmpdir('cqf')
    in_path = os.path.join(d, 'in0.sock')
    out_path = os.path.join(d, 'out0.sock')
    sp = StreamPort(dir=d, extra=[
        '-chardev', chardev_unix('in0', in_path),
        '-chardev', chardev_unix('out0', out_path),
        '-object', 'filter-redirector,id=r0,netdev=n0,queue=tx,indev=in0',
        '-object', 'filter-mirror,id=m0,netdev=n0,queue=rx,outdev=out0'])
    p = sp.proxy
    fds0 = fd_count(p.pid)
    rss0 = p.rss()[0]
    storms = 0
    for i in range(200):
        for path in (in_path, out_path, p.qmp_path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            if i % 3 == 1:
                s.sendall(b'\x00\x00\x00\x40abc')
            elif i % 3 == 2:
                s.sendall(b'{"execute":')
            s.close()
            storms += 1
    # the net side of the stream netdev too: it takes one peer at a time
    sp.net.close()
    for i in range(100):
        s = connect_unix(sp.net_path, proc=p)
        if i % 2:
            s.sendall(b'\x00\x00')
        s.close()
    sp.net = connect_unix(sp.net_path, proc=p)
    wait_for(lambda: netdev_stats(sp.qmp, 'n0')['backend']['connected'],
             what='netdev reconnect')
    time.sleep(0.3)
    sp.probe()
    # the indev and outdev still carry frames
    s = connect_unix(in_path, proc=p)
    o = connect_unix(out_path, proc=p)
    wait_for(lambda: filter_stats(sp.qmp, 'm0')['out-connected'],
             what='outdev connected')
    send_frame(s, eth_frame(1))
    check_eq(recv_frame(sp.guest), eth_frame(1), 'indev frame after storm')
    send_frame(sp.guest, eth_frame(2))
    check_eq(recv_frame(sp.net), eth_frame(2), 'guest frame after storm')
    check_eq(recv_frame(o), eth_frame(2), 'mirror copy after storm')
    s.close()
    o.close()
    time.sleep(0.3)
    fds1 = fd_count(p.pid)
    check(fds1 <= fds0 + 2, f'fd leak: {fds0} -> {fds1} after {storms} '
          'connections')
    rss1 = p.rss()[0]
    check(rss1 < rss0 + (16 << 20) + mem_slack(p),
          f'RSS grew {rss0 >> 10} -> {rss1 >> 10} KiB')
    st = chardev_stats(sp.qmp, 'in0')
    check(st['connects'] >= 200, f'in0 connects {st}')
    alive(p)
    sp.stop()


# --------------------------------------------------------------------------
# peers that stop reading

def test_mirror_outdev_stops_reading():
    """The mirror's outdev peer connects and never reads: the guest path
    keeps flowing at full speed, the copies beyond the chardev's
    out-buffer-size are dropped and counted (drop-buffer-full), memory
    stays bounded; when the peer reads again it gets whole frames in
    order."""
    d = tmpdir('cqf')
    out_path = os.path.join(d, 'out0.sock')
    sp = StreamPort(dir=d, extra=[
        '-chardev', chardev_unix('out0', out_path,
                                 extra='out-buffer-size=131072'),
        '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,outdev=out0'])
    q = sp.qmp
    o = connect_unix(out_path, proc=sp.proxy)
    o.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    wait_for(lambda: filter_stats(q, 'm0')['out-connected'],
             what='outdev connected')
    base = filter_stats(q, 'm0')['packets']
    rss0 = sp.proxy.rss()[0]
    n = 3000
    got = []

    def reader():
        while len(got) < n:
            f = recv_frame(sp.guest, 5.0)
            if f is None:
                return
            got.append(f)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(n):
        send_frame(sp.net, eth_frame(i, 1400))
    t.join(20)
    check_eq(len(got), n, 'frames to the guest while the mirror peer hangs')
    check_in_order(got, 'guest')
    st = filter_stats(q, 'm0')
    check_eq(st['packets'] - base, n, 'm0 packets')
    check(st['drop-buffer-full'] > 0, f'no drop-buffer-full: {st}')
    check(st['out-queued'] <= 131072 + 70000, f'out-queued {st["out-queued"]}')
    rss1 = sp.proxy.rss()[0]
    check(rss1 < rss0 + (32 << 20) + mem_slack(sp.proxy),
          f'RSS {rss0 >> 10} -> {rss1 >> 10} KiB with a stuck peer')
    # the peer reads again: whole frames, in order, nothing invented
    copies = [f for f in recv_all(o, 1.0) if not is_probe(f)]
    check_in_order(copies, 'mirror copies')
    st = filter_stats(q, 'm0')
    check(len(copies) <= n, 'more copies than frames')
    check(len(copies) + st['drop-buffer-full'] + st['drop-disconnected']
          + st['drop-error'] >= n,
          f'{len(copies)} copies + drops {st} < {n} frames')
    o.close()
    alive(sp.proxy)
    sp.stop()


def test_netdev_stops_draining():
    """The network peer of a stream netdev stops reading while the guest
    floods: the proxy pushes back on the guest (stops reading it) instead
    of growing, keeps serving the other direction and QMP, holds at most
    queue-size frames plus the out buffer; when the peer reads again every
    complete frame the guest sent arrives, in order, or was counted as
    dropped."""
    sp = StreamPort(device_extra='queue-size=64')
    q = sp.qmp
    sp.net.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rss0 = sp.proxy.rss()[0]
    n = 6000
    buf = b''.join(frame_bytes(eth_frame(i, 1400)) for i in range(n))
    flen = len(frame_bytes(eth_frame(0, 1400)))
    sp.guest.setblocking(False)
    off = 0
    deadline = time.monotonic() + 3
    while off < len(buf) and time.monotonic() < deadline:
        try:
            off += sp.guest.send(buf[off:off + 65536])
        except BlockingIOError:
            time.sleep(0.005)
    sp.guest.setblocking(True)
    sent = off // flen                      # complete frames handed over
    check(off < len(buf), 'no back-pressure: the guest side never blocked')
    # the other direction and the monitor still work
    send_frame(sp.net, eth_frame(10**6, tag=b'pr'))
    f = recv_frame(sp.guest, 5.0)
    check(f is not None and seq_of(f) == 10**6, 'net->guest while stuck')
    # nothing beyond the bounds is held
    for id in ('n0', 'd0'):
        st = netdev_stats(q, id)
        check(st['counters']['queue-len'] <= st['counters']['queue-size'],
              f'{id} queue over its bound {st}')
        check(st['backend']['out-pending-bytes'] <= 2 * 1024 * 1024,
              f'{id} out buffer over its bound {st}')
    rss1 = sp.proxy.rss()[0]
    check(rss1 < rss0 + (32 << 20) + mem_slack(sp.proxy),
          f'RSS {rss0 >> 10} -> {rss1 >> 10} KiB with a stuck peer')
    # drain: what arrives is in order, the rest was counted
    got = [f for f in recv_all(sp.net, 1.5) if not is_probe(f)]
    check_in_order(got, 'net')
    d0 = netdev_stats(q, 'd0')
    n0 = netdev_stats(q, 'n0')
    lost = drops(d0) + drops(n0)
    check_eq(len(got) + lost, sent,
             f'{len(got)} delivered + {lost} dropped (d0 {d0}, n0 {n0})')
    alive(sp.proxy)
    sp.stop()


def test_redirector_indev_into_stuck_guest():
    """A redirector's indev peer floods toward a guest that stopped
    reading, then hangs up: the redirector stops reading indev
    (in-throttled) instead of overflowing the guest's queue, and when the
    guest reads again it gets every complete frame, in order - including
    those still waiting in the proxy when the peer went away."""
    d = tmpdir('cqf')
    in_path = os.path.join(d, 'in0.sock')
    sp = StreamPort(dir=d, extra=[
        '-chardev', chardev_unix('in0', in_path),
        '-object', 'filter-redirector,id=r0,netdev=n0,queue=tx,indev=in0'])
    q = sp.qmp
    sp.guest.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s = connect_unix(in_path, proc=sp.proxy)
    s.setblocking(False)
    n = 30000
    buf = b''.join(frame_bytes(eth_frame(i, 100)) for i in range(n))
    flen = len(frame_bytes(eth_frame(0, 100)))
    off = 0
    deadline = time.monotonic() + 1.5
    while off < len(buf) and time.monotonic() < deadline:
        try:
            off += s.send(buf[off:off + 65536])
        except BlockingIOError:
            time.sleep(0.005)
    sent = off // flen
    check(off < len(buf), 'no back-pressure: indev never blocked')
    s.close()                               # with frames still in flight
    time.sleep(0.3)
    d0 = netdev_stats(q, 'd0')
    check(d0['counters']['queue-len'] <= d0['counters']['queue-size'],
          f'd0 queue over its bound {d0}')
    got = [f for f in recv_all(sp.guest, 1.5) if not is_probe(f)]
    check_in_order(got, 'guest')
    d0 = netdev_stats(q, 'd0')
    check_eq(d0['counters']['drop-queue-full'], 0,
             'frames dropped at the guest queue despite back-pressure')
    check_eq(len(got), sent, 'complete frames delivered')
    st = filter_stats(q, 'r0')
    check(st['in-throttled'] >= 1, f'indev never throttled {st}')
    check_eq(st['packets-in'], sent, 'r0 packets-in')
    alive(sp.proxy)
    sp.stop()


def test_rewriter_hold_queue_full():
    """Client segments that overtake the guest's SYN-ACK are held by
    filter-rewriter (at most 1024 frames, 200 ms each).  A burst of 600
    new connections each sending data before the guest answers fills that
    queue: frames beyond it pass untranslated (hold-queue-full), the held
    ones pass when their hold runs out - and none is lost (a frame that
    found the queue full may overtake held frames of its connection: the
    counted price of not dropping it).  Regression
    test: a release with a full queue used to drop one frame (the re-hold
    of the frame being looked at failed silently)."""
    need_types('filter-rewriter')
    import comparepkt as pk
    sp = StreamPort(extra=['-object',
                           'filter-rewriter,id=rw0,netdev=n0,queue=all'])
    q = sp.qmp
    frames = []
    flows = 600
    for f in range(flows):
        frames.append(pk.tcp(1000, 0, 0x02, sport=10000 + f, dport=80,
                             src='10.1.0.1', dst='10.1.0.2'))
    for k in range(3):
        for f in range(flows):
            frames.append(pk.tcp(1001 + 10 * k, 1, 0x18, b'x' * 10,
                                 sport=10000 + f, dport=80,
                                 src='10.1.0.1', dst='10.1.0.2'))
    sp.net.sendall(b''.join(frame_bytes(f) for f in frames))
    got = []
    deadline = time.monotonic() + 10
    while len(got) < len(frames) and time.monotonic() < deadline:
        f = recv_frame(sp.guest, 1.0)
        if f is not None and not is_probe(f):
            got.append(f)
    st = filter_stats(q, 'rw0')
    check(st['hold-queue-full'] > 0, f'the hold queue never filled: {st}')
    check_eq(len(got), len(frames), f'frames through the rewriter ({st})')
    check_eq(sorted(got), sorted(frames), 'frames (content)')
    alive(sp.proxy)
    sp.stop()


# --------------------------------------------------------------------------
# QMP clients that disconnect mid-command

def test_qmp_disconnect_midcommand():
    """Fifty QMP clients at once: some hang up before the greeting is
    read, some after half a request, some after a whole request whose
    reply they never read (a large one), some negotiated.  The monitor
    keeps serving the first client, and every connection is released."""
    p = ColoProxy()
    q = p.qmp
    fds0 = fd_count(p.pid)
    socks = []
    for i in range(50):
        s = connect_unix(p.qmp_path, proc=p)
        socks.append(s)
        kind = i % 5
        if kind == 1:
            s.sendall(b'{"execute": "qmp_capabilities"}\n{"execute": "qu')
        elif kind == 2:
            s.sendall(b'{"execute": "qmp_capabilities"}\n'
                      b'{"execute": "query-qmp-schema"}\n' * 4)
        elif kind == 3:
            s.sendall(b'{"execute": "qmp_capabilities"}\n'
                      b'{"execute": "query-version", "arguments": {"a": "'
                      + b'x' * 3000)
        elif kind == 4:
            s.sendall(b'[' * 500)
    q.cmd('query-version')
    RNG.shuffle(socks)
    for s in socks:
        s.close()
    wait_for(lambda: q.cmd('query-qmp-stats')['clients'] == 1,
             what='all QMP clients released')
    check(fd_count(p.pid) <= fds0 + 1, 'fd leak after QMP hang-ups')
    st = q.cmd('query-qmp-stats')
    check(st['connections'] >= 51, f'connections {st}')
    # one more wave, hanging up between every byte of a request
    req = b'{"execute": "qmp_capabilities"}\n{"execute": "query-status"}\n'
    for cut in range(1, len(req), 3):
        s = connect_unix(p.qmp_path, proc=p)
        s.sendall(req[:cut])
        s.close()
    wait_for(lambda: q.cmd('query-qmp-stats')['clients'] == 1,
             what='second wave released')
    alive(p)
    p.stop()


# --------------------------------------------------------------------------
# object-del while traffic flows

class Traffic:
    """Frames both ways through a StreamPort from a background thread;
    stop() returns (sent net->guest, frames the guest got, sent
    guest->net, frames the net side got)."""

    def __init__(self, sp):
        self.sp = sp
        self.stopping = False
        self.sent_tx = self.sent_rx = 0
        self.got_tx = []
        self.got_rx = []
        self.error = None
        self.threads = [threading.Thread(target=self._send),
                        threading.Thread(target=self._recv,
                                         args=(sp.guest, self.got_tx)),
                        threading.Thread(target=self._recv,
                                         args=(sp.net, self.got_rx))]
        for t in self.threads:
            t.start()

    def _send(self):
        try:
            while not self.stopping:
                send_frame(self.sp.net, eth_frame(self.sent_tx, 200))
                self.sent_tx += 1
                send_frame(self.sp.guest, eth_frame(self.sent_rx, 300))
                self.sent_rx += 1
                if self.sent_tx % 50 == 0:
                    time.sleep(0.002)
        except OSError as e:
            self.error = e

    def _recv(self, sock, out):
        idle = 0
        while idle < 6:
            try:
                f = recv_frame(sock, 0.25)
            except (EOFError, OSError):
                return          # the proxy went away (SIGTERM test)
            if f is None:
                if self.stopping:
                    idle += 1
                continue
            out.append(f)

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(15)
        check(self.error is None, f'sender failed: {self.error}')
        return self.sent_tx, self.got_tx, self.sent_rx, self.got_rx


class CompareFeed:
    """Identical UDP frames of one flow into a colo-compare's primary_in
    and secondary_in from a thread, its outdev read by another; stop()
    returns (primary frames sent, frames released)."""

    def __init__(self, paths, proxy):
        import comparepkt
        self.pk = comparepkt
        self.pri = connect_unix(paths['pri'], proc=proxy)
        self.sec = connect_unix(paths['sec'], proc=proxy)
        self.out = connect_unix(paths['cout'], proc=proxy)
        for s in (self.pri, self.sec):
            s.settimeout(0.5)       # nobody reads them after object-del
        time.sleep(0.1)
        self.sent = []
        self.got = []
        self.stopping = False
        self.threads = [threading.Thread(target=self._send),
                        threading.Thread(target=self._recv)]
        for t in self.threads:
            t.start()

    def _send(self):
        i = 0
        try:
            while not self.stopping:
                f = self.pk.udp(b'cmp%08d' % i)
                self.sent.append(f)
                send_frame(self.pri, f)
                send_frame(self.sec, f)
                i += 1
                if i % 20 == 0:
                    time.sleep(0.005)
        except OSError:
            pass

    def _recv(self):
        idle = 0
        while idle < 4:
            try:
                f = recv_frame(self.out, 0.25)
            except (EOFError, OSError):
                return
            if f is None:
                if self.stopping:
                    idle += 1
                continue
            self.got.append(f)

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(10)
        for s in (self.pri, self.sec, self.out):
            s.close()
        return self.sent, self.got


def test_object_del_under_traffic():
    """object-del of each object type while frames flow both ways (and
    through colo-compare's chardevs): the deletions succeed (or are
    refused while the object is in use, for iothread and chardev), held
    frames are released in order when a filter-buffer goes, every frame
    reaches its side in order or is counted as dropped, and colo-compare's
    output up to its deletion is exactly the primary's frames, in order."""
    d = tmpdir('cqf')
    paths = {n: os.path.join(d, n + '.sock')
             for n in ('in0', 'out0', 'pri', 'sec', 'cout')}
    extra = ['-object', 'iothread,id=io0',
             '-chardev', chardev_unix('in0', paths['in0']),
             '-chardev', chardev_unix('out0', paths['out0']),
             '-object', 'filter-dump,id=fd0,netdev=n0,file='
             + os.path.join(d, 'dump.pcap'),
             '-object', 'filter-buffer,id=fb0,netdev=n0,queue=rx,'
             'interval=200000',
             '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,outdev=out0',
             '-object', 'filter-redirector,id=r0,netdev=n0,queue=tx,'
             'indev=in0']
    have_compare = have_type('colo-compare')
    have_rewriter = have_type('filter-rewriter')
    if have_compare:
        for n in ('pri', 'sec', 'cout'):
            extra += ['-chardev', chardev_unix(n, paths[n])]
        extra += ['-object', 'colo-compare,id=cmp0,primary_in=pri,'
                  'secondary_in=sec,outdev=cout,iothread=io0']
    if have_rewriter:
        extra += ['-object', 'filter-rewriter,id=rw0,netdev=n0,queue=all']
    sp = StreamPort(dir=d, extra=extra)
    q = sp.qmp
    o = connect_unix(paths['out0'], proc=sp.proxy)
    tr = Traffic(sp)
    if have_compare:
        cmp_feed = CompareFeed(paths, sp.proxy)
    time.sleep(0.3)

    # in use: refused, with the user told why
    expect_qmp_error(q.cmd, 'chardev-remove', id='out0', contains='in use')
    if have_compare:
        expect_qmp_error(q.object_del, 'io0', contains='in use')
    # the buffer holds the guest's frames (interval 200 s); deleting it
    # must release them, in order, not lose them
    time.sleep(0.2)
    held = filter_stats(q, 'fb0')['queued']
    for id in ['fd0', 'fb0', 'm0', 'r0'] + (['rw0'] if have_rewriter else []) \
            + (['cmp0'] if have_compare else []):
        q.object_del(id)
        time.sleep(0.15)
        alive(sp.proxy)
    q.object_del('io0')                     # free now
    q.cmd('chardev-remove', id='out0')      # free now
    o.close()
    time.sleep(0.2)
    sent_tx, got_tx, sent_rx, got_rx = tr.stop()
    got_tx = [f for f in got_tx if not is_probe(f)]
    got_rx = [f for f in got_rx if not is_probe(f)]
    check_in_order(got_tx, 'net->guest')
    check_in_order(got_rx, 'guest->net')
    d0, n0 = netdev_stats(q, 'd0'), netdev_stats(q, 'n0')
    check_eq(len(got_tx) + drops(n0) + drops(d0) >= sent_tx, True,
             f'net->guest: {len(got_tx)} of {sent_tx}, drops n0 {n0} '
             f'd0 {d0}')
    check(len(got_rx) + drops(n0) + drops(d0) >= sent_rx,
          f'guest->net: {len(got_rx)} of {sent_rx} (buffer held {held})')
    check(q.cmd('query-netfilters') == [], 'filters left behind')
    if have_compare:
        sent, got = cmp_feed.stop()
        check(got, 'colo-compare released nothing before object-del')
        check_eq(got, sent[:len(got)],
                 'colo-compare output (in order, no gap, up to object-del)')
    sp.probe()
    alive(sp.proxy)
    sp.stop()


# --------------------------------------------------------------------------
# SIGTERM under load

def test_sigterm_under_load():
    """SIGTERM while frames flood both ways and a mirror peer is stuck:
    exit 0 within the timeout, the pidfile removed, no sanitizer report
    (LSan runs at that exit under check-asan)."""
    d = tmpdir('cqf')
    pidfile = os.path.join(d, 'colo.pid')
    out_path = os.path.join(d, 'out0.sock')
    sp = StreamPort(dir=d, extra=[
        '-pidfile', pidfile,
        '-chardev', chardev_unix('out0', out_path),
        '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,outdev=out0',
        '-object', 'filter-buffer,id=fb0,netdev=n0,queue=rx,interval=1000'])
    o = connect_unix(out_path, proc=sp.proxy)
    check(os.path.exists(pidfile), 'no pidfile')
    tr = Traffic(sp)
    extra_q = [sp.proxy.connect_qmp() for _ in range(3)]
    half = connect_unix(sp.proxy.qmp_path, proc=sp.proxy)
    half.sendall(b'{"execute": "qmp_capabilities"}\n{"execute": "qu')
    time.sleep(0.5)
    rc = sp.proxy.stop(expect=0, timeout=10)
    tr.stopping = True
    for t in tr.threads:
        t.join(5)
    check_eq(rc, 0, 'exit code')
    check(not os.path.exists(pidfile), 'pidfile left behind')
    for c in extra_q:
        c.close()
    half.close()
    o.close()
    sp.close()


if __name__ == '__main__':
    run_tests([
        test_redirector_indev_disconnect_midframe,
        test_stream_netdev_disconnect_midframe,
        test_reconnect_storm,
        test_mirror_outdev_stops_reading,
        test_netdev_stops_draining,
        test_redirector_indev_into_stuck_guest,
        test_rewriter_hold_queue_full,
        test_qmp_disconnect_midcommand,
        test_object_del_under_traffic,
        test_sigterm_under_load,
    ], timeout=60)
