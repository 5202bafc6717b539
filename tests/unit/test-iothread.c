/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-iothread.c - qom/iothread.c: the iothread object starts
 * a thread on complete, runs work on its own context (run_sync and sources
 * attached to the context), accepts QEMU's tuning properties, refuses
 * deletion while in use, and joins its thread on delete.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "qom/iothread.h"
#include "util/lifeline.h"
#include "util/error.h"

static UserObject *make(const char *opts)
{
    g_autoptr(GError) err = NULL;
    UserObject *o = user_object_create_from_opts(OBJECT_KIND_OBJECT, opts,
                                                 NULL, &err);

    ck_assert_msg(o != NULL, "%s: %s", opts, err ? err->message : "?");
    return o;
}

typedef struct Probe {
    GThread *thread;          /* where the work ran */
    GMainContext *thread_default;
    gboolean owner;           /* owned the iothread context */
    GMainContext *ctx;        /* the iothread context */
    int runs;
} Probe;

static gboolean probe_fn(gpointer opaque)
{
    Probe *p = opaque;

    p->thread = g_thread_self();
    p->thread_default = g_main_context_get_thread_default();
    p->owner = g_main_context_is_owner(p->ctx);
    p->runs++;
    return G_SOURCE_REMOVE;
}

START_TEST(test_run_sync)
{
    IOThread *iot = IO_THREAD(make("iothread,id=io0"));
    Probe p = { .ctx = iothread_get_context(IO_THREAD(iot)) };

    ck_assert_ptr_nonnull(p.ctx);
    ck_assert_ptr_ne(p.ctx, main_context());
    ck_assert_ptr_eq(main_context(), g_main_context_default());
    for (int i = 0; i < 100; i++) {
        iothread_run_sync(iot, probe_fn, &p);
    }
    ck_assert_int_eq(p.runs, 100);
    ck_assert_ptr_ne(p.thread, g_thread_self());
    ck_assert_ptr_eq(p.thread_default, p.ctx);
    ck_assert(p.owner);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "io0", NULL));
}
END_TEST

/* An object's own iothread (colo-compare without iothread=): running,
 * polling as asked, not in the registry; the owner's unref joins it. */
START_TEST(test_internal)
{
    g_autoptr(GError) err = NULL;
    IOThread *iot = iothread_new_internal("test-internal", 0, &err);
    Probe p = { 0 };
    IOThreadInfo info;
    GList *objs;

    ck_assert_msg(iot != NULL, "%s", err ? err->message : "?");
    p.ctx = iothread_get_context(iot);
    iothread_run_sync(iot, probe_fn, &p);
    ck_assert_int_eq(p.runs, 1);
    ck_assert_ptr_ne(p.thread, g_thread_self());
    ck_assert_ptr_eq(p.thread_default, p.ctx);
    iothread_get_info(iot, &info);
    ck_assert_int_gt(info.thread_id, 0);
    ck_assert_int_eq(info.poll_max_ns, 0);
    objs = user_object_list(OBJECT_KIND_OBJECT);
    ck_assert_ptr_null(g_list_find(objs, iot));
    g_list_free(objs);
    g_object_unref(iot);
}
END_TEST

typedef struct TimerProbe {
    GMutex lock;
    GCond cond;
    int fired;
} TimerProbe;

static gboolean timer_cb(gpointer opaque)
{
    TimerProbe *t = opaque;

    g_mutex_lock(&t->lock);
    t->fired++;
    g_cond_signal(&t->cond);
    g_mutex_unlock(&t->lock);
    return t->fired < 3 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

START_TEST(test_sources_run_in_thread)
{
    IOThread *iot = IO_THREAD(make("iothread,id=io1"));
    TimerProbe t = { 0 };
    GSource *src = g_timeout_source_new(5);
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    g_mutex_init(&t.lock);
    g_cond_init(&t.cond);
    g_source_set_callback(src, timer_cb, &t, NULL);
    g_source_attach(src, iothread_get_context(iot));
    g_source_unref(src);
    g_mutex_lock(&t.lock);
    while (t.fired < 3) {
        ck_assert(g_cond_wait_until(&t.cond, &t.lock, deadline));
    }
    g_mutex_unlock(&t.lock);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "io1", NULL));
}
END_TEST

START_TEST(test_properties)
{
    UserObject *o = make("iothread,id=io2,poll-max-ns=0,poll-grow=2,"
                         "poll-shrink=3,aio-max-batch=16");
    g_autofree char *a = user_object_get_str(o, "poll-max-ns", NULL);
    g_autofree char *b = user_object_get_str(o, "aio-max-batch", NULL);
    g_autofree char *c = user_object_get_str(o, "thread-pool-max", NULL);
    g_autofree char *help = object_type_help_text(OBJECT_KIND_OBJECT,
                                                  "iothread", NULL);
    GError *err = NULL;

    ck_assert_str_eq(a, "0");
    ck_assert_str_eq(b, "16");
    ck_assert_str_eq(c, "64");
    /* runtime-settable, as in QEMU */
    ck_assert(user_object_set_str(o, "poll-max-ns", "1000", &err));
    ck_assert(!user_object_set_str(o, "poll-grow", "-1", &err));
    ck_assert_ptr_nonnull(strstr(err->message, "'poll-grow'"));
    g_clear_error(&err);
    ck_assert(g_str_has_prefix(help, "iothread options:\n"));
    ck_assert_ptr_nonnull(strstr(help, "  poll-max-ns=<int64>"));
    ck_assert_ptr_nonnull(strstr(help, "(default: 32768)"));

    ck_assert_ptr_null(user_object_create_from_opts(
        OBJECT_KIND_OBJECT, "iothread,id=io3,poll-max-ns=-5", NULL, &err));
    g_clear_error(&err);
    ck_assert_ptr_null(user_object_create_from_opts(
        OBJECT_KIND_OBJECT, "iothread,id=io3,thread-pool-min=8,"
        "thread-pool-max=4", NULL, &err));
    ck_assert_ptr_nonnull(strstr(err->message, "thread-pool-min"));
    g_clear_error(&err);
    ck_assert_ptr_null(user_object_find(OBJECT_KIND_OBJECT, "io3"));
}
END_TEST

START_TEST(test_in_use)
{
    UserObject *o = make("iothread,id=io4");
    GError *err = NULL;

    user_object_ref_use(o, "comp0");
    ck_assert(!user_object_delete(OBJECT_KIND_OBJECT, "io4", &err));
    ck_assert_str_eq(err->message, "object 'io4' is in use by 'comp0'");
    g_clear_error(&err);
    user_object_unref_use(o, "comp0");
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "io4", &err));
}
END_TEST

START_TEST(test_many_and_delete_all)
{
    for (int i = 0; i < 8; i++) {
        g_autofree char *opts = g_strdup_printf("iothread,id=t%d", i);
        make(opts);
    }
    user_object_delete_all();
    ck_assert_ptr_null(user_object_list(OBJECT_KIND_OBJECT));
}
END_TEST

START_TEST(test_unfinished_object)
{
    /* An iothread never completed: run_sync runs inline, finalize copes. */
    IOThread *iot = g_object_new(TYPE_IOTHREAD, NULL);
    Probe p = { 0 };

    ck_assert_ptr_null(iothread_get_context(iot));
    iothread_run_sync(iot, probe_fn, &p);
    ck_assert_int_eq(p.runs, 1);
    ck_assert_ptr_eq(p.thread, g_thread_self());
    g_object_unref(iot);
}
END_TEST

/* --- lifeline: calls that never reach a torn-down owner ------------- */

typedef struct LlProbe {
    gint ran;                 /* fn calls (atomic) */
    gint done;                /* done calls (atomic) */
    GThread *done_thread;
} LlProbe;

static gboolean ll_fn(gpointer opaque)
{
    g_atomic_int_inc(&((LlProbe *)opaque)->ran);
    return G_SOURCE_REMOVE;
}

static void ll_done(gpointer opaque)
{
    LlProbe *p = opaque;

    p->done_thread = g_thread_self();
    g_atomic_int_inc(&p->done);
}

/* Holds the iothread in one default-priority callback for a while, so
 * that what is queued behind it waits. */
static gboolean ll_block(gpointer opaque)
{
    (void) opaque;
    g_usleep(100 * 1000);
    return G_SOURCE_REMOVE;
}

static void wait_done(LlProbe *p, int n)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

    while (g_atomic_int_get(&p->done) < n) {
        ck_assert(g_get_monotonic_time() < deadline);
        g_usleep(1000);
    }
}

/* The bug of issue 19 in miniature: a call queued at default priority,
 * then the owner's teardown barrier at high priority.  Without the
 * lifeline the call ran after the barrier, on a torn-down owner. */
START_TEST(test_lifeline_cut_skips_queued)
{
    IOThread *iot = IO_THREAD(make("iothread,id=ll0"));
    GMainContext *ctx = iothread_get_context(iot);
    Lifeline *ll = lifeline_new(ctx);
    LlProbe p = { 0 };

    g_main_context_invoke_full(ctx, G_PRIORITY_DEFAULT, ll_block, NULL,
                               NULL);
    g_usleep(10 * 1000);                 /* the iothread is in ll_block */
    for (int i = 0; i < 10; i++) {
        lifeline_invoke(ll, G_PRIORITY_DEFAULT, ll_fn, &p, ll_done);
    }
    lifeline_cut(ll);                    /* waits past ll_block */
    ck_assert(lifeline_is_cut(ll));
    lifeline_unref(ll);                  /* the calls hold their own */
    wait_done(&p, 10);
    ck_assert_int_eq(g_atomic_int_get(&p.ran), 0);
    /* after the cut an invoke is answered at once, fn never runs */
    ll = lifeline_new(ctx);
    lifeline_cut(ll);
    lifeline_invoke(ll, G_PRIORITY_DEFAULT, ll_fn, &p, ll_done);
    ck_assert_int_eq(g_atomic_int_get(&p.done), 11);
    lifeline_unref(ll);
    ck_assert_int_eq(g_atomic_int_get(&p.ran), 0);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "ll0", NULL));
}
END_TEST

START_TEST(test_lifeline_runs_in_home)
{
    IOThread *iot = IO_THREAD(make("iothread,id=ll1"));
    GMainContext *ctx = iothread_get_context(iot);
    Lifeline *ll = lifeline_new(ctx);
    LlProbe p = { 0 };

    for (int i = 0; i < 100; i++) {
        lifeline_invoke(ll, i % 2 ? G_PRIORITY_HIGH : G_PRIORITY_LOW,
                        ll_fn, &p, ll_done);
    }
    wait_done(&p, 100);
    ck_assert_int_eq(g_atomic_int_get(&p.ran), 100);
    ck_assert_ptr_ne(p.done_thread, g_thread_self());
    lifeline_cut(ll);
    lifeline_cut(ll);                    /* idempotent */
    lifeline_unref(ll);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "ll1", NULL));
}
END_TEST

/* The home context goes away (iothread deleted) with calls queued:
 * each one's 'done' still runs, so nobody waits forever for it. */
START_TEST(test_lifeline_context_destroyed)
{
    IOThread *iot = IO_THREAD(make("iothread,id=ll2"));
    GMainContext *ctx = iothread_get_context(iot);
    Lifeline *ll = lifeline_new(ctx);
    LlProbe p = { 0 };

    g_object_ref(iot);
    g_main_context_invoke_full(ctx, G_PRIORITY_DEFAULT, ll_block, NULL,
                               NULL);
    g_usleep(10 * 1000);
    for (int i = 0; i < 5; i++) {
        lifeline_invoke(ll, G_PRIORITY_LOW, ll_fn, &p, ll_done);
    }
    /* the thread quits at high priority before the calls' turn */
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "ll2", NULL));
    g_object_unref(iot);                 /* destroys the context */
    ck_assert_int_eq(g_atomic_int_get(&p.done), 5);
    ck_assert_int_eq(g_atomic_int_get(&p.ran), 0);
    lifeline_unref(ll);
}
END_TEST

/* The calls of one lifeline at one priority go through its mailbox: from
 * several threads at once, each thread's calls run in the order it made
 * them, all in the home thread, and a call may queue another. */
typedef struct LlOrder {
    GMutex lock;
    int last[4];              /* per sender: the last sequence number run */
    gboolean in_order;
    GThread *home;
    gboolean wrong_thread;
    gint ran;                 /* atomic */
    Lifeline *ll;
    gboolean requeued;
} LlOrder;

typedef struct LlMsg {
    LlOrder *o;
    int sender, seq;
} LlMsg;

static gboolean ll_order_fn(gpointer opaque)
{
    LlMsg *m = opaque;
    LlOrder *o = m->o;

    g_mutex_lock(&o->lock);
    if (!o->home) {
        o->home = g_thread_self();
    }
    if (o->home != g_thread_self()) {
        o->wrong_thread = TRUE;
    }
    if (m->seq != o->last[m->sender] + 1) {
        o->in_order = FALSE;
    }
    o->last[m->sender] = m->seq;
    g_mutex_unlock(&o->lock);
    if (m->sender == 0 && m->seq == 1 && !o->requeued) {
        /* from inside a call: queued behind, never run re-entrantly */
        LlMsg *again = g_new(LlMsg, 1);

        o->requeued = TRUE;
        *again = (LlMsg) { .o = o, .sender = 3, .seq = 1 };
        lifeline_invoke(o->ll, G_PRIORITY_DEFAULT, ll_order_fn, again,
                        g_free);
    }
    g_atomic_int_inc(&o->ran);
    return G_SOURCE_REMOVE;
}

static gpointer ll_sender(gpointer opaque)
{
    LlMsg *proto = opaque;

    for (int i = 1; i <= 500; i++) {
        LlMsg *m = g_new(LlMsg, 1);

        *m = (LlMsg) { .o = proto->o, .sender = proto->sender, .seq = i };
        lifeline_invoke(proto->o->ll, G_PRIORITY_DEFAULT, ll_order_fn, m,
                        g_free);
    }
    return NULL;
}

START_TEST(test_lifeline_mailbox_order)
{
    IOThread *iot = IO_THREAD(make("iothread,id=ll3"));
    LlOrder o = { .in_order = TRUE };
    LlMsg senders[3];
    GThread *t[3];
    gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    g_mutex_init(&o.lock);
    o.ll = lifeline_new(iothread_get_context(iot));
    for (int i = 0; i < 3; i++) {
        senders[i] = (LlMsg) { .o = &o, .sender = i };
        t[i] = g_thread_new("ll-sender", ll_sender, &senders[i]);
    }
    for (int i = 0; i < 3; i++) {
        g_thread_join(t[i]);
    }
    while (g_atomic_int_get(&o.ran) < 3 * 500 + 1) {
        ck_assert(g_get_monotonic_time() < deadline);
        g_usleep(1000);
    }
    ck_assert(o.in_order);
    ck_assert(!o.wrong_thread);
    ck_assert_ptr_ne(o.home, g_thread_self());
    ck_assert_int_eq(o.last[3], 1);
    lifeline_cut(o.ll);
    lifeline_unref(o.ll);
    ck_assert(user_object_delete(OBJECT_KIND_OBJECT, "ll3", NULL));
    g_mutex_clear(&o.lock);
}
END_TEST

static Suite *iothread_suite(void)
{
    Suite *s = suite_create("util/iothread");
    TCase *tc = tcase_create("iothread");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_run_sync);
    tcase_add_test(tc, test_sources_run_in_thread);
    tcase_add_test(tc, test_internal);
    tcase_add_test(tc, test_properties);
    tcase_add_test(tc, test_in_use);
    tcase_add_test(tc, test_many_and_delete_all);
    tcase_add_test(tc, test_unfinished_object);
    tcase_add_test(tc, test_lifeline_cut_skips_queued);
    tcase_add_test(tc, test_lifeline_runs_in_home);
    tcase_add_test(tc, test_lifeline_context_destroyed);
    tcase_add_test(tc, test_lifeline_mailbox_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(iothread_suite());
}
