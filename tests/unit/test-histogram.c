/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-histogram.c - util/histogram.c: bucket edges (inclusive
 * upper bounds, the +Inf bucket, negative durations), the cumulative QMP
 * form, quantiles as Prometheus' histogram_quantile() computes them, and a
 * writer thread observing while a reader snapshots (never a +Inf bucket
 * below a finite one, never a count that is not the sum of the buckets).
 * The bucket found by bit length (histogram_init()'s start table) is the
 * one a linear search from bucket 0 finds, at every bound and every power
 * of two and next to them, for the shipped bounds and random ones.
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

/* The specification: the first bucket whose (inclusive) bound is >= the
 * value, the +Inf bucket (n) if none. */
static unsigned ref_bucket(const uint64_t *b, unsigned n, int64_t us)
{
    uint64_t v = us > 0 ? (uint64_t) us : 0;
    unsigned i = 0;

    while (i < n && v > b[i]) {
        i++;
    }
    return i;
}

/* Observes 'us' alone and returns the bucket it went to. */
static unsigned observed_bucket(const uint64_t *b, unsigned n, int64_t us)
{
    Histogram h;
    unsigned found = n + 1;

    histogram_init(&h, b, n);
    histogram_observe(&h, us);
    for (unsigned i = 0; i <= n; i++) {
        if (h.buckets[i]) {
            ck_assert_uint_eq(found, n + 1);
            ck_assert_uint_eq(h.buckets[i], 1);
            found = i;
        }
    }
    ck_assert_uint_eq(h.count, 1);
    return found;
}

static void check_value(const uint64_t *b, unsigned n, int64_t us)
{
    unsigned want = ref_bucket(b, n, us), got = observed_bucket(b, n, us);

    if (got != want) {
        ck_abort_msg("%" G_GINT64_FORMAT " us: bucket %u, expected %u "
                     "(%u bounds)", us, got, want, n);
    }
}

/* Every bound and every power of two, and their neighbours. */
static void check_all_edges(const uint64_t *b, unsigned n)
{
    static const int64_t extremes[] = { G_MININT64, -1, 0, 1, G_MAXINT64 };

    for (unsigned i = 0; i < G_N_ELEMENTS(extremes); i++) {
        check_value(b, n, extremes[i]);
    }
    for (unsigned i = 0; i < n; i++) {
        for (int64_t d = -1; d <= 1; d++) {
            check_value(b, n, (int64_t) b[i] + d);
        }
    }
    for (unsigned k = 0; k < 63; k++) {
        for (int64_t d = -1; d <= 1; d++) {
            check_value(b, n, (int64_t) (UINT64_C(1) << k) + d);
        }
    }
}

START_TEST(test_bucket_by_bit_length)
{
    GRand *rng = g_rand_new_with_seed(13);
    uint64_t b[HISTOGRAM_MAX_BUCKETS];

    check_all_edges(histogram_hold_bounds_us, histogram_hold_n);
    check_all_edges(histogram_checkpoint_bounds_us, histogram_checkpoint_n);
    check_all_edges(bounds, G_N_ELEMENTS(bounds));
    check_all_edges(bounds, 0);
    /* Random ascending bounds, close together (many in one power of two)
     * or far apart, equal ones included, then random values. */
    for (int iter = 0; iter < 2000; iter++) {
        unsigned n = g_rand_int_range(rng, 0, HISTOGRAM_MAX_BUCKETS + 1);
        unsigned shift = g_rand_int_range(rng, 0, 60);
        uint64_t v = 0;

        for (unsigned i = 0; i < n; i++) {
            v += (uint64_t) g_rand_int_range(rng, 0, 4) << shift;
            v += g_rand_int_range(rng, 0, 3);
            b[i] = v;
        }
        check_all_edges(b, n);
        for (int j = 0; j < 50; j++) {
            check_value(b, n, (int64_t) (((uint64_t) g_rand_int(rng) << 32
                                          | g_rand_int(rng))
                                         >> g_rand_int_range(rng, 0, 64)));
        }
    }
    g_rand_free(rng);
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
    tcase_add_test(tc, test_bucket_by_bit_length);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(histogram_suite());
}
