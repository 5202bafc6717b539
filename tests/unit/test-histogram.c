/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-histogram.c - util/histogram.c: bucket edges (inclusive
 * upper bounds, the +Inf bucket, negative durations), the cumulative QMP
 * form, quantiles as Prometheus' histogram_quantile() computes them, and a
 * writer thread observing while a reader snapshots (never a +Inf bucket
 * below a finite one, never a count that is not the sum of the buckets).
 */
#include <check.h>
#include <json-glib/json-glib.h>

#include "check-main.h"
#include "util/histogram.h"

static const uint64_t bounds[] = { 10, 100, 1000 };

START_TEST(test_edges)
{
    Histogram h, s;

    histogram_init(&h, bounds, 3);
    histogram_observe(&h, -5);      /* clock step: counts as 0 */
    histogram_observe(&h, 10);      /* le is inclusive */
    histogram_observe(&h, 11);
    histogram_observe(&h, 1000);
    histogram_observe(&h, 1001);    /* +Inf */
    histogram_snapshot(&h, &s);
    ck_assert_uint_eq(s.buckets[0], 2);
    ck_assert_uint_eq(s.buckets[1], 1);
    ck_assert_uint_eq(s.buckets[2], 1);
    ck_assert_uint_eq(s.buckets[3], 1);
    ck_assert_uint_eq(s.count, 5);
    ck_assert_uint_eq(s.sum_us, 0 + 10 + 11 + 1000 + 1001);
}
END_TEST

START_TEST(test_json_cumulative)
{
    Histogram h, s;
    JsonObject *o;
    JsonArray *b;

    histogram_init(&h, bounds, 3);
    for (int i = 0; i < 4; i++) {
        histogram_observe(&h, 50);
    }
    histogram_observe(&h, 5000);
    histogram_snapshot(&h, &s);
    o = histogram_to_json(&s);
    ck_assert_int_eq(json_object_get_int_member(o, "count"), 5);
    ck_assert_int_eq(json_object_get_int_member(o, "sum-us"), 5200);
    b = json_object_get_array_member(o, "buckets");
    ck_assert_uint_eq(json_array_get_length(b), 3);
    ck_assert_int_eq(json_object_get_int_member(
        json_array_get_object_element(b, 0), "count"), 0);
    ck_assert_int_eq(json_object_get_int_member(
        json_array_get_object_element(b, 1), "le-us"), 100);
    ck_assert_int_eq(json_object_get_int_member(
        json_array_get_object_element(b, 1), "count"), 4);
    ck_assert_int_eq(json_object_get_int_member(
        json_array_get_object_element(b, 2), "count"), 4);
    json_object_unref(o);
}
END_TEST

START_TEST(test_quantile)
{
    Histogram h, s;

    histogram_init(&h, bounds, 3);
    histogram_snapshot(&h, &s);
    ck_assert(histogram_quantile_us(&s, 0.5) == 0);
    /* 10 in (10, 100]: the median is interpolated to the middle */
    for (int i = 0; i < 10; i++) {
        histogram_observe(&h, 20);
    }
    histogram_snapshot(&h, &s);
    ck_assert(histogram_quantile_us(&s, 0.5) == 55);
    ck_assert(histogram_quantile_us(&s, 1.0) == 100);
    /* everything above the last bound: the last bound */
    histogram_init(&h, bounds, 3);
    histogram_observe(&h, 99999);
    histogram_snapshot(&h, &s);
    ck_assert(histogram_quantile_us(&s, 0.99) == 1000);
}
END_TEST

static gpointer writer(gpointer p)
{
    Histogram *h = p;

    for (int i = 0; i < 200000; i++) {
        histogram_observe(h, i % 2000);
    }
    return NULL;
}

START_TEST(test_reader_during_writes)
{
    static Histogram h;
    Histogram s;
    GThread *t;
    uint64_t last = 0;

    histogram_init(&h, histogram_hold_bounds_us, histogram_hold_n);
    t = g_thread_new("writer", writer, &h);
    for (int i = 0; i < 2000; i++) {
        uint64_t sum = 0;

        histogram_snapshot(&h, &s);
        for (unsigned b = 0; b <= s.n; b++) {
            sum += s.buckets[b];
        }
        ck_assert_uint_eq(sum, s.count);
        ck_assert_uint_ge(s.count, last);
        last = s.count;
    }
    g_thread_join(t);
    histogram_snapshot(&h, &s);
    ck_assert_uint_eq(s.count, 200000);
}
END_TEST

static Suite *histogram_suite(void)
{
    Suite *s = suite_create("util/histogram");
    TCase *tc = tcase_create("histogram");

    tcase_add_test(tc, test_edges);
    tcase_add_test(tc, test_json_cumulative);
    tcase_add_test(tc, test_quantile);
    tcase_add_test(tc, test_reader_during_writes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(histogram_suite());
}
