/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/filter-rewriter.c - "filter-rewriter": keeps the COLO secondary
 * guest's TCP connections in the primary's sequence space.
 *
 *   -object filter-rewriter,id=rew0,netdev=hn0,queue=all
 *           [,vnet_hdr_support=on|off][,max-connections=16384]
 *           [,idle-timeout=7500][,linger=60]
 *
 * A NetFilter (net/filter.c) around the pure engine of net/rewriter-engine.c.
 * QEMU's topology: on the secondary, queue=all, after the redirectors, so
 * the client's frames injected by the tx redirector (and, after failover,
 * the netdev's own) reach it on their way to the guest (tx), and the
 * guest's frames reach it first on their way out (rx).
 *
 * A frame that needs no change passes (NETFILTER_PASS, no copy).  A frame
 * to rewrite is copied once into a per-filter scratch buffer (the chain
 * hands receive() a const buffer), rewritten there and sent on after the
 * filter with netfilter_pass_to_next(); receive() then returns
 * NETFILTER_STOLEN.  The scratch buffer grows to the largest frame seen,
 * bounded by FILTER_REWRITER_FRAME_MAX; nothing is allocated per frame
 * in steady state.  A frame arriving while the scratch buffer is in use
 * (the next hop answered synchronously into the chain) is rewritten in a
 * temporary copy, counted.
 *
 * Held frames: a client segment that overtakes the guest's SYN-ACK (the
 * engine says REWRITER_HOLD) is copied into a bounded queue and submitted
 * again, in order, right after the SYN-ACK has passed, on a checkpoint,
 * and at the earliest time the engine said a held frame's hold runs out
 * (RewriterAction.hold_until; then it passes untranslated).  That
 * deadline is a timer armed only while something is held: an idle
 * rewriter, or one whose held frames wait for a SYN-ACK that comes in
 * time, never wakes up for them.  Only handshakes hold; the queue
 * recycles its buffers.
 *
 * vnet headers: frames in the chain carry the netdev's vnet header exactly
 * when the netdev has one (include/net/net.h), so the engine always skips
 * net_client_get_vnet_hdr_len() bytes.  vnet_hdr_support is accepted for
 * QEMU's command lines and reported, and changes nothing (QEMU parses at
 * the wrong offset when it does not match the netdev).
 *
 * COLO events: CHECKPOINT zeroes every offset; FAILOVER keeps translating
 * the connections already tracked for as long as they live, lets new ones
 * pass untouched, and never switches the filter off (as in QEMU, which
 * however only enters this mode if no offset is set).
 *
 * Threads: main context (receive, timer, events, stats).
 */
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "net/filter.h"
#include "net/queue.h"
#include "net/rewriter-engine.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/log.h"
#include "util/stats.h"

/* Largest frame rewritten: a 64 KiB GSO datagram behind the vnet and L2
 * headers.  Larger frames pass untouched (counted). */
#define FILTER_REWRITER_FRAME_MAX   (65536u + 256u)
#define FILTER_REWRITER_EXPIRE_MS   1000u
#define FILTER_REWRITER_EXPIRE_BUDGET 1024u
/* Frames held waiting for a guest SYN-ACK (REWRITER_HOLD), at most. */
#define FILTER_REWRITER_HOLD_MAX    1024u

#define FILTER_TYPE_REWRITER (filter_rewriter_get_type())
G_DECLARE_FINAL_TYPE(FilterRewriter, filter_rewriter, FILTER, REWRITER,
                     NetFilter)

struct _FilterRewriter {
    NetFilter parent_instance;

    /* properties */
    gboolean vnet_hdr;          /* vnet_hdr_support= (informational) */
    guint max_connections;      /* max-connections= */
    guint idle_timeout;         /* idle-timeout=: seconds */
    guint linger;               /* linger=: seconds */
    /* state */
    Rewriter *rw;               /* NULL until setup() */
    guint expire_id;            /* periodic rewriter_expire() */
    uint8_t *scratch;           /* rewrite buffer, scratch_size bytes */
    size_t scratch_size;
    bool scratch_busy;          /* inside netfilter_pass_to_next() */
    NetQueue held;              /* REWRITER_HOLD frames, tag = direction */
    GSource *hold_timer;        /* at hold_deadline; disarmed (-1) when
                                 * nothing is held */
    int64_t hold_deadline;      /* earliest hold_until of 'held', or 0 */
    bool releasing;             /* inside filter_rewriter_release__() */
    uint64_t hold_full;         /* frames passed: 'held' was full */
    uint64_t held_frames;       /* frames taken into 'held' */
    uint64_t too_big;           /* frames to rewrite > FRAME_MAX: passed */
    uint64_t reentrant_copies;  /* rewritten in a temporary copy */
};

G_DEFINE_FINAL_TYPE(FilterRewriter, filter_rewriter, NET_TYPE_FILTER)

static gboolean filter_rewriter_expire_cb(gpointer opaque)
{
    FilterRewriter *s = opaque;

    rewriter_expire(s->rw, g_get_monotonic_time(),
                    FILTER_REWRITER_EXPIRE_BUDGET);
    return G_SOURCE_CONTINUE;
}

static void filter_rewriter_release__(FilterRewriter *s);

/* Notes that a held frame's hold runs out at 'until'. */
static void filter_rewriter_hold_until__(FilterRewriter *s, int64_t until)
{
    if (s->hold_deadline == 0 || until < s->hold_deadline) {
        s->hold_deadline = until;
    }
}

/* Arms the hold timer for the earliest deadline, or disarms it when
 * nothing is held. */
static void filter_rewriter_arm_hold__(FilterRewriter *s)
{
    if (!s->hold_timer) {
        return;
    }
    if (net_queue_is_empty(&s->held)) {
        s->hold_deadline = 0;
    }
    g_source_set_ready_time(s->hold_timer,
                            s->hold_deadline ? s->hold_deadline : -1);
}

/* A hold ran out: submit the held frames again (the release re-arms). */
static gboolean hold_timer_dispatch(GSource *src, GSourceFunc cb,
                                    gpointer data)
{
    FilterRewriter *s = data;

    g_source_set_ready_time(src, -1);
    filter_rewriter_release__(s);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs hold_timer_funcs = {
    .dispatch = hold_timer_dispatch,
};

static gboolean filter_rewriter_setup(NetFilter *nf, GError **errp)
{
    FilterRewriter *s = FILTER_REWRITER(nf);
    RewriterConfig cfg = {
        .vnet_hdr_len = net_client_get_vnet_hdr_len(netfilter_get_netdev(nf)),
        .max_connections = s->max_connections,
        .idle_timeout_us = (int64_t)s->idle_timeout * G_USEC_PER_SEC,
        .linger_us = (int64_t)s->linger * G_USEC_PER_SEC,
    };

    s->rw = rewriter_new(&cfg);
    s->expire_id = g_timeout_add(FILTER_REWRITER_EXPIRE_MS,
                                 filter_rewriter_expire_cb, s);
    s->hold_timer = g_source_new(&hold_timer_funcs, sizeof(GSource));
    g_source_set_name(s->hold_timer, "filter-rewriter hold");
    /* The source holds no reference: teardown destroys it first. */
    g_source_set_callback(s->hold_timer, NULL, s, NULL);
    g_source_attach(s->hold_timer, NULL);
    return TRUE;
}

static void filter_rewriter_teardown__(FilterRewriter *s)
{
    if (s->hold_timer) {
        g_source_destroy(s->hold_timer);
        g_source_unref(s->hold_timer);
        s->hold_timer = NULL;
    }
    s->hold_deadline = 0;
    if (s->expire_id) {
        g_source_remove(s->expire_id);
        s->expire_id = 0;
    }
    rewriter_free(s->rw);
    s->rw = NULL;
}

static void filter_rewriter_cleanup(NetFilter *nf)
{
    FilterRewriter *s = FILTER_REWRITER(nf);

    /* still at our place in the chain: held frames go out as they are */
    if (!s->releasing) {
        while (!net_queue_is_empty(&s->held)) {
            const NetQueueEntry *e = net_queue_peek(&s->held);

            netfilter_pass_to_next(nf, (NetFilterDirection)e->tag, e->data,
                                   e->len);
            net_queue_pop(&s->held);
        }
    }
    filter_rewriter_teardown__(s);
}

/* Sends 'buf' on after the filter with 'act' applied (a copy in the
 * scratch buffer, or in a temporary one if that is in use). */
static void filter_rewriter_emit__(FilterRewriter *s, NetFilterDirection dir,
                                   const uint8_t *buf, size_t len,
                                   const RewriterAction *act)
{
    NetFilter *nf = NET_FILTER(s);
    uint8_t *out;

    if (G_UNLIKELY(len > FILTER_REWRITER_FRAME_MAX)) {
        /* held frames come here too: the bound is kept in one place */
        stats_inc(&s->too_big);
        LOG_WARN_RL("filter-rewriter '%s': %zu-byte frame too large "
                     "to rewrite, passed untranslated",
                     netfilter_get_id(nf), len);
        netfilter_pass_to_next(nf, dir, buf, len);
        return;
    }
    if (G_UNLIKELY(s->scratch_busy)) {
        /* rare: a frame produced while the last one is on its way */
        out = g_memdup2(buf, len);
        stats_inc(&s->reentrant_copies);
        rewriter_apply(act, out);
        netfilter_pass_to_next(nf, dir, out, len);
        g_free(out);
        return;
    }
    if (G_UNLIKELY(len > s->scratch_size)) {
        /* grows to the largest frame seen, then stays */
        s->scratch_size = MAX(len, 2048u);
        s->scratch = g_realloc(s->scratch, s->scratch_size);
    }
    memcpy(s->scratch, buf, len);
    rewriter_apply(act, s->scratch);
    s->scratch_busy = true;
    netfilter_pass_to_next(nf, dir, s->scratch, len);
    s->scratch_busy = false;
}

static RewriterResult filter_rewriter_process__(FilterRewriter *s,
                                                NetFilterDirection dir,
                                                const uint8_t *buf,
                                                size_t len,
                                                RewriterAction *act)
{
    NetFilter *nf = NET_FILTER(s);

    rewriter_set_vnet_hdr_len(s->rw, net_client_get_vnet_hdr_len(
                                  netfilter_get_netdev(nf)));
    return rewriter_process(s->rw, buf, len,
                            dir == NET_FILTER_DIRECTION_TX ?
                            REWRITER_TO_GUEST : REWRITER_FROM_GUEST,
                            g_get_monotonic_time(), act);
}

/* Keeps a copy of a REWRITER_HOLD frame.  FALSE when the queue is full
 * (the caller passes the frame untranslated). */
static bool filter_rewriter_hold__(FilterRewriter *s, NetFilterDirection dir,
                                   const uint8_t *buf, size_t len,
                                   const RewriterAction *act)
{
    if (!net_queue_push(&s->held, buf, len, dir)) {
        stats_inc(&s->hold_full);
        LOG_WARN_RL("filter-rewriter '%s': %u frames held waiting for "
                     "guest SYN-ACKs, frame passed untranslated",
                     netfilter_get_id(NET_FILTER(s)),
                     FILTER_REWRITER_HOLD_MAX);
        return false;
    }
    stats_inc(&s->held_frames);
    filter_rewriter_hold_until__(s, act->hold_until);
    filter_rewriter_arm_hold__(s);
    return true;
}

static gssize release_one__(void *opaque, const uint8_t *buf, size_t len,
                            uint32_t tag)
{
    FilterRewriter *s = opaque;
    NetFilterDirection dir = (NetFilterDirection)tag;
    RewriterAction act;

    switch (filter_rewriter_process__(s, dir, buf, len, &act)) {
    case REWRITER_HOLD:
        /* Still waiting: behind the others, order kept.  The entry being
         * looked at still occupies its slot, so on a full queue the push
         * would fail and lose the frame: leave it at the head instead and
         * stop this release (its deadline or a SYN-ACK resumes it; the
         * frames behind it wait for it in any case, so its deadline is
         * the one that matters). */
        filter_rewriter_hold_until__(s, act.hold_until);
        if (net_queue_len(&s->held) >= s->held.limit) {
            return 0;
        }
        net_queue_push(&s->held, buf, len, tag);
        break;
    case REWRITER_REWRITTEN:
        filter_rewriter_emit__(s, dir, buf, len, &act);
        break;
    default:
        netfilter_pass_to_next(NET_FILTER(s), dir, buf, len);
        break;
    }
    return (gssize)len + 1;
}

/* Submits every held frame to the engine again, oldest first: those whose
 * connection learned its offsets (or whose hold ran out) go on. */
static void filter_rewriter_release__(FilterRewriter *s)
{
    if (s->releasing || !s->rw || net_queue_is_empty(&s->held)) {
        return;
    }
    s->releasing = true;
    g_object_ref(s);
    /* every frame still held after the flush was looked at again (or
     * waits behind one that was): the deadline is recomputed from them */
    s->hold_deadline = 0;
    net_queue_flush(&s->held, release_one__, s, net_queue_len(&s->held));
    s->releasing = false;
    filter_rewriter_arm_hold__(s);
    g_object_unref(s);
}

static NetFilterVerdict filter_rewriter_receive(NetFilter *nf,
                                                NetClient *sender,
                                                NetFilterDirection dir,
                                                const uint8_t *buf,
                                                size_t len)
{
    FilterRewriter *s = FILTER_REWRITER(nf);
    RewriterAction act;
    RewriterResult r;

    if (G_UNLIKELY(!s->rw)) {
        return NETFILTER_PASS;
    }
    r = filter_rewriter_process__(s, dir, buf, len, &act);
    if (G_UNLIKELY(r == REWRITER_HOLD)) {
        return filter_rewriter_hold__(s, dir, buf, len, &act)
               ? NETFILTER_STOLEN : NETFILTER_PASS;
    }
    if (G_LIKELY(!act.release) && r != REWRITER_REWRITTEN) {
        return NETFILTER_PASS;
    }
    /* this frame first, then what it released */
    g_object_ref(s);
    if (r == REWRITER_REWRITTEN) {
        filter_rewriter_emit__(s, dir, buf, len, &act);
    } else {
        netfilter_pass_to_next(nf, dir, buf, len);
    }
    if (act.release) {
        filter_rewriter_release__(s);
    }
    g_object_unref(s);
    return NETFILTER_STOLEN;
}

static gboolean filter_rewriter_handle_event(NetFilter *nf,
                                             const ColoEventInfo *ev,
                                             GError **errp)
{
    FilterRewriter *s = FILTER_REWRITER(nf);

    if (!s->rw) {
        return TRUE;
    }
    switch (ev->event) {
    case COLO_EVENT_CHECKPOINT:
        rewriter_checkpoint(s->rw);
        filter_rewriter_release__(s);
        break;
    case COLO_EVENT_CHECKPOINT_BEGIN:
        /* the guest stopped to load the primary's state: offsets go now,
         * kept aside until the commit (include/net/rewriter-engine.h) */
        rewriter_checkpoint_load(s->rw);
        filter_rewriter_release__(s);
        break;
    case COLO_EVENT_FAILOVER:
        /* never switched off: live connections still need translating */
        rewriter_failover(s->rw);
        break;
    default:
        break;
    }
    return TRUE;
}

static void filter_rewriter_fill_stats(NetFilter *nf, void *opaque)
{
    FilterRewriter *s = FILTER_REWRITER(nf);
    JsonObject *o = opaque;
    RewriterStats st;

    if (!s->rw) {
        return;
    }
    rewriter_get_stats(s->rw, &st);
#define SET(name, v) json_object_set_int_member(o, name, (gint64)(v))
    SET("connections", st.connections);
    SET("max-connections", st.max_connections);
    SET("connections-with-offset", rewriter_count_offsets(s->rw));
    SET("opened-by-client", st.opened_by_client);
    SET("opened-by-guest", st.opened_by_guest);
    SET("offsets-learned", st.offsets_learned);
    SET("packets-tcp", st.packets_tcp);
    SET("packets-rewritten", st.packets_rewritten);
    SET("seq-rewritten", st.seq_rewritten);
    SET("ack-rewritten", st.ack_rewritten);
    SET("sack-blocks-rewritten", st.sack_rewritten);
    SET("timestamps-rewritten", st.ts_rewritten);
    SET("untracked", st.untracked);
    SET("not-tcp", st.not_tcp);
    SET("malformed", st.malformed);
    SET("fragments", st.fragments);
    SET("closed-fin", st.closed_fin);
    SET("closed-rst", st.closed_rst);
    SET("removed-after-linger", st.removed_linger);
    SET("evictions", st.evictions);
    SET("expirations", st.expirations);
    SET("refused-table-full", st.refused_full);
    SET("passed-after-failover", st.failover_passed);
    SET("held", stats_read(&s->held_frames));
    SET("hold-expired", st.hold_expired);
    SET("held-now", net_queue_len(&s->held));
    SET("hold-queue-full", stats_read(&s->hold_full));
    SET("checkpoints", st.checkpoints);
    SET("checkpoint-loads", st.checkpoint_loads);
    SET("loads-undone", st.loads_undone);
    SET("too-big", stats_read(&s->too_big));
    SET("reentrant-copies", stats_read(&s->reentrant_copies));
#undef SET
    json_object_set_boolean_member(o, "failover", st.failover != 0);
}

/* ------------------------------------------------------------------------ */
/* query-colo-rewriter-connections (schema: qapi/rewriter.json).  Defined   */
/* here rather than in a monitor-side *-qmp.c file because it needs the     */
/* filter's instance; it uses json-glib only, so the net library still does */
/* not depend on the monitor (the dispatcher references it weakly).          */

gboolean qmp_query_colo_rewriter_connections(JsonObject *args,
                                             JsonNode **ret, GError **errp);

typedef struct ConnListCtx {
    const char *filter;
    JsonArray *arr;
} ConnListCtx;

static void conn_to_json(const RewriterConnInfo *ci, void *opaque)
{
    ConnListCtx *ctx = opaque;
    JsonObject *o = json_object_new();
    char g[PACKET_ADDR_STRLEN], p[PACKET_ADDR_STRLEN];

    json_object_set_string_member(o, "filter", ctx->filter);
    json_object_set_string_member(o, "guest-addr",
                                  packet_addr_format(&ci->guest_addr,
                                                     ci->ip_version, g));
    json_object_set_int_member(o, "guest-port", ci->guest_port);
    json_object_set_string_member(o, "peer-addr",
                                  packet_addr_format(&ci->peer_addr,
                                                     ci->ip_version, p));
    json_object_set_int_member(o, "peer-port", ci->peer_port);
    json_object_set_string_member(o, "opened-by",
                                  ci->opened_by_guest ? "guest" : "client");
    json_object_set_string_member(o, "state", ci->state);
    json_object_set_int_member(o, "seq-offset", ci->seq_offset);
    json_object_set_int_member(o, "ts-offset", ci->ts_offset);
    json_object_set_int_member(o, "idle-ms", ci->idle_us / 1000);
    json_array_add_object_element(ctx->arr, o);
}

static void filter_rewriter_list_conns__(FilterRewriter *s, JsonArray *arr)
{
    ConnListCtx ctx = { netfilter_get_id(NET_FILTER(s)), arr };

    if (s->rw) {
        rewriter_foreach_conn(s->rw, g_get_monotonic_time(), conn_to_json,
                              &ctx);
    }
}

gboolean qmp_query_colo_rewriter_connections(JsonObject *args,
                                             JsonNode **ret, GError **errp)
{
    const char *id = NULL;
    JsonArray *arr;

    if (args && json_object_has_member(args, "id")) {
        id = json_object_get_string_member(args, "id");
    }
    arr = json_array_new();
    if (id) {
        UserObject *obj = user_object_find(OBJECT_KIND_OBJECT, id);

        if (!obj || !FILTER_IS_REWRITER(obj)) {
            json_array_unref(arr);
            error_setg(errp, "filter-rewriter '%s' not found", id);
            return FALSE;
        }
        filter_rewriter_list_conns__(FILTER_REWRITER(obj), arr);
    } else {
        GList *objs = user_object_list(OBJECT_KIND_OBJECT);

        for (GList *l = objs; l; l = l->next) {
            if (FILTER_IS_REWRITER(l->data)) {
                filter_rewriter_list_conns__(FILTER_REWRITER(l->data), arr);
            }
        }
        g_list_free(objs);
    }
    *ret = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(*ret, arr);
    return TRUE;
}

static void filter_rewriter_finalize(GObject *obj)
{
    FilterRewriter *s = FILTER_REWRITER(obj);

    filter_rewriter_teardown__(s);
    g_free(s->scratch);
    net_queue_destroy(&s->held);
    G_OBJECT_CLASS(filter_rewriter_parent_class)->finalize(obj);
}

static void filter_rewriter_init(FilterRewriter *s)
{
    net_queue_init(&s->held, FILTER_REWRITER_HOLD_MAX);
}

static const PropDef filter_rewriter_props[] = {
    DEFINE_PROP_BOOL("vnet_hdr_support", FilterRewriter, vnet_hdr, FALSE, 0,
        "frames carry a vnet header (QEMU compatibility; the netdev's vnet "
        "header length is always honoured)"),
    DEFINE_PROP_UINT("max-connections", FilterRewriter, max_connections,
        1, REWRITER_MAX_CONNECTIONS_MAX, REWRITER_MAX_CONNECTIONS_DEFAULT, 0,
        "TCP connections tracked at most"),
    DEFINE_PROP_UINT("idle-timeout", FilterRewriter, idle_timeout,
        1, G_MAXUINT32 / 2, REWRITER_IDLE_TIMEOUT_DEFAULT_US / G_USEC_PER_SEC,
        0, "seconds without a frame after which a connection is forgotten"),
    DEFINE_PROP_UINT("linger", FilterRewriter, linger,
        1, 86400, REWRITER_LINGER_DEFAULT_US / G_USEC_PER_SEC, 0,
        "seconds a closed connection is still translated after its last "
        "frame"),
};

static void filter_rewriter_class_init(FilterRewriterClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetFilterClass *nfc = NET_FILTER_CLASS(klass);

    oc->finalize = filter_rewriter_finalize;
    uc->description = "translates the COLO secondary guest's TCP sequence "
                      "numbers and timestamps into the primary's";
    nfc->setup = filter_rewriter_setup;
    nfc->cleanup = filter_rewriter_cleanup;
    nfc->receive = filter_rewriter_receive;
    nfc->handle_event = filter_rewriter_handle_event;
    nfc->fill_stats = filter_rewriter_fill_stats;

    object_class_install_props(oc, filter_rewriter_props);
}

static void filter_rewriter_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "filter-rewriter",
                         FILTER_TYPE_REWRITER);
}
type_init(filter_rewriter_register)
