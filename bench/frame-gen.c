/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/frame-gen.c - load generator and sink for the link benchmarks
 * (bench/bench_mirror.py).
 *
 *   frame-gen --send PORT --sink PORT|PATH [--sink PORT|PATH ...]
 *             --size BYTES --count N [--idle-ms MS] [--connect-ms MS]
 *
 * Connects (TCP, 127.0.0.1) to the --send port and to every --sink port
 * (a sink starting with '/' is a unix socket path),
 * writes N frames of BYTES bytes in QEMU's stream framing (BE32 length +
 * payload) to the send socket as fast as it takes them (non-blocking, big
 * writes), and counts the bytes arriving on each sink (recv() with
 * MSG_TRUNC: the kernel drops them without copying), all in one poll()
 * loop so that the generator is never the bottleneck of a Python thread.
 * It stops when the last sink has received N frames or when nothing moved
 * (no byte written or received) for --idle-ms (default 2000).  Prints one
 * JSON object:
 *
 *   {"size":64,"count":N,"sent_frames":S,"elapsed_s":T,
 *    "sinks":[bytes,...],"frames":[frames,...]}
 *
 * elapsed_s runs from the first write to the last byte received.  Not
 * part of colo-proxy: it only uses libc.  The only place printf is used.
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
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

enum { MAX_SINKS = 8, SEND_CHUNK = 1 << 20, RECV_BUF = 1 << 20 };

static void usage(void)
{
    fprintf(stderr, "usage: frame-gen --send PORT --sink PORT [--sink PORT]"
            " --size BYTES --count N [--idle-ms MS] [--connect-ms MS]"
            " [--settle-ms MS]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int send_port = 0, nsinks = 0;
    const char *sink_addrs[MAX_SINKS];
    long size = 0, count = 0, idle_ms = 2000, connect_ms = 10000;
    long settle_ms = 0;
    int sfd, sinks[MAX_SINKS];
    uint64_t got[MAX_SINKS] = { 0 };
    uint8_t *chunk, *rbuf;
    size_t wire, chunk_frames, chunk_len;
    uint64_t total, sent = 0;
    double t0 = 0, last_rx = 0, last_move = 0;

    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            usage();
        }
        if (!strcmp(argv[i], "--send")) {
            send_port = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--sink") && nsinks < MAX_SINKS) {
            sink_addrs[nsinks++] = argv[++i];
        } else if (!strcmp(argv[i], "--size")) {
            size = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--count")) {
            count = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--idle-ms")) {
            idle_ms = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--connect-ms")) {
            connect_ms = atol(argv[++i]);
        } else if (!strcmp(argv[i], "--settle-ms")) {
            settle_ms = atol(argv[++i]);
        } else {
            usage();
        }
    }
    if (!send_port || !nsinks || size <= 0 || size > 69632 || count <= 0) {
        usage();
    }

    wire = 4 + (size_t)size;
    chunk_frames = SEND_CHUNK / wire ? SEND_CHUNK / wire : 1;
    chunk_len = chunk_frames * wire;
    chunk = malloc(chunk_len);
    rbuf = malloc(RECV_BUF);
    if (!chunk || !rbuf) {
        return 1;
    }
    for (size_t f = 0; f < chunk_frames; f++) {
        uint8_t *p = chunk + f * wire;

        p[0] = (uint8_t)(size >> 24);
        p[1] = (uint8_t)(size >> 16);
        p[2] = (uint8_t)(size >> 8);
        p[3] = (uint8_t)size;
        for (long b = 0; b < size; b++) {
            p[4 + b] = (uint8_t)(b * 7);
        }
    }

    sfd = connect_port(send_port, (int)connect_ms);
    if (sfd < 0) {
        perror("connect send port");
        return 1;
    }
    for (int i = 0; i < nsinks; i++) {
        sinks[i] = sink_addrs[i][0] == '/'
                   ? connect_unix_path(sink_addrs[i], (int)connect_ms)
                   : connect_port(atoi(sink_addrs[i]), (int)connect_ms);
        if (sinks[i] < 0) {
            perror("connect sink port");
            return 1;
        }
    }
    if (settle_ms) {
        usleep((useconds_t)settle_ms * 1000);
    }

    total = (uint64_t)count * wire;
    t0 = last_rx = last_move = now_s();
    for (;;) {
        struct pollfd pfd[MAX_SINKS + 1];
        int n = 0;

        for (int i = 0; i < nsinks; i++) {
            pfd[n++] = (struct pollfd){ .fd = sinks[i], .events = POLLIN };
        }
        if (sent < total) {
            pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLOUT };
        }
        if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR) {
            perror("poll");
            return 1;
        }
        for (int i = 0; i < nsinks; i++) {
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r;

                /* MSG_TRUNC: TCP discards the bytes without copying
                 * them out, so counting costs the generator (which runs
                 * on the same CPUs as what it measures) next to nothing. */
                while ((r = recv(sinks[i], rbuf, RECV_BUF,
                                 MSG_TRUNC | MSG_DONTWAIT)) > 0) {
                    got[i] += (uint64_t)r;
                    last_rx = last_move = now_s();
                }
            }
        }
        if (sent < total && (pfd[n - 1].revents & POLLOUT)) {
            for (;;) {
                uint64_t left = total - sent;
                size_t off = (size_t)(sent % chunk_len);
                size_t len = chunk_len - off;
                ssize_t w;

                if (len > left) {
                    len = (size_t)left;
                }
                w = write(sfd, chunk + off, len);
                if (w <= 0) {
                    break;
                }
                sent += (uint64_t)w;
                last_move = now_s();
                if (sent >= total) {
                    break;
                }
            }
        }
        if (got[nsinks - 1] >= total) {
            break;
        }
        if (now_s() - last_move > idle_ms / 1000.0) {
            break;
        }
    }

    printf("{\"size\":%ld,\"count\":%ld,\"sent_frames\":%llu,"
           "\"elapsed_s\":%.6f,\"sinks\":[", size, count,
           (unsigned long long)(sent / wire), last_rx - t0);
    for (int i = 0; i < nsinks; i++) {
        printf("%s%llu", i ? "," : "", (unsigned long long)got[i]);
    }
    printf("],\"frames\":[");
    for (int i = 0; i < nsinks; i++) {
        printf("%s%llu", i ? "," : "", (unsigned long long)(got[i] / wire));
    }
    printf("]}\n");
    return 0;
}
