/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/log.c - log output, per-module levels and rate limiting
 * (include/util/log.h).
 *
 * log_init() installs a GLib structured-log writer that prints
 *
 *   2026-11-22T16:08:00.123Z colo-net: warning: message text
 *
 * to stderr or to the -D file, one line per message.  Every module logs
 * through GLib with its own G_LOG_DOMAIN, so the domain tells which module
 * spoke, and each module ("log item": net, chardev, ...) has a level of
 * its own: a message is written when its severity is at or above the
 * module's level.  The default level is "notice" (GLib's g_message());
 * -d ITEMS lowers the named items to "debug", QMP's set-log-level sets any
 * level at run time.  G_MESSAGES_DEBUG still shows g_debug() and g_info()
 * of the domains it names, as GLib does.
 *
 * Started by systemd with stderr connected to the journal (JOURNAL_STREAM
 * names stderr's device and inode, systemd.exec(5)), the lines carry the
 * syslog priority as a "<N>" prefix instead of a timestamp: the journal
 * stamps them itself and files them under that priority
 * (SyslogLevelPrefix=, on by default).
 *
 * RateLimit keeps a flood of network-triggered warnings out of the log:
 * 'burst' messages per 'interval_ms' window pass, the rest are counted, and
 * the count is appended to the next message that passes.
 *
 * Threads: the writer may be called from any thread (fputs of one line
 * under a mutex; the levels are atomic ints); a RateLimit belongs to one
 * thread.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/error.h"

static GMutex log_lock;            /* protects the two below */
static FILE *log_file;             /* -D file, or NULL for stderr */
static gboolean log_journal;       /* stderr is the journal: <N> prefixes */
static gboolean log_writer_installed;

/* The log items, one per G_LOG_DOMAIN of the tree (the meson.build files
 * set them); "other" stands for every domain not listed (GLib's own, the
 * tests'). */
static const ColoLogItem log_items[] = {
    { "main", "colo-proxy", "start-up, shutdown and signals (system/)" },
    { "monitor", "colo-monitor", "QMP monitors: clients, commands, events" },
    { "frame", "colo-frame",
      "the COLO frame: checkpoints, failover, heartbeat" },
    { "net", "colo-net",
      "netdevs, devices, filters, colo-compare; connections of stream "
      "netdevs" },
    { "pkt", "colo-pkt",
      "packet engines: parsing, compare, rewriter, connection tracking" },
    { "chardev", "colo-chardev", "socket chardevs and their connections" },
    { "qom", "colo-qom", "object creation and deletion, iothreads" },
    { "util", "colo-util", "sockets, polling, rate-limited warnings" },
    { "other", NULL, "messages of any other domain (GLib's)" },
};
#define N_LOG_ITEMS G_N_ELEMENTS(log_items)

/* Each item's level: the least severe ColoLogLevel written.  Atomic. */
static gint log_levels[N_LOG_ITEMS] = {
    [0 ... N_LOG_ITEMS - 1] = COLO_LOG_NOTICE,
};

static const char *const level_names[] = {
    [COLO_LOG_ERROR] = "error",
    [COLO_LOG_WARNING] = "warning",
    [COLO_LOG_NOTICE] = "notice",
    [COLO_LOG_INFO] = "info",
    [COLO_LOG_DEBUG] = "debug",
};

const ColoLogItem *colo_log_items(size_t *n)
{
    *n = N_LOG_ITEMS;
    return log_items;
}

const char *colo_log_level_name(ColoLogLevel level)
{
    if (level < COLO_LOG_ERROR || level > COLO_LOG_DEBUG) {
        return "?";
    }
    return level_names[level];
}

gboolean colo_log_level_parse(const char *name, ColoLogLevel *out)
{
    for (int l = COLO_LOG_ERROR; l <= COLO_LOG_DEBUG; l++) {
        if (strcmp(name, level_names[l]) == 0) {
            *out = l;
            return TRUE;
        }
    }
    return FALSE;
}

static int log_item_index(const char *name)
{
    for (size_t i = 0; i < N_LOG_ITEMS; i++) {
        if (strcmp(log_items[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

/* The item of a GLib domain; "other" for anything unlisted. */
static size_t log_item_of_domain(const char *domain)
{
    for (size_t i = 0; i < N_LOG_ITEMS - 1; i++) {
        if (domain && strcmp(log_items[i].domain, domain) == 0) {
            return i;
        }
    }
    return N_LOG_ITEMS - 1;
}

ColoLogLevel colo_log_get_level(const char *item)
{
    int i = log_item_index(item);

    return i < 0 ? COLO_LOG_NOTICE : g_atomic_int_get(&log_levels[i]);
}

gboolean colo_log_set_level(const char *item, ColoLogLevel level,
                            GError **errp)
{
    int i;

    if (level < COLO_LOG_ERROR || level > COLO_LOG_DEBUG) {
        error_setg(errp, "invalid log level %d", (int)level);
        return FALSE;
    }
    if (strcmp(item, "all") == 0) {
        for (size_t j = 0; j < N_LOG_ITEMS; j++) {
            g_atomic_int_set(&log_levels[j], level);
        }
        return TRUE;
    }
    i = log_item_index(item);
    if (i < 0) {
        g_autoptr(GString) names = g_string_new("all");

        for (size_t j = 0; j < N_LOG_ITEMS; j++) {
            g_string_append_printf(names, ", %s", log_items[j].name);
        }
        error_setg(errp, "unknown log item '%s' (the items are: %s)", item,
                   names->str);
        return FALSE;
    }
    g_atomic_int_set(&log_levels[i], level);
    return TRUE;
}

gboolean colo_log_enable_items(const char *items, GError **errp)
{
    g_auto(GStrv) names = g_strsplit(items, ",", -1);

    if (!names[0]) {
        error_setg(errp, "no log item given (try -d help)");
        return FALSE;
    }
    /* Check them all first: a typo enables nothing. */
    for (int i = 0; names[i]; i++) {
        if (strcmp(names[i], "all") != 0 && log_item_index(names[i]) < 0) {
            g_autoptr(GError) err = NULL;

            colo_log_set_level(names[i], COLO_LOG_DEBUG, &err);
            error_setg(errp, "%s (try -d help)", err->message);
            return FALSE;
        }
    }
    for (int i = 0; names[i]; i++) {
        colo_log_set_level(names[i], COLO_LOG_DEBUG, NULL);
    }
    return TRUE;
}

/* GLib's level as a syslog priority. */
static ColoLogLevel log_severity(GLogLevelFlags level)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
        return COLO_LOG_ERROR;
    } else if (level & G_LOG_LEVEL_WARNING) {
        return COLO_LOG_WARNING;
    } else if (level & G_LOG_LEVEL_MESSAGE) {
        return COLO_LOG_NOTICE;
    } else if (level & G_LOG_LEVEL_INFO) {
        return COLO_LOG_INFO;
    }
    return COLO_LOG_DEBUG;
}

/* The word in each line: GLib's names, as before levels existed. */
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

/* True if stderr is the stream systemd connected to the journal: the
 * device and inode in JOURNAL_STREAM ("DEV:INO") are stderr's. */
static gboolean stderr_is_journal(void)
{
    const char *env = g_getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 ||
        fstat(STDERR_FILENO, &st) < 0) {
        return FALSE;
    }
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

static GLogWriterOutput log_writer(GLogLevelFlags level,
                                   const GLogField *fields, gsize n_fields,
                                   gpointer user_data)
{
    const char *domain = NULL;
    const char *message = NULL;
    g_autofree char *line = NULL;
    ColoLogLevel severity = log_severity(level);
    size_t item;
    gint64 now_us;
    time_t secs;
    struct tm tm;
    char stamp[32];
    FILE *out;

    for (gsize i = 0; i < n_fields; i++) {
        if (strcmp(fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0) {
            domain = fields[i].value;
        } else if (strcmp(fields[i].key, "MESSAGE") == 0 &&
                   fields[i].length < 0) {
            message = fields[i].value;
        }
    }

    item = log_item_of_domain(domain);
    if (severity > (ColoLogLevel)g_atomic_int_get(&log_levels[item]) &&
        !(severity >= COLO_LOG_INFO && log_debug_env_wants(domain))) {
        return G_LOG_WRITER_HANDLED;
    }

    g_mutex_lock(&log_lock);
    out = log_file ? log_file : stderr;
    if (!log_file && log_journal) {
        line = g_strdup_printf("<%d>%s: %s: %s\n", (int)severity,
                               domain ? domain : "colo-proxy",
                               log_level_name(level),
                               message ? message : "(no message)");
    } else {
        now_us = g_get_real_time();
        secs = now_us / G_USEC_PER_SEC;
        gmtime_r(&secs, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        line = g_strdup_printf("%s.%03dZ %s: %s: %s\n", stamp,
                               (int)((now_us % G_USEC_PER_SEC) / 1000),
                               domain ? domain : "colo-proxy",
                               log_level_name(level),
                               message ? message : "(no message)");
    }
    fputs(line, out);
    fflush(out);
    g_mutex_unlock(&log_lock);
    return G_LOG_WRITER_HANDLED;
}

/* Main thread, at start-up (may be called again to switch the output; the
 * writer itself is installed once per process). */
gboolean log_init(const char *path, gboolean debug, GError **errp)
{
    FILE *f = NULL;
    FILE *old;

    if (path) {
        f = fopen(path, "a");
        if (!f) {
            g_set_error(errp, UTIL_ERROR, UTIL_ERROR_GENERIC,
                        "could not open log file '%s': %s", path,
                        g_strerror(errno));
            return FALSE;
        }
        setvbuf(f, NULL, _IOLBF, 0);
    }

    colo_log_set_level("all", debug ? COLO_LOG_DEBUG : COLO_LOG_NOTICE, NULL);
    g_mutex_lock(&log_lock);
    old = log_file;
    log_file = f;
    log_journal = stderr_is_journal();
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

void log_warn_rl_domain(const char *domain, RateLimit *rl,
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

void log_warn_rl(RateLimit *rl, const char *fmt, ...)
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

void colo_notice_rl_domain(const char *domain, RateLimit *rl,
                           const char *fmt, ...)
{
    static GMutex rl_lock;
    uint64_t suppressed = 0;
    g_autofree char *msg = NULL;
    gboolean allow;
    va_list ap;

    g_mutex_lock(&rl_lock);
    allow = ratelimit_allow(rl, &suppressed);
    g_mutex_unlock(&rl_lock);
    if (!allow) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (suppressed) {
        g_log(domain, G_LOG_LEVEL_MESSAGE,
              "%s (%" G_GUINT64_FORMAT " similar messages suppressed)",
              msg, suppressed);
    } else {
        g_log(domain, G_LOG_LEVEL_MESSAGE, "%s", msg);
    }
}
