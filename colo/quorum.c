/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colo/quorum.c - the "colo-quorum" object: failover decided on corosync's
 * membership and quorum, and an output gate that holds this side's guest
 * output while this node may not serve.
 *
 *   -object colo-quorum,id=q0,netdev=hn0[,group=colo-proxy][,failover=on]
 *           [,fence=CMD][,fence-wait=on][,fence-timeout=MS]
 *           [,provider=corosync|manual][,frame=COLO-FRAME]
 *
 * One per VM pair: in a process serving several, each pair's object is
 * bound with frame= (the filters' property, net/filter.c) and has a CPG
 * group of its own; it decides that pair's failover, epoch, staleness
 * and gate only.  Unbound, it is the process's only pair.  Why per pair:
 * docs/devel/decisions.md (two pairs' primaries on different hosts).
 *
 * Why (docs/devel/decisions.md, "HA: corosync decides"): colo-heartbeat
 * sees two parties, and on a cut link between them both sides see the
 * other die and both promote.  Only a third vote breaks that tie.
 * Corosync provides it: votequorum counts the two nodes and a vote from
 * corosync-qnetd on a third machine (through corosync-qdevice on each
 * node), and gives the vote to one side of a split only.
 *
 * What the object does:
 *
 *  - Membership and quorum.  It opens two corosync connections in this
 *    process: votequorum (quorate or not; which corosync nodes are members,
 *    with the ring id) and CPG (which colo-proxy processes are in the
 *    group 'group', with the ring id of each totem change).  Their fds are
 *    polled by the main loop (util/fd-watch.h); a lost connection
 *    (corosync died) counts as "no quorum" and is retried every second.
 *
 *  - May this node serve?  Only when (a) votequorum says quorate, (b) both
 *    connections speak of the same membership: votequorum's member set
 *    equals the node set of CPG's last totem change, and no group change
 *    for a node (NODEDOWN/NODEUP) is waiting for its totem change.  CPG
 *    delivers a ring's group changes before its totem change, while the
 *    quorum notification comes on another connection in any order: a dead
 *    peer's NODEDOWN arrives while votequorum still says "quorate" for the
 *    old ring, and acting on that made both halves of a split fail over
 *    (found on the cluster of tests/ha).  (c) Every peer colo-proxy that
 *    was in the group before us, or came back with a merge, has announced
 *    its state, and (d) this node is not "stale" (below).
 *
 *  - Output gate.  The object is a netfilter on the client-facing netdev,
 *    by default queue=rx (the guest's output) at the chain's head, which
 *    an rx frame visits last: what colo-compare releases, or the promoted
 *    guest's output, passes it.  While the node may not serve, every frame
 *    is dropped there and counted ('held'): nothing reaches the clients.
 *    Dropped rather than queued: a gate that stays shut for good must not
 *    grow, and one that opens again (a short quorum loss) is covered by
 *    TCP's retransmissions.  COLO_QUORUM_CHANGED tells each change.
 *
 *  - Failover.  colo_failover() (colo-heartbeat, x-colo-lost-heartbeat,
 *    input-lost) asks colo_quorum_failover_check() first: without quorum it
 *    is refused (a QMP error, COLO_QUORUM_FAILOVER action "refused"); while
 *    the peer colo-proxy is still in this node's group it is deferred
 *    ("deferred") and carried out when the peer leaves the membership,
 *    corosync's verdict on its death, rather than the heartbeat's.  With
 *    failover=on the peer leaving while quorate fails over by itself.
 *
 *  - Fencing.  With fence=CMD the promoting side runs CMD (sh -c) first,
 *    environment COLO_FENCE_NODES (the peer's corosync node id),
 *    COLO_FENCE_MODE (and COLO_FENCE_FRAME when bound), and with
 *    fence-wait=on (the default) fails over only when CMD exited 0
 *    within fence-timeout ms; otherwise it does not
 *    promote ("fence-failed") and tries again on the next change.
 *
 *  - Epochs and staleness.  Each failover by this node raises its epoch
 *    above every epoch it knows.  Each member multicasts a 16-byte
 *    announcement (mode, last mode, failover, epoch) on every group change
 *    and after a failover.  A node that serves (primary, or failed over)
 *    and hears a peer that serves in a higher epoch, or a secondary that
 *    hears its primary has failed over without it, is stale: its gate
 *    stays shut and it never promotes, whatever quorum says, until the
 *    object is re-created (the node is re-protected).  This is what keeps
 *    the old primary of a healed partition from serving again.
 *
 *  - Malformed announcements (any length but 16, bad magic, bad values)
 *    are counted ('bad-messages'), logged rate-limited and ignored: the
 *    sender stays "not announced", so a garbage-speaking member holds this
 *    node's gate instead of being trusted.
 *
 * provider=manual replaces corosync by two run-time properties,
 * x-quorate and x-peer-present, for tests that run without a cluster.
 *
 * Threads: main context only.  Neighbours: colo.c (the failover hook),
 * colo-qmp.c (query-colo-status), net/filter.c (the gate).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <json-glib/json-glib.h>

#include "config-host.h"
#include "colo/colo-internal.h"
#include "net/filter.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/fd-watch.h"
#include "util/log.h"
#include "util/qmp-handler.h"

#ifdef CONFIG_COROSYNC
#include <corosync/cpg.h>
#include <corosync/votequorum.h>
#endif

#define QUORUM_GROUP_DEFAULT "colo-proxy"
#define QUORUM_MAX_NODES 64            /* corosync nodes / group members */
#define QUORUM_RETRY_MS 1000           /* reconnect to corosync */
#define FENCE_TIMEOUT_DEFAULT 30000u   /* ms */
#define ANNOUNCE_LEN 16
#define ANNOUNCE_RETRY_MS 20           /* corosync said "try again" */

typedef enum {
    QUORUM_PROVIDER_COROSYNC,
    QUORUM_PROVIDER_MANUAL,
} QuorumProvider;

typedef struct QuorumMember {
    uint32_t nodeid;
    uint32_t pid;
    gboolean announced;        /* its announcement for this configuration */
    gboolean bad;              /* it sent garbage: not a colo-proxy */
    gboolean awaited;          /* its state must be known before serving:
                                * it was there when we joined, or came with
                                * a merge (NODEUP); not a fresh process */
    uint8_t mode, last_mode;
    gboolean failed_over;
    uint64_t epoch;
} QuorumMember;

#define COLO_TYPE_QUORUM (colo_quorum_get_type())
G_DECLARE_FINAL_TYPE(ColoQuorum, colo_quorum, COLO, QUORUM, NetFilter)

struct _ColoQuorum {
    NetFilter parent;

    /* properties */
    QuorumProvider provider;
    char *group;
    gboolean failover;
    char *fence;
    gboolean fence_wait;
    guint fence_timeout_ms;
    gboolean x_quorate;        /* provider=manual */
    gboolean x_peer;           /* provider=manual */

    /* corosync (main context) */
    gboolean connected;
#ifdef CONFIG_COROSYNC
    votequorum_handle_t vq;
    cpg_handle_t cpg;
    FdWatch vq_watch;
    FdWatch cpg_watch;
#endif
    guint retry_timer;
    guint announce_timer;
    gboolean warned_connect;
    uint32_t node_id;
    gboolean quorate;
    uint32_t vq_nodes[QUORUM_MAX_NODES];
    unsigned n_vq_nodes;
    uint32_t ring_nodes[QUORUM_MAX_NODES];   /* CPG's last totem ring */
    unsigned n_ring_nodes;
    gboolean cpg_ring_known;
    QuorumMember members[QUORUM_MAX_NODES];   /* the group, this one too */
    unsigned n_members;

    /* decisions */
    gboolean stale;
    uint64_t epoch;
    uint32_t peer_node;        /* node id of the last peer seen (fenced) */
    gboolean peer_seen;        /* a peer was a member once: only then is
                                * its absence a departure */
    gboolean pending;          /* a failover waits for the peer to leave */
    ColoExitReason pending_reason;
    gboolean go;               /* the next failover check passes (fenced) */
    gboolean gate_open;
    gboolean gate_known;       /* gate_open was reported once */
    GPid fence_pid;
    guint fence_child;
    guint fence_timer;

    /* counters */
    uint64_t held;
    uint64_t passed;
    uint64_t bad_messages;
    uint64_t refused;
    uint64_t deferred;
    uint64_t changes;
    uint64_t fence_runs;
    uint64_t fence_failures;
    uint64_t failovers;
    uint64_t reprotected;      /* stale marks cleared by a checkpoint */
};

G_DEFINE_FINAL_TYPE(ColoQuorum, colo_quorum, NET_TYPE_FILTER)

/* The colo-quorum objects set up: at most one per pair (frame=), or one
 * unbound for the process's only pair.  The failover hooks look up the
 * failing pair's own. */
static GList *quorums;

static const char *q_id(ColoQuorum *q)
{
    return netfilter_get_id(NET_FILTER(q));
}

/* Its frame= (NULL: unbound, the process's only pair). */
static const char *q_frame(ColoQuorum *q)
{
    return netfilter_get_frame(NET_FILTER(q));
}

/* The pair whose failover this object decides, resolved now (the frame
 * may be deleted and recreated): frame=, or the process's only one; the
 * frame-less state (mode none) when there is none. */
static ColoFrameState *q_fs(ColoQuorum *q)
{
    ColoFrameState *fs = colo_frame_for_qmp(q_frame(q), NULL);

    return fs ? fs : colo_frame_state(NULL);
}

static ColoMode q_mode(ColoQuorum *q)
{
    return colo_fs_mode(q_fs(q));
}

static gboolean q_failed_over(ColoQuorum *q)
{
    return colo_fs_failover_active(q_fs(q));
}

/* The colo-quorum that decides for the pair 'frame' (its id; NULL: a
 * process without colo-frame): the one bound to it, else an unbound one
 * (which exists only beside a single frame). */
static ColoQuorum *quorum_for(const char *frame)
{
    ColoQuorum *unbound = NULL;

    for (GList *l = quorums; l; l = l->next) {
        ColoQuorum *q = l->data;

        if (!q_frame(q)) {
            unbound = q;
        } else if (frame && g_str_equal(q_frame(q), frame)) {
            return q;
        }
    }
    return unbound;
}

/* Adds 'frame' to an event's data when the object is bound. */
static void q_add_frame(ColoQuorum *q, JsonObject *data)
{
    if (q_frame(q)) {
        json_object_set_string_member(data, "frame", q_frame(q));
    }
}

static void quorum_update(ColoQuorum *q, const char *why);

/* ------------------------------------------------------------------ */
/* The view.                                                           */

static gboolean quorum_peer_present(ColoQuorum *q)
{
    gboolean present = FALSE;

    if (q->provider == QUORUM_PROVIDER_MANUAL) {
        present = q->x_peer;
    }
    for (unsigned i = 0; i < q->n_members; i++) {
        if (q->members[i].nodeid != q->node_id && !q->members[i].bad) {
            present = TRUE;
            q->peer_node = q->members[i].nodeid;
        }
    }
    if (present) {
        q->peer_seen = TRUE;
    }
    return present;
}

static gboolean quorum_is_quorate(ColoQuorum *q)
{
    return q->provider == QUORUM_PROVIDER_MANUAL ? q->x_quorate
                                                 : q->connected && q->quorate;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : x > y;
}

/* Whether two node id lists hold the same set (sizes bounded by
 * QUORUM_MAX_NODES). */
static gboolean same_nodes(const uint32_t *a, unsigned na, const uint32_t *b,
                           unsigned nb)
{
    uint32_t x[QUORUM_MAX_NODES], y[QUORUM_MAX_NODES];

    if (na != nb) {
        return FALSE;
    }
    memcpy(x, a, na * sizeof(x[0]));
    memcpy(y, b, nb * sizeof(y[0]));
    qsort(x, na, sizeof(x[0]), cmp_u32);
    qsort(y, nb, sizeof(y[0]), cmp_u32);
    return memcmp(x, y, na * sizeof(x[0])) == 0;
}

/* Why this node may not serve now, or NULL if it may. */
static const char *quorum_block_reason(ColoQuorum *q)
{
    if (q->stale) {
        return "stale: the peer has served since this node did "
               "(re-protect this node)";
    }
    if (!quorum_is_quorate(q)) {
        return q->provider == QUORUM_PROVIDER_COROSYNC && !q->connected
               ? "no connection to corosync" : "not quorate";
    }
    if (q->provider == QUORUM_PROVIDER_MANUAL) {
        return NULL;
    }
    if (!q->cpg_ring_known || !same_nodes(q->vq_nodes, q->n_vq_nodes,
                                          q->ring_nodes, q->n_ring_nodes)) {
        return "membership change in progress";
    }
    for (unsigned i = 0; i < q->n_members; i++) {
        if (q->members[i].nodeid != q->node_id && q->members[i].awaited &&
            !q->members[i].announced && !q->members[i].bad) {
            return "waiting for the peer's announcement";
        }
    }
    return NULL;
}

static gboolean serving_mode(ColoQuorum *q)
{
    return q_mode(q) == COLO_MODE_PRIMARY || q_failed_over(q);
}

/* ------------------------------------------------------------------ */
/* Announcements.  (G_GNUC_UNUSED: built without corosync, nothing     */
/* announces, and provider=manual still compiles the rest.)            */

/* 16 bytes: "CQv1", mode, last mode, flags (bit 0 failed over), zero,
 * epoch big-endian. */
G_GNUC_UNUSED static void announce_encode(uint8_t *b, ColoQuorum *q)
{
    memcpy(b, "CQv1", 4);
    b[4] = (uint8_t) q_mode(q);
    b[5] = (uint8_t) colo_fs_last_mode(q_fs(q));
    b[6] = q_failed_over(q) ? 1 : 0;
    b[7] = 0;
    for (int i = 0; i < 8; i++) {
        b[8 + i] = (uint8_t) (q->epoch >> (56 - 8 * i));
    }
}

G_GNUC_UNUSED static gboolean announce_decode(const uint8_t *b, size_t len,
                                QuorumMember *m)
{
    if (len != ANNOUNCE_LEN || memcmp(b, "CQv1", 4) != 0 ||
        b[4] > COLO_MODE_SECONDARY || b[5] > COLO_MODE_SECONDARY ||
        b[6] > 1 || b[7] != 0) {
        return FALSE;
    }
    m->mode = b[4];
    m->last_mode = b[5];
    m->failed_over = b[6];
    m->epoch = 0;
    for (int i = 0; i < 8; i++) {
        m->epoch = (m->epoch << 8) | b[8 + i];
    }
    return TRUE;
}

static void quorum_announce(ColoQuorum *q);

G_GNUC_UNUSED static gboolean announce_retry(gpointer opaque)
{
    ColoQuorum *q = opaque;

    q->announce_timer = 0;
    quorum_announce(q);
    return G_SOURCE_REMOVE;
}

static void quorum_announce(ColoQuorum *q)
{
#ifdef CONFIG_COROSYNC
    uint8_t b[ANNOUNCE_LEN];
    struct iovec iov = { .iov_base = b, .iov_len = sizeof(b) };
    cs_error_t rc;

    if (!q->connected) {
        return;
    }
    announce_encode(b, q);
    rc = cpg_mcast_joined(q->cpg, CPG_TYPE_AGREED, &iov, 1);
    if (rc == CS_ERR_TRY_AGAIN) {
        /* corosync is synchronising a new ring: peers wait for this
         * announcement, so it must go out once the ring is up */
        if (!q->announce_timer) {
            q->announce_timer = g_timeout_add(ANNOUNCE_RETRY_MS,
                                              announce_retry, q);
        }
        return;
    }
    if (rc != CS_OK) {
        LOG_WARN_RL("colo-quorum '%s': announcement not sent (corosync "
                     "error %d)", q_id(q), (int) rc);
    }
#endif
}

/* A peer's announcement: adopt its epoch, or find this node stale. */
G_GNUC_UNUSED static void quorum_peer_state(ColoQuorum *q, QuorumMember *m)
{
    gboolean peer_serving = m->mode == COLO_MODE_PRIMARY || m->failed_over;
    gboolean stale = FALSE;

    if (serving_mode(q)) {
        /* two servers: the one of the older epoch gives way; equal epochs
         * (never both promoted: one would have lacked quorum) by node id */
        if (peer_serving && (m->epoch > q->epoch ||
                             (m->epoch == q->epoch && m->failed_over &&
                              !q_failed_over(q)) ||
                             (m->epoch == q->epoch && m->failed_over &&
                              q_failed_over(q) &&
                              m->nodeid < q->node_id))) {
            stale = TRUE;
        }
    } else if (q_mode(q) == COLO_MODE_SECONDARY) {
        if (m->failed_over) {
            /* its primary ran alone: this secondary missed checkpoints */
            stale = TRUE;
        } else if (m->mode == COLO_MODE_PRIMARY && m->epoch > q->epoch) {
            q->epoch = m->epoch;   /* a pair (re)built around that primary */
        }
    }
    if (stale && !q->stale) {
        q->stale = TRUE;
        g_warning("colo-quorum '%s': node %" PRIu32 " serves in epoch %"
                  PRIu64 " (this node: %" PRIu64 "): this node is stale, "
                  "its output stays held and it will not promote",
                  q_id(q), m->nodeid, m->epoch, q->epoch);
    }
}

/* ------------------------------------------------------------------ */
/* Fencing and failover.                                               */

static void fence_finish(ColoQuorum *q, gboolean ok, const char *detail);

static void quorum_emit_failover(ColoQuorum *q, const char *action,
                                 const char *detail)
{
    JsonObject *data = json_object_new();

    json_object_set_string_member(data, "id", q_id(q));
    json_object_set_string_member(data, "action", action);
    json_object_set_string_member(data, "detail", detail ? detail : "");
    q_add_frame(q, data);
    qmp_event_emit("COLO_QUORUM_FAILOVER", data);
}

static void quorum_do_failover(ColoQuorum *q)
{
    GError *err = NULL;

    q->pending = FALSE;
    q->go = TRUE;
    /* its own pair's failover, whichever pair asked last elsewhere */
    if (!colo_fs_failover(q_fs(q), q->pending_reason, TRUE, &err)) {
        g_warning("colo-quorum '%s': failover: %s", q_id(q), err->message);
        g_error_free(err);
    }
    q->go = FALSE;
}

static void fence_child_exited(GPid pid, gint status, gpointer opaque)
{
    ColoQuorum *q = opaque;
    GError *err = NULL;
    gboolean ok = g_spawn_check_wait_status(status, &err);

    g_spawn_close_pid(pid);
    q->fence_child = 0;
    if (q->fence_pid != pid) {
        g_clear_error(&err);   /* timed out already: only reaped here */
        return;
    }
    q->fence_pid = 0;
    fence_finish(q, ok, ok ? "exit 0" : err->message);
    g_clear_error(&err);
}

static gboolean fence_timed_out(gpointer opaque)
{
    ColoQuorum *q = opaque;

    q->fence_timer = 0;
    if (q->fence_pid) {
        /* the child watch still reaps it; nobody waits for it now */
        kill(q->fence_pid, SIGKILL);
        q->fence_pid = 0;
    }
    fence_finish(q, FALSE, "timed out");
    return G_SOURCE_REMOVE;
}

static void fence_finish(ColoQuorum *q, gboolean ok, const char *detail)
{
    if (q->fence_timer) {
        g_source_remove(q->fence_timer);
        q->fence_timer = 0;
    }
    if (!ok) {
        q->fence_failures++;
        g_warning("colo-quorum '%s': fencing command failed (%s): not "
                  "promoting", q_id(q), detail);
        quorum_emit_failover(q, "fence-failed", detail);
        return;                /* still pending: tried again on a change */
    }
    g_message("colo-quorum '%s': fencing done (%s)", q_id(q), detail);
    if (q->pending && !quorum_block_reason(q)) {
        quorum_do_failover(q);
    }
}

/* Starts the fencing command; FALSE with errp if it cannot run. */
static gboolean fence_start(ColoQuorum *q, GError **errp)
{
    char *argv[] = { "/bin/sh", "-c", q->fence, NULL };
    GString *nodes = g_string_new(NULL);
    char **env = g_get_environ();
    gboolean ok;

    /* the peer colo-proxy's node: gone from this node's membership, and
     * maybe not dead (a partition), which is what fencing makes sure of */
    if (q->peer_node) {
        g_string_append_printf(nodes, "%" PRIu32, q->peer_node);
    }
    env = g_environ_setenv(env, "COLO_FENCE_NODES", nodes->str, TRUE);
    env = g_environ_setenv(env, "COLO_FENCE_MODE",
                           colo_mode_name(q_mode(q)), TRUE);
    if (q_frame(q)) {
        env = g_environ_setenv(env, "COLO_FENCE_FRAME", q_frame(q), TRUE);
    }
    ok = g_spawn_async(NULL, argv, env, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                       NULL, &q->fence_pid, errp);
    g_strfreev(env);
    g_string_free(nodes, TRUE);
    if (!ok) {
        return FALSE;
    }
    q->fence_runs++;
    q->fence_child = g_child_watch_add(q->fence_pid, fence_child_exited, q);
    q->fence_timer = g_timeout_add(q->fence_timeout_ms, fence_timed_out, q);
    return TRUE;
}

gboolean colo_quorum_failover_check(const char *frame, ColoMode mode,
                                    ColoExitReason reason, GError **errp)
{
    ColoQuorum *q = quorum_for(frame);
    const char *why;

    if (!q) {
        return TRUE;
    }
    if (q->go) {
        return TRUE;           /* our own, decided and fenced */
    }
    why = quorum_block_reason(q);
    if (why) {
        q->refused++;
        error_setg(errp, "colo-quorum '%s': failover refused: %s (node %"
                   PRIu32 ")", q_id(q), why, q->node_id);
        quorum_emit_failover(q, "refused", why);
        return FALSE;
    }
    q->pending_reason = reason;
    if (quorum_peer_present(q)) {
        q->pending = TRUE;
        q->deferred++;
        error_setg(errp, "colo-quorum '%s': failover deferred: the peer "
                   "colo-proxy is still a member of group '%s'; it happens "
                   "when corosync sees it leave", q_id(q), q->group);
        quorum_emit_failover(q, "deferred", "peer still a member");
        return FALSE;
    }
    if (q->fence_pid) {
        q->pending = TRUE;
        error_setg(errp, "colo-quorum '%s': fencing in progress", q_id(q));
        return FALSE;
    }
    if (q->fence && *q->fence) {
        GError *err = NULL;

        q->pending = TRUE;
        if (!fence_start(q, &err)) {
            q->fence_failures++;
            error_setg(errp, "colo-quorum '%s': fencing command: %s",
                       q_id(q), err->message);
            quorum_emit_failover(q, "fence-failed", err->message);
            g_error_free(err);
            return FALSE;
        }
        quorum_emit_failover(q, "fencing", q->fence);
        if (q->fence_wait) {
            error_setg(errp, "colo-quorum '%s': fencing the peer first; "
                       "failing over when it succeeds", q_id(q));
            return FALSE;
        }
        q->pending = FALSE;
    }
    return TRUE;
}

void colo_quorum_failed_over(const char *frame, ColoMode mode)
{
    ColoQuorum *q = quorum_for(frame);
    uint64_t top = 0;

    if (!q) {
        return;
    }
    for (unsigned i = 0; i < q->n_members; i++) {
        top = MAX(top, q->members[i].epoch);
    }
    q->epoch = MAX(q->epoch, top) + 1;
    q->pending = FALSE;
    q->failovers++;
    g_message("colo-quorum '%s': failed over as %s, epoch %" PRIu64,
              q_id(q), colo_mode_name(mode), q->epoch);
    quorum_emit_failover(q, "promoted", colo_mode_name(mode));
    quorum_announce(q);
}

void colo_quorum_fill_status(const char *frame, JsonObject *o)
{
    ColoQuorum *q = quorum_for(frame);

    if (!q) {
        return;
    }
    json_object_set_boolean_member(o, "quorate", quorum_is_quorate(q));
    json_object_set_boolean_member(o, "output-held", !q->gate_open);
}

/* ------------------------------------------------------------------ */
/* Re-evaluation after every change.                                   */

static void quorum_update(ColoQuorum *q, const char *why)
{
    const char *block = quorum_block_reason(q);
    gboolean open = block == NULL;
    GError *err = NULL;

    if (!q->gate_known || open != q->gate_open) {
        JsonObject *data = json_object_new();

        q->gate_known = TRUE;
        q->gate_open = open;
        q->changes++;
        if (open) {
            g_message("colo-quorum '%s': may serve (%s): output released",
                      q_id(q), why);
        } else {
            g_warning("colo-quorum '%s': may not serve: %s (%s): output "
                      "held", q_id(q), block, why);
        }
        json_object_set_string_member(data, "id", q_id(q));
        json_object_set_boolean_member(data, "quorate", quorum_is_quorate(q));
        json_object_set_boolean_member(data, "output-held", !open);
        json_object_set_string_member(data, "reason", open ? why : block);
        q_add_frame(q, data);
        qmp_event_emit("COLO_QUORUM_CHANGED", data);
    }
    if (!open || q_failed_over(q) || q_mode(q) == COLO_MODE_NONE ||
        quorum_peer_present(q) || !q->peer_seen || q->fence_pid) {
        return;
    }
    /* quorate, and the peer has left: corosync's verdict on its death */
    if (q->pending || q->failover) {
        if (!q->pending) {
            q->pending_reason = COLO_EXIT_REASON_REQUEST;
        }
        g_message("colo-quorum '%s': the peer left the membership; "
                  "failing over", q_id(q));
        q->pending = TRUE;
        if (colo_quorum_failover_check(colo_fs_id(q_fs(q)), q_mode(q),
                                       q->pending_reason, &err)) {
            quorum_do_failover(q);
        } else {
            g_message("%s", err->message);
            g_error_free(err);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Corosync.                                                           */

static void quorum_schedule_retry(ColoQuorum *q);

#ifdef CONFIG_COROSYNC
static void quorum_disconnect(ColoQuorum *q)
{
    fd_watch_stop(&q->vq_watch);
    fd_watch_stop(&q->cpg_watch);
    if (q->vq) {
        votequorum_finalize(q->vq);
        q->vq = 0;
    }
    if (q->cpg) {
        cpg_finalize(q->cpg);
        q->cpg = 0;
    }
    q->connected = FALSE;
    q->quorate = FALSE;
    q->n_members = 0;
    q->n_vq_nodes = 0;
    q->n_ring_nodes = 0;
    q->cpg_ring_known = FALSE;
}

static void quorum_lost_connection(ColoQuorum *q, const char *what, int rc)
{
    g_warning("colo-quorum '%s': %s: corosync error %d: connection lost; "
              "retrying every %d ms", q_id(q), what, rc, QUORUM_RETRY_MS);
    quorum_disconnect(q);
    quorum_update(q, "corosync connection lost");
    quorum_schedule_retry(q);
}

static void vq_quorum_notify(votequorum_handle_t h, uint64_t ctx,
                             uint32_t quorate, uint32_t n,
                             votequorum_node_t nodes[])
{
    ColoQuorum *q = (ColoQuorum *) (uintptr_t) ctx;
    unsigned k = 0;

    for (uint32_t i = 0; i < n && k < QUORUM_MAX_NODES; i++) {
        if (nodes[i].state == VOTEQUORUM_NODESTATE_MEMBER) {
            q->vq_nodes[k++] = nodes[i].nodeid;
        }
    }
    q->n_vq_nodes = k;
    q->quorate = quorate != 0;
    quorum_update(q, quorate ? "quorate" : "quorum lost");
}

static void vq_nodelist_notify(votequorum_handle_t h, uint64_t ctx,
                               votequorum_ring_id_t ring, uint32_t n,
                               uint32_t nodes[])
{
    /* the quorum notification that follows carries the same nodes */
}

static void vq_expected_notify(votequorum_handle_t h, uint64_t ctx,
                               uint32_t expected)
{
}

static QuorumMember *member_find(ColoQuorum *q, uint32_t nodeid,
                                 uint32_t pid)
{
    for (unsigned i = 0; i < q->n_members; i++) {
        if (q->members[i].nodeid == nodeid && q->members[i].pid == pid) {
            return &q->members[i];
        }
    }
    return NULL;
}

static void cpg_deliver(cpg_handle_t h, const struct cpg_name *group,
                        uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
    ColoQuorum *q;
    QuorumMember tmp, *m;

    if (cpg_context_get(h, (void **) &q) != CS_OK || !q) {
        return;
    }
    if (nodeid == q->node_id && pid == (uint32_t) getpid()) {
        return;                /* our own announcement */
    }
    m = member_find(q, nodeid, pid);
    if (!announce_decode(msg, len, &tmp)) {
        q->bad_messages++;
        if (m && !m->announced) {
            /* never a valid word from it: not a colo-proxy, so neither a
             * peer nor one whose announcement is awaited */
            m->bad = TRUE;
            quorum_update(q, "garbage from a group member");
        }
        LOG_WARN_RL("colo-quorum '%s': %zu-byte message from node %" PRIu32
                     " pid %" PRIu32 " in group '%s' is not an announcement;"
                     " ignored", q_id(q), len, nodeid, pid, q->group);
        return;
    }
    if (!m) {
        return;                /* not (yet) a member: confchg comes first */
    }
    m->mode = tmp.mode;
    m->last_mode = tmp.last_mode;
    m->failed_over = tmp.failed_over;
    m->epoch = tmp.epoch;
    m->announced = TRUE;
    m->bad = FALSE;
    quorum_peer_state(q, m);
    quorum_update(q, "peer announced");
}

static void cpg_confchg(cpg_handle_t h, const struct cpg_name *group,
                        const struct cpg_address *members, size_t n,
                        const struct cpg_address *left, size_t n_left,
                        const struct cpg_address *joined, size_t n_joined)
{
    ColoQuorum *q;
    QuorumMember old[QUORUM_MAX_NODES];
    unsigned n_old;

    if (cpg_context_get(h, (void **) &q) != CS_OK || !q) {
        return;
    }
    n_old = q->n_members;
    memcpy(old, q->members, n_old * sizeof(old[0]));
    q->n_members = 0;
    for (size_t i = 0; i < n && q->n_members < QUORUM_MAX_NODES; i++) {
        QuorumMember *m = &q->members[q->n_members++];

        memset(m, 0, sizeof(*m));
        m->nodeid = members[i].nodeid;
        m->pid = members[i].pid;
        /* there before us (our first configuration), or back from the
         * other side of a partition: it may have served meanwhile */
        m->awaited = n_old == 0;
        for (size_t j = 0; j < n_joined; j++) {
            if (joined[j].nodeid == m->nodeid && joined[j].pid == m->pid &&
                joined[j].reason == CPG_REASON_NODEUP) {
                m->awaited = TRUE;
            }
        }
        /* a member's state is kept, but it must announce again for this
         * configuration (a merge may have changed its mind) */
        for (unsigned j = 0; j < n_old; j++) {
            if (old[j].nodeid == m->nodeid && old[j].pid == m->pid) {
                gboolean awaited = m->awaited;

                /* continuously in our partition: what it said holds */
                *m = old[j];
                m->awaited = awaited || old[j].awaited;
            }
        }
    }
    for (size_t i = 0; i < n_left; i++) {
        if (left[i].reason == CPG_REASON_NODEDOWN) {
            /* a ring change: the totem change that follows names it, and
             * until votequorum agrees with it nothing is decided */
            q->cpg_ring_known = FALSE;
        }
        g_message("colo-quorum '%s': node %" PRIu32 " pid %" PRIu32
                  " left group '%s' (reason %u)", q_id(q), left[i].nodeid,
                  left[i].pid, q->group, left[i].reason);
    }
    for (size_t i = 0; i < n_joined; i++) {
        if (joined[i].reason == CPG_REASON_NODEUP) {
            q->cpg_ring_known = FALSE;
        }
        g_message("colo-quorum '%s': node %" PRIu32 " pid %" PRIu32
                  " joined group '%s'", q_id(q), joined[i].nodeid,
                  joined[i].pid, q->group);
    }
    quorum_announce(q);
    quorum_update(q, "group change");
}

static void cpg_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n,
                      const uint32_t *members)
{
    ColoQuorum *q;

    if (cpg_context_get(h, (void **) &q) != CS_OK || !q) {
        return;
    }
    q->n_ring_nodes = MIN(n, QUORUM_MAX_NODES);
    memcpy(q->ring_nodes, members, q->n_ring_nodes * sizeof(members[0]));
    q->cpg_ring_known = TRUE;
    quorum_update(q, "ring");
}

static void vq_readable(void *opaque, GIOCondition cond)
{
    ColoQuorum *q = opaque;
    cs_error_t rc = votequorum_dispatch(q->vq, CS_DISPATCH_ALL);

    if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN) {
        quorum_lost_connection(q, "votequorum", rc);
    }
}

static void cpg_readable(void *opaque, GIOCondition cond)
{
    ColoQuorum *q = opaque;
    cs_error_t rc = cpg_dispatch(q->cpg, CS_DISPATCH_ALL);

    if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN) {
        quorum_lost_connection(q, "cpg", rc);
    }
}

static gboolean quorum_connect(ColoQuorum *q, GError **errp)
{
    votequorum_callbacks_t vcb = {
        .votequorum_quorum_notify_fn = vq_quorum_notify,
        .votequorum_expectedvotes_notify_fn = vq_expected_notify,
        .votequorum_nodelist_notify_fn = vq_nodelist_notify,
    };
    cpg_model_v1_data_t model = {
        .model = CPG_MODEL_V1,
        .cpg_deliver_fn = cpg_deliver,
        .cpg_confchg_fn = cpg_confchg,
        .cpg_totem_confchg_fn = cpg_totem,
        .flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
    };
    struct cpg_name name = { 0 };
    unsigned int local = 0;
    int vfd = -1, cfd = -1;
    cs_error_t rc;
    const char *step;

    name.length = (uint32_t) strlen(q->group);
    memcpy(name.value, q->group, name.length);
    step = "votequorum_initialize";
    rc = votequorum_initialize(&q->vq, &vcb);
    if (rc != CS_OK) {
        q->vq = 0;
        goto fail;
    }
    step = "votequorum_context_set";
    rc = votequorum_context_set(q->vq, q);
    if (rc != CS_OK) {
        goto fail;
    }
    step = "cpg_model_initialize";
    rc = cpg_model_initialize(&q->cpg, CPG_MODEL_V1,
                              (cpg_model_data_t *) &model, q);
    if (rc != CS_OK) {
        q->cpg = 0;
        goto fail;
    }
    step = "cpg_local_get";
    rc = cpg_local_get(q->cpg, &local);
    if (rc != CS_OK) {
        goto fail;
    }
    q->node_id = local;
    step = "fd_get";
    if ((rc = votequorum_fd_get(q->vq, &vfd)) != CS_OK ||
        (rc = cpg_fd_get(q->cpg, &cfd)) != CS_OK) {
        goto fail;
    }
    q->connected = TRUE;
    fd_watch_start(&q->vq_watch, vfd, G_IO_IN, vq_readable, q,
                   "colo-quorum votequorum");
    fd_watch_start(&q->cpg_watch, cfd, G_IO_IN, cpg_readable, q,
                   "colo-quorum cpg");
    step = "votequorum_trackstart";
    rc = votequorum_trackstart(q->vq, (uint64_t) (uintptr_t) q,
                               CS_TRACK_CURRENT | CS_TRACK_CHANGES);
    if (rc != CS_OK) {
        goto fail;
    }
    step = "cpg_join";
    rc = cpg_join(q->cpg, &name);
    if (rc != CS_OK) {
        goto fail;
    }
    g_message("colo-quorum '%s': connected to corosync as node %" PRIu32
              ", group '%s'", q_id(q), q->node_id, q->group);
    q->warned_connect = FALSE;
    return TRUE;

fail:
    g_set_error(errp, UTIL_ERROR, UTIL_ERROR_GENERIC,
                "%s: corosync error %d%s", step, (int) rc,
                rc == CS_ERR_LIBRARY ? " (is corosync running?)" : "");
    quorum_disconnect(q);
    return FALSE;
}
#endif /* CONFIG_COROSYNC */

static gboolean quorum_retry(gpointer opaque)
{
    ColoQuorum *q = opaque;

    q->retry_timer = 0;
#ifdef CONFIG_COROSYNC
    {
        GError *err = NULL;

        if (!quorum_connect(q, &err)) {
            if (!q->warned_connect) {
                g_warning("colo-quorum '%s': %s; retrying every %d ms",
                          q_id(q), err->message, QUORUM_RETRY_MS);
                q->warned_connect = TRUE;
            }
            g_error_free(err);
            quorum_schedule_retry(q);
        }
        quorum_update(q, "corosync connection");
    }
#endif
    return G_SOURCE_REMOVE;
}

G_GNUC_UNUSED static void quorum_schedule_retry(ColoQuorum *q)
{
    if (!q->retry_timer) {
        q->retry_timer = g_timeout_add(QUORUM_RETRY_MS, quorum_retry, q);
    }
}

/* ------------------------------------------------------------------ */
/* The filter.                                                         */

static NetFilterVerdict colo_quorum_receive(NetFilter *nf, NetClient *sender,
                                            NetFilterDirection dir,
                                            const uint8_t *buf, size_t len)
{
    ColoQuorum *q = COLO_QUORUM(nf);

    if (G_LIKELY(q->gate_open)) {
        q->passed++;
        return NETFILTER_PASS;
    }
    q->held++;
    return NETFILTER_STOLEN;
}

static gboolean colo_quorum_setup(NetFilter *nf, GError **errp)
{
    ColoQuorum *q = COLO_QUORUM(nf);

    for (GList *l = quorums; l; l = l->next) {
        ColoQuorum *o = l->data;

        /* one per pair: two would answer one failover differently */
        if (!q_frame(o) || !q_frame(q) ||
            g_str_equal(q_frame(o), q_frame(q))) {
            error_setg(errp, "colo-quorum '%s' already decides for %s%s%s; "
                       "one colo-quorum per VM pair (frame=)", q_id(o),
                       q_frame(o) ? "colo-frame '" : "this process's pair",
                       q_frame(o) ? q_frame(o) : "",
                       q_frame(o) ? "'" : "");
            return FALSE;
        }
        /* a pair's colo-proxies meet in its group: two pairs in one
         * group would read each other's announcements as their peer's */
        if (g_strcmp0(o->group, q->group) == 0) {
            error_setg(errp, "colo-quorum '%s' already uses group '%s'; give "
                       "each pair's colo-quorum its own group= (the same "
                       "on both hosts)", q_id(o), q->group);
            return FALSE;
        }
    }
    if (!q->group || !*q->group || strlen(q->group) >= 128) {
        error_setg(errp, "colo-quorum: 'group' must be 1 to 127 characters");
        return FALSE;
    }
    if (q->provider == QUORUM_PROVIDER_COROSYNC) {
#ifdef CONFIG_COROSYNC
        GError *err = NULL;

        if (!quorum_connect(q, &err)) {
            /* corosync may start after us: hold, and keep trying */
            g_warning("colo-quorum '%s': %s; output held, retrying every "
                      "%d ms", q_id(q), err->message, QUORUM_RETRY_MS);
            q->warned_connect = TRUE;
            g_error_free(err);
            quorum_schedule_retry(q);
        }
#else
        error_setg(errp, "colo-quorum: provider 'corosync' is not available: "
                   "colo-proxy was built without corosync (install "
                   "libcpg-dev libvotequorum-dev, meson setup "
                   "-Dcorosync=enabled)");
        return FALSE;
#endif
    }
    quorums = g_list_append(quorums, q);
    quorum_update(q, "created");
    return TRUE;
}

static void colo_quorum_stop(ColoQuorum *q)
{
    quorums = g_list_remove(quorums, q);
    if (q->retry_timer) {
        g_source_remove(q->retry_timer);
        q->retry_timer = 0;
    }
    if (q->announce_timer) {
        g_source_remove(q->announce_timer);
        q->announce_timer = 0;
    }
    if (q->fence_timer) {
        g_source_remove(q->fence_timer);
        q->fence_timer = 0;
    }
    if (q->fence_child) {
        g_source_remove(q->fence_child);
        q->fence_child = 0;
    }
#ifdef CONFIG_COROSYNC
    quorum_disconnect(q);
#endif
}

static void colo_quorum_cleanup(NetFilter *nf)
{
    colo_quorum_stop(COLO_QUORUM(nf));
}

static void colo_quorum_fill_stats(NetFilter *nf, void *opaque)
{
    ColoQuorum *q = COLO_QUORUM(nf);
    JsonObject *obj = opaque;

    json_object_set_int_member(obj, "held", (gint64) q->held);
    json_object_set_int_member(obj, "passed", (gint64) q->passed);
}

/* ------------------------------------------------------------------ */
/* Properties and class.                                               */

static GType quorum_provider_get_type(void)
{
    static GType type;
    static const GEnumValue values[] = {
        { QUORUM_PROVIDER_COROSYNC, "QUORUM_PROVIDER_COROSYNC", "corosync" },
        { QUORUM_PROVIDER_MANUAL, "QUORUM_PROVIDER_MANUAL", "manual" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type, g_enum_register_static("ColoQuorumProvider",
                                                        values));
    }
    return type;
}

/* x-quorate and x-peer-present stand in for corosync: with corosync
 * they would lie about what it reports. */
static gboolean quorum_manual_only(UserObject *obj, const char *name,
                                   GError **errp)
{
    if (COLO_QUORUM(obj)->provider != QUORUM_PROVIDER_MANUAL) {
        error_setg(errp, "colo-quorum: '%s' is for provider=manual only",
                   name);
        return FALSE;
    }
    return TRUE;
}

static gboolean colo_quorum_x_quorate_check(UserObject *obj,
                                            const GValue *value,
                                            GError **errp)
{
    (void)value;
    return quorum_manual_only(obj, "x-quorate", errp);
}

static gboolean colo_quorum_x_peer_check(UserObject *obj, const GValue *value,
                                         GError **errp)
{
    (void)value;
    return quorum_manual_only(obj, "x-peer-present", errp);
}

/* Only this node's own decisions mark it stale (quorum.c above); the
 * operator may only clear the mark, once the node was re-protected. */
static gboolean colo_quorum_stale_check(UserObject *obj, const GValue *value,
                                        GError **errp)
{
    (void)obj;
    if (g_value_get_boolean(value)) {
        error_setg(errp, "colo-quorum: 'stale' can only be cleared");
        return FALSE;
    }
    return TRUE;
}

static void colo_quorum_stale_set(UserObject *obj, const GValue *value)
{
    ColoQuorum *q = COLO_QUORUM(obj);

    if (!g_value_get_boolean(value) && q->stale) {
        g_message("colo-quorum '%s': stale mark cleared by the operator",
                  q_id(q));
    }
    q->stale = g_value_get_boolean(value) && q->stale;
}

/* A runtime change (qom-set) is a new input to the decision. */
static void colo_quorum_changed(UserObject *obj)
{
    ColoQuorum *q = COLO_QUORUM(obj);

    if (user_object_is_complete(obj) && g_list_find(quorums, q)) {
        quorum_update(q, "property changed");
    }
}

static const PropDef colo_quorum_props[] = {
    DEFINE_PROP_ENUM("provider", ColoQuorum, provider,
        quorum_provider_get_type, QUORUM_PROVIDER_COROSYNC, 0,
        "where quorum comes from: corosync (votequorum and CPG), or manual "
        "(x-quorate and x-peer-present, for tests)"),
    DEFINE_PROP_STR("group", ColoQuorum, group, QUORUM_GROUP_DEFAULT, 0,
        "CPG group the pair's colo-proxies join"),
    DEFINE_PROP_BOOL("failover", ColoQuorum, failover, FALSE, PROP_RUNTIME,
        "fail this side over when the peer colo-proxy leaves the membership "
        "while this node is quorate",
        .changed = colo_quorum_changed),
    DEFINE_PROP_STR("fence", ColoQuorum, fence, NULL, PROP_RUNTIME,
        "command (sh -c) run before this side promotes; COLO_FENCE_NODES, "
        "COLO_FENCE_MODE (and COLO_FENCE_FRAME with frame=) in its "
        "environment",
        .changed = colo_quorum_changed),
    DEFINE_PROP_BOOL("fence-wait", ColoQuorum, fence_wait, TRUE, PROP_RUNTIME,
        "promote only once the fence command exited 0",
        .changed = colo_quorum_changed),
    DEFINE_PROP_UINT("fence-timeout", ColoQuorum, fence_timeout_ms,
        1, 3600 * 1000, FENCE_TIMEOUT_DEFAULT, PROP_RUNTIME,
        "milliseconds the fence command may take (then it counts as failed)",
        .changed = colo_quorum_changed),
    DEFINE_PROP_BOOL("x-quorate", ColoQuorum, x_quorate, FALSE, PROP_RUNTIME,
        "provider=manual: whether this node is quorate",
        .check = colo_quorum_x_quorate_check,
        .changed = colo_quorum_changed),
    DEFINE_PROP_BOOL("x-peer-present", ColoQuorum, x_peer, FALSE,
        PROP_RUNTIME,
        "provider=manual: whether the peer colo-proxy is a member",
        .check = colo_quorum_x_peer_check,
        .changed = colo_quorum_changed),
    DEFINE_PROP_BOOL("stale", ColoQuorum, stale, FALSE, PROP_RUNTIME,
        "this node learnt that its peer served after it: output held, no "
        "promotion; set to off once the node was re-protected",
        .check = colo_quorum_stale_check, .set = colo_quorum_stale_set,
        .changed = colo_quorum_changed),
};

static void colo_quorum_finalize(GObject *o)
{
    ColoQuorum *q = COLO_QUORUM(o);

    /* group and fence are freed by the table (colo_quorum_props) */
    colo_quorum_stop(q);
    G_OBJECT_CLASS(colo_quorum_parent_class)->finalize(o);
}

static void colo_quorum_init(ColoQuorum *q)
{
    /* our properties start at their defaults (colo_quorum_props); the
     * guest's output, visited last: at the head of the chain */
    g_object_set(q, "queue", NET_FILTER_DIRECTION_RX, "position", "head",
                 NULL);
}

/* A checkpoint loaded on a secondary: its guest is a copy of the
 * serving primary's again.  Only the side that serves now can send one
 * (a primary that ran alone has left COLO, so it takes a fresh migration
 * into this node's QEMU, i.e. re-protection), so a stale secondary -- the
 * loser of a partition, or a fresh secondary that joined while its
 * primary still ran alone -- is re-protected by it: the pair clears the
 * mark itself, and this node may promote again.  A stale primary never
 * gets here (it is not a secondary): it stays held until it is restarted
 * as a secondary (docs/ha.md §4). */
static gboolean colo_quorum_handle_event(NetFilter *nf,
                                         const ColoEventInfo *ev,
                                         GError **errp)
{
    ColoQuorum *q = COLO_QUORUM(nf);

    if (ev->event != COLO_EVENT_CHECKPOINT || !q->stale ||
        q_mode(q) != COLO_MODE_SECONDARY || q_failed_over(q)) {
        return TRUE;
    }
    q->stale = FALSE;
    q->reprotected++;
    /* the pair is the serving primary's now: its epoch (the highest in the
     * group, raised by the failover that made this node stale) */
    for (unsigned i = 0; i < q->n_members; i++) {
        q->epoch = MAX(q->epoch, q->members[i].epoch);
    }
    g_message("colo-quorum '%s': a checkpoint from the primary was loaded: "
              "this node is re-protected, the stale mark is cleared",
              q_id(q));
    quorum_update(q, "re-protected: a checkpoint was loaded");
    quorum_announce(q);
    return TRUE;
}

static void colo_quorum_class_init(ColoQuorumClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetFilterClass *fc = NET_FILTER_CLASS(klass);

    oc->finalize = colo_quorum_finalize;
    uc->description = "failover decided on corosync's quorum and "
                      "membership; holds the guest's output while this "
                      "node may not serve";
    fc->setup = colo_quorum_setup;
    fc->cleanup = colo_quorum_cleanup;
    fc->receive = colo_quorum_receive;
    fc->fill_stats = colo_quorum_fill_stats;
    fc->handle_event = colo_quorum_handle_event;

    object_class_install_props(oc, colo_quorum_props);
}

static void colo_quorum_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "colo-quorum", COLO_TYPE_QUORUM);
}
type_init(colo_quorum_register)

/* ------------------------------------------------------------------ */
/* QMP (qapi/quorum.json).                                             */

gboolean qmp_query_colo_quorum(JsonObject *args, JsonNode **ret,
                               GError **errp);

gboolean qmp_query_colo_quorum(JsonObject *args, JsonNode **ret,
                               GError **errp)
{
    JsonArray *arr = json_array_new();

    for (GList *l = quorums; l; l = l->next) {
        ColoQuorum *q = l->data;
        JsonObject *o = json_object_new();
        JsonArray *nodes = json_array_new();
        JsonArray *group = json_array_new();
        const char *block = quorum_block_reason(q);

        for (unsigned i = 0; i < q->n_vq_nodes; i++) {
            json_array_add_int_element(nodes, q->vq_nodes[i]);
        }
        for (unsigned i = 0; i < q->n_members; i++) {
            JsonObject *m = json_object_new();

            json_object_set_int_member(m, "node-id", q->members[i].nodeid);
            json_object_set_int_member(m, "pid", q->members[i].pid);
            json_object_set_boolean_member(m, "announced",
                                           q->members[i].announced);
            json_object_set_string_member(m, "mode",
                colo_mode_name(q->members[i].mode));
            json_object_set_boolean_member(m, "failed-over",
                                           q->members[i].failed_over);
            json_object_set_int_member(m, "epoch",
                                       (gint64) q->members[i].epoch);
            json_array_add_object_element(group, m);
        }
        json_object_set_string_member(o, "id", q_id(q));
        q_add_frame(q, o);
        json_object_set_string_member(o, "provider",
            q->provider == QUORUM_PROVIDER_MANUAL ? "manual" : "corosync");
        json_object_set_boolean_member(o, "connected",
            q->provider == QUORUM_PROVIDER_MANUAL || q->connected);
        json_object_set_int_member(o, "node-id", q->node_id);
        json_object_set_boolean_member(o, "quorate", quorum_is_quorate(q));
        json_object_set_boolean_member(o, "output-held", !q->gate_open);
        if (block) {
            json_object_set_string_member(o, "held-reason", block);
        }
        json_object_set_boolean_member(o, "stale", q->stale);
        json_object_set_int_member(o, "epoch", (gint64) q->epoch);
        json_object_set_array_member(o, "nodes", nodes);
        json_object_set_array_member(o, "group", group);
        json_object_set_boolean_member(o, "peer-present",
                                       quorum_peer_present(q));
        json_object_set_boolean_member(o, "failover-pending", q->pending);
        json_object_set_boolean_member(o, "fencing", q->fence_pid != 0);
        json_object_set_int_member(o, "held", (gint64) q->held);
        json_object_set_int_member(o, "passed", (gint64) q->passed);
        json_object_set_int_member(o, "bad-messages",
                                   (gint64) q->bad_messages);
        json_object_set_int_member(o, "refused", (gint64) q->refused);
        json_object_set_int_member(o, "deferred", (gint64) q->deferred);
        json_object_set_int_member(o, "changes", (gint64) q->changes);
        json_object_set_int_member(o, "failovers", (gint64) q->failovers);
        json_object_set_int_member(o, "fence-runs", (gint64) q->fence_runs);
        json_object_set_int_member(o, "fence-failures",
                                   (gint64) q->fence_failures);
        json_object_set_int_member(o, "reprotected",
                                   (gint64) q->reprotected);
        json_array_add_object_element(arr, o);
    }
    *ret = json_node_init_array(json_node_alloc(), arr);
    json_array_unref(arr);
    return TRUE;
}
