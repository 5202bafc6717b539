/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/link-framing.h - QEMU's link framing, shared by every chardev link
 * (mirror, redirector, compare, notify_dev) and by the stream/socket
 * netdevs.
 *
 *   +------------------+------------------------------+--------------------+
 *   | len (be32)       | vnet_hdr_len (be32, only if  | payload (len bytes)|
 *   |                  | vnet_hdr_support=on)         |                    |
 *   +------------------+------------------------------+--------------------+
 *
 * 'len' counts the whole payload, including any virtio-net header at its
 * front; 'vnet_hdr_len' says how many of the payload's leading bytes are
 * that header and does not add to 'len'.  No magic, no checksum.
 *
 * The reader reassembles frames across reads of any size.  Garbage is
 * detected and reported, never crashed on:
 *   - len == 0                           (LINK_ERR_ZERO), unless the
 *     owner set skip_empty: then a record without a byte of frame (len 0,
 *     or, with vnet_hdr_support, len == vnet_hdr_len: only the virtio-net
 *     header) is counted in 'empty' and skipped, the stream goes on
 *   - len > max_len (default 69632,
 *     QEMU's NET_BUFSIZE)                 (LINK_ERR_OVERSIZE)
 *   - vnet_hdr_len > len, or > 256       (LINK_ERR_BAD_VNET)
 * After an error the reader is reset; the caller should drop the
 * connection (chr_fe_disconnect), and must call link_reader_reset() when
 * a connection closes so no half frame survives into the next one.
 * The error text names the likely cause, e.g. a vnet_hdr_support mismatch
 * between the two ends.
 */
#ifndef NET_LINK_FRAMING_H
#define NET_LINK_FRAMING_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#define LINK_MAX_LEN_DEFAULT 69632u   /* QEMU's NET_BUFSIZE: 4096 + 65536 */
#define LINK_VNET_MAX 256u
#define LINK_HDR_MAX 8u

typedef enum {
    LINK_OK,
    LINK_ERR_ZERO,
    LINK_ERR_OVERSIZE,
    LINK_ERR_BAD_VNET,
} LinkError;

/* Called for each complete frame; 'buf' is borrowed for the call. */
typedef void (*LinkRecordFn)(void *opaque, const uint8_t *buf, uint32_t len,
                        uint32_t vnet_hdr_len);

typedef struct LinkReader {
    bool vnet;                /* expect the vnet_hdr_len field */
    bool skip_empty;          /* count and skip records without a frame
                               * instead of failing (set after init) */
    uint32_t max_len;         /* largest accepted payload */
    uint8_t hdr[LINK_HDR_MAX];
    uint32_t hdr_have;        /* header bytes collected */
    uint32_t len;             /* payload length of the current frame */
    uint32_t vnet_len;        /* vnet_hdr_len of the current frame */
    uint32_t have;            /* payload bytes collected */
    bool skipping;            /* the current record is empty: its bytes
                               * (a lone vnet header) go to nobody */
    uint8_t *buf;             /* max_len bytes, allocated once */
    uint64_t frames;          /* frames delivered */
    uint64_t errors;          /* framing errors */
    uint64_t empty;           /* records skipped for skip_empty */
    uint64_t resets;          /* link_reader_reset() calls; a reset from
                               * inside the callback ends the feed */
} LinkReader;

/* 'max_len' 0 means LINK_MAX_LEN_DEFAULT. */
void link_reader_init(LinkReader *r, bool vnet, uint32_t max_len);
void link_reader_destroy(LinkReader *r);
/* Forgets any partial frame (call on every disconnect).  May be called
 * from the LinkRecordFn: the running feed then stops after that frame. */
void link_reader_reset(LinkReader *r);
void link_reader_set_vnet(LinkReader *r, bool vnet);
/* TRUE when the reader holds part of a frame (its header begun).  The
 * connection it came from is then out of step for any other reader: a
 * user that stops reading a still open connection in that state must
 * drop the connection (chr_fe_disconnect), so that the peer's next
 * connection starts on a frame boundary. */
bool link_reader_mid_frame(const LinkReader *r);
/* Feeds 'len' bytes; calls 'fn' for every frame completed.  Frames lying
 * entirely inside 'data' are handed over without a copy.  On garbage,
 * returns the error, sets errp with a clear message, resets the reader and
 * ignores the rest of 'data'. */
LinkError link_reader_feed(LinkReader *r, const uint8_t *data, size_t len,
                             LinkRecordFn fn, void *opaque, GError **errp);
/* How many of the 'avail' bytes at 'p' to feed next so that the reader
 * completes at most one frame (for callers that apply back-pressure
 * between frames).  Returns 0 only when 'avail' is 0. */
size_t link_reader_next_feed(const LinkReader *r, const uint8_t *p,
                              size_t avail);

/* Writes the frame header for a payload of 'len' bytes into 'hdr' and
 * returns its size (4, or 8 with 'vnet'). */
size_t link_header(uint8_t hdr[LINK_HDR_MAX], uint32_t len, bool vnet,
                    uint32_t vnet_hdr_len);

#endif /* NET_LINK_FRAMING_H */
