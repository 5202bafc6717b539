/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/rewriter-engine.c - the TCP sequence rewriting engine of filter-rewriter.
 *
 * See include/net/rewriter-engine.h for what is translated and why.  Frames are
 * parsed with packet_parse() (net/packet.c), connections found in a
 * bounded ConnTable (net/conntrack.c) and fields changed with incremental
 * checksum updates (net/checksum.c).  net/filter-rewriter.c wraps this in
 * a NetFilter; tests/unit/test-rewriter-engine.c and tests/fuzz/fuzz-rewriter.c
 * drive it directly.
 *
 * Per connection:
 *
 *   CLIENT_SYN  --guest SYN-ACK-->  GUEST_SYNACK  --client ACK-->  EST
 *               (client segments before the guest SYN-ACK: held)
 *   GUEST_SYN   --peer SYN-ACK (or RST|ACK)-->                     EST
 *   EST: FIN from both sides, both acknowledged, or RST   -->  CLOSED
 *   CLOSED: lingers (still translated) until linger_us after its last
 *           frame, then removed; a new
 *           SYN on the same 4-tuple starts a new connection in the entry.
 *
 * Sequence numbers are only compared with seq_* (modulo 2^32).
 *
 * Threads: the owner's; only the counters are read from elsewhere.
 */
#include <string.h>

#include "net/checksum.h"
#include "net/conntrack.h"
#include "net/rewriter-engine.h"
#include "util/stats.h"

typedef enum RwState {
    RW_CLIENT_SYN,      /* client SYN seen; waiting for the guest SYN-ACK */
    RW_GUEST_SYNACK,    /* guest SYN-ACK seen; waiting for the client ACK */
    RW_GUEST_SYN,       /* guest SYN seen; waiting for the peer SYN-ACK */
    RW_ESTABLISHED,     /* offsets known (possibly 0) */
    RW_CLOSED,          /* FIN handshake done or RST; lingering */
} RwState;

/* RewriterConn.fin */
#define RW_FIN_GUEST        (1u << 0)   /* guest sent FIN (guest_fin_end) */
#define RW_FIN_PEER         (1u << 1)   /* peer sent FIN (peer_fin_end) */
#define RW_FIN_GUEST_ACKED  (1u << 2)
#define RW_FIN_PEER_ACKED   (1u << 3)

/* What rewriter_checkpoint_load() changed in a connection, to put back if
 * the load never completes. */
typedef struct RwSaved {
    uint32_t seq_offset, ts_offset, peer_max_ack, guest_fin_end;
    uint8_t state;
} RwSaved;

typedef struct RewriterConn RewriterConn;
struct RewriterConn {
    ConnEntry ce;               /* first: the table's */
    uint8_t state;              /* RwState */
    uint8_t guest_end;          /* the guest's endpoint index in ce.key */
    uint8_t fin;                /* RW_FIN_* */
    bool opened_by_guest;
    bool guest_has_ts;          /* guest_tsval valid */
    bool in_linger;             /* on Rewriter.linger list */
    bool isn_unsure;            /* RW_GUEST_SYN across a checkpoint: the
                                 * guest's socket may be the primary's */
    uint32_t guest_isn;         /* secondary ISN (handshake) */
    uint32_t peer_isn;          /* the client's SYN (opened by the client) */
    uint32_t guest_tsval;       /* secondary TSval of its SYN / SYN-ACK */
    uint32_t seq_offset;        /* secondary - primary, guest's seq space */
    uint32_t ts_offset;         /* secondary - primary TSval */
    uint32_t guest_fin_end;     /* guest space: seq after the guest's FIN */
    uint32_t peer_fin_end;      /* peer space: seq after the peer's FIN */
    uint32_t peer_max_ack;      /* guest space: highest ack from the peer
                                 * (valid once RW_ESTABLISHED) */
    bool has_saved;             /* 'saved' holds what an unconfirmed
                                 * checkpoint load changed */
    RwSaved saved;
    int64_t closed_at;          /* when it entered RW_CLOSED */
    int64_t hold_since;         /* first REWRITER_HOLD, or 0 */
    RewriterConn *lprev;        /* linger list, oldest first */
    RewriterConn *lnext;
};

struct Rewriter {
    RewriterConfig cfg;
    ConnTable *table;
    bool failover;
    bool loading;               /* a checkpoint load not yet confirmed */
    int64_t now;                /* of the current call, for may_remove */
    RewriterConn *linger_head;  /* closed connections, oldest first */
    RewriterConn *linger_tail;
    RewriterStats st;           /* the counters kept here (not the table's) */
};

static const char *const rw_state_names[] = {
    [RW_CLIENT_SYN] = "syn",
    [RW_GUEST_SYNACK] = "syn-ack",
    [RW_GUEST_SYN] = "syn",
    [RW_ESTABLISHED] = "established",
    [RW_CLOSED] = "closed",
};

/* ------------------------------------------------------------------------ */
/* Linger list                                                               */

static void linger_unlink__(Rewriter *rw, RewriterConn *c)
{
    if (!c->in_linger) {
        return;
    }
    if (c->lprev) {
        c->lprev->lnext = c->lnext;
    } else {
        rw->linger_head = c->lnext;
    }
    if (c->lnext) {
        c->lnext->lprev = c->lprev;
    } else {
        rw->linger_tail = c->lprev;
    }
    c->lprev = c->lnext = NULL;
    c->in_linger = false;
}

static void linger_append__(Rewriter *rw, RewriterConn *c)
{
    linger_unlink__(rw, c);
    c->lprev = rw->linger_tail;
    c->lnext = NULL;
    if (rw->linger_tail) {
        rw->linger_tail->lnext = c;
    } else {
        rw->linger_head = c;
    }
    rw->linger_tail = c;
    c->in_linger = true;
}

/* ------------------------------------------------------------------------ */
/* Table callbacks                                                           */

static bool rw_may_remove(ConnEntry *e, ConnRemoveReason why, void *opaque)
{
    Rewriter *rw = opaque;
    RewriterConn *c = (RewriterConn *)e;

    if (why == CONN_REMOVE_EXPIRE) {
        return true;
    }
    /* Eviction: only what costs nobody a working translation. */
    if (c->state == RW_CLOSED) {
        return true;
    }
    if (c->state == RW_ESTABLISHED && c->seq_offset == 0 &&
        c->ts_offset == 0) {
        return true;    /* untracked, it passes unchanged: same result */
    }
    return rw->now - e->last_used >= rw->cfg.evict_idle_us;
}

static void rw_destroy(ConnEntry *e, void *opaque)
{
    linger_unlink__(opaque, (RewriterConn *)e);
}

static const ConnTableOps rw_table_ops = {
    .may_remove = rw_may_remove,
    .destroy = rw_destroy,
};

/* ------------------------------------------------------------------------ */
/* Public: life cycle                                                        */

Rewriter *rewriter_new(const RewriterConfig *cfg)
{
    Rewriter *rw = g_new0(Rewriter, 1);

    if (cfg) {
        rw->cfg = *cfg;
    }
    if (rw->cfg.max_connections == 0) {
        rw->cfg.max_connections = REWRITER_MAX_CONNECTIONS_DEFAULT;
    }
    if (rw->cfg.max_connections > REWRITER_MAX_CONNECTIONS_MAX) {
        rw->cfg.max_connections = REWRITER_MAX_CONNECTIONS_MAX;
    }
    if (rw->cfg.idle_timeout_us <= 0) {
        rw->cfg.idle_timeout_us = REWRITER_IDLE_TIMEOUT_DEFAULT_US;
    }
    if (rw->cfg.linger_us <= 0) {
        rw->cfg.linger_us = REWRITER_LINGER_DEFAULT_US;
    }
    if (rw->cfg.hold_us <= 0) {
        rw->cfg.hold_us = REWRITER_HOLD_DEFAULT_US;
    }
    if (rw->cfg.evict_idle_us <= 0) {
        rw->cfg.evict_idle_us = REWRITER_EVICT_IDLE_DEFAULT_US;
    }
    if (rw->cfg.hash_seed == 0) {
        rw->cfg.hash_seed = g_random_int();
    }
    rw->table = conn_table_new(rw->cfg.max_connections, sizeof(RewriterConn),
                               rw->cfg.hash_seed, &rw_table_ops, rw);
    return rw;
}

void rewriter_free(Rewriter *rw)
{
    if (!rw) {
        return;
    }
    conn_table_free(rw->table);
    g_free(rw);
}

void rewriter_set_vnet_hdr_len(Rewriter *rw, unsigned vnet_hdr_len)
{
    rw->cfg.vnet_hdr_len = vnet_hdr_len;
}

/* ------------------------------------------------------------------------ */
/* The packet path                                                           */

static void rw_close__(Rewriter *rw, RewriterConn *c, bool rst)
{
    if (c->state == RW_CLOSED) {
        return;
    }
    c->state = RW_CLOSED;
    c->closed_at = rw->now;
    stats_inc(rst ? &rw->st.closed_rst : &rw->st.closed_fin);
    linger_append__(rw, c);
}

/* Reads the timestamp option of the parsed frame: true and TSval/TSecr
 * when present. */
static bool rw_read_ts(const uint8_t *frame, const PacketInfo *pi,
                       uint32_t *tsval, uint32_t *tsecr)
{
    if (pi->tcp_ts_ofs == PACKET_OFS_NONE) {
        return false;
    }
    *tsval = packet_load_be32(frame + pi->tcp_ts_ofs);
    *tsecr = packet_load_be32(frame + pi->tcp_ts_ofs + 4);
    return true;
}

/* Starts a new connection in 'c' (fresh, or reused after a close) with
 * the SYN 'pi' going 'dir'; 'kdir' says which key endpoint sent it. */
static void rw_conn_start__(Rewriter *rw, RewriterConn *c,
                            const uint8_t *frame, const PacketInfo *pi,
                            RewriterDir dir, ConnDir kdir)
{
    uint32_t tsval, tsecr;

    linger_unlink__(rw, c);
    c->fin = 0;
    c->has_saved = false;
    c->isn_unsure = false;
    c->seq_offset = 0;
    c->ts_offset = 0;
    c->guest_has_ts = false;
    c->closed_at = 0;
    c->hold_since = 0;
    if (dir == REWRITER_FROM_GUEST) {
        c->guest_end = kdir == CONN_DIR_FORWARD ? 0 : 1;
        c->state = RW_GUEST_SYN;
        c->opened_by_guest = true;
        c->guest_isn = pi->tcp_seq;
        c->guest_has_ts = rw_read_ts(frame, pi, &tsval, &tsecr);
        c->guest_tsval = c->guest_has_ts ? tsval : 0;
        stats_inc(&rw->st.opened_by_guest);
    } else {
        c->guest_end = kdir == CONN_DIR_FORWARD ? 1 : 0;
        c->state = RW_CLIENT_SYN;
        c->opened_by_guest = false;
        c->peer_isn = pi->tcp_seq;
        c->guest_isn = 0;
        c->guest_tsval = 0;
        stats_inc(&rw->st.opened_by_client);
    }
}

/* The peer's segment 'pi' (to the guest) acknowledges the primary's ISN:
 * learn the offsets from it. */
static void rw_learn__(Rewriter *rw, RewriterConn *c, const uint8_t *frame,
                       const PacketInfo *pi)
{
    uint32_t tsval, tsecr;

    c->seq_offset = c->guest_isn - (pi->tcp_ack - 1);
    c->ts_offset = 0;
    if (c->guest_has_ts && rw_read_ts(frame, pi, &tsval, &tsecr)) {
        c->ts_offset = c->guest_tsval - tsecr;
    }
    c->state = RW_ESTABLISHED;
    c->peer_max_ack = pi->tcp_ack + c->seq_offset;
    stats_inc(&rw->st.offsets_learned);
}

/* A new connection for the SYN 'pi', or NULL (counted) when none can be
 * tracked. */
static RewriterConn *rw_conn_new__(Rewriter *rw, const ConnKey *key)
{
    ConnEntry *e;

    if (rw->failover) {
        stats_inc(&rw->st.failover_passed);
        return NULL;
    }
    e = conn_table_insert(rw->table, key, rw->now);
    if (!e && conn_table_evict_lru(rw->table, 8)) {
        e = conn_table_insert(rw->table, key, rw->now);
    }
    if (!e) {
        stats_inc(&rw->st.refused_full);
        return NULL;
    }
    return (RewriterConn *)e;
}

typedef enum RwStep {
    RW_STEP_PASS,               /* nothing to translate (yet) */
    RW_STEP_TRANSLATE,          /* offsets known: translate */
    RW_STEP_HOLD,               /* wait for the guest's SYN-ACK */
} RwStep;

/* The peer's segment while the guest's SYN-ACK has not been seen: hold it
 * for up to hold_us (counted from the first held segment). */
static RwStep rw_hold__(Rewriter *rw, RewriterConn *c)
{
    if (c->hold_since == 0) {
        c->hold_since = rw->now ? rw->now : 1;
    }
    if (rw->now - c->hold_since < rw->cfg.hold_us) {
        stats_inc(&rw->st.held);
        return RW_STEP_HOLD;
    }
    if (c->hold_since > 0) {
        stats_inc(&rw->st.hold_expired);
        c->hold_since = -1;     /* counted; never hold again */
    }
    return RW_STEP_PASS;
}

/* Handshake transitions. */
static RwStep rw_handshake__(Rewriter *rw, RewriterConn *c,
                             const uint8_t *frame, const PacketInfo *pi,
                             RewriterDir dir, RewriterAction *act)
{
    uint16_t fl = pi->tcp_flags;
    bool syn = fl & PACKET_TCP_SYN;
    bool ack = fl & PACKET_TCP_ACK;
    bool rst = fl & PACKET_TCP_RST;
    uint32_t tsval, tsecr;

    switch ((RwState)c->state) {
    case RW_CLIENT_SYN:
    case RW_GUEST_SYNACK:
        if (dir == REWRITER_FROM_GUEST) {
            if (syn && ack && !rst) {
                /* the secondary's SYN-ACK (or a retransmission of it) */
                c->guest_isn = pi->tcp_seq;
                c->guest_has_ts = rw_read_ts(frame, pi, &tsval, &tsecr);
                c->guest_tsval = c->guest_has_ts ? tsval : 0;
                c->state = RW_GUEST_SYNACK;
                act->release = true;
            } else if (rst) {
                rw_close__(rw, c, true);
                act->release = true;
            }
            return RW_STEP_PASS;
        }
        if (c->state == RW_CLIENT_SYN && !syn) {
            /* overtook the guest's SYN-ACK */
            return rw_hold__(rw, c);
        }
        if (c->state == RW_GUEST_SYNACK && ack && !syn) {
            /* the client's ACK: ack - 1 is the primary's ISN */
            rw_learn__(rw, c, frame, pi);
            return RW_STEP_TRANSLATE;
        }
        if (rst) {
            rw_close__(rw, c, true);
        }
        return RW_STEP_PASS;
    case RW_GUEST_SYN:
        if (dir == REWRITER_FROM_GUEST) {
            if (syn && !ack && !rst) {
                /* a retransmitted SYN, or the resumed guest's own */
                c->isn_unsure = false;
                c->guest_isn = pi->tcp_seq;
                c->guest_has_ts = rw_read_ts(frame, pi, &tsval, &tsecr);
                c->guest_tsval = c->guest_has_ts ? tsval : 0;
            } else if (rst) {
                rw_close__(rw, c, true);
            }
            return RW_STEP_PASS;
        }
        if (ack && (syn || rst)) {
            /* the peer's SYN-ACK, or its RST|ACK refusal: ack - 1 is the
             * primary's ISN */
            if (c->isn_unsure) {
                /* no SYN from the guest since the checkpoint: its socket
                 * is the primary's (rw_checkpoint_one()) */
                c->guest_isn = pi->tcp_ack - 1;
                c->guest_has_ts = false;
                c->isn_unsure = false;
            }
            rw_learn__(rw, c, frame, pi);
            return RW_STEP_TRANSLATE;
        }
        return RW_STEP_PASS;
    case RW_ESTABLISHED:
    case RW_CLOSED:
        return RW_STEP_TRANSLATE;
    }
    return RW_STEP_PASS;
}

/* Fills 'act' for a translating connection and follows FIN / RST. */
static bool rw_translate__(Rewriter *rw, RewriterConn *c,
                           const PacketInfo *pi, RewriterDir dir,
                           RewriterAction *act)
{
    uint16_t fl = pi->tcp_flags;
    bool ack = fl & PACKET_TCP_ACK;

    if (dir == REWRITER_TO_GUEST) {
        if (ack) {
            uint32_t gack = pi->tcp_ack + c->seq_offset;

            if (c->seq_offset) {
                act->ack_add = c->seq_offset;
                act->do_ack = true;
                act->do_sack = pi->tcp_sack_ofs != PACKET_OFS_NONE;
            }
            if (c->ts_offset && pi->tcp_ts_ofs != PACKET_OFS_NONE) {
                act->tsecr_add = c->ts_offset;
                act->do_tsecr = true;
            }
            if (seq_gt(gack, c->peer_max_ack)) {
                c->peer_max_ack = gack;
            }
            if ((c->fin & RW_FIN_GUEST) && seq_geq(gack, c->guest_fin_end)) {
                c->fin |= RW_FIN_GUEST_ACKED;
            }
        }
        if (fl & PACKET_TCP_FIN) {
            c->fin |= RW_FIN_PEER;
            c->peer_fin_end = packet_tcp_seq_end(pi);
        }
    } else {
        if (c->seq_offset) {
            act->seq_sub = c->seq_offset;
            act->do_seq = true;
        }
        if (c->ts_offset && pi->tcp_ts_ofs != PACKET_OFS_NONE) {
            act->tsval_sub = c->ts_offset;
            act->do_tsval = true;
        }
        if (ack && (c->fin & RW_FIN_PEER) &&
            seq_geq(pi->tcp_ack, c->peer_fin_end)) {
            c->fin |= RW_FIN_PEER_ACKED;
        }
        if (fl & PACKET_TCP_FIN) {
            c->fin |= RW_FIN_GUEST;
            c->guest_fin_end = packet_tcp_seq_end(pi);
            /* without colo-compare ordering them, the peer's ACK of the
             * primary's FIN may have overtaken this one */
            if (seq_geq(c->peer_max_ack, c->guest_fin_end)) {
                c->fin |= RW_FIN_GUEST_ACKED;
            }
        }
    }
    if (fl & PACKET_TCP_RST) {
        rw_close__(rw, c, true);
    } else if ((c->fin & (RW_FIN_GUEST_ACKED | RW_FIN_PEER_ACKED)) ==
               (RW_FIN_GUEST_ACKED | RW_FIN_PEER_ACKED)) {
        rw_close__(rw, c, false);
    }
    return act->do_ack || act->do_sack || act->do_seq || act->do_tsval ||
           act->do_tsecr;
}

/*
 * Does the SYN 'pi' (no ACK) going 'dir' start a new connection on the
 * 4-tuple of 'c'?  Yes once 'c' is closed, and for an established 'c' if
 * either side sent a FIN or the SYN is not that connection's own again.
 * The second case is a client reusing its port after a connection whose
 * end this side never saw whole: the primary's FIN (or RST) left before
 * a checkpoint, and the secondary, a copy of the primary from then on,
 * never sends its own.  Taken as the old connection, the new one kept
 * its offset 0: the guests answer the new SYN with their own ISNs, and
 * the client's untranslated ACK made the secondary reset it (a 1 s
 * request, docs/performance.md).  A handshake still under way keeps its
 * own rules (rw_handshake__()).
 */
static bool rw_syn_starts_anew__(const RewriterConn *c, const PacketInfo *pi,
                                 RewriterDir dir)
{
    if (c->state == RW_CLOSED) {
        return true;
    }
    if (c->state != RW_ESTABLISHED) {
        return false;
    }
    if (c->fin) {
        return true;
    }
    if (dir == REWRITER_TO_GUEST) {
        return c->opened_by_guest || pi->tcp_seq != c->peer_isn;
    }
    return !c->opened_by_guest || pi->tcp_seq != c->guest_isn;
}

/* Counts the edits of a frame about to be rewritten. */
static void rw_count_action__(Rewriter *rw, const RewriterAction *act)
{
    stats_inc(&rw->st.packets_rewritten);
    if (act->do_seq) {
        stats_inc(&rw->st.seq_rewritten);
    }
    if (act->do_ack) {
        stats_inc(&rw->st.ack_rewritten);
    }
    if (act->do_sack) {
        stats_add(&rw->st.sack_rewritten, act->pi.tcp_sack_blocks);
    }
    stats_add(&rw->st.ts_rewritten, act->do_tsval + act->do_tsecr);
}

RewriterResult rewriter_process(Rewriter *rw, const uint8_t *frame,
                                size_t len, RewriterDir dir, int64_t now_us,
                                RewriterAction *act)
{
    PacketInfo *pi = &act->pi;
    PacketVerdict v;
    ConnKey key;
    ConnDir kdir;
    RewriterConn *c;
    uint16_t fl;
    bool syn_only;

    act->do_seq = act->do_ack = act->do_sack = false;
    act->do_tsval = act->do_tsecr = false;
    act->release = false;
    act->hold_until = 0;
    act->seq_sub = act->ack_add = act->tsval_sub = act->tsecr_add = 0;
    rw->now = now_us;

    v = packet_parse(frame, len, rw->cfg.vnet_hdr_len, pi);
    if (v != PACKET_OK) {
        if (packet_verdict_is_unsupported(v)) {
            stats_inc(&rw->st.not_tcp);
            return REWRITER_NOT_TCP;
        }
        stats_inc(&rw->st.malformed);
        return REWRITER_MALFORMED;
    }
    if (pi->ip_proto != IP_PROTO_TCP) {
        stats_inc(&rw->st.not_tcp);
        return REWRITER_NOT_TCP;
    }
    stats_inc(&rw->st.packets_tcp);
    if (pi->flags & PACKET_F_FRAG) {
        /* XXX: no reassembly; TCP is sent with DF in practice */
        stats_inc(&rw->st.fragments);
        return REWRITER_UNTRACKED;
    }
    if (!packet_is_tcp(pi) || !conn_key_from_packet(&key, pi, &kdir)) {
        stats_inc(&rw->st.untracked);
        return REWRITER_UNTRACKED;
    }

    fl = pi->tcp_flags;
    syn_only = (fl & (PACKET_TCP_SYN | PACKET_TCP_ACK | PACKET_TCP_RST)) ==
               PACKET_TCP_SYN;
    c = (RewriterConn *)conn_table_lookup(rw->table, &key);
    if (!c) {
        if (!syn_only) {
            stats_inc(&rw->st.untracked);
            return REWRITER_UNTRACKED;
        }
        c = rw_conn_new__(rw, &key);
        if (!c) {
            return REWRITER_UNTRACKED;
        }
        rw_conn_start__(rw, c, frame, pi, dir, kdir);
        return REWRITER_UNCHANGED;
    }

    conn_table_touch(rw->table, &c->ce, now_us);
    if (c->state == RW_CLOSED) {
        /* still in use (retransmissions): linger from now */
        c->closed_at = now_us;
        linger_append__(rw, c);
    }
    if (syn_only && rw_syn_starts_anew__(c, pi, dir)) {
        /* the 4-tuple is reused: a new connection */
        if (rw->failover) {
            conn_table_remove(rw->table, &c->ce);
            stats_inc(&rw->st.failover_passed);
            return REWRITER_UNTRACKED;
        }
        rw_conn_start__(rw, c, frame, pi, dir, kdir);
        return REWRITER_UNCHANGED;
    }
    switch (rw_handshake__(rw, c, frame, pi, dir, act)) {
    case RW_STEP_PASS:
        return REWRITER_UNCHANGED;
    case RW_STEP_HOLD:
        act->hold_until = c->hold_since + rw->cfg.hold_us;
        return REWRITER_HOLD;
    case RW_STEP_TRANSLATE:
        break;
    }
    if (!rw_translate__(rw, c, pi, dir, act)) {
        return REWRITER_UNCHANGED;
    }
    rw_count_action__(rw, act);
    return REWRITER_REWRITTEN;
}

/* Adds 'delta' to the be32 field at 'ofs' with the checksum fixed. */
static inline void rw_add32(uint8_t *frame, const PacketInfo *pi,
                            size_t ofs, uint32_t delta)
{
    csum_l4_store_be32(frame, pi, ofs, packet_load_be32(frame + ofs) + delta);
}

void rewriter_apply(const RewriterAction *act, uint8_t *frame)
{
    const PacketInfo *pi = &act->pi;

    if (act->do_seq) {
        rw_add32(frame, pi, packet_tcp_seq_ofs(pi), -act->seq_sub);
    }
    if (act->do_ack) {
        rw_add32(frame, pi, packet_tcp_ack_ofs(pi), act->ack_add);
    }
    if (act->do_sack) {
        for (unsigned i = 0; i < pi->tcp_sack_blocks; i++) {
            size_t ofs = pi->tcp_sack_ofs + 8u * i;

            rw_add32(frame, pi, ofs, act->ack_add);
            rw_add32(frame, pi, ofs + 4, act->ack_add);
        }
    }
    if (act->do_tsval) {
        rw_add32(frame, pi, pi->tcp_ts_ofs, -act->tsval_sub);
    }
    if (act->do_tsecr) {
        rw_add32(frame, pi, pi->tcp_ts_ofs + 4, act->tsecr_add);
    }
}

RewriterResult rewriter_rewrite(Rewriter *rw, uint8_t *frame, size_t len,
                                RewriterDir dir, int64_t now_us)
{
    RewriterAction act;
    RewriterResult r = rewriter_process(rw, frame, len, dir, now_us, &act);

    if (r == REWRITER_REWRITTEN) {
        rewriter_apply(&act, frame);
    }
    return r;
}

/* ------------------------------------------------------------------------ */
/* Housekeeping and events                                                   */

unsigned rewriter_expire(Rewriter *rw, int64_t now_us, unsigned budget)
{
    unsigned n = 0;

    rw->now = now_us;
    while (rw->linger_head &&
           rw->linger_head->closed_at + rw->cfg.linger_us <= now_us &&
           (budget == 0 || n < budget)) {
        conn_table_remove(rw->table, &rw->linger_head->ce);
        stats_inc(&rw->st.removed_linger);
        n++;
    }
    return n + conn_table_expire(rw->table, now_us, rw->cfg.idle_timeout_us,
                                 budget);
}

typedef enum RwCkpt {
    RW_CKPT_RESET,      /* a commit not announced by a load: reset now */
    RW_CKPT_LOAD,       /* a load begins: reset, keep the old values */
    RW_CKPT_CONFIRM,    /* the commit of a load: keep what came since */
} RwCkpt;

static void rw_checkpoint_one(ConnTable *t, ConnEntry *e, void *opaque)
{
    RewriterConn *c = (RewriterConn *)e;
    RwCkpt how = *(RwCkpt *)opaque;
    bool save = how == RW_CKPT_LOAD;

    if (how == RW_CKPT_CONFIRM) {
        /* Connections that began after the load began (a SYN that came
         * while the guests were stopped) are in neither guest's
         * checkpointed state: both answer it on their own, with their own
         * ISNs, so their offsets are learned as usual -- not zeroed. */
        c->has_saved = false;
        return;
    }
    if (save && c->has_saved) {
        return;                 /* a second load before the commit */
    }
    if (save && (c->seq_offset || c->ts_offset ||
                 c->state != RW_ESTABLISHED)) {
        c->saved = (RwSaved) {
            .seq_offset = c->seq_offset, .ts_offset = c->ts_offset,
            .peer_max_ack = c->peer_max_ack,
            .guest_fin_end = c->guest_fin_end, .state = c->state,
        };
        c->has_saved = true;
    } else {
        c->has_saved = false;
    }
    /* the guest's sequence space becomes the primary's */
    c->peer_max_ack -= c->seq_offset;
    c->guest_fin_end -= c->seq_offset;
    c->seq_offset = 0;
    c->ts_offset = 0;
    /* The secondary now holds the primary's state.  A handshake that had
     * got somewhere on the guest's side is in it, with the primary's ISN:
     * nothing left to learn.  One that had not may or may not be:
     *   - a client SYN the secondary had not answered: if the primary
     *     took it in before its stop, the secondary now has the primary's
     *     half-open socket and answers a duplicate SYN with the primary's
     *     ISN; if not (it reached both QEMUs late; they read it after the
     *     resume), the secondary answers it with its own ISN.  Either way
     *     its next SYN-ACK teaches the ISN, and a client segment before
     *     that is held as usual (then passes as it is: the first case).
     *     Taking it as established translated the second case by 0: the
     *     resumed secondary reset the client's ACK, and the connection
     *     hung until the next checkpoint.
     *   - the guest's SYN, not answered yet: if the primary had sent its
     *     own before its stop, the peer's SYN-ACK acknowledges the ISN the
     *     secondary now has; if not, the resumed secondary sends its SYN
     *     again, with a new ISN, and that SYN reaches us before the peer's
     *     SYN-ACK (colo-compare releases the primary's SYN with it).
     * A SYN-ACK the secondary had already sent means it had the SYN
     * before its stop, and so had the primary (filter-mirror copies a
     * frame only once the primary's QEMU has read it). */
    if (c->state == RW_GUEST_SYNACK) {
        c->state = RW_ESTABLISHED;
        c->peer_max_ack = c->guest_isn;
    } else if (c->state == RW_CLIENT_SYN) {
        c->hold_since = 0;
    } else if (c->state == RW_GUEST_SYN) {
        c->isn_unsure = true;
    }
}

void rewriter_checkpoint(Rewriter *rw)
{
    RwCkpt how = rw->loading ? RW_CKPT_CONFIRM : RW_CKPT_RESET;

    if (rw->failover) {
        /* The side failed over and may since have been re-protected as a
         * primary (docs/ha.md): its checkpoints copy this guest to a new
         * secondary, they do not make this guest equal to the old
         * primary, whose sequence space the clients of the connections
         * from before the failover still live in.  Those keep their
         * offsets until they end. */
        stats_inc(&rw->st.checkpoints);
        return;
    }

    conn_table_foreach(rw->table, rw_checkpoint_one, &how);
    rw->loading = false;
    stats_inc(&rw->st.checkpoints);
}

void rewriter_checkpoint_load(Rewriter *rw)
{
    RwCkpt how = RW_CKPT_LOAD;

    if (rw->failover) {
        return;
    }
    conn_table_foreach(rw->table, rw_checkpoint_one, &how);
    rw->loading = true;
    stats_inc(&rw->st.checkpoint_loads);
}

static void rw_unload_one(ConnTable *t, ConnEntry *e, void *opaque)
{
    RewriterConn *c = (RewriterConn *)e;

    if (c->has_saved) {
        c->seq_offset = c->saved.seq_offset;
        c->ts_offset = c->saved.ts_offset;
        c->peer_max_ack = c->saved.peer_max_ack;
        c->guest_fin_end = c->saved.guest_fin_end;
        if (c->state != RW_CLOSED) {
            c->state = c->saved.state;
        }
        c->isn_unsure = false;
        c->has_saved = false;
    }
}

void rewriter_failover(Rewriter *rw)
{
    if (rw->loading) {
        /* the load never completed: the guest runs on in its old state */
        conn_table_foreach(rw->table, rw_unload_one, NULL);
        rw->loading = false;
        stats_inc(&rw->st.loads_undone);
    }
    rw->failover = true;
}

bool rewriter_in_failover(const Rewriter *rw)
{
    return rw->failover;
}

void rewriter_get_stats(const Rewriter *rw, RewriterStats *st)
{
    ConnTableStats ts;

    conn_table_get_stats(rw->table, &ts);
    *st = rw->st;               /* each counter a relaxed load (x86: plain) */
    st->connections = ts.entries;
    st->max_connections = ts.max_entries;
    st->evictions = ts.evictions;
    st->expirations = ts.expirations;
    st->failover = rw->failover;
}

typedef struct RwForeach {
    int64_t now;
    void (*fn)(const RewriterConnInfo *ci, void *opaque);
    void *opaque;
    size_t n_offsets;
} RwForeach;

static void rw_foreach_one(ConnTable *t, ConnEntry *e, void *opaque)
{
    RwForeach *f = opaque;
    RewriterConn *c = (RewriterConn *)e;
    RewriterConnInfo ci;
    unsigned g = c->guest_end, p = !c->guest_end;

    if (c->seq_offset || c->ts_offset) {
        f->n_offsets++;
    }
    if (!f->fn) {
        return;
    }
    memset(&ci, 0, sizeof ci);
    memcpy(ci.guest_addr.b, e->key.addr[g], 16);
    memcpy(ci.peer_addr.b, e->key.addr[p], 16);
    ci.guest_port = e->key.port[g];
    ci.peer_port = e->key.port[p];
    ci.ip_version = e->key.ip_version;
    ci.opened_by_guest = c->opened_by_guest;
    ci.state = c->state == RW_ESTABLISHED && c->fin ? "closing"
               : rw_state_names[c->state];
    ci.seq_offset = c->seq_offset;
    ci.ts_offset = c->ts_offset;
    ci.idle_us = f->now - e->last_used;
    f->fn(&ci, f->opaque);
}

void rewriter_foreach_conn(Rewriter *rw, int64_t now_us,
                           void (*fn)(const RewriterConnInfo *ci,
                                      void *opaque),
                           void *opaque)
{
    RwForeach f = { .now = now_us, .fn = fn, .opaque = opaque };

    conn_table_foreach(rw->table, rw_foreach_one, &f);
}

size_t rewriter_count_offsets(Rewriter *rw)
{
    RwForeach f = { 0 };

    conn_table_foreach(rw->table, rw_foreach_one, &f);
    return f.n_offsets;
}

const char *rewriter_result_name(RewriterResult r)
{
    static const char *const names[REWRITER_RESULT__MAX] = {
        [REWRITER_NOT_TCP] = "not-tcp",
        [REWRITER_MALFORMED] = "malformed",
        [REWRITER_UNTRACKED] = "untracked",
        [REWRITER_UNCHANGED] = "unchanged",
        [REWRITER_REWRITTEN] = "rewritten",
        [REWRITER_HOLD] = "hold",
    };

    return (unsigned)r < REWRITER_RESULT__MAX ? names[r] : "invalid";
}
