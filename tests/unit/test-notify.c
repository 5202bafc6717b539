/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-notify.c - util/notify.c: order, removal (including a
 * notifier removing itself during notification), and removal of a notifier
 * that is on no list.
 */
#include <check.h>
#include <stdlib.h>

#include "check-main.h"
#include "util/notify.h"

typedef struct TestNotifier {
    Notifier n;
    GString *log;
    char tag;
    gboolean remove_self;
    NotifierList *list;
} TestNotifier;

static void test_notify_cb(Notifier *n, void *data)
{
    TestNotifier *t = (TestNotifier *)n;

    g_string_append_c(t->log, t->tag);
    g_string_append(t->log, data ? data : "");
    if (t->remove_self) {
        notifier_remove(t->list, n);
    }
}

static void tn_init(TestNotifier *t, GString *log, char tag,
                    NotifierList *list)
{
    *t = (TestNotifier){ .n.notify = test_notify_cb, .log = log, .tag = tag,
                         .list = list };
}

START_TEST(test_order)
{
    NotifierList list = NOTIFIER_LIST_INIT;
    g_autoptr(GString) log = g_string_new(NULL);
    TestNotifier a, b, c;

    tn_init(&a, log, 'a', &list);
    tn_init(&b, log, 'b', &list);
    tn_init(&c, log, 'c', &list);
    notifier_list_notify(&list, "x");
    ck_assert_str_eq(log->str, "");
    notifier_list_add(&list, &a.n);
    notifier_list_add(&list, &b.n);
    notifier_list_add(&list, &c.n);
    notifier_list_notify(&list, "1");
    ck_assert_str_eq(log->str, "a1b1c1");
}
END_TEST

START_TEST(test_remove)
{
    NotifierList list;
    g_autoptr(GString) log = g_string_new(NULL);
    TestNotifier a, b, c, d;

    notifier_list_init(&list);
    tn_init(&a, log, 'a', &list);
    tn_init(&b, log, 'b', &list);
    tn_init(&c, log, 'c', &list);
    tn_init(&d, log, 'd', &list);
    notifier_remove(&list, &d.n);            /* never added: no-op */
    notifier_list_add(&list, &a.n);
    notifier_list_add(&list, &b.n);
    notifier_list_add(&list, &c.n);
    notifier_remove(&list, &b.n);
    notifier_remove(&list, &b.n);            /* twice: no-op */
    notifier_list_notify(&list, NULL);
    ck_assert_str_eq(log->str, "ac");
    ck_assert_uint_eq(g_queue_get_length(&list.notifiers), 2);
    /* re-add after removal */
    notifier_list_add(&list, &b.n);
    g_string_truncate(log, 0);
    notifier_list_notify(&list, NULL);
    ck_assert_str_eq(log->str, "acb");
}
END_TEST

START_TEST(test_remove_self)
{
    NotifierList list = NOTIFIER_LIST_INIT;
    g_autoptr(GString) log = g_string_new(NULL);
    TestNotifier a, b, c;

    tn_init(&a, log, 'a', &list);
    tn_init(&b, log, 'b', &list);
    tn_init(&c, log, 'c', &list);
    b.remove_self = TRUE;
    c.remove_self = TRUE;
    notifier_list_add(&list, &a.n);
    notifier_list_add(&list, &b.n);
    notifier_list_add(&list, &c.n);
    notifier_list_notify(&list, NULL);
    ck_assert_str_eq(log->str, "abc");
    g_string_truncate(log, 0);
    notifier_list_notify(&list, NULL);
    ck_assert_str_eq(log->str, "a");
    ck_assert_uint_eq(g_queue_get_length(&list.notifiers), 1);
}
END_TEST

static Suite *notify_suite(void)
{
    Suite *s = suite_create("util/notify");
    TCase *tc = tcase_create("notify");

    tcase_add_test(tc, test_order);
    tcase_add_test(tc, test_remove);
    tcase_add_test(tc, test_remove_self);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(notify_suite());
}
