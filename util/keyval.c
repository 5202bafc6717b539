/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/keyval.c - QEMU's key=value option grammar (include/util/keyval.h).
 *
 *   params    = [ implied-value "," ] element { "," element } [ "," ]
 *   element   = key "=" value | flag
 *   key       = name { "." name }
 *   name      = ( letter | digit | "_" | "-" ) { letter | digit | "_" | "-" }
 *   value     = { any char but "," | ",," }     (",," is a literal comma)
 *   flag      = name                            ("server" -> server=on,
 *                                                "nowait" -> wait=off)
 *
 * The first element is an implied value when 'implied_key' is given and the
 * element does not start with "key=".  Every -object, -netdev, -device and
 * -chardev argument goes through keyval_parse() (qom/object.c), and QMP's
 * object-add builds the same key -> string map, so there is one path from
 * user text to object properties.
 *
 * Limits: a key is at most KEYVAL_KEY_MAX bytes; a parameter string may
 * hold at most KEYVAL_MAX_PAIRS elements.  Both are reported as errors.
 */
#include <string.h>
#include <errno.h>
#include <stdlib.h>

#include "util/keyval.h"
#include "util/error.h"

#define KEYVAL_KEY_MAX    127
#define KEYVAL_MAX_PAIRS  1024

/* Legacy boolean flags that accept the "noNAME" spelling for NAME=off.
 * "nodelay" is not "no" + "delay" here: it is a key of its own and the bare
 * flag means nodelay=on (checked first). */
static const char *const keyval_no_flags[] = {
    "server", "wait", "telnet", "tn3270", "websocket", "ipv4", "ipv6",
    "delay", "mux", NULL,
};

static gboolean keyval_is_key_char(char c)
{
    return g_ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
}

/* True if 'key' (of 'len' bytes) is a well-formed dotted key. */
static gboolean keyval_key_valid(const char *key, size_t len)
{
    size_t frag = 0;

    if (len == 0 || len > KEYVAL_KEY_MAX) {
        return FALSE;
    }
    for (size_t i = 0; i < len; i++) {
        if (key[i] == '.') {
            if (frag == 0) {
                return FALSE;
            }
            frag = 0;
        } else if (keyval_is_key_char(key[i])) {
            frag++;
        } else {
            return FALSE;
        }
    }
    return frag > 0;
}

/* Reads a value starting at 's' up to the first single ',' (or the end),
 * undoing ",," escapes.  Returns the position of the terminating ',' or
 * NUL; '*out' receives a newly allocated string. */
static const char *keyval_read_value(const char *s, char **out)
{
    GString *v = g_string_new(NULL);

    while (*s) {
        if (*s == ',') {
            if (s[1] == ',') {
                g_string_append_c(v, ',');
                s += 2;
                continue;
            }
            break;
        }
        g_string_append_c(v, *s);
        s++;
    }
    *out = g_string_free(v, FALSE);
    return s;
}

/* Stores the legacy flag 'name' as its key=value meaning. */
static void keyval_store_flag(GHashTable *h, const char *name)
{
    if (strcmp(name, "nodelay") != 0 && g_str_has_prefix(name, "no")) {
        for (int i = 0; keyval_no_flags[i]; i++) {
            if (strcmp(name + 2, keyval_no_flags[i]) == 0) {
                g_hash_table_insert(h, g_strdup(name + 2), g_strdup("off"));
                return;
            }
        }
    }
    g_hash_table_insert(h, g_strdup(name), g_strdup("on"));
}

/* Returns a new key -> value table (both owned by the table), or NULL with
 * errp set.  Any thread (pure function). */
GHashTable *keyval_parse(const char *params, const char *implied_key,
                         GError **errp)
{
    g_autoptr(GHashTable) h = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                    g_free, g_free);
    const char *s = params ? params : "";
    gboolean first = TRUE;
    unsigned n = 0;

    while (*s) {
        const char *key = s;
        size_t klen = 0;

        if (++n > KEYVAL_MAX_PAIRS) {
            error_setg(errp, "Too many parameters (at most %u)",
                       KEYVAL_MAX_PAIRS);
            return NULL;
        }

        /* The key runs to the first '=' or single ','. */
        while (key[klen] && key[klen] != '=' && key[klen] != ',') {
            klen++;
        }

        if (first && implied_key &&
            !(key[klen] == '=' && keyval_key_valid(key, klen))) {
            char *value;

            s = keyval_read_value(s, &value);
            g_hash_table_insert(h, g_strdup(implied_key), value);
        } else if (key[klen] == '=') {
            g_autofree char *k = g_strndup(key, klen);
            char *value;

            if (klen == 0) {
                error_setg(errp, "Expected parameter before '='");
                return NULL;
            }
            if (!keyval_key_valid(key, klen)) {
                error_setg(errp, "Invalid parameter '%s'", k);
                return NULL;
            }
            s = keyval_read_value(key + klen + 1, &value);
            g_hash_table_insert(h, g_steal_pointer(&k), value);
        } else {
            g_autofree char *k = g_strndup(key, klen);

            if (klen == 0) {
                /* ",," at an element start is an escaped comma in a value
                 * with an empty key: reject rather than guess. */
                error_setg(errp, "Expected parameter before ','");
                return NULL;
            }
            if (!keyval_key_valid(key, klen) || strchr(k, '.')) {
                error_setg(errp, "Expected '=' after parameter '%s'", k);
                return NULL;
            }
            keyval_store_flag(h, k);
            s = key + klen;
        }
        first = FALSE;

        if (*s == ',') {
            s++;        /* a trailing ',' is accepted, as QEMU does */
        }
    }
    return g_steal_pointer(&h);
}

gboolean keyval_parse_bool(const char *name, const char *value,
                           gboolean *out, GError **errp)
{
    static const char *const yes[] = { "on", "yes", "true", "y", NULL };
    static const char *const no[] = { "off", "no", "false", "n", NULL };

    if (value) {
        for (int i = 0; yes[i]; i++) {
            if (strcmp(value, yes[i]) == 0) {
                *out = TRUE;
                return TRUE;
            }
            if (strcmp(value, no[i]) == 0) {
                *out = FALSE;
                return TRUE;
            }
        }
    }
    error_setg(errp, "Parameter '%s' expects 'on' or 'off'", name);
    return FALSE;
}

/* Returns the multiplier for size suffix 'c', or 0 if it is none. */
static guint64 keyval_suffix_mult(char c)
{
    switch (c) {
    case 'b': case 'B':
        return 1;
    case 'k': case 'K':
        return 1ull << 10;
    case 'm': case 'M':
        return 1ull << 20;
    case 'g': case 'G':
        return 1ull << 30;
    case 't': case 'T':
        return 1ull << 40;
    default:
        return 0;
    }
}

gboolean keyval_parse_uint64(const char *name, const char *value,
                             gboolean allow_suffix, guint64 *out,
                             GError **errp)
{
    const char *p = value;
    char *end;
    guint64 v, mult = 1;

    if (!p) {
        goto bad;
    }
    while (g_ascii_isspace(*p)) {
        p++;
    }
    if (!g_ascii_isdigit(*p)) {
        goto bad;            /* no sign, no empty string */
    }
    errno = 0;
    v = g_ascii_strtoull(p, &end, 0);
    if (errno == ERANGE) {
        goto range;
    }
    if (errno != 0 || end == p) {
        goto bad;
    }
    if (*end && allow_suffix) {
        mult = keyval_suffix_mult(*end);
        if (!mult || end[1]) {
            goto bad;
        }
        if (v > G_MAXUINT64 / mult) {
            goto range;
        }
        v *= mult;
    } else if (*end) {
        goto bad;
    }
    *out = v;
    return TRUE;

range:
    error_setg(errp, "Parameter '%s' expects a non-negative number below 2^64",
               name);
    return FALSE;
bad:
    if (allow_suffix) {
        error_setg(errp, "Parameter '%s' expects a non-negative number "
                   "(optional suffix k, M, G or T)", name);
    } else {
        error_setg(errp, "Parameter '%s' expects a non-negative number", name);
    }
    return FALSE;
}

gboolean keyval_parse_int64(const char *name, const char *value,
                            gint64 *out, GError **errp)
{
    const char *p = value;
    char *end;
    gint64 v;

    if (!p) {
        goto bad;
    }
    while (g_ascii_isspace(*p)) {
        p++;
    }
    if (!(g_ascii_isdigit(*p) ||
          ((*p == '-' || *p == '+') && g_ascii_isdigit(p[1])))) {
        goto bad;
    }
    errno = 0;
    v = g_ascii_strtoll(p, &end, 0);
    if (errno == ERANGE) {
        error_setg(errp, "Parameter '%s' expects a number in the range of "
                   "int64", name);
        return FALSE;
    }
    if (errno != 0 || end == p || *end) {
        goto bad;
    }
    *out = v;
    return TRUE;

bad:
    error_setg(errp, "Parameter '%s' expects a number", name);
    return FALSE;
}

gboolean keyval_is_help(const char *params)
{
    size_t len, commas = 0;

    if (!params) {
        return FALSE;
    }
    if (strcmp(params, "help") == 0 || strcmp(params, "?") == 0) {
        return TRUE;
    }
    len = strlen(params);
    if (len >= 5 && strcmp(params + len - 5, ",help") == 0) {
        len -= 4;
    } else if (len >= 2 && strcmp(params + len - 2, ",?") == 0) {
        len -= 1;
    } else {
        return FALSE;
    }
    /* An odd run of commas ends in a separator; an even one is escapes. */
    while (len > 0 && params[len - 1] == ',') {
        commas++;
        len--;
    }
    return commas % 2 == 1;
}
