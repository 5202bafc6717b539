/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/compare-qmp.c - QMP commands of colo-compare (schema:
 * qapi/compare.json).
 *
 * query-colo-compare-stats asks each colo-compare object
 * (net/colo-compare.c) for its counters; the object copies them on its
 * own thread and builds the reply.  Built into the monitor library so
 * that the net library does not depend on the monitor.
 *
 * Threads: main context (QMP handlers).
 */
#include <json-glib/json-glib.h>

#include "util/qmp-handler.h"
#include "net/compare-engine.h"
#include "qapi-commands.h"
#include "util/error.h"

gboolean qmp_query_colo_compare_stats(JsonObject *args, JsonNode **ret,
                                      GError **errp)
{
    const char *id = NULL;

    if (!qmp_arg_str(args, "id", FALSE, &id, errp)) {
        return FALSE;
    }
    *ret = colo_compare_query_stats(id, errp);
    return *ret != NULL;
}
