/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/sock-stream.h - the stream connection engine the socket chardev
 * and the stream netdev share: one connection at a time, over
 * util/socket.h's sockets, with qom/tls-link.h's handshake step.
 *
 * A SockStream is either a server (a listen set: every fd given with
 * sock_stream_add_listen(); while a connection is up the listeners are
 * not polled, so a further peer waits in the backlog until the current
 * one leaves) or a client (a SockConnector round: a host name looked up
 * in a thread, then each address, non-blocking; with a reconnect interval
 * a failed round or a lost connection starts a new round after it).
 *
 * Every new fd (accepted, connected, or given by the owner) goes through
 * sock_stream_take_fd(): with a TlsLink it is handshaken and authorized
 * first (the server keeps listening meanwhile; a client that is refused
 * retries as after a failed connect), and only then does it become the
 * connection: 'fd' and 'sess' are set, the owner's output ring is given
 * the session, and ops->established() runs.  sock_stream_close() is the
 * one place it ends (ops->closed() after the fd is closed).
 *
 * One FdSource per attachment (sock_stream_attach(): any context; the
 * TlsLink follows) polls the listeners, the round's fd, or the
 * connection's for what ops->conn_events() asks, and carries the
 * reconnect / accept back-off timer as its ready time.  The owner's work
 * runs from ops->dispatch(), with the connection's revents (0 when it
 * only had ops->pending() work); whatever the owner decides about its
 * bytes (framing, pausing, back-pressure) stays its own.  Reading is
 * sock_stream_recv() (the socket, or the session's records), writing
 * the owner's OutBuf, which sends through the session by itself.
 *
 * Callbacks may detach, close or release the owner: the engine holds a
 * reference to 'owner' during its dispatch and stops when its source
 * changed under it.  Threads: the attached context only.
 */
#ifndef QOM_SOCK_STREAM_H
#define QOM_SOCK_STREAM_H

#include <glib-object.h>

#include "qom/tls-link.h"
#include "util/log.h"
#include "util/outbuf.h"
#include "util/socket.h"

#define SOCK_STREAM_MAX_LISTEN 8            /* listening addresses */
#define SOCK_STREAM_ACCEPT_BACKOFF_US G_USEC_PER_SEC /* after EMFILE etc. */

typedef enum {
    SOCK_STREAM_IDLE,         /* server: listening; client: waiting */
    SOCK_STREAM_CONNECTING,   /* client: a connect round is on */
    SOCK_STREAM_CONNECTED,
} SockStreamState;

/* How the connection came. */
typedef enum {
    SOCK_STREAM_ACCEPTED,     /* from a listener */
    SOCK_STREAM_DIALED,       /* a client's round, after waiting */
    SOCK_STREAM_GIVEN,        /* the owner's fd (connected at once, or
                               * inherited), or through the TlsLink */
} SockStreamOrigin;

/* How a client's round failed. */
typedef enum {
    SOCK_STREAM_FAIL_AT_ONCE, /* in sock_stream_connect() */
    SOCK_STREAM_FAIL_LATER,   /* after waiting */
    SOCK_STREAM_FAIL_TLS,     /* the TlsLink refused the connection */
} SockStreamFail;

typedef struct SockStreamOps {
    /* The connection is up ('fd', and 'sess' with TLS): reset what the
     * owner keeps per connection, announce it.  'identity': the TLS
     * peer, or NULL. */
    void (*established)(void *opaque, SockStreamOrigin how,
                        const char *identity);
    /* It ended: the fd is closed, the session freed, listening or the
     * reconnect timer re-armed.  'was_open': it had been established. */
    void (*closed)(void *opaque, gboolean was_open);
    /* A client's round failed ('why'); the retry is scheduled after. */
    void (*connect_failed)(void *opaque, const char *why,
                           SockStreamFail how);
    /* What to poll the established connection for. */
    GIOCondition (*conn_events)(void *opaque);
    /* The owner's work: the connection's revents (0 when none fired),
     * called on every dispatch before the engine's own. */
    void (*dispatch)(void *opaque, GIOCondition revents);
    /* TRUE when the owner has work without any fd event (cheap, no state
     * change).  May be NULL. */
    gboolean (*pending)(void *opaque);
} SockStreamOps;

typedef struct SockStream {
    const SockStreamOps *ops;
    void *opaque;
    GObject *owner;           /* kept alive during dispatch (borrowed) */
    const char *what;         /* "chardev 'x'" / "x": message prefix */
    RateLimit *rl;            /* the owner's warning rate limit */
    const char *src_name;     /* static: names the source */

    /* configuration */
    gboolean server;
    int64_t reconnect_us;     /* client: retry interval, 0 = never */
    GArray *addrs;            /* client: SockAddr list, or NULL: */
    char *host, *port;        /* ... a host looked up in a thread */
    char *bad_target;         /* ... or why there is none: every round
                               * fails at once with it */
    int family;
    const char *thread_name;
    int listen_fds[SOCK_STREAM_MAX_LISTEN];
    guint n_listen;
    TlsLink *tls;             /* set by the owner, freed by it */
    OutBuf *out;              /* the owner's ring (given the session) */

    /* state: attached context only */
    SockStreamState state;
    int fd;                   /* the connection, or -1 */
    TlsSession *sess;         /* its record layer with TLS */
    SockConnector *connector; /* CONNECTING: the round */
    GSource *src;             /* NULL while detached */
    GMainContext *ctx;
    gpointer listen_tags[SOCK_STREAM_MAX_LISTEN];
    gpointer conn_tag;
    GIOCondition conn_events; /* what conn_tag polls for */
    int64_t timer_at;         /* monotonic us: reconnect or end of the
                               * accept back-off; 0 = none */
    gboolean accept_backoff;
} SockStream;

void sock_stream_init(SockStream *ss, const SockStreamOps *ops,
                      void *opaque, GObject *owner, const char *what,
                      RateLimit *rl, const char *src_name);
/* Closes everything (a best-effort flush of 'out' first); the owner
 * frees its TlsLink and unlinks its unix path itself. */
void sock_stream_destroy(SockStream *ss);

/* Server: takes a listening fd. */
void sock_stream_add_listen(SockStream *ss, int fd);
void sock_stream_close_listen(SockStream *ss);
/* Client: the target, a list of addresses (taken) or a host name. */
void sock_stream_set_addrs(SockStream *ss, GArray *addrs);
void sock_stream_set_host(SockStream *ss, const char *host,
                          const char *port, int family,
                          const char *thread_name);
/* A target that cannot be: every round fails at once with 'why' (as
 * connecting to it would, e.g. a unix path too long). */
void sock_stream_set_bad_target(SockStream *ss, const char *why);
/* Starts a round now.  FALSE when it failed at once: with errp the
 * error is returned (creation time, no retry), else connect_failed()
 * is told and the retry scheduled. */
gboolean sock_stream_connect(SockStream *ss, GError **errp);
/* A connected fd (taken): through the TlsLink, then the connection. */
void sock_stream_take_fd(SockStream *ss, int fd, SockStreamOrigin how);
/* The TlsLink's verdicts: the owner passes these to tls_link_new() with
 * the SockStream as opaque. */
void sock_stream_tls_established(void *opaque, int fd, TlsSession *sess,
                                 const char *identity);
void sock_stream_tls_refused(void *opaque, const char *reason);

/* Ends the connection or the round: listening or the reconnect timer
 * re-armed, then ops->closed(). */
void sock_stream_close(SockStream *ss);

/* Attaches to 'ctx' (NULL: the default context); the TlsLink follows. */
void sock_stream_attach(SockStream *ss, GMainContext *ctx);
void sock_stream_detach(SockStream *ss);
/* The owner's events changed (ops->conn_events()): re-poll. */
void sock_stream_update(SockStream *ss);

/* sock_recv() of the connection, through the session's records with
 * TLS (gathered up to 'len'): bytes, 0 at the peer's close, -errno. */
gssize sock_stream_recv(SockStream *ss, uint8_t *buf, size_t len);
/* TLS: decrypted bytes wait in the session, where poll() cannot see
 * them. */
gboolean sock_stream_tls_pending(SockStream *ss);

static inline gboolean sock_stream_connected(const SockStream *ss)
{
    return ss->state == SOCK_STREAM_CONNECTED;
}

#endif /* QOM_SOCK_STREAM_H */
