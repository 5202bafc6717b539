/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/net.h - the net core: clients, ports and the send path.
 *
 * A NetClient is one end of a port.  A port pairs a guest-facing frontend
 * (-device, role NET_ROLE_DEVICE) with a network-facing backend (-netdev,
 * role NET_ROLE_NETDEV); they are each other's peer.  Filters attach to the
 * backend only.
 *
 *   guest --[device]--- rx: netdev's filters, tail -> head ---> [netdev]-- network
 *   guest <-[device]--- tx: netdev's filters, head -> tail <--- [netdev]-- network
 *
 * rx = packets sent TO the netdev (the guest sends), tx = packets sent BY
 * the netdev (the guest receives), as in QEMU.
 *
 * Send path contract (QEMU's net/queue.c, made bounded):
 *
 *   - A client that reads a frame from its outside world calls
 *     net_client_send(self, buf, len).  The frame walks the netdev's filter
 *     chain in the frame's direction; a filter may pass it on or steal it.
 *     A frame that survives the chain is delivered to the far client's
 *     receive(), which writes it out (to the network for a netdev, to the
 *     guest for a device).
 *   - receive() returns len when the frame was written out or copied into
 *     the client's own output buffer, 0 when the client cannot take it now,
 *     and a negative errno when it drops it (it counts the drop).
 *   - On 0 the core copies the frame into the receiver's bounded incoming
 *     queue (property "queue-size", frames, default 4096).  When the queue
 *     is full the frame is dropped and counted ("queue_full").  The receiver
 *     calls net_client_flush(self) when it can take frames again; the queue
 *     drains in order before new frames.
 *   - Back-pressure: a sender should stop reading its fd while
 *     net_client_can_send(self) is false (the receiver's queue is above its
 *     high-water mark).  When the queue drains, the core calls the sender's
 *     read_poll(sender, TRUE).  Senders read in batches of up to NET_BURST
 *     frames per wake-up.
 *   - 'buf' passed down the chain is borrowed: a filter that keeps a frame
 *     copies it.  No allocation happens per frame in steady state.
 *
 * Frames carry the client's virtio-net header at their front when
 * net_client_get_vnet_hdr_len() is non-zero (tap with vnet_hdr=on, or a
 * stream client configured with vnet_hdr_len), exactly as QEMU passes them
 * to filters.
 *
 * Threads: all of this runs in the main context.
 */
#ifndef NET_NET_H
#define NET_NET_H

#include <stdint.h>
#include <sys/types.h>
#include "qom/object.h"

enum { NET_BURST = 32 };

typedef enum {
    NET_FILTER_DIRECTION_ALL,   /* both; QEMU's "all" */
    NET_FILTER_DIRECTION_RX,    /* to the netdev: the guest's output */
    NET_FILTER_DIRECTION_TX,    /* by the netdev: the guest's input */
} NetFilterDirection;

GType net_filter_direction_get_type(void);
#define NET_TYPE_FILTER_DIRECTION (net_filter_direction_get_type())

typedef enum {
    NET_ROLE_NETDEV,
    NET_ROLE_DEVICE,
} NetRole;

typedef struct _NetFilter NetFilter;   /* include/net/filter.h */

#define NET_TYPE_CLIENT (net_client_get_type())
G_DECLARE_DERIVABLE_TYPE(NetClient, net_client, NET, CLIENT, UserObject)

/* The core counts rx_frames/rx_bytes in net_client_send(), tx_frames/
 * tx_bytes when receive() returns > 0, and queued, drop_queue_full and
 * drop_no_peer; a client counts drop_error and drop_malformed itself. */
typedef struct NetClientStats {
    uint64_t rx_frames;       /* frames read from the outside world */
    uint64_t rx_bytes;
    uint64_t tx_frames;       /* frames written to the outside world */
    uint64_t tx_bytes;
    uint64_t queued;          /* frames that had to wait in the queue */
    uint64_t drop_queue_full; /* dropped: incoming queue full */
    uint64_t drop_no_peer;    /* dropped: the port has no other end */
    uint64_t drop_error;      /* dropped: write error */
    uint64_t drop_malformed;  /* dropped: malformed input (bad framing) */
} NetClientStats;

struct _NetClientClass {
    UserObjectClass parent_class;
    /* Writes a frame out of this client (see the contract above). */
    gssize (*receive)(NetClient *nc, const uint8_t *buf, size_t len);
    /* Enables or disables reading from the outside world. Optional. */
    void (*read_poll)(NetClient *nc, gboolean enable);
    /* Extra counters for query-netdev-stats (optional). */
    void (*fill_stats)(NetClient *nc, void /* JsonObject */ *obj);
};

/* Every client has the base property "netdev" (for a device: the id of its
 * backend) and "queue-size".  Subclasses' complete() must chain up to
 * net_client_complete(), which peers a device with its netdev (the device
 * then holds a use of the netdev: netdev_del fails while it exists).
 * Subclasses that override unparent() must chain up too: the base
 * unpairs the port and detaches the filters. */
gboolean net_client_complete(UserObject *obj, GError **errp);

NetRole net_client_get_role(NetClient *nc);
NetClient *net_client_get_peer(NetClient *nc);
unsigned net_client_get_vnet_hdr_len(NetClient *nc);
void net_client_set_vnet_hdr_len(NetClient *nc, unsigned len);
NetClientStats *net_client_get_stats(NetClient *nc);
/* Frames waiting in 'nc's incoming queue now. */
unsigned net_client_get_queue_len(NetClient *nc);

/* Finds a netdev (backend) by id: errors "Parameter 'netdev' expects a
 * network backend id" for a device id or an unknown id. */
NetClient *net_find_netdev(const char *id, GError **errp);

/* A frame arrived from 'sender's outside world. */
void net_client_send(NetClient *sender, const uint8_t *buf, size_t len);
/* Batch form: 'n' frames. */
void net_client_send_batch(NetClient *sender, const uint8_t *const *bufs,
                           const size_t *lens, unsigned n);
gboolean net_client_can_send(NetClient *sender);
/* 'nc' can take frames again: deliver its queue. */
void net_client_flush(NetClient *nc);

/* Continues the walk of a frame after filter 'nf' in direction 'dir'
 * (RX or TX, never ALL), then delivers it to the client at that end of
 * the port.  Used by filters that release held frames or inject frames
 * (QEMU's qemu_netfilter_pass_to_next).  The later filters see as sender
 * the netdev (TX) or its device (RX; the netdev itself if it has none).
 * A filter whose netdev is gone passes nothing. */
void netfilter_pass_to_next(NetFilter *nf, NetFilterDirection dir,
                            const uint8_t *buf, size_t len);

/* The netdev's filter chain, head first (borrowed). */
GQueue *net_client_get_filters(NetClient *netdev);

#endif /* NET_NET_H */
