/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char-socket-conn.c - the socket chardev's connections:
 * addresses and descriptions, the listening sockets, the client's
 * target, and what the chardev does where the engine (qom/sock-stream.h)
 * establishes a connection (cs_stream_established()) and ends it
 * (cs_stream_closed(), reached through cs_close_conn()).  See
 * char-socket-internal.h.
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

    if (s->ss.state == SOCK_STREAM_CONNECTED && !s->is_unix) {
        g_autofree char *local = sock_fd_describe(s->ss.fd, FALSE);
        g_autofree char *peer = sock_fd_describe(s->ss.fd, TRUE);

        desc = g_strdup_printf("tcp:%s<->%s%s", local, peer, suffix);
    } else if (s->ss.state == SOCK_STREAM_CONNECTED) {
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

/* --- listening ----------------------------------------------------------- */

void cs_close_listen(CharSocket *s)
{
    sock_stream_close_listen(&s->ss);
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
    sock_stream_add_listen(&s->ss, fd);
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
                            s->ss.listen_fds, CHAR_SOCKET_MAX_LISTEN,
                            &s->ss.n_listen, errp);
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
        g_autofree char *name = sock_fd_describe(s->ss.listen_fds[0], FALSE);

        s->addr_desc = g_strdup_printf("tcp:%s", name);
    }
    return TRUE;
}

/* --- connection life cycle ----------------------------------------------- */

/* The engine's (qom/sock-stream.h) "established": 'fd' (connected,
 * non-blocking; with TLS handshaken and authorized) is the connection.
 * Emits OPENED (last: the engine returns right after).  The one place a
 * connection becomes established, after accept or connect (the engine's
 * round, cs_connect_sync()) alike. */
void cs_stream_established(void *opaque, SockStreamOrigin how,
                           const char *identity)
{
    CharSocket *s = opaque;

    if (identity) {
        g_debug("chardev '%s': TLS peer '%s'", cs_id(s), identity);
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

        setsockopt(s->ss.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    s->pending_close = FALSE;
    g_atomic_int_set(&s->connected, 1);
    s->announce_open = FALSE;
    s->hup_seen = FALSE;
    outbuf_reset(&s->out);
    cs_set_out_queued(s);
    stats_inc(&cs_stats(s)->connects);
    cs_update_desc(s);
    COLO_NOTICE_RL("chardev '%s': connected (%s)", cs_id(s), s->desc);
    chardev_set_wait_pending(CHARDEV_BASE(s), FALSE);
    cs_update_watch(s);
    chardev_emit_event(CHARDEV_BASE(s), CHR_EVENT_OPENED);
}

/* The engine's "closed": the socket is gone, listening or the reconnect
 * timer re-armed; discards the output ring and emits CLOSED if a
 * connection was open (last). */
void cs_stream_closed(void *opaque, gboolean was_open)
{
    CharSocket *s = opaque;
    gboolean emit = !s->close_quiet;

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
    cs_update_desc(s);
    if (was_open) {
        COLO_NOTICE_RL("chardev '%s': disconnected", cs_id(s));
        if (emit) {
            chardev_emit_event(CHARDEV_BASE(s), CHR_EVENT_CLOSED);
        }
    }
}

/* Drops the connection (or a pending connect) through the engine: emits
 * CLOSED (last) if a connection was open and 'emit'. */
void cs_close_conn(CharSocket *s, gboolean emit)
{
    s->close_quiet = !emit;
    sock_stream_close(&s->ss);
    s->close_quiet = FALSE;
}

/* Asks for the connection to be closed at the next dispatch (from a write
 * error or chr_fe_disconnect(), so no event re-enters the caller). */
void cs_schedule_close(CharSocket *s)
{
    if (s->ss.state != SOCK_STREAM_CONNECTED || s->pending_close) {
        return;
    }
    s->pending_close = TRUE;
    g_atomic_int_set(&s->connected, 0);
    cs_update_watch(s);
}

/* The engine's "connect failed": all client attempts of this round
 * failed (the engine schedules the retry). */
void cs_stream_connect_failed(void *opaque, const char *why,
                              SockStreamFail how)
{
    CharSocket *s = opaque;

    if (s->reconnect_us) {
        CS_WARN(s, "chardev '%s': unable to connect to '%s': %s "
                "(retrying every %.3g s)", cs_id(s), s->target, why,
                s->reconnect_us / 1e6);
    }
}

/* The target of the engine's asynchronous connect rounds: the unix
 * address, or the host looked up in a thread (util/socket.h's
 * SockConnector, so a dead DNS server stalls this chardev only). */
gboolean cs_connect_setup(CharSocket *s, GError **errp)
{
    if (s->is_unix) {
        g_autoptr(GError) err = NULL;
        GArray *addrs = cs_unix_addrs(s, &err);

        if (!addrs) {
            /* reported by every round, as a failed connect */
            sock_stream_set_bad_target(&s->ss, err->message);
            return TRUE;
        }
        sock_stream_set_addrs(&s->ss, addrs);
    } else {
        sock_stream_set_host(&s->ss, s->host, s->port, cs_family(s),
                             "chardev-lookup");
    }
    return TRUE;
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
            sock_stream_take_fd(&s->ss, fd, SOCK_STREAM_GIVEN);
            return TRUE;
        }
    }
    error_setg(errp, "Failed to connect to '%s': %s", s->target,
               g_strerror(err));
    return FALSE;
}

void cs_close_all(CharSocket *s)
{
    if (s->ss.fd >= 0 && s->ss.state == SOCK_STREAM_CONNECTED &&
        !s->pending_close && outbuf_waiting(&s->out)) {
        cs_flush_queued(s);     /* best effort, never blocks */
    }
    sock_stream_destroy(&s->ss);
    g_atomic_int_set(&s->connected, 0);
    if (s->unlink_path) {
        unlink(s->path);
        s->unlink_path = FALSE;
    }
}
