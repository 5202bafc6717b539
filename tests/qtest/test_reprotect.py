#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_reprotect - the first step of re-protection (issue 14 §5): a side
that failed over switches to the primary role at run time, over QMP,
keeping its filter-rewriter's state for the connections from before the
failover.

A secondary colo-proxy (colo-frame mode=secondary, filter-rewriter rew0,
colo-quorum provider=manual, quorate) learns a connection's offsets from a
crafted handshake (tests/qtest/test_rewriter.py's frames); then:

  1. x-colo-lost-heartbeat: it fails over (colo-quorum allows it: quorate,
     no peer); the connection is still translated;
  2. object-del colo0, object-add colo-frame mode=primary: the frame is a
     primary again (query-colo-status), colo-quorum keeps its epoch;
  3. object-add filter-mirror behind rew0 (position=id=rew0): the client's
     frames reach the new secondary's link in the guest's sequence space,
     as a new secondary (a copy of this guest) needs them;
  4. a checkpoint (driver=event: x-colo-checkpoint, x-colo-checkpoint-done)
     leaves rew0's offsets alone (net/rewriter-engine.c: after failover,
     checkpoints do not reset), so the old connection is still translated;
  5. colo-compare and the two redirectors added at the chain's tail: the
     guest's output is held until the new secondary's copy matches, then
     released through rew0 into the client's sequence space.

scripts/colo-reprotect.py takes these steps on a real survivor, and
tests/ha/test_ha_qemu.py runs it with the real QEMU pair (docs/ha.md §4,
§6).
"""

import os
import time

from coloqtest import *
import test_rewriter as tr


def test_failover_then_primary_keeps_offsets():
    need_types('colo-quorum', 'colo-frame', 'filter-mirror')
    d = tmpdir('cqr')
    mir = os.path.join(d, 'mirror.sock')
    p = {n: os.path.join(d, n + '.sock') for n in ('cmp', 'out', 'sec')}
    l = tr.Link(['-chardev', chardev_unix('mir', mir),
                 # the primary's compare links, unused until step 5
                 '-chardev', chardev_unix('compare0', p['cmp']),
                 '-chardev', chardev_unix('compare0-0', p['cmp'],
                                          server=False),
                 '-chardev', chardev_unix('compare_out', p['out']),
                 '-chardev', chardev_unix('compare_out0', p['out'],
                                          server=False),
                 '-chardev', chardev_unix('sec', p['sec']),
                 '-object', 'colo-frame,id=colo0,mode=secondary',
                 '-object', 'colo-quorum,id=q0,netdev=n0,provider=manual,'
                            'x-quorate=on'])
    try:
        qmp = l.qmp
        tr.client_handshake(l)
        tr.established_traffic(l)
        # 1. failover
        qmp.cmd('x-colo-lost-heartbeat')
        st = qmp.cmd('query-colo-status')
        check_eq((st['mode'], st['last-mode']), ('none', 'secondary'), f'{st}')
        tr.established_traffic(l)
        # 2. the primary role, at run time
        qmp.cmd('object-del', id='colo0')
        qmp.object_add('colo-frame', 'colo1', mode='primary', driver='event')
        st = qmp.cmd('query-colo-status')
        check_eq((st['mode'], st['last-mode'], st['output-held']),
                 ('primary', 'secondary', False), f'{st}')
        q = qmp.cmd('query-colo-quorum')[0]
        check_eq((q['epoch'], q['stale']), (1, False), f'{q}')
        # 3. a mirror to the new secondary, behind the rewriter
        qmp.object_add('filter-mirror', 'm0', netdev='n0', queue='tx',
                       outdev='mir', position='id=rew0', insert='behind')
        peer = connect_unix(mir, proc=l.port.proxy)
        wait_for(lambda: any(f.get('out-connected') for f in
                             qmp.cmd('query-netfilter-stats', id='m0')), 5,
                 what='the mirror connected')
        f = tr.tcp_frame(False, tr.ACK, tr.C_ISN + 1, tr.P_ISN + 101,
                         ts=(5003, tr.P_TS + 7))
        send_frame(l.port.net, f)
        got = tr.parse_tcp(recv_frame(l.port.guest))
        copy = tr.parse_tcp(recv_frame(peer, 5))
        check_eq(got['ack'], (tr.S_ISN + 101) & tr.M32, 'guest gets its ack')
        check_eq(copy['ack'], got['ack'], 'the mirrored copy is in the '
                 "guest's sequence space")
        # 4. a checkpoint leaves the old connection's offsets alone
        qmp.cmd('x-colo-checkpoint')
        ev = qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=5)
        qmp.cmd('x-colo-checkpoint-done')
        qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)
        tr.established_traffic(l)
        c = qmp.cmd('query-colo-rewriter-connections')[0]
        check_eq(c['seq-offset'], (tr.S_ISN - tr.P_ISN) & tr.M32,
                 'offset kept across the checkpoint')
        # 5. colo-compare and the redirectors, on the tail side of rew0:
        # the guest's output is compared in its own sequence space and
        # translated by rew0 on its way out
        qmp.object_add('filter-redirector', 'redire0', netdev='n0',
                       queue='rx', indev='compare_out')
        qmp.object_add('filter-redirector', 'redire1', netdev='n0',
                       queue='rx', outdev='compare0')
        qmp.object_add('colo-compare', 'comp0', primary_in='compare0-0',
                       secondary_in='sec', outdev='compare_out0',
                       compare_timeout=60000)
        chain = [f['id'] for f in qmp.cmd('query-netfilters')]
        check_eq(chain, ['q0', 'rew0', 'm0', 'redire0', 'redire1'], 'chain')
        sec = connect_unix(p['sec'], proc=l.port.proxy)
        time.sleep(0.3)
        g = tr.tcp_frame(True, tr.ACK | tr.PSH, tr.S_ISN + 101,
                         tr.C_ISN + 1, ts=(tr.S_TS + 9, 5003),
                         payload=b'y' * 50)
        send_frame(l.port.guest, g)
        expect_no_frame(l.port.net, 0.5)      # held for the secondary's
        send_frame(sec, g)                    # the new secondary's copy
        out = tr.parse_tcp(recv_frame(l.port.net, 5))
        check(out is not None and out['ok'], f'released frame {out}')
        check_eq(out['seq'], (tr.P_ISN + 101) & tr.M32,
                 'compared, released, translated to the client\'s space')
        cst = qmp.cmd('query-colo-compare-stats', id='comp0')[0]
        log(f'compare after the role switch: {cst}')
        sec.close()
        peer.close()
    finally:
        l.stop()


if __name__ == '__main__':
    run_tests([test_failover_then_primary_keeps_offsets])
