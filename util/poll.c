/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/poll.c - adaptive busy polling for a GMainContext (include/util/poll.h).
 */
#include <time.h>

#include "util/poll.h"

gint64 adaptive_poll_adjust(gint64 ns, gint64 waited, gint64 max_ns,
                            gint64 grow, gint64 shrink)
{
    if (max_ns <= 0) {
        return 0;
    }
    if (ns > max_ns) {
        ns = max_ns;            /* max_ns was lowered */
    }
    if (waited <= ns) {
        return ns;
    }
    if (waited > max_ns) {
        return shrink > 0 ? ns / shrink : 0;
    }
    if (ns < max_ns) {
        if (!ns) {
            return MIN(POLL_START_NS, max_ns);
        }
        if (grow <= 0) {
            grow = 2;
        }
        return ns > max_ns / grow ? max_ns : ns * grow;
    }
    return ns;
}

static __thread AdaptivePoll *bound;

static gint64 now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gint64) ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

static gint adaptive_poll_func(GPollFD *fds, guint nfds, gint timeout)
{
    AdaptivePoll *ap = bound;
    gint64 start, deadline, spin, elapsed;
    int r;

    if (!ap || timeout == 0) {
        return g_poll(fds, nfds, timeout);
    }
    start = now_ns();
    spin = MIN(ap->ns, POLL_SPIN_CAP_NS);
    if (timeout > 0) {
        spin = MIN(spin, (gint64) timeout * 1000000);
    }
    deadline = start + spin;
    r = 0;
    while (spin > 0) {
        r = g_poll(fds, nfds, 0);
        if (r != 0 || now_ns() >= deadline) {
            break;
        }
    }
    if (r > 0) {
        __atomic_store_n(&ap->found_polling, ap->found_polling + 1,
                         __ATOMIC_RELAXED);
    } else if (r == 0) {
        gint rest = timeout;

        if (timeout > 0) {
            elapsed = (now_ns() - start) / 1000000;
            rest = MAX(timeout - (gint) elapsed, 0);
        }
        r = g_poll(fds, nfds, rest);
    }
    __atomic_store_n(&ap->waits, ap->waits + 1, __ATOMIC_RELAXED);
    elapsed = now_ns() - start;
    elapsed = adaptive_poll_adjust(ap->ns, elapsed,
                                  __atomic_load_n(&ap->max_ns,
                                                  __ATOMIC_RELAXED),
                                  __atomic_load_n(&ap->grow,
                                                  __ATOMIC_RELAXED),
                                  __atomic_load_n(&ap->shrink,
                                                  __ATOMIC_RELAXED));
    __atomic_store_n(&ap->ns, elapsed, __ATOMIC_RELAXED);
    return r;
}

void adaptive_poll_enter(GMainContext *ctx, AdaptivePoll *ap)
{
    bound = ap;
    g_main_context_set_poll_func(ctx, adaptive_poll_func);
}

void adaptive_poll_leave(GMainContext *ctx)
{
    g_main_context_set_poll_func(ctx, NULL);
    bound = NULL;
}
