#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""bench_storm - checkpoint storms: throughput and latency of a
request/response workload whose replies differ between the two guests at
a chosen rate, under colo-compare's policies side by side (issue 17,
docs/storms.md):

  baseline     no reply differs (the no-miscompare case)
  checkpoint   replies differ at --differ; one checkpoint per miscompare
               episode, started at once (QEMU's policy: colo-frame
               min-interval=0, adaptive=off); every other mode runs
               colo-proxy's default frame (min-interval=100)
  coalesced    the same with colo-proxy's default frame: checkpoints at
               least 100 ms apart (min-interval=100)
  passthrough  the same, with a passthrough rule for the service
  adaptive     the same, adaptive=on with the defaults: buffered mode
               during the storm, holding what compare mode holds
               (buffered_hold=diverged), a checkpoint once the primary is
               quiet with output held (buffered_quiet=2) and checkpoints
               outstanding at most half the time (buffered_duty=50)
  adaptive-all the same with buffered_hold=all (every reply held to a
               checkpoint, as Remus)
  remus        buffered_hold=all and a checkpoint every --period ms only
               (buffered_quiet above the period, buffered_duty=100): the
               policy before the schedule, for reference
  adaptive-pt  adaptive with auto_passthrough=on: the storm's flow is
               exempted when the storm is detected

    python3 bench/bench_storm.py [--build DIR] [--seconds S] [--clients N]
        [--differ P] [--ckpt-ms MS] [--svc-ms MS] [--period MS] [--json F]

The harness plays both guests and the external COLO manager
(colo-frame driver=event) against a real colo-proxy over its chardevs
and QMP, single-threaded:

  - N closed-loop clients each send a request; the "guests" (a serial
    server with --svc-ms of work per request) answer on primary_in and
    secondary_in; the secondary's reply differs with probability --differ;
  - a client's latency is from its request to its reply read on outdev;
  - the manager answers each COLO_CHECKPOINT_REQUEST after --ckpt-ms,
    and the guests are stopped from the request to the commit, as in
    COLO (no reply is produced while a checkpoint runs).

It models a checkpoint by its downtime only (a real QEMU pair also copies
dirty memory while running: see bench_colo_vm.py for real checkpoints).
QEMU's own colo-compare cannot be driven this way: without a QEMU COLO
migration it never takes a checkpoint (its miscompares only notify the
migration thread), so the QEMU column is the 'checkpoint' policy, which is
QEMU's (one checkpoint per miscompare, output released at the commit).
This is a benchmark, not a test: on a shared 2-CPU machine figures move
from run to run; compare within a run.
"""

import argparse
import json
import os
import random
import select
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tests', 'qtest'))

import coloqtest as cq  # noqa: E402
import comparepkt as pk  # noqa: E402


def run(mode, a, rng):
    extra = ''
    if mode.startswith('adaptive') or mode == 'remus':
        extra = (f',adaptive=on,buffered_period={a.period},'
                 f'storm_rate={a.storm_rate}')
    if mode in ('adaptive', 'adaptive-all', 'adaptive-pt'):
        extra += ''.join(f',{k}={v}' for k, v in (
            ('buffered_quiet', a.quiet), ('buffered_duty', a.duty))
            if v is not None)
    if mode == 'adaptive-all':
        extra += ',buffered_hold=all'
    if mode == 'remus':
        extra += ',buffered_hold=all,buffered_quiet=60000,buffered_duty=100'
    if mode == 'adaptive-pt':
        extra += ',auto_passthrough=on'
    if mode == 'passthrough':
        extra = ',passthrough=udp:*:53'
    # QEMU starts a checkpoint as soon as one is asked for (min-interval
    # 0); every other mode runs colo-proxy's default frame (100 ms apart),
    # which buffered mode's own requests do not wait for
    if mode == 'checkpoint':
        mi = 0
    elif a.min_interval is not None and mode != 'coalesced':
        mi = a.min_interval
    else:
        mi = 100
    d = cq.tmpdir('bst')
    paths = {n: os.path.join(d, n + '.sock') for n in ('pri', 'sec', 'out')}
    args = []
    for n in ('pri', 'sec', 'out'):
        args += ['-chardev', cq.chardev_unix(n, paths[n])]
    args += ['-object', 'colo-frame,id=colo0,mode=primary,driver=event,'
             f'min-interval={mi}',
             '-object', 'colo-compare,id=comp0,primary_in=pri,'
             'secondary_in=sec,outdev=out' + extra]
    p = cq.ColoProxy(args, dir=d)
    with p:
        pri, sec, out = (cq.connect_unix(paths[n], proc=p)
                         for n in ('pri', 'sec', 'out'))
        time.sleep(0.1)
        q = p.qmp
        differ = 0.0 if mode == 'baseline' else a.differ
        reader = cq._reader_for(out, False)
        pending = {}            # request id -> (client, t0)
        queue = []              # requests waiting for the guests
        lat = []
        done = 0
        seq = 0
        ckpt_end = None         # a checkpoint runs until then
        ckpts = 0
        ckpt_time = 0.0
        guest_free = time.monotonic()
        now = time.monotonic()
        open_loop = a.rate > 0
        next_arrival = now
        if not open_loop:
            for c in range(a.clients):
                queue.append((c, now))
        t_start = now
        t_stop = now + a.seconds
        warm = now + 0.5
        while True:
            now = time.monotonic()
            if now >= t_stop:
                break
            # open loop: requests arrive at --rate whatever happens
            while open_loop and next_arrival <= now:
                queue.append((seq % 1000, next_arrival))
                next_arrival += 1.0 / a.rate
            # the guests answer while not stopped by a checkpoint
            while queue and ckpt_end is None and guest_free <= now:
                c, t0 = queue.pop(0)
                seq += 1
                body = b'%08d' % seq
                f = pk.udp(b'reply ' + body + b' p', sport=53,
                           dport=4000 + c)
                s = f if rng.random() >= differ else pk.udp(
                    b'reply ' + body + b' s', sport=53, dport=4000 + c)
                pending[body] = (c, t0)
                cq.send_frame(pri, f)
                cq.send_frame(sec, s)
                guest_free = max(guest_free, now) + a.svc_ms / 1000
            if ckpt_end is not None and now >= ckpt_end:
                q.cmd('x-colo-checkpoint-done')
                ckpt_time += now - (ckpt_end - a.ckpt_ms / 1000)
                ckpt_end = None
                guest_free = time.monotonic()
                continue
            timeout = 0.05
            if ckpt_end is not None:
                timeout = max(0.0, ckpt_end - now)
            elif queue:
                timeout = max(0.0, guest_free - now)
            if open_loop:
                timeout = min(timeout, max(0.0, next_arrival - now))
            r, _, _ = select.select([out, q.sock], [], [], timeout)
            if out in r:
                data = out.recv(262144)
                for fr in reader.feed(data):
                    i = fr.find(b'reply ')
                    body = fr[i + 6:i + 14]
                    c, t0 = pending.pop(body, (None, None))
                    if c is None:
                        continue
                    t = time.monotonic()
                    if t0 >= warm:
                        lat.append(t - t0)
                        done += 1
                    if not open_loop:
                        queue.append((c, t))
            if q.sock in r or q.events:
                while True:
                    try:
                        ev = q.get_event('COLO_CHECKPOINT_REQUEST',
                                         timeout=0.001)
                    except Exception:
                        break
                    if ckpt_end is None:
                        ckpt_end = time.monotonic() + a.ckpt_ms / 1000
                        ckpts += 1
                q.events.clear()
        span = t_stop - max(warm, t_start)
        storm = {}
        try:
            storm = q.cmd('query-colo-storm', id='comp0')[0]
        except Exception:
            pass
        p.stop()
    lat.sort()
    pct = (lambda x: lat[min(len(lat) - 1, int(len(lat) * x))] * 1000
           if lat else float('nan'))
    return {'mode': mode, 'replies_per_s': done / span,
            'backlog': len(queue) + len(pending), 'p50_ms': pct(0.5),
            'p99_ms': pct(0.99), 'checkpoints': ckpts,
            'stopped_pct': 100 * ckpt_time / a.seconds,
            'storm_mode': storm.get('mode'), 'storms': storm.get('storms'),
            'quiet_ckpts': storm.get('quiet-checkpoints'),
            'periodic_ckpts': storm.get('periodic-checkpoints')}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build', default=None)
    ap.add_argument('--seconds', type=float, default=5)
    ap.add_argument('--clients', type=int, default=16)
    ap.add_argument('--rate', type=float, default=0,
                    help='open loop: requests per second (0: closed loop '
                    'of --clients)')
    ap.add_argument('--differ', type=float, default=0.5)
    ap.add_argument('--ckpt-ms', type=float, default=20)
    ap.add_argument('--svc-ms', type=float, default=0.5)
    ap.add_argument('--period', type=int, default=100)
    ap.add_argument('--storm-rate', type=int, default=20)
    ap.add_argument('--quiet', type=int, default=None,
                    help='buffered_quiet of the adaptive modes (default: '
                    "the property's)")
    ap.add_argument('--duty', type=int, default=None,
                    help='buffered_duty of the adaptive modes')
    ap.add_argument('--min-interval', type=int, default=None,
                    help="colo-frame min-interval of every mode but "
                    "'checkpoint' (always 0: QEMU's policy) and "
                    "'coalesced' (always 100); default: the frame's "
                    "default, 100")
    ap.add_argument('--modes', default='baseline,checkpoint,coalesced,'
                    'passthrough,adaptive,adaptive-all,remus,adaptive-pt')
    ap.add_argument('--seed', type=int, default=17)
    ap.add_argument('--json', default=None)
    a = ap.parse_args()
    if a.build:
        os.environ['COLO_PROXY'] = os.path.join(a.build, 'system',
                                                'colo-proxy')
    rng = random.Random(a.seed)
    res = [run(m, a, rng) for m in a.modes.split(',')]
    print((f'load: open loop, {a.rate:.0f} requests/s' if a.rate else
           f'load: {a.clients} closed-loop clients') + ', guest service '
          f'{a.svc_ms} ms/request, replies differ {a.differ:.0%}, '
          f'checkpoint downtime {a.ckpt_ms} ms, buffered period '
          f'{a.period} ms, {a.seconds} s per mode')
    print(f'{"mode":12} {"replies/s":>10} {"p50 ms":>8} {"p99 ms":>8} '
          f'{"ckpts":>6} {"ckpt/s":>6} {"stopped%":>8} {"end mode":>9} '
          f'{"backlog":>8}')
    for r in res:
        print(f'{r["mode"]:12} {r["replies_per_s"]:10.0f} {r["p50_ms"]:8.1f} '
              f'{r["p99_ms"]:8.1f} {r["checkpoints"]:6d} '
              f'{r["checkpoints"] / a.seconds:6.1f} '
              f'{r["stopped_pct"]:8.1f} {str(r["storm_mode"]):>9} '
              f'{r["backlog"]:8d}')
    base = next((r for r in res if r['mode'] == 'baseline'), None)
    ad = next((r for r in res if r['mode'] == 'adaptive'), None)
    ck = next((r for r in res if r['mode'] == 'checkpoint'), None)
    if base and ad:
        ratio = base['replies_per_s'] / max(ad['replies_per_s'], 1e-9)
        print(f'target: adaptive within 2x of baseline throughput: '
              f'{ratio:.2f}x {"met" if ratio <= 2 else "NOT met"}')
    if ck and ad:
        worse = [k for k in ('replies_per_s',)
                 if ad[k] < ck[k]] + [k for k in ('p50_ms', 'p99_ms')
                                      if ad[k] > ck[k]]
        print('target: adaptive no worse than the checkpoint policy '
              '(QEMU\'s) on any figure: '
              + ('met' if not worse else 'NOT met on ' + ', '.join(worse)))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'args': vars(a), 'results': res}, f, indent=1)


if __name__ == '__main__':
    main()
