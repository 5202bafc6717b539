/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/checksum.c - Internet checksum: sums, pseudo-headers, RFC 1624
 * incremental updates and the full L4 computation used as test oracle.
 *
 * csum_partial() sums native-order words loaded with memcpy and converts
 * the folded result to the big-endian number once at the end; RFC 1071
 * section 2(B) (byte-order independence) makes this exact.  The contract,
 * including the virtio-net partial checksum and UDP zero rules, is in
 * include/net/checksum.h.
 */
#include "net/checksum.h"

uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
    const uint8_t *p = buf;
    uint64_t acc = 0;
    uint16_t f;

    /* 32-bit words into a 64-bit accumulator: no carry is lost before
     * 2^32 words, far beyond any frame. */
    while (len >= 16) {
        uint32_t w[4];

        memcpy(w, p, sizeof w);
        acc += (uint64_t)w[0] + w[1] + w[2] + w[3];
        p += 16;
        len -= 16;
    }
    while (len >= 4) {
        uint32_t w;

        memcpy(&w, p, sizeof w);
        acc += w;
        p += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;

        memcpy(&w, p, sizeof w);
        acc += w;
        p += 2;
        len -= 2;
    }
    if (len) {
        uint16_t w = 0;

        memcpy(&w, p, 1);   /* the last byte, padded with a zero byte */
        acc += w;
    }
    acc = (acc & 0xffffffffu) + (acc >> 32);
    acc = (acc & 0xffffffffu) + (acc >> 32);
    f = csum_fold((uint32_t)acc);
    return csum_add(sum, GUINT16_FROM_BE(f));
}

uint16_t csum_buf(const void *buf, size_t len)
{
    return csum_finish(csum_partial(buf, len, 0));
}

uint32_t csum_pseudo_ipv4(const uint8_t src[4], const uint8_t dst[4],
                          uint8_t proto, uint16_t l4_len)
{
    uint32_t sum = csum_partial(src, 4, 0);

    sum = csum_partial(dst, 4, sum);
    sum = csum_add(sum, proto);
    return csum_add(sum, l4_len);
}

uint32_t csum_pseudo_ipv6(const uint8_t src[16], const uint8_t dst[16],
                          uint8_t next_header, uint32_t l4_len)
{
    uint32_t sum = csum_partial(src, 16, 0);

    sum = csum_partial(dst, 16, sum);
    sum = csum_add(sum, l4_len >> 16);
    sum = csum_add(sum, l4_len & 0xffff);
    return csum_add(sum, next_header);
}

uint16_t csum_replace_bytes(uint16_t csum, size_t offset, const void *old,
                            const void *new, size_t len)
{
    uint32_t sum = (uint16_t)~csum;

    sum = csum_add(sum, (uint16_t)~csum_shift(csum_partial(old, len, 0),
                                              offset));
    sum = csum_add(sum, csum_shift(csum_partial(new, len, 0), offset));
    return (uint16_t)~csum_fold(sum);
}

uint16_t csum_replace128(uint16_t csum, const uint8_t old[16],
                         const uint8_t new[16])
{
    return csum_replace_bytes(csum, 0, old, new, 16);
}

/* The pseudo-header sum of the parsed frame for an L4 length 'l4_len'. */
static uint32_t pseudo_sum(const PacketInfo *pi, uint32_t l4_len)
{
    if (pi->ip_version == 4) {
        return csum_pseudo_ipv4(&pi->src.b[12], &pi->dst.b[12], pi->ip_proto,
                                l4_len);
    }
    return csum_pseudo_ipv6(pi->src.b, pi->dst.b, pi->ip_proto, l4_len);
}

static bool l4_checkable(const PacketInfo *pi)
{
    return pi->l4_csum_ofs != PACKET_OFS_NONE && pi->l4_ofs != PACKET_OFS_NONE
           && !(pi->flags & PACKET_F_FRAG)
           && (pi->ip_version == 4 || pi->ip_version == 6);
}

/* ICMPv4 is the one L4 checksum without a pseudo-header. */
static uint32_t l4_initial_sum(const PacketInfo *pi)
{
    return pi->ip_proto == IP_PROTO_ICMP ? 0 : pseudo_sum(pi, pi->l4_len);
}

uint16_t csum_l4_compute(const uint8_t *frame, const PacketInfo *pi)
{
    const uint8_t *l4;
    size_t field, after;
    uint32_t sum;
    uint16_t c;

    if (!l4_checkable(pi)) {
        return 0;
    }
    l4 = frame + pi->l4_ofs;
    field = pi->l4_csum_ofs - pi->l4_ofs;      /* 2, 6 or 16: even */
    after = field + sizeof(uint16_t);
    sum = l4_initial_sum(pi);
    sum = csum_partial(l4, field, sum);
    sum = csum_partial(l4 + after, pi->l4_len - after, sum);
    c = csum_finish(sum);
    if (pi->ip_proto == IP_PROTO_UDP && c == 0) {
        c = 0xffff;                             /* RFC 768, RFC 8200 */
    }
    return c;
}

CsumVerdict csum_l4_verify(const uint8_t *frame, const PacketInfo *pi)
{
    uint32_t sum;

    if (!l4_checkable(pi)) {
        return CSUM_UNCHECKABLE;
    }
    if (pi->flags & PACKET_F_CSUM_PARTIAL) {
        return CSUM_PARTIAL;
    }
    if (pi->ip_proto == IP_PROTO_UDP &&
        packet_load_be16(frame + pi->l4_csum_ofs) == 0) {
        return pi->ip_version == 4 ? CSUM_NONE : CSUM_BAD;
    }
    sum = csum_partial(frame + pi->l4_ofs, pi->l4_len, l4_initial_sum(pi));
    return csum_fold(sum) == 0xffff ? CSUM_OK : CSUM_BAD;
}

bool csum_l4_fill(uint8_t *frame, const PacketInfo *pi)
{
    if (!l4_checkable(pi)) {
        return false;
    }
    packet_store_be16(frame + pi->l4_csum_ofs, csum_l4_compute(frame, pi));
    return true;
}

bool csum_ipv4_verify(const uint8_t *frame, const PacketInfo *pi)
{
    if (pi->ip_version != 4 || pi->l3_ofs == PACKET_OFS_NONE) {
        return false;
    }
    return csum_fold(csum_partial(frame + pi->l3_ofs, pi->ip_hdr_len, 0))
           == 0xffff;
}

bool csum_ipv4_fill(uint8_t *frame, const PacketInfo *pi)
{
    uint8_t *field;

    if (pi->ip_version != 4 || pi->l3_ofs == PACKET_OFS_NONE) {
        return false;
    }
    field = frame + pi->l3_ofs + offsetof(Ipv4Hdr, csum);
    packet_store_be16(field, 0);
    packet_store_be16(field, csum_buf(frame + pi->l3_ofs, pi->ip_hdr_len));
    return true;
}

unsigned csum_update_flags(const PacketInfo *pi)
{
    unsigned flags = 0;

    if (pi->flags & PACKET_F_CSUM_PARTIAL) {
        flags |= CSUM_UPD_PARTIAL;
    }
    if (pi->ip_proto == IP_PROTO_UDP) {
        flags |= CSUM_UPD_UDP;
    }
    return flags;
}

void csum_update_l4_field(uint8_t *csum_field, const void *old,
                          const void *new, size_t len, size_t offset,
                          unsigned flags)
{
    uint16_t cur = packet_load_be16(csum_field);

    if (flags & CSUM_UPD_PARTIAL) {
        uint32_t sum = cur;

        if (!(flags & CSUM_UPD_PSEUDO)) {
            return;         /* the device sums the new bytes itself */
        }
        /* The field holds fold(pseudo): update it uncomplemented. */
        sum = csum_sub(sum, csum_shift(csum_partial(old, len, 0), offset));
        sum = csum_add(sum, csum_shift(csum_partial(new, len, 0), offset));
        packet_store_be16(csum_field, csum_fold(sum));
        return;
    }
    if ((flags & CSUM_UPD_UDP) && cur == 0) {
        return;             /* UDP without checksum stays without */
    }
    cur = csum_replace_bytes(cur, offset, old, new, len);
    if ((flags & CSUM_UPD_UDP) && cur == 0) {
        cur = 0xffff;
    }
    packet_store_be16(csum_field, cur);
}

void csum_l4_store_be32(uint8_t *frame, const PacketInfo *pi,
                        size_t field_ofs, uint32_t value)
{
    uint8_t old[4];

    memcpy(old, frame + field_ofs, sizeof old);
    packet_store_be32(frame + field_ofs, value);
    if (!l4_checkable(pi)) {
        return;
    }
    csum_update_l4_field(frame + pi->l4_csum_ofs, old, frame + field_ofs,
                         sizeof old, field_ofs - pi->l4_ofs,
                         csum_update_flags(pi));
}
