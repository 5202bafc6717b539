/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colo/colo-qmp.c - QMP commands of the COLO frame (qapi/colo.json).
 */
#include "colo/colo-internal.h"
#include "net/compare-storm.h"
#include "util/qmp-handler.h"
#include "util/error.h"

gboolean qmp_query_colo_status(JsonObject *args, JsonNode **ret,
                               GError **errp);
gboolean qmp_x_colo_lost_heartbeat(JsonObject *args, JsonNode **ret,
                                   GError **errp);
gboolean qmp_x_colo_checkpoint(JsonObject *args, JsonNode **ret,
                               GError **errp);
gboolean qmp_x_colo_checkpoint_done(JsonObject *args, JsonNode **ret,
                                    GError **errp);
gboolean qmp_query_colo_stats(JsonObject *args, JsonNode **ret,
                              GError **errp);
gboolean qmp_xen_colo_do_checkpoint(JsonObject *args, JsonNode **ret,
                                    GError **errp);

/* The pair a command addresses: its optional 'frame' argument, or the
 * only one (colo/colo.c: without a colo-frame, the frame-less state). */
static ColoFrameState *arg_frame(JsonObject *args, GError **errp)
{
    const char *id = NULL;

    if (!qmp_arg_str(args, "frame", FALSE, &id, errp)) {
        return NULL;
    }
    return colo_frame_for_qmp(id, errp);
}

gboolean qmp_query_colo_status(JsonObject *args, JsonNode **ret,
                               GError **errp)
{
    ColoFrameState *fs = arg_frame(args, errp);
    JsonObject *o;

    if (!fs) {
        return FALSE;
    }
    o = json_object_new();
    json_object_set_string_member(o, "mode", colo_mode_name(colo_fs_mode(fs)));
    json_object_set_string_member(o, "last-mode",
                                  colo_mode_name(colo_fs_last_mode(fs)));
    json_object_set_string_member(o, "reason",
                                  colo_exit_reason_name(colo_fs_exit_reason(fs)));
    if (colo_fs_named(fs)) {
        json_object_set_string_member(o, "frame", colo_fs_id(fs));
    }
    if (colo_frame_qemu_error(colo_fs_object(fs))) {
        /* the qemu driver of this pair's frame */
        json_object_set_string_member(o, "qemu-error",
                                      colo_frame_qemu_error(colo_fs_object(fs)));
    }
    /* the pair's own colo-quorum (frame=), or the unbound one */
    colo_quorum_fill_status(colo_fs_id(fs), o);
    if (colo_compare_proxy_mode(colo_fs_id(fs))) {
        /* the checkpoint policy of this pair's colo-compares */
        json_object_set_string_member(o, "proxy-mode",
                                      colo_compare_proxy_mode(colo_fs_id(fs)));
    }
    *ret = json_node_init_object(json_node_alloc(), o);
    json_object_unref(o);
    return TRUE;
}

gboolean qmp_x_colo_lost_heartbeat(JsonObject *args, JsonNode **ret,
                                   GError **errp)
{
    ColoFrameState *fs = arg_frame(args, errp);

    return fs && colo_fs_failover(fs, COLO_EXIT_REASON_REQUEST, TRUE, errp);
}

gboolean qmp_x_colo_checkpoint(JsonObject *args, JsonNode **ret,
                               GError **errp)
{
    ColoFrameState *fs = arg_frame(args, errp);

    if (!fs) {
        return FALSE;
    }
    if (colo_fs_mode(fs) != COLO_MODE_PRIMARY) {
        error_setg(errp, "checkpoints are requested on the primary; "
                   "this side's COLO mode is '%s'",
                   colo_mode_name(colo_fs_mode(fs)));
        return FALSE;
    }
    colo_hooks_request_checkpoint_frame(colo_fs_id(fs), "qmp", COLO_CKPT_MANUAL,
                                  NULL);
    return TRUE;
}

gboolean qmp_x_colo_checkpoint_done(JsonObject *args, JsonNode **ret,
                                    GError **errp)
{
    gboolean ok = TRUE;
    const char *error = NULL;
    ColoFrameState *fs;

    if (!qmp_arg_bool(args, "ok", FALSE, &ok, errp) ||
        !qmp_arg_str(args, "error", FALSE, &error, errp)) {
        return FALSE;
    }
    fs = arg_frame(args, errp);
    if (!fs) {
        return FALSE;
    }
    if (colo_fs_mode(fs) == COLO_MODE_NONE) {
        colo_fs_not_enabled_error(fs, errp);
        return FALSE;
    }
    if (colo_fs_mode(fs) == COLO_MODE_PRIMARY && !colo_fs_in_flight(fs)) {
        error_setg(errp, "no checkpoint is in flight");
        return FALSE;
    }
    colo_fs_checkpoint_done(fs, ok, error);
    return TRUE;
}

gboolean qmp_query_colo_stats(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    ColoFrameState *fs = arg_frame(args, errp);
    const ColoStats *st;
    JsonObject *o;
    JsonObject *req;
    ColoFrame *f;
    unsigned i;

    if (!fs) {
        return FALSE;
    }
    st = colo_fs_stats(fs);
    f = colo_fs_object(fs);
    o = json_object_new();
    req = json_object_new();
    json_object_set_string_member(o, "mode", colo_mode_name(colo_fs_mode(fs)));
    json_object_set_string_member(o, "driver",
        colo_frame_driver_name(colo_frame_driver(f)));
    json_object_set_boolean_member(o, "in-flight", colo_fs_in_flight(fs));
    for (i = 0; i < COLO_CKPT__MAX; i++) {
        json_object_set_int_member(req, colo_checkpoint_reason_name(i),
                                   (gint64) st->requests[i]);
    }
    json_object_set_object_member(o, "requests", req);
    json_object_set_int_member(o, "coalesced", (gint64) st->coalesced);
    json_object_set_int_member(o, "ignored", (gint64) st->ignored);
    json_object_set_int_member(o, "started", (gint64) st->started);
    json_object_set_int_member(o, "completed", (gint64) st->completed);
    json_object_set_int_member(o, "unrequested", (gint64) st->unrequested);
    json_object_set_int_member(o, "failed", (gint64) st->failed);
    json_object_set_int_member(o, "timeouts", (gint64) st->timeouts);
    json_object_set_int_member(o, "failovers", (gint64) st->failovers);
    json_object_set_int_member(o, "input-lost", (gint64) st->input_lost);
    {
        Histogram snap = { 0 };

        if (st->duration.bounds_us) {
            histogram_snapshot(&st->duration, &snap);
        } else {
            snap.bounds_us = histogram_checkpoint_bounds_us;
            snap.n = histogram_checkpoint_n;
        }
        json_object_set_object_member(o, "checkpoint-duration",
                                      histogram_to_json(&snap));
    }
    if (colo_frame_driver(f) == COLO_FRAME_DRIVER_QEMU) {
        colo_frame_qemu_stats(f, o);
    }
    *ret = json_node_init_object(json_node_alloc(), o);
    json_object_unref(o);
    return TRUE;
}

gboolean qmp_xen_colo_do_checkpoint(JsonObject *args, JsonNode **ret,
                                    GError **errp)
{
    ColoFrameState *fs = arg_frame(args, errp);

    if (!fs) {
        return FALSE;
    }
    colo_fs_xen_checkpoint(fs);
    return TRUE;
}
