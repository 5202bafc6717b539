#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_log - logging at run time (util/log.c, monitor/qmp-log.c,
system/main.c): `-d help` lists the log items and exits without starting;
`-d ITEMS` turns on exactly those items' debug messages and refuses an
unknown item; query-log-levels and set-log-level read and change each
item's level while running; a successful start logs one "ready" line
saying what listens where; chardev connections up and down are logged at
the default level; with stderr on systemd's journal (JOURNAL_STREAM) each
line carries its syslog priority as a "<N>" prefix."""

import os
import socket
import time

from coloqtest import *

ITEMS = ['main', 'monitor', 'frame', 'net', 'pkt', 'chardev', 'qom', 'util',
         'other']


def test_d_help():
    d = tmpdir()
    qmp = os.path.join(d, 'q.sock')
    r = run_proxy(['-qmp', f'unix:{qmp},server=on,wait=off', '-d', 'help'])
    check_eq(r.returncode, 0, f'-d help exit code ({r.stderr!r})')
    check(r.stdout.startswith('Log items (comma separated):\n'), r.stdout)
    listed = [ln.split()[0] for ln in r.stdout.splitlines()[1:]
              if ln and not ln[0].isspace()]
    for item in ITEMS + ['all']:
        check(item in listed, f'-d help does not list {item}: {r.stdout!r}')
    check(not os.path.exists(qmp), '-d help started the proxy (QMP socket)')


def test_d_unknown_item():
    r = run_proxy(['-d', 'net,bogus'])
    check_eq(r.returncode, 1, f'-d net,bogus exit code ({r.stderr!r})')
    check("unknown log item 'bogus'" in r.stderr, r.stderr)
    check('-d help' in r.stderr, f'no hint at -d help: {r.stderr!r}')


def levels(qmp):
    return {i['item']: i['level'] for i in qmp.cmd('query-log-levels')}


def test_d_items_exactly():
    port = free_tcp_port()
    with ColoProxy(['-d', 'chardev,qom',
                    '-chardev', chardev_tcp('c0', port)]) as p:
        lv = levels(p.qmp)
        check_eq(sorted(lv), sorted(ITEMS), 'items of query-log-levels')
        for item in ITEMS:
            want = 'debug' if item in ('chardev', 'qom') else 'notice'
            check_eq(lv[item], want, f'level of {item}')
        p.qmp.cmd('object-add', **{'qom-type': 'iothread', 'id': 'io9'})
        p.qmp.cmd('object-del', id='io9')
    err = p.stderr()
    # qom's and chardev's debug lines are there, no other item's
    dbg = [ln.split()[1] for ln in err.splitlines() if ': debug: ' in ln]
    check(dbg, f'no debug line with -d chardev,qom:\n{err}')
    check(set(dbg) <= {'colo-chardev:', 'colo-qom:'},
          f'debug lines of other items: {sorted(set(dbg))}\n{err}')


def test_d_all():
    with ColoProxy(['-d', 'all']) as p:
        check(set(levels(p.qmp).values()) == {'debug'}, 'all at debug')


def test_set_log_level():
    port = free_tcp_port()
    with ColoProxy(['-chardev', chardev_tcp('c0', port)]) as p:
        p.qmp.cmd('set-log-level', item='net', level='debug')
        lv = levels(p.qmp)
        check_eq(lv['net'], 'debug', 'net after set-log-level')
        check_eq(lv['chardev'], 'notice', 'chardev untouched')
        expect_qmp_error(p.qmp.cmd, 'set-log-level', item='nett',
                         level='debug', contains="unknown log item 'nett'")
        expect_qmp_error(p.qmp.cmd, 'set-log-level', item='net',
                         level='loud', contains='level')
        # chardev at "warning": its connection notices are no longer written
        p.qmp.cmd('set-log-level', item='chardev', level='warning')
        s = connect_tcp(port, proc=p)
        time.sleep(0.3)
        s.close()
        p.qmp.cmd('set-log-level', item='all', level='info')
        check(set(levels(p.qmp).values()) == {'info'}, 'all at info')
        s = connect_tcp(port, proc=p)
        wait_for(lambda: p.stderr().count("chardev 'c0': connected") == 1,
                 what='connection notice once chardev is back at info')
        s.close()
        wait_for(lambda: "chardev 'c0': disconnected" in p.stderr(),
                 what='disconnection notice')
    check_eq(p.stderr().count("chardev 'c0': connected"), 1,
             'connection notices (the one at level warning is not written)')


def test_ready_line_and_connections():
    port = free_tcp_port()
    d = tmpdir()
    sock = os.path.join(d, 'n0.sock')
    with ColoProxy(['-chardev', chardev_tcp('c0', port),
                    '-object', 'iothread,id=io0',
                    '-netdev', stream_netdev('n0', sock)], dir=d) as p:
        ready = [ln for ln in p.stderr().splitlines() if ': ready: ' in ln]
        check_eq(len(ready), 1, f'ready lines in\n{p.stderr()}')
        line = ready[0]
        check(': message: ready: 3 objects; ' in line, line)
        check(f'netdev n0 on unix:{sock}' in line, line)
        check(f'QMP on unix:{p.qmp_path}' in line, line)
        check(f'chardev c0 on disconnected:tcp:127.0.0.1:{port},server=on'
              in line, line)
        s = connect_tcp(port, proc=p)
        wait_for(lambda: "message: chardev 'c0': connected (tcp:" in
                 p.stderr(), what='connection logged at the default level')
        s.close()
        wait_for(lambda: "message: chardev 'c0': disconnected" in p.stderr(),
                 what='disconnection logged at the default level')


def test_journal_prefixes():
    p = ColoProxy(['-object', 'iothread,id=io0'], start=False)
    open(p._err, 'wb').close()
    st = os.stat(p._err)
    p.env = {'JOURNAL_STREAM': f'{st.st_dev}:{st.st_ino}'}
    p.start()
    expect_qmp_error(p.qmp.cmd, 'set-log-level', item='x', level='debug')
    p.stop()
    lines = p.stderr().splitlines()
    check(lines, 'nothing logged')
    for ln in lines:
        check(ln[:1] == '<' and ln[2:3] == '>' and ln[1] in '34567',
              f'line without a <N> priority prefix: {ln!r}')
    check(any(ln.startswith('<5>colo-proxy: message: ready: ')
              for ln in lines), f'ready line at priority 5:\n{lines}')
    # not the journal: timestamps as before
    with ColoProxy([], env={'JOURNAL_STREAM': '1:1'}) as q:
        pass
    check(q.stderr()[:2] == '20', f'timestamped without the journal: '
          f'{q.stderr()!r}')


if __name__ == '__main__':
    run_tests([
        test_d_help,
        test_d_unknown_item,
        test_d_items_exactly,
        test_d_all,
        test_set_log_level,
        test_ready_line_and_connections,
        test_journal_prefixes,
    ])
