/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char-internal.h - what the chardev base (char.c) shares with its
 * backends (char-socket.c) and its QMP handlers (char-qmp.c).  Not a
 * contract for other modules: they use include/chardev/char.h.
 */
#ifndef CHARDEV_CHAR_INTERNAL_H
#define CHARDEV_CHAR_INTERNAL_H

#include "chardev/char.h"

/* The chardev 'id', or NULL (borrowed; main thread). */
Chardev *chardev_find(const char *id);

/* Attaches a newly completed chardev to the main context so that it
 * listens / connects before any frontend exists.  Backends call it at the
 * end of a successful complete(); main thread. */
void chardev_start(Chardev *chr);

/* TRUE while a frontend has installed handlers, i.e. while the backend
 * should read (and deliver, or discard if there is no read callback).
 * Attached context. */
gboolean chardev_fe_handlers_set(Chardev *chr);

/* Marks 'chr' as a "server=on,wait=on" chardev still waiting for its first
 * client; chardev_wait_for_clients() blocks while any is.  Any thread. */
void chardev_set_wait_pending(Chardev *chr, gboolean pending);
gboolean chardev_get_wait_pending(Chardev *chr);

/* The backend records its output queue length after every change
 * (attached context); chardev_out_queued_any() reads it from any thread
 * (query-chardev-stats). */
void chardev_note_out_queued(Chardev *chr, gsize n);
uint64_t chardev_out_queued_any(Chardev *chr);

/* TRUE when a frontend has claimed 'chr' (query-chardev "frontend-open").
 * Main thread. */
gboolean chardev_frontend_open(Chardev *chr);

#endif /* CHARDEV_CHAR_INTERNAL_H */
