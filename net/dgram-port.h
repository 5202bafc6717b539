/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/dgram-port.h - one frame per datagram (private).
 *
 * NetDgramPort: the datagram transport of the dgram netdev and of the legacy
 * socket netdev's udp= and mcast= modes.
 *
 * Threads: main context.
 */
#ifndef NET_DGRAM_PORT_H
#define NET_DGRAM_PORT_H

#include <glib.h>
#include <stdint.h>
#include <sys/socket.h>
#include "net/net.h"
#include "net/rx-batch.h"
#include "util/fd-watch.h"
#include "util/sockaddr.h"

/* One frame per datagram over a datagram socket (dgram netdev, legacy
 * socket udp=).  Reads in recvmmsg() batches; frames to send are copied
 * into an output batch of up to NET_BURST datagrams, sent with one
 * sendmmsg() when the batch is full or at the start of the next main loop
 * iteration (so a burst the core delivers in one go leaves in one system
 * call).  When the batch is full and the socket will not take more,
 * receive() returns 0 until it is writable again. */
typedef struct NetDgramPort {
    NetClient *nc;            /* owner (borrowed) */
    int fd;                   /* owned; -1 when stopped */
    FdWatch watch;         /* in: frames, out: room again */
    NetRxBatch batch;         /* receive buffers */
    SockAddr dest;         /* where frames go */
    gboolean has_dest;        /* dest is set (else: connected or learnt) */
    gboolean connected;       /* fd is connected: send without address */
    gboolean learn_dest;      /* no fixed remote: answer the last sender */
    gboolean read_enabled;    /* the core lets us send */
    /* output batch */
    uint8_t *txmem;           /* NET_BURST buffers of 64 KiB */
    struct mmsghdr txmsgs[NET_BURST];
    struct iovec txiov[NET_BURST];
    unsigned txhead;          /* first frame not yet sent */
    unsigned txn;             /* frames in the batch */
    gboolean tx_blocked;      /* receive() returned 0: flush the core later */
    GSource *txsource;        /* sends the batch at the next iteration */
    /* counters */
    uint64_t drop_truncated;  /* datagrams larger than a buffer */
    uint64_t drop_no_dest;    /* frames with nowhere to go */
    uint64_t tx_batches;      /* sendmmsg() calls that sent frames */
} NetDgramPort;

/* Takes ownership of 'fd' and starts reading.  Set dest/has_dest,
 * connected and learn_dest before. */
void net_dgram_port_start(NetDgramPort *p, NetClient *nc, int fd);
/* Stops and closes the fd; safe on a stopped or zeroed port. */
void net_dgram_port_stop(NetDgramPort *p);
gssize net_dgram_port_receive(NetDgramPort *p, const uint8_t *buf,
                              size_t len);
void net_dgram_port_read_poll(NetDgramPort *p, gboolean enable);
/* Adds the port's counters to a JsonObject. */
void net_dgram_port_fill_stats(NetDgramPort *p, void *obj);

#endif /* NET_DGRAM_PORT_H */
