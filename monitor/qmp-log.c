/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * monitor/qmp-log.c - the QMP commands of qapi/log.json:
 * query-log-levels and set-log-level.
 *
 * The levels live in util/log.c (include/util/log.h), where the log
 * writer of every thread reads them; these handlers only translate.
 * Main context.
 */
#include "qapi-commands.h"
#include "util/error.h"
#include "util/log.h"

gboolean qmp_query_log_levels(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    JsonArray *list = json_array_new();
    size_t n;
    const ColoLogItem *items = colo_log_items(&n);

    for (size_t i = 0; i < n; i++) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "item", items[i].name);
        if (items[i].domain) {
            json_object_set_string_member(o, "domain", items[i].domain);
        }
        json_object_set_string_member(o, "level",
            colo_log_level_name(colo_log_get_level(items[i].name)));
        json_object_set_string_member(o, "description", items[i].help);
        json_array_add_object_element(list, o);
    }
    *ret = json_node_init_array(json_node_alloc(), list);
    json_array_unref(list);
    return TRUE;
}

gboolean qmp_set_log_level(JsonObject *args, JsonNode **ret, GError **errp)
{
    const char *item = NULL;
    const char *name = NULL;
    ColoLogLevel level;

    if (!qmp_arg_str(args, "item", TRUE, &item, errp) ||
        !qmp_arg_str(args, "level", TRUE, &name, errp)) {
        return FALSE;
    }
    /* The dispatcher checked 'level' against LogLevel already. */
    if (!colo_log_level_parse(name, &level)) {
        error_setg(errp, "Parameter 'level' does not accept value '%s'",
                   name);
        return FALSE;
    }
    if (!colo_log_set_level(item, level, errp)) {
        return FALSE;
    }
    g_message("log level of '%s' set to %s", item, name);
    return TRUE;
}
