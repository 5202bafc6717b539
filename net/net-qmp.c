/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/net-qmp.c - QMP commands of the net core (schema: qapi/net.json).
 *
 * netdev_add / netdev_del create and delete backends through the object
 * registry (qom/object.c), exactly as -netdev does; query-netfilters,
 * query-netfilter-stats and query-netdev-stats report the filter chains
 * (net/filter.c) and the counters of the send path (net/net.c) plus each
 * type's own counters (its fill_stats()).  Built into the monitor
 * library so that the net library does not depend on the monitor.
 *
 * Threads: main context (QMP handlers).
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "util/qmp-handler.h"
#include "net/filter.h"
#include "net/net.h"
#include "net/queue.h"
#include "qom/qom-qmp.h"
#include "qapi-commands.h"
#include "util/error.h"
#include "util/stats.h"

/* --- netdev_add / netdev_del --------------------------------------------- */

gboolean qmp_netdev_add(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autoptr(GHashTable) props =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    const char *type, *id;

    if (!qmp_arg_str(args, "type", TRUE, &type, errp) ||
        !qmp_arg_str(args, "id", TRUE, &id, errp) ||
        !qom_json_to_props(args, props, errp)) {
        return FALSE;
    }
    /* user_object_create() skips the "type" and "id" keys */
    return user_object_create(OBJECT_KIND_NETDEV, type, id, props,
                              errp) != NULL;
}

gboolean qmp_netdev_del(JsonObject *args, JsonNode **ret, GError **errp)
{
    const char *id;

    if (!qmp_arg_str(args, "id", TRUE, &id, errp)) {
        return FALSE;
    }
    return user_object_delete(OBJECT_KIND_NETDEV, id, errp);
}

/* --- query-netfilters / query-netfilter-stats --------------------------- */

static const char *direction_nick(NetFilterDirection dir)
{
    g_autoptr(GEnumClass) klass = g_type_class_ref(NET_TYPE_FILTER_DIRECTION);
    GEnumValue *v = g_enum_get_value(klass, dir);

    return v ? v->value_nick : "all";
}

static const char *filter_netdev_id(NetFilter *nf)
{
    NetClient *netdev = netfilter_get_netdev(nf);

    return netdev ? user_object_get_id(USER_OBJECT(netdev)) : "";
}

static JsonNode *filter_info(NetFilter *nf, int position)
{
    JsonObject *o = json_object_new();
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);

    json_object_set_string_member(o, "id", netfilter_get_id(nf));
    json_object_set_string_member(o, "type",
                                  user_object_get_type_name(USER_OBJECT(nf)));
    json_object_set_string_member(o, "netdev", filter_netdev_id(nf));
    json_object_set_string_member(o, "queue",
                                  direction_nick(netfilter_get_direction(nf)));
    json_object_set_string_member(o, "status",
                                  netfilter_is_on(nf) ? "on" : "off");
    json_object_set_int_member(o, "position", position);
    json_node_take_object(node, o);
    return node;
}

static JsonNode *filter_stats(NetFilter *nf)
{
    JsonObject *o = json_object_new();
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    NetFilterClass *klass = NET_FILTER_GET_CLASS(nf);
    uint64_t packets, bytes;

    netfilter_get_counters(nf, &packets, &bytes);
    json_object_set_string_member(o, "id", netfilter_get_id(nf));
    json_object_set_string_member(o, "type",
                                  user_object_get_type_name(USER_OBJECT(nf)));
    json_object_set_string_member(o, "netdev", filter_netdev_id(nf));
    json_object_set_string_member(o, "status",
                                  netfilter_is_on(nf) ? "on" : "off");
    json_object_set_int_member(o, "packets", packets);
    json_object_set_int_member(o, "bytes", bytes);
    if (klass->fill_stats) {
        klass->fill_stats(nf, o);
    }
    json_node_take_object(node, o);
    return node;
}

typedef JsonNode *(*FilterFn)(NetFilter *nf, int position);

/* Calls 'fn' for every filter of 'only' (or of every netdev), chains head
 * to tail, and returns the array of results. */
static JsonNode *for_each_filter(NetClient *only, FilterFn fn)
{
    JsonArray *arr = json_array_new();
    JsonNode *node = json_node_new(JSON_NODE_ARRAY);
    g_autoptr(GList) netdevs = user_object_list(OBJECT_KIND_NETDEV);

    for (GList *l = netdevs; l; l = l->next) {
        int pos = 0;

        if (!NET_IS_CLIENT(l->data) || (only && l->data != (void *) only)) {
            continue;
        }
        for (GList *f = net_client_get_filters(l->data)->head; f;
             f = f->next) {
            json_array_add_element(arr, fn(f->data, pos++));
        }
    }
    json_node_take_array(node, arr);
    return node;
}

gboolean qmp_query_netfilters(JsonObject *args, JsonNode **ret,
                              GError **errp)
{
    const char *netdev_id = NULL;
    NetClient *only = NULL;

    if (!qmp_arg_str(args, "netdev", FALSE, &netdev_id, errp)) {
        return FALSE;
    }
    if (netdev_id) {
        only = net_find_netdev(netdev_id, errp);
        if (!only) {
            return FALSE;
        }
    }
    *ret = for_each_filter(only, filter_info);
    return TRUE;
}

static JsonNode *filter_stats_at(NetFilter *nf, int position)
{
    return filter_stats(nf);
}

gboolean qmp_query_netfilter_stats(JsonObject *args, JsonNode **ret,
                                   GError **errp)
{
    const char *id = NULL;
    UserObject *obj;
    JsonArray *arr;

    if (!qmp_arg_str(args, "id", FALSE, &id, errp)) {
        return FALSE;
    }
    if (!id) {
        *ret = for_each_filter(NULL, filter_stats_at);
        return TRUE;
    }
    obj = user_object_find(OBJECT_KIND_OBJECT, id);
    if (!obj || !NET_IS_FILTER(obj)) {
        error_setg(errp, "filter '%s' not found", id);
        return FALSE;
    }
    arr = json_array_new();
    json_array_add_element(arr, filter_stats(NET_FILTER(obj)));
    *ret = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(*ret, arr);
    return TRUE;
}

/* --- query-netdev-stats ---------------------------------------------------- */

static JsonNode *client_stats(NetClient *nc)
{
    JsonObject *o = json_object_new();
    JsonObject *c = json_object_new();
    JsonObject *backend = json_object_new();
    JsonNode *node = json_node_new(JSON_NODE_OBJECT);
    NetClientClass *klass = NET_CLIENT_GET_CLASS(nc);
    NetClientStats *s = net_client_get_stats(nc);
    NetClient *peer = net_client_get_peer(nc);
    guint queue_size = 0;

    g_object_get(nc, "queue-size", &queue_size, NULL);
    json_object_set_string_member(o, "id", user_object_get_id(USER_OBJECT(nc)));
    json_object_set_string_member(o, "role",
                                  net_client_get_role(nc) == NET_ROLE_DEVICE ?
                                  "device" : "netdev");
    json_object_set_string_member(o, "type",
                                  user_object_get_type_name(USER_OBJECT(nc)));
    if (peer) {
        json_object_set_string_member(o, "peer",
                                      user_object_get_id(USER_OBJECT(peer)));
    }
    json_object_set_int_member(o, "vnet-hdr-len",
                               net_client_get_vnet_hdr_len(nc));

    json_object_set_int_member(c, "rx-frames", stats_read(&s->rx_frames));
    json_object_set_int_member(c, "rx-bytes", stats_read(&s->rx_bytes));
    json_object_set_int_member(c, "tx-frames", stats_read(&s->tx_frames));
    json_object_set_int_member(c, "tx-bytes", stats_read(&s->tx_bytes));
    json_object_set_int_member(c, "queued", stats_read(&s->queued));
    json_object_set_int_member(c, "queue-len", net_client_get_queue_len(nc));
    json_object_set_int_member(c, "queue-size", queue_size);
    json_object_set_int_member(c, "drop-queue-full",
                               stats_read(&s->drop_queue_full));
    json_object_set_int_member(c, "drop-no-peer",
                               stats_read(&s->drop_no_peer));
    json_object_set_int_member(c, "drop-error", stats_read(&s->drop_error));
    json_object_set_int_member(c, "drop-malformed",
                               stats_read(&s->drop_malformed));
    json_object_set_object_member(o, "counters", c);

    if (klass->fill_stats) {
        klass->fill_stats(nc, backend);
    }
    if (json_object_get_size(backend)) {
        json_object_set_object_member(o, "backend", backend);
    } else {
        json_object_unref(backend);
    }
    json_node_take_object(node, o);
    return node;
}

static void add_clients(JsonArray *arr, ObjectKind kind, const char *only)
{
    g_autoptr(GList) list = user_object_list(kind);

    for (GList *l = list; l; l = l->next) {
        if (!NET_IS_CLIENT(l->data) ||
            (only && strcmp(user_object_get_id(l->data), only) != 0)) {
            continue;
        }
        json_array_add_element(arr, client_stats(l->data));
    }
}

gboolean qmp_query_netdev_stats(JsonObject *args, JsonNode **ret,
                                GError **errp)
{
    const char *id = NULL;
    JsonArray *arr;

    if (!qmp_arg_str(args, "id", FALSE, &id, errp)) {
        return FALSE;
    }
    arr = json_array_new();
    add_clients(arr, OBJECT_KIND_NETDEV, id);
    if (!id || json_array_get_length(arr) == 0) {
        add_clients(arr, OBJECT_KIND_DEVICE, id);
    }
    if (id && json_array_get_length(arr) == 0) {
        json_array_unref(arr);
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", id);
        return FALSE;
    }
    *ret = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(*ret, arr);
    return TRUE;
}
