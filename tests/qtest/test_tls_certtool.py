#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_tls_certtool - docs/security.md's GnuTLS certtool recipe, run as
written, makes certificates that work.

The recipe is the block marked `<!-- test: script ... -->` in
docs/security.md; it is run by test_docs_examples' run_script() (the
whole block through bash -e in a fresh directory), so a reader's copy and
the test's are the same text.  With what it made (tests/qtest/tlscerts.py
makes the other tests' certificates with openssl, so this is the only
check of the certtool ones):

  - the recipe prints the identity the docs say to expect,
    O=Example,CN=secondary.example.org;
  - the primary's mirror chardev is a TLS server (verify-peer=on) with
    the recipe's server files and an authz-simple of that identity;
  - a secondary colo-proxy that has only ca-cert.pem (no client
    certificate) is refused: counted, no session;
  - the secondary with the recipe's client files connects and its
    filter-redirector receives the mirrored frames byte-exact.
"""

import os
import shutil

from coloqtest import *
import test_docs_examples as docs
from test_tls import chardev_info, query_tls
import tlscerts

# The identity docs/security.md gives for the recipe's client certificate.
DOC_IDENTITY = 'O=Example,CN=secondary.example.org'


def recipe():
    """(where, opts, block) of the certtool block of docs/security.md."""
    found = [e for e in docs.examples() if e[0] == 'security.md' and
             e[2] == 'script' and
             any('certtool' in line for line in e[4])]
    check_eq(len(found), 1, 'certtool script blocks in docs/security.md')
    doc, line, mode, opts, block = found[0]
    return f'docs/{doc}:{line}', opts, block


def creds_dir(src, name, files):
    d = tmpdir(f'cqct{name}')
    for f in files:
        shutil.copy(os.path.join(src, f), d)
    return d


def secondary(port, cdir):
    """A colo-proxy whose filter-redirector reads the primary's mirror
    through a TLS client chardev with the files of 'cdir'."""
    return tlscerts.tls_redirector(
        port, f'tls-creds-x509,id=tlsc,dir={cdir},endpoint=client')


def test_certtool_recipe_certificates_connect():
    need_types('tls-creds-x509', 'authz-simple', 'filter-mirror',
               'filter-redirector')
    where, opts, block = recipe()
    bed, out = docs.run_script(where, opts, block)
    try:
        # the recipe's last line prints the identity to authorize: it
        # must be the one the docs name (certtool -i prints it reversed)
        log(f'{where}: {out.strip()}')
        check_eq(out.strip().splitlines()[-1], f'subject={DOC_IDENTITY}',
                 'the identity the recipe prints')
        srv = creds_dir(bed.dir, 'srv', ['ca-cert.pem', 'server-cert.pem',
                                         'server-key.pem'])
        cli = creds_dir(bed.dir, 'cli', ['ca-cert.pem', 'client-cert.pem',
                                         'client-key.pem'])
        nocert = creds_dir(bed.dir, 'none', ['ca-cert.pem'])
    finally:
        bed.close()

    port = free_tcp_port()
    ident = DOC_IDENTITY.replace(',', ',,')
    prim = StreamPort(extra=[
        '-object', f'tls-creds-x509,id=tls0,dir={srv},endpoint=server,'
                   'verify-peer=on',
        '-object', f'authz-simple,id=auth0,identity={ident}',
        '-chardev', chardev_tcp('mirror0', port,
                                extra='tls-creds=tls0,tls-authz=auth0')])
    prim.qmp.object_add('filter-mirror', 'm0', netdev='n0', queue='tx',
                        outdev='mirror0')
    link = "chardev 'mirror0'"

    bad = secondary(port, nocert)
    wait_for(lambda: query_tls(prim.qmp, link)['refused'] >= 1,
             what='secondary without the certificate refused')
    check_eq(query_tls(prim.qmp, link)['established'], 0,
             'sessions without the client certificate')
    bad.stop()

    good = secondary(port, cli)
    wait_for(lambda: query_tls(prim.qmp, link)['established'] >= 1,
             what='secondary with the recipe\'s certificates established')
    wait_for(lambda: chardev_info(prim.qmp, 'mirror0')['filename']
             .startswith('tcp:'), what='mirror0 connected')
    frames = [eth_frame(900 + i, n) for i, n in
              enumerate([60, 512, 1448, 1514, 9000])]
    for f in frames:
        send_frame(prim.net, f)
        check_eq(recv_frame(prim.guest), f, 'primary net->guest')
    for f in frames:
        check_eq(recv_frame(good.net, 10), f, f'mirrored frame {len(f)}')
    log(f'refused {query_tls(prim.qmp, link)["refused"]} without the '
        f'certificate; {len(frames)} frames over the certtool certificates')
    good.stop()
    prim.stop()


if __name__ == '__main__':
    run_tests([test_certtool_recipe_certificates_connect])
