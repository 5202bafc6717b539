#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_metrics - the metrics-http object (docs/observability.md).

A colo-proxy with test_compare's topology (three chardevs and a
colo-compare) plus a colo-frame (driver=event), a heartbeat, a netdev
with two filters and a metrics-http carries TCP traffic with one
mismatch and one checkpoint.  Covered:

  - every number of query-colo-compare-stats and query-colo-stats is in
    /metrics with the same value (counters, gauges, reason maps, the
    hold-time and checkpoint-duration histograms);
  - `promtool check metrics` accepts the text (no error, no lint);
  - a private Prometheus (Debian's prometheus; own config, data dir and
    port) scrapes the proxy: the target is up and /api/v1/query returns
    the counters QMP reports;
  - bad input: garbage, other methods and paths, an old or unknown HTTP
    version, a 10 KB request line, 10 KB of headers, a slowloris client
    (cut at the deadline while others are served), more connections than
    max-clients (503), and the proxy still answers QMP and /metrics;
  - object-del and re-creation on the same port;
  - two colo-frames: the COLO families once per frame, labelled;
  - contrib/grafana/colo-proxy.json: valid JSON, every metric its
    expressions name is exported (of the right type), and the private
    Prometheus evaluates every expression;
  - docs/observability.md lists every family exported.
"""

import json
import os
import random
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from coloqtest import *
import comparepkt as pk
from comparepkt import TCP_ACK as A, TCP_SYN as S, TCP_PSH as P
from test_compare import tcp_flow


def metrics_proxy(extra_metrics='', timeout=None):
    """(proxy, pri, sec, out, port): the compare topology, a colo-frame,
    a heartbeat, netdev + filters and a metrics-http on a free port."""
    d = tmpdir('cqm')
    port = free_tcp_port()
    paths = {n: os.path.join(d, n + '.sock')
             for n in ('pri', 'sec', 'out', 'hb', 'nd')}
    a = []
    for n in ('pri', 'sec', 'out', 'hb'):
        a += ['-chardev', chardev_unix(n, paths[n])]
    a += ['-netdev', stream_netdev('n0', paths['nd'])]
    a += ['-object', 'filter-buffer,id=fb0,netdev=n0,interval=1000']
    a += ['-object', 'filter-rewriter,id=rw0,netdev=n0']
    a += ['-object', 'colo-quorum,id=q0,netdev=n0,provider=manual']
    a += ['-object', 'colo-frame,id=colo0,mode=primary,driver=event']
    a += ['-object', 'colo-heartbeat,id=hb0,chardev=hb']
    a += ['-object', 'colo-compare,id=comp0,primary_in=pri,'
          'secondary_in=sec,outdev=out']
    a += ['-object', f'metrics-http,id=m0,port={port}' + extra_metrics]
    p = ColoProxy(a, dir=d)
    socks = [connect_unix(paths[n], proc=p) for n in ('pri', 'sec', 'out')]
    time.sleep(0.1)
    return (p, *socks, port)


def traffic(p, pri, sec, out):
    """A matched TCP flow, then a mismatch held until a checkpoint."""
    pf, sf = tcp_flow(chunks=[bytes([i]) * (40 + i) for i in range(8)])
    for f in pf:
        send_frame(pri, f)
    for f in sf:
        send_frame(sec, f)
    for f in pf:
        check_eq(recv_frame(out), f, 'matched frame')
    send_frame(pri, pk.tcp(1000 + 1 + sum(40 + i for i in range(8)), 78,
                           A | P, b'abcd'))
    send_frame(sec, pk.tcp(5000 + 1 + sum(40 + i for i in range(8)), 78,
                           A | P, b'abcX'))
    p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=5)
    time.sleep(0.05)
    p.qmp.cmd('x-colo-checkpoint-done')
    recv_frame(out)
    p.qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)


def http(port, data, timeout=5.0, read=True):
    """Sends raw 'data', returns everything the server sent until it
    closed (bytes)."""
    s = connect_tcp(port)
    s.settimeout(timeout)
    s.sendall(data)
    if not read:
        return s
    out = b''
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out


def status_of(resp):
    line = resp.split(b'\r\n', 1)[0].decode()
    check(line.startswith('HTTP/1.1 '), f'status line: {line!r}')
    return int(line.split()[1])


def scrape(port):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics',
                                timeout=10) as r:
        check_eq(r.status, 200, 'status')
        ctype = r.headers['Content-Type']
        check(ctype.startswith('text/plain; version=0.0.4'), ctype)
        return r.read().decode()


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} and {family: type}."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, name, typ = line.split(' ', 3)
            types[name] = typ
            continue
        if not line or line.startswith('#'):
            continue
        head, value = line.rsplit(' ', 1)
        labels = {}
        if '{' in head:
            name, rest = head.split('{', 1)
            rest = rest.rstrip('}')
            for part in _split_labels(rest):
                k, v = part.split('=', 1)
                labels[k] = json.loads(v)
        else:
            name = head
        samples[(name, frozenset(labels.items()))] = float(value)
    return samples, types


def _split_labels(s):
    out, cur, q, esc = [], '', False, False
    for ch in s:
        if esc:
            cur += ch
            esc = False
        elif ch == '\\':
            cur += ch
            esc = True
        elif ch == '"':
            cur += ch
            q = not q
        elif ch == ',' and not q:
            out.append(cur)
            cur = ''
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


def get(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    check(key in samples, f'no sample {name}{labels}')
    return samples[key]


def check_histogram(samples, name, h, **labels):
    for b in h['buckets']:
        le = f"{b['le-us'] / 1e6:.9g}"
        check_eq(get(samples, name + '_bucket', le=le, **labels), b['count'],
                 f'{name} le={le}')
    check_eq(get(samples, name + '_bucket', le='+Inf', **labels), h['count'],
             f'{name} +Inf')
    check_eq(get(samples, name + '_count', **labels), h['count'],
             f'{name}_count')
    check(abs(get(samples, name + '_sum', **labels) - h['sum-us'] / 1e6)
          < 1e-6, f'{name}_sum')


def check_compare_agrees(samples, st):
    """Every number of one query-colo-compare-stats element."""
    lab = {'id': st['id'], 'type': 'colo-compare'}
    gauges = {'held', 'held-max', 'queue-max', 'max-queue-size',
              'connections', 'max-connections', 'connections-peak',
              'out-backlog', 'out-backlog-max'}
    n = 0
    for k, v in st.items():
        name = 'colo_proxy_compare_' + k.replace('-', '_')
        if k in ('primary', 'secondary'):
            for sk, sv in v.items():
                sname = 'colo_proxy_compare_' + sk.replace('-', '_')
                if isinstance(sv, dict):
                    for rk, rv in sv.items():
                        check_eq(get(samples, sname + '_total', side=k,
                                     verdict=rk, **lab), rv, f'{k}.{sk}')
                        n += 1
                    continue
                if sk not in gauges:
                    sname += '_total'
                check_eq(get(samples, sname, side=k, **lab), sv, f'{k}.{sk}')
                n += 1
        elif k == 'hold-time':
            check_histogram(samples, 'colo_proxy_compare_hold_seconds', v,
                            **lab)
            n += 1
        elif isinstance(v, dict):
            label = {'framing-errors': 'link'}.get(k, 'reason')
            for rk, rv in v.items():
                check_eq(get(samples, name + '_total', **{label: rk}, **lab),
                         rv, f'{k}.{rk}')
                n += 1
        elif isinstance(v, bool):
            check_eq(get(samples, name, **lab), int(v), k)
            n += 1
        elif isinstance(v, int):
            if k == 'connection-memory':
                name += '_bytes'
            elif k not in gauges:
                name += '_total'
            check_eq(get(samples, name, **lab), v, k)
            n += 1
    return n


def test_metrics_agree_with_qmp():
    p, pri, sec, out, port = metrics_proxy()
    with p:
        traffic(p, pri, sec, out)
        text = scrape(port)
        st = p.qmp.cmd('query-colo-compare-stats')[0]
        colo = p.qmp.cmd('query-colo-stats')
        samples, types = parse_metrics(text)
        check(st['released'] > 0 and st['hold-time']['count'] > 0, str(st))
        check(colo['checkpoint-duration']['count'] == 1, str(colo))
        n = check_compare_agrees(samples, st)
        log(f'{n} compare values agree')
        for k in ('started', 'completed', 'failed', 'timeouts', 'failovers',
                  'coalesced', 'ignored', 'unrequested', 'input-lost'):
            check_eq(get(samples, 'colo_proxy_colo_' + k.replace('-', '_')
                         + '_total'), colo[k], k)
        for r, v in colo['requests'].items():
            check_eq(get(samples, 'colo_proxy_colo_requests_total', reason=r),
                     v, r)
        check_histogram(samples, 'colo_proxy_checkpoint_duration_seconds',
                        colo['checkpoint-duration'])
        check_eq(get(samples, 'colo_proxy_colo_info', mode='primary',
                     driver='event'), 1, 'info')
        check_eq(types['colo_proxy_compare_hold_seconds'], 'histogram', 't')
        check_eq(types['colo_proxy_compare_released_total'], 'counter', 't')
        check_eq(types['colo_proxy_compare_connections'], 'gauge', 't')
        # the other queries' objects are there, labelled by id and type
        get(samples, 'colo_proxy_heartbeat_sent_total', id='hb0',
            type='colo-heartbeat')
        get(samples, 'colo_proxy_netfilter_packets_total', id='fb0',
            type='filter-buffer')
        get(samples, 'colo_proxy_netdev_rx_frames_total', id='n0',
            type='stream')
        get(samples, 'colo_proxy_chardev_bytes_in_total', id='pri',
            type='chardev')
        get(samples, 'colo_proxy_qmp_clients')
        check_eq(get(samples, 'colo_proxy_metrics_query_errors_total'), 0,
                 'query errors')
        check_eq(get(samples, 'colo_proxy_metrics_name_conflicts_total'), 0,
                 'name conflicts')
        # every family has HELP and TYPE, and every sample a family
        for (name, _) in samples:
            fam = name
            for suf in ('_bucket', '_sum', '_count'):
                if name.endswith(suf) and name[:-len(suf)] in types:
                    fam = name[:-len(suf)]
            check(fam in types, f'{name}: no TYPE')
            check(f'# HELP {fam} ' in text, f'{fam}: no HELP')
        check_promtool(text)
        p.stop()


def check_promtool(text):
    promtool = shutil.which('promtool')
    if not promtool:
        raise Skip('promtool missing (Debian package prometheus; '
                   'scripts/install-deps.sh installs it)')
    r = subprocess.run([promtool, 'check', 'metrics'], input=text,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and not r.stdout.strip()
          and not r.stderr.strip(),
          f'promtool check metrics: rc {r.returncode}\n{r.stdout}{r.stderr}')


def prom_query(port, expr):
    url = (f'http://127.0.0.1:{port}/api/v1/query?'
           + urllib.parse.urlencode({'query': expr}))
    with urllib.request.urlopen(url, timeout=5) as r:
        res = json.load(r)
    check_eq(res['status'], 'success', f'query {expr}')
    return res['data']['result']


def test_real_prometheus():
    prom = shutil.which('prometheus')
    if not prom:
        raise Skip('prometheus missing (Debian package prometheus; '
                   'scripts/install-deps.sh installs it)')
    p, pri, sec, out, port = metrics_proxy()
    d = tmpdir('cqprom')
    pport = free_tcp_port()
    cfg = os.path.join(d, 'prometheus.yml')
    with open(cfg, 'w') as f:
        f.write('global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n'
                'scrape_configs:\n  - job_name: colo\n'
                f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
    with p:
        traffic(p, pri, sec, out)
        st = p.qmp.cmd('query-colo-compare-stats')[0]
        colo = p.qmp.cmd('query-colo-stats')
        logf = open(os.path.join(d, 'prometheus.log'), 'w')
        pr = subprocess.Popen([prom, f'--config.file={cfg}',
                               f'--storage.tsdb.path={d}/data',
                               f'--web.listen-address=127.0.0.1:{pport}'],
                              stdout=logf, stderr=subprocess.STDOUT)
        try:
            def up():
                try:
                    r = prom_query(pport, 'up{job="colo"}')
                except OSError:
                    return False
                return bool(r) and r[0]['value'][1] == '1'
            wait_for(up, timeout=60, interval=0.5, what='prometheus target up')

            def value(expr):
                r = prom_query(pport, expr)
                return float(r[0]['value'][1]) if r else None
            wait_for(lambda: value('colo_proxy_compare_released_total')
                     is not None, timeout=30, interval=0.5,
                     what='a scraped sample')
            for expr, want in (
                    ('colo_proxy_compare_released_total{id="comp0"}',
                     st['released']),
                    ('colo_proxy_compare_matched_total', st['matched']),
                    ('colo_proxy_compare_mismatched_total{reason="payload"}',
                     st['mismatched']['payload']),
                    ('colo_proxy_compare_hold_seconds_count',
                     st['hold-time']['count']),
                    ('colo_proxy_colo_completed_total', colo['completed']),
                    ('colo_proxy_checkpoint_duration_seconds_count',
                     colo['checkpoint-duration']['count'])):
                check_eq(value(expr), want, expr)
            q = value('histogram_quantile(0.5, '
                      'colo_proxy_compare_hold_seconds_bucket)')
            check(q is not None and q >= 0, f'hold p50 {q}')
            log(f'prometheus: target up, counters agree, hold p50 {q}s')
            # every expression of the Grafana dashboard is valid PromQL
            # and most have data (the rest: rates of nothing, failovers)
            _, exprs = dashboard_exprs()
            wait_for(lambda: prom_query(pport, 'count(rate('
                     'colo_proxy_compare_released_total[1m]))'),
                     timeout=30, interval=0.5, what='two scrapes for rate()')
            with_data = 0
            for e in exprs:
                try:
                    with_data += bool(prom_query(pport, promql_for_api(e)))
                except urllib.error.HTTPError as err:
                    raise TestFailure(f'prometheus refuses {e}: '
                                      f'{err.read().decode()}') from None
            log(f'dashboard: {len(exprs)} expressions valid, '
                f'{with_data} with data')
            check(with_data >= len(exprs) // 2, f'{with_data} with data')
        finally:
            pr.terminate()
            try:
                pr.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pr.kill()
                pr.wait()
            logf.close()
        p.stop()


def test_bad_requests():
    p, pri, sec, out, port = metrics_proxy(',max-clients=6,timeout=1000')
    with p:
        cases = [
            (b'garbage\r\n\r\n', 400),
            (b'\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n', 400),
            (b'GET\r\n\r\n', 400),
            (b'GET /metrics\r\n\r\n', 400),
            (b'GET /metrics HTTP/2.0\r\n\r\n', 400),
            (b'GET /metrics HTTP/1.1 extra\r\n\r\n', 400),
            (b'POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc', 405),
            (b'DELETE /metrics HTTP/1.1\r\n\r\n', 405),
            (b'GET / HTTP/1.1\r\n\r\n', 404),
            (b'GET /metricsX HTTP/1.1\r\n\r\n', 404),
            (b'GET ' + b'/' * 10000 + b' HTTP/1.1\r\n\r\n', 414),
            (b'GET /metrics HTTP/1.1\r\n' + b'X-A: b\r\n' * 1500 + b'\r\n',
             431),
            (b'GET /me\x00trics HTTP/1.1\r\n\r\n', 400),
        ]
        for req, want in cases:
            resp = http(port, req)
            check_eq(status_of(resp), want, f'answer to {req[:40]!r}')
            if want == 405:
                check(b'\r\nAllow: GET, HEAD\r\n' in resp, resp[:200])
            check(b'\r\nConnection: close\r\n' in resp, resp[:200])
        # random bytes ending in an empty line: an error answer at once
        rng = random.Random(15)
        for i in range(60):
            blob = bytes(rng.randrange(256)
                         for _ in range(rng.choice((1, 20, 300, 9000))))
            resp = http(port, blob + b'\r\n\r\n')
            check(status_of(resp) in (400, 404, 405, 414, 431),
                  f'random request {i}: {resp[:60]!r}')
        resp = http(port, b'HEAD /metrics HTTP/1.0\r\n\r\n')
        check_eq(status_of(resp), 200, 'HEAD')
        check(resp.endswith(b'\r\n\r\n'), 'HEAD has no body')
        resp = http(port, b'GET /metrics?x=1 HTTP/1.1\nHost: a\n\n')
        check_eq(status_of(resp), 200, 'bare LF, query string')
        check(b'colo_proxy_compare_released_total' in resp, 'body')

        # slowloris: a byte now and then never completes a request; it is
        # cut at the deadline (1 s) while other clients are served
        slow = http(port, b'GET /met', read=False)
        t0 = time.monotonic()
        for _ in range(3):
            resp = http(port, b'GET /metrics HTTP/1.1\r\n\r\n')
            check_eq(status_of(resp), 200, 'served during slowloris')
        try:
            while True:
                slow.sendall(b'r')
                time.sleep(0.2)
                if time.monotonic() - t0 > 5:
                    break
        except OSError:
            pass
        slow.settimeout(2)
        try:
            got = slow.recv(100)
        except OSError:
            got = b''
        dt = time.monotonic() - t0
        check(got == b'' and dt < 5, f'slowloris cut after {dt:.1f}s: {got!r}')
        slow.close()

        # connections beyond max-clients=6: 503 at once; others then served
        idle = [http(port, b'', read=False) for _ in range(6)]
        time.sleep(0.2)
        resp = http(port, b'GET /metrics HTTP/1.1\r\n\r\n')
        check_eq(status_of(resp), 503, 'seventh connection')
        for s in idle:
            s.close()
        wait_for(lambda: status_of(http(port, b'GET /metrics HTTP/1.1\r\n'
                                        b'\r\n')) == 200, timeout=5,
                 what='served again')
        # clients that send their request and never read nor close: their
        # connections end by the deadline (1 s) plus the linger (1 s), and
        # then others are served again
        mute = [http(port, b'GET /metrics HTTP/1.1\r\n\r\n', read=False)
                for _ in range(6)]
        t0 = time.monotonic()
        wait_for(lambda: status_of(http(port, b'GET /metrics HTTP/1.1\r\n'
                                        b'\r\n')) == 200, timeout=5,
                 interval=0.1, what='served after mute clients')
        log(f'served again {time.monotonic() - t0:.1f}s after 6 mute clients')
        for s in mute:
            s.close()
        # (a connection counts until the server saw its client close)
        got = []
        wait_for(lambda: got.append(http(port, b'GET /metrics HTTP/1.1\r\n'
                                         b'\r\n')) or status_of(got[-1])
                 == 200, timeout=5, interval=0.1, what='a full scrape')
        samples, _ = parse_metrics(got[-1].split(b'\r\n\r\n', 1)[1]
                                   .decode())
        check(get(samples, 'colo_proxy_metrics_http_timeouts_total',
                  id='m0') >= 1, 'timeouts counted')
        check(get(samples, 'colo_proxy_metrics_http_refused_total',
                  id='m0') >= 1, 'refusals counted')
        check(get(samples, 'colo_proxy_metrics_http_errors_total',
                  id='m0') >= len(cases) - 1, 'errors counted')
        check_eq(p.qmp.cmd('query-status')['status'], 'running', 'alive')
        p.stop()


DASHBOARD = os.path.join(source_dir(), 'contrib', 'grafana',
                         'colo-proxy.json')


def dashboard_exprs():
    """Every PromQL expression of the Grafana dashboard: panel targets
    (rows' nested panels too) and templating queries."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    exprs = []

    def panels(ps):
        for p in ps:
            exprs.extend(t['expr'] for t in p.get('targets', [])
                         if t.get('expr'))
            panels(p.get('panels', []))
    panels(dash['panels'])
    for v in dash.get('templating', {}).get('list', []):
        q = v.get('query')
        if isinstance(q, dict):
            q = q.get('query')
        if v.get('type') == 'query' and q:
            exprs.append(q)
    return dash, exprs


def promql_for_api(expr):
    """The dashboard's variables as Grafana would fill them; Grafana's
    label_values(METRIC, LABEL) as the PromQL it runs (the series)."""
    m = re.fullmatch(r'label_values\((.+), *[a-z_]+\)', expr)
    if m:
        expr = m.group(1)
    return (expr.replace('$__rate_interval', '1m')
            .replace('$instance', '.*'))


def test_grafana_dashboard():
    """Valid JSON, and every metric an expression names is exported by a
    proxy with each kind of object (histograms by their family)."""
    dash, exprs = dashboard_exprs()
    check(dash['uid'] and dash['title'] and len(exprs) >= 15,
          f'{len(exprs)} expressions')
    p, pri, sec, out, port = metrics_proxy()
    with p:
        traffic(p, pri, sec, out)
        samples, types = parse_metrics(scrape(port))
        p.stop()
    names = set()
    for e in exprs:
        names.update(re.findall(r'\b(colo_proxy_[a-z0-9_]+)', e))
    check(names, 'no colo_proxy_ metric named')
    for n in sorted(names):
        fam = n
        for suf in ('_bucket', '_sum', '_count'):
            if n.endswith(suf) and types.get(n[:-len(suf)]) == 'histogram':
                fam = n[:-len(suf)]
        check(fam in types, f'dashboard names {n}, which is not exported')
        if n.endswith('_bucket'):
            check_eq(types[fam], 'histogram', f'{n}: a histogram')
        if n.endswith('_total'):
            check_eq(types[fam], 'counter', f'{n}: a counter')
    # a counter is only ever rated, never plotted raw
    for e in exprs:
        for n in re.findall(r'\b(colo_proxy_[a-z0-9_]+_total)\b', e):
            check(re.search(r'(rate|increase)\(' + n, e), f'{e}: raw {n}')
    log(f'{len(exprs)} expressions, {len(names)} metrics, all exported')
    # docs/observability.md lists every family
    with open(os.path.join(source_dir(), 'docs', 'observability.md')) as f:
        doc = f.read()
    undocumented = [n for n in types if f'| `{n}` |' not in doc]
    check(not undocumented, 'not in docs/observability.md: '
          + ', '.join(undocumented))


def test_object_lifecycle():
    p, pri, sec, out, port = metrics_proxy()
    with p:
        check('metrics-http' in [t['name'] for t in
                                 p.qmp.cmd('qom-list-types')], 'type listed')
        p.qmp.object_del('m0')
        wait_for(lambda: _refused(port), timeout=5, what='port closed')
        p.qmp.object_add('metrics-http', 'm1', port=port)
        check_eq(status_of(http(port, b'GET /metrics HTTP/1.1\r\n\r\n')),
                 200, 'served again')
        expect_qmp_error(p.qmp.object_add, 'metrics-http', 'm2', port=port,
                         contains='')
        p.stop()


def test_two_frames():
    """With two colo-frames (two VM pairs) the COLO queries need
    "frame": each frame's numbers are exported labelled by it."""
    port = free_tcp_port()
    with ColoProxy(['-object', 'colo-frame,id=fa,mode=primary,driver=event',
                    '-object', 'colo-frame,id=fb,mode=primary,driver=event',
                    '-object', f'metrics-http,id=m0,port={port}']) as p:
        p.qmp.cmd('x-colo-checkpoint', frame='fb')
        p.qmp.get_event('COLO_CHECKPOINT_REQUEST', timeout=5)
        p.qmp.cmd('x-colo-checkpoint-done', frame='fb')
        p.qmp.get_event('COLO_CHECKPOINT_DONE', timeout=5)
        samples, types = parse_metrics(scrape(port))
        for fr in ('fa', 'fb'):
            st = p.qmp.cmd('query-colo-stats', frame=fr)
            check_eq(get(samples, 'colo_proxy_colo_completed_total',
                         frame=fr), st['completed'], f'{fr} completed')
            check_histogram(samples, 'colo_proxy_checkpoint_duration_seconds',
                            st['checkpoint-duration'], frame=fr)
        check_eq(get(samples, 'colo_proxy_colo_completed_total', frame='fb'),
                 1, 'fb completed')
        check_eq(get(samples, 'colo_proxy_metrics_query_errors_total'), 0,
                 'query errors')
        p.stop()


def _refused(port):
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=1)
    except OSError:
        return True
    s.close()
    return False


if __name__ == '__main__':
    run_tests([test_metrics_agree_with_qmp, test_bad_requests,
               test_object_lifecycle, test_two_frames,
               test_grafana_dashboard, test_real_prometheus])
