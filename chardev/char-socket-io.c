/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char-socket-io.c - the socket chardev's I/O: the source it
 * attaches to its context, reading, the output ring, and the
 * ChardevClass methods.  See char-socket-internal.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "chardev/char-socket-internal.h"
#include "util/fd-watch.h"

/* --- reading and writing ------------------------------------------------ */

static gboolean cs_reading(CharSocket *s)
{
    return s->state == CS_CONNECTED && !s->pending_close && !s->paused &&
           chardev_fe_handlers_set(CHARDEV_BASE(s));
}

/*
 * TLS seam (b), reading: the decrypted records the session has, up to
 * the buffer's size, gathered into one delivery (a record holds at most
 * 16 KiB; delivering each would cost the frontend a call per record).
 * Returns what sock_recv() would: bytes, 0 at the peer's close, or
 * -errno.  Stops early only at EAGAIN with nothing gathered yet, so data
 * GnuTLS holds beyond the socket's (which poll() cannot see) is never
 * left behind: the loop ends on EAGAIN from the socket or a full buffer,
 * and a full buffer makes cs_read() come back at once (and
 * cs_tls_read_due() at the next dispatch).
 */
static gssize cs_tls_recv(CharSocket *s, uint8_t *buf, size_t len)
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
        return n;                 /* 0 or -errno */
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
        gssize n = s->tls_sess
                   ? cs_tls_recv(s, s->rbuf, CHAR_SOCKET_READ_SIZE)
                   : sock_recv(s->fd, s->rbuf, CHAR_SOCKET_READ_SIZE);

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
        if (n != -EAGAIN) {
            CS_WARN(s, "chardev '%s': read error: %s", cs_id(s),
                    g_strerror(-n));
            cs_close_conn(s, TRUE);
        }
        return;
    }
}

/* Sends queued output while the socket takes it (with TLS, through the
 * session the ring was given in cs_connected(): TLS seam (b), writing).
 * Returns 0, or -errno when the connection is broken (the caller closes
 * it).  Emits nothing, so it may run inside chr_fe_write(). */
int cs_flush_queued(CharSocket *s)
{
    size_t sent;
    int ret = outbuf_flush(&s->out, s->fd, &sent);

    stats_add(&cs_stats(s)->bytes_out, sent);
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
    if (s->writable_wanted &&
        outbuf_len(&s->out) <= s->out_buffer_size / 2) {
        s->writable_wanted = FALSE;
        chardev_emit_writable(CHARDEV_BASE(s));
    }
}

/* --- the source --------------------------------------------------------- */

/* Polls what the state needs.  A connected socket that is not read is
 * polled for POLLRDHUP, so a peer leaving is noticed: without a frontend
 * the connection is dropped (a server listens again), while paused the
 * rest of the stream is read, then the EOF, when reading resumes. */
void cs_update_watch(CharSocket *s)
{
    gboolean listen = s->server && s->state == CS_DISCONNECTED &&
                      !s->accept_backoff;
    GIOCondition ev = 0;
    int fd = s->fd;

    if (!s->src) {
        return;
    }
    for (guint i = 0; i < s->n_listen; i++) {
        GIOCondition cur = s->listen_tags[i] ? G_IO_IN : 0;

        fd_source_set_fd(s->src, &s->listen_tags[i], &cur, s->listen_fds[i],
                         listen ? G_IO_IN : 0);
    }
    if (s->state == CS_CONNECTING) {
        fd = sock_connector_poll(s->connector, &ev);
    } else if (s->state == CS_CONNECTED && !s->pending_close) {
        if (cs_reading(s)) {
            ev |= G_IO_IN;
        } else if (!s->hup_seen) {
            ev |= CS_POLLRDHUP;       /* notice the peer leaving */
        }
        if (outbuf_waiting(&s->out) && (!s->hup_seen || cs_reading(s))) {
            ev |= G_IO_OUT;
        }
    }
    fd_source_set_fd(s->src, &s->conn_tag, &s->conn_events, fd, ev);
}

void cs_update_timer(CharSocket *s)
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
    return outbuf_waiting(&s->out) && s->state == CS_CONNECTED &&
           !s->pending_close &&
           !(s->conn_events & G_IO_OUT) &&
           (!s->hup_seen || cs_reading(s));
}

/* A refused writer is owed its writable callback: the ring went below
 * half outside cs_flush() (a flush inside chr_fe_write()), so no G_IO_OUT
 * will come to deliver it. */
static gboolean cs_writable_due(CharSocket *s)
{
    return s->writable_wanted && s->state == CS_CONNECTED &&
           !s->pending_close && !(s->conn_events & G_IO_OUT) &&
           outbuf_len(&s->out) <= s->out_buffer_size / 2;
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
            cs_connect_step(s);
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
    if (!too_big && total > s->out_buffer_size - outbuf_len(&s->out)) {
        /* Refuse only if the socket cannot take anything either. */
        ret = cs_flush_queued(s);
        if (ret < 0) {
            return cs_write_failed(s, -ret);
        }
    }
    if (too_big || total > s->out_buffer_size - outbuf_len(&s->out)) {
        stats_inc(&cs_stats(s)->writes_refused);
        s->writable_wanted = TRUE;
        cs_update_watch(s);
        return -EAGAIN;
    }
    if (total == 0) {
        return 0;
    }
    /* Queued; the source sends it before the loop sleeps again. */
    outbuf_append(&s->out, iov, iovcnt, 0);
    cs_set_out_queued(s);
    if (outbuf_len(&s->out) >= CHAR_SOCKET_FLUSH_BATCH &&
        !(s->conn_events & G_IO_OUT)) {
        /* A large burst: do not wait for the dispatch to send it. */
        ret = cs_flush_queued(s);
        if (ret < 0) {
            cs_write_failed(s, -ret);
            return total;     /* accepted; lost with the connection */
        }
        if (outbuf_waiting(&s->out)) {
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
    } else if (outbuf_waiting(&s->out)) {
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
    return outbuf_len(&CHAR_SOCKET(chr)->out);
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
        if (!s->pending_close && outbuf_waiting(&s->out)) {
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

/* Installs the methods above in the class (char_socket_class_init()). */
void char_socket_io_class_init(ChardevClass *cc)
{
    cc->attach = cs_attach;
    cc->detach = cs_detach;
    cc->write = cs_write;
    cc->flush = cs_flush_now;
    cc->is_connected = cs_is_connected;
    cc->out_queued = cs_out_queued;
    cc->set_read_paused = cs_set_read_paused;
    cc->disconnect = cs_disconnect;
    cc->filename = cs_filename;
}
