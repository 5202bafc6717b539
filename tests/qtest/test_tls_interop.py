#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_tls_interop - TLS between our chardevs and a real QEMU 7.2's
(issue 18), in both directions, byte-exact, with the same command-line
objects on both sides (tls-creds-x509, tls-creds-psk, authz-simple).

  A. QEMU filter-mirror (TLS server, tls-authz)  ->  our filter-redirector
     (TLS client)
  B. our filter-mirror (TLS server, tls-authz)  ->  QEMU filter-redirector
     (TLS client)
  C. A and B with PSK keys instead of certificates.

The QEMU side is driven as in test_mirror_interop (-M none, two socket
netdevs on a hub); certificates are made by openssl at test time
(tlscerts.py).
"""

import time

from coloqtest import *
from test_mirror_interop import (qemu_port, wait_connected,
                                 check_qemu_to_ours, check_ours_to_qemu)
import tlscerts

_pki = None


def need_tls_interop():
    need_qemu()
    need_types('stream', option='-netdev')
    need_types('stream', option='-device')
    need_types('filter-mirror', 'filter-redirector', 'tls-creds-x509',
               'tls-creds-psk', 'authz-simple')
    why = tlscerts.needs_openssl()
    if why:
        skip(why)


def pki():
    global _pki
    if _pki is None:
        _pki = tlscerts.make_pki(tmpdir('cqtlsi'))
    return _pki


def tls_objects(side, creds, p):
    """The -object options of one side ('server' or 'client')."""
    if creds == 'psk':
        d = p.psk_server_dir if side == 'server' else p.psk_client_dir
        user = '' if side == 'server' else ',username=secondary'
        objs = ['-object', f'tls-creds-psk,id=tls0,dir={d},endpoint={side}'
                           + user]
        ident = 'secondary'
    else:
        d = p.server_dir if side == 'server' else p.client_dir
        objs = ['-object', f'tls-creds-x509,id=tls0,dir={d},endpoint={side}']
        ident = p.client_dn.replace(',', ',,')
    if side == 'server':
        objs += ['-object', f'authz-simple,id=auth0,identity={ident}']
    return objs


def tls_opt(side):
    return ',tls-creds=tls0' + (',tls-authz=auth0' if side == 'server'
                                else '')


def case_qemu_mirror_to_our_redirector(creds):
    p = pki()
    pm = free_tcp_port()
    q, qa, qb = qemu_port(
        tls_objects('server', creds, p) +
        ['-chardev', f'socket,id=mirror0,host=127.0.0.1,port={pm},'
                     'server=on,wait=off' + tls_opt('server'),
         '-object', 'filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=mirror0'])
    port = StreamPort(extra=tls_objects('client', creds, p) + [
        '-chardev', f'socket,id=red0,host=127.0.0.1,port={pm},'
                    'reconnect-ms=200' + tls_opt('client'),
        '-object', 'filter-redirector,id=r0,netdev=n0,queue=tx,indev=red0'])
    wait_for(lambda: any(e['established'] >= 1
                         for e in port.qmp.cmd('query-tls')), 10,
             what='TLS session with QEMU')
    time.sleep(0.3)             # QEMU's side of the handshake
    check_qemu_to_ours(qa, qb, port, 'r0',
                       'QEMU mirror -TLS-> our redirector')
    tls = port.qmp.cmd('query-tls')[0]
    check_eq(tls['refused'], 0, 'refusals')
    port.stop()
    q.stop()


def case_our_mirror_to_qemu_redirector(creds):
    p = pki()
    pm = free_tcp_port()
    port = StreamPort(extra=tls_objects('server', creds, p) + [
        '-chardev', chardev_tcp('mirror0', pm, extra=tls_opt('server')[1:]),
        '-object', 'filter-mirror,id=m0,netdev=n0,queue=tx,outdev=mirror0'])
    q, qa, qb = qemu_port(
        tls_objects('client', creds, p) +
        ['-chardev', f'socket,id=red0,host=127.0.0.1,port={pm},reconnect=1'
                     + tls_opt('client'),
         '-object', 'filter-redirector,id=f1,netdev=hn0,queue=tx,indev=red0'])
    link = "chardev 'mirror0'"
    wait_for(lambda: [e for e in port.qmp.cmd('query-tls')
                      if e['link'] == link][0]['established'] >= 1, 10,
             what='QEMU completed the TLS handshake with our mirror')
    wait_connected(port.qmp, 'm0', 'out-connected', 'mirror connected')
    time.sleep(0.3)
    check_ours_to_qemu(port, qb, 'm0', 'our mirror -TLS-> QEMU redirector')
    q.stop()
    port.stop()


def test_qemu_mirror_to_our_redirector_x509():
    need_tls_interop()
    case_qemu_mirror_to_our_redirector('x509')


def test_qemu_mirror_to_our_redirector_psk():
    need_tls_interop()
    case_qemu_mirror_to_our_redirector('psk')


def test_our_mirror_to_qemu_redirector_x509():
    need_tls_interop()
    case_our_mirror_to_qemu_redirector('x509')


def test_our_mirror_to_qemu_redirector_psk():
    need_tls_interop()
    case_our_mirror_to_qemu_redirector('psk')


if __name__ == '__main__':
    run_tests([test_qemu_mirror_to_our_redirector_x509,
               test_qemu_mirror_to_our_redirector_psk,
               test_our_mirror_to_qemu_redirector_x509,
               test_our_mirror_to_qemu_redirector_psk])
