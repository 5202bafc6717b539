#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_mirror - filter-mirror end to end (net/filter-mirror.c).

The test plays the network (-netdev stream n0), the guest (-device stream
d0) and the secondary: a socket chardev 'mirror0' that the test connects
to as the mirror's outdev.  It checks:

  - the framing byte for byte (QEMU's /netfilter/mirror, more sizes, all
    three queue values, vnet_hdr_support);
  - QEMU's option errors;
  - status on/off at runtime and at creation;
  - never stalling: a secondary that stops reading does not slow the
    primary (every frame still reaches the guest), QMP answers within
    100 ms, RSS stays bounded, the drops are counted by reason and the
    input-lost episode is reported once (QMP event) and ends when copies
    flow again;
  - an unconnected / disconnected secondary: counted, reported, and a new
    connection gets frames again starting on a frame boundary.
"""

import os
import socket
import threading
import time

from coloqtest import *

MIRROR_BUF = 256 * 1024        # out-buffer-size of the mirror chardev in
                               # the stall tests (small: fills quickly)


def need_mirror():
    need_types('stream', option='-netdev')
    need_types('stream', option='-device')
    need_types('filter-mirror')


def filter_stats(qmp, fid):
    """The counters of filter 'fid' from query-netfilter-stats (whatever
    its exact shape: the object carrying "id": fid), or None when the
    command does not exist yet."""
    ret = qmp_try(qmp, 'query-netfilter-stats')
    if ret is None:
        return None

    def find(o):
        if isinstance(o, dict):
            if o.get('id') == fid or o.get('name') == fid:
                return o
            for v in o.values():
                r = find(v)
                if r is not None:
                    return r
        elif isinstance(o, list):
            for v in o:
                r = find(v)
                if r is not None:
                    return r
        return None

    st = find(ret)
    check(st is not None, f'no stats for {fid} in {ret!r:.300}')
    # the counters may be nested under a member of their own
    for k in ('stats', 'counters'):
        if isinstance(st.get(k), dict):
            merged = dict(st)
            merged.update(st[k])
            return merged
    return st


class MirrorSetup:
    """A StreamPort plus a chardev server 'mirror0' and filter-mirror m0
    on n0 (created over QMP so that options can vary)."""

    def __init__(self, queue='tx', vnet=False, status=None, connect=True,
                 chardev_extra='', netdev_extra='', **more):
        self.port = StreamPort(extra=self._chardev(chardev_extra))
        self.qmp = self.port.qmp
        props = {'netdev': 'n0', 'queue': queue, 'outdev': 'mirror0'}
        if vnet:
            props['vnet_hdr_support'] = True
        if status is not None:
            props['status'] = status
        props.update({k.replace('_', '-'): v for k, v in more.items()})
        self.qmp.object_add('filter-mirror', 'm0', **props)
        self.sec = None
        if connect:
            self.connect()

    def _chardev(self, extra):
        self.dir = tmpdir('cqm')
        self.mirror_path = os.path.join(self.dir, 'mirror.sock')
        return ['-chardev', chardev_unix('mirror0', self.mirror_path,
                                         extra=extra)]

    def connect(self):
        self.sec = connect_unix(self.mirror_path, proc=self.port.proxy)
        # the accept is asynchronous: wait until the proxy sees the peer
        wait_for(lambda: self._connected(), 5, what='mirror0 connected')
        return self.sec

    def _connected(self):
        st = filter_stats(self.qmp, 'm0')
        if st is not None and 'out-connected' in st:
            return st['out-connected']
        time.sleep(0.2)         # no way to ask: give the accept a moment
        return True

    def stop(self):
        if self.sec:
            self.sec.close()
        self.port.stop()


def test_mirror_framing_tx():
    """QEMU's /netfilter/mirror and more: every size, byte for byte."""
    need_mirror()
    s = MirrorSetup(queue='tx')
    # the probe frame of StreamPort went before the mirror existed
    sizes = [1, 22, 60, 64, 1514, 9000, 65536, 69632]
    want = b''
    for i, size in enumerate(sizes):
        f = eth_frame(i, size)[:size]
        send_frame(s.port.net, f)
        check_eq(recv_frame(s.port.guest), f, f'net->guest {size}')
        want += frame_bytes(f)
    got = recv_exact(s.sec, len(want))
    check(got == want, 'mirror stream differs from QEMU framing')
    # rx frames are not mirrored with queue=tx
    send_frame(s.port.guest, eth_frame(99))
    check_eq(recv_frame(s.port.net), eth_frame(99), 'rx passes')
    expect_no_frame(s.sec, 0.3)
    # a burst: order and exact bytes (the guest reads as it comes: a copy
    # leaves once the guest's end has read its frame, copy-on-read)
    frames = [eth_frame(1000 + i, 60 + (i * 37) % 1454) for i in range(3000)]
    guest = Drain(s.port.guest, keep=True)
    s.port.net.sendall(b''.join(frame_bytes(f) for f in frames))
    want = b''.join(frame_bytes(f) for f in frames)
    got = recv_exact(s.sec, len(want), timeout=20)
    check(got == want, 'burst mirror stream differs')
    wait_for(lambda: guest.frames >= len(frames), 10, what='burst to guest')
    guest.stop_flag = True
    guest.join()
    for i, f in enumerate(frames):
        check_eq(guest.kept[i], f, f'burst frame {i} to guest')
    st = filter_stats(s.qmp, 'm0')
    if st is not None:
        check_eq(st.get('packets-out'), len(sizes) + len(frames),
                 'packets-out')
        check_eq(st.get('drop-buffer-full'), 0, 'drop-buffer-full')
        check_eq(st.get('drop-disconnected'), 0, 'drop-disconnected')
    s.stop()


def test_mirror_queue_rx_and_all():
    need_mirror()
    for queue in ('rx', 'all'):
        s = MirrorSetup(queue=queue)
        a, b = eth_frame(1, 100), eth_frame(2, 200)
        send_frame(s.port.guest, a)               # rx
        check_eq(recv_frame(s.port.net), a, f'{queue}: rx forwarded')
        check_eq(recv_frame(s.sec), a, f'{queue}: rx mirrored')
        send_frame(s.port.net, b)                 # tx
        check_eq(recv_frame(s.port.guest), b, f'{queue}: tx forwarded')
        if queue == 'all':
            check_eq(recv_frame(s.sec), b, 'all: tx mirrored')
        else:
            expect_no_frame(s.sec, 0.3)
        s.stop()


def test_mirror_vnet():
    """vnet_hdr_support=on adds the netdev's vnet_hdr_len (0 for a plain
    stream netdev): 00 00 00 3c 00 00 00 00 + 60 bytes, as QEMU."""
    need_mirror()
    s = MirrorSetup(queue='tx', vnet=True)
    f = eth_frame(7, 60)
    send_frame(s.port.net, f)
    check_eq(recv_frame(s.port.guest), f, 'forwarded')
    got = recv_exact(s.sec, 68)
    check_eq(got[:8], bytes.fromhex('0000003c00000000'), 'vnet header')
    check_eq(got[8:], f, 'payload')
    check_eq(s.qmp.qom_get('m0', 'vnet_hdr_support'), True,
             'qom-get vnet_hdr_support')
    s.stop()


def test_mirror_options():
    need_mirror()
    port = StreamPort(extra=['-chardev', chardev_unix(
        'c0', os.path.join(tmpdir('cqm'), 'c0.sock'))])
    q = port.qmp
    expect_qmp_error(q.object_add, 'filter-mirror', 'm0', netdev='n0',
                     contains="'outdev'")
    e = expect_qmp_error(q.object_add, 'filter-mirror', 'm0', netdev='n0',
                         outdev='nope', cls='DeviceNotFound')
    check_eq(e.desc, "Parameter 'outdev': Device 'nope' not found",
             'error text')
    expect_qmp_error(q.object_add, 'filter-mirror', 'm0', netdev='n0',
                     outdev='', contains="cannot be empty")
    expect_qmp_error(q.object_add, 'filter-mirror', 'm0', netdev='nope',
                     outdev='c0',
                     contains='expects a network backend id')
    # nothing was left behind: the same id and chardev work now
    q.object_add('filter-mirror', 'm0', netdev='n0', outdev='c0')
    check_eq(q.qom_get('m0', 'outdev'), 'c0', 'qom-get outdev')
    check_eq(q.qom_get('m0', 'vnet_hdr_support'), False, 'default vnet')
    # a chardev serves one frontend
    expect_qmp_error(q.object_add, 'filter-mirror', 'm1', netdev='n0',
                     outdev='c0', contains='in use')
    q.object_del('m0')
    q.object_add('filter-mirror', 'm1', netdev='n0', outdev='c0')
    q.object_del('m1')
    port.stop()


def test_mirror_status():
    need_mirror()
    for initial in ('on', 'off'):
        s = MirrorSetup(queue='tx', status=initial)
        f = eth_frame(1)
        if initial == 'on':
            send_frame(s.port.net, f)
            check_eq(recv_frame(s.port.guest), f, 'forwarded')
            check_eq(recv_frame(s.sec), f, 'mirrored')
            s.qmp.qom_set('m0', 'status', 'off')
        send_frame(s.port.net, eth_frame(2))
        check_eq(recv_frame(s.port.guest), eth_frame(2), 'forwarded (off)')
        expect_no_frame(s.sec, 0.3)
        s.qmp.qom_set('m0', 'status', 'on')
        send_frame(s.port.net, eth_frame(3))
        check_eq(recv_frame(s.port.guest), eth_frame(3), 'forwarded (on)')
        check_eq(recv_frame(s.sec), eth_frame(3), 'mirrored again')
        s.stop()


class Drain(threading.Thread):
    """Reads frames from a socket in the background and counts them."""

    def __init__(self, sock, keep=False):
        super().__init__(daemon=True)
        self.sock = sock
        self.reader = FrameReader()
        self.kept = [] if keep else None
        self.frames = 0
        self.last = None
        self.bad = None
        self.stop_flag = False
        self.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop_flag:
            try:
                d = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            if not d:
                return
            try:
                fs = self.reader.feed(d)
            except ValueError as e:
                self.bad = str(e)
                return
            if fs:
                if self.kept is not None:
                    self.kept.extend(fs)
                self.frames += len(fs)
                self.last = fs[-1]


def qmp_latency(qmp):
    t = time.monotonic()
    qmp.cmd('query-version')
    return time.monotonic() - t


def test_mirror_stuck_secondary():
    """The secondary connects and never reads.  QEMU 7.2 stalls its main
    loop (QMP silent for seconds, 92 of 10000 frames forwarded); we drop
    the copies, count them and keep forwarding at full rate."""
    need_mirror()
    s = MirrorSetup(queue='tx',
                    chardev_extra=f'out-buffer-size={MIRROR_BUF}')
    s.sec.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    drain = Drain(s.port.guest)
    rss0, _ = s.port.proxy.rss()

    n, size = 160 * 256, 1514
    frames = [eth_frame(i, size) for i in range(256)]
    chunk = b''.join(frame_bytes(f) for f in frames)
    worst = 0.0
    sent = 0
    t0 = time.monotonic()
    while sent < n:
        s.port.net.sendall(chunk)
        sent += len(frames)
        if sent % 2048 == 0:
            worst = max(worst, qmp_latency(s.qmp))
    wait_for(lambda: drain.frames >= n + 0, 30,
             what=f'{n} frames at the guest (got {drain.frames})')
    elapsed = time.monotonic() - t0
    check(drain.bad is None, f'guest stream garbled: {drain.bad}')
    for _ in range(20):
        worst = max(worst, qmp_latency(s.qmp))
    log(f'forwarded {n} x {size} B in {elapsed:.2f}s '
        f'({n / elapsed:.0f} frames/s), worst QMP latency '
        f'{worst * 1000:.1f} ms')
    check(worst < 0.1, f'QMP answered in {worst * 1000:.0f} ms (> 100 ms)')

    rss1, hwm = s.port.proxy.rss()
    log(f'RSS {rss0 >> 10} KiB -> {rss1 >> 10} KiB (peak {hwm >> 10} KiB)')
    check(rss1 - rss0 < 64 << 20, 'RSS grew by more than 64 MiB')

    ev = s.qmp.get_event('COLO_MIRROR_INPUT_LOST', timeout=5)
    check_eq(ev['data']['id'], 'm0', 'event id')
    check_eq(ev['data']['reason'], 'buffer-full', 'event reason')
    check(ev['data']['dropped'] >= 1, 'event dropped count')
    st = filter_stats(s.qmp, 'm0')
    if st is not None:
        drops = st.get('drop-buffer-full', 0)
        log(f'stats: {st}')
        check(drops > 0, 'drop-buffer-full not counted')
        check_eq(st.get('packets-out', 0) + drops, n, 'copies + drops')
        check_eq(st.get('input-lost'), True, 'input-lost')
        check_eq(st.get('lost-episodes'), 1, 'one episode')
    # only one event per episode
    try:
        ev2 = s.qmp.get_event('COLO_MIRROR_INPUT_LOST', timeout=0.3)
        raise TestFailure(f'second LOST event in one episode: {ev2}')
    except TimeoutError:
        pass

    # the secondary reads again: the buffered copies arrive whole, then
    # new copies are delivered and the episode ends
    mreader = Drain(s.sec)
    wait_for(lambda: mreader.frames > 0, 10, what='buffered copies')
    time.sleep(0.3)
    send_frame(s.port.net, eth_frame(424242))
    ev = s.qmp.get_event('COLO_MIRROR_INPUT_RESTORED', timeout=5)
    check_eq(ev['data']['id'], 'm0', 'restored id')
    check(ev['data']['dropped'] > 0, 'restored dropped')
    wait_for(lambda: mreader.last == eth_frame(424242), 5,
             what='new copy after the episode')
    check(mreader.bad is None, f'mirror stream garbled: {mreader.bad}')
    drain.stop_flag = mreader.stop_flag = True
    s.stop()


def test_mirror_disconnected():
    """No secondary yet: copies are dropped (counted), the episode is
    reported; a secondary that connects gets the next frames; one that
    leaves starts a new episode."""
    need_mirror()
    s = MirrorSetup(queue='tx', connect=False)
    for i in range(10):
        send_frame(s.port.net, eth_frame(i))
        check_eq(recv_frame(s.port.guest), eth_frame(i), 'forwarded')
    ev = s.qmp.get_event('COLO_MIRROR_INPUT_LOST', timeout=5)
    check_eq(ev['data']['reason'], 'disconnected', 'reason')
    st = filter_stats(s.qmp, 'm0')
    if st is not None:
        check_eq(st.get('drop-disconnected'), 10, 'drop-disconnected')
    s.connect()
    send_frame(s.port.net, eth_frame(100))
    check_eq(recv_frame(s.port.guest), eth_frame(100), 'forwarded')
    check_eq(recv_frame(s.sec), eth_frame(100), 'first copy')
    ev = s.qmp.get_event('COLO_MIRROR_INPUT_RESTORED', timeout=5)
    check_eq(ev['data']['dropped'], 10, 'restored dropped')
    # the secondary leaves: a new episode at once
    s.sec.close()
    s.sec = None
    ev = s.qmp.get_event('COLO_MIRROR_INPUT_LOST', timeout=5)
    check_eq(ev['data']['reason'], 'disconnected', 'reason after close')
    # reconnect: next frames arrive, framed from a boundary
    sec = s.connect()
    for i in range(200, 205):
        send_frame(s.port.net, eth_frame(i, 1000))
        check_eq(recv_frame(s.port.guest), eth_frame(i, 1000), 'forwarded')
    for i in range(200, 205):
        check_eq(recv_frame(sec), eth_frame(i, 1000), f'copy {i} after '
                 'reconnect')
    s.qmp.get_event('COLO_MIRROR_INPUT_RESTORED', timeout=5)
    st = filter_stats(s.qmp, 'm0')
    if st is not None:
        check(st.get('out-connects', 0) >= 2, 'out-connects counted')
        check_eq(st.get('input-lost'), False, 'input-lost')
    s.stop()


def test_mirror_object_del_under_load():
    """object-del while frames flow: no crash, forwarding continues."""
    need_mirror()
    s = MirrorSetup(queue='all')
    drain = Drain(s.port.guest)
    m = Drain(s.sec)
    chunk = b''.join(frame_bytes(eth_frame(i, 600)) for i in range(200))
    for _ in range(20):
        s.port.net.sendall(chunk)
    s.qmp.object_del('m0')
    for _ in range(20):
        s.port.net.sendall(chunk)
    wait_for(lambda: drain.frames >= 8000, 20, what='all frames forwarded')
    check(m.bad is None, f'mirror stream garbled: {m.bad}')
    drain.stop_flag = m.stop_flag = True
    s.stop()


def test_mirror_copy_on_read():
    """copy-on-read: a copy of a frame going to the guest leaves once the
    guest's end (QEMU) has read the frame from the -device stream's unix
    socket, never before (the secondary must not take in a frame the
    primary has not: filter-rewriter's and filter-mirror's comments say
    why); off: at once.  Frames the other way go at once; a guest end that
    leaves lets its held copies go; the limit is counted."""
    need_mirror()
    s = MirrorSetup(queue='all')
    for i in range(3):
        send_frame(s.port.net, eth_frame(i, 200 + i))
    expect_no_frame(s.sec, 0.5)
    st = filter_stats(s.qmp, 'm0')
    check_eq(st.get('copies-held'), 3, 'copies-held while unread')
    check_eq(st.get('packets-out'), 0, 'nothing copied while unread')
    # the other way: at once (the netdev's end cannot tell; nothing held
    # before it... but three are: it waits behind them, in order)
    send_frame(s.port.guest, eth_frame(50))
    check_eq(recv_frame(s.port.net), eth_frame(50), 'rx passes')
    expect_no_frame(s.sec, 0.3)
    # the guest reads: every copy follows, in order
    for i in range(3):
        check_eq(recv_frame(s.port.guest), eth_frame(i, 200 + i), 'to guest')
    for i in range(3):
        check_eq(recv_frame(s.sec), eth_frame(i, 200 + i), f'copy {i}')
    check_eq(recv_frame(s.sec), eth_frame(50), 'rx copy after them')
    # nothing held: rx goes at once
    send_frame(s.port.guest, eth_frame(51))
    check_eq(recv_frame(s.port.net), eth_frame(51), 'rx passes')
    check_eq(recv_frame(s.sec), eth_frame(51), 'rx copy at once')
    st = filter_stats(s.qmp, 'm0')
    check_eq(st.get('copies-held'), 0, 'copies-held after read')
    check_eq(st.get('copies-after-read'), 4, 'copies-after-read')
    check(st.get('read-wait-max-us', 0) >= 400000, f'read-wait-max-us {st}')
    w = st.get('read-wait', {})
    check(w.get('count', 0) >= 1 and w.get('sum-us', 0) >= 400000,
          f'read-wait histogram: {w}')
    ns = qmp_try(s.qmp, 'query-netdev-stats')
    check('read-receipts' in repr(ns), 'read-receipts in query-netdev-stats')
    # the guest's end leaves with frames unread: their copies go
    send_frame(s.port.net, eth_frame(60, 300))
    expect_no_frame(s.sec, 0.3)
    s.port.guest.close()
    s.port.guest = None
    check_eq(recv_frame(s.sec), eth_frame(60, 300), 'copy when the guest left')
    # a new guest end (the same fd number, likely): copies wait for it
    s.port.guest = connect_unix(s.port.guest_path, proc=s.port.proxy)
    wait_for(lambda: any(n.get('id') == 'd0' and
                         n['backend'].get('connects') == 2 and
                         n['backend'].get('connected')
                         for n in qmp_try(s.qmp, 'query-netdev-stats')),
             5, what='the new guest end connected')
    for i in range(2):
        send_frame(s.port.net, eth_frame(70 + i, 400))
        expect_no_frame(s.sec, 0.3)
        check_eq(recv_frame(s.port.guest), eth_frame(70 + i, 400), 'to guest')
        check_eq(recv_frame(s.sec), eth_frame(70 + i, 400),
                 'copy after the new guest end read')
    s.stop()

    # copies leave as the guest end reads, not only once it has read
    # everything: a guest that never catches up (a flood into it) still
    # gets its copies to the secondary, each after its frame was read
    s = MirrorSetup(queue='tx')
    frames = [eth_frame(90 + i, 600) for i in range(5)]
    for f in frames:
        send_frame(s.port.net, f)
        time.sleep(0.05)        # one write, one message, each
    expect_no_frame(s.sec, 0.3)
    got = recv_exact(s.port.guest, 2 * (4 + len(frames[0])))
    check_eq(got, b''.join(frame_bytes(f) for f in frames[:2]),
             'the first two frames, read')
    for i in range(2):
        check_eq(recv_frame(s.sec), frames[i], f'copy {i} after its read')
    expect_no_frame(s.sec, 0.3)
    st = filter_stats(s.qmp, 'm0')
    check_eq(st.get('copies-held'), 3, 'the unread ones still held')
    check_eq(st.get('copies-after-read'), 2, 'copies-after-read so far')
    ns = [n for n in qmp_try(s.qmp, 'query-netdev-stats') if n.get('id') == 'd0']
    check(ns and ns[0]['backend'].get('read-progress', 0) >= 1,
          f'read-progress: {ns}')
    for i in range(2, 5):
        check_eq(recv_frame(s.port.guest), frames[i], 'to guest')
    for i in range(2, 5):
        check_eq(recv_frame(s.sec), frames[i], f'copy {i}')
    s.stop()

    # an input-lost episode ends when copies flow again, i.e. when the
    # first copy is held for a secondary that is connected, not when the
    # guest end next reads (seconds, for a guest whose NIC is not up yet)
    s = MirrorSetup(queue='tx', connect=False)
    send_frame(s.port.net, eth_frame(80))
    check_eq(recv_frame(s.port.guest), eth_frame(80), 'forwarded')
    s.qmp.get_event('COLO_MIRROR_INPUT_LOST', timeout=5)
    s.connect()
    send_frame(s.port.net, eth_frame(81))
    ev = s.qmp.get_event('COLO_MIRROR_INPUT_RESTORED', timeout=2)
    check_eq(ev['data']['dropped'], 1, 'restored: copies lost')
    expect_no_frame(s.sec, 0.3)
    check_eq(recv_frame(s.port.guest), eth_frame(81), 'forwarded')
    check_eq(recv_frame(s.sec), eth_frame(81), 'copy once read')
    s.stop()

    # off: at once, whether or not the guest reads
    s = MirrorSetup(queue='tx', copy_on_read=False)
    send_frame(s.port.net, eth_frame(7))
    check_eq(recv_frame(s.sec), eth_frame(7), 'copy-on-read=off: at once')
    check_eq(recv_frame(s.port.guest), eth_frame(7), 'to guest')
    s.stop()

    # the limit: a guest end that does not read gets its copies sent
    # unread, counted
    s = MirrorSetup(queue='tx', copy_on_read_limit=65536)
    m = Drain(s.sec)
    for i in range(100):
        send_frame(s.port.net, eth_frame(i, 1000))
    wait_for(lambda: m.frames >= 60, 10, what='copies past the limit')
    st = filter_stats(s.qmp, 'm0')
    check(st.get('copy-on-read-overflows', 0) >= 1, f'overflows: {st}')
    # counted as what they are: sent unread, not after a read
    check(st.get('copies-unread', 0) >= 40, f'copies-unread: {st}')
    check_eq(st.get('copies-after-read', 0) + st.get('copies-unread', 0) +
             st.get('copies-held', 0), 100, 'every copy counted once')
    m.stop_flag = True
    s.stop()
    # a frame bigger than the limit on its own: its copy goes at once,
    # unread, and nothing is left waiting
    s = MirrorSetup(queue='tx', copy_on_read_limit=65536)
    big = eth_frame(5, 66000)
    send_frame(s.port.net, big)
    check_eq(recv_frame(s.sec), big, 'a copy bigger than the limit: at once')
    check_eq(recv_frame(s.port.guest), big, 'to guest')
    st = filter_stats(s.qmp, 'm0')
    check_eq((st.get('copies-unread'), st.get('copies-held')), (1, 0),
             'copies-unread, copies-held')
    send_frame(s.port.net, eth_frame(6, 200))
    expect_no_frame(s.sec, 0.3)
    check_eq(recv_frame(s.port.guest), eth_frame(6, 200), 'to guest')
    check_eq(recv_frame(s.sec), eth_frame(6, 200), 'the next one waits')
    s.stop()
    # the limit's bounds are errors naming the property
    s = MirrorSetup(queue='tx', connect=False)
    expect_qmp_error(s.qmp.object_add, 'filter-mirror', 'mx', netdev='n0',
                     outdev='mirror0', contains='copy-on-read-limit',
                     **{'copy-on-read-limit': 100})
    s.stop()


if __name__ == '__main__':
    run_tests([test_mirror_framing_tx, test_mirror_queue_rx_and_all,
               test_mirror_vnet, test_mirror_options, test_mirror_status,
               test_mirror_stuck_secondary, test_mirror_disconnected,
               test_mirror_object_del_under_load, test_mirror_copy_on_read])
