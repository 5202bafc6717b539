/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/link-msg.c - the notify_dev and heartbeat text protocols
 * (include/net/link-msg.h).  Pure: bytes in, verdicts out.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "net/link-msg.h"

static bool is(const uint8_t *buf, uint32_t len, const char *word)
{
    size_t n = strlen(word);

    return len == n && memcmp(buf, word, n) == 0;
}

LinkNotifyMsg link_notify_parse(const uint8_t *buf, uint32_t len)
{
    if (is(buf, len, NOTIFY_TEXT_INIT)) {
        return LINK_NOTIFY_MSG_INIT;
    }
    if (is(buf, len, NOTIFY_TEXT_CHECKPOINT)) {
        return LINK_NOTIFY_MSG_CHECKPOINT;
    }
    return LINK_NOTIFY_MSG_UNKNOWN;
}

/* "<magic><seq>": the magic, then decimal digits of a 64-bit value. */
static bool parse_seq(const uint8_t *buf, uint32_t len, const char *magic,
                      uint64_t *seq)
{
    const uint32_t mlen = (uint32_t) strlen(magic);
    uint64_t v = 0;

    if (len <= mlen || len > LINK_HB_MAX_MSG
        || memcmp(buf, magic, mlen) != 0) {
        return false;
    }
    for (uint32_t i = mlen; i < len; i++) {
        unsigned d = (unsigned) buf[i] - '0';

        /* v * 10 + d must fit: every 64-bit value is accepted, none
         * wraps. */
        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *seq = v;
    return true;
}

bool link_hb_parse(const uint8_t *buf, uint32_t len, uint64_t *seq)
{
    return parse_seq(buf, len, LINK_HB_MAGIC, seq);
}

bool link_hb_gone_parse(const uint8_t *buf, uint32_t len, uint64_t *seq)
{
    return parse_seq(buf, len, LINK_HB_GONE_MAGIC, seq);
}

/* The magic + at most 20 digits + NUL fits in LINK_HB_MAX_MSG. */
size_t link_hb_format(char buf[LINK_HB_MAX_MSG], uint64_t seq)
{
    return (size_t) snprintf(buf, LINK_HB_MAX_MSG, LINK_HB_MAGIC "%" PRIu64,
                             seq);
}

size_t link_hb_gone_format(char buf[LINK_HB_MAX_MSG], uint64_t seq)
{
    return (size_t) snprintf(buf, LINK_HB_MAX_MSG,
                             LINK_HB_GONE_MAGIC "%" PRIu64, seq);
}
