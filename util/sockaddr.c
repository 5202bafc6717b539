/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/sockaddr.c - socket addresses in QEMU's spellings.
 *
 * See include/util/sockaddr.h for the rules; this file only explains why
 * a line is as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "util/error.h"
#include "util/sockaddr.h"
#include "util/socket.h"

/* Sets "WHAT: MESSAGE", or "MESSAGE" without 'what'. */
G_GNUC_PRINTF(3, 4)
static void sa_error(GError **errp, const char *what, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (what) {
        error_setg(errp, "%s: %s", what, msg);
    } else {
        error_setg(errp, "%s", msg);
    }
}

/* --- parsing ------------------------------------------------------------- */

gboolean sockaddr_port_check(const char *port, const char *what,
                             GError **errp)
{
    const char *p;

    if (!port || !*port) {
        sa_error(errp, what, "a port is required");
        return FALSE;
    }
    if (g_ascii_isdigit(port[0])) {
        guint64 v = 0;

        /* Digits only, no sign, no blank: getaddrinfo() would read "-1"
         * and "99999" as numbers and wrap them into a 16-bit port. */
        for (p = port; *p; p++) {
            if (!g_ascii_isdigit(*p)) {
                sa_error(errp, what, "port '%s' is not a port number", port);
                return FALSE;
            }
            if (v <= 65535) {
                v = v * 10 + (guint64)(*p - '0');
            }
        }
        if (v > 65535) {
            sa_error(errp, what, "port %s out of range (0-65535)", port);
            return FALSE;
        }
        return TRUE;
    }
    /* A service name as /etc/services spells them. */
    if (!g_ascii_isalpha(port[0])) {
        sa_error(errp, what, "'%s' is not a port number or service name",
                 port);
        return FALSE;
    }
    for (p = port; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != '.') {
            sa_error(errp, what, "'%s' is not a port number or service name",
                     port);
            return FALSE;
        }
    }
    return TRUE;
}

char *sockaddr_host_unbracket(const char *host)
{
    size_t n;

    if (!host) {
        return NULL;
    }
    n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        return g_strndup(host + 1, n - 2);
    }
    return g_strdup(host);
}

char *sockaddr_host_port_str(const char *host, const char *port)
{
    return strchr(host, ':') ? g_strdup_printf("[%s]:%s", host, port)
                             : g_strdup_printf("%s:%s", host, port);
}

gboolean sockaddr_split_host_port(const char *str, char **host,
                                  char **port, const char *what,
                                  GError **errp)
{
    const char *colon;
    const char *h;
    size_t hlen;

    if (!str || !*str) {
        sa_error(errp, what, "expected host:port");
        return FALSE;
    }
    if (str[0] == '[') {
        const char *end = strchr(str, ']');

        if (!end || end[1] != ':') {
            sa_error(errp, what, "expected [host]:port, got '%s'", str);
            return FALSE;
        }
        h = str + 1;
        hlen = end - h;
        colon = end + 1;
    } else {
        colon = strrchr(str, ':');
        if (!colon) {
            sa_error(errp, what, "expected host:port, got '%s'", str);
            return FALSE;
        }
        h = str;
        hlen = colon - str;
    }
    *host = g_strndup(h, hlen);
    *port = g_strdup(colon + 1);
    return TRUE;
}

SockSpecKind sockaddr_spec_kind(const char *spec, const char **rest)
{
    SockSpecKind k = SOCK_SPEC_NONE;
    size_t skip = 0;

    if (spec && g_str_has_prefix(spec, "unix:")) {
        k = SOCK_SPEC_UNIX;
        skip = 5;
    } else if (spec && g_str_has_prefix(spec, "tcp:")) {
        k = SOCK_SPEC_INET;
        skip = 4;
    }
    if (rest) {
        *rest = k ? spec + skip : NULL;
    }
    return k;
}

/* The one length rule for unix names. */
static gboolean sa_unix_path_check(const char *path, const char *what,
                                   GError **errp)
{
    size_t n = path ? strlen(path) : 0;

    if (n == 0) {
        sa_error(errp, what, "UNIX socket path is empty");
        return FALSE;
    }
    if (n > SOCKADDR_UNIX_PATH_MAX) {
        sa_error(errp, what, "UNIX socket path '%s' is too long (%zu bytes, "
                 "at most %zu)", path, n, (size_t)SOCKADDR_UNIX_PATH_MAX);
        return FALSE;
    }
    return TRUE;
}

gboolean sockaddr_parse_spec(SockSpec *s, const char *spec,
                             gboolean bare_path, const char *what,
                             GError **errp)
{
    const char *rest = NULL;

    memset(s, 0, sizeof(*s));
    s->kind = sockaddr_spec_kind(spec, &rest);
    if (!s->kind && bare_path && spec && spec[0] == '/') {
        s->kind = SOCK_SPEC_UNIX;
        rest = spec;
    }
    switch (s->kind) {
    case SOCK_SPEC_UNIX:
        if (!sa_unix_path_check(rest, what, errp)) {
            break;
        }
        s->path = g_strdup(rest);
        return TRUE;
    case SOCK_SPEC_INET:
        if (!sockaddr_split_host_port(rest, &s->host, &s->port, what, errp)) {
            break;
        }
        if (!sockaddr_port_check(s->port, what, errp)) {
            break;
        }
        return TRUE;
    default:
        sa_error(errp, what, "expected unix:PATH or tcp:HOST:PORT, got '%s'",
                 spec ? spec : "");
        break;
    }
    sock_spec_clear(s);
    return FALSE;
}

void sock_spec_clear(SockSpec *s)
{
    g_clear_pointer(&s->path, g_free);
    g_clear_pointer(&s->host, g_free);
    g_clear_pointer(&s->port, g_free);
    s->kind = SOCK_SPEC_NONE;
}

/* --- addresses ----------------------------------------------------------- */

gboolean sockaddr_unix(SockAddr *a, const char *path, gboolean abstract,
                       gboolean tight, const char *what, GError **errp)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
    size_t n;

    if (!sa_unix_path_check(path, what, errp)) {
        return FALSE;
    }
    n = strlen(path);
    memset(a, 0, sizeof(*a));
    un->sun_family = AF_UNIX;
    if (abstract) {
        /* The leading NUL takes the place of a file path's trailing one,
         * so both kinds hold SOCKADDR_UNIX_PATH_MAX bytes of name. */
        memcpy(un->sun_path + 1, path, n);
        a->len = tight ? offsetof(struct sockaddr_un, sun_path) + 1 + n
                       : sizeof(*un);
    } else {
        memcpy(un->sun_path, path, n);
        a->len = offsetof(struct sockaddr_un, sun_path) + n + 1;
    }
    return TRUE;
}

gboolean sockaddr_inet(SockAddr *a, const char *host, const char *port,
                       gboolean passive, const char *what, GError **errp)
{
    g_autofree char *h = sockaddr_host_unbracket(host);
    int rc;

    if (!sockaddr_port_check(port, what, errp)) {
        return FALSE;
    }
    rc = sock_resolve_first(a, h, port, passive);   /* util/socket.c */
    if (rc == EAI_SERVICE) {
        /* getaddrinfo's "Servname not supported for ai_socktype" */
        sa_error(errp, what, "port '%s' is neither a number (0-65535) nor "
                 "a service name known to /etc/services", port);
        return FALSE;
    }
    if (rc != 0) {
        sa_error(errp, what, "address resolution failed for %s:%s: %s",
                 h ? h : "", port, gai_strerror(rc));
        return FALSE;
    }
    return TRUE;
}

gboolean sockaddr_parse_host_port(SockAddr *a, const char *str,
                                  gboolean passive, const char *what,
                                  GError **errp)
{
    g_autofree char *host = NULL;
    g_autofree char *port = NULL;

    if (!sockaddr_split_host_port(str, &host, &port, what, errp)) {
        return FALSE;
    }
    return sockaddr_inet(a, host, port, passive, what, errp);
}

gboolean sockaddr_from_fields(SockAddr *a, const char *prefix,
                              const char *type, const char *host,
                              const char *port, const char *path,
                              gboolean abstract, gboolean tight,
                              gboolean passive, GError **errp)
{
    if (!strcmp(type, "inet")) {
        if (!host && !passive) {
            error_setg(errp, "Parameter '%s.host' is missing", prefix);
            return FALSE;
        }
        if (!port) {
            error_setg(errp, "Parameter '%s.port' is missing", prefix);
            return FALSE;
        }
        return sockaddr_inet(a, host, port, passive, prefix, errp);
    }
    g_assert(!strcmp(type, "unix"));
    if (!path) {
        error_setg(errp, "Parameter '%s.path' is missing", prefix);
        return FALSE;
    }
    {
        g_autofree char *what = g_strdup_printf("%s.path", prefix);

        return sockaddr_unix(a, path, abstract, tight, what, errp);
    }
}

const char *sockaddr_str(const SockAddr *a, char *buf, size_t size)
{
    if (a->ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const void *)&a->ss;
        size_t plen = a->len > offsetof(struct sockaddr_un, sun_path) ?
            a->len - offsetof(struct sockaddr_un, sun_path) : 0;

        if (plen && un->sun_path[0] == '\0') {
            snprintf(buf, size, "unix:@%.*s", (int)(plen - 1),
                     un->sun_path + 1);
        } else {
            snprintf(buf, size, "unix:%.*s", (int)strnlen(un->sun_path,
                     sizeof(un->sun_path)), un->sun_path);
        }
    } else if (a->ss.ss_family == AF_INET || a->ss.ss_family == AF_INET6) {
        g_autofree char *d = sockaddr_describe((const void *)&a->ss, a->len);

        snprintf(buf, size, "%s", d);
    } else {
        snprintf(buf, size, "fd");
    }
    return buf;
}

char *sockaddr_describe(const struct sockaddr *sa, socklen_t len)
{
    char host[INET6_ADDRSTRLEN];

    switch (sa->sa_family) {
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
        size_t off = offsetof(struct sockaddr_un, sun_path);

        if (len > off && un->sun_path[0] == '\0') {
            /* Abstract: the name is exactly as long as the address says
             * (tight) or runs to the end of sun_path (tight=off). */
            return g_strndup(un->sun_path + 1, len - off - 1);
        }
        return g_strndup(un->sun_path, len > off ? len - off : 0);
    }
    case AF_INET: {
        const struct sockaddr_in *in = (const void *)sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        return g_strdup_printf("%s:%u", host, ntohs(in->sin_port));
    }
    case AF_INET6: {
        const struct sockaddr_in6 *in6 = (const void *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        return g_strdup_printf("[%s]:%u", host, ntohs(in6->sin6_port));
    }
    default:
        return g_strdup("?:?");
    }
}

gboolean sockaddr_equal(const SockAddr *a, const SockAddr *b)
{
    if (a->ss.ss_family != b->ss.ss_family) {
        return FALSE;
    }
    switch (a->ss.ss_family) {
    case AF_INET: {
        const struct sockaddr_in *x = (const void *)&a->ss;
        const struct sockaddr_in *y = (const void *)&b->ss;

        return x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *x = (const void *)&a->ss;
        const struct sockaddr_in6 *y = (const void *)&b->ss;

        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
    }
    default:
        return a->len == b->len && !memcmp(&a->ss, &b->ss, a->len);
    }
}
