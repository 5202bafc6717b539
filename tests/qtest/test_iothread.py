#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_iothread - the iothread object over QMP: query-iothreads (QEMU's
command, with our polling counters), its thread, and the poll-* properties
set at creation and at run time."""

import os
import time

from coloqtest import *


def iothreads(p):
    return {t['id']: t for t in p.qmp.cmd('query-iothreads')}


def test_query_iothreads():
    p = ColoProxy(['-object', 'iothread,id=io0',
                   '-object', 'iothread,id=io1,poll-max-ns=0,poll-shrink=2'])
    r = p.qmp.cmd('query-iothreads')
    check_eq([t['id'] for t in r], ['io0', 'io1'], 'creation order')
    t = iothreads(p)
    check_eq(t['io0']['poll-max-ns'], 32768, 'QEMU default poll-max-ns')
    check_eq((t['io1']['poll-max-ns'], t['io1']['poll-shrink']), (0, 2),
             'io1 settings')
    for name, info in t.items():
        for k in ('thread-id', 'poll-grow', 'aio-max-batch', 'poll-ns',
                  'waits', 'found-polling'):
            check(isinstance(info[k], int), f'{name}.{k}: {info}')
        with open(f'/proc/{p.pid}/task/{info["thread-id"]}/comm') as f:
            check_eq(f.read().strip(), f'iothread-{name}',
                     f'{name} thread-id names its thread')
    # run time: the setting shows at once
    p.qmp.cmd('qom-set', path='/objects/io1', property='poll-max-ns',
              value=1000000)
    check_eq(iothreads(p)['io1']['poll-max-ns'], 1000000, 'after qom-set')
    # a busy iothread: colo-compare's scan timer wakes it every 100 ms
    d = p.dir
    for c in ('pri', 'sec', 'out'):
        p.qmp.cmd('chardev-add', id=c, backend={
            'type': 'socket', 'data': {
                'addr': {'type': 'unix',
                         'data': {'path': os.path.join(d, c + '.sock')}},
                'server': True, 'wait': False}})
    p.qmp.cmd('object-add', **{'qom-type': 'colo-compare', 'id': 'c0',
                               'primary_in': 'pri', 'secondary_in': 'sec',
                               'outdev': 'out', 'iothread': 'io1',
                               'expired_scan_cycle': 100})
    w0 = iothreads(p)['io1']['waits']
    time.sleep(0.6)
    w1 = iothreads(p)['io1']['waits']
    check(w1 >= w0 + 3, f'io1 waits {w0} -> {w1} in 0.6 s of 100 ms scans')
    # object-add / object-del
    p.qmp.cmd('object-add', **{'qom-type': 'iothread', 'id': 'io2'})
    check('io2' in iothreads(p), 'io2 listed')
    p.qmp.cmd('object-del', id='io2')
    check('io2' not in iothreads(p), 'io2 gone')
    p.stop()


if __name__ == '__main__':
    run_tests([test_query_iothreads])
