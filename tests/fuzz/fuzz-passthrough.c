/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-passthrough.c - fuzz target for net/passthrough.c, the
 * parser of colo-compare's passthrough rules (the passthrough= property
 * and colo-passthrough-add/-del).
 *
 * Input: cut at the first NUL, the text of a rule list.  Besides "no
 * crash, no out-of-bounds access" (ASan/UBSan in the libFuzzer and
 * check-asan builds) it checks, for any input:
 *   - passthrough_rule_parse() of the whole text succeeds xor sets an
 *     error;
 *   - a rule that parses prints a canonical text that parses to a rule
 *     printing the same text, and that overlaps the first;
 *   - passthrough_table_add_list() either adds every rule or leaves the
 *     table as it was; no two rules of the table overlap.
 * A violated property aborts, which libFuzzer reports as a crash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/passthrough.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-passthrough: %s:%d: property failed: " \
                    "%s\n", __FILE__, __LINE__, #cond);                  \
            abort();                                                    \
        }                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = g_strndup((const char *) data, MIN(size, 4096));
    PassthroughRule r, r2;
    GError *err = NULL;
    PassthroughTable *t;
    unsigned n;

    if (passthrough_rule_parse(text, &r, &err)) {
        char a[PASSTHROUGH_RULE_STRLEN], b[PASSTHROUGH_RULE_STRLEN];

        FUZZ_CHECK(!err);
        passthrough_rule_format(&r, a);
        FUZZ_CHECK(passthrough_rule_parse(a, &r2, NULL));
        FUZZ_CHECK(!strcmp(passthrough_rule_format(&r2, b), a));
        FUZZ_CHECK(passthrough_rules_overlap(&r, &r2));
    } else {
        FUZZ_CHECK(err && err->message);
        g_clear_error(&err);
    }

    t = passthrough_table_new(8);
    FUZZ_CHECK(passthrough_table_add_list(t, "icmp:10.0.0.0/8", NULL));
    if (!passthrough_table_add_list(t, text, &err)) {
        FUZZ_CHECK(err);
        g_clear_error(&err);
        FUZZ_CHECK(passthrough_table_count(t) == 1);
    }
    n = passthrough_table_count(t);
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = i + 1; j < n; j++) {
            FUZZ_CHECK(!passthrough_rules_overlap(passthrough_table_get(t, i),
                                                  passthrough_table_get(t, j)));
        }
    }
    passthrough_table_free(t);
    g_free(text);
    return 0;
}
