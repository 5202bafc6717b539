/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char-socket.c - the "socket" chardev: a TCP (IPv4/IPv6) or unix
 * stream socket, server or client, with QEMU's -chardev socket options.
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
 * Client: without reconnect, the chardev connects while it is created and
 * a failure is a creation error ("Failed to connect to 'H:P': Connection
 * refused", as QEMU).  With reconnect=N (or reconnect-ms) it connects
 * asynchronously and retries every N seconds, logging failures through a
 * rate limit, also after a connection is lost; a host name is then looked
 * up in a thread (CsLookup), never in the loop.
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
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chardev/char.h"
#include "chardev/char-internal.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/fd-watch.h"
#include "util/log.h"
#include "util/sockaddr.h"
#include "util/stats.h"
#include "qom/tls-link.h"

#define CHAR_SOCKET_READ_SIZE (256 * 1024)     /* bytes per recv() */
#define CHAR_SOCKET_READS_PER_WAKEUP 4         /* recv()s per wake-up */
#define CHAR_SOCKET_OUT_DEFAULT (4u * 1024 * 1024)
/* Two of the largest frames (69632 + 8 header bytes) must fit. */
#define CHAR_SOCKET_OUT_MIN (128u * 1024)
#define CHAR_SOCKET_OUT_MAX (1024u * 1024 * 1024)
#define CHAR_SOCKET_OUT_INITIAL (64u * 1024)   /* first ring allocation */
#define CHAR_SOCKET_FLUSH_BATCH (128u * 1024)  /* queued bytes sent at once */
#define CHAR_SOCKET_MAX_LISTEN 8               /* listening addresses */
#define CHAR_SOCKET_BACKLOG 1                  /* one waiting client */
/* With TLS, connections are accepted while others handshake: room for
 * as many as may be pending, so a burst of strangers does not make the
 * legitimate peer's SYN wait for a retransmission. */
#define CS_BACKLOG(s) ((s)->tls ? TLS_LINK_MAX_PENDING : CHAR_SOCKET_BACKLOG)
#define CHAR_SOCKET_CONNECT_TIMEOUT_MS 15000   /* creation-time connect */
#define CHAR_SOCKET_ACCEPT_BACKOFF_US G_USEC_PER_SEC /* after EMFILE etc. */

/* The peer shut its side down (poll(2) event, Linux). */
#define CS_POLLRDHUP ((GIOCondition)POLLRDHUP)

/* A warning about 's', through its own rate limit (peer-triggered). */
#define CS_WARN(s, ...) \
    colo_warn_rl_domain(G_LOG_DOMAIN, &(s)->rl, __VA_ARGS__)

typedef enum {
    CS_DISCONNECTED,          /* server: listening; client: idle/waiting */
    CS_CONNECTING,            /* client: non-blocking connect() pending */
    CS_CONNECTED,
} CharSocketState;

/* One resolved address to connect to. */
typedef SockAddr CharSocketAddr;

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
    int listen_fds[CHAR_SOCKET_MAX_LISTEN];
    guint n_listen;

    /* I/O state: attached context only */
    CharSocketState state;
    int fd;                   /* connection (or connecting) fd, or -1 */
    GSource *src;             /* NULL while detached */
    gpointer listen_tags[CHAR_SOCKET_MAX_LISTEN];
    gpointer conn_tag;
    GIOCondition conn_events; /* what conn_tag polls for */
    int64_t timer_at;         /* monotonic us: client reconnect or end of
                               * server accept back-off; 0 = none */
    gboolean accept_backoff;  /* server: listening paused after EMFILE */
    gboolean pending_close;   /* close at next dispatch */
    gboolean announce_open;   /* owe the frontend an OPENED */
    gboolean paused;          /* frontend paused reading */
    gboolean hup_seen;        /* peer hung up while we were not reading */
    struct CsLookup *lookup;  /* CONNECTING: a name being resolved (fd is
                               * its eventfd), else NULL */
    GArray *addrs;            /* of CharSocketAddr, client attempt */
    guint addr_idx;           /* next address to try */
    int connect_errno;        /* last connect() failure */
    uint8_t *rbuf;            /* CHAR_SOCKET_READ_SIZE, allocated once */
    uint8_t *obuf;            /* output ring */
    size_t ocap;              /* ring capacity (<= out_buffer_size) */
    size_t ohead;             /* first queued byte */
    size_t olen;              /* bytes queued */
    gboolean writable_wanted; /* a write was refused since last drain */
    gint connected;           /* atomic: CONNECTED and no close pending */
    TlsSession *tls_sess;     /* CONNECTED with TLS: the record layer */
    RateLimit rl;             /* warnings about this chardev */

    /* description for query-chardev (any thread, under 'lock') */
    GMutex lock;
    char *desc;
};

G_DEFINE_TYPE(CharSocket, char_socket, TYPE_CHARDEV)

static void cs_update_watch(CharSocket *s);
static void cs_update_timer(CharSocket *s);
static void cs_close_conn(CharSocket *s, gboolean emit);
static void cs_connect_next(CharSocket *s);

static const char *cs_id(CharSocket *s)
{
    const char *id = user_object_get_id(USER_OBJECT(s));

    return id ? id : "?";
}

static ChardevStats *cs_stats(CharSocket *s)
{
    return chardev_get_stats(CHARDEV_BASE(s));
}

static void cs_set_out_queued(CharSocket *s)
{
    chardev_note_out_queued(CHARDEV_BASE(s), s->olen);
}

/* --- addresses and descriptions ---------------------------------------- */

static char *cs_fd_name(int fd, gboolean peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
                 : getsockname(fd, (struct sockaddr *)&ss, &len);

    if (r < 0) {
        return g_strdup("?");
    }
    return sockaddr_describe((struct sockaddr *)&ss, len);
}

/* Recomputes the query-chardev filename (QEMU's spellings). */
static void cs_update_desc(CharSocket *s)
{
    const char *suffix = s->server ? ",server=on" : "";
    char *desc;

    if (s->state == CS_CONNECTED && !s->is_unix) {
        g_autofree char *local = cs_fd_name(s->fd, FALSE);
        g_autofree char *peer = cs_fd_name(s->fd, TRUE);

        desc = g_strdup_printf("tcp:%s<->%s%s", local, peer, suffix);
    } else if (s->state == CS_CONNECTED) {
        desc = g_strdup_printf("%s%s", s->addr_desc, suffix);
    } else {
        desc = g_strdup_printf("disconnected:%s%s", s->addr_desc, suffix);
    }
    g_mutex_lock(&s->lock);
    g_free(s->desc);
    s->desc = desc;
    g_mutex_unlock(&s->lock);
}

/* The unix address of 'path' (util/sockaddr.h: one length limit for
 * files and abstract names).  FALSE with errp set if it does not fit. */
static gboolean cs_unix_addr(CharSocket *s, SockAddr *a, GError **errp)
{
    return sockaddr_unix(a, s->path, s->abstract, s->tight, NULL, errp);
}

static int cs_family(CharSocket *s)
{
    gboolean v4 = s->ipv4_given ? s->ipv4 : !s->ipv6_given || !s->ipv6;
    gboolean v6 = s->ipv6_given ? s->ipv6 : !s->ipv4_given || !s->ipv4;

    if (v4 && !v6) {
        return AF_INET;
    }
    if (v6 && !v4) {
        return AF_INET6;
    }
    return AF_UNSPEC;
}

/* Appends the usable addresses of 'res' to s->addrs. */
static void cs_addrs_from(CharSocket *s, const struct addrinfo *res)
{
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        CharSocketAddr a = { 0 };

        if (ai->ai_addrlen > sizeof(a.ss)) {
            continue;
        }
        memcpy(&a.ss, ai->ai_addr, ai->ai_addrlen);
        a.len = ai->ai_addrlen;
        g_array_append_val(s->addrs, a);
    }
}

static void cs_addrs_reset(CharSocket *s)
{
    if (!s->addrs) {
        s->addrs = g_array_new(FALSE, TRUE, sizeof(CharSocketAddr));
    }
    g_array_set_size(s->addrs, 0);
    s->addr_idx = 0;
}

/* The host is an address (or empty: loopback), not a name to look up. */
static gboolean cs_host_is_numeric(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;

    return !*host || inet_pton(AF_INET, host, &a4) == 1 ||
           inet_pton(AF_INET6, host, &a6) == 1;
}

/* Resolves the client's target into s->addrs.  May block on a DNS name:
 * used only while the chardev is created (a client without reconnect
 * connects then, as in QEMU, and a failure is a creation error); later
 * attempts look names up in a thread (cs_lookup_start()). */
static gboolean cs_resolve_client(CharSocket *s, GError **errp)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int r;

    cs_addrs_reset(s);
    if (s->is_unix) {
        CharSocketAddr a = { 0 };

        if (!cs_unix_addr(s, &a, errp)) {
            return FALSE;
        }
        g_array_append_val(s->addrs, a);
        return TRUE;
    }
    hints.ai_family = cs_family(s);
    r = getaddrinfo(*s->host ? s->host : NULL, s->port, &hints, &res);
    if (r != 0) {
        error_setg(errp, "address resolution failed for %s: %s", s->target,
                   gai_strerror(r));
        return FALSE;
    }
    cs_addrs_from(s, res);
    freeaddrinfo(res);
    if (s->addrs->len == 0) {
        error_setg(errp, "address resolution failed for %s: no address",
                   s->target);
        return FALSE;
    }
    return TRUE;
}

/*
 * A name looked up in a thread of its own, so that a slow or dead DNS
 * server never stalls the loop the chardev runs in (and everything else
 * on it: QMP, the packet path).  The job is shared by the chardev and the
 * thread (refcounted); the thread signals completion on an eventfd that
 * the chardev polls like a connecting socket, and has its own copy of the
 * eventfd, so a chardev that gives up (closed, deleted) just drops its
 * reference and the thread finishes alone.  At most one per chardev.
 */
typedef struct CsLookup {
    gint ref;
    char *host;
    char *port;
    int family;
    int efd;                  /* the thread's copy of the eventfd */
    int gai;                  /* getaddrinfo() result, then ... */
    struct addrinfo *res;     /* ... its addresses (after the signal) */
} CsLookup;

static void cs_lookup_unref(CsLookup *l)
{
    if (g_atomic_int_dec_and_test(&l->ref)) {
        if (l->res) {
            freeaddrinfo(l->res);
        }
        g_free(l->host);
        g_free(l->port);
        g_free(l);
    }
}

static gpointer cs_lookup_thread(gpointer opaque)
{
    CsLookup *l = opaque;
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
                              .ai_family = l->family };

    l->gai = getaddrinfo(l->host, l->port, &hints, &l->res);
    /* the write orders the result before the chardev's read of it */
    eventfd_write(l->efd, 1);
    close(l->efd);
    cs_lookup_unref(l);
    return NULL;
}

/* Drops the lookup in progress, if any (the fd is closed by the caller). */
static void cs_lookup_drop(CharSocket *s)
{
    if (s->lookup) {
        cs_lookup_unref(s->lookup);
        s->lookup = NULL;
    }
}

/* --- listening ----------------------------------------------------------- */

static void cs_close_listen(CharSocket *s)
{
    for (guint i = 0; i < s->n_listen; i++) {
        close(s->listen_fds[i]);
        s->listen_fds[i] = -1;
    }
    s->n_listen = 0;
}

static gboolean cs_listen_unix(CharSocket *s, GError **errp)
{
    SockAddr un;
    int fd;

    if (!cs_unix_addr(s, &un, errp)) {
        return FALSE;
    }
    if (!s->abstract && unlink(s->path) < 0 && errno != ENOENT) {
        error_setg(errp, "Failed to unlink socket %s: %s", s->path,
                   g_strerror(errno));
        return FALSE;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg(errp, "Failed to create socket: %s", g_strerror(errno));
        return FALSE;
    }
    if (bind(fd, (struct sockaddr *)&un.ss, un.len) < 0 ||
        listen(fd, CS_BACKLOG(s)) < 0) {
        int err = errno;

        close(fd);
        error_setg(errp, "Failed to bind socket to %s: %s", s->path,
                   g_strerror(err));
        return FALSE;
    }
    s->listen_fds[s->n_listen++] = fd;
    s->unlink_path = !s->abstract;
    s->addr_desc = g_strdup_printf("unix:%s", s->path);
    return TRUE;
}

static gboolean cs_is_any6(const struct addrinfo *ai)
{
    return ai->ai_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(
               &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr);
}

static gboolean cs_is_any4(const struct addrinfo *ai)
{
    return ai->ai_family == AF_INET &&
           ((const struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr ==
           htonl(INADDR_ANY);
}

static void cs_set_port(struct sockaddr *sa, uint16_t port)
{
    if (sa->sa_family == AF_INET) {
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
    } else if (sa->sa_family == AF_INET6) {
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
    }
}

static uint16_t cs_fd_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return 0;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}

/*
 * Binds every address of 'host' at 'port'.  Returns 0 on success, else
 * the errno of the failure (EADDRINUSE: try the next port of a range).
 * A dual-stack "::" covers "0.0.0.0", which is then skipped; an address
 * the host cannot bind (::1 without IPv6) is skipped if another binds.
 */
static int cs_listen_inet_port(CharSocket *s, const char *port,
                               GError **errp)
{
    struct addrinfo hints = {
        .ai_flags = AI_PASSIVE,
        .ai_socktype = SOCK_STREAM,
        .ai_family = cs_family(s),
    };
    struct addrinfo *res = NULL;
    gboolean dual = FALSE;
    uint16_t bound_port = 0;
    int err = 0;
    int r;

    r = getaddrinfo(*s->host ? s->host : NULL, port, &hints, &res);
    if (r != 0) {
        error_setg(errp, "address resolution failed for %s:%s: %s",
                   s->host, port, gai_strerror(r));
        return EINVAL;
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (cs_is_any6(ai) && !(s->ipv4_given && !s->ipv4)) {
            dual = TRUE;
        }
    }
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int on = 1, fd;

        if ((dual && cs_is_any4(ai)) || s->n_listen == CHAR_SOCKET_MAX_LISTEN ||
            (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)) {
            continue;
        }
        if (bound_port) {
            cs_set_port(ai->ai_addr, bound_port);
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
        if (fd < 0) {
            err = errno;
            continue;
        }
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (ai->ai_family == AF_INET6) {
            int v6only = !(dual && cs_is_any6(ai));

            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                       sizeof(v6only));
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
            listen(fd, CS_BACKLOG(s)) < 0) {
            err = errno;
            close(fd);
            if (err == EADDRINUSE) {
                break;
            }
            continue;
        }
        s->listen_fds[s->n_listen++] = fd;
        bound_port = cs_fd_port(fd);
    }
    freeaddrinfo(res);
    if (err == EADDRINUSE || s->n_listen == 0) {
        cs_close_listen(s);
        return err ? err : EADDRNOTAVAIL;
    }
    return 0;
}

static gboolean cs_listen_inet(CharSocket *s, GError **errp)
{
    guint64 first = 0;
    int err = 0;

    if (s->to) {
        if (!g_ascii_string_to_unsigned(s->port, 10, 0, 65535, &first,
                                        NULL)) {
            error_setg(errp, "port '%s' must be a number when 'to' is "
                       "given", s->port);
            return FALSE;
        }
        if (s->to < first) {
            error_setg(errp, "'to' (%u) is below port %s", s->to, s->port);
            return FALSE;
        }
        for (guint p = first; p <= s->to; p++) {
            g_autofree char *ps = g_strdup_printf("%u", p);
            GError *local = NULL;

            err = cs_listen_inet_port(s, ps, &local);
            if (local) {
                g_propagate_error(errp, local);
                return FALSE;
            }
            if (err != EADDRINUSE) {
                break;
            }
        }
        if (err) {
            error_setg(errp, "Failed to find an available port in %s-%u: %s",
                       s->port, s->to, g_strerror(err));
            return FALSE;
        }
    } else {
        GError *local = NULL;

        err = cs_listen_inet_port(s, s->port, &local);
        if (local) {
            g_propagate_error(errp, local);
            return FALSE;
        }
        if (err) {
            error_setg(errp, "Failed to listen on '%s': %s", s->target,
                       g_strerror(err));
            return FALSE;
        }
    }
    {
        g_autofree char *name = cs_fd_name(s->listen_fds[0], FALSE);

        s->addr_desc = g_strdup_printf("tcp:%s", name);
    }
    return TRUE;
}

/* --- connection life cycle ----------------------------------------------- */

/* Takes 'fd' (connected, non-blocking) as the connection and emits OPENED
 * (last: the caller returns right after). */
static void cs_connected(CharSocket *s, int fd)
{
    /* TLS seam (a): a new connection is handshaken and authorized before
     * it is one.  The fd goes to the TlsLink, which calls
     * cs_tls_established() (and this function again) when the peer
     * proved itself; meanwhile a server keeps listening, so a stranger
     * that connects first holds no slot (docs/security.md). */
    if (s->tls && !s->tls_sess) {
        if (!s->server) {
            s->state = CS_DISCONNECTED;   /* until the handshake ends */
        }
        tls_link_add(s->tls, fd);
        cs_update_watch(s);
        cs_update_timer(s);
        return;
    }
    /* TCP_NODELAY by default (QEMU's default is Nagle's algorithm).  Our
     * output is already batched: everything queued in one loop iteration
     * leaves in one sendmsg().  With Nagle the kernel holds each batch
     * until the peer acknowledges the previous one, and a Linux peer
     * delays that acknowledgement (up to ~40 ms) once our segments look
     * full-sized to it: from about 470 bytes of payload per frame on, all
     * of colo-compare's and the filters' traffic waited for delayed ACKs
     * (docs/devel/latency.md). */
    if (!s->is_unix && s->nodelay) {
        int on = 1;

        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    s->fd = fd;
    s->state = CS_CONNECTED;
    s->pending_close = FALSE;
    g_atomic_int_set(&s->connected, 1);
    s->announce_open = FALSE;
    s->hup_seen = FALSE;
    s->timer_at = 0;
    s->olen = 0;
    s->ohead = 0;
    cs_set_out_queued(s);
    stats_inc(&cs_stats(s)->connects);
    cs_update_desc(s);
    COLO_NOTICE_RL("chardev '%s': connected (%s)", cs_id(s), s->desc);
    chardev_set_wait_pending(CHARDEV_BASE(s), FALSE);
    cs_update_watch(s);
    cs_update_timer(s);
    chardev_emit_event(CHARDEV_BASE(s), CHR_EVENT_OPENED);
}

/*
 * Drops the connection (or a pending connect): discards the output ring,
 * re-arms listening or the reconnect timer, and emits CLOSED if a
 * connection was open and 'emit' (last).
 */
static void cs_close_conn(CharSocket *s, gboolean emit)
{
    gboolean was_open = s->state == CS_CONNECTED;

    if (s->src) {
        fd_source_set_fd(s->src, &s->conn_tag, &s->conn_events, -1, 0);
    }
    s->conn_tag = NULL;
    s->conn_events = 0;
    g_clear_pointer(&s->tls_sess, tls_session_free);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    cs_lookup_drop(s);
    s->state = CS_DISCONNECTED;
    g_atomic_int_set(&s->connected, 0);
    s->olen = 0;
    s->ohead = 0;
    cs_set_out_queued(s);
    s->writable_wanted = FALSE;
    s->pending_close = FALSE;
    s->announce_open = FALSE;
    s->hup_seen = FALSE;
    if (was_open) {
        stats_inc(&cs_stats(s)->disconnects);
    }
    if (!s->server && s->reconnect_us) {
        s->timer_at = g_get_monotonic_time() + s->reconnect_us;
    }
    cs_update_desc(s);
    cs_update_watch(s);
    cs_update_timer(s);
    if (was_open) {
        COLO_NOTICE_RL("chardev '%s': disconnected", cs_id(s));
        if (emit) {
            chardev_emit_event(CHARDEV_BASE(s), CHR_EVENT_CLOSED);
        }
    }
}

/* Asks for the connection to be closed at the next dispatch (from a write
 * error or chr_fe_disconnect(), so no event re-enters the caller). */
static void cs_schedule_close(CharSocket *s)
{
    if (s->state != CS_CONNECTED || s->pending_close) {
        return;
    }
    s->pending_close = TRUE;
    g_atomic_int_set(&s->connected, 0);
    cs_update_watch(s);
    cs_update_timer(s);
}

/* All client attempts for this round failed. */
static void cs_connect_failed(CharSocket *s, const char *why)
{
    s->state = CS_DISCONNECTED;
    if (s->reconnect_us) {
        CS_WARN(s, "chardev '%s': unable to connect to '%s': %s "
                "(retrying every %.3g s)", cs_id(s), s->target, why,
                s->reconnect_us / 1e6);
        s->timer_at = g_get_monotonic_time() + s->reconnect_us;
    }
    cs_update_watch(s);
    cs_update_timer(s);
}

/* Starts looking the client's host name up in a thread; ends CONNECTING
 * (cs_lookup_finish() follows) or failed. */
static void cs_lookup_start(CharSocket *s)
{
    g_autoptr(GError) err = NULL;
    CsLookup *l;
    GThread *th;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int efd2 = efd < 0 ? -1 : fcntl(efd, F_DUPFD_CLOEXEC, 0);

    if (efd2 < 0) {
        int e = errno;

        if (efd >= 0) {
            close(efd);
        }
        cs_connect_failed(s, g_strerror(e));
        return;
    }
    l = g_new0(CsLookup, 1);
    l->ref = 2;                 /* the chardev's and the thread's */
    l->host = g_strdup(s->host);
    l->port = g_strdup(s->port);
    l->family = cs_family(s);
    l->efd = efd2;
    th = g_thread_try_new("chardev-lookup", cs_lookup_thread, l, &err);
    if (!th) {
        close(efd2);
        close(efd);
        l->ref = 1;
        cs_lookup_unref(l);
        cs_connect_failed(s, err->message);
        return;
    }
    g_thread_unref(th);         /* detached: it ends by itself */
    s->lookup = l;
    s->fd = efd;
    s->state = CS_CONNECTING;
    cs_update_watch(s);
}

/* The lookup thread is done: connect to what it found. */
static void cs_lookup_finish(CharSocket *s)
{
    CsLookup *l = s->lookup;
    g_autofree char *why = NULL;

    if (s->src) {
        fd_source_set_fd(s->src, &s->conn_tag, &s->conn_events, -1, 0);
    }
    s->conn_tag = NULL;
    s->conn_events = 0;
    close(s->fd);
    s->fd = -1;
    s->lookup = NULL;
    s->state = CS_DISCONNECTED;
    cs_addrs_reset(s);
    if (l->gai != 0) {
        why = g_strdup_printf("address resolution failed: %s",
                              gai_strerror(l->gai));
    } else {
        cs_addrs_from(s, l->res);
        if (s->addrs->len == 0) {
            why = g_strdup("address resolution failed: no address");
        }
    }
    cs_lookup_unref(l);
    if (why) {
        cs_connect_failed(s, why);
        return;
    }
    s->connect_errno = ECONNREFUSED;
    cs_connect_next(s);
}

/* Starts an asynchronous connect round over every resolved address (a
 * host name is looked up in a thread first). */
static void cs_connect_start(CharSocket *s)
{
    g_autoptr(GError) err = NULL;

    if (!s->is_unix && !cs_host_is_numeric(s->host)) {
        cs_lookup_start(s);
        return;
    }
    if (!cs_resolve_client(s, &err)) {
        cs_connect_failed(s, err->message);
        return;
    }
    s->connect_errno = ECONNREFUSED;
    cs_connect_next(s);
}

/* Tries the next address; ends connected (OPENED emitted), connecting, or
 * failed. */
static void cs_connect_next(CharSocket *s)
{
    while (s->addr_idx < s->addrs->len) {
        CharSocketAddr *a = &g_array_index(s->addrs, CharSocketAddr,
                                           s->addr_idx++);
        int fd = socket(a->ss.ss_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0) {
            s->connect_errno = errno;
            continue;
        }
        if (connect(fd, (struct sockaddr *)&a->ss, a->len) == 0) {
            cs_connected(s, fd);
            return;
        }
        if (errno == EINPROGRESS) {
            s->fd = fd;
            s->state = CS_CONNECTING;
            cs_update_watch(s);
            return;
        }
        s->connect_errno = errno;
        close(fd);
    }
    cs_connect_failed(s, g_strerror(s->connect_errno));
}

/* The connecting fd became writable: connected or failed. */
static void cs_connect_finish(CharSocket *s)
{
    int err = 0, fd = s->fd;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        err = errno;
    }
    if (err == EINPROGRESS || err == EALREADY) {
        return;
    }
    if (s->src) {
        fd_source_set_fd(s->src, &s->conn_tag, &s->conn_events, -1, 0);
    }
    s->conn_tag = NULL;
    s->conn_events = 0;
    s->fd = -1;
    if (err == 0) {
        cs_connected(s, fd);
        return;
    }
    close(fd);
    s->state = CS_DISCONNECTED;
    s->connect_errno = err;
    cs_connect_next(s);
}

/* Connects while the chardev is created (client without reconnect), as
 * QEMU does: a failure is a creation error. */
static gboolean cs_connect_sync(CharSocket *s, GError **errp)
{
    int err = ECONNREFUSED;

    if (!cs_resolve_client(s, errp)) {
        return FALSE;
    }
    for (guint i = 0; i < s->addrs->len; i++) {
        CharSocketAddr *a = &g_array_index(s->addrs, CharSocketAddr, i);
        int fd = socket(a->ss.ss_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, (struct sockaddr *)&a->ss, a->len) < 0) {
            if (errno == EINPROGRESS) {
                struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                socklen_t len = sizeof(err);
                int r;

                do {
                    r = poll(&pfd, 1, CHAR_SOCKET_CONNECT_TIMEOUT_MS);
                } while (r < 0 && errno == EINTR);
                if (r == 0) {
                    err = ETIMEDOUT;
                } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
                                      &len) < 0) {
                    err = errno;
                }
            } else {
                err = errno;
            }
            if (err) {
                close(fd);
                continue;
            }
        }
        cs_connected(s, fd);
        return TRUE;
    }
    error_setg(errp, "Failed to connect to '%s': %s", s->target,
               g_strerror(err));
    return FALSE;
}

/* The TlsLink's verdicts (its dispatch, the chardev's context). */
static void cs_tls_established(void *opaque, int fd, TlsSession *sess,
                               const char *identity)
{
    CharSocket *s = opaque;

    if (s->state == CS_CONNECTED) {
        /* Another peer completed first: one connection at a time. */
        tls_session_free(sess);
        tls_link_refuse_fd(s->tls, fd, "the connection is taken");
        return;
    }
    g_debug("chardev '%s': TLS peer '%s'", cs_id(s), identity);
    tls_session_set_batched(sess);      /* records in batches, as bytes */
    s->tls_sess = sess;
    cs_connected(s, fd);
}

static void cs_tls_refused(void *opaque, const char *reason)
{
    CharSocket *s = opaque;

    if (!s->server && s->state == CS_DISCONNECTED) {
        cs_connect_failed(s, reason);       /* retries with reconnect */
    }
}

/* A listening socket is readable: take one client. */
static void cs_accept(CharSocket *s, int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        int err = errno;

        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR ||
            err == ECONNABORTED || err == EPROTO) {
            return;
        }
        /* Out of fds or memory: stop polling the listener for a while
         * rather than spin on it. */
        CS_WARN(s, "chardev '%s': accept failed: %s",
                cs_id(s), g_strerror(err));
        s->accept_backoff = TRUE;
        s->timer_at = g_get_monotonic_time() + CHAR_SOCKET_ACCEPT_BACKOFF_US;
        cs_update_watch(s);
        cs_update_timer(s);
        return;
    }
    cs_connected(s, fd);
}

/* --- reading and writing ------------------------------------------------ */

/* Bytes waiting to leave: the ring, and with TLS the records the
 * session encrypted and could not send yet. */
static size_t cs_out_waiting(CharSocket *s)
{
    return s->olen + (s->tls_sess ? tls_session_out_pending(s->tls_sess)
                                  : 0);
}

static gboolean cs_reading(CharSocket *s)
{
    return s->state == CS_CONNECTED && !s->pending_close && !s->paused &&
           chardev_fe_handlers_set(CHARDEV_BASE(s));
}

/*
 * TLS seam (b), reading: the decrypted records the session has, up to
 * the buffer's size, gathered into one delivery (a record holds at most
 * 16 KiB; delivering each would cost the frontend a call per record).
 * Returns what recv() would: bytes, 0 at the peer's close, or -1 with
 * errno.  Stops early only at EAGAIN with nothing gathered yet, so data
 * GnuTLS holds beyond the socket's (which poll() cannot see) is never
 * left behind: the loop ends on EAGAIN from the socket or a full buffer,
 * and a full buffer makes cs_read() come back at once.
 */
static ssize_t cs_tls_recv(CharSocket *s, uint8_t *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = tls_session_recv(s->tls_sess, buf + got, len - got);

        if (n > 0) {
            got += n;
            continue;
        }
        if (got) {
            return got;           /* EOF or error: seen at the next read */
        }
        if (n == 0) {
            return 0;
        }
        errno = n == -EAGAIN ? EAGAIN : -n;
        return -1;
    }
    return got;
}

/* Reads what the socket has, bounded per wake-up, delivering each piece.
 * May close the connection (EOF, error). */
static void cs_read(CharSocket *s)
{
    GSource *src = s->src;

    if (!s->rbuf) {
        s->rbuf = g_malloc(CHAR_SOCKET_READ_SIZE);
    }
    for (int i = 0; i < CHAR_SOCKET_READS_PER_WAKEUP; i++) {
        ssize_t n = s->tls_sess
                    ? cs_tls_recv(s, s->rbuf, CHAR_SOCKET_READ_SIZE)
                    : recv(s->fd, s->rbuf, CHAR_SOCKET_READ_SIZE,
                           MSG_DONTWAIT);

        if (n > 0) {
            stats_add(&cs_stats(s)->bytes_in, n);
            chardev_emit_read(CHARDEV_BASE(s), s->rbuf, n);
            if (s->src != src || !cs_reading(s)) {
                return;
            }
            if (n < CHAR_SOCKET_READ_SIZE) {
                return;           /* drained; poll tells us about more */
            }
            continue;
        }
        if (n == 0) {
            cs_close_conn(s, TRUE);
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            CS_WARN(s, "chardev '%s': read error: %s", cs_id(s),
                    g_strerror(errno));
            cs_close_conn(s, TRUE);
        }
        return;
    }
}

/* Grows the ring to hold 'need' bytes (need <= out_buffer_size),
 * linearising its contents. */
static void cs_out_reserve(CharSocket *s, size_t need)
{
    size_t cap = s->ocap ? s->ocap : CHAR_SOCKET_OUT_INITIAL;
    uint8_t *nbuf;

    if (need <= s->ocap) {
        return;
    }
    while (cap < need) {
        cap *= 2;
    }
    cap = MIN(cap, (size_t)s->out_buffer_size);
    g_assert(cap >= need);
    nbuf = g_malloc(cap);
    if (s->olen) {
        size_t first = MIN(s->olen, s->ocap - s->ohead);

        memcpy(nbuf, s->obuf + s->ohead, first);
        memcpy(nbuf + first, s->obuf, s->olen - first);
    }
    g_free(s->obuf);
    s->obuf = nbuf;
    s->ocap = cap;
    s->ohead = 0;
}

/* Appends the message in 'iov' minus its first 'skip' bytes; the caller
 * checked that it fits. */
static void cs_out_append(CharSocket *s, const struct iovec *iov, int iovcnt,
                          size_t total, size_t skip)
{
    cs_out_reserve(s, s->olen + total - skip);
    for (int i = 0; i < iovcnt; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t n = iov[i].iov_len;

        if (skip >= n) {
            skip -= n;
            continue;
        }
        p += skip;
        n -= skip;
        skip = 0;
        while (n) {
            size_t tail = s->ohead + s->olen;   /* < 2 * ocap */
            size_t chunk;

            if (tail >= s->ocap) {
                tail -= s->ocap;
            }
            chunk = MIN(n, s->ocap - tail);

            memcpy(s->obuf + tail, p, chunk);
            s->olen += chunk;
            p += chunk;
            n -= chunk;
        }
    }
    cs_set_out_queued(s);
}

/* Sends queued output while the socket takes it.  Returns 0, or -errno
 * when the connection is broken (the caller closes it).  Emits nothing,
 * so it may run inside chr_fe_write(). */
static int cs_flush_queued(CharSocket *s)
{
    int ret = 0;

    while (s->olen > 0) {
        struct iovec v[2];
        struct msghdr mh = { .msg_iov = v, .msg_iovlen = 1 };
        size_t first = MIN(s->olen, s->ocap - s->ohead);
        ssize_t n;

        v[0].iov_base = s->obuf + s->ohead;
        v[0].iov_len = first;
        if (first < s->olen) {
            v[1].iov_base = s->obuf;
            v[1].iov_len = s->olen - first;
            mh.msg_iovlen = 2;
        }
        if (s->tls_sess) {
            /* TLS seam (b), writing: one record per call, from the
             * ring's head (after -EAGAIN the same head is offered
             * again, as the session requires). */
            n = tls_session_send(s->tls_sess, v[0].iov_base, first);
            if (n < 0) {
                errno = -n;
                n = -1;
            }
        } else {
            n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                ret = -errno;
            }
            break;
        }
        stats_add(&cs_stats(s)->bytes_out, n);
        s->ohead = (s->ohead + n) % s->ocap;
        s->olen -= n;
    }
    if (s->olen == 0) {
        s->ohead = 0;
    }
    if (ret == 0 && s->tls_sess && tls_session_out_pending(s->tls_sess)) {
        /* Records encrypted while the socket was full. */
        int r = tls_session_flush(s->tls_sess);

        ret = r == -EAGAIN ? 0 : r;
    }
    cs_set_out_queued(s);
    return ret;
}

/* The socket is writable: drains the ring.  May close the connection;
 * emits writable (last) once the ring is below half after a refused
 * write. */
static void cs_flush(CharSocket *s)
{
    int ret = cs_flush_queued(s);

    if (ret < 0) {
        CS_WARN(s, "chardev '%s': write error: %s", cs_id(s),
                g_strerror(-ret));
        cs_close_conn(s, TRUE);
        return;
    }
    cs_update_watch(s);
    if (s->writable_wanted && s->olen <= s->out_buffer_size / 2) {
        s->writable_wanted = FALSE;
        chardev_emit_writable(CHARDEV_BASE(s));
    }
}

/* --- the source --------------------------------------------------------- */

/* Polls what the state needs.  A connected socket that is not read is
 * polled for POLLRDHUP, so a peer leaving is noticed: without a frontend
 * the connection is dropped (a server listens again), while paused the
 * rest of the stream is read, then the EOF, when reading resumes. */
static void cs_update_watch(CharSocket *s)
{
    gboolean listen = s->server && s->state == CS_DISCONNECTED &&
                      !s->accept_backoff;
    GIOCondition ev = 0;

    if (!s->src) {
        return;
    }
    for (guint i = 0; i < s->n_listen; i++) {
        GIOCondition cur = s->listen_tags[i] ? G_IO_IN : 0;

        fd_source_set_fd(s->src, &s->listen_tags[i], &cur, s->listen_fds[i],
                         listen ? G_IO_IN : 0);
    }
    if (s->state == CS_CONNECTING) {
        ev = s->lookup ? G_IO_IN : G_IO_OUT;
    } else if (s->state == CS_CONNECTED && !s->pending_close) {
        if (cs_reading(s)) {
            ev |= G_IO_IN;
        } else if (!s->hup_seen) {
            ev |= CS_POLLRDHUP;       /* notice the peer leaving */
        }
        if (cs_out_waiting(s) && (!s->hup_seen || cs_reading(s))) {
            ev |= G_IO_OUT;
        }
    }
    fd_source_set_fd(s->src, &s->conn_tag, &s->conn_events, s->fd, ev);
}

static void cs_update_timer(CharSocket *s)
{
    gint64 t = -1;

    if (!s->src) {
        return;
    }
    if (s->pending_close || s->announce_open) {
        t = 0;
    } else if (s->timer_at) {
        t = s->timer_at;
    }
    g_source_set_ready_time(s->src, t);
}

/* Queued output waits and the socket is not known to be full (then
 * G_IO_OUT is polled, or, for a paused connection whose peer hung up,
 * nothing is written until reading resumes: see cs_update_watch()): send
 * it before the loop polls again. */
static gboolean cs_flush_due(CharSocket *s)
{
    return cs_out_waiting(s) && s->state == CS_CONNECTED &&
           !s->pending_close && !(s->conn_events & G_IO_OUT) &&
           (!s->hup_seen || cs_reading(s));
}

/* A refused writer is owed its writable callback: the ring went below
 * half outside cs_flush() (a flush inside chr_fe_write()), so no G_IO_OUT
 * will come to deliver it. */
static gboolean cs_writable_due(CharSocket *s)
{
    return s->writable_wanted && s->state == CS_CONNECTED &&
           !s->pending_close && !(s->conn_events & G_IO_OUT) &&
           s->olen <= s->out_buffer_size / 2;
}

/* TLS seam (b): decrypted bytes wait inside the session, where poll()
 * cannot see them (the last read had no room for a whole record). */
static gboolean cs_tls_read_due(CharSocket *s)
{
    return s->tls_sess && cs_reading(s) &&
           tls_session_pending(s->tls_sess) > 0;
}

static void cs_dispatch(CharSocket *s, GSource *src)
{
    int64_t now = g_source_get_time(src);

    g_source_set_ready_time(src, -1);
    if (cs_flush_due(s) || cs_writable_due(s)) {
        /* Messages queued during the last iteration (see prepare). */
        cs_flush(s);
        if (s->src != src) {
            return;
        }
    }
    if (s->pending_close) {
        cs_close_conn(s, TRUE);
        if (s->src != src) {
            return;
        }
    }
    if (s->announce_open) {
        s->announce_open = FALSE;
        if (s->state == CS_CONNECTED) {
            chardev_emit_event(CHARDEV_BASE(s), CHR_EVENT_OPENED);
            if (s->src != src) {
                return;
            }
        }
    }
    if (s->timer_at && now >= s->timer_at) {
        s->timer_at = 0;
        if (s->server) {
            s->accept_backoff = FALSE;
            cs_update_watch(s);
        } else if (s->state == CS_DISCONNECTED) {
            cs_connect_start(s);
            if (s->src != src) {
                return;
            }
        }
    }
    if (s->conn_tag) {
        GIOCondition rev = fd_source_revents(src, s->conn_tag);

        if (s->state == CS_CONNECTING && rev) {
            if (s->lookup) {
                cs_lookup_finish(s);
            } else {
                cs_connect_finish(s);
            }
            if (s->src != src) {
                return;
            }
        } else if (s->state == CS_CONNECTED && rev) {
            if (rev & G_IO_OUT) {
                cs_flush(s);
                if (s->src != src) {
                    return;
                }
            }
            if (s->state == CS_CONNECTED &&
                (rev & (G_IO_IN | G_IO_HUP | G_IO_ERR | CS_POLLRDHUP))) {
                if (cs_reading(s)) {
                    cs_read(s);
                } else if (chardev_fe_handlers_set(CHARDEV_BASE(s))) {
                    /* Paused and the peer left: stop polling (a hang-up
                     * is reported until the fd is closed); the rest of
                     * the stream, then the EOF, is read on resume. */
                    s->hup_seen = TRUE;
                    cs_update_watch(s);
                } else {
                    cs_close_conn(s, TRUE);   /* nobody would read it */
                }
                if (s->src != src) {
                    return;
                }
            }
        }
    }
    if (cs_tls_read_due(s)) {
        cs_read(s);
        if (s->src != src) {
            return;
        }
    }
    if (s->server && s->state == CS_DISCONNECTED) {
        for (guint i = 0; i < s->n_listen; i++) {
            if (s->listen_tags[i] &&
                (fd_source_revents(src, s->listen_tags[i]) & G_IO_IN)) {
                cs_accept(s, s->listen_fds[i]);
                if (s->src != src) {
                    return;
                }
                break;
            }
        }
    }
    cs_update_timer(s);
}

static void cs_source_dispatch(void *opaque, GSource *src)
{
    CharSocket *s = opaque;   /* the source is destroyed before 's' goes */

    g_object_ref(s);
    cs_dispatch(s, src);
    g_object_unref(s);
}

/* Ready when messages were queued during the iteration that just ended:
 * they leave in one sendmsg() from dispatch, before the loop sleeps.
 * Only reads 's' (same thread as every writer). */
static gboolean cs_source_pending(void *opaque)
{
    CharSocket *s = opaque;

    return cs_flush_due(s) || cs_writable_due(s) || cs_tls_read_due(s);
}

static const FdSourceOps cs_source_ops = {
    .dispatch = cs_source_dispatch,
    .pending = cs_source_pending,
};

/* --- ChardevClass ------------------------------------------------------- */

static void cs_attach(Chardev *chr, GMainContext *ctx)
{
    CharSocket *s = CHAR_SOCKET(chr);
    /* Never blocked during its own dispatch (util/fd-watch.h says why). */
    GSource *src = fd_source_new(&cs_source_ops, s, "chardev-socket");

    s->src = src;
    if (s->state == CS_CONNECTED && chardev_fe_handlers_set(chr)) {
        s->announce_open = TRUE;
    }
    cs_update_watch(s);
    cs_update_timer(s);
    g_source_attach(src, ctx);
    if (s->tls) {
        tls_link_attach(s->tls, ctx);   /* handshakes follow the chardev */
    }
}

static void cs_detach(Chardev *chr)
{
    CharSocket *s = CHAR_SOCKET(chr);

    if (!s->src) {
        return;
    }
    if (s->tls) {
        tls_link_detach(s->tls);
    }
    fd_source_clear(&s->src);
    memset(s->listen_tags, 0, sizeof(s->listen_tags));
    s->conn_tag = NULL;
    s->conn_events = 0;
    s->announce_open = FALSE;
}

/* A write error inside chr_fe_write(): the close (and CLOSED) happens at
 * the next dispatch, not inside the caller. */
static gssize cs_write_failed(CharSocket *s, int err)
{
    CS_WARN(s, "chardev '%s': write error: %s", cs_id(s), g_strerror(err));
    cs_schedule_close(s);
    stats_inc(&cs_stats(s)->writes_unconnected);
    return -ENOTCONN;
}

static gssize cs_write(Chardev *chr, const struct iovec *iov, int iovcnt)
{
    CharSocket *s = (CharSocket *) chr;     /* per frame: no checked cast */
    size_t total = 0;
    gboolean too_big = FALSE;
    int ret;

    if (s->state != CS_CONNECTED || s->pending_close) {
        stats_inc(&cs_stats(s)->writes_unconnected);
        return -ENOTCONN;
    }
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len > s->out_buffer_size - total) {
            too_big = TRUE;
            break;
        }
        total += iov[i].iov_len;
    }
    if (!too_big && total > s->out_buffer_size - s->olen) {
        /* Refuse only if the socket cannot take anything either. */
        ret = cs_flush_queued(s);
        if (ret < 0) {
            return cs_write_failed(s, -ret);
        }
    }
    if (too_big || total > s->out_buffer_size - s->olen) {
        stats_inc(&cs_stats(s)->writes_refused);
        s->writable_wanted = TRUE;
        cs_update_watch(s);
        return -EAGAIN;
    }
    if (total == 0) {
        return 0;
    }
    /* Queued; the source sends it before the loop sleeps again. */
    cs_out_append(s, iov, iovcnt, total, 0);
    if (s->olen >= CHAR_SOCKET_FLUSH_BATCH &&
        !(s->conn_events & G_IO_OUT)) {
        /* A large burst: do not wait for the dispatch to send it. */
        ret = cs_flush_queued(s);
        if (ret < 0) {
            cs_write_failed(s, -ret);
            return total;     /* accepted; lost with the connection */
        }
        if (s->olen) {
            cs_update_watch(s);   /* the socket is full: poll for room */
        }
    }
    return total;
}

/* chr_fe_flush(): what the next dispatch would send, sent now.  A write
 * error closes the connection at that dispatch, as in chr_fe_write(). */
static void cs_flush_now(Chardev *chr)
{
    CharSocket *s = (CharSocket *) chr;     /* per read: no checked cast */
    int ret;

    if (!cs_flush_due(s)) {
        return;
    }
    ret = cs_flush_queued(s);
    if (ret < 0) {
        CS_WARN(s, "chardev '%s': write error: %s", cs_id(s),
                g_strerror(-ret));
        cs_schedule_close(s);
    } else if (s->olen) {
        cs_update_watch(s);     /* the socket is full: poll for room */
    }
}

/* Also answered for other threads (statistics queries), hence atomic. */
static gboolean cs_is_connected(Chardev *chr)
{
    return g_atomic_int_get(&CHAR_SOCKET(chr)->connected) != 0;
}

static gsize cs_out_queued(Chardev *chr)
{
    return CHAR_SOCKET(chr)->olen;
}

static void cs_set_read_paused(Chardev *chr, gboolean paused)
{
    CharSocket *s = CHAR_SOCKET(chr);

    s->paused = paused;
    cs_update_watch(s);
}

static void cs_disconnect(Chardev *chr)
{
    CharSocket *s = CHAR_SOCKET(chr);

    if (s->state == CS_CONNECTED) {
        if (!s->pending_close && s->olen) {
            /* What was written before the request goes out if the
             * socket takes it now (errors: the close is coming anyway). */
            cs_flush_queued(s);
        }
        cs_schedule_close(s);
    } else if (s->state == CS_CONNECTING) {
        cs_close_conn(s, FALSE);
    }
}

static char *cs_filename(Chardev *chr)
{
    CharSocket *s = CHAR_SOCKET(chr);
    char *d;

    g_mutex_lock(&s->lock);
    d = g_strdup(s->desc ? s->desc : "disconnected:socket");
    g_mutex_unlock(&s->lock);
    return d;
}

/* query-chardev: the TLS configuration and the exposure warning. */
static void cs_info(Chardev *chr, JsonObject *o)
{
    CharSocket *s = CHAR_SOCKET(chr);

    if (s->tls) {
        json_object_set_string_member(o, "tls-creds", s->tls_creds);
        if (s->tls_authz) {
            json_object_set_string_member(o, "tls-authz", s->tls_authz);
        }
        json_object_set_int_member(o, "tls-refused",
                                   tls_link_refused(s->tls));
    }
    if (s->warning) {
        json_object_set_string_member(o, "warning", s->warning);
    }
}

/* --- UserObjectClass ---------------------------------------------------- */

/* tls-creds / tls-authz: the TlsLink that handshakes every connection
 * (cs_connected() hands it the fd).  QEMU's rules: TCP only, the
 * credentials' endpoint matches server=, tls-authz needs tls-creds. */
static gboolean cs_tls_setup(CharSocket *s, GError **errp)
{
    g_autofree char *name = NULL;

    if (s->tls_authz && !s->tls_creds) {
        error_setg(errp, "'tls-authz' provided but TLS is not enabled");
        return FALSE;
    }
    if (!s->tls_creds) {
        return TRUE;
    }
    if (s->is_unix) {
        error_setg(errp, "TLS can only be used over TCP socket");
        return FALSE;
    }
    if (s->tls_authz && !s->server) {
        error_setg(errp, "'tls-authz' is only valid for a server");
        return FALSE;
    }
    name = g_strdup_printf("chardev '%s'", cs_id(s));
    s->tls = tls_link_new(name, cs_id(s), s->tls_creds, s->tls_authz,
                          s->server, cs_tls_established, cs_tls_refused, s,
                          errp);
    return s->tls != NULL;
}

/* A TCP listener without TLS on an address other hosts can reach: one
 * line now, and the same in query-chardev for as long as it listens. */
static void cs_warn_exposed(CharSocket *s)
{
    for (guint i = 0; i < s->n_listen; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);

        if (getsockname(s->listen_fds[i], (struct sockaddr *)&ss, &len) < 0 ||
            tls_addr_is_loopback((struct sockaddr *)&ss)) {
            continue;
        }
        s->warning = g_strdup_printf("listening on %s without TLS: any "
                                     "host that reaches it can connect "
                                     "(tls-creds=, docs/security.md)",
                                     s->addr_desc);
        g_warning("chardev '%s': %s", cs_id(s), s->warning);
        return;
    }
}

static gboolean cs_complete(UserObject *obj, GError **errp)
{
    CharSocket *s = CHAR_SOCKET(obj);

    if (s->path && *s->path) {
        s->is_unix = TRUE;
        if (s->host) {
            error_setg(errp, "chardev: socket: 'path' and 'host' cannot be "
                       "used together");
            return FALSE;
        }
        s->target = g_strdup(s->path);
    } else {
        if (!s->host) {
            error_setg(errp, "chardev: socket: no host given (host= and "
                       "port= for TCP, or path= for a unix socket)");
            return FALSE;
        }
        if (!s->port || !*s->port) {
            error_setg(errp, "chardev: socket: no port given");
            return FALSE;
        }
        if (!sockaddr_port_check(s->port, "chardev: socket", errp)) {
            return FALSE;
        }
        /* a name the resolver would refuse later as "Servname not
         * supported for ai_socktype": say what a port is now */
        if (!g_ascii_isdigit(s->port[0]) && !getservbyname(s->port, "tcp")) {
            error_setg(errp, "chardev: socket: port '%s' is neither a "
                       "number (0-65535) nor a service name known to "
                       "/etc/services", s->port);
            return FALSE;
        }
        if (s->abstract) {
            error_setg(errp, "chardev: socket: 'abstract' needs 'path'");
            return FALSE;
        }
        if (s->ipv4_given && s->ipv6_given && !s->ipv4 && !s->ipv6) {
            error_setg(errp, "chardev: socket: 'ipv4' and 'ipv6' cannot "
                       "both be off");
            return FALSE;
        }
        s->target = sockaddr_host_port_str(s->host, s->port);
    }
    if (s->server && (s->reconnect || s->reconnect_ms)) {
        error_setg(errp, "'reconnect' option is incompatible with socket in "
                   "server listen mode");
        return FALSE;
    }
    if (!s->server && s->wait_given) {
        error_setg(errp, "'wait' option is incompatible with socket in "
                   "client connect mode");
        return FALSE;
    }
    if (s->reconnect && s->reconnect_ms) {
        error_setg(errp, "'reconnect' and 'reconnect-ms' are mutually "
                   "exclusive");
        return FALSE;
    }
    if (s->to && (s->is_unix || !s->server)) {
        error_setg(errp, "'to' is only valid for a tcp server");
        return FALSE;
    }
    s->reconnect_us = s->reconnect_ms ? (int64_t)s->reconnect_ms * 1000
                                      : (int64_t)s->reconnect * G_USEC_PER_SEC;
    if (!cs_tls_setup(s, errp)) {
        return FALSE;
    }

    if (s->server) {
        if (!(s->is_unix ? cs_listen_unix(s, errp)
                         : cs_listen_inet(s, errp))) {
            return FALSE;
        }
        if (!s->is_unix && !s->tls) {
            cs_warn_exposed(s);
        }
        if (s->wait) {
            chardev_set_wait_pending(CHARDEV_BASE(s), TRUE);
        }
    } else {
        s->addr_desc = g_strdup_printf("%s:%s", s->is_unix ? "unix" : "tcp",
                                       s->target);
        if (!s->reconnect_us) {
            if (!cs_connect_sync(s, errp)) {
                return FALSE;
            }
        } else {
            s->timer_at = g_get_monotonic_time();   /* connect at once */
        }
    }
    if (s->state != CS_CONNECTED) {
        cs_update_desc(s);
    }
    chardev_start(CHARDEV_BASE(s));
    return TRUE;
}

static void cs_close_all(CharSocket *s)
{
    if (s->fd >= 0 && s->state == CS_CONNECTED && !s->pending_close &&
        s->olen) {
        cs_flush_queued(s);     /* best effort, never blocks */
    }
    g_clear_pointer(&s->tls_sess, tls_session_free);
    if (s->tls) {
        tls_link_cancel(s->tls);
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    cs_lookup_drop(s);
    s->state = CS_DISCONNECTED;
    g_atomic_int_set(&s->connected, 0);
    cs_close_listen(s);
    if (s->unlink_path) {
        unlink(s->path);
        s->unlink_path = FALSE;
    }
}

/* chardev-remove / shutdown: the base detaches, then the sockets go, so
 * the port or path is free when the command returns. */
static void cs_unparent(UserObject *obj)
{
    USER_OBJECT_CLASS(char_socket_parent_class)->unparent(obj);
    cs_close_all(CHAR_SOCKET(obj));
}

static void cs_finalize(GObject *gobj)
{
    CharSocket *s = CHAR_SOCKET(gobj);

    cs_close_all(s);
    g_clear_pointer(&s->tls, tls_link_free);
    g_free(s->warning);
    g_free(s->target);
    g_free(s->addr_desc);
    g_free(s->desc);
    g_free(s->rbuf);
    g_free(s->obuf);
    if (s->addrs) {
        g_array_unref(s->addrs);
    }
    g_mutex_clear(&s->lock);
    G_OBJECT_CLASS(char_socket_parent_class)->finalize(gobj);
}

#define CS_GIVEN(f) .given = PROP_FIELD(CharSocket, f, gboolean)

static const PropDef char_socket_props[] = {
    DEFINE_PROP_STR("host", CharSocket, host, NULL, 0,
        "tcp host or address to listen on or connect to (\"0.0.0.0\", "
        "\"::\", \"localhost\", ...)"),
    DEFINE_PROP_STR("port", CharSocket, port, NULL, 0,
        "tcp port (0: any free port)"),
    DEFINE_PROP_STR("path", CharSocket, path, NULL, 0,
        "unix socket path (abstract name with abstract=on)"),
    DEFINE_PROP_UINT("to", CharSocket, to, 0, 65535, 0, 0,
        "server: try ports from 'port' up to this one"),
    DEFINE_PROP_BOOL("server", CharSocket, server, FALSE, 0,
        "listen (on) or connect (off)"),
    DEFINE_PROP_BOOL("wait", CharSocket, wait, TRUE, 0,
        "server: block start-up until the first client connects",
        CS_GIVEN(wait_given)),
    DEFINE_PROP_BOOL("nodelay", CharSocket, nodelay, TRUE, 0,
        "set TCP_NODELAY"),
    DEFINE_PROP_BOOL("ipv4", CharSocket, ipv4, FALSE, 0,
        "use IPv4 (off: IPv6 only)", CS_GIVEN(ipv4_given)),
    DEFINE_PROP_BOOL("ipv6", CharSocket, ipv6, FALSE, 0,
        "use IPv6 (off: IPv4 only)", CS_GIVEN(ipv6_given)),
    DEFINE_PROP_BOOL("abstract", CharSocket, abstract, FALSE, 0,
        "unix: use the linux abstract namespace"),
    DEFINE_PROP_BOOL("tight", CharSocket, tight, TRUE, 0,
        "unix abstract: address length is the name length"),
    DEFINE_PROP_UINT64("reconnect", CharSocket, reconnect, 0, G_MAXUINT32, 0,
        0, "client: seconds between connection attempts (0: connect once, "
        "at creation)", CS_GIVEN(reconnect_given)),
    DEFINE_PROP_UINT64("reconnect-ms", CharSocket, reconnect_ms,
        0, G_MAXUINT32, 0, 0, "client: like reconnect, in milliseconds",
        CS_GIVEN(reconnect_given)),
    DEFINE_PROP_UINT64("out-buffer-size", CharSocket, out_buffer_size,
        CHAR_SOCKET_OUT_MIN, CHAR_SOCKET_OUT_MAX, CHAR_SOCKET_OUT_DEFAULT, 0,
        "bytes queued toward a slow peer before writes are refused"),
    DEFINE_PROP_STR("tls-creds", CharSocket, tls_creds, NULL, 0,
        "id of a tls-creds-x509 or tls-creds-psk object: TLS on the "
        "connection (endpoint server for server=on)"),
    DEFINE_PROP_STR("tls-authz", CharSocket, tls_authz, NULL, 0,
        "server: id of an authz-simple or authz-list object the peer's "
        "identity must satisfy"),
};

static void char_socket_class_init(CharSocketClass *klass)
{
    GObjectClass *gc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    ChardevClass *cc = CHARDEV_BASE_CLASS(klass);

    gc->finalize = cs_finalize;
    uc->description = "stream socket (tcp or unix), server or client";
    uc->complete = cs_complete;
    uc->unparent = cs_unparent;
    cc->attach = cs_attach;
    cc->detach = cs_detach;
    cc->write = cs_write;
    cc->flush = cs_flush_now;
    cc->is_connected = cs_is_connected;
    cc->out_queued = cs_out_queued;
    cc->set_read_paused = cs_set_read_paused;
    cc->disconnect = cs_disconnect;
    cc->filename = cs_filename;
    cc->info = cs_info;

    object_class_install_props(gc, char_socket_props);
}

static void char_socket_init(CharSocket *s)
{
    static const RateLimit rl = RATE_LIMIT_INIT(5, 5000);

    s->fd = -1;
    for (guint i = 0; i < CHAR_SOCKET_MAX_LISTEN; i++) {
        s->listen_fds[i] = -1;
    }
    s->rl = rl;
    g_mutex_init(&s->lock);
}

static void char_socket_register(void)
{
    object_type_register(OBJECT_KIND_CHARDEV, "socket", TYPE_CHAR_SOCKET);
}
type_init(char_socket_register)
