/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/lifeline.h - asynchronous calls into an object's home
 * context that can never reach the object after it is torn down.
 *
 * Every object has one home context (docs/devel/architecture.md,
 * "Threads").  Work handed to it from another thread without waiting
 * (g_main_context_invoke() and friends) sits in that context's queue for
 * a while, and in that while the object may be deleted: the deleting
 * thread's own barrier (a context_run_sync()) is queued at another
 * priority and may well run first.  Counting on the order of queued work
 * is how issue 19's crash happened (a checkpoint broadcast queued at
 * default priority reached a colo-compare whose teardown barrier, queued
 * at high priority, had already run).
 *
 * A Lifeline belongs to one object (the "owner") and is the only road
 * for asynchronous calls to it:
 *
 *   owner, when it starts:    ll = lifeline_new(home_ctx);
 *   any thread:               lifeline_invoke(ll, prio, fn, data, done);
 *   owner, at teardown:       lifeline_cut(ll); lifeline_unref(ll);
 *                             ... now free what fn would have touched
 *
 * Guarantees, whatever the priorities and whatever else is queued:
 *   - fn(data) runs in the home context, or not at all;
 *   - once lifeline_cut() has returned, no fn of this lifeline is running
 *     or will ever run (a call queued before the cut is skipped when its
 *     turn comes);
 *   - done(data), when given, runs exactly once for every invoke: after
 *     fn in the home context; or in the home context when fn was skipped;
 *     or in the thread that destroys the home context when that context
 *     is destroyed with the call still queued (an iothread deleted), or at
 *     once in the caller when the lifeline was already cut.  'done' is
 *     where a hand-off gives back what it holds (memory, a count someone
 *     waits on), so it must be callable from any thread and must not
 *     touch the owner.
 *   - every queued call holds a reference to the lifeline, so the
 *     lifeline itself outlives all of them.
 *   - calls made by one thread at one priority run in the order they were
 *     made (they go through the lifeline's mailbox, util/lifeline.c).
 *
 * The home context is not referenced: the owner keeps it alive until the
 * cut (as colo-compare keeps its iothread).
 */
#ifndef UTIL_LIFELINE_H
#define UTIL_LIFELINE_H

#include <glib.h>

typedef struct Lifeline Lifeline;

/* A new lifeline (one reference) for calls into 'home' (NULL: the main
 * context). */
Lifeline *lifeline_new(GMainContext *home);
Lifeline *lifeline_ref(Lifeline *ll);
void lifeline_unref(Lifeline *ll);

/* Queues fn(data) in the home context at 'priority' (never runs it in
 * the caller, even if the caller is the home thread: a hand-off is always
 * asynchronous, so the caller's state is never re-entered).  Any thread. */
void lifeline_invoke(Lifeline *ll, gint priority, GSourceFunc fn,
                     gpointer data, GDestroyNotify done);

/* Cuts the lifeline: calls not yet run are skipped, and when the home
 * context is being iterated by another thread this waits until that
 * thread is outside any call of this lifeline (context_run_sync()).  Any
 * thread that the home thread never waits for; idempotent. */
void lifeline_cut(Lifeline *ll);

/* TRUE once cut.  Any thread. */
gboolean lifeline_is_cut(Lifeline *ll);

#endif /* UTIL_LIFELINE_H */
