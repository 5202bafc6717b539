/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench/compare-load.c - load generator and checker for the colo-compare
 * benchmark (bench/bench_compare.py).
 *
 *   compare-load --pri PORT --sec PORT --out PORT --size BYTES --count N
 *                [--flows F] [--rate FPS] [--window W] [--idle-ms MS]
 *                [--warmup-ms MS] [--trace-slow US] [--mix N]
 *
 * Connects (TCP, 127.0.0.1) to a colo-compare's primary_in, secondary_in
 * and outdev chardevs (colo-proxy's or QEMU's, both listening), builds F
 * valid server-side TCP flows (a SYN-ACK each, then data segments of
 * BYTES payload bytes, IPv4, checksums computed) and writes the same
 * frames, in QEMU's framing, to primary_in and secondary_in.  It reads
 * outdev and checks that every primary frame arrives exactly once and, per
 * flow, in order (duplicates, gaps and reordering are counted; a frame is
 * identified by its ports and sequence number and its length is checked;
 * "reordered" counts frames that arrived after a later frame of their
 * flow, "missing" frames that never arrived).
 *
 * --rate 0 (default) sends as fast as the compare takes frames, with at
 * most W (default 4096) frames sent and not yet released, so that one
 * side never runs far ahead of the other; --rate R sends one frame pair
 * at a time, at most R per second (never two back to back: a late pair
 * pushes the schedule back) and measures the added latency (send to
 * receive) of each; "fps" says the rate reached.
 * Paced, the generator busy-waits while a frame is on its way (it sleeps
 * only until shortly before the next pair is due), so its own wake-up
 * latency is not measured: what is left is the loopback hops and the
 * compare.  The
 * pairs sent in the first --warmup-ms (default 250) are delivered and
 * checked like all others but left out of the latency figures (start-up:
 * first-touch page faults, socket buffers growing, polling adapting).
 * --trace-slow US prints each measured frame slower than US to stderr
 * ("slow SENT-SINCE-START idx INDEX LATENCY SENT-MONOTONIC"), to line the
 * tail up with a scheduler trace.
 *
 * --mix N: a request/response workload, as an HTTP server's output looks
 * to colo-compare: each reply is one segment of BYTES payload (the
 * response header, or the ACK of the small request) followed by N full
 * segments of 1448 bytes, all of one connection, written back to back;
 * replies go round the flows.  Paced (--rate R: R replies per second),
 * a whole reply leaves at once, and each frame's latency is measured
 * from the moment its reply was written, so the last segment of a reply
 * includes the wait behind the ones before it, as a client would see.
 *
 * Stops when all N frames came back or nothing moved for --idle-ms
 * (default 3000).  Prints one JSON object:
 *
 *   {"size":64,"count":N,"flows":F,"received":R,"missing":M,"dup":D,
 *    "reordered":O,"bad":B,"elapsed_s":T,"fps":R/T,"mbps":...,
 *    "lat_p50_us":...,"lat_p99_us":...,"lat_p999_us":...,"lat_max_us":...}
 *
 * Not part of colo-proxy (libc only); the only place printf is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define CHUNK       (256 * 1024)
#define RECV_BUF    (1 << 20)
#define PISN        1000000u
#define CISN        777u
#define SPIN_AHEAD  20e-6       /* s: paced, stop sleeping this early */
#define FULL_SEG    1448u       /* --mix: payload of a full segment */

static unsigned mix;            /* --mix: full segments per reply, 0 = off */

/* Where data frame 'i' (i >= flows) sits: its flow, its stream offset
 * (bytes after the SYN), its payload length and its index among the
 * flow's data frames (for the order check). */
static void frame_pos(uint64_t i, unsigned flows, unsigned size,
                      unsigned *flow, uint32_t *off, unsigned *plen,
                      uint64_t *k)
{
    uint64_t d = i - flows;

    if (!mix) {
        *flow = i % flows;
        *k = d / flows;
        *off = (uint32_t) (*k * size);
        *plen = size;
    } else {
        uint64_t b = d / (mix + 1), m = b / flows;
        unsigned j = d % (mix + 1);

        *flow = b % flows;
        *k = m * (mix + 1) + j;
        *off = (uint32_t) (m * (size + mix * FULL_SEG)
                           + (j ? size + (j - 1) * FULL_SEG : 0));
        *plen = j ? FULL_SEG : size;
    }
}

/* The inverse: the frame index of the data segment of 'flow' at stream
 * offset 'off', its payload length and per-flow index; false if no frame
 * starts there. */
static bool frame_index(unsigned flow, uint32_t off, unsigned flows,
                        unsigned size, uint64_t *idx, unsigned *plen,
                        uint64_t *k)
{
    if (!mix) {
        if (off % size) {
            return false;
        }
        *k = off / size;
        *idx = flows + *k * flows + flow;
        *plen = size;
    } else {
        uint32_t bb = size + mix * FULL_SEG, r = off % bb;
        uint64_t m = off / bb;
        unsigned j;

        if (r && (r < size || (r - size) % FULL_SEG)) {
            return false;
        }
        j = r ? 1 + (r - size) / FULL_SEG : 0;
        *k = m * (mix + 1) + j;
        *idx = flows + (m * flows + flow) * (mix + 1) + j;
        *plen = j ? FULL_SEG : size;
    }
    return true;
}

static uint16_t csum_fold(uint32_t s)
{
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return (uint16_t) ~s;
}

static uint32_t csum_add(uint32_t s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += (uint32_t) p[i] << 8 | p[i + 1];
    }
    if (n & 1) {
        s += (uint32_t) p[n - 1] << 8;
    }
    return s;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/*
 * Frame 'i' of the run: frames 0..F-1 are the SYN-ACKs of the flows, then
 * data segment k of flow f is frame F + k * F + f.  Writes the framed
 * bytes (4-byte length + frame) to 'out'; returns their number.
 */
static size_t build_frame(uint8_t *out, uint64_t i, unsigned flows,
                          unsigned size)
{
    uint8_t *f = out + 4;
    unsigned flow = i % flows;
    int syn = i < flows;
    uint64_t k = 0;
    unsigned plen = 0;
    uint32_t off = 0, seq;
    size_t l3 = 14, l4 = 34, len;
    uint32_t s;

    if (!syn) {
        frame_pos(i, flows, size, &flow, &off, &plen, &k);
    }
    seq = syn ? PISN : PISN + 1 + off;
    len = 54 + plen;

    memcpy(f, "\x52\x54\x00\x12\x34\x02\x52\x54\x00\x12\x34\x01\x08\x00",
           14);
    /* IPv4 */
    f[l3] = 0x45;
    f[l3 + 1] = 0;
    put16(f + l3 + 2, 40 + plen);
    put16(f + l3 + 4, (uint16_t) i);
    put16(f + l3 + 6, 0x4000);
    f[l3 + 8] = 64;
    f[l3 + 9] = 6;
    put16(f + l3 + 10, 0);
    put32(f + l3 + 12, 0x0a000001);                /* server 10.0.0.1 */
    put32(f + l3 + 16, 0x0a010000 + flow);         /* clients */
    put16(f + l3 + 10, csum_fold(csum_add(0, f + l3, 20)));
    /* TCP */
    put16(f + l4, 80);
    put16(f + l4 + 2, 10000 + flow);
    put32(f + l4 + 4, seq);
    put32(f + l4 + 8, CISN + 1);
    f[l4 + 12] = 5 << 4;
    f[l4 + 13] = syn ? 0x12 : 0x18;                /* SYN|ACK, PSH|ACK */
    put16(f + l4 + 14, 65535);
    put16(f + l4 + 16, 0);
    put16(f + l4 + 18, 0);
    for (unsigned j = 0; j < plen; j++) {
        f[54 + j] = (uint8_t) (j * 7 + flow);
    }
    s = csum_add(0, f + l3 + 12, 8) + 6 + 20 + plen;
    s = csum_add(s, f + l4, 20 + plen);
    put16(f + l4 + 16, csum_fold(s));
    if (len < 60) {
        memset(f + len, 0, 60 - len);
        len = 60;
    }
    put32(out, (uint32_t) len);
    return 4 + len;
}

/* RFC 1624: the checksum 'sum' after a 16-bit word changes old -> new. */
static uint16_t csum_update16(uint16_t sum, uint16_t old, uint16_t new)
{
    uint32_t s = (uint16_t) ~sum + (uint16_t) ~old + new;

    return csum_fold(s);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

/*
 * The same frame as build_frame(), from a per-flow template of its data
 * segments: only the IP ID and the sequence number differ between the
 * data segments of a flow, so both checksums are updated incrementally
 * instead of summing the payload again (at 1448 bytes the generator, not
 * the compare, was the bottleneck).  Every 1024th frame is checked
 * against build_frame(); a difference aborts the run.
 */
static size_t fast_frame(uint8_t *out, uint64_t i, unsigned flows,
                         unsigned size, uint8_t *templates, size_t tlen)
{
    unsigned flow = i % flows;
    uint64_t k = (i - flows) / flows;
    uint8_t *f = out + 4;
    uint32_t seq = PISN + 1 + (uint32_t) (k * size);
    uint16_t ipsum, tcpsum;

    if (i < flows || mix) {
        return build_frame(out, i, flows, size);
    }
    memcpy(out, templates + flow * tlen, tlen);
    ipsum = csum_update16(get16(f + 24), get16(f + 18), (uint16_t) i);
    put16(f + 18, (uint16_t) i);
    put16(f + 24, ipsum);
    tcpsum = get16(f + 50);
    tcpsum = csum_update16(tcpsum, get16(f + 38), seq >> 16);
    tcpsum = csum_update16(tcpsum, get16(f + 40), (uint16_t) seq);
    put32(f + 38, seq);
    put16(f + 50, tcpsum);
    if ((i & 1023) == 0) {
        static uint8_t check[4 + 1514];

        if (build_frame(check, i, flows, size) != tlen
            || memcmp(check, out, tlen)) {
            fprintf(stderr, "compare-load: incremental frame %llu differs "
                    "from the full build\n", (unsigned long long) i);
            abort();
        }
    }
    return tlen;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int pri_port = 0, sec_port = 0, out_port = 0;
    unsigned size = 64, flows = 16, window = 4096;
    uint64_t count = 100000;
    double rate = 0;
    int idle_ms = 3000;
    int warmup_ms = 250;
    double trace_slow = 0;
    int fds[3];
    uint8_t *chunk, *rbuf, *templates;
    size_t tlen;
    size_t chunk_len = 0, off[2] = { 0, 0 };
    uint64_t next_frame = 0, received = 0, dup = 0, reordered = 0, bad = 0;
    uint64_t *next_k;           /* per flow: next expected data index */
    uint8_t *seen;
    uint64_t unique = 0;
    double *sent_at = NULL, *lat = NULL;
    uint64_t nlat = 0;
    double t0 = 0, tlast = 0, last_move, next_due = 0;
    size_t rhave = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--pri")) {
            pri_port = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--sec")) {
            sec_port = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--out")) {
            out_port = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--size")) {
            size = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--count")) {
            count = strtoull(argv[i + 1], NULL, 10);
        } else if (!strcmp(argv[i], "--flows")) {
            flows = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--rate")) {
            rate = atof(argv[i + 1]);
        } else if (!strcmp(argv[i], "--window")) {
            window = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--idle-ms")) {
            idle_ms = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--warmup-ms")) {
            warmup_ms = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--trace-slow")) {
            trace_slow = atof(argv[i + 1]);
        } else if (!strcmp(argv[i], "--mix")) {
            mix = atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (!pri_port || !sec_port || !out_port || !flows || size > 1460
        || count < flows) {
        fprintf(stderr, "usage: compare-load --pri P --sec P --out P "
                "--size N(<=1460) --count N(>=flows) [--flows F] "
                "[--rate R] [--window W] [--idle-ms MS] "
                "[--warmup-ms MS] [--trace-slow US] [--mix N]\n");
        return 2;
    }
    fds[0] = connect_port(pri_port, 5000);
    fds[1] = connect_port(sec_port, 5000);
    fds[2] = connect_port(out_port, 5000);
    if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0) {
        fprintf(stderr, "compare-load: cannot connect\n");
        return 1;
    }
    usleep(300000);             /* let the compare attach its handlers */
    prctl(PR_SET_TIMERSLACK, 1000UL);   /* wake up when the pair is due */
    chunk = malloc(CHUNK + 2048);
    /* data segment k = 0 of each flow: the templates of fast_frame()
     * (--mix builds every frame in full) */
    tlen = build_frame(chunk, flows, flows, size);
    templates = malloc((size_t) flows * tlen);
    for (unsigned fl = 0; fl < flows && !mix; fl++) {
        build_frame(templates + fl * tlen, flows + fl, flows, size);
    }
    rbuf = malloc(RECV_BUF);
    next_k = calloc(flows, sizeof *next_k);
    seen = calloc(count / 8 + 1, 1);
    if (rate > 0) {
        sent_at = calloc(count, sizeof *sent_at);
        lat = calloc(count, sizeof *lat);
    }
    last_move = now_s();
    while (unique < count) {
        struct pollfd pfd[3];
        double t = now_s();

        /* refill the chunk once both sides have written it */
        if (off[0] == chunk_len && off[1] == chunk_len
            && next_frame < count) {
            uint64_t limit = count;

            chunk_len = off[0] = off[1] = 0;
            if (rate > 0) {
                /* One pair at a time, at least 1/rate apart: a late
                 * wake-up delays the schedule rather than sending the
                 * missed pairs back to back, where each would wait for
                 * the ones before it. */
                if (t < next_due) {
                    limit = next_frame;
                } else if (!mix) {
                    limit = next_frame + 1;
                } else if (next_frame < flows) {
                    limit = flows;          /* the SYN-ACKs together */
                } else {                    /* the rest of one reply */
                    limit = next_frame + (mix + 1)
                            - (next_frame - flows) % (mix + 1);
                }
                if (limit > count) {
                    limit = count;
                }
                if (limit > next_frame) {
                    next_due = t + 1.0 / rate;
                }
            } else if (received + window < limit) {
                limit = received + window;
            }
            if (!t0 && limit > next_frame) {
                t0 = t;
            }
            while (next_frame < limit && chunk_len < CHUNK) {
                if (sent_at) {
                    sent_at[next_frame] = t;
                }
                chunk_len += fast_frame(chunk + chunk_len, next_frame,
                                        flows, size, templates, tlen);
                next_frame++;
            }
        }
        for (int i = 0; i < 2; i++) {
            pfd[i].fd = fds[i];
            pfd[i].events = off[i] < chunk_len ? POLLOUT : 0;
        }
        pfd[2].fd = fds[2];
        pfd[2].events = POLLIN;
        /* Paced: while a frame is on its way, never sleep, so that the
         * load generator's own wake-up latency (tens of microseconds on a
         * virtual machine whose idle CPUs halt) is not part of the figure;
         * with nothing on its way, sleep until shortly before the next
         * pair is due, leaving the CPU to the rest of the machine. */
        if (rate > 0) {
            struct timespec ts = { 0, 0 };
            double d = next_due - now_s();

            /* Sleeping ends late (tens of microseconds, more now and
             * then): wake SPIN_AHEAD before the pair is due and spin the
             * rest, or pairs would leave in bursts, each waiting for the
             * one before it. */
            d -= SPIN_AHEAD;
            if (unique == next_frame && off[0] == chunk_len
                && off[1] == chunk_len && t0 && d > 0) {
                ts.tv_sec = (time_t) d;
                ts.tv_nsec = (long) ((d - ts.tv_sec) * 1e9);
            }
            if (ppoll(pfd, 3, &ts, NULL) < 0) {
                if (errno == EINTR) {
                    continue;
                }
                break;
            }
        } else if (poll(pfd, 3, 100) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (off[i] < chunk_len && (pfd[i].revents & (POLLOUT | POLLERR))) {
                ssize_t n = write(fds[i], chunk + off[i], chunk_len - off[i]);

                if (n > 0) {
                    off[i] += n;
                    last_move = now_s();
                } else if (n < 0 && errno != EAGAIN) {
                    fprintf(stderr, "compare-load: write: %s\n",
                            strerror(errno));
                    goto done;
                }
            }
        }
        if (pfd[2].revents & (POLLIN | POLLERR | POLLHUP)) {
            ssize_t n = read(fds[2], rbuf + rhave, RECV_BUF - rhave);
            double tr = now_s();
            size_t p = 0;

            if (n == 0) {
                fprintf(stderr, "compare-load: outdev closed\n");
                break;
            }
            if (n < 0) {
                if (errno != EAGAIN) {
                    break;
                }
                n = 0;
            }
            rhave += n;
            if (n) {
                last_move = tlast = tr;
            }
            while (rhave - p >= 4) {
                uint32_t len = get32(rbuf + p);
                const uint8_t *f = rbuf + p + 4;
                unsigned flow;
                uint32_t seq;
                uint64_t idx;

                if (len > 65536) {
                    fprintf(stderr, "compare-load: bad frame length %u\n",
                            len);
                    goto done;
                }
                if (rhave - p < 4 + len) {
                    break;
                }
                p += 4 + len;
                received++;
                if (len < 54 || f[23] != 6) {
                    bad++;
                    continue;
                }
                flow = ((unsigned) f[36] << 8 | f[37]) - 10000;
                seq = get32(f + 38);
                if (flow >= flows) {
                    bad++;
                    continue;
                }
                if (f[47] & 0x02) {
                    idx = flow;
                } else {
                    uint64_t k;
                    unsigned plen;

                    if (!frame_index(flow, seq - PISN - 1, flows, size,
                                     &idx, &plen, &k)) {
                        bad++;
                        continue;
                    }
                    if (len != (54 + plen < 60 ? 60 : 54 + plen)) {
                        bad++;
                    }
                    if (k < next_k[flow]) {
                        reordered++;    /* came after a later one */
                    } else {
                        next_k[flow] = k + 1;
                    }
                }
                if (idx >= count) {
                    bad++;
                    continue;
                }
                if (seen[idx / 8] & (1u << (idx % 8))) {
                    dup++;
                    continue;
                }
                seen[idx / 8] |= 1u << (idx % 8);
                unique++;
                if (sent_at && idx < count && nlat < count
                    && sent_at[idx] - t0 >= warmup_ms / 1000.0) {
                    lat[nlat++] = (tr - sent_at[idx]) * 1e6;
                    if (trace_slow > 0 && lat[nlat - 1] > trace_slow) {
                        fprintf(stderr, "slow %.6f idx %llu %.1f %.6f\n",
                                sent_at[idx] - t0, (unsigned long long) idx,
                                lat[nlat - 1], sent_at[idx]);
                    }
                }
            }
            memmove(rbuf, rbuf + p, rhave - p);
            rhave -= p;
        }
        if ((now_s() - last_move) * 1000 > idle_ms) {
            break;
        }
    }
done:
    {
        double el = tlast > t0 ? tlast - t0 : 0;
        uint64_t missing = count - unique;
        double p50 = 0, p99 = 0, p999 = 0, pmax = 0;

        if (nlat) {
            qsort(lat, nlat, sizeof *lat, cmp_double);
            p50 = lat[nlat / 2];
            p99 = lat[(uint64_t) (nlat * 0.99)];
            p999 = lat[(uint64_t) (nlat * 0.999)];
            pmax = lat[nlat - 1];
        }
        printf("{\"size\":%u,\"count\":%llu,\"flows\":%u,\"received\":%llu,"
               "\"missing\":%llu,\"dup\":%llu,\"reordered\":%llu,"
               "\"bad\":%llu,\"elapsed_s\":%.6f,\"fps\":%.1f,\"mbps\":%.2f,"
               "\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f,"
               "\"lat_p999_us\":%.1f,\"lat_max_us\":%.1f,\"mix\":%u}\n",
               size, (unsigned long long) count, flows,
               (unsigned long long) received, (unsigned long long) missing,
               (unsigned long long) dup, (unsigned long long) reordered,
               (unsigned long long) bad, el, el > 0 ? received / el : 0,
               el > 0 ? received * (54 + (mix ? (size + mix * FULL_SEG)
                                          / (double) (mix + 1) : size))
                        / el / 1e6 : 0,
               p50, p99, p999, pmax, mix);
    }
    return 0;
}
