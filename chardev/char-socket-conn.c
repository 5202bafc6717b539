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

/* The client's unix address as a list of one. */
static GArray *cs_unix_addrs(CharSocket *s, GError **errp)
{
    SockAddr a = { 0 };
    GArray *addrs;

    if (!cs_unix_addr(s, &a, errp)) {
        return NULL;
    }
    addrs = g_array_new(FALSE, TRUE, sizeof(SockAddr));
    g_array_append_val(addrs, a);
    return addrs;
}

/* Gives up the connect round in progress, if any. */
static void cs_connector_drop(CharSocket *s)
{
    sock_connector_free(s->connector);
    s->connector = NULL;
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

/*
 * Binds every address of 'host' at 'port' (util/socket.h).  Returns 0 on
 * success, else the errno of the failure (EADDRINUSE: try the next port
 * of a range).
 */
static int cs_listen_inet_port(CharSocket *s, const char *port,
                               GError **errp)
{
    return sock_listen_host(s->host, port, cs_family(s),
                            s->ipv4_given && !s->ipv4, CS_BACKLOG(s),
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
 * (cs_connect_step(), cs_connect_sync()); with TLS, once more from
 * cs_tls_established() when the handshake is done. */
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
    outbuf_reset(&s->out);
    outbuf_set_tls(&s->out, s->tls_sess);   /* TLS seam (b), writing */
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
void cs_close_conn(CharSocket *s, gboolean emit)
{
    gboolean was_open = s->state == CS_CONNECTED;

    if (s->src) {
        fd_source_set_fd(s->src, &s->conn_tag, &s->conn_events, -1, 0);
    }
    s->conn_tag = NULL;
    s->conn_events = 0;
    outbuf_set_tls(&s->out, NULL);
    g_clear_pointer(&s->tls_sess, tls_session_free);
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    cs_connector_drop(s);
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
        COLO_NOTICE_RL("chardev '%s': disconnected", cs_id(s));
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

/* The round's fd fired (or the round just began): advances it (util/
 * socket.h's SockConnector: a host name looked up in a thread, so a dead
 * DNS server stalls this chardev only, then every address in turn); ends
 * connected (OPENED emitted), still connecting, or failed. */
void cs_connect_step(CharSocket *s)
{
    g_autoptr(GError) err = NULL;
    int fd = -1;
    int r;

    /* the fd the round polls may change (eventfd, then each socket) */
    if (s->src) {
        fd_source_set_fd(s->src, &s->conn_tag, &s->conn_events, -1, 0);
    }
    s->conn_tag = NULL;
    s->conn_events = 0;
    r = sock_connector_step(s->connector, &fd, &err);
    if (r == 0) {
        cs_update_watch(s);
        return;
    }
    cs_connector_drop(s);
    s->state = CS_DISCONNECTED;
    if (r > 0) {
        cs_connected(s, fd);
        return;
    }
    cs_connect_failed(s, err->message);
}

/* Starts an asynchronous connect round over every address of the target. */
void cs_connect_start(CharSocket *s)
{
    g_autoptr(GError) err = NULL;

    if (s->is_unix) {
        GArray *addrs = cs_unix_addrs(s, &err);

        s->connector = addrs ? sock_connector_new(addrs) : NULL;
    } else {
        s->connector = sock_connector_new_host(s->host, s->port,
                                               cs_family(s),
                                               "chardev-lookup", &err);
    }
    if (!s->connector) {
        cs_connect_failed(s, err->message);
        return;
    }
    s->state = CS_CONNECTING;
    cs_connect_step(s);
}

/* Connects while the chardev is created (client without reconnect), as
 * QEMU does: a failure is a creation error. */
gboolean cs_connect_sync(CharSocket *s, GError **errp)
{
    g_autoptr(GArray) addrs = NULL;
    int err = ECONNREFUSED;

    /* may block on a DNS name: creation only, as QEMU */
    addrs = s->is_unix ? cs_unix_addrs(s, errp)
                       : sock_resolve(s->host, s->port, cs_family(s), FALSE,
                                      errp);
    if (!addrs) {
        return FALSE;
    }
    for (guint i = 0; i < addrs->len; i++) {
        int fd = sock_connect_wait(&g_array_index(addrs, SockAddr, i),
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

/* The TlsLink's verdicts (its dispatch, the chardev's context). */
void cs_tls_established(void *opaque, int fd, TlsSession *sess,
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

void cs_tls_refused(void *opaque, const char *reason)
{
    CharSocket *s = opaque;

    if (!s->server && s->state == CS_DISCONNECTED) {
        cs_connect_failed(s, reason);       /* retries with reconnect */
    }
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
        outbuf_waiting(&s->out)) {
        cs_flush_queued(s);     /* best effort, never blocks */
    }
    outbuf_set_tls(&s->out, NULL);
    g_clear_pointer(&s->tls_sess, tls_session_free);
    if (s->tls) {
        tls_link_cancel(s->tls);
    }
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    cs_connector_drop(s);
    s->state = CS_DISCONNECTED;
    g_atomic_int_set(&s->connected, 0);
    cs_close_listen(s);
    if (s->unlink_path) {
        unlink(s->path);
        s->unlink_path = FALSE;
    }
}
