/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/rx-batch.h - batched receive buffers of the transports (private).
 *
 * NetRxBatch: NET_BURST receive buffers, allocated once, filled by one
 * recvmmsg() per wake-up (packet and datagram sockets) or by up to NET_BURST
 * read()s (tap).  Set-up allocates; receiving never does.
 *
 * Threads: the owning transport's (main) context.
 */
#ifndef NET_RX_BATCH_H
#define NET_RX_BATCH_H

#include <glib.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "net/net.h"

typedef struct NetRxBatch {
    size_t buf_size;          /* usable bytes per buffer (after headroom) */
    unsigned headroom;        /* bytes reserved in front of every buffer */
    size_t cmsg_size;         /* control bytes per message, or 0 */
    uint8_t *mem;             /* all buffers, allocated once */
    uint8_t *cmsg;            /* all control buffers, or NULL */
    struct mmsghdr msgs[NET_BURST];
    struct iovec iov[NET_BURST];
    struct sockaddr_storage addr[NET_BURST]; /* sender of each datagram */
    const uint8_t *frames[NET_BURST];        /* output: frame starts */
    size_t lens[NET_BURST];                  /* output: frame lengths */
} NetRxBatch;

/* Allocates NET_BURST buffers of 'headroom' + 'buf_size' bytes and, when
 * 'cmsg_size' is not zero, control buffers of that size. */
void net_rx_batch_init(NetRxBatch *b, size_t buf_size, unsigned headroom,
                       size_t cmsg_size);
/* Frees the buffers; safe on a zeroed batch. */
void net_rx_batch_destroy(NetRxBatch *b);
/* The data area of buffer 'i' (after its headroom). */
static inline uint8_t *net_rx_batch_buf(NetRxBatch *b, unsigned i)
{
    return b->mem + (size_t)i * (b->headroom + b->buf_size) + b->headroom;
}
/* Receives up to 'max' (<= NET_BURST) datagrams without blocking with one
 * recvmmsg().  Returns the number received (msgs[i].msg_len holds each
 * length, msgs[i].msg_hdr the flags, control data and sender), 0 when
 * nothing is pending, or a negative errno. */
int net_rx_batch_recvmmsg(NetRxBatch *b, int fd, unsigned max);

#endif /* NET_RX_BATCH_H */
