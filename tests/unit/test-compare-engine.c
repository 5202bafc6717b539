/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-compare-engine.c - unit tests of the colo-compare engine
 * (net/compare-engine.c), driven directly with hand-built frames and explicit
 * timestamps.
 *
 * TCP: equal streams, different segmentation both ways, retransmissions,
 * sequence wrap at 2^32, reordering, equal bytes at different offsets (a
 * mismatch; QEMU releases them), FIN at a different offset, ACK gating of
 * data and of pure ACKs, IPv6, VLAN, Ethernet padding (never payload).
 * Datagrams: FIFO order for UDP and ICMP (QEMU is LIFO), fragments,
 * header fields ignored / compared.  Release rules: checkpoint flush
 * order and re-anchoring, failover, timeout scan, one request per
 * episode, exact queue bound with nothing lost, full table never wiped,
 * 1,000,000 flows within the bound, memory per idle connection.
 */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "net/compare-engine.h"
#include "net/packet.h"

/* ------------------------------------------------------------------------ */
/* Frame builder.                                                             */

typedef struct Spec {
    int ipv6;
    int n_vlans;
    uint16_t vlan[2];
    uint8_t proto;
    uint32_t saddr, daddr;          /* IPv4, host order */
    uint8_t s6[16], d6[16];
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t window;
    uint8_t ttl;
    uint16_t ipid;
    const void *payload;
    size_t plen;
    size_t pad_to;                  /* Ethernet padding up to this size */
    uint8_t pad_byte;
    uint8_t icmp_type;
    uint16_t icmp_id, icmp_seq;
    int frag;                       /* IPv4 fragment: offset in bytes */
    int frag_mf;
    int is_frag;
    uint16_t l4_csum;
} Spec;

static Spec tcp_spec(uint32_t seq, uint32_t ack, uint8_t flags,
                     const char *payload, size_t plen)
{
    Spec s = {
        .proto = IP_PROTO_TCP,
        .saddr = 0x0a000001, .daddr = 0x0a000002,
        .sport = 80, .dport = 5555,
        .seq = seq, .ack = ack, .flags = flags,
        .window = 1000, .ttl = 64, .ipid = 1,
        .payload = payload, .plen = plen,
    };
    return s;
}

static Spec udp_spec(const char *payload, size_t plen)
{
    Spec s = {
        .proto = IP_PROTO_UDP,
        .saddr = 0x0a000001, .daddr = 0x0a000002,
        .sport = 53, .dport = 4000,
        .ttl = 64, .ipid = 7,
        .payload = payload, .plen = plen,
    };
    return s;
}

static size_t build(uint8_t *buf, const Spec *s)
{
    size_t o = 0, l3, l4, l4len;

    memset(buf, 0, 2048);
    memcpy(buf, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
    o = 12;
    for (int i = 0; i < s->n_vlans; i++) {
        packet_store_be16(buf + o, i == 0 && s->n_vlans == 2 ? 0x88a8
                                                             : 0x8100);
        packet_store_be16(buf + o + 2, s->vlan[i]);
        o += 4;
    }
    packet_store_be16(buf + o, s->ipv6 ? ETH_TYPE_IPV6 : ETH_TYPE_IPV4);
    o += 2;
    l3 = o;
    l4 = l3 + (s->ipv6 ? 40 : 20);
    /* L4 */
    switch (s->proto) {
    case IP_PROTO_TCP:
        packet_store_be16(buf + l4, s->sport);
        packet_store_be16(buf + l4 + 2, s->dport);
        packet_store_be32(buf + l4 + 4, s->seq);
        packet_store_be32(buf + l4 + 8, s->ack);
        buf[l4 + 12] = 5 << 4;
        buf[l4 + 13] = s->flags;
        packet_store_be16(buf + l4 + 14, s->window);
        packet_store_be16(buf + l4 + 16, s->l4_csum);
        l4len = 20;
        break;
    case IP_PROTO_UDP:
        packet_store_be16(buf + l4, s->sport);
        packet_store_be16(buf + l4 + 2, s->dport);
        packet_store_be16(buf + l4 + 4, 8 + s->plen);
        packet_store_be16(buf + l4 + 6, s->l4_csum);
        l4len = 8;
        break;
    case IP_PROTO_ICMP:
    case IP_PROTO_ICMPV6:
        buf[l4] = s->icmp_type;
        packet_store_be16(buf + l4 + 2, s->l4_csum);
        packet_store_be16(buf + l4 + 4, s->icmp_id);
        packet_store_be16(buf + l4 + 6, s->icmp_seq);
        l4len = 8;
        break;
    default:
        l4len = 0;
        break;
    }
    if (s->is_frag && s->frag) {
        l4len = 0;              /* a later fragment: data only */
    }
    if (s->plen) {
        memcpy(buf + l4 + l4len, s->payload, s->plen);
    }
    o = l4 + l4len + s->plen;
    if (s->ipv6) {
        buf[l3] = 0x60;
        packet_store_be16(buf + l3 + 4, o - l4);
        buf[l3 + 6] = s->proto;
        buf[l3 + 7] = s->ttl;
        memcpy(buf + l3 + 8, s->s6, 16);
        memcpy(buf + l3 + 24, s->d6, 16);
    } else {
        buf[l3] = 0x45;
        packet_store_be16(buf + l3 + 2, o - l3);
        packet_store_be16(buf + l3 + 4, s->ipid);
        if (s->is_frag) {
            packet_store_be16(buf + l3 + 6,
                              (s->frag / 8) | (s->frag_mf ? 0x2000 : 0));
        }
        buf[l3 + 8] = s->ttl;
        buf[l3 + 9] = s->proto;
        packet_store_be32(buf + l3 + 12, s->saddr);
        packet_store_be32(buf + l3 + 16, s->daddr);
    }
    while (o < s->pad_to) {
        buf[o++] = s->pad_byte;
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* A test engine recording what it does.                                      */

typedef struct Rec {
    GPtrArray *out;             /* GBytes of released frames */
    int ckpt[COMPARE_CKPT__MAX];
    int ckpt_total;
    int mis[COMPARE_MISMATCH__MAX];
    char last_conn[160];
    char last_detail[160];
} Rec;

static Rec rec;
static int64_t now_us;

static void rec_release(void *opaque, const uint8_t *buf, uint32_t len,
                        uint32_t vnet)
{
    (void) opaque;
    (void) vnet;
    g_ptr_array_add(rec.out, g_bytes_new(buf, len));
}

static void rec_checkpoint(void *opaque, CompareCkptReason r, const char *d)
{
    (void) opaque;
    rec.ckpt[r]++;
    rec.ckpt_total++;
    g_strlcpy(rec.last_detail, d ? d : "", sizeof rec.last_detail);
}

static void rec_miscompare(void *opaque, const char *conn, CompareMismatch m)
{
    (void) opaque;
    rec.mis[m]++;
    g_strlcpy(rec.last_conn, conn, sizeof rec.last_conn);
}

static const CompareOps rec_ops = {
    .release = rec_release,
    .checkpoint = rec_checkpoint,
    .miscompare = rec_miscompare,
};

static CompareEngine *eng_new_cfg(const CompareConfig *cfg)
{
    if (rec.out) {
        g_ptr_array_unref(rec.out);
    }
    memset(&rec, 0, sizeof rec);
    rec.out = g_ptr_array_new_with_free_func((GDestroyNotify) g_bytes_unref);
    now_us = 1000000;
    return compare_new(cfg, &rec_ops, NULL);
}

static CompareEngine *eng_new(void)
{
    CompareConfig cfg;

    compare_config_init(&cfg);
    return eng_new_cfg(&cfg);
}

/* Feeds a frame built from 's'; returns its bytes (for order checks). */
static GBytes *feed(CompareEngine *e, CompareSide side, const Spec *s)
{
    uint8_t buf[2048];
    size_t n = build(buf, s);

    compare_input(e, side, buf, n, 0, now_us);
    return g_bytes_new(buf, n);
}

static void feed_tcp(CompareEngine *e, CompareSide side, uint32_t seq,
                     uint32_t ack, uint8_t flags, const char *p, size_t n)
{
    Spec s = tcp_spec(seq, ack, flags, p, n);

    g_bytes_unref(feed(e, side, &s));
}

/* Asserts released frame i is 'b' (and drops 'b'). */
static void assert_out(unsigned i, GBytes *b)
{
    ck_assert_uint_gt(rec.out->len, i);
    ck_assert_msg(g_bytes_equal(g_ptr_array_index(rec.out, i), b),
                  "released frame %u differs", i);
    g_bytes_unref(b);
}

static void stats(CompareEngine *e, CompareStats *st)
{
    compare_get_stats(e, st);
}

#define A PACKET_TCP_ACK
#define S PACKET_TCP_SYN
#define F PACKET_TCP_FIN
#define P PACKET_TCP_PSH

/* Handshake as seen from the server guest: SYN-ACK from each side with its
 * own ISN, then the secondary acks as far as the primary. */
static void handshake(CompareEngine *e, uint32_t pisn, uint32_t sisn,
                      uint32_t cisn)
{
    feed_tcp(e, COMPARE_PRIMARY, pisn, cisn + 1, S | A, NULL, 0);
    feed_tcp(e, COMPARE_SECONDARY, sisn, cisn + 1, S | A, NULL, 0);
}

static char data100[101];

static void init_data(void)
{
    for (int i = 0; i < 100; i++) {
        data100[i] = 'a' + i % 26;
    }
}

/* ------------------------------------------------------------------------ */
/* TCP.                                                                       */

START_TEST(test_tcp_equal)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    init_data();
    handshake(e, 1000, 5000, 77);
    ck_assert_uint_eq(rec.out->len, 1);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A | P, data100, 100);
    ck_assert_uint_eq(rec.out->len, 1);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A | P, data100, 100);
    ck_assert_uint_eq(rec.out->len, 2);
    stats(e, &st);
    ck_assert_uint_eq(st.matched, 2);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    ck_assert_int_eq(rec.ckpt_total, 0);
    /* secondary first this time */
    feed_tcp(e, COMPARE_SECONDARY, 5101, 78, A, data100, 10);
    ck_assert_uint_eq(rec.out->len, 2);
    feed_tcp(e, COMPARE_PRIMARY, 1101, 78, A, data100, 10);
    ck_assert_uint_eq(rec.out->len, 3);
    compare_free(e);
}
END_TEST

/* The topology's own quirk: the secondary's SYN-ACK leaves filter-rewriter
 * in the guest's sequence space (the offset is learned later, from the
 * client's ACK), and its data in the primary's.  The stream must be pinned
 * at the first segment after the SYN, not at the SYN. */
START_TEST(test_tcp_untranslated_synack)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    init_data();
    handshake(e, 1000, 5000, 77);           /* secondary ISN untranslated */
    feed_tcp(e, COMPARE_SECONDARY, 1001, 78, A | P, data100, 100);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A | P, data100, 100);
    ck_assert_uint_eq(rec.out->len, 2);
    feed_tcp(e, COMPARE_PRIMARY, 1101, 78, A | P, data100, 50);
    feed_tcp(e, COMPARE_SECONDARY, 1101, 78, A | P, data100, 50);
    ck_assert_uint_eq(rec.out->len, 3);
    stats(e, &st);
    ck_assert_uint_eq(st.reanchored, 1);
    ck_assert_int_eq(rec.ckpt_total, 0);
    ck_assert_uint_eq(st.sec_dropped[COMPARE_SDROP_STALE], 0);
    compare_free(e);
}
END_TEST

/* The guest retransmits its SYN-ACK after the rewriter learned the offset:
 * that copy arrives translated and must pin the stream like data does. */
START_TEST(test_tcp_translated_synack_retransmit)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    init_data();
    handshake(e, 5000, 1000, 77);
    feed_tcp(e, COMPARE_SECONDARY, 5000, 78, S | A, NULL, 0);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A | P, data100, 100);
    feed_tcp(e, COMPARE_PRIMARY, 5001, 78, A | P, data100, 100);
    stats(e, &st);
    ck_assert_uint_eq(rec.out->len, 2);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

/* A connection refused right after the handshake: both RSTs leave. */
START_TEST(test_tcp_rst_after_handshake)
{
    CompareEngine *e = eng_new();

    handshake(e, 5000, 1000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 5001, 78, PACKET_TCP_RST | A, NULL, 0);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, PACKET_TCP_RST | A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 2);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_segmentation)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    init_data();
    handshake(e, 1000, 5000, 77);
    /* one 100-byte primary segment against two 50-byte secondary ones */
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A, data100, 100);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, data100, 50);
    ck_assert_uint_eq(rec.out->len, 1);
    feed_tcp(e, COMPARE_SECONDARY, 5051, 78, A, data100 + 50, 50);
    ck_assert_uint_eq(rec.out->len, 2);
    /* two 50-byte primary segments against one 100-byte secondary */
    feed_tcp(e, COMPARE_PRIMARY, 1101, 78, A, data100, 50);
    feed_tcp(e, COMPARE_PRIMARY, 1151, 78, A, data100 + 50, 50);
    ck_assert_uint_eq(rec.out->len, 2);
    feed_tcp(e, COMPARE_SECONDARY, 5101, 78, A, data100, 100);
    ck_assert_uint_eq(rec.out->len, 4);
    /* 30+70 against 60+40 */
    feed_tcp(e, COMPARE_PRIMARY, 1201, 78, A, data100, 30);
    feed_tcp(e, COMPARE_SECONDARY, 5201, 78, A, data100, 60);
    ck_assert_uint_eq(rec.out->len, 5);
    feed_tcp(e, COMPARE_PRIMARY, 1231, 78, A, data100 + 30, 70);
    ck_assert_uint_eq(rec.out->len, 5);
    feed_tcp(e, COMPARE_SECONDARY, 5261, 78, A, data100 + 60, 40);
    ck_assert_uint_eq(rec.out->len, 6);
    stats(e, &st);
    ck_assert_int_eq(rec.ckpt_total, 0);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_retransmit)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    init_data();
    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A, data100, 100);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, data100, 100);
    ck_assert_uint_eq(rec.out->len, 2);
    /* primary retransmits verified data: released at once */
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A, data100, 100);
    ck_assert_uint_eq(rec.out->len, 3);
    /* secondary retransmits: dropped as stale */
    feed_tcp(e, COMPARE_SECONDARY, 5051, 78, A, data100 + 50, 50);
    stats(e, &st);
    ck_assert_uint_eq(st.sec_dropped[COMPARE_SDROP_STALE], 1);
    /* partial overlap retransmission on the secondary */
    feed_tcp(e, COMPARE_PRIMARY, 1101, 78, A, data100, 40);
    feed_tcp(e, COMPARE_SECONDARY, 5091, 78, A, data100 + 90, 10);
    feed_tcp(e, COMPARE_SECONDARY, 5091, 78, A, "\0", 0);
    ck_assert_uint_eq(rec.out->len, 3);
    {
        char buf[50];

        memcpy(buf, data100 + 90, 10);
        memcpy(buf + 10, data100, 40);
        feed_tcp(e, COMPARE_SECONDARY, 5091, 78, A, buf, 50);
    }
    ck_assert_uint_eq(rec.out->len, 4);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_wrap)
{
    CompareEngine *e = eng_new();
    CompareStats st;
    uint32_t pisn = 0xffffffb0u, sisn = 0x7fffffe0u;

    init_data();
    handshake(e, pisn, sisn, 0xfffffff0u);
    /* the primary stream wraps at 2^32 inside the second segment */
    for (int i = 0; i < 4; i++) {
        feed_tcp(e, COMPARE_PRIMARY, pisn + 1 + i * 25, 0xfffffff1u + i,
                 A, data100 + i * 25, 25);
    }
    feed_tcp(e, COMPARE_SECONDARY, sisn + 1, 0xfffffff1u + 3, A, data100, 100);
    ck_assert_uint_eq(rec.out->len, 5);
    /* the ack wraps too */
    feed_tcp(e, COMPARE_PRIMARY, pisn + 101, 0x10, A, data100, 10);
    feed_tcp(e, COMPARE_SECONDARY, sisn + 101, 0xfffffffeu, A, data100, 10);
    ck_assert_uint_eq(rec.out->len, 5);         /* ack gating across wrap */
    feed_tcp(e, COMPARE_SECONDARY, sisn + 111, 0x10, A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 6);
    stats(e, &st);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_reorder)
{
    CompareEngine *e = eng_new();
    Spec s1 = tcp_spec(1001, 78, A, NULL, 0), s2 = s1, s3 = s1;
    GBytes *b1, *b2, *b3;

    init_data();
    handshake(e, 1000, 5000, 77);
    s1.payload = data100; s1.plen = 30;
    s2.seq = 1031; s2.payload = data100 + 30; s2.plen = 30;
    s3.seq = 1061; s3.payload = data100 + 60; s3.plen = 40;
    /* the primary sends 2, 3, 1; the secondary, in order (see
     * test_tcp_gap), cuts the same bytes otherwise */
    b2 = feed(e, COMPARE_PRIMARY, &s2);
    b3 = feed(e, COMPARE_PRIMARY, &s3);
    b1 = feed(e, COMPARE_PRIMARY, &s1);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, data100, 20);
    ck_assert_uint_eq(rec.out->len, 1);
    feed_tcp(e, COMPARE_SECONDARY, 5021, 78, A, data100 + 20, 30);
    ck_assert_uint_eq(rec.out->len, 1);
    feed_tcp(e, COMPARE_SECONDARY, 5051, 78, A, data100 + 50, 50);
    ck_assert_uint_eq(rec.out->len, 4);
    /* released in the primary's original order */
    assert_out(1, b2);
    assert_out(2, b3);
    assert_out(3, b1);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_same_bytes_other_offset)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    /* QEMU's verified case: primary at 7000, secondary at 9000, same 4
     * bytes: QEMU releases.  Here both streams are anchored (SYN) and the
     * bytes sit at different offsets: not released.  The secondary jumped
     * past 4 bytes it never sent: a divergence at once (test_tcp_gap). */
    handshake(e, 6999, 8995, 77);
    feed_tcp(e, COMPARE_PRIMARY, 7000, 78, A, "abcd", 4);
    feed_tcp(e, COMPARE_SECONDARY, 9000, 78, A, "abcd", 4);
    ck_assert_uint_eq(rec.out->len, 1);         /* only the SYN-ACK */
    stats(e, &st);
    ck_assert_uint_eq(st.mismatches[COMPARE_MISMATCH_GAP], 1);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_MISCOMPARE], 1);
    ck_assert_str_eq(rec.last_conn, "tcp 10.0.0.1:80 -> 10.0.0.2:5555");
    /* the secondary fills the hole later: nothing changes until the
     * checkpoint (the connection waits for it) */
    feed_tcp(e, COMPARE_SECONDARY, 8996, 78, A, "wxyz", 4);
    ck_assert_uint_eq(rec.out->len, 1);
    ck_assert_int_eq(rec.ckpt_total, 1);
    /* the checkpoint releases the held primary */
    compare_checkpoint(e);
    ck_assert_uint_eq(rec.out->len, 2);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_shifted_stream_mismatch)
{
    CompareEngine *e = eng_new();

    /* equal bytes, one byte apart: "xabc" vs "abc" at the same offset */
    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A, "xabc", 4);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, "abcx", 4);
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_PAYLOAD], 1);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_MISCOMPARE], 1);
    ck_assert_uint_eq(rec.out->len, 1);
    compare_free(e);
}
END_TEST

/* Real COLO with QEMU's driver: the frame says when both guests are
 * stopped and the checkpoint's state is being saved (begin), then when it
 * committed.  The secondary resumes from the new state before the commit
 * reaches us, so the flush belongs to the begin: what the secondary sends
 * from the new state must survive the commit and meet the primary's new
 * output (flushing at the commit dropped it, and the primary's
 * counterparts waited for the next checkpoint: 2 s stalls with
 * x-checkpoint-delay 2000). */
START_TEST(test_tcp_checkpoint_begin_flushes)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    init_data();
    handshake(e, 1000, 1000, 77);
    /* the primary sent 100 bytes the secondary never will: held */
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A, data100, 100);
    ck_assert_uint_eq(rec.out->len, 1);
    /* both stopped: the flush releases them at once */
    compare_checkpoint_begin(e);
    ck_assert_uint_eq(rec.out->len, 2);
    /* the secondary resumed from the new state before the commit */
    feed_tcp(e, COMPARE_SECONDARY, 1101, 78, A, data100, 50);
    compare_checkpoint(e);
    /* the commit dropped nothing: the primary's counterpart matches */
    feed_tcp(e, COMPARE_PRIMARY, 1101, 78, A, data100, 50);
    ck_assert_uint_eq(rec.out->len, 3);
    stats(e, &st);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    ck_assert_uint_eq(st.mismatches[COMPARE_MISMATCH_GAP], 0);
    ck_assert_int_eq(rec.ckpt_total, 0);
    /* after the commit a jump is a divergence again */
    feed_tcp(e, COMPARE_PRIMARY, 1151, 78, A, data100, 10);
    feed_tcp(e, COMPARE_SECONDARY, 1161 + 500, 78, A, data100, 10);
    stats(e, &st);
    ck_assert_uint_eq(st.mismatches[COMPARE_MISMATCH_GAP], 1);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_MISCOMPARE], 1);
    compare_free(e);

    /* in the window a jump is no divergence: an old-state frame of the
     * secondary came after the flush and anchored its stream */
    e = eng_new();
    handshake(e, 1000, 1000, 77);
    compare_checkpoint_begin(e);
    feed_tcp(e, COMPARE_SECONDARY, 1001, 78, A, data100, 10);
    feed_tcp(e, COMPARE_SECONDARY, 1501, 78, A, data100, 10);
    stats(e, &st);
    ck_assert_uint_eq(st.gaps_in_checkpoint, 1);
    ck_assert_uint_eq(st.mismatches[COMPARE_MISMATCH_GAP], 0);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);

    /* failover closes the window, and a begin after it does nothing */
    e = eng_new();
    handshake(e, 1000, 1000, 77);
    compare_checkpoint_begin(e);
    compare_failover(e);
    compare_checkpoint_begin(e);
    feed_tcp(e, COMPARE_SECONDARY, 1001, 78, A, data100, 10);
    feed_tcp(e, COMPARE_SECONDARY, 1501, 78, A, data100, 10);
    stats(e, &st);
    ck_assert_uint_eq(st.gaps_in_checkpoint, 0);
    compare_free(e);
}
END_TEST

/* Issue 13: a secondary stream that jumps past bytes it never sent (or
 * whose bytes were lost on the way) diverges at once: the bytes will never
 * come over the secondary's reliable link, so waiting for compare_timeout
 * only delays the checkpoint. */
START_TEST(test_tcp_gap)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    init_data();
    /* the example: same ISN, the primary sends 4 bytes at offset
     * 0, the secondary its first data at offset 2000 */
    handshake(e, 1000, 1000, 77);
    ck_assert_uint_eq(rec.out->len, 1);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A | P, "abcd", 4);
    feed_tcp(e, COMPARE_SECONDARY, 1001 + 2000, 78, A | P, "abcd", 4);
    stats(e, &st);
    ck_assert_uint_eq(st.mismatches[COMPARE_MISMATCH_GAP], 1);
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_GAP], 1);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_MISCOMPARE], 1);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_TIMEOUT], 0);
    ck_assert_uint_eq(rec.out->len, 1);
    /* the checkpoint releases the primary's bytes; then both streams go on
     * from where they are */
    compare_checkpoint(e);
    ck_assert_uint_eq(rec.out->len, 2);
    feed_tcp(e, COMPARE_PRIMARY, 1005, 78, A | P, "efgh", 4);
    feed_tcp(e, COMPARE_SECONDARY, 1005, 78, A | P, "efgh", 4);
    ck_assert_uint_eq(rec.out->len, 3);
    compare_free(e);

    /* a hole in the middle: the secondary's bytes [100, 200) were dropped
     * by a full queue on the way (its redirector counted them) */
    e = eng_new();
    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A, data100, 100);
    feed_tcp(e, COMPARE_PRIMARY, 1101, 78, A, data100, 100);
    feed_tcp(e, COMPARE_PRIMARY, 1201, 78, A, data100, 100);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, data100, 100);
    ck_assert_uint_eq(rec.out->len, 2);
    ck_assert_int_eq(rec.ckpt_total, 0);
    feed_tcp(e, COMPARE_SECONDARY, 5201, 78, A, data100, 100);
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_GAP], 1);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_MISCOMPARE], 1);
    ck_assert_uint_eq(rec.out->len, 2);
    compare_checkpoint(e);
    ck_assert_uint_eq(rec.out->len, 4);
    stats(e, &st);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    compare_free(e);

    /* not a gap: retransmissions and overlaps behind the highest byte
     * seen, a segment that starts exactly there, pure ACKs ahead */
    e = eng_new();
    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, data100, 50);
    feed_tcp(e, COMPARE_SECONDARY, 5021, 78, A, data100 + 20, 40);
    feed_tcp(e, COMPARE_SECONDARY, 5061, 78, A, data100 + 60, 40);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, data100, 10);
    feed_tcp(e, COMPARE_SECONDARY, 5101, 79, A, NULL, 0);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 79, A, data100, 100);
    ck_assert_uint_eq(rec.out->len, 2);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_fin_offset)
{
    CompareEngine *e = eng_new();

    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A | F, "abcd", 4);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, "abcde", 5);
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_FLAGS], 1);
    ck_assert_uint_eq(rec.out->len, 1);
    compare_free(e);

    e = eng_new();
    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A | F, "abcd", 4);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, "ab", 2);
    feed_tcp(e, COMPARE_SECONDARY, 5003, 78, A | F, "cd", 2);
    ck_assert_uint_eq(rec.out->len, 2);
    ck_assert_int_eq(rec.ckpt_total, 0);
    /* a pure FIN from each side */
    feed_tcp(e, COMPARE_PRIMARY, 1006, 79, A | F, NULL, 0);
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_FLAGS], 0);
    compare_free(e);
}
END_TEST

/* After two frames out: the client reuses the port, both guests answer
 * with new ISNs; everything matches at once, counted as a reuse. */
static void reuse_port(CompareEngine *e)
{
    CompareStats st;

    handshake(e, 900000, 700000, 4000);
    ck_assert_uint_eq(rec.out->len, 3);
    feed_tcp(e, COMPARE_PRIMARY, 900001, 4001, A, "efgh", 4);
    feed_tcp(e, COMPARE_SECONDARY, 700001, 4001, A, "efgh", 4);
    ck_assert_uint_eq(rec.out->len, 4);
    ck_assert_int_eq(rec.ckpt_total, 0);
    stats(e, &st);
    ck_assert_uint_eq(st.tcp_reused, 1);
}

/* A client that reuses its port while the ended connection still lingers
 * here (tcp_closed_timeout): the guests answer the new SYN with new ISNs;
 * the new connection starts afresh, not at the old one's anchors (real
 * COLO: requests waited compare_timeout, 4 s, on reused ports). */
START_TEST(test_tcp_port_reused)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A | F, "abcd", 4);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A | F, "abcd", 4);
    ck_assert_uint_eq(rec.out->len, 2);
    reuse_port(e);
    stats(e, &st);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    compare_free(e);
}
END_TEST

/* The same, when the primary's FIN went out by a checkpoint (the
 * secondary, now a copy of the primary, never sends its own): the
 * connection has ended, a reused port starts afresh.  Seen with real
 * QEMUs: the new connection's SYN-ACK was held until the next checkpoint
 * (2 s). */
START_TEST(test_tcp_port_reused_after_checkpoint)
{
    CompareEngine *e = eng_new();

    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A | F, "abcd", 4);
    ck_assert_uint_eq(rec.out->len, 1);
    compare_checkpoint(e);
    ck_assert_uint_eq(rec.out->len, 2);
    reuse_port(e);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_ack_gating)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    init_data();
    handshake(e, 1000, 5000, 77);
    ck_assert_uint_eq(rec.out->len, 1);
    /* the primary acks 200 client bytes; the secondary has acked only 100 */
    feed_tcp(e, COMPARE_PRIMARY, 1001, 278, A, data100, 50);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 178, A, data100, 50);
    ck_assert_uint_eq(rec.out->len, 1);         /* verified, but gated */
    /* a pure ACK from the secondary catches up: released at once */
    feed_tcp(e, COMPARE_SECONDARY, 5051, 278, A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 2);
    /* a primary pure ACK: released as soon as the rule allows */
    feed_tcp(e, COMPARE_PRIMARY, 1051, 300, A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 2);
    feed_tcp(e, COMPARE_SECONDARY, 5051, 299, A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 2);
    feed_tcp(e, COMPARE_SECONDARY, 5051, 300, A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 3);
    /* and at once when the secondary is ahead */
    feed_tcp(e, COMPARE_PRIMARY, 1051, 300, A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 4);
    /* acks are max-tracked, not last-seen */
    feed_tcp(e, COMPARE_SECONDARY, 5051, 250, A, NULL, 0);
    feed_tcp(e, COMPARE_PRIMARY, 1051, 290, A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 5);
    stats(e, &st);
    ck_assert_int_eq(rec.ckpt_total, 0);
    ck_assert_uint_eq(st.held[0], 0);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_syn_pure_ack_not_waiting)
{
    CompareEngine *e = eng_new();

    /* guest-initiated: a SYN without ACK leaves when the secondary's SYN
     * is there; no unrelated packet is needed */
    feed_tcp(e, COMPARE_SECONDARY, 9000, 0, S, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 0);
    feed_tcp(e, COMPARE_PRIMARY, 3000, 0, S, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 1);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_ipv6_vlan)
{
    CompareEngine *e = eng_new();
    Spec p = tcp_spec(1000, 78, S | A, NULL, 0), s;
    CompareStats st;

    p.ipv6 = 1;
    p.s6[0] = 0x20; p.s6[1] = 0x01; p.s6[15] = 1;
    p.d6[0] = 0x20; p.d6[1] = 0x01; p.d6[15] = 2;
    p.n_vlans = 1;
    p.vlan[0] = 10;
    s = p;
    s.seq = 5000;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &s));
    ck_assert_uint_eq(rec.out->len, 1);
    p.seq = 1001; p.flags = A; p.payload = "hello"; p.plen = 5;
    s.seq = 5001; s.flags = A; s.payload = "hellO"; s.plen = 5;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &s));
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_PAYLOAD], 1);
    ck_assert_str_eq(rec.last_conn,
                     "tcp [2001::1]:80 -> [2001::2]:5555 vlan 10");
    compare_free(e);

    /* the same flow in another VLAN is another connection */
    e = eng_new();
    p = tcp_spec(1000, 78, S | A, NULL, 0);
    p.n_vlans = 2; p.vlan[0] = 10; p.vlan[1] = 20;
    s = p;
    s.vlan[1] = 21;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &s));
    ck_assert_uint_eq(rec.out->len, 0);
    stats(e, &st);
    ck_assert_uint_eq(st.connections, 2);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_padding)
{
    CompareEngine *e = eng_new();
    Spec p, s;
    CompareStats st;

    handshake(e, 1000, 5000, 77);
    /* 2 bytes of payload in a frame padded to 60 with different padding */
    p = tcp_spec(1001, 78, A, "hi", 2);
    p.pad_to = 60; p.pad_byte = 0xaa;
    s = tcp_spec(5001, 78, A, "hi", 2);
    s.pad_to = 60; s.pad_byte = 0x55;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &s));
    ck_assert_uint_eq(rec.out->len, 2);
    /* the next bytes are at offset 3, not after the padding */
    feed_tcp(e, COMPARE_PRIMARY, 1003, 78, A, "xy", 2);
    feed_tcp(e, COMPARE_SECONDARY, 5003, 78, A, "xy", 2);
    ck_assert_uint_eq(rec.out->len, 3);
    stats(e, &st);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_header_fields)
{
    CompareConfig cfg;
    CompareEngine *e;
    Spec p, s;

    /* ignored by default: window, TTL, IP ID */
    e = eng_new();
    handshake(e, 1000, 5000, 77);
    p = tcp_spec(1001, 78, A, "abc", 3);
    s = tcp_spec(5001, 78, A, "abc", 3);
    s.window = 7; s.ttl = 3; s.ipid = 999;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &s));
    ck_assert_uint_eq(rec.out->len, 2);
    compare_free(e);

    /* compared when not ignored */
    compare_config_init(&cfg);
    ck_assert(compare_parse_ignore("ttl,ipid", &cfg.ignored_fields, NULL));
    e = eng_new_cfg(&cfg);
    handshake(e, 1000, 5000, 77);
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &s));
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_HEADER], 1);
    compare_free(e);
}
END_TEST


START_TEST(test_tcp_reanchor_idle)
{
    CompareEngine *e = eng_new();

    init_data();
    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, A, data100, 100);
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, data100, 100);
    ck_assert_uint_eq(rec.out->len, 2);
    /* a checkpoint while the connection holds nothing: the secondary is
     * now a copy of the primary and continues in its sequence space */
    compare_checkpoint(e);
    feed_tcp(e, COMPARE_PRIMARY, 1101, 78, A, "abc", 3);
    feed_tcp(e, COMPARE_SECONDARY, 1101, 78, A, "abc", 3);
    ck_assert_uint_eq(rec.out->len, 3);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_rst)
{
    CompareEngine *e = eng_new();
    CompareStats st;

    handshake(e, 1000, 5000, 77);
    feed_tcp(e, COMPARE_PRIMARY, 1001, 78, PACKET_TCP_RST | A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 1);     /* waits for the secondary's */
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, PACKET_TCP_RST | A, NULL, 0);
    ck_assert_uint_eq(rec.out->len, 2);
    stats(e, &st);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    /* closed: expires after tcp_closed_idle, not the long idle timeout */
    now_us += (COMPARE_DEFAULT_TCP_CLOSED_IDLE_MS + 1) * (int64_t) 1000;
    compare_scan(e, now_us, 0);
    stats(e, &st);
    ck_assert_uint_eq(st.connections, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_icmpv6_udp6)
{
    CompareEngine *e = eng_new();
    Spec p = udp_spec("six", 3);

    p.ipv6 = 1;
    p.s6[0] = 0xfe; p.s6[1] = 0x80; p.s6[15] = 1;
    p.d6[0] = 0xfe; p.d6[1] = 0x80; p.d6[15] = 2;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    p.ttl = 1;                              /* hop limit: not compared */
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &p));
    ck_assert_uint_eq(rec.out->len, 1);
    p.proto = IP_PROTO_ICMPV6;
    p.icmp_type = 129;
    p.icmp_id = 5;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &p));
    ck_assert_uint_eq(rec.out->len, 2);
    p.payload = "SIX";
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    p.payload = "six";
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &p));
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_PAYLOAD], 1);
    ck_assert_str_eq(rec.last_conn, "icmpv6 fe80::1 -> fe80::2");
    compare_free(e);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Datagrams.                                                                 */

/* The hold-time hook (CompareOps.held_released): once per held primary
 * frame, after its release, with its arrival time; matched and flushed
 * frames alike. */
static int64_t held_arrival[4];
static int held_n;

static void rec_held(void *opaque, int64_t arrival_us)
{
    (void) opaque;
    ck_assert_uint_gt(rec.out->len, 0);       /* after release() */
    if (held_n < 4) {
        held_arrival[held_n] = arrival_us;
    }
    held_n++;
}

START_TEST(test_held_released_hook)
{
    static const CompareOps ops = {
        .release = rec_release,
        .checkpoint = rec_checkpoint,
        .miscompare = rec_miscompare,
        .held_released = rec_held,
    };
    CompareConfig cfg;
    CompareEngine *e;
    Spec p1 = udp_spec("one", 3), p2 = udp_spec("two", 3);

    compare_config_init(&cfg);
    compare_free(eng_new_cfg(&cfg));            /* resets rec */
    e = compare_new(&cfg, &ops, NULL);
    held_n = 0;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p1));
    now_us += 500;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p2));
    now_us += 500;
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &p1));   /* p1 matched */
    ck_assert_int_eq(held_n, 1);
    ck_assert_int_eq(held_arrival[0], 1000000);
    compare_checkpoint(e);                            /* p2 flushed */
    ck_assert_int_eq(held_n, 2);
    ck_assert_int_eq(held_arrival[1], 1000500);
    ck_assert_uint_eq(rec.out->len, 2);
    compare_free(e);
}
END_TEST

START_TEST(test_udp_fifo)
{
    CompareEngine *e = eng_new();
    Spec p1 = udp_spec("one", 3), p2 = udp_spec("two", 3);
    GBytes *b1, *b2;
    CompareStats st;

    /* p1, p2 queued before any secondary; QEMU compares p2 first,
     * requests a checkpoint and releases p2, p1 */
    b1 = feed(e, COMPARE_PRIMARY, &p1);
    b2 = feed(e, COMPARE_PRIMARY, &p2);
    p1.ipid = 100; p1.ttl = 3;          /* not compared */
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &p1));
    ck_assert_uint_eq(rec.out->len, 1);
    ck_assert_int_eq(rec.ckpt_total, 0);
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &p2));
    ck_assert_uint_eq(rec.out->len, 2);
    assert_out(0, b1);
    assert_out(1, b2);
    stats(e, &st);
    ck_assert_uint_eq(st.matched, 2);
    /* a different payload */
    p1.payload = "ONE";
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p2));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &p1));
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_PAYLOAD], 1);
    ck_assert_str_eq(rec.last_conn, "udp 10.0.0.1:53 -> 10.0.0.2:4000");
    /* a different length */
    compare_checkpoint(e);
    ck_assert_uint_eq(rec.out->len, 3);
    p1.plen = 2;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p2));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &p1));
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_LENGTH], 1);
    compare_free(e);
}
END_TEST

START_TEST(test_udp_padding_checksum)
{
    CompareEngine *e = eng_new();
    Spec p = udp_spec("x", 1), s = p;

    p.pad_to = 60; p.pad_byte = 1;
    s.pad_to = 64; s.pad_byte = 2;
    s.l4_csum = 0x1234;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &s));
    ck_assert_uint_eq(rec.out->len, 1);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_icmp_fifo)
{
    CompareEngine *e = eng_new();
    Spec p = udp_spec("ping", 4);
    GBytes *b[3];

    p.proto = IP_PROTO_ICMP;
    p.icmp_type = 0;
    p.icmp_id = 9;
    for (int i = 0; i < 3; i++) {
        p.icmp_seq = i;
        b[i] = feed(e, COMPARE_PRIMARY, &p);
    }
    for (int i = 0; i < 3; i++) {
        p.icmp_seq = i;
        p.ipid = 50 + i;
        g_bytes_unref(feed(e, COMPARE_SECONDARY, &p));
    }
    ck_assert_uint_eq(rec.out->len, 3);
    for (int i = 0; i < 3; i++) {
        assert_out(i, b[i]);
    }
    ck_assert_int_eq(rec.ckpt_total, 0);
    /* a different id/seq is a header difference */
    p.icmp_seq = 7;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &p));
    p.icmp_seq = 8;
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &p));
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_HEADER], 1);
    compare_free(e);
}
END_TEST

START_TEST(test_fragments)
{
    CompareEngine *e = eng_new();
    Spec f1 = udp_spec("0123456789abcdef", 16), f2;
    CompareStats st;

    f1.is_frag = 1; f1.frag = 0; f1.frag_mf = 1;
    f2 = f1;
    f2.frag = 24; f2.frag_mf = 0; f2.payload = "tail"; f2.plen = 4;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &f1));
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &f2));
    f1.ipid = 1234; f2.ipid = 1234;     /* the other VM's IP ids */
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &f1));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &f2));
    ck_assert_uint_eq(rec.out->len, 2);
    ck_assert_int_eq(rec.ckpt_total, 0);
    /* a different later fragment */
    f2.payload = "TAIL";
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &f2));
    f2.payload = "tail";
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &f2));
    ck_assert_int_eq(rec.mis[COMPARE_MISMATCH_PAYLOAD], 1);
    stats(e, &st);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_MALFORMED], 0);
    compare_free(e);
}
END_TEST

START_TEST(test_non_ip_and_malformed)
{
    CompareEngine *e = eng_new();
    uint8_t arp[60] = { 0 };
    uint8_t trunc[30];
    Spec t = tcp_spec(1, 2, A, "abc", 3);
    uint8_t buf[2048];
    CompareStats st;

    packet_store_be16(arp + 12, ETH_TYPE_ARP);
    compare_input(e, COMPARE_PRIMARY, arp, sizeof arp, 0, now_us);
    compare_input(e, COMPARE_SECONDARY, arp, sizeof arp, 0, now_us);
    ck_assert_uint_eq(rec.out->len, 1);
    build(buf, &t);
    memcpy(trunc, buf, sizeof trunc);   /* the TCP header is cut */
    compare_input(e, COMPARE_PRIMARY, trunc, sizeof trunc, 0, now_us);
    compare_input(e, COMPARE_SECONDARY, trunc, sizeof trunc, 0, now_us);
    compare_input(e, COMPARE_PRIMARY, trunc, 0, 0, now_us);
    ck_assert_uint_eq(rec.out->len, 3);
    stats(e, &st);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_NOT_IP], 1);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_MALFORMED], 2);
    ck_assert_uint_eq(st.sec_dropped[COMPARE_SDROP_NOT_IP], 1);
    ck_assert_uint_eq(st.sec_dropped[COMPARE_SDROP_MALFORMED], 1);
    ck_assert_uint_eq(st.unsupported[0][PACKET_NOT_IP], 1);
    compare_free(e);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Release rules and bounds.                                                  */

START_TEST(test_checkpoint_flush_order)
{
    CompareEngine *e = eng_new();
    GBytes *b[6];
    Spec u = udp_spec("u", 1);
    CompareStats st;

    init_data();
    handshake(e, 1000, 5000, 77);
    /* TCP and UDP frames held on two connections */
    for (int i = 0; i < 3; i++) {
        Spec t = tcp_spec(1001 + i * 10, 78, A, data100 + i * 10, 10);

        b[i] = feed(e, COMPARE_PRIMARY, &t);
        u.icmp_seq = i;
        u.payload = data100 + i;
        b[3 + i] = feed(e, COMPARE_PRIMARY, &u);
    }
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, "zz", 2);   /* mismatch */
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_MISCOMPARE], 1);
    /* more mismatches in the episode do not request again */
    u.payload = "Q";
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &u));
    ck_assert_int_eq(rec.ckpt_total, 1);
    stats(e, &st);
    ck_assert_uint_eq(st.checkpoints_suppressed, 1);
    ck_assert_uint_eq(rec.out->len, 1);
    compare_checkpoint(e);
    ck_assert_uint_eq(rec.out->len, 7);
    /* each connection in order, and all of them in arrival order */
    for (int i = 0; i < 3; i++) {
        ck_assert(g_bytes_equal(g_ptr_array_index(rec.out, 1 + 2 * i), b[i]));
        ck_assert(g_bytes_equal(g_ptr_array_index(rec.out, 2 + 2 * i),
                                b[3 + i]));
    }
    for (int i = 0; i < 6; i++) {
        g_bytes_unref(b[i]);
    }
    stats(e, &st);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_CHECKPOINT], 6);
    /* re-anchored: after the checkpoint the secondary continues in the
     * primary's sequence space (a copy of the primary) */
    feed_tcp(e, COMPARE_PRIMARY, 1031, 78, A, "next", 4);
    feed_tcp(e, COMPARE_SECONDARY, 1031, 78, A, "next", 4);
    ck_assert_uint_eq(rec.out->len, 8);
    ck_assert_int_eq(rec.ckpt_total, 1);
    /* a new episode requests again */
    feed_tcp(e, COMPARE_PRIMARY, 1035, 78, A, "abc", 3);
    feed_tcp(e, COMPARE_SECONDARY, 1035, 78, A, "xyz", 3);
    ck_assert_int_eq(rec.ckpt_total, 2);
    compare_free(e);
}
END_TEST

START_TEST(test_timeout_scan)
{
    CompareConfig cfg;
    CompareEngine *e;
    Spec u = udp_spec("lonely", 6);

    compare_config_init(&cfg);
    cfg.compare_timeout_us = 500 * 1000;
    e = eng_new_cfg(&cfg);
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
    now_us += 400 * 1000;
    compare_scan(e, now_us, 0);
    ck_assert_int_eq(rec.ckpt_total, 0);
    now_us += 200 * 1000;
    compare_scan(e, now_us, 0);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_TIMEOUT], 1);
    compare_scan(e, now_us, 0);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_TIMEOUT], 2);   /* retried */
    ck_assert_uint_eq(rec.out->len, 0);
    compare_checkpoint(e);
    ck_assert_uint_eq(rec.out->len, 1);
    compare_scan(e, now_us + 10 * 1000 * 1000, 0);
    ck_assert_int_eq(rec.ckpt_total, 2);
    /* a lone secondary packet times out too */
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &u));
    compare_scan(e, now_us + 600 * 1000, 0);
    ck_assert_int_eq(rec.ckpt_total, 3);
    compare_free(e);
}
END_TEST

START_TEST(test_failover)
{
    CompareEngine *e = eng_new();
    Spec u = udp_spec("a", 1);
    CompareStats st;

    g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
    compare_failover(e);
    ck_assert_uint_eq(rec.out->len, 2);
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &u));
    ck_assert_uint_eq(rec.out->len, 3);
    stats(e, &st);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_FAILOVER], 3);
    ck_assert_uint_eq(st.sec_dropped[COMPARE_SDROP_FAILOVER], 1);
    ck_assert(st.failover);
    compare_free(e);
}
END_TEST

START_TEST(test_queue_full)
{
    CompareConfig cfg;
    CompareEngine *e;
    Spec u = udp_spec("q", 1);
    CompareStats st;
    GBytes *b[5];

    compare_config_init(&cfg);
    cfg.max_queue_size = 3;
    e = eng_new_cfg(&cfg);
    for (int i = 0; i < 3; i++) {
        u.payload = &"abcde"[i];
        b[i] = feed(e, COMPARE_PRIMARY, &u);
    }
    stats(e, &st);
    ck_assert_uint_eq(st.held[0], 3);
    ck_assert_int_eq(rec.ckpt_total, 0);
    /* the 4th: exactly 3 stay held; the oldest leaves, a checkpoint is
     * requested */
    u.payload = "d";
    b[3] = feed(e, COMPARE_PRIMARY, &u);
    stats(e, &st);
    ck_assert_uint_eq(st.held[0], 3);
    ck_assert_uint_eq(st.queue_max_seen[0], 3);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_QUEUE_FULL], 1);
    ck_assert_uint_eq(rec.out->len, 1);
    u.payload = "e";
    b[4] = feed(e, COMPARE_PRIMARY, &u);
    ck_assert_int_eq(rec.ckpt_total, 1);        /* one per episode */
    compare_checkpoint(e);
    ck_assert_uint_eq(rec.out->len, 5);
    for (int i = 0; i < 5; i++) {
        assert_out(i, b[i]);                    /* nothing lost, in order */
    }
    stats(e, &st);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_QUEUE_FULL], 2);
    /* secondary side: the bound drops secondary frames, counted */
    for (int i = 0; i < 4; i++) {
        g_bytes_unref(feed(e, COMPARE_SECONDARY, &u));
    }
    stats(e, &st);
    ck_assert_uint_eq(st.held[1], 3);
    ck_assert_uint_eq(st.sec_dropped[COMPARE_SDROP_QUEUE_FULL], 1);
    compare_free(e);
}
END_TEST

/* Frames too big for a pool buffer (GSO, jumbo) are bounded by bytes, not
 * only by count: past max_big_bytes the primary leaves uncompared, in
 * order, and a checkpoint is requested; nothing is lost. */
START_TEST(test_big_frames_bounded)
{
    CompareConfig cfg;
    CompareEngine *e;
    CompareStats st;
    static char payload[3000];
    uint8_t buf[4096];

    compare_config_init(&cfg);
    cfg.max_big_bytes = 10000;
    e = eng_new_cfg(&cfg);
    for (int i = 0; i < 6; i++) {
        Spec s = udp_spec(payload, sizeof payload);
        size_t n;

        s.sport = 1000 + i;                 /* one flow each */
        n = build(buf, &s);
        ck_assert_uint_gt(n, 3000);
        compare_input(e, COMPARE_PRIMARY, buf, n, 0, now_us);
    }
    stats(e, &st);
    /* four fit under 10000 bytes, the rest went out at once */
    ck_assert_uint_eq(st.held[COMPARE_PRIMARY], 4);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_QUEUE_FULL], 2);
    ck_assert_uint_eq(rec.out->len, 2);
    ck_assert_int_ge(rec.ckpt[COMPARE_CKPT_QUEUE_FULL], 1);
    ck_assert_uint_le(st.big_bytes, 10000 + sizeof buf);
    compare_checkpoint(e);
    stats(e, &st);
    ck_assert_uint_eq(rec.out->len, 6);
    ck_assert_uint_eq(st.big_bytes, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_global_bound)
{
    CompareConfig cfg;
    CompareEngine *e;
    CompareStats st;
    Spec u = udp_spec("g", 1);
    uint64_t released;

    compare_config_init(&cfg);
    cfg.max_held = 10;
    e = eng_new_cfg(&cfg);
    /* 20 flows with a held primary each: never more than 10 held; the
     * others leave uncompared (their connection held nothing), in order */
    for (int i = 0; i < 20; i++) {
        u.sport = 100 + i;
        g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
        stats(e, &st);
        ck_assert_uint_le(st.held[0], 10);
    }
    ck_assert_uint_eq(rec.out->len, 10);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_QUEUE_FULL], 1);
    /* on a connection holding frames, its oldest leaves */
    u.sport = 100;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
    stats(e, &st);
    ck_assert_uint_eq(st.held[0], 10);
    /* secondaries beyond the bound are dropped */
    for (int i = 0; i < 20; i++) {
        u.sport = 500 + i;
        g_bytes_unref(feed(e, COMPARE_SECONDARY, &u));
    }
    stats(e, &st);
    ck_assert_uint_le(st.held[1], 10);
    compare_checkpoint(e);
    stats(e, &st);
    released = st.released;
    ck_assert_uint_eq(released, 21);
    compare_free(e);
}
END_TEST

START_TEST(test_tcp_queue_full)
{
    CompareConfig cfg;
    CompareEngine *e;
    CompareStats st;

    compare_config_init(&cfg);
    cfg.max_queue_size = 4;
    e = eng_new_cfg(&cfg);
    init_data();
    handshake(e, 1000, 5000, 77);
    for (int i = 0; i < 10; i++) {
        feed_tcp(e, COMPARE_PRIMARY, 1001 + i * 10, 78, A, data100 + i * 10,
                 10);
    }
    stats(e, &st);
    ck_assert_uint_eq(st.held[0], 4);
    ck_assert_uint_eq(rec.out->len, 7);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_QUEUE_FULL], 1);
    /* the secondary catches up: the bytes of the held ones still match */
    feed_tcp(e, COMPARE_SECONDARY, 5001, 78, A, data100, 100);
    ck_assert_uint_eq(rec.out->len, 11);
    stats(e, &st);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    ck_assert_uint_eq(st.mismatches[COMPARE_MISMATCH_PAYLOAD], 0);
    compare_free(e);
}
END_TEST

START_TEST(test_table_full)
{
    CompareConfig cfg;
    CompareEngine *e;
    CompareStats st;
    Spec u = udp_spec("t", 1);

    compare_config_init(&cfg);
    cfg.max_connections = 4;
    e = eng_new_cfg(&cfg);
    /* four flows with held primary frames */
    for (int i = 0; i < 4; i++) {
        u.sport = 1000 + i;
        g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
    }
    /* a fifth: no wipe; released uncompared, checkpoint requested */
    u.sport = 2000;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
    stats(e, &st);
    ck_assert_uint_eq(rec.out->len, 1);
    ck_assert_uint_eq(st.held[0], 4);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_TABLE_FULL], 1);
    ck_assert_int_eq(rec.ckpt[COMPARE_CKPT_TABLE_FULL], 1);
    ck_assert_uint_eq(st.connections, 4);
    /* the held ones still match */
    for (int i = 0; i < 4; i++) {
        u.sport = 1000 + i;
        g_bytes_unref(feed(e, COMPARE_SECONDARY, &u));
    }
    ck_assert_uint_eq(rec.out->len, 5);
    /* now idle: a new flow evicts one */
    u.sport = 3000;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &u));
    ck_assert_uint_eq(rec.out->len, 6);
    stats(e, &st);
    ck_assert_uint_eq(st.evictions, 1);
    ck_assert_uint_eq(st.matched, 5);
    compare_free(e);
}
END_TEST

START_TEST(test_expiry)
{
    CompareEngine *e = eng_new();
    CompareStats st;
    Spec u = udp_spec("e", 1);

    handshake(e, 1, 2, 3);
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));
    g_bytes_unref(feed(e, COMPARE_SECONDARY, &u));
    u.sport = 9;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &u));      /* held: never expires */
    now_us += 120ll * 1000 * 1000;
    compare_scan(e, now_us, 0);
    stats(e, &st);
    ck_assert_uint_eq(st.expirations, 1);         /* the idle UDP flow */
    ck_assert_uint_eq(st.connections, 2);
    compare_checkpoint(e);
    now_us += 700ll * 1000 * 1000;
    compare_scan(e, now_us, 0);
    stats(e, &st);
    ck_assert_uint_eq(st.connections, 0);
    compare_free(e);
}
END_TEST

START_TEST(test_million_flows)
{
    CompareConfig cfg;
    CompareEngine *e;
    CompareStats st;
    uint8_t buf[2048];
    Spec u = udp_spec("m", 1);
    size_t n;
    uint64_t released = 0;

    compare_config_init(&cfg);
    cfg.max_connections = 65536;
    e = eng_new_cfg(&cfg);
    g_ptr_array_set_free_func(rec.out, (GDestroyNotify) g_bytes_unref);
    for (uint32_t i = 0; i < 1000000; i++) {
        u.saddr = 0x0a000000 + (i >> 16);
        u.sport = i & 0xffff;
        n = build(buf, &u);
        compare_input(e, COMPARE_PRIMARY, buf, n, 0, now_us);
        /* every fourth flow's secondary is late: those stay held until
         * the table needs room */
        if (i % 4) {
            compare_input(e, COMPARE_SECONDARY, buf, n, 0, now_us);
        }
        if (rec.out->len > 4096) {
            released += rec.out->len;
            g_ptr_array_set_size(rec.out, 0);
        }
        now_us++;
    }
    stats(e, &st);
    ck_assert_uint_le(st.connections, 65536);
    ck_assert_uint_le(st.connections_peak, 65536);
    compare_checkpoint(e);
    released += rec.out->len;
    ck_assert_uint_eq(released, 1000000);       /* nothing lost */
    stats(e, &st);
    ck_assert_uint_eq(st.released, 1000000);
    ck_assert_uint_eq(st.held[0] + st.held[1], 0);
    /* no malloc per packet: buffers come from the pool */
    ck_assert_uint_le(st.pool_allocs, 65536 + 8);
    compare_free(e);
}
END_TEST

START_TEST(test_conn_memory)
{
    CompareConfig cfg;
    CompareEngine *e;
    CompareStats st;
    uint8_t buf[2048];
    Spec u = udp_spec("m", 1);

    ck_assert_uint_le(compare_conn_mem_per_entry(), 512);
    compare_config_init(&cfg);
    cfg.max_connections = 100000;
    e = eng_new_cfg(&cfg);
    for (uint32_t i = 0; i < 100000; i++) {
        size_t n;

        u.saddr = 0x0a000000 + (i >> 16);
        u.sport = i & 0xffff;
        n = build(buf, &u);
        compare_input(e, COMPARE_PRIMARY, buf, n, 0, now_us);
        compare_input(e, COMPARE_SECONDARY, buf, n, 0, now_us);
    }
    stats(e, &st);
    ck_assert_uint_eq(st.connections, 100000);
    ck_assert_uint_le(st.conn_mem_bytes / st.connections, 512);
    compare_free(e);
}
END_TEST

START_TEST(test_pool_steady_state)
{
    CompareEngine *e = eng_new();
    CompareStats st;
    uint64_t allocs;

    init_data();
    handshake(e, 1000, 5000, 77);
    for (int i = 0; i < 100; i++) {
        feed_tcp(e, COMPARE_PRIMARY, 1001 + i * 100, 78, A, data100, 100);
        feed_tcp(e, COMPARE_SECONDARY, 5001 + i * 100, 78, A, data100, 100);
    }
    stats(e, &st);
    allocs = st.pool_allocs;
    for (int i = 100; i < 10000; i++) {
        feed_tcp(e, COMPARE_PRIMARY, 1001 + i * 100, 78, A, data100, 100);
        feed_tcp(e, COMPARE_SECONDARY, 5001 + i * 100, 78, A, data100, 100);
    }
    stats(e, &st);
    ck_assert_uint_eq(st.pool_allocs, allocs);
    ck_assert_uint_eq(st.matched, 10001);
    compare_free(e);
}
END_TEST

/* In step, only one copy of a segment is ever held: the one that comes
 * second is compared where the caller's buffer has it (a secondary used
 * up at once, a primary released from that buffer). */
START_TEST(test_tcp_second_copy_not_held)
{
    CompareEngine *e = eng_new();
    CompareStats st;
    uint64_t allocs;

    init_data();
    handshake(e, 1000, 5000, 77);
    stats(e, &st);
    allocs = st.pool_allocs;
    /* primary first: the secondaries are never held */
    for (int i = 0; i < 50; i++) {
        feed_tcp(e, COMPARE_PRIMARY, 1001 + i * 100, 78, A, data100, 100);
        feed_tcp(e, COMPARE_SECONDARY, 5001 + i * 100, 78, A, data100, 100);
    }
    stats(e, &st);
    ck_assert_uint_eq(st.held_max[COMPARE_SECONDARY], 0);
    ck_assert_uint_eq(st.matched, 51);
    ck_assert_uint_eq(st.sec_consumed, 51);
    /* secondary first: the primaries leave without being held */
    for (int i = 50; i < 100; i++) {
        feed_tcp(e, COMPARE_SECONDARY, 5001 + i * 100, 78, A, data100, 100);
        ck_assert_uint_eq(rec.out->len, (unsigned) i + 1);
        feed_tcp(e, COMPARE_PRIMARY, 1001 + i * 100, 78, A, data100, 100);
        ck_assert_uint_eq(rec.out->len, (unsigned) i + 2);
        stats(e, &st);
        ck_assert_uint_eq(st.held[COMPARE_PRIMARY], 0);
        ck_assert_uint_eq(st.held[COMPARE_SECONDARY], 0);
    }
    stats(e, &st);
    ck_assert_uint_eq(st.matched, 101);
    ck_assert_uint_le(st.pool_allocs, allocs + 1);
    /* a primary the secondary has not acknowledged yet is held (ACK
     * gating), verified already, and leaves with the secondary's ACK */
    feed_tcp(e, COMPARE_SECONDARY, 15001, 78, A, data100, 10);
    feed_tcp(e, COMPARE_PRIMARY, 10001, 79, A, data100, 10);
    stats(e, &st);
    ck_assert_uint_eq(st.held[COMPARE_PRIMARY], 1);
    feed_tcp(e, COMPARE_SECONDARY, 15011, 79, A, NULL, 0);
    stats(e, &st);
    ck_assert_uint_eq(st.held[COMPARE_PRIMARY], 0);
    ck_assert_uint_eq(st.matched, 102);
    ck_assert_int_eq(rec.ckpt_total, 0);
    compare_free(e);
}
END_TEST

/* A bound full of other connections' frames does not stop a segment that
 * can be verified at once: it needs no room. */
START_TEST(test_tcp_full_bound_verified_at_once)
{
    CompareConfig cfg;
    CompareEngine *e;
    CompareStats st;
    Spec t;

    compare_config_init(&cfg);
    cfg.max_held = 1;
    e = eng_new_cfg(&cfg);
    init_data();
    /* another connection holds the one primary frame allowed */
    t = tcp_spec(3000, 1, A, data100, 20);
    t.dport = 6000;
    g_bytes_unref(feed(e, COMPARE_PRIMARY, &t));
    stats(e, &st);
    ck_assert_uint_eq(st.held[COMPARE_PRIMARY], 1);
    /* this one: the secondary's copy first, then the primary's */
    feed_tcp(e, COMPARE_SECONDARY, 5000, 78, A, data100, 30);
    feed_tcp(e, COMPARE_PRIMARY, 1000, 78, A, data100, 30);
    stats(e, &st);
    ck_assert_uint_eq(st.matched, 1);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_QUEUE_FULL], 0);
    ck_assert_int_eq(rec.ckpt_total, 0);
    ck_assert_uint_eq(rec.out->len, 1);
    compare_free(e);
}
END_TEST

START_TEST(test_ignore_parse)
{
    uint32_t m = 0;
    GError *err = NULL;
    char *s;

    ck_assert(compare_parse_ignore("ttl,ipid:window", &m, NULL));
    ck_assert_uint_eq(m, COMPARE_FIELD_TTL | COMPARE_FIELD_IPID
                      | COMPARE_FIELD_WINDOW);
    s = compare_format_ignore(m);
    ck_assert_str_eq(s, "ttl:ipid:window");
    g_free(s);
    ck_assert(compare_parse_ignore("all", &m, NULL));
    ck_assert_uint_eq(m, COMPARE_FIELD_ALL);
    ck_assert(compare_parse_ignore("none", &m, NULL));
    ck_assert_uint_eq(m, 0);
    ck_assert(!compare_parse_ignore("ttl,bogus", &m, &err));
    ck_assert(strstr(err->message, "bogus"));
    g_error_free(err);
}
END_TEST

static Suite *compare_suite(void)
{
    Suite *s = suite_create("net/compare");
    TCase *tt = tcase_create("tcp");
    TCase *td = tcase_create("datagram");
    TCase *tr = tcase_create("release");

    tcase_add_test(tt, test_tcp_equal);
    tcase_add_test(tt, test_tcp_untranslated_synack);
    tcase_add_test(tt, test_tcp_translated_synack_retransmit);
    tcase_add_test(tt, test_tcp_rst_after_handshake);
    tcase_add_test(tt, test_tcp_segmentation);
    tcase_add_test(tt, test_tcp_retransmit);
    tcase_add_test(tt, test_tcp_wrap);
    tcase_add_test(tt, test_tcp_reorder);
    tcase_add_test(tt, test_tcp_same_bytes_other_offset);
    tcase_add_test(tt, test_tcp_gap);
    tcase_add_test(tt, test_tcp_checkpoint_begin_flushes);
    tcase_add_test(tt, test_tcp_shifted_stream_mismatch);
    tcase_add_test(tt, test_tcp_fin_offset);
    tcase_add_test(tt, test_tcp_port_reused);
    tcase_add_test(tt, test_tcp_port_reused_after_checkpoint);
    tcase_add_test(tt, test_tcp_ack_gating);
    tcase_add_test(tt, test_tcp_syn_pure_ack_not_waiting);
    tcase_add_test(tt, test_tcp_ipv6_vlan);
    tcase_add_test(tt, test_tcp_padding);
    tcase_add_test(tt, test_tcp_header_fields);
    tcase_add_test(tt, test_tcp_reanchor_idle);
    tcase_add_test(tt, test_tcp_rst);
    suite_add_tcase(s, tt);

    tcase_add_test(td, test_udp_fifo);
    tcase_add_test(td, test_held_released_hook);
    tcase_add_test(td, test_udp_padding_checksum);
    tcase_add_test(td, test_icmp_fifo);
    tcase_add_test(td, test_icmpv6_udp6);
    tcase_add_test(td, test_fragments);
    tcase_add_test(td, test_non_ip_and_malformed);
    suite_add_tcase(s, td);

    tcase_add_test(tr, test_checkpoint_flush_order);
    tcase_add_test(tr, test_timeout_scan);
    tcase_add_test(tr, test_failover);
    tcase_add_test(tr, test_queue_full);
    tcase_add_test(tr, test_tcp_queue_full);
    tcase_add_test(tr, test_global_bound);
    tcase_add_test(tr, test_big_frames_bounded);
    tcase_add_test(tr, test_table_full);
    tcase_add_test(tr, test_expiry);
    tcase_add_test(tr, test_million_flows);
    tcase_add_test(tr, test_conn_memory);
    tcase_add_test(tr, test_pool_steady_state);
    tcase_add_test(tr, test_tcp_second_copy_not_held);
    tcase_add_test(tr, test_tcp_full_bound_verified_at_once);
    tcase_add_test(tr, test_ignore_parse);
    tcase_set_timeout(tr, 120);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    return check_run(compare_suite());
}
