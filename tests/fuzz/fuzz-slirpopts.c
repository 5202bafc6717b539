/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-slirpopts.c - fuzz target for the compound option
 * strings of -netdev user / netdev_add type=user (net/slirp-opts.c):
 * net=, ipv6-net= and each hostfwd= rule.
 *
 * Input layout: byte 0 picks the parser (0: net, 1: ipv6-net, 2:
 * hostfwd), the rest, cut at the first NUL, is the option's value.
 * Besides "no crash, no out-of-bounds access, no leak" it checks:
 *   - success xor an error;
 *   - net: the mask is contiguous and not empty, the address has no host
 *     bits; a numeric prefix is accepted exactly when it is 1..30 written
 *     in decimal digits alone (no sign, no blank: "/-18446744073709551592"
 *     used to wrap around to /24 through strtoull); the value printed back
 *     parses to the same net and mask;
 *   - ipv6-net: the length is 1..126 and the value printed back parses to
 *     the same prefix and length;
 *   - hostfwd: ports in range (guest port not 0), both port fields digits
 *     alone; the rule printed back in canonical form parses to the same.
 * A violated property aborts, which libFuzzer reports as a crash.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/slirp-opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-slirpopts: %s:%d: property failed: "   \
                    "%s\n", __FILE__, __LINE__, #cond);                 \
            abort();                                                    \
        }                                                               \
    } while (0)

static bool all_digits(const char *s, size_t n)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/* The decimal value of n digits, saturated at 1000. */
static unsigned small_value(const char *s, size_t n)
{
    unsigned v = 0;

    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (unsigned) (s[i] - '0');
        if (v > 1000) {
            return 1000;
        }
    }
    return v;
}

static void fuzz_net(const char *str)
{
    struct in_addr net, mask, net2, mask2;
    GError *err = NULL;
    const char *slash = strchr(str, '/');
    char buf[64], abuf[INET_ADDRSTRLEN], mbuf[INET_ADDRSTRLEN];
    bool ok = slirp_opt_parse_net(str, &net, &mask, &err);
    uint32_t m, inv;

    FUZZ_CHECK(ok == (err == NULL));
    if (slash && !strchr(slash, '.') && strchr(str, '/') == strrchr(str, '/')) {
        size_t n = strlen(slash + 1);
        bool num_ok = all_digits(slash + 1, n)
                      && small_value(slash + 1, n) >= 1
                      && small_value(slash + 1, n) <= 30;

        if (!num_ok) {
            FUZZ_CHECK(!ok);
        }
    }
    if (!ok) {
        g_error_free(err);
        return;
    }
    m = ntohl(mask.s_addr);
    inv = ~m;
    FUZZ_CHECK(m != 0 && (inv & (inv + 1)) == 0);
    FUZZ_CHECK((net.s_addr & ~mask.s_addr) == 0);
    inet_ntop(AF_INET, &net, abuf, sizeof(abuf));
    inet_ntop(AF_INET, &mask, mbuf, sizeof(mbuf));
    snprintf(buf, sizeof(buf), "%s/%s", abuf, mbuf);
    FUZZ_CHECK(slirp_opt_parse_net(buf, &net2, &mask2, NULL));
    FUZZ_CHECK(net2.s_addr == net.s_addr && mask2.s_addr == mask.s_addr);
    if (__builtin_popcount(m) <= 30) {
        snprintf(buf, sizeof(buf), "%s/%d", abuf, __builtin_popcount(m));
        FUZZ_CHECK(slirp_opt_parse_net(buf, &net2, &mask2, NULL));
        FUZZ_CHECK(net2.s_addr == net.s_addr && mask2.s_addr == mask.s_addr);
    }
}

static void fuzz_net6(const char *str)
{
    struct in6_addr p, p2;
    unsigned len = 64, len2 = 0;
    GError *err = NULL;
    char abuf[INET6_ADDRSTRLEN], buf[INET6_ADDRSTRLEN + 8];
    bool ok = slirp_opt_parse_net6(str, &p, &len, &err);

    FUZZ_CHECK(ok == (err == NULL));
    if (!ok) {
        g_error_free(err);
        return;
    }
    FUZZ_CHECK(len >= 1 && len <= 126);
    inet_ntop(AF_INET6, &p, abuf, sizeof(abuf));
    snprintf(buf, sizeof(buf), "%s/%u", abuf, len);
    FUZZ_CHECK(slirp_opt_parse_net6(buf, &p2, &len2, NULL));
    FUZZ_CHECK(len2 == len && memcmp(&p, &p2, sizeof(p)) == 0);
}

static void fuzz_hostfwd(const char *str)
{
    struct in_addr def = { .s_addr = htonl(0x0a00020f) };
    SlirpHostFwd f, f2;
    GError *err = NULL;
    char h[INET_ADDRSTRLEN], g[INET_ADDRSTRLEN], buf[128];
    bool ok = slirp_opt_parse_hostfwd(str, def, &f, &err);
    const char *dash, *c;

    FUZZ_CHECK(ok == (err == NULL));
    if (!ok) {
        g_error_free(err);
        return;
    }
    if (f.empty) {
        return;
    }
    FUZZ_CHECK(f.hport <= 65535 && f.gport >= 1 && f.gport <= 65535);
    /* both ports are digits alone: after the last ':' of each side */
    dash = strchr(str, '-');
    FUZZ_CHECK(dash != NULL);
    for (c = dash; c > str && c[-1] != ':'; c--) {
    }
    FUZZ_CHECK(all_digits(c, (size_t) (dash - c)));
    c = strrchr(dash, ':');
    FUZZ_CHECK(c != NULL);
    {
        const char *e = c + 1 + strlen(c + 1);

        while (e > c + 1 && g_ascii_isspace(e[-1])) {
            e--;
        }
        FUZZ_CHECK(all_digits(c + 1, (size_t) (e - c - 1)));
    }
    inet_ntop(AF_INET, &f.haddr, h, sizeof(h));
    inet_ntop(AF_INET, &f.gaddr, g, sizeof(g));
    snprintf(buf, sizeof(buf), "%s:%s:%u-%s:%u", f.udp ? "udp" : "tcp", h,
             f.hport, g, f.gport);
    FUZZ_CHECK(slirp_opt_parse_hostfwd(buf, def, &f2, NULL));
    FUZZ_CHECK(!f2.empty && f2.udp == f.udp &&
               f2.haddr.s_addr == f.haddr.s_addr && f2.hport == f.hport &&
               f2.gaddr.s_addr == f.gaddr.s_addr && f2.gport == f.gport);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *str = NULL;

    if (size < 1 || size > 1024) {
        return 0;
    }
    str = g_strndup((const char *) data + 1, size - 1);
    switch (data[0] % 3) {
    case 0:
        fuzz_net(str);
        break;
    case 1:
        fuzz_net6(str);
        break;
    default:
        fuzz_hostfwd(str);
        break;
    }
    return 0;
}
