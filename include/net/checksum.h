/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/checksum.h - the Internet checksum (RFC 1071), full and
 * incremental (RFC 1624).
 *
 * Who uses what:
 *   - filter-rewriter changes TCP seq/ack in place and must fix the TCP
 *     checksum in O(1): csum_update_l4_field() (RFC 1624 eqn. 3);
 *   - tests, fuzz targets and anything that wants to know whether a frame
 *     is intact use the full computation csum_l4_verify() /
 *     csum_l4_compute(): it is the oracle the incremental path is checked
 *     against, never the way a rewrite fixes a checksum;
 *   - the frame offsets come from packet_parse() (include/net/packet.h).
 *
 * Representation.  Every checksum and sum in this API is a host-order
 * number equal to the big-endian 16-bit field on the wire: read the field
 * with packet_load_be16(), write it with packet_store_be16().  A "sum" is
 * an unfolded 32-bit one's-complement accumulator (csum_partial() and
 * friends); csum_fold() reduces it to 16 bits, csum_finish() also
 * complements it into the value that goes into a checksum field.
 *
 * Byte offsets.  The checksum sums 16-bit words starting at the beginning
 * of the covered data.  A piece that starts at an odd offset of the covered
 * data contributes its bytes swapped: csum_partial() assumes its buffer
 * starts at an even offset; pass a piece at an odd offset through
 * csum_shift().  csum_replace_bytes() takes the offset parity itself.
 *
 * DOC: virtio-net partial checksums (VIRTIO_NET_HDR_F_NEEDS_CSUM).
 * A frame whose vnet header carries NEEDS_CSUM (PACKET_F_CSUM_PARTIAL) has
 * not been checksummed yet: whoever finally transmits it (the host NIC,
 * the kernel, or the peer's virtio device) sums the bytes from csum_start
 * to the end and adds the result into the field at csum_start +
 * csum_offset.  Until then that field holds only the folded, NOT
 * complemented, pseudo-header sum (Linux CHECKSUM_PARTIAL).  Hence:
 *   - changing a byte covered by the L4 checksum (a TCP seq or ack, a
 *     port, payload) must NOT touch the checksum field: the device will
 *     sum the new bytes itself.  Applying RFC 1624 there would corrupt the
 *     checksum;
 *   - changing a pseudo-header field (an IP address) must update the field
 *     in the uncomplemented domain: field' = fold(field - old + new);
 *   - csum_l4_verify() cannot check such a frame and says so
 *     (CSUM_PARTIAL).
 * csum_update_l4_field() implements these rules; pass CSUM_UPD_PARTIAL
 * (csum_update_flags() does, from a PacketInfo) and never special-case
 * partial checksums elsewhere.
 *
 * DOC: UDP zero.  In UDP over IPv4 a checksum field of 0 means "no
 * checksum" (RFC 768), so a computed checksum of 0 is sent as 0xffff, and a
 * field that is 0 is left at 0 by updates.  UDP over IPv6 must carry a
 * checksum (RFC 8200 8.1): a 0 there is a bad checksum.  The rule lives in
 * csum_l4_compute(), csum_l4_verify() and csum_update_l4_field() only.
 *
 * Threads: pure functions, any thread.
 */
#ifndef NET_CHECKSUM_H
#define NET_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/packet.h"

/* ------------------------------------------------------------------------ */
/* Sums.                                                                      */

/* Returns 'sum' plus the 16-bit words of 'len' bytes at 'buf' (any
 * alignment; an odd last byte is padded with a zero byte).  'buf' must
 * start at an even offset of the checksummed data (see csum_shift()). */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);

/* One's-complement addition of two sums (end-around carry). */
static inline uint32_t csum_add(uint32_t sum, uint32_t v)
{
    sum += v;
    return sum + (sum < v);
}

/* One's-complement subtraction: 'sum' minus 'v'. */
static inline uint32_t csum_sub(uint32_t sum, uint32_t v)
{
    return csum_add(sum, ~v);
}

/* Reduces 'sum' to 16 bits (one's complement), without complementing. */
static inline uint16_t csum_fold(uint32_t sum)
{
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The checksum field value for data whose sum is 'sum': ~fold(sum). */
static inline uint16_t csum_finish(uint32_t sum)
{
    return (uint16_t)~csum_fold(sum);
}

/* The sum of a piece that starts at byte 'offset' of the checksummed data,
 * given its sum 'partial' computed as if it started at an even offset. */
static inline uint32_t csum_shift(uint32_t partial, size_t offset)
{
    uint16_t f = csum_fold(partial);

    return (offset & 1) ? (uint16_t)((f << 8) | (f >> 8)) : f;
}

/* The RFC 1071 checksum of 'len' bytes at 'buf': csum_finish(partial). */
uint16_t csum_buf(const void *buf, size_t len);

/* Pseudo-header sums (RFC 793 / RFC 768 for IPv4, RFC 8200 8.1 for IPv6).
 * Addresses are the 4 / 16 wire bytes; 'l4_len' the upper-layer length. */
uint32_t csum_pseudo_ipv4(const uint8_t src[4], const uint8_t dst[4],
                          uint8_t proto, uint16_t l4_len);
uint32_t csum_pseudo_ipv6(const uint8_t src[16], const uint8_t dst[16],
                          uint8_t next_header, uint32_t l4_len);

/* ------------------------------------------------------------------------ */
/* Incremental updates, RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m').             */
/* 'csum' is the checksum field's value; the new value is returned.  They    */
/* apply to a complete (not partial) checksum; csum_update_l4_field() adds   */
/* the partial and UDP rules.                                                */

/* A 16-bit word at an even offset changed from 'old' to 'new'. */
static inline uint16_t csum_replace16(uint16_t csum, uint16_t old,
                                      uint16_t new)
{
    uint32_t sum = (uint16_t)~csum;

    sum += (uint16_t)~old;
    sum += new;
    return (uint16_t)~csum_fold(sum);
}

/* A 32-bit word at an even offset changed from 'old' to 'new' (host-order
 * values of big-endian fields, e.g. a TCP seq or an IPv4 address). */
static inline uint16_t csum_replace32(uint16_t csum, uint32_t old,
                                      uint32_t new)
{
    uint32_t sum = (uint16_t)~csum;

    sum += (uint16_t)~(old >> 16);
    sum += (uint16_t)~old;
    sum += new >> 16;
    sum += new & 0xffff;
    return (uint16_t)~csum_fold(sum);
}

/* A 128-bit field (an IPv6 address, wire bytes) at an even offset changed
 * from 'old' to 'new'. */
uint16_t csum_replace128(uint16_t csum, const uint8_t old[16],
                         const uint8_t new[16]);

/* 'len' bytes starting at byte 'offset' of the checksummed data changed
 * from 'old' to 'new' (wire bytes; any offset parity, any length). */
uint16_t csum_replace_bytes(uint16_t csum, size_t offset, const void *old,
                            const void *new, size_t len);

/* ------------------------------------------------------------------------ */
/* Parsed frames.  'frame' and 'pi' are as given to / returned by             */
/* packet_parse(); they are borrowed for the call.                            */

typedef enum CsumVerdict {
    CSUM_OK,            /* the L4 checksum is correct */
    CSUM_BAD,           /* it is wrong (incl. UDP over IPv6 with 0) */
    CSUM_NONE,          /* UDP over IPv4 without checksum (field 0) */
    CSUM_PARTIAL,       /* vnet NEEDS_CSUM: not computed yet, see DOC */
    CSUM_UNCHECKABLE,   /* no checksummed L4 header (fragment, other
                         * protocol, non-OK parse) */
} CsumVerdict;

/* Returns the value the L4 checksum field of the parsed frame should hold
 * (the field itself counted as zero; UDP zero rule applied).  Requires a
 * checksummed L4 header (l4_csum_ofs != NONE) and no fragment; returns 0
 * otherwise. */
uint16_t csum_l4_compute(const uint8_t *frame, const PacketInfo *pi);

/* Verifies the L4 (TCP, UDP, ICMP, ICMPv6) checksum of a frame that
 * packet_parse() accepted.  Full recomputation: the test oracle. */
CsumVerdict csum_l4_verify(const uint8_t *frame, const PacketInfo *pi);

/* Writes the correct L4 checksum into the frame (full computation; for
 * building frames in tests and tools).  Returns false, writing nothing,
 * when csum_l4_compute() cannot compute it. */
bool csum_l4_fill(uint8_t *frame, const PacketInfo *pi);

/* The IPv4 header checksum: verify (true = correct) and fill.  Both return
 * false when the frame has no IPv4 header. */
bool csum_ipv4_verify(const uint8_t *frame, const PacketInfo *pi);
bool csum_ipv4_fill(uint8_t *frame, const PacketInfo *pi);

/* ------------------------------------------------------------------------ */
/* Updating the L4 checksum of a frame after rewriting one field.             */

#define CSUM_UPD_PSEUDO   (1u << 0)  /* the field is in the pseudo-header
                                      * (an IP address), not in the L4
                                      * header or payload */
#define CSUM_UPD_PARTIAL  (1u << 1)  /* vnet NEEDS_CSUM: the checksum field
                                      * holds the partial pseudo sum */
#define CSUM_UPD_UDP      (1u << 2)  /* UDP: a 0 field (none, IPv4) is
                                      * left alone, a 0 result is written
                                      * as 0xffff */

/* The CSUM_UPD_PARTIAL / CSUM_UPD_UDP flags that apply to 'pi'. */
unsigned csum_update_flags(const PacketInfo *pi);

/*
 * Fixes the L4 checksum field at 'csum_field' (the frame's bytes at
 * pi->l4_csum_ofs) after 'len' bytes of the packet changed from 'old' to
 * 'new'.  'offset' is the changed field's byte offset from the L4 header
 * (only its parity matters; pass 0 for pseudo-header fields).  'flags' is
 * csum_update_flags(pi), plus CSUM_UPD_PSEUDO for an address.
 *
 * The rules (see the DOC blocks above):
 *   - partial, field not in the pseudo-header: the checksum is left alone;
 *   - partial, pseudo-header field: field = fold(field - old + new);
 *   - complete: RFC 1624; for UDP over IPv4 a 0 field stays 0 and a result
 *     of 0 is written as 0xffff.
 * O(len); never reads the rest of the packet.  'old'/'new' are wire bytes.
 *
 * Example, shifting the TCP ack by 'delta':
 *     uint8_t *f = frame + packet_tcp_ack_ofs(pi);
 *     uint8_t old[4];
 *     memcpy(old, f, 4);
 *     packet_store_be32(f, pi->tcp_ack + delta);
 *     csum_update_l4_field(frame + pi->l4_csum_ofs, old, f, 4,
 *                          offsetof(TcpHdr, ack), csum_update_flags(pi));
 */
void csum_update_l4_field(uint8_t *csum_field, const void *old,
                          const void *new, size_t len, size_t offset,
                          unsigned flags);

/*
 * Stores 'value' big-endian in the 4 bytes at frame + 'field_ofs', a field
 * inside the L4 header or payload of the parsed frame 'pi' (a TCP seq or
 * ack, a SACK edge, a TSecr), and fixes the L4 checksum with
 * csum_update_l4_field() and csum_update_flags(pi).  A frame without an L4
 * checksum (l4_csum_ofs NONE, or a fragment) only gets the store.  The
 * PacketInfo is not updated (pi->tcp_seq etc. keep the old values).
 * O(1).  The caller checked that the field lies in [l4_ofs, ip_end_ofs).
 */
void csum_l4_store_be32(uint8_t *frame, const PacketInfo *pi,
                        size_t field_ofs, uint32_t value);

#endif /* NET_CHECKSUM_H */
