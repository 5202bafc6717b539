/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/error.c - the UTIL_ERROR domain and its mapping onto QMP's error
 * classes.
 *
 * Every slow-path module reports failures as GErrors in this domain (see
 * include/util/error.h); the monitor (monitor/) turns them into QMP error
 * replies with util_error_class().
 */
#include "util/error.h"

G_DEFINE_QUARK(colo-error-quark, util_error)

/* Returns the QMP class name of 'err' (borrowed static string). */
const char *util_error_class(const GError *err)
{
    if (!err || err->domain != UTIL_ERROR) {
        return "GenericError";
    }
    switch ((UtilErrorCode)err->code) {
    case UTIL_ERROR_COMMAND_NOT_FOUND:
        return "CommandNotFound";
    case UTIL_ERROR_DEVICE_NOT_FOUND:
        return "DeviceNotFound";
    case UTIL_ERROR_DEVICE_NOT_ACTIVE:
        return "DeviceNotActive";
    case UTIL_ERROR_GENERIC:
    default:
        return "GenericError";
    }
}
