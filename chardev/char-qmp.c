/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char-qmp.c - the QMP commands of qapi/char.json: chardev-add,
 * chardev-remove, query-chardev and query-chardev-stats.
 *
 * chardev-add turns QEMU's nested backend description
 *   {"type": "socket", "data": {"addr": {"type": "inet", "data": {...}},
 *    "server": ..., ...}}
 * into the same property map -chardev builds, and creates the chardev
 * through user_object_create(), so both paths share one set of checks
 * (chardev/char-socket.c).  The other commands read the registry.
 *
 * Built into the monitor library (monitor/meson.build), so the chardev
 * library does not depend on the monitor.  Handlers run in the main
 * context; the counters they report are read with stats_read(), since a
 * chardev may be doing its I/O in an iothread.
 */
#include <json-glib/json-glib.h>

#include "chardev/char.h"
#include "chardev/char-internal.h"
#include "util/qmp-handler.h"
#include "qapi-commands.h"
#include "util/error.h"
#include "util/stats.h"

/* The object member 'name' of 'obj' ('path' names it in errors). */
static JsonObject *qmp_arg_object(JsonObject *obj, const char *name,
                                  const char *path, GError **errp)
{
    JsonNode *node = json_object_get_member(obj, name);

    if (!node) {
        error_setg(errp, "Parameter '%s' is missing", path);
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        error_setg(errp, "Invalid parameter type for '%s', expected: object",
                   path);
        return NULL;
    }
    return json_node_get_object(node);
}

/* Copies an optional bool member into 'props' as "on"/"off". */
static gboolean chr_prop_bool(GHashTable *props, JsonObject *obj,
                              const char *member, const char *prop,
                              GError **errp)
{
    gboolean v = FALSE;

    if (!json_object_has_member(obj, member)) {
        return TRUE;
    }
    if (!qmp_arg_bool(obj, member, FALSE, &v, errp)) {
        return FALSE;
    }
    g_hash_table_insert(props, (gpointer)prop, g_strdup(v ? "on" : "off"));
    return TRUE;
}

/* Copies an optional integer member into 'props'. */
static gboolean chr_prop_int(GHashTable *props, JsonObject *obj,
                             const char *member, const char *prop,
                             GError **errp)
{
    gint64 v = 0;

    if (!json_object_has_member(obj, member)) {
        return TRUE;
    }
    if (!qmp_arg_int(obj, member, FALSE, &v, errp)) {
        return FALSE;
    }
    g_hash_table_insert(props, (gpointer)prop,
                        g_strdup_printf("%" G_GINT64_FORMAT, v));
    return TRUE;
}

/* Copies an optional string member into 'props' under its own name. */
static gboolean chr_prop_str(GHashTable *props, JsonObject *obj,
                             const char *member, GError **errp)
{
    const char *v = NULL;

    if (!qmp_arg_str(obj, member, FALSE, &v, errp)) {
        return FALSE;
    }
    if (v) {
        g_hash_table_insert(props, (gpointer)member, g_strdup(v));
    }
    return TRUE;
}

/* Fills 'props' from {"type": "inet"|"unix", "data": {...}}. */
static gboolean chr_parse_addr(GHashTable *props, JsonObject *addr,
                               GError **errp)
{
    const char *type = NULL, *s = NULL;
    JsonObject *data;

    if (!qmp_arg_str(addr, "type", TRUE, &type, errp)) {
        return FALSE;
    }
    data = qmp_arg_object(addr, "data", "backend.data.addr.data", errp);
    if (!data) {
        return FALSE;
    }
    if (g_str_equal(type, "inet")) {
        if (!qmp_arg_str(data, "host", TRUE, &s, errp)) {
            return FALSE;
        }
        g_hash_table_insert(props, "host", g_strdup(s));
        if (!qmp_arg_str(data, "port", TRUE, &s, errp)) {
            return FALSE;
        }
        g_hash_table_insert(props, "port", g_strdup(s));
        return chr_prop_int(props, data, "to", "to", errp) &&
               chr_prop_bool(props, data, "ipv4", "ipv4", errp) &&
               chr_prop_bool(props, data, "ipv6", "ipv6", errp);
    }
    if (g_str_equal(type, "unix")) {
        if (!qmp_arg_str(data, "path", TRUE, &s, errp)) {
            return FALSE;
        }
        g_hash_table_insert(props, "path", g_strdup(s));
        return chr_prop_bool(props, data, "abstract", "abstract", errp) &&
               chr_prop_bool(props, data, "tight", "tight", errp);
    }
    error_setg(errp, "Parameter 'backend.data.addr.type' does not accept "
               "value '%s'", type);
    return FALSE;
}

static gboolean chardev_add(JsonObject *args, const char *id, GError **errp)
{
    g_autoptr(GHashTable) props =
        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    const char *type = NULL;
    JsonObject *backend, *data, *addr;
    gboolean server = TRUE;

    backend = qmp_arg_object(args, "backend", "backend", errp);
    if (!backend || !qmp_arg_str(backend, "type", TRUE, &type, errp)) {
        return FALSE;
    }
    if (!g_str_equal(type, "socket")) {
        error_setg(errp, "Parameter 'backend.type' does not accept value "
                   "'%s' (colo-proxy implements 'socket' chardevs only)",
                   type);
        return FALSE;
    }
    data = qmp_arg_object(backend, "data", "backend.data", errp);
    if (!data) {
        return FALSE;
    }
    addr = qmp_arg_object(data, "addr", "backend.data.addr", errp);
    if (!addr || !chr_parse_addr(props, addr, errp)) {
        return FALSE;
    }
    if (!qmp_arg_bool(data, "server", FALSE, &server, errp)) {
        return FALSE;
    }
    g_hash_table_insert(props, "server", g_strdup(server ? "on" : "off"));
    if (server) {
        /* The monitor is never blocked waiting for a client. */
        if (!qmp_arg_bool(data, "wait", FALSE, &(gboolean){ FALSE }, errp)) {
            return FALSE;
        }
        g_hash_table_insert(props, "wait", g_strdup("off"));
    } else if (!chr_prop_bool(props, data, "wait", "wait", errp)) {
        return FALSE;
    }
    if (!chr_prop_bool(props, data, "nodelay", "nodelay", errp) ||
        !chr_prop_int(props, data, "reconnect", "reconnect", errp) ||
        !chr_prop_int(props, data, "reconnect-ms", "reconnect-ms", errp) ||
        !chr_prop_int(props, data, "out-buffer-size", "out-buffer-size",
                      errp) ||
        !chr_prop_str(props, data, "tls-creds", errp) ||
        !chr_prop_str(props, data, "tls-authz", errp)) {
        return FALSE;
    }
    return user_object_create(OBJECT_KIND_CHARDEV, "socket", id, props,
                              errp) != NULL;
}

/* Every failure names the chardev, as QEMU's "Failed to add chardev 'ID':
 * ..." does: a management tool adding several at once must know which. */
gboolean qmp_chardev_add(JsonObject *args, JsonNode **ret, GError **errp)
{
    const char *id = NULL;
    GError *err = NULL;

    if (!qmp_arg_str(args, "id", TRUE, &id, errp)) {
        return FALSE;
    }
    if (!chardev_add(args, id, &err)) {
        g_propagate_prefixed_error(errp, err, "Failed to add chardev '%s': ",
                                   id);
        return FALSE;
    }
    return TRUE;
}

gboolean qmp_chardev_remove(JsonObject *args, JsonNode **ret, GError **errp)
{
    const char *id = NULL;

    if (!qmp_arg_str(args, "id", TRUE, &id, errp)) {
        return FALSE;
    }
    if (!chardev_find(id)) {
        error_setg(errp, "Chardev '%s' not found", id);
        return FALSE;
    }
    return user_object_delete(OBJECT_KIND_CHARDEV, id, errp);
}

gboolean qmp_query_chardev(JsonObject *args, JsonNode **ret, GError **errp)
{
    GList *list = user_object_list(OBJECT_KIND_CHARDEV);
    JsonArray *arr = json_array_new();

    for (GList *l = list; l; l = l->next) {
        Chardev *chr = CHARDEV_BASE(l->data);
        ChardevClass *klass = CHARDEV_BASE_GET_CLASS(chr);
        g_autofree char *filename =
            klass->filename ? klass->filename(chr) : g_strdup("");
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "label",
                                      user_object_get_id(USER_OBJECT(chr)));
        json_object_set_string_member(o, "filename", filename);
        json_object_set_boolean_member(o, "frontend-open",
                                       chardev_frontend_open(chr));
        if (klass->info) {
            klass->info(chr, o);
        }
        json_array_add_object_element(arr, o);
    }
    g_list_free(list);
    *ret = json_node_init_array(json_node_alloc(), arr);
    json_array_unref(arr);
    return TRUE;
}

static JsonObject *chardev_stats_json(Chardev *chr)
{
    ChardevStats *st = chardev_get_stats(chr);
    JsonObject *o = json_object_new();
    uint64_t connects = stats_read(&st->connects);
    uint64_t disconnects = stats_read(&st->disconnects);

    json_object_set_string_member(o, "label",
                                  user_object_get_id(USER_OBJECT(chr)));
    /* Every open is counted before the matching close, in one thread. */
    json_object_set_boolean_member(o, "connected", connects > disconnects);
    json_object_set_int_member(o, "bytes-in", stats_read(&st->bytes_in));
    json_object_set_int_member(o, "bytes-out", stats_read(&st->bytes_out));
    json_object_set_int_member(o, "writes-refused",
                               stats_read(&st->writes_refused));
    json_object_set_int_member(o, "writes-unconnected",
                               stats_read(&st->writes_unconnected));
    json_object_set_int_member(o, "connects", connects);
    json_object_set_int_member(o, "disconnects", disconnects);
    json_object_set_int_member(o, "out-queued", chardev_out_queued_any(chr));
    return o;
}

gboolean qmp_query_chardev_stats(JsonObject *args, JsonNode **ret,
                                 GError **errp)
{
    const char *id = NULL;
    JsonArray *arr;
    GList *list;

    if (!qmp_arg_str(args, "id", FALSE, &id, errp)) {
        return FALSE;
    }
    if (id && !chardev_find(id)) {
        error_setg(errp, "Chardev '%s' not found", id);
        return FALSE;
    }
    arr = json_array_new();
    list = user_object_list(OBJECT_KIND_CHARDEV);
    for (GList *l = list; l; l = l->next) {
        Chardev *chr = CHARDEV_BASE(l->data);

        if (id && g_strcmp0(user_object_get_id(USER_OBJECT(chr)), id)) {
            continue;
        }
        json_array_add_object_element(arr, chardev_stats_json(chr));
    }
    g_list_free(list);
    *ret = json_node_init_array(json_node_alloc(), arr);
    json_array_unref(arr);
    return TRUE;
}
