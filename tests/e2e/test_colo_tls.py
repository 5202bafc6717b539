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

The two colo-proxies run on two "hosts" (--tls implies the demo's
--two-hosts): network namespaces joined by a veth link, 10.90.0.1 (the
primary) and 10.90.0.2 (the secondary), so each TLS link crosses a real
link between the two hosts' addresses, which the test checks from both
ends (query-chardev: "tcp:LOCAL<->PEER").

Skips (77) without root or network namespaces, or without openssl.
"""

import re

from coloqtest import *
from demorun import need_pair as need_demo_pair, run_demo
import tlscerts

PRIMARY_IP, SECONDARY_IP = '10.90.0.1', '10.90.0.2'   # colo-demo.py's
PORTS = {'mirror0': 9003, 'compare1': 9004, 'hb': 9006,
         'red0': 9003, 'red1': 9004}


def check_link_ends(chardevs):
    """Every TLS link joins the two hosts: the primary's servers, bound to
    PRIMARY_IP:port, talk to SECONDARY_IP; the secondary's clients, on
    SECONDARY_IP, talk to PRIMARY_IP:port."""
    check(chardevs is not None, 'the demo recorded no query-chardev')
    ends = {'primary': (PRIMARY_IP, SECONDARY_IP),
            'secondary': (SECONDARY_IP, PRIMARY_IP)}
    for side, (here, there) in ends.items():
        got = chardevs.get(side, {})
        check_eq(len(got), 3, f'{side} link chardevs: {got}')
        for label, fn in got.items():
            log(f'{side} {label}: {fn}')
            m = re.match(r'tcp:(.+):(\d+)<->(.+):(\d+)', fn)
            check(m is not None, f'{side} {label} not connected: {fn!r}')
            lhost, lport, phost, pport = m.groups()
            check_eq((lhost, phost), (here, there),
                     f'{side} {label} ends ({fn})')
            port = lport if side == 'primary' else pport
            check_eq(int(port), PORTS[label], f'{side} {label} port ({fn})')


def need_pair():
    need_demo_pair('tls-creds-x509', 'authz-simple')
    why = tlscerts.needs_openssl()
    if why:
        skip(why)


def test_failover_over_tls():
    need_pair()
    d = tmpdir('cqctls')
    pki = tlscerts.make_pki(d)
    res, _, _, dt = run_demo(['--tls', pki.dir, '--tls-authz', pki.client_dn],
                             workdir=d)
    check(res.get('miscompares', 0) > 0 or res.get('time_miscompare'),
          f'no miscompare seen: {res}')
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
    check_link_ends(res.get('tls_chardevs'))
    check(dt < 120, f'the short demo over TLS took {dt:.0f}s')


if __name__ == '__main__':
    run_tests([test_failover_over_tls], timeout=200)
