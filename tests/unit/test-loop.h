/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-loop.h - driving the default main context from a Check
 * test: wait for a condition with a deadline, or let time pass.
 */
#ifndef TESTS_UNIT_TEST_LOOP_H
#define TESTS_UNIT_TEST_LOOP_H

#include <check.h>
#include <glib.h>

static gboolean on_timeout(gpointer opaque)
{
    *(gboolean *)opaque = TRUE;
    return G_SOURCE_REMOVE;
}

/* Iterates the main context until 'cond' holds or 'ms' pass; fails the
 * test if it never holds. */
#define WAIT_FOR(cond, ms) do {                                         \
        gboolean to_ = FALSE;                                           \
        guint id_ = g_timeout_add((ms), on_timeout, &to_);              \
        while (!(cond) && !to_) {                                       \
            g_main_context_iteration(NULL, TRUE);                       \
        }                                                               \
        if (!to_) {                                                     \
            g_source_remove(id_);                                       \
        }                                                               \
        ck_assert_msg((cond), "timed out waiting for: %s", #cond);      \
    } while (0)

/* Iterates the main context for 'ms' milliseconds. */
static G_GNUC_UNUSED void spin(guint ms)
{
    gboolean to = FALSE;

    g_timeout_add(ms, on_timeout, &to);
    while (!to) {
        g_main_context_iteration(NULL, TRUE);
    }
}

#endif /* TESTS_UNIT_TEST_LOOP_H */
