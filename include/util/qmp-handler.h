/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/qmp-handler.h - what a module needs to serve QMP without
 * depending on the monitor: the handler signature, typed argument access,
 * and the event sink.
 *
 * The monitor (monitor/) sits at the top of the layers; the modules that
 * own the data (qom/, chardev/, net/, colo/) sit below it.  A module's QMP
 * handlers and the events it emits therefore talk to this header only:
 *
 *   - a handler qmp_NAME() (NAME from the qapi/ schema, '-' as '_') has
 *     the signature QmpCommandFn and lives in the module that owns the
 *     data (net/net-qmp.c, colo/colo-qmp.c, ...).  The generated command
 *     table (build/qapi/qapi-commands.c, in the monitor library) names each
 *     handler directly, so a handler nobody wrote is a link error, never a
 *     command that answers CommandNotFound at run time;
 *   - qmp_event_emit() hands an event to the one sink registered with
 *     qmp_event_set_sink().  The monitor registers its sink from a
 *     constructor, so the binary always has one; a unit test linking no
 *     monitor has none, and its events are dropped (counted by nobody:
 *     there is nobody to tell).
 *
 * The handler contract (what the monitor guarantees before calling) is in
 * include/monitor/qmp.h.
 */
#ifndef UTIL_QMP_HANDLER_H
#define UTIL_QMP_HANDLER_H

#include <json-glib/json-glib.h>

/* 'args' is borrowed and never NULL.  On success sets *ret to a new node
 * (or leaves it NULL for {}) and returns TRUE; else FALSE with errp set.
 * Main context. */
typedef gboolean (*QmpCommandFn)(JsonObject *args, JsonNode **ret,
                                 GError **errp);

/* Typed argument access with QMP-shaped errors ("Parameter 'NAME' is
 * missing", "Invalid parameter type for 'NAME', expected: string").
 * '*out' is set only when the member is present (so initialise it with the
 * default); a string is borrowed from 'args'.  Absent and not 'required'
 * returns TRUE.  Pure, any thread. */
gboolean qmp_arg_str(JsonObject *args, const char *name, gboolean required,
                     const char **out, GError **errp);
gboolean qmp_arg_bool(JsonObject *args, const char *name, gboolean required,
                      gboolean *out, GError **errp);
gboolean qmp_arg_int(JsonObject *args, const char *name, gboolean required,
                     gint64 *out, GError **errp);

/* Delivers one event: 'name' (a schema event) and 'data' (taken; may be
 * NULL).  Runs in the emitter's thread and must not block it. */
typedef void (*QmpEventSinkFn)(const char *name, JsonObject *data);

/* Sets the sink (the monitor's, once, from a constructor). */
void qmp_event_set_sink(QmpEventSinkFn fn);

/* Emits event 'name' with 'data' (taken; may be NULL).  Any thread. */
void qmp_event_emit(const char *name, JsonObject *data);

#endif /* UTIL_QMP_HANDLER_H */
