/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colo/colo-qemu.c - the frame's "qemu" checkpoint driver: takes COLO
 * checkpoints by driving a real QEMU over its QMP socket.
 *
 *   -object colo-frame,id=colo0,mode=primary,driver=qemu,qemu-qmp=unix:/run/colo/p.qmp
 *   -object colo-frame,id=colo0,mode=primary,driver=qemu,qemu-qmp=tcp:127.0.0.1:4444
 *
 * QEMU's COLO runs in QEMU (migration with the x-colo capability); the
 * proxy only asks it for a checkpoint and learns when one committed.  What
 * QEMU offers for that (tests/data/qemu-colo-qmp-transcript.md, a real 7.2
 * session, both sides; QEMU 10.0 is the same except that the primary's
 * migration passes through "device" before "colo" and both sides need
 * x-colo -- tests/e2e/test_vm_qemu_colo.py runs it for real):
 *
 *   trigger   migrate-set-parameters {"x-checkpoint-delay": N} while the
 *             migration status is "colo" starts a checkpoint at once (and
 *             re-arms QEMU's periodic timer); before "colo" it only stores
 *             N.  We re-apply the current value, read with
 *             query-migrate-parameters, so the setting is unchanged.
 *   progress  every checkpoint on the primary is STOP -> (MIGRATION_PASS)
 *             -> RESUME; RESUME comes only after the secondary loaded the
 *             state and acknowledged it, so it is the commit point.
 *   state     query-migrate {"status": "colo"}; MIGRATION events when the
 *             "events" capability is on (we switch it on when we may: only
 *             outside a migration).  STOP/RESUME are generic run-state
 *             events (a user 'stop' emits them too), so they count only
 *             while the status is "colo"; the STOP/RESUME of the switchover
 *             into COLO comes before MIGRATION "colo" and does not count.
 *
 * One checkpoint (colo_frame_qemu_start(), called by colo.c in the main
 * context):
 *
 *   [no connection] --connect, greeting, qmp_capabilities, query-migrate-->
 *   query-migrate: "colo" -> query-migrate-parameters -> migrate-set-
 *   parameters (armed when sent) -> first STOP in "colo" after that ->
 *   RESUME -> colo_checkpoint_done(TRUE).
 *   "setup"/"active" (entering COLO): wait for MIGRATION "colo" (the
 *   frame's checkpoint-timeout bounds the wait); any other status, an
 *   error reply, COLO_EXIT, the status leaving "colo" or the connection
 *   closing -> colo_checkpoint_done(FALSE, why), and colo.c retries.
 *
 * Any STOP seen after the trigger was sent is good enough, even one of a
 * periodic checkpoint that QEMU started on its own: the guest stopped
 * after the request, so the state it saved includes whatever made
 * colo-compare ask.  Replies and events interleave (an event may precede
 * the reply of the command that caused it); replies come in command order
 * and are matched with a FIFO of the commands sent.
 *
 * On the secondary (mode=secondary) nothing is requested: the driver
 * watches the secondary QEMU instead.  There a checkpoint is STOP (the
 * request arrived) -> RESUME (the state is loaded, before the
 * acknowledgement), and each such RESUME in "colo" is reported with
 * colo_checkpoint_done(TRUE) -- what x-colo-checkpoint-done does for an
 * external manager -- so that the filter-rewriter learns that the two
 * guests are equal again and drops its offsets.  The RESUME that starts
 * COLO and the STOP/RESUME of a failover (the status is "completed" by
 * then) are not checkpoints.
 *
 * One driver (struct QemuDriver) per driver=qemu colo-frame: created
 * and connected when the colo-frame is created (colo_frame_qemu_attach()),
 * held by the ColoFrame, disconnected and freed when it is deleted.  A
 * process serving several pairs has one per pair, each with its own QMP
 * connection, timers and counters; nothing here is shared between them
 * (every function takes its driver; the only statics are constant
 * tables), so one QEMU's loss or failover touches only its own frame.
 * Log lines read "qemu driver FRAME-ID: ...".
 *
 * The driver never completes a checkpoint synchronously from
 * colo_frame_qemu_start() (colo.c arms its timeout after the call), and
 * completes only while colo.c still has that checkpoint in flight (the
 * frame may have timed it out meanwhile).
 *
 * Checkpoints QEMU takes on its own (x-checkpoint-delay) are reported on
 * the primary too, with colo_checkpoint_unrequested() at their RESUME:
 * after any committed checkpoint the secondary is a copy of the primary
 * and will never send the counterparts of what the primary sent before
 * it, so colo-compare must release what it holds then (QEMU's own
 * colo-compare flushes on every checkpoint); unreported, it held it until
 * compare_timeout (3.4-3.6 s client stalls with a real pair, #12).
 *
 * Failover (colo_frame_qemu_failover(), called by colo.c after it has
 * switched this side's filters): x-colo-lost-heartbeat, and on a
 * secondary announce-self once QEMU answered.  The driver also follows
 * QEMU: a MIGRATION "completed" after "colo" or a COLO_EXIT with reason
 * "request" (somebody failed QEMU over directly) fails this side's frame
 * over without telling QEMU again; a COLO_EXIT with reason "error" on
 * the PRIMARY (its secondary is gone; QEMU keeps the guest stopped until
 * told) fails over and tells QEMU.  A secondary's QEMU reporting an
 * error is only logged: taking over waits for the heartbeat or the
 * cluster manager.
 *
 * A migration seen running that ends "completed" without reaching
 * "colo" while x-colo is on (QEMU 10.0.0-10.0.6) is reported as an
 * error: COLO_QEMU_ERROR, query-colo-status "qemu-error", the log.  The
 * secondary of such a pair enters "colo" and leaves it with an error at
 * once: a secondary's COLO_EXIT (not "request") before its first loaded
 * checkpoint is reported the same way.
 *
 * Every value in QEMU's messages is type-checked before use
 * (util/qmp-json.h): an ill-typed message is counted as a protocol
 * error and ignored, an ill-typed reply still answers its command (the
 * FIFO stays in step) and an ill-typed error reply is an error.
 *
 * The connection stays open between checkpoints, and is re-established
 * while the colo-frame exists (one warning per outage): 100 ms after a
 * session ended, then every second -- every 250 ms for the first few
 * rounds that find no listener after a session, so that a dead QEMU is
 * known within half a second (colo_frame_qemu_refused(), the heartbeat's
 * qemu-gone-after).  All I/O is non-blocking, on the main context, through
 * util/socket.h (a SockConnector: a host name is looked up in a thread)
 * and one FdWatch.  Limits: a QMP line of at most 1 MiB (longer: counted,
 * connection dropped), at most 64 commands awaiting replies.  The
 * counters are logged when the colo-frame is deleted.
 *
 * Without the "events" capability QEMU sends no MIGRATION events; the
 * driver asks query-migrate-capabilities after connecting and warns when
 * a migration runs without it (the end of COLO could then not be told
 * from a checkpoint).  COLO_EXIT ends COLO for the driver in any case.
 *
 * Neighbours: colo.c (start/done, colo_checkpoint_in_flight), colo-frame.c
 * (the qemu-qmp property, the attach/detach calls); tested by tests/qtest/test_colo_qemu_driver.py
 * against a QMP peer replaying the recorded session.
 */
#include <inttypes.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include "colo/colo.h"
#include "colo/colo-internal.h"
#include "util/qmp-handler.h"
#include "util/qmp-json.h"
#include "util/qmp-event-scan.h"
#include "util/error.h"
#include "qom/iothread.h"
#include "util/log.h"
#include "util/outbuf.h"
#include "util/fd-watch.h"
#include "util/sockaddr.h"
#include "util/socket.h"

#define QEMU_QMP_MAX_LINE (1024 * 1024)   /* longest QMP line accepted */
#define QEMU_QMP_MAX_PENDING 64           /* commands awaiting a reply */
#define QEMU_RECONNECT_MS 1000
#define QEMU_RECONNECT_FIRST_MS 100       /* after an established session
                                           * ends: a dead QEMU is then
                                           * seen refusing sooner */
#define QEMU_RECONNECT_REFUSED_MS 250     /* after the first refusals of
                                           * a QEMU we had a session with
                                           * (the heartbeat's qemu-gone-
                                           * after waits for a second) */
#define QEMU_REFUSED_FAST 4               /* how many are retried fast */
#define QEMU_CONNECT_TIMEOUT_S 5          /* lookup and connect, in all */
#define QEMU_READ_CHUNK 16384
#define QEMU_POLL_MS 100                  /* query-migrate while entering COLO,
                                           * only without MIGRATION events */

typedef enum {
    QD_DISCONNECTED,
    QD_CONNECTING,
    QD_GREETING,        /* waiting for {"QMP": ...} */
    QD_NEGOTIATING,     /* qmp_capabilities sent */
    QD_READY,
} QemuDriverState;

/* What a reply answers (FIFO of commands sent). */
typedef enum {
    QC_CAPABILITIES,
    QC_QUERY_MIGRATE,
    QC_QUERY_CAPS,
    QC_SET_EVENTS_CAP,
    QC_QUERY_PARAMS,
    QC_SET_PARAMS,
    QC_LOST_HEARTBEAT,      /* x-colo-lost-heartbeat: this side failed over */
    QC_ANNOUNCE,            /* announce-self, after a secondary's failover */
    QC_CHECK_XCOLO,         /* query-migrate-capabilities after a migration
                             * completed without entering COLO */
} QemuCmd;

typedef struct QemuDriverStats {
    uint64_t connects;          /* QMP sessions established */
    uint64_t connect_failures;
    uint64_t disconnects;
    uint64_t triggers;          /* migrate-set-parameters sent */
    uint64_t committed;         /* our checkpoints seen committed
                                 * (secondary: checkpoints QEMU loaded) */
    uint64_t periodic;          /* STOP/RESUME pairs in colo not ours
                                 * (reported: colo_checkpoint_unrequested) */
    uint64_t errors;            /* checkpoints failed by this driver */
    uint64_t protocol_errors;   /* bad JSON, ill-typed members, overlong
                                 * lines, stray replies */
    uint64_t failovers;         /* x-colo-lost-heartbeat sent */
    uint64_t failover_errors;   /* ... and refused by QEMU */
    uint64_t followed;          /* failovers QEMU did itself, followed */
    uint64_t qemu_errors;       /* COLO_QEMU_ERROR emitted */
    uint64_t refusals;          /* connect rounds refused (no listener) */
} QemuDriverStats;

struct QemuDriver {
    QemuDriverState state;
    ColoFrame *obj;             /* the colo-frame using us, or NULL */
    ColoMode mode;              /* its mode */
    char *name;                 /* its id, naming it in the log */
    char *addr;                 /* qemu-qmp as configured */
    int fd;                     /* the QMP socket (connected or
                                 * connecting), or -1 */
    FdWatch watch;              /* on 'fd', or on what the connect
                                 * round polls */
    SockConnector *connector;   /* CONNECTING: the round (util/socket.h) */
    guint connect_timer;        /* CONNECTING: gives up after
                                 * QEMU_CONNECT_TIMEOUT_S */
    GString *rline;             /* partial input line */
    char rbuf[QEMU_READ_CHUNK];
    OutBuf out;                 /* command lines not yet written
                                 * (util/outbuf.h; qd_out()) */
    GQueue cmds;                /* of GINT_TO_POINTER(QemuCmd) */
    guint reconnect_source;
    guint poll_source;
    guint gen;                  /* connection generation, for callbacks */
    gboolean warned;            /* connection failure logged this outage */
    /* since the last session ended: consecutive connect rounds that
     * found no listener (colo_frame_qemu_refused(); the heartbeat's
     * qemu-gone-after turns them into "this QEMU is gone") */
    guint refused;
    int64_t refused_first_us;   /* when the first of them failed */

    /* QEMU's state as learned */
    char status[32];            /* migration status, "" = unknown */
    gboolean stopped;           /* STOP seen in colo, RESUME not yet */
    gboolean stop_counts;       /* that STOP came after our trigger */
    int64_t stop_us;            /* when that STOP arrived */
    gboolean colo_seen;         /* this migration reached "colo" */
    uint64_t colo_ckpts;        /* checkpoints committed (primary) or
                                 * loaded (secondary) since then */
    gboolean migrating_seen;    /* ... or was seen running before it */
    char *error;                /* why QEMU cannot do COLO (E), or NULL */
    gboolean events_on;         /* the "events" capability is on (set by
                                 * us or seen): MIGRATION events come */

    /* failover to tell QEMU about (x-colo-lost-heartbeat) */
    gboolean failover_pending;  /* not sent yet (QEMU not connected) */
    ColoMode failover_mode;     /* the mode this side failed over from */

    /* the checkpoint we were asked for */
    gboolean want;              /* started, not yet done */
    gboolean armed;             /* trigger sent */
    gboolean params_asked;      /* query-migrate-parameters sent */
    uint64_t id;
    int64_t trigger_us;

    QemuDriverStats stats;
};

/* The pair this driver serves: one driver per colo-frame. */
static ColoFrameState *qd_fs(QemuDriver *qd)
{
    return colo_frame_state(qd->obj);
}

static void qd_connect(QemuDriver *qd);
static void qd_disconnect(QemuDriver *qd, const char *why);

/* ------------------------------------------------------------------ */
/* Completion.                                                          */

/* Forgets the checkpoint asked for, without reporting it. */
static void qd_drop_checkpoint(QemuDriver *qd)
{
    qd->want = FALSE;
    qd->armed = FALSE;
    qd->params_asked = FALSE;
    qd->stop_counts = FALSE;
}

static void qd_finish(QemuDriver *qd, gboolean ok, const char *error)
{
    if (!qd->want) {
        return;
    }
    qd_drop_checkpoint(qd);
    if (!colo_fs_in_flight(qd_fs(qd))) {
        return;                 /* the frame gave up on it (timeout) */
    }
    if (ok) {
        qd->stats.committed++;
        g_debug("qemu driver %s: checkpoint %" PRIu64 " committed in %" PRId64
                " us",
                qd->name, qd->id, g_get_monotonic_time() - qd->trigger_us);
    } else {
        qd->stats.errors++;
    }
    colo_fs_checkpoint_done(qd_fs(qd), ok, error);
}

/* ------------------------------------------------------------------ */
/* Output: a queue of lines, written when the socket is writable.       */

/* The output ring, set up at its first use. */
static OutBuf *qd_out(QemuDriver *qd)
{
    if (!qd->out.max) {
        outbuf_init(&qd->out, 4096, QEMU_QMP_MAX_LINE);
    }
    return &qd->out;
}

/* Writes what the socket takes now.  0, or -errno when the connection
 * is broken. */
static int qd_flush(QemuDriver *qd)
{
    size_t sent;
    int r = outbuf_flush(qd_out(qd), qd->fd, &sent);

    if (r < 0) {
        return r;
    }
    fd_watch_enable(&qd->watch, G_IO_OUT, outbuf_len(qd_out(qd)) > 0);
    return 0;
}

/* Lines queued: they leave from the watch, when the loop finds the
 * socket writable (never inside the caller, which may be a reply's
 * handler: a write error must not tear the session down under it). */
static void qd_write_next(QemuDriver *qd)
{
    if (qd->state != QD_DISCONNECTED && qd->state != QD_CONNECTING &&
        outbuf_len(qd_out(qd)) > 0) {
        fd_watch_enable(&qd->watch, G_IO_OUT, TRUE);
    }
}

/* Sends one command; 'args' (may be NULL) is consumed. */
static void qd_send(QemuDriver *qd, QemuCmd what, const char *name, JsonObject *args)
{
    JsonObject *o = json_object_new();
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);
    g_autofree char *s = NULL;

    if (g_queue_get_length(&qd->cmds) >= QEMU_QMP_MAX_PENDING) {
        if (args) {
            json_object_unref(args);
        }
        json_object_unref(o);
        json_node_free(n);
        qd_disconnect(qd, "QEMU does not answer its QMP commands");
        return;
    }
    json_object_set_string_member(o, "execute", name);
    if (args) {
        json_object_set_object_member(o, "arguments", args);
    }
    json_node_take_object(n, o);
    s = json_to_string(n, FALSE);
    json_node_free(n);
    if (strlen(s) + 2 > outbuf_room(qd_out(qd))) {
        qd_disconnect(qd, "QEMU does not read its QMP commands");
        return;
    }
    g_queue_push_tail(&qd->cmds, GINT_TO_POINTER(what));
    {
        const struct iovec line[2] = {
            { .iov_base = s, .iov_len = strlen(s) },
            { .iov_base = (void *)"\r\n", .iov_len = 2 },
        };

        outbuf_append(qd_out(qd), line, 2, 0);
    }
    qd_write_next(qd);
}

/* ------------------------------------------------------------------ */
/* The checkpoint steps.                                                */

static void qd_trigger_step(QemuDriver *qd)
{
    if (!qd->want || qd->state != QD_READY) {
        return;
    }
    if (!g_str_equal(qd->status, "colo")) {
        qd_send(qd, QC_QUERY_MIGRATE, "query-migrate", NULL);
        return;
    }
    if (!qd->params_asked) {
        qd->params_asked = TRUE;
        qd_send(qd, QC_QUERY_PARAMS, "query-migrate-parameters", NULL);
    }
}

static gboolean qd_status_running(const char *st)
{
    return g_str_equal(st, "setup") || g_str_equal(st, "active") ||
           g_str_equal(st, "pre-switchover") || g_str_equal(st, "device") ||
           g_str_equal(st, "wait-unplug");
}

static void qd_status_changed(QemuDriver *qd, const char *status)
{
    gboolean was_colo = g_str_equal(qd->status, "colo");
    gboolean was_running = qd_status_running(qd->status);

    g_strlcpy(qd->status, status, sizeof(qd->status));
    if (g_str_equal(status, "colo")) {
        if (!was_colo) {
            qd->colo_ckpts = 0;
        }
        qd->colo_seen = TRUE;
        g_clear_pointer(&qd->error, g_free);
    } else if (g_str_equal(status, "setup")) {
        qd->colo_seen = FALSE;   /* a new migration */
        qd->migrating_seen = TRUE;
    } else if (qd_status_running(status)) {
        qd->migrating_seen = TRUE;
    } else if (g_str_equal(status, "completed") && was_running &&
               !qd->colo_seen && qd->state == QD_READY) {
        /* a migration we watched completed without entering COLO: if
         * x-colo was on, that QEMU cannot do COLO (E); ask */
        qd_send(qd, QC_CHECK_XCOLO, "query-migrate-capabilities", NULL);
    }
    if (was_colo && !g_str_equal(status, "colo")) {
        qd->stopped = FALSE;
        if (qd->want) {
            g_autofree char *msg =
                g_strdup_printf("QEMU's COLO ended (migration status '%s')",
                                status);
            qd_finish(qd, FALSE, msg);
        }
    }
}

static gboolean qd_poll_cb(gpointer data)
{
    QemuDriver *qd = data;

    qd->poll_source = 0;
    if (qd->want && qd->state == QD_READY && !qd->events_on &&
        !g_str_equal(qd->status, "colo")) {
        qd_send(qd, QC_QUERY_MIGRATE, "query-migrate", NULL);
    }
    return G_SOURCE_REMOVE;
}

static void qd_on_query_migrate(QemuDriver *qd, JsonObject *ret)
{
    const char *status = "none";    /* QEMU answers {} before any migration */
    GError *err = NULL;

    if (!qmp_json_str(ret, "status", FALSE, &status, &err)) {
        g_autofree char *msg =
            g_strdup_printf("QEMU's query-migrate reply: %s", err->message);

        qd->stats.protocol_errors++;
        LOG_WARN_RL("qemu driver %s: %s", qd->name, msg);
        g_error_free(err);
        qd_finish(qd, FALSE, msg);
        return;
    }
    if (!*status) {
        status = "none";
    }
    qd_status_changed(qd, status);
    if (!qd->want) {
        return;
    }
    if (g_str_equal(status, "colo")) {
        qd_trigger_step(qd);
    } else if (g_str_equal(status, "setup") || g_str_equal(status, "active") ||
               g_str_equal(status, "pre-switchover") ||
               g_str_equal(status, "device")) {
        /* entering COLO: MIGRATION "colo" continues (the frame's
         * checkpoint-timeout bounds the wait).  Only without the events
         * capability, when no such event comes, is the status asked for
         * again shortly; with it nothing polls. */
        if (!qd->events_on && !qd->poll_source) {
            qd->poll_source = g_timeout_add(QEMU_POLL_MS, qd_poll_cb, qd);
        }
    } else {
        g_autofree char *msg =
            g_strdup_printf("QEMU is not in COLO (migration status '%s')",
                            status);
        qd_finish(qd, FALSE, msg);
    }
}

static void qd_on_query_params(QemuDriver *qd, JsonObject *ret)
{
    JsonObject *args;
    JsonNode *delay;

    if (!qd->want) {
        return;
    }
    if (qmp_json_member(ret, "x-checkpoint-delay", QMP_JSON_INT, &delay)
        != QMP_JSON_OK) {
        qd_finish(qd, FALSE, "QEMU reports no x-checkpoint-delay (no COLO "
                  "support?)");
        return;
    }
    args = json_object_new();
    json_object_set_int_member(args, "x-checkpoint-delay",
                               json_node_get_int(delay));
    qd->armed = TRUE;
    qd->stop_counts = FALSE;
    qd->trigger_us = g_get_monotonic_time();
    qd->stats.triggers++;
    qd_send(qd, QC_SET_PARAMS, "migrate-set-parameters", args);
}

/*
 * Without the "events" capability QEMU sends no MIGRATION events, and the
 * driver cannot tell a checkpoint's STOP/RESUME from a failover's.  It
 * switches the capability on itself outside a migration; during one it
 * can only warn.
 */
/* The state of migration capability 'name' in a query-migrate-capabilities
 * reply: 1 on, 0 off, -1 not listed or the reply is ill-typed. */
static int qd_cap_state(JsonNode *ret, const char *name)
{
    JsonArray *caps;
    guint i;

    if (!ret || !JSON_NODE_HOLDS_ARRAY(ret)) {
        return -1;
    }
    caps = json_node_get_array(ret);
    for (i = 0; i < json_array_get_length(caps); i++) {
        JsonNode *n = json_array_get_element(caps, i);
        gboolean state = FALSE;

        if (!JSON_NODE_HOLDS_OBJECT(n) ||
            g_strcmp0(qmp_json_str_or(json_node_get_object(n), "capability",
                                      NULL), name) != 0) {
            continue;
        }
        if (!qmp_json_bool(json_node_get_object(n), "state", TRUE, &state,
                           NULL)) {
            return -1;
        }
        return state;
    }
    return -1;
}

/*
 * Without the "events" capability QEMU sends no MIGRATION events, and the
 * driver cannot tell a checkpoint's STOP/RESUME from a failover's.  It
 * switches the capability on itself outside a migration; during one it
 * can only warn.
 */
static void qd_on_query_caps(QemuDriver *qd, JsonNode *ret)
{
    gboolean events = qd_cap_state(ret, "events") == 1;

    qd->events_on |= events;

    if (!events && qd->status[0] && !g_str_equal(qd->status, "none") &&
        !g_str_equal(qd->status, "completed") &&
        !g_str_equal(qd->status, "failed") &&
        !g_str_equal(qd->status, "cancelled")) {
        g_warning("qemu driver %s: QEMU's 'events' migration capability is off "
                  "during a migration: without MIGRATION events the end of "
                  "COLO cannot be told from a checkpoint; switch it on "
                  "before 'migrate'", qd->name);
    }
}

/*
 * QEMU cannot do COLO: reported, not left to silence -- COLO_QEMU_ERROR,
 * query-colo-status "qemu-error", the log -- and a checkpoint waiting for
 * COLO fails at once.  Kept until QEMU reaches "colo".
 */
static void qd_report_error(QemuDriver *qd, const char *msg)
{
    JsonObject *data = json_object_new();

    g_free(qd->error);
    qd->error = g_strdup(msg);
    qd->stats.qemu_errors++;
    g_warning("qemu driver %s: QEMU at %s: %s", qd->name, qd->addr, msg);
    json_object_set_string_member(data, "qemu-qmp", qd->addr);
    json_object_set_string_member(data, "error", msg);
    if (colo_fs_named(qd_fs(qd))) {
        /* as the frame's own events (colo.c) */
        json_object_set_string_member(data, "frame", qd->name);
    }
    qmp_event_emit("COLO_QEMU_ERROR", data);
    qd_finish(qd, FALSE, msg);
}

/* The answer to the question qd_status_changed() asked when a watched
 * migration completed without entering COLO. */
static void qd_on_check_xcolo(QemuDriver *qd, JsonNode *ret)
{
    if (qd->colo_seen || !g_str_equal(qd->status, "completed")) {
        return;                 /* COLO came after all */
    }
    if (qd_cap_state(ret, "x-colo") == 1) {
        qd_report_error(qd, "the migration completed instead of entering COLO "
                        "although x-colo is on: this QEMU cannot run COLO "
                        "(QEMU 10.0.0 to 10.0.6 skip COLO after the 'device' "
                        "state; see docs/qemu.md for a QEMU that works)");
    }
}

/* Sends what a failover asks of QEMU (colo_frame_qemu_failover()). */
static void qd_send_failover(QemuDriver *qd)
{
    if (!qd->failover_pending || qd->state != QD_READY) {
        return;
    }
    qd->failover_pending = FALSE;
    qd->stats.failovers++;
    g_message("qemu driver %s: telling QEMU at %s to fail over "
              "(x-colo-lost-heartbeat%s)", qd->name, qd->addr,
              qd->failover_mode == COLO_MODE_SECONDARY
              ? ", then announce-self" : "");
    qd_send(qd, QC_LOST_HEARTBEAT, "x-colo-lost-heartbeat", NULL);
}

static void qd_on_reply(QemuDriver *qd, const QmpMessage *m)
{
    QemuCmd what;
    JsonObject *ret = m->ret_obj;
    const char *desc = m->kind == QMP_MSG_ERROR ? m->err_desc : NULL;

    if (g_queue_is_empty(&qd->cmds)) {
        qd->stats.protocol_errors++;
        LOG_WARN_RL("qemu driver %s: reply to no command from %s",
                    qd->name, qd->addr);
        return;
    }
    what = GPOINTER_TO_INT(g_queue_pop_head(&qd->cmds));

    switch (what) {
    case QC_CAPABILITIES:
        if (desc) {
            qd_disconnect(qd, desc);
            return;
        }
        qd->state = QD_READY;
        qd->warned = FALSE;
        qd->stats.connects++;
        g_message("qemu driver %s: connected to QEMU's QMP at %s",
                  qd->name, qd->addr);
        qd_send_failover(qd);
        qd_send(qd, QC_QUERY_MIGRATE, "query-migrate", NULL);
        qd_send(qd, QC_QUERY_CAPS, "query-migrate-capabilities", NULL);
        break;
    case QC_QUERY_CAPS:
        qd_on_query_caps(qd, desc ? NULL : m->ret);
        break;
    case QC_CHECK_XCOLO:
        if (!desc) {
            qd_on_check_xcolo(qd, m->ret);
        }
        break;
    case QC_QUERY_MIGRATE:
        if (desc) {
            qd_finish(qd, FALSE, desc);
            break;
        }
        if (!qd->status[0] || g_str_equal(qd->status, "none")) {
            /* MIGRATION events need the "events" capability, which can
             * only be set outside a migration */
            const char *st = qmp_json_str_or(ret, "status", "none");

            if (g_str_equal(st, "none") || g_str_equal(st, "completed") ||
                g_str_equal(st, "failed") || g_str_equal(st, "cancelled")) {
                JsonObject *args = json_object_new();
                JsonArray *caps = json_array_new();
                JsonObject *cap = json_object_new();

                json_object_set_string_member(cap, "capability", "events");
                json_object_set_boolean_member(cap, "state", TRUE);
                json_array_add_object_element(caps, cap);
                json_object_set_array_member(args, "capabilities", caps);
                qd_send(qd, QC_SET_EVENTS_CAP, "migrate-set-capabilities", args);
            }
        }
        qd_on_query_migrate(qd, ret);
        break;
    case QC_SET_EVENTS_CAP:
        if (desc) {
            g_debug("qemu driver %s: events capability: %s", qd->name, desc);
        } else {
            qd->events_on = TRUE;
        }
        break;
    case QC_QUERY_PARAMS:
        if (desc) {
            qd_finish(qd, FALSE, desc);
            break;
        }
        qd_on_query_params(qd, ret);
        break;
    case QC_SET_PARAMS:
        if (desc) {
            qd_finish(qd, FALSE, desc);
        }
        /* success: the STOP/RESUME pair (maybe already seen) completes */
        break;
    case QC_LOST_HEARTBEAT:
        if (desc) {
            qd->stats.failover_errors++;
            g_warning("qemu driver %s: QEMU at %s refused x-colo-lost-heartbeat: "
                      "%s", qd->name, qd->addr, desc);
            break;
        }
        g_message("qemu driver %s: QEMU at %s failed over",
                  qd->name, qd->addr);
        if (qd->failover_mode == COLO_MODE_SECONDARY) {
            /* the promoted guest's MAC moves to this host: tell the
             * switches at once rather than when the guest next talks */
            JsonObject *args = json_object_new();

            /* QEMU requires all four (AnnounceParameters); these are its
             * own defaults (-global migration.announce-*): 5 rounds,
             * 50 ms, then 100 ms more each time, at most 550 ms */
            json_object_set_int_member(args, "initial", 50);
            json_object_set_int_member(args, "max", 550);
            json_object_set_int_member(args, "rounds", 5);
            json_object_set_int_member(args, "step", 100);
            qd_send(qd, QC_ANNOUNCE, "announce-self", args);
        }
        break;
    case QC_ANNOUNCE:
        if (desc) {
            qd->stats.failover_errors++;
            g_warning("qemu driver %s: announce-self: %s", qd->name, desc);
        }
        break;
    }
}

/*
 * QEMU failed over by itself (somebody sent it x-colo-lost-heartbeat) or
 * its COLO broke: make this side follow in the same step, so that the
 * filters are not left holding or dropping the guest's frames.
 *   tell_qemu  QEMU still waits for x-colo-lost-heartbeat (a primary
 *              whose COLO broke keeps its guest stopped until then).
 */
static void qd_follow_failover(QemuDriver *qd, ColoExitReason reason, gboolean tell_qemu,
                               const char *why)
{
    GError *err = NULL;

    if (!qd->obj || colo_fs_mode(qd_fs(qd)) == COLO_MODE_NONE ||
        colo_fs_failover_active(qd_fs(qd))) {
        return;                 /* nothing to follow, or done already */
    }
    g_message("qemu driver %s: %s: failing this side over too", qd->name, why);
    if (colo_fs_failover(qd_fs(qd), reason, tell_qemu, &err)) {
        qd->stats.followed++;
    } else {
        g_warning("qemu driver %s: failover: %s", qd->name, err->message);
        g_error_free(err);
    }
}

static void qd_on_event(QemuDriver *qd, const char *name, JsonObject *data)
{
    gboolean colo = g_str_equal(qd->status, "colo");
    GError *err = NULL;

    if (g_str_equal(name, "STOP")) {
        if (colo) {
            qd->stopped = TRUE;
            qd->stop_counts = qd->want && qd->armed;
            qd->stop_us = g_get_monotonic_time();
            if (qd->mode == COLO_MODE_SECONDARY) {
                /* the secondary stops to load a checkpoint */
                colo_fs_checkpoint_begun(qd_fs(qd));
            }
        }
    } else if (g_str_equal(name, "MIGRATION_PASS")) {
        if (colo && qd->stopped && qd->mode == COLO_MODE_PRIMARY) {
            /* QEMU saves the checkpoint's state: the secondary stopped
             * before it answered the checkpoint request, the primary at
             * its STOP, so both guests are stopped, and what they sent
             * before has had the STOP's time to arrive.  QEMU's own
             * colo-compare flushes at this point of the checkpoint too */
            colo_fs_checkpoint_begun(qd_fs(qd));
        }
    } else if (g_str_equal(name, "RESUME")) {
        if (colo && qd->stopped && qd->mode == COLO_MODE_SECONDARY) {
            /* the secondary resumes once it has loaded the checkpoint:
             * both guests are equal again (the rewriter's offsets go) */
            qd->stopped = FALSE;
            qd->stats.committed++;
            qd->colo_ckpts++;
            if (!colo_fs_in_flight(qd_fs(qd))) {
                colo_fs_checkpoint_done(qd_fs(qd), TRUE, NULL);
            }
        } else if (colo && qd->stopped) {
            qd->stopped = FALSE;
            qd->colo_ckpts++;
            if (qd->stop_counts) {
                qd_finish(qd, TRUE, NULL);
            } else {
                /* QEMU's own (periodic) checkpoint committed: the
                 * secondary will never send the counterparts of what the
                 * primary sent before it, so colo-compare must release
                 * now -- reported like ours (ours in flight, if any,
                 * still waits for its own RESUME) */
                qd->stats.periodic++;
                colo_fs_checkpoint_unrequested(qd_fs(qd), qd->stop_us);
            }
        }
    } else if (g_str_equal(name, "MIGRATION")) {
        const char *st = NULL;

        if (!qmp_json_str(data, "status", TRUE, &st, &err)) {
            qd->stats.protocol_errors++;
            LOG_WARN_RL("qemu driver %s: MIGRATION event from %s: %s",
                        qd->name,
                         qd->addr, err->message);
            g_error_free(err);
            return;
        }
        if (*st) {
            gboolean colo_before = qd->colo_seen;

            qd_status_changed(qd, st);
            if (g_str_equal(st, "colo")) {
                qd->stopped = FALSE;   /* the switchover's STOP is not ours */
                qd_trigger_step(qd);
            } else if (qd->want && (g_str_equal(st, "failed") ||
                                   g_str_equal(st, "cancelled"))) {
                qd_finish(qd, FALSE, "QEMU's migration failed");
            } else if (g_str_equal(st, "completed") && colo_before) {
                /* out of COLO by x-colo-lost-heartbeat: a failover */
                qd->colo_seen = FALSE;
                qd_follow_failover(qd, COLO_EXIT_REASON_REQUEST, FALSE,
                                   "QEMU failed over (MIGRATION completed "
                                   "after colo)");
            }
        }
    } else if (g_str_equal(name, "COLO_EXIT")) {
        const char *reason = qmp_json_str_or(data, "reason", "?");
        g_autofree char *msg =
            g_strdup_printf("QEMU left COLO (COLO_EXIT, reason '%s')", reason);

        gboolean early = qd->mode == COLO_MODE_SECONDARY && qd->colo_seen &&
                         qd->colo_ckpts == 0 &&
                         !g_str_equal(reason, "request");

        if (g_str_equal(reason, "request")) {
            g_message("qemu driver %s: %s", qd->name, msg);
        } else {
            g_warning("qemu driver %s: QEMU at %s: %s",
                      qd->name, qd->addr, msg);
        }
        qd_finish(qd, FALSE, msg);
        /* COLO is over on this side, whatever query-migrate said */
        qd_status_changed(qd, "completed");
        if (early) {
            /* the signature of a pair that cannot do COLO: the secondary
             * of QEMU 10.0.0-10.0.6 enters "colo" and leaves it at once,
             * because its primary completed the migration instead */
            qd_report_error(qd, "QEMU left COLO with an error before its first "
                            "checkpoint: the primary QEMU may be unable to "
                            "run COLO (QEMU 10.0.0 to 10.0.6 complete the "
                            "migration instead; see docs/qemu.md), or it "
                            "died at once");
        }
        if (g_str_equal(reason, "request")) {
            qd->colo_seen = FALSE;
            qd_follow_failover(qd, COLO_EXIT_REASON_REQUEST, FALSE, msg);
        } else if (qd->mode == COLO_MODE_PRIMARY) {
            /* The primary's COLO broke (its secondary is gone): QEMU
             * keeps the guest stopped until it is told to fail over.  A
             * primary failing over only means running alone, so do it
             * now.  A secondary does not: taking over is the one act
             * that must wait for the peer to be known dead (heartbeat,
             * cluster manager); its guest keeps running meanwhile. */
            qd_follow_failover(qd, COLO_EXIT_REASON_ERROR, TRUE, msg);
        }
    }
}

static void qd_on_line(QemuDriver *qd, const char *line, gsize len)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *err = NULL;
    JsonNode *root;
    QmpMessage m;

    if (len == 0 || (len == 1 && line[0] == '\r')) {
        return;
    }
    if (qd->state != QD_GREETING) {
        /* STOP, MIGRATION_PASS, RESUME: every checkpoint, while QEMU
         * checkpoints; read without a JSON tree (util/qmp-event-scan.h) */
        const char *ev = qmp_scan_checkpoint_event(line, len);

        if (ev) {
            qd_on_event(qd, ev, NULL);
            return;
        }
    }
    if (!json_parser_load_from_data(parser, line, (gssize) len, &err)) {
        qd->stats.protocol_errors++;
        LOG_WARN_RL("qemu driver %s: bad JSON from %s: %s", qd->name, qd->addr,
                     err->message);
        g_error_free(err);
        return;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        qd->stats.protocol_errors++;
        LOG_WARN_RL("qemu driver %s: QMP message is not an object", qd->name);
        return;
    }
    if (!qmp_message_parse(json_node_get_object(root), &m, &err)) {
        /* counted and logged; an ill-typed reply is still a reply (it
         * keeps the command FIFO in step) and an ill-typed error is an
         * error, never a success */
        qd->stats.protocol_errors++;
        LOG_WARN_RL("qemu driver %s: from %s: %s",
                    qd->name, qd->addr, err->message);
        g_clear_error(&err);
    }
    if (qd->state == QD_GREETING) {
        if (m.kind != QMP_MSG_GREETING) {
            qd_disconnect(qd, "no QMP greeting");
            return;
        }
        qd->state = QD_NEGOTIATING;
        qd_send(qd, QC_CAPABILITIES, "qmp_capabilities", NULL);
        return;
    }
    switch (m.kind) {
    case QMP_MSG_EVENT:
        qd_on_event(qd, m.event, m.data);
        break;
    case QMP_MSG_RETURN:
    case QMP_MSG_ERROR:
        qd_on_reply(qd, &m);
        break;
    case QMP_MSG_GREETING:
        qd->stats.protocol_errors++;
        LOG_WARN_RL("qemu driver %s: a second QMP greeting from %s",
                    qd->name, qd->addr);
        break;
    case QMP_MSG_INVALID:
        break;                  /* counted and logged above */
    }
}

/* ------------------------------------------------------------------ */
/* Input.                                                               */

/* 'n' bytes arrived in qd->rbuf: one call per complete line.  Returns
 * FALSE when the connection was dropped meanwhile. */
static gboolean qd_input(QemuDriver *qd, gsize n)
{
    guint gen = qd->gen;
    gsize i, start = 0;

    for (i = 0; i < n && qd->gen == gen; i++) {
        if (qd->rbuf[i] != '\n') {
            continue;
        }
        g_string_append_len(qd->rline, qd->rbuf + start, (gssize) (i - start));
        start = i + 1;
        qd_on_line(qd, qd->rline->str, qd->rline->len);
        if (qd->rline) {
            g_string_truncate(qd->rline, 0);
        }
    }
    if (qd->gen != gen) {
        return FALSE;           /* a handler dropped the connection */
    }
    g_string_append_len(qd->rline, qd->rbuf + start, (gssize) (n - start));
    if (qd->rline->len > QEMU_QMP_MAX_LINE) {
        qd->stats.protocol_errors++;
        qd_disconnect(qd, "QMP line longer than 1 MiB");
        return FALSE;
    }
    return TRUE;
}

/* The socket is readable: one read per wake-up, as before. */
static void qd_read(QemuDriver *qd)
{
    gssize n = sock_recv(qd->fd, qd->rbuf, sizeof(qd->rbuf));

    if (n == -EAGAIN) {
        return;
    }
    if (n < 0) {
        qd_disconnect(qd, g_strerror(-n));
        return;
    }
    if (n == 0) {
        qd_disconnect(qd, "QEMU closed its QMP connection");
        return;
    }
    qd_input(qd, n);
}

/* ------------------------------------------------------------------ */
/* Connection.                                                          */

static gboolean qd_reconnect_cb(gpointer data)
{
    QemuDriver *qd = data;

    qd->reconnect_source = 0;
    if (!qd->obj || !colo_frame_get_state(qd->obj)) {
        return G_SOURCE_REMOVE;     /* nobody needs QEMU any more */
    }
    qd_connect(qd);
    return G_SOURCE_REMOVE;
}

static void qd_schedule_reconnect(QemuDriver *qd, guint ms)
{
    if (!qd->reconnect_source) {
        qd->reconnect_source = g_timeout_add(ms, qd_reconnect_cb, qd);
    }
}

/* Stops all I/O: the socket, a lookup, the connect attempt. */
static void qd_close_socket(QemuDriver *qd)
{
    fd_watch_stop(&qd->watch);
    if (qd->fd >= 0) {
        close(qd->fd);
        qd->fd = -1;
    }
    sock_connector_free(qd->connector);
    qd->connector = NULL;
    if (qd->connect_timer) {
        g_source_remove(qd->connect_timer);
        qd->connect_timer = 0;
    }
}

static void qd_disconnect(QemuDriver *qd, const char *why)
{
    gboolean was_up = qd->state == QD_READY;

    if (qd->state == QD_DISCONNECTED) {
        return;
    }
    if (was_up) {
        qd->stats.disconnects++;
        g_message("qemu driver %s: QMP connection to %s lost: %s",
                  qd->name, qd->addr, why);
    } else {
        qd->stats.connect_failures++;
        if (!qd->warned) {
            /* once per outage; the retries are silent */
            qd->warned = TRUE;
            g_warning("qemu driver %s: cannot talk to QEMU at %s: %s "
                      "(retrying every %d ms)", qd->name, qd->addr, why,
                      QEMU_RECONNECT_MS);
        }
    }
    qd->state = QD_DISCONNECTED;
    qd->gen++;
    if (qd->poll_source) {
        g_source_remove(qd->poll_source);
        qd->poll_source = 0;
    }
    qd_close_socket(qd);
    outbuf_reset(qd_out(qd));
    g_queue_clear(&qd->cmds);
    if (qd->rline) {
        g_string_truncate(qd->rline, 0);
    }
    qd->status[0] = '\0';
    qd->events_on = FALSE;         /* a restarted QEMU starts without it */
    qd->stopped = FALSE;
    /* what we saw of the migration may be of a QEMU since restarted */
    qd->colo_seen = FALSE;
    qd->migrating_seen = FALSE;
    if (qd->want) {
        g_autofree char *msg = g_strdup_printf("QMP connection to QEMU: %s",
                                               why);
        qd_finish(qd, FALSE, msg);
    }
    if (qd->obj) {
        qd_schedule_reconnect(qd, was_up ? QEMU_RECONNECT_FIRST_MS
                              : qd->refused && qd->refused < QEMU_REFUSED_FAST
                              ? QEMU_RECONNECT_REFUSED_MS : QEMU_RECONNECT_MS);
    }
}

/*
 * The one place the QMP connection becomes established (a TLS handshake
 * would go here, before the greeting is read): from now on the watch
 * reads lines and writes the queue.
 */
static void qd_on_io(void *opaque, GIOCondition revents);

static void qd_established(QemuDriver *qd, int fd)
{
    if (qd->connect_timer) {
        g_source_remove(qd->connect_timer);
        qd->connect_timer = 0;
    }
    qd->fd = fd;
    qd->refused = 0;
    qd->state = QD_GREETING;
    fd_watch_start(&qd->watch, fd, G_IO_IN, qd_on_io, qd, "qemu-qmp");
    qd_write_next(qd);
}

/* The connect round's fd fired (or the round just began): advances it
 * (a host name looked up in a thread, then every address); ends
 * established, still connecting, or disconnected. */
static void qd_connect_step(QemuDriver *qd)
{
    g_autoptr(GError) err = NULL;
    GIOCondition ev;
    int fd = -1;
    int r = sock_connector_step(qd->connector, &fd, &err);

    if (r == 0) {
        /* the polled fd may have changed (eventfd, then each socket) */
        int pfd = sock_connector_poll(qd->connector, &ev);

        fd_watch_start(&qd->watch, pfd, ev, qd_on_io, qd, "qemu-qmp");
        return;
    }
    fd_watch_stop(&qd->watch);
    if (r < 0 && qd->stats.connects && sock_connector_refused(qd->connector)) {
        /* no listener: counts only once a session was had, so that a
         * QEMU started after us is not "gone" */
        if (!qd->refused++) {
            qd->refused_first_us = g_get_monotonic_time();
        }
        qd->stats.refusals++;
    } else {
        qd->refused = 0;        /* a timeout, a lookup error: no evidence */
    }
    sock_connector_free(qd->connector);
    qd->connector = NULL;
    if (r > 0) {
        qd_established(qd, fd);
        return;
    }
    qd_disconnect(qd, err->message);
}

/* The socket or the connect round's fd fired. */
static void qd_on_io(void *opaque, GIOCondition revents)
{
    QemuDriver *qd = opaque;

    if (qd->state == QD_CONNECTING) {
        qd_connect_step(qd);
        return;
    }
    if (revents & G_IO_OUT) {
        int r = qd_flush(qd);

        if (r < 0) {
            qd_disconnect(qd, g_strerror(-r));
            return;
        }
    }
    if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        qd_read(qd);
    }
}

static gboolean qd_connect_timeout_cb(gpointer data)
{
    QemuDriver *qd = data;

    qd->connect_timer = 0;
    qd->refused = 0;            /* something is there, or a network */
    qd_disconnect(qd, "connection timed out");
    return G_SOURCE_REMOVE;
}

/* Parses "unix:PATH" or "tcp:HOST:PORT" (also "PATH" starting with '/')
 * with util/sockaddr.h's rules ("tcp:" with an empty host is localhost);
 * port 0 is refused. */
static gboolean qd_parse_addr(const char *addr, SockSpec *spec,
                              GError **errp)
{
    if (!sockaddr_parse_spec(spec, addr, TRUE, "qemu-qmp", errp)) {
        return FALSE;
    }
    if (spec->kind == SOCK_SPEC_INET && g_ascii_isdigit(spec->port[0]) &&
        g_ascii_strtoull(spec->port, NULL, 10) == 0) {
        sock_spec_clear(spec);
        error_setg(errp, "qemu-qmp '%s': no port", addr);
        return FALSE;
    }
    return TRUE;
}

static void qd_connect(QemuDriver *qd)
{
    g_auto(SockSpec) spec = { 0 };
    GError *err = NULL;

    if (qd->state != QD_DISCONNECTED) {
        return;
    }
    if (!qd_parse_addr(qd->addr, &spec, &err)) {
        LOG_WARN_RL("qemu driver %s: %s", qd->name, err->message);
        g_error_free(err);
        return;
    }
    if (!qd->rline) {
        qd->rline = g_string_sized_new(1024);
    }
    qd->state = QD_CONNECTING;
    qd->connect_timer = g_timeout_add_seconds(QEMU_CONNECT_TIMEOUT_S,
                                             qd_connect_timeout_cb, qd);
    if (spec.kind == SOCK_SPEC_UNIX) {
        SockAddr un;

        if (sockaddr_unix(&un, spec.path, FALSE, TRUE, "qemu-qmp", &err)) {
            GArray *addrs = g_array_new(FALSE, TRUE, sizeof(SockAddr));

            g_array_append_val(addrs, un);
            qd->connector = sock_connector_new(addrs);
        }
    } else {
        /* a name is looked up in a thread: the loop goes on */
        qd->connector = sock_connector_new_host(spec.host, spec.port,
                                               AF_UNSPEC, "qemu-lookup",
                                               &err);
    }
    if (!qd->connector) {
        qd_disconnect(qd, err->message);
        g_error_free(err);
        return;
    }
    qd_connect_step(qd);
}

/* ------------------------------------------------------------------ */
/* The driver entry points (colo-internal.h).                           */

/* Takes 'addr' as the QMP address, dropping a connection elsewhere. */
static void qd_set_addr(QemuDriver *qd, char *addr)
{
    if (qd->addr && g_str_equal(qd->addr, addr)) {
        g_free(addr);
        return;
    }
    if (qd->state != QD_DISCONNECTED) {
        qd_drop_checkpoint(qd);
        qd_disconnect(qd, "qemu-qmp changed");
    }
    g_free(qd->addr);
    qd->addr = addr;
}

/* A new driver for colo-frame 'f', disconnected. */
static QemuDriver *qd_new(ColoFrame *f)
{
    QemuDriver *qd = g_new0(QemuDriver, 1);

    qd->fd = -1;
    g_queue_init(&qd->cmds);
    qd->obj = f;
    qd->name = g_strdup(user_object_get_id(USER_OBJECT(f)));
    if (!qd->name) {
        qd->name = g_strdup("(no id)");
    }
    return qd;
}

/* Frees a driver that has stopped all I/O and timers (qd_disconnect()
 * with no frame: nothing reconnects). */
static void qd_free(QemuDriver *qd)
{
    qd_close_socket(qd);        /* idempotent: nothing may call back */
    if (qd->poll_source) {
        g_source_remove(qd->poll_source);
    }
    if (qd->reconnect_source) {
        g_source_remove(qd->reconnect_source);
    }
    g_queue_clear(&qd->cmds);
    if (qd->out.max) {
        outbuf_destroy(&qd->out);
    }
    if (qd->rline) {
        g_string_free(qd->rline, TRUE);
    }
    g_free(qd->error);
    g_free(qd->addr);
    g_free(qd->name);
    g_free(qd);
}

/* The driver of colo-frame 'f', created on first use (a driver=qemu
 * frame has one from colo_frame_qemu_attach() to _detach()). */
static QemuDriver *qd_of(ColoFrame *f)
{
    QemuDriver *qd = colo_frame_qemu_driver(f);

    if (!qd) {
        qd = qd_new(f);
        colo_frame_set_qemu_driver(f, qd);
    }
    return qd;
}

/*
 * The colo-frame 'f' was bound to the frame: with driver=qemu, connect to
 * QEMU's QMP now (the primary's first checkpoint need not wait for it;
 * the secondary watches QEMU's checkpoints from here on).  Main context;
 * a bad address is only logged (colo_frame_qemu_start() reports it).
 */
void colo_frame_qemu_attach(ColoFrame *f)
{
    g_autofree char *addr = NULL;
    g_auto(SockSpec) check = { 0 };
    GError *err = NULL;
    QemuDriver *qd;

    if (colo_frame_driver(f) != COLO_FRAME_DRIVER_QEMU) {
        return;
    }
    qd = qd_of(f);
    addr = user_object_get_str(USER_OBJECT(f), "qemu-qmp", NULL);
    if (!addr || !*addr) {
        return;
    }
    if (!qd_parse_addr(addr, &check, &err)) {
        g_warning("qemu driver %s: %s", qd->name, err->message);
        g_error_free(err);
        return;
    }
    qd->obj = f;
    qd->mode = colo_fs_mode(qd_fs(qd));
    qd_set_addr(qd, g_steal_pointer(&addr));
    if (qd->reconnect_source) {
        g_source_remove(qd->reconnect_source);
        qd->reconnect_source = 0;
    }
    qd_connect(qd);
}

/* The colo-frame 'f' goes away: drop the connection, no reconnection;
 * its driver is freed. */
void colo_frame_qemu_detach(ColoFrame *f)
{
    QemuDriver *qd = f ? colo_frame_qemu_driver(f) : NULL;

    if (!qd) {
        return;
    }
    colo_frame_set_qemu_driver(f, NULL);
    qd->obj = NULL;
    qd_drop_checkpoint(qd);
    g_message("qemu driver %s: %" PRIu64 " QMP sessions (%" PRIu64 " failed "
              "attempts, %" PRIu64 " lost), %" PRIu64 " triggers, %" PRIu64
              " checkpoints committed, %" PRIu64 " periodic, %" PRIu64
              " failed, %" PRIu64 " protocol errors, %" PRIu64 " failovers "
              "sent", qd->name,
              qd->stats.connects, qd->stats.connect_failures,
              qd->stats.disconnects, qd->stats.triggers, qd->stats.committed,
              qd->stats.periodic, qd->stats.errors, qd->stats.protocol_errors,
              qd->stats.failovers);
    qd->failover_pending = FALSE;
    g_clear_pointer(&qd->error, g_free);
    if (qd->reconnect_source) {
        g_source_remove(qd->reconnect_source);
        qd->reconnect_source = 0;
    }
    qd_disconnect(qd, "colo-frame deleted");
    qd_free(qd);
}

/*
 * Starts checkpoint 'id': the trigger goes out when QEMU is connected and
 * in COLO; completion comes later through colo_checkpoint_done().  Main
 * context.  Fails synchronously only for a bad qemu-qmp address.
 */
gboolean colo_frame_qemu_start(ColoFrame *f, uint64_t id, GError **errp)
{
    g_autofree char *addr = NULL;
    g_auto(SockSpec) check = { 0 };
    QemuDriver *qd;

    addr = user_object_get_str(USER_OBJECT(f), "qemu-qmp", NULL);
    if (!addr || !*addr) {
        error_setg(errp, "colo-frame driver 'qemu' needs the 'qemu-qmp' "
                   "property");
        return FALSE;
    }
    if (!qd_parse_addr(addr, &check, errp)) {
        return FALSE;
    }
    qd = qd_of(f);
    qd_set_addr(qd, g_steal_pointer(&addr));
    if (qd->obj != f) {
        qd->obj = f;
        qd->mode = colo_fs_mode(qd_fs(qd));
    }

    /* a new checkpoint supersedes one the frame gave up on */
    qd->want = TRUE;
    qd->armed = FALSE;
    qd->params_asked = FALSE;
    qd->stop_counts = FALSE;
    qd->id = id;
    qd->trigger_us = g_get_monotonic_time();

    if (qd->state == QD_DISCONNECTED) {
        if (qd->reconnect_source) {
            g_source_remove(qd->reconnect_source);
            qd->reconnect_source = 0;
        }
        qd_connect(qd);         /* READY sends query-migrate, which goes on */
    } else if (qd->state == QD_READY) {
        /* ask for the status even if we know it: without the events
         * capability no MIGRATION event would have told us it changed */
        qd_send(qd, QC_QUERY_MIGRATE, "query-migrate", NULL);
    }
    return TRUE;
}

/*
 * This side failed over (colo_failover_full(), main context): tell its
 * QEMU -- x-colo-lost-heartbeat, and on a secondary announce-self once
 * that succeeded.  Queued behind nothing but commands already written;
 * sent on the next connection when QEMU's QMP is not connected now.
 */
void colo_frame_qemu_failover(ColoFrame *f, ColoMode mode)
{
    QemuDriver *qd = f ? colo_frame_qemu_driver(f) : NULL;

    if (!qd || qd->obj != f ||
        colo_frame_driver(f) != COLO_FRAME_DRIVER_QEMU) {
        return;
    }
    qd_drop_checkpoint(qd);     /* no checkpoint after a failover */
    qd->failover_pending = TRUE;
    qd->failover_mode = mode;
    qd_send_failover(qd);
}

/*
 * How many connect rounds in a row found no listener at QEMU's QMP
 * address since its last session ended (0 while connected, before the
 * first session, or after a timeout), and in *first_us when the first of
 * them failed.  Main context.
 */
guint colo_frame_qemu_refused(ColoFrame *f, int64_t *first_us)
{
    QemuDriver *qd = f ? colo_frame_qemu_driver(f) : NULL;

    if (!qd || qd->obj != f) {
        return 0;
    }
    *first_us = qd->refused_first_us;
    return qd->refused;
}

const char *colo_frame_qemu_error(ColoFrame *f)
{
    QemuDriver *qd = f ? colo_frame_qemu_driver(f) : NULL;

    return qd && qd->obj ? qd->error : NULL;
}

void colo_frame_qemu_stats(ColoFrame *f, JsonObject *o)
{
    static const char *const states[] = {
        [QD_DISCONNECTED] = "disconnected", [QD_CONNECTING] = "connecting",
        [QD_GREETING] = "greeting", [QD_NEGOTIATING] = "negotiating",
        [QD_READY] = "ready",
    };
    QemuDriver *qd = f ? colo_frame_qemu_driver(f) : NULL;
    JsonObject *q;

    if (!qd) {
        return;
    }
    q = json_object_new();
    json_object_set_string_member(q, "state", states[qd->state]);
    json_object_set_string_member(q, "status",
                                  qd->status[0] ? qd->status : "unknown");
    json_object_set_int_member(q, "connects", (gint64) qd->stats.connects);
    json_object_set_int_member(q, "connect-failures",
                               (gint64) qd->stats.connect_failures);
    json_object_set_int_member(q, "disconnects",
                               (gint64) qd->stats.disconnects);
    json_object_set_int_member(q, "triggers", (gint64) qd->stats.triggers);
    json_object_set_int_member(q, "committed", (gint64) qd->stats.committed);
    json_object_set_int_member(q, "periodic", (gint64) qd->stats.periodic);
    json_object_set_int_member(q, "errors", (gint64) qd->stats.errors);
    json_object_set_int_member(q, "protocol-errors",
                               (gint64) qd->stats.protocol_errors);
    json_object_set_int_member(q, "failovers", (gint64) qd->stats.failovers);
    json_object_set_int_member(q, "failover-errors",
                               (gint64) qd->stats.failover_errors);
    json_object_set_int_member(q, "followed", (gint64) qd->stats.followed);
    json_object_set_int_member(q, "qemu-errors",
                               (gint64) qd->stats.qemu_errors);
    json_object_set_int_member(q, "refusals", (gint64) qd->stats.refusals);
    json_object_set_int_member(q, "refused", (gint64) qd->refused);
    json_object_set_object_member(o, "qemu", q);
}

/* ------------------------------------------------------------------ */
/* Entry points for tests/fuzz/fuzz-qemu-driver.c (colo-internal.h): the */
/* parser and state machine without a socket.                           */

void colo_frame_qemu_test_session(ColoFrame *f, ColoMode mode)
{
    QemuDriver *qd = qd_of(f);

    qd->obj = NULL;             /* no reconnection from the reset */
    qd_drop_checkpoint(qd);
    qd_disconnect(qd, "test session reset");
    if (qd->reconnect_source) {
        g_source_remove(qd->reconnect_source);
        qd->reconnect_source = 0;
    }
    qd->failover_pending = FALSE;
    g_clear_pointer(&qd->error, g_free);
    /* the address colo_frame_qemu_start() will compare with */
    g_free(qd->addr);
    qd->addr = user_object_get_str(USER_OBJECT(f), "qemu-qmp", NULL);
    if (!qd->addr) {
        qd->addr = g_strdup("unix:/nonexistent/qemu.qmp");
    }
    if (!qd->rline) {
        qd->rline = g_string_sized_new(1024);
    }
    qd->obj = f;
    qd->mode = mode;
    qd->gen++;
    qd->state = QD_GREETING;    /* as if connected: the greeting is next */
}

void colo_frame_qemu_test_line(ColoFrame *f, const char *line, gsize len)
{
    QemuDriver *qd = qd_of(f);

    qd_on_line(qd, line, len);
    /* nobody reads what the driver wrote */
    outbuf_reset(qd_out(qd));
}

const char *colo_frame_qemu_test_invariants(ColoFrame *f)
{
    QemuDriver *qd = colo_frame_qemu_driver(f);

    if (!qd) {
        return NULL;
    }
    if (g_queue_get_length(&qd->cmds) > QEMU_QMP_MAX_PENDING) {
        return "more commands awaiting replies than the bound";
    }
    if (strlen(qd->status) >= sizeof(qd->status)) {
        return "migration status overflows";
    }
    if (qd->armed && !qd->want) {
        return "trigger armed for no checkpoint";
    }
    if (qd->state > QD_READY) {
        return "unknown session state";
    }
    return NULL;
}
