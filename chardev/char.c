/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * chardev/char.c - the Chardev base class and the CharFrontend API.
 *
 * A Chardev is a UserObject of kind OBJECT_KIND_CHARDEV (-chardev,
 * chardev-add); the backends (char-socket.c) subclass it and implement the
 * ChardevClass vfuncs.  This file holds what every backend shares:
 *
 *   - the frontend slot: at most one CharFrontend (a filter, a compare)
 *     claims a chardev with chr_fe_init(), which also counts a use on the
 *     UserObject so that chardev-remove of a used chardev fails;
 *   - the home context: a chardev does all of its I/O in one GMainContext.
 *     It starts in the main context (so a server listens and a client
 *     connects before anyone uses it) and moves to the context given to
 *     chr_fe_set_handlers().  A move detaches the backend's sources in the
 *     old context and attaches new ones in the new context, each step run
 *     by the thread that owns that context (chardev_run_sync());
 *   - the emit helpers, through which the backend calls the frontend;
 *   - the start-up wait for "server=on,wait=on" chardevs.
 *
 * Threads: chr_fe_init/deinit/set_handlers run in the main thread (the
 * handover is internal).  chr_fe_write and the other chr_fe_* calls and
 * every callback run in the chardev's attached context.  The counters are
 * read from any thread with stats_read().
 */
#include <errno.h>
#include <signal.h>
#include <glib-unix.h>

#include "chardev/char.h"
#include "chardev/char-internal.h"
#include "util/error.h"
#include "qom/iothread.h"
#include "util/stats.h"

typedef struct ChardevPrivate {
    /* frontend (written in the main thread while detached) */
    char *user;               /* frontend's user id, NULL when free */
    gboolean handlers_set;    /* chr_fe_set_handlers() called */
    ChrReadFn read;           /* frontend callbacks, may be NULL */
    ChrEventFn event;
    ChrWritableFn writable;
    void *opaque;
    /* home context */
    GMainContext *ctx;        /* attached context (a reference), or NULL */
    /* state */
    ChardevStats stats;       /* bumped by the backend in its context */
    gint wait_pending;        /* atomic: waiting=on server without client */
    uint64_t out_queued;      /* atomic: bytes in the backend's buffer */
} ChardevPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(Chardev, chardev, USER_TYPE_OBJECT)

#define GET_PRIV(chr) ((ChardevPrivate *)chardev_get_instance_private(chr))

static void chardev_attach(Chardev *chr, GMainContext *ctx);
static void chardev_detach(Chardev *chr);

/* --- frontend API ------------------------------------------------------ */

gboolean chr_fe_init(CharFrontend *fe, const char *id, const char *user_id,
                     GError **errp)
{
    Chardev *chr = chardev_find(id);
    ChardevPrivate *priv;

    fe->chr = NULL;
    fe->user_id = NULL;
    if (!chr) {
        g_set_error(errp, UTIL_ERROR, UTIL_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", id ? id : "");
        return FALSE;
    }
    priv = GET_PRIV(chr);
    if (priv->user) {
        error_setg(errp, "chardev '%s' is already in use by '%s'", id,
                   priv->user);
        return FALSE;
    }
    priv->user = g_strdup(user_id);
    fe->chr = g_object_ref(chr);
    fe->user_id = g_strdup(user_id);
    user_object_ref_use(USER_OBJECT(chr), user_id);
    return TRUE;
}

void chr_fe_set_handlers(CharFrontend *fe, ChrReadFn read, ChrEventFn event,
                         ChrWritableFn writable, void *opaque,
                         GMainContext *ctx)
{
    Chardev *chr = fe->chr;
    ChardevPrivate *priv;

    if (!chr) {
        return;
    }
    priv = GET_PRIV(chr);
    /* No source of the chardev exists between detach and attach, so the
     * fields below are not read concurrently. */
    chardev_detach(chr);
    priv->read = read;
    priv->event = event;
    priv->writable = writable;
    priv->opaque = opaque;
    priv->handlers_set = TRUE;
    chardev_attach(chr, ctx ? ctx : g_main_context_default());
}

gssize chr_fe_write(CharFrontend *fe, const struct iovec *iov, int iovcnt)
{
    Chardev *chr = fe->chr;

    if (!chr) {
        return -ENOTCONN;
    }
    return CHARDEV_BASE_GET_CLASS(chr)->write(chr, iov, iovcnt);
}

void chr_fe_flush(CharFrontend *fe)
{
    Chardev *chr = fe->chr;

    if (chr && CHARDEV_BASE_GET_CLASS(chr)->flush) {
        CHARDEV_BASE_GET_CLASS(chr)->flush(chr);
    }
}

gboolean chr_fe_is_connected(CharFrontend *fe)
{
    Chardev *chr = fe->chr;

    return chr && CHARDEV_BASE_GET_CLASS(chr)->is_connected(chr);
}

gsize chr_fe_out_queued(CharFrontend *fe)
{
    Chardev *chr = fe->chr;

    if (!chr || !CHARDEV_BASE_GET_CLASS(chr)->out_queued) {
        return 0;
    }
    return CHARDEV_BASE_GET_CLASS(chr)->out_queued(chr);
}

void chr_fe_set_read_paused(CharFrontend *fe, gboolean paused)
{
    Chardev *chr = fe->chr;

    if (chr && CHARDEV_BASE_GET_CLASS(chr)->set_read_paused) {
        CHARDEV_BASE_GET_CLASS(chr)->set_read_paused(chr, paused);
    }
}

void chr_fe_disconnect(CharFrontend *fe)
{
    Chardev *chr = fe->chr;

    if (chr && CHARDEV_BASE_GET_CLASS(chr)->disconnect) {
        CHARDEV_BASE_GET_CLASS(chr)->disconnect(chr);
    }
}

/* Releases the chardev: its I/O goes back to the main context with no
 * handlers (a server keeps listening, a client keeps reconnecting, nothing
 * is read).  Main thread. */
void chr_fe_deinit(CharFrontend *fe)
{
    Chardev *chr = fe->chr;
    ChardevPrivate *priv;

    if (!chr) {
        g_clear_pointer(&fe->user_id, g_free);
        return;
    }
    priv = GET_PRIV(chr);
    chardev_detach(chr);
    priv->read = NULL;
    priv->event = NULL;
    priv->writable = NULL;
    priv->opaque = NULL;
    priv->handlers_set = FALSE;
    g_clear_pointer(&priv->user, g_free);
    if (user_object_is_complete(USER_OBJECT(chr))) {
        chardev_attach(chr, g_main_context_default());
    }
    user_object_unref_use(USER_OBJECT(chr), fe->user_id);
    g_clear_pointer(&fe->user_id, g_free);
    fe->chr = NULL;
    g_object_unref(chr);
}

const char *chr_fe_get_id(CharFrontend *fe)
{
    return fe->chr ? user_object_get_id(USER_OBJECT(fe->chr)) : NULL;
}

ChardevStats *chardev_get_stats(Chardev *chr)
{
    return &GET_PRIV(chr)->stats;
}

const char *chardev_get_user(Chardev *chr)
{
    return GET_PRIV(chr)->user;
}

/* --- called by backends ------------------------------------------------ */

void chardev_emit_read(Chardev *chr, const uint8_t *buf, size_t len)
{
    ChardevPrivate *priv = GET_PRIV(chr);

    if (priv->read) {
        priv->read(priv->opaque, buf, len);
    }
}

void chardev_emit_event(Chardev *chr, ChrEvent event)
{
    ChardevPrivate *priv = GET_PRIV(chr);

    if (event == CHR_EVENT_OPENED) {
        chardev_set_wait_pending(chr, FALSE);
    }
    if (priv->event) {
        priv->event(priv->opaque, event);
    }
}

void chardev_emit_writable(Chardev *chr)
{
    ChardevPrivate *priv = GET_PRIV(chr);

    if (priv->writable) {
        priv->writable(priv->opaque);
    }
}

/* How often chardev_wait_for_clients() rechecks while the main context has
 * nothing to do (a chardev served by another context may get its client). */
#define CHARDEV_WAIT_POLL_MS 100

static gboolean chardev_wait_tick(gpointer opaque)
{
    return G_SOURCE_CONTINUE;
}

static gboolean chardev_any_waiting(gboolean report)
{
    GList *list = user_object_list(OBJECT_KIND_CHARDEV);
    gboolean any = FALSE;

    for (GList *l = list; l; l = l->next) {
        Chardev *chr = CHARDEV_BASE(l->data);

        if (chardev_get_wait_pending(chr)) {
            any = TRUE;
            if (report && CHARDEV_BASE_GET_CLASS(chr)->filename) {
                g_autofree char *name =
                    CHARDEV_BASE_GET_CLASS(chr)->filename(chr);

                g_message("waiting for connection on: %s", name);
            }
        }
    }
    g_list_free(list);
    return any;
}

static gboolean chardev_wait_signalled(gpointer opaque)
{
    *(gboolean *)opaque = TRUE;
    return G_SOURCE_CONTINUE;
}

/* Waits as QEMU does at start-up, but a termination signal (whose other
 * handlers, main()'s shutdown request, run as well) ends the wait, so a
 * proxy whose peer never comes can still be stopped. */
void chardev_wait_for_clients(void)
{
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
    GSource *watch[G_N_ELEMENTS(sigs) + 1];
    gboolean signalled = FALSE;

    if (!chardev_any_waiting(TRUE)) {
        return;
    }
    watch[0] = g_timeout_source_new(CHARDEV_WAIT_POLL_MS);
    g_source_set_callback(watch[0], chardev_wait_tick, NULL, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(sigs); i++) {
        watch[i + 1] = g_unix_signal_source_new(sigs[i]);
        g_source_set_callback(watch[i + 1], chardev_wait_signalled,
                              &signalled, NULL);
    }
    for (guint i = 0; i < G_N_ELEMENTS(watch); i++) {
        g_source_attach(watch[i], NULL);
    }
    while (!signalled && chardev_any_waiting(FALSE)) {
        g_main_context_iteration(NULL, TRUE);
    }
    for (guint i = 0; i < G_N_ELEMENTS(watch); i++) {
        g_source_destroy(watch[i]);
        g_source_unref(watch[i]);
    }
}

/* --- internal (char-internal.h) ---------------------------------------- */

Chardev *chardev_find(const char *id)
{
    UserObject *obj;

    if (!id) {
        return NULL;
    }
    obj = user_object_find(OBJECT_KIND_CHARDEV, id);
    return obj && CHARDEV_IS_BASE(obj) ? CHARDEV_BASE(obj) : NULL;
}

void chardev_start(Chardev *chr)
{
    chardev_attach(chr, g_main_context_default());
}

gboolean chardev_fe_handlers_set(Chardev *chr)
{
    return GET_PRIV(chr)->handlers_set;
}

void chardev_set_wait_pending(Chardev *chr, gboolean pending)
{
    g_atomic_int_set(&GET_PRIV(chr)->wait_pending, pending ? 1 : 0);
}

gboolean chardev_get_wait_pending(Chardev *chr)
{
    return g_atomic_int_get(&GET_PRIV(chr)->wait_pending) != 0;
}

void chardev_note_out_queued(Chardev *chr, gsize n)
{
    __atomic_store_n(&GET_PRIV(chr)->out_queued, (uint64_t)n,
                     __ATOMIC_RELAXED);
}

uint64_t chardev_out_queued_any(Chardev *chr)
{
    return stats_read(&GET_PRIV(chr)->out_queued);
}

gboolean chardev_frontend_open(Chardev *chr)
{
    return GET_PRIV(chr)->user != NULL;
}

/* --- context handover -------------------------------------------------- */

typedef struct ChardevSyncCall {
    void (*fn)(Chardev *chr, GMainContext *ctx);
    Chardev *chr;
    GMainContext *ctx;
} ChardevSyncCall;

static gboolean chardev_sync_call_cb(gpointer opaque)
{
    ChardevSyncCall *call = opaque;

    call->fn(call->chr, call->ctx);
    return G_SOURCE_REMOVE;
}

/*
 * Runs 'fn(chr, ctx)' with 'ctx' owned: directly if this thread owns it or
 * can acquire it (nobody iterates it right now, so nothing dispatches
 * concurrently), else in the thread that iterates it (context_run_sync()).
 */
static void chardev_run_sync(GMainContext *ctx,
                             void (*fn)(Chardev *chr, GMainContext *ctx),
                             Chardev *chr)
{
    ChardevSyncCall call = { .fn = fn, .chr = chr, .ctx = ctx };

    if (g_main_context_acquire(ctx)) {
        fn(chr, ctx);
        g_main_context_release(ctx);
        return;
    }
    context_run_sync(ctx, chardev_sync_call_cb, &call);
}

static void chardev_do_attach(Chardev *chr, GMainContext *ctx)
{
    CHARDEV_BASE_GET_CLASS(chr)->attach(chr, ctx);
}

static void chardev_do_detach(Chardev *chr, GMainContext *ctx)
{
    CHARDEV_BASE_GET_CLASS(chr)->detach(chr);
}

/* Moves the backend's sources into 'ctx'.  Must be detached. */
static void chardev_attach(Chardev *chr, GMainContext *ctx)
{
    ChardevPrivate *priv = GET_PRIV(chr);

    g_assert(!priv->ctx);
    priv->ctx = g_main_context_ref(ctx);
    chardev_run_sync(ctx, chardev_do_attach, chr);
}

/* Destroys the backend's sources in their context.  A no-op if detached. */
static void chardev_detach(Chardev *chr)
{
    ChardevPrivate *priv = GET_PRIV(chr);
    GMainContext *ctx = priv->ctx;

    if (!ctx) {
        return;
    }
    chardev_run_sync(ctx, chardev_do_detach, chr);
    priv->ctx = NULL;
    g_main_context_unref(ctx);
}

/* --- class ------------------------------------------------------------- */

/* chardev-remove / shutdown: stop all I/O.  The backend's unparent closes
 * its sockets after chaining up here. */
static void chardev_unparent(UserObject *obj)
{
    chardev_detach(CHARDEV_BASE(obj));
}

/* Detaches while the backend is still whole (its finalize runs after). */
static void chardev_dispose(GObject *gobj)
{
    chardev_detach(CHARDEV_BASE(gobj));
    G_OBJECT_CLASS(chardev_parent_class)->dispose(gobj);
}

static void chardev_finalize(GObject *gobj)
{
    ChardevPrivate *priv = GET_PRIV(CHARDEV_BASE(gobj));

    g_free(priv->user);
    G_OBJECT_CLASS(chardev_parent_class)->finalize(gobj);
}

static void chardev_class_init(ChardevClass *klass)
{
    GObjectClass *gc = G_OBJECT_CLASS(klass);
    UserObjectClass *uc = USER_OBJECT_CLASS(klass);

    gc->dispose = chardev_dispose;
    gc->finalize = chardev_finalize;
    uc->unparent = chardev_unparent;
}

static void chardev_init(Chardev *chr)
{
}
