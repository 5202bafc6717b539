#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_objects - objects over QMP: object-add/object-del of filter-dump and
filter-buffer, qom-list/qom-get/qom-set, qom-list-types and
qom-list-properties of every type, and bad input (each gets an error reply
and the next request is served)."""

import os
import struct

from coloqtest import *


def netdev_arg(d, id='n0'):
    """A backend that needs no privileges and no peer: a listening stream
    netdev, else user networking."""
    if have_type('stream', '-netdev'):
        return stream_netdev(id, os.path.join(d, id + '.sock'))
    if have_type('user', '-netdev'):
        return f'user,id={id}'
    raise Skip('no stream or user netdev yet')


def proxy_with_netdev(extra=()):
    d = tmpdir()
    return ColoProxy(['-netdev', netdev_arg(d)] + list(extra), dir=d)


def alive(p):
    """The monitor still serves requests."""
    v = p.qmp.cmd('query-version')
    check(isinstance(v, dict), f'query-version returned {v!r}')


def reply_for(q, want_id, max_other=4):
    """Reads replies until the one with id 'want_id'; returns (reply, the
    error replies without an id seen before it)."""
    others = []
    for _ in range(max_other + 1):
        r = q.recv_reply()
        if r.get('id') == want_id:
            return r, others
        others.append(r)
    raise TestFailure(f'no reply with id {want_id}; got {others!r}')


def test_filter_dump_add_del():
    p = proxy_with_netdev()
    need_commands(p.qmp, 'object-add', 'object-del', 'qom-list', 'qom-get',
                  'qom-set')
    pcap = p.path('f0.pcap')
    p.qmp.object_add('filter-dump', 'f0', netdev='n0', file=pcap)
    wait_for(lambda: os.path.exists(pcap) and os.path.getsize(pcap) >= 24,
             what='pcap header')
    with open(pcap, 'rb') as f:
        hdr = f.read(24)
    magic = struct.unpack('<I', hdr[:4])[0]
    check(magic in (0xa1b2c3d4, 0xa1b23c4d), f'pcap magic {magic:#x}')
    linktype = struct.unpack('<I', hdr[20:24])[0]
    check_eq(linktype, 1, 'pcap link type (Ethernet)')
    check_eq(p.qmp.qom_get('/objects/f0', 'status'), 'on', 'status')
    check_eq(p.qmp.qom_get('/objects/f0', 'queue'), 'all', 'queue')
    check_eq(p.qmp.qom_get('/objects/f0', 'netdev'), 'n0', 'netdev')
    check_eq(p.qmp.qom_get('/objects/f0', 'maxlen'), 65536, 'maxlen default')
    p.qmp.qom_set('/objects/f0', 'status', 'off')
    check_eq(p.qmp.qom_get('/objects/f0', 'status'), 'off', 'status after set')
    p.qmp.qom_set('/objects/f0', 'status', 'on')
    names = {c['name'] for c in p.qmp.cmd('qom-list', path='/objects')}
    check('f0' in names, f'f0 not in qom-list /objects: {names}')
    props = {c['name']: c.get('type') for c in
             p.qmp.cmd('qom-list', path='/objects/f0')}
    for k in ('netdev', 'queue', 'status', 'position', 'insert', 'file',
              'maxlen'):
        check(k in props, f'qom-list /objects/f0 lacks {k}: {props}')
    p.qmp.object_del('f0')
    names = {c['name'] for c in p.qmp.cmd('qom-list', path='/objects')}
    check('f0' not in names, 'f0 still listed after object-del')
    expect_qmp_error(p.qmp.object_del, 'f0')
    # the id is free again
    p.qmp.object_add('filter-dump', 'f0', netdev='n0', file=pcap)
    p.qmp.object_del('f0')
    p.stop()


def test_filter_buffer_add_del():
    p = proxy_with_netdev()
    need_commands(p.qmp, 'object-add', 'object-del', 'qom-get')
    p.qmp.object_add('filter-buffer', 'b0', netdev='n0', interval=1000,
                     queue='rx')
    check_eq(p.qmp.qom_get('/objects/b0', 'interval'), 1000, 'interval')
    check_eq(p.qmp.qom_get('/objects/b0', 'queue'), 'rx', 'queue')
    expect_qmp_error(p.qmp.object_add, 'filter-buffer', 'b1', netdev='n0',
                     interval=0, contains='interval')
    p.qmp.object_add('filter-buffer', 'b1', netdev='n0', interval=500,
                     position='head')
    p.qmp.object_add('filter-buffer', 'b2', netdev='n0', interval=500,
                     position='id=b0', insert='before')
    expect_qmp_error(p.qmp.object_add, 'filter-buffer', 'b3', netdev='n0',
                     interval=500, position='id=nope')
    expect_qmp_error(p.qmp.object_add, 'filter-buffer', 'b3', netdev='n0',
                     interval=500, position='middle', contains='position')
    expect_qmp_error(p.qmp.object_add, 'filter-buffer', 'b3', netdev='n0',
                     interval=500, position='id=b0', insert='after',
                     contains='insert')
    for i in ('b0', 'b1', 'b2'):
        p.qmp.object_del(i)
    p.stop()


def test_iothread():
    p = ColoProxy([])
    need_commands(p.qmp, 'object-add', 'object-del', 'qom-list')
    p.qmp.object_add('iothread', 'io0')
    names = {c['name'] for c in p.qmp.cmd('qom-list', path='/objects')}
    check('io0' in names, f'io0 not listed: {names}')
    p.qmp.object_del('io0')
    p.stop()


def test_bad_object_add():
    p = proxy_with_netdev()
    q = p.qmp
    need_commands(q, 'object-add', 'object-del', 'qom-list', 'qom-get',
                  'qom-set')
    expect_qmp_error(q.object_add, 'no-such-type', 'x', contains='no-such-type')
    alive(p)
    expect_qmp_error(q.object_add, 'filter-dump', 'x', netdev='n0',
                     file=p.path('x.pcap'), bogus='1', contains='bogus')
    alive(p)
    expect_qmp_error(q.object_add, 'filter-dump', 'x', file=p.path('x.pcap'),
                     contains='netdev')
    alive(p)
    expect_qmp_error(q.object_add, 'filter-dump', 'x', netdev='nope',
                     file=p.path('x.pcap'), contains='netdev')
    alive(p)
    expect_qmp_error(q.object_add, 'filter-dump', 'x', netdev='n0',
                     file=p.path('x.pcap'), queue='sideways', contains='queue')
    alive(p)
    expect_qmp_error(q.object_add, 'filter-dump', 'x', netdev='n0',
                     file=p.path('x.pcap'), maxlen='big', contains='maxlen')
    alive(p)
    expect_qmp_error(q.object_add, 'filter-dump', 'x', netdev='n0',
                     file=p.path('x.pcap'), status='maybe', contains='status')
    alive(p)
    expect_qmp_error(q.object_add, 'filter-dump', 'x', netdev='n0',
                     file='/nonexistent-dir/x.pcap')
    alive(p)
    # missing id / qom-type
    expect_qmp_error(q.cmd, 'object-add', {'qom-type': 'iothread'},
                     contains='id')
    expect_qmp_error(q.cmd, 'object-add', {'id': 'x'}, contains='qom-type')
    alive(p)
    # duplicate id
    q.object_add('iothread', 'dup')
    expect_qmp_error(q.object_add, 'iothread', 'dup', contains='dup')
    expect_qmp_error(q.object_add, 'filter-dump', 'dup', netdev='n0',
                     file=p.path('d.pcap'), contains='dup')
    alive(p)
    # nothing was left behind by the failures
    names = {c['name'] for c in q.cmd('qom-list', path='/objects')}
    check('x' not in names, f'failed object x left behind: {names}')
    # object-del of unknown, qom-get of unknown
    expect_qmp_error(q.object_del, 'nope')
    expect_qmp_error(q.qom_get, '/objects/nope', 'status')
    expect_qmp_error(q.qom_get, '/objects/dup', 'no-such-prop')
    # qom-set of a property that is not runtime-settable
    q.object_add('filter-dump', 'fd', netdev='n0', file=p.path('fd.pcap'))
    expect_qmp_error(q.qom_set, '/objects/fd', 'netdev', 'n0')
    expect_qmp_error(q.qom_set, '/objects/fd', 'status', 'maybe',
                     contains='status')
    check_eq(q.qom_get('/objects/fd', 'status'), 'on', 'status unchanged')
    # unknown command, bad arguments
    expect_qmp_error(q.cmd, 'no-such-command', cls='CommandNotFound')
    expect_qmp_error(q.cmd, 'object-del', id=5)
    expect_qmp_error(q.cmd, 'object-del')
    alive(p)
    p.stop()


def test_delete_in_use():
    """An object another object uses cannot be deleted."""
    d = tmpdir()
    args = ['-netdev', netdev_arg(d),
            '-chardev', chardev_unix('c0', os.path.join(d, 'c0.sock'))]
    p = ColoProxy(args, dir=d)
    q = p.qmp
    need_commands(q, 'object-add', 'object-del', 'chardev-remove')
    user = None
    if have_type('filter-redirector'):
        q.object_add('filter-redirector', 'r0', netdev='n0', queue='rx',
                     outdev='c0')
        user = 'r0'
        e = expect_qmp_error(q.cmd, 'chardev-remove', id='c0')
        check('r0' in e.desc or 'in use' in e.desc.lower() or 'busy' in e.desc.lower(),
              f'chardev-remove error does not say who uses it: {e.desc}')
        alive(p)
    elif have_type('filter-mirror'):
        q.object_add('filter-mirror', 'm0', netdev='n0', queue='tx',
                     outdev='c0')
        user = 'm0'
        expect_qmp_error(q.cmd, 'chardev-remove', id='c0')
    if have_type('colo-compare'):
        q.object_add('iothread', 'io0')
        q.cmd('chardev-add', id='pin', backend={
            'type': 'socket', 'data': {
                'addr': {'type': 'unix', 'data': {'path': p.path('pin')}},
                'server': True, 'wait': False}})
        q.cmd('chardev-add', id='sin', backend={
            'type': 'socket', 'data': {
                'addr': {'type': 'unix', 'data': {'path': p.path('sin')}},
                'server': True, 'wait': False}})
        q.cmd('chardev-add', id='out', backend={
            'type': 'socket', 'data': {
                'addr': {'type': 'unix', 'data': {'path': p.path('out')}},
                'server': True, 'wait': False}})
        q.object_add('colo-compare', 'cmp0', primary_in='pin',
                     secondary_in='sin', outdev='out', iothread='io0')
        e = expect_qmp_error(q.object_del, 'io0')
        log(f'iothread in use: {e.desc}')
        expect_qmp_error(q.cmd, 'chardev-remove', id='pin')
        alive(p)
        q.object_del('cmp0')
        q.object_del('io0')
        for c in ('pin', 'sin', 'out'):
            q.cmd('chardev-remove', id=c)
    if user is None:
        # nothing that uses a chardev exists yet: a filter uses its netdev
        q.object_add('filter-dump', 'fd', netdev='n0', file=p.path('x.pcap'))
        log('NOTE: no chardev user type yet; checked filter-dump only')
    else:
        q.object_del(user)
        q.cmd('chardev-remove', id='c0')
    alive(p)
    p.stop()


def test_malformed_json():
    p = ColoProxy([])
    q = p.qmp
    bad = [
        b'{"execute": }\n',
        b'{"execute": "query-version"\n}}\n',
        b'[1, 2, 3]\n',
        b'"just a string"\n',
        b'{"execute": 42}\n',
        b'{"arguments": {}}\n',
        b'{"execute": "query-version", "arguments": [1]}\n',
        b'\xff\xfe\x00garbage\n',
    ]
    for b in bad:
        q.send_raw(b)
        # the next request is served; the garbage got at least one error
        # reply in QMP's shape before it (a valid object inside the
        # garbage may get its own reply too)
        q.send({'execute': 'query-version', 'id': 'next'})
        r, others = reply_for(q, 'next')
        check('return' in r, f'after {b!r}: {r!r}')
        errs = [o for o in others if 'error' in o]
        check(errs, f'{b!r}: no error reply, got {others!r}')
        for e in errs:
            check('class' in e['error'] and 'desc' in e['error'],
                  f'{b!r}: error not in QMP shape: {e!r}')
    alive(p)
    p.stop()


def test_oversized_request():
    p = ColoProxy([])
    q = p.qmp
    big = 'a' * (2 << 20)     # 2 MiB string > QMP_MAX_REQUEST (1 MiB)
    q.send_raw('{"execute": "query-version", "id": "big", '
               '"arguments": {"x": "' + big + '"}}\n')
    r = q.recv_reply(timeout=20)
    check('error' in r, f'oversized request: no error reply: {str(r)[:200]}')
    q.send({'execute': 'query-version', 'id': 'next'})
    r, others = reply_for(q, 'next', max_other=8)
    check('return' in r, f'after oversized: {r!r}')
    # a deep nesting bomb
    q.send_raw('[' * 100000 + ']' * 100000 + '\n')
    q.send({'execute': 'query-version', 'id': 'next2'})
    r, others = reply_for(q, 'next2', max_other=8)
    check('return' in r, f'after nesting bomb: {r!r}')
    # a fresh connection works too
    q2 = p.connect_qmp()
    q2.cmd('query-version')
    q2.close()
    p.stop()


def test_capabilities_required():
    p = ColoProxy([], negotiate=False)
    q = p.qmp
    check('QMP' in q.greeting and 'version' in q.greeting['QMP'],
          f'greeting {q.greeting!r}')
    expect_qmp_error(q.cmd, 'query-version', cls='CommandNotFound')
    q.cmd('qmp_capabilities')
    expect_qmp_error(q.cmd, 'qmp_capabilities', cls='CommandNotFound')
    alive(p)
    p.stop()


def test_qom_list_types_and_properties():
    p = proxy_with_netdev()
    q = p.qmp
    need_commands(q, 'qom-list-types', 'qom-list-properties')
    types = q.cmd('qom-list-types')
    names = [t['name'] for t in types]
    log(f'{len(names)} types: ' + ' '.join(sorted(names)))
    for t in ('iothread', 'filter-dump', 'filter-buffer'):
        check(t in names, f'qom-list-types lacks {t}')
    for t in names:
        try:
            props = q.cmd('qom-list-properties', typename=t)
            check(isinstance(props, list), f'{t}: {props!r}')
            for pr in props:
                check('name' in pr and 'type' in pr, f'{t}: {pr!r}')
        except QMPError as e:
            log(f'qom-list-properties {t}: {e}')
        alive(p)
    props = {x['name'] for x in q.cmd('qom-list-properties',
                                      typename='filter-dump')}
    for k in ('netdev', 'queue', 'status', 'file', 'maxlen'):
        check(k in props, f'filter-dump lacks {k}: {props}')
    expect_qmp_error(q.cmd, 'qom-list-properties', typename='no-such-type')
    # with abstract= and implements= (QEMU's arguments)
    try:
        f = q.cmd('qom-list-types', implements='netfilter')
        fn = {t['name'] for t in f}
        log('netfilter types: ' + ' '.join(sorted(fn)))
        check('filter-dump' in fn and 'iothread' not in fn,
              f'implements=netfilter: {fn}')
    except QMPError as e:
        log(f'qom-list-types implements=netfilter: {e}')
    alive(p)
    p.stop()


def test_object_add_every_type_no_crash():
    """object-add of every -object type with no properties, and with
    every property set to a silly value: errors only, never a crash."""
    p = proxy_with_netdev()
    q = p.qmp
    need_commands(q, 'object-add', 'object-del', 'qom-list-properties')
    sane = {'netdev': 'n0', 'file': p.path('x.pcap'), 'interval': 1000}
    tried = 0
    for t in sorted(object_types()):
        try:
            q.object_add(t, 'x0')
            q.object_del('x0')
        except QMPError:
            pass
        try:
            props = q.cmd('qom-list-properties', typename=t)
        except QMPError:
            props = []
        base = {pr['name']: sane[pr['name']] for pr in props
                if pr['name'] in sane}
        for pr in props:
            for val in ('', 'x' * 5000, -1, 2 ** 63, 2 ** 64, True, None,
                        [1], {'a': 1}, 'on', '0', 'id=x0'):
                args = dict(base)
                args[pr['name']] = val
                tried += 1
                try:
                    q.object_add(t, 'x1', **args)
                    q.object_del('x1')
                except QMPError:
                    pass
        alive(p)
    log(f'{tried} object-add attempts')
    p.stop()


def test_flattened_keys_bounded():
    """A request under the size limit whose nested members would flatten
    into a gigabyte of dotted keys (one long name above many levels) gets
    an error, and memory stays bounded (it used to reach ~1 GB, or abort
    on an allocation failure)."""
    with ColoProxy() as p:
        name = 'x' * (1000 * 1000 - 12000)
        inner = '{"a":' * 1000 + '1' + '}' * 1000
        req = ('{"execute": "object-add", "arguments": {"qom-type": '
               '"iothread", "id": "t", "%s": %s}}\n' % (name, inner))
        p.qmp.send_raw(req)
        r = p.qmp.recv_reply(timeout=60)
        check('error' in r, f'flattening refused: {str(r)[:200]}')
        _, hwm = p.rss()
        check(hwm < 256 << 20, f'peak memory {hwm >> 20} MiB')
        p.qmp.cmd('query-version')


if __name__ == '__main__':
    run_tests([
        test_capabilities_required,
        test_filter_dump_add_del,
        test_filter_buffer_add_del,
        test_iothread,
        test_bad_object_add,
        test_delete_in_use,
        test_malformed_json,
        test_oversized_request,
        test_qom_list_types_and_properties,
        test_object_add_every_type_no_crash,
        test_flattened_keys_bounded,
    ])
