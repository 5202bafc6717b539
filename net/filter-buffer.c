/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/filter-buffer.c - "filter-buffer": hold frames and release them in
 * bursts every 'interval' microseconds.
 *
 *   -object filter-buffer,id=b0,netdev=hn0,interval=100000[,queue=...]
 *                         [,max-frames=4096]
 *
 * A NetFilter (net/filter.c) that steals every frame in its direction(s),
 * copies it into a bounded NetQueue (net/queue.c) together with its
 * direction, and on each tick of its timer re-injects everything queued,
 * oldest first, just after itself in the chain (netfilter_pass_to_next).
 * QEMU's filter-buffer, with three differences: the queue is bounded
 * (max-frames, our extension; a frame arriving at a full queue is dropped
 * and counted), the timer runs on the real clock (there is no virtual
 * clock here), and frames are re-injected rather than purged when the
 * next hop is busy (the next client's own queue absorbs them).
 *
 * interval= is required ("Parameter 'interval' is missing") and must be
 * positive; changing it at run time (qom-set)
 * reschedules the next release at once.  status=off and deletion release
 * every held frame immediately.
 *
 * Threads: main context.
 */
#include <json-glib/json-glib.h>
#include <string.h>

#include "net/filter.h"
#include "net/queue.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/log.h"
#include "util/stats.h"

#define FILTER_BUFFER_MAX_FRAMES_DEFAULT 4096u
#define FILTER_BUFFER_MAX_FRAMES_MAX (1u << 20)

#define FILTER_TYPE_BUFFER (filter_buffer_get_type())
G_DECLARE_FINAL_TYPE(FilterBuffer, filter_buffer, FILTER, BUFFER, NetFilter)

struct _FilterBuffer {
    NetFilter parent_instance;

    /* properties */
    guint interval;           /* interval=: microseconds between releases */
    guint max_frames;         /* max-frames=: bound of 'queue' */
    /* state */
    NetQueue queue;           /* held frames, tag = NetFilterDirection */
    GSource *timer;           /* release timer, attached while set up */
    gboolean releasing;       /* inside filter_buffer_release__() */
    uint64_t held;            /* frames taken into the queue */
    uint64_t released;        /* frames passed on */
    uint64_t dropped_full;    /* frames dropped: queue full */
};

G_DEFINE_FINAL_TYPE(FilterBuffer, filter_buffer, NET_TYPE_FILTER)

static gssize release_one__(void *opaque, const uint8_t *buf, size_t len,
                            uint32_t tag)
{
    FilterBuffer *s = opaque;

    stats_inc(&s->released);
    netfilter_pass_to_next(NET_FILTER(s), (NetFilterDirection) tag, buf,
                           len);
    return (gssize) len + 1;   /* > 0 even for an empty frame: taken */
}

/* Passes every held frame on, oldest first.  Frames that come back to us
 * while we release (a reply sent from a receive()) are held for the next
 * tick, so a release always ends. */
static void filter_buffer_release__(FilterBuffer *s)
{
    if (s->releasing) {
        return;
    }
    s->releasing = TRUE;
    g_object_ref(s);
    net_queue_flush(&s->queue, release_one__, s, net_queue_len(&s->queue));
    s->releasing = FALSE;
    g_object_unref(s);
}

static void filter_buffer_schedule__(FilterBuffer *s)
{
    if (s->timer) {
        g_source_set_ready_time(s->timer,
                                g_get_monotonic_time() + s->interval);
    }
}

static gboolean timer_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
    FilterBuffer *s = data;

    filter_buffer_schedule__(s);
    filter_buffer_release__(s);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_funcs = {
    .dispatch = timer_dispatch,
};

static gboolean filter_buffer_setup(NetFilter *nf, GError **errp)
{
    FilterBuffer *s = FILTER_BUFFER(nf);

    if (s->interval == 0) {
        /* check_property() refuses an explicit 0: 0 here means not given */
        error_setg(errp, "Parameter 'interval' is missing (microseconds "
                   "between two releases, at least 1)");
        return FALSE;
    }
    net_queue_set_limit(&s->queue, s->max_frames);
    s->timer = g_source_new(&timer_funcs, sizeof(GSource));
    g_source_set_name(s->timer, "filter-buffer");
    /* The source holds no reference: cleanup() destroys it first. */
    g_source_set_callback(s->timer, NULL, s, NULL);
    g_source_attach(s->timer, NULL);
    filter_buffer_schedule__(s);
    return TRUE;
}

static void filter_buffer_stop_timer__(FilterBuffer *s)
{
    if (s->timer) {
        g_source_destroy(s->timer);
        g_source_unref(s->timer);
        s->timer = NULL;
    }
}

static void filter_buffer_cleanup(NetFilter *nf)
{
    FilterBuffer *s = FILTER_BUFFER(nf);

    filter_buffer_stop_timer__(s);
    /* Still at our old place in the chain: held frames go out. */
    filter_buffer_release__(s);
    net_queue_purge(&s->queue);
}

static NetFilterVerdict filter_buffer_receive(NetFilter *nf,
                                              NetClient *sender,
                                              NetFilterDirection dir,
                                              const uint8_t *buf, size_t len)
{
    FilterBuffer *s = FILTER_BUFFER(nf);

    if (G_UNLIKELY(!net_queue_push(&s->queue, buf, len, dir))) {
        stats_inc(&s->dropped_full);
        LOG_WARN_RL("filter-buffer '%s': queue full (%u frames), frame "
                     "dropped", netfilter_get_id(nf), s->queue.limit);
        return NETFILTER_STOLEN;
    }
    stats_inc(&s->held);
    return NETFILTER_STOLEN;
}

static void filter_buffer_status_changed(NetFilter *nf, gboolean on)
{
    if (!on) {
        filter_buffer_release__(FILTER_BUFFER(nf));
    }
}

static void filter_buffer_fill_stats(NetFilter *nf, void *opaque)
{
    FilterBuffer *s = FILTER_BUFFER(nf);
    JsonObject *obj = opaque;

    json_object_set_int_member(obj, "held", stats_read(&s->held));
    json_object_set_int_member(obj, "released", stats_read(&s->released));
    json_object_set_int_member(obj, "queued", net_queue_len(&s->queue));
    json_object_set_int_member(obj, "dropped-queue-full",
                               stats_read(&s->dropped_full));
}

/* interval= takes effect at once, as in current QEMU. */
static void filter_buffer_interval_changed(UserObject *obj)
{
    FilterBuffer *s = FILTER_BUFFER(obj);

    if (s->interval) {
        filter_buffer_schedule__(s);
    }
}

static void filter_buffer_finalize(GObject *obj)
{
    FilterBuffer *s = FILTER_BUFFER(obj);

    filter_buffer_stop_timer__(s);
    net_queue_destroy(&s->queue);
    G_OBJECT_CLASS(filter_buffer_parent_class)->finalize(obj);
}

static void filter_buffer_init(FilterBuffer *s)
{
    net_queue_init(&s->queue, s->max_frames);
}

static const PropDef filter_buffer_props[] = {
    DEFINE_PROP_UINT("interval", FilterBuffer, interval, 0, G_MAXUINT32, 0,
        PROP_RUNTIME | PROP_POSITIVE,
        "microseconds between two releases of the held frames; must be "
        "set, > 0", .changed = filter_buffer_interval_changed),
    DEFINE_PROP_UINT("max-frames", FilterBuffer, max_frames,
        1, FILTER_BUFFER_MAX_FRAMES_MAX, FILTER_BUFFER_MAX_FRAMES_DEFAULT, 0,
        "frames held at most; more are dropped"),
};

static void filter_buffer_class_init(FilterBufferClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetFilterClass *fc = NET_FILTER_CLASS(klass);

    oc->finalize = filter_buffer_finalize;
    uc->description = "hold the frames of a netdev and release them "
                      "periodically";
    fc->setup = filter_buffer_setup;
    fc->cleanup = filter_buffer_cleanup;
    fc->receive = filter_buffer_receive;
    fc->status_changed = filter_buffer_status_changed;
    fc->fill_stats = filter_buffer_fill_stats;

    object_class_install_props(oc, filter_buffer_props);
}

static void filter_buffer_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "filter-buffer",
                         FILTER_TYPE_BUFFER);
}
type_init(filter_buffer_register)
