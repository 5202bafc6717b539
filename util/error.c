/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * util/error.c - the COLO_ERROR domain and its mapping onto QMP's error
 * classes.
 *
 * Every slow-path module reports failures as GErrors in this domain (see
 * include/util/error.h); the monitor (monitor/) turns them into QMP error
 * replies with colo_error_class().
 */
#include "util/error.h"

G_DEFINE_QUARK(colo-error-quark, colo_error)

/* Returns the QMP class name of 'err' (borrowed static string). */
const char *colo_error_class(const GError *err)
{
    if (!err || err->domain != COLO_ERROR) {
        return "GenericError";
    }
    switch ((ColoErrorCode)err->code) {
    case COLO_ERROR_COMMAND_NOT_FOUND:
        return "CommandNotFound";
    case COLO_ERROR_DEVICE_NOT_FOUND:
        return "DeviceNotFound";
    case COLO_ERROR_DEVICE_NOT_ACTIVE:
        return "DeviceNotActive";
    case COLO_ERROR_GENERIC:
    default:
        return "GenericError";
    }
}
