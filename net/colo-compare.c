/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/colo-compare.c - the "colo-compare" object: QEMU's colo-compare
 * interface around the comparison engine of net/compare-engine.c.
 *
 *   -object colo-compare,id=comp0,primary_in=pri,secondary_in=sec,
 *           outdev=out[,iothread=t][,notify_dev=x][,compare_timeout=3000]
 *           [,expired_scan_cycle=1000][,max_queue_size=1024]
 *           [,vnet_hdr_support=on][,max_connections=65536][,ignore=all]
 *           [,max_held_packets=262144]
 *           [,tcp_idle_timeout=..][,tcp_closed_timeout=..]
 *           [,udp_idle_timeout=..][,other_idle_timeout=..]
 *
 * Three (four with notify_dev) socket chardevs carry QEMU's framing
 * (include/net/link-framing.h).  Frames read from primary_in and secondary_in go
 * to the engine; the engine's released primary frames are written to
 * outdev with the same framing (the vnet field of each frame is the one
 * that arrived with it).  Checkpoints are requested from the in-process
 * COLO frame (include/colo/colo.h) or, with notify_dev, from Xen's
 * COLO frame with its text protocol; the frame's checkpoint and failover
 * events come back through a ColoEventListener.
 *
 * Threads: everything after complete() runs on one GMainContext, that of
 * the iothread named by 'iothread=' or, without it, of an iothread object
 * of its own (iothread_new_internal(): not in the registry, poll-max-ns=0;
 * a difference from QEMU, where iothread= is mandatory):
 * chardev I/O, the engine, the scan timer and the COLO listener.  The
 * main thread (complete, unparent, qom-set, the QMP statistics query)
 * hands work over with run_sync(), which waits for it.
 *
 * Output is never dropped because outdev is slow: when its bounded
 * output buffer refuses a frame, the frame (and every later one, to keep
 * the order) waits in a backlog, reading primary_in is paused, and the
 * chardev's writable callback drains the backlog and resumes reading.
 * Only a missing peer on outdev loses frames (counted), as in QEMU.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <json-glib/json-glib.h>

#include "chardev/char.h"
#include "net/colo-hooks.h"
#include "net/compare-engine.h"
#include "net/compare-storm.h"
#include "net/link-framing.h"
#include "net/link-msg.h"
#include "qom/object.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/histogram.h"
#include "qom/iothread.h"
#include "util/log.h"
#include "util/qmp-handler.h"
#include "util/stats.h"

#define TYPE_COLO_COMPARE (colo_compare_get_type())

G_DECLARE_FINAL_TYPE(ColoCompareObj, colo_compare, COLO, COMPARE, UserObject)

enum {
    LINK_PRI,
    LINK_SEC,
    LINK_NOTIFY,
    LINK__MAX,
};

static const char *const link_names[LINK__MAX] = {
    "primary_in", "secondary_in", "notify_dev",
};

typedef enum {
    NOTIFY_NONE,
    NOTIFY_DISCONNECTED,
    NOTIFY_CONNECTED,
    NOTIFY_INITIALIZED,         /* got COLO_USERSPACE_PROXY_INIT */
} NotifyState;

static const char *const notify_state_names[] = {
    "none", "disconnected", "connected", "initialized",
};

/* Counters of the object (iothread only; read via run_sync). */
typedef struct CompareObjStats {
    uint64_t framing_errors[LINK__MAX];
    uint64_t connects[LINK__MAX];
    uint64_t disconnects[LINK__MAX];
    uint64_t out_frames;
    uint64_t out_bytes;
    uint64_t out_backpressure;  /* times primary_in was paused */
    uint64_t out_backlog_max;
    uint64_t out_dropped;       /* no peer on outdev */
    uint64_t events;            /* COLO_COMPARE_MISCOMPARE emitted */
    uint64_t events_suppressed;
    uint64_t notify_sent;       /* DO_CHECKPOINT */
    uint64_t notify_checkpoints;  /* COLO_CHECKPOINT received */
    uint64_t notify_unknown;
} CompareObjStats;

typedef struct BacklogFrame {
    uint32_t len;
    uint32_t vnet_hdr_len;
    uint8_t data[];
} BacklogFrame;

struct _ColoCompareObj {
    UserObject parent_instance;

    /* properties */
    char *primary_in;
    char *secondary_in;
    char *outdev;
    char *iothread_id;
    char *notify_dev;
    char *frame;              /* frame=: its VM pair (NULL: the default) */
    guint compare_timeout;      /* ms */
    guint expired_scan_cycle;   /* ms */
    guint max_queue_size;
    gboolean vnet_hdr;
    guint max_connections;
    guint max_held_packets;     /* per side, all connections */
    guint tcp_idle_timeout;     /* ms */
    guint tcp_closed_timeout;
    guint udp_idle_timeout;
    guint other_idle_timeout;
    char *ignore;
    char *passthrough;          /* rules at creation (docs/storms.md) */
    guint max_passthrough_rules;
    gboolean adaptive;
    gboolean auto_passthrough;
    guint storm_rate;
    guint storm_busy;
    guint storm_calm;
    guint storm_calm_time;
    guint buffered_period;
    guint buffered_max_held;
    char *buffered_hold;        /* "diverged" or "all" */
    guint buffered_quiet;
    guint buffered_duty;

    /* set up by complete() */
    bool completed;
    IOThread *iothread;         /* referenced, ref_use'd; or NULL */
    IOThread *own_iothread;     /* without iothread=: our own, or NULL */
    GMainContext *ctx;          /* where everything runs */
    CharFrontend fe[LINK__MAX];
    CharFrontend out_fe;
    LinkReader reader[LINK__MAX];
    bool reader_ready[LINK__MAX];
    CompareEngine *engine;
    CompareOps ops;
    ColoEventListener listener;
    bool listening;
    GSource *scan_timer;
    ColoStorm *storm;           /* passthrough and buffered mode */

    /* iothread state */
    GQueue backlog;             /* of BacklogFrame *, waiting for outdev */
    bool pri_paused;
    int64_t read_time;        /* g_get_monotonic_time() of this read */
    bool reading;             /* inside link_read(): read_time is now */
    bool out_unflushed;       /* released frames queued since the last
                               * chr_fe_flush() */
    NotifyState notify_state;
    RateLimit event_rl;
    RateLimit warn_rl;
    CompareObjStats st;
    Histogram hold;           /* hold time of held primary frames */
};

G_DEFINE_FINAL_TYPE(ColoCompareObj, colo_compare, USER_TYPE_OBJECT)

/* ------------------------------------------------------------------------ */
/* Running code on the object's context.                                     */

typedef struct SyncCall {
    void (*fn)(ColoCompareObj *s, void *data);
    ColoCompareObj *s;
    void *data;
} SyncCall;

static gboolean sync_call_cb(gpointer opaque)
{
    SyncCall *c = opaque;

    c->fn(c->s, c->data);
    return G_SOURCE_REMOVE;
}

/* Runs fn(s, data) in the object's context and waits for it
 * (context_run_sync()).  Main thread, or the context's own thread. */
static void run_sync(ColoCompareObj *s, void (*fn)(ColoCompareObj *, void *),
                     void *data)
{
    SyncCall c = { .fn = fn, .s = s, .data = data };

    context_run_sync(s->ctx, sync_call_cb, &c);
}

/* ------------------------------------------------------------------------ */
/* Output (iothread).                                                         */

static gssize out_write_one(ColoCompareObj *s, const uint8_t *buf,
                            uint32_t len, uint32_t vnet_hdr_len)
{
    uint8_t hdr[LINK_HDR_MAX];
    struct iovec iov[2];

    iov[0].iov_base = hdr;
    iov[0].iov_len = link_header(hdr, len, s->vnet_hdr, vnet_hdr_len);
    iov[1].iov_base = (void *) buf;
    iov[1].iov_len = len;
    return chr_fe_write(&s->out_fe, iov, 2);
}

static void backlog_push(ColoCompareObj *s, const uint8_t *buf, uint32_t len,
                         uint32_t vnet_hdr_len)
{
    BacklogFrame *f = g_malloc(sizeof *f + len);

    f->len = len;
    f->vnet_hdr_len = vnet_hdr_len;
    memcpy(f->data, buf, len);
    g_queue_push_tail(&s->backlog, f);
    if (s->backlog.length > s->st.out_backlog_max) {
        s->st.out_backlog_max = s->backlog.length;
    }
}

static void out_count(ColoCompareObj *s, gssize r, uint32_t len)
{
    if (r >= 0) {
        s->st.out_frames++;
        s->st.out_bytes += len;
    } else {
        s->st.out_dropped++;
        log_warn_rl_domain(G_LOG_DOMAIN, &s->warn_rl,
                            "colo-compare '%s': outdev '%s' has no peer; "
                            "released frame lost",
                            user_object_get_id(USER_OBJECT(s)), s->outdev);
    }
}

/* Engine callback: a held primary frame left; its wait, for the hold-time
 * histogram (single writer: this iothread; QMP reads a snapshot). */
static void compare_held_cb(void *opaque, int64_t arrival_us)
{
    ColoCompareObj *s = opaque;
    /* Inside a read, the read's time: a clock read per released frame
     * was 3 % of the compare's CPU at 512 B (perf, __vdso_clock_gettime).
     * Arrival times are read times too, so the histogram counts from the
     * read that brought a frame to the read that released it. */
    int64_t now = s->reading ? s->read_time : g_get_monotonic_time();

    histogram_observe(&s->hold, now - arrival_us);
}

/* Engine callback: a primary frame leaves, in order. */
static void compare_release_cb(void *opaque, const uint8_t *buf, uint32_t len,
                               uint32_t vnet_hdr_len)
{
    ColoCompareObj *s = opaque;
    gssize r;

    if (G_UNLIKELY(colo_storm_release(s->storm, buf, len, vnet_hdr_len))) {
        return;                 /* buffered mode: held to the checkpoint */
    }
    if (G_UNLIKELY(s->backlog.length)) {
        backlog_push(s, buf, len, vnet_hdr_len);
        return;
    }
    r = out_write_one(s, buf, len, vnet_hdr_len);
    s->out_unflushed = TRUE;
    if (G_UNLIKELY(r == -EAGAIN)) {
        backlog_push(s, buf, len, vnet_hdr_len);
        if (!s->pri_paused) {
            s->pri_paused = true;
            s->st.out_backpressure++;
            chr_fe_set_read_paused(&s->fe[LINK_PRI], TRUE);
        }
        return;
    }
    out_count(s, r, len);
}

/* outdev drained below half: move the backlog on, resume primary_in. */
static void out_writable_cb(void *opaque)
{
    ColoCompareObj *s = opaque;
    BacklogFrame *f;

    while ((f = g_queue_peek_head(&s->backlog))) {
        gssize r = out_write_one(s, f->data, f->len, f->vnet_hdr_len);

        if (r == -EAGAIN) {
            return;
        }
        out_count(s, r, f->len);
        g_queue_pop_head(&s->backlog);
        g_free(f);
    }
    if (s->pri_paused) {
        s->pri_paused = false;
        chr_fe_set_read_paused(&s->fe[LINK_PRI], FALSE);
    }
}

static void out_event_cb(void *opaque, ChrEvent event)
{
    ColoCompareObj *s = opaque;

    if (event == CHR_EVENT_OPENED && s->backlog.length) {
        out_writable_cb(s);
    } else if (event == CHR_EVENT_CLOSED && s->backlog.length) {
        /* nobody to write to: what waits is lost, as with a connected
         * peer that vanished with bytes in the buffer */
        BacklogFrame *f;

        while ((f = g_queue_pop_head(&s->backlog))) {
            out_count(s, -ENOTCONN, f->len);
            g_free(f);
        }
        if (s->pri_paused) {
            s->pri_paused = false;
            chr_fe_set_read_paused(&s->fe[LINK_PRI], FALSE);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Checkpoints, notify_dev, events (iothread).                                */

static void notify_send(ColoCompareObj *s, const char *msg)
{
    uint8_t hdr[LINK_HDR_MAX];
    struct iovec iov[2];
    gssize r;

    /* QEMU sends notify messages without the vnet field even with
     * vnet_hdr_support=on (while expecting it on input). */
    iov[0].iov_base = hdr;
    iov[0].iov_len = link_header(hdr, strlen(msg), false, 0);
    iov[1].iov_base = (void *) msg;
    iov[1].iov_len = strlen(msg);
    r = chr_fe_write(&s->fe[LINK_NOTIFY], iov, 2);
    if (r < 0) {
        log_warn_rl_domain(G_LOG_DOMAIN, &s->warn_rl,
                            "colo-compare '%s': %s", user_object_get_id(
                                USER_OBJECT(s)),
                            !strcmp(msg, NOTIFY_TEXT_DO_CHECKPOINT)
                            ? "Notify Xen COLO-frame failed"
                            : "Notify Xen COLO-frame INIT failed");
    }
}

static const ColoCheckpointReason ckpt_map[COMPARE_CKPT__MAX] = {
    [COMPARE_CKPT_MISCOMPARE] = COLO_CKPT_MISCOMPARE,
    [COMPARE_CKPT_TIMEOUT] = COLO_CKPT_TIMEOUT,
    [COMPARE_CKPT_QUEUE_FULL] = COLO_CKPT_QUEUE_FULL,
    [COMPARE_CKPT_TABLE_FULL] = COLO_CKPT_TABLE_FULL,
};

/* Asks the COLO frame (or, with notify_dev, Xen's libxl) for one. */
static void request_checkpoint(ColoCompareObj *s, ColoCheckpointReason reason,
                               const char *detail)
{
    if (s->notify_dev) {
        s->st.notify_sent++;
        notify_send(s, NOTIFY_TEXT_DO_CHECKPOINT);
        return;
    }
    colo_hooks_request_checkpoint_frame(s->frame,
                                        user_object_get_id(USER_OBJECT(s)),
                                        reason, detail);
}

static void compare_checkpoint_cb(void *opaque, CompareCkptReason reason,
                                  const char *detail)
{
    ColoCompareObj *s = opaque;

    if (colo_storm_checkpoint_request(s->storm, reason)) {
        return;                 /* buffered mode: the period covers it */
    }
    request_checkpoint(s, ckpt_map[reason], detail);
}

/* ColoStormOps.checkpoint (iothread): buffered mode's own requests. */
static void storm_checkpoint_cb(void *opaque, ColoStormCkpt why,
                                const char *detail)
{
    request_checkpoint(opaque, why == COLO_STORM_CKPT_SCHEDULED
                               ? COLO_CKPT_BUFFERED : COLO_CKPT_QUEUE_FULL,
                       detail);
}

static void compare_miscompare_cb(void *opaque, const char *conn,
                                  CompareMismatch reason)
{
    ColoCompareObj *s = opaque;
    uint64_t suppressed = 0;
    JsonObject *data;

    colo_storm_miscompare(s->storm, conn);
    if (!ratelimit_allow(&s->event_rl, &suppressed)) {
        s->st.events_suppressed++;
        return;
    }
    s->st.events++;
    g_message("colo-compare '%s': miscompare on %s (%s)",
              user_object_get_id(USER_OBJECT(s)), conn,
              compare_mismatch_name(reason));
    data = json_object_new();
    json_object_set_string_member(data, "id",
                                  user_object_get_id(USER_OBJECT(s)));
    json_object_set_string_member(data, "connection", conn);
    json_object_set_string_member(data, "reason",
                                  compare_mismatch_name(reason));
    json_object_set_int_member(data, "suppressed", (gint64) suppressed);
    if (s->frame && *s->frame) {
        /* its pair, for an operator of a process serving several */
        json_object_set_string_member(data, "frame", s->frame);
    }
    qmp_event_emit("COLO_COMPARE_MISCOMPARE", data);
}

/* Runs in the object's context (the frame calls listeners there). */
static void colo_event_cb(ColoEventListener *l, ColoEvent event)
{
    ColoCompareObj *s = l->opaque;

    if (event == COLO_EVENT_CHECKPOINT) {
        compare_checkpoint(s->engine);
        colo_storm_checkpoint_commit(s->storm);
    } else if (event == COLO_EVENT_CHECKPOINT_BEGIN) {
        compare_checkpoint_begin(s->engine);
        colo_storm_checkpoint_begin(s->storm);
    } else if (event == COLO_EVENT_FAILOVER) {
        /* what buffered mode held is older than what the engine holds */
        colo_storm_flush(s->storm);
        compare_failover(s->engine);
    }
}

static gboolean scan_timer_cb(gpointer opaque)
{
    ColoCompareObj *s = opaque;

    compare_scan(s->engine, g_get_monotonic_time(), 0);
    return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Input (iothread).                                                          */

static void pri_frame_cb(void *opaque, const uint8_t *buf, uint32_t len,
                         uint32_t vnet_hdr_len)
{
    ColoCompareObj *s = opaque;

    compare_input(s->engine, COMPARE_PRIMARY, buf, len, vnet_hdr_len,
                  s->read_time);
}

static void sec_frame_cb(void *opaque, const uint8_t *buf, uint32_t len,
                         uint32_t vnet_hdr_len)
{
    ColoCompareObj *s = opaque;

    compare_input(s->engine, COMPARE_SECONDARY, buf, len, vnet_hdr_len,
                  s->read_time);
}

static void notify_frame_cb(void *opaque, const uint8_t *buf, uint32_t len,
                            uint32_t vnet_hdr_len)
{
    ColoCompareObj *s = opaque;

    (void) vnet_hdr_len;
    switch (link_notify_parse(buf, len)) {
    case LINK_NOTIFY_MSG_INIT:
        s->notify_state = NOTIFY_INITIALIZED;
        notify_send(s, NOTIFY_TEXT_INIT_REPLY);
        break;
    case LINK_NOTIFY_MSG_CHECKPOINT:
        s->st.notify_checkpoints++;
        compare_checkpoint(s->engine);
        colo_storm_checkpoint_commit(s->storm);
        break;
    case LINK_NOTIFY_MSG_UNKNOWN:
        s->st.notify_unknown++;
        log_warn_rl_domain(G_LOG_DOMAIN, &s->warn_rl,
                            "colo-compare '%s': COLO compare got unsupported "
                            "instruction '%.*s'",
                            user_object_get_id(USER_OBJECT(s)),
                            (int) MIN(len, 64u), (const char *) buf);
        break;
    }
}

static const LinkRecordFn frame_fns[LINK__MAX] = {
    pri_frame_cb, sec_frame_cb, notify_frame_cb,
};

static void link_read(ColoCompareObj *s, int link, const uint8_t *buf,
                      size_t len)
{
    GError *err = NULL;

    /* One clock read per read, not per frame (a read carries up to
     * thousands): the engine's times are timeouts of milliseconds. */
    s->read_time = g_get_monotonic_time();
    s->reading = true;
    if (link_reader_feed(&s->reader[link], buf, len, frame_fns[link], s,
                          &err) != LINK_OK) {
        s->st.framing_errors[link]++;
        log_warn_rl_domain(G_LOG_DOMAIN, &s->warn_rl,
                            "colo-compare '%s': %s error: %s; dropping the "
                            "connection", user_object_get_id(USER_OBJECT(s)),
                            link_names[link], err->message);
        g_error_free(err);
        chr_fe_disconnect(&s->fe[link]);
    }
    s->reading = false;
    if (s->out_unflushed) {
        /* What this read released leaves now, in one sendmsg(): a batch is
         * what one read delivered.  It never waits for the reads still to
         * come in this loop iteration (up to 4 x 256 KiB per link): that
         * would trade a wait on the first frames for fewer system calls,
         * and under load each read already carries hundreds of frames. */
        s->out_unflushed = FALSE;
        chr_fe_flush(&s->out_fe);
    }
}

static void pri_read_cb(void *opaque, const uint8_t *buf, size_t len)
{
    link_read(opaque, LINK_PRI, buf, len);
}

static void sec_read_cb(void *opaque, const uint8_t *buf, size_t len)
{
    link_read(opaque, LINK_SEC, buf, len);
}

static void notify_read_cb(void *opaque, const uint8_t *buf, size_t len)
{
    link_read(opaque, LINK_NOTIFY, buf, len);
}

static void link_event(ColoCompareObj *s, int link, ChrEvent event)
{
    if (event == CHR_EVENT_OPENED) {
        s->st.connects[link]++;
        if (link == LINK_NOTIFY) {
            s->notify_state = NOTIFY_CONNECTED;
        }
    } else if (event == CHR_EVENT_CLOSED) {
        s->st.disconnects[link]++;
        /* no half frame survives into the next connection */
        link_reader_reset(&s->reader[link]);
        if (link == LINK_NOTIFY) {
            s->notify_state = NOTIFY_DISCONNECTED;
        }
    }
}

static void pri_event_cb(void *opaque, ChrEvent event)
{
    link_event(opaque, LINK_PRI, event);
}

static void sec_event_cb(void *opaque, ChrEvent event)
{
    link_event(opaque, LINK_SEC, event);
}

static void notify_event_cb(void *opaque, ChrEvent event)
{
    link_event(opaque, LINK_NOTIFY, event);
}

/* ------------------------------------------------------------------------ */
/* Configuration.                                                             */

static void fill_config(ColoCompareObj *s, CompareConfig *cfg)
{
    compare_config_init(cfg);
    cfg->max_queue_size = s->max_queue_size;
    cfg->max_connections = s->max_connections;
    cfg->max_held = s->max_held_packets;
    cfg->compare_timeout_us = (int64_t) s->compare_timeout * 1000;
    cfg->tcp_idle_us = (int64_t) s->tcp_idle_timeout * 1000;
    cfg->tcp_closed_idle_us = (int64_t) s->tcp_closed_timeout * 1000;
    cfg->udp_idle_us = (int64_t) s->udp_idle_timeout * 1000;
    cfg->other_idle_us = (int64_t) s->other_idle_timeout * 1000;
    if (!compare_parse_ignore(s->ignore, &cfg->ignored_fields, NULL)) {
        cfg->ignored_fields = COMPARE_FIELD_ALL;
    }
}

/* ------------------------------------------------------------------------ */
/* Storms: passthrough rules and buffered mode (include/net/compare-storm.h) */

static void fill_storm_config(ColoCompareObj *s, ColoStormConfig *c)
{
    *c = (ColoStormConfig) {
        .adaptive = s->adaptive,
        .auto_passthrough = s->auto_passthrough,
        .storm_rate = s->storm_rate,
        .storm_busy = s->storm_busy,
        .calm_rate = s->storm_calm,
        .calm_time_ms = s->storm_calm_time,
        .period_ms = s->buffered_period,
        .max_held = s->buffered_max_held,
        .hold_all = !g_strcmp0(s->buffered_hold, "all"),
        .quiet_ms = s->buffered_quiet,
        .duty_pct = s->buffered_duty,
    };
}

static const ColoStormOps storm_ops = {
    .release = compare_release_cb,
    .checkpoint = storm_checkpoint_cb,
};

/* CompareOps.passthrough (iothread). */
static bool compare_passthrough_cb(void *opaque, CompareSide side,
                                   const PacketInfo *pi, uint32_t len)
{
    ColoCompareObj *s = opaque;

    return colo_storm_passthrough(s->storm, side, pi, len);
}

/* complete(): before any callback can run. */
static gboolean storm_create(ColoCompareObj *s, GError **errp)
{
    ColoStormConfig c;

    fill_storm_config(s, &c);
    s->storm = colo_storm_new(user_object_get_id(USER_OBJECT(s)), &c,
                              s->max_passthrough_rules, &storm_ops, s);
    colo_storm_set_frame(s->storm, s->frame);
    if (s->passthrough && !passthrough_table_add_list(
            colo_storm_rules(s->storm), s->passthrough, errp)) {
        g_prefix_error(errp, "Property 'colo-compare.passthrough': ");
        return FALSE;
    }
    s->ops.passthrough = compare_passthrough_cb;
    return TRUE;
}

/* Home context (reconfigure_fn): qom-set of a storm property. */
static void storm_reconfigure(ColoCompareObj *s)
{
    ColoStormConfig c;

    fill_storm_config(s, &c);
    colo_storm_set_config(s->storm, &c);
    if (s->adaptive || colo_storm_buffered(s->storm)) {
        /* (re)armed; adaptive=off in buffered mode: the period still
         * asks for the checkpoint whose commit ends it */
        colo_storm_start(s->storm, s->ctx);
    } else {
        colo_storm_stop(s->storm);
    }
}

typedef struct StormCall {
    void (*fn)(const char *id, ColoStorm *st, void *data);
    void *data;
} StormCall;

static void storm_call_fn(ColoCompareObj *s, void *data)
{
    StormCall *c = data;

    c->fn(user_object_get_id(USER_OBJECT(s)), s->storm, c->data);
}

gboolean colo_compare_storm_call(const char *id,
                                 void (*fn)(const char *id, ColoStorm *st,
                                            void *data),
                                 void *data, GError **errp)
{
    GList *objs = user_object_list(OBJECT_KIND_OBJECT);
    StormCall c = { fn, data };
    bool found = false;

    for (GList *l = objs; l; l = l->next) {
        UserObject *o = l->data;

        if (!COLO_IS_COMPARE(o) || !user_object_is_complete(o)
            || !COLO_COMPARE(o)->storm
            || (id && strcmp(id, user_object_get_id(o)))) {
            continue;
        }
        found = true;
        /* road 1: the object is held by the registry while we wait */
        run_sync(COLO_COMPARE(o), storm_call_fn, &c);
    }
    g_list_free(objs);
    if (id && !found) {
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "colo-compare '%s' not found", id);
        return FALSE;
    }
    return TRUE;
}

static void buffered_fn(ColoCompareObj *s, void *data)
{
    if (colo_storm_buffered(s->storm)) {
        *(bool *) data = true;
    }
}

/* "buffered" / "compare" for the compares of the pair 'frame' (NULL: the
 * default pair; an unbound compare belongs to the only pair there is),
 * NULL when none of them has adaptive=on.  Main thread. */
const char *colo_compare_proxy_mode(const char *frame)
{
    GList *objs = user_object_list(OBJECT_KIND_OBJECT);
    bool buffered = false, any = false;

    for (GList *l = objs; l; l = l->next) {
        ColoCompareObj *s;

        if (!COLO_IS_COMPARE(l->data)
            || !user_object_is_complete(l->data)) {
            continue;
        }
        s = COLO_COMPARE(l->data);
        if (!s->storm || (frame && s->frame && strcmp(frame, s->frame))) {
            continue;
        }
        if (s->adaptive) {
            any = true;
        }
        /* the mode is the iothread's: read there (road 1) */
        run_sync(s, buffered_fn, &buffered);
    }
    g_list_free(objs);
    if (!any && !buffered) {
        return NULL;
    }
    return buffered ? "buffered" : "compare";
}

static void start_scan_timer(ColoCompareObj *s)
{
    s->scan_timer = g_timeout_source_new(s->expired_scan_cycle);
    g_source_set_callback(s->scan_timer, scan_timer_cb, s, NULL);
    g_source_attach(s->scan_timer, s->ctx);
}

static void reconfigure_fn(ColoCompareObj *s, void *data)
{
    CompareConfig cfg;
    bool rearm = GPOINTER_TO_INT(data);

    fill_config(s, &cfg);
    compare_set_config(s->engine, &cfg);
    storm_reconfigure(s);
    if (rearm && s->scan_timer) {
        g_source_destroy(s->scan_timer);
        g_source_unref(s->scan_timer);
        start_scan_timer(s);
    }
}

/* ------------------------------------------------------------------------ */
/* Life cycle (main thread).                                                  */

static gboolean colo_compare_complete(UserObject *obj, GError **errp)
{
    ColoCompareObj *s = COLO_COMPARE(obj);
    const char *id = user_object_get_id(obj);
    const char *devs[LINK__MAX] = { s->primary_in, s->secondary_in,
                                    s->notify_dev };
    static const ChrReadFn reads[LINK__MAX] = {
        pri_read_cb, sec_read_cb, notify_read_cb,
    };
    static const ChrEventFn events[LINK__MAX] = {
        pri_event_cb, sec_event_cb, notify_event_cb,
    };
    CompareConfig cfg;

    /* QEMU's wording names 'iothread' too, which is optional here */
    if (!s->primary_in || !*s->primary_in) {
        error_setg(errp, "Parameter 'primary_in' is missing (the chardev "
                   "carrying the primary guest's output)");
        return FALSE;
    }
    if (!s->secondary_in || !*s->secondary_in) {
        error_setg(errp, "Parameter 'secondary_in' is missing (the chardev "
                   "carrying the secondary guest's output)");
        return FALSE;
    }
    if (!s->outdev || !*s->outdev) {
        error_setg(errp, "Parameter 'outdev' is missing (the chardev "
                   "released primary frames are written to)");
        return FALSE;
    }
    if (!strcmp(s->primary_in, s->secondary_in)
        || !strcmp(s->primary_in, s->outdev)
        || !strcmp(s->secondary_in, s->outdev)
        || (s->notify_dev && *s->notify_dev
            && (!strcmp(s->notify_dev, s->primary_in)
                || !strcmp(s->notify_dev, s->secondary_in)
                || !strcmp(s->notify_dev, s->outdev)))) {
        error_setg(errp, "'indev' and 'outdev' could not be same "
                   "for compare module");
        return FALSE;
    }
    if (!compare_parse_ignore(s->ignore, &cfg.ignored_fields, errp)) {
        return FALSE;
    }
    if (s->frame && !*s->frame) {
        g_clear_pointer(&s->frame, g_free);
    }
    /* its pair's frame exists (or, unbound, there is at most one) */
    if (!s->notify_dev && !colo_frame_bind_check(s->frame, id, errp)) {
        return FALSE;
    }
    if (s->notify_dev && !*s->notify_dev) {
        g_clear_pointer(&s->notify_dev, g_free);
        devs[LINK_NOTIFY] = NULL;
    }

    /* the context everything runs in */
    if (s->iothread_id && *s->iothread_id) {
        UserObject *t = user_object_find_typed(OBJECT_KIND_OBJECT,
                                               s->iothread_id,
                                               TYPE_IOTHREAD, errp);
        if (!t) {
            return FALSE;
        }
        s->iothread = IO_THREAD(g_object_ref(t));
        user_object_ref_use(t, id);
        s->ctx = iothread_get_context(s->iothread);
    }

    /* the chardevs (each marked in use by this object) */
    for (int i = 0; i < LINK__MAX; i++) {
        if (!devs[i]) {
            continue;
        }
        if (!chr_fe_init(&s->fe[i], devs[i], id, errp)) {
            return FALSE;
        }
    }
    if (!chr_fe_init(&s->out_fe, s->outdev, id, errp)) {
        return FALSE;
    }

    if (!s->ctx) {
        /* An ordinary iothread object of our own, unknown to the user.
         * poll-max-ns=0: it sleeps in poll() as the private thread did;
         * busy polling (and its CPU) is for whoever asks for it with an
         * iothread of their own. */
        s->own_iothread = iothread_new_internal("colo-compare", 0, errp);
        if (!s->own_iothread) {
            return FALSE;
        }
        s->ctx = iothread_get_context(s->own_iothread);
    }

    fill_config(s, &cfg);
    s->ops = (CompareOps) {
        .release = compare_release_cb,
        .checkpoint = compare_checkpoint_cb,
        .miscompare = compare_miscompare_cb,
        .held_released = compare_held_cb,
    };
    histogram_init(&s->hold, histogram_hold_bounds_us, histogram_hold_n);
    if (!storm_create(s, errp)) {
        return FALSE;
    }
    s->engine = compare_new(&cfg, &s->ops, s);
    for (int i = 0; i < LINK__MAX; i++) {
        if (devs[i]) {
            link_reader_init(&s->reader[i], s->vnet_hdr, 0);
            /* A record without a frame on a guest's output is counted and
             * skipped: dropping the connection would lose every frame
             * the peer sent after it (issue 13).  Impossible lengths
             * still drop it. */
            s->reader[i].skip_empty = i == LINK_PRI || i == LINK_SEC;
            s->reader_ready[i] = true;
        }
    }
    s->notify_state = devs[LINK_NOTIFY] ? NOTIFY_DISCONNECTED : NOTIFY_NONE;

    /* from here on callbacks may run in s->ctx */
    chr_fe_set_handlers(&s->out_fe, NULL, out_event_cb, out_writable_cb, s,
                        s->ctx);
    for (int i = 0; i < LINK__MAX; i++) {
        if (devs[i]) {
            chr_fe_set_handlers(&s->fe[i], reads[i], events[i], NULL, s,
                                s->ctx);
        }
    }
    if (!s->notify_dev) {
        s->listener.fn = colo_event_cb;
        s->listener.ctx = s->ctx;
        s->listener.opaque = s;
        s->listener.frame = s->frame;
        s->listener.name = id;
        colo_hooks_add_listener(&s->listener);
        s->listening = true;
    }
    start_scan_timer(s);
    if (s->adaptive) {
        colo_storm_start(s->storm, s->ctx);
    }
    s->completed = true;
    return TRUE;
}

static void shutdown_fn(ColoCompareObj *s, void *data)
{
    (void) data;
    if (s->scan_timer) {
        g_source_destroy(s->scan_timer);
        g_clear_pointer(&s->scan_timer, g_source_unref);
    }
    /* object-del: the held primary output leaves, in order (buffered
     * mode's first: it is older) */
    colo_storm_stop(s->storm);
    compare_flush(s->engine, COMPARE_UNCMP_SHUTDOWN);
    colo_storm_flush(s->storm);
    out_writable_cb(s);
    /* A link we stop reading in the middle of a frame stays connected
     * (the chardev outlives us), and whoever reads it next would take
     * the rest of that frame for a header: the peer's stream is out of
     * step for everyone.  Drop the connection, as after garbage; the
     * peer's next connection starts on a frame boundary. */
    for (int i = 0; i < LINK__MAX; i++) {
        if (s->reader_ready[i] && link_reader_mid_frame(&s->reader[i])) {
            g_message("colo-compare '%s': deleted inside a frame on %s; "
                      "dropping that connection",
                      user_object_get_id(USER_OBJECT(s)), link_names[i]);
            chr_fe_disconnect(&s->fe[i]);
        }
    }
}

static void nop_fn(ColoCompareObj *s, void *data)
{
    (void) s;
    (void) data;
}

/* Tears everything down; safe on a half-built object. */
static void colo_compare_teardown(ColoCompareObj *s)
{
    const char *id = user_object_get_id(USER_OBJECT(s));

    if (s->engine && s->ctx) {
        run_sync(s, shutdown_fn, NULL);
    }
    if (s->listening) {
        /* Final: a broadcast call still queued on s->ctx is skipped, one
         * running now is waited for (include/colo/colo.h). */
        colo_hooks_remove_listener(&s->listener);
        s->listening = false;
    }
    for (int i = 0; i < LINK__MAX; i++) {
        chr_fe_deinit(&s->fe[i]);
    }
    chr_fe_deinit(&s->out_fe);
    if (s->engine && s->ctx) {
        /* Wait for a callback of ours that is running on the context
         * now.  Nothing else is queued for us there: the chardevs are
         * detached and the listener is removed, so no priority order
         * between queued sources matters here. */
        run_sync(s, nop_fn, NULL);
    }
    /* Stops and joins our own thread: nothing of ours runs any more. */
    g_clear_object(&s->own_iothread);
    if (s->iothread) {
        user_object_unref_use(USER_OBJECT(s->iothread), id);
        g_clear_object(&s->iothread);
    }
    s->ctx = NULL;
    g_clear_pointer(&s->engine, compare_free);
    g_clear_pointer(&s->storm, colo_storm_free);
    for (int i = 0; i < LINK__MAX; i++) {
        if (s->reader_ready[i]) {
            link_reader_destroy(&s->reader[i]);
            s->reader_ready[i] = false;
        }
    }
    g_queue_clear_full(&s->backlog, g_free);
    s->completed = false;
}

static void colo_compare_unparent(UserObject *obj)
{
    colo_compare_teardown(COLO_COMPARE(obj));
}

static void colo_compare_finalize(GObject *obj)
{
    ColoCompareObj *s = COLO_COMPARE(obj);

    /* a half-built object (complete() failed) or one never unparented */
    colo_compare_teardown(s);
    G_OBJECT_CLASS(colo_compare_parent_class)->finalize(obj);
}

/* A runtime property changed (qom-set): the engine takes the new limits in
 * its own thread. */
static void colo_compare_reconfigure(ColoCompareObj *s, bool rearm)
{
    if (s->completed && s->engine) {
        run_sync(s, reconfigure_fn, GINT_TO_POINTER(rearm));
    }
}

static void colo_compare_limits_changed(UserObject *obj)
{
    colo_compare_reconfigure(COLO_COMPARE(obj), false);
}

/* expired_scan_cycle also re-arms the scan timer. */
static void colo_compare_scan_changed(UserObject *obj)
{
    colo_compare_reconfigure(COLO_COMPARE(obj), true);
}

static gboolean colo_compare_ignore_check(UserObject *obj,
                                          const GValue *value, GError **errp)
{
    uint32_t m;

    return compare_parse_ignore(g_value_get_string(value), &m, errp);
}

static gboolean colo_compare_hold_check(UserObject *obj, const GValue *value,
                                        GError **errp)
{
    const char *v = g_value_get_string(value);

    if (g_strcmp0(v, "diverged") && g_strcmp0(v, "all")) {
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_GENERIC,
                    "Property 'colo-compare.buffered_hold' must be "
                    "'diverged' or 'all'");
        return FALSE;
    }
    return TRUE;
}

static const PropDef colo_compare_props[] = {
    DEFINE_PROP_STR("primary_in", ColoCompareObj, primary_in, NULL, 0,
        "id of the socket chardev carrying the primary guest's output"),
    DEFINE_PROP_STR("secondary_in", ColoCompareObj, secondary_in, NULL, 0,
        "id of the socket chardev carrying the secondary guest's output"),
    DEFINE_PROP_STR("outdev", ColoCompareObj, outdev, NULL, 0,
        "id of the socket chardev released primary frames are written to"),
    DEFINE_PROP_STR("iothread", ColoCompareObj, iothread_id, NULL, 0,
        "id of the iothread to run on (default: a private thread)"),
    DEFINE_PROP_STR("notify_dev", ColoCompareObj, notify_dev, NULL, 0,
        "id of the chardev of Xen's COLO frame (checkpoint requests go "
        "there instead of the in-process frame)"),
    DEFINE_PROP_STR("frame", ColoCompareObj, frame, NULL, 0,
        "id of the colo-frame (VM pair) this compare belongs to: its "
        "checkpoint requests go there, its flushes come from there; "
        "default: the only colo-frame"),
    DEFINE_PROP_UINT("compare_timeout", ColoCompareObj, compare_timeout,
        0, G_MAXUINT32, COMPARE_DEFAULT_TIMEOUT_MS,
        PROP_RUNTIME | PROP_POSITIVE,
        "age in ms of a held packet that requests a checkpoint",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("expired_scan_cycle", ColoCompareObj, expired_scan_cycle,
        0, G_MAXUINT32, COMPARE_DEFAULT_SCAN_MS, PROP_RUNTIME | PROP_POSITIVE,
        "period in ms of the scan for old packets and idle connections",
        .changed = colo_compare_scan_changed),
    DEFINE_PROP_UINT("max_queue_size", ColoCompareObj, max_queue_size,
        0, G_MAXUINT32, COMPARE_DEFAULT_MAX_QUEUE_SIZE,
        PROP_RUNTIME | PROP_POSITIVE,
        "packets held per connection and side (exact bound, per instance)",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_BOOL("vnet_hdr_support", ColoCompareObj, vnet_hdr, FALSE, 0,
        "frames carry the vnet_hdr_len field"),
    DEFINE_PROP_UINT("max_connections", ColoCompareObj, max_connections,
        1, 1u << 24, COMPARE_DEFAULT_MAX_CONNECTIONS, 0,
        "connections tracked at most (never wiped; idle ones are evicted)"),
    DEFINE_PROP_UINT("max_held_packets", ColoCompareObj, max_held_packets,
        1, G_MAXUINT32, COMPARE_DEFAULT_MAX_HELD, PROP_RUNTIME,
        "packets held per side over all connections (bounds the memory: "
        "about 2 KiB each)", .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("tcp_idle_timeout", ColoCompareObj, tcp_idle_timeout,
        1, G_MAXUINT32, COMPARE_DEFAULT_TCP_IDLE_MS, PROP_RUNTIME,
        "ms after which an idle open TCP connection is forgotten",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("tcp_closed_timeout", ColoCompareObj, tcp_closed_timeout,
        1, G_MAXUINT32, COMPARE_DEFAULT_TCP_CLOSED_IDLE_MS, PROP_RUNTIME,
        "ms after which an idle closed (FIN both ways, or RST) TCP "
        "connection is forgotten", .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("udp_idle_timeout", ColoCompareObj, udp_idle_timeout,
        1, G_MAXUINT32, COMPARE_DEFAULT_UDP_IDLE_MS, PROP_RUNTIME,
        "ms after which an idle UDP flow is forgotten",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("other_idle_timeout", ColoCompareObj, other_idle_timeout,
        1, G_MAXUINT32, COMPARE_DEFAULT_OTHER_IDLE_MS, PROP_RUNTIME,
        "ms after which an idle ICMP or other IP flow is forgotten",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_STR("ignore", ColoCompareObj, ignore, "all", PROP_RUNTIME,
        "header fields not compared, ':'-separated: ttl, tos, ipid, "
        "checksums, window, tcp-ts, all, none",
        .check = colo_compare_ignore_check,
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_STR("passthrough", ColoCompareObj, passthrough, NULL, 0,
        "flows exempt from comparison, rules separated by ';' or ',,': "
        "PROTO[:HOST[:PORTS[:HOST[:PORTS]]]] (docs/storms.md); changed at "
        "run time with colo-passthrough-add/-del"),
    DEFINE_PROP_UINT("max_passthrough_rules", ColoCompareObj,
        max_passthrough_rules, 1, PASSTHROUGH_MAX_RULES,
        PASSTHROUGH_DEFAULT_MAX, 0, "passthrough rules at most"),
    DEFINE_PROP_BOOL("adaptive", ColoCompareObj, adaptive, FALSE,
        PROP_RUNTIME, "a checkpoint storm switches to buffered mode "
        "(periodic checkpoints, output held) until it is over",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_BOOL("auto_passthrough", ColoCompareObj, auto_passthrough,
        FALSE, PROP_RUNTIME, "add the passthrough rule a storm proposes",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("storm_rate", ColoCompareObj, storm_rate, 1, 1000000,
        STORM_DEFAULT_RATE, PROP_RUNTIME,
        "miscompares per second that start a storm",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("storm_busy", ColoCompareObj, storm_busy, 1, 100,
        STORM_DEFAULT_BUSY, PROP_RUNTIME,
        "percent of the time with a checkpoint outstanding that starts a "
        "storm", .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("storm_calm", ColoCompareObj, storm_calm, 0, 1000000,
        STORM_DEFAULT_CALM, PROP_RUNTIME,
        "miscompares per second below which a storm calms down",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("storm_calm_time", ColoCompareObj, storm_calm_time, 0,
        G_MAXUINT32, STORM_DEFAULT_CALM_TIME_MS, PROP_RUNTIME,
        "ms of calm that end a storm", .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("buffered_period", ColoCompareObj, buffered_period, 1,
        60000, STORM_DEFAULT_PERIOD_MS, 0,
        "ms between checkpoints in buffered mode"),
    DEFINE_PROP_UINT("buffered_max_held", ColoCompareObj, buffered_max_held,
        1, G_MAXUINT32, STORM_DEFAULT_MAX_HELD, PROP_RUNTIME,
        "frames held in buffered mode that ask for a checkpoint at once",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_STR("buffered_hold", ColoCompareObj, buffered_hold,
        "diverged", PROP_RUNTIME, "what buffered mode holds to a "
        "checkpoint: 'diverged' (what compare mode holds: flows that "
        "miscompared) or 'all' (every frame, as Remus)",
        .check = colo_compare_hold_check,
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("buffered_quiet", ColoCompareObj, buffered_quiet, 0,
        60000, STORM_DEFAULT_QUIET_MS, PROP_RUNTIME,
        "buffered mode: ms of primary silence, with output held, that "
        "start a checkpoint (0: at once)",
        .changed = colo_compare_limits_changed),
    DEFINE_PROP_UINT("buffered_duty", ColoCompareObj, buffered_duty, 1, 100,
        STORM_DEFAULT_DUTY, PROP_RUNTIME,
        "buffered mode: percent of the time checkpoints may be outstanding",
        .changed = colo_compare_limits_changed),
};

static void colo_compare_init(ColoCompareObj *s)
{
    g_queue_init(&s->backlog);
    s->event_rl = (RateLimit) RATE_LIMIT_INIT(10, 1000);
    s->warn_rl = (RateLimit) RATE_LIMIT_INIT(5, 5000);
}

static void colo_compare_class_init(ColoCompareObjClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);

    oc->finalize = colo_compare_finalize;
    uc->description = "compares the primary's and the secondary's output "
                      "and releases what matches (COLO primary)";
    uc->complete = colo_compare_complete;
    uc->unparent = colo_compare_unparent;

    object_class_install_props(oc, colo_compare_props);
}

/* ------------------------------------------------------------------------ */
/* Statistics (main thread, for QMP).                                         */

typedef struct StatsSnap {
    CompareStats eng;
    CompareObjStats obj;
    Histogram hold;
    uint64_t backlog;
    uint64_t empty[2];          /* records skipped on primary_in, secondary_in */
    NotifyState notify_state;
    bool paused;
} StatsSnap;

static void snap_fn(ColoCompareObj *s, void *data)
{
    StatsSnap *snap = data;

    compare_get_stats(s->engine, &snap->eng);
    snap->obj = s->st;
    histogram_snapshot(&s->hold, &snap->hold);
    snap->backlog = s->backlog.length;
    snap->notify_state = s->notify_state;
    snap->paused = s->pri_paused;
    for (int i = 0; i < 2; i++) {
        snap->empty[i] = s->reader_ready[i] ? s->reader[i].empty : 0;
    }
}

static JsonObject *reason_map(const uint64_t *v, unsigned n,
                              const char *(*name)(int))
{
    JsonObject *o = json_object_new();

    for (unsigned i = 0; i < n; i++) {
        json_object_set_int_member(o, name(i), (gint64) v[i]);
    }
    return o;
}

static const char *uncmp_name(int i)
{
    return compare_uncompared_name(i);
}

static const char *sdrop_name(int i)
{
    return compare_sec_drop_name(i);
}

static const char *mis_name(int i)
{
    return compare_mismatch_name(i);
}

static const char *ckpt_name(int i)
{
    return compare_ckpt_reason_name(i);
}

static JsonObject *verdict_map(const uint64_t *v)
{
    JsonObject *o = json_object_new();

    for (unsigned i = 1; i < PACKET_VERDICT__MAX; i++) {
        if (v[i]) {
            json_object_set_int_member(o, packet_verdict_name(i),
                                       (gint64) v[i]);
        }
    }
    return o;
}

static JsonObject *side_obj(const StatsSnap *sn, int side)
{
    JsonObject *o = json_object_new();

    json_object_set_int_member(o, "packets", (gint64) sn->eng.packets[side]);
    json_object_set_int_member(o, "bytes", (gint64) sn->eng.bytes[side]);
    json_object_set_int_member(o, "held", (gint64) sn->eng.held[side]);
    json_object_set_int_member(o, "held-max", (gint64) sn->eng.held_max[side]);
    json_object_set_int_member(o, "queue-max",
                               (gint64) sn->eng.queue_max_seen[side]);
    json_object_set_object_member(o, "unsupported",
                                  verdict_map(sn->eng.unsupported[side]));
    json_object_set_int_member(o, "empty-records", (gint64) sn->empty[side]);
    return o;
}

static JsonNode *stats_json(ColoCompareObj *s)
{
    StatsSnap sn = { 0 };
    JsonObject *o = json_object_new();
    JsonObject *links = json_object_new();
    JsonNode *node;

    run_sync(s, snap_fn, &sn);
    json_object_set_string_member(o, "id", user_object_get_id(USER_OBJECT(s)));
    json_object_set_string_member(o, "iothread",
                                  s->iothread_id ? s->iothread_id : "");
    json_object_set_object_member(o, "primary", side_obj(&sn, 0));
    json_object_set_object_member(o, "secondary", side_obj(&sn, 1));
    json_object_set_int_member(o, "released", (gint64) sn.eng.released);
    json_object_set_int_member(o, "released-bytes",
                               (gint64) sn.eng.released_bytes);
    json_object_set_int_member(o, "matched", (gint64) sn.eng.matched);
    json_object_set_object_member(o, "released-uncompared",
        reason_map(sn.eng.uncompared, COMPARE_UNCMP__MAX, uncmp_name));
    json_object_set_int_member(o, "secondary-consumed",
                               (gint64) sn.eng.sec_consumed);
    json_object_set_int_member(o, "reanchored",
                               (gint64) sn.eng.reanchored);
    json_object_set_int_member(o, "tcp-reused",
                               (gint64) sn.eng.tcp_reused);
    json_object_set_int_member(o, "gaps-in-checkpoint",
                               (gint64) sn.eng.gaps_in_checkpoint);
    json_object_set_object_member(o, "secondary-dropped",
        reason_map(sn.eng.sec_dropped, COMPARE_SDROP__MAX, sdrop_name));
    json_object_set_object_member(o, "mismatched",
        reason_map(sn.eng.mismatches, COMPARE_MISMATCH__MAX, mis_name));
    json_object_set_object_member(o, "checkpoints-requested",
        reason_map(sn.eng.checkpoints, COMPARE_CKPT__MAX, ckpt_name));
    json_object_set_int_member(o, "checkpoints-suppressed",
                               (gint64) sn.eng.checkpoints_suppressed);
    json_object_set_int_member(o, "checkpoints-handled",
                               (gint64) sn.eng.checkpoints_handled);
    json_object_set_int_member(o, "max-queue-size", s->max_queue_size);
    json_object_set_int_member(o, "connections",
                               (gint64) sn.eng.connections);
    json_object_set_int_member(o, "max-connections",
                               (gint64) sn.eng.connections_max);
    json_object_set_int_member(o, "connections-peak",
                               (gint64) sn.eng.connections_peak);
    json_object_set_int_member(o, "evictions", (gint64) sn.eng.evictions);
    json_object_set_int_member(o, "expirations", (gint64) sn.eng.expirations);
    json_object_set_int_member(o, "table-full", (gint64) sn.eng.table_full);
    json_object_set_int_member(o, "connection-memory",
                               (gint64) sn.eng.conn_mem_bytes);
    for (int i = 0; i < LINK__MAX; i++) {
        json_object_set_int_member(links, link_names[i],
                                   (gint64) sn.obj.framing_errors[i]);
    }
    json_object_set_object_member(o, "framing-errors", links);
    json_object_set_int_member(o, "out-frames", (gint64) sn.obj.out_frames);
    json_object_set_int_member(o, "out-bytes", (gint64) sn.obj.out_bytes);
    json_object_set_int_member(o, "out-dropped", (gint64) sn.obj.out_dropped);
    json_object_set_int_member(o, "out-backpressure",
                               (gint64) sn.obj.out_backpressure);
    json_object_set_int_member(o, "out-backlog", (gint64) sn.backlog);
    json_object_set_int_member(o, "out-backlog-max",
                               (gint64) sn.obj.out_backlog_max);
    json_object_set_boolean_member(o, "primary-paused", sn.paused);
    json_object_set_int_member(o, "miscompare-events",
                               (gint64) sn.obj.events);
    json_object_set_int_member(o, "miscompare-events-suppressed",
                               (gint64) sn.obj.events_suppressed);
    json_object_set_string_member(o, "notify-dev",
                                  notify_state_names[sn.notify_state]);
    json_object_set_int_member(o, "notify-sent", (gint64) sn.obj.notify_sent);
    json_object_set_boolean_member(o, "failover", sn.eng.failover);
    json_object_set_object_member(o, "hold-time", histogram_to_json(&sn.hold));
    node = json_node_new(JSON_NODE_OBJECT);
    json_node_take_object(node, o);
    return node;
}

JsonNode *colo_compare_query_stats(const char *id, GError **errp)
{
    JsonArray *arr = json_array_new();
    JsonNode *ret;
    GList *objs = user_object_list(OBJECT_KIND_OBJECT);
    bool found = false;

    for (GList *l = objs; l; l = l->next) {
        UserObject *o = l->data;

        if (!COLO_IS_COMPARE(o) || !user_object_is_complete(o)
            || !COLO_COMPARE(o)->engine) {
            continue;
        }
        if (id && strcmp(id, user_object_get_id(o))) {
            continue;
        }
        found = true;
        json_array_add_element(arr, stats_json(COLO_COMPARE(o)));
    }
    g_list_free(objs);
    if (id && !found) {
        json_array_unref(arr);
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "colo-compare '%s' not found", id);
        return NULL;
    }
    ret = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(ret, arr);
    return ret;
}

static void colo_compare_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "colo-compare",
                         TYPE_COLO_COMPARE);
}
type_init(colo_compare_register)
