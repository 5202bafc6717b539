/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/packet.h - parse one Ethernet frame into a PacketInfo.
 *
 * This is the bottom of the packet path: a pure function over a borrowed
 * byte buffer, no I/O, no allocation, no GObject.  colo-compare and
 * filter-rewriter parse each frame once with packet_parse() and then work
 * from the offsets and fields it recorded; net/checksum.c computes and
 * updates checksums from the same PacketInfo, and net/conntrack.c builds
 * connection keys from it.
 *
 * Frame layout accepted (each part optional where marked):
 *
 *   [virtio-net header, vnet_hdr_len bytes]        (vnet_hdr_len may be 0)
 *   Ethernet dst(6) src(6)
 *   [802.1ad/802.1Q tag: TPID(2) TCI(2)]           (0, 1 or 2 tags)
 *   ethertype(2)
 *   IPv4 header (with options)  |  IPv6 header [extension headers...]
 *   TCP | UDP | ICMP | ICMPv6 | other upper layer  (absent in a non-first
 *                                                   fragment)
 *   L4 payload
 *   [Ethernet padding / trailer]                   (never parsed)
 *
 * Differences from QEMU's parse_packet_early() (see docs/interop):
 *   - every length read from the wire is checked against the bytes really
 *     present before it is used; a truncated frame never reads out of bounds;
 *   - the IP total length (IPv4) or payload length (IPv6) bounds everything
 *     above L3: Ethernet padding is never counted as payload;
 *   - IPv6, VLAN and QinQ are parsed, not passed through;
 *   - fragments are recognised: a non-first fragment has no L4 header.
 *
 * Conventions:
 *   - all offsets are from the start of 'frame' (so the vnet header counts)
 *     and are uint16_t (headers always start in the first 64 KiB; only the
 *     end of a 64 KiB datagram, ip_end_ofs, needs 32 bits); PACKET_OFS_NONE
 *     marks a layer that is absent;
 *   - multi-byte wire fields are converted to host order in PacketInfo,
 *     except addresses, which stay as the 16 bytes seen on the wire (IPv4
 *     addresses IPv4-mapped: ::ffff:a.b.c.d);
 *   - wire fields are read with memcpy loads (packet_load_be16/32), never
 *     through casted pointers, so any alignment of 'frame' is fine.
 *
 * Threads: none of this has state; call from any thread.
 */
#ifndef NET_PACKET_H
#define NET_PACKET_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Byte-order helpers: unaligned, memcpy based.                               */

/* Loads the big-endian 16-bit value at 'p' (any alignment). */
static inline uint16_t packet_load_be16(const void *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof v);
    return GUINT16_FROM_BE(v);
}

/* Loads the big-endian 32-bit value at 'p' (any alignment). */
static inline uint32_t packet_load_be32(const void *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof v);
    return GUINT32_FROM_BE(v);
}

/* Loads the big-endian 64-bit value at 'p' (any alignment). */
static inline uint64_t packet_load_be64(const void *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof v);
    return GUINT64_FROM_BE(v);
}

/* Loads the 64-bit value at 'p' in host order (any alignment): for
 * hashing bytes, where the order does not matter. */
static inline uint64_t packet_load_ne64(const void *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof v);
    return v;
}

/* Loads the little-endian 16-bit value at 'p' (virtio-net v1 fields). */
static inline uint16_t packet_load_le16(const void *p)
{
    uint16_t v;

    memcpy(&v, p, sizeof v);
    return GUINT16_FROM_LE(v);
}

/* Stores 'v' big-endian at 'p' (any alignment). */
static inline void packet_store_be16(void *p, uint16_t v)
{
    v = GUINT16_TO_BE(v);
    memcpy(p, &v, sizeof v);
}

/* Stores 'v' big-endian at 'p' (any alignment). */
static inline void packet_store_be32(void *p, uint32_t v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, sizeof v);
}

/* ------------------------------------------------------------------------ */
/* Wire formats.  Documentation of the layouts and source of the field      */
/* offsets (offsetof); the parser never dereferences them as structs.        */
/* 'be' fields are big-endian; 32-bit fields are split in two 16-bit halves  */
/* so no struct needs more than 2-byte alignment.                            */

typedef struct { uint16_t hi, lo; } PacketBe32;   /* be32, 2-byte aligned */

typedef struct EthHdr {
    uint8_t dst[6];
    uint8_t src[6];
    uint16_t type;              /* be: ethertype, or a VLAN TPID */
} EthHdr;
G_STATIC_ASSERT(sizeof(EthHdr) == 14);

typedef struct VlanTag {        /* follows dst/src in place of 'type' */
    uint16_t tpid;              /* be: 0x8100 or 0x88a8 */
    uint16_t tci;               /* be: PCP(3) DEI(1) VID(12) */
} VlanTag;
G_STATIC_ASSERT(sizeof(VlanTag) == 4);

typedef struct Ipv4Hdr {
    uint8_t ver_ihl;            /* version (4 bits), header length / 4 */
    uint8_t tos;                /* DSCP (6 bits), ECN (2 bits) */
    uint16_t tot_len;           /* be: header + payload */
    uint16_t id;                /* be */
    uint16_t frag_off;          /* be: reserved, DF, MF, offset / 8 (13) */
    uint8_t ttl;
    uint8_t proto;
    uint16_t csum;              /* be */
    PacketBe32 src;
    PacketBe32 dst;
} Ipv4Hdr;
G_STATIC_ASSERT(sizeof(Ipv4Hdr) == 20);

typedef struct Ipv6Hdr {
    PacketBe32 ver_tc_flow;     /* version (4), traffic class (8), flow (20) */
    uint16_t payload_len;       /* be: bytes after this header */
    uint8_t next;               /* first extension header or upper layer */
    uint8_t hop_limit;
    uint8_t src[16];
    uint8_t dst[16];
} Ipv6Hdr;
G_STATIC_ASSERT(sizeof(Ipv6Hdr) == 40);

typedef struct Ipv6FragHdr {
    uint8_t next;
    uint8_t reserved;
    uint16_t frag_off;          /* be: offset / 8 (13), reserved (2), M (1) */
    PacketBe32 id;
} Ipv6FragHdr;
G_STATIC_ASSERT(sizeof(Ipv6FragHdr) == 8);

typedef struct TcpHdr {
    uint16_t src_port;          /* be */
    uint16_t dst_port;          /* be */
    PacketBe32 seq;
    PacketBe32 ack;
    uint8_t doff_ns;            /* data offset / 4 (4 bits), reserved, NS */
    uint8_t flags;              /* CWR ECE URG ACK PSH RST SYN FIN */
    uint16_t window;            /* be */
    uint16_t csum;              /* be */
    uint16_t urg_ptr;           /* be */
} TcpHdr;
G_STATIC_ASSERT(sizeof(TcpHdr) == 20);

typedef struct UdpHdr {
    uint16_t src_port;          /* be */
    uint16_t dst_port;          /* be */
    uint16_t len;               /* be: header + payload */
    uint16_t csum;              /* be: 0 = none (IPv4 only) */
} UdpHdr;
G_STATIC_ASSERT(sizeof(UdpHdr) == 8);

typedef struct IcmpHdr {        /* ICMP and ICMPv6 share the first 8 bytes */
    uint8_t type;
    uint8_t code;
    uint16_t csum;              /* be */
    uint16_t id;                /* be: echo request/reply only */
    uint16_t seq;               /* be: echo request/reply only */
} IcmpHdr;
G_STATIC_ASSERT(sizeof(IcmpHdr) == 8);

/* The virtio-net header (struct virtio_net_hdr, v1 little-endian; legacy
 * headers are native-endian, the same thing on the little-endian hosts we
 * run on).  12 bytes with num_buffers, 20 with the hash report fields. */
typedef struct VnetHdr {
    uint8_t flags;              /* PACKET_VNET_F_* */
    uint8_t gso_type;           /* PACKET_VNET_GSO_* */
    uint16_t hdr_len;           /* le */
    uint16_t gso_size;          /* le */
    uint16_t csum_start;        /* le: from the Ethernet header */
    uint16_t csum_offset;       /* le: from csum_start */
} VnetHdr;
G_STATIC_ASSERT(sizeof(VnetHdr) == 10);

#define ETH_TYPE_IPV4   0x0800
#define ETH_TYPE_ARP    0x0806
#define ETH_TYPE_VLAN   0x8100  /* 802.1Q C-tag */
#define ETH_TYPE_QINQ   0x88a8  /* 802.1ad S-tag */
#define ETH_TYPE_IPV6   0x86dd

#define IP_PROTO_HOPOPTS    0
#define IP_PROTO_ICMP       1
#define IP_PROTO_TCP        6
#define IP_PROTO_UDP        17
#define IP_PROTO_DCCP       33
#define IP_PROTO_ROUTING    43
#define IP_PROTO_FRAGMENT   44
#define IP_PROTO_ESP        50
#define IP_PROTO_AH         51
#define IP_PROTO_ICMPV6     58
#define IP_PROTO_NONE       59
#define IP_PROTO_DSTOPTS    60
#define IP_PROTO_SCTP       132
#define IP_PROTO_UDPLITE    136

#define PACKET_TCP_FIN  0x001
#define PACKET_TCP_SYN  0x002
#define PACKET_TCP_RST  0x004
#define PACKET_TCP_PSH  0x008
#define PACKET_TCP_ACK  0x010
#define PACKET_TCP_URG  0x020
#define PACKET_TCP_ECE  0x040
#define PACKET_TCP_CWR  0x080
#define PACKET_TCP_NS   0x100

#define PACKET_VNET_F_NEEDS_CSUM    1   /* L4 csum field holds only the
                                         * pseudo-header sum; see
                                         * include/net/checksum.h */
#define PACKET_VNET_F_DATA_VALID    2   /* checksum already verified */
#define PACKET_VNET_GSO_NONE        0

/* ------------------------------------------------------------------------ */
/* Parse result.                                                              */

#define PACKET_OFS_NONE         UINT16_MAX
#define PACKET_VNET_HDR_MIN     10u   /* sizeof(VnetHdr) */
#define PACKET_VNET_HDR_MAX     64u   /* largest vnet_hdr_len accepted */
#define PACKET_MAX_VLANS        2u
#define PACKET_MAX_IPV6_EXT     8u    /* extension headers walked at most */
#define PACKET_TCP_WSCALE_NONE  0xff

/*
 * Why packet_parse() stopped.  PACKET_OK means every layer present was
 * parsed.  The two "unsupported" values describe well-formed frames we do
 * not look into (callers usually pass them through); all the others are
 * malformed frames.  Keep packet_verdict_name() in sync.
 */
typedef enum PacketVerdict {
    PACKET_OK = 0,
    /* unsupported but well-formed */
    PACKET_NOT_IP,                /* ethertype is neither IPv4 nor IPv6 */
    PACKET_VLAN_TOO_DEEP,         /* more than PACKET_MAX_VLANS tags */
    /* malformed */
    PACKET_BAD_VNET,              /* vnet_hdr_len is 1..9 or too large */
    PACKET_TOO_SHORT,             /* no room for vnet + Ethernet (+ tags) */
    PACKET_IP_TRUNCATED,          /* fixed IP header does not fit */
    PACKET_IP_BAD_VERSION,        /* version nibble != ethertype's */
    PACKET_IPV4_BAD_IHL,          /* IHL < 5 or header beyond the frame */
    PACKET_IPV4_BAD_TOTAL_LEN,    /* total length < IHL*4 or > frame */
    PACKET_IPV6_BAD_PAYLOAD_LEN,  /* payload length > frame */
    PACKET_IPV6_BAD_EXT_HDR,      /* extension header truncated (incl. a
                                   * jumbogram's hop-by-hop header behind
                                   * payload length 0), or more than
                                   * PACKET_MAX_IPV6_EXT of them */
    PACKET_L4_TRUNCATED,          /* TCP/UDP/ICMP header beyond IP length */
    PACKET_TCP_BAD_DATA_OFFSET,   /* data offset < 5 or beyond IP length */
    PACKET_UDP_BAD_LEN,           /* UDP length < 8 or beyond IP length */
    PACKET_VERDICT__MAX
} PacketVerdict;

/* PacketInfo.flags */
#define PACKET_F_PORTS          (1u << 0)  /* src_port/dst_port valid */
#define PACKET_F_FRAG           (1u << 1)  /* a fragment (first or later) */
#define PACKET_F_LATER_FRAG     (1u << 2)  /* offset != 0: no L4 header */
#define PACKET_F_FRAG_MORE      (1u << 3)  /* more fragments follow (MF) */
#define PACKET_F_IPV4_OPTIONS   (1u << 4)  /* IHL > 5 */
#define PACKET_F_IPV4_DF        (1u << 5)  /* don't fragment */
#define PACKET_F_IPV6_EXT       (1u << 6)  /* extension headers present */
#define PACKET_F_PADDED         (1u << 7)  /* bytes after the IP datagram
                                            * (or after the UDP length) */
#define PACKET_F_ICMP_ECHO      (1u << 8)  /* echo request/reply: icmp_id */
#define PACKET_F_TCP_SACK_PERM  (1u << 9)  /* SACK-permitted option seen */
#define PACKET_F_TCP_OPT_BAD    (1u << 10) /* malformed option; walk stopped
                                            * or option ignored */
#define PACKET_F_CSUM_PARTIAL   (1u << 11) /* vnet NEEDS_CSUM */
#define PACKET_F_CSUM_VALID     (1u << 12) /* vnet DATA_VALID */
#define PACKET_F_GSO            (1u << 13) /* vnet gso_type != NONE */

/* An IP address as 16 wire bytes; IPv4 is IPv4-mapped (::ffff:a.b.c.d). */
typedef struct PacketAddr {
    uint8_t b[16];
} PacketAddr;
G_STATIC_ASSERT(sizeof(PacketAddr) == 16);

/*
 * The result of packet_parse().  Fields of a layer that was not reached
 * are zero, offsets PACKET_OFS_NONE.  Every offset + length recorded here
 * lies inside the 'len' bytes given to packet_parse().
 */
typedef struct PacketInfo {
    uint32_t frame_len;         /* bytes given to packet_parse() */
    uint32_t flags;             /* PACKET_F_* */

    /* virtio-net header (vnet_hdr_len >= 10) */
    uint8_t vnet_hdr_len;       /* bytes skipped before Ethernet */
    uint8_t vnet_flags;         /* PACKET_VNET_F_* */
    uint8_t vnet_gso_type;      /* PACKET_VNET_GSO_* */
    uint8_t n_vlans;            /* 0..2 */
    uint16_t vnet_csum_start;   /* host order, from the Ethernet header */
    uint16_t vnet_csum_offset;  /* host order, from csum_start */

    /* L2 */
    uint16_t l2_ofs;            /* Ethernet header (== vnet_hdr_len) */
    uint16_t ethertype;         /* innermost ethertype, host order */
    uint16_t vlan_tci[PACKET_MAX_VLANS];  /* [0] outer; host order TCI */
    uint16_t vlan_tpid[PACKET_MAX_VLANS]; /* 0x8100 or 0x88a8 */

    /* L3 */
    uint16_t l3_ofs;            /* IP header, or NONE */
    uint16_t ip_hdr_len;        /* IPv4 IHL*4; IPv6 40 + extension hdrs */
    uint32_t ip_end_ofs;        /* first byte after the IP datagram; the
                                 * Ethernet padding starts here.  32 bits:
                                 * a 64 KiB GSO datagram behind the vnet
                                 * and L2 headers ends past 65535.  0 when
                                 * there is no IP header */
    uint8_t ip_version;         /* 4, 6, or 0 when not IP */
    uint8_t ip_proto;           /* upper-layer protocol (after IPv6
                                 * extension headers) */
    uint8_t ip_ttl;             /* TTL / hop limit */
    uint8_t ip_tos;             /* TOS / traffic class */
    uint16_t frag_ofs;          /* fragment offset in bytes */
    uint32_t frag_id;           /* IPv4 id (also for non-fragments), or
                                 * IPv6 fragment header id */
    PacketAddr src;             /* source address */
    PacketAddr dst;             /* destination address */

    /* L4 */
    uint16_t l4_ofs;            /* upper-layer header, or NONE */
    uint16_t l4_len;            /* bytes covered by the L4 checksum: from
                                 * l4_ofs to the IP end (UDP: the UDP
                                 * length); 0 when no L4 */
    uint16_t l4_csum_ofs;       /* the L4 checksum field, or NONE */
    uint16_t payload_ofs;       /* L4 payload, or NONE */
    uint16_t payload_len;       /* payload bytes, measured from the IP
                                 * length, never Ethernet padding */
    uint16_t src_port;          /* TCP/UDP/SCTP/DCCP/UDP-Lite ports */
    uint16_t dst_port;
    uint8_t icmp_type;          /* ICMP / ICMPv6 */
    uint8_t icmp_code;
    uint16_t icmp_id;           /* echo request/reply identifier */

    /* TCP */
    uint32_t tcp_seq;
    uint32_t tcp_ack;
    uint16_t tcp_flags;         /* PACKET_TCP_* (9 bits, NS included) */
    uint16_t tcp_window;        /* raw, unscaled */
    uint8_t tcp_hdr_len;        /* data offset * 4 */
    uint8_t tcp_wscale;         /* window scale shift, or WSCALE_NONE */
    uint16_t tcp_mss;           /* MSS option, 0 if absent */
    uint16_t tcp_sack_ofs;      /* first SACK block (left edge be32, right
                                 * edge be32, 8 bytes each), or NONE */
    uint8_t tcp_sack_blocks;    /* SACK blocks at tcp_sack_ofs (0..4) */
    uint16_t tcp_ts_ofs;        /* timestamp option's TSval (TSecr at +4),
                                 * or NONE */
} PacketInfo;

/*
 * Parses 'len' bytes at 'frame', of which the first 'vnet_hdr_len' are a
 * virtio-net header (0 for none), into '*pi'.
 *
 * Returns PACKET_OK when every layer present was parsed, or the reason it
 * stopped; in that case the fields of the layers parsed before the problem
 * are still filled (e.g. a frame with ethertype ARP returns PACKET_NOT_IP
 * with l2_ofs and ethertype set), the rest are absent.
 *
 * A non-first fragment returns PACKET_OK with PACKET_F_LATER_FRAG, no L4
 * (l4_ofs NONE, no ports) and payload_ofs/len describing the fragment data.
 * A first fragment has its L4 header parsed (it must fit) and the payload
 * it carries; its L4 checksum cannot be checked.
 *
 * Borrows 'frame' for the call only; never reads outside it; no
 * allocation.  Any thread.
 */
PacketVerdict packet_parse(const uint8_t *frame, size_t len,
                           unsigned vnet_hdr_len, PacketInfo *pi);

/* Returns a stable lower-case name for 'v' ("ok", "not-ip", "too-short",
 * ...), for counters and logs.  Unknown values give "invalid". */
const char *packet_verdict_name(PacketVerdict v);

/* True for the verdicts describing well-formed frames that are merely not
 * looked into (PACKET_NOT_IP, PACKET_VLAN_TOO_DEEP). */
static inline bool packet_verdict_is_unsupported(PacketVerdict v)
{
    return v == PACKET_NOT_IP || v == PACKET_VLAN_TOO_DEEP;
}

/* ------------------------------------------------------------------------ */
/* Accessors.                                                                 */

static inline bool packet_is_tcp(const PacketInfo *pi)
{
    return pi->ip_proto == IP_PROTO_TCP && pi->l4_ofs != PACKET_OFS_NONE;
}

static inline bool packet_is_udp(const PacketInfo *pi)
{
    return pi->ip_proto == IP_PROTO_UDP && pi->l4_ofs != PACKET_OFS_NONE;
}

/* VLAN id (12 bits) of tag 'i' (0 = outer), or 0 if there is no such tag. */
static inline uint16_t packet_vlan_id(const PacketInfo *pi, unsigned i)
{
    return i < pi->n_vlans ? (pi->vlan_tci[i] & 0x0fff) : 0;
}

/* The IPv4 address (host order) held IPv4-mapped in 'a'. */
static inline uint32_t packet_addr_ipv4(const PacketAddr *a)
{
    return packet_load_be32(&a->b[12]);
}

/* Buffer size for packet_addr_format() (INET6_ADDRSTRLEN). */
#define PACKET_ADDR_STRLEN      46

/* Formats 'a' as text into 'buf' (PACKET_ADDR_STRLEN bytes): dotted quad
 * from its IPv4-mapped bytes when 'ip_version' is 4, else IPv6 text.
 * Returns 'buf'. */
const char *packet_addr_format(const PacketAddr *a, uint8_t ip_version,
                               char buf[PACKET_ADDR_STRLEN]);

/* Offsets of the TCP seq / ack fields (valid when packet_is_tcp()). */
static inline uint16_t packet_tcp_seq_ofs(const PacketInfo *pi)
{
    return pi->l4_ofs + offsetof(TcpHdr, seq);
}

static inline uint16_t packet_tcp_ack_ofs(const PacketInfo *pi)
{
    return pi->l4_ofs + offsetof(TcpHdr, ack);
}

/* The sequence number following this segment: seq + payload, + 1 for SYN
 * and + 1 for FIN (RFC 9293 SEG.LEN). */
static inline uint32_t packet_tcp_seq_end(const PacketInfo *pi)
{
    return pi->tcp_seq + pi->payload_len
           + !!(pi->tcp_flags & PACKET_TCP_SYN)
           + !!(pi->tcp_flags & PACKET_TCP_FIN);
}

/* ------------------------------------------------------------------------ */
/* Sequence-number arithmetic (house style rule 7): modulo 2^32, valid while */
/* the two numbers are less than 2^31 apart.  Never compare seq/ack values   */
/* with < or >, and never test an unsigned difference for > 0.               */

/* Signed distance from 'b' to 'a' (a - b). */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return seq_diff(a, b) < 0;
}

static inline bool seq_leq(uint32_t a, uint32_t b)
{
    return seq_diff(a, b) <= 0;
}

static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return seq_diff(a, b) > 0;
}

static inline bool seq_geq(uint32_t a, uint32_t b)
{
    return seq_diff(a, b) >= 0;
}

static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
    return seq_gt(a, b) ? a : b;
}

static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? a : b;
}

#endif /* NET_PACKET_H */
