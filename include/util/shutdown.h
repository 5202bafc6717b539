/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/shutdown.h - asking the process to shut down, from below
 * the code that knows how.
 *
 * system/main.c owns the orderly shutdown (leave the loop, delete every
 * object newest first, close the monitors); the monitor's "quit" and any
 * other module only ask for it.  main() registers its handler first thing,
 * so the layers below it never name system/ code.
 */
#ifndef UTIL_SHUTDOWN_H
#define UTIL_SHUTDOWN_H

#include <glib.h>

/* Sets the handler (main(), once, before anything can ask).  The handler
 * runs in the caller's thread and must only flag the request. */
void shutdown_set_handler(void (*fn)(void));

/* Asks for an orderly shutdown.  Any thread.  FALSE when no handler is
 * registered (a unit test that is not the program). */
gboolean shutdown_request(void);

#endif /* UTIL_SHUTDOWN_H */
