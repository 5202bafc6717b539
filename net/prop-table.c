/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * net/prop-table.c - see net/prop-table.h for the contract.
 */
#include <stdint.h>

#include "net/prop-table.h"

void net_prop_set(void *obj, size_t offset, const GValue *value)
{
    void *field = (uint8_t *)obj + offset;

    switch (G_VALUE_TYPE(value)) {
    case G_TYPE_BOOLEAN:
        *(gboolean *)field = g_value_get_boolean(value);
        break;
    case G_TYPE_UINT:
        *(guint *)field = g_value_get_uint(value);
        break;
    case G_TYPE_STRING:
        g_free(*(char **)field);
        *(char **)field = g_value_dup_string(value);
        break;
    default:
        g_assert_not_reached();
    }
}

void net_prop_get(void *obj, size_t offset, GValue *value)
{
    void *field = (uint8_t *)obj + offset;

    switch (G_VALUE_TYPE(value)) {
    case G_TYPE_BOOLEAN:
        g_value_set_boolean(value, *(gboolean *)field);
        break;
    case G_TYPE_UINT:
        g_value_set_uint(value, *(guint *)field);
        break;
    case G_TYPE_STRING:
        g_value_set_string(value, *(char **)field);
        break;
    default:
        g_assert_not_reached();
    }
}
