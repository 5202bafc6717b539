/*
 * include/colo/colo.h - the in-process COLO frame.
 *
 * QEMU's COLO frame lives in its migration code; ours is a small module in
 * the proxy process.  It owns the COLO state (mode none/primary/secondary,
 * failover state, last exit reason), turns checkpoint requests into
 * checkpoints through a driver, and broadcasts the outcome back:
 *
 *   colo-compare (iothread) --colo_request_checkpoint()--> frame (main)
 *        frame --driver--> QMP event | QEMU's QMP | Xen notify_dev | command
 *        driver completion --colo_checkpoint_done()--> frame
 *   frame --ColoEventListener (each in its own context)--> compare: flush
 *   frame --colo_notify_filters(CHECKPOINT)--> filters (rewriter: offsets 0)
 *
 * The frame is configured by the singleton object
 *   -object colo-frame,id=colo0,mode=primary|secondary,driver=event|qemu|exec,...
 * Without it the frame exists with mode=none and driver=event.
 *
 * Requests are coalesced: one checkpoint in flight at a time, at most one
 * pending behind it, and no two started closer than 'min-interval' ms.
 *
 * Threads: colo_request_checkpoint() may be called from any thread; all
 * other functions run in the main context.  Listeners are called in their
 * own context (the one given when registering), never in the caller's.
 */
#ifndef COLO_COLO_H
#define COLO_COLO_H

#include <glib.h>
#include <stdbool.h>
#include "net/filter.h"

typedef enum {
    COLO_MODE_NONE,
    COLO_MODE_PRIMARY,
    COLO_MODE_SECONDARY,
} ColoMode;

typedef enum {
    COLO_EXIT_REASON_NONE,
    COLO_EXIT_REASON_REQUEST,
    COLO_EXIT_REASON_ERROR,
    COLO_EXIT_REASON_PROCESSING,
} ColoExitReason;

/* Why a checkpoint is wanted (counted per reason, shown in events). */
typedef enum {
    COLO_CKPT_MISCOMPARE,      /* payloads differ */
    COLO_CKPT_TIMEOUT,         /* a packet waited longer than compare_timeout */
    COLO_CKPT_QUEUE_FULL,      /* a per-connection queue reached max_queue_size */
    COLO_CKPT_TABLE_FULL,      /* the connection table reached its bound */
    COLO_CKPT_INPUT_LOST,      /* the secondary missed input (mirror drop) */
    COLO_CKPT_MANUAL,          /* QMP x-colo-checkpoint */
    COLO_CKPT__MAX,
} ColoCheckpointReason;

const char *colo_mode_name(ColoMode mode);               /* "none", ... */
const char *colo_exit_reason_name(ColoExitReason reason);
const char *colo_checkpoint_reason_name(ColoCheckpointReason reason);

/* A listener for frame events (COLO_EVENT_CHECKPOINT when a checkpoint has
 * committed, COLO_EVENT_FAILOVER when this side fails over).  'fn' runs in
 * 'ctx' (NULL = main).  The frame waits for every listener of a
 * checkpoint to return before it reports the checkpoint finished. */
typedef struct ColoEventListener {
    void (*fn)(struct ColoEventListener *l, ColoEvent event);
    GMainContext *ctx;
    void *opaque;
    GList link_;              /* private */
    struct Lifeline *lifeline_;   /* private: the road of the calls */
} ColoEventListener;

/* Main context.  'ctx' must stay alive until colo_remove_listener(). */
void colo_add_listener(ColoEventListener *l);
/* Main context.  When it returns, 'fn' is not running and will not run
 * again: calls of broadcasts already queued in the listener's context
 * are skipped (the broadcasts still complete), whatever their priority.
 * 'l' and what 'fn' uses may be freed right after. */
void colo_remove_listener(ColoEventListener *l);

/* Asks for a checkpoint.  'source' names the requester (a compare id);
 * 'detail' (may be NULL) is shown in the event (e.g. the connection).
 * Any thread; returns at once. */
void colo_request_checkpoint(const char *source, ColoCheckpointReason reason,
                             const char *detail);

/* Called by a driver when the checkpoint it started has committed (both
 * VMs hold the same state) or failed.  Main context. */
void colo_checkpoint_done(gboolean ok, const char *error);

/* Fails over this side (x-colo-lost-heartbeat, heartbeat loss).  Returns
 * FALSE with errp set as QEMU does: "The feature 'colo' is not enabled"
 * or "COLO failover is already activated". */
gboolean colo_failover(ColoExitReason reason, GError **errp);

ColoMode colo_get_mode(void);
gboolean colo_failover_active(void);

#endif /* COLO_COLO_H */
