/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/monitor/qmp.h - the QMP monitor.
 *
 * -qmp unix:PATH,server=on,wait=off | tcp:HOST:PORT,server=on,wait=off |
 * stdio (QEMU's spellings; also legacy "server,nowait", and client mode
 * without server=on) opens a monitor; several may be open at once, and a
 * listening one serves several clients at once, each negotiating on its
 * own (QEMU: one client per monitor).  Each connection gets the greeting
 *   {"QMP": {"version": {...}, "capabilities": ["oob"]}}
 * and must send qmp_capabilities before other commands (CommandNotFound
 * otherwise, as QEMU: nothing else runs before it).  Requests are JSON objects {"execute": NAME,
 * "arguments": {...}, "id": ANY}; replies are {"return": ...} or
 * {"error": {"class": ..., "desc": ...}}, with "id" echoed.  A request
 * larger than QMP_MAX_REQUEST bytes or malformed JSON gets an error reply
 * and the connection stays usable.
 *
 * Commands are declared once in the qapi/ schema; scripts/qapi-gen.py generates
 * the dispatch table (build/qapi-commands.c) and docs/qmp-reference.md.
 * Each command NAME is implemented by a function with this signature,
 * named qmp_ + NAME with '-' replaced by '_':
 *
 *   gboolean qmp_query_version(JsonObject *args, JsonNode **ret,
 *                              GError **errp);
 *
 * 'args' is the arguments object (never NULL; empty when absent), borrowed.
 * On success the handler sets *ret to a new JsonNode (or leaves it NULL for
 * an empty {} return) and returns TRUE.  Handlers run in the main context.
 *
 * Schema: every qapi/<module>.json file in the tree is read (no include
 * list needed); each definition needs a '##' doc block naming it
 * ("# @NAME:") and documenting every member ("# @arg: text").  Before a
 * handler runs, qmp_dispatch() checks the arguments against the schema:
 * "Parameter 'X' is missing", "Parameter 'X' is unexpected", "Invalid
 * parameter type for 'X', expected: string", "Parameter 'X' does not accept
 * value 'V'" (enums), recursing into struct-typed members ('a.b').  A
 * command whose arguments are an open set (object-add, netdev_add,
 * chardev-add with backend-specific keys) says so with QEMU's
 * 'gen': false; its declared members are still checked (missing, type),
 * the others are passed to the handler unchecked.  ('boxed': true with a
 * union as 'data', or 'features': [ 'open-args' ], mean the same.)
 * A handler therefore never sees a missing required argument or one of the
 * wrong JSON type, but the qmp_arg_*() helpers stay safe to use.
 *
 * Events: qmp_event_emit() (include/util/qmp-handler.h) may be called
 * from any thread and reaches the monitor through its sink; the event is
 * timestamped when emitted and sent, in order, to every monitor that has
 * completed capabilities negotiation.
 */
#ifndef MONITOR_QMP_H
#define MONITOR_QMP_H

#include <json-glib/json-glib.h>
#include "util/qmp-handler.h"

#define QMP_MAX_REQUEST (1u << 20)   /* bytes in one request */

typedef struct QmpCommand {
    const char *name;
    QmpCommandFn fn;
    gboolean allow_preconfig;   /* QEMU's flag, kept for introspection */
} QmpCommand;

/* Generated: the table, terminated by { NULL }. */
extern const QmpCommand qmp_commands[];
/* Generated: names of the events declared in the schema, NULL-terminated. */
extern const char *const qmp_event_names[];

/* Opens a monitor from a -qmp argument.  Returns FALSE with errp set. */
gboolean monitor_qmp_open(const char *spec, GError **errp);
/* Closes every monitor (shutdown). */
void monitor_qmp_close_all(void);

/* Runs one request (a parsed JSON object) and returns the reply object
 * (new reference).  Used by the monitor and by unit tests. */
JsonObject *qmp_dispatch(JsonObject *request, gboolean negotiated);

/* QmpCommandFn, the qmp_arg_*() helpers and qmp_event_emit() are in
 * include/util/qmp-handler.h, below the modules that implement commands;
 * the monitor's event sink is registered there by monitor/qmp.c. */

#endif /* MONITOR_QMP_H */
