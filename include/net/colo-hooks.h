/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/colo-hooks.h - how the COLO filters reach the COLO frame
 * without linking it.
 *
 * colo-compare and filter-mirror (net/) ask for checkpoints and listen for
 * checkpoint and failover broadcasts; the frame that serves them
 * (colo/colo.c) is a layer above net/.  So the net layer owns this
 * interface and the frame registers itself into it (colo/colo-frame.c,
 * from a constructor: linking the COLO library is what connects it):
 *
 *   net/colo-compare.c --colo_hooks_request_checkpoint()--> hooks --> colo/colo.c
 *   colo/colo.c --ColoEventListener.fn, in the listener's context--> compare
 *
 * Without a registered frame (a unit test of the net stack alone) a
 * request and a listener are accepted and nothing happens: there is no
 * frame to checkpoint.  The program always links the frame.
 *
 * Threads: colo_hooks_request_checkpoint() may be called from any thread; the
 * listener calls, and registration, run in the main context.
 */
#ifndef NET_COLO_HOOKS_H
#define NET_COLO_HOOKS_H

#include <glib.h>
#include "net/filter.h"

/* Why a checkpoint is wanted (counted per reason, shown in events). */
typedef enum {
    COLO_CKPT_MISCOMPARE,      /* payloads differ */
    COLO_CKPT_TIMEOUT,         /* a packet waited longer than compare_timeout */
    COLO_CKPT_QUEUE_FULL,      /* a per-connection queue reached max_queue_size */
    COLO_CKPT_TABLE_FULL,      /* the connection table reached its bound */
    COLO_CKPT_INPUT_LOST,      /* the secondary missed input (mirror drop) */
    COLO_CKPT_MANUAL,          /* QMP x-colo-checkpoint */
    COLO_CKPT_BUFFERED,        /* colo-compare's buffered mode: its own
                                * schedule paces these, so the frame
                                * starts them without min-interval */
    COLO_CKPT__MAX,
} ColoCheckpointReason;

/* A listener for frame events (COLO_EVENT_CHECKPOINT when a checkpoint has
 * committed, COLO_EVENT_FAILOVER when this side fails over).  'fn' runs in
 * 'ctx' (NULL = main).  The frame waits for every listener of a
 * checkpoint to return before it reports the checkpoint finished. */
typedef struct ColoEventListener {
    void (*fn)(struct ColoEventListener *l, ColoEvent event);
    GMainContext *ctx;
    void *opaque;
    /* The pair it belongs to: a colo-frame id, or NULL for the default
     * frame (the only one; include/colo/colo.h).  Set before
     * colo_hooks_add_listener(), unchanged until colo_hooks_remove_listener(). */
    const char *frame;
    const char *name;         /* its owner's id, for error messages */
    GList link_;              /* private */
    struct Lifeline *lifeline_;   /* private: the road of the calls */
} ColoEventListener;

/* Main context.  'ctx' must stay alive until colo_hooks_remove_listener(). */
void colo_hooks_add_listener(ColoEventListener *l);
/* Main context.  When it returns, 'fn' is not running and will not run
 * again: calls of broadcasts already queued in the listener's context
 * are skipped (the broadcasts still complete), whatever their priority
 * (include/util/lifeline.h).  'l' and what 'fn' uses may be freed right
 * after. */
void colo_hooks_remove_listener(ColoEventListener *l);

/* Asks for a checkpoint.  'source' names the requester (a compare id);
 * 'detail' (may be NULL) is shown in the event (e.g. the connection).
 * Any thread; returns at once. */
void colo_hooks_request_checkpoint(const char *source, ColoCheckpointReason reason,
                             const char *detail);
/* The same for the pair of colo-frame 'frame' (NULL: the default one). */
void colo_hooks_request_checkpoint_frame(const char *frame, const char *source,
                                   ColoCheckpointReason reason,
                                   const char *detail);

/* May an object ('what', its id) bind to colo-frame 'frame' (NULL: to
 * the default one)?  FALSE with errp when that frame does not exist, or
 * when 'frame' is NULL and several frames exist.  TRUE without a
 * registered frame.  Main context. */
gboolean colo_frame_bind_check(const char *frame, const char *what,
                               GError **errp);

/* What the frame provides; each entry follows the contract above. */
typedef struct ColoHooks {
    void (*add_listener)(ColoEventListener *l);
    void (*remove_listener)(ColoEventListener *l);
    void (*request_checkpoint)(const char *frame, const char *source,
                               ColoCheckpointReason reason,
                               const char *detail);
    gboolean (*bind_check)(const char *frame, const char *what,
                           GError **errp);
} ColoHooks;

/* Registers the frame ('hooks' is static).  Once, before main() runs. */
void colo_hooks_register(const ColoHooks *hooks);

#endif /* NET_COLO_HOOKS_H */
