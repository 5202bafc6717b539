#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Why px/sx threads wake: sched_waking callchains (first recognisable kernel
function), per checkpoint window and overall."""
import sys, re, json, subprocess, collections, bisect
data, pidf, mig = sys.argv[1], sys.argv[2], int(sys.argv[3])
procs = json.load(open(pidf))
tgid = {t: k for k, ts in procs.items() for t in ts}
out = subprocess.run(['perf', 'script', '-i', data, '-F', 'tid,time,event,trace,ip,sym'],
                     capture_output=True, text=True).stdout
KEYS = ['eventfd_write', 'futex_wake', 'unix_stream_sendmsg', 'sock_def_readable', 'hrtimer_wakeup', 'pipe_write',
        'packet_rcv', 'tpacket_rcv', 'unix_dgram_sendmsg', 'tcp_', 'netif_receive', 'tun_', 'signal']
wk = []; mt = []
for block in out.split('\n\n'):
    lines = block.strip('\n').split('\n')
    if not lines or not lines[0].strip(): continue
    h = lines[0]
    m = re.match(r'^\s*(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)', h)
    if not m: continue
    tid, t, ev, tr = int(m[1]), float(m[2]), m[3], m[4]
    if ev == 'cpu-clock' and tid == mig:
        mt.append(t)
    if ev == 'sched:sched_waking':
        pm = re.search(r'pid=(\d+)', tr)
        target = int(pm[1])
        if tgid.get(target) in ('px', 'sx'):
            syms = [l.strip().split(None, 1)[1] if len(l.strip().split(None, 1)) > 1 else '?' for l in lines[1:]]
            why = next((s for s in syms for k in KEYS if k in s), syms[2] if len(syms) > 2 else '?')
            wk.append((t, f'{tgid[target]}/{target}', why, tgid.get(tid, 'other')))
mt.sort(); wins = []
for t in mt:
    if wins and t - wins[-1][1] < 0.05: wins[-1][1] = t
    else: wins.append([t, t])
starts = [w[0] for w in wins]
def inwin(t):
    i = bisect.bisect_right(starts, t) - 1
    return i >= 0 and t <= wins[i][1] + 0.0005
n = len(wins)
cin = collections.Counter((w, why, src) for t, w, why, src in wk if inwin(t))
call = collections.Counter((w, why, src) for t, w, why, src in wk)
print(f'{n} windows; span {mt[-1]-mt[0]:.1f} s')
print('IN WINDOW per window:')
for k, v in cin.most_common(20): print(f'  {v/n:6.2f}  {k}')
print('ALL per window-interval:')
for k, v in call.most_common(20): print(f'  {v/n:6.2f}  {k}')
