#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/build-colo-qemu.sh - a QEMU that can run COLO on this machine,
# built once from Debian's source into a cache outside the source tree.
#
#   scripts/build-colo-qemu.sh          download, patch, build (if not cached),
#                                       then print the binary and -L dir
#   scripts/build-colo-qemu.sh --print  print them if cached; exit 1 if not
#   scripts/build-colo-qemu.sh --deps   only install the build dependencies
#   scripts/build-colo-qemu.sh --stock  unpack the stock bookworm-backports
#                                       10.0.2 binary (not for COLO: for the
#                                       colo-compare baselines of bench/)
#
# Why a build: no QEMU in Debian 12 can run COLO under TCG (docs/qemu.md).
# Debian 12's 7.2 deadlocks at a checkpoint and corrupts the secondary's
# memory; bookworm-backports' 10.0.2 never enters COLO (a state check that
# QEMU 10.0.7 fixes) and deadlocks too under TCG (the checkpoint saves the
# live state without the BQL).  scripts/qemu-patches/colo-tcg.patch fixes
# both, one commented hunk each; QEMU's source is Debian's orig tarball of
# bookworm-backports, downloaded here and never committed.
#
# Cache: $COLO_QEMU_CACHE (default /var/cache/colo-proxy)/qemu-KEY/, KEY
# being a hash of the tarball's SHA256, the patches and this script's build
# recipe, so
# that a fresh clone (CI) reuses a build and any change rebuilds.  Inside:
# bin/qemu-system-x86_64, fw -> the firmware directory for -L (seabios
# >= 1.16.3 and qemu-system-data 10.0.2 from bookworm-backports, ipxe-qemu;
# $COLO_QEMU_CACHE/firmware-KEY/) and env (shell lines QEMU=..., QEMU_FW=...).
#
# Build tools QEMU 10 needs and Debian 12 lacks: meson >= 1.5 (backports'
# 1.7, pure Python, unpacked with dpkg-deb -x and put on PYTHONPATH for
# this build only: Debian 12's meson stays the one the project builds
# with) and python3-pycotap (backports).  About 7 minutes on 2 cores.
#
# A failure prints one line "build-colo-qemu: <what failed>" on stderr and
# exits non-zero; the full logs stay in the cache's build-KEY/ directory.
set -eu

CACHE=${COLO_QEMU_CACHE:-/var/cache/colo-proxy}
HERE=$(cd "$(dirname "$0")" && pwd)
PATCHES="$HERE/qemu-patches/colo-tcg.patch $HERE/qemu-patches/no-edk2-blobs.patch"
SRC_PKG=qemu/bookworm-backports
BPO_LIST=/etc/apt/sources.list.d/colo-proxy-bookworm-backports.sources
DEPS="gcc make ninja-build pkg-config libglib2.0-dev zlib1g-dev flex bison libfdt-dev python3 python3-venv xz-utils"
BPO_DEPS="python3-pycotap"

die() { echo "build-colo-qemu: $*" >&2; exit 1; }
say() { echo "build-colo-qemu: $*"; }

mode=build
case "${1:-}" in
--print) mode=print ;;
--deps) mode=deps ;;
--stock) mode=stock ;;
"") ;;
*) die "unknown option $1 (see the header of $0)" ;;
esac

# The bookworm-backports entry (binary and source) that everything here
# needs.  Backports have apt's default priority 100: nothing installed is
# upgraded from them unless asked for by name.
have_backports() {
    apt-cache show meson/bookworm-backports >/dev/null 2>&1 &&
        apt-get source --print-uris -qq "$SRC_PKG" >/dev/null 2>&1
}

install_deps() {
    missing=
    for p in $DEPS $BPO_DEPS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    if [ -z "$missing" ] && have_backports; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "needs root to add bookworm-backports and install:$missing"
    if ! have_backports; then
        say "adding $BPO_LIST (deb and deb-src)"
        cat >"$BPO_LIST" <<EOF
# Added by colo-proxy's scripts/build-colo-qemu.sh: QEMU 10's source and
# build tools, seabios 1.16.3 (docs/qemu.md).
Types: deb deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        apt-get update -qq || die "apt-get update failed after adding bookworm-backports"
    fi
    plain= bpo=
    for p in $missing; do
        case " $BPO_DEPS " in *" $p "*) bpo="$bpo $p/bookworm-backports" ;; *) plain="$plain $p" ;; esac
    done
    if [ -n "$plain$bpo" ]; then
        say "installing:$plain$bpo"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $plain $bpo >/dev/null ||
            die "apt-get install of$plain$bpo failed"
    fi
}

# fetch_deb PKG/SUITE DIR: apt-get download one binary package into DIR
# and unpack it there (dpkg-deb -x: never installed).
fetch_deb() {
    (cd "$2" && apt-get download -qq "$1" >/dev/null 2>&1) || die "apt-get download $1 failed"
    name=${1%%/*}
    deb=$(ls "$2"/"${name}"_*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || die "apt-get download $1 left no .deb"
    dpkg-deb -x "$deb" "$2/root" || die "dpkg-deb -x $deb failed"
}

# The orig tarball, through apt's own URIs and downloader: the .dsc and the
# Debian tarball have answered 404 before while the orig tarball was
# there, and the orig tarball alone builds.  Sets TARBALL and TAR_SHA.
fetch_source() {
    mkdir -p "$CACHE/src"
    line=$(apt-get source --print-uris -qq "$SRC_PKG" 2>/dev/null | grep "\.orig\.tar\." | head -n1) ||
        true
    [ -n "$line" ] || die "apt-get source --print-uris $SRC_PKG found no orig tarball (deb-src for bookworm-backports? apt-get update?)"
    uri=$(echo "$line" | awk '{print $1}' | tr -d "'")
    file=$(echo "$line" | awk '{print $2}')
    hash=$(echo "$line" | awk '{print $4}')
    TARBALL=$CACHE/src/$file
    TAR_SHA=${hash#SHA256:}
    if [ -f "$TARBALL" ] && echo "$TAR_SHA  $TARBALL" | sha256sum -c --status; then
        return 0
    fi
    say "downloading $file"
    rm -f "$TARBALL"
    (cd "$CACHE/src" && /usr/lib/apt/apt-helper download-file "$uri" "$TARBALL" "$hash" >/dev/null 2>&1) ||
        die "download of $uri failed"
}

# The key: the tarball, the patches and the recipe of this script (the
# text of build(): what decides the result), so that editing the rest of
# the script (options, messages, firmware) keeps the cache.
cache_key() {
    { echo "$TAR_SHA"; cat $PATCHES; sed -n '/^build() {/,/^}/p' "$0"; } | sha256sum | cut -c1-16
}

print_result() {
    echo "$1/bin/qemu-system-x86_64"
    echo "-L $(readlink -f "$1/fw")"
}

# The firmware directory for -L: seabios >= 1.16.3 (Debian 12's 1.16.2 is
# older than QEMU 10 expects), the iPXE option ROMs of the NICs, and QEMU
# 10.0.2's own option ROMs (pvh.bin, linuxboot_dma.bin, kvmvapic.bin...:
# the +ds tarball builds none) from bookworm-backports' qemu-system-data,
# flattened into one directory and cached by the packages' versions.
# Sets FW.
FW_PKGS="seabios/bookworm-backports ipxe-qemu qemu-system-data/bookworm-backports"
firmware() {
    vers=
    for p in $FW_PKGS; do
        v=$(apt-cache show "$p" 2>/dev/null | awk '/^Version:/ {print $2; exit}')
        [ -n "$v" ] || die "no package $p (bookworm-backports in apt's sources? apt-get update?)"
        vers="$vers $p=$v"
    done
    FW=$CACHE/firmware-$(echo "$vers" | sha256sum | cut -c1-16)
    [ -f "$FW/.versions" ] && return 0
    say "unpacking firmware:$vers"
    tmp=$FW.tmp
    rm -rf "$tmp" && mkdir -p "$tmp/root" "$tmp/fw"
    for p in $FW_PKGS; do
        fetch_deb "$p" "$tmp"
    done
    cp -L "$tmp"/root/usr/share/qemu/*.bin "$tmp"/root/usr/share/qemu/*.rom "$tmp/fw/" 2>/dev/null || true
    cp -L "$tmp"/root/usr/share/seabios/* "$tmp/fw/" || die "seabios package has no usr/share/seabios"
    cp -L "$tmp"/root/usr/lib/ipxe/qemu/* "$tmp/fw/" || die "ipxe-qemu package has no usr/lib/ipxe/qemu"
    [ -f "$tmp/fw/pvh.bin" ] && [ -f "$tmp/fw/linuxboot_dma.bin" ] ||
        die "qemu-system-data has no pvh.bin or linuxboot_dma.bin"
    echo "$vers" >"$tmp/fw/.versions"
    rm -rf "$FW" && mv "$tmp/fw" "$FW" && rm -rf "$tmp"
}

# DIR/fw -> the firmware directory, and DIR/env for shells.
link_firmware() {
    firmware
    rm -rf "$1/fw"
    ln -s "$FW" "$1/fw"
    printf 'QEMU=%s\nQEMU_FW=%s\n' "$2" "$FW" >"$1/env"
}

build() {
    key=$1
    out=$CACHE/qemu-$key
    bdir=$CACHE/build-$key
    start=$(date +%s)
    rm -rf "$bdir" "$out.tmp"
    mkdir -p "$bdir/tools/root"
    say "unpacking $(basename "$TARBALL")"
    tar -C "$bdir" -xf "$TARBALL" || die "unpacking $TARBALL failed"
    srcdir=$(ls -d "$bdir"/qemu-*/ | head -n1)
    [ -n "$srcdir" ] || die "$TARBALL has no qemu-*/ directory"
    for p in $PATCHES; do
        say "applying $(basename "$p")"
        patch -d "$srcdir" -p1 -s <"$p" || die "$(basename "$p") does not apply to $(basename "$TARBALL")"
    done
    say "unpacking meson from bookworm-backports (for this build only)"
    fetch_deb meson/bookworm-backports "$bdir/tools"
    export PYTHONPATH="$bdir/tools/root/usr/lib/python3/dist-packages${PYTHONPATH:+:$PYTHONPATH}"
    export PATH="$bdir/tools/root/usr/bin:$PATH"
    mver=$(/usr/bin/python3 -c 'import mesonbuild.coredata as c; print(c.version)' 2>/dev/null) ||
        die "backports meson does not import from $bdir/tools"
    say "meson $mver; configuring (log: $bdir/configure.log)"
    mkdir -p "$bdir/build"
    (cd "$bdir/build" && "$srcdir/configure" --prefix="$out.tmp" \
        --python=/usr/bin/python3 \
        --target-list=x86_64-softmmu --without-default-features \
        --enable-tcg --enable-replication --enable-colo-proxy --enable-fdt=system \
        --disable-docs --disable-werror --disable-install-blobs) \
        >"$bdir/configure.log" 2>&1 || die "QEMU configure failed: $(tail -n1 "$bdir/configure.log")"
    steps=$(ninja -C "$bdir/build" -n 2>/dev/null | grep -c "^\[" || true)
    say "building $steps ninja steps on $(nproc) cores (log: $bdir/build.log)"
    # Progress: one line every 100 steps from ninja's [N/M] counter.
    (cd "$bdir/build" && nice make -j"$(nproc)" 2>&1) | tee "$bdir/build.log" |
        awk '/^\[[0-9]+\/[0-9]+\]/ { split(substr($1, 2), a, "/"); n = a[1] + 0;
                 if (n - last >= 100 || n == a[2] + 0) { last = n; printf "build-colo-qemu: %s\n", $1; fflush() } }'
    grep -q "^ninja: build stopped\|Error [0-9]" "$bdir/build.log" &&
        die "QEMU build failed: $(grep -m1 "error:\|FAILED" "$bdir/build.log")"
    [ -x "$bdir/build/qemu-system-x86_64" ] || die "QEMU build failed: no qemu-system-x86_64 (see $bdir/build.log)"
    (cd "$bdir/build" && make install >"$bdir/install.log" 2>&1) || die "QEMU install failed (see $bdir/install.log)"
    "$out.tmp/bin/qemu-system-x86_64" -version >/dev/null || die "built QEMU does not run"
    # The installed tree knows its prefix as $out.tmp; QEMU finds its data
    # relative to the binary, so the move is harmless.
    rm -rf "$out" && mv "$out.tmp" "$out"
    echo "$(($(date +%s) - start))" >"$out/build-seconds"
    rm -rf "$bdir"
    say "built in $(($(date +%s) - start)) s into $out"
}

stock() {
    # The stock backports binary, unpacked: runs everything but COLO.
    dir=$CACHE/qemu10-stock
    ver=$(apt-cache show qemu-system-x86/bookworm-backports 2>/dev/null | awk '/^Version:/ {print $2; exit}')
    [ -n "$ver" ] || die "no qemu-system-x86 in bookworm-backports (apt-get update?)"
    if [ "$(cat "$dir/version" 2>/dev/null)" != "$ver" ]; then
        say "unpacking stock qemu-system-x86 $ver from bookworm-backports"
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/root"
        for p in qemu-system-x86 qemu-system-common qemu-system-data; do
            fetch_deb "$p/bookworm-backports" "$dir.tmp"
        done
        rm -f "$dir.tmp"/*.deb
        echo "$ver" >"$dir.tmp/version"
        rm -rf "$dir" && mv "$dir.tmp" "$dir"
    fi
    bin=$dir/root/usr/bin/qemu-system-x86_64
    [ -f "$dir/fw/.versions" ] || link_firmware "$dir" "$bin"
    QEMU_MODULE_DIR=$dir/root/usr/lib/x86_64-linux-gnu/qemu "$bin" -L "$dir/fw" -version >/dev/null 2>&1 ||
        die "stock $bin does not run (missing libraries? ldd it)"
    echo "$bin"
    echo "-L $(readlink -f "$dir/fw")"
    echo "QEMU_MODULE_DIR=$dir/root/usr/lib/x86_64-linux-gnu/qemu"
}

if [ "$mode" = deps ]; then
    install_deps
    exit 0
fi

if [ "$mode" = print ]; then
    # No network, no apt: the key from the cached tarball alone.
    TARBALL=$(ls "$CACHE"/src/qemu_*.orig.tar.* 2>/dev/null | head -n1) || true
    [ -n "$TARBALL" ] || die "no QEMU source in $CACHE/src: run scripts/build-colo-qemu.sh (about 7 min)"
    TAR_SHA=$(sha256sum "$TARBALL" | cut -d' ' -f1)
    out=$CACHE/qemu-$(cache_key)
    [ -x "$out/bin/qemu-system-x86_64" ] && [ -f "$out/fw/.versions" ] ||
        die "no COLO QEMU at $out: run scripts/build-colo-qemu.sh (about 7 min)"
    print_result "$out"
    exit 0
fi

install_deps
mkdir -p "$CACHE"
# One build at a time (two tests may ask at once); the second waits and
# then finds the first's result.
exec 9>"$CACHE/.build-lock"
flock 9
if [ "$mode" = stock ]; then
    stock
    exit 0
fi
fetch_source
key=$(cache_key)
out=$CACHE/qemu-$key
if [ ! -x "$out/bin/qemu-system-x86_64" ]; then
    say "no cached build for key $key: building QEMU $(basename "$TARBALL") + $(echo $PATCHES | wc -w) patches"
    build "$key"
fi
[ -f "$out/fw/.versions" ] || link_firmware "$out" "$out/bin/qemu-system-x86_64"
print_result "$out"
