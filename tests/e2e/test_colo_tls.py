#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_colo_tls - today's COLO scenario with TLS on every inter-host
link (issue 18).

Runs scripts/colo-demo.py --short --tls DIR --tls-authz DN: the demo's
two colo-proxy command lines (the seeds' topology: mirror0 on 9003,
compare1 on 9004, the heartbeat on 9006) with tls-creds-x509 on the
three links between the hosts, the primary's servers admitting only the
secondary's certificate name (authz-simple); certificates are made at
test time by openssl (tests/qtest/tlscerts.py).  The same checks as
test_colo_failover: compare (HTTP bodies and echo lines byte-exact
through colo-compare), a miscompare (checkpoint request), the primary's
death and the secondary's failover with no reset and no byte lost,
duplicated or changed; plus: every link is a TLS session (query-tls of
both sides: each link established, nothing refused).

Skips (77) without root or network namespaces, or without openssl.
"""

import json
import os
import signal
import subprocess
import sys
import time

from coloqtest import *
import tlscerts

DEMO = os.path.join(source_dir(), 'scripts', 'colo-demo.py')


def need_pair():
    need_netns()
    need_types('colo-compare', 'filter-rewriter', 'filter-mirror',
               'filter-redirector', 'colo-frame', 'colo-heartbeat',
               'iothread', 'tls-creds-x509', 'authz-simple')
    need_types('af-packet', option='-netdev')
    need_types('af-packet', option='-device')
    why = tlscerts.needs_openssl()
    if why:
        skip(why)


def test_failover_over_tls():
    need_pair()
    d = tmpdir('cqctls')
    pki = tlscerts.make_pki(d)
    out = os.path.join(d, 'result.json')
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, DEMO, '--build', build_dir(),
                          '--short', '--json', out, '--tls', pki.dir,
                          '--tls-authz', pki.client_dn],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
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
    check(res.get('miscompares', 0) > 0 or res.get('time_miscompare'),
          f'no miscompare seen: {res}')
    check('failover_ms' in res, 'no failover measured')
    tls = res.get('tls')
    check(tls is not None, 'the demo recorded no query-tls')
    links = {'primary': {"chardev 'mirror0'", "chardev 'compare1'",
                         "chardev 'hb'"},
             'secondary': {"chardev 'red0'", "chardev 'red1'",
                           "chardev 'hb'"}}
    for side, want in links.items():
        got = {e['link']: e for e in tls[side]}
        check_eq(set(got), want, f'{side} TLS links')
        for name, e in got.items():
            check(e['established'] >= 1, f'{side} {name} not established: '
                  f'{e}')
            check_eq(e['refused'], 0, f'{side} {name} refusals')
    check(dt < 120, f'the short demo over TLS took {dt:.0f}s')


if __name__ == '__main__':
    run_tests([test_failover_over_tls], timeout=200)
