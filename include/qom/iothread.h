/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/qom/iothread.h - the "iothread" object: a thread running its own
 * GMainContext.
 *
 * -object iothread,id=iothread1 starts a thread that iterates a private
 * GMainContext until the object is deleted.  Objects that run on an
 * iothread (colo-compare) attach their sources to iothread_get_context()
 * and touch their state only from there; other threads hand work over by
 * the rule of docs/devel/architecture.md ("Work that crosses threads"):
 * synchronously (below), or through the object's Lifeline
 * (include/util/lifeline.h), never by a bare g_main_context_invoke().
 *
 * Properties (QEMU's names): poll-max-ns, poll-grow and poll-shrink tune
 * the thread's adaptive busy polling (include/util/poll.h) as they tune
 * QEMU's AioContext; aio-max-batch, thread-pool-min and thread-pool-max
 * are accepted for compatibility and have no effect.
 */
#ifndef QOM_IOTHREAD_H
#define QOM_IOTHREAD_H

#include "qom/object.h"
#include "util/context.h"

#define TYPE_IOTHREAD (iothread_get_type())
G_DECLARE_FINAL_TYPE(IOThread, iothread, IO, THREAD, UserObject)

/* What query-iothreads shows (QEMU's IOThreadInfo, and the polling). */
typedef struct IOThreadInfo {
    gint64 thread_id;         /* kernel thread id; 0 before it started */
    gint64 poll_max_ns;
    gint64 poll_grow;
    gint64 poll_shrink;
    gint64 aio_max_batch;
    gint64 poll_ns;           /* the polling time now (adaptive) */
    guint64 waits;            /* waits that could block */
    guint64 found_polling;    /* ... that ended while polling */
} IOThreadInfo;

/* Any thread. */
void iothread_get_info(IOThread *iot, IOThreadInfo *info);

/* The thread's context (borrowed; valid while the object lives). */
GMainContext *iothread_get_context(IOThread *iot);
/* Runs 'fn(data)' in the iothread and waits for it to return (directly
 * when called from the iothread itself, or before the thread runs). */
void iothread_run_sync(IOThread *iot, GSourceFunc fn, gpointer data);

/* An iothread that belongs to one object instead of the user: not in the
 * registry (no id, not in query-iothreads, cannot be object-del'ed),
 * already running, as a thread named 'name' (at most 15 characters are
 * shown by the kernel), with 'poll_max_ns' as its poll-max-ns.  The
 * owner's g_object_unref() stops and joins it.  NULL with errp set when
 * the thread cannot start.  Main thread.  (colo-compare without
 * iothread= runs on one.) */
IOThread *iothread_new_internal(const char *name, gint64 poll_max_ns,
                                GError **errp);


#endif /* QOM_IOTHREAD_H */
