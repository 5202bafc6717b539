#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# scripts/qapi-gen.py - the QAPI schema compiler of colo-proxy.
#
# Reads qapi/qapi-schema.json and every other qapi/*.json beside it (globbed
# and sorted, so a module needs no include line: 'include' expressions are
# accepted and ignored), checks the schema and writes into --output-dir:
#
#   qapi-commands.h       handler prototypes (the layout types of the argument
#                         tables are in monitor/qmp-internal.h)
#   qapi-commands.c       qmp_commands[] (handlers are WEAK references: a
#                         command nobody implements links, with fn == NULL,
#                         and tests/unit/test-qapi-complete.c catches it),
#                         qmp_event_names[], qmp_command_info[] and the
#                         introspection text for query-qmp-schema
#   qmp-reference.md      the QMP reference (copied to docs/ by 'make docs')
#   qapi-introspect.json  the same introspection list, for tests and tools
#
# The language is QEMU's QAPI schema language (docs/devel/qapi-code-gen in
# QEMU): Python-literal-like expressions with single-quoted strings, '#'
# comments and '##' documentation blocks:
#
#   ##
#   # @query-version:
#   #
#   # Free text.
#   #
#   # @arg: member text (continuation lines indented)
#   #
#   # Returns: text          (sections: Returns, Errors, Since, Note(s),
#   #                         Example(s), Features, TODO, See also)
#   ##
#   { 'command': 'query-version', 'returns': 'VersionInfo' }
#
# Expressions: command (data, returns, boxed, gen, allow-oob,
# allow-preconfig, success-response, coroutine, features, if), event (data,
# boxed, features, if), struct (data, base, features, if), enum (data,
# prefix, features, if), union (base, discriminator, data, features, if),
# alternate (data, features, if), include, pragma.  'if' conditions are
# accepted and ignored (everything is built).
#
# A command has an open argument set (extra members are passed to the
# handler unchecked) when it says 'gen': false, 'boxed': true with a union
# as 'data', or 'features': [ 'open-args' ].
#
# Errors (FILE:LINE: message, exit status 1): syntax errors, unknown keys,
# duplicate definitions, a definition without its doc block, a doc block
# naming another definition, an undocumented or a documented-but-absent
# member, unknown type names.
#
# Python 3 standard library only.  The output is deterministic (sorted),
# so the reference in docs/ can be compared byte for byte with the build's.

import argparse
import glob
import json
import os
import re
import sys

BUILTIN_TYPES = {
    'str': 'string', 'int': 'integer', 'int8': 'integer',
    'int16': 'integer', 'int32': 'integer', 'int64': 'integer',
    'uint8': 'integer', 'uint16': 'integer', 'uint32': 'integer',
    'uint64': 'integer', 'size': 'integer', 'number': 'number',
    'bool': 'boolean', 'null': 'null', 'any': 'any', 'QType': 'string',
}

INT_RANGES = {
    'int': ('G_MININT64', 'G_MAXINT64'),
    'int64': ('G_MININT64', 'G_MAXINT64'),
    'int8': ('G_MININT8', 'G_MAXINT8'),
    'int16': ('G_MININT16', 'G_MAXINT16'),
    'int32': ('G_MININT32', 'G_MAXINT32'),
    'uint8': ('0', 'G_MAXUINT8'),
    'uint16': ('0', 'G_MAXUINT16'),
    'uint32': ('0', 'G_MAXUINT32'),
    'uint64': ('0', 'G_MAXINT64'),
    'size': ('0', 'G_MAXINT64'),
}

DOC_SECTIONS = {
    'returns': 'Returns', 'errors': 'Errors', 'since': 'Since',
    'note': 'Note', 'notes': 'Notes', 'example': 'Example',
    'examples': 'Examples', 'todo': 'TODO', 'see also': 'See also',
    'features': 'Features',
}

META_KEYS = {
    'command': {'data', 'returns', 'boxed', 'gen', 'allow-oob',
                'allow-preconfig', 'success-response', 'coroutine',
                'features', 'if'},
    'event': {'data', 'boxed', 'features', 'if'},
    'struct': {'data', 'base', 'features', 'if'},
    'enum': {'data', 'prefix', 'features', 'if'},
    'union': {'base', 'discriminator', 'data', 'features', 'if'},
    'alternate': {'data', 'features', 'if'},
    'include': set(),
    'pragma': set(),
}

DEFINITIONS = ('command', 'event', 'struct', 'enum', 'union', 'alternate')


class QAPIError(Exception):
    def __init__(self, info, msg):
        super().__init__('%s:%d: %s' % (info[0], info[1], msg))


# --------------------------------------------------------------------------
# Lexer and parser

class Doc:
    """One '##' block: a definition's documentation or free text."""

    def __init__(self, info, lines):
        self.info = info
        self.symbol = None
        self.body = []          # description lines
        self.args = {}          # member name -> [lines]
        self.arg_info = {}      # member name -> (file, line)
        self.features = {}      # feature name -> [lines]
        self.sections = []      # (title, [lines])
        self.used = False
        self._parse(lines)

    def _parse(self, lines):
        if lines and re.match(r'^@([^:\s]+):\s*$', lines[0][1].strip()) \
                and lines[0][1].startswith('@'):
            self.symbol = lines[0][1].strip()[1:-1]
            lines = lines[1:]
        target = self.body
        in_features = False
        for lineno, text in lines:
            stripped = text.strip()
            m = re.match(r'^@([^:\s]+):(.*)$', text)
            sec = re.match(r'^([A-Za-z][A-Za-z ]*):(.*)$', text)
            if self.symbol and m:
                name, rest = m.group(1), m.group(2).strip()
                table = self.features if in_features else self.args
                if name in table:
                    raise QAPIError((self.info[0], lineno),
                                    "'@%s:' documented twice" % name)
                table[name] = [rest] if rest else []
                self.arg_info[name] = (self.info[0], lineno)
                target = table[name]
            elif self.symbol and sec and sec.group(1).lower() in DOC_SECTIONS:
                title = DOC_SECTIONS[sec.group(1).lower()]
                in_features = title == 'Features'
                rest = sec.group(2).strip()
                if in_features:
                    target = []
                    continue
                target = [rest] if rest else []
                self.sections.append((title, target))
            elif self.symbol and stripped.startswith('.. qmp-example::'):
                target = []
                self.sections.append(('Example', target))
            else:
                if target is not self.body and target is not None and \
                        not stripped and self._is_member(target):
                    # A blank line ends a member description.
                    target = self.body
                    continue
                target.append(text)

    def _is_member(self, target):
        return any(target is v for v in self.args.values()) or \
            any(target is v for v in self.features.values())


class Parser:
    """Reads one schema file into a list of (expr, info, doc)."""

    def __init__(self, fname, text):
        self.fname = fname
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.exprs = []
        self.free_docs = []
        self.pending = []
        self.tok = None
        self.val = None
        self.tok_line = 1
        self._next()
        while self.tok is not None:
            info = (self.fname, self.tok_line)
            if self.tok == '#':
                self.pending.append(self.val)
                self._next()
                continue
            expr = self._value()
            if not isinstance(expr, dict):
                raise QAPIError(info, 'top-level expression must be an object')
            self._attach(expr, info)
        for doc in self.pending:
            self._flush_doc(doc)

    def _flush_doc(self, doc):
        if doc.symbol:
            raise QAPIError(doc.info, "documentation for '%s' is not "
                            "followed by its definition" % doc.symbol)
        self.free_docs.append(doc)

    def _attach(self, expr, info):
        doc = None
        if self.pending and self.pending[-1].symbol:
            doc = self.pending.pop()
        for d in self.pending:
            self._flush_doc(d)
        self.pending = []
        self.exprs.append((expr, info, doc))

    def _error(self, msg):
        raise QAPIError((self.fname, self.line), msg)

    def _next(self):
        text = self.text
        while True:
            if self.pos >= len(text):
                self.tok = None
                return
            c = text[self.pos]
            self.tok_line = self.line
            if c == '#':
                at_bol = text[self.line_start:self.pos].strip() == ''
                eol = text.find('\n', self.pos)
                if eol < 0:
                    eol = len(text)
                if at_bol and text[self.pos:eol].rstrip() == '##':
                    self.tok = '#'
                    self.val = self._doc_block()
                    return
                if at_bol and text[self.pos:eol].startswith('##') and \
                        text[self.pos:eol].strip('#').strip():
                    self._error("junk after '##' at start of a "
                                "documentation comment")
                self.pos = eol
                continue
            if c == '\n':
                self.pos += 1
                self.line += 1
                self.line_start = self.pos
                continue
            if c in ' \t\r':
                self.pos += 1
                continue
            if c in '{}[],:':
                self.tok = c
                self.pos += 1
                return
            if c == "'":
                self.tok = "'"
                self.val = self._string()
                return
            for word, val in (('true', True), ('false', False)):
                if text.startswith(word, self.pos):
                    self.tok = 'b'
                    self.val = val
                    self.pos += len(word)
                    return
            self._error("stray '%s'" % c)

    def _string(self):
        out = []
        self.pos += 1
        esc = {'\\': '\\', "'": "'", '"': '"', '/': '/', 'b': '\b',
               'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}
        while True:
            if self.pos >= len(self.text) or self.text[self.pos] == '\n':
                self._error('missing terminating "\'"')
            c = self.text[self.pos]
            self.pos += 1
            if c == "'":
                return ''.join(out)
            if c == '\\':
                e = self.text[self.pos:self.pos + 1]
                if e not in esc:
                    self._error("unknown escape \\%s" % e)
                out.append(esc[e])
                self.pos += 1
            else:
                out.append(c)

    def _doc_block(self):
        start = self.line
        eol = self.text.find('\n', self.pos)
        self.pos = len(self.text) if eol < 0 else eol
        lines = []
        while True:
            if self.pos >= len(self.text):
                raise QAPIError((self.fname, start),
                                "documentation comment must end with '##'")
            self.pos += 1       # the newline
            self.line += 1
            self.line_start = self.pos
            eol = self.text.find('\n', self.pos)
            if eol < 0:
                eol = len(self.text)
            raw = self.text[self.pos:eol]
            s = raw.strip()
            if s == '##':
                self.pos = eol
                break
            if not s.startswith('#'):
                raise QAPIError((self.fname, self.line),
                                "documentation comment must end with '##'")
            body = s[1:]
            if body.startswith(' '):
                body = body[1:]
            elif body:
                raise QAPIError((self.fname, self.line),
                                "missing space after '#' in a "
                                "documentation comment")
            lines.append((self.line, body.rstrip()))
            self.pos = eol
        return Doc((self.fname, start), lines)

    def _expect(self, tok):
        if self.tok != tok:
            self._error("expected '%s'" % tok)
        self._next()

    def _value(self):
        tok = self.tok
        if tok == '{':
            self._next()
            d = {}
            if self.tok == '}':
                self._next()
                return d
            while True:
                if self.tok != "'":
                    self._error('expected a string key')
                key = self.val
                self._next()
                self._expect(':')
                if key in d:
                    self._error("duplicate key '%s'" % key)
                d[key] = self._value()
                if self.tok == '}':
                    self._next()
                    return d
                self._expect(',')
        if tok == '[':
            self._next()
            lst = []
            if self.tok == ']':
                self._next()
                return lst
            while True:
                lst.append(self._value())
                if self.tok == ']':
                    self._next()
                    return lst
                self._expect(',')
        if tok in ("'", 'b'):
            v = self.val
            self._next()
            return v
        if tok is None:
            self._error('unexpected end of file')
        self._error("expected a value, got '%s'" % tok)


# --------------------------------------------------------------------------
# Schema model

class Member:
    def __init__(self, name, typ, optional, info, features=()):
        self.name = name
        self.type = typ             # 'str' or ['str'] for a list
        self.optional = optional
        self.info = info
        self.features = list(features)

    def type_name(self):
        return self.type[0] if isinstance(self.type, list) else self.type

    def is_list(self):
        return isinstance(self.type, list)


class Entity:
    def __init__(self, meta, name, expr, info, doc, module):
        self.meta = meta
        self.name = name
        self.expr = expr
        self.info = info
        self.doc = doc
        self.module = module
        self.members = []           # inline members (data / inline base)
        self.values = []            # enum values
        self.variants = []          # (case, type name)
        self.features = []
        self.base = None            # struct / union: base type name
        self.data_type = None       # command / event: data given by name
        self.returns = None


def features_of(expr, info, what):
    out = []
    for f in expr.get('features', []):
        if isinstance(f, dict):
            if 'name' not in f:
                raise QAPIError(info, "%s: feature lacks 'name'" % what)
            f = f['name']
        if not isinstance(f, str):
            raise QAPIError(info, '%s: feature must be a string' % what)
        out.append(f)
    return out


def members_of(data, info, what):
    if not isinstance(data, dict):
        raise QAPIError(info, '%s: members must be an object' % what)
    out = []
    for key, typ in data.items():
        feats = []
        if isinstance(typ, dict):
            if 'type' not in typ:
                raise QAPIError(info, "%s: member '%s' lacks 'type'"
                                % (what, key))
            feats = features_of(typ, info, what)
            typ = typ['type']
        if isinstance(typ, list):
            if len(typ) != 1 or not isinstance(typ[0], str):
                raise QAPIError(info, "%s: member '%s': a list type must "
                                "name exactly one type" % (what, key))
        elif not isinstance(typ, str):
            raise QAPIError(info, "%s: member '%s' has a bad type"
                            % (what, key))
        optional = key.startswith('*')
        name = key[1:] if optional else key
        if not name:
            raise QAPIError(info, '%s: empty member name' % what)
        out.append(Member(name, typ, optional, info, feats))
    return out


class Schema:
    def __init__(self, files):
        self.entities = {}
        self.order = []
        self.modules = []           # (path, [free docs])
        for path, shown in files:
            with open(path, encoding='utf-8') as f:
                text = f.read()
            p = Parser(shown, text)
            self.modules.append((shown, p.free_docs))
            for expr, info, doc in p.exprs:
                self._add(expr, info, doc, shown)
        self._check()

    def _add(self, expr, info, doc, module):
        metas = [k for k in expr if k in META_KEYS]
        if len(metas) != 1:
            raise QAPIError(info, 'expression must have exactly one of the '
                            'keys %s' % ', '.join(sorted(META_KEYS)))
        meta = metas[0]
        for key in expr:
            if key != meta and key not in META_KEYS[meta]:
                raise QAPIError(info, "%s '%s': unknown key '%s'"
                                % (meta, expr[meta], key))
        if meta in ('include', 'pragma'):
            if doc:
                raise QAPIError(doc.info, "documentation for '%s' is not "
                                "followed by its definition" % doc.symbol)
            return
        name = expr[meta]
        if not isinstance(name, str) or not re.match(r'^[A-Za-z][\w.-]*$',
                                                      name):
            raise QAPIError(info, '%s: bad name %r' % (meta, name))
        if name in self.entities:
            other = self.entities[name]
            raise QAPIError(info, "'%s' is already defined at %s:%d"
                            % (name, other.info[0], other.info[1]))
        if name in BUILTIN_TYPES:
            raise QAPIError(info, "'%s' is a built-in type" % name)
        if doc is None:
            raise QAPIError(info, "%s '%s' lacks its documentation comment "
                            "('##' block starting '# @%s:')"
                            % (meta, name, name))
        if doc.symbol != name:
            raise QAPIError(doc.info, "documentation comment is for '%s', "
                            "but the definition after it is '%s'"
                            % (doc.symbol, name))
        e = Entity(meta, name, expr, info, doc, module)
        e.features = features_of(expr, info, "%s '%s'" % (meta, name))
        what = "%s '%s'" % (meta, name)
        if meta in ('command', 'event'):
            data = expr.get('data')
            if isinstance(data, str):
                e.data_type = data
            elif data is not None:
                e.members = members_of(data, info, what)
            if meta == 'command' and 'returns' in expr:
                r = expr['returns']
                if isinstance(r, list):
                    if len(r) != 1 or not isinstance(r[0], str):
                        raise QAPIError(info, "%s: 'returns' list must name "
                                        "exactly one type" % what)
                elif not isinstance(r, str):
                    raise QAPIError(info, "%s: bad 'returns'" % what)
                e.returns = r
            for key in ('boxed', 'gen', 'allow-oob', 'allow-preconfig',
                        'success-response', 'coroutine'):
                if key in expr and not isinstance(expr[key], bool):
                    raise QAPIError(info, "%s: '%s' must be true or false"
                                    % (what, key))
            if expr.get('boxed') and not e.data_type:
                raise QAPIError(info, "%s: 'boxed': true needs 'data' to "
                                "name a type" % what)
        elif meta == 'struct':
            e.members = members_of(expr.get('data', {}), info, what)
            base = expr.get('base')
            if base is not None and not isinstance(base, str):
                raise QAPIError(info, "%s: 'base' must name a struct" % what)
            e.base = base
        elif meta == 'enum':
            data = expr.get('data')
            if not isinstance(data, list):
                raise QAPIError(info, "%s: 'data' must be a list" % what)
            for v in data:
                if isinstance(v, dict):
                    v = v.get('name')
                if not isinstance(v, str) or not v:
                    raise QAPIError(info, '%s: bad value %r' % (what, v))
                if v in e.values:
                    raise QAPIError(info, "%s: duplicate value '%s'"
                                    % (what, v))
                e.values.append(v)
        elif meta == 'union':
            base = expr.get('base')
            if isinstance(base, dict):
                e.members = members_of(base, info, what)
            elif isinstance(base, str):
                e.base = base
            else:
                raise QAPIError(info, "%s: needs a 'base'" % what)
            e.discriminator = expr.get('discriminator')
            if not isinstance(e.discriminator, str):
                raise QAPIError(info, "%s: needs a 'discriminator'" % what)
            data = expr.get('data')
            if not isinstance(data, dict):
                raise QAPIError(info, "%s: 'data' must be an object" % what)
            for case, typ in data.items():
                if isinstance(typ, dict):
                    typ = typ.get('type')
                if not isinstance(typ, str):
                    raise QAPIError(info, "%s: branch '%s' must name a "
                                    "struct" % (what, case))
                e.variants.append((case, typ))
        elif meta == 'alternate':
            data = expr.get('data')
            if not isinstance(data, dict) or not data:
                raise QAPIError(info, "%s: 'data' must be an object" % what)
            for case, typ in data.items():
                if isinstance(typ, dict):
                    typ = typ.get('type')
                if not isinstance(typ, str):
                    raise QAPIError(info, "%s: branch '%s' must name a type"
                                    % (what, case))
                e.variants.append((case, typ))
        self.entities[name] = e
        self.order.append(e)

    # ---- checks

    def _type(self, name, info, what, metas=None):
        if name in BUILTIN_TYPES:
            if metas is not None:
                raise QAPIError(info, "%s: '%s' must name a %s, not a "
                                "built-in type" % (what, name,
                                                   ' or '.join(metas)))
            return None
        e = self.entities.get(name)
        if e is None or e.meta in ('command', 'event'):
            raise QAPIError(info, "%s uses unknown type '%s'" % (what, name))
        if metas is not None and e.meta not in metas:
            raise QAPIError(info, "%s: '%s' is a %s, expected a %s"
                            % (what, name, e.meta, ' or '.join(metas)))
        return e

    def all_members(self, e, seen=None):
        """Inline and inherited members of a struct or union (base first)."""
        seen = seen or set()
        if e.name in seen:
            raise QAPIError(e.info, "'%s' inherits from itself" % e.name)
        seen.add(e.name)
        out = []
        if e.base:
            base = self._type(e.base, e.info, "%s '%s' base" %
                              (e.meta, e.name), ('struct',))
            out += self.all_members(base, seen)
        out += e.members
        names = set()
        for m in out:
            if m.name in names:
                raise QAPIError(e.info, "%s '%s': member '%s' is defined "
                                "twice (with its base)" %
                                (e.meta, e.name, m.name))
            names.add(m.name)
        return out

    def _check(self):
        for e in self.order:
            what = "%s '%s'" % (e.meta, e.name)
            for m in e.members:
                self._type(m.type_name(), m.info,
                           "%s member '%s'" % (what, m.name))
            if e.meta in ('command', 'event') and e.data_type:
                self._type(e.data_type, e.info, what + " 'data'",
                           ('struct', 'union') if e.expr.get('boxed')
                           else ('struct',))
            if e.returns:
                r = e.returns[0] if isinstance(e.returns, list) \
                    else e.returns
                self._type(r, e.info, what + " 'returns'")
            if e.meta in ('struct', 'union'):
                members = self.all_members(e)
            if e.meta == 'union':
                tag = [m for m in members if m.name == e.discriminator]
                if not tag or tag[0].optional or tag[0].is_list():
                    raise QAPIError(e.info, "%s: discriminator '%s' is not "
                                    "a required member of the base"
                                    % (what, e.discriminator))
                enum = self._type(tag[0].type, e.info, what +
                                  ' discriminator', ('enum',))
                for case, typ in e.variants:
                    if case not in enum.values:
                        raise QAPIError(e.info, "%s: branch '%s' is not a "
                                        "value of %s" % (what, case,
                                                         enum.name))
                    self._type(typ, e.info, "%s branch '%s'" % (what, case),
                               ('struct',))
            if e.meta == 'alternate':
                for case, typ in e.variants:
                    self._type(typ, e.info, "%s branch '%s'" % (what, case))
            self._check_doc(e)

    def _check_doc(self, e):
        doc = e.doc
        documented = set(doc.args)
        if e.meta == 'enum':
            expected = list(e.values)
        elif e.meta == 'alternate':
            expected = [case for case, _ in e.variants]
        else:
            expected = [m.name for m in e.members]
        for name in expected:
            if name not in documented:
                raise QAPIError(doc.info, "documentation of %s '%s' lacks "
                                "'@%s:'" % (e.meta, e.name, name))
        for name in documented:
            if name not in expected:
                raise QAPIError(doc.arg_info[name], "%s '%s' has no member "
                                "'%s' (documented here)"
                                % (e.meta, e.name, name))
        feats = set(e.features)
        for m in e.members:
            feats.update(m.features)
        feats.discard('open-args')
        for f in sorted(feats):
            if f not in doc.features:
                raise QAPIError(doc.info, "documentation of %s '%s' lacks "
                                "feature '@%s:' (under 'Features:')"
                                % (e.meta, e.name, f))
        for f in doc.features:
            if f not in feats and f != 'open-args':
                raise QAPIError(doc.arg_info[f], "%s '%s' has no feature "
                                "'%s'" % (e.meta, e.name, f))

    # ---- queries for the back ends

    def of_meta(self, meta):
        return sorted((e for e in self.order if e.meta == meta),
                      key=lambda e: e.name)

    def command_args(self, e):
        """(members, open) of a command's or event's arguments."""
        if e.data_type:
            t = self.entities[e.data_type]
            return self.all_members(t), t.meta == 'union'
        return list(e.members), False

    def is_open(self, e):
        return e.expr.get('gen') is False or 'open-args' in e.features or \
            (bool(e.expr.get('boxed')) and e.data_type is not None and
             self.entities[e.data_type].meta == 'union')


def c_name(name):
    return re.sub(r'[^A-Za-z0-9_]', '_', name)


# --------------------------------------------------------------------------
# Introspection

def type_str(t):
    return '[%s]' % t[0] if isinstance(t, list) else t


def member_json(m):
    d = {'name': m.name, 'type': type_str(m.type)}
    if m.optional:
        d['optional'] = True
    if m.features:
        d['features'] = m.features
    return d


def introspect(schema):
    out = []
    for e in schema.of_meta('command'):
        members, _ = schema.command_args(e)
        d = {'name': e.name, 'meta-type': 'command',
             'arguments': [member_json(m) for m in members]}
        if e.returns:
            d['returns'] = type_str(e.returns)
        if schema.is_open(e):
            d['open-arguments'] = True
        if e.expr.get('allow-preconfig'):
            d['allow-preconfig'] = True
        if e.expr.get('allow-oob'):
            d['allow-oob'] = True
        if e.features:
            d['features'] = e.features
        out.append(d)
    for e in schema.of_meta('event'):
        members, _ = schema.command_args(e)
        d = {'name': e.name, 'meta-type': 'event',
             'arguments': [member_json(m) for m in members]}
        if e.features:
            d['features'] = e.features
        out.append(d)
    types = [e for e in schema.order
             if e.meta in ('struct', 'union', 'enum', 'alternate')]
    for e in sorted(types, key=lambda e: e.name):
        if e.meta == 'enum':
            d = {'name': e.name, 'meta-type': 'enum', 'values': e.values}
        elif e.meta == 'alternate':
            d = {'name': e.name, 'meta-type': 'alternate',
                 'members': [{'type': t} for _, t in e.variants]}
        else:
            d = {'name': e.name, 'meta-type': 'object',
                 'members': [member_json(m) for m in schema.all_members(e)]}
            if e.meta == 'union':
                d['tag'] = e.discriminator
                d['variants'] = [{'case': c, 'type': t}
                                 for c, t in e.variants]
        if e.features:
            d['features'] = e.features
        out.append(d)
    return out


# --------------------------------------------------------------------------
# C back end

C_HEADER = '''\
/*
 * qapi-commands.h - generated by scripts/qapi-gen.py from qapi/<module>.json.
 * Do not edit: change the schema instead.
 *
 * The prototypes of every QMP command handler.  The argument layouts that
 * monitor/qmp-dispatch.c checks requests against are declared in
 * monitor/qmp-internal.h (a plain header, so tests need not wait for this
 * one to be generated) and defined in qapi-commands.c.
 */
#ifndef QAPI_COMMANDS_H
#define QAPI_COMMANDS_H

#include "util/qmp-handler.h"

'''


def c_string(s):
    return '"%s"' % s.replace('\\', '\\\\').replace('"', '\\"')


class CGen:
    def __init__(self, schema):
        self.schema = schema
        self.member_arrays = []     # lines

    def kind(self, m):
        t = m.type_name()
        if t in BUILTIN_TYPES:
            if t in INT_RANGES:
                return 'QMP_KIND_INT', INT_RANGES[t], None, None
            return {'str': 'QMP_KIND_STR', 'QType': 'QMP_KIND_STR',
                    'bool': 'QMP_KIND_BOOL', 'number': 'QMP_KIND_NUMBER',
                    'null': 'QMP_KIND_NULL', 'any': 'QMP_KIND_ANY'}[t], \
                ('0', '0'), None, None
        e = self.schema.entities[t]
        if e.meta == 'enum':
            return 'QMP_KIND_ENUM', ('0', '0'), 'qmp_enum_' + c_name(t), None
        if e.meta == 'alternate':
            return 'QMP_KIND_ANY', ('0', '0'), None, None
        return 'QMP_KIND_OBJECT', ('0', '0'), None, '&qmp_type_' + c_name(t)

    def gen_members(self, cname, members):
        if not members:
            return 'NULL', 0
        lines = ['static const QmpMemberInfo qmp_members_%s[] = {' % cname]
        for m in members:
            kind, (lo, hi), values, obj = self.kind(m)
            lines.append('    { %s, %s, %s, %s, %s, %s, %s, %s, %s },' % (
                c_string(m.name), c_string(type_str(m.type)), kind,
                'TRUE' if m.optional else 'FALSE',
                'TRUE' if m.is_list() else 'FALSE', lo, hi,
                values or 'NULL', obj or 'NULL'))
        lines.append('};')
        self.member_arrays.append('\n'.join(lines))
        return 'qmp_members_' + cname, len(members)

    def gen(self):
        s = self.schema
        commands = s.of_meta('command')
        events = s.of_meta('event')
        # Only what argument checking reaches is emitted (an unused static
        # table would warn).
        needed = set()

        def need(members):
            for m in members:
                t = s.entities.get(m.type_name())
                if t is None or t.name in needed:
                    continue
                needed.add(t.name)
                if t.meta in ('struct', 'union'):
                    need(s.all_members(t))
                    for _, vt in t.variants:
                        if vt not in needed:
                            needed.add(vt)
                            need(s.all_members(s.entities[vt]))
        for e in commands:
            if e.data_type:
                needed.add(e.data_type)
                t = s.entities[e.data_type]
                need(s.all_members(t))
                for _, vt in t.variants:
                    needed.add(vt)
                    need(s.all_members(s.entities[vt]))
            else:
                need(e.members)
        types = sorted((e for e in s.order if e.meta in ('struct', 'union')
                        and e.name in needed), key=lambda e: e.name)
        enums = [e for e in s.of_meta('enum') if e.name in needed]

        h = [C_HEADER.rstrip('\n') + '\n']
        for e in commands:
            h.append('gboolean qmp_%s(JsonObject *args, JsonNode **ret, '
                     'GError **errp);' % c_name(e.name))
        h.append('\n#endif /* QAPI_COMMANDS_H */\n')

        c = ['/*',
             ' * qapi-commands.c - generated by scripts/qapi-gen.py from '
             'the qapi/ schema.',
             ' * Do not edit: change the schema instead.',
             ' *',
             ' * The command table, the event names, the argument layouts '
             'and the',
             ' * introspection text.  The table names every handler, so a '
             'command that',
             ' * no module implements is a link error of the monitor '
             'library\'s users.',
             ' */',
             '#include "qapi-commands.h"',
             '#include "monitor/qmp-internal.h"', '']
        for e in enums:
            c.append('static const char *const qmp_enum_%s[] = {'
                     % c_name(e.name))
            for v in e.values:
                c.append('    %s,' % c_string(v))
            c.append('    NULL,\n};')
        c.append('')
        for e in types:
            c.append('static const QmpTypeInfo qmp_type_%s;' % c_name(e.name))
        c.append('')

        infos = []
        for e in types:
            cn = c_name(e.name)
            arr, n = self.gen_members('type_' + cn, s.all_members(e))
            disc, var, nvar = 'NULL', 'NULL', 0
            if e.meta == 'union':
                disc = c_string(e.discriminator)
                lines = ['static const QmpVariantInfo qmp_variants_%s[] = {'
                         % cn]
                for case, typ in e.variants:
                    lines.append('    { %s, &qmp_type_%s },'
                                 % (c_string(case), c_name(typ)))
                lines.append('};')
                if e.variants:
                    self.member_arrays.append('\n'.join(lines))
                    var, nvar = 'qmp_variants_' + cn, len(e.variants)
            infos.append('static const QmpTypeInfo qmp_type_%s = {\n'
                         '    %s, %s, %d, %s, %s, %d,\n};'
                         % (cn, c_string(e.name), arr, n, disc, var, nvar))
        cmd_infos = []
        for e in commands:
            cn = c_name(e.name)
            if e.data_type:
                args = '&qmp_type_' + c_name(e.data_type)
            else:
                arr, n = self.gen_members('arg_' + cn, e.members)
                infos.append('static const QmpTypeInfo qmp_args_%s = {\n'
                             '    %s, %s, %d, NULL, NULL, 0,\n};'
                             % (cn, c_string('q_obj_%s-arg' % e.name), arr, n))
                args = '&qmp_args_' + cn
            cmd_infos.append('    { %s, %s, %s, %s, %s },' % (
                c_string(e.name), args,
                'TRUE' if s.is_open(e) else 'FALSE',
                'TRUE' if e.expr.get('allow-oob') else 'FALSE',
                'FALSE' if e.expr.get('success-response') is False
                else 'TRUE'))
        c += self.member_arrays
        c.append('')
        c += infos
        c.append('')
        c.append('const QmpCommand qmp_commands[] = {')
        for e in commands:
            c.append('    { %s, qmp_%s, %s },' % (
                c_string(e.name), c_name(e.name),
                'TRUE' if e.expr.get('allow-preconfig') else 'FALSE'))
        c.append('    { NULL },\n};\n')
        c.append('const QmpCommandInfo qmp_command_info[] = {')
        c += cmd_infos
        c.append('    { NULL },\n};\n')
        c.append('const char *const qmp_event_names[] = {')
        for e in events:
            c.append('    %s,' % c_string(e.name))
        c.append('    NULL,\n};\n')
        c.append('const char qmp_schema_json[] =')
        entries = introspect(s)
        c.append('    "["')
        for i, d in enumerate(entries):
            text = json.dumps(d, separators=(',', ':'), sort_keys=False)
            if i + 1 < len(entries):
                text += ','
            c.append('    %s' % c_string(text))
        c.append('    "]";')
        return '\n'.join(h), '\n'.join(c) + '\n'


# --------------------------------------------------------------------------
# Markdown back end

def md_text(lines):
    """Doc lines to Markdown: '@name' becomes `name`."""
    out = []
    for line in lines:
        out.append(re.sub(r'@([A-Za-z0-9_][\w.-]*[\w])|@([A-Za-z0-9_])',
                          lambda m: '`%s`' % (m.group(1) or m.group(2)),
                          line))
    while out and not out[0].strip():
        out.pop(0)
    while out and not out[-1].strip():
        out.pop()
    return out


def md_inline(lines):
    return ' '.join(l.strip() for l in md_text(lines) if l.strip())


def md_anchor(name):
    return re.sub(r'[^a-z0-9_-]', '', name.lower())


class MdGen:
    def __init__(self, schema):
        self.s = schema

    def type_ref(self, t):
        lst = isinstance(t, list)
        name = t[0] if lst else t
        if name in BUILTIN_TYPES:
            ref = '`%s`' % name
        else:
            ref = '[`%s`](#%s)' % (name, md_anchor(name))
        return 'array of ' + ref if lst else ref

    def members(self, out, title, e, members, docs_of):
        if not members:
            return
        out.append('**%s:**\n' % title)
        for m in members:
            doc = docs_of(m)
            flags = ' *(optional)*' if m.optional else ''
            if m.features:
                flags += ' *(features: %s)*' % ', '.join(m.features)
            line = '- `%s`: %s%s' % (m.name, self.type_ref(m.type), flags)
            if doc:
                line += ' — ' + md_inline(doc)
            out.append(line)
        out.append('')

    def member_docs(self, m):
        owner = None
        for e in self.s.order:
            if m in e.members:
                owner = e
                break
        if owner is None:
            return None
        return owner.doc.args.get(m.name)

    def body(self, out, e):
        body = md_text(e.doc.body)
        if body:
            out += body
            out.append('')

    def sections(self, out, e, skip_returns=False):
        for title, lines in e.doc.sections:
            if title in ('Example', 'Examples'):
                code = list(lines)
                while code and not code[0].strip():
                    code.pop(0)
                while code and not code[-1].strip():
                    code.pop()
                ind = min((len(l) - len(l.lstrip()) for l in code
                           if l.strip()), default=0)
                out.append('**%s:**\n' % title)
                out.append('```')
                out += [l[ind:] for l in code]
                out.append('```\n')
            elif title == 'Returns' and skip_returns:
                continue
            else:
                text = md_text(lines)
                if len(text) <= 1:
                    out.append('**%s:** %s\n' % (title, ' '.join(
                        l.strip() for l in text)))
                else:
                    # Continuation lines are indented in the schema; in
                    # Markdown 4 spaces would start a code block.
                    out.append('**%s:**\n' % title)
                    out += [l.strip() for l in text]
                    out.append('')
        if e.doc.features:
            out.append('**Features:**\n')
            for f in sorted(e.doc.features):
                out.append('- `%s` — %s' % (f, md_inline(e.doc.features[f])))
            out.append('')

    def entity_header(self, out, e, extra=None):
        out.append('### %s\n' % e.name)
        notes = ['Defined in `%s`' % e.module]
        if extra:
            notes += extra
        out.append('*%s.*\n' % '; '.join(notes))

    def gen(self):
        s = self.s
        commands = s.of_meta('command')
        events = s.of_meta('event')
        types = sorted((e for e in s.order
                        if e.meta in ('struct', 'union', 'enum', 'alternate')),
                       key=lambda e: e.name)
        out = ['# colo-proxy QMP reference', '',
               '<!-- Generated by scripts/qapi-gen.py from qapi/*.json; do '
               'not edit. Regenerate with "make docs". -->', '',
               'colo-proxy speaks QEMU\'s QMP protocol on every `-qmp` '
               'monitor (`unix:PATH,server=on,wait=off`, '
               '`tcp:HOST:PORT,server=on,wait=off`, `stdio`).',
               'A connection gets a greeting, negotiates with '
               '`qmp_capabilities`, then sends one JSON object per command:',
               '',
               '```',
               '<- {"QMP": {"version": {...}, "capabilities": ["oob"]}}',
               '-> {"execute": "qmp_capabilities"}',
               '<- {"return": {}}',
               '-> {"execute": "query-version", "id": 1}',
               '<- {"return": {...}, "id": 1}',
               '<- {"timestamp": {"seconds": S, "microseconds": US}, '
               '"event": "NAME", "data": {...}}',
               '```', '',
               'Errors have the shape `{"error": {"class": CLASS, "desc": '
               'TEXT}}` with CLASS one of `GenericError`, `CommandNotFound`, '
               '`DeviceNotFound`, `DeviceNotActive`.',
               'Arguments are checked against this schema before a command '
               'runs: unknown members ("Parameter \'X\' is unexpected"), '
               'missing ones ("Parameter \'X\' is missing") and wrong JSON '
               'types are rejected, except the extra members of commands '
               'marked *open arguments*.', '',
               'Differences from QEMU\'s monitor: a listening `-qmp` '
               'socket serves up to 64 clients at once (QEMU: one), each '
               'negotiating on its own; a request is at most 1 MiB '
               '(larger: "JSON request too large", the connection stays '
               'usable); a client that lets more than 16 MiB of replies '
               'and events pile up unread is disconnected.  As in QEMU, '
               'a request may quote its strings with single quotes '
               '(`{\'execute\': \'query-status\'}`); replies always use '
               'double quotes.',
               '',
               '## Contents', '']
        out.append('- [Modules](#modules)')
        out.append('- [Commands](#commands): ' + ', '.join(
            '[`%s`](#%s)' % (e.name, md_anchor(e.name)) for e in commands))
        out.append('- [Events](#events): ' + (', '.join(
            '[`%s`](#%s)' % (e.name, md_anchor(e.name)) for e in events)
            or 'none'))
        out.append('- [Types](#types): ' + (', '.join(
            '[`%s`](#%s)' % (e.name, md_anchor(e.name)) for e in types)
            or 'none'))
        out.append('')

        out.append('## Modules\n')
        for module, docs in s.modules:
            for d in docs:
                if not any(line.strip() for line in d.body):
                    continue
                body = md_text(d.body)
                if body and body[0].startswith('= '):
                    out.append('### %s\n' % body[0][2:].strip())
                    out.append('*`%s`*\n' % module)
                    body = body[1:]
                out += md_text(body)
                out.append('')
        out.append('## Commands\n')
        for e in commands:
            extra = []
            if e.expr.get('allow-preconfig'):
                extra.append('allowed before capabilities negotiation')
            if s.is_open(e):
                extra.append('open arguments: members not listed are '
                             'passed to the command')
            feats = [f for f in e.features if f != 'open-args']
            if feats:
                extra.append('features: ' + ', '.join(feats))
            self.entity_header(out, e, extra)
            self.body(out, e)
            members, _ = s.command_args(e)
            if e.data_type:
                out.append('**Arguments:** the members of %s.\n'
                           % self.type_ref(e.data_type))
            elif members:
                self.members(out, 'Arguments', e, members,
                             lambda m: e.doc.args.get(m.name))
            else:
                out.append('**Arguments:** none.\n')
            rdoc = [l for t, l in e.doc.sections if t == 'Returns']
            if e.returns:
                line = '**Returns:** %s' % self.type_ref(e.returns)
                if rdoc:
                    line += ' — ' + md_inline(rdoc[0])
                out.append(line + '\n')
            else:
                line = '**Returns:** `{}`'
                if rdoc:
                    line += ' — ' + md_inline(rdoc[0])
                out.append(line + '\n')
            self.sections(out, e, skip_returns=True)

        out.append('## Events\n')
        if not events:
            out.append('None.\n')
        for e in events:
            self.entity_header(out, e)
            self.body(out, e)
            members, _ = s.command_args(e)
            if e.data_type:
                out.append('**Data:** the members of %s.\n'
                           % self.type_ref(e.data_type))
            elif members:
                self.members(out, 'Data', e, members,
                             lambda m: e.doc.args.get(m.name))
            else:
                out.append('**Data:** none.\n')
            self.sections(out, e)

        out.append('## Types\n')
        for e in types:
            self.entity_header(out, e, [e.meta])
            self.body(out, e)
            if e.meta == 'enum':
                out.append('**Values:**\n')
                for v in e.values:
                    out.append('- `%s` — %s' % (v, md_inline(e.doc.args[v])))
                out.append('')
            elif e.meta == 'alternate':
                out.append('**One of:**\n')
                for case, t in e.variants:
                    out.append('- %s — %s' % (self.type_ref(t),
                                              md_inline(e.doc.args[case])))
                out.append('')
            else:
                members = s.all_members(e)
                if e.base:
                    out.append('Inherits the members of %s.\n'
                               % self.type_ref(e.base))
                self.members(out, 'Members', e, members, self.member_docs)
                if e.meta == 'union':
                    out.append('**Variants** (by `%s`):\n' % e.discriminator)
                    for case, t in e.variants:
                        out.append('- `%s`: the members of %s'
                                   % (case, self.type_ref(t)))
                    out.append('')
            self.sections(out, e)
        text = '\n'.join(out)
        text = re.sub(r'\n{3,}', '\n\n', text).rstrip('\n') + '\n'
        return text


# --------------------------------------------------------------------------

def roff_escape(text):
    """Text for a roff line: backslashes doubled, '-' an ASCII minus (these
    pages name options and JSON), a leading '.' or "'" made literal."""
    text = text.replace('\\', '\\e').replace('-', '\\-')
    if text[:1] in ('.', "'"):
        text = '\\&' + text
    return text


def roff_inline(text):
    """Markdown inline markup to roff: `code` and **strong** bold,
    *emphasis* italic, [text](#anchor) its text."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)
    codes = []

    def keep(m):
        codes.append('\\fB%s\\fP' % roff_escape(m.group(1)))
        return '\0%d\0' % (len(codes) - 1)

    text = roff_escape(re.sub(r'`([^`]*)`', keep, text))
    text = re.sub(r'\*\*([^*]+)\*\*', r'\\fB\1\\fR', text)
    text = re.sub(r'\*([^*]+)\*', r'\\fI\1\\fR', text)
    text = re.sub('\0(\\d+)\0', lambda m: codes[int(m.group(1))], text)
    if text.startswith('\\f'):
        text = '\\&' + text
    return text


def man_page(md, version):
    """colo-proxy-qmp(7): the generated reference (docs/qmp-reference.md)
    as a man page, from the same text, so the two never differ.  Only the
    markdown that MdGen writes is handled: headings, paragraphs, '- '
    lists, fenced code blocks, inline code, emphasis and links."""
    out = ['.\\" Generated by scripts/qapi-gen.py from qapi/*.json; '
           'do not edit.',
           '.TH COLO\\-PROXY\\-QMP 7 "" "colo-proxy %s" '
           '"colo-proxy manual"' % version,
           '.SH NAME',
           'colo-proxy-qmp \\- the QMP commands, events and types of '
           'colo-proxy',
           '.SH DESCRIPTION']
    lines = md.splitlines()
    i = 0
    in_code = False
    contents = False
    while i < len(lines):
        ln = lines[i]
        i += 1
        if ln.startswith('```'):
            out += ['.fi', '.RE'] if in_code else ['.PP', '.RS 2', '.nf']
            in_code = not in_code
            continue
        if in_code:
            out.append(roff_escape(ln) if ln else '')
            continue
        if ln.startswith('<!--') or ln.startswith('# '):
            continue
        if ln.startswith('## '):
            contents = ln[3:] == 'Contents'
            if not contents:
                out.append('.SH ' + roff_escape(ln[3:]).upper())
            continue
        if contents:
            continue
        if ln.startswith('###'):
            out.append('.SS ' + roff_inline(ln.lstrip('#').strip()))
            continue
        if ln.startswith('- '):
            out += ['.IP \\(bu 2', roff_inline(ln[2:])]
            continue
        if ln.startswith('  ') and out and not ln.strip() == '':
            out.append(roff_inline(ln.strip()))
            continue
        if not ln.strip():
            if out[-1] != '.PP':
                out.append('.PP')
            continue
        out.append(roff_inline(ln))
    # a paragraph break before a heading, a list item or another break
    # is noise (and lintian's man checks say so)
    out = [ln for j, ln in enumerate(out)
           if ln != '.PP' or (j + 1 < len(out) and not out[j + 1].startswith(
               ('.PP', '.SH', '.SS', '.IP')))]
    out += ['.SH SEE ALSO', '\\fBcolo\\-proxy\\fR(1)', '']
    return '\n'.join(out)


def schema_files(main_schema):
    d = os.path.dirname(os.path.abspath(main_schema))
    files = [os.path.abspath(main_schema)]
    for p in sorted(glob.glob(os.path.join(d, '*.json'))):
        if os.path.abspath(p) not in files:
            files.append(os.path.abspath(p))
    parent = os.path.dirname(d)
    return [(p, os.path.relpath(p, parent)) for p in files]


def write_file(path, text):
    """Writes 'path' atomically.  Always written (never skipped when equal):
    ninja compares its time with the schema's."""
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--schema', required=True,
                    help='qapi/qapi-schema.json (every *.json beside it '
                    'is read too)')
    ap.add_argument('--output-dir', required=True)
    ap.add_argument('--version', default='',
                    help='the version the man page names')
    ap.add_argument('--list-files', action='store_true',
                    help='print the schema files read and exit')
    a = ap.parse_args()
    files = schema_files(a.schema)
    if a.list_files:
        for p, _ in files:
            print(p)
        return 0
    try:
        schema = Schema(files)
    except QAPIError as e:
        print('qapi-gen: %s' % e, file=sys.stderr)
        return 1
    except OSError as e:
        print('qapi-gen: %s' % e, file=sys.stderr)
        return 1
    os.makedirs(a.output_dir, exist_ok=True)
    h, c = CGen(schema).gen()
    write_file(os.path.join(a.output_dir, 'qapi-commands.h'), h)
    write_file(os.path.join(a.output_dir, 'qapi-commands.c'), c)
    md = MdGen(schema).gen()
    write_file(os.path.join(a.output_dir, 'qmp-reference.md'), md)
    write_file(os.path.join(a.output_dir, 'colo-proxy-qmp.7'),
               man_page(md, a.version))
    write_file(os.path.join(a.output_dir, 'qapi-introspect.json'),
                     json.dumps(introspect(schema), indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
