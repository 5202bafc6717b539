/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/tap.c - the "tap" transport: a Linux tap interface, as a backend
 * and as a device.
 *
 * Opens /dev/net/tun and creates the tap 'ifname' (or attaches to an
 * existing persistent one) with IFF_TAP | IFF_NO_PI, or adopts an
 * inherited tap fd (fd=N), and brings the interface up.  QEMU's options:
 *
 *   ifname=NAME           default: the kernel picks tapN
 *   script=, downscript=  "no" (our default) or a program run as QEMU
 *                         does: "SCRIPT IFNAME" after creation, and the
 *                         downscript when the netdev goes away
 *   vnet_hdr=on|off       IFF_VNET_HDR: frames carry a 12-byte virtio-net
 *                         header (net_client_set_vnet_hdr_len(12))
 *   fd=N                  an inherited tap fd (vnet_hdr from its flags)
 *   vhost=off             accepted; vhost=on is an error (no guest here)
 *   helper=PATH           accepted with a warning: colo-proxy runs no
 *                         bridge helper; it creates a tap named after the
 *                         netdev id instead (or a kernel-named one if that
 *                         name is taken), to be bridged by the user
 *   sndbuf=N              TUNSETSNDBUF
 *
 * Frames are read with up to NET_BURST read()s per wake-up into buffers
 * allocated once and handed to the core as one batch.  A write the tap
 * cannot take now (EAGAIN) makes receive() return 0 until it is writable.
 * When the sender's vnet header differs from ours (a stream device
 * without one, an af-packet with its 10-byte one), it is replaced on the
 * way out by one of our size carrying the common virtio_net_hdr fields,
 * or zeros (net_vnet_iov()).
 *
 * Threads: main context only.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <json-glib/json-glib.h>

#include "qom/props.h"
#include "net/rx-batch.h"
#include "net/vnet-hdr.h"
#include "util/fd-watch.h"
#include "util/sockaddr.h"
#include "util/socket.h"
#include "net/net.h"
#include "util/error.h"
#include "util/stats.h"
#include "util/log.h"

enum {
    TAP_VNET_HDR_LEN = 12,             /* virtio_net_hdr_mrg_rxbuf */
    TAP_BUF_SIZE = 65536 + 64,         /* a frame and any vnet header */
};

#define NET_TYPE_TAP (net_tap_get_type())
G_DECLARE_FINAL_TYPE(NetTap, net_tap, NET, TAP, NetClient)

struct _NetTap {
    NetClient parent_instance;

    /* properties */
    char *ifname;             /* interface name (in: wanted, out: actual) */
    char *script;             /* up script or "no" */
    char *downscript;         /* down script or "no" */
    gboolean vnet_hdr;        /* IFF_VNET_HDR */
    gboolean vnet_hdr_set;    /* vnet_hdr was given explicitly */
    char *fd;                 /* fd=N */
    gboolean vhost;           /* vhost=on is refused */
    char *helper;             /* helper=PATH (not run) */
    guint sndbuf;             /* TUNSETSNDBUF bytes, 0 = default */
    guint queues;             /* queues=N, only 1 */
    /* state */
    int tapfd;                /* the tap, or -1 */
    char actual_ifname[IFNAMSIZ]; /* name the kernel gave the tap */
    gboolean run_downscript;  /* the up script ran: run the down script */
    unsigned hdr_len;         /* our vnet header length (0 or 12) */
    FdWatch watch;         /* in: frames, out: room again */
    NetRxBatch batch;         /* receive buffers */
    gboolean read_enabled;    /* the core lets us send */
};

G_DEFINE_FINAL_TYPE(NetTap, net_tap, NET_TYPE_CLIENT)

static const char *tap_id(NetTap *t)
{
    return user_object_get_id(USER_OBJECT(t));
}

static gboolean tap_script_wanted(const char *script)
{
    return script && *script && strcmp(script, "no") != 0;
}

/* Runs "SCRIPT IFNAME" and waits for it, as QEMU does. */
static gboolean tap_run_script(NetTap *t, const char *script, GError **errp)
{
    const char *argv[] = { script, t->actual_ifname, NULL };
    g_autoptr(GError) err = NULL;
    int status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                      NULL, NULL, &status, &err)) {
        error_setg(errp, "tap '%s': could not launch network script %s: %s",
                   tap_id(t), script, err->message);
        return FALSE;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        error_setg(errp, "tap '%s': network script %s failed with status %d",
                   tap_id(t), script, status);
        return FALSE;
    }
    return TRUE;
}

static void tap_bring_up(NetTap *t)
{
    struct ifreq ifr = { 0 };
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (s < 0) {
        return;
    }
    g_strlcpy(ifr.ifr_name, t->actual_ifname, IFNAMSIZ);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
            g_warning("tap '%s': cannot bring %s up: %s", tap_id(t),
                      t->actual_ifname, g_strerror(errno));
        }
    }
    close(s);
}

/* Opens (creates or attaches to) the tap.  Returns FALSE with errp set. */
static gboolean tap_open(NetTap *t, const char *name, GError **errp)
{
    struct ifreq ifr = { 0 };

    t->tapfd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (t->tapfd < 0) {
        error_setg(errp, "tap '%s': could not open /dev/net/tun: %s%s",
                   tap_id(t), g_strerror(errno),
                   errno == EACCES || errno == EPERM ?
                   " (needs CAP_NET_ADMIN)" : "");
        return FALSE;
    }
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (t->vnet_hdr ? IFF_VNET_HDR : 0);
    if (name) {
        g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
    }
    if (ioctl(t->tapfd, TUNSETIFF, &ifr) < 0) {
        error_setg(errp, "tap '%s': could not configure %s: %s%s", tap_id(t),
                   name ? name : "a new tap", g_strerror(errno),
                   errno == EBUSY ? " (the tap is in use, e.g. by a VM; "
                   "use -netdev af-packet,ifname=... to attach to it)" :
                   errno == EINVAL ? " (an interface of another type has "
                   "this name?)" : "");
        return FALSE;
    }
    g_strlcpy(t->actual_ifname, ifr.ifr_name, IFNAMSIZ);
    return TRUE;
}

static gboolean tap_adopt_fd(NetTap *t, GError **errp)
{
    struct ifreq ifr = { 0 };

    t->tapfd = sock_fd_from_str(t->fd, "fd", errp);
    if (t->tapfd < 0) {
        return FALSE;
    }
    if (ioctl(t->tapfd, TUNGETIFF, &ifr) < 0) {
        error_setg(errp, "tap '%s': fd=%s is not a tap: %s", tap_id(t), t->fd,
                   g_strerror(errno));
        return FALSE;
    }
    if (!(ifr.ifr_flags & IFF_TAP)) {
        error_setg(errp, "tap '%s': fd=%s is a tun, not a tap", tap_id(t),
                   t->fd);
        return FALSE;
    }
    g_strlcpy(t->actual_ifname, ifr.ifr_name, IFNAMSIZ);
    if (t->vnet_hdr_set && t->vnet_hdr && !(ifr.ifr_flags & IFF_VNET_HDR)) {
        error_setg(errp, "tap '%s': vnet_hdr=on but fd=%s was opened "
                   "without IFF_VNET_HDR", tap_id(t), t->fd);
        return FALSE;
    }
    t->vnet_hdr = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
    return TRUE;
}

static void tap_read(NetTap *t)
{
    NetClient *nc = NET_CLIENT(t);
    unsigned n = 0;

    while (n < NET_BURST) {
        uint8_t *buf = net_rx_batch_buf(&t->batch, n);
        ssize_t r;

        do {
            r = read(t->tapfd, buf, t->batch.buf_size);
        } while (r < 0 && errno == EINTR);
        if (r <= 0) {
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                LOG_WARN_RL("%s: read from %s failed: %s", tap_id(t),
                             t->actual_ifname, g_strerror(errno));
            }
            break;
        }
        if (G_UNLIKELY((size_t)r <= t->hdr_len)) {
            stats_inc(&net_client_get_stats(nc)->drop_malformed);
            continue;
        }
        t->batch.frames[n] = buf;
        t->batch.lens[n] = r;
        n++;
    }
    if (n) {
        net_client_send_batch(nc, t->batch.frames, t->batch.lens, n);
    }
    if (t->tapfd >= 0 && !net_client_can_send(nc)) {
        t->read_enabled = FALSE;
        fd_watch_enable(&t->watch, G_IO_IN, FALSE);
    }
}

static void tap_ready(void *opaque, GIOCondition revents)
{
    NetTap *t = opaque;

    g_object_ref(t);
    if ((revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) &&
        (t->watch.events & G_IO_IN)) {
        tap_read(t);
    }
    if ((revents & G_IO_OUT) && t->tapfd >= 0) {
        fd_watch_enable(&t->watch, G_IO_OUT, FALSE);
        net_client_flush(NET_CLIENT(t));
    }
    g_object_unref(t);
}

static gboolean net_tap_complete(UserObject *obj, GError **errp)
{
    NetTap *t = NET_TAP(obj);
    const char *name = t->ifname;
    g_autofree char *helper_name = NULL;

    if (t->vhost) {
        error_setg(errp, "tap '%s': vhost=on is not supported: colo-proxy "
                   "has no guest memory for vhost-net to use", tap_id(t));
        return FALSE;
    }
    if (t->queues > 1) {
        error_setg(errp, "tap '%s': multiqueue (queues=%u) is not supported",
                   tap_id(t), t->queues);
        return FALSE;
    }
    if (t->fd && (t->ifname || t->helper || tap_script_wanted(t->script))) {
        error_setg(errp, "ifname=, script=, downscript=, helper= are "
                   "invalid with fd=");
        return FALSE;
    }
    if (t->helper && !name) {
        /* The seed command lines name a bridge helper; we do not run
         * setuid helpers.  Make a tap named after the id instead. */
        helper_name = g_strndup(tap_id(t), IFNAMSIZ - 1);
        name = helper_name;
    }
    if (t->fd) {
        if (!tap_adopt_fd(t, errp)) {
            return FALSE;
        }
    } else if (!tap_open(t, name, helper_name ? NULL : errp)) {
        if (!helper_name) {
            return FALSE;
        }
        /* The id's name is taken (another process's tap): any name will
         * do for a tap the user bridges by hand. */
        if (t->tapfd >= 0) {
            close(t->tapfd);
            t->tapfd = -1;
        }
        if (!tap_open(t, NULL, errp)) {
            g_prefix_error(errp, "colo-proxy does not run bridge helpers, "
                           "and creating a tap instead failed: ");
            return FALSE;
        }
    }
    if (t->helper) {
        g_warning("tap '%s': helper=%s ignored: colo-proxy does not run "
                  "bridge helpers; using tap '%s', add it to your bridge "
                  "yourself (ip link set %s master BRIDGE)", tap_id(t),
                  t->helper, t->actual_ifname, t->actual_ifname);
    }
    if (t->vnet_hdr) {
        int len = TAP_VNET_HDR_LEN;

        if (ioctl(t->tapfd, TUNSETVNETHDRSZ, &len) < 0) {
            error_setg(errp, "tap '%s': TUNSETVNETHDRSZ failed: %s",
                       tap_id(t), g_strerror(errno));
            return FALSE;
        }
        t->hdr_len = TAP_VNET_HDR_LEN;
        net_client_set_vnet_hdr_len(NET_CLIENT(t), TAP_VNET_HDR_LEN);
    }
    if (t->sndbuf) {
        int v = t->sndbuf > G_MAXINT ? G_MAXINT : (int)t->sndbuf;

        ioctl(t->tapfd, TUNSETSNDBUF, &v);
    }
    tap_bring_up(t);
    if (!t->fd && tap_script_wanted(t->script)) {
        if (!tap_run_script(t, t->script, errp)) {
            return FALSE;
        }
    }
    t->run_downscript = !t->fd && tap_script_wanted(t->downscript);
    net_rx_batch_init(&t->batch, TAP_BUF_SIZE, 0, 0);
    fd_watch_start(&t->watch, t->tapfd, G_IO_IN, tap_ready, t,
                       "colo-net-tap");
    return net_client_complete(obj, errp);
}

static void net_tap_stop(NetTap *t)
{
    fd_watch_stop(&t->watch);
    if (t->run_downscript) {
        g_autoptr(GError) err = NULL;

        t->run_downscript = FALSE;
        if (!tap_run_script(t, t->downscript, &err)) {
            g_warning("%s", err->message);
        }
    }
    if (t->tapfd >= 0) {
        close(t->tapfd);
        t->tapfd = -1;
    }
    net_rx_batch_destroy(&t->batch);
}

static void net_tap_unparent(UserObject *obj)
{
    net_tap_stop(NET_TAP(obj));
    USER_OBJECT_CLASS(net_tap_parent_class)->unparent(obj);
}

static void net_tap_finalize(GObject *obj)
{
    NetTap *t = NET_TAP(obj);

    net_tap_stop(t);
    G_OBJECT_CLASS(net_tap_parent_class)->finalize(obj);
}

static gssize net_tap_receive(NetClient *nc, const uint8_t *buf, size_t len)
{
    NetTap *t = NET_TAP(nc);
    NetClientStats *st = net_client_get_stats(nc);
    uint8_t hdr[TAP_VNET_HDR_LEN];
    struct iovec iov[2];
    int iovcnt = net_vnet_iov(nc, t->hdr_len, buf, len, hdr, iov);
    ssize_t n;

    if (G_UNLIKELY(iovcnt < 0)) {
        stats_inc(&st->drop_malformed);
        return -EINVAL;
    }
    if (G_UNLIKELY(t->tapfd < 0)) {
        stats_inc(&st->drop_error);
        return -ENOTCONN;
    }
    do {
        n = writev(t->tapfd, iov, iovcnt);
    } while (n < 0 && errno == EINTR);
    if (G_LIKELY(n >= 0)) {
        return len;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        fd_watch_enable(&t->watch, G_IO_OUT, TRUE);
        return 0;
    }
    stats_inc(&st->drop_error);
    LOG_WARN_RL("%s: write to %s failed: %s", tap_id(t), t->actual_ifname,
                 g_strerror(errno));
    return -errno;
}

static void net_tap_read_poll(NetClient *nc, gboolean enable)
{
    NetTap *t = NET_TAP(nc);

    t->read_enabled = enable;
    fd_watch_enable(&t->watch, G_IO_IN, enable);
}

static void net_tap_fill_stats(NetClient *nc, void *obj)
{
    NetTap *t = NET_TAP(nc);

    json_object_set_string_member(obj, "ifname", t->actual_ifname);
    json_object_set_boolean_member(obj, "vnet-hdr", t->hdr_len != 0);
}

static void net_tap_init(NetTap *t)
{
    t->tapfd = -1;
    t->read_enabled = TRUE;
}

/* ifname= reads back the name the kernel gave the tap once it exists. */
static void net_tap_ifname_get(UserObject *obj, GValue *value)
{
    NetTap *t = NET_TAP(obj);

    g_value_set_string(value, t->actual_ifname[0] ? t->actual_ifname
                                                   : t->ifname);
}

static const PropDef net_tap_props[] = {
    DEFINE_PROP_STR("ifname", NetTap, ifname, NULL, 0,
        "tap name (created if absent; default: the kernel picks tapN)",
        .get = net_tap_ifname_get),
    DEFINE_PROP_STR("script", NetTap, script, "no", 0,
        "program run as 'SCRIPT IFNAME' after the tap is up, or 'no'"),
    DEFINE_PROP_STR("downscript", NetTap, downscript, "no", 0,
        "program run as 'SCRIPT IFNAME' when the netdev goes away, or 'no'"),
    DEFINE_PROP_BOOL("vnet_hdr", NetTap, vnet_hdr, FALSE, 0,
        "frames carry a 12-byte virtio-net header (IFF_VNET_HDR)",
        .given = PROP_FIELD(NetTap, vnet_hdr_set, gboolean)),
    DEFINE_PROP_STR("fd", NetTap, fd, NULL, 0,
        "number of an inherited, configured tap fd"),
    DEFINE_PROP_BOOL("vhost", NetTap, vhost, FALSE, 0,
        "vhost-net (only 'off' is supported)"),
    DEFINE_PROP_STR("helper", NetTap, helper, NULL, 0,
        "accepted for compatibility and not run; a tap named after the id "
        "is created instead"),
    DEFINE_PROP_UINT("sndbuf", NetTap, sndbuf, 0, G_MAXUINT, 0, 0,
        "tap send buffer in bytes (0: default)"),
    DEFINE_PROP_UINT("queues", NetTap, queues, 1, 1024, 1, 0,
        "number of queues (only 1)"),
};

static void net_tap_class_init(NetTapClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetClientClass *nc = NET_CLIENT_CLASS(klass);

    oc->finalize = net_tap_finalize;
    uc->description = "a Linux tap interface, created or attached to";
    uc->complete = net_tap_complete;
    uc->unparent = net_tap_unparent;
    nc->receive = net_tap_receive;
    nc->read_poll = net_tap_read_poll;
    nc->fill_stats = net_tap_fill_stats;

    object_class_install_props(oc, net_tap_props);
}

static void net_tap_register(void)
{
    object_type_register(OBJECT_KIND_NETDEV, "tap", NET_TYPE_TAP);
    object_type_register(OBJECT_KIND_DEVICE, "tap", NET_TYPE_TAP);
}
type_init(net_tap_register)
