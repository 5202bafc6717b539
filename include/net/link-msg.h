/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/net/link-msg.h - the two text protocols spoken over framed
 * chardev links (include/net/link-framing.h): Xen's notify_dev protocol between
 * colo-compare and Xen's COLO frame, and colo-heartbeat's liveness
 * messages between two colo-proxies.
 *
 * Both arrive from the network, one message per frame, and are parsed
 * here and nowhere else, by pure functions (no I/O, no allocation) that
 * the fuzz targets tests/fuzz/fuzz-notify.c and fuzz-heartbeat.c drive
 * with arbitrary frames.
 *
 * notify_dev (QEMU's net/colo-compare.c, exact byte strings, no NUL):
 *   Xen -> compare   "COLO_USERSPACE_PROXY_INIT"   (answered with
 *                     "COLO_COMPARE_GET_XEN_INIT")
 *   Xen -> compare   "COLO_CHECKPOINT"             (a checkpoint committed)
 *   compare -> Xen   "DO_CHECKPOINT"               (please checkpoint)
 * Anything else is an unknown instruction: counted and logged, the link
 * stays up (QEMU's behaviour).
 *
 * heartbeat: "COLO_HEARTBEAT <seq>", <seq> one or more decimal digits of
 * a value that fits in 64 bits, at most LINK_HB_MAX_MSG bytes in all;
 * "COLO_HEARTBEAT_QEMU_GONE <seq>" in its place once the sender's QEMU is
 * gone (colo-proxy only: not "COLO_HEARTBEAT " with its space, so an
 * older peer rejects it as a bad message).
 */
#ifndef NET_LINK_MSG_H
#define NET_LINK_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_TEXT_INIT "COLO_USERSPACE_PROXY_INIT"
#define NOTIFY_TEXT_INIT_REPLY "COLO_COMPARE_GET_XEN_INIT"
#define NOTIFY_TEXT_CHECKPOINT "COLO_CHECKPOINT"
#define NOTIFY_TEXT_DO_CHECKPOINT "DO_CHECKPOINT"

typedef enum {
    LINK_NOTIFY_MSG_INIT,          /* COLO_USERSPACE_PROXY_INIT */
    LINK_NOTIFY_MSG_CHECKPOINT,    /* COLO_CHECKPOINT */
    LINK_NOTIFY_MSG_UNKNOWN,       /* anything else */
} LinkNotifyMsg;

/* Classifies one notify_dev frame payload. */
LinkNotifyMsg link_notify_parse(const uint8_t *buf, uint32_t len);

#define LINK_HB_MAGIC "COLO_HEARTBEAT "
#define LINK_HB_MAX_MSG 64u        /* largest heartbeat payload */

/* Parses one heartbeat payload; false (and *seq untouched) for anything
 * that is not exactly a heartbeat. */
bool link_hb_parse(const uint8_t *buf, uint32_t len, uint64_t *seq);

/* Writes the heartbeat for 'seq' into 'buf' (LINK_HB_MAX_MSG bytes, no
 * NUL kept) and returns its length. */
size_t link_hb_format(char buf[LINK_HB_MAX_MSG], uint64_t seq);

#define LINK_HB_GONE_MAGIC "COLO_HEARTBEAT_QEMU_GONE "

/* The same two for the "QEMU gone" message. */
bool link_hb_gone_parse(const uint8_t *buf, uint32_t len, uint64_t *seq);
size_t link_hb_gone_format(char buf[LINK_HB_MAX_MSG], uint64_t seq);

#endif /* NET_LINK_MSG_H */
