/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/compare-engine.h - the colo-compare comparison engine, and the
 * colo-compare object's public helpers.
 *
 * The engine (net/compare-engine.c) is pure: no I/O, no threads, no main loop, no
 * clock.  Its owner feeds it frames with compare_input() together with the
 * time they arrived, calls compare_scan() periodically, and tells it about
 * checkpoints and failover.  The engine answers through CompareOps
 * callbacks: primary frames to release (in order), checkpoints to request,
 * miscompares to report.  net/colo-compare.c wraps it in the "colo-compare"
 * object (chardevs, iothread, timers, COLO frame); unit tests and the fuzz
 * target drive it directly with hand-built frames and explicit timestamps.
 *
 * What it does (docs/compare.md has the full story):
 *   - parses every frame with packet_parse() (include/net/packet.h);
 *     non-IP and malformed frames: primary released at once, secondary
 *     dropped, both counted by reason;
 *   - finds the connection in a bounded ConnTable (include/net/conntrack.h,
 *     symmetric 5-tuple + VLAN key); a full table is never wiped: an idle
 *     entry is evicted, or the primary frame is released uncompared and a
 *     checkpoint requested;
 *   - TCP: each side is a byte stream anchored at its own initial sequence
 *     number; SYN and FIN are compared as virtual bytes at their stream
 *     offsets; a primary segment is released once all its bytes have been
 *     verified against the secondary's bytes at the same offsets and (if it
 *     carries ACK) the secondary has acknowledged at least as far;
 *   - UDP / ICMP / other IP: first in, first out per connection, the oldest
 *     primary packet against the oldest secondary packet, comparing the L4
 *     header (checksum excluded) and payload;
 *   - every primary frame is released exactly once, in its connection's
 *     arrival order (a flush: in the arrival order of all connections).
 *
 * Callbacks must not call back into the engine.
 *
 * Memory: frames held are copied into pooled buffers (recycled, no malloc
 * per frame in steady state); at most max_queue_size frames per side per
 * connection, max_held frames per side in all, and max_connections
 * connections.  A TCP segment whose bytes the other side has all sent
 * already is compared where the caller's buffer has it and never copied
 * (a primary one, with nothing of its connection held before it, is
 * released from that buffer): in step, only one of the two copies of a
 * segment is ever held.
 *
 * Threads: a CompareEngine belongs to one thread; every call, including
 * the callbacks it makes, happens there.
 */
#ifndef NET_COMPARE_ENGINE_H
#define NET_COMPARE_ENGINE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/packet.h"

typedef enum {
    COMPARE_PRIMARY = 0,
    COMPARE_SECONDARY = 1,
} CompareSide;

/* Why the engine asks for a checkpoint (the owner maps these onto
 * ColoCheckpointReason). */
typedef enum {
    COMPARE_CKPT_MISCOMPARE,
    COMPARE_CKPT_TIMEOUT,
    COMPARE_CKPT_QUEUE_FULL,
    COMPARE_CKPT_TABLE_FULL,
    COMPARE_CKPT__MAX,
} CompareCkptReason;

/* Why two packets (or streams) differ.  Keep compare_mismatch_name() in
 * sync. */
typedef enum {
    COMPARE_MISMATCH_PAYLOAD,   /* bytes differ at the same offset */
    COMPARE_MISMATCH_LENGTH,    /* datagram payload lengths differ */
    COMPARE_MISMATCH_FLAGS,     /* SYN / FIN / RST at different offsets */
    COMPARE_MISMATCH_HEADER,    /* a compared header field differs */
    COMPARE_MISMATCH_OFFSET,    /* a stream jumped out of its window */
    COMPARE_MISMATCH_PROTOCOL,  /* the two sides' packets are of a
                                 * different kind on one connection */
    COMPARE_MISMATCH_GAP,       /* the secondary's TCP stream skipped bytes
                                 * it never sent (or that were lost on the
                                 * way): they will never come */
    COMPARE_MISMATCH__MAX,
} CompareMismatch;

/* Why a primary frame left without being verified.  Keep
 * compare_uncompared_name() in sync. */
typedef enum {
    COMPARE_UNCMP_NOT_IP,       /* not IPv4/IPv6 (ARP, ...) */
    COMPARE_UNCMP_MALFORMED,    /* packet_parse() refused it */
    COMPARE_UNCMP_TABLE_FULL,   /* no connection entry could be had */
    COMPARE_UNCMP_QUEUE_FULL,   /* oldest released to keep the bound */
    COMPARE_UNCMP_CHECKPOINT,   /* flushed by a checkpoint */
    COMPARE_UNCMP_FAILOVER,     /* flushed by / after failover */
    COMPARE_UNCMP_SHUTDOWN,     /* flushed when the compare was deleted */
    COMPARE_UNCMP_PASSTHROUGH,  /* its flow is exempt (ops->passthrough) */
    COMPARE_UNCMP__MAX,
} CompareUncompared;

/* Why a secondary frame was dropped without having matched anything.
 * Keep compare_sec_drop_name() in sync. */
typedef enum {
    COMPARE_SDROP_NOT_IP,
    COMPARE_SDROP_MALFORMED,
    COMPARE_SDROP_TABLE_FULL,
    COMPARE_SDROP_QUEUE_FULL,
    COMPARE_SDROP_STALE,        /* TCP bytes already verified */
    COMPARE_SDROP_MISMATCH,     /* connection waits for a checkpoint */
    COMPARE_SDROP_CHECKPOINT,   /* flushed by a checkpoint */
    COMPARE_SDROP_FAILOVER,
    COMPARE_SDROP_PASSTHROUGH,  /* its flow is exempt (ops->passthrough) */
    COMPARE_SDROP__MAX,
} CompareSecDrop;

/* Header fields that may be compared.  By default none is (two correct
 * replicas may differ in all of them); the "ignore" property of the
 * object lists those NOT compared.  Per-packet fields of TCP (window,
 * timestamps) are compared only when the two segments cover the same
 * bytes. */
#define COMPARE_FIELD_TTL       (1u << 0)   /* IPv4 TTL / IPv6 hop limit */
#define COMPARE_FIELD_TOS       (1u << 1)   /* TOS / traffic class */
#define COMPARE_FIELD_IPID      (1u << 2)   /* IPv4 identification */
#define COMPARE_FIELD_CHECKSUM  (1u << 3)   /* UDP / ICMP checksum */
#define COMPARE_FIELD_WINDOW    (1u << 4)   /* TCP window */
#define COMPARE_FIELD_TCP_TS    (1u << 5)   /* TCP timestamp option */
#define COMPARE_FIELD_ALL       0x3fu

/*
 * Parses an "ignore" list ("ttl,ipid,window,tcp-ts,checksums,tos", "all",
 * "none", or "" = none) into the mask of fields that are *ignored*.
 * Returns FALSE with errp set naming the bad item.
 */
gboolean compare_parse_ignore(const char *list, uint32_t *ignored,
                              GError **errp);
/* The canonical text of an ignore mask (new string). */
char *compare_format_ignore(uint32_t ignored);

typedef struct CompareConfig {
    uint32_t max_queue_size;        /* frames per side per connection */
    uint32_t max_connections;       /* connection table bound */
    uint32_t max_held;              /* frames held per side, all
                                     * connections together */
    uint64_t max_big_bytes;         /* bytes of held frames too big for
                                     * a pool buffer (GSO/jumbo), both
                                     * sides together */
    int64_t compare_timeout_us;     /* age that requests a checkpoint */
    int64_t tcp_idle_us;            /* idle expiry: established TCP */
    int64_t tcp_closed_idle_us;     /* TCP after FIN both ways or RST */
    int64_t udp_idle_us;
    int64_t other_idle_us;          /* ICMP and other IP */
    uint32_t ignored_fields;        /* COMPARE_FIELD_* not compared */
} CompareConfig;

#define COMPARE_DEFAULT_MAX_QUEUE_SIZE      1024u
#define COMPARE_DEFAULT_MAX_CONNECTIONS     65536u
#define COMPARE_DEFAULT_MAX_HELD            262144u
#define COMPARE_DEFAULT_MAX_BIG_BYTES       (64u << 20)
#define COMPARE_DEFAULT_TIMEOUT_MS          3000u
#define COMPARE_DEFAULT_SCAN_MS             1000u
#define COMPARE_DEFAULT_TCP_IDLE_MS         (600u * 1000u)
#define COMPARE_DEFAULT_TCP_CLOSED_IDLE_MS  (10u * 1000u)
#define COMPARE_DEFAULT_UDP_IDLE_MS         (60u * 1000u)
#define COMPARE_DEFAULT_OTHER_IDLE_MS       (30u * 1000u)

/* Fills 'cfg' with the defaults above (everything ignored). */
void compare_config_init(CompareConfig *cfg);

typedef struct CompareOps {
    /* mandatory: a primary frame leaves, in order.  'buf' is borrowed for
     * the call (the engine recycles it afterwards). */
    void (*release)(void *opaque, const uint8_t *buf, uint32_t len,
                    uint32_t vnet_hdr_len);
    /* mandatory: ask for a checkpoint.  'detail' names the connection or
     * is NULL; borrowed for the call. */
    void (*checkpoint)(void *opaque, CompareCkptReason reason,
                       const char *detail);
    /* optional: a miscompare was found ('conn' like
     * "tcp 10.0.0.1:80 -> 10.0.0.2:5555"); borrowed for the call. */
    void (*miscompare)(void *opaque, const char *conn,
                       CompareMismatch reason);
    /* optional: the flow classification of a parsed IP frame, asked
     * before its connection is looked up.  TRUE: the flow is exempt from
     * comparison (a passthrough rule, include/net/passthrough.h): a
     * primary frame is released at once, a secondary frame dropped, both
     * counted as "passthrough"; the connection is not tracked. */
    bool (*passthrough)(void *opaque, CompareSide side,
                        const PacketInfo *pi, uint32_t len);
    /* optional: a held primary frame, received at 'arrival_us', was just
     * released (after release()): for the hold-time histogram. */
    void (*held_released)(void *opaque, int64_t arrival_us);
} CompareOps;

typedef struct CompareStats {
    uint64_t packets[2];            /* frames in, per side */
    uint64_t bytes[2];
    uint64_t released;              /* primary frames released (all) */
    uint64_t released_bytes;
    uint64_t matched;               /* released after verification */
    uint64_t uncompared[COMPARE_UNCMP__MAX];
    uint64_t sec_consumed;          /* secondary frames used up by a match */
    uint64_t reanchored;            /* streams re-pinned after their SYN
                                     * (the secondary's untranslated SYN-ACK) */
    uint64_t tcp_reused;            /* new connections on the 4-tuple of
                                     * an ended one (started afresh) */
    uint64_t gaps_in_checkpoint;    /* secondary jumps while a checkpoint
                                     * ran: not divergences (held as before) */
    uint64_t sec_dropped[COMPARE_SDROP__MAX];
    uint64_t mismatches[COMPARE_MISMATCH__MAX];
    uint64_t checkpoints[COMPARE_CKPT__MAX];   /* requests made */
    uint64_t checkpoints_suppressed; /* not re-requested in an episode */
    uint64_t checkpoints_handled;   /* compare_checkpoint() calls */
    uint64_t unsupported[2][PACKET_VERDICT__MAX]; /* by parse verdict */
    uint64_t held[2];               /* frames held now */
    uint64_t held_max[2];           /* high-water mark of held[] */
    uint64_t queue_max_seen[2];     /* longest per-connection queue */
    uint64_t connections;           /* tracked now */
    uint64_t connections_max;       /* the bound */
    uint64_t connections_peak;
    uint64_t evictions;
    uint64_t expirations;
    uint64_t table_full;            /* packets that found no entry */
    uint64_t pool_allocs;           /* buffers ever allocated */
    uint64_t pool_free;             /* buffers in the free list now */
    uint64_t big_allocs;            /* frames too big for a pool buffer */
    uint64_t big_bytes;             /* bytes of such frames held now */
    uint64_t conn_mem_bytes;        /* memory of the connection table */
    bool failover;
} CompareStats;

typedef struct CompareEngine CompareEngine;

/* Creates an engine.  'cfg' is copied; 'ops' is borrowed for the engine's
 * life.  Never fails (values of 0 are raised to 1). */
CompareEngine *compare_new(const CompareConfig *cfg, const CompareOps *ops,
                           void *opaque);
/* Frees the engine and every held frame WITHOUT releasing anything (call
 * compare_flush() first to release).  NULL is fine. */
void compare_free(CompareEngine *e);

/* Changes the limits / timeouts at run time (max_connections is fixed at
 * creation and ignored here). */
void compare_set_config(CompareEngine *e, const CompareConfig *cfg);

/*
 * Feeds one frame from 'side' (its first 'vnet_hdr_len' bytes a
 * virtio-net header), received at 'now_us' (any monotonic clock, the one
 * passed to compare_scan()).  'buf' is borrowed for the call: a frame the
 * engine holds is copied.  May call every CompareOps callback.
 */
void compare_input(CompareEngine *e, CompareSide side, const uint8_t *buf,
                   uint32_t len, uint32_t vnet_hdr_len, int64_t now_us);

/*
 * The periodic scan (every expired_scan_cycle): if any held frame is
 * older than compare_timeout, requests one checkpoint (COMPARE_CKPT_TIMEOUT;
 * at most one per call); expires idle connections (at most 'budget'
 * examined, 0 = 4096).
 */
void compare_scan(CompareEngine *e, int64_t now_us, unsigned budget);

/* A checkpoint committed: releases every held primary frame in arrival
 * order (so each connection in order), drops every secondary frame,
 * re-anchors every connection's streams and ends the request episode --
 * unless compare_checkpoint_begin() did so already for this checkpoint:
 * then only its window closes. */
void compare_checkpoint(CompareEngine *e);

/* Both guests are stopped for a checkpoint whose state is being saved (the
 * frame's COLO_EVENT_CHECKPOINT_BEGIN): does what compare_checkpoint()
 * does (release, drop, re-anchor, end the episode) now, and opens a
 * window until the commit (compare_checkpoint(), which then only closes
 * it) or failover.  In the window the secondary may already send from the
 * new state: its frames are compared with the primary's new output as
 * usual, except that a TCP stream jumping past bytes it never sent is no
 * divergence (held as any segment, counted in gaps_in_checkpoint). */
void compare_checkpoint_begin(CompareEngine *e);

/* This side failed over: releases everything held, in order; from now on
 * primary frames pass through uncompared and secondary frames are
 * dropped. */
void compare_failover(CompareEngine *e);

/* Releases every held primary frame in arrival order (counted as
 * released uncompared for 'why'), drops secondaries; connection state is
 * kept.  Used at shutdown. */
void compare_flush(CompareEngine *e, CompareUncompared why);

/* Copies the counters. */
void compare_get_stats(CompareEngine *e, CompareStats *st);

/* Bytes of memory an idle tracked connection costs (entry + table
 * overhead), for the memory budget (<= 512). */
size_t compare_conn_mem_per_entry(void);

const char *compare_mismatch_name(CompareMismatch m);
const char *compare_uncompared_name(CompareUncompared u);
const char *compare_sec_drop_name(CompareSecDrop d);
const char *compare_ckpt_reason_name(CompareCkptReason r);

/* ------------------------------------------------------------------------ */
/* The "colo-compare" object (net/colo-compare.c).  Main context.            */

/* Returns a new JsonObject (as JsonNode) with the statistics of every
 * colo-compare object, for query-colo-compare-stats (QMP handler in
 * net/compare-qmp.c).  'id' filters (NULL = all).  Returns NULL with errp
 * set if 'id' names no colo-compare. */
struct _JsonNode;
struct _JsonNode *colo_compare_query_stats(const char *id, GError **errp);

#endif /* NET_COMPARE_ENGINE_H */
