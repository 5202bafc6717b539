/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/conntrack.c - direction-normalised connection keys and a bounded,
 * LRU-ordered connection table.
 *
 * The table is open hashing with intrusive chains: each ConnEntry carries
 * its hash-chain link and its LRU links, so a connection costs one
 * allocation (the caller's entry_size) and nothing else.  The bucket array
 * doubles when the entries outnumber the buckets, up to the power of two
 * >= max_entries (capped at CONN_TABLE_MAX_BUCKETS), so the average chain
 * stays at most one entry long.
 *
 * The LRU list runs from the oldest entry (t->oldest) to the newest
 * (t->newest) and is ordered by last_used: insert and touch append at the
 * newest end with a clock that never goes backwards, so expiry can stop at
 * the first entry that is not idle.
 *
 * Used by colo-compare and filter-rewriter through include/net/conntrack.h;
 * keys come from packet_parse() results (include/net/packet.h).
 */
#include "net/conntrack.h"
#include "util/stats.h"

#define CONN_TABLE_MIN_BUCKETS 1024u
#define CONN_TABLE_MAX_BUCKETS (1u << 26)   /* 512 MiB of chain heads; a
                                             * larger table just gets
                                             * longer chains */

/* The secret words of conn_key_hash(), drawn from a seed (hash_keys_init()).
 * A table draws them once, not per packet. */
typedef struct HashKeys {
    uint64_t k[6];
} HashKeys;

struct ConnTable {
    ConnEntry **buckets;        /* n_buckets chain heads */
    size_t n_buckets;           /* power of two */
    size_t max_buckets;         /* power of two >= max_entries */
    size_t entry_size;          /* bytes per entry, >= sizeof(ConnEntry) */
    uint32_t seed;              /* hash seed */
    HashKeys hk;                /* drawn from 'seed' (conn_key_hash()) */
    ConnTableOps ops;           /* callbacks (copied) */
    void *opaque;               /* for the callbacks */
    ConnEntry *oldest;          /* LRU head */
    ConnEntry *newest;          /* LRU tail */
    /* counters: written by the owner thread with stats_*, readable from
     * any thread with stats_read() */
    uint64_t entries;
    uint64_t max_entries;
    uint64_t inserts;
    uint64_t removals;
    uint64_t evictions;
    uint64_t expirations;
    uint64_t refused;
    uint64_t vetoed;
    uint64_t mem_bytes;
};

/* ------------------------------------------------------------------------ */
/* Keys.                                                                      */

/* Compares endpoint 0 and endpoint 1 of 'key': <0, 0, >0, in the order
 * memcmp() gives the address bytes, then the port.  Two big-endian
 * 64-bit loads per address order them as the bytes are ordered, without
 * a call to memcmp() per packet. */
static int endpoint_cmp(const ConnKey *key)
{
    uint64_t a = packet_load_be64(key->addr[0]);
    uint64_t b = packet_load_be64(key->addr[1]);

    if (a == b) {
        a = packet_load_be64(key->addr[0] + 8);
        b = packet_load_be64(key->addr[1] + 8);
    }
    if (a != b) {
        return a < b ? -1 : 1;
    }
    return (int)key->port[0] - (int)key->port[1];
}

ConnDir conn_key_canonicalise(ConnKey *key)
{
    uint8_t a[16];
    uint16_t p;

    if (endpoint_cmp(key) <= 0) {
        return CONN_DIR_FORWARD;
    }
    memcpy(a, key->addr[0], 16);
    memcpy(key->addr[0], key->addr[1], 16);
    memcpy(key->addr[1], a, 16);
    p = key->port[0];
    key->port[0] = key->port[1];
    key->port[1] = p;
    return CONN_DIR_REVERSE;
}

bool conn_key_from_packet(ConnKey *key, const PacketInfo *pi, ConnDir *dir)
{
    ConnDir d;

    memset(key, 0, sizeof *key);
    if (pi->ip_version != 4 && pi->ip_version != 6) {
        if (dir) {
            *dir = CONN_DIR_FORWARD;
        }
        return false;
    }
    memcpy(key->addr[0], pi->src.b, 16);
    memcpy(key->addr[1], pi->dst.b, 16);
    if (pi->flags & PACKET_F_PORTS) {
        key->port[0] = pi->src_port;
        key->port[1] = pi->dst_port;
    } else if (pi->flags & PACKET_F_ICMP_ECHO) {
        key->port[0] = pi->icmp_id;
        key->port[1] = pi->icmp_id;
    }
    key->vlan[0] = packet_vlan_id(pi, 0);
    key->vlan[1] = packet_vlan_id(pi, 1);
    key->proto = pi->ip_proto;
    key->ip_version = pi->ip_version;
    d = conn_key_canonicalise(key);
    if (dir) {
        *dir = d;
    }
    return true;
}

static inline uint64_t mix64(uint64_t x)
{
    /* The murmur3 / splitmix64 finaliser: full avalanche. */
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x *= UINT64_C(0xc4ceb9fe1a85ec53);
    x ^= x >> 33;
    return x;
}

/* The full 128-bit product of 'a' and 'b', its two halves xored: each
 * output bit depends on most input bits of both (the mixing step of
 * wyhash and its kin), for one multiplication. */
static inline uint64_t mul_fold(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 r = (unsigned __int128)a * b;

    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t a_lo = (uint32_t)a, a_hi = a >> 32;
    uint64_t b_lo = (uint32_t)b, b_hi = b >> 32;
    uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi;
    uint64_t hl = a_hi * b_lo, hh = a_hi * b_hi;
    uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;

    return (((mid << 32) | (uint32_t)ll)
            ^ (hh + (lh >> 32) + (hl >> 32) + (mid >> 32)));
#endif
}

/* Each word by a full-avalanche mix of the seed, so that no two are in a
 * fixed relation a peer could use to build colliding keys without knowing
 * the seed (two words differing by a constant would let the two halves of
 * an address trade places, say). */
static void hash_keys_init(HashKeys *hk, uint32_t seed)
{
    for (unsigned i = 0; i < G_N_ELEMENTS(hk->k); i++) {
        hk->k[i] = mix64(seed + (i + 1) * UINT64_C(0x9e3779b97f4a7c15));
    }
}

/*
 * One endpoint: its address's two words multiplied together, then that
 * product multiplied by the port.  The endpoints are added together below,
 * so (A, p) + (B, q) and (A, q) + (B, p), two different flows, must not
 * cancel out: not a part for the address plus a part for the port (equal
 * for any seed), nor the port xored into the address's product before a
 * multiplication by a constant (a change of the port would then move both
 * endpoints' products by similar multiples of that constant).  With the
 * port as the other factor, a change of the port moves each endpoint's
 * product by a multiple of its own address's product.
 */
static inline uint64_t endpoint_hash(const uint8_t addr[16], uint16_t port,
                                     const HashKeys *hk)
{
    uint64_t h = mul_fold(packet_load_ne64(addr) ^ hk->k[0],
                          packet_load_ne64(addr + 8) ^ hk->k[1]);

    return mul_fold(h ^ hk->k[2], port ^ hk->k[3]);
}

/*
 * Two multiplications per endpoint and one to finish, on the key's 64-bit
 * words: five 128-bit products, 120 instructions per frame pair (two
 * lookups) in callgrind, where eight rounds of the murmur3 finaliser
 * (sixteen products and their shifts) took 242, a tenth of the compare's.
 */
static uint32_t key_hash(const ConnKey *key, const HashKeys *hk)
{
    uint64_t rest = (uint64_t)key->vlan[0] | ((uint64_t)key->vlan[1] << 16)
                    | ((uint64_t)key->proto << 32)
                    | ((uint64_t)key->ip_version << 40);
    uint64_t h;

    /* Commutative combination: the same for either endpoint order. */
    h = endpoint_hash(key->addr[0], key->port[0], hk)
        + endpoint_hash(key->addr[1], key->port[1], hk);
    h = mul_fold(h ^ hk->k[4], rest ^ hk->k[5]);
    return (uint32_t)(h ^ (h >> 32));
}

uint32_t conn_key_hash(const ConnKey *key, uint32_t seed)
{
    HashKeys hk;

    hash_keys_init(&hk, seed);
    return key_hash(key, &hk);
}

/* ------------------------------------------------------------------------ */
/* The table.                                                                 */

/* The smallest power of two >= 'n', at most CONN_TABLE_MAX_BUCKETS. */
static size_t pow2_at_least(size_t n)
{
    size_t p = 1;

    while (p < n && p < CONN_TABLE_MAX_BUCKETS) {
        p <<= 1;
    }
    return p;
}

static void mem_update(ConnTable *t)
{
    __atomic_store_n(&t->mem_bytes,
                     sizeof *t + t->n_buckets * sizeof(ConnEntry *)
                     + t->entries * t->entry_size, __ATOMIC_RELAXED);
}

ConnTable *conn_table_new(size_t max_entries, size_t entry_size,
                          uint32_t seed, const ConnTableOps *ops,
                          void *opaque)
{
    ConnTable *t = g_new0(ConnTable, 1);

    g_assert(max_entries >= 1);
    g_assert(entry_size >= sizeof(ConnEntry));
    t->max_entries = max_entries;
    t->max_buckets = pow2_at_least(max_entries);
    t->n_buckets = MIN(CONN_TABLE_MIN_BUCKETS, t->max_buckets);
    t->buckets = g_new0(ConnEntry *, t->n_buckets);
    t->entry_size = entry_size;
    t->seed = seed;
    hash_keys_init(&t->hk, seed);
    if (ops) {
        t->ops = *ops;
    }
    t->opaque = opaque;
    mem_update(t);
    return t;
}

static void entry_free(ConnTable *t, ConnEntry *e)
{
    if (t->ops.destroy) {
        t->ops.destroy(e, t->opaque);
    }
    g_free(e);
}

void conn_table_free(ConnTable *t)
{
    ConnEntry *e, *next;

    if (!t) {
        return;
    }
    for (e = t->oldest; e; e = next) {
        next = e->lru_next;
        entry_free(t, e);
    }
    g_free(t->buckets);
    g_free(t);
}

static inline size_t bucket_of(const ConnTable *t, uint32_t hash)
{
    return hash & (t->n_buckets - 1);
}

static ConnEntry *chain_find(ConnTable *t, const ConnKey *key, uint32_t hash)
{
    ConnEntry *e;

    for (e = t->buckets[bucket_of(t, hash)]; e; e = e->hnext) {
        if (e->hash == hash && conn_key_equal(&e->key, key)) {
            return e;
        }
    }
    return NULL;
}

ConnEntry *conn_table_lookup(ConnTable *t, const ConnKey *key)
{
    return chain_find(t, key, key_hash(key, &t->hk));
}

/* Doubles the bucket array (O(entries), amortised over as many inserts). */
static void table_grow(ConnTable *t)
{
    size_t n = t->n_buckets * 2;
    ConnEntry **b = g_new0(ConnEntry *, n);
    size_t i;

    for (i = 0; i < t->n_buckets; i++) {
        ConnEntry *e, *next;

        for (e = t->buckets[i]; e; e = next) {
            size_t j = e->hash & (n - 1);

            next = e->hnext;
            e->hnext = b[j];
            b[j] = e;
        }
    }
    g_free(t->buckets);
    t->buckets = b;
    t->n_buckets = n;
}

static void lru_unlink(ConnTable *t, ConnEntry *e)
{
    if (e->lru_prev) {
        e->lru_prev->lru_next = e->lru_next;
    } else {
        t->oldest = e->lru_next;
    }
    if (e->lru_next) {
        e->lru_next->lru_prev = e->lru_prev;
    } else {
        t->newest = e->lru_prev;
    }
    e->lru_prev = e->lru_next = NULL;
}

/* Appends 'e' at the newest end, used at 'now' (raised to keep order). */
static void lru_append(ConnTable *t, ConnEntry *e, int64_t now)
{
    if (t->newest && now < t->newest->last_used) {
        now = t->newest->last_used;
    }
    e->last_used = now;
    e->lru_prev = t->newest;
    e->lru_next = NULL;
    if (t->newest) {
        t->newest->lru_next = e;
    } else {
        t->oldest = e;
    }
    t->newest = e;
}

ConnEntry *conn_table_insert(ConnTable *t, const ConnKey *key, int64_t now)
{
    uint32_t hash = key_hash(key, &t->hk);
    ConnEntry *e;
    size_t b;

    g_assert(!chain_find(t, key, hash));
    if (t->entries >= t->max_entries) {
        stats_inc(&t->refused);
        return NULL;
    }
    if (t->entries >= t->n_buckets && t->n_buckets < t->max_buckets) {
        table_grow(t);
    }
    e = g_malloc0(t->entry_size);
    e->key = *key;
    e->hash = hash;
    b = bucket_of(t, hash);
    e->hnext = t->buckets[b];
    t->buckets[b] = e;
    lru_append(t, e, now);
    stats_inc(&t->entries);
    stats_inc(&t->inserts);
    mem_update(t);
    return e;
}

/* Unlinks 'e' from its chain and the LRU list and frees it. */
static void entry_remove(ConnTable *t, ConnEntry *e)
{
    ConnEntry **pp = &t->buckets[bucket_of(t, e->hash)];

    while (*pp != e) {
        g_assert(*pp);          /* 'e' must be in this table */
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
    lru_unlink(t, e);
    __atomic_store_n(&t->entries, t->entries - 1, __ATOMIC_RELAXED);
    mem_update(t);
    entry_free(t, e);
}

void conn_table_remove(ConnTable *t, ConnEntry *e)
{
    entry_remove(t, e);
    stats_inc(&t->removals);
}

void conn_table_touch(ConnTable *t, ConnEntry *e, int64_t now)
{
    if (t->newest == e) {
        if (now > e->last_used) {
            e->last_used = now;
        }
        return;
    }
    lru_unlink(t, e);
    lru_append(t, e, now);
}

static bool may_remove(ConnTable *t, ConnEntry *e, ConnRemoveReason why)
{
    if (t->ops.may_remove && !t->ops.may_remove(e, why, t->opaque)) {
        stats_inc(&t->vetoed);
        return false;
    }
    return true;
}

bool conn_table_evict_lru(ConnTable *t, unsigned max_scan)
{
    unsigned n;

    if (max_scan == 0) {
        max_scan = 1;
    }
    for (n = 0; n < max_scan && t->oldest; n++) {
        ConnEntry *e = t->oldest;

        if (may_remove(t, e, CONN_REMOVE_EVICT)) {
            entry_remove(t, e);
            stats_inc(&t->evictions);
            return true;
        }
        conn_table_touch(t, e, t->newest->last_used);
    }
    return false;
}

unsigned conn_table_expire(ConnTable *t, int64_t now, int64_t idle_timeout,
                           unsigned budget)
{
    uint64_t limit = t->entries;   /* each entry is examined at most once */
    unsigned removed = 0;
    uint64_t n;

    if (budget && budget < limit) {
        limit = budget;
    }
    for (n = 0; n < limit && t->oldest; n++) {
        ConnEntry *e = t->oldest;

        if (e->last_used > now - idle_timeout) {
            break;                  /* ordered: the rest is younger */
        }
        if (may_remove(t, e, CONN_REMOVE_EXPIRE)) {
            entry_remove(t, e);
            stats_inc(&t->expirations);
            removed++;
        } else {
            conn_table_touch(t, e, now);
        }
    }
    return removed;
}

void conn_table_foreach(ConnTable *t,
                        void (*fn)(ConnTable *t, ConnEntry *e, void *opaque),
                        void *opaque)
{
    ConnEntry *e, *next;

    for (e = t->oldest; e; e = next) {
        next = e->lru_next;
        fn(t, e, opaque);
    }
}

ConnEntry *conn_table_oldest(ConnTable *t)
{
    return t->oldest;
}

ConnEntry *conn_table_newest(ConnTable *t)
{
    return t->newest;
}

ConnEntry *conn_table_next_newer(ConnTable *t, ConnEntry *e)
{
    return e->lru_next;
}

size_t conn_table_count(const ConnTable *t)
{
    return t->entries;
}

size_t conn_table_mem_bytes(const ConnTable *t)
{
    return t->mem_bytes;
}

void conn_table_get_stats(const ConnTable *t, ConnTableStats *st)
{
    st->entries = stats_read(&t->entries);
    st->max_entries = stats_read(&t->max_entries);
    st->inserts = stats_read(&t->inserts);
    st->removals = stats_read(&t->removals);
    st->evictions = stats_read(&t->evictions);
    st->expirations = stats_read(&t->expirations);
    st->refused = stats_read(&t->refused);
    st->vetoed = stats_read(&t->vetoed);
    st->mem_bytes = stats_read(&t->mem_bytes);
}
