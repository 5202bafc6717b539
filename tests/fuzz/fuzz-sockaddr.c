/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-sockaddr.c - fuzz target for util/sockaddr.c, the
 * parser of every socket address a user types: chardev host/port/path,
 * the -qmp and qemu-qmp= "unix:"/"tcp:" specs, netdev addr.* fields and
 * the legacy "host:port" strings.
 *
 * Input layout: byte 0 picks the function (low 3 bits) and its flags
 * (bits 3-4: bare_path / abstract, tight); the rest, cut at the first NUL,
 * is the string.  Mode 5 instead reads the rest as a raw struct sockaddr
 * (the bytes getpeername() could hand describe()).  Besides "no crash, no
 * out-of-bounds access" (ASan/UBSan in the libFuzzer and check-asan
 * builds) it checks, for any input:
 *   - every function returns success xor sets an error, and a failed
 *     split or spec leaves nothing allocated behind;
 *   - sockaddr_port_check() accepts exactly decimal 0-65535 (no sign, no
 *     blank, any number of digits) and service names (a letter, then
 *     letters, digits, '-', '_', '.'), computed here independently;
 *   - a split host/port prints back with sockaddr_host_port_str() to a
 *     string that splits to the same pair (when the pair can be printed);
 *   - a parsed spec has its fields: a path of 1-107 bytes, or a host
 *     without brackets and a valid port;
 *   - sockaddr_unix() accepts exactly names of 1-107 bytes and describe()
 *     gives the name back; sockaddr_str() always fits its buffer.
 * No mode resolves a name: only numeric hosts reach getaddrinfo().
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Built as the other targets are (tests/fuzz/meson.build); its corpus is
 * tests/fuzz/corpus/sockaddr/, replayed under `make check`.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sockaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-sockaddr: %s:%d: property failed: %s\n", \
                    __FILE__, __LINE__, #cond);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

/* The port rule, written again without looking at util/sockaddr.c. */
static bool port_ok(const char *p)
{
    size_t n = strlen(p), i = 0;

    if (n == 0) {
        return false;
    }
    if (p[0] >= '0' && p[0] <= '9') {
        while (i < n && p[i] == '0') {
            i++;
        }
        if (strspn(p, "0123456789") != n) {
            return false;
        }
        return n - i < 5 || (n - i == 5 && strcmp(p + i, "65535") <= 0);
    }
    if (!((p[0] >= 'a' && p[0] <= 'z') || (p[0] >= 'A' && p[0] <= 'Z'))) {
        return false;
    }
    return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789-_.") == n;
}

static void fuzz_port(const char *s)
{
    GError *err = NULL;
    gboolean ok = sockaddr_port_check(s, "p", &err);

    FUZZ_CHECK(ok == (err == NULL));
    FUZZ_CHECK(ok == port_ok(s));
    g_clear_error(&err);
}

static void fuzz_split(const char *s)
{
    GError *err = NULL;
    char *host = NULL, *port = NULL;
    gboolean ok = sockaddr_split_host_port(s, &host, &port, NULL, &err);

    FUZZ_CHECK(ok == (err == NULL));
    if (!ok) {
        FUZZ_CHECK(!host && !port);
        g_error_free(err);
        return;
    }
    FUZZ_CHECK(host && port);
    if (!strchr(port, ':') && !strchr(host, ']') && host[0] != '[') {
        char *again = sockaddr_host_port_str(host, port);
        char *h2 = NULL, *p2 = NULL;

        FUZZ_CHECK(sockaddr_split_host_port(again, &h2, &p2, NULL, NULL));
        FUZZ_CHECK(strcmp(h2, host) == 0 && strcmp(p2, port) == 0);
        g_free(again);
        g_free(h2);
        g_free(p2);
    }
    g_free(host);
    g_free(port);
}

static void fuzz_spec(const char *s, bool bare_path)
{
    GError *err = NULL;
    SockSpec spec;
    gboolean ok = sockaddr_parse_spec(&spec, s, bare_path, "spec", &err);

    FUZZ_CHECK(ok == (err == NULL));
    if (!ok) {
        FUZZ_CHECK(spec.kind == SOCK_SPEC_NONE && !spec.path && !spec.host &&
                   !spec.port);
        g_error_free(err);
        return;
    }
    if (spec.kind == SOCK_SPEC_UNIX) {
        size_t n = strlen(spec.path);

        FUZZ_CHECK(n >= 1 && n <= SOCKADDR_UNIX_PATH_MAX);
        FUZZ_CHECK(!spec.host && !spec.port);
    } else {
        FUZZ_CHECK(spec.kind == SOCK_SPEC_INET);
        FUZZ_CHECK(spec.host && spec.port && !spec.path);
        FUZZ_CHECK(port_ok(spec.port));
    }
    sock_spec_clear(&spec);
    FUZZ_CHECK(!spec.path && !spec.host && !spec.port);
}

static void fuzz_unix(const char *s, bool abstract, bool tight)
{
    GError *err = NULL;
    SockAddr a;
    char buf[SOCKADDR_STR_MAX];
    size_t n = strlen(s);
    gboolean ok = sockaddr_unix(&a, s, abstract, tight, "path", &err);

    FUZZ_CHECK(ok == (err == NULL));
    FUZZ_CHECK(ok == (n >= 1 && n <= SOCKADDR_UNIX_PATH_MAX));
    g_clear_error(&err);
    if (ok) {
        char *d = sockaddr_describe((const void *)&a.ss, a.len);

        FUZZ_CHECK(a.len <= sizeof(struct sockaddr_un));
        if (!abstract || tight) {
            /* A file path cut at an embedded NUL cannot happen: 's' is a
             * C string. */
            FUZZ_CHECK(strcmp(d, s) == 0);
        }
        g_free(d);
        FUZZ_CHECK(strlen(sockaddr_str(&a, buf, sizeof(buf))) < sizeof(buf));
    }
}

/* "TYPE HOST PORT PATH" separated by '|': the netdev fields, empty =
 * absent.  An inet host is used only when numeric, so nothing is looked up
 * in DNS. */
static void fuzz_fields(const char *s, bool passive, bool abstract)
{
    char **f = g_strsplit(s, "|", 4);
    const char *v[4] = { NULL, NULL, NULL, NULL };
    SockAddr a;
    GError *err = NULL;
    gboolean ok;

    for (int i = 0; i < 4 && f[i]; i++) {
        v[i] = *f[i] ? f[i] : NULL;
    }
    if (!v[0] || (strcmp(v[0], "inet") && strcmp(v[0], "unix"))) {
        goto out;
    }
    if (!strcmp(v[0], "inet") && v[1]) {
        char *h = sockaddr_host_unbracket(v[1]);
        struct in6_addr x;
        bool numeric = inet_pton(AF_INET, h, &x) == 1 ||
                       inet_pton(AF_INET6, h, &x) == 1;

        g_free(h);
        if (!numeric) {
            goto out;
        }
    }
    if (!strcmp(v[0], "inet") && v[2] && !(v[2][0] >= '0' && v[2][0] <= '9')) {
        goto out;       /* a service name: /etc/services, skip */
    }
    ok = sockaddr_from_fields(&a, "addr", v[0], v[1], v[2], v[3], abstract,
                              TRUE, passive, &err);
    FUZZ_CHECK(ok == (err == NULL));
    if (ok) {
        char buf[SOCKADDR_STR_MAX];

        FUZZ_CHECK(strlen(sockaddr_str(&a, buf, sizeof(buf))) < sizeof(buf));
        if (!strcmp(v[0], "inet")) {
            FUZZ_CHECK(port_ok(v[2]));
        }
    }
    g_clear_error(&err);
out:
    g_strfreev(f);
}

static void fuzz_describe(const uint8_t *data, size_t size)
{
    struct sockaddr_storage ss;
    size_t n = size < sizeof(ss) ? size : sizeof(ss);
    char *d;

    if (n < sizeof(sa_family_t)) {
        return;
    }
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, data, n);
    d = sockaddr_describe((const struct sockaddr *)&ss, (socklen_t)n);
    FUZZ_CHECK(d != NULL);
    g_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    uint8_t op;

    if (size < 1) {
        return 0;
    }
    op = data[0];
    if ((op & 7) == 5) {
        fuzz_describe(data + 1, size - 1);
        return 0;
    }
    s = g_strndup((const char *)data + 1, size - 1);
    switch (op & 7) {
    case 0:
        fuzz_port(s);
        break;
    case 1:
        fuzz_split(s);
        break;
    case 2:
        fuzz_spec(s, op & 8);
        break;
    case 3:
        fuzz_unix(s, op & 8, op & 16);
        break;
    case 4:
        fuzz_fields(s, op & 8, op & 16);
        break;
    default:
        /* 6, 7: everything a string can go through */
        fuzz_port(s);
        fuzz_split(s);
        fuzz_spec(s, op & 8);
        fuzz_unix(s, op & 8, op & 16);
        break;
    }
    g_free(s);
    return 0;
}
