/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-heartbeat.c - fuzz target for colo-heartbeat's
 * messages as they come from the peer: QEMU's framing (net/link-framing.c,
 * max_len LINK_HB_MAX_MSG, no vnet field) carrying "COLO_HEARTBEAT <seq>"
 * (net/link-msg.c), and the sequence bookkeeping of colo/heartbeat.c.
 *
 * Input layout: bytes 0..7 are eight chunk sizes (1..256) cycled over to
 * cut the rest, the bytes the peer sent, into reads; bytes 8..15 are a
 * 64-bit sequence number for the formatter's round trip.  A framing error
 * or a message that is not a heartbeat ends the connection, as in
 * colo-heartbeat.  Besides "no crash, no out-of-bounds access" it checks:
 *   - link_hb_parse() accepts exactly what an independent decoder
 *     (strtoull with its overflow report) accepts, with the same value:
 *     the magic, then 1..49 decimal digits of a value below 2^64;
 *   - link_hb_format() of any value fits in LINK_HB_MAX_MSG and parses
 *     back to it; a canonical message (no leading zero) formats back to
 *     the same bytes; the same for link_hb_gone_format() and
 *     link_hb_gone_parse(), and neither parser takes the other's message;
 *   - the messages heard, the out-of-order count (a sequence number not
 *     above the previous one: the peer restarted) and how the connection
 *     ended are the same however the stream is cut.
 * A violated property aborts, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/link-framing.h"
#include "net/link-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-heartbeat: %s:%d: property failed: "   \
                    "%s\n", __FILE__, __LINE__, #cond);                 \
            abort();                                                    \
        }                                                               \
    } while (0)

#define HDR_BYTES 16

typedef struct {
    uint64_t received;
    uint64_t out_of_order;
    uint64_t seq_in;
    uint64_t seq_sum;         /* a digest of the values heard */
    bool bad;                 /* ended by a message that is not one */
    LinkError err;           /* ended by a framing error */
    LinkReader *fr;
} Run;

/* The independent decoder. */
static bool reference_parse(const uint8_t *buf, uint32_t len, uint64_t *seq)
{
    const size_t mlen = strlen("COLO_HEARTBEAT ");
    g_autofree char *digits = NULL;
    unsigned long long v;
    char *end;

    if (len > 64 || len <= mlen || memcmp(buf, "COLO_HEARTBEAT ", mlen)) {
        return false;
    }
    for (size_t i = mlen; i < len; i++) {
        if (!g_ascii_isdigit(buf[i])) {
            return false;
        }
    }
    digits = g_strndup((const char *) buf + mlen, len - mlen);
    errno = 0;
    v = strtoull(digits, &end, 10);
    if (errno == ERANGE || *end) {
        return false;
    }
    *seq = v;
    return true;
}

/* colo-heartbeat's hb_frame() and hb_peer_heard(), counted. */
static void on_frame(void *opaque, const uint8_t *buf, uint32_t len,
                     uint32_t vnet_len)
{
    Run *r = opaque;
    uint64_t seq = 0, ref = 0;
    bool ok = link_hb_parse(buf, len, &seq);
    char again[LINK_HB_MAX_MSG];
    size_t n;

    (void) vnet_len;
    FUZZ_CHECK(!r->bad);
    FUZZ_CHECK(ok == reference_parse(buf, len, &ref));
    if (!ok) {
        /* as hb_frame(): the reset ends this feed, the connection goes */
        r->bad = true;
        link_reader_reset(r->fr);
        return;
    }
    FUZZ_CHECK(seq == ref);
    n = link_hb_format(again, seq);
    if (buf[strlen(LINK_HB_MAGIC)] != '0' || len == strlen(LINK_HB_MAGIC) + 1) {
        FUZZ_CHECK(n == len && memcmp(again, buf, len) == 0);
    }
    if (seq <= r->seq_in && r->received) {
        r->out_of_order++;
    }
    r->seq_in = seq;
    r->received++;
    r->seq_sum = r->seq_sum * 31 + seq;
}

static void run(Run *r, const uint8_t *stream, size_t n,
                const uint8_t *chunks)
{
    LinkReader fr;
    size_t off = 0;
    unsigned k = 0;

    memset(r, 0, sizeof(*r));
    link_reader_init(&fr, false, LINK_HB_MAX_MSG);
    r->fr = &fr;
    while (off < n && !r->bad) {
        size_t c = chunks ? (size_t) chunks[k++ % 8] % 256 + 1 : n;
        GError *err = NULL;

        c = MIN(c, n - off);
        r->err = link_reader_feed(&fr, stream + off, c, on_frame, r, &err);
        off += c;
        if (r->err != LINK_OK) {
            g_error_free(err);
            break;
        }
    }
    link_reader_destroy(&fr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Run ref, got;
    char msg[LINK_HB_MAX_MSG];
    uint64_t v = 0, back = 0;
    size_t n;

    if (size < HDR_BYTES || size > 65536) {
        return 0;
    }
    for (int i = 0; i < 8; i++) {
        v = v << 8 | data[8 + i];
    }
    n = link_hb_format(msg, v);
    FUZZ_CHECK(n > strlen(LINK_HB_MAGIC) && n < LINK_HB_MAX_MSG);
    FUZZ_CHECK(link_hb_parse((const uint8_t *) msg, (uint32_t) n, &back));
    FUZZ_CHECK(back == v);
    FUZZ_CHECK(!link_hb_gone_parse((const uint8_t *) msg, (uint32_t) n,
                                   &back));
    /* the "QEMU gone" message: its own round trip, never a heartbeat */
    n = link_hb_gone_format(msg, v);
    FUZZ_CHECK(n > strlen(LINK_HB_GONE_MAGIC) && n < LINK_HB_MAX_MSG);
    back = 0;
    FUZZ_CHECK(link_hb_gone_parse((const uint8_t *) msg, (uint32_t) n,
                                  &back));
    FUZZ_CHECK(back == v);
    FUZZ_CHECK(!link_hb_parse((const uint8_t *) msg, (uint32_t) n, &back));

    run(&ref, data + HDR_BYTES, size - HDR_BYTES, NULL);
    run(&got, data + HDR_BYTES, size - HDR_BYTES, data);
    FUZZ_CHECK(got.received == ref.received);
    FUZZ_CHECK(got.out_of_order == ref.out_of_order);
    FUZZ_CHECK(got.seq_sum == ref.seq_sum);
    FUZZ_CHECK(got.bad == ref.bad);
    FUZZ_CHECK(got.err == ref.err);
    return 0;
}
