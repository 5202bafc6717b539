#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_package - colo-proxy installs like a system program: debian/
builds a .deb with `dpkg-buildpackage -us -uc -b` (through ./configure
with the options dh_auto_configure passes, and the Makefile), lintian
finds no error in it, and the package holds what an operator needs:
the binary, colo-proxy(1), colo-proxy-qmp(7), the bash completion, the
systemd unit (which `systemd-analyze verify` accepts as installed) and
every page of docs/.

The build runs in a copy of the source tree under /tmp (the .deb lands
beside it, never beside the checkout), with DEB_BUILD_OPTIONS=nocheck
(the unit tests run in `make check` anyway): about 40 s on 2 cores."""

import glob
import os
import shutil
import subprocess

from coloqtest import *
from test_systemd import verify_unit

TOOLS = {'dpkg-buildpackage': 'dpkg-dev', 'dh': 'debhelper',
         'lintian': 'lintian', 'fakeroot': 'fakeroot',
         'systemd-analyze': 'systemd', 'man': 'man-db'}


def need_tools():
    missing = sorted({pkg for tool, pkg in TOOLS.items()
                      if not shutil.which(tool)})
    if missing:
        skip(f'needs {" ".join(missing)}: scripts/install-deps.sh test '
             'installs them')


def copy_tree(src, dst):
    """The source files as git knows them (committed or not, not
    ignored), or the tree less its build directories outside git."""
    if os.path.isdir(os.path.join(src, '.git')) or \
            os.path.isfile(os.path.join(src, '.git')):
        r = subprocess.run(['git', '-C', src, 'ls-files', '-z', '--cached',
                            '--others', '--exclude-standard'],
                           capture_output=True, check=True)
        for rel in r.stdout.decode().split('\0'):
            if not rel or not os.path.lexists(os.path.join(src, rel)):
                continue
            os.makedirs(os.path.join(dst, os.path.dirname(rel)),
                        exist_ok=True)
            shutil.copy2(os.path.join(src, rel), os.path.join(dst, rel),
                         follow_symlinks=False)
    else:
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns('build*', '.git'))


_built = {}


def build_deb():
    """Builds once; returns (work dir, path of the .deb)."""
    if _built:
        return _built['dir'], _built['deb']
    need_tools()
    work = tmpdir('cqdeb')
    src = os.path.join(work, 'colo-proxy')
    copy_tree(source_dir(), src)
    env = dict(os.environ, DEB_BUILD_OPTIONS='nocheck')
    r = subprocess.run(['dpkg-buildpackage', '-us', '-uc', '-b'], cwd=src,
                       env=env, capture_output=True, text=True, timeout=900)
    out = r.stdout + r.stderr
    with open(os.path.join(work, 'build.log'), 'w') as f:
        f.write(out)
    check(r.returncode == 0, f'dpkg-buildpackage failed (exit '
          f'{r.returncode}):\n{out[-4000:]}')
    # dh_auto_configure ran ./configure with autoconf's standard options
    check("./configure --build=" in out and '--sysconfdir=/etc' in out and
          '--disable-option-checking' in out,
          'dh_auto_configure did not run ./configure with its options')
    debs = [p for p in glob.glob(os.path.join(work, 'colo-proxy_*.deb'))]
    check(len(debs) == 1, f'one colo-proxy .deb expected: {debs}')
    _built.update(dir=work, deb=debs[0])
    log(f'built {os.path.basename(debs[0])} '
        f'({os.path.getsize(debs[0])} bytes)')
    return work, debs[0]


def test_lintian_no_errors():
    work, deb = build_deb()
    changes = glob.glob(os.path.join(work, 'colo-proxy_*.changes'))
    r = subprocess.run(['lintian', '--fail-on', 'error', '--display-info',
                        changes[0]], capture_output=True, text=True,
                       timeout=300)
    tags = [ln for ln in (r.stdout + r.stderr).splitlines()
            if ln[:2] in ('E:', 'W:', 'I:', 'P:')]
    for t in tags:
        log(f'lintian: {t}')
    log(f'lintian: {len(tags)} tags, exit {r.returncode}')
    check(not any(t.startswith('E:') for t in tags) and r.returncode == 0,
          f'lintian errors:\n{r.stdout}{r.stderr}')


def deb_files(deb):
    r = subprocess.run(['dpkg-deb', '-c', deb], capture_output=True,
                       text=True, check=True)
    return {ln.split()[-1].lstrip('.') for ln in r.stdout.splitlines()
            if not ln.startswith('d')}


def test_installed_files():
    _, deb = build_deb()
    files = deb_files(deb)
    want = ['/usr/bin/colo-proxy',
            '/usr/share/man/man1/colo-proxy.1.gz',
            '/usr/share/man/man7/colo-proxy-qmp.7.gz',
            '/usr/share/bash-completion/completions/colo-proxy',
            '/lib/systemd/system/colo-proxy@.service',
            '/usr/share/doc/colo-proxy/copyright',
            '/usr/share/doc/colo-proxy/changelog.gz',
            '/usr/bin/colo-proxy-ctl',
            '/usr/bin/colo-proxy-reprotect']
    # every page of docs/ (docs/meson.build lists them at configure time)
    for md in sorted(glob.glob(os.path.join(source_dir(), 'docs', '*.md'))):
        want.append('/usr/share/doc/colo-proxy/' + os.path.basename(md))
    # the OCF agent once lane L14's contrib/ocf/colo-proxy is in the tree
    if os.path.exists(os.path.join(source_dir(), 'contrib', 'ocf',
                                   'colo-proxy')):
        want.append('/usr/lib/ocf/resource.d/colo-proxy/colo-proxy')
    for w in want:
        check(w in files, f'{w} not in the package:\n' +
              '\n'.join(sorted(files)))
    log(f'{len(files)} files, every one of the {len(want)} expected')


def extracted():
    work, deb = build_deb()
    root = os.path.join(work, 'root')
    if not os.path.isdir(root):
        subprocess.run(['dpkg-deb', '-x', deb, root], check=True)
    return root


def test_unit_verifies_as_installed():
    root = extracted()
    unit = os.path.join(root, 'lib/systemd/system/colo-proxy@.service')
    text = open(unit).read()
    check('ExecStart=/usr/bin/colo-proxy ' in text, 'ExecStart path')
    check('Documentation=file:/usr/share/doc/colo-proxy/user-guide.md'
          in text, 'Documentation=file: path')
    check(os.path.isfile(os.path.join(
        root, 'usr/share/doc/colo-proxy/user-guide.md')),
        'the Documentation= file is not installed uncompressed')
    verify_unit(root, unit, os.path.join(root, 'usr/share/man'))


def test_man_pages_render():
    root = extracted()
    for page in ('man1/colo-proxy.1.gz', 'man7/colo-proxy-qmp.7.gz'):
        path = os.path.join(root, 'usr/share/man', page)
        r = subprocess.run(['man', '--warnings', '-l', path],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MANWIDTH='80',
                                    LC_ALL='C.UTF-8'))
        check(r.returncode == 0 and not r.stderr.strip(),
              f'man {page}: exit {r.returncode}: {r.stderr}')
        check('colo-proxy' in r.stdout, f'{page} renders empty')
    # the QMP page documents every command of the schema
    r = subprocess.run(['man', '-l', os.path.join(
        root, 'usr/share/man/man7/colo-proxy-qmp.7.gz')],
        capture_output=True, text=True, env=dict(os.environ,
                                                 MANWIDTH='200'))
    for cmd in ('query-log-levels', 'set-log-level', 'object-add',
                'query-colo-status'):
        check(cmd in r.stdout, f'colo-proxy-qmp(7) lacks {cmd}')


def test_packaged_binary_and_completion():
    root = extracted()
    binary = os.path.join(root, 'usr/bin/colo-proxy')
    r = subprocess.run([binary, '-version'], capture_output=True, text=True)
    check(r.returncode == 0 and 'colo-proxy version' in r.stdout, r.stdout)
    comp = os.path.join(root, 'usr/share/bash-completion/completions/'
                        'colo-proxy')
    script = (f'source {comp}\n'
              'c() { COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); '
              'COMPREPLY=(); _colo_proxy; echo "${COMPREPLY[*]}"; }\n'
              f'c {binary} -ob\n'
              f'c {binary} -object filter-mi\n'
              f'c {binary} -object filter-mirror,id=m0,out\n'
              f'c {binary} -d ch\n'
              f'c {binary} -netdev st\n')
    r = subprocess.run(['bash', '--norc', '-c', script], capture_output=True,
                       text=True, timeout=60)
    got = r.stdout.splitlines()
    check_eq(got, ['-object', 'filter-mirror,',
                   'filter-mirror,id=m0,outdev=', 'chardev', 'stream,'],
             f'completions ({r.stderr})')


if __name__ == '__main__':
    run_tests([
        test_lintian_no_errors,
        test_installed_files,
        test_unit_verifies_as_installed,
        test_man_pages_render,
        test_packaged_binary_and_completion,
    ])
