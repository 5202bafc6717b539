#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_vm_qemu_pairs - two real COLO pairs behind ONE colo-proxy per
host (issue 17, "many VM pairs per process").

test_vm_qemu_colo runs one real pair through two colo-proxies; here two
pairs (four QEMUs: the patched 10.0.2 of scripts/build-colo-qemu.sh under
TCG, the tiny guests of tests/vm/) share them: the primary host's one
colo-proxy serves both pairs' primary sides, the secondary host's one
colo-proxy both secondary sides (tests/vm/colopair.py, HostPairs):

  ns C: client 10.91.0.1 ==veth== ns L: br0 ==veth== ns P: ONE colo-proxy
                                    ||  (pa: 10.91.0.2)    frame pa: driver=qemu -> pair pa's primary QEMU,
                                    ||  (pb: 10.91.0.3)          compare on iothread pa-iothread1, heartbeat
                                    ||                     frame pb: the same for pair pb, iothread pb-...
                                    ==veth== ns S: ONE colo-proxy
                                                           frame pa, frame pb: driver=qemu each to its
                                                           secondary QEMU, redirectors, rewriter, heartbeat

Every COLO object is bound to its pair with frame=; each pair has its own
LAN interface on each host, guest address and MAC.

The checks, each its own PASS/FAIL line:

  1 both pairs reach COLO; each frame of each colo-proxy in its mode,
    its own qemu driver connected
  2 identical HTTP traffic to both pairs at once (every body checked, an
    echo connection to each) -> 0 checkpoint requests on either pair
  3 a reply that differs per VM on pair pa -> pa checkpoints (request,
    commit, events with frame=pa); pb's counters unchanged, no pb event
  4 pair pa's primary QEMU dies (kill -9) and pa fails over BY ITSELF:
    the primary colo-proxy's driver finds pa's QMP socket refusing
    (COLO_QEMU_GONE frame=pa, pa's primary side ends), pa's heartbeat
    tells the secondary colo-proxy (COLO_HEARTBEAT_LOST reason
    "qemu-gone"), which fails pa over: pa's secondary QEMU promoted and
    serving; pb still in COLO on both colo-proxies and both QEMUs, its
    echo connection byte-exact with no round trip over 1 s, and a
    miscompare on pb still checkpoints pb
  5 pa's COLO objects deleted at run time (object-del, chardev-remove)
    from both colo-proxies while pb and the promoted pa serve: the
    primary host drops all of pa, the secondary pa's filters, heartbeat
    and frame (the promoted VM keeps its netdev); pb untouched, still
    checkpointing; query-colo-status needs no frame= with one pair left
  6 both colo-proxies exit cleanly on SIGTERM (sanitizer reports, leaks)

Why check 4 needs the heartbeat's qemu-gone: the colo-heartbeat runs
between the two colo-proxies, which both stay up (pair pb needs them),
and a secondary colo-proxy never promotes its QEMU on a QEMU error alone
(colo/colo-qemu.c: "taking over waits for the heartbeat or the cluster
manager").  So the pair's heartbeat means "pa's primary side is alive",
its QEMU included: when the primary colo-proxy's qemu driver finds no
listener at pa's QMP socket twice (qemu-gone-after=2), the heartbeat
tells the peer at once (colo/heartbeat.c).  Before that, a cluster
manager had to send x-colo-lost-heartbeat frame=pa.

`python3 test_vm_qemu_pairs.py --print-cmdlines` prints the two
colo-proxies' command lines (docs/qemu.md shows them).  Needs root,
namespaces, the built QEMU: in CI a missing QEMU or guest
fails the test, elsewhere it is one SKIP line.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'vm'))

from colopair import *         # noqa: E402,F401,F403

N_IDENTICAL = 40           # check 2: requests per pair
STALL_MS = 1000            # check 4: pb's echo, as test_vm_qemu_colo's


def frame_events(px, names):
    """The colo-proxy's events named in 'names' so far, as (name, frame).
    A checkpoint QEMU took on its own (x-checkpoint-delay, 60 s here:
    COLO_CHECKPOINT_DONE with an origin other than "frame") is only
    logged: it belongs to its pair but nothing of the test caused it."""
    out = []
    for e in take_events(px.qmp, names):
        d = e.get('data') or {}
        if e['event'] == 'COLO_CHECKPOINT_DONE' and \
                d.get('origin', 'frame') != 'frame':
            log(f'(a periodic checkpoint of QEMU: {d})')
            continue
        out.append((e['event'], d.get('frame')))
    return out


COLO_EVENTS = ('COLO_COMPARE_MISCOMPARE', 'COLO_CHECKPOINT_REQUEST',
               'COLO_CHECKPOINT_DONE', 'COLO_CHECKPOINT_FAILED', 'COLO_EXIT')


def check_reached(hp, t_launch):
    dt = hp.start()
    log(f'both pairs in COLO {dt:.1f}s after the migrates '
        f'({time.monotonic() - t_launch:.1f}s from launch)')
    for pr in hp.pairs:
        for x, mode in ((hp.px, 'primary'), (hp.sx, 'secondary')):
            st = x.qmp.cmd('query-colo-status', frame=pr.frame)
            check_eq(st['mode'], mode, f'{mode} colo-proxy, frame {pr.frame}')
            q = x.qmp.cmd('query-colo-stats', frame=pr.frame).get('qemu', {})
            check_eq(q.get('state'), 'ready',
                     f'{mode} colo-proxy, frame {pr.frame}: qemu driver')
    # the two compares on two iothreads, each a thread of its own
    ios = [hp.px.qmp.cmd('query-colo-compare-stats',
                         id=f'{pr.frame}-comp0')[0]['iothread']
           for pr in hp.pairs]
    tids = {t['id']: t['thread-id']
            for t in hp.px.qmp.cmd('query-iothreads')}
    log(f'compares on iothreads {ios}, threads {tids}')
    check(len(set(ios)) == len(ios) and
          all(tids.get(i, 0) > 0 for i in ios) and
          len({tids[i] for i in ios}) == len(ios),
          f'each pair\'s compare on its own iothread: {ios} {tids}')
    # with several frames nothing is guessed
    expect_qmp_error(hp.px.qmp.cmd, 'query-colo-status', contains='frame')


def check_identical(hp):
    """2: both pairs at once, 0 checkpoint requests on either."""
    before = [pr.requests() for pr in hp.pairs]
    echoes = [Echo(hp.ns, hp.c, ip=pr.ip) for pr in hp.pairs]
    t0 = time.monotonic()
    bgs = [HTTPBackground(hp.ns, hp.c, [f'/cgi-bin/page?{1 + (k * 7 + i) % 60}'
                                        for k in range(N_IDENTICAL)],
                          ip=pr.ip)
           for i, pr in enumerate(hp.pairs)]
    results = [bg.result(timeout=120) for bg in bgs]
    dt = time.monotonic() - t0
    ends = [e.stop() for e in echoes]
    problems = []
    for pr, res, e, (n0, st0) in zip(hp.pairs, results, ends, before):
        try:
            times = check_pages(res)
        except TestFailure as x:
            problems.append(f'{pr.frame}: {x}')
            continue
        n1, st1 = pr.requests()
        cs = hp.px.qmp.cmd('query-colo-compare-stats',
                           id=f'{pr.frame}-comp0')[0]
        log(f'{pr.frame}: {len(res)} CGI requests (max '
            f'{max(times) * 1000:.0f} ms) every body right; echo {e}; '
            f'checkpoint requests {st0["requests"]} -> {st1["requests"]}; '
            f'compare matched {cs["matched"]}, mismatched '
            f'{cs["mismatched"]}')
        if e['error'] or e['lines'] <= 0:
            problems.append(f'{pr.frame}: echo connection: {e}')
        if n1 != n0:
            problems.append(f'{pr.frame}: {n1 - n0} checkpoint requests '
                            f'during identical traffic ({st1["requests"]})')
        if cs['matched'] == 0:
            problems.append(f'{pr.frame}: its compare matched nothing')
    log(f'both pairs served in {dt:.1f}s')
    check(not problems, '; '.join(problems))


def miscompare_on(hp, pr, others):
    """/cgi-bin/sched on pair 'pr': a checkpoint of pr, committed; the
    'others' untouched.  Returns a list of problems."""
    problems = []
    take_events(hp.px.qmp, ())
    n0, st0 = pr.requests()
    other0 = {o.frame: o.requests()[1] for o in others}
    res = http_seq(hp.ns, hp.c, ['/cgi-bin/sched'], ip=pr.ip, timeout=60)
    _path, dt, raw = res[0][:3]
    status, body = split_http(raw)
    if not status.endswith('200 OK') or body.count('version ') != 1 or \
            raw.count('HTTP/1.') != 1:
        problems.append(f'{pr.frame}: /cgi-bin/sched answer '
                        f'{raw[:300]!r}')
    try:
        wait_for(lambda: pr.requests()[1]['completed'] > st0['completed'],
                 10, interval=0.05,
                 what=f'{pr.frame}: a committed checkpoint')
    except TestFailure as x:
        problems.append(str(x))
    time.sleep(0.3)      # anything a wrong frame would do, let it show
    n1, st1 = pr.requests()
    evs = frame_events(hp.px, COLO_EVENTS)
    log(f'{pr.frame}: /cgi-bin/sched answered in {dt * 1000:.0f} ms; '
        f'requests {st0["requests"]} -> {st1["requests"]}, completed '
        f'{st0["completed"]} -> {st1["completed"]}; primary colo-proxy '
        f'events {evs}')
    if st1['requests'].get('miscompare', 0) <= \
            st0['requests'].get('miscompare', 0):
        problems.append(f'{pr.frame}: no miscompare checkpoint request')
    for want in ('COLO_COMPARE_MISCOMPARE', 'COLO_CHECKPOINT_REQUEST',
                 'COLO_CHECKPOINT_DONE'):
        if (want, pr.frame) not in evs:
            problems.append(f'no {want} with frame={pr.frame}')
    wrong = [e for e in evs if e[1] != pr.frame]
    if wrong:
        problems.append(f'events of the other pair or none: {wrong}')
    for o in others:
        a, b = other0[o.frame], o.requests()[1]
        log(f'{o.frame} (untouched): requests {a["requests"]} -> '
            f'{b["requests"]}, started {a["started"]} -> {b["started"]}, '
            f'completed {a["completed"]} -> {b["completed"]}')
        for k in ('requests', 'started', 'completed', 'failed', 'failovers'):
            if a[k] != b[k]:
                problems.append(f'{o.frame}: {k} {a[k]} -> {b[k]} after a '
                                f'miscompare on {pr.frame}')
    return problems


def check_miscompare_one(hp):
    """3: a miscompare on pa checkpoints pa only."""
    pa, pb = hp.pairs
    problems = miscompare_on(hp, pa, [pb])
    check(not problems, '; '.join(problems))


def check_failover_one(hp):
    """4: pa's primary QEMU dies, pa fails over; pb stays in COLO."""
    pa, pb = hp.pairs
    echo_a = Echo(hp.ns, hp.c, ip=pa.ip)
    echo_b = Echo(hp.ns, hp.c, ip=pb.ip)
    time.sleep(1.0)
    b0 = pb.requests()[1]
    take_events(hp.px.qmp, ())
    take_events(hp.sx.qmp, ())
    take_events(pa.qs, ())
    t_kill = time.monotonic()
    pa.gp.kill()
    # nobody sends anything: the primary colo-proxy sees pa's QMP socket
    # refuse (no QEMU process), pa's heartbeat says so, the secondary
    # colo-proxy fails pa over (its filters off, then its QEMU:
    # x-colo-lost-heartbeat, announce-self)
    log(f'{pa.frame}: primary QEMU killed (SIGKILL); waiting for the '
        f'automatic failover')
    problems = []
    proxy_done = qemu_done = None
    end = t_kill + 10
    while time.monotonic() < end and not (proxy_done and qemu_done):
        if proxy_done is None and hp.sx.qmp.cmd(
                'query-colo-status', frame=pa.frame)['mode'] == 'none':
            proxy_done = time.monotonic() - t_kill
        if qemu_done is None and \
                pa.qs.cmd('query-colo-status')['mode'] == 'none':
            qemu_done = time.monotonic() - t_kill
        time.sleep(0.02)
    log(f'{pa.frame}: secondary colo-proxy frame out of COLO: '
        f'{"%.0f ms" % (proxy_done * 1000) if proxy_done else "no"}; its '
        f'QEMU out of COLO: '
        f'{"%.0f ms" % (qemu_done * 1000) if qemu_done else "no"}')
    if not proxy_done:
        problems.append(f'{pa.frame}: the secondary colo-proxy did not '
                        'fail over')
    try:
        ev = hp.px.qmp.get_event('COLO_QEMU_GONE', timeout=5)
        log(f'primary colo-proxy: {ev["event"]} {ev["data"]}')
        if ev['data'].get('frame') != pa.frame:
            problems.append(f'COLO_QEMU_GONE of {ev["data"]}')
        ev = hp.sx.qmp.get_event('COLO_HEARTBEAT_LOST', timeout=5)
        log(f'secondary colo-proxy: {ev["event"]} {ev["data"]}')
        if (ev['data'].get('frame'), ev['data'].get('reason')) != \
                (pa.frame, 'qemu-gone'):
            problems.append(f'COLO_HEARTBEAT_LOST {ev["data"]}: not the '
                            f'message of {pa.frame}\'s heartbeat')
    except TimeoutError as x:
        problems.append(f'{pa.frame}: {x}')
    if hp.px.qmp.cmd('query-colo-status', frame=pa.frame)['mode'] != 'none':
        problems.append(f'{pa.frame}: the primary side still primary after '
                        f'its QEMU was declared gone')
    if not qemu_done:
        problems.append(f'{pa.frame}: the secondary QEMU was not failed '
                        f'over ({pa.qs.cmd("query-colo-status")})')
    try:
        wait_for(lambda: pa.qs.cmd('query-status')['status'] == 'running',
                 10, what=f'{pa.frame}: the promoted VM running')
    except TestFailure as x:
        problems.append(str(x))
    res = http_seq(hp.ns, hp.c, ['/cgi-bin/page?5', '/cgi-bin/page?17'],
                   ip=pa.ip, timeout=60)
    try:
        check_pages(res)
    except TestFailure as x:
        problems.append(f'{pa.frame} after failover: {x}')
    # pb: untouched on both colo-proxies and both QEMUs
    for x, mode in ((hp.px, 'primary'), (hp.sx, 'secondary')):
        st = x.qmp.cmd('query-colo-status', frame=pb.frame)
        if st['mode'] != mode:
            problems.append(f'{pb.frame}: {mode} colo-proxy frame now {st}')
    mig = pb.qp.cmd('query-migrate').get('status')
    qs_b = pb.qs.cmd('query-colo-status')['mode']
    if mig != 'colo' or qs_b != 'secondary':
        problems.append(f'{pb.frame}: QEMUs left COLO (primary {mig}, '
                        f'secondary {qs_b})')
    b1 = pb.requests()[1]
    if b1['failovers'] != b0['failovers'] or b1['failed'] != b0['failed']:
        problems.append(f'{pb.frame}: failovers {b0["failovers"]} -> '
                        f'{b1["failovers"]}, failed {b0["failed"]} -> '
                        f'{b1["failed"]}')
    evs = frame_events(hp.px, COLO_EVENTS) + frame_events(hp.sx, COLO_EVENTS)
    log(f'colo-proxy events since the kill: {evs}')
    if any(f == pb.frame for _n, f in evs):
        problems.append(f'{pb.frame} events after {pa.frame}\'s failover: '
                        f'{evs}')
    pst = hp.px.qmp.cmd('query-colo-status', frame=pa.frame)
    log(f'{pa.frame}: primary colo-proxy frame {pst}; pa secondary QEMU '
        f'events {[(e["event"], e.get("data")) for e in take_events(pa.qs, ("COLO_EXIT", "RESUME", "STOP"))]}')
    # pb's checkpoints still work
    problems += miscompare_on(hp, pb, [])
    ea, eb = echo_a.stop(), echo_b.stop()
    for pr, e in ((pa, ea), (pb, eb)):
        w = e.get('worst')
        log(f'{pr.frame} echo: {e["lines"]} lines, error {e["error"]}, '
            f'worst round trip {"%.0f ms" % (w * 1000) if w else "?"} (at '
            f'{e.get("worst_at")}s; kill at {t_kill - echo_a.t0:.2f}s), '
            f'p50 {e.get("p50")}')
        if e['error'] or e['lines'] <= 0:
            problems.append(f'{pr.frame}: echo connection: {e["error"]}')
    w = eb.get('worst')
    if not eb['error'] and (w is None or w * 1000 >= STALL_MS):
        problems.append(f'{pb.frame}: echo round trip of '
                        f'{w * 1000 if w else -1:.0f} ms during '
                        f'{pa.frame}\'s failover')
    check(not problems, '; '.join(problems))


def check_delete_one(hp):
    """5: pa's COLO objects deleted from both colo-proxies while both VMs
    serve: on the primary host everything of pa (its VM is dead), on the
    secondary its filters, heartbeat and frame (the promoted VM keeps its
    netdev, now a plain link); pb and the promoted pa serve on."""
    pa, pb = hp.pairs
    echo_a = Echo(hp.ns, hp.c, ip=pa.ip)
    echo_b = Echo(hp.ns, hp.c, ip=pb.ip)
    bg = HTTPBackground(hp.ns, hp.c, [f'/cgi-bin/page?{1 + k % 30}'
                                      for k in range(20)], ip=pb.ip)
    time.sleep(0.5)
    b0 = pb.requests()[1]
    take_events(hp.px.qmp, ())
    take_events(hp.sx.qmp, ())
    f = pa.frame
    gone = {
        hp.px: (['hb0', 'comp0', 'redire1', 'redire0', 'm0', 'iothread1',
                 None],
                ['hb', 'compare_out0', 'compare_out', 'compare0-0',
                 'compare0', 'compare1', 'mirror0']),
        hp.sx: (['sdump', 'hb0', 'rew0', 'f2', 'f1', None],
                ['hb', 'red1', 'red0'])}
    t0 = time.monotonic()
    for x, (objs, chardevs) in gone.items():
        for o in objs:
            x.qmp.cmd('object-del', id=f'{f}-{o}' if o else f)
        for c in chardevs:
            x.qmp.cmd('chardev-remove', id=f'{f}-{c}')
    log(f'{f}: {sum(len(o) + len(c) for o, c in gone.values())} objects '
        f'and chardevs deleted from both colo-proxies in '
        f'{(time.monotonic() - t0) * 1000:.0f} ms')
    problems = []
    for x, mode in ((hp.px, 'primary'), (hp.sx, 'secondary')):
        st = x.qmp.cmd('query-colo-status', frame=pb.frame)
        if st['mode'] != mode:
            problems.append(f'{pb.frame}: {mode} colo-proxy frame now {st}')
        # one pair left: the frame argument is optional again
        st1 = x.qmp.cmd('query-colo-status')
        log(f'{mode} colo-proxy, query-colo-status without frame: {st1}')
        if st1['mode'] != mode:
            problems.append(f'{mode} colo-proxy without frame: {st1}')
        try:
            x.qmp.cmd('query-colo-stats', frame=f)
            problems.append(f'{mode} colo-proxy still knows frame {f}')
        except QMPError:
            pass
    try:
        check_pages(bg.result(timeout=120))
    except TestFailure as x:
        problems.append(f'{pb.frame} during the deletion: {x}')
    res = http_seq(hp.ns, hp.c, ['/cgi-bin/page?9'], ip=pa.ip, timeout=60)
    try:
        check_pages(res)
    except TestFailure as x:
        problems.append(f'{pa.frame} (promoted) after the deletion: {x}')
    b1 = pb.requests()[1]
    for k in ('requests', 'started', 'failed', 'failovers'):
        if b0[k] != b1[k]:
            problems.append(f'{pb.frame}: {k} {b0[k]} -> {b1[k]} during '
                            f'{f}\'s deletion')
    evs = frame_events(hp.px, COLO_EVENTS) + frame_events(hp.sx, COLO_EVENTS)
    log(f'colo-proxy events during the deletion: {evs}')
    problems += miscompare_on(hp, pb, [])
    for pr, e in ((pa, echo_a.stop()), (pb, echo_b.stop())):
        w = e.get('worst')
        log(f'{pr.frame} echo: {e["lines"]} lines, error {e["error"]}, '
            f'worst round trip {"%.0f ms" % (w * 1000) if w else "?"}')
        if e['error'] or e['lines'] <= 0:
            problems.append(f'{pr.frame}: echo connection: {e["error"]}')
        elif w is None or w * 1000 >= STALL_MS:
            problems.append(f'{pr.frame}: echo round trip of '
                            f'{w * 1000 if w else -1:.0f} ms')
    check(not problems, '; '.join(problems))


def check_clean_exit(hp):
    """6: both colo-proxies exit 0 on SIGTERM, no sanitizer report."""
    for x, side in ((hp.px, 'primary'), (hp.sx, 'secondary')):
        said = [ln for ln in x.stderr().splitlines()
                if 'warning' in ln.lower() or 'critical' in ln.lower()]
        log(f'{side} colo-proxy: {len(said)} warnings, the last '
            f'{said[-3:]}')
        x.stop()


def test_two_pairs_one_proxy_per_host():
    qemu, fw = need_real_pair()
    ck = Checks()
    t_launch = time.monotonic()
    with NetNS() as ns:
        hp = HostPairs(ns, 'h', ['pa', 'pb'], 'e1000', False, qemu, fw)
        try:
            if ck.run('1 both pairs reach COLO', check_reached, hp,
                      t_launch):
                ck.run('2 identical traffic to both, no checkpoint',
                       check_identical, hp)
                ck.run('3 miscompare on pa checkpoints pa only',
                       check_miscompare_one, hp)
                ck.run('4 pa fails over, pb stays in COLO',
                       check_failover_one, hp)
                ck.run('5 pa deleted from both colo-proxies, both serve',
                       check_delete_one, hp)
                ck.run('6 both colo-proxies exit cleanly', check_clean_exit,
                       hp)
        finally:
            hp.stop()
    log(f'test ran {time.monotonic() - t_launch:.1f}s')
    ck.finish()


def print_cmdlines():
    """The two colo-proxies' command lines, placeholders: $PA_PRUN,
    $PA_SRUN, $PB_PRUN, $PB_SRUN each pair's working directories (its
    QEMUs' sockets), $PIF_A/$PIF_B, $SIF_A/$SIF_B each pair's LAN
    interface on the primary/secondary host.  Each pair's QEMUs are
    test_vm_qemu_colo's (--print-cmdlines) with its own directories,
    address and MAC."""
    prim, sec = ['-name', 'colo-primary-host'], ['-name',
                                                 'colo-secondary-host']
    for f, up in (('pa', 'A'), ('pb', 'B')):
        pr, sr = f'$P{up}_PRUN', f'$P{up}_SRUN'
        prim += bind_to_frame(primary_proxy_args(pr, f'$PIF_{up}'), f)
        sec += bind_to_frame(secondary_proxy_args(sr, pr, f'$SIF_{up}',
                                                  dump=False), f)
    print('# the primary host\'s colo-proxy: both pairs\' primary sides')
    print(shell_lines(['colo-proxy'] + prim + [
        '-qmp', 'unix:/run/colo-proxy/primary.qmp,server=on,wait=off']))
    print('\n# the secondary host\'s colo-proxy: both pairs\' secondary '
          'sides')
    print(shell_lines(['colo-proxy'] + sec + [
        '-qmp', 'unix:/run/colo-proxy/secondary.qmp,server=on,wait=off']))


if __name__ == '__main__':
    if '--print-cmdlines' in sys.argv:
        print_cmdlines()
        sys.exit(0)
    run_tests([test_two_pairs_one_proxy_per_host], timeout=540)
