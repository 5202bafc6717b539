/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/link-framing.c - QEMU's link framing: reassembly of length-prefixed frames
 * from a byte stream.
 *
 * Every chardev link of the COLO proxy (mirror, redirector, compare,
 * notify_dev) and the stream/socket netdevs carry frames as
 *
 *   len (be32) [vnet_hdr_len (be32), only with vnet_hdr_support] payload
 *
 * (see include/net/link-framing.h for the diagram).  The reader here is fed the
 * bytes a chardev read in whatever pieces they arrived and calls back once
 * per complete frame.  It is a two-phase machine:
 *
 *   HEADER:  collect 4 (or 8) header bytes in r->hdr, validate them;
 *   PAYLOAD: collect r->len payload bytes.
 *
 * A frame lying wholly inside the fed buffer, with no part of it collected
 * before, is handed to the callback straight from that buffer (no copy);
 * only a frame split across feeds is assembled in r->buf, which is
 * allocated once (max_len bytes) the first time it is needed.
 *
 * Unlike QEMU's net_fill_rstate(), garbage is an error, not a crash or a
 * silent stall: a zero length (unless the owner asked to skip empty
 * records, see frame_check_header()), a length above max_len and a vnet header
 * length that cannot be right all stop the feed with a message naming the
 * likely cause, and the caller drops the connection.  The reader never
 * keeps a partial frame across link_reader_reset(), which the owner
 * calls on every disconnect (QEMU keeps it and corrupts the next stream).
 *
 * Threads: a LinkReader is owned by one context; nothing here locks.
 */
#include <string.h>

#include "net/link-framing.h"
#include "net/packet.h"
#include "util/error.h"

/* The likely cause shared by every framing error: both ends must agree on
 * the framing, including vnet_hdr_support. */
#define FRAME_HINT \
    "peer is not speaking QEMU's framing, or vnet_hdr_support differs " \
    "between the two ends"

static inline uint32_t frame_hdr_size(const LinkReader *r)
{
    return r->vnet ? 8 : 4;
}

/* Initialises 'r'.  'max_len' is the largest payload accepted; 0 means
 * LINK_MAX_LEN_DEFAULT.  Allocates nothing yet; cannot fail. */
void link_reader_init(LinkReader *r, bool vnet, uint32_t max_len)
{
    memset(r, 0, sizeof(*r));
    r->vnet = vnet;
    r->max_len = max_len ? max_len : LINK_MAX_LEN_DEFAULT;
}

/* Frees the reassembly buffer.  'r' may be reinitialised afterwards;
 * destroying twice is harmless. */
void link_reader_destroy(LinkReader *r)
{
    g_free(r->buf);
    r->buf = NULL;
    r->hdr_have = 0;
    r->have = 0;
    r->len = 0;
    r->vnet_len = 0;
}

/* Forgets any partial frame.  Counted in r->resets, which also tells a
 * feed running around a callback that called this to stop. */
void link_reader_reset(LinkReader *r)
{
    r->hdr_have = 0;
    r->len = 0;
    r->vnet_len = 0;
    r->have = 0;
    r->skipping = false;
    r->resets++;
}

/* Inside a frame: part of a header (and maybe of a payload) was read. */
bool link_reader_mid_frame(const LinkReader *r)
{
    return r->hdr_have != 0;
}

/* Switches the vnet variant.  A partial frame read with the old setting is
 * dropped, as it cannot be interpreted with the new one. */
void link_reader_set_vnet(LinkReader *r, bool vnet)
{
    if (r->vnet != vnet) {
        r->vnet = vnet;
        link_reader_reset(r);
    }
}

/* Validates the header just collected in r->hdr and fills r->len,
 * r->vnet_len and r->skipping.  Returns LINK_OK or the error with errp
 * set.  With skip_empty, a record that holds no frame byte (len 0, or
 * only the virtio-net header) is valid and marked for skipping.  Whether
 * a peer may send one is the owner's call: colo-compare's inputs skip
 * them (one empty record is no reason to drop everything the peer sent
 * after it); elsewhere a zero length still means lost framing.  A length
 * that cannot be right (oversize, a vnet header longer than the record or
 * than LINK_VNET_MAX) is an error either way. */
static LinkError frame_check_header(LinkReader *r, GError **errp)
{
    uint32_t len = packet_load_be32(r->hdr);
    uint32_t vnet_len = r->vnet ? packet_load_be32(r->hdr + 4) : 0;

    if (len == 0 && !r->skip_empty) {
        error_setg(errp, "zero-length frame: " FRAME_HINT);
        return LINK_ERR_ZERO;
    }
    if (len > r->max_len) {
        error_setg(errp, "frame length %u exceeds %u: " FRAME_HINT,
                   len, r->max_len);
        return LINK_ERR_OVERSIZE;
    }
    if (r->vnet && (vnet_len > len || vnet_len > LINK_VNET_MAX)) {
        error_setg(errp, "frame vnet_hdr_len %u is invalid for a %u-byte "
                   "frame (at most %u and never above the frame length): "
                   "vnet_hdr_support is on here but probably off at the "
                   "peer, or the peer is not speaking QEMU's framing",
                   vnet_len, len, LINK_VNET_MAX);
        return LINK_ERR_BAD_VNET;
    }
    r->len = len;
    r->vnet_len = vnet_len;
    r->skipping = r->skip_empty && len == vnet_len;
    return LINK_OK;
}

/*
 * Feeds 'len' bytes of 'data'.  Calls 'fn(opaque, ...)' for each frame
 * completed, in order; the buffer passed is borrowed for the call only
 * (it may point into 'data').  Returns LINK_OK, or on garbage the error
 * with errp set, after counting it and resetting the reader; the rest of
 * 'data' is then ignored.  If 'fn' calls link_reader_reset() (the owner
 * dropped the connection from within the callback), the feed stops after
 * that callback and returns LINK_OK.
 */
LinkError link_reader_feed(LinkReader *r, const uint8_t *data, size_t len,
                             LinkRecordFn fn, void *opaque, GError **errp)
{
    const uint8_t *p = data;
    const uint8_t *end = data + len;
    const uint32_t hdr_size = frame_hdr_size(r);

    while (p < end) {
        size_t avail = end - p;
        uint64_t resets = r->resets;

        if (r->hdr_have < hdr_size) {
            /* Header phase: fast path when the whole header is here. */
            uint32_t want = hdr_size - r->hdr_have;
            uint32_t n = avail < want ? (uint32_t)avail : want;
            LinkError err;

            if (G_LIKELY(r->hdr_have == 0 && avail >= LINK_HDR_MAX)) {
                /* The whole header is here (all but the last of a read):
                 * a copy of fixed size, one load and one store, not a
                 * call to memcpy() per frame.  Bytes past the header
                 * land in r->hdr unread. */
                memcpy(r->hdr, p, LINK_HDR_MAX);
            } else {
                memcpy(r->hdr + r->hdr_have, p, n);
            }
            r->hdr_have += n;
            p += n;
            if (r->hdr_have < hdr_size) {
                break;
            }
            err = frame_check_header(r, errp);
            if (err != LINK_OK) {
                r->errors++;
                link_reader_reset(r);
                return err;
            }
            r->have = 0;
            if (G_UNLIKELY(r->skipping && r->len == 0)) {
                r->skipping = false;
                r->empty++;
                r->hdr_have = 0;
            }
            continue;
        }

        /* Payload phase. */
        if (r->have == 0 && avail >= r->len) {
            /* Zero copy: the whole payload is inside 'data'. */
            const uint8_t *frame = p;
            uint32_t flen = r->len, fvnet = r->vnet_len;

            p += flen;
            r->hdr_have = 0;
            r->len = 0;
            r->vnet_len = 0;
            if (G_UNLIKELY(r->skipping)) {
                r->skipping = false;
                r->empty++;
            } else {
                r->frames++;
                if (fn) {
                    fn(opaque, frame, flen, fvnet);
                }
            }
        } else {
            uint32_t want = r->len - r->have;
            uint32_t n = avail < want ? (uint32_t)avail : want;

            if (!r->buf) {
                r->buf = g_malloc(r->max_len);
            }
            memcpy(r->buf + r->have, p, n);
            r->have += n;
            p += n;
            if (r->have < r->len) {
                break;
            }
            {
                uint32_t flen = r->len, fvnet = r->vnet_len;

                r->hdr_have = 0;
                r->len = 0;
                r->vnet_len = 0;
                r->have = 0;
                if (G_UNLIKELY(r->skipping)) {
                    r->skipping = false;
                    r->empty++;
                    continue;
                }
                r->frames++;
                if (fn) {
                    fn(opaque, r->buf, flen, fvnet);
                }
            }
        }
        if (r->resets != resets) {
            /* The callback reset us: the rest belongs to a dead stream. */
            break;
        }
    }
    return LINK_OK;
}

/* Writes the header for a 'len'-byte payload into 'hdr'; returns 4, or 8
 * with 'vnet' (then 'vnet_hdr_len' follows the length).  Pure. */
size_t link_header(uint8_t hdr[LINK_HDR_MAX], uint32_t len, bool vnet,
                    uint32_t vnet_hdr_len)
{
    packet_store_be32(hdr, len);
    if (!vnet) {
        return 4;
    }
    packet_store_be32(hdr + 4, vnet_hdr_len);
    return 8;
}

/* How many of the 'avail' bytes at 'p' to feed next so that the reader
 * completes at most one frame: the rest of the current header or payload,
 * or the next whole frame as its header announces it (a bad header is
 * then fed alone and rejected by link_reader_feed()). */
size_t link_reader_next_feed(const LinkReader *r, const uint8_t *p,
                              size_t avail)
{
    uint32_t hs = frame_hdr_size(r);
    size_t want;

    if (r->hdr_have == 0 && avail >= hs) {
        want = hs + (size_t)packet_load_be32(p);
    } else if (r->hdr_have < hs) {
        want = hs - r->hdr_have;
    } else {
        want = r->len - r->have;
    }
    return MIN(want, avail);
}
