/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/context.h - the two primitives every thread hand-off is
 * built on: the main thread's context, and "run this in that context's
 * thread and wait".  Below qom/ so that util/ (the Lifeline) can use
 * them; the iothread object (include/qom/iothread.h) builds on them.
 */
#ifndef UTIL_CONTEXT_H
#define UTIL_CONTEXT_H

#include <glib.h>

/*
 * Runs 'fn(data)' in the thread that iterates 'ctx' and waits for it
 * (directly if that is the calling thread).  That thread must be running
 * and must not be waiting for this one (the main thread hands work to
 * iothreads, never the reverse).  Any thread.
 */
void context_run_sync(GMainContext *ctx, GSourceFunc fn, gpointer data);

/* The main thread's context (g_main_context_default()). */
GMainContext *main_context(void);

#endif /* UTIL_CONTEXT_H */
