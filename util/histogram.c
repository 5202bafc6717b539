/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/histogram.c - fixed-bucket histograms (include/util/histogram.h).
 */
#include <string.h>
#include "util/histogram.h"
#include "util/stats.h"

/* Release on a quiet link is a few tens of microseconds; a held frame
 * waits for its secondary (about the guests' difference) or, at worst,
 * for compare_timeout (3 s) and a checkpoint. */
const uint64_t histogram_hold_bounds_us[] = {
    50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
};
const unsigned histogram_hold_n = G_N_ELEMENTS(histogram_hold_bounds_us);

/* A checkpoint is a VM stop, a RAM delta and a resume: milliseconds to
 * seconds; the frame times one out after 'timeout' (default 10 s). */
const uint64_t histogram_checkpoint_bounds_us[] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};
const unsigned histogram_checkpoint_n =
    G_N_ELEMENTS(histogram_checkpoint_bounds_us);

G_STATIC_ASSERT(G_N_ELEMENTS(histogram_hold_bounds_us)
                <= HISTOGRAM_MAX_BUCKETS);
G_STATIC_ASSERT(G_N_ELEMENTS(histogram_checkpoint_bounds_us)
                <= HISTOGRAM_MAX_BUCKETS);

G_STATIC_ASSERT(HISTOGRAM_MAX_BUCKETS <= UINT8_MAX);

/* 0 for 0, else 1 + the index of the highest bit set. */
static inline unsigned bit_length(uint64_t v)
{
    return v ? 64u - (unsigned) __builtin_clzll(v) : 0u;
}

void histogram_init(Histogram *h, const uint64_t *bounds_us, unsigned n)
{
    unsigned i = 0;

    g_assert(n <= HISTOGRAM_MAX_BUCKETS);
    memset(h, 0, sizeof(*h));
    h->bounds_us = bounds_us;
    h->n = n;
    /* Every bound before start[b] is below 2^(b-1), so below every value
     * of bit length b: the search for such a value may begin there, and
     * finds the bucket a search from 0 would (the first whose bound is >=
     * the value, whatever the bounds' order). */
    for (unsigned b = 0; b < G_N_ELEMENTS(h->start); b++) {
        uint64_t low = b ? UINT64_C(1) << (b - 1) : 0;

        while (i < n && bounds_us[i] < low) {
            i++;
        }
        h->start[b] = (uint8_t) i;
    }
}

void histogram_observe(Histogram *h, int64_t us)
{
    uint64_t v = us > 0 ? (uint64_t) us : 0;
    unsigned i = h->start[bit_length(v)];

    /* From the first bucket that can hold a value of this many bits: with
     * bounds a factor of 2 or more apart (the hold and checkpoint bounds
     * are 2-2.5 apart) at most one compare fails before the bucket is
     * found.  The linear search from bucket 0 it replaces took 94
     * instructions per released frame at 512 B (callgrind). */
    while (i < h->n && v > h->bounds_us[i]) {
        i++;
    }
    /* bucket before count: a reader never sees more counted than bucketed
     * (histogram_snapshot() fixes the other tear) */
    stats_inc(&h->buckets[i]);
    stats_add(&h->sum_us, v);
    stats_inc(&h->count);
}

void histogram_snapshot(const Histogram *h, Histogram *out)
{
    uint64_t total = 0;

    out->bounds_us = h->bounds_us;
    out->n = h->n;
    for (unsigned i = 0; i <= h->n; i++) {
        out->buckets[i] = stats_read(&h->buckets[i]);
        total += out->buckets[i];
    }
    out->sum_us = stats_read(&h->sum_us);
    out->count = total;
}

JsonObject *histogram_to_json(const Histogram *snap)
{
    JsonObject *o = json_object_new();
    JsonArray *a = json_array_new();
    uint64_t cum = 0;

    for (unsigned i = 0; i < snap->n; i++) {
        JsonObject *b = json_object_new();

        cum += snap->buckets[i];
        json_object_set_int_member(b, "le-us", (gint64) snap->bounds_us[i]);
        json_object_set_int_member(b, "count", (gint64) cum);
        json_array_add_object_element(a, b);
    }
    json_object_set_int_member(o, "count", (gint64) snap->count);
    json_object_set_int_member(o, "sum-us", (gint64) snap->sum_us);
    json_object_set_array_member(o, "buckets", a);
    return o;
}

double histogram_quantile_us(const Histogram *snap, double q)
{
    double rank, lo = 0, cum = 0;

    if (!snap->count) {
        return 0;
    }
    rank = q * (double) snap->count;
    for (unsigned i = 0; i < snap->n; i++) {
        double next = cum + (double) snap->buckets[i];

        if (next >= rank && snap->buckets[i]) {
            return lo + ((double) snap->bounds_us[i] - lo)
                        * (rank - cum) / (double) snap->buckets[i];
        }
        cum = next;
        lo = (double) snap->bounds_us[i];
    }
    return snap->n ? (double) snap->bounds_us[snap->n - 1] : 0;
}
