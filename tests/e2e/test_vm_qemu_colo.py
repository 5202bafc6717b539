#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_vm_qemu_colo - real COLO, end to end: two QEMU VMs replicated,
checkpointed and failed over through two colo-proxies (issue 12).

The QEMU is 10.0.2 from Debian's source with the project's two fixes
(scripts/build-colo-qemu.sh, cached in /var/cache/colo-proxy); the guests
are the tiny ones of tests/vm/.  Every box below is a network namespace;
the QEMUs, whose NICs are `-netdev stream` unix sockets, run outside them:

  ns C: client 10.91.0.1 ==veth== ns L: bridge br0 ==veth== ns P: primary colo-proxy
                                            ||                 -netdev af-packet (pl)
                                            ||                 m0 mirror, redire0/1,
                                            ||                 colo-compare comp0,
                                            ||                 colo-frame primary driver=qemu,
                                            ||                 colo-heartbeat (server)
                                            ||                 -device stream <- primary QEMU
                                            ==veth== ns S: secondary colo-proxy
                                                       -netdev af-packet (sl)
                                                       f1/f2 redirectors, rew0 rewriter,
                                                       colo-frame secondary driver=qemu,
                                                       colo-heartbeat failover=on
                                                       -device stream <- secondary QEMU
                                                                         (-incoming)

QMP as QEMU 10 wants it: `x-colo` and `events` on BOTH QEMUs, `migrate`
over a unix socket, `query-migrate` polled until `colo`.  Each QEMU has two
monitors: one for this test (the operator), one for colo-proxy's driver.

The checks of issue 12, each reported as its own PASS/FAIL line:

  1 COLO reached (query-migrate "colo"; "completed" means this QEMU cannot
    do COLO)
  2 identical traffic (200 CGI requests, every body checked, and a
    long-lived echo connection) -> 0 checkpoint requests from colo-proxy
  3 a reply that differs per VM (/cgi-bin/sched: /proc/schedstat) -> a
    checkpoint requested by colo-proxy and committed by QEMU; the client
    gets one reply, the primary's
  4 QEMU's periodic checkpoints (x-checkpoint-delay 2000) during 200
    sequential requests: none slower than 500 ms
  5 kill -9 of the primary QEMU and its colo-proxy: the secondary
    colo-proxy fails over its filters and its QEMU by itself; the echo
    connection survives byte-exact with every round trip under 1 s; the
    secondary guest's console shows no oops/BUG/panic
  6 kill of the secondary host: the primary keeps serving, no stall over 1 s

Scenario e1000 (no vnet headers) runs 1-5; scenario virtio-net-pci with
vnet_hdr_support=on on every COLO link runs 1, 2, 3 and 6.  A check that
fails does not stop the next ones (the failure is reported at the end).

`python3 test_vm_qemu_colo.py --print-cmdlines` prints the command lines
(docs/qemu.md shows them).  Needs root, namespaces, the built QEMU: in CI a
missing QEMU fails the test, elsewhere it is one SKIP line.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'vm'))

# the harness (topology, command lines, Pair, Echo, HTTP client, QEMU
# lookup) is tests/vm/colopair.py, shared with `make demo` and the bench;
# the checks are here
from colopair import *         # noqa: E402,F401,F403

N_IDENTICAL = 200          # check 2
N_PERIODIC = 200           # check 4
SLOW_MS = 500              # check 4: no request slower than this
PERIODIC_GAP = 0.05        # check 4: seconds between two requests
STALL_MS = 1000            # checks 5 and 6


# --------------------------------------------------------------------------
# the checks

def check_identical(pair):
    """2: identical traffic, 0 checkpoint requests from colo-proxy."""
    n0, st0 = requests(pair.px)
    # the mirror's counters run from colo-proxy's start: a LAN frame that
    # came before the primary QEMU connected its netdev had no reader to
    # wait for (counted at once); this check is about the traffic below
    m_before = mirror_stats(pair)
    echo = Echo(pair.ns, pair.c)
    paths = [f'/cgi-bin/page?{1 + k % 60}' for k in range(N_IDENTICAL)]
    t0 = time.monotonic()
    res = http_seq(pair.ns, pair.c, paths)
    dt = time.monotonic() - t0
    e = echo.stop()
    times = check_pages(res)
    log(f'{len(res)} CGI requests in {dt:.1f}s (max '
        f'{max(times) * 1000:.0f} ms), every body right; echo: {e}')
    check(e['error'] is None and e['lines'] > 0, f'echo connection: {e}')
    n1, st1 = requests(pair.px)
    cs = pair.px.qmp.cmd('query-colo-compare-stats', id='comp0')[0]
    log(f'colo-proxy checkpoint requests {st0["requests"]} -> '
        f'{st1["requests"]}; compare matched {cs["matched"]}, '
        f'mismatched {cs["mismatched"]}')
    if n1 != n0:
        # what colo-proxy said about them (for the defect report)
        drain(pair.px.qmp)
        evs = [e for e in pair.px.qmp.events
               if 'CHECKPOINT' in e['event'] or 'MISCOMPARE' in e['event']]
        log('colo-proxy events: ' + '; '.join(
            f'{e["event"]} {json.dumps(e.get("data"))}' for e in evs[:8]))
        slow = sorted(((t, i) for i, t in enumerate(times) if t > 0.5),
                      reverse=True)
        ports = [r[3] for r in res]
        log('requests slower than 500 ms (index, ms, client port, earlier '
            'requests from that port): ' + str(
                [(i, round(t * 1000), ports[i], ports[:i].count(ports[i]))
                 for t, i in slow]))
    check_eq(n1 - n0, 0, 'checkpoint requests from colo-proxy during '
             'identical traffic')
    # the mirror's copies waited for the real QEMU to read each frame
    # (copy-on-read, docs/filters.md): every one, none sent unread
    m0 = mirror_stats(pair)
    w = m0.get('read-wait') or {}
    le = {b['le-us']: b['count'] for b in w.get('buckets', [])}
    log(f'filter-mirror m0: {m0.get("copies-after-read")} copies after '
        f'the primary QEMU read their frames, {m0.get("copies-at-once")} '
        f'at once, longest wait {m0.get("read-wait-max-us")} us; '
        f'{w.get("count")} releases, mean wait '
        f'{w.get("sum-us", 0) / max(w.get("count", 0), 1):.0f} us, '
        f'{le.get(100)} within 100 us, {le.get(250)} within 250 us, '
        f'{le.get(1000)} within 1 ms')
    d = {k: m0.get(k, 0) - m_before.get(k, 0) for k in (
        'copies-after-read', 'copies-at-once', 'copy-on-read-overflows',
        'copies-unread')}
    log(f'filter-mirror m0 during the traffic: {d} (before it: '
        f'{m_before.get("copies-at-once")} at once)')
    check(d['copies-after-read'] >= N_IDENTICAL, f'copies after read: {d}')
    check_eq((d['copies-at-once'], d['copy-on-read-overflows'],
              d['copies-unread']), (0, 0, 0),
             'mirror copies sent at once / overflows / unread')


def mirror_stats(pair):
    return [f for f in pair.px.qmp.cmd('query-netfilter-stats')
            if f.get('id') == 'm0'][0]


def check_miscompare(pair):
    """3: a per-VM reply: checkpoint requested and committed, the client
    gets the primary's reply once."""
    n0, st0 = requests(pair.px)
    sec0 = pair.sx.qmp.cmd('query-colo-stats')['completed']
    take_events(pair.qp, ())
    res = http_seq(pair.ns, pair.c, ['/cgi-bin/sched'])
    path, dt, raw = res[0][:3]
    status, body = split_http(raw)
    check(status.endswith('200 OK'), f'/cgi-bin/sched: {status!r}')
    check(body.count('version ') == 1 and 'timestamp' in body,
          f'one schedstat in the answer: {body[:300]!r}')
    check_eq(raw.count('HTTP/1.'), 1, 'HTTP responses in the answer')
    wait_for(lambda: requests(pair.px)[1]['completed'] > st0['completed'],
             10, interval=0.05, what='a committed checkpoint')
    n1, st1 = requests(pair.px)
    ev = take_events(pair.qp, ('STOP', 'RESUME'))
    log(f'/cgi-bin/sched answered in {dt * 1000:.0f} ms; colo-proxy '
        f'requests {st0["requests"]} -> {st1["requests"]}, completed '
        f'{st0["completed"]} -> {st1["completed"]}; primary QEMU events '
        f'{[e["event"] for e in ev]}')
    time.sleep(0.2)
    log(f'secondary colo-proxy: loaded checkpoints counted {sec0} -> '
        f'{pair.sx.qmp.cmd("query-colo-stats")["completed"]}')
    check(st1['requests'].get('miscompare', 0) >
          st0['requests'].get('miscompare', 0),
          'colo-proxy requested a checkpoint for the miscompare')
    check('STOP' in [e['event'] for e in ev] and
          'RESUME' in [e['event'] for e in ev],
          'the primary QEMU took the checkpoint (STOP, RESUME)')
    # the primary's reply: two VMs answered, the client's answer is not
    # the secondary's (its guest's output, dumped on the secondary host)
    # (filter-dump flushes its file once a second)
    def secondary_answer():
        sec = tcp_payload_from(os.path.join(pair.srun, 'secondary-out.pcap'),
                               80).decode('latin-1')
        return re.findall(r'^cpu0 .*$', sec, re.M)
    mine = re.search(r'^cpu0 .*$', body, re.M)
    end = time.monotonic() + 3
    while not secondary_answer() and time.monotonic() < end:
        time.sleep(0.1)
    theirs = secondary_answer()
    log(f'client got {mine.group(0) if mine else None!r}; the secondary '
        f'VM answered {theirs[-1] if theirs else None!r}')
    check(mine and theirs, 'cpu0 lines in both VMs\' answers')
    check(mine.group(0) != theirs[-1], 'the client got the primary\'s '
          'answer, not the secondary\'s')


def check_periodic(pair):
    """4: x-checkpoint-delay 2000 during 200 sequential requests: none
    slower than 500 ms (nor any echo round trip), and no compare_timeout
    checkpoint request."""
    n0, st0 = requests(pair.px)
    take_events(pair.qp, ())
    # the echo connection beside the requests keeps output in flight at
    # most instants, so that periodic checkpoints do meet held output
    echo = Echo(pair.ns, pair.c)
    pair.qp.cmd('migrate-set-parameters', {'x-checkpoint-delay': 2000})
    paths = [f'/cgi-bin/page?{1 + k % 20}' for k in range(N_PERIODIC)]
    t0 = time.monotonic()
    # 50 ms apart: the 200 requests span several periodic checkpoints
    res = http_seq(pair.ns, pair.c, paths, gap=PERIODIC_GAP)
    dt = time.monotonic() - t0
    pair.qp.cmd('migrate-set-parameters',
                {'x-checkpoint-delay': QUIET_DELAY_MS})
    e = echo.stop()
    times = check_pages(res)
    ev = take_events(pair.qp, ('RESUME',))
    n1, st1 = requests(pair.px)
    slow = sorted(((t, i) for i, t in enumerate(times)
                   if t * 1000 > SLOW_MS), reverse=True)
    srt = sorted(times)
    log(f'{len(times)} requests in {dt:.1f}s with ~{len(ev)} QEMU '
        f'checkpoints: p50 {srt[len(srt) // 2] * 1000:.0f} ms, p99 '
        f'{srt[int(len(srt) * 0.99)] * 1000:.0f} ms, max '
        f'{srt[-1] * 1000:.0f} ms; slower than {SLOW_MS} ms: '
        f'{[(i, round(t * 1000)) for t, i in slow]}; colo-proxy requests '
        f'{st0["requests"]} -> {st1["requests"]}')
    worst = e.get('worst')
    log(f'echo beside them: {e["lines"]} lines, error {e["error"]}, worst '
        f'round trip {"%.0f ms" % (worst * 1000) if worst else "?"}')
    problems = []
    if slow:
        problems.append(f'{len(slow)} of {len(times)} requests slower than '
                        f'{SLOW_MS} ms (worst {srt[-1] * 1000:.0f} ms)')
    if e['error']:
        problems.append(f'echo connection: {e["error"]}')
    elif worst is None or worst * 1000 > SLOW_MS:
        problems.append(f'echo round trip of {worst * 1000:.0f} ms')
    # the traffic is identical: a 'timeout' request means primary output
    # waited compare_timeout for a counterpart the secondary, a copy of
    # the primary since the last checkpoint, will never send -- the stall
    # itself, even when no client happened to wait for that output
    tmo = st1['requests'].get('timeout', 0) - st0['requests'].get('timeout', 0)
    if tmo:
        problems.append(f'{tmo} checkpoint requests for compare_timeout '
                        f'(held output not released at a checkpoint)')
    check(not problems, '; '.join(problems))


def check_failover_primary_dies(pair):
    """5: kill -9 the primary QEMU and its colo-proxy: the secondary
    colo-proxy fails over its filters and its QEMU by itself."""
    echo = Echo(pair.ns, pair.c)
    time.sleep(1.0)
    take_events(pair.qs, ())
    t_kill = time.monotonic()
    pair.gp.kill()
    pair.px.kill()
    log('primary QEMU and colo-proxy killed (SIGKILL)')
    problems = []
    proxy_done, qemu_done = wait_left_colo(pair, t_kill, 3, 0.02)
    log(f'secondary colo-proxy failed over: '
        f'{"%.0f ms" % (proxy_done * 1000) if proxy_done else "no"}; '
        f'secondary QEMU left COLO: '
        f'{"%.0f ms" % (qemu_done * 1000) if qemu_done else "no"} '
        f'(within 3 s of the kill, nothing sent by the test)')
    if not proxy_done:
        problems.append('the secondary colo-proxy did not fail over')
    if not qemu_done:
        problems.append('the secondary colo-proxy did not fail its QEMU '
                        'over (query-colo-status of the secondary QEMU '
                        f'still {pair.qs.cmd("query-colo-status")})')
        # finish the failover by hand so that the rest is still measured
        pair.qs.cmd('x-colo-lost-heartbeat')
        pair.qs.cmd('announce-self', {'initial': 50, 'max': 550,
                                      'rounds': 5, 'step': 100})
        log('test sent x-colo-lost-heartbeat and announce-self to the '
            'secondary QEMU itself')
    ev = take_events(pair.qs, ('COLO_EXIT', 'STOP', 'RESUME'))
    log(f'secondary QEMU events: {[(e["event"], e.get("data")) for e in ev]}')
    wait_for(lambda: pair.qs.cmd('query-status')['status'] == 'running',
             10, what='the secondary VM running')
    time.sleep(2.0)
    e = echo.stop()
    worst = e.get('worst')
    log(f'echo across failover: {e["lines"]} lines, error {e["error"]}, '
        f'worst round trip '
        f'{"%.0f ms" % (worst * 1000) if worst is not None else "?"} '
        f'(at {e.get("worst_at")}s; kill at '
        f'{t_kill - echo.t0:.2f}s), p50 {e.get("p50")}')
    if e['error']:
        problems.append(f'echo connection: {e["error"]}')
    elif worst is None or worst * 1000 >= STALL_MS:
        problems.append(f'worst echo round trip {worst * 1000:.0f} ms '
                        f'(>= {STALL_MS} ms)')
    res = http_seq(pair.ns, pair.c, ['/cgi-bin/page?3'], timeout=60)
    try:
        check_pages(res)
    except TestFailure as x:
        problems.append(f'after failover: {x}')
    # the promoted guest writes a marker to its console: the serial log
    # read for oopses is then known to be that guest's console, live
    token = f'failover{os.getpid()}'
    res = http_seq(pair.ns, pair.c, [f'/cgi-bin/console?{token}'],
                   timeout=30)
    try:
        wait_for(lambda: f'COLO-CONSOLE {token}' in pair.gs.console(), 10,
                 what="the promoted guest's console marker in its serial log")
    except TestFailure as x:
        problems.append(f'{x} (HTTP answer: {res})')
    bad = oopses(pair.gs.console())
    log(f'secondary serial log: {len(pair.gs.console())} bytes, marker '
        f'{"seen" if token in pair.gs.console() else "MISSING"}, '
        f'oops/BUG/panic lines: {bad[:5]}')
    if bad:
        problems.append(f'secondary guest console: {bad[:3]}')
    check(not problems, '; '.join(problems))


def check_secondary_dies(pair):
    """6: kill the secondary host: the primary keeps serving, no stall
    over 1 s."""
    echo = Echo(pair.ns, pair.c)
    time.sleep(1.0)
    take_events(pair.qp, ())
    t_kill = time.monotonic()
    pair.gs.kill()
    pair.sx.kill()
    log('secondary QEMU and colo-proxy killed (SIGKILL)')
    paths = [f'/cgi-bin/page?{1 + k % 20}' for k in range(60)]
    res = http_seq(pair.ns, pair.c, paths)
    times = check_pages(res)
    e = echo.stop()
    end = t_kill + 3   # the primary QEMU: out of COLO within 3 s
    while time.monotonic() < end and \
            pair.qp.cmd('query-colo-status')['mode'] != 'none':
        time.sleep(0.05)
    px = pair.px.qmp.cmd('query-colo-status')
    qp = pair.qp.cmd('query-colo-status')
    ev = take_events(pair.qp, ('COLO_EXIT', 'STOP', 'RESUME'))
    worst = e.get('worst')
    log(f'after the kill: {len(times)} requests, max '
        f'{max(times) * 1000:.0f} ms; echo {e["lines"]} lines, error '
        f'{e["error"]}, worst '
        f'{"%.0f ms" % (worst * 1000) if worst is not None else "?"}; '
        f'primary colo-proxy {px}; primary QEMU {qp}, events '
        f'{[(x["event"], x.get("data")) for x in ev]}')
    problems = []
    if e['error']:
        problems.append(f'echo connection: {e["error"]}')
    elif worst is None or worst * 1000 >= STALL_MS:
        problems.append(f'worst echo round trip {worst * 1000:.0f} ms')
    if max(times) * 1000 >= STALL_MS:
        problems.append(f'slowest request {max(times) * 1000:.0f} ms')
    if px['mode'] != 'none':
        problems.append(f'primary colo-proxy still in COLO: {px}')
    if qp['mode'] != 'none':
        problems.append(f'primary QEMU still in COLO: {qp}')
    check(not problems, '; '.join(problems))


def scenario(tag, nic, vnet, checks):
    qemu, fw = need_real_pair()
    name = f'{nic}{" vnet" if vnet else ""}'
    ck = Checks(name)
    with NetNS() as ns:
        pair = Pair(ns, tag, nic, vnet, qemu, fw)
        try:
            def reached():
                dt = pair.start()
                log(f'COLO after {dt:.1f}s from migrate '
                    f'({time.monotonic() - t_launch:.1f}s from launch)')
                pair.proxies_ready()
            t_launch = time.monotonic()
            if not ck.run('1 COLO reached', reached):
                ck.finish()
            for name_, fn in checks:
                ck.run(name_, fn, pair)
        finally:
            pair.stop()
    ck.finish()


def stock_qemu():
    """(binary, firmware dir, module dir) of the stock bookworm-backports
    10.0.2 (scripts/build-colo-qemu.sh --stock)."""
    script = os.path.join(source_dir(), 'scripts', 'build-colo-qemu.sh')
    r = subprocess.run([script, '--stock'], capture_output=True, text=True)
    if r.returncode != 0:
        why = (r.stderr.strip().splitlines() or ['no stock QEMU 10'])[-1]
        if in_ci():
            raise TestFailure(why)
        raise Skip(why)
    lines = r.stdout.strip().split('\n')
    return (lines[0].strip(), lines[1].split(None, 1)[1].strip(),
            lines[2].split('=', 1)[1].strip())


def driver_reports(px, since):
    """What the primary colo-proxy said about a migration that did not
    enter COLO: its warnings (stderr lines after offset 'since' from the
    qemu driver or the frame that name the completion or COLO) and its QMP
    events that mention 'completed'."""
    said = [ln for ln in px.stderr()[since:].splitlines()
            if re.search(r'warning|critical|error', ln, re.I) and
            re.search(r'complet|COLO', ln)]
    drain(px.qmp)
    evs = [e for e in px.qmp.events if 'complet' in json.dumps(e)]
    return said, evs


def test_qemu_without_colo_reported():
    """Check 1, the other half: the stock 10.0.2 (bug (c)) completes the
    migration instead of entering COLO; colo-proxy must say so (a warning
    in its log or an event), not stay silent."""
    need_root()
    need_netns()
    need_types('colo-frame', 'colo-heartbeat', 'colo-compare')
    qemu, fw, moddir = stock_qemu()
    os.environ['QEMU_MODULE_DIR'] = moddir
    need_guest()
    with NetNS() as ns:
        pair = Pair(ns, 'n', 'e1000', False, qemu, fw)
        pair.expect_completed = True
        try:
            dt = pair.start()
            since = len(pair.px.stderr())
            check_eq(pair.final_status, 'completed',
                     'the stock QEMU 10.0.2\'s migration status')
            log(f'stock QEMU: migration completed {dt:.1f}s after migrate '
                f'(no COLO: bug (c))')
            end = time.monotonic() + 5
            said, evs = driver_reports(pair.px, 0)
            while not (said or evs) and time.monotonic() < end:
                time.sleep(0.2)
                said, evs = driver_reports(pair.px, 0)
            st = pair.px.qmp.cmd('query-colo-status')
            log(f'primary colo-proxy: query-colo-status {st}; warnings '
                f'{said[:3]}; events {evs[:3]}')
            check(said or evs, 'colo-proxy said nothing about a QEMU that '
                  'completed the migration instead of entering COLO (no '
                  'warning naming it in its log, no event mentioning '
                  '"completed")')
        finally:
            pair.stop()
            os.environ.pop('QEMU_MODULE_DIR', None)


def test_real_colo_e1000():
    scenario('r', 'e1000', False, [
        ('2 identical traffic, no checkpoint', check_identical),
        ('3 per-VM reply, one checkpoint', check_miscompare),
        ('4 periodic checkpoints, no slow request', check_periodic),
        ('5 primary dies, automatic failover', check_failover_primary_dies)])


def test_real_colo_virtio_vnet():
    scenario('v', 'virtio-net-pci', True, [
        ('2 identical traffic, no checkpoint', check_identical),
        ('3 per-VM reply, one checkpoint', check_miscompare),
        ('6 secondary dies, primary serves', check_secondary_dies)])


# --------------------------------------------------------------------------

def print_cmdlines(nic='e1000', vnet=False):
    """The command lines with placeholders: $PRUN/$SRUN the working
    directories, $PIF/$SIF the two hosts' LAN interfaces, $GUEST the built
    guest, $QEMU_FW the firmware directory build-colo-qemu.sh printed."""
    def qemu_argv(name, run):
        g = guest(name, run, nic, '$QEMU_FW')
        g.accel = 'tcg'
        a = g.qemu_args('$GUEST')
        a[0] = '$QEMU'
        return a
    print_pair_cmdlines(
        lambda pr: primary_proxy_args(pr, '$PIF', vnet),
        lambda sr, pr: secondary_proxy_args(sr, pr, '$SIF', vnet),
        qemu_argv)
    print('\n# QMP, in this order (operator monitors primary.qmp, '
          'secondary.qmp)')
    for side, cmd, args in COLO_START:
        a = json.dumps({'execute': cmd, 'arguments': args})
        print(f'{side}: {a}')
    print('primary: {"execute": "query-migrate"}   # until "status": "colo"')


if __name__ == '__main__':
    if '--print-cmdlines' in sys.argv:
        print_cmdlines()
        sys.exit(0)
    if '--print-cmdlines-virtio-vnet' in sys.argv:
        print_cmdlines('virtio-net-pci', True)
        sys.exit(0)
    run_tests([test_real_colo_e1000, test_real_colo_virtio_vnet,
               test_qemu_without_colo_reported], timeout=900)
