/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/outbuf.c - see net/outbuf.h for the contract.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "net/outbuf.h"

void net_outbuf_init(NetOutBuf *ob, size_t cap)
{
    ob->data = g_malloc(cap);
    ob->cap = cap;
    ob->head = ob->tail = 0;
    ob->use_send = true;
}

void net_outbuf_destroy(NetOutBuf *ob)
{
    g_clear_pointer(&ob->data, g_free);
    ob->cap = ob->head = ob->tail = 0;
}

void net_outbuf_reset(NetOutBuf *ob)
{
    ob->head = ob->tail = 0;
}

static ssize_t outbuf_writev(NetOutBuf *ob, int fd, struct iovec *iov,
                             int n)
{
    ssize_t r;

    do {
        if (ob->use_send) {
            struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n };

            r = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (r < 0 && errno == ENOTSOCK) {
                ob->use_send = false;
                continue;
            }
        } else {
            r = writev(fd, iov, n);
        }
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
    }
    return r;
}

/* Appends 'len' bytes; the caller checked the room. */
static void outbuf_append(NetOutBuf *ob, const uint8_t *p, size_t len)
{
    if (ob->cap - ob->tail < len) {
        size_t used = ob->tail - ob->head;

        memmove(ob->data, ob->data + ob->head, used);
        ob->head = 0;
        ob->tail = used;
    }
    memcpy(ob->data + ob->tail, p, len);
    ob->tail += len;
}

gssize net_outbuf_write_frame(NetOutBuf *ob, int fd,
                              const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len)
{
    size_t total = hlen + len;
    ssize_t n = 0;

    if (ob->head == ob->tail) {
        struct iovec iov[2] = {
            { .iov_base = (void *)hdr, .iov_len = hlen },
            { .iov_base = (void *)buf, .iov_len = len },
        };

        ob->head = ob->tail = 0;
        if (total > ob->cap) {
            return -EMSGSIZE;
        }
        n = outbuf_writev(ob, fd, iov, 2);
        if (n < 0) {
            return n;
        }
        if ((size_t)n == total) {
            return total;
        }
    } else if (ob->cap - (ob->tail - ob->head) < total) {
        return 0;
    }
    /* Keep the rest of the frame: the part of the header not written,
     * then the part of the payload not written. */
    if ((size_t)n < hlen) {
        outbuf_append(ob, hdr + n, hlen - n);
        outbuf_append(ob, buf, len);
    } else {
        outbuf_append(ob, buf + (n - hlen), len - (n - hlen));
    }
    return total;
}

gssize net_outbuf_queue_frame(NetOutBuf *ob, const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len)
{
    size_t total = hlen + len;

    if (G_UNLIKELY(total > ob->cap)) {
        return -EMSGSIZE;
    }
    if (ob->head == ob->tail) {
        ob->head = ob->tail = 0;
    } else if (ob->cap - (ob->tail - ob->head) < total) {
        return 0;
    }
    outbuf_append(ob, hdr, hlen);
    outbuf_append(ob, buf, len);
    return total;
}

int net_outbuf_drain(NetOutBuf *ob, int fd)
{
    while (ob->head < ob->tail) {
        struct iovec iov = {
            .iov_base = ob->data + ob->head,
            .iov_len = ob->tail - ob->head,
        };
        ssize_t n = outbuf_writev(ob, fd, &iov, 1);

        if (n < 0) {
            return (int)n;
        }
        if (n == 0) {
            return 0;
        }
        ob->head += n;
    }
    ob->head = ob->tail = 0;
    return 1;
}
