/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/passthrough-qmp.c - QMP commands of passthrough rules and the
 * checkpoint policy of colo-compare (schema: qapi/passthrough.json).
 *
 * The rules and the policy live on each compare's iothread
 * (include/net/compare-storm.h); every command hands its work over with
 * colo_compare_storm_call(), which waits (road 1 of
 * docs/devel/architecture.md).
 *
 * Threads: main context (QMP handlers).
 */
#include <json-glib/json-glib.h>

#include "net/compare-storm.h"
#include "qapi-commands.h"
#include "util/error.h"
#include "util/qmp-handler.h"

typedef struct RuleOp {
    bool add;
    PassthroughRule rule;
    GError *err;
} RuleOp;

static void rule_op_fn(const char *id, ColoStorm *st, void *data)
{
    RuleOp *op = data;

    (void) id;
    if (op->add) {
        passthrough_table_add(colo_storm_rules(st), &op->rule, &op->err);
    } else {
        passthrough_table_del(colo_storm_rules(st), &op->rule, &op->err);
    }
}

static gboolean rule_op(JsonObject *args, bool add, GError **errp)
{
    const char *id = NULL, *text = NULL;
    RuleOp op = { .add = add };

    if (!qmp_arg_str(args, "id", TRUE, &id, errp)
        || !qmp_arg_str(args, "rule", TRUE, &text, errp)
        || !passthrough_rule_parse(text, &op.rule, errp)
        || !colo_compare_storm_call(id, rule_op_fn, &op, errp)) {
        return FALSE;
    }
    if (op.err) {
        g_propagate_error(errp, op.err);
        return FALSE;
    }
    return TRUE;
}

gboolean qmp_colo_passthrough_add(JsonObject *args, JsonNode **ret,
                                  GError **errp)
{
    (void) ret;
    return rule_op(args, true, errp);
}

gboolean qmp_colo_passthrough_del(JsonObject *args, JsonNode **ret,
                                  GError **errp)
{
    (void) ret;
    return rule_op(args, false, errp);
}

static void list_fn(const char *id, ColoStorm *st, void *data)
{
    JsonArray *arr = data;
    PassthroughTable *t = colo_storm_rules(st);
    char text[PASSTHROUGH_RULE_STRLEN];

    for (unsigned i = 0; i < passthrough_table_count(t); i++) {
        const PassthroughRule *r = passthrough_table_get(t, i);
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "id", id);
        json_object_set_string_member(o, "rule",
                                      passthrough_rule_format(r, text));
        json_object_set_int_member(o, "primary-packets",
                                   (gint64) r->primary_packets);
        json_object_set_int_member(o, "primary-bytes",
                                   (gint64) r->primary_bytes);
        json_object_set_int_member(o, "secondary-dropped",
                                   (gint64) r->secondary_dropped);
        json_array_add_object_element(arr, o);
    }
}

static void status_fn(const char *id, ColoStorm *st, void *data)
{
    JsonArray *arr = data;
    PassthroughTable *t = colo_storm_rules(st);
    JsonObject *o = colo_storm_status(st);

    (void) id;
    json_object_set_int_member(o, "rules", passthrough_table_count(t));
    json_object_set_int_member(o, "max-rules", passthrough_table_max(t));
    json_object_set_int_member(o, "rules-refused-full",
                               (gint64) passthrough_table_refused_full(t));
    json_array_add_object_element(arr, o);
}

static gboolean query(JsonObject *args, JsonNode **ret,
                      void (*fn)(const char *, ColoStorm *, void *),
                      GError **errp)
{
    const char *id = NULL;
    JsonArray *arr;

    if (!qmp_arg_str(args, "id", FALSE, &id, errp)) {
        return FALSE;
    }
    arr = json_array_new();
    if (!colo_compare_storm_call(id, fn, arr, errp)) {
        json_array_unref(arr);
        return FALSE;
    }
    *ret = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(*ret, arr);
    return TRUE;
}

gboolean qmp_query_colo_passthrough(JsonObject *args, JsonNode **ret,
                                    GError **errp)
{
    return query(args, ret, list_fn, errp);
}

gboolean qmp_query_colo_storm(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    return query(args, ret, status_fn, errp);
}
