/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/socket.h - the one socket layer: resolve, listen, connect, accept,
 * describe, and the one read/write entry of a stream connection.
 *
 * Addresses come from util/sockaddr.h (QEMU's spellings, one port rule,
 * one unix length limit); this module turns them into sockets.  Every
 * stream user goes through it: socket chardevs (chardev/char-socket*.c),
 * the QMP monitor (monitor/qmp.c), the stream netdevs (net/stream.c) and
 * the QEMU driver (colo/colo-qemu.c).
 *
 *   resolution   sock_resolve() looks a name up now (getaddrinfo(): may
 *                block on DNS, so object creation only); SockLookup does
 *                the same in a thread of its own and signals an eventfd
 *                that its owner polls like any other fd, so a slow or
 *                dead DNS server never stalls a loop.  Both give every
 *                usable address, in the resolver's order.
 *   listening    sock_listen_host() binds every address a host resolves
 *                to (a dual-stack "::" covers "0.0.0.0"), sock_listen()
 *                (sockaddr.h) one address.
 *   connecting   SockConnector: a client's whole round (lookup, then
 *                each address with a non-blocking connect) driven by its
 *                owner's poll: the chardev's and the QEMU driver's;
 *                sock_connect_start()/sock_connect_finish() one address
 *                (the stream netdev's); sock_connect_wait() with a time
 *                limit, for creation-time connects that QEMU also makes
 *                synchronous.
 *   accepting    sock_accept(): non-blocking, close-on-exec.
 *   describing   sock_fd_describe(): "127.0.0.1:9000", "[::1]:9000", the
 *                unix path, for query-chardev and logs.
 *   I/O          sock_recv() and sock_sendv() are the only calls that
 *                move bytes on an established stream connection (the
 *                chardev's reader and output ring, the stream netdev's
 *                reader and output buffer).  They are the seam where a
 *                TLS session slots in: with one, the owner reads the
 *                session's records instead and its output ring writes
 *                through the session (util/outbuf.h); see
 *                docs/devel/architecture.md, "Sockets".
 *
 * Errors are GErrors in UTIL_ERROR, or plain errnos where the caller
 * composes the user's message (QEMU's texts differ per option).
 *
 * Threads: any thread; only SockLookup keeps state, owned by one thread
 * at a time (its starter) apart from the resolver thread's own half.
 */
#ifndef UTIL_SOCKET_H
#define UTIL_SOCKET_H

#include <glib.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "util/sockaddr.h"

/* --- resolution ---------------------------------------------------------- */

/* Every usable (AF_INET, AF_INET6) stream address of 'host' (NULL or ""
 * = any for 'passive', loopback otherwise) at 'port', restricted to
 * 'family' (AF_UNSPEC, AF_INET or AF_INET6): a new GArray of SockAddr,
 * never empty.  NULL with "address resolution failed for HOST:PORT: why"
 * on failure.  Blocks on DNS: slow path only. */
GArray *sock_resolve(const char *host, const char *port, int family,
                     gboolean passive, GError **errp);

/* The first address of 'host' (NULL or "" as above) at 'port', any
 * family, preferring the families the machine has configured
 * (AI_ADDRCONFIG, dropped when it hides everything, as ::1 in a fresh
 * network namespace): what sockaddr_inet() and the netdevs use.  Returns
 * 0, or a getaddrinfo() error code (gai_strerror()).  Blocks on DNS. */
int sock_resolve_first(SockAddr *a, const char *host, const char *port,
                       gboolean passive);

/* A name being looked up in a thread ('thread_name' names it in
 * /proc/PID/task/N/comm).  The starter polls sock_lookup_fd() for
 * G_IO_IN, then calls sock_lookup_finish(); or gives up with
 * sock_lookup_cancel() at any time (the thread then ends alone).  Exactly
 * one of the two ends the starter's part. */
typedef struct SockLookup SockLookup;

/* Starts looking 'host' up ('port' and 'family' as sock_resolve()).  NULL
 * with errp set when no thread or eventfd can be had. */
SockLookup *sock_lookup_start(const char *host, const char *port,
                              int family, const char *thread_name,
                              GError **errp);
/* The fd that becomes readable when the lookup is done (owned by 'l'). */
int sock_lookup_fd(const SockLookup *l);
/* The lookup's addresses as sock_resolve() gives them, or NULL with
 * "address resolution failed: why"; ends 'l' either way.  Call only after
 * the fd fired. */
GArray *sock_lookup_finish(SockLookup *l, GError **errp);
/* Ends the starter's part of 'l' (NULL: no-op). */
void sock_lookup_cancel(SockLookup *l);

/* --- one socket of one address ------------------------------------------- */

/* A non-blocking, close-on-exec socket of 'a's family.  Returns the fd or
 * -1 with errp set. */
int sock_new(const SockAddr *a, int type, GError **errp);
/* A listening stream socket bound to 'a' (a stale unix socket file is
 * removed first).  Returns the fd or -1 with errp set. */
int sock_listen(const SockAddr *a, GError **errp);
/* The same with a backlog of 'backlog' connections. */
int sock_listen_backlog(const SockAddr *a, int backlog, GError **errp);
/* Starts a non-blocking connect.  Returns the fd with *in_progress set
 * when the connection completes later (wait for G_IO_OUT, then
 * sock_connect_finish()), or -1 with errp set. */
int sock_connect(const SockAddr *a, gboolean *in_progress, GError **errp);
/* Returns 0 when the pending connect on 'fd' succeeded, else an errno. */
int sock_connect_finish(int fd);
/* Makes an inherited fd usable: non-blocking, close-on-exec.  'str' is
 * the fd number.  Returns the fd or -1 with errp set. */
int sock_fd_from_str(const char *str, const char *what, GError **errp);
/* Sets TCP_NODELAY and SO_KEEPALIVE on a TCP socket; ignored elsewhere. */
void sock_tune_stream(int fd);

/* --- listening, connecting, accepting ------------------------------------ */

/* Binds and listens on every address of 'host' at 'port' (as
 * sock_resolve(), passive), appending the fds to fds[*n] (at most 'max'
 * in all).  A dual-stack "::" covers "0.0.0.0", which is then skipped,
 * unless 'v6only'; an address the machine cannot bind (::1 without IPv6)
 * is skipped when another binds; the addresses after the first use the
 * port the first got (port 0 = one ephemeral port for all).  Returns 0,
 * or the errno that stopped it with nothing left open (EADDRINUSE: the
 * port is taken, a range may try the next); errp is set only when the
 * name does not resolve (then EINVAL). */
int sock_listen_host(const char *host, const char *port, int family,
                     gboolean v6only, int backlog, int *fds, guint max,
                     guint *n, GError **errp);

/* Starts a non-blocking connect to 'a' and returns the fd with *err 0
 * (connected) or EINPROGRESS (wait for G_IO_OUT, then
 * sock_connect_finish()); -1 with *err set when it failed at once. */
int sock_connect_start(const SockAddr *a, int *err);

/*
 * A client's connect round, driven by its owner's poll: the host name
 * looked up in a thread first (an address or an empty host resolves at
 * once), then each address tried in turn with a non-blocking connect.
 * The owner polls the fd sock_connector_poll() names, for the events it
 * says (they change as the round goes on), and calls
 * sock_connector_step() when they fire -- and once right after creating
 * the round.  The round owns its fds until it hands over the connected
 * one.
 */
typedef struct SockConnector SockConnector;

/* A round over 'addrs' (taken; a GArray of SockAddr, e.g. one unix
 * address). */
SockConnector *sock_connector_new(GArray *addrs);
/* A round to 'host' at 'port' ('family' as sock_resolve()), a name looked
 * up in a thread named 'thread_name'.  NULL with errp set when a numeric
 * host does not resolve or no thread can be had. */
SockConnector *sock_connector_new_host(const char *host, const char *port,
                                       int family, const char *thread_name,
                                       GError **errp);
/* Advances the round: 1 with *fd the connected non-blocking socket (now
 * the caller's; the round is over), 0 while waiting (poll again), -1
 * with errp set ("address resolution failed: ...", or the last
 * connect()'s error text) when every address failed. */
int sock_connector_step(SockConnector *c, int *fd, GError **errp);
/* The fd to poll now and, in *events, for what (G_IO_IN for the lookup,
 * G_IO_OUT for a connect); -1 when there is nothing to wait for (call
 * sock_connector_step()). */
int sock_connector_poll(const SockConnector *c, GIOCondition *events);
/* After a failed round (step returned -1): TRUE when every address was
 * tried and each connect found no listener (ECONNREFUSED, or ENOENT for
 * a unix socket whose file is gone) -- positive evidence that nothing
 * serves there, unlike a timeout or a failed lookup.  NULL: FALSE. */
gboolean sock_connector_refused(const SockConnector *c);
/* Ends the round: a pending connect is closed, a lookup given up.  NULL:
 * no-op. */
void sock_connector_free(SockConnector *c);

/* Connects to 'a', waiting at most 'timeout_ms'.  Returns the connected
 * non-blocking fd, or -1 with *err set (ETIMEDOUT after the limit). */
int sock_connect_wait(const SockAddr *a, int timeout_ms, int *err);

/* Accepts one connection on 'lfd', non-blocking and close-on-exec (EINTR
 * retried).  -1 with errno set as accept(2) does. */
int sock_accept(int lfd);
/* The same, with the peer's address in *peer. */
int sock_accept_addr(int lfd, SockAddr *peer);

/* The local ('peer' FALSE) or remote address of 'fd' as
 * sockaddr_describe() spells it, newly allocated ("?" when unknown). */
char *sock_fd_describe(int fd, gboolean peer);

/* The port 'fd' is bound to (0 for a unix socket or on error). */
guint16 sock_fd_port(int fd);

/* --- I/O on an established stream connection ---------------------------- */

/* Reads at most 'len' bytes without blocking.  Returns the count, 0 at
 * the end of the stream, or -errno (-EAGAIN: nothing now).  EINTR is
 * retried.  An fd that is not a socket (a monitor on stdio, a netdev fd
 * that is a pipe) is read() (it must be non-blocking itself). */
gssize sock_recv(int fd, void *buf, size_t len);

/* Writes 'iov' without blocking and without SIGPIPE.  Returns the bytes
 * taken (maybe fewer than offered), or -errno (-EAGAIN: none now).
 * EINTR is retried. */
gssize sock_sendv(int fd, const struct iovec *iov, int iovcnt);

#endif /* UTIL_SOCKET_H */
