/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-qmp-event-scan.c - the fast path for QEMU's checkpoint
 * events: exactly QEMU's lines are recognised, everything else is left
 * to the full parser (NULL).
 */
#include <check.h>
#include <string.h>

#include "util/qmp-event-scan.h"
#include "check-main.h"

static const char *scan(const char *s)
{
    return qmp_scan_checkpoint_event(s, strlen(s));
}

START_TEST(test_qemu_lines)
{
    /* as QEMU 7.2 and 10.0 write them (strace of a real pair) */
    ck_assert_str_eq(scan("{\"timestamp\": {\"seconds\": 1796620000, "
                          "\"microseconds\": 550123}, \"event\": \"STOP\"}"),
                     "STOP");
    ck_assert_str_eq(scan("{\"timestamp\": {\"seconds\": 1796620000, "
                          "\"microseconds\": 0}, \"event\": \"RESUME\"}\r"),
                     "RESUME");
    ck_assert_str_eq(scan("{\"timestamp\": {\"seconds\": 1, "
                          "\"microseconds\": 2}, \"event\": "
                          "\"MIGRATION_PASS\", \"data\": {\"pass\": 2}}"),
                     "MIGRATION_PASS");
    /* compact and spread-out whitespace are the same JSON */
    ck_assert_str_eq(scan("{\"timestamp\":{\"seconds\":1,\"microseconds\":2},"
                          "\"event\":\"STOP\"}"), "STOP");
    ck_assert_str_eq(scan(" { \"timestamp\" : { \"seconds\" : 1 , "
                          "\"microseconds\" : 2 } , \"event\" : \"RESUME\" "
                          "}  "), "RESUME");
}
END_TEST

START_TEST(test_everything_else)
{
    static const char *const no[] = {
        "",
        "{}",
        "{\"return\": {}}",
        "{\"QMP\": {\"version\": {}}}",
        /* other events, even with the same shape */
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"SHUTDOWN\"}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"STOPPED\"}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"STO\"}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"MIGRATION\", \"data\": {\"status\": \"colo\"}}",
        /* data where none is expected, or of another shape */
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"STOP\", \"data\": {}}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"MIGRATION_PASS\"}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": \"2\"}}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": 2, \"x\": 1}}",
        /* another member order, an extra member, a bad number */
        "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, "
        "\"microseconds\": 2}}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"STOP\", \"id\": 1}",
        "{\"timestamp\": {\"seconds\": -1, \"microseconds\": 2}, "
        "\"event\": \"STOP\"}",
        "{\"timestamp\": {\"seconds\": 01, \"microseconds\": 2}, "
        "\"event\": \"STOP\"}",
        "{\"timestamp\": {\"seconds\": 1.5, \"microseconds\": 2}, "
        "\"event\": \"STOP\"}",
        "{\"timestamp\": {\"seconds\": 1234567890123456789, "
        "\"microseconds\": 2}, \"event\": \"STOP\"}",
        /* cut short, or followed by anything */
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"STOP\"",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"STOP\"}}",
        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
        "\"event\": \"STOP\"} x",
    };

    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        ck_assert_msg(scan(no[i]) == NULL, "accepted: %s", no[i]);
    }
    ck_assert_ptr_null(qmp_scan_checkpoint_event(NULL, 0));
    /* the length bounds the scan: a prefix of a good line is not one */
    {
        const char *l = "{\"timestamp\": {\"seconds\": 1, \"microseconds\": "
                        "2}, \"event\": \"STOP\"}";

        for (size_t n = 0; n < strlen(l); n++) {
            ck_assert_ptr_null(qmp_scan_checkpoint_event(l, n));
        }
    }
}
END_TEST

static Suite *scan_suite(void)
{
    Suite *s = suite_create("util/qmp-event-scan");
    TCase *tc = tcase_create("scan");

    tcase_add_test(tc, test_qemu_lines);
    tcase_add_test(tc, test_everything_else);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(scan_suite());
}
