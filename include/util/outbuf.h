/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/outbuf.h - the one output buffer of a stream connection.
 *
 * OutBuf: a byte ring that holds what a non-blocking socket did not take
 * yet.  Messages go in whole (the caller checks outbuf_room() first and
 * refuses, drops or disconnects as its protocol says), so the peer never
 * sees a torn frame or line; outbuf_flush() sends as much as the socket
 * takes, in one sendmsg() of at most two pieces (the ring's two halves).
 * The ring is allocated at the first append, 'initial' bytes, and doubles
 * up to 'max' as needed: an idle connection costs nothing, a busy one
 * reaches its steady size once and then never allocates.
 *
 * Users: the socket chardev's output (chardev/char-socket-io.c, several
 * MB deep, flushed once per loop iteration), the stream netdevs' frames
 * (net/outbuf.c, a fixed size), the QMP monitor's replies and events
 * (monitor/qmp.c), the QEMU driver's commands (colo/colo-qemu.c).
 *
 * Writing goes through outbuf_write_iov(), which is sock_sendv()
 * (util/socket.h) on a socket and writev() on anything else (a monitor
 * on stdio, a netdev on a pipe): the one write entry, which a TLS
 * session takes over.  With outbuf_set_tls(), every byte leaves through
 * tls_session_send() (util/tls-session.h) instead: the ring offers its
 * head again after -EAGAIN, as the session requires, and outbuf_flush()
 * also pushes the records a batched session encrypted but could not send
 * yet.  Those records are taken from the ring already, so an owner polls
 * G_IO_OUT while outbuf_waiting() (not outbuf_len()) is not 0.
 *
 * Threads: the owner's; no locking.
 */
#ifndef UTIL_OUTBUF_H
#define UTIL_OUTBUF_H

#include <glib.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct OutBuf {
    uint8_t *data;            /* the ring, 'cap' bytes; NULL before use */
    size_t cap;               /* allocated (<= max once grown) */
    size_t initial;           /* first allocation */
    size_t max;               /* bytes queued at most */
    size_t head;              /* first queued byte */
    size_t len;               /* bytes queued */
    gboolean not_socket;      /* the fd took write(), not send() */
    struct TlsSession *tls;   /* the connection's TLS session (borrowed),
                               * or NULL: bytes go out as they are */
} OutBuf;

/* An empty buffer holding at most 'max' bytes, allocating 'initial'
 * first (clamped to 'max').  Allocates nothing yet; 'ob' is taken as
 * holding nothing (call outbuf_destroy() first to reuse one). */
void outbuf_init(OutBuf *ob, size_t initial, size_t max);
/* Frees the ring; the buffer is empty and usable again. */
void outbuf_destroy(OutBuf *ob);

/* Forgets what is queued (its connection is gone). */
static inline void outbuf_reset(OutBuf *ob)
{
    ob->head = ob->len = 0;
}
static inline size_t outbuf_len(const OutBuf *ob)
{
    return ob->len;
}
/* From now on the bytes go out through 'tls' (NULL: plain again).  The
 * owner sets it when the session's connection is established and clears
 * it before freeing the session. */
static inline void outbuf_set_tls(OutBuf *ob, struct TlsSession *tls)
{
    ob->tls = tls;
}
/* Bytes not on the wire yet: the ring's, and with TLS the records the
 * session holds (poll G_IO_OUT and call outbuf_flush() while not 0). */
size_t outbuf_waiting(const OutBuf *ob);
/* Bytes that can still be appended. */
static inline size_t outbuf_room(const OutBuf *ob)
{
    return ob->max - ob->len;
}

/* Appends 'iov' without its first 'skip' bytes; the caller checked that
 * they fit (outbuf_room()). */
void outbuf_append(OutBuf *ob, const struct iovec *iov, int iovcnt,
                   size_t skip);
/* Sends queued bytes to 'fd' until it is empty or the socket is full
 * (with TLS: then the session's pending records); *sent gets the bytes
 * sent (taken by the session).  Returns 0, or -errno when the connection
 * is broken (what is not sent stays; the owner resets or closes). */
int outbuf_flush(OutBuf *ob, int fd, size_t *sent);
/* Writes 'iov' to 'fd' directly, without blocking (the path around the
 * ring when it is empty).  Returns the bytes taken, 0 when none could be,
 * or -errno. */
gssize outbuf_write_iov(OutBuf *ob, int fd, const struct iovec *iov,
                        int iovcnt);

#endif /* UTIL_OUTBUF_H */
