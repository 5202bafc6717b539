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
 * Threads: colo_request_checkpoint() hands over to the main context; the
 * rest runs there.
 */
#include <errno.h>
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

typedef struct ColoFrameState {
    ColoMode mode;
    ColoMode last_mode;
    ColoExitReason reason;
    gboolean failover;

    ColoFrame *obj;              /* the configuring object, or NULL */
    GQueue listeners;            /* of ColoEventListener * */

    /* checkpoint scheduling */
    gboolean in_flight;          /* a checkpoint was started, not done */
    gboolean pending;            /* another request arrived meanwhile */
    ColoCheckpointReason pending_reason;
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
} ColoFrameState;

static ColoFrameState frame;

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

ColoMode colo_get_mode(void)
{
    return frame.mode;
}

gboolean colo_failover_active(void)
{
    return frame.failover;
}

/* A committed checkpoint took 'us': the duration histogram of
 * query-colo-stats and the metrics (main thread, its only writer). */
static void colo_observe_checkpoint(int64_t us)
{
    Histogram *h = &frame.stats.duration;

    if (!h->bounds_us) {
        histogram_init(h, histogram_checkpoint_bounds_us,
                       histogram_checkpoint_n);
    }
    histogram_observe(h, us);
}

const ColoStats *colo_get_stats(void)
{
    return &frame.stats;
}

gboolean colo_checkpoint_in_flight(void)
{
    return frame.in_flight;
}

ColoExitReason colo_get_exit_reason(void)
{
    return frame.reason;
}

ColoMode colo_get_last_mode(void)
{
    return frame.last_mode;
}

/* ------------------------------------------------------------------ */
/* Listeners and broadcast.                                            */

void colo_frame_add_listener(ColoEventListener *l)
{
    l->link_.data = l;
    /* Every call of a broadcast to this listener goes through its
     * lifeline (include/util/lifeline.h), so that removing it is final. */
    l->lifeline_ = lifeline_new(l->ctx ? l->ctx : main_context());
    g_queue_push_tail_link(&frame.listeners, &l->link_);
}

void colo_frame_remove_listener(ColoEventListener *l)
{
    if (l->link_.data) {
        g_queue_unlink(&frame.listeners, &l->link_);
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
    ColoEvent event;
    gboolean quiet;              /* mode none: release only, no filters/events */
    unsigned waiting;            /* listeners still to run */
    int64_t unrequested_us;      /* a checkpoint this frame did not start:
                                  * when it began (QEMU's STOP); else 0 */
} Broadcast;

typedef struct BroadcastCall {
    ColoEventListener *l;       /* only touched if the lifeline is whole */
    Broadcast *b;
} BroadcastCall;

static void broadcast_finish(Broadcast *b);

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
    GSource *src = g_idle_source_new();

    g_source_set_callback(src, broadcast_listener_done, call->b, NULL);
    g_source_attach(src, main_context());
    g_source_unref(src);
    g_free(call);
}

static void broadcast_full(ColoEvent event, gboolean quiet,
                           int64_t unrequested_us)
{
    Broadcast *b = g_new0(Broadcast, 1);
    GList *l;

    b->event = event;
    b->quiet = quiet;
    b->unrequested_us = unrequested_us;
    /* One extra count for ourselves, so that listeners finishing
     * synchronously cannot complete the broadcast while we iterate. */
    b->waiting = 1;
    frame.broadcasting++;
    for (l = frame.listeners.head; l; l = l->next) {
        ColoEventListener *lis = l->data;
        GMainContext *ctx = lis->ctx ? lis->ctx : main_context();

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

static void broadcast(ColoEvent event, gboolean quiet)
{
    broadcast_full(event, quiet, 0);
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
static void notice(ColoEvent event)
{
    for (GList *l = frame.listeners.head; l; l = l->next) {
        ColoEventListener *lis = l->data;
        GMainContext *ctx = lis->ctx ? lis->ctx : main_context();

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
void colo_checkpoint_begun(void)
{
    if (frame.failover) {
        return;
    }
    if (frame.mode == COLO_MODE_PRIMARY) {
        notice(COLO_EVENT_CHECKPOINT_BEGIN);
    } else if (frame.mode == COLO_MODE_SECONDARY) {
        /* the guest stopped to load the primary's state: what the
         * filters handle from now on meets the new state (QEMU holds
         * frames for a stopped guest), so filter-rewriter's offsets go
         * now, not at the RESUME, when the guest already runs */
        ColoEventInfo ev = { .event = COLO_EVENT_CHECKPOINT_BEGIN,
                             .mode = COLO_MODE_SECONDARY };
        GError *err = NULL;

        if (!colo_notify_filters(&ev, &err)) {
            g_warning("COLO checkpoint-begin event: %s", err->message);
            g_clear_error(&err);
        }
    }
}

static void emit_simple_event(const char *name, JsonObject *data)
{
    qmp_event_emit(name, data);
}

static void start_checkpoint(void);

static gboolean delay_expired(gpointer data)
{
    frame.delay_source = 0;
    start_checkpoint();
    return G_SOURCE_REMOVE;
}

/* Starts the pending checkpoint now, or when min-interval allows; with
 * 'defer', from the main loop even if it is due now (a retry after a
 * driver that failed at once must not recurse into start_checkpoint()). */
static void schedule_pending_full(gboolean defer)
{
    int64_t now = g_get_monotonic_time();
    int64_t min_us = (int64_t) colo_frame_min_interval_ms(frame.obj) * 1000;
    int64_t wait_us;

    if (!frame.pending || frame.in_flight || frame.delay_source ||
        frame.broadcasting) {
        return;
    }
    if (frame.mode != COLO_MODE_PRIMARY) {
        /* only a primary starts checkpoints (see colo_checkpoint_done) */
        frame.pending = FALSE;
        g_clear_pointer(&frame.pending_source, g_free);
        return;
    }
    wait_us = frame.last_start_us + min_us - now;
    if (frame.last_start_us == 0 || wait_us <= 0) {
        if (!defer) {
            start_checkpoint();
            return;
        }
        wait_us = 0;
    }
    frame.delay_source = g_timeout_add((guint) ((wait_us + 999) / 1000),
                                       delay_expired, NULL);
}

static void schedule_pending(void)
{
    schedule_pending_full(FALSE);
}

/* The last broadcast is over: what came in meanwhile and was held back
 * (at most one of each kind, however many came) goes out now. */
static void broadcast_again(void)
{
    if (frame.again_quiet) {
        frame.again_quiet = FALSE;
        if (frame.mode == COLO_MODE_NONE && !frame.failover) {
            broadcast(COLO_EVENT_CHECKPOINT, TRUE);
        }
    }
    if (frame.again_done) {
        frame.again_done = FALSE;
        if (frame.mode == COLO_MODE_SECONDARY && !frame.failover) {
            frame.stats.completed++;
            broadcast(COLO_EVENT_CHECKPOINT, FALSE);
        }
    }
}

static void broadcast_finish_one(Broadcast *b)
{
    ColoEvent event = b->event;
    gboolean quiet = b->quiet;
    int64_t unrequested_us = b->unrequested_us;
    GError *err = NULL;

    g_free(b);
    g_assert(frame.broadcasting > 0);
    frame.broadcasting--;
    if (quiet) {
        schedule_pending();
        return;
    }
    /* The filters heard of a failover when it began (colo_failover_full());
     * of a checkpoint, now that every listener has flushed. */
    if (event == COLO_EVENT_CHECKPOINT) {
        ColoEventInfo ev = { .event = COLO_EVENT_CHECKPOINT };
        JsonObject *data;
        int64_t start_us = unrequested_us ? unrequested_us : frame.start_us;
        int64_t duration_us;

        if (!colo_notify_filters(&ev, &err)) {
            g_warning("COLO checkpoint event: %s", err->message);
            g_clear_error(&err);
        }
        data = json_object_new();

        /* one the frame did not start has no number of its own, and must
         * not end the timing of one of ours that is in flight */
        json_object_set_int_member(data, "id",
                                   unrequested_us ? 0 : (gint64) frame.ckpt_id);
        duration_us = start_us ? g_get_monotonic_time() - start_us : 0;
        json_object_set_int_member(data, "duration-us", duration_us);
        if (start_us) {
            colo_observe_checkpoint(duration_us);
        }
        json_object_set_string_member(data, "origin",
            unrequested_us ? "qemu" :
            frame.mode == COLO_MODE_SECONDARY ? "secondary" : "frame");
        emit_simple_event("COLO_CHECKPOINT_DONE", data);
        if (!unrequested_us) {
            frame.start_us = 0;
        }
        schedule_pending();
    }
}

/* Ends broadcast 'b' (its events first), then starts what was held back
 * for the moment no broadcast runs. */
static void broadcast_finish(Broadcast *b)
{
    broadcast_finish_one(b);
    if (!frame.broadcasting) {
        broadcast_again();
    }
}

/* ------------------------------------------------------------------ */
/* Drivers.                                                            */

static void exec_child_watch(GPid pid, gint status, gpointer data)
{
    uint64_t id = GPOINTER_TO_SIZE(data);
    GError *err = NULL;
    gboolean ok;

    g_spawn_close_pid(pid);
    frame.exec_pid = 0;
    if (id != frame.ckpt_id || !frame.in_flight) {
        return;                 /* timed out already */
    }
    ok = g_spawn_check_wait_status(status, &err);
    colo_checkpoint_done(ok, ok ? NULL : err->message);
    g_clear_error(&err);
}

static gboolean driver_exec_start(uint64_t id, ColoCheckpointReason reason,
                                  const char *source, GError **errp)
{
    const char *cmd = colo_frame_exec_command(frame.obj);
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
    frame.exec_pid = pid;
    g_child_watch_add(pid, exec_child_watch, GSIZE_TO_POINTER(id));
    return TRUE;
}

static gboolean checkpoint_timed_out(gpointer data)
{
    frame.timeout_source = 0;
    if (frame.in_flight) {
        frame.stats.timeouts++;
        colo_checkpoint_done(FALSE, "checkpoint did not complete in time");
    }
    return G_SOURCE_REMOVE;
}

static void start_checkpoint(void)
{
    ColoCheckpointReason reason = frame.pending_reason;
    g_autofree char *source = g_steal_pointer(&frame.pending_source);
    ColoFrameDriver driver = colo_frame_driver(frame.obj);
    GError *err = NULL;
    JsonObject *data;
    gboolean ok = TRUE;

    g_assert(!frame.in_flight);
    frame.pending = FALSE;
    frame.in_flight = TRUE;
    frame.ckpt_id++;
    frame.stats.started++;
    frame.last_start_us = frame.start_us = g_get_monotonic_time();

    /* The event is the contract of the "event" driver and a trace for
     * the others. */
    data = json_object_new();
    json_object_set_int_member(data, "id", (gint64) frame.ckpt_id);
    json_object_set_string_member(data, "reason",
                                  colo_checkpoint_reason_name(reason));
    json_object_set_string_member(data, "source", source ? source : "");
    json_object_set_string_member(data, "driver",
                                  colo_frame_driver_name(driver));
    emit_simple_event("COLO_CHECKPOINT_REQUEST", data);

    switch (driver) {
    case COLO_FRAME_DRIVER_EVENT:
        break;                  /* x-colo-checkpoint-done completes it */
    case COLO_FRAME_DRIVER_EXEC:
        ok = driver_exec_start(frame.ckpt_id, reason, source, &err);
        break;
    case COLO_FRAME_DRIVER_QEMU:
        ok = colo_frame_qemu_start(frame.obj, frame.ckpt_id, &err);
        break;
    }
    if (!ok) {
        /* retried at once with min-interval=0: keep the log readable */
        COLO_WARN_RL("COLO checkpoint %" G_GUINT64_FORMAT ": %s",
                     frame.ckpt_id, err->message);
        colo_checkpoint_done(FALSE, err->message);
        g_error_free(err);
        return;
    }
    frame.timeout_source =
        g_timeout_add(colo_frame_checkpoint_timeout_ms(frame.obj),
                      checkpoint_timed_out, NULL);
}

/* ------------------------------------------------------------------ */
/* Requests and completion.                                            */

typedef struct Request {
    ColoCheckpointReason reason;
    char *source;
    char *detail;
} Request;

static gboolean request_in_main(gpointer data)
{
    Request *req = data;

    frame.stats.requests[req->reason]++;
    if (frame.failover) {
        frame.stats.ignored++;  /* nobody to checkpoint with any more */
    } else if (frame.mode == COLO_MODE_NONE) {
        /*
         * COLO is not running: there is no secondary to bring in line, so
         * nothing justifies holding the primary's output.  Answer at once
         * with a checkpoint event to the listeners only (colo-compare
         * releases what it holds); the filters and the QMP clients are not
         * told about a checkpoint that did not happen.
         */
        frame.stats.ignored++;
        if (!frame.broadcasting) {
            broadcast(COLO_EVENT_CHECKPOINT, TRUE);
        } else {
            /* Listeners may have taken this request's frames after their
             * part of the running broadcast: answer it again once that
             * is over, however many requests come until then. */
            frame.again_quiet = TRUE;
        }
    } else if (frame.mode == COLO_MODE_SECONDARY) {
        /* a secondary never starts checkpoints (a colo-compare there is
         * a configuration error; x-colo-checkpoint refuses) */
        frame.stats.ignored++;
        COLO_WARN_RL("COLO checkpoint request from '%s' ignored: this side "
                     "is the secondary; checkpoints start on the primary",
                     req->source ? req->source : "?");
    } else {
        if (frame.in_flight || frame.pending || frame.broadcasting) {
            frame.stats.coalesced++;
        }
        if (!frame.pending) {
            frame.pending = TRUE;
            frame.pending_reason = req->reason;
            frame.pending_source = g_steal_pointer(&req->source);
        }
    }
    schedule_pending();
    g_free(req->source);
    g_free(req->detail);
    g_free(req);
    return G_SOURCE_REMOVE;
}

void colo_frame_request_checkpoint(const char *source,
                                   ColoCheckpointReason reason,
                                   const char *detail)
{
    Request *req = g_new0(Request, 1);

    g_return_if_fail((unsigned) reason < COLO_CKPT__MAX);
    req->reason = reason;
    req->source = g_strdup(source);
    req->detail = g_strdup(detail);
    /* May come from an iothread: the frame's state is the main
     * context's. */
    g_main_context_invoke(main_context(), request_in_main, req);
}

void colo_checkpoint_done(gboolean ok, const char *error)
{
    JsonObject *data;

    if (frame.timeout_source) {
        g_source_remove(frame.timeout_source);
        frame.timeout_source = 0;
    }
    if (!ok) {
        frame.in_flight = FALSE;
        frame.stats.failed++;
        data = json_object_new();
        json_object_set_int_member(data, "id", (gint64) frame.ckpt_id);
        json_object_set_string_member(data, "error", error ? error : "");
        emit_simple_event("COLO_CHECKPOINT_FAILED", data);
        /* Try again: whatever asked still wants the checkpoint.  Only a
         * primary retries: it is the side that starts checkpoints.  On a
         * secondary a failed report (x-colo-checkpoint-done {"ok":
         * false}, or its QEMU failing to load one) concerns a checkpoint
         * the primary started; the primary retries it, and a secondary
         * that "retried" would start checkpoints of its own, forever. */
        if (frame.mode == COLO_MODE_PRIMARY && !frame.pending &&
            !frame.failover) {
            frame.pending = TRUE;
            frame.pending_reason = COLO_CKPT_TIMEOUT;
        }
        schedule_pending_full(TRUE);
        return;
    }
    frame.in_flight = FALSE;
    if (frame.mode == COLO_MODE_SECONDARY && frame.broadcasting) {
        /* A secondary is told of each checkpoint by its management
         * (x-colo-checkpoint-done); however fast those come, one
         * broadcast runs and at most one more follows it. */
        frame.again_done = TRUE;
        frame.stats.coalesced++;
        return;
    }
    frame.stats.completed++;
    broadcast(COLO_EVENT_CHECKPOINT, FALSE);
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
void colo_checkpoint_unrequested(int64_t start_us)
{
    if (frame.mode != COLO_MODE_PRIMARY || frame.failover) {
        return;
    }
    frame.stats.unrequested++;
    broadcast_full(COLO_EVENT_CHECKPOINT, FALSE,
                   start_us > 0 ? start_us : g_get_monotonic_time());
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
gboolean colo_failover_full(ColoExitReason reason, gboolean tell_qemu,
                            GError **errp)
{
    JsonObject *data;
    ColoMode mode = frame.mode;
    ColoEventInfo ev = { .event = COLO_EVENT_FAILOVER };
    GError *err = NULL;

    if (frame.failover) {
        error_setg(errp, "COLO failover is already activated");
        return FALSE;
    }
    if (mode == COLO_MODE_NONE) {
        colo_not_enabled_error(errp);
        return FALSE;
    }
    /* colo-quorum (colo/quorum.c): no promotion without quorum; a QEMU
     * that failed over by itself is followed (its output stays held) */
    if (tell_qemu && !colo_quorum_failover_check(mode, reason, errp)) {
        return FALSE;
    }
    frame.failover = TRUE;
    frame.stats.failovers++;
    if (frame.delay_source) {
        g_source_remove(frame.delay_source);
        frame.delay_source = 0;
    }
    if (frame.timeout_source) {
        g_source_remove(frame.timeout_source);
        frame.timeout_source = 0;
    }
    frame.in_flight = FALSE;
    frame.pending = FALSE;
    g_clear_pointer(&frame.pending_source, g_free);

    ev.mode = mode;
    ev.reconfigure = colo_frame_failover_filters(frame.obj);
    if (!colo_notify_filters(&ev, &err)) {
        g_warning("COLO failover event: %s", err->message);
        g_clear_error(&err);
    }
    broadcast(COLO_EVENT_FAILOVER, FALSE);

    frame.last_mode = mode;
    frame.mode = COLO_MODE_NONE;
    frame.reason = reason;
    data = json_object_new();
    json_object_set_string_member(data, "mode", colo_mode_name(mode));
    json_object_set_string_member(data, "reason",
                                  colo_exit_reason_name(reason));
    emit_simple_event("COLO_EXIT", data);
    colo_quorum_failed_over(mode);
    if (tell_qemu) {
        colo_frame_qemu_failover(frame.obj, mode);
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
    GError *err = NULL;

    if (frame.mode != COLO_MODE_PRIMARY || frame.failover) {
        return;
    }
    if (ev->lost) {
        frame.stats.input_lost++;
        if (colo_frame_input_lost_failover(frame.obj) &&
            !colo_failover(COLO_EXIT_REASON_ERROR, &err)) {
            g_warning("failover after lost input: %s", err->message);
            g_error_free(err);
        }
    } else {
        colo_request_checkpoint(ev->id, COLO_CKPT_INPUT_LOST,
                                mirror_loss_reason_str(ev->reason));
    }
}

static Notifier mirror_input_notifier = { .notify = mirror_input_changed };

void colo_frame_attach(ColoFrame *obj, ColoMode mode)
{
    frame.obj = obj;
    frame.mode = mode;
    frame.failover = FALSE;
    if (!mirror_input_notifier.link_.data) {
        notifier_list_add(&filter_mirror_input_notifiers,
                          &mirror_input_notifier);
    }
}

void colo_frame_detach(ColoFrame *obj)
{
    if (frame.obj != obj) {
        return;
    }
    if (frame.delay_source) {
        g_source_remove(frame.delay_source);
        frame.delay_source = 0;
    }
    if (frame.timeout_source) {
        g_source_remove(frame.timeout_source);
        frame.timeout_source = 0;
    }
    if (frame.exec_pid) {
        kill(frame.exec_pid, SIGTERM);
    }
    notifier_remove(&filter_mirror_input_notifiers, &mirror_input_notifier);
    frame.obj = NULL;
    frame.in_flight = FALSE;
    frame.pending = FALSE;
    g_clear_pointer(&frame.pending_source, g_free);
    if (frame.mode != COLO_MODE_NONE) {
        frame.last_mode = frame.mode;
    }
    frame.mode = COLO_MODE_NONE;
}

void colo_not_enabled_error(GError **errp)
{
    if (frame.obj) {
        error_setg(errp, "The feature 'colo' is not enabled: colo-frame "
                   "'%s' has mode=none",
                   user_object_get_id(USER_OBJECT(frame.obj)));
    } else {
        error_setg(errp, "The feature 'colo' is not enabled: there is no "
                   "colo-frame (add -object colo-frame,id=colo0,"
                   "mode=primary|secondary, or a colo-proxy, which makes "
                   "one)");
    }
}

ColoFrame *colo_frame_get(void)
{
    return frame.obj;
}
