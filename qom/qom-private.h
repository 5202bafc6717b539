/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/qom-private.h - shared by qom/object.c and qom/help.c only.
 */
#ifndef QOM_QOM_PRIVATE_H
#define QOM_QOM_PRIVATE_H

#include "qom/object.h"

/* Sets the "unknown type" error of 'kind' for 'qom_type', worded as QEMU
 * words it for -object, -netdev, -chardev and -device. */
void object_type_unknown_error(ObjectKind kind, const char *qom_type,
                               GError **errp);

#endif /* QOM_QOM_PRIVATE_H */
