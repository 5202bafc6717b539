/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/poll.h - adaptive busy polling for a thread's GMainContext,
 * with QEMU's AioContext semantics (poll-max-ns, poll-grow, poll-shrink).
 *
 * An idle CPU of a virtual machine halts, and waking it again costs tens
 * of microseconds (an inter-processor interrupt through the host): on the
 * machines COLO runs on, that wake-up is most of the latency a packet
 * spends in colo-compare.  A thread that expects its next event soon can
 * instead look for it without sleeping for a while (poll() with a zero
 * timeout, again and again), and sleep only when nothing came.
 *
 * How long to look is adapted the way QEMU's AioContext does it, so that
 * QEMU's iothread properties mean the same here.  After every wait that
 * was allowed to block, with 'waited' the time it took (looking plus
 * sleeping):
 *
 *   waited <= ns                 found by looking: keep 'ns'
 *   waited >  max_ns             looking could not have found it: shrink,
 *                                ns /= shrink (ns = 0 when shrink is 0)
 *   ns < max_ns, waited < max_ns looking longer would have found it: grow,
 *                                ns = ns ? ns * grow : 4000 (grow 0 = 2),
 *                                at most max_ns
 *
 * max_ns = 0 turns polling off (ns = 0: every wait sleeps).  A wait with a
 * zero timeout never spins and never adapts; a finite timeout bounds the
 * spinning as it bounds the sleep, and no single wait spins longer than
 * POLL_SPIN_CAP_NS whatever max_ns says.
 *
 * Threads: the settings are written by any thread (relaxed atomics; a
 * change takes effect at the next wait); 'ns' and the counters are written
 * by the polling thread only (relaxed atomic stores), and read elsewhere
 * with relaxed atomic loads, as statistics.
 */
#ifndef UTIL_POLL_H
#define UTIL_POLL_H

#include <glib.h>

#define POLL_START_NS 4000      /* the first polling time after growth */
#define POLL_SPIN_CAP_NS 1000000000     /* longest look in one wait (1 s) */

typedef struct AdaptivePoll {
    /* settings (QEMU's iothread properties) */
    gint64 max_ns;              /* poll-max-ns; 0 = never poll */
    gint64 grow;                /* poll-grow; 0 = 2 */
    gint64 shrink;              /* poll-shrink; 0 = back to 0 */

    /* state (the polling thread) */
    gint64 ns;                  /* current polling time */
    guint64 waits;              /* waits that were allowed to block */
    guint64 found_polling;      /* ... of which ended while spinning */
} AdaptivePoll;

/* The next polling time after a wait of 'waited' ns (pure: see above). */
gint64 adaptive_poll_adjust(gint64 ns, gint64 waited, gint64 max_ns,
                            gint64 grow, gint64 shrink);

/*
 * Makes 'ctx' poll through 'ap' when iterated by the calling thread:
 * installs the poll function on 'ctx' and binds 'ap' to the calling thread
 * (the poll function has no user data).  Call from the thread that will run
 * the loop, before running it; adaptive_poll_leave() when the loop is done.
 * A context iterated by a thread without a binding polls plainly.
 */
void adaptive_poll_enter(GMainContext *ctx, AdaptivePoll *ap);
void adaptive_poll_leave(GMainContext *ctx);

#endif /* UTIL_POLL_H */
