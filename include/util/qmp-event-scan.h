/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/qmp-event-scan.h - QEMU's per-checkpoint QMP events
 * recognised without building a JSON tree.
 *
 * On a COLO pair QEMU writes three events per checkpoint to the qemu
 * driver's QMP connection (STOP, MIGRATION_PASS, RESUME), all while the
 * guests are stopped or just resuming, on a machine where every
 * microsecond colo-proxy spends then is taken from QEMU's checkpoint.
 * json-glib builds a parser object, a scanner and a node tree for each
 * one.  qmp_scan_checkpoint_event() recognises exactly the lines QEMU
 * writes for them and nothing else; any other line (another event, a
 * reply, a member out of place, data where none is expected, anything
 * json-glib might read differently) returns NULL and goes through the
 * full parser as before.  Pure, any thread.
 */
#ifndef UTIL_QMP_EVENT_SCAN_H
#define UTIL_QMP_EVENT_SCAN_H

#include <stddef.h>

/*
 * 'line' (not NUL-terminated, 'len' bytes, a trailing '\r' allowed) is
 *
 *   {"timestamp": {"seconds": N, "microseconds": N}, "event": "STOP"}
 *   {"timestamp": {"seconds": N, "microseconds": N}, "event": "RESUME"}
 *   {"timestamp": {"seconds": N, "microseconds": N},
 *    "event": "MIGRATION_PASS", "data": {"pass": N}}
 *
 * (N unsigned decimal integers of at most 18 digits, QEMU's member order,
 * any JSON whitespace between tokens): returns "STOP", "RESUME" or
 * "MIGRATION_PASS" (static strings).  Otherwise NULL.  The timestamp and
 * the pass number are not returned: the driver uses neither.
 */
const char *qmp_scan_checkpoint_event(const char *line, size_t len);

#endif /* UTIL_QMP_EVENT_SCAN_H */
