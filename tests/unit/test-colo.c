/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-colo.c - colo/colo.c: what arrives while a broadcast is
 * still running is neither lost nor multiplied.
 *
 * The listener lives on a context of its own that the test iterates by
 * hand, so a broadcast stays in progress (its call queued there) for as
 * long as the test wants.
 */
#include <check.h>

#include "check-main.h"
#include "colo/colo.h"
#include "qom/object.h"

typedef struct Counter {
    ColoEventListener l;
    int checkpoints;
} Counter;

static void on_event(ColoEventListener *l, ColoEvent event)
{
    Counter *c = l->opaque;

    if (event == COLO_EVENT_CHECKPOINT) {
        c->checkpoints++;
    }
}

static void drain(GMainContext *ctx)
{
    while (g_main_context_iteration(ctx, FALSE)) {
        /* run everything ready */
    }
}

static void listen_on(Counter *c, GMainContext *ctx)
{
    c->l.fn = on_event;
    c->l.ctx = ctx;
    c->l.opaque = c;
    colo_hooks_add_listener(&c->l);
}

/* Unregisters 'c' and lets what its context still holds run. */
static void unlisten(Counter *c, GMainContext *ctx)
{
    colo_hooks_remove_listener(&c->l);
    drain(ctx);
    drain(NULL);
    g_main_context_unref(ctx);
}

/* Mode none: a request is answered by a release-only broadcast.  Requests
 * that come while it runs are answered by one more broadcast when it is
 * over (their frames may have been queued after the listener's part of
 * the first one); before, they were dropped and colo-compare had to ask
 * again at its next scan. */
START_TEST(test_mode_none_request_during_broadcast)
{
    GMainContext *other = g_main_context_new();
    Counter c = { 0 };

    ck_assert_int_eq(colo_get_mode(), COLO_MODE_NONE);
    listen_on(&c, other);
    colo_hooks_request_checkpoint("t", COLO_CKPT_TIMEOUT, NULL);
    drain(NULL);                    /* the broadcast starts */
    ck_assert_int_eq(c.checkpoints, 0);
    for (int i = 0; i < 5; i++) {
        colo_hooks_request_checkpoint("t", COLO_CKPT_QUEUE_FULL, NULL);
        drain(NULL);                /* ... while it runs */
    }
    drain(other);                   /* listener, then the one more */
    drain(NULL);
    drain(other);
    ck_assert_int_eq(c.checkpoints, 2);
    drain(NULL);
    drain(other);
    ck_assert_int_eq(c.checkpoints, 2);
    unlisten(&c, other);
}
END_TEST

/* Secondary: every x-colo-checkpoint-done broadcasts (the rewriter resets
 * its offsets), but however fast they come, one broadcast runs and at most
 * one more follows it. */
START_TEST(test_secondary_done_storm)
{
    GMainContext *other = g_main_context_new();
    Counter c = { 0 };
    GError *err = NULL;
    UserObject *f = user_object_create_from_opts(
        OBJECT_KIND_OBJECT, "colo-frame,id=f0,mode=secondary", NULL, &err);

    ck_assert_msg(f != NULL, "%s", err ? err->message : "?");
    ck_assert_int_eq(colo_get_mode(), COLO_MODE_SECONDARY);
    listen_on(&c, other);
    for (int i = 0; i < 100; i++) {
        colo_checkpoint_done(TRUE, NULL);
    }
    drain(NULL);
    drain(other);
    drain(NULL);
    drain(other);
    ck_assert_int_eq(c.checkpoints, 2);
    /* after the storm, one done is one broadcast again */
    colo_checkpoint_done(TRUE, NULL);
    drain(other);
    drain(NULL);
    drain(other);
    ck_assert_int_eq(c.checkpoints, 3);
    unlisten(&c, other);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "f0", NULL));
}
END_TEST

static Suite *colo_suite(void)
{
    Suite *s = suite_create("colo/colo");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_mode_none_request_during_broadcast);
    tcase_add_test(tc, test_secondary_done_storm);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(colo_suite());
}
