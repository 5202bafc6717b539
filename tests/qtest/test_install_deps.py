#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_install_deps - scripts/install-deps.sh and ./configure as a new
user meets them.  install-deps.sh runs from a scratch copy with stubs on
PATH for id, dpkg-query, apt-get, pkg-config and build-colo-qemu.sh, so
nothing is installed: as non-root with everything present `build` says
nothing and succeeds; a missing build package is named with the apt line
that installs it; a missing test package does not stop `build`; as root
apt is asked for the missing packages of the groups named and nothing
else; the test and demo groups also bring the real-COLO QEMU's deps.
Without dpkg-query (a PATH that lacks it) packages are probed by command
and pkg-config module, and ./configure works and takes the options
Debian's dh_auto_configure passes; a cross --host and unknown options
are refused with a message."""

import json
import os
import shutil
import subprocess

from coloqtest import *


def write_exe(path, text):
    with open(path, 'w') as f:
        f.write(text)
    os.chmod(path, 0o755)


class Sandbox:
    """A copy of install-deps.sh with a stub build-colo-qemu.sh beside it,
    and a stub directory first on PATH."""

    def __init__(self, uid=1000, missing=(), dpkg=True, pc_missing=()):
        self.d = tmpdir('cqdeps')
        self.scripts = os.path.join(self.d, 'scripts')
        self.stubs = os.path.join(self.d, 'stubs')
        self.log = os.path.join(self.d, 'calls.log')
        os.makedirs(self.scripts)
        os.makedirs(self.stubs)
        shutil.copy(os.path.join(source_dir(), 'scripts', 'install-deps.sh'),
                    self.scripts)
        write_exe(os.path.join(self.scripts, 'build-colo-qemu.sh'),
                  f'#!/bin/sh\necho "build-colo-qemu.sh $*" >> {self.log}\n')
        write_exe(os.path.join(self.stubs, 'id'),
                  f'#!/bin/sh\n[ "$1" = -u ] && echo {uid} && exit 0\n'
                  'exec /usr/bin/id "$@"\n')
        write_exe(os.path.join(self.stubs, 'apt-get'),
                  f'#!/bin/sh\necho "apt-get $*" >> {self.log}\n')
        write_exe(os.path.join(self.stubs, 'debconf-set-selections'),
                  '#!/bin/sh\ncat >/dev/null\n')
        miss = ' '.join(missing)
        if dpkg:
            write_exe(os.path.join(self.stubs, 'dpkg-query'),
                      '#!/bin/sh\neval pkg=\\${$#}\n'
                      'for p in ' + (miss or '_none_') + '; do\n'
                      '  [ "$p" = "$pkg" ] && exit 1\ndone\n'
                      'echo "install ok installed"\n')
        pcm = ' '.join(pc_missing)
        write_exe(os.path.join(self.stubs, 'pkg-config'),
                  '#!/bin/sh\nfor m in ' + (pcm or '_none_') + '; do\n'
                  '  [ "$m" = "$2" ] && exit 1\ndone\nexit 0\n')
        if dpkg:
            self.path = self.stubs + ':' + os.environ['PATH']
        else:
            self.path = self.stubs + ':' + path_without('dpkg-query')

    def run(self, *args):
        r = subprocess.run([os.path.join(self.scripts, 'install-deps.sh')]
                           + list(args), capture_output=True, text=True,
                           env=dict(os.environ, PATH=self.path), timeout=60)
        calls = open(self.log).read().splitlines() \
            if os.path.exists(self.log) else []
        return r, calls


_farm = {}


def path_without(tool):
    """A PATH with everything of the real one but 'tool' (a directory of
    symlinks), as on a system without dpkg."""
    if tool in _farm:
        return _farm[tool]
    farm = os.path.join(tmpdir('cqpath'), 'bin')
    os.makedirs(farm)
    for d in os.environ['PATH'].split(':') + ['/usr/sbin', '/sbin']:
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            dst = os.path.join(farm, name)
            if name != tool and not os.path.lexists(dst):
                os.symlink(os.path.join(d, name), dst)
    _farm[tool] = farm
    return farm


def test_nonroot_all_present():
    s = Sandbox()
    r, calls = s.run('build')
    check_eq((r.returncode, r.stdout, r.stderr), (0, '', ''), 'result')
    check_eq(calls, [], 'calls')


def test_nonroot_build_missing():
    s = Sandbox(missing=['libslirp-dev'])
    r, calls = s.run('build')
    check_eq(r.returncode, 1, f'exit ({r.stdout}{r.stderr})')
    check('needs: libslirp-dev' in r.stdout, r.stdout)
    check('apt-get install -y --no-install-recommends libslirp-dev'
          in r.stdout, r.stdout)
    check_eq(calls, [], 'nothing installed as non-root')


def test_nonroot_test_package_missing_does_not_stop_build():
    s = Sandbox(missing=['tshark', 'socat'])
    r, calls = s.run('build')
    check_eq(r.returncode, 0, f'exit ({r.stdout}{r.stderr})')
    r, calls = s.run('test')
    check_eq(r.returncode, 1, 'test group with tshark missing')
    check('tshark' in r.stdout and 'socat' in r.stdout, r.stdout)
    r, calls = s.run('--check-only', 'build')
    check_eq(r.returncode, 0, '--check-only build')


def test_root_asks_apt_only_for_missing():
    s = Sandbox(uid=0, missing=['libslirp-dev', 'tshark'])
    r, calls = s.run('build')
    check_eq(r.returncode, 0, f'exit ({r.stdout}{r.stderr})')
    installs = [c for c in calls if c.startswith('apt-get') and
                ' install ' in c]
    check_eq(len(installs), 1, f'apt-get install calls {calls}')
    check(installs[0].endswith('--no-install-recommends libslirp-dev'),
          f'asked apt for more than the missing build package: '
          f'{installs[0]}')
    check(not any('build-colo-qemu' in c for c in calls),
          f'make (build group) ran build-colo-qemu.sh: {calls}')


def test_root_all_present_asks_nothing():
    s = Sandbox(uid=0)
    r, calls = s.run('build')
    check_eq(r.returncode, 0, f'exit ({r.stdout}{r.stderr})')
    check_eq(calls, [], 'apt asked although nothing is missing')


def test_root_test_group_brings_colo_qemu_deps():
    s = Sandbox(uid=0, missing=['socat'])
    r, calls = s.run('test')
    check_eq(r.returncode, 0, f'exit ({r.stdout}{r.stderr})')
    check(any(c.endswith('--no-install-recommends socat') for c in calls),
          f'socat not installed: {calls}')
    check_eq(calls[-1], 'build-colo-qemu.sh --deps', 'last call')


def test_old_callers():
    """No group: every group, as before the groups existed;
    --check-only alone checks them all."""
    s = Sandbox(missing=['ethtool'])
    r, _ = s.run('--check-only')
    check_eq(r.returncode, 1, '--check-only with a test package missing')
    check('ethtool' in r.stderr, r.stderr)
    r, _ = s.run('--print')
    check_eq(r.returncode, 0, '--print')
    check('ethtool' in r.stdout, r.stdout)
    r, _ = s.run('bogus')
    check_eq(r.returncode, 2, 'unknown group')
    check("unknown group 'bogus'" in r.stderr, r.stderr)


def test_without_dpkg_probes():
    s = Sandbox(dpkg=False)
    r, _ = s.run('--check-only', 'build')
    check_eq(r.returncode, 0, f'probes without dpkg-query ({r.stderr})')
    s = Sandbox(dpkg=False, pc_missing=['slirp'])
    r, _ = s.run('--check-only', 'build')
    check_eq(r.returncode, 1, 'slirp module missing')
    check('libslirp-dev' in r.stderr, r.stderr)


def configure(*args, path=None):
    b = os.path.join(tmpdir('cqcfg'), 'b')
    env = dict(os.environ)
    env.pop('CI', None)
    if path:
        env['PATH'] = path
    r = subprocess.run([os.path.join(source_dir(), 'configure'),
                        f'--builddir={b}'] + list(args),
                       capture_output=True, text=True, env=env, timeout=300,
                       cwd=tmpdir('cqcwd'))
    return r, b


def build_options(b):
    r = subprocess.run(['meson', 'introspect', b, '--buildoptions'],
                       capture_output=True, text=True, check=True)
    return {o['name']: o['value'] for o in json.loads(r.stdout)}


DH_ARGS = ['--build=x86_64-linux-gnu', '--prefix=/usr',
           '--includedir=${prefix}/include', '--mandir=${prefix}/share/man',
           '--infodir=${prefix}/share/info', '--sysconfdir=/etc',
           '--localstatedir=/var', '--disable-option-checking',
           '--disable-silent-rules',
           '--libdir=${prefix}/lib/x86_64-linux-gnu', '--runstatedir=/run',
           '--disable-maintainer-mode', '--disable-dependency-tracking']


def test_configure_debian_options_without_dpkg():
    if not shutil.which('meson'):
        skip('no meson: scripts/install-deps.sh build installs it')
    r, b = configure(*DH_ARGS, '--with-unknown-thing', '--disable-tests',
                     path=path_without('dpkg-query'))
    check_eq(r.returncode, 0, f'configure exit:\n{r.stdout}{r.stderr}')
    o = build_options(b)
    for k, v in (('prefix', '/usr'), ('sysconfdir', '/etc'),
                 ('localstatedir', '/var'), ('mandir', 'share/man'),
                 ('libdir', 'lib/x86_64-linux-gnu'), ('tests', False)):
        check_eq(o[k], v, f'meson option {k}')


def test_configure_refuses():
    r, _ = configure('--host=aarch64-linux-gnu', '--build=x86_64-linux-gnu')
    check_eq(r.returncode, 1, '--host other than --build')
    check('cross-file' in r.stderr, r.stderr)
    r, _ = configure('--frobnicate')
    check_eq(r.returncode, 1, 'unknown option')
    check("unknown option '--frobnicate'" in r.stderr, r.stderr)
    r, _ = configure('--enable-bogus')
    check_eq(r.returncode, 1, '--enable-bogus with option checking')
    r = subprocess.run([os.path.join(source_dir(), 'configure'), '--help'],
                       capture_output=True, text=True)
    check('--sysconfdir' in r.stdout, r.stdout)


if __name__ == '__main__':
    run_tests([
        test_nonroot_all_present,
        test_nonroot_build_missing,
        test_nonroot_test_package_missing_does_not_stop_build,
        test_root_asks_apt_only_for_missing,
        test_root_all_present_asks_nothing,
        test_root_test_group_brings_colo_qemu_deps,
        test_old_callers,
        test_without_dpkg_probes,
        test_configure_debian_options_without_dpkg,
        test_configure_refuses,
    ])
