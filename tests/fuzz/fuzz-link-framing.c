/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-link-framing.c - fuzz target for net/link-framing.c, the reader of
 * QEMU's link framing that every chardev link and stream netdev uses on
 * bytes from the network.
 *
 * Input layout: byte 0 selects the variant (bit 0: vnet_hdr_support; bit
 * 1: a small max_len taken from byte 1), bytes 2..9 are eight chunk sizes
 * (1..256) cycled over to cut the rest, the stream, into feeds.  Besides
 * "no crash, no out-of-bounds access" (ASan/UBSan in the libFuzzer build)
 * it checks, for any input:
 *   - the frames, their lengths, vnet lengths and payloads, and the first
 *     error are exactly those of a one-pass reference decoder over the
 *     whole stream, however it is cut;
 *   - every delivered length is in 1..max_len and vnet_hdr_len is at most
 *     min(len, 256);
 *   - after an error the reader is reset (a new stream parses cleanly).
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Built as tests/fuzz/fuzz-packet.c is: a libFuzzer binary with
 * -Dfuzzing=true, and always "fuzz-link-framing-smoke", whose main() (fuzz-smoke.c) replays the
 * files named on its command line (tests/fuzz/corpus/link-framing/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/link-framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-link-framing: %s:%d: property failed: %s\n",  \
                    __FILE__, __LINE__, #cond);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

#define HDR_BYTES 10
#define MAX_FRAMES 4096

/* What the reader delivered, checked against the reference as it comes. */
typedef struct {
    const uint8_t *stream;    /* the whole stream */
    size_t ref_off[MAX_FRAMES]; /* reference: payload offsets */
    uint32_t ref_len[MAX_FRAMES];
    uint32_t ref_vnet[MAX_FRAMES];
    unsigned ref_n;
    unsigned got_n;
    uint32_t max_len;
} Check;

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | p[3];
}

/* One pass over the whole stream; returns the first error or LINK_OK. */
static LinkError reference(Check *c, const uint8_t *p, size_t n, bool vnet)
{
    size_t off = 0, hsz = vnet ? 8 : 4;

    c->ref_n = 0;
    while (n - off >= hsz && c->ref_n < MAX_FRAMES) {
        uint32_t len = be32(p + off);
        uint32_t vl = vnet ? be32(p + off + 4) : 0;

        if (len == 0) {
            return LINK_ERR_ZERO;
        }
        if (len > c->max_len) {
            return LINK_ERR_OVERSIZE;
        }
        if (vnet && (vl > len || vl > LINK_VNET_MAX)) {
            return LINK_ERR_BAD_VNET;
        }
        if (n - off - hsz < len) {
            break;
        }
        c->ref_off[c->ref_n] = off + hsz;
        c->ref_len[c->ref_n] = len;
        c->ref_vnet[c->ref_n] = vl;
        c->ref_n++;
        off += hsz + len;
    }
    return LINK_OK;
}

static void on_frame(void *opaque, const uint8_t *buf, uint32_t len,
                     uint32_t vnet_len)
{
    Check *c = opaque;
    unsigned i = c->got_n++;

    FUZZ_CHECK(len >= 1 && len <= c->max_len);
    FUZZ_CHECK(vnet_len <= len && vnet_len <= LINK_VNET_MAX);
    FUZZ_CHECK(i < c->ref_n);
    FUZZ_CHECK(len == c->ref_len[i]);
    FUZZ_CHECK(vnet_len == c->ref_vnet[i]);
    FUZZ_CHECK(memcmp(buf, c->stream + c->ref_off[i], len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Check c;
    static const uint8_t ok_frame[] = { 0, 0, 0, 2, 0xab, 0xcd };
    uint8_t chunks[8];
    const uint8_t *stream;
    size_t n, off = 0;
    LinkError ref_err, err = LINK_OK;
    LinkReader r;
    bool vnet;
    unsigned k = 0;

    if (size < HDR_BYTES || size > MAX_FRAMES * 4) {
        return 0;             /* bounds the frame count (>= 5 bytes each) */
    }
    vnet = data[0] & 1;
    memset(&c, 0, sizeof(c));
    c.max_len = (data[0] & 2) ? (uint32_t)data[1] + 1 : LINK_MAX_LEN_DEFAULT;
    for (int i = 0; i < 8; i++) {
        chunks[i] = data[2 + i];
    }
    stream = data + HDR_BYTES;
    n = size - HDR_BYTES;
    c.stream = stream;
    ref_err = reference(&c, stream, n, vnet);

    link_reader_init(&r, vnet, (data[0] & 2) ? c.max_len : 0);
    while (off < n && c.got_n < MAX_FRAMES) {
        size_t len = (size_t)chunks[k++ % 8] + 1;
        GError *gerr = NULL;

        if (len > n - off) {
            len = n - off;
        }
        err = link_reader_feed(&r, stream + off, len, on_frame, &c, &gerr);
        off += len;
        FUZZ_CHECK((err == LINK_OK) == (gerr == NULL));
        if (gerr) {
            FUZZ_CHECK(gerr->message && gerr->message[0]);
            g_error_free(gerr);
            break;
        }
    }
    if (c.got_n < MAX_FRAMES && c.ref_n < MAX_FRAMES) {
        FUZZ_CHECK(err == ref_err);
        FUZZ_CHECK(c.got_n == c.ref_n);
    }
    if (err != LINK_OK) {
        /* Reset after an error: a fresh, valid stream parses. */
        FUZZ_CHECK(r.hdr_have == 0 && r.have == 0);
        FUZZ_CHECK(r.errors == 1);
    }
    link_reader_reset(&r);
    if (!vnet) {
        unsigned before = c.got_n;

        c.stream = ok_frame;
        c.ref_n = before + 1;
        c.ref_off[before] = 4;
        c.ref_len[before] = 2;
        c.ref_vnet[before] = 0;
        if (before < MAX_FRAMES && c.max_len >= 2) {
            FUZZ_CHECK(link_reader_feed(&r, ok_frame, sizeof(ok_frame),
                                         on_frame, &c, NULL) == LINK_OK);
            FUZZ_CHECK(c.got_n == before + 1);
        }
    }
    link_reader_destroy(&r);
    return 0;
}
