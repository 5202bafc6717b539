/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/qom-qmp.c - QMP commands of the object model (schema: qapi/qom.json):
 * object-add, object-del, qom-list, qom-get, qom-set, qom-list-types and
 * qom-list-properties; query-iothreads.
 *
 * object-add turns its JSON arguments into the same key -> string map that
 * -object builds (bool -> "on"/"off", numbers -> decimal, nested objects ->
 * dotted keys) and calls user_object_create(), so the command line and QMP
 * share one path to the object's properties (qom/object.c).
 *
 * The QOM tree is a flat view of the four id namespaces:
 *
 *   /                     objects, chardevs, netdevs, devices
 *   /objects/ID           -object and object-add
 *   /chardevs/ID          -chardev and chardev-add
 *   /netdevs/ID           -netdev and netdev_add
 *   /devices/ID           -device (also /machine/peripheral/ID, QEMU's path)
 *
 * A path without a leading '/' is a partial path, resolved as QEMU does when
 * it names exactly one object.  Each object lists "type" (string) and its
 * properties with QEMU's type names ("bool", "string", "int", "uint32",
 * ...).  Types are listed by qom-list-types under QEMU-like names: -object
 * and -device types by their name, chardev backends as "chardev-NAME",
 * netdev backends as "netdev-NAME", abstract bases by their GType name in
 * lower case ("netfilter", "chardev").
 *
 * The same JSON -> property conversion serves the JSON form of -object,
 * -netdev and -device on the command line (include/qom/qom-qmp.h).
 *
 * Compiled into the monitor library (monitor/meson.build) so that qom/ does
 * not depend on json-glib.  Threads: main context (QMP handlers).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "util/qmp-handler.h"
#include "qapi-commands.h"
#include "qom/object.h"
#include "qom/qom-qmp.h"
#include "util/error.h"
#include "qom/iothread.h"

/* --- JSON <-> property strings ----------------------------------------- */

/* Bytes of dotted keys one conversion may build.  A long member name above
 * deep nesting (or many members) would otherwise be copied into every key
 * below it: a 1 MiB request could ask for gigabytes. */
#define QOM_JSON_KEY_BUDGET (16u << 20)

static gboolean qom_flatten_object(JsonObject *obj, const char *prefix,
                                   GHashTable *props, gsize *budget,
                                   GError **errp);

/* Returns "prefix.name" (or "name" without a prefix), charged to 'budget';
 * NULL with errp set once the budget is spent. */
static char *qom_flat_key(const char *prefix, const char *name,
                          gsize *budget, GError **errp)
{
    gsize len = (prefix ? strlen(prefix) + 1 : 0) + strlen(name);

    if (len > *budget) {
        error_setg(errp, "Parameter names exceed %u bytes",
                   QOM_JSON_KEY_BUDGET);
        return NULL;
    }
    *budget -= len;
    return prefix ? g_strconcat(prefix, ".", name, NULL) : g_strdup(name);
}

/* Converts one JSON member to property strings in 'props' (owned keys and
 * values). */
static gboolean qom_flatten_value(const char *key, JsonNode *node,
                                  GHashTable *props, gsize *budget,
                                  GError **errp)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    char *value;

    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT:
        return qom_flatten_object(json_node_get_object(node), key, props,
                                  budget, errp);
    case JSON_NODE_ARRAY: {
        JsonArray *arr = json_node_get_array(node);

        for (guint i = 0; i < json_array_get_length(arr); i++) {
            char index[16];
            g_autofree char *sub = NULL;

            g_snprintf(index, sizeof(index), "%u", i);
            sub = qom_flat_key(key, index, budget, errp);
            if (!sub || !qom_flatten_value(sub, json_array_get_element(arr, i),
                                           props, budget, errp)) {
                return FALSE;
            }
        }
        return TRUE;
    }
    case JSON_NODE_NULL:
        return TRUE;            /* QMP's "absent" */
    case JSON_NODE_VALUE:
    default:
        break;
    }
    switch (json_node_get_value_type(node)) {
    case G_TYPE_STRING:
        value = g_strdup(json_node_get_string(node));
        break;
    case G_TYPE_BOOLEAN:
        value = g_strdup(json_node_get_boolean(node) ? "on" : "off");
        break;
    case G_TYPE_INT64:
        value = g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(node));
        break;
    case G_TYPE_DOUBLE: {
        double d = json_node_get_double(node);

        /* 1e3 (or an integer beyond int64) arrives as a double: keep
         * integral values integral */
        if (d >= -9.2e18 && d <= 9.2e18 && d == (double)(gint64)d) {
            value = g_strdup_printf("%" G_GINT64_FORMAT, (gint64)d);
        } else if (d > 0 && d < 1.8446744073709552e19 && d == floor(d)) {
            value = g_strdup_printf("%.0f", d);
        } else {
            value = g_strdup(g_ascii_dtostr(buf, sizeof(buf), d));
        }
        break;
    }
    default:
        error_setg(errp, "Invalid parameter type for '%s', expected: string",
                   key);
        return FALSE;
    }
    g_hash_table_insert(props, g_strdup(key), value);
    return TRUE;
}

static gboolean qom_flatten_object(JsonObject *obj, const char *prefix,
                                   GHashTable *props, gsize *budget,
                                   GError **errp)
{
    g_autoptr(GList) members = json_object_get_members(obj);

    for (GList *l = members; l; l = l->next) {
        const char *name = l->data;
        g_autofree char *key = qom_flat_key(prefix, name, budget, errp);

        if (!key || !qom_flatten_value(key, json_object_get_member(obj, name),
                                       props, budget, errp)) {
            return FALSE;
        }
    }
    return TRUE;
}

gboolean qom_json_to_props(JsonObject *obj, GHashTable *props,
                           GError **errp)
{
    gsize budget = QOM_JSON_KEY_BUDGET;

    return qom_flatten_object(obj, NULL, props, &budget, errp);
}

/* What is missing at the end of 'json' -- "'}'", "']'" or "'\"'" (an
 * open string) -- or NULL if every bracket and string is closed.
 * json-glib reports a missing '}' as an error about the last token
 * ("invalid string constant"), which sends the user to the wrong place;
 * QEMU says "premature EOI". */
static const char *json_missing_close(const char *json)
{
    char stack[64];
    size_t depth = 0;
    gboolean in_str = FALSE;

    for (const char *p = json; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1]) {
                p++;
            } else if (*p == '"') {
                in_str = FALSE;
            }
        } else if (*p == '"') {
            in_str = TRUE;
        } else if (*p == '{' || *p == '[') {
            if (depth == sizeof(stack)) {
                return NULL;          /* too deep to tell: json-glib says */
            }
            stack[depth++] = *p == '{' ? '}' : ']';
        } else if ((*p == '}' || *p == ']') && depth) {
            depth--;
        }
    }
    if (in_str) {
        return "'\"' (a string is not closed)";
    }
    if (depth) {
        return stack[depth - 1] == '}' ? "'}' (an object is not closed)"
                                       : "']' (an array is not closed)";
    }
    return NULL;
}

/* Parses 'json' into a new object node, or NULL with errp set. */
static JsonNode *qom_parse_json_object(const char *json, GError **errp)
{
    g_autoptr(GError) err = NULL;
    JsonNode *node = json_from_string(json, &err);

    if (!node) {
        const char *missing = json_missing_close(json);
        const char *why = err ? strstr(err->message, "Parse error: ") : NULL;

        if (missing) {
            error_setg(errp, "JSON parse error, premature end of input: "
                       "%s expected", missing);
        } else {
            /* "<data>:1:33: Parse error: X" -> "X (line 1, column 33)" */
            int line = 0, col = 0;

            if (err && sscanf(err->message, "<data>:%d:%d:", &line,
                              &col) == 2 && why) {
                error_setg(errp, "JSON parse error, %s (line %d, column %d)",
                           why + strlen("Parse error: "), line, col);
            } else {
                error_setg(errp, "JSON parse error, %s",
                           err ? err->message : "empty input");
            }
        }
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        json_node_unref(node);
        error_setg(errp, "JSON parse error: expected an object");
        return NULL;
    }
    return node;
}

UserObject *user_object_create_from_json(ObjectKind kind, const char *json,
                                         GError **errp)
{
    g_autoptr(GHashTable) props = g_hash_table_new_full(g_str_hash,
                                                        g_str_equal,
                                                        g_free, g_free);
    g_autoptr(JsonNode) node = qom_parse_json_object(json, errp);
    const char *type_key = object_kind_type_key(kind);
    const char *type, *id;

    if (!node || !qom_json_to_props(json_node_get_object(node), props,
                                    errp)) {
        return NULL;
    }
    type = g_hash_table_lookup(props, type_key);
    id = g_hash_table_lookup(props, "id");
    if (!type) {
        error_setg(errp, "Parameter '%s' is missing", type_key);
        return NULL;
    }
    if (!id && kind != OBJECT_KIND_DEVICE) {
        error_setg(errp, "Parameter 'id' is missing");
        return NULL;
    }
    /* user_object_create() skips the "id" and type keys */
    return user_object_create(kind, type, id, props, errp);
}

char *qom_json_peek_type(const char *json, const char *type_key)
{
    g_autoptr(JsonNode) node = qom_parse_json_object(json, NULL);
    JsonNode *member;

    if (!node) {
        return NULL;
    }
    member = json_object_get_member(json_node_get_object(node), type_key);
    if (!member || !JSON_NODE_HOLDS_VALUE(member) ||
        json_node_get_value_type(member) != G_TYPE_STRING) {
        return NULL;
    }
    return g_strdup(json_node_get_string(member));
}

/* The QOM type name of a property, as qom-list and qom-list-properties
 * report it (QEMU's spellings). */
static const char *qom_prop_type(GParamSpec *pspec)
{
    GType t = G_PARAM_SPEC_VALUE_TYPE(pspec);

    if (G_TYPE_IS_ENUM(t) || G_TYPE_IS_FLAGS(t)) {
        return g_type_name(t);
    }
    switch (G_TYPE_FUNDAMENTAL(t)) {
    case G_TYPE_BOOLEAN:
        return "bool";
    case G_TYPE_STRING:
        return "string";
    case G_TYPE_INT:
        return "int32";
    case G_TYPE_UINT:
        return "uint32";
    case G_TYPE_INT64:
    case G_TYPE_LONG:
        return "int";
    case G_TYPE_UINT64:
    case G_TYPE_ULONG:
        return "uint64";
    case G_TYPE_DOUBLE:
    case G_TYPE_FLOAT:
        return "number";
    default:
        return g_type_name(t);
    }
}

/* A property value as typed JSON (new node). */
static JsonNode *qom_value_to_json(GParamSpec *pspec, const GValue *v)
{
    GType t = G_VALUE_TYPE(v);
    JsonNode *n = json_node_alloc();

    if (G_TYPE_IS_ENUM(t)) {
        g_autofree char *s = object_property_value_to_str(pspec, v);

        return json_node_init_string(n, s);
    }
    switch (G_TYPE_FUNDAMENTAL(t)) {
    case G_TYPE_BOOLEAN:
        return json_node_init_boolean(n, g_value_get_boolean(v));
    case G_TYPE_INT:
        return json_node_init_int(n, g_value_get_int(v));
    case G_TYPE_UINT:
        return json_node_init_int(n, g_value_get_uint(v));
    case G_TYPE_LONG:
        return json_node_init_int(n, g_value_get_long(v));
    case G_TYPE_INT64:
        return json_node_init_int(n, g_value_get_int64(v));
    case G_TYPE_ULONG:
    case G_TYPE_UINT64: {
        guint64 u = G_TYPE_FUNDAMENTAL(t) == G_TYPE_ULONG
                    ? g_value_get_ulong(v) : g_value_get_uint64(v);

        if (u > (guint64)G_MAXINT64) {
            return json_node_init_double(n, (double)u);
        }
        return json_node_init_int(n, (gint64)u);
    }
    case G_TYPE_DOUBLE:
        return json_node_init_double(n, g_value_get_double(v));
    case G_TYPE_STRING:
        return json_node_init_string(n, g_value_get_string(v)
                                        ? g_value_get_string(v) : "");
    default: {
        g_autofree char *s = object_property_value_to_str(pspec, v);

        return json_node_init_string(n, s);
    }
    }
}

/* --- the tree ---------------------------------------------------------- */

static const struct {
    const char *dir;            /* path component under "/" */
    ObjectKind kind;
} qom_dirs[] = {
    { "objects", OBJECT_KIND_OBJECT },
    { "chardevs", OBJECT_KIND_CHARDEV },
    { "netdevs", OBJECT_KIND_NETDEV },
    { "devices", OBJECT_KIND_DEVICE },
};

/* What a path names: the root, a directory of one kind, or an object. */
typedef struct QomPath {
    gboolean root;
    int dir_kind;               /* ObjectKind of a directory, or -1 */
    UserObject *obj;            /* an object, or NULL */
} QomPath;

static gboolean qom_resolve(const char *path, QomPath *out, GError **errp)
{
    g_auto(GStrv) parts = NULL;
    g_autoptr(GPtrArray) comps = g_ptr_array_new();
    UserObject *found = NULL;
    int kind = -1;

    *out = (QomPath){ .dir_kind = -1 };

    if (path[0] != '/') {
        /* partial path: an id naming exactly one object */
        int matches = 0;

        for (guint i = 0; i < G_N_ELEMENTS(qom_dirs); i++) {
            UserObject *o = user_object_find(qom_dirs[i].kind, path);

            if (o) {
                found = o;
                matches++;
            }
        }
        if (matches > 1) {
            error_setg(errp, "Path '%s' does not uniquely identify an object",
                       path);
            return FALSE;
        }
        if (!found) {
            g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                        "Device '%s' not found", path);
            return FALSE;
        }
        out->obj = found;
        return TRUE;
    }

    parts = g_strsplit(path, "/", -1);
    for (int i = 0; parts[i]; i++) {
        if (parts[i][0]) {
            g_ptr_array_add(comps, parts[i]);
        }
    }
    if (comps->len == 0) {
        out->root = TRUE;
        return TRUE;
    }
    if (comps->len >= 2 && strcmp(comps->pdata[0], "machine") == 0 &&
        strcmp(comps->pdata[1], "peripheral") == 0) {
        g_ptr_array_remove_range(comps, 0, 2);
        kind = OBJECT_KIND_DEVICE;
        if (comps->len == 0) {
            out->dir_kind = kind;
            return TRUE;
        }
    } else {
        for (guint i = 0; i < G_N_ELEMENTS(qom_dirs); i++) {
            if (strcmp(comps->pdata[0], qom_dirs[i].dir) == 0) {
                kind = qom_dirs[i].kind;
            }
        }
        if (kind < 0) {
            goto not_found;
        }
        g_ptr_array_remove_index(comps, 0);
        if (comps->len == 0) {
            out->dir_kind = kind;
            return TRUE;
        }
    }
    if (comps->len != 1) {
        goto not_found;
    }
    out->obj = user_object_find(kind, comps->pdata[0]);
    if (!out->obj) {
        goto not_found;
    }
    return TRUE;

not_found:
    g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                "Device '%s' not found", path);
    return FALSE;
}

static void add_prop_info(JsonArray *arr, const char *name, const char *type)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "name", name);
    json_object_set_string_member(o, "type", type);
    json_array_add_object_element(arr, o);
}

/* qom-list: path -> [ { "name", "type" } ] */
gboolean qmp_qom_list(JsonObject *args, JsonNode **ret, GError **errp)
{
    const char *path = NULL;
    JsonArray *arr;
    QomPath p;

    if (!qmp_arg_str(args, "path", TRUE, &path, errp) ||
        !qom_resolve(path, &p, errp)) {
        return FALSE;
    }
    arr = json_array_new();
    if (p.root) {
        for (guint i = 0; i < G_N_ELEMENTS(qom_dirs); i++) {
            add_prop_info(arr, qom_dirs[i].dir, "child<container>");
        }
        add_prop_info(arr, "type", "string");
    } else if (p.dir_kind >= 0) {
        g_autoptr(GList) objs = user_object_list(p.dir_kind);

        add_prop_info(arr, "type", "string");
        for (GList *l = objs; l; l = l->next) {
            g_autofree char *t = g_strdup_printf(
                "child<%s>", user_object_get_type_name(l->data));

            add_prop_info(arr, user_object_get_id(l->data), t);
        }
    } else {
        g_autofree GParamSpec **specs = NULL;
        guint n = 0;

        add_prop_info(arr, "type", "string");
        specs = g_object_class_list_properties(G_OBJECT_GET_CLASS(p.obj), &n);
        for (guint i = 0; i < n; i++) {
            add_prop_info(arr, object_property_user_name(specs[i]),
                          qom_prop_type(specs[i]));
        }
    }
    *ret = json_node_init_array(json_node_alloc(), arr);
    json_array_unref(arr);
    return TRUE;
}

/* Finds 'property' on the object at 'path' (errors as QEMU). */
static UserObject *qom_object_prop(JsonObject *args, const char **prop_out,
                                   GParamSpec **pspec_out, GError **errp)
{
    const char *path = NULL, *prop = NULL;
    QomPath p;

    if (!qmp_arg_str(args, "path", TRUE, &path, errp) ||
        !qmp_arg_str(args, "property", TRUE, &prop, errp) ||
        !qom_resolve(path, &p, errp)) {
        return NULL;
    }
    if (!p.obj) {
        error_setg(errp, "Path '%s' is not an object", path);
        return NULL;
    }
    *prop_out = prop;
    *pspec_out = NULL;
    if (strcmp(prop, "type") != 0) {
        *pspec_out = object_class_find_user_property(
            G_OBJECT_GET_CLASS(p.obj), prop);
        if (!*pspec_out) {
            user_object_property_not_found(p.obj, prop, errp);
            return NULL;
        }
    }
    return p.obj;
}

/* qom-get: path, property -> typed value */
gboolean qmp_qom_get(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_auto(GValue) v = G_VALUE_INIT;
    GParamSpec *pspec;
    const char *prop;
    UserObject *obj = qom_object_prop(args, &prop, &pspec, errp);

    if (!obj) {
        return FALSE;
    }
    if (!pspec) {
        *ret = json_node_init_string(json_node_alloc(),
                                     user_object_get_type_name(obj));
        return TRUE;
    }
    if (!(pspec->flags & G_PARAM_READABLE)) {
        error_setg(errp, "Property '%s.%s' is not readable",
                   user_object_get_type_name(obj), prop);
        return FALSE;
    }
    g_value_init(&v, G_PARAM_SPEC_VALUE_TYPE(pspec));
    g_object_get_property(G_OBJECT(obj), pspec->name, &v);
    *ret = qom_value_to_json(pspec, &v);
    return TRUE;
}

/* qom-set: path, property, value */
gboolean qmp_qom_set(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(GHashTable) h = g_hash_table_new_full(g_str_hash, g_str_equal,
                                                    g_free, g_free);
    gsize budget = QOM_JSON_KEY_BUDGET;
    GParamSpec *pspec;
    const char *prop;
    JsonNode *value;
    UserObject *obj = qom_object_prop(args, &prop, &pspec, errp);

    if (!obj) {
        return FALSE;
    }
    if (!pspec) {
        error_setg(errp, "Property '%s.type' is read-only",
                   user_object_get_type_name(obj));
        return FALSE;
    }
    value = json_object_get_member(args, "value");
    if (!value) {
        error_setg(errp, "Parameter 'value' is missing");
        return FALSE;
    }
    if (JSON_NODE_HOLDS_OBJECT(value) || JSON_NODE_HOLDS_ARRAY(value) ||
        JSON_NODE_HOLDS_NULL(value)) {
        error_setg(errp, "Invalid parameter type for 'value', expected: %s",
                   qom_prop_type(pspec));
        return FALSE;
    }
    if (!qom_flatten_value(prop, value, h, &budget, errp)) {
        return FALSE;
    }
    return user_object_set_str(obj, prop, g_hash_table_lookup(h, prop), errp);
}

/* --- object-add / object-del ------------------------------------------- */

gboolean qmp_object_add(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(GHashTable) props = g_hash_table_new_full(g_str_hash,
                                                        g_str_equal,
                                                        g_free, g_free);
    gsize budget = QOM_JSON_KEY_BUDGET;
    const char *type = NULL, *id = NULL;

    if (!qmp_arg_str(args, "qom-type", TRUE, &type, errp) ||
        !qmp_arg_str(args, "id", TRUE, &id, errp) ||
        !qom_flatten_object(args, NULL, props, &budget, errp)) {
        return FALSE;
    }
    g_hash_table_remove(props, "qom-type");
    g_hash_table_remove(props, "id");
    /* QEMU before 6.0 nested the properties in "props": accept both */
    if (json_object_has_member(args, "props") &&
        JSON_NODE_HOLDS_OBJECT(json_object_get_member(args, "props"))) {
        GHashTableIter it;
        gpointer k, v;

        g_hash_table_iter_init(&it, props);
        while (g_hash_table_iter_next(&it, &k, &v)) {
            if (g_str_has_prefix(k, "props.")) {
                g_hash_table_iter_remove(&it);
            }
        }
        if (!qom_flatten_object(json_object_get_object_member(args, "props"),
                                NULL, props, &budget, errp)) {
            return FALSE;
        }
    }
    return user_object_create(OBJECT_KIND_OBJECT, type, id, props,
                              errp) != NULL;
}

gboolean qmp_object_del(JsonObject *args, JsonNode **ret, GError **errp)
{
    const char *id = NULL;

    if (!qmp_arg_str(args, "id", TRUE, &id, errp)) {
        return FALSE;
    }
    return user_object_delete(OBJECT_KIND_OBJECT, id, errp);
}

/* --- types ------------------------------------------------------------- */

/* One entry of the type list: a registered type or an abstract base. */
typedef struct QomTypeEntry {
    char *name;                 /* QOM-style name */
    GType gtype;
    gboolean abstract;          /* not creatable (a base) */
} QomTypeEntry;

static void qom_type_entry_free(gpointer p)
{
    QomTypeEntry *e = p;

    g_free(e->name);
    g_free(e);
}

static char *qom_registered_display_name(ObjectKind kind, const char *name)
{
    switch (kind) {
    case OBJECT_KIND_CHARDEV:
        return g_strdup_printf("chardev-%s", name);
    case OBJECT_KIND_NETDEV:
        return g_strdup_printf("netdev-%s", name);
    default:
        return g_strdup(name);
    }
}

static gint qom_type_entry_cmp(gconstpointer a, gconstpointer b)
{
    const QomTypeEntry *ea = *(const QomTypeEntry *const *)a;
    const QomTypeEntry *eb = *(const QomTypeEntry *const *)b;

    return strcmp(ea->name, eb->name);
}

/* The QOM-style name of any GType in the hierarchy (new string). */
static char *qom_type_display_name(GType t)
{
    ObjectKind kind;
    const char *reg = object_type_registered_name(t, &kind);

    if (reg) {
        return qom_registered_display_name(kind, reg);
    }
    if (t == USER_TYPE_OBJECT) {
        return g_strdup("object");
    }
    return g_ascii_strdown(g_type_name(t), -1);
}

/* Every registered type of every kind, plus their abstract ancestors up to
 * UserObject, sorted by name. */
static GPtrArray *qom_all_types(void)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(qom_type_entry_free);
    g_autoptr(GHashTable) seen_bases = g_hash_table_new(g_direct_hash,
                                                        g_direct_equal);

    for (int k = 0; k < OBJECT_KIND__MAX; k++) {
        g_autoptr(GList) names = object_type_list(k);

        for (GList *l = names; l; l = l->next) {
            GType t = object_type_lookup(k, l->data);
            QomTypeEntry *e = g_new0(QomTypeEntry, 1);

            e->name = qom_registered_display_name(k, l->data);
            e->gtype = t;
            g_ptr_array_add(out, e);
            for (GType a = g_type_parent(t);
                 a && g_type_is_a(a, USER_TYPE_OBJECT); a = g_type_parent(a)) {
                if (object_type_registered_name(a, NULL) ||
                    g_hash_table_contains(seen_bases, GSIZE_TO_POINTER(a))) {
                    continue;
                }
                g_hash_table_add(seen_bases, GSIZE_TO_POINTER(a));
                e = g_new0(QomTypeEntry, 1);
                e->name = qom_type_display_name(a);
                e->gtype = a;
                e->abstract = TRUE;
                g_ptr_array_add(out, e);
            }
        }
    }
    g_ptr_array_sort(out, qom_type_entry_cmp);
    return out;
}

static const QomTypeEntry *qom_find_type(GPtrArray *types, const char *name)
{
    for (guint i = 0; i < types->len; i++) {
        const QomTypeEntry *e = types->pdata[i];

        if (strcmp(e->name, name) == 0) {
            return e;
        }
    }
    /* also the plain registered name of a chardev / netdev backend, and
     * a GType name */
    for (int k = 0; k < OBJECT_KIND__MAX; k++) {
        GType t = object_type_lookup(k, name);

        for (guint i = 0; t && i < types->len; i++) {
            const QomTypeEntry *e = types->pdata[i];

            if (e->gtype == t) {
                return e;
            }
        }
    }
    for (guint i = 0; i < types->len; i++) {
        const QomTypeEntry *e = types->pdata[i];

        if (strcmp(g_type_name(e->gtype), name) == 0) {
            return e;
        }
    }
    return NULL;
}

/* qom-list-types: [implements], [abstract] -> [ { "name", "parent" } ] */
gboolean qmp_qom_list_types(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(GPtrArray) types = qom_all_types();
    const char *implements = NULL;
    gboolean abstract = FALSE;
    GType base = G_TYPE_INVALID;
    JsonArray *arr;

    if (!qmp_arg_str(args, "implements", FALSE, &implements, errp) ||
        !qmp_arg_bool(args, "abstract", FALSE, &abstract, errp)) {
        return FALSE;
    }
    arr = json_array_new();
    if (implements) {
        const QomTypeEntry *e = qom_find_type(types, implements);

        /* QEMU returns an empty list for an unknown type */
        base = e ? e->gtype : G_TYPE_INVALID;
    }
    for (guint i = 0; i < types->len && (!implements || base); i++) {
        const QomTypeEntry *e = types->pdata[i];
        JsonObject *o;
        GType parent;

        if ((e->abstract && !abstract) ||
            (base && !g_type_is_a(e->gtype, base))) {
            continue;
        }
        o = json_object_new();
        json_object_set_string_member(o, "name", e->name);
        if (e->abstract) {
            json_object_set_boolean_member(o, "abstract", TRUE);
        }
        parent = g_type_parent(e->gtype);
        if (parent && g_type_is_a(parent, USER_TYPE_OBJECT)) {
            g_autofree char *pn = qom_type_display_name(parent);

            json_object_set_string_member(o, "parent", pn);
        }
        json_array_add_object_element(arr, o);
    }
    *ret = json_node_init_array(json_node_alloc(), arr);
    json_array_unref(arr);
    return TRUE;
}

/* qom-list-properties: typename -> [ { "name", "type", "description",
 * "default-value" } ].  Works from the class alone: never creates an
 * object. */
gboolean qmp_qom_list_properties(JsonObject *args, JsonNode **ret,
                                 GError **errp)
{
    g_autoptr(GPtrArray) types = qom_all_types();
    g_autofree GParamSpec **specs = NULL;
    const QomTypeEntry *e;
    const char *typename = NULL;
    GObjectClass *klass;
    JsonArray *arr;
    guint n = 0;

    if (!qmp_arg_str(args, "typename", TRUE, &typename, errp)) {
        return FALSE;
    }
    e = qom_find_type(types, typename);
    if (!e) {
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "Class '%s' not found", typename);
        return FALSE;
    }
    klass = g_type_class_ref(e->gtype);
    arr = json_array_new();
    specs = g_object_class_list_properties(klass, &n);
    for (guint i = 0; i < n; i++) {
        GParamSpec *pspec = specs[i];
        JsonObject *o = json_object_new();
        const char *blurb = g_param_spec_get_blurb(pspec);

        json_object_set_string_member(o, "name",
                                      object_property_user_name(pspec));
        json_object_set_string_member(o, "type", qom_prop_type(pspec));
        if (blurb && *blurb) {
            json_object_set_string_member(o, "description", blurb);
        }
        if (!(G_VALUE_HOLDS_STRING(g_param_spec_get_default_value(pspec)) &&
              !g_value_get_string(g_param_spec_get_default_value(pspec)))) {
            json_object_set_member(o, "default-value",
                                   qom_value_to_json(pspec,
                                       g_param_spec_get_default_value(pspec)));
        }
        json_array_add_object_element(arr, o);
    }
    g_type_class_unref(klass);
    *ret = json_node_init_array(json_node_alloc(), arr);
    json_array_unref(arr);
    return TRUE;
}

/* ------------------------------------------------------------------------
 * query-iothreads: QEMU's list, with the polling counters.
 */
gboolean qmp_query_iothreads(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonArray *a = json_array_new();
    GList *objs = user_object_list(OBJECT_KIND_OBJECT);

    (void) args;
    (void) errp;
    for (GList *l = objs; l; l = l->next) {
        JsonObject *o;
        IOThreadInfo info;

        if (!IO_IS_THREAD(l->data)) {
            continue;
        }
        iothread_get_info(IO_THREAD(l->data), &info);
        o = json_object_new();
        json_object_set_string_member(o, "id",
                                      user_object_get_id(l->data));
        json_object_set_int_member(o, "thread-id", info.thread_id);
        json_object_set_int_member(o, "poll-max-ns", info.poll_max_ns);
        json_object_set_int_member(o, "poll-grow", info.poll_grow);
        json_object_set_int_member(o, "poll-shrink", info.poll_shrink);
        json_object_set_int_member(o, "aio-max-batch", info.aio_max_batch);
        json_object_set_int_member(o, "poll-ns", info.poll_ns);
        json_object_set_int_member(o, "waits", (gint64) info.waits);
        json_object_set_int_member(o, "found-polling",
                                   (gint64) info.found_polling);
        json_array_add_object_element(a, o);
    }
    g_list_free(objs);
    *ret = json_node_init_array(json_node_alloc(), a);
    json_array_unref(a);
    return TRUE;
}
