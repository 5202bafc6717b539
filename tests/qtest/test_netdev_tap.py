#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_netdev_tap - the tap transport's set-up paths (net/tap.c); needs
root (CAP_NET_ADMIN).  Traffic through taps is in
tests/e2e/test_netns_afpacket.py.

  - script=/downscript= run as 'SCRIPT IFNAME' after creation and at exit
    (QEMU's seed lines: script=/etc/qemu-ifup,downscript=/etc/qemu-ifdown)
  - helper= is not run: a tap named after the id is made, with a warning
  - fd= adopts an inherited tap (vnet_hdr from its flags)
  - attaching to an existing persistent tap; a tap in use is an error that
    points to af-packet
  - the interface is brought up
"""

import fcntl
import os
import struct
import subprocess

from coloqtest import *

TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x0002, 0x1000, 0x4000


def link_exists(name):
    return os.path.exists(f'/sys/class/net/{name}')


def link_up(name):
    with open(f'/sys/class/net/{name}/flags') as f:
        return int(f.read(), 16) & 1


def open_tap(name, flags):
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), flags))
    return fd


def tag(s):
    return f'cq{os.getpid()}{s}'


def stats(p, id):
    for e in p.qmp.cmd('query-netdev-stats'):
        if e['id'] == id:
            return e
    raise TestFailure(f'no stats for {id}')


def test_scripts_run_with_ifname():
    need_root()
    d = tmpdir()
    log_path = os.path.join(d, 'log')
    for name in ('up', 'down'):
        with open(os.path.join(d, name), 'w') as f:
            f.write(f'#!/bin/sh\necho {name} "$@" >> {log_path}\n')
        os.chmod(os.path.join(d, name), 0o755)
    ifname = tag('s')
    p = ColoProxy(['-netdev', f'tap,id=hn0,vhost=off,ifname={ifname},'
                   f'script={d}/up,downscript={d}/down'], dir=d)
    try:
        check(link_exists(ifname), 'tap created')
        check(link_up(ifname), 'tap is up')
        with open(log_path) as f:
            check_eq(f.read(), f'up {ifname}\n', 'up script')
        p.stop()
        with open(log_path) as f:
            check_eq(f.read(), f'up {ifname}\ndown {ifname}\n', 'down script')
        check(not link_exists(ifname), 'tap gone')
    finally:
        p.kill()
    # a failing script is an error
    with open(os.path.join(d, 'bad'), 'w') as f:
        f.write('#!/bin/sh\nexit 3\n')
    os.chmod(os.path.join(d, 'bad'), 0o755)
    r = run_proxy(['-netdev', f'tap,id=hn0,ifname={ifname},script={d}/bad'])
    check(r.returncode != 0 and 'failed with status' in r.stderr, r.stderr)


def test_seed_lines():
    """The QEMU COLO documentation's tap lines are accepted as written."""
    need_root()
    hid = tag('h')
    p = ColoProxy(['-netdev', f'tap,id={hid},vhost=off,'
                   'helper=/usr/lib/qemu/qemu-bridge-helper'])
    try:
        check(link_exists(hid), 'tap named after the id')
        check('does not run bridge helpers' in p.stderr(), p.stderr())
        p.stop()
    finally:
        p.kill()
    # the id's name is taken by another process's tap: any name will do
    fd = open_tap(hid, IFF_TAP | IFF_NO_PI)
    p = ColoProxy(['-netdev', f'tap,id={hid},vhost=off,'
                   'helper=/usr/lib/qemu/qemu-bridge-helper'])
    try:
        name = stats(p, hid)['backend']['ifname']
        check(name != hid and link_exists(name), f'fallback tap {name}')
        check(f"using tap '{name}'" in p.stderr(), p.stderr())
        p.stop()
    finally:
        p.kill()
        os.close(fd)
    if os.access('/etc/qemu-ifup', os.X_OK):
        p = ColoProxy(['-netdev', 'tap,id=hn0,vhost=off,'
                       'script=/etc/qemu-ifup,downscript=/etc/qemu-ifdown'])
        try:
            name = stats(p, 'hn0')['backend']['ifname']
            check(link_exists(name), f'{name} exists')
            p.stop()
        finally:
            p.kill()


def test_inherited_fd():
    need_root()
    name = tag('f')
    fd = open_tap(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
    d = tmpdir()
    gpath = os.path.join(d, 'g.sock')
    try:
        p = ColoProxy([], start=False, dir=d)
        p.args = ['-netdev', f'tap,id=n0,fd={fd}',
                  '-device', stream_device('d0', 'n0', gpath)]
        p.proc = subprocess.Popen(p.cmdline(), stdin=subprocess.DEVNULL,
                                  stdout=open(p._out, 'wb'),
                                  stderr=open(p._err, 'wb'), cwd=d,
                                  pass_fds=[fd])
        p.qmp = p.connect_qmp()
        os.close(fd)
        fd = -1
        s = stats(p, 'n0')
        check_eq(s['backend']['ifname'], name, 'ifname of the fd')
        check_eq(s['vnet-hdr-len'], 12, 'vnet_hdr from IFF_VNET_HDR')
        g = connect_unix(gpath, proc=p)
        wait_for(lambda: stats(p, 'd0')['backend']['connected'],
                 what='guest connected')
        send_frame(g, eth_frame(1, 100))
        wait_for(lambda: stats(p, 'n0')['counters']['tx-frames'] >= 1,
                 what='frame written to the tap')
        p.stop()
        check(not link_exists(name), 'tap gone with its last fd')
    finally:
        if fd >= 0:
            os.close(fd)
        try:
            p.kill()
        except Exception:
            pass


def test_persistent_and_busy():
    need_root()
    name = tag('p')
    subprocess.run(['ip', 'tuntap', 'add', 'dev', name, 'mode', 'tap'],
                   check=True)
    try:
        p = ColoProxy(['-netdev', f'tap,id=n0,ifname={name},script=no,'
                       'downscript=no'])
        try:
            check(link_up(name), 'brought up')
            p.stop()
        finally:
            p.kill()
        check(link_exists(name), 'persistent tap survives')
    finally:
        subprocess.run(['ip', 'tuntap', 'del', 'dev', name, 'mode', 'tap'])
    busy = tag('b')
    fd = open_tap(busy, IFF_TAP | IFF_NO_PI)
    try:
        r = run_proxy(['-netdev', f'tap,id=n0,ifname={busy}'])
        check(r.returncode != 0 and 'af-packet' in r.stderr, r.stderr)
    finally:
        os.close(fd)


if __name__ == '__main__':
    run_tests([
        test_scripts_run_with_ifname,
        test_seed_lines,
        test_inherited_fd,
        test_persistent_and_busy,
    ])
