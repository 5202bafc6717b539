/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/log.h - logging and rate limiting.
 *
 * Every subdirectory sets its own G_LOG_DOMAIN ("colo-net", "colo-chardev",
 * ...) in meson, and logs through GLib (g_warning, g_message, g_debug).
 * colo_log_init() installs a writer that prefixes a timestamp and the domain
 * and writes to stderr or to the -D file.
 *
 * Anything a remote peer or a guest can trigger is logged through a
 * RateLimit so that a flood cannot flood the log: at most 'burst' messages
 * per 'interval_ms', and the number suppressed is reported with the next
 * message that gets through.  Use the COLO_WARN_RL() macro, which keeps one
 * static RateLimit per call site, or embed a RateLimit in an object for a
 * per-object limit.  A RateLimit is not thread-safe: keep one per thread.
 */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Sends log output to 'path' (append), or to stderr when 'path' is NULL.
 * 'debug' enables g_debug() output.  Returns FALSE with errp set when the
 * file cannot be opened. */
gboolean colo_log_init(const char *path, gboolean debug, GError **errp);

typedef struct RateLimit {
    unsigned burst;           /* messages allowed per interval */
    unsigned interval_ms;     /* length of the interval */
    unsigned count;           /* messages passed in the current interval */
    uint64_t suppressed;      /* messages dropped since the last one passed */
    int64_t window_start_us;  /* g_get_monotonic_time() of the interval start */
} RateLimit;

#define RATE_LIMIT_INIT(BURST, INTERVAL_MS) \
    { .burst = (BURST), .interval_ms = (INTERVAL_MS) }

/* Returns true if a message may be logged now.  When it returns true and
 * messages were suppressed before, '*suppressed' (if not NULL) receives their
 * number and the count restarts at zero. */
bool ratelimit_allow(RateLimit *rl, uint64_t *suppressed);

/* Logs a warning through 'rl' (in the "colo-util" log domain). */
void colo_warn_rl(RateLimit *rl, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* The same, in log domain 'domain' (COLO_WARN_RL passes the caller's
 * G_LOG_DOMAIN, so the log line names the module that warned). */
void colo_warn_rl_domain(const char *domain, RateLimit *rl,
                         const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* A warning limited to 5 messages per 5 seconds at this call site. */
#define COLO_WARN_RL(...) do {                                  \
        static RateLimit rl_ = RATE_LIMIT_INIT(5, 5000);        \
        colo_warn_rl_domain(G_LOG_DOMAIN, &rl_, __VA_ARGS__);   \
    } while (0)

#endif /* UTIL_LOG_H */
