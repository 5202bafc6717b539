#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_xen_colo - libxl's side of Xen COLO with the userspace proxy.

The test plays libxl as its source describes the conversation
(tools/libs/light/libxl_colo_proxy.c, libxl_colo_save.c,
libxl_colo_restore.c), against a colo-proxy standing where Xen's device
model QEMUs carry the proxy:

  primary (libxl_colo_save.c), colo-compare with notify_dev on a TCP
  server chardev (libxl connects to checkpoint_host:checkpoint_port):
    setup       connect; send "COLO_USERSPACE_PROXY_INIT" (be32 length +
                bytes, no vnet field); wait up to 500 ms for the reply
                ("COLO_COMPARE_GET_XEN_INIT")
    each checkpoint
      wait      up to COLO_PROXY_CHECKPOINT_TIMEOUT for "DO_CHECKPOINT"
                (a miscompare); none in time: a periodic checkpoint
      ...       suspend, send memory, SVM_READY from the secondary
      preresume send "COLO_CHECKPOINT" (the compare flushes), then
                QMP xen-colo-do-checkpoint (the filters' checkpoint);
                resume the guest
  secondary (libxl_colo_restore.c): at preresume, QMP
                xen-colo-do-checkpoint (filter-rewriter drops its
                offsets), then resume.

Checked: the handshake, DO_CHECKPOINT on a miscompare and none without,
the held primary frame released by COLO_CHECKPOINT, the QMP command's
return, COLO_CHECKPOINT_DONE origin "xen", the counters on both sides
(query-colo-compare-stats notify-*, query-colo-stats unrequested,
filter-rewriter checkpoints), periodic checkpoints, a libxl that
reconnects (a new domain save), and several pairs: the command asks
which, and checkpoints only the pair named.
"""

import os
import socket
import struct
import time

from coloqtest import *
import comparepkt as pk

# libxl's timeouts (libxl_colo_proxy.c COLO_DEFAULT_WAIT_TIME; the
# checkpoint wait is libxl's COLO_PROXY_CHECKPOINT_TIMEOUT, 1 s here)
INIT_WAIT = 0.5
CKPT_WAIT = 1.0


class Libxl:
    """libxl's userspace-proxy socket: colo_userspace_proxy_send/_recv."""

    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=5)

    def send(self, msg):
        self.s.sendall(struct.pack('>I', len(msg)) + msg)

    def recv(self, timeout):
        """One message, or None when nothing came in 'timeout' s (libxl
        then checkpoints anyway: its periodic mode)."""
        self.s.settimeout(timeout)
        try:
            hdr = recv_exact(self.s, 4, timeout)
        except (socket.timeout, TimeoutError):
            return None
        (n,) = struct.unpack('>I', hdr)
        return recv_exact(self.s, n, timeout)

    def setup(self):
        self.send(b'COLO_USERSPACE_PROXY_INIT')
        reply = self.recv(INIT_WAIT)
        check_eq(reply, b'COLO_COMPARE_GET_XEN_INIT', 'init reply')

    def close(self):
        self.s.close()


def primary(extra=()):
    d = tmpdir('cqxen')
    port = free_tcp_port()
    a = []
    for n in ('pri', 'sec', 'out'):
        a += ['-chardev', chardev_unix(n, os.path.join(d, n))]
    a += ['-chardev', chardev_tcp('ntf', port)]
    a += ['-object', 'colo-compare,id=comp0,primary_in=pri,'
                     'secondary_in=sec,outdev=out,notify_dev=ntf']
    a += list(extra)
    p = ColoProxy(a, dir=d)
    socks = [connect_unix(os.path.join(d, n), proc=p)
             for n in ('pri', 'sec', 'out')]
    time.sleep(0.1)
    return p, port, socks


def secondary():
    d = tmpdir('cqxen')
    a = ['-netdev', stream_netdev('hn0', os.path.join(d, 'net')),
         '-object', 'filter-rewriter,id=rew0,netdev=hn0,queue=all']
    return ColoProxy(a, dir=d)


def compare_stats(p):
    return p.qmp.cmd('query-colo-compare-stats', id='comp0')[0]


def rewriter_checkpoints(p):
    for e in p.qmp.cmd('query-netfilter-stats', id='rew0'):
        if e['id'] == 'rew0':
            return e['checkpoints']
    raise TestFailure('no stats for rew0')


def xen_checkpoint(p, origin='xen'):
    check_eq(p.qmp.cmd('xen-colo-do-checkpoint'), {}, 'xen-colo-do-checkpoint')
    ev = p.qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)
    check_eq(ev['data']['origin'], origin, 'COLO_CHECKPOINT_DONE origin')
    check_eq(ev['data']['id'], 0, 'COLO_CHECKPOINT_DONE id')


def test_libxl_conversation():
    p, port, (pri, sec, out) = primary()
    s = secondary()
    with p, s:
        xl = Libxl(port)
        xl.setup()
        rw0 = rewriter_checkpoints(s)
        for k in range(3):
            # the guests' output differs: the compare asks for a checkpoint
            held = pk.udp(b'primary %d' % k)
            send_frame(pri, held)
            send_frame(sec, pk.udp(b'second. %d' % k))
            check_eq(xl.recv(CKPT_WAIT), b'DO_CHECKPOINT', f'request {k}')
            expect_no_frame(out, 0.2)
            # libxl checkpoints; at the primary's preresume:
            xl.send(b'COLO_CHECKPOINT')
            check_eq(recv_frame(out), held, f'flushed at checkpoint {k}')
            xen_checkpoint(p)
            # and at the secondary's preresume
            xen_checkpoint(s)
            check_eq(rewriter_checkpoints(s), rw0 + k + 1,
                     f'rewriter checkpoints after {k}')
        # equal output: no request within libxl's wait, a periodic
        # checkpoint all the same
        same = pk.udp(b'same')
        send_frame(pri, same)
        send_frame(sec, same)
        check_eq(recv_frame(out), same, 'matching frame released')
        check_eq(xl.recv(CKPT_WAIT), None, 'no DO_CHECKPOINT')
        xl.send(b'COLO_CHECKPOINT')
        xen_checkpoint(p)
        xen_checkpoint(s)
        st = compare_stats(p)
        check_eq(st['notify-dev'], 'initialized', 'notify state')
        check_eq(st['notify-sent'], 3, 'DO_CHECKPOINT sent')
        check_eq(p.qmp.cmd('query-colo-stats')['unrequested'], 4,
                 'primary: xen checkpoints')
        check_eq(s.qmp.cmd('query-colo-stats')['unrequested'], 4,
                 'secondary: xen checkpoints')
        # a new save (libxl restarts: a new connection, INIT again)
        xl.close()
        xl = Libxl(port)
        xl.setup()
        send_frame(pri, pk.udp(b'again'))
        send_frame(sec, pk.udp(b'agaiX'))
        check_eq(xl.recv(CKPT_WAIT), b'DO_CHECKPOINT', 'after reconnect')
        xl.send(b'COLO_CHECKPOINT')
        check_eq(recv_frame(out), pk.udp(b'again'), 'flushed after reconnect')
        xen_checkpoint(p)
        xl.close()
        check(p.alive() and s.alive(), 'a proxy died')
        p.stop()
        s.stop()


def test_pairs():
    """Two pairs on one host: the command needs 'frame' and flushes only
    the pair named (its frame-driven compares, its filters)."""
    d = tmpdir('cqxen')
    a = []
    for n in ('a', 'b'):
        for link in ('pri', 'sec', 'out'):
            a += ['-chardev', chardev_unix(n + link,
                                           os.path.join(d, n + link))]
        a += ['-netdev', stream_netdev(f'hn{n}', os.path.join(d, n + 'net')),
              '-object', f'colo-frame,id=f{n},mode=primary',
              '-object', f'filter-rewriter,id=rew{n},netdev=hn{n},frame=f{n}',
              '-object', f'colo-compare,id=c{n},primary_in={n}pri,'
                         f'secondary_in={n}sec,outdev={n}out,frame=f{n}']
    with ColoProxy(a, dir=d) as p:
        socks = {n: [connect_unix(os.path.join(d, n + link), proc=p)
                     for link in ('pri', 'sec', 'out')] for n in ('a', 'b')}
        time.sleep(0.1)
        held = {}
        for n in ('a', 'b'):
            held[n] = pk.udp(b'held by ' + n.encode())
            send_frame(socks[n][0], held[n])      # no twin: held
        expect_qmp_error(p.qmp.cmd, 'xen-colo-do-checkpoint',
                         contains="'frame' argument")
        p.qmp.cmd('xen-colo-do-checkpoint', frame='fb')
        ev = p.qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)
        check_eq((ev['data']['origin'], ev['data']['frame']), ('xen', 'fb'),
                 'event')
        check_eq(recv_frame(socks['b'][2]), held['b'], "b's flush")
        expect_no_frame(socks['a'][2], 0.3)
        st = {e['id']: e['checkpoints']
              for e in p.qmp.cmd('query-netfilter-stats')
              if e['id'] in ('rewa', 'rewb')}
        check_eq(st, {'rewa': 0, 'rewb': 1}, 'rewriter checkpoints')
        p.stop()


if __name__ == '__main__':
    run_tests([test_libxl_conversation, test_pairs])
