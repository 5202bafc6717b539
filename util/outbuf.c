/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/outbuf.c - the one output buffer of a stream connection
 * (include/util/outbuf.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "util/outbuf.h"
#include "util/socket.h"
#include "util/tls-session.h"

void outbuf_init(OutBuf *ob, size_t initial, size_t max)
{
    memset(ob, 0, sizeof(*ob));
    ob->max = max;
    ob->initial = MAX(MIN(initial, max), 1);
}

void outbuf_destroy(OutBuf *ob)
{
    g_clear_pointer(&ob->data, g_free);
    ob->cap = ob->head = ob->len = 0;
}

/* Grows the ring to hold 'need' bytes (need <= max), linearising its
 * contents. */
static void outbuf_reserve(OutBuf *ob, size_t need)
{
    size_t cap = ob->cap ? ob->cap : ob->initial;
    uint8_t *nbuf;

    if (need <= ob->cap) {
        return;
    }
    while (cap < need) {
        cap *= 2;
    }
    cap = MIN(cap, ob->max);
    g_assert(cap >= need);
    nbuf = g_malloc(cap);
    if (ob->len) {
        size_t first = MIN(ob->len, ob->cap - ob->head);

        memcpy(nbuf, ob->data + ob->head, first);
        memcpy(nbuf + first, ob->data, ob->len - first);
    }
    g_free(ob->data);
    ob->data = nbuf;
    ob->cap = cap;
    ob->head = 0;
}

/* memcpy() for one piece of a message; the link header every frame has in
 * front (4 bytes, 8 with a vnet header length) as a fixed-size copy, not a
 * call. */
static inline void copy_piece(uint8_t *d, const void *s, size_t n)
{
    if (n == 4) {
        memcpy(d, s, 4);
    } else if (n == 8) {
        memcpy(d, s, 8);
    } else {
        memcpy(d, s, n);
    }
}

void outbuf_append(OutBuf *ob, const struct iovec *iov, int iovcnt,
                   size_t skip)
{
    size_t total = 0;

    for (int i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
    }
    g_assert(total - skip <= outbuf_room(ob));
    outbuf_reserve(ob, ob->len + total - skip);
    if (total == skip) {
        return;
    }
    if (skip == 0) {
        size_t tail = ob->head + ob->len;   /* < 2 * cap */

        if (tail >= ob->cap) {
            tail -= ob->cap;
        }
        if (total <= ob->cap - tail) {
            /* The usual case (colo-compare writes every released frame
             * here): the message fits before the ring's end, its pieces
             * go one after the other.  The loop below, for a message that
             * wraps or starts part-way, cost 119 instructions a frame. */
            uint8_t *d = ob->data + tail;

            for (int i = 0; i < iovcnt; i++) {
                copy_piece(d, iov[i].iov_base, iov[i].iov_len);
                d += iov[i].iov_len;
            }
            ob->len += total;
            return;
        }
    }
    for (int i = 0; i < iovcnt; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t n = iov[i].iov_len;

        if (skip >= n) {
            skip -= n;
            continue;
        }
        p += skip;
        n -= skip;
        skip = 0;
        while (n) {
            size_t tail = ob->head + ob->len;   /* < 2 * cap */
            size_t chunk;

            if (tail >= ob->cap) {
                tail -= ob->cap;
            }
            chunk = MIN(n, ob->cap - tail);
            memcpy(ob->data + tail, p, chunk);
            ob->len += chunk;
            p += chunk;
            n -= chunk;
        }
    }
}

size_t outbuf_waiting(const OutBuf *ob)
{
    return ob->len + (ob->tls ? tls_session_out_pending(ob->tls) : 0);
}

/* The TLS write: the pieces in order, each through the session, until
 * one is not taken whole.  After -EAGAIN the next call starts with the
 * same bytes (the ring's head, or the frame the caller then queues), as
 * tls_session_send() requires. */
static gssize outbuf_write_tls(OutBuf *ob, const struct iovec *iov,
                               int iovcnt)
{
    size_t total = 0;

    for (int i = 0; i < iovcnt; i++) {
        ssize_t n;

        if (!iov[i].iov_len) {
            continue;
        }
        n = tls_session_send(ob->tls, iov[i].iov_base, iov[i].iov_len);
        if (n < 0) {
            if (total) {
                return total;     /* the error comes back next time */
            }
            return n == -EAGAIN ? 0 : n;
        }
        total += n;
        if ((size_t)n < iov[i].iov_len) {
            break;
        }
    }
    return total;
}

gssize outbuf_write_iov(OutBuf *ob, int fd, const struct iovec *iov,
                        int iovcnt)
{
    gssize n;

    if (ob->tls) {
        return outbuf_write_tls(ob, iov, iovcnt);
    }
    if (!ob->not_socket) {
        n = sock_sendv(fd, iov, iovcnt);
        if (n != -ENOTSOCK) {
            return n == -EAGAIN ? 0 : n;
        }
        ob->not_socket = TRUE;      /* a pipe or a tty: write() from now */
    }
    do {
        n = writev(fd, iov, iovcnt);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
    }
    return n;
}

int outbuf_flush(OutBuf *ob, int fd, size_t *sent)
{
    int ret = 0;

    *sent = 0;

    while (ob->len > 0) {
        struct iovec v[2];
        int nv = 1;
        size_t first = MIN(ob->len, ob->cap - ob->head);
        gssize n;

        v[0].iov_base = ob->data + ob->head;
        v[0].iov_len = first;
        if (first < ob->len) {
            v[1].iov_base = ob->data;
            v[1].iov_len = ob->len - first;
            nv = 2;
        }
        n = outbuf_write_iov(ob, fd, v, nv);
        if (n <= 0) {
            ret = n;
            break;
        }
        *sent += n;
        ob->head = (ob->head + n) % ob->cap;
        ob->len -= n;
    }
    if (ob->len == 0) {
        ob->head = 0;
    }
    if (ret == 0 && ob->tls && tls_session_out_pending(ob->tls)) {
        /* Records encrypted while the socket was full. */
        int r = tls_session_flush(ob->tls);

        ret = r == -EAGAIN ? 0 : r;
    }
    return ret;
}
