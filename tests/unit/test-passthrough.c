/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-passthrough.c - unit tests of net/passthrough.c (rule
 * grammar, canonical text, overlap test, table bounds, matching) and of
 * the engine's passthrough classification (net/compare-engine.c,
 * CompareOps.passthrough): exempt primary frames released at once,
 * secondary copies dropped, both counted.
 */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "net/compare-engine.h"
#include "net/passthrough.h"

static const char *canon(const char *text)
{
    static char buf[PASSTHROUGH_RULE_STRLEN];
    PassthroughRule r;
    GError *err = NULL;

    if (!passthrough_rule_parse(text, &r, &err)) {
        ck_abort_msg("'%s' refused: %s", text, err->message);
    }
    return passthrough_rule_format(&r, buf);
}

START_TEST(test_parse_format)
{
    static const char *const same[][2] = {
        { "tcp", "tcp" },
        { "TCP:*:*:*:*", "tcp" },
        { "tcp:10.0.0.0/24:8000-8100", "tcp:10.0.0.0/24:8000-8100" },
        { "udp:*:*:192.168.1.5:53", "udp:*:*:192.168.1.5/32:53" },
        { "udp:[fd00::]/64:123", "udp:[fd00::]/64:123" },
        { "any:10.1.2.3", "any:10.1.2.3/32" },
        { "icmp:[2001:db8::1]", "icmp:[2001:db8::1]/128" },
        { "tcp:*:80-80", "tcp:*:80" },
        { "udp:0.0.0.0/0", "udp:0.0.0.0/0" },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(same); i++) {
        ck_assert_str_eq(canon(same[i][0]), same[i][1]);
        /* the canonical text parses back to itself */
        ck_assert_str_eq(canon(same[i][1]), same[i][1]);
    }
}
END_TEST

START_TEST(test_malformed)
{
    static const char *const bad[][2] = {
        { "", "empty" },
        { "sctp", "protocol" },
        { "tcp:10.0.0.1/24", "host bits" },
        { "tcp:10.0.0.0/33", "prefix length" },
        { "tcp:10.0.0.0/", "prefix length" },
        { "tcp:10.0.0", "IPv4" },
        { "tcp:fd00::1", "brackets" },
        { "tcp:[fd00::1", "']'" },
        { "tcp:[fd00::1]x", "junk" },
        { "tcp:[fd00::]/129", "prefix length" },
        { "tcp:*:90-80", "empty" },
        { "tcp:*:65536", "port" },
        { "tcp:*:-1", "port" },
        { "tcp:*:1-", "port" },
        { "icmp:*:7", "no ports" },
        { "tcp:*:*:*:*:*", "too many" },
        { "tcp:10.0.0.0/8:*:[fd00::]/8", "families" },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        PassthroughRule r;
        GError *err = NULL;

        ck_assert_msg(!passthrough_rule_parse(bad[i][0], &r, &err),
                      "'%s' accepted", bad[i][0]);
        ck_assert_msg(strstr(err->message, bad[i][1]),
                      "'%s': '%s' does not say '%s'", bad[i][0],
                      err->message, bad[i][1]);
        g_error_free(err);
    }
}
END_TEST

static bool overlap(const char *a, const char *b)
{
    PassthroughRule ra, rb;

    ck_assert(passthrough_rule_parse(a, &ra, NULL));
    ck_assert(passthrough_rule_parse(b, &rb, NULL));
    ck_assert(passthrough_rules_overlap(&ra, &rb)
              == passthrough_rules_overlap(&rb, &ra));
    return passthrough_rules_overlap(&ra, &rb);
}

START_TEST(test_overlap)
{
    ck_assert(overlap("tcp", "tcp:10.0.0.0/8"));
    ck_assert(overlap("any", "udp:*:53"));
    ck_assert(overlap("tcp:10.0.0.0/8", "tcp:10.1.0.0/16:80"));
    ck_assert(overlap("tcp:*:80-90", "tcp:*:90-100"));
    ck_assert(overlap("udp:*:*:*:53", "udp:10.0.0.0/8"));
    ck_assert(!overlap("tcp", "udp"));
    ck_assert(!overlap("tcp:*:80-89", "tcp:*:90-100"));
    ck_assert(!overlap("tcp:10.0.0.0/8", "tcp:11.0.0.0/8"));
    ck_assert(!overlap("udp:10.0.0.0/8", "udp:*:*:[fd00::]/8"));
    ck_assert(!overlap("icmp", "tcp:*:80"));
    ck_assert(overlap("icmp:[fd00::]/8", "any"));
}
END_TEST

START_TEST(test_table)
{
    PassthroughTable *t = passthrough_table_new(3);
    PassthroughRule r;
    GError *err = NULL;

    ck_assert(passthrough_table_add_list(t, "tcp:*:443;udp:*:53,icmp", NULL));
    ck_assert_uint_eq(passthrough_table_count(t), 3);
    ck_assert(passthrough_rule_parse("tcp:*:80", &r, NULL));
    ck_assert(!passthrough_table_add(t, &r, &err));
    ck_assert(strstr(err->message, "3 rules already"));
    g_clear_error(&err);
    ck_assert_uint_eq(passthrough_table_refused_full(t), 1);
    ck_assert(passthrough_rule_parse("ICMP:*", &r, NULL));
    ck_assert(passthrough_table_del(t, &r, NULL));
    ck_assert(!passthrough_table_del(t, &r, &err));
    g_clear_error(&err);
    /* a list is all or nothing */
    ck_assert(!passthrough_table_add_list(t, "udp:*:1;tcp:*:443", &err));
    ck_assert(strstr(err->message, "exists"));
    g_clear_error(&err);
    ck_assert_uint_eq(passthrough_table_count(t), 2);
    ck_assert(passthrough_rule_parse("tcp:10.0.0.1/32:443", &r, NULL));
    ck_assert(!passthrough_table_add(t, &r, &err));
    ck_assert(strstr(err->message, "overlaps rule 'tcp:*:443'"));
    g_clear_error(&err);
    passthrough_table_free(t);
}
END_TEST

static PacketInfo pinfo(const char *src, const char *dst, uint8_t proto,
                        int sport, int dport)
{
    PacketInfo pi;
    bool v6 = strchr(src, ':');

    memset(&pi, 0, sizeof pi);
    pi.ip_version = v6 ? 6 : 4;
    pi.ip_proto = proto;
    if (v6) {
        inet_pton(AF_INET6, src, pi.src.b);
        inet_pton(AF_INET6, dst, pi.dst.b);
    } else {
        pi.src.b[10] = pi.src.b[11] = pi.dst.b[10] = pi.dst.b[11] = 0xff;
        inet_pton(AF_INET, src, pi.src.b + 12);
        inet_pton(AF_INET, dst, pi.dst.b + 12);
    }
    if (sport >= 0) {
        pi.flags |= PACKET_F_PORTS;
        pi.src_port = sport;
        pi.dst_port = dport;
    }
    return pi;
}

START_TEST(test_match)
{
    PassthroughTable *t = passthrough_table_new(8);
    PacketInfo pi;

    pi = pinfo("10.0.0.1", "10.0.0.2", IP_PROTO_TCP, 443, 5555);
    ck_assert_ptr_null(passthrough_table_match(t, &pi));   /* empty */
    ck_assert(passthrough_table_add_list(
        t, "tcp:10.0.0.0/24:443;udp:*:*:[2001:db8::]/32:53;icmp", NULL));
    ck_assert_ptr_nonnull(passthrough_table_match(t, &pi));
    pi = pinfo("10.0.1.1", "10.0.0.2", IP_PROTO_TCP, 443, 5555);
    ck_assert_ptr_null(passthrough_table_match(t, &pi));
    pi = pinfo("10.0.0.1", "10.0.0.2", IP_PROTO_TCP, 444, 5555);
    ck_assert_ptr_null(passthrough_table_match(t, &pi));
    pi = pinfo("10.0.0.1", "10.0.0.2", IP_PROTO_UDP, 443, 5555);
    ck_assert_ptr_null(passthrough_table_match(t, &pi));
    pi = pinfo("2001:db8::5", "2001:db8::9", IP_PROTO_UDP, 4000, 53);
    ck_assert_ptr_nonnull(passthrough_table_match(t, &pi));
    pi = pinfo("2001:db8::5", "2001:db9::9", IP_PROTO_UDP, 4000, 53);
    ck_assert_ptr_null(passthrough_table_match(t, &pi));
    pi = pinfo("10.9.9.9", "1.1.1.1", IP_PROTO_ICMP, -1, -1);
    ck_assert_ptr_nonnull(passthrough_table_match(t, &pi));
    pi = pinfo("fd00::1", "fd00::2", IP_PROTO_ICMPV6, -1, -1);
    ck_assert_ptr_nonnull(passthrough_table_match(t, &pi));
    /* a later fragment has no ports: a rule with ports does not match */
    pi = pinfo("10.0.0.1", "10.0.0.2", IP_PROTO_TCP, -1, -1);
    ck_assert_ptr_null(passthrough_table_match(t, &pi));
    passthrough_table_free(t);
}
END_TEST

/* The engine with a classifier exempting UDP port 53. */
typedef struct {
    int released;
    int checkpoints;
    PassthroughTable *t;
} Sink;

static void sink_release(void *o, const uint8_t *b, uint32_t l, uint32_t v)
{
    ((Sink *) o)->released++;
}

static void sink_ckpt(void *o, CompareCkptReason r, const char *d)
{
    ((Sink *) o)->checkpoints++;
}

static bool sink_pass(void *o, CompareSide side, const PacketInfo *pi,
                      uint32_t len)
{
    return passthrough_table_match(((Sink *) o)->t, pi) != NULL;
}

/* Ethernet + IPv4 + UDP from 10.0.0.1:sport to 10.0.0.2:4000. */
static uint32_t udp_frame(uint8_t *f, uint16_t sport, const char *payload)
{
    uint32_t pl = strlen(payload), iplen = 20 + 8 + pl;

    memset(f, 0, 14 + iplen);
    f[12] = 0x08;
    f[14] = 0x45;
    f[16] = iplen >> 8;
    f[17] = iplen & 0xff;
    f[22] = 64;
    f[23] = 17;
    memcpy(f + 26, (uint8_t[]) { 10, 0, 0, 1, 10, 0, 0, 2 }, 8);
    f[34] = sport >> 8;
    f[35] = sport & 0xff;
    f[36] = 4000 >> 8;
    f[37] = 4000 & 0xff;
    f[39] = 8 + pl;
    memcpy(f + 42, payload, pl);
    return 14 + iplen < 60 ? 60 : 14 + iplen;
}

START_TEST(test_engine_passthrough)
{
    static const CompareOps ops = {
        .release = sink_release, .checkpoint = sink_ckpt,
        .passthrough = sink_pass,
    };
    Sink s = { 0 };
    CompareConfig cfg;
    CompareEngine *e;
    CompareStats st;
    uint8_t f[128];
    uint32_t len;

    s.t = passthrough_table_new(4);
    ck_assert(passthrough_table_add_list(s.t, "udp:*:53", NULL));
    compare_config_init(&cfg);
    e = compare_new(&cfg, &ops, &s);
    len = udp_frame(f, 53, "primary");
    compare_input(e, COMPARE_PRIMARY, f, len, 0, 1);
    ck_assert_int_eq(s.released, 1);             /* at once */
    len = udp_frame(f, 53, "secondary differs");
    compare_input(e, COMPARE_SECONDARY, f, len, 0, 2);
    ck_assert_int_eq(s.checkpoints, 0);
    len = udp_frame(f, 54, "compared");
    compare_input(e, COMPARE_PRIMARY, f, len, 0, 3);
    ck_assert_int_eq(s.released, 1);             /* held */
    compare_input(e, COMPARE_SECONDARY, f, len, 0, 4);
    ck_assert_int_eq(s.released, 2);
    compare_get_stats(e, &st);
    ck_assert_uint_eq(st.uncompared[COMPARE_UNCMP_PASSTHROUGH], 1);
    ck_assert_uint_eq(st.sec_dropped[COMPARE_SDROP_PASSTHROUGH], 1);
    ck_assert_uint_eq(st.matched, 1);
    ck_assert_uint_eq(st.connections, 1);        /* exempt: not tracked */
    ck_assert_str_eq(compare_uncompared_name(COMPARE_UNCMP_PASSTHROUGH),
                     "passthrough");
    compare_free(e);
    passthrough_table_free(s.t);
}
END_TEST

static Suite *passthrough_suite(void)
{
    Suite *s = suite_create("passthrough");
    TCase *tc = tcase_create("rules");

    tcase_add_test(tc, test_parse_format);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_overlap);
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_match);
    tcase_add_test(tc, test_engine_passthrough);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(passthrough_suite());
}
