# SPDX-License-Identifier: GPL-2.0-or-later
"""demorun - runs scripts/colo-demo.py as a test: what test_colo_failover
and test_colo_tls share (the prerequisites of the demo's netns pair, one
run with --json and the checks every run must pass)."""

import json
import os
import signal
import subprocess
import sys
import time

from coloqtest import (source_dir, build_dir, tmpdir, need_netns,
                       need_types, log, check, check_eq)

DEMO = os.path.join(source_dir(), 'scripts', 'colo-demo.py')


def need_pair(*types):
    """Root, network namespaces and the objects the demo's pair is made
    of; 'types': more -object types the caller's run needs."""
    need_netns()
    need_types('colo-compare', 'filter-rewriter', 'filter-mirror',
               'filter-redirector', 'colo-frame', 'colo-heartbeat',
               'iothread', *types)
    need_types('af-packet', option='-netdev')
    need_types('af-packet', option='-device')


def demo_namespaces(pid):
    """The network namespaces the demo run 'pid' still has."""
    out = subprocess.run(['ip', 'netns', 'list'], capture_output=True,
                         text=True).stdout
    return [line.split()[0] for line in out.splitlines()
            if line.startswith(f'cdemo{pid}-')]


def run_demo(extra=(), workdir=None):
    """One `colo-demo.py --short --json` run with 'extra' options, checked
    as every run must be: a result, no demo failure, exit 0, no client
    error (reset, broken pipe, timeout, changed byte), requests and echo
    lines served, a failover measured.  Returns (result dict, the demo's
    stdout, the run's pid, its duration in seconds)."""
    out = os.path.join(workdir or tmpdir(), 'result.json')
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, DEMO, '--build', build_dir(),
                          '--short', '--json', out] + list(extra),
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = p.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        stdout, stderr = p.communicate(timeout=30)
    log(stdout[-8000:])
    if stderr:
        log('--- stderr ---\n' + stderr[-3000:])
    dt = time.monotonic() - t0
    check(os.path.exists(out), f'no result file (exit {p.returncode})')
    with open(out) as f:
        res = json.load(f)
    check_eq(res.get('failures'), [], 'demo failures')
    check_eq(p.returncode, 0, 'demo exit code')
    check_eq(res['errors'], {}, 'client errors (resets, broken pipes, '
             'timeouts, changed bytes)')
    check(res['requests'] > 0 and res['echo_lines'] > 0, f'{res}')
    check('failover_ms' in res, 'no failover measured')
    return res, stdout, p.pid, dt
