/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * colo/colo-internal.h - what the frame's files share: the colo-frame
 * object that configures the frame, its drivers and its counters.
 */
#ifndef COLO_COLO_INTERNAL_H
#define COLO_COLO_INTERNAL_H

#include "colo/colo.h"
#include <json-glib/json-glib.h>
#include "qom/object.h"
#include "util/histogram.h"

typedef enum {
    COLO_FRAME_DRIVER_EVENT,   /* QMP event; x-colo-checkpoint-done completes */
    COLO_FRAME_DRIVER_EXEC,    /* run a command; exit status 0 completes */
    COLO_FRAME_DRIVER_QEMU,    /* drive a QEMU's COLO over its QMP socket */
} ColoFrameDriver;

typedef struct ColoStats {
    uint64_t requests[COLO_CKPT__MAX]; /* requests received, by reason */
    uint64_t coalesced;        /* requests merged into one in flight/pending */
    uint64_t ignored;          /* requests after failover */
    uint64_t started;          /* checkpoints started */
    uint64_t completed;        /* checkpoints committed */
    uint64_t unrequested;      /* committed, not started by the frame
                                * (QEMU's periodic ones, driver qemu) */
    uint64_t failed;           /* checkpoints failed (incl. timeouts) */
    uint64_t timeouts;         /* checkpoints that timed out */
    uint64_t failovers;
    uint64_t input_lost;       /* secondary-lost-input episodes seen */
    Histogram duration;        /* committed checkpoints' duration-us (of
                                * COLO_CHECKPOINT_DONE); bounds set at the
                                * first observation */
} ColoStats;

#define COLO_TYPE_FRAME (colo_frame_get_type())
G_DECLARE_FINAL_TYPE(ColoFrame, colo_frame, COLO, FRAME, UserObject)

/* Accessors that accept NULL (no colo-frame object: the defaults). */
ColoFrameDriver colo_frame_driver(ColoFrame *f);
const char *colo_frame_driver_name(ColoFrameDriver d);
const char *colo_frame_exec_command(ColoFrame *f);
unsigned colo_frame_min_interval_ms(ColoFrame *f);
unsigned colo_frame_checkpoint_timeout_ms(ColoFrame *f);
/* input-lost=failover: give the secondary up when it loses input. */
gboolean colo_frame_input_lost_failover(ColoFrame *f);

/* Driver "qemu" (colo/colo-qemu.c): starts checkpoint 'id'. */
gboolean colo_frame_qemu_start(ColoFrame *f, uint64_t id, GError **errp);
/* Driver "qemu": the colo-frame 'f' was bound to the frame (connects to
 * QEMU's QMP at once; on the secondary, reports each checkpoint QEMU
 * loaded) / is going away (drops the connection).  No-ops for the other
 * drivers.  Main context. */
void colo_frame_qemu_attach(ColoFrame *f);
void colo_frame_qemu_detach(ColoFrame *f);

/* Driver "qemu": this side failed over: tell its QEMU
 * (x-colo-lost-heartbeat, then announce-self on a secondary).  No-op for
 * the other drivers.  Main context. */
void colo_frame_qemu_failover(ColoFrame *f, ColoMode mode);
/* Driver "qemu": QEMU's view for query-colo-status/-stats (NULL when
 * there is nothing to say): the last error that concerns COLO itself,
 * e.g. a QEMU that completed the migration instead of entering COLO. */
const char *colo_frame_qemu_error(void);
/* Driver "qemu": adds its counters to 'o' (query-colo-stats). */
void colo_frame_qemu_stats(JsonObject *o);

/* For tests/fuzz/fuzz-qemu-driver.c only: start a driver session for
 * 'f' in 'mode' without a socket (the next line must be the greeting),
 * feed it one QMP line (what it writes is dropped), and check its
 * internal invariants. */
void colo_frame_qemu_test_session(ColoFrame *f, ColoMode mode);
void colo_frame_qemu_test_line(const char *line, gsize len);
/* NULL, or which invariant is broken. */
const char *colo_frame_qemu_test_invariants(void);

/* The frame's side of include/net/colo-hooks.h (colo/colo.c), registered
 * by colo/colo-frame.c. */
void colo_frame_add_listener(ColoEventListener *l);
void colo_frame_remove_listener(ColoEventListener *l);
void colo_frame_request_checkpoint(const char *source,
                                   ColoCheckpointReason reason,
                                   const char *detail);

/* A checkpoint the frame did not start has committed (QEMU's periodic
 * one, seen by the qemu driver on the primary; 'start_us' its monotonic
 * start): broadcast like one of ours (colo.c).  Main context. */
void colo_checkpoint_unrequested(int64_t start_us);
/* A checkpoint begins (COLO_EVENT_CHECKPOINT_BEGIN): on the primary, both
 * guests are stopped and its state is being saved (the qemu driver's
 * MIGRATION_PASS): the listeners are told, waited for by nobody; on the
 * secondary, the guest stopped to load it (its STOP in "colo"): the
 * filters are told, synchronously.  Main context; a no-op in mode none or
 * after failover. */
void colo_checkpoint_begun(void);
/* colo_failover(), but with 'tell_qemu' FALSE when QEMU has failed over
 * by itself and the frame only follows. */
gboolean colo_failover_full(ColoExitReason reason, gboolean tell_qemu,
                            GError **errp);

/* failover-filters: on failover, the COLO filters switch themselves off
 * (each in its handle_event(), include/net/filter.h); TRUE without an
 * object. */
gboolean colo_frame_failover_filters(ColoFrame *f);

/* The object binds itself to the frame on completion and unbinds when
 * deleted; there is at most one. */
void colo_frame_attach(ColoFrame *f, ColoMode mode);
void colo_frame_detach(ColoFrame *f);
ColoFrame *colo_frame_get(void);
/* Sets QEMU's "The feature 'colo' is not enabled" and says what is
 * missing: no colo-frame at all, or one with mode=none. */
void colo_not_enabled_error(GError **errp);

/* colo-quorum (colo/quorum.c); no-ops/TRUE without the object.  May this
 * side fail over now?  FALSE with errp when refused (no quorum, stale) or
 * deferred (the peer is still a member; or fencing first).  Main context. */
gboolean colo_quorum_failover_check(ColoMode mode, ColoExitReason reason,
                                    GError **errp);
/* This side has failed over as 'mode': raise the epoch, announce it. */
void colo_quorum_failed_over(ColoMode mode);
/* Adds "quorate" and "output-held" to query-colo-status's object. */
void colo_quorum_fill_status(JsonObject *o);

const ColoStats *colo_get_stats(void);
gboolean colo_checkpoint_in_flight(void);
ColoExitReason colo_get_exit_reason(void);
ColoMode colo_get_last_mode(void);

#endif /* COLO_COLO_INTERNAL_H */
