#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Who runs while the primary QEMU checkpoints: windows = bursts of the
migration thread's activity; per window, CPU time of every task by group."""
import sys, re, json, subprocess, collections, os
data, pidf = sys.argv[1], sys.argv[2]
procs = json.load(open(pidf))
tgid = {}
for k, tids in procs.items():
    for t in tids:
        tgid[t] = k
out = subprocess.run(['perf', 'script', '-i', data, '-F', 'tid,pid,cpu,time,event,trace'],
                     capture_output=True, text=True).stdout
sw = re.compile(r'^\s*(\d+)/\s*(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:sched_switch: prev_comm=(.*?) prev_pid=(\d+) .*prev_state=(\S+) ==> next_comm=(.*?) next_pid=(\d+)')
wk = re.compile(r'^\s*(\d+)/\s*(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:sched_wakeup: comm=(.*?) pid=(\d+)')
runs = []   # (start, end, tid, comm, pid)
cur = {}    # cpu -> (start, tid, comm)
pidof = {}
comm = {}
mig = None
wakeups = collections.Counter()
wk_times = collections.defaultdict(list)
for line in out.splitlines():
    m = sw.match(line)
    if m:
        pid, tid, cpu, t = int(m[1]), int(m[2]), int(m[3]), float(m[4])
        prev, nxt, ncomm = int(m[6]), int(m[9]), m[8]
        comm[prev] = m[5]; comm[nxt] = ncomm
        if cpu in cur:
            s, ctid = cur[cpu]
            runs.append((s, t, ctid))
        cur[cpu] = (t, nxt)
        continue
    m = wk.match(line)
    if m:
        wk_times[int(m[6])].append(float(m[4]))
        continue
    m = re.match(r'^\s*(\d+)/\s*(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:sched_waking: comm=(.*?) pid=(\d+)', line)
    if m:
        wk_times[int(m[6])].append(float(m[4]))
for t, c in comm.items():
    if c == 'mig/src/main' and tgid.get(t) == 'qemu-p': mig = t
# windows: mig runs grouped with gaps > 50 ms
mr = sorted((s, e) for s, e, t in runs if t == mig)
wins = []
for s, e in mr:
    if wins and s - wins[-1][1] < 0.05:
        wins[-1][1] = e
    else:
        wins.append([s, e])
def group(t):
    g = tgid.get(t)
    c = comm.get(t, '?')
    if g: return f'{g}:{c}/{t}' if g in ('px', 'sx') else f'{g}:{c}'
    if t == 0: return 'idle'
    return 'other:' + c
acc = collections.Counter(); wkc = collections.Counter()
tot = 0
for ws, we in wins:
    tot += we - ws
    for s, e, t in runs:
        o = min(e, we) - max(s, ws)
        if o > 0:
            acc[group(t)] += o
    for t, ts in wk_times.items():
        if tgid.get(t) in ('px', 'sx'):
            wkc[group(t)] += sum(1 for x in ts if ws <= x <= we)
n = len(wins)
print(f'windows {n}, mean length {tot/n*1e3:.2f} ms (mig thread first..last run)')
for k, v in acc.most_common(25):
    print(f'  {k:40s} {v/n*1e6:8.0f} us/window')
print('wakeups per window:', {k: round(v/n, 2) for k, v in wkc.items()})
