/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/stream.c - the "stream" and "socket" transports (QEMU's -netdev
 * stream and legacy -netdev socket), as backends and as devices.
 *
 * Both carry Ethernet frames over a byte stream with QEMU's framing: a
 * 4-byte big-endian length, then the frame (no vnet header), back to back
 * (include/net/link-framing.h).  A QEMU VM attaches its NIC to colo-proxy with
 * its own -netdev stream/socket pointed at our -device stream/socket; or
 * colo-proxy reaches a network through QEMU-framed links as a -netdev.
 *
 *   stream: server=on|off, addr.type=inet|unix|fd, addr.host, addr.port,
 *           addr.path, addr.abstract, addr.tight, addr.str, reconnect=N
 *   socket: listen=host:port | connect=host:port | fd=N (stream), or
 *           udp=host:port with localaddr=host:port, or mcast=group:port
 *           [,localaddr=ip] (one frame per datagram, no length prefix;
 *           net/dgram-port.c's NetDgramPort)
 *
 * A StreamConn (below) is what both types share, on the connection
 * engine of qom/sock-stream.h (the socket chardev's too): a listener that
 * takes one peer at a time (and stops accepting until that peer leaves,
 * as QEMU does), or a client that connects without blocking (a
 * SockConnector round) and, with reconnect=N, retries every N seconds.  Input is read in large chunks
 * and reassembled by a LinkReader (reset on every disconnect, so no half
 * frame survives into the next connection), fed one frame at a time so
 * that reading pauses, keeping the rest of the chunk, as soon as the
 * peer's queue is above its high-water mark (lossless back-pressure);
 * garbage drops the connection with a rate-limited warning and counts
 * drop_malformed.  Output goes
 * through a bounded NetOutBuf that takes whole frames or none: receive()
 * only queues the frame, and the frames queued during one main loop
 * iteration leave together in one write (the engine's source has
 * pending work while bytes wait, as the socket chardev's source does; or
 * at once when STREAM_FLUSH_BATCH bytes are queued), so a burst
 * costs one system call, not one per frame.  When the buffer is full
 * receive() returns 0, the core queues, and we flush the core's queue
 * when the socket drains.  While there is no connection, frames to send
 * are dropped and counted (drop_disconnected), as QEMU does.
 *
 * Read receipts (NetClientClass.watch_read, include/net/net.h), on a unix
 * socket only: the peer has read everything once our output buffer is
 * empty and the socket's unread count (SIOCOUTQ: on AF_UNIX the memory of
 * the messages the peer has not consumed yet) is 0, and, before that, the
 * frames ended by the writes whose memory has been freed (the read
 * receipts block below).  While somebody
 * waits, the connection sits in an epoll set of its own for EPOLLOUT,
 * edge-triggered: the kernel wakes that set each time the peer frees
 * what it read, so the check runs once per read of the peer, not in a
 * poll loop.  A TCP socket cannot tell (its count falls when the peer's
 * kernel acknowledges, not when the peer reads).
 *
 * Threads: main context only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <json-glib/json-glib.h>

#include "net/dgram-port.h"
#include "net/outbuf.h"
#include "qom/props.h"
#include "net/vnet-hdr.h"
#include "util/sockaddr.h"
#include "util/socket.h"
#include "net/link-framing.h"
#include "net/net.h"
#include "util/error.h"
#include "util/stats.h"
#include "util/fd-watch.h"
#include "util/log.h"
#include "qom/sock-stream.h"
#include "qom/tls-link.h"

enum {
    STREAM_READ_SIZE = 256 * 1024,   /* bytes per read() */
    STREAM_READS_PER_WAKEUP = 4,     /* reads before yielding to the loop */
    STREAM_OUTBUF_SIZE = 1024 * 1024, /* bytes of frames waiting to go out */
    STREAM_RD_MARKS = 4096,   /* read receipts: frame ends tracked at once
                               * (more are merged into the newest) */
    STREAM_RD_WRITES = 1024,  /* ... and writes (likewise) */
    STREAM_FLUSH_BATCH = 128 * 1024  /* queued bytes written at once */
};

/* A read receipt's mark: once 'bytes_end' bytes of the connection are
 * read, so are the frames up to ticket 'ticket' (net_client_read_ticket()).
 * The same shape notes a write: once 'ticket' (here: socket memory, see
 * stream_rd_wrote()) is freed, the bytes up to 'bytes_end' were read. */
typedef struct StreamRdMark {
    uint64_t bytes_end;
    uint64_t ticket;
} StreamRdMark;

/* A ring of marks, oldest first; a full one merges into its newest. */
typedef struct StreamRdRing {
    StreamRdMark *m;
    guint cap, head, n;
} StreamRdRing;

static void rd_ring_push(StreamRdRing *r, uint64_t bytes_end, uint64_t ticket)
{
    StreamRdMark *mk;

    if (r->n == r->cap) {
        mk = &r->m[(r->head + r->n - 1) % r->cap];
    } else {
        mk = &r->m[(r->head + r->n) % r->cap];
        r->n++;
    }
    mk->bytes_end = bytes_end;
    mk->ticket = ticket;
}

/* Drops the marks whose 'ticket' (without 'by_ticket': whose
 * 'bytes_end') is at most 'upto'; returns the last one dropped's other
 * field, or 0. */
static uint64_t rd_ring_pop(StreamRdRing *r, uint64_t upto, bool by_ticket)
{
    uint64_t last = 0;

    while (r->n) {
        StreamRdMark *mk = &r->m[r->head];

        if ((by_ticket ? mk->ticket : mk->bytes_end) > upto) {
            break;
        }
        last = by_ticket ? mk->bytes_end : mk->ticket;
        r->head = (r->head + 1) % r->cap;
        r->n--;
    }
    return last;
}

/* --- the shared engine --------------------------------------------------- */

/*
 * A StreamConn is the netdev's side of a qom/sock-stream.h SockStream
 * (the engine the socket chardev runs on too: listen set, one peer at a
 * time, connect rounds with reconnect, the TLS handshake step, the
 * source): the frames, the read buffer and its back-pressure, the
 * output of frames.
 */
typedef struct StreamConn {
    NetClient *nc;            /* owner (borrowed) */
    /* configuration (set before stream_conn_start()) */
    gboolean server;          /* listen (TRUE) or connect */
    SockAddr addr;         /* listen or connect address */
    int given_fd;             /* inherited fd (listener or connection), or -1 */
    guint reconnect_s;        /* client: retry delay in seconds, 0 = never */
    /* the connection engine: listener, connection fd ('ss.fd', -1
     * unless established), connect round, TLS session, source */
    SockStream ss;
    /* state */
    gboolean read_enabled;    /* the core lets us send (read_poll) */
    gboolean want_out;        /* poll for G_IO_OUT: output waits for room */
    LinkReader reader;       /* input reassembly */
    NetOutBuf out;            /* output bytes not yet written */
    uint8_t *rbuf;            /* STREAM_READ_SIZE bytes */
    size_t rpos;              /* first byte of rbuf not yet fed */
    size_t rlen;              /* bytes read into rbuf */
    guint resume_src;         /* idle source feeding the rest of rbuf */
    gboolean out_full;        /* receive() returned 0: flush the core's
                               * queue once there is room */
    gboolean out_dead;        /* a write failed (EPIPE): output is dropped,
                               * input is read up to the peer's EOF */
    RateLimit rl;             /* warnings of this connection */
    /* counters */
    uint64_t connects;        /* connections established */
    uint64_t disconnects;     /* connections lost or dropped */
    uint64_t drop_disconnected; /* frames dropped: no connection */
    uint64_t framing_errors;  /* connections dropped for garbage */
    uint64_t out_writes;      /* write system calls that sent frames */
    /* read receipts (see the top of the file) */
    gboolean rd_unix;         /* the connection is a unix socket */
    gboolean rd_on;           /* somebody waits: watching */
    int rd_epfd;              /* the epoll set, or -1 before first use */
    int rd_fd;                /* the connection fd in it, or -1 */
    FdWatch rd_watch;         /* on rd_epfd */
    uint64_t read_receipts;   /* times "all read" was told */
    uint64_t read_progress;   /* times "read up to" was told */
    uint64_t rd_bytes;        /* bytes queued on this connection */
    uint64_t rd_wmem;         /* socket memory our writes took, at least
                               * (while watching) */
    StreamRdRing rd_frames;   /* frame ends: (bytes, ticket) */
    StreamRdRing rd_writes;   /* writes: (bytes written, rd_wmem) */
    /* tls-creds= (stream, inet): handshakes first (ss.tls), records after
     * (ss.sess) */
    TlsLink *tls;
    /* a listener without TLS that other hosts reach: the one-line
     * warning logged at start, shown in query-netdev-stats */
    char *warning;
} StreamConn;

static const SockStreamOps stream_conn_ops;

static const char *stream_conn_id(StreamConn *c)
{
    return user_object_get_id(USER_OBJECT(c->nc));
}

static void stream_conn_init(StreamConn *c, NetClient *nc)
{
    c->nc = nc;
    c->given_fd = -1;
    c->rd_epfd = c->rd_fd = -1;
    c->read_enabled = TRUE;
    c->rl = (RateLimit)RATE_LIMIT_INIT(5, 5000);
    sock_stream_init(&c->ss, &stream_conn_ops, c, G_OBJECT(nc), "netdev",
                     &c->rl, "colo-net-stream");
    c->ss.out = &c->out.ring;
}

/* --- read receipts: what the peer has read ---------------------------- */

/* Forgets what the rings know: nothing is unread, or nobody waits. */
static void stream_rd_reset(StreamConn *c)
{
    c->rd_frames.n = c->rd_writes.n = 0;
    c->rd_wmem = 0;
}

/*
 * A write took at least 'wmem' bytes of socket memory (on AF_UNIX,
 * SIOCOUTQ is the memory of the messages the peer has not consumed, at
 * least their bytes; a message read in part counts whole).  Less than it
 * took only makes the write's receipt later, never earlier: the peer has
 * consumed every message up to a write once the memory freed, our total
 * minus SIOCOUTQ, reaches our total up to that write.
 */
static void stream_rd_wrote(StreamConn *c, uint64_t wmem)
{
    c->rd_wmem += wmem;
    rd_ring_push(&c->rd_writes, c->rd_bytes - net_outbuf_pending(&c->out),
                 c->rd_wmem);
}

/*
 * How far has the peer read?  Socket memory is freed as it consumes our
 * messages, in order: the writes whose memory is all freed were read, and
 * with them the frames they end.  Tells the core the ticket of the last
 * frame wholly read, if there is a new one.
 */
static void stream_rd_progress(StreamConn *c, int unread)
{
    uint64_t freed = c->rd_wmem > (uint64_t)unread
                     ? c->rd_wmem - (uint64_t)unread : 0;
    uint64_t bytes = rd_ring_pop(&c->rd_writes, freed, true);
    uint64_t ticket = bytes ? rd_ring_pop(&c->rd_frames, bytes, false) : 0;

    if (ticket) {
        c->read_progress++;
        net_client_output_progress(c->nc, ticket);
    }
}

/* Drains the output buffer; while somebody waits for read receipts,
 * notes the socket memory the write took. */
static int stream_conn_drain(StreamConn *c)
{
    gboolean note = c->rd_on && c->rd_fd == c->ss.fd && c->ss.fd >= 0;
    size_t pending = net_outbuf_pending(&c->out);
    int before = 0, after = 0;
    int r;

    if (note && ioctl(c->ss.fd, SIOCOUTQ, &before) < 0) {
        note = FALSE;
    }
    r = net_outbuf_drain(&c->out, c->ss.fd);
    if (note && r >= 0 && ioctl(c->ss.fd, SIOCOUTQ, &after) == 0) {
        /* two lower bounds of what the write took: the growth of the
         * count, and the bytes written (each message takes at least its
         * bytes); the first is exact unless the peer consumed meanwhile */
        uint64_t grew = after > before ? (uint64_t)(after - before) : 0;
        uint64_t wrote = pending - net_outbuf_pending(&c->out);

        stream_rd_wrote(c, MAX(grew, wrote));
    }
    return r;
}

/* What the engine polls the connection for: input while the core takes
 * frames and the bytes already read are fed (read no more meanwhile),
 * output while it waits for room. */
static GIOCondition stream_conn_events(void *opaque)
{
    StreamConn *c = opaque;
    GIOCondition ev = 0;

    if (c->read_enabled && c->rpos == c->rlen) {
        ev |= G_IO_IN;
    }
    if (c->want_out) {
        ev |= G_IO_OUT;
    }
    return ev;
}

static void stream_conn_update_watch(StreamConn *c)
{
    sock_stream_update(&c->ss);
}

static void stream_conn_want_out(StreamConn *c, gboolean on)
{
    c->want_out = on;
    sock_stream_update(&c->ss);
}

static void stream_conn_on_frame(void *opaque, const uint8_t *buf,
                                 uint32_t len, uint32_t vnet_hdr_len)
{
    StreamConn *c = opaque;

    net_client_send(c->nc, buf, len);
}

/* Ends the current connection (or connection attempt): the engine closes
 * it, re-arms listening or the reconnect timer, and calls back
 * stream_conn_closed(). */
static void stream_conn_close(StreamConn *c)
{
    sock_stream_close(&c->ss);
}

/* The engine's "closed": no half frame or stale output survives into the
 * next connection. */
static void stream_conn_closed(void *opaque, gboolean was_open)
{
    StreamConn *c = opaque;

    link_reader_reset(&c->reader);
    net_outbuf_reset(&c->out);
    c->out_full = FALSE;
    c->out_dead = FALSE;
    c->want_out = FALSE;
    c->rpos = c->rlen = 0;
    if (c->resume_src) {
        g_source_remove(c->resume_src);
        c->resume_src = 0;
    }
    if (was_open) {
        c->disconnects++;
    }
    /* Frames the core queued for the lost connection are stale: drain
     * them now (receive() drops and counts them) rather than hand them to
     * the next peer.  A no-op when called from inside our receive(). */
    net_client_flush(c->nc);
    /* Closing the fd took it out of the epoll set; what was not read
     * never will be. */
    c->rd_fd = -1;
    c->rd_unix = FALSE;
    c->rd_bytes = 0;
    stream_rd_reset(c);
    if (c->rd_on) {
        net_client_output_read(c->nc);
    }
}

/*
 * Feeds the bytes read into rbuf to the frame reader one frame at a time,
 * and stops as soon as the core says the peer's queue is above its high
 * water mark: the rest waits in rbuf (and the socket is not read) until
 * read_poll(TRUE).  So a read of many small frames cannot overflow the
 * peer's queue: back-pressure on a stream is lossless.  Returns FALSE when
 * the connection is gone.
 */
static gboolean stream_conn_process(StreamConn *c)
{
    while (c->rpos < c->rlen) {
        g_autoptr(GError) err = NULL;
        size_t n = link_reader_next_feed(&c->reader, c->rbuf + c->rpos,
                                          c->rlen - c->rpos);
        size_t next = c->rpos + n;
        uint64_t frames = c->reader.frames;

        if (link_reader_feed(&c->reader, c->rbuf + c->rpos, n,
                              stream_conn_on_frame, c, &err) != LINK_OK) {
            stats_inc(&net_client_get_stats(c->nc)->drop_malformed);
            c->framing_errors++;
            log_warn_rl_domain(G_LOG_DOMAIN, &c->rl,
                                "%s: dropping the connection: %s",
                                stream_conn_id(c), err->message);
            if (c->ss.fd >= 0) {
                stream_conn_close(c);
            }
            return FALSE;
        }
        if (c->ss.fd < 0) {
            /* A frame's journey closed or deleted us. */
            return FALSE;
        }
        c->rpos = next;
        if (c->reader.frames != frames && !net_client_can_send(c->nc)) {
            c->read_enabled = FALSE;
            stream_conn_update_watch(c);
            return TRUE;
        }
    }
    c->rpos = c->rlen = 0;
    return TRUE;
}

static void stream_conn_read(StreamConn *c)
{
    for (int i = 0; i < STREAM_READS_PER_WAKEUP; i++) {
        /* the socket, or the TLS session's records, gathered (TLS seam
         * (b), reading: qom/sock-stream.c) */
        gssize n = sock_stream_recv(&c->ss, c->rbuf, STREAM_READ_SIZE);

        if (n == 0 || n == -ECONNRESET) {
            COLO_NOTICE_RL("%s: peer closed the connection",
                           stream_conn_id(c));
            stream_conn_close(c);
            return;
        }
        if (n < 0) {
            if (n == -EAGAIN) {
                return;
            }
            log_warn_rl_domain(G_LOG_DOMAIN, &c->rl, "%s: read failed: %s",
                                stream_conn_id(c), g_strerror(-n));
            stream_conn_close(c);
            return;
        }
        c->rpos = 0;
        c->rlen = n;
        if (!stream_conn_process(c) || !c->read_enabled) {
            return;
        }
        if ((size_t)n < STREAM_READ_SIZE) {
            return;
        }
    }
}

/* The peer's queue drained: feed what is left in rbuf, then read again. */
static gboolean stream_conn_resume_cb(gpointer opaque)
{
    StreamConn *c = opaque;
    NetClient *nc = c->nc;

    c->resume_src = 0;
    g_object_ref(nc);
    if (c->ss.fd >= 0 && stream_conn_process(c) && c->read_enabled) {
        stream_conn_update_watch(c);
    }
    g_object_unref(nc);
    return G_SOURCE_REMOVE;
}

/*
 * A write failed with 'err'.  A peer that closes its end without reading
 * what we sent (EPIPE) may still have sent us frames before it did: they
 * wait in the socket and are read, up to the EOF that then closes the
 * connection, instead of being thrown away with it.  Until then our
 * output is dropped and counted.  Other errors close at once.
 */
static void stream_conn_write_failed(StreamConn *c, int err)
{
    stats_inc(&net_client_get_stats(c->nc)->drop_error);
    log_warn_rl_domain(G_LOG_DOMAIN, &c->rl, "%s: write failed: %s",
                        stream_conn_id(c), g_strerror(err));
    if (err == EPIPE) {
        c->out_dead = TRUE;
        net_outbuf_reset(&c->out);
        c->out_full = FALSE;
        stream_conn_want_out(c, FALSE);
        if (c->rd_on) {
            net_client_output_read(c->nc);  /* nothing more will be read */
        }
        return;
    }
    stream_conn_close(c);
}

/*
 * Writes the queued output.  Frames given to receive() are only queued
 * (net_outbuf_queue_frame()); they leave here, in one write per batch:
 * once the queue holds STREAM_FLUSH_BATCH bytes, and otherwise from the
 * source's pending work (stream_flush_due()) at the start of the next
 * main loop iteration, i.e. as soon as the burst being processed is
 * done.  A socket that does not take everything is polled for G_IO_OUT.
 * Returns FALSE when the connection was closed or its output died (write
 * error, see stream_conn_write_failed()).  Never emits anything into the
 * core, so it may run inside receive().
 */
static gboolean stream_conn_write_out(StreamConn *c)
{
    int r;

    if (!net_outbuf_pending(&c->out)) {
        return TRUE;
    }
    r = stream_conn_drain(c);
    c->out_writes++;
    if (r < 0) {
        stream_conn_write_failed(c, -r);
        return FALSE;
    }
    if (r == 0) {
        stream_conn_want_out(c, TRUE);
    }
    return TRUE;
}

/* The output buffer drained: let the core hand us what it queued. */
static void stream_conn_room_again(StreamConn *c)
{
    if (c->out_full) {
        c->out_full = FALSE;
        net_client_flush(c->nc);
    }
}

/* Output queued during this iteration waits and the socket is not known
 * to be full (then G_IO_OUT is polled): the source's pending work, so it
 * leaves before the loop sleeps. */
static gboolean stream_flush_due(StreamConn *c)
{
    return c->ss.fd >= 0 && !c->out_dead &&
           net_outbuf_pending(&c->out) && !c->want_out;
}

/* TLS seam (b), reading: decrypted records wait inside the session, where
 * poll() cannot see them (the last read filled rbuf, or reading paused
 * with records left): read them as the source's pending work, once the
 * bytes already read are fed and the core takes more. */
static gboolean stream_tls_read_due(StreamConn *c)
{
    return c->read_enabled && c->rpos == c->rlen &&
           sock_stream_tls_pending(&c->ss);
}

/* The source's pending work: output to flush, records to read. */
static gboolean stream_conn_due(void *opaque)
{
    StreamConn *c = opaque;

    return stream_flush_due(c) || stream_tls_read_due(c);
}

/* The engine's "established" (after accept, connect, an inherited fd;
 * with tls-creds= once the handshake and tls-authz passed). */
static void stream_conn_established(void *opaque, SockStreamOrigin how,
                                    const char *identity)
{
    StreamConn *c = opaque;
    char name[SOCKADDR_STR_MAX];

    if (identity) {
        g_info("%s: TLS peer '%s'", stream_conn_id(c), identity);
    } else if (how == SOCK_STREAM_ACCEPTED) {
        SockAddr peer = { .len = sizeof(peer.ss) };

        if (getpeername(c->ss.fd, (struct sockaddr *)&peer.ss,
                        &peer.len) < 0) {
            peer.ss.ss_family = AF_UNSPEC;
        }
        COLO_NOTICE_RL("%s: connection from %s", stream_conn_id(c),
                       peer.ss.ss_family == AF_UNIX ? "unix socket" :
                       sockaddr_str(&peer, name, sizeof(name)));
    } else if (how == SOCK_STREAM_DIALED) {
        COLO_NOTICE_RL("%s: connected to %s", stream_conn_id(c),
                       sockaddr_str(&c->addr, name, sizeof(name)));
    }
    link_reader_reset(&c->reader);
    net_outbuf_reset(&c->out);
    c->rd_bytes = 0;
    stream_rd_reset(c);
    c->connects++;
    {
        int dom = 0;
        socklen_t dl = sizeof(dom);

        c->rd_unix = !identity &&
                     getsockopt(c->ss.fd, SOL_SOCKET, SO_DOMAIN, &dom,
                                &dl) == 0 && dom == AF_UNIX;
    }
    sock_tune_stream(c->ss.fd);
    stream_conn_want_out(c, FALSE);
    /* Frames queued while we could not write go out now. */
    net_client_flush(c->nc);
}

/* The engine's "connect failed": a round failed at once (the connect's
 * own error), after waiting, or the TLS peer was refused (the TlsLink
 * said why); a retry follows with reconnect. */
static void stream_conn_connect_failed(void *opaque, const char *why,
                                       SockStreamFail how)
{
    StreamConn *c = opaque;
    char name[SOCKADDR_STR_MAX];

    sockaddr_str(&c->addr, name, sizeof(name));
    if (how == SOCK_STREAM_FAIL_AT_ONCE) {
        log_warn_rl_domain(G_LOG_DOMAIN, &c->rl,
                            "%s: Failed to connect to '%s': %s",
                            stream_conn_id(c), name, why);
    } else if (how == SOCK_STREAM_FAIL_LATER) {
        log_warn_rl_domain(G_LOG_DOMAIN, &c->rl,
                            "%s: connection to %s failed: %s",
                            stream_conn_id(c), name, why);
        net_client_flush(c->nc);
    }
}

static void stream_conn_ready__(StreamConn *c, GIOCondition revents)
{
    if (revents & G_IO_OUT) {
        int r = stream_conn_drain(c);

        c->out_writes++;
        if (r < 0) {
            stream_conn_write_failed(c, -r);
            if (c->ss.fd < 0) {
                return;
            }
        }
        if (r > 0) {
            stream_conn_want_out(c, FALSE);
            c->out_full = FALSE;
            net_client_flush(c->nc);
            if (c->ss.fd < 0) {
                return;
            }
        }
    }
    if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        if (c->ss.conn_events & G_IO_IN) {
            stream_conn_read(c);
        } else if (!(revents & G_IO_OUT)) {
            /* Hung up while we only wait to write: nothing will drain. */
            stream_conn_close(c);
        }
    }
}

/* The engine's dispatch while connected (it holds a reference to the
 * netdev: a frame we pass on may lead to our deletion). */
static void stream_conn_dispatch(void *opaque, GIOCondition revents)
{
    StreamConn *c = opaque;

    if (stream_flush_due(c)) {
        /* Frames queued during the last iteration (stream_flush_due()) */
        if (stream_conn_write_out(c) && !net_outbuf_pending(&c->out)) {
            stream_conn_room_again(c);
        }
    }
    if (revents && c->ss.fd >= 0) {
        stream_conn_ready__(c, revents);
    }
    if (c->ss.fd >= 0 && stream_tls_read_due(c)) {
        stream_conn_read(c);
    }
}

static const SockStreamOps stream_conn_ops = {
    .established = stream_conn_established,
    .closed = stream_conn_closed,
    .connect_failed = stream_conn_connect_failed,
    .conn_events = stream_conn_events,
    .dispatch = stream_conn_dispatch,
    .pending = stream_conn_due,
};

/* --- read receipts ------------------------------------------------------ */

/* The epoll set woke: the peer read (and freed) some of our output.  How
 * much, and is it all? */
static void stream_read_receipt(void *opaque, GIOCondition revents)
{
    StreamConn *c = opaque;
    struct epoll_event ev[4];
    int unread;

    /* Edge-triggered: taking the events re-arms the set for the next
     * read of the peer. */
    while (epoll_wait(c->rd_epfd, ev, G_N_ELEMENTS(ev), 0) ==
           (int)G_N_ELEMENTS(ev)) {
    }
    if (!c->rd_on || c->ss.fd < 0 || c->rd_fd != c->ss.fd ||
        ioctl(c->ss.fd, SIOCOUTQ, &unread) < 0) {
        return;
    }
    stream_rd_progress(c, unread);
    if (net_outbuf_pending(&c->out) || unread > 0) {
        return;
    }
    stream_rd_reset(c);
    c->read_receipts++;
    net_client_output_read(c->nc);
}

/* NetClientClass.watch_read.  Arming is an EPOLL_CTL_MOD (ADD for a new
 * connection), which also reports at once if all is read already. */
static gboolean stream_conn_watch_read(StreamConn *c, gboolean on)
{
    struct epoll_event ev = { .events = 0 };

    if (!on) {
        if (c->rd_on && c->rd_fd >= 0) {
            /* keep the fd in the set, silenced */
            epoll_ctl(c->rd_epfd, EPOLL_CTL_MOD, c->rd_fd, &ev);
        }
        c->rd_on = FALSE;
        stream_rd_reset(c);
        return TRUE;
    }
    if (c->ss.fd < 0 || c->out_dead || !c->rd_unix) {
        return FALSE;
    }
    if (c->rd_epfd < 0) {
        c->rd_epfd = epoll_create1(EPOLL_CLOEXEC);
        if (c->rd_epfd < 0) {
            log_warn_rl_domain(G_LOG_DOMAIN, &c->rl,
                               "%s: epoll_create1: %s (no read receipts)",
                               stream_conn_id(c), g_strerror(errno));
            return FALSE;
        }
        fd_watch_start(&c->rd_watch, c->rd_epfd, G_IO_IN,
                       stream_read_receipt, c, "colo-net-stream-read");
    }
    if (!c->rd_on) {
        /* what was queued before: one frame mark, ending with the last
         * frame taken (its ticket: the core's count), and one write
         * mark for what the socket holds of it now */
        int unread = 0;

        if (!c->rd_frames.m) {
            c->rd_frames.m = g_new(StreamRdMark, STREAM_RD_MARKS);
            c->rd_frames.cap = STREAM_RD_MARKS;
            c->rd_writes.m = g_new(StreamRdMark, STREAM_RD_WRITES);
            c->rd_writes.cap = STREAM_RD_WRITES;
        }
        stream_rd_reset(c);
        if (net_client_frames_accepted(c->nc)) {
            rd_ring_push(&c->rd_frames, c->rd_bytes,
                         net_client_frames_accepted(c->nc));
        }
        if (ioctl(c->ss.fd, SIOCOUTQ, &unread) == 0 && unread > 0) {
            stream_rd_wrote(c, (uint64_t)unread);
        }
    }
    ev.events = EPOLLOUT | EPOLLET;
    if (c->rd_fd == c->ss.fd &&
        epoll_ctl(c->rd_epfd, EPOLL_CTL_MOD, c->rd_fd, &ev) == 0) {
        c->rd_on = TRUE;
        return TRUE;
    }
    /* a new connection (or the registration went with a closed fd that
     * had the same number) */
    if (epoll_ctl(c->rd_epfd, EPOLL_CTL_ADD, c->ss.fd, &ev) < 0 &&
        (errno != EEXIST ||
         epoll_ctl(c->rd_epfd, EPOLL_CTL_MOD, c->ss.fd, &ev) < 0)) {
        log_warn_rl_domain(G_LOG_DOMAIN, &c->rl,
                           "%s: epoll_ctl: %s (no read receipts)",
                           stream_conn_id(c), g_strerror(errno));
        c->rd_fd = -1;
        return FALSE;
    }
    c->rd_fd = c->ss.fd;
    c->rd_on = TRUE;
    return TRUE;
}

/* Opens the listener or the connection, on the main context.  A client
 * without reconnect whose connect fails at once is an error (QEMU's
 * legacy socket netdev fails the same way); with reconnect it keeps
 * trying (the engine's rounds). */
static gboolean stream_conn_start(StreamConn *c, GError **errp)
{
    link_reader_init(&c->reader, false, LINK_MAX_LEN_DEFAULT);
    net_outbuf_init(&c->out, STREAM_OUTBUF_SIZE);
    c->rbuf = g_malloc(STREAM_READ_SIZE);
    c->ss.what = stream_conn_id(c);
    c->ss.server = c->server;

    if (c->server) {
        int lfd = c->given_fd >= 0 ? c->given_fd :
                  sock_listen(&c->addr, errp);

        c->given_fd = -1;
        if (lfd < 0) {
            return FALSE;
        }
        sock_stream_add_listen(&c->ss, lfd);
        sock_stream_attach(&c->ss, NULL);
        return TRUE;
    }
    sock_stream_attach(&c->ss, NULL);
    if (c->given_fd >= 0) {
        int fd = c->given_fd;

        c->given_fd = -1;            /* the engine's now; no reconnect */
        sock_stream_take_fd(&c->ss, fd, SOCK_STREAM_GIVEN);
        return TRUE;
    }
    {
        GArray *addrs = g_array_new(FALSE, TRUE, sizeof(SockAddr));

        g_array_append_val(addrs, c->addr);
        sock_stream_set_addrs(&c->ss, addrs);
    }
    c->ss.reconnect_us = (int64_t)c->reconnect_s * G_USEC_PER_SEC;
    if (!c->reconnect_s) {
        if (!sock_stream_connect(&c->ss, errp)) {
            char name[SOCKADDR_STR_MAX];

            g_prefix_error(errp, "Failed to connect to '%s': ",
                           sockaddr_str(&c->addr, name, sizeof(name)));
            return FALSE;
        }
        return TRUE;
    }
    sock_stream_connect(&c->ss, NULL);
    return TRUE;
}

/* Closes everything; safe on a half-started or stopped engine. */
static void stream_conn_stop(StreamConn *c)
{
    if (c->resume_src) {
        g_source_remove(c->resume_src);
        c->resume_src = 0;
    }
    if (c->ss.fd >= 0 && net_outbuf_pending(&c->out)) {
        /* Frames still queued go out if the socket takes them. */
        net_outbuf_drain(&c->out, c->ss.fd);
    }
    sock_stream_destroy(&c->ss);
    if (c->rd_on) {
        c->rd_fd = -1;
        net_client_output_read(c->nc);
    }
    fd_watch_stop(&c->rd_watch);
    if (c->rd_epfd >= 0) {
        close(c->rd_epfd);
        c->rd_epfd = c->rd_fd = -1;
    }
    g_clear_pointer(&c->rd_frames.m, g_free);
    g_clear_pointer(&c->rd_writes.m, g_free);
    stream_rd_reset(c);
    g_clear_pointer(&c->tls, tls_link_free);
    c->ss.tls = NULL;
    g_clear_pointer(&c->warning, g_free);
    if (c->given_fd >= 0) {
        close(c->given_fd);
        c->given_fd = -1;
    }
    if (c->addr.ss.ss_family == AF_UNIX && c->server) {
        const struct sockaddr_un *un = (const void *)&c->addr.ss;

        if (un->sun_path[0]) {
            unlink(un->sun_path);
        }
    }
    if (c->rbuf) {
        link_reader_destroy(&c->reader);
        net_outbuf_destroy(&c->out);
        g_clear_pointer(&c->rbuf, g_free);
    }
}

static gssize stream_conn_receive(StreamConn *c, const uint8_t *buf,
                                  size_t len)
{
    NetClientStats *st = net_client_get_stats(c->nc);
    uint8_t hdr[LINK_HDR_MAX];
    gssize skip = net_vnet_skip(c->nc, len);
    size_t hlen;
    gssize r;

    if (G_UNLIKELY(skip < 0 || len - skip > LINK_MAX_LEN_DEFAULT)) {
        stats_inc(&st->drop_malformed);
        return -EINVAL;
    }
    if (G_UNLIKELY(c->ss.fd < 0 || c->out_dead)) {
        c->drop_disconnected++;
        return -ENOTCONN;
    }
    hlen = link_header(hdr, len - skip, false, 0);
    r = net_outbuf_queue_frame(&c->out, hdr, hlen, buf + skip, len - skip);
    if (G_UNLIKELY(r == 0) && !c->want_out) {
        /* Full, but the socket may take the batch: write it, retry. */
        if (!stream_conn_write_out(c)) {
            return -ENOTCONN;
        }
        r = net_outbuf_queue_frame(&c->out, hdr, hlen, buf + skip,
                                   len - skip);
    }
    if (G_LIKELY(r > 0)) {
        c->rd_bytes += hlen + len - skip;
        if (c->rd_on) {
            rd_ring_push(&c->rd_frames, c->rd_bytes,
                         net_client_frames_accepted(c->nc) + 1);
        }
        if (net_outbuf_pending(&c->out) >= STREAM_FLUSH_BATCH &&
            !c->want_out) {
            /* A large burst: do not wait for the loop.  On a write error
             * the frame was taken and is lost with the connection. */
            stream_conn_write_out(c);
        }
        return len;
    }
    if (r == 0) {
        c->out_full = TRUE;
        stream_conn_want_out(c, TRUE);
        return 0;
    }
    stats_inc(&st->drop_error);
    log_warn_rl_domain(G_LOG_DOMAIN, &c->rl, "%s: write failed: %s",
                        stream_conn_id(c), g_strerror(-r));
    stream_conn_close(c);
    return r;
}

static void stream_conn_read_poll(StreamConn *c, gboolean enable)
{
    c->read_enabled = enable;
    if (c->ss.fd < 0) {
        return;
    }
    if (enable && c->rpos < c->rlen && !c->resume_src) {
        /* Not from inside the peer's flush: from the loop. */
        c->resume_src = g_idle_add(stream_conn_resume_cb, c);
    }
    stream_conn_update_watch(c);
}

static void stream_conn_fill_stats(StreamConn *c, JsonObject *o)
{
    json_object_set_boolean_member(o, "connected", c->ss.fd >= 0);
    json_object_set_int_member(o, "connects", c->connects);
    json_object_set_int_member(o, "disconnects", c->disconnects);
    json_object_set_int_member(o, "drop-disconnected", c->drop_disconnected);
    json_object_set_int_member(o, "framing-errors", c->framing_errors);
    json_object_set_int_member(o, "out-pending-bytes",
                               net_outbuf_pending(&c->out));
    json_object_set_int_member(o, "out-writes", c->out_writes);
    json_object_set_int_member(o, "read-receipts", c->read_receipts);
    json_object_set_int_member(o, "read-progress", c->read_progress);
    if (c->warning) {
        json_object_set_string_member(o, "warning", c->warning);
    }
}

/* --- type "stream" ------------------------------------------------------- */

#define NET_TYPE_STREAM (net_stream_get_type())
G_DECLARE_FINAL_TYPE(NetStream, net_stream, NET, STREAM, NetClient)

struct _NetStream {
    NetClient parent_instance;

    /* properties */
    gboolean server;          /* server=on|off */
    char *addr_type;          /* addr.type: inet, unix, fd */
    char *addr_host;          /* addr.host */
    char *addr_port;          /* addr.port */
    char *addr_path;          /* addr.path */
    gboolean addr_abstract;   /* addr.abstract */
    gboolean addr_tight;      /* addr.tight */
    char *addr_str;           /* addr.str (fd number) */
    guint reconnect;          /* reconnect=N seconds */
    char *tls_creds;          /* tls-creds=ID (ours: QEMU has none) */
    char *tls_authz;          /* tls-authz=ID */
    /* state */
    StreamConn conn;
};

G_DEFINE_FINAL_TYPE(NetStream, net_stream, NET_TYPE_CLIENT)

static gboolean net_stream_complete(UserObject *obj, GError **errp)
{
    NetStream *s = NET_STREAM(obj);
    StreamConn *c = &s->conn;

    if (!s->addr_type) {
        error_setg(errp, "Parameter 'addr' is missing");
        return FALSE;
    }
    c->server = s->server;
    c->reconnect_s = s->reconnect;
    if (s->reconnect && s->server) {
        error_setg(errp, "'reconnect' option is incompatible with "
                   "socket in server mode");
        return FALSE;
    }
    if (!strcmp(s->addr_type, "inet") || !strcmp(s->addr_type, "unix")) {
        if (!sockaddr_from_fields(&c->addr, "addr", s->addr_type,
                                  s->addr_host, s->addr_port, s->addr_path,
                                  s->addr_abstract, s->addr_tight,
                                  s->server, errp)) {
            return FALSE;
        }
    } else if (!strcmp(s->addr_type, "fd")) {
        c->given_fd = sock_fd_from_str(s->addr_str, "addr.str", errp);
        if (c->given_fd < 0) {
            return FALSE;
        }
    } else {
        error_setg(errp, "Parameter 'addr.type' does not accept value '%s' "
                   "(expected inet, unix or fd)", s->addr_type);
        return FALSE;
    }
    if (s->tls_authz && !s->tls_creds) {
        error_setg(errp, "'tls-authz' provided but TLS is not enabled");
        return FALSE;
    }
    if (s->tls_creds) {
        g_autofree char *name = NULL;

        if (strcmp(s->addr_type, "inet") != 0) {
            error_setg(errp, "TLS can only be used over TCP socket");
            return FALSE;
        }
        name = g_strdup_printf("netdev '%s'", stream_conn_id(c));
        c->tls = tls_link_new(name, stream_conn_id(c), s->tls_creds,
                              s->tls_authz, s->server,
                              sock_stream_tls_established,
                              sock_stream_tls_refused, &c->ss, errp);
        if (!c->tls) {
            return FALSE;
        }
        c->ss.tls = c->tls;   /* attached with the engine's source */
    }
    if (!stream_conn_start(c, errp)) {
        return FALSE;
    }
    if (c->server && !c->tls) {
        /* the socket chardevs' rule and words (tls_listener_warning()) */
        c->warning = tls_listener_warning(c->ss.listen_fds, c->ss.n_listen);
        if (c->warning) {
            g_warning("%s '%s': %s",
                      net_client_get_role(c->nc) == NET_ROLE_DEVICE
                      ? "device" : "netdev", stream_conn_id(c), c->warning);
        }
    }
    return net_client_complete(obj, errp);
}

static void net_stream_unparent(UserObject *obj)
{
    stream_conn_stop(&NET_STREAM(obj)->conn);
    USER_OBJECT_CLASS(net_stream_parent_class)->unparent(obj);
}

static void net_stream_finalize(GObject *obj)
{
    NetStream *s = NET_STREAM(obj);

    stream_conn_stop(&s->conn);
    G_OBJECT_CLASS(net_stream_parent_class)->finalize(obj);
}

static gssize net_stream_receive(NetClient *nc, const uint8_t *buf,
                                 size_t len)
{
    /* Packet path: plain cast (only called for this class). */
    return stream_conn_receive(&((NetStream *)nc)->conn, buf, len);
}

static void net_stream_read_poll(NetClient *nc, gboolean enable)
{
    stream_conn_read_poll(&NET_STREAM(nc)->conn, enable);
}

static gboolean net_stream_watch_read(NetClient *nc, gboolean on)
{
    return stream_conn_watch_read(&NET_STREAM(nc)->conn, on);
}

static void net_stream_fill_stats(NetClient *nc, void *obj)
{
    stream_conn_fill_stats(&NET_STREAM(nc)->conn, obj);
}

static void net_stream_init(NetStream *s)
{
    stream_conn_init(&s->conn, NET_CLIENT(s));
}

static const PropDef net_stream_props[] = {
    DEFINE_PROP_BOOL("server", NetStream, server, FALSE, 0,
        "listen for one peer (on) or connect (off)"),
    DEFINE_PROP_STR("addr.type", NetStream, addr_type, NULL, 0,
        "address type: inet, unix or fd"),
    DEFINE_PROP_STR("addr.host", NetStream, addr_host, NULL, 0,
        "inet: host name or address"),
    DEFINE_PROP_STR("addr.port", NetStream, addr_port, NULL, 0,
        "inet: port"),
    DEFINE_PROP_STR("addr.path", NetStream, addr_path, NULL, 0,
        "unix: socket path"),
    DEFINE_PROP_BOOL("addr.abstract", NetStream, addr_abstract, FALSE, 0,
        "unix: abstract namespace"),
    DEFINE_PROP_BOOL("addr.tight", NetStream, addr_tight, TRUE, 0,
        "unix abstract: address sized to the name"),
    DEFINE_PROP_STR("addr.str", NetStream, addr_str, NULL, 0,
        "fd: number of an inherited socket (a listening one with "
        "server=on)"),
    DEFINE_PROP_UINT("reconnect", NetStream, reconnect, 0, 3600 * 24, 0, 0,
        "client: seconds between reconnection attempts, 0 = never"),
    DEFINE_PROP_STR("tls-creds", NetStream, tls_creds, NULL, 0,
        "inet: id of a tls-creds-x509/psk object: the link is a TLS session "
        "(colo-proxy to colo-proxy; QEMU's netdev stream has no TLS)"),
    DEFINE_PROP_STR("tls-authz", NetStream, tls_authz, NULL, 0,
        "server: id of an authz-simple/list object the peer's identity "
        "must satisfy"),
};

static void net_stream_class_init(NetStreamClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetClientClass *nc = NET_CLIENT_CLASS(klass);

    oc->finalize = net_stream_finalize;
    uc->description = "QEMU-framed Ethernet over a stream socket "
                      "(QEMU's -netdev stream)";
    uc->complete = net_stream_complete;
    uc->unparent = net_stream_unparent;
    nc->receive = net_stream_receive;
    nc->read_poll = net_stream_read_poll;
    nc->fill_stats = net_stream_fill_stats;
    nc->watch_read = net_stream_watch_read;

    object_class_install_props(oc, net_stream_props);
}

/* --- type "socket" ------------------------------------------------------- */

#define NET_TYPE_SOCKET (net_socket_get_type())
G_DECLARE_FINAL_TYPE(NetSocket, net_socket, NET, SOCKET, NetClient)

struct _NetSocket {
    NetClient parent_instance;

    /* properties */
    char *fd;                 /* fd=N inherited socket */
    char *listen;             /* listen=[host]:port */
    char *connect;            /* connect=host:port */
    char *mcast;              /* mcast=maddr:port (IPv4 group) */
    char *udp;                /* udp=host:port */
    char *localaddr;          /* localaddr=host:port */
    /* state */
    gboolean is_dgram;        /* udp= or a datagram fd= */
    StreamConn conn;          /* stream modes */
    NetDgramPort dgram;       /* datagram modes */
};

G_DEFINE_FINAL_TYPE(NetSocket, net_socket, NET_TYPE_CLIENT)

static gboolean net_socket_start_udp(NetSocket *s, GError **errp)
{
    SockAddr local;
    char name[160];
    int fd, one = 1;

    if (!s->localaddr) {
        error_setg(errp, "localaddr= is mandatory with udp=");
        return FALSE;
    }
    if (!sockaddr_parse_host_port(&s->dgram.dest, s->udp, FALSE, "udp",
                                      errp) ||
        !sockaddr_parse_host_port(&local, s->localaddr, TRUE,
                                      "localaddr", errp)) {
        return FALSE;
    }
    fd = sock_new(&local, SOCK_DGRAM, errp);
    if (fd < 0) {
        return FALSE;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (const struct sockaddr *)&local.ss, local.len) < 0) {
        error_setg(errp, "can't bind ip=%s to socket: %s",
                   sockaddr_str(&local, name, sizeof(name)),
                   g_strerror(errno));
        close(fd);
        return FALSE;
    }
    s->dgram.has_dest = TRUE;
    net_dgram_port_start(&s->dgram, NET_CLIENT(s), fd);
    return TRUE;
}

/*
 * mcast=group:port[,localaddr=ip], QEMU's multicast "bus": every member
 * binds the group's port, joins the group (on localaddr's interface, or
 * the kernel's choice) and sends every frame to the group.  Loopback is on,
 * as in QEMU, so members on one host see each other, and each member also
 * gets its own frames back (QEMU delivers them too).
 */
static gboolean net_socket_start_mcast(NetSocket *s, GError **errp)
{
    struct sockaddr_in *group = (struct sockaddr_in *)&s->dgram.dest.ss;
    struct ip_mreq mreq = { .imr_interface.s_addr = htonl(INADDR_ANY) };
    char name[160];
    int fd, one = 1;

    if (!sockaddr_parse_host_port(&s->dgram.dest, s->mcast, FALSE,
                                      "mcast", errp)) {
        return FALSE;
    }
    if (group->sin_family != AF_INET ||
        !IN_MULTICAST(ntohl(group->sin_addr.s_addr))) {
        error_setg(errp, "specified mcastaddr %s does not contain a "
                   "multicast address (IPv4, 224.0.0.0/4)",
                   sockaddr_str(&s->dgram.dest, name, sizeof(name)));
        return FALSE;
    }
    if (s->localaddr &&
        inet_pton(AF_INET, s->localaddr, &mreq.imr_interface) != 1) {
        error_setg(errp, "localaddr '%s' is not a valid IPv4 address",
                   s->localaddr);
        return FALSE;
    }
    mreq.imr_multiaddr = group->sin_addr;
    fd = sock_new(&s->dgram.dest, SOCK_DGRAM, errp);
    if (fd < 0) {
        return FALSE;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (const struct sockaddr *)group, sizeof(*group)) < 0) {
        error_setg(errp, "can't bind mcast %s: %s",
                   sockaddr_str(&s->dgram.dest, name, sizeof(name)),
                   g_strerror(errno));
        goto fail;
    }
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
                   sizeof(mreq)) < 0) {
        error_setg(errp, "can't join multicast group %s: %s",
                   sockaddr_str(&s->dgram.dest, name, sizeof(name)),
                   g_strerror(errno));
        goto fail;
    }
    if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one,
                   sizeof(one)) < 0 ||
        (s->localaddr &&
         setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq.imr_interface,
                    sizeof(mreq.imr_interface)) < 0)) {
        error_setg(errp, "can't set multicast options on %s: %s",
                   sockaddr_str(&s->dgram.dest, name, sizeof(name)),
                   g_strerror(errno));
        goto fail;
    }
    s->dgram.has_dest = TRUE;
    net_dgram_port_start(&s->dgram, NET_CLIENT(s), fd);
    return TRUE;

fail:
    close(fd);
    return FALSE;
}

static gboolean net_socket_complete(UserObject *obj, GError **errp)
{
    NetSocket *s = NET_SOCKET(obj);
    StreamConn *c = &s->conn;
    int modes = !!s->fd + !!s->listen + !!s->connect + !!s->mcast + !!s->udp;

    if (modes != 1) {
        error_setg(errp, "exactly one of listen=, connect=, mcast= or udp= "
                   "is required");
        return FALSE;
    }
    if (s->localaddr && !s->udp && !s->mcast) {
        error_setg(errp, "localaddr= is only valid with mcast= or udp=");
        return FALSE;
    }
    if (s->mcast) {
        s->is_dgram = TRUE;
        if (!net_socket_start_mcast(s, errp)) {
            return FALSE;
        }
    } else if (s->udp) {
        s->is_dgram = TRUE;
        if (!net_socket_start_udp(s, errp)) {
            return FALSE;
        }
    } else if (s->fd) {
        int type = 0;
        socklen_t tlen = sizeof(type);
        int fd = sock_fd_from_str(s->fd, "fd", errp);

        if (fd < 0) {
            return FALSE;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
            error_setg(errp, "fd=%d is not a socket: %s", fd,
                       g_strerror(errno));
            return FALSE;
        }
        if (type == SOCK_DGRAM) {
            s->is_dgram = TRUE;
            s->dgram.connected = TRUE;
            net_dgram_port_start(&s->dgram, NET_CLIENT(s), fd);
        } else {
            c->given_fd = fd;
            if (!stream_conn_start(c, errp)) {
                return FALSE;
            }
        }
    } else {
        c->server = s->listen != NULL;
        if (!sockaddr_parse_host_port(&c->addr,
                                          c->server ? s->listen : s->connect,
                                          c->server,
                                          c->server ? "listen" : "connect",
                                          errp) ||
            !stream_conn_start(c, errp)) {
            return FALSE;
        }
    }
    return net_client_complete(obj, errp);
}

static void net_socket_stop(NetSocket *s)
{
    stream_conn_stop(&s->conn);
    net_dgram_port_stop(&s->dgram);
}

static void net_socket_unparent(UserObject *obj)
{
    net_socket_stop(NET_SOCKET(obj));
    USER_OBJECT_CLASS(net_socket_parent_class)->unparent(obj);
}

static void net_socket_finalize(GObject *obj)
{
    NetSocket *s = NET_SOCKET(obj);

    net_socket_stop(s);
    G_OBJECT_CLASS(net_socket_parent_class)->finalize(obj);
}

static gssize net_socket_receive(NetClient *nc, const uint8_t *buf,
                                 size_t len)
{
    NetSocket *s = (NetSocket *)nc;   /* packet path: plain cast */

    if (s->is_dgram) {
        return net_dgram_port_receive(&s->dgram, buf, len);
    }
    return stream_conn_receive(&s->conn, buf, len);
}

static void net_socket_read_poll(NetClient *nc, gboolean enable)
{
    NetSocket *s = NET_SOCKET(nc);

    if (s->is_dgram) {
        net_dgram_port_read_poll(&s->dgram, enable);
    } else {
        stream_conn_read_poll(&s->conn, enable);
    }
}

static void net_socket_fill_stats(NetClient *nc, void *obj)
{
    NetSocket *s = NET_SOCKET(nc);

    if (s->is_dgram) {
        net_dgram_port_fill_stats(&s->dgram, obj);
    } else {
        stream_conn_fill_stats(&s->conn, obj);
    }
}

static gboolean net_socket_watch_read(NetClient *nc, gboolean on)
{
    NetSocket *s = NET_SOCKET(nc);

    return s->is_dgram ? !on : stream_conn_watch_read(&s->conn, on);
}

static void net_socket_init(NetSocket *s)
{
    stream_conn_init(&s->conn, NET_CLIENT(s));
    s->dgram.fd = -1;
}

static const PropDef net_socket_props[] = {
    DEFINE_PROP_STR("fd", NetSocket, fd, NULL, 0,
        "number of an inherited connected socket"),
    DEFINE_PROP_STR("listen", NetSocket, listen, NULL, 0,
        "[host]:port to accept one peer on"),
    DEFINE_PROP_STR("connect", NetSocket, connect, NULL, 0,
        "host:port to connect to"),
    DEFINE_PROP_STR("mcast", NetSocket, mcast, NULL, 0,
        "IPv4 multicast group:port to join and send to"),
    DEFINE_PROP_STR("udp", NetSocket, udp, NULL, 0,
        "host:port to send UDP datagrams to"),
    DEFINE_PROP_STR("localaddr", NetSocket, localaddr, NULL, 0,
        "with udp=: host:port to bind the UDP socket to; with mcast=: IPv4 "
        "address of the interface"),
};

static void net_socket_class_init(NetSocketClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetClientClass *nc = NET_CLIENT_CLASS(klass);

    oc->finalize = net_socket_finalize;
    uc->description = "QEMU-framed Ethernet over TCP, or frames over UDP "
                      "(QEMU's legacy -netdev socket)";
    uc->complete = net_socket_complete;
    uc->unparent = net_socket_unparent;
    nc->receive = net_socket_receive;
    nc->read_poll = net_socket_read_poll;
    nc->fill_stats = net_socket_fill_stats;
    nc->watch_read = net_socket_watch_read;

    object_class_install_props(oc, net_socket_props);
}

static void net_stream_register(void)
{
    object_type_register(OBJECT_KIND_NETDEV, "stream", NET_TYPE_STREAM);
    object_type_register(OBJECT_KIND_DEVICE, "stream", NET_TYPE_STREAM);
    object_type_register(OBJECT_KIND_NETDEV, "socket", NET_TYPE_SOCKET);
    object_type_register(OBJECT_KIND_DEVICE, "socket", NET_TYPE_SOCKET);
}
type_init(net_stream_register)
