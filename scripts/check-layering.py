#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""scripts/check-layering.py - the layering rules, stated once and checked.

    python3 scripts/check-layering.py SOURCE_DIR [BUILD_DIR]

The folders of colo-proxy are layers; a layer uses only itself and the
layers below it (LAYERS, lowest first).  docs/devel/architecture.md draws
the same picture and points here.  Checked, each failure printed as one
line naming the file (and symbol) that breaks the rule:

  1. includes: every '#include "..."' of a source file or of a public
     header (include/LAYER/) names a header of its own layer or of a lower
     one.  'config-host.h' is the build's; 'qapi-commands.h' is generated
     from the schema and includes only util/ (so every layer may use it).
  2. pure engines: the packet library (colo-pkt: its sources as meson
     builds them with BUILD_DIR, else PKT_FILES) includes only the C
     library, GLib, util/ and the headers of colo-pkt's own sources
     (net/X.c -> net/X.h): no GObject, no I/O, no chardev, no net core.
  3. no weak symbols outside tests/ (a missing piece is a link error, not a
     silent no-op): no weak pragma, no weak attribute.
  4. with BUILD_DIR (after a build):
     a. every static library builds files of its own folder only, and no
        source is built into two libraries (meson-info/intro-targets.json);
     b. links: a symbol a library uses and another project library
        defines (nm) is defined in the same layer or a lower one.
  5. every source file carries an SPDX line (issue #16): C, headers,
     Python, shell, meson, make, configure, the QAPI schema and any script
     with a '#!' line name their licence on their first line, or on the
     second after a '#!' or '-*-' line, as
     'SPDX-License-Identifier: GPL-2.0-or-later' (COPYING) in the file's
     comment syntax.  The tree is walked, not git's index, so a new file
     fails before it is committed; build trees, caches, fuzz corpora and
     test data are not sources.

Exit status 0 when every rule holds, 1 otherwise.
"""
import json
import os
import re
import subprocess
import sys

# The allowed graph: each layer may depend on the ones before it.
LAYERS = ['util', 'qom', 'chardev', 'net', 'colo', 'monitor', 'system']
RANK = {name: i for i, name in enumerate(LAYERS)}

# Static library name (meson) -> layer.
LIBRARIES = {
    'colo-util': 'util', 'colo-qom': 'qom', 'colo-chardev': 'chardev',
    'colo-pkt': 'net', 'colo-net': 'net', 'colo-frame': 'colo',
    'colo-monitor': 'monitor',
}

# The pure packet library when no build is given (net/meson.build's
# pkt_files is the authority).
PKT_FILES = ['net/packet.c', 'net/checksum.c', 'net/conntrack.c',
             'net/compare-engine.c', 'net/rewriter-engine.c', 'net/link-framing.c']
PKT_SYSTEM_OK = re.compile(r'^(glib\.h|[a-z0-9_/]+\.h)$')
PKT_SYSTEM_BAD = {'glib-object.h', 'gio/gio.h', 'json-glib/json-glib.h'}

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
WEAK_RE = re.compile(r'#\s*pragma\s+weak|__attribute__\s*\(\(\s*weak')
BUILD_ONLY = {'config-host.h'}

SPDX_RE = re.compile(r'SPDX-License-Identifier: [A-Za-z0-9.+-]+')
SPDX_EXAMPLE = 'SPDX-License-Identifier: GPL-2.0-or-later'
SPDX_NAMES = {'meson.build', 'meson_options.txt', 'Makefile', 'configure'}
SPDX_EXTS = ('.c', '.h', '.py', '.sh')
# Not sources: generated or downloaded trees (.gitignore) and data.
SPDX_SKIP_DIRS = {'.git', '__pycache__', 'tests/vm/cache',
                  'tests/fuzz/artifacts', 'tests/fuzz/corpus', 'tests/data'}
ANY_LAYER = {'qapi-commands.h'}


def layer_of_path(rel):
    """The layer a source path (relative to the tree) belongs to."""
    parts = rel.split('/')
    if parts[0] == 'include' and len(parts) > 2:
        return parts[1]
    return parts[0] if parts[0] in RANK else None


def sources(src):
    for top in LAYERS + ['include']:
        for dirpath, _, names in os.walk(os.path.join(src, top)):
            for n in sorted(names):
                if n.endswith(('.c', '.h')):
                    yield os.path.relpath(os.path.join(dirpath, n), src)


def included_layer(rel, name):
    """The layer of header 'name' as included from file 'rel', or None."""
    if name in BUILD_ONLY or name in ANY_LAYER:
        return None
    first = name.split('/')[0]
    if '/' in name and first in RANK:
        return first
    # "colo-internal.h": beside the including file
    return layer_of_path(rel)


def check_includes(src, errors, pkt_files):
    pkt_headers = {f[:-2] + '.h' for f in pkt_files}
    for rel in sources(src):
        own = layer_of_path(rel)
        if own is None:
            continue
        with open(os.path.join(src, rel), errors='replace') as f:
            text = f.read()
        for lineno, line in enumerate(text.splitlines(), 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            kind, name = m.groups()
            if rel in pkt_files:
                if kind == '"' and name not in pkt_headers \
                        and not name.startswith('util/'):
                    errors.append('%s:%d: pure engine includes "%s" '
                                  '(allowed: %s, util/)' % (
                                      rel, lineno, name,
                                      ', '.join(sorted(pkt_headers))))
                if kind == '<' and (name in PKT_SYSTEM_BAD
                                    or not PKT_SYSTEM_OK.match(name)):
                    errors.append('%s:%d: pure engine includes <%s>'
                                  % (rel, lineno, name))
            if kind != '"':
                continue
            dep = included_layer(rel, name)
            if dep is None or dep not in RANK:
                continue
            if RANK[dep] > RANK[own]:
                errors.append('%s:%d: %s includes "%s" from %s/, a higher '
                              'layer' % (rel, lineno, own, name, dep))


def check_weak(src, errors):
    for rel in sources(src):
        with open(os.path.join(src, rel), errors='replace') as f:
            for lineno, line in enumerate(f, 1):
                if WEAK_RE.search(line):
                    errors.append('%s:%d: weak symbol' % (rel, lineno))
    gen = os.path.join(src, 'scripts', 'qapi-gen.py')
    with open(gen) as f:
        for lineno, line in enumerate(f, 1):
            if WEAK_RE.search(line):
                errors.append('scripts/qapi-gen.py:%d: generates a weak '
                              'symbol' % lineno)


def spdx_sources(src):
    """Every file rule 5 applies to, relative to the tree."""
    for dirpath, dirs, names in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        rel_dir = '' if rel_dir == '.' else rel_dir + '/'
        # A build directory (build/, build-asan/, or any other holding
        # meson-info/) is generated: not walked.
        dirs[:] = sorted(d for d in dirs
                         if rel_dir + d not in SPDX_SKIP_DIRS
                         and d not in SPDX_SKIP_DIRS
                         and not (rel_dir == '' and d.startswith('build'))
                         and not os.path.isdir(os.path.join(dirpath, d,
                                                            'meson-info')))
        for n in sorted(names):
            rel = rel_dir + n
            path = os.path.join(dirpath, n)
            if n.endswith(SPDX_EXTS) or n in SPDX_NAMES or \
                    (rel.startswith('qapi/') and n.endswith('.json')):
                yield rel, path
                continue
            try:
                with open(path, 'rb') as f:
                    if f.read(2) == b'#!':
                        yield rel, path
            except OSError:
                continue


def check_spdx(src, errors):
    for rel, path in spdx_sources(src):
        with open(path, errors='replace') as f:
            head = [f.readline() for _ in range(2)]
        where = 1 if head[0].startswith('#!') or '-*-' in head[0] else 0
        if not SPDX_RE.search(head[where]):
            errors.append('%s:%d: no SPDX line (add "%s" in the file\'s '
                          'comment syntax)' % (rel, where + 1, SPDX_EXAMPLE))


def check_targets(src, build, errors):
    with open(os.path.join(build, 'meson-info', 'intro-targets.json')) as f:
        targets = json.load(f)
    seen = {}
    libs = {}
    pkt = []
    src = os.path.realpath(src)
    for t in targets:
        if t['type'] != 'static library' or t['name'] not in LIBRARIES:
            continue
        layer = LIBRARIES[t['name']]
        libs[t['name']] = t['filename'][0]
        for group in t['target_sources']:
            for path in group.get('sources', []):
                rel = os.path.relpath(os.path.realpath(path), src)
                if rel.startswith('..'):
                    continue            # generated (build/qapi/...)
                if t['name'] == 'colo-pkt':
                    pkt.append(rel)
                if rel.split('/')[0] != layer:
                    errors.append('%s: built into %s, a library of %s/'
                                  % (rel, t['name'], layer))
                if rel in seen:
                    errors.append('%s: built into both %s and %s'
                                  % (rel, seen[rel], t['name']))
                seen[rel] = t['name']
    missing = set(LIBRARIES) - set(libs)
    if missing:
        errors.append('libraries not found in the build: %s'
                      % ', '.join(sorted(missing)))
    return libs, pkt


def nm(path, *flags):
    out = subprocess.run(['nm', '-P', '--no-sort'] + list(flags) + [path],
                         check=True, capture_output=True, text=True).stdout
    return out.splitlines()


def check_links(libs, errors):
    defined = {}        # symbol -> library
    undefined = {}      # library -> {symbol: member}
    for name, path in libs.items():
        if name == 'colo-pkt':
            continue    # linked whole into colo-net: its symbols are there
        undefined[name] = {}
        member = '?'
        for line in nm(path, '-A'):
            # "lib.a[member.o]: sym T value size"
            head, _, rest = line.partition(': ')
            fields = rest.split()
            if len(fields) < 2:
                continue
            m = re.search(r'\[(.*)\]$', head)
            member = m.group(1) if m else member
            sym, kind = fields[0], fields[1]
            if kind == 'U':
                undefined[name].setdefault(sym, member)
            elif kind in 'TDBRVWCG' and kind.isupper():
                defined.setdefault(sym, name)
    for name, syms in undefined.items():
        own = RANK[LIBRARIES[name]]
        for sym, member in sorted(syms.items()):
            owner = defined.get(sym)
            if owner is None or owner == name:
                continue
            if RANK[LIBRARIES[owner]] > own:
                errors.append('%s (%s) uses %s from %s, a higher layer'
                              % (member, name, sym, owner))


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    src = argv[1]
    build = argv[2] if len(argv) > 2 else None
    errors = []
    pkt_files = PKT_FILES
    libs = None
    if build:
        libs, pkt_files = check_targets(src, build, errors)
    check_includes(src, errors, pkt_files)
    check_weak(src, errors)
    check_spdx(src, errors)
    if libs is not None:
        check_links(libs, errors)
    for e in errors:
        print(e)
    print('layering (%s): %s' % (' < '.join(LAYERS),
                                 'FAILED, %d violations' % len(errors)
                                 if errors else 'ok'))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
