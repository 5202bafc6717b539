/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/qom/object.h - user-creatable objects on GObject (our QOM).
 *
 * Everything a user names on the command line or over QMP is a UserObject:
 * -object types (iothread, filter-*, colo-compare), -netdev backends,
 * -device frontends and -chardev backends.  Each lives in one of four id
 * namespaces (ObjectKind), exactly as in QEMU, where an object, a netdev and
 * a chardev may share an id.
 *
 * Life cycle (one path for the command line and QMP):
 *
 *   user_object_create(kind, type, id, props)
 *     1. g_object_new() of the GType registered for (kind, type);
 *     2. each property is parsed from its string and set (errors name it);
 *     3. the class's complete() runs: validation, resolving links to other
 *        objects, opening sockets, attaching to a netdev.  It may fail;
 *     4. the object is added to the registry under 'id'.
 *   A failure at any step unrefs the object (its finalize must cope with a
 *   half-built object) and leaves nothing behind.
 *
 *   user_object_delete(kind, id)
 *     1. can_be_deleted() may refuse (an iothread a compare runs on, a
 *        chardev a filter uses);
 *     2. unparent() tears the object out of the graph (a filter leaves its
 *        chain, a compare flushes its queues);
 *     3. the registry drops its reference.
 *
 * Properties are GParamSpecs on the class.  GLib canonicalises property
 * names ('_' and '.' become '-'), so every pspec carries its user-visible
 * QEMU spelling as its *nick* ("vnet_hdr_support", "addr.path") and its
 * description as its blurb.  Classes declare them in a table
 * (include/qom/props.h), which creates them with the prop_* helpers below.
 * Supported value types: gboolean, gint, guint, gint64, guint64, gchararray
 * and enums (whose value_nick is the user spelling: "rx", "tx", "all").
 * A property may be set by qom-set after completion only if it has the
 * PROP_RUNTIME flag; others are fixed once the object is complete.
 *
 * Threads: the registry and every function here run in the main context.
 */
#ifndef QOM_OBJECT_H
#define QOM_OBJECT_H

#include <glib-object.h>
#include <stdbool.h>

typedef enum {
    OBJECT_KIND_OBJECT,       /* -object, object-add */
    OBJECT_KIND_NETDEV,       /* -netdev, netdev_add */
    OBJECT_KIND_DEVICE,       /* -device (guest-facing port) */
    OBJECT_KIND_CHARDEV,      /* -chardev, chardev-add */
    OBJECT_KIND__MAX,
} ObjectKind;

/* Settable through qom-set after the object is complete. */
#define PROP_RUNTIME (1u << G_PARAM_USER_SHIFT)
/* Must be given when the object is created (checked before complete()). */
#define PROP_REQUIRED (1u << (G_PARAM_USER_SHIFT + 1))

#define USER_TYPE_OBJECT (user_object_get_type())
G_DECLARE_DERIVABLE_TYPE(UserObject, user_object, USER, OBJECT, GObject)

struct _UserObjectClass {
    GObjectClass parent_class;

    /* One line shown by "-object help" / "-netdev help". */
    const char *description;

    /* Validates the properties set so far and brings the object to life.
     * Returns FALSE with errp set on failure.  Optional. */
    gboolean (*complete)(UserObject *obj, GError **errp);

    /* Returns FALSE with errp set if 'obj' may not be deleted now, e.g.
     * because another object uses it.  Optional (default: deletable unless
     * user_object_ref_use() counts users, see below). */
    gboolean (*can_be_deleted)(UserObject *obj, GError **errp);

    /* Detaches 'obj' from everything before it is dropped from the
     * registry (object-del, chardev-remove, shutdown).  Runs only for a
     * completed object.  Optional. */
    void (*unparent)(UserObject *obj);

    /* Checks a property value beyond what its GParamSpec enforces, before
     * it is set.  Runs for creation and for qom-set.  Optional. */
    gboolean (*check_property)(UserObject *obj, GParamSpec *pspec,
                               const GValue *value, GError **errp);
};

/* --- types ------------------------------------------------------------- */

/* Makes 'gtype' creatable as 'qom_type' within 'kind' ("filter-mirror" as an
 * OBJECT_KIND_OBJECT; "tap" as an OBJECT_KIND_NETDEV).  Call from the
 * module's registration function (see MODULE_INIT below). */
void object_type_register(ObjectKind kind, const char *qom_type, GType gtype);
/* Returns the GType for 'qom_type' in 'kind', or G_TYPE_INVALID. */
GType object_type_lookup(ObjectKind kind, const char *qom_type);
/* Returns a new list of the registered type names of 'kind', sorted; the
 * strings are borrowed. */
GList *object_type_list(ObjectKind kind);
/* Prints "-object help" for 'kind' (type == NULL) or "-object TYPE,help"
 * (each property with its type, default and description) to stdout.
 * Returns FALSE with errp set for an unknown type. */
gboolean object_type_print_help(ObjectKind kind, const char *qom_type,
                                GError **errp);
/* User-facing name of a pspec's value type: "bool", "int32", "uint32",
 * "int64", "uint64", "str", or the enum's name. */
const char *object_property_type_name(GParamSpec *pspec);
/* The pspec of 'klass' whose user name (nick) or canonical name is
 * 'name', or NULL. */
GParamSpec *object_class_find_user_property(GObjectClass *klass,
                                            const char *name);

/* Help text of object_type_print_help() as a newly allocated string (for
 * QMP or tests), or NULL with errp set for an unknown type. */
char *object_type_help_text(ObjectKind kind, const char *qom_type,
                            GError **errp);
/* "object", "netdev", "device", "chardev". */
const char *object_kind_name(ObjectKind kind);
/* The option key naming the type: "qom-type" (object), "type" (netdev,
 * chardev), "driver" (device). */
const char *object_kind_type_key(ObjectKind kind);
/* The registered name of exactly 'gtype' (borrowed) and its kind, or NULL
 * if 'gtype' is not registered. */
const char *object_type_registered_name(GType gtype, ObjectKind *kind_out);
/* The user spelling of a property ("vnet_hdr_support"): its nick when the
 * nick is a spelling of its name, otherwise its canonical name. */
const char *object_property_user_name(GParamSpec *pspec);
/* Parses 'str' into 'out' (an unset GValue, initialised here) according to
 * 'pspec', with range checks; errors name 'name'. */
gboolean object_property_parse(GParamSpec *pspec, const char *name,
                               const char *str, GValue *out, GError **errp);
/* The string form of 'value' ("on"/"off", decimal, enum nick); new string. */
char *object_property_value_to_str(GParamSpec *pspec, const GValue *value);
/* The string form of the default, or NULL (string without default). */
char *object_property_default_str(GParamSpec *pspec);

/* --- property helpers (flags: G_PARAM_READWRITE is implied) ------------- */

GParamSpec *prop_bool(const char *name, const char *desc, gboolean def,
                      unsigned flags);
GParamSpec *prop_uint(const char *name, const char *desc, guint min,
                      guint max, guint def, unsigned flags);
GParamSpec *prop_int(const char *name, const char *desc, gint min, gint max,
                     gint def, unsigned flags);
GParamSpec *prop_uint64(const char *name, const char *desc, guint64 min,
                        guint64 max, guint64 def, unsigned flags);
GParamSpec *prop_int64(const char *name, const char *desc, gint64 min,
                       gint64 max, gint64 def, unsigned flags);
GParamSpec *prop_str(const char *name, const char *desc, const char *def,
                     unsigned flags);
GParamSpec *prop_enum(const char *name, const char *desc, GType enum_type,
                      gint def, unsigned flags);

/* --- instances ----------------------------------------------------------- */

const char *user_object_get_id(UserObject *obj);
ObjectKind user_object_get_kind(UserObject *obj);
/* The registered type name ("filter-mirror"). */
const char *user_object_get_type_name(UserObject *obj);
gboolean user_object_is_complete(UserObject *obj);

/* Creates, configures, completes and registers an object.  Properties are
 * applied in sorted key order (construct-only ones at g_object_new()), each
 * through check_property(); errors are QEMU's: "Property 'TYPE.KEY' not
 * found", "Parameter 'KEY' expects 'on' or 'off'", "Parameter 'KEY' expects
 * a number between MIN and MAX", "Parameter 'KEY' does not accept value
 * 'V'" (enums), "Parameter 'KEY' is missing" (PROP_REQUIRED), "Duplicate ID
 * 'ID' for KIND", "invalid object type: TYPE" (per kind wording).
 * 'props' maps user property names (dotted allowed) to string values; "id"
 * and the type key are ignored if present; it may be NULL.  'id' may be
 * NULL only for OBJECT_KIND_DEVICE (QEMU's -device without id=): the
 * object then gets an anonymous id "device[N]".  Unknown properties,
 * missing PROP_REQUIRED ones, bad values and duplicate ids are errors that
 * name the key.  Returns a borrowed pointer (the registry owns it). */
UserObject *user_object_create(ObjectKind kind, const char *qom_type,
                               const char *id, GHashTable *props,
                               GError **errp);

/* Parses -object/-netdev/-device/-chardev option text ("TYPE,id=x,k=v")
 * and creates the object.  Handles "help" and "TYPE,help" by printing and
 * setting *printed_help (may be NULL) instead of creating. */
UserObject *user_object_create_from_opts(ObjectKind kind, const char *opts,
                                         gboolean *printed_help,
                                         GError **errp);

/* Looks an object up by id; NULL if absent. */
UserObject *user_object_find(ObjectKind kind, const char *id);
/* Looks up and checks the type; errors "Device 'ID' not found"
 * (UTIL_ERROR_DEVICE_NOT_FOUND) or "'ID' is not a TYPE". */
UserObject *user_object_find_typed(ObjectKind kind, const char *id,
                                   GType type, GError **errp);
/* Deletes an object (see the life cycle above).  Errors: "object 'ID' not
 * found" (OBJECT), DeviceNotFound "Device 'ID' not found" (NETDEV, DEVICE)
 * or "Chardev 'ID' not found", the use-count refusal, or the class's
 * can_be_deleted() error. */
gboolean user_object_delete(ObjectKind kind, const char *id, GError **errp);
/* Deletes every object of every kind, newest first (shutdown). */
void user_object_delete_all(void);
/* Returns a new list of the objects of 'kind' in creation order (borrowed
 * pointers). */
GList *user_object_list(ObjectKind kind);

/* Use counting for can_be_deleted(): an object that uses 'obj' (a filter
 * using a chardev, a compare using an iothread) calls ref_use with its own
 * id when it starts and unref_use when it stops.  While the count is not
 * zero, deletion fails with "KIND 'ID' is in use by 'USER'" (KIND is
 * object, netdev, device or chardev), and user_object_delete_all() removes
 * the users first. */
void user_object_ref_use(UserObject *obj, const char *user_id);
void user_object_unref_use(UserObject *obj, const char *user_id);
/* The total number of uses of 'obj' (all users). */
guint user_object_use_count(UserObject *obj);

/* Parts of a composite object (colo-proxy creates the seeds' topology as
 * ordinary objects): while 'obj' has an owner, deleting it alone fails with
 * "KIND 'ID' is a part of TYPE 'OWNER' and is deleted with it: object-del
 * 'OWNER' instead".  The owner clears it (owner NULL) before deleting its
 * parts in its unparent().  'owner' is not referenced: it outlives its
 * parts by construction. */
void user_object_set_owner(UserObject *obj, UserObject *owner);
UserObject *user_object_get_owner(UserObject *obj);

/* Sets "Property 'TYPE.NAME' not found" with the likely intended name
 * ("did you mean 'outdev'?") or where the names are listed. */
void user_object_property_not_found(UserObject *obj, const char *name,
                                    GError **errp);

/* Sets or reads a property by user name, from or to its string form.
 * Setting after completion needs PROP_RUNTIME. */
gboolean user_object_set_str(UserObject *obj, const char *name,
                             const char *value, GError **errp);
/* Returns a newly allocated string, or NULL with errp set. */
char *user_object_get_str(UserObject *obj, const char *name, GError **errp);
/* Sets a property from a GValue already of the pspec's type (QMP path). */
gboolean user_object_set_value(UserObject *obj, const char *name,
                               const GValue *value, GError **errp);

/* --- module initialisation ----------------------------------------------- */

/* Each module registers its types from a constructor function, so that
 * linking a module is enough to make its types available:
 *
 *   static void filter_mirror_register(void)
 *   {
 *       object_type_register(OBJECT_KIND_OBJECT, "filter-mirror",
 *                            FILTER_TYPE_MIRROR);
 *   }
 *   type_init(filter_mirror_register)
 */
#define type_init(fn) \
    static void __attribute__((constructor)) fn##_ctor_(void) { fn(); }

#endif /* QOM_OBJECT_H */
