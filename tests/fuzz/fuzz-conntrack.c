/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-conntrack.c - fuzz target for net/conntrack.c, the
 * bounded connection table colo-compare and filter-rewriter keep per
 * connection state in, driven the way they drive it: packets from the
 * network find or create their connection, the clock moves, idle entries
 * expire, a full table evicts its oldest entry.
 *
 * Input layout: byte 0 sets the table bound (1..64 entries), the rest is a
 * program of operations, each an opcode byte and its arguments:
 *   0,1  a synthetic packet (IPv4/IPv6, TCP/UDP/ICMP/other, addresses and
 *        ports from small pools so flows repeat, both directions): parsed
 *        by packet_parse(), keyed by conn_key_from_packet(), looked up and
 *        touched, or inserted (evicting the oldest on a full table);
 *   2    a raw frame of up to 127 fuzz bytes, handled the same way if it
 *        parses;
 *   3    the clock moves forward (or, rarely, backwards);
 *   4    conn_table_expire() with a fuzz timeout and budget;
 *   5    conn_table_evict_lru() with a fuzz scan length;
 *   6    conn_table_remove() of the n-th oldest entry;
 *   7    pins / unpins the n-th oldest entry (may_remove vetoes pinned
 *        entries, as compare does for a connection holding packets).
 * A shadow model (a hash table of the keys that should be present) is
 * checked after every operation:
 *   - the table holds exactly the shadow's keys, never more than the
 *     bound, and lookup finds each entry under its own key;
 *   - the LRU list runs oldest to newest with non-decreasing last_used and
 *     agrees with count, oldest and newest;
 *   - the counters add up: inserts - removals - evictions - expirations is
 *     the entry count; a refused insert happens only on a full table;
 *   - destroy runs exactly once per entry, never for a pinned entry on
 *     expire or evict; expire removes only entries idle for the timeout
 *     and, without a budget, all of the unpinned ones; evict scanning the
 *     whole table succeeds whenever an unpinned entry exists;
 *   - conn_key_from_packet() gives a packet and its reply the same key.
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Built as the other targets are (tests/fuzz/meson.build): a libFuzzer
 * binary with -Dfuzzing=true, and always "fuzz-conntrack-smoke", whose
 * main() (tests/fuzz/fuzz-smoke.c) replays tests/fuzz/corpus/conntrack/ under `make check`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/conntrack.h"
#include "net/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-conntrack: %s:%d: property failed: %s\n", \
                    __FILE__, __LINE__, #cond);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

#define ENTRY_MAGIC 0xc0105eedu

typedef struct FuzzConn {
    ConnEntry ce;
    uint64_t id;
    uint32_t magic;
    bool pinned;
} FuzzConn;

typedef enum Op {
    OP_NONE,
    OP_REMOVE,
    OP_EXPIRE,
    OP_EVICT,
    OP_FREE,
} Op;

typedef struct Model {
    ConnTable *t;
    size_t max;
    GHashTable *shadow;        /* ConnKey* (owned) -> id (as pointer) */
    uint64_t next_id;
    int64_t now;
    int64_t idle;              /* of the running expire */
    Op op;                     /* what may call destroy right now */
    unsigned destroyed;        /* destroy calls during 'op' */
} Model;

static guint key_hash(gconstpointer k)
{
    return conn_key_hash(k, 7);
}

static gboolean key_eq(gconstpointer a, gconstpointer b)
{
    return conn_key_equal(a, b);
}

static bool cb_may_remove(ConnEntry *e, ConnRemoveReason why, void *opaque)
{
    FuzzConn *c = (FuzzConn *)e;

    FUZZ_CHECK(c->magic == ENTRY_MAGIC);
    FUZZ_CHECK(why == CONN_REMOVE_EXPIRE || why == CONN_REMOVE_EVICT);
    return !c->pinned;
}

static void cb_destroy(ConnEntry *e, void *opaque)
{
    Model *m = opaque;
    FuzzConn *c = (FuzzConn *)e;
    gpointer id;

    FUZZ_CHECK(c->magic == ENTRY_MAGIC);
    FUZZ_CHECK(m->op != OP_NONE);
    FUZZ_CHECK(g_hash_table_lookup_extended(m->shadow, &e->key, NULL, &id));
    FUZZ_CHECK((uint64_t)(uintptr_t)id == c->id);
    if (m->op == OP_EXPIRE) {
        FUZZ_CHECK(!c->pinned);
        FUZZ_CHECK(e->last_used <= m->now - m->idle);
    } else if (m->op == OP_EVICT) {
        FUZZ_CHECK(!c->pinned);
    }
    g_hash_table_remove(m->shadow, &e->key);
    c->magic = 0;
    m->destroyed++;
}

static void check_table(Model *m)
{
    ConnTableStats st;
    ConnEntry *e, *prev = NULL;
    size_t n = 0;

    FUZZ_CHECK(conn_table_count(m->t) == g_hash_table_size(m->shadow));
    FUZZ_CHECK(conn_table_count(m->t) <= m->max);
    for (e = conn_table_oldest(m->t); e; e = conn_table_next_newer(m->t, e)) {
        FuzzConn *c = (FuzzConn *)e;
        gpointer id;

        FUZZ_CHECK(c->magic == ENTRY_MAGIC);
        FUZZ_CHECK(conn_table_lookup(m->t, &e->key) == e);
        FUZZ_CHECK(g_hash_table_lookup_extended(m->shadow, &e->key, NULL,
                                                &id));
        FUZZ_CHECK((uint64_t)(uintptr_t)id == c->id);
        FUZZ_CHECK(!prev || prev->last_used <= e->last_used);
        prev = e;
        n++;
        FUZZ_CHECK(n <= m->max);
    }
    FUZZ_CHECK(n == conn_table_count(m->t));
    FUZZ_CHECK(prev == conn_table_newest(m->t));

    conn_table_get_stats(m->t, &st);
    FUZZ_CHECK(st.entries == n);
    FUZZ_CHECK(st.max_entries == m->max);
    FUZZ_CHECK(st.inserts - st.removals - st.evictions - st.expirations == n);
    FUZZ_CHECK(st.mem_bytes == conn_table_mem_bytes(m->t));
    FUZZ_CHECK(st.mem_bytes >= n * sizeof(FuzzConn));
    FUZZ_CHECK(st.mem_bytes <= 4096 + m->max * (sizeof(FuzzConn) + 64));
}

static FuzzConn *nth_oldest(Model *m, unsigned k)
{
    size_t n = conn_table_count(m->t);
    ConnEntry *e;

    if (!n) {
        return NULL;
    }
    k %= n;
    e = conn_table_oldest(m->t);
    while (k--) {
        e = conn_table_next_newer(m->t, e);
    }
    return (FuzzConn *)e;
}

static bool any_unpinned(Model *m)
{
    for (ConnEntry *e = conn_table_oldest(m->t); e;
         e = conn_table_next_newer(m->t, e)) {
        if (!((FuzzConn *)e)->pinned) {
            return true;
        }
    }
    return false;
}

static bool do_evict(Model *m, unsigned scan)
{
    unsigned before = m->destroyed;
    bool whole = scan >= conn_table_count(m->t);
    bool could = any_unpinned(m);
    bool ok;

    m->op = OP_EVICT;
    ok = conn_table_evict_lru(m->t, scan);
    m->op = OP_NONE;
    FUZZ_CHECK(m->destroyed - before == (ok ? 1u : 0u));
    if (whole && could) {
        FUZZ_CHECK(ok);
    }
    return ok;
}

/* The connection of a parsed packet: found and touched, or inserted. */
static void track(Model *m, const PacketInfo *pi)
{
    ConnKey key;
    ConnDir dir;
    ConnEntry *e;

    if (!conn_key_from_packet(&key, pi, &dir)) {
        return;
    }
    FUZZ_CHECK(dir == CONN_DIR_FORWARD || dir == CONN_DIR_REVERSE);
    e = conn_table_lookup(m->t, &key);
    FUZZ_CHECK(!e == !g_hash_table_contains(m->shadow, &key));
    if (e) {
        conn_table_touch(m->t, e, m->now);
        FUZZ_CHECK(conn_table_newest(m->t) == e);
        FUZZ_CHECK(e->last_used >= m->now);
        return;
    }
    e = conn_table_insert(m->t, &key, m->now);
    if (!e) {
        FUZZ_CHECK(conn_table_count(m->t) == m->max);
        if (!do_evict(m, 8)) {
            return;            /* passed untracked, as the filters do */
        }
        e = conn_table_insert(m->t, &key, m->now);
        FUZZ_CHECK(e);
    }
    FUZZ_CHECK(conn_table_newest(m->t) == e);
    FUZZ_CHECK(conn_table_lookup(m->t, &key) == e);
    {
        FuzzConn *c = (FuzzConn *)e;

        FUZZ_CHECK(c->id == 0 && c->magic == 0 && !c->pinned); /* zeroed */
        c->id = ++m->next_id;
        c->magic = ENTRY_MAGIC;
        g_hash_table_insert(m->shadow, g_memdup2(&key, sizeof key),
                            (gpointer)(uintptr_t)c->id);
    }
}

/* Builds a small frame from 6 argument bytes; returns its length. */
static size_t build_frame(uint8_t *f, const uint8_t *a)
{
    static const uint8_t protos[4] = { 6, 17, 1, 47 };
    bool v6 = a[0] & 1;
    uint8_t proto = protos[(a[0] >> 1) & 3];
    bool reply = a[0] & 8;
    uint8_t ip_a = a[1] & 7, ip_b = a[2] & 7;
    uint16_t port_a = 1000 + (a[3] & 7), port_b = 80 + (a[4] & 3);
    size_t l3 = 14, l4, l4len, end;

    memset(f, 0, 128);
    memset(f, 0xff, 6);
    f[6] = 0x02;
    f[11] = a[5];
    if (reply) {
        uint8_t t = ip_a;
        uint16_t p = port_a;

        ip_a = ip_b;
        ip_b = t;
        port_a = port_b;
        port_b = p;
    }
    l4len = proto == 6 ? 20 : 8;
    if (v6) {
        f[12] = 0x86;
        f[13] = 0xdd;
        f[l3] = 0x60;
        packet_store_be16(f + l3 + 4, l4len + 4);
        f[l3 + 6] = proto == 1 ? 58 : proto;
        f[l3 + 7] = 64;
        f[l3 + 8] = 0xfd;
        f[l3 + 23] = ip_a;
        f[l3 + 24] = 0xfd;
        f[l3 + 39] = ip_b;
        l4 = l3 + 40;
    } else {
        f[12] = 0x08;
        f[13] = 0x00;
        f[l3] = 0x45;
        packet_store_be16(f + l3 + 2, 20 + l4len + 4);
        f[l3 + 8] = 64;
        f[l3 + 9] = proto;
        f[l3 + 12] = 10;
        f[l3 + 15] = ip_a;
        f[l3 + 16] = 10;
        f[l3 + 19] = ip_b;
        l4 = l3 + 20;
    }
    if (proto == 1) {
        f[l4] = reply ? (v6 ? 129 : 0) : (v6 ? 128 : 8);   /* echo */
        packet_store_be16(f + l4 + 4, port_a ^ port_b);     /* ident */
    } else {
        packet_store_be16(f + l4, port_a);
        packet_store_be16(f + l4 + 2, port_b);
        if (proto == 6) {
            f[l4 + 12] = 0x50;
            f[l4 + 13] = 0x10;                              /* ACK */
        } else {
            packet_store_be16(f + l4 + 4, l4len + 4);
        }
    }
    end = l4 + l4len + 4;
    return end < 60 ? 60 : end;
}

/* Checks that a synthetic packet and its reply share a key. */
static void check_reply_key(const uint8_t *a)
{
    uint8_t f1[128], f2[128], b[6];
    PacketInfo p1, p2;
    ConnKey k1, k2;
    ConnDir d1, d2;
    size_t n1, n2;

    memcpy(b, a, 6);
    n1 = build_frame(f1, b);
    b[0] ^= 8;
    n2 = build_frame(f2, b);
    if (packet_parse(f1, n1, 0, &p1) != PACKET_OK ||
        packet_parse(f2, n2, 0, &p2) != PACKET_OK) {
        return;
    }
    FUZZ_CHECK(conn_key_from_packet(&k1, &p1, &d1));
    FUZZ_CHECK(conn_key_from_packet(&k2, &p2, &d2));
    FUZZ_CHECK(conn_key_equal(&k1, &k2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ConnTableOps ops = {
        .may_remove = cb_may_remove,
        .destroy = cb_destroy,
    };
    Model m = { 0 };
    size_t i = 1;

    if (size < 1) {
        return 0;
    }
    m.max = (data[0] & 63) + 1;
    m.now = 1000000;
    m.shadow = g_hash_table_new_full(key_hash, key_eq, g_free, NULL);
    m.t = conn_table_new(m.max, sizeof(FuzzConn), data[0] * 2654435761u,
                         &ops, &m);

    while (i < size) {
        uint8_t op = data[i++] & 7;
        const uint8_t *a = data + i;
        size_t left = size - i;

        switch (op) {
        case 0:
        case 1: {
            uint8_t f[128];
            PacketInfo pi;
            size_t n;

            if (left < 6) {
                i = size;
                break;
            }
            n = build_frame(f, a);
            check_reply_key(a);
            if (packet_parse(f, n, 0, &pi) == PACKET_OK) {
                track(&m, &pi);
            }
            i += 6;
            break;
        }
        case 2: {
            size_t n = left ? a[0] & 127 : 0;
            PacketInfo pi;
            uint8_t *f;

            if (left < 1 + n) {
                n = left ? left - 1 : 0;
            }
            f = g_malloc(n ? n : 1);     /* exact size for ASan */
            memcpy(f, a + 1, n);
            if (packet_parse(f, n, 0, &pi) == PACKET_OK) {
                track(&m, &pi);
            }
            g_free(f);
            i += 1 + n;
            break;
        }
        case 3:
            if (left < 1) {
                break;
            }
            m.now += a[0] & 0x80 ? -(int64_t)(a[0] & 15)
                                 : (int64_t)a[0] * 1000;
            i++;
            break;
        case 4: {
            unsigned before = m.destroyed, removed, budget;

            if (left < 2) {
                i = size;
                break;
            }
            m.idle = (int64_t)(a[0] & 31) * 1000;
            budget = a[1] & 7;
            m.op = OP_EXPIRE;
            removed = conn_table_expire(m.t, m.now, m.idle, budget);
            m.op = OP_NONE;
            FUZZ_CHECK(removed == m.destroyed - before);
            if (!budget) {
                /* Nothing unpinned and idle may be left behind. */
                for (ConnEntry *e = conn_table_oldest(m.t); e;
                     e = conn_table_next_newer(m.t, e)) {
                    FUZZ_CHECK(((FuzzConn *)e)->pinned ||
                               e->last_used > m.now - m.idle);
                }
            }
            i += 2;
            break;
        }
        case 5:
            if (left < 1) {
                break;
            }
            do_evict(&m, a[0] & 63);
            i++;
            break;
        case 6: {
            FuzzConn *c;
            unsigned before = m.destroyed;

            if (left < 1) {
                break;
            }
            c = nth_oldest(&m, a[0]);
            if (c) {
                m.op = OP_REMOVE;
                conn_table_remove(m.t, &c->ce);
                m.op = OP_NONE;
                FUZZ_CHECK(m.destroyed == before + 1);
            }
            i++;
            break;
        }
        case 7: {
            FuzzConn *c;

            if (left < 1) {
                break;
            }
            c = nth_oldest(&m, a[0]);
            if (c) {
                c->pinned = !c->pinned;
            }
            i++;
            break;
        }
        }
        check_table(&m);
    }

    {
        size_t n = conn_table_count(m.t);
        unsigned before = m.destroyed;

        m.op = OP_FREE;
        conn_table_free(m.t);
        FUZZ_CHECK(m.destroyed - before == n);
        FUZZ_CHECK(g_hash_table_size(m.shadow) == 0);
    }
    g_hash_table_unref(m.shadow);
    return 0;
}
