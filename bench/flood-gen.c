/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/flood-gen.c - line-rate load for the flood and soak runs
 * (bench/bench_flood.py).
 *
 *   flood-gen --mode flows|tcpflows|garbage|qmp --to ADDR [--to ADDR ...]
 *             [--sink ADDR ...] [--flows N] [--count N] [--seconds S]
 *             [--size BYTES] [--idle-ms MS] [--seed N]
 *
 *   ADDR is unix:PATH or tcp:PORT (127.0.0.1).
 *
 * flows     N distinct IPv4 UDP flows (a new 5-tuple for every flow,
 *           frame i in flow i % N), framed as QEMU's stream framing and
 *           written identically to every --to socket (colo-compare's
 *           primary_in and secondary_in get the same frames, so it
 *           releases them);
 * tcpflows  the same with TCP: the first frame of each flow is a SYN, the
 *           others ACK + data; checksums are valid;
 * garbage   random bytes at full rate into every --to socket; when the
 *           proxy drops a connection (it must, on garbage framing) it is
 *           reopened and counted;
 * qmp       random bytes with JSON-ish punctuation into QMP sockets, the
 *           replies read and thrown away.
 *
 * Every --sink socket is drained and its frames counted.  Stops after
 * --count frames (flows modes) once the sinks are quiet, after --seconds,
 * or when nothing moved for --idle-ms (default 3000).  Prints one JSON
 * object:
 *
 *   {"mode":"flows","sent_frames":S,"sent_bytes":B,"sink_frames":[..],
 *    "sink_bytes":[..],"reconnects":R,"elapsed_s":T,"fps":S/T}
 *
 * Not part of colo-proxy (libc only); the only place printf is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

enum {
    MAX_CONNS = 8,
    OUT_CAP = 1 << 20,          /* bytes buffered per --to socket */
    OUT_LOW = 256 * 1024,       /* generate more while below this */
    RECV_CHUNK = 256 * 1024,
};

typedef struct Conn {
    const char *addr;
    int fd;
    uint8_t *out;               /* --to: pending bytes */
    size_t out_len, out_off;
    uint64_t frames, bytes;     /* --sink: received */
    uint32_t need;              /* --sink: bytes left of the current frame */
    uint8_t hdr[4];
    unsigned hdr_have;
} Conn;

static const char *mode = "flows";
static Conn tos[MAX_CONNS], sinks[MAX_CONNS];
static int n_to, n_sink;
static uint64_t flows = 1000000, count, sent_frames, sent_bytes;
static uint64_t reconnects;
static unsigned size = 64, idle_ms = 3000;
static double seconds;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t xrand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int open_addr(const char *addr)
{
    int fd;

    if (strncmp(addr, "unix:", 5) == 0) {
        struct sockaddr_un un = { .sun_family = AF_UNIX };

        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        strncpy(un.sun_path, addr + 5, sizeof(un.sun_path) - 1);
        if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
            goto fail;
        }
    } else if (strncmp(addr, "tcp:", 4) == 0) {
        struct sockaddr_in in = { .sin_family = AF_INET };

        fd = socket(AF_INET, SOCK_STREAM, 0);
        in.sin_port = htons(atoi(addr + 4));
        in.sin_addr.s_addr = htonl(0x7f000001);
        if (fd < 0 || connect(fd, (struct sockaddr *)&in, sizeof(in)) < 0) {
            goto fail;
        }
    } else {
        fprintf(stderr, "flood-gen: bad address %s\n", addr);
        exit(2);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
fail:
    if (fd >= 0) {
        close(fd);
    }
    return -1;
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t s)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += (p[i] << 8) | p[i + 1];
    }
    if (n & 1) {
        s += p[n - 1] << 8;
    }
    return s;
}

static unsigned fold(uint32_t s)
{
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return ~s & 0xffff;
}

/* Frame 'i' of flow 'f' into 'p' (after a 4-byte length); its length. */
static size_t build(uint8_t *p, uint64_t i, uint64_t f, int tcp)
{
    size_t l4len = (tcp ? 20 : 8) + size, iplen = 20 + l4len;
    uint8_t *ip = p + 14, *l4 = ip + 20;
    uint32_t src = 0x0a000000u + (uint32_t)(f / 50000);
    unsigned sport = 10000 + f % 50000;
    uint32_t s;

    memset(p, 0, 14 + iplen);
    memcpy(p, "\x52\x54\x00\x00\x00\x02\x52\x54\x00\x00\x00\x01\x08\x00", 14);
    ip[0] = 0x45;
    put16(ip + 2, iplen);
    put16(ip + 4, i & 0xffff);
    ip[8] = 64;
    ip[9] = tcp ? 6 : 17;
    ip[12] = src >> 24;
    ip[13] = src >> 16;
    ip[14] = src >> 8;
    ip[15] = src;
    memcpy(ip + 16, "\xc0\xa8\x00\x01", 4);
    put16(ip + 10, fold(sum16(ip, 20, 0)));
    put16(l4, sport);
    put16(l4 + 2, tcp ? 80 : 53);
    if (tcp) {
        uint64_t k = i / flows;             /* frame number in its flow */
        uint32_t seq = 1000 + (uint32_t)(k ? 1 + (k - 1) * size : 0);

        l4[4] = seq >> 24;
        l4[5] = seq >> 16;
        l4[6] = seq >> 8;
        l4[7] = seq;
        l4[12] = 0x50;
        l4[13] = k ? 0x18 : 0x02;           /* PSH|ACK, or SYN */
        put16(l4 + 14, 65535);
    } else {
        put16(l4 + 4, l4len);
    }
    for (unsigned j = 0; j < size; j++) {
        l4[(tcp ? 20 : 8) + j] = (uint8_t)(i + j);
    }
    if (tcp && !(i / flows)) {
        l4len = 20;                         /* a SYN carries no data */
        iplen = 40;
        put16(ip + 2, iplen);
        put16(ip + 10, 0);
        put16(ip + 10, fold(sum16(ip, 20, 0)));
    }
    s = sum16(ip + 12, 8, 0) + (tcp ? 6 : 17) + l4len;
    s = fold(sum16(l4, l4len, s));
    put16(l4 + (tcp ? 16 : 6), tcp ? s : (s ? s : 0xffff));
    return 14 + iplen;
}

/* Appends one unit of load to every --to buffer. */
static void generate(void)
{
    uint8_t buf[16 + 14 + 60 + 9000];
    size_t n;

    if (!strcmp(mode, "garbage") || !strcmp(mode, "qmp")) {
        static const char punct[] = "{}[]\":,\\ \n0atrue";
        n = 4096;
        for (size_t j = 0; j < n; j++) {
            uint64_t r = xrand();

            buf[j] = !strcmp(mode, "qmp") && (r & 1)
                     ? punct[(r >> 8) % (sizeof(punct) - 1)]
                     : (uint8_t)(r >> 16);
        }
    } else {
        size_t len = build(buf + 4, sent_frames, sent_frames % flows,
                           !strcmp(mode, "tcpflows"));

        buf[0] = len >> 24;
        buf[1] = len >> 16;
        buf[2] = len >> 8;
        buf[3] = len;
        n = len + 4;
        sent_frames++;
    }
    for (int k = 0; k < n_to; k++) {
        Conn *c = &tos[k];

        if (c->out_off && c->out_len + n > OUT_CAP) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        memcpy(c->out + c->out_len, buf, n);
        c->out_len += n;
    }
    sent_bytes += n;
}

static void sink_feed(Conn *c, const uint8_t *p, size_t n)
{
    c->bytes += n;
    while (n) {
        if (c->need) {
            size_t k = n < c->need ? n : c->need;

            c->need -= k;
            p += k;
            n -= k;
            if (!c->need) {
                c->frames++;
            }
            continue;
        }
        c->hdr[c->hdr_have++] = *p++;
        n--;
        if (c->hdr_have == 4) {
            c->need = ((uint32_t)c->hdr[0] << 24) | (c->hdr[1] << 16) |
                      (c->hdr[2] << 8) | c->hdr[3];
            c->hdr_have = 0;
            if (!c->need) {
                c->frames++;
            }
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: flood-gen --mode M --to ADDR [--sink ADDR] "
            "[--flows N] [--count N] [--seconds S] [--size B]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static uint8_t rbuf[RECV_CHUNK];
    struct pollfd pfd[2 * MAX_CONNS];
    double t0, last_move, end;
    int flowmode;

    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (!v) {
            usage();
        }
        i++;
        if (!strcmp(a, "--mode")) {
            mode = v;
        } else if (!strcmp(a, "--to") && n_to < MAX_CONNS) {
            tos[n_to++].addr = v;
        } else if (!strcmp(a, "--sink") && n_sink < MAX_CONNS) {
            sinks[n_sink++].addr = v;
        } else if (!strcmp(a, "--flows")) {
            flows = strtoull(v, NULL, 0);
        } else if (!strcmp(a, "--count")) {
            count = strtoull(v, NULL, 0);
        } else if (!strcmp(a, "--seconds")) {
            seconds = atof(v);
        } else if (!strcmp(a, "--size")) {
            size = atoi(v);
        } else if (!strcmp(a, "--idle-ms")) {
            idle_ms = atoi(v);
        } else if (!strcmp(a, "--seed")) {
            rng ^= strtoull(v, NULL, 0) * 0x2545f4914f6cdd1dull;
        } else {
            usage();
        }
    }
    if (!n_to || !flows || size > 9000) {
        usage();
    }
    flowmode = strncmp(mode, "flows", 5) == 0 || !strcmp(mode, "tcpflows");
    if (flowmode && !count && !seconds) {
        count = flows;
    }
    for (int k = 0; k < n_to; k++) {
        tos[k].out = malloc(OUT_CAP + 16 + 14 + 60 + 9000);
        tos[k].fd = open_addr(tos[k].addr);
        if (tos[k].fd < 0) {
            fprintf(stderr, "flood-gen: cannot connect to %s: %s\n",
                    tos[k].addr, strerror(errno));
            return 1;
        }
    }
    for (int k = 0; k < n_sink; k++) {
        sinks[k].fd = open_addr(sinks[k].addr);
        if (sinks[k].fd < 0) {
            fprintf(stderr, "flood-gen: cannot connect to %s: %s\n",
                    sinks[k].addr, strerror(errno));
            return 1;
        }
    }
    usleep(100 * 1000);       /* let the proxy see the connections */
    t0 = last_move = now_s();
    end = seconds ? t0 + seconds : 0;

    for (;;) {
        double t = now_s();
        int all_low = 1, done_sending = flowmode && count &&
                                        sent_frames >= count;
        int np = 0, r;

        if ((end && t >= end) || t - last_move > idle_ms / 1000.0) {
            break;
        }
        if (done_sending) {
            int quiet = 1;

            for (int k = 0; k < n_to; k++) {
                quiet &= tos[k].out_len == tos[k].out_off;
            }
            for (int k = 0; k < n_sink; k++) {
                quiet &= sinks[k].frames >= count;
            }
            if (quiet) {
                break;
            }
        }
        for (int k = 0; k < n_to; k++) {
            all_low &= tos[k].out_len - tos[k].out_off < OUT_LOW;
        }
        while (all_low && !done_sending) {
            generate();
            for (int k = 0; k < n_to; k++) {
                all_low &= tos[k].out_len - tos[k].out_off < OUT_LOW;
            }
            done_sending = flowmode && count && sent_frames >= count;
        }
        for (int k = 0; k < n_to; k++) {
            pfd[np].fd = tos[k].fd;
            pfd[np].events = (tos[k].out_len > tos[k].out_off ? POLLOUT : 0) |
                             (!strcmp(mode, "qmp") ? POLLIN : 0);
            np++;
        }
        for (int k = 0; k < n_sink; k++) {
            pfd[np].fd = sinks[k].fd;
            pfd[np].events = POLLIN;
            np++;
        }
        r = poll(pfd, np, 100);
        if (r < 0 && errno != EINTR) {
            perror("poll");
            return 1;
        }
        for (int k = 0; k < n_to; k++) {
            Conn *c = &tos[k];
            short re = pfd[k].revents;
            ssize_t w;

            if (re & POLLIN) {
                while (read(c->fd, rbuf, sizeof(rbuf)) > 0) {
                }
            }
            if (!(re & (POLLOUT | POLLERR | POLLHUP))) {
                continue;
            }
            w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
            if (w > 0) {
                c->out_off += w;
                if (c->out_off == c->out_len) {
                    c->out_off = c->out_len = 0;
                }
                last_move = now_s();
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                if (flowmode) {
                    fprintf(stderr, "flood-gen: %s: %s\n", c->addr,
                            strerror(errno));
                    return 1;
                }
                /* The proxy dropped us for garbage, as it should. */
                close(c->fd);
                c->out_off = c->out_len = 0;
                do {
                    c->fd = open_addr(c->addr);
                } while (c->fd < 0 && (usleep(1000), now_s() < end));
                if (c->fd < 0) {
                    break;
                }
                reconnects++;
            }
        }
        for (int k = 0; k < n_sink; k++) {
            Conn *c = &sinks[k];
            ssize_t n;

            if (!(pfd[n_to + k].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            while ((n = read(c->fd, rbuf, sizeof(rbuf))) > 0) {
                sink_feed(c, rbuf, n);
                last_move = now_s();
            }
        }
    }

    {
        double el = now_s() - t0;

        printf("{\"mode\":\"%s\",\"sent_frames\":%llu,\"sent_bytes\":%llu,"
               "\"reconnects\":%llu,\"elapsed_s\":%.3f,\"fps\":%.0f,"
               "\"mbps\":%.1f,\"sink_frames\":[", mode,
               (unsigned long long)sent_frames,
               (unsigned long long)sent_bytes,
               (unsigned long long)reconnects, el,
               el > 0 ? sent_frames / el : 0.0,
               el > 0 ? sent_bytes * 8 / el / 1e6 : 0.0);
        for (int k = 0; k < n_sink; k++) {
            printf("%s%llu", k ? "," : "",
                   (unsigned long long)sinks[k].frames);
        }
        printf("],\"sink_bytes\":[");
        for (int k = 0; k < n_sink; k++) {
            printf("%s%llu", k ? "," : "",
                   (unsigned long long)sinks[k].bytes);
        }
        printf("]}\n");
    }
    return 0;
}
