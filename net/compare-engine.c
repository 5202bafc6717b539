/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/compare-engine.c - the colo-compare comparison engine (include/net/compare-engine.h).
 *
 * Pure state machine: frames in (compare_input), time passing
 * (compare_scan), checkpoints and failover in; released primary frames,
 * checkpoint requests and miscompare reports out through CompareOps.  The
 * "colo-compare" object (net/colo-compare.c) owns one per instance and runs
 * it on its iothread; tests/unit/test-compare-engine.c and
 * tests/fuzz/fuzz-compare.c drive it directly.
 *
 * Per connection (a ConnTable entry, include/net/conntrack.h) the engine
 * keeps two queues of held frames, primary and secondary:
 *
 *   primary    arrival order; the head leaves first (release order is
 *              the connection's arrival order, always);
 *   secondary  TCP: sorted by stream offset (bytes waiting for the primary
 *              to produce the same); others: arrival order.
 *
 * TCP.  Each side's byte stream is anchored at that side's initial
 * sequence number (its SYN, else its first segment); a segment covers the
 * stream offsets [a, b) with SYN and FIN as one virtual byte each.  The
 * connection remembers 'verified', the offset up to which the primary's
 * bytes have been found equal to the secondary's bytes at the same
 * offsets.  advance() moves it forward whenever both sides have bytes at
 * 'verified'; a primary segment leaves when b <= verified (all its bytes
 * checked, a retransmission of checked bytes included) and, if it carries
 * ACK, the secondary has acknowledged at least as far (ACK gating: the
 * client is never told something the secondary has not received).  All
 * offset and ack comparisons are modulo 2^32 (seq_lt & co).  A segment
 * that arrives with nothing of its side held and whose bytes the other
 * side's held segments cover is verified from the caller's buffer
 * (tcp_verify_borrowed()) and, if it can leave or is used up, never
 * copied.
 *
 * UDP, ICMP, other IP (and IP fragments, which have their own flow, see
 * flow_key()): the oldest primary frame against the oldest secondary
 * frame; the L4 header except the checksum, and the payload up to the IP
 * length (never the Ethernet padding), must be equal.
 *
 * A miscompare marks the connection: its primary frames are held (and its
 * secondary frames dropped) until the checkpoint, and a single checkpoint
 * request is made per episode (until compare_checkpoint()).
 *
 * Threads: one; no locking.  Callbacks must not call back into the engine.
 */
#include <stdio.h>

#include "net/compare-engine.h"
#include "net/conntrack.h"
#include "util/error.h"

/* ------------------------------------------------------------------------ */
/* Held frames and their pool.                                                */

#define CMP_SLAB_SIZE       2048u   /* the largest pooled buffer, header
                                     * included */
#define CMP_POOL_MAX_FREE   8192u   /* buffers kept for reuse per class (at
                                     * most 16 MiB for the largest) */
/* Pooled buffers come in three sizes: a held frame takes the smallest that
 * fits.  Many frames are held at once under load (a slow secondary, or a
 * burst), and walking them later (compare, release) touches memory in
 * proportion to the buffer size, not the frame's: with 2 KiB for every
 * 64-byte segment the held frames fell out of the cache between their
 * arrival and their release (perf: the first load of a held frame's header
 * was a tenth of the compare's samples at 64 B). */
static const uint32_t cmp_class_size[] = { 256u, 768u, CMP_SLAB_SIZE };
#define CMP_CLASSES 3u
#define CMP_OFFSET_WINDOW   (1u << 30)  /* a stream may not jump further */

typedef struct CmpPkt CmpPkt;
struct CmpPkt {
    CmpPkt *next;
    int64_t arrival_us;
    uint64_t order;             /* engine-wide arrival number (flush order) */
    uint32_t len;               /* frame bytes in data[] */
    uint32_t vnet_hdr_len;
    /* TCP */
    uint32_t a, b;              /* stream offsets [a, b) */
    uint32_t ack;
    uint16_t tcp_flags;
    uint16_t window;
    uint16_t ts_ofs;            /* TSval in data[], or NONE */
    /* where the compared bytes are */
    uint16_t payload_ofs;
    uint16_t payload_len;
    uint16_t body_ofs;          /* datagrams: L4 header (or payload) */
    uint16_t body_len;          /* ... to the end of the IP datagram */
    uint16_t hdr_len;           /* L4 header bytes at body_ofs */
    uint16_t csum_rel;          /* L4 checksum from body_ofs, or NONE */
    uint16_t ipid;
    uint8_t ttl;
    uint8_t tos;
    uint8_t ip_version;
    uint8_t big;                /* pool class, or CMP_BIG: not pooled */
    uint8_t data[];
};

#define CMP_SLAB_DATA (CMP_SLAB_SIZE - sizeof(CmpPkt))
#define CMP_BIG 0xffu               /* CmpPkt.big: allocated apart */
G_STATIC_ASSERT(sizeof(CmpPkt) < 256u - 64u);   /* the smallest class holds
                                                 * a minimum-size frame */

typedef struct CmpQueue {
    CmpPkt *head;
    CmpPkt *tail;
    uint32_t n;
} CmpQueue;

/* ------------------------------------------------------------------------ */
/* Connections.                                                               */

enum {
    CONN_KIND_TCP = 1,
    CONN_KIND_DGRAM = 2,
};

/* CompareConn.flags */
#define CF_MISMATCH     (1u << 0)   /* waiting for a checkpoint */
#define CF_BUSY         (1u << 1)   /* on the busy list */

/* CompareConn.side[] flags */
#define SF_ANCHORED     (1u << 0)
#define SF_SYN          (1u << 1)   /* sent a SYN */
#define SF_FIN          (1u << 2)   /* sent a FIN */
#define SF_RST          (1u << 3)   /* sent a RST */
#define SF_NEXT         (1u << 4)   /* next[] valid */
#define SF_ACK          (1u << 5)   /* max_ack valid (secondary) */
#define SF_PINNED       (1u << 6)   /* stream after the SYN checked */

typedef struct CompareConn CompareConn;
struct CompareConn {
    ConnEntry ce;               /* first member (conntrack.h) */
    CompareConn *busy_prev;     /* connections holding frames */
    CompareConn *busy_next;
    CmpQueue q[2];
    uint32_t epoch;             /* engine epoch of the last re-anchor */
    uint8_t kind;               /* CONN_KIND_* */
    uint8_t flags;              /* CF_* */
    uint8_t side[2];            /* SF_* per side */
    /* TCP */
    uint32_t isn[2];            /* anchor: sequence number of offset 0 */
    uint32_t next[2];           /* highest sequence end seen */
    uint32_t verified;          /* offset verified up to */
    uint32_t sec_max_ack;       /* highest ack sent by the secondary */
};

struct CompareEngine {
    CompareConfig cfg;
    const CompareOps *ops;
    void *opaque;
    ConnTable *table;
    CompareConn *busy;          /* head of the busy list */
    CmpPkt *pool[CMP_CLASSES];  /* free buffers, per size class */
    uint32_t pool_n[CMP_CLASSES];
    uint32_t epoch;             /* bumped by every checkpoint */
    uint64_t order;             /* arrival number of the next frame */
    bool failover;
    bool episode;               /* a checkpoint was requested, not done */
    bool in_checkpoint;         /* one has begun and not yet committed */
    CompareStats st;
    char desc[160];
};

/* ------------------------------------------------------------------------ */
/* Names.                                                                     */

static const char *const mismatch_names[COMPARE_MISMATCH__MAX] = {
    [COMPARE_MISMATCH_PAYLOAD] = "payload",
    [COMPARE_MISMATCH_LENGTH] = "length",
    [COMPARE_MISMATCH_FLAGS] = "flags",
    [COMPARE_MISMATCH_HEADER] = "header",
    [COMPARE_MISMATCH_OFFSET] = "offset",
    [COMPARE_MISMATCH_PROTOCOL] = "protocol",
    [COMPARE_MISMATCH_GAP] = "gap",
};

static const char *const uncmp_names[COMPARE_UNCMP__MAX] = {
    [COMPARE_UNCMP_NOT_IP] = "not-ip",
    [COMPARE_UNCMP_MALFORMED] = "malformed",
    [COMPARE_UNCMP_TABLE_FULL] = "table-full",
    [COMPARE_UNCMP_QUEUE_FULL] = "queue-full",
    [COMPARE_UNCMP_CHECKPOINT] = "checkpoint",
    [COMPARE_UNCMP_FAILOVER] = "failover",
    [COMPARE_UNCMP_SHUTDOWN] = "shutdown",
    [COMPARE_UNCMP_PASSTHROUGH] = "passthrough",
};

static const char *const sdrop_names[COMPARE_SDROP__MAX] = {
    [COMPARE_SDROP_NOT_IP] = "not-ip",
    [COMPARE_SDROP_MALFORMED] = "malformed",
    [COMPARE_SDROP_TABLE_FULL] = "table-full",
    [COMPARE_SDROP_QUEUE_FULL] = "queue-full",
    [COMPARE_SDROP_STALE] = "stale",
    [COMPARE_SDROP_MISMATCH] = "mismatch",
    [COMPARE_SDROP_CHECKPOINT] = "checkpoint",
    [COMPARE_SDROP_FAILOVER] = "failover",
    [COMPARE_SDROP_PASSTHROUGH] = "passthrough",
};

static const char *const ckpt_names[COMPARE_CKPT__MAX] = {
    [COMPARE_CKPT_MISCOMPARE] = "miscompare",
    [COMPARE_CKPT_TIMEOUT] = "timeout",
    [COMPARE_CKPT_QUEUE_FULL] = "queue-full",
    [COMPARE_CKPT_TABLE_FULL] = "table-full",
};

const char *compare_mismatch_name(CompareMismatch m)
{
    return (unsigned) m < COMPARE_MISMATCH__MAX ? mismatch_names[m]
                                                : "invalid";
}

const char *compare_uncompared_name(CompareUncompared u)
{
    return (unsigned) u < COMPARE_UNCMP__MAX ? uncmp_names[u] : "invalid";
}

const char *compare_sec_drop_name(CompareSecDrop d)
{
    return (unsigned) d < COMPARE_SDROP__MAX ? sdrop_names[d] : "invalid";
}

const char *compare_ckpt_reason_name(CompareCkptReason r)
{
    return (unsigned) r < COMPARE_CKPT__MAX ? ckpt_names[r] : "invalid";
}

/* ------------------------------------------------------------------------ */
/* Configuration.                                                             */

static const struct {
    const char *name;
    uint32_t bit;
} field_names[] = {
    { "ttl", COMPARE_FIELD_TTL },
    { "tos", COMPARE_FIELD_TOS },
    { "ipid", COMPARE_FIELD_IPID },
    { "checksums", COMPARE_FIELD_CHECKSUM },
    { "window", COMPARE_FIELD_WINDOW },
    { "tcp-ts", COMPARE_FIELD_TCP_TS },
};

gboolean compare_parse_ignore(const char *list, uint32_t *ignored,
                              GError **errp)
{
    uint32_t mask = 0;
    g_auto(GStrv) items = NULL;

    if (!list || !*list || !strcmp(list, "none")) {
        *ignored = 0;
        return TRUE;
    }
    /* ':' as well as ',' so that the list survives QEMU's option syntax
     * without ",," escaping ("ignore=ttl:ipid"). */
    items = g_strsplit_set(list, ",:", -1);
    for (char **it = items; *it; it++) {
        const char *s = g_strstrip(*it);
        bool found = false;

        if (!*s) {
            continue;
        }
        if (!strcmp(s, "all")) {
            mask |= COMPARE_FIELD_ALL;
            continue;
        }
        if (!strcmp(s, "checksum")) {
            s = "checksums";
        }
        for (size_t i = 0; i < G_N_ELEMENTS(field_names); i++) {
            if (!strcmp(s, field_names[i].name)) {
                mask |= field_names[i].bit;
                found = true;
            }
        }
        if (!found) {
            error_setg(errp, "Parameter 'ignore' does not accept value '%s' "
                       "(expected a list of ttl, tos, ipid, checksums, "
                       "window, tcp-ts, or all / none)", s);
            return FALSE;
        }
    }
    *ignored = mask;
    return TRUE;
}

char *compare_format_ignore(uint32_t ignored)
{
    GString *s = g_string_new(NULL);

    if ((ignored & COMPARE_FIELD_ALL) == COMPARE_FIELD_ALL) {
        g_string_append(s, "all");
        return g_string_free(s, FALSE);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(field_names); i++) {
        if (ignored & field_names[i].bit) {
            if (s->len) {
                g_string_append_c(s, ':');
            }
            g_string_append(s, field_names[i].name);
        }
    }
    if (!s->len) {
        g_string_append(s, "none");
    }
    return g_string_free(s, FALSE);
}

void compare_config_init(CompareConfig *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->max_queue_size = COMPARE_DEFAULT_MAX_QUEUE_SIZE;
    cfg->max_connections = COMPARE_DEFAULT_MAX_CONNECTIONS;
    cfg->max_held = COMPARE_DEFAULT_MAX_HELD;
    cfg->max_big_bytes = COMPARE_DEFAULT_MAX_BIG_BYTES;
    cfg->compare_timeout_us = COMPARE_DEFAULT_TIMEOUT_MS * (int64_t) 1000;
    cfg->tcp_idle_us = COMPARE_DEFAULT_TCP_IDLE_MS * (int64_t) 1000;
    cfg->tcp_closed_idle_us = COMPARE_DEFAULT_TCP_CLOSED_IDLE_MS
                              * (int64_t) 1000;
    cfg->udp_idle_us = COMPARE_DEFAULT_UDP_IDLE_MS * (int64_t) 1000;
    cfg->other_idle_us = COMPARE_DEFAULT_OTHER_IDLE_MS * (int64_t) 1000;
    cfg->ignored_fields = COMPARE_FIELD_ALL;
}

static void config_sanitise(CompareConfig *cfg)
{
    cfg->max_queue_size = MAX(cfg->max_queue_size, 1u);
    cfg->max_connections = MAX(cfg->max_connections, 1u);
    cfg->max_held = MAX(cfg->max_held, 1u);
    cfg->max_big_bytes = MAX(cfg->max_big_bytes, (uint64_t) 1);
    cfg->compare_timeout_us = MAX(cfg->compare_timeout_us, (int64_t) 1);
    cfg->tcp_idle_us = MAX(cfg->tcp_idle_us, (int64_t) 1);
    cfg->tcp_closed_idle_us = MAX(cfg->tcp_closed_idle_us, (int64_t) 1);
    cfg->udp_idle_us = MAX(cfg->udp_idle_us, (int64_t) 1);
    cfg->other_idle_us = MAX(cfg->other_idle_us, (int64_t) 1);
}

/* ------------------------------------------------------------------------ */
/* Buffers.                                                                   */

static CmpPkt *pkt_alloc(CompareEngine *e, uint32_t len)
{
    CmpPkt *p;

    unsigned c = 0;

    if (len > CMP_SLAB_DATA) {
        p = g_malloc(sizeof(CmpPkt) + len);
        p->big = CMP_BIG;
        p->len = len;
        e->st.big_allocs++;
        e->st.big_bytes += len;
        return p;
    }
    while (len > cmp_class_size[c] - sizeof(CmpPkt)) {
        c++;                    /* ends at the last: len <= CMP_SLAB_DATA */
    }
    p = e->pool[c];
    if (p) {
        e->pool[c] = p->next;
        e->pool_n[c]--;
    } else {
        p = g_malloc(cmp_class_size[c]);
        e->st.pool_allocs++;
    }
    p->big = (uint8_t) c;
    return p;
}

static void pkt_free(CompareEngine *e, CmpPkt *p)
{
    unsigned c = p->big;

    if (c == CMP_BIG) {
        e->st.big_bytes -= p->len;
        g_free(p);
        return;
    }
    if (e->pool_n[c] >= CMP_POOL_MAX_FREE) {
        g_free(p);
        return;
    }
    p->next = e->pool[c];
    e->pool[c] = p;
    e->pool_n[c]++;
}

static void q_push_tail(CmpQueue *q, CmpPkt *p)
{
    p->next = NULL;
    if (q->tail) {
        q->tail->next = p;
    } else {
        q->head = p;
    }
    q->tail = p;
    q->n++;
}

static CmpPkt *q_pop_head(CmpQueue *q)
{
    CmpPkt *p = q->head;

    if (p) {
        q->head = p->next;
        if (!q->head) {
            q->tail = NULL;
        } else {
            /* The new head is looked at next (is it releasable? is it
             * used up?) and compared when the other side's copy comes.
             * It was queued long ago -- a whole read of its link ago
             * while the other side lags -- and is out of the cache:
             * fetch its header and the first bytes of its frame now,
             * while the one popped is released (perf: that first load
             * was a tenth of the compare's samples at 64 B). */
            __builtin_prefetch(q->head);
            __builtin_prefetch((const uint8_t *) q->head + 64);
            __builtin_prefetch((const uint8_t *) q->head + 128);
        }
        q->n--;
        p->next = NULL;
    }
    return p;
}

/* Inserts 'p' keeping the queue sorted by stream offset 'a' (stable:
 * after equal offsets).  Appending is the common case. */
static void q_insert_sorted(CmpQueue *q, CmpPkt *p)
{
    CmpPkt **pp;

    if (!q->tail || seq_geq(p->a, q->tail->a)) {
        q_push_tail(q, p);
        return;
    }
    for (pp = &q->head; *pp && seq_leq((*pp)->a, p->a); pp = &(*pp)->next) {
        /* find the first entry after p */
    }
    p->next = *pp;
    *pp = p;
    q->n++;
}

/* ------------------------------------------------------------------------ */
/* Bookkeeping.                                                               */

static void busy_update(CompareEngine *e, CompareConn *c)
{
    bool busy = c->q[0].n || c->q[1].n;

    if (busy == !!(c->flags & CF_BUSY)) {
        return;
    }
    if (busy) {
        c->busy_prev = NULL;
        c->busy_next = e->busy;
        if (e->busy) {
            e->busy->busy_prev = c;
        }
        e->busy = c;
        c->flags |= CF_BUSY;
    } else {
        if (c->busy_prev) {
            c->busy_prev->busy_next = c->busy_next;
        } else {
            e->busy = c->busy_next;
        }
        if (c->busy_next) {
            c->busy_next->busy_prev = c->busy_prev;
        }
        c->busy_prev = c->busy_next = NULL;
        c->flags &= ~CF_BUSY;
    }
}

static void held_inc(CompareEngine *e, CompareSide side, CmpQueue *q)
{
    e->st.held[side]++;
    if (e->st.held[side] > e->st.held_max[side]) {
        e->st.held_max[side] = e->st.held[side];
    }
    if (q->n > e->st.queue_max_seen[side]) {
        e->st.queue_max_seen[side] = q->n;
    }
}

static void release_buf(CompareEngine *e, const uint8_t *buf, uint32_t len,
                        uint32_t vnet_hdr_len)
{
    e->st.released++;
    e->st.released_bytes += len;
    e->ops->release(e->opaque, buf, len, vnet_hdr_len);
}

/* Pops the head of the primary queue of 'c' and releases it. */
static void release_head(CompareEngine *e, CompareConn *c, bool matched,
                         CompareUncompared why)
{
    CmpPkt *p = q_pop_head(&c->q[COMPARE_PRIMARY]);

    e->st.held[COMPARE_PRIMARY]--;
    if (matched) {
        e->st.matched++;
    } else {
        e->st.uncompared[why]++;
    }
    release_buf(e, p->data, p->len, p->vnet_hdr_len);
    if (e->ops->held_released) {
        e->ops->held_released(e->opaque, p->arrival_us);
    }
    pkt_free(e, p);
}

static void drop_sec_head(CompareEngine *e, CompareConn *c, int why)
{
    CmpPkt *p = q_pop_head(&c->q[COMPARE_SECONDARY]);

    e->st.held[COMPARE_SECONDARY]--;
    if (why < 0) {
        e->st.sec_consumed++;
    } else {
        e->st.sec_dropped[why]++;
    }
    pkt_free(e, p);
}

static void request_ckpt(CompareEngine *e, CompareCkptReason reason,
                         const char *detail)
{
    if (e->episode) {
        e->st.checkpoints_suppressed++;
        return;
    }
    e->episode = true;
    e->st.checkpoints[reason]++;
    e->ops->checkpoint(e->opaque, reason, detail);
}

/* Formats "tcp 10.0.0.1:80 -> 10.0.0.2:5555" for the frame 'buf' into
 * e->desc and returns it. */
static const char *describe(CompareEngine *e, const uint8_t *buf,
                            uint32_t len, uint32_t vnet_hdr_len)
{
    PacketInfo pi;
    char src[PACKET_ADDR_STRLEN], dst[PACKET_ADDR_STRLEN];
    const char *proto;
    char protobuf[16];
    bool v6;

    if (packet_parse(buf, len, vnet_hdr_len, &pi) != PACKET_OK
        || !pi.ip_version) {
        snprintf(e->desc, sizeof e->desc, "non-ip");
        return e->desc;
    }
    v6 = pi.ip_version == 6;
    packet_addr_format(&pi.src, pi.ip_version, src);
    packet_addr_format(&pi.dst, pi.ip_version, dst);
    switch (pi.ip_proto) {
    case IP_PROTO_TCP:
        proto = "tcp";
        break;
    case IP_PROTO_UDP:
        proto = "udp";
        break;
    case IP_PROTO_ICMP:
        proto = "icmp";
        break;
    case IP_PROTO_ICMPV6:
        proto = "icmpv6";
        break;
    default:
        snprintf(protobuf, sizeof protobuf, "ip-proto-%u", pi.ip_proto);
        proto = protobuf;
        break;
    }
    if (pi.flags & PACKET_F_PORTS) {
        snprintf(e->desc, sizeof e->desc, "%s %s%s%s:%u -> %s%s%s:%u", proto,
                 v6 ? "[" : "", src, v6 ? "]" : "", pi.src_port,
                 v6 ? "[" : "", dst, v6 ? "]" : "", pi.dst_port);
    } else {
        snprintf(e->desc, sizeof e->desc, "%s %s -> %s", proto, src, dst);
    }
    if (pi.n_vlans) {
        size_t l = strlen(e->desc);

        snprintf(e->desc + l, sizeof e->desc - l, " vlan %u",
                 packet_vlan_id(&pi, pi.n_vlans - 1));
    }
    return e->desc;
}

static void mismatch_frame(CompareEngine *e, CompareConn *c,
                           CompareMismatch why, const uint8_t *buf,
                           uint32_t len, uint32_t vnet_hdr_len)
{
    const char *d = describe(e, buf, len, vnet_hdr_len);

    c->flags |= CF_MISMATCH;
    e->st.mismatches[why]++;
    /* Nothing can match on this connection before the checkpoint. */
    while (c->q[COMPARE_SECONDARY].head) {
        drop_sec_head(e, c, COMPARE_SDROP_MISMATCH);
    }
    if (e->ops->miscompare) {
        e->ops->miscompare(e->opaque, d, why);
    }
    request_ckpt(e, COMPARE_CKPT_MISCOMPARE, d);
}

static void mismatch(CompareEngine *e, CompareConn *c, CompareMismatch why,
                     const CmpPkt *p)
{
    mismatch_frame(e, c, why, p->data, p->len, p->vnet_hdr_len);
}

/* ------------------------------------------------------------------------ */
/* Connection table callbacks.                                                */

static bool conn_may_remove(ConnEntry *ce, ConnRemoveReason why, void *opaque)
{
    CompareConn *c = (CompareConn *) ce;

    (void) why;
    (void) opaque;
    return !c->q[0].n && !c->q[1].n;
}

static void conn_destroy(ConnEntry *ce, void *opaque)
{
    CompareEngine *e = opaque;
    CompareConn *c = (CompareConn *) ce;

    for (int side = 0; side < 2; side++) {
        CmpPkt *p;

        while ((p = q_pop_head(&c->q[side]))) {
            e->st.held[side]--;
            pkt_free(e, p);
        }
    }
    busy_update(e, c);
}

static const ConnTableOps conn_ops = {
    .may_remove = conn_may_remove,
    .destroy = conn_destroy,
};

/* Re-anchors both streams of a TCP connection after a checkpoint: the
 * primary continues from where it was, the secondary (now a copy of the
 * primary) from its next segment. */
static void conn_reanchor(CompareEngine *e, CompareConn *c)
{
    c->epoch = e->epoch;
    c->flags &= ~CF_MISMATCH;
    if (c->kind != CONN_KIND_TCP) {
        return;
    }
    if (c->side[0] & SF_NEXT) {
        c->isn[0] = c->next[0];
        c->side[0] |= SF_ANCHORED;
    } else {
        c->side[0] &= ~SF_ANCHORED;
    }
    c->side[1] &= ~(SF_ANCHORED | SF_NEXT);
    /* What the primary had sent (its FIN, a RST) the copy has sent too,
     * and it never sends it again: without this a connection the
     * primary ended just before the checkpoint never ended here, and a
     * client reusing its port had its new connection compared against
     * the old one's anchors (held until the next checkpoint). */
    c->side[1] = (uint8_t)((c->side[1] & ~(SF_FIN | SF_RST)) |
                           (c->side[0] & (SF_FIN | SF_RST)));
    c->side[0] |= SF_PINNED;
    c->side[1] |= SF_PINNED;
    c->verified = 0;
}

/* ------------------------------------------------------------------------ */
/* Life cycle.                                                                */

CompareEngine *compare_new(const CompareConfig *cfg, const CompareOps *ops,
                           void *opaque)
{
    CompareEngine *e = g_new0(CompareEngine, 1);

    e->cfg = *cfg;
    config_sanitise(&e->cfg);
    e->ops = ops;
    e->opaque = opaque;
    e->table = conn_table_new(e->cfg.max_connections, sizeof(CompareConn),
                              g_random_int(), &conn_ops, e);
    e->st.connections_max = e->cfg.max_connections;
    return e;
}

void compare_free(CompareEngine *e)
{
    CmpPkt *p;

    if (!e) {
        return;
    }
    conn_table_free(e->table);
    for (unsigned c = 0; c < CMP_CLASSES; c++) {
        while ((p = e->pool[c])) {
            e->pool[c] = p->next;
            g_free(p);
        }
    }
    g_free(e);
}

void compare_set_config(CompareEngine *e, const CompareConfig *cfg)
{
    uint32_t max_conns = e->cfg.max_connections;

    e->cfg = *cfg;
    e->cfg.max_connections = max_conns;
    config_sanitise(&e->cfg);
}

size_t compare_conn_mem_per_entry(void)
{
    /* the entry itself, at most two bucket pointers per entry (the bucket
     * array is at most twice the entry count), and malloc's header */
    return sizeof(CompareConn) + 2 * sizeof(void *) + 16;
}

/* ------------------------------------------------------------------------ */
/* Copying a frame in.                                                        */

/* Fills the header of 'p' (everything but data[], 'order' and 'big') from
 * the parse of a frame of 'len' bytes. */
static void pkt_meta(CmpPkt *p, uint32_t len, uint32_t vnet_hdr_len,
                     const PacketInfo *pi, int64_t now)
{
    p->next = NULL;
    p->arrival_us = now;
    p->len = len;
    p->vnet_hdr_len = vnet_hdr_len;
    p->a = p->b = 0;
    p->tcp_flags = pi->tcp_flags;
    p->window = pi->tcp_window;
    p->ts_ofs = pi->tcp_ts_ofs;
    p->ack = pi->tcp_ack;
    p->payload_ofs = pi->payload_ofs == PACKET_OFS_NONE ? 0 : pi->payload_ofs;
    p->payload_len = pi->payload_ofs == PACKET_OFS_NONE ? 0 : pi->payload_len;
    if (pi->l4_ofs != PACKET_OFS_NONE && !(pi->flags & PACKET_F_LATER_FRAG)) {
        uint32_t end = pi->ip_end_ofs;

        if (pi->ip_proto == IP_PROTO_UDP) {
            end = (uint32_t) pi->l4_ofs + pi->l4_len;
        }
        p->body_ofs = pi->l4_ofs;
        p->body_len = (uint16_t) MIN(end - pi->l4_ofs, 0xffffu);
        p->hdr_len = pi->payload_ofs != PACKET_OFS_NONE
                     ? pi->payload_ofs - pi->l4_ofs : p->body_len;
        p->csum_rel = pi->l4_csum_ofs != PACKET_OFS_NONE
                      ? pi->l4_csum_ofs - pi->l4_ofs : PACKET_OFS_NONE;
    } else {
        /* later fragment or an upper layer we do not parse: the IP
         * payload */
        uint32_t start = (uint32_t) pi->l3_ofs + pi->ip_hdr_len;

        p->body_ofs = (uint16_t) start;
        p->body_len = (uint16_t) MIN(pi->ip_end_ofs - start, 0xffffu);
        p->hdr_len = 0;
        p->csum_rel = PACKET_OFS_NONE;
    }
    p->ipid = pi->ip_version == 4 ? (uint16_t) pi->frag_id : 0;
    p->ttl = pi->ip_ttl;
    p->tos = pi->ip_tos;
    p->ip_version = pi->ip_version;
}

static CmpPkt *pkt_new(CompareEngine *e, const uint8_t *buf, uint32_t len,
                       uint32_t vnet_hdr_len, const PacketInfo *pi,
                       int64_t now)
{
    CmpPkt *p = pkt_alloc(e, len);

    memcpy(p->data, buf, len);
    pkt_meta(p, len, vnet_hdr_len, pi, now);
    p->order = e->order++;
    return p;
}

/* A held copy of the frame 'buf' whose header 'm' is filled already
 * (pkt_meta(), stream offsets included). */
static CmpPkt *pkt_from_meta(CompareEngine *e, const CmpPkt *m,
                             const uint8_t *buf)
{
    CmpPkt *p = pkt_alloc(e, m->len);
    uint8_t big = p->big;

    memcpy(p, m, sizeof *m);
    memcpy(p->data, buf, m->len);
    p->big = big;
    p->order = e->order++;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Bounds.                                                                    */

/* True if 'side' of 'c' may not hold one more frame: its queue is at
 * max_queue_size, the engine holds max_held frames of that side, or frames
 * too big for a pool buffer already take max_big_bytes (pooled frames are
 * bounded by max_held x CMP_SLAB_SIZE; these are not). */
static bool side_full(const CompareEngine *e, const CompareConn *c,
                      CompareSide side)
{
    return c->q[side].n >= e->cfg.max_queue_size
           || e->st.held[side] >= e->cfg.max_held
           || e->st.big_bytes >= e->cfg.max_big_bytes;
}

/* ------------------------------------------------------------------------ */
/* Datagrams: first in, first out.                                            */

/* Returns -1 if equal, else the CompareMismatch. */
static int dgram_cmp(const CompareEngine *e, const CmpPkt *p, const CmpPkt *s)
{
    uint32_t cmpf = ~e->cfg.ignored_fields;
    const uint8_t *pb = p->data + p->body_ofs;
    const uint8_t *sb = s->data + s->body_ofs;
    uint32_t hl = p->hdr_len;

    if (p->ip_version != s->ip_version || p->hdr_len != s->hdr_len
        || p->csum_rel != s->csum_rel) {
        return COMPARE_MISMATCH_PROTOCOL;
    }
    if (p->body_len != s->body_len) {
        return COMPARE_MISMATCH_LENGTH;
    }
    if (((cmpf & COMPARE_FIELD_TTL) && p->ttl != s->ttl)
        || ((cmpf & COMPARE_FIELD_TOS) && p->tos != s->tos)
        || ((cmpf & COMPARE_FIELD_IPID) && p->ipid != s->ipid)) {
        return COMPARE_MISMATCH_HEADER;
    }
    if (p->csum_rel != PACKET_OFS_NONE && p->csum_rel + 2u <= hl) {
        uint32_t c = p->csum_rel;

        if (memcmp(pb, sb, c) || memcmp(pb + c + 2, sb + c + 2, hl - c - 2)
            || ((cmpf & COMPARE_FIELD_CHECKSUM)
                && memcmp(pb + c, sb + c, 2))) {
            return COMPARE_MISMATCH_HEADER;
        }
    } else if (memcmp(pb, sb, hl)) {
        return COMPARE_MISMATCH_HEADER;
    }
    if (memcmp(pb + hl, sb + hl, p->body_len - hl)) {
        return COMPARE_MISMATCH_PAYLOAD;
    }
    return -1;
}

static void dgram_run(CompareEngine *e, CompareConn *c)
{
    while (!(c->flags & CF_MISMATCH) && c->q[0].head && c->q[1].head) {
        int r = dgram_cmp(e, c->q[0].head, c->q[1].head);

        if (r >= 0) {
            mismatch(e, c, r, c->q[0].head);
            return;
        }
        drop_sec_head(e, c, -1);
        release_head(e, c, true, 0);
    }
}

static void dgram_input(CompareEngine *e, CompareConn *c, CompareSide side,
                        const uint8_t *buf, uint32_t len, uint32_t vnet,
                        const PacketInfo *pi, int64_t now)
{
    CmpQueue *q = &c->q[side];

    if (side == COMPARE_SECONDARY) {
        if (c->flags & CF_MISMATCH) {
            e->st.sec_dropped[COMPARE_SDROP_MISMATCH]++;
            return;
        }
        if (side_full(e, c, side)) {
            e->st.sec_dropped[COMPARE_SDROP_QUEUE_FULL]++;
            request_ckpt(e, COMPARE_CKPT_QUEUE_FULL,
                         describe(e, buf, len, vnet));
            return;
        }
    } else if (side_full(e, c, side)) {
        /* Keep the bound without losing output: the oldest leaves
         * uncompared (or, if this connection holds nothing, the new frame
         * itself), and a checkpoint brings the sides back in step. */
        request_ckpt(e, COMPARE_CKPT_QUEUE_FULL, describe(e, buf, len, vnet));
        if (!q->n) {
            e->st.uncompared[COMPARE_UNCMP_QUEUE_FULL]++;
            release_buf(e, buf, len, vnet);
            return;
        }
        release_head(e, c, false, COMPARE_UNCMP_QUEUE_FULL);
    }
    q_push_tail(q, pkt_new(e, buf, len, vnet, pi, now));
    held_inc(e, side, q);
    dgram_run(e, c);
}

/* ------------------------------------------------------------------------ */
/* TCP: byte streams.                                                         */

static inline uint32_t seg_syn(const CmpPkt *p)
{
    return !!(p->tcp_flags & PACKET_TCP_SYN);
}

static inline uint32_t seg_fin(const CmpPkt *p)
{
    return !!(p->tcp_flags & PACKET_TCP_FIN);
}

/* Compares the stream bytes [v, v + n) of primary segment 'p' and
 * secondary segment 's' (both cover that range).  SYN and FIN are virtual
 * bytes at their segment's first and last offset.  Returns -1 if equal. */
static int tcp_cmp_range(const CmpPkt *p, const uint8_t *pdata,
                         const CmpPkt *s, const uint8_t *sdata, uint32_t v,
                         uint32_t n)
{
    uint32_t end = v + n;
    bool p_syn = seg_syn(p) && p->a == v;
    bool s_syn = seg_syn(s) && s->a == v;
    bool p_fin = seg_fin(p) && p->b == end;
    bool s_fin = seg_fin(s) && s->b == end;
    uint32_t ds, de;

    if (p_syn != s_syn || p_fin != s_fin) {
        return COMPARE_MISMATCH_FLAGS;
    }
    ds = v + p_syn;
    de = end - p_fin;
    if (seq_lt(ds, de)) {
        const uint8_t *pd = pdata + p->payload_ofs + (ds - p->a - seg_syn(p));
        const uint8_t *sd = sdata + s->payload_ofs + (ds - s->a - seg_syn(s));

        if (memcmp(pd, sd, de - ds)) {
            return COMPARE_MISMATCH_PAYLOAD;
        }
    }
    return -1;
}

/* Per-segment header fields, for segments covering the same bytes. */
static int tcp_cmp_header(const CompareEngine *e, const CmpPkt *p,
                          const uint8_t *pdata, const CmpPkt *s,
                          const uint8_t *sdata)
{
    uint32_t cmpf = ~e->cfg.ignored_fields;

    if (((cmpf & COMPARE_FIELD_TTL) && p->ttl != s->ttl)
        || ((cmpf & COMPARE_FIELD_TOS) && p->tos != s->tos)
        || ((cmpf & COMPARE_FIELD_IPID) && p->ipid != s->ipid)
        || ((cmpf & COMPARE_FIELD_WINDOW) && p->window != s->window)) {
        return COMPARE_MISMATCH_HEADER;
    }
    if (cmpf & COMPARE_FIELD_TCP_TS) {
        if ((p->ts_ofs == PACKET_OFS_NONE) != (s->ts_ofs == PACKET_OFS_NONE)
            || (p->ts_ofs != PACKET_OFS_NONE
                && memcmp(pdata + p->ts_ofs, sdata + s->ts_ofs, 8))) {
            return COMPARE_MISMATCH_HEADER;
        }
    }
    return -1;
}

/* One step of verification at 'v', which primary 'p' and secondary 's'
 * both cover: compares up to the first end of the two, sets '*n' to the
 * bytes compared and returns -1, or the CompareMismatch. */
static int tcp_cmp_step(const CompareEngine *e, const CmpPkt *p,
                        const uint8_t *pdata, const CmpPkt *s,
                        const uint8_t *sdata, uint32_t v, uint32_t *n)
{
    int r;

    *n = seq_min(p->b, s->b) - v;
    r = tcp_cmp_range(p, pdata, s, sdata, v, *n);
    if (r < 0 && p->a == s->a && p->b == s->b
        && (~e->cfg.ignored_fields & COMPARE_FIELD_ALL)) {
        r = tcp_cmp_header(e, p, pdata, s, sdata);
    }
    return r;
}

/* Moves 'verified' forward while both sides have bytes there. */
static void tcp_advance(CompareEngine *e, CompareConn *c)
{
    CmpQueue *sq = &c->q[COMPARE_SECONDARY];

    while (!(c->flags & CF_MISMATCH)) {
        uint32_t v = c->verified;
        CmpPkt *s, *p;
        uint32_t n;
        int r;

        while ((s = sq->head) && seq_leq(s->b, v)) {
            drop_sec_head(e, c, -1);
        }
        if (!s || seq_gt(s->a, v)) {
            return;             /* the secondary has a hole at v */
        }
        for (p = c->q[COMPARE_PRIMARY].head; p; p = p->next) {
            if (seq_leq(p->a, v) && seq_lt(v, p->b)) {
                break;
            }
        }
        if (!p) {
            return;             /* the primary has not sent v yet */
        }
        r = tcp_cmp_step(e, p, p->data, s, s->data, v, &n);
        if (r >= 0) {
            mismatch(e, c, r, p);
            return;
        }
        c->verified = v + n;
    }
}

/*
 * A frame of 'side' that is not held (its header in 'm', its bytes still
 * in the caller's buffer 'buf'), with nothing of its side held before it:
 * verifies its bytes against the other side's held segments from
 * 'verified' on, exactly as tcp_advance() would once it were queued.
 * Returns true when all of its bytes are verified (a pure ACK has none):
 * it need not be held at all.  Else (the other side has not sent all of
 * them yet, or they differ: the connection is then marked) the caller
 * holds it as usual; what was verified stays verified.
 *
 * Why: in step, one side's copy of a segment finds the other's already
 * held, and used to be copied into a pool buffer only to be compared and
 * freed at once.  Compared where the read put it, the copy, the pool
 * round trip and the queue insertion are saved, and the bytes are read
 * while the read has just brought them into the cache.
 */
static bool tcp_verify_borrowed(CompareEngine *e, CompareConn *c,
                                CompareSide side, const CmpPkt *m,
                                const uint8_t *buf)
{
    CmpQueue *oq = &c->q[!side];

    if (m->a == m->b) {
        return true;
    }
    while (!(c->flags & CF_MISMATCH)) {
        uint32_t v = c->verified, n;
        CmpPkt *o;
        int r;

        if (seq_leq(m->b, v)) {
            return true;
        }
        if (seq_gt(m->a, v)) {
            return false;           /* this segment has a hole before it */
        }
        if (side == COMPARE_SECONDARY) {
            for (o = oq->head; o; o = o->next) {
                if (seq_leq(o->a, v) && seq_lt(v, o->b)) {
                    break;
                }
            }
        } else {
            while ((o = oq->head) && seq_leq(o->b, v)) {
                drop_sec_head(e, c, -1);
            }
            if (o && seq_gt(o->a, v)) {
                o = NULL;
            }
        }
        if (!o) {
            return false;           /* the other side has not sent v */
        }
        if (side == COMPARE_SECONDARY) {
            r = tcp_cmp_step(e, o, o->data, m, buf, v, &n);
            if (r >= 0) {
                mismatch(e, c, r, o);
                return false;
            }
        } else {
            r = tcp_cmp_step(e, m, buf, o, o->data, v, &n);
            if (r >= 0) {
                mismatch_frame(e, c, r, buf, m->len, m->vnet_hdr_len);
                return false;
            }
        }
        c->verified = v + n;
    }
    return false;
}

static bool tcp_releasable(const CompareConn *c, const CmpPkt *p)
{
    if (p->a != p->b && !seq_leq(p->b, c->verified)) {
        return false;
    }
    if ((p->tcp_flags & PACKET_TCP_RST)
        && !(c->side[COMPARE_SECONDARY] & SF_RST)) {
        return false;
    }
    if (p->tcp_flags & PACKET_TCP_ACK) {
        if (!(c->side[COMPARE_SECONDARY] & SF_ACK)
            || seq_lt(c->sec_max_ack, p->ack)) {
            return false;
        }
    }
    return true;
}

static void tcp_release(CompareEngine *e, CompareConn *c)
{
    CmpPkt *p;

    while (!(c->flags & CF_MISMATCH) && (p = c->q[COMPARE_PRIMARY].head)
           && tcp_releasable(c, p)) {
        release_head(e, c, true, 0);
    }
}

/* Both directions of the connection's stream ended: a FIN from each side,
 * or a RST from either. */
static bool tcp_ended(const CompareConn *c)
{
    uint8_t both = c->side[0] | c->side[1];

    return (both & SF_RST)
           || ((c->side[0] & SF_FIN) && (c->side[1] & SF_FIN));
}

static void tcp_input(CompareEngine *e, CompareConn *c, CompareSide side,
                      const uint8_t *buf, uint32_t len, uint32_t vnet,
                      const PacketInfo *pi, int64_t now)
{
    uint8_t *sf = &c->side[side];
    uint32_t seq_end = packet_tcp_seq_end(pi);
    uint32_t seg_len = seq_end - pi->tcp_seq;
    uint32_t a, b;
    CmpQueue *q = &c->q[side];
    CmpPkt *p;
    CmpPkt m;                   /* the header of a frame not (yet) held */
    bool gap;

    if ((pi->tcp_flags & PACKET_TCP_SYN) && tcp_ended(c)
        && !c->q[COMPARE_PRIMARY].head && !c->q[COMPARE_SECONDARY].head) {
        /* A SYN on a 4-tuple whose connection has ended (it lingers for
         * tcp_closed_timeout): the client reused its port, and this is a
         * new connection with new ISNs on both sides.  It starts from
         * nothing; compared against the old one's anchors it waited for
         * bytes at offsets that never come (compare_timeout stalls). */
        c->side[COMPARE_PRIMARY] = c->side[COMPARE_SECONDARY] = 0;
        c->flags &= ~CF_MISMATCH;
        c->verified = 0;
        c->sec_max_ack = 0;
        e->st.tcp_reused++;
    }
    if (!(*sf & SF_ANCHORED)) {
        c->isn[side] = pi->tcp_seq;
        *sf |= SF_ANCHORED;
    } else if ((*sf & (SF_SYN | SF_PINNED)) == SF_SYN
               && (!(pi->tcp_flags & PACKET_TCP_SYN)
                   || pi->tcp_seq != c->isn[side])) {
        /*
         * The first segment after this side's SYN pins its stream.  On the
         * secondary, the guest's SYN-ACK passes filter-rewriter in the
         * guest's own sequence space (the rewriter learns its offset from
         * the client's ACK, which comes later) and everything after it in
         * the primary's.  So when the secondary's first segment after its
         * SYN lies nearer the primary's SYN + 1 than its own, its stream is
         * the primary's: take the primary's anchor (the SYN keeps offset
         * 0).  A first-flight segment that merely overtook another stays
         * near its own SYN + 1 and changes nothing.  A retransmitted SYN
         * counts too once it is no longer in this side's own space (the
         * rewriter, having learned the offset, translated it): the stream
         * position compared is the one after its SYN.
         */
        uint32_t first = pi->tcp_seq + !!(pi->tcp_flags & PACKET_TCP_SYN);

        *sf |= SF_PINNED;
        if (side == COMPARE_SECONDARY
            && (c->side[COMPARE_PRIMARY] & (SF_ANCHORED | SF_SYN))
               == (SF_ANCHORED | SF_SYN)
            && c->isn[COMPARE_SECONDARY] != c->isn[COMPARE_PRIMARY]) {
            int32_t d_own = seq_diff(first, c->isn[side] + 1);
            int32_t d_pri = seq_diff(first, c->isn[COMPARE_PRIMARY] + 1);

            /* magnitudes without abs(INT32_MIN) */
            uint32_t m_own = d_own < 0 ? -(uint32_t) d_own : (uint32_t) d_own;
            uint32_t m_pri = d_pri < 0 ? -(uint32_t) d_pri : (uint32_t) d_pri;

            if (m_pri < m_own) {
                c->isn[side] = c->isn[COMPARE_PRIMARY];
                c->next[side] = pi->tcp_seq;
                e->st.reanchored++;
            }
        }
    }
    /*
     * The secondary's frames reach us over one reliable, ordered link from
     * its guest, whose TCP sends its stream in order (retransmissions lie
     * behind).  A segment that starts past the highest byte seen so far
     * means the bytes in between were never sent, or were lost on the way
     * (a full queue in the secondary's redirector, counted there): they
     * will never come, so the primary's bytes there can never be verified.
     * That is a divergence, found now, not at compare_timeout.
     */
    gap = side == COMPARE_SECONDARY && seg_len && (*sf & SF_NEXT)
          && seq_gt(pi->tcp_seq, c->next[side]);
    a = pi->tcp_seq - c->isn[side];
    b = a + seg_len;
    pkt_meta(&m, len, vnet, pi, now);
    m.a = a;
    m.b = b;
    if (!(*sf & SF_NEXT) || seq_gt(seq_end, c->next[side])) {
        c->next[side] = seq_end;
        *sf |= SF_NEXT;
    }
    if (pi->tcp_flags & PACKET_TCP_SYN) {
        *sf |= SF_SYN;
    }
    if (pi->tcp_flags & PACKET_TCP_FIN) {
        *sf |= SF_FIN;
    }
    if (pi->tcp_flags & PACKET_TCP_RST) {
        *sf |= SF_RST;
    }

    if (side == COMPARE_SECONDARY) {
        if (pi->tcp_flags & PACKET_TCP_ACK) {
            if (!(*sf & SF_ACK) || seq_gt(pi->tcp_ack, c->sec_max_ack)) {
                c->sec_max_ack = pi->tcp_ack;
            }
            *sf |= SF_ACK;
        }
        if (c->flags & CF_MISMATCH) {
            e->st.sec_dropped[COMPARE_SDROP_MISMATCH]++;
            return;
        }
        if (seg_len == 0) {
            /* a pure ACK (or RST): all it carries is recorded above */
            e->st.sec_consumed++;
            tcp_release(e, c);
            return;
        }
        if (G_UNLIKELY(gap) && e->in_checkpoint) {
            /* the secondary already speaks from the checkpoint's state */
            e->st.gaps_in_checkpoint++;
        } else if (G_UNLIKELY(gap)) {
            mismatch_frame(e, c, COMPARE_MISMATCH_GAP, buf, len, vnet);
            e->st.sec_dropped[COMPARE_SDROP_MISMATCH]++;
            return;
        }
        if (seq_leq(b, c->verified)) {
            e->st.sec_dropped[COMPARE_SDROP_STALE]++;
            tcp_release(e, c);
            return;
        }
        if (!q->head) {
            if (tcp_verify_borrowed(e, c, side, &m, buf)) {
                e->st.sec_consumed++;
                tcp_release(e, c);
                return;
            }
            if (c->flags & CF_MISMATCH) {
                e->st.sec_dropped[COMPARE_SDROP_MISMATCH]++;
                return;
            }
        }
        if (side_full(e, c, side)) {
            e->st.sec_dropped[COMPARE_SDROP_QUEUE_FULL]++;
            request_ckpt(e, COMPARE_CKPT_QUEUE_FULL,
                         describe(e, buf, len, vnet));
            tcp_release(e, c);
            return;
        }
        p = pkt_from_meta(e, &m, buf);
        q_insert_sorted(q, p);
        held_inc(e, side, q);
        if (seq_diff(a, c->verified) > (int32_t) CMP_OFFSET_WINDOW) {
            mismatch(e, c, COMPARE_MISMATCH_OFFSET, p);
            return;
        }
    } else {
        uint32_t v0 = c->verified;
        bool head_left = false;

        if (!q->head && !(c->flags & CF_MISMATCH)) {
            if (tcp_verify_borrowed(e, c, side, &m, buf)
                && tcp_releasable(c, &m)) {
                /* verified and acknowledged, nothing of this connection
                 * before it: it leaves from the caller's buffer (and
                 * tcp_advance() frees the secondary segments it used up) */
                e->st.matched++;
                release_buf(e, buf, len, vnet);
                tcp_advance(e, c);
                return;
            }
        }
        if (side_full(e, c, side)) {
            CmpPkt *h = q->head;
            uint32_t ha = h ? h->a : a, hb = h ? h->b : b;

            /* The oldest (or, with nothing held here, this segment)
             * leaves uncompared; its bytes will not be checked (the
             * checkpoint requested brings the sides back in step). */
            if (ha != hb && seq_leq(ha, c->verified)
                && seq_gt(hb, c->verified)) {
                c->verified = hb;
            }
            request_ckpt(e, COMPARE_CKPT_QUEUE_FULL,
                         describe(e, buf, len, vnet));
            if (!h) {
                e->st.uncompared[COMPARE_UNCMP_QUEUE_FULL]++;
                release_buf(e, buf, len, vnet);
                tcp_advance(e, c);
                return;
            }
            release_head(e, c, false, COMPARE_UNCMP_QUEUE_FULL);
            head_left = true;
        }
        p = pkt_from_meta(e, &m, buf);
        q_push_tail(q, p);
        held_inc(e, side, q);
        if (!(c->flags & CF_MISMATCH) && a != b
            && seq_diff(a, c->verified) > (int32_t) CMP_OFFSET_WINDOW) {
            mismatch(e, c, COMPARE_MISMATCH_OFFSET, p);
            return;
        }
        tcp_advance(e, c);
        /* A primary segment queued behind others changes nothing for the
         * head unless 'verified' moved or the head left (the secondary's
         * acks did not change): leave the head alone.  It is the
         * connection's oldest held frame, long out of the cache while the
         * secondary lags (perf: a tenth of the compare's samples at 64 B
         * were that one load). */
        if (p == q->head || c->verified != v0 || head_left) {
            tcp_release(e, c);
        }
        return;
    }
    tcp_advance(e, c);
    tcp_release(e, c);
}

/* ------------------------------------------------------------------------ */
/* Input.                                                                     */

static void pass_through(CompareEngine *e, CompareSide side,
                         const uint8_t *buf, uint32_t len, uint32_t vnet,
                         CompareUncompared uw, CompareSecDrop sw)
{
    if (side == COMPARE_PRIMARY) {
        e->st.uncompared[uw]++;
        release_buf(e, buf, len, vnet);
    } else {
        e->st.sec_dropped[sw]++;
    }
}

static CompareConn *conn_get(CompareEngine *e, const ConnKey *key,
                             bool is_tcp, int64_t now)
{
    CompareConn *c = (CompareConn *) conn_table_lookup(e->table, key);

    if (c) {
        conn_table_touch(e->table, &c->ce, now);
        if (c->epoch != e->epoch) {
            conn_reanchor(e, c);
        }
        return c;
    }
    c = (CompareConn *) conn_table_insert(e->table, key, now);
    if (!c && conn_table_evict_lru(e->table, 16)) {
        e->st.evictions++;
        c = (CompareConn *) conn_table_insert(e->table, key, now);
    }
    if (!c) {
        return NULL;
    }
    c->kind = is_tcp ? CONN_KIND_TCP : CONN_KIND_DGRAM;
    c->epoch = e->epoch;
    if (conn_table_count(e->table) > e->st.connections_peak) {
        e->st.connections_peak = conn_table_count(e->table);
    }
    return c;
}

void compare_input(CompareEngine *e, CompareSide side, const uint8_t *buf,
                   uint32_t len, uint32_t vnet_hdr_len, int64_t now_us)
{
    PacketInfo pi;
    PacketVerdict v;
    ConnKey key;
    CompareConn *c;
    bool is_tcp;

    side = side == COMPARE_PRIMARY ? COMPARE_PRIMARY : COMPARE_SECONDARY;
    e->st.packets[side]++;
    e->st.bytes[side] += len;
    if (e->failover) {
        pass_through(e, side, buf, len, vnet_hdr_len, COMPARE_UNCMP_FAILOVER,
                     COMPARE_SDROP_FAILOVER);
        return;
    }
    v = packet_parse(buf, len, vnet_hdr_len, &pi);
    if (v != PACKET_OK || !conn_key_from_packet(&key, &pi, NULL)) {
        if (v == PACKET_OK) {
            v = PACKET_NOT_IP;
        }
        e->st.unsupported[side][v]++;
        if (packet_verdict_is_unsupported(v)) {
            pass_through(e, side, buf, len, vnet_hdr_len,
                         COMPARE_UNCMP_NOT_IP, COMPARE_SDROP_NOT_IP);
        } else {
            pass_through(e, side, buf, len, vnet_hdr_len,
                         COMPARE_UNCMP_MALFORMED, COMPARE_SDROP_MALFORMED);
        }
        return;
    }
    if (e->ops->passthrough && e->ops->passthrough(e->opaque, side, &pi, len)) {
        pass_through(e, side, buf, len, vnet_hdr_len,
                     COMPARE_UNCMP_PASSTHROUGH, COMPARE_SDROP_PASSTHROUGH);
        return;
    }
    is_tcp = packet_is_tcp(&pi) && !(pi.flags & PACKET_F_FRAG);
    if (pi.flags & PACKET_F_FRAG) {
        /* All fragments between two hosts of one protocol share a FIFO
         * flow: later fragments carry no ports. */
        key.port[0] = key.port[1] = 0;
        conn_key_canonicalise(&key);
    }
    c = conn_get(e, &key, is_tcp, now_us);
    if (!c) {
        e->st.table_full++;
        if (side == COMPARE_PRIMARY) {
            request_ckpt(e, COMPARE_CKPT_TABLE_FULL,
                         describe(e, buf, len, vnet_hdr_len));
        }
        pass_through(e, side, buf, len, vnet_hdr_len,
                     COMPARE_UNCMP_TABLE_FULL, COMPARE_SDROP_TABLE_FULL);
        return;
    }
    if (c->kind == CONN_KIND_TCP) {
        if (!is_tcp) {
            /* a non-TCP packet on a TCP flow key (ports 0): cannot be
             * placed in the stream */
            pass_through(e, side, buf, len, vnet_hdr_len,
                         COMPARE_UNCMP_MALFORMED, COMPARE_SDROP_MALFORMED);
            return;
        }
        tcp_input(e, c, side, buf, len, vnet_hdr_len, &pi, now_us);
    } else {
        dgram_input(e, c, side, buf, len, vnet_hdr_len, &pi, now_us);
    }
    busy_update(e, c);
}

/* ------------------------------------------------------------------------ */
/* Time, checkpoints, failover.                                               */

static int64_t conn_idle_timeout(const CompareEngine *e, const CompareConn *c)
{
    if (c->kind == CONN_KIND_TCP) {
        bool closed = ((c->side[0] | c->side[1]) & SF_RST)
                      || ((c->side[0] & SF_FIN) && (c->side[1] & SF_FIN));

        return closed ? e->cfg.tcp_closed_idle_us : e->cfg.tcp_idle_us;
    }
    if (c->ce.key.proto == IP_PROTO_UDP || c->ce.key.proto == IP_PROTO_UDPLITE) {
        return e->cfg.udp_idle_us;
    }
    return e->cfg.other_idle_us;
}

static int64_t conn_oldest(const CompareConn *c)
{
    int64_t oldest = INT64_MAX;

    if (c->q[0].head) {
        oldest = c->q[0].head->arrival_us;
    }
    for (const CmpPkt *p = c->q[1].head; p; p = p->next) {
        oldest = MIN(oldest, p->arrival_us);
    }
    return oldest;
}

void compare_scan(CompareEngine *e, int64_t now_us, unsigned budget)
{
    int64_t min_idle;
    ConnEntry *ce;
    unsigned examined = 0;

    for (CompareConn *c = e->busy; c; c = c->busy_next) {
        int64_t oldest = conn_oldest(c);

        if (now_us - oldest >= e->cfg.compare_timeout_us) {
            const CmpPkt *p = c->q[0].head ? c->q[0].head : c->q[1].head;
            const char *d = describe(e, p->data, p->len, p->vnet_hdr_len);

            /* one request per scan, even inside an episode: the frame
             * coalesces, and a lost request is retried this way */
            e->st.checkpoints[COMPARE_CKPT_TIMEOUT]++;
            e->episode = true;
            e->ops->checkpoint(e->opaque, COMPARE_CKPT_TIMEOUT, d);
            break;
        }
    }

    /* Idle expiry, oldest first; the LRU order stops the walk at the
     * first entry younger than the shortest timeout. */
    min_idle = MIN(MIN(e->cfg.tcp_idle_us, e->cfg.tcp_closed_idle_us),
                   MIN(e->cfg.udp_idle_us, e->cfg.other_idle_us));
    if (!budget) {
        budget = 4096;
    }
    ce = conn_table_oldest(e->table);
    while (ce && examined++ < budget) {
        ConnEntry *next = conn_table_next_newer(e->table, ce);
        CompareConn *c = (CompareConn *) ce;

        if (now_us - ce->last_used < min_idle) {
            break;
        }
        if (!c->q[0].n && !c->q[1].n
            && now_us - ce->last_used >= conn_idle_timeout(e, c)) {
            conn_table_remove(e->table, ce);
            e->st.expirations++;
        }
        ce = next;
    }
}

static uint64_t head_order(const CompareConn *c)
{
    return c->q[COMPARE_PRIMARY].head->order;
}

static void heap_down(CompareConn **h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        CompareConn *t;

        if (l < n && head_order(h[l]) < head_order(h[m])) {
            m = l;
        }
        if (l + 1 < n && head_order(h[l + 1]) < head_order(h[m])) {
            m = l + 1;
        }
        if (m == i) {
            return;
        }
        t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/*
 * Releases every held primary frame and drops every secondary one.  The
 * frames of all connections leave in the order they arrived (each
 * connection's order is the rule; the global order is a courtesy that
 * costs a heap over the busy connections, on this slow path only).
 */
static void flush_all(CompareEngine *e, CompareUncompared uw,
                      CompareSecDrop sw, bool reanchor)
{
    size_t n = 0, cap = 0;
    CompareConn **h = NULL;
    CompareConn *c;

    for (c = e->busy; c; c = c->busy_next) {
        cap++;
    }
    if (!cap) {
        return;
    }
    h = g_new(CompareConn *, cap);
    for (c = e->busy; c; c = c->busy_next) {
        while (c->q[COMPARE_SECONDARY].head) {
            drop_sec_head(e, c, sw);
        }
        if (c->q[COMPARE_PRIMARY].head) {
            h[n++] = c;
        }
    }
    for (size_t i = n / 2; i-- > 0;) {
        heap_down(h, n, i);
    }
    while (n) {
        c = h[0];
        release_head(e, c, false, uw);
        if (!c->q[COMPARE_PRIMARY].head) {
            h[0] = h[--n];
        }
        heap_down(h, n, 0);
    }
    g_free(h);
    while ((c = e->busy)) {
        if (reanchor) {
            conn_reanchor(e, c);
        }
        busy_update(e, c);
    }
}

static void checkpoint_flush(CompareEngine *e)
{
    e->episode = false;
    /* Idle connections re-anchor lazily (conn_get() sees the epoch). */
    e->epoch++;
    flush_all(e, COMPARE_UNCMP_CHECKPOINT, COMPARE_SDROP_CHECKPOINT, true);
}

void compare_checkpoint(CompareEngine *e)
{
    e->st.checkpoints_handled++;
    if (e->in_checkpoint) {
        /* flushed when the guests stopped: what came since is the new
         * state's, on both sides */
        e->in_checkpoint = false;
        e->episode = false;
        return;
    }
    checkpoint_flush(e);
}

void compare_failover(CompareEngine *e)
{
    flush_all(e, COMPARE_UNCMP_FAILOVER, COMPARE_SDROP_FAILOVER, false);
    e->failover = true;
    e->episode = false;
    e->in_checkpoint = false;
}

void compare_checkpoint_begin(CompareEngine *e)
{
    if (e->failover) {
        return;
    }
    checkpoint_flush(e);
    e->in_checkpoint = true;
}

void compare_flush(CompareEngine *e, CompareUncompared why)
{
    flush_all(e, why, COMPARE_SDROP_CHECKPOINT, false);
}

void compare_get_stats(CompareEngine *e, CompareStats *st)
{
    ConnTableStats ts;

    conn_table_get_stats(e->table, &ts);
    *st = e->st;
    st->connections = ts.entries;
    st->connections_max = ts.max_entries;
    st->evictions = ts.evictions;
    st->conn_mem_bytes = ts.mem_bytes;
    st->pool_free = e->pool_n[0] + e->pool_n[1] + e->pool_n[2];
    st->failover = e->failover;
}
