#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Experiment: checkpoint downtime, many samples, colo-proxy vs QEMU's proxy,
with per-thread schedstat (run time, runqueue wait) of every process."""
import subprocess, os, sys, time, statistics, glob, json
OUT_DIR = os.environ.get('OUT_DIR', '/tmp')
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'vm'))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'qtest'))
import colopair as cp
import vmguest
_qa = vmguest.VMGuest.qemu_args
def _qa2(self, *a, **k):
    r = _qa(self, *a, **k)
    i = r.index('-name'); r[i+1] = r[i+1] + ',debug-threads=on'
    return r
vmguest.VMGuest.qemu_args = _qa2

if os.environ.get('NOPOLL'):
    _pa0 = cp.primary_proxy_args
    def _pa_nopoll(*a, **k):
        r = _pa0(*a, **k)
        return [x + ',poll-max-ns=0' if x == 'iothread,id=iothread1' else x for x in r]
    cp.primary_proxy_args = _pa_nopoll

if os.environ.get('NODRV'):
    _pa, _sa = cp.primary_proxy_args, cp.secondary_proxy_args
    cp.primary_proxy_args = lambda *a, **k: _pa(*a, **{**k, 'frame': 'driver=exec,exec=true', 'heartbeat': False})
    cp.secondary_proxy_args = lambda *a, **k: _sa(*a, **{**k, 'qemu': False})

def sched(pid):
    out = {}
    for t in glob.glob(f'/proc/{pid}/task/*'):
        try:
            name = open(t + '/comm').read().strip() + ('/' + t.rsplit('/', 1)[1] if os.environ.get('TIDS') else '')
            run, wait, n = map(int, open(t + '/schedstat').read().split())
        except OSError:
            continue
        r = out.setdefault(name, [0, 0, 0])
        r[0] += run; r[1] += wait; r[2] += n
    return out

def diff(a, b):
    return {k: [(b[k][i] - a.get(k, [0, 0, 0])[i]) for i in range(3)] for k in b}

def run(proxy, secs, delay, qemu, fw, traffic):
    # 'colo-proxy=BINARY': colo-proxy's pair with another binary (an A/B
    # in one run, interleaved)
    label = proxy
    if '=' in proxy:
        proxy, binary = proxy.split('=', 1)
        os.environ['COLO_PROXY'] = binary
    elif os.environ.get('PROXYBIN'):
        os.environ['COLO_PROXY'] = os.environ['PROXYBIN']
    else:
        os.environ.pop('COLO_PROXY', None)
    with cp.NetNS() as ns:
        pair = cp.Pair(ns, 'd' if proxy == 'colo-proxy' else 'e', 'e1000', False, qemu, fw, proxy=proxy)
        try:
            pair.start()
            if proxy == 'colo-proxy':
                pair.proxies_ready()
            cp.check_pages(cp.http_seq(pair.ns, pair.c, [f'/cgi-bin/page?{k}' for k in range(1, 6)]))
            echo = cp.Echo(pair.ns, pair.c) if traffic else None
            hb = None
            cp.take_events(pair.qp, ('STOP', 'RESUME'))
            procs = {'qemu-p': pair.gp.proc.pid, 'qemu-s': pair.gs.proc.pid,
                     'px': pair.px.proc.pid, 'sx': pair.sx.proc.pid}
            if os.environ.get('PXNICE'):
                for k in ('px', 'sx'):
                    for t in glob.glob(f'/proc/{procs[k]}/task/*'):
                        os.setpriority(os.PRIO_PROCESS, int(t.rsplit('/',1)[1]), int(os.environ['PXNICE']))
            if os.environ.get('PXBATCH'):
                for k in ('px', 'sx'):
                    for t in glob.glob(f'/proc/{procs[k]}/task/*'):
                        os.sched_setscheduler(int(t.rsplit('/',1)[1]), os.SCHED_BATCH, os.sched_param(0))
            b0 = {k: sched(v) for k, v in procs.items()}
            time.sleep(secs)
            b1 = {k: sched(v) for k, v in procs.items()}
            for k in procs:
                th = diff(b0[k], b1[k]); tot = [sum(v[i] for v in th.values()) for i in range(3)]
                print(f'   BASELINE {k}: run {tot[0]/1e6:.0f} ms wait {tot[1]/1e6:.0f} ms slices {tot[2]}', flush=True)
            st = None
            if os.environ.get('STRACE'):
                st = subprocess.Popen(['strace', *(['-tt', '-T'] if os.environ.get('FULL') else ['-c']), '-f', '-o', f'{OUT_DIR}/strace-{proxy}.txt', *[a for k in os.environ['STRACE'].split(',') for a in ('-p', str(procs[k]))]])
            if os.environ.get('PERF'):
                st = subprocess.Popen(['perf', 'record', '-F', '5000', '-g', '-o', f'{OUT_DIR}/perf-{proxy}.data', '-p', str(procs[os.environ['PERF']])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if st: time.sleep(0.5)
            s0 = {k: sched(v) for k, v in procs.items()}
            if os.environ.get('MIS'):
                mis = []
                if os.environ.get('ONECLIENT'):
                    res = cp.http_seq(pair.ns, pair.c, ['/cgi-bin/sched'] * int(os.environ['MIS']), gap=0.6)
                    mis = [x[1] for x in res]; time.sleep(0.6)
                else:
                  for _ in range(int(os.environ['MIS'])):
                    res = cp.http_seq(pair.ns, pair.c, ['/cgi-bin/sched'])
                    mis.append(res[0][1]); time.sleep(0.6)
                mis.sort()
                print(f'   MIS {label}: n={len(mis)} p50 {mis[len(mis)//2]*1e3:.1f} max {mis[-1]*1e3:.1f}', flush=True)
                secs = 0
            else:
                pair.qp.cmd('migrate-set-parameters', {'x-checkpoint-delay': delay})
            if os.environ.get('HTTP'):
                hb = cp.HTTPBackground(pair.ns, pair.c, [f'/cgi-bin/page?{1 + k % 20}' for k in range(int(secs / 0.075))], gap=0.05)
            if os.environ.get('PERFSCHED'):
                time.sleep(3)
                json.dump({k: [int(t.rsplit('/', 1)[1]) for t in glob.glob(f'/proc/{v}/task/*')] for k, v in procs.items()}, open(f'{OUT_DIR}/sched-{proxy}.pids', 'w'))
                ps = subprocess.Popen(['perf', 'record', '-a', '-g', '-e', 'cpu-clock', '-F', '10000', '-e', 'sched:sched_switch', '-e', 'sched:sched_waking', '-o', f'{OUT_DIR}/sched-{proxy}.data', '--', 'sleep', os.environ['PERFSCHED']], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                ps.wait()
                time.sleep(max(0, secs - 3 - float(os.environ['PERFSCHED'])))
            else:
                time.sleep(secs)
            pair.qp.cmd('migrate-set-parameters', {'x-checkpoint-delay': cp.QUIET_DELAY_MS})
            s1 = {k: sched(v) for k, v in procs.items()}
            if st: st.send_signal(2); st.wait()
            if echo: echo.stop()
            if hb:
                rr = hb.result(); t = sorted(x[1] for x in rr)
                print(f'   HTTP {label}: n={len(t)} p50 {t[len(t)//2]*1e3:.1f} p99 {t[len(t)*99//100]*1e3:.1f} max {t[-1]*1e3:.1f}', flush=True)
            d = [x for _, x in cp.downtimes(cp.take_events(pair.qp, ('STOP', 'RESUME')))]
            if proxy == 'colo-proxy':
                mis = [ln.split('colo-compare')[1].strip() for ln in pair.px.stderr().splitlines() if 'miscompare on' in ln]
                print(f'   MISCOMPARES {label}: {len(mis)} {mis[:6]}', flush=True)
            return d, {k: diff(s0[k], s1[k]) for k in procs}
        finally:
            pair.stop()

def main():
    os.environ['COLO_BUILD_DIR'] = os.environ.get('COLO_BUILD_DIR', os.path.join(HERE, '..', 'build'))
    qemu, fw = cp.colo_qemu()
    os.environ['QEMU'] = qemu
    vmguest.guest_dir(log=print)
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 30
    delay = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    traffic = (sys.argv[4] != 'idle') if len(sys.argv) > 4 else True
    res = {}
    for r in range(rounds):
        for proxy in os.environ.get('ONLY', 'colo-proxy,qemu').split(','):
            d, s = run(proxy, secs, delay, qemu, fw, traffic)
            res.setdefault(proxy, []).extend(d)
            print(f'   raw {proxy} {r}: ' + ' '.join(f'{x*1e3:.2f}' for x in d), flush=True)
            d.sort()
            print(f'[{proxy} round {r}] n={len(d)} median {statistics.median(d)*1e3:.2f} ms p10 {d[len(d)//10]*1e3:.2f} p90 {d[len(d)*9//10]*1e3:.2f} load {os.getloadavg()[0]:.2f}', flush=True)
            n = len(d)
            px_, sx_ = s['px'], s['sx']
            mig = s['qemu-p'].get('mig/src/main', [0, 0, 0])
            print(f'   PERCKPT n={n} px cpu {sum(v[0] for v in px_.values())/1e3/n:.0f} us slices {sum(v[2] for v in px_.values())/n:.1f}'
                  f' | sx cpu {sum(v[0] for v in sx_.values())/1e3/n:.0f} us slices {sum(v[2] for v in sx_.values())/n:.1f}'
                  f' | mig/src/main run {mig[0]/1e3/n:.0f} us wait {mig[1]/1e3/n:.0f} us', flush=True)
            for p, th in s.items():
                tot = [sum(v[i] for v in th.values()) for i in range(3)]
                top = sorted(th.items(), key=lambda kv: -kv[1][0])[:4]
                print(f'   {p}: run {tot[0]/1e6:.0f} ms wait {tot[1]/1e6:.0f} ms slices {tot[2]}; ' +
                      ', '.join(f'{k} {v[0]/1e6:.0f}/{v[1]/1e6:.0f}' for k, v in top), flush=True)
    for proxy, d in res.items():
        print(f'ALL {proxy}: n={len(d)} median {statistics.median(d)*1e3:.2f} mean {statistics.mean(d)*1e3:.2f}')
    json.dump(res, open(os.environ.get('OUT', OUT_DIR + '/dt.json'), 'w'))
main()
