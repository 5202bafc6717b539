/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/log.c - log output and rate limiting (include/util/log.h).
 *
 * colo_log_init() installs a GLib structured-log writer that prints
 *
 *   2026-11-22T16:08:00.123Z colo-net: warning: message text
 *
 * to stderr or to the -D file, one line per message.  Every module logs
 * through GLib with its own G_LOG_DOMAIN, so the domain tells which module
 * spoke.  g_debug() output is shown only with 'debug' (or when
 * G_MESSAGES_DEBUG names the domain, as GLib does).
 *
 * RateLimit keeps a flood of network-triggered warnings out of the log:
 * 'burst' messages per 'interval_ms' window pass, the rest are counted, and
 * the count is appended to the next message that passes.
 *
 * Threads: the writer may be called from any thread (fputs of one line
 * under a mutex); a RateLimit belongs to one thread.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <errno.h>

#include "util/log.h"
#include "util/error.h"

static GMutex log_lock;            /* protects the three below */
static FILE *log_file;             /* -D file, or NULL for stderr */
static gboolean log_debug;         /* show g_debug() */
static gboolean log_writer_installed;

static const char *log_level_name(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR) {
        return "error";
    } else if (level & G_LOG_LEVEL_CRITICAL) {
        return "critical";
    } else if (level & G_LOG_LEVEL_WARNING) {
        return "warning";
    } else if (level & G_LOG_LEVEL_MESSAGE) {
        return "message";
    } else if (level & G_LOG_LEVEL_INFO) {
        return "info";
    }
    return "debug";
}

/* True if G_MESSAGES_DEBUG asks for 'domain' ("all" or a list of names). */
static gboolean log_debug_env_wants(const char *domain)
{
    const char *env = g_getenv("G_MESSAGES_DEBUG");

    if (!env || !*env) {
        return FALSE;
    }
    if (strcmp(env, "all") == 0) {
        return TRUE;
    }
    return domain && strstr(env, domain) != NULL;
}

static GLogWriterOutput log_writer(GLogLevelFlags level,
                                   const GLogField *fields, gsize n_fields,
                                   gpointer user_data)
{
    const char *domain = NULL;
    const char *message = NULL;
    g_autofree char *line = NULL;
    gint64 now_us;
    time_t secs;
    struct tm tm;
    char stamp[32];

    for (gsize i = 0; i < n_fields; i++) {
        if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0) {
            domain = fields[i].value;
        } else if (strcmp(fields[i].key, "MESSAGE") == 0 &&
                   fields[i].length < 0) {
            message = fields[i].value;
        }
    }

    if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) &&
        !(level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL |
                   G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))) {
        gboolean show;

        g_mutex_lock(&log_lock);
        show = log_debug;
        g_mutex_unlock(&log_lock);
        if (!show && !log_debug_env_wants(domain)) {
            return G_LOG_WRITER_HANDLED;
        }
    }

    now_us = g_get_real_time();
    secs = now_us / G_USEC_PER_SEC;
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    line = g_strdup_printf("%s.%03dZ %s: %s: %s\n", stamp,
                           (int)((now_us % G_USEC_PER_SEC) / 1000),
                           domain ? domain : "colo-proxy",
                           log_level_name(level),
                           message ? message : "(no message)");

    g_mutex_lock(&log_lock);
    fputs(line, log_file ? log_file : stderr);
    fflush(log_file ? log_file : stderr);
    g_mutex_unlock(&log_lock);
    return G_LOG_WRITER_HANDLED;
}

/* Main thread, at start-up (may be called again to switch the output; the
 * writer itself is installed once per process). */
gboolean colo_log_init(const char *path, gboolean debug, GError **errp)
{
    FILE *f = NULL;
    FILE *old;

    if (path) {
        f = fopen(path, "a");
        if (!f) {
            g_set_error(errp, COLO_ERROR, COLO_ERROR_GENERIC,
                        "could not open log file '%s': %s", path,
                        g_strerror(errno));
            return FALSE;
        }
        setvbuf(f, NULL, _IOLBF, 0);
    }

    g_mutex_lock(&log_lock);
    old = log_file;
    log_file = f;
    log_debug = debug;
    g_mutex_unlock(&log_lock);
    if (old) {
        fclose(old);
    }

    if (!log_writer_installed) {
        log_writer_installed = TRUE;
        g_log_set_writer_func(log_writer, NULL, NULL);
    }
    return TRUE;
}

/* A zero-initialised RateLimit gets these. */
#define RL_DEFAULT_BURST        5
#define RL_DEFAULT_INTERVAL_MS  5000

bool ratelimit_allow(RateLimit *rl, uint64_t *suppressed)
{
    gint64 now = g_get_monotonic_time();
    unsigned burst = rl->burst ? rl->burst : RL_DEFAULT_BURST;
    unsigned interval = rl->interval_ms ? rl->interval_ms
                                        : RL_DEFAULT_INTERVAL_MS;

    if (rl->window_start_us == 0 ||
        now - rl->window_start_us >= (int64_t)interval * 1000) {
        rl->window_start_us = now;
        rl->count = 0;
    }
    if (rl->count >= burst) {
        rl->suppressed++;
        return false;
    }
    rl->count++;
    if (suppressed) {
        *suppressed = rl->suppressed;
    }
    rl->suppressed = 0;
    return true;
}

void colo_warn_rl_domain(const char *domain, RateLimit *rl,
                         const char *fmt, ...)
{
    uint64_t suppressed = 0;
    g_autofree char *msg = NULL;
    va_list ap;

    if (!ratelimit_allow(rl, &suppressed)) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (suppressed) {
        g_log(domain, G_LOG_LEVEL_WARNING,
              "%s (%" G_GUINT64_FORMAT " similar messages suppressed)",
              msg, suppressed);
    } else {
        g_log(domain, G_LOG_LEVEL_WARNING, "%s", msg);
    }
}

void colo_warn_rl(RateLimit *rl, const char *fmt, ...)
{
    uint64_t suppressed = 0;
    g_autofree char *msg = NULL;
    va_list ap;

    if (!ratelimit_allow(rl, &suppressed)) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (suppressed) {
        g_warning("%s (%" G_GUINT64_FORMAT " similar messages suppressed)",
                  msg, suppressed);
    } else {
        g_warning("%s", msg);
    }
}
