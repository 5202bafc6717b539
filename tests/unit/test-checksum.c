/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-checksum.c - unit tests of net/checksum.c.
 *
 * Three independent oracles:
 *   - the worked example of RFC 1071 section 3;
 *   - ref_sum(), a byte-at-a-time big-endian sum written the obvious way,
 *     against which csum_partial() is compared on random buffers at every
 *     alignment and split;
 *   - frames whose checksums were computed outside this code base (Python 3
 *     standard library, RFC 1071: sum the big-endian 16-bit words of
 *     pseudo-header + segment, fold, complement), tests/unit/golden-frames.h.
 * The RFC 1624 incremental helpers are then checked against full
 * recomputation 100000 times each (16, 32, 128 bits, any offset parity),
 * and the frame-level update helper against csum_l4_verify() for TCP, UDP
 * (zero rule), IPv4 and IPv6 addresses, and virtio-net partial checksums.
 */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "net/checksum.h"
#include "net/packet.h"
#include "golden-frames.h"

typedef struct {
    const char *name;
    const uint8_t *data;
    size_t len;
    uint16_t l4_csum;           /* the value computed outside */
} Golden;

static const Golden goldens[] = {
    { "syn4", syn4, sizeof syn4, 0x9c5f },
    { "data4", data4, sizeof data4, 0xc4c7 },
    { "tcp6", tcp6, sizeof tcp6, 0x2a0b },
    { "vlan_udp4", vlan_udp4, sizeof vlan_udp4, 0x4034 },
    { "qinq_udp6", qinq_udp6, sizeof qinq_udp6, 0x97cc },
    { "icmp4", icmp4, sizeof icmp4, 0xdee8 },
    { "icmp6", icmp6, sizeof icmp6, 0x6ac5 },
};

/* The obvious reference: big-endian words, byte at a time, folded. */
static uint16_t ref_sum(const uint8_t *p, size_t len)
{
    uint64_t s = 0;
    size_t i;

    for (i = 0; i + 1 < len; i += 2) {
        s += (p[i] << 8) | p[i + 1];
    }
    if (len & 1) {
        s += p[len - 1] << 8;
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return s;
}

static void fill_random(GRand *rng, uint8_t *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        p[i] = g_rand_int(rng);
    }
}

START_TEST(test_rfc1071_example)
{
    /* RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2. */
    static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03,
                                 0xf4, 0xf5, 0xf6, 0xf7 };

    ck_assert_uint_eq(csum_fold(csum_partial(b, sizeof b, 0)), 0xddf2);
    ck_assert_uint_eq(csum_buf(b, sizeof b), 0x220d);
    /* Byte-order independence: the swapped bytes sum to the swapped sum. */
    {
        static const uint8_t s[] = { 0x01, 0x00, 0x03, 0xf2,
                                     0xf5, 0xf4, 0xf7, 0xf6 };
        ck_assert_uint_eq(csum_fold(csum_partial(s, sizeof s, 0)), 0xf2dd);
    }
    /* An odd trailing byte is the high byte of a zero-padded word. */
    ck_assert_uint_eq(csum_fold(csum_partial("\x01", 1, 0)), 0x0100);
    ck_assert_uint_eq(csum_fold(csum_partial(b, 3, 0)), 0xf201);
    /* Empty data. */
    ck_assert_uint_eq(csum_fold(csum_partial(b, 0, 0)), 0);
    ck_assert_uint_eq(csum_buf(b, 0), 0xffff);
}
END_TEST

START_TEST(test_partial_vs_reference)
{
    GRand *rng = g_rand_new_with_seed(1071);
    uint8_t buf[1600 + 8];
    int iter;

    for (iter = 0; iter < 20000; iter++) {
        size_t len = g_rand_int_range(rng, 0, 1601);
        size_t align = g_rand_int_range(rng, 0, 8);

        fill_random(rng, buf + align, len);
        if (iter % 100 == 0) {
            memset(buf + align, 0xff, len);     /* carries everywhere */
        }
        ck_assert_uint_eq(csum_fold(csum_partial(buf + align, len, 0)),
                          ref_sum(buf + align, len));
    }
    g_rand_free(rng);
}
END_TEST

START_TEST(test_partial_split)
{
    GRand *rng = g_rand_new_with_seed(2);
    uint8_t buf[300];
    int iter;

    /* Summing in two pieces at any split point, odd ones through
     * csum_shift(), gives the sum of the whole. */
    for (iter = 0; iter < 20000; iter++) {
        size_t len = g_rand_int_range(rng, 1, sizeof buf + 1);
        size_t cut = g_rand_int_range(rng, 0, len + 1);
        uint32_t a, b;

        fill_random(rng, buf, len);
        a = csum_partial(buf, cut, 0);
        b = csum_shift(csum_partial(buf + cut, len - cut, 0), cut);
        ck_assert_uint_eq(csum_fold(csum_add(a, b)), ref_sum(buf, len));
    }
    g_rand_free(rng);
}
END_TEST

START_TEST(test_replace16)
{
    GRand *rng = g_rand_new_with_seed(16);
    uint8_t seg[64];
    int iter;

    for (iter = 0; iter < 100000; iter++) {
        size_t at = g_rand_int_range(rng, 0, sizeof seg / 2) * 2;
        uint16_t before, old, new;

        fill_random(rng, seg, sizeof seg);
        before = csum_buf(seg, sizeof seg);
        old = packet_load_be16(seg + at);
        new = g_rand_int(rng);
        packet_store_be16(seg + at, new);
        ck_assert_uint_eq(csum_replace16(before, old, new),
                          csum_buf(seg, sizeof seg));
    }
    g_rand_free(rng);
}
END_TEST

START_TEST(test_replace32)
{
    GRand *rng = g_rand_new_with_seed(32);
    uint8_t seg[64];
    int iter;

    for (iter = 0; iter < 100000; iter++) {
        size_t at = g_rand_int_range(rng, 0, sizeof seg / 2 - 1) * 2;
        uint16_t before;
        uint32_t old, new;

        fill_random(rng, seg, sizeof seg);
        before = csum_buf(seg, sizeof seg);
        old = packet_load_be32(seg + at);
        new = g_rand_int(rng);
        packet_store_be32(seg + at, new);
        ck_assert_uint_eq(csum_replace32(before, old, new),
                          csum_buf(seg, sizeof seg));
    }
    g_rand_free(rng);
}
END_TEST

START_TEST(test_replace128)
{
    GRand *rng = g_rand_new_with_seed(128);
    uint8_t seg[80], old[16];
    int iter;

    for (iter = 0; iter < 100000; iter++) {
        size_t at = g_rand_int_range(rng, 0, (sizeof seg - 16) / 2 + 1) * 2;
        uint16_t before;

        fill_random(rng, seg, sizeof seg);
        before = csum_buf(seg, sizeof seg);
        memcpy(old, seg + at, 16);
        fill_random(rng, seg + at, 16);
        ck_assert_uint_eq(csum_replace128(before, old, seg + at),
                          csum_buf(seg, sizeof seg));
    }
    g_rand_free(rng);
}
END_TEST

START_TEST(test_replace_bytes_odd)
{
    GRand *rng = g_rand_new_with_seed(3);
    uint8_t seg[77], old[20];      /* odd total length too */
    int iter;

    for (iter = 0; iter < 100000; iter++) {
        size_t len = g_rand_int_range(rng, 1, sizeof old + 1);
        size_t at = g_rand_int_range(rng, 0, sizeof seg - len + 1);
        uint16_t before;

        fill_random(rng, seg, sizeof seg);
        before = csum_buf(seg, sizeof seg);
        memcpy(old, seg + at, len);
        fill_random(rng, seg + at, len);
        ck_assert_uint_eq(csum_replace_bytes(before, at, old, seg + at, len),
                          csum_buf(seg, sizeof seg));
    }
    g_rand_free(rng);
}
END_TEST

START_TEST(test_goldens_verify)
{
    size_t g;

    for (g = 0; g < G_N_ELEMENTS(goldens); g++) {
        const Golden *gd = &goldens[g];
        uint8_t *f = g_memdup2(gd->data, gd->len);
        PacketInfo pi;

        ck_assert_int_eq(packet_parse(f, gd->len, 0, &pi), PACKET_OK);
        ck_assert_msg(csum_l4_verify(f, &pi) == CSUM_OK, "%s", gd->name);
        ck_assert_uint_eq(csum_l4_compute(f, &pi), gd->l4_csum);
        ck_assert_uint_eq(packet_load_be16(f + pi.l4_csum_ofs), gd->l4_csum);
        if (pi.ip_version == 4) {
            ck_assert(csum_ipv4_verify(f, &pi));
        } else {
            ck_assert(!csum_ipv4_verify(f, &pi));
        }

        /* Padding is not covered: changing it changes nothing. */
        if (pi.ip_end_ofs < gd->len) {
            f[gd->len - 1] ^= 0x5a;
            ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_OK);
            f[gd->len - 1] ^= 0x5a;
        }
        /* Any covered byte is. */
        f[pi.ip_end_ofs - 1] ^= 0x01;
        ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_BAD);
        f[pi.ip_end_ofs - 1] ^= 0x01;
        /* So is the pseudo-header (the source address). */
        f[pi.l3_ofs + (pi.ip_version == 4 ? 12 : 8)] ^= 0x10;
        packet_parse(f, gd->len, 0, &pi);
        ck_assert_int_eq(csum_l4_verify(f, &pi),
                         pi.ip_proto == IP_PROTO_ICMP ? CSUM_OK : CSUM_BAD);
        f[pi.l3_ofs + (pi.ip_version == 4 ? 12 : 8)] ^= 0x10;
        packet_parse(f, gd->len, 0, &pi);

        /* fill restores the golden values from a zeroed field. */
        packet_store_be16(f + pi.l4_csum_ofs, 0x1234);
        ck_assert(csum_l4_fill(f, &pi));
        ck_assert_uint_eq(packet_load_be16(f + pi.l4_csum_ofs), gd->l4_csum);
        if (pi.ip_version == 4) {
            uint16_t ipc = packet_load_be16(gd->data + pi.l3_ofs + 10);

            packet_store_be16(f + pi.l3_ofs + 10, 0xbeef);
            ck_assert(!csum_ipv4_verify(f, &pi));
            ck_assert(csum_ipv4_fill(f, &pi));
            ck_assert_uint_eq(packet_load_be16(f + pi.l3_ofs + 10), ipc);
        }
        ck_assert_int_eq(memcmp(f, gd->data, gd->len), 0);
        g_free(f);
    }
}
END_TEST

START_TEST(test_verify_special)
{
    uint8_t f[128];
    PacketInfo pi;

    /* UDP over IPv4 with checksum 0: none. */
    memcpy(f, vlan_udp4, sizeof vlan_udp4);
    packet_store_be16(f + 44, 0);
    packet_parse(f, sizeof vlan_udp4, 0, &pi);
    ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_NONE);

    /* UDP over IPv6 with checksum 0: bad (RFC 8200). */
    memcpy(f, qinq_udp6, sizeof qinq_udp6);
    packet_store_be16(f + 68, 0);
    packet_parse(f, sizeof qinq_udp6, 0, &pi);
    ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_BAD);

    /* A fragment cannot be checked. */
    memcpy(f, data4, sizeof data4);
    f[20] |= 0x20;                              /* MF */
    packet_parse(f, sizeof data4, 0, &pi);
    ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_UNCHECKABLE);
    ck_assert_uint_eq(csum_l4_compute(f, &pi), 0);
    ck_assert(!csum_l4_fill(f, &pi));

    /* Nor can a non-IP frame, nor "other" protocols. */
    memcpy(f, data4, sizeof data4);
    f[23] = 47;                                 /* GRE */
    packet_parse(f, sizeof data4, 0, &pi);
    ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_UNCHECKABLE);
    f[12] = 0x08; f[13] = 0x06;
    packet_parse(f, sizeof data4, 0, &pi);
    ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_UNCHECKABLE);
    ck_assert(!csum_ipv4_verify(f, &pi));
    ck_assert(!csum_ipv4_fill(f, &pi));

    /* vnet NEEDS_CSUM: partial. */
    memset(f, 0, 12);
    f[0] = PACKET_VNET_F_NEEDS_CSUM;
    memcpy(f + 12, data4, sizeof data4);
    packet_parse(f, 12 + sizeof data4, 12, &pi);
    ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_PARTIAL);
}
END_TEST

/* Shifts seq and ack of a TCP frame by random deltas many times with the
 * O(1) update; the full verification must hold after each step. */
START_TEST(test_update_tcp_seq_ack)
{
    GRand *rng = g_rand_new_with_seed(4);
    size_t g;

    for (g = 0; g < G_N_ELEMENTS(goldens); g++) {
        uint8_t *f;
        PacketInfo pi;
        int iter;

        f = g_memdup2(goldens[g].data, goldens[g].len);
        packet_parse(f, goldens[g].len, 0, &pi);
        if (!packet_is_tcp(&pi)) {
            g_free(f);
            continue;
        }
        for (iter = 0; iter < 10000; iter++) {
            uint16_t fofs = (iter & 1) ? packet_tcp_ack_ofs(&pi)
                                       : packet_tcp_seq_ofs(&pi);
            uint8_t old[4];
            uint32_t v;

            memcpy(old, f + fofs, 4);
            v = packet_load_be32(old) + g_rand_int(rng);
            packet_store_be32(f + fofs, v);
            csum_update_l4_field(f + pi.l4_csum_ofs, old, f + fofs, 4,
                                 fofs - pi.l4_ofs, csum_update_flags(&pi));
            ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_OK);
            ck_assert_uint_eq(packet_load_be16(f + pi.l4_csum_ofs),
                              csum_l4_compute(f, &pi));
        }
        /* The store helper, on SACK edges and TSecr; every third store is
         * shifted by one byte to exercise odd offsets in the segment. */
        for (iter = 0; iter < 1000; iter++) {
            size_t fofs;

            if (pi.tcp_sack_ofs != PACKET_OFS_NONE && (iter & 1)) {
                fofs = pi.tcp_sack_ofs + 4 * (iter % (2 * pi.tcp_sack_blocks));
            } else if (pi.tcp_ts_ofs != PACKET_OFS_NONE) {
                fofs = pi.tcp_ts_ofs + 4;
            } else {
                fofs = packet_tcp_seq_ofs(&pi);
            }
            fofs += iter % 3 == 2;                  /* odd offsets too */
            csum_l4_store_be32(f, &pi, fofs, g_rand_int(rng));
            ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_OK);
        }
        g_free(f);
    }
    g_rand_free(rng);
}
END_TEST

/* Rewrites addresses (pseudo-header fields) with the IPv4 header checksum
 * and the L4 checksum updated incrementally. */
START_TEST(test_update_addresses)
{
    GRand *rng = g_rand_new_with_seed(5);
    size_t g;

    for (g = 0; g < G_N_ELEMENTS(goldens); g++) {
        uint8_t *f = g_memdup2(goldens[g].data, goldens[g].len);
        PacketInfo pi;
        int iter;

        packet_parse(f, goldens[g].len, 0, &pi);
        for (iter = 0; iter < 2000; iter++) {
            size_t alen = pi.ip_version == 4 ? 4 : 16;
            size_t aofs = pi.l3_ofs + (pi.ip_version == 4 ? 12 : 8)
                          + (iter & 1) * alen;
            uint8_t old[16];

            memcpy(old, f + aofs, alen);
            fill_random(rng, f + aofs, alen);
            if (pi.ip_version == 4) {
                uint8_t *ipc = f + pi.l3_ofs + 10;

                packet_store_be16(ipc, csum_replace32(packet_load_be16(ipc),
                                                      packet_load_be32(old),
                                                      packet_load_be32(f + aofs)));
                ck_assert(csum_ipv4_verify(f, &pi));
            }
            if (pi.ip_proto != IP_PROTO_ICMP) {
                csum_update_l4_field(f + pi.l4_csum_ofs, old, f + aofs, alen,
                                     0, csum_update_flags(&pi)
                                        | CSUM_UPD_PSEUDO);
            }
            packet_parse(f, goldens[g].len, 0, &pi);
            ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_OK);
        }
        if (pi.ip_version == 6 && pi.ip_proto == IP_PROTO_TCP) {
            /* the 128-bit helper does the same */
            uint8_t old[16];
            uint8_t *src = f + pi.l3_ofs + 8;
            uint8_t *cf = f + pi.l4_csum_ofs;

            memcpy(old, src, 16);
            fill_random(rng, src, 16);
            packet_store_be16(cf, csum_replace128(packet_load_be16(cf), old,
                                                  src));
            packet_parse(f, goldens[g].len, 0, &pi);
            ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_OK);
        }
        g_free(f);
    }
    g_rand_free(rng);
}
END_TEST

START_TEST(test_update_udp_zero_rule)
{
    uint8_t f[sizeof vlan_udp4];
    uint8_t old[2], new[2];
    PacketInfo pi;
    uint16_t c, port;
    unsigned flags;

    memcpy(f, vlan_udp4, sizeof f);
    packet_parse(f, sizeof f, 0, &pi);
    flags = csum_update_flags(&pi);
    ck_assert(flags & CSUM_UPD_UDP);
    ck_assert(!(flags & CSUM_UPD_PARTIAL));

    /* Choose the source port that makes the RFC 1624 result exactly 0:
     * ~(~c + ~old + new) == 0  <=>  new == -(~c + ~old). */
    c = packet_load_be16(f + 44);
    memcpy(old, f + 38, 2);
    port = ~csum_fold((uint16_t)~c + (uint16_t)~packet_load_be16(old));
    ck_assert_uint_eq(csum_replace16(c, packet_load_be16(old), port), 0);
    packet_store_be16(new, port);
    memcpy(f + 38, new, 2);
    csum_update_l4_field(f + 44, old, new, 2, 0, flags);
    ck_assert_uint_eq(packet_load_be16(f + 44), 0xffff);   /* not 0 */
    ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_OK);
    ck_assert_uint_eq(csum_l4_compute(f, &pi), 0xffff);

    /* A datagram without checksum stays without. */
    packet_store_be16(f + 44, 0);
    memcpy(old, f + 38, 2);
    packet_store_be16(f + 38, 1234);
    csum_update_l4_field(f + 44, old, f + 38, 2, 0, flags);
    ck_assert_uint_eq(packet_load_be16(f + 44), 0);
    ck_assert_int_eq(csum_l4_verify(f, &pi), CSUM_NONE);
}
END_TEST

/* Completes a NEEDS_CSUM checksum the way the device does: sum from
 * csum_start to the end of the L4 data and store the complement. */
static void device_complete(uint8_t *f, const PacketInfo *pi)
{
    uint32_t sum = csum_partial(f + pi->l4_ofs, pi->l4_len, 0);

    packet_store_be16(f + pi->l4_csum_ofs, csum_finish(sum));
}

START_TEST(test_update_partial)
{
    uint8_t f[12 + sizeof data4];
    PacketInfo pi, plain;
    uint32_t pseudo;
    int iter;
    GRand *rng = g_rand_new_with_seed(6);

    for (iter = 0; iter < 2000; iter++) {
        uint8_t old[4];
        uint16_t before;
        unsigned flags;

        /* A guest's frame with a partial checksum: the field holds the
         * folded pseudo-header sum, as the guest's stack leaves it. */
        memset(f, 0, 12);
        f[0] = PACKET_VNET_F_NEEDS_CSUM;
        f[6] = 34;
        f[8] = 16;
        memcpy(f + 12, data4, sizeof data4);
        packet_parse(f, sizeof f, 12, &pi);
        pseudo = csum_pseudo_ipv4(&pi.src.b[12], &pi.dst.b[12], IP_PROTO_TCP,
                                  pi.l4_len);
        packet_store_be16(f + pi.l4_csum_ofs, csum_fold(pseudo));
        flags = csum_update_flags(&pi);
        ck_assert(flags & CSUM_UPD_PARTIAL);

        /* seq/ack: the field must not change. */
        before = packet_load_be16(f + pi.l4_csum_ofs);
        memcpy(old, f + packet_tcp_ack_ofs(&pi), 4);
        packet_store_be32(f + packet_tcp_ack_ofs(&pi),
                          pi.tcp_ack + g_rand_int(rng));
        csum_update_l4_field(f + pi.l4_csum_ofs, old,
                             f + packet_tcp_ack_ofs(&pi), 4,
                             offsetof(TcpHdr, ack), flags);
        ck_assert_uint_eq(packet_load_be16(f + pi.l4_csum_ofs), before);

        /* An address: the pseudo sum in the field follows it. */
        if (iter & 1) {
            uint8_t *a = f + pi.l3_ofs + 16;

            memcpy(old, a, 4);
            fill_random(rng, a, 4);
            csum_update_l4_field(f + pi.l4_csum_ofs, old, a, 4, 0,
                                 flags | CSUM_UPD_PSEUDO);
        }

        /* Once the device completes it, the frame verifies. */
        packet_parse(f + 12, sizeof data4, 0, &plain);
        device_complete(f + 12, &plain);
        ck_assert_int_eq(csum_l4_verify(f + 12, &plain), CSUM_OK);
    }
    g_rand_free(rng);
}
END_TEST

static Suite *checksum_suite(void)
{
    Suite *s = suite_create("net/checksum");
    TCase *tc = tcase_create("sum");
    TCase *ti = tcase_create("incremental");
    TCase *tf = tcase_create("frames");

    tcase_add_test(tc, test_rfc1071_example);
    tcase_add_test(tc, test_partial_vs_reference);
    tcase_add_test(tc, test_partial_split);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tcase_add_test(ti, test_replace16);
    tcase_add_test(ti, test_replace32);
    tcase_add_test(ti, test_replace128);
    tcase_add_test(ti, test_replace_bytes_odd);
    tcase_set_timeout(ti, 60);
    suite_add_tcase(s, ti);

    tcase_add_test(tf, test_goldens_verify);
    tcase_add_test(tf, test_verify_special);
    tcase_add_test(tf, test_update_tcp_seq_ack);
    tcase_add_test(tf, test_update_addresses);
    tcase_add_test(tf, test_update_udp_zero_rule);
    tcase_add_test(tf, test_update_partial);
    tcase_set_timeout(tf, 60);
    suite_add_tcase(s, tf);
    return s;
}

int main(void)
{
    return check_run(checksum_suite());
}
