/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/fuzz/fuzz-qemu-driver.c - fuzz target for the QMP *client* side:
 * colo/colo-qemu.c's parser and state machine (the colo-frame "qemu"
 * checkpoint driver) fed arbitrary QMP replies and events, with the COLO
 * frame (colo/colo.c) behind it.
 *
 * Input: lines.  A line starting with '#' is a control line for the frame:
 *   #secondary   (first line only) the frame and driver run as secondary
 *   #ckpt        colo-compare asks for a checkpoint (primary)
 *   #fail        the frame gives up the checkpoint in flight (a timeout)
 *   #failover    this side fails over (heartbeat, x-colo-lost-heartbeat)
 * Every other line is one line from "QEMU" to the driver; the session
 * starts as if just connected, so a greeting is expected first.  What the
 * driver writes back is dropped; replies are matched to the commands it
 * sent, as with a real QEMU.
 *
 * Besides "no crash, no out-of-bounds access, no leak" (ASan/UBSan/LSan:
 * every value QEMU sends is typed by util/qmp-json.h before use) it
 * checks, aborting on violation:
 *   - the driver's invariants (colo_frame_qemu_test_invariants: bounded
 *     command FIFO, a trigger only for a wanted checkpoint, a known state);
 *   - a secondary never starts a checkpoint, whatever QEMU says (#19);
 *   - the frame never has a checkpoint in flight after a failover.
 *
 * FUZZ_VERBOSE=1 in the environment keeps the driver's log messages.
 *
 * The smoke build (fuzz-qemu-driver-smoke) replays
 * tests/fuzz/corpus/qemu-driver/ under `make check`; with -Dfuzzing=true
 * it is a libFuzzer binary (tests/fuzz/meson.build).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "colo/colo.h"
#include "colo/colo-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do {                                           \
        if (!(cond)) {                                                  \
            fprintf(stderr, "fuzz-qemu-driver: %s:%d: property failed: "  \
                    "%s\n", __FILE__, __LINE__, #cond);                 \
            abort();                                                    \
        }                                                               \
    } while (0)

#define QMP_ADDR "unix:/nonexistent/fuzz-qemu.qmp"

static void quiet_log(const gchar *domain, GLogLevelFlags level,
                      const gchar *message, gpointer data)
{
}

static ColoFrame *fuzz_frame(void)
{
    static ColoFrame *f;

    if (!f) {
        /* the process's only colo-frame, never completed as a user
         * object (that would connect to QMP_ADDR): the frame is bound to
         * it by hand per input */
        f = g_object_new(COLO_TYPE_FRAME, "driver",
                         COLO_FRAME_DRIVER_QEMU, "qemu-qmp", QMP_ADDR,
                         "min-interval", 0u, NULL);
        if (!getenv("FUZZ_VERBOSE")) {
            g_log_set_default_handler(quiet_log, NULL);
        }
        g_main_context_acquire(NULL);   /* events delivered at once */
    }
    return f;
}

static void drain(void)
{
    int n = 0;

    /* idle sources only (timers are minutes away); bounded */
    while (n++ < 64 && g_main_context_iteration(NULL, FALSE)) {
    }
}

static void control(const char *line, gsize len, ColoMode mode)
{
    if (len >= 5 && memcmp(line, "#ckpt", 5) == 0) {
        colo_hooks_request_checkpoint("fuzz", COLO_CKPT_MANUAL, NULL);
    } else if (len >= 5 && memcmp(line, "#fail", 5) == 0 &&
               !(len >= 9 && memcmp(line, "#failover", 9) == 0)) {
        if (colo_checkpoint_in_flight()) {
            colo_checkpoint_done(FALSE, "fuzz: timed out");
        }
    } else if (len >= 9 && memcmp(line, "#failover", 9) == 0) {
        colo_failover(COLO_EXIT_REASON_REQUEST, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ColoFrame *f = fuzz_frame();
    const char *p = (const char *) data;
    const char *end = p + size;
    ColoMode mode = COLO_MODE_PRIMARY;
    const char *broken;
    uint64_t started0;

    if (size >= 10 && memcmp(p, "#secondary", 10) == 0) {
        mode = COLO_MODE_SECONDARY;
    }
    colo_frame_test_unbind(f);
    colo_frame_test_bind(f, mode);
    colo_frame_qemu_test_session(f, mode);
    started0 = colo_get_stats()->started;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        gsize len = (gsize) ((nl ? nl : end) - p);
        /* an exact-size copy, so a read past the line's end is seen */
        char *line = g_malloc(len ? len : 1);

        memcpy(line, p, len);
        if (len && line[0] == '#') {
            control(line, len, mode);
        } else {
            colo_frame_qemu_test_line(f, line, len);
        }
        g_free(line);
        drain();
        broken = colo_frame_qemu_test_invariants(f);
        if (broken) {
            fprintf(stderr, "fuzz-qemu-driver: driver invariant: %s\n",
                    broken);
            abort();
        }
        if (mode == COLO_MODE_SECONDARY) {
            FUZZ_CHECK(colo_get_stats()->started == started0);
        }
        if (colo_failover_active()) {
            FUZZ_CHECK(!colo_checkpoint_in_flight());
        }
        p = nl ? nl + 1 : end;
    }
    colo_frame_qemu_detach(f);
    colo_frame_test_unbind(f);
    drain();
    return 0;
}
