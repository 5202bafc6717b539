/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-keyval.c - fuzz target for util/keyval.c, the parser of
 * every -object, -netdev, -device and -chardev argument (and of the
 * key=value maps QMP's object-add builds).
 *
 * Input layout: byte 0 picks the implied key (none, "qom-type", "type")
 * and whether the number parsers are also run on every value; the rest,
 * cut at the first NUL, is the parameter string.  Besides "no crash, no
 * out-of-bounds access" (ASan/UBSan in the libFuzzer and check-asan
 * builds) it checks, for any input:
 *   - keyval_parse() returns a table xor sets an error, never both;
 *   - every key of a parsed table is a valid dotted name of at most 127
 *     bytes, and there are at most 1024 of them;
 *   - printing the table back as "key=value,..." (',' escaped as ',,')
 *     and parsing that again gives the same table (the grammar is its own
 *     inverse);
 *   - keyval_parse_uint64() / keyval_parse_int64() on a value either fail
 *     with an error or give a number that prints back and parses to the
 *     same number; keyval_parse_bool() accepts exactly QEMU's spellings.
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Built as the other targets are (tests/fuzz/meson.build): a libFuzzer
 * binary with -Dfuzzing=true, and always "fuzz-keyval-smoke", whose
 * main() (tests/fuzz/fuzz-smoke.c) replays tests/fuzz/corpus/keyval/ under `make check`.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/keyval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-keyval: %s:%d: property failed: %s\n", \
                    __FILE__, __LINE__, #cond);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

static bool key_valid(const char *k)
{
    size_t len = strlen(k), frag = 0;

    if (len == 0 || len > 127) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (k[i] == '.') {
            if (!frag) {
                return false;
            }
            frag = 0;
        } else if (g_ascii_isalnum(k[i]) || k[i] == '_' || k[i] == '-') {
            frag++;
        } else {
            return false;
        }
    }
    return frag > 0;
}

/* Appends 'v' with every ',' doubled. */
static void append_escaped(GString *s, const char *v)
{
    for (; *v; v++) {
        if (*v == ',') {
            g_string_append_c(s, ',');
        }
        g_string_append_c(s, *v);
    }
}

static void check_numbers(const char *value)
{
    GError *err = NULL;
    guint64 u = 0;
    gint64 i = 0;
    gboolean b = FALSE;

    if (keyval_parse_uint64("v", value, TRUE, &u, &err)) {
        char buf[32];
        guint64 u2 = 0;

        FUZZ_CHECK(!err);
        snprintf(buf, sizeof buf, "%" G_GUINT64_FORMAT, u);
        FUZZ_CHECK(keyval_parse_uint64("v", buf, FALSE, &u2, NULL));
        FUZZ_CHECK(u2 == u);
    } else {
        FUZZ_CHECK(err && err->message && *err->message);
        g_clear_error(&err);
    }
    if (keyval_parse_int64("v", value, &i, &err)) {
        char buf[32];
        gint64 i2 = 0;

        FUZZ_CHECK(!err);
        snprintf(buf, sizeof buf, "%" G_GINT64_FORMAT, i);
        FUZZ_CHECK(keyval_parse_int64("v", buf, &i2, NULL));
        FUZZ_CHECK(i2 == i);
    } else {
        FUZZ_CHECK(err && err->message && *err->message);
        g_clear_error(&err);
    }
    if (keyval_parse_bool("v", value, &b, &err)) {
        static const char *const ok[] = {
            "on", "off", "yes", "no", "true", "false", "y", "n", NULL,
        };
        bool known = false;

        for (int k = 0; ok[k]; k++) {
            known |= strcmp(value, ok[k]) == 0;
        }
        FUZZ_CHECK(known && !err);
    } else {
        FUZZ_CHECK(err);
        g_clear_error(&err);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const implied[] = { NULL, "qom-type", "type", NULL };
    const char *ikey;
    char *params;
    GHashTable *h, *h2;
    GError *err = NULL;
    GHashTableIter it;
    gpointer k, v;
    GString *again;
    bool numbers;

    if (size < 1) {
        return 0;
    }
    ikey = implied[data[0] & 3];
    numbers = data[0] & 4;
    params = g_strndup((const char *)data + 1, size - 1);

    (void)keyval_is_help(params);
    h = keyval_parse(params, ikey, &err);
    if (!h) {
        FUZZ_CHECK(err && err->message && *err->message);
        g_error_free(err);
        g_free(params);
        return 0;
    }
    FUZZ_CHECK(!err);
    FUZZ_CHECK(g_hash_table_size(h) <= 1024);

    again = g_string_new(NULL);
    g_hash_table_iter_init(&it, h);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        FUZZ_CHECK(key_valid(k));
        FUZZ_CHECK(v);
        if (again->len) {
            g_string_append_c(again, ',');
        }
        g_string_append_printf(again, "%s=", (const char *)k);
        append_escaped(again, v);
        if (numbers) {
            check_numbers(v);
        }
    }

    h2 = keyval_parse(again->str, NULL, &err);
    if (!h2) {
        fprintf(stderr, "fuzz-keyval: re-parse of '%s' failed: %s\n",
                again->str, err->message);
    }
    FUZZ_CHECK(h2);
    FUZZ_CHECK(g_hash_table_size(h2) == g_hash_table_size(h));
    g_hash_table_iter_init(&it, h);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const char *v2 = g_hash_table_lookup(h2, k);

        FUZZ_CHECK(v2 && strcmp(v2, v) == 0);
    }

    g_hash_table_unref(h2);
    g_string_free(again, TRUE);
    g_hash_table_unref(h);
    g_free(params);
    return 0;
}
