/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/qom/qom-qmp.h - JSON forms of object options (qom/qom-qmp.c).
 *
 * QEMU accepts -object, -netdev and -device arguments as JSON objects
 * (libvirt writes them that way):
 *
 *   -object '{"qom-type":"filter-mirror","id":"m0","netdev":"hn0",...}'
 *
 * These helpers turn such an object into the key -> string map of
 * user_object_create(), exactly as QMP's object-add does: booleans become
 * "on"/"off", numbers decimal, nested objects dotted keys ("addr.path"),
 * arrays indexed keys ("a.0").  They live with the QMP handlers because
 * the object model itself does not depend on json-glib.
 *
 * Threads: main context.
 */
#ifndef QOM_QOM_QMP_H
#define QOM_QOM_QMP_H

#include <json-glib/json-glib.h>

#include "qom/object.h"

/* Adds the members of 'obj' to 'props' (a g_str_hash table owning its
 * keys and values), flattened as above.  Returns FALSE with errp set for a
 * member that has no string form. */
gboolean qom_json_to_props(JsonObject *obj, GHashTable *props,
                           GError **errp);

/* Creates an object of 'kind' from the JSON text 'json' (the type under
 * object_kind_type_key(kind), "id", then properties).  Returns a borrowed
 * pointer, or NULL with errp set (JSON syntax errors included). */
UserObject *user_object_create_from_json(ObjectKind kind, const char *json,
                                         GError **errp);

/* Returns the type named in the JSON text 'json' (new string), or NULL if
 * it is not a JSON object with a string member 'type_key'. */
char *qom_json_peek_type(const char *json, const char *type_key);

#endif /* QOM_QOM_QMP_H */
