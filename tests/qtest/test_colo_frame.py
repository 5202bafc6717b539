#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_colo_frame - the in-process COLO frame over QMP (colo/colo.c,
colo/colo-frame.c, colo/colo-qmp.c).

query-colo-status and the colo-frame object; checkpoints with the "event"
driver (COLO_CHECKPOINT_REQUEST answered by x-colo-checkpoint-done) and
the "exec" driver (a command per checkpoint, its environment, its exit
status); coalescing of requests and min-interval; checkpoint-timeout ->
COLO_CHECKPOINT_FAILED and the retry; x-colo-lost-heartbeat with QEMU's
errors and COLO_EXIT; the filters the frame switches off on failover
(primary: mirrors and redirectors with an outdev; secondary: every mirror
and redirector; the rewriter stays on), and failover-filters=off.
"""

import os
import time

from coloqtest import *


def frame(p, **props):
    """Adds the colo-frame object over QMP (no key=value escaping)."""
    p.qmp.object_add('colo-frame', 'colo0', **props)


def stats(p):
    return p.qmp.cmd('query-colo-stats')


def test_status_without_frame():
    with ColoProxy() as p:
        check_eq(p.qmp.cmd('query-colo-status'),
                 {'mode': 'none', 'last-mode': 'none', 'reason': 'none'},
                 'status without colo-frame')
        expect_qmp_error(p.qmp.cmd, 'x-colo-lost-heartbeat',
                         cls='GenericError',
                         contains="The feature 'colo' is not enabled")
        expect_qmp_error(p.qmp.cmd, 'x-colo-checkpoint', contains='primary')
        expect_qmp_error(p.qmp.cmd, 'x-colo-checkpoint-done',
                         contains="The feature 'colo' is not enabled")
        st = stats(p)
        check_eq(st['mode'], 'none', 'stats mode')
        check_eq(st['driver'], 'event', 'default driver')
        check_eq(st['failovers'], 0, 'failovers')


def test_frame_object():
    need_types('colo-frame')
    out = run_proxy(['-object', 'colo-frame,help'])
    for prop in ('mode', 'driver', 'exec', 'min-interval',
                 'checkpoint-timeout', 'failover-filters'):
        check(prop + '=' in out.stdout, f'help lacks {prop}')
    r = run_proxy(['-object', 'colo-frame,id=c0'])
    check(r.returncode != 0 and 'mode' in r.stderr, r.stderr)
    r = run_proxy(['-object', 'colo-frame,id=c0,mode=primary,driver=exec'])
    check(r.returncode != 0 and 'exec' in r.stderr, r.stderr)
    with ColoProxy(['-object', 'colo-frame,id=colo0,mode=primary']) as p:
        check_eq(p.qmp.cmd('query-colo-status')['mode'], 'primary', 'mode')
        check_eq(p.qmp.qom_get('/objects/colo0', 'mode'), 'primary',
                 'qom-get mode')
        # a second pair's frame is welcome; commands must then say which
        p.qmp.object_add('colo-frame', 'colo1', mode='secondary')
        expect_qmp_error(p.qmp.cmd, 'query-colo-status',
                         contains="say which with the 'frame' argument")
        check_eq(p.qmp.cmd('query-colo-status', frame='colo1')['mode'],
                 'secondary', 'second frame mode')
        p.qmp.object_del('colo1')
        p.qmp.object_del('colo0')
        check_eq(p.qmp.cmd('query-colo-status'),
                 {'mode': 'none', 'last-mode': 'primary', 'reason': 'none'},
                 'status after object-del')
        frame(p, mode='secondary')
        check_eq(p.qmp.cmd('query-colo-status')['mode'], 'secondary',
                 'mode after re-adding')


def test_event_driver():
    need_types('colo-frame')
    with ColoProxy() as p:
        frame(p, mode='primary', driver='event', **{'min-interval': 0})
        expect_qmp_error(p.qmp.cmd, 'x-colo-checkpoint-done',
                         contains='no checkpoint is in flight')
        p.qmp.cmd('x-colo-checkpoint')
        ev = p.qmp.get_event('COLO_CHECKPOINT_REQUEST')
        check_eq(ev['data'], {'id': 1, 'reason': 'manual', 'source': 'qmp',
                              'driver': 'event'}, 'request event')
        check_eq(stats(p)['in-flight'], True, 'in-flight')
        p.qmp.cmd('x-colo-checkpoint-done')
        ev = p.qmp.get_event('COLO_CHECKPOINT_DONE')
        check_eq(ev['data']['id'], 1, 'done id')
        check(ev['data']['duration-us'] > 0, f'{ev}')
        st = stats(p)
        check_eq((st['in-flight'], st['started'], st['completed'],
                  st['requests']['manual']), (False, 1, 1, 1), 'stats')
        # the secondary takes no requests but accepts "done" (a loaded
        # checkpoint, for the filters)
        p.qmp.object_del('colo0')
        frame(p, mode='secondary')
        expect_qmp_error(p.qmp.cmd, 'x-colo-checkpoint', contains='primary')
        p.qmp.cmd('x-colo-checkpoint-done')


def test_coalescing():
    need_types('colo-frame')
    with ColoProxy() as p:
        frame(p, mode='primary', driver='event', **{'min-interval': 0})
        p.qmp.cmd('x-colo-checkpoint')
        p.qmp.get_event('COLO_CHECKPOINT_REQUEST')
        for _ in range(3):
            p.qmp.cmd('x-colo-checkpoint')
        time.sleep(0.1)
        check_eq(stats(p)['coalesced'], 3, 'coalesced while in flight')
        check(not any(e['event'] == 'COLO_CHECKPOINT_REQUEST'
                      for e in p.qmp.events), 'a second checkpoint started '
              'while one was in flight')
        p.qmp.cmd('x-colo-checkpoint-done')
        p.qmp.get_event('COLO_CHECKPOINT_DONE')
        ev = p.qmp.get_event('COLO_CHECKPOINT_REQUEST')   # the pending one
        check_eq(ev['data']['id'], 2, 'pending checkpoint id')
        p.qmp.cmd('x-colo-checkpoint-done')
        p.qmp.get_event('COLO_CHECKPOINT_DONE')
        time.sleep(0.2)
        check(not any(e['event'] == 'COLO_CHECKPOINT_REQUEST'
                      for e in p.qmp.events), 'a third checkpoint started')
        st = stats(p)
        check_eq((st['requests']['manual'], st['started'], st['completed'],
                  st['coalesced']), (4, 2, 2, 3), 'stats')


def test_min_interval():
    need_types('colo-frame')
    with ColoProxy() as p:
        frame(p, mode='primary', driver='event', **{'min-interval': 500})
        p.qmp.cmd('x-colo-checkpoint')
        e1 = p.qmp.get_event('COLO_CHECKPOINT_REQUEST')
        p.qmp.cmd('x-colo-checkpoint-done')
        p.qmp.get_event('COLO_CHECKPOINT_DONE')
        p.qmp.cmd('x-colo-checkpoint')
        e2 = p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=3)
        t1 = e1['timestamp']['seconds'] + e1['timestamp']['microseconds'] / 1e6
        t2 = e2['timestamp']['seconds'] + e2['timestamp']['microseconds'] / 1e6
        check(t2 - t1 >= 0.49, f'second checkpoint {t2 - t1:.3f}s after the '
              f'first, min-interval 500 ms')
        check(t2 - t1 < 1.5, f'second checkpoint late: {t2 - t1:.3f}s')
        # min-interval is a runtime property
        p.qmp.cmd('x-colo-checkpoint-done')
        p.qmp.qom_set('/objects/colo0', 'min-interval', 0)
        p.qmp.cmd('x-colo-checkpoint')
        p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=0.3)


def test_exec_driver():
    need_types('colo-frame')
    d = tmpdir()
    out = os.path.join(d, 'ckpt.txt')
    with ColoProxy() as p:
        frame(p, mode='primary', driver='exec', **{
            'min-interval': 0,
            'exec': f"sh -c 'echo $COLO_CHECKPOINT_ID $COLO_CHECKPOINT_REASON "
                    f"$COLO_CHECKPOINT_SOURCE >> {out}'"})
        p.qmp.cmd('x-colo-checkpoint')
        ev = p.qmp.get_event('COLO_CHECKPOINT_REQUEST')
        check_eq(ev['data']['driver'], 'exec', 'driver')
        p.qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)
        with open(out) as f:
            check_eq(f.read(), '1 manual qmp\n', 'the command\'s environment')
        expect_qmp_error(p.qmp.cmd, 'x-colo-checkpoint-done',
                         contains='no checkpoint is in flight')
        # a failing command: COLO_CHECKPOINT_FAILED, then retried
        p.qmp.object_del('colo0')
        p.qmp.events.clear()
        frame(p, mode='primary', driver='exec', exec='false',
              **{'min-interval': 100})
        p.qmp.cmd('x-colo-checkpoint')
        f1 = p.qmp.get_event('COLO_CHECKPOINT_FAILED', timeout=5)
        check('exit' in f1['data']['error'].lower() or
              'status' in f1['data']['error'].lower() or
              f1['data']['error'], f'{f1}')
        f2 = p.qmp.get_event('COLO_CHECKPOINT_FAILED', timeout=5)
        check(f2['data']['id'] > f1['data']['id'], f'retry ids {f1} {f2}')
        st = stats(p)       # the frame's counters outlive the object
        check(st['failed'] >= 2 and st['completed'] == 1, f'{st}')
        # a command that does not exist
        p.qmp.object_del('colo0')
        p.qmp.events.clear()
        frame(p, mode='primary', driver='exec',
              exec='/nonexistent/colo-ckpt', **{'min-interval': 1000})
        p.qmp.cmd('x-colo-checkpoint')
        ev = p.qmp.get_event('COLO_CHECKPOINT_FAILED', timeout=5)
        check(ev['data']['error'], f'{ev}')
        p.qmp.object_del('colo0')


def test_checkpoint_timeout():
    need_types('colo-frame')
    with ColoProxy() as p:
        frame(p, mode='primary', driver='event',
              **{'min-interval': 0, 'checkpoint-timeout': 300})
        p.qmp.cmd('x-colo-checkpoint')
        r1 = p.qmp.get_event('COLO_CHECKPOINT_REQUEST')
        t0 = time.monotonic()
        f = p.qmp.get_event('COLO_CHECKPOINT_FAILED', timeout=3)
        dt = time.monotonic() - t0
        check_eq(f['data']['id'], r1['data']['id'], 'failed id')
        check(0.2 <= dt < 2, f'timed out after {dt:.2f}s, timeout 300 ms')
        r2 = p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=3)
        check_eq(r2['data']['id'], r1['data']['id'] + 1, 'retry id')
        check_eq(r2['data']['reason'], 'timeout', 'retry reason')
        p.qmp.cmd('x-colo-checkpoint-done')
        d = p.qmp.get_event('COLO_CHECKPOINT_DONE')
        check_eq(d['data']['id'], r2['data']['id'], 'done id')
        st = stats(p)
        check_eq((st['timeouts'], st['failed'], st['completed']), (1, 1, 1),
                 'timeouts, failed, completed')


def test_lost_heartbeat():
    need_types('colo-frame')
    for mode in ('secondary', 'primary'):
        with ColoProxy(['-object', f'colo-frame,id=colo0,mode={mode}']) as p:
            p.qmp.cmd('x-colo-lost-heartbeat')
            ev = p.qmp.get_event('COLO_EXIT')
            check_eq(ev['data'], {'mode': mode, 'reason': 'request'},
                     'COLO_EXIT')
            check_eq(p.qmp.cmd('query-colo-status'),
                     {'mode': 'none', 'last-mode': mode,
                      'reason': 'request'}, 'status after failover')
            expect_qmp_error(p.qmp.cmd, 'x-colo-lost-heartbeat',
                             cls='GenericError',
                             contains='COLO failover is already activated')
            check_eq(stats(p)['failovers'], 1, 'failovers')
            if mode == 'primary':
                expect_qmp_error(p.qmp.cmd, 'x-colo-checkpoint',
                                 contains='primary')


def filter_status(p, fid):
    return p.qmp.qom_get(f'/objects/{fid}', 'status')


def test_failover_filters_secondary():
    need_types('colo-frame', 'filter-redirector', 'filter-rewriter')
    d = tmpdir()
    args = ['-netdev', stream_netdev('hn0', os.path.join(d, 'net.sock')),
            '-chardev', chardev_unix('red0', os.path.join(d, 'red0.sock')),
            '-chardev', chardev_unix('red1', os.path.join(d, 'red1.sock')),
            '-object', 'filter-redirector,id=f1,netdev=hn0,queue=tx,indev=red0',
            '-object', 'filter-redirector,id=f2,netdev=hn0,queue=rx,outdev=red1',
            '-object', 'filter-rewriter,id=rew0,netdev=hn0,queue=all']
    for ff in ('on', 'off'):
        with ColoProxy(args + ['-object', 'colo-frame,id=colo0,'
                               f'mode=secondary,failover-filters={ff}']) as p:
            for f in ('f1', 'f2', 'rew0'):
                check_eq(filter_status(p, f), 'on', f'{f} before failover')
            p.qmp.cmd('x-colo-lost-heartbeat')
            p.qmp.get_event('COLO_EXIT')
            want = {'f1': 'off', 'f2': 'off', 'rew0': 'on'} if ff == 'on' \
                else {'f1': 'on', 'f2': 'on', 'rew0': 'on'}
            got = {f: filter_status(p, f) for f in want}
            check_eq(got, want, f'filters after failover '
                     f'(failover-filters={ff})')


def test_failover_filters_primary():
    need_types('colo-frame', 'filter-mirror', 'filter-redirector')
    d = tmpdir()
    args = ['-netdev', stream_netdev('hn0', os.path.join(d, 'net.sock')),
            '-chardev', chardev_unix('mirror0', os.path.join(d, 'm.sock')),
            '-chardev', chardev_unix('compare_out', os.path.join(d, 'co.sock')),
            '-chardev', chardev_unix('compare0', os.path.join(d, 'c0.sock')),
            '-object', 'filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=mirror0',
            '-object', 'filter-redirector,netdev=hn0,id=redire0,queue=rx,'
                       'indev=compare_out',
            '-object', 'filter-redirector,netdev=hn0,id=redire1,queue=rx,'
                       'outdev=compare0',
            '-object', 'colo-frame,id=colo0,mode=primary']
    with ColoProxy(args) as p:
        p.qmp.cmd('x-colo-lost-heartbeat')
        p.qmp.get_event('COLO_EXIT')
        got = {f: filter_status(p, f) for f in ('m0', 'redire0', 'redire1')}
        check_eq(got, {'m0': 'off', 'redire0': 'on', 'redire1': 'off'},
                 'primary filters after failover')
        # still possible by hand, as in QEMU's docs
        p.qmp.object_del('redire1')
        p.qmp.object_del('m0')


def test_failover_compare():
    """colo-compare is told about failover: it passes traffic through."""
    need_types('colo-frame', 'colo-compare')
    d = tmpdir()
    args = ['-chardev', chardev_unix('p_in', os.path.join(d, 'p.sock')),
            '-chardev', chardev_unix('s_in', os.path.join(d, 's.sock')),
            '-chardev', chardev_unix('out', os.path.join(d, 'o.sock')),
            '-object', 'colo-compare,id=comp0,primary_in=p_in,'
                       'secondary_in=s_in,outdev=out',
            '-object', 'colo-frame,id=colo0,mode=primary']
    with ColoProxy(args) as p:
        st = p.qmp.cmd('query-colo-compare-stats')
        check_eq(st[0]['failover'], False, 'compare failover before')
        p.qmp.cmd('x-colo-lost-heartbeat')
        p.qmp.get_event('COLO_EXIT')
        wait_for(lambda: p.qmp.cmd('query-colo-compare-stats')[0]['failover'],
                 what='colo-compare in failover')


def _compare_args(d, mode, frame_extra=''):
    return ['-chardev', chardev_unix('p_in', os.path.join(d, 'p.sock')),
            '-chardev', chardev_unix('s_in', os.path.join(d, 's.sock')),
            '-chardev', chardev_unix('out', os.path.join(d, 'o.sock')),
            '-object', 'colo-compare,id=comp0,primary_in=p_in,'
                       'secondary_in=s_in,outdev=out',
            '-object', f'colo-frame,id=colo0,mode={mode}{frame_extra}']


def test_overlapping_broadcasts():
    """A broadcast may start while colo-compare (on its own thread) is
    still handling the previous one: failover right after a checkpoint
    on the primary, and a burst of checkpoint-done on the secondary.  Both
    used to abort the process on a shared completion counter."""
    need_types('colo-frame', 'colo-compare')
    d = tmpdir()
    with ColoProxy(_compare_args(d, 'primary')) as p:
        p.qmp.cmd('x-colo-checkpoint')
        p.qmp.get_event('COLO_CHECKPOINT_REQUEST')
        p.qmp.send_raw('{"execute": "x-colo-checkpoint-done"}\n'
                       '{"execute": "x-colo-lost-heartbeat"}\n')
        for _ in range(2):
            check('return' in p.qmp.recv_reply(), 'command answered')
        p.qmp.get_event('COLO_EXIT')
        check_eq(p.qmp.cmd('query-colo-status')['last-mode'], 'primary',
                 'failed over')
    d = tmpdir()
    with ColoProxy(_compare_args(d, 'secondary')) as p:
        p.qmp.send_raw('{"execute": "x-colo-checkpoint-done"}\n' * 200)
        for _ in range(200):
            check('return' in p.qmp.recv_reply(), 'checkpoint-done answered')
        check_eq(p.qmp.cmd('query-colo-status')['mode'], 'secondary',
                 'still secondary')


def test_failing_driver_retries_in_main_loop():
    """A driver that fails at once, with min-interval=0, is retried through
    the main loop (it used to recurse start -> fail -> start): the monitor
    keeps answering and failures are counted."""
    need_types('colo-frame')
    with ColoProxy(['-object', 'colo-frame,id=colo0,mode=primary,'
                               'driver=exec,exec=/nonexistent/ckpt,'
                               'min-interval=0']) as p:
        p.qmp.cmd('x-colo-checkpoint')
        wait_for(lambda: stats(p)['failed'] >= 100,
                 what='failed checkpoints retried')
        t0 = time.monotonic()
        p.qmp.cmd('query-version')
        check(time.monotonic() - t0 < 5, 'monitor starved by retries')


def test_secondary_never_starts_checkpoints():
    """#19 item 3: one failed report on a secondary (x-colo-checkpoint-done
    {"ok": false}) made it start checkpoints forever (20 in 2 s; with
    driver=exec the command ran each time).  A secondary never originates
    checkpoints: the failure is reported, nothing is retried."""
    need_types('colo-frame')
    d = tmpdir()
    out = os.path.join(d, 'ckpt.txt')
    for interval in (100, 0):
        if os.path.exists(out):
            os.unlink(out)
        with ColoProxy() as p:
            frame(p, mode='secondary', driver='exec',
                  **{'min-interval': interval,
                     'exec': f"sh -c 'echo ran >> {out}'"})
            p.qmp.cmd('x-colo-checkpoint-done', ok=False, error='load failed')
            ev = p.qmp.get_event('COLO_CHECKPOINT_FAILED', timeout=5)
            check_eq(ev['data']['error'], 'load failed', 'failure reported')
            time.sleep(1.0)
            st = stats(p)       # (also reads the events that came)
            reqs = [e for e in p.qmp.events
                    if e['event'] == 'COLO_CHECKPOINT_REQUEST']
            check_eq(len(reqs), 0, f'checkpoints started by the secondary '
                     f'(min-interval={interval})')
            check_eq((st['started'], st['in-flight'], st['failed']),
                     (0, False, 1), 'started/in-flight/failed')
            check(not os.path.exists(out),
                  f'exec command ran on the secondary (min-interval='
                  f'{interval})')
            # the secondary goes on: the next report is delivered
            p.qmp.cmd('x-colo-checkpoint-done')
            ev = p.qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)
            check_eq(ev['data']['origin'], 'secondary', 'origin')
            check_eq(stats(p)['completed'], 1, 'completed')


if __name__ == '__main__':
    run_tests([test_status_without_frame, test_frame_object,
               test_event_driver, test_coalescing, test_min_interval,
               test_exec_driver, test_checkpoint_timeout,
               test_lost_heartbeat, test_failover_filters_secondary,
               test_failover_filters_primary, test_failover_compare,
               test_overlapping_broadcasts,
               test_failing_driver_retries_in_main_loop,
               test_secondary_never_starts_checkpoints])
