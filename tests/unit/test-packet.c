/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-packet.c - unit tests of net/packet.c (frame parsing).
 *
 * The golden frames (tests/unit/golden-frames.h, one header per line) have
 * checksums computed with a Python 3 (standard library) RFC 1071 one-liner,
 * independent of net/checksum.c, verified in test-checksum.c.  Every one is
 * also parsed truncated at every byte offset, from a heap buffer of exactly
 * that size, so an out-of-bounds read shows up under ASan (CI) and the
 * offset invariants are checked in the default build.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "net/packet.h"
#include "golden-frames.h"

typedef struct {
    const char *name;
    const uint8_t *data;
    size_t len;
} Golden;

#define GOLDEN(x) { #x, x, sizeof(x) }
static const Golden goldens[] = {
    GOLDEN(syn4), GOLDEN(data4), GOLDEN(tcp6), GOLDEN(vlan_udp4),
    GOLDEN(qinq_udp6), GOLDEN(icmp4), GOLDEN(arp),
};

/* Everything PacketInfo promises about bounds, whatever the verdict. */
static void check_invariants(const PacketInfo *pi, size_t len)
{
    size_t end = len;

    ck_assert_uint_eq(pi->frame_len, len);
    if (pi->l3_ofs != PACKET_OFS_NONE) {
        ck_assert_uint_lt(pi->l3_ofs, len);
    }
    if (pi->ip_end_ofs) {
        ck_assert_uint_le(pi->ip_end_ofs, len);
        end = pi->ip_end_ofs;
    }
    if (pi->l4_ofs != PACKET_OFS_NONE) {
        ck_assert_uint_le((size_t)pi->l4_ofs + pi->l4_len, end);
    }
    if (pi->l4_csum_ofs != PACKET_OFS_NONE) {
        ck_assert_uint_le((size_t)pi->l4_csum_ofs + 2, end);
    }
    if (pi->payload_ofs != PACKET_OFS_NONE) {
        ck_assert_uint_le((size_t)pi->payload_ofs + pi->payload_len, end);
    }
    if (pi->tcp_ts_ofs != PACKET_OFS_NONE) {
        ck_assert_uint_le((size_t)pi->tcp_ts_ofs + 8, pi->payload_ofs);
    }
    if (pi->tcp_sack_ofs != PACKET_OFS_NONE) {
        ck_assert_uint_ge(pi->tcp_sack_blocks, 1);
        ck_assert_uint_le(pi->tcp_sack_blocks, 4);
        ck_assert_uint_le((size_t)pi->tcp_sack_ofs + 8 * pi->tcp_sack_blocks,
                          pi->payload_ofs);
    }
    ck_assert_uint_le(pi->n_vlans, PACKET_MAX_VLANS);
}

/* Parses a heap copy of exactly 'len' bytes, so ASan sees any overrun. */
static PacketVerdict parse_exact(const uint8_t *data, size_t len,
                                 unsigned vnet, PacketInfo *pi)
{
    uint8_t *copy = g_malloc(len ? len : 1);
    PacketVerdict v;

    memcpy(copy, data, len);
    v = packet_parse(len ? copy : NULL, len, vnet, pi);
    check_invariants(pi, len);
    g_free(copy);
    return v;
}

START_TEST(test_ipv4_tcp_syn_options)
{
    PacketInfo pi;

    ck_assert_int_eq(parse_exact(syn4, sizeof syn4, 0, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.l2_ofs, 0);
    ck_assert_uint_eq(pi.ethertype, ETH_TYPE_IPV4);
    ck_assert_uint_eq(pi.n_vlans, 0);
    ck_assert_uint_eq(pi.l3_ofs, 14);
    ck_assert_uint_eq(pi.ip_version, 4);
    ck_assert_uint_eq(pi.ip_hdr_len, 20);
    ck_assert_uint_eq(pi.ip_end_ofs, 74);
    ck_assert_uint_eq(pi.ip_proto, IP_PROTO_TCP);
    ck_assert_uint_eq(pi.ip_ttl, 64);
    ck_assert_uint_eq(pi.frag_id, 0x1234);
    ck_assert(pi.flags & PACKET_F_IPV4_DF);
    ck_assert(!(pi.flags & (PACKET_F_FRAG | PACKET_F_PADDED)));
    ck_assert_uint_eq(packet_addr_ipv4(&pi.src), 0xc0a8010a);
    ck_assert_uint_eq(packet_addr_ipv4(&pi.dst), 0x0a000001);
    ck_assert_uint_eq(pi.src.b[10], 0xff);     /* IPv4-mapped */
    ck_assert_uint_eq(pi.l4_ofs, 34);
    ck_assert_uint_eq(pi.l4_len, 40);
    ck_assert_uint_eq(pi.l4_csum_ofs, 50);
    ck_assert(pi.flags & PACKET_F_PORTS);
    ck_assert_uint_eq(pi.src_port, 40000);
    ck_assert_uint_eq(pi.dst_port, 80);
    ck_assert_uint_eq(pi.tcp_seq, 0x11223344);
    ck_assert_uint_eq(pi.tcp_ack, 0);
    ck_assert_uint_eq(pi.tcp_flags, PACKET_TCP_SYN);
    ck_assert_uint_eq(pi.tcp_window, 64240);
    ck_assert_uint_eq(pi.tcp_hdr_len, 40);
    ck_assert_uint_eq(pi.tcp_mss, 1460);
    ck_assert_uint_eq(pi.tcp_wscale, 7);
    ck_assert(pi.flags & PACKET_F_TCP_SACK_PERM);
    ck_assert(!(pi.flags & PACKET_F_TCP_OPT_BAD));
    ck_assert_uint_eq(pi.tcp_ts_ofs, 62);
    ck_assert_uint_eq(packet_load_be32(syn4 + pi.tcp_ts_ofs), 0x01020304);
    ck_assert_uint_eq(pi.tcp_sack_ofs, PACKET_OFS_NONE);
    ck_assert_uint_eq(pi.payload_ofs, 74);
    ck_assert_uint_eq(pi.payload_len, 0);
    ck_assert_uint_eq(packet_tcp_seq_end(&pi), 0x11223345);   /* SYN */
    ck_assert_uint_eq(packet_tcp_seq_ofs(&pi), 38);
    ck_assert_uint_eq(packet_tcp_ack_ofs(&pi), 42);
    ck_assert(packet_is_tcp(&pi));
    ck_assert(!packet_is_udp(&pi));
}
END_TEST

START_TEST(test_padding_not_payload)
{
    PacketInfo pi;

    ck_assert_int_eq(parse_exact(data4, sizeof data4, 0, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.frame_len, 60);
    ck_assert_uint_eq(pi.ip_end_ofs, 58);
    ck_assert(pi.flags & PACKET_F_PADDED);
    ck_assert_uint_eq(pi.payload_ofs, 54);
    ck_assert_uint_eq(pi.payload_len, 4);      /* QEMU says 6 */
    ck_assert_uint_eq(pi.l4_len, 24);
    ck_assert_int_eq(memcmp(data4 + pi.payload_ofs, "abcd", 4), 0);
    ck_assert_uint_eq(pi.tcp_flags, PACKET_TCP_PSH | PACKET_TCP_ACK);
    ck_assert_uint_eq(pi.tcp_ack, 0xaabbccdd);
    ck_assert_uint_eq(packet_tcp_seq_end(&pi), 0x11223345 + 4);
    ck_assert_uint_eq(pi.tcp_wscale, PACKET_TCP_WSCALE_NONE);
    ck_assert_uint_eq(pi.tcp_mss, 0);
    ck_assert_uint_eq(pi.tcp_ts_ofs, PACKET_OFS_NONE);
}
END_TEST

START_TEST(test_ipv6_ext_headers)
{
    PacketInfo pi;

    ck_assert_int_eq(parse_exact(tcp6, sizeof tcp6, 0, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.ethertype, ETH_TYPE_IPV6);
    ck_assert_uint_eq(pi.ip_version, 6);
    ck_assert_uint_eq(pi.l3_ofs, 14);
    ck_assert_uint_eq(pi.ip_hdr_len, 56);
    ck_assert(pi.flags & PACKET_F_IPV6_EXT);
    ck_assert_uint_eq(pi.ip_proto, IP_PROTO_TCP);
    ck_assert_uint_eq(pi.ip_end_ofs, sizeof tcp6);
    ck_assert_uint_eq(pi.l4_ofs, 70);
    ck_assert_uint_eq(pi.src.b[0], 0x20);
    ck_assert_uint_eq(pi.src.b[15], 0x01);
    ck_assert_uint_eq(pi.dst.b[15], 0x02);
    ck_assert_uint_eq(pi.src_port, 443);
    ck_assert_uint_eq(pi.dst_port, 50000);
    ck_assert_uint_eq(pi.tcp_seq, 0xfffffff0);
    ck_assert_uint_eq(pi.tcp_flags, PACKET_TCP_ACK);
    ck_assert_uint_eq(pi.tcp_hdr_len, 44);
    ck_assert_uint_eq(pi.tcp_ts_ofs, 94);
    ck_assert_uint_eq(packet_load_be32(tcp6 + pi.tcp_ts_ofs), 0xa0a0a0a0);
    ck_assert_uint_eq(packet_load_be32(tcp6 + pi.tcp_ts_ofs + 4), 0xb0b0b0b0);
    ck_assert_uint_eq(pi.tcp_sack_ofs, 106);
    ck_assert_uint_eq(pi.tcp_sack_blocks, 1);
    ck_assert_uint_eq(packet_load_be32(tcp6 + pi.tcp_sack_ofs), 1000);
    ck_assert_uint_eq(packet_load_be32(tcp6 + pi.tcp_sack_ofs + 4), 2000);
    ck_assert_uint_eq(pi.payload_ofs, 114);
    ck_assert_uint_eq(pi.payload_len, 5);
    /* seq 0xfffffff0 + 5 wraps past zero and is still "after" */
    ck_assert(seq_gt(packet_tcp_seq_end(&pi), pi.tcp_seq));
    ck_assert(!(pi.flags & PACKET_F_PADDED));
}
END_TEST

START_TEST(test_vlan)
{
    PacketInfo pi;

    ck_assert_int_eq(parse_exact(vlan_udp4, sizeof vlan_udp4, 0, &pi),
                     PACKET_OK);
    ck_assert_uint_eq(pi.n_vlans, 1);
    ck_assert_uint_eq(pi.vlan_tpid[0], ETH_TYPE_VLAN);
    ck_assert_uint_eq(pi.vlan_tci[0], 0x2064);
    ck_assert_uint_eq(packet_vlan_id(&pi, 0), 100);
    ck_assert_uint_eq(packet_vlan_id(&pi, 1), 0);
    ck_assert_uint_eq(pi.ethertype, ETH_TYPE_IPV4);
    ck_assert_uint_eq(pi.l3_ofs, 18);
    ck_assert_uint_eq(pi.l4_ofs, 38);
    ck_assert(packet_is_udp(&pi));
    ck_assert_uint_eq(pi.src_port, 5353);
    ck_assert_uint_eq(pi.dst_port, 53);
    ck_assert_uint_eq(pi.l4_len, 12);
    ck_assert_uint_eq(pi.l4_csum_ofs, 44);
    ck_assert_uint_eq(pi.payload_ofs, 46);
    ck_assert_uint_eq(pi.payload_len, 4);
    ck_assert(pi.flags & PACKET_F_PADDED);
    ck_assert(!(pi.flags & PACKET_F_FRAG));
}
END_TEST

START_TEST(test_qinq)
{
    PacketInfo pi;

    ck_assert_int_eq(parse_exact(qinq_udp6, sizeof qinq_udp6, 0, &pi),
                     PACKET_OK);
    ck_assert_uint_eq(pi.n_vlans, 2);
    ck_assert_uint_eq(pi.vlan_tpid[0], ETH_TYPE_QINQ);
    ck_assert_uint_eq(pi.vlan_tpid[1], ETH_TYPE_VLAN);
    ck_assert_uint_eq(packet_vlan_id(&pi, 0), 10);
    ck_assert_uint_eq(packet_vlan_id(&pi, 1), 20);
    ck_assert_uint_eq(pi.ethertype, ETH_TYPE_IPV6);
    ck_assert_uint_eq(pi.l3_ofs, 22);
    ck_assert_uint_eq(pi.l4_ofs, 62);
    ck_assert_uint_eq(pi.payload_len, 5);
    ck_assert_uint_eq(pi.src_port, 1000);
}
END_TEST

START_TEST(test_vlan_too_deep)
{
    /* Three tags: 88a8 / 8100 / 8100 */
    uint8_t f[80] = { 0 };
    PacketInfo pi;

    memcpy(f, vlan_udp4, 12);
    f[12] = 0x88; f[13] = 0xa8; f[15] = 1;
    f[16] = 0x81; f[17] = 0x00; f[19] = 2;
    f[20] = 0x81; f[21] = 0x00; f[23] = 3;
    f[24] = 0x08; f[25] = 0x00;
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_VLAN_TOO_DEEP);
    ck_assert(packet_verdict_is_unsupported(PACKET_VLAN_TOO_DEEP));
    ck_assert_uint_eq(pi.n_vlans, 2);
    ck_assert_uint_eq(pi.l3_ofs, PACKET_OFS_NONE);
}
END_TEST

START_TEST(test_not_ip)
{
    PacketInfo pi;

    ck_assert_int_eq(parse_exact(arp, sizeof arp, 0, &pi), PACKET_NOT_IP);
    ck_assert(packet_verdict_is_unsupported(PACKET_NOT_IP));
    ck_assert_uint_eq(pi.ethertype, ETH_TYPE_ARP);
    ck_assert_uint_eq(pi.l2_ofs, 0);
    ck_assert_uint_eq(pi.l3_ofs, PACKET_OFS_NONE);
    ck_assert_uint_eq(pi.ip_version, 0);
}
END_TEST

START_TEST(test_icmp_echo)
{
    PacketInfo pi;

    ck_assert_int_eq(parse_exact(icmp4, sizeof icmp4, 0, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.ip_proto, IP_PROTO_ICMP);
    ck_assert(pi.flags & PACKET_F_ICMP_ECHO);
    ck_assert(!(pi.flags & PACKET_F_PORTS));
    ck_assert_uint_eq(pi.icmp_type, 8);
    ck_assert_uint_eq(pi.icmp_id, 0x4242);
    ck_assert_uint_eq(pi.l4_csum_ofs, 36);
    ck_assert_uint_eq(pi.payload_len, 4);      /* not the 14 padding bytes */
}
END_TEST

START_TEST(test_vnet_header)
{
    uint8_t f[12 + sizeof data4];
    PacketInfo pi;

    memset(f, 0, 12);
    f[0] = PACKET_VNET_F_NEEDS_CSUM;
    f[6] = 34;          /* csum_start (le): the TCP header */
    f[8] = 16;          /* csum_offset (le): the TCP checksum */
    memcpy(f + 12, data4, sizeof data4);

    ck_assert_int_eq(parse_exact(f, sizeof f, 12, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.vnet_hdr_len, 12);
    ck_assert(pi.flags & PACKET_F_CSUM_PARTIAL);
    ck_assert_uint_eq(pi.vnet_csum_start, 34);
    ck_assert_uint_eq(pi.vnet_csum_offset, 16);
    ck_assert_uint_eq(pi.l2_ofs, 12);
    ck_assert_uint_eq(pi.l3_ofs, 26);
    ck_assert_uint_eq(pi.l4_ofs, 46);
    ck_assert_uint_eq(pi.l4_csum_ofs, 12 + 50);
    ck_assert_uint_eq(pi.payload_len, 4);

    /* 1..9 cannot hold a virtio-net header; 65 is beyond the limit. */
    ck_assert_int_eq(parse_exact(f, sizeof f, 5, &pi), PACKET_BAD_VNET);
    ck_assert_int_eq(parse_exact(f, sizeof f, PACKET_VNET_HDR_MAX + 1, &pi),
                     PACKET_BAD_VNET);
    /* vnet header longer than the frame */
    ck_assert_int_eq(parse_exact(f, 8 + 2, 10, &pi), PACKET_TOO_SHORT);
    ck_assert_int_eq(parse_exact(f, 0, 0, &pi), PACKET_TOO_SHORT);
}
END_TEST

/* Builds an IPv4 frame carrying 'l4len' bytes of 'l4' with 'frag' as the
 * fragment field, into 'f'; returns the frame length. */
static size_t build_ipv4(uint8_t *f, uint8_t proto, uint16_t frag,
                         const uint8_t *l4, size_t l4len)
{
    memcpy(f, data4, 14);
    memcpy(f + 14, data4 + 14, 20);
    packet_store_be16(f + 14 + 2, 20 + l4len);
    packet_store_be16(f + 14 + 6, frag);
    f[14 + 9] = proto;
    memcpy(f + 34, l4, l4len);
    return 34 + l4len;
}

START_TEST(test_ipv4_fragments)
{
    uint8_t f[128], udp[24] = { 0x13, 0x88, 0x00, 0x35, 0x00, 0x40 };
    PacketInfo pi;
    size_t len;

    /* First fragment (MF, offset 0): L4 parsed, length not checked against
     * the UDP length (which covers the whole datagram). */
    len = build_ipv4(f, IP_PROTO_UDP, 0x2000, udp, sizeof udp);
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_OK);
    ck_assert(pi.flags & PACKET_F_FRAG);
    ck_assert(pi.flags & PACKET_F_FRAG_MORE);
    ck_assert(!(pi.flags & PACKET_F_LATER_FRAG));
    ck_assert_uint_eq(pi.frag_ofs, 0);
    ck_assert_uint_eq(pi.l4_ofs, 34);
    ck_assert(pi.flags & PACKET_F_PORTS);
    ck_assert_uint_eq(pi.src_port, 5000);
    ck_assert_uint_eq(pi.payload_len, 16);

    /* Later fragment (offset 185 * 8 = 1480, last): no L4, no ports. */
    len = build_ipv4(f, IP_PROTO_UDP, 185, udp, sizeof udp);
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_OK);
    ck_assert(pi.flags & PACKET_F_FRAG);
    ck_assert(pi.flags & PACKET_F_LATER_FRAG);
    ck_assert(!(pi.flags & PACKET_F_FRAG_MORE));
    ck_assert_uint_eq(pi.frag_ofs, 1480);
    ck_assert_uint_eq(pi.frag_id, 0x1235);
    ck_assert_uint_eq(pi.l4_ofs, PACKET_OFS_NONE);
    ck_assert_uint_eq(pi.l4_csum_ofs, PACKET_OFS_NONE);
    ck_assert(!(pi.flags & PACKET_F_PORTS));
    ck_assert_uint_eq(pi.src_port, 0);
    ck_assert_uint_eq(pi.payload_ofs, 34);
    ck_assert_uint_eq(pi.payload_len, sizeof udp);

    /* A first fragment too short for its TCP header is malformed. */
    len = build_ipv4(f, IP_PROTO_TCP, 0x2000, udp, 8);
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_L4_TRUNCATED);
}
END_TEST

START_TEST(test_ipv4_options)
{
    uint8_t f[128];
    PacketInfo pi;

    /* IHL 6: one NOP-padded option word (router alert 94 04 00 00). */
    memcpy(f, data4, 34);
    f[14] = 0x46;
    packet_store_be16(f + 16, 48);
    f[34] = 0x94; f[35] = 0x04; f[36] = 0; f[37] = 0;
    memcpy(f + 38, data4 + 34, 24);
    ck_assert_int_eq(parse_exact(f, 62, 0, &pi), PACKET_OK);
    ck_assert(pi.flags & PACKET_F_IPV4_OPTIONS);
    ck_assert_uint_eq(pi.ip_hdr_len, 24);
    ck_assert_uint_eq(pi.l4_ofs, 38);
    ck_assert_uint_eq(pi.payload_len, 4);
    ck_assert_uint_eq(pi.src_port, 40000);
}
END_TEST

START_TEST(test_ipv4_malformed)
{
    uint8_t f[sizeof data4];
    PacketInfo pi;

    memcpy(f, data4, sizeof f);
    f[14] = 0x44;                               /* IHL 4 */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_IPV4_BAD_IHL);
    f[14] = 0x4f;                               /* IHL 15 = 60 > 46 */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_IPV4_BAD_IHL);
    f[14] = 0x65;                               /* version 6 */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi),
                     PACKET_IP_BAD_VERSION);
    f[14] = 0x45;
    packet_store_be16(f + 16, 19);              /* total < IHL*4 */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi),
                     PACKET_IPV4_BAD_TOTAL_LEN);
    packet_store_be16(f + 16, 47);              /* total > frame */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi),
                     PACKET_IPV4_BAD_TOTAL_LEN);
    packet_store_be16(f + 16, 46);              /* padding into payload:
                                                 * still well-formed */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.payload_len, 6);
    packet_store_be16(f + 16, 39);              /* cuts the TCP header */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_L4_TRUNCATED);
    ck_assert_int_eq(parse_exact(f, 20, 0, &pi), PACKET_IP_TRUNCATED);
    ck_assert_int_eq(parse_exact(f, 13, 0, &pi), PACKET_TOO_SHORT);
}
END_TEST

START_TEST(test_tcp_malformed)
{
    uint8_t f[sizeof data4];
    PacketInfo pi;

    memcpy(f, data4, sizeof f);
    f[46] = 0x40;                               /* data offset 4 */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi),
                     PACKET_TCP_BAD_DATA_OFFSET);
    f[46] = 0x70;                               /* 28 > 24 bytes of TCP */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi),
                     PACKET_TCP_BAD_DATA_OFFSET);
    f[46] = 0x60;                               /* 24: "abcd" as options */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.payload_len, 0);
    ck_assert(pi.flags & PACKET_F_TCP_OPT_BAD);   /* kind 'a' len 'b' */
    f[46] = 0x51;                               /* the NS flag */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.tcp_flags, PACKET_TCP_NS | PACKET_TCP_PSH |
                      PACKET_TCP_ACK);
}
END_TEST

START_TEST(test_tcp_options_malformed)
{
    uint8_t f[sizeof syn4];
    PacketInfo pi;

    memcpy(f, syn4, sizeof f);
    f[55] = 0;                                  /* MSS length 0 */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_OK);
    ck_assert(pi.flags & PACKET_F_TCP_OPT_BAD);
    ck_assert_uint_eq(pi.tcp_mss, 0);
    ck_assert_uint_eq(pi.tcp_ts_ofs, PACKET_OFS_NONE);  /* walk stopped */

    memcpy(f, syn4, sizeof f);
    f[61] = 30;                                 /* TS runs past the header */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_OK);
    ck_assert(pi.flags & PACKET_F_TCP_OPT_BAD);
    ck_assert_uint_eq(pi.tcp_mss, 1460);
    ck_assert_uint_eq(pi.tcp_ts_ofs, PACKET_OFS_NONE);
    ck_assert_uint_eq(pi.tcp_wscale, PACKET_TCP_WSCALE_NONE);

    memcpy(f, syn4, sizeof f);
    f[61] = 8;                                  /* TS with length 8: ignored */
    f[62 + 6] = 0x01; f[62 + 7] = 0x01;         /* NOP NOP fill the rest */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_OK);
    ck_assert(pi.flags & PACKET_F_TCP_OPT_BAD);
    ck_assert_uint_eq(pi.tcp_ts_ofs, PACKET_OFS_NONE);
    ck_assert_uint_eq(pi.tcp_wscale, 7);

    memcpy(f, syn4, sizeof f);
    f[60] = 0;                                  /* EOL: stop quietly */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_OK);
    ck_assert(!(pi.flags & PACKET_F_TCP_OPT_BAD));
    ck_assert_uint_eq(pi.tcp_ts_ofs, PACKET_OFS_NONE);
}
END_TEST

START_TEST(test_udp_malformed)
{
    uint8_t f[sizeof vlan_udp4];
    PacketInfo pi;

    memcpy(f, vlan_udp4, sizeof f);
    packet_store_be16(f + 42, 7);
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_UDP_BAD_LEN);
    packet_store_be16(f + 42, 13);
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_UDP_BAD_LEN);
    packet_store_be16(f + 42, 10);              /* shorter: a trailer */
    ck_assert_int_eq(parse_exact(f, sizeof f, 0, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.payload_len, 2);
    ck_assert_uint_eq(pi.l4_len, 10);
}
END_TEST

/* Builds an IPv6 frame with 'n_ext' destination-options headers (8 bytes
 * each), then 'last' as upper layer with 'l4len' bytes of 'l4'. */
static size_t build_ipv6(uint8_t *f, unsigned n_ext, uint8_t first_ext,
                         uint8_t last, const uint8_t *l4, size_t l4len)
{
    size_t ofs = 54;
    unsigned i;

    memcpy(f, tcp6, 54);
    f[20] = n_ext ? first_ext : last;
    for (i = 0; i < n_ext; i++) {
        memset(f + ofs, 0, 8);
        f[ofs] = i + 1 < n_ext ? IP_PROTO_DSTOPTS : last;
        f[ofs + 2] = 1;                         /* PadN 4 */
        f[ofs + 3] = 4;
        ofs += 8;
    }
    memcpy(f + ofs, l4, l4len);
    ofs += l4len;
    packet_store_be16(f + 18, ofs - 54);
    return ofs;
}

START_TEST(test_ipv6_ext_limit)
{
    uint8_t f[256], tcp[20];
    PacketInfo pi;
    size_t len;

    memcpy(tcp, tcp6 + 70, 20);
    tcp[12] = 0x50;                             /* no options */

    len = build_ipv6(f, PACKET_MAX_IPV6_EXT, IP_PROTO_DSTOPTS, IP_PROTO_TCP,
                     tcp, 20);
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_OK);
    ck_assert_uint_eq(pi.l4_ofs, 54 + 8 * PACKET_MAX_IPV6_EXT);
    ck_assert_uint_eq(pi.src_port, 443);

    len = build_ipv6(f, PACKET_MAX_IPV6_EXT + 1, IP_PROTO_DSTOPTS,
                     IP_PROTO_TCP, tcp, 20);
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_IPV6_BAD_EXT_HDR);

    /* An extension header claiming more than the payload. */
    len = build_ipv6(f, 1, IP_PROTO_ROUTING, IP_PROTO_TCP, tcp, 20);
    f[55] = 3;                                  /* 32 bytes > 28 */
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_IPV6_BAD_EXT_HDR);

    /* Payload length beyond the frame. */
    len = build_ipv6(f, 0, 0, IP_PROTO_TCP, tcp, 20);
    packet_store_be16(f + 18, 21);
    ck_assert_int_eq(parse_exact(f, len, 0, &pi),
                     PACKET_IPV6_BAD_PAYLOAD_LEN);
    f[14] = 0x40;
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_IP_BAD_VERSION);
}
END_TEST

START_TEST(test_ipv6_fragments)
{
    uint8_t f[256], l4[28];
    PacketInfo pi;
    size_t len;

    /* Fragment header (8 bytes) then TCP: first fragment, offset 0, M. */
    memset(l4, 0, sizeof l4);
    l4[0] = IP_PROTO_TCP;
    packet_store_be16(l4 + 2, 0x0001);
    packet_store_be32(l4 + 4, 0xdeadbeef);
    memcpy(l4 + 8, tcp6 + 70, 20);
    l4[8 + 12] = 0x50;
    len = build_ipv6(f, 0, 0, IP_PROTO_FRAGMENT, l4, sizeof l4);
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_OK);
    ck_assert(pi.flags & PACKET_F_FRAG);
    ck_assert(pi.flags & PACKET_F_FRAG_MORE);
    ck_assert(!(pi.flags & PACKET_F_LATER_FRAG));
    ck_assert_uint_eq(pi.frag_id, 0xdeadbeef);
    ck_assert_uint_eq(pi.ip_proto, IP_PROTO_TCP);
    ck_assert_uint_eq(pi.l4_ofs, 62);
    ck_assert_uint_eq(pi.src_port, 443);

    /* Atomic fragment (offset 0, no M; RFC 6946): a whole datagram. */
    packet_store_be16(l4 + 2, 0);
    len = build_ipv6(f, 0, 0, IP_PROTO_FRAGMENT, l4, sizeof l4);
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_OK);
    ck_assert(!(pi.flags & PACKET_F_FRAG));
    ck_assert(pi.flags & PACKET_F_IPV6_EXT);
    ck_assert_uint_eq(pi.frag_id, 0xdeadbeef);
    ck_assert_uint_eq(pi.l4_ofs, 62);

    /* Later fragment: offset 1448. */
    packet_store_be16(l4 + 2, 1448);
    len = build_ipv6(f, 0, 0, IP_PROTO_FRAGMENT, l4, sizeof l4);
    ck_assert_int_eq(parse_exact(f, len, 0, &pi), PACKET_OK);
    ck_assert(pi.flags & PACKET_F_LATER_FRAG);
    ck_assert(!(pi.flags & PACKET_F_FRAG_MORE));
    ck_assert_uint_eq(pi.frag_ofs, 1448);
    ck_assert_uint_eq(pi.ip_proto, IP_PROTO_TCP);
    ck_assert_uint_eq(pi.l4_ofs, PACKET_OFS_NONE);
    ck_assert_uint_eq(pi.payload_ofs, 62);
    ck_assert_uint_eq(pi.payload_len, 20);
    ck_assert(!(pi.flags & PACKET_F_PORTS));
}
END_TEST

START_TEST(test_truncation_every_offset)
{
    static const unsigned vnets[] = { 0, 10, 12, 20 };
    size_t g, v, cut;

    for (g = 0; g < G_N_ELEMENTS(goldens); g++) {
        for (v = 0; v < G_N_ELEMENTS(vnets); v++) {
            size_t full = vnets[v] + goldens[g].len;
            uint8_t *f = g_malloc0(full);
            PacketInfo pi;
            PacketVerdict whole;
            uint32_t full_end;

            memcpy(f + vnets[v], goldens[g].data, goldens[g].len);
            whole = parse_exact(f, full, vnets[v], &pi);
            ck_assert_int_eq(whole, goldens[g].data == arp ? PACKET_NOT_IP
                                                           : PACKET_OK);
            full_end = pi.ip_end_ofs;
            for (cut = 0; cut < full; cut++) {
                PacketVerdict r = parse_exact(f, cut, vnets[v], &pi);

                /* Cutting into the padding is harmless; cutting into the
                 * datagram never parses as OK. */
                if (whole == PACKET_OK && r == PACKET_OK) {
                    ck_assert_uint_ge(cut, full_end);
                    ck_assert_uint_eq(pi.ip_end_ofs, full_end);
                }
            }
            g_free(f);
        }
    }
}
END_TEST

START_TEST(test_random_garbage)
{
    GRand *rng = g_rand_new_with_seed(1234);
    uint8_t f[160];
    int iter;

    for (iter = 0; iter < 200000; iter++) {
        const Golden *gd = &goldens[g_rand_int_range(rng, 0,
                                                     G_N_ELEMENTS(goldens))];
        size_t len = g_rand_int_range(rng, 0, sizeof f + 1);
        unsigned vnet = (iter & 3) ? 0 : 12;
        int flips = g_rand_int_range(rng, 0, 6);
        PacketInfo pi;

        /* Mostly valid frames with a few random bytes changed, which gets
         * deeper than pure noise. */
        memset(f, 0, sizeof f);
        memcpy(f + vnet, gd->data, MIN(gd->len, sizeof f - vnet));
        while (flips--) {
            f[g_rand_int_range(rng, 0, sizeof f)] = g_rand_int(rng);
        }
        parse_exact(f, len, vnet, &pi);
    }
    g_rand_free(rng);
}
END_TEST

START_TEST(test_seq_arith)
{
    ck_assert(seq_lt(1, 2));
    ck_assert(seq_lt(0xffffffffu, 0));          /* wraps */
    ck_assert(seq_gt(0, 0xffffffffu));
    ck_assert(seq_gt(5, 0xfffffff0u));
    ck_assert(seq_leq(7, 7));
    ck_assert(seq_geq(7, 7));
    ck_assert(!seq_lt(7, 7));
    ck_assert(!seq_gt(7, 7));
    ck_assert_int_eq(seq_diff(5, 0xfffffffbu), 10);
    ck_assert_int_eq(seq_diff(0xfffffffbu, 5), -10);
    ck_assert_uint_eq(seq_max(0xfffffff0u, 16), 16);
    ck_assert_uint_eq(seq_min(0xfffffff0u, 16), 0xfffffff0u);
    /* QEMU's bug: (a - b > 0) on unsigned is "a != b". */
    ck_assert(!seq_gt(100, 200));
    ck_assert(seq_lt(0x7fffffffu, 0x80000000u));
}
END_TEST

START_TEST(test_verdict_names)
{
    int v, w;

    for (v = 0; v < PACKET_VERDICT__MAX; v++) {
        ck_assert_str_ne(packet_verdict_name(v), "invalid");
        for (w = 0; w < v; w++) {
            ck_assert_str_ne(packet_verdict_name(v), packet_verdict_name(w));
        }
    }
    ck_assert_str_eq(packet_verdict_name(PACKET_OK), "ok");
    ck_assert_str_eq(packet_verdict_name(PACKET_VERDICT__MAX), "invalid");
}
END_TEST

START_TEST(test_unaligned_frame)
{
    /* Parse from every alignment of the buffer. */
    uint8_t *buf = g_malloc(sizeof tcp6 + 8);
    int a;

    for (a = 0; a < 8; a++) {
        PacketInfo pi;

        memcpy(buf + a, tcp6, sizeof tcp6);
        ck_assert_int_eq(packet_parse(buf + a, sizeof tcp6, 0, &pi),
                         PACKET_OK);
        ck_assert_uint_eq(pi.tcp_seq, 0xfffffff0);
    }
    g_free(buf);
}
END_TEST

static Suite *packet_suite(void)
{
    Suite *s = suite_create("net/packet");
    TCase *tc = tcase_create("parse");
    TCase *tr = tcase_create("robustness");

    tcase_add_test(tc, test_ipv4_tcp_syn_options);
    tcase_add_test(tc, test_padding_not_payload);
    tcase_add_test(tc, test_ipv6_ext_headers);
    tcase_add_test(tc, test_vlan);
    tcase_add_test(tc, test_qinq);
    tcase_add_test(tc, test_vlan_too_deep);
    tcase_add_test(tc, test_not_ip);
    tcase_add_test(tc, test_icmp_echo);
    tcase_add_test(tc, test_vnet_header);
    tcase_add_test(tc, test_ipv4_fragments);
    tcase_add_test(tc, test_ipv4_options);
    tcase_add_test(tc, test_ipv4_malformed);
    tcase_add_test(tc, test_tcp_malformed);
    tcase_add_test(tc, test_tcp_options_malformed);
    tcase_add_test(tc, test_udp_malformed);
    tcase_add_test(tc, test_ipv6_ext_limit);
    tcase_add_test(tc, test_ipv6_fragments);
    tcase_add_test(tc, test_seq_arith);
    tcase_add_test(tc, test_verdict_names);
    tcase_add_test(tc, test_unaligned_frame);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tcase_add_test(tr, test_truncation_every_offset);
    tcase_add_test(tr, test_random_garbage);
    tcase_set_timeout(tr, 60);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    return check_run(packet_suite());
}
