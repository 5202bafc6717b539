/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colo/colo.c - the in-process COLO frame: state, checkpoint scheduling,
 * drivers and event broadcast.
 *
 * The frame sits between colo-compare, which asks for checkpoints, and
 * whatever can take one: an external manager told through a QMP event
 * (driver "event"), a command run per checkpoint (driver "exec"), or a
 * real QEMU driven over its QMP socket (driver "qemu", colo/colo-qemu.c
 * when present).  Its job is to turn a storm of requests into a sane
 * sequence of checkpoints, and to tell everybody when one committed:
 *
 *    request ──► [idle] ──start──► [in flight] ──done(ok)──► broadcast
 *                  ▲                   │  request: pending = true
 *                  │                   │  timeout: done(fail)
 *                  └──── min-interval ◄┘  pending: start again
 *
 * A broadcast calls every ColoEventListener in its own context (compare
 * instances live on iothreads) and waits, asynchronously, until all have
 * run; then the filters get COLO_EVENT_CHECKPOINT (the rewriter resets its
 * offsets) and the COLO_CHECKPOINT_DONE event is emitted.
 *
 * Without a colo-frame object (or after failover) the frame is in mode
 * "none": COLO is not running, so a request is answered at once with a
 * checkpoint event to the listeners alone, and colo-compare releases what
 * it held.  QEMU in that situation holds the output forever.
 *
 * Threads: colo_hooks_request_checkpoint() hands over to the main context; the
 * rest runs there.
 */
#include <errno.h>
#include <string.h>
#include <signal.h>
#include <json-glib/json-glib.h>
#include <sys/wait.h>

#include "colo/colo.h"
#include "colo/colo-internal.h"
#include "util/qmp-handler.h"
#include "net/filter-mirror.h"
#include "util/error.h"
#include "util/histogram.h"
#include "qom/iothread.h"
#include "util/lifeline.h"
#include "util/log.h"

/* ------------------------------------------------------------------ */
/* The frame's state (main context only).                              */

struct ColoFrameState {
    int refs;                    /* the object's, and one per broadcast
                                  * or exec child that may outlive it */
    char *id;                    /* the colo-frame's id; NULL: no frame */
    ColoMode mode;
    ColoMode last_mode;
    ColoExitReason reason;
    gboolean failover;
    gboolean named;              /* an object was bound with frame=<id> */

    ColoFrame *obj;              /* the configuring object, or NULL */

    /* checkpoint scheduling */
    gboolean in_flight;          /* a checkpoint was started, not done */
    gboolean pending;            /* another request arrived meanwhile */
    ColoCheckpointReason pending_reason;
    gboolean pending_unpaced;    /* a buffered-mode request is among them:
                                  * start without waiting for min-interval */
    char *pending_source;
    uint64_t ckpt_id;            /* id of the current/last checkpoint */
    int64_t last_start_us;       /* monotonic start of the last one */
    int64_t start_us;            /* monotonic start of the current one */
    guint delay_source;          /* min-interval timer */
    guint timeout_source;        /* checkpoint-timeout timer */
    unsigned broadcasting;       /* broadcasts not finished yet */
    gboolean again_quiet;        /* mode none: a request came during a
                                  * broadcast; answer it when it is over */
    gboolean again_done;         /* secondary: a checkpoint-done came during
                                  * a broadcast; broadcast once more then */
    GPid exec_pid;               /* driver exec: the running command */

    ColoStats stats;
};

/*
 * One ColoFrameState per colo-frame object, i.e. per VM pair; the
 * process may serve many (docs/devel/decisions.md, "many pairs per
 * process").  Objects bind to a frame by id (frame= on colo-compare,
 * the COLO filters, colo-heartbeat); an object without frame= belongs
 * to "the default frame": the only colo-frame when there is exactly
 * one, the frame-less state below when there is none -- so every
 * single-pair command line keeps working unchanged.  With several
 * frames nothing is implicit: the second frame is refused while an
 * unbound object exists, and an unbound object is refused while
 * several frames exist.
 *
 * Listeners (colo-compare) are kept in one list; a frame's broadcast
 * calls those that resolve to it.  A state is referenced by what may
 * still run after its object was deleted (a broadcast waiting for an
 * iothread, an exec driver's child), so that a pair deleted while
 * traffic flows frees its state only when the last of those is over;
 * its timers are removed at detach, and queued requests name their
 * frame by id and resolve it when they run.
 */
static ColoFrameState null_frame = { .refs = 1 };   /* no colo-frame */
static GList *frames;            /* of ColoFrameState *, creation order */
static GQueue listeners;         /* of ColoEventListener * */

static ColoFrameState *fs_ref(ColoFrameState *fs)
{
    fs->refs++;
    return fs;
}

static void fs_unref(ColoFrameState *fs)
{
    g_assert(fs->refs > 0);
    if (--fs->refs == 0) {
        g_assert(fs != &null_frame);
        g_free(fs->pending_source);
        g_free(fs->id);
        g_free(fs);
    }
}

static ColoFrameState *fs_find(const char *id)
{
    for (GList *l = frames; l; l = l->next) {
        ColoFrameState *fs = l->data;

        if (!g_strcmp0(fs->id, id)) {
            return fs;
        }
    }
    return NULL;
}

/* The frame unbound objects belong to: the only one, or the frame-less
 * state; NULL when several frames exist. */
static ColoFrameState *fs_default(void)
{
    if (!frames) {
        return &null_frame;
    }
    return frames->next ? NULL : frames->data;
}

/* The frame an object bound to 'id' (NULL: unbound) belongs to now.  A
 * bound object whose frame was deleted, or an unbound one among several
 * frames, is frame-less: COLO does not run for it. */
static ColoFrameState *fs_resolve(const char *id)
{
    ColoFrameState *fs = id && *id ? fs_find(id) : fs_default();

    return fs ? fs : &null_frame;
}

gboolean colo_frame_bind_check_impl(const char *frame, const char *what,
                                    GError **errp)
{
    if (frame && *frame) {
        ColoFrameState *fs = fs_find(frame);

        if (!fs) {
            error_setg(errp, "'%s': colo-frame '%s' does not exist (create "
                       "the colo-frame first)", what, frame);
            return FALSE;
        }
        fs->named = TRUE;       /* see colo_fs_named() */
        return TRUE;
    }
    if (!fs_default()) {
        error_setg(errp, "'%s': this process serves %u COLO pairs; say "
                   "which with frame=<colo-frame id>", what,
                   g_list_length(frames));
        return FALSE;
    }
    return TRUE;
}

/* The old single-frame entry points act on the default frame. */
static ColoFrameState *fs_dflt(void)
{
    return fs_resolve(NULL);
}

ColoFrameState *colo_frame_state(ColoFrame *f)
{
    ColoFrameState *fs = f ? colo_frame_get_state(f) : NULL;

    return fs ? fs : &null_frame;
}

const char *colo_fs_id(ColoFrameState *fs)
{
    return fs->id;
}

ColoFrame *colo_fs_object(ColoFrameState *fs)
{
    return fs->obj;
}

guint colo_frame_count(void)
{
    return g_list_length(frames);
}

/*
 * Whether this pair's events and status name it (a "frame" member): when
 * the process serves several pairs, and also when objects were bound to
 * it with frame= -- a command line written for several pairs keeps
 * naming its pairs when only one is left (the others deleted, or not
 * added yet), as the events of its frame=-bound objects do.  A
 * single-pair command line without frame= keeps QEMU's shapes.
 */
gboolean colo_fs_named(ColoFrameState *fs)
{
    return fs->id && (fs->named || (frames && frames->next));
}

/* The frame a QMP command addresses: 'id', or the only one. */
ColoFrameState *colo_frame_for_qmp(const char *id, GError **errp)
{
    GString *names;
    ColoFrameState *fs;

    if (id) {
        fs = fs_find(id);
        if (!fs) {
            error_setg(errp, "colo-frame '%s' does not exist", id);
        }
        return fs;
    }
    fs = fs_default();
    if (fs) {
        return fs;
    }
    names = g_string_new(NULL);
    for (GList *l = frames; l; l = l->next) {
        g_string_append_printf(names, "%s'%s'", l == frames ? "" : ", ",
                               ((ColoFrameState *) l->data)->id);
    }
    error_setg(errp, "this process serves %u COLO pairs (colo-frame %s); "
               "say which with the 'frame' argument",
               g_list_length(frames), names->str);
    g_string_free(names, TRUE);
    return NULL;
}

static const char *const mode_names[] = { "none", "primary", "secondary" };
static const char *const reason_names[] = {
    "none", "request", "error", "processing",
};
static const char *const ckpt_reason_names[COLO_CKPT__MAX] = {
    [COLO_CKPT_MISCOMPARE] = "miscompare",
    [COLO_CKPT_TIMEOUT] = "timeout",
    [COLO_CKPT_QUEUE_FULL] = "queue-full",
    [COLO_CKPT_TABLE_FULL] = "table-full",
    [COLO_CKPT_INPUT_LOST] = "input-lost",
    [COLO_CKPT_MANUAL] = "manual",
    [COLO_CKPT_BUFFERED] = "buffered",
};

const char *colo_mode_name(ColoMode mode)
{
    return (unsigned) mode < G_N_ELEMENTS(mode_names) ? mode_names[mode] : "?";
}

const char *colo_exit_reason_name(ColoExitReason reason)
{
    return (unsigned) reason < G_N_ELEMENTS(reason_names)
           ? reason_names[reason] : "?";
}

const char *colo_checkpoint_reason_name(ColoCheckpointReason reason)
{
    return (unsigned) reason < COLO_CKPT__MAX ? ckpt_reason_names[reason] : "?";
}

ColoMode colo_fs_mode(ColoFrameState *fs)
{
    return fs->mode;
}

gboolean colo_fs_failover_active(ColoFrameState *fs)
{
    return fs->failover;
}

const ColoStats *colo_fs_stats(ColoFrameState *fs)
{
    return &fs->stats;
}

gboolean colo_fs_in_flight(ColoFrameState *fs)
{
    return fs->in_flight;
}

ColoExitReason colo_fs_exit_reason(ColoFrameState *fs)
{
    return fs->reason;
}

ColoMode colo_fs_last_mode(ColoFrameState *fs)
{
    return fs->last_mode;
}

ColoMode colo_get_mode(void)
{
    return fs_dflt()->mode;
}

gboolean colo_failover_active(void)
{
    return fs_dflt()->failover;
}

/* A committed checkpoint of 'fs' took 'us': the duration histogram of
 * query-colo-stats and the metrics (main thread, its only writer). */
static void colo_observe_checkpoint(ColoFrameState *fs, int64_t us)
{
    Histogram *h = &fs->stats.duration;

    if (!h->bounds_us) {
        histogram_init(h, histogram_checkpoint_bounds_us,
                       histogram_checkpoint_n);
    }
    histogram_observe(h, us);
}

const ColoStats *colo_get_stats(void)
{
    return &fs_dflt()->stats;
}

gboolean colo_checkpoint_in_flight(void)
{
    return fs_dflt()->in_flight;
}

ColoExitReason colo_get_exit_reason(void)
{
    return fs_dflt()->reason;
}

ColoMode colo_get_last_mode(void)
{
    return fs_dflt()->last_mode;
}

/* ------------------------------------------------------------------ */
/* Listeners and broadcast.                                            */

void colo_frame_add_listener(ColoEventListener *l)
{
    l->link_.data = l;
    /* Every call of a broadcast to this listener goes through its
     * lifeline (include/util/lifeline.h), so that removing it is final. */
    l->lifeline_ = lifeline_new(l->ctx ? l->ctx : main_context());
    g_queue_push_tail_link(&listeners, &l->link_);
}

void colo_frame_remove_listener(ColoEventListener *l)
{
    if (l->link_.data) {
        g_queue_unlink(&listeners, &l->link_);
        l->link_.data = NULL;
    }
    if (l->lifeline_) {
        /* Calls still queued in the listener's context are skipped (their
         * broadcasts still complete), and one running now is waited for. */
        lifeline_cut(l->lifeline_);
        g_clear_pointer(&l->lifeline_, lifeline_unref);
    }
}

/* One broadcast in progress.  Broadcasts may overlap (a failover while
 * a checkpoint's listeners still run, "done" after "done" on the
 * secondary), so each counts its own listeners. */
typedef struct Broadcast {
    ColoFrameState *fs;          /* referenced */
    ColoEvent event;
    gboolean quiet;              /* mode none: release only, no filters/events */
    unsigned waiting;            /* listeners still to run */
    int64_t unrequested_us;      /* a checkpoint this frame did not start:
                                  * when it began (QEMU's STOP); else 0 */
    const char *origin;          /* of such a one: "qemu" or "xen" */
} Broadcast;

typedef struct BroadcastCall {
    ColoEventListener *l;       /* only touched if the lifeline is whole */
    Broadcast *b;
} BroadcastCall;

static void broadcast_finish(Broadcast *b);

/* Listeners on other contexts answer a broadcast through this: calls into
 * the main context, which is never torn down (so never cut).  Made by the
 * first broadcast, in the main thread, before any answer can come. */
static Lifeline *main_mailbox;

/* Runs in the main context when a listener on another context is done. */
static gboolean broadcast_listener_done(gpointer data)
{
    Broadcast *b = data;

    g_assert(b->waiting > 0);
    if (--b->waiting == 0) {
        broadcast_finish(b);
    }
    return G_SOURCE_REMOVE;
}

/* Runs in the listener's own context, through its lifeline: never after
 * the listener was removed. */
static gboolean broadcast_call_listener(gpointer data)
{
    BroadcastCall *call = data;

    call->l->fn(call->l, call->b->event);
    return G_SOURCE_REMOVE;
}

/* The lifeline's 'done': once per call, whether the listener ran, was
 * removed first, or its context went away with the call queued; in that
 * context's thread or the one destroying it.  The broadcast counts the
 * call as finished in the main context, always through the queue: never
 * re-entered from inside an object's teardown. */
static void broadcast_call_done(gpointer data)
{
    BroadcastCall *call = data;

    /* the main context's mailbox, not a GSource of its own: attaching one
     * from the iothread takes the main context's lock twice, and the main
     * thread, woken meanwhile, blocks on it (util/lifeline.c) */
    lifeline_invoke(main_mailbox, G_PRIORITY_DEFAULT,
                    broadcast_listener_done, call->b, NULL);
    g_free(call);
}

static void broadcast_full(ColoFrameState *fs, ColoEvent event,
                           gboolean quiet, int64_t unrequested_us,
                           const char *origin)
{
    Broadcast *b = g_new0(Broadcast, 1);
    GList *l;

    b->fs = fs_ref(fs);
    b->origin = origin;
    b->event = event;
    b->quiet = quiet;
    b->unrequested_us = unrequested_us;
    /* One extra count for ourselves, so that listeners finishing
     * synchronously cannot complete the broadcast while we iterate. */
    b->waiting = 1;
    fs->broadcasting++;
    if (!main_mailbox) {
        main_mailbox = lifeline_new(main_context());
    }
    for (l = listeners.head; l; l = l->next) {
        ColoEventListener *lis = l->data;
        GMainContext *ctx = lis->ctx ? lis->ctx : main_context();

        if (fs_resolve(lis->frame) != fs) {
            continue;           /* another pair's */
        }
        if (ctx == main_context()) {
            lis->fn(lis, event);
        } else {
            BroadcastCall *call = g_new0(BroadcastCall, 1);

            call->l = lis;
            call->b = b;
            b->waiting++;
            /* The listener's context belongs to another thread (an
             * iothread): hand the call over to it, through the listener's
             * lifeline, the one road that a removal closes. */
            lifeline_invoke(lis->lifeline_, G_PRIORITY_DEFAULT,
                            broadcast_call_listener, call,
                            broadcast_call_done);
        }
    }
    broadcast_listener_done(b);
}

static void broadcast(ColoFrameState *fs, ColoEvent event, gboolean quiet)
{
    broadcast_full(fs, event, quiet, 0, NULL);
}

typedef struct NoticeCall {
    ColoEventListener *l;       /* only touched if the lifeline is whole */
    ColoEvent event;
} NoticeCall;

static gboolean notice_call_listener(gpointer data)
{
    NoticeCall *call = data;

    call->l->fn(call->l, call->event);
    return G_SOURCE_REMOVE;
}

/* Tells every listener 'event' and waits for none: a notice, not a
 * broadcast (nothing completes when they have run).  Through each
 * listener's lifeline, like a broadcast. */
static void notice(ColoFrameState *fs, ColoEvent event)
{
    for (GList *l = listeners.head; l; l = l->next) {
        ColoEventListener *lis = l->data;
        GMainContext *ctx = lis->ctx ? lis->ctx : main_context();

        if (fs_resolve(lis->frame) != fs) {
            continue;
        }
        if (ctx == main_context()) {
            lis->fn(lis, event);
        } else {
            NoticeCall *call = g_new(NoticeCall, 1);

            call->l = lis;
            call->event = event;
            lifeline_invoke(lis->lifeline_, G_PRIORITY_DEFAULT,
                            notice_call_listener, call, g_free);
        }
    }
}

/*
 * A checkpoint's state is being saved: both guests are stopped (the qemu
 * driver's MIGRATION_PASS in "colo").  That, not the commit, is when
 * colo-compare must flush, as QEMU's own does at the same point: the
 * secondary resumes from the new state before the primary's QEMU reports
 * the commit, and what it sends then must meet an empty, re-anchored
 * compare, not be dropped by a flush at the commit (its counterparts from
 * the primary would then wait for the next checkpoint: the 2 s stalls of
 * x-checkpoint-delay 2000).  Drivers that cannot see this point (exec,
 * event) leave the flush to the commit.
 */
void colo_fs_checkpoint_begun(ColoFrameState *fs)
{
    if (fs->failover) {
        return;
    }
    if (fs->mode == COLO_MODE_PRIMARY) {
        notice(fs, COLO_EVENT_CHECKPOINT_BEGIN);
    } else if (fs->mode == COLO_MODE_SECONDARY) {
        /* the guest stopped to load the primary's state: what the
         * filters handle from now on meets the new state (QEMU holds
         * frames for a stopped guest), so filter-rewriter's offsets go
         * now, not at the RESUME, when the guest already runs */
        ColoEventInfo ev = { .event = COLO_EVENT_CHECKPOINT_BEGIN,
                             .mode = COLO_MODE_SECONDARY,
                             .frame = fs->id,
                             .frame_not_default = fs_default() != fs };
        GError *err = NULL;

        if (!netfilter_notify_colo_event(&ev, &err)) {
            g_warning("COLO checkpoint-begin event: %s", err->message);
            g_clear_error(&err);
        }
    }
}

void colo_checkpoint_begun(void)
{
    colo_fs_checkpoint_begun(fs_dflt());
}

/* With several pairs (or a pair bound by name), every event of a pair
 * names its frame; a single unnamed pair's events keep QEMU's shapes. */
static void emit_simple_event(ColoFrameState *fs, const char *name,
                              JsonObject *data)
{
    if (colo_fs_named(fs)) {
        json_object_set_string_member(data, "frame", fs->id);
    }
    qmp_event_emit(name, data);
}

static void start_checkpoint(ColoFrameState *fs);

static gboolean delay_expired(gpointer data)
{
    ColoFrameState *fs = data;

    fs->delay_source = 0;
    start_checkpoint(fs);
    return G_SOURCE_REMOVE;
}

/* Starts the pending checkpoint now, or when min-interval allows; with
 * 'defer', from the main loop even if it is due now (a retry after a
 * driver that failed at once must not recurse into start_checkpoint()). */
static void schedule_pending_full(ColoFrameState *fs, gboolean defer)
{
    int64_t now = g_get_monotonic_time();
    int64_t min_us = (int64_t) colo_frame_min_interval_ms(fs->obj) * 1000;
    int64_t wait_us;

    if (fs->pending_unpaced) {
        /* buffered mode's schedule (quiet time, period, duty bound) is
         * the pacing: min-interval would only cap it (docs/storms.md) */
        min_us = 0;
        if (fs->delay_source && !defer) {
            g_source_remove(fs->delay_source);
            fs->delay_source = 0;
        }
    }
    if (!fs->pending || fs->in_flight || fs->delay_source ||
        fs->broadcasting) {
        return;
    }
    if (fs->mode != COLO_MODE_PRIMARY) {
        /* only a primary starts checkpoints (see colo_checkpoint_done) */
        fs->pending = FALSE;
        fs->pending_unpaced = FALSE;
        g_clear_pointer(&fs->pending_source, g_free);
        return;
    }
    wait_us = fs->last_start_us + min_us - now;
    if (fs->last_start_us == 0 || wait_us <= 0) {
        if (!defer) {
            start_checkpoint(fs);
            return;
        }
        wait_us = 0;
    }
    /* the timer is removed when the frame goes (colo_frame_detach) */
    fs->delay_source = g_timeout_add((guint) ((wait_us + 999) / 1000),
                                     delay_expired, fs);
}

static void schedule_pending(ColoFrameState *fs)
{
    schedule_pending_full(fs, FALSE);
}

/* The last broadcast is over: what came in meanwhile and was held back
 * (at most one of each kind, however many came) goes out now. */
static void broadcast_again(ColoFrameState *fs)
{
    if (fs->again_quiet) {
        fs->again_quiet = FALSE;
        if (fs->mode == COLO_MODE_NONE && !fs->failover) {
            broadcast(fs, COLO_EVENT_CHECKPOINT, TRUE);
        }
    }
    if (fs->again_done) {
        fs->again_done = FALSE;
        if (fs->mode == COLO_MODE_SECONDARY && !fs->failover) {
            fs->stats.completed++;
            broadcast(fs, COLO_EVENT_CHECKPOINT, FALSE);
        }
    }
}

static void broadcast_finish_one(ColoFrameState *fs, Broadcast *b)
{
    ColoEvent event = b->event;
    gboolean quiet = b->quiet;
    int64_t unrequested_us = b->unrequested_us;
    const char *origin = b->origin;
    GError *err = NULL;

    g_free(b);
    g_assert(fs->broadcasting > 0);
    fs->broadcasting--;
    if (quiet) {
        schedule_pending(fs);
        return;
    }
    /* The filters heard of a failover when it began (colo_failover_full());
     * of a checkpoint, now that every listener has flushed. */
    if (event == COLO_EVENT_CHECKPOINT) {
        ColoEventInfo ev = { .event = COLO_EVENT_CHECKPOINT,
                             .frame = fs->id,
                             .frame_not_default = fs_default() != fs };
        JsonObject *data;
        int64_t start_us = unrequested_us ? unrequested_us : fs->start_us;
        int64_t duration_us;

        if (!netfilter_notify_colo_event(&ev, &err)) {
            g_warning("COLO checkpoint event: %s", err->message);
            g_clear_error(&err);
        }
        data = json_object_new();

        /* one the frame did not start has no number of its own, and must
         * not end the timing of one of ours that is in flight */
        json_object_set_int_member(data, "id",
                                   unrequested_us ? 0 : (gint64) fs->ckpt_id);
        duration_us = start_us ? g_get_monotonic_time() - start_us : 0;
        json_object_set_int_member(data, "duration-us", duration_us);
        if (start_us) {
            colo_observe_checkpoint(fs, duration_us);
        }
        json_object_set_string_member(data, "origin",
            unrequested_us ? origin :
            fs->mode == COLO_MODE_SECONDARY ? "secondary" : "frame");
        emit_simple_event(fs, "COLO_CHECKPOINT_DONE", data);
        if (!unrequested_us) {
            fs->start_us = 0;
        }
        schedule_pending(fs);
    }
}

/* Ends broadcast 'b' (its events first), then starts what was held back
 * for the moment no broadcast runs. */
static void broadcast_finish(Broadcast *b)
{
    ColoFrameState *fs = b->fs;

    broadcast_finish_one(fs, b);
    if (!fs->broadcasting) {
        broadcast_again(fs);
    }
    fs_unref(fs);
}

/* ------------------------------------------------------------------ */
/* Drivers.                                                            */

typedef struct ExecChild {
    ColoFrameState *fs;          /* referenced */
    uint64_t id;
} ExecChild;

static void exec_child_watch(GPid pid, gint status, gpointer data)
{
    ExecChild *c = data;
    ColoFrameState *fs = c->fs;
    GError *err = NULL;
    gboolean ok;

    g_spawn_close_pid(pid);
    if (fs->exec_pid == pid) {
        fs->exec_pid = 0;
    }
    if (fs->obj && c->id == fs->ckpt_id && fs->in_flight) {
        /* not timed out already, nor the frame deleted */
        ok = g_spawn_check_wait_status(status, &err);
        colo_fs_checkpoint_done(fs, ok, ok ? NULL : err->message);
        g_clear_error(&err);
    }
    fs_unref(fs);
    g_free(c);
}

static gboolean driver_exec_start(ColoFrameState *fs, uint64_t id, ColoCheckpointReason reason,
                                  const char *source, GError **errp)
{
    const char *cmd = colo_frame_exec_command(fs->obj);
    g_auto(GStrv) argv = NULL;
    g_auto(GStrv) envp = g_get_environ();
    g_autofree char *ids = g_strdup_printf("%" G_GUINT64_FORMAT, id);
    GPid pid;

    if (!cmd || !*cmd) {
        error_setg(errp, "colo-frame driver 'exec' needs the 'exec' property");
        return FALSE;
    }
    if (!g_shell_parse_argv(cmd, NULL, &argv, errp)) {
        return FALSE;
    }
    envp = g_environ_setenv(envp, "COLO_CHECKPOINT_ID", ids, TRUE);
    envp = g_environ_setenv(envp, "COLO_CHECKPOINT_REASON",
                            colo_checkpoint_reason_name(reason), TRUE);
    envp = g_environ_setenv(envp, "COLO_CHECKPOINT_SOURCE",
                            source ? source : "", TRUE);
    if (!g_spawn_async(NULL, argv, envp,
                       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                       NULL, NULL, &pid, errp)) {
        return FALSE;
    }
    ExecChild *c = g_new(ExecChild, 1);

    c->fs = fs_ref(fs);
    c->id = id;
    fs->exec_pid = pid;
    g_child_watch_add(pid, exec_child_watch, c);
    return TRUE;
}

static gboolean checkpoint_timed_out(gpointer data)
{
    ColoFrameState *fs = data;

    fs->timeout_source = 0;
    if (fs->in_flight) {
        fs->stats.timeouts++;
        colo_fs_checkpoint_done(fs, FALSE, "checkpoint did not complete in time");
    }
    return G_SOURCE_REMOVE;
}

static void start_checkpoint(ColoFrameState *fs)
{
    ColoCheckpointReason reason = fs->pending_reason;
    g_autofree char *source = g_steal_pointer(&fs->pending_source);
    ColoFrameDriver driver = colo_frame_driver(fs->obj);
    GError *err = NULL;
    JsonObject *data;
    gboolean ok = TRUE;

    g_assert(!fs->in_flight);
    fs->pending = FALSE;
    fs->pending_unpaced = FALSE;
    fs->in_flight = TRUE;
    fs->ckpt_id++;
    fs->stats.started++;
    fs->last_start_us = fs->start_us = g_get_monotonic_time();

    /* The event is the contract of the "event" driver and a trace for
     * the others. */
    data = json_object_new();
    json_object_set_int_member(data, "id", (gint64) fs->ckpt_id);
    json_object_set_string_member(data, "reason",
                                  colo_checkpoint_reason_name(reason));
    json_object_set_string_member(data, "source", source ? source : "");
    json_object_set_string_member(data, "driver",
                                  colo_frame_driver_name(driver));
    emit_simple_event(fs, "COLO_CHECKPOINT_REQUEST", data);

    switch (driver) {
    case COLO_FRAME_DRIVER_EVENT:
        break;                  /* x-colo-checkpoint-done completes it */
    case COLO_FRAME_DRIVER_EXEC:
        ok = driver_exec_start(fs, fs->ckpt_id, reason, source, &err);
        break;
    case COLO_FRAME_DRIVER_QEMU:
        ok = colo_frame_qemu_start(fs->obj, fs->ckpt_id, &err);
        break;
    }
    if (!ok) {
        /* retried at once with min-interval=0: keep the log readable */
        LOG_WARN_RL("COLO checkpoint %" G_GUINT64_FORMAT ": %s",
                     fs->ckpt_id, err->message);
        colo_fs_checkpoint_done(fs, FALSE, err->message);
        g_error_free(err);
        return;
    }
    fs->timeout_source =
        g_timeout_add(colo_frame_checkpoint_timeout_ms(fs->obj),
                      checkpoint_timed_out, fs);
}

/* ------------------------------------------------------------------ */
/* Requests and completion.                                            */

typedef struct Request {
    char *frame;                 /* the requester's frame= (NULL: unbound) */
    ColoCheckpointReason reason;
    char *source;
    char *detail;
} Request;

static gboolean request_in_main(gpointer data)
{
    Request *req = data;
    /* resolved now, in the main context: the frame the requester
     * belongs to at this moment (it may have been deleted meanwhile) */
    ColoFrameState *fs = fs_resolve(req->frame);

    fs->stats.requests[req->reason]++;
    if (fs->failover) {
        fs->stats.ignored++;  /* nobody to checkpoint with any more */
    } else if (fs->mode == COLO_MODE_NONE) {
        /*
         * COLO is not running: there is no secondary to bring in line, so
         * nothing justifies holding the primary's output.  Answer at once
         * with a checkpoint event to the listeners only (colo-compare
         * releases what it holds); the filters and the QMP clients are not
         * told about a checkpoint that did not happen.
         */
        fs->stats.ignored++;
        if (!fs->broadcasting) {
            broadcast(fs, COLO_EVENT_CHECKPOINT, TRUE);
        } else {
            /* Listeners may have taken this request's frames after their
             * part of the running broadcast: answer it again once that
             * is over, however many requests come until then. */
            fs->again_quiet = TRUE;
        }
    } else if (fs->mode == COLO_MODE_SECONDARY) {
        /* a secondary never starts checkpoints (a colo-compare there is
         * a configuration error; x-colo-checkpoint refuses) */
        fs->stats.ignored++;
        LOG_WARN_RL("COLO checkpoint request from '%s' ignored: this side "
                     "is the secondary; checkpoints start on the primary",
                     req->source ? req->source : "?");
    } else {
        if (fs->in_flight || fs->pending || fs->broadcasting) {
            fs->stats.coalesced++;
        }
        if (!fs->pending) {
            fs->pending = TRUE;
            fs->pending_reason = req->reason;
            fs->pending_source = g_steal_pointer(&req->source);
        }
        if (req->reason == COLO_CKPT_BUFFERED) {
            fs->pending_unpaced = TRUE;
        }
    }
    schedule_pending(fs);
    g_free(req->frame);
    g_free(req->source);
    g_free(req->detail);
    g_free(req);
    return G_SOURCE_REMOVE;
}

void colo_frame_request_checkpoint(const char *frame, const char *source,
                                   ColoCheckpointReason reason,
                                   const char *detail)
{
    Request *req = g_new0(Request, 1);

    g_return_if_fail((unsigned) reason < COLO_CKPT__MAX);
    req->frame = g_strdup(frame);
    req->reason = reason;
    req->source = g_strdup(source);
    req->detail = g_strdup(detail);
    /* May come from an iothread: the frame's state is the main
     * context's. */
    g_main_context_invoke(main_context(), request_in_main, req);
}

void colo_checkpoint_done(gboolean ok, const char *error)
{
    colo_fs_checkpoint_done(fs_dflt(), ok, error);
}

void colo_fs_checkpoint_done(ColoFrameState *fs, gboolean ok,
                             const char *error)
{
    JsonObject *data;

    if (fs->timeout_source) {
        g_source_remove(fs->timeout_source);
        fs->timeout_source = 0;
    }
    if (!ok) {
        fs->in_flight = FALSE;
        fs->stats.failed++;
        data = json_object_new();
        json_object_set_int_member(data, "id", (gint64) fs->ckpt_id);
        json_object_set_string_member(data, "error", error ? error : "");
        emit_simple_event(fs, "COLO_CHECKPOINT_FAILED", data);
        /* Try again: whatever asked still wants the checkpoint.  Only a
         * primary retries: it is the side that starts checkpoints.  On a
         * secondary a failed report (x-colo-checkpoint-done {"ok":
         * false}, or its QEMU failing to load one) concerns a checkpoint
         * the primary started; the primary retries it, and a secondary
         * that "retried" would start checkpoints of its own, forever. */
        if (fs->mode == COLO_MODE_PRIMARY && !fs->pending &&
            !fs->failover) {
            fs->pending = TRUE;
            fs->pending_reason = COLO_CKPT_TIMEOUT;
        }
        schedule_pending_full(fs, TRUE);
        return;
    }
    fs->in_flight = FALSE;
    if (fs->mode == COLO_MODE_SECONDARY && fs->broadcasting) {
        /* A secondary is told of each checkpoint by its management
         * (x-colo-checkpoint-done); however fast those come, one
         * broadcast runs and at most one more follows it. */
        fs->again_done = TRUE;
        fs->stats.coalesced++;
        return;
    }
    fs->stats.completed++;
    broadcast(fs, COLO_EVENT_CHECKPOINT, FALSE);
}

/*
 * A checkpoint this frame did not start has committed: QEMU took it on
 * its own (x-checkpoint-delay) and the qemu driver saw its RESUME.  It
 * matters as much as one of ours: from its commit on the secondary is a
 * copy of the primary and will never send the counterparts of what the
 * primary sent before it, so colo-compare must release what it holds for
 * it (QEMU's colo-compare flushes on every checkpoint) instead of waiting
 * for compare_timeout, and the rewriter may drop its offsets.  So it is
 * broadcast like ours; COLO_CHECKPOINT_DONE says "origin": "qemu" and
 * query-colo-stats counts it as @unrequested, not @completed.  A
 * checkpoint of ours in flight is not affected: it still waits for its
 * own commit.  'start_us' is when it began (the STOP), for duration-us.
 */
void colo_fs_checkpoint_unrequested(ColoFrameState *fs, int64_t start_us)
{
    if (fs->mode != COLO_MODE_PRIMARY || fs->failover) {
        return;
    }
    fs->stats.unrequested++;
    broadcast_full(fs, COLO_EVENT_CHECKPOINT, FALSE,
                   start_us > 0 ? start_us : g_get_monotonic_time(), "qemu");
}

/*
 * Xen's checkpoint (QMP xen-colo-do-checkpoint, which libxl sends to each
 * side at the end of every checkpoint, just before it resumes the guest):
 * both guests hold the same state again.  QEMU answers it with its block
 * replication checkpoint and COLO_EVENT_CHECKPOINT to the netfilters
 * (filter-rewriter drops its offsets); a colo-compare there is flushed by
 * libxl's COLO_CHECKPOINT over its notify_dev instead.  Here it is
 * broadcast like a checkpoint the frame did not start: the pair's
 * colo-compares driven by the frame (no notify_dev: those flush on
 * their own COLO_CHECKPOINT, as in QEMU) release what they hold, then
 * the pair's filters hear COLO_EVENT_CHECKPOINT, then
 * COLO_CHECKPOINT_DONE says "origin": "xen".  Xen runs no colo-frame
 * (libxl is the COLO frame), so the frame-less state answers it too; it
 * is counted as @unrequested.  No block replication here (docs/interop.md).
 */
void colo_fs_xen_checkpoint(ColoFrameState *fs)
{
    fs->stats.unrequested++;
    broadcast_full(fs, COLO_EVENT_CHECKPOINT, FALSE, g_get_monotonic_time(),
                   "xen");
}

/* ------------------------------------------------------------------ */
/* Failover and mode.                                                  */

/*
 * Failover is one step for the whole side: the frame's state, this
 * process's filters and, with driver=qemu, this side's QEMU.  The order
 * matters on the secondary: QEMU resumes the promoted guest some 20 ms
 * after x-colo-lost-heartbeat, and its first frames must find the
 * redirectors already off (output straight to the network) -- a proxy
 * that failed over after its QEMU dropped them meanwhile.  So the filters
 * are told synchronously here (their handle_event() runs in this call and
 * switches them off, include/net/filter.h), before the QMP command is
 * even queued; the command itself is written from the main loop right
 * after.  The listeners (colo-compare, on its iothread) are told next.
 * 'tell_qemu' is FALSE when QEMU is the one that failed over (the driver
 * saw it) and the proxy only follows.
 */
void colo_checkpoint_unrequested(int64_t start_us)
{
    colo_fs_checkpoint_unrequested(fs_dflt(), start_us);
}

gboolean colo_failover_full(ColoExitReason reason, gboolean tell_qemu,
                            GError **errp)
{
    return colo_fs_failover(fs_dflt(), reason, tell_qemu, errp);
}

/* One pair fails over: its state, the filters and listeners bound to
 * it, its QEMU; no other pair hears of it. */
gboolean colo_fs_failover(ColoFrameState *fs, ColoExitReason reason,
                          gboolean tell_qemu, GError **errp)
{
    JsonObject *data;
    ColoMode mode = fs->mode;
    ColoEventInfo ev = { .event = COLO_EVENT_FAILOVER, .frame = fs->id,
                         .frame_not_default = fs_default() != fs };
    GError *err = NULL;

    if (fs->failover) {
        error_setg(errp, "COLO failover is already activated");
        return FALSE;
    }
    if (mode == COLO_MODE_NONE) {
        colo_fs_not_enabled_error(fs, errp);
        return FALSE;
    }
    /* colo-quorum (colo/quorum.c): no promotion without quorum; a QEMU
     * that failed over by itself is followed (its output stays held) */
    if (tell_qemu && !colo_quorum_failover_check(fs->id, mode, reason, errp)) {
        return FALSE;
    }
    fs->failover = TRUE;
    fs->stats.failovers++;
    if (fs->delay_source) {
        g_source_remove(fs->delay_source);
        fs->delay_source = 0;
    }
    if (fs->timeout_source) {
        g_source_remove(fs->timeout_source);
        fs->timeout_source = 0;
    }
    fs->in_flight = FALSE;
    fs->pending = FALSE;
    fs->pending_unpaced = FALSE;
    g_clear_pointer(&fs->pending_source, g_free);

    ev.mode = mode;
    ev.reconfigure = colo_frame_failover_filters(fs->obj);
    if (!netfilter_notify_colo_event(&ev, &err)) {
        g_warning("COLO failover event: %s", err->message);
        g_clear_error(&err);
    }
    broadcast(fs, COLO_EVENT_FAILOVER, FALSE);

    fs->last_mode = mode;
    fs->mode = COLO_MODE_NONE;
    fs->reason = reason;
    data = json_object_new();
    json_object_set_string_member(data, "mode", colo_mode_name(mode));
    json_object_set_string_member(data, "reason",
                                  colo_exit_reason_name(reason));
    emit_simple_event(fs, "COLO_EXIT", data);
    colo_quorum_failed_over(fs->id, mode);
    if (tell_qemu) {
        colo_frame_qemu_failover(fs->obj, mode);
    }
    return TRUE;
}

gboolean colo_failover(ColoExitReason reason, GError **errp)
{
    return colo_failover_full(reason, TRUE, errp);
}

/*
 * The secondary lost input (a filter-mirror could not deliver a copy).
 * Its guest no longer sees what the primary's guest sees, so the pair can
 * only be brought back in step by a checkpoint, and a checkpoint is only
 * useful once copies flow again.  Policy (colo-frame input-lost=):
 *   checkpoint  request a checkpoint when the mirror's link delivers again
 *               (default);
 *   failover    give up the secondary at once: the primary fails over and
 *               runs alone, as after a lost heartbeat.
 */
static void mirror_input_changed(Notifier *n, void *data)
{
    MirrorInputEvent *ev = data;
    /* the mirror's pair: its frame= (the filters' base property) */
    ColoFrameState *fs = fs_resolve(netfilter_get_frame(NET_FILTER(ev->mirror)));
    GError *err = NULL;

    if (fs->mode != COLO_MODE_PRIMARY || fs->failover) {
        return;
    }
    if (ev->lost) {
        fs->stats.input_lost++;
        if (colo_frame_input_lost_failover(fs->obj) &&
            !colo_fs_failover(fs, COLO_EXIT_REASON_ERROR, TRUE, &err)) {
            g_warning("failover after lost input: %s", err->message);
            g_error_free(err);
        }
    } else {
        colo_frame_request_checkpoint(fs->id, ev->id, COLO_CKPT_INPUT_LOST,
                                      mirror_loss_reason_str(ev->reason));
    }
}

static Notifier mirror_input_notifier = { .notify = mirror_input_changed };

/* What a single-pair process showed across object-del/object-add of its
 * frame (counters, last mode and reason) stays where it was: the state
 * moves between the frame-less state and the only frame. */
static void fs_carry(ColoFrameState *to, const ColoFrameState *from)
{
    to->stats = from->stats;
    to->last_mode = from->last_mode;
    to->reason = from->reason;
    to->ckpt_id = from->ckpt_id;
}

gboolean colo_frame_attach_check(ColoFrame *obj, GError **errp)
{
    const char *id = user_object_get_id(USER_OBJECT(obj));
    const char *unbound;

    if (fs_find(id)) {
        error_setg(errp, "colo-frame '%s' already exists", id);
        return FALSE;
    }
    if (!frames) {
        return TRUE;
    }
    /* a second pair: what was implicitly the only pair's must say so */
    for (GList *l = listeners.head; l; l = l->next) {
        ColoEventListener *lis = l->data;

        if (!lis->frame || !*lis->frame) {
            error_setg(errp, "'%s' belongs to colo-frame '%s' implicitly "
                       "(no frame=); with a second colo-frame every COLO "
                       "object must name its frame: recreate it with "
                       "frame=%s first",
                       lis->name ? lis->name : "a colo-compare",
                       ((ColoFrameState *) frames->data)->id,
                       ((ColoFrameState *) frames->data)->id);
            return FALSE;
        }
    }
    unbound = netfilter_find_colo_unbound();
    if (unbound) {
        error_setg(errp, "filter '%s' belongs to colo-frame '%s' implicitly "
                   "(no frame=); with a second colo-frame every COLO "
                   "object must name its frame: recreate it with "
                   "frame=%s first", unbound,
                   ((ColoFrameState *) frames->data)->id,
                   ((ColoFrameState *) frames->data)->id);
        return FALSE;
    }
    return TRUE;
}

ColoFrameState *colo_frame_attach(ColoFrame *obj, ColoMode mode)
{
    ColoFrameState *fs = g_new0(ColoFrameState, 1);

    fs->refs = 1;
    fs->id = g_strdup(user_object_get_id(USER_OBJECT(obj)));
    fs->obj = obj;
    fs->mode = mode;
    fs->failover = FALSE;
    if (!frames) {
        fs_carry(fs, &null_frame);
    }
    frames = g_list_append(frames, fs);
    if (!mirror_input_notifier.link_.data) {
        notifier_list_add(&filter_mirror_input_notifiers,
                          &mirror_input_notifier);
    }
    return fs;
}

void colo_frame_detach(ColoFrameState *fs)
{
    if (!fs || !fs->obj) {
        return;
    }
    if (fs->delay_source) {
        g_source_remove(fs->delay_source);
        fs->delay_source = 0;
    }
    if (fs->timeout_source) {
        g_source_remove(fs->timeout_source);
        fs->timeout_source = 0;
    }
    if (fs->exec_pid) {
        kill(fs->exec_pid, SIGTERM);
    }
    frames = g_list_remove(frames, fs);
    if (!frames) {
        notifier_remove(&filter_mirror_input_notifiers,
                        &mirror_input_notifier);
    }
    fs->obj = NULL;
    fs->in_flight = FALSE;
    fs->pending = FALSE;
    fs->pending_unpaced = FALSE;
    g_clear_pointer(&fs->pending_source, g_free);
    if (fs->mode != COLO_MODE_NONE) {
        fs->last_mode = fs->mode;
    }
    fs->mode = COLO_MODE_NONE;
    if (!frames) {
        fs_carry(&null_frame, fs);
    }
    /* broadcasts, requests and children still running hold their own
     * references; the object's goes */
    fs_unref(fs);
}

void colo_fs_not_enabled_error(ColoFrameState *fs, GError **errp)
{
    if (fs->obj) {
        error_setg(errp, "The feature 'colo' is not enabled: colo-frame "
                   "'%s' has mode=none",
                   user_object_get_id(USER_OBJECT(fs->obj)));
    } else {
        error_setg(errp, "The feature 'colo' is not enabled: there is no "
                   "colo-frame (add -object colo-frame,id=colo0,"
                   "mode=primary|secondary, or a colo-proxy, which makes "
                   "one)");
    }
}

void colo_not_enabled_error(GError **errp)
{
    colo_fs_not_enabled_error(fs_dflt(), errp);
}

ColoFrame *colo_frame_get(void)
{
    return fs_dflt()->obj;
}
