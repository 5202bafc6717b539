/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-sockaddr.c - util/sockaddr.c: QEMU's address spellings,
 * the port range, the one unix length limit, describe().
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

#include "check-main.h"
#include "util/sockaddr.h"

START_TEST(test_port_check)
{
    g_autoptr(GError) err = NULL;

    ck_assert(sockaddr_port_check("0", NULL, NULL));
    ck_assert(sockaddr_port_check("65535", NULL, NULL));
    ck_assert(sockaddr_port_check("ssh", NULL, NULL));
    ck_assert(sockaddr_port_check("x-colo_1.2", NULL, NULL));
    /* getaddrinfo() would wrap this to 34463: QEMU refuses it. */
    ck_assert(!sockaddr_port_check("99999", "addr", &err));
    ck_assert_str_eq(err->message, "addr: port 99999 out of range (0-65535)");
    g_clear_error(&err);
    ck_assert(!sockaddr_port_check("65536", NULL, &err));
    g_clear_error(&err);
    ck_assert(!sockaddr_port_check("99999999999999999999999", NULL, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "out of range"));
    g_clear_error(&err);
    for (const char *const *p = (const char *const[]){ "-1", "+80", " 80",
             "80 ", "8o", "", "a b", "[80]", NULL }; *p; p++) {
        ck_assert_msg(!sockaddr_port_check(*p, NULL, &err), "%s", *p);
        g_clear_error(&err);
    }
    ck_assert(!sockaddr_port_check(NULL, "p", &err));
    ck_assert_str_eq(err->message, "p: a port is required");
}
END_TEST

START_TEST(test_split_host_port)
{
    struct { const char *in, *host, *port; } ok[] = {
        { "127.0.0.1:9000", "127.0.0.1", "9000" },
        { "[::1]:9000", "::1", "9000" },
        { ":9000", "", "9000" },
        { "[]:1", "", "1" },
        { "localhost:ssh", "localhost", "ssh" },
        /* unbracketed IPv6: the last ':' separates, as QEMU's inet_parse */
        { "::1:80", "::1", "80" },
        { "h:", "h", "" },
    };
    const char *bad[] = { "", "noport", "[::1]", "[::1]9000", "[::1" };

    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        g_autofree char *h = NULL;
        g_autofree char *p = NULL;

        ck_assert_msg(sockaddr_split_host_port(ok[i].in, &h, &p, NULL, NULL),
                      "%s", ok[i].in);
        ck_assert_str_eq(h, ok[i].host);
        ck_assert_str_eq(p, ok[i].port);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        char *h = NULL, *p = NULL;

        ck_assert_msg(!sockaddr_split_host_port(bad[i], &h, &p, "x", &err),
                      "%s", bad[i]);
        ck_assert_ptr_null(h);
        ck_assert_ptr_null(p);
        ck_assert(g_str_has_prefix(err->message, "x: "));
    }
}
END_TEST

START_TEST(test_brackets)
{
    g_autofree char *a = sockaddr_host_unbracket("[fe80::1]");
    g_autofree char *b = sockaddr_host_unbracket("fe80::1");
    g_autofree char *c = sockaddr_host_unbracket("[");
    g_autofree char *d = sockaddr_host_port_str("::1", "5");
    g_autofree char *e = sockaddr_host_port_str("10.0.0.1", "5");

    ck_assert_str_eq(a, "fe80::1");
    ck_assert_str_eq(b, "fe80::1");
    ck_assert_str_eq(c, "[");
    ck_assert_ptr_null(sockaddr_host_unbracket(NULL));
    ck_assert_str_eq(d, "[::1]:5");
    ck_assert_str_eq(e, "10.0.0.1:5");
}
END_TEST

START_TEST(test_unix_limit)
{
    char name[SOCKADDR_UNIX_PATH_MAX + 2];
    char s[SOCKADDR_STR_MAX + 120];
    SockAddr a;
    g_autoptr(GError) err = NULL;

    ck_assert_uint_eq(SOCKADDR_UNIX_PATH_MAX, 107);
    memset(name, 'p', sizeof(name));
    name[0] = '/';
    /* Exactly 107 bytes: fits, as a file path and as an abstract name. */
    name[SOCKADDR_UNIX_PATH_MAX] = '\0';
    ck_assert(sockaddr_unix(&a, name, FALSE, TRUE, NULL, NULL));
    ck_assert_uint_eq(a.len, offsetof(struct sockaddr_un, sun_path) + 108);
    ck_assert(sockaddr_unix(&a, name, TRUE, TRUE, NULL, NULL));
    ck_assert_uint_eq(a.len, sizeof(struct sockaddr_un));
    /* 108: too long for both, with one clear message. */
    name[SOCKADDR_UNIX_PATH_MAX] = 'p';
    name[SOCKADDR_UNIX_PATH_MAX + 1] = '\0';
    ck_assert(!sockaddr_unix(&a, name, FALSE, TRUE, "addr.path", &err));
    ck_assert_ptr_nonnull(strstr(err->message, "too long (108 bytes, at "
                                 "most 107)"));
    ck_assert(g_str_has_prefix(err->message, "addr.path: UNIX socket path"));
    g_clear_error(&err);
    ck_assert(!sockaddr_unix(&a, name, TRUE, TRUE, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "too long"));
    g_clear_error(&err);
    ck_assert(!sockaddr_unix(&a, "", FALSE, TRUE, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "empty"));

    ck_assert(sockaddr_unix(&a, "colo", TRUE, TRUE, NULL, NULL));
    ck_assert_str_eq(sockaddr_str(&a, s, sizeof(s)), "unix:@colo");
    ck_assert(sockaddr_unix(&a, "colo", TRUE, FALSE, NULL, NULL));
    ck_assert_uint_eq(a.len, sizeof(struct sockaddr_un));
    ck_assert(sockaddr_unix(&a, "/run/x.sock", FALSE, TRUE, NULL, NULL));
    ck_assert_str_eq(sockaddr_str(&a, s, sizeof(s)), "unix:/run/x.sock");
    {
        g_autofree char *d = sockaddr_describe((void *)&a.ss, a.len);

        ck_assert_str_eq(d, "/run/x.sock");
    }
}
END_TEST

START_TEST(test_spec)
{
    SockSpec s;
    g_autoptr(GError) err = NULL;
    char longspec[200];

    ck_assert(sockaddr_parse_spec(&s, "unix:/run/q.qmp", FALSE, NULL, NULL));
    ck_assert_int_eq(s.kind, SOCK_SPEC_UNIX);
    ck_assert_str_eq(s.path, "/run/q.qmp");
    sock_spec_clear(&s);
    ck_assert(sockaddr_parse_spec(&s, "tcp:[::1]:4444", FALSE, NULL, NULL));
    ck_assert_int_eq(s.kind, SOCK_SPEC_INET);
    ck_assert_str_eq(s.host, "::1");
    ck_assert_str_eq(s.port, "4444");
    sock_spec_clear(&s);
    ck_assert(sockaddr_parse_spec(&s, "tcp::4444", FALSE, NULL, NULL));
    ck_assert_str_eq(s.host, "");
    sock_spec_clear(&s);
    ck_assert(!sockaddr_parse_spec(&s, "/run/q.qmp", FALSE, NULL, NULL));
    ck_assert(sockaddr_parse_spec(&s, "/run/q.qmp", TRUE, NULL, NULL));
    ck_assert_str_eq(s.path, "/run/q.qmp");
    sock_spec_clear(&s);
    ck_assert(!sockaddr_parse_spec(&s, "tcp:127.0.0.1:99999", FALSE,
                                   "qemu-qmp", &err));
    ck_assert_ptr_nonnull(strstr(err->message, "out of range"));
    ck_assert_int_eq(s.kind, SOCK_SPEC_NONE);
    ck_assert_ptr_null(s.host);
    g_clear_error(&err);
    ck_assert(!sockaddr_parse_spec(&s, "udp:1.2.3.4:5", FALSE, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "expected unix:PATH"));
    g_clear_error(&err);
    memset(longspec, 'a', sizeof(longspec) - 1);
    longspec[sizeof(longspec) - 1] = '\0';
    memcpy(longspec, "unix:/", 6);
    ck_assert(!sockaddr_parse_spec(&s, longspec, FALSE, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "too long"));
    ck_assert_int_eq(sockaddr_spec_kind("tcp:x", NULL), SOCK_SPEC_INET);
    ck_assert_int_eq(sockaddr_spec_kind("stdio", NULL), SOCK_SPEC_NONE);
}
END_TEST

START_TEST(test_inet_and_fields)
{
    SockAddr a, b;
    char s[SOCKADDR_STR_MAX];
    g_autoptr(GError) err = NULL;

    ck_assert(sockaddr_inet(&a, "127.0.0.1", "9000", FALSE, NULL, NULL));
    ck_assert_str_eq(sockaddr_str(&a, s, sizeof(s)), "127.0.0.1:9000");
    ck_assert(sockaddr_parse_host_port(&b, "127.0.0.1:9000", FALSE, NULL,
                                       NULL));
    ck_assert(sockaddr_equal(&a, &b));
    ck_assert(sockaddr_inet(&a, "[::1]", "9", FALSE, NULL, NULL));
    ck_assert_str_eq(sockaddr_str(&a, s, sizeof(s)), "[::1]:9");
    ck_assert(!sockaddr_inet(&a, "127.0.0.1", "99999", FALSE, "addr", &err));
    ck_assert_str_eq(err->message, "addr: port 99999 out of range (0-65535)");
    g_clear_error(&err);

    ck_assert(!sockaddr_from_fields(&a, "remote", "inet", NULL, "1", NULL,
                                    FALSE, TRUE, FALSE, &err));
    ck_assert_str_eq(err->message, "Parameter 'remote.host' is missing");
    g_clear_error(&err);
    ck_assert(!sockaddr_from_fields(&a, "addr", "inet", "h", NULL, NULL,
                                    FALSE, TRUE, FALSE, &err));
    ck_assert_str_eq(err->message, "Parameter 'addr.port' is missing");
    g_clear_error(&err);
    ck_assert(!sockaddr_from_fields(&a, "addr", "unix", NULL, NULL, NULL,
                                    FALSE, TRUE, FALSE, &err));
    ck_assert_str_eq(err->message, "Parameter 'addr.path' is missing");
    g_clear_error(&err);
    ck_assert(sockaddr_from_fields(&a, "local", "inet", NULL, "0", NULL,
                                   FALSE, TRUE, TRUE, NULL));
    ck_assert(sockaddr_from_fields(&a, "addr", "unix", NULL, NULL, "n",
                                   TRUE, TRUE, FALSE, NULL));
    ck_assert_str_eq(sockaddr_str(&a, s, sizeof(s)), "unix:@n");
}
END_TEST

static Suite *sockaddr_suite(void)
{
    Suite *s = suite_create("util/sockaddr");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_port_check);
    tcase_add_test(tc, test_split_host_port);
    tcase_add_test(tc, test_brackets);
    tcase_add_test(tc, test_unix_limit);
    tcase_add_test(tc, test_spec);
    tcase_add_test(tc, test_inet_and_fields);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(sockaddr_suite());
}
