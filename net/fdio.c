/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/fdio.c - fd plumbing shared by the transport backends.
 *
 * See net/fdio.h for the pieces and their contracts.  The backends (tap,
 * af-packet, stream/socket, dgram, user) build on these; nothing here
 * knows about NetClient beyond the vnet-header helpers in the header.
 *
 * Threads: main context only.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <json-glib/json-glib.h>
#include <linux/virtio_net.h>

#include "net/checksum.h"
#include "net/fdio.h"
#include "util/error.h"
#include "util/stats.h"
#include "util/log.h"

/* --- NetFdWatch ---------------------------------------------------------- */

typedef struct NetFdSource {
    GSource source;
    NetFdWatch *watch;        /* owner */
    NetFdFunc fn;             /* callback */
    void *opaque;             /* its argument */
} NetFdSource;

static gboolean net_fd_source_dispatch(GSource *source, GSourceFunc unused,
                                       gpointer unused2)
{
    NetFdSource *s = (NetFdSource *)source;
    NetFdWatch *w = s->watch;
    GIOCondition revents;

    if (!w->tag) {
        return G_SOURCE_CONTINUE;
    }
    revents = g_source_query_unix_fd(source, w->tag);
    if (revents) {
        s->fn(s->opaque, revents);
    }
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs net_fd_source_funcs = {
    .dispatch = net_fd_source_dispatch,
};

void net_fd_watch_start(NetFdWatch *w, int fd, GIOCondition events,
                        NetFdFunc fn, void *opaque, const char *name)
{
    NetFdSource *s;

    net_fd_watch_stop(w);
    s = (NetFdSource *)g_source_new(&net_fd_source_funcs, sizeof(*s));
    s->watch = w;
    s->fn = fn;
    s->opaque = opaque;
    g_source_set_static_name(&s->source, name);
    /* Not blocked during its own dispatch: blocking removes and re-adds
     * the fd, and each signals the context's wakeup eventfd (two system
     * calls per dispatch).  The main loop is never iterated from inside
     * a dispatch, so nothing can recurse. */
    g_source_set_can_recurse(&s->source, TRUE);
    w->source = &s->source;
    w->fd = fd;
    w->events = 0;
    w->tag = NULL;
    g_source_attach(w->source, NULL);
    net_fd_watch_enable(w, events, TRUE);
}

void net_fd_watch_enable(NetFdWatch *w, GIOCondition cond, gboolean on)
{
    GIOCondition events;

    if (!w->source) {
        return;
    }
    events = on ? (w->events | cond) : (w->events & ~cond);
    if (events == w->events) {
        return;
    }
    w->events = events;
    if (!events) {
        /* Out of the poll set altogether: poll() would still report HUP
         * and ERR for an fd with no interest and make the loop spin. */
        g_source_remove_unix_fd(w->source, w->tag);
        w->tag = NULL;
    } else if (!w->tag) {
        w->tag = g_source_add_unix_fd(w->source, w->fd, events);
    } else {
        g_source_modify_unix_fd(w->source, w->tag, events);
    }
}

void net_fd_watch_stop(NetFdWatch *w)
{
    if (!w->source) {
        return;
    }
    g_source_destroy(w->source);
    g_source_unref(w->source);
    w->source = NULL;
    w->tag = NULL;
    w->events = 0;
}

/* --- NetRxBatch ---------------------------------------------------------- */

void net_rx_batch_init(NetRxBatch *b, size_t buf_size, unsigned headroom,
                       size_t cmsg_size)
{
    memset(b, 0, sizeof(*b));
    b->buf_size = buf_size;
    b->headroom = headroom;
    b->cmsg_size = cmsg_size;
    b->mem = g_malloc((size_t)NET_BURST * (headroom + buf_size));
    if (cmsg_size) {
        b->cmsg = g_malloc0((size_t)NET_BURST * cmsg_size);
    }
}

void net_rx_batch_destroy(NetRxBatch *b)
{
    g_clear_pointer(&b->mem, g_free);
    g_clear_pointer(&b->cmsg, g_free);
}

int net_rx_batch_recvmmsg(NetRxBatch *b, int fd, unsigned max)
{
    int n;

    if (max > NET_BURST) {
        max = NET_BURST;
    }
    for (unsigned i = 0; i < max; i++) {
        struct msghdr *mh = &b->msgs[i].msg_hdr;

        b->iov[i].iov_base = net_rx_batch_buf(b, i);
        b->iov[i].iov_len = b->buf_size;
        mh->msg_iov = &b->iov[i];
        mh->msg_iovlen = 1;
        mh->msg_name = &b->addr[i];
        mh->msg_namelen = sizeof(b->addr[i]);
        mh->msg_control = b->cmsg ? b->cmsg + (size_t)i * b->cmsg_size : NULL;
        mh->msg_controllen = b->cmsg_size;
        mh->msg_flags = 0;
        b->msgs[i].msg_len = 0;
    }
    do {
        n = recvmmsg(fd, b->msgs, max, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    }
    return n;
}

/* --- NetOutBuf ----------------------------------------------------------- */

void net_outbuf_init(NetOutBuf *ob, size_t cap)
{
    ob->data = g_malloc(cap);
    ob->cap = cap;
    ob->head = ob->tail = 0;
    ob->use_send = true;
}

void net_outbuf_destroy(NetOutBuf *ob)
{
    g_clear_pointer(&ob->data, g_free);
    ob->cap = ob->head = ob->tail = 0;
}

void net_outbuf_reset(NetOutBuf *ob)
{
    ob->head = ob->tail = 0;
}

static ssize_t outbuf_writev(NetOutBuf *ob, int fd, struct iovec *iov,
                             int n)
{
    ssize_t r;

    do {
        if (ob->use_send) {
            struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };

            r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (r < 0 && errno == ENOTSOCK) {
                ob->use_send = false;
                continue;
            }
        } else {
            r = writev(fd, iov, n);
        }
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    }
    return r;
}

/* Appends 'len' bytes; the caller checked the room. */
static void outbuf_append(NetOutBuf *ob, const uint8_t *p, size_t len)
{
    if (ob->cap - ob->tail < len) {
        size_t used = ob->tail - ob->head;

        memmove(ob->data, ob->data + ob->head, used);
        ob->head = 0;
        ob->tail = used;
    }
    memcpy(ob->data + ob->tail, p, len);
    ob->tail += len;
}

gssize net_outbuf_write_frame(NetOutBuf *ob, int fd,
                              const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len)
{
    size_t total = hlen + len;
    ssize_t n = 0;

    if (ob->head == ob->tail) {
        struct iovec iov[2] = {
            { .iov_base = (void *)hdr, .iov_len = hlen },
            { .iov_base = (void *)buf, .iov_len = len },
        };

        ob->head = ob->tail = 0;
        if (total > ob->cap) {
            return -EMSGSIZE;
        }
        n = outbuf_writev(ob, fd, iov, 2);
        if (n < 0) {
            return n;
        }
        if ((size_t)n == total) {
            return total;
        }
    } else if (ob->cap - (ob->tail - ob->head) < total) {
        return 0;
    }
    /* Keep the rest of the frame: the part of the header not written,
     * then the part of the payload not written. */
    if ((size_t)n < hlen) {
        outbuf_append(ob, hdr + n, hlen - n);
        outbuf_append(ob, buf, len);
    } else {
        outbuf_append(ob, buf + (n - hlen), len - (n - hlen));
    }
    return total;
}

gssize net_outbuf_queue_frame(NetOutBuf *ob, const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len)
{
    size_t total = hlen + len;

    if (G_UNLIKELY(total > ob->cap)) {
        return -EMSGSIZE;
    }
    if (ob->head == ob->tail) {
        ob->head = ob->tail = 0;
    } else if (ob->cap - (ob->tail - ob->head) < total) {
        return 0;
    }
    outbuf_append(ob, hdr, hlen);
    outbuf_append(ob, buf, len);
    return total;
}

int net_outbuf_drain(NetOutBuf *ob, int fd)
{
    while (ob->head < ob->tail) {
        struct iovec iov = {
            .iov_base = ob->data + ob->head,
            .iov_len = ob->tail - ob->head,
        };
        ssize_t n = outbuf_writev(ob, fd, &iov, 1);

        if (n < 0) {
            return (int)n;
        }
        if (n == 0) {
            return 0;
        }
        ob->head += n;
    }
    ob->head = ob->tail = 0;
    return 1;
}

/* --- NetSockAddr --------------------------------------------------------- */

gboolean net_sockaddr_inet(NetSockAddr *a, const char *host,
                           const char *port, gboolean passive,
                           const char *what, GError **errp)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0),
    };
    struct addrinfo *res = NULL;
    int rc;

    if (!port || !*port) {
        error_setg(errp, "%s: a port is required", what);
        return FALSE;
    }
    if (host && !*host) {
        host = NULL;
    }
    if (host && host[0] == '[') {
        /* Tolerate a bracketed IPv6 literal. */
        size_t n = strlen(host);

        if (n > 2 && host[n - 1] == ']') {
            g_autofree char *h = g_strndup(host + 1, n - 2);

            return net_sockaddr_inet(a, h, port, passive, what, errp);
        }
    }
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
        hints.ai_flags &= ~AI_ADDRCONFIG;
        rc = getaddrinfo(host, port, &hints, &res);
    }
    if (rc != 0 || !res) {
        error_setg(errp, "%s: address resolution failed for %s:%s: %s",
                   what, host ? host : "", port, gai_strerror(rc));
        return FALSE;
    }
    memset(a, 0, sizeof(*a));
    memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
    a->len = res->ai_addrlen;
    freeaddrinfo(res);
    return TRUE;
}

gboolean net_sockaddr_parse_host_port(NetSockAddr *a, const char *str,
                                      gboolean passive, const char *what,
                                      GError **errp)
{
    const char *colon;
    g_autofree char *host = NULL;

    if (!str || !*str) {
        error_setg(errp, "%s: expected host:port", what);
        return FALSE;
    }
    if (str[0] == '[') {
        const char *end = strchr(str, ']');

        if (!end || end[1] != ':') {
            error_setg(errp, "%s: expected [host]:port, got '%s'", what, str);
            return FALSE;
        }
        host = g_strndup(str + 1, end - str - 1);
        colon = end + 1;
    } else {
        colon = strrchr(str, ':');
        if (!colon) {
            error_setg(errp, "%s: expected host:port, got '%s'", what, str);
            return FALSE;
        }
        host = g_strndup(str, colon - str);
    }
    return net_sockaddr_inet(a, host, colon + 1, passive, what, errp);
}

gboolean net_sockaddr_unix(NetSockAddr *a, const char *path,
                           gboolean abstract, gboolean tight,
                           const char *what, GError **errp)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
    size_t n = path ? strlen(path) : 0;
    size_t off = abstract ? 1 : 0;

    if (!n) {
        error_setg(errp, "%s: a path is required", what);
        return FALSE;
    }
    if (n + off >= sizeof(un->sun_path)) {
        error_setg(errp, "%s: path '%s' is too long (max %zu bytes)", what,
                   path, sizeof(un->sun_path) - 1 - off);
        return FALSE;
    }
    memset(a, 0, sizeof(*a));
    un->sun_family = AF_UNIX;
    memcpy(un->sun_path + off, path, n);
    if (abstract && tight) {
        a->len = offsetof(struct sockaddr_un, sun_path) + off + n;
    } else if (abstract) {
        a->len = sizeof(*un);
    } else {
        a->len = offsetof(struct sockaddr_un, sun_path) + n + 1;
    }
    return TRUE;
}

const char *net_sockaddr_str(const NetSockAddr *a, char *buf, size_t size)
{
    char host[INET6_ADDRSTRLEN];

    switch (a->ss.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *in = (const void *)&a->ss;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const void *)&a->ss;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const void *)&a->ss;
        size_t plen = a->len > offsetof(struct sockaddr_un, sun_path) ?
            a->len - offsetof(struct sockaddr_un, sun_path) : 0;

        if (plen && un->sun_path[0] == '\0') {
            snprintf(buf, size, "unix:@%.*s", (int)(plen - 1),
                     un->sun_path + 1);
        } else {
            snprintf(buf, size, "unix:%.*s", (int)strnlen(un->sun_path,
                     sizeof(un->sun_path)), un->sun_path);
        }
        break;
    }
    default:
        snprintf(buf, size, "fd");
        break;
    }
    return buf;
}

gboolean net_sockaddr_equal(const NetSockAddr *a, const NetSockAddr *b)
{
    if (a->ss.ss_family != b->ss.ss_family) {
        return FALSE;
    }
    switch (a->ss.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *x = (const void *)&a->ss;
        const struct sockaddr_in *y = (const void *)&b->ss;

        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *x = (const void *)&a->ss;
        const struct sockaddr_in6 *y = (const void *)&b->ss;

        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
    }
    default:
        return a->len == b->len && !memcmp(&a->ss, &b->ss, a->len);
    }
}

int net_socket_new(const NetSockAddr *a, int type, GError **errp)
{
    int fd = socket(a->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        error_setg(errp, "cannot create socket: %s", g_strerror(errno));
    }
    return fd;
}

int net_socket_listen(const NetSockAddr *a, GError **errp)
{
    char name[160];
    int fd, one = 1;

    if (a->ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const void *)&a->ss;
        struct stat st;

        if (un->sun_path[0] && stat(un->sun_path, &st) == 0 &&
            S_ISSOCK(st.st_mode)) {
            unlink(un->sun_path);
        }
    }
    fd = net_socket_new(a, SOCK_STREAM, errp);
    if (fd < 0) {
        return -1;
    }
    if (a->ss.ss_family != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 ||
        listen(fd, 1) < 0) {
        error_setg(errp, "Failed to listen on %s: %s",
                   net_sockaddr_str(a, name, sizeof(name)), g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int net_socket_connect(const NetSockAddr *a, gboolean *in_progress,
                       GError **errp)
{
    char name[160];
    int fd = net_socket_new(a, SOCK_STREAM, errp);
    int rc;

    if (fd < 0) {
        return -1;
    }
    *in_progress = FALSE;
    do {
        rc = connect(fd, (const struct sockaddr *)&a->ss, a->len);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        if (errno == EINPROGRESS || errno == EAGAIN) {
            *in_progress = TRUE;
            return fd;
        }
        error_setg(errp, "Failed to connect to '%s': %s",
                   net_sockaddr_str(a, name, sizeof(name)), g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int net_socket_connect_finish(int fd)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return errno;
    }
    return err;
}

int net_fd_from_str(const char *str, const char *what, GError **errp)
{
    guint64 v;
    char *end = NULL;
    int flags;

    if (!str || !*str) {
        error_setg(errp, "%s: an fd number is required", what);
        return -1;
    }
    v = g_ascii_strtoull(str, &end, 10);
    if (*end || v > G_MAXINT) {
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

void net_socket_tune_stream(int fd)
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

/* --- properties ---------------------------------------------------------- */

void net_prop_set(void *obj, size_t offset, const GValue *value)
{
    void *field = (uint8_t *)obj + offset;

    switch (G_VALUE_TYPE(value)) {
    case G_TYPE_BOOLEAN:
        *(gboolean *)field = g_value_get_boolean(value);
        break;
    case G_TYPE_UINT:
        *(guint *)field = g_value_get_uint(value);
        break;
    case G_TYPE_STRING:
        g_free(*(char **)field);
        *(char **)field = g_value_dup_string(value);
        break;
    default:
        g_assert_not_reached();
    }
}

void net_prop_get(void *obj, size_t offset, GValue *value)
{
    void *field = (uint8_t *)obj + offset;

    switch (G_VALUE_TYPE(value)) {
    case G_TYPE_BOOLEAN:
        g_value_set_boolean(value, *(gboolean *)field);
        break;
    case G_TYPE_UINT:
        g_value_set_uint(value, *(guint *)field);
        break;
    case G_TYPE_STRING:
        g_value_set_string(value, *(char **)field);
        break;
    default:
        g_assert_not_reached();
    }
}

/* --- NetDgramPort -------------------------------------------------------- */

enum {
    DGRAM_BUF_SIZE = 65536,            /* largest datagram read */
    DGRAM_SOCKBUF_SIZE = 4 * 1024 * 1024, /* socket buffers */
};

static void dgram_port_read(NetDgramPort *p)
{
    NetClientStats *st = net_client_get_stats(p->nc);
    unsigned nframes = 0;
    int n = net_rx_batch_recvmmsg(&p->batch, p->fd, NET_BURST);

    if (n < 0) {
        if (n != -ECONNREFUSED) {
            COLO_WARN_RL("%s: receive failed: %s",
                         user_object_get_id(USER_OBJECT(p->nc)),
                         g_strerror(-n));
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        struct mmsghdr *m = &p->batch.msgs[i];

        if (G_UNLIKELY(m->msg_hdr.msg_flags & MSG_TRUNC)) {
            p->drop_truncated++;
            stats_inc(&st->drop_malformed);
            COLO_WARN_RL("%s: datagram larger than %u bytes dropped",
                         user_object_get_id(USER_OBJECT(p->nc)),
                         (unsigned)DGRAM_BUF_SIZE);
            continue;
        }
        if (G_UNLIKELY(m->msg_len == 0)) {
            continue;
        }
        if (p->learn_dest && m->msg_hdr.msg_namelen > 0) {
            memcpy(&p->dest.ss, &p->batch.addr[i], m->msg_hdr.msg_namelen);
            p->dest.len = m->msg_hdr.msg_namelen;
            p->has_dest = TRUE;
        }
        p->batch.frames[nframes] = net_rx_batch_buf(&p->batch, i);
        p->batch.lens[nframes] = m->msg_len;
        nframes++;
    }
    if (nframes) {
        net_client_send_batch(p->nc, p->batch.frames, p->batch.lens, nframes);
    }
    if (!net_client_can_send(p->nc)) {
        net_dgram_port_read_poll(p, FALSE);
    }
}

/* Sends the frames of the output batch with sendmmsg().  A frame the
 * socket refuses for good is dropped and counted; a full socket leaves the
 * rest for G_IO_OUT.  When the batch has room again after receive() said
 * 0, the core's queue is flushed into it. */
static void dgram_port_tx_flush(NetDgramPort *p)
{
    NetClientStats *st = net_client_get_stats(p->nc);

    while (p->txhead < p->txn && p->fd >= 0) {
        unsigned count = p->txn - p->txhead;
        int n;

        for (unsigned i = p->txhead; i < p->txn; i++) {
            struct msghdr *mh = &p->txmsgs[i].msg_hdr;

            mh->msg_name = p->connected ? NULL : &p->dest.ss;
            mh->msg_namelen = p->connected ? 0 : p->dest.len;
        }
        do {
            n = sendmmsg(p->fd, &p->txmsgs[p->txhead], count,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        if (n > 0) {
            p->txhead += n;
            p->tx_batches++;
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
            net_fd_watch_enable(&p->watch, G_IO_OUT, TRUE);
            return;
        }
        /* The first pending frame failed: drop it, go on with the rest. */
        stats_inc(&st->drop_error);
        if (errno != ECONNREFUSED) {
            COLO_WARN_RL("%s: send failed: %s",
                         user_object_get_id(USER_OBJECT(p->nc)),
                         g_strerror(errno));
        }
        p->txhead++;
    }
    if (p->txhead == p->txn) {
        p->txhead = p->txn = 0;
    }
    if (p->tx_blocked && p->txn < NET_BURST) {
        p->tx_blocked = FALSE;
        net_client_flush(p->nc);
    }
}

/* The batch source: ready whenever frames wait, dispatched before the
 * loop sleeps again. */
typedef struct DgramTxSource {
    GSource source;
    NetDgramPort *p;          /* owner */
} DgramTxSource;

static gboolean dgram_tx_prepare(GSource *source, gint *timeout)
{
    NetDgramPort *p = ((DgramTxSource *)source)->p;

    *timeout = -1;
    return p->txhead < p->txn && !(p->watch.events & G_IO_OUT);
}

static gboolean dgram_tx_dispatch(GSource *source, GSourceFunc cb,
                                  gpointer data)
{
    NetDgramPort *p = ((DgramTxSource *)source)->p;
    NetClient *nc = p->nc;

    g_object_ref(nc);
    dgram_port_tx_flush(p);
    g_object_unref(nc);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs dgram_tx_funcs = {
    .prepare = dgram_tx_prepare,
    .dispatch = dgram_tx_dispatch,
};

static void dgram_port_ready(void *opaque, GIOCondition revents)
{
    NetDgramPort *p = opaque;
    NetClient *nc = p->nc;

    /* Stay alive while a frame we pass on leads to our deletion. */
    g_object_ref(nc);
    if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        if (p->watch.events & G_IO_IN) {
            dgram_port_read(p);
        } else if (revents & G_IO_ERR) {
            /* A pending ICMP error while we do not read: clear it so
             * the loop does not spin on it. */
            net_socket_connect_finish(p->fd);
        }
    }
    if ((revents & G_IO_OUT) && p->fd >= 0) {
        net_fd_watch_enable(&p->watch, G_IO_OUT, FALSE);
        dgram_port_tx_flush(p);
    }
    g_object_unref(nc);
}

void net_dgram_port_start(NetDgramPort *p, NetClient *nc, int fd)
{
    int size = DGRAM_SOCKBUF_SIZE;

    /* A datagram socket drops what does not fit: give bursts room
     * (SO_*BUFFORCE as root, else capped by net.core.[rw]mem_max). */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
    p->nc = nc;
    p->fd = fd;
    p->read_enabled = TRUE;
    net_rx_batch_init(&p->batch, DGRAM_BUF_SIZE, 0, 0);
    p->txmem = g_malloc((size_t)NET_BURST * DGRAM_BUF_SIZE);
    p->txhead = p->txn = 0;
    for (unsigned i = 0; i < NET_BURST; i++) {
        p->txiov[i].iov_base = p->txmem + (size_t)i * DGRAM_BUF_SIZE;
        p->txmsgs[i].msg_hdr = (struct msghdr){
            .msg_iov = &p->txiov[i],
            .msg_iovlen = 1,
        };
    }
    p->txsource = g_source_new(&dgram_tx_funcs, sizeof(DgramTxSource));
    ((DgramTxSource *)p->txsource)->p = p;
    g_source_set_static_name(p->txsource, "colo-net-dgram-tx");
    g_source_attach(p->txsource, NULL);
    net_fd_watch_start(&p->watch, fd, G_IO_IN, dgram_port_ready, p,
                       "colo-net-dgram");
}

void net_dgram_port_stop(NetDgramPort *p)
{
    net_fd_watch_stop(&p->watch);
    if (p->txsource) {
        g_source_destroy(p->txsource);
        g_source_unref(p->txsource);
        p->txsource = NULL;
    }
    if (p->fd >= 0) {
        /* Frames still in the batch go out if the socket takes them (and
         * the core is not asked for more: we are going away). */
        p->tx_blocked = FALSE;
        dgram_port_tx_flush(p);
        close(p->fd);
        p->fd = -1;
    }
    p->txhead = p->txn = 0;
    g_clear_pointer(&p->txmem, g_free);
    net_rx_batch_destroy(&p->batch);
}

gssize net_dgram_port_receive(NetDgramPort *p, const uint8_t *buf,
                              size_t len)
{
    NetClientStats *st = net_client_get_stats(p->nc);
    gssize skip = net_fdio_vnet_skip(p->nc, len);
    size_t flen;

    if (G_UNLIKELY(skip < 0 || len - skip > DGRAM_BUF_SIZE)) {
        stats_inc(&st->drop_malformed);
        return -EINVAL;
    }
    if (G_UNLIKELY(p->fd < 0 || (!p->has_dest && !p->connected))) {
        p->drop_no_dest++;
        return -ENOTCONN;
    }
    if (G_UNLIKELY(p->txn == NET_BURST)) {
        dgram_port_tx_flush(p);
        if (p->txn == NET_BURST) {
            p->tx_blocked = TRUE;
            return 0;
        }
    }
    flen = len - skip;
    memcpy(p->txiov[p->txn].iov_base, buf + skip, flen);
    p->txiov[p->txn].iov_len = flen;
    p->txn++;
    if (p->txn == NET_BURST && !(p->watch.events & G_IO_OUT)) {
        dgram_port_tx_flush(p);
    }
    return len;
}

void net_dgram_port_read_poll(NetDgramPort *p, gboolean enable)
{
    p->read_enabled = enable;
    net_fd_watch_enable(&p->watch, G_IO_IN, enable);
}

void net_dgram_port_fill_stats(NetDgramPort *p, void *obj)
{
    json_object_set_int_member(obj, "drop-truncated", p->drop_truncated);
    json_object_set_int_member(obj, "drop-no-dest", p->drop_no_dest);
    json_object_set_int_member(obj, "tx-batches", p->tx_batches);
    json_object_set_int_member(obj, "tx-pending", p->txn - p->txhead);
}

/* --- virtio-net headers -------------------------------------------------- */

int net_fdio_vnet_iov(NetClient *nc, unsigned our_hdr, const uint8_t *buf,
                      size_t len, uint8_t *scratch, struct iovec iov[2])
{
    gssize skip = net_fdio_vnet_skip(nc, len);
    int n = 0;

    if (skip < 0) {
        return -1;
    }
    if ((size_t)skip == our_hdr) {
        iov[0] = (struct iovec){ (void *)buf, len };
        return 1;
    }
    if (our_hdr) {
        size_t common = MIN(MIN((size_t)skip, (size_t)our_hdr),
                            (size_t)NET_VNET_HDR_BASE);

        memset(scratch, 0, our_hdr);
        if (common == NET_VNET_HDR_BASE) {
            /* Both have a virtio_net_hdr: keep the offload information. */
            memcpy(scratch, buf, common);
        }
        iov[n++] = (struct iovec){ scratch, our_hdr };
    }
    iov[n++] = (struct iovec){ (void *)(buf + skip), len - skip };
    return n;
}

gboolean net_fdio_vnet_finish(uint8_t *frame, size_t len, unsigned hdr)
{
    struct virtio_net_hdr vh;
    uint8_t *eth = frame + hdr;
    size_t elen;
    size_t start, at;
    uint16_t c;

    if (hdr < sizeof(vh) || len < hdr) {
        return FALSE;
    }
    memcpy(&vh, frame, sizeof(vh));
    if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        return FALSE;
    }
    if (!(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        return TRUE;
    }
    elen = len - hdr;
    start = vh.csum_start;
    at = start + vh.csum_offset;
    if (start >= elen || at + 2 > elen) {
        return FALSE;
    }
    /* The field holds the pseudo-header sum; sum everything from
     * csum_start on (RFC 1071) and store the complement. */
    c = csum_buf(eth + start, elen - start);
    if (c == 0) {
        c = 0xffff;             /* same value; UDP reserves 0 for "none" */
    }
    packet_store_be16(eth + at, c);
    vh.flags &= ~VIRTIO_NET_HDR_F_NEEDS_CSUM;
    memcpy(frame, &vh, sizeof(vh));
    return TRUE;
}
