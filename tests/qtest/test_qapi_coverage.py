#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""test_qapi_coverage - the QAPI schema and the C sources agree.

  - every QMP handler defined in C, 'gboolean qmp_NAME(JsonObject *,
    JsonNode **, GError **) {', is a command of the schema (a handler the
    schema does not declare is unreachable: nobody can call it);
  - every command of the schema has exactly one such definition (the
    linked-binary form of this check is tests/unit/test-qapi-complete.c);
  - every event emitted with a literal name, qmp_event_emit("NAME", ...),
    is declared in the schema;
  - docs/qmp-reference.md is the reference generated from qapi/ (the build's
    qapi/qmp-reference.md): run 'make docs' after changing the schema;
  - scripts/qapi-gen.py rejects bad schemas with FILE:LINE messages
    (unknown type, missing or mismatched doc block, duplicate definition,
    undocumented or absent member, unknown key, syntax error).

The schema is read by running scripts/qapi-gen.py into a temporary
directory, so this test sees the source tree as it is now.
Environment: COLO_SOURCE_DIR, COLO_BUILD_DIR (set by meson).
"""

import difflib
import json
import os
import re
import subprocess
import sys

from coloqtest import (check, log, run_tests, source_dir, build_dir, tmpdir,
                       TestFailure)

HANDLER_RE = re.compile(
    r'^gboolean\s+qmp_(\w+)\s*\(\s*JsonObject\s*\*\s*\w+\s*,'
    r'\s*JsonNode\s*\*\*\s*\w+\s*,\s*GError\s*\*\*\s*\w+\s*\)\s*\{',
    re.M)
EMIT_RE = re.compile(r'\bqmp_event_emit\s*\(\s*"([^"]+)"')

# Directories of the program (tests, benches and build trees are not).
SKIP_DIRS = {'tests', 'bench', 'docs', 'scripts', '.git', 'subprojects'}


def c_name(name):
    return re.sub(r'[^A-Za-z0-9_]', '_', name)


def source_files():
    root = source_dir()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == '.':
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and
                           not d.startswith('build') and
                           not os.path.exists(os.path.join(
                               dirpath, d, 'meson-private'))]
        for f in filenames:
            if f.endswith('.c'):
                yield os.path.join(dirpath, f)


def strip_comments(text):
    return re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'),
                  text, flags=re.S)


_schema = None


def schema():
    """(introspection list, generated reference text) from the source."""
    global _schema
    if _schema is None:
        out = tmpdir('cqapi')
        r = subprocess.run(
            [sys.executable,
             os.path.join(source_dir(), 'scripts', 'qapi-gen.py'),
             '--schema', os.path.join(source_dir(), 'qapi',
                                      'qapi-schema.json'),
             '--output-dir', out],
            capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f'qapi-gen.py failed:\n{r.stderr}')
        with open(os.path.join(out, 'qapi-introspect.json')) as f:
            intro = json.load(f)
        with open(os.path.join(out, 'qmp-reference.md')) as f:
            ref = f.read()
        _schema = (intro, ref)
    return _schema


def handlers():
    """c name -> [file:line] of every handler definition."""
    found = {}
    for path in source_files():
        with open(path, encoding='utf-8', errors='replace') as f:
            text = strip_comments(f.read())
        for m in HANDLER_RE.finditer(text):
            line = text.count('\n', 0, m.start()) + 1
            rel = os.path.relpath(path, source_dir())
            found.setdefault(m.group(1), []).append(f'{rel}:{line}')
    return found


def test_handlers_declared():
    intro, _ = schema()
    cmds = {c_name(e['name']) for e in intro if e['meta-type'] == 'command'}
    defs = handlers()
    check(defs, 'no QMP handler found at all: is the pattern out of date?')
    stray = sorted(f'qmp_{n} ({", ".join(w)})' for n, w in defs.items()
                   if n not in cmds)
    check(not stray, 'QMP handlers without a schema command (declare them '
          'in qapi/<module>.json): ' + '; '.join(stray))
    log(f'{len(defs)} handlers, all declared')


def test_commands_implemented():
    intro, _ = schema()
    defs = handlers()
    missing, twice = [], []
    for e in intro:
        if e['meta-type'] != 'command':
            continue
        where = defs.get(c_name(e['name']), [])
        if not where:
            missing.append(e['name'])
        elif len(where) > 1:
            twice.append(f'{e["name"]} ({", ".join(where)})')
    check(not missing, 'schema commands without a handler: ' +
          ', '.join(missing))
    check(not twice, 'commands defined twice: ' + '; '.join(twice))


def test_events_declared():
    intro, _ = schema()
    events = {e['name'] for e in intro if e['meta-type'] == 'event'}
    undeclared = []
    for path in source_files():
        with open(path, encoding='utf-8', errors='replace') as f:
            text = strip_comments(f.read())
        for m in EMIT_RE.finditer(text):
            if m.group(1) not in events:
                line = text.count('\n', 0, m.start()) + 1
                undeclared.append(f'{m.group(1)} '
                                  f'({os.path.relpath(path, source_dir())}'
                                  f':{line})')
    check(not undeclared, 'events emitted but not declared in qapi/: ' +
          ', '.join(undeclared))


def test_reference_current():
    _, ref = schema()
    built = os.path.join(build_dir(), 'qapi', 'qmp-reference.md')
    docs = os.path.join(source_dir(), 'docs', 'qmp-reference.md')
    if os.path.exists(built):
        with open(built) as f:
            check(f.read() == ref, f'{built} is stale: rebuild')
    check(os.path.exists(docs), 'docs/qmp-reference.md is missing: run '
          '"make docs"')
    with open(docs) as f:
        have = f.read()
    if have != ref:
        diff = ''.join(list(difflib.unified_diff(
            have.splitlines(True), ref.splitlines(True),
            'docs/qmp-reference.md', 'generated'))[:60])
        raise TestFailure('docs/qmp-reference.md differs from the schema '
                          '(run "make docs" and commit it):\n' + diff)


GOOD_DOC = """##
# @foo:
#
# Does foo.
#
# @x: an x
##
"""

# (module text, expected "FILE:LINE: message" fragment)
BAD_SCHEMAS = [
    (GOOD_DOC + "{ 'command': 'foo', 'data': { 'x': 'Bar' } }\n",
     "qapi/mod.json:8: command 'foo' member 'x' uses unknown type 'Bar'"),
    ("{ 'command': 'foo' }\n",
     "qapi/mod.json:1: command 'foo' lacks its documentation comment"),
    (GOOD_DOC + "{ 'command': 'foo', 'data': { 'x': 'str' } }\n" +
     GOOD_DOC + "{ 'command': 'foo', 'data': { 'x': 'str' } }\n",
     "qapi/mod.json:16: 'foo' is already defined at qapi/mod.json:8"),
    (GOOD_DOC + "{ 'command': 'foo' }\n",
     "qapi/mod.json:6: command 'foo' has no member 'x'"),
    (GOOD_DOC.replace('# @x: an x\n', '') +
     "{ 'command': 'foo', 'data': { 'x': 'str' } }\n",
     "documentation of command 'foo' lacks '@x:'"),
    (GOOD_DOC.replace('@foo:', '@bar:') + "{ 'command': 'foo' }\n",
     "documentation comment is for 'bar', but the definition after it is "
     "'foo'"),
    (GOOD_DOC + "{ 'command': 'foo', 'dat': {} }\n",
     "qapi/mod.json:8: command 'foo': unknown key 'dat'"),
    (GOOD_DOC + "{ 'command': 'foo', 'data': { 'x': 'str' }\n",
     "qapi/mod.json:"),
]


def test_generator_errors():
    gen = os.path.join(source_dir(), 'scripts', 'qapi-gen.py')
    for text, want in BAD_SCHEMAS:
        d = tmpdir('cqgen')
        os.mkdir(os.path.join(d, 'qapi'))
        with open(os.path.join(d, 'qapi', 'qapi-schema.json'), 'w') as f:
            f.write("{ 'include': 'mod.json' }\n")
        with open(os.path.join(d, 'qapi', 'mod.json'), 'w') as f:
            f.write(text)
        r = subprocess.run([sys.executable, gen, '--schema',
                            os.path.join(d, 'qapi', 'qapi-schema.json'),
                            '--output-dir', os.path.join(d, 'out')],
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 1, f'generator accepted a bad schema '
              f'(want {want!r}):\n{text}')
        check(want in r.stderr, f'generator said {r.stderr!r}, want '
              f'{want!r}')
        check(not os.path.exists(os.path.join(d, 'out')),
              'output written for a bad schema')


if __name__ == '__main__':
    run_tests([test_handlers_declared, test_commands_implemented,
               test_events_declared, test_reference_current,
               test_generator_errors])
