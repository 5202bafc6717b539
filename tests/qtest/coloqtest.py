# SPDX-License-Identifier: GPL-2.0-or-later
"""coloqtest - the process-level test library for colo-proxy.

The qtests run the real binary (build/system/colo-proxy, or $COLO_PROXY) in
a temporary directory, talk QMP to it over a unix socket and push frames
through its netdevs and chardevs over unix/TCP sockets, the way QEMU's own
tests/qtest drive QEMU.  Python standard library only.

What is here:

  ColoProxy          start the binary with arguments and a QMP socket; stop
                     it with SIGTERM and check its exit code; stderr; RSS
  QMPClient          greeting, qmp_capabilities, cmd(), events, raw sends
  Qemu               a real qemu-system-x86_64 (-M none) with its own QMP
  run_proxy()        run the binary once (-version, -h, bad options)
  frames             send_frame(), FrameReader, recv_frame(), expect_no_frame()
  sockets            free_tcp_port(), unix_listen(), accept(), connect_unix(),
                     connect_tcp()
  capabilities       need_root(), need_netns(), need_qemu(), need_types(),
                     object_types() -> print "SKIP: reason" and exit 77
  NetNS              network namespaces and veth pairs ('cq<pid>...' names)
                     that are always removed (atexit + context manager)
  run_tests()        runs test functions, prints PASS/FAIL/SKIP and the
                     closing "N passed, N failed, N skipped" line
  sanitizers         a test fails when a colo-proxy it ran printed an
                     ASan / LSan / UBSan report (sanitizer_report();
                     checked by stop() and after every test), so that
                     `make check-asan` catches errors in process tests

A test file looks like:

    from coloqtest import *

    def test_version():
        out = run_proxy(['-version'])
        check(out.returncode == 0, out.stderr)

    if __name__ == '__main__':
        run_tests([test_version])
"""

import atexit
import collections
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import weakref

__all__ = [
    'SKIP_EXIT', 'Skip', 'QMPError', 'ProxyExited', 'TestFailure',
    'source_dir', 'build_dir', 'proxy_binary', 'run_proxy',
    'QMPClient', 'ColoProxy', 'Qemu',
    'FRAME_MAX_LEN', 'frame_bytes', 'send_frame', 'FrameReader',
    'recv_frame', 'expect_no_frame', 'recv_exact',
    'free_tcp_port', 'free_tcp_ports', 'unix_listen', 'accept',
    'connect_unix', 'connect_tcp', 'wait_for',
    'skip', 'need_root', 'need_netns', 'enter_netns', 'need_qemu',
    'need_types',
    'need_binary', 'qemu_binary',
    'object_types', 'netdev_types', 'device_types', 'have_type',
    'NetNS', 'run_tests', 'check', 'check_eq', 'expect_qmp_error',
    'rss_bytes', 'tmpdir', 'log', 'seed_file', 'random_payload',
    'stream_netdev', 'stream_device', 'socket_netdev', 'chardev_unix',
    'chardev_tcp', 'qmp_try', 'sanitizer_report', 'SANITIZER_MARKERS', 'need_commands', 'read_pcap', 'eth_frame', 'is_probe', 'StreamPort',
    'qmp_entry',
]

SKIP_EXIT = 77
FRAME_MAX_LEN = 69632          # QEMU's NET_BUFSIZE, our default max_len
DEFAULT_TIMEOUT = 10.0


# --------------------------------------------------------------------------
# exceptions and assertions

class Skip(Exception):
    """Raised inside a test to skip it (counted as skipped)."""


class TestFailure(AssertionError):
    pass


class ProxyExited(Exception):
    """The binary exited while we were waiting for it."""

    def __init__(self, msg, code=None, stderr=''):
        super().__init__(f'{msg} (exit code {code})\n--- stderr ---\n{stderr}')
        self.code = code
        self.stderr = stderr


class QMPError(Exception):
    """An {"error": {"class": ..., "desc": ...}} reply."""

    def __init__(self, cls, desc, reply=None):
        super().__init__(f'{cls}: {desc}')
        self.cls = cls
        self.desc = desc
        self.reply = reply


def check(cond, msg='check failed'):
    if not cond:
        raise TestFailure(msg)


def check_eq(got, want, what='value'):
    if got != want:
        g, w = repr(got), repr(want)
        if len(g) > 300:
            g = g[:300] + '...'
        if len(w) > 300:
            w = w[:300] + '...'
        raise TestFailure(f'{what}: got {g}, want {w}')


def expect_qmp_error(fn, *args, cls=None, contains=None, **kwargs):
    """Calls fn (usually qmp.cmd) and returns the QMPError it must raise.
    'contains' is a substring (or list of substrings) of the desc."""
    try:
        ret = fn(*args, **kwargs)
    except QMPError as e:
        if cls is not None:
            check(e.cls == cls, f'error class {e.cls!r}, want {cls!r} ({e.desc})')
        subs = [] if contains is None else (
            [contains] if isinstance(contains, str) else list(contains))
        for s in subs:
            check(s.lower() in e.desc.lower(),
                  f'error desc {e.desc!r} does not mention {s!r}')
        return e
    raise TestFailure(f'expected a QMP error, got return {ret!r}')


def log(*a):
    print(*a, flush=True)


# --------------------------------------------------------------------------
# paths

def source_dir():
    d = os.environ.get('COLO_SOURCE_DIR')
    if d:
        return d
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def build_dir():
    d = os.environ.get('COLO_BUILD_DIR')
    if d:
        return d
    return os.path.join(source_dir(), 'build')


def proxy_binary():
    b = os.environ.get('COLO_PROXY')
    if b:
        return b
    return os.path.join(build_dir(), 'system', 'colo-proxy')


def seed_file(name):
    """Path of a seed document (../shared/seeds beside the work tree), or
    None if it is not there."""
    for base in (os.path.join(source_dir(), '..', 'shared', 'seeds'),
                 '/work/shared/seeds'):
        p = os.path.join(base, name)
        if os.path.exists(p):
            return p
    return None


_tmpdirs = []


def tmpdir(prefix='cq'):
    """A fresh temporary directory removed at exit.  Unix socket paths must
    stay under 108 bytes, so it lives in /tmp."""
    d = tempfile.mkdtemp(prefix=f'{prefix}{os.getpid()}-', dir='/tmp')
    _tmpdirs.append(d)
    return d


@atexit.register
def _remove_tmpdirs():
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


def random_payload(n, rng=random):
    return bytes(rng.getrandbits(8) for _ in range(n)) if n < 256 else \
        rng.getrandbits(8 * n).to_bytes(n, 'little')


# --------------------------------------------------------------------------
# one-shot runs

def run_proxy(args, timeout=DEFAULT_TIMEOUT, **kw):
    """Runs the binary with 'args' to completion; returns CompletedProcess
    with text stdout/stderr."""
    return subprocess.run([proxy_binary()] + list(args), capture_output=True,
                          text=True, timeout=timeout, **kw)


_type_cache = {}


def _help_types(option):
    if option in _type_cache:
        return _type_cache[option]
    types = set()
    try:
        out = run_proxy([option, 'help'])
        text = out.stdout + out.stderr
        for line in text.splitlines():
            line = line.strip()
            if not line or line.endswith(':') and ' ' not in line[:-1]:
                # "Object types:" style headings are skipped below too
                pass
            m = re.match(r'^([a-z][a-z0-9_-]*)\b', line)
            if m and not line.lower().startswith(('available', 'list of',
                                                    'usage')):
                types.add(m.group(1))
    except (OSError, subprocess.TimeoutExpired):
        pass
    _type_cache[option] = types
    return types


def object_types():
    """The -object types the binary lists in '-object help'."""
    return _help_types('-object')


def netdev_types():
    return _help_types('-netdev')


def device_types():
    return _help_types('-device')


def have_type(name, option='-object'):
    return name in _help_types(option)


# --------------------------------------------------------------------------
# capabilities

def skip(reason):
    """Skips the whole test file (fails it under CI=true)."""
    if os.environ.get('CI') == 'true':
        print(f'FAIL: would skip, and CI=true: {reason}', flush=True)
        sys.exit(1)
    print(f'SKIP: {reason}', flush=True)
    sys.exit(SKIP_EXIT)


def need_root():
    if os.geteuid() != 0:
        raise Skip('needs root')


_netns_ok = None


def need_netns():
    """Skips unless 'ip netns add' works here."""
    global _netns_ok
    need_root()
    if _netns_ok is None:
        name = f'cq{os.getpid()}probe'
        r = subprocess.run(['ip', 'netns', 'add', name], capture_output=True,
                           text=True)
        _netns_ok = r.returncode == 0
        if _netns_ok:
            subprocess.run(['ip', 'netns', 'del', name], capture_output=True)
    if not _netns_ok:
        raise Skip('network namespaces unavailable (ip netns add failed)')


def enter_netns(*setup):
    """Moves this test process into a new network namespace (loopback up,
    then each command of 'setup' run there, e.g. ['ip', 'route', ...]);
    every process it starts afterwards runs there too.  Skips without
    namespaces."""
    import ctypes
    need_netns()
    name = f'cq{os.getpid()}self'
    subprocess.run(['ip', 'netns', 'add', name], check=True)
    try:
        for cmd in (['ip', 'link', 'set', 'lo', 'up'],) + tuple(setup):
            subprocess.run(['ip', 'netns', 'exec', name] + list(cmd),
                           check=True)
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f'/run/netns/{name}', os.O_RDONLY)
        try:
            if libc.setns(fd, 0x40000000) != 0:      # CLONE_NEWNET
                raise OSError(ctypes.get_errno(), 'setns')
        finally:
            os.close(fd)
    finally:
        # the namespace lives on while this process is in it
        subprocess.run(['ip', 'netns', 'del', name], capture_output=True)


def qemu_binary():
    return shutil.which('qemu-system-x86_64')


def need_qemu():
    if not qemu_binary():
        raise Skip('qemu-system-x86_64 not installed')


def need_types(*names, option='-object'):
    """Skips unless every type in 'names' is listed by '<option> help'."""
    missing = [n for n in names if not have_type(n, option)]
    if missing:
        raise Skip(f'{option} type(s) not implemented yet: '
                   + ', '.join(missing))


def need_binary():
    b = proxy_binary()
    if not os.access(b, os.X_OK):
        skip(f'binary {b} not built')


# --------------------------------------------------------------------------
# sockets

def free_tcp_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    return free_tcp_ports(1)[0]


def free_tcp_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(('127.0.0.1', 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def unix_listen(path, backlog=4):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s.bind(path)
    s.listen(backlog)
    return s


def accept(lsock, timeout=DEFAULT_TIMEOUT):
    """Accepts one connection on a listening socket within 'timeout'."""
    r, _, _ = select.select([lsock], [], [], timeout)
    if not r:
        raise TimeoutError(f'no connection on {lsock.getsockname()!r} '
                           f'within {timeout}s')
    conn, _ = lsock.accept()
    conn.setblocking(True)
    return conn


def _connect_retry(family, addr, timeout, proc=None):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            s.connect(addr)
            return s
        except OSError as e:
            s.close()
            last = e
        if proc is not None:
            proc._check_alive('while connecting to ' + repr(addr))
        if time.monotonic() > deadline:
            raise TimeoutError(f'cannot connect to {addr!r}: {last}')
        time.sleep(0.02)


def connect_unix(path, timeout=DEFAULT_TIMEOUT, proc=None):
    """Connects to a unix socket, retrying until it exists ('proc': a
    ColoProxy whose death aborts the wait)."""
    return _connect_retry(socket.AF_UNIX, path, timeout, proc)


def connect_tcp(port, host='127.0.0.1', timeout=DEFAULT_TIMEOUT, proc=None):
    s = _connect_retry(socket.AF_INET, (host, port), timeout, proc)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def wait_for(pred, timeout=DEFAULT_TIMEOUT, interval=0.02, what='condition'):
    """Polls pred() until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out after {timeout}s waiting for {what}')
        time.sleep(interval)


# --------------------------------------------------------------------------
# option text for the endpoints tests use (QEMU 7.2 spellings; kept in one
# place so that a change of syntax is one edit)

def stream_netdev(id, path, server=True, extra=''):
    """-netdev stream over a unix socket ('server': colo-proxy listens)."""
    s = (f'stream,id={id},server={"on" if server else "off"},'
         f'addr.type=unix,addr.path={path}')
    return s + (',' + extra if extra else '')


def stream_device(id, netdev, path, server=True, extra=''):
    """-device stream: the guest-facing port of 'netdev', a unix stream
    the test (or a VM) plays the guest on."""
    s = (f'stream,id={id},netdev={netdev},server={"on" if server else "off"},'
         f'addr.type=unix,addr.path={path}')
    return s + (',' + extra if extra else '')


def socket_netdev(id, listen=None, connect=None, extra=''):
    """-netdev socket with listen=HOST:PORT or connect=HOST:PORT."""
    s = f'socket,id={id},' + (f'listen={listen}' if listen else
                              f'connect={connect}')
    return s + (',' + extra if extra else '')


def chardev_unix(id, path, server=True, wait=False, extra=''):
    s = f'socket,id={id},path={path}'
    if server:
        s += f',server=on,wait={"on" if wait else "off"}'
    return s + (',' + extra if extra else '')


def chardev_tcp(id, port, host='127.0.0.1', server=True, wait=False,
                extra=''):
    s = f'socket,id={id},host={host},port={port}'
    if server:
        s += f',server=on,wait={"on" if wait else "off"}'
    return s + (',' + extra if extra else '')


_cmd_cache = {}


def need_commands(qmp, *names):
    """Skips unless the monitor has every command in 'names'
    (query-commands)."""
    key = id(qmp)
    if key not in _cmd_cache:
        try:
            _cmd_cache.clear()
            _cmd_cache[key] = {c['name'] for c in qmp.cmd('query-commands')}
        except QMPError:
            _cmd_cache[key] = set()
    missing = [n for n in names if n not in _cmd_cache[key]]
    if missing:
        raise Skip('QMP command(s) not implemented yet: ' + ', '.join(missing))


def qmp_try(qmp, name, args=None, **kw):
    """cmd() that returns None when the command does not exist yet
    (CommandNotFound) instead of raising."""
    try:
        return qmp.cmd(name, args, **kw)
    except QMPError as e:
        if e.cls == 'CommandNotFound':
            return None
        raise


def qmp_entry(qmp, command, key, value, missing=None):
    """The entry of the list 'command' returns whose 'key' is 'value'
    (query-netdev-stats' 'id', query-chardev's 'label', ...).  None when
    there is none, or, given 'missing', TestFailure(missing)."""
    for e in qmp.cmd(command):
        if e[key] == value:
            return e
    if missing is not None:
        raise TestFailure(missing)
    return None


# --------------------------------------------------------------------------
# frames: 4-byte BE length [+ 4-byte BE vnet_hdr_len] + payload

def frame_bytes(payload, vnet=None):
    """The wire form of one frame; 'vnet' is the vnet_hdr_len field value
    (None: no vnet field)."""
    hdr = struct.pack('>I', len(payload))
    if vnet is not None:
        hdr += struct.pack('>I', vnet)
    return hdr + bytes(payload)


def send_frame(sock, payload, vnet=None):
    sock.sendall(frame_bytes(payload, vnet))


class FrameReader:
    """Reassembles frames from a byte stream, like net/link-framing.c.

    feed(data) returns the list of completed frames: payload bytes, or
    (vnet_hdr_len, payload) tuples when 'vnet' is set.  Garbage (len 0,
    len > max_len, vnet_hdr_len > len) raises ValueError and resets."""

    def __init__(self, vnet=False, max_len=FRAME_MAX_LEN):
        self.vnet = vnet
        self.max_len = max_len
        self.buf = bytearray()
        self.frames = 0
        self.errors = 0

    def reset(self):
        self.buf.clear()

    def pending(self):
        return len(self.buf)

    def feed(self, data):
        self.buf += data
        out = []
        hl = 8 if self.vnet else 4
        while len(self.buf) >= hl:
            (n,) = struct.unpack_from('>I', self.buf, 0)
            vl = struct.unpack_from('>I', self.buf, 4)[0] if self.vnet else 0
            if n == 0 or n > self.max_len or vl > n:
                self.errors += 1
                self.buf.clear()
                raise ValueError(f'bad frame header len={n} vnet_hdr_len={vl}')
            if len(self.buf) < hl + n:
                break
            payload = bytes(self.buf[hl:hl + n])
            del self.buf[:hl + n]
            self.frames += 1
            out.append((vl, payload) if self.vnet else payload)
        return out


_readers = weakref.WeakKeyDictionary()
_pending = weakref.WeakKeyDictionary()


def _reader_for(sock, vnet):
    r = _readers.get(sock)
    if r is None or r.vnet != vnet:
        r = _readers[sock] = FrameReader(vnet)
        _pending[sock] = collections.deque()
    return r


def recv_frame(sock, timeout=5.0, vnet=False):
    """Returns the next frame read from 'sock' (payload bytes, or
    (vnet_hdr_len, payload) with vnet), or None if none completes within
    'timeout'.  Partial frames are kept per socket for the next call.
    Raises EOFError when the peer closes."""
    r = _reader_for(sock, vnet)
    q = _pending[sock]
    deadline = time.monotonic() + timeout
    while not q:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        rd, _, _ = select.select([sock], [], [], left)
        if not rd:
            return None
        data = sock.recv(262144)
        if not data:
            raise EOFError('peer closed the connection'
                           + (f' ({r.pending()} bytes of a partial frame)'
                              if r.pending() else ''))
        q.extend(r.feed(data))
    return q.popleft()


def expect_no_frame(sock, timeout=0.5, vnet=False):
    f = recv_frame(sock, timeout, vnet)
    check(f is None, f'unexpected frame {f!r:.120}')


def recv_exact(sock, n, timeout=5.0):
    buf = bytearray()
    deadline = time.monotonic() + timeout
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f'got {len(buf)} of {n} bytes')
        rd, _, _ = select.select([sock], [], [], left)
        if rd:
            d = sock.recv(n - len(buf))
            if not d:
                raise EOFError(f'EOF after {len(buf)} of {n} bytes')
            buf += d
    return bytes(buf)


def read_pcap(path):
    """Records of a pcap file: list of (timestamp_seconds, orig_len,
    data).  A truncated last record is ignored."""
    with open(path, 'rb') as f:
        b = f.read()
    if len(b) < 24:
        return []
    magic = struct.unpack_from('<I', b, 0)[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        e = '<'
    else:
        e = '>'
        magic = struct.unpack_from('>I', b, 0)[0]
    nano = magic == 0xa1b23c4d
    out = []
    off = 24
    while off + 16 <= len(b):
        sec, frac, incl, orig = struct.unpack_from(e + 'IIII', b, off)
        off += 16
        if off + incl > len(b):
            break
        out.append((sec + frac / (1e9 if nano else 1e6), orig,
                    b[off:off + incl]))
        off += incl
    return out


def is_probe(frame):
    """True for the frames StreamPort.probe() sends."""
    return frame[12:16] == b'\x88\xb5pr'


def eth_frame(n, size=64, tag=b'cq'):
    """A recognisable Ethernet frame: broadcast dst, locally administered
    src, ethertype 0x88b5 (local experimental), then 'tag', the 32-bit
    sequence number 'n' and filler up to 'size' bytes."""
    hdr = b'\xff' * 6 + b'\x02\x00\x00\x00\x00\x01' + b'\x88\xb5'
    body = tag + struct.pack('>I', n)
    fill = bytes((n + i) & 0xff for i in range(max(0, size - len(hdr)
                                                       - len(body))))
    return hdr + body + fill


# --------------------------------------------------------------------------
# QMP

class QMPClient:
    """A QMP connection (unix path or (host, port)).

    cmd(name, args=None, **kwargs) returns the "return" value or raises
    QMPError; kwargs with '_' in the name are sent as given, use args= for
    names with '-' (or cmd('object-add', **{'qom-type': ...})).  Events
    that arrive meanwhile are queued in self.events."""

    def __init__(self, addr, timeout=DEFAULT_TIMEOUT, negotiate=True,
                 proc=None):
        self.timeout = timeout
        self.proc = proc
        if isinstance(addr, str):
            self.sock = connect_unix(addr, timeout, proc)
        else:
            self.sock = connect_tcp(addr[1], addr[0], timeout, proc)
        self.buf = b''
        self.events = collections.deque()
        self.next_id = 1
        self.greeting = self.recv()
        # QEMU 7.2 can send an event it emits while starting (RESUME of
        # -M none) before the greeting of a client that connected just
        # then: keep it, as any event, and read on
        while 'event' in self.greeting and 'QMP' not in self.greeting:
            self.events.append(self.greeting)
            self.greeting = self.recv()
        if 'QMP' not in self.greeting:
            raise TestFailure(f'bad QMP greeting {self.greeting!r}')
        if negotiate:
            self.cmd('qmp_capabilities')

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send_raw(self, data):
        """Sends bytes or str as they are (malformed input tests)."""
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj) + '\n')

    def recv(self, timeout=None):
        """Next message (reply or event), or raises TimeoutError."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        dec = json.JSONDecoder()
        while True:
            s = self.buf.lstrip()
            if s:
                try:
                    text = s.decode('utf-8', 'replace')
                    obj, end = dec.raw_decode(text)
                    self.buf = text[end:].encode()
                    return obj
                except json.JSONDecodeError:
                    pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'no QMP message within {timeout}s '
                                   f'(buffered {self.buf[:200]!r})')
            rd, _, _ = select.select([self.sock], [], [], left)
            if rd:
                d = self.sock.recv(65536)
                if not d:
                    if self.proc is not None:
                        self.proc._check_alive('QMP connection closed')
                    raise EOFError('QMP connection closed')
                self.buf += d

    def recv_reply(self, timeout=None):
        """Next non-event message; events are queued."""
        while True:
            m = self.recv(timeout)
            if 'event' in m:
                self.events.append(m)
                continue
            return m

    def cmd_raw(self, name, args=None, **kwargs):
        """Sends a command and returns the whole reply object."""
        a = dict(args or {})
        a.update(kwargs)
        req = {'execute': name, 'id': self.next_id}
        self.next_id += 1
        if a:
            req['arguments'] = a
        self.send(req)
        reply = self.recv_reply()
        if reply.get('id') != req['id']:
            raise TestFailure(f'reply id {reply.get("id")!r} for request '
                              f'{req["id"]}: {reply!r}')
        return reply

    def cmd(self, name, args=None, **kwargs):
        reply = self.cmd_raw(name, args, **kwargs)
        if 'error' in reply:
            e = reply['error']
            raise QMPError(e.get('class'), e.get('desc'), reply)
        if 'return' not in reply:
            raise TestFailure(f'reply without return/error: {reply!r}')
        return reply['return']

    def get_event(self, name=None, timeout=None):
        """Waits for an event ('name' or any); returns it or raises
        TimeoutError.  Other events stay queued."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if name is None or ev['event'] == name:
                    del self.events[i]
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'no event {name} within {timeout}s')
            try:
                m = self.recv(left)
            except TimeoutError:
                continue
            if 'event' in m:
                self.events.append(m)
            else:
                raise TestFailure(f'unexpected non-event message {m!r}')

    # conveniences ------------------------------------------------------

    def object_add(self, qom_type, id, **props):
        a = {'qom-type': qom_type, 'id': id}
        a.update(props)
        return self.cmd('object-add', a)

    def object_del(self, id):
        return self.cmd('object-del', id=id)

    def qom_get(self, path, prop):
        return self.cmd('qom-get', path=path, property=prop)

    def qom_set(self, path, prop, value):
        return self.cmd('qom-set', path=path, property=prop, value=value)


# --------------------------------------------------------------------------
# the binary

# What AddressSanitizer, LeakSanitizer and UBSan print when they find
# something (the check-asan build); any of them in a colo-proxy's stderr
# fails the test that ran it, whatever its exit code.
SANITIZER_MARKERS = ('ERROR: AddressSanitizer', 'ERROR: LeakSanitizer',
                     'LeakSanitizer:', 'runtime error:',
                     'WARNING: ThreadSanitizer')


def sanitizer_report(text):
    """The sanitizer report in 'text' (from its first marker line, at most
    4000 characters), or None if there is none."""
    for m in SANITIZER_MARKERS:
        i = text.find(m)
        if i >= 0:
            start = text.rfind('\n', 0, i) + 1
            return text[start:start + 4000]
    return None


def _sanitizer_failures():
    """Sanitizer reports of the colo-proxy processes of the current test
    (running or exited): a list of 'pid N: report' strings."""
    out = []
    for p in list(_live) + list(_recent):
        if not isinstance(p, ColoProxy) or p.proc is None:
            continue
        try:
            r = sanitizer_report(p.stderr())
        except OSError:
            continue
        if r:
            out.append(f'pid {p.proc.pid}: {r}')
    return out


def rss_bytes(pid):
    """(VmRSS, VmHWM) of 'pid' in bytes, from /proc/PID/status."""
    rss = hwm = 0
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1]) * 1024
            elif line.startswith('VmHWM:'):
                hwm = int(line.split()[1]) * 1024
    return rss, hwm


_live = []


class ColoProxy:
    """One colo-proxy process in a temporary directory.

        with ColoProxy(['-netdev', 'stream,...']) as p:
            p.qmp.cmd('query-version')
            p.path('sock')       # a path in its temp dir

    The process gets '-qmp unix:DIR/qmp.sock,server=on,wait=off' (unless
    qmp=False), stdout/stderr go to files (read with .stdout()/.stderr()),
    and stop() sends SIGTERM and checks the exit code."""

    def __init__(self, args=(), qmp=True, negotiate=True, dir=None,
                 env=None, start=True, timeout=DEFAULT_TIMEOUT, wrapper=()):
        self.args = list(args)
        self.dir = dir or tmpdir('cqp')
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        self.use_qmp = qmp
        self.negotiate = negotiate
        self.env = env
        self.timeout = timeout
        self.wrapper = list(wrapper)
        self.proc = None
        self.qmp = None
        self.returncode = None
        self._out = os.path.join(self.dir, 'stdout.txt')
        self._err = os.path.join(self.dir, 'stderr.txt')
        if start:
            self.start()

    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def pid(self):
        return self.proc.pid

    def cmdline(self):
        a = [proxy_binary()]
        if self.use_qmp:
            a += ['-qmp', f'unix:{self.qmp_path},server=on,wait=off']
        return self.wrapper + a + self.args

    def start(self, connect=True):
        """Starts the process; with 'connect' (and qmp), also connects and
        negotiates QMP (else call connect_qmp() later)."""
        env = dict(os.environ)
        if self.env:
            env.update(self.env)
        self.proc = subprocess.Popen(
            self.cmdline(), stdin=subprocess.DEVNULL,
            stdout=open(self._out, 'wb'), stderr=open(self._err, 'wb'),
            env=env, cwd=self.dir)
        _live.append(self)
        if self.use_qmp and connect:
            self.qmp = self.connect_qmp(self.negotiate)
        return self

    def connect_qmp(self, negotiate=True, timeout=None):
        """A new QMP connection (the monitor takes one at a time in QEMU;
        ours may take several).  Sets self.qmp if it is not set."""
        c = QMPClient(self.qmp_path, timeout or self.timeout, negotiate,
                      proc=self)
        if self.qmp is None:
            self.qmp = c
        return c

    def stdout(self):
        with open(self._out, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def stderr(self):
        with open(self._err, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _check_alive(self, what):
        if self.proc is not None and self.proc.poll() is not None:
            raise ProxyExited(f'colo-proxy exited {what}',
                              self.proc.returncode, self.stderr())

    def rss(self):
        """(VmRSS, VmHWM) in bytes."""
        return rss_bytes(self.proc.pid)

    def wait(self, timeout=DEFAULT_TIMEOUT):
        self.returncode = self.proc.wait(timeout)
        return self.returncode

    def stop(self, expect=0, timeout=DEFAULT_TIMEOUT, sig=signal.SIGTERM):
        """Sends 'sig' and waits; checks the exit code against 'expect'
        (None: any).  Kills with SIGKILL after 'timeout' and fails."""
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._forget()
                raise TestFailure(f'colo-proxy did not exit within {timeout}s '
                                  f'of signal {sig}\n{self.stderr()}')
        self.returncode = self.proc.returncode
        self._forget()
        report = sanitizer_report(self.stderr())
        if report:
            raise TestFailure(f'colo-proxy sanitizer report (exit code '
                              f'{self.returncode}):\n{report}')
        if expect is not None and self.returncode != expect:
            raise TestFailure(f'colo-proxy exit code {self.returncode}, want '
                              f'{expect}\n--- stderr ---\n{self.stderr()}')
        return self.returncode

    def kill(self):
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._forget()

    def _forget(self):
        if self in _live:
            _live.remove(self)
        _recent.append(self)
        del _recent[:-4]

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill()
        return False


_recent = []


@atexit.register
def _kill_live():
    for p in list(_live):
        try:
            p.kill()
        except Exception:
            pass


class StreamPort:
    """A colo-proxy with one port the test drives from both ends:

        guest socket <-> -device stream (d0) <-> [chain of n0] <->
        -netdev stream (n0) <-> net socket

    Both stream endpoints listen on unix sockets in the proxy's directory;
    the test connects to both and checks the path works.  Frames sent on
    .guest go out on .net (rx), frames sent on .net arrive on .guest (tx).
    """

    def __init__(self, extra=(), connect=True, probe=True, dir=None,
                 netdev_extra='', device_extra=''):
        self.dir = dir or tmpdir('cqs')
        self.net_path = os.path.join(self.dir, 'net.sock')
        self.guest_path = os.path.join(self.dir, 'guest.sock')
        args = ['-netdev', stream_netdev('n0', self.net_path,
                                         extra=netdev_extra),
                '-device', stream_device('d0', 'n0', self.guest_path,
                                         extra=device_extra)]
        self.proxy = ColoProxy(args + list(extra), dir=self.dir)
        self.qmp = self.proxy.qmp
        self.guest = self.net = None
        if connect:
            self.connect()
            if probe:
                self.probe()

    def connect(self):
        self.guest = connect_unix(self.guest_path, proc=self.proxy)
        self.net = connect_unix(self.net_path, proc=self.proxy)

    def probe(self, timeout=5.0):
        """Waits until both connections carry frames (the proxy accepts
        asynchronously): a frame each way.  Probe frames are eth_frame()s
        tagged b'pr' (is_probe() tells them apart)."""
        n = random.getrandbits(31)
        send_frame(self.net, eth_frame(n, tag=b'pr'))
        got = recv_frame(self.guest, timeout)
        check(got == eth_frame(n, tag=b'pr'), f'probe net->guest got {got!r:.80}')
        send_frame(self.guest, eth_frame(n + 1, tag=b'pr'))
        got = recv_frame(self.net, timeout)
        check(got == eth_frame(n + 1, tag=b'pr'),
              f'probe guest->net got {got!r:.80}')

    def close(self):
        for s in (self.guest, self.net):
            if s:
                s.close()

    def stop(self, expect=0):
        self.close()
        return self.proxy.stop(expect)


# --------------------------------------------------------------------------
# a real QEMU as a peer

class Qemu:
    """qemu-system-x86_64 -M none -nodefaults -display none with a QMP
    socket and 'args'; .qmp is its QMPClient."""

    def __init__(self, args=(), timeout=DEFAULT_TIMEOUT):
        self.dir = tmpdir('cqq')
        self.qmp_path = os.path.join(self.dir, 'qmp.sock')
        self._err = os.path.join(self.dir, 'stderr.txt')
        cmd = [qemu_binary(), '-M', 'none', '-nodefaults', '-display', 'none',
               '-qmp', f'unix:{self.qmp_path},server=on,wait=off'] + list(args)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(self._err, 'wb'))
        _live.append(self)
        self.qmp = QMPClient(self.qmp_path, timeout, True, proc=self)

    def stderr(self):
        with open(self._err, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def _check_alive(self, what):
        if self.proc.poll() is not None:
            raise ProxyExited(f'qemu exited {what}', self.proc.returncode,
                              self.stderr())

    def stop(self, timeout=DEFAULT_TIMEOUT):
        try:
            if self.proc.poll() is None and self.qmp:
                self.qmp.cmd('quit')
        except (OSError, EOFError, QMPError, TimeoutError):
            pass
        if self.qmp:
            self.qmp.close()
            self.qmp = None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self in _live:
            _live.remove(self)
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in _live:
            _live.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


# --------------------------------------------------------------------------
# network namespaces

class NetNS:
    """Creates namespaces and veth pairs with unique names ('cq<pid>' +
    suffix) and removes them on close(), at exit, or when used as a context
    manager.

        with NetNS() as n:
            a = n.add('a')                 # namespace name
            b = n.add('b')
            n.veth('a0', a, 'b0', b)       # veth pair across namespaces
            n.run(a, 'ip', 'addr', 'add', '10.0.0.1/24', 'dev', n.ifname('a0'))

    Interface names are n.ifname(short) ('cq<pid><short>', <= 15 bytes).
    Namespaces are n.ns(short)."""

    _all = []

    def __init__(self):
        need_netns()
        self.tag = f'cq{os.getpid()}'
        self.namespaces = []
        self.links = []        # (name, ns or None)
        NetNS._all.append(self)

    def ns(self, short):
        return f'{self.tag}{short}'

    def ifname(self, short):
        name = f'{self.tag}{short}'
        check(len(name) <= 15, f'interface name {name} too long')
        return name

    def add(self, short):
        name = self.ns(short)
        subprocess.run(['ip', 'netns', 'del', name], capture_output=True)
        self._ip('netns', 'add', name)
        self.namespaces.append(name)
        self.run(name, 'ip', 'link', 'set', 'lo', 'up')
        return name

    def veth(self, a_short, a_ns, b_short, b_ns, up=True):
        """Creates veth pair ifname(a_short)<->ifname(b_short); each end is
        moved into its namespace (None: stays in this one)."""
        a, b = self.ifname(a_short), self.ifname(b_short)
        self._ip('link', 'add', a, 'type', 'veth', 'peer', 'name', b)
        self.links.append((a, None))
        for dev, ns in ((a, a_ns), (b, b_ns)):
            if ns:
                self._ip('link', 'set', dev, 'netns', ns)
            if dev == a:
                self.links[-1] = (a, ns)
            if up:
                self.run(ns, 'ip', 'link', 'set', dev, 'up')
        return a, b

    def run(self, ns, *cmd, check_rc=True, timeout=30, **kw):
        """Runs 'cmd' inside namespace 'ns' (None: here)."""
        full = (['ip', 'netns', 'exec', ns] if ns else []) + list(cmd)
        r = subprocess.run(full, capture_output=True, text=True,
                           timeout=timeout, **kw)
        if check_rc and r.returncode != 0:
            raise TestFailure(f'{" ".join(full)} failed: {r.stderr.strip()}')
        return r

    def popen(self, ns, *cmd, **kw):
        full = (['ip', 'netns', 'exec', ns] if ns else []) + list(cmd)
        return subprocess.Popen(full, **kw)

    def _ip(self, *args):
        r = subprocess.run(['ip'] + list(args), capture_output=True, text=True)
        if r.returncode != 0:
            raise TestFailure(f'ip {" ".join(args)} failed: {r.stderr.strip()}')

    def close(self):
        for name, ns in reversed(self.links):
            cmd = (['ip', 'netns', 'exec', ns] if ns else []) + \
                ['ip', 'link', 'del', name]
            subprocess.run(cmd, capture_output=True)
        self.links = []
        for ns in reversed(self.namespaces):
            subprocess.run(['ip', 'netns', 'del', ns], capture_output=True)
        self.namespaces = []
        if self in NetNS._all:
            NetNS._all.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


@atexit.register
def _netns_cleanup():
    for n in list(NetNS._all):
        n.close()


# --------------------------------------------------------------------------
# the runner

def _on_alarm(signum, frame):
    raise TimeoutError('test timed out')


def run_tests(tests, timeout=240):
    """Runs each function in 'tests' (a Skip exception skips it), prints
    PASS/FAIL/SKIP per test and the closing 'N passed, N failed, N skipped'
    line, and exits: 1 if any failed, 77 if all were skipped, else 0.
    Each test gets 'timeout' seconds (SIGALRM)."""
    need_binary()
    signal.signal(signal.SIGALRM, _on_alarm)
    passed = failed = skipped = 0
    for t in tests:
        name = t.__name__
        log(f'--- {name}')
        t0 = time.monotonic()
        signal.alarm(timeout)
        try:
            t()
        except Skip as e:
            signal.alarm(0)
            if os.environ.get('CI') == 'true':
                # in CI a missing capability is a failure, never a skip
                failed += 1
                log(f'FAIL {name}: would skip, and CI=true: {e}')
            else:
                skipped += 1
                log(f'SKIP {name}: {e}')
        except BaseException as e:   # noqa: B902 - report everything
            signal.alarm(0)
            if isinstance(e, KeyboardInterrupt):
                raise
            failed += 1
            traceback.print_exc(file=sys.stdout)
            for p in list(_live) + _recent[-2:]:
                if isinstance(p, ColoProxy):
                    try:
                        err = p.stderr()
                    except OSError:
                        err = ''
                    if err:
                        log(f'--- colo-proxy stderr (pid {p.proc.pid}, '
                            f'{"running" if p.alive() else "exited"}) ---')
                        log(err[-3000:])
            log(f'FAIL {name} ({time.monotonic() - t0:.2f}s)')
        else:
            signal.alarm(0)
            reports = _sanitizer_failures()
            if reports:
                failed += 1
                for r in reports:
                    log(f'--- sanitizer report, colo-proxy {r}')
                log(f'FAIL {name} (sanitizer report) '
                    f'({time.monotonic() - t0:.2f}s)')
            else:
                passed += 1
                log(f'PASS {name} ({time.monotonic() - t0:.2f}s)')
        finally:
            for p in list(_live):
                try:
                    p.kill()
                except Exception:
                    pass
            del _recent[:]
    log(f'{passed} passed, {failed} failed, {skipped} skipped')
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(SKIP_EXIT)
    sys.exit(0)
