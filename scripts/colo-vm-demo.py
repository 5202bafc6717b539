#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""colo-vm-demo.py - `make demo`: a real COLO pair, live.

    colo-vm-demo.py --build BUILDDIR [--short] [-v]

Two QEMU VMs (the tiny guests of tests/vm/) replicated by QEMU's COLO
(the patched QEMU 10.0.2 of scripts/build-colo-qemu.sh, built once and
cached), their NICs in two colo-proxies, one per "host", each host a
network namespace, a client on a LAN bridge.  The harness is
tests/vm/colopair.py, the one tests/e2e/test_vm_qemu_colo.py checks.

Steps, each printed as it runs:

  0  the QEMU and the guest (built once, then cached)
  1  both VMs and both colo-proxies; COLO reached (QEMU's query-migrate)
  2  identical traffic: CGI requests (every body checked) and a long-lived
     echo connection, with colo-proxy's counters polled over QMP: packets
     compared, matched and released; checkpoint requests (none expected)
  3  a reply that differs per VM (/cgi-bin/sched): colo-proxy's miscompare,
     its checkpoint request, QEMU's checkpoint (downtime = STOP to RESUME,
     from QEMU's own events); the client gets the primary's reply
  4  QEMU's own periodic checkpoints (x-checkpoint-delay 2000) under
     requests: each checkpoint's downtime, the requests' latency
  5  the primary host dies (kill -9 of its QEMU and its colo-proxy) while
     an echo connection, a slow HTTP download and sequential requests run:
     the secondary colo-proxy fails over itself and its QEMU, by itself;
     every byte the client gets is checked
  6  the latency COLO adds: the same requests on the survivor, alone
  7  a summary

--short: fewer requests (about 1 minute less).  -v: the command lines.
Needs root (namespaces, veths, a bridge, AF_PACKET), iproute2, ethtool.
Accelerator: KVM when it can boot the guest, else TCG (tests/vm/vmguest.py).
Exit status 0: every step held; 1: a step failed (it says which and why);
130: interrupted.  Everything it started is removed on every exit: its
namespaces (cq<PID>*), its QEMUs and its colo-proxies, nothing else.
"""

import argparse
import os
import re
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'vm'))

import colopair as cp          # noqa: E402
import vmguest                 # noqa: E402


class StepFailed(Exception):
    pass


def say(*a):
    print(*a, flush=True)


def ms(x):
    return f'{x * 1000:.0f} ms' if x is not None else '?'


class Demo:
    def __init__(self, args):
        self.args = args
        self.short = args.short
        self.summary = []
        self.pair = None

    # ------------------------------------------------------------ helpers

    def counters(self):
        px = self.pair.px.qmp
        cs = px.cmd('query-colo-compare-stats', id='comp0')[0]
        st = px.cmd('query-colo-stats')
        mis = cs['mismatched']
        mis = sum(mis.values()) if isinstance(mis, dict) else mis
        return {'p': cs['primary']['packets'],
                's': cs['secondary']['packets'],
                'matched': cs['matched'], 'released': cs['released'],
                'mis': mis, 'req': sum(st['requests'].values()),
                'reqs': st['requests'], 'done': st['completed'],
                'qemu': st.get('unrequested', 0)}

    def show_counters(self, prefix):
        c = self.counters()
        say(f'   {prefix}compared: primary {c["p"]} / secondary {c["s"]} '
            f'packets, matched {c["matched"]}, released {c["released"]}, '
            f'mismatched {c["mis"]} | checkpoints: {c["req"]} requested by '
            f'colo-proxy, {c["done"]} committed')
        return c

    def pages(self, n, start=0):
        return [f'/cgi-bin/page?{1 + (start + k) % 40}' for k in range(n)]

    # -------------------------------------------------------------- steps

    def step0(self):
        qemu, fw = cp.colo_qemu()
        self.qemu, self.fw = qemu, fw
        os.environ['QEMU'] = qemu
        say(f'   QEMU: {qemu}')
        gdir = vmguest.guest_dir(log=lambda *a: say('  ', *a))
        say(f'   guest: {gdir}')
        self.accel = vmguest.accel(log=lambda *a: say('  ', *a))
        say(f'   accelerator: {self.accel}'
            + (' (KVM cannot boot the guest here)'
               if self.accel == 'tcg' else ''))

    def step1(self):
        self.pair = cp.Pair(self.ns, 'd', 'e1000', False, self.qemu,
                            self.fw)
        t0 = time.monotonic()
        dt = self.pair.start()
        self.pair.proxies_ready()
        p = self.pair
        say(f'   namespaces: client {p.c}, LAN {p.lan}, primary host {p.p}, '
            f'secondary host {p.s}')
        say(f'   COLO reached {dt:.1f} s after migrate '
            f'({time.monotonic() - t0:.1f} s after launch); query-migrate: '
            f'{p.qp.cmd("query-migrate")["status"]}, secondary QEMU '
            f'{p.qs.cmd("query-colo-status")["mode"]}; colo-proxies: '
            f'{p.px.qmp.cmd("query-colo-status")["mode"]} / '
            f'{p.sx.qmp.cmd("query-colo-status")["mode"]}')
        if self.args.verbose:
            say('   primary colo-proxy: ' + ' '.join(p.px.cmdline()))
            say('   secondary colo-proxy: ' + ' '.join(p.sx.cmdline()))
            say('   primary QEMU: ' + ' '.join(p.gp.qemu_args(
                vmguest.guest_dir())))
        self.summary.append(f'COLO reached {dt:.1f} s after migrate '
                            f'({self.accel})')

    def step2(self):
        p = self.pair
        c0 = self.counters()
        echo = cp.Echo(p.ns, p.c, period=0.05)
        rounds, per = (5, 20) if self.short else (10, 20)
        times = []
        t0 = time.monotonic()
        for r in range(rounds):
            res = cp.http_seq(p.ns, p.c, self.pages(per, r * per))
            times += cp.check_pages(res)
            say(f'   {len(times):4d} requests, every body right, p50 '
                f'{ms(cp.pct(times, .5))}, max {ms(max(times))}')
            self.show_counters('     ')
        e = echo.stop()
        c1 = self.counters()
        if e['error'] or e['lines'] <= 0:
            raise StepFailed(f'echo connection: {e["error"]}')
        say(f'   echo: {e["lines"]} lines echoed byte-exact, round trip p50 '
            f'{ms(e["p50"])}, worst {ms(e["worst"])}')
        if c1['req'] != c0['req']:
            raise StepFailed(f'identical traffic caused {c1["req"] - c0["req"]}'
                             f' checkpoint requests ({c1["reqs"]})')
        say(f'   {len(times)} requests in {time.monotonic() - t0:.1f} s, '
            f'{c1["matched"] - c0["matched"]} packets matched, 0 checkpoint '
            f'requests: identical output needs no checkpoint')
        self.colo_p50 = cp.pct(times, .5)
        self.summary.append(
            f'identical traffic: {len(times)} requests + {e["lines"]} echo '
            f'lines, {c1["matched"] - c0["matched"]} packets matched, '
            f'0 checkpoints; request p50 {ms(cp.pct(times, .5))}')

    def step3(self):
        p = self.pair
        c0 = self.counters()
        cp.take_events(p.qp, ())
        cp.drain(p.px.qmp)
        p.px.qmp.events.clear()
        res = cp.http_seq(p.ns, p.c, ['/cgi-bin/sched'])
        _path, dt, raw = res[0][:3]
        status, body = cp.split_http(raw)
        if not status.endswith('200 OK') or raw.count('HTTP/1.') != 1:
            raise StepFailed(f'/cgi-bin/sched answered {raw[:200]!r}')
        cp.wait_for(lambda: self.counters()['done'] > c0['done'], 10,
                    interval=0.05, what='a committed checkpoint')
        c1 = self.counters()
        time.sleep(0.3)
        ev = cp.take_events(p.qp, ('STOP', 'RESUME'))
        cp.drain(p.px.qmp)
        pev = [e for e in p.px.qmp.events
               if e['event'] in ('COLO_COMPARE_MISCOMPARE',
                                 'COLO_CHECKPOINT_REQUEST')]
        for e in pev[:3]:
            d = e.get('data', {})
            brief = {k: d[k] for k in list(d)[:4]}
            say(f'   colo-proxy event {e["event"]} {brief}')
        if c1['reqs'].get('miscompare', 0) <= c0['reqs'].get('miscompare', 0):
            raise StepFailed('colo-proxy did not request a checkpoint for the '
                             f'miscompare ({c1["reqs"]})')
        dts = cp.downtimes(ev)
        if not dts:
            raise StepFailed('the primary QEMU took no checkpoint (no STOP, '
                             'RESUME events)')
        req_ev = [e for e in pev if e['event'] == 'COLO_CHECKPOINT_REQUEST']
        lag = (dts[0][0] - cp.ev_time(req_ev[0])) if req_ev else None
        mine = re.search(r'^cpu0 .*$', body, re.M)
        say(f'   the client got one answer in {ms(dt)}: '
            f'{mine.group(0)[:60] if mine else body[:60]!r}...')
        say(f'   checkpoint: requested by colo-proxy, QEMU STOP '
            f'{ms(lag)} later, downtime (STOP -> RESUME) {ms(dts[0][1])}, '
            f'committed on both sides ({c0["done"]} -> {c1["done"]})')

        def secondary_answer():
            sec = cp.tcp_payload_from(os.path.join(
                p.srun, 'secondary-out.pcap'), 80).decode('latin-1')
            return re.findall(r'^cpu0 .*$', sec, re.M)
        cp.wait_for(lambda: secondary_answer(), 3, interval=0.1,
                    what="the secondary VM's answer in its pcap")
        theirs = secondary_answer()[-1]
        if not mine or mine.group(0) == theirs:
            raise StepFailed('the client did not get the primary\'s answer')
        say(f'   the secondary VM had answered {theirs[:60]!r}... '
            f'(not what the client got: the primary\'s reply went out)')
        self.summary.append(f'miscompare: answered in {ms(dt)}, checkpoint '
                            f'downtime {ms(dts[0][1])}')

    def step4(self):
        p = self.pair
        cp.take_events(p.qp, ())
        c0 = self.counters()
        secs = 8 if self.short else 14
        p.qp.cmd('migrate-set-parameters', {'x-checkpoint-delay': 2000})
        n = int(secs / 0.09)
        bg = cp.HTTPBackground(p.ns, p.c, self.pages(n), gap=0.05)
        seen = 0
        evs = []
        try:
            while not bg.done():
                time.sleep(0.25)
                cp.drain(p.qp)
                evs += [e for e in p.qp.events
                        if e['event'] in ('STOP', 'RESUME')]
                p.qp.events.clear()
                dts = cp.downtimes(evs)
                for t, d in dts[seen:]:
                    say(f'   QEMU checkpoint {len(dts[:seen]) + 1}: downtime '
                        f'(STOP -> RESUME) {ms(d)}')
                    seen += 1
            res = bg.result()
        finally:
            bg.kill()
            p.qp.cmd('migrate-set-parameters',
                     {'x-checkpoint-delay': cp.QUIET_DELAY_MS})
        times = cp.check_pages(res)
        c1 = self.counters()
        dts = [d for _, d in cp.downtimes(evs)]
        say(f'   {len(times)} requests during {seen} periodic checkpoints: '
            f'p50 {ms(cp.pct(times, .5))}, p99 {ms(cp.pct(times, .99))}, max '
            f'{ms(max(times))}; checkpoint downtime median '
            f'{ms(statistics.median(dts)) if dts else "?"}')
        slow = [x for x in times if x > 0.5]
        say(f'   requests slower than 500 ms: {len(slow)}'
            + (f' ({", ".join(ms(x) for x in sorted(slow)[::-1][:5])})'
               if slow else ''))
        why = {k: c1['reqs'][k] - c0['reqs'].get(k, 0) for k in c1['reqs']
               if c1['reqs'][k] != c0['reqs'].get(k, 0)}
        say(f'   colo-proxy: {c1["qemu"] - c0["qemu"]} of them seen as QEMU\'s '
            f'own (each releases what colo-compare holds), '
            f'{c1["done"] - c0["done"]} of its own committed, '
            f'{c1["req"] - c0["req"]} requested by itself '
            f'{why if why else ""}')
        if not dts:
            raise StepFailed('no periodic checkpoint seen')
        self.summary.append(
            f'periodic checkpoints: {len(dts)}, downtime median '
            f'{ms(statistics.median(dts))}; {len(times)} requests p50 '
            f'{ms(cp.pct(times, .5))} p99 {ms(cp.pct(times, .99))} max '
            f'{ms(max(times))}, {len(slow)} over 500 ms')

    def step5(self):
        p = self.pair
        echo = cp.Echo(p.ns, p.c, period=0.02)
        # one slow download (a connection open across the failover) and
        # sequential requests, each a new connection
        big = '/cgi-bin/page?3000'
        t_slow = time.monotonic()
        slow = cp.HTTPBackground(p.ns, p.c, [big], pace=0.1)
        seq = cp.HTTPBackground(p.ns, p.c, self.pages(60), gap=0.05)
        time.sleep(1.2)
        cp.take_events(p.qs, ())
        t_kill = time.monotonic()
        p.gp.kill()
        p.px.kill()
        say('   primary QEMU and primary colo-proxy killed (SIGKILL)')
        proxy_done = qemu_done = None
        while time.monotonic() < t_kill + 5 and not (proxy_done and
                                                     qemu_done):
            if proxy_done is None and \
                    p.sx.qmp.cmd('query-colo-status')['mode'] == 'none':
                proxy_done = time.monotonic() - t_kill
                say(f'   +{ms(proxy_done)}: the secondary colo-proxy failed '
                    f'over (heartbeat lost)')
            if qemu_done is None and \
                    p.qs.cmd('query-colo-status')['mode'] == 'none':
                qemu_done = time.monotonic() - t_kill
                say(f'   +{ms(qemu_done)}: the secondary QEMU left COLO '
                    f'(x-colo-lost-heartbeat sent by colo-proxy)')
            time.sleep(0.02)
        if not (proxy_done and qemu_done):
            raise StepFailed('no automatic failover within 5 s: colo-proxy '
                             f'{p.sx.qmp.cmd("query-colo-status")}, QEMU '
                             f'{p.qs.cmd("query-colo-status")}')
        cp.wait_for(lambda: p.qs.cmd('query-status')['status'] == 'running',
                    10, what='the secondary VM running')
        ev = cp.take_events(p.qs, ('COLO_EXIT', 'STOP', 'RESUME'))
        say(f'   secondary QEMU events: '
            f'{[(e["event"], e.get("data")) for e in ev]}')
        res = seq.result()
        times = cp.check_pages(res)
        sres = slow.result()
        cp.check_pages(sres)
        time.sleep(1.0)
        e = echo.stop()
        if e['error']:
            raise StepFailed(f'echo connection: {e["error"]}')
        say(f'   echo connection: {e["lines"]} lines, all byte-exact, worst '
            f'round trip {ms(e["worst"])}')
        # the client's clock starts a little after t_slow (process start)
        across = t_slow + sres[0][1] > t_kill
        say(f'   slow download of {big}: {len(sres[0][2])} bytes in '
            f'{sres[0][1]:.1f} s on one connection, '
            + ('open across the failover (started '
               f'{t_kill - t_slow:.1f} s before the kill)' if across else
               'finished before the kill (the guest was quick)')
            + ': byte-exact')
        say(f'   {len(times)} sequential requests across the failover: all '
            f'byte-exact, worst {ms(max(times))}')
        bad = cp.oopses(p.gs.console())
        if bad:
            raise StepFailed(f'secondary guest console: {bad[:3]}')
        self.summary.append(
            f'failover: colo-proxy +{ms(proxy_done)}, QEMU +{ms(qemu_done)} '
            f'after the kill, automatic; echo {e["lines"]} lines byte-exact '
            f'(worst round trip {ms(e["worst"])}); a {len(sres[0][2])}-byte '
            f'download{" across it" if across else ""} and {len(times)} '
            f'requests byte-exact (worst request {ms(max(times))})')

    def step6(self):
        p = self.pair
        res = cp.http_seq(p.ns, p.c, self.pages(40))
        times = cp.check_pages(res)
        alone = cp.pct(times, .5)
        say(f'   the survivor alone (no compare): p50 {ms(alone)}; with COLO '
            f'(step 2): p50 {ms(self.colo_p50)}; COLO added '
            f'{ms(self.colo_p50 - alone)} per request (TCG guests: most of '
            f'a request is the guest\'s own time)')
        self.summary.append(f'latency added by COLO: '
                            f'{ms(self.colo_p50 - alone)} per request (p50 '
                            f'{ms(self.colo_p50)} vs {ms(alone)} alone)')

    STEPS = [
        ('0', 'the COLO QEMU and the tiny guest (built once, cached)',
         step0),
        ('1', 'two VMs, two colo-proxies, COLO', step1),
        ('2', 'identical traffic: compared, matched, no checkpoint', step2),
        ('3', 'a reply that differs per VM: miscompare -> checkpoint', step3),
        ('4', "QEMU's periodic checkpoints (x-checkpoint-delay 2000)", step4),
        ('5', 'the primary host dies: automatic failover', step5),
        ('6', 'the latency COLO adds', step6),
    ]

    def run(self):
        t0 = time.monotonic()
        with cp.NetNS() as ns:
            self.ns = ns
            try:
                for num, title, fn in self.STEPS:
                    say(f'== step {num}: {title}')
                    ts = time.monotonic()
                    try:
                        fn(self)
                    except (StepFailed, cp.TestFailure, cp.Skip,
                            cp.QMPError, TimeoutError, EOFError, OSError,
                            vmguest.GuestUnavailable, RuntimeError) as e:
                        say(f'demo: step {num} ({title}) FAILED: '
                            f'{str(e).strip()[:1500]}')
                        return 1
                    say(f'   ({time.monotonic() - ts:.1f} s)')
            finally:
                if self.pair:
                    self.pair.stop()
        say('== summary')
        for s in self.summary:
            say(f'   {s}')
        say(f'   every step held ({time.monotonic() - t0:.0f} s in all)')
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default='build')
    ap.add_argument('--short', action='store_true')
    ap.add_argument('-v', '--verbose', action='store_true')
    args = ap.parse_args()
    if os.geteuid() != 0:
        say('demo: needs root (network namespaces, veth pairs, a bridge, '
            'AF_PACKET sockets): sudo make demo')
        return 1
    os.environ['COLO_BUILD_DIR'] = os.path.abspath(args.build)
    binary = cp.proxy_binary()
    if not os.access(binary, os.X_OK):
        say(f'demo: {binary} not built (run make first)')
        return 1
    # SIGTERM cleans up like Ctrl-C: the finally blocks and the atexit
    # handlers of coloqtest remove what this run started
    def on_term(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_term)
    try:
        return Demo(args).run()
    except KeyboardInterrupt:
        say('\ndemo: interrupted; cleaning up')
        return 130


if __name__ == '__main__':
    sys.exit(main())
