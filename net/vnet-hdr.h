/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/vnet-hdr.h - the virtio-net header a frame may carry (private).
 *
 * Skip, convert or finish the virtio-net header of frames exchanged with a
 * tap (vnet_hdr=on) or an AF_PACKET socket (vnet_hdr=on).  Never allocate.
 *
 * Threads: any; they touch only the frame and the clients' fixed formats.
 */
#ifndef NET_VNET_HDR_H
#define NET_VNET_HDR_H

#include <glib.h>
#include <stdint.h>
#include <sys/uio.h>
#include "net/net.h"

/* Frames delivered to a client's receive() carry the sending client's
 * vnet header: a device gets the netdev's frames, a netdev gets its
 * device's frames (or, without a device, frames in its own format, as a
 * filter injects them).  Returns the number of leading bytes of a frame of
 * 'len' bytes to skip so that only the Ethernet frame remains, or -1 when
 * the frame is shorter than that. */
static inline gssize net_vnet_skip(NetClient *nc, size_t len)
{
    NetClient *from = net_client_get_peer(nc);
    unsigned hdr = net_client_get_vnet_hdr_len(from ? from : nc);

    return len < hdr ? -1 : (gssize)hdr;
}

/* struct virtio_net_hdr (Linux <linux/virtio_net.h>): the part every vnet
 * header starts with; a tap's 12-byte header adds num_buffers. */
enum { NET_VNET_HDR_BASE = 10 };

/* Prepares the iovecs that write the frame 'buf' ('len' bytes, in the
 * format of the client that sent it to 'nc', see net_vnet_skip())
 * with a vnet header of 'our_hdr' bytes: as is when the formats match,
 * else with the sender's header replaced by 'scratch' (>= our_hdr bytes),
 * which gets the common virtio_net_hdr fields of the sender's header, or
 * zeros.  Returns the number of iovecs (1 or 2), or -1 when the frame is
 * shorter than the sender's header. */
int net_vnet_iov(NetClient *nc, unsigned our_hdr, const uint8_t *buf,
                 size_t len, uint8_t *scratch, struct iovec iov[2]);

/* Completes in software the checksum a virtio-net header at 'frame'
 * ('hdr' bytes of header, then the Ethernet frame, 'len' bytes in all)
 * leaves to the device (VIRTIO_NET_HDR_F_NEEDS_CSUM), and clears the
 * flag.  Returns FALSE for a GSO frame or bad offsets (the frame cannot
 * be sent without a vnet header). */
gboolean net_vnet_finish(uint8_t *frame, size_t len, unsigned hdr);

#endif /* NET_VNET_HDR_H */
