/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/colo-hooks.c - the COLO frame's entry points, as the net layer sees
 * them (contract in include/net/colo-hooks.h).
 */
#include "net/colo-hooks.h"

/* Set by a constructor before main(); read from any thread after. */
static const ColoHooks *frame_hooks;

void colo_hooks_register(const ColoHooks *hooks)
{
    g_assert(!frame_hooks);     /* one frame library per process */
    g_atomic_pointer_set(&frame_hooks, hooks);
}

void colo_hooks_add_listener(ColoEventListener *l)
{
    const ColoHooks *h = g_atomic_pointer_get(&frame_hooks);

    if (h) {
        h->add_listener(l);
    }
}

void colo_hooks_remove_listener(ColoEventListener *l)
{
    const ColoHooks *h = g_atomic_pointer_get(&frame_hooks);

    if (h) {
        h->remove_listener(l);
    }
}

void colo_hooks_request_checkpoint_frame(const char *frame, const char *source,
                                   ColoCheckpointReason reason,
                                   const char *detail)
{
    const ColoHooks *h = g_atomic_pointer_get(&frame_hooks);

    if (h) {
        h->request_checkpoint(frame, source, reason, detail);
    }
}

void colo_hooks_request_checkpoint(const char *source, ColoCheckpointReason reason,
                             const char *detail)
{
    colo_hooks_request_checkpoint_frame(NULL, source, reason, detail);
}

gboolean colo_frame_bind_check(const char *frame, const char *what,
                               GError **errp)
{
    const ColoHooks *h = g_atomic_pointer_get(&frame_hooks);

    return h ? h->bind_check(frame, what, errp) : TRUE;
}
