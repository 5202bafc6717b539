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

/*
 * One pair's frame state (colo/colo.c): one per colo-frame object, plus
 * the frame-less state (mode none) of a process without one.  The
 * colo_fs_*() functions act on one pair; the older names without a
 * state (colo_get_mode(), colo_failover(), ...) act on "the default
 * frame": the only colo-frame, or the frame-less state -- what a
 * single-pair process has always had.  Main context.
 */
typedef struct ColoFrameState ColoFrameState;

/* The state of colo-frame 'f' (NULL or not bound: the frame-less one). */
ColoFrameState *colo_frame_state(ColoFrame *f);
ColoFrameState *colo_frame_get_state(ColoFrame *f);   /* colo-frame.c */
const char *colo_fs_id(ColoFrameState *fs);           /* NULL: no frame */
ColoFrame *colo_fs_object(ColoFrameState *fs);
guint colo_frame_count(void);
/* Whether the pair's events and status carry "frame": several pairs, or
 * objects bound to it with frame= (colo.c). */
gboolean colo_fs_named(ColoFrameState *fs);
/* The pair a QMP command addresses: the frame 'id', or (id NULL) the
 * only one; NULL with errp when it does not exist or several do. */
ColoFrameState *colo_frame_for_qmp(const char *id, GError **errp);

ColoMode colo_fs_mode(ColoFrameState *fs);
gboolean colo_fs_failover_active(ColoFrameState *fs);
const ColoStats *colo_fs_stats(ColoFrameState *fs);
gboolean colo_fs_in_flight(ColoFrameState *fs);
ColoExitReason colo_fs_exit_reason(ColoFrameState *fs);
ColoMode colo_fs_last_mode(ColoFrameState *fs);
void colo_fs_checkpoint_done(ColoFrameState *fs, gboolean ok,
                             const char *error);
void colo_fs_checkpoint_unrequested(ColoFrameState *fs, int64_t start_us);
void colo_fs_checkpoint_begun(ColoFrameState *fs);
/* QMP xen-colo-do-checkpoint: Xen's checkpoint of this pair is over. */
void colo_fs_xen_checkpoint(ColoFrameState *fs);
gboolean colo_fs_failover(ColoFrameState *fs, ColoExitReason reason,
                          gboolean tell_qemu, GError **errp);
void colo_fs_not_enabled_error(ColoFrameState *fs, GError **errp);

/* Accessors that accept NULL (no colo-frame object: the defaults). */
ColoFrameDriver colo_frame_driver(ColoFrame *f);
const char *colo_frame_driver_name(ColoFrameDriver d);
const char *colo_frame_exec_command(ColoFrame *f);
unsigned colo_frame_min_interval_ms(ColoFrame *f);
unsigned colo_frame_checkpoint_timeout_ms(ColoFrame *f);
/* input-lost=failover: give the secondary up when it loses input. */
gboolean colo_frame_input_lost_failover(ColoFrame *f);

/* Driver "qemu" (colo/colo-qemu.c): one QemuDriver per driver=qemu
 * colo-frame, held by the frame (colo-frame.c) from
 * colo_frame_qemu_attach() to colo_frame_qemu_detach(). */
typedef struct QemuDriver QemuDriver;
QemuDriver *colo_frame_qemu_driver(ColoFrame *f);            /* colo-frame.c */
void colo_frame_set_qemu_driver(ColoFrame *f, QemuDriver *d); /* colo-frame.c */

/* Driver "qemu": starts checkpoint 'id'. */
gboolean colo_frame_qemu_start(ColoFrame *f, uint64_t id, GError **errp);
/* Driver "qemu": the colo-frame 'f' was bound to the frame (creates its
 * driver, connects to QEMU's QMP at once; on the secondary, reports each
 * checkpoint QEMU loaded) / is going away (drops the connection, frees
 * the driver).  No-ops for the other
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
const char *colo_frame_qemu_error(ColoFrame *f);
/* Consecutive connect rounds that found no listener at QEMU's QMP
 * address since its last session (the QEMU process is gone), and when
 * the first failed (colo/heartbeat.c's qemu-gone-after). */
guint colo_frame_qemu_refused(ColoFrame *f, int64_t *first_us);
/* Driver "qemu": adds its counters to 'o' (query-colo-stats). */
void colo_frame_qemu_stats(ColoFrame *f, JsonObject *o);

/* For tests/fuzz/fuzz-qemu-driver.c only: start a driver session for
 * 'f' in 'mode' without a socket (the next line must be the greeting),
 * feed it one QMP line (what it writes is dropped), and check its
 * internal invariants; colo_frame_qemu_detach() ends it. */
void colo_frame_qemu_test_session(ColoFrame *f, ColoMode mode);
void colo_frame_qemu_test_line(ColoFrame *f, const char *line, gsize len);
/* For the fuzzer: bind 'f' (not completed) to a new frame state in
 * 'mode' / unbind it, as complete() and unparent would. */
void colo_frame_test_bind(ColoFrame *f, ColoMode mode);
void colo_frame_test_unbind(ColoFrame *f);
/* NULL, or which invariant is broken. */
const char *colo_frame_qemu_test_invariants(ColoFrame *f);

/* The frame's side of include/net/colo-hooks.h (colo/colo.c), registered
 * by colo/colo-frame.c. */
void colo_frame_add_listener(ColoEventListener *l);
void colo_frame_remove_listener(ColoEventListener *l);
gboolean colo_frame_bind_check_impl(const char *frame, const char *what,
                                    GError **errp);
void colo_frame_request_checkpoint(const char *frame, const char *source,
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

/* The object binds itself to a new frame state on completion (after
 * colo_frame_attach_check(): its id is unique, and no COLO object is
 * implicitly bound to an existing single frame) and unbinds when
 * deleted (the state lives on while broadcasts still use it). */
gboolean colo_frame_attach_check(ColoFrame *f, GError **errp);
ColoFrameState *colo_frame_attach(ColoFrame *f, ColoMode mode);
void colo_frame_detach(ColoFrameState *fs);
/* The default frame's object (NULL without one, or with several). */
ColoFrame *colo_frame_get(void);
/* Sets QEMU's "The feature 'colo' is not enabled" and says what is
 * missing: no colo-frame at all, or one with mode=none. */
void colo_not_enabled_error(GError **errp);

/* colo-quorum (colo/quorum.c); no-ops/TRUE without the object.  May this
 * side fail over now?  FALSE with errp when refused (no quorum, stale) or
 * deferred (the peer is still a member; or fencing first).  Main context. */
gboolean colo_quorum_failover_check(const char *frame, ColoMode mode,
                                    ColoExitReason reason, GError **errp);
/* This side has failed over as 'mode': raise the epoch, announce it. */
void colo_quorum_failed_over(const char *frame, ColoMode mode);
/* Adds "quorate" and "output-held" to query-colo-status's object.
 * 'frame': the pair's colo-frame id (NULL: no colo-frame); the quorum is
 * the colo-quorum bound to it with frame=, or an unbound one. */
void colo_quorum_fill_status(const char *frame, JsonObject *o);

const ColoStats *colo_get_stats(void);
gboolean colo_checkpoint_in_flight(void);
ColoExitReason colo_get_exit_reason(void);
ColoMode colo_get_last_mode(void);

#endif /* COLO_COLO_INTERNAL_H */
