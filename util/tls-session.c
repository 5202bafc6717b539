/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/tls-session.c - a GnuTLS session over a non-blocking fd
 * (include/util/tls-session.h has the contract).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "util/error.h"
#include "util/tls-session.h"

/*
 * The largest plaintext we put in one record (one send() call covers at
 * most this much, so a retry after EAGAIN is about one record only).
 * 4 KiB, not TLS's 16 KiB, for QEMU: its socket chardev reads at most
 * 4096 bytes per wake-up, and QEMU 7.2 does not look at what GnuTLS
 * holds decrypted after such a read; the rest of a bigger record waits
 * until more bytes reach the socket (a 9000-byte frame from our mirror
 * stalled QEMU's filter-redirector: tests/qtest/test_tls_interop.py).
 * A record QEMU's read takes whole never leaves anything behind.  The
 * cost is 22 bytes of record overhead per 4 KiB (0.5%).
 */
#define TLS_SESSION_MAX_RECORD 4096

struct TlsSession {
    gnutls_session_t gs;
    int fd;
    gboolean server;
    gint64 started;           /* monotonic us */
    size_t send_pending;      /* bytes of a send() that got EAGAIN */
    gboolean established;     /* the handshake completed */
    /* batched mode (tls_session_set_batched()) */
    gboolean batched;
    uint8_t *rb;              /* raw bytes read ahead from the fd */
    size_t rb_pos, rb_len;
    uint8_t *wb;              /* records encrypted, not yet sent */
    size_t wb_pos, wb_len, wb_cap;
};

/* Batched mode: bytes read from the fd at once (many records), and the
 * encrypted bytes we queue before refusing more (-EAGAIN). */
#define TLS_SESSION_READ_AHEAD (256 * 1024)
#define TLS_SESSION_WBUF_HIGH (256 * 1024)

/* GnuTLS's transport: the fd, never blocking, never SIGPIPE.  In
 * batched mode a pull is served from one big read-ahead, and a push
 * appends to the wire buffer that tls_wire_flush() sends in one call:
 * one system call per batch instead of two recv()s and one send() per
 * record. */
static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t len)
{
    TlsSession *s = p;
    ssize_t n;

    if (s->batched) {
        if (s->rb_pos == s->rb_len) {
            do {
                n = recv(s->fd, s->rb, TLS_SESSION_READ_AHEAD, MSG_DONTWAIT);
            } while (n < 0 && errno == EINTR);
            if (n <= 0) {
                if (n < 0) {
                    gnutls_transport_set_errno(
                        s->gs, errno == EWOULDBLOCK ? EAGAIN : errno);
                }
                return n;
            }
            s->rb_pos = 0;
            s->rb_len = n;
        }
        n = MIN(len, s->rb_len - s->rb_pos);
        memcpy(buf, s->rb + s->rb_pos, n);
        s->rb_pos += n;
        return n;
    }
    do {
        n = recv(s->fd, buf, len, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        gnutls_transport_set_errno(s->gs, errno == EWOULDBLOCK ? EAGAIN
                                                               : errno);
    }
    return n;
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *buf, size_t len)
{
    TlsSession *s = p;
    ssize_t n;

    if (s->batched) {
        if (s->wb_pos && s->wb_pos == s->wb_len) {
            s->wb_pos = s->wb_len = 0;
        }
        if (s->wb_len + len > s->wb_cap) {
            size_t cap = MAX(s->wb_cap * 2, s->wb_len + len);

            if (s->wb_pos) {          /* compact first */
                memmove(s->wb, s->wb + s->wb_pos, s->wb_len - s->wb_pos);
                s->wb_len -= s->wb_pos;
                s->wb_pos = 0;
            }
            if (s->wb_len + len > s->wb_cap) {
                s->wb = g_realloc(s->wb, cap);
                s->wb_cap = cap;
            }
        }
        memcpy(s->wb + s->wb_len, buf, len);
        s->wb_len += len;
        return len;
    }
    do {
        n = send(s->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        gnutls_transport_set_errno(s->gs, errno == EWOULDBLOCK ? EAGAIN
                                                               : errno);
    }
    return n;
}

TlsSession *tls_session_new(gnutls_session_t gs, int fd, gboolean server)
{
    TlsSession *s = g_new0(TlsSession, 1);

    s->gs = gs;
    s->fd = fd;
    s->server = server;
    s->started = g_get_monotonic_time();
    gnutls_transport_set_ptr(gs, s);
    gnutls_transport_set_pull_function(gs, tls_pull);
    gnutls_transport_set_push_function(gs, tls_push);
    return s;
}

TlsHandshakeStatus tls_session_handshake(TlsSession *s, GError **errp)
{
    int r = gnutls_handshake(s->gs);

    if (r == GNUTLS_E_SUCCESS) {
        s->established = TRUE;
        return TLS_HS_DONE;
    }
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
        return TLS_HS_AGAIN;
    }
    if (r == GNUTLS_E_WARNING_ALERT_RECEIVED) {
        /* A warning does not end the handshake (RFC 5246 7.2). */
        return TLS_HS_AGAIN;
    }
    if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
        gnutls_datum_t out = { 0 };
        unsigned status = gnutls_session_get_verify_cert_status(s->gs);

        if (gnutls_certificate_verification_status_print(
                status, GNUTLS_CRT_X509, &out, 0) == 0) {
            error_setg(errp, "TLS handshake failed: %s", out.data);
            gnutls_free(out.data);
            return TLS_HS_FAILED;
        }
    }
    if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
        error_setg(errp, "TLS handshake failed: the peer sent alert '%s'",
                   gnutls_alert_get_name(gnutls_alert_get(s->gs)));
        return TLS_HS_FAILED;
    }
    error_setg(errp, "TLS handshake failed: %s", gnutls_strerror(r));
    return TLS_HS_FAILED;
}

GIOCondition tls_session_want(TlsSession *s)
{
    return gnutls_record_get_direction(s->gs) ? G_IO_OUT : G_IO_IN;
}

gint64 tls_session_age_us(TlsSession *s)
{
    return g_get_monotonic_time() - s->started;
}

/* GnuTLS's error code as an errno for the record calls. */
static ssize_t tls_errno(TlsSession *s, ssize_t r)
{
    switch (r) {
    case GNUTLS_E_AGAIN:
    case GNUTLS_E_INTERRUPTED:
        return -EAGAIN;
    case GNUTLS_E_PREMATURE_TERMINATION:
        return 0;             /* TCP EOF without close_notify: an EOF */
    case GNUTLS_E_PUSH_ERROR:
        return -EPIPE;
    default:
        return -EIO;
    }
}

ssize_t tls_session_recv(TlsSession *s, void *buf, size_t len)
{
    for (;;) {
        ssize_t r = gnutls_record_recv(s->gs, buf, len);

        if (r >= 0) {
            return r;
        }
        if (r == GNUTLS_E_REHANDSHAKE || r == GNUTLS_E_WARNING_ALERT_RECEIVED
            || r == GNUTLS_E_GOT_APPLICATION_DATA) {
            continue;         /* not data: nothing to deliver, read on */
        }
        return tls_errno(s, r);
    }
}

static ssize_t tls_send_batched(TlsSession *s, const uint8_t *buf,
                                size_t len);

ssize_t tls_session_send(TlsSession *s, const void *buf, size_t len)
{
    ssize_t r;

    if (s->batched) {
        return tls_send_batched(s, buf, len);
    }
    if (s->send_pending) {
        /* The record of the earlier call is encrypted already: GnuTLS
         * sends it when called again without data. */
        g_assert(len >= s->send_pending);
        r = gnutls_record_send(s->gs, NULL, 0);
        if (r >= 0) {
            r = s->send_pending;
            s->send_pending = 0;
            return r;
        }
        return tls_errno(s, r);
    }
    len = MIN(len, TLS_SESSION_MAX_RECORD);
    r = gnutls_record_send(s->gs, buf, len);
    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
        s->send_pending = len;
    }
    return r >= 0 ? r : tls_errno(s, r);
}

size_t tls_session_pending(TlsSession *s)
{
    return gnutls_record_check_pending(s->gs) + (s->rb_len - s->rb_pos);
}

/* Sends the wire buffer: 0 when empty, -EAGAIN when some is left, or
 * -errno. */
static int tls_wire_flush(TlsSession *s)
{
    while (s->wb_pos < s->wb_len) {
        ssize_t n = send(s->fd, s->wb + s->wb_pos, s->wb_len - s->wb_pos,
                         MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN
                                                           : -errno;
        }
        s->wb_pos += n;
    }
    s->wb_pos = s->wb_len = 0;
    return 0;
}

void tls_session_set_batched(TlsSession *s)
{
    g_assert(s->established && !s->send_pending);
    s->batched = TRUE;
    s->rb = g_malloc(TLS_SESSION_READ_AHEAD);
}

size_t tls_session_out_pending(TlsSession *s)
{
    return s->wb_len - s->wb_pos;
}

int tls_session_flush(TlsSession *s)
{
    return tls_wire_flush(s);
}

/* Batched send: as many records as the wire buffer takes, then one
 * send() of all of them. */
static ssize_t tls_send_batched(TlsSession *s, const uint8_t *buf,
                                size_t len)
{
    size_t total = 0;
    int r = tls_wire_flush(s);

    if (r < 0 && r != -EAGAIN) {
        return r;
    }
    while (total < len && tls_session_out_pending(s) < TLS_SESSION_WBUF_HIGH) {
        ssize_t n = gnutls_record_send(s->gs, buf + total,
                                       MIN(len - total,
                                           TLS_SESSION_MAX_RECORD));

        if (n < 0) {
            return total ? (ssize_t)total : tls_errno(s, n);
        }
        total += n;
    }
    r = tls_wire_flush(s);
    if (r < 0 && r != -EAGAIN) {
        return r;
    }
    return total ? (ssize_t)total : -EAGAIN;
}

gnutls_session_t tls_session_gnutls(TlsSession *s)
{
    return s->gs;
}

gboolean tls_session_is_server(TlsSession *s)
{
    return s->server;
}

void tls_session_free(TlsSession *s)
{
    if (!s) {
        return;
    }
    /* One non-blocking attempt: a peer that does not read gets none.  A
     * peer that never completed the handshake gets nothing at all. */
    if (s->established) {
        gnutls_bye(s->gs, GNUTLS_SHUT_WR);
    }
    if (s->batched) {
        tls_wire_flush(s);     /* the close_notify, if the socket takes it */
    }
    gnutls_deinit(s->gs);
    g_free(s->rb);
    g_free(s->wb);
    g_free(s);
}
