#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Socket addresses as the user types them (util/sockaddr.c): every option
that takes a port refuses one above 65535 instead of wrapping it into
another port, a unix path longer than sun_path allows is refused with one
message, and bracketed IPv6 hosts work wherever a host:port is taken."""

import os
import socket
import subprocess
import time

from coloqtest import (ColoProxy, check, log, run_proxy, run_tests, tmpdir,
                       free_tcp_port, proxy_binary)


def refused(args, want, what):
    r = run_proxy(args)
    check(r.returncode != 0, f'{what}: accepted ({args})')
    check(want in r.stderr, f'{what}: stderr {r.stderr!r}')


def test_port_range():
    # Before util/sockaddr.c, port=99999 listened on 34463 (99999 - 65536).
    for args, what in [
            (['-chardev', 'socket,id=c0,host=127.0.0.1,port=99999,'
              'server=on,wait=off'], 'chardev port'),
            (['-netdev', 'stream,id=n0,server=on,addr.type=inet,'
              'addr.host=127.0.0.1,addr.port=99999'], 'netdev stream'),
            (['-netdev', 'dgram,id=n0,local.type=inet,local.host=127.0.0.1,'
              'local.port=99999,remote.type=inet,remote.host=127.0.0.1,'
              'remote.port=9'], 'netdev dgram'),
            (['-netdev', 'socket,id=n0,listen=127.0.0.1:99999'],
             'netdev socket'),
            (['-qmp', 'tcp:127.0.0.1:99999,server=on,wait=off'], '-qmp')]:
        refused(args, 'out of range', what)
    # The QEMU driver's address is checked when the frame attaches: a bad
    # one is logged and the proxy keeps running (colo-qemu.c).
    proc = subprocess.Popen([proxy_binary(), '-object',
                             'colo-frame,id=f0,mode=primary,driver=qemu,'
                             'qemu-qmp=tcp:127.0.0.1:99999'],
                            stderr=subprocess.PIPE, text=True)
    try:
        line = ''
        deadline = time.monotonic() + 10
        while 'out of range' not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
        check('out of range' in line, f'qemu-qmp: last stderr {line!r}')
    finally:
        proc.kill()
        proc.wait()
    refused(['-chardev', 'socket,id=c0,host=127.0.0.1,port=-1,server=on,'
             'wait=off'], 'not a port', 'chardev port -1')
    log('ports above 65535 refused everywhere')


def test_unix_length():
    d = tmpdir()
    base = os.path.join(d, 'x')
    fits = base + 'a' * (107 - len(base))
    long = fits + 'b'
    for args, what in [
            (['-chardev', f'socket,id=c0,path={long},server=on,wait=off'],
             'chardev'),
            (['-chardev', 'socket,id=c0,path=' + 'a' * 108 +
              ',abstract=on,server=on,wait=off'], 'chardev abstract'),
            (['-netdev', f'stream,id=n0,server=on,addr.type=unix,'
              f'addr.path={long}'], 'netdev stream'),
            (['-qmp', f'unix:{long},server=on,wait=off'], '-qmp')]:
        refused(args, 'at most 107', what)
    # 107 bytes fit, for a file and for an abstract name alike.
    p = ColoProxy(['-chardev', f'socket,id=c0,path={fits},server=on,'
                   'wait=off',
                   '-chardev', 'socket,id=c1,path=' + 'a' * 107 +
                   ',abstract=on,server=on,wait=off'])
    check(os.path.exists(fits), '107-byte socket path not created')
    p.stop()
    log('unix paths: 107 bytes fit, 108 refused with one message')


def test_bracketed_v6():
    try:
        socket.socket(socket.AF_INET6).bind(('::1', 0))
    except OSError:
        log('no ::1 here; bracket test done for IPv4 only')
        return
    port = free_tcp_port()
    p = ColoProxy(['-netdev', f'socket,id=n0,listen=[::1]:{port}'])
    s = socket.create_connection(('::1', port), timeout=5)
    s.close()
    p.stop()
    port = free_tcp_port()
    p = ColoProxy(['-qmp', f'tcp:[::1]:{port},server=on,wait=off'])
    s = socket.create_connection(('::1', port), timeout=5)
    check(b'QMP' in s.recv(4096), 'no QMP greeting on [::1]')
    s.close()
    p.stop()
    log('bracketed IPv6 hosts accepted by netdev socket and -qmp')


if __name__ == '__main__':
    run_tests([test_port_range, test_unix_length, test_bracketed_v6])
