#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_netdev_qemu - every transport of net/stream.c and net/dgram.c
against the same transport in a real QEMU 7.2 (qemu-system-x86_64 -M none,
no guest).

QEMU joins two of its backends on hub 0, so whatever one receives the
other sends: 'q0' faces colo-proxy, 't0' (-netdev socket,listen=) faces
the test.  colo-proxy's other end is a -device stream the test plays the
guest on.  Frames cross QEMU and colo-proxy both ways byte-exact:

  test --tcp-- [QEMU t0 | hub | q0] ==transport== [colo-proxy n0 | d0] --unix-- test

  transports: dgram (udp, unix), socket udp=, stream unix with colo-proxy
  as the client and reconnect=1 (QEMU restarted in between), and the
  reverse: QEMU's -netdev stream client into colo-proxy's -device stream
  over TCP.
"""

import os
import time

from coloqtest import *


def qemu_hub(q0):
    tp = free_tcp_port()
    q = Qemu(['-netdev', q0,
              '-netdev', 'hubport,id=h0,hubid=0,netdev=q0',
              '-netdev', f'socket,id=t0,listen=127.0.0.1:{tp}',
              '-netdev', 'hubport,id=h1,hubid=0,netdev=t0'])
    return q, tp


def wait_path(a, b, label, timeout=10):
    """Sends a first frame until it comes out at the other end."""
    first = eth_frame(0, 60)
    deadline = time.monotonic() + timeout
    while True:
        send_frame(a, first)
        if recv_frame(b, 0.3) is not None:
            while recv_frame(b, 0.2) is not None:
                pass
            return
        check(time.monotonic() < deadline, f'{label}: path never came up')


def exchange(a, b, label, sizes=(14, 60, 1514, 9000), n=100):
    wait_path(a, b, label)
    for src, dst, d in ((a, b, '->'), (b, a, '<-')):
        for i, size in enumerate(sizes):
            f = eth_frame(i, size)[:size]
            send_frame(src, f)
            check_eq(recv_frame(dst, 5), f, f'{label} {d} {size}-byte frame')
        frames = [eth_frame(100 + i, 60 + (i * 53) % 1454) for i in range(n)]
        for f in frames:
            send_frame(src, f)
            # datagram transports may drop under a burst: keep it paced
            check_eq(recv_frame(dst, 5), f, f'{label} {d} frame')


def proxy_with_guest(netdev):
    d = tmpdir()
    gpath = os.path.join(d, 'g.sock')
    p = ColoProxy(['-netdev', netdev,
                   '-device', stream_device('d0', 'n0', gpath)], dir=d)
    return p, connect_unix(gpath, proc=p)


def run_pair(q0, n0, label):
    need_qemu()
    p, guest = proxy_with_guest(n0)
    q, tp = qemu_hub(q0)
    try:
        net = connect_tcp(tp, proc=q)
        exchange(guest, net, label)
        q.stop()
        p.stop()
    finally:
        q.kill()
        p.kill()


def test_dgram_udp_with_qemu():
    need_types('dgram', option='-netdev')
    qp, pp = free_tcp_ports(2)
    run_pair(f'dgram,id=q0,local.type=inet,local.host=127.0.0.1,'
             f'local.port={qp},remote.type=inet,remote.host=127.0.0.1,'
             f'remote.port={pp}',
             f'dgram,id=n0,local.type=inet,local.host=127.0.0.1,'
             f'local.port={pp},remote.type=inet,remote.host=127.0.0.1,'
             f'remote.port={qp}', 'dgram udp')


def test_dgram_unix_with_qemu():
    need_types('dgram', option='-netdev')
    d = tmpdir()
    qpath, ppath = os.path.join(d, 'q.dg'), os.path.join(d, 'p.dg')
    run_pair(f'dgram,id=q0,local.type=unix,local.path={qpath},'
             f'remote.type=unix,remote.path={ppath}',
             f'dgram,id=n0,local.type=unix,local.path={ppath},'
             f'remote.type=unix,remote.path={qpath}', 'dgram unix')


def test_socket_udp_with_qemu():
    need_types('socket', option='-netdev')
    qp, pp = free_tcp_ports(2)
    run_pair(f'socket,id=q0,udp=127.0.0.1:{pp},localaddr=127.0.0.1:{qp}',
             f'socket,id=n0,udp=127.0.0.1:{qp},localaddr=127.0.0.1:{pp}',
             'socket udp')


def test_stream_client_reconnects_to_qemu():
    need_qemu()
    need_types('stream', option='-netdev')
    d = tmpdir()
    spath = os.path.join(d, 'qemu.sock')
    q0 = f'stream,id=q0,server=on,addr.type=unix,addr.path={spath}'
    q, tp = qemu_hub(q0)
    p = None
    try:
        wait_for(lambda: os.path.exists(spath), what='QEMU socket')
        p, guest = proxy_with_guest(f'stream,id=n0,server=off,'
                                    f'addr.type=unix,addr.path={spath},'
                                    f'reconnect=1')
        net = connect_tcp(tp, proc=q)
        exchange(guest, net, 'stream client -> QEMU', n=20)
        # QEMU goes away and comes back: colo-proxy reconnects by itself
        net.close()
        q.stop()
        q, tp = qemu_hub(q0)
        net = connect_tcp(tp, proc=q)
        exchange(guest, net, 'after QEMU restart', n=20)
        st = {e['id']: e for e in p.qmp.cmd('query-netdev-stats')}
        check(st['n0']['backend']['connects'] >= 2, f'{st["n0"]}')
        q.stop()
        p.stop()
    finally:
        q.kill()
        if p:
            p.kill()


def test_qemu_stream_tcp_into_device():
    need_qemu()
    need_types('stream', option='-device')
    d = tmpdir()
    npath = os.path.join(d, 'net.sock')
    port = free_tcp_port()
    p = ColoProxy(['-netdev', stream_netdev('n0', npath),
                   '-device', f'stream,id=d0,netdev=n0,server=on,'
                   f'addr.type=inet,addr.host=127.0.0.1,addr.port={port}'],
                  dir=d)
    q, tp = qemu_hub(f'stream,id=q0,server=off,addr.type=inet,'
                     f'addr.host=127.0.0.1,addr.port={port}')
    try:
        vm = connect_tcp(tp, proc=q)
        net = connect_unix(npath, proc=p)
        exchange(vm, net, 'QEMU stream tcp -> device', n=50)
        q.stop()
        p.stop()
    finally:
        q.kill()
        p.kill()


if __name__ == '__main__':
    run_tests([
        test_dgram_udp_with_qemu,
        test_dgram_unix_with_qemu,
        test_socket_udp_with_qemu,
        test_stream_client_reconnects_to_qemu,
        test_qemu_stream_tcp_into_device,
    ])
