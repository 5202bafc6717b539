/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/bench-util.h - what the benchmark's C tools (compare-load,
 * frame-gen, flood-gen) share: a monotonic clock and a loopback TCP
 * (or unix socket) connect that waits for the listener.  libc only,
 * header-only.
 */
#ifndef BENCH_BENCH_UTIL_H
#define BENCH_BENCH_UTIL_H

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connects a stream socket of 'family' to 'sa', retrying for 'ms'
 * milliseconds while nobody listens; returns a non-blocking fd or -1. */
static inline int connect_retry(int family, const void *sa, socklen_t len,
                                int ms)
{
    double end = now_s() + ms / 1000.0;

    for (;;) {
        int fd = socket(family, SOCK_STREAM, 0);
        int one = 1;

        if (fd < 0) {
            return -1;
        }
        if (connect(fd, (const struct sockaddr *) sa, len) == 0) {
            if (family == AF_INET) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            }
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            return fd;
        }
        close(fd);
        if (now_s() > end) {
            return -1;
        }
        usleep(20000);
    }
}

/* Connects to 127.0.0.1:port (TCP_NODELAY), retrying for 'ms'
 * milliseconds; returns a non-blocking fd or -1. */
static inline int connect_port(int port, int ms)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t) port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

    return connect_retry(AF_INET, &sa, sizeof sa, ms);
}

/* Connects to the unix socket 'path', retrying for 'ms' milliseconds;
 * returns a non-blocking fd or -1. */
static inline int connect_unix_path(const char *path, int ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof(sa.sun_path)) {
        return -1;
    }
    strcpy(sa.sun_path, path);
    return connect_retry(AF_UNIX, &sa, sizeof sa, ms);
}

#endif /* BENCH_BENCH_UTIL_H */
