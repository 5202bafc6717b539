/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/filter-mirror.h - filter-mirror and filter-redirector, and
 * the "secondary lost input" signal of the mirror.
 *
 * Both filters are implemented in net/filter-mirror.c (as in QEMU) on top
 * of the netfilter base (include/net/filter.h), the socket chardev
 * (include/chardev/char.h) and the link framing (include/net/link-framing.h).
 *
 * filter-mirror copies every frame of its direction(s) to its outdev.  The
 * copy is queued in the chardev's bounded output buffer and never blocks
 * the primary.  When a copy cannot be delivered (buffer full, peer not
 * connected) or the link to the secondary breaks, the secondary has lost
 * input: its guest no longer sees what the primary's guest sees, and only
 * a checkpoint can bring the pair back in step.  The mirror then raises
 * the "input lost" condition, once per episode:
 *
 *   - QMP event COLO_MIRROR_INPUT_LOST (qapi/mirror.json);
 *   - filter_mirror_input_notifiers are notified with a MirrorInputEvent
 *     whose 'lost' is true.
 *
 * The episode ends when a copy is delivered again (QMP event
 * COLO_MIRROR_INPUT_RESTORED; notifiers called with 'lost' false).  The
 * COLO frame subscribes to request a checkpoint when input was lost.  An
 * episode still running when the filter is deleted ends without a
 * notification (the MirrorInputEvent's 'mirror' pointer is only valid
 * during the call).
 *
 * Threads: everything here runs in the main context.
 */
#ifndef NET_FILTER_MIRROR_H
#define NET_FILTER_MIRROR_H

#include <stdbool.h>
#include <stdint.h>
#include "net/filter.h"
#include "util/notify.h"

#define FILTER_TYPE_MIRROR (filter_mirror_get_type())
G_DECLARE_FINAL_TYPE(FilterMirror, filter_mirror, FILTER, MIRROR, NetFilter)

#define FILTER_TYPE_REDIRECTOR (filter_redirector_get_type())
G_DECLARE_FINAL_TYPE(FilterRedirector, filter_redirector, FILTER, REDIRECTOR,
                     NetFilter)

typedef enum {
    MIRROR_LOSS_BUFFER_FULL,    /* the outdev's output buffer was full */
    MIRROR_LOSS_DISCONNECTED,   /* no peer connected, or the link broke */
} MirrorLossReason;

/* Data passed to filter_mirror_input_notifiers (borrowed for the call). */
typedef struct MirrorInputEvent {
    FilterMirror *mirror;       /* the filter that raised it */
    const char *id;             /* its id */
    bool lost;                  /* true: episode starts; false: it ended */
    MirrorLossReason reason;    /* why the episode started */
    uint64_t dropped;           /* lost: copies dropped by this filter
                                 * since creation; restored: copies dropped
                                 * during the episode */
} MirrorInputEvent;

/* Subscribers of every mirror's input-lost / restored transitions.  Add a
 * Notifier with notifier_list_add(); main context only. */
extern NotifierList filter_mirror_input_notifiers;

/* Returns the user spelling of 'reason' ("buffer-full", "disconnected"). */
const char *mirror_loss_reason_str(MirrorLossReason reason);

/* Whether 'm' is in an input-lost episode now. */
bool filter_mirror_input_lost(FilterMirror *m);

#endif /* NET_FILTER_MIRROR_H */
