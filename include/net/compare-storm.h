/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/compare-storm.h - checkpoint storms in colo-compare: the
 * passthrough rules (include/net/passthrough.h) and the adaptive
 * checkpoint policy of one colo-compare object (docs/storms.md).
 *
 * A ColoStorm sits between the comparison engine (net/compare-engine.c) and the
 * object's output (net/colo-compare.c) and has two modes:
 *
 *   compare   the engine's releases go out at once and its checkpoint
 *             requests go to the COLO frame (QEMU's behaviour);
 *   buffered  (a storm: too many miscompares per second, or too much of
 *             the time with a checkpoint outstanding) miscompare checkpoint
 *             requests are swallowed (counted) and the policy schedules the
 *             checkpoints instead: one is requested while output waits for
 *             one (a miscompare since the last commit, or a frame held
 *             here) once the primary has been quiet for 'quiet_ms' (its
 *             clients wait for the held replies), at the latest 'period'
 *             ms after the output began to wait, and never so soon after
 *             the last commit that checkpoints would be outstanding more
 *             than 'duty_pct' % of the time.
 *             What is released: with 'hold_all' off (the default) exactly
 *             what compare mode releases (matched frames at once; the
 *             engine holds diverged flows until a checkpoint); with
 *             'hold_all' on every frame the engine releases is held here
 *             too, as Remus does.  At a checkpoint's start
 *             (COLO_EVENT_CHECKPOINT_BEGIN: both guests stopped) what is
 *             held is marked covered, and it leaves at the commit; without
 *             a begin (drivers exec, event, Xen) what is held at the commit
 *             leaves then.  Nothing leaves before the checkpoint covering
 *             it commits unless the secondary sent the same.  The engine
 *             keeps comparing, so the miscompare rate is still measured:
 *             when it has stayed below 'calm' per second for 'calm_time' ms
 *             the pair returns to compare mode (at a commit, hysteresis).
 *
 * Each switch is a COLO_COMPARE_MODE event with its reason.  While a
 * storm runs, the flows that miscompare are counted (by the guest's
 * protocol, address and port); at the storm's start the one causing at
 * least half of them is proposed as a passthrough rule
 * (COLO_PASSTHROUGH_PROPOSED), and added when 'auto_passthrough' is on;
 * an added rule ends buffered mode at the next commit (the storm's cause
 * is exempt; if the storm goes on, the next window starts it again).
 *
 * Threads: everything here runs on the compare's context, except the
 * functions marked "main thread", which hand over with the object's
 * run_sync (road 1 of docs/devel/architecture.md).
 */
#ifndef NET_COMPARE_STORM_H
#define NET_COMPARE_STORM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/compare-engine.h"
#include "net/passthrough.h"

typedef struct ColoStormConfig {
    bool adaptive;              /* storms switch to buffered mode */
    bool auto_passthrough;      /* apply the rule proposed */
    uint32_t storm_rate;        /* miscompares/s that start a storm */
    uint32_t storm_busy;        /* % of time in checkpoints that does */
    uint32_t calm_rate;         /* miscompares/s below which it is calm */
    uint32_t calm_time_ms;      /* calm this long ends a storm */
    uint32_t period_ms;         /* checkpoint period in buffered mode */
    uint32_t max_held;          /* frames held in buffered mode before a
                                 * checkpoint is asked for at once */
    bool hold_all;              /* buffered mode holds every frame the
                                 * engine releases (Remus); else only what
                                 * the engine holds (diverged flows) */
    uint32_t quiet_ms;          /* buffered mode: checkpoint once the
                                 * primary has been quiet this long */
    uint32_t duty_pct;          /* buffered mode: checkpoints outstanding
                                 * at most this share of the time */
} ColoStormConfig;

#define STORM_DEFAULT_RATE          20u
#define STORM_DEFAULT_BUSY          50u
#define STORM_DEFAULT_CALM          5u
#define STORM_DEFAULT_CALM_TIME_MS  5000u
#define STORM_DEFAULT_PERIOD_MS     100u
#define STORM_DEFAULT_MAX_HELD      65536u
#define STORM_DEFAULT_QUIET_MS      2u
#define STORM_DEFAULT_DUTY          50u

/* Why buffered mode asks for a checkpoint. */
typedef enum {
    COLO_STORM_CKPT_SCHEDULED,  /* its schedule: primary quiet, or period;
                                 * paced by the schedule (and duty bound) */
    COLO_STORM_CKPT_HELD_FULL,  /* max_held frames held: memory's bound */
} ColoStormCkpt;

typedef struct ColoStormOps {
    void (*release)(void *opaque, const uint8_t *buf, uint32_t len,
                    uint32_t vnet_hdr_len);
    void (*checkpoint)(void *opaque, ColoStormCkpt why, const char *detail);
} ColoStormOps;

typedef struct ColoStorm ColoStorm;

ColoStorm *colo_storm_new(const char *id, const ColoStormConfig *cfg,
                          unsigned max_rules, const ColoStormOps *ops,
                          void *opaque);
/* The compare's frame= (NULL or "": unbound), named by the storm's
 * events COLO_COMPARE_MODE and COLO_PASSTHROUGH_PROPOSED. */
void colo_storm_set_frame(ColoStorm *st, const char *frame);
/* Releases what is held (in order) and frees.  Home context. */
void colo_storm_free(ColoStorm *st);
PassthroughTable *colo_storm_rules(ColoStorm *st);
void colo_storm_set_config(ColoStorm *st, const ColoStormConfig *cfg);
/* Starts the period timer on 'ctx' (the home context); stop removes it. */
void colo_storm_start(ColoStorm *st, GMainContext *ctx);
void colo_storm_stop(ColoStorm *st);

/* CompareOps.passthrough. */
bool colo_storm_passthrough(ColoStorm *st, CompareSide side, const PacketInfo *pi,
                            uint32_t len);
/* The engine released a frame: TRUE when held (buffered mode). */
bool colo_storm_release(ColoStorm *st, const uint8_t *buf, uint32_t len,
                        uint32_t vnet_hdr_len);
/* The engine asks for a checkpoint: TRUE when swallowed. */
bool colo_storm_checkpoint_request(ColoStorm *st, CompareCkptReason reason);
void colo_storm_miscompare(ColoStorm *st, const char *conn);
/* After the engine's compare_checkpoint_begin() / compare_checkpoint(). */
void colo_storm_checkpoint_begin(ColoStorm *st);
void colo_storm_checkpoint_commit(ColoStorm *st);
/* Failover or shutdown: everything held leaves now, compare mode. */
void colo_storm_flush(ColoStorm *st);

bool colo_storm_buffered(const ColoStorm *st);
bool colo_storm_adaptive(const ColoStorm *st);
/* A JSON object with mode, counters and thresholds (home context). */
struct _JsonObject;
struct _JsonObject *colo_storm_status(ColoStorm *st);

/* ------------------------------------------------------------------------ */
/* The colo-compare objects (net/colo-compare.c).  Main thread.              */

/* Runs fn(storm, data) on the context of the compare 'id' (every compare
 * when NULL) and waits.  FALSE (DeviceNotFound) when 'id' names none. */
gboolean colo_compare_storm_call(const char *id,
                                 void (*fn)(const char *id, ColoStorm *st,
                                            void *data),
                                 void *data, GError **errp);
/* "buffered" when a compare of the pair 'frame' (NULL: the default one)
 * is in buffered mode, else "compare"; NULL when none of them has
 * adaptive=on (a QEMU command line sees QEMU's query-colo-status
 * unchanged). */
const char *colo_compare_proxy_mode(const char *frame);

#endif /* NET_COMPARE_STORM_H */
