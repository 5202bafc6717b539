/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/test-compare-storm.c - unit tests of the adaptive checkpoint
 * policy (net/compare-storm.c, include/net/compare-storm.h) driven
 * directly, with fake release and checkpoint callbacks and its events
 * caught by a QMP event sink:
 *
 *   - buffered_hold=diverged releases what compare mode releases, and a
 *     checkpoint is requested once the primary is quiet with output
 *     waiting, never while one is outstanding, and not sooner after a
 *     commit than buffered_duty allows;
 *   - buffered_hold=all holds every frame to the commit;
 *   - with a quiet time above the period, the period requests it;
 *   - auto_passthrough: the storm's flow becomes a rule and buffered mode
 *     ends at the next commit (reason passthrough-applied).
 *
 * A storm needs one full one-second window of miscompares, so each test
 * sleeps about a second.  The time bounds asserted are lower bounds (a
 * request not made before the policy allows it): a slow machine cannot
 * fail them.
 */
#include <check.h>
#include <string.h>

#include "check-main.h"
#include "net/compare-storm.h"
#include "util/qmp-handler.h"

#define CONN "udp 10.0.0.1:53 -> 10.0.0.2:4000"

typedef struct Fake {
    unsigned released;
    unsigned requests;
    CompareCkptReason last_reason;
    int last_storm_why;         /* ColoStormCkpt of the last storm request,
                                 * -1 for the engine's */
    char last_detail[128];
    int64_t last_request_us;
    ColoStorm *st;
} Fake;

static GPtrArray *events;       /* "NAME mode reason" / "NAME rule applied" */

static void sink(const char *name, JsonObject *data)
{
    if (!strcmp(name, "COLO_COMPARE_MODE")) {
        g_ptr_array_add(events, g_strdup_printf(
            "%s %s %s", name, json_object_get_string_member(data, "mode"),
            json_object_get_string_member(data, "reason")));
    } else if (!strcmp(name, "COLO_PASSTHROUGH_PROPOSED")) {
        g_ptr_array_add(events, g_strdup_printf(
            "%s %s %s", name, json_object_get_string_member(data, "rule"),
            json_object_get_boolean_member(data, "applied") ? "applied"
                                                              : "proposed"));
    }
    json_object_unref(data);
}

static void fake_release(void *opaque, const uint8_t *buf, uint32_t len,
                         uint32_t vnet_hdr_len)
{
    Fake *f = opaque;

    (void) buf;
    (void) len;
    (void) vnet_hdr_len;
    f->released++;
}

/* As net/colo-compare.c: a request the storm does not swallow goes to the
 * frame, and the storm notes it outstanding. */
static void fake_checkpoint(void *opaque, CompareCkptReason reason,
                            const char *detail)
{
    Fake *f = opaque;

    if (colo_storm_checkpoint_request(f->st, reason)) {
        return;
    }
    f->requests++;
    f->last_reason = reason;
    f->last_storm_why = -1;
    g_strlcpy(f->last_detail, detail, sizeof f->last_detail);
    f->last_request_us = g_get_monotonic_time();
}

/* As net/colo-compare.c: buffered mode's own requests go to the frame. */
static void fake_storm_checkpoint(void *opaque, ColoStormCkpt why,
                                  const char *detail)
{
    Fake *f = opaque;

    f->requests++;
    f->last_storm_why = (int) why;
    g_strlcpy(f->last_detail, detail, sizeof f->last_detail);
    f->last_request_us = g_get_monotonic_time();
}

static const ColoStormOps fake_ops = {
    .release = fake_release,
    .checkpoint = fake_storm_checkpoint,
};

static GMainContext *ctx;

static ColoStorm *storm_new(Fake *f, ColoStormConfig *cfg)
{
    if (!events) {
        events = g_ptr_array_new_with_free_func(g_free);
        qmp_event_set_sink(sink);
    }
    g_ptr_array_set_size(events, 0);
    memset(f, 0, sizeof *f);
    ctx = g_main_context_new();
    f->st = colo_storm_new("comp0", cfg, 8, &fake_ops, f);
    colo_storm_start(f->st, ctx);
    return f->st;
}

static void storm_free(ColoStorm *st)
{
    colo_storm_free(st);
    g_main_context_unref(ctx);
}

static ColoStormConfig config(void)
{
    return (ColoStormConfig) {
        .adaptive = true,
        .storm_rate = 5,
        .storm_busy = 100,
        .calm_rate = 0,
        .calm_time_ms = 600000,
        .period_ms = 100,
        .max_held = 1000,
        .quiet_ms = 2,
        .duty_pct = 50,
    };
}

static bool has_event(const char *text)
{
    for (guint i = 0; i < events->len; i++) {
        if (!strcmp(g_ptr_array_index(events, i), text)) {
            return true;
        }
    }
    return false;
}

/* Runs the context until the fake has seen 'n' requests or 'ms' passed. */
static void run_until_requests(Fake *f, unsigned n, unsigned ms)
{
    int64_t end = g_get_monotonic_time() + (int64_t) ms * 1000;

    while (f->requests < n && g_get_monotonic_time() < end) {
        g_main_context_iteration(ctx, FALSE);
        g_usleep(200);
    }
}

/* A storm: miscompares until the storm_rate-th starts it. */
static void start_storm(Fake *f, unsigned storm_rate)
{
    for (unsigned i = 1; i <= storm_rate; i++) {
        colo_storm_miscompare(f->st, CONN);
        ck_assert(colo_storm_buffered(f->st) == (i == storm_rate));
        /* the engine's request: through in compare mode, swallowed
         * from the storm on */
        fake_checkpoint(f, COMPARE_CKPT_MISCOMPARE, "miscompare");
    }
    ck_assert(has_event("COLO_COMPARE_MODE buffered miscompare-rate"));
}

/* A storm whose compare-mode checkpoint committed, and a divergence
 * since: output waits for buffered mode's first checkpoint. */
static void make_storm(Fake *f)
{
    start_storm(f, 5);
    colo_storm_checkpoint_commit(f->st);
    colo_storm_miscompare(f->st, CONN);
    ck_assert(colo_storm_buffered(f->st));
}

/* storm_rate miscompares in a window start the storm at once, not at the
 * window's end; fewer do not, however fast they come. */
START_TEST(test_storm_detected_early)
{
    Fake f;
    ColoStormConfig cfg = config();
    ColoStorm *st = storm_new(&f, &cfg);
    int64_t t0 = g_get_monotonic_time();

    for (unsigned i = 0; i + 1 < cfg.storm_rate; i++) {
        colo_storm_miscompare(st, CONN);
    }
    ck_assert(!colo_storm_buffered(st));
    colo_storm_miscompare(st, CONN);
    ck_assert(colo_storm_buffered(st));
    ck_assert_int_lt(g_get_monotonic_time() - t0, 500 * 1000);
    ck_assert(has_event("COLO_COMPARE_MODE buffered miscompare-rate"));
    storm_free(st);
}
END_TEST

START_TEST(test_hold_diverged_quiet_duty)
{
    Fake f;
    ColoStormConfig cfg = config();
    ColoStorm *st = storm_new(&f, &cfg);
    static const uint8_t frame[60];
    unsigned before;
    int64_t t_activity, t_commit, took;

    make_storm(&f);
    before = f.requests;
    /* the engine's miscompare request is swallowed */
    fake_checkpoint(&f, COMPARE_CKPT_MISCOMPARE, "miscompare");
    ck_assert_uint_eq(f.requests, before);

    /* a matched frame leaves at once: compare mode's rule */
    t_activity = g_get_monotonic_time();
    ck_assert(!colo_storm_release(st, frame, sizeof frame, 0));

    /* output waits (the miscompare): a checkpoint once the primary is
     * quiet for 2 ms */
    run_until_requests(&f, before + 1, 5000);
    ck_assert_uint_eq(f.requests, before + 1);
    ck_assert_int_eq(f.last_storm_why, COLO_STORM_CKPT_SCHEDULED);
    ck_assert_msg(strstr(f.last_detail, "quiet"), "%s", f.last_detail);
    ck_assert_int_ge(f.last_request_us - t_activity, 2000);

    /* outstanding: more miscompares ask for nothing */
    colo_storm_miscompare(st, CONN);
    run_until_requests(&f, before + 2, 30);
    ck_assert_uint_eq(f.requests, before + 1);

    /* the commit: the next request not before took * (100-50)/50 */
    g_usleep(20 * 1000);
    t_commit = g_get_monotonic_time();
    took = t_commit - f.last_request_us;
    colo_storm_checkpoint_commit(st);
    /* the miscompare above came after no begin: covered by this commit */
    colo_storm_miscompare(st, CONN);
    run_until_requests(&f, before + 2, 5000);
    ck_assert_uint_eq(f.requests, before + 2);
    ck_assert_int_ge(f.last_request_us - t_commit, took - 1000);

    ck_assert(colo_storm_buffered(st));
    storm_free(st);
}
END_TEST

START_TEST(test_hold_all)
{
    Fake f;
    ColoStormConfig cfg = config();
    ColoStorm *st;
    static const uint8_t frame[60];
    unsigned before;

    cfg.hold_all = true;
    st = storm_new(&f, &cfg);
    make_storm(&f);
    colo_storm_checkpoint_commit(st);   /* ends the storm's first episode */
    before = f.requests;
    ck_assert(colo_storm_release(st, frame, sizeof frame, 0));
    ck_assert(colo_storm_release(st, frame, sizeof frame, 0));
    ck_assert_uint_eq(f.released, 0);
    /* held frames alone ask for a checkpoint (no miscompare) */
    run_until_requests(&f, before + 1, 5000);
    ck_assert_uint_eq(f.requests, before + 1);
    /* begin covers the two; a third waits for the next checkpoint */
    colo_storm_checkpoint_begin(st);
    ck_assert(colo_storm_release(st, frame, sizeof frame, 0));
    colo_storm_checkpoint_commit(st);
    ck_assert_uint_eq(f.released, 2);
    colo_storm_flush(st);
    ck_assert_uint_eq(f.released, 3);
    storm_free(st);
}
END_TEST

START_TEST(test_period_bounds_wait)
{
    Fake f;
    ColoStormConfig cfg = config();
    ColoStorm *st;
    unsigned before;
    int64_t t0;

    cfg.quiet_ms = 60000;           /* never quiet enough: the period */
    cfg.duty_pct = 100;
    st = storm_new(&f, &cfg);
    make_storm(&f);
    colo_storm_checkpoint_commit(st);
    before = f.requests;
    t0 = g_get_monotonic_time();
    colo_storm_miscompare(st, CONN);
    run_until_requests(&f, before + 1, 5000);
    ck_assert_uint_eq(f.requests, before + 1);
    ck_assert_msg(strstr(f.last_detail, "periodic"), "%s", f.last_detail);
    ck_assert_int_ge(f.last_request_us - t0, 100 * 1000);
    storm_free(st);
}
END_TEST

START_TEST(test_auto_passthrough_leaves)
{
    Fake f;
    ColoStormConfig cfg = config();
    ColoStorm *st;

    cfg.auto_passthrough = true;
    st = storm_new(&f, &cfg);
    start_storm(&f, cfg.storm_rate);
    ck_assert(has_event("COLO_PASSTHROUGH_PROPOSED udp:10.0.0.1/32:53 "
                        "applied"));
    ck_assert_uint_eq(passthrough_table_count(colo_storm_rules(st)), 1);
    ck_assert(colo_storm_buffered(st));
    /* the storm's miscompares wait for one checkpoint, then compare mode */
    colo_storm_checkpoint_commit(st);
    ck_assert(!colo_storm_buffered(st));
    ck_assert(has_event("COLO_COMPARE_MODE compare passthrough-applied"));
    /* compare mode counts afresh: the storm's own miscompares do not
     * start the next storm at the next one */
    colo_storm_miscompare(st, CONN);
    ck_assert(!colo_storm_buffered(st));
    storm_free(st);
}
END_TEST

static Suite *storm_suite(void)
{
    Suite *s = suite_create("compare-storm");
    TCase *tc = tcase_create("policy");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_storm_detected_early);
    tcase_add_test(tc, test_hold_diverged_quiet_duty);
    tcase_add_test(tc, test_hold_all);
    tcase_add_test(tc, test_period_bounds_wait);
    tcase_add_test(tc, test_auto_passthrough_leaves);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(storm_suite());
}
