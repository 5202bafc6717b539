#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_ha_qemu - the HA scenarios with the real QEMU COLO pair (issue 14,
docs/ha.md §3 and §4).

tests/vm/colopair.py's pair (two patched QEMU 10.0.2 VMs under TCG, two
colo-proxies with colo-frame driver=qemu and colo-heartbeat, the client
in its own namespace) on the three hosts of tests/ha/hacluster.py: the
pair's namespaces P and S are the COLO hosts A (corosync node 1) and B
(node 2), joined by the veth ab-a == ab-b that carries the corosync ring;
a witness namespace W runs corosync-qnetd, reached by each host on its
own link; corosync and corosync-qdevice run in A and B (each in its own
mount namespace, hacluster.Corosync), and both colo-proxies carry
`colo-quorum,failover=on` and run in their host's namespaces so that
they talk to that host's corosync.  The COLO links stay the pair's unix
sockets (a host's death closes them like a dead TCP link would: the
heartbeat notices, corosync decides).

  1 test_qemu_kill_primary_host: host A dies: its links go dark, then its
    QEMU, colo-proxy, corosync and qdevice are killed (SIGKILL).  B's
    heartbeat fires, colo-quorum defers the failover while A is still a
    corosync member, promotes once corosync has dropped A and B is quorate
    with qnetd's vote; colo-proxy's qemu driver fails the secondary QEMU
    over (x-colo-lost-heartbeat, then announce-self).  The echo connection
    opened before the kill goes on byte-exact; HTTP pages afterwards are
    checked byte for byte.
  5 (same test) re-protection: A comes back (corosync + qdevice, a fresh
    -incoming QEMU, a fresh secondary colo-proxy); the test does what
    Pacemaker does when A's instance has started: the OCF agent's notify
    (post-start) on B, which runs scripts/colo-reprotect.py and
    makes B the primary of a new pair in place and migrates into A's QEMU
    until COLO; a miscompare (/cgi-bin/sched) makes B request a checkpoint
    that A loads; the echo connection from before the failover survives
    this too, every byte checked.
  - test_qemu_partition_loser_reprotected: the A-B link only is cut: A
    runs alone, B holds; after the heal B is stale (a held secondary,
    never a second primary); B's QEMU is replaced by a fresh -incoming
    one, A (a former primary) is re-protected by the OCF agent's
    post-start notify (B's instance restarted), and B's
    first loaded checkpoint clears its stale mark by itself.

Needs root, namespaces, corosync/qdevice/qnetd and the COLO QEMU
(scripts/build-colo-qemu.sh): skips outside CI, fails under CI=true.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'vm'))

from colopair import *         # noqa: E402,F401,F403
import hacluster               # noqa: E402

# B promotes within this bound after A's death: corosync's token (1000
# ms) + consensus (1200 ms), then qnetd's verdict; colo-heartbeat's
# timeout is shorter and only defers.  Measured 2.3-2.9 s (netns guests,
# docs/ha.md); the TCG guests load the 2 cores more.
PROMOTE_BOUND_S = 15.0
# the longest echo round trip across the failover: the promotion (above)
# plus TCP's retransmission backoff (0.2, 0.4, 0.8, 1.6, 3.2 s ...)
ECHO_PAUSE_BOUND_S = 10.0


def need_ha_pair():
    need_root()
    need_netns()
    m = hacluster.missing()
    if m:
        if in_ci():
            raise TestFailure(m)
        raise Skip(m)
    for t in ('colo-quorum', 'colo-compare', 'filter-rewriter',
              'colo-heartbeat', 'colo-frame'):
        need_types(t)
    return need_colo_qemu()


class HAPair(Pair):
    """colopair.Pair with corosync: P and S are hosts A and B, W the
    witness."""

    def __init__(self, ns, tag, nic, vnet, qemu, fw):
        super().__init__(ns, tag, nic, vnet, qemu, fw)
        self.work = tmpdir('cqha')
        self.cs = None

    def net(self):
        super().net()
        w = self.ns.add(f'{self.tag}W')
        self.cs = hacluster.Corosync(
            {'a': self.p, 'b': self.s, 'w': w}, self.work,
            {'a': self.ns.ifname(f'{self.tag}pl'),
             'b': self.ns.ifname(f'{self.tag}sl')}, log=log)
        self.cs.wire()
        t0 = time.monotonic()
        self.cs.start_cluster()
        log(f'corosync + qdevice quorate with qnetd in '
            f'{time.monotonic() - t0:.1f}s')

    def proxy_wrapper(self, side):
        return self.cs.wrapper('a' if side == 'primary' else 'b')

    def proxy_extra(self, side):
        return ['-object', 'colo-quorum,id=q0,netdev=hn0,failover=on']

    def quorum(self, x):
        return x.qmp.cmd('query-colo-quorum')[0]

    def kill_host_a(self):
        """Host A dies: its links dark first (no goodbye reaches B or W),
        then its QEMU, colo-proxy, corosync and qdevice killed."""
        for dev in self.cs.cluster_links('a') + [self.ns.ifname(
                f'{self.tag}pl')]:
            self.cs.link('a', dev, False)
        t = time.monotonic()
        self.gp.kill()
        self.px.kill()
        for n in ('corosync-a', 'qdevice-a'):
            p = self.cs.procs.get(n)
            if p and p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        return t

    def stop_proxies(self):
        """SIGTERM to every colo-proxy still running: each must exit 0
        without a sanitizer report (make check-asan runs this file)."""
        for x in (self.px, self.sx, getattr(self, 'ax', None)):
            if x and x.proc and x.proc.poll() is None:
                x.stop()

    def stop(self):
        super().stop()
        for g in (getattr(self, 'ga', None),):
            if g:
                g.kill()
        for x in (getattr(self, 'ax', None),):
            if x:
                x.kill()
        if getattr(self, 'qa', None):
            self.qa.close()
        if self.cs:
            self.cs.stop_daemons()


def dump_logs(pair):
    for x, n in ((pair.px, 'primary'), (pair.sx, 'secondary'),
                 (getattr(pair, 'ax', None), 'new secondary')):
        if x:
            try:
                log(f'--- {n} colo-proxy ---\n{x.stderr()[-2500:]}')
            except Exception:       # noqa: BLE001 - diagnostics only
                pass
    if pair.cs:
        for n in ('corosync-a', 'corosync-b', 'qdevice-a', 'qdevice-b',
                  'qnetd'):
            log(f'--- {n} ---\n{pair.cs.logs(n, 1500)}')


def up(pair):
    t0 = time.monotonic()
    dt = pair.start()
    pair.proxies_ready()
    log(f'COLO after {dt:.1f}s from migrate ({time.monotonic() - t0:.1f}s '
        'from launch, corosync included)')
    wait_for(lambda: pair.px.qmp.cmd('query-colo-status').get(
        'output-held') is False, 20, interval=0.1,
        what="the primary's colo-quorum gate open")
    for x, n in ((pair.px, 'A'), (pair.sx, 'B')):
        q = pair.quorum(x)
        log(f'{n}: quorate {q["quorate"]}, members {q.get("members")}, '
            f'held-reason {q.get("held-reason")!r}')
        check(q['quorate'], f'{n} quorate')
    res = http_seq(pair.ns, pair.c, [f'/cgi-bin/page?{k}'
                                     for k in (3, 7, 12)], timeout=60)
    check_pages(res)


def kill_primary_host(pair):
    """Scenario 1; returns the echo client still running."""
    echo = Echo(pair.ns, pair.c)
    time.sleep(1.0)
    take_events(pair.qs, ())
    t = pair.kill_host_a()
    log('host A dead: links down, QEMU, colo-proxy, corosync, qdevice '
        'killed')
    proxy_done, qemu_done = wait_left_colo(pair, t, PROMOTE_BOUND_S, 0.05)
    ev = [(e['event'], e['data'].get('action'), e['data'].get('detail'))
          for e in list(pair.sx.qmp.events)
          if e['event'] == 'COLO_QUORUM_FAILOVER']
    log(f'B: colo-proxy failed over after '
        f'{"%.0f ms" % (proxy_done * 1000) if proxy_done else "-"}, its '
        f'QEMU after {"%.0f ms" % (qemu_done * 1000) if qemu_done else "-"}'
        f'; colo-quorum: {ev}')
    check(proxy_done is not None, 'B colo-proxy promoted')
    check(qemu_done is not None, "B's QEMU failed over by colo-proxy")
    check(any(a == 'deferred' for _, a, _d in ev),
          'the heartbeat failover was deferred while A was a member')
    check(any(a == 'promoted' for _, a, _d in ev), 'promoted with quorum')
    q = pair.quorum(pair.sx)
    check(q['quorate'] and not q['stale'], f'B quorate, not stale: {q}')
    st = pair.sx.qmp.cmd('query-colo-status')
    check_eq((st['mode'], st['last-mode'], st.get('output-held')),
             ('none', 'secondary', False), f'B colo-proxy status {st}')
    wait_for(lambda: pair.qs.cmd('query-status')['status'] == 'running',
             10, what='the promoted VM running')
    return echo, proxy_done


def check_echo(echo, what):
    e = echo.stop()
    worst = e.get('worst')
    log(f'echo {what}: {e["lines"]} lines, error {e["error"]}, worst round '
        f'trip {"%.0f ms" % (worst * 1000) if worst else "?"}, p50 '
        f'{e.get("p50")}')
    check(e['error'] is None, f'echo connection {what}: {e["error"]}')
    check(e['lines'] > 10, f'echo lines {what}: {e["lines"]}')
    check(worst is not None and worst < ECHO_PAUSE_BOUND_S,
          f'echo pause {what}: {worst}')
    return e


def run_reprotect(px, g, run, qemu_name, migrate, on='b', started='a'):
    """Re-protection as Pacemaker triggers it: the OCF agent's notify
    (post-start of the peer's instance STARTED, run on node ON), exactly
    the environment Pacemaker gives it, on the survivor whose colo-proxy
    is px and QEMU g (its operator monitor must be free: QEMU serves one
    client), its colo-frame driver's monitor RUN/QEMU_NAME-drv.qmp, the
    links in RUN.  The agent sees px through its state_dir (the QMP
    socket and the pid file it would have made at start) and runs
    scripts/colo-reprotect.py with the reprotect_args file.  Returns the
    notify's seconds; fails with the agent's log."""
    sd = tmpdir('cqocf')
    os.symlink(px.qmp_path, os.path.join(sd, 'qmp.sock'))
    with open(os.path.join(sd, 'colo-proxy.pid'), 'w') as f:
        f.write(f'{px.proc.pid}\n')
    rargs = os.path.join(sd, 'reprotect.args')
    with open(rargs, 'w') as f:
        f.write('\n'.join([
            '--qemu-qmp', g.qmp_path,
            '--frame-qmp', os.path.join(run, f'{qemu_name}-drv.qmp'),
            '--links', f'unix:{run}', '--migrate', migrate,
            '--checkpoint-delay', str(QUIET_DELAY_MS)] +
            # measurements: e.g. "--filters-at start" (docs/ha.md §6)
            os.environ.get('COLO_HA_REPROTECT_ARGS', '').split()) + '\n')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('OCF_RESKEY_')}
    env.update({f'OCF_RESKEY_{k}': v for k, v in {
        'primary_node': 'a', 'primary_args': '/nonexistent',
        'secondary_args': '/nonexistent', 'state_dir': sd,
        'binary': proxy_binary(), 'reprotect_args': rargs,
        'reprotect_script': os.path.join(source_dir(), 'scripts',
                                         'colo-reprotect.py'),
        'CRM_meta_on_node': on, 'CRM_meta_notify_type': 'post',
        'CRM_meta_notify_operation': 'start',
        'CRM_meta_notify_start_uname': started,
        'CRM_meta_notify_promoted_uname': on}.items()})
    t1 = time.monotonic()
    r = subprocess.run([os.path.join(source_dir(), 'contrib', 'ocf',
                                     'colo-proxy'), 'notify'],
                       env=env, capture_output=True, text=True, timeout=150)
    dt = time.monotonic() - t1
    for line in r.stderr.splitlines():
        log(f'   {line}')
    check(r.returncode == 0, f'the OCF notify (re-protection) failed: rc '
          f'{r.returncode}')
    check('re-protecting' in r.stderr and 'step 6 migrate done' in r.stderr,
          'the notify re-protected')
    return dt


def reprotect_onto(q, px, g, run, qemu_name, new_q, new_run, what, **kw):
    """run_reprotect() from the survivor (colo-proxy px, QEMU g, whose
    operator monitor q this test closes for the agent's script and opens
    again) onto the fresh secondary QEMU whose monitor is new_q and
    sockets new_run, which must reach COLO ('what').  Returns (the
    notify's seconds, g's new monitor)."""
    q.close()
    dt = run_reprotect(px, g, run, qemu_name, f'unix:{new_run}/mig.sock',
                       **kw)
    q = QMPClient(g.qmp_path, timeout=30)
    wait_for(lambda: new_q.cmd('query-colo-status')['mode'] == 'secondary',
             10, interval=0.1, what=what)
    return dt, q


def reprotect(pair):
    """Scenario 5: host A comes back empty; B, running alone, becomes the
    primary of a new pair with a fresh secondary on A
    (scripts/colo-reprotect.py drives B's colo-proxy and QEMU).  Returns
    the script's seconds."""
    t0 = time.monotonic()
    for dev in pair.cs.cluster_links('a') + [pair.ns.ifname(
            f'{pair.tag}pl')]:
        pair.cs.link('a', dev, True)
    pair.cs.start_host('a')
    log(f'host A back: corosync + qdevice, 3 votes after '
        f'{time.monotonic() - t0:.1f}s')
    # the repaired host: a fresh secondary colo-proxy (its links point at
    # B, which serves them once re-protected) and a fresh -incoming QEMU
    pair.arun = arun = tmpdir('cqcoloa')
    aif = pair.ns.ifname(f'{pair.tag}pl')
    pair.ax = ColoProxy(secondary_proxy_args(arun, pair.srun, aif,
                                             pair.vnet,
                                             name='colo-secondary-2')
                        + pair.proxy_extra('secondary'), dir=arun,
                        wrapper=pair.cs.wrapper('a'))
    pair.ga, pair.qa = incoming_secondary(arun, pair.nic, pair.fw)
    dt, pair.qs = reprotect_onto(pair.qs, pair.sx, pair.gs, pair.srun,
                                 'secondary', pair.qa, arun,
                                 "A's new QEMU in COLO")
    st = {n: x.qmp.cmd('query-colo-status')
          for n, x in (('B', pair.sx), ('A', pair.ax))}
    log(f'after re-protection: colo-proxy B {st["B"]}, A {st["A"]}; QEMU B '
        f'{pair.qs.cmd("query-colo-status")}, A '
        f'{pair.qa.cmd("query-colo-status")}')
    check_eq(st['B']['mode'], 'primary', 'B colo-proxy re-protected as primary')
    check_eq(st['A']['mode'], 'secondary', 'A colo-proxy secondary')
    check_eq(pair.qs.cmd('query-colo-status')['mode'], 'primary',
             "B's QEMU a COLO primary")
    return dt


def check_replicated(pair, px, sx):
    """The re-protected pair checkpoints: a miscompare makes the primary
    colo-proxy px request one, its QEMU takes it, the secondary sx loads
    it (and with it sx's colo-quorum is certainly not stale)."""
    n0, st0 = requests(px)
    a0 = sx.qmp.cmd('query-colo-stats')['completed']
    res = http_seq(pair.ns, pair.c, ['/cgi-bin/sched'], timeout=60)
    status, body = split_http(res[0][2])
    check(status.endswith('200 OK'), f'/cgi-bin/sched: {status!r}')
    check_eq(res[0][2].count('HTTP/1.'), 1, 'HTTP responses in the answer')
    wait_for(lambda: requests(px)[1]['completed'] > st0['completed'],
             15, interval=0.05, what='a committed checkpoint on the primary')
    wait_for(lambda: sx.qmp.cmd('query-colo-stats')['completed'] > a0,
             10, interval=0.05, what='a loaded checkpoint on the secondary')
    n1, st1 = requests(px)
    a1 = sx.qmp.cmd('query-colo-stats')['completed']
    log(f'primary colo-proxy requests {st0["requests"]} -> {st1["requests"]}, '
        f'completed {st0["completed"]} -> {st1["completed"]}; secondary loaded '
        f'{a0} -> {a1}')
    check(st1['requests'].get('miscompare', 0) >
          st0['requests'].get('miscompare', 0),
          'the primary requested a checkpoint for the miscompare')
    qa, qb = pair.quorum(sx), pair.quorum(px)
    log(f'colo-quorum secondary: epoch {qa["epoch"]}, stale {qa["stale"]}, '
        f'reprotected {qa["reprotected"]}, held-reason '
        f'{qa.get("held-reason")!r}; primary: epoch {qb["epoch"]}, output-held '
        f'{qb["output-held"]}')
    check(not qa['stale'], f'secondary not stale after a loaded checkpoint: {qa}')
    check(not qb['output-held'] and qb['quorate'], f'the primary serves: {qb}')
    check_eq(qa['epoch'], qb['epoch'], 'one epoch for the new pair')
    res = http_seq(pair.ns, pair.c, [f'/cgi-bin/page?{k}'
                                     for k in (4, 11)], timeout=60)
    check_pages(res)


@contextlib.contextmanager
def ha_pair(tag):
    """An HAPair named 'tag', up (up()) inside its namespaces; on the way
    out its logs when the body failed, then everything stopped."""
    qemu, fw = need_ha_pair()
    with NetNS() as ns:
        pair = HAPair(ns, tag, 'e1000', False, qemu, fw)
        ok = False
        try:
            up(pair)
            yield pair
            ok = True
        finally:
            if not ok:
                dump_logs(pair)
            pair.stop()


def test_qemu_kill_primary_host():
    with ha_pair('H') as pair:
        echo, dt = kill_primary_host(pair)
        time.sleep(2.0)
        res = http_seq(pair.ns, pair.c, [f'/cgi-bin/page?{k}'
                                         for k in (5, 9, 17)],
                       timeout=60)
        check_pages(res)
        # scenario 5: the echo connection from before the failover
        # stays open across the re-protection; a second one, opened
        # after the failover, measures the re-protection's pause
        echo2 = Echo(pair.ns, pair.c)
        time.sleep(0.5)
        rdt = reprotect(pair)
        time.sleep(1.0)
        check_replicated(pair, pair.sx, pair.ax)
        e2 = check_echo(echo2, 'across the re-protection')
        e = check_echo(echo, 'across the failover and the '
                       're-protection')
        log(f'RESULT promote_ms={dt * 1000:.0f} '
            f'echo_worst_ms={e["worst"] * 1000:.0f} '
            f'reprotect_s={rdt:.1f} '
            f'reprotect_echo_worst_ms={e2["worst"] * 1000:.0f}')
        pair.stop_proxies()


def test_qemu_partition_loser_reprotected():
    """Item 3 of issue 14 §"after the partition heals": the A-B link only
    is cut (both hosts reach W).  qnetd's tie-breaker gives A the vote: A
    (quorate, B gone from the membership) fails over and runs alone; B is
    not quorate and holds.  The link heals: B hears that A ran alone and
    is stale -- it stays a secondary, holds, never promotes: the
    candidate for re-protection.  Its QEMU is replaced by a fresh
    -incoming one (B's colo-proxy keeps running: its driver and links
    reconnect), colo-reprotect.py re-protects from A (a former primary),
    and B's first loaded checkpoint clears its stale mark by itself."""
    with ha_pair('J') as pair:
        echo = Echo(pair.ns, pair.c)
        time.sleep(1.0)
        t = time.monotonic()
        pair.cs.link('a', 'ab-a', False)
        log('A-B link cut (corosync ring only; both reach W)')
        wait_for(lambda: pair.px.qmp.cmd('query-colo-status')['mode'] ==
                 'none', PROMOTE_BOUND_S, interval=0.05,
                 what='A running alone')
        log(f'A runs alone {time.monotonic() - t:.1f}s after the cut')
        qb = pair.quorum(pair.sx)
        st = pair.sx.qmp.cmd('query-colo-status')
        log(f'B: {st}; held-reason {qb.get("held-reason")!r}, refused '
            f'{qb["refused"]}')
        check(st['mode'] == 'secondary' and st['output-held'],
              f'B a secondary holding its output: {st}')
        passed = qb['passed']
        t_heal = time.monotonic()
        pair.cs.link('a', 'ab-a', True)
        wait_for(lambda: pair.quorum(pair.sx)['stale'], 20,
                 interval=0.1, what='B stale after the heal')
        log(f'link healed: B stale after '
            f'{time.monotonic() - t_heal:.1f}s')
        time.sleep(2.0)
        qb = pair.quorum(pair.sx)
        st = pair.sx.qmp.cmd('query-colo-status')
        log(f'B after the heal: {st}; quorate {qb["quorate"]}, stale '
            f'{qb["stale"]}, held-reason {qb.get("held-reason")!r}, '
            f'frames passed {passed} -> {qb["passed"]}')
        check(st['mode'] == 'secondary' and st['output-held'] and
              qb['quorate'] and qb['stale'],
              'B: quorate again but stale: a held secondary, never a '
              'second primary')
        check_eq(qb['passed'], passed, 'B frames passed after the cut')
        # the candidate is re-protected: a fresh -incoming QEMU on B
        # (same sockets: B's colo-proxy and its driver reconnect)
        pair.qs.close()
        pair.gs.kill()
        pair.gs, pair.qs = incoming_secondary(pair.srun, pair.nic,
                                              pair.fw)
        rdt, pair.qp = reprotect_onto(pair.qp, pair.px, pair.gp,
                                      pair.prun, 'primary', pair.qs,
                                      pair.srun, "B's new QEMU in COLO",
                                      on='a', started='b')
        time.sleep(1.0)
        check_replicated(pair, pair.px, pair.sx)
        qb = pair.quorum(pair.sx)
        check_eq(qb['reprotected'], 1, 'B re-protected by a checkpoint')
        e = check_echo(echo, 'across the cut, the heal and the '
                       're-protection')
        log(f'RESULT partition_reprotect_s={rdt:.1f} '
            f'echo_worst_ms={e["worst"] * 1000:.0f}')
        pair.stop_proxies()


if __name__ == '__main__':
    # the QEMU may be built first (scripts/build-colo-qemu.sh, ~7 min)
    run_tests([test_qemu_kill_primary_host,
               test_qemu_partition_loser_reprotected], timeout=1200)
