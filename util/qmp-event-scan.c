/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/qmp-event-scan.c - QEMU's per-checkpoint QMP events recognised
 * without a JSON tree (include/util/qmp-event-scan.h).
 *
 * A cursor over the bytes; every step either matches exactly what QEMU
 * writes or gives up (NULL), so a line that is not one of the three
 * shapes is never half-understood here: the caller's full parser has it.
 */
#include <string.h>

#include "util/qmp-event-scan.h"

typedef struct Cur {
    const char *p, *end;
} Cur;

static void ws(Cur *c)
{
    while (c->p < c->end &&
           (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' ||
            *c->p == '\n')) {
        c->p++;
    }
}

/* Optional whitespace, then exactly 'tok'. */
static int tok(Cur *c, const char *tok)
{
    size_t n = strlen(tok);

    ws(c);
    if ((size_t) (c->end - c->p) < n || memcmp(c->p, tok, n) != 0) {
        return 0;
    }
    c->p += n;
    return 1;
}

/* Optional whitespace, then an unsigned integer JSON reads as such: no
 * sign, no leading zero unless it is 0, no fraction or exponent, at most
 * 18 digits (well inside gint64). */
static int uint_(Cur *c)
{
    const char *s;

    ws(c);
    s = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        c->p++;
    }
    if (c->p == s || c->p - s > 18 || (*s == '0' && c->p - s > 1)) {
        return 0;
    }
    /* "1.5" or "1e3" is a number, but not one of QEMU's here */
    return !(c->p < c->end &&
             (*c->p == '.' || *c->p == 'e' || *c->p == 'E'));
}

const char *qmp_scan_checkpoint_event(const char *line, size_t len)
{
    static const char *const names[] = { "STOP", "RESUME",
                                         "MIGRATION_PASS" };
    Cur c = { line, line + len };
    const char *name = NULL;

    if (!line || !tok(&c, "{") || !tok(&c, "\"timestamp\"") ||
        !tok(&c, ":") || !tok(&c, "{") || !tok(&c, "\"seconds\"") ||
        !tok(&c, ":") || !uint_(&c) || !tok(&c, ",") ||
        !tok(&c, "\"microseconds\"") || !tok(&c, ":") || !uint_(&c) ||
        !tok(&c, "}") || !tok(&c, ",") || !tok(&c, "\"event\"") ||
        !tok(&c, ":") || !tok(&c, "\"")) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);

        if ((size_t) (c.end - c.p) > n && memcmp(c.p, names[i], n) == 0 &&
            c.p[n] == '"') {
            name = names[i];
            c.p += n + 1;
            break;
        }
    }
    if (!name) {
        return NULL;
    }
    if (name == names[2]) {
        /* MIGRATION_PASS carries its pass number, and only that */
        if (!tok(&c, ",") || !tok(&c, "\"data\"") || !tok(&c, ":") ||
            !tok(&c, "{") || !tok(&c, "\"pass\"") || !tok(&c, ":") ||
            !uint_(&c) || !tok(&c, "}")) {
            return NULL;
        }
    }
    if (!tok(&c, "}")) {
        return NULL;
    }
    ws(&c);
    return c.p == c.end ? name : NULL;
}
