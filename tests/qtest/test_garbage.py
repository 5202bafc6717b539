#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_garbage - random bytes into every framed input of colo-proxy.

Streams random bytes (default 1 GiB, or until a time cap per phase) into:

  A. a -netdev stream (the network side of a port),
  B. a -device stream (the guest side),
  C. a chardev consumed by a filter-redirector indev (once that exists),
  D. validly framed frames of random content and size (the reader must
     forward them, not choke),

and checks, for each: the process never dies, its memory stays under
RSS_LIMIT (VmHWM, stated in the output), framing errors are counted
(query-netdev-stats / query-netfilter-stats where they exist), the log is
rate-limited, and a new connection afterwards carries frames byte-exact.

The proxy drops a connection on a framing error (include/net/link-framing.h), so
the test reconnects and goes on; the volume is what the kernel accepted
into the link.  Environment:

  COLO_GARBAGE_BYTES     volume per phase (default 1073741824)
  COLO_GARBAGE_SECONDS   time cap per phase (default 10)
  COLO_GARBAGE_RSS_MIB   the RSS bound (default 64)
"""

import errno
import os
import socket
import threading
import time

from coloqtest import *

VOLUME = int(os.environ.get('COLO_GARBAGE_BYTES', 1 << 30))
SECONDS = float(os.environ.get('COLO_GARBAGE_SECONDS', 10))
RSS_LIMIT = int(os.environ.get('COLO_GARBAGE_RSS_MIB', 64)) << 20
CHUNK = 256 * 1024
POOL = os.urandom(8 << 20)


def chunks(rng_seed):
    """Endless random chunks (slices of a random pool at random offsets,
    so the stream never repeats in step with the reader)."""
    import random
    r = random.Random(rng_seed)
    while True:
        off = r.randrange(0, len(POOL) - CHUNK)
        yield memoryview(POOL)[off:off + CHUNK]


def find_counters(obj, words, path=''):
    """{path: value} of the numeric fields whose name contains one of
    'words', anywhere in a QMP reply."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f'{path}.{k}' if path else k
            if isinstance(v, (int, float)) and not isinstance(v, bool) and \
                    any(w in k for w in words):
                out[p] = v
            else:
                out.update(find_counters(v, words, p))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(find_counters(v, words, f'{path}[{i}]'))
    return out


class Flood:
    """Pushes random bytes into a unix socket path, reconnecting whenever
    the proxy drops the connection, until VOLUME bytes or SECONDS."""

    def __init__(self, proxy, path, label, seed=1):
        self.proxy = proxy
        self.path = path
        self.label = label
        self.seed = seed
        self.sent = 0
        self.connections = 0
        self.drops = 0
        self.max_rss = 0

    def sample(self):
        rss, hwm = self.proxy.rss()
        self.max_rss = max(self.max_rss, rss)
        check(hwm <= RSS_LIMIT, f'{self.label}: VmHWM {hwm >> 20} MiB over '
              f'the {RSS_LIMIT >> 20} MiB bound after {self.sent} bytes')

    def run(self):
        t0 = time.monotonic()
        deadline = t0 + SECONDS
        src = chunks(self.seed)
        next_sample = 0
        s = None
        while self.sent < VOLUME and time.monotonic() < deadline:
            if s is None:
                s = connect_unix(self.path, timeout=5, proc=self.proxy)
                s.settimeout(1.0)
                self.connections += 1
            try:
                n = s.send(next(src))
                self.sent += n
            except socket.timeout:
                # the proxy is not reading (back-pressure): fine, but it
                # must still be alive and serving QMP
                self.proxy._check_alive('during the flood')
                self.proxy.qmp.cmd('query-version')
            except OSError as e:
                if e.errno not in (errno.EPIPE, errno.ECONNRESET,
                                   errno.ENOTCONN):
                    raise
                self.drops += 1
                s.close()
                s = None
            now = time.monotonic()
            if now >= next_sample:
                self.proxy._check_alive('during the flood')
                self.sample()
                next_sample = now + 0.2
        if s:
            s.close()
        dt = time.monotonic() - t0
        self.sample()
        log(f'{self.label}: {self.sent / 2**20:.0f} MiB of random bytes in '
            f'{dt:.1f}s ({self.sent / 2**20 / dt:.0f} MiB/s), '
            f'{self.connections} connections, {self.drops} dropped by the '
            f'proxy at its first bad header, max RSS '
            f'{self.max_rss / 2**20:.1f} MiB '
            f'(bound {RSS_LIMIT >> 20} MiB)'
            + ('' if self.sent >= VOLUME else
               f' [time cap {SECONDS:.0f}s reached before '
               f'{VOLUME / 2**20:.0f} MiB]'))
        return self


def check_counted(port, label):
    stats = qmp_try(port.qmp, 'query-netdev-stats')
    if stats is None:
        log(f'{label}: NOTE query-netdev-stats not implemented; framing '
            'error counters not checked')
        return
    c = find_counters(stats, ('malformed', 'framing'))
    log(f'{label}: counters {c}')
    check(any(v > 0 for v in c.values()),
          f'{label}: no framing error counted in {stats!r:.500}')


def check_log_bounded(proxy, label):
    err = proxy.stderr()
    log(f'{label}: {len(err)} bytes of stderr, {err.count(chr(10))} lines')
    check(len(err) < 256 * 1024, f'{label}: log not rate-limited '
          f'({len(err)} bytes)')


def need_port():
    need_types('stream', option='-netdev')
    need_types('stream', option='-device')


def _flood_port_side(side):
    need_port()
    port = StreamPort(connect=False)
    path = port.net_path if side == 'net' else port.guest_path
    # the other side connected, so frames (if any survive) have a peer
    other = connect_unix(port.guest_path if side == 'net' else port.net_path,
                         proc=port.proxy)
    Flood(port.proxy, path, f'-{"netdev" if side == "net" else "device"} '
          'stream').run()
    check_log_bounded(port.proxy, side)
    # a new connection carries frames byte-exact, both ways
    other.close()
    port.connect()
    time.sleep(0.1)
    port.probe()
    for i in range(50):
        f = eth_frame(i, 60 + 29 * i)
        send_frame(port.guest, f)
        check_eq(recv_frame(port.net), f, f'frame {i} guest->net after flood')
        send_frame(port.net, f)
        check_eq(recv_frame(port.guest), f, f'frame {i} net->guest after flood')
    check_counted(port, side)
    port.stop()


def test_garbage_netdev_stream():
    _flood_port_side('net')


def test_garbage_device_stream():
    _flood_port_side('guest')


def test_garbage_redirector_indev():
    need_port()
    need_types('filter-redirector')
    d = tmpdir('cqg')
    cpath = os.path.join(d, 'in.sock')
    port = StreamPort(['-chardev', chardev_unix('in0', cpath),
                       '-object', 'filter-redirector,id=r0,netdev=n0,'
                                  'queue=tx,indev=in0'], dir=d)
    # drain whatever reaches the guest so nothing backs up
    stop = threading.Event()

    def drain():
        port.guest.settimeout(0.2)
        while not stop.is_set():
            try:
                if not port.guest.recv(1 << 20):
                    return
            except socket.timeout:
                pass
            except OSError:
                return
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    Flood(port.proxy, cpath, 'filter-redirector indev').run()
    stop.set()
    t.join()
    check_log_bounded(port.proxy, 'indev')
    # a fresh connection to the indev carries frames byte-exact
    s = connect_unix(cpath, proc=port.proxy)
    time.sleep(0.2)
    # anything half-received before must not leak into this connection
    port.guest.settimeout(None)
    while recv_frame(port.guest, 0.3) is not None:
        pass
    for i in range(50):
        f = eth_frame(i, 60 + 31 * i)
        send_frame(s, f)
        check_eq(recv_frame(port.guest, 5), f, f'frame {i} via indev after flood')
    st = qmp_try(port.qmp, 'query-netfilter-stats')
    if st is not None:
        c = find_counters(st, ('malformed', 'framing'))
        log(f'indev counters: {c}')
        check(any(v > 0 for v in c.values()), f'no framing error counted: {st}')
    s.close()
    port.stop()


def test_garbage_compare_inputs():
    """colo-compare's primary_in and secondary_in: QEMU 7.2 aborts on a
    zero-length frame there and desynchronises after a partial frame and
    a reconnect (docs/interop.md).  Here: no crash, errors counted, and
    after the flood a frame on a new connection is released byte-exact."""
    need_types('colo-compare', 'iothread')
    d = tmpdir('cqk')
    pin, sin, out = (os.path.join(d, n) for n in ('pin', 'sin', 'out'))
    p = ColoProxy(['-chardev', chardev_unix('pin', pin),
                   '-chardev', chardev_unix('sin', sin),
                   '-chardev', chardev_unix('out', out),
                   '-object', 'iothread,id=io0',
                   '-object', 'colo-compare,id=cmp0,primary_in=pin,'
                              'secondary_in=sin,outdev=out,iothread=io0'],
                  dir=d)
    reader = connect_unix(out, proc=p)
    # a non-IP frame is released at once, uncompared (as in QEMU)
    probe = eth_frame(1, 64)

    def released(frame, what):
        # Random bytes sometimes happen to form a valid frame, which
        # compare rightly releases: drain those before probing, and skip
        # any that still arrive ahead of the probe.
        while recv_frame(reader, 0.2) is not None:
            pass
        deadline = time.monotonic() + 10
        while True:
            s = connect_unix(pin, proc=p)
            send_frame(s, frame)
            got = recv_frame(reader, 0.5)
            while got is not None and got != frame:
                got = recv_frame(reader, 0.5)
            s.close()
            if got is not None:
                check_eq(got, frame, what)
                return
            check(time.monotonic() < deadline, f'{what}: nothing released')

    released(probe, 'frame before the garbage')
    # the zero-length frame that aborts QEMU 7.2
    for path in (pin, sin):
        s = connect_unix(path, proc=p)
        s.sendall(b'\0\0\0\0')
        time.sleep(0.1)
        s.close()
        p._check_alive('after a zero-length frame')
    # a partial frame, a disconnect, then a whole frame on a new connection
    s = connect_unix(pin, proc=p)
    s.sendall(frame_bytes(eth_frame(2, 200))[:100])
    time.sleep(0.05)
    s.close()
    released(eth_frame(3, 80), 'frame after a partial one and a reconnect')
    for path, label in ((pin, 'colo-compare primary_in'),
                        (sin, 'colo-compare secondary_in')):
        Flood(p, path, label).run()
    check_log_bounded(p, 'compare')
    released(eth_frame(4, 90), 'frame after the flood')
    st = p.qmp.cmd('query-colo-compare-stats')[0]
    log(f'compare framing errors: {st["framing-errors"]}')
    check(st['framing-errors']['primary_in'] > 0 and
          st['framing-errors']['secondary_in'] > 0,
          f'framing errors not counted: {st["framing-errors"]}')
    reader.close()
    p.stop()


QUEUE_SIZE = 256


def test_random_frames_valid_framing():
    """Valid headers, random content and sizes 1..1514 (and a few up to
    the maximum): all forwarded in order, memory bounded.  The receiver
    (this Python process) is slower than the sender, so the device's
    incoming queue fills to its high-water mark; its entries grow to the
    largest frame seen, so the queue alone may hold queue-size x 69632
    bytes.  queue-size=256 on both ends keeps that at 17 MiB per client,
    inside the bound."""
    need_port()
    port = StreamPort(netdev_extra=f'queue-size={QUEUE_SIZE}',
                      device_extra=f'queue-size={QUEUE_SIZE}')
    import random
    r = random.Random(7)
    received = [0, 0]
    stop = threading.Event()

    def drain():
        rd = FrameReader()
        port.guest.settimeout(0.2)
        while True:
            try:
                d = port.guest.recv(1 << 20)
            except socket.timeout:
                if stop.is_set():
                    return
                continue
            except OSError:
                return
            if not d:
                return
            for f in rd.feed(d):
                received[0] += 1
                received[1] += len(f)
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    # pre-build a batch of frames, send it repeatedly
    batch = []
    for _ in range(512):
        n = r.choice([r.randint(1, 1514)] * 9 + [r.randint(1, 69632)])
        off = r.randrange(0, len(POOL) - n)
        batch.append(frame_bytes(POOL[off:off + n]))
    blob = b''.join(batch)
    sent_frames = sent = 0
    t0 = time.monotonic()
    next_sample = 0
    max_rss = 0
    port.net.settimeout(5)
    while sent < VOLUME and time.monotonic() - t0 < SECONDS:
        port.net.sendall(blob)
        sent += len(blob)
        sent_frames += len(batch)
        if time.monotonic() >= next_sample:
            rss, hwm = port.proxy.rss()
            max_rss = max(max_rss, rss)
            check(hwm <= RSS_LIMIT, f'VmHWM {hwm >> 20} MiB over the bound')
            next_sample = time.monotonic() + 0.2
    dt = time.monotonic() - t0
    def drops():
        st = port.qmp.cmd('query-netdev-stats')
        return sum(e['counters']['drop-queue-full'] for e in st)
    wait_for(lambda: received[0] + drops() >= sent_frames, timeout=30,
             what=f'{sent_frames} frames at the guest (have {received[0]})')
    stop.set()
    t.join()
    # back-pressure makes the stream lossless, as in QEMU: the network side
    # stops reading while the guest side's queue is above its high-water
    # mark, so no frame may be dropped for a full queue
    check_eq(drops(), 0, f'frames dropped for a full queue (of {sent_frames};'
             ' back-pressure must stop the sender first)')
    check_eq(received[0], sent_frames, 'frames delivered')
    log(f'random frames: {sent_frames} frames, {sent / 2**20:.0f} MiB in '
        f'{dt:.1f}s ({sent / 2**20 / dt:.0f} MiB/s), all delivered; max RSS '
        f'{max_rss / 2**20:.1f} MiB (bound {RSS_LIMIT >> 20} MiB with '
        f'queue-size={QUEUE_SIZE})')
    port.stop()


if __name__ == '__main__':
    log(f'volume per phase {VOLUME} bytes, time cap {SECONDS}s, RSS bound '
        f'{RSS_LIMIT >> 20} MiB')
    run_tests([
        test_garbage_netdev_stream,
        test_garbage_device_stream,
        test_garbage_redirector_indev,
        test_garbage_compare_inputs,
        test_random_frames_valid_framing,
    ])
