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

/*
 * The member 'name' of 'args' if it is a JSON scalar of 'type'.  Returns
 * FALSE with errp set if it is missing and 'required', or of another type;
 * TRUE with *node NULL if it is absent and optional.
 */
static gboolean qmp_arg_lookup(JsonObject *args, const char *name,
                               gboolean required, QmpJsonType type,
                               JsonNode **node, GError **errp)
{
    switch (qmp_json_member(args, name, type, node)) {
    case QMP_JSON_OK:
        return TRUE;
    case QMP_JSON_ABSENT:
        if (required) {
            error_setg(errp, "Parameter '%s' is missing", name);
            return FALSE;
        }
        return TRUE;
    case QMP_JSON_WRONG_TYPE:
        break;
    }
    *node = NULL;
    error_setg(errp, "Invalid parameter type for '%s', expected: %s",
               name, qmp_json_type_name(type));
    return FALSE;
}

gboolean qmp_arg_str(JsonObject *args, const char *name, gboolean required,
                     const char **out, GError **errp)
{
    JsonNode *n;

    if (!qmp_arg_lookup(args, name, required, QMP_JSON_STRING, &n,
                        errp)) {
        return FALSE;
    }
    if (n) {
        *out = json_node_get_string(n);
    }
    return TRUE;
}

gboolean qmp_arg_bool(JsonObject *args, const char *name, gboolean required,
                      gboolean *out, GError **errp)
{
    JsonNode *n;

    if (!qmp_arg_lookup(args, name, required, QMP_JSON_BOOL, &n,
                        errp)) {
        return FALSE;
    }
    if (n) {
        *out = json_node_get_boolean(n);
    }
    return TRUE;
}

gboolean qmp_arg_int(JsonObject *args, const char *name, gboolean required,
                     gint64 *out, GError **errp)
{
    JsonNode *n;

    if (!qmp_arg_lookup(args, name, required, QMP_JSON_INT, &n,
                        errp)) {
        return FALSE;
    }
    if (n) {
        *out = json_node_get_int(n);
    }
    return TRUE;
}
