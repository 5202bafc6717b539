/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/log.h - logging and rate limiting.
 *
 * Every subdirectory sets its own G_LOG_DOMAIN ("colo-net", "colo-chardev",
 * ...) in meson, and logs through GLib (g_warning, g_message, g_debug).
 * Each domain is a log item with a level of its own (-d, QMP's
 * query-log-levels and set-log-level).
 * log_init() installs a writer that prefixes a timestamp and the domain
 * and writes to stderr or to the -D file.
 *
 * Anything a remote peer or a guest can trigger is logged through a
 * RateLimit so that a flood cannot flood the log: at most 'burst' messages
 * per 'interval_ms', and the number suppressed is reported with the next
 * message that gets through.  Use the LOG_WARN_RL() macro, which keeps one
 * static RateLimit per call site, or embed a RateLimit in an object for a
 * per-object limit.  A RateLimit is not thread-safe: keep one per thread.
 */
#ifndef UTIL_LOG_H
#define UTIL_LOG_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

/* Sends log output to 'path' (append), or to stderr when 'path' is NULL
 * (with "<N>" priority prefixes when stderr is systemd's journal stream).
 * Sets every item's level to "debug" if 'debug', else to "notice".
 * Returns FALSE with errp set when the file cannot be opened. */
gboolean log_init(const char *path, gboolean debug, GError **errp);

/* Severities, numbered as syslog's priorities (and the journal's). */
typedef enum ColoLogLevel {
    COLO_LOG_ERROR = 3,       /* g_critical(), g_error() */
    COLO_LOG_WARNING = 4,     /* g_warning() */
    COLO_LOG_NOTICE = 5,      /* g_message(): the default level */
    COLO_LOG_INFO = 6,        /* g_info() */
    COLO_LOG_DEBUG = 7,       /* g_debug() */
} ColoLogLevel;

/* A log item: what -d, query-log-levels and set-log-level name.  Each is
 * one G_LOG_DOMAIN; the last, "other", has domain NULL and stands for
 * every domain not listed. */
typedef struct ColoLogItem {
    const char *name;         /* "net" */
    const char *domain;       /* "colo-net" */
    const char *help;         /* one line for -d help */
} ColoLogItem;

/* The items, in a fixed order; '*n' receives their number. */
const ColoLogItem *colo_log_items(size_t *n);
/* "error" ... "debug"; FALSE if 'name' is none of them. */
const char *colo_log_level_name(ColoLogLevel level);
gboolean colo_log_level_parse(const char *name, ColoLogLevel *out);
/* An item's level (the least severe message written).  Any thread. */
ColoLogLevel colo_log_get_level(const char *item);
/* Sets 'item' ("all": every item) to 'level'; FALSE with errp naming the
 * items if 'item' is unknown.  Any thread. */
gboolean colo_log_set_level(const char *item, ColoLogLevel level,
                            GError **errp);
/* -d ITEMS: "net,chardev" or "all" set to "debug"; an unknown item
 * enables nothing and fails naming it.  Any thread. */
gboolean colo_log_enable_items(const char *items, GError **errp);

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
void log_warn_rl(RateLimit *rl, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* The same, in log domain 'domain' (LOG_WARN_RL passes the caller's
 * G_LOG_DOMAIN, so the log line names the module that warned). */
void log_warn_rl_domain(const char *domain, RateLimit *rl,
                         const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* A warning limited to 5 messages per 5 seconds at this call site. */
#define LOG_WARN_RL(...) do {                                  \
        static RateLimit rl_ = RATE_LIMIT_INIT(5, 5000);        \
        log_warn_rl_domain(G_LOG_DOMAIN, &rl_, __VA_ARGS__);   \
    } while (0)

/* A notice (g_message) in log domain 'domain' through 'rl', which may be
 * shared by threads: the check runs under a lock.  For events a peer can
 * repeat at will but an operator wants to see, such as connections
 * opened and lost. */
void colo_notice_rl_domain(const char *domain, RateLimit *rl,
                           const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* A notice limited to 10 messages per 5 seconds at this call site, from
 * any thread. */
#define COLO_NOTICE_RL(...) do {                                  \
        static RateLimit rl_ = RATE_LIMIT_INIT(10, 5000);         \
        colo_notice_rl_domain(G_LOG_DOMAIN, &rl_, __VA_ARGS__);   \
    } while (0)

#endif /* UTIL_LOG_H */
