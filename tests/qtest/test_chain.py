#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_chain - the netfilter chain observed end to end.

The test plays both the guest (a -device stream) and the network (a
-netdev stream) of one port and watches frames cross the filter chain of
the netdev:

  - filter-dump records what it sees (pcap records, in order, with the
    time it saw them);
  - filter-buffer holds frames for 'interval' microseconds;
  - so [da, buf, db] shows the walk order: a tx frame (network -> guest)
    reaches da at once and db only when the buffer releases it; an rx
    frame (guest -> network) reaches db at once and da late.  position=,
    insert=, queue=, status=off and object-del are checked the same way.
  - filter-redirector chains to chardevs, as QEMU's
    tests/qtest/test-filter-redirector.c does.

Chains are built on the command line (QEMU creates filters in command-line
order, and so do we); status, interval and removal go through QMP.
"""

import os
import time

from coloqtest import *

HOLD_US = 800000          # filter-buffer interval used below (0.8 s)
HOLD_S = HOLD_US / 1e6


def need_port_types():
    need_types('stream', option='-netdev')
    need_types('stream', option='-device')
    need_types('filter-dump', 'filter-buffer')


def chain_port(*filters, extra=()):
    """A StreamPort whose netdev n0 has 'filters' ("filter-dump,id=da",
    "filter-buffer,id=buf,interval=N", ...) in this order; each dump
    writes DIR/<id>.pcap.  Returns (port, {id: pcap path})."""
    d = tmpdir('cqc')
    args, pcaps = [], {}
    for f in filters:
        typ = f.split(',')[0]
        fid = f.split('id=')[1].split(',')[0]
        opt = f + ',netdev=n0'
        if typ == 'filter-dump':
            pcaps[fid] = os.path.join(d, fid + '.pcap')
            opt += ',file=' + pcaps[fid]
        args += ['-object', opt]
    return StreamPort(args + list(extra), dir=d), pcaps


def pcap_records(path):
    """(timestamp, orig_len, frame) of the non-probe records."""
    return [r for r in read_pcap(path) if not is_probe(r[2])]


def records(path):
    return [data for _, _, data in pcap_records(path)]


def wait_records(path, n, timeout=5.0):
    """The frames of the first 'n' records of 'path' once it has them
    (filter-dump flushes its stdio buffer about once a second)."""
    wait_for(lambda: len(pcap_records(path)) >= n, timeout,
             what=f'{n} pcap records in {path}')
    return records(path)


def stamps(path, n, timeout=5.0):
    wait_records(path, n, timeout)
    return [ts for ts, _, _ in pcap_records(path)][:n]


def test_forwarding_byte_exact():
    need_port_types()
    port = StreamPort()
    sizes = [14, 60, 64, 1514, 9000, 65536, 69632]
    for i, size in enumerate(sizes):
        f = eth_frame(i, size)[:size]
        send_frame(port.guest, f)
        check_eq(recv_frame(port.net), f, f'guest->net {size}')
        send_frame(port.net, f)
        check_eq(recv_frame(port.guest), f, f'net->guest {size}')
    # a burst keeps order both ways
    frames = [eth_frame(i, 60 + i % 1400) for i in range(2000)]
    for src, dst in ((port.guest, port.net), (port.net, port.guest)):
        src.sendall(b''.join(frame_bytes(f) for f in frames))
        for i, f in enumerate(frames):
            check_eq(recv_frame(dst), f, f'burst frame {i}')
    st = qmp_try(port.qmp, 'query-netdev-stats')
    if st is not None:
        by = {(e['role'], e['id']): e['counters'] for e in st}
        n0 = by[('netdev', 'n0')]
        d0 = by[('device', 'd0')]
        log(f'n0 {n0}\nd0 {d0}')
        check(n0['rx-frames'] >= len(frames) + len(sizes), 'n0 rx-frames')
        check(d0['rx-frames'] >= len(frames) + len(sizes), 'd0 rx-frames')
    port.stop()


def test_dump_records_both_directions():
    need_port_types()
    port, pc = chain_port('filter-dump,id=da', 'filter-dump,id=db,maxlen=64',
                          'filter-dump,id=dc,queue=rx',
                          'filter-dump,id=dd,queue=tx')
    rx = [eth_frame(i, 100) for i in range(5)]
    tx = [eth_frame(100 + i, 200) for i in range(5)]
    for f in rx:
        send_frame(port.guest, f)
        check_eq(recv_frame(port.net), f, 'rx frame through the dumps')
    for f in tx:
        send_frame(port.net, f)
        check_eq(recv_frame(port.guest), f, 'tx frame through the dumps')
    check_eq(wait_records(pc['da'], 10), rx + tx, 'da records')
    # maxlen truncates the record, not the frame
    recs = wait_for(lambda: len(pcap_records(pc['db'])) >= 10 and
                    pcap_records(pc['db']), what='db records')
    for (ts, orig, data), f in zip(recs, rx + tx):
        check_eq(data, f[:64], 'record truncated to maxlen')
        check_eq(orig, len(f), 'record orig_len')
    check_eq(wait_records(pc['dc'], 5), rx, 'queue=rx records')
    check_eq(wait_records(pc['dd'], 5), tx, 'queue=tx records')
    port.stop()
    # the files are complete after shutdown
    check_eq(records(pc['dc']), rx, 'queue=rx records after stop')


def test_chain_order_tx():
    """tx (network -> guest) walks head -> tail: da sees the frame at
    once, the buffer holds it, db sees it on release (pcap timestamps)."""
    need_port_types()
    port, pc = chain_port('filter-dump,id=da',
                          f'filter-buffer,id=buf,interval={HOLD_US}',
                          'filter-dump,id=db')
    f = eth_frame(1, 80)
    t0 = time.monotonic()
    send_frame(port.net, f)
    got = recv_frame(port.guest, timeout=3)
    dt = time.monotonic() - t0
    check_eq(got, f, 'tx frame after release')
    check(dt >= 0.2, f'tx frame released after {dt:.3f}s: not held')
    check_eq(wait_records(pc['da'], 1), [f], 'da')
    check_eq(wait_records(pc['db'], 1), [f], 'db')
    ta, tb = stamps(pc['da'], 1)[0], stamps(pc['db'], 1)[0]
    check(tb - ta >= 0.2, f'db saw the tx frame {tb - ta:.3f}s after da: '
          'the buffer is not between them in tx order')
    port.stop()


def test_chain_order_rx():
    """rx (guest -> network) walks tail -> head: db sees the frame at
    once, da on release."""
    need_port_types()
    port, pc = chain_port('filter-dump,id=da',
                          f'filter-buffer,id=buf,interval={HOLD_US}',
                          'filter-dump,id=db')
    f = eth_frame(2, 80)
    t0 = time.monotonic()
    send_frame(port.guest, f)
    got = recv_frame(port.net, timeout=3)
    dt = time.monotonic() - t0
    check_eq(got, f, 'rx frame after release')
    check(dt >= 0.2, f'rx frame released after {dt:.3f}s: not held')
    ta, tb = stamps(pc['da'], 1)[0], stamps(pc['db'], 1)[0]
    check(ta - tb >= 0.2, f'da saw the rx frame {ta - tb:.3f}s after db: '
          'rx does not walk tail -> head')
    port.stop()


def test_buffer_queue_direction():
    """A filter-buffer with queue=rx holds only the guest's output."""
    need_port_types()
    port, pc = chain_port(f'filter-buffer,id=buf,interval={HOLD_US},queue=rx')
    f = eth_frame(3, 80)
    t0 = time.monotonic()
    send_frame(port.net, f)
    check_eq(recv_frame(port.guest, 3), f, 'tx frame')
    check(time.monotonic() - t0 < HOLD_S / 2, 'tx frame held by an rx buffer')
    t0 = time.monotonic()
    send_frame(port.guest, f)
    check_eq(recv_frame(port.net, 3), f, 'rx frame')
    check(time.monotonic() - t0 >= 0.2, 'rx frame not held')
    port.stop()


def test_position_insert():
    """position=head and position=id=X,insert=before|behind place a
    filter; observed with a holding buffer and the pcap timestamps."""
    need_port_types()
    port, pc = chain_port(
        f'filter-buffer,id=buf,interval={HOLD_US}',
        'filter-dump,id=dt',                                    # tail
        'filter-dump,id=dh,position=head',
        'filter-dump,id=dbf,position=id=buf,insert=before',
        'filter-dump,id=dbh,position=id=buf,insert=behind')
    early_tx = ('dh', 'dbf')           # chain: dh dbf buf dbh dt
    chain = qmp_try(port.qmp, 'query-netfilters', netdev='n0')
    if chain is not None:
        check_eq([f['id'] for f in sorted(chain, key=lambda f: f['position'])],
                 ['dh', 'dbf', 'buf', 'dbh', 'dt'], 'query-netfilters order')
    f = eth_frame(6, 70)
    send_frame(port.net, f)                # tx: head -> tail
    check_eq(recv_frame(port.guest, timeout=3), f, 'tx released')
    g = eth_frame(7, 70)
    send_frame(port.guest, g)              # rx: tail -> head
    check_eq(recv_frame(port.net, timeout=3), g, 'rx released')
    ts = {k: stamps(v, 2) for k, v in pc.items()}
    for k in pc:
        check_eq(records(pc[k])[:2], [f, g], f'records of {k}')
    t0 = min(t[0] for t in ts.values())
    for k, t in ts.items():
        late = k not in early_tx
        check((t[0] - t0 >= 0.2) == late,
              f'{k}: tx frame seen {t[0] - t0:.3f}s after the first '
              f'(expected {"after" if late else "before"} the buffer)')
    t1 = min(t[1] for t in ts.values())
    for k, t in ts.items():
        late = k in early_tx
        check((t[1] - t1 >= 0.2) == late,
              f'{k}: rx frame seen {t[1] - t1:.3f}s after the first '
              f'(expected {"after" if late else "before"} the buffer)')
    port.stop()


def test_bad_position():
    need_port_types()
    d = tmpdir()
    base = ['-netdev', stream_netdev('n0', os.path.join(d, 'n')),
            '-object', 'filter-buffer,id=buf,netdev=n0,interval=1000']
    for bad, key in (('position=id=nope', 'nope'), ('position=middle', 'position'),
                     ('position=id=buf,insert=after', 'insert')):
        r = run_proxy(base + ['-object', f'filter-dump,id=x,netdev=n0,'
                              f'file={d}/x.pcap,{bad}'])
        check(r.returncode == 1, f'{bad}: exit {r.returncode}')
        check(key in r.stderr, f'{bad}: {r.stderr.strip()!r} does not name {key}')
    # a position naming a filter of another netdev
    r = run_proxy(base + ['-netdev', stream_netdev('n1', os.path.join(d, 'm')),
                          '-object', f'filter-dump,id=x,netdev=n1,'
                          f'file={d}/x.pcap,position=id=buf'])
    check(r.returncode == 1, f'other netdev: exit {r.returncode}')
    # a filter on a device id is refused
    r = run_proxy(base + ['-device', stream_device('d0', 'n0', d + '/g'),
                          '-object', f'filter-dump,id=x,netdev=d0,file={d}/x'])
    check(r.returncode == 1 and 'netdev' in r.stderr,
          f'filter on a device: {r.returncode} {r.stderr!r}')


def test_status_off_bypass():
    need_port_types()
    port, pc = chain_port('filter-dump,id=da',
                          f'filter-buffer,id=buf,interval={HOLD_US}',
                          'filter-dump,id=db')
    need_commands(port.qmp, 'qom-set', 'object-del')
    port.qmp.qom_set('/objects/buf', 'status', 'off')
    f = eth_frame(3, 90)
    t0 = time.monotonic()
    send_frame(port.net, f)
    check_eq(recv_frame(port.guest, timeout=3), f, 'bypassed frame')
    dt = time.monotonic() - t0
    check(dt < HOLD_S / 2, f'status=off still held the frame {dt:.3f}s')
    check_eq(wait_records(pc['db'], 1), [f], 'db with buf off')
    # a dump with status=off records nothing
    port.qmp.qom_set('/objects/db', 'status', 'off')
    send_frame(port.net, eth_frame(4, 90))
    recv_frame(port.guest)
    port.qmp.object_del('db')          # flushes its file
    check_eq(records(pc['db']), [f], 'db recorded while off')
    check_eq(len(wait_records(pc['da'], 2)), 2, 'da records')
    # held frames are released when the buffer is turned off
    port.qmp.qom_set('/objects/buf', 'status', 'on')
    port.qmp.qom_set('/objects/buf', 'interval', 10000000)  # 10 s
    g = eth_frame(5, 90)
    send_frame(port.net, g)
    expect_no_frame(port.guest, 0.3)
    port.qmp.qom_set('/objects/buf', 'status', 'off')
    check_eq(recv_frame(port.guest, timeout=2), g, 'frame flushed by off')
    port.stop()


def test_filter_add_remove():
    """object-add joins the chain, object-del leaves it; frames a buffer
    held are delivered when it is deleted, not lost."""
    need_port_types()
    port, pc = chain_port('filter-dump,id=da',
                          f'filter-buffer,id=buf,interval={HOLD_US}',
                          'filter-dump,id=db')
    need_commands(port.qmp, 'qom-set', 'object-del', 'object-add')
    port.qmp.qom_set('/objects/buf', 'interval', 10000000)
    f = eth_frame(8, 70)
    send_frame(port.net, f)
    expect_no_frame(port.guest, 0.3)
    port.qmp.object_del('buf')
    check_eq(recv_frame(port.guest, timeout=2), f, 'held frame on delete')
    port.qmp.object_del('da')
    g = eth_frame(9, 70)
    send_frame(port.net, g)
    check_eq(recv_frame(port.guest, timeout=2), g, 'after delete')
    check_eq(records(pc['da']), [f], 'deleted dump')
    check_eq(wait_records(pc['db'], 2), [f, g], 'db records')
    # add a dump at the head and a buffer behind it: both act
    a2 = port.proxy.path('da2.pcap')
    port.qmp.object_add('filter-dump', 'da2', netdev='n0', file=a2,
                        position='head')
    port.qmp.object_add('filter-buffer', 'b2', netdev='n0', interval=HOLD_US,
                        position='id=da2', insert='behind')
    t0 = time.monotonic()
    send_frame(port.net, f)
    check_eq(recv_frame(port.guest, 3), f, 'after re-add')
    check(time.monotonic() - t0 >= 0.2, 'added buffer does not hold')
    check_eq(wait_records(a2, 1), [f], 're-added dump')
    port.stop()


def test_redirector_chain():
    """QEMU's /netfilter/redirector_tx with our endpoints: r0 steals tx
    frames to chardev c0 (server), r1 injects what c1 (client of c0)
    reads, r2 writes to c2, a client of a socket the test listens on."""
    need_port_types()
    need_types('filter-redirector')
    d = tmpdir('cqr')
    a = os.path.join(d, 'a.sock')
    lsock = unix_listen(os.path.join(d, 'b.sock'))
    extra = ['-chardev', chardev_unix('c0', a),
             '-chardev', chardev_unix('c1', a, server=False),
             '-chardev', chardev_unix('c2', os.path.join(d, 'b.sock'),
                                      server=False),
             '-object', 'filter-redirector,id=r0,netdev=n0,queue=tx,outdev=c0',
             '-object', 'filter-redirector,id=r1,netdev=n0,queue=tx,indev=c1',
             '-object', 'filter-redirector,id=r2,netdev=n0,queue=tx,outdev=c2']
    port = StreamPort(extra, dir=d, probe=False)
    conn = accept(lsock)
    f = b'Hello!!\0'
    # the c1 -> c0 connection comes up asynchronously: retry the first
    deadline = time.monotonic() + 5
    while True:
        send_frame(port.net, f)
        got = recv_frame(conn, 0.3)
        if got is not None:
            break
        check(time.monotonic() < deadline, 'nothing through r0 -> c0 -> c1 '
              '-> r1 -> r2')
    check_eq(got, f, 'frame through r0 -> c0 -> c1 -> r1 -> r2')
    while recv_frame(conn, 0.2) is not None:
        pass
    frames = [eth_frame(i, 60 + i) for i in range(300)]
    port.net.sendall(b''.join(frame_bytes(x) for x in frames))
    for i, x in enumerate(frames):
        check_eq(recv_frame(conn, 5), x, f'redirected frame {i}')
    expect_no_frame(port.guest, 0.2)
    # rx frames (guest -> network) are not redirected
    send_frame(port.guest, f)
    check_eq(recv_frame(port.net, 5), f, 'rx frame passes')
    if qmp_try(port.qmp, 'query-commands') and 'qom-set' in {
            c['name'] for c in port.qmp.cmd('query-commands')}:
        # status=off on r2: the frame reaches the guest instead
        port.qmp.qom_set('/objects/r2', 'status', 'off')
        send_frame(port.net, f)
        check_eq(recv_frame(port.guest, 5), f, 'r2 off')
    port.stop()


def test_redirector_rx():
    """The rx mirror image: the test writes into indev r2's chardev (a
    server), r1 writes to c1 (client of c0), r0 injects from c0 toward the
    network; rx walks tail -> head so r2 -> r1 -> r0."""
    need_port_types()
    need_types('filter-redirector')
    d = tmpdir('cqr')
    a = os.path.join(d, 'a.sock')
    b = os.path.join(d, 'b.sock')
    extra = ['-chardev', chardev_unix('c0', a),
             '-chardev', chardev_unix('c1', a, server=False),
             '-chardev', chardev_unix('c2', b),
             '-object', 'filter-redirector,id=r0,netdev=n0,queue=rx,indev=c0',
             '-object', 'filter-redirector,id=r1,netdev=n0,queue=rx,outdev=c1',
             '-object', 'filter-redirector,id=r2,netdev=n0,queue=rx,indev=c2']
    port = StreamPort(extra, dir=d, probe=False)
    s = connect_unix(b, proc=port.proxy)
    f = b'Hello!!\0'
    deadline = time.monotonic() + 5
    while True:
        send_frame(s, f)
        got = recv_frame(port.net, 0.3)
        if got is not None:
            break
        check(time.monotonic() < deadline, 'nothing through c2 -> r2 -> r1 '
              '-> c1 -> c0 -> r0')
    check_eq(got, f, 'frame through the rx redirectors')
    port.stop()


if __name__ == '__main__':
    run_tests([
        test_forwarding_byte_exact,
        test_dump_records_both_directions,
        test_chain_order_tx,
        test_chain_order_rx,
        test_buffer_queue_direction,
        test_position_insert,
        test_bad_position,
        test_status_off_bypass,
        test_filter_add_remove,
        test_redirector_chain,
        test_redirector_rx,
    ])
