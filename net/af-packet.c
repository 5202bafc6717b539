/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/af-packet.c - the "af-packet" transport: an existing Linux network
 * interface (the host side of a VM's tap, a veth, a NIC), as a backend
 * and as a device.
 *
 * A raw AF_PACKET socket bound to 'ifname' sees every frame the interface
 * receives and sends what we give it as is:
 *
 *   - ETH_P_ALL, bound to the interface before anything is queued (the
 *     socket is created with protocol 0 and bound with ETH_P_ALL);
 *   - PACKET_IGNORE_OUTGOING: our own transmissions are not read back;
 *   - PACKET_MR_PROMISC: frames for other MAC addresses too (the guest's);
 *   - PACKET_AUXDATA: the kernel strips a VLAN tag on receive and reports
 *     it in tp_vlan_tci / tp_vlan_tpid; we put it back in front of the
 *     EtherType so the frame is reproduced byte-exact;
 *   - rcvbuf= / sndbuf= size the socket buffers (SO_*BUFFORCE as root);
 *   - frames are read in recvmmsg() batches of up to NET_BURST;
 *   - vnet_hdr=on: PACKET_VNET_HDR, frames carry the kernel's 10-byte
 *     virtio-net header (GSO, partial checksum), so offloaded frames pass
 *     through to a peer with a vnet header (another af-packet, a tap with
 *     vnet_hdr=on), whose kernel finishes them; for a peer without one we
 *     fill in partial checksums and drop GSO super-frames (drop-gso).
 *
 * Offloads without vnet_hdr: a frame the kernel hands us with a partial
 * checksum or as one GSO super-frame (TSO, GRO) cannot be re-sent as is;
 * turn offloads off on the interfaces colo-proxy bridges (ethtool -K IF
 * tx off tso off gso off gro off), see docs/netdevs.md.  Frames larger
 * than the interface MTU are dropped and counted (drop-oversize).
 *
 * Threads: main context only.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <sys/ioctl.h>
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
    AFP_BUF_SIZE = 65536 + 64,          /* a GSO frame, vnet header, tag */
    AFP_VLAN_HLEN = 4,                   /* TPID + TCI */
    AFP_SOCKBUF_DEFAULT = 4 * 1024 * 1024, /* rcvbuf= / sndbuf= */
};

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define NET_TYPE_AF_PACKET (net_af_packet_get_type())
G_DECLARE_FINAL_TYPE(NetAfPacket, net_af_packet, NET, AF_PACKET, NetClient)

struct _NetAfPacket {
    NetClient parent_instance;

    /* properties */
    char *ifname;             /* interface to bind to */
    guint rcvbuf;             /* SO_RCVBUF bytes, 0 = system default */
    guint sndbuf;             /* SO_SNDBUF bytes, 0 = system default */
    gboolean promisc;         /* PACKET_MR_PROMISC */
    gboolean vnet_hdr;        /* PACKET_VNET_HDR */
    /* state */
    unsigned hdr_len;         /* vnet header in front of our frames: 0, 10 */
    int fd;                   /* the packet socket, or -1 */
    int ifindex;              /* index of 'ifname' */
    FdWatch watch;         /* in: frames, out: room again */
    NetRxBatch batch;         /* receive buffers with VLAN headroom */
    gboolean read_enabled;    /* the core lets us send */
    uint64_t vlan_restored;   /* frames whose stripped tag we put back */
    uint64_t drop_truncated;  /* frames larger than a buffer */
    uint64_t drop_oversize;   /* sends the interface refused (EMSGSIZE) */
    uint64_t csum_partial;    /* frames read with a partial checksum */
    uint64_t csum_completed;  /* partial checksums we filled in */
    uint64_t drop_gso;        /* GSO frames a peer without vnet cannot take */
};

G_DEFINE_FINAL_TYPE(NetAfPacket, net_af_packet, NET_TYPE_CLIENT)

/* Puts a VLAN tag the kernel stripped back into the frame at 'buf' of
 * '*len' bytes (a vnet header of a->hdr_len bytes first, then Ethernet);
 * the batch reserved AFP_VLAN_HLEN bytes of headroom.  Returns the new
 * start of the frame. */
static uint8_t *afp_restore_vlan(NetAfPacket *a, uint8_t *buf, size_t *len,
                                 const struct msghdr *mh)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR((struct msghdr *)mh); cm;
         cm = CMSG_NXTHDR((struct msghdr *)mh, cm)) {
        struct tpacket_auxdata aux;
        size_t move = a->hdr_len + 2 * ETH_ALEN;
        uint16_t tpid, tci;
        uint8_t *tag;

        if (cm->cmsg_level != SOL_PACKET || cm->cmsg_type != PACKET_AUXDATA ||
            cm->cmsg_len < CMSG_LEN(sizeof(aux))) {
            continue;
        }
        memcpy(&aux, CMSG_DATA(cm), sizeof(aux));
        if (aux.tp_status & TP_STATUS_CSUMNOTREADY) {
            a->csum_partial++;
        }
        if (!(aux.tp_status & TP_STATUS_VLAN_VALID) && !aux.tp_vlan_tci) {
            return buf;
        }
        if (*len < move) {
            return buf;
        }
        tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ?
               aux.tp_vlan_tpid : ETH_P_8021Q;
        tci = aux.tp_vlan_tci;
        memmove(buf - AFP_VLAN_HLEN, buf, move);
        buf -= AFP_VLAN_HLEN;
        tag = buf + move;
        tag[0] = tpid >> 8;
        tag[1] = tpid & 0xff;
        tag[2] = tci >> 8;
        tag[3] = tci & 0xff;
        *len += AFP_VLAN_HLEN;
        if (a->hdr_len) {
            /* Offsets in the vnet header count from the Ethernet header,
             * which just grew by the tag. */
            struct virtio_net_hdr vh;

            memcpy(&vh, buf, sizeof(vh));
            if (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
                vh.csum_start += AFP_VLAN_HLEN;
            }
            if (vh.hdr_len) {
                vh.hdr_len += AFP_VLAN_HLEN;
            }
            memcpy(buf, &vh, sizeof(vh));
        }
        a->vlan_restored++;
        return buf;
    }
    return buf;
}

/* A frame read with a vnet header whose peer takes none: fill in a
 * partial checksum; a GSO super-frame cannot be passed on.  Returns FALSE
 * to drop the frame. */
static gboolean afp_finish_for_peer(NetAfPacket *a, uint8_t *buf, size_t len)
{
    NetClient *peer = net_client_get_peer(NET_CLIENT(a));
    struct virtio_net_hdr vh;

    if (peer && net_client_get_vnet_hdr_len(peer)) {
        return TRUE;            /* the peer handles offloads itself */
    }
    memcpy(&vh, buf, sizeof(vh));
    if (G_LIKELY(!vh.flags && vh.gso_type == VIRTIO_NET_HDR_GSO_NONE)) {
        return TRUE;
    }
    if (!net_vnet_finish(buf, len, a->hdr_len)) {
        a->drop_gso++;
        stats_inc(&net_client_get_stats(NET_CLIENT(a))->drop_error);
        LOG_WARN_RL("%s: GSO frame from %s dropped: its peer takes no vnet "
                     "header (turn off TSO/GSO or use vnet_hdr on both sides)",
                     user_object_get_id(USER_OBJECT(a)), a->ifname);
        return FALSE;
    }
    a->csum_completed++;
    return TRUE;
}

static void afp_read(NetAfPacket *a)
{
    NetClient *nc = NET_CLIENT(a);
    NetClientStats *st = net_client_get_stats(nc);
    unsigned nframes = 0;
    int n = net_rx_batch_recvmmsg(&a->batch, a->fd, NET_BURST);

    if (n < 0) {
        LOG_WARN_RL("%s: receive on %s failed: %s",
                     user_object_get_id(USER_OBJECT(a)), a->ifname,
                     g_strerror(-n));
        return;
    }
    for (int i = 0; i < n; i++) {
        struct mmsghdr *m = &a->batch.msgs[i];
        uint8_t *buf = net_rx_batch_buf(&a->batch, i);
        size_t len = m->msg_len;

        if (G_UNLIKELY(m->msg_hdr.msg_flags & MSG_TRUNC)) {
            a->drop_truncated++;
            stats_inc(&st->drop_malformed);
            LOG_WARN_RL("%s: frame larger than %u bytes on %s dropped",
                         user_object_get_id(USER_OBJECT(a)),
                         (unsigned)AFP_BUF_SIZE, a->ifname);
            continue;
        }
        if (G_UNLIKELY(len <= a->hdr_len)) {
            continue;
        }
        buf = afp_restore_vlan(a, buf, &len, &m->msg_hdr);
        if (a->hdr_len && !afp_finish_for_peer(a, buf, len)) {
            continue;
        }
        a->batch.frames[nframes] = buf;
        a->batch.lens[nframes] = len;
        nframes++;
    }
    if (nframes) {
        net_client_send_batch(nc, a->batch.frames, a->batch.lens, nframes);
    }
    if (a->fd >= 0 && !net_client_can_send(nc)) {
        a->read_enabled = FALSE;
        fd_watch_enable(&a->watch, G_IO_IN, FALSE);
    }
}

static void afp_ready(void *opaque, GIOCondition revents)
{
    NetAfPacket *a = opaque;

    g_object_ref(a);
    if ((revents & (G_IO_IN | G_IO_ERR | G_IO_HUP)) &&
        (a->watch.events & G_IO_IN)) {
        afp_read(a);
    } else if (revents & G_IO_ERR) {
        /* e.g. ENETDOWN while we are not reading: clear it. */
        sock_connect_finish(a->fd);
    }
    if ((revents & G_IO_OUT) && a->fd >= 0) {
        fd_watch_enable(&a->watch, G_IO_OUT, FALSE);
        net_client_flush(NET_CLIENT(a));
    }
    g_object_unref(a);
}

static gboolean afp_setsockopt(NetAfPacket *a, int level, int opt,
                               const void *val, socklen_t len,
                               const char *what, GError **errp)
{
    if (setsockopt(a->fd, level, opt, val, len) < 0) {
        error_setg(errp, "af-packet '%s': %s on %s failed: %s",
                   user_object_get_id(USER_OBJECT(a)), what, a->ifname,
                   g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

static void afp_set_buf(NetAfPacket *a, int force_opt, int opt, guint bytes)
{
    int v = bytes > G_MAXINT / 2 ? G_MAXINT / 2 : (int)bytes;

    if (!bytes) {
        return;
    }
    /* SO_*BUFFORCE ignores rmem_max/wmem_max (root); else the capped one. */
    if (setsockopt(a->fd, SOL_SOCKET, force_opt, &v, sizeof(v)) < 0) {
        setsockopt(a->fd, SOL_SOCKET, opt, &v, sizeof(v));
    }
}

static gboolean net_af_packet_complete(UserObject *obj, GError **errp)
{
    NetAfPacket *a = NET_AF_PACKET(obj);
    struct sockaddr_ll sll = { .sll_family = AF_PACKET };
    int one = 1;

    if (!a->ifname || !*a->ifname) {
        error_setg(errp, "Parameter 'ifname' is missing");
        return FALSE;
    }
    a->ifindex = if_nametoindex(a->ifname);
    if (!a->ifindex) {
        error_setg(errp, "af-packet '%s': no interface '%s': %s",
                   user_object_get_id(obj), a->ifname, g_strerror(errno));
        return FALSE;
    }
    a->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->fd < 0) {
        error_setg(errp, "af-packet '%s': cannot create a packet socket: %s%s",
                   user_object_get_id(obj), g_strerror(errno),
                   errno == EPERM ? " (needs CAP_NET_RAW)" : "");
        return FALSE;
    }
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = a->ifindex;
    if (bind(a->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
        error_setg(errp, "af-packet '%s': cannot bind to %s: %s",
                   user_object_get_id(obj), a->ifname, g_strerror(errno));
        return FALSE;
    }
    if (!afp_setsockopt(a, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one),
                        "PACKET_AUXDATA", errp)) {
        return FALSE;
    }
    if (setsockopt(a->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one,
                   sizeof(one)) < 0) {
        g_warning("af-packet '%s': PACKET_IGNORE_OUTGOING unsupported "
                  "(kernel < 4.20?): our own frames will be read back",
                  user_object_get_id(obj));
    }
    if (a->promisc) {
        struct packet_mreq mr = {
            .mr_ifindex = a->ifindex,
            .mr_type = PACKET_MR_PROMISC,
        };

        if (!afp_setsockopt(a, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
                            sizeof(mr), "PACKET_MR_PROMISC", errp)) {
            return FALSE;
        }
    }
    if (a->vnet_hdr) {
        if (!afp_setsockopt(a, SOL_PACKET, PACKET_VNET_HDR, &one,
                            sizeof(one), "PACKET_VNET_HDR", errp)) {
            return FALSE;
        }
        a->hdr_len = NET_VNET_HDR_BASE;
        net_client_set_vnet_hdr_len(NET_CLIENT(a), a->hdr_len);
    }
    afp_set_buf(a, SO_RCVBUFFORCE, SO_RCVBUF, a->rcvbuf);
    afp_set_buf(a, SO_SNDBUFFORCE, SO_SNDBUF, a->sndbuf);
    net_rx_batch_init(&a->batch, AFP_BUF_SIZE, AFP_VLAN_HLEN,
                      CMSG_SPACE(sizeof(struct tpacket_auxdata)));
    fd_watch_start(&a->watch, a->fd, G_IO_IN, afp_ready, a,
                       "colo-net-af-packet");
    return net_client_complete(obj, errp);
}

static void net_af_packet_stop(NetAfPacket *a)
{
    fd_watch_stop(&a->watch);
    if (a->fd >= 0) {
        close(a->fd);          /* drops the promiscuous membership too */
        a->fd = -1;
    }
    net_rx_batch_destroy(&a->batch);
}

static void net_af_packet_unparent(UserObject *obj)
{
    net_af_packet_stop(NET_AF_PACKET(obj));
    USER_OBJECT_CLASS(net_af_packet_parent_class)->unparent(obj);
}

static void net_af_packet_finalize(GObject *obj)
{
    NetAfPacket *a = NET_AF_PACKET(obj);

    net_af_packet_stop(a);
    G_OBJECT_CLASS(net_af_packet_parent_class)->finalize(obj);
}

static gssize net_af_packet_receive(NetClient *nc, const uint8_t *buf,
                                    size_t len)
{
    NetAfPacket *a = NET_AF_PACKET(nc);
    NetClientStats *st = net_client_get_stats(nc);
    uint8_t hdr[NET_VNET_HDR_BASE];
    struct iovec iov[2];
    struct msghdr mh = { .msg_iov = iov };
    int iovcnt = net_vnet_iov(nc, a->hdr_len, buf, len, hdr, iov);
    ssize_t n;

    if (G_UNLIKELY(iovcnt < 0 || iov[iovcnt - 1].iov_len < ETH_HLEN)) {
        stats_inc(&st->drop_malformed);
        return -EINVAL;
    }
    if (G_UNLIKELY(a->fd < 0)) {
        stats_inc(&st->drop_error);
        return -ENOTCONN;
    }
    mh.msg_iovlen = iovcnt;
    do {
        n = sendmsg(a->fd, &mh, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (G_LIKELY(n >= 0)) {
        return len;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        fd_watch_enable(&a->watch, G_IO_OUT, TRUE);
        return 0;
    }
    stats_inc(&st->drop_error);
    if (errno == EMSGSIZE) {
        a->drop_oversize++;
        LOG_WARN_RL("%s: %zu-byte frame larger than the MTU of %s dropped "
                     "(turn off TSO/GSO/GRO, or vnet_hdr=on on both sides)",
                     user_object_get_id(USER_OBJECT(a)),
                     iov[iovcnt - 1].iov_len, a->ifname);
    } else {
        LOG_WARN_RL("%s: send on %s failed: %s",
                     user_object_get_id(USER_OBJECT(a)), a->ifname,
                     g_strerror(errno));
    }
    return -errno;
}

static void net_af_packet_read_poll(NetClient *nc, gboolean enable)
{
    NetAfPacket *a = NET_AF_PACKET(nc);

    a->read_enabled = enable;
    fd_watch_enable(&a->watch, G_IO_IN, enable);
}

static void net_af_packet_fill_stats(NetClient *nc, void *obj)
{
    NetAfPacket *a = NET_AF_PACKET(nc);

    json_object_set_int_member(obj, "vlan-restored", a->vlan_restored);
    json_object_set_int_member(obj, "drop-truncated", a->drop_truncated);
    json_object_set_int_member(obj, "drop-oversize", a->drop_oversize);
    json_object_set_int_member(obj, "csum-partial", a->csum_partial);
    json_object_set_int_member(obj, "csum-completed", a->csum_completed);
    json_object_set_int_member(obj, "drop-gso", a->drop_gso);
}

static void net_af_packet_init(NetAfPacket *a)
{
    a->fd = -1;
    a->read_enabled = TRUE;
}

static const PropDef net_af_packet_props[] = {
    DEFINE_PROP_STR("ifname", NetAfPacket, ifname, NULL, PROP_REQUIRED,
        "interface to bind to (required)"),
    DEFINE_PROP_UINT("rcvbuf", NetAfPacket, rcvbuf, 0, G_MAXINT / 2,
        AFP_SOCKBUF_DEFAULT, 0,
        "socket receive buffer in bytes (0: system default)"),
    DEFINE_PROP_UINT("sndbuf", NetAfPacket, sndbuf, 0, G_MAXINT / 2,
        AFP_SOCKBUF_DEFAULT, 0,
        "socket send buffer in bytes (0: system default)"),
    DEFINE_PROP_BOOL("promisc", NetAfPacket, promisc, TRUE, 0,
        "receive frames for every MAC address"),
    DEFINE_PROP_BOOL("vnet_hdr", NetAfPacket, vnet_hdr, FALSE, 0,
        "frames carry a 10-byte virtio-net header (PACKET_VNET_HDR): "
        "offloaded frames (TSO, partial checksums) pass through"),
};

static void net_af_packet_class_init(NetAfPacketClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);
    NetClientClass *nc = NET_CLIENT_CLASS(klass);

    oc->finalize = net_af_packet_finalize;
    uc->description = "an existing network interface through a raw "
                      "AF_PACKET socket";
    uc->complete = net_af_packet_complete;
    uc->unparent = net_af_packet_unparent;
    nc->receive = net_af_packet_receive;
    nc->read_poll = net_af_packet_read_poll;
    nc->fill_stats = net_af_packet_fill_stats;

    object_class_install_props(oc, net_af_packet_props);
}

static void net_af_packet_register(void)
{
    object_type_register(OBJECT_KIND_NETDEV, "af-packet", NET_TYPE_AF_PACKET);
    object_type_register(OBJECT_KIND_DEVICE, "af-packet", NET_TYPE_AF_PACKET);
}
type_init(net_af_packet_register)
