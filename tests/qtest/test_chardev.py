#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_chardev - socket chardevs over QMP and the command line
(chardev/char-socket.c, chardev/char-qmp.c).

chardev-add / chardev-remove / query-chardev in QEMU's shapes (tcp and
unix, server and client, reconnect), query-chardev-stats, the filenames
QEMU shows ("disconnected:tcp:...,server=on", "tcp:L<->P,server=on"),
QEMU's error messages, a server taking the next client after the first
leaves, "server=on,wait=on" holding start-up until a client connects,
the legacy "server,nowait" spelling, and a chardev used by a filter
refusing chardev-remove.
"""

import os
import socket
import time

from coloqtest import *


def inet_backend(host, port, server, **extra):
    data = {'addr': {'type': 'inet',
                     'data': {'host': host, 'port': str(port)}},
            'server': server}
    data.update(extra)
    return {'type': 'socket', 'data': data}


def unix_backend(path, server, **extra):
    data = {'addr': {'type': 'unix', 'data': {'path': path}},
            'server': server}
    data.update(extra)
    return {'type': 'socket', 'data': data}


def chardev_info(qmp, label):
    for c in qmp.cmd('query-chardev'):
        if c['label'] == label:
            return c
    return None


def chardev_stats(qmp, label):
    ret = qmp.cmd('query-chardev-stats', id=label)
    check_eq(len(ret), 1, 'entries')
    return ret[0]


def port_of(filename):
    return int(filename.split(',')[0].rsplit(':', 1)[1])


def test_add_query_remove_tcp():
    with ColoProxy() as p:
        q = p.qmp
        check_eq(q.cmd('chardev-add', id='s0',
                       backend=inet_backend('127.0.0.1', 0, True)),
                 {}, 'chardev-add')
        info = chardev_info(q, 's0')
        check(info['filename'].startswith('disconnected:tcp:127.0.0.1:') and
              info['filename'].endswith(',server=on'), info['filename'])
        check_eq(info['frontend-open'], False, 'frontend-open')
        port = port_of(info['filename'])

        c = connect_tcp(port)
        local = c.getsockname()[1]
        want = f'tcp:127.0.0.1:{port}<->127.0.0.1:{local},server=on'
        wait_for(lambda: chardev_info(q, 's0')['filename'] == want,
                 what=want)
        st = chardev_stats(q, 's0')
        check_eq((st['connected'], st['connects'], st['disconnects']),
                 (True, 1, 0), 'stats after connect')
        for k in ('bytes-in', 'bytes-out', 'writes-refused',
                  'writes-unconnected', 'out-queued'):
            check_eq(st[k], 0, k)

        # A client chardev to the same server: waits in the backlog until
        # the raw client leaves, then is served.
        check_eq(q.cmd('chardev-add', id='c0',
                       backend=inet_backend('127.0.0.1', port, False,
                                            reconnect=1)), {}, 'client add')
        wait_for(lambda: chardev_stats(q, 'c0')['connected'],
                 what='client connected')
        time.sleep(0.2)
        check_eq(chardev_stats(q, 's0')['connects'], 1, 'server connects')
        c.close()
        wait_for(lambda: chardev_stats(q, 's0')['connects'] == 2,
                 what='second client accepted')
        st = chardev_stats(q, 's0')
        check_eq((st['connected'], st['disconnects']), (True, 1),
                 'server stats')
        fn = chardev_info(q, 'c0')['filename']
        check(fn.startswith('tcp:127.0.0.1:') and
              fn.endswith(f'<->127.0.0.1:{port}'), fn)

        expect_qmp_error(q.cmd, 'chardev-add', id='s0',
                         backend=inet_backend('127.0.0.1', 0, True),
                         contains='Duplicate ID')
        # Removing the client: the server sees it go and listens again.
        check_eq(q.cmd('chardev-remove', id='c0'), {}, 'remove')
        check(chardev_info(q, 'c0') is None, 'c0 still listed')
        wait_for(lambda: chardev_info(q, 's0')['filename'].startswith(
            'disconnected:'), what='server disconnected')
        expect_qmp_error(q.cmd, 'chardev-remove', id='c0',
                         contains="Chardev 'c0' not found")
        expect_qmp_error(q.cmd, 'query-chardev-stats', id='c0',
                         contains="Chardev 'c0' not found")
        check_eq(q.cmd('chardev-remove', id='s0'), {}, 'remove s0')
        # The port is free again.
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(('127.0.0.1', port))
        s.close()


def test_errors():
    with ColoProxy() as p:
        q = p.qmp
        port = free_tcp_port()
        expect_qmp_error(q.cmd, 'chardev-add', id='c',
                         backend=inet_backend('127.0.0.1', port, False),
                         contains=f"Failed to connect to '127.0.0.1:{port}': "
                                  "Connection refused")
        check(chardev_info(q, 'c') is None, 'failed chardev listed')
        expect_qmp_error(q.cmd, 'chardev-add', id='c',
                         backend=inet_backend('127.0.0.1', port, True,
                                              reconnect=1),
                         contains="'reconnect' option is incompatible")
        expect_qmp_error(q.cmd, 'chardev-add', id='c',
                         backend={'type': 'file', 'data': {}},
                         contains='backend.type')
        expect_qmp_error(q.cmd, 'chardev-add', id='c',
                         backend=unix_backend('/nonexistent/dir/x', True),
                         contains='Failed to bind socket')


def test_unix_server_and_client():
    with ColoProxy() as p:
        q = p.qmp
        path = p.path('u.sock')
        q.cmd('chardev-add', id='us', backend=unix_backend(path, True,
                                                           wait=True))
        check_eq(chardev_info(q, 'us')['filename'],
                 f'disconnected:unix:{path},server=on', 'filename')
        q.cmd('chardev-add', id='uc', backend=unix_backend(path, False))
        wait_for(lambda: chardev_info(q, 'us')['filename'] ==
                 f'unix:{path},server=on', what='server connected')
        check_eq(chardev_info(q, 'uc')['filename'], f'unix:{path}',
                 'client filename')
        q.cmd('chardev-remove', id='uc')
        q.cmd('chardev-remove', id='us')
        check(not os.path.exists(path), 'socket file left behind')


def test_wait_on_blocks_startup():
    port = free_tcp_port()
    p = ColoProxy(['-chardev', chardev_tcp('w0', port, wait=True)],
                  qmp=False)
    try:
        wait_for(lambda: 'waiting for connection on' in p.stderr(),
                 what='waiting message')
        check(f'disconnected:tcp:127.0.0.1:{port},server=on' in p.stderr(),
              p.stderr())
        check(p.alive(), 'exited while waiting')
        c = connect_tcp(port, proc=p)
        time.sleep(0.3)
        check(p.alive(), 'exited after the client came')
        c.close()
    finally:
        p.stop(expect=None)


def test_wait_on_sigterm():
    """A proxy waiting for a client that never comes still stops."""
    port = free_tcp_port()
    p = ColoProxy(['-chardev', chardev_tcp('w0', port, wait=True)],
                  qmp=False)
    wait_for(lambda: 'waiting for connection on' in p.stderr(),
             what='waiting message')
    p.stop(expect=0, timeout=10)


def test_legacy_server_nowait():
    port = free_tcp_port()
    with ColoProxy(['-chardev', f'socket,id=l0,host=127.0.0.1,port={port},'
                    'server,nowait']) as p:
        info = chardev_info(p.qmp, 'l0')
        check_eq(info['filename'],
                 f'disconnected:tcp:127.0.0.1:{port},server=on', 'filename')


def test_in_use_by_filter():
    need_types('filter-mirror')
    need_types('user', option='-netdev')
    port = free_tcp_port()
    with ColoProxy(['-netdev', 'user,id=n0',
                    '-chardev', chardev_tcp('m0', port)]) as p:
        q = p.qmp
        q.object_add('filter-mirror', 'f0', netdev='n0', outdev='m0')
        check_eq(chardev_info(q, 'm0')['frontend-open'], True,
                 'frontend-open')
        expect_qmp_error(q.cmd, 'chardev-remove', id='m0',
                         contains='in use')
        q.object_del('f0')
        check_eq(chardev_info(q, 'm0')['frontend-open'], False,
                 'frontend-open after object-del')
        q.cmd('chardev-remove', id='m0')


if __name__ == '__main__':
    run_tests([test_add_query_remove_tcp, test_errors,
               test_unix_server_and_client, test_wait_on_blocks_startup,
               test_wait_on_sigterm, test_legacy_server_nowait,
               test_in_use_by_filter])
