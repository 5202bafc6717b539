#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_cmdline - colo-proxy's command line: -version, -h, -object help,
-object TYPE,help, errors that name the option and key, and the COLO
primary/secondary command lines of the seeds (docs/colo-proxy.txt and
docs/COLO-FT.txt) with QEMU-only options and -device removed."""

import os
import re
import shlex

from coloqtest import *

SEED_FT = '004_00241bac4d34e1d5.txt'      # docs/COLO-FT.txt
# QEMU options of the seed lines that colo-proxy does not take (the guest,
# its disks, migration) and whether they have an argument
QEMU_ONLY = {'-enable-kvm': 0, '-S': 0, '-cpu': 1, '-m': 1, '-smp': 1,
             '-device': 1, '-drive': 1, '-incoming': 1, '-qmp': 1}


def test_version():
    r = run_proxy(['-version'])
    check_eq(r.returncode, 0, 'exit code of -version')
    out = r.stdout
    check('colo-proxy' in out.lower(), f'-version does not name colo-proxy: {out!r}')
    check(re.search(r'\d+\.\d+\.\d+', out), f'-version shows no version: {out!r}')


def test_help():
    for opt in ('-h', '-help'):
        r = run_proxy([opt])
        check_eq(r.returncode, 0, f'exit code of {opt}')
        for o in ('-object', '-netdev', '-chardev', '-qmp', '-version',
                  '-daemonize', '-pidfile', '-name'):
            check(o in r.stdout, f'{opt} does not document {o}')


def test_object_help():
    r = run_proxy(['-object', 'help'])
    check_eq(r.returncode, 0, 'exit code of -object help')
    types = object_types()
    for t in ('iothread', 'filter-dump', 'filter-buffer'):
        check(t in types, f'-object help does not list {t}: {r.stdout!r}')
    log('object types: ' + ' '.join(sorted(types)))


def test_object_type_help():
    r = run_proxy(['-object', 'filter-dump,help'])
    check_eq(r.returncode, 0, 'exit code of -object filter-dump,help')
    lines = r.stdout.splitlines()
    props = {}
    for line in lines:
        m = re.match(r'\s+([a-z][a-z0-9_.-]*)=<([^>]+)>(.*)$', line)
        if m:
            props[m.group(1)] = (m.group(2), m.group(3))
    for p in ('netdev', 'queue', 'status', 'position', 'insert', 'file',
              'maxlen'):
        check(p in props, f'filter-dump,help lacks {p}: {r.stdout!r}')
    # every property shows a type and a description
    for p, (typ, rest) in props.items():
        check(typ.strip() != '', f'{p} has no type')
        check(len(rest.strip()) > 3, f'{p} has no description: {rest!r}')
    check('uint32' in props['maxlen'][0], f'maxlen type {props["maxlen"][0]}')
    check('65536' in props['maxlen'][1], 'maxlen default 65536 not shown')
    check('default' in r.stdout, 'no default shown')
    for t in ('filter-buffer', 'iothread'):
        r = run_proxy(['-object', f'{t},help'])
        check_eq(r.returncode, 0, f'exit code of -object {t},help')
    r = run_proxy(['-object', 'filter-buffer,help'])
    check('interval' in r.stdout, 'filter-buffer,help lacks interval')


def _bad(args, *must, option=True):
    """Runs with 'args', which must fail with exit status 1 and one short
    message naming each of 'must' and (with 'option') the option of the
    last argument pair, e.g. "colo-proxy: -object iothread,...: ..."."""
    r = run_proxy(args)
    check(r.returncode != 0, f'{args} exited 0; stderr {r.stderr!r}')
    check(r.returncode > 0, f'{args} died of signal {-r.returncode}')
    check_eq(r.returncode, 1, f'exit status for {args}')
    if option and len(args) >= 2:
        check(args[-2] in r.stderr,
              f'{args}: error {r.stderr.strip()!r} does not name {args[-2]}')
    for m in must:
        check(m in r.stderr, f'{args}: error {r.stderr.strip()!r} does not '
              f'mention {m!r}')
    check(r.stderr.count('\n') <= 6, f'{args}: chatty error {r.stderr!r}')
    return r


def test_unknown_option():
    _bad(['-bogus-option'], '-bogus-option', option=False)
    _bad(['-object'], '-object', option=False)   # missing argument


def test_bad_object():
    _bad(['-object', 'nosuchtype,id=x'], 'nosuchtype')
    _bad(['-object', 'iothread,id=i0,bogus=1'], 'bogus')
    _bad(['-object', 'filter-dump,id=f0,file=/dev/null'], 'netdev')
    _bad(['-object', 'filter-dump,id=f0,netdev=nope,file=/dev/null'],
         'netdev')
    _bad(['-object', 'iothread'], 'id')
    # a bad bool names the key
    d = tmpdir()
    _bad(['-chardev', f'socket,id=c0,path={d}/s,server=maybe,wait=off'],
         'server')
    # a bad integer names the key
    _bad(['-object', 'iothread,id=i0,poll-max-ns=lots'], 'poll-max-ns')
    # duplicate id
    _bad(['-object', 'iothread,id=i0', '-object', 'iothread,id=i0'], 'i0')


def _primary_lines(ports, hn0):
    """The primary's non-QEMU options of COLO-FT.txt / colo-proxy.txt, hosts
    set to 127.0.0.1, ports from 'ports'."""
    p = ports
    lines = [
        ['-name', 'primary'],
        ['-netdev', hn0],
        ['-chardev', f'socket,id=mirror0,host=127.0.0.1,port={p[0]},server=on,wait=off'],
        ['-chardev', f'socket,id=compare1,host=127.0.0.1,port={p[1]},server=on,wait=on'],
        ['-chardev', f'socket,id=compare0,host=127.0.0.1,port={p[2]},server=on,wait=off'],
        ['-chardev', f'socket,id=compare0-0,host=127.0.0.1,port={p[2]}'],
        ['-chardev', f'socket,id=compare_out,host=127.0.0.1,port={p[3]},server=on,wait=off'],
        ['-chardev', f'socket,id=compare_out0,host=127.0.0.1,port={p[3]}'],
    ]
    colo = [
        ['-object', 'filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=mirror0'],
        ['-object', 'filter-redirector,netdev=hn0,id=redire0,queue=rx,indev=compare_out'],
        ['-object', 'filter-redirector,netdev=hn0,id=redire1,queue=rx,outdev=compare0'],
        ['-object', 'iothread,id=iothread1'],
        ['-object', 'colo-compare,id=comp0,primary_in=compare0-0,secondary_in=compare1,'
                    'outdev=compare_out0,iothread=iothread1'],
    ]
    return lines, colo


def _secondary_lines(ports, hn0):
    p = ports
    lines = [
        ['-name', 'secondary'],
        ['-netdev', hn0],
        ['-chardev', f'socket,id=red0,host=127.0.0.1,port={p[0]},reconnect=1'],
        ['-chardev', f'socket,id=red1,host=127.0.0.1,port={p[1]},reconnect=1'],
    ]
    colo = [
        ['-object', 'filter-redirector,id=f1,netdev=hn0,queue=tx,indev=red0'],
        ['-object', 'filter-redirector,id=f2,netdev=hn0,queue=rx,outdev=red1'],
        ['-object', 'filter-rewriter,id=rew0,netdev=hn0,queue=all'],
    ]
    return lines, colo


def _flatten(lines):
    return [a for line in lines for a in line]


def _hn0(tag, d):
    if os.geteuid() == 0:
        return (f'tap,id=hn0,vhost=off,ifname=cq{os.getpid()}{tag},'
                'script=no,downscript=no')
    return stream_netdev('hn0', os.path.join(d, f'hn0{tag}.sock'))


def _colo_usable(lines):
    types = object_types()
    need = set()
    for _, opt in lines:
        need.add(opt.split(',')[0])
    missing = sorted(need - types)
    return missing


def test_seed_command_lines():
    """Primary and secondary of COLO-FT.txt, each alone: the secondary's
    clients connect to the primary's servers (compare1 is wait=on, so the
    primary only comes up when the secondary connected)."""
    d = tmpdir()
    ports = free_tcp_ports(4)
    plines, pcolo = _primary_lines(ports, _hn0('p', d))
    slines, scolo = _secondary_lines(ports, _hn0('s', d))
    missing = _colo_usable(pcolo + scolo)
    if missing:
        log('NOTE: COLO object types not implemented yet, their -object '
            'lines are left out: ' + ', '.join(missing))
        pcolo = [l for l in pcolo if l[1].split(',')[0] not in missing]
        scolo = [l for l in scolo if l[1].split(',')[0] not in missing]
    prim = ColoProxy(_flatten(plines + pcolo), start=False)
    sec = ColoProxy(_flatten(slines + scolo), start=False)
    prim.start(connect=False)
    try:
        # compare1 is wait=on: until someone connects, the primary waits
        sec.start(connect=True)
        prim.connect_qmp(timeout=15)
        for p, name in ((prim, 'primary'), (sec, 'secondary')):
            v = p.qmp.cmd('query-version')
            check(isinstance(v, dict), f'query-version: {v!r}')
            n = qmp_try(p.qmp, 'query-name')
            if n is not None:
                check_eq(n.get('name'), name, 'query-name')
            chardevs = qmp_try(p.qmp, 'query-chardev')
            if chardevs is not None:
                labels = {c['label'] for c in chardevs}
                for line in (plines if p is prim else slines):
                    if line[0] == '-chardev':
                        cid = line[1].split('id=')[1].split(',')[0]
                        check(cid in labels, f'{name}: chardev {cid} not in '
                              f'query-chardev {labels}')
        # the secondary's red0/red1 are connected to the primary's servers
        chardevs = qmp_try(sec.qmp, 'query-chardev')
        if chardevs is not None:
            def connected():
                cs = sec.qmp.cmd('query-chardev')
                st = {c['label']: c.get('frontend-open', c.get('connected'))
                      for c in cs}
                return st
            log('secondary chardevs: %r' % connected())
        sec.stop()
        prim.stop()
    finally:
        sec.kill()
        prim.kill()


def seed_command_lines(path):
    """The 'qemu-system-x86_64 ...' command lines of a seed document in its
    numbered listing form ('    161# qemu-system-x86_64 ... \\'), each as
    an argument list with the QEMU-only options (and -qmp stdio) removed."""
    text = [re.sub(r'^\s*\d+', '', l) for l in open(path).read().splitlines()]
    out = []
    i = 0
    while i < len(text):
        if text[i].startswith('# qemu-system-x86_64'):
            cmd = ''
            while True:
                line = text[i]
                i += 1
                if line.endswith('\\'):
                    cmd += line[:-1]
                else:
                    cmd += line
                    break
            args = shlex.split(cmd[1:])[1:]
            kept = []
            j = 0
            while j < len(args):
                a = args[j]
                if a in QEMU_ONLY:
                    j += 1 + QEMU_ONLY[a]
                    continue
                kept.append(a)
                j += 1
            out.append(kept)
        else:
            i += 1
    return out


def test_seed_ft_literal_in_netns():
    """COLO-FT.txt's primary and secondary command lines, as written
    (QEMU-only options and -device removed, $primary_ip set), in two
    network namespaces joined by a veth: the secondary's red0/red1 reach
    the primary's mirror0/compare1 (a wait=on server) across it.  Their
    taps are created by '-netdev tap,...,helper=' (accepted, not run)."""
    need_netns()
    path = seed_file(SEED_FT)
    if not path:
        raise Skip('seed document not found')
    lines = seed_command_lines(path)
    check(len(lines) >= 2, f'seed has {len(lines)} command lines')
    prim_args, sec_args = lines[0], lines[1]
    check('-name' in prim_args and 'primary' in prim_args, f'{prim_args}')
    pairs = [(k, a) for args in (prim_args, sec_args)
             for k, a in zip(args[::2], args[1::2])]
    check(all(k.startswith('-') for k, _ in pairs), f'option pairs {pairs}')
    missing = sorted({a.split(',')[0] for k, a in pairs if k == '-object'}
                     - object_types())
    if missing:
        log('NOTE: types not implemented yet, their -object lines left out: '
            + ', '.join(missing))

    def strip(args):
        out = []
        for k, a in zip(args[::2], args[1::2]):
            if k == '-object' and a.split(',')[0] in missing:
                continue
            out += [k, a]
        return out
    with NetNS() as n:
        pns, sns = n.add('p'), n.add('s')
        n.veth('vp', pns, 'vs', sns)
        n.run(pns, 'ip', 'addr', 'add', '10.78.0.1/24', 'dev', n.ifname('vp'))
        n.run(sns, 'ip', 'addr', 'add', '10.78.0.2/24', 'dev', n.ifname('vs'))
        prim = ColoProxy(strip(prim_args), start=False,
                         wrapper=['ip', 'netns', 'exec', pns])
        sec = ColoProxy([a.replace('$primary_ip', '10.78.0.1')
                         for a in strip(sec_args)], start=False,
                        wrapper=['ip', 'netns', 'exec', sns])
        log('primary:   ' + ' '.join(prim.args))
        log('secondary: ' + ' '.join(sec.args))
        try:
            prim.start(connect=False)
            sec.start(connect=True)
            prim.connect_qmp(timeout=15)

            def connected():
                cs = {c['label']: c['filename']
                      for c in sec.qmp.cmd('query-chardev')}
                return all(not cs[c].startswith('disconnected')
                           for c in ('red0', 'red1')) and cs
            cs = wait_for(connected, 10, what='red0/red1 connected')
            log(f'secondary chardevs: {cs}')
            pc = {c['label']: c['filename']
                  for c in prim.qmp.cmd('query-chardev')}
            log(f'primary chardevs: {pc}')
            check(not pc['mirror0'].startswith('disconnected'), 'mirror0')
            check(not pc['compare1'].startswith('disconnected'), 'compare1')
            for p in (prim, sec):
                r = p.qmp.cmd('query-netdev-stats', id='hn0')
                check_eq(r[0]['type'], 'tap', 'hn0 type')
            # frames the primary's tap carries toward its guest (tx) are
            # mirrored to the secondary, whose f1 injects them: ARP
            # requests from the primary host side of hn0
            n.run(pns, 'ip', 'link', 'set', 'hn0', 'up')
            n.run(pns, 'ip', 'addr', 'add', '10.79.0.1/24', 'dev', 'hn0')
            n.run(pns, 'ping', '-c', '3', '-i', '0.2', '-W', '1',
                  '10.79.0.2', check_rc=False)

            def stats(p, fid):
                return {f['id']: f for f in
                        p.qmp.cmd('query-netfilter-stats')}[fid]
            m0 = stats(prim, 'm0')
            log(f'primary m0: {m0}')
            check(m0['packets-out'] > 0, 'm0 mirrored no frame')
            f1 = wait_for(lambda: (lambda f: f['injected'] >=
                                   stats(prim, 'm0')['packets-out'] and f)
                          (stats(sec, 'f1')), 5,
                          what='secondary f1 injecting what m0 mirrored')
            log(f'secondary f1: {f1}')
            sec.stop()
            prim.stop()
        finally:
            sec.kill()
            prim.kill()


def test_seed_old_syntax():
    """colo-proxy.txt's legacy 'server,nowait' spelling."""
    d = tmpdir()
    ports = free_tcp_ports(3)
    args = [
        '-netdev', _hn0('o', d),
        '-chardev', f'socket,id=mirror0,host=127.0.0.1,port={ports[0]},server,nowait',
        '-chardev', f'socket,id=compare0,host=127.0.0.1,port={ports[1]},server,nowait',
        '-chardev', f'socket,id=compare0-0,host=127.0.0.1,port={ports[1]}',
        '-object', 'iothread,id=iothread1',
    ]
    with ColoProxy(args) as p:
        p.qmp.cmd('query-version')


def test_qmp_tcp_and_name():
    port = free_tcp_port()
    p = ColoProxy(['-name', 'cq-name', '-qmp',
                   f'tcp:127.0.0.1:{port},server=on,wait=off'])
    try:
        q = QMPClient(('127.0.0.1', port), proc=p)
        q.cmd('query-version')
        q.close()
        p.stop()
    finally:
        p.kill()


def test_pidfile_and_log():
    d = tmpdir()
    pidf = os.path.join(d, 'pid')
    logf = os.path.join(d, 'log')
    with ColoProxy(['-pidfile', pidf, '-D', logf]) as p:
        wait_for(lambda: os.path.exists(pidf), what='pidfile')
        check_eq(open(pidf).read().strip(), str(p.pid), 'pidfile content')


def test_sigterm_exit_code():
    p = ColoProxy(['-object', 'iothread,id=io0'])
    p.qmp.cmd('query-version')
    check_eq(p.stop(expect=None), 0, 'exit code after SIGTERM')
    p = ColoProxy([])
    p.qmp.cmd('quit')
    check_eq(p.wait(), 0, 'exit code after quit')


if __name__ == '__main__':
    run_tests([
        test_version,
        test_help,
        test_object_help,
        test_object_type_help,
        test_unknown_option,
        test_bad_object,
        test_seed_command_lines,
        test_seed_ft_literal_in_netns,
        test_seed_old_syntax,
        test_qmp_tcp_and_name,
        test_pidfile_and_log,
        test_sigterm_exit_code,
    ])
