#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_netns_afpacket - real TCP/IP stacks in two network namespaces joined
through colo-proxy (net/af-packet.c, net/tap.c).

    ns A                      root namespace                     ns B
  [a0 10.77.0.1] ==veth== [ra]                  [rb] ==veth== [b0 10.77.0.2]
                           |                     |
              -device af-packet,ifname=ra   -netdev af-packet,ifname=rb
                           +--- colo-proxy port d0 <-> n0 ---+

  1. ping and a 4 MiB TCP transfer A -> B, sha256 compared
  2. the same with a filter-dump on n0: the pcap parses (our reader and
     tshark agree on the record count) and the TCP stream rebuilt from the
     pcap is byte-exact
  3. VLAN-tagged frames (802.1Q, QinQ, priority-only) sent with a raw
     socket in A arrive byte-exact in B: tags the kernel strips into
     packet metadata are put back (PACKET_AUXDATA)
  4. -device tap instead of af-packet on the B side (the tap is moved into
     ns B after colo-proxy created it), with vnet_hdr=off and on

Offloads (TSO/GSO, tx checksum) are turned off on the veths with the
legacy ethtool ioctls: frames that leave a stack as one 64 KiB GSO
super-frame or with a partial checksum cannot be re-sent on another
interface as they are (docs/netdevs.md).
"""

import hashlib
import os
import shutil
import struct
import subprocess
import sys
import time

from coloqtest import *

# Run inside a namespace: turn off the offloads named by argv[1] (hex
# ethtool set-commands, comma-separated) on the interfaces argv[2:].
ETHTOOL_OFF = r'''
import ctypes, fcntl, socket, struct, sys
SIOCETHTOOL = 0x8946
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for ifname in sys.argv[2:]:
    for cmd in [int(c, 16) for c in sys.argv[1].split(',')]:
        buf = ctypes.create_string_buffer(struct.pack('II', cmd, 0))
        ifr = struct.pack('16sP', ifname.encode(), ctypes.addressof(buf))
        try:
            fcntl.ioctl(s, SIOCETHTOOL, ifr)
        except OSError:
            pass
'''

# Run inside ns B: accept one connection, print sha256 and byte count.
TCP_SERVER = r'''
import hashlib, socket, sys
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2]))); ls.listen(1)
print('ready', flush=True)
ls.settimeout(30)
c, _ = ls.accept(); c.settimeout(30)
h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    h.update(d); n += len(d)
print(h.hexdigest(), n, flush=True)
'''

# Run inside ns A: send argv[3] bytes of seeded random data, print sha256.
TCP_CLIENT = r'''
import hashlib, random, socket, sys
rng = random.Random(int(sys.argv[4]))
data = rng.getrandbits(8 * int(sys.argv[3])).to_bytes(int(sys.argv[3]), 'little')
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
c.sendall(data); c.shutdown(socket.SHUT_WR)
c.recv(1)
print(hashlib.sha256(data).hexdigest(), len(data), flush=True)
'''

PORT = 5201
SIZE = 4 * 1024 * 1024


ALL_OFFLOADS = '17,19,1f,24,2c'        # TXCSUM SG TSO GSO GRO
SEGMENTATION = '1f,24,2c'              # TSO GSO GRO (tx checksum stays on)


def offloads_off(n, ns, *ifnames, which=ALL_OFFLOADS):
    n.run(ns, sys.executable, '-c', ETHTOOL_OFF, which, *ifnames)


def setup(n, b_side='af-packet', offloads=True):
    """Namespaces A and B, veth a0<->ra and (for af-packet) b0<->rb.
    Returns (nsA, nsB, names)."""
    if not shutil.which('ping'):
        raise Skip('ping (iputils) not installed')
    a = n.add('A')
    b = n.add('B')
    n.veth('ra', None, 'a0', a)
    names = {'a0': n.ifname('a0'), 'ra': n.ifname('ra')}
    if offloads:
        offloads_off(n, a, names['a0'])
        offloads_off(n, None, names['ra'])
    n.run(a, 'ip', 'addr', 'add', '10.77.0.1/24', 'dev', names['a0'])
    if b_side == 'af-packet':
        n.veth('rb', None, 'b0', b)
        names['b0'], names['rb'] = n.ifname('b0'), n.ifname('rb')
        if offloads:
            offloads_off(n, b, names['b0'])
            offloads_off(n, None, names['rb'])
        n.run(b, 'ip', 'addr', 'add', '10.77.0.2/24', 'dev', names['b0'])
    return a, b, names


def ping(n, ns, addr, count=3):
    r = n.run(ns, 'ping', '-c', str(count), '-i', '0.2', '-W', '2', addr,
              check_rc=False, timeout=30)
    check(r.returncode == 0, f'ping {addr} failed:\n{r.stdout}{r.stderr}')


def wait_ping(n, ns, addr, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        r = n.run(ns, 'ping', '-c', '1', '-W', '1', addr, check_rc=False)
        if r.returncode == 0:
            return
        check(time.monotonic() < deadline, f'{addr} never answered:\n'
              f'{r.stdout}{r.stderr}')


def tcp_transfer(n, a, b, addr, size=SIZE, seed=1):
    srv = n.popen(b, sys.executable, '-c', TCP_SERVER, addr, str(PORT),
                  stdout=subprocess.PIPE, text=True)
    try:
        check_eq(srv.stdout.readline().strip(), 'ready', 'server ready')
        cli = n.run(a, sys.executable, '-c', TCP_CLIENT, addr, str(PORT),
                    str(size), str(seed), timeout=60)
        sent = cli.stdout.split()
        got = srv.stdout.readline().split()
        srv.wait(30)
        check_eq(got, sent, 'sha256 and length received vs sent')
        return bytes.fromhex(sent[0])
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()


def afpacket_proxy(names, extra=(), n0='', d0=''):
    return ColoProxy(['-netdev', f'af-packet,id=n0,ifname={names["rb"]}{n0}',
                      '-device', f'af-packet,id=d0,netdev=n0,'
                      f'ifname={names["ra"]}{d0}'] + list(extra))


def test_ping_and_tcp():
    need_root()
    need_types('af-packet', option='-netdev')
    with NetNS() as n:
        a, b, names = setup(n)
        p = afpacket_proxy(names)
        try:
            wait_ping(n, a, '10.77.0.2')
            ping(n, a, '10.77.0.2')
            tcp_transfer(n, a, b, '10.77.0.2')
            st = {e['id']: e for e in p.qmp.cmd('query-netdev-stats')}
            # 4 MiB of data A -> B: read by d0, written by n0; ACKs back
            check(st['d0']['counters']['rx-frames'] > 2800, f'{st["d0"]}')
            check(st['n0']['counters']['tx-frames'] > 2800, f'{st["n0"]}')
            check(st['n0']['counters']['rx-frames'] > 100, f'{st["n0"]}')
            check_eq(st['n0']['counters']['drop-error'], 0, 'n0 drop-error')
            check_eq(st['d0']['counters']['drop-error'], 0, 'd0 drop-error')
            p.stop()
        finally:
            p.kill()


def tcp_stream_from_pcap(recs, dport):
    """Rebuilds the payload of the TCP stream to 'dport' from pcap records
    (IPv4, VLAN-free Ethernet)."""
    segs = {}
    isn = None
    for _, _, f in recs:
        if len(f) < 34 or f[12:14] != b'\x08\x00':
            continue
        ihl = (f[14] & 0x0f) * 4
        if f[23] != 6:
            continue
        tot = struct.unpack_from('>H', f, 16)[0]
        t = 14 + ihl
        sport, dp, seq = struct.unpack_from('>HHI', f, t)
        if dp != dport:
            continue
        doff = (f[t + 12] >> 4) * 4
        flags = f[t + 13]
        if flags & 0x02:                      # SYN
            isn = seq
            continue
        payload = f[t + doff:14 + tot]
        if payload:
            segs[seq] = payload
    check(isn is not None, 'no SYN in the pcap')
    out = bytearray()
    nxt = (isn + 1) & 0xffffffff
    while nxt in segs:
        out += segs[nxt]
        nxt = (nxt + len(segs[nxt])) & 0xffffffff
    return bytes(out)


def test_tcp_through_filter_dump():
    need_root()
    need_types('af-packet', option='-netdev')
    need_types('filter-dump')
    with NetNS() as n:
        a, b, names = setup(n)
        d = tmpdir()
        pcap = os.path.join(d, 'n0.pcap')
        p = afpacket_proxy(names, ['-object', f'filter-dump,id=f0,netdev=n0,'
                                   f'file={pcap},maxlen=65535'])
        try:
            wait_ping(n, a, '10.77.0.2')
            digest = tcp_transfer(n, a, b, '10.77.0.2', size=1024 * 1024,
                                  seed=7)
            p.stop()
        finally:
            p.kill()
        recs = read_pcap(pcap)
        check(len(recs) > 200, f'only {len(recs)} pcap records')
        r = subprocess.run(['tshark', '-r', pcap, '-T', 'fields', '-e',
                            'frame.number'], capture_output=True, text=True)
        if r.returncode == 0:
            check_eq(len(r.stdout.split()), len(recs),
                     'tshark vs our pcap record count')
        stream = tcp_stream_from_pcap(recs, PORT)
        check_eq(len(stream), 1024 * 1024, 'bytes of the stream in the pcap')
        check_eq(hashlib.sha256(stream).digest(), digest,
                 'sha256 of the stream rebuilt from the pcap')


# Run inside a namespace: send the hex frames read from stdin on argv[1].
RAW_SEND = r'''
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
s.bind((sys.argv[1], 0))
for line in sys.stdin:
    s.send(bytes.fromhex(line.strip()))
'''

# Run inside a namespace: print (hex) the frames on argv[1] that carry the
# marker, with the VLAN tag the kernel stripped put back from the auxdata.
RAW_RECV = r'''
import select, socket, struct, sys, time
SOL_PACKET, PACKET_AUXDATA, ETH_P_ALL = 263, 8, 3
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 1 << 4, 1 << 6
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
s.bind((sys.argv[1], ETH_P_ALL))
s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
want = int(sys.argv[2])
print('ready', flush=True)
deadline = time.monotonic() + 10
got = 0
while got < want and time.monotonic() < deadline:
    if not select.select([s], [], [], 0.5)[0]:
        continue
    data, anc, _, _ = s.recvmsg(65536, 4096)
    if b'cqvl' not in data:
        continue
    for lvl, typ, cd in anc:
        if lvl == SOL_PACKET and typ == PACKET_AUXDATA:
            st, _, _, _, _, tci, tpid = struct.unpack_from('IIIHHHH', cd)
            if st & TP_STATUS_VLAN_VALID or tci:
                if not st & TP_STATUS_VLAN_TPID_VALID:
                    tpid = 0x8100
                data = data[:12] + struct.pack('>HH', tpid, tci) + data[12:]
    print(data.hex(), flush=True)
    got += 1
'''


def vlan_frames():
    """Tagged (802.1Q with priority bits and VLAN 0, 802.1ad QinQ) and
    untagged frames, each with the marker and a sequence number."""
    dst, src = bytes.fromhex('02aabbccdd01'), bytes.fromhex('02aabbccdd02')
    out = []
    tags = [b'', struct.pack('>HH', 0x8100, 100), struct.pack('>HH', 0x8100,
            0xe000 | 5), struct.pack('>HH', 0x8100, 0),
            struct.pack('>HH', 0x88a8, 200) + struct.pack('>HH', 0x8100, 300),
            struct.pack('>HH', 0x8100, 4094)]
    for i in range(60):
        tag = tags[i % len(tags)]
        body = b'cqvl' + struct.pack('>I', i) + bytes(range(i % 200)) * 2
        out.append(dst + src + tag + b'\x88\xb5' + body)
    return out


def test_vlan_tags_survive():
    """The kernel moves an outer VLAN tag into packet metadata on receive;
    af-packet puts it back, so tagged frames cross colo-proxy byte-exact
    (raw packet sockets at both ends; this kernel may lack 8021q)."""
    need_root()
    need_types('af-packet', option='-netdev')
    with NetNS() as n:
        a, b, names = setup(n)
        p = afpacket_proxy(names)
        try:
            wait_ping(n, a, '10.77.0.2')
            frames = vlan_frames()
            rx = n.popen(b, sys.executable, '-c', RAW_RECV, names['b0'],
                         str(len(frames)), stdout=subprocess.PIPE, text=True)
            check_eq(rx.stdout.readline().strip(), 'ready', 'receiver')
            n.run(a, sys.executable, '-c', RAW_SEND, names['a0'],
                  input=''.join(f.hex() + '\n' for f in frames))
            got = [bytes.fromhex(l.strip()) for l in rx.stdout]
            rx.wait(15)
            check_eq(len(got), len(frames), 'frames received')
            for i, (g, f) in enumerate(zip(got, frames)):
                check_eq(g.hex(), f.hex(), f'frame {i}')
            st = {e['id']: e for e in p.qmp.cmd('query-netdev-stats')}
            check(st['d0']['backend']['vlan-restored'] >= 40,
                  f'vlan-restored {st["d0"]["backend"]}')
            p.stop()
        finally:
            p.kill()


def test_offloads_with_vnet_hdr():
    """Offloads left on (TSO/GSO super-frames, partial checksums): with
    vnet_hdr=on on both af-packet clients the virtio-net header travels
    with each frame and the sending kernel segments and checksums."""
    need_root()
    need_types('af-packet', option='-netdev')
    with NetNS() as n:
        a, b, names = setup(n, offloads=False)
        p = afpacket_proxy(names, n0=',vnet_hdr=on', d0=',vnet_hdr=on')
        try:
            wait_ping(n, a, '10.77.0.2')
            ping(n, a, '10.77.0.2')
            tcp_transfer(n, a, b, '10.77.0.2', seed=11)
            st = {e['id']: e for e in p.qmp.cmd('query-netdev-stats')}
            for id in ('n0', 'd0'):
                check_eq(st[id]['vnet-hdr-len'], 10, f'{id} vnet-hdr-len')
                check_eq(st[id]['counters']['drop-error'], 0,
                         f'{id} drop-error')
            c = st['d0']['counters']
            log(f'd0: {c["rx-frames"]} frames, {c["rx-bytes"]} bytes '
                f'(avg {c["rx-bytes"] // max(c["rx-frames"], 1)})')
            p.stop()
        finally:
            p.kill()


def test_partial_checksums_completed():
    """Tx checksum offload on in A (segmentation off): af-packet with
    vnet_hdr=on reads frames whose checksum is left to the device and, as
    its peer takes no vnet header, fills the checksum in itself."""
    need_root()
    need_types('af-packet', option='-netdev')
    with NetNS() as n:
        a, b, names = setup(n, offloads=False)
        offloads_off(n, a, names['a0'], which=SEGMENTATION)
        offloads_off(n, None, names['ra'], names['rb'])
        offloads_off(n, b, names['b0'])
        p = afpacket_proxy(names, d0=',vnet_hdr=on')
        try:
            wait_ping(n, a, '10.77.0.2')
            tcp_transfer(n, a, b, '10.77.0.2', size=1024 * 1024, seed=13)
            st = {e['id']: e for e in p.qmp.cmd('query-netdev-stats')}
            be = st['d0']['backend']
            log(f'd0 backend: {be}')
            check(be['csum-completed'] > 100, f'csum-completed: {be}')
            p.stop()
        finally:
            p.kill()


def tap_case(vnet):
    need_root()
    need_types('af-packet', option='-netdev')
    need_types('tap', option='-device')
    with NetNS() as n:
        a, b, names = setup(n, b_side='tap')
        tap = n.ifname('tp')
        p = ColoProxy(['-netdev', f'af-packet,id=n0,ifname={names["ra"]}',
                       '-device', f'tap,id=d0,netdev=n0,ifname={tap},'
                       f'script=no,downscript=no,vnet_hdr={vnet}'])
        try:
            # colo-proxy made the tap here; it keeps working in ns B
            n.run(None, 'ip', 'link', 'set', tap, 'netns', b)
            n.run(b, 'ip', 'addr', 'add', '10.77.0.2/24', 'dev', tap)
            n.run(b, 'ip', 'link', 'set', tap, 'up')
            wait_ping(n, a, '10.77.0.2')
            ping(n, a, '10.77.0.2')
            tcp_transfer(n, a, b, '10.77.0.2', size=2 * 1024 * 1024, seed=5)
            st = {e['id']: e for e in p.qmp.cmd('query-netdev-stats')}
            check_eq(st['d0']['vnet-hdr-len'], 12 if vnet == 'on' else 0,
                     'tap vnet-hdr-len')
            p.stop()
        finally:
            p.kill()


def test_tap_device():
    tap_case('off')


def test_tap_device_vnet_hdr():
    tap_case('on')


if __name__ == '__main__':
    run_tests([
        test_ping_and_tcp,
        test_tcp_through_filter_dump,
        test_vlan_tags_survive,
        test_tap_device,
        test_tap_device_vnet_hdr,
        test_offloads_with_vnet_hdr,
        test_partial_checksums_completed,
    ])
