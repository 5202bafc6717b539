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

bool link_hb_parse(const uint8_t *buf, uint32_t len, uint64_t *seq)
{
    const uint32_t mlen = (uint32_t) strlen(LINK_HB_MAGIC);
    uint64_t v = 0;

    if (len <= mlen || len > LINK_HB_MAX_MSG
        || memcmp(buf, LINK_HB_MAGIC, mlen) != 0) {
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

size_t link_hb_format(char buf[LINK_HB_MAX_MSG], uint64_t seq)
{
    /* "COLO_HEARTBEAT " + at most 20 digits + NUL fits in 64 */
    int n = snprintf(buf, LINK_HB_MAX_MSG, LINK_HB_MAGIC "%" PRIu64, seq);

    return (size_t) n;
}
