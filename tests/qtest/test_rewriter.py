#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_rewriter - filter-rewriter through the real binary.

The test plays both ends of one port (tests/qtest/coloqtest.py StreamPort):
the network side (-netdev stream n0, the "client", whose frames reach the
guest as tx) and the guest side (-device stream d0, the secondary guest,
whose frames leave as rx).  n0 carries 'filter-rewriter,queue=all'.  It
crafts TCP frames (IPv4/IPv6, VLAN, timestamps, SACK), sends them through
and checks what comes out: seq/ack/TSval/TSecr/SACK shifted by the learned
offsets, checksums valid (full recomputation here), counters over
query-netfilter-stats, and the COLO events (checkpoint via
x-colo-checkpoint-done, failover via x-colo-lost-heartbeat on a secondary
colo-frame).

The frame builder/parser below (tcp_frame(), parse_tcp()) is also used by
tests/e2e/test_netns_rewriter.py and to generate tests/fuzz/corpus/rewriter.
"""

import os
import struct

from coloqtest import *

CMAC = b'\x52\x54\x00\x00\x00\x01'
GMAC = b'\x52\x54\x00\x00\x00\x02'
CIP4, GIP4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
CIP6 = bytes.fromhex('20010db8000000000000000000000001')
GIP6 = bytes.fromhex('20010db8000000000000000000000002')

SYN, ACK, FIN, RST, PSH = 0x02, 0x10, 0x01, 0x04, 0x08
M32 = 0xffffffff


def csum16(data, init=0):
    if len(data) % 2:
        data += b'\0'
    s = init + sum(struct.unpack(f'!{len(data) // 2}H', data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return s


def tcp_frame(from_guest, flags, seq, ack, v6=False, vlans=(), ts=None,
              sack=(), payload=b'', cport=40000, gport=80, window=65000):
    """An Ethernet frame carrying one TCP segment with correct checksums.
    ts = (tsval, tsecr) or None; sack = [(left, right), ...]."""
    src_mac, dst_mac = (GMAC, CMAC) if from_guest else (CMAC, GMAC)
    sport, dport = (gport, cport) if from_guest else (cport, gport)
    opts = b''
    if ts is not None:
        opts += b'\x01\x01\x08\x0a' + struct.pack('!II', ts[0] & M32,
                                                  ts[1] & M32)
    if sack:
        opts += b'\x01\x01\x05' + bytes([2 + 8 * len(sack)])
        for l, r in sack:
            opts += struct.pack('!II', l & M32, r & M32)
    while len(opts) % 4:
        opts += b'\0'
    doff = (20 + len(opts)) // 4
    tcp = struct.pack('!HHIIBBHHH', sport, dport, seq & M32, ack & M32,
                      doff << 4, flags, window, 0, 0) + opts + payload
    if v6:
        sip, dip = (GIP6, CIP6) if from_guest else (CIP6, GIP6)
        pseudo = sip + dip + struct.pack('!IxxxB', len(tcp), 6)
    else:
        sip, dip = (GIP4, CIP4) if from_guest else (CIP4, GIP4)
        pseudo = sip + dip + struct.pack('!xBH', 6, len(tcp))
    c = (~csum16(tcp, csum16(pseudo))) & 0xffff
    tcp = tcp[:16] + struct.pack('!H', c) + tcp[18:]
    if v6:
        ip = struct.pack('!IHBB', 0x60000000, len(tcp), 6, 64) + sip + dip
        etype = 0x86dd
    else:
        hdr = struct.pack('!BBHHHBBH', 0x45, 0, 20 + len(tcp), 1, 0x4000, 64,
                          6, 0) + sip + dip
        hc = (~csum16(hdr)) & 0xffff
        ip = hdr[:10] + struct.pack('!H', hc) + hdr[12:]
        etype = 0x0800
    l2 = dst_mac + src_mac
    for i, vid in enumerate(vlans):
        tpid = 0x88a8 if len(vlans) == 2 and i == 0 else 0x8100
        l2 += struct.pack('!HH', tpid, vid)
    return l2 + struct.pack('!H', etype) + ip + tcp


def parse_tcp(frame, vnet=0):
    """The TCP fields of an Ethernet frame (dict), checking both the IPv4
    header checksum and the TCP checksum by full computation (ok=True)."""
    p = vnet + 12
    etype = struct.unpack('!H', frame[p:p + 2])[0]
    while etype in (0x8100, 0x88a8):
        p += 4
        etype = struct.unpack('!H', frame[p:p + 2])[0]
    p += 2
    d = {'ok': True}
    if etype == 0x0800:
        ihl = (frame[p] & 15) * 4
        tot = struct.unpack('!H', frame[p + 2:p + 4])[0]
        if csum16(frame[p:p + ihl]) != 0xffff:
            d['ok'] = False
        if frame[p + 9] != 6:
            return None
        sip, dip = frame[p + 12:p + 16], frame[p + 16:p + 20]
        tcp = frame[p + ihl:p + tot]
        pseudo = sip + dip + struct.pack('!xBH', 6, len(tcp))
    elif etype == 0x86dd:
        plen = struct.unpack('!H', frame[p + 4:p + 6])[0]
        if frame[p + 6] != 6:
            return None
        sip, dip = frame[p + 8:p + 24], frame[p + 24:p + 40]
        tcp = frame[p + 40:p + 40 + plen]
        pseudo = sip + dip + struct.pack('!IxxxB', len(tcp), 6)
    else:
        return None
    if csum16(tcp, csum16(pseudo)) != 0xffff:
        d['ok'] = False
    (d['sport'], d['dport'], d['seq'], d['ack'], doff, d['flags'],
     _, _, _) = struct.unpack('!HHIIBBHHH', tcp[:20])
    hl = (doff >> 4) * 4
    d['payload'] = tcp[hl:]
    d['ts'] = None
    d['sack'] = []
    o = 20
    while o < hl:
        kind = tcp[o]
        if kind == 0:
            break
        if kind == 1:
            o += 1
            continue
        ln = tcp[o + 1]
        if ln < 2:
            break
        if kind == 8 and ln == 10:
            d['ts'] = struct.unpack('!II', tcp[o + 2:o + 10])
        elif kind == 5:
            for i in range((ln - 2) // 8):
                d['sack'].append(struct.unpack('!II',
                                               tcp[o + 2 + 8 * i:o + 10 + 8 * i]))
        o += ln
    return d


def filter_stats(qmp, fid):
    for e in qmp.cmd('query-netfilter-stats', id=fid):
        if e['id'] == fid:
            return e
    raise TestFailure(f'no stats for {fid}')


class Link:
    """A StreamPort with a rewriter on n0: to_guest() sends a client frame
    from the network side and returns what the guest got (parsed);
    from_guest() the other way."""

    def __init__(self, extra=(), rew='filter-rewriter,id=rew0,netdev=n0,'
                 'queue=all'):
        need_types('stream', option='-netdev')
        need_types('stream', option='-device')
        need_types('filter-rewriter')
        self.port = StreamPort(list(extra) + ['-object', rew])
        self.qmp = self.port.qmp

    def to_guest(self, *a, **kw):
        f = tcp_frame(False, *a, **kw)
        send_frame(self.port.net, f)
        got = recv_frame(self.port.guest)
        d = parse_tcp(got)
        check(d is not None and d['ok'], f'to-guest frame broken: {got!r}')
        check_eq(len(got), len(f), 'frame length')
        return d

    def from_guest(self, *a, **kw):
        f = tcp_frame(True, *a, **kw)
        send_frame(self.port.guest, f)
        got = recv_frame(self.port.net)
        d = parse_tcp(got)
        check(d is not None and d['ok'], f'from-guest frame broken: {got!r}')
        check_eq(len(got), len(f), 'frame length')
        return d

    def stats(self):
        return filter_stats(self.qmp, 'rew0')

    def stop(self):
        self.port.stop()


P_ISN, S_ISN, C_ISN = 0xfffffff0, 0x00001000, 0x7fff0000
P_TS, S_TS = 0xfffffff0, 0x100


def client_handshake(l, **kw):
    d = l.to_guest(SYN, C_ISN, 0, ts=(5000, 0), **kw)
    check_eq(d['seq'], C_ISN, 'client SYN untouched')
    d = l.from_guest(SYN | ACK, S_ISN, C_ISN + 1, ts=(S_TS, 5000), **kw)
    check_eq(d['seq'], S_ISN, 'guest SYN-ACK passes')
    d = l.to_guest(ACK, C_ISN + 1, P_ISN + 1, ts=(5001, P_TS), **kw)
    check_eq(d['ack'], (S_ISN + 1) & M32, 'client ACK acks the secondary ISN')
    check_eq(d['ts'], (5001, S_TS), 'client ACK TSecr in the guest clock')


def established_traffic(l, **kw):
    d = l.from_guest(ACK | PSH, S_ISN + 1, C_ISN + 1, ts=(S_TS + 7, 5001),
                     payload=b'x' * 100, **kw)
    check_eq(d['seq'], (P_ISN + 1) & M32, 'guest seq in the primary space')
    check_eq(d['ack'], C_ISN + 1, 'guest ack untouched')
    check_eq(d['ts'], ((P_TS + 7) & M32, 5001), 'guest TSval in the '
             'primary clock')
    d = l.to_guest(ACK, C_ISN + 1, P_ISN + 101, ts=(5002, P_TS + 7),
                   sack=[(P_ISN + 201, P_ISN + 301), (P_ISN + 401, P_ISN + 501)],
                   **kw)
    check_eq(d['ack'], (S_ISN + 101) & M32, 'client ack')
    check_eq(d['ts'], (5002, S_TS + 7), 'client TSecr')
    check_eq(d['sack'], [((S_ISN + 201) & M32, (S_ISN + 301) & M32),
                         ((S_ISN + 401) & M32, (S_ISN + 501) & M32)],
             'SACK blocks')


def test_client_opened():
    for kw in ({}, {'v6': True}, {'vlans': (7,)}, {'v6': True,
                                                  'vlans': (5, 6)}):
        l = Link()
        client_handshake(l, **kw)
        established_traffic(l, **kw)
        st = l.stats()
        log(f'{kw}: {st}')
        check_eq(st['type'], 'filter-rewriter', 'type')
        check_eq(st['connections'], 1, 'connections')
        check_eq(st['opened-by-client'], 1, 'opened-by-client')
        check_eq(st['offsets-learned'], 1, 'offsets-learned')
        check_eq(st['connections-with-offset'], 1, 'connections-with-offset')
        check_eq(st['packets-rewritten'], 3, 'packets-rewritten')
        check_eq(st['sack-blocks-rewritten'], 2, 'sack-blocks-rewritten')
        conns = l.qmp.cmd('query-colo-rewriter-connections')
        log(f'connections: {conns}')
        check_eq(len(conns), 1, 'one connection listed')
        c = conns[0]
        check_eq((c['filter'], c['guest-port'], c['peer-port'],
                  c['opened-by'], c['state']),
                 ('rew0', 80, 40000, 'client', 'established'),
                 'connection entry')
        check_eq(c['guest-addr'], '2001:db8::2' if kw.get('v6')
                 else '10.0.0.2', 'guest address')
        check_eq(c['seq-offset'], (S_ISN - P_ISN) & M32, 'seq offset')
        check_eq(c['ts-offset'], (S_TS - P_TS) & M32, 'ts offset')
        by_id = l.qmp.cmd('query-colo-rewriter-connections', id='rew0')
        check_eq([dict(x, **{'idle-ms': 0}) for x in by_id],
                 [dict(x, **{'idle-ms': 0}) for x in conns], 'by id')
        expect_qmp_error(l.qmp.cmd, 'query-colo-rewriter-connections',
                         id='nope', contains="filter-rewriter 'nope' not "
                         "found")
        l.stop()


def test_guest_opened():
    l = Link()
    d = l.from_guest(SYN, S_ISN, 0, ts=(S_TS, 0))
    check_eq(d['seq'], S_ISN, 'guest SYN passes')
    d = l.to_guest(SYN | ACK, C_ISN, P_ISN + 1, ts=(5000, P_TS))
    check_eq(d['ack'], (S_ISN + 1) & M32, 'server SYN-ACK ack')
    check_eq(d['ts'], (5000, S_TS), 'server SYN-ACK TSecr')
    d = l.from_guest(ACK, S_ISN + 1, C_ISN + 1, ts=(S_TS + 1, 5000))
    check_eq(d['seq'], (P_ISN + 1) & M32, 'guest ACK seq')
    established_traffic(l)
    check_eq(l.stats()['opened-by-guest'], 1, 'opened-by-guest')
    l.stop()


def test_teardown_and_other_frames():
    l = Link(rew='filter-rewriter,id=rew0,netdev=n0,queue=all,linger=1')
    client_handshake(l)
    d = l.to_guest(FIN | ACK, C_ISN + 1, P_ISN + 1)
    check_eq(d['ack'], (S_ISN + 1) & M32, 'client FIN ack')
    d = l.from_guest(FIN | ACK, S_ISN + 1, C_ISN + 2)
    check_eq(d['seq'], (P_ISN + 1) & M32, 'guest FIN seq')
    l.to_guest(ACK, C_ISN + 2, P_ISN + 2)
    st = l.stats()
    check_eq(st['closed-fin'], 1, 'closed-fin')
    # RST of another connection, from the guest
    client_handshake(l, cport=40001)
    d = l.from_guest(RST, S_ISN + 1, 0, cport=40001)
    check_eq(d['seq'], (P_ISN + 1) & M32, 'guest RST seq')
    check_eq(l.stats()['closed-rst'], 1, 'closed-rst')
    # non-TCP frames and unknown connections pass byte-exact
    for f in (eth_frame(1, 100), tcp_frame(True, ACK, 5, 6, cport=999)):
        send_frame(l.port.guest, f)
        check_eq(recv_frame(l.port.net), f, 'passes untouched')
    check(wait_for(lambda: l.stats()['removed-after-linger'] >= 1,
                   timeout=10, what='closed connections removed'), 'linger')
    l.stop()


def test_events():
    """x-colo-checkpoint-done zeroes the offsets; x-colo-lost-heartbeat
    keeps live connections translated and lets new ones pass."""
    l = Link(extra=['-object', 'colo-frame,id=colo0,mode=secondary'])
    client_handshake(l)
    check_eq(l.stats()['connections-with-offset'], 1, 'offset before')
    l.qmp.cmd('x-colo-checkpoint-done')
    wait_for(lambda: l.stats()['checkpoints'] >= 1, what='checkpoint event')
    check_eq(l.stats()['connections-with-offset'], 0, 'offsets after')
    d = l.from_guest(ACK, P_ISN + 1, C_ISN + 1)
    check_eq(d['seq'], (P_ISN + 1) & M32, 'no translation after checkpoint')
    # a new connection with offsets, then failover
    client_handshake(l, cport=40002)
    l.qmp.cmd('x-colo-lost-heartbeat')
    wait_for(lambda: l.stats()['failover'], what='failover event')
    check_eq(l.stats()['status'], 'on', 'rewriter stays on')
    d = l.from_guest(ACK | PSH, S_ISN + 1, C_ISN + 1, cport=40002,
                     payload=b'after failover')
    check_eq(d['seq'], (P_ISN + 1) & M32, 'live connection translated')
    d = l.to_guest(SYN, 1, 0, cport=40003)
    d = l.from_guest(SYN | ACK, 99, 2, cport=40003)
    d = l.to_guest(ACK, 2, 100, cport=40003)
    check_eq(d['ack'], 100, 'new connection after failover untouched')
    check_eq(l.stats()['passed-after-failover'], 1, 'passed-after-failover')
    l.stop()


def test_hold_until_guest_synack():
    """The client's ACK and data overtake the guest's SYN-ACK (no
    colo-compare orders them): the rewriter holds them, and sends them on,
    translated and in order, right after the SYN-ACK."""
    l = Link()
    l.to_guest(SYN, C_ISN, 0)
    send_frame(l.port.net, tcp_frame(False, ACK, C_ISN + 1, P_ISN + 1))
    send_frame(l.port.net, tcp_frame(False, ACK | PSH, C_ISN + 1, P_ISN + 1,
                                     payload=b'GET /'))
    expect_no_frame(l.port.guest, timeout=0.1)
    check_eq(l.stats()['held-now'], 2, 'held-now')
    d = l.from_guest(SYN | ACK, S_ISN, C_ISN + 1)
    check_eq(d['seq'], S_ISN, 'guest SYN-ACK passes')
    for want in (b'', b'GET /'):
        d = parse_tcp(recv_frame(l.port.guest))
        check(d['ok'], 'checksum')
        check_eq((d['ack'], d['payload']), ((S_ISN + 1) & M32, want),
                 'released frame translated, in order')
    st = l.stats()
    check_eq((st['held'], st['held-now']), (2, 0), 'held counters')
    # without a SYN-ACK the hold runs out and frames pass untranslated
    l.to_guest(SYN, C_ISN, 0, cport=40009)
    send_frame(l.port.net, tcp_frame(False, ACK, C_ISN + 1, P_ISN + 1,
                                     cport=40009))
    d = parse_tcp(recv_frame(l.port.guest, timeout=3))
    check_eq(d['ack'], P_ISN + 1, 'passed after the hold time')
    check_eq(l.stats()['hold-expired'], 1, 'hold-expired')
    l.stop()


def test_table_bound():
    l = Link(rew='filter-rewriter,id=rew0,netdev=n0,queue=all,'
             'max-connections=2')
    check_eq(l.qmp.qom_get('rew0', 'max-connections'), 2, 'property')
    for p in (41000, 41001):
        client_handshake(l, cport=p)
    l.to_guest(SYN, C_ISN, 0, cport=41002)
    l.from_guest(SYN | ACK, S_ISN, C_ISN + 1, cport=41002)
    d = l.to_guest(ACK, C_ISN + 1, P_ISN + 1, cport=41002)
    check_eq(d['ack'], P_ISN + 1, 'refused connection untranslated')
    st = l.stats()
    check_eq(st['connections'], 2, 'bounded')
    check_eq(st['refused-table-full'], 1, 'refused')
    # the refused connection's frames pass untranslated
    d = l.from_guest(ACK, S_ISN + 1, C_ISN + 1, cport=41002)
    check_eq(d['seq'], S_ISN + 1, 'untracked frame untouched')
    d = l.from_guest(ACK, S_ISN + 1, C_ISN + 1, cport=41000)
    check_eq(d['seq'], (P_ISN + 1) & M32, 'tracked frame translated')
    l.stop()


def test_vnet_hdr_support_property():
    need_types('filter-rewriter')
    with ColoProxy(['-netdev', 'stream,id=n0,server=on,addr.type=unix,'
                    'addr.path=/tmp/cq-rew-unused.sock']) as p:
        p.qmp.object_add('filter-rewriter', 'r1', netdev='n0', queue='all',
                         vnet_hdr_support=True)
        check_eq(p.qmp.qom_get('r1', 'vnet_hdr_support'), True, 'vnet prop')
        p.qmp.object_del('r1')
    try:
        os.unlink('/tmp/cq-rew-unused.sock')
    except OSError:
        pass


if __name__ == '__main__':
    run_tests([test_client_opened, test_guest_opened,
               test_teardown_and_other_frames, test_events,
               test_hold_until_guest_synack, test_table_bound,
               test_vnet_hdr_support_property])
