#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_compare - colo-compare through the real binary.

primary_in, secondary_in and outdev are unix socket chardevs colo-proxy
listens on; the test connects to all three, plays both guests and reads
what is released.  Covered: creation errors (QMP errors, never a crash;
qom-list-properties on the type), matching TCP and UDP released in
order, a mismatch -> COLO_COMPARE_MISCOMPARE + COLO_CHECKPOINT_REQUEST
from the COLO frame (driver=event) -> x-colo-checkpoint-done releases the
held frames, mode none (no colo-frame): the request is answered at once,
compare_timeout, records without a frame (counted and skipped, the
connection kept; an oversize length drops it and the link recovers on
reconnect), vnet_hdr_support framing, the Xen notify_dev protocol,
object-del flushing held output, an iothread that cannot be deleted
while used, statistics.
"""

import json
import os
import socket
import struct
import time

from coloqtest import *
import comparepkt as pk
from comparepkt import TCP_ACK as A, TCP_SYN as S, TCP_PSH as P


def compare_proxy(extra_obj='', frame=None, args=(), notify=False):
    """A colo-proxy with the three (four) chardevs and a compare; returns
    (proxy, pri, sec, out[, notify]) with connected sockets."""
    d = tmpdir('cqc')
    paths = {n: os.path.join(d, n + '.sock')
             for n in ('pri', 'sec', 'out', 'ntf')}
    a = []
    for n in ('pri', 'sec', 'out') + (('ntf',) if notify else ()):
        a += ['-chardev', chardev_unix(n, paths[n])]
    if frame:
        a += ['-object', f'colo-frame,id=colo0,{frame}']
    a += list(args)
    obj = 'colo-compare,id=comp0,primary_in=pri,secondary_in=sec,outdev=out'
    if notify:
        obj += ',notify_dev=ntf'
    if extra_obj:
        obj += ',' + extra_obj
    a += ['-object', obj]
    p = ColoProxy(a, dir=d)
    socks = [connect_unix(paths[n], proc=p)
             for n in ('pri', 'sec', 'out') + (('ntf',) if notify else ())]
    p.paths = paths
    # let the OPENED events reach the compare's thread
    time.sleep(0.1)
    return (p, *socks)


def stats(p, id='comp0'):
    return p.qmp.cmd('query-colo-compare-stats', id=id)[0]


def test_create_errors():
    d = tmpdir('cqc')
    a = []
    for n in ('a', 'b', 'c'):
        a += ['-chardev', chardev_unix(n, os.path.join(d, n + '.sock'))]
    with ColoProxy(a, dir=d) as p:
        q = p.qmp
        expect_qmp_error(q.object_add, 'colo-compare', 'c1', primary_in='a',
                         secondary_in='b',
                         contains="Parameter 'outdev' is missing")
        expect_qmp_error(q.object_add, 'colo-compare', 'c1', primary_in='a',
                         secondary_in='a', outdev='c',
                         contains="could not be same for compare module")
        expect_qmp_error(q.object_add, 'colo-compare', 'c1', primary_in='a',
                         secondary_in='b', outdev='nope',
                         contains="Device 'nope' not found")
        expect_qmp_error(q.object_add, 'colo-compare', 'c1', primary_in='a',
                         secondary_in='b', outdev='c', compare_timeout=0,
                         contains='requires a positive value')
        expect_qmp_error(q.object_add, 'colo-compare', 'c1', primary_in='a',
                         secondary_in='b', outdev='c', ignore='ttl:bogus',
                         contains='bogus')
        expect_qmp_error(q.object_add, 'colo-compare', 'c1', primary_in='a',
                         secondary_in='b', outdev='c', iothread='none',
                         contains='none')
        props = q.cmd('qom-list-properties', typename='colo-compare')
        names = {x['name'] for x in props}
        for n in ('primary_in', 'secondary_in', 'outdev', 'iothread',
                  'notify_dev', 'compare_timeout', 'expired_scan_cycle',
                  'max_queue_size', 'vnet_hdr_support', 'max_connections'):
            check(n in names or n.replace('_', '-') in names,
                  f'property {n} missing: {sorted(names)}')
        # a good one now; the chardevs were not left claimed by failures
        q.object_add('colo-compare', 'c1', primary_in='a', secondary_in='b',
                     outdev='c')
        check_eq(q.qom_get('/objects/c1', 'compare_timeout'), 3000,
                 'compare_timeout default')
        check_eq(q.qom_get('/objects/c1', 'expired_scan_cycle'), 1000,
                 'expired_scan_cycle default')
        check_eq(q.qom_get('/objects/c1', 'max_queue_size'), 1024,
                 'max_queue_size default')
        expect_qmp_error(q.object_add, 'colo-compare', 'c2', primary_in='a',
                         secondary_in='b', outdev='c', contains='in use')
        q.qom_set('/objects/c1', 'compare_timeout', 500)
        expect_qmp_error(q.qom_set, '/objects/c1', 'compare_timeout', 0,
                         contains='positive')
        q.object_del('c1')
        q.object_add('colo-compare', 'c1', primary_in='a', secondary_in='b',
                     outdev='c')
    # on the command line: an error message and exit 1, not an abort
    r = run_proxy(['-chardev', chardev_unix('a', os.path.join(d, 'x.sock')),
                   '-object', 'colo-compare,id=c,primary_in=a,'
                   'secondary_in=a,outdev=a'])
    check(r.returncode == 1, f'exit {r.returncode}: {r.stderr}')
    check('could not be same' in r.stderr, r.stderr)


def tcp_flow(pisn=1000, sisn=5000, cisn=77, chunks=(b'hello', b'world')):
    """(primary frames, secondary frames) of a server-side TCP flow."""
    pf = [pk.tcp(pisn, cisn + 1, S | A)]
    sf = [pk.tcp(sisn, cisn + 1, S | A)]
    po, so = 1, 1
    for c in chunks:
        pf.append(pk.tcp(pisn + po, cisn + 1, A | P, c))
        sf.append(pk.tcp(sisn + so, cisn + 1, A | P, c, ident=99, ttl=50))
        po += len(c)
        so += len(c)
    return pf, sf


def test_match_in_order():
    p, pri, sec, out = compare_proxy()
    with p:
        pf, sf = tcp_flow(chunks=[bytes([i]) * (50 + i) for i in range(20)])
        u = [pk.udp(b'udp%d' % i, v6=(i % 2 == 1)) for i in range(10)]
        for f in pf:
            send_frame(pri, f)
        for f in u:
            send_frame(pri, f)
        expect_no_frame(out, 0.3)
        for f in sf:
            send_frame(sec, f)
        got = [recv_frame(out) for _ in pf]
        check_eq(got, pf, 'tcp frames released in order')
        # UDP first in first out (QEMU: newest first)
        for i in range(10):
            send_frame(sec, pk.udp(b'udp%d' % i, v6=(i % 2 == 1), ttl=3,
                                   ident=55))
        got = [recv_frame(out) for _ in u]
        check_eq(got, u, 'udp frames released in order')
        # ARP: primary released at once, secondary dropped
        send_frame(pri, pk.arp())
        check_eq(recv_frame(out), pk.arp(), 'arp')
        send_frame(sec, pk.arp())
        expect_no_frame(out, 0.2)
        st = stats(p)
        check_eq(st['matched'], len(pf) + len(u), 'matched')
        check_eq(st['released-uncompared']['not-ip'], 1, 'not-ip')
        check_eq(st['secondary-dropped']['not-ip'], 1, 'sec not-ip')
        check_eq(st['primary']['held'], 0, 'held')
        check_eq(st['connections'], 3, 'connections')
        check(sum(st['checkpoints-requested'].values()) == 0, str(st))
        p.stop()


def test_mismatch_checkpoint():
    p, pri, sec, out = compare_proxy(frame='mode=primary,driver=event')
    with p:
        pf, sf = tcp_flow(chunks=[b'abcd'])
        send_frame(pri, pf[0])
        send_frame(sec, sf[0])
        check_eq(recv_frame(out), pf[0], 'syn-ack')
        send_frame(pri, pf[1])
        send_frame(sec, pk.tcp(5001, 78, A | P, b'abcX'))
        ev = p.qmp.get_event('COLO_COMPARE_MISCOMPARE', timeout=5)
        check_eq(ev['data']['connection'], 'tcp 10.0.0.1:80 -> 10.0.0.2:5555',
                 'connection')
        check_eq(ev['data']['reason'], 'payload', 'reason')
        check_eq(ev['data']['id'], 'comp0', 'id')
        check('frame' not in ev['data'], 'no frame: the compare is unbound')
        ev = p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=5)
        check_eq(ev['data']['reason'], 'miscompare', 'request reason')
        check_eq(ev['data']['source'], 'comp0', 'request source')
        expect_no_frame(out, 0.3)
        # more traffic in the episode: no second request
        send_frame(pri, pk.tcp(1005, 78, A | P, b'more'))
        expect_no_frame(out, 0.3)
        p.qmp.cmd('x-colo-checkpoint-done')
        check_eq(recv_frame(out), pf[1], 'held frame released')
        check_eq(recv_frame(out), pk.tcp(1005, 78, A | P, b'more'), 'second')
        st = stats(p)
        check_eq(st['mismatched']['payload'], 1, 'mismatched')
        check_eq(st['checkpoints-requested']['miscompare'], 1, 'requests')
        check_eq(st['checkpoints-handled'], 1, 'handled')
        check_eq(st['released-uncompared']['checkpoint'], 2, 'flushed')
        # after the checkpoint the secondary continues in the primary's
        # sequence space
        send_frame(pri, pk.tcp(1009, 78, A | P, b'next'))
        send_frame(sec, pk.tcp(1009, 78, A | P, b'next'))
        check_eq(recv_frame(out), pk.tcp(1009, 78, A | P, b'next'), 'next')
        p.stop()


def test_mode_none_and_timeout():
    # no colo-frame: COLO is off, a request is answered at once
    p, pri, sec, out = compare_proxy('compare_timeout=300,'
                                     'expired_scan_cycle=100')
    with p:
        f = pk.udp(b'lonely')
        send_frame(pri, f)
        expect_no_frame(out, 0.15)
        t0 = time.monotonic()
        check_eq(recv_frame(out, timeout=3), f, 'released after timeout')
        dt = time.monotonic() - t0
        check(dt < 1.5, f'took {dt:.2f}s')
        st = stats(p)
        check(st['checkpoints-requested']['timeout'] >= 1, str(st))
        # a mismatch is released at once too
        send_frame(pri, pk.udp(b'one'))
        send_frame(sec, pk.udp(b'two'))
        check_eq(recv_frame(out, timeout=2), pk.udp(b'one'), 'mismatch')
        p.stop()


def test_zero_length_frame():
    """A record without a frame (length 0) on primary_in or secondary_in is
    counted and skipped: the connection stays, the frames behind it are
    compared and released.  An impossible length (oversize) still drops
    the connection, and the next one starts clean."""
    p, pri, sec, out = compare_proxy()
    with p:
        fa, fb = pk.udp(b'before'), pk.udp(b'after')
        # the zero record and the frame behind it in one write: the frame
        # must not be lost with it
        send_frame(pri, fa)
        pri.sendall(b'\0\0\0\0' + frame_bytes(fb))
        send_frame(sec, fa)
        sec.sendall(b'\0\0\0\0')
        send_frame(sec, fb)
        check_eq(recv_frame(out), fa, 'frame before the empty record')
        check_eq(recv_frame(out), fb, 'frame behind the empty record')
        st = stats(p)
        check_eq(st['primary']['empty-records'], 1, 'primary empty records')
        check_eq(st['secondary']['empty-records'], 1,
                 'secondary empty records')
        check_eq(st['framing-errors']['primary_in'], 0, 'no framing error')
        check_eq(st['framing-errors']['secondary_in'], 0, 'no framing error')
        check_eq(st['matched'], 2, 'both compared')
        # same connections still in use
        fc = pk.udp(b'still')
        send_frame(pri, fc)
        send_frame(sec, fc)
        check_eq(recv_frame(out), fc, 'same connection goes on')
        # garbage (oversize) on the secondary, and a half frame then
        # reconnect: the next connection starts clean
        sec.sendall(struct.pack('>I', 10 ** 6) + b'x' * 100)
        wait_for(lambda: stats(p)['framing-errors']['secondary_in'] == 1,
                 what='oversize counted')
        sec.settimeout(5)
        try:
            data = sec.recv(10)
        except ConnectionResetError:
            data = b''
        check_eq(data, b'', 'oversize: connection closed by the proxy')
        sec.close()
        sec = connect_unix(p.paths['sec'], proc=p)
        sec.sendall(struct.pack('>I', 100) + b'half')
        sec.close()
        time.sleep(0.1)
        sec = connect_unix(p.paths['sec'], proc=p)
        time.sleep(0.1)
        f = pk.udp(b'x')
        send_frame(pri, f)
        send_frame(sec, f)
        check_eq(recv_frame(out), f, 'after garbage')
        check(p.alive(), 'proxy died')
        p.stop()


def test_zero_length_frame_vnet():
    """With vnet_hdr_support: a record of length 0 and a record holding
    only the virtio-net header are skipped the same way; a vnet_hdr_len
    above the length is still fatal."""
    p, pri, sec, out = compare_proxy('vnet_hdr_support=on')
    with p:
        vh = bytes(12)
        fa, fb = vh + pk.udp(b'va'), vh + pk.udp(b'vb')
        for s_ in (pri, sec):
            send_frame(s_, fa, vnet=12)
            s_.sendall(struct.pack('>II', 0, 0))          # length 0
            s_.sendall(struct.pack('>II', 12, 12) + vh)   # the header alone
            send_frame(s_, fb, vnet=12)
        check_eq(recv_frame(out, vnet=True), (12, fa), 'before')
        check_eq(recv_frame(out, vnet=True), (12, fb), 'behind')
        st = stats(p)
        check_eq(st['primary']['empty-records'], 2, 'primary empty records')
        check_eq(st['secondary']['empty-records'], 2,
                 'secondary empty records')
        check_eq(st['framing-errors']['primary_in'], 0, 'no framing error')
        pri.sendall(struct.pack('>II', 12, 13) + vh)
        wait_for(lambda: stats(p)['framing-errors']['primary_in'] == 1,
                 what='bad vnet_hdr_len counted')
        check(p.alive(), 'proxy died')
        p.stop()


def test_vnet_hdr():
    p, pri, sec, out = compare_proxy('vnet_hdr_support=on')
    with p:
        vh = bytes(12)
        f = vh + pk.udp(b'vnet')
        send_frame(pri, f, vnet=12)
        send_frame(sec, f, vnet=12)
        check_eq(recv_frame(out, vnet=True), (12, f), 'vnet frame')
        send_frame(pri, pk.arp(), vnet=0)
        check_eq(recv_frame(out, vnet=True), (0, pk.arp()), 'vnet 0')
        p.stop()


def test_notify_dev():
    p, pri, sec, out, ntf = compare_proxy(notify=True)
    with p:
        # QEMU's asymmetry: the input carries the vnet field only with
        # vnet_hdr_support=on (off here); output never does
        send_frame(ntf, b'COLO_USERSPACE_PROXY_INIT')
        check_eq(recv_frame(ntf), b'COLO_COMPARE_GET_XEN_INIT', 'init reply')
        send_frame(pri, pk.udp(b'one'))
        send_frame(sec, pk.udp(b'two'))
        check_eq(recv_frame(ntf), b'DO_CHECKPOINT', 'checkpoint request')
        expect_no_frame(out, 0.3)
        send_frame(ntf, b'COLO_CHECKPOINT')
        check_eq(recv_frame(out), pk.udp(b'one'), 'flushed')
        send_frame(ntf, b'WHATEVER')
        time.sleep(0.2)
        st = stats(p)
        check_eq(st['notify-dev'], 'initialized', 'notify state')
        check_eq(st['notify-sent'], 1, 'notify-sent')
        check(p.alive(), 'proxy died')
        p.stop()
        check('unsupported instruction' in p.stderr(), p.stderr())


def test_notify_dev_vnet_asymmetry():
    p, pri, sec, out, ntf = compare_proxy('vnet_hdr_support=on', notify=True)
    with p:
        send_frame(ntf, b'COLO_USERSPACE_PROXY_INIT', vnet=0)
        # the reply comes without the vnet field
        check_eq(recv_frame(ntf), b'COLO_COMPARE_GET_XEN_INIT', 'init reply')
        p.stop()


def test_object_del_flushes():
    d = tmpdir('cqc')
    a = ['-object', 'iothread,id=t0']
    for n in ('pri', 'sec', 'out'):
        a += ['-chardev', chardev_unix(n, os.path.join(d, n + '.sock'))]
    a += ['-object', 'colo-compare,id=comp0,primary_in=pri,secondary_in=sec,'
          'outdev=out,iothread=t0']
    with ColoProxy(a, dir=d) as p:
        pri = connect_unix(os.path.join(d, 'pri.sock'), proc=p)
        out = connect_unix(os.path.join(d, 'out.sock'), proc=p)
        time.sleep(0.1)
        expect_qmp_error(p.qmp.object_del, 't0', contains='in use')
        frames = [pk.udp(b'held%d' % i) for i in range(5)]
        for f in frames:
            send_frame(pri, f)
        wait_for(lambda: stats(p)['primary']['held'] == 5, what='held')
        check_eq(stats(p)['iothread'], 't0', 'iothread')
        p.qmp.object_del('comp0')
        got = [recv_frame(out) for _ in frames]
        check_eq(got, frames, 'flushed in order at object-del')
        p.qmp.object_del('t0')
        # the chardevs are free again
        p.qmp.object_add('colo-compare', 'comp1', primary_in='pri',
                         secondary_in='sec', outdev='out')
        p.stop()


def test_ipv6_vlan_mismatch_event():
    p, pri, sec, out = compare_proxy()
    with p:
        send_frame(pri, pk.udp(b'same', v6=True, vlan=10))
        send_frame(sec, pk.udp(b'diff', v6=True, vlan=10))
        ev = p.qmp.get_event('COLO_COMPARE_MISCOMPARE', timeout=5)
        check_eq(ev['data']['connection'],
                 'udp [2001:db8::1]:53 -> [2001:db8::2]:4000 vlan 10', 'conn')
        check_eq(recv_frame(out, timeout=3), pk.udp(b'same', v6=True,
                                                     vlan=10), 'released')
        p.stop()


def test_max_queue_size_exact():
    p, pri, sec, out = compare_proxy('max_queue_size=3')
    with p:
        frames = [pk.udp(b'q%d' % i) for i in range(3)]
        for f in frames:
            send_frame(pri, f)
        wait_for(lambda: stats(p)['primary']['held'] == 3, what='3 held')
        expect_no_frame(out, 0.2)
        st = stats(p)
        check(sum(st['checkpoints-requested'].values()) == 0, str(st))
        send_frame(pri, pk.udp(b'q3'))
        # the 4th reaches the bound: a queue-full request; in mode none
        # it is answered at once and everything leaves, in order
        got = [recv_frame(out) for _ in range(4)]
        check_eq(got, frames + [pk.udp(b'q3')], 'in order, nothing lost')
        st = stats(p)
        check(st['checkpoints-requested']['queue-full'] == 1, str(st))
        check_eq(st['primary']['queue-max'], 3, 'bound')
        p.stop()


def test_backpressure_no_loss():
    # outdev with a small output buffer and a reader that does not read:
    # reading primary_in is paused instead of dropping; once the reader
    # drains, every frame arrives, in order
    d = tmpdir('cqc')
    paths = {n: os.path.join(d, n + '.sock') for n in ('pri', 'sec', 'out')}
    a = ['-chardev', chardev_unix('pri', paths['pri']),
         '-chardev', chardev_unix('sec', paths['sec']),
         '-chardev', chardev_unix('out', paths['out'],
                                  extra='out-buffer-size=131072'),
         '-object', 'colo-compare,id=comp0,primary_in=pri,secondary_in=sec,'
         'outdev=out,compare_timeout=60000']
    with ColoProxy(a, dir=d) as p:
        pri = connect_unix(paths['pri'], proc=p)
        sec = connect_unix(paths['sec'], proc=p)
        out = connect_unix(paths['out'], proc=p)
        out.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        time.sleep(0.1)
        n = 3000
        frames = [pk.udp(bytes([i % 251]) * 1400, sport=1000 + i % 7)
                  for i in range(n)]
        pri.setblocking(False)
        sec.setblocking(False)
        pending = {pri: b''.join(frame_bytes(f) for f in frames),
                   sec: b''.join(frame_bytes(f) for f in frames)}
        deadline = time.monotonic() + 3
        while any(pending.values()) and time.monotonic() < deadline:
            for s_ in (pri, sec):
                if pending[s_]:
                    try:
                        k = s_.send(pending[s_][:65536])
                        pending[s_] = pending[s_][k:]
                    except BlockingIOError:
                        time.sleep(0.005)
        st = stats(p)
        check(st['out-backpressure'] >= 1, f'no back-pressure: {st}')
        check_eq(st['out-dropped'], 0, 'dropped')
        # Back-pressure shown: now drain with a normal receive buffer, so
        # the rest of the test does not crawl on a loaded machine.
        out.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        got = []
        deadline = time.monotonic() + 60
        while len(got) < n and time.monotonic() < deadline:
            for s_ in (pri, sec):
                if pending[s_]:
                    try:
                        k = s_.send(pending[s_][:65536])
                        pending[s_] = pending[s_][k:]
                    except BlockingIOError:
                        pass
            f = recv_frame(out, timeout=0.05)
            while f is not None:
                got.append(f)
                f = recv_frame(out, timeout=0) if len(got) < n else None
        check_eq(len(got), n, 'frames received')
        # the order of each connection (7 UDP flows) is kept
        for port in range(1000, 1007):
            want = [f for f in frames if f[34:36] == port.to_bytes(2, 'big')]
            have = [f for f in got if f[34:36] == port.to_bytes(2, 'big')]
            check(have == want, f'flow {port}: frames differ or out of order')
        st = stats(p)
        check_eq(st['matched'], n, 'matched')
        check_eq(st['out-dropped'], 0, 'dropped')
        check(not st['primary-paused'], 'still paused')
        p.stop()


def test_failover_passthrough():
    p, pri, sec, out = compare_proxy(frame='mode=primary,driver=event')
    with p:
        held = [pk.udp(b'held%d' % i) for i in range(3)]
        for f in held:
            send_frame(pri, f)
        wait_for(lambda: stats(p)['primary']['held'] == 3, what='held')
        p.qmp.cmd('x-colo-lost-heartbeat')
        got = [recv_frame(out) for _ in held]
        check_eq(got, held, 'released at failover, in order')
        send_frame(pri, pk.udp(b'after'))
        check_eq(recv_frame(out), pk.udp(b'after'), 'passed through')
        send_frame(sec, pk.udp(b'secondary'))
        expect_no_frame(out, 0.3)
        st = stats(p)
        check(st['failover'], str(st))
        check_eq(st['released-uncompared']['failover'], 4, 'failover')
        p.stop()


if __name__ == '__main__':
    need_types('colo-compare')
    run_tests([test_create_errors, test_match_in_order,
               test_mismatch_checkpoint, test_mode_none_and_timeout,
               test_zero_length_frame, test_zero_length_frame_vnet,
               test_vnet_hdr, test_notify_dev,
               test_notify_dev_vnet_asymmetry, test_object_del_flushes,
               test_ipv6_vlan_mismatch_event, test_max_queue_size_exact,
               test_backpressure_no_loss, test_failover_passthrough])
