#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_colo_pairs - many VM pairs in one colo-proxy process.

Each pair has its own colo-frame (driver=event, primary), its own
colo-compare bound to it with frame=, its own three chardevs (the test
plays both guests and reads what is released) and, where the test needs
filters, its own netdev with a filter-mirror bound to the frame.

Covered: a miscompare and its checkpoint in pair A flush A's compare and
not B's (held frames, counters); x-colo-checkpoint/-done address a pair
with 'frame' and refuse to guess among several; failover of A leaves B
replicated (B's compare still compares and requests checkpoints, B's
filters stay on, COLO_EXIT names A); object-del of a whole pair while
traffic flows in the other (every frame of the other released exactly
once, in order; the ASan build checks nothing leaks); bad input: a
compare or filter bound to a missing frame, an unbound one among several
frames, a second frame while an object is bound implicitly, two frames'
filters on one netdev; several colo-proxy objects (one per pair) in one
process; a colo-heartbeat per pair fails over only its pair.  The
per-object events (COLO_COMPARE_MISCOMPARE, COLO_HEARTBEAT_LOST) name
the pair with 'frame'.
"""

import os
import threading
import time

from coloqtest import *
import comparepkt as pk


def pairs_proxy(names, filters=False, args=()):
    """A colo-proxy with one pair per name: colo-frame f<name>, compare
    c<name> on chardevs <name>pri/<name>sec/<name>out, and with 'filters'
    a netdev n<name> carrying filter-mirror m<name> (outdev <name>mir).
    Returns (proxy, {name: (pri, sec, out)})."""
    d = tmpdir('cqpair')
    a = []
    for n in names:
        for link in ('pri', 'sec', 'out') + (('mir',) if filters else ()):
            a += ['-chardev', chardev_unix(n + link,
                                           os.path.join(d, n + link))]
        a += ['-object', f'colo-frame,id=f{n},mode=primary,driver=event,'
                         'min-interval=0']
        if filters:
            a += ['-netdev', stream_netdev(f'n{n}',
                                           os.path.join(d, n + 'net'))]
            a += ['-object', f'filter-mirror,id=m{n},netdev=n{n},queue=tx,'
                             f'outdev={n}mir,frame=f{n}']
        a += ['-object', f'colo-compare,id=c{n},primary_in={n}pri,'
                         f'secondary_in={n}sec,outdev={n}out,frame=f{n}']
    a += list(args)
    p = ColoProxy(a, dir=d)
    socks = {}
    for n in names:
        socks[n] = tuple(connect_unix(os.path.join(d, n + link), proc=p)
                         for link in ('pri', 'sec', 'out'))
        if filters:
            socks[n + 'mir'] = connect_unix(os.path.join(d, n + 'mir'),
                                            proc=p)
    time.sleep(0.1)              # the OPENED events reach the iothreads
    return p, socks


def cstats(p, id):
    return p.qmp.cmd('query-colo-compare-stats', id=id)[0]


def hold(pri, payload):
    """A primary UDP frame without its secondary counterpart: held."""
    f = pk.udp(payload)
    send_frame(pri, f)
    return f


def miscompare(pri, sec, payload):
    f = pk.udp(payload)
    send_frame(pri, f)
    send_frame(sec, pk.udp(payload[:-1] + b'X'))
    return f


def request_of(p, frame):
    """The next COLO_CHECKPOINT_REQUEST, which must be 'frame's."""
    ev = p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=5)
    check_eq(ev['data'].get('frame'), frame, 'request frame')
    return ev


def test_checkpoint_isolated():
    p, s = pairs_proxy(['a', 'b'])
    with p:
        apri, asec, aout = s['a']
        bpri, bsec, bout = s['b']
        held_b = hold(bpri, b'b waits for its twin')
        held_a = miscompare(apri, asec, b'a differs')
        ev = p.qmp.get_event('COLO_COMPARE_MISCOMPARE', timeout=5)
        check_eq((ev['data']['id'], ev['data'].get('frame')), ('ca', 'fa'),
                 'the miscompare names its compare and its pair')
        ev = request_of(p, 'fa')
        check_eq(ev['data']['source'], 'ca', 'request source')
        expect_no_frame(aout, 0.2)
        # one frame among several: the commands ask which
        expect_qmp_error(p.qmp.cmd, 'x-colo-checkpoint-done',
                         contains=["2 COLO pairs", "'fa'", "'fb'", "'frame'"])
        expect_qmp_error(p.qmp.cmd, 'query-colo-status',
                         contains="'frame' argument")
        expect_qmp_error(p.qmp.cmd, 'query-colo-stats', frame='nope',
                         contains="colo-frame 'nope' does not exist")
        expect_qmp_error(p.qmp.cmd, 'x-colo-checkpoint-done', frame='fb',
                         contains='no checkpoint is in flight')
        p.qmp.cmd('x-colo-checkpoint-done', frame='fa')
        check_eq(recv_frame(aout), held_a, "a's held frame released")
        ev = p.qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)
        check_eq(ev['data'].get('frame'), 'fa', 'done frame')
        # b's compare saw no checkpoint: its frame still waits
        expect_no_frame(bout, 0.3)
        sa, sb = cstats(p, 'ca'), cstats(p, 'cb')
        check_eq(sa['checkpoints-handled'], 1, "a's checkpoints")
        check_eq(sb['checkpoints-handled'], 0, "b's checkpoints")
        check_eq(sb['primary']['held'], 1, "b's held")
        fa = p.qmp.cmd('query-colo-stats', frame='fa')
        fb = p.qmp.cmd('query-colo-stats', frame='fb')
        check_eq((fa['started'], fa['completed']), (1, 1), 'fa counters')
        check_eq((fb['started'], fb['completed'],
                  sum(fb['requests'].values())), (0, 0, 0), 'fb counters')
        # b's own checkpoint, by hand, releases b's frame only
        p.qmp.cmd('x-colo-checkpoint', frame='fb')
        request_of(p, 'fb')
        p.qmp.cmd('x-colo-checkpoint-done', frame='fb')
        check_eq(recv_frame(bout), held_b, "b's held frame released")
        expect_no_frame(aout, 0.2)
        check_eq(cstats(p, 'ca')['checkpoints-handled'], 1, "a's again")
        p.stop()


def test_failover_isolated():
    p, s = pairs_proxy(['a', 'b'], filters=True)
    with p:
        apri, asec, aout = s['a']
        bpri, bsec, bout = s['b']
        held_a = hold(apri, b'a held at failover')
        time.sleep(0.1)
        p.qmp.cmd('x-colo-lost-heartbeat', frame='fa')
        ev = p.qmp.get_event('COLO_EXIT', timeout=5)
        check_eq(ev['data'], {'mode': 'primary', 'reason': 'request',
                              'frame': 'fa'}, 'COLO_EXIT')
        check_eq(recv_frame(aout), held_a, 'a releases at failover')
        check_eq(p.qmp.cmd('query-colo-status', frame='fa')['mode'], 'none',
                 'a after failover')
        check_eq(p.qmp.cmd('query-colo-status', frame='fb'),
                 {'mode': 'primary', 'last-mode': 'none', 'reason': 'none',
                  'frame': 'fb'}, 'b untouched')
        check_eq(p.qmp.qom_get('/objects/ma', 'status'), 'off',
                 "a's mirror switched off")
        check_eq(p.qmp.qom_get('/objects/mb', 'status'), 'on',
                 "b's mirror still on")
        expect_qmp_error(p.qmp.cmd, 'x-colo-lost-heartbeat', frame='fa',
                         contains='already activated')
        # b still compares and checkpoints
        held_b = miscompare(bpri, bsec, b'b differs')
        request_of(p, 'fb')
        expect_no_frame(bout, 0.2)
        p.qmp.cmd('x-colo-checkpoint-done', frame='fb')
        check_eq(recv_frame(bout), held_b, "b's checkpoint")
        check_eq(p.qmp.cmd('query-colo-stats', frame='fb')['failovers'], 0,
                 "b's failovers")
        p.stop()


def test_delete_pair_under_traffic():
    names = ['a', 'b', 'c']
    p, s = pairs_proxy(names, filters=True)
    with p:
        bpri, bsec, bout = s['b']
        got, errors = [], []
        n = 3000
        sent = [pk.udp(b'b%06d' % i, sport=1000 + i % 50) for i in range(n)]

        def reader():
            try:
                while len(got) < n:
                    got.append(recv_frame(bout, timeout=10))
            except Exception as e:      # noqa: BLE001 (reported below)
                errors.append(e)

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        for i, f in enumerate(sent):
            send_frame(bpri, f)
            send_frame(bsec, f)
            if i == n // 3:
                # pair a goes, whole, while b's traffic flows: held
                # output first (object-del flushes it), then the frame
                hold(s['a'][0], b'a at deletion')
                p.qmp.object_del('ma')
                p.qmp.object_del('ca')
                p.qmp.object_del('fa')
            if i == n // 2:
                # and c's frame before its compare (compare orphaned,
                # then deleted), with a checkpoint request in flight
                miscompare(s['c'][0], s['c'][1], b'c differs')
                p.qmp.object_del('fc')
                p.qmp.object_del('cc')
                p.qmp.object_del('mc')
        t.join(30)
        check(not errors, f'reader: {errors}')
        check_eq(len(got), n, 'frames of b released')
        check(got == sent, 'b frames lost, duplicated or reordered')
        st = p.qmp.cmd('query-colo-status')      # b is the only pair now
        check_eq(st['mode'], 'primary', 'b still primary')
        check_eq(cstats(p, 'cb')['checkpoints-handled'], 0, 'b untouched')
        check_eq(p.qmp.qom_get('/objects/mb', 'status'), 'on', "b's mirror")
        # and a new pair may take a's place
        p.qmp.object_add('colo-frame', 'fa', mode='primary')
        p.qmp.object_add('colo-compare', 'ca', primary_in='apri',
                         secondary_in='asec', outdev='aout', frame='fa')
        p.qmp.object_del('ca')
        p.qmp.object_del('fa')
        p.stop()


def test_bad_input():
    d = tmpdir('cqpair')
    a = []
    for n in ('p1', 's1', 'o1', 'p2', 's2', 'o2', 'mx', 'my'):
        a += ['-chardev', chardev_unix(n, os.path.join(d, n))]
    a += ['-netdev', stream_netdev('n0', os.path.join(d, 'net'))]
    with ColoProxy(a, dir=d) as p:
        q = p.qmp
        comp = dict(primary_in='p1', secondary_in='s1', outdev='o1')
        expect_qmp_error(q.object_add, 'colo-compare', 'c1', frame='nope',
                         **comp,
                         contains=["'c1'", "colo-frame 'nope' does not exist"])
        q.object_add('colo-frame', 'f1', mode='primary')
        q.object_add('colo-compare', 'c1', **comp)     # implicitly f1's
        # with one frame, bound and unbound filters of it share a netdev
        q.object_add('filter-mirror', 'm9', netdev='n0', outdev='my')
        q.object_add('filter-rewriter', 'r9', netdev='n0', frame='f1')
        q.object_del('r9')
        q.object_del('m9')
        expect_qmp_error(q.object_add, 'colo-frame', 'f2', mode='primary',
                         contains=["'c1'", "colo-frame 'f1' implicitly",
                                   'frame=f1'])
        q.object_del('c1')
        q.object_add('colo-compare', 'c1', frame='f1', **comp)
        q.object_add('colo-frame', 'f2', mode='primary')
        expect_qmp_error(q.object_add, 'colo-compare', 'c2', primary_in='p2',
                         secondary_in='s2', outdev='o2',
                         contains=["'c2'", '2 COLO pairs', 'frame='])
        expect_qmp_error(q.object_add, 'filter-mirror', 'm0', netdev='n0',
                         outdev='mx',
                         contains=["'m0'", '2 COLO pairs', 'frame='])
        expect_qmp_error(q.object_add, 'filter-mirror', 'm0', netdev='n0',
                         outdev='mx', frame='f3',
                         contains="colo-frame 'f3' does not exist")
        # two frames claiming one netdev
        q.object_add('filter-mirror', 'm1', netdev='n0', outdev='mx',
                     frame='f1')
        expect_qmp_error(q.object_add, 'filter-mirror', 'm2', netdev='n0',
                         outdev='my', frame='f2',
                         contains=["netdev 'n0' already belongs to "
                                   "colo-frame 'f1'", "'m1'"])
        # non-COLO filters are nobody's
        q.object_add('filter-buffer', 'b0', netdev='n0', interval=1000)
        expect_qmp_error(q.object_add, 'colo-frame', 'f1', mode='primary',
                         contains="Duplicate ID 'f1'")
        check(p.alive(), 'proxy died')
        p.stop()
    # on the command line: an error and exit 1
    r = run_proxy(['-chardev', chardev_unix('x', os.path.join(d, 'x')),
                   '-chardev', chardev_unix('y', os.path.join(d, 'y')),
                   '-chardev', chardev_unix('z', os.path.join(d, 'z')),
                   '-object', 'colo-frame,id=f1,mode=primary',
                   '-object', 'colo-compare,id=c,primary_in=x,'
                   'secondary_in=y,outdev=z,frame=f9'])
    check(r.returncode == 1, f'exit {r.returncode}: {r.stderr}')
    check("colo-frame 'f9' does not exist" in r.stderr, r.stderr)


def test_two_colo_proxies():
    """One process per host: a colo-proxy object per pair, each with its
    own frame; the parts are bound to it."""
    need_types('colo-proxy')
    d = tmpdir('cqpair')
    a = []
    for n in ('a', 'b'):
        a += ['-netdev', stream_netdev(f'hn{n}', os.path.join(d, n + 'net'))]
    for n in ('a', 'b'):
        a += ['-object', f'colo-proxy,id=cp{n},mode=primary,netdev=hn{n},'
                         f'addr=unix:{d}/{n}link,heartbeat=off']
    with ColoProxy(a, dir=d) as p:
        q = p.qmp
        check_eq(q.qom_get('/objects/cpa-comp0', 'frame'), 'cpa-colo',
                 "a's compare")
        check_eq(q.qom_get('/objects/cpb-m0', 'frame'), 'cpb-colo',
                 "b's mirror")
        q.cmd('x-colo-lost-heartbeat', frame='cpa-colo')
        check_eq(q.cmd('query-colo-status', frame='cpb-colo')['mode'],
                 'primary', 'b after a failed over')
        check_eq(q.qom_get('/objects/cpa-m0', 'status'), 'off', 'a mirror')
        check_eq(q.qom_get('/objects/cpb-m0', 'status'), 'on', 'b mirror')
        q.object_del('cpa')
        check_eq(q.cmd('query-colo-status')['mode'], 'primary',
                 'b, the only pair now')
        p.stop()


def test_heartbeat_per_pair():
    """Two secondaries in one process, a colo-heartbeat per pair
    (frame=, failover=on): the primary of pair a goes silent, pair a
    fails over, pair b stays a secondary."""
    need_types('colo-heartbeat')
    d = tmpdir('cqpair')
    hb = 'interval=50,timeout=400'
    peer, side = [], []
    for n in ('a', 'b'):
        path = os.path.join(d, 'hb' + n)
        peer += ['-chardev', chardev_unix(f'hs{n}', path),
                 '-object', f'colo-heartbeat,id=p{n},chardev=hs{n},{hb}']
        side += ['-chardev', chardev_unix(f'hc{n}', path, server=False,
                                          extra='reconnect=1'),
                 '-object', f'colo-frame,id=f{n},mode=secondary',
                 '-object', f'colo-heartbeat,id=h{n},chardev=hc{n},{hb},'
                            f'failover=on,frame=f{n}']
    with ColoProxy(peer, dir=d) as prim, ColoProxy(side) as sec:
        def alive():
            return all(i['state'] == 'alive'
                       for i in sec.qmp.cmd('query-colo-heartbeat'))
        wait_for(alive, 10, what='both heartbeats alive')
        prim.qmp.object_del('pa')          # pair a's primary goes silent
        ev = sec.qmp.get_event('COLO_HEARTBEAT_LOST', timeout=5)
        check_eq((ev['data']['id'], ev['data'].get('frame')), ('ha', 'fa'),
                 'lost heartbeat, and its pair')
        ex = sec.qmp.get_event('COLO_EXIT', timeout=5)
        check_eq(ex['data'], {'mode': 'secondary', 'reason': 'request',
                              'frame': 'fa'}, 'COLO_EXIT')
        check_eq(sec.qmp.cmd('query-colo-status', frame='fb')['mode'],
                 'secondary', 'pair b untouched')
        time.sleep(0.6)                    # b's heartbeat keeps going
        states = {i['id']: i['state']
                  for i in sec.qmp.cmd('query-colo-heartbeat')}
        check_eq(states['hb'], 'alive', "b's heartbeat")
        sec.stop()
        prim.stop()


def test_last_pair_keeps_its_name():
    """A pair bound by name keeps 'frame' in its events and status when
    it is the only one left (the other deleted), as its objects' events
    do; a single-pair command line without frame= keeps QEMU's shapes
    (found by tests/e2e/test_vm_qemu_pairs.py: COLO_CHECKPOINT_REQUEST
    lost its 'frame' while the COLO_COMPARE_MISCOMPARE before it had
    it)."""
    p, s = pairs_proxy(['a', 'b'])
    with p:
        p.qmp.object_del('ca')
        p.qmp.object_del('fa')
        bpri, bsec, _bout = s['b']
        miscompare(bpri, bsec, b'b differs')
        ev = p.qmp.get_event('COLO_COMPARE_MISCOMPARE', timeout=5)
        check_eq(ev['data'].get('frame'), 'fb', 'the miscompare names fb')
        request_of(p, 'fb')
        p.qmp.cmd('x-colo-checkpoint-done')      # one pair: no frame needed
        ev = p.qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)
        check_eq(ev['data'].get('frame'), 'fb', 'done frame')
        check_eq(p.qmp.cmd('query-colo-status').get('frame'), 'fb',
                 'query-colo-status of the last pair')
        p.stop()
    # one frame, nothing bound with frame=: QEMU's shapes
    d = tmpdir('cqpair')
    a = []
    for link in ('pri', 'sec', 'out'):
        a += ['-chardev', chardev_unix(link, os.path.join(d, link))]
    a += ['-object', 'colo-frame,id=colo0,mode=primary,driver=event',
          '-object', 'colo-compare,id=c0,primary_in=pri,secondary_in=sec,'
                     'outdev=out']
    with ColoProxy(a, dir=d) as p:
        p.qmp.cmd('x-colo-checkpoint')
        ev = p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=5)
        check('frame' not in ev['data'], f'unnamed pair: {ev["data"]}')
        check('frame' not in p.qmp.cmd('query-colo-status'),
              'unnamed pair: query-colo-status without frame')


if __name__ == '__main__':
    run_tests([test_checkpoint_isolated, test_failover_isolated,
               test_delete_pair_under_traffic, test_bad_input,
               test_two_colo_proxies, test_heartbeat_per_pair,
               test_last_pair_keeps_its_name])
