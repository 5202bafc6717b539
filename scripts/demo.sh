#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/demo.sh BUILDDIR [failover|colo|basic] - a live colo-proxy demo in network
# namespaces (root).  'make demo-netns' runs it ('make demo' is the real
# COLO pair of scripts/colo-vm-demo.py).
#
# colo: the COLO proxy of docs/COLO-FT.txt, with two
# namespaces playing the primary and the secondary guest (same MAC, same
# IP, the same HTTP server and files) and a third playing the client:
#
#   client ns C        proxy ns X                                guest ns PG
#   10.77.0.1 ==veth== primary colo-proxy:  af-packet netdev hn0 (client side)
#                        m0 mirror, redire0/redire1, colo-compare comp0,
#                        colo-frame (driver=exec)  af-packet device d0 ==veth== 10.77.0.2
#                      | mirror0 (tx copies)  ^ compare1 (secondary output)
#                      v                      |                  guest ns SG
#                      secondary colo-proxy: f1 indev, f2 outdev, rewriter,
#                        idle stream netdev,  af-packet device d0 ==veth== 10.77.0.2
#
# The client downloads files over HTTP.  Every frame the client sends is
# mirrored to the secondary guest; both guests answer; colo-compare
# compares their TCP streams and releases the primary's answer when the
# secondary's matches.  Then the client asks for a file whose content
# differs between the two guests: the streams diverge, colo-compare asks
# for a checkpoint (the exec driver commits it at once: there is no VM
# state to copy here), and the client still gets the primary's bytes.
# Live counters come from QMP (query-colo-compare-stats, query-colo-stats,
# query-netfilter-stats).
#
# basic: client and server namespaces joined through one colo-proxy
# (af-packet netdev + af-packet device) with a filter-dump; an HTTP
# transfer with live query-netdev-stats / query-netfilter-stats counters
# and the pcap frame count.
#
# Everything is removed on exit, error or Ctrl-C.  Needs root, iproute2,
# python3; ethtool (optional) switches the veths' offloads off so that
# every frame is a plain Ethernet frame of at most the MTU.
set -eu

build=${1:-build}
mode=${2:-auto}
bin=$build/system/colo-proxy

if [ "$(id -u)" != 0 ]; then
    echo "demo: needs root (network namespaces, veth pairs, AF_PACKET sockets)."
    echo "      run it as root: sudo make demo-netns   (or: sudo $0 $build)"
    exit 1
fi
for tool in ip python3; do
    command -v "$tool" >/dev/null || {
        echo "demo: needs '$tool' (run scripts/install-deps.sh as root)"
        exit 1
    }
done
[ -x "$bin" ] || { echo "demo: $bin not built (run 'make' first)"; exit 1; }
"$bin" -netdev help 2>/dev/null | grep -qw af-packet || {
    echo "demo: this colo-proxy has no '-netdev af-packet' yet"; exit 1; }
# The default: the COLO failover demo (scripts/colo-demo.py,
# docs/colo-demo.md), a COLO pair whose client connections survive the
# primary's death.  'colo' and 'basic' below are the earlier demos.
if [ "$mode" = auto ] || [ "$mode" = failover ]; then
    if "$bin" -object help | grep -qw colo-compare &&
       "$bin" -object help | grep -qw filter-rewriter &&
       "$bin" -object help | grep -qw colo-heartbeat; then
        exec python3 "$(dirname "$0")/colo-demo.py" --build "$build"
    fi
    [ "$mode" = failover ] && {
        echo "demo: this colo-proxy lacks colo-compare, filter-rewriter or colo-heartbeat"
        exit 1
    }
fi
if [ "$mode" = auto ]; then
    mode=basic
    if "$bin" -object help | grep -qw colo-compare &&
       "$bin" -object help | grep -qw colo-frame; then
        mode=colo
    fi
fi

tag=cqd$$
work=$(mktemp -d /tmp/colo-demo.XXXXXX)
namespaces=
pids=

cleanup() {
    trap - EXIT INT TERM
    for pid in $pids; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $pids; do
        wait "$pid" 2>/dev/null || true
    done
    for ns in $namespaces; do
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted"; exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

add_ns() {
    ip netns add "$1"
    namespaces="$namespaces $1"
    in_ns "$1" ip link set lo up
}

# veth NS_A IF_A NS_B IF_B: a veth pair, offloads off, both ends up
veth() {
    ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
    for end in "$1 $2" "$3 $4"; do
        set -- $end
        if command -v ethtool >/dev/null; then
            in_ns "$1" ethtool -K "$2" tx off rx off tso off gso off gro off \
                >/dev/null 2>&1 || true
        fi
        in_ns "$1" ip link set "$2" up
    done
}

# QMP: scripts/colo-proxy-ctl on the command line (qmp SOCKET COMMAND
# [KEY=VALUE...]), and its QMP class as a module for the live counters
# below (QMP(path).cmd(name[, args]) and watch())
scripts_dir=$(cd "$(dirname "$0")" && pwd)
printf 'import sys\nsys.path.insert(0, %s)\n' "'$scripts_dir'" >"$work/qmp.py"
cat >>"$work/qmp.py" <<'PY'
import time
from colo_proxy_ctl import QMP as _QMP

class QMP(_QMP):
    def cmd(self, name, args=None):
        return self.execute(name, args)

def alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False

def watch(pid, show, interval=0.25):
    """Calls show() every 'interval' s while 'pid' lives, then once more."""
    while alive(pid):
        show()
        time.sleep(interval)
    show()
PY
qmp() { local sock=$1; shift; python3 "$scripts_dir/colo-proxy-ctl" -c -s "$sock" "$@"; }

# start_proxy NS NAME ARGS...: colo-proxy in NS with a QMP socket
# $work/NAME.qmp and its log in $work/NAME.log; waits for the socket
start_proxy() {
    local ns=$1 name=$2
    shift 2
    # 'ip netns exec' execs the command, so $! is colo-proxy itself
    ip netns exec "$ns" "$bin" -name "$name" \
        -qmp "unix:$work/$name.qmp,server=on,wait=off" \
        -D "$work/$name.log" "$@" &
    pids="$pids $!"
    local pid=$!
    for _ in $(seq 200); do
        [ -S "$work/$name.qmp" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "demo: colo-proxy '$name' did not start:"
    cat "$work/$name.log" 2>/dev/null
    exit 1
}

# http_server NS DIR: python3's HTTP server on 10.77.0.2:8080 in NS
http_server() {
    (cd "$2" && exec ip netns exec "$1" python3 -m http.server 8080 \
        --bind 10.77.0.2 >/dev/null 2>&1) &
    pids="$pids $!"
    for _ in $(seq 100); do
        in_ns "$1" python3 -c 'import socket; socket.create_connection(("10.77.0.2", 8080), 0.2)' \
            2>/dev/null && return 0
        sleep 0.05
    done
    echo "demo: HTTP server in $1 did not start"; exit 1
}

# fetch NS OUT URL...: downloads each URL into OUT (appending), prints the
# time and rate; runs in the background, its pid in $fetch_pid
fetch() {
    local ns=$1 out=$2
    shift 2
    ip netns exec "$ns" python3 - "$out" "$@" <<'PY' &
import sys, time, urllib.request
out, urls = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
n = 0
with open(out, 'wb') as f:
    for u in urls:
        with urllib.request.urlopen(u, timeout=60) as r:
            while True:
                b = r.read(1 << 20)
                if not b:
                    break
                f.write(b)
                n += len(b)
dt = time.monotonic() - t0
print('   client: %d request(s), %.2f MiB in %.2f s (%.1f MiB/s)'
      % (len(urls), n / 2**20, dt, n / 2**20 / dt), flush=True)
PY
    fetch_pid=$!
    pids="$pids $fetch_pid"
}

# watch PID SCRIPT ARGS...: runs the python SCRIPT (which loops while PID
# lives, printing counters) in the background, so that a signal interrupts
# 'wait' at once; its pid is in $watch_pid
watch_while() {
    local pid=$1
    shift
    PYTHONPATH=$work python3 "$@" "$pid" &
    watch_pid=$!
    pids="$pids $watch_pid"
}

sha() { sha256sum "$1" | cut -c1-16; }

# ---------------------------------------------------------------- basic --

demo_basic() {
    local size_mib=${DEMO_SIZE_MIB:-64}
    local c=${tag}c s=${tag}s p=${tag}p
    echo "== basic demo: namespaces $c (client), $p (colo-proxy), $s (server)"
    add_ns "$c"; add_ns "$s"; add_ns "$p"
    veth "$c" "${tag}C0" "$p" "${tag}C1"
    veth "$s" "${tag}S0" "$p" "${tag}S1"
    in_ns "$c" ip addr add 10.77.0.1/24 dev "${tag}C0"
    in_ns "$s" ip addr add 10.77.0.2/24 dev "${tag}S0"

    local pcap=$work/demo.pcap
    echo "== colo-proxy -netdev af-packet,id=n0,ifname=${tag}S1" \
         "-device af-packet,id=g0,netdev=n0,ifname=${tag}C1" \
         "-object filter-dump,id=dump0,netdev=n0,file=$pcap"
    start_proxy "$p" proxy \
        -netdev "af-packet,id=n0,ifname=${tag}S1" \
        -device "af-packet,id=g0,netdev=n0,ifname=${tag}C1" \
        -object "filter-dump,id=dump0,netdev=n0,file=$pcap"
    local proxy_pid=${pids##* }

    echo "== ping through colo-proxy"
    in_ns "$c" ping -c 3 -i 0.2 -W 2 10.77.0.2 | sed 's/^/   /'

    echo "== HTTP transfer of $size_mib MiB"
    mkdir -p "$work/www"
    head -c "$((size_mib << 20))" /dev/urandom >"$work/www/blob"
    http_server "$s" "$work/www"
    fetch "$c" "$work/got" http://10.77.0.2:8080/blob
    cat >"$work/counters.py" <<'PY'
import sys
from qmp import QMP, watch
q = QMP(sys.argv[1])

def show():
    parts = []
    for n in q.cmd('query-netdev-stats'):
        st = n['counters']
        parts.append('%s %s: rx %d fr %.1f MiB, tx %d fr %.1f MiB' % (
            n['role'], n['id'], st['rx-frames'], st['rx-bytes'] / 2**20,
            st['tx-frames'], st['tx-bytes'] / 2**20))
    for f in q.cmd('query-netfilter-stats'):
        parts.append('%s: %d fr' % (f['id'], f['packets']))
    print('   ' + ' | '.join(parts), flush=True)

watch(int(sys.argv[2]), show)
PY
    watch_while "$fetch_pid" "$work/counters.py" "$work/proxy.qmp"
    wait "$fetch_pid" || { echo "demo: HTTP transfer failed"; exit 1; }
    wait "$watch_pid" || true
    if [ "$(sha "$work/got")" = "$(sha "$work/www/blob")" ]; then
        echo "   sha256 matches: the file crossed colo-proxy intact"
    else
        echo "demo: the file arrived damaged"; exit 1
    fi

    # stop colo-proxy (flushes the pcap) and count its frames
    kill -TERM "$proxy_pid"
    local rc=0
    wait "$proxy_pid" || rc=$?
    [ "$rc" = 0 ] || echo "demo: colo-proxy exit code $rc"
    python3 - "$pcap" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
n = total = 0
off = 24
while off + 16 <= len(b):
    incl, orig = struct.unpack_from('<II', b, off + 8)
    off += 16 + incl
    n += 1
    total += orig
print('== filter-dump recorded %d frames (%.1f MiB) in %s' % (n, total / 2**20, sys.argv[1]))
PY
}

# ----------------------------------------------------------------- colo --

demo_colo() {
    local size_mib=${DEMO_SIZE_MIB:-8} requests=${DEMO_REQUESTS:-4}
    local c=${tag}c x=${tag}x pg=${tag}g sg=${tag}h
    local mac=52:54:00:77:00:02
    echo "== COLO demo: namespaces $c (client), $x (the two colo-proxies)," \
         "$pg (primary guest), $sg (secondary guest)"
    add_ns "$c"; add_ns "$x"; add_ns "$pg"; add_ns "$sg"
    veth "$c" "${tag}C0" "$x" "${tag}C1"
    veth "$pg" "${tag}P0" "$x" "${tag}P1"
    veth "$sg" "${tag}S0" "$x" "${tag}S1"
    for g in "$pg ${tag}P0" "$sg ${tag}S0"; do
        set -- $g
        in_ns "$1" ip link set "$2" address "$mac"
        in_ns "$1" ip addr add 10.77.0.2/24 dev "$2"
    done
    in_ns "$c" ip addr add 10.77.0.1/24 dev "${tag}C0"

    # the same files on both guests, except 'diverge'
    mkdir -p "$work/pg" "$work/sg"
    head -c "$((size_mib << 20))" /dev/urandom >"$work/pg/blob"
    cp "$work/pg/blob" "$work/sg/blob"
    head -c 65536 /dev/urandom >"$work/pg/diverge"
    head -c 65536 /dev/urandom >"$work/sg/diverge"
    http_server "$pg" "$work/pg"
    http_server "$sg" "$work/sg"

    echo "== primary colo-proxy (COLO-FT.txt's primary; ports on 127.0.0.1 of $x)"
    local P=(
        -netdev "af-packet,id=hn0,ifname=${tag}C1"
        -device "af-packet,id=d0,netdev=hn0,ifname=${tag}P1"
        -chardev socket,id=mirror0,host=127.0.0.1,port=9003,server=on,wait=off
        -chardev socket,id=compare1,host=127.0.0.1,port=9004,server=on,wait=off
        -chardev socket,id=compare0,host=127.0.0.1,port=9001,server=on,wait=off
        -chardev socket,id=compare0-0,host=127.0.0.1,port=9001
        -chardev socket,id=compare_out,host=127.0.0.1,port=9005,server=on,wait=off
        -chardev socket,id=compare_out0,host=127.0.0.1,port=9005
        -object filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=mirror0
        -object filter-redirector,netdev=hn0,id=redire0,queue=rx,indev=compare_out
        -object filter-redirector,netdev=hn0,id=redire1,queue=rx,outdev=compare0
        -object iothread,id=iothread1
        -object colo-compare,id=comp0,primary_in=compare0-0,secondary_in=compare1,outdev=compare_out0,iothread=iothread1
        -object colo-frame,id=colo0,mode=primary,driver=exec,exec=true
    )
    printf '   %s %s\n' "${P[@]}"
    start_proxy "$x" primary "${P[@]}"

    echo "== secondary colo-proxy (COLO-FT.txt's secondary)"
    local S=(
        -netdev "stream,id=hn0,server=on,addr.type=unix,addr.path=$work/idle.sock"
        -device "af-packet,id=d0,netdev=hn0,ifname=${tag}S1"
        -chardev socket,id=red0,host=127.0.0.1,port=9003,reconnect=1
        -chardev socket,id=red1,host=127.0.0.1,port=9004,reconnect=1
        -object filter-redirector,id=f1,netdev=hn0,queue=tx,indev=red0
        -object filter-redirector,id=f2,netdev=hn0,queue=rx,outdev=red1
        -object filter-rewriter,id=rew0,netdev=hn0,queue=all
    )
    printf '   %s %s\n' "${S[@]}"
    start_proxy "$x" secondary "${S[@]}"
    for _ in $(seq 100); do
        qmp "$work/secondary.qmp" query-chardev | grep -q '"disconnected' || break
        sleep 0.05
    done

    cat >"$work/counters.py" <<'PY'
import sys
from qmp import QMP, watch
work = sys.argv[1]
p = QMP(work + '/primary.qmp')
s = QMP(work + '/secondary.qmp')

def show():
    cs = p.cmd('query-colo-compare-stats')[0]
    co = p.cmd('query-colo-stats')
    m0 = {x['id']: x for x in p.cmd('query-netfilter-stats')}['m0']
    f1 = {x['id']: x for x in s.cmd('query-netfilter-stats')}['f1']
    mis = cs['mismatched']
    mis = sum(mis.values()) if isinstance(mis, dict) else mis
    print('   mirrored %5d | secondary injected %5d | compare: matched %5d,'
          ' released %5d (%5.1f MiB), mismatched %d | checkpoints: %d'
          ' requested, %d committed'
          % (m0.get('packets-out', 0), f1.get('injected', 0), cs['matched'],
             cs['released'], cs['released-bytes'] / 2**20, mis,
             sum(co['requests'].values()), co['completed']), flush=True)

if len(sys.argv) > 2:
    watch(int(sys.argv[2]), show)
else:
    show()
PY
    echo "== ping 10.77.0.2: both guests answer, the client sees the primary's replies"
    in_ns "$c" ping -c 3 -i 0.3 -W 2 10.77.0.2 | sed 's/^/   /'

    echo "== $requests HTTP downloads of $size_mib MiB (the same file on both guests)"
    local urls=()
    for _ in $(seq "$requests"); do
        urls+=(http://10.77.0.2:8080/blob)
    done
    fetch "$c" "$work/got" "${urls[@]}"
    watch_while "$fetch_pid" "$work/counters.py" "$work"
    wait "$fetch_pid" || { echo "demo: HTTP transfer failed"; exit 1; }
    wait "$watch_pid" || true
    local want
    want=$(for _ in $(seq "$requests"); do cat "$work/pg/blob"; done | sha256sum | cut -c1-16)
    if [ "$(sha "$work/got")" = "$want" ]; then
        echo "   sha256 matches: the client got the primary's files intact"
    else
        echo "demo: the client's files differ from the primary's"; exit 1
    fi

    echo "== a download whose content differs between the guests"
    fetch "$c" "$work/got2" http://10.77.0.2:8080/diverge
    wait "$fetch_pid" || { echo "demo: HTTP transfer failed"; exit 1; }
    PYTHONPATH=$work python3 "$work/counters.py" "$work"
    if [ "$(sha "$work/got2")" = "$(sha "$work/pg/diverge")" ]; then
        echo "   colo-compare saw the divergence and asked for a checkpoint; the"
        echo "   checkpoint released the primary's answer, which the client got intact"
    else
        echo "demo: the client did not get the primary's answer"; exit 1
    fi
    PYTHONPATH=$work python3 - "$work/primary.qmp" <<'PY'
import sys
from qmp import QMP
p = QMP(sys.argv[1])
reasons = lambda d: ', '.join('%s %d' % kv for kv in d.items() if kv[1]) \
    if isinstance(d, dict) else str(d)
cs = p.cmd('query-colo-compare-stats')[0]
print('   mismatches by reason: ' + reasons(cs['mismatched']))
print('   checkpoint requests by reason: '
      + reasons(p.cmd('query-colo-stats')['requests']))
PY
}

case "$mode" in
colo) demo_colo ;;
basic) demo_basic ;;
*) echo "demo: unknown mode '$mode' (colo or basic)"; exit 1 ;;
esac
echo "== done; cleaning up"
