/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char-socket-internal.h - the socket chardev's state, shared by
 * its three files (private to chardev/):
 *
 *   char-socket.c       the object: properties, validation, complete,
 *                       teardown, the class
 *   char-socket-conn.c  addresses, the listening sockets, the client's
 *                       target, the connection's life cycle as the
 *                       chardev sees it: cs_stream_established() (the
 *                       engine's "established", where OPENED is
 *                       emitted), cs_stream_closed() (CLOSED)
 *   char-socket-io.c    the chardev's part of the dispatch (what the
 *                       connection is polled for, deferred close and
 *                       OPENED), reading, the output ring, the
 *                       ChardevClass I/O methods: cs_read() and
 *                       cs_flush_queued() are the only calls that move
 *                       bytes (sock_stream_recv(), outbuf_flush())
 *
 * The connection engine -- listen set, accepting one peer at a time, the
 * client's connect rounds and reconnect timer, the TLS handshake step,
 * the source attached to the chardev's context -- is qom/sock-stream.h's
 * SockStream, shared with the stream netdev (net/stream.c).  The sockets
 * themselves are util/socket.h's, the ring util/outbuf.h's.
 *
 * The "socket" chardev: a TCP (IPv4/IPv6) or unix stream socket, server
 * or client, with QEMU's -chardev socket options.
 *
 *   -chardev socket,id=ID,host=H,port=P[,to=P2][,ipv4=on|off][,ipv6=on|off]
 *            [,server=on|off][,wait=on|off][,reconnect=SECS]
 *            [,reconnect-ms=MS][,nodelay=on|off][,out-buffer-size=BYTES]
 *   -chardev socket,id=ID,path=PATH[,abstract=on|off][,tight=on|off] ...
 *
 * Server (server=on): listens when the chardev is created (on every
 * address 'host' resolves to: "localhost" gives 127.0.0.1 and ::1, "::"
 * is dual-stack) and accepts one client at a time.  While a client is
 * connected the listening sockets are not polled, so further clients wait
 * in the backlog of 1 and are accepted after the current one leaves.
 * wait=on (the command line default, as in QEMU) makes start-up block in
 * chardev_wait_for_clients() until the first client arrives.
 *
 * TLS (tls-creds=, TCP only): every new connection, accepted or
 * connected, goes to the TlsLink (qom/tls-link.h) first; only a peer
 * that completed the handshake and passed tls-authz becomes the
 * connection (the engine's sock_stream_tls_established()), so a server
 * keeps listening meanwhile, with a backlog of TLS_LINK_MAX_PENDING.
 * Records are read through the session (sock_stream_recv()) and written
 * through it by the output ring (outbuf_set_tls()), batched.
 *
 * Client: without reconnect, the chardev connects while it is created and
 * a failure is a creation error ("Failed to connect to 'H:P': Connection
 * refused", as QEMU).  With reconnect=N (or reconnect-ms) it connects
 * asynchronously and retries every N seconds, logging failures through a
 * rate limit, also after a connection is lost; a host name is then looked
 * up in a thread (SockLookup, util/socket.h), never in the loop.
 *
 * I/O happens in the context the chardev is attached to (char.c moves it):
 * one custom GSource per attachment holds the listening fds, the
 * connection fd and a ready time used as the reconnect timer and to run
 * deferred work (a disconnect requested from a callback, the OPENED event
 * owed to a frontend that attached to an open connection).
 *
 * Reading: up to CHAR_SOCKET_READ_SIZE bytes per recv(), at most
 * CHAR_SOCKET_READS_PER_WAKEUP recv()s per wake-up, each delivered to the
 * frontend at once.  Nothing is read while no frontend has installed
 * handlers or while reading is paused.
 *
 * Writing: chr_fe_write() takes a whole message or nothing.  Messages are
 * appended to the output ring (at most out-buffer-size bytes, grown by
 * doubling) if it can take all of them, and refused with -EAGAIN only if
 * the socket cannot take queued data to make room either.  Nothing is
 * written inside chr_fe_write() until CHAR_SOCKET_FLUSH_BATCH bytes are
 * queued: every message queued during one main loop iteration leaves
 * together in one sendmsg() when the source is prepared for the next
 * iteration (its prepare() says "ready" while bytes wait and the socket is
 * not known to be full), i.e. as soon as the burst being processed is
 * done; a lone message waits for nothing else.  A socket that does not
 * take everything is polled for output until the ring is empty.  A writer
 * that was refused gets its writable callback once the ring is below
 * half.  chr_fe_disconnect() and removal first try to send what is queued
 * (without blocking).
 *
 * Disconnect (EOF, error, or chr_fe_disconnect()): the socket is closed,
 * the output ring is discarded (the next connection starts on a frame
 * boundary), CLOSED is emitted, a server listens again and a client with
 * reconnect schedules its next attempt.
 *
 * Every event a callback could react to is emitted last in its handler,
 * and the handler re-checks that the chardev is still attached to the same
 * source afterwards, since a callback may move or release the chardev.
 */
#ifndef CHARDEV_CHAR_SOCKET_INTERNAL_H
#define CHARDEV_CHAR_SOCKET_INTERNAL_H

#include <poll.h>

#include "chardev/char.h"
#include "chardev/char-internal.h"
#include "qom/sock-stream.h"
#include "qom/tls-link.h"
#include "util/log.h"
#include "util/outbuf.h"
#include "util/sockaddr.h"
#include "util/socket.h"
#include "util/stats.h"

#define CHAR_SOCKET_READ_SIZE (256 * 1024)     /* bytes per recv() */
#define CHAR_SOCKET_READS_PER_WAKEUP 4         /* recv()s per wake-up */
#define CHAR_SOCKET_OUT_DEFAULT (4u * 1024 * 1024)
/* Two of the largest frames (69632 + 8 header bytes) must fit. */
#define CHAR_SOCKET_OUT_MIN (128u * 1024)
#define CHAR_SOCKET_OUT_MAX (1024u * 1024 * 1024)
#define CHAR_SOCKET_OUT_INITIAL (64u * 1024)   /* first ring allocation */
#define CHAR_SOCKET_FLUSH_BATCH (128u * 1024)  /* queued bytes sent at once */
#define CHAR_SOCKET_MAX_LISTEN SOCK_STREAM_MAX_LISTEN
#define CHAR_SOCKET_BACKLOG 1                  /* one waiting client */
/* With TLS, connections are accepted while others handshake: room for
 * as many as may be pending, so a burst of strangers does not make the
 * legitimate peer's SYN wait for a retransmission. */
#define CS_BACKLOG(s) ((s)->tls ? TLS_LINK_MAX_PENDING : CHAR_SOCKET_BACKLOG)
#define CHAR_SOCKET_CONNECT_TIMEOUT_MS 15000   /* creation-time connect */

/* The peer shut its side down (poll(2) event, Linux). */
#define CS_POLLRDHUP ((GIOCondition)POLLRDHUP)

/* A warning about 's', through its own rate limit (peer-triggered). */
#define CS_WARN(s, ...) \
    log_warn_rl_domain(G_LOG_DOMAIN, &(s)->rl, __VA_ARGS__)

#define TYPE_CHAR_SOCKET (char_socket_get_type())
G_DECLARE_FINAL_TYPE(CharSocket, char_socket, CHAR, SOCKET, Chardev)

struct _CharSocket {
    Chardev parent_instance;

    /* properties (fixed once complete) */
    char *host;               /* inet host, "" = any / loopback */
    char *port;               /* inet port (string, as QEMU) */
    char *path;               /* unix path or abstract name */
    guint to;                 /* last port of a listen range, 0 = none */
    gboolean server;
    gboolean wait;
    gboolean nodelay;
    gboolean ipv4, ipv6;
    gboolean abstract;        /* linux abstract namespace */
    gboolean tight;           /* abstract address length = name length */
    guint64 reconnect;        /* seconds, 0 = never */
    guint64 reconnect_ms;     /* milliseconds, 0 = never */
    guint64 out_buffer_size;  /* bytes queued at most */
    gboolean wait_given, reconnect_given, ipv4_given, ipv6_given;
    char *tls_creds;          /* tls-creds object id, or NULL */
    char *tls_authz;          /* tls-authz object id, or NULL */

    /* configuration derived at complete (then constant) */
    gboolean is_unix;
    int64_t reconnect_us;     /* retry interval, 0 = no reconnect */
    char *target;             /* "host:port" or path, for messages */
    char *addr_desc;          /* "tcp:127.0.0.1:9000" for filenames */
    gboolean unlink_path;     /* we created the unix socket file */
    TlsLink *tls;             /* with tls-creds: handshakes (qom/tls-link) */
    char *warning;            /* query-chardev "warning", or NULL */
    char *what;               /* "chardev 'ID'", for the engine's messages */

    /* The connection engine (qom/sock-stream.h): listeners, the state,
     * the connection fd and its TLS session, the connect round, the
     * source attached to the chardev's context (ss.src, NULL while
     * detached) and the reconnect timer. */
    SockStream ss;

    /* I/O state: attached context only */
    gboolean pending_close;   /* close at next dispatch */
    gboolean close_quiet;     /* cs_close_conn() without CLOSED */
    gboolean announce_open;   /* owe the frontend an OPENED */
    gboolean paused;          /* frontend paused reading */
    gboolean hup_seen;        /* peer hung up while we were not reading */
    uint8_t *rbuf;            /* CHAR_SOCKET_READ_SIZE, allocated once */
    OutBuf out;               /* output ring (max out_buffer_size) */
    gboolean writable_wanted; /* a write was refused since last drain */
    gint connected;           /* atomic: CONNECTED and no close pending */
    RateLimit rl;             /* warnings about this chardev */

    /* description for query-chardev (any thread, under 'lock') */
    GMutex lock;
    char *desc;
};

static inline const char *cs_id(CharSocket *s)
{
    const char *id = user_object_get_id(USER_OBJECT(s));

    return id ? id : "?";
}

/* These run per frame written (cs_write()): the parent by its member, not
 * through CHARDEV_BASE(), whose type check (g_type_check_instance_cast(),
 * its helper and chardev_get_type()) was about 70 instructions per frame
 * in callgrind, more than the rest of the write.  's' is a CharSocket
 * already. */
static inline ChardevStats *cs_stats(CharSocket *s)
{
    return chardev_get_stats(&s->parent_instance);
}

static inline void cs_set_out_queued(CharSocket *s)
{
    chardev_note_out_queued(&s->parent_instance, outbuf_len(&s->out));
}

/* --- char-socket-conn.c -------------------------------------------------- */

/* Recomputes the query-chardev filename (QEMU's spellings). */
void cs_update_desc(CharSocket *s);
/* Server: listens on the unix path or on every address of host:port (a
 * port range with 'to'); creation time. */
gboolean cs_listen_unix(CharSocket *s, GError **errp);
gboolean cs_listen_inet(CharSocket *s, GError **errp);
void cs_close_listen(CharSocket *s);
/* Client without reconnect: connects while the chardev is created. */
gboolean cs_connect_sync(CharSocket *s, GError **errp);
/* Client with reconnect: the target of the engine's rounds. */
gboolean cs_connect_setup(CharSocket *s, GError **errp);
/* Drops the connection, emitting CLOSED (last) when 'emit'. */
void cs_close_conn(CharSocket *s, gboolean emit);
/* Closes at the next dispatch (no event re-enters the caller). */
void cs_schedule_close(CharSocket *s);
/* Teardown: best-effort flush, then every socket closed. */
void cs_close_all(CharSocket *s);

/* --- char-socket-io.c ---------------------------------------------------- */

/* The poll set from the state (no-op detached). */
static inline void cs_update_watch(CharSocket *s)
{
    sock_stream_update(&s->ss);
}
/* Sends queued output while the socket takes it: 0 or -errno. */
int cs_flush_queued(CharSocket *s);
/* Sets the ChardevClass methods. */
void char_socket_io_class_init(ChardevClass *cc);

/* The engine's callbacks: the life cycle's (char-socket-conn.c) and the
 * I/O's (char-socket-io.c), gathered in cs_stream_ops. */
extern const SockStreamOps cs_stream_ops;
void cs_stream_established(void *opaque, SockStreamOrigin how,
                           const char *identity);
void cs_stream_closed(void *opaque, gboolean was_open);
void cs_stream_connect_failed(void *opaque, const char *why,
                              SockStreamFail how);

#endif /* CHARDEV_CHAR_SOCKET_INTERNAL_H */
