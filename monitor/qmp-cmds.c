/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * monitor/qmp-cmds.c - the QMP control commands of qapi/control.json.
 *
 * qmp_capabilities, query-version, query-commands, query-qmp-schema,
 * query-status and quit: the commands about the monitor itself, shaped as
 * QEMU's.  The commands about objects, chardevs, netdevs and COLO live
 * beside their modules (qom/qom-qmp.c, chardev/char-qmp.c, net/net-qmp.c,
 * colo/colo-qmp.c).  Arguments arrive already checked against the schema
 * by monitor/qmp-dispatch.c, which also does the negotiation bookkeeping
 * of qmp_capabilities.  All handlers run in the main context.
 */
#include <stdlib.h>

#include "config-host.h"
#include "qapi-commands.h"
#include "monitor/qmp-internal.h"
#include "util/error.h"
#include "util/shutdown.h"

JsonNode *qmp_version_info(void)
{
    g_auto(GStrv) parts = g_strsplit(COLO_PROXY_VERSION, ".", 3);
    g_autoptr(JsonBuilder) b = json_builder_new_immutable();
    const char *names[] = { "major", "minor", "micro" };
    gint64 v[3] = { 0, 0, 0 };
    const char *pkg = COLO_PROXY_PKGVERSION;
    g_autofree char *package = NULL;
    gboolean more = TRUE;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "qemu");
    json_builder_begin_object(b);
    for (int i = 0; i < 3; i++) {
        more = more && parts[i];
        v[i] = more ? strtoll(parts[i], NULL, 10) : 0;
    }
    /* QEMU's member order: micro, minor, major. */
    for (int i = 2; i >= 0; i--) {
        json_builder_set_member_name(b, names[i]);
        json_builder_add_int_value(b, v[i]);
    }
    json_builder_end_object(b);
    if (pkg[0]) {
        package = g_strdup_printf("colo-proxy %s (%s)", COLO_PROXY_VERSION,
                                  pkg);
    } else {
        package = g_strdup_printf("colo-proxy %s", COLO_PROXY_VERSION);
    }
    json_builder_set_member_name(b, "package");
    json_builder_add_string_value(b, package);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* Negotiation state is kept by the dispatcher (qmp_dispatch_session()):
 * the command itself has nothing left to do once its arguments, checked
 * against [QMPCapability], are valid. */
gboolean qmp_qmp_capabilities(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    return TRUE;
}

gboolean qmp_query_version(JsonObject *args, JsonNode **ret, GError **errp)
{
    *ret = qmp_version_info();
    return TRUE;
}

/* Lists the commands; qmp_commands[] is sorted by name, and every entry
 * has its handler (the generated table names it: a missing one does not
 * link). */
gboolean qmp_query_commands(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonArray *list = json_array_new();

    for (int i = 0; qmp_commands[i].name; i++) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "name", qmp_commands[i].name);
        json_array_add_object_element(list, o);
    }
    *ret = json_node_init_array(json_node_alloc(), list);
    json_array_unref(list);
    return TRUE;
}

/* Returns a copy of the generated introspection list, parsed once. */
gboolean qmp_query_qmp_schema(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    static JsonNode *schema;

    if (!schema) {
        g_autoptr(JsonParser) p = json_parser_new_immutable();
        g_autoptr(GError) err = NULL;

        if (!json_parser_load_from_data(p, qmp_schema_json, -1, &err)) {
            /* The generator wrote it with json.dumps: cannot happen. */
            error_setg(errp, "Schema introspection data is corrupt: %s",
                       err->message);
            return FALSE;
        }
        schema = json_node_ref(json_parser_get_root(p));
    }
    *ret = json_node_copy(schema);
    return TRUE;
}

gboolean qmp_query_status(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "status", "running");
    json_object_set_boolean_member(o, "singlestep", FALSE);
    json_object_set_boolean_member(o, "running", TRUE);
    *ret = json_node_init_object(json_node_alloc(), o);
    json_object_unref(o);
    return TRUE;
}

/* The request only sets a flag that system/main.c's loop checks, so the
 * reply goes out first; main then emits SHUTDOWN and closes the monitors. */
gboolean qmp_quit(JsonObject *args, JsonNode **ret, GError **errp)
{
    /* The handler is system/main.c's, registered as a hook
     * (include/util/shutdown.h); a program without one refuses. */
    if (!shutdown_request()) {
        error_setg(errp, "quit is not available in this program");
        return FALSE;
    }
    return TRUE;
}
