#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_chardev_dns - a socket chardev that reconnects to a host name
looks the name up in a thread: a DNS server that never answers delays
that chardev only, not the loop it runs in.

The test moves into a network namespace of its own and plays a DNS
server on 127.0.0.1:53 that reads queries and never answers; colo-proxy
runs in a mount namespace whose /etc/resolv.conf names it, with a client
chardev host=cq-dns.invalid,reconnect=1.  While lookups hang, QMP keeps
answering at once, the lookup thread is seen, the chardev stays
disconnected, and a second chardev to 'localhost' (a name too, answered
from /etc/hosts) connects through the same path.  Before, each attempt
blocked the main loop for the resolver's whole timeout.
"""

import os
import shutil
import socket
import subprocess
import time

from coloqtest import *

RESOLV = 'nameserver 127.0.0.1\noptions timeout:2 attempts:1\n'


def wrapper_for(resolv):
    return ['unshare', '-m', 'sh', '-c',
            'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv]


def lookup_threads(pid):
    n = 0
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            with open(f'/proc/{pid}/task/{t}/comm') as f:
                n += f.read().strip() == 'chardev-lookup'
        except OSError:
            pass
    return n


def test_dead_dns_does_not_block_the_loop():
    if not shutil.which('unshare'):
        raise Skip('unshare not installed')
    enter_netns()
    dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dead.bind(('127.0.0.1', 53))           # reads nothing, answers nothing
    d = tmpdir()
    resolv = os.path.join(d, 'resolv.conf')
    with open(resolv, 'w') as f:
        f.write(RESOLV)
    t0 = time.monotonic()
    r = subprocess.run(wrapper_for(resolv) + ['getent', 'hosts',
                                              'cq-dns.invalid'],
                       capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    if r.stderr.strip():
        raise Skip(f'no private mount namespace here: {r.stderr.strip()}')
    check(took >= 1.5, f'the silent DNS server answered ({took:.2f} s)?')
    log(f'a lookup through the silent server takes {took:.1f} s')
    srv = socket.socket()
    srv.bind(('127.0.0.1', 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    p = ColoProxy(['-chardev', f'socket,id=c0,host=cq-dns.invalid,'
                   f'port={port},reconnect=1',
                   '-chardev', f'socket,id=c1,host=localhost,port={port},'
                   'reconnect=1,ipv4=on'],
                  wrapper=wrapper_for(resolv), dir=d)
    try:
        worst, seen = 0.0, 0
        end = time.monotonic() + took + 1
        while time.monotonic() < end:
            t = time.monotonic()
            p.qmp.cmd('query-version')
            worst = max(worst, time.monotonic() - t)
            seen = max(seen, lookup_threads(p.pid))
            time.sleep(0.05)
        log(f'worst QMP reply {worst * 1000:.1f} ms, lookup threads seen '
            f'at once: {seen}')
        check(worst < 0.5, f'QMP stalled {worst:.2f} s during a lookup')
        check(seen == 1, f'{seen} lookup threads at once (want 1, for c0)')
        chardevs = {c['label']: c for c in p.qmp.cmd('query-chardev')}
        check(chardevs['c0']['filename'].startswith('disconnected'),
              f"c0: {chardevs['c0']}")
        srv.settimeout(5)
        conn, _ = srv.accept()          # c1, through its own lookup
        conn.close()
        check(p.alive(), 'colo-proxy alive')
        p.stop()
    finally:
        p.kill()
        srv.close()
        dead.close()


if __name__ == '__main__':
    run_tests([test_dead_dns_does_not_block_the_loop])
