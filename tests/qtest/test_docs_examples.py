#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_docs_examples - the examples of docs/*.md run as written.

A fenced code block preceded by an HTML comment line

    <!-- test: MODE [key="value" ...] -->

(invisible in the rendered page) is run by this test; the convention, the
modes and their options are docs/devel/docs-examples.md.  In short:

  run     each line is a shell command (bash); each must exit 0
  output  each line is colo-proxy's error line "colo-proxy: -OPT TEXT: MSG";
          colo-proxy -OPT TEXT must print exactly that and exit 1
  start   the colo-proxy command lines (with their '\\' continuations, through
          bash, so quoting mistakes show) are started, each must come up
          (its QMP answers), stay up, and exit 0 on SIGTERM; 'ip' lines run
          first, qemu-system-x86_64 lines only with qemu="run"
  script  the whole block is one bash script (heredocs, pipes), run with
          -e in a fresh directory; it must exit 0 and leave the files of
          creates="..."; needs="cmd ..." skips without those commands
  qmp     a QMP transcript: every {"execute": ...} line is sent to a
          colo-proxy started with args="...", and the reply must equal the
          next line (a {"return"/"error"} line); '$ ...' lines are skipped

Options: netns="yes" runs the block in a new network namespace (lo up);
setup="sh commands" run there first; dirs="/run/x ..." are created for
the block and removed after if it created them; files="..." are removed
after.  '...' in a colo-proxy line stands for "more options" and is
dropped; in a qemu-system-x86_64 line it is replaced by QEMU_GUEST below
(and QEMU_GUEST is appended to a QEMU line without '...').
"""

import atexit
import json
import os
import re
import shutil
import shlex
import signal
import socket
import subprocess
import time

from coloqtest import *

MARK = re.compile(r'^<!--\s*test:\s*(\w+)(.*?)-->\s*$')
OPT = re.compile(r'(\w+)="([^"]*)"')
QEMU_GUEST = '-machine q35 -accel tcg -m 64 -S -display none -nodefaults'


def examples():
    """[(doc, line, mode, {option: value}, [block lines])] of every marked
    block in docs/*.md."""
    out = []
    for doc in sorted(os.listdir(os.path.join(source_dir(), 'docs'))):
        if not doc.endswith('.md'):
            continue
        with open(os.path.join(source_dir(), 'docs', doc)) as f:
            lines = f.read().split('\n')
        i = 0
        while i < len(lines):
            m = MARK.match(lines[i])
            if not m:
                i += 1
                continue
            check(i + 1 < len(lines) and lines[i + 1].startswith('```'),
                  f'{doc}:{i + 1}: a test marker not followed by a fence')
            j = i + 2
            while j < len(lines) and not lines[j].startswith('```'):
                j += 1
            opts = dict(OPT.findall(m.group(2)))
            out.append((doc, i + 3, m.group(1), opts, lines[i + 2:j]))
            i = j + 1
    return out


def commands(block):
    """The block's commands: continuation lines joined, blank lines and
    '#' comment lines dropped."""
    cmds, cur = [], ''
    for line in block:
        s = line.strip()
        if not cur and (not s or s.startswith('#')):
            continue
        cur += (' ' if cur else '') + s
        if cur.endswith('\\'):
            cur = cur[:-1].rstrip()
            continue
        cmds.append(cur)
        cur = ''
    if cur:
        cmds.append(cur)
    return cmds


class Bed:
    """Where a block runs: a temporary directory with colo-proxy on PATH,
    optionally a network namespace, directories made for it."""

    def __init__(self, where, opts):
        self.where = where
        self.dir = tmpdir('cqdoc')
        bindir = os.path.join(self.dir, 'bin')
        os.mkdir(bindir)
        os.symlink(proxy_binary(), os.path.join(bindir, 'colo-proxy'))
        self.env = dict(os.environ,
                        PATH=bindir + ':' + os.environ.get('PATH', ''))
        self.ns = None
        self.made = []
        self.files = opts.get('files', '').split()
        self.procs = []
        if opts.get('netns') == 'yes':
            need_netns()
            self.ns = f'cqdoc{os.getpid()}-{len(_beds)}'
            subprocess.run(['ip', 'netns', 'add', self.ns], check=True)
            self.sh('ip link set lo up')
        _beds.append(self)
        for d in opts.get('dirs', '').split():
            if not os.path.isdir(d):
                os.makedirs(d)
                self.made.append(d)
        if opts.get('setup'):
            self.sh(opts['setup'])

    def argv(self, cmd):
        a = ['bash', '-c', cmd]
        return (['ip', 'netns', 'exec', self.ns] + a) if self.ns else a

    def sh(self, cmd, expect=0):
        r = subprocess.run(self.argv(cmd), capture_output=True, text=True,
                           env=self.env, cwd=self.dir, timeout=30)
        if expect is not None:
            check(r.returncode == expect,
                  f'{self.where}: `{cmd}` exited {r.returncode}, want '
                  f'{expect}\n{r.stdout[-2000:]}{r.stderr[-2000:]}')
        return r

    def start(self, cmd):
        """Starts 'cmd' through bash's exec, so the process is the
        command itself.  A line the shell would split into several
        commands (an unquoted ';', '&', '|') fails: exec would run only
        the first part."""
        lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
        ops = [t for t in lex if t and set(t) <= set(';&|')]
        check(not ops, f'{self.where}: `{cmd}` is several commands for the '
              f'shell (unquoted {ops[0]!r}?)' if ops else '')
        n = len(self.procs)
        err = open(os.path.join(self.dir, f'stderr{n}'), 'w+')
        p = subprocess.Popen(self.argv('exec ' + cmd), env=self.env,
                             cwd=self.dir, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
        p.errfile = err
        p.cmd = cmd
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.ns:
            subprocess.run(['ip', 'netns', 'del', self.ns],
                           capture_output=True)
            self.ns = None
        for f in self.files:
            if os.path.exists(f):
                os.unlink(f)
        for d in reversed(self.made):
            subprocess.run(['rm', '-rf', d])
        if self in _beds:
            _beds.remove(self)


_beds = []


@atexit.register
def _close_beds():
    for b in list(_beds):
        b.close()


def stderr_of(p):
    p.errfile.seek(0)
    return p.errfile.read()


def wait_qmp(path, p, where):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise TestFailure(f'{where}: `{p.cmd}` exited {p.returncode}:\n'
                              f'{stderr_of(p)[-3000:]}')
        if os.path.exists(path):
            try:
                q = QMPClient(path, 10)
                q.cmd('query-version')
                return q
            except OSError:
                pass
        time.sleep(0.05)
    raise TestFailure(f'{where}: `{p.cmd}` did not answer QMP in 10 s')


def run_mode_run(where, opts, block):
    bed = Bed(where, opts)
    try:
        for c in commands(block):
            r = bed.sh(c)
            check(r.stdout.strip(), f'{where}: `{c}` printed nothing')
    finally:
        bed.close()
    return len(commands(block))


def run_script(where, opts, block):
    """Runs the block as one bash script (set -e: the first failing
    command fails it) in a fresh directory.  Returns (the Bed, whose
    .dir holds what the script made, and its stdout); the caller closes
    the Bed."""
    for cmd in opts.get('needs', '').split():
        if not shutil.which(cmd):
            skip(f'{where}: no {cmd} (scripts/install-deps.sh test)')
    bed = Bed(where, opts)
    try:
        script = os.path.join(bed.dir, 'example.sh')
        with open(script, 'w') as f:
            f.write('\n'.join(block) + '\n')
        r = subprocess.run(bed.argv(f'bash -e {shlex.quote(script)}'),
                           capture_output=True, text=True, env=bed.env,
                           cwd=bed.dir, timeout=120)
        check(r.returncode == 0, f'{where}: the script exited '
              f'{r.returncode}\n{r.stdout[-2000:]}{r.stderr[-2000:]}')
        for name in opts.get('creates', '').split():
            check(os.path.isfile(os.path.join(bed.dir, name)),
                  f'{where}: the script did not create {name}')
    except BaseException:
        bed.close()
        raise
    return bed, r.stdout


def run_mode_script(where, opts, block):
    bed, _ = run_script(where, opts, block)
    bed.close()
    return len(commands(block))


def run_mode_output(where, opts, block):
    n = 0
    for line in block:
        line = line.strip()
        if not line:
            continue
        m = re.match(r'^colo-proxy: (-\w+) (.*?): (.*)$', line)
        check(m, f'{where}: not an error line: {line!r}')
        r = run_proxy([m.group(1), m.group(2)])
        check_eq(r.returncode, 1, f'{where}: exit code of {line!r}')
        got = [x for x in r.stderr.splitlines() if x.startswith('colo-proxy:')]
        check_eq(got, [line], f'{where}: the error line')
        n += 1
    return n


def qemu_line(cmd):
    if ' ... ' in f' {cmd} ':
        return cmd.replace('...', QEMU_GUEST, 1)
    return f'{cmd} {QEMU_GUEST}'


def run_mode_start(where, opts, block):
    bed = Bed(where, opts)
    n = 0
    try:
        started = []
        for c in commands(block):
            word = c.split()[0]
            if word == 'ip':
                bed.sh(c)
            elif word == 'colo-proxy':
                k = len(started)
                qmp = os.path.join(bed.dir, f'qmp{k}.sock')
                c = re.sub(r'(^|\s)\.\.\.(?=\s|$)', ' ', c)
                daemon = '-daemonize' in c.split()
                full = f'{c} -qmp unix:{qmp},server=on,wait=off'
                if daemon:
                    bed.sh(full)
                    pidf = re.search(r'-pidfile\s+(\S+)', c).group(1)
                    pid = int(open(pidf).read())
                    q = QMPClient(qmp, 10)
                    q.cmd('query-version')
                    started.append(('daemon', pid, q, c))
                else:
                    p = bed.start(full)
                    started.append(('proc', p, wait_qmp(qmp, p, where), c))
                n += 1
            elif word == 'qemu-system-x86_64':
                if opts.get('qemu') == 'run':
                    need_qemu()
                    p = bed.start(qemu_line(c))
                    time.sleep(1.0)
                    check(p.poll() is None, f'{where}: QEMU `{p.cmd}` exited '
                          f'{p.returncode}:\n{stderr_of(p)[-2000:]}')
                    n += 1
            else:
                bed.sh(c)
        time.sleep(0.5)
        for kind, p, q, c in started:
            q.cmd('query-version')       # still up and answering
            q.close()
            if kind == 'daemon':
                os.kill(p, signal.SIGTERM)
                wait_for(lambda: not os.path.exists(f'/proc/{p}'),
                         what=f'{where}: daemon {p} to exit')
            else:
                p.send_signal(signal.SIGTERM)
                check_eq(p.wait(15), 0, f'{where}: exit code of `{c}` on '
                         f'SIGTERM\n{stderr_of(p)[-2000:]}')
                report = sanitizer_report(stderr_of(p))
                check(not report, f'{where}: sanitizer report\n{report}')
    finally:
        bed.close()
    return n


def run_mode_qmp(where, opts, block):
    bed = Bed(where, opts)
    try:
        qmp = os.path.join(bed.dir, 'qmp.sock')
        p = bed.start(f'colo-proxy {opts.get("args", "")} '
                      f'-qmp unix:{qmp},server=on,wait=off')
        wait_qmp(qmp, p, where).close()
        s = socket.socket(socket.AF_UNIX)
        s.connect(qmp)
        f = s.makefile('rw')
        lines = [x.strip() for x in block if x.strip()
                 and not x.strip().startswith('$')]
        n, i = 0, 0
        greeting = json.loads(f.readline())
        if lines and lines[0].startswith('{"QMP"'):
            check('QMP' in greeting, f'{where}: greeting {greeting}')
            i = 1
        while i < len(lines):
            req = json.loads(lines[i])
            check('execute' in req, f'{where}: not a request: {lines[i]}')
            f.write(lines[i] + '\n')
            f.flush()
            while True:
                reply = json.loads(f.readline())
                if 'event' not in reply:
                    break
            want = json.loads(lines[i + 1])
            check_eq(reply, want, f'{where}: reply to {lines[i]}')
            n += 1
            i += 2
        s.close()
        p.send_signal(signal.SIGTERM)
        check_eq(p.wait(15), 0, f'{where}: exit code')
    finally:
        bed.close()
    return n


MODES = {'run': run_mode_run, 'output': run_mode_output,
         'start': run_mode_start, 'qmp': run_mode_qmp,
         'script': run_mode_script}


def run_doc(doc):
    ex = [e for e in examples() if e[0] == doc]
    check(ex, f'docs/{doc} has no example marked for this test')
    total = 0
    for d, line, mode, opts, block in ex:
        where = f'docs/{d}:{line}'
        check(mode in MODES, f'{where}: unknown test mode {mode!r}')
        total += MODES[mode](where, opts, block)
        log(f'{where}: {mode} ok')
    log(f'docs/{doc}: {len(ex)} blocks, {total} commands/requests run')


def test_user_guide():
    run_doc('user-guide.md')


def test_netdevs():
    run_doc('netdevs.md')


def test_other_docs():
    others = sorted({e[0] for e in examples()} -
                    {'user-guide.md', 'netdevs.md'})
    log(f'other docs with marked examples: {others}')
    for doc in others:
        run_doc(doc)


def test_markers_well_formed():
    for d, line, mode, opts, block in examples():
        check(mode in MODES, f'docs/{d}:{line}: unknown mode {mode!r}')
        check(block, f'docs/{d}:{line}: empty block')


if __name__ == '__main__':
    run_tests([test_markers_well_formed, test_user_guide, test_netdevs,
               test_other_docs], timeout=300)
