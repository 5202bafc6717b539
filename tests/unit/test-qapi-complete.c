/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-qapi-complete.c - every command of the QAPI schema is
 * implemented, every event has a name.
 *
 * scripts/qapi-gen.py names each handler qmp_NAME() in qmp_commands[],
 * so a command declared in qapi/<module>.json without an implementation
 * does not link; this test keeps checking the table (no NULL entry), the
 * "schema command without implementation" check.  The reverse check (a
 * handler without a schema entry) is tests/qtest/test_qapi_coverage.py.
 */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "monitor/qmp-internal.h"

START_TEST(test_commands_implemented)
{
    GString *missing = g_string_new(NULL);
    guint n = 0;

    for (guint i = 0; qmp_commands[i].name; i++, n++) {
        ck_assert(qmp_commands[i].name[0] != '\0');
        if (!qmp_commands[i].fn) {
            g_string_append_printf(missing, " %s (qmp_%s)",
                                   qmp_commands[i].name,
                                   qmp_commands[i].name);
        }
    }
    g_strdelimit(missing->str, "-", '_');
    ck_assert_msg(missing->len == 0,
                  "schema commands without implementation:%s", missing->str);
    ck_assert_uint_gt(n, 0);
    g_string_free(missing, TRUE);
}
END_TEST

START_TEST(test_events_named)
{
    for (guint i = 0; qmp_event_names[i]; i++) {
        const char *name = qmp_event_names[i];

        ck_assert(name[0] != '\0');
        for (const char *p = name; *p; p++) {
            ck_assert_msg(g_ascii_isupper(*p) || g_ascii_isdigit(*p) ||
                          *p == '_', "event name '%s' is not "
                          "UPPER_CASE", name);
        }
        for (guint j = 0; j < i; j++) {
            ck_assert_str_ne(qmp_event_names[j], name);
        }
    }
}
END_TEST

START_TEST(test_tables_parallel)
{
    guint i;

    for (i = 0; qmp_commands[i].name; i++) {
        ck_assert_str_eq(qmp_commands[i].name, qmp_command_info[i].name);
        ck_assert(qmp_command_info[i].args != NULL);
    }
    ck_assert(qmp_command_info[i].name == NULL);
}
END_TEST

static Suite *qapi_complete_suite(void)
{
    Suite *s = suite_create("qapi/complete");
    TCase *tc = tcase_create("tables");

    tcase_add_test(tc, test_commands_implemented);
    tcase_add_test(tc, test_events_named);
    tcase_add_test(tc, test_tables_parallel);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(qapi_complete_suite());
}
