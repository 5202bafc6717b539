/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char-socket-conn.c - the socket chardev's connections:
 * addresses and descriptions, listening, connecting, accepting, and the
 * one place a connection starts (cs_connected()) and ends
 * (cs_close_conn()).  See char-socket-internal.h.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "chardev/char-socket-internal.h"
#include "util/error.h"
#include "util/fd-watch.h"

static void cs_connect_next(CharSocket *s);

/* --- addresses and descriptions ---------------------------------------- */

/* Recomputes the query-chardev filename (QEMU's spellings). */
void cs_update_desc(CharSocket *s)
{
    const char *suffix = s->server ? ",server=on" : "";
    char *desc;

    if (s->state == CS_CONNECTED && !s->is_unix) {
        g_autofree char *local = sock_fd_describe(s->fd, FALSE);
        g_autofree char *peer = sock_fd_describe(s->fd, TRUE);

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

/* The host is an address (or empty: loopback), not a name to look up. */
static gboolean cs_host_is_numeric(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;

    return !*host || inet_pton(AF_INET, host, &a4) == 1 ||
           inet_pton(AF_INET6, host, &a6) == 1;
}

/* Takes 'addrs' (NULL: none) as the client's addresses to try. */
static void cs_addrs_set(CharSocket *s, GArray *addrs)
{
    if (s->addrs) {
        g_array_unref(s->addrs);
    }
    s->addrs = addrs;
    s->addr_idx = 0;
}

/* Resolves the client's target into s->addrs.  May block on a DNS name:
 * used only while the chardev is created (a client without reconnect
 * connects then, as in QEMU, and a failure is a creation error), and for
 * addresses that need no lookup; later attempts look names up in a
 * thread (cs_lookup_start()). */
static gboolean cs_resolve_client(CharSocket *s, GError **errp)
{
    GArray *addrs;

    if (s->is_unix) {
        SockAddr a = { 0 };

        if (!cs_unix_addr(s, &a, errp)) {
            return FALSE;
        }
        addrs = g_array_new(FALSE, TRUE, sizeof(SockAddr));
        g_array_append_val(addrs, a);
    } else {
        addrs = sock_resolve(s->host, s->port, cs_family(s), FALSE, errp);
        if (!addrs) {
            return FALSE;
        }
    }
    cs_addrs_set(s, addrs);
    return TRUE;
}

/* Drops the lookup in progress, if any. */
static void cs_lookup_drop(CharSocket *s)
{
    sock_lookup_cancel(s->lookup);
    s->lookup = NULL;
}

/* --- listening ----------------------------------------------------------- */

void cs_close_listen(CharSocket *s)
{
    for (guint i = 0; i < s->n_listen; i++) {
        close(s->listen_fds[i]);
        s->listen_fds[i] = -1;
    }
    s->n_listen = 0;
}

gboolean cs_listen_unix(CharSocket *s, GError **errp)
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
        listen(fd, CHAR_SOCKET_BACKLOG) < 0) {
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

/*
 * Binds every address of 'host' at 'port' (util/socket.h).  Returns 0 on
 * success, else the errno of the failure (EADDRINUSE: try the next port
 * of a range).
 */
static int cs_listen_inet_port(CharSocket *s, const char *port,
                               GError **errp)
{
    return sock_listen_host(s->host, port, cs_family(s),
                            s->ipv4_given && !s->ipv4, CHAR_SOCKET_BACKLOG,
                            s->listen_fds, CHAR_SOCKET_MAX_LISTEN,
                            &s->n_listen, errp);
}

gboolean cs_listen_inet(CharSocket *s, GError **errp)
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
        g_autofree char *name = sock_fd_describe(s->listen_fds[0], FALSE);

        s->addr_desc = g_strdup_printf("tcp:%s", name);
    }
    return TRUE;
}

/* --- connection life cycle ----------------------------------------------- */

/* Takes 'fd' (connected, non-blocking) as the connection and emits OPENED
 * (last: the caller returns right after).  The one place a connection
 * becomes established, after accept (cs_accept()) or connect
 * (cs_connect_next(), cs_connect_finish(), cs_connect_sync()): a TLS
 * handshake would run from here and call the rest when it completes. */
static void cs_connected(CharSocket *s, int fd)
{
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
    outbuf_reset(&s->out);
    cs_set_out_queued(s);
    stats_inc(&cs_stats(s)->connects);
    cs_update_desc(s);
    g_debug("chardev '%s': connected (%s)", cs_id(s), s->desc);
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
void cs_close_conn(CharSocket *s, gboolean emit)
{
    gboolean was_open = s->state == CS_CONNECTED;

    if (s->src) {
        fd_source_set_fd(s->src, &s->conn_tag, &s->conn_events, -1, 0);
    }
    s->conn_tag = NULL;
    s->conn_events = 0;
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    cs_lookup_drop(s);
    s->state = CS_DISCONNECTED;
    g_atomic_int_set(&s->connected, 0);
    outbuf_reset(&s->out);
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
        g_debug("chardev '%s': disconnected", cs_id(s));
        if (emit) {
            chardev_emit_event(CHARDEV_BASE(s), CHR_EVENT_CLOSED);
        }
    }
}

/* Asks for the connection to be closed at the next dispatch (from a write
 * error or chr_fe_disconnect(), so no event re-enters the caller). */
void cs_schedule_close(CharSocket *s)
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

/* Starts looking the client's host name up in a thread (util/socket.h:
 * a dead DNS server stalls this chardev only); ends CONNECTING
 * (cs_lookup_finish() follows) or failed. */
static void cs_lookup_start(CharSocket *s)
{
    g_autoptr(GError) err = NULL;

    s->lookup = sock_lookup_start(s->host, s->port, cs_family(s),
                                  "chardev-lookup", &err);
    if (!s->lookup) {
        cs_connect_failed(s, err->message);
        return;
    }
    s->state = CS_CONNECTING;
    cs_update_watch(s);
}

/* The lookup thread is done: connect to what it found. */
void cs_lookup_finish(CharSocket *s)
{
    g_autoptr(GError) err = NULL;
    GArray *addrs;

    if (s->src) {
        fd_source_set_fd(s->src, &s->conn_tag, &s->conn_events, -1, 0);
    }
    s->conn_tag = NULL;
    s->conn_events = 0;
    addrs = sock_lookup_finish(s->lookup, &err);
    s->lookup = NULL;
    s->state = CS_DISCONNECTED;
    cs_addrs_set(s, addrs);
    if (!addrs) {
        cs_connect_failed(s, err->message);
        return;
    }
    s->connect_errno = ECONNREFUSED;
    cs_connect_next(s);
}

/* Starts an asynchronous connect round over every resolved address (a
 * host name is looked up in a thread first). */
void cs_connect_start(CharSocket *s)
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
    while (s->addrs && s->addr_idx < s->addrs->len) {
        SockAddr *a = &g_array_index(s->addrs, SockAddr, s->addr_idx++);
        int err;
        int fd = sock_connect_start(a, &err);

        if (fd < 0) {
            s->connect_errno = err;
            continue;
        }
        if (err == 0) {
            cs_connected(s, fd);
            return;
        }
        s->fd = fd;
        s->state = CS_CONNECTING;
        cs_update_watch(s);
        return;
    }
    cs_connect_failed(s, g_strerror(s->connect_errno));
}

/* The connecting fd became writable: connected or failed. */
void cs_connect_finish(CharSocket *s)
{
    int fd = s->fd;
    int err = sock_connect_finish(fd);

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
gboolean cs_connect_sync(CharSocket *s, GError **errp)
{
    int err = ECONNREFUSED;

    if (!cs_resolve_client(s, errp)) {
        return FALSE;
    }
    for (guint i = 0; i < s->addrs->len; i++) {
        int fd = sock_connect_wait(&g_array_index(s->addrs, SockAddr, i),
                                   CHAR_SOCKET_CONNECT_TIMEOUT_MS, &err);

        if (fd >= 0) {
            cs_connected(s, fd);
            return TRUE;
        }
    }
    error_setg(errp, "Failed to connect to '%s': %s", s->target,
               g_strerror(err));
    return FALSE;
}

/* A listening socket is readable: take one client. */
void cs_accept(CharSocket *s, int lfd)
{
    int fd = sock_accept(lfd);

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

void cs_close_all(CharSocket *s)
{
    if (s->fd >= 0 && s->state == CS_CONNECTED && !s->pending_close &&
        outbuf_len(&s->out)) {
        cs_flush_queued(s);     /* best effort, never blocks */
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
