/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/compare-storm.c - passthrough and the adaptive checkpoint policy of
 * one colo-compare.  The contract is include/net/compare-storm.h; the
 * operator's story (defaults and why) is docs/storms.md.
 */
#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "net/compare-storm.h"
#include "util/log.h"
#include "util/qmp-handler.h"
#include "util/stats.h"

/* The miscompare and busy figures are taken over windows of this length:
 * long enough that one burst does not start a storm, short enough that a
 * storm is noticed after one second of it. */
#define STORM_WINDOW_US     (1000 * 1000)
/* Flows remembered for the proposal. */
#define STORM_FLOWS         16

typedef struct HeldFrame {
    uint32_t len;
    uint32_t vnet_hdr_len;
    uint8_t data[];
} HeldFrame;

typedef struct StormFlow {
    char rule[PASSTHROUGH_RULE_STRLEN];
    uint64_t count;
} StormFlow;

struct ColoStorm {
    char *id;
    char *frame;                /* the compare's frame=, named by its
                                 * events (NULL: unbound) */
    ColoStormConfig cfg;
    const ColoStormOps *ops;
    void *opaque;
    PassthroughTable *rules;
    GMainContext *ctx;          /* home context, once started */
    GSource *timer;             /* the period: housekeeping, retries */
    GSource *kick;              /* one shot: the next checkpoint is due */
    int64_t kick_at;

    bool buffered;
    GQueue held;                /* of HeldFrame *, in release order */
    guint covered;              /* the first 'covered' are in the state of
                                 * the checkpoint running now */
    bool begun;                 /* a checkpoint's begin was seen */
    bool releasing;             /* release_covered() is running */
    bool dirty;                 /* a miscompare since the last commit
                                 * (or begin): the engine holds output */
    bool leave;                 /* a rule was applied: back to compare
                                 * mode at the next commit */

    /* the checkpoint schedule of buffered mode */
    int64_t want_since;         /* output waits for a checkpoint since */
    int64_t last_activity;      /* the primary's last output */
    int64_t earliest;           /* no request before (duty bound) */

    /* detector */
    int64_t window_start;
    uint64_t window_mis;
    int64_t window_busy_us;
    int64_t ckpt_since;         /* a request outstanding since, or 0 */
    int64_t calm_since;         /* buffered and calm since, or 0 */
    uint64_t last_rate;         /* of the last complete window */
    uint64_t last_busy_pct;
    StormFlow flows[STORM_FLOWS];
    uint64_t flows_total;

    /* counters */
    uint64_t storms;            /* switches to buffered */
    uint64_t calms;             /* switches back */
    uint64_t held_max;
    uint64_t released_held;     /* frames released at a commit */
    uint64_t swallowed;         /* miscompare requests not made */
    uint64_t periodic;          /* checkpoints asked for by the period */
    uint64_t quiet;             /* ... because the primary went quiet */
    uint64_t over_limit;        /* immediate requests: max_held reached */
    uint64_t proposals;
    uint64_t applied;
};

ColoStorm *colo_storm_new(const char *id, const ColoStormConfig *cfg,
                          unsigned max_rules, const ColoStormOps *ops,
                          void *opaque)
{
    ColoStorm *st = g_new0(ColoStorm, 1);

    st->id = g_strdup(id);
    st->cfg = *cfg;
    st->ops = ops;
    st->opaque = opaque;
    st->rules = passthrough_table_new(max_rules);
    g_queue_init(&st->held);
    return st;
}

void colo_storm_set_frame(ColoStorm *st, const char *frame)
{
    g_free(st->frame);
    st->frame = frame && *frame ? g_strdup(frame) : NULL;
}

static void release_covered(ColoStorm *st, guint n)
{
    HeldFrame *f;

    st->releasing = true;
    while (n-- && (f = g_queue_pop_head(&st->held))) {
        stats_inc(&st->released_held);
        st->ops->release(st->opaque, f->data, f->len, f->vnet_hdr_len);
        g_free(f);
    }
    st->releasing = false;
    st->covered = 0;
}

void colo_storm_flush(ColoStorm *st)
{
    if (!st) {
        return;
    }
    release_covered(st, G_MAXUINT);
    st->buffered = false;
    st->calm_since = 0;
    st->leave = false;
    st->want_since = 0;
    /* compare mode measures afresh: a storm's miscompares (those of a
     * flow exempted since, say) must not start the next one */
    st->window_start = 0;
    st->window_mis = 0;
    st->window_busy_us = 0;
}

void colo_storm_free(ColoStorm *st)
{
    if (!st) {
        return;
    }
    colo_storm_stop(st);
    colo_storm_flush(st);
    passthrough_table_free(st->rules);
    g_free(st->id);
    g_free(st->frame);
    g_free(st);
}

PassthroughTable *colo_storm_rules(ColoStorm *st)
{
    return st->rules;
}

void colo_storm_set_config(ColoStorm *st, const ColoStormConfig *cfg)
{
    st->cfg = *cfg;
}

bool colo_storm_adaptive(const ColoStorm *st)
{
    return st && st->cfg.adaptive;
}

bool colo_storm_buffered(const ColoStorm *st)
{
    return st && st->buffered;
}

/* ------------------------------------------------------------------------ */
/* Passthrough.                                                               */

bool colo_storm_passthrough(ColoStorm *st, CompareSide side,
                            const PacketInfo *pi, uint32_t len)
{
    PassthroughRule *r = passthrough_table_match(st->rules, pi);

    if (!r) {
        return false;
    }
    if (side == COMPARE_PRIMARY) {
        r->primary_packets++;
        r->primary_bytes += len;
    } else {
        r->secondary_dropped++;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Events.                                                                    */

static void emit_mode(ColoStorm *st, const char *reason)
{
    JsonObject *d = json_object_new();

    json_object_set_string_member(d, "id", st->id);
    json_object_set_string_member(d, "mode",
                                  st->buffered ? "buffered" : "compare");
    json_object_set_string_member(d, "reason", reason);
    json_object_set_int_member(d, "miscompares-per-second",
                               (gint64) st->last_rate);
    json_object_set_int_member(d, "checkpoint-busy-percent",
                               (gint64) st->last_busy_pct);
    if (st->frame) {
        json_object_set_string_member(d, "frame", st->frame);
    }
    g_message("colo-compare '%s': %s mode: %s", st->id,
              st->buffered ? "buffered" : "compare", reason);
    qmp_event_emit("COLO_COMPARE_MODE", d);
}

/* "tcp 10.0.0.1:80 -> 10.0.0.2:5555" (the primary's frame: the source is
 * the guest) into the rule of the guest's end: "tcp:10.0.0.1/32:80". */
static bool conn_to_rule(const char *conn, char *rule)
{
    char proto[16], src[64];
    const char *sp, *arrow, *colon;
    size_t l;
    char text[PASSTHROUGH_RULE_STRLEN];
    PassthroughRule r;

    sp = strchr(conn, ' ');
    arrow = strstr(conn, " -> ");
    if (!sp || !arrow || (size_t) (sp - conn) >= sizeof proto) {
        return false;
    }
    memcpy(proto, conn, sp - conn);
    proto[sp - conn] = 0;
    if (!strcmp(proto, "icmpv6")) {
        strcpy(proto, "icmp");
    }
    l = arrow - (sp + 1);
    if (l >= sizeof src) {
        return false;
    }
    memcpy(src, sp + 1, l);
    src[l] = 0;
    colon = strrchr(src, ':');
    if (colon && (src[0] != '[' || colon > strchr(src, ']'))) {
        /* host:port */
        snprintf(text, sizeof text, "%s:%.*s/%d:%s", proto,
                 (int) (colon - src), src, src[0] == '[' ? 128 : 32,
                 colon + 1);
    } else {
        snprintf(text, sizeof text, "%s:%s/%d", proto, src,
                 src[0] == '[' ? 128 : 32);
    }
    if (!passthrough_rule_parse(text, &r, NULL)) {
        return false;
    }
    passthrough_rule_format(&r, rule);
    return true;
}

static void learn_flow(ColoStorm *st, const char *conn)
{
    char rule[PASSTHROUGH_RULE_STRLEN];
    StormFlow *least = &st->flows[0];

    if (!conn_to_rule(conn, rule)) {
        return;
    }
    st->flows_total++;
    for (int i = 0; i < STORM_FLOWS; i++) {
        StormFlow *f = &st->flows[i];

        if (f->count && !strcmp(f->rule, rule)) {
            f->count++;
            return;
        }
        if (f->count < least->count) {
            least = f;
        }
    }
    /* space-saving: the least counted slot is taken over */
    g_strlcpy(least->rule, rule, sizeof least->rule);
    least->count++;
}

static void propose(ColoStorm *st)
{
    StormFlow *top = NULL;
    JsonObject *d;
    PassthroughRule r;
    g_autoptr(GError) err = NULL;
    bool applied = false;

    for (int i = 0; i < STORM_FLOWS; i++) {
        if (st->flows[i].count && (!top || st->flows[i].count > top->count)) {
            top = &st->flows[i];
        }
    }
    /* one flow must explain at least half: a storm spread over many
     * services is no case for exempting one of them */
    if (!top || top->count * 2 < st->flows_total) {
        return;
    }
    st->proposals++;
    if (st->cfg.auto_passthrough && passthrough_rule_parse(top->rule, &r, NULL)
        && passthrough_table_add(st->rules, &r, &err)) {
        applied = true;
        st->applied++;
        /* the storm's cause is exempt now: buffered mode has nothing
         * left to save, so it ends at the next commit; if the storm goes
         * on without that flow, the next window starts it again */
        st->leave = true;
    }
    d = json_object_new();
    json_object_set_string_member(d, "id", st->id);
    json_object_set_string_member(d, "rule", top->rule);
    json_object_set_int_member(d, "miscompares", (gint64) top->count);
    json_object_set_int_member(d, "miscompares-total",
                               (gint64) st->flows_total);
    json_object_set_boolean_member(d, "applied", applied);
    if (err) {
        json_object_set_string_member(d, "error", err->message);
    }
    if (st->frame) {
        json_object_set_string_member(d, "frame", st->frame);
    }
    qmp_event_emit("COLO_PASSTHROUGH_PROPOSED", d);
}

/* ------------------------------------------------------------------------ */
/* The detector.                                                              */

static void enter_buffered(ColoStorm *st, const char *why)
{
    st->buffered = true;
    st->storms++;
    st->calm_since = 0;
    emit_mode(st, why);
    propose(st);
}

static void window_roll(ColoStorm *st, int64_t now)
{
    int64_t len;

    if (!st->window_start) {
        st->window_start = now;
        return;
    }
    len = now - st->window_start;
    if (len < STORM_WINDOW_US) {
        return;
    }
    if (st->ckpt_since) {
        st->window_busy_us += now - MAX(st->ckpt_since, st->window_start);
        st->ckpt_since = now;
    }
    st->last_rate = st->window_mis * 1000000 / (uint64_t) len;
    st->last_busy_pct = (uint64_t) MIN(st->window_busy_us, len) * 100
                        / (uint64_t) len;
    st->window_start = now;
    st->window_mis = 0;
    st->window_busy_us = 0;

    if (!st->cfg.adaptive) {
        return;
    }
    if (!st->buffered) {
        const char *why = NULL;

        if (st->last_rate >= st->cfg.storm_rate) {
            why = "miscompare-rate";
        } else if (st->last_busy_pct >= st->cfg.storm_busy) {
            why = "checkpoint-busy";
        }
        if (why) {
            enter_buffered(st, why);
        } else {
            /* learning counts the storm's flows, not old history */
            memset(st->flows, 0, sizeof st->flows);
            st->flows_total = 0;
        }
    } else if (st->last_rate < st->cfg.calm_rate) {
        if (!st->calm_since) {
            st->calm_since = now;
        }
    } else {
        st->calm_since = 0;
    }
}

/* ------------------------------------------------------------------------ */
/* The checkpoint schedule of buffered mode.                                  */

/* Output waits for a checkpoint: the engine holds a diverged flow (a
 * miscompare since the last commit), or frames are held here. */
static bool wanted(const ColoStorm *st)
{
    return st->dirty || st->held.length;
}

static void schedule(ColoStorm *st, int64_t now);

/* Asks the owner for a checkpoint of buffered mode's own and notes one
 * outstanding from now (as colo_storm_checkpoint_request() does for the
 * engine's requests). */
static void ask(ColoStorm *st, int64_t now, ColoStormCkpt why,
                const char *detail)
{
    window_roll(st, now);
    if (!st->ckpt_since) {
        st->ckpt_since = now;
    }
    st->ops->checkpoint(st->opaque, why, detail);
}

static gboolean kick_cb(gpointer opaque)
{
    ColoStorm *st = opaque;

    /* the context holds its own reference while it dispatches */
    g_clear_pointer(&st->kick, g_source_unref);
    st->kick_at = 0;
    schedule(st, g_get_monotonic_time());
    return G_SOURCE_REMOVE;
}

static void kick_cancel(ColoStorm *st)
{
    if (st->kick) {
        g_source_destroy(st->kick);
        g_clear_pointer(&st->kick, g_source_unref);
    }
    st->kick_at = 0;
}

static void kick_arm(ColoStorm *st, int64_t now, int64_t due)
{
    if (!st->ctx || (st->kick && st->kick_at <= due)) {
        return;                 /* not started, or armed soon enough */
    }
    kick_cancel(st);
    st->kick_at = due;
    st->kick = g_timeout_source_new((guint) ((due - now + 999) / 1000));
    g_source_set_callback(st->kick, kick_cb, st, NULL);
    g_source_attach(st->kick, st->ctx);
}

/*
 * Requests the next checkpoint when it is due, or arms the timer for then.
 * Due: while output waits and no request is outstanding, when the primary
 * has been quiet for quiet_ms (in a closed loop its clients are waiting
 * for the held replies: more time buys no more output, only latency), at
 * the latest 'period' ms after the output began to wait (an open loop is
 * never quiet), and not before 'earliest' (the duty bound, set at each
 * commit).  Activity only ever moves the quiet time later, so an armed
 * timer that fires early finds the time not yet due and re-arms.
 */
static void schedule(ColoStorm *st, int64_t now)
{
    int64_t period_due, due;
    bool by_quiet = false;

    if (!st->buffered || !wanted(st) || st->ckpt_since) {
        return;                 /* a commit (or the period) calls again */
    }
    if (!st->want_since) {
        st->want_since = now;
    }
    period_due = st->want_since + (int64_t) st->cfg.period_ms * 1000;
    due = period_due;
    if (st->cfg.quiet_ms) {
        int64_t q = st->last_activity + (int64_t) st->cfg.quiet_ms * 1000;

        if (q < due) {
            due = q;
            by_quiet = true;
        }
    } else {
        due = now;
        by_quiet = true;
    }
    due = MAX(due, st->earliest);
    if (now < due) {
        kick_arm(st, now, due);
        return;
    }
    stats_inc(by_quiet && now < period_due ? &st->quiet : &st->periodic);
    ask(st, now, COLO_STORM_CKPT_SCHEDULED,
        by_quiet && now < period_due
        ? "buffered mode: output held, primary quiet"
        : "buffered mode: periodic checkpoint");
}

void colo_storm_miscompare(ColoStorm *st, const char *conn)
{
    int64_t now = g_get_monotonic_time();

    if (!st) {
        return;
    }
    window_roll(st, now);
    st->window_mis++;
    st->dirty = true;
    st->last_activity = now;
    learn_flow(st, conn);
    if (st->cfg.adaptive && !st->buffered && st->cfg.storm_rate
        && st->window_mis >= st->cfg.storm_rate) {
        /* The window already holds a second's worth of storm_rate: its
         * end can only confirm it, so the storm starts now rather than
         * up to a second later (what the pair spends in compare mode's
         * policy meanwhile is what buffered mode is for). */
        int64_t len = MAX(now - st->window_start, 1);
        int64_t busy = st->window_busy_us
                       + (st->ckpt_since
                          ? now - MAX(st->ckpt_since, st->window_start) : 0);

        st->last_rate = st->window_mis * 1000000 / (uint64_t) len;
        st->last_busy_pct = (uint64_t) MIN(busy, len) * 100 / (uint64_t) len;
        enter_buffered(st, "miscompare-rate");
    }
    schedule(st, now);
}

bool colo_storm_release(ColoStorm *st, const uint8_t *buf, uint32_t len,
                        uint32_t vnet_hdr_len)
{
    HeldFrame *f;
    int64_t now;

    if (!st || !st->buffered || st->releasing) {
        return false;
    }
    now = g_get_monotonic_time();
    st->last_activity = now;
    if (!st->cfg.hold_all) {
        /* compare mode's rule: the secondary sent the same */
        return false;
    }
    f = g_malloc(sizeof *f + len);
    f->len = len;
    f->vnet_hdr_len = vnet_hdr_len;
    memcpy(f->data, buf, len);
    g_queue_push_tail(&st->held, f);
    if (st->held.length > st->held_max) {
        st->held_max = st->held.length;
    }
    if (st->held.length == st->cfg.max_held) {
        /* do not wait for the period: memory is bounded by checkpoints */
        stats_inc(&st->over_limit);
        ask(st, now, COLO_STORM_CKPT_HELD_FULL,
            "buffered mode: max held frames");
    } else if (st->held.length == 1) {
        schedule(st, now);
    }
    return true;
}

bool colo_storm_checkpoint_request(ColoStorm *st, CompareCkptReason reason)
{
    int64_t now = g_get_monotonic_time();

    if (!st) {
        return false;
    }
    window_roll(st, now);
    if (st->buffered && st->cfg.adaptive
        && reason == COMPARE_CKPT_MISCOMPARE) {
        stats_inc(&st->swallowed);
        return true;
    }
    if (!st->ckpt_since) {
        st->ckpt_since = now;
    }
    return false;
}

static bool calm_enough(const ColoStorm *st, int64_t now)
{
    return st->calm_since
           && now - st->calm_since >= (int64_t) st->cfg.calm_time_ms * 1000;
}

void colo_storm_checkpoint_begin(ColoStorm *st)
{
    if (!st) {
        return;
    }
    /* both guests are stopped: what is held now is in this checkpoint,
     * and so is every divergence so far */
    st->covered = st->held.length;
    st->begun = true;
    st->dirty = false;
}

/* Why buffered mode ends at this commit, or NULL. */
static const char *leave_reason(const ColoStorm *st, int64_t now)
{
    if (!st->buffered) {
        return NULL;
    }
    if (!st->cfg.adaptive) {
        return "adaptive-off";
    }
    if (st->leave) {
        return "passthrough-applied";
    }
    return calm_enough(st, now) ? "calm" : NULL;
}

void colo_storm_checkpoint_commit(ColoStorm *st)
{
    int64_t now = g_get_monotonic_time();
    const char *why;

    if (!st) {
        return;
    }
    window_roll(st, now);
    if (st->ckpt_since) {
        int64_t took = now - st->ckpt_since;
        uint32_t duty = CLAMP(st->cfg.duty_pct, 1u, 100u);

        st->window_busy_us += now - MAX(st->ckpt_since, st->window_start);
        st->ckpt_since = 0;
        /* outstanding 'took' out of took + gap: at most duty % */
        st->earliest = now + took * (int64_t) (100 - duty) / (int64_t) duty;
    }
    release_covered(st, st->begun ? st->covered : G_MAXUINT);
    if (!st->begun) {
        /* no begin seen: this commit covers every divergence so far */
        st->dirty = false;
    }
    st->begun = false;
    st->want_since = 0;
    why = leave_reason(st, now);
    if (why) {
        /* what arrived after the begin was released by the engine as
         * matched (or flushed into this checkpoint): compare mode's rule
         * lets it go */
        colo_storm_flush(st);
        st->calms++;
        emit_mode(st, why);
    }
    schedule(st, now);
}

static gboolean period_cb(gpointer opaque)
{
    ColoStorm *st = opaque;
    int64_t now = g_get_monotonic_time();
    const char *why;

    window_roll(st, now);
    why = leave_reason(st, now);
    if (why && !wanted(st)) {
        /* nothing waits: no checkpoint is needed to leave */
        colo_storm_flush(st);
        st->calms++;
        emit_mode(st, why);
        return G_SOURCE_CONTINUE;
    }
    if (st->buffered && wanted(st) && st->ckpt_since
        && now - st->ckpt_since >= (int64_t) st->cfg.period_ms * 1000) {
        /* outstanding for a period (failing, or the frame is slow): ask
         * again, as the frame's retry would */
        stats_inc(&st->periodic);
        ask(st, now, COLO_STORM_CKPT_SCHEDULED,
            "buffered mode: periodic checkpoint");
        return G_SOURCE_CONTINUE;
    }
    schedule(st, now);
    return G_SOURCE_CONTINUE;
}

void colo_storm_start(ColoStorm *st, GMainContext *ctx)
{
    colo_storm_stop(st);
    st->ctx = ctx;
    st->timer = g_timeout_source_new(MAX(st->cfg.period_ms, 1u));
    g_source_set_callback(st->timer, period_cb, st, NULL);
    g_source_attach(st->timer, ctx);
}

void colo_storm_stop(ColoStorm *st)
{
    if (st->timer) {
        g_source_destroy(st->timer);
        g_clear_pointer(&st->timer, g_source_unref);
    }
    kick_cancel(st);
    st->ctx = NULL;
}

JsonObject *colo_storm_status(ColoStorm *st)
{
    JsonObject *o = json_object_new();

    json_object_set_string_member(o, "id", st->id);
    json_object_set_string_member(o, "mode",
                                  st->buffered ? "buffered" : "compare");
    json_object_set_boolean_member(o, "adaptive", st->cfg.adaptive);
    json_object_set_int_member(o, "miscompares-per-second",
                               (gint64) st->last_rate);
    json_object_set_int_member(o, "checkpoint-busy-percent",
                               (gint64) st->last_busy_pct);
    json_object_set_int_member(o, "held", (gint64) st->held.length);
    json_object_set_int_member(o, "held-max", (gint64) st->held_max);
    json_object_set_int_member(o, "released-at-checkpoint",
                               (gint64) st->released_held);
    json_object_set_int_member(o, "storms", (gint64) st->storms);
    json_object_set_int_member(o, "calms", (gint64) st->calms);
    json_object_set_int_member(o, "requests-swallowed",
                               (gint64) st->swallowed);
    json_object_set_int_member(o, "periodic-checkpoints",
                               (gint64) st->periodic);
    json_object_set_int_member(o, "quiet-checkpoints", (gint64) st->quiet);
    json_object_set_string_member(o, "hold",
                                  st->cfg.hold_all ? "all" : "diverged");
    json_object_set_int_member(o, "over-limit", (gint64) st->over_limit);
    json_object_set_int_member(o, "proposals", (gint64) st->proposals);
    json_object_set_int_member(o, "applied", (gint64) st->applied);
    return o;
}
