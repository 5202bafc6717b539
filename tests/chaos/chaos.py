#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""chaos.py - randomized churn of everything a user can create, racing
checkpoint broadcasts, failovers and traffic, against one colo-proxy.

    tests/chaos/chaos.py [--duration S] [--seed N] [--workers N]

(`make chaos CHAOS_DURATION=600 CHAOS_SEED=N [BUILD=build-asan]`; `make
check` runs it for 30 s as the meson test 'chaos').  The seed is printed
first: the same seed replays the same sequence of operations in every
thread (the threads' interleaving is the machine's).

What runs at once, each thread on its own QMP connection:

  workers (3)   random object-add/object-del of colo-compare (on an
                iothread or its own thread), the five filters, colo-frame
                (mode primary/secondary/none, driver event/exec),
                iothreads; chardev-add/chardev-remove; netdev_add/
                netdev_del; qom-set of runtime properties; x-colo-
                checkpoint, x-colo-lost-heartbeat (failover); queries;
                and 2-5 of these sent in one write (pipelined), so that
                the main loop reads them in one go.
                Ids come from small shared pools, so the connections race
                for the same objects (errors such as "in use" or "not
                found" are expected answers).
  manager       answers COLO_CHECKPOINT_REQUEST with x-colo-checkpoint-
                done, one in five with ok=false (a failed checkpoint).
  churn traffic connects to whatever chardevs and netdevs exist, sends
                frames, half frames and garbage, and hangs up at random.
  steady traffic two colo-compares that are never deleted (one on an
                iothread, one on its own thread) get numbered UDP frames
                on primary_in and secondary_in, 10 % of them different
                (a miscompare: a checkpoint request); their outdev is read.
  storm         a third never-deleted compare, on the same iothread as
                the first and as many churned ones, gets bursts of frames
                that all miscompare: broadcasts to every compare there go
                out as fast as the frame answers them.
  monitor       samples RSS and checks the process is alive.

Asserted: the process never dies and prints no sanitizer report (ASan,
LSan at exit, UBSan); every command gets an answer (a "return", or an
"error" with class and desc) within COMMAND_TIMEOUT; RSS stays under a
bound; every primary frame of the steady compares is released exactly
once, in order (checked as they arrive, and for completeness after the
churn stops and COLO is switched off so that everything held is
released); SIGTERM at the end exits 0.
"""

import argparse
import collections
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'qtest'))
from coloqtest import (ColoProxy, QMPClient, chardev_unix, connect_unix,  # noqa
                       send_frame, frame_bytes, FrameReader, tmpdir,
                       sanitizer_report, rss_bytes, need_binary,
                       proxy_binary, SKIP_EXIT)
import comparepkt as pk  # noqa: E402

COMMAND_TIMEOUT = 30.0

N_IOTHREADS = 3
N_CHARDEVS = 12
N_COMPARES = 3
N_NETDEVS = 3
N_FILTERS = 6
FILTER_TYPES = ('filter-mirror', 'filter-redirector', 'filter-rewriter',
                'filter-buffer', 'filter-dump')


class ChaosFailure(Exception):
    pass


class Batch:
    """Collects commands instead of running them (op_pipeline)."""

    def __init__(self):
        self.items = []


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = collections.Counter()
        self.err = collections.Counter()
        self.errclass = collections.Counter()
        self.misc = collections.Counter()

    def count(self, op, ok, cls=None):
        with self.lock:
            (self.ok if ok else self.err)[op] += 1
            if cls:
                self.errclass[cls] += 1

    def bump(self, what, n=1):
        with self.lock:
            self.misc[what] += n


class Chaos:
    def __init__(self, args):
        self.args = args
        self.seed = args.seed
        self.stop_ev = threading.Event()
        self.failures = []
        self.flock = threading.Lock()
        self.stats = Stats()
        self.dir = tmpdir('chaos')
        self.rss_max = 0
        self.rss_samples = []
        self.colo_stats = None
        # what op_pipeline strings together: the lifetime races
        pipe = [(3, self.op_compare_add), (3, self.op_compare_del),
                (3, self.op_checkpoint), (0.05, self.op_failover),
                (1, self.op_frame_add), (1, self.op_frame_del),
                (1, self.op_iothread_add), (1, self.op_iothread_del),
                (1, self.op_filter_add), (1, self.op_filter_del),
                (1, self.op_chardev_add), (1, self.op_chardev_remove),
                (1, self.op_query)]
        self.pipe_ops = [f for _, f in pipe]
        self.pipe_weights = [w for w, _ in pipe]

    # ------------------------------------------------------------------
    def fail(self, msg):
        with self.flock:
            self.failures.append(msg)
        self.stop_ev.set()

    def path(self, name):
        return os.path.join(self.dir, name)

    def start(self):
        a = ['-object', 'iothread,id=ios']
        for n in ('s1p', 's1s', 's1o', 's2p', 's2s', 's2o',
                  'xp', 'xs', 'xo'):
            a += ['-chardev', chardev_unix(n, self.path(n + '.sock'))]
        # compare_timeout short, so that what is held is released soon
        # once COLO is off at the end
        a += ['-object', 'colo-compare,id=steady1,primary_in=s1p,'
                         'secondary_in=s1s,outdev=s1o,iothread=ios,'
                         'compare_timeout=500,expired_scan_cycle=100',
              '-object', 'colo-compare,id=steady2,primary_in=s2p,'
                         'secondary_in=s2s,outdev=s2o,'
                         'compare_timeout=500,expired_scan_cycle=100',
              '-object', 'colo-compare,id=storm,primary_in=xp,'
                         'secondary_in=xs,outdev=xo,iothread=ios',
              '-object', 'colo-frame,id=colo0,mode=primary,driver=event,'
                         'min-interval=0,checkpoint-timeout=2000']
        self.proxy = ColoProxy(a, dir=self.dir, timeout=COMMAND_TIMEOUT)

    # ------------------------------------------------------------------
    # QMP with "every command answered" checked

    def qmp(self):
        return self.proxy.connect_qmp(timeout=COMMAND_TIMEOUT)

    def cmd(self, q, op, name, args=None):
        """Runs a command; returns (ok, reply).  No answer within
        COMMAND_TIMEOUT, a closed connection or a malformed reply is a
        failure of the run.  With a Batch for 'q', only collects it."""
        if isinstance(q, Batch):
            q.items.append((op, name, args))
            return None, None
        try:
            r = q.cmd_raw(name, args)
        except TimeoutError:
            raise ChaosFailure(f'{name} {args!r}: no answer within '
                               f'{COMMAND_TIMEOUT}s')
        except (EOFError, OSError) as e:
            raise ChaosFailure(f'{name} {args!r}: connection lost: {e}')
        self.drop_events(q)
        return self.check_reply(op, name, r)

    @staticmethod
    def drop_events(q):
        """Every connection gets every event; only the manager keeps the
        checkpoint requests (it answers them)."""
        if getattr(q, 'keeps_requests', False):
            kept = [e for e in q.events
                    if e.get('event') == 'COLO_CHECKPOINT_REQUEST']
            q.events.clear()
            q.events.extend(kept)
        else:
            q.events.clear()

    def check_reply(self, op, name, r):
        if 'return' in r:
            self.stats.count(op, True)
            return True, r['return']
        e = r.get('error')
        if not isinstance(e, dict) or not isinstance(e.get('class'), str) \
                or not isinstance(e.get('desc'), str):
            raise ChaosFailure(f'{name}: malformed reply {r!r}')
        self.stats.count(op, False, e['class'])
        return False, e

    def op_pipeline(self, q, rng):
        """2 to 5 commands in one write (as issue 19's crash needed:
        x-colo-checkpoint-done and object-del read in one go), then all
        the replies, in order."""
        b = Batch()
        for _ in range(rng.randrange(2, 6)):
            rng.choices(self.pipe_ops, self.pipe_weights)[0](b, rng)
        text = ''
        ids = []
        for op, name, args in b.items:
            req = {'execute': name, 'id': q.next_id}
            ids.append(q.next_id)
            q.next_id += 1
            if args:
                req['arguments'] = args
            text += json.dumps(req) + '\n'
        try:
            q.send_raw(text)
            for (op, name, args), want in zip(b.items, ids):
                r = q.recv_reply()
                if r.get('id') != want:
                    raise ChaosFailure(f'pipelined reply id {r.get("id")} '
                                       f'for request {want}: {r!r:.300}')
                self.check_reply(op, name, r)
        except TimeoutError:
            raise ChaosFailure(f'pipelined {[i[1] for i in b.items]}: no '
                               f'answer within {COMMAND_TIMEOUT}s')
        except (EOFError, OSError) as e:
            raise ChaosFailure(f'pipelined: connection lost: {e}')
        self.drop_events(q)
        self.stats.bump('pipelines')

    # ------------------------------------------------------------------
    # workers

    def worker(self, idx):
        rng = random.Random(self.seed * 100 + idx)
        q = self.qmp()
        ops = [
            (6, self.op_chardev_add), (4, self.op_chardev_remove),
            (5, self.op_compare_add), (5, self.op_compare_del),
            (2, self.op_iothread_add), (2, self.op_iothread_del),
            (3, self.op_netdev_add), (2, self.op_netdev_del),
            (5, self.op_filter_add), (4, self.op_filter_del),
            (2, self.op_frame_del), (2, self.op_frame_add),
            (4, self.op_checkpoint), (0.05, self.op_failover),
            (3, self.op_qom_set), (4, self.op_query),
        ]
        ops.append((4, self.op_pipeline))
        weights = [w for w, _ in ops]
        try:
            while not self.stop_ev.is_set():
                op = rng.choices(ops, weights)[0][1]
                op(q, rng)
                if rng.random() < 0.3:
                    time.sleep(rng.random() * 0.01)
        except ChaosFailure as e:
            self.fail(f'worker {idx}: {e}')
        except Exception as e:   # noqa: B902
            if not self.stop_ev.is_set():
                self.fail(f'worker {idx}: {type(e).__name__}: {e}')
        finally:
            q.close()

    def op_chardev_add(self, q, rng):
        i = rng.randrange(N_CHARDEVS)
        self.cmd(q, 'chardev-add', 'chardev-add', {
            'id': f'ch{i}',
            'backend': {'type': 'socket', 'data': {
                'addr': {'type': 'unix',
                         'data': {'path': self.path(f'ch{i}.sock')}},
                'server': True, 'wait': False}}})

    def op_chardev_remove(self, q, rng):
        self.cmd(q, 'chardev-remove', 'chardev-remove',
                 {'id': f'ch{rng.randrange(N_CHARDEVS)}'})

    def op_compare_add(self, q, rng):
        devs = rng.sample(range(N_CHARDEVS), 4)
        a = {'qom-type': 'colo-compare', 'id': f'cc{rng.randrange(N_COMPARES)}',
             'primary_in': f'ch{devs[0]}', 'secondary_in': f'ch{devs[1]}',
             'outdev': f'ch{devs[2]}'}
        r = rng.random()
        if r < 0.4:
            # the iothread the steady traffic keeps busy: what is queued
            # there waits, which is where lifetimes get tested
            a['iothread'] = 'ios'
        elif r < 0.8:
            a['iothread'] = f'io{rng.randrange(N_IOTHREADS)}'
        if rng.random() < 0.1:
            a['notify_dev'] = f'ch{devs[3]}'
        if rng.random() < 0.3:
            a['compare_timeout'] = rng.choice([10, 100, 3000])
            a['expired_scan_cycle'] = rng.choice([10, 100, 1000])
        if rng.random() < 0.2:
            a['vnet_hdr_support'] = True
        self.cmd(q, 'compare-add', 'object-add', a)

    def op_compare_del(self, q, rng):
        self.cmd(q, 'compare-del', 'object-del',
                 {'id': f'cc{rng.randrange(N_COMPARES)}'})

    def op_iothread_add(self, q, rng):
        a = {'qom-type': 'iothread', 'id': f'io{rng.randrange(N_IOTHREADS)}'}
        if rng.random() < 0.5:
            a['poll-max-ns'] = rng.choice([0, 1000, 32768])
        self.cmd(q, 'iothread-add', 'object-add', a)

    def op_iothread_del(self, q, rng):
        self.cmd(q, 'iothread-del', 'object-del',
                 {'id': f'io{rng.randrange(N_IOTHREADS)}'})

    def op_netdev_add(self, q, rng):
        i = rng.randrange(N_NETDEVS)
        self.cmd(q, 'netdev-add', 'netdev_add', {
            'type': 'stream', 'id': f'nd{i}', 'server': True,
            'addr': {'type': 'unix', 'path': self.path(f'nd{i}.sock')}})

    def op_netdev_del(self, q, rng):
        self.cmd(q, 'netdev-del', 'netdev_del',
                 {'id': f'nd{rng.randrange(N_NETDEVS)}'})

    def op_filter_add(self, q, rng):
        t = rng.choice(FILTER_TYPES)
        a = {'qom-type': t, 'id': f'f{rng.randrange(N_FILTERS)}',
             'netdev': f'nd{rng.randrange(N_NETDEVS)}',
             'queue': rng.choice(['all', 'rx', 'tx'])}
        ch = [f'ch{i}' for i in rng.sample(range(N_CHARDEVS), 2)]
        if t == 'filter-mirror':
            a['outdev'] = ch[0]
        elif t == 'filter-redirector':
            if rng.random() < 0.7:
                a['indev'] = ch[0]
            if 'indev' not in a or rng.random() < 0.5:
                a['outdev'] = ch[1]
        elif t == 'filter-buffer':
            a['interval'] = rng.choice([1000, 100000])
        elif t == 'filter-dump':
            a['file'] = self.path(f'dump{rng.randrange(4)}.pcap')
        if t in ('filter-mirror', 'filter-redirector') and rng.random() < .2:
            a['vnet_hdr_support'] = True
        if rng.random() < 0.2:
            a['status'] = 'off'
        self.cmd(q, 'filter-add', 'object-add', a)

    def op_filter_del(self, q, rng):
        self.cmd(q, 'filter-del', 'object-del',
                 {'id': f'f{rng.randrange(N_FILTERS)}'})

    def op_frame_del(self, q, rng):
        self.cmd(q, 'frame-del', 'object-del', {'id': 'colo0'})

    def op_frame_add(self, q, rng):
        a = {'qom-type': 'colo-frame', 'id': 'colo0',
             'mode': rng.choice(['primary', 'primary', 'secondary']),
             'min-interval': rng.choice([0, 0, 10, 100]),
             'checkpoint-timeout': rng.choice([200, 2000])}
        if rng.random() < 0.2:
            a['driver'] = 'exec'
            a['exec'] = rng.choice(['true', 'false', '/nonexistent/x'])
        self.cmd(q, 'frame-add', 'object-add', a)

    def op_checkpoint(self, q, rng):
        if rng.random() < 0.5:
            self.cmd(q, 'checkpoint', 'x-colo-checkpoint')
        else:
            self.cmd(q, 'checkpoint-done', 'x-colo-checkpoint-done',
                     {'ok': rng.random() < 0.8})

    def op_failover(self, q, rng):
        ok, _ = self.cmd(q, 'failover', 'x-colo-lost-heartbeat')
        if ok:
            self.stats.bump('failovers')

    def op_qom_set(self, q, rng):
        if rng.random() < 0.5:
            path = rng.choice(['steady1', 'steady2',
                               f'cc{rng.randrange(N_COMPARES)}'])
            prop, val = rng.choice([('compare_timeout', 500),
                                    ('expired_scan_cycle', 100),
                                    ('max_queue_size', 1024)])
        else:
            path = f'f{rng.randrange(N_FILTERS)}'
            prop, val = 'status', rng.choice(['on', 'off'])
        self.cmd(q, 'qom-set', 'qom-set',
                 {'path': path, 'property': prop, 'value': val})

    def op_query(self, q, rng):
        name = rng.choice(['query-colo-status', 'query-colo-compare-stats',
                           'query-netfilters', 'query-iothreads',
                           'query-chardev', 'query-colo-stats',
                           'query-netfilter-stats', 'query-netdev-stats',
                           'query-chardev-stats'])
        self.cmd(q, 'query', name)

    # ------------------------------------------------------------------
    # the manager: answers checkpoint requests

    def manager(self):
        rng = random.Random(self.seed * 100 + 50)
        q = self.qmp()
        q.keeps_requests = True
        try:
            while not self.manager_stop.is_set():
                try:
                    ev = q.get_event('COLO_CHECKPOINT_REQUEST', timeout=0.3)
                except TimeoutError:
                    continue
                self.stats.bump('checkpoint-requests')
                self.drop_events(q)
                if rng.random() < 0.1:
                    time.sleep(rng.random() * 0.02)
                ok = self.finalizing.is_set() or rng.random() >= 0.2
                self.cmd(q, 'manager-done', 'x-colo-checkpoint-done',
                         {'ok': ok})
        except ChaosFailure as e:
            self.fail(f'manager: {e}')
        except (EOFError, OSError) as e:
            if not self.manager_stop.is_set():
                self.fail(f'manager: {e}')
        finally:
            q.close()

    # ------------------------------------------------------------------
    # traffic into whatever exists

    def churn_traffic(self):
        rng = random.Random(self.seed * 100 + 60)
        socks = []
        names = ([f'ch{i}' for i in range(N_CHARDEVS)] +
                 [f'nd{i}' for i in range(N_NETDEVS)])
        while not self.stop_ev.is_set():
            if len(socks) < 12 or rng.random() < 0.2:
                n = rng.choice(names)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect(self.path(n + '.sock'))
                    socks.append(s)
                    self.stats.bump('churn-connects')
                except OSError:
                    s.close()
            if socks:
                s = rng.choice(socks)
                r = rng.random()
                if r < 0.75:
                    data = b''.join(frame_bytes(
                        pk.udp(b'churn%d' % rng.randrange(1 << 30),
                               sport=rng.randrange(1, 65535)))
                        for _ in range(rng.randrange(1, 20)))
                elif r < 0.85:
                    data = frame_bytes(pk.udp(b'half'))[:rng.randrange(1, 10)]
                elif r < 0.9:
                    data = rng.randbytes(rng.randrange(1, 200))
                else:
                    data = b''
                try:
                    if data:
                        s.send(data)
                        self.stats.bump('churn-bytes', len(data))
                    if rng.random() < 0.08:
                        socks.remove(s)
                        s.close()
                except OSError:
                    socks.remove(s)
                    s.close()
            # read and discard (a peer that does not read gets pushed back)
            rd = [s for s in socks]
            try:
                r, _, _ = select.select(rd, [], [], 0)
            except (OSError, ValueError):
                r = []
            for s in r:
                try:
                    if not s.recv(65536):
                        socks.remove(s)
                        s.close()
                except OSError:
                    if s in socks:
                        socks.remove(s)
                    s.close()
            time.sleep(0.002)
        for s in socks:
            s.close()

    # ------------------------------------------------------------------
    # the steady compares: exactly once, in order

    def steady_start(self):
        self.steady = {}
        for name, pfx in (('steady1', 's1'), ('steady2', 's2')):
            st = {
                'pri': connect_unix(self.path(pfx + 'p.sock'),
                                    proc=self.proxy),
                'sec': connect_unix(self.path(pfx + 's.sock'),
                                    proc=self.proxy),
                'out': connect_unix(self.path(pfx + 'o.sock'),
                                    proc=self.proxy),
                'released': 0, 'last': -1,
                'lock': threading.Lock(),
            }
            self.steady[name] = st

    def steady_send(self):
        """The same numbered frames to both steady compares (their
        primary_in); secondary_in gets the same, 10 % of them altered."""
        rng = random.Random(self.seed * 100 + 70)
        n = 0
        try:
            while not self.stop_ev.is_set():
                batch = b''
                sbatch = b''
                for _ in range(10):
                    f = pk.udp(b'steady%010d' % n, sport=1111, dport=2222)
                    batch += frame_bytes(f)
                    if rng.random() < 0.10:
                        sbatch += frame_bytes(pk.udp(b'differs%06d' % n,
                                                     sport=1111, dport=2222))
                        self.stats.bump('steady-mismatches')
                    else:
                        sbatch += frame_bytes(f)
                    n += 1
                for st in self.steady.values():
                    st['pri'].sendall(batch)
                    st['sec'].sendall(sbatch)
                self.steady_total = n
                time.sleep(0.01)
        except OSError as e:
            if not self.stop_ev.is_set():
                self.fail(f'steady traffic: {e}')

    def storm(self):
        """Compare 'storm' (on the steady iothread, never deleted) gets
        bursts of frames that all miscompare: a checkpoint request each,
        so broadcasts to every compare on that iothread go out as fast as
        the frame answers them (at once in mode none) while the workers
        delete compares there."""
        rng = random.Random(self.seed * 100 + 80)
        socks = [connect_unix(self.path(n + '.sock'), proc=self.proxy)
                 for n in ('xp', 'xs', 'xo')]
        socks[2].setblocking(False)
        n = 0
        try:
            while not self.stop_ev.is_set():
                burst_end = time.monotonic() + rng.uniform(0.5, 2)
                while time.monotonic() < burst_end and \
                        not self.stop_ev.is_set():
                    p = b''.join(frame_bytes(pk.udp(b'p%d' % (n + i),
                                                    sport=7, dport=9))
                                 for i in range(16))
                    q = b''.join(frame_bytes(pk.udp(b's%d' % (n + i),
                                                    sport=7, dport=9))
                                 for i in range(16))
                    n += 16
                    socks[0].sendall(p)
                    socks[1].sendall(q)
                    try:
                        while socks[2].recv(65536):
                            pass
                    except BlockingIOError:
                        pass
                    time.sleep(0.001)
                self.stop_ev.wait(rng.uniform(0.2, 1))
        except OSError as e:
            if not self.stop_ev.is_set():
                self.fail(f'storm traffic: {e}')
        finally:
            self.stats.bump('storm-frames', n)
            for s in socks:
                s.close()

    def steady_reader(self, name):
        st = self.steady[name]
        rd = FrameReader()
        s = st['out']
        s.settimeout(0.2)
        while not self.done_reading.is_set():
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                self.fail(f'{name} outdev: {e}')
                return
            if not d:
                if not self.done_reading.is_set():
                    self.fail(f'{name} outdev: closed by the proxy')
                return
            for f in rd.feed(d):
                i = f.find(b'steady')
                if i < 0:
                    self.fail(f'{name}: released a frame that was not '
                              f'sent: {f[:60]!r}')
                    return
                seq = int(f[i + 6:i + 16])
                with st['lock']:
                    if seq <= st['last']:
                        self.fail(f'{name}: frame {seq} released after '
                                  f'{st["last"]} (twice, or out of order)')
                        return
                    st['last'] = seq
                    st['released'] += 1

    # ------------------------------------------------------------------
    def monitor(self):
        while not self.stop_ev.is_set():
            if not self.proxy.alive():
                self.fail(f'colo-proxy died (exit code '
                          f'{self.proxy.proc.poll()})')
                return
            try:
                rss, _ = rss_bytes(self.proxy.pid)
            except OSError:
                continue
            self.rss_max = max(self.rss_max, rss)
            self.rss_samples.append(rss)
            if rss > self.args.rss_mib << 20:
                self.fail(f'RSS {rss >> 20} MiB over the bound of '
                          f'{self.args.rss_mib} MiB')
                return
            rep = sanitizer_report(self.proxy.stderr())
            if rep:
                self.fail(f'sanitizer report:\n{rep}')
                return
            time.sleep(0.5)

    # ------------------------------------------------------------------
    def run(self):
        print(f'chaos: seed={self.seed} duration={self.args.duration}s '
              f'workers={self.args.workers} binary={proxy_binary()}',
              flush=True)
        self.manager_stop = threading.Event()
        self.finalizing = threading.Event()
        self.done_reading = threading.Event()
        self.steady_total = 0
        self.start()
        self.steady_start()
        threads = [threading.Thread(target=self.worker, args=(i,),
                                    name=f'worker{i}')
                   for i in range(self.args.workers)]
        threads += [threading.Thread(target=self.manager, name='manager'),
                    threading.Thread(target=self.churn_traffic,
                                     name='churn'),
                    threading.Thread(target=self.monitor, name='monitor')]
        steady_threads = [threading.Thread(target=self.steady_send,
                                           name='steady'),
                          threading.Thread(target=self.storm,
                                           name='storm')]
        readers = [threading.Thread(target=self.steady_reader, args=(n,),
                                    name=n) for n in self.steady]
        for t in threads + steady_threads + readers:
            t.daemon = True
            t.start()
        t0 = time.monotonic()
        while time.monotonic() - t0 < self.args.duration:
            if self.stop_ev.wait(1):
                break
        self.stop_ev.set()
        for t in threads[:self.args.workers] + steady_threads + threads[-2:]:
            t.join(COMMAND_TIMEOUT + 10)
            if t.is_alive():
                self.fail(f'thread {t.name} stuck (a command unanswered?)')
        elapsed = time.monotonic() - t0
        if not self.failures:
            self.finish()
        self.manager_stop.set()
        self.done_reading.set()
        for t in readers + [threads[self.args.workers]]:
            t.join(10)
        self.report(elapsed)
        return not self.failures

    def finish(self):
        """Churn is over: switch COLO off, so that every held frame is
        released, and check the steady compares released every frame."""
        self.finalizing.set()
        q = self.qmp()
        try:
            ok, st = self.cmd(q, 'final', 'query-colo-status')
            self.final_status = st
            ok, cs = self.cmd(q, 'final', 'query-colo-stats')
            self.colo_stats = cs if ok else None
            self.cmd(q, 'final', 'object-del', {'id': 'colo0'})
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if all(st['released'] == self.steady_total
                       for st in self.steady.values()):
                    break
                if not self.proxy.alive():
                    break
                time.sleep(0.2)
            for name, st in self.steady.items():
                if st['released'] != self.steady_total:
                    _, cs = self.cmd(q, 'final', 'query-colo-compare-stats',
                                     {'id': name})
                    self.fail(f'{name}: {st["released"]} of '
                              f'{self.steady_total} frames released '
                              f'(last {st["last"]}); stats {cs!r:.1500}')
        except ChaosFailure as e:
            self.fail(f'final: {e}')
        finally:
            q.close()
        self.manager_stop.set()
        self.done_reading.set()
        time.sleep(0.5)             # the readers notice
        for st in self.steady.values():
            for k in ('pri', 'sec', 'out'):
                st[k].close()
        if not self.proxy.alive():
            self.fail(f'colo-proxy died (exit code {self.proxy.proc.poll()})')
            return
        try:
            self.proxy.stop(timeout=60)
        except Exception as e:   # noqa: B902
            self.fail(f'stop: {e}')

    def report(self, elapsed):
        s = self.stats
        total_ok = sum(s.ok.values())
        total_err = sum(s.err.values())
        print(f'chaos: seed={self.seed} ran {elapsed:.0f}s: '
              f'{total_ok + total_err} commands answered '
              f'({total_ok} ok, {total_err} errors)')
        for op in sorted(set(s.ok) | set(s.err)):
            print(f'  {op:16} ok {s.ok[op]:6}  error {s.err[op]:6}')
        print(f'  error classes: {dict(s.errclass)}')
        print(f'  {dict(s.misc)}')
        print(f'  steady frames: {self.steady_total} sent per compare, '
              f'released ' + ', '.join(f'{n} {st["released"]}'
                                       for n, st in self.steady.items()))
        print(f'  COLO frame stats at the end: {self.colo_stats!r:.600}')
        print(f'  RSS max {self.rss_max >> 20} MiB (bound '
              f'{self.args.rss_mib} MiB)')
        if self.failures:
            for f in self.failures:
                print(f'FAIL: {f}')
            if self.proxy.proc is not None:
                err = self.proxy.stderr()
                print('--- colo-proxy stderr (tail) ---')
                print(err[-4000:])
            print(f'chaos: replay with --seed {self.seed}')
            print('0 passed, 1 failed')
        else:
            print('1 passed, 0 failed')


def asan_binary():
    try:
        out = subprocess.run(['ldd', proxy_binary()], capture_output=True,
                             text=True).stdout
    except OSError:
        return False
    return 'libasan' in out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--duration', type=float,
                    default=float(os.environ.get('CHAOS_DURATION', 30)))
    ap.add_argument('--seed', type=int,
                    default=int(os.environ.get('CHAOS_SEED') or
                                random.SystemRandom().randrange(1 << 31)))
    ap.add_argument('--workers', type=int, default=3)
    ap.add_argument('--rss-mib', type=int, default=None)
    args = ap.parse_args()
    if args.rss_mib is None:
        # ASan's shadow memory and quarantine are its own
        args.rss_mib = 1024 if asan_binary() else 256
    need_binary()
    ok = Chaos(args).run()
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
