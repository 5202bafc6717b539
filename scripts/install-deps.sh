#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/install-deps.sh - install colo-proxy's Debian 12 dependencies with
# apt-get, by group, asking apt only for the packages that are missing.
#
#   scripts/install-deps.sh [GROUP...]     install what is missing (root)
#   scripts/install-deps.sh --check-only [GROUP...]
#                                          exit 1 naming what is missing
#   scripts/install-deps.sh --print [GROUP...]
#                                          print the apt-get command only
#
# GROUP is one of (no GROUP: all three, as before the groups existed):
#   build  what `make` needs to build: meson ninja-build pkg-config gcc
#          python3 libglib2.0-dev libjson-glib-dev libslirp-dev check
#          libgnutls28-dev (TLS on the links: docs/security.md)
#          libcpg-dev libvotequorum-dev (colo-quorum's corosync provider,
#          meson -Dcorosync; docs/ha.md), and libsystemd-dev (optional: sd_notify() for Type=notify units;
#          installed as root, never required of a non-root build)
#   test   what `make check` runs: openssl (test certificates) gnutls-bin
#          (certtool: docs/security.md's recipe, test_tls_certtool) iproute2
#          qemu-system-x86 tshark (pcap
#          reading) clang libclang-rt-14-dev (fuzzing, sanitizers) procps
#          ethtool iputils-ping socat (docs/user-guide.md's QMP session)
#          libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients (the
#          docs/libvirt.md domains, run by a private libvirtd; not the
#          -system package, which needs systemd), dpkg-dev build-essential
#          debhelper fakeroot lintian man-db (tests/e2e/test_package.py
#          builds the .deb and reads its man pages), systemd
#          (systemd-analyze verify of the unit), corosync corosync-qnetd
#          corosync-qdevice (tests/ha: the three-host cluster)
#          resource-agents (ocf-tester, the OCF agent's check),
#          prometheus (promtool and a private Prometheus scraping
#          metrics-http, test_metrics.py); then, as root, the
#          real-COLO QEMU's build dependencies (bookworm-backports, deb and
#          deb-src) through scripts/build-colo-qemu.sh --deps; `make check`
#          builds that QEMU once into /var/cache/colo-proxy (docs/qemu.md)
#   demo   what `make demo` and `make demo-netns` run: iproute2 ethtool
#          procps python3 qemu-system-x86 and the real-COLO QEMU as above
#
# Missing packages are found with dpkg-query where it exists, else (a
# system without dpkg) by the command or pkg-config module each package
# provides, so `./configure` and `make` work on any system that has the
# tools.  As non-root nothing is installed: a missing package is named
# with the command that installs it, and the exit status is 1.
set -e
mode=install
case "$1" in
--check-only) mode=check; shift ;;
--print) mode=print; shift ;;
esac
[ $# -eq 0 ] && set -- build test demo

# package:probe, the probe being cmd:NAME (a command), pc:NAME (a
# pkg-config module) or - (only dpkg-query can tell).
build_pkgs="meson:cmd:meson ninja-build:cmd:ninja pkg-config:cmd:pkg-config
    gcc:cmd:gcc python3:cmd:python3 libglib2.0-dev:pc:glib-2.0
    libjson-glib-dev:pc:json-glib-1.0 libslirp-dev:pc:slirp check:pc:check libgnutls28-dev:pc:gnutls
    libcpg-dev:pc:libcpg libvotequorum-dev:pc:libvotequorum"
build_optional="libsystemd-dev:pc:libsystemd"
test_pkgs="python3:cmd:python3 openssl:cmd:openssl gnutls-bin:cmd:certtool iproute2:cmd:ip qemu-system-x86:cmd:qemu-system-x86_64
    tshark:cmd:tshark clang:cmd:clang libclang-rt-14-dev:- procps:cmd:ps
    ethtool:cmd:ethtool iputils-ping:cmd:ping socat:cmd:socat
    libvirt-daemon:cmd:libvirtd libvirt-daemon-driver-qemu:-
    libvirt-clients:cmd:virsh dpkg-dev:cmd:dpkg-buildpackage
    build-essential:- debhelper:cmd:dh fakeroot:cmd:fakeroot
    lintian:cmd:lintian man-db:cmd:man systemd:cmd:systemd-analyze
    corosync:cmd:corosync corosync-qnetd:cmd:corosync-qnetd
    corosync-qdevice:cmd:corosync-qdevice resource-agents:cmd:ocf-tester
    prometheus:cmd:promtool"
demo_pkgs="python3:cmd:python3 iproute2:cmd:ip ethtool:cmd:ethtool procps:cmd:ps
    qemu-system-x86:cmd:qemu-system-x86_64"

have_dpkg=false
command -v dpkg-query >/dev/null 2>&1 && have_dpkg=true

# present PACKAGE PROBE: is it installed?
present() {
    if $have_dpkg; then
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
        return
    fi
    case "$2" in
    cmd:*) PATH="$PATH:/usr/sbin:/sbin" command -v "${2#cmd:}" >/dev/null 2>&1 ;;
    pc:*) pkg-config --exists "${2#pc:}" 2>/dev/null ;;
    *) return 0 ;;            # cannot tell without dpkg: assume present
    esac
}

missing=
optional=
qemu_deps=false
for group in "$@"; do
    case "$group" in
    build) list=$build_pkgs
           for entry in $build_optional; do
               present "${entry%%:*}" "${entry#*:}" || optional="$optional ${entry%%:*}"
           done ;;
    test) list=$test_pkgs; qemu_deps=true ;;
    demo) list=$demo_pkgs; qemu_deps=true ;;
    *) echo "install-deps.sh: unknown group '$group' (build, test or demo)" >&2
       exit 2 ;;
    esac
    for entry in $list; do
        p=${entry%%:*}
        case " $missing " in *" $p "*) continue ;; esac
        present "$p" "${entry#*:}" || missing="$missing $p"
    done
done

if [ "$mode" = check ]; then
    [ -z "$missing" ] && exit 0
    echo "missing:$missing" >&2
    exit 1
fi

root=false
[ "$(id -u)" = 0 ] && root=true
if $root && [ "$mode" = install ]; then
    missing="$missing$optional"
fi
if [ -n "$missing" ]; then
    cmd="apt-get install -y --no-install-recommends$missing"
    if [ "$mode" = print ] || ! $root; then
        echo "colo-proxy ($*) needs:$missing"
        echo "run as root: apt-get update && $cmd"
        [ "$mode" = print ] && exit 0
        exit 1
    fi
    if ! $have_dpkg || ! command -v apt-get >/dev/null 2>&1; then
        echo "install-deps.sh: missing:$missing; this is not a Debian system:" \
             "install them with its package manager" >&2
        exit 1
    fi
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # tshark asks whether non-root users may capture; answer no.
    echo "wireshark-common wireshark-common/install-setuid boolean false" |
        debconf-set-selections 2>/dev/null || true
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi
if [ "$mode" = install ] && $qemu_deps && $root; then
    exec "$(dirname "$0")/build-colo-qemu.sh" --deps
fi
exit 0
