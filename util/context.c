/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/context.c - run work in another context's thread and wait for it
 * (include/util/context.h).
 */

#include "util/context.h"

typedef struct RunSync {
    GSourceFunc fn;           /* the work */
    gpointer data;            /* its argument */
    GMutex lock;              /* protects 'done' */
    GCond cond;               /* signalled when 'done' is set */
    gboolean done;            /* fn has returned */
} RunSync;

/* Runs in the context's thread. */
static gboolean run_sync_cb(gpointer opaque)
{
    RunSync *rs = opaque;

    rs->fn(rs->data);
    g_mutex_lock(&rs->lock);
    rs->done = TRUE;
    g_cond_signal(&rs->cond);
    g_mutex_unlock(&rs->lock);
    return G_SOURCE_REMOVE;
}

void context_run_sync(GMainContext *ctx, GSourceFunc fn, gpointer data)
{
    RunSync rs = { .fn = fn, .data = data };

    if (g_main_context_is_owner(ctx)) {
        fn(data);
        return;
    }
    g_mutex_init(&rs.lock);
    g_cond_init(&rs.cond);
    g_main_context_invoke_full(ctx, G_PRIORITY_HIGH, run_sync_cb, &rs, NULL);
    g_mutex_lock(&rs.lock);
    while (!rs.done) {
        g_cond_wait(&rs.cond, &rs.lock);
    }
    g_mutex_unlock(&rs.lock);
    g_mutex_clear(&rs.lock);
    g_cond_clear(&rs.cond);
}

GMainContext *main_context(void)
{
    return g_main_context_default();
}
