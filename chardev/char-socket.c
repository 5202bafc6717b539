/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char-socket.c - the "socket" chardev object: its properties
 * (QEMU's -chardev socket options), their validation, complete and
 * teardown.  The behaviour is described in char-socket-internal.h;
 * connections live in char-socket-conn.c, I/O in char-socket-io.c.
 */
#include <netdb.h>
#include <string.h>
#include <unistd.h>

#include "chardev/char-socket-internal.h"
#include "qom/props.h"
#include "util/error.h"

G_DEFINE_TYPE(CharSocket, char_socket, TYPE_CHARDEV)

/* query-chardev: the TLS configuration and the exposure warning. */
static void cs_info(Chardev *chr, JsonObject *o)
{
    CharSocket *s = CHAR_SOCKET(chr);

    if (s->tls) {
        json_object_set_string_member(o, "tls-creds", s->tls_creds);
        if (s->tls_authz) {
            json_object_set_string_member(o, "tls-authz", s->tls_authz);
        }
        json_object_set_int_member(o, "tls-refused",
                                   tls_link_refused(s->tls));
    }
    if (s->warning) {
        json_object_set_string_member(o, "warning", s->warning);
    }
}

/* --- UserObjectClass ---------------------------------------------------- */

/* tls-creds / tls-authz: the TlsLink that handshakes every connection
 * (the engine, qom/sock-stream.c, hands it the fd).  QEMU's rules: TCP only, the
 * credentials' endpoint matches server=, tls-authz needs tls-creds. */
static gboolean cs_tls_setup(CharSocket *s, GError **errp)
{
    g_autofree char *name = NULL;

    if (s->tls_authz && !s->tls_creds) {
        error_setg(errp, "'tls-authz' provided but TLS is not enabled");
        return FALSE;
    }
    if (!s->tls_creds) {
        return TRUE;
    }
    if (s->is_unix) {
        error_setg(errp, "TLS can only be used over TCP socket");
        return FALSE;
    }
    if (s->tls_authz && !s->server) {
        error_setg(errp, "'tls-authz' is only valid for a server");
        return FALSE;
    }
    name = g_strdup_printf("chardev '%s'", cs_id(s));
    s->tls = tls_link_new(name, cs_id(s), s->tls_creds, s->tls_authz,
                          s->server, sock_stream_tls_established,
                          sock_stream_tls_refused, &s->ss, errp);
    s->ss.tls = s->tls;
    return s->tls != NULL;
}

/* A TCP listener without TLS on an address other hosts can reach: one
 * line now, and the same in query-chardev for as long as it listens (the
 * rule is tls_listener_warning()'s, shared with netdev stream). */
static void cs_warn_exposed(CharSocket *s)
{
    s->warning = tls_listener_warning(s->ss.listen_fds, s->ss.n_listen);
    if (s->warning) {
        g_warning("chardev '%s': %s", cs_id(s), s->warning);
    }
}

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
            error_setg(errp, "chardev: socket: no host given (host= and "
                       "port= for TCP, or path= for a unix socket)");
            return FALSE;
        }
        if (!s->port || !*s->port) {
            error_setg(errp, "chardev: socket: no port given");
            return FALSE;
        }
        if (!sockaddr_port_check(s->port, "chardev: socket", errp)) {
            return FALSE;
        }
        /* a name the resolver would refuse later as "Servname not
         * supported for ai_socktype": say what a port is now */
        if (!g_ascii_isdigit(s->port[0]) && !getservbyname(s->port, "tcp")) {
            error_setg(errp, "chardev: socket: port '%s' is neither a "
                       "number (0-65535) nor a service name known to "
                       "/etc/services", s->port);
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
    s->what = g_strdup_printf("chardev '%s'", cs_id(s));
    s->ss.what = s->what;
    s->ss.server = s->server;
    s->ss.reconnect_us = s->server ? 0 : s->reconnect_us;
    if (!cs_tls_setup(s, errp)) {
        return FALSE;
    }

    if (s->server) {
        if (!(s->is_unix ? cs_listen_unix(s, errp)
                         : cs_listen_inet(s, errp))) {
            return FALSE;
        }
        if (!s->is_unix && !s->tls) {
            cs_warn_exposed(s);
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
            if (!cs_connect_setup(s, errp)) {
                return FALSE;
            }
            s->ss.timer_at = g_get_monotonic_time();   /* connect at once */
        }
    }
    if (s->ss.state != SOCK_STREAM_CONNECTED) {
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
    g_clear_pointer(&s->tls, tls_link_free);
    g_free(s->warning);
    g_free(s->what);
    g_free(s->target);
    g_free(s->addr_desc);
    g_free(s->desc);
    g_free(s->rbuf);
    outbuf_destroy(&s->out);
    g_mutex_clear(&s->lock);
    G_OBJECT_CLASS(char_socket_parent_class)->finalize(gobj);
}

#define CS_GIVEN(f) .given = PROP_FIELD(CharSocket, f, gboolean)

static const PropDef char_socket_props[] = {
    DEFINE_PROP_STR("host", CharSocket, host, NULL, 0,
        "tcp host or address to listen on or connect to (\"0.0.0.0\", "
        "\"::\", \"localhost\", ...)"),
    DEFINE_PROP_STR("port", CharSocket, port, NULL, 0,
        "tcp port (0: any free port)"),
    DEFINE_PROP_STR("path", CharSocket, path, NULL, 0,
        "unix socket path (abstract name with abstract=on)"),
    DEFINE_PROP_UINT("to", CharSocket, to, 0, 65535, 0, 0,
        "server: try ports from 'port' up to this one"),
    DEFINE_PROP_BOOL("server", CharSocket, server, FALSE, 0,
        "listen (on) or connect (off)"),
    DEFINE_PROP_BOOL("wait", CharSocket, wait, TRUE, 0,
        "server: block start-up until the first client connects",
        CS_GIVEN(wait_given)),
    DEFINE_PROP_BOOL("nodelay", CharSocket, nodelay, TRUE, 0,
        "set TCP_NODELAY"),
    DEFINE_PROP_BOOL("ipv4", CharSocket, ipv4, FALSE, 0,
        "use IPv4 (off: IPv6 only)", CS_GIVEN(ipv4_given)),
    DEFINE_PROP_BOOL("ipv6", CharSocket, ipv6, FALSE, 0,
        "use IPv6 (off: IPv4 only)", CS_GIVEN(ipv6_given)),
    DEFINE_PROP_BOOL("abstract", CharSocket, abstract, FALSE, 0,
        "unix: use the linux abstract namespace"),
    DEFINE_PROP_BOOL("tight", CharSocket, tight, TRUE, 0,
        "unix abstract: address length is the name length"),
    DEFINE_PROP_UINT64("reconnect", CharSocket, reconnect, 0, G_MAXUINT32, 0,
        0, "client: seconds between connection attempts (0: connect once, "
        "at creation)", CS_GIVEN(reconnect_given)),
    DEFINE_PROP_UINT64("reconnect-ms", CharSocket, reconnect_ms,
        0, G_MAXUINT32, 0, 0, "client: like reconnect, in milliseconds",
        CS_GIVEN(reconnect_given)),
    DEFINE_PROP_UINT64("out-buffer-size", CharSocket, out_buffer_size,
        CHAR_SOCKET_OUT_MIN, CHAR_SOCKET_OUT_MAX, CHAR_SOCKET_OUT_DEFAULT, 0,
        "bytes queued toward a slow peer before writes are refused"),
    DEFINE_PROP_STR("tls-creds", CharSocket, tls_creds, NULL, 0,
        "id of a tls-creds-x509 or tls-creds-psk object: TLS on the "
        "connection (endpoint server for server=on)"),
    DEFINE_PROP_STR("tls-authz", CharSocket, tls_authz, NULL, 0,
        "server: id of an authz-simple or authz-list object the peer's "
        "identity must satisfy"),
};

static void char_socket_class_init(CharSocketClass *klass)
{
    GObjectClass *gc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    ChardevClass *cc = CHARDEV_BASE_CLASS(klass);

    gc->finalize = cs_finalize;
    uc->description = "stream socket (tcp or unix), server or client";
    uc->complete = cs_complete;
    uc->unparent = cs_unparent;
    char_socket_io_class_init(cc);
    cc->info = cs_info;

    object_class_install_props(gc, char_socket_props);
}

static void char_socket_init(CharSocket *s)
{
    static const RateLimit rl = RATE_LIMIT_INIT(5, 5000);

    s->rl = rl;
    sock_stream_init(&s->ss, &cs_stream_ops, s, G_OBJECT(s), "chardev",
                     &s->rl, "chardev-socket");
    s->ss.out = &s->out;
    g_mutex_init(&s->lock);
}

static void char_socket_register(void)
{
    object_type_register(OBJECT_KIND_CHARDEV, "socket", TYPE_CHAR_SOCKET);
}
type_init(char_socket_register)
