/*
 * colo/colo-qemu.c - the frame's "qemu" checkpoint driver: takes COLO
 * checkpoints by driving a real QEMU over its QMP socket.
 *
 *   -object colo-frame,id=colo0,mode=primary,driver=qemu,qemu-qmp=unix:/run/colo/p.qmp
 *   -object colo-frame,id=colo0,mode=primary,driver=qemu,qemu-qmp=tcp:127.0.0.1:4444
 *
 * QEMU's COLO runs in QEMU (migration with the x-colo capability); the
 * proxy only asks it for a checkpoint and learns when one committed.  What
 * QEMU 7.2 offers for that (tests/data/qemu-colo-qmp-transcript.md, a real
 * session, both sides):
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
 * The connection is opened when the colo-frame is created
 * (colo_frame_qemu_attach()) and closed when it is deleted.
 *
 * The driver never completes a checkpoint synchronously from
 * colo_frame_qemu_start() (colo.c arms its timeout after the call), and
 * completes only while colo.c still has that checkpoint in flight (the
 * frame may have timed it out meanwhile).  Periodic checkpoints that
 * QEMU takes on its own are counted, not reported.
 *
 * The connection stays open between checkpoints, and is re-established
 * one second after it is lost while the colo-frame exists (one warning
 * per outage).  All I/O is non-blocking GIO on the main context.  Limits:
 * a QMP line of at most 1 MiB (longer: counted, connection dropped), at
 * most 64 commands awaiting replies.  The counters are logged when the
 * colo-frame is deleted.
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
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>

#include "colo/colo.h"
#include "colo/colo-internal.h"
#include "util/error.h"
#include "util/iothread.h"
#include "util/log.h"

#define QEMU_QMP_MAX_LINE (1024 * 1024)   /* longest QMP line accepted */
#define QEMU_QMP_MAX_PENDING 64           /* commands awaiting a reply */
#define QEMU_RECONNECT_MS 1000
#define QEMU_READ_CHUNK 16384
#define QEMU_POLL_MS 100                  /* query-migrate while entering COLO */

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
} QemuCmd;

typedef struct QemuDriverStats {
    uint64_t connects;          /* QMP sessions established */
    uint64_t connect_failures;
    uint64_t disconnects;
    uint64_t triggers;          /* migrate-set-parameters sent */
    uint64_t committed;         /* our checkpoints seen committed
                                 * (secondary: checkpoints QEMU loaded) */
    uint64_t periodic;          /* STOP/RESUME pairs in colo not ours */
    uint64_t errors;            /* checkpoints failed by this driver */
    uint64_t protocol_errors;   /* bad JSON, overlong lines, stray replies */
} QemuDriverStats;

typedef struct QemuDriver {
    QemuDriverState state;
    ColoFrame *obj;             /* the colo-frame using us, or NULL */
    ColoMode mode;              /* its mode */
    char *addr;                 /* qemu-qmp as configured */
    GCancellable *cancel;
    GSocketConnection *conn;
    GString *rline;             /* partial input line */
    char rbuf[QEMU_READ_CHUNK];
    GQueue wqueue;              /* of GBytes, oldest first */
    gboolean writing;
    GQueue cmds;                /* of GINT_TO_POINTER(QemuCmd) */
    guint reconnect_source;
    guint poll_source;
    guint gen;                  /* connection generation, for callbacks */
    gboolean warned;            /* connection failure logged this outage */

    /* QEMU's state as learned */
    char status[32];            /* migration status, "" = unknown */
    gboolean stopped;           /* STOP seen in colo, RESUME not yet */
    gboolean stop_counts;       /* that STOP came after our trigger */

    /* the checkpoint we were asked for */
    gboolean want;              /* started, not yet done */
    gboolean armed;             /* trigger sent */
    gboolean params_asked;      /* query-migrate-parameters sent */
    uint64_t id;
    int64_t trigger_us;

    QemuDriverStats stats;
} QemuDriver;

static QemuDriver qd;

static void qd_connect(void);
static void qd_disconnect(const char *why);
static void qd_read_more(void);

/* ------------------------------------------------------------------ */
/* Completion.                                                          */

static void qd_finish(gboolean ok, const char *error)
{
    if (!qd.want) {
        return;
    }
    qd.want = FALSE;
    qd.armed = FALSE;
    qd.params_asked = FALSE;
    qd.stop_counts = FALSE;
    if (!colo_checkpoint_in_flight()) {
        return;                 /* the frame gave up on it (timeout) */
    }
    if (ok) {
        qd.stats.committed++;
        g_debug("qemu driver: checkpoint %" PRIu64 " committed in %" PRId64
                " us", qd.id, g_get_monotonic_time() - qd.trigger_us);
    } else {
        qd.stats.errors++;
    }
    colo_checkpoint_done(ok, error);
}

/* ------------------------------------------------------------------ */
/* Output: a queue of lines written one async write at a time.          */

static void qd_write_next(void);

static void qd_write_done(GObject *src, GAsyncResult *res, gpointer data)
{
    GError *err = NULL;
    GBytes *b;
    gboolean ok = g_output_stream_write_all_finish(G_OUTPUT_STREAM(src), res,
                                                   NULL, &err);

    if (GPOINTER_TO_UINT(data) != qd.gen) {
        g_clear_error(&err);    /* a connection since closed */
        return;
    }
    if (!ok) {
        if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            qd.writing = FALSE;
            qd_disconnect(err->message);
        }
        g_error_free(err);
        return;
    }
    qd.writing = FALSE;
    b = g_queue_pop_head(&qd.wqueue);
    g_bytes_unref(b);
    qd_write_next();
}

static void qd_write_next(void)
{
    GBytes *b = g_queue_peek_head(&qd.wqueue);
    gsize len;
    const void *p;

    if (qd.writing || !b || !qd.conn) {
        return;
    }
    p = g_bytes_get_data(b, &len);
    qd.writing = TRUE;
    g_output_stream_write_all_async(
        g_io_stream_get_output_stream(G_IO_STREAM(qd.conn)), p, len,
        G_PRIORITY_DEFAULT, qd.cancel, qd_write_done,
        GUINT_TO_POINTER(qd.gen));
}

/* Sends one command; 'args' (may be NULL) is consumed. */
static void qd_send(QemuCmd what, const char *name, JsonObject *args)
{
    JsonObject *o = json_object_new();
    JsonNode *n = json_node_new(JSON_NODE_OBJECT);
    g_autofree char *s = NULL;

    if (g_queue_get_length(&qd.cmds) >= QEMU_QMP_MAX_PENDING) {
        if (args) {
            json_object_unref(args);
        }
        json_object_unref(o);
        json_node_free(n);
        qd_disconnect("QEMU does not answer its QMP commands");
        return;
    }
    json_object_set_string_member(o, "execute", name);
    if (args) {
        json_object_set_object_member(o, "arguments", args);
    }
    json_node_take_object(n, o);
    s = json_to_string(n, FALSE);
    json_node_free(n);
    g_queue_push_tail(&qd.cmds, GINT_TO_POINTER(what));
    g_queue_push_tail(&qd.wqueue,
                      g_bytes_new_take(g_strconcat(s, "\r\n", NULL),
                                       strlen(s) + 2));
    qd_write_next();
}

/* ------------------------------------------------------------------ */
/* The checkpoint steps.                                                */

static void qd_trigger_step(void)
{
    if (!qd.want || qd.state != QD_READY) {
        return;
    }
    if (!g_str_equal(qd.status, "colo")) {
        qd_send(QC_QUERY_MIGRATE, "query-migrate", NULL);
        return;
    }
    if (!qd.params_asked) {
        qd.params_asked = TRUE;
        qd_send(QC_QUERY_PARAMS, "query-migrate-parameters", NULL);
    }
}

static void qd_status_changed(const char *status)
{
    gboolean was_colo = g_str_equal(qd.status, "colo");

    g_strlcpy(qd.status, status, sizeof(qd.status));
    if (was_colo && !g_str_equal(status, "colo")) {
        qd.stopped = FALSE;
        if (qd.want) {
            g_autofree char *msg =
                g_strdup_printf("QEMU's COLO ended (migration status '%s')",
                                status);
            qd_finish(FALSE, msg);
        }
    }
}

static gboolean qd_poll_cb(gpointer data)
{
    qd.poll_source = 0;
    if (qd.want && qd.state == QD_READY && !g_str_equal(qd.status, "colo")) {
        qd_send(QC_QUERY_MIGRATE, "query-migrate", NULL);
    }
    return G_SOURCE_REMOVE;
}

static void qd_on_query_migrate(JsonObject *ret)
{
    const char *status = ret && json_object_has_member(ret, "status") ?
        json_object_get_string_member_with_default(ret, "status", "") : "";

    if (!*status) {
        status = "none";        /* QEMU answers {} before any migration */
    }
    qd_status_changed(status);
    if (!qd.want) {
        return;
    }
    if (g_str_equal(status, "colo")) {
        qd_trigger_step();
    } else if (g_str_equal(status, "setup") || g_str_equal(status, "active") ||
               g_str_equal(status, "pre-switchover") ||
               g_str_equal(status, "device")) {
        /* entering COLO: MIGRATION "colo" continues; without the events
         * capability there is no such event, so ask again shortly (the
         * frame's checkpoint-timeout bounds the wait) */
        if (!qd.poll_source) {
            qd.poll_source = g_timeout_add(QEMU_POLL_MS, qd_poll_cb, NULL);
        }
    } else {
        g_autofree char *msg =
            g_strdup_printf("QEMU is not in COLO (migration status '%s')",
                            status);
        qd_finish(FALSE, msg);
    }
}

static void qd_on_query_params(JsonObject *ret)
{
    JsonObject *args;
    JsonNode *delay;

    if (!qd.want) {
        return;
    }
    delay = ret ? json_object_get_member(ret, "x-checkpoint-delay") : NULL;
    if (!delay || json_node_get_value_type(delay) != G_TYPE_INT64) {
        qd_finish(FALSE, "QEMU reports no x-checkpoint-delay (no COLO "
                  "support?)");
        return;
    }
    args = json_object_new();
    json_object_set_int_member(args, "x-checkpoint-delay",
                               json_node_get_int(delay));
    qd.armed = TRUE;
    qd.stop_counts = FALSE;
    qd.trigger_us = g_get_monotonic_time();
    qd.stats.triggers++;
    qd_send(QC_SET_PARAMS, "migrate-set-parameters", args);
}

/*
 * Without the "events" capability QEMU sends no MIGRATION events, and the
 * driver cannot tell a checkpoint's STOP/RESUME from a failover's.  It
 * switches the capability on itself outside a migration; during one it
 * can only warn.
 */
static void qd_on_query_caps(JsonObject *msg)
{
    JsonNode *r = json_object_get_member(msg, "return");
    JsonArray *caps;
    gboolean events = FALSE;
    guint i;

    if (!r || !JSON_NODE_HOLDS_ARRAY(r)) {
        return;
    }
    caps = json_node_get_array(r);
    for (i = 0; i < json_array_get_length(caps); i++) {
        JsonNode *n = json_array_get_element(caps, i);
        JsonObject *c;

        if (!JSON_NODE_HOLDS_OBJECT(n)) {
            continue;
        }
        c = json_node_get_object(n);
        if (g_strcmp0(json_object_get_string_member_with_default(
                          c, "capability", ""), "events") == 0) {
            events = json_object_get_boolean_member_with_default(c, "state",
                                                                 FALSE);
        }
    }
    if (!events && qd.status[0] && !g_str_equal(qd.status, "none") &&
        !g_str_equal(qd.status, "completed") &&
        !g_str_equal(qd.status, "failed") &&
        !g_str_equal(qd.status, "cancelled")) {
        g_warning("qemu driver: QEMU's 'events' migration capability is off "
                  "during a migration: without MIGRATION events the end of "
                  "COLO cannot be told from a checkpoint; switch it on "
                  "before 'migrate'");
    }
}

static void qd_on_reply(JsonObject *msg)
{
    QemuCmd what;
    JsonObject *ret = NULL;
    const char *desc = NULL;

    if (g_queue_is_empty(&qd.cmds)) {
        qd.stats.protocol_errors++;
        COLO_WARN_RL("qemu driver: reply to no command from %s", qd.addr);
        return;
    }
    what = GPOINTER_TO_INT(g_queue_pop_head(&qd.cmds));
    if (json_object_has_member(msg, "error")) {
        JsonObject *e = json_object_get_object_member(msg, "error");

        desc = e ? json_object_get_string_member_with_default(e, "desc", "?")
                 : "?";
    } else {
        JsonNode *r = json_object_get_member(msg, "return");

        if (r && JSON_NODE_HOLDS_OBJECT(r)) {
            ret = json_node_get_object(r);
        }
    }

    switch (what) {
    case QC_CAPABILITIES:
        if (desc) {
            qd_disconnect(desc);
            return;
        }
        qd.state = QD_READY;
        qd.warned = FALSE;
        qd.stats.connects++;
        g_message("qemu driver: connected to QEMU's QMP at %s", qd.addr);
        qd_send(QC_QUERY_MIGRATE, "query-migrate", NULL);
        qd_send(QC_QUERY_CAPS, "query-migrate-capabilities", NULL);
        break;
    case QC_QUERY_CAPS:
        qd_on_query_caps(msg);
        break;
    case QC_QUERY_MIGRATE:
        if (desc) {
            qd_finish(FALSE, desc);
            break;
        }
        if (!qd.status[0] || g_str_equal(qd.status, "none")) {
            /* MIGRATION events need the "events" capability, which can
             * only be set outside a migration */
            const char *st = ret ? json_object_get_string_member_with_default(
                ret, "status", "none") : "none";

            if (g_str_equal(st, "none") || g_str_equal(st, "completed") ||
                g_str_equal(st, "failed") || g_str_equal(st, "cancelled")) {
                JsonObject *args = json_object_new();
                JsonArray *caps = json_array_new();
                JsonObject *cap = json_object_new();

                json_object_set_string_member(cap, "capability", "events");
                json_object_set_boolean_member(cap, "state", TRUE);
                json_array_add_object_element(caps, cap);
                json_object_set_array_member(args, "capabilities", caps);
                qd_send(QC_SET_EVENTS_CAP, "migrate-set-capabilities", args);
            }
        }
        qd_on_query_migrate(ret);
        break;
    case QC_SET_EVENTS_CAP:
        if (desc) {
            g_debug("qemu driver: events capability: %s", desc);
        }
        break;
    case QC_QUERY_PARAMS:
        if (desc) {
            qd_finish(FALSE, desc);
            break;
        }
        qd_on_query_params(ret);
        break;
    case QC_SET_PARAMS:
        if (desc) {
            qd_finish(FALSE, desc);
        }
        /* success: the STOP/RESUME pair (maybe already seen) completes */
        break;
    }
}

static void qd_on_event(const char *name, JsonObject *data)
{
    gboolean colo = g_str_equal(qd.status, "colo");

    if (g_str_equal(name, "STOP")) {
        if (colo) {
            qd.stopped = TRUE;
            qd.stop_counts = qd.want && qd.armed;
        }
    } else if (g_str_equal(name, "RESUME")) {
        if (colo && qd.stopped && qd.mode == COLO_MODE_SECONDARY) {
            /* the secondary resumes once it has loaded the checkpoint:
             * both guests are equal again (the rewriter's offsets go) */
            qd.stopped = FALSE;
            qd.stats.committed++;
            if (!colo_checkpoint_in_flight()) {
                colo_checkpoint_done(TRUE, NULL);
            }
        } else if (colo && qd.stopped) {
            qd.stopped = FALSE;
            if (qd.stop_counts) {
                qd_finish(TRUE, NULL);
            } else {
                qd.stats.periodic++;
            }
        }
    } else if (g_str_equal(name, "MIGRATION")) {
        const char *st = data ?
            json_object_get_string_member_with_default(data, "status", "") : "";

        if (*st) {
            qd_status_changed(st);
            if (g_str_equal(st, "colo")) {
                qd.stopped = FALSE;   /* the switchover's STOP is not ours */
                qd_trigger_step();
            } else if (qd.want && (g_str_equal(st, "failed") ||
                                   g_str_equal(st, "cancelled"))) {
                qd_finish(FALSE, "QEMU's migration failed");
            }
        }
    } else if (g_str_equal(name, "COLO_EXIT")) {
        const char *reason = data ?
            json_object_get_string_member_with_default(data, "reason", "?") :
            "?";
        g_autofree char *msg =
            g_strdup_printf("QEMU left COLO (COLO_EXIT, reason '%s')", reason);

        g_message("qemu driver: %s", msg);
        qd_finish(FALSE, msg);
        /* COLO is over on this side, whatever query-migrate said */
        qd_status_changed("completed");
    }
}

static void qd_on_line(const char *line, gsize len)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *err = NULL;
    JsonNode *root;
    JsonObject *msg;

    if (len == 0) {
        return;
    }
    if (!json_parser_load_from_data(parser, line, (gssize) len, &err)) {
        qd.stats.protocol_errors++;
        COLO_WARN_RL("qemu driver: bad JSON from %s: %s", qd.addr,
                     err->message);
        g_error_free(err);
        return;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        qd.stats.protocol_errors++;
        COLO_WARN_RL("qemu driver: QMP message is not an object");
        return;
    }
    msg = json_node_get_object(root);
    if (qd.state == QD_GREETING) {
        if (!json_object_has_member(msg, "QMP")) {
            qd_disconnect("no QMP greeting");
            return;
        }
        qd.state = QD_NEGOTIATING;
        qd_send(QC_CAPABILITIES, "qmp_capabilities", NULL);
        return;
    }
    if (json_object_has_member(msg, "event")) {
        JsonNode *d = json_object_get_member(msg, "data");

        qd_on_event(json_object_get_string_member_with_default(msg, "event",
                                                               ""),
                    d && JSON_NODE_HOLDS_OBJECT(d) ? json_node_get_object(d)
                                                   : NULL);
    } else if (json_object_has_member(msg, "return") ||
               json_object_has_member(msg, "error")) {
        qd_on_reply(msg);
    } else {
        qd.stats.protocol_errors++;
        COLO_WARN_RL("qemu driver: unexpected QMP message from %s", qd.addr);
    }
}

/* ------------------------------------------------------------------ */
/* Input.                                                               */

static void qd_read_done(GObject *src, GAsyncResult *res, gpointer data)
{
    GError *err = NULL;
    gssize n = g_input_stream_read_finish(G_INPUT_STREAM(src), res, &err);
    gsize i, start = 0;

    if (GPOINTER_TO_UINT(data) != qd.gen) {
        g_clear_error(&err);    /* a connection since closed */
        return;
    }
    if (n < 0) {
        if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            qd_disconnect(err->message);
        }
        g_error_free(err);
        return;
    }
    if (n == 0) {
        qd_disconnect("QEMU closed its QMP connection");
        return;
    }
    for (i = 0; i < (gsize) n && qd.conn; i++) {
        if (qd.rbuf[i] != '\n') {
            continue;
        }
        g_string_append_len(qd.rline, qd.rbuf + start, (gssize) (i - start));
        start = i + 1;
        qd_on_line(qd.rline->str, qd.rline->len);
        if (qd.rline) {
            g_string_truncate(qd.rline, 0);
        }
    }
    if (!qd.conn) {
        return;                 /* a handler dropped the connection */
    }
    g_string_append_len(qd.rline, qd.rbuf + start, (gssize) ((gsize) n - start));
    if (qd.rline->len > QEMU_QMP_MAX_LINE) {
        qd.stats.protocol_errors++;
        qd_disconnect("QMP line longer than 1 MiB");
        return;
    }
    qd_read_more();
}

static void qd_read_more(void)
{
    g_input_stream_read_async(
        g_io_stream_get_input_stream(G_IO_STREAM(qd.conn)), qd.rbuf,
        sizeof(qd.rbuf), G_PRIORITY_DEFAULT, qd.cancel, qd_read_done,
        GUINT_TO_POINTER(qd.gen));
}

/* ------------------------------------------------------------------ */
/* Connection.                                                          */

static gboolean qd_reconnect_cb(gpointer data)
{
    qd.reconnect_source = 0;
    if (!qd.obj || colo_frame_get() != qd.obj) {
        return G_SOURCE_REMOVE;     /* nobody needs QEMU any more */
    }
    qd_connect();
    return G_SOURCE_REMOVE;
}

static void qd_schedule_reconnect(void)
{
    if (!qd.reconnect_source) {
        qd.reconnect_source = g_timeout_add(QEMU_RECONNECT_MS,
                                            qd_reconnect_cb, NULL);
    }
}

static void qd_disconnect(const char *why)
{
    gboolean was_up = qd.state == QD_READY;

    if (qd.state == QD_DISCONNECTED) {
        return;
    }
    if (was_up) {
        qd.stats.disconnects++;
        g_message("qemu driver: QMP connection to %s lost: %s", qd.addr, why);
    } else {
        qd.stats.connect_failures++;
        if (!qd.warned) {
            /* once per outage; the retries are silent */
            qd.warned = TRUE;
            g_warning("qemu driver: cannot talk to QEMU at %s: %s "
                      "(retrying every %d ms)", qd.addr, why,
                      QEMU_RECONNECT_MS);
        }
    }
    qd.state = QD_DISCONNECTED;
    qd.gen++;
    if (qd.poll_source) {
        g_source_remove(qd.poll_source);
        qd.poll_source = 0;
    }
    if (qd.cancel) {
        g_cancellable_cancel(qd.cancel);
        g_clear_object(&qd.cancel);
    }
    if (qd.conn) {
        g_io_stream_close(G_IO_STREAM(qd.conn), NULL, NULL);
        g_clear_object(&qd.conn);
    }
    g_queue_clear_full(&qd.wqueue, (GDestroyNotify) g_bytes_unref);
    g_queue_clear(&qd.cmds);
    qd.writing = FALSE;
    if (qd.rline) {
        g_string_truncate(qd.rline, 0);
    }
    qd.status[0] = '\0';
    qd.stopped = FALSE;
    if (qd.want) {
        g_autofree char *msg = g_strdup_printf("QMP connection to QEMU: %s",
                                               why);
        qd_finish(FALSE, msg);
    }
    if (qd.obj) {
        qd_schedule_reconnect();
    }
}

static void qd_connected(GObject *src, GAsyncResult *res, gpointer data)
{
    GError *err = NULL;
    GSocketConnection *c =
        g_socket_client_connect_finish(G_SOCKET_CLIENT(src), res, &err);

    if (!c) {
        if (GPOINTER_TO_UINT(data) == qd.gen &&
            !g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            qd_disconnect(err->message);
        }
        g_error_free(err);
        return;
    }
    if (qd.state != QD_CONNECTING || GPOINTER_TO_UINT(data) != qd.gen) {
        g_object_unref(c);
        return;
    }
    /* the client's timeout was for connecting; QMP is idle for long
     * stretches, which is no error (a hung QEMU shows as a checkpoint
     * that does not complete within checkpoint-timeout) */
    g_socket_set_timeout(g_socket_connection_get_socket(c), 0);
    qd.conn = c;
    qd.state = QD_GREETING;
    qd_read_more();
}

/* Parses "unix:PATH" or "tcp:HOST:PORT" (also "PATH" starting with '/'). */
static GSocketConnectable *qd_parse_addr(const char *addr, GError **errp)
{
    if (g_str_has_prefix(addr, "unix:")) {
        return G_SOCKET_CONNECTABLE(g_unix_socket_address_new(addr + 5));
    }
    if (addr[0] == '/') {
        return G_SOCKET_CONNECTABLE(g_unix_socket_address_new(addr));
    }
    if (g_str_has_prefix(addr, "tcp:")) {
        GSocketConnectable *c =
            g_network_address_parse(addr + 4, 0, errp);

        if (c && g_network_address_get_port(G_NETWORK_ADDRESS(c)) == 0) {
            g_object_unref(c);
            error_setg(errp, "qemu-qmp '%s': no port", addr);
            return NULL;
        }
        return c;
    }
    error_setg(errp, "qemu-qmp '%s': expected unix:PATH or tcp:HOST:PORT",
               addr);
    return NULL;
}

static void qd_connect(void)
{
    g_autoptr(GSocketClient) client = NULL;
    g_autoptr(GSocketConnectable) where = NULL;
    GError *err = NULL;

    if (qd.state != QD_DISCONNECTED) {
        return;
    }
    where = qd_parse_addr(qd.addr, &err);
    if (!where) {
        COLO_WARN_RL("qemu driver: %s", err->message);
        g_error_free(err);
        return;
    }
    if (!qd.rline) {
        qd.rline = g_string_sized_new(1024);
    }
    qd.state = QD_CONNECTING;
    qd.cancel = g_cancellable_new();
    client = g_socket_client_new();
    g_socket_client_set_timeout(client, 5);
    g_socket_client_connect_async(client, where, qd.cancel, qd_connected,
                                  GUINT_TO_POINTER(qd.gen));
}

/* ------------------------------------------------------------------ */
/* The driver entry points (colo-internal.h).                           */

/* Takes 'addr' as the QMP address, dropping a connection elsewhere. */
static void qd_set_addr(char *addr)
{
    if (qd.addr && g_str_equal(qd.addr, addr)) {
        g_free(addr);
        return;
    }
    if (qd.state != QD_DISCONNECTED) {
        qd.want = FALSE;
        qd_disconnect("qemu-qmp changed");
    }
    g_free(qd.addr);
    qd.addr = addr;
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
    g_autoptr(GSocketConnectable) check = NULL;
    GError *err = NULL;

    if (colo_frame_driver(f) != COLO_FRAME_DRIVER_QEMU) {
        return;
    }
    addr = user_object_get_str(USER_OBJECT(f), "qemu-qmp", NULL);
    if (!addr || !*addr) {
        return;
    }
    check = qd_parse_addr(addr, &err);
    if (!check) {
        g_warning("qemu driver: %s", err->message);
        g_error_free(err);
        return;
    }
    qd.obj = f;
    qd.mode = colo_get_mode();
    qd_set_addr(g_steal_pointer(&addr));
    if (qd.reconnect_source) {
        g_source_remove(qd.reconnect_source);
        qd.reconnect_source = 0;
    }
    qd_connect();
}

/* The colo-frame 'f' goes away: drop the connection, no reconnection. */
void colo_frame_qemu_detach(ColoFrame *f)
{
    if (!f || qd.obj != f) {
        return;
    }
    qd.obj = NULL;
    qd.want = FALSE;
    g_message("qemu driver: %" PRIu64 " QMP sessions (%" PRIu64 " failed "
              "attempts, %" PRIu64 " lost), %" PRIu64 " triggers, %" PRIu64
              " checkpoints committed, %" PRIu64 " periodic, %" PRIu64
              " failed, %" PRIu64 " protocol errors",
              qd.stats.connects, qd.stats.connect_failures,
              qd.stats.disconnects, qd.stats.triggers, qd.stats.committed,
              qd.stats.periodic, qd.stats.errors, qd.stats.protocol_errors);
    if (qd.reconnect_source) {
        g_source_remove(qd.reconnect_source);
        qd.reconnect_source = 0;
    }
    qd_disconnect("colo-frame deleted");
}

/*
 * Starts checkpoint 'id': the trigger goes out when QEMU is connected and
 * in COLO; completion comes later through colo_checkpoint_done().  Main
 * context.  Fails synchronously only for a bad qemu-qmp address.
 */
gboolean colo_frame_qemu_start(ColoFrame *f, uint64_t id, GError **errp)
{
    g_autofree char *addr = NULL;
    g_autoptr(GSocketConnectable) check = NULL;

    addr = user_object_get_str(USER_OBJECT(f), "qemu-qmp", NULL);
    if (!addr || !*addr) {
        error_setg(errp, "colo-frame driver 'qemu' needs the 'qemu-qmp' "
                   "property");
        return FALSE;
    }
    check = qd_parse_addr(addr, errp);
    if (!check) {
        return FALSE;
    }
    qd_set_addr(g_steal_pointer(&addr));
    if (qd.obj != f) {
        qd.obj = f;
        qd.mode = colo_get_mode();
    }

    /* a new checkpoint supersedes one the frame gave up on */
    qd.want = TRUE;
    qd.armed = FALSE;
    qd.params_asked = FALSE;
    qd.stop_counts = FALSE;
    qd.id = id;
    qd.trigger_us = g_get_monotonic_time();

    if (qd.state == QD_DISCONNECTED) {
        if (qd.reconnect_source) {
            g_source_remove(qd.reconnect_source);
            qd.reconnect_source = 0;
        }
        qd_connect();           /* READY sends query-migrate, which goes on */
    } else if (qd.state == QD_READY) {
        /* ask for the status even if we know it: without the events
         * capability no MIGRATION event would have told us it changed */
        qd_send(QC_QUERY_MIGRATE, "query-migrate", NULL);
    }
    return TRUE;
}
