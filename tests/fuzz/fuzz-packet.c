/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-packet.c - fuzz target for net/packet.c, with the
 * checksum and connection-key code run on whatever parses.
 *
 * Each input is parsed as a frame with several virtio-net header lengths.
 * Besides "no crash, no out-of-bounds read" (ASan/UBSan in the libFuzzer
 * build), it checks properties that must hold for any input:
 *   - every offset/length in PacketInfo lies inside the input;
 *   - after csum_l4_fill() the frame verifies (CSUM_OK);
 *   - incremental updates (TCP seq/ack, any 4 bytes at the end of the
 *     segment at either offset parity) keep it verifying (RFC 1624 vs
 *     RFC 1071);
 *   - a packet and its mirror image (addresses and ports swapped) give the
 *     same connection key and hash, in opposite directions.
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Built two ways (tests/fuzz/meson.build):
 *   - with -Dfuzzing=true: a libFuzzer binary (-DFUZZING_ENGINE,
 *     -fsanitize=fuzzer); run it on tests/fuzz/corpus/packet/;
 *   - always: "fuzz-packet-smoke", whose main() (fuzz-smoke.c) feeds every file of
 *     the directories / files named on its command line once, so that
 *     `make check` replays the corpus (and any crash reproducer added to
 *     it) under the normal and ASan builds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/checksum.h"
#include "net/conntrack.h"
#include "net/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-packet: %s:%d: property failed: %s\n", \
                    __FILE__, __LINE__, #cond);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

static void check_bounds(const PacketInfo *pi, size_t size)
{
    size_t end = size;

    if (pi->ip_end_ofs) {
        FUZZ_CHECK(pi->ip_end_ofs <= size);
        end = pi->ip_end_ofs;
    }
    if (pi->l3_ofs != PACKET_OFS_NONE) {
        FUZZ_CHECK(pi->l3_ofs < size);
    }
    if (pi->l4_ofs != PACKET_OFS_NONE) {
        FUZZ_CHECK((size_t)pi->l4_ofs + pi->l4_len <= end);
    }
    if (pi->l4_csum_ofs != PACKET_OFS_NONE) {
        FUZZ_CHECK((size_t)pi->l4_csum_ofs + 2 <= end);
    }
    if (pi->payload_ofs != PACKET_OFS_NONE) {
        FUZZ_CHECK((size_t)pi->payload_ofs + pi->payload_len <= end);
    }
    if (pi->tcp_ts_ofs != PACKET_OFS_NONE) {
        FUZZ_CHECK((size_t)pi->tcp_ts_ofs + 8 <= pi->payload_ofs);
    }
    if (pi->tcp_sack_ofs != PACKET_OFS_NONE) {
        FUZZ_CHECK(pi->tcp_sack_blocks >= 1 && pi->tcp_sack_blocks <= 4);
        FUZZ_CHECK((size_t)pi->tcp_sack_ofs + 8 * pi->tcp_sack_blocks
                   <= pi->payload_ofs);
    }
    FUZZ_CHECK(pi->n_vlans <= PACKET_MAX_VLANS);
}

/* Checksum properties on a private, writable copy of the frame. */
static void check_checksums(const uint8_t *data, size_t size,
                            const PacketInfo *pi)
{
    uint8_t *f;
    CsumVerdict v = csum_l4_verify(data, pi);

    if (v == CSUM_UNCHECKABLE || v == CSUM_PARTIAL) {
        return;
    }
    f = malloc(size);
    FUZZ_CHECK(f);
    memcpy(f, data, size);
    FUZZ_CHECK(csum_l4_fill(f, pi));
    FUZZ_CHECK(csum_l4_verify(f, pi) == CSUM_OK);
    if (pi->ip_version == 4) {
        FUZZ_CHECK(csum_ipv4_fill(f, pi));
        FUZZ_CHECK(csum_ipv4_verify(f, pi));
    }

    if (packet_is_tcp(pi)) {
        uint16_t ofs[2] = { packet_tcp_seq_ofs(pi), packet_tcp_ack_ofs(pi) };
        int i;

        for (i = 0; i < 2; i++) {
            uint8_t old[4];

            memcpy(old, f + ofs[i], 4);
            packet_store_be32(f + ofs[i],
                              packet_load_be32(old) + 0x9e3779b9u);
            csum_update_l4_field(f + pi->l4_csum_ofs, old, f + ofs[i], 4,
                                 ofs[i] - pi->l4_ofs, csum_update_flags(pi));
            FUZZ_CHECK(csum_l4_verify(f, pi) == CSUM_OK);
        }
    }

    /* The last 4 and the 4 before the last byte of the segment, i.e. both
     * offset parities, when clear of the checksum field. */
    for (size_t back = 4; back <= 5; back++) {
        size_t fofs = (size_t)pi->l4_ofs + pi->l4_len - back;

        if (pi->l4_len >= back && fofs >= (size_t)pi->l4_csum_ofs + 2) {
            csum_l4_store_be32(f, pi, fofs, 0xa5a55a5au + back);
            FUZZ_CHECK(csum_l4_verify(f, pi) == CSUM_OK);
        }
    }
    free(f);
}

/* A packet and its mirror image share one key. */
static void check_key(const PacketInfo *pi)
{
    PacketInfo rev = *pi;
    ConnKey k1, k2;
    ConnDir d1, d2;
    bool same_ends;

    if (!conn_key_from_packet(&k1, pi, &d1)) {
        FUZZ_CHECK(pi->ip_version == 0);
        return;
    }
    rev.src = pi->dst;
    rev.dst = pi->src;
    rev.src_port = pi->dst_port;
    rev.dst_port = pi->src_port;
    FUZZ_CHECK(conn_key_from_packet(&k2, &rev, &d2));
    FUZZ_CHECK(conn_key_equal(&k1, &k2));
    FUZZ_CHECK(conn_key_hash(&k1, 42) == conn_key_hash(&k2, 42));
    same_ends = memcmp(k1.addr[0], k1.addr[1], 16) == 0
                && k1.port[0] == k1.port[1];
    FUZZ_CHECK(same_ends || d1 != d2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned vnets[] = { 0, 10, 12, 20 };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(vnets); i++) {
        PacketInfo pi;
        PacketVerdict v = packet_parse(data, size, vnets[i], &pi);

        FUZZ_CHECK((unsigned)v < PACKET_VERDICT__MAX);
        FUZZ_CHECK(strcmp(packet_verdict_name(v), "invalid") != 0);
        check_bounds(&pi, size);
        if (v != PACKET_OK) {
            continue;
        }
        check_checksums(data, size, &pi);
        check_key(&pi);
    }
    return 0;
}
