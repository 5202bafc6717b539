/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-compare.c - fuzz target for the colo-compare engine
 * (net/compare-engine.c), with the parser and connection table under it.
 *
 * An input is a script of records, each one opcode byte then operands:
 *
 *   0x00 LEN16 BYTES      a raw primary frame (LEN16 big-endian, <= 2048)
 *   0x01 LEN16 BYTES      a raw secondary frame
 *   0x02 MS8              time passes (MS8 * 10 ms), then compare_scan()
 *   0x03                  a checkpoint (compare_checkpoint())
 *   0x04                  failover (compare_failover())
 *   0x05 SIDE FLOW FLAGS SEQ16 ACK16 LEN8
 *                         a well-formed IPv4 TCP segment of flow FLOW%4,
 *                         side SIDE&1, sequence ISN+SEQ16 (the secondary's
 *                         ISN differs), ack, LEN8 payload bytes of a
 *                         pattern both sides share (SIDE&2 flips a byte)
 *   0x06 SIDE FLOW LEN8   a UDP datagram, the same way
 *   other                 ends the script
 *
 * The engine runs with small bounds (4 frames per queue, 8 connections,
 * 16 frames per side in all) so that full queues, the global bound and a
 * full table are reached.  Properties checked
 * (abort = crash for libFuzzer):
 *   - every released frame is byte-identical to a primary frame fed in
 *     and not yet released (no corruption, nothing released twice);
 *   - after the final compare_flush() every primary frame has been
 *     released exactly once and nothing is held;
 *   - the held counts never exceed the bounds.
 *
 * Built like tests/fuzz/fuzz-packet.c: a libFuzzer binary with
 * -Dfuzzing=true, and always "fuzz-compare-smoke", which replays
 * tests/fuzz/corpus/compare/ in `make check`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/compare-engine.h"
#include "net/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXQ 4u
#define MAXC 8u

static GHashTable *outstanding;     /* GBytes -> count of unreleased */
static uint64_t fed_primary;
static uint64_t released;

static void fz_release(void *opaque, const uint8_t *buf, uint32_t len,
                       uint32_t vnet)
{
    GBytes *b = g_bytes_new_static(buf, len);
    gpointer n = g_hash_table_lookup(outstanding, b);

    (void) opaque;
    (void) vnet;
    if (!n) {
        fprintf(stderr, "released a frame that is not outstanding\n");
        abort();
    }
    if (GPOINTER_TO_UINT(n) == 1) {
        g_hash_table_remove(outstanding, b);
    } else {
        g_hash_table_insert(outstanding, g_bytes_new(buf, len),
                            GUINT_TO_POINTER(GPOINTER_TO_UINT(n) - 1));
    }
    g_bytes_unref(b);
    released++;
}

static void fz_checkpoint(void *opaque, CompareCkptReason r, const char *d)
{
    (void) opaque;
    (void) d;
    if ((unsigned) r >= COMPARE_CKPT__MAX) {
        abort();
    }
}

static const CompareOps fz_ops = {
    .release = fz_release,
    .checkpoint = fz_checkpoint,
};

static void feed(CompareEngine *e, int side, const uint8_t *buf, size_t len,
                 int64_t now)
{
    CompareStats st;

    if (side == COMPARE_PRIMARY) {
        GBytes *b = g_bytes_new(buf, len);
        gpointer n = g_hash_table_lookup(outstanding, b);

        g_hash_table_insert(outstanding, b,
                            GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
        fed_primary++;
    }
    compare_input(e, side, buf, len, 0, now);
    compare_get_stats(e, &st);
    if (st.held[0] > (uint64_t) MAXQ * MAXC
        || st.held[1] > (uint64_t) MAXQ * MAXC
        || st.connections > MAXC) {
        fprintf(stderr, "bound exceeded\n");
        abort();
    }
}

static size_t build_l4(uint8_t *f, int proto, unsigned flow, uint32_t seq,
                       uint32_t ack, uint8_t flags, unsigned plen, int flip)
{
    size_t l4 = 34, hl = proto == IP_PROTO_TCP ? 20 : 8;
    size_t len = l4 + hl + plen;

    memset(f, 0, 64);
    memcpy(f, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
    f[14] = 0x45;
    packet_store_be16(f + 16, 20 + hl + plen);
    f[22] = 64;
    f[23] = proto;
    packet_store_be32(f + 26, 0x0a000001);
    packet_store_be32(f + 30, 0x0a000100 + flow);
    packet_store_be16(f + l4, 80);
    packet_store_be16(f + l4 + 2, 1000 + flow);
    if (proto == IP_PROTO_TCP) {
        packet_store_be32(f + l4 + 4, seq);
        packet_store_be32(f + l4 + 8, ack);
        f[l4 + 12] = 5 << 4;
        f[l4 + 13] = flags;
    } else {
        packet_store_be16(f + l4 + 4, 8 + plen);
    }
    for (unsigned i = 0; i < plen; i++) {
        f[l4 + hl + i] = (uint8_t) ((seq + i) * 31);
    }
    if (flip && plen) {
        f[l4 + hl] ^= 0x80;
    }
    if (len < 60) {
        len = 60;
    }
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    CompareConfig cfg;
    CompareEngine *e;
    CompareStats st;
    int64_t now = 1000000;
    size_t i = 0;
    uint8_t frame[2048 + 64];

    compare_config_init(&cfg);
    cfg.max_queue_size = MAXQ;
    cfg.max_connections = MAXC;
    cfg.max_held = MAXQ * MAXC / 2;     /* reached before the sum of queues */
    cfg.compare_timeout_us = 50000;
    cfg.udp_idle_us = cfg.other_idle_us = 200000;
    cfg.tcp_closed_idle_us = 300000;
    cfg.tcp_idle_us = 1000000;
    outstanding = g_hash_table_new_full(g_bytes_hash, g_bytes_equal,
                                        (GDestroyNotify) g_bytes_unref, NULL);
    fed_primary = released = 0;
    e = compare_new(&cfg, &fz_ops, NULL);

    while (i < size) {
        uint8_t op = data[i++];

        if (op <= 1) {
            size_t len;

            if (size - i < 2) {
                break;
            }
            len = packet_load_be16(data + i);
            i += 2;
            if (len > 2048 || len > size - i) {
                break;
            }
            /* an exact-size copy: sanitizers see reads past the end */
            {
                uint8_t *exact = g_malloc(len ? len : 1);

                memcpy(exact, data + i, len);
                feed(e, op, exact, len, now);
                g_free(exact);
            }
            i += len;
        } else if (op == 2) {
            if (i >= size) {
                break;
            }
            now += data[i++] * 10000;
            compare_scan(e, now, 0);
        } else if (op == 3) {
            compare_checkpoint(e);
        } else if (op == 4) {
            compare_failover(e);
        } else if (op == 5) {
            uint8_t side, flow, flags, plen;
            uint32_t seq, ack;
            size_t len;

            if (size - i < 8) {
                break;
            }
            side = data[i];
            flow = data[i + 1] % 4;
            flags = data[i + 2];
            seq = packet_load_be16(data + i + 3);
            ack = packet_load_be16(data + i + 5);
            plen = data[i + 7];
            i += 8;
            seq += (side & 1) ? 0x7ffff000u : 0xfffff000u;
            len = build_l4(frame, IP_PROTO_TCP, flow, seq, ack, flags, plen,
                           side & 2);
            feed(e, side & 1, frame, len, now);
        } else if (op == 6) {
            size_t len;

            if (size - i < 3) {
                break;
            }
            len = build_l4(frame, IP_PROTO_UDP, data[i + 1] % 4, 0, 0, 0,
                           data[i + 2], data[i] & 2);
            feed(e, data[i] & 1, frame, len, now);
            i += 3;
        } else {
            break;
        }
        now += 10;
    }
    compare_flush(e, COMPARE_UNCMP_SHUTDOWN);
    compare_get_stats(e, &st);
    if (released != fed_primary || st.released != fed_primary
        || st.held[0] || st.held[1]
        || g_hash_table_size(outstanding) != 0) {
        fprintf(stderr, "fed %llu primary frames, released %llu\n",
                (unsigned long long) fed_primary,
                (unsigned long long) released);
        abort();
    }
    compare_free(e);
    g_hash_table_destroy(outstanding);
    return 0;
}

#ifndef FUZZING_ENGINE
/* The smoke run (tests/fuzz/fuzz-smoke.c) also replays generated
 * scripts after the corpus. */
void fuzz_smoke_extra(void);

void fuzz_smoke_extra(void)
{
    /* plus a few thousand random scripts, so that the smoke run covers
     * more than the corpus (fixed seed: reproducible; more with
     * FUZZ_COMPARE_ITERATIONS=N, another seed with FUZZ_COMPARE_SEED=S) */
    {
        const char *it = g_getenv("FUZZ_COMPARE_ITERATIONS");
        const char *seed = g_getenv("FUZZ_COMPARE_SEED");
        int iterations = it ? atoi(it) : 3000;
        GRand *r = g_rand_new_with_seed(seed ? atoi(seed) : 4);

        for (int k = 0; k < iterations; k++) {
            uint8_t buf[1024];
            size_t len = 0;
            int nrec = g_rand_int_range(r, 1, 60);
            uint16_t seq[2][4] = { { 0 } };

            /* well-formed records, mostly TCP segments that follow each
             * other on both sides with now and then a gap, an overlap, a
             * flipped byte or odd flags */
            for (int rec = 0; rec < nrec && len + 16 < sizeof buf; rec++) {
                int op = g_rand_int_range(r, 0, 100);

                if (op < 60) {
                    int side = g_rand_int_range(r, 0, 2);
                    int flow = g_rand_int_range(r, 0, 4);
                    uint8_t plen = g_rand_int_range(r, 0, 40);
                    uint8_t flags = 0x10;
                    int16_t jitter = 0;

                    if (g_rand_int_range(r, 0, 8) == 0) {
                        jitter = g_rand_int_range(r, -20, 20);
                    }
                    if (g_rand_int_range(r, 0, 20) == 0) {
                        flags = g_rand_int(r);
                    }
                    buf[len++] = 5;
                    buf[len++] = side | (g_rand_int_range(r, 0, 30) ? 0 : 2);
                    buf[len++] = flow;
                    buf[len++] = flags;
                    packet_store_be16(buf + len, seq[side][flow] + jitter);
                    packet_store_be16(buf + len + 2,
                                      g_rand_int_range(r, 0, 3));
                    buf[len + 4] = plen;
                    len += 5;
                    seq[side][flow] += plen;
                } else if (op < 80) {
                    buf[len++] = 6;
                    buf[len++] = g_rand_int_range(r, 0, 2)
                                 | (g_rand_int_range(r, 0, 20) ? 0 : 2);
                    buf[len++] = g_rand_int_range(r, 0, 4);
                    buf[len++] = g_rand_int_range(r, 0, 30);
                } else if (op < 90) {
                    buf[len++] = 2;
                    buf[len++] = g_rand_int_range(r, 0, 30);
                } else if (op < 97) {
                    buf[len++] = 3;
                } else if (op < 98) {
                    buf[len++] = 4;
                } else {
                    /* a raw frame of random bytes */
                    uint16_t flen = g_rand_int_range(r, 0, 80);

                    buf[len++] = g_rand_int_range(r, 0, 2);
                    packet_store_be16(buf + len, flen);
                    len += 2;
                    for (uint16_t j = 0; j < flen && len < sizeof buf; j++) {
                        buf[len++] = g_rand_int(r);
                    }
                    if (len >= sizeof buf) {
                        break;
                    }
                }
            }
            LLVMFuzzerTestOneInput(buf, len);
        }
        g_rand_free(r);
    }
}
#endif
