/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-conntrack.c - unit tests of net/conntrack.c.
 *
 * Keys: both directions of TCP, UDP, ICMP echo flows (IPv4, IPv6, VLAN)
 * give one key and opposite directions; the hash is symmetric even on
 * non-canonical keys and depends on the seed; the canonical order is the
 * bytes' (memcmp) order; the hash spreads IPv4 and IPv6 keys that differ in
 * a few bits and gives no collision for a key's address halves swapped or
 * a port moved between endpoints.  Table: the bound (insert
 * refuses, eviction makes room), LRU order under touch/remove, expiry with
 * a veto, the destroy callback, foreach with removal, and 1,000,000
 * entries within the documented per-entry overhead (the table's own byte
 * accounting).
 */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "net/conntrack.h"
#include "net/packet.h"
#include "golden-frames.h"

/* Swaps source and destination address and port (or the ICMP type to a
 * reply) of a parsed copy, making the reply direction. */
static void make_reply(uint8_t *f, const PacketInfo *pi)
{
    size_t alen = pi->ip_version == 4 ? 4 : 16;
    size_t sofs = pi->l3_ofs + (pi->ip_version == 4 ? 12 : 8);
    uint8_t tmp[16];

    memcpy(tmp, f + sofs, alen);
    memcpy(f + sofs, f + sofs + alen, alen);
    memcpy(f + sofs + alen, tmp, alen);
    if (pi->flags & PACKET_F_PORTS) {
        memcpy(tmp, f + pi->l4_ofs, 2);
        memcpy(f + pi->l4_ofs, f + pi->l4_ofs + 2, 2);
        memcpy(f + pi->l4_ofs + 2, tmp, 2);
    } else if (pi->ip_proto == IP_PROTO_ICMP) {
        f[pi->l4_ofs] = 0;                      /* echo reply */
    }
}

static void check_symmetric(const uint8_t *frame, size_t len)
{
    uint8_t *f = g_memdup2(frame, len);
    PacketInfo pi, pr;
    ConnKey k1, k2;
    ConnDir d1, d2;

    ck_assert_int_eq(packet_parse(f, len, 0, &pi), PACKET_OK);
    ck_assert(conn_key_from_packet(&k1, &pi, &d1));
    make_reply(f, &pi);
    ck_assert_int_eq(packet_parse(f, len, 0, &pr), PACKET_OK);
    ck_assert(conn_key_from_packet(&k2, &pr, &d2));
    ck_assert(conn_key_equal(&k1, &k2));
    ck_assert_int_ne(d1, d2);
    ck_assert_uint_eq(conn_key_hash(&k1, 7), conn_key_hash(&k2, 7));
    ck_assert_uint_eq(k1.zero, 0);
    g_free(f);
}

START_TEST(test_key_symmetric)
{
    check_symmetric(data4, sizeof data4);
    check_symmetric(qinq_udp6, sizeof qinq_udp6);
    check_symmetric(icmp4, sizeof icmp4);
}
END_TEST

START_TEST(test_key_fields)
{
    PacketInfo pi;
    ConnKey k;
    ConnDir d;

    packet_parse(data4, sizeof data4, 0, &pi);
    ck_assert(conn_key_from_packet(&k, &pi, &d));
    /* 10.0.0.1 < 192.168.1.10: the destination is endpoint 0. */
    ck_assert_int_eq(d, CONN_DIR_REVERSE);
    ck_assert_uint_eq(k.port[0], 80);
    ck_assert_uint_eq(k.port[1], 40000);
    ck_assert_uint_eq(k.addr[0][15], 1);
    ck_assert_uint_eq(k.addr[0][10], 0xff);     /* IPv4-mapped */
    ck_assert_uint_eq(k.proto, IP_PROTO_TCP);
    ck_assert_uint_eq(k.ip_version, 4);
    ck_assert_uint_eq(k.vlan[0], 0);

    packet_parse(qinq_udp6, sizeof qinq_udp6, 0, &pi);
    ck_assert(conn_key_from_packet(&k, &pi, NULL));
    ck_assert_uint_eq(k.vlan[0], 10);
    ck_assert_uint_eq(k.vlan[1], 20);
    ck_assert_uint_eq(k.ip_version, 6);
    ck_assert_uint_eq(k.port[0], 1000);

    packet_parse(icmp4, sizeof icmp4, 0, &pi);
    ck_assert(conn_key_from_packet(&k, &pi, NULL));
    ck_assert_uint_eq(k.port[0], 0x4242);
    ck_assert_uint_eq(k.port[1], 0x4242);

    /* Same addresses: the ports decide the order. */
    memset(&k, 0, sizeof k);
    k.port[0] = 9;
    k.port[1] = 3;
    ck_assert_int_eq(conn_key_canonicalise(&k), CONN_DIR_REVERSE);
    ck_assert_uint_eq(k.port[0], 3);
    ck_assert_int_eq(conn_key_canonicalise(&k), CONN_DIR_FORWARD);
}
END_TEST

START_TEST(test_key_not_ip)
{
    uint8_t f[sizeof data4];
    PacketInfo pi;
    ConnKey k;
    ConnDir d = CONN_DIR_REVERSE;

    memcpy(f, data4, sizeof f);
    f[13] = 0x06;                               /* ARP */
    ck_assert_int_eq(packet_parse(f, sizeof f, 0, &pi), PACKET_NOT_IP);
    ck_assert(!conn_key_from_packet(&k, &pi, &d));
    ck_assert_int_eq(d, CONN_DIR_FORWARD);
}
END_TEST

START_TEST(test_key_distinguishes)
{
    PacketInfo pi;
    ConnKey base, k;

    packet_parse(data4, sizeof data4, 0, &pi);
    conn_key_from_packet(&base, &pi, NULL);

    k = base;
    k.vlan[0] = 5;
    ck_assert(!conn_key_equal(&k, &base));
    ck_assert_uint_ne(conn_key_hash(&k, 1), conn_key_hash(&base, 1));
    k = base;
    k.proto = IP_PROTO_UDP;
    ck_assert(!conn_key_equal(&k, &base));
    ck_assert_uint_ne(conn_key_hash(&k, 1), conn_key_hash(&base, 1));
    k = base;
    k.port[1]++;
    ck_assert_uint_ne(conn_key_hash(&k, 1), conn_key_hash(&base, 1));
    /* Swapping only the ports is a different flow. */
    k = base;
    k.port[0] = base.port[1];
    k.port[1] = base.port[0];
    ck_assert_uint_ne(conn_key_hash(&k, 1), conn_key_hash(&base, 1));
    /* The seed changes the hash. */
    ck_assert_uint_ne(conn_key_hash(&base, 1), conn_key_hash(&base, 2));
}
END_TEST

/* A key of random addresses and ports (the rest zero). */
static void random_v6_key(GRand *rng, ConnKey *k)
{
    memset(k, 0, sizeof *k);
    for (size_t i = 0; i < 16; i++) {
        k->addr[0][i] = g_rand_int(rng);
        k->addr[1][i] = g_rand_int(rng);
    }
    k->port[0] = g_rand_int(rng);
    k->port[1] = g_rand_int(rng);
}

START_TEST(test_hash_symmetric_random)
{
    GRand *rng = g_rand_new_with_seed(11);
    int iter;

    for (iter = 0; iter < 100000; iter++) {
        ConnKey a, b;
        uint32_t seed = g_rand_int(rng);

        random_v6_key(rng, &a);
        a.proto = g_rand_int(rng);
        a.ip_version = 6;
        b = a;
        memcpy(b.addr[0], a.addr[1], 16);
        memcpy(b.addr[1], a.addr[0], 16);
        b.port[0] = a.port[1];
        b.port[1] = a.port[0];
        /* symmetric without canonicalising */
        ck_assert_uint_eq(conn_key_hash(&a, seed), conn_key_hash(&b, seed));
        conn_key_canonicalise(&a);
        conn_key_canonicalise(&b);
        ck_assert(conn_key_equal(&a, &b));
    }
    g_rand_free(rng);
}
END_TEST

START_TEST(test_hash_spread)
{
    /* 200000 keys differing only in the client port and the last address
     * byte into 65536 buckets: no bucket gets crowded. */
    enum { NB = 65536 };
    uint16_t *count = g_new0(uint16_t, NB);
    ConnKey k;
    unsigned i, max = 0;

    memset(&k, 0, sizeof k);
    k.ip_version = 4;
    k.proto = IP_PROTO_TCP;
    k.addr[1][15] = 1;
    k.port[1] = 80;
    for (i = 0; i < 200000; i++) {
        uint32_t h;

        k.port[0] = 1024 + i % 50000;
        k.addr[0][15] = i / 50000;
        h = conn_key_hash(&k, 0x1234) & (NB - 1);
        count[h]++;
        max = MAX(max, count[h]);
    }
    ck_assert_uint_le(max, 16);
    g_free(count);
}
END_TEST

/* The order conn_key_canonicalise() must follow: the address bytes as
 * memcmp() orders them, then the port. */
static int ref_endpoint_cmp(const ConnKey *k)
{
    int c = memcmp(k->addr[0], k->addr[1], 16);

    return c ? c : (int) k->port[0] - (int) k->port[1];
}

START_TEST(test_canonical_order_random)
{
    GRand *rng = g_rand_new_with_seed(17);

    for (int iter = 0; iter < 200000; iter++) {
        ConnKey k, orig;
        int want;
        size_t i;

        memset(&k, 0, sizeof k);
        for (i = 0; i < 16; i++) {
            k.addr[0][i] = g_rand_int(rng);
        }
        /* endpoint 1: the same address with 0-2 bytes changed anywhere
         * (either 64-bit half decides), bytes 0x00 and 0xff included */
        memcpy(k.addr[1], k.addr[0], 16);
        for (int n = g_rand_int_range(rng, 0, 3); n > 0; n--) {
            static const uint8_t pick[] = { 0x00, 0x01, 0x7f, 0x80, 0xff };

            i = g_rand_int_range(rng, 0, 16);
            k.addr[1][i] = g_rand_boolean(rng)
                           ? pick[g_rand_int_range(rng, 0, 5)]
                           : g_rand_int(rng);
        }
        k.port[0] = g_rand_int_range(rng, 0, 4);
        k.port[1] = g_rand_int_range(rng, 0, 4);
        orig = k;
        want = ref_endpoint_cmp(&k);
        ck_assert_int_eq(conn_key_canonicalise(&k),
                         want > 0 ? CONN_DIR_REVERSE : CONN_DIR_FORWARD);
        ck_assert_int_le(ref_endpoint_cmp(&k), 0);
        if (want > 0) {
            ck_assert(!memcmp(k.addr[0], orig.addr[1], 16));
            ck_assert(!memcmp(k.addr[1], orig.addr[0], 16));
            ck_assert_uint_eq(k.port[0], orig.port[1]);
        } else {
            ck_assert(conn_key_equal(&k, &orig));
        }
    }
    g_rand_free(rng);
}
END_TEST

/* Counts keys per bucket of 'nb' (a power of two); returns the fullest. */
static unsigned spread_max(const ConnKey *keys, unsigned n, unsigned nb,
                           uint32_t seed)
{
    uint16_t *count = g_new0(uint16_t, nb);
    unsigned max = 0;

    for (unsigned i = 0; i < n; i++) {
        uint32_t h = conn_key_hash(&keys[i], seed) & (nb - 1);

        count[h]++;
        max = MAX(max, count[h]);
    }
    g_free(count);
    return max;
}

START_TEST(test_hash_spread_families)
{
    enum { N = 200000, NB = 65536 };
    ConnKey *keys = g_new0(ConnKey, N);
    static const uint8_t prefix[8] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1 };
    unsigned i;

    /* IPv6 clients of one /64 (the interface id counts up) on 4 ports */
    for (i = 0; i < N; i++) {
        ConnKey *k = &keys[i];

        k->ip_version = 6;
        k->proto = IP_PROTO_TCP;
        memcpy(k->addr[0], prefix, 8);
        k->addr[0][15] = i / 4;
        k->addr[0][14] = i / 1024;
        k->addr[0][13] = i / 262144;
        memcpy(k->addr[1], prefix, 8);
        k->addr[1][8] = 0xfe;
        k->port[0] = 40000 + i % 4;
        k->port[1] = 443;
    }
    ck_assert_uint_le(spread_max(keys, N, NB, 0x1234), 16);
    ck_assert_uint_le(spread_max(keys, N, NB, 0), 16);

    /* IPv4 clients of a /16, one port each, and one per VLAN */
    for (i = 0; i < N; i++) {
        ConnKey *k = &keys[i];

        memset(k, 0, sizeof *k);
        k->ip_version = 4;
        k->proto = IP_PROTO_UDP;
        k->addr[0][10] = k->addr[0][11] = 0xff;
        k->addr[0][12] = 10;
        k->addr[0][13] = 1;
        k->addr[0][14] = (i % 65536) >> 8;
        k->addr[0][15] = i % 256;
        k->addr[1][10] = k->addr[1][11] = 0xff;
        k->addr[1][12] = 192;
        k->addr[1][15] = 1;
        k->port[0] = 5353;
        k->port[1] = 53;
        k->vlan[0] = i / 65536;
    }
    ck_assert_uint_le(spread_max(keys, N, NB, 0xdeadbeef), 16);
    g_free(keys);
}
END_TEST

START_TEST(test_hash_no_trivial_collisions)
{
    GRand *rng = g_rand_new_with_seed(19);
    unsigned same = 0;

    for (int iter = 0; iter < 100000; iter++) {
        uint32_t seed = g_rand_int(rng);
        ConnKey a, b;

        random_v6_key(rng, &a);
        a.port[1] = a.port[0] + g_rand_int_range(rng, 1, 65536); /* differ */
        a.proto = IP_PROTO_TCP;
        a.ip_version = 6;

        /* the two halves of an address swapped */
        b = a;
        memcpy(b.addr[0], a.addr[0] + 8, 8);
        memcpy(b.addr[0] + 8, a.addr[0], 8);
        same += conn_key_hash(&a, seed) == conn_key_hash(&b, seed);
        /* the ports swapped between the endpoints */
        b = a;
        b.port[0] = a.port[1];
        b.port[1] = a.port[0];
        same += conn_key_hash(&a, seed) == conn_key_hash(&b, seed);
        /* a port's low bits moved into the address's last byte */
        b = a;
        b.addr[0][15] ^= 1;
        b.port[0] ^= 1;
        same += conn_key_hash(&a, seed) == conn_key_hash(&b, seed);
        /* the VLAN ids swapped */
        b = a;
        a.vlan[0] = 1;
        b.vlan[1] = 1;
        same += conn_key_hash(&a, seed) == conn_key_hash(&b, seed);
    }
    /* 400000 pairs of 32-bit hashes: about 0.0001 equal by chance */
    ck_assert_uint_le(same, 2);
    g_rand_free(rng);
}
END_TEST

typedef struct TestConn {
    ConnEntry ce;
    unsigned id;
    bool busy;                  /* veto removal */
} TestConn;

typedef struct {
    unsigned destroyed;
    unsigned asked;
} Track;

static bool test_may_remove(ConnEntry *e, ConnRemoveReason why, void *opaque)
{
    Track *tr = opaque;

    tr->asked++;
    return !((TestConn *)e)->busy;
}

static void test_destroy(ConnEntry *e, void *opaque)
{
    Track *tr = opaque;

    tr->destroyed++;
}

static const ConnTableOps test_ops = {
    .may_remove = test_may_remove,
    .destroy = test_destroy,
};

static ConnKey key_n(unsigned n)
{
    ConnKey k;

    memset(&k, 0, sizeof k);
    k.ip_version = 4;
    k.proto = IP_PROTO_UDP;
    k.addr[0][10] = k.addr[0][11] = 0xff;
    k.addr[1][10] = k.addr[1][11] = 0xff;
    packet_store_be32(&k.addr[0][12], 0x0a000000 + (n >> 16));
    packet_store_be32(&k.addr[1][12], 0x0b000000);
    k.port[0] = n & 0xffff;
    k.port[1] = 53;
    return k;
}

static TestConn *ins(ConnTable *t, unsigned n, int64_t now)
{
    ConnKey k = key_n(n);
    TestConn *c = (TestConn *)conn_table_insert(t, &k, now);

    if (c) {
        c->id = n;
    }
    return c;
}

static unsigned id_at(ConnEntry *e)
{
    return ((TestConn *)e)->id;
}

/* Asserts the LRU order, oldest first. */
static void check_order(ConnTable *t, const unsigned *ids, size_t n)
{
    ConnEntry *e = conn_table_oldest(t);
    size_t i;

    for (i = 0; i < n; i++) {
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(id_at(e), ids[i]);
        e = conn_table_next_newer(t, e);
    }
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(conn_table_count(t), n);
    if (n) {
        ck_assert_uint_eq(id_at(conn_table_newest(t)), ids[n - 1]);
    } else {
        ck_assert_ptr_null(conn_table_newest(t));
    }
}

START_TEST(test_insert_lookup_remove)
{
    Track tr = { 0 };
    ConnTable *t = conn_table_new(100, sizeof(TestConn), 99, &test_ops, &tr);
    ConnTableStats st;
    ConnKey k;
    unsigned i;

    for (i = 0; i < 50; i++) {
        ck_assert_ptr_nonnull(ins(t, i, i));
    }
    for (i = 0; i < 50; i++) {
        ConnEntry *e;

        k = key_n(i);
        e = conn_table_lookup(t, &k);
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(id_at(e), i);
        ck_assert(conn_key_equal(&e->key, &k));
        ck_assert_int_eq(e->last_used, i);
    }
    k = key_n(50);
    ck_assert_ptr_null(conn_table_lookup(t, &k));
    k = key_n(7);
    conn_table_remove(t, conn_table_lookup(t, &k));
    ck_assert_ptr_null(conn_table_lookup(t, &k));
    ck_assert_uint_eq(tr.destroyed, 1);
    /* Re-insert after removal. */
    ck_assert_ptr_nonnull(ins(t, 7, 100));
    ck_assert_uint_eq(id_at(conn_table_newest(t)), 7);

    conn_table_get_stats(t, &st);
    ck_assert_uint_eq(st.entries, 50);
    ck_assert_uint_eq(st.inserts, 51);
    ck_assert_uint_eq(st.removals, 1);
    ck_assert_uint_eq(st.max_entries, 100);
    ck_assert_uint_eq(st.mem_bytes, conn_table_mem_bytes(t));
    conn_table_free(t);
    ck_assert_uint_eq(tr.destroyed, 51);
    conn_table_free(NULL);
}
END_TEST

START_TEST(test_bound_and_evict)
{
    Track tr = { 0 };
    ConnTable *t = conn_table_new(10, sizeof(TestConn), 1, &test_ops, &tr);
    ConnTableStats st;
    ConnKey k;
    unsigned i;

    for (i = 0; i < 10; i++) {
        ck_assert_ptr_nonnull(ins(t, i, 0));
    }
    ck_assert_ptr_null(ins(t, 10, 1));          /* full: refused */
    ck_assert_ptr_null(ins(t, 11, 1));
    conn_table_get_stats(t, &st);
    ck_assert_uint_eq(st.refused, 2);
    ck_assert_uint_eq(st.entries, 10);

    /* The caller evicts the LRU entry (0) and retries. */
    ck_assert(conn_table_evict_lru(t, 4));
    ck_assert_ptr_nonnull(ins(t, 10, 1));
    k = key_n(0);
    ck_assert_ptr_null(conn_table_lookup(t, &k));

    /* A busy oldest entry is skipped (and moved to the newest end). */
    k = key_n(1);
    ((TestConn *)conn_table_lookup(t, &k))->busy = true;
    ck_assert(conn_table_evict_lru(t, 4));
    ck_assert_ptr_nonnull(conn_table_lookup(t, &k));
    k = key_n(2);
    ck_assert_ptr_null(conn_table_lookup(t, &k));
    ck_assert_uint_eq(id_at(conn_table_newest(t)), 1);

    /* All busy: eviction fails after scanning at most max_scan. */
    for (ConnEntry *e = conn_table_oldest(t); e;
         e = conn_table_next_newer(t, e)) {
        ((TestConn *)e)->busy = true;
    }
    tr.asked = 0;
    ck_assert(!conn_table_evict_lru(t, 3));
    ck_assert_uint_eq(tr.asked, 3);
    ck_assert_uint_eq(conn_table_count(t), 9);

    conn_table_get_stats(t, &st);
    ck_assert_uint_eq(st.evictions, 2);
    ck_assert_uint_eq(st.vetoed, 4);
    ck_assert_uint_eq(tr.destroyed, 2);
    conn_table_free(t);
    ck_assert_uint_eq(tr.destroyed, 11);
}
END_TEST

START_TEST(test_lru_order)
{
    ConnTable *t = conn_table_new(100, sizeof(TestConn), 3, NULL, NULL);
    ConnKey k;

    ins(t, 1, 1);
    ins(t, 2, 2);
    ins(t, 3, 3);
    ins(t, 4, 4);
    ins(t, 5, 5);
    check_order(t, (const unsigned[]){ 1, 2, 3, 4, 5 }, 5);
    k = key_n(2);
    conn_table_touch(t, conn_table_lookup(t, &k), 6);
    check_order(t, (const unsigned[]){ 1, 3, 4, 5, 2 }, 5);
    k = key_n(1);
    conn_table_touch(t, conn_table_lookup(t, &k), 7);
    check_order(t, (const unsigned[]){ 3, 4, 5, 2, 1 }, 5);
    /* touching the newest keeps the order */
    conn_table_touch(t, conn_table_lookup(t, &k), 8);
    check_order(t, (const unsigned[]){ 3, 4, 5, 2, 1 }, 5);
    ck_assert_int_eq(conn_table_newest(t)->last_used, 8);
    k = key_n(5);
    conn_table_remove(t, conn_table_lookup(t, &k));
    check_order(t, (const unsigned[]){ 3, 4, 2, 1 }, 4);
    ck_assert(conn_table_evict_lru(t, 1));      /* no ops: always allowed */
    check_order(t, (const unsigned[]){ 4, 2, 1 }, 3);
    /* A clock going backwards cannot break the order. */
    k = key_n(4);
    conn_table_touch(t, conn_table_lookup(t, &k), 2);
    check_order(t, (const unsigned[]){ 2, 1, 4 }, 3);
    ck_assert_int_eq(conn_table_newest(t)->last_used, 8);
    conn_table_remove(t, conn_table_oldest(t));
    conn_table_remove(t, conn_table_newest(t));
    conn_table_remove(t, conn_table_oldest(t));
    check_order(t, NULL, 0);
    ck_assert_ptr_null(conn_table_oldest(t));
    ck_assert(!conn_table_evict_lru(t, 5));
    conn_table_free(t);
}
END_TEST

START_TEST(test_expire)
{
    Track tr = { 0 };
    ConnTable *t = conn_table_new(100, sizeof(TestConn), 5, &test_ops, &tr);
    ConnTableStats st;
    ConnKey k;
    unsigned i;

    for (i = 0; i < 10; i++) {
        ins(t, i, i * 10);                      /* last_used 0, 10, .. 90 */
    }
    /* Nothing idle for 100 at time 95. */
    ck_assert_uint_eq(conn_table_expire(t, 95, 100, 0), 0);
    /* At 150 with timeout 100: last_used <= 50, i.e. 0..5 expire; but 3 is
     * busy (it holds queued packets). */
    k = key_n(3);
    ((TestConn *)conn_table_lookup(t, &k))->busy = true;
    ck_assert_uint_eq(conn_table_expire(t, 150, 100, 0), 5);
    check_order(t, (const unsigned[]){ 6, 7, 8, 9, 3 }, 5);
    ck_assert_int_eq(conn_table_lookup(t, &k)->last_used, 150);
    conn_table_get_stats(t, &st);
    ck_assert_uint_eq(st.expirations, 5);
    ck_assert_uint_eq(st.vetoed, 1);
    ck_assert_uint_eq(tr.destroyed, 5);

    /* The budget bounds the work per call. */
    ck_assert_uint_eq(conn_table_expire(t, 1000, 100, 2), 2);
    check_order(t, (const unsigned[]){ 8, 9, 3 }, 3);
    /* Timeout 0 with everything busy terminates. */
    for (ConnEntry *e = conn_table_oldest(t); e;
         e = conn_table_next_newer(t, e)) {
        ((TestConn *)e)->busy = true;
    }
    ck_assert_uint_eq(conn_table_expire(t, 2000, 0, 0), 0);
    ck_assert_uint_eq(conn_table_count(t), 3);
    conn_table_free(t);
    ck_assert_uint_eq(tr.destroyed, 10);
}
END_TEST

static void remove_odd(ConnTable *t, ConnEntry *e, void *opaque)
{
    unsigned *seen = opaque;

    (*seen)++;
    if (id_at(e) & 1) {
        conn_table_remove(t, e);
    }
}

START_TEST(test_foreach)
{
    ConnTable *t = conn_table_new(100, sizeof(TestConn), 5, NULL, NULL);
    unsigned i, seen = 0;

    for (i = 0; i < 8; i++) {
        ins(t, i, i);
    }
    conn_table_foreach(t, remove_odd, &seen);
    ck_assert_uint_eq(seen, 8);
    check_order(t, (const unsigned[]){ 0, 2, 4, 6 }, 4);
    conn_table_free(t);
}
END_TEST

START_TEST(test_million)
{
    enum { N = 1000000 };
    ConnTable *t = conn_table_new(N, sizeof(ConnEntry), g_random_int(),
                                  NULL, NULL);
    size_t empty = conn_table_mem_bytes(t);
    size_t mem, overhead;
    ConnTableStats st;
    unsigned i;

    ck_assert_uint_lt(empty, 64 * 1024);        /* buckets grow on demand */
    for (i = 0; i < N; i++) {
        ConnKey k = key_n(i);

        ck_assert_ptr_nonnull(conn_table_insert(t, &k, i));
    }
    ck_assert_uint_eq(conn_table_count(t), N);
    {
        ConnKey k = key_n(N);

        ck_assert_ptr_null(conn_table_insert(t, &k, N));
    }
    /* Table overhead per entry: everything but the key itself. */
    mem = conn_table_mem_bytes(t);
    overhead = (mem - (size_t)N * sizeof(ConnKey)) / N;
    ck_assert_uint_le(overhead, 64);
    ck_assert_uint_le(mem, (size_t)N * (sizeof(ConnEntry) + 17));

    for (i = 0; i < N; i += 7) {
        ConnKey k = key_n(i);
        ConnEntry *e = conn_table_lookup(t, &k);

        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(e->last_used, i);
    }
    conn_table_get_stats(t, &st);
    ck_assert_uint_eq(st.entries, N);
    ck_assert_uint_eq(st.refused, 1);
    ck_assert_uint_eq(conn_table_expire(t, N + 10, N / 2 + 11, 0), N / 2);
    ck_assert_uint_eq(conn_table_count(t), N / 2);
    conn_table_free(t);
}
END_TEST

static Suite *conntrack_suite(void)
{
    Suite *s = suite_create("net/conntrack");
    TCase *tk = tcase_create("key");
    TCase *tt = tcase_create("table");

    tcase_add_test(tk, test_key_symmetric);
    tcase_add_test(tk, test_key_fields);
    tcase_add_test(tk, test_key_not_ip);
    tcase_add_test(tk, test_key_distinguishes);
    tcase_add_test(tk, test_hash_symmetric_random);
    tcase_add_test(tk, test_hash_spread);
    tcase_add_test(tk, test_canonical_order_random);
    tcase_add_test(tk, test_hash_spread_families);
    tcase_add_test(tk, test_hash_no_trivial_collisions);
    tcase_set_timeout(tk, 60);
    suite_add_tcase(s, tk);

    tcase_add_test(tt, test_insert_lookup_remove);
    tcase_add_test(tt, test_bound_and_evict);
    tcase_add_test(tt, test_lru_order);
    tcase_add_test(tt, test_expire);
    tcase_add_test(tt, test_foreach);
    tcase_add_test(tt, test_million);
    tcase_set_timeout(tt, 60);
    suite_add_tcase(s, tt);
    return s;
}

int main(void)
{
    return check_run(conntrack_suite());
}
