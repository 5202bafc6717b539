#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_netdev_mcast - -netdev socket,mcast=: QEMU's multicast "bus".

In a network namespace of its own (loopback up, multicast on, a route for
224.0.0.0/4), colo-proxy's socket netdev and QEMU 7.2's join the same
group; each member's frames reach the other byte-exact, both ways, and,
as in QEMU, every member also gets its own frames back (loopback on).
A second colo-proxy member on the bus sees the same frames: a bus, not a
pair.

  test --tcp-- [QEMU t0 | hub | q0] ==mcast 230.0.0.1== [colo-proxy n0 | d0] --unix-- test
                                          \\== [colo-proxy n1 | d1] --unix-- test
"""

import os

from coloqtest import *

def proxy_member(group, dev):
    d = tmpdir()
    gpath = os.path.join(d, 'g.sock')
    p = ColoProxy(['-netdev', f'socket,id=n0,mcast={group},'
                   'localaddr=127.0.0.1',
                   '-device', stream_device(dev, 'n0', gpath)], dir=d)
    g = connect_unix(gpath, proc=p)
    # connect() returns once the kernel queued the connection; a frame
    # from the bus that colo-proxy reads before it accepts is dropped as
    # drop-disconnected (1 run in ~15 under load): wait for the accept
    wait_for(lambda: p.qmp.cmd('query-netdev-stats', id=dev)[0]
             ['backend']['connected'], 5, what=f'{dev} connected')
    return p, g


def recv_other(sock, own, timeout=5):
    """The next frame on 'sock' that is not one of the frames in 'own'
    (the member's own frames come back on a multicast bus)."""
    while True:
        f = recv_frame(sock, timeout)
        if f is None or f not in own:
            return f


def test_mcast_bus_with_qemu():
    need_qemu()
    need_types('socket', option='-netdev')
    # a namespace whose loopback carries multicast
    enter_netns(['ip', 'link', 'set', 'lo', 'multicast', 'on'],
                ['ip', 'route', 'add', '224.0.0.0/4', 'dev', 'lo'])
    port = free_tcp_port()
    group = f'230.0.0.1:{port}'
    tp = free_tcp_port()
    q = Qemu(['-netdev', f'socket,id=q0,mcast={group}',
              '-netdev', 'hubport,id=h0,hubid=0,netdev=q0',
              '-netdev', f'socket,id=t0,listen=127.0.0.1:{tp}',
              '-netdev', 'hubport,id=h1,hubid=0,netdev=t0'])
    p1, g1 = proxy_member(group, 'd0')
    p2, g2 = proxy_member(group, 'd1')
    try:
        net = connect_tcp(tp, proc=q)
        sent_net, sent_g1 = set(), set()
        # QEMU -> colo-proxy (both members)
        for i, size in enumerate((60, 1514, 9000, 60 + 77)):
            f = eth_frame(i, size)[:size]
            sent_net.add(f)
            send_frame(net, f)
            check_eq(recv_frame(g1, 5), f, f'QEMU -> member 1, {size} B')
            check_eq(recv_frame(g2, 5), f, f'QEMU -> member 2, {size} B')
        # colo-proxy -> QEMU and the other member; the sender's own
        # frame comes back to it, as in QEMU
        for i in range(50):
            f = eth_frame(100 + i, 60 + (i * 53) % 1454)
            sent_g1.add(f)
            send_frame(g1, f)
            check_eq(recv_other(net, sent_net), f, 'member 1 -> QEMU')
            check_eq(recv_frame(g2, 5), f, 'member 1 -> member 2')
            check_eq(recv_frame(g1, 5), f, 'member 1 gets its own frame')
        log(f"member 1 stats: {p1.qmp.cmd('query-netdev-stats', id='n0')}")
        check(p1.alive() and p2.alive(), "members alive")
        q.stop()
        p1.stop()
        p2.stop()
    finally:
        q.kill()
        p1.kill()
        p2.kill()


if __name__ == '__main__':
    run_tests([test_mcast_bus_with_qemu])
