#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_ha_cpg - a corosync peer vanishing in the middle of a message
(issue 14 scenario 6, docs/ha.md §3).

colo-quorum reads its peers through CPG, never through a socket of its
own: a message reaches it only when corosync's totem protocol delivers
it, whole, in agreed order, to every member of the ring it was sent in
(virtual synchrony).  A message larger than a network frame travels as
fragments; when the sender's node dies with fragments in flight, the
survivors' totem recovery at the membership change discards the
incomplete message -- so "half a message" cannot reach colo-proxy.
This test shows it rather than assuming it:

  the netns cluster of tests/ha/hacluster.py (hosts A and B, qnetd on W,
  the demo's netns COLO pair with colo-quorum failover=on) is up; a
  foreign CPG member on A multicasts 64 KiB messages (about 46 totem
  fragments each, a sequence number and a checksummed body) into
  colo-proxy's group as fast as corosync takes them; a second foreign
  member on B checks every delivered message; after ~1.5 s corosync on A
  is killed (SIGKILL) while the sender is mid-stream.

  - every message B's checker got from A is whole and intact (0
    truncated, 0 corrupt), in order without gaps;
  - B's colo-quorum counted each of them as a bad message (the same
    number: nothing else, nothing partial, got through) and neither
    colo-proxy crashed;
  - A's colo-proxy, which lost its corosync, holds its output ("no
    connection to corosync"); B, quorate with qnetd's vote once A left
    the membership, is the only side that may serve.

Skips (77) like test_ha.py without root or corosync; fails under CI=true.
"""

import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coloqtest import run_tests, check, check_eq, log, Skip, need_types
import hacluster
from hacluster import Cluster

MSG_BODY = 64 * 1024

CPG_COMMON = r'''
import ctypes, hashlib, json, os, select, struct, sys, time
cpg = ctypes.CDLL('libcpg.so.4')
DELIVER = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_void_p,
                           ctypes.c_uint32, ctypes.c_uint32,
                           ctypes.c_void_p, ctypes.c_size_t)
class Cb(ctypes.Structure):
    _fields_ = [('deliver', ctypes.c_void_p), ('confchg', ctypes.c_void_p)]
class Name(ctypes.Structure):
    _fields_ = [('length', ctypes.c_uint32), ('value', ctypes.c_char * 128)]
class Iov(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
BODY = %d
def body(seq):
    return hashlib.sha256(struct.pack('>Q', seq)).digest() * (BODY // 32)
def join(deliver=None):
    h = ctypes.c_uint64()
    cb = Cb(ctypes.cast(deliver, ctypes.c_void_p) if deliver else None, None)
    rc = cpg.cpg_initialize(ctypes.byref(h), ctypes.byref(cb))
    assert rc == 1, rc
    n = Name(len(b'colo-proxy'), b'colo-proxy')
    assert cpg.cpg_join(h, ctypes.byref(n)) == 1
    return h, cb
''' % MSG_BODY

CPG_SENDER = CPG_COMMON + r'''
h, cb = join()
time.sleep(0.5)
print('ready', flush=True)
seq = sent = 0
last_ok = time.monotonic()
while True:
    msg = b'CQbig' + struct.pack('>QQ', seq, BODY) + body(seq)
    buf = ctypes.create_string_buffer(msg, len(msg))
    iov = Iov(ctypes.cast(buf, ctypes.c_void_p), len(msg))
    rc = cpg.cpg_mcast_joined(h, 1, ctypes.byref(iov), 1)
    if rc == 6:                  # CS_ERR_TRY_AGAIN: flow control
        if time.monotonic() - last_ok > 3:
            break                # (a dead corosync can also say this)
        time.sleep(0.001)
        continue
    last_ok = time.monotonic()
    if rc != 1:
        break                    # corosync is gone
    seq += 1
print(json.dumps({'sent': seq, 'rc': rc}), flush=True)
'''

CPG_CHECKER = CPG_COMMON + r'''
stats = {'whole': 0, 'truncated': 0, 'corrupt': 0, 'gaps': 0, 'last': -1,
         'other': 0}
def on_msg(h, group, nodeid, pid, msg, length):
    data = ctypes.string_at(msg, length)
    if not data.startswith(b'CQbig'):
        stats['other'] += 1       # the colo-proxies' announcements
        return
    if length < 21:
        stats['truncated'] += 1
        return
    seq, blen = struct.unpack('>QQ', data[5:21])
    if length != 21 + blen or blen != BODY:
        stats['truncated'] += 1
    elif data[21:] != body(seq):
        stats['corrupt'] += 1
    else:
        stats['whole'] += 1
    if seq != stats['last'] + 1:
        stats['gaps'] += 1
    stats['last'] = seq
fn = DELIVER(on_msg)
h, cb = join(fn)
fd = ctypes.c_int()
cpg.cpg_fd_get(h, ctypes.byref(fd))
print('ready', flush=True)
end = None
while True:
    r, _, _ = select.select([fd.value, sys.stdin], [], [], 0.2)
    if fd.value in r:
        cpg.cpg_dispatch(h, 2)    # CS_DISPATCH_ALL
    if sys.stdin in r and end is None:
        sys.stdin.readline()
        end = time.monotonic() + 1.0   # drain what is still delivered
    if end and time.monotonic() > end:
        break
print(json.dumps(stats), flush=True)
'''


def test_peer_vanishes_mid_message():
    m = hacluster.missing()
    if m:
        raise Skip(m)
    need_types('colo-quorum')
    hacluster.leftovers()
    c = Cluster(log=log)
    ok = False
    procs = []
    try:
        c.up()
        p, s = c.qmp['primary'], c.qmp['secondary']
        b0 = s.try_cmd('query-colo-quorum')[0]['bad-messages']

        def start(role, code):
            pr = subprocess.Popen(
                c.wrapper(role) + [sys.executable, '-c', code],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            procs.append(pr)
            line = pr.stdout.readline().strip()
            check_eq(line, 'ready', f'CPG helper on {role}: '
                     f'{pr.stderr.read() if pr.poll() is not None else ""}')
            return pr

        checker = start('b', CPG_CHECKER)
        sender = start('a', CPG_SENDER)
        time.sleep(1.5)
        t = time.monotonic()
        c.procs['corosync-a'].send_signal(signal.SIGKILL)
        log('corosync on A killed (SIGKILL) while the sender multicasts '
            f'{MSG_BODY // 1024} KiB messages')
        out, err = sender.communicate(timeout=20)
        sent = json.loads(out.strip().splitlines()[-1])
        time.sleep(5)      # the membership change, qnetd's verdict
        checker.stdin.write('\n')
        checker.stdin.flush()
        out, err = checker.communicate(timeout=20)
        got = json.loads(out.strip().splitlines()[-1])
        qa = p.try_cmd('query-colo-quorum')
        qb = s.try_cmd('query-colo-quorum')[0]
        log(f'sender: {sent}; checker on B: {got}; B bad-messages '
            f'{b0} -> {qb["bad-messages"]}')
        check(got['whole'] > 0, 'messages from A were delivered at all')
        check_eq((got['truncated'], got['corrupt'], got['gaps']), (0, 0, 0),
                 'partial, corrupt or missing messages delivered to B')
        check(got['last'] < sent['sent'] + 1, 'delivered no more than sent')
        check_eq(qb['bad-messages'] - b0, got['whole'],
                 "B's colo-quorum: bad messages counted (each whole "
                 'message, nothing else)')
        qa = qa[0] if qa else None
        log(f'A: {qa and (qa["connected"], qa["output-held"], qa.get("held-reason"))}'
            f'; B: quorate {qb["quorate"]}, output-held '
            f'{qb["output-held"]}, members {qb["nodes"]}')
        check(qa is not None and qa['output-held'], f'A holds: {qa}')
        check(c.procs['primary'].poll() is None and
              c.procs['secondary'].poll() is None, 'both proxies alive')
        check(qb['quorate'] and qb['nodes'] == [2], f'B quorate alone: {qb}')
        log(f'RESULT whole={got["whole"]} sent={sent["sent"]} '
            f'kill_to_report_s={time.monotonic() - t:.1f}')
        ok = True
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
                pr.wait()
        c.finish(ok)


if __name__ == '__main__':
    run_tests([test_peer_vanishes_mid_message], timeout=240)
