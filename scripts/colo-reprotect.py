#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""colo-reprotect - re-protect a COLO survivor: the side that failed over
and runs alone becomes the primary of a new pair, in place (issue 14 §5,
docs/ha.md §4).

Run on the survivor's host once the new secondary is up on the repaired
host (its QEMU started with -incoming and x-colo/events set, its
colo-proxy started as a secondary whose links point at this host).  It
talks QMP to this host's colo-proxy and to this host's QEMU, and takes
these steps, printing one line per step with the pair's state (the
colo-proxy's query-colo-status and the QEMU's query-colo-status /
query-migrate):

  0 check   colo-proxy: mode "none" after a failover, colo-quorum (if
            any) quorate and not stale -- a side that may not serve is
            never made a primary
  1 clean   what the old role left (by query-colo-status last-mode): a
            former secondary's redirectors (f1, f2, which pass everything
            since the failover), a former primary's mirror, redirectors
            and colo-compare; the colo-heartbeat; their chardevs
  2 links   the primary's chardevs: mirror0, compare1, heartbeat (servers
            the new secondary connects to) and the internal compare0 /
            compare_out pairs
  3 frame   colo-frame re-created in mode primary (driver=qemu on this
            QEMU's monitor for the driver): checkpoints are requested from
            this QEMU from now on
  4 filters filter-mirror behind the kept filter-rewriter of a former
            secondary (position id=REWRITER, insert=behind; a former
            primary has none: its guest's sequence space is the
            client's): client frames reach the new
            secondary in this guest's sequence space), redirectors and
            colo-compare at the chain's tail (the guest's output is
            compared in its own sequence space, then translated by the
            rewriter for the connections from before the failover), and
            a colo-heartbeat server
  5 qemu    x-colo, events and pause-before-switchover on this QEMU,
            x-checkpoint-delay, downtime-limit
  6 migrate `migrate` to the new secondary (retried while the target is
            not listening yet); at "pre-switchover" (this guest stopped:
            it sends and takes no frame) step 4 runs, then
            migrate-continue, until query-migrate says "colo"

Why step 4 waits for the switchover (--filters-at switchover, the
default): colo-compare holds the guest's output until the secondary sends
the same, and the secondary runs only from the switchover on.  Added
before `migrate`, the filters held every frame the guest sent during the
whole precopy (0.5-1.3 s of 256 MB under TCG) and the first of them
were never matched (the new secondary starts from a state that has
already sent them): the client's longest round trip across the
re-protection was about one second.  Added while the guest is stopped
at the switchover, nothing it sent before is held and nothing it sends
after escapes the comparison; the client frames that arrive meanwhile
wait in QEMU's queue, not lost, and the mirror starts with the first
input the new secondary has not seen.  --filters-at start keeps the old
order (measurements, QEMUs without pause-before-switchover).

The filters' QMP is the same that tests/qtest/test_reprotect.py checks
frame by frame.  Block replication is not driven here: COLO-FT.txt's
"Secondary resume replication" (drive-mirror to the new secondary's NBD
export, then drive_add of a replication child and x-blockdev-change)
comes before step 6 for guests with disks; the tested guests are
diskless (tests/vm/).

Usage:
  colo-reprotect.py --proxy-qmp PATH --qemu-qmp PATH --frame-qmp PATH
                    --links unix:DIR | --links tcp:HOST:PORT
                    --migrate URI [--checkpoint-delay MS] [--timeout S]

--links: where the new secondary connects (unix:DIR: DIR/mirror.sock,
DIR/compare1.sock, DIR/heartbeat.sock and the internal DIR/compare0.sock,
DIR/compare_out.sock -- tests/vm/colopair.py's names; tcp:HOST:PORT:
mirror PORT, compare1 PORT+1, heartbeat PORT+2 on HOST, the internal ones
on 127.0.0.1 PORT+3 and PORT+4).  --frame-qmp: the QEMU monitor the
colo-frame's driver uses (a second monitor of this QEMU, unix path).
Exit status 0 when COLO is re-established, 1 with the failing step's
message otherwise.  Python standard library only.
"""

import argparse
import json
import os
import socket
import sys
import time


# what a failed-over side keeps of its old role, by last-mode: (objects,
# chardevs) removed in step 1 (ids of docs/qemu.md's command lines)
OLD = {
    'secondary': ('f1,f2,hb0', 'red0,red1,hb'),
    'primary': ('comp0,m0,redire0,redire1,hb0',
                'mirror0,compare1,compare0-0,compare0,compare_out0,'
                'compare_out,hb'),
}


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.f = self.s.makefile('rb')
        self._read()                       # greeting
        self.cmd('qmp_capabilities')

    def _read(self):
        while True:
            line = self.f.readline()
            if not line:
                raise QMPError('monitor closed the connection')
            m = json.loads(line)
            if 'event' not in m:
                return m

    def cmd(self, name, **args):
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.s.sendall(json.dumps(msg).encode() + b'\n')
        r = self._read()
        if 'error' in r:
            raise QMPError(f'{name}: {r["error"].get("desc")}')
        return r.get('return')

    def close(self):
        self.s.close()


def sock_backend(addr, server):
    d = {'addr': addr, 'server': server}
    if server:
        d['wait'] = False
    return {'type': 'socket', 'data': d}


def link_addrs(spec):
    """{chardev role: address} for --links."""
    if spec.startswith('unix:'):
        d = spec[5:]
        u = lambda n: {'type': 'unix', 'data': {     # noqa: E731
            'path': os.path.join(d, n + '.sock')}}
        return {'mirror': u('mirror'), 'compare1': u('compare1'),
                'hb': u('heartbeat'), 'compare0': u('compare0'),
                'compare_out': u('compare_out')}
    if spec.startswith('tcp:'):
        host, port = spec[4:].rsplit(':', 1)
        port = int(port)
        t = lambda h, p: {'type': 'inet', 'data': {     # noqa: E731
            'host': h, 'port': str(p)}}
        return {'mirror': t(host, port), 'compare1': t(host, port + 1),
                'hb': t(host, port + 2),
                'compare0': t('127.0.0.1', port + 3),
                'compare_out': t('127.0.0.1', port + 4)}
    raise SystemExit(f'--links: unix:DIR or tcp:HOST:PORT, not {spec!r}')


class Reprotect:
    def __init__(self, a, out=print):
        self.a = a
        self.out = out
        self.px = QMP(a.proxy_qmp)
        self.qm = QMP(a.qemu_qmp)
        self.t0 = time.monotonic()

    def state(self):
        p = self.px.cmd('query-colo-status')
        q = self.qm.cmd('query-colo-status')
        m = self.qm.cmd('query-migrate').get('status', 'none')
        held = p.get('output-held')
        return (f'colo-proxy {p["mode"]} (last {p["last-mode"]}'
                f'{", output held" if held else ""}), QEMU {q["mode"]} '
                f'(migration {m})')

    def step(self, n, name, fn):
        try:
            detail = fn()
        except QMPError as e:
            raise SystemExit(f'colo-reprotect: step {n} {name}: {e}')
        self.out(f'colo-reprotect: step {n} {name} done '
                 f'(+{time.monotonic() - self.t0:.2f}s){": " + detail if detail else ""}'
                 f'; {self.state()}')

    def try_cmd(self, name, **args):
        try:
            self.px.cmd(name, **args)
            return True
        except QMPError:
            return False

    # -- the steps --------------------------------------------------------

    def check(self):
        st = self.px.cmd('query-colo-status')
        if st['mode'] != 'none':
            raise QMPError(f'colo-proxy is in mode {st["mode"]}: only a '
                           'side running alone (after a failover) is '
                           're-protected')
        try:
            q = self.px.cmd('query-colo-quorum')
        except QMPError:
            q = []
        for x in q:
            if x.get('stale') or not x.get('quorate'):
                raise QMPError(f'colo-quorum {x["id"]}: '
                               f'{x.get("held-reason") or "not quorate"}: '
                               'this side may not serve, it is not made '
                               'a primary')
        return f'quorum {[(x["id"], x.get("epoch")) for x in q]}'

    def clean(self):
        # what the old role left: a former secondary's redirectors, or a
        # former primary's mirror, redirectors and colo-compare (they
        # pass everything since the failover); their chardevs after them
        last = self.px.cmd('query-colo-status')['last-mode']
        objs, chars = OLD[last] if last in OLD else OLD['secondary']
        objs = self.a.old_objects if self.a.old_objects is not None else objs
        chars = (self.a.old_chardevs if self.a.old_chardevs is not None
                 else chars)
        gone = []
        for oid in objs.split(','):
            if oid and self.try_cmd('object-del', id=oid):
                gone.append(oid)
        for cid in chars.split(','):
            if cid and self.try_cmd('chardev-remove', id=cid):
                gone.append(cid)
        return f'removed {gone}'

    def links(self):
        ad = link_addrs(self.a.links)
        for cid, role, server in (('mirror0', 'mirror', True),
                                  ('compare1', 'compare1', True),
                                  ('compare0', 'compare0', True),
                                  ('compare0-0', 'compare0', False),
                                  ('compare_out', 'compare_out', True),
                                  ('compare_out0', 'compare_out', False),
                                  ('hb', 'hb', True)):
            self.px.cmd('chardev-add', id=cid,
                        backend=sock_backend(ad[role], server))
        return None

    def frame(self):
        frames = [o['name'] for o in self.px.cmd('qom-list', path='/objects')
                  if o['type'] == 'child<colo-frame>']
        for f in frames:
            self.px.cmd('object-del', id=f)
        self.px.cmd('object-add', **{
            'qom-type': 'colo-frame', 'id': self.a.frame_id,
            'mode': 'primary', 'driver': 'qemu',
            'qemu-qmp': f'unix:{self.a.frame_qmp}'})
        return f'replaced {frames}'

    def filters(self):
        nd, rew = self.a.netdev, self.a.rewriter
        add = lambda t, i, **kw: self.px.cmd(     # noqa: E731
            'object-add', **{'qom-type': t, 'id': i, **kw})
        ids = [f['id'] for f in self.px.cmd('query-netfilters')]
        pos = {'position': f'id={rew}', 'insert': 'behind'} \
            if rew in ids else {}     # a former primary has no rewriter
        add('filter-mirror', 'm0', netdev=nd, queue='tx', outdev='mirror0',
            **pos)
        add('filter-redirector', 'redire0', netdev=nd, queue='rx',
            indev='compare_out')
        add('filter-redirector', 'redire1', netdev=nd, queue='rx',
            outdev='compare0')
        add('colo-compare', 'comp0', primary_in='compare0-0',
            secondary_in='compare1', outdev='compare_out0')
        add('colo-heartbeat', 'hb0', chardev='hb',
            interval=self.a.hb_interval, timeout=self.a.hb_timeout,
            failover=True)
        chain = [f['id'] for f in self.px.cmd('query-netfilters')]
        return f'chain {chain}'

    def qemu(self):
        par = {'x-checkpoint-delay': self.a.checkpoint_delay}
        if self.a.downtime_limit is not None:
            par['downtime-limit'] = self.a.downtime_limit
        self.qm.cmd('migrate-set-parameters', **par)
        self.qm.cmd('migrate-set-capabilities', capabilities=[
            {'capability': 'x-colo', 'state': True},
            {'capability': 'events', 'state': True},
            {'capability': 'pause-before-switchover',
             'state': self.a.filters_at == 'switchover'}])
        return None

    def migrate(self):
        deadline = time.monotonic() + self.a.timeout
        tries = 0
        continued = False
        while True:
            tries += 1
            self.qm.cmd('migrate', uri=self.a.migrate)
            while True:
                st = self.qm.cmd('query-migrate').get('status')
                if st == 'pre-switchover' and not continued:
                    # the guest is stopped: the filters go in now
                    t = time.monotonic()
                    try:
                        self.step('4', 'filters', self.filters)
                    except BaseException:
                        # never COLO without the comparison: the guest
                        # resumes here, alone as before
                        self.qm.cmd('migrate_cancel')
                        raise
                    self.qm.cmd('migrate-continue', state='pre-switchover')
                    # QEMU leaves pre-switchover asynchronously: the next
                    # query may still say it
                    continued = True
                    self.out(f'colo-reprotect: switchover paused '
                             f'{(time.monotonic() - t) * 1000:.0f} ms '
                             'for the filters')
                    continue
                if st in ('colo', 'completed', 'failed', 'cancelled'):
                    break
                if time.monotonic() > deadline:
                    raise QMPError(f'migration still {st} after '
                                   f'{self.a.timeout}s')
                time.sleep(0.02)
            if st == 'colo':
                return f'COLO after {tries} migrate(s)'
            if st == 'completed':
                raise QMPError('the migration completed instead of '
                               'entering COLO (x-colo off on the target?)')
            if time.monotonic() > deadline:
                raise QMPError(f'migration {st} ({tries} tries)')
            time.sleep(0.5)    # the target is not listening yet

    def run(self):
        self.step(0, 'check', self.check)
        self.step(1, 'clean', self.clean)
        self.step(2, 'links', self.links)
        self.step(3, 'frame', self.frame)
        if self.a.filters_at == 'start':
            self.step(4, 'filters', self.filters)
        self.step(5, 'qemu', self.qemu)
        self.step(6, 'migrate', self.migrate)
        self.px.close()
        self.qm.close()


def parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--proxy-qmp', required=True,
                   help="this host's colo-proxy QMP socket")
    p.add_argument('--qemu-qmp', required=True,
                   help="this host's QEMU QMP socket (the operator's)")
    p.add_argument('--frame-qmp', required=True,
                   help="the QEMU monitor colo-frame's driver uses")
    p.add_argument('--links', required=True,
                   help='unix:DIR or tcp:HOST:PORT')
    p.add_argument('--migrate', required=True,
                   help="the new secondary QEMU's -incoming URI")
    p.add_argument('--netdev', default='hn0')
    p.add_argument('--rewriter', default='rew0')
    p.add_argument('--frame-id', default='colo0')
    p.add_argument('--old-objects', default=None,
                   help="the old role's filters and heartbeat, comma-"
                   "separated (default: by last-mode, tests/vm/colopair.py's "
                   "ids)")
    p.add_argument('--old-chardevs', default=None,
                   help="their chardevs (default: by last-mode)")
    p.add_argument('--hb-interval', type=int, default=100)
    p.add_argument('--hb-timeout', type=int, default=500)
    p.add_argument('--checkpoint-delay', type=int, default=2000)
    p.add_argument('--timeout', type=float, default=60)
    p.add_argument('--filters-at', choices=('switchover', 'start'),
                   default='switchover',
                   help='add the primary filters while the guest is '
                   'stopped at the switchover (default; needs QEMU\'s '
                   'pause-before-switchover) or before migrate')
    p.add_argument('--downtime-limit', type=int, default=None,
                   help="QEMU's downtime-limit (ms) for the initial "
                   "migration (default: QEMU's, 300)")
    return p


def main(argv=None, out=print):
    a = parser().parse_args(argv)
    Reprotect(a, out).run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
