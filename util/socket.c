/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/socket.c - the one socket layer (include/util/socket.h says what
 * it offers; this file says why a line is as it is).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "util/error.h"
#include "util/socket.h"

/* --- one socket of one address ------------------------------------------- */

int sock_new(const SockAddr *a, int type, GError **errp)
{
    int fd = socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        error_setg(errp, "cannot create socket: %s", g_strerror(errno));
    }
    return fd;
}

int sock_listen(const SockAddr *a, GError **errp)
{
    return sock_listen_backlog(a, 1, errp);
}

int sock_listen_backlog(const SockAddr *a, int backlog, GError **errp)
{
    char name[SOCKADDR_STR_MAX];
    int fd, one = 1;

    if (a->ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const void *)&a->ss;
        struct stat st;

        if (un->sun_path[0] && stat(un->sun_path, &st) == 0 &&
            S_ISSOCK(st.st_mode)) {
            unlink(un->sun_path);
        }
    }
    fd = sock_new(a, SOCK_STREAM, errp);
    if (fd < 0) {
        return -1;
    }
    if (a->ss.ss_family != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
        listen(fd, backlog) < 0) {
        error_setg(errp, "Failed to listen on %s: %s",
                   sockaddr_str(a, name, sizeof(name)), g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int sock_connect(const SockAddr *a, gboolean *in_progress, GError **errp)
{
    char name[SOCKADDR_STR_MAX];
    int err;
    int fd = sock_connect_start(a, &err);

    if (fd < 0) {
        error_setg(errp, "Failed to connect to '%s': %s",
                   sockaddr_str(a, name, sizeof(name)), g_strerror(err));
        return -1;
    }
    *in_progress = err == EINPROGRESS;
    return fd;
}

int sock_connect_finish(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return errno;
    }
    return err;
}

int sock_fd_from_str(const char *str, const char *what, GError **errp)
{
    guint64 v;
    char *end = NULL;
    int flags;

    if (!str || !*str) {
        error_setg(errp, "%s: an fd number is required", what);
        return -1;
    }
    v = g_ascii_strtoull(str, &end, 10);
    if (*end || v > G_MAXINT || !g_ascii_isdigit(str[0])) {
        error_setg(errp, "%s: '%s' is not an fd number (named fds from the "
                   "monitor are not supported)", what, str);
        return -1;
    }
    flags = fcntl((int)v, F_GETFL);
    if (flags < 0) {
        error_setg(errp, "%s: fd %s is not open: %s", what, str,
                   g_strerror(errno));
        return -1;
    }
    fcntl((int)v, F_SETFL, flags | O_NONBLOCK);
    fcntl((int)v, F_SETFD, FD_CLOEXEC);
    return (int)v;
}

void sock_tune_stream(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int one = 1;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

/* --- resolution ---------------------------------------------------------- */

/* getaddrinfo() for a stream socket; 0 or its error code. */
static int sock_gai(const char *host, const char *port, int family,
                    gboolean passive, struct addrinfo **res)
{
    struct addrinfo hints = {
        .ai_flags = passive ? AI_PASSIVE : 0,
        .ai_socktype = SOCK_STREAM,
        .ai_family = family,
    };

    g_autofree char *h = sockaddr_host_unbracket(host);   /* "[::1]" */

    *res = NULL;
    return getaddrinfo(h && *h ? h : NULL, port, &hints, res);
}

/* The usable addresses of 'res' (inet only: a stream user never gets a
 * family it did not ask for), possibly none. */
static GArray *sock_addrs_from(const struct addrinfo *res)
{
    GArray *a = g_array_new(FALSE, TRUE, sizeof(SockAddr));

    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        SockAddr sa = { 0 };

        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(sa.ss)) {
            continue;
        }
        memcpy(&sa.ss, ai->ai_addr, ai->ai_addrlen);
        sa.len = ai->ai_addrlen;
        g_array_append_val(a, sa);
    }
    return a;
}

int sock_resolve_first(SockAddr *a, const char *host, const char *port,
                       gboolean passive)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0),
        .ai_socktype = SOCK_STREAM,
    };
    struct addrinfo *res = NULL;
    const char *h = host && *host ? host : NULL;
    int rc = getaddrinfo(h, port, &hints, &res);

    if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
        /* AI_ADDRCONFIG hides ::1 on a host without a configured IPv6
         * address (a fresh network namespace): ask again without it. */
        hints.ai_flags &= ~AI_ADDRCONFIG;
        rc = getaddrinfo(h, port, &hints, &res);
    }
    if (rc != 0) {
        return rc;
    }
    if (!res || res->ai_addrlen > sizeof(a->ss)) {
        if (res) {
            freeaddrinfo(res);
        }
        return EAI_NONAME;
    }
    memset(a, 0, sizeof(*a));
    memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

GArray *sock_resolve(const char *host, const char *port, int family,
                     gboolean passive, GError **errp)
{
    struct addrinfo *res;
    GArray *a;
    int r = sock_gai(host, port, family, passive, &res);

    if (r != 0) {
        g_autofree char *h = sockaddr_host_unbracket(host ? host : "");
        g_autofree char *hp = sockaddr_host_port_str(h, port);

        error_setg(errp, "address resolution failed for %s: %s", hp,
                   gai_strerror(r));
        return NULL;
    }
    a = sock_addrs_from(res);
    freeaddrinfo(res);
    if (a->len == 0) {
        g_autofree char *h = sockaddr_host_unbracket(host ? host : "");
        g_autofree char *hp = sockaddr_host_port_str(h, port);

        g_array_unref(a);
        error_setg(errp, "address resolution failed for %s: no address", hp);
        return NULL;
    }
    return a;
}

/*
 * The job is shared by the starter and the thread (refcounted).  The
 * thread signals completion on its own copy of the eventfd, so a starter
 * that gives up (a chardev closed or deleted) just drops its reference
 * and its fd, and the thread finishes alone: getaddrinfo() cannot be
 * interrupted, and nobody waits for it.
 */
struct SockLookup {
    gint ref;
    char *host;
    char *port;
    int family;
    int efd;                  /* the starter's end of the eventfd */
    int thread_efd;           /* the thread's copy */
    int gai;                  /* getaddrinfo() result, then ... */
    struct addrinfo *res;     /* ... its addresses (after the signal) */
};

static void sock_lookup_unref(SockLookup *l)
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

static gpointer sock_lookup_thread(gpointer opaque)
{
    SockLookup *l = opaque;

    l->gai = sock_gai(l->host, l->port, l->family, FALSE, &l->res);
    /* the write orders the result before the starter's read of it */
    eventfd_write(l->thread_efd, 1);
    close(l->thread_efd);
    sock_lookup_unref(l);
    return NULL;
}

SockLookup *sock_lookup_start(const char *host, const char *port,
                              int family, const char *thread_name,
                              GError **errp)
{
    GError *err = NULL;
    SockLookup *l;
    GThread *th;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int efd2 = efd < 0 ? -1 : fcntl(efd, F_DUPFD_CLOEXEC, 0);

    if (efd2 < 0) {
        int e = errno;

        if (efd >= 0) {
            close(efd);
        }
        error_setg(errp, "%s", g_strerror(e));
        return NULL;
    }
    l = g_new0(SockLookup, 1);
    l->ref = 2;                 /* the starter's and the thread's */
    l->host = g_strdup(host);
    l->port = g_strdup(port);
    l->family = family;
    l->efd = efd;
    l->thread_efd = efd2;
    th = g_thread_try_new(thread_name, sock_lookup_thread, l, &err);
    if (!th) {
        close(efd2);
        close(efd);
        l->ref = 1;
        sock_lookup_unref(l);
        g_propagate_error(errp, err);
        return NULL;
    }
    g_thread_unref(th);         /* detached: it ends by itself */
    return l;
}

int sock_lookup_fd(const SockLookup *l)
{
    return l->efd;
}

GArray *sock_lookup_finish(SockLookup *l, GError **errp)
{
    GArray *a = NULL;

    if (l->gai != 0) {
        error_setg(errp, "address resolution failed: %s",
                   gai_strerror(l->gai));
    } else {
        a = sock_addrs_from(l->res);
        if (a->len == 0) {
            g_clear_pointer(&a, g_array_unref);
            error_setg(errp, "address resolution failed: no address");
        }
    }
    sock_lookup_cancel(l);
    return a;
}

void sock_lookup_cancel(SockLookup *l)
{
    if (l) {
        close(l->efd);
        sock_lookup_unref(l);
    }
}

/* --- listening ----------------------------------------------------------- */

static gboolean sock_is_any6(const SockAddr *a)
{
    return a->ss.ss_family == AF_INET6 &&
           IN6_IS_ADDR_UNSPECIFIED(
               &((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

static gboolean sock_is_any4(const SockAddr *a)
{
    return a->ss.ss_family == AF_INET &&
           ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
           htonl(INADDR_ANY);
}

static void sock_set_port(SockAddr *a, uint16_t port)
{
    if (a->ss.ss_family == AF_INET) {
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
    } else if (a->ss.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
    }
}

guint16 sock_fd_port(int fd)
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

int sock_listen_host(const char *host, const char *port, int family,
                     gboolean v6only, int backlog, int *fds, guint max,
                     guint *n, GError **errp)
{
    g_autoptr(GArray) addrs = NULL;
    guint first = *n;
    gboolean dual = FALSE, dual_bound = FALSE;
    uint16_t bound_port = 0;
    int err = 0;

    addrs = sock_resolve(host, port, family, TRUE, errp);
    if (!addrs) {
        return EINVAL;
    }
    for (guint i = 0; i < addrs->len; i++) {
        if (sock_is_any6(&g_array_index(addrs, SockAddr, i)) && !v6only) {
            dual = TRUE;
        }
    }
    /* With a dual-stack "::" it goes first, and "0.0.0.0" is skipped only
     * once it is bound (a machine without IPv6 keeps its IPv4 any). */
    for (int pass = dual ? 0 : 1; pass < 2 && err != EADDRINUSE; pass++) {
        for (guint i = 0; i < addrs->len; i++) {
            SockAddr *a = &g_array_index(addrs, SockAddr, i);
            int on = 1, fd;

            if ((pass == 0) != (dual && sock_is_any6(a)) ||
                (pass == 1 && dual_bound && sock_is_any4(a)) || *n == max) {
                continue;
            }
            if (bound_port) {
                sock_set_port(a, bound_port);
            }
            fd = socket(a->ss.ss_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                err = errno;
                continue;
            }
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
            if (a->ss.ss_family == AF_INET6) {
                int only = !(dual && sock_is_any6(a));

                setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only,
                           sizeof(only));
            }
            if (bind(fd, (struct sockaddr *)&a->ss, a->len) < 0 ||
                listen(fd, backlog) < 0) {
                err = errno;
                close(fd);
                if (err == EADDRINUSE) {
                    break;
                }
                continue;
            }
            fds[(*n)++] = fd;
            bound_port = sock_fd_port(fd);
            dual_bound |= pass == 0;
        }
    }
    if (err == EADDRINUSE || *n == first) {
        while (*n > first) {
            close(fds[--*n]);
            fds[*n] = -1;
        }
        return err ? err : EADDRNOTAVAIL;
    }
    return 0;
}

/* --- connecting, accepting ----------------------------------------------- */

struct SockConnector {
    SockLookup *lookup;       /* the name being looked up, or NULL */
    GArray *addrs;            /* of SockAddr, once known */
    guint idx;                /* next address to try */
    int fd;                   /* the connect in progress, or -1 */
    int err;                  /* the last connect's errno */
    guint refused;            /* connects that found no listener */
    guint failed;             /* connects that failed, in all */
};

/* A connect to one address failed with 'err'. */
static void sock_connector_failed(SockConnector *c, int err)
{
    c->err = err;
    c->failed++;
    if (err == ECONNREFUSED || err == ENOENT) {
        c->refused++;
    }
}

/* The host is an address (or empty: loopback), not a name to look up. */
static gboolean sock_host_is_numeric(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;
    g_autofree char *h = sockaddr_host_unbracket(host);

    return !h || !*h || inet_pton(AF_INET, h, &a4) == 1 ||
           inet_pton(AF_INET6, h, &a6) == 1;
}

SockConnector *sock_connector_new(GArray *addrs)
{
    SockConnector *c = g_new0(SockConnector, 1);

    c->addrs = addrs;
    c->fd = -1;
    c->err = ECONNREFUSED;
    return c;
}

SockConnector *sock_connector_new_host(const char *host, const char *port,
                                       int family, const char *thread_name,
                                       GError **errp)
{
    SockConnector *c;

    if (sock_host_is_numeric(host)) {
        /* no DNS: resolving now cannot stall the loop */
        GArray *addrs = sock_resolve(host, port, family, FALSE, errp);

        return addrs ? sock_connector_new(addrs) : NULL;
    }
    c = sock_connector_new(NULL);
    c->lookup = sock_lookup_start(host, port, family, thread_name, errp);
    if (!c->lookup) {
        g_free(c);
        return NULL;
    }
    return c;
}

/* The lookup thread has signalled (its eventfd is readable). */
static gboolean sock_lookup_done(const SockLookup *l)
{
    struct pollfd p = { .fd = l->efd, .events = POLLIN };

    return poll(&p, 1, 0) == 1;
}

int sock_connector_step(SockConnector *c, int *fd, GError **errp)
{
    if (c->lookup) {
        if (!sock_lookup_done(c->lookup)) {
            return 0;
        }
        c->addrs = sock_lookup_finish(c->lookup, errp);
        c->lookup = NULL;
        if (!c->addrs) {
            return -1;
        }
    } else if (c->fd >= 0) {
        int err = sock_connect_finish(c->fd);

        if (err == EINPROGRESS || err == EALREADY) {
            return 0;
        }
        if (err == 0) {
            *fd = c->fd;
            c->fd = -1;
            return 1;
        }
        close(c->fd);
        c->fd = -1;
        sock_connector_failed(c, err);
    }
    while (c->addrs && c->idx < c->addrs->len) {
        int err;
        int s = sock_connect_start(&g_array_index(c->addrs, SockAddr,
                                                  c->idx++), &err);

        if (s < 0) {
            sock_connector_failed(c, err);
            continue;
        }
        if (err == 0) {
            *fd = s;
            return 1;
        }
        c->fd = s;
        return 0;
    }
    error_setg(errp, "%s", g_strerror(c->err));
    return -1;
}

int sock_connector_poll(const SockConnector *c, GIOCondition *events)
{
    if (c->lookup) {
        *events = G_IO_IN;
        return c->lookup->efd;
    }
    *events = c->fd >= 0 ? G_IO_OUT : 0;
    return c->fd;
}

gboolean sock_connector_refused(const SockConnector *c)
{
    return c && c->failed > 0 && c->refused == c->failed;
}

void sock_connector_free(SockConnector *c)
{
    if (!c) {
        return;
    }
    sock_lookup_cancel(c->lookup);
    if (c->fd >= 0) {
        close(c->fd);
    }
    if (c->addrs) {
        g_array_unref(c->addrs);
    }
    g_free(c);
}

int sock_connect_start(const SockAddr *a, int *err)
{
    int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
                    SOCK_CLOEXEC, 0);
    int rc;

    if (fd < 0) {
        *err = errno;
        return -1;
    }
    do {
        rc = connect(fd, (const struct sockaddr *)&a->ss, a->len);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        *err = 0;
        return fd;
    }
    if (errno == EINPROGRESS || errno == EAGAIN) {
        *err = EINPROGRESS;
        return fd;
    }
    *err = errno;
    close(fd);
    return -1;
}

int sock_connect_wait(const SockAddr *a, int timeout_ms, int *err)
{
    int fd = sock_connect_start(a, err);
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int r;

    if (fd < 0 || *err == 0) {
        return fd;
    }
    do {
        r = poll(&pfd, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    *err = r == 0 ? ETIMEDOUT : r < 0 ? errno : sock_connect_finish(fd);
    if (*err) {
        close(fd);
        return -1;
    }
    return fd;
}

int sock_accept(int lfd)
{
    return sock_accept_addr(lfd, NULL);
}

int sock_accept_addr(int lfd, SockAddr *peer)
{
    int fd;

    if (peer) {
        memset(peer, 0, sizeof(*peer));
        peer->len = sizeof(peer->ss);
    }
    do {
        fd = accept4(lfd, peer ? (struct sockaddr *)&peer->ss : NULL,
                     peer ? &peer->len : NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

char *sock_fd_describe(int fd, gboolean peer)
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

/* --- I/O ----------------------------------------------------------------- */

gssize sock_recv(int fd, void *buf, size_t len)
{
    gboolean not_socket = FALSE;

    for (;;) {
        /* recv() first: MSG_DONTWAIT also on an fd someone else made
         * blocking; read() for what is not a socket (stdio, a pipe) */
        ssize_t n = not_socket ? read(fd, buf, len)
                               : recv(fd, buf, len, MSG_DONTWAIT);

        if (n >= 0) {
            return n;
        }
        if (errno == ENOTSOCK && !not_socket) {
            not_socket = TRUE;
            continue;
        }
        if (errno != EINTR) {
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
    }
}

gssize sock_sendv(int fd, const struct iovec *iov, int iovcnt)
{
    struct msghdr mh = { .msg_iov = (struct iovec *)iov,
                         .msg_iovlen = iovcnt };

    for (;;) {
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n >= 0) {
            return n;
        }
        if (errno != EINTR) {
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        }
    }
}
