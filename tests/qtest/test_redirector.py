#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_redirector - filter-redirector end to end (net/filter-mirror.c).

QEMU's tests/qtest/test-filter-redirector.c cases (redirector_tx,
redirector_rx: three redirectors chained through two chardevs; the 2026
status, init_status_off and rx_event_opened cases, which QEMU 7.2 fails),
plus: vnet framing both ways, garbage on indev (connection dropped,
reader resynchronised), a partial frame across a reconnect, queue=all,
an outdev that is down or stuck (dropped and counted, no unbounded
queue, QMP stays responsive) and QEMU's option errors.

The test plays the network (-netdev stream n0), the guest (-device stream
d0) and the far ends of the chardevs.
"""

import os
import socket
import time

from coloqtest import *

from test_mirror import Drain, filter_stats, qmp_latency


def need_redirector():
    need_types('stream', option='-netdev')
    need_types('stream', option='-device')
    need_types('filter-redirector')


class Setup:
    """A StreamPort with chardevs (option strings, on the command line)
    and filters (option strings, created with object-add once the port is
    probed, so that stealing filters do not swallow the probe).
    Unix socket paths are in self.dir: path('a') -> DIR/a.sock."""

    BOOL_PROPS = ('vnet_hdr_support',)

    def __init__(self, chardevs=(), objects=()):
        self.dir = tmpdir('cqr')
        extra = []
        for c in chardevs:
            extra += ['-chardev', c.format(dir=self.dir)]
        self.port = StreamPort(extra=extra)
        self.qmp = self.port.qmp
        self.socks = []
        for o in objects:
            typ, *kvs = o.split(',')
            props = dict(kv.split('=', 1) for kv in kvs)
            for k in self.BOOL_PROPS:
                if k in props:
                    props[k] = props[k] == 'on'
            self.qmp.object_add(typ, props.pop('id'), **props)

    def path(self, name):
        return os.path.join(self.dir, name + '.sock')

    def connect(self, name, fid=None, key='in-connected'):
        """Connects to server chardev 'name'; with 'fid', waits until the
        filter's stats show the connection."""
        s = connect_unix(self.path(name), proc=self.port.proxy)
        self.socks.append(s)
        wait_connected(self.qmp, fid, key)
        return s

    def stop(self):
        for s in self.socks:
            s.close()
        self.port.stop()


def wait_connected(qmp, fid, key, want=True):
    if fid is None:
        time.sleep(0.2)
        return
    st = filter_stats(qmp, fid)
    if st is None or key not in st:
        time.sleep(0.2)       # no way to ask: give the accept a moment
        return
    wait_for(lambda: filter_stats(qmp, fid).get(key) == want, 5,
             what=f'{fid} {key}={want}')


def srv(id, name):
    return f'socket,id={id},path={{dir}}/{name}.sock,server=on,wait=off'


def cli(id, name):
    return f'socket,id={id},path={{dir}}/{name}.sock,reconnect=1'


def test_redirector_tx():
    """net -> r0 (outdev A) -> A -> r1 (indev A) -> r2 (outdev B) -> test"""
    need_redirector()
    s = Setup([srv('a_srv', 'a'), cli('a_cli', 'a'), srv('b_srv', 'b')],
              ['filter-redirector,id=r0,netdev=n0,queue=tx,outdev=a_srv',
               'filter-redirector,id=r1,netdev=n0,queue=tx,indev=a_cli',
               'filter-redirector,id=r2,netdev=n0,queue=tx,outdev=b_srv'])
    b = s.connect('b', 'r2', 'out-connected')
    wait_connected(s.qmp, 'r1', 'in-connected')
    hello = b'Hello!!\x00'
    send_frame(s.port.net, hello)
    check_eq(recv_exact(b, 12), frame_bytes(hello), 'redirected bytes')
    expect_no_frame(s.port.guest, 0.3)
    # many frames, byte exact, in order
    frames = [eth_frame(i, 60 + (i * 53) % 1454) for i in range(2000)]
    s.port.net.sendall(b''.join(frame_bytes(f) for f in frames))
    want = b''.join(frame_bytes(f) for f in frames)
    check(recv_exact(b, len(want), timeout=20) == want, 'burst differs')
    st = filter_stats(s.qmp, 'r1')
    if st is not None:
        check_eq(st.get('packets-in'), 2001, 'r1 packets-in')
        check_eq(st.get('injected'), 2001, 'r1 injected')
        check_eq(filter_stats(s.qmp, 'r0').get('packets-out'), 2001,
                 'r0 packets-out')
    s.stop()


def test_redirector_rx():
    """test -> B -> r2 (indev B) -> r1 (outdev A) -> A -> r0 (indev A)
    -> netdev -> net socket (rx walks tail -> head)"""
    need_redirector()
    s = Setup([srv('a_srv', 'a'), cli('a_cli', 'a'), srv('b_srv', 'b')],
              ['filter-redirector,id=r0,netdev=n0,queue=rx,indev=a_srv',
               'filter-redirector,id=r1,netdev=n0,queue=rx,outdev=a_cli',
               'filter-redirector,id=r2,netdev=n0,queue=rx,indev=b_srv'])
    b = s.connect('b', 'r2')
    wait_connected(s.qmp, 'r0', 'in-connected')
    hello = b'Hello!!\x00'
    send_frame(b, hello)
    check_eq(recv_frame(s.port.net), hello, 'rx redirected')
    frames = [eth_frame(i, 60 + (i * 53) % 1454) for i in range(2000)]
    b.sendall(b''.join(frame_bytes(f) for f in frames))
    for i, f in enumerate(frames):
        check_eq(recv_frame(s.port.net), f, f'rx burst frame {i}')
    # the guest's own output is stolen by r1 and comes back through A
    send_frame(s.port.guest, eth_frame(77))
    check_eq(recv_frame(s.port.net), eth_frame(77), 'guest output')
    expect_no_frame(s.port.guest, 0.2)
    s.stop()


def test_redirector_status():
    """QEMU master's redirector_status / init_status_off: status=off stops
    injection (bytes wait, none lost) and stealing."""
    need_redirector()
    for initial in ('on', 'off'):
        s = Setup([srv('b_srv', 'b'), srv('o_srv', 'o')],
                  [f'filter-redirector,id=r0,netdev=n0,queue=tx,'
                   f'indev=b_srv,status={initial}',
                   f'filter-redirector,id=r1,netdev=n0,queue=rx,'
                   f'outdev=o_srv,status={initial}'])
        b = s.connect('b')
        o = s.connect('o', 'r1', 'out-connected')
        if initial == 'on':
            send_frame(b, eth_frame(1))
            check_eq(recv_frame(s.port.guest), eth_frame(1), 'injected')
            send_frame(s.port.guest, eth_frame(2))
            check_eq(recv_frame(o), eth_frame(2), 'stolen')
            s.qmp.qom_set('r0', 'status', 'off')
            s.qmp.qom_set('r1', 'status', 'off')
        check_eq(s.qmp.qom_get('r0', 'status'), 'off', 'status')
        send_frame(b, eth_frame(3))
        expect_no_frame(s.port.guest, 0.5)
        send_frame(s.port.guest, eth_frame(4))
        check_eq(recv_frame(s.port.net), eth_frame(4), 'passes when off')
        expect_no_frame(o, 0.2)
        s.qmp.qom_set('r0', 'status', 'on')
        s.qmp.qom_set('r1', 'status', 'on')
        check_eq(recv_frame(s.port.guest), eth_frame(3),
                 'held frame injected when on')
        send_frame(b, eth_frame(5))
        check_eq(recv_frame(s.port.guest), eth_frame(5), 'injected again')
        send_frame(s.port.guest, eth_frame(6))
        check_eq(recv_frame(o), eth_frame(6), 'stolen again')
        s.stop()


def test_redirector_reconnect():
    """QEMU master's redirector_rx_event_opened (7.2 goes deaf), plus a
    half frame left by the previous connection."""
    need_redirector()
    s = Setup([srv('b_srv', 'b')],
              ['filter-redirector,id=r0,netdev=n0,queue=tx,indev=b_srv'])
    b = s.connect('b', 'r0')
    send_frame(b, b'Hello!!\x00')
    check_eq(recv_frame(s.port.guest), b'Hello!!\x00', 'first connection')
    # leave half a frame behind
    b.sendall(frame_bytes(eth_frame(1, 500))[:200])
    time.sleep(0.1)
    b.close()
    s.socks.remove(b)
    wait_connected(s.qmp, 'r0', 'in-connected', False)
    for round in range(3):
        b = s.connect('b', 'r0')
        send_frame(b, b'Hello2!!\x00')
        check_eq(recv_frame(s.port.guest), b'Hello2!!\x00',
                 f'after reconnect {round}')
        b.close()
        s.socks.remove(b)
        wait_connected(s.qmp, 'r0', 'in-connected', False)
    st = filter_stats(s.qmp, 'r0')
    if st is not None:
        check_eq(st.get('in-connects'), 4, 'in-connects')
        check_eq(st.get('framing-errors'), 0, 'framing-errors')
    s.stop()


def test_redirector_client_reconnect():
    """The COLO secondary's shape: indev is a client chardev with
    reconnect=1 to the primary's mirror (here a socket the test listens
    on).  The primary goes away and comes back, twice; frames flow again
    each time."""
    need_redirector()
    d = tmpdir('cqr')
    lpath = os.path.join(d, 'mirror.sock')
    lsock = unix_listen(lpath)
    s = Setup([f'socket,id=red0,path={lpath},reconnect=1'],
              ['filter-redirector,id=r0,netdev=n0,queue=tx,indev=red0'])
    for round in range(3):
        conn = accept(lsock, 10)
        wait_connected(s.qmp, 'r0', 'in-connected')
        for i in range(5):
            send_frame(conn, eth_frame(round * 10 + i, 300))
        for i in range(5):
            check_eq(recv_frame(s.port.guest), eth_frame(round * 10 + i, 300),
                     f'round {round} frame {i}')
        # leave half a frame behind, then go away
        conn.sendall(frame_bytes(eth_frame(99, 300))[:100])
        time.sleep(0.05)
        conn.close()
        wait_connected(s.qmp, 'r0', 'in-connected', False)
    st = filter_stats(s.qmp, 'r0')
    if st is not None:
        check_eq(st.get('in-connects'), 3, 'in-connects')
        check_eq(st.get('in-disconnects'), 3, 'in-disconnects')
        check_eq(st.get('packets-in'), 15, 'packets-in')
    lsock.close()
    s.stop()


def test_redirector_garbage():
    """Zero length, oversize and bad vnet_hdr_len: the connection is
    dropped with a warning, counted, and the next one works."""
    need_redirector()
    s = Setup([srv('b_srv', 'b'), srv('v_srv', 'v')],
              ['filter-redirector,id=r0,netdev=n0,queue=tx,indev=b_srv',
               'filter-redirector,id=r1,netdev=n0,queue=tx,indev=v_srv,'
               'vnet_hdr_support=on'])
    bad = [(b'b', 'r0', b'\x00\x00\x00\x00'),
           (b'b', 'r0', b'\x00\x01\x10\x01' + b'x' * 100),   # 69633
           (b'v', 'r1', b'\x00\x00\x00\x10\x00\x00\x00\x20' + b'x' * 16)]
    for n, (name, fid, garbage) in enumerate(bad):
        sock = s.connect(name.decode(), fid)
        sock.sendall(garbage)
        sock.settimeout(5)
        try:
            d = sock.recv(100)
        except ConnectionResetError:
            d = b''
        check_eq(d, b'', f'garbage {n}: proxy closed the connection')
        sock.close()
        s.socks.remove(sock)
        wait_connected(s.qmp, fid, 'in-connected', False)
        sock = s.connect(name.decode(), fid)
        vnet = 0 if name == b'v' else None
        send_frame(sock, eth_frame(n), vnet)
        check_eq(recv_frame(s.port.guest), eth_frame(n),
                 f'frame after garbage {n}')
        sock.close()
        s.socks.remove(sock)
        wait_connected(s.qmp, fid, 'in-connected', False)
    st0, st1 = filter_stats(s.qmp, 'r0'), filter_stats(s.qmp, 'r1')
    if st0 is not None:
        check_eq(st0.get('framing-errors'), 2, 'r0 framing-errors')
        check_eq(st1.get('framing-errors'), 1, 'r1 framing-errors')
    check(s.port.proxy.alive(), 'proxy alive')
    err = s.port.proxy.stderr()
    check('vnet_hdr_support' in err, 'warning names vnet_hdr_support')
    s.stop()


def test_redirector_vnet():
    """vnet framing in (8-byte header parsed, payload injected unchanged)
    and out (the netdev's vnet_hdr_len, 0 here, after the length)."""
    need_redirector()
    s = Setup([srv('i_srv', 'i'), srv('o_srv', 'o')],
              ['filter-redirector,id=r0,netdev=n0,queue=tx,indev=i_srv,'
               'vnet_hdr_support=on',
               'filter-redirector,id=r1,netdev=n0,queue=rx,outdev=o_srv,'
               'vnet_hdr_support=on'])
    i = s.connect('i', 'r0')
    o = s.connect('o', 'r1', 'out-connected')
    f = eth_frame(5, 60)
    send_frame(i, f, vnet=0)
    check_eq(recv_frame(s.port.guest), f, 'vnet frame injected')
    send_frame(s.port.guest, f)
    check_eq(recv_exact(o, 68), bytes.fromhex('0000003c00000000') + f,
             'vnet frame written')
    # a vnet_hdr_len that does not match the netdev's: injected unchanged
    # (QEMU ignores the field), counted
    send_frame(i, f, vnet=10)
    check_eq(recv_frame(s.port.guest), f, 'mismatched vnet injected')
    st = filter_stats(s.qmp, 'r0')
    if st is not None:
        check_eq(st.get('vnet-mismatch'), 1, 'vnet-mismatch')
    s.stop()


def test_redirector_queue_all():
    """indev with queue=all injects each frame both ways, as QEMU."""
    need_redirector()
    s = Setup([srv('b_srv', 'b')],
              ['filter-redirector,id=r0,netdev=n0,queue=all,indev=b_srv'])
    b = s.connect('b', 'r0')
    send_frame(b, eth_frame(9))
    check_eq(recv_frame(s.port.guest), eth_frame(9), 'toward the guest')
    check_eq(recv_frame(s.port.net), eth_frame(9), 'toward the backend')
    st = filter_stats(s.qmp, 'r0')
    if st is not None:
        check_eq(st.get('packets-in'), 1, 'packets-in')
        check_eq(st.get('injected'), 2, 'injected')
    s.stop()


def test_redirector_outdev_down():
    """outdev with no peer, then a peer that does not read: frames are
    stolen and dropped (counted by reason), no queue grows, QMP answers."""
    need_redirector()
    s = Setup([srv('o_srv', 'o') + ',out-buffer-size=131072'],
              ['filter-redirector,id=r0,netdev=n0,queue=tx,outdev=o_srv'])
    for i in range(50):
        send_frame(s.port.net, eth_frame(i))
    expect_no_frame(s.port.guest, 0.3)
    st = filter_stats(s.qmp, 'r0')
    if st is not None:
        check_eq(st.get('drop-disconnected'), 50, 'drop-disconnected')
    o = s.connect('o', 'r0', 'out-connected')
    o.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rss0, _ = s.port.proxy.rss()
    chunk = b''.join(frame_bytes(eth_frame(i, 1514)) for i in range(256))
    worst = 0.0
    for n in range(80):
        s.port.net.sendall(chunk)
        if n % 8 == 0:
            worst = max(worst, qmp_latency(s.qmp))
    worst = max(worst, qmp_latency(s.qmp))
    check(worst < 0.1, f'QMP answered in {worst * 1000:.0f} ms')
    rss1, _ = s.port.proxy.rss()
    check(rss1 - rss0 < 64 << 20, 'RSS grew by more than 64 MiB')
    if st is not None:
        st = wait_for(lambda: (lambda x: x if x.get('packets-out', 0) +
                               x.get('drop-buffer-full', 0) >= 80 * 256
                               else None)(filter_stats(s.qmp, 'r0')), 10,
                      what='all frames accounted')
        check(st.get('drop-buffer-full') > 0, 'drop-buffer-full')
        check(st.get('out-queued', 0) <= 131072, 'out-queued bounded')
    # reading again: whole frames
    d = Drain(o)
    wait_for(lambda: d.frames > 0, 10, what='buffered frames')
    send_frame(s.port.net, eth_frame(999, 100))
    wait_for(lambda: d.last == eth_frame(999, 100), 10, what='new frame')
    check(d.bad is None, f'stream garbled: {d.bad}')
    d.stop_flag = True
    s.stop()


def netdev_counters(qmp, cid):
    ret = qmp_try(qmp, 'query-netdev-stats') or []
    for e in ret:
        if e.get('id') == cid:
            flat = dict(e)
            for v in e.values():
                if isinstance(v, dict):
                    flat.update(v)
            return flat
    return None


def test_redirector_backpressure():
    """A guest that does not read: the redirector stops reading indev
    (the sender blocks) instead of overflowing the device's queue; once
    the guest reads, every frame arrives, in order."""
    need_redirector()
    import threading
    s = Setup([srv('b_srv', 'b')],
              ['filter-redirector,id=r0,netdev=n0,queue=tx,indev=b_srv'])
    b = s.connect('b', 'r0')
    n = 30000
    frames = [eth_frame(i, 1000) for i in range(n)]
    wire = b''.join(frame_bytes(f) for f in frames)
    done = threading.Event()

    def sender():
        b.sendall(wire)
        done.set()

    threading.Thread(target=sender, daemon=True).start()
    time.sleep(1.0)
    check(not done.is_set(), 'the sender was not back-pressured')
    st = filter_stats(s.qmp, 'r0')
    if st is not None:
        check(st.get('in-throttled', 0) >= 1, 'in-throttled')
    check_eq(qmp_latency(s.qmp) < 0.1, True, 'QMP responsive')
    d = Drain(s.port.guest)
    wait_for(lambda: d.frames >= n, 30, what=f'{n} frames at the guest')
    check(done.wait(10), 'sender finished')
    check_eq(d.last, frames[-1], 'last frame')
    check(d.bad is None, f'stream garbled: {d.bad}')
    c = netdev_counters(s.qmp, 'd0')
    if c is not None:
        check_eq(c.get('drop-queue-full', 0), 0, 'device queue drops')
    st = filter_stats(s.qmp, 'r0')
    if st is not None:
        check_eq(st.get('packets-in'), n, 'packets-in')
    d.stop_flag = True
    s.stop()


def test_redirector_options():
    need_redirector()
    s = Setup([srv('c0', 'c0'), srv('c1', 'c1')])
    q = s.qmp
    e = expect_qmp_error(q.object_add, 'filter-redirector', 'r0',
                         netdev='n0')
    check_eq(e.desc, "filter redirector needs 'indev' or 'outdev' at "
             "least one property set", 'none set')
    e = expect_qmp_error(q.object_add, 'filter-redirector', 'r0',
                         netdev='n0', indev='c0', outdev='c0')
    check_eq(e.desc, "'indev' and 'outdev' could not be same for filter "
             "redirector", 'same')
    e = expect_qmp_error(q.object_add, 'filter-redirector', 'r0',
                         netdev='n0', indev='nope', cls='DeviceNotFound')
    check_eq(e.desc, "Parameter 'indev': IN Device 'nope' not found",
             'indev missing')
    e = expect_qmp_error(q.object_add, 'filter-redirector', 'r0',
                         netdev='n0', indev='c0', outdev='nope',
                         cls='DeviceNotFound')
    check_eq(e.desc, "Parameter 'outdev': OUT Device 'nope' not found",
             'outdev missing')
    # the failed attempt released c0
    q.object_add('filter-redirector', 'r0', netdev='n0', indev='c0',
                 outdev='c1')
    check_eq(q.qom_get('r0', 'indev'), 'c0', 'qom-get indev')
    check_eq(q.qom_get('r0', 'outdev'), 'c1', 'qom-get outdev')
    q.object_del('r0')
    q.object_add('filter-redirector', 'r1', netdev='n0', outdev='c0')
    q.object_del('r1')
    s.stop()


if __name__ == '__main__':
    run_tests([test_redirector_tx, test_redirector_rx, test_redirector_status,
               test_redirector_reconnect, test_redirector_client_reconnect,
               test_redirector_garbage,
               test_redirector_vnet, test_redirector_queue_all,
               test_redirector_outdev_down, test_redirector_backpressure,
               test_redirector_options])
