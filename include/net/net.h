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
 *     read_poll(sender, TRUE), and the drain waiters of the receiver
 *     (net_client_wait_drain(): producers that are not clients).  Senders
 *     read in batches of up to NET_BURST frames per wake-up.
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
    /* Read receipts (optional; see net_client_wait_read()): start (on)
     * or stop watching whether whoever reads this client's output has
     * read all of it, and call net_client_output_read() whenever it has.
     * Returns FALSE when the client cannot tell (now or at all). */
    gboolean (*watch_read)(NetClient *nc, gboolean on);
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

/*
 * Drain notification, for a producer that is not a client (a filter that
 * injects frames, the redirector's indev) and so has no read_poll(): it
 * stops while net_client_can_send() says no and asks the receiving client
 * to tell it when its incoming queue has drained, as a sender's
 * read_poll(TRUE) is called (QEMU's model: the queue's flush calls the
 * sender back).
 *
 * 'drained' is called once, in the main context, from inside
 * net_client_flush() when the receiver's queue is at or below its
 * low-water mark (a quarter), or when the receiver's queue is purged
 * (it is unpaired or deleted).  It must not send frames there and then:
 * it schedules its work (the caller is in the middle of a flush or a
 * deletion).  A waiter waits on one client at a time.
 */
typedef struct NetDrainWaiter NetDrainWaiter;
struct NetDrainWaiter {
    void (*drained)(NetDrainWaiter *w);
    NetClient *client_;       /* private: waited on, or NULL */
    GList link_;              /* private */
};

/* Starts waiting on 'receiver'; nothing if 'w' already waits (on any
 * client).  Main context. */
void net_client_wait_drain(NetClient *receiver, NetDrainWaiter *w);
/* Stops waiting; 'drained' will not be called.  Idempotent; accepts a
 * zeroed waiter.  Main context. */
void net_client_cancel_drain(NetDrainWaiter *w);

static inline gboolean net_drain_waiting(const NetDrainWaiter *w)
{
    return w->client_ != NULL;
}

/*
 * Read receipts: when has the program on the far side of a client read
 * what the client wrote?  A frame a -device stream hands to the VM's QEMU
 * is in the guest only once QEMU has read it from the socket (QEMU reads
 * while its VM runs; frames it reads while the VM is stopped wait in its
 * own queue, outside the VM's state).  filter-mirror waits for that
 * before it copies a frame to the secondary, so that the secondary never
 * takes in a frame the primary VM has not (net/filter-mirror.c says why
 * that matters at a checkpoint).
 *
 * 'all_read' is called once, in the main context, when everything handed
 * to 'receiver' up to then, including the frames waiting in its incoming
 * queue, has been read, or never will be (the connection is gone, the
 * client is unpaired or deleted); 'progress', if set, as parts of it
 * are (by read ticket).  It may write to chardevs but must not
 * send frames into the core.  Clients that can tell implement
 * NetClientClass.watch_read (net/stream.c: a connection on a unix
 * socket, by its unread byte count).
 */
typedef struct NetReadWaiter NetReadWaiter;
struct NetReadWaiter {
    void (*all_read)(NetReadWaiter *w);
    /* Optional, and only from clients that can tell (net/stream.c): the
     * frames of 'receiver' up to ticket 'read' (net_client_read_ticket())
     * have been read; called, in the main context, as the peer reads,
     * before everything is.  The same rules as 'all_read'; it may cancel
     * its own waiter. */
    void (*progress)(NetReadWaiter *w, uint64_t read);
    NetClient *client_;       /* private: waited on, or NULL */
    GList link_;              /* private */
};

/* Starts waiting on 'receiver'.  Returns FALSE, and does not wait, when
 * 'receiver' cannot tell (no watch_read, or it said no: not connected,
 * not a unix socket); TRUE if 'w' already waits on it. */
gboolean net_client_wait_read(NetClient *receiver, NetReadWaiter *w);
/* Stops waiting; 'all_read' will not be called.  Idempotent; accepts a
 * zeroed waiter. */
void net_client_cancel_read(NetReadWaiter *w);

static inline gboolean net_read_waiting(const NetReadWaiter *w)
{
    return w->client_ != NULL;
}

/* The ticket of the next frame handed to 'receiver': frames are
 * numbered 1, 2, ... as they leave the core for the client (receive()
 * returns non-zero: taken, or dropped by the client), in order, and the
 * frames waiting in its incoming queue come first.  A frame that a later
 * filter drops only makes the tickets after it read later; one that a
 * later filter holds while others pass breaks the numbering (see
 * filter-mirror's copy-on-read). */
uint64_t net_client_read_ticket(NetClient *receiver);
/* For clients: frames taken from the core so far (inside receive(), the
 * frame being received is this + 1). */
uint64_t net_client_frames_accepted(NetClient *nc);
/* For clients with watch_read: the frames up to ticket 'read' have been
 * read (or never will be); tells the waiters with a 'progress'. */
void net_client_output_progress(NetClient *nc, uint64_t read);

/* For clients with watch_read: everything written so far has been read
 * (or never will be).  Tells the read waiters unless frames still wait in
 * 'nc's incoming queue (then the client will see them written and read,
 * and call again); stops the watch when nobody waits any more. */
void net_client_output_read(NetClient *nc);

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
