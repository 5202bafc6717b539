#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""build-guest.py - builds the tiny test guest from Debian packages.

The VM tests (tests/e2e/test_vm_*.py) boot real QEMU guests behind
colo-proxy.  The guest is made at test time from two Debian packages and
nothing else:

  linux-image-amd64   resolved to the versioned linux-image-6.x-amd64 it
                      depends on; the kernel (vmlinuz) and the NIC driver
                      modules (e1000; virtio_net with failover/net_failover
                      and the virtio PCI transport) are taken from it
  busybox-static      the whole user space: init, httpd, nc, ip, insmod

Both are fetched with `apt-get download` into tests/vm/cache/debs and
unpacked with `dpkg-deb -x` into a scratch directory: nothing is installed
on the host.  The result is

  tests/vm/cache/guest-<key>/vmlinuz       the Debian kernel, as shipped
  tests/vm/cache/guest-<key>/vmlinux       the same kernel decompressed
                                           (an ELF with a PVH entry: QEMU
                                           boots it directly, which saves
                                           the guest's xz decompression,
                                           seconds under TCG)
  tests/vm/cache/guest-<key>/initrd.gz     cpio newc + gzip, /init below
  tests/vm/cache/guest-<key>/guest.json    versions, modules, key

where <key> hashes the two package versions and this script, so a later
run with the same packages finds the guest and returns at once.

The guest's /init (tests/vm/init.sh) reads its configuration from the
kernel command line:

  colo.ip=10.0.0.2/24   address of eth0 (required for networking)
  colo.role=primary     name served by /cgi-bin/time (differs per guest)
  colo.gw=10.0.0.1      default route (optional)
  colo.neigh=IP,MAC     a permanent ARP entry (optional)

and prints "COLO-GUEST-UP ..." on the serial console once the HTTP server
(port 80) and the echo service (port 7) are listening.

Usage: build-guest.py [--cache DIR] [--print]   prints the guest directory.
Used as a module by tests/vm/vmguest.py (build_guest()).
"""

import argparse
import fcntl
import glob
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CACHE = os.path.join(HERE, 'cache')
INIT_SCRIPT = os.path.join(HERE, 'init.sh')

# Modules wanted in the guest; their dependencies are added from the
# modules' own .modinfo "depends=" (Debian ships no modules.dep: depmod
# runs at install time, and we never install).
WANTED_MODULES = ['e1000', 'virtio_pci', 'virtio_net']

# Fixed mtime of every file in the initramfs (the kernel keeps cpio
# mtimes), so both guests' static pages carry identical Last-Modified
# headers.  2024-01-01T00:00:00Z.
FIXED_MTIME = 1704067200

# Deterministic static pages /1 ... /PAGES: page k holds k*64 bytes.
PAGES = 32


class BuildError(Exception):
    pass


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, **kw)
    if r.returncode != 0:
        raise BuildError(f'{" ".join(cmd)} failed ({r.returncode}): '
                         f'{r.stderr.strip()[-2000:]}')
    return r.stdout


def candidate_version(pkg):
    """The version apt would download for 'pkg' (apt-cache policy)."""
    out = run(['apt-cache', 'policy', pkg])
    for line in out.splitlines():
        line = line.strip()
        if line.startswith('Candidate:'):
            v = line.split(':', 1)[1].strip()
            if v and v != '(none)':
                return v
    raise BuildError(f'no installable candidate for {pkg} '
                     f'(apt-get update needed?)')


def resolve_kernel_package():
    """linux-image-amd64 is a metapackage: the versioned image it depends
    on (linux-image-6.1.0-NN-amd64) holds the kernel."""
    out = run(['apt-cache', 'depends', 'linux-image-amd64'])
    for line in out.splitlines():
        line = line.strip()
        if line.startswith('Depends:'):
            name = line.split(':', 1)[1].strip()
            if name.startswith('linux-image-') and name.endswith('-amd64'):
                return name
    raise BuildError('cannot resolve linux-image-amd64 to a kernel package')


def download(pkg, version, debdir):
    """apt-get download into debdir unless the .deb is already there."""
    os.makedirs(debdir, exist_ok=True)
    # apt names the file pkg_version_arch.deb with ':' escaped as %3a
    vesc = version.replace(':', '%3a')
    hits = glob.glob(os.path.join(debdir, f'{pkg}_{vesc}_*.deb'))
    if hits:
        return hits[0]
    run(['apt-get', 'download', '-q', f'{pkg}={version}'], cwd=debdir)
    hits = glob.glob(os.path.join(debdir, f'{pkg}_{vesc}_*.deb'))
    if not hits:
        raise BuildError(f'apt-get download {pkg}={version}: no .deb found')
    return hits[0]


def elf_modinfo(path):
    """The key=value strings of a .ko's .modinfo section (ELF64 LE)."""
    with open(path, 'rb') as f:
        data = f.read()
    if data[:4] != b'\x7fELF' or data[4] != 2:
        raise BuildError(f'{path}: not an ELF64 module')
    shoff, = struct.unpack_from('<Q', data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3a)
    secs = []
    for i in range(shnum):
        off = shoff + i * shentsize
        name, _t, _fl, _addr, soff, size = struct.unpack_from(
            '<IIQQQQ', data, off)
        secs.append((name, soff, size))
    _n, stroff, _s = secs[shstrndx]
    info = {}
    for name, soff, size in secs:
        end = data.index(b'\0', stroff + name)
        if data[stroff + name:end] != b'.modinfo':
            continue
        for item in data[soff:soff + size].split(b'\0'):
            if b'=' in item:
                k, v = item.split(b'=', 1)
                info.setdefault(k.decode(), v.decode())
    return info


def module_closure(moddir, wanted):
    """Module files for 'wanted' plus dependencies, in load order."""
    index = {}
    for p in glob.glob(os.path.join(moddir, 'kernel', '**', '*.ko'),
                       recursive=True):
        index[os.path.basename(p)[:-3].replace('-', '_')] = p
    order, seen = [], set()

    def visit(name, chain):
        name = name.replace('-', '_')
        if name in seen:
            return
        if name in chain:
            raise BuildError(f'module dependency loop at {name}')
        if name not in index:
            raise BuildError(f'module {name} not in the kernel package')
        deps = elf_modinfo(index[name]).get('depends', '')
        for d in filter(None, deps.split(',')):
            visit(d, chain + [name])
        seen.add(name)
        order.append((name, index[name]))

    for w in wanted:
        visit(w, [])
    return order


class Cpio:
    """A minimal cpio 'newc' writer (what the kernel's initramfs reads)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1000

    def _entry(self, name, mode, data=b'', nlink=1, mtime=FIXED_MTIME):
        self.ino += 1
        nb = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08X' % v for v in (
            self.ino, mode, 0, 0, nlink, mtime, len(data), 0, 0, 0, 0,
            len(nb), 0))
        self.buf.write(hdr.encode() + nb)
        self.buf.write(b'\0' * ((4 - (110 + len(nb)) % 4) % 4))
        self.buf.write(data)
        self.buf.write(b'\0' * ((4 - len(data) % 4) % 4))

    def dir(self, name, perm=0o755):
        self._entry(name, stat.S_IFDIR | perm, nlink=2)

    def file(self, name, data, perm=0o644):
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, major, minor, perm=0o600):
        self.ino += 1
        nb = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08X' % v for v in (
            self.ino, stat.S_IFCHR | perm, 0, 0, 1, FIXED_MTIME, 0, 0, 0,
            major, minor, len(nb), 0))
        self.buf.write(hdr.encode() + nb)
        self.buf.write(b'\0' * ((4 - (110 + len(nb)) % 4) % 4))

    def finish(self):
        self._entry('TRAILER!!!', 0, nlink=1, mtime=0)
        return self.buf.getvalue()


def page_body(k):
    """Content of static page /k: a function of k only (also used by the
    tests to check answers)."""
    line = f'colo-proxy test page {k:04d} '.encode()
    out = bytearray()
    while len(out) < k * 64:
        out += line + b'x' * (63 - len(line)) + b'\n'
    return bytes(out[:k * 64])


TIME_CGI = b'''#!/bin/sh
# differs per guest: the role from the kernel command line and the uptime
printf 'Content-Type: text/plain\r\n\r\n'
echo "role=$(cat /etc/colo-role) uptime=$(cut -d' ' -f1 /proc/uptime)"
'''

# differs per VM of a real COLO pair, whose memory (hence /etc/colo-role,
# /proc/uptime's start and the RNG state) is the primary's after a
# checkpoint: the scheduler's counters are not, each VM runs its own
# scheduling (docs/qemu.md; /dev/urandom does not differ there)
SCHED_CGI = b'''#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\n'
cat /proc/schedstat
'''

# writes "COLO-CONSOLE TOKEN" to the guest's console (TOKEN: letters and
# digits only): a test proves with it that the serial log it reads for
# oopses really is that guest's console (after a failover, say)
CONSOLE_CGI = b'''#!/bin/sh
t=${QUERY_STRING:-mark}
case "$t" in *[!A-Za-z0-9]*) t=bad ;; esac
echo "COLO-CONSOLE $t" >/dev/console
printf 'Content-Type: text/plain\r\n\r\n'
echo "$t"
'''

PAGE_CGI = b'''#!/bin/sh
# /cgi-bin/page?N: N lines, a function of N only, no Date header (CGI
# answers carry only the headers printed here)
n=${QUERY_STRING:-1}
case "$n" in *[!0-9]*|'') n=1 ;; esac
printf 'Content-Type: text/plain\r\n\r\n'
i=1
while [ $i -le $n ]; do
    echo "page $n line $i"
    i=$((i + 1))
done
'''


def make_initramfs(bbroot, modules, out_path):
    busybox = os.path.join(bbroot, 'bin', 'busybox')
    if not os.path.exists(busybox):
        raise BuildError('busybox-static package has no bin/busybox')
    c = Cpio()
    for d in ('bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'www',
              'www/cgi-bin', 'lib', 'lib/modules', 'root', 'var', 'run'):
        c.dir(d)
    c.chardev('dev/console', 5, 1)
    c.chardev('dev/null', 1, 3, 0o666)
    with open(busybox, 'rb') as f:
        c.file('bin/busybox', f.read(), 0o755)
    c.symlink('bin/sh', 'busybox')
    with open(INIT_SCRIPT, 'rb') as f:
        c.file('init', f.read(), 0o755)
    names = []
    for name, path in modules:
        with open(path, 'rb') as f:
            c.file(f'lib/modules/{name}.ko', f.read())
        names.append(name)
    c.file('etc/modules', ('\n'.join(names) + '\n').encode())
    c.file('etc/colo-role', b'unknown\n')
    for k in range(1, PAGES + 1):
        c.file(f'www/{k}', page_body(k))
    c.file('www/index.html', b'colo-proxy test guest\n')
    c.file('www/cgi-bin/time', TIME_CGI, 0o755)
    c.file('www/cgi-bin/page', PAGE_CGI, 0o755)
    c.file('www/cgi-bin/sched', SCHED_CGI, 0o755)
    c.file('www/cgi-bin/console', CONSOLE_CGI, 0o755)
    data = c.finish()
    with open(out_path + '.tmp', 'wb') as f:
        f.write(gzip.compress(data, compresslevel=6, mtime=0))
    os.replace(out_path + '.tmp', out_path)


def extract_vmlinux(vmlinuz, out_path):
    """Decompresses the kernel payload of a bzImage (xz, gzip or zstd is
    what Debian uses; xz for 6.1) into an ELF vmlinux."""
    with open(vmlinuz, 'rb') as f:
        data = f.read()
    elf = None
    pos = data.find(b'\xfd7zXZ\x00')
    if pos >= 0:
        elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(
            data[pos:])
    else:
        pos = data.find(b'\x1f\x8b\x08\x00')
        if pos >= 0:
            import zlib
            elf = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(
                data[pos:])
    if elf is None or elf[:4] != b'\x7fELF':
        raise BuildError(f'{vmlinuz}: no xz/gzip ELF payload found')
    with open(out_path, 'wb') as f:
        f.write(elf)


def build_guest(cache=DEFAULT_CACHE, log=lambda *a: None):
    """Returns the guest directory (vmlinuz, initrd.gz, guest.json),
    building it if the cache has none for the current package versions.
    Raises BuildError (apt/dpkg missing, no network for the download)."""
    for tool in ('apt-get', 'apt-cache', 'dpkg-deb'):
        if shutil.which(tool) is None:
            raise BuildError(f'{tool} not found (not a Debian host)')
    kpkg = resolve_kernel_package()
    kver = candidate_version(kpkg)
    bver = candidate_version('busybox-static')
    h = hashlib.sha256()
    for part in (kpkg, kver, bver):
        h.update(part.encode() + b'\0')
    for p in (os.path.abspath(__file__), INIT_SCRIPT):
        with open(p, 'rb') as f:
            h.update(f.read())
    key = h.hexdigest()[:16]
    gdir = os.path.join(cache, f'guest-{key}')
    if os.path.exists(os.path.join(gdir, 'guest.json')):
        return gdir
    os.makedirs(cache, exist_ok=True)
    # one builder at a time (make check and a developer's run may race);
    # the loser finds the winner's guest
    with open(os.path.join(cache, '.lock'), 'w') as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(gdir, 'guest.json')):
            return gdir
        _build(cache, gdir, key, kpkg, kver, bver, log)
    return gdir


def _build(cache, gdir, key, kpkg, kver, bver, log):
    log(f'building guest {key}: {kpkg} {kver}, busybox-static {bver}')
    debdir = os.path.join(cache, 'debs')
    kdeb = download(kpkg, kver, debdir)
    bdeb = download('busybox-static', bver, debdir)
    with tempfile.TemporaryDirectory(dir=cache, prefix='unpack-') as tmp:
        kroot = os.path.join(tmp, 'k')
        broot = os.path.join(tmp, 'b')
        run(['dpkg-deb', '-x', kdeb, kroot])
        run(['dpkg-deb', '-x', bdeb, broot])
        vmlinuz = glob.glob(os.path.join(kroot, 'boot', 'vmlinuz-*'))
        moddirs = glob.glob(os.path.join(kroot, 'lib', 'modules', '*'))
        if len(vmlinuz) != 1 or len(moddirs) != 1:
            raise BuildError(f'{kpkg}: unexpected layout')
        modules = module_closure(moddirs[0], WANTED_MODULES)
        stage = gdir + '.tmp'
        shutil.rmtree(stage, ignore_errors=True)
        os.makedirs(stage)
        shutil.copyfile(vmlinuz[0], os.path.join(stage, 'vmlinuz'))
        extract_vmlinux(vmlinuz[0], os.path.join(stage, 'vmlinux'))
        make_initramfs(broot, modules, os.path.join(stage, 'initrd.gz'))
        with open(os.path.join(stage, 'guest.json'), 'w') as f:
            json.dump({'key': key, 'kernel_package': kpkg,
                       'kernel_version': kver, 'busybox_version': bver,
                       'kernel_release': os.path.basename(moddirs[0]),
                       'modules': [n for n, _ in modules],
                       'pages': PAGES}, f, indent=1)
        shutil.rmtree(gdir, ignore_errors=True)
        os.rename(stage, gdir)
    # older guests (other package versions or scripts) only take space
    for old in glob.glob(os.path.join(cache, 'guest-*')):
        if old != gdir:
            shutil.rmtree(old, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cache', default=DEFAULT_CACHE)
    args = ap.parse_args()
    try:
        gdir = build_guest(args.cache,
                           log=lambda *a: print(*a, file=sys.stderr))
    except BuildError as e:
        print(f'build-guest: {e}', file=sys.stderr)
        return 1
    print(gdir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
