/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-socket.c - util/socket.c and util/outbuf.c: resolution
 * now and in a thread, listening on every address of a host, connecting,
 * the one read/write entry, and the output ring (whole messages, wrap,
 * growth to its maximum, pipes).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check-main.h"
#include "util/outbuf.h"
#include "util/socket.h"

START_TEST(test_resolve)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) a = sock_resolve("127.0.0.1", "9000", AF_UNSPEC,
                                       FALSE, &err);
    char s[SOCKADDR_STR_MAX];

    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(a->len, 1);
    ck_assert_str_eq(sockaddr_str(&g_array_index(a, SockAddr, 0), s,
                                  sizeof(s)), "127.0.0.1:9000");
    g_clear_pointer(&a, g_array_unref);
    /* passive, no host: the "any" addresses, inet only */
    a = sock_resolve("", "0", AF_INET, TRUE, &err);
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(sockaddr_str(&g_array_index(a, SockAddr, 0), s,
                                  sizeof(s)), "0.0.0.0:0");
    g_clear_pointer(&a, g_array_unref);
    a = sock_resolve("::1", "x-no-such-service", AF_UNSPEC, FALSE, &err);
    ck_assert_ptr_null(a);
    ck_assert_ptr_nonnull(strstr(err->message, "address resolution failed "
                                 "for [::1]:x-no-such-service: "));
}
END_TEST

/* Waits for 'fd' to be readable. */
static void wait_in(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    ck_assert_int_eq(poll(&p, 1, 10000), 1);
}

START_TEST(test_lookup_thread)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) a = NULL;
    SockLookup *l = sock_lookup_start("localhost", "9000", AF_INET,
                                      "test-lookup", &err);

    ck_assert_ptr_nonnull(l);
    wait_in(sock_lookup_fd(l));
    a = sock_lookup_finish(l, &err);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_ge(a->len, 1);
    ck_assert_int_eq(g_array_index(a, SockAddr, 0).ss.ss_family, AF_INET);
    /* a starter that gives up: the thread ends alone (ASan: no leak) */
    sock_lookup_cancel(sock_lookup_start("localhost", "1", AF_UNSPEC,
                                         "test-lookup", NULL));
    l = sock_lookup_start("localhost", "x-no-such-service", AF_UNSPEC,
                          "test-lookup", &err);
    wait_in(sock_lookup_fd(l));
    ck_assert_ptr_null(sock_lookup_finish(l, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "address resolution "
                                 "failed: "));
}
END_TEST

START_TEST(test_listen_connect_io)
{
    g_autoptr(GError) err = NULL;
    int fds[4];
    guint n = 0;
    int r = sock_listen_host("127.0.0.1", "0", AF_UNSPEC, FALSE, 1, fds, 4,
                             &n, &err);
    g_autoptr(GArray) a = NULL;
    g_autofree char *port = NULL;
    g_autofree char *desc = NULL;
    int c, s, e;
    char buf[8];
    struct iovec v = { .iov_base = "ping", .iov_len = 4 };

    ck_assert_int_eq(r, 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_ne(sock_fd_port(fds[0]), 0);
    port = g_strdup_printf("%u", sock_fd_port(fds[0]));
    a = sock_resolve("127.0.0.1", port, AF_UNSPEC, FALSE, &err);
    c = sock_connect_wait(&g_array_index(a, SockAddr, 0), 5000, &e);
    ck_assert_int_ge(c, 0);
    wait_in(fds[0]);
    s = sock_accept(fds[0]);
    ck_assert_int_ge(s, 0);
    desc = sock_fd_describe(s, TRUE);
    ck_assert(g_str_has_prefix(desc, "127.0.0.1:"));
    ck_assert_int_eq(sock_recv(s, buf, sizeof(buf)), -EAGAIN);
    ck_assert_int_eq(sock_sendv(c, &v, 1), 4);
    wait_in(s);
    ck_assert_int_eq(sock_recv(s, buf, sizeof(buf)), 4);
    ck_assert(!memcmp(buf, "ping", 4));
    close(c);
    wait_in(s);
    ck_assert_int_eq(sock_recv(s, buf, sizeof(buf)), 0);
    /* the port is taken: EADDRINUSE, nothing left open */
    {
        int more[4];
        guint m = 0;

        ck_assert_int_eq(sock_listen_host("127.0.0.1", port, AF_UNSPEC,
                                          FALSE, 1, more, 4, &m, NULL),
                         EADDRINUSE);
        ck_assert_uint_eq(m, 0);
    }
    close(s);
    close(fds[0]);
    /* nothing listens there now */
    ck_assert_int_lt(sock_connect_wait(&g_array_index(a, SockAddr, 0), 5000,
                                       &e), 0);
    ck_assert_int_eq(e, ECONNREFUSED);
}
END_TEST

/* Drives a connect round as its owner's loop would. */
static int run_connector(SockConnector *c, int *fd, GError **errp)
{
    int r;

    while ((r = sock_connector_step(c, fd, errp)) == 0) {
        GIOCondition ev;
        struct pollfd p = { .fd = sock_connector_poll(c, &ev) };

        p.events = (ev & G_IO_IN ? POLLIN : 0) | (ev & G_IO_OUT ? POLLOUT : 0);
        ck_assert_int_ge(p.fd, 0);
        ck_assert_int_eq(poll(&p, 1, 10000), 1);
    }
    return r;
}

START_TEST(test_connector)
{
    g_autoptr(GError) err = NULL;
    int lfd[2], fd = -1;
    guint n = 0;
    g_autofree char *port = NULL;
    GArray *addrs;
    SockAddr a;
    SockConnector *c;

    ck_assert_int_eq(sock_listen_host("127.0.0.1", "0", AF_INET, FALSE, 4,
                                      lfd, 2, &n, NULL), 0);
    port = g_strdup_printf("%u", sock_fd_port(lfd[0]));
    /* a refused address first, then the one that listens */
    addrs = g_array_new(FALSE, TRUE, sizeof(SockAddr));
    ck_assert(sockaddr_inet(&a, "127.0.0.1", "1", FALSE, NULL, NULL));
    g_array_append_val(addrs, a);
    ck_assert(sockaddr_inet(&a, "127.0.0.1", port, FALSE, NULL, NULL));
    g_array_append_val(addrs, a);
    c = sock_connector_new(addrs);
    ck_assert_int_eq(run_connector(c, &fd, &err), 1);
    ck_assert_int_ge(fd, 0);
    sock_connector_free(c);
    close(fd);
    /* a name: looked up in a thread first */
    c = sock_connector_new_host("localhost", port, AF_INET, "test-lookup",
                                &err);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(run_connector(c, &fd, &err), 1);
    sock_connector_free(c);
    close(fd);
    /* nobody listens: the last connect's error */
    close(lfd[0]);
    c = sock_connector_new_host("127.0.0.1", port, AF_UNSPEC, "test-lookup",
                                &err);
    ck_assert_int_eq(run_connector(c, &fd, &err), -1);
    ck_assert_str_eq(err->message, g_strerror(ECONNREFUSED));
    sock_connector_free(c);
    /* given up half-way: nothing leaks (ASan) */
    sock_connector_free(sock_connector_new_host("localhost", port, AF_INET,
                                                "test-lookup", NULL));
}
END_TEST

START_TEST(test_listen_any)
{
    int fds[4];
    guint n = 0;

    /* "::" and "0.0.0.0": one dual-stack socket (or IPv4 alone on a host
     * without IPv6) */
    ck_assert_int_eq(sock_listen_host("", "0", AF_UNSPEC, FALSE, 1, fds, 4,
                                      &n, NULL), 0);
    ck_assert_uint_eq(n, 1);
    close(fds[0]);
}
END_TEST

START_TEST(test_outbuf_ring)
{
    OutBuf ob;
    int sv[2];
    uint8_t msg[100], got[1000];
    struct iovec v = { .iov_base = msg, .iov_len = sizeof(msg) };
    size_t sent, total = 0;

    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] = i;
    }
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    outbuf_init(&ob, 64, 256);
    ck_assert_ptr_null(ob.data);            /* nothing allocated yet */
    outbuf_append(&ob, &v, 1, 0);
    ck_assert_uint_eq(ob.cap, 128);         /* 64, doubled */
    outbuf_append(&ob, &v, 1, 10);
    ck_assert_uint_eq(outbuf_len(&ob), 190);
    ck_assert_uint_eq(ob.cap, 256);         /* grown to the maximum */
    ck_assert_uint_eq(outbuf_room(&ob), 66);
    ck_assert_int_eq(outbuf_flush(&ob, sv[0], &sent), 0);
    ck_assert_uint_eq(sent, 190);
    ck_assert_uint_eq(outbuf_len(&ob), 0);
    /* wrap around the end of the ring, in order */
    for (int k = 0; k < 5; k++) {
        outbuf_append(&ob, &v, 1, 0);
        outbuf_append(&ob, &v, 1, 0);
        ck_assert_int_eq(outbuf_flush(&ob, sv[0], &sent), 0);
        ck_assert_uint_eq(sent, 200);
    }
    while (total < 190 + 1000) {
        ssize_t r = read(sv[1], got, sizeof(got));

        ck_assert_int_gt(r, 0);
        for (ssize_t i = 0; i < r; i++) {
            size_t pos = total + i;
            uint8_t want = pos < 100 ? pos : pos < 190 ? pos - 100 + 10
                                                      : (pos - 190) % 100;

            ck_assert_uint_eq(got[i], want);
        }
        total += r;
    }
    /* a broken connection: -EPIPE, what is queued stays */
    close(sv[1]);
    outbuf_append(&ob, &v, 1, 0);
    ck_assert_int_eq(outbuf_flush(&ob, sv[0], &sent), -EPIPE);
    ck_assert_uint_eq(outbuf_len(&ob), 100);
    outbuf_reset(&ob);
    ck_assert_uint_eq(outbuf_len(&ob), 0);
    outbuf_destroy(&ob);
    close(sv[0]);
}
END_TEST

START_TEST(test_outbuf_pipe)
{
    OutBuf ob;
    int p[2];
    char got[8];
    struct iovec v[2] = { { .iov_base = "ab", .iov_len = 2 },
                          { .iov_base = "cd", .iov_len = 2 } };
    size_t sent;

    ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
    outbuf_init(&ob, 16, 16);
    outbuf_append(&ob, v, 2, 1);
    ck_assert_int_eq(outbuf_flush(&ob, p[1], &sent), 0);   /* writev() */
    ck_assert_uint_eq(sent, 3);
    ck_assert(ob.not_socket);
    ck_assert_int_eq(read(p[0], got, sizeof(got)), 3);
    ck_assert(!memcmp(got, "bcd", 3));
    ck_assert_int_eq(outbuf_write_iov(&ob, p[1], v, 2), 4);
    ck_assert_int_eq(sock_recv(p[0], got, sizeof(got)), 4);  /* read() */
    ck_assert(!memcmp(got, "abcd", 4));
    outbuf_destroy(&ob);
    close(p[0]);
    close(p[1]);
}
END_TEST

static Suite *socket_suite(void)
{
    Suite *s = suite_create("util/socket");
    TCase *tc = tcase_create("socket");
    TCase *to = tcase_create("outbuf");

    tcase_add_test(tc, test_resolve);
    tcase_add_test(tc, test_lookup_thread);
    tcase_add_test(tc, test_listen_connect_io);
    tcase_add_test(tc, test_listen_any);
    tcase_add_test(tc, test_connector);
    tcase_add_test(to, test_outbuf_ring);
    tcase_add_test(to, test_outbuf_pipe);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, to);
    return s;
}

int main(void)
{
    return check_run(socket_suite());
}
