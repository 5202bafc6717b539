/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/sock-stream.c - the stream connection engine of the socket chardev
 * and the stream netdev: listening, accepting one peer at a time,
 * connecting with retries, the TLS handshake step, the one source.  See
 * include/qom/sock-stream.h.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "qom/sock-stream.h"
#include "util/error.h"
#include "util/fd-watch.h"

#define SS_WARN(ss, ...) \
    log_warn_rl_domain(G_LOG_DOMAIN, (ss)->rl, __VA_ARGS__)

void sock_stream_init(SockStream *ss, const SockStreamOps *ops,
                      void *opaque, GObject *owner, const char *what,
                      RateLimit *rl, const char *src_name)
{
    ss->ops = ops;
    ss->opaque = opaque;
    ss->owner = owner;
    ss->what = what;
    ss->rl = rl;
    ss->src_name = src_name;
    ss->fd = -1;
    for (guint i = 0; i < SOCK_STREAM_MAX_LISTEN; i++) {
        ss->listen_fds[i] = -1;
    }
}

/* --- the poll set and the timer ------------------------------------------ */

/* Polls what the state needs: the listeners while a server has no peer
 * (and is not backing off), the round's fd while connecting, the
 * connection for what its owner asks. */
static void ss_update_watch(SockStream *ss)
{
    gboolean listen = ss->server && ss->state == SOCK_STREAM_IDLE &&
                      !ss->accept_backoff;
    GIOCondition ev = 0;
    int fd = -1;

    if (!ss->src) {
        return;
    }
    for (guint i = 0; i < ss->n_listen; i++) {
        GIOCondition cur = ss->listen_tags[i] ? G_IO_IN : 0;

        fd_source_set_fd(ss->src, &ss->listen_tags[i], &cur,
                         ss->listen_fds[i], listen ? G_IO_IN : 0);
    }
    if (ss->state == SOCK_STREAM_CONNECTING) {
        fd = sock_connector_poll(ss->connector, &ev);
    } else if (ss->state == SOCK_STREAM_CONNECTED) {
        fd = ss->fd;
        ev = ss->ops->conn_events(ss->opaque);
    }
    fd_source_set_fd(ss->src, &ss->conn_tag, &ss->conn_events, fd, ev);
}

static void ss_update_timer(SockStream *ss)
{
    if (ss->src) {
        g_source_set_ready_time(ss->src, ss->timer_at ? ss->timer_at : -1);
    }
}

void sock_stream_update(SockStream *ss)
{
    ss_update_watch(ss);
}

/* Forgets the connection fd's tag (its fd changes or closes). */
static void ss_drop_conn_tag(SockStream *ss)
{
    if (ss->src) {
        fd_source_set_fd(ss->src, &ss->conn_tag, &ss->conn_events, -1, 0);
    }
    ss->conn_tag = NULL;
    ss->conn_events = 0;
}

/* --- the connection life cycle ------------------------------------------- */

static void ss_established(SockStream *ss, int fd, SockStreamOrigin how,
                           const char *identity)
{
    /* TLS: the handshake and the authorization come first (the TlsLink
     * calls sock_stream_tls_established() when the peer proved itself);
     * meanwhile a server keeps listening, so a stranger that connects
     * first holds no slot (docs/security.md). */
    if (ss->tls && !ss->sess) {
        if (!ss->server) {
            ss->state = SOCK_STREAM_IDLE;   /* until the handshake ends */
        }
        tls_link_add(ss->tls, fd);
        ss_update_watch(ss);
        ss_update_timer(ss);
        return;
    }
    ss->fd = fd;
    ss->state = SOCK_STREAM_CONNECTED;
    ss->timer_at = 0;
    if (ss->out) {
        outbuf_set_tls(ss->out, ss->sess);  /* TLS seam (b), writing */
    }
    ss_update_timer(ss);
    /* The owner resets its state, re-polls (sock_stream_update()) and
     * announces the connection, last. */
    ss->ops->established(ss->opaque, how, identity);
}

void sock_stream_take_fd(SockStream *ss, int fd, SockStreamOrigin how)
{
    ss_established(ss, fd, how, NULL);
}

void sock_stream_tls_established(void *opaque, int fd, TlsSession *sess,
                                 const char *identity)
{
    SockStream *ss = opaque;

    if (ss->state == SOCK_STREAM_CONNECTED) {
        /* Another peer completed first: one connection at a time. */
        tls_session_free(sess);
        tls_link_refuse_fd(ss->tls, fd, "the connection is taken");
        return;
    }
    tls_session_set_batched(sess);      /* records in batches, as bytes */
    ss->sess = sess;
    ss_established(ss, fd, SOCK_STREAM_GIVEN, identity);
}

/* A client's round failed: tell the owner, schedule the retry. */
static void ss_connect_failed(SockStream *ss, const char *why,
                              SockStreamFail how)
{
    ss->state = SOCK_STREAM_IDLE;
    if (ss->reconnect_us) {
        ss->timer_at = g_get_monotonic_time() + ss->reconnect_us;
    }
    ss_update_watch(ss);
    ss_update_timer(ss);
    ss->ops->connect_failed(ss->opaque, why, how);
}

void sock_stream_tls_refused(void *opaque, const char *reason)
{
    SockStream *ss = opaque;

    if (!ss->server && ss->state == SOCK_STREAM_IDLE) {
        ss_connect_failed(ss, reason, SOCK_STREAM_FAIL_TLS);
    }
}

void sock_stream_close(SockStream *ss)
{
    gboolean was_open = ss->state == SOCK_STREAM_CONNECTED;

    ss_drop_conn_tag(ss);
    if (ss->out) {
        outbuf_set_tls(ss->out, NULL);
    }
    g_clear_pointer(&ss->sess, tls_session_free);
    if (ss->fd >= 0) {
        close(ss->fd);
        ss->fd = -1;
    }
    g_clear_pointer(&ss->connector, sock_connector_free);
    ss->state = SOCK_STREAM_IDLE;
    if (!ss->server && ss->reconnect_us) {
        ss->timer_at = g_get_monotonic_time() + ss->reconnect_us;
    }
    ss_update_watch(ss);
    ss_update_timer(ss);
    ss->ops->closed(ss->opaque, was_open);
}

/* --- connecting ------------------------------------------------------------ */

/* Advances the round (util/socket.h's SockConnector: a host name looked
 * up in a thread, so a dead DNS server stalls nobody, then every address
 * in turn). */
static gboolean ss_connect_step(SockStream *ss, gboolean first,
                                GError **errp)
{
    g_autoptr(GError) err = NULL;
    int fd = -1;
    int r;

    /* the fd the round polls may change (eventfd, then each socket) */
    ss_drop_conn_tag(ss);
    r = sock_connector_step(ss->connector, &fd, &err);
    if (r == 0) {
        ss_update_watch(ss);
        return TRUE;
    }
    g_clear_pointer(&ss->connector, sock_connector_free);
    ss->state = SOCK_STREAM_IDLE;
    if (r > 0) {
        ss_established(ss, fd, first ? SOCK_STREAM_GIVEN
                                      : SOCK_STREAM_DIALED, NULL);
        return TRUE;
    }
    if (first && errp) {
        g_propagate_error(errp, g_steal_pointer(&err));
        return FALSE;
    }
    ss_connect_failed(ss, err->message, first ? SOCK_STREAM_FAIL_AT_ONCE
                                              : SOCK_STREAM_FAIL_LATER);
    return FALSE;
}

gboolean sock_stream_connect(SockStream *ss, GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (ss->state != SOCK_STREAM_IDLE) {
        return TRUE;
    }
    if (ss->bad_target) {
        error_setg(&err, "%s", ss->bad_target);
    } else if (ss->addrs) {
        ss->connector = sock_connector_new(g_array_copy(ss->addrs));
    } else {
        ss->connector = sock_connector_new_host(ss->host, ss->port,
                                                ss->family,
                                                ss->thread_name, &err);
    }
    if (!ss->connector) {
        if (errp) {
            g_propagate_error(errp, g_steal_pointer(&err));
        } else {
            ss_connect_failed(ss, err->message, SOCK_STREAM_FAIL_AT_ONCE);
        }
        return FALSE;
    }
    ss->state = SOCK_STREAM_CONNECTING;
    return ss_connect_step(ss, TRUE, errp);
}

void sock_stream_set_addrs(SockStream *ss, GArray *addrs)
{
    g_clear_pointer(&ss->addrs, g_array_unref);
    ss->addrs = addrs;
}

void sock_stream_set_bad_target(SockStream *ss, const char *why)
{
    g_free(ss->bad_target);
    ss->bad_target = g_strdup(why);
}

void sock_stream_set_host(SockStream *ss, const char *host,
                          const char *port, int family,
                          const char *thread_name)
{
    g_free(ss->host);
    g_free(ss->port);
    ss->host = g_strdup(host);
    ss->port = g_strdup(port);
    ss->family = family;
    ss->thread_name = thread_name;
}

/* --- listening ------------------------------------------------------------- */

void sock_stream_add_listen(SockStream *ss, int fd)
{
    g_assert(ss->n_listen < SOCK_STREAM_MAX_LISTEN);
    ss->listen_fds[ss->n_listen++] = fd;
    ss_update_watch(ss);
}

void sock_stream_close_listen(SockStream *ss)
{
    for (guint i = 0; i < ss->n_listen; i++) {
        if (ss->src) {
            GIOCondition cur = ss->listen_tags[i] ? G_IO_IN : 0;

            fd_source_set_fd(ss->src, &ss->listen_tags[i], &cur, -1, 0);
        }
        ss->listen_tags[i] = NULL;
        close(ss->listen_fds[i]);
        ss->listen_fds[i] = -1;
    }
    ss->n_listen = 0;
}

/* A listening socket is readable: take one peer. */
static void ss_accept(SockStream *ss, int lfd)
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
        SS_WARN(ss, "%s: accept failed: %s", ss->what, g_strerror(err));
        ss->accept_backoff = TRUE;
        ss->timer_at = g_get_monotonic_time() + SOCK_STREAM_ACCEPT_BACKOFF_US;
        ss_update_watch(ss);
        ss_update_timer(ss);
        return;
    }
    ss_established(ss, fd, SOCK_STREAM_ACCEPTED, NULL);
}

/* --- reading --------------------------------------------------------------- */

/*
 * TLS seam (b), reading: the decrypted records the session has, up to
 * the buffer's size, gathered into one delivery (a record holds at most
 * 16 KiB; delivering each would cost the owner a call per record).
 * Returns what sock_recv() would: bytes, 0 at the peer's close, or
 * -errno.  Stops early only at EAGAIN with nothing gathered yet, so data
 * GnuTLS holds beyond the socket's (which poll() cannot see) is never
 * left behind: the loop ends on EAGAIN from the socket or a full buffer,
 * and a full buffer is read again at once (sock_stream_tls_pending()).
 */
static gssize ss_tls_recv(SockStream *ss, uint8_t *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = tls_session_recv(ss->sess, buf + got, len - got);

        if (n > 0) {
            got += n;
            continue;
        }
        if (got) {
            return got;           /* EOF or error: seen at the next read */
        }
        return n;                 /* 0 or -errno */
    }
    return got;
}

gssize sock_stream_recv(SockStream *ss, uint8_t *buf, size_t len)
{
    return ss->sess ? ss_tls_recv(ss, buf, len)
                    : sock_recv(ss->fd, buf, len);
}

gboolean sock_stream_tls_pending(SockStream *ss)
{
    return ss->sess && ss->state == SOCK_STREAM_CONNECTED &&
           tls_session_pending(ss->sess) > 0;
}

/* --- the source ------------------------------------------------------------ */

static void ss_dispatch__(SockStream *ss, GSource *src)
{
    int64_t now = g_source_get_time(src);
    GIOCondition rev = fd_source_revents(src, ss->conn_tag);

    g_source_set_ready_time(src, -1);
    if (ss->state == SOCK_STREAM_CONNECTED) {
        ss->ops->dispatch(ss->opaque, rev);
        if (ss->src != src) {
            return;
        }
    } else if (ss->state == SOCK_STREAM_CONNECTING && rev) {
        ss_connect_step(ss, FALSE, NULL);
        if (ss->src != src) {
            return;
        }
    }
    if (ss->timer_at && now >= ss->timer_at) {
        ss->timer_at = 0;
        if (ss->server) {
            ss->accept_backoff = FALSE;
            ss_update_watch(ss);
        } else if (ss->state == SOCK_STREAM_IDLE) {
            sock_stream_connect(ss, NULL);
            if (ss->src != src) {
                return;
            }
        }
    }
    if (ss->server && ss->state == SOCK_STREAM_IDLE) {
        for (guint i = 0; i < ss->n_listen; i++) {
            if (ss->listen_tags[i] &&
                (fd_source_revents(src, ss->listen_tags[i]) & G_IO_IN)) {
                ss_accept(ss, ss->listen_fds[i]);
                if (ss->src != src) {
                    return;
                }
                break;
            }
        }
    }
    ss_update_timer(ss);
}

static void ss_source_dispatch(void *opaque, GSource *src)
{
    SockStream *ss = opaque;  /* the source is destroyed before 'ss' goes */
    GObject *owner = g_object_ref(ss->owner);

    ss_dispatch__(ss, src);
    g_object_unref(owner);
}

static gboolean ss_source_pending(void *opaque)
{
    SockStream *ss = opaque;

    return ss->state == SOCK_STREAM_CONNECTED && ss->ops->pending &&
           ss->ops->pending(ss->opaque);
}

static const FdSourceOps ss_source_ops = {
    .dispatch = ss_source_dispatch,
    .pending = ss_source_pending,
};

void sock_stream_attach(SockStream *ss, GMainContext *ctx)
{
    /* Never blocked during its own dispatch (util/fd-watch.h says why). */
    GSource *src = fd_source_new(&ss_source_ops, ss, ss->src_name);

    ss->src = src;
    ss->ctx = ctx;
    ss_update_watch(ss);
    ss_update_timer(ss);
    g_source_attach(src, ctx);
    if (ss->tls) {
        tls_link_attach(ss->tls, ctx);  /* handshakes follow the owner */
    }
}

void sock_stream_detach(SockStream *ss)
{
    if (!ss->src) {
        return;
    }
    if (ss->tls) {
        tls_link_detach(ss->tls);
    }
    fd_source_clear(&ss->src);
    memset(ss->listen_tags, 0, sizeof(ss->listen_tags));
    ss->conn_tag = NULL;
    ss->conn_events = 0;
}

void sock_stream_destroy(SockStream *ss)
{
    sock_stream_detach(ss);
    if (ss->out) {
        outbuf_set_tls(ss->out, NULL);
    }
    g_clear_pointer(&ss->sess, tls_session_free);
    if (ss->tls) {
        tls_link_cancel(ss->tls);
    }
    if (ss->fd >= 0) {
        close(ss->fd);
        ss->fd = -1;
    }
    g_clear_pointer(&ss->connector, sock_connector_free);
    ss->state = SOCK_STREAM_IDLE;
    sock_stream_close_listen(ss);
    g_clear_pointer(&ss->addrs, g_array_unref);
    g_clear_pointer(&ss->host, g_free);
    g_clear_pointer(&ss->port, g_free);
    g_clear_pointer(&ss->bad_target, g_free);
}
