/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-fd-watch.c - util/fd-watch.c: several fds on one
 * FdSource with their own interest, an fd without interest out of the
 * poll set (a hung-up peer does not make the loop spin), pending work
 * without fd events, the source not blocked while it dispatches.
 */
#include <sys/socket.h>
#include <unistd.h>

#include "check-main.h"
#include "test-loop.h"
#include "util/fd-watch.h"

typedef struct Owner {
    GSource *src;
    int fd[2];
    gpointer tag[2];
    GIOCondition ev[2];
    GIOCondition got[2];
    unsigned dispatches;
    gboolean work;            /* pending() */
    unsigned work_done;
    gboolean blocked_seen;    /* the source was blocked in dispatch */
} Owner;

static void owner_dispatch(void *opaque, GSource *src)
{
    Owner *o = opaque;

    o->dispatches++;
    /* can_recurse: GLib did not block us (that would cost two wakeup
     * eventfd writes per dispatch). */
    if (!g_source_get_can_recurse(src)) {
        o->blocked_seen = TRUE;
    }
    for (int i = 0; i < 2; i++) {
        o->got[i] |= fd_source_revents(src, o->tag[i]);
    }
    if (o->work) {
        o->work = FALSE;
        o->work_done++;
    }
}

static gboolean owner_pending(void *opaque)
{
    return ((Owner *)opaque)->work;
}

static const FdSourceOps owner_ops = {
    .dispatch = owner_dispatch,
    .pending = owner_pending,
};

START_TEST(test_two_fds_and_pending)
{
    Owner o = { 0 };
    int a[2], b[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    o.fd[0] = a[0];
    o.fd[1] = b[0];
    o.src = fd_source_new(&owner_ops, &o, "test-fd-source");
    g_source_attach(o.src, NULL);
    fd_source_set_fd(o.src, &o.tag[0], &o.ev[0], o.fd[0], G_IO_IN);
    fd_source_set_fd(o.src, &o.tag[1], &o.ev[1], o.fd[1], G_IO_IN);
    ck_assert_ptr_nonnull(o.tag[0]);

    ck_assert_int_eq(write(b[1], "x", 1), 1);
    WAIT_FOR(o.got[1] & G_IO_IN, 2000);
    ck_assert_uint_eq(o.got[0], 0);
    ck_assert(!o.blocked_seen);

    /* Work without an fd event. */
    o.work = TRUE;
    WAIT_FOR(o.work_done == 1, 2000);

    /* No interest: out of the poll set, so a hang-up cannot spin us. */
    fd_source_set_fd(o.src, &o.tag[1], &o.ev[1], o.fd[1], 0);
    ck_assert_ptr_null(o.tag[1]);
    ck_assert_uint_eq(o.ev[1], 0);
    fd_source_set_fd(o.src, &o.tag[0], &o.ev[0], o.fd[0], 0);
    close(b[1]);
    close(a[1]);
    o.dispatches = 0;
    spin(50);
    ck_assert_uint_eq(o.dispatches, 0);

    /* Interest back: the hang-up is seen. */
    fd_source_set_fd(o.src, &o.tag[0], &o.ev[0], o.fd[0], G_IO_IN);
    o.got[0] = 0;
    WAIT_FOR(o.got[0] & (G_IO_IN | G_IO_HUP), 2000);

    fd_source_clear(&o.src);
    fd_source_clear(&o.src);        /* idempotent */
    ck_assert_ptr_null(o.src);
    close(a[0]);
    close(b[0]);
}
END_TEST

static void stop_cb(void *opaque, GIOCondition revents)
{
    FdWatch *w = opaque;

    fd_watch_stop(w);            /* from inside the callback */
}

START_TEST(test_watch_stop_in_callback)
{
    FdWatch w = { 0 };
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fd_watch_start(&w, sv[0], G_IO_IN, stop_cb, &w, "test");
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    WAIT_FOR(!fd_watch_active(&w), 2000);
    spin(20);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

typedef struct PendingOwner {
    int work;                 /* pending work items */
    int calls;                /* callbacks */
    GIOCondition last;        /* revents of the last one */
} PendingOwner;

static gboolean pending_cb(void *opaque)
{
    return ((PendingOwner *)opaque)->work > 0;
}

static void pending_fn(void *opaque, GIOCondition revents)
{
    PendingOwner *o = opaque;

    o->calls++;
    o->last = revents;
    if (o->work > 0) {
        o->work--;
    }
}

/* A watch with pending work runs its callback with revents 0 before the
 * loop sleeps, once per iteration while there is work, and not after. */
START_TEST(test_watch_pending)
{
    FdWatch w = { 0 };
    PendingOwner o = { .work = 2 };
    int sv[2];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fd_watch_start_full(&w, sv[0], G_IO_IN, pending_fn, pending_cb, &o,
                        "test");
    WAIT_FOR(o.work == 0, 2000);
    ck_assert_int_eq(o.calls, 2);
    ck_assert_int_eq(o.last, 0);
    spin(20);
    ck_assert_int_eq(o.calls, 2);
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    WAIT_FOR(o.calls >= 3, 2000);   /* level-triggered: maybe more */
    ck_assert(o.last & G_IO_IN);
    fd_watch_stop(&w);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

static Suite *fd_watch_suite(void)
{
    Suite *s = suite_create("util/fd-watch");
    TCase *tc = tcase_create("source");

    tcase_add_test(tc, test_two_fds_and_pending);
    tcase_add_test(tc, test_watch_stop_in_callback);
    tcase_add_test(tc, test_watch_pending);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(fd_watch_suite());
}
