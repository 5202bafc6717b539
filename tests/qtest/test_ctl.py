#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_ctl - scripts/colo-proxy-ctl against a running colo-proxy.

The compare topology of test_compare with a colo-frame (driver=event)
carries a matched TCP flow and a mismatch.  Each subcommand of the client
runs as a separate process, as an operator would run it:

  - one-shot commands: a query, KEY=VALUE with JSON values and dotted
    keys, a whole JSON object, qom-get/qom-set ID PROP [VALUE], -c;
    exit status 1 with "error: CLASS: DESC" for a QMP error, 2 for a
    usage or connection error;
  - status: role, checkpoints, the compare's counters and hold time,
    links;
  - events: the events of a checkpoint, filtered by name, -n and -t;
  - top: --once and --iterations N without a terminal, with rates that
    are not zero while traffic flows, the hold-time percentiles;
  - shell: CMD key=value lines from stdin;
  - the module: histogram_quantile() as Prometheus computes it.
"""

import importlib
import json
import os
import subprocess
import sys
import threading
import time

from coloqtest import *
import comparepkt as pk
from comparepkt import TCP_ACK as A, TCP_PSH as P
from test_compare import compare_proxy, tcp_flow


def ctl_path():
    return os.path.join(source_dir(), 'scripts', 'colo-proxy-ctl')


def ctl(p, *args, stdin=None, timeout=30):
    r = subprocess.run([sys.executable, ctl_path(), '-s', p.qmp_path]
                       + list(args), input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    log(f'colo-proxy-ctl {" ".join(args)} -> {r.returncode}')
    return r


def proxy():
    return compare_proxy(frame='mode=primary,driver=event')


def flow(p, pri, sec, out, n=8, base=0):
    pf, sf = tcp_flow(pisn=1000 + base, sisn=5000 + base, cisn=77 + base,
                      chunks=[bytes([i]) * (40 + i) for i in range(n)])
    for f in pf:
        send_frame(pri, f)
    for f in sf:
        send_frame(sec, f)
    for f in pf:
        recv_frame(out)


def test_one_shot():
    p, pri, sec, out = proxy()
    with p:
        r = ctl(p, 'query-colo-status')
        check_eq(r.returncode, 0, r.stderr)
        check_eq(json.loads(r.stdout)['mode'], 'primary', 'mode')
        r = ctl(p, '-c', 'query-colo-compare-stats', 'id=comp0')
        check_eq(r.returncode, 0, r.stderr)
        check_eq(len(r.stdout.strip().splitlines()), 1, 'compact')
        check_eq(json.loads(r.stdout)[0]['id'], 'comp0', 'id')
        # qom-set with a JSON number, qom-get ovs-appctl style
        r = ctl(p, 'qom-set', 'comp0', 'compare_timeout', '5000')
        check_eq(r.returncode, 0, r.stderr)
        r = ctl(p, 'qom-get', 'comp0', 'compare_timeout')
        check_eq(json.loads(r.stdout), 5000, 'qom-get')
        # the same in qmp-shell's spelling
        r = ctl(p, 'qom-get', 'path=comp0', 'property=compare_timeout')
        check_eq(json.loads(r.stdout), 5000, 'qom-get key=value')
        # KEY=VALUE, and a whole JSON object
        r = ctl(p, 'object-add', 'qom-type=iothread', 'id=io9',
                'poll-max-ns=0')
        check_eq(r.returncode, 0, r.stderr)
        r = ctl(p, 'object-add',
                '{"qom-type": "iothread", "id": "io10", "poll-max-ns": 100}')
        check_eq(r.returncode, 0, r.stderr)
        ids = {t['id']: t for t in p.qmp.cmd('query-iothreads')}
        check('io9' in ids and ids['io10']['poll-max-ns'] == 100, str(ids))
        # errors
        r = ctl(p, 'no-such-command')
        check_eq(r.returncode, 1, 'QMP error status')
        check(r.stderr.startswith('error: CommandNotFound: '), r.stderr)
        r = ctl(p, 'query-colo-compare-stats', 'id=nope')
        check_eq(r.returncode, 1, 'QMP error status')
        check("'nope'" in r.stderr, r.stderr)
        r = ctl(p, 'query-colo-compare-stats', 'nope')
        check_eq(r.returncode, 2, 'usage error')
        check('KEY=VALUE' in r.stderr, r.stderr)
        r = subprocess.run([sys.executable, ctl_path(), '-t', '0.2', '-s',
                            p.qmp_path + '.missing', 'query-status'],
                           capture_output=True, text=True, timeout=30)
        check_eq(r.returncode, 2, 'no socket')
        check('cannot connect' in r.stderr, r.stderr)
        p.stop()


def test_status():
    p, pri, sec, out = proxy()
    with p:
        flow(p, pri, sec, out)
        r = ctl(p, 'status')
        check_eq(r.returncode, 0, r.stderr)
        t = r.stdout
        log(t)
        for want in ('running', 'colo: role primary', 'driver event',
                     'checkpoints: started 0', 'compare comp0:',
                     'released 9 (matched 9)', 'hold p50 ', '(n=9)',
                     'links:', 'pri ', 'up'):
            check(want in t, f'{want!r} not in status:\n{t}')
        p.stop()


def test_events():
    p, pri, sec, out = proxy()
    with p:
        ev = subprocess.Popen([sys.executable, ctl_path(), '-s', p.qmp_path,
                               'events', '-n', '2', '-t', '20',
                               'COLO_CHECKPOINT_REQUEST',
                               'COLO_CHECKPOINT_DONE'],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
        try:
            wait_for(lambda: p.qmp.cmd('query-qmp-stats')['clients'] >= 2,
                     what='events client connected')
            time.sleep(0.2)     # its qmp_capabilities
            p.qmp.cmd('x-colo-checkpoint')
            p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=5)
            p.qmp.cmd('x-colo-checkpoint-done')
            so, se = ev.communicate(timeout=20)
        finally:
            if ev.poll() is None:
                ev.kill()
                ev.wait()
        check_eq(ev.returncode, 0, se)
        lines = [json.loads(x) for x in so.splitlines()]
        check_eq([e['event'] for e in lines],
                 ['COLO_CHECKPOINT_REQUEST', 'COLO_CHECKPOINT_DONE'], so)
        check_eq(lines[0]['data']['reason'], 'manual', 'reason')
        check('timestamp' in lines[1] and 'duration-us' in lines[1]['data'],
              so)
        # -t alone ends a quiet tail
        r = ctl(p, 'events', '-t', '0.3')
        check_eq((r.returncode, r.stdout), (0, ''), 'quiet tail')
        p.stop()


def test_top():
    p, pri, sec, out = proxy()
    with p:
        stop = threading.Event()

        def feed():
            i = 0
            while not stop.is_set():
                i += 1
                send_frame(pri, pk.udp(b'top%d' % i))
                time.sleep(0.002)   # held a moment: hold time > 0
                send_frame(sec, pk.udp(b'top%d' % i, ttl=3, ident=55))
                recv_frame(out)
                time.sleep(0.01)
        th = threading.Thread(target=feed, daemon=True)
        th.start()
        try:
            r = ctl(p, 'top', '--iterations', '2', '-i', '1')
        finally:
            stop.set()
            th.join(10)
        check_eq(r.returncode, 0, r.stderr)
        log(r.stdout)
        check('\x1b[' not in r.stdout, 'no terminal codes without a tty')
        blocks = [b for b in r.stdout.split('\n\n') if b.strip()]
        check_eq(len(blocks), 2, 'two refreshes')
        for b in blocks:
            check('colo-proxy top  role primary' in b, b)
            row = [x for x in b.splitlines() if x.startswith('comp0')]
            check_eq(len(row), 1, b)
            cols = row[0].split()
            check(float(cols[1]) > 0 and float(cols[3]) > 0,
                  f'frames/s: {row[0]}')
            check(cols[-2] != '-' and cols[-1] != '-', f'hold: {row[0]}')
        r = ctl(p, 'top', '--once', '-i', '0.2')
        check_eq(r.returncode, 0, r.stderr)
        check('checkpoints/s' in r.stdout and 'comp0' in r.stdout, r.stdout)
        p.stop()


def test_shell():
    p, pri, sec, out = proxy()
    with p:
        r = ctl(p, '-c', 'shell', stdin='# a comment\nquery-status\n'
                'qom-get comp0 compare_timeout\nno-such-command\n'
                'query-colo-compare-stats id=comp0\n')
        check_eq(r.returncode, 1, 'an error in the session')
        lines = r.stdout.splitlines()
        check_eq(len(lines), 4, r.stdout)
        check_eq(json.loads(lines[0])['status'], 'running', 'status')
        check_eq(json.loads(lines[1]), 3000, 'qom-get')
        check(lines[2].startswith('error: CommandNotFound'), lines[2])
        check_eq(json.loads(lines[3])[0]['id'], 'comp0', 'stats')
        p.stop()


def test_module():
    sys.path.insert(0, os.path.join(source_dir(), 'scripts'))
    m = importlib.import_module('colo_proxy_ctl')
    h = {'count': 10, 'sum-us': 200, 'buckets': [
        {'le-us': 10, 'count': 0}, {'le-us': 100, 'count': 10},
        {'le-us': 1000, 'count': 10}]}
    check_eq(m.histogram_quantile(h, 0.5), 55.0, 'p50')
    check_eq(m.histogram_quantile(h, 1.0), 100.0, 'p100')
    base = {'count': 10, 'sum-us': 200, 'buckets': h['buckets']}
    check_eq(m.histogram_quantile(h, 0.5, base), None, 'no new data')
    check_eq(m.parse_args_kv(['a=1', 'b=x', 'c.d=true', '{"e": [1]}']),
             {'a': 1, 'b': 'x', 'c': {'d': True}, 'e': [1]}, 'args')


if __name__ == '__main__':
    run_tests([test_module, test_one_shot, test_status, test_events,
               test_top, test_shell])
