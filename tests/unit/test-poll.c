/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-poll.c - util/poll.c: the adaptive polling rule (QEMU's
 * AioContext semantics for poll-max-ns, poll-grow, poll-shrink) and a
 * context that really looks for events before it sleeps.
 */
#include <check.h>
#include <glib-unix.h>
#include <unistd.h>

#include "check-main.h"
#include "util/poll.h"

START_TEST(test_adjust_rule)
{
    /* off: never poll, whatever the history */
    ck_assert_int_eq(adaptive_poll_adjust(5000, 100, 0, 0, 0), 0);
    /* found while polling: keep */
    ck_assert_int_eq(adaptive_poll_adjust(8000, 7999, 32768, 0, 0), 8000);
    ck_assert_int_eq(adaptive_poll_adjust(8000, 8000, 32768, 0, 0), 8000);
    /* room to grow: from 0 to 4 us, then doubling (grow 0 = 2) */
    ck_assert_int_eq(adaptive_poll_adjust(0, 10000, 32768, 0, 0), 4000);
    ck_assert_int_eq(adaptive_poll_adjust(4000, 10000, 32768, 0, 0), 8000);
    ck_assert_int_eq(adaptive_poll_adjust(4000, 10000, 32768, 3, 0), 12000);
    /* growth stops at max_ns */
    ck_assert_int_eq(adaptive_poll_adjust(16000, 30000, 32768, 4, 0), 32768);
    ck_assert_int_eq(adaptive_poll_adjust(0, 2000, 3000, 0, 0), 3000);
    /* at max and still short: stay */
    ck_assert_int_eq(adaptive_poll_adjust(32768, 32768, 32768, 0, 0),
                     32768);
    /* could not have found it: shrink (0 = reset, N = divide) */
    ck_assert_int_eq(adaptive_poll_adjust(32768, 50000, 32768, 0, 0), 0);
    ck_assert_int_eq(adaptive_poll_adjust(32768, 50000, 32768, 0, 2),
                     16384);
    ck_assert_int_eq(adaptive_poll_adjust(32768, 50000, 32768, 0, 1),
                     32768);
    /* max_ns lowered at run time: clamped at once */
    ck_assert_int_eq(adaptive_poll_adjust(100000, 10, 20000, 0, 0), 20000);
    /* no overflow near the top of the range */
    ck_assert_int_eq(adaptive_poll_adjust(G_MAXINT64 / 2 + 1,
                                          G_MAXINT64 / 2 + 2,
                                          G_MAXINT64, 0, 0), G_MAXINT64);
}
END_TEST

typedef struct Writer {
    int fd;
    int count;
    gulong gap_us;
} Writer;

static gpointer writer_fn(gpointer opaque)
{
    Writer *w = opaque;

    for (int i = 0; i < w->count; i++) {
        g_usleep(w->gap_us);
        ck_assert_int_eq(write(w->fd, "x", 1), 1);
    }
    return NULL;
}

static gboolean read_cb(gint fd, GIOCondition cond, gpointer opaque)
{
    char c;
    int *got = opaque;

    (void) cond;
    if (read(fd, &c, 1) == 1) {
        (*got)++;
    }
    return G_SOURCE_CONTINUE;
}

/* Events 'gap_us' apart on a pipe, the context iterated with 'ap'. */
static void run_events(AdaptivePoll *ap, gulong gap_us, int count)
{
    GMainContext *ctx = g_main_context_new();
    int p[2];
    int got = 0;
    Writer w = { .count = count, .gap_us = gap_us };
    GSource *src;
    GThread *th;

    ck_assert_int_eq(pipe(p), 0);
    w.fd = p[1];
    src = g_unix_fd_source_new(p[0], G_IO_IN);
    g_source_set_callback(src, (GSourceFunc) (void (*)(void)) read_cb, &got,
                          NULL);
    g_source_attach(src, ctx);
    g_main_context_push_thread_default(ctx);
    adaptive_poll_enter(ctx, ap);
    th = g_thread_new("writer", writer_fn, &w);
    while (got < count) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_thread_join(th);
    adaptive_poll_leave(ctx);
    g_main_context_pop_thread_default(ctx);
    g_source_destroy(src);
    g_source_unref(src);
    g_main_context_unref(ctx);
    close(p[0]);
    close(p[1]);
}

START_TEST(test_polls_then_sleeps)
{
    /* Events 200 us apart with no limit (each wait still spins at most
     * POLL_SPIN_CAP_NS, without overflowing the deadline): after the first
     * few waits have grown the polling time, events are found while
     * polling. */
    AdaptivePoll busy = { .max_ns = G_MAXINT64 };
    /* Polling off: every wait sleeps. */
    AdaptivePoll off = { .max_ns = 0 };

    run_events(&busy, 200, 200);
    ck_assert_uint_ge(busy.waits, 200);
    ck_assert_msg(busy.found_polling >= 150, "found %" G_GUINT64_FORMAT
                  " of %" G_GUINT64_FORMAT " while polling",
                  busy.found_polling, busy.waits);
    ck_assert_int_gt(busy.ns, 0);

    run_events(&off, 200, 50);
    ck_assert_uint_eq(off.found_polling, 0);
    ck_assert_int_eq(off.ns, 0);
}
END_TEST

START_TEST(test_unbound_thread_polls_plainly)
{
    /* A context with the poll function installed, iterated by a thread
     * that has no binding: plain poll, nothing counted. */
    AdaptivePoll ap = { .max_ns = 1000000 };
    GMainContext *ctx = g_main_context_new();

    adaptive_poll_enter(ctx, &ap);
    adaptive_poll_leave(ctx);
    g_main_context_set_poll_func(ctx, g_main_context_get_poll_func(ctx));
    g_main_context_iteration(ctx, FALSE);
    ck_assert_uint_eq(ap.waits, 0);
    g_main_context_unref(ctx);
}
END_TEST

static Suite *poll_suite(void)
{
    Suite *s = suite_create("util/poll");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_adjust_rule);
    tcase_add_test(tc, test_polls_then_sleeps);
    tcase_add_test(tc, test_unbound_thread_polls_plainly);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(poll_suite());
}
