#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_netdev_slirp - the "user" backend (net/slirp.c, libslirp) with the
test playing a guest through a -device stream, no privileges needed.

    host socket --hostfwd--> [libslirp n0] <--> [d0 -device stream] <--unix-- test "guest"

The "guest" is a few lines of Python speaking Ethernet: ARP, DHCP, ICMP
echo to the virtual router, and one TCP connection opened by a host
client through hostfwd= (handshake, data both ways, byte-exact).  This
checks the GSource that drives slirp's sockets and timers from the main
context, send_packet into the port, and the option parsing.
"""

import os
import random
import socket
import struct
import threading
import time

from coloqtest import *

GUEST_MAC = bytes.fromhex('525400123456')
BCAST = b'\xff' * 6
GUEST_IP = socket.inet_aton('10.0.2.15')
HOST_IP = socket.inet_aton('10.0.2.2')


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def eth(dst, src, etype, payload):
    return dst + src + struct.pack('>H', etype) + payload


def ipv4(src, dst, proto, payload, ident=1):
    hdr = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), ident,
                      0x4000, 64, proto, 0, src, dst)
    hdr = hdr[:10] + struct.pack('>H', csum(hdr)) + hdr[12:]
    return hdr + payload


def l4_csum(src, dst, proto, seg):
    pseudo = src + dst + struct.pack('>BBH', 0, proto, len(seg))
    return csum(pseudo + seg)


def udp(src, dst, sport, dport, data):
    seg = struct.pack('>HHHH', sport, dport, 8 + len(data), 0) + data
    c = l4_csum(src, dst, 17, seg) or 0xffff
    return seg[:6] + struct.pack('>H', c) + seg[8:]


def tcp(src, dst, sport, dport, seq, ack, flags, data=b''):
    seg = struct.pack('>HHIIBBHHH', sport, dport, seq, ack, 5 << 4, flags,
                      65535, 0, 0) + data
    c = l4_csum(src, dst, 6, seg)
    return seg[:16] + struct.pack('>H', c) + seg[18:]


def arp(op, sha, spa, tha, tpa):
    return struct.pack('>HHBBH6s4s6s4s', 1, 0x0800, 6, 4, op, sha, spa, tha,
                       tpa)


class Guest:
    """Reads frames from the device socket; answers ARP for GUEST_IP."""

    def __init__(self, sock):
        self.sock = sock
        self.router_mac = None

    def send(self, frame):
        send_frame(self.sock, frame)

    def next(self, pred, timeout=5, what='frame'):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            check(left > 0, f'timed out waiting for {what}')
            f = recv_frame(self.sock, left)
            if f is None:
                continue
            etype = struct.unpack_from('>H', f, 12)[0]
            if etype == 0x0806 and f[20:22] == b'\x00\x01' and \
                    f[38:42] == GUEST_IP:
                self.send(eth(f[6:12], GUEST_MAC, 0x0806,
                              arp(2, GUEST_MAC, GUEST_IP, f[22:28], f[28:32])))
                continue
            if pred(f):
                return f

    def ip_payload(self, f, proto):
        if struct.unpack_from('>H', f, 12)[0] != 0x0800 or f[23] != proto:
            return None
        ihl = (f[14] & 0xf) * 4
        tot = struct.unpack_from('>H', f, 16)[0]
        return f[14 + ihl:14 + tot]


def start(extra=''):
    d = tmpdir()
    gpath = os.path.join(d, 'guest.sock')
    hp = free_tcp_port()
    opts = f'user,id=n0,hostfwd=tcp:127.0.0.1:{hp}-10.0.2.15:8080' + extra
    p = ColoProxy(['-netdev', opts,
                   '-device', stream_device('d0', 'n0', gpath)], dir=d)
    g = Guest(connect_unix(gpath, proc=p))
    wait_for(lambda: any(e['id'] == 'd0' and e['backend']['connected']
                         for e in p.qmp.cmd('query-netdev-stats')),
             what='guest connected')
    return p, g, hp


def test_arp_icmp_dhcp():
    need_types('user', option='-netdev')
    p, g, _ = start()
    try:
        g.send(eth(BCAST, GUEST_MAC, 0x0806,
                   arp(1, GUEST_MAC, GUEST_IP, b'\0' * 6, HOST_IP)))
        f = g.next(lambda f: f[12:14] == b'\x08\x06' and f[20:22] == b'\0\2',
                   what='ARP reply')
        check_eq(f[28:32], HOST_IP, 'ARP reply sender address')
        check_eq(f[0:6], GUEST_MAC, 'ARP reply destination')
        router = f[22:28]

        payload = bytes(random.getrandbits(8) for _ in range(56))
        icmp = struct.pack('>BBHHH', 8, 0, 0, 0x1234, 1) + payload
        icmp = icmp[:2] + struct.pack('>H', csum(icmp)) + icmp[4:]
        g.send(eth(router, GUEST_MAC, 0x0800,
                   ipv4(GUEST_IP, HOST_IP, 1, icmp)))
        f = g.next(lambda f: (g.ip_payload(f, 1) or b'\xff')[0] == 0,
                   what='ICMP echo reply')
        r = g.ip_payload(f, 1)
        check_eq(r[4:8], struct.pack('>HH', 0x1234, 1), 'echo id/seq')
        check_eq(r[8:], payload, 'echo payload')

        xid = random.getrandbits(32)
        bootp = struct.pack('>BBBBIHH4s4s4s4s16s64s128s', 1, 1, 6, 0, xid, 0,
                            0x8000, b'\0' * 4, b'\0' * 4, b'\0' * 4,
                            b'\0' * 4, GUEST_MAC + b'\0' * 10, b'', b'')
        bootp += b'\x63\x82\x53\x63' + b'\x35\x01\x01' + b'\xff'
        g.send(eth(BCAST, GUEST_MAC, 0x0800,
                   ipv4(b'\0' * 4, b'\xff' * 4, 17,
                        udp(b'\0' * 4, b'\xff' * 4, 68, 67, bootp))))

        def is_offer(f):
            u = g.ip_payload(f, 17)
            return u is not None and u[2:4] == b'\x00\x44' and \
                struct.unpack_from('>I', u, 12)[0] == xid
        f = g.next(is_offer, what='DHCP offer')
        u = g.ip_payload(f, 17)
        check_eq(socket.inet_ntoa(u[8 + 16:8 + 20]), '10.0.2.15',
                 'DHCP yiaddr')
        p.stop()
    finally:
        p.kill()


def test_hostfwd_tcp():
    need_types('user', option='-netdev')
    p, g, hp = start()
    result = {}

    def host_client():
        try:
            c = socket.create_connection(('127.0.0.1', hp), timeout=10)
            c.sendall(b'hello from the host')
            result['reply'] = recv_exact(c, 21, timeout=10)
            c.close()
        except Exception as e:      # reported by the main thread
            result['error'] = repr(e)

    try:
        # tell slirp where the guest is
        g.send(eth(BCAST, GUEST_MAC, 0x0806,
                   arp(1, GUEST_MAC, GUEST_IP, b'\0' * 6, HOST_IP)))
        t = threading.Thread(target=host_client)
        t.start()

        def is_syn(f):
            s = g.ip_payload(f, 6)
            return s is not None and s[2:4] == struct.pack('>H', 8080) and \
                s[13] & 0x02
        f = g.next(is_syn, timeout=10, what='SYN from hostfwd')
        s = g.ip_payload(f, 6)
        peer_ip = f[26:30]
        peer_mac = f[6:12]
        sport = struct.unpack_from('>H', s, 0)[0]
        their = struct.unpack_from('>I', s, 4)[0] + 1
        mine = random.getrandbits(32)

        def out(flags, data=b''):
            g.send(eth(peer_mac, GUEST_MAC, 0x0800,
                       ipv4(GUEST_IP, peer_ip, 6,
                            tcp(GUEST_IP, peer_ip, 8080, sport, mine, their,
                                flags, data))))
        out(0x12)                                      # SYN|ACK
        mine = (mine + 1) & 0xffffffff
        data = b''
        while len(data) < 19:
            def is_data(f):
                s = g.ip_payload(f, 6)
                return s is not None and s[2:4] == struct.pack('>H', 8080) \
                    and len(s) > (s[12] >> 4) * 4
            f = g.next(is_data, what='data from host')
            s = g.ip_payload(f, 6)
            seq = struct.unpack_from('>I', s, 4)[0]
            chunk = s[(s[12] >> 4) * 4:]
            if seq == their:
                data += chunk
                their = (their + len(chunk)) & 0xffffffff
            out(0x10)                                  # ACK
        check_eq(data, b'hello from the host', 'host -> guest data')
        out(0x18, b'hello from the guest!')            # PSH|ACK
        t.join(15)
        check('error' not in result, result.get('error', ''))
        check_eq(result.get('reply'), b'hello from the guest!',
                 'guest -> host data')
        st = {e['id']: e for e in p.qmp.cmd('query-netdev-stats')}
        check_eq(st['n0']['backend']['hostfwd-rules'], 1, 'hostfwd rules')
        p.stop()
    finally:
        p.kill()


def test_hostfwd_lists():
    need_types('user', option='-netdev')
    ports = free_tcp_ports(4)
    p = ColoProxy(['-netdev',
                   f'user,id=n0,net=192.168.76.0/24,restrict=on,ipv6=off,'
                   f'hostfwd=tcp::{ports[0]}-:22;udp:127.0.0.1:{ports[1]}-'
                   f'192.168.76.9:53,hostfwd.0=tcp:127.0.0.1:{ports[2]}-:80,'
                   f'hostfwd.3=tcp:127.0.0.1:{ports[3]}-:81'])
    try:
        st = {e['id']: e for e in p.qmp.cmd('query-netdev-stats')}
        check_eq(st['n0']['backend']['hostfwd-rules'], 4, 'rules installed')
        for port in (ports[0], ports[2], ports[3]):
            socket.create_connection(('127.0.0.1', port), timeout=5).close()
        p.stop()
    finally:
        p.kill()


def test_bad_option_strings():
    """Empty and signed values of net= and ipv6-net= are refused (an empty
    one crashed the process, over netdev_add too; a negative prefix was
    wrapped around by strtoull into a valid one)."""
    need_types('user', option='-netdev')
    with ColoProxy() as p:
        for bad in ({'net': ''}, {'ipv6-net': ''}, {'net': '/24'},
                    {'net': '10.0.2.0/-18446744073709551592'},
                    {'net': '10.0.2.0/+24'},
                    {'ipv6-net': 'fec0::/-18446744073709551552'},
                    {'hostfwd': 'tcp::+2222-:22'}):
            a = {'type': 'user', 'id': 'u0'}
            a.update(bad)
            expect_qmp_error(p.qmp.cmd, 'netdev_add', a)
        p.qmp.cmd('query-version')


if __name__ == '__main__':
    run_tests([
        test_arp_icmp_dhcp,
        test_hostfwd_tcp,
        test_hostfwd_lists,
        test_bad_option_strings,
    ])
