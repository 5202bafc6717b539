# SPDX-License-Identifier: GPL-2.0-or-later
"""comparepkt - Ethernet/IPv4/IPv6/TCP/UDP frame builders for the
colo-compare qtests (test_compare.py, test_compare_qemu.py).  Python
standard library only.  Checksums are computed, so the frames are valid
for QEMU too (QEMU's colo-compare does not check them either)."""

import struct

MAC_A = b'\x52\x54\x00\x12\x34\x01'
MAC_B = b'\x52\x54\x00\x12\x34\x02'

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ip4(a):
    return bytes(int(x) for x in a.split('.'))


def ip6(a):
    import ipaddress
    return ipaddress.IPv6Address(a).packed


def eth(payload, ethertype, vlan=None, pad=True):
    hdr = MAC_B + MAC_A
    if vlan is not None:
        hdr += struct.pack('!HH', 0x8100, vlan)
    f = hdr + struct.pack('!H', ethertype) + payload
    if pad and len(f) < 60:
        f += b'\0' * (60 - len(f))
    return f


def ipv4(proto, l4, src='10.0.0.1', dst='10.0.0.2', ttl=64, ident=1):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), ident, 0x4000,
                    ttl, proto, 0, ip4(src), ip4(dst))
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + l4


def ipv6(proto, l4, src='2001:db8::1', dst='2001:db8::2', hlim=64):
    return struct.pack('!IHBB16s16s', 0x60000000, len(l4), proto, hlim,
                       ip6(src), ip6(dst)) + l4


def _l4_csum(proto, l4, src, dst, v6):
    if v6:
        ph = ip6(src) + ip6(dst) + struct.pack('!IxxxB', len(l4), proto)
    else:
        ph = ip4(src) + ip4(dst) + struct.pack('!xBH', proto, len(l4))
    return csum(ph + l4)


def tcp(seq, ack, flags, payload=b'', sport=80, dport=5555, window=1000,
        src=None, dst=None, v6=False, ttl=64, ident=1, vlan=None):
    src = src or ('2001:db8::1' if v6 else '10.0.0.1')
    dst = dst or ('2001:db8::2' if v6 else '10.0.0.2')
    seg = struct.pack('!HHIIBBHHH', sport, dport, seq & 0xffffffff,
                      ack & 0xffffffff, 5 << 4, flags, window, 0, 0) + payload
    c = _l4_csum(6, seg, src, dst, v6)
    seg = seg[:16] + struct.pack('!H', c) + seg[18:]
    if v6:
        return eth(ipv6(6, seg, src, dst, ttl), 0x86dd, vlan)
    return eth(ipv4(6, seg, src, dst, ttl, ident), 0x0800, vlan)


def udp(payload, sport=53, dport=4000, src=None, dst=None, v6=False,
        ttl=64, ident=1, vlan=None):
    src = src or ('2001:db8::1' if v6 else '10.0.0.1')
    dst = dst or ('2001:db8::2' if v6 else '10.0.0.2')
    d = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    c = _l4_csum(17, d, src, dst, v6) or 0xffff
    d = d[:6] + struct.pack('!H', c) + d[8:]
    if v6:
        return eth(ipv6(17, d, src, dst, ttl), 0x86dd, vlan)
    return eth(ipv4(17, d, src, dst, ttl, ident), 0x0800, vlan)


def icmp_echo(ident, seq, payload=b'ping', src='10.0.0.1', dst='10.0.0.2',
              ipid=1):
    d = struct.pack('!BBHHH', 0, 0, 0, ident, seq) + payload
    d = d[:2] + struct.pack('!H', csum(d)) + d[4:]
    return eth(ipv4(1, d, src, dst, 64, ipid), 0x0800)


def arp():
    return eth(struct.pack('!HHBBH', 1, 0x0800, 6, 4, 1) + MAC_A +
               ip4('10.0.0.1') + b'\0' * 6 + ip4('10.0.0.2'), 0x0806)
