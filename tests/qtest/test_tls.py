#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_tls - TLS and authorization on socket chardevs (issue 18):
tls-creds-x509, tls-creds-psk, authz-simple, authz-list
(qom/tls-creds.c, qom/authz.c, qom/tls-link.c, chardev/char-socket.c).

Certificates are made at test time with openssl (tests/qtest/tlscerts.py):
a CA, server and client certificates, a client certificate of another
CA, an expired one, one with a name outside the authorization list, and
PSK keys.  The primary's mirror chardev 'mirror0' is a TLS server; the
test plays the secondary with Python's ssl module or with a second
colo-proxy whose filter-redirector reads mirror0 through a TLS client
chardev, and checks:

  - frames cross byte-exact (x509 both ways of our code, PSK);
  - each attack is refused, counted (query-tls, query-chardev), announced
    (TLS_PEER_REFUSED), and the legitimate secondary connects after it
    and gets every frame: a client without certificate, with a rogue or
    an expired one, outside authz-list, a wrong PSK, a connection that
    never completes its handshake, garbage instead of a ClientHello 1000
    times in a row, a stranger connected first (it receives zero bytes);
  - QEMU's option errors; the warning of a listener without TLS.
"""

import json
import os
import socket
import ssl
import struct
import subprocess
import threading
import time

from coloqtest import *
import tlscerts

_pki = None


def pki():
    global _pki
    why = tlscerts.needs_openssl()
    if why:
        skip(why)
    if _pki is None:
        _pki = tlscerts.make_pki(tmpdir('cqtls'))
    return _pki


def need_tls():
    need_types('tls-creds-x509', 'tls-creds-psk', 'authz-simple',
               'authz-list', 'filter-mirror')


def query_tls(qmp, link):
    return qmp_entry(qmp, 'query-tls', 'link', link,
                     f'no query-tls entry {link}')


def chardev_info(qmp, label):
    return qmp_entry(qmp, 'query-chardev', 'label', label)


def tls_client(port, d, host='127.0.0.1', timeout=5.0):
    """A Python TLS client with the files of directory 'd'."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(os.path.join(d, 'ca-cert.pem'))
    cert = os.path.join(d, 'client-cert.pem')
    if os.path.exists(cert):
        ctx.load_cert_chain(cert, os.path.join(d, 'client-key.pem'))
    raw = socket.create_connection((host, port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname='primary.colo.test')


def tls_refused(port, d):
    """Connects with 'd''s files and expects the server to refuse: the
    handshake fails, or the first read gets an alert / EOF and no data.
    Returns the bytes of application data received (must be empty)."""
    try:
        s = tls_client(port, d)
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError):
        return b''
    got = b''
    try:
        # TLS 1.3: the client's certificate is judged after the client
        # thinks the handshake is done; the refusal comes as an alert.
        s.settimeout(5)
        while True:
            d2 = s.recv(65536)
            if not d2:
                break
            got += d2
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError,
            socket.timeout, OSError):
        pass
    s.close()
    return got


class TlsPrimary:
    """StreamPort + TLS server chardev mirror0 + filter-mirror m0."""

    def __init__(self, creds='x509', authz=None, extra_objects=()):
        p = pki()
        self.port_no = free_tcp_port()
        objs = []
        if creds == 'x509':
            objs += ['-object', f'tls-creds-x509,id=tls0,dir={p.server_dir},'
                     'endpoint=server,verify-peer=on']
        else:
            objs += ['-object', f'tls-creds-psk,id=tls0,'
                     f'dir={p.psk_server_dir},endpoint=server']
        extra = ''
        if authz:
            objs += ['-object', authz]
            extra = ',tls-authz=auth0'
        objs += list(extra_objects)
        chardev = ['-chardev', chardev_tcp('mirror0', self.port_no,
                                           extra='tls-creds=tls0' + extra)]
        self.port = StreamPort(extra=objs + chardev)
        self.qmp = self.port.qmp
        self.qmp.object_add('filter-mirror', 'm0', netdev='n0', queue='tx',
                            outdev='mirror0')
        self.link = "chardev 'mirror0'"

    def refused(self):
        return query_tls(self.qmp, self.link)['refused']

    def send(self, frames):
        for f in frames:
            send_frame(self.port.net, f)
            check_eq(recv_frame(self.port.guest), f, 'net->guest')

    def stop(self):
        self.port.stop()


def secondary_gets(prim, sec, n=20, size=1448, tag=0):
    """Frames sent by the network reach the TLS secondary byte-exact."""
    wait_for(lambda: query_tls(prim.qmp, prim.link)['established'] > 0,
             what='TLS secondary established')
    frames = [eth_frame(tag + i, size) for i in range(n)]
    # the mirror connects asynchronously: OPENED then frames
    wait_for(lambda: chardev_info(prim.qmp, 'mirror0')['filename']
             .startswith('tcp:'), what='mirror0 connected')
    prim.send(frames)
    want = b''.join(frame_bytes(f) for f in frames)
    got = recv_exact(sec, len(want), timeout=10)
    check(got == want, 'mirror stream over TLS differs')


def test_objects_and_errors():
    need_tls()
    p = pki()
    with ColoProxy() as px:
        q = px.qmp
        q.object_add('tls-creds-x509', 's', dir=p.server_dir,
                     endpoint='server')
        q.object_add('tls-creds-x509', 'c', dir=p.client_dir,
                     endpoint='client')
        q.object_add('tls-creds-psk', 'k', dir=p.psk_server_dir,
                     endpoint='server')
        expect_qmp_error(q.object_add, 'tls-creds-x509', 'bad',
                         dir=p.client_dir, endpoint='server',
                         contains='server-cert.pem')
        expect_qmp_error(q.object_add, 'tls-creds-x509', 'bad',
                         dir=p.server_dir, endpoint='middle',
                         contains="'endpoint'")
        expect_qmp_error(q.object_add, 'tls-creds-psk', 'bad',
                         dir=p.psk_client_dir, endpoint='client',
                         username='nobody', contains='nobody')
        expect_qmp_error(q.object_add, 'tls-creds-x509', 'bad',
                         dir=p.server_dir, endpoint='server',
                         priority='NONSENSE', contains='priority')
        # QEMU's JSON form of authz-list
        q.cmd('object-add', {'qom-type': 'authz-list', 'id': 'al',
                             'policy': 'deny',
                             'rules': [{'match': 'CN=*', 'policy': 'allow',
                                        'format': 'glob'}]})
        q.object_add('authz-simple', 'as', identity='x')
        expect_qmp_error(q.object_add, 'authz-list', 'bad', policy='maybe',
                         contains="'policy'")
        port = free_tcp_port()
        tcp = {'type': 'inet', 'data': {'host': '127.0.0.1',
                                        'port': str(port)}}

        def server_backend(addr, **tls):
            return {'type': 'socket',
                    'data': {'addr': addr, 'server': True, **tls}}

        # QEMU's errors on the chardev
        for addr, creds, error in (
                (tcp, 'c', 'server endpoint'),
                ({'type': 'unix', 'data': {'path': px.path('u')}}, 's',
                 'TCP'),
                (tcp, 'nope', 'nope')):
            expect_qmp_error(q.cmd, 'chardev-add', id='x',
                             backend=server_backend(addr,
                                                    **{'tls-creds': creds}),
                             contains=error)
        q.cmd('chardev-add', id='t', backend=server_backend(
            tcp, **{'tls-creds': 's', 'tls-authz': 'al'}))
        info = chardev_info(q, 't')
        check_eq((info['tls-creds'], info['tls-authz'], info['tls-refused']),
                 ('s', 'al', 0), 'query-chardev TLS members')
        check('warning' not in info, 'no warning with TLS')
        # credentials in use cannot go
        expect_qmp_error(q.object_del, 's', contains='in use')
        q.cmd('chardev-remove', id='t')
        q.object_del('s')


def test_warning_without_tls():
    """A TCP listener on a non-loopback address without TLS warns once at
    start and in query-chardev; loopback and unix do not."""
    need_tls()
    port = free_tcp_port()
    with ColoProxy(['-chardev', chardev_tcp('open0', port, host='0.0.0.0'),
                    '-chardev', chardev_tcp('lo0', free_tcp_port())]) as px:
        info = chardev_info(px.qmp, 'open0')
        check('without TLS' in info.get('warning', ''), repr(info))
        check('warning' not in chardev_info(px.qmp, 'lo0'), 'loopback')
        err = px.stderr()
        check_eq(err.count('without TLS'), 1, f'one warning line: {err}')


def local_global_address():
    """A non-loopback IPv4 address of this host (or network namespace), or
    None when it has none."""
    try:
        out = subprocess.run(['ip', '-o', '-4', 'addr', 'show', 'scope',
                              'global'], capture_output=True, text=True,
                             timeout=5).stdout
    except OSError:
        return None
    for line in out.splitlines():
        f = line.split()
        if 'inet' in f:
            return f[f.index('inet') + 1].split('/')[0]
    return None


def netdev_backend(qmp, id):
    for e in qmp.cmd('query-netdev-stats'):
        if e['id'] == id:
            return e.get('backend', {})
    raise TestFailure(f'no query-netdev-stats entry {id}')


def test_warning_netdev_stream_without_tls():
    """-netdev/-device stream listeners follow the socket chardevs' rule
    (one helper, tls_listener_warning()): 0.0.0.0, :: and a non-loopback
    address warn once on stderr and in query-netdev-stats (backend
    'warning'); 127.0.0.1, ::1, unix and a TLS listener do not."""
    need_tls()
    p = pki()
    d = tmpdir('cqtlsw')
    exposed = [('any4', '0.0.0.0')]
    quiet = [('lo4', '127.0.0.1')]
    if socket.has_ipv6:
        try:
            with socket.socket(socket.AF_INET6) as t:
                t.bind(('::1', 0))
            exposed.append(('any6', '::'))
            quiet.append(('lo6', '::1'))
        except OSError:
            print('no IPv6 loopback here: the :: and ::1 cases are left out')
    ext = local_global_address()
    if ext:
        exposed.append(('ext', ext))
    else:
        print('no non-loopback address in this namespace: only the '
              'wildcard addresses are checked')
    ports = free_tcp_ports(len(exposed) + len(quiet) + 2)
    args = ['-object', f'tls-creds-x509,id=ts,dir={p.server_dir},'
                       'endpoint=server']
    for (id, host), port in zip(exposed + quiet, ports):
        args += ['-netdev', f'stream,id={id},server=on,addr.type=inet,'
                            f'addr.host={host},addr.port={port}']
    args += ['-netdev', f'stream,id=tls0,server=on,addr.type=inet,'
                        f'addr.host=0.0.0.0,addr.port={ports[-2]},'
                        'tls-creds=ts',
             '-netdev', stream_netdev('un0', os.path.join(d, 'n.sock')),
             '-device', f'stream,id=dev0,netdev=un0,server=on,'
                        f'addr.type=inet,addr.host=0.0.0.0,'
                        f'addr.port={ports[-1]}']
    with ColoProxy(args) as px:
        err = px.stderr()
        for id, host in exposed:
            w = netdev_backend(px.qmp, id).get('warning', '')
            check('without TLS' in w and 'tls-creds=' in w,
                  f'{id} ({host}): {w!r}')
            check_eq(err.count(f"netdev '{id}': listening on tcp:"), 1,
                     f'one warning line for {id}: {err}')
        check('without TLS' in netdev_backend(px.qmp, 'dev0').get(
              'warning', ''), 'device stream on 0.0.0.0 warns')
        check_eq(err.count("device 'dev0': listening on tcp:"), 1,
                 f'one warning line for dev0: {err}')
        for id in [i for i, _ in quiet] + ['tls0', 'un0']:
            check('warning' not in netdev_backend(px.qmp, id),
                  f'no warning for {id}')
            check(f"'{id}':" not in err, f'no line for {id}: {err}')
        check_eq(err.count('without TLS'), len(exposed) + 1,
                 f'one line per exposed listener: {err}')


def test_x509_mirror_byte_exact_and_attacks():
    """The mirror over TLS to a Python secondary, then every attack: each
    refused and counted, the legitimate secondary served after each."""
    need_tls()
    p = pki()
    authz = ('authz-list,id=auth0,policy=deny,'
             f'rules.0.match={p.client_dn.replace(",", ",,")},'
             'rules.0.policy=allow')
    prim = TlsPrimary(authz=authz)
    q = prim.qmp
    port = prim.port_no
    refused = 0

    # A stranger connects first and says nothing: it holds no slot.
    stranger = connect_tcp(port)
    sec = tls_client(port, p.client_dir)
    secondary_gets(prim, sec, tag=1)
    stranger.settimeout(0.3)
    try:
        got = stranger.recv(65536)
    except socket.timeout:
        got = b''
    check_eq(got, b'', 'bytes the stranger received')
    sec.close()
    wait_for(lambda: not chardev_info(q, 'mirror0')['filename']
             .startswith('tcp:'), what='secondary gone')

    # Refused certificates: none, rogue CA, expired.  (One more
    # rejected client below: outside authz-list.)
    for d in (p.nocert_dir, p.rogue_dir, p.expired_dir, p.intruder_dir):
        got = tls_refused(port, d)
        check_eq(got, b'', f'data received by {os.path.basename(d)}')
        refused += 1
        wait_for(lambda: prim.refused() >= refused,
                 what=f'refusal of {os.path.basename(d)} counted')
        ev = q.get_event('TLS_PEER_REFUSED', timeout=5)
        check_eq(ev['data']['link'], prim.link, 'event link')
    info = chardev_info(q, 'mirror0')
    check(info['tls-refused'] >= refused, repr(info))

    # Garbage instead of a ClientHello, 1000 times in a row (ten
    # clients at a time: loopback here stalls one SYN in about twenty
    # for a 1 s retransmission, whoever listens).
    done = []

    def garbage(n):
        ok = 0
        while ok < n:
            try:
                g = socket.create_connection(('127.0.0.1', port), timeout=10)
                g.sendall(os.urandom(64) + b'\x00' * 16)
                g.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack('ii', 1, 0))
                g.close()
                ok += 1
            except OSError:
                continue        # a SYN lost under load: connect again
        done.append(ok)
    threads = [threading.Thread(target=garbage, args=(100,))
               for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    check_eq(sum(done), 1000, 'garbage connections made')
    wait_for(lambda: prim.refused() >= refused + 1000, timeout=120,
             what='1000 garbage connections refused')
    refused = prim.refused()

    # Connections that never complete their handshake, more than the
    # pending limit: the legitimate secondary still gets through.
    silent = [connect_tcp(port) for _ in range(40)]
    time.sleep(0.2)
    sec = tls_client(port, p.client_dir)
    secondary_gets(prim, sec, tag=100)
    for s in silent:
        s.setblocking(False)
        try:
            data = s.recv(65536)
        except BlockingIOError:
            data = b''
        check_eq(data, b'', 'bytes a silent connection received')
    # the evicted ones are counted at once, the rest at their timeout
    wait_for(lambda: prim.refused() >= refused + 40 - 16, what='evictions')
    st = query_tls(q, prim.link)
    check(st['pending'] <= 16, f'pending bounded: {st}')
    for s in silent:
        s.close()
    # the secondary keeps its connection and its frames throughout
    secondary_gets(prim, sec, tag=200)
    sec.close()
    prim.stop()


def test_handshake_timeout_and_glob_authz():
    """A handshake that never completes is refused after its 10 s bound
    (event reason "handshake timed out") and frees its place; authz-list
    with glob rules: first match decides (a deny before an allow)."""
    need_tls()
    p = pki()
    authz = ('authz-list,id=auth0,policy=deny,'
             'rules.0.match=O=COLO test,,CN=intruder*,rules.0.policy=deny,'
             'rules.0.format=glob,'
             'rules.1.match=O=COLO test,,CN=*,rules.1.policy=allow,'
             'rules.1.format=glob')
    prim = TlsPrimary(authz=authz)
    q = prim.qmp
    silent = [connect_tcp(prim.port_no) for _ in range(3)]
    wait_for(lambda: query_tls(q, prim.link)['pending'] == 3,
             what='3 pending handshakes')
    t0 = time.monotonic()
    wait_for(lambda: query_tls(q, prim.link)['pending'] == 0, timeout=20,
             what='pending handshakes timed out')
    took = time.monotonic() - t0
    check(took < 12, f'handshake bound: {took:.1f} s')
    check_eq(prim.refused(), 3, 'timed-out handshakes counted')
    ev = q.get_event('TLS_PEER_REFUSED', timeout=5)
    check_eq(ev['data']['reason'], 'handshake timed out', 'event reason')
    for s_ in silent:
        s_.setblocking(False)
        try:
            data = s_.recv(100)
        except BlockingIOError:
            data = None
        check(not data, f'bytes to a timed-out peer: {data!r}')
        s_.close()
    check_eq(tls_refused(prim.port_no, p.intruder_dir), b'', 'intruder')
    wait_for(lambda: prim.refused() == 4, what='glob deny rule')
    sec = tls_client(prim.port_no, p.client_dir)
    secondary_gets(prim, sec, n=5, tag=300)
    sec.close()
    prim.stop()


def _psk_pair(prim, client_dir):
    """A second colo-proxy whose filter-redirector reads mirror0 through a
    PSK client chardev and writes what it gets to its own port's guest."""
    return tlscerts.tls_redirector(
        prim.port_no, f'tls-creds-psk,id=tlsc,dir={client_dir},'
                      'endpoint=client,username=secondary')


def test_psk_both_ends_ours():
    """Our TLS client to our TLS server with a PSK: frames byte-exact; a
    wrong key is refused at both ends and counted."""
    need_tls()
    need_types('filter-redirector')
    p = pki()
    prim = TlsPrimary(creds='psk', authz='authz-simple,id=auth0,'
                                          'identity=secondary')
    bad = _psk_pair(prim, p.psk_wrong_dir)
    wait_for(lambda: prim.refused() >= 1, what='wrong PSK refused')
    wait_for(lambda: query_tls(bad.qmp, "chardev 'in0'")['refused'] >= 1,
             what='client side counts the failure too')
    check_eq(query_tls(prim.qmp, prim.link)['established'], 0, 'no session')
    bad.stop()
    good = _psk_pair(prim, p.psk_client_dir)
    wait_for(lambda: query_tls(prim.qmp, prim.link)['established'] >= 1,
             what='PSK established')
    frames = [eth_frame(500 + i, s) for i, s in
              enumerate([60, 64, 512, 1448, 1514, 9000, 65536])]
    wait_for(lambda: chardev_info(prim.qmp, 'mirror0')['filename']
             .startswith('tcp:'), what='mirror0 connected')
    prim.send(frames)
    # the redirector injects them into the secondary's rx path: they
    # leave on its net side
    for f in frames:
        check_eq(recv_frame(good.net, 10), f, f'PSK frame {len(f)}')
    good.stop()
    prim.stop()


def test_qmp_access():
    """QMP: a unix socket 0600; tcp on a non-loopback address refused
    without TLS unless insecure=on (with a warning); over TLS the greeting
    comes only after the handshake and authz, and strangers are refused
    and counted."""
    need_tls()
    p = pki()
    with ColoProxy() as px:
        mode = os.stat(px.qmp_path).st_mode & 0o777
        check_eq(oct(mode), oct(0o600), 'QMP unix socket mode')
    port = free_tcp_port()
    out = run_proxy(['-qmp', f'tcp:0.0.0.0:{port},server=on,wait=off'])
    check(out.returncode != 0 and 'insecure=on' in out.stderr,
          f'exposed QMP without TLS must be refused: {out.stderr}')
    with ColoProxy(['-qmp', f'tcp:0.0.0.0:{port},server=on,wait=off,'
                            'insecure=on']) as px:
        check(f'listening on tcp:0.0.0.0:{port} without TLS (insecure=on)'
              in px.stderr(), px.stderr())
    ident = p.client_dn.replace(',', ',,')
    with ColoProxy(['-object', f'tls-creds-x509,id=tq,dir={p.server_dir},'
                               'endpoint=server',
                    '-object', f'authz-simple,id=aq,identity={ident}',
                    '-qmp', f'tcp:0.0.0.0:{port},server=on,wait=off,'
                            'tls-creds=tq,tls-authz=aq']) as px:
        check('without TLS' not in px.stderr(), px.stderr())
        for d in (p.nocert_dir, p.rogue_dir, p.intruder_dir):
            check_eq(tls_refused(port, d), b'', f'QMP bytes to {d}')
        link = f"monitor 'tcp:0.0.0.0:{port},server=on,wait=off," \
               "tls-creds=tq,tls-authz=aq'"
        wait_for(lambda: query_tls(px.qmp, link)['refused'] >= 3,
                 what='QMP refusals counted')
        s = tls_client(port, p.client_dir)
        f = s.makefile('rwb')
        greeting = json.loads(f.readline())
        check('QMP' in greeting, repr(greeting))
        f.write(b'{"execute": "qmp_capabilities"}\n')
        f.flush()
        check_eq(json.loads(f.readline()), {'return': {}}, 'capabilities')
        f.write(b'{"execute": "query-version"}\n')
        f.flush()
        check('return' in json.loads(f.readline()), 'query-version')
        s.close()
        check_eq(query_tls(px.qmp, link)['established'], 1, 'established')


def test_netdev_stream_tls():
    """-netdev stream with tls-creds between two colo-proxies (QEMU's
    netdev stream has no TLS): frames byte-exact both ways; a client
    without a certificate is refused and counted first."""
    need_tls()
    need_types('stream', option='-netdev')
    p = pki()
    port = free_tcp_port()
    ident = p.client_dn.replace(',', ',,')
    da, db = tmpdir('cqtlsa'), tmpdir('cqtlsb')
    a = ColoProxy(['-object', f'tls-creds-x509,id=tls0,dir={p.server_dir},'
                              'endpoint=server',
                   '-object', f'authz-simple,id=auth0,identity={ident}',
                   '-netdev', 'stream,id=n0,server=on,addr.type=inet,'
                              f'addr.host=127.0.0.1,addr.port={port},'
                              'tls-creds=tls0,tls-authz=auth0',
                   '-device', stream_device('d0', 'n0',
                                            os.path.join(da, 'g.sock'))],
                  dir=da)
    check_eq(tls_refused(port, p.nocert_dir), b'', 'bytes to no-cert peer')
    link = "netdev 'n0'"
    wait_for(lambda: query_tls(a.qmp, link)['refused'] == 1,
             what='refusal counted')
    b = ColoProxy(['-object', f'tls-creds-x509,id=tls0,dir={p.client_dir},'
                              'endpoint=client',
                   '-netdev', 'stream,id=n0,server=off,addr.type=inet,'
                              f'addr.host=127.0.0.1,addr.port={port},'
                              'reconnect=1,tls-creds=tls0',
                   '-device', stream_device('d0', 'n0',
                                            os.path.join(db, 'g.sock'))],
                  dir=db)
    ga = connect_unix(os.path.join(da, 'g.sock'), proc=a)
    gb = connect_unix(os.path.join(db, 'g.sock'), proc=b)
    wait_for(lambda: query_tls(a.qmp, link)['established'] == 1 and
             query_tls(b.qmp, link)['established'] == 1,
             what='TLS stream established')
    time.sleep(0.2)
    frames = [eth_frame(700 + i, n) for i, n in
              enumerate([60, 64, 512, 1448, 1514, 9000, 65536])]
    frames += [eth_frame(800 + i, 60 + (i * 97) % 1454) for i in range(500)]
    ga.sendall(b''.join(frame_bytes(f) for f in frames))
    for i, f in enumerate(frames):
        check_eq(recv_frame(gb, 10), f, f'A->B frame {i}')
    gb.sendall(b''.join(frame_bytes(f) for f in frames))
    for i, f in enumerate(frames):
        check_eq(recv_frame(ga, 10), f, f'B->A frame {i}')
    ga.close()
    gb.close()
    b.stop()
    a.stop()


if __name__ == '__main__':
    run_tests([test_objects_and_errors, test_warning_without_tls,
               test_warning_netdev_stream_without_tls,
               test_x509_mirror_byte_exact_and_attacks,
               test_handshake_timeout_and_glob_authz,
               test_psk_both_ends_ours, test_qmp_access,
               test_netdev_stream_tls])
