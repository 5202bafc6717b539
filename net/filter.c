/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/filter.c - the netfilter base class and the filter chain.
 *
 * Every -object filter-* (dump, buffer, mirror, redirector, rewriter)
 * derives from NetFilter.  This file owns QEMU's base properties (netdev,
 * queue, status, position, insert) with QEMU's defaults and error texts,
 * inserts a completed filter into its netdev's chain (a GQueue held by
 * net/net.c, which walks it) and takes it out again on object-del.  It
 * also fans COLO events out to every filter (netfilter_notify_colo_event()).
 *
 * Life cycle:
 *   complete: netdev resolved -> position resolved -> class setup() ->
 *             joins the chain -> holds a use of the netdev (netdev_del
 *             refuses while filters are attached);
 *   unparent: marked leaving (walks skip it) -> class cleanup(), which
 *             may still netfilter_pass_to_next() held frames from its
 *             old place -> leaves the chain -> releases the use.
 *
 * Threads: main context.
 */
#include <string.h>

#include "net/filter.h"
#include "net/colo-hooks.h"
#include "net/net-private.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/stats.h"

static gboolean netfilter_frame_check(NetFilter *nf, GError **errp);

typedef enum {
    NET_FILTER_INSERT_BEFORE,
    NET_FILTER_INSERT_BEHIND,
} NetFilterInsert;

typedef struct {
    /* properties */
    char *netdev_id;          /* netdev= */
    NetFilterDirection direction; /* queue= */
    gboolean on;              /* status= */
    char *position;           /* position= (head, tail or id=<id>) */
    char *frame;              /* frame= (the VM pair; NULL: the default) */
    NetFilterInsert insert;   /* insert= */
    /* state */
    NetClient *netdev;        /* resolved at complete, NULL when detached */
    GList *link;              /* our link in the netdev's chain */
    gboolean leaving;         /* being removed: walks skip it */
    gboolean set_up;          /* setup() succeeded, cleanup() not yet run */
    uint64_t packets;         /* frames handed to receive() */
    uint64_t bytes;
} NetFilterPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(NetFilter, netfilter, USER_TYPE_OBJECT)

static GType netfilter_insert_get_type(void)
{
    static gsize type_id;
    static const GEnumValue values[] = {
        { NET_FILTER_INSERT_BEFORE, "NET_FILTER_INSERT_BEFORE", "before" },
        { NET_FILTER_INSERT_BEHIND, "NET_FILTER_INSERT_BEHIND", "behind" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type_id)) {
        GType t = g_enum_register_static("NetfilterInsert", values);

        g_once_init_leave(&type_id, t);
    }
    return type_id;
}

static NetFilterPrivate *priv_of(NetFilter *nf)
{
    return netfilter_get_instance_private(nf);
}

/* --- properties --------------------------------------------------------- */

static void netfilter_set_status__(NetFilter *nf, gboolean on)
{
    NetFilterPrivate *p = priv_of(nf);
    NetFilterClass *klass = NET_FILTER_GET_CLASS(nf);

    if (p->on == on) {
        return;
    }
    p->on = on;
    /* Only a live filter is told; one being created reads its status in
     * setup(). */
    if (p->set_up && klass->status_changed) {
        klass->status_changed(nf, on);
    }
}

/* status= is "on" or "off" on the outside and a gboolean inside. */
static void netfilter_status_set(UserObject *obj, const GValue *value)
{
    const char *s = g_value_get_string(value);

    /* the row's check refused anything else already; a direct
     * g_object_set() with garbage leaves the status alone. */
    if (g_strcmp0(s, "on") == 0) {
        netfilter_set_status__(NET_FILTER(obj), TRUE);
    } else if (g_strcmp0(s, "off") == 0) {
        netfilter_set_status__(NET_FILTER(obj), FALSE);
    }
}

static void netfilter_status_get(UserObject *obj, GValue *value)
{
    g_value_set_string(value, priv_of(NET_FILTER(obj))->on ? "on" : "off");
}

static gboolean netfilter_status_check(UserObject *obj, const GValue *value,
                                       GError **errp)
{
    const char *s = g_value_get_string(value);

    if (g_strcmp0(s, "on") != 0 && g_strcmp0(s, "off") != 0) {
        error_setg(errp, "Invalid value for netfilter status, "
                   "should be 'on' or 'off'");
        return FALSE;
    }
    return TRUE;
}


/* --- life cycle ----------------------------------------------------------- */

/* Resolves position= into the link to insert next to: *sibling NULL
 * means the head (before = TRUE) or the tail (before = FALSE). */
static gboolean netfilter_resolve_position__(NetFilter *nf,
                                             GList **sibling,
                                             gboolean *before,
                                             GError **errp)
{
    NetFilterPrivate *p = priv_of(nf);
    const char *pos = p->position ? p->position : "tail";
    UserObject *obj;

    *sibling = NULL;
    if (strcmp(pos, "head") == 0) {
        *before = TRUE;
        return TRUE;
    }
    if (strcmp(pos, "tail") == 0) {
        *before = FALSE;
        return TRUE;
    }
    if (!g_str_has_prefix(pos, "id=")) {
        error_setg(errp, "Parameter 'position' expects 'head', 'tail' or "
                   "'id=<id>'");
        return FALSE;
    }
    obj = user_object_find(OBJECT_KIND_OBJECT, pos + 3);
    if (!obj || !NET_IS_FILTER(obj) || !priv_of(NET_FILTER(obj))->link) {
        error_setg(errp, "Parameter 'position': filter '%s' not found",
                   pos + 3);
        return FALSE;
    }
    if (priv_of(NET_FILTER(obj))->netdev != p->netdev) {
        error_setg(errp, "Parameter 'position': filter '%s' belongs to a "
                   "different netdev", pos + 3);
        return FALSE;
    }
    *sibling = priv_of(NET_FILTER(obj))->link;
    *before = p->insert == NET_FILTER_INSERT_BEFORE;
    return TRUE;
}

static gboolean netfilter_complete(UserObject *obj, GError **errp)
{
    NetFilter *nf = NET_FILTER(obj);
    NetFilterPrivate *p = priv_of(nf);
    NetFilterClass *klass = NET_FILTER_GET_CLASS(nf);
    GQueue *chain;
    GList *sibling;
    gboolean before;

    if (!p->netdev_id) {
        error_setg(errp, "Parameter 'netdev' is required");
        return FALSE;
    }
    p->netdev = net_find_netdev(p->netdev_id, errp);
    if (!p->netdev) {
        return FALSE;
    }
    if (!netfilter_frame_check(nf, errp)) {
        p->netdev = NULL;
        return FALSE;
    }
    /* Checked before setup(), so a bad position never half-builds the
     * filter (QEMU checks it after). */
    if (!netfilter_resolve_position__(nf, &sibling, &before, errp)) {
        p->netdev = NULL;
        return FALSE;
    }
    if (klass->setup && !klass->setup(nf, errp)) {
        p->netdev = NULL;
        return FALSE;
    }
    p->set_up = TRUE;

    chain = net_client_get_filters(p->netdev);
    if (!sibling) {
        if (before) {
            g_queue_push_head(chain, nf);
            p->link = chain->head;
        } else {
            g_queue_push_tail(chain, nf);
            p->link = chain->tail;
        }
    } else if (before) {
        g_queue_insert_before(chain, sibling, nf);
        p->link = sibling->prev;
    } else {
        g_queue_insert_after(chain, sibling, nf);
        p->link = sibling->next;
    }
    user_object_ref_use(USER_OBJECT(p->netdev), user_object_get_id(obj));
    return TRUE;
}

/* Takes 'nf' out of its chain, running cleanup() first.  Idempotent. */
static void netfilter_leave__(NetFilter *nf)
{
    NetFilterPrivate *p = priv_of(nf);
    NetFilterClass *klass = NET_FILTER_GET_CLASS(nf);
    NetClient *netdev = p->netdev;

    p->leaving = TRUE;
    if (p->set_up) {
        p->set_up = FALSE;
        if (klass->cleanup) {
            klass->cleanup(nf);
        }
    }
    if (netdev && p->link) {
        g_queue_delete_link(net_client_get_filters(netdev), p->link);
        p->link = NULL;
        user_object_unref_use(USER_OBJECT(netdev),
                              user_object_get_id(USER_OBJECT(nf)));
    }
    p->netdev = NULL;
}

static void netfilter_unparent(UserObject *obj)
{
    netfilter_leave__(NET_FILTER(obj));
}

static void netfilter_dispose(GObject *obj)
{
    netfilter_leave__(NET_FILTER(obj));
    G_OBJECT_CLASS(netfilter_parent_class)->dispose(obj);
}

/* The default COLO event handler.  QEMU switches every filter off on
 * FAILOVER (so a failover also silences filter-dump and filter-buffer);
 * we leave non-COLO filters alone and let the COLO filters override this
 * (see docs/interop.md). */
static gboolean netfilter_handle_event_default(NetFilter *nf,
                                               const ColoEventInfo *ev,
                                               GError **errp)
{
    return TRUE;
}

static gboolean is_colo_filter(NetFilter *nf)
{
    return NET_FILTER_GET_CLASS(nf)->handle_event !=
           netfilter_handle_event_default;
}

/* Two filters' frame= may name different pairs only when both are
 * given: an unbound filter belongs to the default frame, and the rules
 * of colo_frame_bind_check() keep unbound filters from existing beside
 * several frames. */
static gboolean same_frame(const char *a, const char *b)
{
    return !a || !*a || !b || !*b || !strcmp(a, b);
}

/*
 * A COLO filter belongs to one pair (frame=, or the default frame): the
 * frame must exist (the frames are created before the filters,
 * system/main.c), and a netdev belongs to one pair -- two frames'
 * filters on one netdev would have one pair's failover switch the
 * other's redirectors off.
 */
static gboolean netfilter_frame_check(NetFilter *nf, GError **errp)
{
    NetFilterPrivate *p = priv_of(nf);

    if (!is_colo_filter(nf)) {
        return TRUE;
    }
    if (!colo_frame_bind_check(p->frame, netfilter_get_id(nf), errp)) {
        return FALSE;
    }
    for (GList *f = net_client_get_filters(p->netdev)->head; f;
         f = f->next) {
        NetFilter *o = f->data;

        if (o != nf && is_colo_filter(o) &&
            !same_frame(priv_of(o)->frame, p->frame)) {
            error_setg(errp, "netdev '%s' already belongs to colo-frame "
                       "'%s' (filter '%s'); a netdev carries one VM pair's "
                       "filters", p->netdev_id,
                       priv_of(o)->frame, netfilter_get_id(o));
            return FALSE;
        }
    }
    return TRUE;
}

static void netfilter_init(NetFilter *nf)
{
    NetFilterPrivate *p = priv_of(nf);

    p->on = TRUE;             /* status=on: held by its callbacks */
}

static const PropDef netfilter_props[] = {
    DEFINE_PROP_STR("netdev", NetFilterPrivate, netdev_id, NULL,
        PROP_REQUIRED, "id of the network backend to filter"),
    DEFINE_PROP_ENUM("queue", NetFilterPrivate, direction,
        net_filter_direction_get_type, NET_FILTER_DIRECTION_ALL, 0,
        "direction to filter: all, rx (to the netdev, the guest's output) "
        "or tx (from the netdev)"),
    { .name = "status", .type = PROP_TYPE_STR, .offset = PROP_NO_FIELD,
      .def_str = "on", .flags = PROP_RUNTIME,
      .help = "on or off; an off filter lets frames pass untouched",
      .check = netfilter_status_check, .set = netfilter_status_set,
      .get = netfilter_status_get },
    DEFINE_PROP_STR("position", NetFilterPrivate, position, "tail", 0,
        "place in the chain: head, tail or id=<id>"),
    DEFINE_PROP_ENUM("insert", NetFilterPrivate, insert,
        netfilter_insert_get_type, NET_FILTER_INSERT_BEHIND, 0,
        "with position=id=<id>: before or behind it"),
    DEFINE_PROP_STR("frame", NetFilterPrivate, frame, NULL, 0,
        "id of the colo-frame (VM pair) whose COLO events this filter "
        "handles; default: the only colo-frame"),
};

static void netfilter_class_init(NetFilterClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);

    oc->dispose = netfilter_dispose;
    uc->complete = netfilter_complete;
    uc->unparent = netfilter_unparent;
    klass->handle_event = netfilter_handle_event_default;

    object_class_install_private_props(oc, netfilter_props, NetFilter);
}

/* --- public ------------------------------------------------------------- */

NetClient *netfilter_get_netdev(NetFilter *nf)
{
    return priv_of(nf)->netdev;
}

NetFilterDirection netfilter_get_direction(NetFilter *nf)
{
    return priv_of(nf)->direction;
}

gboolean netfilter_is_on(NetFilter *nf)
{
    return priv_of(nf)->on;
}

const char *netfilter_get_id(NetFilter *nf)
{
    return user_object_get_id(USER_OBJECT(nf));
}

const char *netfilter_get_frame(NetFilter *nf)
{
    const char *f = priv_of(nf)->frame;

    return f && *f ? f : NULL;
}

const char *netfilter_find_colo_unbound(void)
{
    GList *netdevs = user_object_list(OBJECT_KIND_NETDEV);
    const char *found = NULL;

    for (GList *l = netdevs; l && !found; l = l->next) {
        if (!NET_IS_CLIENT(l->data)) {
            continue;
        }
        for (GList *f = net_client_get_filters(l->data)->head; f && !found;
             f = f->next) {
            if (is_colo_filter(f->data) && !netfilter_get_frame(f->data)) {
                found = netfilter_get_id(f->data);
            }
        }
    }
    g_list_free(netdevs);
    return found;
}

void netfilter_get_counters(NetFilter *nf, uint64_t *packets,
                            uint64_t *bytes)
{
    NetFilterPrivate *p = priv_of(nf);

    if (packets) {
        *packets = stats_read(&p->packets);
    }
    if (bytes) {
        *bytes = stats_read(&p->bytes);
    }
}

gboolean netfilter_notify_colo_event(const ColoEventInfo *ev, GError **errp)
{
    GList *netdevs = user_object_list(OBJECT_KIND_NETDEV);
    gboolean ok = TRUE;

    for (GList *l = netdevs; l && ok; l = l->next) {
        GPtrArray *snap;

        if (!NET_IS_CLIENT(l->data)) {
            continue;
        }
        /* A snapshot with references: a handler may change the chain. */
        snap = g_ptr_array_new_with_free_func(g_object_unref);
        for (GList *f = net_client_get_filters(l->data)->head; f;
             f = f->next) {
            g_ptr_array_add(snap, g_object_ref(f->data));
        }
        for (guint i = 0; i < snap->len && ok; i++) {
            NetFilter *nf = snap->pdata[i];
            NetFilterClass *klass = NET_FILTER_GET_CLASS(nf);

            const char *mine = netfilter_get_frame(nf);

            /* only the event's pair: a filter bound to its frame, or
             * an unbound one when that frame is the default */
            if (mine ? g_strcmp0(mine, ev->frame) != 0
                     : ev->frame_not_default) {
                continue;
            }
            if (klass->handle_event && priv_of(nf)->link) {
                ok = klass->handle_event(nf, ev, errp);
            }
        }
        g_ptr_array_unref(snap);
    }
    g_list_free(netdevs);
    return ok;
}

/* --- net/net-private.h ------------------------------------------------- */

GList *netfilter_link__(NetFilter *nf)
{
    return priv_of(nf)->link;
}

gboolean netfilter_wants__(NetFilter *nf, NetFilterDirection dir)
{
    NetFilterPrivate *p = priv_of(nf);

    return p->on && !p->leaving &&
           (p->direction == NET_FILTER_DIRECTION_ALL || p->direction == dir);
}

void netfilter_account__(NetFilter *nf, size_t len)
{
    NetFilterPrivate *p = priv_of(nf);

    stats_inc(&p->packets);
    stats_add(&p->bytes, len);
}

void netfilter_detach__(NetFilter *nf)
{
    g_message("filter '%s' detached from its netdev; it is inert now",
              netfilter_get_id(nf));
    netfilter_leave__(nf);
}
