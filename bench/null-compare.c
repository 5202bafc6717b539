/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/null-compare.c - the floor of the colo-compare latency benchmark:
 * a "compare" that compares nothing.
 *
 *   null-compare --pri PORT --sec PORT --out PORT [--spin]
 *
 * Listens on 127.0.0.1 at the three ports (as the compares' chardevs do
 * in bench/bench_compare.py), accepts one client on each, and forwards the
 * bytes of primary_in to outdev as soon as secondary_in has delivered as
 * many (the load generator sends the same frames on both, so this is what
 * an infinitely fast compare would release, and when).  One poll() loop;
 * --spin polls without sleeping.  What compare-load measures through it is
 * the loopback hops and the wake-ups alone.
 *
 * Not part of colo-proxy (libc only).  Exits when a client hangs up.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PRI_BUF (16 << 20)

static int listen_port(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons((uint16_t) port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0
        || listen(fd, 1) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int accept_one(int lfd)
{
    int fd = accept(lfd, NULL, NULL), one = 1;

    if (fd >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    return fd;
}

int main(int argc, char **argv)
{
    int ports[3] = { 0, 0, 0 }, lfd[3], fd[3], spin = 0;
    static uint8_t pri[PRI_BUF], scratch[1 << 20];
    size_t head = 0, tail = 0;      /* primary bytes held: [head, tail) */
    uint64_t sec_total = 0, out_total = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--spin")) {
            spin = 1;
        } else if (i + 1 < argc && !strcmp(argv[i], "--pri")) {
            ports[0] = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(argv[i], "--sec")) {
            ports[1] = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(argv[i], "--out")) {
            ports[2] = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: null-compare --pri PORT --sec PORT "
                    "--out PORT [--spin]\n");
            return 2;
        }
    }
    for (int i = 0; i < 3; i++) {
        lfd[i] = listen_port(ports[i]);
        if (lfd[i] < 0) {
            fprintf(stderr, "null-compare: port %d: %s\n", ports[i],
                    strerror(errno));
            return 1;
        }
    }
    /* the load generator connects primary, secondary, outdev in turn;
     * bench_compare's readiness probe connected to outdev before and hung
     * up: skip such connections */
    for (int i = 0; i < 3; i++) {
        for (;;) {
            char c;

            fd[i] = accept_one(lfd[i]);
            if (fd[i] < 0) {
                return 1;
            }
            if (i < 2 || recv(fd[i], &c, 1, MSG_PEEK | MSG_DONTWAIT) != 0) {
                break;
            }
            close(fd[i]);
        }
    }
    for (;;) {
        /* a full buffer stops reading primary_in until outdev drains it
         * (a read of 0 bytes would look like the peer leaving) */
        struct pollfd p[2] = { { fd[0], tail < PRI_BUF ? POLLIN : 0, 0 },
                               { fd[1], POLLIN, 0 } };
        uint64_t can;

        if (poll(p, 2, spin ? 0 : -1) < 0 && errno != EINTR) {
            return 1;
        }
        if (p[0].revents) {
            ssize_t n = read(fd[0], pri + tail, PRI_BUF - tail);

            if (n <= 0) {
                return 0;
            }
            tail += n;
        }
        if (p[1].revents) {
            ssize_t n = read(fd[1], scratch, sizeof scratch);

            if (n <= 0) {
                return 0;
            }
            sec_total += n;
        }
        can = sec_total - out_total;
        if (can > tail - head) {
            can = tail - head;
        }
        while (can > 0) {
            ssize_t n = send(fd[2], pri + head, can, MSG_NOSIGNAL);

            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                return 0;
            }
            if (n > 0) {
                head += n;
                out_total += n;
                can -= n;
            }
        }
        if (head == tail) {
            head = tail = 0;
        } else if (tail > PRI_BUF / 2) {
            memmove(pri, pri + head, tail - head);
            tail -= head;
            head = 0;
        }
    }
}
