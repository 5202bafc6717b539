/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/colo/colo.h - the in-process COLO frame.
 *
 * QEMU's COLO frame lives in its migration code; ours is a small module in
 * the proxy process.  It owns the COLO state (mode none/primary/secondary,
 * failover state, last exit reason), turns checkpoint requests into
 * checkpoints through a driver, and broadcasts the outcome back:
 *
 *   colo-compare (iothread) --colo_hooks_request_checkpoint()--> frame (main)
 *        frame --driver--> QMP event | QEMU's QMP | Xen notify_dev | command
 *        driver completion --colo_checkpoint_done()--> frame
 *   frame --ColoEventListener (each in its own context)--> compare: flush
 *   frame --netfilter_notify_colo_event(CHECKPOINT)--> filters (rewriter: offsets 0)
 *   failover: frame --netfilter_notify_colo_event(FAILOVER, side)--> filters, which
 *             switch themselves off; then the listeners, then QEMU
 *
 * A frame is configured by a colo-frame object, one per VM pair:
 *   -object colo-frame,id=colo0,mode=primary|secondary,driver=event|qemu|exec,...
 * Without one the (frame-less) frame exists with mode=none and
 * driver=event.  The functions here act on the default frame (the only
 * colo-frame, or the frame-less one); per-pair ones are in
 * colo/colo-internal.h, and objects name their pair with frame=
 * (docs/devel/decisions.md, "Many VM pairs per process").
 *
 * Requests are coalesced: one checkpoint in flight at a time, at most one
 * pending behind it, and no two started closer than 'min-interval' ms.
 *
 * Threads: colo_hooks_request_checkpoint() may be called from any thread; all
 * other functions run in the main context.  Listeners are called in their
 * own context (the one given when registering), never in the caller's.
 */
#ifndef COLO_COLO_H
#define COLO_COLO_H

#include <glib.h>
#include <stdbool.h>
#include "net/colo-hooks.h"
#include "net/filter.h"

/* ColoMode is spelt in include/net/filter.h: the filters' failover
 * handlers are told the side. */

typedef enum {
    COLO_EXIT_REASON_NONE,
    COLO_EXIT_REASON_REQUEST,
    COLO_EXIT_REASON_ERROR,
    COLO_EXIT_REASON_PROCESSING,
} ColoExitReason;

const char *colo_mode_name(ColoMode mode);               /* "none", ... */
const char *colo_exit_reason_name(ColoExitReason reason);
const char *colo_checkpoint_reason_name(ColoCheckpointReason reason);

/* ColoCheckpointReason, ColoEventListener, colo_hooks_add_listener(),
 * colo_hooks_remove_listener() and colo_hooks_request_checkpoint() are the net layer's
 * (include/net/colo-hooks.h): the filters below use them without linking
 * the frame, which registers itself there (colo/colo-frame.c). */

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
