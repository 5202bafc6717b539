#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_daemonize - system/main.c: -daemonize returns once start-up is
complete (the monitor already answers), the daemon writes and removes its
-pidfile, logs to -D, shuts down on quit and on SIGTERM; a start-up error
is reported by the parent on the terminal with exit status 1; the
start-up order lets a filter be named before its netdev and chardev; the
JSON form of -object and -netdev."""

import os
import signal
import time

from coloqtest import *


def _start_daemon(extra, d):
    pidf = os.path.join(d, 'pid')
    logf = os.path.join(d, 'log')
    qmp = os.path.join(d, 'qmp.sock')
    r = run_proxy(['-daemonize', '-pidfile', pidf, '-D', logf,
                   '-qmp', f'unix:{qmp},server=on,wait=off'] + list(extra))
    check_eq(r.returncode, 0, f'exit code of -daemonize ({r.stderr!r})')
    # start-up is complete when the parent exits: no waiting needed
    check(os.path.exists(pidf), 'pidfile missing when the parent exited')
    check(os.path.exists(qmp), 'QMP socket missing when the parent exited')
    pid = int(open(pidf).read().strip())
    os.kill(pid, 0)
    return pid, pidf, logf, qmp


def _wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise TestFailure(f'daemon {pid} did not exit')


def test_daemonize_quit():
    d = tmpdir()
    pid, pidf, logf, qmp = _start_daemon(['-object', 'iothread,id=io0'], d)
    q = QMPClient(qmp)
    check_eq(q.cmd('qom-get', path='io0', property='type'), 'iothread',
             'iothread type over QMP')
    q.cmd('quit')
    q.close()
    _wait_gone(pid)
    check(not os.path.exists(pidf), 'pidfile left behind after quit')


def test_daemonize_sigterm():
    d = tmpdir()
    pid, pidf, logf, qmp = _start_daemon([], d)
    os.kill(pid, signal.SIGTERM)
    _wait_gone(pid)
    check(not os.path.exists(pidf), 'pidfile left behind after SIGTERM')
    text = open(logf).read()
    check('received signal 15' in text, f'no shutdown line in -D log: {text!r}')


def test_daemonize_startup_error():
    d = tmpdir()
    pidf = os.path.join(d, 'pid')
    r = run_proxy(['-daemonize', '-pidfile', pidf,
                   '-object', 'iothread,id=io0,poll-max-ns=-1'])
    check_eq(r.returncode, 1, 'exit code of a failing -daemonize start')
    check("-object iothread,id=io0,poll-max-ns=-1: Parameter 'poll-max-ns'"
          in r.stderr, f'error not shown by the parent: {r.stderr!r}')


def test_pidfile_locked():
    d = tmpdir()
    pid, pidf, logf, qmp = _start_daemon([], d)
    try:
        r = run_proxy(['-pidfile', pidf])
        check_eq(r.returncode, 1, 'second instance with the same pidfile')
        check('pidfile' in r.stderr, f'no pidfile error: {r.stderr!r}')
        check_eq(int(open(pidf).read().strip()), pid,
                 'pidfile overwritten by the second instance')
    finally:
        os.kill(pid, signal.SIGTERM)
        _wait_gone(pid)


def test_startup_order():
    """A filter may come before the netdev and chardev it uses, and an
    iothread after the object that uses it, as on QEMU's command line."""
    need_types('filter-dump')
    d = tmpdir()
    if have_type('stream', '-netdev'):
        nd = stream_netdev('n0', os.path.join(d, 'n0.sock'))
    elif have_type('user', '-netdev'):
        nd = 'user,id=n0'
    else:
        raise Skip('no stream or user netdev')
    dump = os.path.join(d, 'x.pcap')
    with ColoProxy(['-object', f'filter-dump,id=f0,netdev=n0,file={dump}',
                    '-netdev', nd, '-object', 'iothread,id=io0']) as p:
        names = [o['name'] for o in p.qmp.cmd('qom-list', path='/objects')]
        check('f0' in names and 'io0' in names, f'objects {names}')


def test_json_options():
    """QEMU's (and libvirt's) JSON form of -object and -netdev."""
    import json
    need_types('filter-dump')
    d = tmpdir()
    if have_type('user', '-netdev'):
        nd = {'type': 'user', 'id': 'n0'}
    elif have_type('stream', '-netdev'):
        nd = {'type': 'stream', 'id': 'n0', 'server': True,
              'addr': {'type': 'unix', 'path': os.path.join(d, 'n0.sock')}}
    else:
        raise Skip('no stream or user netdev')
    dump = {'qom-type': 'filter-dump', 'id': 'f0', 'netdev': 'n0',
            'file': os.path.join(d, 'x.pcap')}
    io = {'qom-type': 'iothread', 'id': 'io0', 'poll-max-ns': 5}
    with ColoProxy(['-object', json.dumps(dump), '-netdev', json.dumps(nd),
                    '-object', json.dumps(io)]) as p:
        check_eq(p.qmp.cmd('qom-get', path='io0', property='poll-max-ns'), 5,
                 'poll-max-ns set through JSON')
        check_eq(p.qmp.cmd('qom-get', path='/objects/f0', property='type'),
                 'filter-dump', 'type of f0')
    r = run_proxy(['-object', '{"qom-type": "iothread"}'])
    check_eq(r.returncode, 1, 'JSON -object without id')
    check("Parameter 'id' is missing" in r.stderr, r.stderr)


def test_option_spellings():
    for v in ('-version', '--version'):
        r = run_proxy([v])
        check_eq(r.returncode, 0, f'exit code of {v}')
    r = run_proxy(['--object', 'help'])
    check_eq(r.returncode, 0, 'exit code of --object help')
    check('iothread' in r.stdout, '--object help lists no iothread')
    r = run_proxy(['-object'])
    check_eq(r.returncode, 1, 'exit code of -object without argument')
    check('colo-proxy: -object: requires an argument' in r.stderr, r.stderr)
    r = run_proxy(['-enable-kvm'])
    check_eq(r.returncode, 1, 'exit code of -enable-kvm')
    check_eq(r.stderr.strip(), 'colo-proxy: -enable-kvm: invalid option',
             'message for -enable-kvm')


if __name__ == '__main__':
    run_tests([
        test_daemonize_quit,
        test_daemonize_sigterm,
        test_daemonize_startup_error,
        test_pidfile_locked,
        test_startup_order,
        test_json_options,
        test_option_spellings,
    ])
