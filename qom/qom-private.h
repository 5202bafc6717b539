/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qom/qom-private.h - shared by qom/object.c, qom/props.c and qom/help.c
 * only.
 */
#ifndef QOM_QOM_PRIVATE_H
#define QOM_QOM_PRIVATE_H

#include "qom/object.h"

/* Sets the "unknown type" error of 'kind' for 'qom_type', worded as QEMU
 * words it for -object, -netdev, -chardev and -device. */
void object_type_unknown_error(ObjectKind kind, const char *qom_type,
                               GError **errp);

/* qom/props.c, for UserObject's instance init and finalize: gives every
 * table field of an object of class 'oc' its default, and frees the string
 * fields. */
void object_props_init_defaults(GObject *obj, GObjectClass *oc);
void object_props_free(GObject *obj);

#endif /* QOM_QOM_PRIVATE_H */
