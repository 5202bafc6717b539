/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/rx-batch.c - see net/rx-batch.h for the contract.
 */
#include <errno.h>
#include <string.h>

#include "net/rx-batch.h"

void net_rx_batch_init(NetRxBatch *b, size_t buf_size, unsigned headroom,
                       size_t cmsg_size)
{
    memset(b, 0, sizeof(*b));
    b->buf_size = buf_size;
    b->headroom = headroom;
    b->cmsg_size = cmsg_size;
    b->mem = g_malloc((size_t)NET_BURST * (headroom + buf_size));
    if (cmsg_size) {
        b->cmsg = g_malloc0((size_t)NET_BURST * cmsg_size);
    }
}

void net_rx_batch_destroy(NetRxBatch *b)
{
    g_clear_pointer(&b->mem, g_free);
    g_clear_pointer(&b->cmsg, g_free);
}

int net_rx_batch_recvmmsg(NetRxBatch *b, int fd, unsigned max)
{
    int n;

    if (max > NET_BURST) {
        max = NET_BURST;
    }
    for (unsigned i = 0; i < max; i++) {
        struct msghdr *mh = &b->msgs[i].msg_hdr;

        b->iov[i].iov_base = net_rx_batch_buf(b, i);
        b->iov[i].iov_len = b->buf_size;
        mh->msg_iov = &b->iov[i];
        mh->msg_iovlen = 1;
        mh->msg_name = &b->addr[i];
        mh->msg_namelen = sizeof(b->addr[i]);
        mh->msg_control = b->cmsg ? b->cmsg + (size_t)i * b->cmsg_size : NULL;
        mh->msg_controllen = b->cmsg_size;
        mh->msg_flags = 0;
        b->msgs[i].msg_len = 0;
    }
    do {
        n = recvmmsg(fd, b->msgs, max, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    }
    return n;
}
