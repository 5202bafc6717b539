/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/chardev/char.h - character devices (-chardev) and their users.
 *
 * A Chardev is a byte-stream endpoint; the one type we implement is
 * "socket" (tcp or unix, server or client).  A Chardev is a UserObject of
 * kind OBJECT_KIND_CHARDEV, so -chardev and chardev-add share the object
 * machinery, and it is used by at most one CharFrontend at a time (a
 * filter, a compare).
 *
 * Usage:
 *
 *   CharFrontend fe;                      (embedded in the user's struct)
 *   if (!chr_fe_init(&fe, "mirror0", "m0", errp))   (finds, marks in use)
 *       return FALSE;
 *   chr_fe_set_handlers(&fe, on_read, on_event, opaque, ctx);
 *   ...
 *   chr_fe_write(&fe, iov, n);            (non-blocking, whole or nothing)
 *   ...
 *   chr_fe_deinit(&fe);                   (stops callbacks, releases)
 *
 * Threads: the chardev does all its I/O in the context given to
 * chr_fe_set_handlers() (NULL = the main context): callbacks run there and
 * chr_fe_write() and the other chr_fe_* calls must be made from there.
 * chr_fe_set_handlers() and chr_fe_deinit() may be called from the main
 * thread while that context's thread is running; they hand over internally
 * and return when the move is done.
 *
 * Writing: the chardev owns a bounded output buffer (property
 * "out-buffer-size", default 4 MiB).  chr_fe_write() appends a whole
 * message (all iovecs) or nothing, so framing is never torn by a full
 * buffer; the buffer is drained with writev() as the socket allows, many
 * messages per system call.  On disconnect the buffer is discarded (a
 * message the peer got half of is lost with the connection; the next
 * connection starts on a frame boundary).
 *
 * Events: CHR_EVENT_OPENED when a connection is established (server
 * accepted or client connected), CHR_EVENT_CLOSED when it is lost.  A
 * client with reconnect=N retries every N seconds; a server accepts one
 * client at a time and listens again after it leaves.  A frontend that
 * installs handlers on an already connected chardev gets OPENED soon
 * after (as QEMU), from its context.  Events and the writable callback
 * are delivered from the chardev's own dispatch, never from inside a
 * chr_fe_*() call (chr_fe_disconnect() closes at the next dispatch).
 * A frontend that reassembles frames resets its LinkReader on CLOSED.
 *
 * Reading: while a frontend has handlers installed (even with read ==
 * NULL, which discards) and has not paused reading, the chardev reads
 * and delivers as data arrives.  With no frontend nothing is read; a
 * peer that leaves is still noticed.
 */
#ifndef CHARDEV_CHAR_H
#define CHARDEV_CHAR_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <json-glib/json-glib.h>
#include "qom/object.h"

#define TYPE_CHARDEV (chardev_get_type())
G_DECLARE_DERIVABLE_TYPE(Chardev, chardev, CHARDEV, BASE, UserObject)

typedef enum {
    CHR_EVENT_OPENED,
    CHR_EVENT_CLOSED,
} ChrEvent;

/* Called with bytes read from the peer.  'buf' is borrowed for the call. */
typedef void (*ChrReadFn)(void *opaque, const uint8_t *buf, size_t len);
typedef void (*ChrEventFn)(void *opaque, ChrEvent event);
/* Called when a full output buffer has drained below half (optional). */
typedef void (*ChrWritableFn)(void *opaque);

typedef struct CharFrontend {
    Chardev *chr;             /* NULL when not initialised */
    char *user_id;            /* id of the object using the chardev */
} CharFrontend;

typedef struct ChardevStats {
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t writes_refused;  /* chr_fe_write() calls refused: buffer full */
    uint64_t writes_unconnected; /* refused: no peer connected */
    uint64_t connects;        /* connections opened */
    uint64_t disconnects;     /* connections lost */
} ChardevStats;

struct _ChardevClass {
    UserObjectClass parent_class;
    /* Implemented by the backend; called through chr_fe_*. */
    void (*attach)(Chardev *chr, GMainContext *ctx);
    void (*detach)(Chardev *chr);
    gssize (*write)(Chardev *chr, const struct iovec *iov, int iovcnt);
    void (*flush)(Chardev *chr);    /* optional */
    gboolean (*is_connected)(Chardev *chr);
    gsize (*out_queued)(Chardev *chr);
    void (*set_read_paused)(Chardev *chr, gboolean paused);
    void (*disconnect)(Chardev *chr);
    /* Fills 'info' for query-chardev ("filename" string, "frontend-open"). */
    char *(*filename)(Chardev *chr);
    /* Adds the backend's optional query-chardev members (TLS, warning);
     * main thread.  Optional. */
    void (*info)(Chardev *chr, JsonObject *o);
};

/* Finds chardev 'id' and claims it for 'user_id'.  Errors: "Device 'ID'
 * not found" (DeviceNotFound), "chardev 'ID' is already in use by 'USER'". */
gboolean chr_fe_init(CharFrontend *fe, const char *id, const char *user_id,
                     GError **errp);
/* Installs callbacks (any may be NULL) and moves the chardev's I/O to 'ctx'
 * (NULL = main context).  Reading starts now. */
void chr_fe_set_handlers(CharFrontend *fe, ChrReadFn read, ChrEventFn event,
                         ChrWritableFn writable, void *opaque,
                         GMainContext *ctx);
/* Queues a whole message.  Returns its total length, -EAGAIN if the output
 * buffer cannot take all of it, -ENOTCONN if no peer is connected.  Never
 * blocks and never writes part of a message. */
gssize chr_fe_write(CharFrontend *fe, const struct iovec *iov, int iovcnt);
/* Sends what chr_fe_write() queued now, as far as the peer takes it without
 * blocking, instead of when the loop iteration ends: for a frontend that
 * knows its burst is complete and wants it on the wire at once.  Emits
 * nothing (an error is handled by the chardev's next dispatch). */
void chr_fe_flush(CharFrontend *fe);
gboolean chr_fe_is_connected(CharFrontend *fe);
gsize chr_fe_out_queued(CharFrontend *fe);
/* Stops / resumes reading (back-pressure toward the peer). */
void chr_fe_set_read_paused(CharFrontend *fe, gboolean paused);
/* Drops the current connection (e.g. after a framing error); a client
 * with reconnect=N reconnects, a server listens again. */
void chr_fe_disconnect(CharFrontend *fe);
/* Removes the callbacks and releases the chardev.  Safe on an
 * uninitialised or already released frontend. */
void chr_fe_deinit(CharFrontend *fe);
const char *chr_fe_get_id(CharFrontend *fe);

/* Counters of 'chr' (read from any thread with stats_read()). */
ChardevStats *chardev_get_stats(Chardev *chr);
/* The frontend's user id, or NULL when the chardev is free. */
const char *chardev_get_user(Chardev *chr);

/* Called by backends, in the attached context. */
void chardev_emit_read(Chardev *chr, const uint8_t *buf, size_t len);
void chardev_emit_event(Chardev *chr, ChrEvent event);
void chardev_emit_writable(Chardev *chr);

/* Blocks start-up until every "server=on,wait=on" chardev has its client
 * (QEMU semantics), iterating the main context.  Called once by main().
 * SIGTERM, SIGINT or SIGHUP also end the wait (their other handlers run
 * too, so main() sees its shutdown request). */
void chardev_wait_for_clients(void);

#endif /* CHARDEV_CHAR_H */
