/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/fd-watch.c - the one fd-watching GSource (see util/fd-watch.h).
 */
#include "util/fd-watch.h"

typedef struct FdSource {
    GSource source;
    const FdSourceOps *ops;
    void *opaque;
} FdSource;

static gboolean fd_source_prepare(GSource *source, gint *timeout)
{
    FdSource *s = (FdSource *)source;

    *timeout = -1;
    return s->ops->pending && s->ops->pending(s->opaque);
}

/* GLib itself makes the source ready when one of its fds fired or its
 * ready time passed; check only adds the owner's own work. */
static gboolean fd_source_check(GSource *source)
{
    FdSource *s = (FdSource *)source;

    return s->ops->pending && s->ops->pending(s->opaque);
}

static gboolean fd_source_dispatch(GSource *source, GSourceFunc unused,
                                   gpointer unused2)
{
    FdSource *s = (FdSource *)source;

    s->ops->dispatch(s->opaque, source);
    return G_SOURCE_CONTINUE;
}

static GSourceFuncs fd_source_funcs = {
    .prepare = fd_source_prepare,
    .check = fd_source_check,
    .dispatch = fd_source_dispatch,
};

GSource *fd_source_new(const FdSourceOps *ops, void *opaque,
                       const char *name)
{
    FdSource *s = (FdSource *)g_source_new(&fd_source_funcs, sizeof(*s));

    s->ops = ops;
    s->opaque = opaque;
    g_source_set_static_name(&s->source, name);
    /* Not blocked during its own dispatch: see the header (two system
     * calls per dispatch saved; nothing iterates a context from inside
     * a dispatch, so nothing can recurse). */
    g_source_set_can_recurse(&s->source, TRUE);
    return &s->source;
}

void fd_source_set_fd(GSource *src, gpointer *tag, GIOCondition *cur,
                      int fd, GIOCondition events)
{
    if (!events || fd < 0) {
        /* Out of the poll set altogether: poll() would still report HUP
         * and ERR for an fd with no interest and make the loop spin. */
        if (*tag) {
            g_source_remove_unix_fd(src, *tag);
            *tag = NULL;
        }
        *cur = 0;
        return;
    }
    if (!*tag) {
        *tag = g_source_add_unix_fd(src, fd, events);
    } else if (events != *cur) {
        g_source_modify_unix_fd(src, *tag, events);
    }
    *cur = events;
}

GIOCondition fd_source_revents(GSource *src, gpointer tag)
{
    return tag ? g_source_query_unix_fd(src, tag) : 0;
}

void fd_source_clear(GSource **src)
{
    if (!*src) {
        return;
    }
    g_source_destroy(*src);
    g_source_unref(*src);
    *src = NULL;
}

/* --- FdWatch ------------------------------------------------------------- */

static gboolean fd_watch_pending(void *opaque)
{
    FdWatch *w = opaque;

    return w->pending(w->opaque);
}

static void fd_watch_dispatch(void *opaque, GSource *src)
{
    FdWatch *w = opaque;
    GIOCondition revents = fd_source_revents(src, w->tag);

    if (revents || (w->pending && w->pending(w->opaque))) {
        w->fn(w->opaque, revents);
    }
}

static const FdSourceOps fd_watch_ops = {
    .dispatch = fd_watch_dispatch,
};

/* A separate table, so that a watch without work of its own costs no
 * call in prepare and check. */
static const FdSourceOps fd_watch_pending_ops = {
    .dispatch = fd_watch_dispatch,
    .pending = fd_watch_pending,
};

void fd_watch_start(FdWatch *w, int fd, GIOCondition events,
                    FdWatchFunc fn, void *opaque, const char *name)
{
    fd_watch_start_full(w, fd, events, fn, NULL, opaque, name);
}

void fd_watch_start_full(FdWatch *w, int fd, GIOCondition events,
                         FdWatchFunc fn, FdWatchPendingFunc pending,
                         void *opaque, const char *name)
{
    fd_watch_stop(w);
    w->source = fd_source_new(pending ? &fd_watch_pending_ops
                                      : &fd_watch_ops, w, name);
    w->fd = fd;
    w->fn = fn;
    w->pending = pending;
    w->opaque = opaque;
    w->events = 0;
    w->tag = NULL;
    g_source_attach(w->source, NULL);
    fd_watch_enable(w, events, TRUE);
}

void fd_watch_enable(FdWatch *w, GIOCondition cond, gboolean on)
{
    if (!w->source) {
        return;
    }
    fd_source_set_fd(w->source, &w->tag, &w->events, w->fd,
                     on ? (w->events | cond) : (w->events & ~cond));
}

void fd_watch_stop(FdWatch *w)
{
    fd_source_clear(&w->source);
    w->tag = NULL;
    w->events = 0;
}
