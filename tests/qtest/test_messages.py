#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_messages - every message checked (issue 15): plausible mistakes on
the command line and over QMP, and what colo-proxy says about each.

Each case lists the substrings its message must contain: the property (or
option) at fault and what is allowed or what is missing; on the command
line the message must also be one line "colo-proxy: -OPTION TEXT: ...",
which names the object (its type and id are in TEXT).  For every case the
process must neither crash (exit 1 on the command line, never a signal or
a sanitizer report) nor hang (10 s per command line; over QMP the same
monitor answers query-version after each mistake).

Substrings are compared case-insensitively.  The table is also the record
of what colo-proxy says: `python3 test_messages.py --print` prints every
mistake and its message."""

import json
import os
import subprocess
import sys

from coloqtest import *

D = None          # the test's directory (sockets, files)


def base_args():
    """The objects the mistakes refer to: netdev hn0, chardevs c0..c5."""
    a = ['-netdev', 'user,id=hn0']
    for i in range(6):
        a += ['-chardev', f'socket,id=c{i},path={D}/c{i}.sock,server=on,'
                          'wait=off']
    return a


# (what, extra command-line arguments, [substrings])
def cmdline_cases():
    ob = lambda s: ['-object', s]     # noqa: E731
    return [
        ('misspelt property',
         ob('filter-mirror,id=m0,netdev=hn0,outdve=c0'),
         ["'filter-mirror.outdve' not found", "did you mean 'outdev'"]),
        ('misspelt type',
         ob('filter-mirorr,id=m0,netdev=hn0,outdev=c0'),
         ['filter-mirorr', "did you mean 'filter-mirror'"]),
        ('unknown type',
         ob('colo-magic,id=x'), ['colo-magic', "'-object help' lists"]),
        ('unknown property, nothing close',
         ob('iothread,id=io,zzz=1'),
         ["'iothread.zzz' not found", "-object iothread,help"]),
        ('missing netdev',
         ob('filter-mirror,id=m0,outdev=c0'),
         ["parameter 'netdev' is missing"]),
        ('missing outdev', ob('filter-mirror,id=m0,netdev=hn0'),
         ["'outdev'"]),
        ('missing id', ob('filter-mirror,netdev=hn0,outdev=c0'),
         ["parameter 'id' is missing"]),
        ('id starting with a digit', ob('iothread,id=0bad'),
         ["parameter 'id' expects an identifier", 'starting with a letter',
          "'0bad'"]),
        ('id with a slash', ob('iothread,id=a/b'),
         ["parameter 'id'", "letters, digits, '-', '.', '_'"]),
        ('duplicate object id',
         ob('iothread,id=io0') + ob('iothread,id=io0'),
         ["duplicate id 'io0'"]),
        ('duplicate chardev id',
         ['-chardev', f'socket,id=c0,path={D}/dup.sock,server=on,wait=off'],
         ["duplicate id 'c0' for chardev"]),
        ('duplicate netdev id', ['-netdev', 'user,id=hn0'],
         ["duplicate id 'hn0' for netdev"]),
        ('unknown netdev',
         ob('filter-mirror,id=m0,netdev=hn9,outdev=c0'),
         ["parameter 'netdev'", "no -netdev 'hn9'"]),
        ('a device id as netdev',
         ['-device', f'stream,id=e0,netdev=hn0,server=on,addr.type=unix,'
                     f'addr.path={D}/e0.sock']
         + ob('filter-mirror,id=m0,netdev=e0,outdev=c0'),
         ["parameter 'netdev'", "'e0' is a guest-facing -device"]),
        ('unknown chardev',
         ob('filter-mirror,id=m0,netdev=hn0,outdev=c9'),
         ["parameter 'outdev'", "'c9' not found"]),
        ('bad enum value',
         ob('filter-mirror,id=m0,netdev=hn0,outdev=c0,queue=both'),
         ["'queue'", "'both'", 'expected', 'rx', 'tx']),
        ('bad status',
         ob('filter-mirror,id=m0,netdev=hn0,outdev=c0,status=maybe'),
         ['status', "'on' or 'off'"]),
        ('bad bool',
         ob('filter-mirror,id=m0,netdev=hn0,outdev=c0,vnet_hdr_support=2'),
         ["'vnet_hdr_support'", "'on' or 'off'"]),
        ('redirector without indev and outdev',
         ob('filter-redirector,id=r0,netdev=hn0'), ["'indev'", "'outdev'"]),
        ('redirector indev = outdev',
         ob('filter-redirector,id=r0,netdev=hn0,indev=c0,outdev=c0'),
         ["'indev'", "'outdev'", 'same']),
        ('position of an unknown filter',
         ob('filter-mirror,id=m0,netdev=hn0,outdev=c0,position=id=nope'),
         ["parameter 'position'", "filter 'nope' not found"]),
        ('bad position',
         ob('filter-mirror,id=m0,netdev=hn0,outdev=c0,position=middle'),
         ["parameter 'position'", "'head', 'tail' or 'id=<id>'"]),
        ('colo-compare without outdev',
         ob('colo-compare,id=cc,primary_in=c0,secondary_in=c1'),
         ["parameter 'outdev' is missing"]),
        ('colo-compare without primary_in',
         ob('colo-compare,id=cc,secondary_in=c1,outdev=c2'),
         ["parameter 'primary_in' is missing"]),
        ('negative compare_timeout',
         ob('colo-compare,id=cc,primary_in=c0,secondary_in=c1,outdev=c2,'
            'compare_timeout=-1'),
         ["'compare_timeout'", 'between 0 and 4294967295']),
        ('colo-compare on an unknown iothread',
         ob('colo-compare,id=cc,primary_in=c0,secondary_in=c1,outdev=c2,'
            'iothread=nope'),
         ["parameter 'iothread'", "'nope' not found"]),
        ('colo-compare with one chardev twice',
         ob('colo-compare,id=cc,primary_in=c0,secondary_in=c0,outdev=c2'),
         ['primary_in', 'secondary_in', 'same']),
        ('heartbeat interval out of range',
         ob('colo-heartbeat,id=h,chardev=c0,interval=5'),
         ["'interval'", 'between 10 and 60000']),
        ('heartbeat timeout below twice the interval',
         ob('colo-heartbeat,id=h,chardev=c0,interval=100,timeout=100'),
         ['timeout', 'twice the interval']),
        ('heartbeat without chardev', ob('colo-heartbeat,id=h'),
         ["parameter 'chardev' is missing"]),
        ('colo-frame bad mode', ob('colo-frame,id=f,mode=tertiary'),
         ["'mode'", "'tertiary'", 'primary', 'secondary']),
        ('colo-frame driver=exec without exec',
         ob('colo-frame,id=f,mode=primary,driver=exec'),
         ["driver 'exec'", "'exec' property"]),
        ('filter bound to a missing colo-frame',
         ob('colo-frame,id=f,mode=primary') +
         ob('filter-rewriter,id=r,netdev=hn0,frame=g'),
         ["'r'", "colo-frame 'g' does not exist"]),
        ('unbound filter with two colo-frames',
         ob('colo-frame,id=f,mode=primary') + ob('colo-frame,id=g,mode=primary') +
         ob('filter-rewriter,id=r,netdev=hn0'),
         ["'r'", '2 COLO pairs', 'frame=']),
        ('iothread non-number',
         ob('iothread,id=io,poll-max-ns=abc'), ["'poll-max-ns'", 'number']),
        ('filter-buffer without interval',
         ob('filter-buffer,id=b,netdev=hn0'),
         ["parameter 'interval' is missing", 'microseconds']),
        ('filter-buffer interval=0',
         ob('filter-buffer,id=b,netdev=hn0,interval=0'),
         ["'filter-buffer.interval'", 'positive']),
        ('filter-dump maxlen=0',
         ob(f'filter-dump,id=d,netdev=hn0,file={D}/x.pcap,maxlen=0'),
         ["'maxlen'", 'between 1 and']),
        ('filter-dump in a missing directory',
         ob('filter-dump,id=d,netdev=hn0,file=/nonexistent/x.pcap'),
         ['/nonexistent/x.pcap', 'no such file']),
        ('JSON -object missing its }',
         ob('{"qom-type":"iothread","id":"io0"'),
         ['json parse error', "'}'", 'not closed']),
        ('JSON -object with an unterminated string',
         ob('{"qom-type":"iothread","id":"io0'),
         ['json parse error', 'string is not closed']),
        ('JSON -object with a number id',
         ob('{"qom-type":"iothread","id":5}'), ["'id'"]),
        ('chardev port=99999',
         ['-chardev', 'socket,id=x,host=127.0.0.1,port=99999,server=on,'
                      'wait=off'],
         ['port 99999', 'out of range', '0-65535']),
        ('chardev port=-1',
         ['-chardev', 'socket,id=x,host=127.0.0.1,port=-1,server=on,wait=off'],
         ["'-1'", 'not a port']),
        ('chardev port=abc',
         ['-chardev', 'socket,id=x,host=127.0.0.1,port=abc'],
         ["port 'abc'", '0-65535', 'service name']),
        ('chardev without an address',
         ['-chardev', 'socket,id=x,server=on'], ['host=', 'path=']),
        ('chardev path and host',
         ['-chardev', f'socket,id=x,path={D}/p,host=127.0.0.1,port=1'],
         ["'path'", "'host'"]),
        ('chardev in a missing directory',
         ['-chardev', 'socket,id=x,path=/nonexistent/dir/s,server=on,'
                      'wait=off'],
         ['/nonexistent/dir/s', 'no such file']),
        ('chardev negative reconnect',
         ['-chardev', 'socket,id=x,host=127.0.0.1,port=1,reconnect=-5'],
         ["'reconnect'", 'between 0 and']),
        ('chardev backend we do not have',
         ['-chardev', 'file,id=x,path=/tmp/x'],
         ["'file'", "'-chardev help' lists"]),
        ('chardev unix path too long',
         ['-chardev', 'socket,id=x,path=/tmp/' + 'x' * 120 + ',server=on,'
                      'wait=off'], ['too long']),
        ('stream port=99999',
         ['-netdev', 'stream,id=s,server=on,addr.type=inet,'
                     'addr.host=127.0.0.1,addr.port=99999'],
         ['port 99999', '0-65535']),
        ('stream port=abc',
         ['-netdev', 'stream,id=s,server=on,addr.type=inet,'
                     'addr.host=127.0.0.1,addr.port=abc'],
         ["port 'abc'", '0-65535']),
        ('socket netdev listen port=99999',
         ['-netdev', 'socket,id=s,listen=127.0.0.1:99999'],
         ['listen', 'port 99999', '0-65535']),
        ('socket netdev connect without port',
         ['-netdev', 'socket,id=s,connect=nohost'],
         ['connect', 'host:port', "'nohost'"]),
        ('misspelt netdev type', ['-netdev', 'tapp,id=t'],
         ["'tapp'", "did you mean 'tap'"]),
        ('netdev without id', ['-netdev', 'user'],
         ["parameter 'id' is missing"]),
        ('netdev invalid id', ['-netdev', 'user,id=1x'],
         ["parameter 'id'", 'starting with a letter']),
        ('device on an unknown netdev',
         ['-device', f'stream,id=d,netdev=nope,server=on,addr.type=unix,'
                     f'addr.path={D}/zz'],
         ["'stream.netdev'", "'nope'"]),
        ('-object without argument', ['-object'],
         ['-object', 'requires an argument']),
        ('-qmp port 99999',
         ['-qmp', 'tcp:127.0.0.1:99999,server=on,wait=off'],
         ['port 99999', '0-65535']),
        ('-qmp unknown kind', ['-qmp', 'foo:bar'],
         ['unix:PATH', 'tcp:HOST:PORT', 'stdio']),
        ('unknown option', ['-objekt', 'iothread,id=x'],
         ['-objekt', 'invalid option']),
        ('-name with an unknown key', ['-name', 'guest=a,bogus=1'],
         ["'bogus'"]),
        ('-pidfile in a missing directory',
         ['-pidfile', '/nonexistent/dir/pid'], ['/nonexistent/dir/pid']),
        ('colo-proxy port out of range',
         ob('colo-proxy,id=cp,mode=primary,netdev=hn0,addr=127.0.0.1:99999'),
         ["parameter 'addr'", 'HOST:PORT', '1 to 65533']),
        ('colo-proxy without addr',
         ob('colo-proxy,id=cp,mode=primary,netdev=hn0'),
         ["parameter 'addr' is missing"]),
        ('colo-proxy without mode',
         ob('colo-proxy,id=cp,netdev=hn0,addr=127.0.0.1:9003'),
         ["parameter 'mode' is missing"]),
        ('colo-proxy queue=rx',
         ob('colo-proxy,id=cp,mode=primary,netdev=hn0,addr=127.0.0.1:9003,'
            'queue=rx'), ["parameter 'queue'", 'queue=all']),
        ('colo-proxy on an unknown netdev',
         ob('colo-proxy,id=cp,mode=secondary,netdev=nope,'
            'addr=127.0.0.1:9003'), ["parameter 'netdev'", "'nope'"]),
        ('colo-proxy beside a colo-frame with an unbound filter',
         ob('colo-frame,id=colo0,mode=primary')
         + ob('filter-rewriter,id=r,netdev=hn0')
         + ob('colo-proxy,id=cp,mode=primary,netdev=hn0,addr=127.0.0.1:9003'),
         ["'r'", "colo-frame 'colo0' implicitly", 'frame=colo0']),
        ('colo-proxy misspelt mode',
         ob('colo-proxy,id=cp,mode=primray,netdev=hn0,addr=127.0.0.1:9003'),
         ["'mode'", "'primray'", 'primary or secondary']),
    ]


# (what, command, arguments or a raw string, [substrings])
def qmp_cases():
    sock = lambda path, server=True: {  # noqa: E731
        'type': 'socket', 'data': {
            'addr': {'type': 'unix', 'data': {'path': path}},
            'server': server}}
    inet = lambda port: {  # noqa: E731
        'type': 'socket', 'data': {
            'addr': {'type': 'inet', 'data': {'host': '127.0.0.1',
                                              'port': port}},
            'server': True}}
    add = lambda t, i, **p: dict({'qom-type': t, 'id': i}, **p)  # noqa
    return [
        ('unknown command', 'query-versoin', {},
         ['query-versoin', 'not been found']),
        ('unknown argument', 'query-version', {'verbose': True},
         ["'verbose'"]),
        ('missing argument', 'object-del', {}, ["parameter 'id' is missing"]),
        ('argument of the wrong type', 'object-del', {'id': 5},
         ["'id'", 'string']),
        ('object-add unknown type', 'object-add', add('filter-mirorr', 'x'),
         ["did you mean 'filter-mirror'"]),
        ('object-add misspelt property', 'object-add',
         add('filter-mirror', 'x', netdev='hn0', outdve='c3'),
         ["'filter-mirror.outdve'", "did you mean 'outdev'"]),
        ('object-add without id', 'object-add', {'qom-type': 'iothread'},
         ["parameter 'id' is missing"]),
        ('object-add invalid id', 'object-add', add('iothread', '9x'),
         ["parameter 'id'", 'starting with a letter']),
        ('object-add duplicate id', 'object-add',
         add('filter-mirror', 'm0', netdev='hn0', outdev='c3'),
         ["duplicate id 'm0'"]),
        ('object-add unknown netdev', 'object-add',
         add('filter-mirror', 'x', netdev='hn7', outdev='c3'),
         ["parameter 'netdev'", "no -netdev 'hn7'"]),
        ('object-add unknown chardev', 'object-add',
         add('filter-mirror', 'x', netdev='hn0', outdev='c77'),
         ["parameter 'outdev'", "'c77' not found"]),
        ('object-add bool as a string', 'object-add',
         add('filter-mirror', 'x', netdev='hn0', outdev='c3',
             vnet_hdr_support='yes please'),
         ["'vnet_hdr_support'", "'on' or 'off'"]),
        ('object-add number as a string', 'object-add',
         add('colo-heartbeat', 'x', chardev='c3', interval='fast'),
         ["'interval'", 'between 10 and 60000']),
        ('object-add out of range', 'object-add',
         add('colo-heartbeat', 'x', chardev='c3', interval=0),
         ["'interval'", 'between 10 and 60000']),
        ('object-add bad enum', 'object-add',
         add('filter-mirror', 'x', netdev='hn0', outdev='c3', queue='up'),
         ["'queue'", "'up'", 'expected']),
        ('object-add colo-proxy bad addr', 'object-add',
         add('colo-proxy', 'x', mode='primary', netdev='hn0', addr='nowhere'),
         ["parameter 'addr'", 'HOST:PORT', 'unix:PATH']),
        ('object-del unknown', 'object-del', {'id': 'nope'},
         ["object 'nope' not found"]),
        ('object-del an iothread in use', 'object-del', {'id': 'io0'},
         ["'io0' is in use by 'cc'"]),
        ('object-del a part of a colo-proxy', 'object-del', {'id': 'cp-f1'},
         ["'cp-f1' is a part of colo-proxy 'cp'", "object-del 'cp'"]),
        ('chardev-remove in use', 'chardev-remove', {'id': 'c0'},
         ["chardev 'c0' is in use by 'm0'"]),
        ('chardev-remove unknown', 'chardev-remove', {'id': 'nope'},
         ["chardev 'nope' not found"]),
        ('chardev-add port 99999', 'chardev-add',
         {'id': 'x', 'backend': inet('99999')},
         ["chardev 'x'", 'port 99999', '0-65535']),
        ('chardev-add port abc', 'chardev-add',
         {'id': 'x', 'backend': inet('abc')},
         ["chardev 'x'", "port 'abc'", 'service name']),
        ('chardev-add duplicate id', 'chardev-add',
         {'id': 'c0', 'backend': sock(f'{D}/dupq.sock')},
         ["chardev 'c0'", "duplicate id 'c0'"]),
        ('chardev-add missing directory', 'chardev-add',
         {'id': 'x', 'backend': sock('/nonexistent/dir/q.sock')},
         ["failed to add chardev 'x'", '/nonexistent/dir/q.sock']),
        ('chardev-add a backend we do not have', 'chardev-add',
         {'id': 'x', 'backend': {'type': 'file', 'data': {'out': '/tmp/x'}}},
         ["'backend.type'", "'file'", 'expected', 'socket']),
        ('chardev-add without backend', 'chardev-add', {'id': 'x'},
         ["parameter 'backend' is missing"]),
        ('netdev_add unknown type', 'netdev_add', {'type': 'tapp', 'id': 'n'},
         ["'tapp'", "did you mean 'tap'"]),
        ('netdev_del in use', 'netdev_del', {'id': 'hn0'},
         ["'hn0' is in use by"]),
        ('netdev_del unknown', 'netdev_del', {'id': 'nope'},
         ["'nope' not found"]),
        ('qom-set a fixed property', 'qom-set',
         {'path': '/objects/m0', 'property': 'outdev', 'value': 'c4'},
         ["'outdev'", 'cannot be changed after the object is created']),
        ('qom-set misspelt property', 'qom-set',
         {'path': '/objects/cc', 'property': 'compare_timout', 'value': 5},
         ["'colo-compare.compare_timout'", "did you mean 'compare_timeout'"]),
        ('qom-set out of range', 'qom-set',
         {'path': '/objects/cc', 'property': 'compare_timeout', 'value': -1},
         ["'compare_timeout'"]),
        ('qom-set bad status', 'qom-set',
         {'path': '/objects/m0', 'property': 'status', 'value': 'maybe'},
         ['status', "'on' or 'off'"]),
        ('qom-get unknown path', 'qom-get',
         {'path': '/objects/nope', 'property': 'type'}, ["'/objects/nope'"]),
        ('x-colo-lost-heartbeat without a colo-frame',
         'x-colo-lost-heartbeat', {},
         ["'colo' is not enabled", 'no colo-frame', '-object colo-frame']),
        ('x-colo-checkpoint-done without a colo-frame',
         'x-colo-checkpoint-done', {'ok': True},
         ["'colo' is not enabled", 'no colo-frame']),
        ('malformed JSON: trailing comma', None,
         '{"execute": "query-version",}', ['json parse error']),
        ('malformed JSON: not JSON', None, 'hello\n', ['json parse error']),
        ('malformed JSON: an array', None, '[1, 2]', ['json object']),
        ('execute of the wrong type', None, '{"execute": 42}',
         ["'execute'"]),
    ]


def run_cmdline_case(args):
    """(exit code, stderr) of colo-proxy with base_args() + args."""
    try:
        r = subprocess.run([proxy_binary()] + base_args() + args,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=10, cwd=D)
    except subprocess.TimeoutExpired:
        raise TestFailure(f'{args}: no exit within 10 s (hangs)')
    return r.returncode, r.stderr


def error_line(stderr):
    """The "colo-proxy: -OPTION ...: ..." line (log lines skipped)."""
    lines = [x for x in stderr.splitlines() if x.startswith('colo-proxy: -')]
    return lines[-1] if lines else ''


def check_message(what, msg, subs):
    for s in subs:
        check(s.lower() in msg.lower(),
              f'{what}: message {msg!r} does not mention {s!r}')


def test_cmdline_mistakes(show=False):
    cases = cmdline_cases()
    for what, args, subs in cases:
        code, err = run_cmdline_case(args)
        check(code == 1, f'{what}: exit code {code} (want 1)\n{err}')
        report = sanitizer_report(err)
        check(not report, f'{what}: sanitizer report\n{report}')
        line = error_line(err)
        check(line, f'{what}: no "colo-proxy: -OPTION" line in {err!r}')
        # the object: the option and its text lead the message
        opt = [a for a in args if a.startswith('-')][-1]
        check(line.startswith(f'colo-proxy: {opt}'),
              f'{what}: {line!r} does not start with the option {opt}')
        check_message(what, line, subs)
        if show:
            print(f'{what}\n    {line}')
    log(f'{len(cases)} command-line mistakes, each one line naming the '
        'option, the property and what is allowed')
    return len(cases)


def qmp_setup(p):
    q = p.qmp
    q.cmd('object-add', **{'qom-type': 'filter-mirror', 'id': 'm0',
                           'netdev': 'hn0', 'outdev': 'c0'})
    q.cmd('object-add', **{'qom-type': 'iothread', 'id': 'io0'})
    q.cmd('object-add', **{'qom-type': 'colo-compare', 'id': 'cc',
                           'primary_in': 'c1', 'secondary_in': 'c2',
                           'outdev': 'c5', 'iothread': 'io0'})
    q.cmd('object-add', **{'qom-type': 'colo-proxy', 'id': 'cp',
                           'mode': 'secondary', 'netdev': 'hn0',
                           'addr': f'unix:{D}/nowhere', 'frame': False})


def test_qmp_mistakes(show=False):
    cases = qmp_cases()
    with ColoProxy(base_args(), dir=D) as p:
        qmp_setup(p)
        q = p.qmp
        for what, cmd, args, subs in cases:
            if cmd is None:
                q.send_raw(args.encode())
                r = q.recv_reply()
            else:
                r = q.cmd_raw(cmd, args)
            check('error' in r, f'{what}: no error: {r}')
            desc = r['error'].get('desc', '')
            check_message(what, desc, subs)
            if show:
                print(f'{what}\n    {desc}')
            # neither crashed nor hung: the monitor still answers
            check(p.alive(), f'{what}: colo-proxy died\n{p.stderr()}')
            q.cmd('query-version')
    log(f'{len(cases)} QMP mistakes answered, the monitor alive after each')
    return len(cases)


def test_at_least_50():
    n = len(cmdline_cases()) + len(qmp_cases())
    check(n >= 50, f'only {n} mistakes')
    log(f'{n} mistakes in all')


def setup():
    global D
    D = tmpdir('cqm')


if __name__ == '__main__':
    setup()
    if '--print' in sys.argv:
        test_cmdline_mistakes(show=True)
        test_qmp_mistakes(show=True)
        sys.exit(0)
    run_tests([test_at_least_50, test_cmdline_mistakes, test_qmp_mistakes])
