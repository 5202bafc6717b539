# SPDX-License-Identifier: GPL-2.0-or-later
"""tests/qtest/tlscerts.py - TLS credentials made at test time with
Debian's openssl, in QEMU's file layout (docs/security.md shows the same
steps for a real deployment).

    pki = make_pki(tmpdir)
    pki.server_dir       ca-cert.pem server-cert.pem server-key.pem
    pki.client_dir       ca-cert.pem client-cert.pem client-key.pem
    pki.rogue_dir        a client certificate from another CA
    pki.expired_dir      a client certificate of our CA, expired in 2020
    pki.intruder_dir     a client certificate of our CA whose name the
                         authorization list does not allow
    pki.nocert_dir       ca-cert.pem only (a client without certificate)
    pki.psk_server_dir   keys.psk with users "qemu" and "secondary"
    pki.psk_client_dir   keys.psk with the key of "secondary"
    pki.psk_wrong_dir    keys.psk: "secondary" with another key
    pki.client_dn        the client certificate's subject as GnuTLS
                         prints it (for authz-simple / authz-list)

Every certificate uses a P-256 key (fast to make: the whole set takes
well under a second).  needs_openssl() says whether the tool exists.
"""
import os
import shutil
import subprocess

CLIENT_DN = 'O=COLO test,CN=secondary.colo.test'
SERVER_DN = 'O=COLO test,CN=primary.colo.test'
ROGUE_DN = 'O=COLO test,CN=secondary.colo.test'   # same name, other CA
INTRUDER_DN = 'O=COLO test,CN=intruder.colo.test'  # our CA, not in authz
PSK_KEY = '9f3c0a5e6b7d8c91a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70819'
PSK_WRONG = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'


def needs_openssl():
    """None when openssl exists, else the one-line reason to skip."""
    if shutil.which('openssl'):
        return None
    return 'openssl not found (scripts/install-deps.sh installs it)'


def _run(*args, cwd):
    subprocess.run(['openssl', *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _subj(dn):
    # "O=b,CN=a" -> "/O=b/CN=a": the certificate's order, which is how
    # GnuTLS's gnutls_x509_crt_get_dn() (QEMU's and ours) prints it
    return '/' + '/'.join(dn.split(','))


def _key(path, cwd):
    _run('genpkey', '-algorithm', 'EC', '-pkeyopt',
         'ec_paramgen_curve:P-256', '-out', path, cwd=cwd)


def _ca(d, name, dn):
    _key(f'{name}-key.pem', d)
    _run('req', '-x509', '-new', '-key', f'{name}-key.pem', '-out',
         f'{name}-cert.pem', '-subj', _subj(dn), '-days', '3650',
         '-addext', 'basicConstraints=critical,CA:TRUE',
         '-addext', 'keyUsage=critical,keyCertSign,cRLSign', cwd=d)


def _ext(d, name, purpose):
    path = os.path.join(d, f'{name}.ext')
    with open(path, 'w') as f:
        f.write('basicConstraints=CA:FALSE\n'
                'keyUsage=critical,digitalSignature,keyEncipherment\n'
                f'extendedKeyUsage={purpose}\n'
                'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
    return path


def _leaf(d, ca, name, dn, purpose, dates=None):
    """Key + certificate 'name' signed by CA 'ca'.  dates=(start, end)
    as YYYYMMDDHHMMSSZ makes one with those validity dates."""
    _key(f'{name}-key.pem', d)
    _run('req', '-new', '-key', f'{name}-key.pem', '-out', f'{name}.csr',
         '-subj', _subj(dn), cwd=d)
    ext = _ext(d, name, purpose)
    if dates is None:
        _run('x509', '-req', '-in', f'{name}.csr', '-CA', f'{ca}-cert.pem',
             '-CAkey', f'{ca}-key.pem', '-CAcreateserial', '-out',
             f'{name}-cert.pem', '-days', '365', '-extfile', ext, cwd=d)
        return
    # openssl x509 cannot back-date: 'openssl ca' can, with a database.
    db = os.path.join(d, f'{name}-db')
    os.makedirs(db, exist_ok=True)
    open(os.path.join(db, 'index.txt'), 'w').close()
    with open(os.path.join(db, 'serial'), 'w') as f:
        f.write('1000\n')
    cnf = os.path.join(db, 'ca.cnf')
    with open(cnf, 'w') as f:
        f.write(f'[ca]\ndefault_ca=c\n[c]\ndir={db}\ndatabase={db}/index.txt\n'
                f'serial={db}/serial\nnew_certs_dir={db}\n'
                'default_md=sha256\npolicy=p\ncopy_extensions=none\n'
                'unique_subject=no\n[p]\ncommonName=supplied\n'
                'organizationName=optional\n')
    _run('ca', '-batch', '-config', cnf, '-cert', f'{ca}-cert.pem',
         '-keyfile', f'{ca}-key.pem', '-in', f'{name}.csr', '-out',
         f'{name}-cert.pem', '-startdate', dates[0], '-enddate', dates[1],
         '-extfile', ext, '-notext', cwd=d)


def tls_redirector(port, creds):
    """A colo-proxy (coloqtest.StreamPort) whose filter-redirector r0
    reads the TLS server on 127.0.0.1:'port' (a primary's mirror) through
    the client chardev in0 with the credentials 'creds' (an -object
    string with id=tlsc), and writes what it gets to its own guest."""
    from coloqtest import StreamPort
    sec = StreamPort(extra=[
        '-object', creds,
        '-chardev', f'socket,id=in0,host=127.0.0.1,port={port},'
                    'reconnect-ms=200,tls-creds=tlsc'])
    sec.qmp.object_add('filter-redirector', 'r0', netdev='n0', queue='rx',
                       indev='in0')
    return sec


def _install(src, dst_dir, files):
    os.makedirs(dst_dir, exist_ok=True)
    for s, t in files:
        shutil.copy(os.path.join(src, s), os.path.join(dst_dir, t))


class Pki:
    pass


def make_pki(tmpdir):
    work = os.path.join(tmpdir, 'pki-work')
    os.makedirs(work, exist_ok=True)
    _ca(work, 'ca', 'O=COLO test,CN=COLO test CA')
    _ca(work, 'rogueca', 'O=Rogue,CN=COLO test CA')
    _leaf(work, 'ca', 'server', SERVER_DN, 'serverAuth')
    _leaf(work, 'ca', 'client', CLIENT_DN, 'clientAuth')
    _leaf(work, 'rogueca', 'rogue', ROGUE_DN, 'clientAuth')
    _leaf(work, 'ca', 'intruder', INTRUDER_DN, 'clientAuth')
    _leaf(work, 'ca', 'expired', CLIENT_DN, 'clientAuth',
          dates=('20200101000000Z', '20200201000000Z'))
    p = Pki()
    p.dir = tmpdir
    ca = ('ca-cert.pem', 'ca-cert.pem')
    # each directory the tests use: what it holds, under the names
    # tls-creds-x509 looks for
    for name, files in (
            ('server', [ca, ('server-cert.pem', 'server-cert.pem'),
                        ('server-key.pem', 'server-key.pem')]),
            ('client', [ca, ('client-cert.pem', 'client-cert.pem'),
                        ('client-key.pem', 'client-key.pem')]),
            # both sides (one process, both ends)
            ('both', [(f, f) for f in (
                'ca-cert.pem', 'server-cert.pem', 'server-key.pem',
                'client-cert.pem', 'client-key.pem')]),
            # the rogue trusts our CA (to accept the server) but presents
            # a certificate of its own CA
            ('rogue', [ca, ('rogue-cert.pem', 'client-cert.pem'),
                       ('rogue-key.pem', 'client-key.pem')]),
            ('expired', [ca, ('expired-cert.pem', 'client-cert.pem'),
                         ('expired-key.pem', 'client-key.pem')]),
            ('intruder', [ca, ('intruder-cert.pem', 'client-cert.pem'),
                          ('intruder-key.pem', 'client-key.pem')]),
            ('nocert', [ca])):
        d = os.path.join(tmpdir, name)
        _install(work, d, files)
        setattr(p, f'{name}_dir', d)
    p.files = work
    p.psk_server_dir = os.path.join(tmpdir, 'psk-server')
    p.psk_client_dir = os.path.join(tmpdir, 'psk-client')
    p.psk_wrong_dir = os.path.join(tmpdir, 'psk-wrong')
    for d, text in ((p.psk_server_dir,
                     f'qemu:{PSK_WRONG}\nsecondary:{PSK_KEY}\n'),
                    (p.psk_client_dir, f'secondary:{PSK_KEY}\n'),
                    (p.psk_wrong_dir, f'secondary:{PSK_WRONG}\n')):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'keys.psk'), 'w') as f:
            f.write(text)
        os.chmod(os.path.join(d, 'keys.psk'), 0o600)
    p.client_dn = CLIENT_DN
    p.server_dn = SERVER_DN
    return p
