/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/tls-link.c - handshakes, authorization and refusals of one TLS link
 * (include/qom/tls-link.h), and the query-tls command (qapi/tls.json).
 *
 * Each pending handshake is an fd on the link's FdSource with a deadline;
 * the source's ready time is the earliest deadline (or now, when a new fd
 * needs its first step or too many are pending).  Every step is one
 * gnutls_handshake() call on a non-blocking fd, so a slow or silent peer
 * costs a poll slot and a timer, never a wait.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "qom/tls-link.h"
#include "qapi-commands.h"
#include "util/error.h"
#include "util/fd-watch.h"
#include "util/log.h"
#include "util/qmp-handler.h"
#include "util/sockaddr.h"
#include "util/socket.h"
#include "util/stats.h"

typedef struct {
    int fd;
    TlsSession *sess;
    gint64 deadline;          /* monotonic us */
    gboolean kick;            /* step once without waiting for an event */
    gpointer tag;             /* on the link's source */
    GIOCondition events;
    char *peer;               /* for messages */
} TlsPending;

struct TlsLink {
    char *name;
    char *user_id;
    TlsCreds *creds;          /* referenced, use-counted */
    Authz *authz;             /* referenced, use-counted, or NULL */
    char *creds_id, *authz_id;
    gboolean server;
    TlsLinkEstablishedFn established;
    TlsLinkRefusedFn refused;
    void *opaque;
    GSource *src;             /* NULL while detached */
    GPtrArray *pending;       /* of TlsPending, oldest first */
    RateLimit log_rl;         /* warnings */
    RateLimit event_rl;       /* TLS_PEER_REFUSED events */
    /* counters, read by query-tls from the main thread */
    uint64_t n_established;
    uint64_t n_refused;
    guint n_pending;          /* atomic copy of pending->len */
};

/* Every link, for query-tls. */
static GMutex links_lock;
static GPtrArray *links;

static void tls_link_update(TlsLink *l);

gboolean tls_addr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

        return IN6_IS_ADDR_LOOPBACK(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return sa->sa_family == AF_UNIX;
}

char *tls_listener_warning(const int *fds, guint n)
{
    for (guint i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        g_autofree char *where = NULL;

        if (fds[i] < 0 ||
            getsockname(fds[i], (struct sockaddr *)&ss, &len) < 0 ||
            tls_addr_is_loopback((struct sockaddr *)&ss)) {
            continue;
        }
        where = sock_fd_describe(fds[i], FALSE);
        return g_strdup_printf("listening on tcp:%s without TLS: any host "
                               "that reaches it can connect (tls-creds=, "
                               "docs/security.md)", where);
    }
    return NULL;
}

char *tls_link_peer_name(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0) {
        return g_strdup("?");
    }
    if (ss.ss_family == AF_UNIX) {
        return g_strdup("unix");
    }
    return sockaddr_describe((struct sockaddr *)&ss, len);
}

static void pending_free(TlsLink *l, TlsPending *p)
{
    if (l->src && p->tag) {
        fd_source_set_fd(l->src, &p->tag, &p->events, -1, 0);
    }
    tls_session_free(p->sess);
    if (p->fd >= 0) {
        close(p->fd);
    }
    g_free(p->peer);
    g_free(p);
}

/* Logs, counts and announces a refusal of 'peer'. */
static void tls_link_note_refusal(TlsLink *l, const char *peer,
                                  const char *reason)
{
    uint64_t suppressed = 0;

    stats_inc(&l->n_refused);
    log_warn_rl_domain(G_LOG_DOMAIN, &l->log_rl, "%s: TLS peer %s "
                        "refused: %s", l->name, peer, reason);
    if (ratelimit_allow(&l->event_rl, &suppressed)) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "link", l->name);
        json_object_set_string_member(o, "peer", peer);
        json_object_set_string_member(o, "reason", reason);
        json_object_set_int_member(o, "suppressed", suppressed);
        qmp_event_emit("TLS_PEER_REFUSED", o);
    }
}

void tls_link_refuse_fd(TlsLink *l, int fd, const char *reason)
{
    g_autofree char *peer = tls_link_peer_name(fd);

    close(fd);
    tls_link_note_refusal(l, peer, reason);
}

/* Removes p (index i) and refuses it; calls 'refused' (last). */
static void tls_link_fail(TlsLink *l, guint i, const char *reason)
{
    TlsPending *p = g_ptr_array_steal_index(l->pending, i);
    g_autofree char *peer = g_steal_pointer(&p->peer);

    g_atomic_int_set(&l->n_pending, l->pending->len);
    pending_free(l, p);
    tls_link_note_refusal(l, peer, reason);
    if (l->refused) {
        l->refused(l->opaque, reason);
    }
}

/* The handshake of p (index i) is done: verify identity and authz, then
 * hand over.  Calls one callback (last). */
static void tls_link_done(TlsLink *l, guint i)
{
    TlsPending *p = g_ptr_array_index(l->pending, i);
    g_autoptr(GError) err = NULL;
    g_autofree char *id = tls_creds_peer_identity(l->creds, p->sess, &err);
    g_autofree char *reason = NULL;
    TlsSession *sess;
    int fd;

    if (!id) {
        tls_link_fail(l, i, err->message);
        return;
    }
    if (l->authz && !authz_is_allowed(l->authz, id)) {
        reason = g_strdup_printf("identity '%s' not authorized by '%s'",
                                 id, l->authz_id);
        tls_link_fail(l, i, reason);
        return;
    }
    g_ptr_array_steal_index(l->pending, i);
    g_atomic_int_set(&l->n_pending, l->pending->len);
    if (l->src && p->tag) {
        fd_source_set_fd(l->src, &p->tag, &p->events, -1, 0);
    }
    fd = p->fd;
    sess = p->sess;
    g_debug("%s: TLS peer %s established as '%s'", l->name, p->peer, id);
    g_free(p->peer);
    g_free(p);
    stats_inc(&l->n_established);
    l->established(l->opaque, fd, sess, id);
}

/* One handshake step of p (index i).  TRUE if p is still pending (it
 * may have been handed over or refused, with a callback, otherwise). */
static gboolean tls_link_step(TlsLink *l, guint i)
{
    TlsPending *p = g_ptr_array_index(l->pending, i);
    g_autoptr(GError) err = NULL;

    p->kick = FALSE;
    switch (tls_session_handshake(p->sess, &err)) {
    case TLS_HS_AGAIN:
        if (l->src) {
            fd_source_set_fd(l->src, &p->tag, &p->events, p->fd,
                             tls_session_want(p->sess) | G_IO_HUP);
        }
        return TRUE;
    case TLS_HS_DONE:
        tls_link_done(l, i);
        return FALSE;
    case TLS_HS_FAILED:
    default:
        tls_link_fail(l, i, err->message);
        return FALSE;
    }
}

static void tls_link_dispatch(void *opaque, GSource *src)
{
    TlsLink *l = opaque;
    gint64 now = g_get_monotonic_time();

    g_source_set_ready_time(src, -1);
    /* Too many at once: the oldest go first (a silent flood cannot keep
     * the legitimate peer's handshake from running). */
    while (l->pending->len > TLS_LINK_MAX_PENDING) {
        tls_link_fail(l, 0, "too many pending handshakes");
        if (l->src != src) {
            return;
        }
    }
    for (guint i = 0; i < l->pending->len;) {
        TlsPending *p = g_ptr_array_index(l->pending, i);
        GIOCondition rev = p->tag ? fd_source_revents(src, p->tag) : 0;

        if (rev || p->kick) {
            if (!tls_link_step(l, i)) {
                if (l->src != src) {
                    return;
                }
                continue;         /* i now names the next one */
            }
        } else if (now >= p->deadline) {
            tls_link_fail(l, i, "handshake timed out");
            if (l->src != src) {
                return;
            }
            continue;
        }
        i++;
    }
    tls_link_update(l);
}

static const FdSourceOps tls_link_source_ops = {
    .dispatch = tls_link_dispatch,
};

/* Re-arms the timer: now if work waits, else the earliest deadline. */
static void tls_link_update(TlsLink *l)
{
    gint64 t = -1;

    if (!l->src) {
        return;
    }
    if (l->pending->len > TLS_LINK_MAX_PENDING) {
        t = 0;
    }
    for (guint i = 0; i < l->pending->len && t != 0; i++) {
        TlsPending *p = g_ptr_array_index(l->pending, i);

        if (p->kick) {
            t = 0;
        } else if (t < 0 || p->deadline < t) {
            t = p->deadline;
        }
    }
    g_source_set_ready_time(l->src, t);
}

void tls_link_add(TlsLink *l, int fd)
{
    g_autoptr(GError) err = NULL;
    TlsPending *p = g_new0(TlsPending, 1);

    p->fd = fd;
    p->peer = tls_link_peer_name(fd);
    p->sess = tls_creds_new_session(l->creds, fd, &err);
    if (!p->sess) {
        /* Out of memory or the like: refused at the next dispatch. */
        g_warning("%s: %s", l->name, err->message);
        p->deadline = 0;
    } else {
        p->deadline = g_get_monotonic_time() +
                      TLS_LINK_HANDSHAKE_TIMEOUT_MS * 1000;
        p->kick = TRUE;
    }
    g_ptr_array_add(l->pending, p);
    g_atomic_int_set(&l->n_pending, l->pending->len);
    tls_link_update(l);
}

void tls_link_cancel(TlsLink *l)
{
    while (l->pending->len) {
        pending_free(l, g_ptr_array_steal_index(l->pending, 0));
    }
    g_atomic_int_set(&l->n_pending, 0);
    tls_link_update(l);
}

void tls_link_attach(TlsLink *l, GMainContext *ctx)
{
    GSource *src = fd_source_new(&tls_link_source_ops, l, "tls-link");

    l->src = src;
    for (guint i = 0; i < l->pending->len; i++) {
        TlsPending *p = g_ptr_array_index(l->pending, i);

        p->tag = NULL;
        p->events = 0;
        p->kick = TRUE;           /* re-polled after its next step */
    }
    tls_link_update(l);
    g_source_attach(src, ctx);
}

void tls_link_detach(TlsLink *l)
{
    if (!l->src) {
        return;
    }
    fd_source_clear(&l->src);
    for (guint i = 0; i < l->pending->len; i++) {
        TlsPending *p = g_ptr_array_index(l->pending, i);

        p->tag = NULL;
        p->events = 0;
    }
}

guint tls_link_pending(TlsLink *l)
{
    return l->pending->len;
}

uint64_t tls_link_refused(TlsLink *l)
{
    return stats_read(&l->n_refused);
}

uint64_t tls_link_established(TlsLink *l)
{
    return stats_read(&l->n_established);
}

const char *tls_link_creds_id(TlsLink *l)
{
    return l->creds_id;
}

const char *tls_link_authz_id(TlsLink *l)
{
    return l->authz_id;
}

TlsLink *tls_link_new(const char *name, const char *user_id,
                      const char *creds_id, const char *authz_id,
                      gboolean server, TlsLinkEstablishedFn established,
                      TlsLinkRefusedFn refused, void *opaque, GError **errp)
{
    static const RateLimit log_rl = RATE_LIMIT_INIT(5, 5000);
    static const RateLimit event_rl = RATE_LIMIT_INIT(10, 1000);
    TlsCreds *creds = tls_creds_find(creds_id, errp);
    Authz *authz = NULL;
    TlsLink *l;

    if (!creds) {
        return NULL;
    }
    if (tls_creds_is_server(creds) != server) {
        error_setg(errp, "Expecting TLS credentials with a %s endpoint",
                   server ? "server" : "client");
        return NULL;
    }
    if (authz_id) {
        if (!server) {
            error_setg(errp, "tls-authz is for a server only");
            return NULL;
        }
        authz = authz_find(authz_id, errp);
        if (!authz) {
            return NULL;
        }
    }
    l = g_new0(TlsLink, 1);
    l->name = g_strdup(name);
    l->user_id = g_strdup(user_id);
    l->creds = g_object_ref(creds);
    l->creds_id = g_strdup(creds_id);
    user_object_ref_use(USER_OBJECT(creds), user_id);
    if (authz) {
        l->authz = g_object_ref(authz);
        l->authz_id = g_strdup(authz_id);
        user_object_ref_use(USER_OBJECT(authz), user_id);
    }
    l->server = server;
    l->established = established;
    l->refused = refused;
    l->opaque = opaque;
    l->pending = g_ptr_array_new();
    l->log_rl = log_rl;
    l->event_rl = event_rl;
    g_mutex_lock(&links_lock);
    if (!links) {
        links = g_ptr_array_new();
    }
    g_ptr_array_add(links, l);
    g_mutex_unlock(&links_lock);
    return l;
}

void tls_link_free(TlsLink *l)
{
    if (!l) {
        return;
    }
    g_mutex_lock(&links_lock);
    g_ptr_array_remove(links, l);
    g_mutex_unlock(&links_lock);
    tls_link_detach(l);
    tls_link_cancel(l);
    g_ptr_array_unref(l->pending);
    user_object_unref_use(USER_OBJECT(l->creds), l->user_id);
    g_object_unref(l->creds);
    if (l->authz) {
        user_object_unref_use(USER_OBJECT(l->authz), l->user_id);
        g_object_unref(l->authz);
    }
    g_free(l->creds_id);
    g_free(l->authz_id);
    g_free(l->user_id);
    g_free(l->name);
    g_free(l);
}

/* --- query-tls ------------------------------------------------------------- */

gboolean qmp_query_tls(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonArray *arr = json_array_new();

    g_mutex_lock(&links_lock);
    for (guint i = 0; links && i < links->len; i++) {
        TlsLink *l = g_ptr_array_index(links, i);
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "link", l->name);
        json_object_set_string_member(o, "endpoint",
                                      l->server ? "server" : "client");
        json_object_set_string_member(o, "tls-creds", l->creds_id);
        if (l->authz_id) {
            json_object_set_string_member(o, "tls-authz", l->authz_id);
        }
        json_object_set_int_member(o, "established",
                                   stats_read(&l->n_established));
        json_object_set_int_member(o, "refused", stats_read(&l->n_refused));
        json_object_set_int_member(o, "pending",
                                   g_atomic_int_get(&l->n_pending));
        json_array_add_object_element(arr, o);
    }
    g_mutex_unlock(&links_lock);
    *ret = json_node_init_array(json_node_alloc(), arr);
    json_array_unref(arr);
    return TRUE;
}
