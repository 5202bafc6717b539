/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-keyval.c - util/keyval.c: the key=value grammar, flags,
 * escapes, number and boolean parsing, and the command lines of the COLO
 * documentation (docs/colo-proxy.txt and COLO-FT.txt, ../shared/seeds).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "util/keyval.h"
#include "util/error.h"

static GHashTable *parse_ok(const char *s, const char *implied)
{
    g_autoptr(GError) err = NULL;
    GHashTable *h = keyval_parse(s, implied, &err);

    ck_assert_msg(h != NULL, "'%s': %s", s, err ? err->message : "?");
    ck_assert(err == NULL);
    return h;
}

static char *parse_err(const char *s, const char *implied)
{
    GError *err = NULL;
    GHashTable *h = keyval_parse(s, implied, &err);
    char *msg;

    ck_assert_msg(h == NULL, "'%s' should fail", s);
    ck_assert(err != NULL);
    ck_assert(err->domain == UTIL_ERROR);
    msg = g_strdup(err->message);
    g_error_free(err);
    return msg;
}

#define ck_assert_kv(h, k, v) \
    ck_assert_str_eq((const char *)g_hash_table_lookup((h), (k)), (v))

START_TEST(test_implied_and_pairs)
{
    g_autoptr(GHashTable) h = parse_ok("filter-mirror,id=m0,netdev=hn0", "qom-type");

    ck_assert_uint_eq(g_hash_table_size(h), 3);
    ck_assert_kv(h, "qom-type", "filter-mirror");
    ck_assert_kv(h, "id", "m0");
    ck_assert_kv(h, "netdev", "hn0");
}
END_TEST

START_TEST(test_no_implied)
{
    g_autoptr(GHashTable) h = parse_ok("id=m0,netdev=hn0", NULL);

    ck_assert_uint_eq(g_hash_table_size(h), 2);
    g_autoptr(GHashTable) h2 = parse_ok("id=x,qom-type=iothread", "qom-type");
    ck_assert_kv(h2, "qom-type", "iothread");
    g_autoptr(GHashTable) h3 = parse_ok("", "qom-type");
    ck_assert_uint_eq(g_hash_table_size(h3), 0);
    g_autoptr(GHashTable) h4 = parse_ok(NULL, NULL);
    ck_assert_uint_eq(g_hash_table_size(h4), 0);
}
END_TEST

START_TEST(test_escape)
{
    g_autoptr(GHashTable) h = parse_ok("socket,path=/tmp/a,,b,id=c", "type");

    ck_assert_kv(h, "path", "/tmp/a,b");
    ck_assert_kv(h, "id", "c");
    g_autoptr(GHashTable) h2 = parse_ok("a,,b,x=,,,,", "type");
    ck_assert_kv(h2, "type", "a,b");
    ck_assert_kv(h2, "x", ",,");
    g_autoptr(GHashTable) h3 = parse_ok("x=1,,,y=2", NULL);
    ck_assert_kv(h3, "x", "1,");
    ck_assert_kv(h3, "y", "2");
}
END_TEST

START_TEST(test_dotted_and_values)
{
    g_autoptr(GHashTable) h = parse_ok("addr.type=unix,addr.path=/x=y", NULL);

    ck_assert_kv(h, "addr.type", "unix");
    ck_assert_kv(h, "addr.path", "/x=y");
    g_autoptr(GHashTable) h2 = parse_ok("a=,b=", NULL);
    ck_assert_kv(h2, "a", "");
    ck_assert_kv(h2, "b", "");
    /* implied value may hold ':' and '=' after non-key characters */
    g_autoptr(GHashTable) h3 = parse_ok("unix:/tmp/q=1,server", "type");
    ck_assert_kv(h3, "type", "unix:/tmp/q=1");
    ck_assert_kv(h3, "server", "on");
}
END_TEST

START_TEST(test_flags)
{
    g_autoptr(GHashTable) h =
        parse_ok("socket,id=c,server,nowait,nodelay,notelnet,noipv6,ipv4", "type");

    ck_assert_kv(h, "server", "on");
    ck_assert_kv(h, "wait", "off");
    ck_assert_kv(h, "nodelay", "on");
    ck_assert_kv(h, "telnet", "off");
    ck_assert_kv(h, "ipv6", "off");
    ck_assert_kv(h, "ipv4", "on");
    ck_assert(!g_hash_table_contains(h, "delay"));
    ck_assert(!g_hash_table_contains(h, "nowait"));
    g_autoptr(GHashTable) h2 = parse_ok("noserver,vnet_hdr_support,nosuch", NULL);
    ck_assert_kv(h2, "server", "off");
    ck_assert_kv(h2, "vnet_hdr_support", "on");
    ck_assert_kv(h2, "nosuch", "on");      /* not a known legacy flag */
}
END_TEST

START_TEST(test_last_wins_and_trailing_comma)
{
    g_autoptr(GHashTable) h = parse_ok("a=1,a=2,b=3,", NULL);

    ck_assert_kv(h, "a", "2");
    ck_assert_kv(h, "b", "3");
    ck_assert_uint_eq(g_hash_table_size(h), 2);
    g_autoptr(GHashTable) h2 = parse_ok("iothread,id=x,qom-type=foo", "qom-type");
    ck_assert_kv(h2, "qom-type", "foo");
}
END_TEST

START_TEST(test_errors)
{
    g_autofree char *e1 = parse_err("a..b=1", NULL);
    g_autofree char *e2 = parse_err("x=1,=2", NULL);
    g_autofree char *e3 = parse_err("x=1,a b=2", NULL);
    g_autofree char *e4 = parse_err("x=1,a.b", NULL);
    g_autofree char *e5 = parse_err("x=1,.a=2", NULL);
    g_autofree char *e6 = parse_err("x=1,a.=2", NULL);
    g_autofree char *e7 = parse_err(",x=1", NULL);
    g_autofree char *e8 = parse_err("id=x,a b", NULL);

    ck_assert_str_eq(e1, "Invalid parameter 'a..b'");
    ck_assert_str_eq(e2, "Expected parameter before '='");
    ck_assert_str_eq(e3, "Invalid parameter 'a b'");
    ck_assert_str_eq(e4, "Expected '=' after parameter 'a.b'");
    ck_assert_str_eq(e5, "Invalid parameter '.a'");
    ck_assert_str_eq(e6, "Invalid parameter 'a.'");
    ck_assert_str_eq(e7, "Expected parameter before ','");
    ck_assert_str_eq(e8, "Expected '=' after parameter 'a b'");

    /* a key too long */
    g_autofree char *longkey = g_strnfill(200, 'k');
    g_autofree char *s = g_strdup_printf("%s=1", longkey);
    g_autofree char *e9 = parse_err(s, NULL);
    ck_assert_ptr_nonnull(strstr(e9, "Invalid parameter"));
}
END_TEST

START_TEST(test_too_many)
{
    GString *s = g_string_new("t");
    g_autofree char *e = NULL;

    for (int i = 0; i < 1100; i++) {
        g_string_append_printf(s, ",k%d=%d", i, i);
    }
    e = parse_err(s->str, "type");
    ck_assert_ptr_nonnull(strstr(e, "Too many parameters"));
    g_string_free(s, TRUE);
}
END_TEST

START_TEST(test_bool)
{
    static const char *const yes[] = { "on", "yes", "true", "y" };
    static const char *const no[] = { "off", "no", "false", "n" };
    gboolean b;
    GError *err = NULL;

    for (unsigned i = 0; i < G_N_ELEMENTS(yes); i++) {
        b = FALSE;
        ck_assert(keyval_parse_bool("x", yes[i], &b, NULL));
        ck_assert(b);
        ck_assert(keyval_parse_bool("x", no[i], &b, NULL));
        ck_assert(!b);
    }
    ck_assert(!keyval_parse_bool("server", "maybe", &b, &err));
    ck_assert_str_eq(err->message, "Parameter 'server' expects 'on' or 'off'");
    g_clear_error(&err);
    ck_assert(!keyval_parse_bool("server", "", &b, NULL));
    ck_assert(!keyval_parse_bool("server", NULL, &b, NULL));
    ck_assert(!keyval_parse_bool("server", "ON ", &b, NULL));
}
END_TEST

START_TEST(test_numbers)
{
    guint64 u;
    gint64 i;
    GError *err = NULL;

    ck_assert(keyval_parse_uint64("n", "0", FALSE, &u, NULL));
    ck_assert_uint_eq(u, 0);
    ck_assert(keyval_parse_uint64("n", "18446744073709551615", FALSE, &u, NULL));
    ck_assert(u == G_MAXUINT64);
    ck_assert(keyval_parse_uint64("n", "0x10", FALSE, &u, NULL));
    ck_assert_uint_eq(u, 16);
    ck_assert(keyval_parse_uint64("n", "4k", TRUE, &u, NULL));
    ck_assert_uint_eq(u, 4096);
    ck_assert(keyval_parse_uint64("n", "2M", TRUE, &u, NULL));
    ck_assert_uint_eq(u, 2u << 20);
    ck_assert(keyval_parse_uint64("n", "1G", TRUE, &u, NULL));
    ck_assert_uint_eq(u, 1u << 30);
    ck_assert(!keyval_parse_uint64("n", "4k", FALSE, &u, NULL));
    ck_assert(!keyval_parse_uint64("n", "4kk", TRUE, &u, NULL));
    ck_assert(!keyval_parse_uint64("n", "18446744073709551616", FALSE, &u, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "'n'"));
    g_clear_error(&err);
    ck_assert(!keyval_parse_uint64("n", "16777216T", TRUE, &u, NULL));
    ck_assert(!keyval_parse_uint64("n", "-1", FALSE, &u, &err));
    ck_assert_str_eq(err->message, "Parameter 'n' expects a non-negative number");
    g_clear_error(&err);
    ck_assert(!keyval_parse_uint64("n", "", FALSE, &u, NULL));
    ck_assert(!keyval_parse_uint64("n", "12abc", FALSE, &u, NULL));
    ck_assert(!keyval_parse_uint64("n", NULL, FALSE, &u, NULL));

    ck_assert(keyval_parse_int64("n", "-42", &i, NULL));
    ck_assert_int_eq(i, -42);
    ck_assert(keyval_parse_int64("n", "9223372036854775807", &i, NULL));
    ck_assert(i == G_MAXINT64);
    ck_assert(!keyval_parse_int64("n", "9223372036854775808", &i, NULL));
    ck_assert(!keyval_parse_int64("n", "1.5", &i, &err));
    ck_assert_str_eq(err->message, "Parameter 'n' expects a number");
    g_clear_error(&err);
    ck_assert(!keyval_parse_int64("n", "-", &i, NULL));
}
END_TEST

START_TEST(test_is_help)
{
    ck_assert(keyval_is_help("help"));
    ck_assert(keyval_is_help("?"));
    ck_assert(keyval_is_help("filter-mirror,help"));
    ck_assert(keyval_is_help("filter-mirror,?"));
    ck_assert(keyval_is_help("a,,,help"));
    ck_assert(!keyval_is_help("a,,help"));   /* value "a,help" */
    ck_assert(!keyval_is_help("helper"));
    ck_assert(!keyval_is_help("x,id=help"));
    ck_assert(!keyval_is_help(""));
    ck_assert(!keyval_is_help(NULL));
}
END_TEST

/* The -chardev, -object and -netdev arguments of docs/colo-proxy.txt
 * (seed 000) and COLO-FT.txt (seed 004), verbatim. */
START_TEST(test_colo_doc_lines)
{
    g_autoptr(GHashTable) c1 = parse_ok(
        "socket,id=mirror0,host=3.3.3.3,port=9003,server,nowait", "type");
    ck_assert_kv(c1, "type", "socket");
    ck_assert_kv(c1, "id", "mirror0");
    ck_assert_kv(c1, "host", "3.3.3.3");
    ck_assert_kv(c1, "port", "9003");
    ck_assert_kv(c1, "server", "on");
    ck_assert_kv(c1, "wait", "off");
    ck_assert_uint_eq(g_hash_table_size(c1), 6);

    g_autoptr(GHashTable) c2 = parse_ok(
        "socket,id=compare0-0,host=3.3.3.3,port=9001", "type");
    ck_assert_kv(c2, "id", "compare0-0");
    ck_assert(!g_hash_table_contains(c2, "server"));

    g_autoptr(GHashTable) c3 = parse_ok(
        "socket,id=compare1,host=0.0.0.0,port=9004,server=on,wait=on", "type");
    ck_assert_kv(c3, "server", "on");
    ck_assert_kv(c3, "wait", "on");

    g_autoptr(GHashTable) c4 = parse_ok(
        "socket,id=red0,host=127.0.0.1,port=9003,reconnect=1", "type");
    ck_assert_kv(c4, "reconnect", "1");

    g_autoptr(GHashTable) c5 = parse_ok(
        "socket,id=compare_out,host=3.3.3.3,port=9005,server,nowait", "type");
    ck_assert_kv(c5, "id", "compare_out");

    g_autoptr(GHashTable) o1 = parse_ok(
        "filter-mirror,id=m0,netdev=hn0,queue=tx,outdev=mirror0", "qom-type");
    ck_assert_kv(o1, "qom-type", "filter-mirror");
    ck_assert_kv(o1, "queue", "tx");
    ck_assert_kv(o1, "outdev", "mirror0");

    g_autoptr(GHashTable) o2 = parse_ok(
        "filter-redirector,netdev=hn0,id=redire0,queue=rx,indev=compare_out",
        "qom-type");
    ck_assert_kv(o2, "qom-type", "filter-redirector");
    ck_assert_kv(o2, "id", "redire0");
    ck_assert_kv(o2, "indev", "compare_out");

    g_autoptr(GHashTable) o3 = parse_ok(
        "colo-compare,id=comp0,primary_in=compare0-0,secondary_in=compare1,"
        "outdev=compare_out0,iothread=iothread1", "qom-type");
    ck_assert_kv(o3, "primary_in", "compare0-0");
    ck_assert_kv(o3, "secondary_in", "compare1");
    ck_assert_kv(o3, "outdev", "compare_out0");
    ck_assert_kv(o3, "iothread", "iothread1");

    g_autoptr(GHashTable) o4 = parse_ok("iothread,id=iothread1", "qom-type");
    ck_assert_kv(o4, "qom-type", "iothread");

    g_autoptr(GHashTable) o5 = parse_ok(
        "filter-rewriter,id=rew0,netdev=hn0,queue=all", "qom-type");
    ck_assert_kv(o5, "queue", "all");

    g_autoptr(GHashTable) n1 = parse_ok(
        "tap,id=hn0,vhost=off,script=/etc/qemu-ifup,downscript=/etc/qemu-ifdown",
        "type");
    ck_assert_kv(n1, "type", "tap");
    ck_assert_kv(n1, "vhost", "off");
    ck_assert_kv(n1, "downscript", "/etc/qemu-ifdown");

    g_autoptr(GHashTable) n2 = parse_ok(
        "tap,id=hn0,vhost=off,helper=/usr/lib/qemu/qemu-bridge-helper", "type");
    ck_assert_kv(n2, "helper", "/usr/lib/qemu/qemu-bridge-helper");

    /* The typo in docs/colo-proxy.txt ("down script") is an error naming
     * the key, as in QEMU. */
    g_autofree char *e = parse_err(
        "tap,id=hn0,vhost=off,script=/etc/qemu-ifup,down script=/etc/qemu-ifdown",
        "type");
    ck_assert_str_eq(e, "Invalid parameter 'down script'");
}
END_TEST

static Suite *keyval_suite(void)
{
    Suite *s = suite_create("util/keyval");
    TCase *tc = tcase_create("parse");

    tcase_add_test(tc, test_implied_and_pairs);
    tcase_add_test(tc, test_no_implied);
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_dotted_and_values);
    tcase_add_test(tc, test_flags);
    tcase_add_test(tc, test_last_wins_and_trailing_comma);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_too_many);
    tcase_add_test(tc, test_bool);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_is_help);
    tcase_add_test(tc, test_colo_doc_lines);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(keyval_suite());
}
