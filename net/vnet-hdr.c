/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/vnet-hdr.c - see net/vnet-hdr.h for the contract.
 */
#include <string.h>
#include <netinet/in.h>
#include <linux/virtio_net.h>

#include "net/checksum.h"
#include "net/vnet-hdr.h"

int net_vnet_iov(NetClient *nc, unsigned our_hdr, const uint8_t *buf,
                 size_t len, uint8_t *scratch, struct iovec iov[2])
{
    gssize skip = net_vnet_skip(nc, len);
    int n = 0;

    if (skip < 0) {
        return -1;
    }
    if ((size_t)skip == our_hdr) {
        iov[0] = (struct iovec){ (void *)buf, len };
        return 1;
    }
    if (our_hdr) {
        size_t common = MIN(MIN((size_t)skip, (size_t)our_hdr),
                            (size_t)NET_VNET_HDR_BASE);

        memset(scratch, 0, our_hdr);
        if (common == NET_VNET_HDR_BASE) {
            /* Both have a virtio_net_hdr: keep the offload information. */
            memcpy(scratch, buf, common);
        }
        iov[n++] = (struct iovec){ scratch, our_hdr };
    }
    iov[n++] = (struct iovec){ (void *)(buf + skip), len - skip };
    return n;
}

gboolean net_vnet_finish(uint8_t *frame, size_t len, unsigned hdr)
{
    struct virtio_net_hdr vh;
    uint8_t *eth = frame + hdr;
    size_t elen;
    size_t start, at;
    uint16_t c;

    if (hdr < sizeof(vh) || len < hdr) {
        return FALSE;
    }
    memcpy(&vh, frame, sizeof(vh));
    if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
        return FALSE;
    }
    if (!(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
        return TRUE;
    }
    elen = len - hdr;
    start = vh.csum_start;
    at = start + vh.csum_offset;
    if (start >= elen || at + 2 > elen) {
        return FALSE;
    }
    /* The field holds the pseudo-header sum; sum everything from
     * csum_start on (RFC 1071) and store the complement. */
    c = csum_buf(eth + start, elen - start);
    if (c == 0) {
        c = 0xffff;             /* same value; UDP reserves 0 for "none" */
    }
    packet_store_be16(eth + at, c);
    vh.flags &= ~VIRTIO_NET_HDR_F_NEEDS_CSUM;
    memcpy(frame, &vh, sizeof(vh));
    return TRUE;
}
