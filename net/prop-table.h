/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/prop-table.h - offset-table GObject property storage (private).
 *
 * Each backend class keeps a table of field offsets indexed by property id,
 * and its set_property / get_property call these.
 *
 * Threads: main context (property access).
 */
#ifndef NET_PROP_TABLE_H
#define NET_PROP_TABLE_H

#include <glib-object.h>
#include <stddef.h>

/* Generic GObject property storage for the backends: each class keeps a
 * table of field offsets indexed by property id, and its set_property /
 * get_property call these.  Handles gboolean, guint and string fields. */
void net_prop_set(void *obj, size_t offset, const GValue *value);
void net_prop_get(void *obj, size_t offset, GValue *value);

#endif /* NET_PROP_TABLE_H */
