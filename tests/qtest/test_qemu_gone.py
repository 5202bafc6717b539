#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_qemu_gone - one pair's primary QEMU dies while colo-proxy lives
(issue 17, many pairs per process): the pair's colo-heartbeat tells the
peer, which fails that pair over at once; the other pair is untouched.

Two colo-proxy processes play the two hosts, each with two pairs (frames
pa and pb, colo-frame driver=qemu) whose QEMUs are fake QMP peers
(test_colo_qemu_driver.FakeQemu), and one colo-heartbeat per pair bound
with frame=.  The heartbeat timeout is long (5 s): a failover before it
proves it was the explicit message, not the silence.

Cases: pa's primary QEMU vanishes (listener closed, socket file left:
ECONNREFUSED, as after kill -9) -> COLO_QEMU_GONE on the primary, which
fails pa over; the secondary gets COLO_HEARTBEAT_LOST reason
"qemu-gone", fails pa over and tells pa's secondary QEMU
(x-colo-lost-heartbeat, announce-self); pb stays in COLO on both sides.
Then pb's QEMU vanishes with its socket file (ENOENT): the same for pb.
A QEMU that still accepts connections but never speaks (hung) is never
declared gone, nor is one whose QMP connection merely drops once;
qemu-gone-after=0 turns the detection off.  The wire: what an older peer
sees is "COLO_HEARTBEAT_QEMU_GONE <seq>", which it rejects as not a
heartbeat.
"""

import os
import socket
import time

from coloqtest import *
from test_colo_qemu_driver import FakeQemu, SEC_GREETING

INTERVAL, TIMEOUT = 100, 5000


def hb_obj(name, failover, extra=''):
    return ['-object', f'colo-heartbeat,id=hb-{name},chardev=hb{name},'
                       f'frame={name},interval={INTERVAL},timeout={TIMEOUT},'
                       f'failover={"on" if failover else "off"}{extra}']


def host(d, mode, qemus, server, extra=''):
    """A colo-proxy for one host: per pair a colo-frame driver=qemu to its
    fake QEMU and a colo-heartbeat bound to it."""
    args = []
    for name, q in qemus.items():
        args += ['-object', f'colo-frame,id={name},mode={mode},driver=qemu,'
                            f'qemu-qmp=unix:{q.path},checkpoint-timeout=3000',
                 '-chardev', chardev_unix(f'hb{name}',
                                          os.path.join(d, f'hb{name}.sock'),
                                          server=server,
                                          extra='' if server
                                          else 'reconnect=1')]
        args += hb_obj(name, failover=True, extra=extra)
    return ColoProxy(args)


def fake(d, name, greeting=None):
    q = FakeQemu(os.path.join(d, f'{name}.qmp'))
    q.status = 'colo'
    if greeting:
        q.greeting = greeting
    return q


def hb(p, name):
    return p.qmp.cmd('query-colo-heartbeat', id=f'hb-{name}')[0]


def mode(p, name):
    return p.qmp.cmd('query-colo-status', frame=name)['mode']


def two_hosts(d, extra=''):
    pq = {n: fake(d, 'p' + n) for n in ('pa', 'pb')}
    sq = {n: fake(d, 's' + n, SEC_GREETING) for n in ('pa', 'pb')}
    prim = host(d, 'primary', pq, True, extra)
    sec = host(d, 'secondary', sq, False, extra)
    for n in ('pa', 'pb'):
        wait_for(lambda: hb(prim, n)['state'] == 'alive' and
                 hb(sec, n)['state'] == 'alive', 5,
                 what=f'heartbeat {n} alive on both sides')
        wait_for(lambda: 'query-migrate' in pq[n].names() and
                 'query-migrate' in sq[n].names(), 5,
                 what=f'{n}: both drivers connected')
    return pq, sq, prim, sec


def vanish(q, unlink=False):
    """kill -9 of a QEMU: its connection and listener close; the socket
    file stays (ECONNREFUSED) unless 'unlink' (ENOENT)."""
    q.close()
    if unlink:
        os.unlink(q.path)


def check_gone_failover(prim, sec, sq, name, t0):
    ev = prim.qmp.get_event('COLO_QEMU_GONE', timeout=5)
    check_eq((ev['data']['id'], ev['data']['frame']), (f'hb-{name}', name),
             'COLO_QEMU_GONE names the heartbeat and its pair')
    check(ev['data']['refused'] >= 2, f'refused: {ev["data"]}')
    ev = prim.qmp.get_event('COLO_EXIT', timeout=5)
    check_eq(ev['data'], {'mode': 'primary', 'reason': 'error',
                          'frame': name}, 'the primary side of the pair ended')
    ev = sec.qmp.get_event('COLO_HEARTBEAT_LOST', timeout=5)
    dt = time.monotonic() - t0
    check_eq((ev['data']['reason'], ev['data']['frame']), ('qemu-gone', name),
             'the secondary learned it from the message')
    check(dt < TIMEOUT / 1000.0, f'lost after {dt:.2f} s: not by timeout')
    ev = sec.qmp.get_event('COLO_EXIT', timeout=5)
    check_eq(ev['data'], {'mode': 'secondary', 'reason': 'request',
                          'frame': name}, 'secondary failed over')
    wait_for(lambda: 'announce-self' in sq[name].names(), 5,
             what=f'{name}: x-colo-lost-heartbeat, announce-self to its '
                  f'secondary QEMU')
    check('x-colo-lost-heartbeat' in sq[name].names(), sq[name].names())
    check_eq((mode(prim, name), mode(sec, name)), ('none', 'none'),
             f'{name} out of COLO on both sides')
    log(f'{name}: primary QEMU gone -> secondary failed over after '
        f'{dt * 1000:.0f} ms')
    return dt


def test_qemu_gone_fails_one_pair_over():
    need_types('colo-frame', 'colo-heartbeat')
    d = tmpdir('cqg')
    pq, sq, prim, sec = two_hosts(d)
    try:
        info = hb(prim, 'pa')
        check_eq((info['qemu-gone-after'], info['qemu-gone']), (2, False),
                 'default qemu-gone-after, nothing gone')
        t0 = time.monotonic()
        vanish(pq['pa'])
        check_gone_failover(prim, sec, sq, 'pa', t0)
        # pb untouched on both sides
        check_eq((mode(prim, 'pb'), mode(sec, 'pb')),
                 ('primary', 'secondary'), 'pb still in COLO')
        check('x-colo-lost-heartbeat' not in sq['pb'].names() and
              'x-colo-lost-heartbeat' not in pq['pb'].names(),
              'pb\'s QEMUs were not told to fail over')
        check_eq((hb(prim, 'pb')['state'], hb(sec, 'pb')['state'],
                  hb(sec, 'pb')['peer-gone'], hb(sec, 'pb')['losses']),
                 ('alive', 'alive', 0, 0), 'pb\'s heartbeat')
        for p in (prim, sec):
            st = p.qmp.cmd('query-colo-stats', frame='pb')
            check_eq(st['failovers'], 0, 'pb never failed over')
        pi, si = hb(prim, 'pa'), hb(sec, 'pa')
        check(pi['qemu-gone'] and pi['qemu-gone-declared'] == 1 and
              pi['gone-sent'] >= 1, f'primary hb-pa: {pi}')
        check(si['peer-gone'] >= 1 and si['losses'] == 1 and
              si['failovers'] == 1 and si['bad'] == 0,
              f'secondary hb-pa: {si}')
        qs = prim.qmp.cmd('query-colo-stats', frame='pa')['qemu']
        check(qs['refusals'] >= 2, f'driver refusals: {qs}')
        # repeats change nothing: one loss, one failover
        time.sleep(0.5)
        check_eq((hb(sec, 'pa')['losses'], hb(sec, 'pa')['failovers']),
                 (1, 1), 'repeated messages, one failover')

        # pb's QEMU goes with its socket file (ENOENT): pb fails over too
        t0 = time.monotonic()
        vanish(pq['pb'], unlink=True)
        check_gone_failover(prim, sec, sq, 'pb', t0)
        check(prim.proc.poll() is None and sec.proc.poll() is None,
              'both colo-proxies alive')
    finally:
        prim.stop()
        sec.stop()
        for q in list(pq.values()) + list(sq.values()):
            q.close()


def test_hung_qemu_is_not_gone():
    """A QEMU whose QMP socket accepts but never speaks, and one whose
    connection drops once and comes back: never gone."""
    need_types('colo-frame', 'colo-heartbeat')
    d = tmpdir('cqg')
    pq, sq, prim, sec = two_hosts(d)
    hung = None
    try:
        # a hiccup: the connection drops, the QEMU is still there
        pq['pb'].kill()
        wait_for(lambda: pq['pb'].connections >= 2, 5,
                 what='pb reconnected to its live QEMU')
        # pa hangs: the listener accepts (the backlog) but nobody speaks
        vanish(pq['pa'])
        hung = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        os.unlink(pq['pa'].path)
        hung.bind(pq['pa'].path)
        hung.listen(64)
        time.sleep(3.0)
        for n in ('pa', 'pb'):
            check_eq((mode(prim, n), mode(sec, n)), ('primary', 'secondary'),
                     f'{n} still in COLO')
            check_eq((hb(prim, n)['qemu-gone'], hb(sec, n)['peer-gone'],
                      hb(sec, n)['losses']), (False, 0, 0),
                     f'{n}: nothing declared gone')
        try:
            ev = prim.qmp.get_event('COLO_QEMU_GONE', timeout=0.1)
            raise TestFailure(f'unexpected {ev}')
        except TimeoutError:
            pass
        log('a hung QEMU (accepting, silent) and a dropped QMP connection: '
            'no failover in 3 s')
    finally:
        prim.stop()
        sec.stop()
        if hung:
            hung.close()
        for q in list(pq.values()) + list(sq.values()):
            q.close()


def test_wire_and_off():
    """What the peer reads (an older peer rejects it: not "COLO_HEARTBEAT
    "), and qemu-gone-after=0."""
    need_types('colo-frame', 'colo-heartbeat')
    out = run_proxy(['-object', 'colo-heartbeat,help']).stdout
    line = [ln for ln in out.splitlines() if 'qemu-gone-after=' in ln]
    check(line and '(default: 2)' in line[0], f'help: {out}')
    for after in (2, 0):
        d = tmpdir('cqg')
        q = fake(d, 'pa')
        path = os.path.join(d, 'hbpa.sock')
        p = ColoProxy(['-object', 'colo-frame,id=pa,mode=primary,'
                       f'driver=qemu,qemu-qmp=unix:{q.path}',
                       '-chardev', chardev_unix('hbpa', path, server=True)]
                      + hb_obj('pa', False, f',qemu-gone-after={after}'))
        peer = None
        try:
            wait_for(lambda: 'query-migrate' in q.names(), 5,
                     what='driver connected')
            peer = connect_unix(path, proc=p)
            vanish(q)
            seen, end = [], time.monotonic() + 3.0
            buf = b''
            peer.settimeout(0.2)
            while time.monotonic() < end:
                send_frame(peer, b'COLO_HEARTBEAT %d' % (len(seen) + 1))
                try:
                    buf += peer.recv(4096)
                except socket.timeout:
                    pass
                while len(buf) >= 4:
                    n = int.from_bytes(buf[:4], 'big')
                    if len(buf) < 4 + n:
                        break
                    seen.append(buf[4:4 + n])
                    buf = buf[4 + n:]
                if after and any(m.startswith(b'COLO_HEARTBEAT_QEMU_GONE ')
                                 for m in seen):
                    break
            gone = [m for m in seen if m.startswith(b'COLO_HEARTBEAT_QEMU_GONE ')]
            if after:
                check(gone and gone[0][len(b'COLO_HEARTBEAT_QEMU_GONE '):]
                      .isdigit(), f'messages: {seen[-3:]}')
                check(not gone[0].startswith(b'COLO_HEARTBEAT '),
                      'an older peer does not take it for a heartbeat')
                check_eq(mode(p, 'pa'), 'none', 'primary side ended')
            else:
                check(not gone, f'qemu-gone-after=0 sent {gone[:1]}')
                check_eq(mode(p, 'pa'), 'primary', 'still primary')
                check_eq(hb(p, 'pa')['qemu-gone'], False, 'not gone')
        finally:
            if peer:
                peer.close()
            p.stop()
            q.close()


if __name__ == '__main__':
    run_tests([test_qemu_gone_fails_one_pair_over, test_hung_qemu_is_not_gone,
               test_wire_and_off])
