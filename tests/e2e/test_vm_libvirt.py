#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_vm_libvirt - the domain XML of docs/libvirt.md, run under libvirt.

The two ways docs/libvirt.md attaches a VM's NIC to colo-proxy are taken
from the document itself (its ```xml blocks) and run by a real libvirtd
(Debian 12's libvirt 9.0, QEMU driver, TCG), with the tiny guest of
tests/vm/ booted by direct kernel boot:

  variant 1  <interface type='ethernet'> on a tap made beforehand
             (managed='no'); colo-proxy on the tap's host side with
             -device af-packet, its LAN side a -netdev tap
  variant 2  <qemu:commandline> passthrough of -netdev stream into
             colo-proxy's -device stream, and the extra -qmp socket

In both, the host talks to the guest through colo-proxy's LAN tap: HTTP
pages byte-exact, and the extra QMP socket of variant 2 answers.

libvirtd runs privately: in a network namespace of its own (so are the
taps) and a mount namespace where /etc/libvirt, /run/libvirt,
/var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are temporary
directories, qemu.conf runs QEMU as root without a security driver, and
/etc/passwd has the 'libvirt-qemu' user libvirt's QEMU driver looks up at
start (Debian creates it in libvirt-daemon-system, which needs systemd).
Nothing on the host is changed.  Needs root, namespaces, qemu, libvirt.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'vm'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'qtest'))

from coloqtest import *        # noqa: E402,F401,F403
import vmguest                 # noqa: E402

HOST_IP, GUEST_IP = '10.93.0.1', '10.93.0.2'
DOC = os.path.join(source_dir(), 'docs', 'libvirt.md')

QEMU_CONF = '''
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
stdio_handler = "file"
'''

SETUP = '''set -e
mount --make-rprivate /
b=$0
mount --bind "$b/etc" /etc/libvirt
mount --bind "$b/passwd" /etc/passwd
mount --bind "$b/group" /etc/group
for d in run:/run/libvirt lib:/var/lib/libvirt log:/var/log/libvirt \\
         cache:/var/cache/libvirt; do
    mkdir -p "${d#*:}"
    mount --bind "$b/${d%%:*}" "${d#*:}"
done
exec libvirtd
'''


def doc_text():
    with open(DOC) as f:
        return f.read()


def doc_xml_blocks():
    return re.findall(r'```xml\n(.*?)```', doc_text(), re.S)


class Libvirtd:
    """A private libvirtd (see the module docstring); virsh() talks to it
    from inside its mount namespace."""

    def __init__(self):
        for b in ('libvirtd', 'virsh', 'nsenter', 'unshare'):
            if not shutil.which(b):
                raise Skip(f'{b} not installed')
        self.base = tmpdir('cqlv')
        for d in ('run', 'lib', 'log', 'cache'):
            os.makedirs(os.path.join(self.base, d))
        shutil.copytree('/etc/libvirt', os.path.join(self.base, 'etc'))
        with open(os.path.join(self.base, 'etc', 'qemu.conf'), 'a') as f:
            f.write(QEMU_CONF)
        with open('/etc/passwd') as f:
            passwd = f.read()
        with open('/etc/group') as f:
            group = f.read()
        if not re.search(r'^libvirt-qemu:', passwd, re.M):
            passwd += ('libvirt-qemu:x:64055:64055:libvirt:'
                       '/var/lib/libvirt:/usr/sbin/nologin\n')
        for g, gid in (('libvirt-qemu', 64055), ('kvm', 64056)):
            if not re.search(rf'^{g}:', group, re.M):
                group += f'{g}:x:{gid}:\n'
        for name, text in (('passwd', passwd), ('group', group)):
            with open(os.path.join(self.base, name), 'w') as f:
                f.write(text)
        self.log = open(os.path.join(self.base, 'libvirtd.out'), 'w+')
        self.proc = subprocess.Popen(['unshare', '-m', 'sh', '-c', SETUP,
                                      self.base],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        sock = os.path.join(self.base, 'run', 'libvirt-sock')
        deadline = time.monotonic() + 30
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise TestFailure(f'libvirtd did not start: {self.tail()}')
            time.sleep(0.1)
        r = self.virsh('version')
        log(' '.join(r.split()))

    def tail(self):
        self.log.seek(0)
        out = self.log.read()[-1500:]
        try:
            with open(os.path.join(self.base, 'log', 'libvirtd.log')) as f:
                out += f.read()[-1500:]
        except OSError:
            pass
        return out

    def virsh(self, *args, check_rc=True):
        r = subprocess.run(['nsenter', '-t', str(self.proc.pid), '-m', '--',
                            'virsh', '-c', 'qemu:///system', *args],
                           capture_output=True, text=True, timeout=120)
        if check_rc and r.returncode != 0:
            raise TestFailure(f'virsh {" ".join(args)}: {r.stderr.strip()}'
                              f'\n{self.tail()}')
        return r.stdout

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def domain_xml(name, run, interface='', commandline=''):
    g = vmguest.guest_dir(log=log)
    return f'''<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{g}/vmlinux</kernel>
    <initrd>{g}/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet colo.role={name} colo.ip={GUEST_IP}/24</cmdline>
  </os>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model></cpu>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>{vmguest.qemu_binary()}</emulator>
{interface}
    <serial type='file'><source path='{run}/{name}.serial'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
{commandline}
</domain>
'''


def need_libvirt_vm():
    need_root()
    need_netns()
    if vmguest.qemu_binary() is None:
        raise Skip('qemu-system-x86_64 not installed')
    need_types('tap', 'stream', option='-netdev')
    need_types('af-packet', 'stream', option='-device')
    try:
        vmguest.guest_dir(log=log)
    except vmguest.GuestUnavailable as e:
        raise Skip(str(e))


def wait_marker(path, lv, timeout=vmguest.BOOT_TIMEOUT):
    end = time.monotonic() + timeout
    while True:
        try:
            with open(path, errors='replace') as f:
                text = f.read()
        except FileNotFoundError:
            text = ''
        for line in text.splitlines():
            if line.startswith(vmguest.MARKER):
                return line.strip()
        if time.monotonic() > end:
            raise TestFailure(f'no {vmguest.MARKER} in {timeout:.0f}s: '
                              f'{text[-800:]}\n{lv.tail()}')
        time.sleep(0.1)


def http_get(path, timeout=10):
    s = socket.create_connection((GUEST_IP, 80), timeout)
    try:
        s.sendall(f'GET {path} HTTP/1.0\r\nHost: g\r\n\r\n'.encode())
        data = b''
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    return head.split(b'\r\n')[0].decode(), body


def lan_side(ifname, proxy):
    wait_for(lambda: subprocess.run(['ip', 'link', 'show', ifname],
                                    capture_output=True).returncode == 0,
             what=f'{ifname} made by colo-proxy')
    subprocess.run(['ip', 'addr', 'add', f'{HOST_IP}/24', 'dev', ifname],
                   check=True)
    subprocess.run(['ip', 'link', 'set', ifname, 'up'], check=True)


def fetch_pages(n=5):
    pages = vmguest.guest_pages()
    for k in range(1, n + 1):
        status, body = http_get(f'/{k}')
        check('200' in status, f'/{k}: {status}')
        check_eq(body, pages(k), f'page /{k} through colo-proxy')


def run_domain(lv, name, run, xml):
    path = os.path.join(run, f'{name}.xml')
    with open(path, 'w') as f:
        f.write(xml)
    t0 = time.monotonic()
    lv.virsh('create', path)
    up = wait_marker(os.path.join(run, f'{name}.serial'), lv)
    log(f'{name}: up under libvirt in {time.monotonic() - t0:.1f}s: {up}')


def test_libvirt_variant1_tap():
    """<interface type='ethernet'> (docs/libvirt.md, variant 1)."""
    need_libvirt_vm()
    enter_netns()
    iface = doc_xml_blocks()[0]
    check("<interface type='ethernet'>" in iface, f'variant 1 block: {iface}')
    text = doc_text()
    netdev = 'tap,id=hn0,ifname=colo-vm1n,script=no,vnet_hdr=on'
    device = 'af-packet,id=vm,netdev=hn0,ifname=colo-vm1p,vnet_hdr=on'
    for a in (netdev, device, 'ip tuntap add dev colo-vm1p mode tap '
              'vnet_hdr'):
        check(a in text, f'docs/libvirt.md no longer says {a!r}')
    if not os.path.exists('/dev/vhost-net'):
        log('no /dev/vhost-net here: the <driver name=\'vhost\'> line is '
            'left out')
        iface = re.sub(r"\s*<driver name='vhost'[^>]*/>", '', iface)
    subprocess.run(['ip', 'tuntap', 'add', 'dev', 'colo-vm1p', 'mode', 'tap',
                    'vnet_hdr'], check=True)
    subprocess.run(['ip', 'link', 'set', 'colo-vm1p', 'up'], check=True)
    run = tmpdir('cqlvr')
    lv = Libvirtd()
    p = ColoProxy(['-netdev', netdev, '-device', device], dir=run)
    try:
        lan_side('colo-vm1n', p)
        run_domain(lv, 'vm1', run, domain_xml('vm1', run, interface=iface))
        fetch_pages()
        st = p.qmp.cmd('query-netdev-stats')
        log(f'colo-proxy: {[(n["id"], n["counters"]["rx-frames"], n["counters"]["tx-frames"]) for n in st]}')
        lv.virsh('destroy', 'vm1')
        p.stop()
    finally:
        lv.virsh('destroy', 'vm1', check_rc=False)
        lv.stop()
        p.kill()


def test_libvirt_variant2_stream_passthrough():
    """<qemu:commandline> with -netdev stream (docs/libvirt.md, variant 2)."""
    need_libvirt_vm()
    enter_netns()
    cmdline = doc_xml_blocks()[1]
    m = re.search(r'(<qemu:commandline>.*?</qemu:commandline>)', cmdline,
                  re.S)
    check(m is not None, f'variant 2 block: {cmdline}')
    run = tmpdir('cqlvr')
    cmdline = m.group(1).replace('/run/colo-proxy/vm1', run)
    # the doc's comment is not XML inside an attribute; keep it as is
    sock = os.path.join(run, 'primary-vm.sock')
    check(sock in cmdline, f'socket path not in {cmdline}')
    device = ('stream,id=vm,netdev=hn0,server=on,addr.type=unix,'
              'addr.path=/run/colo-proxy/vm1/primary-vm.sock')
    check(device in doc_text(), f'docs/libvirt.md no longer says {device!r}')
    lv = Libvirtd()
    p = ColoProxy(['-netdev', 'tap,id=hn0,ifname=colo-vm2n,script=no',
                   '-device', device.replace('/run/colo-proxy/vm1', run)],
                  dir=run)
    try:
        lan_side('colo-vm2n', p)
        run_domain(lv, 'vm2', run,
                   domain_xml('vm2', run, commandline=cmdline))
        fetch_pages()
        # the extra -qmp socket for colo-proxy's qemu driver answers
        q = QMPClient(os.path.join(run, 'qemu.qmp'), 10, True)
        st = q.cmd('query-status')
        check_eq(st.get('status'), 'running', 'QEMU through the extra -qmp')
        q.close()
        lv.virsh('destroy', 'vm2')
        p.stop()
    finally:
        lv.virsh('destroy', 'vm2', check_rc=False)
        lv.stop()
        p.kill()


if __name__ == '__main__':
    # one namespace per test: each runs in its own process
    which = sys.argv[1] if len(sys.argv) > 1 else None
    tests = [test_libvirt_variant1_tap,
             test_libvirt_variant2_stream_passthrough]
    if which is None:
        rcs = [subprocess.run([sys.executable, __file__, t.__name__]).returncode
               for t in tests]
        sys.exit(1 if any(rc not in (0, SKIP_EXIT) for rc in rcs)
                 else SKIP_EXIT if all(rc == SKIP_EXIT for rc in rcs) else 0)
    run_tests([t for t in tests if t.__name__ == which])
