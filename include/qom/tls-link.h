/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/qom/tls-link.h - the TLS side of one link (a socket chardev, a
 * stream netdev, the heartbeat, a QMP monitor): handshakes in progress,
 * the authorization check, the refusal accounting.
 *
 * A link's transport hands every freshly connected fd (accepted, or a
 * client's completed connect) to tls_link_add() instead of taking it as
 * its connection; the TlsLink runs the handshake on its own FdSource in
 * the link's context and calls back exactly once per fd:
 *
 *   established(opaque, fd, session, identity)   handshake done, peer
 *       verified by GnuTLS and allowed by tls-authz: the transport takes
 *       'fd' and 'session' (owns both from now on) and reports the
 *       connection up as usual, doing its record I/O through the session;
 *   refused(opaque, reason)   the attempt failed (fd already closed):
 *       logged, counted and announced (event TLS_PEER_REFUSED) here; a
 *       client transport schedules its retry, a server does nothing.
 *
 * The rules that keep a listener available to its legitimate peer:
 *   - a server keeps accepting while handshakes are pending (the
 *     transport takes the connection slot only on 'established');
 *   - each handshake has TLS_LINK_HANDSHAKE_TIMEOUT_MS to finish;
 *   - at most TLS_LINK_MAX_PENDING handshakes run at once; one more
 *     evicts the oldest (refused, "too many pending handshakes"), so a
 *     flood of silent connections cannot lock the peer out;
 *   - bytes of a refused peer are never delivered to the transport.
 *
 * Threads: a TlsLink lives in its transport's context: tls_link_attach()
 * to it (and tls_link_detach() before moving), every call from there.
 * The counters are read from any thread (query-tls).  Created and freed
 * in the main thread, detached.
 */
#ifndef QOM_TLS_LINK_H
#define QOM_TLS_LINK_H

#include <stdint.h>
#include <sys/socket.h>
#include "qom/tls-creds.h"

#define TLS_LINK_HANDSHAKE_TIMEOUT_MS 10000
#define TLS_LINK_MAX_PENDING 16

typedef struct TlsLink TlsLink;

typedef void (*TlsLinkEstablishedFn)(void *opaque, int fd, TlsSession *s,
                                     const char *identity);
typedef void (*TlsLinkRefusedFn)(void *opaque, const char *reason);

/* Resolves 'creds_id' and 'authz_id' (NULL: none; only for a server)
 * and checks the credentials' endpoint is 'server''s.  'name' names the
 * link in messages, events and query-tls ("chardev 'mirror0'"); 'user_id'
 * is the using object's id (use counts: the credentials cannot be deleted
 * under it).  NULL with errp set on error.  Main thread. */
TlsLink *tls_link_new(const char *name, const char *user_id,
                      const char *creds_id, const char *authz_id,
                      gboolean server, TlsLinkEstablishedFn established,
                      TlsLinkRefusedFn refused, void *opaque, GError **errp);

/* Closes pending handshakes (without callbacks) and frees; NULL-safe. */
void tls_link_free(TlsLink *l);

void tls_link_attach(TlsLink *l, GMainContext *ctx);
void tls_link_detach(TlsLink *l);

/* Starts the handshake on 'fd' (taken: closed here on refusal).  The
 * callbacks come from the link's dispatch, never from inside this call. */
void tls_link_add(TlsLink *l, int fd);

/* Closes the pending handshakes, without callbacks (the client gave up,
 * the server got its peer from elsewhere). */
void tls_link_cancel(TlsLink *l);

/* Handshakes in progress. */
guint tls_link_pending(TlsLink *l);

/* Counters (any thread). */
uint64_t tls_link_refused(TlsLink *l);
uint64_t tls_link_established(TlsLink *l);

/* Refuses an fd without trying (a second peer while the slot is held):
 * closes it, counts, logs, emits.  Link context. */
void tls_link_refuse_fd(TlsLink *l, int fd, const char *reason);

/* The creds and authz ids (for query-chardev). */
const char *tls_link_creds_id(TlsLink *l);
const char *tls_link_authz_id(TlsLink *l);

/* TRUE for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104 (a listener only
 * this host reaches), FALSE for any other address (0.0.0.0 and :: too). */
gboolean tls_addr_is_loopback(const struct sockaddr *sa);

/* The exposure rule every listener without TLS shares (socket chardevs,
 * netdev/device stream): NULL when each of the 'n' listening fds is bound
 * to loopback or unix, else the one-line warning naming the first exposed
 * address, "listening on tcp:0.0.0.0:9003 without TLS: any host that
 * reaches it can connect (tls-creds=, docs/security.md)", new string.
 * The caller logs it once, prefixed with its own name, and shows it in
 * its query output for as long as it listens. */
char *tls_listener_warning(const int *fds, guint n);

/* "host:port" of 'fd''s peer (or "unix"), new string. */
char *tls_link_peer_name(int fd);

#endif /* QOM_TLS_LINK_H */
