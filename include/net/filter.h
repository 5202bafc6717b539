/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/filter.h - the netfilter base class.
 *
 * A filter is an -object attached to a backend netdev's chain.  Properties
 * (QEMU's names, defaults and errors):
 *
 *   netdev=ID          required; a backend id ("Parameter 'netdev' expects
 *                      a network backend id")
 *   queue=all|rx|tx    default all
 *   status=on|off      default on; runtime (qom-set); off = frames pass by
 *                      the filter untouched, and a filter that injects
 *                      frames (redirector indev) stops injecting
 *   position=head|tail|id=<id>   default tail
 *   insert=before|behind         default behind; with position=id=
 *
 * Walk: tx visits the chain head -> tail, rx tail -> head.  For each filter
 * whose queue matches the frame's direction and whose status is on,
 * receive() returns NETFILTER_PASS (go on) or NETFILTER_STOLEN (the filter
 * took the frame: it sent it somewhere, or copied it to hold it, and will
 * re-inject it with netfilter_pass_to_next()).
 *
 * COLO events: colo_notify_filters() calls handle_event() on every filter
 * of every netdev.  The default handler ignores CHECKPOINT and, on
 * FAILOVER, does nothing for filters that are not COLO filters (QEMU turns
 * every filter off; we only change the COLO ones, see docs/interop.md).
 */
#ifndef NET_FILTER_H
#define NET_FILTER_H

#include "net/net.h"

typedef enum {
    NETFILTER_PASS,
    NETFILTER_STOLEN,
} NetFilterVerdict;

typedef enum {
    COLO_EVENT_NONE,
    COLO_EVENT_CHECKPOINT,
    COLO_EVENT_FAILOVER,
    /* A checkpoint has begun (the guests are being stopped); its commit
     * follows as COLO_EVENT_CHECKPOINT, or nothing if it fails.  Only
     * ColoEventListeners get it (colo-compare: from here to the commit the
     * secondary may already speak from the new state), never filters. */
    COLO_EVENT_CHECKPOINT_BEGIN,
} ColoEvent;

#define NET_TYPE_FILTER (netfilter_get_type())
G_DECLARE_DERIVABLE_TYPE(NetFilter, netfilter, NET, FILTER, UserObject)

struct _NetFilterClass {
    UserObjectClass parent_class;

    /* Called by the base complete() after the base properties were checked
     * and before the filter joins the chain.  Optional. */
    gboolean (*setup)(NetFilter *nf, GError **errp);
    /* Called when the filter leaves the chain (object-del, shutdown):
     * its receive() is no longer called, but netfilter_pass_to_next()
     * still continues from its old place, so held frames that must still
     * go out can be re-injected here.  Runs only if setup() succeeded. */
    void (*cleanup)(NetFilter *nf);
    /* See above.  'sender' is the client the frame came from; 'buf'
     * includes the netdev's vnet header.  Mandatory. */
    NetFilterVerdict (*receive)(NetFilter *nf, NetClient *sender,
                                NetFilterDirection dir,
                                const uint8_t *buf, size_t len);
    /* status changed on <-> off after the filter was set up (a filter
     * created with status=off reads netfilter_is_on() in setup()).
     * Optional. */
    void (*status_changed)(NetFilter *nf, gboolean on);
    /* A COLO event; returns FALSE with errp set on failure.  Optional. */
    gboolean (*handle_event)(NetFilter *nf, ColoEvent event, GError **errp);
    /* Adds the filter's counters to a JsonObject (query-netfilter-stats).
     * Optional. */
    void (*fill_stats)(NetFilter *nf, void /* JsonObject */ *obj);
};

NetClient *netfilter_get_netdev(NetFilter *nf);
NetFilterDirection netfilter_get_direction(NetFilter *nf);
gboolean netfilter_is_on(NetFilter *nf);
const char *netfilter_get_id(NetFilter *nf);
/* Frames and bytes handed to the filter's receive() so far (either
 * pointer may be NULL).  Main context. */
void netfilter_get_counters(NetFilter *nf, uint64_t *packets,
                            uint64_t *bytes);

/* Calls handle_event() on every filter of every netdev (netdevs in
 * creation order, each chain head to tail); stops at and returns the
 * first error.  Main context only: a caller on another thread hands the
 * call over with g_main_context_invoke(). */
gboolean colo_notify_filters(ColoEvent event, GError **errp);

#endif /* NET_FILTER_H */
