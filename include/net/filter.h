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
 * COLO events: netfilter_notify_colo_event() calls handle_event() on every filter
 * of every netdev.  The event says which side this process is, so that
 * each filter decides for itself what a failover means to it (the COLO
 * frame above only broadcasts; docs/devel/decisions.md):
 *
 *   filter-mirror      FAILOVER with 'reconfigure': switches itself off
 *                      (no more copies to a secondary that is gone);
 *   filter-redirector  FAILOVER with 'reconfigure': off on the secondary
 *                      (output straight to the network, no more input
 *                      from the primary), and on the primary when it has
 *                      an outdev (the guest's output no longer goes to
 *                      colo-compare); the primary's indev-only redirector
 *                      that injects compare's output stays on, so what
 *                      compare still holds is released in order;
 *   filter-rewriter    CHECKPOINT resets the offsets; FAILOVER keeps it on
 *                      and translating the connections it knows.
 *
 * The default handler ignores both: filters that are not COLO filters
 * stay as they are (QEMU turns every filter off; see docs/interop.md).
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
    /* A checkpoint has begun; its commit follows as COLO_EVENT_CHECKPOINT,
     * or nothing (a failover) if it fails.  On the primary the
     * ColoEventListeners get it once both guests are stopped and the state
     * is being saved (colo-compare flushes then); on the secondary the
     * filters get it when the guest stops to load the state
     * (filter-rewriter zeroes its offsets then, keeping the old ones until
     * the commit). */
    COLO_EVENT_CHECKPOINT_BEGIN,
} ColoEvent;

/* The COLO frame's mode: which side of the pair this process is.  The
 * frame (include/colo/colo.h) owns it; it is spelt here so that the
 * filters can be told the side in an event. */
typedef enum {
    COLO_MODE_NONE,
    COLO_MODE_PRIMARY,
    COLO_MODE_SECONDARY,
} ColoMode;

/* A COLO event as the filters receive it. */
typedef struct ColoEventInfo {
    ColoEvent event;
    /* FAILOVER: the side that fails over (PRIMARY or SECONDARY) */
    ColoMode mode;
    /* FAILOVER: switch the COLO proxy filters off, as QEMU's docs have the
     * operator object-del them by hand (colo-frame failover-filters=on,
     * the default) */
    gboolean reconfigure;
    /* The pair the event is for: the colo-frame's id (NULL: no frame),
     * and whether that frame is NOT the default one, the one filters
     * without frame= belong to (zero: it is, as for every event of a
     * single-pair process).  A filter handles only its pair's events
     * (netfilter_notify_colo_event()). */
    const char *frame;
    gboolean frame_not_default;
} ColoEventInfo;

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
    /* A COLO event (see above); returns FALSE with errp set on failure.
     * Runs in the main context, synchronously inside the frame's
     * broadcast: a FAILOVER handler has done its work when the frame
     * goes on to tell QEMU.  Optional. */
    gboolean (*handle_event)(NetFilter *nf, const ColoEventInfo *ev,
                             GError **errp);
    /* Adds the filter's counters to a JsonObject (query-netfilter-stats).
     * Optional. */
    void (*fill_stats)(NetFilter *nf, void /* JsonObject */ *obj);
};

NetClient *netfilter_get_netdev(NetFilter *nf);
NetFilterDirection netfilter_get_direction(NetFilter *nf);
gboolean netfilter_is_on(NetFilter *nf);
const char *netfilter_get_id(NetFilter *nf);
/* frame=: the colo-frame (VM pair) the filter belongs to; NULL: the
 * default one (include/colo/colo.h). */
const char *netfilter_get_frame(NetFilter *nf);
/* The id of a filter that handles COLO events (has handle_event) and
 * has no frame=, or NULL: the check before a second colo-frame. */
const char *netfilter_find_colo_unbound(void);
/* Frames and bytes handed to the filter's receive() so far (either
 * pointer may be NULL).  Main context. */
void netfilter_get_counters(NetFilter *nf, uint64_t *packets,
                            uint64_t *bytes);

/* Calls handle_event() on every filter of every netdev (netdevs in
 * creation order, each chain head to tail); stops at and returns the
 * first error.  Main context only: a caller on another thread hands the
 * call over with g_main_context_invoke(). */
gboolean netfilter_notify_colo_event(const ColoEventInfo *ev, GError **errp);

#endif /* NET_FILTER_H */
