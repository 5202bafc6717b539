#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_lifetime - objects torn down while work for them crosses threads.

The rule (docs/devel/architecture.md, "Work that crosses threads"): a call
handed to an object's home context never runs once the object is torn
down, whatever the priorities of the queued work.  These tests delete
objects at the moment a hand-off to them is most likely still queued:

  - a colo-compare deleted in the same monitor read as the
    x-colo-checkpoint-done whose broadcast is queued to it on a busy
    iothread (issue 19, crash 1: SIGSEGV in compare_checkpoint), and the
    same for failover and for the mode-none answer to a request;
  - an iothread whose last compare is deleted while a broadcast to that
    compare is queued: the broadcast still completes (a checkpoint after
    it is reported done);
  - a half frame left on a chardev when its compare is deleted: the next
    compare on the same, still connected, chardev starts in step.
"""

import os
import socket
import threading
import time

from coloqtest import *
import comparepkt as pk

# Before the fix, the race of test_delete_during_checkpoint_broadcast hit
# about once in 700 rounds (under 1 ms each with the ASan build).
ROUNDS = int(os.environ.get('COLO_LIFETIME_ROUNDS', '8000'))
FAILOVER_ROUNDS = 25


class Pump:
    """Keeps a compare's iothread busy: identical frames on its primary
    and secondary links, the released ones drained from outdev."""

    def __init__(self, paths, proc, mismatch=False):
        self.mismatch = mismatch
        self.socks = [connect_unix(paths[n], proc=proc)
                      for n in ('pri', 'sec', 'out')]
        self.stop_ev = threading.Event()
        self.sent = 0
        self.threads = [threading.Thread(target=self._send, daemon=True),
                        threading.Thread(target=self._drain, daemon=True)]
        for t in self.threads:
            t.start()

    def _send(self):
        n = 0
        try:
            while not self.stop_ev.is_set():
                if self.mismatch:
                    # UDP payloads that differ: every frame a miscompare,
                    # a checkpoint request, a broadcast to every compare
                    send_frame(self.socks[0], pk.udp(b'p%d' % n))
                    send_frame(self.socks[1], pk.udp(b's%d' % n))
                else:
                    f = eth_frame(n, size=200, tag=b'pm')
                    for s in self.socks[:2]:
                        send_frame(s, f)
                n += 1
                self.sent = n
                if n % 64 == 0:
                    time.sleep(0.001)
        except OSError:
            pass

    def _drain(self):
        s = self.socks[2]
        s.settimeout(0.2)
        while not self.stop_ev.is_set():
            try:
                if not s.recv(65536):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(5)
        for s in self.socks:
            s.close()


def busy_iothread_proxy(mode='primary', frame=True, mismatch=False):
    """colo-proxy with iothread io0 (no polling) busy with compare c1,
    and three free chardevs a0/b0/o0 for a compare c0 on io0."""
    d = tmpdir('cql')
    paths = {n: os.path.join(d, n + '.sock')
             for n in ('pri', 'sec', 'out', 'a0', 'b0', 'o0')}
    a = ['-object', 'iothread,id=io0,poll-max-ns=0']
    for n in paths:
        a += ['-chardev', chardev_unix(n, paths[n])]
    a += ['-object', 'colo-compare,id=c1,primary_in=pri,secondary_in=sec,'
                     'outdev=out,iothread=io0']
    if frame:
        a += ['-object', f'colo-frame,id=colo0,mode={mode},driver=event,'
                         'min-interval=0']
    p = ColoProxy(a, dir=d)
    return p, Pump(paths, p, mismatch)


def add_c0(p):
    p.qmp.object_add('colo-compare', 'c0', primary_in='a0',
                     secondary_in='b0', outdev='o0', iothread='io0')


def answered(p, n):
    for _ in range(n):
        r = p.qmp.recv_reply()
        check('return' in r, f'command failed: {r!r}')


def test_delete_during_checkpoint_broadcast():
    """Issue 19, crash 1: checkpoint-done and object-del in one write."""
    need_types('colo-frame', 'colo-compare', 'iothread')
    p, pump = busy_iothread_proxy()
    try:
        for rnd in range(ROUNDS):
            add_c0(p)
            p.qmp.cmd('x-colo-checkpoint')
            p.qmp.get_event('COLO_CHECKPOINT_REQUEST')
            p.qmp.send_raw('{"execute": "x-colo-checkpoint-done"}\n'
                           '{"execute": "object-del", '
                           '"arguments": {"id": "c0"}}\n')
            answered(p, 2)
            p.qmp.get_event('COLO_CHECKPOINT_DONE')
        check(pump.sent > 0, 'traffic flowed')
        st = p.qmp.cmd('query-colo-status')
        check_eq(st['mode'], 'primary', 'mode')
    finally:
        pump.close()
    p.stop()


def test_delete_during_failover_broadcast():
    """The failover broadcast takes the same road."""
    need_types('colo-frame', 'colo-compare', 'iothread')
    for rnd in range(FAILOVER_ROUNDS):
        p, pump = busy_iothread_proxy()
        try:
            add_c0(p)
            p.qmp.send_raw('{"execute": "x-colo-lost-heartbeat"}\n'
                           '{"execute": "object-del", '
                           '"arguments": {"id": "c0"}}\n')
            answered(p, 2)
            p.qmp.get_event('COLO_EXIT')
        finally:
            pump.close()
        p.stop()


def test_delete_during_mode_none_broadcast():
    """Without a colo-frame every checkpoint request (here: c1 miscompares
    all the time) is answered by a broadcast to the compares at once:
    deleting c0 while those reach it is safe too."""
    need_types('colo-compare', 'iothread')
    p, pump = busy_iothread_proxy(frame=False, mismatch=True)
    try:
        wait_for(lambda: p.qmp.cmd('query-colo-compare-stats', id='c1')[0]
                 ['checkpoints-requested']['miscompare'] > 0,
                 what='c1 requests checkpoints')
        for rnd in range(ROUNDS // 4):
            add_c0(p)
            p.qmp.object_del('c0')
        st = p.qmp.cmd('query-colo-compare-stats', id='c1')[0]
        log(f'c1 requested {st["checkpoints-requested"]}')
    finally:
        pump.close()
    p.stop()


def test_broadcast_completes_when_iothread_goes():
    """A broadcast queued to a compare whose iothread is then deleted (so
    the queued call never runs) still completes: the frame goes on
    checkpointing."""
    need_types('colo-frame', 'colo-compare', 'iothread')
    d = tmpdir('cql')
    paths = {n: os.path.join(d, n + '.sock') for n in ('a0', 'b0', 'o0')}
    a = []
    for n in paths:
        a += ['-chardev', chardev_unix(n, paths[n])]
    a += ['-object', 'colo-frame,id=colo0,mode=primary,driver=event,'
                     'min-interval=0']
    with ColoProxy(a, dir=d) as p:
        for rnd in range(20):
            p.qmp.object_add('iothread', 'io9', **{'poll-max-ns': 0})
            add_c0_on = {'primary_in': 'a0', 'secondary_in': 'b0',
                         'outdev': 'o0', 'iothread': 'io9'}
            p.qmp.object_add('colo-compare', 'c0', **add_c0_on)
            p.qmp.cmd('x-colo-checkpoint')
            p.qmp.get_event('COLO_CHECKPOINT_REQUEST')
            p.qmp.send_raw('{"execute": "x-colo-checkpoint-done"}\n'
                           '{"execute": "object-del", '
                           '"arguments": {"id": "c0"}}\n'
                           '{"execute": "object-del", '
                           '"arguments": {"id": "io9"}}\n')
            answered(p, 3)
            p.qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)
        st = p.qmp.cmd('query-colo-status')
        check_eq(st['mode'], 'primary', 'mode')


def test_half_frame_after_delete():
    """Issue 19's suspicion, confirmed: a compare deleted with half a
    frame read from a still connected primary_in left the chardev's
    stream in the middle of that frame, and the next compare on the same
    chardev took the rest of it for a header (out of step: frames lost,
    or a framing error).  Now the delete drops that connection; the peer
    reconnects and starts on a frame boundary."""
    need_types('colo-compare', 'iothread')
    d = tmpdir('cql')
    paths = {n: os.path.join(d, n + '.sock') for n in ('a0', 'b0', 'o0')}
    a = ['-object', 'iothread,id=io0']
    for n in paths:
        a += ['-chardev', chardev_unix(n, paths[n])]
    with ColoProxy(a, dir=d) as p:
        add_c0(p)
        pri = connect_unix(paths['a0'], proc=p)
        sec = connect_unix(paths['b0'], proc=p)
        out = connect_unix(paths['o0'], proc=p)
        f0 = eth_frame(0, size=100, tag=b'hf')
        send_frame(pri, f0)                # a whole frame first: in step
        send_frame(sec, f0)
        check_eq(recv_frame(out, timeout=5), f0, 'frame before the delete')
        whole = frame_bytes(eth_frame(1, size=100, tag=b'hf'))
        pri.sendall(whole[:30])            # half a frame
        time.sleep(0.3)                    # read by c0
        p.qmp.object_del('c0')
        # the connection that is out of step is dropped ...
        pri.settimeout(5)
        try:
            eof = pri.recv(1) == b''
        except socket.timeout:
            eof = False
        except ConnectionResetError:
            eof = True
        check(eof, 'primary_in connection dropped by the delete')
        pri.close()
        # ... the secondary's, on a frame boundary, is kept
        add_c0(p)
        pri = connect_unix(paths['a0'], proc=p)
        time.sleep(0.3)
        f2 = eth_frame(2, size=100, tag=b'hf')
        send_frame(pri, f2)
        send_frame(sec, f2)
        check_eq(recv_frame(out, timeout=5), f2,
                 'the first frame released after re-adding')
        st = p.qmp.cmd('query-colo-compare-stats', id='c0')[0]
        check_eq(sum(st['framing-errors'].values()), 0, 'framing errors')
        for s in (pri, sec, out):
            s.close()


def test_half_frame_after_redirector_delete():
    """The same for a filter-redirector's indev."""
    need_types('filter-redirector')
    d = tmpdir('cql')
    rin = os.path.join(d, 'rin.sock')
    port = StreamPort(extra=['-chardev', chardev_unix('rin', rin),
                             '-object', 'filter-redirector,id=r0,netdev=n0,'
                                        'queue=tx,indev=rin'], dir=d)
    p = port.proxy
    s = connect_unix(rin, proc=p)
    time.sleep(0.2)
    f = eth_frame(7, size=80, tag=b'hr')
    send_frame(s, f)
    check_eq(recv_frame(port.guest, timeout=5), f, 'redirected frame')
    s.sendall(frame_bytes(f)[:20])
    time.sleep(0.3)
    p.qmp.object_del('r0')
    s.settimeout(5)
    try:
        eof = s.recv(1) == b''
    except socket.timeout:
        eof = False
    except ConnectionResetError:
        eof = True
    check(eof, 'indev connection dropped by the delete')
    s.close()
    p.qmp.object_add('filter-redirector', 'r1', netdev='n0', queue='tx',
                     indev='rin')
    s = connect_unix(rin, proc=p)
    time.sleep(0.2)
    f = eth_frame(8, size=80, tag=b'hr')
    send_frame(s, f)
    check_eq(recv_frame(port.guest, timeout=5), f, 'in step after re-adding')
    s.close()
    port.stop()


if __name__ == '__main__':
    run_tests([test_delete_during_checkpoint_broadcast,
               test_delete_during_failover_broadcast,
               test_delete_during_mode_none_broadcast,
               test_broadcast_completes_when_iothread_goes,
               test_half_frame_after_delete,
               test_half_frame_after_redirector_delete])
