/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/iothread.c - the "iothread" object: a thread iterating its own
 * GMainContext (include/qom/iothread.h).
 *
 *   -object iothread,id=iothread1
 *
 * complete() creates the context and starts the thread; unparent() (delete
 * and shutdown) and finalize stop and join it.  colo-compare attaches its
 * chardev sources and timers to iothread_get_context() and calls
 * user_object_ref_use() on the iothread, so the iothread cannot be deleted
 * under it.
 *
 * Polling: the thread waits for events the way QEMU's AioContext does,
 * looking for them without sleeping for up to an adaptive polling time
 * before it sleeps (include/util/poll.h), tuned by QEMU's properties
 * poll-max-ns (default 32768; 0 = always sleep), poll-grow and
 * poll-shrink, which can be changed at run time.  QEMU's other tuning
 * properties (aio-max-batch, thread-pool-min, thread-pool-max) are
 * accepted, range checked and readable so that QEMU command lines and
 * management tools work unchanged; they have no effect here.
 *
 * Threads: properties, complete, unparent and run_sync run in the main
 * thread; the loop runs in the iothread.  Stopping is done by a source
 * attached to the iothread's context, so a stop can never race with the
 * loop starting.  (Compiled into the qom library: it is a QOM type.)
 */
#include <sys/syscall.h>
#include <unistd.h>

#include "qom/iothread.h"
#include "qom/props.h"
#include "util/error.h"
#include "util/poll.h"

struct _IOThread {
    UserObject parent_instance;

    /* "poll-max-ns", "poll-grow", "poll-shrink" (and the polling state) */
    AdaptivePoll poll;

    /* properties accepted for QEMU compatibility; no effect */
    gint64 aio_max_batch;     /* "aio-max-batch" */
    gint64 thread_pool_min;   /* "thread-pool-min" */
    gint64 thread_pool_max;   /* "thread-pool-max" */

    /* state (main thread) */
    GMainContext *ctx;        /* the thread's context; NULL before complete */
    GMainLoop *loop;          /* runs 'ctx' in 'thread' */
    GThread *thread;          /* NULL when not running */
    gint64 thread_id;         /* its kernel thread id (atomic), 0 before */
};

G_DEFINE_TYPE(IOThread, iothread, USER_TYPE_OBJECT)


#define IOTHREAD_POLL_MAX_NS_DEFAULT 32768

/* Runs in the iothread. */
static gpointer iothread_thread_fn(gpointer opaque)
{
    IOThread *iot = opaque;

    __atomic_store_n(&iot->thread_id, (gint64) syscall(SYS_gettid),
                     __ATOMIC_RELAXED);
    g_main_context_push_thread_default(iot->ctx);
    adaptive_poll_enter(iot->ctx, &iot->poll);
    g_main_loop_run(iot->loop);
    adaptive_poll_leave(iot->ctx);
    g_main_context_pop_thread_default(iot->ctx);
    return NULL;
}

/* Runs in the iothread, inside its loop. */
static gboolean iothread_quit_cb(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_REMOVE;
}

/* Main thread.  Stops and joins the thread; a no-op if it is not running. */
static void iothread_stop(IOThread *iot)
{
    GSource *src;

    if (!iot->thread) {
        return;
    }
    src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_HIGH);
    g_source_set_callback(src, iothread_quit_cb, g_main_loop_ref(iot->loop),
                          (GDestroyNotify)g_main_loop_unref);
    g_source_attach(src, iot->ctx);
    g_source_unref(src);
    g_thread_join(iot->thread);
    iot->thread = NULL;
}

/* Main thread.  Creates the context and starts the thread 'name'. */
static gboolean iothread_start(IOThread *iot, const char *name,
                               GError **errp)
{
    iot->ctx = g_main_context_new();
    iot->loop = g_main_loop_new(iot->ctx, FALSE);
    iot->thread = g_thread_try_new(name, iothread_thread_fn, iot, errp);
    return iot->thread != NULL;
}

static gboolean iothread_complete(UserObject *obj, GError **errp)
{
    IOThread *iot = IO_THREAD(obj);
    g_autofree char *name = g_strdup_printf("iothread-%s",
                                            user_object_get_id(obj));

    if (iot->thread_pool_min > iot->thread_pool_max) {
        error_setg(errp, "thread-pool-min (%" G_GINT64_FORMAT ") must not "
                   "be greater than thread-pool-max (%" G_GINT64_FORMAT ")",
                   iot->thread_pool_min, iot->thread_pool_max);
        return FALSE;
    }
    if (!iothread_start(iot, name, errp)) {
        g_prefix_error(errp, "could not start iothread '%s': ",
                       user_object_get_id(obj));
        return FALSE;
    }
    return TRUE;
}

static void iothread_unparent(UserObject *obj)
{
    iothread_stop(IO_THREAD(obj));
}

static void iothread_finalize(GObject *gobj)
{
    IOThread *iot = IO_THREAD(gobj);

    iothread_stop(iot);
    g_clear_pointer(&iot->loop, g_main_loop_unref);
    g_clear_pointer(&iot->ctx, g_main_context_unref);
    G_OBJECT_CLASS(iothread_parent_class)->finalize(gobj);
}

/* The polling settings are read by the running thread: PROP_ATOMIC. */
static const PropDef iothread_props[] = {
    DEFINE_PROP_INT64("poll-max-ns", IOThread, poll.max_ns,
        0, G_MAXINT64, IOTHREAD_POLL_MAX_NS_DEFAULT, PROP_RUNTIME | PROP_ATOMIC,
        "maximum time in ns to look for events before sleeping "
        "(adaptive; 0 = always sleep)"),
    DEFINE_PROP_INT64("poll-grow", IOThread, poll.grow,
        0, G_MAXINT64, 0, PROP_RUNTIME | PROP_ATOMIC,
        "factor the polling time grows by (0 = 2)"),
    DEFINE_PROP_INT64("poll-shrink", IOThread, poll.shrink,
        0, G_MAXINT64, 0, PROP_RUNTIME | PROP_ATOMIC,
        "divisor the polling time shrinks by (0 = reset to 0)"),
    DEFINE_PROP_INT64("aio-max-batch", IOThread, aio_max_batch,
        0, G_MAXINT64, 0, PROP_RUNTIME | PROP_ATOMIC,
        "maximum number of requests in a batch (accepted, no effect)"),
    DEFINE_PROP_INT64("thread-pool-min", IOThread, thread_pool_min,
        0, G_MAXINT, 0, PROP_RUNTIME | PROP_ATOMIC,
        "minimum number of worker threads (accepted, no effect)"),
    DEFINE_PROP_INT64("thread-pool-max", IOThread, thread_pool_max,
        0, G_MAXINT, 64, PROP_RUNTIME | PROP_ATOMIC,
        "maximum number of worker threads (accepted, no effect)"),
};

static void iothread_class_init(IOThreadClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);

    oc->finalize = iothread_finalize;
    uc->description = "a thread running its own event loop";
    uc->complete = iothread_complete;
    uc->unparent = iothread_unparent;

    object_class_install_props(oc, iothread_props);
}

static void iothread_init(IOThread *iot)
{
    /* the properties start at their defaults (iothread_props) */
}

GMainContext *iothread_get_context(IOThread *iot)
{
    g_return_val_if_fail(IO_IS_THREAD(iot), NULL);
    return iot->ctx;
}

void iothread_get_info(IOThread *iot, IOThreadInfo *info)
{
    g_return_if_fail(IO_IS_THREAD(iot));
    info->thread_id = __atomic_load_n(&iot->thread_id, __ATOMIC_RELAXED);
    info->poll_max_ns = __atomic_load_n(&iot->poll.max_ns, __ATOMIC_RELAXED);
    info->poll_grow = __atomic_load_n(&iot->poll.grow, __ATOMIC_RELAXED);
    info->poll_shrink = __atomic_load_n(&iot->poll.shrink, __ATOMIC_RELAXED);
    info->aio_max_batch = __atomic_load_n(&iot->aio_max_batch,
                                          __ATOMIC_RELAXED);
    info->poll_ns = __atomic_load_n(&iot->poll.ns, __ATOMIC_RELAXED);
    info->waits = __atomic_load_n(&iot->poll.waits, __ATOMIC_RELAXED);
    info->found_polling = __atomic_load_n(&iot->poll.found_polling,
                                          __ATOMIC_RELAXED);
}

IOThread *iothread_new_internal(const char *name, gint64 poll_max_ns,
                                GError **errp)
{
    IOThread *iot = g_object_new(TYPE_IOTHREAD, NULL);

    iot->poll.max_ns = poll_max_ns;
    if (!iothread_start(iot, name, errp)) {
        g_prefix_error(errp, "could not start thread '%s': ", name);
        g_object_unref(iot);
        return NULL;
    }
    return iot;
}

/* Any thread.  While the thread does not run (before complete, after
 * unparent) 'fn' runs directly. */
void iothread_run_sync(IOThread *iot, GSourceFunc fn, gpointer data)
{
    g_return_if_fail(IO_IS_THREAD(iot));
    if (!iot->thread) {
        fn(data);
        return;
    }
    context_run_sync(iot->ctx, fn, data);
}


static void iothread_register(void)
{
    object_type_register(OBJECT_KIND_OBJECT, "iothread", TYPE_IOTHREAD);
}
type_init(iothread_register)

