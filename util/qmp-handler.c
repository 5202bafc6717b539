/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/qmp-handler.c - argument access for QMP handlers and the event
 * sink (contract in include/util/qmp-handler.h).
 *
 * Kept below the monitor so that the modules owning the data serve QMP
 * and emit events without linking the monitor.
 */
#include "util/error.h"
#include "util/qmp-handler.h"
#include "util/qmp-json.h"

/* Set once at start-up (a constructor), read from any thread. */
static QmpEventSinkFn event_sink;

void qmp_event_set_sink(QmpEventSinkFn fn)
{
    g_atomic_pointer_set(&event_sink, fn);
}

void qmp_event_emit(const char *name, JsonObject *data)
{
    QmpEventSinkFn fn = g_atomic_pointer_get(&event_sink);

    if (fn) {
        fn(name, data);
    } else if (data) {
        json_object_unref(data);
    }
}

/* The monitor's argument getters: QMP's own wording for its errors. */
gboolean qmp_arg_str(JsonObject *args, const char *name, gboolean required,
                     const char **out, GError **errp)
{
    return qmp_json_get(args, name, required, QMP_JSON_STRING,
                        QMP_JSON_PARAMETER, out, errp);
}

gboolean qmp_arg_bool(JsonObject *args, const char *name, gboolean required,
                      gboolean *out, GError **errp)
{
    return qmp_json_get(args, name, required, QMP_JSON_BOOL,
                        QMP_JSON_PARAMETER, out, errp);
}

gboolean qmp_arg_int(JsonObject *args, const char *name, gboolean required,
                     gint64 *out, GError **errp)
{
    return qmp_json_get(args, name, required, QMP_JSON_INT,
                        QMP_JSON_PARAMETER, out, errp);
}
