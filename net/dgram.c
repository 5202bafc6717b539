/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/dgram.c - the "dgram" transport (QEMU 7.2's -netdev dgram), as a
 * backend and as a device.
 *
 * One Ethernet frame per datagram, no length prefix, over UDP or a unix
 * datagram socket:
 *
 *   local.type=inet|unix|fd  local.host, local.port | local.path | local.str
 *   remote.type=inet|unix    remote.host, remote.port | remote.path
 *
 * Frames are read in recvmmsg() batches of up to NET_BURST, and written
 * in sendmmsg() batches: receive() copies each frame into an output batch
 * sent when it is full or at the start of the next main-loop iteration;
 * when the batch is full and the socket takes no more, receive() returns
 * 0 until the socket is writable again (net/dgram-port.c's NetDgramPort).
 * Without remote.*, frames go to whoever sent us the last datagram (a
 * point-to-point peer that speaks first), and are dropped and counted
 * (drop_no_dest) before that.
 * Multicast remote addresses are not supported.
 *
 * Threads: main context only.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "net/dgram-port.h"
#include "qom/props.h"
#include "util/sockaddr.h"
#include "util/socket.h"
#include "net/net.h"
#include "util/error.h"

#define NET_TYPE_DGRAM (net_dgram_get_type())
G_DECLARE_FINAL_TYPE(NetDgram, net_dgram, NET, DGRAM, NetClient)

struct _NetDgram {
    NetClient parent_instance;

    /* properties */
    char *local_type;         /* local.type: inet, unix, fd */
    char *local_host;         /* local.host */
    char *local_port;         /* local.port */
    char *local_path;         /* local.path */
    char *local_str;          /* local.str (fd number) */
    char *remote_type;        /* remote.type: inet, unix */
    char *remote_host;        /* remote.host */
    char *remote_port;        /* remote.port */
    char *remote_path;        /* remote.path */
    /* state */
    NetDgramPort port;        /* the socket and its I/O */
    char *unlink_path;        /* our bound unix path, removed at the end */
};

G_DEFINE_FINAL_TYPE(NetDgram, net_dgram, NET_TYPE_CLIENT)

/* Builds the address of one end ("local" or "remote") from its options. */
static gboolean dgram_addr(SockAddr *a, const char *end, const char *type,
                           const char *host, const char *port,
                           const char *path, gboolean passive,
                           GError **errp)
{
    if (!strcmp(type, "inet") || !strcmp(type, "unix")) {
        return sockaddr_from_fields(a, end, type, host, port, path, FALSE,
                                    TRUE, passive, errp);
    }
    error_setg(errp, "Parameter '%s.type' does not accept value '%s' "
               "(expected inet or unix%s)", end, type,
               passive ? " or fd" : "");
    return FALSE;
}

static gboolean net_dgram_complete(UserObject *obj, GError **errp)
{
    NetDgram *d = NET_DGRAM(obj);
    SockAddr local;
    char name[160];
    int fd, one = 1;

    if (!d->local_type) {
        error_setg(errp, "Parameter 'local' is missing (multicast-only "
                   "remote addresses are not supported)");
        return FALSE;
    }
    if (!strcmp(d->local_type, "fd")) {
        if (d->remote_type) {
            error_setg(errp, "'remote' is not supported with "
                       "local.type=fd");
            return FALSE;
        }
        fd = sock_fd_from_str(d->local_str, "local.str", errp);
        if (fd < 0) {
            return FALSE;
        }
        d->port.connected = TRUE;
        net_dgram_port_start(&d->port, NET_CLIENT(d), fd);
        return net_client_complete(obj, errp);
    }
    if (!dgram_addr(&local, "local", d->local_type, d->local_host,
                    d->local_port, d->local_path, TRUE, errp)) {
        return FALSE;
    }
    if (d->remote_type) {
        if (strcmp(d->remote_type, d->local_type)) {
            error_setg(errp, "'local' and 'remote' must have the same type");
            return FALSE;
        }
        if (!dgram_addr(&d->port.dest, "remote", d->remote_type,
                        d->remote_host, d->remote_port, d->remote_path,
                        FALSE, errp)) {
            return FALSE;
        }
        d->port.has_dest = TRUE;
    } else {
        d->port.learn_dest = TRUE;
    }
    if (local.ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const void *)&local.ss;
        struct stat st;

        if (stat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            unlink(un->sun_path);
        }
    }
    fd = sock_new(&local, SOCK_DGRAM, errp);
    if (fd < 0) {
        return FALSE;
    }
    if (local.ss.ss_family != AF_UNIX) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (bind(fd, (const struct sockaddr *)&local.ss, local.len) < 0) {
        error_setg(errp, "can't bind %s: %s",
                   sockaddr_str(&local, name, sizeof(name)),
                   g_strerror(errno));
        close(fd);
        return FALSE;
    }
    if (local.ss.ss_family == AF_UNIX) {
        d->unlink_path = g_strdup(d->local_path);
    }
    net_dgram_port_start(&d->port, NET_CLIENT(d), fd);
    return net_client_complete(obj, errp);
}

static void net_dgram_stop(NetDgram *d)
{
    net_dgram_port_stop(&d->port);
    if (d->unlink_path) {
        unlink(d->unlink_path);
        g_clear_pointer(&d->unlink_path, g_free);
    }
}

static void net_dgram_unparent(UserObject *obj)
{
    net_dgram_stop(NET_DGRAM(obj));
    USER_OBJECT_CLASS(net_dgram_parent_class)->unparent(obj);
}

static void net_dgram_finalize(GObject *obj)
{
    NetDgram *d = NET_DGRAM(obj);

    net_dgram_stop(d);
    G_OBJECT_CLASS(net_dgram_parent_class)->finalize(obj);
}

static gssize net_dgram_receive(NetClient *nc, const uint8_t *buf,
                                size_t len)
{
    return net_dgram_port_receive(&NET_DGRAM(nc)->port, buf, len);
}

static void net_dgram_read_poll(NetClient *nc, gboolean enable)
{
    net_dgram_port_read_poll(&NET_DGRAM(nc)->port, enable);
}

static void net_dgram_fill_stats(NetClient *nc, void *obj)
{
    net_dgram_port_fill_stats(&NET_DGRAM(nc)->port, obj);
}

static void net_dgram_init(NetDgram *d)
{
    d->port.fd = -1;
}

static const PropDef net_dgram_props[] = {
    DEFINE_PROP_STR("local.type", NetDgram, local_type, NULL, 0,
        "local address type: inet, unix or fd"),
    DEFINE_PROP_STR("local.host", NetDgram, local_host, NULL, 0,
        "inet: local address to bind"),
    DEFINE_PROP_STR("local.port", NetDgram, local_port, NULL, 0,
        "inet: local port to bind"),
    DEFINE_PROP_STR("local.path", NetDgram, local_path, NULL, 0,
        "unix: local socket path to bind"),
    DEFINE_PROP_STR("local.str", NetDgram, local_str, NULL, 0,
        "fd: number of an inherited connected datagram socket"),
    DEFINE_PROP_STR("remote.type", NetDgram, remote_type, NULL, 0,
        "remote address type: inet or unix (default: answer the last "
        "sender)"),
    DEFINE_PROP_STR("remote.host", NetDgram, remote_host, NULL, 0,
        "inet: address frames are sent to"),
    DEFINE_PROP_STR("remote.port", NetDgram, remote_port, NULL, 0,
        "inet: port frames are sent to"),
    DEFINE_PROP_STR("remote.path", NetDgram, remote_path, NULL, 0,
        "unix: socket path frames are sent to"),
};

static void net_dgram_class_init(NetDgramClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetClientClass *nc = NET_CLIENT_CLASS(klass);

    oc->finalize = net_dgram_finalize;
    uc->description = "one Ethernet frame per UDP or unix datagram "
                      "(QEMU's -netdev dgram)";
    uc->complete = net_dgram_complete;
    uc->unparent = net_dgram_unparent;
    nc->receive = net_dgram_receive;
    nc->read_poll = net_dgram_read_poll;
    nc->fill_stats = net_dgram_fill_stats;

    object_class_install_props(oc, net_dgram_props);
}

static void net_dgram_register(void)
{
    object_type_register(OBJECT_KIND_NETDEV, "dgram", NET_TYPE_DGRAM);
    object_type_register(OBJECT_KIND_DEVICE, "dgram", NET_TYPE_DGRAM);
}
type_init(net_dgram_register)
