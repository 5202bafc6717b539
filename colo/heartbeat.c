/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colo/heartbeat.c - the "colo-heartbeat" object: liveness of the peer
 * colo-proxy, and automatic failover when it is gone.
 *
 * QEMU's COLO documentation lists the heartbeat as "not implemented yet":
 * an operator (or a cluster manager) has to notice that the other side
 * died and type x-colo-lost-heartbeat.  This object does the noticing.
 * Each side runs one, joined by a socket chardev (one side server, the
 * other a client with reconnect=N):
 *
 *   -chardev socket,id=hb,host=0.0.0.0,port=9005,server=on,wait=off
 *   -object colo-heartbeat,id=hb0,chardev=hb,interval=100,timeout=1000,failover=on
 *
 *   -chardev socket,id=hb,host=PRIMARY,port=9005,reconnect=1
 *   -object colo-heartbeat,id=hb0,chardev=hb,interval=100,timeout=1000,failover=on
 *
 * Every 'interval' ms it sends one message framed as every other link is
 * (include/net/link-framing.h: be32 length, then the payload), whose payload is
 * the text "COLO_HEARTBEAT <seq>" with a decimal sequence number.  It
 * expects the peer's messages: when none has arrived for 'timeout' ms it
 * declares the peer lost, emits COLO_HEARTBEAT_LOST and, with
 * failover=on, fails this side over with colo_failover(REQUEST) -- the
 * reason x-colo-lost-heartbeat gives, since a heartbeat loss is exactly
 * what that command reports by hand.  That is one step for the whole
 * side: the frame switches this process's filters and, with colo-frame
 * driver=qemu, then tells this side's QEMU (x-colo-lost-heartbeat, and
 * announce-self on a secondary), so the promoted guest's first frames
 * find the filters already passing them (colo/colo.c).  When messages come back it emits
 * COLO_HEARTBEAT_RESTORED; there is no automatic failback (a pair that
 * has failed over must be rebuilt by the operator, as in QEMU).
 *
 * A loss is only declared after the peer has been heard at least once
 * (state "waiting" until then), so starting one side before the other
 * never fails anything over.  A closed connection alone is not a loss:
 * only silence for 'timeout' ms is, so a client that reconnects within
 * the timeout causes nothing.
 *
 * Garbage from the peer (a framing error, a message that is not a
 * heartbeat) is counted, logged rate-limited, and the connection is
 * dropped so that the client side reconnects on a frame boundary.
 *
 * The heartbeat of a pair means "this pair's primary side is alive": the
 * colo-proxy AND its QEMU.  In a process serving several pairs the
 * colo-proxy outlives one pair's QEMU, so on a primary whose colo-frame
 * has driver=qemu the heartbeat also watches that driver: when QEMU's
 * QMP connection ended and 'qemu-gone-after' connect rounds in a row
 * (default 2, the first and the last at least one interval apart) found
 * no listener at its address (ECONNREFUSED, or ENOENT for a removed unix
 * socket: the QEMU process exited; a timeout or a QEMU that still
 * accepts is no evidence), the QEMU is declared gone: COLO_QEMU_GONE,
 * this side's pair fails over (reason "error": COLO ends for it here, no
 * checkpoint is asked again, a restarted QEMU is told
 * x-colo-lost-heartbeat rather than served as the COLO primary), and
 * from then on every message to the peer is "COLO_HEARTBEAT_QEMU_GONE
 * <seq>" instead of "COLO_HEARTBEAT <seq>".  A peer that knows it
 * declares the loss at once (COLO_HEARTBEAT_LOST reason "qemu-gone") and
 * fails its side over through the same path as a timeout; an older peer
 * counts it as bad, drops the connection and, hearing no heartbeat,
 * fails over when its timeout expires -- the same outcome, later.  The
 * declaration holds until the pair is rebuilt (COLO enabled again on
 * this side, its QEMU answering).
 *
 * Threads: everything runs in the main context (the chardev's I/O, the
 * timer, the COLO frame calls).  Neighbours: chardev/ (the link), colo.c
 * (colo_failover), monitor/ (events, query-colo-heartbeat).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "chardev/char.h"
#include "colo/colo.h"
#include "colo/colo-internal.h"
#include "util/qmp-handler.h"
#include "net/link-framing.h"
#include "net/link-msg.h"
#include "qom/object.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/log.h"

#define HB_MAX_MSG LINK_HB_MAX_MSG     /* largest payload accepted */
#define HB_INTERVAL_DEFAULT 100u        /* ms */
#define HB_TIMEOUT_DEFAULT 1000u        /* ms */
#define HB_QEMU_GONE_AFTER_DEFAULT 2u   /* refused connect rounds */

typedef enum {
    HB_STATE_WAITING,          /* the peer was never heard */
    HB_STATE_ALIVE,            /* heard within the timeout */
    HB_STATE_LOST,             /* silent for longer than the timeout */
} HbState;

static const char *const hb_state_names[] = { "waiting", "alive", "lost" };

typedef struct HbStats {
    uint64_t sent;             /* heartbeats queued to the peer */
    uint64_t send_errors;      /* not queued: unconnected or buffer full */
    uint64_t received;         /* valid heartbeats received */
    uint64_t bad;              /* framing errors and non-heartbeat messages */
    uint64_t out_of_order;     /* sequence numbers not above the last one */
    uint64_t losses;           /* COLO_HEARTBEAT_LOST emitted */
    uint64_t restores;         /* COLO_HEARTBEAT_RESTORED emitted */
    uint64_t failovers;        /* failovers this object triggered */
    uint64_t failover_errors;  /* colo_failover() refused */
    uint64_t connects;
    uint64_t disconnects;
    uint64_t qemu_gone;        /* COLO_QEMU_GONE emitted (this side) */
    uint64_t gone_sent;        /* COLO_HEARTBEAT_QEMU_GONE messages sent */
    uint64_t peer_gone;        /* ... received: the peer's QEMU is gone */
} HbStats;

#define COLO_TYPE_HEARTBEAT (colo_heartbeat_get_type())
G_DECLARE_FINAL_TYPE(ColoHeartbeat, colo_heartbeat, COLO, HEARTBEAT,
                     UserObject)

struct _ColoHeartbeat {
    UserObject parent;

    /* properties */
    char *chardev;
    guint interval_ms;
    guint timeout_ms;
    gboolean failover;
    char *frame;               /* frame=: its VM pair (NULL: the default) */
    guint qemu_gone_after;     /* refused connect rounds; 0: never */

    /* state (main context) */
    CharFrontend fe;
    LinkReader reader;
    gboolean reader_ready;
    guint timer;               /* interval timer, 0 when stopped */
    guint timer_interval;      /* the interval 'timer' was armed with */
    HbState state;
    uint64_t seq_out;          /* last sequence number sent */
    uint64_t seq_in;           /* last sequence number received */
    int64_t last_rx_us;        /* monotonic time of the last valid message */
    int64_t lost_at_us;        /* monotonic time the loss was declared */
    gboolean qemu_gone;        /* this side's QEMU declared gone */
    HbStats stats;
};

G_DEFINE_FINAL_TYPE(ColoHeartbeat, colo_heartbeat, USER_TYPE_OBJECT)

static const char *hb_id(ColoHeartbeat *hb)
{
    return user_object_get_id(USER_OBJECT(hb));
}

/* ------------------------------------------------------------------ */
/* Loss and restore.                                                   */

/* 'reason': "timeout" (silence), or "qemu-gone" (the peer said its
 * QEMU is gone). */
static void hb_declare_lost(ColoHeartbeat *hb, int64_t now,
                            const char *reason)
{
    JsonObject *data = json_object_new();
    int64_t since_ms = hb->last_rx_us ? (now - hb->last_rx_us) / 1000 : -1;
    GError *err = NULL;

    hb->state = HB_STATE_LOST;
    hb->lost_at_us = now;
    hb->stats.losses++;
    if (g_str_equal(reason, "timeout")) {
        g_warning("colo-heartbeat '%s': peer silent for %" PRId64
                  " ms: lost%s", hb_id(hb), since_ms,
                  hb->failover ? ", failing over" : "");
    } else {
        g_warning("colo-heartbeat '%s': the peer's QEMU is gone: lost%s",
                  hb_id(hb), hb->failover ? ", failing over" : "");
    }
    json_object_set_string_member(data, "id", hb_id(hb));
    json_object_set_int_member(data, "since-ms", since_ms);
    json_object_set_boolean_member(data, "failover", hb->failover);
    json_object_set_string_member(data, "reason", reason);
    if (hb->frame && *hb->frame) {
        json_object_set_string_member(data, "frame", hb->frame);
    }
    qmp_event_emit("COLO_HEARTBEAT_LOST", data);

    if (!hb->failover) {
        return;
    }
    /* its own pair, resolved now: the frame may have been created after
     * the heartbeat (objects other than filters come in command-line
     * order, system/main.c) */
    ColoFrameState *fs = colo_frame_for_qmp(hb->frame && *hb->frame
                                            ? hb->frame : NULL, &err);

    if (fs && colo_fs_failover(fs, COLO_EXIT_REASON_REQUEST, TRUE, &err)) {
        hb->stats.failovers++;
    } else {
        hb->stats.failover_errors++;
        g_warning("colo-heartbeat '%s': failover: %s", hb_id(hb),
                  err->message);
        g_error_free(err);
    }
}

static void hb_peer_heard(ColoHeartbeat *hb, uint64_t seq)
{
    int64_t now = g_get_monotonic_time();

    if (seq <= hb->seq_in && hb->stats.received) {
        /* The peer restarted (its counter begins at 1 again); count it,
         * it is still alive. */
        hb->stats.out_of_order++;
    }
    hb->seq_in = seq;
    hb->stats.received++;
    hb->last_rx_us = now;
    if (hb->state == HB_STATE_LOST) {
        JsonObject *data = json_object_new();

        hb->stats.restores++;
        g_message("colo-heartbeat '%s': peer heard again after %" PRId64
                  " ms (no automatic failback)", hb_id(hb),
                  (now - hb->lost_at_us) / 1000);
        json_object_set_string_member(data, "id", hb_id(hb));
        json_object_set_int_member(data, "lost-ms",
                                   (now - hb->lost_at_us) / 1000);
        if (hb->frame && *hb->frame) {
            json_object_set_string_member(data, "frame", hb->frame);
        }
        qmp_event_emit("COLO_HEARTBEAT_RESTORED", data);
    } else if (hb->state == HB_STATE_WAITING) {
        g_message("colo-heartbeat '%s': peer heard", hb_id(hb));
    }
    hb->state = HB_STATE_ALIVE;
}

/* The peer says its QEMU is gone: positive evidence, acted on at once
 * (a timeout would only say the same later).  Repeats change nothing. */
static void hb_peer_gone(ColoHeartbeat *hb, uint64_t seq)
{
    hb->stats.peer_gone++;
    hb->seq_in = seq;
    if (hb->state != HB_STATE_LOST) {
        hb_declare_lost(hb, g_get_monotonic_time(), "qemu-gone");
    }
}

/*
 * This side's QEMU (a primary's colo-frame driver=qemu) is gone: its QMP
 * connection ended and 'qemu-gone-after' connect rounds in a row, over at
 * least one interval, found no listener.  Then COLO_QEMU_GONE, this
 * pair's side fails over (reason "error"), and the peer is told at every
 * tick.  TRUE while the declaration holds (until the pair is rebuilt:
 * COLO enabled again on this side and its QEMU answering).
 */
static gboolean hb_check_qemu_gone(ColoHeartbeat *hb, int64_t now)
{
    ColoFrameState *fs;
    ColoFrame *f;
    JsonObject *data;
    GError *err = NULL;
    int64_t first_us = 0;
    guint refused;

    fs = colo_frame_for_qmp(hb->frame && *hb->frame ? hb->frame : NULL,
                            &err);
    if (!fs) {
        g_error_free(err);
        return hb->qemu_gone;
    }
    f = colo_fs_object(fs);
    if (hb->qemu_gone) {
        /* rebuilt: in COLO again with a QEMU that answers (a failover
         * refused, e.g. by colo-quorum, leaves the mode but not the
         * refusals: still gone, not declared again) */
        if (colo_fs_mode(fs) != COLO_MODE_NONE &&
            colo_frame_qemu_refused(f, &first_us) == 0) {
            g_message("colo-heartbeat '%s': COLO enabled again: the pair "
                      "was rebuilt, heartbeats resume", hb_id(hb));
            hb->qemu_gone = FALSE;
        }
        return hb->qemu_gone;
    }
    if (!hb->qemu_gone_after || colo_fs_mode(fs) != COLO_MODE_PRIMARY ||
        colo_frame_driver(f) != COLO_FRAME_DRIVER_QEMU) {
        return FALSE;
    }
    refused = colo_frame_qemu_refused(f, &first_us);
    if (refused < hb->qemu_gone_after ||
        (hb->qemu_gone_after > 1 &&
         now - first_us < (int64_t) hb->interval_ms * 1000)) {
        return FALSE;
    }

    hb->qemu_gone = TRUE;
    hb->stats.qemu_gone++;
    g_warning("colo-heartbeat '%s': this side's QEMU is gone (%u connect "
              "rounds to its QMP found no listener): failing this side "
              "over and telling the peer", hb_id(hb), refused);
    data = json_object_new();
    json_object_set_string_member(data, "id", hb_id(hb));
    json_object_set_int_member(data, "refused", refused);
    json_object_set_int_member(data, "since-ms", (now - first_us) / 1000);
    if (hb->frame && *hb->frame) {
        json_object_set_string_member(data, "frame", hb->frame);
    }
    qmp_event_emit("COLO_QEMU_GONE", data);
    /* COLO is over for this pair here: nothing is compared or
     * checkpointed any more, and a QEMU restarted at that address is
     * told x-colo-lost-heartbeat, not driven as the COLO primary */
    if (!colo_fs_failover(fs, COLO_EXIT_REASON_ERROR, TRUE, &err)) {
        hb->stats.failover_errors++;
        g_warning("colo-heartbeat '%s': failover: %s", hb_id(hb),
                  err->message);
        g_error_free(err);
    } else {
        hb->stats.failovers++;
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* The link.                                                           */

static void hb_frame(void *opaque, const uint8_t *buf, uint32_t len,
                     uint32_t vnet_hdr_len)
{
    ColoHeartbeat *hb = opaque;
    uint64_t seq;

    if (!link_hb_parse(buf, len, &seq)) {
        if (link_hb_gone_parse(buf, len, &seq)) {
            hb_peer_gone(hb, seq);
            return;
        }
        hb->stats.bad++;
        LOG_WARN_RL("colo-heartbeat '%s': %u-byte message from the peer "
                     "is not a heartbeat; dropping the connection",
                     hb_id(hb), len);
        link_reader_reset(&hb->reader);
        chr_fe_disconnect(&hb->fe);
        return;
    }
    hb_peer_heard(hb, seq);
}

static void hb_read(void *opaque, const uint8_t *buf, size_t len)
{
    ColoHeartbeat *hb = opaque;
    GError *err = NULL;

    if (link_reader_feed(&hb->reader, buf, len, hb_frame, hb, &err)
        != LINK_OK) {
        hb->stats.bad++;
        LOG_WARN_RL("colo-heartbeat '%s': %s; dropping the connection",
                     hb_id(hb), err->message);
        g_error_free(err);
        chr_fe_disconnect(&hb->fe);
    }
}

static void hb_event(void *opaque, ChrEvent event)
{
    ColoHeartbeat *hb = opaque;

    link_reader_reset(&hb->reader);
    if (event == CHR_EVENT_OPENED) {
        hb->stats.connects++;
    } else {
        hb->stats.disconnects++;
    }
}

static void hb_send(ColoHeartbeat *hb, gboolean gone)
{
    char msg[HB_MAX_MSG];
    uint8_t hdr[LINK_HDR_MAX];
    struct iovec iov[2];
    int n;

    if (gone) {
        n = (int) link_hb_gone_format(msg, hb->seq_out + 1);
    } else {
        n = (int) link_hb_format(msg, hb->seq_out + 1);
    }
    iov[0].iov_base = hdr;
    iov[0].iov_len = link_header(hdr, (uint32_t) n, false, 0);
    iov[1].iov_base = msg;
    iov[1].iov_len = (size_t) n;
    if (chr_fe_write(&hb->fe, iov, 2) < 0) {
        hb->stats.send_errors++;   /* no peer yet, or it does not read */
        return;
    }
    hb->seq_out++;
    hb->stats.sent++;
    if (gone) {
        hb->stats.gone_sent++;
    }
}

static void hb_arm_timer(ColoHeartbeat *hb);

static gboolean hb_tick(gpointer opaque)
{
    ColoHeartbeat *hb = opaque;
    int64_t now = g_get_monotonic_time();

    hb_send(hb, hb_check_qemu_gone(hb, now));
    if (hb->state == HB_STATE_ALIVE &&
        now - hb->last_rx_us > (int64_t) hb->timeout_ms * 1000) {
        hb_declare_lost(hb, now, "timeout");
    }
    if (hb->timer_interval != hb->interval_ms) {
        hb_arm_timer(hb);       /* qom-set changed the interval */
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void hb_arm_timer(ColoHeartbeat *hb)
{
    if (hb->timer) {
        g_source_remove(hb->timer);
    }
    hb->timer_interval = hb->interval_ms;
    hb->timer = g_timeout_add(hb->interval_ms, hb_tick, hb);
}

/* ------------------------------------------------------------------ */
/* Object life.                                                        */

static gboolean colo_heartbeat_complete(UserObject *obj, GError **errp)
{
    ColoHeartbeat *hb = COLO_HEARTBEAT(obj);

    if (!hb->chardev || !*hb->chardev) {
        error_setg(errp, "Parameter 'chardev' is missing");
        return FALSE;
    }
    if (hb->timeout_ms < hb->interval_ms * 2) {
        error_setg(errp, "colo-heartbeat: timeout (%u ms) must be at least "
                   "twice the interval (%u ms)", hb->timeout_ms,
                   hb->interval_ms);
        return FALSE;
    }
    if (!chr_fe_init(&hb->fe, hb->chardev, hb_id(hb), errp)) {
        return FALSE;
    }
    link_reader_init(&hb->reader, false, HB_MAX_MSG);
    hb->reader_ready = TRUE;
    chr_fe_set_handlers(&hb->fe, hb_read, hb_event, NULL, hb, NULL);
    hb_arm_timer(hb);
    return TRUE;
}

static void colo_heartbeat_stop(ColoHeartbeat *hb)
{
    if (hb->timer) {
        g_source_remove(hb->timer);
        hb->timer = 0;
    }
    chr_fe_deinit(&hb->fe);
    if (hb->reader_ready) {
        link_reader_destroy(&hb->reader);
        hb->reader_ready = FALSE;
    }
}

static void colo_heartbeat_unparent(UserObject *obj)
{
    colo_heartbeat_stop(COLO_HEARTBEAT(obj));
}

static void colo_heartbeat_finalize(GObject *o)
{
    ColoHeartbeat *hb = COLO_HEARTBEAT(o);

    colo_heartbeat_stop(hb);
    G_OBJECT_CLASS(colo_heartbeat_parent_class)->finalize(o);
}

/* Once running, interval and timeout stay consistent (complete() checks
 * the pair it starts with). */
static gboolean colo_heartbeat_interval_check(UserObject *obj,
                                              const GValue *value,
                                              GError **errp)
{
    ColoHeartbeat *hb = COLO_HEARTBEAT(obj);
    guint v = g_value_get_uint(value);

    if (user_object_is_complete(obj) && hb->timeout_ms < v * 2) {
        error_setg(errp, "colo-heartbeat: interval %u ms is more than "
                   "half the timeout (%u ms)", v, hb->timeout_ms);
        return FALSE;
    }
    return TRUE;
}

static gboolean colo_heartbeat_timeout_check(UserObject *obj,
                                             const GValue *value,
                                             GError **errp)
{
    ColoHeartbeat *hb = COLO_HEARTBEAT(obj);
    guint v = g_value_get_uint(value);

    if (user_object_is_complete(obj) && v < hb->interval_ms * 2) {
        error_setg(errp, "colo-heartbeat: timeout %u ms is less than "
                   "twice the interval (%u ms)", v, hb->interval_ms);
        return FALSE;
    }
    return TRUE;
}

static const PropDef colo_heartbeat_props[] = {
    DEFINE_PROP_STR("chardev", ColoHeartbeat, chardev, NULL, PROP_REQUIRED,
        "socket chardev joined to the peer's colo-heartbeat (one side "
        "server=on, the other a client with reconnect=N)"),
    DEFINE_PROP_UINT("interval", ColoHeartbeat, interval_ms,
        10, 60 * 1000, HB_INTERVAL_DEFAULT, PROP_RUNTIME,
        "milliseconds between two heartbeats sent",
        .check = colo_heartbeat_interval_check),
    DEFINE_PROP_UINT("timeout", ColoHeartbeat, timeout_ms,
        20, 3600 * 1000, HB_TIMEOUT_DEFAULT, PROP_RUNTIME,
        "milliseconds without a heartbeat from the peer after which it is "
        "lost (COLO_HEARTBEAT_LOST); at least twice the interval",
        .check = colo_heartbeat_timeout_check),
    DEFINE_PROP_STR("frame", ColoHeartbeat, frame, NULL, PROP_RUNTIME,
        "id of the colo-frame (VM pair) a loss fails over; default: the "
        "only colo-frame"),
    DEFINE_PROP_BOOL("failover", ColoHeartbeat, failover, FALSE, PROP_RUNTIME,
        "on loss, fail this side over as x-colo-lost-heartbeat does "
        "(COLO_EXIT reason 'request')"),
    DEFINE_PROP_UINT("qemu-gone-after", ColoHeartbeat, qemu_gone_after,
        0, 100, HB_QEMU_GONE_AFTER_DEFAULT, PROP_RUNTIME,
        "on a primary with colo-frame driver=qemu: this many connect "
        "rounds in a row (over at least one interval) finding no listener "
        "at QEMU's QMP address after its session ended mean its QEMU is "
        "gone: COLO_QEMU_GONE, this side fails over, the peer is told at "
        "once (COLO_HEARTBEAT_QEMU_GONE); 0: never"),
};

static void colo_heartbeat_init(ColoHeartbeat *hb)
{
    /* the properties start at their defaults (colo_heartbeat_props) */
}

static void colo_heartbeat_class_init(ColoHeartbeatClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);

    oc->finalize = colo_heartbeat_finalize;
    uc->description = "liveness of the peer colo-proxy over a socket "
                      "chardev; optional failover when it is lost";
    uc->complete = colo_heartbeat_complete;
    uc->unparent = colo_heartbeat_unparent;

    object_class_install_props(oc, colo_heartbeat_props);
}

static void colo_heartbeat_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "colo-heartbeat",
                         COLO_TYPE_HEARTBEAT);
}
type_init(colo_heartbeat_register)

/* ------------------------------------------------------------------ */
/* QMP (qapi/heartbeat.json).  Here rather than in a *-qmp.c file of   */
/* monitor/ because the object's state is private to this file.        */

/* query-colo-heartbeat: main context; FALSE with errp (DeviceNotFound)
 * when 'id' names no colo-heartbeat.  *ret is a new array node. */
gboolean qmp_query_colo_heartbeat(JsonObject *args, JsonNode **ret,
                                  GError **errp);

static JsonObject *hb_info(ColoHeartbeat *hb)
{
    JsonObject *o = json_object_new();
    int64_t now = g_get_monotonic_time();

    json_object_set_string_member(o, "id", hb_id(hb));
    json_object_set_string_member(o, "chardev", hb->chardev);
    json_object_set_string_member(o, "state", hb_state_names[hb->state]);
    json_object_set_boolean_member(o, "connected",
                                   chr_fe_is_connected(&hb->fe));
    json_object_set_int_member(o, "interval", hb->interval_ms);
    json_object_set_int_member(o, "timeout", hb->timeout_ms);
    json_object_set_boolean_member(o, "failover", hb->failover);
    json_object_set_int_member(o, "since-ms", hb->last_rx_us
                               ? (now - hb->last_rx_us) / 1000 : -1);
    json_object_set_int_member(o, "seq-sent", (gint64) hb->seq_out);
    json_object_set_int_member(o, "seq-received", (gint64) hb->seq_in);
    json_object_set_int_member(o, "sent", (gint64) hb->stats.sent);
    json_object_set_int_member(o, "send-errors",
                               (gint64) hb->stats.send_errors);
    json_object_set_int_member(o, "received", (gint64) hb->stats.received);
    json_object_set_int_member(o, "bad", (gint64) hb->stats.bad);
    json_object_set_int_member(o, "out-of-order",
                               (gint64) hb->stats.out_of_order);
    json_object_set_int_member(o, "losses", (gint64) hb->stats.losses);
    json_object_set_int_member(o, "restores", (gint64) hb->stats.restores);
    json_object_set_int_member(o, "failovers", (gint64) hb->stats.failovers);
    json_object_set_int_member(o, "failover-errors",
                               (gint64) hb->stats.failover_errors);
    json_object_set_int_member(o, "connects", (gint64) hb->stats.connects);
    json_object_set_int_member(o, "disconnects",
                               (gint64) hb->stats.disconnects);
    json_object_set_int_member(o, "qemu-gone-after", hb->qemu_gone_after);
    json_object_set_boolean_member(o, "qemu-gone", hb->qemu_gone);
    json_object_set_int_member(o, "qemu-gone-declared",
                               (gint64) hb->stats.qemu_gone);
    json_object_set_int_member(o, "gone-sent", (gint64) hb->stats.gone_sent);
    json_object_set_int_member(o, "peer-gone", (gint64) hb->stats.peer_gone);
    return o;
}

gboolean qmp_query_colo_heartbeat(JsonObject *args, JsonNode **ret,
                                  GError **errp)
{
    const char *id = NULL;
    JsonArray *arr;
    GList *objs, *l;
    gboolean found = FALSE;

    if (!qmp_arg_str(args, "id", FALSE, &id, errp)) {
        return FALSE;
    }
    arr = json_array_new();
    objs = user_object_list(OBJECT_KIND_OBJECT);
    for (l = objs; l; l = l->next) {
        if (!COLO_IS_HEARTBEAT(l->data) ||
            (id && !g_str_equal(id, hb_id(l->data)))) {
            continue;
        }
        found = TRUE;
        json_array_add_object_element(arr, hb_info(l->data));
    }
    g_list_free(objs);
    if (id && !found) {
        json_array_unref(arr);
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "colo-heartbeat '%s' not found", id);
        return FALSE;
    }
    *ret = json_node_init_array(json_node_alloc(), arr);
    json_array_unref(arr);
    return TRUE;
}
