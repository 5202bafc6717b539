/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/lifeline.c - asynchronous calls into an object's home context that
 * can never reach the object after it is torn down (include/util/lifeline.h).
 *
 * The cut is a flag under a mutex plus one synchronous barrier in the home
 * context.  A call checks the flag when its turn comes, in the home
 * thread; the barrier makes the cut wait for a call that checked the flag
 * just before it was set and is still running (the home thread runs one
 * callback at a time, so the barrier runs after it).  No ordering among
 * queued sources is assumed anywhere: that is the point.
 *
 * The calls themselves go through a mailbox, not one GSource each.  A
 * GSource attached from another thread is attached, and its home woken,
 * under the home context's lock, and the caller takes that lock again to
 * drop its reference: the home thread, woken on another CPU, blocks on the
 * lock once or twice (a futex wait and one more wake-up each).  On the
 * checkpoint path of a real COLO pair (the flush and the commit handed to
 * colo-compare's iothread, the commit's answer handed back) that was a
 * quarter of the hand-offs, on a 2-CPU machine where every extra wake-up
 * of colo-proxy delays QEMU's checkpoint.  The mailbox is one GSource per
 * lifeline, attached once, polling an eventfd of its own: a call is
 * queued under the mailbox's mutex and the eventfd written after it is
 * released, so nothing the home thread needs is held when it wakes.
 */
#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/lifeline.h"
#include "util/context.h"

/*
 * The calls waiting for the home thread, shared by the lifeline (which
 * queues and wakes) and the mailbox source (which runs them): each holds
 * a reference, and whichever goes last closes the eventfd.  'gone' is set
 * when the source is finalized (its context destroyed, or the source
 * removed itself after a cut): nothing is queued after that.
 */
typedef struct MailboxCore {
    gint refs;                  /* atomic */
    GMutex lock;                /* protects the members below */
    GQueue calls;               /* LifelineCall, oldest first */
    gboolean closing;           /* the lifeline was cut or released */
    gboolean gone;              /* the source is finalized */
    int efd;                    /* eventfd the source polls */
} MailboxCore;

typedef struct Mailbox {
    GSource source;
    MailboxCore *core;          /* referenced */
    gpointer tag;
} Mailbox;

struct Lifeline {
    gint refs;                  /* atomic */
    GMutex lock;                /* protects 'cut' and 'home' */
    gboolean cut;
    GMainContext *home;         /* not referenced; NULL once cut */
    MailboxCore *mb;            /* referenced; NULL until the first call */
    gint mb_priority;           /* the mailbox source's priority */
};

typedef struct LifelineCall {
    Lifeline *ll;               /* referenced */
    GSourceFunc fn;
    gpointer data;
    GDestroyNotify done;
} LifelineCall;

Lifeline *lifeline_new(GMainContext *home)
{
    Lifeline *ll = g_new0(Lifeline, 1);

    ll->refs = 1;
    g_mutex_init(&ll->lock);
    ll->home = home ? home : main_context();
    return ll;
}

Lifeline *lifeline_ref(Lifeline *ll)
{
    g_atomic_int_inc(&ll->refs);
    return ll;
}

static void mailbox_core_unref(MailboxCore *mb)
{
    if (g_atomic_int_dec_and_test(&mb->refs)) {
        g_assert(g_queue_is_empty(&mb->calls));
        close(mb->efd);
        g_mutex_clear(&mb->lock);
        g_free(mb);
    }
}

static void mailbox_wake(MailboxCore *mb)
{
    uint64_t one = 1;

    /* EAGAIN: the counter is full, so the source is woken anyway */
    while (write(mb->efd, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
}

/* The lifeline is cut or released: the source removes itself once it has
 * answered what is queued (the calls' 'done' runs in the home thread as
 * before).  If the home context is not iterated any more, the calls wait
 * for its destruction, as GSources of their own did. */
static void mailbox_close(MailboxCore *mb)
{
    g_mutex_lock(&mb->lock);
    mb->closing = TRUE;
    g_mutex_unlock(&mb->lock);
    mailbox_wake(mb);
}

void lifeline_unref(Lifeline *ll)
{
    if (ll && g_atomic_int_dec_and_test(&ll->refs)) {
        if (ll->mb) {
            mailbox_close(ll->mb);
            mailbox_core_unref(ll->mb);
        }
        g_mutex_clear(&ll->lock);
        g_free(ll);
    }
}

gboolean lifeline_is_cut(Lifeline *ll)
{
    gboolean cut;

    g_mutex_lock(&ll->lock);
    cut = ll->cut;
    g_mutex_unlock(&ll->lock);
    return cut;
}

/* Home thread, when the call's turn comes. */
static gboolean lifeline_call_cb(gpointer opaque)
{
    LifelineCall *c = opaque;

    if (!lifeline_is_cut(c->ll)) {
        c->fn(c->data);
    }
    return G_SOURCE_REMOVE;
}

/* Home thread after the call, or whichever thread destroys the home
 * context with the call still queued. */
static void lifeline_call_free(gpointer opaque)
{
    LifelineCall *c = opaque;

    if (c->done) {
        c->done(c->data);
    }
    lifeline_unref(c->ll);
    g_free(c);
}

/* Home thread: runs what is queued, oldest first, each as a GSource of
 * its own would have (fn unless cut, then done). */
static gboolean mailbox_dispatch(GSource *source, GSourceFunc unused,
                                 gpointer unused_data)
{
    Mailbox *m = (Mailbox *)source;
    MailboxCore *mb = m->core;
    uint64_t n;
    GQueue calls;
    gboolean closing;
    LifelineCall *c;

    (void) unused;
    (void) unused_data;
    /* drained before the queue is taken: a call queued after the take
     * finds the queue empty and writes again */
    while (read(mb->efd, &n, sizeof(n)) < 0 && errno == EINTR) {
    }
    g_mutex_lock(&mb->lock);
    calls = mb->calls;
    g_queue_init(&mb->calls);
    closing = mb->closing;
    g_mutex_unlock(&mb->lock);
    while ((c = g_queue_pop_head(&calls))) {
        lifeline_call_cb(c);
        lifeline_call_free(c);
    }
    return closing ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* The source is destroyed for good (removed after a cut, or its context
 * destroyed): what is still queued is answered here, in that thread. */
static void mailbox_finalize(GSource *source)
{
    Mailbox *m = (Mailbox *)source;
    MailboxCore *mb = m->core;
    GQueue calls;
    LifelineCall *c;

    g_mutex_lock(&mb->lock);
    mb->gone = TRUE;
    calls = mb->calls;
    g_queue_init(&mb->calls);
    g_mutex_unlock(&mb->lock);
    while ((c = g_queue_pop_head(&calls))) {
        lifeline_call_free(c);
    }
    mailbox_core_unref(mb);
}

static GSourceFuncs mailbox_funcs = {
    .dispatch = mailbox_dispatch,
    .finalize = mailbox_finalize,
};

/* Called with ll->lock held: the lifeline's mailbox, attached to its home
 * at 'priority' (its first call's); NULL if no eventfd can be had. */
static MailboxCore *mailbox_get(Lifeline *ll, gint priority)
{
    MailboxCore *mb;
    Mailbox *m;
    int efd;

    if (ll->mb) {
        return ll->mb;
    }
    efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) {
        return NULL;
    }
    mb = g_new0(MailboxCore, 1);
    g_mutex_init(&mb->lock);
    g_queue_init(&mb->calls);
    mb->efd = efd;
    mb->refs = 2;               /* the lifeline's and the source's */
    m = (Mailbox *)g_source_new(&mailbox_funcs, sizeof(Mailbox));
    m->core = mb;
    m->tag = g_source_add_unix_fd(&m->source, efd, G_IO_IN);
    g_source_set_priority(&m->source, priority);
    g_source_set_name(&m->source, "lifeline-mailbox");
    /* a source that cannot recurse is blocked during its dispatch: GLib
     * removes and re-adds its fd and wakes the context each time
     * (docs/devel/decisions.md); no context is iterated inside a call */
    g_source_set_can_recurse(&m->source, TRUE);
    /* under ll->lock, like every attach here: a cut cannot return (and
     * the owner free the home context) in between */
    g_source_attach(&m->source, ll->home);
    g_source_unref(&m->source);     /* the context holds it */
    ll->mb = mb;
    ll->mb_priority = priority;
    return mb;
}

void lifeline_invoke(Lifeline *ll, gint priority, GSourceFunc fn,
                     gpointer data, GDestroyNotify done)
{
    LifelineCall *c;
    MailboxCore *mb;
    GSource *src;

    g_mutex_lock(&ll->lock);
    if (ll->cut) {
        g_mutex_unlock(&ll->lock);
        if (done) {
            done(data);
        }
        return;
    }
    c = g_new0(LifelineCall, 1);
    c->ll = lifeline_ref(ll);
    c->fn = fn;
    c->data = data;
    c->done = done;
    mb = (!ll->mb || ll->mb_priority == priority) ?
         mailbox_get(ll, priority) : NULL;
    if (mb) {
        gboolean wake = FALSE, gone;

        g_mutex_lock(&mb->lock);
        gone = mb->gone;
        if (!gone) {
            wake = g_queue_is_empty(&mb->calls);
            g_queue_push_tail(&mb->calls, c);
        }
        g_mutex_unlock(&mb->lock);
        g_mutex_unlock(&ll->lock);
        if (gone) {
            /* the home context was destroyed before the cut, against
             * the contract: answer the call, never run it */
            lifeline_call_free(c);
        } else if (wake) {
            /* after every lock is released: the home thread may run the
             * call at once on another CPU, and finds nothing held */
            mailbox_wake(mb);
        }
        return;
    }
    /* another priority than the mailbox's: a source of its own */
    src = g_idle_source_new();
    g_source_set_priority(src, priority);
    g_source_set_callback(src, lifeline_call_cb, c, lifeline_call_free);
    /* Attached under the lock, so a cut cannot return (and the owner
     * free the home context) between the check and the attach. */
    g_source_attach(src, ll->home);
    g_mutex_unlock(&ll->lock);
    g_source_unref(src);
}

static gboolean lifeline_barrier_cb(gpointer opaque)
{
    (void) opaque;
    return G_SOURCE_REMOVE;
}

void lifeline_cut(Lifeline *ll)
{
    GMainContext *home;

    g_mutex_lock(&ll->lock);
    if (ll->cut) {
        g_mutex_unlock(&ll->lock);
        return;
    }
    ll->cut = TRUE;
    home = ll->home;
    ll->home = NULL;
    g_mutex_unlock(&ll->lock);
    if (ll->mb) {
        /* made only under ll->lock before the cut, which we held */
        mailbox_close(ll->mb);
    }

    /* From here on no call starts fn.  One may have started before: wait
     * until the home thread is past it.  If nobody iterates the home
     * context (its thread is not running, or it is ours), nothing of it
     * runs concurrently and there is nothing to wait for. */
    if (g_main_context_acquire(home)) {
        g_main_context_release(home);
        return;
    }
    context_run_sync(home, lifeline_barrier_cb, NULL);
}
