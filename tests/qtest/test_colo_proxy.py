#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_colo_proxy - the one-line setup: -object colo-proxy creates the
seeds' topology of one side as ordinary objects.

- each side's one-liner gives the same QOM tree (ids, types, every
  property's value) and the same filter chains as the long form written
  out with the same ids (docs/user-guide.md, One-line setup);
- object-add over QMP does the same; object-del of the colo-proxy removes
  every part and its private socket directory; deleting a part alone is
  refused with a message naming the colo-proxy;
- a failure half-way (a port already taken, an unknown netdev) leaves
  nothing behind and names the part and the property;
- -object colo-proxy,help lists its properties.
The traffic itself (compare, miscompare, failover) is
tests/e2e/test_colo_failover.py test_failover_one_line."""

import os
import socket

from coloqtest import *

NETDEV = ['-netdev', 'user,id=hn0']


def primary_long(cp, port, d, hb=True):
    """The long form of 'colo-proxy,id=CP,mode=primary,netdev=hn0,
    addr=127.0.0.1:PORT,local-dir=D[,heartbeat=on]'."""
    h = '127.0.0.1'
    a = [
        '-chardev', f'socket,id={cp}-mirror0,host={h},port={port},server=on,wait=off',
        '-chardev', f'socket,id={cp}-compare1,host={h},port={port + 1},server=on,wait=off',
        '-chardev', f'socket,id={cp}-compare0,path={d}/compare0,server=on,wait=off',
        '-chardev', f'socket,id={cp}-compare0-0,path={d}/compare0',
        '-chardev', f'socket,id={cp}-compare_out,path={d}/compare_out,server=on,wait=off',
        '-chardev', f'socket,id={cp}-compare_out0,path={d}/compare_out']
    if hb:
        a += ['-chardev', f'socket,id={cp}-hb,host={h},port={port + 2},server=on,wait=off']
    a += [
        '-object', f'colo-frame,id={cp}-colo,mode=primary',
        '-object', f'iothread,id={cp}-iothread1',
        '-object', f'filter-mirror,id={cp}-m0,netdev=hn0,queue=tx,outdev={cp}-mirror0',
        '-object', f'filter-redirector,id={cp}-redire0,netdev=hn0,queue=rx,indev={cp}-compare_out',
        '-object', f'filter-redirector,id={cp}-redire1,netdev=hn0,queue=rx,outdev={cp}-compare0',
        '-object', f'colo-compare,id={cp}-comp0,primary_in={cp}-compare0-0,'
                   f'secondary_in={cp}-compare1,outdev={cp}-compare_out0,'
                   f'iothread={cp}-iothread1']
    if hb:
        a += ['-object', f'colo-heartbeat,id={cp}-hb0,chardev={cp}-hb']
    return a


def secondary_long(cp, port, hb=True):
    h = '127.0.0.1'
    a = ['-chardev', f'socket,id={cp}-red0,host={h},port={port},reconnect=1',
         '-chardev', f'socket,id={cp}-red1,host={h},port={port + 1},reconnect=1']
    if hb:
        a += ['-chardev', f'socket,id={cp}-hb,host={h},port={port + 2},reconnect=1']
    a += ['-object', f'colo-frame,id={cp}-colo,mode=secondary',
          '-object', f'filter-redirector,id={cp}-f1,netdev=hn0,queue=tx,indev={cp}-red0',
          '-object', f'filter-redirector,id={cp}-f2,netdev=hn0,queue=rx,outdev={cp}-red1',
          '-object', f'filter-rewriter,id={cp}-rew0,netdev=hn0,queue=all']
    if hb:
        a += ['-object', f'colo-heartbeat,id={cp}-hb0,chardev={cp}-hb']
    return a


def qom_tree(qmp, skip=()):
    """{(dir, id): {property: value}} of /objects and /chardevs, 'type'
    included, in creation order (a list of keys too)."""
    tree, order = {}, []
    for d in ('objects', 'chardevs'):
        for e in qmp.cmd('qom-list', path=f'/{d}'):
            if e['name'] == 'type' or e['name'] in skip:
                continue
            path = f'/{d}/{e["name"]}'
            props = {}
            for p in qmp.cmd('qom-list', path=path):
                props[p['name']] = qmp.cmd('qom-get', path=path,
                                           property=p['name'])
            tree[(d, e['name'])] = props
            order.append((d, e['name']))
    return tree, order


def chains(qmp):
    return [(f['id'], f['type'], f['queue'], f['position'])
            for f in qmp.cmd('query-netfilters')]


def compare_trees(one, long, what):
    t1, o1 = one
    t2, o2 = long
    check_eq(sorted(t1), sorted(t2), f'{what}: the objects (one-line vs long)')
    # the one difference: a colo-proxy binds its parts to its own
    # colo-frame (frame=cp-colo), so that several colo-proxies (VM pairs)
    # may share a process; the long form of one pair needs no frame=
    for k in t2:
        if 'frame' in t1[k] and t1[k]['type'] != 'colo-frame':
            check(t1[k]['frame'] in ('cp-colo', t2[k].get('frame')),
                  f"{what}: {k[1]} frame={t1[k]['frame']}")
            t1[k] = dict(t1[k], frame=t2[k].get('frame'))
    for k in t2:
        check_eq(t1[k], t2[k], f'{what}: {k[0]}/{k[1]} properties')
    # the long form's iothread, colo-frame and heartbeat are created
    # before the netdevs whatever their place (system/main.c), so only
    # the order of the filters and colo-compare can be compared
    late = lambda o, t: [k for k in o if k[0] == 'objects' and  # noqa
                         t[k]['type'].startswith(('filter-', 'colo-compare'))]
    check_eq(late(o1, t1), late(o2, t2),
             f'{what}: creation order of the filters and colo-compare')


def side_tree(args, skip=('cp',)):
    with ColoProxy(NETDEV + args) as p:
        return qom_tree(p.qmp, skip), chains(p.qmp)


def test_help():
    r = run_proxy(['-object', 'colo-proxy,help'])
    check_eq(r.returncode, 0, 'exit code of -object colo-proxy,help')
    for prop in ('mode=<', 'netdev=<', 'addr=<', 'queue=<', 'iothread=<',
                 'vnet_hdr_support=<', 'compare_timeout=<', 'heartbeat=<',
                 'local-dir=<', 'reconnect=<'):
        check(prop in r.stdout, f'colo-proxy,help lacks {prop}: {r.stdout}')
    r = run_proxy(['-object', 'help'])
    check('colo-proxy' in r.stdout, '-object help does not list colo-proxy')


def test_primary_equals_long_form():
    d = tmpdir('cqcp')
    port = free_tcp_port_block(3)
    one, ch1 = side_tree(['-object', f'colo-proxy,id=cp,mode=primary,'
                          f'netdev=hn0,addr=127.0.0.1:{port},heartbeat=on,'
                          f'local-dir={d}'])
    long, ch2 = side_tree(primary_long('cp', port, d))
    compare_trees(one, long, 'primary')
    check_eq(ch1, ch2, 'primary: filter chain')
    log(f'primary: {len(long[0])} objects and chardevs equal, chain {ch1}')


def test_secondary_equals_long_form():
    port = free_tcp_port_block(3)
    one, ch1 = side_tree(['-object', f'colo-proxy,id=cp,mode=secondary,'
                          f'netdev=hn0,addr=127.0.0.1:{port},heartbeat=on'])
    long, ch2 = side_tree(secondary_long('cp', port))
    compare_trees(one, long, 'secondary')
    check_eq(ch1, ch2, 'secondary: filter chain')


def test_options_reach_the_parts():
    """vnet_hdr_support, the compare settings, the heartbeat's and the
    frame's options, explicit ports and an existing iothread."""
    port = free_tcp_port_block(3)
    hbp, cmpp = free_tcp_port(), free_tcp_port()
    with ColoProxy(NETDEV + [
            '-object', 'iothread,id=io0',
            '-object', f'colo-proxy,id=c1,mode=primary,netdev=hn0,'
                       f'addr=127.0.0.1:{port},vnet_hdr_support=on,'
                       f'iothread=io0,compare_timeout=500,'
                       f'expired_scan_cycle=100,max_queue_size=64,'
                       f'heartbeat=on,heartbeat-interval=50,'
                       f'heartbeat-timeout=200,failover=on,'
                       f'compare-port={cmpp},heartbeat-port={hbp},'
                       f'driver=exec,exec=true']) as p:
        g = lambda path, prop: p.qmp.cmd('qom-get', path=path,  # noqa
                                         property=prop)
        for o in ('c1-m0', 'c1-redire0', 'c1-redire1', 'c1-comp0'):
            check_eq(g(f'/objects/{o}', 'vnet_hdr_support'), True,
                     f'{o} vnet_hdr_support')
        check_eq(g('/objects/c1-comp0', 'iothread'), 'io0', 'iothread')
        check_eq(g('/objects/c1-comp0', 'compare_timeout'), 500, 'timeout')
        check_eq(g('/objects/c1-comp0', 'expired_scan_cycle'), 100, 'scan')
        check_eq(g('/objects/c1-comp0', 'max_queue_size'), 64, 'queue')
        check_eq(g('/objects/c1-hb0', 'interval'), 50, 'hb interval')
        check_eq(g('/objects/c1-hb0', 'timeout'), 200, 'hb timeout')
        check_eq(g('/objects/c1-hb0', 'failover'), True, 'hb failover')
        check_eq(g('/chardevs/c1-compare1', 'port'), str(cmpp), 'compare-port')
        check_eq(g('/chardevs/c1-hb', 'port'), str(hbp), 'heartbeat-port')
        check_eq(g('/objects/c1-colo', 'driver'), 'exec', 'frame driver')
        names = [e['name'] for e in p.qmp.cmd('qom-list', path='/objects')]
        check('c1-iothread1' not in names, 'an iothread made despite iothread=')
        # the heartbeat link is really where it says
        s = socket.create_connection(('127.0.0.1', hbp), timeout=5)
        s.close()


def test_unix_addr_and_frame_off():
    d = tmpdir('cqcu')
    with ColoProxy(NETDEV + [
            '-object', 'colo-frame,id=myframe,mode=secondary',
            '-object', f'colo-proxy,id=s1,mode=secondary,netdev=hn0,'
                       f'addr=unix:{d}/link,frame=off,heartbeat=on,'
                       f'reconnect=2']) as p:
        g = lambda path, prop: p.qmp.cmd('qom-get', path=path,  # noqa
                                         property=prop)
        check_eq(g('/chardevs/s1-red0', 'path'), f'{d}/link', 'mirror path')
        check_eq(g('/chardevs/s1-red1', 'path'), f'{d}/link.compare',
                 'compare path')
        check_eq(g('/chardevs/s1-hb', 'path'), f'{d}/link.hb', 'hb path')
        check_eq(g('/chardevs/s1-red0', 'reconnect'), 2, 'reconnect')
        names = [e['name'] for e in p.qmp.cmd('qom-list', path='/objects')]
        check('s1-colo' not in names, 'frame=off made a colo-frame')


def test_qmp_object_add_and_del():
    port = free_tcp_port_block(3)
    with ColoProxy(NETDEV) as p:
        q = p.qmp
        before = qom_tree(q)[0]
        q.cmd('object-add', **{'qom-type': 'colo-proxy', 'id': 'cp',
                               'mode': 'primary', 'netdev': 'hn0',
                               'addr': f'127.0.0.1:{port}',
                               'heartbeat': True, 'compare_timeout': 700})
        tree = qom_tree(q)[0]
        parts = sorted(k[1] for k in tree if k[1].startswith('cp-'))
        check_eq(parts, sorted([
            'cp-mirror0', 'cp-compare1', 'cp-compare0', 'cp-compare0-0',
            'cp-compare_out', 'cp-compare_out0', 'cp-hb', 'cp-colo',
            'cp-iothread1', 'cp-m0', 'cp-redire0', 'cp-redire1', 'cp-comp0',
            'cp-hb0']), 'the parts of object-add colo-proxy')
        check_eq(tree[('objects', 'cp-comp0')]['compare_timeout'], 700,
                 'compare_timeout through QMP')
        sockdir = os.path.dirname(tree[('chardevs', 'cp-compare0')]['path'])
        check(os.path.isdir(sockdir), 'no private socket directory')
        check_eq(oct(os.stat(sockdir).st_mode & 0o777), oct(0o700),
                 'the private socket directory is not private')
        for kind, part in (('object-del', 'cp-m0'), ('object-del', 'cp-comp0'),
                           ('chardev-remove', 'cp-mirror0'),
                           ('object-del', 'cp-iothread1')):
            expect_qmp_error(q.cmd, kind, id=part,
                             contains=f"'{part}' is a part of colo-proxy "
                                      f"'cp' and is deleted with it: "
                                      f"object-del 'cp' instead")
        q.cmd('object-del', id='cp')
        check_eq(qom_tree(q)[0], before, 'what object-del colo-proxy left')
        check(not os.path.exists(sockdir),
              f'{sockdir} left behind by object-del')
        # and again: the ports and ids are free
        q.cmd('object-add', **{'qom-type': 'colo-proxy', 'id': 'cp',
                               'mode': 'primary', 'netdev': 'hn0',
                               'addr': f'127.0.0.1:{port}'})


def test_failure_leaves_nothing():
    port = free_tcp_port_block(3)
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(('127.0.0.1', port + 1))
    taken.listen(1)
    try:
        with ColoProxy(NETDEV) as p:
            q = p.qmp
            before = qom_tree(q)[0]
            expect_qmp_error(q.object_add, 'colo-proxy', 'cp', mode='primary',
                             netdev='hn0', addr=f'127.0.0.1:{port}',
                             contains="colo-proxy 'cp': its chardev socket "
                                      "'cp-compare1'")
            check_eq(qom_tree(q)[0], before, 'what a failed colo-proxy left')
            expect_qmp_error(q.object_add, 'colo-proxy', 'cp', mode='primary',
                             netdev='nope', addr=f'127.0.0.1:{port}',
                             contains="Parameter 'netdev': no netdev 'nope'")
            expect_qmp_error(q.object_add, 'colo-proxy', 'cp', mode='primary',
                             netdev='hn0', addr='127.0.0.1',
                             contains="Parameter 'addr' expects HOST:PORT")
            expect_qmp_error(q.object_add, 'colo-proxy', 'cp', mode='primary',
                             netdev='hn0', addr='127.0.0.1:65535',
                             contains="Parameter 'addr' expects HOST:PORT")
            expect_qmp_error(q.object_add, 'colo-proxy', 'cp', mode='primary',
                             netdev='hn0', addr=f'127.0.0.1:{port}',
                             queue='rx', contains="Parameter 'queue'")
            expect_qmp_error(q.object_add, 'colo-proxy', 'cp', mode='tertiary',
                             netdev='hn0', addr=f'127.0.0.1:{port}',
                             contains="Parameter 'mode'")
            expect_qmp_error(q.object_add, 'colo-proxy', 'cp', netdev='hn0',
                             addr=f'127.0.0.1:{port}',
                             contains="Parameter 'mode' is missing")
            check_eq(qom_tree(q)[0], before, 'what failed colo-proxies left')
    finally:
        taken.close()


def test_shutdown_with_parts():
    """SIGTERM with a colo-proxy (and an object using one of its parts
    added after it) exits 0 and deletes everything."""
    port = free_tcp_port_block(3)
    d = tmpdir('cqcs')
    p = ColoProxy(NETDEV + ['-object', f'colo-proxy,id=cp,mode=secondary,'
                            f'netdev=hn0,addr=127.0.0.1:{port}',
                            '-object', f'filter-dump,id=d0,netdev=hn0,'
                            f'file={d}/x.pcap,position=id=cp-f2'])
    p.qmp.cmd('query-version')
    check_eq(p.stop(expect=None), 0, 'exit code')
    check('still in use' not in p.stderr(), p.stderr())


def free_tcp_port_block(n):
    """A port P with P..P+n-1 free now (colo-proxy's addr= uses three)."""
    for _ in range(50):
        p = free_tcp_port()
        if p + n > 65535:
            continue
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                s.bind(('127.0.0.1', p + i))
                socks.append(s)
            return p
        except OSError:
            pass
        finally:
            for s in socks:
                s.close()
    raise TestFailure('no block of free ports')


if __name__ == '__main__':
    run_tests([
        test_help,
        test_primary_equals_long_form,
        test_secondary_equals_long_form,
        test_options_reach_the_parts,
        test_unix_addr_and_frame_off,
        test_qmp_object_add_and_del,
        test_failure_leaves_nothing,
        test_shutdown_with_parts,
    ])
