/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char-socket.c - the "socket" chardev object: its properties
 * (QEMU's -chardev socket options), their validation, complete and
 * teardown.  The behaviour is described in char-socket-internal.h;
 * connections live in char-socket-conn.c, I/O in char-socket-io.c.
 */
#include <string.h>
#include <unistd.h>

#include "chardev/char-socket-internal.h"
#include "util/error.h"

G_DEFINE_TYPE(CharSocket, char_socket, TYPE_CHARDEV)

enum {
    PROP_0,
    PROP_HOST,
    PROP_PORT,
    PROP_PATH,
    PROP_TO,
    PROP_SERVER,
    PROP_WAIT,
    PROP_NODELAY,
    PROP_IPV4,
    PROP_IPV6,
    PROP_ABSTRACT,
    PROP_TIGHT,
    PROP_RECONNECT,
    PROP_RECONNECT_MS,
    PROP_OUT_BUFFER_SIZE,
    N_PROPS
};

/* --- UserObjectClass ---------------------------------------------------- */

static gboolean cs_complete(UserObject *obj, GError **errp)
{
    CharSocket *s = CHAR_SOCKET(obj);

    if (s->path && *s->path) {
        s->is_unix = TRUE;
        if (s->host) {
            error_setg(errp, "chardev: socket: 'path' and 'host' cannot be "
                       "used together");
            return FALSE;
        }
        s->target = g_strdup(s->path);
    } else {
        if (!s->host) {
            error_setg(errp, "chardev: socket: no host given");
            return FALSE;
        }
        if (!s->port || !*s->port) {
            error_setg(errp, "chardev: socket: no port given");
            return FALSE;
        }
        if (!sockaddr_port_check(s->port, "chardev: socket", errp)) {
            return FALSE;
        }
        if (s->abstract) {
            error_setg(errp, "chardev: socket: 'abstract' needs 'path'");
            return FALSE;
        }
        if (s->ipv4_given && s->ipv6_given && !s->ipv4 && !s->ipv6) {
            error_setg(errp, "chardev: socket: 'ipv4' and 'ipv6' cannot "
                       "both be off");
            return FALSE;
        }
        s->target = sockaddr_host_port_str(s->host, s->port);
    }
    if (s->server && (s->reconnect || s->reconnect_ms)) {
        error_setg(errp, "'reconnect' option is incompatible with socket in "
                   "server listen mode");
        return FALSE;
    }
    if (!s->server && s->wait_given) {
        error_setg(errp, "'wait' option is incompatible with socket in "
                   "client connect mode");
        return FALSE;
    }
    if (s->reconnect && s->reconnect_ms) {
        error_setg(errp, "'reconnect' and 'reconnect-ms' are mutually "
                   "exclusive");
        return FALSE;
    }
    if (s->to && (s->is_unix || !s->server)) {
        error_setg(errp, "'to' is only valid for a tcp server");
        return FALSE;
    }
    s->reconnect_us = s->reconnect_ms ? (int64_t)s->reconnect_ms * 1000
                                      : (int64_t)s->reconnect * G_USEC_PER_SEC;
    outbuf_init(&s->out, CHAR_SOCKET_OUT_INITIAL, s->out_buffer_size);

    if (s->server) {
        if (!(s->is_unix ? cs_listen_unix(s, errp)
                         : cs_listen_inet(s, errp))) {
            return FALSE;
        }
        if (s->wait) {
            chardev_set_wait_pending(CHARDEV_BASE(s), TRUE);
        }
    } else {
        s->addr_desc = g_strdup_printf("%s:%s", s->is_unix ? "unix" : "tcp",
                                       s->target);
        if (!s->reconnect_us) {
            if (!cs_connect_sync(s, errp)) {
                return FALSE;
            }
        } else {
            s->timer_at = g_get_monotonic_time();   /* connect at once */
        }
    }
    if (s->state != CS_CONNECTED) {
        cs_update_desc(s);
    }
    chardev_start(CHARDEV_BASE(s));
    return TRUE;
}

/* chardev-remove / shutdown: the base detaches, then the sockets go, so
 * the port or path is free when the command returns. */
static void cs_unparent(UserObject *obj)
{
    USER_OBJECT_CLASS(char_socket_parent_class)->unparent(obj);
    cs_close_all(CHAR_SOCKET(obj));
}

static void cs_finalize(GObject *gobj)
{
    CharSocket *s = CHAR_SOCKET(gobj);

    cs_close_all(s);
    g_free(s->host);
    g_free(s->port);
    g_free(s->path);
    g_free(s->target);
    g_free(s->addr_desc);
    g_free(s->desc);
    g_free(s->rbuf);
    outbuf_destroy(&s->out);
    g_mutex_clear(&s->lock);
    G_OBJECT_CLASS(char_socket_parent_class)->finalize(gobj);
}

static void cs_set_property(GObject *gobj, guint id, const GValue *v,
                            GParamSpec *pspec)
{
    CharSocket *s = CHAR_SOCKET(gobj);

    switch (id) {
    case PROP_HOST:
        g_free(s->host);
        s->host = g_value_dup_string(v);
        break;
    case PROP_PORT:
        g_free(s->port);
        s->port = g_value_dup_string(v);
        break;
    case PROP_PATH:
        g_free(s->path);
        s->path = g_value_dup_string(v);
        break;
    case PROP_TO:
        s->to = g_value_get_uint(v);
        break;
    case PROP_SERVER:
        s->server = g_value_get_boolean(v);
        break;
    case PROP_WAIT:
        s->wait = g_value_get_boolean(v);
        s->wait_given = TRUE;
        break;
    case PROP_NODELAY:
        s->nodelay = g_value_get_boolean(v);
        break;
    case PROP_IPV4:
        s->ipv4 = g_value_get_boolean(v);
        s->ipv4_given = TRUE;
        break;
    case PROP_IPV6:
        s->ipv6 = g_value_get_boolean(v);
        s->ipv6_given = TRUE;
        break;
    case PROP_ABSTRACT:
        s->abstract = g_value_get_boolean(v);
        break;
    case PROP_TIGHT:
        s->tight = g_value_get_boolean(v);
        break;
    case PROP_RECONNECT:
        s->reconnect = g_value_get_uint64(v);
        s->reconnect_given = TRUE;
        break;
    case PROP_RECONNECT_MS:
        s->reconnect_ms = g_value_get_uint64(v);
        s->reconnect_given = TRUE;
        break;
    case PROP_OUT_BUFFER_SIZE:
        s->out_buffer_size = g_value_get_uint64(v);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(gobj, id, pspec);
    }
}

static void cs_get_property(GObject *gobj, guint id, GValue *v,
                            GParamSpec *pspec)
{
    CharSocket *s = CHAR_SOCKET(gobj);

    switch (id) {
    case PROP_HOST:
        g_value_set_string(v, s->host);
        break;
    case PROP_PORT:
        g_value_set_string(v, s->port);
        break;
    case PROP_PATH:
        g_value_set_string(v, s->path);
        break;
    case PROP_TO:
        g_value_set_uint(v, s->to);
        break;
    case PROP_SERVER:
        g_value_set_boolean(v, s->server);
        break;
    case PROP_WAIT:
        g_value_set_boolean(v, s->wait);
        break;
    case PROP_NODELAY:
        g_value_set_boolean(v, s->nodelay);
        break;
    case PROP_IPV4:
        g_value_set_boolean(v, s->ipv4);
        break;
    case PROP_IPV6:
        g_value_set_boolean(v, s->ipv6);
        break;
    case PROP_ABSTRACT:
        g_value_set_boolean(v, s->abstract);
        break;
    case PROP_TIGHT:
        g_value_set_boolean(v, s->tight);
        break;
    case PROP_RECONNECT:
        g_value_set_uint64(v, s->reconnect);
        break;
    case PROP_RECONNECT_MS:
        g_value_set_uint64(v, s->reconnect_ms);
        break;
    case PROP_OUT_BUFFER_SIZE:
        g_value_set_uint64(v, s->out_buffer_size);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(gobj, id, pspec);
    }
}

static void char_socket_class_init(CharSocketClass *klass)
{
    GObjectClass *gc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    ChardevClass *cc = CHARDEV_BASE_CLASS(klass);
    GParamSpec *props[N_PROPS] = { NULL };

    gc->set_property = cs_set_property;
    gc->get_property = cs_get_property;
    gc->finalize = cs_finalize;
    uc->description = "stream socket (tcp or unix), server or client";
    uc->complete = cs_complete;
    uc->unparent = cs_unparent;
    char_socket_io_class_init(cc);

    props[PROP_HOST] = prop_str("host", "tcp host or address to listen on "
                                "or connect to (\"0.0.0.0\", \"::\", "
                                "\"localhost\", ...)", NULL, 0);
    props[PROP_PORT] = prop_str("port", "tcp port (0: any free port)",
                                NULL, 0);
    props[PROP_PATH] = prop_str("path", "unix socket path (abstract name "
                                "with abstract=on)", NULL, 0);
    props[PROP_TO] = prop_uint("to", "server: try ports from 'port' up to "
                               "this one", 0, 65535, 0, 0);
    props[PROP_SERVER] = prop_bool("server", "listen (on) or connect (off)",
                                   FALSE, 0);
    props[PROP_WAIT] = prop_bool("wait", "server: block start-up until the "
                                 "first client connects", TRUE, 0);
    props[PROP_NODELAY] = prop_bool("nodelay", "set TCP_NODELAY", TRUE, 0);
    props[PROP_IPV4] = prop_bool("ipv4", "use IPv4 (off: IPv6 only)", FALSE,
                                 0);
    props[PROP_IPV6] = prop_bool("ipv6", "use IPv6 (off: IPv4 only)", FALSE,
                                 0);
    props[PROP_ABSTRACT] = prop_bool("abstract", "unix: use the linux "
                                     "abstract namespace", FALSE, 0);
    props[PROP_TIGHT] = prop_bool("tight", "unix abstract: address length "
                                  "is the name length", TRUE, 0);
    props[PROP_RECONNECT] = prop_uint64("reconnect", "client: seconds "
                                        "between connection attempts (0: "
                                        "connect once, at creation)",
                                        0, G_MAXUINT32, 0, 0);
    props[PROP_RECONNECT_MS] = prop_uint64("reconnect-ms", "client: like "
                                           "reconnect, in milliseconds",
                                           0, G_MAXUINT32, 0, 0);
    props[PROP_OUT_BUFFER_SIZE] = prop_uint64("out-buffer-size", "bytes "
                                              "queued toward a slow peer "
                                              "before writes are refused",
                                              CHAR_SOCKET_OUT_MIN,
                                              CHAR_SOCKET_OUT_MAX,
                                              CHAR_SOCKET_OUT_DEFAULT, 0);
    g_object_class_install_properties(gc, N_PROPS, props);
}

static void char_socket_init(CharSocket *s)
{
    static const RateLimit rl = RATE_LIMIT_INIT(5, 5000);

    s->wait = TRUE;
    s->tight = TRUE;
    s->out_buffer_size = CHAR_SOCKET_OUT_DEFAULT;
    s->nodelay = TRUE;
    s->fd = -1;
    for (guint i = 0; i < CHAR_SOCKET_MAX_LISTEN; i++) {
        s->listen_fds[i] = -1;
    }
    s->rl = rl;
    g_mutex_init(&s->lock);
}

static void char_socket_register(void)
{
    object_type_register(OBJECT_KIND_CHARDEV, "socket", TYPE_CHAR_SOCKET);
}
type_init(char_socket_register)
