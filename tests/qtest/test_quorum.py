#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_quorum - colo-quorum's decisions without a cluster.

colo-quorum (colo/quorum.c, docs/ha.md) with provider=manual: quorum and
the peer's membership are set over qom-set (x-quorate, x-peer-present),
so that what the object decides can be checked without corosync (the
cluster itself is tests/ha/).  Checks:

  - the output gate: guest frames do not reach the netdev while the node
    is not quorate, and do once it is; counted in query-colo-quorum;
  - no promotion without quorum, whoever asks (x-colo-lost-heartbeat):
    a QMP error, COLO_QUORUM_FAILOVER "refused", the frame stays secondary;
  - with quorum but the peer still a member, the failover is deferred
    and happens by itself when the peer leaves;
  - failover=on: the peer leaving while quorate fails over;
  - fencing: the command runs first (its environment), a failing command
    prevents the promotion, a succeeding one allows it;
  - colo-frame driver=qemu: QEMU hears nothing of a refused or deferred
    failover, and the usual x-colo-lost-heartbeat + announce-self of the
    one carried out;
  - query-colo-status shows quorate/output-held; bad property use errors;
  - one colo-quorum per pair (frame=, group=) in a process serving
    several: each decides its own pair's failover, epoch and gate.
"""

import os
import time

from coloqtest import *


def need_it():
    need_types('colo-quorum', 'colo-frame')
    need_types('stream', option='-netdev')


def quorum_port(mode='secondary', qextra='', extra=()):
    return StreamPort(['-object', f'colo-frame,id=colo0,mode={mode}',
                       '-object', 'colo-quorum,id=q0,netdev=n0,'
                                  f'provider=manual{qextra}'] + list(extra),
                      probe=False)


def q_info(qmp):
    r = qmp.cmd('query-colo-quorum')
    check_eq(len(r), 1, 'one colo-quorum')
    return r[0]


def guest_to_net(port, n, expect, timeout=1.0):
    send_frame(port.guest, eth_frame(n, tag=b'qg'))
    if expect:
        got = recv_frame(port.net, timeout)
        check(got == eth_frame(n, tag=b'qg'), f'frame {n}: got {got!r:.60}')
    else:
        expect_no_frame(port.net, timeout)


def test_gate_follows_quorum():
    need_it()
    port = quorum_port()
    try:
        qmp = port.qmp
        info = q_info(qmp)
        check(info['output-held'], f'held at start: {info}')
        check_eq(info.get('held-reason'), 'not quorate', 'reason')
        guest_to_net(port, 1, False)
        check_eq(q_info(qmp)['held'], 1, 'held count')
        qmp.cmd('qom-set', path='q0', property='x-quorate', value=True)
        ev = qmp.get_event('COLO_QUORUM_CHANGED', timeout=5)
        # the first one is the creation (held); then the release
        while ev['data']['output-held']:
            ev = qmp.get_event('COLO_QUORUM_CHANGED', timeout=5)
        check_eq(ev['data']['quorate'], True, 'event quorate')
        guest_to_net(port, 2, True)
        st = qmp.cmd('query-colo-status')
        check_eq((st.get('quorate'), st.get('output-held')), (True, False),
                 f'query-colo-status {st}')
        qmp.cmd('qom-set', path='q0', property='x-quorate', value=False)
        guest_to_net(port, 3, False)
        info = q_info(qmp)
        check_eq((info['held'], info['passed']), (2, 1), f'counters {info}')
        # the input direction is never gated
        send_frame(port.net, eth_frame(4, tag=b'qn'))
        check(recv_frame(port.guest, 2) == eth_frame(4, tag=b'qn'),
              'net -> guest passes')
    finally:
        port.stop()


def test_no_promotion_without_quorum():
    need_it()
    port = quorum_port()
    try:
        qmp = port.qmp
        expect_qmp_error(qmp.cmd, 'x-colo-lost-heartbeat',
                         contains=['refused', 'not quorate'])
        ev = qmp.get_event('COLO_QUORUM_FAILOVER', timeout=5)
        check_eq(ev['data']['action'], 'refused', f'{ev}')
        check_eq(qmp.cmd('query-colo-status')['mode'], 'secondary', 'mode')
        # quorate, the peer still a member: deferred, then done when it goes
        qmp.cmd('qom-set', path='q0', property='x-peer-present', value=True)
        qmp.cmd('qom-set', path='q0', property='x-quorate', value=True)
        expect_qmp_error(qmp.cmd, 'x-colo-lost-heartbeat',
                         contains='deferred')
        check_eq(qmp.cmd('query-colo-status')['mode'], 'secondary', 'mode')
        check(q_info(qmp)['failover-pending'], 'pending')
        qmp.cmd('qom-set', path='q0', property='x-peer-present', value=False)
        ev = qmp.get_event('COLO_EXIT', timeout=5)
        check_eq(ev['data']['mode'], 'secondary', f'{ev}')
        st = qmp.cmd('query-colo-status')
        check_eq((st['mode'], st['last-mode']), ('none', 'secondary'),
                 f'{st}')
        info = q_info(qmp)
        check_eq((info['refused'], info['deferred'], info['failovers'],
                  info['epoch']), (1, 1, 1, 1), f'{info}')
    finally:
        port.stop()


def test_failover_on_peer_leaving():
    need_it()
    port = quorum_port(mode='primary', qextra=',failover=on,x-quorate=on,'
                                              'x-peer-present=on')
    try:
        qmp = port.qmp
        check_eq(qmp.cmd('query-colo-status')['mode'], 'primary', 'mode')
        qmp.cmd('qom-set', path='q0', property='x-peer-present', value=False)
        ev = qmp.get_event('COLO_EXIT', timeout=5)
        check_eq(ev['data']['mode'], 'primary', f'{ev}')
    finally:
        port.stop()


def test_fencing():
    need_it()
    d = tmpdir('cqf')
    flag = os.path.join(d, 'fenced')
    fail = os.path.join(d, 'fail')
    open(fail, 'w').close()
    cmd = (f'echo "$COLO_FENCE_MODE" > {flag}; test ! -e {fail}')
    port = quorum_port(qextra=f',x-quorate=on,fence={cmd}')
    try:
        qmp = port.qmp
        expect_qmp_error(qmp.cmd, 'x-colo-lost-heartbeat', contains='fencing')
        ev = qmp.get_event('COLO_QUORUM_FAILOVER', timeout=5)
        check_eq(ev['data']['action'], 'fencing', f'{ev}')
        ev = qmp.get_event('COLO_QUORUM_FAILOVER', timeout=10)
        check_eq(ev['data']['action'], 'fence-failed', f'{ev}')
        with open(flag) as f:
            check_eq(f.read().strip(), 'secondary', 'COLO_FENCE_MODE')
        check_eq(qmp.cmd('query-colo-status')['mode'], 'secondary',
                 'no promotion after a failed fence')
        os.unlink(fail)
        expect_qmp_error(qmp.cmd, 'x-colo-lost-heartbeat', contains='fencing')
        ev = qmp.get_event('COLO_EXIT', timeout=10)
        check_eq(ev['data']['mode'], 'secondary', f'{ev}')
        info = q_info(qmp)
        check_eq((info['fence-runs'], info['fence-failures']), (2, 1),
                 f'{info}')
    finally:
        port.stop()


def test_deferred_failover_tells_qemu():
    """colo-frame driver=qemu (against test_colo_qemu_driver's scripted
    QEMU): a refused or deferred failover sends QEMU nothing; the one
    carried out when the peer leaves tells QEMU as a direct one does
    (x-colo-lost-heartbeat after the filters went off, then
    announce-self)."""
    need_it()
    import test_colo_qemu_driver as qd
    qemu, proxy, d = qd.secondary_failover_setup(
        ['-object', 'colo-quorum,id=q0,netdev=hn0,provider=manual'])
    try:
        seen, mon = qd.check_failover_order(qemu, proxy)
        qmp = proxy.qmp
        expect_qmp_error(qmp.cmd, 'x-colo-lost-heartbeat',
                         contains='not quorate')
        qmp.cmd('qom-set', path='q0', property='x-peer-present', value=True)
        qmp.cmd('qom-set', path='q0', property='x-quorate', value=True)
        expect_qmp_error(qmp.cmd, 'x-colo-lost-heartbeat',
                         contains='deferred')
        time.sleep(0.3)
        check('x-colo-lost-heartbeat' not in qemu.names(),
              f'QEMU told before the decision: {qemu.names()}')
        qmp.cmd('qom-set', path='q0', property='x-peer-present', value=False)
        ev = qmp.get_event('COLO_EXIT', timeout=5)
        check_eq(ev['data'], {'mode': 'secondary', 'reason': 'request'},
                 'COLO_EXIT')
        qd.check_told_after_filters(qemu, seen, mon)
    finally:
        proxy.stop()
        qemu.close()


def test_bad_use():
    need_it()
    with ColoProxy(['-netdev', stream_netdev('n0', os.path.join(
            tmpdir('cqb'), 'n.sock'))]) as p:
        qmp = p.qmp
        check_eq(qmp.cmd('query-colo-quorum'), [], 'none yet')
        qmp.object_add('colo-quorum', 'q0', netdev='n0', provider='manual')
        expect_qmp_error(qmp.object_add, 'colo-quorum', 'q1', netdev='n0',
                         provider='manual',
                         contains='one colo-quorum per VM pair')
        expect_qmp_error(qmp.cmd, 'qom-set', path='q0', property='stale',
                         value=True, contains='cleared')
        qmp.object_del('q0')
        try:
            qmp.object_add('colo-quorum', 'q2', netdev='n0')   # corosync
        except QMPError as e:
            # a build without libcpg/libvotequorum says so (CI builds them)
            check('built without corosync' in e.desc, e.desc)
        else:
            expect_qmp_error(qmp.cmd, 'qom-set', path='q2',
                             property='x-quorate', value=True,
                             contains='manual')
            # where no corosync runs (the usual test host): held, and why
            info = q_info(qmp)
            check_eq(info['provider'], 'corosync', 'provider')
            if not info['connected']:
                check(info['output-held'] and not info['quorate'] and
                      info['held-reason'] == 'no connection to corosync',
                      f'{info}')
            qmp.object_del('q2')
        expect_qmp_error(qmp.object_add, 'colo-quorum', 'q3', netdev='n0',
                         group='x' * 200, provider='manual',
                         contains=['group'])
        p.stop()


def test_quorum_per_pair():
    """Two pairs in one process, each with its own colo-quorum (frame=,
    group=): each decides its own pair's failover, epoch and quorum alone
    (pair a deferred while its peer is a member, pair b promoted; pair
    b's quorum lost leaves pair a quorate); a deferred failover is carried
    out on its own pair; a pair without colo-quorum is not gated; a second
    quorum for a pair, or a second pair in one group, is refused."""
    need_it()
    d = tmpdir('cqqp')
    a = []
    for n in ('a', 'b', 'c'):
        a += ['-netdev', stream_netdev(f'n{n}', os.path.join(d, n + '.sock')),
              '-object', f'colo-frame,id=f{n},mode=secondary']
    for n in ('a', 'b'):
        a += ['-object', f'colo-quorum,id=q{n},netdev=n{n},frame=f{n},'
                         f'group=g{n},provider=manual,x-quorate=on']
    with ColoProxy(a) as p:
        qmp = p.qmp

        def info():
            return {i['id']: i for i in qmp.cmd('query-colo-quorum')}

        def mode(f):
            return qmp.cmd('query-colo-status', frame=f)['mode']

        check_eq({k: v.get('frame') for k, v in info().items()},
                 {'qa': 'fa', 'qb': 'fb'}, 'query-colo-quorum frames')
        expect_qmp_error(qmp.object_add, 'colo-quorum', 'qa2', netdev='na',
                         frame='fa', group='gx', provider='manual',
                         contains="already decides for colo-frame 'fa'")
        expect_qmp_error(qmp.object_add, 'colo-quorum', 'qc', netdev='nc',
                         frame='fc', group='ga', provider='manual',
                         contains="already uses group 'ga'")

        # pair a's peer is still a member: its failover waits; pair b's
        # peer is gone: b promotes.  Neither looks at the other's quorum.
        qmp.cmd('qom-set', path='qa', property='x-peer-present', value=True)
        expect_qmp_error(qmp.cmd, 'x-colo-lost-heartbeat', frame='fa',
                         contains=["colo-quorum 'qa'", 'deferred'])
        ev = qmp.get_event('COLO_QUORUM_FAILOVER', timeout=5)
        check_eq((ev['data']['id'], ev['data']['action'],
                  ev['data'].get('frame')), ('qa', 'deferred', 'fa'), 'a')
        qmp.cmd('x-colo-lost-heartbeat', frame='fb')
        ev = qmp.get_event('COLO_QUORUM_FAILOVER', timeout=5)
        check_eq((ev['data']['id'], ev['data']['action'],
                  ev['data'].get('frame')), ('qb', 'promoted', 'fb'), 'b')
        ev = qmp.get_event('COLO_EXIT', timeout=5)
        check_eq(ev['data'].get('frame'), 'fb', 'COLO_EXIT of pair b')
        check_eq((mode('fa'), mode('fb')), ('secondary', 'none'), 'modes')
        i = info()
        check_eq((i['qa']['epoch'], i['qa']['failover-pending'],
                  i['qb']['epoch'], i['qb']['failovers']),
                 (0, True, 1, 1), 'epochs are per pair')

        # pair b's node loses quorum: only pair b's view changes
        qmp.cmd('qom-set', path='qb', property='x-quorate', value=False)
        ev = qmp.get_event('COLO_QUORUM_CHANGED', timeout=5)
        check_eq((ev['data']['id'], ev['data'].get('frame'),
                  ev['data']['output-held']), ('qb', 'fb', True), 'b held')
        sa = qmp.cmd('query-colo-status', frame='fa')
        sb = qmp.cmd('query-colo-status', frame='fb')
        check_eq((sa['quorate'], sa['output-held'], sb['quorate'],
                  sb['output-held']), (True, False, False, True),
                 'query-colo-status quorate per pair')

        # a's peer leaves: a's deferred failover is carried out on a
        qmp.cmd('qom-set', path='qa', property='x-peer-present', value=False)
        ev = qmp.get_event('COLO_EXIT', timeout=5)
        check_eq(ev['data'], {'mode': 'secondary', 'reason': 'request',
                              'frame': 'fa'}, 'COLO_EXIT of pair a')
        check_eq(info()['qa']['epoch'], 1, "a's epoch")
        # pair c has no colo-quorum: nothing gates it
        check('quorate' not in qmp.cmd('query-colo-status', frame='fc'),
              'pair c has no quorum view')
        qmp.cmd('x-colo-lost-heartbeat', frame='fc')
        check_eq(mode('fc'), 'none', 'pair c failed over')
        p.stop()


if __name__ == '__main__':
    run_tests([test_gate_follows_quorum, test_no_promotion_without_quorum,
               test_failover_on_peer_leaving, test_fencing,
               test_deferred_failover_tells_qemu, test_bad_use,
               test_quorum_per_pair])
