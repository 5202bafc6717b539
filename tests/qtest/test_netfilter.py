#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_netfilter - filters and backends added and removed over QMP.

QEMU's tests/qtest/test-netfilter.c (object-add / object-del of
filter-buffer on a netdev, with the netdev removed and added back), made
stricter: here a backend that filters or a device still use cannot be
removed (netdev_del fails and says who uses it) instead of leaving filters
pointing at nothing.  Also covers netdev_add with QEMU's nested "addr"
object, the base property errors (QEMU's texts), runtime status changes,
and the shapes of query-netfilters, query-netfilter-stats and
query-netdev-stats.
"""

import os

from coloqtest import *


def need_it():
    need_types('stream', option='-netdev')
    need_types('filter-buffer', 'filter-dump')


def add_buffer(qmp, fid, netdev='qtest-bn0', **extra):
    args = {'qom-type': 'filter-buffer', 'id': fid, 'netdev': netdev,
            'interval': 1000}
    args.update(extra)
    return qmp.cmd('object-add', args)


def netdev_add_stream(qmp, nid, path):
    return qmp.cmd('netdev_add', {
        'type': 'stream', 'id': nid, 'server': True,
        'addr': {'type': 'unix', 'path': path}})


def filter_ids(qmp, netdev=None):
    args = {'netdev': netdev} if netdev else {}
    return [f['id'] for f in qmp.cmd('query-netfilters', args)]


def test_add_remove_one():
    need_it()
    with ColoProxy() as p:
        need_commands(p.qmp, 'netdev_add', 'netdev_del')
        netdev_add_stream(p.qmp, 'qtest-bn0', p.path('n0.sock'))
        add_buffer(p.qmp, 'qtest-f0')
        check_eq(filter_ids(p.qmp), ['qtest-f0'], 'chain')
        p.qmp.cmd('object-del', id='qtest-f0')
        check_eq(filter_ids(p.qmp), [], 'chain after object-del')
        p.qmp.cmd('netdev_del', id='qtest-bn0')
        p.stop()


def test_remove_netdev_with_filter():
    """QEMU lets the netdev go and leaves the filter dangling; we refuse
    until the filter is gone, then the netdev can be added back."""
    need_it()
    with ColoProxy() as p:
        netdev_add_stream(p.qmp, 'qtest-bn0', p.path('n0.sock'))
        add_buffer(p.qmp, 'qtest-f0')
        add_buffer(p.qmp, 'qtest-f1')
        expect_qmp_error(p.qmp.cmd, 'netdev_del', id='qtest-bn0',
                         contains=['in use by', 'qtest-f'])
        p.qmp.cmd('object-del', id='qtest-f0')
        expect_qmp_error(p.qmp.cmd, 'netdev_del', id='qtest-bn0',
                         contains="in use by 'qtest-f1'")
        p.qmp.cmd('object-del', id='qtest-f1')
        p.qmp.cmd('netdev_del', id='qtest-bn0')
        expect_qmp_error(p.qmp.cmd, 'netdev_del', id='qtest-bn0',
                         cls='DeviceNotFound')
        # added back under the same id, with a filter again
        netdev_add_stream(p.qmp, 'qtest-bn0', p.path('n0b.sock'))
        add_buffer(p.qmp, 'qtest-f0')
        check_eq(filter_ids(p.qmp, 'qtest-bn0'), ['qtest-f0'], 'chain')
        p.stop()


def test_netdev_del_with_device():
    need_it()
    need_types('stream', option='-device')
    d = tmpdir('cqnf')
    with ColoProxy(['-netdev', stream_netdev('qtest-bn0',
                                             os.path.join(d, 'n.sock')),
                    '-device', stream_device('qtest-d0', 'qtest-bn0',
                                             os.path.join(d, 'g.sock'))],
                   dir=d) as p:
        expect_qmp_error(p.qmp.cmd, 'netdev_del', id='qtest-bn0',
                         contains="in use by 'qtest-d0'")
        st = {e['id']: e for e in p.qmp.cmd('query-netdev-stats')}
        check_eq(st['qtest-bn0']['role'], 'netdev', 'role')
        check_eq(st['qtest-bn0'].get('peer'), 'qtest-d0', 'peer')
        check_eq(st['qtest-d0']['role'], 'device', 'device role')
        check_eq(st['qtest-d0'].get('peer'), 'qtest-bn0', 'device peer')
        for k in ('rx-frames', 'tx-frames', 'queued', 'queue-len',
                  'queue-size', 'drop-queue-full', 'drop-no-peer'):
            check(k in st['qtest-bn0']['counters'], f'counter {k} missing')
        check_eq(st['qtest-d0']['counters']['queue-size'], 4096,
                 'default queue-size')
        one = p.qmp.cmd('query-netdev-stats', id='qtest-d0')
        check_eq([e['id'] for e in one], ['qtest-d0'], 'query by id')
        expect_qmp_error(p.qmp.cmd, 'query-netdev-stats', id='nope',
                         cls='DeviceNotFound')
        p.stop()


def test_two_filters_and_position():
    need_it()
    with ColoProxy() as p:
        netdev_add_stream(p.qmp, 'qtest-bn0', p.path('n0.sock'))
        add_buffer(p.qmp, 'qtest-f0')
        add_buffer(p.qmp, 'qtest-f1', position='head')
        add_buffer(p.qmp, 'qtest-f2', position='id=qtest-f0',
                   insert='before')
        add_buffer(p.qmp, 'qtest-f3', queue='rx', status='off')
        chain = p.qmp.cmd('query-netfilters')
        check_eq([f['id'] for f in chain],
                 ['qtest-f1', 'qtest-f2', 'qtest-f0', 'qtest-f3'], 'order')
        check_eq([f['position'] for f in chain], [0, 1, 2, 3], 'positions')
        f3 = chain[3]
        check_eq((f3['type'], f3['netdev'], f3['queue'], f3['status']),
                 ('filter-buffer', 'qtest-bn0', 'rx', 'off'), 'f3 info')
        p.qmp.cmd('qom-set', path='qtest-f3', property='status', value='on')
        check_eq(p.qmp.cmd('query-netfilters')[3]['status'], 'on',
                 'status after qom-set')
        expect_qmp_error(p.qmp.cmd, 'qom-set', path='qtest-f3',
                         property='status', value='maybe',
                         contains="Invalid value for netfilter status, "
                                  "should be 'on' or 'off'")
        p.qmp.cmd('qom-set', path='qtest-f3', property='interval',
                  value=5000)
        stats = p.qmp.cmd('query-netfilter-stats', id='qtest-f3')
        check_eq(len(stats), 1, 'one entry')
        for k in ('packets', 'bytes', 'held', 'released', 'queued',
                  'dropped-queue-full'):
            check(k in stats[0], f'stats member {k} missing: {stats[0]}')
        expect_qmp_error(p.qmp.cmd, 'query-netfilter-stats', id='nope',
                         contains="filter 'nope' not found")
        for f in ('qtest-f0', 'qtest-f1', 'qtest-f2', 'qtest-f3'):
            p.qmp.cmd('object-del', id=f)
        p.qmp.cmd('netdev_del', id='qtest-bn0')
        p.stop()


def test_base_property_errors():
    need_it()
    with ColoProxy() as p:
        netdev_add_stream(p.qmp, 'qtest-bn0', p.path('n0.sock'))
        netdev_add_stream(p.qmp, 'qtest-bn1', p.path('n1.sock'))
        add_buffer(p.qmp, 'qtest-g0', netdev='qtest-bn1')
        cases = [
            ({'netdev': 'nope'},
             "Parameter 'netdev' expects a network backend id"),
            ({'position': 'middle'},
             "Parameter 'position' expects 'head', 'tail' or 'id=<id>'"),
            ({'position': 'id=nope'}, "filter 'nope' not found"),
            ({'position': 'id=qtest-g0'},
             "filter 'qtest-g0' belongs to a different netdev"),
            ({'status': 'maybe'},
             "Invalid value for netfilter status, should be 'on' or 'off'"),
            ({'interval': 0},
             "Property 'filter-buffer.interval' requires a positive value"),
        ]
        for extra, msg in cases:
            args = {'qom-type': 'filter-buffer', 'id': 'qtest-x',
                    'netdev': 'qtest-bn0', 'interval': 1000}
            args.update(extra)
            expect_qmp_error(p.qmp.cmd, 'object-add', args, contains=msg)
        expect_qmp_error(p.qmp.cmd, 'object-add',
                         {'qom-type': 'filter-buffer', 'id': 'qtest-x',
                          'netdev': 'qtest-bn0'},
                         contains="Parameter 'interval' is missing")
        expect_qmp_error(p.qmp.cmd, 'object-add',
                         {'qom-type': 'filter-buffer', 'id': 'qtest-x',
                          'interval': 1000},
                         contains="Parameter 'netdev' is missing")
        check_eq(filter_ids(p.qmp), ['qtest-g0'], 'nothing half-added')
        expect_qmp_error(p.qmp.cmd, 'netdev_add',
                         {'type': 'stream', 'id': 'qtest-bn0', 'server': True,
                          'addr': {'type': 'unix',
                                   'path': p.path('n2.sock')}},
                         contains='qtest-bn0')
        expect_qmp_error(p.qmp.cmd, 'query-netfilters', netdev='nope',
                         contains="Parameter 'netdev' expects a network "
                                  "backend id")
        p.stop()


if __name__ == '__main__':
    run_tests([
        test_add_remove_one,
        test_remove_netdev_with_filter,
        test_netdev_del_with_device,
        test_two_filters_and_position,
        test_base_property_errors,
    ])
