#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_storm_ckpt_fail - a checkpoint storm while the checkpoints
themselves fail (issue 17, bad input: "a storm while a checkpoint is
failing: clear errors, nothing leaked, no frame lost or duplicated").

colo-compare in adaptive mode (net/compare-storm.c, docs/storms.md) on a
colo-frame whose checkpoints are taken by driver=exec: a script whose
behaviour the test switches with files in its directory:

  fail   exits 1 at once          -> COLO_CHECKPOINT_FAILED with the exit
                                     status, counted in query-colo-stats
                                     'failed'
  hang   sleeps past the frame's  -> COLO_CHECKPOINT_FAILED "did not
         checkpoint-timeout          complete in time", counted 'timeouts'
  ok     exits 0                  -> commits

  1. the storm starts while every checkpoint fails: the compare switches
     to buffered mode (the time spent in checkpoints, which the frame
     retries, or the miscompare rate); nothing is released, every primary
     frame is held (by the compare waiting for its checkpoint, or by the
     buffered mode) and counted;
  2. checkpoints time out instead: still nothing released;
  3. checkpoints succeed again: everything held comes out at the commits,
     each primary frame exactly once and in order, and the compare goes
     back to compare mode when the storm is over;
  4. a frame sent afterwards is compared and released as usual.

Run under the ASan build too (meson test -C build-asan
test_storm_ckpt_fail): the held frames, the failed and timed-out
checkpoints and the exec children must leak nothing.
"""

import os
import time

from coloqtest import *
import comparepkt as pk
from test_compare import compare_proxy, stats
from test_storms import drain, make_storm, storm

SCRIPT = '''#!/bin/sh
# the test's checkpoint command: behaviour chosen by files beside it
d=$(dirname "$0")
if [ -e "$d/hang" ]; then sleep 2; exit 0; fi
[ -e "$d/ok" ] && exit 0
exit 1
'''


class Clock:
    """make_storm()'s pump: with driver=exec nobody answers requests."""

    def pump(self, t=0.05):
        time.sleep(t)


def held_now(p):
    """Primary frames held: by the compare (waiting for the checkpoint
    its miscompare asked for) and by the storm's buffered mode."""
    return stats(p)['primary']['held'] + storm(p)['held']


def outcomes(p):
    """The checkpoint outcomes queued so far: (DONE count, FAILED list)."""
    done, failed = 0, []
    while True:
        try:
            ev = p.qmp.get_event(None, timeout=0.01)
        except TimeoutError:
            return done, failed
        if ev['event'] == 'COLO_CHECKPOINT_DONE':
            done += 1
        elif ev['event'] == 'COLO_CHECKPOINT_FAILED':
            failed.append(ev['data']['error'])


def test_storm_while_checkpoints_fail():
    need_types('colo-compare', 'colo-frame')
    d = tmpdir('cqsf')
    ckpt = os.path.join(d, 'ckpt.sh')
    with open(ckpt, 'w') as f:
        f.write(SCRIPT)
    os.chmod(ckpt, 0o755)
    p, pri, sec, out = compare_proxy(
        'adaptive=on,storm_rate=5,storm_calm=2,storm_calm_time=1000,'
        'buffered_period=100',
        frame=f'mode=primary,driver=exec,exec={ckpt},min-interval=50,'
              'checkpoint-timeout=300')
    with p:
        clock = Clock()
        # 1. a storm while every checkpoint fails
        sent = make_storm(p, pri, sec, out, clock)
        ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=3)
        # the miscompares, or the time spent in checkpoints (the frame
        # retries the failing ones), whichever threshold is reached first
        check(ev['data']['mode'] == 'buffered' and ev['data']['reason'] in
              ('miscompare-rate', 'checkpoint-busy'), f'storm: {ev}')
        check_eq(drain(out, 0.3), [], 'nothing released while failing')
        check_eq(held_now(p), len(sent), 'every frame held, none lost')
        fr = p.qmp.cmd('query-colo-stats')
        check(fr['failed'] >= 1 and fr['completed'] == 0, f'frame: {fr}')
        done, failed = outcomes(p)
        check(done == 0 and failed, f'{done} done, failures {failed[:2]}')
        check(all('exit' in e or 'status 1' in e or 'code 1' in e
                  for e in failed), f'the exit status is the error: '
                                     f'{failed[:2]}')
        log(f'failing: {fr["failed"]} checkpoints failed, {held_now(p)} '
            f'frames held; error: {failed[0]}')

        # 2. checkpoints time out instead (the command hangs)
        open(os.path.join(d, 'hang'), 'w').close()
        more = make_storm(p, pri, sec, out, clock, seconds=1.0, sport=53)
        sent += more
        time.sleep(0.7)
        check_eq(drain(out, 0.3), [], 'nothing released while timing out')
        fr = p.qmp.cmd('query-colo-stats')
        check(fr['timeouts'] >= 1 and fr['completed'] == 0, f'frame: {fr}')
        done, failed = outcomes(p)
        check(done == 0, f'{done} committed while hanging')
        check(any('did not complete in time' in e for e in failed),
              f'timeouts reported: {failed[:3]}')
        held = held_now(p)
        check_eq(held, len(sent), 'every frame still held, none lost')
        log(f'timing out: {fr["timeouts"]} timeouts, {held} frames held')

        # 3. checkpoints succeed again: all of it out, once, in order
        open(os.path.join(d, 'ok'), 'w').close()
        os.unlink(os.path.join(d, 'hang'))
        got = []
        t_end = time.monotonic() + 10
        mode = 'buffered'
        while time.monotonic() < t_end and (len(got) < len(sent) or
                                            mode != 'compare'):
            got += drain(out, 0.2)
            try:
                ev = p.qmp.get_event('COLO_COMPARE_MODE', timeout=0.01)
                mode = ev['data']['mode']
            except TimeoutError:
                pass
        check_eq(len(got), len(sent), 'frames out == frames in')
        check(got == sent, 'each primary frame exactly once, in order')
        check_eq(mode, 'compare', 'back to compare mode after the storm')
        fr = p.qmp.cmd('query-colo-stats')
        check(fr['completed'] >= 1, f'frame: {fr}')
        st = storm(p)
        check_eq((st['held'], st['storms'], st['calms']), (0, 1, 1),
                 f'storm counters: {st}')
        log(f'recovered: {fr["completed"]} committed after {fr["failed"]} '
            f'failed ({fr["timeouts"]} timeouts); {len(got)} frames '
            f'released once each')

        # 4. the pair works as before
        f = pk.udp(b'after the storm', sport=99)
        send_frame(pri, f)
        send_frame(sec, f)
        check_eq(recv_frame(out, timeout=3), f, 'a matching frame released')
        check_eq(stats(p)['released'], len(sent) + 1, 'released == sent')
        check(p.proc.poll() is None, 'colo-proxy alive')
        p.stop()


if __name__ == '__main__':
    run_tests([test_storm_while_checkpoints_fail], timeout=120)
