/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/outbuf.h - the output buffer of a stream transport (private).
 *
 * NetOutBuf: frames (a header and a payload) on util/outbuf.h's ring,
 * the one output buffer of every stream connection.  Whole frames go in
 * or nothing does, so a frame is never torn on the wire; written
 * directly, or queued and drained in one write per batch.  A fixed size,
 * allocated at the first frame kept; never blocks.
 *
 * Threads: the owning transport's (main) context.
 */
#ifndef NET_OUTBUF_H
#define NET_OUTBUF_H

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/outbuf.h"

typedef struct NetOutBuf {
    OutBuf ring;              /* at most 'cap' bytes */
} NetOutBuf;

void net_outbuf_init(NetOutBuf *ob, size_t cap);
void net_outbuf_destroy(NetOutBuf *ob);
/* Forgets pending bytes (the connection they belonged to is gone). */
static inline void net_outbuf_reset(NetOutBuf *ob)
{
    outbuf_reset(&ob->ring);
}
/* Bytes not on the wire yet (with TLS, the session's records too). */
static inline size_t net_outbuf_pending(const NetOutBuf *ob)
{
    return outbuf_waiting(&ob->ring);
}
/* The connection's TLS session, or NULL (util/outbuf.h: the bytes then
 * leave through it). */
static inline void net_outbuf_set_tls(NetOutBuf *ob, struct TlsSession *tls)
{
    outbuf_set_tls(&ob->ring, tls);
}
/* Writes the header 'hdr' ('hlen' bytes) and the payload as one frame to
 * 'fd' without blocking.  Whatever the socket does not take now is kept in
 * the buffer, whole frames only.  Returns 'hlen' + 'len' when the frame was
 * written or buffered, 0 when the buffer has no room for it (nothing was
 * written: try again after net_outbuf_drain()), -EMSGSIZE when it can
 * never fit, or a negative errno on a fatal write error (the connection
 * is broken). */
gssize net_outbuf_write_frame(NetOutBuf *ob, int fd,
                              const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len);
/* Appends the header and the payload as one frame without writing
 * anything (the owner drains the buffer later, typically once per main
 * loop iteration, so that a burst leaves in one system call).  Returns
 * 'hlen' + 'len' when the frame was buffered, 0 when the buffer has no
 * room for it (nothing was buffered: drain, then try again), or -EMSGSIZE
 * when the frame can never fit.  Never blocks; allocates only the
 * first time. */
gssize net_outbuf_queue_frame(NetOutBuf *ob, const uint8_t *hdr, size_t hlen,
                              const uint8_t *buf, size_t len);
/* Writes pending bytes.  Returns 1 when the buffer is empty, 0 when bytes
 * remain (wait for G_IO_OUT), or a negative errno on a fatal error. */
int net_outbuf_drain(NetOutBuf *ob, int fd);

#endif /* NET_OUTBUF_H */
