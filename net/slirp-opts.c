/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/slirp-opts.c - parsers of -netdev user's compound option strings
 * (include/net/slirp-opts.h).  Pure: strings in, values or errors out.
 */
#include <arpa/inet.h>
#include <string.h>

#include "net/slirp-opts.h"
#include "util/error.h"

/* Decimal digits only, at most 'max'. */
static bool parse_dec(const char *s, guint64 max, guint64 *out)
{
    guint64 v = 0;

    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (guint64) (*s - '0')) / 10) {
            return false;
        }
        v = v * 10 + (guint64) (*s - '0');
    }
    *out = v;
    return true;
}

/* "A/B" -> { "A", "B" }, "A" -> { "A" }; never an empty vector (what
 * g_strsplit() gives for "": an empty net= crashed on it). */
static GStrv split_slash(const char *str)
{
    const char *slash = strchr(str, '/');
    GStrv v = g_new0(char *, 3);

    v[0] = slash ? g_strndup(str, (gsize) (slash - str)) : g_strdup(str);
    v[1] = slash ? g_strdup(slash + 1) : NULL;
    return v;
}

gboolean slirp_opt_parse_ip4(const char *what, const char *str,
                             struct in_addr *out, GError **errp)
{
    if (inet_pton(AF_INET, str, out) != 1) {
        error_setg(errp, "Parameter '%s' expects an IPv4 address, got '%s'",
                   what, str);
        return FALSE;
    }
    return TRUE;
}

gboolean slirp_opt_parse_ip6(const char *what, const char *str,
                             struct in6_addr *out, GError **errp)
{
    if (inet_pton(AF_INET6, str, out) != 1) {
        error_setg(errp, "Parameter '%s' expects an IPv6 address, got '%s'",
                   what, str);
        return FALSE;
    }
    return TRUE;
}

gboolean slirp_opt_parse_net(const char *str, struct in_addr *net,
                             struct in_addr *mask, GError **errp)
{
    g_auto(GStrv) parts = split_slash(str);
    guint64 bits = 24;

    if (!slirp_opt_parse_ip4("net", parts[0], net, errp)) {
        return FALSE;
    }
    if (parts[1] && strchr(parts[1], '.')) {
        uint32_t inv;

        if (!slirp_opt_parse_ip4("net", parts[1], mask, errp)) {
            return FALSE;
        }
        inv = ~ntohl(mask->s_addr);
        /* A contiguous mask's complement is 0...01...1. */
        if (!mask->s_addr || (inv & (inv + 1)) != 0) {
            error_setg(errp, "Parameter 'net' has a non-contiguous "
                       "netmask '%s'", parts[1]);
            return FALSE;
        }
    } else {
        if (parts[1] && (!parse_dec(parts[1], 30, &bits) || bits < 1)) {
            error_setg(errp, "Parameter 'net' expects a prefix length "
                       "between 1 and 30, got '%s'", parts[1]);
            return FALSE;
        }
        mask->s_addr = htonl(~0u << (32 - bits));
    }
    if (net->s_addr & ~mask->s_addr) {
        error_setg(errp, "Parameter 'net' has host bits set: '%s'", str);
        return FALSE;
    }
    return TRUE;
}

gboolean slirp_opt_parse_net6(const char *str, struct in6_addr *prefix,
                              unsigned *len, GError **errp)
{
    g_auto(GStrv) parts = split_slash(str);
    guint64 v;

    if (!slirp_opt_parse_ip6("ipv6-net", parts[0], prefix, errp)) {
        return FALSE;
    }
    if (parts[1]) {
        if (!parse_dec(parts[1], 126, &v) || v < 1) {
            error_setg(errp, "Parameter 'ipv6-net' expects a prefix "
                       "length between 1 and 126");
            return FALSE;
        }
        *len = (unsigned) v;
    }
    return TRUE;
}

gboolean slirp_opt_parse_hostfwd(const char *rule,
                                 struct in_addr guest_default,
                                 SlirpHostFwd *out, GError **errp)
{
    g_autofree char *copy = g_strstrip(g_strdup(rule));
    char *p = copy, *host, *guest, *colon;
    guint64 hport, gport;
    const char *why;

    memset(out, 0, sizeof(*out));
    out->haddr.s_addr = INADDR_ANY;
    out->gaddr = guest_default;
    if (!*copy) {
        out->empty = true;
        return TRUE;
    }
    if (g_str_has_prefix(p, "tcp:")) {
        p += 4;
    } else if (g_str_has_prefix(p, "udp:")) {
        out->udp = true;
        p += 4;
    } else if (*p == ':') {
        p += 1;
    } else {
        why = "expected tcp: or udp:";
        goto bad;
    }
    host = p;
    guest = strchr(p, '-');
    if (!guest) {
        why = "missing '-'";
        goto bad;
    }
    *guest++ = '\0';
    /* host part: [ADDR]:PORT */
    colon = strrchr(host, ':');
    if (!colon) {
        why = "missing host port";
        goto bad;
    }
    *colon = '\0';
    if (*host && inet_pton(AF_INET, host, &out->haddr) != 1) {
        why = "bad host address";
        goto bad;
    }
    if (!parse_dec(colon + 1, 65535, &hport)) {
        why = "bad host port";
        goto bad;
    }
    colon = strrchr(guest, ':');
    if (!colon) {
        why = "missing guest port";
        goto bad;
    }
    *colon = '\0';
    if (*guest && inet_pton(AF_INET, guest, &out->gaddr) != 1) {
        why = "bad guest address";
        goto bad;
    }
    if (!parse_dec(colon + 1, 65535, &gport) || gport == 0) {
        why = "bad guest port";
        goto bad;
    }
    out->hport = (unsigned) hport;
    out->gport = (unsigned) gport;
    return TRUE;

bad:
    error_setg(errp, "Invalid host forwarding rule '%s' (%s)", rule, why);
    return FALSE;
}
