#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/install-deps.sh - install colo-proxy's Debian 12 build and test
# dependencies with apt-get, but only those that are missing.
#
#   scripts/install-deps.sh               install what is missing (root)
#   scripts/install-deps.sh --check-only  exit 1 if a build dependency is missing
#   scripts/install-deps.sh --print       print the apt-get command only
#
# Build: meson ninja-build pkg-config gcc libglib2.0-dev libjson-glib-dev
#        libslirp-dev check
# Tests: python3 iproute2 qemu-system-x86 tshark (pcap reading) clang ethtool
#        libclang-rt-14-dev (fuzzing, sanitizers) procps
#        libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients (the
#        docs/libvirt.md domains, run by a private libvirtd; not the
#        -system package, which needs systemd)
#        prometheus (promtool and a private Prometheus scraping the
#        metrics-http endpoint, tests/qtest/test_metrics.py)
# Real COLO (tests/e2e/test_vm_qemu_colo.py): bookworm-backports (deb and
#        deb-src) and the tools to build QEMU 10.0.2 from source, through
#        scripts/build-colo-qemu.sh --deps; `make check` then builds that
#        QEMU once into /var/cache/colo-proxy (docs/qemu.md)
set -e
mode=install
case "$1" in
--check-only) mode=check ;;
--print) mode=print ;;
esac

build_pkgs="meson ninja-build pkg-config gcc libglib2.0-dev libjson-glib-dev libslirp-dev check"
test_pkgs="python3 iproute2 qemu-system-x86 tshark clang libclang-rt-14-dev procps ethtool iputils-ping libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients prometheus"

missing=
for p in $build_pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ "$mode" = check ]; then
    [ -z "$missing" ] && exit 0
    echo "missing:$missing" >&2
    exit 1
fi
for p in $test_pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    [ "$mode" = install ] && [ "$(id -u)" = 0 ] && exec "$(dirname "$0")/build-colo-qemu.sh" --deps
    exit 0
fi

cmd="apt-get install -y --no-install-recommends$missing"
if [ "$mode" = print ] || [ "$(id -u)" != 0 ]; then
    echo "colo-proxy needs:$missing"
    echo "run as root: apt-get update && $cmd"
    [ "$mode" = print ] && exit 0
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; answer no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
exec "$(dirname "$0")/build-colo-qemu.sh" --deps
