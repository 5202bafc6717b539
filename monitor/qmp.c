/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * monitor/qmp.c - QMP monitors: sockets, sessions, framing, events.
 *
 * monitor_qmp_open() turns a -qmp argument into a monitor:
 *
 *   spec    = "stdio"
 *           | "unix:" PATH [ "," opts ]
 *           | "tcp:" [ HOST ] ":" PORT [ "," opts ]     (HOST may be [v6])
 *   opts    = keyval (util/keyval.h): server[=on|off], wait[=on|off],
 *             nowait, nodelay[=on|off], ipv4, ipv6 (the last three are
 *             accepted and have no effect: TCP_NODELAY is always set),
 *             tls-creds=ID, tls-authz=ID (tcp: QEMU's chardev options),
 *             insecure=on (see "Access" below)
 *
 * Access (docs/security.md): whoever reaches the monitor controls the
 * proxy (quit, object-del, x-colo-lost-heartbeat).  A unix socket is
 * created 0600 (only its owner connects).  A tcp listener on an address
 * other hosts reach is refused unless it has tls-creds= (then each
 * client completes a TLS handshake, checked against tls-authz=, before
 * it gets the greeting) or insecure=on, which logs a warning.
 *
 * As in QEMU, server=on without wait=off blocks monitor_qmp_open() until
 * the first client connects, and without server=on the monitor connects
 * as a client.  Unlike QEMU, whose monitor chardev serves one client at a
 * time, a listening monitor serves up to QMP_MAX_CLIENTS connections at
 * once, each with its own negotiation state; several monitors may be open.
 *
 * Per connection: the greeting, then requests cut out of the byte stream
 * by the splitter below (several per read, or one across reads), each
 * dispatched by qmp-dispatch.c and answered in order with one line
 * ("\r\n"-terminated, as QEMU).  A request larger than QMP_MAX_REQUEST
 * bytes or malformed JSON gets a GenericError reply and the connection
 * stays usable.  Output is buffered and written without blocking; above
 * QMP_OUTPUT_PAUSE queued bytes the connection's requests are left unread
 * until the client catches up, and a client that lets more than
 * QMP_MAX_OUTPUT bytes pile up (events keep coming) is disconnected with a
 * warning.
 *
 * Events: qmp_event_emit() (util/) may be called from any thread and
 * calls monitor_event_emit(), the sink registered below.  It stamps the
 * event, then hands it to the main context (an idle source, unless called
 * from the thread running the main loop), where it is written to every
 * negotiated connection of every monitor.
 *
 * Every limit is counted when it is hit; query-qmp-stats (at the end of
 * this file) reports the counters.
 *
 * Threads: everything but qmp_event_emit()'s first half runs in the main
 * context.  A connection is reference-counted so that one closed while its
 * own request is running (write error, quit) is freed only afterwards.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <glib-unix.h>

#include "qapi-commands.h"
#include "monitor/qmp-internal.h"
#include "util/qmp-json.h"
#include "util/error.h"
#include "util/keyval.h"
#include "util/log.h"
#include "util/outbuf.h"
#include "util/fd-watch.h"
#include "util/sockaddr.h"
#include "util/socket.h"
#include "qom/tls-link.h"

#define QMP_READ_SIZE 16384
#define QMP_MAX_LISTEN 8            /* addresses of one listening monitor */
#define QMP_LISTEN_BACKLOG 10       /* connections waiting to be accepted */
#define QMP_CONNECT_TIMEOUT_MS 15000 /* a client monitor's connect */

typedef struct QmpMonitor QmpMonitor;

typedef struct QmpClient {
    int refcnt;                /* the monitor's list + running requests */
    QmpMonitor *mon;           /* owner; NULL once removed from it */
    int in_fd;                 /* read side */
    int out_fd;                /* write side (== in_fd for sockets) */
    gboolean owns_fds;         /* close the fds at the end (not stdio) */
    gboolean closed;           /* no more I/O */
    gboolean eof;              /* peer stopped sending: close once drained */
    FdWatch in_watch;          /* in_fd: G_IO_IN unless paused */
    FdWatch out_watch;         /* out_fd: G_IO_OUT while output waits */
    QmpSession session;        /* negotiation state */
    QmpSplitter split;         /* request framing */
    GByteArray *in;            /* bytes read and not yet split */
    OutBuf out;                /* bytes queued for the client
                                * (util/outbuf.h, at most QMP_MAX_OUTPUT) */
    TlsSession *tls;           /* tls-creds=: the record layer, or NULL
                                * ('out' writes through it too) */
} QmpClient;

/* One listening socket of a monitor. */
typedef struct QmpListener {
    QmpMonitor *mon;
    int fd;
    FdWatch watch;             /* G_IO_IN: a client to accept */
} QmpListener;

struct QmpMonitor {
    char *spec;                /* the -qmp argument, for messages */
    QmpListener listeners[QMP_MAX_LISTEN];
    guint n_listen;
    char *unix_path;           /* unlinked when closed */
    GList *clients;            /* QmpClient (each holds a reference) */
    guint n_clients;           /* length of 'clients' */
    TlsLink *tls;              /* tls-creds=: handshakes come first */
};

/* The access options of a -qmp spec (see "Access" above). */
typedef struct {
    char *tls_creds;
    char *tls_authz;
    gboolean insecure;
} QmpAccessOpts;

static GList *qmp_monitors;

/* Counters for query-qmp-stats (main context only). */
static struct {
    uint64_t connections;      /* accepted or made */
    uint64_t refused;          /* over QMP_MAX_CLIENTS */
    uint64_t requests;         /* texts (and framing errors) handled */
    uint64_t errors;           /* error replies */
    uint64_t parse_errors;     /* not JSON */
    uint64_t oversized;        /* over QMP_MAX_REQUEST */
    uint64_t too_deep;         /* over QMP_MAX_NESTING */
    uint64_t slow_disconnects; /* over QMP_MAX_OUTPUT */
    uint64_t read_pauses;      /* over QMP_OUTPUT_PAUSE */
    uint64_t events;           /* events delivered */
    uint64_t bytes_in;
    uint64_t bytes_out;
} qmp_stats;

static void qmp_client_close(QmpClient *c);
static void qmp_client_process(QmpClient *c);
static void qmp_client_on_out(void *op, GIOCondition revents);

/* ------------------------------------------------------------------------
 * The splitter (see qmp-internal.h)
 */

void qmp_splitter_init(QmpSplitter *s, gsize max)
{
    memset(s, 0, sizeof(*s));
    s->buf = g_string_new(NULL);
    s->max = max;
}

void qmp_splitter_destroy(QmpSplitter *s)
{
    if (s->buf) {
        g_string_free(s->buf, TRUE);
        s->buf = NULL;
    }
}

static void qmp_splitter_reset(QmpSplitter *s)
{
    g_string_truncate(s->buf, 0);
    s->depth = 0;
    s->in_string = FALSE;
    s->escape = FALSE;
    s->scalar = FALSE;
    s->skipping = FALSE;
}

/* Reports the collected value and resets for the next one. */
static gboolean qmp_splitter_emit(QmpSplitter *s, QmpSplitFn fn, void *op)
{
    gboolean more = fn(op, s->buf->str, s->buf->len, NULL);

    qmp_splitter_reset(s);
    return more;
}

/* Reports an error; the value being collected (if any) is dropped unless
 * 'skip' asks to keep tracking it so that its end can be found. */
static gboolean qmp_splitter_fail(QmpSplitter *s, const char *msg,
                                  gboolean skip, QmpSplitFn fn, void *op)
{
    guint depth = s->depth;
    gboolean in_string = s->in_string, escape = s->escape;
    gboolean scalar = s->scalar;

    qmp_splitter_reset(s);
    if (skip) {
        s->skipping = TRUE;
        s->depth = depth;
        s->in_string = in_string;
        s->escape = escape;
        s->scalar = scalar;
    }
    return fn(op, NULL, 0, msg);
}

static gboolean qmp_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Ends the value being collected: reports it, or just forgets it when it
 * was being skipped.  Returns what 'fn' returned. */
static gboolean qmp_splitter_end(QmpSplitter *s, QmpSplitFn fn, void *op)
{
    if (s->skipping) {
        qmp_splitter_reset(s);
        return TRUE;
    }
    return qmp_splitter_emit(s, fn, op);
}

/* Updates the string / bracket state for byte 'c' (already counted). */
static gboolean qmp_splitter_track(QmpSplitter *s, char c, QmpSplitFn fn,
                                   void *op)
{
    if (s->in_string) {
        if (s->escape) {
            s->escape = FALSE;
        } else if (c == '\\') {
            s->escape = TRUE;
        } else if (c == '"') {
            s->in_string = FALSE;
            if (s->depth == 0) {
                return qmp_splitter_end(s, fn, op);
            }
        }
        return TRUE;
    }
    if (s->scalar) {
        return TRUE;
    }
    switch (c) {
    case '"':
        s->in_string = TRUE;
        return TRUE;
    case '{':
    case '[':
        if (!s->skipping && s->depth == QMP_MAX_NESTING) {
            s->depth++;
            return qmp_splitter_fail(s, "JSON nesting depth limit exceeded",
                                     TRUE, fn, op);
        }
        if (!s->skipping) {
            s->stack[s->depth] = c;
        }
        s->depth++;
        return TRUE;
    case '}':
    case ']':
        if (!s->skipping &&
            s->stack[s->depth - 1] != (c == '}' ? '{' : '[')) {
            return qmp_splitter_fail(s, c == '}'
                                     ? "JSON parse error, unexpected '}'"
                                     : "JSON parse error, unexpected ']'",
                                     FALSE, fn, op);
        }
        s->depth--;
        return s->depth == 0 ? qmp_splitter_end(s, fn, op) : TRUE;
    default:
        if (s->depth == 0) {
            s->scalar = TRUE;      /* a bare top-level token starts */
        }
        return TRUE;
    }
}

gsize qmp_splitter_feed(QmpSplitter *s, const char *data, gsize len,
                        QmpSplitFn fn, void *opaque)
{
    gsize i = 0;

    while (i < len) {
        char c = data[i];
        gboolean more = TRUE;

        if (s->scalar && (qmp_is_space(c) || (c == '\0' || strchr("{}[]\",", c)))) {
            /* A bare token ends before 'c', which is not consumed. */
            if (!qmp_splitter_end(s, fn, opaque)) {
                return i;
            }
            continue;
        }
        i++;
        if (!s->skipping) {
            if (s->depth == 0 && !s->in_string && !s->scalar) {
                if (qmp_is_space(c)) {
                    continue;
                }
                if (c == '}' || c == ']') {
                    if (!qmp_splitter_fail(s, c == '}'
                                           ? "JSON parse error, stray '}'"
                                           : "JSON parse error, stray ']'",
                                           FALSE, fn, opaque)) {
                        return i;
                    }
                    continue;
                }
            }
            g_string_append_c(s->buf, c);
            if (s->buf->len > s->max) {
                /* Keeps the bracket state: the rest is skipped. */
                more = qmp_splitter_fail(s, "JSON request too large", TRUE,
                                         fn, opaque);
            }
        }
        if (!qmp_splitter_track(s, c, fn, opaque)) {
            more = FALSE;
        }
        if (!more) {
            return i;
        }
    }
    return i;
}

/* ------------------------------------------------------------------------
 * Connections
 */

static QmpClient *qmp_client_ref(QmpClient *c)
{
    c->refcnt++;
    return c;
}

static void qmp_client_unref(QmpClient *c)
{
    if (--c->refcnt > 0) {
        return;
    }
    g_assert(c->closed);
    qmp_splitter_destroy(&c->split);
    g_byte_array_unref(c->in);
    outbuf_destroy(&c->out);
    g_free(c);
}

/* Writes as much queued output as the fd takes.  Returns FALSE if the
 * connection failed (and was closed). */
static gboolean qmp_client_flush(QmpClient *c)
{
    size_t sent;
    int r = outbuf_flush(&c->out, c->out_fd, &sent);

    qmp_stats.bytes_out += sent;
    if (r < 0) {
        g_debug("QMP client on %s: write failed: %s",
                c->mon ? c->mon->spec : "?", g_strerror(-r));
        qmp_client_close(c);
        return FALSE;
    }
    fd_watch_enable(&c->out_watch, G_IO_OUT, outbuf_waiting(&c->out) > 0);
    return TRUE;
}

/* Queues one message line.  Returns FALSE if the client was dropped. */
static gboolean qmp_client_send_text(QmpClient *c, const char *text)
{
    if (c->closed) {
        return FALSE;
    }
    if (strlen(text) + 2 > outbuf_room(&c->out)) {
        LOG_WARN_RL("QMP client on %s does not read its replies and "
                     "events (%u bytes queued): disconnecting it",
                     c->mon ? c->mon->spec : "?",
                     (unsigned)outbuf_len(&c->out));
        qmp_stats.slow_disconnects++;
        qmp_client_close(c);
        return FALSE;
    }
    {
        const struct iovec line[2] = {
            { .iov_base = (void *)text, .iov_len = strlen(text) },
            { .iov_base = (void *)"\r\n", .iov_len = 2 },
        };

        outbuf_append(&c->out, line, 2, 0);
    }
    return qmp_client_flush(c);
}

static gboolean qmp_client_send(QmpClient *c, JsonObject *msg)
{
    g_autofree char *text = qmp_to_text(msg);

    return qmp_client_send_text(c, text);
}

/* Requests are being read (not paused, not at EOF, not closed). */
static gboolean qmp_client_reading(QmpClient *c)
{
    return (c->in_watch.events & G_IO_IN) != 0;
}

static void qmp_client_on_in(void *op, GIOCondition revents)
{
    QmpClient *c = op;
    char buf[QMP_READ_SIZE];
    /* TLS seam (b), reading: the buffer holds a whole record, so nothing
     * is left decrypted inside the session for poll() to miss. */
    gssize r = c->tls ? tls_session_recv(c->tls, buf, sizeof(buf))
                      : sock_recv(c->in_fd, buf, sizeof(buf));

    if (r == -EAGAIN) {
        return;
    }
    if (r <= 0) {
        g_debug("QMP client on %s: %s", c->mon ? c->mon->spec : "?",
                r == 0 ? "closed" : g_strerror(-r));
        fd_watch_enable(&c->in_watch, G_IO_IN, FALSE);
        if (r == 0 && outbuf_len(&c->out) > 0) {
            /* Half-closed: the replies still queued go out first. */
            c->eof = TRUE;
        } else {
            qmp_client_close(c);
        }
        return;
    }
    g_byte_array_append(c->in, (const guint8 *)buf, r);
    qmp_stats.bytes_in += r;
    qmp_client_ref(c);
    qmp_client_process(c);
    qmp_client_unref(c);
}

static void qmp_client_on_out(void *op, GIOCondition revents)
{
    QmpClient *c = op;

    qmp_client_ref(c);
    qmp_client_flush(c);
    if (!c->closed && c->eof && outbuf_len(&c->out) == 0) {
        qmp_client_close(c);
    }
    if (!c->closed && !c->eof && !qmp_client_reading(c) &&
        outbuf_len(&c->out) < QMP_OUTPUT_PAUSE) {
        /* Caught up: go on with the requests left unread. */
        qmp_client_process(c);
    }
    qmp_client_unref(c);
}

static void qmp_count_error(JsonObject *reply)
{
    JsonObject *err;
    const char *desc;

    if (!json_object_has_member(reply, "error")) {
        return;
    }
    qmp_stats.errors++;
    /* our own reply, but through the one typed accessor all the same */
    err = NULL;
    qmp_json_object(reply, "error", TRUE, &err, NULL);
    desc = qmp_json_str_or(err, "desc", "");
    if (g_str_has_prefix(desc, "JSON parse error")) {
        qmp_stats.parse_errors++;
    } else if (strcmp(desc, "JSON request too large") == 0) {
        qmp_stats.oversized++;
    } else if (strcmp(desc, "JSON nesting depth limit exceeded") == 0) {
        qmp_stats.too_deep++;
    }
}

/* Splitter callback: answers one request or reports one framing error. */
static gboolean qmp_client_on_text(void *op, const char *text, gsize len,
                                   const char *error)
{
    QmpClient *c = op;
    g_autoptr(JsonObject) reply = NULL;

    qmp_stats.requests++;
    if (error) {
        LOG_WARN_RL("QMP client on %s: %s", c->mon ? c->mon->spec : "?",
                     error);
        reply = qmp_error_reply("GenericError", error);
    } else {
        reply = qmp_handle_text(&c->session, text, len);
    }
    qmp_count_error(reply);
    if (!qmp_client_send(c, reply)) {
        return FALSE;
    }
    return outbuf_len(&c->out) < QMP_OUTPUT_PAUSE;
}

/* Runs the complete requests in c->in while the client keeps up; pauses
 * reading when it does not. */
static void qmp_client_process(QmpClient *c)
{
    gsize used;

    while (!c->closed && c->in->len > 0 &&
           outbuf_len(&c->out) < QMP_OUTPUT_PAUSE) {
        used = qmp_splitter_feed(&c->split, (const char *)c->in->data,
                                 c->in->len, qmp_client_on_text, c);
        if (c->closed) {
            return;
        }
        g_byte_array_remove_range(c->in, 0, used);
    }
    if (c->closed) {
        return;
    }
    if (c->in->len > 0 && qmp_client_reading(c)) {
        fd_watch_enable(&c->in_watch, G_IO_IN, FALSE);
        qmp_stats.read_pauses++;
    } else if (c->in->len == 0 && !qmp_client_reading(c) && !c->eof) {
        fd_watch_enable(&c->in_watch, G_IO_IN, TRUE);
    }
}

/* Stops all I/O of 'c' and drops the monitor's reference. */
static void qmp_client_close(QmpClient *c)
{
    QmpMonitor *mon = c->mon;

    if (c->closed) {
        return;
    }
    c->closed = TRUE;
    fd_watch_stop(&c->in_watch);
    fd_watch_stop(&c->out_watch);
    outbuf_set_tls(&c->out, NULL);
    g_clear_pointer(&c->tls, tls_session_free);
    if (c->owns_fds) {
        close(c->in_fd);
        if (c->out_fd != c->in_fd) {
            close(c->out_fd);
        }
    }
    if (mon) {
        mon->clients = g_list_remove(mon->clients, c);
        mon->n_clients--;
        c->mon = NULL;
        qmp_client_unref(c);
    }
}

/* Adds a connection on 'in_fd'/'out_fd' (taken when 'owns_fds') to 'mon'
 * and greets it. */
static void qmp_client_new(QmpMonitor *mon, int in_fd, int out_fd,
                           gboolean owns_fds, TlsSession *tls)
{
    QmpClient *c = g_new0(QmpClient, 1);
    g_autoptr(JsonObject) greeting = json_object_new();
    JsonObject *qmp = json_object_new();
    JsonArray *caps = json_array_new();

    c->refcnt = 1;
    c->mon = mon;
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->owns_fds = owns_fds;
    c->tls = tls;
    c->in = g_byte_array_new();
    outbuf_init(&c->out, QMP_READ_SIZE, QMP_MAX_OUTPUT);
    /* TLS seam (b), writing: one record per call (not batched) */
    outbuf_set_tls(&c->out, tls);
    qmp_splitter_init(&c->split, QMP_MAX_REQUEST);
    g_unix_set_fd_nonblocking(in_fd, TRUE, NULL);
    g_unix_set_fd_nonblocking(out_fd, TRUE, NULL);
    mon->clients = g_list_append(mon->clients, c);
    mon->n_clients++;
    qmp_stats.connections++;
    /* util/fd-watch.h, as every fd of the proxy; interest comes below */
    fd_watch_start(&c->in_watch, in_fd, 0, qmp_client_on_in, c, "qmp-in");
    fd_watch_start(&c->out_watch, out_fd, 0, qmp_client_on_out, c,
                   "qmp-out");

    json_object_set_member(qmp, "version", qmp_version_info());
    json_array_add_string_element(caps, "oob");
    json_object_set_array_member(qmp, "capabilities", caps);
    json_object_set_object_member(greeting, "QMP", qmp);
    if (!qmp_client_send(c, greeting)) {
        return;
    }
    fd_watch_enable(&c->in_watch, G_IO_IN, TRUE);
}

/* ------------------------------------------------------------------------
 * Monitors
 */

/* Takes a connected socket 'fd' for 'mon' (the one place a monitor
 * connection is established: accepted, waited for, or connected). */
static void qmp_monitor_add_socket(QmpMonitor *mon, int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int on = 1;

    if (mon->n_clients >= QMP_MAX_CLIENTS) {
        qmp_stats.refused++;
        LOG_WARN_RL("QMP monitor %s: already %u clients, refusing another",
                     mon->spec, mon->n_clients);
        close(fd);
        return;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
        (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    if (mon->tls) {
        /* TLS seam (a): no greeting before the handshake and tls-authz;
         * qmp_tls_established() makes the client. */
        tls_link_add(mon->tls, fd);
        return;
    }
    qmp_client_new(mon, fd, fd, TRUE, NULL);
}

static void qmp_tls_established(void *opaque, int fd, TlsSession *sess,
                                const char *identity)
{
    QmpMonitor *mon = opaque;

    g_debug("QMP monitor %s: TLS client '%s'", mon->spec, identity);
    qmp_client_new(mon, fd, fd, TRUE, sess);
}

static void qmp_monitor_on_accept(void *opaque, GIOCondition revents)
{
    QmpListener *l = opaque;
    int fd = sock_accept(l->fd);

    if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
            errno != ECONNABORTED) {
            LOG_WARN_RL("QMP monitor %s: accept: %s", l->mon->spec,
                         g_strerror(errno));
        }
        return;
    }
    qmp_monitor_add_socket(l->mon, fd);
}

static void qmp_monitor_free(QmpMonitor *mon)
{
    while (mon->clients) {
        QmpClient *c = mon->clients->data;

        /* Last words: best effort, without blocking. */
        if (!c->closed && outbuf_len(&c->out) > 0) {
            qmp_client_flush(c);
        }
        qmp_client_close(c);
    }
    for (guint i = 0; i < mon->n_listen; i++) {
        fd_watch_stop(&mon->listeners[i].watch);
        close(mon->listeners[i].fd);
    }
    mon->n_listen = 0;
    if (mon->unix_path) {
        unlink(mon->unix_path);
        g_free(mon->unix_path);
    }
    tls_link_free(mon->tls);
    g_free(mon->spec);
    g_free(mon);
}

/* Options of unix: and tcp: specs.  Returns FALSE with errp set on an
 * unknown key or a bad boolean. */
static gboolean qmp_parse_opts(GHashTable *opts, const char *addr_key,
                               gboolean *server, gboolean *wait,
                               QmpAccessOpts *acc, GError **errp)
{
    GHashTableIter it;
    gpointer k, v;

    *server = FALSE;
    *wait = TRUE;
    g_hash_table_iter_init(&it, opts);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        gboolean b;

        if (strcmp(k, addr_key) == 0) {
            continue;
        }
        if (strcmp(k, "tls-creds") == 0 || strcmp(k, "tls-authz") == 0) {
            char **slot = strcmp(k, "tls-creds") == 0 ? &acc->tls_creds
                                                      : &acc->tls_authz;

            g_free(*slot);
            *slot = g_strdup(v);
            continue;
        }
        if (strcmp(k, "insecure") == 0) {
            if (!keyval_parse_bool(k, v, &acc->insecure, errp)) {
                return FALSE;
            }
            continue;
        }
        if (strcmp(k, "server") == 0 || strcmp(k, "wait") == 0 ||
            strcmp(k, "nodelay") == 0 || strcmp(k, "ipv4") == 0 ||
            strcmp(k, "ipv6") == 0) {
            if (!keyval_parse_bool(k, v, &b, errp)) {
                return FALSE;
            }
            if (strcmp(k, "server") == 0) {
                *server = b;
            } else if (strcmp(k, "wait") == 0) {
                *wait = b;
            }
            continue;
        }
        error_setg(errp, "Invalid parameter '%s'", (const char *)k);
        return FALSE;
    }
    return TRUE;
}

/* Parses "unix:..." / "tcp:..." into 'addr' (a unix path, or a host,
 * maybe empty, and a checked port) and the access options into 'acc'. */
static gboolean qmp_parse(const char *spec, gboolean *server,
                          gboolean *wait, SockSpec *addr,
                          QmpAccessOpts *acc, GError **errp)
{
    g_autoptr(GHashTable) opts = NULL;

    if (g_str_has_prefix(spec, "unix:")) {
        const char *path;
        SockAddr check;

        opts = keyval_parse(spec + 5, "path", errp);
        if (!opts || !qmp_parse_opts(opts, "path", server, wait, acc, errp)) {
            return FALSE;
        }
        path = g_hash_table_lookup(opts, "path");
        if (!path || !path[0]) {
            error_setg(errp, "QMP monitor '%s': missing socket path", spec);
            return FALSE;
        }
        /* The one length rule of util/sockaddr.h. */
        if (!sockaddr_unix(&check, path, FALSE, TRUE, NULL, errp)) {
            return FALSE;
        }
        addr->kind = SOCK_SPEC_UNIX;
        addr->path = g_strdup(path);
        return TRUE;
    }
    if (g_str_has_prefix(spec, "tcp:")) {
        g_autofree char *host = NULL;
        g_autofree char *port_str = NULL;
        const char *a;
        guint64 port;

        opts = keyval_parse(spec + 4, "addr", errp);
        if (!opts || !qmp_parse_opts(opts, "addr", server, wait, acc, errp)) {
            return FALSE;
        }
        a = g_hash_table_lookup(opts, "addr");
        if (!a || !strchr(a, ':')) {
            error_setg(errp, "QMP monitor '%s': expected tcp:HOST:PORT",
                       spec);
            return FALSE;
        }
        if (!sockaddr_split_host_port(a, &host, &port_str, NULL, errp)) {
            return FALSE;
        }
        if (!sockaddr_port_check(port_str, NULL, errp) ||
            !keyval_parse_uint64("port", port_str, FALSE, &port, errp)) {
            g_prefix_error(errp, "QMP monitor '%s': ", spec);
            return FALSE;
        }
        addr->kind = SOCK_SPEC_INET;
        addr->host = g_steal_pointer(&host);
        addr->port = g_steal_pointer(&port_str);
        return TRUE;
    }
    error_setg(errp, "QMP monitor '%s': expected stdio, unix:PATH or "
               "tcp:HOST:PORT", spec);
    return FALSE;
}

/* A listening unix socket only its owner can connect to (see "Access"
 * above): the socket is 0600 before bind(), since Linux gives the file
 * the socket's own mode at bind(), so there is no moment where the
 * umask's mode lets others connect; chmod() after bind() for the systems
 * that do not.  Returns the fd, or -1 with errp set. */
static int qmp_listen_unix_private(const SockAddr *un, const char *path,
                                   GError **errp)
{
    int fd = sock_new(un, SOCK_STREAM, errp);

    if (fd < 0) {
        return -1;
    }
    if (fchmod(fd, 0600) < 0 ||
        bind(fd, (const struct sockaddr *)&un->ss, un->len) < 0 ||
        chmod(path, 0600) < 0 ||
        listen(fd, QMP_LISTEN_BACKLOG) < 0) {
        error_setg(errp, "Failed to listen on %s: %s", path,
                   g_strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Binds and listens (util/socket.h): a unix path, or every address of the
 * host (all of them for an empty host: one dual-stack socket, or IPv4). */
static gboolean qmp_monitor_listen(QmpMonitor *mon, const SockSpec *addr,
                                   GError **errp)
{
    int fds[QMP_MAX_LISTEN];
    guint n = 0;

    if (addr->kind == SOCK_SPEC_UNIX) {
        g_autoptr(GError) err = NULL;
        SockAddr un;
        int fd;

        /* As QEMU: a stale socket file from an earlier run is replaced. */
        unlink(addr->path);
        if (!sockaddr_unix(&un, addr->path, FALSE, TRUE, NULL, errp)) {
            return FALSE;
        }
        fd = qmp_listen_unix_private(&un, addr->path, &err);
        if (fd < 0) {
            error_setg(errp, "QMP monitor '%s': cannot listen: %s",
                       mon->spec, err->message);
            return FALSE;
        }
        mon->unix_path = g_strdup(addr->path);
        fds[n++] = fd;
    } else {
        int r = sock_listen_host(addr->host, addr->port, AF_UNSPEC, FALSE,
                                 QMP_LISTEN_BACKLOG, fds, QMP_MAX_LISTEN,
                                 &n, errp);

        if (r == EINVAL && errp && *errp) {
            g_prefix_error(errp, "QMP monitor '%s': ", mon->spec);
            return FALSE;
        }
        if (r) {
            error_setg(errp, "QMP monitor '%s': cannot listen: %s",
                       mon->spec, g_strerror(r));
            return FALSE;
        }
    }
    for (guint i = 0; i < n; i++) {
        QmpListener *l = &mon->listeners[mon->n_listen++];

        l->mon = mon;
        l->fd = fds[i];
        fd_watch_start(&l->watch, l->fd, G_IO_IN, qmp_monitor_on_accept, l,
                       "qmp-listen");
    }
    return TRUE;
}

/* wait=on: blocks until the first client connects, as QEMU does. */
static gboolean qmp_monitor_wait(QmpMonitor *mon, GError **errp)
{
    struct pollfd pfd[QMP_MAX_LISTEN];

    g_message("QMP monitor waiting for connection on: %s", mon->spec);
    for (guint i = 0; i < mon->n_listen; i++) {
        pfd[i] = (struct pollfd){ .fd = mon->listeners[i].fd,
                                  .events = POLLIN };
    }
    for (;;) {
        int r = poll(pfd, mon->n_listen, -1);

        if (r < 0 && errno != EINTR) {
            error_setg(errp, "QMP monitor '%s': accept: %s", mon->spec,
                       g_strerror(errno));
            return FALSE;
        }
        for (guint i = 0; r > 0 && i < mon->n_listen; i++) {
            int fd;

            if (!pfd[i].revents) {
                continue;
            }
            fd = sock_accept(pfd[i].fd);
            if (fd >= 0) {
                qmp_monitor_add_socket(mon, fd);
                return TRUE;
            }
            if (errno != EAGAIN && errno != EINTR &&
                errno != ECONNABORTED) {
                error_setg(errp, "QMP monitor '%s': accept: %s", mon->spec,
                           g_strerror(errno));
                return FALSE;
            }
        }
    }
}

/* Connects as a client to the first address that answers. */
static gboolean qmp_monitor_connect(QmpMonitor *mon, const SockSpec *addr,
                                    GError **errp)
{
    g_autoptr(GArray) addrs = NULL;
    int err = ECONNREFUSED;

    if (addr->kind == SOCK_SPEC_UNIX) {
        SockAddr un;

        if (!sockaddr_unix(&un, addr->path, FALSE, TRUE, NULL, errp)) {
            return FALSE;
        }
        addrs = g_array_new(FALSE, TRUE, sizeof(SockAddr));
        g_array_append_val(addrs, un);
    } else {
        addrs = sock_resolve(addr->host, addr->port, AF_UNSPEC, FALSE, errp);
        if (!addrs) {
            g_prefix_error(errp, "QMP monitor '%s': ", mon->spec);
            return FALSE;
        }
    }
    for (guint i = 0; i < addrs->len; i++) {
        int fd = sock_connect_wait(&g_array_index(addrs, SockAddr, i),
                                   QMP_CONNECT_TIMEOUT_MS, &err);

        if (fd >= 0) {
            qmp_monitor_add_socket(mon, fd);
            return TRUE;
        }
    }
    error_setg(errp, "Failed to connect to '%s': %s", mon->spec,
               g_strerror(err));
    return FALSE;
}

/* A tcp listener on 'addr' would be reachable from other hosts: one of
 * the addresses its host resolves to (every address for an empty host)
 * is not loopback.  An error if the host does not resolve. */
static gboolean qmp_addr_exposed(QmpMonitor *mon, const SockSpec *addr,
                                 gboolean *exposed, GError **errp)
{
    g_autoptr(GArray) addrs = NULL;

    *exposed = FALSE;
    if (addr->kind != SOCK_SPEC_INET) {
        return TRUE;
    }
    addrs = sock_resolve(addr->host, addr->port, AF_UNSPEC, TRUE, errp);
    if (!addrs) {
        g_prefix_error(errp, "QMP monitor '%s': ", mon->spec);
        return FALSE;
    }
    for (guint i = 0; i < addrs->len; i++) {
        SockAddr *a = &g_array_index(addrs, SockAddr, i);

        *exposed |= !tls_addr_is_loopback((const struct sockaddr *)&a->ss);
    }
    return TRUE;
}

/* The access rules of "Access" above, before anything listens.  Sets up
 * mon->tls with tls-creds=. */
static gboolean qmp_access_setup(QmpMonitor *mon, const SockSpec *addr,
                                 gboolean server, QmpAccessOpts *acc,
                                 GError **errp)
{
    gboolean exposed = FALSE;

    if (acc->tls_authz && !acc->tls_creds) {
        error_setg(errp, "QMP monitor '%s': 'tls-authz' provided but TLS "
                   "is not enabled", mon->spec);
        return FALSE;
    }
    if (acc->tls_creds) {
        g_autofree char *name = g_strdup_printf("monitor '%s'", mon->spec);

        if (addr->kind != SOCK_SPEC_INET) {
            error_setg(errp, "QMP monitor '%s': TLS can only be used over "
                       "TCP socket", mon->spec);
            return FALSE;
        }
        mon->tls = tls_link_new(name, "monitor", acc->tls_creds,
                                acc->tls_authz, server, qmp_tls_established,
                                NULL, mon, errp);
        if (!mon->tls) {
            g_prefix_error(errp, "QMP monitor '%s': ", mon->spec);
            return FALSE;
        }
        tls_link_attach(mon->tls, NULL);
        return TRUE;
    }
    if (server && !qmp_addr_exposed(mon, addr, &exposed, errp)) {
        return FALSE;
    }
    if (server && exposed) {
        if (!acc->insecure) {
            error_setg(errp, "QMP monitor '%s': refusing to listen without "
                       "TLS on an address other hosts can reach (whoever "
                       "connects controls colo-proxy): add tls-creds=ID, "
                       "listen on 127.0.0.1 or a unix socket, or accept "
                       "the risk with insecure=on (docs/security.md)",
                       mon->spec);
            return FALSE;
        }
        /* the words of the listeners' warning (tls_listener_warning()),
         * plus what a QMP client can do */
        g_autofree char *where = sockaddr_host_port_str(addr->host,
                                                        addr->port);

        g_warning("QMP monitor '%s': listening on tcp:%s without TLS "
                  "(insecure=on): any host that reaches it can connect "
                  "and control colo-proxy (tls-creds=, docs/security.md)",
                  mon->spec, where);
    }
    return TRUE;
}

gboolean monitor_qmp_open(const char *spec, GError **errp)
{
    QmpMonitor *mon = g_new0(QmpMonitor, 1);
    QmpAccessOpts acc = { 0 };
    gboolean server = FALSE, wait = TRUE;
    g_auto(SockSpec) addr = { 0 };
    gboolean ok;

    mon->spec = g_strdup(spec);
    if (strcmp(spec, "stdio") == 0) {
        qmp_monitors = g_list_append(qmp_monitors, mon);
        qmp_client_new(mon, STDIN_FILENO, STDOUT_FILENO, FALSE, NULL);
        return TRUE;
    }
    ok = qmp_parse(spec, &server, &wait, &addr, &acc, errp) &&
         qmp_access_setup(mon, &addr, server, &acc, errp);
    g_free(acc.tls_creds);
    g_free(acc.tls_authz);
    if (!ok) {
        qmp_monitor_free(mon);
        return FALSE;
    }
    if (server) {
        ok = qmp_monitor_listen(mon, &addr, errp);
        if (ok) {
            qmp_monitors = g_list_append(qmp_monitors, mon);
            if (wait && !qmp_monitor_wait(mon, errp)) {
                qmp_monitors = g_list_remove(qmp_monitors, mon);
                ok = FALSE;
            }
        }
    } else {
        ok = qmp_monitor_connect(mon, &addr, errp);
        if (ok) {
            qmp_monitors = g_list_append(qmp_monitors, mon);
        }
    }
    if (!ok) {
        qmp_monitor_free(mon);
    }
    return ok;
}

void monitor_qmp_close_all(void)
{
    while (qmp_monitors) {
        QmpMonitor *mon = qmp_monitors->data;

        qmp_monitors = g_list_delete_link(qmp_monitors, qmp_monitors);
        qmp_monitor_free(mon);
    }
}

/* ------------------------------------------------------------------------
 * Events
 */

/* Runs in the main context: sends the serialised event to every
 * negotiated connection. */
static gboolean qmp_event_deliver(gpointer op)
{
    const char *text = op;

    qmp_stats.events++;
    for (GList *m = qmp_monitors; m; m = m->next) {
        QmpMonitor *mon = m->data;
        GList *l = mon->clients;

        while (l) {
            QmpClient *c = l->data;

            /* Sending may close 'c' and unlink it: step first. */
            l = l->next;
            if (c->session.negotiated) {
                qmp_client_send_text(c, text);
            }
        }
    }
    return G_SOURCE_REMOVE;
}

/* The event sink (include/util/qmp-handler.h): qmp_event_emit() from any
 * module, in any thread, lands here. */
static void monitor_event_emit(const char *name, JsonObject *data)
{
    gint64 now = g_get_real_time();
    g_autoptr(JsonObject) ev = json_object_new();
    JsonObject *ts = json_object_new();

    /* QEMU's member order: timestamp, event, data (absent when none). */
    json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
    json_object_set_object_member(ev, "timestamp", ts);
    json_object_set_string_member(ev, "event", name);
    if (data) {
        json_object_set_object_member(ev, "data", data);
    }
    /* The text is built here, in the caller's thread, so that 'data' is
     * not shared with the main thread.  The main loop's thread delivers at
     * once; any other thread (or the main thread before the loop runs)
     * queues an idle callback, so delivery never runs outside the main
     * loop's thread and events from one thread keep their order. */
    if (g_main_context_is_owner(g_main_context_default())) {
        g_autofree char *text = qmp_to_text(ev);

        qmp_event_deliver(text);
    } else {
        GSource *src = g_idle_source_new();

        g_source_set_priority(src, G_PRIORITY_DEFAULT);
        g_source_set_callback(src, qmp_event_deliver, qmp_to_text(ev),
                              g_free);
        g_source_attach(src, g_main_context_default());
        g_source_unref(src);
    }
}

/* Linking the monitor is what makes events go out: registered before
 * main() runs, so no event of start-up is lost. */
static void __attribute__((constructor)) monitor_event_sink_init(void)
{
    qmp_event_set_sink(monitor_event_emit);
}

/* ------------------------------------------------------------------------
 * query-qmp-stats (qapi/control.json): the counters above.
 */
gboolean qmp_query_qmp_stats(JsonObject *args, JsonNode **ret, GError **errp)
{
    JsonObject *o = json_object_new();
    guint clients = 0;

    for (GList *m = qmp_monitors; m; m = m->next) {
        clients += ((QmpMonitor *)m->data)->n_clients;
    }
    json_object_set_int_member(o, "monitors", g_list_length(qmp_monitors));
    json_object_set_int_member(o, "clients", clients);
    json_object_set_int_member(o, "connections", qmp_stats.connections);
    json_object_set_int_member(o, "connections-refused", qmp_stats.refused);
    json_object_set_int_member(o, "requests", qmp_stats.requests);
    json_object_set_int_member(o, "errors", qmp_stats.errors);
    json_object_set_int_member(o, "parse-errors", qmp_stats.parse_errors);
    json_object_set_int_member(o, "oversized", qmp_stats.oversized);
    json_object_set_int_member(o, "too-deep", qmp_stats.too_deep);
    json_object_set_int_member(o, "slow-disconnects",
                               qmp_stats.slow_disconnects);
    json_object_set_int_member(o, "read-pauses", qmp_stats.read_pauses);
    json_object_set_int_member(o, "events", qmp_stats.events);
    json_object_set_int_member(o, "bytes-in", qmp_stats.bytes_in);
    json_object_set_int_member(o, "bytes-out", qmp_stats.bytes_out);
    *ret = json_node_init_object(json_node_alloc(), o);
    json_object_unref(o);
    return TRUE;
}
