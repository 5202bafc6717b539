/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-fdio.c - unit tests of net/fdio.c, the fd plumbing the
 * transport backends share.
 *
 *   - NetOutBuf takes whole frames or none: against a socket whose buffer
 *     fills, every accepted frame arrives whole and in order, a refused
 *     one leaves no byte behind, and draining empties the buffer;
 *   - NetRxBatch reads at most NET_BURST datagrams per call, with lengths;
 *   - NetFdWatch: interest switches on and off and the callback follows;
 *   - address parsing: QEMU's host:port spellings, unix path limits;
 *   - net_fdio_vnet_finish() fills in a partial checksum exactly as a full
 *     RFC 1071 computation does (randomized, independent oracle), and
 *     refuses GSO frames.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/virtio_net.h>
#include <sys/socket.h>

#include "check-main.h"
#include "net/fdio.h"
#include "util/error.h"

/* --- NetOutBuf ----------------------------------------------------------- */

static void read_all(int fd, GByteArray *into)
{
    uint8_t buf[65536];
    ssize_t n;

    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
        g_byte_array_append(into, buf, n);
    }
}

START_TEST(test_outbuf_whole_frames)
{
    int sv[2];
    int small = 4096;
    NetOutBuf ob;
    GByteArray *wire = g_byte_array_new();
    unsigned accepted = 0, refused = 0;
    uint8_t frame[3000];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    net_outbuf_init(&ob, 16384);

    for (unsigned i = 0; i < 200; i++) {
        uint8_t hdr[4];
        size_t len = 100 + (i * 397) % (sizeof(frame) - 100);
        size_t before = net_outbuf_pending(&ob);
        gssize r;

        memset(frame, i & 0xff, len);
        hdr[0] = 0;
        hdr[1] = 0;
        hdr[2] = len >> 8;
        hdr[3] = len & 0xff;
        r = net_outbuf_write_frame(&ob, sv[0], hdr, 4, frame, len);
        ck_assert_int_ge(r, 0);
        if (r == 0) {
            /* Refused: nothing of it went anywhere. */
            ck_assert_uint_eq(net_outbuf_pending(&ob), before);
            refused++;
            /* the reader catches up, then the buffer drains */
            read_all(sv[1], wire);
            while (net_outbuf_drain(&ob, sv[0]) == 0) {
                read_all(sv[1], wire);
            }
            r = net_outbuf_write_frame(&ob, sv[0], hdr, 4, frame, len);
            ck_assert_int_eq(r, (gssize)(len + 4));
        }
        accepted++;
    }
    while (net_outbuf_drain(&ob, sv[0]) == 0) {
        read_all(sv[1], wire);
    }
    read_all(sv[1], wire);
    ck_assert_uint_eq(net_outbuf_pending(&ob), 0);
    ck_assert_uint_gt(refused, 0);

    /* Parse the wire: every frame whole, in order. */
    size_t off = 0;
    for (unsigned i = 0; i < accepted; i++) {
        size_t len = 100 + (i * 397) % (sizeof(frame) - 100);

        ck_assert_uint_ge(wire->len, off + 4 + len);
        ck_assert_uint_eq(((size_t)wire->data[off + 2] << 8) |
                          wire->data[off + 3], len);
        for (size_t k = 0; k < len; k++) {
            ck_assert_uint_eq(wire->data[off + 4 + k], i & 0xff);
        }
        off += 4 + len;
    }
    ck_assert_uint_eq(off, wire->len);
    net_outbuf_destroy(&ob);
    g_byte_array_free(wire, TRUE);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(test_outbuf_broken_pipe)
{
    int sv[2];
    NetOutBuf ob;
    uint8_t hdr[4] = { 0, 0, 0, 1 }, b = 1;

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    net_outbuf_init(&ob, 1024);
    /* No SIGPIPE (MSG_NOSIGNAL), an error instead. */
    ck_assert_int_eq(net_outbuf_write_frame(&ob, sv[0], hdr, 4, &b, 1),
                     -EPIPE);
    net_outbuf_destroy(&ob);
    close(sv[0]);
}
END_TEST

/* --- NetRxBatch ---------------------------------------------------------- */

START_TEST(test_rx_batch_burst)
{
    int sv[2];
    NetRxBatch b;
    uint8_t d[200];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv),
                     0);
    net_rx_batch_init(&b, 1500, 4, 0);
    for (unsigned i = 0; i < NET_BURST + 8; i++) {
        memset(d, i, sizeof(d));
        ck_assert_int_eq(send(sv[0], d, 10 + i, 0), (int)(10 + i));
    }
    ck_assert_int_eq(net_rx_batch_recvmmsg(&b, sv[1], NET_BURST), NET_BURST);
    for (unsigned i = 0; i < NET_BURST; i++) {
        ck_assert_uint_eq(b.msgs[i].msg_len, 10 + i);
        ck_assert_uint_eq(net_rx_batch_buf(&b, i)[0], i);
    }
    ck_assert_int_eq(net_rx_batch_recvmmsg(&b, sv[1], NET_BURST), 8);
    ck_assert_int_eq(net_rx_batch_recvmmsg(&b, sv[1], NET_BURST), 0);
    net_rx_batch_destroy(&b);
    net_rx_batch_destroy(&b);          /* idempotent */
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* --- NetFdWatch ---------------------------------------------------------- */

static void count_cb(void *opaque, GIOCondition revents)
{
    unsigned *hits = opaque;
    char c;

    (*hits)++;
    if (revents & G_IO_IN) {
        ck_assert_int_eq(read(0 + *(hits + 1), &c, 1), 1);
    }
}

START_TEST(test_fd_watch_toggle)
{
    int sv[2];
    unsigned state[2] = { 0, 0 };     /* hits, fd */
    NetFdWatch w = { 0 };

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    state[1] = sv[1];
    net_fd_watch_start(&w, sv[1], G_IO_IN, count_cb, state, "test");
    ck_assert(net_fd_watch_active(&w));
    ck_assert_int_eq(write(sv[0], "a", 1), 1);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    ck_assert_uint_eq(state[0], 1);

    net_fd_watch_enable(&w, G_IO_IN, FALSE);
    ck_assert_int_eq(write(sv[0], "b", 1), 1);
    close(sv[0]);                     /* a hang-up must not spin either */
    for (int i = 0; i < 10; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    ck_assert_uint_eq(state[0], 1);

    net_fd_watch_enable(&w, G_IO_IN, TRUE);
    g_main_context_iteration(NULL, TRUE);
    ck_assert_uint_eq(state[0], 2);
    net_fd_watch_stop(&w);
    net_fd_watch_stop(&w);            /* idempotent */
    ck_assert(!net_fd_watch_active(&w));
    close(sv[1]);
}
END_TEST

/* --- addresses ----------------------------------------------------------- */

START_TEST(test_host_port)
{
    NetSockAddr a;
    char s[160];
    g_autoptr(GError) err = NULL;

    ck_assert(net_sockaddr_parse_host_port(&a, "127.0.0.1:8080", FALSE, "t",
                                           NULL));
    ck_assert_str_eq(net_sockaddr_str(&a, s, sizeof(s)), "127.0.0.1:8080");
    ck_assert(net_sockaddr_parse_host_port(&a, "[::1]:9", FALSE, "t", NULL));
    ck_assert_str_eq(net_sockaddr_str(&a, s, sizeof(s)), "[::1]:9");
    ck_assert(net_sockaddr_parse_host_port(&a, ":1234", TRUE, "listen", NULL));
    ck_assert(!net_sockaddr_parse_host_port(&a, "nocolon", FALSE, "connect",
                                            &err));
    ck_assert_ptr_nonnull(strstr(err->message, "connect"));
    g_clear_error(&err);
    ck_assert(!net_sockaddr_parse_host_port(&a, "[::1]9", FALSE, "t", &err));
    g_clear_error(&err);
    ck_assert(!net_sockaddr_parse_host_port(&a, "127.0.0.1:", FALSE, "t",
                                            &err));
}
END_TEST

START_TEST(test_unix_addr)
{
    NetSockAddr a, b;
    char longpath[200];
    char s[160];
    g_autoptr(GError) err = NULL;

    ck_assert(net_sockaddr_unix(&a, "/tmp/x.sock", FALSE, TRUE, "p", NULL));
    ck_assert_str_eq(net_sockaddr_str(&a, s, sizeof(s)), "unix:/tmp/x.sock");
    ck_assert(net_sockaddr_unix(&b, "/tmp/x.sock", FALSE, TRUE, "p", NULL));
    ck_assert(net_sockaddr_equal(&a, &b));
    ck_assert(net_sockaddr_unix(&a, "colo", TRUE, TRUE, "p", NULL));
    ck_assert_str_eq(net_sockaddr_str(&a, s, sizeof(s)), "unix:@colo");
    ck_assert(!net_sockaddr_equal(&a, &b));
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    ck_assert(!net_sockaddr_unix(&a, longpath, FALSE, TRUE, "addr.path",
                                 &err));
    ck_assert_ptr_nonnull(strstr(err->message, "too long"));
}
END_TEST

/* --- vnet headers -------------------------------------------------------- */

/* RFC 1071 over 'n' bytes, with a 32-bit starting sum. */
static uint16_t ref_csum(const uint8_t *p, size_t n, uint32_t sum)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t)p[i] << 8 | p[i + 1];
    }
    if (n & 1) {
        sum += (uint32_t)p[n - 1] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum & 0xffff;
}

START_TEST(test_vnet_finish_matches_full)
{
    GRand *r = g_rand_new_with_seed(42);

    for (int iter = 0; iter < 2000; iter++) {
        enum { HDR = NET_VNET_HDR_BASE };
        uint8_t f[HDR + 14 + 20 + 20 + 1500];
        size_t payload = g_rand_int_range(r, 0, 1500);
        size_t l4len = 20 + payload;
        size_t len = HDR + 14 + 20 + l4len;
        uint8_t *eth = f + HDR, *ip = eth + 14, *tcp = ip + 20;
        struct virtio_net_hdr vh = { 0 };
        uint32_t pseudo;
        uint16_t want, partial;

        for (size_t i = 0; i < sizeof(f); i++) {
            f[i] = g_rand_int(r);
        }
        eth[12] = 0x08;
        eth[13] = 0x00;
        ip[9] = 6;
        /* pseudo header: src, dst, proto, length */
        pseudo = ((uint32_t)ip[12] << 8 | ip[13]) + ((uint32_t)ip[14] << 8 |
                 ip[15]) + ((uint32_t)ip[16] << 8 | ip[17]) +
                 ((uint32_t)ip[18] << 8 | ip[19]) + 6 + l4len;
        tcp[16] = tcp[17] = 0;
        want = ref_csum(tcp, l4len, pseudo);
        /* what a stack leaves for the device: the folded pseudo sum */
        partial = ~ref_csum(NULL, 0, pseudo) & 0xffff;
        tcp[16] = partial >> 8;
        tcp[17] = partial & 0xff;
        vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        vh.csum_start = 14 + 20;
        vh.csum_offset = 16;
        memcpy(f, &vh, sizeof(vh));

        ck_assert(net_fdio_vnet_finish(f, len, HDR));
        ck_assert_uint_eq((uint16_t)(tcp[16] << 8 | tcp[17]),
                          want ? want : 0xffff);
        /* and it verifies: the full sum over the segment is 0xffff */
        ck_assert_uint_eq(ref_csum(tcp, l4len, pseudo), 0);
        memcpy(&vh, f, sizeof(vh));
        ck_assert_uint_eq(vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, 0);
    }
    g_rand_free(r);
}
END_TEST

START_TEST(test_vnet_finish_refuses)
{
    uint8_t f[NET_VNET_HDR_BASE + 60] = { 0 };
    struct virtio_net_hdr vh = { 0 };

    vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
    memcpy(f, &vh, sizeof(vh));
    ck_assert(!net_fdio_vnet_finish(f, sizeof(f), NET_VNET_HDR_BASE));
    vh.gso_type = 0;
    vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh.csum_start = 50;
    vh.csum_offset = 16;             /* beyond the frame */
    memcpy(f, &vh, sizeof(vh));
    ck_assert(!net_fdio_vnet_finish(f, sizeof(f), NET_VNET_HDR_BASE));
    vh.flags = 0;
    memcpy(f, &vh, sizeof(vh));
    ck_assert(net_fdio_vnet_finish(f, sizeof(f), NET_VNET_HDR_BASE));
    ck_assert(!net_fdio_vnet_finish(f, 4, NET_VNET_HDR_BASE));
}
END_TEST

static Suite *fdio_suite(void)
{
    Suite *s = suite_create("net/fdio");
    TCase *tc = tcase_create("outbuf");

    tcase_add_test(tc, test_outbuf_whole_frames);
    tcase_add_test(tc, test_outbuf_broken_pipe);
    suite_add_tcase(s, tc);
    tc = tcase_create("rx-batch");
    tcase_add_test(tc, test_rx_batch_burst);
    suite_add_tcase(s, tc);
    tc = tcase_create("watch");
    tcase_add_test(tc, test_fd_watch_toggle);
    suite_add_tcase(s, tc);
    tc = tcase_create("addr");
    tcase_add_test(tc, test_host_port);
    tcase_add_test(tc, test_unix_addr);
    suite_add_tcase(s, tc);
    tc = tcase_create("vnet");
    tcase_add_test(tc, test_vnet_finish_matches_full);
    tcase_add_test(tc, test_vnet_finish_refuses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(fdio_suite());
}
