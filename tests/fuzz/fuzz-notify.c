/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-notify.c - fuzz target for the Xen notify_dev protocol
 * as colo-compare reads it from its notify_dev chardev: QEMU's framing
 * (net/link-framing.c, with the vnet field when vnet_hdr_support=on, as QEMU
 * expects on input) carrying the text messages of net/link-msg.c.
 *
 * Input layout: byte 0 holds flags (bit 0: vnet_hdr_support), bytes 1..8
 * are eight chunk sizes (1..256) cycled over to cut the rest, the bytes
 * Xen's side sent, into reads.  Each read is fed as colo-compare's
 * notify link does; a framing error ends the connection (the rest is
 * lost with it, as when colo-compare drops it).  Besides "no crash, no
 * out-of-bounds access, no leak" it checks:
 *   - every frame is classified as an independent decoder says: INIT and
 *     CHECKPOINT only for exactly their byte strings, anything else
 *     UNKNOWN (and never an action);
 *   - the protocol's actions (INIT answered once each, CHECKPOINT counted,
 *     unknown counted) and the framing error are the same however the
 *     stream is cut (reference: one read of everything);
 *   - the state follows QEMU's: initialized after the first INIT.
 * A violated property aborts, which libFuzzer reports as a crash.
 *
 * Built as the other targets are (tests/fuzz/meson.build); the smoke
 * build replays tests/fuzz/corpus/notify/ in `make check`.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/link-framing.h"
#include "net/link-msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-notify: %s:%d: property failed: %s\n", \
                    __FILE__, __LINE__, #cond);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

#define HDR_BYTES 9
#define MAX_MSGS 4096

/* What one connection did, in order. */
typedef struct {
    uint8_t kind[MAX_MSGS];   /* LinkNotifyMsg of each frame */
    unsigned n;
    unsigned replies;         /* INIT answered */
    unsigned checkpoints;
    unsigned unknown;
    bool initialized;
    LinkError err;
} Run;

/* An independent classifier: the payload as a C string, compared whole. */
static LinkNotifyMsg reference_kind(const uint8_t *buf, uint32_t len)
{
    g_autofree char *s = NULL;

    if (memchr(buf, '\0', len)) {
        return LINK_NOTIFY_MSG_UNKNOWN;
    }
    s = g_strndup((const char *) buf, len);
    if (g_str_equal(s, "COLO_USERSPACE_PROXY_INIT")) {
        return LINK_NOTIFY_MSG_INIT;
    }
    if (g_str_equal(s, "COLO_CHECKPOINT")) {
        return LINK_NOTIFY_MSG_CHECKPOINT;
    }
    return LINK_NOTIFY_MSG_UNKNOWN;
}

/* colo-compare's notify_frame_cb, with its effects counted. */
static void on_frame(void *opaque, const uint8_t *buf, uint32_t len,
                     uint32_t vnet_len)
{
    Run *r = opaque;
    LinkNotifyMsg k = link_notify_parse(buf, len);

    (void) vnet_len;
    FUZZ_CHECK(k == reference_kind(buf, len));
    if (r->n < MAX_MSGS) {
        r->kind[r->n] = (uint8_t) k;
    }
    r->n++;
    switch (k) {
    case LINK_NOTIFY_MSG_INIT:
        r->initialized = true;
        r->replies++;
        break;
    case LINK_NOTIFY_MSG_CHECKPOINT:
        r->checkpoints++;
        break;
    case LINK_NOTIFY_MSG_UNKNOWN:
        r->unknown++;
        break;
    }
}

static void run(Run *r, const uint8_t *stream, size_t n, bool vnet,
                const uint8_t *chunks)
{
    LinkReader fr;
    size_t off = 0;
    unsigned k = 0;

    memset(r, 0, sizeof(*r));
    link_reader_init(&fr, vnet, 0);
    while (off < n) {
        size_t c = chunks ? (size_t) chunks[k++ % 8] % 256 + 1 : n;
        GError *err = NULL;

        c = MIN(c, n - off);
        r->err = link_reader_feed(&fr, stream + off, c, on_frame, r, &err);
        off += c;
        if (r->err != LINK_OK) {
            FUZZ_CHECK(err != NULL);
            g_error_free(err);
            break;              /* colo-compare drops the connection */
        }
        FUZZ_CHECK(err == NULL);
    }
    link_reader_destroy(&fr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static Run ref, got;
    bool vnet;

    if (size < HDR_BYTES || size > 65536) {
        return 0;
    }
    vnet = data[0] & 1;
    run(&ref, data + HDR_BYTES, size - HDR_BYTES, vnet, NULL);
    run(&got, data + HDR_BYTES, size - HDR_BYTES, vnet, data + 1);
    FUZZ_CHECK(got.err == ref.err);
    FUZZ_CHECK(got.n == ref.n);
    FUZZ_CHECK(memcmp(got.kind, ref.kind, MIN(got.n, MAX_MSGS)) == 0);
    FUZZ_CHECK(got.replies == ref.replies);
    FUZZ_CHECK(got.checkpoints == ref.checkpoints);
    FUZZ_CHECK(got.unknown == ref.unknown);
    FUZZ_CHECK(got.replies + got.checkpoints + got.unknown == got.n);
    FUZZ_CHECK(got.initialized == (got.replies > 0));
    return 0;
}
