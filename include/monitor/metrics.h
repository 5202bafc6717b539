/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/monitor/metrics.h - the query-* commands in Prometheus' text
 * exposition format (version 0.0.4).
 *
 * metrics_render() runs the statistics commands of the QMP schema through
 * the monitor's own dispatcher (the same handlers, the same snapshots a
 * QMP client gets) and flattens each reply into metric families, so a
 * number exported here and the member of the query it came from cannot
 * disagree.  The rules (docs/observability.md lists the result):
 *
 *   - each command has a prefix ("query-colo-compare-stats" ->
 *     colo_proxy_compare_) and, for a list, the member naming the object
 *     (label "id"; the label "type" is the object's QOM type);
 *   - an integer member is a counter (name_total) unless the command's
 *     table lists it as a gauge (a level: held, connections, queue sizes);
 *     a boolean is a gauge 0/1; members ending in -ms/-us/-ns are gauges
 *     converted to seconds (name_seconds); strings become labels of one
 *     PREFIX_info gauge per object (value 1);
 *   - an object of integers (the reason maps: mismatched, released-
 *     uncompared, framing-errors, ...) is one family labelled by key
 *     ("reason", "link", "verdict"); the primary/secondary halves of
 *     colo-compare are labelled "side"; the netdev's counters/backend
 *     groups are flattened into the netdev's prefix;
 *   - a Histogram (qapi/metrics.json) is a Prometheus histogram in
 *     seconds (_bucket{le}, _sum, _count).
 *
 * Main context (it dispatches QMP handlers).
 */
#ifndef MONITOR_METRICS_H
#define MONITOR_METRICS_H

#include <glib.h>

/* The whole exposition text (new string).  Never fails: a command that
 * answers an error is left out and counted in
 * colo_proxy_metrics_query_errors_total. */
GString *metrics_render(void);

#endif /* MONITOR_METRICS_H */
