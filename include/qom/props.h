/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * include/qom/props.h - a class's properties, declared once in a table.
 *
 * Every UserObject class declares its properties as one array of PropDef,
 * one row per property: the user's spelling, the value type, the instance
 * field that holds it, default, bounds or enum type, flags and help text.
 * object_class_install_props() turns each row into the GParamSpec the rest
 * of qom/ reads (help, qom-list-properties, parsing: include/qom/object.h)
 * and installs the class's set_property/get_property, which route every
 * access through the row: no class writes a set/get switch.
 *
 *   static const PropDef filter_dump_props[] = {
 *       DEFINE_PROP_STR("file", FilterDump, file, NULL, PROP_REQUIRED,
 *                       "pcap file to write (truncated when it exists)"),
 *       DEFINE_PROP_UINT("maxlen", FilterDump, maxlen, 1, G_MAXUINT32,
 *                        FILTER_DUMP_MAXLEN_DEFAULT, 0,
 *                        "bytes of each frame to keep"),
 *   };
 *   ...in class_init:  object_class_install_props(oc, filter_dump_props);
 *
 * What the table does for the class, so that the class does none of it:
 *   - set stores the value in the field (a string is copied, the old one
 *     freed), get reads it; PROP_ATOMIC fields (int64 only) use relaxed
 *     atomic loads and stores, for a field a running thread reads;
 *   - every object starts with each field at its default (strings copied),
 *     before the class's own instance init runs;
 *   - string fields are freed after the class's finalize: a class must not
 *     free them itself;
 *   - .given names a gboolean field set TRUE whenever the property is set
 *     (for "was wait= given at all?");
 *   - PROP_POSITIVE refuses 0 with QEMU's "Property 'TYPE.NAME' requires a
 *     positive value" (the range in the pspec stays 0..max, as QEMU's).
 * The special cases are small callbacks named in the row:
 *   .check    validates a value before it is set, with its own error text
 *             (creation and qom-set alike; after the type's range check);
 *   .set/.get replace the store/load for a property without a field of
 *             its own type (PROP_NO_FIELD) or with a computed reading;
 *   .changed  runs after every store: the side effect of a runtime change.
 *
 * Rows are installed with property ids in table order (qom-list output
 * follows it).  A field's C type is checked at compile time against the
 * row's type (gboolean, gint, guint, gint64, guint64, char *, an enum).
 * Fields in a class's private struct: fill the table with the private
 * struct as TYPE and install with object_class_install_private_props().
 *
 * Threads: class_init and property access run in the main context (the
 * PROP_ATOMIC fields may be read from any thread).
 */
#ifndef QOM_PROPS_H
#define QOM_PROPS_H

#include <stddef.h>

#include "qom/object.h"

/* Zero refused ("requires a positive value"); for uint properties. */
#define PROP_POSITIVE (1u << (G_PARAM_USER_SHIFT + 2))
/* Relaxed atomic load/store of the field (int64 fields). */
#define PROP_ATOMIC (1u << (G_PARAM_USER_SHIFT + 3))

typedef enum {
    PROP_TYPE_BOOL,             /* gboolean */
    PROP_TYPE_INT,              /* gint */
    PROP_TYPE_UINT,             /* guint */
    PROP_TYPE_INT64,            /* gint64 */
    PROP_TYPE_UINT64,           /* guint64 */
    PROP_TYPE_STR,              /* char * (owned) */
    PROP_TYPE_ENUM,             /* an enum field, stored as gint */
} PropType;

/* .offset of a property held by its .set/.get callbacks. */
#define PROP_NO_FIELD ((ptrdiff_t)-1)

typedef struct PropDef PropDef;
struct PropDef {
    const char *name;           /* user spelling: "vnet_hdr_support" */
    PropType type;
    ptrdiff_t offset;           /* of the field, or PROP_NO_FIELD */
    ptrdiff_t given;            /* of a gboolean set on each set, or 0 */
    unsigned flags;             /* PROP_RUNTIME, PROP_REQUIRED, ... */
    gint64 min;                 /* bounds of the number types */
    guint64 max;
    gint64 def;                 /* default: bool, numbers, enum value */
    const char *def_str;        /* default of a string, or NULL */
    GType (*enum_type)(void);   /* PROP_TYPE_ENUM: its get_type() */
    const char *help;           /* the blurb of -object TYPE,help */

    gboolean (*check)(UserObject *obj, const GValue *value, GError **errp);
    void (*set)(UserObject *obj, const GValue *value);
    void (*get)(UserObject *obj, GValue *value);
    void (*changed)(UserObject *obj);
};

/* Installs 'n' rows of 'props' on 'oc' (class_init only), with the rows'
 * offsets taken from 'base' bytes into the instance (0, or the private
 * offset).  The rows are copied. */
void object_class_add_props(GObjectClass *oc, const PropDef *props, guint n,
                            ptrdiff_t base);

#define object_class_install_props(oc, table) \
    object_class_add_props(G_OBJECT_CLASS(oc), (table), \
                           G_N_ELEMENTS(table), 0)
/* For a class defined with G_DEFINE_TYPE_WITH_PRIVATE(TypeName, ...) whose
 * rows name fields of TypeNamePrivate. */
#define object_class_install_private_props(oc, table, TypeName) \
    object_class_add_props(G_OBJECT_CLASS(oc), (table), \
                           G_N_ELEMENTS(table), TypeName##_private_offset)

/* The row behind 'pspec', or NULL for a pspec not installed from a table. */
const PropDef *object_prop_def(GParamSpec *pspec);

/* Runs the row's PROP_POSITIVE and .check validation of 'value' (already
 * of the pspec's type) for 'obj'.  TRUE for a pspec without a row. */
gboolean object_prop_check(UserObject *obj, GParamSpec *pspec,
                           const GValue *value, GError **errp);

/* --- rows ----------------------------------------------------------------
 * DEFINE_PROP_x(name, TYPE, field, [bounds,] default, flags, help, ...):
 * the trailing arguments are more designated initialisers of the row
 * (.check = f, .changed = g, .given = PROP_FIELD(TYPE, f_given, gboolean)).
 */

/* offsetof(T, f), refusing at compile time a field whose type is not 'ct'. */
#define PROP_FIELD(T, f, ct) \
    ((ptrdiff_t)offsetof(T, f) + 0 * (ptrdiff_t)sizeof(struct { \
        _Static_assert(__builtin_types_compatible_p( \
                           __typeof__(((T *)0)->f), ct), \
                       "property field " #T "." #f " is not " #ct); \
        int ok_; }))
/* An enum field: any enum type the size of a gint. */
#define PROP_ENUM_FIELD(T, f) \
    ((ptrdiff_t)offsetof(T, f) + 0 * (ptrdiff_t)sizeof(struct { \
        _Static_assert(sizeof(((T *)0)->f) == sizeof(gint), \
                       "enum property field " #T "." #f " is not int-sized"); \
        int ok_; }))

#define DEFINE_PROP_BOOL(name_, T, f, def_, flags_, help_, ...) \
    { .name = (name_), .type = PROP_TYPE_BOOL, \
      .offset = PROP_FIELD(T, f, gboolean), .def = (def_), \
      .flags = (flags_), .help = (help_), __VA_ARGS__ }
#define DEFINE_PROP_INT(name_, T, f, min_, max_, def_, flags_, help_, ...) \
    { .name = (name_), .type = PROP_TYPE_INT, \
      .offset = PROP_FIELD(T, f, gint), .min = (min_), .max = (max_), \
      .def = (def_), .flags = (flags_), .help = (help_), __VA_ARGS__ }
#define DEFINE_PROP_UINT(name_, T, f, min_, max_, def_, flags_, help_, ...) \
    { .name = (name_), .type = PROP_TYPE_UINT, \
      .offset = PROP_FIELD(T, f, guint), .min = (min_), .max = (max_), \
      .def = (def_), .flags = (flags_), .help = (help_), __VA_ARGS__ }
#define DEFINE_PROP_INT64(name_, T, f, min_, max_, def_, flags_, help_, ...) \
    { .name = (name_), .type = PROP_TYPE_INT64, \
      .offset = PROP_FIELD(T, f, gint64), .min = (min_), .max = (max_), \
      .def = (def_), .flags = (flags_), .help = (help_), __VA_ARGS__ }
#define DEFINE_PROP_UINT64(name_, T, f, min_, max_, def_, flags_, help_, \
                           ...) \
    { .name = (name_), .type = PROP_TYPE_UINT64, \
      .offset = PROP_FIELD(T, f, guint64), .min = (min_), .max = (max_), \
      .def = (def_), .flags = (flags_), .help = (help_), __VA_ARGS__ }
#define DEFINE_PROP_STR(name_, T, f, def_, flags_, help_, ...) \
    { .name = (name_), .type = PROP_TYPE_STR, \
      .offset = PROP_FIELD(T, f, char *), .def_str = (def_), \
      .flags = (flags_), .help = (help_), __VA_ARGS__ }
#define DEFINE_PROP_ENUM(name_, T, f, get_type_, def_, flags_, help_, ...) \
    { .name = (name_), .type = PROP_TYPE_ENUM, \
      .offset = PROP_ENUM_FIELD(T, f), .enum_type = (get_type_), \
      .def = (def_), .flags = (flags_), .help = (help_), __VA_ARGS__ }

#endif /* QOM_PROPS_H */
