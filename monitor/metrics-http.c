/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * monitor/metrics-http.c - the metrics-http object: Prometheus' scrape
 * endpoint (GET /metrics) over a minimal HTTP/1.1 server.
 *
 *   -object metrics-http,id=metrics0,host=127.0.0.1,port=9464
 *
 * Why an object and not an option: it is created, listed (qom-list),
 * deleted and re-created over QMP like everything else, it takes the
 * same host/port spellings as the chardevs, and "-object metrics-http,
 * help" documents it.  docs/devel/decisions.md has the longer argument.
 *
 * The server is deliberately small, because it runs in the main loop next
 * to the monitors and the filter chains, and whoever can reach the port
 * may be hostile:
 *   - one request per connection (Connection: close), no keep-alive, no
 *     chunked input, a request body is never read;
 *   - the request head is read into a fixed buffer of MH_MAX_HEAD bytes;
 *     more without the empty line is 414 (no line end yet: the request
 *     line is too long) or 431 (headers too long), then the connection
 *     closes;
 *   - every connection has a deadline (timeout, default 5 s) from accept
 *     to the last byte sent: a client sending one byte a second
 *     (slowloris) or never reading its answer is cut, and none of that
 *     waits in a system call: every socket is non-blocking and polled
 *     through util/fd-watch;
 *   - at most max-clients connections at once; one more is answered 503
 *     with one non-blocking send (and lingers as below; beyond another
 *     max-clients of those it is closed at once);
 *   - GET and HEAD of /metrics are 200, any other path 404, any other
 *     method 405 (Allow: GET, HEAD), a malformed request line or a
 *     version other than HTTP/1.0 and 1.1 400.
 * After the answer the socket is shut down for writing and read until the
 * client closes (at most one second): closing with unread input would
 * send a reset that can destroy the answer before the client read it.
 *
 * Main context.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "monitor/metrics.h"
#include "qom/object.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/fd-watch.h"
#include "util/log.h"
#include "util/sockaddr.h"
#include "util/socket.h"

#define MH_MAX_HEAD        8192   /* request line and headers */
#define MH_LINGER_MS       1000   /* reading after the answer */
#define MH_DEFAULT_PORT    9464
#define MH_DEFAULT_CLIENTS 16
#define MH_DEFAULT_TIMEOUT 5000

#define TYPE_METRICS_HTTP (metrics_http_get_type())
G_DECLARE_FINAL_TYPE(MetricsHttp, metrics_http, METRICS, HTTP, UserObject)

typedef enum MhState {
    MH_READING,               /* collecting the request head */
    MH_WRITING,               /* sending the answer */
    MH_LINGERING,             /* answer sent, waiting for the client's close */
} MhState;

typedef struct MhConn {
    MetricsHttp *owner;
    int fd;
    FdWatch watch;
    MhState state;
    guint timer;
    size_t in_len;
    GString *out;
    size_t out_off;
    gboolean refusing;         /* a 503 lingering (not in n_conns) */
    char in[MH_MAX_HEAD];
} MhConn;

struct _MetricsHttp {
    UserObject parent_instance;

    char *host;
    guint port;
    guint max_clients;
    guint timeout_ms;

    int listen_fd;
    FdWatch listen_watch;
    GList *conns;              /* of MhConn */
    guint n_conns;             /* served (not refusing) connections */
    guint n_refusing;          /* 503s lingering, at most max_clients */

    /* counters (main context) */
    uint64_t scrapes;          /* 200 answers with a body */
    uint64_t refused;          /* 503: max-clients reached */
    uint64_t timeouts;         /* cut at the deadline */
    uint64_t bad;              /* 400, 404, 405, 414, 431 */
};

G_DEFINE_FINAL_TYPE(MetricsHttp, metrics_http, USER_TYPE_OBJECT)

static void mh_conn_close(MhConn *c)
{
    MetricsHttp *s = c->owner;

    fd_watch_stop(&c->watch);
    if (c->timer) {
        g_source_remove(c->timer);
    }
    close(c->fd);
    if (c->out) {
        g_string_free(c->out, TRUE);
    }
    s->conns = g_list_remove(s->conns, c);
    if (c->refusing) {
        s->n_refusing--;
    } else {
        s->n_conns--;
    }
    g_free(c);
}

static gboolean mh_deadline(gpointer opaque)
{
    MhConn *c = opaque;

    c->timer = 0;
    if (c->state != MH_LINGERING) {
        c->owner->timeouts++;
    }
    mh_conn_close(c);
    return G_SOURCE_REMOVE;
}

static const char *mh_reason(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default:  return "Error";
    }
}

/* The whole answer: status line, headers, and the body unless HEAD. */
static GString *mh_answer(int code, const char *ctype, const char *body,
                          size_t body_len, gboolean head)
{
    GString *o = g_string_sized_new(body_len + 256);

    g_string_append_printf(o, "HTTP/1.1 %d %s\r\n"
                           "Content-Type: %s\r\n"
                           "Content-Length: %zu\r\n"
                           "Connection: close\r\n", code, mh_reason(code),
                           ctype, body_len);
    if (code == 405) {
        g_string_append(o, "Allow: GET, HEAD\r\n");
    }
    g_string_append(o, "\r\n");
    if (!head) {
        g_string_append_len(o, body, body_len);
    }
    return o;
}

static GString *mh_error(int code, const char *why)
{
    g_autofree char *body = g_strdup_printf("%d %s: %s\n", code,
                                            mh_reason(code), why);

    return mh_answer(code, "text/plain; charset=utf-8", body, strlen(body),
                     FALSE);
}

static void mh_conn_ready(void *opaque, GIOCondition rev);

static void mh_send(MhConn *c, GString *answer)
{
    c->out = answer;
    c->out_off = 0;
    c->state = MH_WRITING;
    fd_watch_enable(&c->watch, G_IO_IN, FALSE);
    fd_watch_enable(&c->watch, G_IO_OUT, TRUE);
}

/* A token character of RFC 9110 (methods). */
static gboolean mh_tchar(char ch)
{
    return g_ascii_isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Parses the request line at the start of c->in (ending at 'eol') and
 * answers it. */
static void mh_handle(MhConn *c, const char *eol)
{
    MetricsHttp *s = c->owner;
    const char *p = c->in, *method, *target, *version;
    size_t mlen, tlen, vlen, plen;
    gboolean head;

    method = p;
    while (p < eol && mh_tchar(*p)) {
        p++;
    }
    mlen = p - method;
    if (!mlen || p >= eol || *p != ' ') {
        s->bad++;
        mh_send(c, mh_error(400, "malformed request line"));
        return;
    }
    target = ++p;
    while (p < eol && *p != ' ') {
        if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f) {
            s->bad++;
            mh_send(c, mh_error(400, "malformed request target"));
            return;
        }
        p++;
    }
    tlen = p - target;
    if (!tlen || p >= eol) {
        s->bad++;
        mh_send(c, mh_error(400, "malformed request line"));
        return;
    }
    version = ++p;
    vlen = eol - version;
    if (vlen && version[vlen - 1] == '\r') {
        vlen--;
    }
    if (!(vlen == 8 && (!memcmp(version, "HTTP/1.1", 8)
                        || !memcmp(version, "HTTP/1.0", 8)))) {
        s->bad++;
        mh_send(c, mh_error(400, "only HTTP/1.0 and HTTP/1.1 are served"));
        return;
    }
    head = mlen == 4 && !memcmp(method, "HEAD", 4);
    if (!head && !(mlen == 3 && !memcmp(method, "GET", 3))) {
        s->bad++;
        mh_send(c, mh_error(405, "only GET and HEAD are served"));
        return;
    }
    /* the path, without a query string (Prometheus may add params) */
    for (plen = 0; plen < tlen && target[plen] != '?'; plen++) {
    }
    if (!(plen == 8 && !memcmp(target, "/metrics", 8))) {
        s->bad++;
        mh_send(c, mh_error(404, "the metrics are at /metrics"));
        return;
    }
    {
        g_autoptr(GString) body = metrics_render();

        s->scrapes++;
        g_string_append_printf(body,
            "# HELP colo_proxy_metrics_http_scrapes_total answers with "
            "metrics, this one included\n"
            "# TYPE colo_proxy_metrics_http_scrapes_total counter\n"
            "colo_proxy_metrics_http_scrapes_total{id=\"%s\"} %" G_GUINT64_FORMAT "\n"
            "# HELP colo_proxy_metrics_http_errors_total requests answered "
            "with an error (400, 404, 405, 414, 431)\n"
            "# TYPE colo_proxy_metrics_http_errors_total counter\n"
            "colo_proxy_metrics_http_errors_total{id=\"%s\"} %" G_GUINT64_FORMAT "\n"
            "# HELP colo_proxy_metrics_http_refused_total connections "
            "answered 503 because max-clients were open\n"
            "# TYPE colo_proxy_metrics_http_refused_total counter\n"
            "colo_proxy_metrics_http_refused_total{id=\"%s\"} %" G_GUINT64_FORMAT "\n"
            "# HELP colo_proxy_metrics_http_timeouts_total connections cut "
            "at their deadline\n"
            "# TYPE colo_proxy_metrics_http_timeouts_total counter\n"
            "colo_proxy_metrics_http_timeouts_total{id=\"%s\"} %" G_GUINT64_FORMAT "\n",
            user_object_get_id(USER_OBJECT(s)), s->scrapes,
            user_object_get_id(USER_OBJECT(s)), s->bad,
            user_object_get_id(USER_OBJECT(s)), s->refused,
            user_object_get_id(USER_OBJECT(s)), s->timeouts);
        mh_send(c, mh_answer(200, "text/plain; version=0.0.4; charset=utf-8",
                             body->str, body->len, head));
    }
}

static void mh_read(MhConn *c)
{
    char *end, *eol;
    ssize_t n;

    if (c->state == MH_LINGERING) {
        char junk[4096];

        n = recv(c->fd, junk, sizeof(junk), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            mh_conn_close(c);
        }
        return;
    }
    n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        mh_conn_close(c);       /* gone before asking anything */
        return;
    }
    if (n < 0) {
        return;
    }
    c->in_len += n;
    /* the head ends at an empty line (CRLF CRLF, or bare LFs) */
    end = g_strstr_len(c->in, c->in_len, "\r\n\r\n");
    if (!end) {
        end = g_strstr_len(c->in, c->in_len, "\n\n");
    }
    eol = memchr(c->in, '\n', c->in_len);
    if (end && eol) {
        mh_handle(c, eol);
    } else if (c->in_len == sizeof(c->in)) {
        c->owner->bad++;
        mh_send(c, eol ? mh_error(431, "request head over 8192 bytes")
                       : mh_error(414, "request line over 8192 bytes"));
    } else if (memchr(c->in, '\0', c->in_len)) {
        c->owner->bad++;
        mh_send(c, mh_error(400, "NUL byte in the request"));
    }
}

static void mh_write(MhConn *c)
{
    ssize_t n = send(c->fd, c->out->str + c->out_off,
                     c->out->len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            mh_conn_close(c);
        }
        return;
    }
    c->out_off += n;
    if (c->out_off < c->out->len) {
        return;
    }
    /* all sent: half-close and drain what the client still sends */
    shutdown(c->fd, SHUT_WR);
    c->state = MH_LINGERING;
    fd_watch_enable(&c->watch, G_IO_OUT, FALSE);
    fd_watch_enable(&c->watch, G_IO_IN, TRUE);
    if (c->timer) {
        g_source_remove(c->timer);
    }
    c->timer = g_timeout_add(MH_LINGER_MS, mh_deadline, c);
}

static void mh_conn_ready(void *opaque, GIOCondition rev)
{
    MhConn *c = opaque;

    if (c->state == MH_WRITING) {
        if (rev & (G_IO_OUT | G_IO_ERR | G_IO_HUP)) {
            mh_write(c);
        }
        return;
    }
    if (rev & (G_IO_IN | G_IO_HUP | G_IO_ERR)) {
        mh_read(c);
    }
}

static MhConn *mh_conn_new(MetricsHttp *s, int fd, MhState state,
                           guint deadline_ms)
{
    MhConn *c = g_new0(MhConn, 1);

    c->owner = s;
    c->fd = fd;
    c->state = state;
    s->conns = g_list_prepend(s->conns, c);
    if (state != MH_LINGERING) {
        s->n_conns++;
    }
    c->timer = g_timeout_add(deadline_ms, mh_deadline, c);
    fd_watch_start(&c->watch, fd, G_IO_IN, mh_conn_ready, c,
                   "metrics-http-conn");
    return c;
}

static void mh_accept(void *opaque, GIOCondition rev)
{
    MetricsHttp *s = opaque;

    /* a bounded batch: a flood of connects cannot hold the main loop */
    for (int i = 0; i < 32; i++) {
        int fd = accept4(s->listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        MhConn *c;

        if (fd < 0) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                LOG_WARN_RL("metrics-http '%s': accept: %s",
                                 user_object_get_id(USER_OBJECT(s)),
                                 g_strerror(errno));
            }
            return;
        }
        if (s->n_conns >= s->max_clients) {
            static const char busy[] =
                "HTTP/1.1 503 Service Unavailable\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Length: 30\r\nConnection: close\r\n\r\n"
                "503 too many connections open\n";
            G_STATIC_ASSERT(sizeof("503 too many connections open\n") - 1
                            == 30);

            s->refused++;
            (void) !send(fd, busy, sizeof(busy) - 1,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
            if (s->n_refusing >= s->max_clients) {
                close(fd);      /* a flood: no more lingering either */
                continue;
            }
            /* linger like an answered one, or its unread request would
             * turn the close into a reset that destroys the 503 */
            shutdown(fd, SHUT_WR);
            c = mh_conn_new(s, fd, MH_LINGERING, MH_LINGER_MS);
            c->refusing = TRUE;
            s->n_refusing++;
            continue;
        }
        mh_conn_new(s, fd, MH_READING, s->timeout_ms);
    }
}

static gboolean metrics_http_complete(UserObject *obj, GError **errp)
{
    MetricsHttp *s = METRICS_HTTP(obj);
    g_autofree char *port = g_strdup_printf("%u", s->port);
    SockAddr a;

    if (!sockaddr_inet(&a, s->host, port, TRUE, "metrics-http", errp)) {
        return FALSE;
    }
    /* a backlog of its own: sock_listen()'s is sized for a chardev's one
     * peer, and a connection beyond the backlog is left half-open by the
     * kernel until a SYN-ACK retransmit a second later */
    s->listen_fd = sock_listen_backlog(&a, 64, errp);
    if (s->listen_fd < 0) {
        return FALSE;
    }
    fd_watch_start(&s->listen_watch, s->listen_fd, G_IO_IN, mh_accept, s,
                   "metrics-http-listen");
    {
        char buf[SOCKADDR_STR_MAX];

        g_info("metrics-http '%s': serving /metrics on http://%s/metrics",
                      user_object_get_id(obj),
                      sockaddr_str(&a, buf, sizeof(buf)));
    }
    return TRUE;
}

static void metrics_http_stop(MetricsHttp *s)
{
    while (s->conns) {
        mh_conn_close(s->conns->data);
    }
    fd_watch_stop(&s->listen_watch);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        s->listen_fd = -1;
    }
}

static void metrics_http_unparent(UserObject *obj)
{
    metrics_http_stop(METRICS_HTTP(obj));
}

static void metrics_http_finalize(GObject *o)
{
    metrics_http_stop(METRICS_HTTP(o));
    G_OBJECT_CLASS(metrics_http_parent_class)->finalize(o);
}

static void metrics_http_init(MetricsHttp *s)
{
    s->listen_fd = -1;
}

static const PropDef metrics_http_props[] = {
    DEFINE_PROP_STR("host", MetricsHttp, host, "127.0.0.1", 0,
        "address to listen on (\"\" or \"::\" for all; the metrics are not "
        "secret but the port is unauthenticated)"),
    DEFINE_PROP_UINT("port", MetricsHttp, port, 1, 65535, MH_DEFAULT_PORT, 0,
        "TCP port to listen on"),
    DEFINE_PROP_UINT("max-clients", MetricsHttp, max_clients, 1, 1024,
        MH_DEFAULT_CLIENTS, 0,
        "connections served at once; more are answered 503"),
    DEFINE_PROP_UINT("timeout", MetricsHttp, timeout_ms, 100, 600 * 1000,
        MH_DEFAULT_TIMEOUT, 0,
        "milliseconds a connection may take from accept to the last byte "
        "of the answer (slow clients are cut)"),
};

static void metrics_http_class_init(MetricsHttpClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);

    oc->finalize = metrics_http_finalize;
    uc->description = "Prometheus metrics of every query-* command over "
                      "HTTP (GET /metrics; docs/observability.md)";
    uc->complete = metrics_http_complete;
    uc->unparent = metrics_http_unparent;
    object_class_install_props(oc, metrics_http_props);
}

static void metrics_http_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "metrics-http",
                         TYPE_METRICS_HTTP);
}
type_init(metrics_http_register)
