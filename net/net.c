/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/net.c - the net core: NetClient, ports, the send path.
 *
 * A NetClient is the abstract base of every -netdev backend (tap,
 * af-packet, stream, dgram, user: net/<type>.c) and every -device
 * frontend.  This file pairs a device with its netdev (the two are each
 * other's peer), walks the netdev's filter chain (the chain itself is
 * built by net/filter.c) and delivers frames to the far client, queueing
 * them in the receiver's bounded NetQueue (net/queue.c) when it cannot
 * take them.  The contract for backends is in include/net/net.h.
 *
 * Delivery to a client 'to' (QEMU's net/queue.c, made bounded):
 *
 *   - if 'to' is not already inside its receive() and its queue is empty,
 *     call receive(): > 0 done, < 0 dropped (the client counts it), 0 queue;
 *   - otherwise queue the frame behind the others, so order holds;
 *   - a full queue drops the frame and counts drop_queue_full;
 *   - net_client_flush(to) drains the queue in order until receive()
 *     returns 0 again; once the queue is at or below its low-water mark, a
 *     peer that was throttled (its can_send() said no, or the queue went
 *     above high water) gets read_poll(peer, TRUE), and every drain waiter
 *     is told (net_client_wait_drain()).
 *
 * Counting: the core counts rx_frames/rx_bytes in net_client_send(),
 * tx_frames/tx_bytes when receive() returns > 0, and queued,
 * drop_queue_full and drop_no_peer.  Clients count drop_error and
 * drop_malformed themselves.
 *
 * Threads: everything runs in the main context.
 */
#include <errno.h>
#include <string.h>

#include "net/net.h"
#include "net/filter.h"
#include "net/queue.h"
#include "net/net-private.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/log.h"
#include "util/stats.h"

#define NET_QUEUE_SIZE_DEFAULT 4096u
#define NET_QUEUE_SIZE_MAX (1u << 20)

typedef struct {
    /* properties */
    char *netdev_id;          /* devices: id of the backend to pair with */
    guint queue_size;         /* bound of 'incoming', frames */
    /* state */
    NetClient *peer;          /* the other end of the port, or NULL */
    unsigned vnet_hdr_len;    /* virtio-net header at the front of frames */
    NetClientStats stats;     /* see include/net/net.h */
    NetQueue incoming;        /* frames receive() could not take yet */
    GQueue filters;           /* netdevs: the chain, head first */
    gboolean delivering;      /* inside receive(): queue reentrant frames */
    gboolean peer_throttled;  /* call peer's read_poll(TRUE) on drain */
    GQueue drain_waiters;     /* of NetDrainWaiter, told on drain */
    GQueue read_waiters;      /* of NetReadWaiter, told when all is read */
    uint64_t accepted;        /* frames that left 'incoming' or never
                               * entered it: receive() returned non-zero
                               * (read tickets count these) */
} NetClientPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(NetClient, net_client, USER_TYPE_OBJECT)

static void net_client_detach__(NetClient *nc);

/* --- the direction enum ------------------------------------------------ */

GType net_filter_direction_get_type(void)
{
    static gsize type_id;
    static const GEnumValue values[] = {
        { NET_FILTER_DIRECTION_ALL, "NET_FILTER_DIRECTION_ALL", "all" },
        { NET_FILTER_DIRECTION_RX, "NET_FILTER_DIRECTION_RX", "rx" },
        { NET_FILTER_DIRECTION_TX, "NET_FILTER_DIRECTION_TX", "tx" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type_id)) {
        GType t = g_enum_register_static("NetFilterDirection", values);

        g_once_init_leave(&type_id, t);
    }
    return type_id;
}

/* --- object ------------------------------------------------------------- */

static NetClientPrivate *priv_of(NetClient *nc)
{
    return net_client_get_instance_private(nc);
}

static unsigned high_water(const NetClientPrivate *p)
{
    /* Three quarters of the queue, at least one frame. */
    return MAX(p->incoming.limit - p->incoming.limit / 4, 1u);
}

static unsigned low_water(const NetClientPrivate *p)
{
    return p->incoming.limit / 4;
}

static void net_client_init(NetClient *nc)
{
    NetClientPrivate *p = priv_of(nc);

    net_queue_init(&p->incoming, p->queue_size);
    g_queue_init(&p->filters);
    g_queue_init(&p->drain_waiters);
    g_queue_init(&p->read_waiters);
}

static void net_client_unparent(UserObject *obj)
{
    net_client_detach__(NET_CLIENT(obj));
}

static void net_client_dispose(GObject *obj)
{
    /* A subclass that overrides unparent() without chaining up must
     * still not leave a dangling peer or chain behind. */
    net_client_detach__(NET_CLIENT(obj));
    G_OBJECT_CLASS(net_client_parent_class)->dispose(obj);
}

static void net_client_finalize(GObject *obj)
{
    NetClientPrivate *p = priv_of(NET_CLIENT(obj));

    net_queue_destroy(&p->incoming);
    g_queue_clear(&p->filters);
    G_OBJECT_CLASS(net_client_parent_class)->finalize(obj);
}

static void net_client_queue_size_changed(UserObject *obj)
{
    NetClientPrivate *p = priv_of(NET_CLIENT(obj));

    net_queue_set_limit(&p->incoming, p->queue_size);
}

static const PropDef net_client_props[] = {
    DEFINE_PROP_STR("netdev", NetClientPrivate, netdev_id, NULL, 0,
        "id of the network backend this device is connected to (-device "
        "only)"),
    DEFINE_PROP_UINT("queue-size", NetClientPrivate, queue_size,
        1, NET_QUEUE_SIZE_MAX, NET_QUEUE_SIZE_DEFAULT, 0,
        "frames waiting for this client before new ones are dropped",
        .changed = net_client_queue_size_changed),
};

static void net_client_class_init(NetClientClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);

    oc->dispose = net_client_dispose;
    oc->finalize = net_client_finalize;
    uc->complete = net_client_complete;
    uc->unparent = net_client_unparent;

    object_class_install_private_props(oc, net_client_props, NetClient);
}

/* --- public ------------------------------------------------------------- */

gboolean net_client_complete(UserObject *obj, GError **errp)
{
    NetClient *nc = NET_CLIENT(obj);
    NetClientPrivate *p = priv_of(nc);
    ObjectKind kind = user_object_get_kind(obj);
    NetClient *nd;
    UserObject *found;

    if (kind == OBJECT_KIND_NETDEV) {
        if (p->netdev_id) {
            error_setg(errp, "Parameter 'netdev' is only valid for a "
                       "network device (-device)");
            return FALSE;
        }
        return TRUE;
    }
    if (kind != OBJECT_KIND_DEVICE) {
        error_setg(errp, "'%s' can only be created with -netdev or -device",
                   user_object_get_type_name(obj));
        return FALSE;
    }
    if (!p->netdev_id) {
        /* A NIC without a backend, as QEMU allows: frames it sends are
         * counted as drop_no_peer. */
        return TRUE;
    }
    found = user_object_find(OBJECT_KIND_NETDEV, p->netdev_id);
    if (!found || !NET_IS_CLIENT(found)) {
        error_setg(errp, "Property '%s.netdev' can't find value '%s'",
                   user_object_get_type_name(obj), p->netdev_id);
        return FALSE;
    }
    nd = NET_CLIENT(found);
    if (priv_of(nd)->peer) {
        error_setg(errp, "Property '%s.netdev' can't use value '%s', "
                   "it's in use", user_object_get_type_name(obj),
                   p->netdev_id);
        return FALSE;
    }
    p->peer = nd;
    priv_of(nd)->peer = nc;
    /* netdev_del refuses while the device uses the backend. */
    user_object_ref_use(found, user_object_get_id(obj));
    return TRUE;
}

NetRole net_client_get_role(NetClient *nc)
{
    return user_object_get_kind(USER_OBJECT(nc)) == OBJECT_KIND_DEVICE ?
           NET_ROLE_DEVICE : NET_ROLE_NETDEV;
}

NetClient *net_client_get_peer(NetClient *nc)
{
    return priv_of(nc)->peer;
}

unsigned net_client_get_vnet_hdr_len(NetClient *nc)
{
    return priv_of(nc)->vnet_hdr_len;
}

void net_client_set_vnet_hdr_len(NetClient *nc, unsigned len)
{
    priv_of(nc)->vnet_hdr_len = len;
}

NetClientStats *net_client_get_stats(NetClient *nc)
{
    return &priv_of(nc)->stats;
}

unsigned net_client_get_queue_len(NetClient *nc)
{
    return net_queue_len(&priv_of(nc)->incoming);
}

GQueue *net_client_get_filters(NetClient *netdev)
{
    return &priv_of(netdev)->filters;
}

NetClient *net_find_netdev(const char *id, GError **errp)
{
    UserObject *obj = id ? user_object_find(OBJECT_KIND_NETDEV, id) : NULL;

    /* QEMU's text, then which id and why, so the user knows what to fix */
    if ((!obj || !NET_IS_CLIENT(obj)) &&
        !(id && user_object_find(OBJECT_KIND_DEVICE, id))) {
        error_setg(errp, "Parameter 'netdev' expects a network backend id: "
                   "there is no -netdev '%s'", id ? id : "");
        return NULL;
    }
    if (!obj || !NET_IS_CLIENT(obj) ||
        net_client_get_role(NET_CLIENT(obj)) != NET_ROLE_NETDEV) {
        error_setg(errp, "Parameter 'netdev' expects a network backend id: "
                   "'%s' is a guest-facing -device, not a -netdev", id);
        return NULL;
    }
    return NET_CLIENT(obj);
}

/* --- send path ------------------------------------------------------------ */

/* Calls 'to's receive() with the reentrancy guard set and counts what it
 * wrote out. */
static gssize client_receive__(NetClient *to, const uint8_t *buf, size_t len)
{
    NetClientPrivate *p = priv_of(to);
    NetClientClass *klass = NET_CLIENT_GET_CLASS(to);
    gboolean was_delivering = p->delivering;
    gssize ret;

    if (G_UNLIKELY(!klass->receive)) {
        stats_inc(&p->stats.drop_error);
        return -ENOSYS;
    }
    p->delivering = TRUE;
    ret = klass->receive(to, buf, len);
    p->delivering = was_delivering;
    if (ret != 0) {
        p->accepted++;
    }
    if (ret > 0) {
        stats_inc(&p->stats.tx_frames);
        stats_add(&p->stats.tx_bytes, len);
    }
    return ret;
}

static void client_enqueue__(NetClient *to, const uint8_t *buf, size_t len)
{
    NetClientPrivate *p = priv_of(to);

    if (G_UNLIKELY(!net_queue_push(&p->incoming, buf, len, 0))) {
        stats_inc(&p->stats.drop_queue_full);
        LOG_WARN_RL("%s: incoming queue full (%u frames), frame dropped",
                     user_object_get_id(USER_OBJECT(to)),
                     p->incoming.limit);
        p->peer_throttled = TRUE;
        return;
    }
    stats_inc(&p->stats.queued);
    if (net_queue_len(&p->incoming) >= high_water(p)) {
        p->peer_throttled = TRUE;
    }
}

/* Hands a frame that passed the whole chain to client 'to'. */
static void client_deliver__(NetClient *to, const uint8_t *buf, size_t len)
{
    NetClientPrivate *p = priv_of(to);

    if (G_LIKELY(!p->delivering && net_queue_is_empty(&p->incoming))) {
        if (client_receive__(to, buf, len) != 0) {
            return;
        }
    }
    client_enqueue__(to, buf, len);
}

/* Delivers a frame at the end of the walk in direction 'dir'. */
static void port_deliver__(NetClient *netdev, NetFilterDirection dir,
                           const uint8_t *buf, size_t len)
{
    if (dir == NET_FILTER_DIRECTION_RX) {
        client_deliver__(netdev, buf, len);
        return;
    }
    NetClient *dev = priv_of(netdev)->peer;

    if (!dev) {
        /* The filters have seen it (a mirror copied it); there is no
         * guest to give it to. */
        stats_inc(&priv_of(netdev)->stats.drop_no_peer);
        return;
    }
    client_deliver__(dev, buf, len);
}

/* Walks the chain of 'netdev' from 'start' in direction 'dir'.  Returns
 * TRUE if the frame passed every filter, FALSE if one stole it. */
static gboolean chain_walk__(NetClient *netdev, GList *start,
                             NetFilterDirection dir, NetClient *sender,
                             const uint8_t *buf, size_t len)
{
    GList *l = start;

    while (l) {
        NetFilter *nf = l->data;
        /* Take the next link first: 'nf' may leave the chain inside its
         * receive() (object-del from a callback). */
        GList *next = dir == NET_FILTER_DIRECTION_TX ? l->next : l->prev;

        if (netfilter_wants__(nf, dir)) {
            NetFilterClass *fc = NET_FILTER_GET_CLASS(nf);

            netfilter_account__(nf, len);
            if (fc->receive(nf, sender, dir, buf, len) == NETFILTER_STOLEN) {
                return FALSE;
            }
        }
        l = next;
    }
    return TRUE;
}

static GList *chain_start__(NetClient *netdev, NetFilterDirection dir)
{
    GQueue *chain = &priv_of(netdev)->filters;

    return dir == NET_FILTER_DIRECTION_TX ? chain->head : chain->tail;
}

static void send_one__(NetClient *sender, const uint8_t *buf, size_t len)
{
    NetClientPrivate *p = priv_of(sender);
    NetFilterDirection dir;
    NetClient *netdev;

    stats_inc(&p->stats.rx_frames);
    stats_add(&p->stats.rx_bytes, len);
    if (net_client_get_role(sender) == NET_ROLE_NETDEV) {
        netdev = sender;
        dir = NET_FILTER_DIRECTION_TX;
    } else {
        netdev = p->peer;
        dir = NET_FILTER_DIRECTION_RX;
        if (!netdev) {
            stats_inc(&p->stats.drop_no_peer);
            return;
        }
    }
    if (chain_walk__(netdev, chain_start__(netdev, dir), dir, sender,
                     buf, len)) {
        port_deliver__(netdev, dir, buf, len);
    }
}

void net_client_send(NetClient *sender, const uint8_t *buf, size_t len)
{
    g_return_if_fail(NET_IS_CLIENT(sender));

    /* Keep the sender alive if a filter or receiver deletes it. */
    g_object_ref(sender);
    send_one__(sender, buf, len);
    g_object_unref(sender);
}

void net_client_send_batch(NetClient *sender, const uint8_t *const *bufs,
                           const size_t *lens, unsigned n)
{
    g_return_if_fail(NET_IS_CLIENT(sender));

    g_object_ref(sender);
    for (unsigned i = 0; i < n; i++) {
        send_one__(sender, bufs[i], lens[i]);
    }
    g_object_unref(sender);
}

gboolean net_client_can_send(NetClient *sender)
{
    NetClient *peer = priv_of(sender)->peer;
    NetClientPrivate *pp;

    if (!peer) {
        /* Frames are dropped after the chain anyway: keep reading so the
         * filters (a mirror) still see them and the fd does not clog. */
        return TRUE;
    }
    pp = priv_of(peer);
    if (net_queue_len(&pp->incoming) >= high_water(pp)) {
        pp->peer_throttled = TRUE;
        return FALSE;
    }
    return TRUE;
}

/* Tells the drain waiters of 'p', each unlinked before its callback.  A
 * callback may cancel another waiter or wait again (then it goes to the
 * tail): only as many as waited when this began are told, so a waiter
 * that waits again from its callback is not told in this loop (at worst
 * one is told early when another was cancelled meanwhile; a waiter
 * re-checks its condition anyway). */
static void drain_waiters_wake__(NetClientPrivate *p)
{
    guint n = g_queue_get_length(&p->drain_waiters);

    while (n-- > 0 && !g_queue_is_empty(&p->drain_waiters)) {
        GList *link = g_queue_pop_head_link(&p->drain_waiters);
        NetDrainWaiter *w = link->data;

        w->client_ = NULL;
        w->drained(w);
    }
}

static gssize flush_one__(void *opaque, const uint8_t *buf, size_t len,
                          uint32_t tag)
{
    return client_receive__(opaque, buf, len);
}

void net_client_flush(NetClient *nc)
{
    NetClientPrivate *p;
    NetClient *peer;

    g_return_if_fail(NET_IS_CLIENT(nc));
    p = priv_of(nc);
    if (p->delivering) {
        /* Called from inside our own receive(): the outer delivery
         * continues with the queue when it returns. */
        return;
    }
    g_object_ref(nc);
    net_queue_flush(&p->incoming, flush_one__, nc, 0);
    peer = p->peer;
    if (p->peer_throttled && net_queue_len(&p->incoming) <= low_water(p)) {
        p->peer_throttled = FALSE;
        if (peer && NET_CLIENT_GET_CLASS(peer)->read_poll) {
            NET_CLIENT_GET_CLASS(peer)->read_poll(peer, TRUE);
        }
    }
    if (net_queue_len(&p->incoming) <= low_water(p)) {
        drain_waiters_wake__(p);
    }
    g_object_unref(nc);
}

void net_client_wait_drain(NetClient *receiver, NetDrainWaiter *w)
{
    g_return_if_fail(NET_IS_CLIENT(receiver) && w->drained);
    if (w->client_) {
        return;
    }
    w->client_ = receiver;
    w->link_.data = w;
    g_queue_push_tail_link(&priv_of(receiver)->drain_waiters, &w->link_);
}

void net_client_cancel_drain(NetDrainWaiter *w)
{
    if (!w->client_) {
        return;
    }
    g_queue_unlink(&priv_of(w->client_)->drain_waiters, &w->link_);
    w->client_ = NULL;
}

/* Tells every read waiter of 'nc' (see drain_waiters_wake__() for why
 * only those waiting when this began), then stops the client's watch if
 * nobody waits any more. */
static void read_waiters_wake__(NetClient *nc)
{
    NetClientPrivate *p = priv_of(nc);
    guint n = g_queue_get_length(&p->read_waiters);
    NetClientClass *k = NET_CLIENT_GET_CLASS(nc);

    while (n-- > 0 && !g_queue_is_empty(&p->read_waiters)) {
        GList *link = g_queue_pop_head_link(&p->read_waiters);
        NetReadWaiter *w = link->data;

        w->client_ = NULL;
        w->all_read(w);
    }
    if (g_queue_is_empty(&p->read_waiters) && k->watch_read) {
        k->watch_read(nc, FALSE);
    }
}

gboolean net_client_wait_read(NetClient *receiver, NetReadWaiter *w)
{
    NetClientPrivate *p;
    NetClientClass *k;

    g_return_val_if_fail(NET_IS_CLIENT(receiver) && w->all_read, FALSE);
    if (w->client_) {
        return w->client_ == receiver;
    }
    p = priv_of(receiver);
    k = NET_CLIENT_GET_CLASS(receiver);
    if (!k->watch_read || !k->watch_read(receiver, TRUE)) {
        return FALSE;
    }
    w->client_ = receiver;
    w->link_.data = w;
    g_queue_push_tail_link(&p->read_waiters, &w->link_);
    return TRUE;
}

void net_client_cancel_read(NetReadWaiter *w)
{
    NetClient *nc = w->client_;
    NetClientPrivate *p;

    if (!nc) {
        return;
    }
    p = priv_of(nc);
    g_queue_unlink(&p->read_waiters, &w->link_);
    w->client_ = NULL;
    if (g_queue_is_empty(&p->read_waiters) &&
        NET_CLIENT_GET_CLASS(nc)->watch_read) {
        NET_CLIENT_GET_CLASS(nc)->watch_read(nc, FALSE);
    }
}

uint64_t net_client_read_ticket(NetClient *receiver)
{
    NetClientPrivate *p;

    g_return_val_if_fail(NET_IS_CLIENT(receiver), 0);
    p = priv_of(receiver);
    return p->accepted + net_queue_len(&p->incoming) + 1;
}

uint64_t net_client_frames_accepted(NetClient *nc)
{
    g_return_val_if_fail(NET_IS_CLIENT(nc), 0);
    return priv_of(nc)->accepted;
}

void net_client_output_progress(NetClient *nc, uint64_t read)
{
    NetClientPrivate *p;
    GList *l, *next;

    g_return_if_fail(NET_IS_CLIENT(nc));
    p = priv_of(nc);
    g_object_ref(nc);
    /* a waiter may cancel itself from its callback (not another one) */
    for (l = p->read_waiters.head; l; l = next) {
        NetReadWaiter *w = l->data;

        next = l->next;
        if (w->progress) {
            w->progress(w, read);
        }
    }
    g_object_unref(nc);
}

void net_client_output_read(NetClient *nc)
{
    NetClientPrivate *p;

    g_return_if_fail(NET_IS_CLIENT(nc));
    p = priv_of(nc);
    if (g_queue_is_empty(&p->read_waiters) ||
        net_queue_len(&p->incoming) > 0) {
        return;
    }
    g_object_ref(nc);
    read_waiters_wake__(nc);
    g_object_unref(nc);
}

void netfilter_pass_to_next(NetFilter *nf, NetFilterDirection dir,
                            const uint8_t *buf, size_t len)
{
    NetClient *netdev = netfilter_get_netdev(nf);
    GList *link = netfilter_link__(nf);
    NetClient *sender;
    GList *start;

    g_return_if_fail(dir == NET_FILTER_DIRECTION_RX ||
                     dir == NET_FILTER_DIRECTION_TX);
    if (!netdev || !link) {
        /* The filter's netdev is gone: nothing to pass the frame to. */
        return;
    }
    g_object_ref(netdev);
    if (dir == NET_FILTER_DIRECTION_TX) {
        sender = netdev;
        start = link->next;
    } else {
        /* Never NULL: a netdev without a device stands in for it. */
        sender = priv_of(netdev)->peer ? priv_of(netdev)->peer : netdev;
        start = link->prev;
    }
    if (chain_walk__(netdev, start, dir, sender, buf, len)) {
        port_deliver__(netdev, dir, buf, len);
    }
    g_object_unref(netdev);
}

/* --- teardown ------------------------------------------------------------- */

/* Unpairs 'nc' and empties its chain.  Idempotent (unparent and dispose
 * both call it). */
static void net_client_detach__(NetClient *nc)
{
    NetClientPrivate *p = priv_of(nc);
    NetClient *peer = p->peer;
    unsigned nfilters = g_queue_get_length(&p->filters);

    if (nfilters) {
        /* Filters normally go first (they hold a use of the netdev);
         * this is shutdown or a forced delete.  They become inert. */
        g_message("netdev '%s' deleted with %u filter(s) attached; "
                  "detaching them", user_object_get_id(USER_OBJECT(nc)),
                  nfilters);
        while (!g_queue_is_empty(&p->filters)) {
            NetFilter *nf = g_queue_peek_tail(&p->filters);

            netfilter_detach__(nf);
            if (g_queue_peek_tail(&p->filters) == nf) {
                /* Never loop forever on a filter that did not leave. */
                g_queue_pop_tail(&p->filters);
            }
        }
    }
    if (peer) {
        NetClientPrivate *pp = priv_of(peer);
        gboolean wake = p->peer_throttled;

        p->peer = NULL;
        pp->peer = NULL;
        p->peer_throttled = FALSE;
        if (wake && NET_CLIENT_GET_CLASS(peer)->read_poll) {
            /* The peer stopped reading for our sake; without us it has
             * nobody to wait for (can_send() is TRUE now). */
            NET_CLIENT_GET_CLASS(peer)->read_poll(peer, TRUE);
        }
        /* The device holds the use of the netdev. */
        if (net_client_get_role(nc) == NET_ROLE_DEVICE) {
            user_object_unref_use(USER_OBJECT(peer),
                                  user_object_get_id(USER_OBJECT(nc)));
        } else {
            user_object_unref_use(USER_OBJECT(nc),
                                  user_object_get_id(USER_OBJECT(peer)));
        }
    }
    net_queue_purge(&p->incoming);
    /* Nothing is queued any more: whoever waited for room has it, and
     * whatever was not read yet never will be through this port. */
    drain_waiters_wake__(p);
    if (!g_queue_is_empty(&p->read_waiters)) {
        read_waiters_wake__(nc);
    }
}
