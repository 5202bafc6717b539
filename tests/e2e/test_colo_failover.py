#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_colo_failover - the demo's failover scenario, shorter, as a test.

Runs scripts/colo-demo.py --short: a COLO pair (two colo-proxy processes,
a primary and a secondary guest namespace with the same MAC and IP, real
Linux TCP stacks) serving HTTP requests over keep-alive connections and
one long-lived echo connection; a divergent request (miscompare,
checkpoint request); then the primary dies and the secondary's
colo-heartbeat fails it over.  Fails unless, across the primary's death,
the client saw no reset and no byte lost, duplicated or changed (every
HTTP body and every echoed line checked), the secondary reported
COLO_EXIT and requests completed after it.

test_failover_one_line runs the same with --one-line: each side is one
-object colo-proxy instead of the seeds' fifteen options.

A last test interrupts a run with SIGTERM and checks that every
namespace and process of the run is gone.

Skips (77) without root or network namespaces, and while colo-proxy lacks
one of the objects the pair needs (colo-compare, filter-rewriter, ...).
"""

import signal
import subprocess
import sys
import time

from coloqtest import *
from demorun import DEMO, need_pair, demo_namespaces, run_demo


def run_failover(extra=()):
    need_pair()
    res, stdout, pid, dt = run_demo(extra)
    check(dt < 90, f'the short demo took {dt:.0f}s')
    check_eq(demo_namespaces(pid), [], 'namespaces left behind')
    return stdout


def test_failover_keeps_connections():
    run_failover()


def test_failover_one_line():
    """The same scenario (compare, a miscompare and its checkpoint, the
    failover), each side written as one -object colo-proxy: the parts it
    creates (cp-comp0, cp-hb0, ...) must behave as the long form's."""
    need_types('colo-proxy')
    out = run_failover(['--one-line'])
    for want in ('COLO_COMPARE_MISCOMPARE {"id": "cp-comp0"',
                 'COLO_HEARTBEAT_LOST {"id": "cp-hb0"',
                 'through cp-rew0 on the secondary'):
        check(want in out, f'one-line run lacks {want!r}')


def test_interrupt_cleans_up():
    need_pair()
    p = subprocess.Popen([sys.executable, DEMO, '--build', build_dir(),
                          '--short'], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        # wait until the pair is up and the workload runs
        deadline = time.monotonic() + 30
        seen = ''
        while time.monotonic() < deadline:
            line = p.stdout.readline()
            if not line:
                break
            seen += line
            if 'step 1' in line:
                break
        check('step 1' in seen, f'the demo did not get to step 1:\n{seen}')
        check(demo_namespaces(p.pid), 'no namespaces while running')
        p.send_signal(signal.SIGTERM)
        rest, _ = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    check_eq(p.returncode, 130, f'exit code after SIGTERM:\n{rest}')
    check_eq(demo_namespaces(p.pid), [], 'namespaces left after SIGTERM')
    check('interrupted' in rest, rest)


if __name__ == '__main__':
    run_tests([test_failover_keeps_connections, test_failover_one_line,
               test_interrupt_cleans_up],
              timeout=200)
