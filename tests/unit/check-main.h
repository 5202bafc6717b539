/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/check-main.h - the end of every unit test's main(): runs a
 * Check suite (each test in a child process unless CK_FORK=no, for
 * debugging) and turns its failures into the exit status.
 */
#ifndef TESTS_UNIT_CHECK_MAIN_H
#define TESTS_UNIT_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int check_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* TESTS_UNIT_CHECK_MAIN_H */
