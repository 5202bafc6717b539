#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""cpu-clock samples of px/sx threads inside checkpoint windows (the primary
QEMU's migration thread bursts), by stack."""
import sys, re, json, subprocess, collections
data, pidf = sys.argv[1], sys.argv[2]
depth = int(sys.argv[3]) if len(sys.argv) > 3 else 4
procs = json.load(open(pidf))
tgid = {t: k for k, ts in procs.items() for t in ts}
out = subprocess.run(['perf', 'script', '-i', data, '-F', 'tid,time,event,ip,sym'],
                     capture_output=True, text=True).stdout
samples = []   # (time, tid, [syms])
runs = collections.defaultdict(list)
cur = None
hdr = re.compile(r'^\s*(\d+)\s+([\d.]+):\s+(\d+\s+)?(\S+):')
for block in out.split('\n\n'):
    lines = block.strip('\n').split('\n')
    if not lines or not lines[0].strip():
        continue
    m = hdr.match(lines[0])
    if not m:
        continue
    tid, t, ev = int(m[1]), float(m[2]), m[4]
    if ev.startswith('cpu-clock'):
        syms = [l.strip().split(None, 1)[1] if len(l.strip().split(None, 1)) > 1 else '?' for l in lines[1:]]
        samples.append((t, tid, syms))
    elif ev == 'sched:sched_switch' and tgid.get(tid) == 'qemu-p':
        runs[tid].append(t)
# migration thread: a qemu-p tid whose name we do not have here; take the
# qemu-p tid whose samples show migration_thread
mig = int(sys.argv[4]) if len(sys.argv) > 4 else None
for t, tid, syms in ([] if mig else samples):
    if tgid.get(tid) == 'qemu-p' and any('migration_thread' in s or 'colo_process_checkpoint' in s for s in syms):
        mig = tid; break
mt = sorted(t for t, tid, s in samples if tid == mig)
wins = []
for t in mt:
    if wins and t - wins[-1][1] < 0.05:
        wins[-1][1] = t
    else:
        wins.append([t, t])
print(f'mig tid {mig}: {len(wins)} windows, mean {sum(e-s for s,e in wins)/len(wins)*1e3:.2f} ms (by samples)')
import bisect
starts = [w[0] for w in wins]
def inwin(t):
    i = bisect.bisect_right(starts, t) - 1
    return i >= 0 and t <= wins[i][1] + 0.0005
per = collections.Counter(); stacks = collections.Counter(); grp = collections.Counter()
for t, tid, syms in samples:
    g = tgid.get(tid)
    if not inwin(t):
        continue
    grp[g or 'other'] += 1
    if g in ('px', 'sx'):
        per[f'{g}/{tid}'] += 1
        stacks[(g, tid, ' <- '.join(syms[:depth]))] += 1
n = len(wins)
print('samples/window (100 us each):', {k: round(v / n, 2) for k, v in grp.items()})
print('px/sx threads:', {k: round(v / n, 2) for k, v in per.items()})
for (g, tid, st), c in stacks.most_common(40):
    print(f'{c:5d} {g}/{tid}: {st}')
