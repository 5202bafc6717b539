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
 */
#include "util/lifeline.h"
#include "util/context.h"

struct Lifeline {
    gint refs;                  /* atomic */
    GMutex lock;                /* protects 'cut' and 'home' */
    gboolean cut;
    GMainContext *home;         /* not referenced; NULL once cut */
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

void lifeline_unref(Lifeline *ll)
{
    if (ll && g_atomic_int_dec_and_test(&ll->refs)) {
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

void lifeline_invoke(Lifeline *ll, gint priority, GSourceFunc fn,
                     gpointer data, GDestroyNotify done)
{
    LifelineCall *c;
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
