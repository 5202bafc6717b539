/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/dgram-port.c - see net/dgram-port.h for the contract.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include "net/dgram-port.h"
#include "net/vnet-hdr.h"
#include "util/log.h"
#include "util/socket.h"
#include "util/stats.h"

enum {
    DGRAM_BUF_SIZE = 65536,            /* largest datagram read */
    DGRAM_SOCKBUF_SIZE = 4 * 1024 * 1024, /* socket buffers */
};

static void dgram_port_read(NetDgramPort *p)
{
    NetClientStats *st = net_client_get_stats(p->nc);
    unsigned nframes = 0;
    int n = net_rx_batch_recvmmsg(&p->batch, p->fd, NET_BURST);

    if (n < 0) {
        if (n != -ECONNREFUSED) {
            LOG_WARN_RL("%s: receive failed: %s",
                         user_object_get_id(USER_OBJECT(p->nc)),
                         g_strerror(-n));
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        struct mmsghdr *m = &p->batch.msgs[i];

        if (G_UNLIKELY(m->msg_hdr.msg_flags & MSG_TRUNC)) {
            p->drop_truncated++;
            stats_inc(&st->drop_malformed);
            LOG_WARN_RL("%s: datagram larger than %u bytes dropped",
                         user_object_get_id(USER_OBJECT(p->nc)),
                         (unsigned)DGRAM_BUF_SIZE);
            continue;
        }
        if (G_UNLIKELY(m->msg_len == 0)) {
            continue;
        }
        if (p->learn_dest && m->msg_hdr.msg_namelen > 0) {
            memcpy(&p->dest.ss, &p->batch.addr[i], m->msg_hdr.msg_namelen);
            p->dest.len = m->msg_hdr.msg_namelen;
            p->has_dest = TRUE;
        }
        p->batch.frames[nframes] = net_rx_batch_buf(&p->batch, i);
        p->batch.lens[nframes] = m->msg_len;
        nframes++;
    }
    if (nframes) {
        net_client_send_batch(p->nc, p->batch.frames, p->batch.lens, nframes);
    }
    if (!net_client_can_send(p->nc)) {
        net_dgram_port_read_poll(p, FALSE);
    }
}

/* Sends the frames of the output batch with sendmmsg().  A frame the
 * socket refuses for good is dropped and counted; a full socket leaves the
 * rest for G_IO_OUT.  When the batch has room again after receive() said
 * 0, the core's queue is flushed into it. */
static void dgram_port_tx_flush(NetDgramPort *p)
{
    NetClientStats *st = net_client_get_stats(p->nc);

    while (p->txhead < p->txn && p->fd >= 0) {
        unsigned count = p->txn - p->txhead;
        int n;

        for (unsigned i = p->txhead; i < p->txn; i++) {
            struct msghdr *mh = &p->txmsgs[i].msg_hdr;

            mh->msg_name = p->connected ? NULL : &p->dest.ss;
            mh->msg_namelen = p->connected ? 0 : p->dest.len;
        }
        do {
            n = sendmmsg(p->fd, &p->txmsgs[p->txhead], count,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            p->txhead += n;
            p->tx_batches++;
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            fd_watch_enable(&p->watch, G_IO_OUT, TRUE);
            return;
        }
        /* The first pending frame failed: drop it, go on with the rest. */
        stats_inc(&st->drop_error);
        if (errno != ECONNREFUSED) {
            LOG_WARN_RL("%s: send failed: %s",
                         user_object_get_id(USER_OBJECT(p->nc)),
                         g_strerror(errno));
        }
        p->txhead++;
    }
    if (p->txhead == p->txn) {
        p->txhead = p->txn = 0;
    }
    if (p->tx_blocked && p->txn < NET_BURST) {
        p->tx_blocked = FALSE;
        net_client_flush(p->nc);
    }
}

/* The batch source: ready whenever frames wait, dispatched before the
 * loop sleeps again. */
typedef struct DgramTxSource {
    GSource source;
    NetDgramPort *p;          /* owner */
} DgramTxSource;

static gboolean dgram_tx_prepare(GSource *source, gint *timeout)
{
    NetDgramPort *p = ((DgramTxSource *)source)->p;

    *timeout = -1;
    return p->txhead < p->txn && !(p->watch.events & G_IO_OUT);
}

static gboolean dgram_tx_dispatch(GSource *source, GSourceFunc cb,
                                  gpointer data)
{
    NetDgramPort *p = ((DgramTxSource *)source)->p;
    NetClient *nc = p->nc;

    g_object_ref(nc);
    dgram_port_tx_flush(p);
    g_object_unref(nc);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs dgram_tx_funcs = {
    .prepare = dgram_tx_prepare,
    .dispatch = dgram_tx_dispatch,
};

static void dgram_port_ready(void *opaque, GIOCondition revents)
{
    NetDgramPort *p = opaque;
    NetClient *nc = p->nc;

    /* Stay alive while a frame we pass on leads to our deletion. */
    g_object_ref(nc);
    if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        if (p->watch.events & G_IO_IN) {
            dgram_port_read(p);
        } else if (revents & G_IO_ERR) {
            /* A pending ICMP error while we do not read: clear it so
             * the loop does not spin on it. */
            sock_connect_finish(p->fd);
        }
    }
    if ((revents & G_IO_OUT) && p->fd >= 0) {
        fd_watch_enable(&p->watch, G_IO_OUT, FALSE);
        dgram_port_tx_flush(p);
    }
    g_object_unref(nc);
}

void net_dgram_port_start(NetDgramPort *p, NetClient *nc, int fd)
{
    int size = DGRAM_SOCKBUF_SIZE;

    /* A datagram socket drops what does not fit: give bursts room
     * (SO_*BUFFORCE as root, else capped by net.core.[rw]mem_max). */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
    p->nc = nc;
    p->fd = fd;
    p->read_enabled = TRUE;
    net_rx_batch_init(&p->batch, DGRAM_BUF_SIZE, 0, 0);
    p->txmem = g_malloc((size_t)NET_BURST * DGRAM_BUF_SIZE);
    p->txhead = p->txn = 0;
    for (unsigned i = 0; i < NET_BURST; i++) {
        p->txiov[i].iov_base = p->txmem + (size_t)i * DGRAM_BUF_SIZE;
        p->txmsgs[i].msg_hdr = (struct msghdr){
            .msg_iov = &p->txiov[i],
            .msg_iovlen = 1,
        };
    }
    p->txsource = g_source_new(&dgram_tx_funcs, sizeof(DgramTxSource));
    ((DgramTxSource *)p->txsource)->p = p;
    g_source_set_static_name(p->txsource, "colo-net-dgram-tx");
    g_source_attach(p->txsource, NULL);
    fd_watch_start(&p->watch, fd, G_IO_IN, dgram_port_ready, p,
                       "colo-net-dgram");
}

void net_dgram_port_stop(NetDgramPort *p)
{
    fd_watch_stop(&p->watch);
    if (p->txsource) {
        g_source_destroy(p->txsource);
        g_source_unref(p->txsource);
        p->txsource = NULL;
    }
    if (p->fd >= 0) {
        /* Frames still in the batch go out if the socket takes them (and
         * the core is not asked for more: we are going away). */
        p->tx_blocked = FALSE;
        dgram_port_tx_flush(p);
        close(p->fd);
        p->fd = -1;
    }
    p->txhead = p->txn = 0;
    g_clear_pointer(&p->txmem, g_free);
    net_rx_batch_destroy(&p->batch);
}

gssize net_dgram_port_receive(NetDgramPort *p, const uint8_t *buf,
                              size_t len)
{
    NetClientStats *st = net_client_get_stats(p->nc);
    gssize skip = net_vnet_skip(p->nc, len);
    size_t flen;

    if (G_UNLIKELY(skip < 0 || len - skip > DGRAM_BUF_SIZE)) {
        stats_inc(&st->drop_malformed);
        return -EINVAL;
    }
    if (G_UNLIKELY(p->fd < 0 || (!p->has_dest && !p->connected))) {
        p->drop_no_dest++;
        return -ENOTCONN;
    }
    if (G_UNLIKELY(p->txn == NET_BURST)) {
        dgram_port_tx_flush(p);
        if (p->txn == NET_BURST) {
            p->tx_blocked = TRUE;
            return 0;
        }
    }
    flen = len - skip;
    memcpy(p->txiov[p->txn].iov_base, buf + skip, flen);
    p->txiov[p->txn].iov_len = flen;
    p->txn++;
    if (p->txn == NET_BURST && !(p->watch.events & G_IO_OUT)) {
        dgram_port_tx_flush(p);
    }
    return len;
}

void net_dgram_port_read_poll(NetDgramPort *p, gboolean enable)
{
    p->read_enabled = enable;
    fd_watch_enable(&p->watch, G_IO_IN, enable);
}

void net_dgram_port_fill_stats(NetDgramPort *p, void *obj)
{
    json_object_set_int_member(obj, "drop-truncated", p->drop_truncated);
    json_object_set_int_member(obj, "drop-no-dest", p->drop_no_dest);
    json_object_set_int_member(obj, "tx-batches", p->tx_batches);
    json_object_set_int_member(obj, "tx-pending", p->txn - p->txhead);
}
