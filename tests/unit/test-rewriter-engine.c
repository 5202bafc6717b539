/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-rewriter-engine.c - the filter-rewriter engine (net/rewriter-engine.c).
 *
 * Frames are built here (IPv4/IPv6, VLAN, vnet header, TCP options) and
 * fed to the engine as the secondary's netdev would: TO_GUEST for the
 * client's (peer's) segments, FROM_GUEST for the secondary guest's.  Every
 * rewritten frame is checked against the full checksum computation
 * (csum_l4_verify(), the oracle), never against the incremental code.
 */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "net/checksum.h"
#include "net/packet.h"
#include "net/rewriter-engine.h"

#define T0 1000000000LL         /* an arbitrary start time (us) */

/* A TCP segment to build. */
typedef struct TSeg {
    bool v6;
    unsigned n_vlans;
    unsigned vnet;              /* vnet header length, 0 = none */
    bool partial;               /* vnet NEEDS_CSUM */
    bool from_guest;            /* source = guest, else client */
    uint16_t cport, gport;      /* client and guest ports */
    uint32_t seq, ack;
    uint16_t flags;
    bool ts;
    uint32_t tsval, tsecr;
    unsigned nsack;
    uint32_t sack[8];
    unsigned payload;
    bool odd_opts;              /* a NOP first: options at odd offsets */
} TSeg;

static const uint8_t caddr4[4] = { 10, 0, 0, 1 };
static const uint8_t gaddr4[4] = { 10, 0, 0, 2 };
static const uint8_t caddr6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t gaddr6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* Builds 's' into 'buf' (>= 2048 bytes) with a correct (or partial) TCP
 * checksum; returns the frame length. */
static size_t tseg_build(const TSeg *s, uint8_t *buf)
{
    uint8_t *p = buf;
    uint8_t opts[60];
    unsigned olen = 0;
    size_t l3, l4, tcp_len, len;
    PacketInfo pi;

    memset(buf, 0, 2048);
    if (s->vnet) {
        p += s->vnet;
    }
    memcpy(p, s->from_guest ? "\x52\x54\0\0\0\1" : "\x52\x54\0\0\0\2", 6);
    memcpy(p + 6, s->from_guest ? "\x52\x54\0\0\0\2" : "\x52\x54\0\0\0\1",
           6);
    p += 12;
    for (unsigned i = 0; i < s->n_vlans; i++) {
        packet_store_be16(p, i == 0 && s->n_vlans == 2 ? ETH_TYPE_QINQ
                                                       : ETH_TYPE_VLAN);
        packet_store_be16(p + 2, 100 + i);
        p += 4;
    }
    packet_store_be16(p, s->v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IPV4);
    p += 2;
    l3 = p - buf;

    if (s->odd_opts) {
        opts[olen++] = 1;
    }
    if (s->ts) {
        opts[olen++] = 8;
        opts[olen++] = 10;
        packet_store_be32(opts + olen, s->tsval);
        packet_store_be32(opts + olen + 4, s->tsecr);
        olen += 8;
    }
    if (s->nsack) {
        opts[olen++] = 5;
        opts[olen++] = 2 + 8 * s->nsack;
        for (unsigned i = 0; i < 2 * s->nsack; i++) {
            packet_store_be32(opts + olen, s->sack[i]);
            olen += 4;
        }
    }
    while (olen % 4) {
        opts[olen++] = 0;
    }
    tcp_len = 20 + olen + s->payload;

    if (s->v6) {
        p[0] = 0x60;
        packet_store_be16(p + 4, tcp_len);
        p[6] = IP_PROTO_TCP;
        p[7] = 64;
        memcpy(p + 8, s->from_guest ? gaddr6 : caddr6, 16);
        memcpy(p + 24, s->from_guest ? caddr6 : gaddr6, 16);
        p += 40;
    } else {
        p[0] = 0x45;
        packet_store_be16(p + 2, 20 + tcp_len);
        p[6] = 0x40;
        p[8] = 64;
        p[9] = IP_PROTO_TCP;
        memcpy(p + 12, s->from_guest ? gaddr4 : caddr4, 4);
        memcpy(p + 16, s->from_guest ? caddr4 : gaddr4, 4);
        p += 20;
    }
    l4 = p - buf;
    packet_store_be16(p, s->from_guest ? s->gport : s->cport);
    packet_store_be16(p + 2, s->from_guest ? s->cport : s->gport);
    packet_store_be32(p + 4, s->seq);
    packet_store_be32(p + 8, s->ack);
    p[12] = (uint8_t)(((20 + olen) / 4) << 4) | ((s->flags >> 8) & 1);
    p[13] = s->flags & 0xff;
    packet_store_be16(p + 14, 65000);
    memcpy(p + 20, opts, olen);
    for (unsigned i = 0; i < s->payload; i++) {
        p[20 + olen + i] = (uint8_t)(i * 7 + s->seq);
    }
    len = l4 + tcp_len;

    ck_assert_int_eq(packet_parse(buf, len, 0 + s->vnet, &pi), PACKET_OK);
    ck_assert(csum_l4_fill(buf, &pi));
    if (!s->v6) {
        csum_ipv4_fill(buf, &pi);
    }
    if (s->vnet && s->partial) {
        /* the field holds the uncomplemented pseudo-header sum */
        uint16_t full = packet_load_be16(buf + pi.l4_csum_ofs);
        uint32_t sum;

        packet_store_be16(buf + pi.l4_csum_ofs, 0);
        sum = csum_partial(buf + l4, tcp_len, 0);
        /* pseudo = ~full - data sum, folded */
        sum = (uint16_t)~full + (uint16_t)~csum_fold(sum);
        packet_store_be16(buf + pi.l4_csum_ofs, csum_fold(sum));
        buf[0] = PACKET_VNET_F_NEEDS_CSUM;
        packet_store_be16(buf + 6, 0);      /* set below (le) */
        buf[6] = (uint8_t)(l4 - s->vnet);
        buf[7] = (uint8_t)((l4 - s->vnet) >> 8);
        buf[8] = 16;
        buf[9] = 0;
    }
    (void)l3;
    return len;
}

/* The frame as parsed now. */
static void parse(const uint8_t *buf, size_t len, unsigned vnet,
                  PacketInfo *pi)
{
    ck_assert_int_eq(packet_parse(buf, len, vnet, pi), PACKET_OK);
}

/* Completes a partial checksum as the device would; then the frame
 * verifies with the full oracle when parsed without its vnet header. */
static void assert_csum_ok(uint8_t *buf, size_t len, unsigned vnet)
{
    PacketInfo pi;

    parse(buf, len, vnet, &pi);
    if (pi.flags & PACKET_F_CSUM_PARTIAL) {
        uint32_t sum = csum_partial(buf + pi.l4_ofs, pi.l4_len, 0);

        packet_store_be16(buf + pi.l4_csum_ofs, (uint16_t)~csum_fold(sum));
        parse(buf + vnet, len - vnet, 0, &pi);
        ck_assert_int_eq(csum_l4_verify(buf + vnet, &pi), CSUM_OK);
        return;
    }
    ck_assert_int_eq(csum_l4_verify(buf, &pi), CSUM_OK);
    if (pi.ip_version == 4) {
        ck_assert(csum_ipv4_verify(buf, &pi));
    }
}

typedef struct Got {
    uint32_t seq, ack, tsval, tsecr;
    uint32_t sack[8];
    unsigned nsack;
    RewriterResult r;
} Got;

static uint8_t fbuf[4096];

/* Builds 's', runs it through 'rw', checks the checksum, returns fields. */
static Got run(Rewriter *rw, const TSeg *s, int64_t now)
{
    size_t len = tseg_build(s, fbuf);
    PacketInfo pi;
    Got g = { 0 };

    rewriter_set_vnet_hdr_len(rw, s->vnet);
    g.r = rewriter_rewrite(rw, fbuf, len,
                           s->from_guest ? REWRITER_FROM_GUEST
                                         : REWRITER_TO_GUEST, now);
    parse(fbuf, len, s->vnet, &pi);
    g.seq = pi.tcp_seq;
    g.ack = pi.tcp_ack;
    if (pi.tcp_ts_ofs != PACKET_OFS_NONE) {
        g.tsval = packet_load_be32(fbuf + pi.tcp_ts_ofs);
        g.tsecr = packet_load_be32(fbuf + pi.tcp_ts_ofs + 4);
    }
    g.nsack = pi.tcp_sack_blocks;
    for (unsigned i = 0; i < 2u * g.nsack; i++) {
        g.sack[i] = packet_load_be32(fbuf + pi.tcp_sack_ofs + 4 * i);
    }
    assert_csum_ok(fbuf, len, s->vnet);
    return g;
}

/* A template: the segment shape of one test variant. */
static TSeg base;

static TSeg seg(bool from_guest, uint16_t flags, uint32_t seq, uint32_t ack)
{
    TSeg s = base;

    s.from_guest = from_guest;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    return s;
}

#define C 0     /* client -> guest */
#define G 1     /* guest -> client */
#define SYN PACKET_TCP_SYN
#define ACK PACKET_TCP_ACK
#define FIN PACKET_TCP_FIN
#define RST PACKET_TCP_RST
#define PSH PACKET_TCP_PSH

/* Primary ISN, secondary ISN, client ISN (chosen to wrap). */
#define P_ISN 0xfffffff0u
#define S_ISN 0x00001000u
#define C_ISN 0x7fff0000u
#define P_TS  0xfffffff0u
#define S_TS  0x00000100u

/* Client-opened handshake; returns nothing, asserts the learning. */
/* The client's SYN (the first step of handshake_client()). */
static void handshake_client_begin(Rewriter *rw, int64_t now)
{
    TSeg s;

    s = seg(C, SYN, C_ISN, 0);
    s.ts = true;
    s.tsval = 5000;
    ck_assert_int_eq(run(rw, &s, now).r, REWRITER_UNCHANGED);
}

/* The guest's SYN-ACK and the client's ACK (the rest of it). */
static void handshake_client_end(Rewriter *rw, int64_t now)
{
    TSeg s;
    Got g;

    s = seg(G, SYN | ACK, S_ISN, C_ISN + 1);
    s.ts = true;
    s.tsval = S_TS;
    s.tsecr = 5000;
    g = run(rw, &s, now);
    ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
    ck_assert_uint_eq(g.seq, S_ISN);

    /* the client acks the primary's SYN-ACK */
    s = seg(C, ACK, C_ISN + 1, P_ISN + 1);
    s.ts = true;
    s.tsval = 5001;
    s.tsecr = P_TS;
    g = run(rw, &s, now);
    ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
    ck_assert_uint_eq(g.ack, S_ISN + 1);
    ck_assert_uint_eq(g.tsecr, S_TS);
    ck_assert_uint_eq(g.tsval, 5001);
    ck_assert_uint_eq(g.seq, C_ISN + 1);
}

static void handshake_client(Rewriter *rw, int64_t now)
{
    handshake_client_begin(rw, now);
    handshake_client_end(rw, now);
}

/* Established traffic both ways, with SACK and timestamps. */
static void traffic(Rewriter *rw, int64_t now, uint32_t g_isn,
                    uint32_t p_isn, uint32_t c_next)
{
    TSeg s;
    Got g;

    /* guest data: seq into the primary space, TSval into its clock */
    s = seg(G, ACK | PSH, g_isn + 1, c_next);
    s.ts = true;
    s.tsval = S_TS + 10;
    s.tsecr = 5001;
    s.payload = 100;
    g = run(rw, &s, now);
    ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
    ck_assert_uint_eq(g.seq, p_isn + 1);
    ck_assert_uint_eq(g.ack, c_next);
    ck_assert_uint_eq(g.tsval, P_TS + 10);
    ck_assert_uint_eq(g.tsecr, 5001);

    /* client ack with SACK blocks over the guest's (primary) bytes */
    s = seg(C, ACK, c_next, p_isn + 101);
    s.ts = true;
    s.tsval = 5002;
    s.tsecr = P_TS + 10;
    s.nsack = 2;
    s.sack[0] = p_isn + 201;
    s.sack[1] = p_isn + 301;
    s.sack[2] = p_isn + 401;
    s.sack[3] = p_isn + 501;
    g = run(rw, &s, now);
    ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
    ck_assert_uint_eq(g.ack, g_isn + 101);
    ck_assert_uint_eq(g.tsecr, S_TS + 10);
    ck_assert_uint_eq(g.nsack, 2);
    ck_assert_uint_eq(g.sack[0], g_isn + 201);
    ck_assert_uint_eq(g.sack[1], g_isn + 301);
    ck_assert_uint_eq(g.sack[2], g_isn + 401);
    ck_assert_uint_eq(g.sack[3], g_isn + 501);

    /* client data: its seq is untouched */
    s = seg(C, ACK | PSH, c_next, p_isn + 101);
    s.payload = 33;
    g = run(rw, &s, now);
    ck_assert_uint_eq(g.seq, c_next);
    ck_assert_uint_eq(g.ack, g_isn + 101);
}

static void set_variant(int i)
{
    memset(&base, 0, sizeof base);
    base.cport = 40000;
    base.gport = 80;
    base.v6 = i & 1;
    base.n_vlans = (i >> 1) % 3;
    if (i & 8) {
        base.vnet = 12;
        base.partial = i & 16;
    }
    base.odd_opts = i & 32;
}

START_TEST(test_client_opened)
{
    Rewriter *rw = rewriter_new(NULL);
    RewriterStats st;

    set_variant(_i);
    handshake_client(rw, T0);
    traffic(rw, T0, S_ISN, P_ISN, C_ISN + 1);
    rewriter_get_stats(rw, &st);
    ck_assert_uint_eq(st.connections, 1);
    ck_assert_uint_eq(st.opened_by_client, 1);
    ck_assert_uint_eq(st.offsets_learned, 1);
    ck_assert_uint_eq(st.sack_rewritten, 2);
    ck_assert_uint_eq(rewriter_count_offsets(rw), 1);
    rewriter_free(rw);
}
END_TEST

START_TEST(test_guest_opened)
{
    Rewriter *rw = rewriter_new(NULL);
    RewriterStats st;
    TSeg s;
    Got g;

    set_variant(_i);
    /* guest SYN (secondary ISN): nothing known, passes */
    s = seg(G, SYN, S_ISN, 0);
    s.ts = true;
    s.tsval = S_TS;
    g = run(rw, &s, T0);
    ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
    ck_assert_uint_eq(g.seq, S_ISN);
    /* the server's SYN-ACK acks the primary's ISN */
    s = seg(C, SYN | ACK, C_ISN, P_ISN + 1);
    s.ts = true;
    s.tsval = 5000;
    s.tsecr = P_TS;
    g = run(rw, &s, T0);
    ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
    ck_assert_uint_eq(g.ack, S_ISN + 1);
    ck_assert_uint_eq(g.tsecr, S_TS);
    ck_assert_uint_eq(g.seq, C_ISN);
    /* the guest's ACK of it */
    s = seg(G, ACK, S_ISN + 1, C_ISN + 1);
    s.ts = true;
    s.tsval = S_TS + 1;
    s.tsecr = 5000;
    g = run(rw, &s, T0);
    ck_assert_uint_eq(g.seq, P_ISN + 1);
    ck_assert_uint_eq(g.tsval, P_TS + 1);
    traffic(rw, T0, S_ISN, P_ISN, C_ISN + 1);
    rewriter_get_stats(rw, &st);
    ck_assert_uint_eq(st.opened_by_guest, 1);
    ck_assert_uint_eq(st.offsets_learned, 1);
    rewriter_free(rw);
}
END_TEST

/* Guest-opened and refused: the RST|ACK is translated so the secondary
 * accepts it. */
START_TEST(test_guest_opened_refused)
{
    Rewriter *rw = rewriter_new(NULL);
    RewriterStats st;
    TSeg s;
    Got g;

    set_variant(0);
    s = seg(G, SYN, S_ISN, 0);
    run(rw, &s, T0);
    s = seg(C, RST | ACK, 0, P_ISN + 1);
    g = run(rw, &s, T0);
    ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
    ck_assert_uint_eq(g.ack, S_ISN + 1);
    rewriter_get_stats(rw, &st);
    ck_assert_uint_eq(st.closed_rst, 1);
    rewriter_free(rw);
}
END_TEST

/* Offsets of every size, sequence numbers across 2^32. */
START_TEST(test_wrap)
{
    GRand *rng = g_rand_new_with_seed(42);

    set_variant(0);
    for (int i = 0; i < 2000; i++) {
        Rewriter *rw = rewriter_new(NULL);
        uint32_t c_isn = g_rand_int(rng);
        uint32_t p_isn = i < 4 ? 0xffffffffu - i : g_rand_int(rng);
        uint32_t s_isn = i < 4 ? (uint32_t)i : g_rand_int(rng);
        TSeg s;
        Got g;

        base.cport = 1000 + i;
        s = seg(C, SYN, c_isn, 0);
        run(rw, &s, T0);
        s = seg(G, SYN | ACK, s_isn, c_isn + 1);
        run(rw, &s, T0);
        s = seg(C, ACK, c_isn + 1, p_isn + 1);
        g = run(rw, &s, T0);
        ck_assert_uint_eq(g.ack, s_isn + 1);
        s = seg(G, ACK | PSH, s_isn + 1 + 0x7fff0000u, c_isn + 1);
        s.payload = 10;
        g = run(rw, &s, T0);
        ck_assert_uint_eq(g.seq, p_isn + 1 + 0x7fff0000u);
        rewriter_free(rw);
    }
    g_rand_free(rng);
}
END_TEST

/* Random segments through an established connection: every output
 * verifies with the full computation and carries exactly the shifted
 * values. */
START_TEST(test_checksum_oracle_random)
{
    GRand *rng = g_rand_new_with_seed(7 + _i);

    for (int i = 0; i < 3000; i++) {
        Rewriter *rw = rewriter_new(NULL);
        uint32_t c_isn = g_rand_int(rng), p_isn = g_rand_int(rng);
        uint32_t s_isn = g_rand_int(rng);
        uint32_t p_ts = g_rand_int(rng), s_ts = g_rand_int(rng);
        TSeg s;
        Got g;

        set_variant(g_rand_int_range(rng, 0, 64));
        s = seg(C, SYN, c_isn, 0);
        s.ts = true;
        run(rw, &s, T0);
        s = seg(G, SYN | ACK, s_isn, c_isn + 1);
        s.ts = true;
        s.tsval = s_ts;
        run(rw, &s, T0);
        s = seg(C, ACK, c_isn + 1, p_isn + 1);
        s.ts = true;
        s.tsecr = p_ts;
        run(rw, &s, T0);
        for (int k = 0; k < 4; k++) {
            bool fg = g_rand_boolean(rng);
            uint32_t seq = g_rand_int(rng), ack = g_rand_int(rng);

            s = seg(fg, ACK | (g_rand_boolean(rng) ? PSH : 0), seq, ack);
            s.ts = g_rand_boolean(rng);
            s.tsval = g_rand_int(rng);
            s.tsecr = g_rand_int(rng);
            s.nsack = fg ? 0 : g_rand_int_range(rng, 0, 4);
            for (unsigned j = 0; j < 8; j++) {
                s.sack[j] = g_rand_int(rng);
            }
            s.payload = g_rand_int_range(rng, 0, 1400);
            g = run(rw, &s, T0);
            if (fg) {
                ck_assert_uint_eq(g.seq, seq - (s_isn - p_isn));
                ck_assert_uint_eq(g.ack, ack);
                if (s.ts) {
                    ck_assert_uint_eq(g.tsval, s.tsval - (s_ts - p_ts));
                    ck_assert_uint_eq(g.tsecr, s.tsecr);
                }
            } else {
                ck_assert_uint_eq(g.seq, seq);
                ck_assert_uint_eq(g.ack, ack + (s_isn - p_isn));
                if (s.ts) {
                    ck_assert_uint_eq(g.tsval, s.tsval);
                    ck_assert_uint_eq(g.tsecr, s.tsecr + (s_ts - p_ts));
                }
                for (unsigned j = 0; j < 2 * s.nsack; j++) {
                    ck_assert_uint_eq(g.sack[j],
                                      s.sack[j] + (s_isn - p_isn));
                }
            }
        }
        rewriter_free(rw);
    }
    g_rand_free(rng);
}
END_TEST

/* A partial checksum field is left alone: it holds the pseudo sum only. */
START_TEST(test_vnet_partial_untouched)
{
    Rewriter *rw = rewriter_new(&(RewriterConfig){ .vnet_hdr_len = 12 });
    TSeg s;
    size_t len;
    PacketInfo pi;
    uint16_t before;

    set_variant(8 | 16);
    handshake_client(rw, T0);
    s = seg(G, ACK, S_ISN + 1, C_ISN + 1);
    s.payload = 7;
    len = tseg_build(&s, fbuf);
    parse(fbuf, len, 12, &pi);
    ck_assert(pi.flags & PACKET_F_CSUM_PARTIAL);
    before = packet_load_be16(fbuf + pi.l4_csum_ofs);
    ck_assert_int_eq(rewriter_rewrite(rw, fbuf, len, REWRITER_FROM_GUEST,
                                      T0), REWRITER_REWRITTEN);
    ck_assert_uint_eq(packet_load_be16(fbuf + pi.l4_csum_ofs), before);
    parse(fbuf, len, 12, &pi);
    ck_assert_uint_eq(pi.tcp_seq, P_ISN + 1);
    assert_csum_ok(fbuf, len, 12);
    rewriter_free(rw);
}
END_TEST

static RewriterStats stats_of(Rewriter *rw)
{
    RewriterStats st;

    rewriter_get_stats(rw, &st);
    return st;
}

/* Passive close by the guest, active by the client; linger; removal. */
START_TEST(test_fin_teardown)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;
    Got g;

    set_variant(_i);
    handshake_client(rw, T0);
    /* client FIN */
    s = seg(C, FIN | ACK, C_ISN + 1, P_ISN + 1);
    g = run(rw, &s, T0);
    ck_assert_uint_eq(g.ack, S_ISN + 1);
    /* guest FIN|ACK acking it */
    s = seg(G, FIN | ACK, S_ISN + 1, C_ISN + 2);
    g = run(rw, &s, T0);
    ck_assert_uint_eq(g.seq, P_ISN + 1);
    ck_assert_uint_eq(stats_of(rw).closed_fin, 0);
    /* last ACK */
    s = seg(C, ACK, C_ISN + 2, P_ISN + 2);
    g = run(rw, &s, T0);
    ck_assert_uint_eq(g.ack, S_ISN + 2);
    ck_assert_uint_eq(stats_of(rw).closed_fin, 1);
    ck_assert_uint_eq(stats_of(rw).connections, 1);
    /* lingering: a retransmitted FIN is still translated */
    s = seg(G, FIN | ACK, S_ISN + 1, C_ISN + 2);
    g = run(rw, &s, T0 + 1000);
    ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
    ck_assert_uint_eq(g.seq, P_ISN + 1);
    ck_assert_uint_eq(rewriter_expire(rw, T0 + 1000, 0), 0);
    /* the linger counts from the last frame */
    ck_assert_uint_eq(rewriter_expire(rw, T0 + REWRITER_LINGER_DEFAULT_US,
                                      0), 0);
    ck_assert_uint_eq(rewriter_expire(rw, T0 + 1000 +
                                      REWRITER_LINGER_DEFAULT_US, 0), 1);
    ck_assert_uint_eq(stats_of(rw).connections, 0);
    ck_assert_uint_eq(stats_of(rw).removed_linger, 1);
    /* afterwards: untracked */
    s = seg(G, ACK, S_ISN + 2, C_ISN + 2);
    ck_assert_int_eq(run(rw, &s, T0 + 1000 + REWRITER_LINGER_DEFAULT_US).r,
                     REWRITER_UNTRACKED);
    rewriter_free(rw);
}
END_TEST

/* Guest closes first. */
START_TEST(test_fin_guest_first)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;

    set_variant(1);
    handshake_client(rw, T0);
    s = seg(G, FIN | ACK, S_ISN + 1, C_ISN + 1);
    ck_assert_uint_eq(run(rw, &s, T0).seq, P_ISN + 1);
    s = seg(C, FIN | ACK, C_ISN + 1, P_ISN + 2);
    ck_assert_uint_eq(run(rw, &s, T0).ack, S_ISN + 2);
    ck_assert_uint_eq(stats_of(rw).closed_fin, 0);
    s = seg(G, ACK, S_ISN + 2, C_ISN + 2);
    ck_assert_uint_eq(run(rw, &s, T0).seq, P_ISN + 2);
    ck_assert_uint_eq(stats_of(rw).closed_fin, 1);
    rewriter_free(rw);
}
END_TEST

/* RST from either side, with and without ACK; a new SYN reuses the
 * lingering entry. */
START_TEST(test_rst)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;
    Got g;

    set_variant(0);
    handshake_client(rw, T0);
    if (_i == 0) {
        s = seg(G, RST, S_ISN + 1, 0);
        g = run(rw, &s, T0);
        ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
        ck_assert_uint_eq(g.seq, P_ISN + 1);
    } else if (_i == 1) {
        s = seg(C, RST | ACK, C_ISN + 1, P_ISN + 1);
        g = run(rw, &s, T0);
        ck_assert_uint_eq(g.ack, S_ISN + 1);
    } else {
        s = seg(C, RST, C_ISN + 1, 0);
        g = run(rw, &s, T0);
        ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
        ck_assert_uint_eq(g.seq, C_ISN + 1);
    }
    ck_assert_uint_eq(stats_of(rw).closed_rst, 1);
    /* port reuse: a new handshake with new ISNs */
    s = seg(C, SYN, 77, 0);
    run(rw, &s, T0 + 10);
    s = seg(G, SYN | ACK, 1000, 78);
    run(rw, &s, T0 + 10);
    s = seg(C, ACK, 78, 5001);
    ck_assert_uint_eq(run(rw, &s, T0 + 10).ack, 1001);
    ck_assert_uint_eq(stats_of(rw).connections, 1);
    ck_assert_uint_eq(stats_of(rw).opened_by_client, 2);
    rewriter_free(rw);
}
END_TEST

/* The table bound: closed connections are evicted, live ones are not;
 * when nothing can go, the new connection passes untracked. */
START_TEST(test_table_bound)
{
    Rewriter *rw = rewriter_new(&(RewriterConfig){ .max_connections = 4 });
    TSeg s;
    RewriterStats st;

    set_variant(0);
    for (int i = 0; i < 4; i++) {
        base.cport = 2000 + i;
        handshake_client(rw, T0 + i);
    }
    /* full of live connections with offsets: refused */
    base.cport = 3000;
    s = seg(C, SYN, 1, 0);
    ck_assert_int_eq(run(rw, &s, T0 + 10).r, REWRITER_UNTRACKED);
    st = stats_of(rw);
    ck_assert_uint_eq(st.refused_full, 1);
    ck_assert_uint_eq(st.connections, 4);
    ck_assert_uint_eq(st.evictions, 0);
    /* the live ones still translate */
    base.cport = 2000;
    s = seg(G, ACK, S_ISN + 1, C_ISN + 1);
    ck_assert_uint_eq(run(rw, &s, T0 + 11).seq, P_ISN + 1);
    /* close one with RST: it can be evicted */
    base.cport = 2002;
    s = seg(G, RST, S_ISN + 1, 0);
    run(rw, &s, T0 + 12);
    base.cport = 3001;
    s = seg(C, SYN, 1, 0);
    ck_assert_int_eq(run(rw, &s, T0 + 13).r, REWRITER_UNCHANGED);
    st = stats_of(rw);
    ck_assert_uint_eq(st.evictions, 1);
    ck_assert_uint_eq(st.connections, 4);
    /* idle connections become evictable */
    base.cport = 3002;
    s = seg(C, SYN, 1, 0);
    ck_assert_int_eq(run(rw, &s, T0 + 14 + REWRITER_EVICT_IDLE_DEFAULT_US).r,
                     REWRITER_UNCHANGED);
    ck_assert_uint_eq(stats_of(rw).evictions, 2);
    /* idle timeout */
    rewriter_expire(rw, T0 + 100 + REWRITER_IDLE_TIMEOUT_DEFAULT_US +
                    REWRITER_EVICT_IDLE_DEFAULT_US, 0);
    ck_assert_uint_eq(stats_of(rw).connections, 0);
    ck_assert_uint_eq(stats_of(rw).expirations, 4);
    rewriter_free(rw);
}
END_TEST

/* Mid-stream segments of unknown connections pass untouched. */
START_TEST(test_untracked_and_other)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;
    uint8_t arp[60] = { [12] = 0x08, [13] = 0x06 };

    set_variant(0);
    s = seg(G, ACK, 5, 6);
    ck_assert_int_eq(run(rw, &s, T0).r, REWRITER_UNTRACKED);
    ck_assert_int_eq(rewriter_rewrite(rw, arp, sizeof arp,
                                      REWRITER_TO_GUEST, T0),
                     REWRITER_NOT_TCP);
    ck_assert_int_eq(rewriter_rewrite(rw, arp, 10, REWRITER_TO_GUEST, T0),
                     REWRITER_MALFORMED);
    ck_assert_uint_eq(stats_of(rw).connections, 0);
    rewriter_free(rw);
}
END_TEST

/* A checkpoint zeroes every offset, also mid-handshake. */
START_TEST(test_checkpoint)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;
    Got g;

    set_variant(0);
    handshake_client(rw, T0);
    /* a second connection stopped after the guest SYN-ACK */
    base.cport = 41000;
    s = seg(C, SYN, C_ISN, 0);
    run(rw, &s, T0);
    s = seg(G, SYN | ACK, S_ISN, C_ISN + 1);
    run(rw, &s, T0);
    rewriter_checkpoint(rw);
    ck_assert_uint_eq(rewriter_count_offsets(rw), 0);
    /* the client ACK of the primary's ISN is now right as it is */
    s = seg(C, ACK, C_ISN + 1, P_ISN + 1);
    g = run(rw, &s, T0);
    ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
    ck_assert_uint_eq(g.ack, P_ISN + 1);
    base.cport = 40000;
    s = seg(G, ACK, P_ISN + 1, C_ISN + 1);
    s.ts = true;
    s.tsval = P_TS;
    g = run(rw, &s, T0);
    ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
    ck_assert_uint_eq(g.seq, P_ISN + 1);
    ck_assert_uint_eq(g.tsval, P_TS);
    ck_assert_uint_eq(stats_of(rw).checkpoints, 1);
    /* the zero-offset connections are evictable, still tracked */
    ck_assert_uint_eq(stats_of(rw).connections, 2);
    rewriter_free(rw);
}
END_TEST

/* The secondary stopped to load a checkpoint: the offsets go at once (a
 * client segment handled now reaches the resumed guest, which holds the
 * primary's state); the commit confirms it; a failover before the commit
 * (the load never happened) puts the old offsets back. */
START_TEST(test_checkpoint_load)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;
    Got g;

    set_variant(0);
    handshake_client(rw, T0);
    ck_assert_uint_eq(rewriter_count_offsets(rw), 1);
    rewriter_checkpoint_load(rw);
    ck_assert_uint_eq(rewriter_count_offsets(rw), 0);
    /* the client's ACK of the primary's bytes is right as it is */
    s = seg(C, ACK, C_ISN + 1, P_ISN + 1);
    g = run(rw, &s, T0);
    ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
    ck_assert_uint_eq(g.ack, P_ISN + 1);
    rewriter_checkpoint(rw);
    ck_assert_uint_eq(rewriter_count_offsets(rw), 0);
    ck_assert_uint_eq(stats_of(rw).checkpoint_loads, 1);
    ck_assert_uint_eq(stats_of(rw).checkpoints, 1);
    /* a failover after the commit changes nothing */
    rewriter_failover(rw);
    ck_assert_uint_eq(rewriter_count_offsets(rw), 0);
    ck_assert_uint_eq(stats_of(rw).loads_undone, 0);
    rewriter_free(rw);

    /* a load that a failover cut short: the old offsets come back */
    rw = rewriter_new(NULL);
    handshake_client(rw, T0);
    rewriter_checkpoint_load(rw);
    ck_assert_uint_eq(rewriter_count_offsets(rw), 0);
    rewriter_failover(rw);
    ck_assert_uint_eq(rewriter_count_offsets(rw), 1);
    ck_assert_uint_eq(stats_of(rw).loads_undone, 1);
    s = seg(C, ACK, C_ISN + 1, P_ISN + 1);
    g = run(rw, &s, T0);
    ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
    ck_assert_uint_eq(g.ack, S_ISN + 1);
    rewriter_free(rw);

    /* a SYN that came while the guests were stopped: both answer it on
     * their own after the commit; its offset is learned, not zeroed */
    rw = rewriter_new(NULL);
    rewriter_checkpoint_load(rw);
    handshake_client_begin(rw, T0);
    rewriter_checkpoint(rw);
    handshake_client_end(rw, T0);
    ck_assert_uint_eq(rewriter_count_offsets(rw), 1);
    s = seg(C, ACK, C_ISN + 1, P_ISN + 1);
    g = run(rw, &s, T0);
    ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
    ck_assert_uint_eq(g.ack, S_ISN + 1);
    rewriter_free(rw);
}
END_TEST

/* A checkpoint in the middle of a handshake the guest had not answered
 * yet: whether the SYN is in the checkpointed state is not known, so the
 * guest's next SYN or SYN-ACK decides (both outcomes), not the
 * checkpoint.  Seen with real QEMUs: a client SYN that both QEMUs read
 * only after the resume was taken as established with offset 0, and the
 * resumed secondary reset the client's ACK. */
/* A fresh rewriter that saw the first packet of a handshake ('syn':
 * the client's SYN, or the guest's with ISN S_ISN), then a checkpoint
 * (with its load announced first when 'load'). */
static Rewriter *syn_across_checkpoint(bool client, bool load)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;

    if (client) {
        handshake_client_begin(rw, T0);
    } else {
        s = seg(G, SYN, S_ISN, 0);
        ck_assert_int_eq(run(rw, &s, T0).r, REWRITER_UNCHANGED);
    }
    if (load) {
        rewriter_checkpoint_load(rw);
    }
    rewriter_checkpoint(rw);
    return rw;
}

START_TEST(test_checkpoint_mid_handshake)
{
    for (int load = 0; load < 2; load++) {
        Rewriter *rw;
        TSeg s;
        Got g;

        set_variant(0);
        /* 1: both guests take the client's SYN after the resume; the
         * secondary answers with its own ISN */
        rw = syn_across_checkpoint(true, load);
        handshake_client_end(rw, T0 + 1);
        ck_assert_uint_eq(rewriter_count_offsets(rw), 1);
        rewriter_free(rw);

        /* 2: the primary had it; the secondary, holding the primary's
         * half-open socket, answers a duplicate SYN with the primary's
         * ISN: offset 0 */
        rw = syn_across_checkpoint(true, load);
        s = seg(G, SYN | ACK, P_ISN, C_ISN + 1);
        ck_assert_int_eq(run(rw, &s, T0 + 1).r, REWRITER_UNCHANGED);
        s = seg(C, ACK, C_ISN + 1, P_ISN + 1);
        g = run(rw, &s, T0 + 1);
        ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
        ck_assert_uint_eq(g.ack, P_ISN + 1);
        ck_assert_uint_eq(rewriter_count_offsets(rw), 0);
        rewriter_free(rw);

        /* 3: the same, no SYN-ACK comes: the client's ACK is held, then
         * passes as it is */
        rw = syn_across_checkpoint(true, load);
        s = seg(C, ACK, C_ISN + 1, P_ISN + 1);
        ck_assert_int_eq(run(rw, &s, T0 + 1).r, REWRITER_HOLD);
        g = run(rw, &s, T0 + 2 + REWRITER_HOLD_DEFAULT_US);
        ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
        ck_assert_uint_eq(g.ack, P_ISN + 1);
        rewriter_free(rw);

        /* 4: the guest's SYN, unanswered: the primary had sent its own,
         * the peer's SYN-ACK acks the ISN the secondary now has */
        rw = syn_across_checkpoint(false, load);
        s = seg(C, SYN | ACK, C_ISN, P_ISN + 1);
        g = run(rw, &s, T0 + 1);
        ck_assert_uint_eq(g.ack, P_ISN + 1);
        ck_assert_uint_eq(rewriter_count_offsets(rw), 0);
        s = seg(G, ACK, P_ISN + 1, C_ISN + 1);
        g = run(rw, &s, T0 + 1);
        ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
        ck_assert_uint_eq(g.seq, P_ISN + 1);
        rewriter_free(rw);

        /* 5: the primary had not: the resumed secondary sends its SYN
         * again with a new ISN before the peer's SYN-ACK */
        rw = syn_across_checkpoint(false, load);
        s = seg(G, SYN, S_ISN + 7777, 0);
        ck_assert_int_eq(run(rw, &s, T0 + 1).r, REWRITER_UNCHANGED);
        s = seg(C, SYN | ACK, C_ISN, P_ISN + 1);
        g = run(rw, &s, T0 + 1);
        ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
        ck_assert_uint_eq(g.ack, S_ISN + 7777 + 1);
        s = seg(G, ACK, S_ISN + 7777 + 1, C_ISN + 1);
        g = run(rw, &s, T0 + 1);
        ck_assert_uint_eq(g.seq, P_ISN + 1);
        rewriter_free(rw);
    }

    /* a load a failover cut short leaves the guest's SYN as it was */
    {
        Rewriter *rw = rewriter_new(NULL);
        TSeg s = seg(G, SYN, S_ISN, 0);
        Got g;

        run(rw, &s, T0);
        rewriter_checkpoint_load(rw);
        rewriter_failover(rw);
        s = seg(C, SYN | ACK, C_ISN, P_ISN + 1);
        g = run(rw, &s, T0 + 1);
        ck_assert_uint_eq(g.ack, S_ISN + 1);
        rewriter_free(rw);
    }
}
END_TEST

/* Failover: live connections keep translating, new ones pass. */
/* A client reuses its port after a connection whose FIN the primary sent
 * before a checkpoint: the secondary never sends its own, so the old
 * connection never closes here.  The new SYN starts a new connection all
 * the same, and its offset is learned (the guests answer it with their
 * own ISNs); a retransmission of the old connection's own SYN does not. */
START_TEST(test_port_reused_after_checkpoint)
{
    for (int v = 0; v < 2; v++) {
        Rewriter *rw = rewriter_new(NULL);
        TSeg s;
        Got g;

        set_variant(0);
        handshake_client(rw, T0);
        if (v) {
            /* the old connection's SYN again (a late duplicate) changes
             * nothing: the offset stays */
            s = seg(C, SYN, C_ISN, 0);
            run(rw, &s, T0);
            s = seg(G, ACK, S_ISN + 1, C_ISN + 1);
            ck_assert_uint_eq(run(rw, &s, T0).seq, P_ISN + 1);
        }
        rewriter_checkpoint_load(rw);
        rewriter_checkpoint(rw);
        /* the primary's reply and FIN went out before the checkpoint;
         * the client's FIN and the (copied) guest's ACK of it */
        s = seg(C, FIN | ACK, C_ISN + 1, P_ISN + 1200);
        run(rw, &s, T0 + 1);
        s = seg(G, ACK, P_ISN + 1200, C_ISN + 2);
        g = run(rw, &s, T0 + 1);
        ck_assert_uint_eq(g.seq, P_ISN + 1200);
        ck_assert_uint_eq(stats_of(rw).closed_fin, 0);
        /* 12 s later the same 4-tuple: new ISNs on every side */
        s = seg(C, SYN, C_ISN + 5000000, 0);
        ck_assert_int_eq(run(rw, &s, T0 + 12000000).r, REWRITER_UNCHANGED);
        s = seg(G, SYN | ACK, S_ISN + 9000, C_ISN + 5000001);
        ck_assert_int_eq(run(rw, &s, T0 + 12000000).r, REWRITER_UNCHANGED);
        s = seg(C, ACK, C_ISN + 5000001, P_ISN + 7000 + 1);
        g = run(rw, &s, T0 + 12000000);
        ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
        ck_assert_uint_eq(g.ack, S_ISN + 9000 + 1);
        ck_assert_uint_eq(stats_of(rw).opened_by_client, 2);
        ck_assert_uint_eq(stats_of(rw).connections, 1);
        rewriter_free(rw);
    }
}
END_TEST

START_TEST(test_failover)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;
    Got g;

    set_variant(0);
    handshake_client(rw, T0);
    rewriter_failover(rw);
    ck_assert(rewriter_in_failover(rw));
    s = seg(G, ACK | PSH, S_ISN + 1, C_ISN + 1);
    s.payload = 10;
    s.ts = true;
    s.tsval = S_TS + 100;
    g = run(rw, &s, T0 + 5);
    ck_assert_uint_eq(g.seq, P_ISN + 1);
    ck_assert_uint_eq(g.tsval, P_TS + 100);
    s = seg(C, ACK, C_ISN + 1, P_ISN + 11);
    s.ts = true;
    s.tsecr = P_TS + 100;
    g = run(rw, &s, T0 + 5);
    ck_assert_uint_eq(g.ack, S_ISN + 11);
    ck_assert_uint_eq(g.tsecr, S_TS + 100);
    /* re-protected as a primary: its checkpoints keep the offsets */
    rewriter_checkpoint_load(rw);
    rewriter_checkpoint(rw);
    s = seg(C, ACK, C_ISN + 1, P_ISN + 11);
    g = run(rw, &s, T0 + 5);
    ck_assert_uint_eq(g.ack, S_ISN + 11);
    /* a new connection: untouched, not tracked */
    base.cport = 50000;
    s = seg(C, SYN, 1, 0);
    ck_assert_int_eq(run(rw, &s, T0 + 6).r, REWRITER_UNTRACKED);
    s = seg(G, SYN | ACK, 99, 2);
    ck_assert_int_eq(run(rw, &s, T0 + 6).r, REWRITER_UNTRACKED);
    ck_assert_uint_eq(stats_of(rw).failover_passed, 1);
    ck_assert_uint_eq(stats_of(rw).connections, 1);
    rewriter_free(rw);
}
END_TEST

/* Many connections, both openers, interleaved: each keeps its own
 * offsets. */
START_TEST(test_many_connections)
{
    Rewriter *rw = rewriter_new(NULL);
    GRand *rng = g_rand_new_with_seed(3);
    enum { N = 500 };
    uint32_t cisn[N], sisn[N], pisn[N];
    TSeg s;

    set_variant(1);
    for (int i = 0; i < N; i++) {
        cisn[i] = g_rand_int(rng);
        sisn[i] = g_rand_int(rng);
        pisn[i] = g_rand_int(rng);
        base.cport = 10000 + i;
        if (i % 2) {
            s = seg(C, SYN, cisn[i], 0);
            run(rw, &s, T0);
            s = seg(G, SYN | ACK, sisn[i], cisn[i] + 1);
            run(rw, &s, T0);
            s = seg(C, ACK, cisn[i] + 1, pisn[i] + 1);
            run(rw, &s, T0);
        } else {
            s = seg(G, SYN, sisn[i], 0);
            run(rw, &s, T0);
            s = seg(C, SYN | ACK, cisn[i], pisn[i] + 1);
            run(rw, &s, T0);
        }
    }
    for (int k = 0; k < 4 * N; k++) {
        int i = g_rand_int_range(rng, 0, N);

        base.cport = 10000 + i;
        s = seg(G, ACK, sisn[i] + 1 + k, cisn[i] + 1);
        ck_assert_uint_eq(run(rw, &s, T0).seq, pisn[i] + 1 + k);
        s = seg(C, ACK, cisn[i] + 1, pisn[i] + 1 + k);
        ck_assert_uint_eq(run(rw, &s, T0).ack, sisn[i] + 1 + k);
    }
    ck_assert_uint_eq(stats_of(rw).connections, N);
    ck_assert_uint_eq(stats_of(rw).opened_by_guest, N / 2);
    g_rand_free(rng);
    rewriter_free(rw);
}
END_TEST

/* The client's ACK and data overtake the guest's SYN-ACK: held, then
 * translated once it has passed; or passed after the hold time. */
START_TEST(test_hold_until_synack)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;
    RewriterAction act;
    size_t len;
    Got g;

    set_variant(_i);
    s = seg(C, SYN, C_ISN, 0);
    run(rw, &s, T0);
    s = seg(C, ACK, C_ISN + 1, P_ISN + 1);
    ck_assert_int_eq(run(rw, &s, T0 + 10).r, REWRITER_HOLD);
    s = seg(C, ACK | PSH, C_ISN + 1, P_ISN + 1);
    s.payload = 20;
    ck_assert_int_eq(run(rw, &s, T0 + 20).r, REWRITER_HOLD);
    /* the deadline counts from the connection's first held segment */
    len = tseg_build(&s, fbuf);
    ck_assert_int_eq(rewriter_process(rw, fbuf, len, REWRITER_TO_GUEST,
                                      T0 + 25, &act), REWRITER_HOLD);
    ck_assert_int_eq(act.hold_until, T0 + 10 + REWRITER_HOLD_DEFAULT_US);
    if (_i == 1) {
        /* no SYN-ACK within the hold time: passes untranslated */
        g = run(rw, &s, T0 + 10 + REWRITER_HOLD_DEFAULT_US);
        ck_assert_int_eq(g.r, REWRITER_UNCHANGED);
        ck_assert_uint_eq(g.ack, P_ISN + 1);
        ck_assert_uint_eq(stats_of(rw).hold_expired, 1);
        rewriter_free(rw);
        return;
    }
    /* the guest's SYN-ACK releases them */
    s = seg(G, SYN | ACK, S_ISN, C_ISN + 1);
    len = tseg_build(&s, fbuf);
    ck_assert_int_eq(rewriter_process(rw, fbuf, len, REWRITER_FROM_GUEST,
                                      T0 + 30, &act), REWRITER_UNCHANGED);
    ck_assert(act.release);
    s = seg(C, ACK, C_ISN + 1, P_ISN + 1);
    g = run(rw, &s, T0 + 30);
    ck_assert_int_eq(g.r, REWRITER_REWRITTEN);
    ck_assert_uint_eq(g.ack, S_ISN + 1);
    s = seg(C, ACK | PSH, C_ISN + 1, P_ISN + 1);
    s.payload = 20;
    ck_assert_uint_eq(run(rw, &s, T0 + 30).ack, S_ISN + 1);
    /* two segments, the second submitted twice */
    ck_assert_uint_eq(stats_of(rw).held, 3);
    rewriter_free(rw);
}
END_TEST

/* The peer's ACK of the primary's FIN overtakes the guest's FIN. */
START_TEST(test_fin_ack_overtakes)
{
    Rewriter *rw = rewriter_new(NULL);
    TSeg s;

    set_variant(0);
    handshake_client(rw, T0);
    s = seg(C, FIN | ACK, C_ISN + 1, P_ISN + 1);
    run(rw, &s, T0);
    s = seg(C, ACK, C_ISN + 2, P_ISN + 2);     /* acks the primary's FIN */
    run(rw, &s, T0);
    s = seg(G, FIN | ACK, S_ISN + 1, C_ISN + 2);
    ck_assert_uint_eq(run(rw, &s, T0).seq, P_ISN + 1);
    ck_assert_uint_eq(stats_of(rw).closed_fin, 1);
    rewriter_free(rw);
}
END_TEST

static Suite *rewriter_suite(void)
{
    Suite *s = suite_create("net/rewriter");
    TCase *tl = tcase_create("learning");
    TCase *tc = tcase_create("checksum");
    TCase *tt = tcase_create("teardown");
    TCase *te = tcase_create("events");

    /* variants: v6, 0..2 VLANs, vnet, partial, odd option offsets */
    tcase_add_loop_test(tl, test_client_opened, 0, 64);
    tcase_add_loop_test(tl, test_guest_opened, 0, 64);
    tcase_add_test(tl, test_guest_opened_refused);
    tcase_add_test(tl, test_wrap);
    tcase_add_test(tl, test_many_connections);
    tcase_add_test(tl, test_untracked_and_other);
    tcase_add_loop_test(tl, test_hold_until_synack, 0, 2);
    tcase_set_timeout(tl, 60);
    suite_add_tcase(s, tl);

    tcase_add_loop_test(tc, test_checksum_oracle_random, 0, 4);
    tcase_add_test(tc, test_vnet_partial_untouched);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tcase_add_loop_test(tt, test_fin_teardown, 0, 64);
    tcase_add_test(tt, test_fin_guest_first);
    tcase_add_test(tt, test_fin_ack_overtakes);
    tcase_add_loop_test(tt, test_rst, 0, 3);
    tcase_add_test(tt, test_table_bound);
    suite_add_tcase(s, tt);

    tcase_add_test(te, test_checkpoint);

    tcase_add_test(te, test_checkpoint_load);
    tcase_add_test(te, test_checkpoint_mid_handshake);
    tcase_add_test(te, test_port_reused_after_checkpoint);
    tcase_add_test(te, test_failover);
    suite_add_tcase(s, te);
    return s;
}

int main(void)
{
    return check_run(rewriter_suite());
}
