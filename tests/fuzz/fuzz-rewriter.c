/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-rewriter.c - fuzz target for the filter-rewriter engine
 * (net/rewriter-engine.c), on top of net/packet.c, net/checksum.c and
 * net/conntrack.c.
 *
 * An input is a script of records, each:
 *
 *   ctl(1) len(2, big-endian) frame(len)
 *
 * ctl bit 0: direction (1 = from the guest); bits 1-2: vnet header length
 * (0, 10, 12, 0); bit 3: a COLO checkpoint before the frame; bit 4:
 * rewriter_expire() before it; bit 5: failover before it; bits 6-7 advance
 * the clock (0, 1 ms, 1 s, 100 s).  One engine (8 connections at most, so
 * the eviction paths run) lives for the whole input.
 *
 * Properties besides "no crash, no out-of-bounds access" (ASan/UBSan in
 * the libFuzzer build):
 *   - a frame whose TCP checksum verified before still verifies after the
 *     rewrite (full recomputation: the incremental update is right);
 *   - only the bytes of seq, ack, SACK edges, timestamps and the checksum
 *     change; the length never does.
 * A violated property aborts.
 *
 * Built like fuzz-packet.c: a libFuzzer binary with -Dfuzzing=true, and
 * "fuzz-rewriter-smoke", which replays tests/fuzz/corpus/rewriter/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/checksum.h"
#include "net/packet.h"
#include "net/rewriter-engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                             \
        if (!(cond)) {                                                    \
            fprintf(stderr, "fuzz-rewriter: %s:%d: property failed: %s\n", \
                    __FILE__, __LINE__, #cond);                           \
            abort();                                                      \
        }                                                                 \
    } while (0)

/* May byte 'i' of the parsed frame 'pi' be changed by the rewriter? */
static bool may_change(const PacketInfo *pi, size_t i)
{
    size_t l4 = pi->l4_ofs;

    if (pi->l4_ofs == PACKET_OFS_NONE) {
        return false;
    }
    if (i >= l4 + 4 && i < l4 + 12) {
        return true;                    /* seq, ack */
    }
    if (pi->l4_csum_ofs != PACKET_OFS_NONE &&
        i >= pi->l4_csum_ofs && i < (size_t)pi->l4_csum_ofs + 2) {
        return true;
    }
    if (pi->tcp_ts_ofs != PACKET_OFS_NONE &&
        i >= pi->tcp_ts_ofs && i < (size_t)pi->tcp_ts_ofs + 8) {
        return true;
    }
    if (pi->tcp_sack_ofs != PACKET_OFS_NONE &&
        i >= pi->tcp_sack_ofs &&
        i < (size_t)pi->tcp_sack_ofs + 8u * pi->tcp_sack_blocks) {
        return true;
    }
    return false;
}

static void run_frame(Rewriter *rw, const uint8_t *data, size_t len,
                      unsigned vnet, RewriterDir dir, int64_t now)
{
    uint8_t *f = g_malloc(len ? len : 1);
    PacketInfo pi;
    bool ok_before = false;
    RewriterResult r;

    memcpy(f, data, len);
    if (packet_parse(f, len, vnet, &pi) == PACKET_OK &&
        pi.ip_proto == IP_PROTO_TCP && pi.l4_ofs != PACKET_OFS_NONE) {
        ok_before = csum_l4_verify(f, &pi) == CSUM_OK;
    }
    rewriter_set_vnet_hdr_len(rw, vnet);
    r = rewriter_rewrite(rw, f, len, dir, now);
    FUZZ_CHECK((unsigned)r < REWRITER_RESULT__MAX);
    if (r == REWRITER_REWRITTEN) {
        PacketInfo pi2;

        FUZZ_CHECK(packet_parse(f, len, vnet, &pi2) == PACKET_OK);
        if (ok_before) {
            FUZZ_CHECK(csum_l4_verify(f, &pi2) == CSUM_OK);
        }
        for (size_t i = 0; i < len; i++) {
            FUZZ_CHECK(f[i] == data[i] || may_change(&pi, i));
        }
    } else {
        FUZZ_CHECK(memcmp(f, data, len) == 0);
    }
    g_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned vnets[4] = { 0, 10, 12, 0 };
    static const int64_t steps[4] = { 0, 1000, G_USEC_PER_SEC,
                                      100 * G_USEC_PER_SEC };
    RewriterConfig cfg = { .max_connections = 8, .hash_seed = 1 };
    Rewriter *rw = rewriter_new(&cfg);
    int64_t now = 1000000;
    size_t pos = 0;

    while (pos + 3 <= size) {
        uint8_t ctl = data[pos];
        size_t len = packet_load_be16(data + pos + 1);

        pos += 3;
        if (len > size - pos) {
            len = size - pos;
        }
        now += steps[ctl >> 6];
        if (ctl & 8) {
            rewriter_checkpoint(rw);
        }
        if (ctl & 16) {
            rewriter_expire(rw, now, 4);
        }
        if (ctl & 32) {
            rewriter_failover(rw);
        }
        run_frame(rw, data + pos, len, vnets[(ctl >> 1) & 3],
                  ctl & 1 ? REWRITER_FROM_GUEST : REWRITER_TO_GUEST, now);
        pos += len;
    }
    rewriter_expire(rw, now + 1000 * G_USEC_PER_SEC, 0);
    rewriter_free(rw);
    return 0;
}
