/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/tls-session.h - one GnuTLS session over one non-blocking
 * stream fd: the handshake as a state machine driven by poll events, then
 * record I/O with the errno conventions of recv()/send().
 *
 * Who makes it: the credential objects (include/qom/tls-creds.h) build
 * and configure the gnutls_session_t (credentials, priority, peer
 * verification) and hand it over with tls_session_new(); the users
 * (chardev sockets, stream netdevs, the QMP monitor) only drive it.  No
 * crypto is done here: GnuTLS does it all (docs/devel/decisions.md says
 * why GnuTLS and not GIO's TLS).
 *
 * Transport: GnuTLS reads and writes the fd through our pull/push
 * functions (recv()/send() with MSG_DONTWAIT, send() with MSG_NOSIGNAL),
 * so the fd's blocking mode does not matter and a peer that goes away
 * never raises SIGPIPE.
 *
 * Handshake: call tls_session_handshake() when the fd is ready for what
 * tls_session_want() says (G_IO_IN or G_IO_OUT) until it returns DONE or
 * FAILED.  Bounding its time is the caller's job (it owns the timers of
 * its loop); tls_session_new() records the start for
 * tls_session_age_us().
 *
 * Records: tls_session_recv() and tls_session_send() return a byte count
 * or -errno (-EAGAIN: try again when the fd is ready; any other: the
 * connection is broken).  After -EAGAIN from send(), call it again with
 * the same bytes (or more after them: only the first 'len' of the
 * earlier call are taken then): GnuTLS has already encrypted them and
 * sends the pending record first.  Decrypted bytes GnuTLS holds beyond
 * what recv() returned are not signalled by poll():
 * tls_session_pending() says how many wait.
 *
 * Threads: a session is used by one thread at a time (its owner's).
 */
#ifndef UTIL_TLS_SESSION_H
#define UTIL_TLS_SESSION_H

#include <glib.h>
#include <sys/types.h>
#include <gnutls/gnutls.h>

typedef struct TlsSession TlsSession;

typedef enum {
    TLS_HS_AGAIN,             /* wait for tls_session_want() on the fd */
    TLS_HS_DONE,              /* established: records may flow */
    TLS_HS_FAILED,            /* errp says why; close the connection */
} TlsHandshakeStatus;

/* Takes 'gs' (configured: credentials and priority set) and drives it
 * over 'fd' (borrowed: the caller closes it after tls_session_free()). */
TlsSession *tls_session_new(gnutls_session_t gs, int fd, gboolean server);

/* Advances the handshake.  FAILED sets errp to GnuTLS's reason ("The
 * certificate is NOT trusted...", "An unexpected TLS packet was
 * received."). */
TlsHandshakeStatus tls_session_handshake(TlsSession *s, GError **errp);

/* What the handshake waits for: G_IO_IN or G_IO_OUT. */
GIOCondition tls_session_want(TlsSession *s);

/* Microseconds since tls_session_new() (monotonic). */
gint64 tls_session_age_us(TlsSession *s);

/* Plaintext in / out; see above.  0 from recv is the peer's close
 * (close_notify or EOF). */
ssize_t tls_session_recv(TlsSession *s, void *buf, size_t len);
ssize_t tls_session_send(TlsSession *s, const void *buf, size_t len);

/* Decrypted bytes waiting inside GnuTLS (poll() cannot tell). */
size_t tls_session_pending(TlsSession *s);

/*
 * Batched mode, for a transport that moves many records per wake-up (the
 * socket chardev): after the handshake, reads go through a 256 KiB
 * read-ahead (tls_session_pending() counts it: poll() cannot see it), and
 * tls_session_send() encrypts as many records as it can take into a wire
 * buffer (up to 256 KiB queued) and sends them with one send(): the
 * bytes it returns are taken, whether or not they left yet.  The caller
 * then polls for G_IO_OUT while tls_session_out_pending() is not 0 and
 * calls tls_session_flush() (0, -EAGAIN while bytes remain, -errno).
 */
void tls_session_set_batched(TlsSession *s);
size_t tls_session_out_pending(TlsSession *s);
int tls_session_flush(TlsSession *s);

/* The configured GnuTLS session (for the credentials' peer checks). */
gnutls_session_t tls_session_gnutls(TlsSession *s);

/* TRUE for the server side. */
gboolean tls_session_is_server(TlsSession *s);

/* Sends close_notify if the socket takes it at once, then frees the
 * session (never blocks; the fd stays open).  NULL-safe. */
void tls_session_free(TlsSession *s);

#endif /* UTIL_TLS_SESSION_H */
