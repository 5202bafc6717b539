/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/util/error.h - the one error domain of colo-proxy.
 *
 * Slow-path functions (configuration, monitor, set-up) take 'GError **errp'
 * as their last parameter and return gboolean or a pointer, following the
 * rules of QEMU's include/qapi/error.h mapped onto GError:
 *
 *   - on failure set *errp exactly once and return FALSE / NULL;
 *   - on success never touch *errp;
 *   - never both report an error and return it;
 *   - errp may be NULL (the caller does not care why).
 *
 * The packet path never creates a GError: it returns a verdict and bumps a
 * counter (see include/util/stats.h).
 *
 * Error codes map onto QMP's error classes, so a GError can be returned to a
 * QMP client unchanged: {"error": {"class": CLASS, "desc": message}}.
 */
#ifndef UTIL_ERROR_H
#define UTIL_ERROR_H

#include <glib.h>

#define UTIL_ERROR util_error_quark()
GQuark util_error_quark(void);

typedef enum {
    UTIL_ERROR_GENERIC,           /* QMP "GenericError" */
    UTIL_ERROR_COMMAND_NOT_FOUND, /* QMP "CommandNotFound" */
    UTIL_ERROR_DEVICE_NOT_FOUND,  /* QMP "DeviceNotFound" */
    UTIL_ERROR_DEVICE_NOT_ACTIVE, /* QMP "DeviceNotActive" */
} UtilErrorCode;

/* Returns the QMP error class name for 'err' ("GenericError" for any error
 * that is not in UTIL_ERROR's domain). */
const char *util_error_class(const GError *err);

/* Shorthand for g_set_error(errp, UTIL_ERROR, UTIL_ERROR_GENERIC, ...). */
#define error_setg(errp, ...) \
    g_set_error((errp), UTIL_ERROR, UTIL_ERROR_GENERIC, __VA_ARGS__)

#endif /* UTIL_ERROR_H */
