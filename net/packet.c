/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/packet.c - Ethernet / VLAN / IPv4 / IPv6 / TCP / UDP / ICMP parsing.
 *
 * One pass, front to back, through a bounds-checked cursor (OVS's
 * data_try_pull()): a pull that does not fit fails and leaves the cursor
 * where it was, so no length read from the wire is ever used before it has
 * been checked against the bytes really present.  As soon as the IP header
 * has been read, the cursor's end is moved to the end of the IP datagram
 * (total length / payload length): Ethernet padding is never parsed and
 * never counted as payload.
 *
 * The result feeds net/checksum.c, net/conntrack.c, colo-compare and
 * filter-rewriter; see include/net/packet.h for the contract.
 */
#include <arpa/inet.h>

#include "net/packet.h"

/* A read-only window [ofs, end) over the frame. */
typedef struct Cursor {
    const uint8_t *base;        /* start of the frame */
    size_t ofs;                 /* next unread byte */
    size_t end;                 /* first byte not to be read */
} Cursor;

static inline size_t cursor_left(const Cursor *c)
{
    return c->end - c->ofs;
}

/* Returns a pointer to the next 'n' bytes and consumes them, or NULL
 * (cursor unchanged) when fewer than 'n' bytes are left. */
static inline const uint8_t *cursor_try_pull(Cursor *c, size_t n)
{
    const uint8_t *p;

    if (cursor_left(c) < n) {
        return NULL;
    }
    p = c->base + c->ofs;
    c->ofs += n;
    return p;
}

/* Returns a pointer to the next 'n' bytes without consuming them, or NULL
 * when fewer than 'n' bytes are left. */
static inline const uint8_t *cursor_peek(const Cursor *c, size_t n)
{
    return cursor_left(c) < n ? NULL : c->base + c->ofs;
}

static void addr_set_ipv4(PacketAddr *a, const uint8_t *wire)
{
    memset(a->b, 0, 10);
    a->b[10] = 0xff;
    a->b[11] = 0xff;
    memcpy(&a->b[12], wire, 4);
}

/* Where every parse starts: all zero, every layer absent. */
static const PacketInfo packet_info_none = {
    .l2_ofs = PACKET_OFS_NONE,
    .l3_ofs = PACKET_OFS_NONE,
    .l4_ofs = PACKET_OFS_NONE,
    .l4_csum_ofs = PACKET_OFS_NONE,
    .payload_ofs = PACKET_OFS_NONE,
    .tcp_wscale = PACKET_TCP_WSCALE_NONE,
    .tcp_sack_ofs = PACKET_OFS_NONE,
    .tcp_ts_ofs = PACKET_OFS_NONE,
};

/*
 * *pi = packet_info_none, as eight 16-byte loads and stores.  Written
 * plainly, gcc sees through the copy to a memset() of the 124 bytes plus
 * the eight fields, and emits "rep stos" for the memset: 36 instructions
 * per frame and side in callgrind, and a string instruction that is slow
 * to start, twice per frame pair.  The empty asm hides where the pointer
 * points, so the copy stays a copy.
 */
static inline void packet_info_reset(PacketInfo *pi)
{
    const PacketInfo *none = &packet_info_none;

    __asm__("" : "+r"(none));
    memcpy(pi, none, sizeof *pi);
}

static PacketVerdict parse_l2(Cursor *c, PacketInfo *pi);
static PacketVerdict parse_ipv4(Cursor *c, PacketInfo *pi);
static PacketVerdict parse_ipv6(Cursor *c, PacketInfo *pi);
static PacketVerdict parse_l4(Cursor *c, PacketInfo *pi);
static void parse_tcp_options(const uint8_t *frame, size_t ofs, size_t end,
                              PacketInfo *pi);

PacketVerdict packet_parse(const uint8_t *frame, size_t len,
                           unsigned vnet_hdr_len, PacketInfo *pi)
{
    Cursor c = { .base = frame, .ofs = 0, .end = len };
    PacketVerdict v;

    packet_info_reset(pi);
    pi->frame_len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;

    /* Header offsets fit uint16_t whatever 'len' is: vnet <= 64, L2 <= 22,
     * IPv4 <= 60, IPv6 + 8 extension headers <= 40 + 8 * 2048, TCP <= 60.
     * Payload lengths are bounded by the 16-bit IP length fields. */
    if (vnet_hdr_len) {
        const uint8_t *vh;

        if (vnet_hdr_len < PACKET_VNET_HDR_MIN ||
            vnet_hdr_len > PACKET_VNET_HDR_MAX) {
            return PACKET_BAD_VNET;
        }
        vh = cursor_try_pull(&c, vnet_hdr_len);
        if (!vh) {
            return PACKET_TOO_SHORT;
        }
        pi->vnet_hdr_len = vnet_hdr_len;
        pi->vnet_flags = vh[offsetof(VnetHdr, flags)];
        pi->vnet_gso_type = vh[offsetof(VnetHdr, gso_type)];
        pi->vnet_csum_start = packet_load_le16(vh + offsetof(VnetHdr,
                                                             csum_start));
        pi->vnet_csum_offset = packet_load_le16(vh + offsetof(VnetHdr,
                                                              csum_offset));
        if (pi->vnet_flags & PACKET_VNET_F_NEEDS_CSUM) {
            pi->flags |= PACKET_F_CSUM_PARTIAL;
        }
        if (pi->vnet_flags & PACKET_VNET_F_DATA_VALID) {
            pi->flags |= PACKET_F_CSUM_VALID;
        }
        if (pi->vnet_gso_type != PACKET_VNET_GSO_NONE) {
            pi->flags |= PACKET_F_GSO;
        }
    }

    v = parse_l2(&c, pi);
    if (v != PACKET_OK) {
        return v;
    }
    switch (pi->ethertype) {
    case ETH_TYPE_IPV4:
        v = parse_ipv4(&c, pi);
        break;
    case ETH_TYPE_IPV6:
        v = parse_ipv6(&c, pi);
        break;
    default:
        return PACKET_NOT_IP;
    }
    if (v != PACKET_OK) {
        return v;
    }
    if (pi->flags & PACKET_F_LATER_FRAG) {
        /* Fragment data only: no L4 header to look at. */
        pi->payload_ofs = c.ofs;
        pi->payload_len = cursor_left(&c);
        return PACKET_OK;
    }
    return parse_l4(&c, pi);
}

/* Ethernet header and up to PACKET_MAX_VLANS tags. */
static PacketVerdict parse_l2(Cursor *c, PacketInfo *pi)
{
    const uint8_t *p;
    uint16_t type;

    pi->l2_ofs = c->ofs;
    p = cursor_try_pull(c, offsetof(EthHdr, type));
    if (!p) {
        return PACKET_TOO_SHORT;
    }
    for (;;) {
        p = cursor_try_pull(c, sizeof(uint16_t));
        if (!p) {
            return PACKET_TOO_SHORT;
        }
        type = packet_load_be16(p);
        if (type != ETH_TYPE_VLAN && type != ETH_TYPE_QINQ) {
            break;
        }
        if (pi->n_vlans == PACKET_MAX_VLANS) {
            pi->ethertype = type;
            return PACKET_VLAN_TOO_DEEP;
        }
        p = cursor_try_pull(c, sizeof(uint16_t));
        if (!p) {
            return PACKET_TOO_SHORT;
        }
        pi->vlan_tpid[pi->n_vlans] = type;
        pi->vlan_tci[pi->n_vlans] = packet_load_be16(p);
        pi->n_vlans++;
    }
    pi->ethertype = type;
    return PACKET_OK;
}

static PacketVerdict parse_ipv4(Cursor *c, PacketInfo *pi)
{
    const uint8_t *ip = cursor_peek(c, sizeof(Ipv4Hdr));
    size_t ihl, tot_len;
    uint16_t frag;

    if (!ip) {
        return PACKET_IP_TRUNCATED;
    }
    pi->l3_ofs = c->ofs;
    if ((ip[0] >> 4) != 4) {
        return PACKET_IP_BAD_VERSION;
    }
    pi->ip_version = 4;
    ihl = (ip[0] & 0x0f) * 4u;
    if (ihl < sizeof(Ipv4Hdr) || ihl > cursor_left(c)) {
        return PACKET_IPV4_BAD_IHL;
    }
    tot_len = packet_load_be16(ip + offsetof(Ipv4Hdr, tot_len));
    if (tot_len < ihl || tot_len > cursor_left(c)) {
        return PACKET_IPV4_BAD_TOTAL_LEN;
    }

    /* Never parse the Ethernet padding: the datagram ends here. */
    c->end = c->ofs + tot_len;
    pi->ip_end_ofs = c->end;
    if (c->end < pi->frame_len) {
        pi->flags |= PACKET_F_PADDED;
    }
    c->ofs += ihl;

    pi->ip_hdr_len = ihl;
    pi->ip_tos = ip[offsetof(Ipv4Hdr, tos)];
    pi->ip_ttl = ip[offsetof(Ipv4Hdr, ttl)];
    pi->ip_proto = ip[offsetof(Ipv4Hdr, proto)];
    pi->frag_id = packet_load_be16(ip + offsetof(Ipv4Hdr, id));
    addr_set_ipv4(&pi->src, ip + offsetof(Ipv4Hdr, src));
    addr_set_ipv4(&pi->dst, ip + offsetof(Ipv4Hdr, dst));
    if (ihl > sizeof(Ipv4Hdr)) {
        pi->flags |= PACKET_F_IPV4_OPTIONS;
    }

    frag = packet_load_be16(ip + offsetof(Ipv4Hdr, frag_off));
    if (frag & 0x4000) {
        pi->flags |= PACKET_F_IPV4_DF;
    }
    pi->frag_ofs = (frag & 0x1fff) * 8u;
    if (frag & 0x2000) {
        pi->flags |= PACKET_F_FRAG | PACKET_F_FRAG_MORE;
    }
    if (pi->frag_ofs) {
        pi->flags |= PACKET_F_FRAG | PACKET_F_LATER_FRAG;
    }
    return PACKET_OK;
}

static PacketVerdict parse_ipv6(Cursor *c, PacketInfo *pi)
{
    const uint8_t *ip = cursor_peek(c, sizeof(Ipv6Hdr));
    uint32_t vtf;
    size_t plen;
    uint8_t next;
    unsigned n_ext = 0;

    if (!ip) {
        return PACKET_IP_TRUNCATED;
    }
    pi->l3_ofs = c->ofs;
    vtf = packet_load_be32(ip);
    if ((vtf >> 28) != 6) {
        return PACKET_IP_BAD_VERSION;
    }
    pi->ip_version = 6;
    plen = packet_load_be16(ip + offsetof(Ipv6Hdr, payload_len));
    /* A jumbogram (payload length 0 with a hop-by-hop jumbo option) cannot
     * be an Ethernet frame: plen 0 is an empty payload here, and the
     * hop-by-hop header behind it does not fit (PACKET_IPV6_BAD_EXT_HDR). */
    if (plen > cursor_left(c) - sizeof(Ipv6Hdr)) {
        return PACKET_IPV6_BAD_PAYLOAD_LEN;
    }
    c->ofs += sizeof(Ipv6Hdr);
    c->end = c->ofs + plen;
    pi->ip_end_ofs = c->end;
    if (c->end < pi->frame_len) {
        pi->flags |= PACKET_F_PADDED;
    }

    pi->ip_tos = (vtf >> 20) & 0xff;
    pi->ip_ttl = ip[offsetof(Ipv6Hdr, hop_limit)];
    memcpy(pi->src.b, ip + offsetof(Ipv6Hdr, src), 16);
    memcpy(pi->dst.b, ip + offsetof(Ipv6Hdr, dst), 16);

    /* Bounded walk over the extension headers. */
    next = ip[offsetof(Ipv6Hdr, next)];
    for (;;) {
        const uint8_t *eh;
        size_t eh_len;

        switch (next) {
        case IP_PROTO_HOPOPTS:
        case IP_PROTO_ROUTING:
        case IP_PROTO_DSTOPTS:
        case IP_PROTO_AH:
        case IP_PROTO_FRAGMENT:
            break;
        default:
            goto done;
        }
        if (++n_ext > PACKET_MAX_IPV6_EXT) {
            return PACKET_IPV6_BAD_EXT_HDR;
        }
        pi->flags |= PACKET_F_IPV6_EXT;
        eh = cursor_peek(c, 8);     /* every extension header is >= 8 */
        if (!eh) {
            return PACKET_IPV6_BAD_EXT_HDR;
        }
        if (next == IP_PROTO_FRAGMENT) {
            uint16_t fo = packet_load_be16(eh + offsetof(Ipv6FragHdr,
                                                         frag_off));

            pi->frag_ofs = fo & 0xfff8;
            pi->frag_id = packet_load_be32(eh + offsetof(Ipv6FragHdr, id));
            if (fo & 1) {
                pi->flags |= PACKET_F_FRAG_MORE;
            }
            /* Offset 0 without M is an atomic fragment (RFC 6946): a
             * whole datagram, not a fragment. */
            if (pi->frag_ofs || (fo & 1)) {
                pi->flags |= PACKET_F_FRAG;
            }
            eh_len = sizeof(Ipv6FragHdr);
        } else if (next == IP_PROTO_AH) {
            eh_len = (eh[1] + 2u) * 4u;       /* RFC 4302: 32-bit words */
        } else {
            eh_len = (eh[1] + 1u) * 8u;       /* RFC 8200: 8-octet units */
        }
        if (!cursor_try_pull(c, eh_len)) {
            return PACKET_IPV6_BAD_EXT_HDR;
        }
        next = eh[0];
        if (pi->frag_ofs) {
            /* Later fragment: what follows is data of the next header. */
            pi->flags |= PACKET_F_LATER_FRAG;
            break;
        }
    }
done:
    pi->ip_proto = next;
    pi->ip_hdr_len = c->ofs - pi->l3_ofs;
    return PACKET_OK;
}

static PacketVerdict parse_l4(Cursor *c, PacketInfo *pi)
{
    const uint8_t *p;
    size_t left = cursor_left(c);

    pi->l4_ofs = c->ofs;
    pi->l4_len = left;

    switch (pi->ip_proto) {
    case IP_PROTO_TCP: {
        size_t hlen;

        p = cursor_peek(c, sizeof(TcpHdr));
        if (!p) {
            return PACKET_L4_TRUNCATED;
        }
        pi->src_port = packet_load_be16(p + offsetof(TcpHdr, src_port));
        pi->dst_port = packet_load_be16(p + offsetof(TcpHdr, dst_port));
        pi->flags |= PACKET_F_PORTS;
        hlen = (p[offsetof(TcpHdr, doff_ns)] >> 4) * 4u;
        if (hlen < sizeof(TcpHdr) || hlen > left) {
            return PACKET_TCP_BAD_DATA_OFFSET;
        }
        pi->tcp_hdr_len = hlen;
        pi->tcp_seq = packet_load_be32(p + offsetof(TcpHdr, seq));
        pi->tcp_ack = packet_load_be32(p + offsetof(TcpHdr, ack));
        pi->tcp_flags = ((p[offsetof(TcpHdr, doff_ns)] & 1) << 8)
                        | p[offsetof(TcpHdr, flags)];
        pi->tcp_window = packet_load_be16(p + offsetof(TcpHdr, window));
        pi->l4_csum_ofs = c->ofs + offsetof(TcpHdr, csum);
        parse_tcp_options(c->base, c->ofs + sizeof(TcpHdr), c->ofs + hlen,
                          pi);
        pi->payload_ofs = c->ofs + hlen;
        pi->payload_len = left - hlen;
        return PACKET_OK;
    }

    case IP_PROTO_UDP: {
        size_t ulen;

        p = cursor_peek(c, sizeof(UdpHdr));
        if (!p) {
            return PACKET_L4_TRUNCATED;
        }
        pi->src_port = packet_load_be16(p + offsetof(UdpHdr, src_port));
        pi->dst_port = packet_load_be16(p + offsetof(UdpHdr, dst_port));
        pi->flags |= PACKET_F_PORTS;
        ulen = packet_load_be16(p + offsetof(UdpHdr, len));
        if (!(pi->flags & PACKET_F_FRAG)) {
            /* The UDP length bounds the datagram; bytes after it are a
             * trailer, treated like Ethernet padding. */
            if (ulen < sizeof(UdpHdr) || ulen > left) {
                return PACKET_UDP_BAD_LEN;
            }
            if (ulen < left) {
                pi->flags |= PACKET_F_PADDED;
            }
            pi->l4_len = ulen;
        }
        pi->l4_csum_ofs = c->ofs + offsetof(UdpHdr, csum);
        pi->payload_ofs = c->ofs + sizeof(UdpHdr);
        pi->payload_len = pi->l4_len - sizeof(UdpHdr);
        return PACKET_OK;
    }

    case IP_PROTO_ICMP:
    case IP_PROTO_ICMPV6: {
        bool v6 = pi->ip_proto == IP_PROTO_ICMPV6;

        if (v6 != (pi->ip_version == 6)) {
            break;          /* ICMP in IPv6 or ICMPv6 in IPv4: opaque */
        }
        /* Every ICMP and ICMPv6 message has at least 8 bytes. */
        p = cursor_peek(c, sizeof(IcmpHdr));
        if (!p) {
            return PACKET_L4_TRUNCATED;
        }
        pi->icmp_type = p[offsetof(IcmpHdr, type)];
        pi->icmp_code = p[offsetof(IcmpHdr, code)];
        if (v6 ? (pi->icmp_type == 128 || pi->icmp_type == 129)
               : (pi->icmp_type == 8 || pi->icmp_type == 0)) {
            pi->icmp_id = packet_load_be16(p + offsetof(IcmpHdr, id));
            pi->flags |= PACKET_F_ICMP_ECHO;
        }
        pi->l4_csum_ofs = c->ofs + offsetof(IcmpHdr, csum);
        pi->payload_ofs = c->ofs + sizeof(IcmpHdr);
        pi->payload_len = left - sizeof(IcmpHdr);
        return PACKET_OK;
    }

    case IP_PROTO_SCTP:
    case IP_PROTO_DCCP:
    case IP_PROTO_UDPLITE:
        /* Ports only; the rest is opaque payload. */
        p = cursor_peek(c, 4);
        if (!p) {
            return PACKET_L4_TRUNCATED;
        }
        pi->src_port = packet_load_be16(p);
        pi->dst_port = packet_load_be16(p + 2);
        pi->flags |= PACKET_F_PORTS;
        break;

    default:
        break;
    }
    /* Any other upper layer: its bytes are the payload. */
    pi->payload_ofs = c->ofs;
    pi->payload_len = left;
    return PACKET_OK;
}

/*
 * Walks the TCP options in [ofs, end), which the caller checked lie inside
 * the frame.  A malformed option (length < 2 or beyond the header) stops
 * the walk; a known option with the wrong length is ignored.  Both set
 * PACKET_F_TCP_OPT_BAD but do not fail the parse: the peer's TCP stack
 * decides what to make of them, and a proxy must forward them unchanged.
 */
static void parse_tcp_options(const uint8_t *frame, size_t ofs, size_t end,
                              PacketInfo *pi)
{
    while (ofs < end) {
        const uint8_t *o = frame + ofs;
        unsigned kind = o[0], olen;

        if (kind == 0) {            /* end of option list */
            break;
        }
        if (kind == 1) {            /* no-operation */
            ofs++;
            continue;
        }
        if (end - ofs < 2 || o[1] < 2 || o[1] > end - ofs) {
            pi->flags |= PACKET_F_TCP_OPT_BAD;
            break;
        }
        olen = o[1];
        switch (kind) {
        case 2:                     /* MSS */
            if (olen == 4) {
                pi->tcp_mss = packet_load_be16(o + 2);
            } else {
                pi->flags |= PACKET_F_TCP_OPT_BAD;
            }
            break;
        case 3:                     /* window scale */
            if (olen == 3) {
                pi->tcp_wscale = o[2];
            } else {
                pi->flags |= PACKET_F_TCP_OPT_BAD;
            }
            break;
        case 4:                     /* SACK permitted */
            if (olen == 2) {
                pi->flags |= PACKET_F_TCP_SACK_PERM;
            } else {
                pi->flags |= PACKET_F_TCP_OPT_BAD;
            }
            break;
        case 5:                     /* SACK: 1..4 blocks of 8 bytes */
            if (olen >= 10 && (olen - 2) % 8 == 0) {
                pi->tcp_sack_ofs = ofs + 2;
                pi->tcp_sack_blocks = (olen - 2) / 8;
            } else {
                pi->flags |= PACKET_F_TCP_OPT_BAD;
            }
            break;
        case 8:                     /* timestamps: TSval, TSecr */
            if (olen == 10) {
                pi->tcp_ts_ofs = ofs + 2;
            } else {
                pi->flags |= PACKET_F_TCP_OPT_BAD;
            }
            break;
        default:
            break;
        }
        ofs += olen;
    }
}

const char *packet_verdict_name(PacketVerdict v)
{
    static const char *const names[PACKET_VERDICT__MAX] = {
        [PACKET_OK] = "ok",
        [PACKET_NOT_IP] = "not-ip",
        [PACKET_VLAN_TOO_DEEP] = "vlan-too-deep",
        [PACKET_BAD_VNET] = "bad-vnet",
        [PACKET_TOO_SHORT] = "too-short",
        [PACKET_IP_TRUNCATED] = "ip-truncated",
        [PACKET_IP_BAD_VERSION] = "ip-bad-version",
        [PACKET_IPV4_BAD_IHL] = "ipv4-bad-ihl",
        [PACKET_IPV4_BAD_TOTAL_LEN] = "ipv4-bad-total-len",
        [PACKET_IPV6_BAD_PAYLOAD_LEN] = "ipv6-bad-payload-len",
        [PACKET_IPV6_BAD_EXT_HDR] = "ipv6-bad-ext-hdr",
        [PACKET_L4_TRUNCATED] = "l4-truncated",
        [PACKET_TCP_BAD_DATA_OFFSET] = "tcp-bad-data-offset",
        [PACKET_UDP_BAD_LEN] = "udp-bad-len",
    };

    if ((unsigned)v >= PACKET_VERDICT__MAX || !names[v]) {
        return "invalid";
    }
    return names[v];
}

const char *packet_addr_format(const PacketAddr *a, uint8_t ip_version,
                               char buf[PACKET_ADDR_STRLEN])
{
    G_STATIC_ASSERT(PACKET_ADDR_STRLEN >= INET6_ADDRSTRLEN);

    if (ip_version == 4) {
        inet_ntop(AF_INET, &a->b[12], buf, PACKET_ADDR_STRLEN);
    } else {
        inet_ntop(AF_INET6, a->b, buf, PACKET_ADDR_STRLEN);
    }
    return buf;
}
