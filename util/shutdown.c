/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/shutdown.c - the shutdown hook (contract in include/util/shutdown.h).
 */
#include "util/shutdown.h"

/* Written once by main() before any thread starts; read from any. */
static void (*shutdown_handler)(void);

void shutdown_set_handler(void (*fn)(void))
{
    g_atomic_pointer_set(&shutdown_handler, fn);
}

gboolean shutdown_request(void)
{
    void (*fn)(void) = g_atomic_pointer_get(&shutdown_handler);

    if (!fn) {
        return FALSE;
    }
    fn();
    return TRUE;
}
