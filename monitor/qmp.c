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
#include <glib-unix.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>

#include "qapi-commands.h"
#include "monitor/qmp-internal.h"
#include "util/qmp-json.h"
#include "util/error.h"
#include "util/keyval.h"
#include "util/log.h"
#include "util/sockaddr.h"
#include "qom/tls-link.h"

#define QMP_READ_SIZE 16384

typedef struct QmpMonitor QmpMonitor;

typedef struct QmpClient {
    int refcnt;                /* the monitor's list + running requests */
    QmpMonitor *mon;           /* owner; NULL once removed from it */
    int in_fd;                 /* read side */
    int out_fd;                /* write side (== in_fd for sockets) */
    gboolean is_socket;        /* send() with MSG_NOSIGNAL */
    gboolean owns_fds;         /* close the fds at the end (not stdio) */
    gboolean closed;           /* no more I/O */
    gboolean eof;              /* peer stopped sending: close once drained */
    guint in_watch;            /* g_unix_fd_add() id, 0 when paused */
    guint out_watch;           /* set while output is queued */
    QmpSession session;        /* negotiation state */
    QmpSplitter split;         /* request framing */
    GByteArray *in;            /* bytes read and not yet split */
    GByteArray *out;           /* bytes queued for the client */
    gsize out_pos;             /* first unsent byte of 'out' */
    TlsSession *tls;           /* tls-creds=: the record layer, or NULL */
} QmpClient;

struct QmpMonitor {
    char *spec;                /* the -qmp argument, for messages */
    GPtrArray *listeners;      /* GSocket, for a listening monitor */
    GPtrArray *listen_watches; /* GSource, one per listener */
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
static gboolean qmp_client_on_out(gint fd, GIOCondition cond, gpointer op);

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
    g_byte_array_unref(c->out);
    g_free(c);
}

/* Writes as much queued output as the fd takes.  Returns FALSE if the
 * connection failed (and was closed). */
static gboolean qmp_client_flush(QmpClient *c)
{
    while (c->out_pos < c->out->len) {
        const guint8 *p = c->out->data + c->out_pos;
        gsize n = c->out->len - c->out_pos;
        ssize_t w;

        if (c->tls) {
            /* TLS seam (b): one record per call (util/tls-session.h) */
            w = tls_session_send(c->tls, p, n);
            if (w < 0) {
                errno = -w;
                w = -1;
            }
        } else if (c->is_socket) {
            w = send(c->out_fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        } else {
            w = write(c->out_fd, p, n);
        }
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            g_debug("QMP client on %s: write failed: %s",
                    c->mon ? c->mon->spec : "?", g_strerror(errno));
            qmp_client_close(c);
            return FALSE;
        }
        c->out_pos += w;
        qmp_stats.bytes_out += w;
    }
    if (c->out_pos == c->out->len) {
        g_byte_array_set_size(c->out, 0);
        c->out_pos = 0;
        if (c->out_watch) {
            g_source_remove(c->out_watch);
            c->out_watch = 0;
        }
    } else if (!c->out_watch) {
        c->out_watch = g_unix_fd_add(c->out_fd, G_IO_OUT, qmp_client_on_out,
                                     c);
    }
    return TRUE;
}

/* Queues one message line.  Returns FALSE if the client was dropped. */
static gboolean qmp_client_send_text(QmpClient *c, const char *text)
{
    if (c->closed) {
        return FALSE;
    }
    if (c->out->len - c->out_pos + strlen(text) + 2 > QMP_MAX_OUTPUT) {
        COLO_WARN_RL("QMP client on %s does not read its replies and "
                     "events (%u bytes queued): disconnecting it",
                     c->mon ? c->mon->spec : "?",
                     (unsigned)(c->out->len - c->out_pos));
        qmp_stats.slow_disconnects++;
        qmp_client_close(c);
        return FALSE;
    }
    g_byte_array_append(c->out, (const guint8 *)text, strlen(text));
    g_byte_array_append(c->out, (const guint8 *)"\r\n", 2);
    return qmp_client_flush(c);
}

static gboolean qmp_client_send(QmpClient *c, JsonObject *msg)
{
    g_autofree char *text = qmp_to_text(msg);

    return qmp_client_send_text(c, text);
}

static gboolean qmp_client_on_in(gint fd, GIOCondition cond, gpointer op)
{
    QmpClient *c = op;
    char buf[QMP_READ_SIZE];
    ssize_t r;

    if (c->tls) {
        /* TLS seam (b): the buffer holds a whole record, so nothing is
         * left decrypted inside the session for poll() to miss. */
        r = tls_session_recv(c->tls, buf, sizeof(buf));
        if (r < 0) {
            errno = -r;
            r = -1;
        }
    } else {
        r = read(c->in_fd, buf, sizeof(buf));
    }
    if (r < 0 && (errno == EINTR || errno == EAGAIN ||
                  errno == EWOULDBLOCK)) {
        return G_SOURCE_CONTINUE;
    }
    if (r <= 0) {
        g_debug("QMP client on %s: %s", c->mon ? c->mon->spec : "?",
                r == 0 ? "closed" : g_strerror(errno));
        c->in_watch = 0;
        if (r == 0 && c->out_pos < c->out->len) {
            /* Half-closed: the replies still queued go out first. */
            c->eof = TRUE;
        } else {
            qmp_client_close(c);
        }
        return G_SOURCE_REMOVE;
    }
    g_byte_array_append(c->in, (const guint8 *)buf, r);
    qmp_stats.bytes_in += r;
    qmp_client_ref(c);
    qmp_client_process(c);
    r = c->in_watch != 0;
    qmp_client_unref(c);
    return r ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean qmp_client_on_out(gint fd, GIOCondition cond, gpointer op)
{
    QmpClient *c = op;
    gboolean again;

    qmp_client_ref(c);
    if (qmp_client_flush(c) && c->out_watch) {
        again = TRUE;
    } else {
        /* Drained (flush removed the id) or closed. */
        again = FALSE;
        c->out_watch = 0;
    }
    if (!c->closed && c->eof && c->out_pos == c->out->len) {
        qmp_client_close(c);
    }
    if (!c->closed && !c->eof && !c->in_watch &&
        c->out->len - c->out_pos < QMP_OUTPUT_PAUSE) {
        /* Caught up: go on with the requests left unread. */
        qmp_client_process(c);
    }
    qmp_client_unref(c);
    return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
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
        COLO_WARN_RL("QMP client on %s: %s", c->mon ? c->mon->spec : "?",
                     error);
        reply = qmp_error_reply("GenericError", error);
    } else {
        reply = qmp_handle_text(&c->session, text, len);
    }
    qmp_count_error(reply);
    if (!qmp_client_send(c, reply)) {
        return FALSE;
    }
    return c->out->len - c->out_pos < QMP_OUTPUT_PAUSE;
}

/* Runs the complete requests in c->in while the client keeps up; pauses
 * reading when it does not. */
static void qmp_client_process(QmpClient *c)
{
    gsize used;

    while (!c->closed && c->in->len > 0 &&
           c->out->len - c->out_pos < QMP_OUTPUT_PAUSE) {
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
    if (c->in->len > 0 && c->in_watch) {
        g_source_remove(c->in_watch);
        c->in_watch = 0;
        qmp_stats.read_pauses++;
    } else if (c->in->len == 0 && !c->in_watch && !c->eof) {
        c->in_watch = g_unix_fd_add(c->in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                    qmp_client_on_in, c);
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
    if (c->in_watch) {
        g_source_remove(c->in_watch);
        c->in_watch = 0;
    }
    if (c->out_watch) {
        g_source_remove(c->out_watch);
        c->out_watch = 0;
    }
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
                           gboolean is_socket, gboolean owns_fds,
                           TlsSession *tls)
{
    QmpClient *c = g_new0(QmpClient, 1);
    g_autoptr(JsonObject) greeting = json_object_new();
    JsonObject *qmp = json_object_new();
    JsonArray *caps = json_array_new();

    c->refcnt = 1;
    c->mon = mon;
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->is_socket = is_socket;
    c->owns_fds = owns_fds;
    c->tls = tls;
    c->in = g_byte_array_new();
    c->out = g_byte_array_new();
    qmp_splitter_init(&c->split, QMP_MAX_REQUEST);
    g_unix_set_fd_nonblocking(in_fd, TRUE, NULL);
    g_unix_set_fd_nonblocking(out_fd, TRUE, NULL);
    mon->clients = g_list_append(mon->clients, c);
    mon->n_clients++;
    qmp_stats.connections++;

    json_object_set_member(qmp, "version", qmp_version_info());
    json_array_add_string_element(caps, "oob");
    json_object_set_array_member(qmp, "capabilities", caps);
    json_object_set_object_member(greeting, "QMP", qmp);
    if (!qmp_client_send(c, greeting)) {
        return;
    }
    c->in_watch = g_unix_fd_add(in_fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                                qmp_client_on_in, c);
}

/* ------------------------------------------------------------------------
 * Monitors
 */

static void qmp_socket_setup(GSocket *sock)
{
    GSocketFamily fam = g_socket_get_family(sock);

    if (fam == G_SOCKET_FAMILY_IPV4 || fam == G_SOCKET_FAMILY_IPV6) {
        g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
    }
}

/* Takes a connected socket for 'mon'. */
static void qmp_monitor_add_socket(QmpMonitor *mon, GSocket *sock)
{
    int fd;

    if (mon->n_clients >= QMP_MAX_CLIENTS) {
        qmp_stats.refused++;
        COLO_WARN_RL("QMP monitor %s: already %u clients, refusing another",
                     mon->spec, mon->n_clients);
        g_socket_close(sock, NULL);
        g_object_unref(sock);
        return;
    }
    qmp_socket_setup(sock);
    /* The connection keeps a plain fd; the GSocket closes its own. */
    fd = fcntl(g_socket_get_fd(sock), F_DUPFD_CLOEXEC, 0);
    g_object_unref(sock);
    if (fd < 0) {
        COLO_WARN_RL("QMP monitor %s: dup: %s", mon->spec, g_strerror(errno));
        return;
    }
    if (mon->tls) {
        /* TLS seam (a): no greeting before the handshake and tls-authz;
         * qmp_tls_established() makes the client. */
        tls_link_add(mon->tls, fd);
        return;
    }
    qmp_client_new(mon, fd, fd, TRUE, TRUE, NULL);
}

static void qmp_tls_established(void *opaque, int fd, TlsSession *sess,
                                const char *identity)
{
    QmpMonitor *mon = opaque;

    g_debug("QMP monitor %s: TLS client '%s'", mon->spec, identity);
    qmp_client_new(mon, fd, fd, TRUE, TRUE, sess);
}

static gboolean qmp_monitor_on_accept(GSocket *listener, GIOCondition cond,
                                      gpointer op)
{
    QmpMonitor *mon = op;
    g_autoptr(GError) err = NULL;
    GSocket *sock = g_socket_accept(listener, NULL, &err);

    if (!sock) {
        if (!g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
            COLO_WARN_RL("QMP monitor %s: accept: %s", mon->spec,
                         err->message);
        }
        return G_SOURCE_CONTINUE;
    }
    qmp_monitor_add_socket(mon, sock);
    return G_SOURCE_CONTINUE;
}

static void qmp_monitor_free(QmpMonitor *mon)
{
    while (mon->clients) {
        QmpClient *c = mon->clients->data;

        /* Last words: best effort, without blocking. */
        if (!c->closed && c->out_pos < c->out->len) {
            qmp_client_flush(c);
        }
        qmp_client_close(c);
    }
    for (guint i = 0; mon->listen_watches && i < mon->listen_watches->len;
         i++) {
        GSource *src = g_ptr_array_index(mon->listen_watches, i);

        g_source_destroy(src);
        g_source_unref(src);
    }
    if (mon->listen_watches) {
        g_ptr_array_unref(mon->listen_watches);
    }
    if (mon->listeners) {
        g_ptr_array_unref(mon->listeners);
    }
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

/* Resolves "unix:..." / "tcp:..." into socket addresses (new list of new
 * references).  Sets mon->unix_path for a unix server. */
static GList *qmp_resolve(const char *spec, gboolean *server,
                          gboolean *wait, char **unix_path,
                          QmpAccessOpts *acc, GError **errp)
{
    g_autoptr(GHashTable) opts = NULL;
    GList *addrs = NULL;

    if (g_str_has_prefix(spec, "unix:")) {
        const char *path;

        opts = keyval_parse(spec + 5, "path", errp);
        if (!opts || !qmp_parse_opts(opts, "path", server, wait, acc, errp)) {
            return NULL;
        }
        path = g_hash_table_lookup(opts, "path");
        if (!path || !path[0]) {
            error_setg(errp, "QMP monitor '%s': missing socket path", spec);
            return NULL;
        }
        {
            SockAddr check;

            /* The one length rule of util/sockaddr.h. */
            if (!sockaddr_unix(&check, path, FALSE, TRUE, NULL, errp)) {
                return NULL;
            }
        }
        *unix_path = g_strdup(path);
        return g_list_append(NULL, g_unix_socket_address_new(path));
    }
    if (g_str_has_prefix(spec, "tcp:")) {
        g_autoptr(GResolver) resolver = NULL;
        g_autofree char *host = NULL;
        g_autofree char *port_str = NULL;
        const char *addr;
        guint64 port;

        opts = keyval_parse(spec + 4, "addr", errp);
        if (!opts || !qmp_parse_opts(opts, "addr", server, wait, acc, errp)) {
            return NULL;
        }
        addr = g_hash_table_lookup(opts, "addr");
        if (!addr || !strchr(addr, ':')) {
            error_setg(errp, "QMP monitor '%s': expected tcp:HOST:PORT",
                       spec);
            return NULL;
        }
        if (!sockaddr_split_host_port(addr, &host, &port_str, NULL, errp)) {
            return NULL;
        }
        if (!sockaddr_port_check(port_str, NULL, errp) ||
            !keyval_parse_uint64("port", port_str, FALSE, &port, errp)) {
            g_prefix_error(errp, "QMP monitor '%s': ", spec);
            return NULL;
        }
        if (!host[0]) {
            /* All addresses: one dual-stack IPv6 socket, or IPv4. */
            GInetAddress *any6 = g_inet_address_new_any(G_SOCKET_FAMILY_IPV6);
            GInetAddress *any4 = g_inet_address_new_any(G_SOCKET_FAMILY_IPV4);

            addrs = g_list_append(addrs, g_inet_socket_address_new(any6,
                                                                   port));
            addrs = g_list_append(addrs, g_inet_socket_address_new(any4,
                                                                   port));
            g_object_unref(any6);
            g_object_unref(any4);
            return addrs;
        }
        resolver = g_resolver_get_default();
        {
            GList *ips = g_resolver_lookup_by_name(resolver, host, NULL,
                                                   errp);

            if (!ips) {
                return NULL;
            }
            for (GList *l = ips; l; l = l->next) {
                addrs = g_list_append(addrs,
                                      g_inet_socket_address_new(l->data,
                                                                port));
            }
            g_resolver_free_addresses(ips);
        }
        return addrs;
    }
    error_setg(errp, "QMP monitor '%s': expected stdio, unix:PATH or "
               "tcp:HOST:PORT", spec);
    return NULL;
}

/* Binds and listens on every address that works (a dual-stack IPv6 "any"
 * socket makes the IPv4 one fail with EADDRINUSE: that is fine). */
static gboolean qmp_monitor_listen(QmpMonitor *mon, GList *addrs,
                                   GError **errp)
{
    g_autoptr(GError) first = NULL;

    mon->listeners = g_ptr_array_new_with_free_func(g_object_unref);
    mon->listen_watches = g_ptr_array_new();
    if (mon->unix_path) {
        /* As QEMU: a stale socket file from an earlier run is replaced. */
        unlink(mon->unix_path);
    }
    for (GList *l = addrs; l; l = l->next) {
        GSocketAddress *sa = l->data;
        g_autoptr(GError) err = NULL;
        GSocket *sock;
        GSource *src;

        sock = g_socket_new(g_socket_address_get_family(sa),
                            G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                            &err);
        if (sock && mon->unix_path) {
            /* Owner only, from the start: Linux gives the file the
             * socket's own mode at bind(), so there is no moment where
             * the umask's mode lets others connect; chmod() after bind()
             * for the systems that do not. */
            fchmod(g_socket_get_fd(sock), 0600);
        }
        if (sock && !g_socket_bind(sock, sa, TRUE, &err)) {
            g_clear_object(&sock);
        }
        if (sock && mon->unix_path && chmod(mon->unix_path, 0600) < 0) {
            g_set_error(&err, G_IO_ERROR, g_io_error_from_errno(errno),
                        "chmod %s: %s", mon->unix_path, g_strerror(errno));
            g_clear_object(&sock);
        }
        if (sock && !g_socket_listen(sock, &err)) {
            g_clear_object(&sock);
        }
        if (!sock) {
            if (!first) {
                first = g_steal_pointer(&err);
            }
            continue;
        }
        g_socket_set_blocking(sock, FALSE);
        g_ptr_array_add(mon->listeners, sock);
        src = g_socket_create_source(sock, G_IO_IN, NULL);
        g_source_set_callback(src, G_SOURCE_FUNC(qmp_monitor_on_accept),
                              mon, NULL);
        g_source_attach(src, NULL);
        g_ptr_array_add(mon->listen_watches, src);
    }
    if (mon->listeners->len == 0) {
        g_clear_pointer(&mon->unix_path, g_free);   /* not ours */
        error_setg(errp, "QMP monitor '%s': cannot listen: %s", mon->spec,
                   first ? first->message : "no address");
        return FALSE;
    }
    return TRUE;
}

/* wait=on: blocks until the first client connects, as QEMU does. */
static gboolean qmp_monitor_wait(QmpMonitor *mon, GError **errp)
{
    g_autoptr(GError) err = NULL;
    GSocket *listener = g_ptr_array_index(mon->listeners, 0);
    GSocket *sock;

    g_message("QMP monitor waiting for connection on: %s", mon->spec);
    g_socket_set_blocking(listener, TRUE);
    do {
        g_clear_error(&err);
        sock = g_socket_accept(listener, NULL, &err);
    } while (!sock && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED));
    g_socket_set_blocking(listener, FALSE);
    if (!sock) {
        error_setg(errp, "QMP monitor '%s': accept: %s", mon->spec,
                   err->message);
        return FALSE;
    }
    qmp_monitor_add_socket(mon, sock);
    return TRUE;
}

/* Connects as a client to the first address that answers. */
static gboolean qmp_monitor_connect(QmpMonitor *mon, GList *addrs,
                                    GError **errp)
{
    g_autoptr(GError) err = NULL;

    g_clear_pointer(&mon->unix_path, g_free);   /* the server's file */
    for (GList *l = addrs; l; l = l->next) {
        GSocketAddress *sa = l->data;
        GSocket *sock;

        g_clear_error(&err);
        sock = g_socket_new(g_socket_address_get_family(sa),
                            G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                            &err);
        if (!sock) {
            continue;
        }
        if (g_socket_connect(sock, sa, NULL, &err)) {
            qmp_monitor_add_socket(mon, sock);
            return TRUE;
        }
        g_object_unref(sock);
    }
    error_setg(errp, "Failed to connect to '%s': %s", mon->spec,
               err ? err->message : "no address");
    return FALSE;
}

/* A tcp address other hosts may reach (any address but loopback). */
static gboolean qmp_addr_exposed(GSocketAddress *sa)
{
    return G_IS_INET_SOCKET_ADDRESS(sa) &&
           !g_inet_address_get_is_loopback(g_inet_socket_address_get_address(
               G_INET_SOCKET_ADDRESS(sa)));
}

/* The access rules of "Access" above, before anything listens.  Sets up
 * mon->tls with tls-creds=. */
static gboolean qmp_access_setup(QmpMonitor *mon, GList *addrs,
                                 gboolean server, QmpAccessOpts *acc,
                                 GError **errp)
{
    gboolean exposed = FALSE;

    for (GList *l = addrs; l; l = l->next) {
        exposed |= qmp_addr_exposed(l->data);
    }
    if (acc->tls_authz && !acc->tls_creds) {
        error_setg(errp, "QMP monitor '%s': 'tls-authz' provided but TLS "
                   "is not enabled", mon->spec);
        return FALSE;
    }
    if (acc->tls_creds) {
        g_autofree char *name = g_strdup_printf("monitor '%s'", mon->spec);

        if (mon->unix_path || !G_IS_INET_SOCKET_ADDRESS(addrs->data)) {
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
        g_warning("QMP monitor '%s': listening without TLS on an address "
                  "other hosts can reach (insecure=on): whoever connects "
                  "controls colo-proxy", mon->spec);
    }
    return TRUE;
}

gboolean monitor_qmp_open(const char *spec, GError **errp)
{
    QmpMonitor *mon = g_new0(QmpMonitor, 1);
    QmpAccessOpts acc = { 0 };
    gboolean server = FALSE, wait = TRUE;
    GList *addrs;
    gboolean ok;

    mon->spec = g_strdup(spec);
    if (strcmp(spec, "stdio") == 0) {
        qmp_monitors = g_list_append(qmp_monitors, mon);
        qmp_client_new(mon, STDIN_FILENO, STDOUT_FILENO, FALSE, FALSE, NULL);
        return TRUE;
    }
    addrs = qmp_resolve(spec, &server, &wait, &mon->unix_path, &acc, errp);
    ok = addrs && qmp_access_setup(mon, addrs, server, &acc, errp);
    g_free(acc.tls_creds);
    g_free(acc.tls_authz);
    if (!ok) {
        g_list_free_full(addrs, g_object_unref);
        g_clear_pointer(&mon->unix_path, g_free);   /* nothing created */
        qmp_monitor_free(mon);
        return FALSE;
    }
    if (server) {
        ok = qmp_monitor_listen(mon, addrs, errp);
        if (ok) {
            qmp_monitors = g_list_append(qmp_monitors, mon);
            if (wait && !qmp_monitor_wait(mon, errp)) {
                qmp_monitors = g_list_remove(qmp_monitors, mon);
                ok = FALSE;
            }
        }
    } else {
        ok = qmp_monitor_connect(mon, addrs, errp);
        if (ok) {
            qmp_monitors = g_list_append(qmp_monitors, mon);
        }
    }
    g_list_free_full(addrs, g_object_unref);
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
