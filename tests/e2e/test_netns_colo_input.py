#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_netns_colo_input - the COLO input path with real TCP stacks.

    ns C (client 10.77.0.1)
       c0 ==veth== pn                      primary colo-proxy (run in ns P):
                    -netdev af-packet hn0 (pn)  -[filter-mirror m0, tx]-
                    -device af-packet d0 (pg)
                                   pg ==veth== g1   ns PG (primary guest
                                                    10.77.0.2, TCP server)
                          m0 -> unix socket mirror.sock
                                   |
    secondary colo-proxy (ns S):   v
       -chardev socket red0 (client of mirror.sock, reconnect=1)
       -netdev af-packet hn0 (sn; sn ==veth== sx, idle network side)
         -[filter-redirector f1, queue=tx, indev=red0]-
       -device af-packet d0 (sg)
                                   sg ==veth== g2   ns SG (secondary guest,
                                                    same MAC and IP)

The client opens a TCP connection to the primary guest and sends data; the
primary guest answers (the real TCP exchange goes through the primary
proxy).  Every frame the client sent must reach the secondary guest's
interface byte for byte (captured with an AF_PACKET socket in ns SG),
including the SYN and the data segment.  Needs root and namespaces.
"""

import os
import subprocess
import sys
import time

from coloqtest import *

GUEST_MAC = '52:54:00:77:00:02'
CLIENT_IP, GUEST_IP = '10.77.0.1', '10.77.0.2'
PORT = 5001

# Captures every frame arriving on an interface for 'secs' seconds and
# prints them as hex, one per line (inbound only).
CAPTURE = r'''
import socket, sys, time, binascii
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(0.1)
print('READY', flush=True)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        data, addr = s.recvfrom(70000)
    except socket.timeout:
        continue
    if addr[2] == socket.PACKET_OUTGOING:
        continue
    print(binascii.hexlify(data).decode(), flush=True)
'''

SERVER = r'''
import socket, sys
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(1)
print('READY', flush=True)
c, _ = l.accept()
data = b''
while True:
    d = c.recv(65536)
    if not d:
        break
    data += d
    if data.endswith(b'END'):
        break
c.sendall(b'ACK:' + data[-16:])
c.close()
print(data.decode(errors='replace'), flush=True)
'''

CLIENT = r'''
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
c.sendall(sys.argv[3].encode() + b'END')
print(c.recv(100).decode(errors='replace'), flush=True)
c.close()
'''


def tcp_frames(hexlines, src, dst):
    """Ethernet/IPv4/TCP frames from 'src' to 'dst' in a list of hex
    strings, as bytes."""
    out = []
    sip = bytes(int(x) for x in src.split('.'))
    dip = bytes(int(x) for x in dst.split('.'))
    for h in hexlines:
        try:
            f = bytes.fromhex(h)
        except ValueError:
            continue
        if len(f) < 34 or f[12:14] != b'\x08\x00' or f[23] != 6:
            continue
        if f[26:30] == sip and f[30:34] == dip:
            out.append(f)
    return out


def start_capture(ns, netns, ifname, secs):
    p = ns.popen(netns, sys.executable, '-c', CAPTURE, ifname, str(secs),
                 stdout=subprocess.PIPE, text=True)
    check_eq(p.stdout.readline().strip(), 'READY', 'capture started')
    return p


def no_offload(ns, netns, ifname):
    ns.run(netns, 'ethtool', '-K', ifname, 'tx', 'off', 'rx', 'off',
           'tso', 'off', 'gso', 'off', 'gro', 'off', check_rc=False)


def test_colo_input_path():
    need_root()
    need_netns()
    need_types('filter-mirror', 'filter-redirector')
    need_types('af-packet', option='-netdev')
    need_types('af-packet', option='-device')
    if not os.path.exists('/usr/sbin/ethtool') and \
            not os.path.exists('/sbin/ethtool'):
        raise Skip('ethtool not installed (offloads must be off)')
    with NetNS() as ns:
        c, p, pg, s, sg = (ns.add(x) for x in ('C', 'P', 'PG', 'S', 'SG'))
        ns.veth('c0', c, 'pn', p)
        ns.veth('pg', p, 'g1', pg)
        ns.veth('sn', s, 'sx', s)
        ns.veth('sg', s, 'g2', sg)
        i = ns.ifname
        for netns, dev in ((c, 'c0'), (p, 'pn'), (p, 'pg'), (pg, 'g1'),
                           (s, 'sn'), (s, 'sx'), (s, 'sg'), (sg, 'g2')):
            no_offload(ns, netns, i(dev))
        for netns, dev in ((pg, 'g1'), (sg, 'g2')):
            ns.run(netns, 'ip', 'link', 'set', i(dev), 'address', GUEST_MAC)
            ns.run(netns, 'ip', 'addr', 'add', GUEST_IP + '/24', 'dev',
                   i(dev))
        ns.run(c, 'ip', 'addr', 'add', CLIENT_IP + '/24', 'dev', i('c0'))

        d = tmpdir('cqe')
        mirror = os.path.join(d, 'mirror.sock')
        primary = ColoProxy(
            ['-netdev', f'af-packet,id=hn0,ifname={i("pn")}',
             '-device', f'af-packet,id=d0,netdev=hn0,ifname={i("pg")}',
             '-chardev', chardev_unix('mirror0', mirror),
             '-object', 'filter-mirror,id=m0,netdev=hn0,queue=tx,'
                        'outdev=mirror0'],
            wrapper=['ip', 'netns', 'exec', p])
        secondary = ColoProxy(
            ['-netdev', f'af-packet,id=hn0,ifname={i("sn")}',
             '-device', f'af-packet,id=d0,netdev=hn0,ifname={i("sg")}',
             '-chardev', f'socket,id=red0,path={mirror},reconnect=1',
             '-object', 'filter-redirector,id=f1,netdev=hn0,queue=tx,'
                        'indev=red0'],
            wrapper=['ip', 'netns', 'exec', s])
        wait_for(lambda: (primary.qmp.cmd('query-netfilter-stats', id='m0')
                          [0].get('out-connected')), 10,
                 what='secondary connected to the mirror')
        # frames the namespaces sent on their own (IPv6 router and
        # neighbour solicitations after link-up) may have found the mirror
        # without its secondary yet, and were rightly dropped: count from
        # here
        st0 = primary.qmp.cmd('query-netfilter-stats', id='m0')[0]
        drops0 = st0.get('drop-buffer-full', 0) + \
            st0.get('drop-disconnected', 0)

        # what the client sends, as the primary proxy's interface sees it
        cap_p = start_capture(ns, p, i('pn'), 8)
        cap_s = start_capture(ns, sg, i('g2'), 8)
        srv = ns.popen(pg, sys.executable, '-c', SERVER, GUEST_IP,
                       str(PORT), stdout=subprocess.PIPE, text=True)
        check_eq(srv.stdout.readline().strip(), 'READY', 'server started')
        token = f'COLO-E2E-{os.getpid()}-{time.time_ns()}'
        cl = ns.run(c, sys.executable, '-c', CLIENT, GUEST_IP, str(PORT),
                    token, timeout=20)
        log(f'client got {cl.stdout.strip()!r}')
        check(cl.stdout.startswith('ACK:'), 'the TCP exchange worked')
        srv_out = srv.communicate(timeout=10)[0]
        check(token in srv_out, 'primary guest received the data')

        p_lines = cap_p.communicate(timeout=20)[0].split()
        s_lines = cap_s.communicate(timeout=20)[0].split()
        sent = tcp_frames(p_lines, CLIENT_IP, GUEST_IP)
        got = tcp_frames(s_lines, CLIENT_IP, GUEST_IP)
        log(f'client TCP frames: {len(sent)} sent, {len(got)} at the '
            'secondary guest')
        check(len(sent) >= 3, 'captured the client frames')
        check(any(f[47] & 0x02 for f in got), 'SYN reached the secondary')
        check(any(token.encode() in f for f in got),
              'data segment reached the secondary')
        # every client frame, byte for byte and in order
        check_eq(got[:len(sent)], sent, 'client frames at the secondary')

        st = secondary.qmp.cmd('query-netfilter-stats', id='f1')[0]
        log(f'secondary f1: {st}')
        check(st.get('packets-in', 0) >= len(sent), 'f1 packets-in')
        check_eq(st.get('framing-errors'), 0, 'framing errors')
        st = primary.qmp.cmd('query-netfilter-stats', id='m0')[0]
        log(f'primary m0: {st} (drops before the secondary came: {drops0})')
        check_eq(st.get('drop-buffer-full', 0) +
                 st.get('drop-disconnected', 0) - drops0, 0,
                 'no mirror drops once the secondary was connected')
        secondary.stop()
        primary.stop()


if __name__ == '__main__':
    run_tests([test_colo_input_path])
