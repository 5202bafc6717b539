#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_storms - checkpoint storms in colo-compare (issue 17,
docs/storms.md): passthrough rules over QMP and on the command line
(add, del, query, bounds, malformed, overlap), exempt flows released at
once and their secondary copies dropped (counted per rule), the adaptive
policy (a storm -> buffered mode -> calm -> compare, with events and
query-colo-status), nothing released before the checkpoint covering it
commits, a storm while checkpoints fail (no frame lost or duplicated,
counted end to end), the proposed passthrough rule, applied on request
(and buffered mode left at the next commit).  Buffered mode in both
holds: buffered_hold=diverged (the default: matched frames leave at once,
a checkpoint once the primary is quiet) and buffered_hold=all (Remus).
"""

import os
import time

from coloqtest import *
import comparepkt as pk
from test_compare import compare_proxy, stats


def rules(p, id='comp0'):
    return p.qmp.cmd('query-colo-passthrough', id=id)


def storm(p, id='comp0'):
    return p.qmp.cmd('query-colo-storm', id=id)[0]


def test_rules_qmp():
    p, pri, sec, out = compare_proxy(
        'max_passthrough_rules=3,passthrough=tcp:10.0.0.0/24:443;icmp')
    with p:
        q = p.qmp
        got = [r['rule'] for r in rules(p)]
        check_eq(got, ['tcp:10.0.0.0/24:443', 'icmp'], 'command-line rules')
        q.cmd('colo-passthrough-add', id='comp0',
              rule='udp:*:*:[2001:db8::]/32:53')
        check_eq(len(rules(p)), 3, 'three rules')
        # bound
        expect_qmp_error(q.cmd, 'colo-passthrough-add', id='comp0',
                         rule='tcp:10.9.0.0/16', contains='3 rules already')
        check_eq(storm(p)['rules-refused-full'], 1, 'refused counted')
        # equal / overlapping rules are refused, naming the other rule
        q.cmd('colo-passthrough-del', id='comp0', rule='icmp')
        expect_qmp_error(q.cmd, 'colo-passthrough-add', id='comp0',
                         rule='tcp:10.0.0.0/24:443', contains='exists')
        expect_qmp_error(q.cmd, 'colo-passthrough-add', id='comp0',
                         rule='tcp:10.0.0.7/32:400-500',
                         contains="overlaps rule 'tcp:10.0.0.0/24:443'")
        expect_qmp_error(q.cmd, 'colo-passthrough-add', id='comp0',
                         rule='any', contains='overlaps')
        # not overlapping: other port, other protocol, other prefix
        q.cmd('colo-passthrough-add', id='comp0', rule='tcp:10.0.0.0/24:444')
        q.cmd('colo-passthrough-del', id='comp0', rule='tcp:10.0.0.0/24:444')
        q.cmd('colo-passthrough-add', id='comp0', rule='udp:10.0.0.0/24:443')
        # malformed
        for bad, text in [('', 'empty'), ('sctp', "protocol 'sctp'"),
                          ('tcp:10.0.0.1/24', 'host bits'),
                          ('tcp:10.0.0.0/33', 'prefix length'),
                          ('tcp:10.0.0.300', 'not an IPv4'),
                          ('tcp:fd00::1', 'brackets'),
                          ('tcp:[fd00::1', "missing ']'"),
                          ('tcp:*:90-80', 'range is empty'),
                          ('tcp:*:70000', 'not a port'),
                          ('icmp:*:80', 'icmp has no ports'),
                          ('tcp:*:*:*:*:*', 'too many fields'),
                          ('tcp:10.0.0.0/8:*:[fd00::]/8', 'families')]:
            expect_qmp_error(q.cmd, 'colo-passthrough-add', id='comp0',
                             rule=bad, contains=text)
        expect_qmp_error(q.cmd, 'colo-passthrough-del', id='comp0',
                         rule='udp:1.2.3.4/32', contains='no passthrough')
        expect_qmp_error(q.cmd, 'colo-passthrough-add', id='nope',
                         rule='udp', cls='DeviceNotFound')
        expect_qmp_error(q.cmd, 'query-colo-passthrough', id='nope',
                         cls='DeviceNotFound')
        # the canonical spelling is what del takes too
        q.cmd('colo-passthrough-del', id='comp0',
              rule='UDP:*:*:[2001:db8:0::]/32:53')
        check_eq([r['rule'] for r in rules(p)],
                 ['tcp:10.0.0.0/24:443', 'udp:10.0.0.0/24:443'], 'after del')
        p.stop()
    # the command line: a bad rule is an error message and exit 1
    r = run_proxy(['-chardev', chardev_unix('a', tmpdir('cqs') + '/a.sock'),
                   '-chardev', chardev_unix('b', tmpdir('cqs') + '/b.sock'),
                   '-chardev', chardev_unix('c', tmpdir('cqs') + '/c.sock'),
                   '-object', 'colo-compare,id=c0,primary_in=a,'
                   'secondary_in=b,outdev=c,passthrough=tcp:*:1-2;tcp:*:2'])
    check(r.returncode == 1, f'exit {r.returncode}: {r.stderr}')
    check('overlaps' in r.stderr and 'passthrough' in r.stderr, r.stderr)


def test_passthrough_release():
    p, pri, sec, out = compare_proxy(frame='mode=primary,driver=event')
    with p:
        p.qmp.cmd('colo-passthrough-add', id='comp0', rule='udp:*:53')
        # exempt: released at once, no secondary needed, no checkpoint
        frames = [pk.udp(b'tok%d' % i) for i in range(5)]
        for f in frames:
            send_frame(pri, f)
        check_eq([recv_frame(out) for _ in frames], frames, 'released at once')
        for i in range(5):
            send_frame(sec, pk.udp(b'other%d' % i))
        # a compared flow beside it is held until the secondary's copy
        c = pk.udp(b'compared', sport=54)
        send_frame(pri, c)
        expect_no_frame(out, 0.3)
        send_frame(sec, c)
        check_eq(recv_frame(out), c, 'compared flow')
        wait_for(lambda: rules(p)[0]['secondary-dropped'] == 5,
                 what='secondary copies dropped')
        r = rules(p)[0]
        check_eq(r['primary-packets'], 5, 'rule primary packets')
        check_eq(r['primary-bytes'], sum(len(f) for f in frames), 'bytes')
        st = stats(p)
        check_eq(st['released-uncompared']['passthrough'], 5, 'uncompared')
        check_eq(st['secondary-dropped']['passthrough'], 5, 'sec dropped')
        check(sum(st['checkpoints-requested'].values()) == 0, str(st))
        # deleted: compared again
        p.qmp.cmd('colo-passthrough-del', id='comp0', rule='udp:*:53')
        send_frame(pri, pk.udp(b'again'))
        expect_no_frame(out, 0.3)
        send_frame(sec, pk.udp(b'again'))
        check_eq(recv_frame(out), pk.udp(b'again'), 'compared after del')
        p.stop()


class Manager:
    """Plays the external manager of driver=event: answers each
    COLO_CHECKPOINT_REQUEST with x-colo-checkpoint-done (ok or not)."""

    def __init__(self, p):
        self.p = p
        self.ok = True
        self.answered = 0

    def pump(self, timeout=0.05):
        q = self.p.qmp
        try:
            ev = q.get_event('COLO_CHECKPOINT_REQUEST', timeout=timeout)
        except Exception:
            return None
        if self.ok:
            q.cmd('x-colo-checkpoint-done')
        else:
            q.cmd('x-colo-checkpoint-done', ok=False, error='test: failing')
        self.answered += 1
        return ev


def storm_proxy(extra=''):
    return compare_proxy('adaptive=on,storm_rate=5,storm_calm=2,'
                         'storm_calm_time=1000,buffered_period=100' + extra,
                         frame='mode=primary,driver=event')


def make_storm(p, pri, sec, out, m, seconds=1.6, sport=53):
    """Miscompares at ~20/s on one flow; returns the primary frames sent
    (every one must come out exactly once)."""
    sent = []
    t_end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < t_end:
        f = pk.udp(b'reply-%d-primary' % i, sport=sport)
        send_frame(pri, f)
        send_frame(sec, pk.udp(b'reply-%d-second' % i, sport=sport))
        sent.append(f)
        i += 1
        m.pump(0.05)
    return sent


def drain(out, timeout=0.5):
    got = []
    while True:
        f = recv_frame(out, timeout=timeout)
        if f is None:
            return got
        got.append(f)


def test_storm_buffered_and_back():
    """buffered_hold=all: a storm, matched frames held to a commit, calm,
    compare mode again; every frame once, in order."""
    p, pri, sec, out = storm_proxy(',buffered_hold=all')
    with p:
        m = Manager(p)
        check_eq(p.qmp.cmd('query-colo-status').get('proxy-mode'), 'compare',
                 'proxy-mode before')
        sent = make_storm(p, pri, sec, out, m)
        ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=3)
        check_eq(ev['data']['mode'], 'buffered', 'mode')
        check_eq(ev['data']['reason'], 'miscompare-rate', 'reason')
        check(ev['data']['miscompares-per-second'] >= 5, str(ev))
        prop = p.qmp.get_event('COLO_PASSTHROUGH_PROPOSED', timeout=3)
        check_eq(prop['data']['rule'], 'udp:10.0.0.1/32:53', 'proposal')
        check(not prop['data']['applied'], 'not applied without auto')
        check_eq(p.qmp.cmd('query-colo-status')['proxy-mode'], 'buffered',
                 'proxy-mode in a storm')
        # buffered: a matching frame is held until a checkpoint commits
        for _ in range(5):
            m.pump(0.05)
        got = drain(out, 0.3)
        f = pk.udp(b'matching', sport=99)
        send_frame(pri, f)
        send_frame(sec, f)
        expect_no_frame(out, 0.5)       # requests are not answered now
        check(storm(p)['held'] >= 1, str(storm(p)))
        ev = m.pump(2)
        check(ev is not None and 'periodic' in (ev['data'].get('detail') or
                                                'periodic'), str(ev))
        got += drain(out, 0.5)
        check(f in got, 'released at the commit')
        # calm: no miscompares for storm_calm_time, checkpoints answered
        t_end = time.monotonic() + 6
        mode = None
        while time.monotonic() < t_end and mode != 'compare':
            m.pump(0.1)
            try:
                mode = p.qmp.get_event('COLO_COMPARE_MODE',
                                       timeout=0.01)['data']['mode']
            except Exception:
                pass
        check_eq(mode, 'compare', 'back to compare mode')
        got += drain(out, 0.3)
        # every primary frame exactly once, in order
        check_eq([g for g in got if g != f], sent[len(sent) - len(
            [g for g in got if g != f]):], 'released in order')
        st = storm(p)
        check_eq(st['storms'], 1, 'storms')
        check_eq(st['calms'], 1, 'calms')
        check(st['requests-swallowed'] >= 1, str(st))
        check_eq(p.qmp.cmd('query-colo-status')['proxy-mode'], 'compare',
                 'proxy-mode after')
        s = stats(p)
        check_eq(s['released'], len(sent) + 1, 'released == sent')
        p.stop()


def test_storm_failing_checkpoints():
    """Checkpoints fail while the storm runs: nothing is released until one
    commits, then every frame exactly once, in order; failover releases
    what is left.  buffered_hold=diverged: the diverged flow's frames
    (matching or not, after its first miscompare) wait in the engine."""
    p, pri, sec, out = storm_proxy()
    with p:
        m = Manager(p)
        sent = make_storm(p, pri, sec, out, m)
        ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=3)
        check_eq(ev['data']['mode'], 'buffered', 'mode')
        got = drain(out, 0.3)
        # another flow diverges from its first frame on
        m.ok = False
        held = []
        for i in range(20):
            f = pk.udp(b'x%d' % i, sport=700)
            send_frame(pri, f)
            send_frame(sec, f if i % 2 else pk.udp(b'y%d' % i, sport=700))
            held.append(f)
            m.pump(0.02)
        for _ in range(10):
            m.pump(0.1)
        check_eq(drain(out, 0.3), [], 'nothing released while failing')
        frame = p.qmp.cmd('query-colo-stats')
        check(frame['failed'] >= 1, str(frame))
        m.ok = True
        while m.pump(0.5):
            pass
        got += drain(out, 0.5)
        # more held frames, then failover: released at once, in order
        f2 = [pk.udp(b'late%d' % i, sport=701) for i in range(3)]
        for f in f2:
            send_frame(pri, f)
        p.qmp.cmd('x-colo-lost-heartbeat')
        got += drain(out, 0.5)
        want = sent + held + f2
        check_eq(len(got), len(want), 'frames out == frames in')
        check_eq(sorted(got), sorted(want), 'each frame exactly once')
        check_eq([g for g in got if g in held], held, 'held in order')
        p.stop()


def test_storm_diverged_quiet():
    """The default buffered_hold=diverged: in a storm a matched frame of
    another flow leaves at once, as in compare mode, with no checkpoint;
    a diverged one waits for the commit of the checkpoint requested once
    the primary is quiet (well before buffered_period, 5 s here)."""
    p, pri, sec, out = compare_proxy(
        'adaptive=on,storm_rate=5,storm_calm_time=600000,'
        'buffered_period=5000', frame='mode=primary,driver=event')
    with p:
        m = Manager(p)
        sent = make_storm(p, pri, sec, out, m)
        ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=3)
        check_eq(ev['data']['mode'], 'buffered', 'mode')
        for _ in range(5):
            m.pump(0.05)
        got = drain(out, 0.3)
        check_eq(sorted(got), sorted(sent), 'the storm released')
        st0 = storm(p)
        check_eq(st0['hold'], 'diverged', 'hold')
        # matched: out at once, nothing asked
        f = pk.udp(b'matching', sport=99)
        send_frame(pri, f)
        send_frame(sec, f)
        check_eq(recv_frame(out, timeout=2), f, 'matched frame at once')
        # diverged: held; a checkpoint asked once the primary is quiet
        d = pk.udp(b'diverged-p', sport=98)
        t0 = time.monotonic()
        send_frame(pri, d)
        send_frame(sec, pk.udp(b'diverged-s', sport=98))
        ev = p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=3)
        check(time.monotonic() - t0 < 4.5, 'before the period')
        check_eq(ev['data']['reason'], 'buffered', 'policy request')
        expect_no_frame(out, 0.3)
        p.qmp.cmd('x-colo-checkpoint-done')
        check_eq(recv_frame(out, timeout=2), d, 'diverged at the commit')
        st = storm(p)
        check(st['quiet-checkpoints'] > st0['quiet-checkpoints'], str(st))
        check_eq(st['held'], 0, 'nothing held by buffered mode')
        # the property: run time, checked
        expect_qmp_error(p.qmp.qom_set, '/objects/comp0', 'buffered_hold',
                         'some', contains="'diverged' or 'all'")
        p.qmp.qom_set('/objects/comp0', 'buffered_hold', 'all')
        check_eq(storm(p)['hold'], 'all', 'hold set')
        p.stop()


def test_buffered_not_paced_by_min_interval():
    """Buffered mode's requests (reason "buffered") start at once: the
    frame's min-interval (3 s here) paces compare mode's miscompares, not
    buffered mode's schedule; two diverged episodes 0.3 s apart get two
    checkpoints 0.3 s apart.  Counted per reason in query-colo-stats."""
    p, pri, sec, out = compare_proxy(
        'adaptive=on,storm_rate=5,storm_calm_time=600000,'
        'buffered_period=5000', frame='mode=primary,driver=event,'
        'min-interval=3000')
    with p:
        m = Manager(p)
        make_storm(p, pri, sec, out, m)
        ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=3)
        check_eq(ev['data']['mode'], 'buffered', 'mode')
        # what compare mode asked for during the storm's first second
        # (min-interval paces those: one now, the rest 3 s later)
        while m.pump(3.5):
            pass
        drain(out, 0.3)
        before = p.qmp.cmd('query-colo-stats')['requests'].get('buffered', 0)
        starts = []
        for i in range(2):
            d = pk.udp(b'diverged-p%d' % i, sport=98)
            send_frame(pri, d)
            send_frame(sec, pk.udp(b'diverged-s%d' % i, sport=98))
            ev = m.pump(2.0)
            check(ev is not None, 'episode %d: no checkpoint in 2 s' % i)
            starts.append(time.monotonic())
            check_eq(ev['data']['reason'], 'buffered', 'reason')
            check_eq(recv_frame(out, timeout=2), d, 'released at the commit')
            time.sleep(0.3)
        gap = starts[1] - starts[0]
        check(gap < 1.5, 'second checkpoint %.2f s after the first: '
              'paced by min-interval' % gap)
        after = p.qmp.cmd('query-colo-stats')['requests']['buffered']
        check(after >= before + 2, 'requests.buffered %d -> %d'
              % (before, after))
        print('two buffered checkpoints %.2f s apart (min-interval 3 s)'
              % gap)
        p.stop()


def test_auto_passthrough_back():
    """auto_passthrough=on: the storm's flow becomes a rule, and buffered
    mode ends at the next commit (reason passthrough-applied); the flow
    then leaves at once, uncompared."""
    p, pri, sec, out = storm_proxy(',auto_passthrough=on')
    with p:
        m = Manager(p)
        sent = make_storm(p, pri, sec, out, m)
        ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=3)
        check_eq(ev['data']['mode'], 'buffered', 'mode')
        prop = p.qmp.get_event('COLO_PASSTHROUGH_PROPOSED', timeout=3)
        check(prop['data']['applied'], str(prop))
        check_eq([r['rule'] for r in rules(p)], ['udp:10.0.0.1/32:53'],
                 'rule applied')
        t_end = time.monotonic() + 3
        back = None
        while time.monotonic() < t_end and back is None:
            m.pump(0.05)
            try:
                back = p.qmp.get_event('COLO_COMPARE_MODE', timeout=0.01)
            except Exception:
                pass
        check(back is not None, 'back to compare mode')
        check_eq((back['data']['mode'], back['data']['reason']),
                 ('compare', 'passthrough-applied'), 'reason')
        got = drain(out, 0.5)
        check_eq(sorted(got), sorted(sent), 'each frame exactly once')
        f = pk.udp(b'exempt now', sport=53)
        send_frame(pri, f)
        check_eq(recv_frame(out, timeout=2), f, 'passed through')
        check_eq(storm(p)['mode'], 'compare', 'mode')
        p.stop()


def test_adaptive_qom_set():
    """adaptive switched on at run time, then off during the storm: back
    to compare mode at the next commit, reason adaptive-off; no frame lost
    or duplicated."""
    p, pri, sec, out = compare_proxy('storm_rate=5,buffered_period=100',
                                     frame='mode=primary,driver=event')
    with p:
        m = Manager(p)
        p.qmp.qom_set('/objects/comp0', 'adaptive', True)
        sent = make_storm(p, pri, sec, out, m)
        ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=3)
        check_eq(ev['data']['mode'], 'buffered', 'mode')
        p.qmp.qom_set('/objects/comp0', 'adaptive', False)
        for _ in range(10):
            m.pump(0.1)
        ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=3)
        check_eq((ev['data']['mode'], ev['data']['reason']),
                 ('compare', 'adaptive-off'), 'back')
        got = drain(out, 0.5)
        check_eq(sorted(got), sorted(sent), 'each frame exactly once')
        check(p.qmp.cmd('query-colo-status').get('proxy-mode') is None,
              'no proxy-mode without adaptive')
        p.stop()


def test_proxy_mode_per_pair():
    """Two pairs in one process: query-colo-status frame=X reports the
    checkpoint policy of X's compares only."""
    d = tmpdir('cqsp')
    a = []
    for n in ('a', 'b'):
        for c in ('pri', 'sec', 'out'):
            a += ['-chardev', chardev_unix(n + c, f'{d}/{n}{c}.sock')]
        a += ['-object', f'colo-frame,id=f{n},mode=primary,driver=event']
    a += ['-object', 'colo-compare,id=ca,primary_in=apri,secondary_in=asec,'
          'outdev=aout,frame=fa,adaptive=on',
          '-object', 'colo-compare,id=cb,primary_in=bpri,secondary_in=bsec,'
          'outdev=bout,frame=fb']
    with ColoProxy(a, dir=d) as p:
        check_eq(p.qmp.cmd('query-colo-status', frame='fa').get('proxy-mode'),
                 'compare', 'pair a: adaptive')
        check('proxy-mode' not in p.qmp.cmd('query-colo-status', frame='fb'),
              'pair b: not adaptive, QEMU\'s answer')
        check_eq([s['id'] for s in p.qmp.cmd('query-colo-storm')],
                 ['ca', 'cb'], 'both compares')
        p.stop()


def test_object_del_buffered():
    """object-del of a compare in buffered mode with frames held and no
    checkpoint committing: every frame leaves once, in order."""
    p, pri, sec, out = storm_proxy(',buffered_hold=all')
    with p:
        m = Manager(p)
        sent = make_storm(p, pri, sec, out, m)
        ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=3)
        check_eq(ev['data']['mode'], 'buffered', 'mode')
        got = drain(out, 0.3)
        m.ok = False
        more = [pk.udp(b'm%d' % i, sport=800) for i in range(10)]
        for f in more:
            send_frame(pri, f)
            send_frame(sec, f)
        wait_for(lambda: storm(p)['held'] >= 10, what='held')
        p.qmp.object_del('comp0')
        got += drain(out, 0.5)
        check_eq(sorted(got), sorted(sent + more), 'each frame exactly once')
        check_eq([g for g in got if g in more], more, 'in order')
        p.stop()


def test_buffered_begin_covers():
    """driver=qemu (a fake QEMU playing the recorded transcript): in
    buffered mode, what is held when both guests stop (MIGRATION_PASS:
    the checkpoint's begin) leaves at the commit (RESUME); a frame that
    arrives after the begin waits for the next checkpoint."""
    import test_colo_qemu_driver as qd
    qemu, proxy, pri, sec, out = qd.compare_setup(
        frame_opts='min-interval=0,', prefix='cqsq',
        compare_opts=',adaptive=on,storm_rate=3,buffered_period=60000,'
        'storm_calm_time=600000,buffered_hold=all,buffered_quiet=60000')
    try:
        t_end = time.monotonic() + 1.5
        i = 0
        while time.monotonic() < t_end:
            send_frame(pri, pk.udp(b'p%d' % i, sport=1000 + i))
            send_frame(sec, pk.udp(b's%d' % i, sport=1000 + i))
            i += 1
            time.sleep(0.05)
        ev = proxy.qmp.get_event('COLO_COMPARE_MODE', timeout=5)
        check_eq(ev['data']['mode'], 'buffered', 'buffered')
        # let the triggered checkpoints of the storm's start finish
        time.sleep(1.0)
        while recv_frame(out, timeout=0.3) is not None:
            pass
        # what the storm's miscompares left in the engine is held too (the
        # period is long here): counts are relative
        h0 = storm(proxy)['held']
        f1 = pk.udp(b'before the stop', sport=7)
        send_frame(pri, f1)
        send_frame(sec, f1)
        wait_for(lambda: storm(proxy)['held'] == h0 + 1, what='f1 held')
        qemu.play_periodic(0, upto=2)           # STOP, MIGRATION_PASS
        time.sleep(0.3)
        expect_no_frame(out, 0.2)               # not before the commit
        hb = storm(proxy)['held']               # + the engine's flush
        f2 = pk.udp(b'after the stop', sport=7)
        send_frame(pri, f2)
        send_frame(sec, f2)
        wait_for(lambda: storm(proxy)['held'] == hb + 1, what='f2 held')
        qemu.finish_periodic()                  # RESUME: the commit
        got = [recv_frame(out, timeout=5) for _ in range(hb)]
        check(f1 in got, 'f1 released at the commit')
        check(f2 not in got, 'f2 not released at the commit')
        expect_no_frame(out, 0.5)               # f2: not covered
        check_eq(storm(proxy)['held'], 1, 'f2 still held')
        proxy.qmp.cmd('x-colo-checkpoint')      # the next checkpoint
        check_eq(recv_frame(out, timeout=5), f2, 'f2 at the next commit')
    finally:
        proxy.stop()
        qemu.close()


if __name__ == '__main__':
    need_types('colo-compare')
    run_tests([test_rules_qmp, test_passthrough_release,
               test_storm_buffered_and_back, test_storm_failing_checkpoints,
               test_storm_diverged_quiet,
               test_buffered_not_paced_by_min_interval,
               test_auto_passthrough_back,
               test_adaptive_qom_set, test_proxy_mode_per_pair,
               test_object_del_buffered,
               test_buffered_begin_covers])
