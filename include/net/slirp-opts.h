/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/slirp-opts.h - the option strings of -netdev user (libslirp):
 * single addresses, and those that are more than one value: net=,
 * ipv6-net= and hostfwd= rules.
 *
 * They come from the command line or netdev_add, i.e. from whoever
 * manages the proxy, and are parsed here by pure functions (no I/O, no
 * libslirp), so tests/fuzz/fuzz-slirpopts.c can drive them.  Numbers are
 * decimal digits only: no sign, no blank (strtoull's negation once made
 * net=10.0.2.0/-18446744073709551592 a /24).
 */
#ifndef NET_SLIRP_OPTS_H
#define NET_SLIRP_OPTS_H

#include <glib.h>
#include <netinet/in.h>
#include <stdbool.h>

/* One address given for option 'what' (e.g. "dns"), as inet_pton() reads
 * it; the error names the option the way every -netdev user error does. */
gboolean slirp_opt_parse_ip4(const char *what, const char *str,
                             struct in_addr *out, GError **errp);
gboolean slirp_opt_parse_ip6(const char *what, const char *str,
                             struct in6_addr *out, GError **errp);

/* net=ADDR[/BITS|/MASK] (BITS 1..30, a contiguous MASK); a bare address
 * gets /24.  The host bits of ADDR must be zero. */
gboolean slirp_opt_parse_net(const char *str, struct in_addr *net,
                             struct in_addr *mask, GError **errp);

/* ipv6-net=ADDR[/LEN] (LEN 1..126); without LEN, *len is left as is. */
gboolean slirp_opt_parse_net6(const char *str, struct in6_addr *prefix,
                              unsigned *len, GError **errp);

typedef struct SlirpHostFwd {
    bool empty;               /* a blank rule (ignored) */
    bool udp;
    struct in_addr haddr;     /* INADDR_ANY when not given */
    unsigned hport;           /* 0..65535 (0: any) */
    struct in_addr gaddr;     /* the default given when not in the rule */
    unsigned gport;           /* 1..65535 */
} SlirpHostFwd;

/* hostfwd=[tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT (one rule; surrounding
 * blanks ignored).  'guest_default' fills an absent GADDR. */
gboolean slirp_opt_parse_hostfwd(const char *rule,
                                 struct in_addr guest_default,
                                 SlirpHostFwd *out, GError **errp);

#endif /* NET_SLIRP_OPTS_H */
