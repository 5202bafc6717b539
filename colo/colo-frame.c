/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colo/colo-frame.c - the "colo-frame" object, which switches the frame on
 * and configures it:
 *
 *   -object colo-frame,id=colo0,mode=primary,driver=event
 *   -object colo-frame,id=colo0,mode=primary,driver=exec,exec="/usr/local/bin/ckpt"
 *   -object colo-frame,id=colo0,mode=secondary
 *
 * One per VM pair: a process may serve several pairs, each with its own
 * colo-frame, and the COLO objects of a pair name theirs with frame=
 * (optional while there is only one; docs/devel/decisions.md).
 * Deleting it turns that pair's frame off (mode none).
 *
 * Failover reconfiguration: QEMU's COLO docs have the operator object-del
 * the proxy filters around x-colo-lost-heartbeat; with failover-filters=on
 * (the default) the filters do the equivalent themselves by switching off
 * (status=off), which leaves them in place for inspection.  The frame only
 * tells them the side that fails over (netfilter_notify_colo_event(), colo.c);
 * what each filter does is its own handle_event()'s business
 * (include/net/filter.h).
 */
#include "colo/colo-internal.h"
#include "qom/props.h"
#include "util/error.h"

struct _ColoFrame {
    UserObject parent;
    ColoMode mode;
    ColoFrameDriver driver;
    char *exec;
    char *qemu_qmp;
    guint min_interval_ms;
    guint checkpoint_timeout_ms;
    gboolean failover_filters;
    gboolean input_lost_failover;
    ColoFrameState *fs;         /* while bound (colo/colo.c) */
    QemuDriver *qemu;           /* driver=qemu: its own (colo-qemu.c) */
};

G_DEFINE_FINAL_TYPE(ColoFrame, colo_frame, USER_TYPE_OBJECT)

#define MIN_INTERVAL_DEFAULT 100        /* ms between checkpoint starts */
#define CKPT_TIMEOUT_DEFAULT 10000      /* ms for a checkpoint to commit */

static GType colo_mode_get_type(void)
{
    static GType type;
    static const GEnumValue values[] = {
        { COLO_MODE_NONE, "COLO_MODE_NONE", "none" },
        { COLO_MODE_PRIMARY, "COLO_MODE_PRIMARY", "primary" },
        { COLO_MODE_SECONDARY, "COLO_MODE_SECONDARY", "secondary" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type, g_enum_register_static("COLOMode", values));
    }
    return type;
}

static GType colo_input_lost_get_type(void)
{
    static GType type;
    static const GEnumValue values[] = {
        { FALSE, "COLO_INPUT_LOST_CHECKPOINT", "checkpoint" },
        { TRUE, "COLO_INPUT_LOST_FAILOVER", "failover" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type,
                          g_enum_register_static("ColoInputLostPolicy", values));
    }
    return type;
}

static GType colo_frame_driver_get_type(void)
{
    static GType type;
    static const GEnumValue values[] = {
        { COLO_FRAME_DRIVER_EVENT, "COLO_FRAME_DRIVER_EVENT", "event" },
        { COLO_FRAME_DRIVER_EXEC, "COLO_FRAME_DRIVER_EXEC", "exec" },
        { COLO_FRAME_DRIVER_QEMU, "COLO_FRAME_DRIVER_QEMU", "qemu" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type,
                          g_enum_register_static("ColoFrameDriver", values));
    }
    return type;
}

ColoFrameDriver colo_frame_driver(ColoFrame *f)
{
    return f ? f->driver : COLO_FRAME_DRIVER_EVENT;
}

const char *colo_frame_driver_name(ColoFrameDriver d)
{
    switch (d) {
    case COLO_FRAME_DRIVER_EVENT:
        return "event";
    case COLO_FRAME_DRIVER_EXEC:
        return "exec";
    case COLO_FRAME_DRIVER_QEMU:
        return "qemu";
    }
    return "?";
}

const char *colo_frame_exec_command(ColoFrame *f)
{
    return f ? f->exec : NULL;
}

gboolean colo_frame_input_lost_failover(ColoFrame *f)
{
    return f ? f->input_lost_failover : FALSE;
}

unsigned colo_frame_min_interval_ms(ColoFrame *f)
{
    return f ? f->min_interval_ms : MIN_INTERVAL_DEFAULT;
}

unsigned colo_frame_checkpoint_timeout_ms(ColoFrame *f)
{
    return f ? f->checkpoint_timeout_ms : CKPT_TIMEOUT_DEFAULT;
}

/* The frame serves the COLO filters of net/ through the hooks they own
 * (include/net/colo-hooks.h): linking this library connects them, before
 * main() runs. */
static const ColoHooks frame_hooks = {
    .add_listener = colo_frame_add_listener,
    .remove_listener = colo_frame_remove_listener,
    .request_checkpoint = colo_frame_request_checkpoint,
    .bind_check = colo_frame_bind_check_impl,
};

static void __attribute__((constructor)) colo_frame_hooks_init(void)
{
    colo_hooks_register(&frame_hooks);
}

gboolean colo_frame_failover_filters(ColoFrame *f)
{
    return f ? f->failover_filters : TRUE;
}

ColoFrameState *colo_frame_get_state(ColoFrame *f)
{
    return f->fs;
}

QemuDriver *colo_frame_qemu_driver(ColoFrame *f)
{
    return f->qemu;
}

void colo_frame_set_qemu_driver(ColoFrame *f, QemuDriver *d)
{
    f->qemu = d;
}

void colo_frame_test_bind(ColoFrame *f, ColoMode mode)
{
    f->fs = colo_frame_attach(f, mode);
}

void colo_frame_test_unbind(ColoFrame *f)
{
    colo_frame_detach(g_steal_pointer(&f->fs));
}

static gboolean colo_frame_complete(UserObject *obj, GError **errp)
{
    ColoFrame *f = COLO_FRAME(obj);

    if (!colo_frame_attach_check(f, errp)) {
        return FALSE;
    }
    if (f->driver == COLO_FRAME_DRIVER_EXEC && (!f->exec || !*f->exec)) {
        error_setg(errp, "colo-frame driver 'exec' needs the 'exec' property");
        return FALSE;
    }
    if (f->driver == COLO_FRAME_DRIVER_QEMU && (!f->qemu_qmp || !*f->qemu_qmp)) {
        error_setg(errp, "colo-frame driver 'qemu' needs the 'qemu-qmp' property");
        return FALSE;
    }
    f->fs = colo_frame_attach(f, f->mode);
    colo_frame_qemu_attach(f);
    return TRUE;
}

static void colo_frame_unparent(UserObject *obj)
{
    ColoFrame *f = COLO_FRAME(obj);

    colo_frame_qemu_detach(f);
    colo_frame_detach(g_steal_pointer(&f->fs));
}

static void colo_frame_finalize(GObject *o)
{
    ColoFrame *f = COLO_FRAME(o);

    colo_frame_qemu_detach(f);
    colo_frame_detach(g_steal_pointer(&f->fs));
    G_OBJECT_CLASS(colo_frame_parent_class)->finalize(o);
}

/* The registered frame reports the live mode (failover changes it). */
static void colo_frame_mode_get(UserObject *obj, GValue *v)
{
    ColoFrame *f = COLO_FRAME(obj);

    g_value_set_enum(v, f->fs ? colo_fs_mode(f->fs) : f->mode);
}

static const PropDef colo_frame_props[] = {
    DEFINE_PROP_ENUM("mode", ColoFrame, mode, colo_mode_get_type,
        COLO_MODE_NONE, PROP_REQUIRED,
        "this side's COLO role (none, primary, secondary)",
        .get = colo_frame_mode_get),
    DEFINE_PROP_ENUM("driver", ColoFrame, driver, colo_frame_driver_get_type,
        COLO_FRAME_DRIVER_EVENT, 0,
        "how a checkpoint is taken: event (QMP event "
        "COLO_CHECKPOINT_REQUEST, completed by x-colo-checkpoint-done), exec "
        "(run 'exec'), qemu (drive QEMU's COLO through 'qemu-qmp')"),
    DEFINE_PROP_STR("exec", ColoFrame, exec, NULL, 0,
        "command run for each checkpoint (driver=exec); exit status 0 means "
        "committed; COLO_CHECKPOINT_ID/REASON/SOURCE are in its environment"),
    DEFINE_PROP_STR("qemu-qmp", ColoFrame, qemu_qmp, NULL, 0,
        "QMP socket of the QEMU whose COLO this frame drives (driver=qemu): "
        "unix:PATH or tcp:HOST:PORT"),
    DEFINE_PROP_UINT("min-interval", ColoFrame, min_interval_ms,
        0, 3600 * 1000, MIN_INTERVAL_DEFAULT, PROP_RUNTIME,
        "minimum milliseconds between the starts of two checkpoints"),
    DEFINE_PROP_UINT("checkpoint-timeout", ColoFrame, checkpoint_timeout_ms,
        1, 3600 * 1000, CKPT_TIMEOUT_DEFAULT, PROP_RUNTIME,
        "milliseconds a checkpoint may take before it counts as failed and "
        "is retried"),
    DEFINE_PROP_BOOL("failover-filters", ColoFrame, failover_filters, TRUE,
        PROP_RUNTIME,
        "on failover, switch the COLO filters off as QEMU's docs do by hand"),
    DEFINE_PROP_ENUM("input-lost", ColoFrame, input_lost_failover,
        colo_input_lost_get_type, FALSE, PROP_RUNTIME,
        "when a filter-mirror could not deliver input to the secondary: "
        "checkpoint (request a checkpoint once its link delivers again) or "
        "failover (give the secondary up and run the primary alone)"),
};

static void colo_frame_init(ColoFrame *f)
{
    /* the properties start at their defaults (colo_frame_props) */
}

static void colo_frame_class_init(ColoFrameClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);

    oc->finalize = colo_frame_finalize;
    uc->description = "the in-process COLO frame: mode, checkpoint driver";
    uc->complete = colo_frame_complete;
    uc->unparent = colo_frame_unparent;

    object_class_install_props(oc, colo_frame_props);
}

static void colo_frame_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "colo-frame", COLO_TYPE_FRAME);
}
type_init(colo_frame_register)
