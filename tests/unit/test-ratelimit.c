/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-ratelimit.c - util/log.c: RateLimit windows and the
 * suppressed count, log_warn_rl() output through the log writer, and
 * log_init() with a -D file.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-main.h"
#include "util/log.h"
#include "util/error.h"

START_TEST(test_burst)
{
    RateLimit rl = RATE_LIMIT_INIT(3, 100000);
    uint64_t sup = 99;

    for (int i = 0; i < 3; i++) {
        ck_assert(ratelimit_allow(&rl, &sup));
        ck_assert_uint_eq(sup, 0);
    }
    for (int i = 0; i < 10; i++) {
        ck_assert(!ratelimit_allow(&rl, &sup));
    }
    ck_assert_uint_eq(rl.suppressed, 10);
}
END_TEST

START_TEST(test_window)
{
    RateLimit rl = RATE_LIMIT_INIT(2, 50);
    uint64_t sup = 0;

    ck_assert(ratelimit_allow(&rl, &sup));
    ck_assert(ratelimit_allow(&rl, &sup));
    ck_assert(!ratelimit_allow(&rl, &sup));
    ck_assert(!ratelimit_allow(&rl, NULL));
    ck_assert(!ratelimit_allow(&rl, &sup));
    g_usleep(80 * 1000);
    ck_assert(ratelimit_allow(&rl, &sup));
    ck_assert_uint_eq(sup, 3);
    ck_assert_uint_eq(rl.suppressed, 0);
    ck_assert(ratelimit_allow(&rl, &sup));
    ck_assert_uint_eq(sup, 0);
    ck_assert(!ratelimit_allow(&rl, &sup));
}
END_TEST

START_TEST(test_zero_init_defaults)
{
    RateLimit rl = { 0 };
    int passed = 0;

    for (int i = 0; i < 100; i++) {
        passed += ratelimit_allow(&rl, NULL);
    }
    ck_assert_int_eq(passed, 5);         /* default burst */
}
END_TEST

START_TEST(test_warn_to_file)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    GError *err = NULL;
    int fd = g_file_open_tmp("colo-rl-XXXXXX", &path, NULL);
    RateLimit rl = RATE_LIMIT_INIT(2, 100);
    int lines = 0;

    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert(log_init(path, FALSE, NULL));
    for (int i = 0; i < 10; i++) {
        log_warn_rl(&rl, "flood %d", i);
    }
    g_usleep(150 * 1000);
    log_warn_rl(&rl, "after");
    for (int i = 0; i < 10; i++) {
        LOG_WARN_RL("macro %d", i);
    }
    g_debug("hidden debug");
    g_message("a message");
    ck_assert(log_init(NULL, FALSE, NULL));   /* closes the file */
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    unlink(path);

    ck_assert_ptr_nonnull(strstr(text, "colo-util: warning: flood 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "colo-util: warning: flood 1\n"));
    ck_assert_ptr_null(strstr(text, "flood 2"));
    ck_assert_ptr_nonnull(strstr(text, "colo-util: warning: after (8 similar "
                                       "messages suppressed)\n"));
    ck_assert_ptr_nonnull(strstr(text, "test: warning: macro 4\n"));
    ck_assert_ptr_null(strstr(text, "macro 5"));
    ck_assert_ptr_null(strstr(text, "hidden debug"));
    ck_assert_ptr_nonnull(strstr(text, "test: message: a message\n"));
    for (char *p = text; *p; p++) {
        lines += *p == '\n';
    }
    ck_assert_int_eq(lines, 2 + 1 + 5 + 1);
    /* a timestamp starts each line: 2026-11-22T16:08:00.123Z */
    ck_assert(g_ascii_isdigit(text[0]));
    ck_assert_int_eq(text[10], 'T');
    ck_assert_int_eq(text[23], 'Z');

    ck_assert(!log_init("/nonexistent-dir/x.log", FALSE, &err));
    ck_assert(g_error_matches(err, UTIL_ERROR, UTIL_ERROR_GENERIC));
    g_error_free(err);
}
END_TEST

START_TEST(test_debug_enabled)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    int fd = g_file_open_tmp("colo-rl-XXXXXX", &path, NULL);

    close(fd);
    g_unsetenv("G_MESSAGES_DEBUG");
    ck_assert(log_init(path, TRUE, NULL));
    g_debug("shown debug");
    ck_assert(log_init(NULL, FALSE, NULL));
    ck_assert(g_file_get_contents(path, &text, NULL, NULL));
    unlink(path);
    ck_assert_ptr_nonnull(strstr(text, "test: debug: shown debug\n"));
}
END_TEST

START_TEST(test_error_class)
{
    GError *e = g_error_new(UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND, "x");
    GError *g = g_error_new(G_FILE_ERROR, 0, "y");

    ck_assert_str_eq(util_error_class(e), "DeviceNotFound");
    ck_assert_str_eq(util_error_class(g), "GenericError");
    ck_assert_str_eq(util_error_class(NULL), "GenericError");
    e->code = UTIL_ERROR_COMMAND_NOT_FOUND;
    ck_assert_str_eq(util_error_class(e), "CommandNotFound");
    e->code = UTIL_ERROR_DEVICE_NOT_ACTIVE;
    ck_assert_str_eq(util_error_class(e), "DeviceNotActive");
    e->code = UTIL_ERROR_GENERIC;
    ck_assert_str_eq(util_error_class(e), "GenericError");
    g_error_free(e);
    g_error_free(g);
}
END_TEST

static Suite *ratelimit_suite(void)
{
    Suite *s = suite_create("util/log");
    TCase *tc = tcase_create("ratelimit");

    tcase_add_test(tc, test_burst);
    tcase_add_test(tc, test_window);
    tcase_add_test(tc, test_zero_init_defaults);
    tcase_add_test(tc, test_warn_to_file);
    tcase_add_test(tc, test_debug_enabled);
    tcase_add_test(tc, test_error_class);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(ratelimit_suite());
}
