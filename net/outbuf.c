/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/outbuf.c - see net/outbuf.h for the contract: frames on the one
 * output ring of util/outbuf.h.
 */
#include <errno.h>

#include "net/outbuf.h"

void net_outbuf_init(NetOutBuf *ob, size_t cap)
{
    /* a fixed size: the whole ring at once, never grown */
    outbuf_init(&ob->ring, cap, cap);
}

void net_outbuf_destroy(NetOutBuf *ob)
{
    outbuf_destroy(&ob->ring);
}

gssize net_outbuf_write_frame(NetOutBuf *ob, int fd,
                              const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len)
{
    struct iovec iov[2] = {
        { .iov_base = (void *)hdr, .iov_len = hlen },
        { .iov_base = (void *)buf, .iov_len = len },
    };
    size_t total = hlen + len;
    gssize n = 0;

    if (G_UNLIKELY(total > ob->ring.max)) {
        return -EMSGSIZE;
    }
    if (outbuf_len(&ob->ring) == 0) {
        n = outbuf_write_iov(&ob->ring, fd, iov, 2);
        if (n < 0 || (size_t)n == total) {
            return n < 0 ? n : (gssize)total;
        }
    } else if (outbuf_room(&ob->ring) < total) {
        return 0;
    }
    /* Keep the rest of the frame. */
    outbuf_append(&ob->ring, iov, 2, n);
    return total;
}

gssize net_outbuf_queue_frame(NetOutBuf *ob, const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len)
{
    struct iovec iov[2] = {
        { .iov_base = (void *)hdr, .iov_len = hlen },
        { .iov_base = (void *)buf, .iov_len = len },
    };
    size_t total = hlen + len;

    if (G_UNLIKELY(total > ob->ring.max)) {
        return -EMSGSIZE;
    }
    if (outbuf_room(&ob->ring) < total) {
        return 0;
    }
    outbuf_append(&ob->ring, iov, 2, 0);
    return total;
}

int net_outbuf_drain(NetOutBuf *ob, int fd)
{
    size_t sent;
    int r = outbuf_flush(&ob->ring, fd, &sent);

    if (r < 0) {
        return r;
    }
    return outbuf_waiting(&ob->ring) == 0;
}
