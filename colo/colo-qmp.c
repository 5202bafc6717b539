/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colo/colo-qmp.c - QMP commands of the COLO frame (qapi/colo.json).
 */
#include "colo/colo-internal.h"
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

gboolean qmp_query_colo_status(JsonObject *args, JsonNode **ret,
                               GError **errp)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "mode", colo_mode_name(colo_get_mode()));
    json_object_set_string_member(o, "last-mode",
                                  colo_mode_name(colo_get_last_mode()));
    json_object_set_string_member(o, "reason",
                                  colo_exit_reason_name(colo_get_exit_reason()));
    if (colo_frame_qemu_error()) {
        json_object_set_string_member(o, "qemu-error",
                                      colo_frame_qemu_error());
    }
    colo_quorum_fill_status(o);
    *ret = json_node_init_object(json_node_alloc(), o);
    json_object_unref(o);
    return TRUE;
}

gboolean qmp_x_colo_lost_heartbeat(JsonObject *args, JsonNode **ret,
                                   GError **errp)
{
    return colo_failover(COLO_EXIT_REASON_REQUEST, errp);
}

gboolean qmp_x_colo_checkpoint(JsonObject *args, JsonNode **ret,
                               GError **errp)
{
    if (colo_get_mode() != COLO_MODE_PRIMARY) {
        error_setg(errp, "checkpoints are requested on the primary; "
                   "this side's COLO mode is '%s'",
                   colo_mode_name(colo_get_mode()));
        return FALSE;
    }
    colo_request_checkpoint("qmp", COLO_CKPT_MANUAL, NULL);
    return TRUE;
}

gboolean qmp_x_colo_checkpoint_done(JsonObject *args, JsonNode **ret,
                                    GError **errp)
{
    gboolean ok = TRUE;
    const char *error = NULL;

    if (!qmp_arg_bool(args, "ok", FALSE, &ok, errp) ||
        !qmp_arg_str(args, "error", FALSE, &error, errp)) {
        return FALSE;
    }
    if (colo_get_mode() == COLO_MODE_NONE) {
        colo_not_enabled_error(errp);
        return FALSE;
    }
    if (colo_get_mode() == COLO_MODE_PRIMARY && !colo_checkpoint_in_flight()) {
        error_setg(errp, "no checkpoint is in flight");
        return FALSE;
    }
    colo_checkpoint_done(ok, error);
    return TRUE;
}

gboolean qmp_query_colo_stats(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    const ColoStats *st = colo_get_stats();
    JsonObject *o = json_object_new();
    JsonObject *req = json_object_new();
    ColoFrame *f = colo_frame_get();
    unsigned i;

    json_object_set_string_member(o, "mode", colo_mode_name(colo_get_mode()));
    json_object_set_string_member(o, "driver",
        colo_frame_driver_name(colo_frame_driver(f)));
    json_object_set_boolean_member(o, "in-flight", colo_checkpoint_in_flight());
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
        colo_frame_qemu_stats(o);
    }
    *ret = json_node_init_object(json_node_alloc(), o);
    json_object_unref(o);
    return TRUE;
}
