/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/keyval.h - QEMU's key=value option grammar.
 *
 *   params  = [ implied-value "," ] key-value { "," key-value }
 *   key-value = key "=" value | flag
 *   key     = name { "." name }          (dotted keys: addr.type=unix)
 *   value   = { char | ",," }            (",," is a literal comma)
 *   flag    = name                       (legacy boolean: "server" is
 *                                         server=on, "nowait" is wait=off)
 *
 * The first element may omit "key=": its value goes to 'implied_key' (for
 * -object that is "qom-type", for -netdev and -chardev "type").  A later
 * element without "=" is a legacy flag: "name" means name=on, and "noname"
 * means name=off when 'name' is one of the known legacy flags (server,
 * wait, telnet, tn3270, websocket, ipv4, ipv6, delay, mux); "nodelay" is
 * itself a key and means nodelay=on.  A repeated key: the last value wins,
 * as QEMU's option parser does.  A trailing ',' is ignored.
 *
 * Errors name the option and the offending key, e.g.
 * "Invalid parameter 'a..b'" or "Expected '=' after parameter 'foo'".
 */
#ifndef UTIL_KEYVAL_H
#define UTIL_KEYVAL_H

#include <glib.h>

/* Parses 'params' into a new GHashTable of key -> value (both newly
 * allocated strings; dotted keys stay dotted).  'implied_key' may be NULL.
 * Returns NULL with errp set on a syntax error. */
GHashTable *keyval_parse(const char *params, const char *implied_key,
                         GError **errp);

/* Parses QEMU's boolean spellings: on/off, yes/no, true/false.  Returns
 * FALSE with errp set ("Parameter 'NAME' expects 'on' or 'off'"). */
gboolean keyval_parse_bool(const char *name, const char *value,
                           gboolean *out, GError **errp);

/* Parses an unsigned decimal (or 0x hex) number with an optional size
 * suffix when 'allow_suffix' (k, M, G: powers of 1024).  Errors name 'name'. */
gboolean keyval_parse_uint64(const char *name, const char *value,
                             gboolean allow_suffix, guint64 *out,
                             GError **errp);
gboolean keyval_parse_int64(const char *name, const char *value,
                            gint64 *out, GError **errp);

/* True if 'params' is "help" or "?" or ends with ",help". */
gboolean keyval_is_help(const char *params);

#endif /* UTIL_KEYVAL_H */
