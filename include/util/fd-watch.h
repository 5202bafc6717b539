/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/fd-watch.h - the one GSource that watches file descriptors.
 *
 * Every fd the proxy reads or writes in a main loop (chardev sockets and
 * listeners, netdev transports: tap, af-packet, stream, socket) is polled
 * through an FdSource:
 *
 *   FdSource   a GSource with any number of fds, each with its own
 *              interest; fd_source_set_fd() adds, changes or removes one
 *              fd's interest in one call, and an fd with no interest is
 *              taken out of the poll set altogether (poll() reports HUP
 *              and ERR even for an fd with no events asked, which would
 *              make the loop spin on a hung-up peer).  Its owner may say
 *              it has work without any fd event (ops->pending: a batch
 *              queued during this iteration leaves before the loop
 *              sleeps) and may use g_source_set_ready_time() as a timer.
 *   FdWatch    one fd on one FdSource with a callback that gets the
 *              conditions that fired: what a transport needs (and,
 *              optionally, the owner's own pending work, as a stream
 *              netdev's output queued during this iteration).
 *
 * Recursion: an FdSource may be dispatched while it is being dispatched
 * (g_source_set_can_recurse(TRUE)).  GLib otherwise *blocks* a source
 * during its dispatch, which removes its fds from the poll set and adds
 * them back, and each of those signals the context's wakeup eventfd: two
 * system calls per dispatch, and a poll() that returns at once.  Nothing
 * iterates a context from inside a dispatch (the only nested iterations,
 * chardev_wait_for_clients() and the shutdown flush in main(), run
 * outside any), so there is no recursion to protect against.  A callback
 * must therefore not iterate its own context.
 *
 * Threads: an FdSource belongs to the context it is attached to; every
 * call on it is made in that context's thread (or before it is attached).
 */
#ifndef UTIL_FD_WATCH_H
#define UTIL_FD_WATCH_H

#include <glib.h>

typedef struct FdSourceOps {
    /* Called when an fd fired, the ready time passed or pending() said
     * so.  Query the fds with fd_source_revents().  Required. */
    void (*dispatch)(void *opaque, GSource *src);
    /* TRUE when there is work without any fd event.  Called from prepare
     * and check, so it must be cheap and must not change state.  May be
     * NULL. */
    gboolean (*pending)(void *opaque);
} FdSourceOps;

/* A new unattached source (one reference, the caller's) that calls
 * 'ops' with 'opaque'.  'name' names it for debugging (static string). */
GSource *fd_source_new(const FdSourceOps *ops, void *opaque,
                       const char *name);

/* Sets the interest of 'fd' on 'src' to 'events': *tag is the fd's tag
 * (NULL when the fd is not polled), *cur its current interest.  Events 0
 * removes the fd from the poll set.  Cheap when nothing changes. */
void fd_source_set_fd(GSource *src, gpointer *tag, GIOCondition *cur,
                      int fd, GIOCondition events);

/* The conditions that fired on the fd of 'tag' (0 for a NULL tag). */
GIOCondition fd_source_revents(GSource *src, gpointer tag);

/* Destroys and unrefs *src and sets it to NULL; no-op on NULL. */
void fd_source_clear(GSource **src);

/* --- FdWatch: one fd, one callback --------------------------------------- */

/* Called with the conditions that fired ('revents' may hold G_IO_HUP or
 * G_IO_ERR besides the ones asked for).  The callback may stop the watch. */
typedef void (*FdWatchFunc)(void *opaque, GIOCondition revents);
/* TRUE when the owner has work without any fd event (as
 * FdSourceOps.pending: cheap, no state change).  The callback then runs
 * with whatever fired, maybe nothing (revents 0). */
typedef gboolean (*FdWatchPendingFunc)(void *opaque);

typedef struct FdWatch {
    GSource *source;          /* our FdSource on the main context, or NULL */
    gpointer tag;             /* unix fd tag while events != 0 */
    int fd;                   /* watched fd (not owned) */
    GIOCondition events;      /* current interest: G_IO_IN and/or G_IO_OUT */
    FdWatchFunc fn;           /* callback */
    FdWatchPendingFunc pending; /* or NULL */
    void *opaque;             /* its argument */
} FdWatch;

/* Starts watching 'fd' (borrowed: the caller closes it after stopping the
 * watch) for 'events' on the main context.  'name' names the source for
 * debugging.  Never fails.  'w' must stay where it is while watching. */
void fd_watch_start(FdWatch *w, int fd, GIOCondition events,
                    FdWatchFunc fn, void *opaque, const char *name);
/* The same with 'pending' (may be NULL): work before the loop sleeps,
 * e.g. output queued during this iteration. */
void fd_watch_start_full(FdWatch *w, int fd, GIOCondition events,
                         FdWatchFunc fn, FdWatchPendingFunc pending,
                         void *opaque, const char *name);
/* Turns interest in 'cond' on or off.  No-op on a stopped watch. */
void fd_watch_enable(FdWatch *w, GIOCondition cond, gboolean on);
/* Stops the watch; safe on a stopped or zeroed watch and from inside the
 * callback. */
void fd_watch_stop(FdWatch *w);
static inline gboolean fd_watch_active(const FdWatch *w)
{
    return w->source != NULL;
}

#endif /* UTIL_FD_WATCH_H */
