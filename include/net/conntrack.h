/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/conntrack.h - connection keys and a bounded connection table.
 *
 * colo-compare keeps per-connection queues and TCP state, filter-rewriter
 * per-connection sequence offsets; both find "their" connection for a
 * parsed packet (include/net/packet.h) here.  This module knows nothing
 * about what they store: the caller's per-connection struct embeds a
 * ConnEntry as its first member and the table allocates entry_size bytes.
 *
 * Keys are direction-normalised: both directions of a flow give the same
 * ConnKey, and conn_key_from_packet() says which direction the packet
 * went.  The hash is symmetric on top of that, and seeded per table.
 *
 * Capacity policy (unlike QEMU, whose table is wiped when it fills, losing
 * the state of every live connection):
 *   - the table holds at most 'max_entries'; conn_table_insert() returns
 *     NULL when it is full and counts a refusal; the caller decides to evict
 *     (conn_table_evict_lru()) and retry, or to pass the packet untracked;
 *   - idle entries are removed by conn_table_expire(), oldest first, and a
 *     may_remove callback can veto (e.g. while the entry holds queued
 *     packets);
 *   - nothing is ever removed wholesale, except by conn_table_free().
 *
 * Usage:
 *
 *     typedef struct CompareConn {
 *         ConnEntry ce;               (first member)
 *         ...caller state...
 *     } CompareConn;
 *
 *     ConnTable *t = conn_table_new(max, sizeof(CompareConn), seed,
 *                                   &ops, opaque);
 *     ConnKey key;
 *     ConnDir dir;
 *     if (conn_key_from_packet(&key, &pi, &dir)) {
 *         CompareConn *c = (CompareConn *)conn_table_lookup(t, &key);
 *         if (!c) {
 *             c = (CompareConn *)conn_table_insert(t, &key, now);
 *             if (!c && conn_table_evict_lru(t, 8)) {
 *                 c = (CompareConn *)conn_table_insert(t, &key, now);
 *             }
 *         } else {
 *             conn_table_touch(t, &c->ce, now);
 *         }
 *     }
 *     ...periodically: conn_table_expire(t, now, idle, budget);
 *
 * Memory: one g_malloc0(entry_size) per connection (not per packet) plus
 * 8 bytes per hash bucket; buckets grow by doubling to keep chains at most
 * one entry long on average, up to the power of two >= max_entries.  Per
 * entry the table itself adds sizeof(ConnEntry) - sizeof(ConnKey) (36
 * bytes: links, hash, timestamp) and 8 to 16 bytes of buckets, i.e. 44 to
 * 52 bytes; conn_table_mem_bytes() reports the total.
 *
 * Threads: a ConnTable belongs to one thread (its owner's home context);
 * only conn_table_get_stats() may be called from another thread.
 */
#ifndef NET_CONNTRACK_H
#define NET_CONNTRACK_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/packet.h"

/*
 * A direction-normalised connection key.  Endpoint 0 (addr[0], port[0]) is
 * the smaller of the two endpoints (address bytes, then port), so a packet
 * and its reply produce the same key.  No padding: keys are compared with
 * memcmp and hashed as bytes.
 *
 * Ports: TCP, UDP, SCTP, DCCP, UDP-Lite ports; for ICMP / ICMPv6 echo
 * request and reply the identifier in both (so a request and its reply
 * match); 0 for everything else, including non-first fragments (XXX: no
 * reassembly; a later fragment does not find its flow's entry).
 */
typedef struct ConnKey {
    uint8_t addr[2][16];        /* IPv6, or IPv4-mapped IPv4 */
    uint16_t port[2];           /* host order */
    uint16_t vlan[2];           /* outer and inner VLAN id, 0 if untagged */
    uint8_t proto;              /* IP protocol (after IPv6 ext headers) */
    uint8_t ip_version;         /* 4 or 6 */
    uint16_t zero;              /* always 0 (explicit padding) */
} ConnKey;
G_STATIC_ASSERT(sizeof(ConnKey) == 44);

/* Which way a packet went relative to its canonical key. */
typedef enum ConnDir {
    CONN_DIR_FORWARD = 0,       /* packet source is the key's endpoint 0 */
    CONN_DIR_REVERSE = 1,       /* packet source is the key's endpoint 1 */
} ConnDir;

/*
 * Builds the key of the connection 'pi' belongs to (pi from a PACKET_OK
 * parse) and stores in '*dir' (may be NULL) which endpoint sent it.
 * Returns false, leaving '*key' zeroed, when 'pi' has no IP header.
 * Pure; any thread.
 */
bool conn_key_from_packet(ConnKey *key, const PacketInfo *pi, ConnDir *dir);

/* Swaps 'key' into canonical order; returns the direction of the
 * endpoint order it had (CONN_DIR_REVERSE if it swapped). */
ConnDir conn_key_canonicalise(ConnKey *key);

/* Symmetric hash of 'key' with 'seed': the two endpoints are hashed
 * separately and combined commutatively before the final mix, so swapping
 * the endpoints does not change the result even for a key that is not
 * canonical. */
uint32_t conn_key_hash(const ConnKey *key, uint32_t seed);

static inline bool conn_key_equal(const ConnKey *a, const ConnKey *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* The head of every tracked connection; embed it as the first member of
 * the caller's per-connection struct.  Fields are the table's: read
 * 'key' and 'last_used', write nothing. */
typedef struct ConnEntry ConnEntry;
struct ConnEntry {
    ConnEntry *hnext;           /* hash chain */
    ConnEntry *lru_prev;        /* towards older entries */
    ConnEntry *lru_next;        /* towards newer entries */
    int64_t last_used;          /* caller's clock at insert / last touch */
    uint32_t hash;              /* conn_key_hash(&key, table seed) */
    ConnKey key;
};
G_STATIC_ASSERT(sizeof(ConnEntry) == 80);

typedef enum ConnRemoveReason {
    CONN_REMOVE_EXPIRE,         /* idle for longer than the timeout */
    CONN_REMOVE_EVICT,          /* oldest entry, making room */
} ConnRemoveReason;

typedef struct ConnTableOps {
    /* optional: asked before an entry is expired or evicted; return false
     * to keep it (it is then touched, see conn_table_expire()). */
    bool (*may_remove)(ConnEntry *e, ConnRemoveReason why, void *opaque);
    /* optional: releases the caller's state of an entry about to be freed
     * (by remove, expire, evict or conn_table_free()).  Must not call
     * back into the table. */
    void (*destroy)(ConnEntry *e, void *opaque);
} ConnTableOps;

typedef struct ConnTableStats {
    uint64_t entries;           /* currently in the table */
    uint64_t max_entries;       /* the bound */
    uint64_t inserts;           /* successful inserts */
    uint64_t removals;          /* conn_table_remove() calls */
    uint64_t evictions;         /* removed by conn_table_evict_lru() */
    uint64_t expirations;       /* removed by conn_table_expire() */
    uint64_t refused;           /* inserts that found the table full */
    uint64_t vetoed;            /* removals vetoed by may_remove */
    uint64_t mem_bytes;         /* conn_table_mem_bytes() */
} ConnTableStats;

typedef struct ConnTable ConnTable;

/*
 * Creates a table of at most 'max_entries' (>= 1) entries of 'entry_size'
 * (>= sizeof(ConnEntry)) bytes each.  'ops' (copied; may be NULL) and
 * 'opaque' are passed to the callbacks.  'seed' seeds the hash; pass a
 * random value (g_random_int()) so that remote peers cannot aim at one
 * chain.  Returns a new table; never fails.
 */
ConnTable *conn_table_new(size_t max_entries, size_t entry_size,
                          uint32_t seed, const ConnTableOps *ops,
                          void *opaque);

/* Frees every entry (ops->destroy first) and the table.  NULL is fine. */
void conn_table_free(ConnTable *t);

/* Returns the entry for 'key' (borrowed, valid until removed), or NULL. */
ConnEntry *conn_table_lookup(ConnTable *t, const ConnKey *key);

/*
 * Inserts a new zero-filled entry for 'key' (which must not be in the
 * table), newest in LRU order, last_used 'now'.  Returns it (owned by the
 * table), or NULL when the table is full (counted in 'refused').
 */
ConnEntry *conn_table_insert(ConnTable *t, const ConnKey *key, int64_t now);

/* Removes and frees 'e' (ops->destroy first). */
void conn_table_remove(ConnTable *t, ConnEntry *e);

/* Marks 'e' used at 'now' and makes it the newest.  The LRU list is kept
 * ordered by last_used: a 'now' older than the newest entry's last_used
 * (a clock that went backwards) is raised to it. */
void conn_table_touch(ConnTable *t, ConnEntry *e, int64_t now);

/*
 * Evicts the oldest entry that ops->may_remove accepts, looking at the
 * 'max_scan' (0 = 1) oldest at most.  A vetoed entry is moved to the
 * newest end with the newest entry's last_used, so the next call looks at
 * others.  Returns true if one was evicted.
 */
bool conn_table_evict_lru(ConnTable *t, unsigned max_scan);

/*
 * Removes entries idle for 'idle_timeout' or longer (last_used +
 * idle_timeout <= now), oldest first, examining at most 'budget' entries
 * (0 = no limit).  An entry that ops->may_remove vetoes is touched with
 * 'now': it is in use, and is examined again after another timeout.
 * Returns the number of entries removed.
 */
unsigned conn_table_expire(ConnTable *t, int64_t now, int64_t idle_timeout,
                           unsigned budget);

/* Calls 'fn' for every entry, oldest first.  'fn' may remove the entry it
 * is given (conn_table_remove()), nothing else. */
void conn_table_foreach(ConnTable *t,
                        void (*fn)(ConnTable *t, ConnEntry *e, void *opaque),
                        void *opaque);

/* The oldest / newest entry, or NULL when empty; and the neighbours of
 * 'e' in LRU order (NULL at the ends). */
ConnEntry *conn_table_oldest(ConnTable *t);
ConnEntry *conn_table_newest(ConnTable *t);
ConnEntry *conn_table_next_newer(ConnTable *t, ConnEntry *e);

size_t conn_table_count(const ConnTable *t);

/* Bytes allocated by the table: the table struct, the bucket array and
 * every entry (entry_size each). */
size_t conn_table_mem_bytes(const ConnTable *t);

/* Copies the counters; may be called from any thread (values may be a
 * moment old, never torn). */
void conn_table_get_stats(const ConnTable *t, ConnTableStats *st);

#endif /* NET_CONNTRACK_H */
