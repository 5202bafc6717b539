#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_heartbeat - the colo-heartbeat object (colo/heartbeat.c).

Two colo-proxy processes joined by a unix socket chardev (one server, one
client with reconnect=1), or one process and a raw socket playing the
peer: the wire format ("COLO_HEARTBEAT <seq>" framed with a be32 length),
the states waiting -> alive -> lost -> alive, COLO_HEARTBEAT_LOST and
COLO_HEARTBEAT_RESTORED, failover=on (COLO_EXIT reason "request" on the
surviving side, query-colo-status), failover=on without COLO, garbage from
the peer, configuration errors, qom-set of the timing properties.
"""

import os
import socket
import struct
import time

from coloqtest import *

INTERVAL, TIMEOUT = 50, 400


def hb_args(path, server, failover=False, frame=None, interval=INTERVAL,
            timeout=TIMEOUT):
    a = ['-chardev', chardev_unix('hb', path, server=server,
                                  extra='' if server else 'reconnect=1'),
         '-object', f'colo-heartbeat,id=hb0,chardev=hb,interval={interval},'
                    f'timeout={timeout},failover={"on" if failover else "off"}']
    if frame:
        a += ['-object', f'colo-frame,id=colo0,mode={frame}']
    return a


def hb_info(p):
    infos = p.qmp.cmd('query-colo-heartbeat')
    check_eq(len(infos), 1, 'heartbeat objects')
    return infos[0]


def wait_state(p, state, timeout=5.0):
    return wait_for(lambda: hb_info(p)['state'] == state and hb_info(p),
                    timeout, what=f'heartbeat state {state}')


def pair(dir, failover_a=False, failover_b=False, frame_a=None,
         frame_b=None):
    path = os.path.join(dir, 'hb.sock')
    a = ColoProxy(hb_args(path, True, failover_a, frame_a))
    b = ColoProxy(hb_args(path, False, failover_b, frame_b))
    return a, b, path


def test_help_and_errors():
    need_types('colo-heartbeat')
    out = run_proxy(['-object', 'colo-heartbeat,help'])
    for prop in ('chardev', 'interval', 'timeout', 'failover'):
        check(prop + '=' in out.stdout, f'help lacks {prop}: {out.stdout}')
    d = tmpdir()
    path = os.path.join(d, 'x.sock')
    # missing chardev, unknown chardev, timeout too short
    r = run_proxy(['-object', 'colo-heartbeat,id=hb0'])
    check(r.returncode != 0 and 'chardev' in r.stderr, r.stderr)
    r = run_proxy(['-object', 'colo-heartbeat,id=hb0,chardev=nope'])
    check(r.returncode != 0 and 'nope' in r.stderr, r.stderr)
    r = run_proxy(['-chardev', chardev_unix('hb', path),
                   '-object', 'colo-heartbeat,id=hb0,chardev=hb,interval=100,'
                              'timeout=150'])
    check(r.returncode != 0 and 'twice' in r.stderr, r.stderr)
    with ColoProxy(hb_args(path, True)) as p:
        info = hb_info(p)
        check_eq(info['state'], 'waiting', 'state before any peer')
        check_eq(info['since-ms'], -1, 'since-ms before any peer')
        check_eq(info['connected'], False, 'connected')
        expect_qmp_error(p.qmp.cmd, 'query-colo-heartbeat', id='nope',
                         cls='DeviceNotFound')
        check_eq(p.qmp.cmd('query-colo-heartbeat', id='hb0')[0]['id'], 'hb0',
                 'query by id')
        # runtime changes are checked against each other
        expect_qmp_error(p.qmp.qom_set, '/objects/hb0', 'timeout', 60,
                         contains='twice')
        expect_qmp_error(p.qmp.qom_set, '/objects/hb0', 'interval', 300,
                         contains='half')
        p.qmp.qom_set('/objects/hb0', 'timeout', 1000)
        p.qmp.qom_set('/objects/hb0', 'interval', 200)
        check_eq(hb_info(p)['interval'], 200, 'interval after qom-set')
        # no loss is declared while the peer was never heard
        time.sleep(1.2)
        check_eq(hb_info(p)['losses'], 0, 'losses without a peer')
        check(hb_info(p)['send-errors'] > 0, 'send-errors without a peer')
        # the object can be deleted and re-added
        p.qmp.object_del('hb0')
        check_eq(p.qmp.cmd('query-colo-heartbeat'), [], 'after object-del')
        p.qmp.object_add('colo-heartbeat', 'hb1', chardev='hb')
        check_eq(hb_info(p)['interval'], 100, 'default interval')
        check_eq(hb_info(p)['timeout'], 1000, 'default timeout')


def test_wire_format():
    """A raw socket as the peer: what the object sends, and that it takes
    ours."""
    need_types('colo-heartbeat')
    d = tmpdir()
    path = os.path.join(d, 'hb.sock')
    with ColoProxy(hb_args(path, True)) as p:
        s = connect_unix(path, proc=p)
        seqs = []
        for _ in range(3):
            f = recv_frame(s, timeout=2)
            check(f.startswith(b'COLO_HEARTBEAT '), f'payload {f!r}')
            seqs.append(int(f.split()[1]))
        check(seqs == sorted(seqs) and len(set(seqs)) == 3,
              f'sequence numbers {seqs}')
        for i in range(1, 6):
            send_frame(s, b'COLO_HEARTBEAT %d' % i)
        info = wait_state(p, 'alive')
        check_eq(info['seq-received'], 5, 'seq-received')
        check_eq(info['bad'], 0, 'bad')
        check(info['connected'], 'connected')
        check_eq(info['connects'], 1, 'connects')
        s.close()


def test_garbage_drops_connection():
    need_types('colo-heartbeat')
    d = tmpdir()
    path = os.path.join(d, 'hb.sock')
    with ColoProxy(hb_args(path, True)) as p:
        for bad in (b'HELLO 1',                         # not a heartbeat
                    b'COLO_HEARTBEAT x1',               # not a number
                    b'COLO_HEARTBEAT ' + b'9' * 30,     # overflow
                    None):                              # framing: len 0
            s = connect_unix(path, proc=p)
            if bad is None:
                s.sendall(struct.pack('>I', 0))
            else:
                send_frame(s, bad)
            # the proxy drops the connection
            s.settimeout(3)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
            s.close()
        info = wait_for(lambda: hb_info(p)['bad'] >= 4 and hb_info(p),
                        what='bad counter')
        check_eq(info['state'], 'waiting', 'state after garbage')
        check(info['disconnects'] >= 4, f'disconnects {info}')
        # still usable
        s = connect_unix(path, proc=p)
        send_frame(s, b'COLO_HEARTBEAT 1')
        wait_state(p, 'alive')
        s.close()


def test_loss_and_restore_no_failover():
    need_types('colo-heartbeat', 'colo-frame')
    d = tmpdir()
    a, b, path = pair(d, frame_a='secondary')
    if True:
        wait_state(a, 'alive')
        wait_state(b, 'alive')
        time.sleep(0.3)
        ia, ib = hb_info(a), hb_info(b)
        check(ia['received'] > 2 and ib['received'] > 2, f'{ia} {ib}')
        b.kill()
        ev = a.qmp.get_event('COLO_HEARTBEAT_LOST', timeout=5)
        check_eq(ev['data']['id'], 'hb0', 'event id')
        check(ev['data']['since-ms'] >= TIMEOUT, f'since-ms {ev}')
        check_eq(ev['data']['failover'], False, 'event failover')
        check_eq(hb_info(a)['state'], 'lost', 'state after loss')
        st = a.qmp.cmd('query-colo-status')
        check_eq(st['mode'], 'secondary', 'mode without failover=on')
        # the peer comes back: restored, no failback needed (never left)
        b2 = ColoProxy(hb_args(path, False))
        with b2:
            ev = a.qmp.get_event('COLO_HEARTBEAT_RESTORED', timeout=5)
            check(ev['data']['lost-ms'] > 0, f'{ev}')
            info = wait_state(a, 'alive')
            check_eq(info['losses'], 1, 'losses')
            check_eq(info['restores'], 1, 'restores')
            check(info['out-of-order'] >= 1, f'restart not seen: {info}')
        a.stop()


def test_loss_fails_over_secondary():
    need_types('colo-heartbeat', 'colo-frame')
    d = tmpdir()
    a, b, path = pair(d, failover_b=True, frame_a='primary',
                      frame_b='secondary')
    if True:
        wait_state(b, 'alive')
        t0 = time.monotonic()
        a.kill()
        ev = b.qmp.get_event('COLO_HEARTBEAT_LOST', timeout=5)
        check_eq(ev['data']['failover'], True, 'event failover')
        ex = b.qmp.get_event('COLO_EXIT', timeout=5)
        dt = time.monotonic() - t0
        check_eq(ex['data'], {'mode': 'secondary', 'reason': 'request'},
                 'COLO_EXIT')
        check(dt < TIMEOUT / 1000 + 2, f'failover took {dt:.2f}s')
        st = b.qmp.cmd('query-colo-status')
        check_eq(st, {'mode': 'none', 'last-mode': 'secondary',
                      'reason': 'request'}, 'status after failover')
        info = hb_info(b)
        check_eq(info['failovers'], 1, 'failovers')
        expect_qmp_error(b.qmp.cmd, 'x-colo-lost-heartbeat',
                         contains='already activated')
        # the peer returning does not fail back
        a2 = ColoProxy(hb_args(path, True))
        with a2:
            b.qmp.get_event('COLO_HEARTBEAT_RESTORED', timeout=8)
            check_eq(b.qmp.cmd('query-colo-status')['mode'], 'none',
                     'no failback')
        b.stop()


def test_failover_without_colo():
    need_types('colo-heartbeat')
    d = tmpdir()
    a, b, path = pair(d, failover_a=True)
    if True:
        wait_state(a, 'alive')
        b.kill()
        a.qmp.get_event('COLO_HEARTBEAT_LOST', timeout=5)
        info = wait_for(lambda: hb_info(a)['failover-errors'] == 1 and
                        hb_info(a), what='failover-errors')
        check_eq(info['failovers'], 0, 'failovers')
        check(not any(e['event'] == 'COLO_EXIT' for e in a.qmp.events),
              'COLO_EXIT without COLO')
        a.stop()


if __name__ == '__main__':
    run_tests([test_help_and_errors, test_wire_format,
               test_garbage_drops_connection,
               test_loss_and_restore_no_failover,
               test_loss_fails_over_secondary,
               test_failover_without_colo])
