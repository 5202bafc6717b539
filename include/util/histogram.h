/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/histogram.h - fixed-bucket latency histograms readable over
 * QMP and Prometheus.
 *
 * A Histogram counts observations (durations in microseconds) into at
 * most HISTOGRAM_MAX_BUCKETS buckets whose upper bounds are fixed when it
 * is initialised, plus one overflow bucket (+Inf), and keeps their count
 * and sum.  It is the shape Prometheus' histograms have, so the exporter
 * maps it 1:1 (cumulative buckets, "le" in seconds).
 *
 * Threads: like the counters of util/stats.h.  A histogram has ONE
 * writer, the thread that owns the object it belongs to (colo-compare's
 * iothread for the hold time, the main thread for checkpoint durations):
 * histogram_observe() is a table look-up by the value's bit length, a
 * compare or two, and three relaxed atomic stores, no lock, no
 * read-modify-write.  Readers in
 * any thread take a histogram_snapshot() (relaxed loads): each field is
 * untorn, but a snapshot taken during an observation may have the bucket
 * bumped and not yet the count; histogram_snapshot() makes the snapshot
 * consistent (count = the sum of the buckets) so exposition never shows a
 * +Inf bucket below a finite one.
 */
#ifndef UTIL_HISTOGRAM_H
#define UTIL_HISTOGRAM_H

#include <stdint.h>
#include <json-glib/json-glib.h>

#define HISTOGRAM_MAX_BUCKETS 20

typedef struct Histogram {
    const uint64_t *bounds_us;   /* n ascending upper bounds (inclusive) */
    unsigned n;                  /* finite buckets, <= HISTOGRAM_MAX_BUCKETS */
    uint8_t start[65];           /* per bit length b of a value, the first
                                  * bucket that may hold it: the first
                                  * whose bound is >= 2^(b-1) (>= 0 for
                                  * b = 0); set by histogram_init() */
    uint64_t buckets[HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket, last +Inf */
    uint64_t count;
    uint64_t sum_us;
} Histogram;

/* Bounds for the time a primary frame is held by colo-compare
 * (50 us .. 10 s) and for a checkpoint's duration (1 ms .. 60 s). */
extern const uint64_t histogram_hold_bounds_us[];
extern const unsigned histogram_hold_n;
extern const uint64_t histogram_checkpoint_bounds_us[];
extern const unsigned histogram_checkpoint_n;

/* Zeroes 'h' and sets its 'n' bounds (static storage, ascending). */
void histogram_init(Histogram *h, const uint64_t *bounds_us, unsigned n);

/* Records one observation of 'us' microseconds (negative counts as 0).
 * The writer thread only. */
void histogram_observe(Histogram *h, int64_t us);

/* Copies 'h' into 'out' with relaxed loads (any thread), consistently
 * (see above). */
void histogram_snapshot(const Histogram *h, Histogram *out);

/* The QMP form of a snapshot (qapi/metrics.json 'Histogram'):
 * {"count", "sum-us", "buckets": [{"le-us": B, "count": CUMULATIVE}...]},
 * the +Inf bucket being "count".  New object. */
JsonObject *histogram_to_json(const Histogram *snap);

/* The value below which a fraction 'q' (0..1) of the observations fall,
 * interpolated linearly inside its bucket as Prometheus'
 * histogram_quantile() does; the last finite bound for the +Inf bucket,
 * 0 when empty. */
double histogram_quantile_us(const Histogram *snap, double q);

#endif /* UTIL_HISTOGRAM_H */
