# SPDX-License-Identifier: GPL-2.0-or-later
"""vmguest - boots the tiny test guest under QEMU for the VM tests.

Used by tests/e2e/test_vm_*.py (Python stdlib only).  The guest itself is
built by tests/vm/build-guest.py (Debian kernel + busybox-static, cached in
tests/vm/cache/); this module starts qemu-system-x86_64 on it:

    g = VMGuest('primary', workdir, ip='10.91.0.2/24', nic='e1000',
                netdev=['stream', 'server=off', 'addr.type=unix',
                        'addr.path=/tmp/x/vm.sock'])
    g.start(); g.wait_up(); ...; g.stop()

qemu_args() is the exact command line; docs/qemu.md shows the one the
tests run (print it with `python3 tests/vm/vmguest.py --print-cmdline`).

Accelerator: TCG unless KVM is proven to work.  COLO_VM_ACCEL=tcg|kvm
forces one; 'auto' (the default) boots the guest once under KVM with a
short deadline and remembers the verdict for this host boot
(tests/vm/cache/kvm-probe-<boot_id>).  /dev/kvm can exist and still hang
(nested or PVM hosts), which is why opening it is not proof enough.
"""

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get('COLO_VM_CACHE', os.path.join(HERE, 'cache'))
MARKER = 'COLO-GUEST-UP'
BOOT_TIMEOUT = float(os.environ.get('COLO_VM_BOOT_TIMEOUT', '60'))
KVM_PROBE_TIMEOUT = 8.0


class GuestUnavailable(Exception):
    """The guest cannot be built or booted here (the reason is the text)."""


def _builder():
    spec = importlib.util.spec_from_file_location(
        'build_guest', os.path.join(HERE, 'build-guest.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_guest_dir = None


def guest_dir(log=print):
    """The built guest (vmlinux, initrd.gz); builds it on first use.
    Raises GuestUnavailable with the reason."""
    global _guest_dir
    if _guest_dir is None:
        if qemu_binary() is None:
            raise GuestUnavailable('qemu-system-x86_64 not installed')
        mod = _builder()
        t0 = time.monotonic()
        try:
            _guest_dir = mod.build_guest(CACHE, log=log)
        except (mod.BuildError, OSError) as e:
            raise GuestUnavailable(f'cannot build the guest: {e}')
        dt = time.monotonic() - t0
        if dt > 1.0:
            log(f'guest built in {dt:.1f}s: {_guest_dir}')
    return _guest_dir


def guest_pages():
    """Static page /k content (the same function the builder used)."""
    return _builder().page_body


def qemu_binary():
    """$QEMU if set (and executable), else qemu-system-x86_64 on PATH;
    None when there is none."""
    q = os.environ.get('QEMU')
    if q:
        return q if os.access(q, os.X_OK) else None
    return shutil.which('qemu-system-x86_64')


def _boot_id():
    try:
        with open('/proc/sys/kernel/random/boot_id') as f:
            return f.read().strip()
    except OSError:
        return 'unknown'


def accel(log=print):
    """'kvm' or 'tcg' (see the module comment)."""
    want = os.environ.get('COLO_VM_ACCEL', 'auto')
    if want in ('tcg', 'kvm'):
        return want
    if not os.access('/dev/kvm', os.R_OK | os.W_OK):
        return 'tcg'
    stamp = os.path.join(CACHE, f'kvm-probe-{_boot_id()}')
    try:
        with open(stamp) as f:
            return f.read().strip() or 'tcg'
    except OSError:
        pass
    verdict = 'tcg'
    import tempfile
    with tempfile.TemporaryDirectory(prefix='cqvmkvm') as d:
        g = VMGuest('kvmprobe', d, accel='kvm')
        try:
            g.start()
            g.wait_up(timeout=KVM_PROBE_TIMEOUT)
            verdict = 'kvm'
        except Exception as e:   # noqa: B902 - any failure means "no KVM"
            log(f'KVM probe failed ({str(e).splitlines()[0][:120]}); '
                f'using TCG')
        finally:
            g.stop()
    os.makedirs(CACHE, exist_ok=True)
    with open(stamp, 'w') as f:
        f.write(verdict + '\n')
    return verdict


class VMGuest:
    """One QEMU running the test guest.

    name     QEMU -name, the guest's colo.role (served by /cgi-bin/time)
    workdir  where serial log and QMP socket go (<name>.serial, <name>.qmp)
    ip       eth0 address with prefix, e.g. '10.91.0.2/24' (None: no NIC
             configuration)
    nic      'e1000' or 'virtio-net-pci'
    netdev   the -netdev option after the type, as a list of 'k=v' (first
             item the type), e.g. ['stream', 'server=off', ...]; None: no
             NIC at all
    neigh    (ip, mac) of a static neighbour in the guest (the client)
    """

    def __init__(self, name, workdir, ip=None, nic='e1000', netdev=None,
                 mac='52:54:00:12:34:56', neigh=None, accel=None,
                 extra=()):
        self.name = name
        self.workdir = workdir
        self.ip = ip
        self.nic = nic
        self.netdev = netdev
        self.mac = mac
        self.neigh = neigh
        self.accel = accel
        self.extra = list(extra)
        self.serial = os.path.join(workdir, f'{name}.serial')
        self.qmp_path = os.path.join(workdir, f'{name}.qmp')
        self.proc = None
        self.t_start = None
        self.boot_seconds = None
        self.up_line = None

    def append_line(self):
        parts = ['console=ttyS0', 'quiet', f'colo.role={self.name}']
        if self.ip:
            parts.append(f'colo.ip={self.ip}')
        if self.neigh:
            parts.append(f'colo.neigh={self.neigh[0]},{self.neigh[1]}')
        return ' '.join(parts)

    def qemu_args(self, gdir='$GUEST'):
        """The command line (list); 'gdir' is the guest directory."""
        a = [qemu_binary() or 'qemu-system-x86_64',
             '-name', self.name,
             '-accel', self.accel or 'tcg',
             '-machine', 'pc', '-cpu', 'qemu64', '-m', '256', '-smp', '1',
             '-nodefaults', '-display', 'none',
             '-kernel', os.path.join(gdir, 'vmlinux'),
             '-initrd', os.path.join(gdir, 'initrd.gz'),
             '-append', self.append_line(),
             '-serial', f'file:{self.serial}',
             '-qmp', f'unix:{self.qmp_path},server=on,wait=off']
        if self.netdev:
            a += ['-netdev', ','.join([self.netdev[0], 'id=n0']
                                      + list(self.netdev[1:])),
                  '-device', f'{self.nic},netdev=n0,mac={self.mac}']
        return a + self.extra

    def start(self):
        gdir = guest_dir()
        if self.accel is None:
            self.accel = accel()
        try:
            os.unlink(self.serial)
        except FileNotFoundError:
            pass
        self.errf = open(os.path.join(self.workdir, f'{self.name}.err'),
                         'w+b')
        self.t_start = time.monotonic()
        self.proc = subprocess.Popen(self.qemu_args(gdir),
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.errf, stderr=self.errf,
                                     start_new_session=True)
        return self

    def console(self):
        try:
            with open(self.serial, 'rb') as f:
                return f.read().decode(errors='replace')
        except FileNotFoundError:
            return ''

    def stderr(self):
        self.errf.seek(0)
        return self.errf.read().decode(errors='replace')

    def wait_up(self, timeout=BOOT_TIMEOUT):
        """Waits for the guest's MARKER line; returns it.  Raises
        RuntimeError with the console tail when QEMU exits or the
        deadline passes."""
        end = time.monotonic() + timeout
        while True:
            text = self.console()
            for line in text.splitlines():
                if line.startswith(MARKER):
                    self.up_line = line.strip()
                    self.boot_seconds = time.monotonic() - self.t_start
                    return self.up_line
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f'{self.name}: QEMU exited ({self.proc.returncode}): '
                    f'{self.stderr()[-800:]}\nconsole: {text[-800:]}')
            if time.monotonic() > end:
                raise RuntimeError(f'{self.name}: no {MARKER} within '
                                   f'{timeout:.0f}s; console: '
                                   f'{text[-1500:]}')
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=5.0):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


if __name__ == '__main__':
    # --print-cmdline: the command lines the VM tests run (for docs)
    import shlex
    g = VMGuest('primary', '$RUN', ip='10.91.0.2/24',
                netdev=['stream', 'server=off', 'addr.type=unix',
                        'addr.path=$RUN/primary-vm.sock'],
                neigh=('10.91.0.1', '52:54:00:91:00:01'), accel='tcg')
    print(' '.join(shlex.quote(x) for x in g.qemu_args()))
