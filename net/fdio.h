/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/fdio.h - fd plumbing shared by the transport backends (private).
 *
 * The backends in net/tap.c, net/af-packet.c, net/stream.c, net/dgram.c
 * and net/slirp.c all do the same few things with their file descriptors,
 * so those things live here once:
 *
 *   NetFdWatch   one fd on the main context whose interest (in, out) can
 *                be switched cheaply; an fd with no interest is taken out
 *                of the poll set so a hung-up peer cannot make it spin.
 *   NetRxBatch   NET_BURST receive buffers, allocated once, filled by one
 *                recvmmsg() per wake-up (packet and datagram sockets) or
 *                by up to NET_BURST read()s (tap).
 *   NetOutBuf    the bounded output byte buffer of a stream transport:
 *                whole frames go in or nothing does, so a frame is never
 *                torn on the wire; written directly, or queued and
 *                drained in one write() per batch.
 *   NetSockAddr  a resolved socket address (inet, inet6, unix, abstract)
 *                built from QEMU's option spellings, with helpers to
 *                listen, connect and describe it.
 *   NetDgramPort one frame per datagram (dgram, socket udp=).
 *   vnet helpers skip, convert or finish the virtio-net header a frame
 *                carries (tap vnet_hdr=on, af-packet vnet_hdr=on).
 *   net_prop_*   offset-table GObject property storage for the backends.
 *
 * Everything here runs in the main context and allocates only on the slow
 * path (set-up); the per-frame functions never allocate.
 */
#ifndef NET_FDIO_H
#define NET_FDIO_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include "net/net.h"

/* --- NetFdWatch ---------------------------------------------------------- */

/* Called with the conditions that fired ('revents' may hold G_IO_HUP or
 * G_IO_ERR besides the ones asked for).  The callback may stop the watch. */
typedef void (*NetFdFunc)(void *opaque, GIOCondition revents);

typedef struct NetFdWatch {
    GSource *source;          /* our source on the main context, or NULL */
    gpointer tag;             /* unix fd tag while events != 0 */
    int fd;                   /* watched fd (not owned) */
    GIOCondition events;      /* current interest: G_IO_IN and/or G_IO_OUT */
} NetFdWatch;

/* Starts watching 'fd' (borrowed: the caller closes it after stopping the
 * watch) for 'events' on the main context.  'name' names the source for
 * debugging.  Never fails. */
void net_fd_watch_start(NetFdWatch *w, int fd, GIOCondition events,
                        NetFdFunc fn, void *opaque, const char *name);
/* Turns interest in 'cond' on or off.  No-op on a stopped watch. */
void net_fd_watch_enable(NetFdWatch *w, GIOCondition cond, gboolean on);
/* Stops the watch; safe on a stopped or zeroed watch and from inside the
 * callback. */
void net_fd_watch_stop(NetFdWatch *w);
static inline gboolean net_fd_watch_active(const NetFdWatch *w)
{
    return w->source != NULL;
}

/* --- NetRxBatch ---------------------------------------------------------- */

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

/* --- NetOutBuf ----------------------------------------------------------- */

typedef struct NetOutBuf {
    uint8_t *data;            /* 'cap' bytes, allocated once */
    size_t cap;               /* capacity in bytes */
    size_t head;              /* first byte not yet written */
    size_t tail;              /* end of the bytes not yet written */
    bool use_send;            /* fd is a socket: send with MSG_NOSIGNAL */
} NetOutBuf;

void net_outbuf_init(NetOutBuf *ob, size_t cap);
void net_outbuf_destroy(NetOutBuf *ob);
/* Forgets pending bytes (the connection they belonged to is gone). */
void net_outbuf_reset(NetOutBuf *ob);
static inline size_t net_outbuf_pending(const NetOutBuf *ob)
{
    return ob->tail - ob->head;
}
/* Writes the header 'hdr' ('hlen' bytes) and the payload as one frame to
 * 'fd' without blocking.  Whatever the socket does not take now is kept in
 * the buffer, whole frames only.  Returns 'hlen' + 'len' when the frame was
 * written or buffered, 0 when the buffer has no room for it (nothing was
 * written: try again after net_outbuf_drain()), or a negative errno on a
 * fatal write error (the connection is broken). */
gssize net_outbuf_write_frame(NetOutBuf *ob, int fd,
                              const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len);
/* Appends the header and the payload as one frame without writing
 * anything (the owner drains the buffer later, typically once per main
 * loop iteration, so that a burst leaves in one system call).  Returns
 * 'hlen' + 'len' when the frame was buffered, 0 when the buffer has no
 * room for it (nothing was buffered: drain, then try again), or -EMSGSIZE
 * when the frame can never fit.  Never blocks, never allocates. */
gssize net_outbuf_queue_frame(NetOutBuf *ob, const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len);
/* Writes pending bytes.  Returns 1 when the buffer is empty, 0 when bytes
 * remain (wait for G_IO_OUT), or a negative errno on a fatal error. */
int net_outbuf_drain(NetOutBuf *ob, int fd);

/* --- NetSockAddr --------------------------------------------------------- */

typedef struct NetSockAddr {
    struct sockaddr_storage ss;  /* the address */
    socklen_t len;               /* its length */
} NetSockAddr;

/* Resolves 'host' (NULL or "" = any for a listener, localhost for a
 * client) and 'port' (decimal or service name) into the first usable
 * address.  'what' names the option in errors.  Slow path. */
gboolean net_sockaddr_inet(NetSockAddr *a, const char *host,
                           const char *port, gboolean passive,
                           const char *what, GError **errp);
/* Parses QEMU's legacy "host:port" / "[v6]:port" / ":port" syntax. */
gboolean net_sockaddr_parse_host_port(NetSockAddr *a, const char *str,
                                      gboolean passive, const char *what,
                                      GError **errp);
/* A unix socket address; 'abstract' puts it in the abstract namespace
 * and 'tight' (QEMU's default) sizes it to the name. */
gboolean net_sockaddr_unix(NetSockAddr *a, const char *path,
                           gboolean abstract, gboolean tight,
                           const char *what, GError **errp);
/* Writes a printable form of 'a' to 'buf' and returns 'buf'. */
const char *net_sockaddr_str(const NetSockAddr *a, char *buf, size_t size);
gboolean net_sockaddr_equal(const NetSockAddr *a, const NetSockAddr *b);

/* A non-blocking, close-on-exec socket of 'a's family.  Returns the fd or
 * -1 with errp set. */
int net_socket_new(const NetSockAddr *a, int type, GError **errp);
/* A listening stream socket bound to 'a' (a stale unix socket file is
 * removed first).  Returns the fd or -1 with errp set. */
int net_socket_listen(const NetSockAddr *a, GError **errp);
/* Starts a non-blocking connect.  Returns the fd with *in_progress set
 * when the connection completes later (wait for G_IO_OUT, then
 * net_socket_connect_finish()), or -1 with errp set. */
int net_socket_connect(const NetSockAddr *a, gboolean *in_progress,
                       GError **errp);
/* Returns 0 when the pending connect on 'fd' succeeded, else an errno. */
int net_socket_connect_finish(int fd);
/* Makes an inherited fd usable: non-blocking, close-on-exec.  'str' is
 * the fd number.  Returns the fd or -1 with errp set. */
int net_fd_from_str(const char *str, const char *what, GError **errp);

/* --- frames and vnet headers --------------------------------------------- */

/* Frames delivered to a client's receive() carry the sending client's
 * vnet header: a device gets the netdev's frames, a netdev gets its
 * device's frames (or, without a device, frames in its own format, as a
 * filter injects them).  Returns the number of leading bytes of a frame of
 * 'len' bytes to skip so that only the Ethernet frame remains, or -1 when
 * the frame is shorter than that. */
static inline gssize net_fdio_vnet_skip(NetClient *nc, size_t len)
{
    NetClient *from = net_client_get_peer(nc);
    unsigned hdr = net_client_get_vnet_hdr_len(from ? from : nc);

    return len < hdr ? -1 : (gssize)hdr;
}

/* --- NetDgramPort -------------------------------------------------------- */

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
    NetFdWatch watch;         /* in: frames, out: room again */
    NetRxBatch batch;         /* receive buffers */
    NetSockAddr dest;         /* where frames go */
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

/* --- virtio-net headers -------------------------------------------------- */

/* struct virtio_net_hdr (Linux <linux/virtio_net.h>): the part every vnet
 * header starts with; a tap's 12-byte header adds num_buffers. */
enum { NET_VNET_HDR_BASE = 10 };

/* Prepares the iovecs that write the frame 'buf' ('len' bytes, in the
 * format of the client that sent it to 'nc', see net_fdio_vnet_skip())
 * with a vnet header of 'our_hdr' bytes: as is when the formats match,
 * else with the sender's header replaced by 'scratch' (>= our_hdr bytes),
 * which gets the common virtio_net_hdr fields of the sender's header, or
 * zeros.  Returns the number of iovecs (1 or 2), or -1 when the frame is
 * shorter than the sender's header. */
int net_fdio_vnet_iov(NetClient *nc, unsigned our_hdr, const uint8_t *buf,
                      size_t len, uint8_t *scratch, struct iovec iov[2]);

/* Completes in software the checksum a virtio-net header at 'frame'
 * ('hdr' bytes of header, then the Ethernet frame, 'len' bytes in all)
 * leaves to the device (VIRTIO_NET_HDR_F_NEEDS_CSUM), and clears the
 * flag.  Returns FALSE for a GSO frame or bad offsets (the frame cannot
 * be sent without a vnet header). */
gboolean net_fdio_vnet_finish(uint8_t *frame, size_t len, unsigned hdr);

/* --- properties ---------------------------------------------------------- */

/* Generic GObject property storage for the backends: each class keeps a
 * table of field offsets indexed by property id, and its set_property /
 * get_property call these.  Handles gboolean, guint and string fields. */
void net_prop_set(void *obj, size_t offset, const GValue *value);
void net_prop_get(void *obj, size_t offset, GValue *value);

/* Sets TCP_NODELAY and SO_KEEPALIVE on a TCP socket; ignored elsewhere. */
void net_socket_tune_stream(int fd);

#endif /* NET_FDIO_H */
