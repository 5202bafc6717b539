#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_qmp_monitor - the QMP monitor of the running binary (monitor/qmp.c).

Drives colo-proxy over its -qmp sockets the way a management tool does, and
the way a broken or hostile client might: negotiation, id echo, malformed
JSON, an oversized request, several requests in one write and one request
over several writes, clients that vanish or stop reading, two monitors
(unix and tcp) and several clients on one, the legacy and blocking
(wait=on) spellings, -qmp stdio, and events (SHUTDOWN on quit) reaching
every negotiated client.
"""

import json
import os
import socket
import subprocess
import threading
import time

from coloqtest import (ColoProxy, ProxyExited, QMPClient, TestFailure, check,
                       check_eq, connect_unix, expect_qmp_error,
                       free_tcp_port, log,
                       proxy_binary, run_proxy, run_tests, tmpdir,
                       unix_listen, accept)

QMP_MAX_REQUEST = 1 << 20
NEGOTIATE_FIRST = "Expecting capabilities negotiation with 'qmp_capabilities'"


def error_of(reply):
    check('error' in reply, f'expected an error reply, got {reply!r}')
    return reply['error']['class'], reply['error']['desc']


def test_greeting_and_negotiation():
    with ColoProxy(negotiate=False) as p:
        q = p.qmp
        g = q.greeting['QMP']
        ver = g['version']
        check_eq(sorted(ver['qemu']), ['major', 'micro', 'minor'],
                 'version members')
        check_eq((ver['qemu']['major'], ver['qemu']['minor']), (0, 1),
                 'version')
        check(ver['package'].startswith('colo-proxy '), ver['package'])
        check_eq(g['capabilities'], ['oob'], 'capabilities')

        e = expect_qmp_error(q.cmd, 'query-version', cls='CommandNotFound')
        check_eq(e.desc, NEGOTIATE_FIRST, 'desc')
        e = expect_qmp_error(q.cmd, 'no-such-command', cls='CommandNotFound')
        check_eq(e.desc, NEGOTIATE_FIRST, 'desc')
        check_eq(q.cmd('qmp_capabilities'), {}, 'qmp_capabilities')
        e = expect_qmp_error(q.cmd, 'qmp_capabilities',
                             cls='CommandNotFound')
        check_eq(e.desc, 'Capabilities negotiation is already complete, '
                 'command ignored', 'desc')
        check_eq(q.cmd('query-version'), ver, 'query-version')
        e = expect_qmp_error(q.cmd, 'no-such-command', cls='CommandNotFound')
        check_eq(e.desc, 'The command no-such-command has not been found',
                 'desc')
        names = {c['name'] for c in q.cmd('query-commands')}
        for n in ('qmp_capabilities', 'query-version', 'query-commands',
                  'quit'):
            check(n in names, f'{n} not in query-commands')
        schema = q.cmd('query-qmp-schema')
        check(names <= {e['name'] for e in schema
                        if e['meta-type'] == 'command'},
              'query-qmp-schema lacks commands')


def test_wire_format():
    """The bytes are QEMU's: one line per message, "\\r\\n", ", " and ": "
    separators, QEMU's member order."""
    with ColoProxy(negotiate=False) as p:
        s = connect_unix(p.qmp_path, proc=p)
        s.settimeout(10)
        buf = b''
        while buf.count(b'\r\n') < 1:
            buf += s.recv(4096)
        check(buf.startswith(b'{"QMP": {"version": {"qemu": {"micro": 0, '
                             b'"minor": 1, "major": 0}, "package": '
                             b'"colo-proxy '), f'greeting {buf!r}')
        check(buf.endswith(b'"}, "capabilities": ["oob"]}}\r\n'),
              f'greeting {buf!r}')
        s.sendall(b'{"execute": "qmp_capabilities", "id": "a"}'
                  b'{"execute": "nope", "id": "b"}')
        buf = b''
        while buf.count(b'\r\n') < 2:
            buf += s.recv(4096)
        check_eq(buf, b'{"return": {}, "id": "a"}\r\n'
                 b'{"id": "b", "error": {"class": "CommandNotFound", '
                 b'"desc": "The command nope has not been found"}}\r\n',
                 'replies')
        s.close()


def test_request_errors():
    with ColoProxy() as p:
        q = p.qmp
        cases = [
            ({'execute': 'query-version', 'arguments': [1]}, 'GenericError',
             "QMP input member 'arguments' must be an object"),
            ({'arguments': {}}, 'GenericError',
             "QMP input lacks member 'execute'"),
            ({'execute': 'query-version', 'foo': 1}, 'GenericError',
             "QMP input member 'foo' is unexpected"),
            ({'execute': 'query-version', 'arguments': {'bar': 1}},
             'GenericError', "Parameter 'bar' is unexpected"),
            ({'execute': 'qmp_capabilities', 'arguments': {'enable': 'x'}},
             'GenericError',
             "Invalid parameter type for 'enable', expected: array"),
            ({'execute': 'qom-get', 'arguments': {'path': '/'}},
             'GenericError', "Parameter 'property' is missing"),
        ]
        for req, cls, desc in cases:
            q.send(req)
            check_eq(error_of(q.recv_reply()), (cls, desc), repr(req))


def test_id_echo():
    with ColoProxy() as p:
        q = p.qmp
        for i, rid in enumerate([0, 'text', {'a': [1, None, {'b': 2.5}]},
                                 [True, 'x'], None, -7]):
            q.send({'execute': 'query-status', 'id': rid})
            r = q.recv_reply()
            check('id' in r and r['id'] == rid, f'id {rid!r} -> {r!r}')
            check('return' in r, repr(r))
            # Errors too, including envelope errors.
            q.send({'id': rid, 'execute': 'nope'})
            r = q.recv_reply()
            check_eq(r.get('id'), rid, 'id on error')
            q.send({'id': rid, 'bogus': i})
            r = q.recv_reply()
            check_eq(r.get('id'), rid, 'id on envelope error')
            check_eq(error_of(r)[1], "QMP input member 'bogus' is "
                     "unexpected", 'desc')


def test_malformed_json():
    with ColoProxy() as p:
        q = p.qmp
        for bad in ['{"execute": nope}', '{"execute" "x"}', '}', '{"a": ]',
                    '{"execute": "query-status",}', '\xff\xfe',
                    '{"execute": "query-status" "id": 1}']:
            q.send_raw(bad + '\n')
            cls, desc = error_of(q.recv_reply())
            check_eq(cls, 'GenericError', f'class for {bad!r}')
            check(desc.startswith('JSON parse error'), f'{bad!r}: {desc}')
            # The connection stays usable after each.
            r = q.cmd_raw('query-status')
            check('return' in r, f'after {bad!r}: {r!r}')
        q.send_raw('[1, 2]\n')
        check_eq(error_of(q.recv_reply()),
                 ('GenericError', 'QMP input must be a JSON object'), '[1,2]')
        q.send_raw('42\n')
        check_eq(error_of(q.recv_reply()),
                 ('GenericError', 'QMP input must be a JSON object'), '42')
        check('return' in q.cmd_raw('query-status'), 'still alive')
        st = q.cmd('query-qmp-stats')
        check(st['parse-errors'] >= 7 and st['errors'] >= 9, f'stats {st}')


def test_oversized_request():
    with ColoProxy() as p:
        q = p.qmp
        pad = 'x{}[]"' * 10  # braces and quotes inside the string
        pad = pad.replace('"', '\\"')
        big = ('{"execute": "query-status", "arguments": {"pad": "' +
               pad * (QMP_MAX_REQUEST // len(pad) + 10) + '"}, "id": 1}')
        check(len(big) > QMP_MAX_REQUEST, 'request not big enough')
        t = threading.Thread(target=q.send_raw,
                             args=(big + '{"execute": "query-status", '
                                   '"id": 2}',))
        t.start()
        r = q.recv_reply(timeout=30)
        t.join(30)
        check_eq(error_of(r), ('GenericError', 'JSON request too large'),
                 'oversized')
        r = q.recv_reply()
        check_eq(r.get('id'), 2, 'request after the oversized one')
        check('return' in r, repr(r))
        st = q.cmd('query-qmp-stats')
        check_eq(st['oversized'], 1, 'oversized counter')
        check(st['bytes-in'] > QMP_MAX_REQUEST, f'bytes-in {st}')
        check(p.alive(), 'process died')


def test_pipelined_and_split():
    with ColoProxy() as p:
        q = p.qmp
        q.send_raw('{"execute": "query-status", "id": 1}'
                   '{"execute": "query-version", "id": 2}\r\n'
                   '  {"execute": "query-commands", "id": 3}{"exec')
        for want in (1, 2, 3):
            r = q.recv_reply()
            check_eq(r.get('id'), want, 'pipelined order')
            check('return' in r, repr(r))
        time.sleep(0.1)
        q.send_raw('ute": "query-st')
        time.sleep(0.1)
        q.send_raw('atus", "id": 4}')
        r = q.recv_reply()
        check_eq(r.get('id'), 4, 'split request')
        # One byte at a time.
        for ch in '{"execute": "query-status", "id": "bytes"}':
            q.send_raw(ch)
        check_eq(q.recv_reply().get('id'), 'bytes', 'byte-wise request')


def test_client_drops():
    with ColoProxy() as p:
        for i in range(20):
            c = p.connect_qmp()
            if i % 3 == 0:
                # Many requests whose replies nobody reads.
                c.send_raw('{"execute": "query-qmp-schema"}' * 50)
            elif i % 3 == 1:
                # Half a request.
                c.send_raw('{"execute": "query-ver')
            else:
                # Reset (RST) with data in flight.
                c.send_raw('{"execute": "query-qmp-schema"}' * 10)
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                  b'\x01\x00\x00\x00\x00\x00\x00\x00')
            c.close()
        check('return' in p.qmp.cmd_raw('query-status'), 'alive')
        c = p.connect_qmp()
        check_eq(c.cmd('query-status')['status'], 'running', 'new client')
        c.close()


def test_slow_reader():
    """A client that sends many requests and reads nothing: the monitor
    stops reading it (its replies wait) and keeps serving the others; when
    it reads again, every reply arrives, in order."""
    with ColoProxy() as p:
        slow = p.connect_qmp()
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        n = 400
        reqs = ''.join('{"execute": "query-qmp-schema", "id": %d}' % i
                       for i in range(n))
        t = threading.Thread(target=slow.send_raw, args=(reqs,),
                             daemon=True)
        t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        for _ in range(5):
            check('return' in p.qmp.cmd_raw('query-status'), 'others served')
        check(time.monotonic() - t0 < 5, 'monitor stalled by a slow client')
        check(p.qmp.cmd('query-qmp-stats')['read-pauses'] >= 1,
              'slow client never paused')
        for i in range(n):
            r = slow.recv_reply(timeout=30)
            check_eq(r.get('id'), i, 'reply order of the slow client')
        t.join(10)
        check(not t.is_alive(), 'sender still blocked')


def test_garbage():
    """Mutated requests in random pieces (bounded: 300 inputs per client,
    a fixed seed): the process survives and a new client is served.  A
    client whose garbage left an open bracket or string behind cannot
    know where the stream stands, so each client is replaced."""
    import random
    rng = random.Random(1234)
    seeds = [b'{"execute": "query-status", "id": 1}',
             b'{"execute": "qom-list", "arguments": {"path": "/"}}',
             b'{"execute": "qmp_capabilities", "arguments": '
             b'{"enable": ["oob"]}}',
             b'{"exec-oob": "quit", "id": [1, {"a": "\\u0000"}]}',
             b'[{"execute": "query-version"}, 1, "x", null]']
    with ColoProxy() as p:
        for _ in range(10):
            c = p.connect_qmp()
            c.sock.setblocking(False)
            for _ in range(300):
                b = bytearray(rng.choice(seeds))
                for _ in range(rng.randint(0, 4)):
                    op = rng.randint(0, 2)
                    i = rng.randrange(len(b))
                    if op == 0:
                        b[i] = rng.randrange(256)
                    elif op == 1:
                        b.insert(i, rng.choice(b'{}[]",:\\ \x00\xff'))
                    elif len(b) > 1:
                        del b[i]
                try:
                    c.sock.send(bytes(b))
                except (BlockingIOError, ConnectionError):
                    break
            c.close()
        q = p.connect_qmp()
        check_eq(q.cmd('query-status')['status'], 'running', 'after garbage')
        q.close()


def _sample(schema, typ):
    """A well-typed value for schema type 'typ' naming nothing that exists:
    strings are "cq-nonexistent", enums their first value, structs {}."""
    if typ.startswith('['):
        return []
    if typ in ('str', 'QType'):
        return 'cq-nonexistent'
    if typ in ('int', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
               'uint32', 'uint64', 'size', 'number'):
        return 0
    if typ == 'bool':
        return False
    if typ in ('any', 'null'):
        return None
    t = schema.get(typ, {})
    if t.get('meta-type') == 'enum':
        return t['values'][0]
    return {}


def test_command_sweep():
    """Every command of the schema but quit, with every required argument
    given a well-typed value that names nothing: each answers (return or
    error) and the process survives."""
    with ColoProxy() as p:
        q = p.qmp
        entries = q.cmd('query-qmp-schema')
        schema = {e['name']: e for e in entries}
        n = 0
        for e in entries:
            if e['meta-type'] != 'command' or e['name'] == 'quit':
                continue
            args = {a['name']: _sample(schema, a['type'])
                    for a in e['arguments'] if not a.get('optional')}
            r = q.cmd_raw(e['name'], args)
            check('return' in r or 'error' in r, f'{e["name"]}: {r!r}')
            check(p.alive(), f'{e["name"]} {args} killed the process')
            n += 1
        check('return' in q.cmd_raw('query-status'), 'alive after sweep')
        log(f'{n} commands answered')


def test_two_monitors_and_events():
    port = free_tcp_port()
    d = tmpdir('cqm')
    second = os.path.join(d, 'second.sock')
    with ColoProxy(['-qmp', f'tcp:127.0.0.1:{port},server=on,wait=off',
                    '-qmp', f'unix:{second},server,nowait']) as p:
        a = p.qmp
        b = QMPClient(('127.0.0.1', port), proc=p)
        c = QMPClient(second, proc=p)
        c2 = QMPClient(second, proc=p)          # two on one monitor
        raw = QMPClient(second, negotiate=False, proc=p)
        check_eq(b.cmd('query-version'), a.cmd('query-version'), 'version')
        check_eq(c.cmd('query-status')['running'], True, 'status')
        check_eq(c2.cmd('query-status')['running'], True, 'status')
        check_eq(a.cmd('quit'), {}, 'quit reply')
        for cl in (a, b, c, c2):
            ev = cl.get_event('SHUTDOWN')
            check_eq(ev['data'], {'guest': False, 'reason': 'host-qmp-quit'},
                     'SHUTDOWN data')
            ts = ev['timestamp']
            check(abs(ts['seconds'] - time.time()) < 60 and
                  0 <= ts['microseconds'] < 1000000, f'timestamp {ts}')
        # The unnegotiated client gets no event, just the end.
        try:
            m = raw.recv(timeout=5)
            raise TestFailure(f'unnegotiated client got {m!r}')
        except (EOFError, ConnectionError, ProxyExited):
            pass
        check_eq(p.wait(10), 0, 'exit code after quit')
        check(not os.path.exists(second), 'unix socket file left behind')
        for cl in (b, c, c2, raw):
            cl.close()


def test_wait_on():
    d = tmpdir('cqw')
    path = os.path.join(d, 'q.sock')
    p = ColoProxy(['-qmp', f'unix:{path},server=on'], qmp=False)
    try:
        q = QMPClient(path, proc=p)
        check_eq(q.cmd('query-status')['status'], 'running', 'status')
        q.close()
    finally:
        p.stop()


def test_client_mode():
    """Without server=on the monitor connects out, as QEMU's does."""
    d = tmpdir('cqc')
    path = os.path.join(d, 'mgr.sock')
    lsock = unix_listen(path)
    with ColoProxy(['-qmp', f'unix:{path}'], qmp=False) as p:
        conn = accept(lsock)
        conn.settimeout(10)
        f = conn.makefile('rb')
        check('QMP' in json.loads(f.readline()), 'greeting')
        conn.sendall(b'{"execute": "qmp_capabilities"}'
                     b'{"execute": "query-status", "id": 2}')
        check_eq(json.loads(f.readline()), {'return': {}}, 'negotiation')
        r = json.loads(f.readline())
        check_eq((r['id'], r['return']['running']), (2, True), 'status')
        f.close()
        conn.close()
    lsock.close()


def test_stdio():
    proc = subprocess.Popen([proxy_binary(), '-qmp', 'stdio'],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(
            b'{"execute": "qmp_capabilities"}\n'
            b'{"execute": "query-status", "id": 5}\n'
            b'{"execute": "quit"}\n', timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise TestFailure('-qmp stdio: no exit after quit')
    lines = [json.loads(x) for x in out.decode().splitlines() if x.strip()]
    check(len(lines) >= 4, f'stdio output {out!r}')
    check('QMP' in lines[0], 'greeting')
    check_eq(lines[1], {'return': {}}, 'qmp_capabilities')
    check_eq(lines[2].get('id'), 5, 'id')
    check_eq(lines[3], {'return': {}}, 'quit')
    check_eq(proc.returncode, 0, f'exit code ({err.decode()[-500:]})')


def test_bad_specs():
    for spec, want in [('bogus:x', 'expected stdio'),
                       ('unix:/tmp/x,server=on,frob=1',
                        "Invalid parameter 'frob'"),
                       ('tcp:127.0.0.1', 'tcp:HOST:PORT'),
                       ('tcp:127.0.0.1:70000,server=on,wait=off',
                        'out of range')]:
        r = run_proxy(['-qmp', spec])
        check(r.returncode != 0, f'-qmp {spec} accepted')
        check(want in r.stderr, f'-qmp {spec}: stderr {r.stderr!r}')
    log('bad -qmp specs rejected')


if __name__ == '__main__':
    run_tests([test_greeting_and_negotiation, test_wire_format,
               test_request_errors,
               test_id_echo, test_malformed_json, test_oversized_request,
               test_pipelined_and_split, test_client_drops, test_slow_reader,
               test_garbage, test_command_sweep,
               test_two_monitors_and_events, test_wait_on, test_client_mode,
               test_stdio,
               test_bad_specs])
