/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * monitor/metrics.c - the query-* replies as Prometheus metrics
 * (include/monitor/metrics.h has the rules).
 *
 * Why through the dispatcher and not from the objects' fields: the query
 * handlers already take each object's snapshot in its home thread (a
 * colo-compare's run_sync() on its iothread) and are the documented
 * meaning of every number; exporting their replies keeps one source of
 * truth, and a member added to a query appears here without a line of
 * code (as a counter, unless the table below says it is a gauge).
 */
#include <string.h>
#include <json-glib/json-glib.h>

#include "monitor/metrics.h"
#include "monitor/qmp-internal.h"
#include "qom/object.h"

typedef struct MetricRename {
    const char *member;        /* member name in the reply */
    const char *name;          /* metric name after the prefix */
    double divisor;            /* value / divisor; 0 = 1 */
    gboolean gauge;
} MetricRename;

typedef struct MetricGroup {
    const char *command;       /* a query command without arguments */
    const char *prefix;        /* metric name prefix, with its '_' */
    const char *id_member;     /* list entries: the member naming each */
    const char *type;          /* label "type" when entries have none */
    const char *const *gauges; /* integer members that are levels */
    const MetricRename *renames;
    gboolean per_frame;        /* takes "frame": run once per colo-frame
                                * when there are several, label "frame" */
} MetricGroup;

static const char *const compare_gauges[] = {
    "held", "held-max", "queue-max", "max-queue-size", "connections",
    "max-connections", "connections-peak", "out-backlog", "out-backlog-max",
    NULL,
};
static const MetricRename compare_renames[] = {
    { "connection-memory", "connection_memory_bytes", 0, TRUE },
    { NULL },
};
static const char *const netfilter_gauges[] = {
    "queued", "held-now", "connections", "connections-with-offset",
    "max-connections", "copies-held", NULL,
};
static const MetricRename netfilter_renames[] = {
    { "out-queued", "out_queued_bytes", 0, TRUE },
    { "read-wait-max-us", "read_wait_max_seconds", 1000000, TRUE },
    { NULL },
};
static const MetricRename out_queued_renames[] = {
    { "out-queued", "out_queued_bytes", 0, TRUE },
    { NULL },
};
static const char *const netdev_gauges[] = {
    "vnet-hdr-len", "queue-len", "queue-size", "out-pending-bytes", NULL,
};
static const char *const heartbeat_gauges[] = {
    "seq-sent", "seq-received", "qemu-gone-after", NULL,
};
static const MetricRename heartbeat_renames[] = {
    { "interval", "interval_seconds", 1000, TRUE },
    { "timeout", "timeout_seconds", 1000, TRUE },
    { NULL },
};
static const char *const qmp_gauges[] = { "monitors", "clients", NULL };
static const char *const quorum_gauges[] = { "node-id", "epoch", NULL };
static const char *const tls_gauges[] = { "pending", NULL };
static const char *const iothread_gauges[] = {
    "thread-id", "poll-grow", "poll-shrink", "aio-max-batch", NULL,
};

static const MetricGroup metric_groups[] = {
    { "query-colo-compare-stats", "colo_proxy_compare_", "id",
      "colo-compare", compare_gauges, compare_renames },
    { "query-colo-stats", "colo_proxy_colo_", NULL, NULL, NULL, NULL,
      TRUE },
    { "query-colo-status", "colo_proxy_colo_status_", NULL, NULL, NULL,
      NULL, TRUE },
    { "query-colo-heartbeat", "colo_proxy_heartbeat_", "id",
      "colo-heartbeat", heartbeat_gauges, heartbeat_renames },
    { "query-netfilter-stats", "colo_proxy_netfilter_", "id", NULL,
      netfilter_gauges, netfilter_renames },
    { "query-netdev-stats", "colo_proxy_netdev_", "id", NULL,
      netdev_gauges, NULL },
    { "query-chardev-stats", "colo_proxy_chardev_", "label", "chardev",
      NULL, out_queued_renames },
    { "query-iothreads", "colo_proxy_iothread_", "id", "iothread",
      iothread_gauges, NULL },
    { "query-colo-quorum", "colo_proxy_quorum_", "id", "colo-quorum",
      quorum_gauges, NULL },
    { "query-tls", "colo_proxy_tls_", "link", NULL, tls_gauges, NULL },
    { "query-qmp-stats", "colo_proxy_qmp_", NULL, NULL, qmp_gauges, NULL },
    { "query-status", "colo_proxy_status_", NULL, NULL, NULL, NULL },
};

/* Objects flattened into their parent's prefix, and those whose members
 * are labelled with their name. */
static const char *const inline_members[] = { "counters", "backend", NULL };
static const char *const side_members[] = { "primary", "secondary", NULL };

/* Histograms with a name of their own (the one the docs promise). */
static const struct {
    const char *command, *member, *name;
} histogram_names[] = {
    { "query-colo-compare-stats", "hold-time", "colo_proxy_compare_hold_seconds" },
    { "query-colo-stats", "checkpoint-duration",
      "colo_proxy_checkpoint_duration_seconds" },
    { "query-netfilter-stats", "read-wait",
      "colo_proxy_netfilter_read_wait_seconds" },
};

/* --- families ------------------------------------------------------------ */

typedef struct Family {
    char *name;
    const char *type;          /* "counter", "gauge", "histogram" */
    char *help;
    GString *samples;
} Family;

typedef struct Expo {
    GHashTable *by_name;       /* name -> Family (owned by 'order') */
    GPtrArray *order;          /* first-seen order */
    guint conflicts;           /* a name met with two types: not exported */
} Expo;

static void family_free(gpointer p)
{
    Family *f = p;

    g_free(f->name);
    g_free(f->help);
    g_string_free(f->samples, TRUE);
    g_free(f);
}

/* The family 'name' of 'type', created with 'help' on first use; NULL if
 * the name is taken by another type (a table mistake; counted). */
static Family *expo_family(Expo *x, const char *name, const char *type,
                           const char *help)
{
    Family *f = g_hash_table_lookup(x->by_name, name);

    if (f) {
        if (strcmp(f->type, type) != 0) {
            x->conflicts++;
            return NULL;
        }
        return f;
    }
    f = g_new0(Family, 1);
    f->name = g_strdup(name);
    f->type = type;
    f->help = g_strdup(help);
    f->samples = g_string_new(NULL);
    g_hash_table_insert(x->by_name, f->name, f);
    g_ptr_array_add(x->order, f);
    return f;
}

/* A metric or label name: [a-zA-Z0-9_] ('-' and anything else as '_'). */
static void append_name(GString *s, const char *member)
{
    for (const char *p = member; *p; p++) {
        g_string_append_c(s, g_ascii_isalnum(*p) ? g_ascii_tolower(*p) : '_');
    }
}

/* A label value: backslash, double quote and line feed escaped. */
static void append_label_value(GString *s, const char *v)
{
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '\\':
            g_string_append(s, "\\\\");
            break;
        case '"':
            g_string_append(s, "\\\"");
            break;
        case '\n':
            g_string_append(s, "\\n");
            break;
        default:
            g_string_append_c(s, *p);
        }
    }
}

/* Appends ',name="value"' (or without the comma to an empty set). */
static void label_add(GString *labels, const char *name, const char *value)
{
    if (labels->len) {
        g_string_append_c(labels, ',');
    }
    append_name(labels, name);
    g_string_append(labels, "=\"");
    append_label_value(labels, value);
    g_string_append_c(labels, '"');
}

static void sample_line(Family *f, const char *suffix, const char *labels,
                        const char *value)
{
    g_string_append(f->samples, f->name);
    g_string_append(f->samples, suffix);
    if (labels && *labels) {
        g_string_append_printf(f->samples, "{%s}", labels);
    }
    g_string_append_printf(f->samples, " %s\n", value);
}

static void sample_int(Family *f, const char *labels, gint64 v)
{
    char buf[32];

    g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, v);
    sample_line(f, "", labels, buf);
}

static void sample_double(Family *f, const char *suffix, const char *labels,
                          double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];

    /* the C locale's '.', whatever LC_NUMERIC says */
    g_ascii_formatd(buf, sizeof(buf), "%.9g", v);
    sample_line(f, suffix, labels, buf);
}

/* --- walking a reply ----------------------------------------------------- */

static gboolean in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++) {
        if (strcmp(*list, s) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

static const MetricRename *find_rename(const MetricGroup *g,
                                       const char *member)
{
    for (const MetricRename *r = g->renames; r && r->member; r++) {
        if (strcmp(r->member, member) == 0) {
            return r;
        }
    }
    return NULL;
}

static gboolean node_is_int(JsonNode *n)
{
    return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64;
}

/* An object of integers only (a reason map); an empty one counts. */
static gboolean is_int_map(JsonObject *o)
{
    g_autoptr(GList) vals = json_object_get_values(o);

    for (GList *l = vals; l; l = l->next) {
        if (!node_is_int(l->data)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* A Histogram of qapi/metrics.json. */
static gboolean is_histogram(JsonObject *o)
{
    return json_object_has_member(o, "buckets")
           && json_object_has_member(o, "sum-us")
           && json_object_has_member(o, "count");
}

static const char *map_label(const char *member)
{
    if (strcmp(member, "framing-errors") == 0) {
        return "link";
    }
    if (strcmp(member, "unsupported") == 0) {
        return "verdict";
    }
    return "reason";
}

static void emit_histogram(Expo *x, const char *name, const char *help,
                           const char *labels, JsonObject *h)
{
    Family *f = expo_family(x, name, "histogram", help);
    JsonArray *b;
    g_autoptr(GString) l = g_string_new(NULL);

    if (!f) {
        return;
    }
    b = json_object_get_array_member(h, "buckets");
    for (guint i = 0; b && i < json_array_get_length(b); i++) {
        JsonObject *e = json_array_get_object_element(b, i);
        char le[G_ASCII_DTOSTR_BUF_SIZE];
        char v[32];

        if (!e) {
            continue;
        }
        g_string_assign(l, labels);
        g_ascii_formatd(le, sizeof(le), "%.9g",
            (double) json_object_get_int_member(e, "le-us") / 1e6);
        label_add(l, "le", le);
        g_snprintf(v, sizeof(v), "%" G_GINT64_FORMAT,
                   json_object_get_int_member(e, "count"));
        sample_line(f, "_bucket", l->str, v);
    }
    g_string_assign(l, labels);
    label_add(l, "le", "+Inf");
    {
        char v[32];

        g_snprintf(v, sizeof(v), "%" G_GINT64_FORMAT,
                   json_object_get_int_member(h, "count"));
        sample_line(f, "_bucket", l->str, v);
        sample_double(f, "_sum", labels,
            (double) json_object_get_int_member(h, "sum-us") / 1e6);
        sample_line(f, "_count", labels, v);
    }
}

static void walk(Expo *x, const MetricGroup *g, const char *prefix,
                 const char *help_path, JsonObject *o, const char *labels,
                 GString *info);

/* One member 'm' of an object of 'g'. */
static void walk_member(Expo *x, const MetricGroup *g, const char *prefix,
                        const char *help_path, const char *m, JsonNode *n,
                        const char *labels, GString *info)
{
    g_autoptr(GString) name = g_string_new(prefix);
    g_autofree char *help = g_strdup_printf("%s: %s%s", g->command,
                                            help_path, m);
    const MetricRename *r = find_rename(g, m);
    size_t mlen = strlen(m);
    Family *f;

    if (JSON_NODE_HOLDS_OBJECT(n)) {
        JsonObject *sub = json_node_get_object(n);

        if (is_histogram(sub)) {
            const char *hname = NULL;

            for (guint i = 0; i < G_N_ELEMENTS(histogram_names); i++) {
                if (!strcmp(histogram_names[i].command, g->command)
                    && !strcmp(histogram_names[i].member, m)) {
                    hname = histogram_names[i].name;
                }
            }
            if (!hname) {
                append_name(name, m);
                g_string_append(name, "_seconds");
                hname = name->str;
            }
            emit_histogram(x, hname, help, labels, sub);
        } else if (in_list(side_members, m)) {
            g_autoptr(GString) l = g_string_new(labels);
            /* one HELP for both halves */
            g_autofree char *sides = g_strjoinv("|", (char **) side_members);
            g_autofree char *path = g_strdup_printf("%s{%s}.", help_path,
                                                    sides);

            label_add(l, "side", m);
            walk(x, g, prefix, path, sub, l->str, NULL);
        } else if (in_list(inline_members, m)) {
            g_autofree char *path = g_strdup_printf("%s%s.", help_path, m);

            walk(x, g, prefix, path, sub, labels, info);
        } else if (is_int_map(sub)) {
            gboolean gauge = in_list(g->gauges, m);
            g_autoptr(GList) keys = json_object_get_members(sub);

            append_name(name, m);
            if (!gauge) {
                g_string_append(name, "_total");
            }
            f = expo_family(x, name->str, gauge ? "gauge" : "counter", help);
            for (GList *k = keys; f && k; k = k->next) {
                g_autoptr(GString) l = g_string_new(labels);

                label_add(l, map_label(m), k->data);
                sample_int(f, l->str,
                           json_object_get_int_member(sub, k->data));
            }
        } else {
            g_autofree char *path = g_strdup_printf("%s%s.", help_path, m);

            append_name(name, m);
            g_string_append_c(name, '_');
            walk(x, g, name->str, path, sub, labels, NULL);
        }
        return;
    }
    if (!JSON_NODE_HOLDS_VALUE(n)) {
        return;                 /* arrays and nulls: nothing to count */
    }
    switch (json_node_get_value_type(n)) {
    case G_TYPE_STRING:
        if (info) {
            label_add(info, m, json_node_get_string(n));
        }
        return;
    case G_TYPE_BOOLEAN:
        append_name(name, m);
        f = expo_family(x, name->str, "gauge", help);
        if (f) {
            sample_int(f, labels, json_node_get_boolean(n) ? 1 : 0);
        }
        return;
    case G_TYPE_DOUBLE:
        append_name(name, m);
        f = expo_family(x, name->str, "gauge", help);
        if (f) {
            sample_double(f, "", labels, json_node_get_double(n));
        }
        return;
    case G_TYPE_INT64:
        break;
    default:
        return;
    }
    if (r) {
        g_string_append(name, r->name);
        f = expo_family(x, name->str, r->gauge ? "gauge" : "counter", help);
        if (f && r->divisor) {
            sample_double(f, "", labels,
                          (double) json_node_get_int(n) / r->divisor);
        } else if (f) {
            sample_int(f, labels, json_node_get_int(n));
        }
        return;
    }
    if (mlen > 3 && m[mlen - 3] == '-' && m[mlen - 1] == 's'
        && strchr("mun", m[mlen - 2])) {
        /* a duration in ms/us/ns: a gauge in seconds; negative means
         * "never" (heartbeat since-ms -1) and has no sample */
        static const double div[] = { 1e3, 1e6, 1e9 };
        gint64 v = json_node_get_int(n);
        g_autofree char *stem = g_strndup(m, mlen - 3);

        append_name(name, stem);
        g_string_append(name, "_seconds");
        f = expo_family(x, name->str, "gauge", help);
        if (f && v >= 0) {
            sample_double(f, "", labels,
                (double) v / div[strchr("mun", m[mlen - 2]) - "mun"]);
        }
        return;
    }
    append_name(name, m);
    if (in_list(g->gauges, m)) {
        f = expo_family(x, name->str, "gauge", help);
    } else {
        g_string_append(name, "_total");
        f = expo_family(x, name->str, "counter", help);
    }
    if (f) {
        sample_int(f, labels, json_node_get_int(n));
    }
}

/* The members of 'o' under 'prefix'; strings go to 'info' (NULL: none). */
static void walk(Expo *x, const MetricGroup *g, const char *prefix,
                 const char *help_path, JsonObject *o, const char *labels,
                 GString *info)
{
    g_autoptr(GList) members = json_object_get_members(o);

    for (GList *l = members; l; l = l->next) {
        const char *m = l->data;

        if (!help_path[0] && ((g->id_member && !strcmp(m, g->id_member))
                              || !strcmp(m, "type")
                              || (g->per_frame && !strcmp(m, "frame")))) {
            continue;           /* already labels */
        }
        walk_member(x, g, prefix, help_path, m,
                    json_object_get_member(o, m), labels, info);
    }
}

/* One object of group 'g' (an element of a list, or the one reply). */
static void walk_top(Expo *x, const MetricGroup *g, JsonObject *o,
                     const char *frame)
{
    g_autoptr(GString) labels = g_string_new(NULL);
    g_autoptr(GString) info = NULL;
    const char *type = g->type;

    if (g->id_member && json_object_has_member(o, g->id_member)) {
        label_add(labels, "id",
                  json_object_get_string_member(o, g->id_member));
    }
    if (json_object_has_member(o, "type")
        && JSON_NODE_HOLDS_VALUE(json_object_get_member(o, "type"))) {
        type = json_object_get_string_member(o, "type");
    }
    if (type) {
        label_add(labels, "type", type);
    }
    if (frame) {
        label_add(labels, "frame", frame);
    }
    info = g_string_new(labels->str);
    walk(x, g, g->prefix, "", o, labels->str, info);
    if (info->len > labels->len) {
        g_autofree char *name = g_strconcat(g->prefix, "info", NULL);
        g_autofree char *help = g_strdup_printf("%s: its string members "
                                                "as labels", g->command);
        Family *f = expo_family(x, name, "gauge", help);

        if (f) {
            sample_int(f, info->str, 1);
        }
    }
}

/* Runs 'command' (no arguments) through the dispatcher; its "return"
 * (new reference) or NULL. */
static JsonNode *run_query_frame(const char *command, const char *frame)
{
    QmpSession session = { .negotiated = TRUE };
    g_autoptr(JsonObject) req = json_object_new();
    g_autoptr(JsonObject) reply = NULL;

    json_object_set_string_member(req, "execute", command);
    if (frame) {
        JsonObject *args = json_object_new();

        json_object_set_string_member(args, "frame", frame);
        json_object_set_object_member(req, "arguments", args);
    }
    reply = qmp_dispatch_session(&session, req);
    if (!reply || !json_object_has_member(reply, "return")) {
        return NULL;
    }
    return json_node_copy(json_object_get_member(reply, "return"));
}

static JsonNode *run_query(const char *command)
{
    return run_query_frame(command, NULL);
}

/* The ids of the colo-frame objects when there are several (the COLO
 * queries then need "frame"); NULL with one or none.  New list of
 * borrowed strings. */
static GList *several_frames(void)
{
    g_autoptr(GList) objs = user_object_list(OBJECT_KIND_OBJECT);
    GList *ids = NULL;

    for (GList *l = objs; l; l = l->next) {
        if (!strcmp(user_object_get_type_name(l->data), "colo-frame")) {
            ids = g_list_append(ids, (gpointer) user_object_get_id(l->data));
        }
    }
    if (g_list_length(ids) < 2) {
        g_clear_pointer(&ids, g_list_free);
    }
    return ids;
}

/* One reply of group 'g' (for colo-frame 'frame', or NULL). */
static void walk_reply(Expo *x, const MetricGroup *g, const char *frame,
                       guint *errors)
{
    g_autoptr(JsonNode) ret = run_query_frame(g->command, frame);

    if (!ret) {
        (*errors)++;
    } else if (JSON_NODE_HOLDS_ARRAY(ret)) {
        JsonArray *a = json_node_get_array(ret);

        for (guint j = 0; j < json_array_get_length(a); j++) {
            JsonObject *o = json_array_get_object_element(a, j);

            if (o) {
                walk_top(x, g, o, frame);
            }
        }
    } else if (JSON_NODE_HOLDS_OBJECT(ret)) {
        walk_top(x, g, json_node_get_object(ret), frame);
    }
}

/* The rewriters' tracked connections by filter and state (the list of
 * query-colo-rewriter-connections, counted). */
static void rewriter_connections(Expo *x, guint *errors)
{
    g_autoptr(JsonNode) ret = run_query("query-colo-rewriter-connections");
    g_autoptr(GHashTable) counts = g_hash_table_new_full(g_str_hash,
        g_str_equal, g_free, NULL);
    JsonArray *a;
    Family *f;
    GHashTableIter it;
    gpointer k, v;

    if (!ret || !JSON_NODE_HOLDS_ARRAY(ret)) {
        (*errors)++;
        return;
    }
    a = json_node_get_array(ret);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *c = json_array_get_object_element(a, i);
        g_autoptr(GString) l = g_string_new(NULL);

        if (!c) {
            continue;
        }
        label_add(l, "id", json_object_get_string_member_with_default(
                      c, "filter", ""));
        label_add(l, "type", "filter-rewriter");
        label_add(l, "state", json_object_get_string_member_with_default(
                      c, "state", ""));
        k = g_string_free(g_steal_pointer(&l), FALSE);
        v = g_hash_table_lookup(counts, k);
        g_hash_table_replace(counts, k, GUINT_TO_POINTER(
                             GPOINTER_TO_UINT(v) + 1));
    }
    f = expo_family(x, "colo_proxy_rewriter_connections", "gauge",
                    "query-colo-rewriter-connections: connections listed, "
                    "by filter and state");
    g_hash_table_iter_init(&it, counts);
    while (f && g_hash_table_iter_next(&it, &k, &v)) {
        sample_int(f, k, GPOINTER_TO_UINT(v));
    }
}

/* Since start-up: queries that failed during a scrape, and members a
 * name conflict kept out (main context only). */
static guint64 query_errors_total;
static guint64 name_conflicts_total;

GString *metrics_render(void)
{
    Expo x = {
        .by_name = g_hash_table_new(g_str_hash, g_str_equal),
        .order = g_ptr_array_new_with_free_func(family_free),
    };
    GString *out = g_string_sized_new(16384);
    guint errors = 0;
    GList *frames;
    Family *f;

    {
        g_autoptr(JsonNode) v = run_query("query-version");
        g_autoptr(GString) l = g_string_new(NULL);
        JsonObject *o = v && JSON_NODE_HOLDS_OBJECT(v)
                        ? json_node_get_object(v) : NULL;

        label_add(l, "version", o ?
            json_object_get_string_member_with_default(o, "package", "") : "");
        f = expo_family(&x, "colo_proxy_build_info", "gauge",
                        "query-version: the package as a label");
        sample_int(f, l->str, 1);
    }
    frames = several_frames();
    for (guint i = 0; i < G_N_ELEMENTS(metric_groups); i++) {
        const MetricGroup *g = &metric_groups[i];

        if (g->per_frame && frames) {
            for (GList *l = frames; l; l = l->next) {
                walk_reply(&x, g, l->data, &errors);
            }
        } else {
            walk_reply(&x, g, NULL, &errors);
        }
    }
    g_list_free(frames);
    rewriter_connections(&x, &errors);
    f = expo_family(&x, "colo_proxy_metrics_query_errors_total", "counter",
                    "query commands that failed during a scrape (their "
                    "metrics were missing from it)");
    query_errors_total += errors;
    name_conflicts_total += x.conflicts;
    sample_int(f, NULL, (gint64) query_errors_total);
    f = expo_family(&x, "colo_proxy_metrics_name_conflicts_total", "counter",
                    "members not exported because their name was taken by "
                    "a metric of another type (a bug: please report)");
    sample_int(f, NULL, (gint64) name_conflicts_total);

    for (guint i = 0; i < x.order->len; i++) {
        f = g_ptr_array_index(x.order, i);
        if (!f->samples->len) {
            continue;
        }
        g_string_append_printf(out, "# HELP %s ", f->name);
        /* HELP escapes backslash and line feed */
        for (const char *p = f->help; *p; p++) {
            if (*p == '\\') {
                g_string_append(out, "\\\\");
            } else if (*p == '\n') {
                g_string_append(out, "\\n");
            } else {
                g_string_append_c(out, *p);
            }
        }
        g_string_append_printf(out, "\n# TYPE %s %s\n%s", f->name, f->type,
                               f->samples->str);
    }
    g_hash_table_destroy(x.by_name);
    g_ptr_array_free(x.order, TRUE);
    return out;
}
