#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_mirror_interop - our filter-mirror / filter-redirector against a
real QEMU 7.2 (qemu-system-x86_64 -M none) on the other end of the link.

QEMU has no guest here: two socket netdevs joined by a hub (hubport) make
a port whose filters run; the test plays both sockets.

  A. QEMU filter-mirror  ->  our filter-redirector (indev, queue=tx)
         test -> QEMU hn0 -[m0]-> tcp -> our r0 -> our guest socket
  B. our filter-mirror   ->  QEMU filter-redirector (indev, queue=tx)
         test -> our n0 -[m0]-> tcp -> QEMU f1 -> hub -> hn1 -> test
  C. the two mirrors' wire bytes are identical for the same input.

Each case runs plain and with vnet_hdr_support=on on both ends.
"""

import os
import time

from coloqtest import *

from test_mirror import Drain, filter_stats


def need_interop():
    need_qemu()
    need_types('stream', option='-netdev')
    need_types('stream', option='-device')
    need_types('filter-mirror', 'filter-redirector')


SIZES = [14, 60, 64, 100, 1514, 4000, 9000, 65536]


def frames_for_test():
    fs = [eth_frame(i, n)[:n] for i, n in enumerate(SIZES)]
    fs += [eth_frame(100 + i, 60 + (i * 97) % 1454) for i in range(1000)]
    return fs


def qemu_port(extra, vnet=False):
    """A QEMU with socket netdevs hn0 (test sends here) and hn1 (test
    receives here) on hub 0.  Returns (qemu, hn0 socket, hn1 socket)."""
    p0, p1 = free_tcp_ports(2)
    args = ['-netdev', f'socket,id=hn0,listen=127.0.0.1:{p0}',
            '-netdev', 'hubport,id=hp0,hubid=0,netdev=hn0',
            '-netdev', f'socket,id=hn1,listen=127.0.0.1:{p1}',
            '-netdev', 'hubport,id=hp1,hubid=0,netdev=hn1'] + list(extra)
    q = Qemu(args)
    a = connect_tcp(p0, proc=q)
    b = connect_tcp(p1, proc=q)
    time.sleep(0.3)             # QEMU accepts in its main loop
    return q, a, b


def vnet_opt(vnet):
    return ',vnet_hdr_support=on' if vnet else ''


def wait_connected(qmp, fid, key, what):
    """Waits until filter 'fid' reports 'key' (in-connected,
    out-connected) true; False at once when this colo-proxy's filter
    stats do not have it (the caller then waits its own way)."""
    st = filter_stats(qmp, fid)
    if st is None or key not in st:
        return False
    wait_for(lambda: filter_stats(qmp, fid)[key], 10, what=what)
    return True


def check_qemu_to_ours(qa, qb, port, fid, via):
    """Frames sent into QEMU's hn0 (socket qa) reach QEMU's hn1 (qb, its
    own forwarding) and, through QEMU's filter-mirror and our
    filter-redirector 'fid', our guest socket: each of SIZES alone, then
    a burst of 1000 back to back; 'fid' counted them all, no framing
    error.  'via' names the path in the messages.  Shared with
    test_tls_interop (the same over TLS)."""
    frames = frames_for_test()
    for f in frames[:len(SIZES)]:
        send_frame(qa, f)
        check_eq(recv_frame(qb), f, 'QEMU forwarded')
        check_eq(recv_frame(port.guest), f, f'{len(f)} B via {via}')
    qdrain = Drain(qb)          # QEMU's own forwarding must not back up
    qa.sendall(b''.join(frame_bytes(f) for f in frames[len(SIZES):]))
    for i, f in enumerate(frames[len(SIZES):]):
        check_eq(recv_frame(port.guest), f, f'burst frame {i}')
    qdrain.stop_flag = True
    st = filter_stats(port.qmp, fid)
    if st is not None:
        check_eq(st.get('framing-errors'), 0, 'framing errors')
        check_eq(st.get('packets-in'), len(frames), 'packets-in')


def check_ours_to_qemu(port, qb, fid, via):
    """Frames sent into our n0 reach our guest and, through our
    filter-mirror 'fid' and QEMU's filter-redirector, QEMU's hn1 (socket
    qb): each of SIZES alone, then a burst of 1000; 'fid' sent them all.
    Shared with test_tls_interop."""
    guest = Drain(port.guest)
    frames = frames_for_test()
    for f in frames[:len(SIZES)]:
        send_frame(port.net, f)
        check_eq(recv_frame(qb), f, f'{len(f)} B via {via}')
    port.net.sendall(b''.join(frame_bytes(f) for f in frames[len(SIZES):]))
    for i, f in enumerate(frames[len(SIZES):]):
        check_eq(recv_frame(qb), f, f'burst frame {i}')
    wait_for(lambda: guest.frames >= len(frames), 10, what='our guest')
    guest.stop_flag = True
    st = filter_stats(port.qmp, fid)
    if st is not None:
        check_eq(st.get('packets-out'), len(frames), 'packets-out')


def case_qemu_mirror_to_our_redirector(vnet):
    pm = free_tcp_port()
    q, qa, qb = qemu_port(
        ['-chardev', f'socket,id=mirror0,host=127.0.0.1,port={pm},'
                     'server=on,wait=off',
         '-object', 'filter-mirror,id=m0,netdev=hn0,queue=tx,'
                    'outdev=mirror0' + vnet_opt(vnet)])
    port = StreamPort(extra=[
        '-chardev', f'socket,id=red0,host=127.0.0.1,port={pm},reconnect=1',
        '-object', 'filter-redirector,id=r0,netdev=n0,queue=tx,indev=red0'
                   + vnet_opt(vnet)])
    if not wait_connected(port.qmp, 'r0', 'in-connected',
                          'redirector connected to QEMU'):
        time.sleep(1.5)
    time.sleep(0.2)             # QEMU's side of the accept
    check_qemu_to_ours(qa, qb, port, 'r0', 'QEMU mirror -> our redirector')
    port.stop()
    q.stop()


def case_our_mirror_to_qemu_redirector(vnet):
    pm = free_tcp_port()
    port = StreamPort(extra=[
        '-chardev', chardev_tcp('mirror0', pm),
        '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,outdev=mirror0'
                   + vnet_opt(vnet)])
    q, qa, qb = qemu_port(
        ['-chardev', f'socket,id=red0,host=127.0.0.1,port={pm},reconnect=1',
         '-object', 'filter-redirector,id=f1,netdev=hn0,queue=tx,indev=red0'
                    + vnet_opt(vnet)])
    if not wait_connected(port.qmp, 'm0', 'out-connected',
                          'QEMU connected to our mirror'):
        time.sleep(1.5)
    time.sleep(0.2)
    check_ours_to_qemu(port, qb, 'm0', 'our mirror -> QEMU redirector')
    q.stop()
    port.stop()


class RawDrain(Drain):
    """Collects every byte read from a socket."""

    def __init__(self, sock):
        self.data = bytearray()
        super().__init__(sock)

    def run(self):
        import socket as _s
        self.sock.settimeout(0.2)
        while not self.stop_flag:
            try:
                d = self.sock.recv(1 << 20)
            except _s.timeout:
                continue
            except OSError:
                return
            if not d:
                return
            self.data += d


def case_wire_identical(vnet):
    pq, po = free_tcp_ports(2)
    q, qa, qb = qemu_port(
        ['-chardev', f'socket,id=mirror0,host=127.0.0.1,port={pq},'
                     'server=on,wait=off',
         '-object', 'filter-mirror,id=m0,netdev=hn0,queue=tx,'
                    'outdev=mirror0' + vnet_opt(vnet)])
    qm = connect_tcp(pq, proc=q)
    port = StreamPort(extra=[
        '-chardev', chardev_tcp('mirror0', po),
        '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,outdev=mirror0'
                   + vnet_opt(vnet)])
    om = connect_tcp(po, proc=port.proxy)
    time.sleep(0.3)
    frames = frames_for_test()
    wire = b''.join(frame_bytes(f) for f in frames)
    hl = 8 if vnet else 4
    n = sum(hl + len(f) for f in frames)
    # read all four sockets while sending: QEMU's mirror blocks its main
    # loop when its peer does not read
    rq, ro = RawDrain(qm), RawDrain(om)
    dq, do = Drain(qb), Drain(port.guest)
    qa.sendall(wire)
    port.net.sendall(wire)
    wait_for(lambda: len(rq.data) >= n and len(ro.data) >= n, 20,
             what='both mirror streams')
    got_q, got_o = bytes(rq.data), bytes(ro.data)
    for d in (rq, ro, dq, do):
        d.stop_flag = True
    check_eq(len(got_q), n, 'QEMU mirror bytes')
    check_eq(len(got_o), n, 'our mirror bytes')
    check(got_q == got_o, 'QEMU and colo-proxy mirror bytes differ')
    check_eq(got_o[:hl], frame_bytes(frames[0], 0 if vnet else None)[:hl],
             'first header')
    q.stop()
    port.stop()


def test_qemu_mirror_to_our_redirector():
    need_interop()
    case_qemu_mirror_to_our_redirector(False)


def test_qemu_mirror_to_our_redirector_vnet():
    need_interop()
    case_qemu_mirror_to_our_redirector(True)


def test_our_mirror_to_qemu_redirector():
    need_interop()
    case_our_mirror_to_qemu_redirector(False)


def test_our_mirror_to_qemu_redirector_vnet():
    need_interop()
    case_our_mirror_to_qemu_redirector(True)


def test_mirror_wire_identical():
    need_interop()
    case_wire_identical(False)


def test_mirror_wire_identical_vnet():
    need_interop()
    case_wire_identical(True)


if __name__ == '__main__':
    run_tests([test_qemu_mirror_to_our_redirector,
               test_qemu_mirror_to_our_redirector_vnet,
               test_our_mirror_to_qemu_redirector,
               test_our_mirror_to_qemu_redirector_vnet,
               test_mirror_wire_identical,
               test_mirror_wire_identical_vnet])
