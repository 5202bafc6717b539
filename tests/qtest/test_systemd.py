#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_systemd - colo-proxy as a systemd service.

Readiness, with the real sd_notify protocol: the test binds the unix
datagram socket that systemd would and passes it in NOTIFY_SOCKET.
READY=1 must come only once start-up is complete: not while a
server=on,wait=on chardev waits for its client, and when it comes the
QMP socket answers at once and every object of the command line exists.
STATUS= says what listens where; STOPPING=1 comes at SIGTERM.

The unit: `meson install` into a scratch root, then `systemd-analyze
verify` of the installed colo-proxy@.service with --root (offline: no
systemd needs to run, and here PID 1 is not systemd), against the
host's own unit files copied into that root, with MANPATH on the
installed man pages so that Documentation= is checked too."""

import os
import shutil
import socket
import subprocess

from coloqtest import *


def built_with_libsystemd():
    path = os.path.join(build_dir(), 'config-host.h')
    with open(path) as f:
        return '#define CONFIG_LIBSYSTEMD' in f.read()


def need_libsystemd():
    if not built_with_libsystemd():
        skip('colo-proxy built without libsystemd (sd_notify): '
             'scripts/install-deps.sh build installs libsystemd-dev, '
             'then reconfigure')


def notify_socket(d):
    path = os.path.join(d, 'notify.sock')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    return s, path


def recv_notify(s, timeout):
    """The next datagram as {KEY: VALUE}, or None after 'timeout'."""
    s.settimeout(timeout)
    try:
        data = s.recv(4096)
    except socket.timeout:
        return None
    out = {}
    for line in data.decode().splitlines():
        k, _, v = line.partition('=')
        out[k] = v
    return out


def test_ready_after_qmp_and_objects():
    need_libsystemd()
    d = tmpdir()
    ns, path = notify_socket(d)
    port = free_tcp_port()
    p = ColoProxy(['-chardev', chardev_tcp('c0', port, wait=True),
                   '-object', 'iothread,id=io0',
                   '-netdev', stream_netdev('n0', os.path.join(d, 'n.sock'))],
                  dir=d, env={'NOTIFY_SOCKET': path}, start=False)
    p.start(connect=False)
    # wait=on: start-up is not complete until c0 has its client
    early = recv_notify(ns, 1.0)
    check(early is not None and 'waiting for the clients' in
          early.get('STATUS', ''), f'no STATUS= while waiting: {early}')
    check('READY' not in early,
          f'READY=1 while a wait=on chardev has no client: {early}')
    early = recv_notify(ns, 0.5)
    check(early is None or 'READY' not in early,
          f'READY=1 while a wait=on chardev has no client: {early}')
    c = connect_tcp(port, proc=p)
    msg = recv_notify(ns, 10.0)
    while msg is not None and 'READY' not in msg:
        msg = recv_notify(ns, 10.0)
    check(msg is not None, 'no READY=1 within 10 s of the client connecting')
    check_eq(msg['READY'], '1', 'READY value')
    # At READY=1 the QMP socket answers at once: no retry
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(p.qmp_path)
    s.close()
    q = p.connect_qmp()
    ids = {o['name'] for o in q.cmd('qom-list', path='/objects')}
    check('io0' in ids, f'io0 missing at READY=1: {sorted(ids)}')
    check('c0' in {c['label'] for c in q.cmd('query-chardev')},
          'chardev c0 missing at READY=1')
    status = msg.get('STATUS', '')
    check(status.startswith('ready: 3 objects; ') and
          f'QMP on unix:{p.qmp_path}' in status and
          f'chardev c0 on ' in status, f'STATUS= {status!r}')
    p.stop()
    c.close()
    msgs = []
    while True:
        m = recv_notify(ns, 2.0)
        if m is None:
            break
        msgs.append(m)
    check(any(m.get('STOPPING') == '1' for m in msgs),
          f'no STOPPING=1 at SIGTERM: {msgs}')


def test_no_notify_socket():
    """Without NOTIFY_SOCKET (not under systemd) nothing is sent and
    nothing is said about it."""
    with ColoProxy(['-object', 'iothread,id=io0'],
                   env={'NOTIFY_SOCKET': ''}) as p:
        p.qmp.cmd('query-status')
    check('sd_notify' not in p.stderr(), p.stderr())


def find_file(root, name):
    for dirpath, _, files in os.walk(root):
        if name in files:
            return os.path.join(dirpath, name)
    return None


def verify_unit(root, unit, manpath):
    """systemd-analyze verify of 'unit' (a path inside 'root') with
    --root: the host's unit files are copied in for the targets the unit
    names.  Returns the output; fails on any message."""
    tool = shutil.which('systemd-analyze')
    if not tool:
        skip('no systemd-analyze: scripts/install-deps.sh test installs '
             'systemd')
    host_units = '/lib/systemd/system'
    dst = os.path.join(root, 'lib', 'systemd', 'system')
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(host_units):
        src = os.path.join(host_units, name)
        if os.path.isfile(src) and not os.path.exists(os.path.join(dst, name)):
            shutil.copy(src, dst)
    rel = '/' + os.path.relpath(unit, root)
    r = subprocess.run([tool, 'verify', f'--root={root}', rel],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANPATH=manpath))
    out = (r.stdout + r.stderr).strip()
    log(f'systemd-analyze verify {rel}: exit {r.returncode}'
        f'{": " + out if out else ", nothing to say"}')
    check(r.returncode == 0 and not out,
          f'systemd-analyze verify {rel}: exit {r.returncode}\n{out}')
    return out


def test_installed_unit_verifies():
    root = tmpdir('cqroot')
    r = subprocess.run(['meson', 'install', '-C', build_dir(), '--no-rebuild',
                        '--destdir', root, '--quiet'],
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, f'meson install: {r.stdout}{r.stderr}')
    unit = find_file(root, 'colo-proxy@.service')
    check(unit, 'meson install did not install colo-proxy@.service')
    text = open(unit).read()
    check('@BINDIR@' not in text and '@DOCDIR@' not in text,
          'unit paths not filled in')
    for key in ('Type=notify', 'RuntimeDirectory=colo-proxy/%i\n',
                'LogsDirectory=colo-proxy', 'ProtectSystem=strict',
                'unix:/run/colo-proxy/%i/qmp.sock'):
        check(key in text, f'unit lacks {key!r}')
    # Documentation=file: names a file that is installed
    doc = [ln.split('file:', 1)[1] for ln in text.splitlines()
           if ln.startswith('Documentation=file:')]
    check(doc and os.path.isfile(root + doc[0]),
          f'Documentation= names {doc}, not installed')
    man = find_file(root, 'colo-proxy.1')
    check(man, 'colo-proxy.1 not installed')
    verify_unit(root, unit, os.path.dirname(os.path.dirname(man)))


if __name__ == '__main__':
    run_tests([
        test_ready_after_qmp_and_objects,
        test_no_notify_socket,
        test_installed_unit_verifies,
    ])
